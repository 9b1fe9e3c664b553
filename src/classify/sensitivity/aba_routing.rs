//! ABA routing transit numbers: nine digits whose first two name a Federal
//! Reserve district range (00-12, 21-32, 61-72, 80) and whose weighted sum
//! `3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9)` is a multiple of ten. One
//! nine-digit number in ten passes that check by chance, so the checksum
//! alone is too weak for prose full of numbers: a number counts when it
//! passes the checksum AND a routing word (`routing`, `ABA`, `RTN`,
//! `transit number`) stands within 40 bytes before it (any words between)
//! or 32 bytes after it. A nine-digit number near a routing word that fails
//! the checksum is a typo or something else, and is not reported.
//!
//! Must not: accept dashes or letters inside the number, or all-zero numbers.

use super::anchors::{Anchor, Token, standalone, token_after, token_before};
use super::{Kind, Match};

/// Bytes after the routing word within which the number must start.
const AFTER: usize = 40;
/// Bytes before the routing word within which the number must end.
const BEFORE: usize = 32;

/// The 3-7-1 checksum and the prefix ranges over nine ASCII digits.
pub(super) fn aba_ok(digits: &[u8]) -> bool {
    if digits.len() != 9 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut d = [0u32; 9];
    for (x, &c) in d.iter_mut().zip(digits) {
        *x = u32::from(c - b'0');
    }
    let prefix = d[0] * 10 + d[1];
    let prefix_ok = matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80);
    let sum = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8]);
    prefix_ok && sum.is_multiple_of(10) && d.iter().any(|&x| x != 0)
}

/// Checks the numbers next to the routing word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let after = token_after(b, a.end, AFTER, true);
    let before = token_before(b, a.start, BEFORE);
    for t in [after, before].into_iter().flatten() {
        if ok(b, t) {
            out.push(Match {
                kind: Kind::AbaRouting,
                start: t.start,
                end: t.end,
            });
        }
    }
}

fn ok(b: &[u8], t: Token) -> bool {
    standalone(b, t) && aba_ok(&b[t.start..t.end])
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::AbaRouting)
    }

    #[test]
    fn checksum() {
        assert!(aba_ok(b"021000021"));
        assert!(aba_ok(b"011000015"));
        assert!(aba_ok(b"121000358"));
        assert!(!aba_ok(b"021000022"));
        assert!(!aba_ok(b"000000000"));
        assert!(!aba_ok(b"421000029")); // checksum ok, prefix 42 unused
        assert!(!aba_ok(b"02100002"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("routing number 021000021", &["021000021"]),
            ("ABA: 011000015, account 12345678", &["011000015"]),
            ("Routing for the wire is 121000358.", &["121000358"]),
            ("021000021 (ABA)", &["021000021"]),
            ("RTN 021000022", &[]),
            ("order 021000021 shipped", &[]),
            ("routing 02100-0021", &[]),
            ("routing table holds $021000021", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "número de ruta (routing) → 021000021";
        assert_eq!(offsets(text, Kind::AbaRouting), vec![(30, 39)]);
    }
}
