//! US driver's licence numbers. States use dozens of formats (7 to 13
//! digits, a letter and 4 to 14 digits, mixed runs like `415xb9587`), so
//! the shape alone is weak: a number counts only right after a licence
//! word (`driver's license`, `driving licence`, `DL`, `DLN`), with at most
//! filler words in between (`number`, `is`, `#`...). The token: 5-20
//! letters and digits (single inner dashes allowed), at least 4 digits and
//! at most 5 letters, not part of an amount, date, time or e-mail.
//!
//! Must not: look before the context word, or further than 40 bytes after it.

use super::anchors::{Anchor, digits_letters, id_after};
use super::{Kind, Match};

/// Bytes after the context word within which the number must start.
const WINDOW: usize = 40;

fn shape_ok(token: &[u8]) -> bool {
    let (digits, letters) = digits_letters(token);
    (5..=20).contains(&(digits + letters)) && digits >= 4 && letters <= 5
}

/// Checks the token after the licence word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    id_after(text, a, WINDOW, shape_ok, Kind::UsDriverLicense, out);
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::UsDriverLicense)
    }

    #[test]
    fn shapes() {
        assert!(shape_ok(b"F162823540116"));
        assert!(shape_ok(b"2270-66-1551"));
        assert!(shape_ok(b"18Ojy87042"));
        assert!(!shape_ok(b"2019"));
        assert!(!shape_ok(b"ABCDEF1234"));
        assert!(!shape_ok(b"123456789012345678901"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "My driver's license number is F162823540116",
                &["F162823540116"],
            ),
            (
                "my driver's license number is 2270-66-1551",
                &["2270-66-1551"],
            ),
            ("Driving licence: 415xb9587.", &["415xb9587"]),
            ("DL# 0056416", &["0056416"]),
            ("DLN 97509415 exp 2027", &["97509415"]),
            ("driver\u{2019}s license no. Q6733233", &["Q6733233"]),
            ("my driver's license expired in 2019", &[]),
            ("drivers license renewal costs $35000", &[]),
            ("driver license fee 12.50000", &[]),
            ("the DL model has 12345678 parameters", &[]),
            ("license number 12345678", &[]),
            ("F162823540116 is my driver's license", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Führerschein → driver's license: Y45256093050";
        assert_eq!(offsets(text, Kind::UsDriverLicense), vec![(36, 48)]);
    }
}
