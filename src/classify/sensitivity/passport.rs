//! US passport numbers: nine digits (passport books), or one letter and
//! eight digits (passport cards and next-generation books). Nothing checks
//! them, so a number counts only right after the word `passport`, with at
//! most filler words in between (`number`, `no.`, `is`...).
//!
//! Must not: look before the context word, or further than 40 bytes after
//! it; accept other countries' shapes (left out on purpose: the kind is
//! `us_passport`).

use super::anchors::{Anchor, id_after};
use super::{Kind, Match};

/// Bytes after the context word within which the number must start.
const WINDOW: usize = 40;

fn shape_ok(token: &[u8]) -> bool {
    match token {
        [first, rest @ ..] if first.is_ascii_alphabetic() => {
            rest.len() == 8 && rest.iter().all(u8::is_ascii_digit)
        }
        _ => token.len() == 9 && token.iter().all(u8::is_ascii_digit),
    }
}

/// Checks the token after the passport word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    id_after(text, a, WINDOW, shape_ok, Kind::UsPassport, out);
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::UsPassport)
    }

    #[test]
    fn shapes() {
        assert!(shape_ok(b"912803456"));
        assert!(shape_ok(b"C03005988"));
        assert!(!shape_ok(b"12345678"));
        assert!(!shape_ok(b"1234567890"));
        assert!(!shape_ok(b"AB1234567"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("My passport number is 912803456.", &["912803456"]),
            ("Passport No: C03005988", &["C03005988"]),
            ("passport #: 340020013, expires 2030", &["340020013"]),
            ("US passports: 912803456", &["912803456"]),
            ("passport office hours 123456789", &[]),
            ("passport 12345678", &[]),
            ("my passport cost $123456789", &[]),
            ("912803456 passport", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "numéro de passport: 912803456";
        assert_eq!(offsets(text, Kind::UsPassport), vec![(21, 30)]);
    }
}
