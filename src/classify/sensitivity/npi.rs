//! US National Provider Identifiers: ten digits starting with 1 or 2 whose
//! last digit is the Luhn check digit of the number prefixed with `80840`
//! (the health-industry issuer prefix). Checksummed, but one ten-digit
//! number in ten passes by chance, so it counts only with `NPI` or
//! `national provider` within 40 bytes before it (any words between) or 32
//! bytes after it. A provider identifier is PHI only beside patient data,
//! but an egress gate fails closed: the category is `phi`.
//!
//! Must not: accept separators inside the number.

use super::anchors::{Anchor, standalone, token_after, token_before};
use super::card::luhn_ok;
use super::{Kind, Match};

/// Bytes after the context word within which the number must start.
const AFTER: usize = 40;
/// Bytes before the context word within which the number must end.
const BEFORE: usize = 32;

/// Ten ASCII digits, first 1 or 2, Luhn-valid behind `80840`.
pub(super) fn npi_ok(digits: &[u8]) -> bool {
    if digits.len() != 10 || !matches!(digits[0], b'1' | b'2') {
        return false;
    }
    let mut full = [0u8; 15];
    full[..5].copy_from_slice(b"80840");
    full[5..].copy_from_slice(digits);
    luhn_ok(&full)
}

/// Checks the numbers next to the NPI word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let after = token_after(b, a.end, AFTER, true);
    let before = token_before(b, a.start, BEFORE);
    for t in [after, before].into_iter().flatten() {
        if standalone(b, t) && npi_ok(&b[t.start..t.end]) {
            out.push(Match {
                kind: Kind::Npi,
                start: t.start,
                end: t.end,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::Npi)
    }

    #[test]
    fn checksum() {
        assert!(npi_ok(b"1234567893"));
        assert!(npi_ok(b"1245319599"));
        assert!(!npi_ok(b"1234567890"));
        assert!(!npi_ok(b"3234567893"));
        assert!(!npi_ok(b"123456789"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("NPI: 1234567893", &["1234567893"]),
            (
                "the national provider identifier is 1245319599",
                &["1245319599"],
            ),
            ("1245319599 (NPI)", &["1245319599"]),
            ("NPI 1234567890", &[]),
            ("call 1234567893 now", &[]),
            ("npi 123-456-7893", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Arzt «Müller», NPI 1234567893";
        assert_eq!(offsets(text, Kind::Npi), vec![(22, 32)]);
    }
}
