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
//! fails its boundary check is dropped (leftmost-longest, non-overlapping).
//!
//! Must not: keep or return any of the text, only counts.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
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
    ac: AhoCorasick,
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
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&phrases)
            .expect("the cue phrases are constant and valid");
        Table { ac, entries }
    })
}

/// Builds the automaton (a DFA: a few milliseconds once, then a few
/// nanoseconds a byte).
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

/// Personal pronouns (lower case), the mark of a situation with people in it.
const PRONOUNS: &[&[u8]] = &[
    b"i", b"me", b"my", b"mine", b"he", b"she", b"his", b"her", b"him", b"hers",
];

/// Counts cues and text statistics in `text`: one automaton pass and one
/// byte loop.
pub(super) fn count(text: &str) -> TextCounts {
    let mut c = TextCounts::default();
    let t = table();
    let bytes = text.as_bytes();
    for m in t.ac.find_iter(text) {
        let e = &t.entries[m.pattern().as_usize()];
        if (e.left && m.start() > 0 && wordy(bytes[m.start() - 1]))
            || (e.right && bytes.get(m.end()).is_some_and(|&b| wordy(b)))
        {
            continue;
        }
        c.cues[e.cue as usize] += 1;
        // Tokens per three units: a word is ~4/3 tokens, a page ~500
        // words, a paragraph ~100.
        let per_three = match e.cue {
            UnitWords => 4,
            UnitPages => 2_000,
            UnitParagraphs => 400,
            _ => continue,
        };
        if let Some(n) = number_before(&bytes[..m.start()]) {
            c.asked_tokens = c
                .asked_tokens
                .saturating_add(n.saturating_mul(per_three) / 3);
        }
    }
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
                let mut low = [0u8; 4];
                for (d, s) in low.iter_mut().zip(&bytes[start..i]) {
                    *d = s.to_ascii_lowercase();
                }
                if PRONOUNS.contains(&&low[..len]) {
                    c.pronouns += 1;
                }
            }
            continue;
        }
        if b.is_ascii_digit() {
            c.numbers += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_digit()
                    || bytes[i] == b'.' && i + 1 < bytes.len() && bytes[i + 1].is_ascii_digit())
            {
                i += 1;
            }
            continue;
        }
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
