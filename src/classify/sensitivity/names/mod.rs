//! Person-name and street-address detection without a network or a model:
//! shipped word lists (US Census given names and surnames, USPS street
//! suffixes and unit designators, US states), capitalisation, titles,
//! context words and address structure. `NameDetector` is built once and
//! shared; `detect` is one tokenizer pass plus hash lookups of capitalised
//! words, then rules that start only at capitalised words and numbers, so it
//! costs microseconds per kilobyte. It reports byte spans and nothing else:
//! it must not log, keep state between calls, or decide policy.

mod address;
mod lexicon;
mod person;
mod person_spread;
mod street;
mod tokens;

use lexicon::Lexicon;
use tokens::{Case, Token, gap};

/// What a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// A person's name ("Dr. Jane Roe", "Krisztián Szöllösy").
    Person,
    /// A street address, PO box or military address, with any unit, city,
    /// state and ZIP that follow it.
    StreetAddress,
}

/// Finds person names and street addresses in text. `Send + Sync`; build
/// once (it compiles about 25,000 words into a hash map) and share.
pub struct NameDetector {
    lex: Lexicon,
}

impl Default for NameDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl NameDetector {
    pub fn new() -> NameDetector {
        NameDetector {
            lex: Lexicon::new(),
        }
    }

    /// Appends `(start, end, kind)` byte spans, on char boundaries, of the
    /// names and addresses in `text`. Addresses come first; a person span
    /// never overlaps an address span.
    pub fn detect(&self, text: &str, out: &mut Vec<(usize, usize, NameKind)>) {
        // Prose has a token every five or six bytes; denser text grows it.
        let mut toks = Vec::with_capacity(text.len() / 4 + 16);
        tokens::tokenize(text, &mut toks);
        // Rules start only at capitalised words, numbers and a few lower-case
        // words (up to three before a number, abbreviations, "corner", "is",
        // "me"); the other words are read only as context.
        let n = toks.len();
        let mut starts = Vec::with_capacity(n / 2 + 1);
        for k in 0..n {
            let t = toks[k];
            if t.num {
                starts.push(k);
            } else if t.case != Case::Lower {
                toks[k].flags = self.lex.get_at(text, t.start, t.end);
                starts.push(k);
            } else {
                let w = &text.as_bytes()[t.start..t.end];
                if t.dot
                    || toks[k + 1..n.min(k + 4)].iter().any(|b| b.num)
                    || w == b"is"
                    || w == b"me"
                    || w.eq_ignore_ascii_case(b"corner")
                {
                    starts.push(k);
                }
            }
        }
        let doc = Doc {
            text,
            toks,
            starts,
            lex: &self.lex,
        };
        let mut ranges = Vec::new();
        address::find(&doc, &mut ranges);
        let mut covered = vec![false; n];
        // The rules return inclusive token ranges; an empty or inverted one
        // would be a rule bug, and is dropped rather than trusted.
        for &(s, e) in &ranges {
            if s <= e && e < n {
                covered[s..=e].iter_mut().for_each(|c| *c = true);
                out.push((doc.toks[s].start, doc.toks[e].end, NameKind::StreetAddress));
            }
        }
        ranges.clear();
        person::find(&doc, &covered, &mut ranges);
        for &(s, e) in &ranges {
            if s <= e && e < n {
                out.push((doc.toks[s].start, doc.toks[e].end, NameKind::Person));
            }
        }
    }
}

/// A tokenized text and the lexicon, shared by the rule modules.
pub(crate) struct Doc<'a> {
    text: &'a str,
    toks: Vec<Token>,
    /// Ascending indices of the tokens a rule may start at.
    starts: Vec<usize>,
    lex: &'a Lexicon,
}

impl Doc<'_> {
    /// Text of token `i`.
    fn word(&self, i: usize) -> &str {
        let t = &self.toks[i];
        &self.text[t.start..t.end]
    }

    /// Lexicon flags of token `i` (0 past the end or for numbers).
    fn flags(&self, i: usize) -> u32 {
        match self.toks.get(i) {
            Some(t) if t.num => 0,
            Some(t) if t.case == Case::Lower => self.lex.get_at(self.text, t.start, t.end),
            Some(t) => t.flags,
            None => 0,
        }
    }

    /// Token `i` exists and is `lower`, compared without ASCII case.
    fn lower_is(&self, i: usize, lower: &str) -> bool {
        i < self.toks.len() && self.word(i).eq_ignore_ascii_case(lower)
    }

    fn is_num(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.num)
    }

    /// Token `i` exists and no line break precedes it.
    fn no_break(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.gap & gap::NEWLINE == 0)
    }

    /// Token `i` continues the phrase of token `i - 1`: only spaces between
    /// them, or the dot of a short abbreviation ("ul. Cicha", "J. Smith").
    fn same_phrase(&self, i: usize) -> bool {
        let Some(t) = self.toks.get(i) else {
            return false;
        };
        if i == 0 || t.gap & !gap::STOP != 0 {
            return false;
        }
        let p = &self.toks[i - 1];
        let abbrev = match p.case {
            // "Mr. Smith", "J. Smith", "St. Louis": a title, an initial or a
            // two-letter abbreviation; a short name ("Zoë. Mail") ends a sentence.
            Case::Initial => true,
            Case::Title => {
                self.flags(i - 1) & (lexicon::TITLE | lexicon::SUFFIX | lexicon::DIRECTION) != 0
                    || self.word(i - 1).chars().count() <= 2
            }
            Case::Lower => {
                self.flags(i - 1) & (lexicon::PREFIX | lexicon::PARTICLE) != 0
                    || (p.end - p.start <= 3 && self.street_ending(i - 1))
            }
            Case::Upper => false,
        };
        // "Way. The": a sentence end, not an abbreviation.
        t.gap == 0 || (p.dot && !p.num && abbrev && self.flags(i) & lexicon::STOP == 0)
    }

    fn street_ending(&self, i: usize) -> bool {
        i < self.toks.len() && !self.toks[i].num && self.lex.street_ending(self.word(i))
    }
}

#[cfg(test)]
mod tests {
    use super::NameKind::{Person as P, StreetAddress as A};
    use super::*;

    type Span = (usize, usize, NameKind);

    fn run(text: &str) -> Vec<Span> {
        let mut out = Vec::new();
        NameDetector::new().detect(text, &mut out);
        out.sort_by_key(|f| f.0);
        out
    }

    #[test]
    fn finds_names_and_addresses_at_exact_offsets() {
        let cases: &[(&str, &[Span])] = &[
            ("Please call Dr. Jane Roe today.", &[(16, 24, P)]),
            ("My name is Krisztián Szöllösy.", &[(11, 32, P)]),
            (
                "John Smith lives at 615 Benedum Drive, Pittsburgh, PA 15213.",
                &[(0, 10, P), (20, 59, A)],
            ),
            ("Send the refund to PO Box 1234 please.", &[(19, 30, A)]),
            ("Kelly is a very sympathetic person.", &[(0, 5, P)]),
            ("Mr. Lambert is a 36 year old man.", &[(4, 11, P)]),
            (
                "They had 3: Hannah, Anthony and Derek.",
                &[(12, 18, P), (20, 27, P), (32, 37, P)],
            ),
            ("Unit 5146 Box 1772\nDPO AE 91410", &[(0, 31, A)]),
            (
                "Meet me at the corner of Main Street and Elm Avenue.",
                &[(11, 51, A)],
            ),
            (
                "Our office is at Hammarvägen 15, Stockholm.",
                &[(17, 43, A)],
            ),
            ("Dear Ubul, thanks for the note.", &[(5, 9, P)]),
            ("The patient Zdenka Nováková was admitted.", &[(12, 29, P)]),
            ("Ship to 221B Baker Street, Apt. 4, London.", &[(8, 41, A)]),
            ("Regards,\nAnna-Lena Öberg", &[(9, 25, P)]),
            (
                "The form was signed by Hanne I. Kreutzmann.",
                &[(23, 42, P)],
            ),
            ("Grace Hopper wrote the first compiler.", &[(0, 12, P)]),
            (
                "東京都 Šárka Ottová 😀 123 Main St",
                &[(10, 25, P), (31, 42, A)],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(run(text), *want, "{text}");
        }
    }

    #[test]
    fn ordinary_text_does_not_fire() {
        let cases = [
            "May I ask a question?",
            "Will you help me with this?",
            "Mark the box and Bill the client.",
            "In March we shipped 3 units to the warehouse.",
            "The Supreme Court ruled in 1990 Court cases.",
            "Install Python 3.12 on Windows 10 first.",
            "Grant access to the Amazon S3 bucket.",
            "Apple released the iPhone 15 in September.",
            "See Chapter 12 for details.",
            "The United States Congress passed the act in 1964.",
            "Which of the following is true of 4 Kings?",
            "Hope is a good breakfast but a bad supper.",
            "A class named \"Ham\" will be transformed to \"_Ham__spam\".",
        ];
        for text in cases {
            assert_eq!(run(text), [], "{text}");
        }
    }

    #[test]
    fn never_panics_and_spans_sit_on_char_boundaries() {
        const PIECES: &[&str] = &[
            "Mr.", " ", "123", "Apt", "Suite", "#", "\n", "\\n", "É", "’", "'", "-", ".", ",", ":",
            "corner", "of", "and", "PO", "Box", "Street", "St", "ß", "東京", "😀", "Jane", "Smith",
            "Ó", "name", "is", "via", "Rue", "gade", "APO", "AE", "\u{200b}", "ǅ", "İ", "x",
            "99999", "12B", "p", "o", "USNS", "the",
        ];
        let det = NameDetector::new();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut out = Vec::new();
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(PIECES[(seed % PIECES.len() as u64) as usize]);
                if seed.is_multiple_of(7) {
                    text.push(char::from_u32((seed >> 40) as u32 % 0x3000).unwrap_or('?'));
                }
            }
            out.clear();
            det.detect(&text, &mut out);
            for &(s, e, _) in &out {
                assert!(s < e && e <= text.len(), "{text:?}");
                assert!(
                    text.is_char_boundary(s) && text.is_char_boundary(e),
                    "{text:?}"
                );
            }
        }
    }

    #[test]
    fn detector_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<NameDetector>();
    }
}
