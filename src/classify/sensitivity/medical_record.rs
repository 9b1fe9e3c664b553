//! Medical record numbers. Every hospital picks its own format (six to ten
//! digits, often with a letter prefix), so a number counts only right after
//! a record word (`MRN`, `medical record`, `med rec`, `health record`,
//! `patient ID`, `patient number`, `chart number`), with at most filler
//! words in between (`number`, `#`, `is`...). The token: 4-20 letters and
//! digits (single inner dashes allowed), at least 4 digits and at most 4
//! letters, not part of an amount, date, time or e-mail.
//!
//! Must not: look before the context word, or further than 40 bytes after it.

use super::anchors::{Anchor, digits_letters, id_after};
use super::{Kind, Match};

/// Bytes after the context word within which the number must start.
const WINDOW: usize = 40;

fn shape_ok(token: &[u8]) -> bool {
    let (digits, letters) = digits_letters(token);
    (4..=20).contains(&(digits + letters)) && digits >= 4 && letters <= 4
}

/// Checks the token after the record word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    id_after(text, a, WINDOW, shape_ok, Kind::MedicalRecordNumber, out);
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::MedicalRecordNumber)
    }

    #[test]
    fn shapes() {
        assert!(shape_ok(b"00482913"));
        assert!(shape_ok(b"MR-2291047"));
        assert!(!shape_ok(b"123"));
        assert!(!shape_ok(b"ABCDE12345"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("patient DOB: 03/14/1985, MRN 00482913.", &["00482913"]),
            ("MRN:\\n4410982", &["4410982"]),
            ("Medical record number: MR-2291047", &["MR-2291047"]),
            ("patient ID #A778102", &["A778102"]),
            ("the medical record shows a pressure of 120/80", &[]),
            ("medical records from 2019 and 2020", &[]),
            ("MRN pending", &[]),
            ("patient id 12.5", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Patientin Jürgens – MRN 00482913";
        assert_eq!(offsets(text, Kind::MedicalRecordNumber), vec![(27, 35)]);
    }
}
