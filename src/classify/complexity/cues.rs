//! The cues and the one pass that counts them in a text: one Aho-Corasick
//! automaton (a DFA) over every phrase of `phrases` (ASCII
//! case-insensitive), plus one byte loop for what phrases cannot say
//! cheaply (personal pronouns, numbers, sentence ends, question marks, code
//! symbols). Neither allocates; the automaton is built once.
//!
//! Pattern syntax: a phrase matches as whole words; a trailing `*` makes it
//! a stem (`negligen*` matches "negligent" and "negligence"), a leading
//! `*` a suffix (`*n't` matches "didn't"); a phrase that
//! starts or ends with a character that is not a letter or digit (`\n1. `,
//! `=`) is not checked for a word boundary on that side. A match that
//! fails its boundary check is dropped (leftmost-longest, non-overlapping:
//! picked from all matches, which [`crate::classify::lanes`] finds four
//! quarters of the text at a time).
//!
//! Must not: keep or return any of the text, only counts.

use crate::classify::lanes::Lanes;
use std::sync::OnceLock;

/// What a phrase counts toward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub(super) enum Cue {
    Reasoning,
    Step,
    Constraint,
    Negation,
    Comparison,
    Recall,
    NumberWord,
    Part,
    Logic,
    Legal,
    Technical,
    Science,
    Ethics,
    Code,
    Math,
    Detail,
    UnitWords,
    UnitPages,
    UnitParagraphs,
    Extraction,
    Classification,
    Summarization,
    Translation,
    Formatting,
    Creative,
    CurrentStrong,
    CurrentTime,
    CurrentTopic,
}

impl Cue {
    pub(super) const COUNT: usize = Cue::CurrentTopic as usize + 1;
}

use super::phrases::CUES;
use Cue::*;

/// A compiled phrase: what it counts toward and which sides need a word
/// boundary.
struct Entry {
    cue: Cue,
    left: bool,
    right: bool,
}

struct Table {
    lanes: Lanes,
    entries: Vec<Entry>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut phrases = Vec::with_capacity(CUES.len());
        let mut entries = Vec::with_capacity(CUES.len());
        for (raw, cue) in CUES {
            let (phrase, stem) = match raw.strip_suffix('*') {
                Some(p) => (p, true),
                None => (*raw, false),
            };
            let (phrase, suffix) = match phrase.strip_prefix('*') {
                Some(p) => (p, true),
                None => (phrase, false),
            };
            let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            entries.push(Entry {
                cue: *cue,
                left: !suffix && alnum(phrase.chars().next()),
                right: !stem && alnum(phrase.chars().next_back()),
            });
            phrases.push(phrase);
        }
        let lanes = Lanes::new(&phrases).expect("the cue phrases are constant and valid");
        Table { lanes, entries }
    })
}

/// Builds the automaton (a DFA: a few milliseconds once, then about a
/// nanosecond a byte).
pub(super) fn warm() {
    table();
}

/// A byte that continues a word: ASCII letters and digits, and any byte of
/// a non-ASCII character (so "café" is one word).
fn wordy(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// What one pass over one text counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct TextCounts {
    pub cues: [u32; Cue::COUNT],
    /// Output length asked for in words, pages or paragraphs, as tokens.
    pub asked_tokens: u64,
    /// "I", "me", "my", "he", "she", "his", "her", "him" and the like.
    pub pronouns: u32,
    /// Runs of digits.
    pub numbers: u32,
    pub questions: u32,
    /// `.`, `!` or `?` followed by white space or the end.
    pub sentences: u32,
    /// `{`, `}` and `;`.
    pub code_symbols: u32,
}

/// Personal pronouns, the mark of a situation with people in it: "i",
/// "me", "my", "mine", "he", "she", "his", "her", "him", "hers", each
/// packed big-endian into a `u32` (see [`pronoun`]).
const PRONOUNS: [u32; 10] = [
    0x69,
    0x6d65,
    0x6d79,
    0x6d69_6e65,
    0x6865,
    0x0073_6865,
    0x0068_6973,
    0x0068_6572,
    0x0068_696d,
    0x6865_7273,
];

/// Whether `word` (1 to 4 ASCII letters) is a personal pronoun, in any case.
fn pronoun(word: &[u8]) -> bool {
    let key = word
        .iter()
        .fold(0u32, |k, &b| (k << 8) | u32::from(b | 0x20));
    PRONOUNS.contains(&key)
}

/// Byte classes for the statistics loop.
const OTHER: u8 = 0;
const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
/// Any byte of a non-ASCII character: continues a word, counts nothing.
const HIGH: u8 = 3;

static CLASS: [u8; 256] = {
    let mut t = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' => ALPHA,
            b'0'..=b'9' => DIGIT,
            0x80..=0xff => HIGH,
            _ => OTHER,
        };
        b += 1;
    }
    t
};

/// The byte loop: pronouns, numbers, question marks, sentence ends and
/// code symbols. A run of letters of at most 4 after a non-word byte is
/// checked as a pronoun; a run of digits (with inner decimal points) is
/// one number; `?` counts as a question, `{`, `}` and `;` as code symbols,
/// and `.`, `!` or `?` before white space or the end as a sentence end.
fn stats(bytes: &[u8], c: &mut TextCounts) {
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        match CLASS[usize::from(bytes[i])] {
            ALPHA => {
                let start = i;
                i += 1;
                while i < n && CLASS[usize::from(bytes[i])] == ALPHA {
                    i += 1;
                }
                if i - start <= 4
                    && (start == 0 || !wordy(bytes[start - 1]))
                    && pronoun(&bytes[start..i])
                {
                    c.pronouns += 1;
                }
            }
            DIGIT => {
                c.numbers += 1;
                i += 1;
                while i < n
                    && (CLASS[usize::from(bytes[i])] == DIGIT
                        || bytes[i] == b'.' && i + 1 < n && bytes[i + 1].is_ascii_digit())
                {
                    i += 1;
                }
            }
            HIGH => i += 1,
            _ => {
                let b = bytes[i];
                match b {
                    b'?' => c.questions += 1,
                    b'{' | b'}' | b';' => c.code_symbols += 1,
                    _ => {}
                }
                if matches!(b, b'.' | b'!' | b'?')
                    && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
                {
                    c.sentences += 1;
                }
                i += 1;
            }
        }
    }
}

/// Counts cues and text statistics in `text`: one automaton pass and one
/// byte loop.
pub(super) fn count(text: &str) -> TextCounts {
    let mut c = TextCounts::default();
    let t = table();
    let bytes = text.as_bytes();
    t.lanes.each_leftmost_longest(bytes, |pattern, start, end| {
        let e = &t.entries[pattern];
        if (e.left && start > 0 && wordy(bytes[start - 1]))
            || (e.right && bytes.get(end).is_some_and(|&b| wordy(b)))
        {
            return;
        }
        c.cues[e.cue as usize] += 1;
        // Tokens per three units: a word is ~4/3 tokens, a page ~500
        // words, a paragraph ~100.
        let per_three = match e.cue {
            UnitWords => 4,
            UnitPages => 2_000,
            UnitParagraphs => 400,
            _ => return,
        };
        if let Some(n) = number_before(&bytes[..start]) {
            c.asked_tokens = c
                .asked_tokens
                .saturating_add(n.saturating_mul(per_three) / 3);
        }
    });
    stats(bytes, &mut c);
    c
}

/// The number written just before a unit ("2000 words", "2,000-word",
/// "3 pages"), if any.
fn number_before(before: &[u8]) -> Option<u64> {
    let mut end = before.len();
    while end > 0 && matches!(before[end - 1], b' ' | b'-') {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && (before[start - 1].is_ascii_digit() || before[start - 1] == b',') {
        start -= 1;
    }
    let mut n: u64 = 0;
    let mut any = false;
    for &b in &before[start..end] {
        if b.is_ascii_digit() {
            n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
            any = true;
        }
    }
    any.then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The statistics loop as first written (a pronoun list compared word
    /// by word), kept to check the table-driven one against.
    fn reference(text: &str) -> (u32, u32, u32, u32, u32) {
        const WORDS: &[&[u8]] = &[
            b"i", b"me", b"my", b"mine", b"he", b"she", b"his", b"her", b"him", b"hers",
        ];
        let bytes = text.as_bytes();
        let (mut pronouns, mut numbers, mut questions, mut sentences, mut code) = (0, 0, 0, 0, 0);
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_alphabetic() {
                let start = i;
                while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                    i += 1;
                }
                let len = i - start;
                if len <= 4 && (start == 0 || !wordy(bytes[start - 1])) {
                    let low: Vec<u8> = bytes[start..i].to_ascii_lowercase();
                    if WORDS.contains(&low.as_slice()) {
                        pronouns += 1;
                    }
                }
                continue;
            }
            if b.is_ascii_digit() {
                numbers += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_digit()
                        || bytes[i] == b'.' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit())
                {
                    i += 1;
                }
                continue;
            }
            match b {
                b'?' => questions += 1,
                b'{' | b'}' | b';' => code += 1,
                _ => {}
            }
            if matches!(b, b'.' | b'!' | b'?')
                && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace())
            {
                sentences += 1;
            }
            i += 1;
        }
        (pronouns, numbers, questions, sentences, code)
    }

    fn fast(text: &str) -> (u32, u32, u32, u32, u32) {
        let mut c = TextCounts::default();
        stats(text.as_bytes(), &mut c);
        (
            c.pronouns,
            c.numbers,
            c.questions,
            c.sentences,
            c.code_symbols,
        )
    }

    #[test]
    fn statistics_match_the_reference_on_examples() {
        for t in [
            "",
            "I think HE said: Hers, not his! Me? My 3.14 and 2.5.6 {x;} mine.",
            "ich bin Ümit, hisé me2 2me I'm she'd HIM?  Her",
            "...?!? 10. 1.a .5 a.b. end",
        ] {
            assert_eq!(fast(t), reference(t), "{t:?}");
        }
    }

    proptest! {
        #[test]
        fn statistics_match_the_reference(text in "[ -~\\n\\t éÜ]{0,200}") {
            prop_assert_eq!(fast(&text), reference(&text));
        }

        #[test]
        fn statistics_match_on_pronoun_heavy_text(
            words in proptest::collection::vec(
                "(I|me|MY|Mine|he|She|his|HER|him|hers|hiss|m|x|3\\.5|é|\\?|\\.|;)",
                0..40,
            ),
            seps in proptest::collection::vec("( |\\n|-|'|é|)", 40),
        ) {
            let text: String = words
                .iter()
                .zip(&seps)
                .map(|(w, s)| format!("{w}{s}"))
                .collect();
            prop_assert_eq!(fast(&text), reference(&text));
        }
    }
}
#[cfg(test)]
mod lanes_equal {
    use super::*;
    use crate::classify::lanes::testing;
    use aho_corasick::{AhoCorasick, MatchKind};
    use proptest::prelude::*;

    /// The cue phrases without their word-boundary markers.
    fn phrases() -> Vec<&'static str> {
        CUES.iter()
            .map(|(raw, _)| raw.trim_end_matches('*').trim_start_matches('*'))
            .collect()
    }

    /// The automaton the laned search replaced: leftmost-longest, ASCII
    /// case ignored, over the same phrases.
    fn reference() -> AhoCorasick {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(phrases())
            .expect("build")
    }

    fn words() -> Vec<String> {
        // Phrases, pieces of them, joins and other text around them.
        testing::pieces(
            &phrases(),
            &["the ", " ", "\n", ". ", "X", "ing", "s", "2 ", "é"],
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_laned_pass_picks_what_a_leftmost_longest_automaton_picks(
            picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..800)
        ) {
            let text = testing::text(&picks, &words());
            let want: Vec<(usize, usize, usize)> = reference()
                .find_iter(&text)
                .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
                .collect();
            let mut got = Vec::new();
            table().lanes.each_leftmost_longest(text.as_bytes(), |p, s, e| got.push((p, s, e)));
            prop_assert_eq!(got, want);
        }
    }
}
