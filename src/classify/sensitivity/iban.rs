//! IBANs: two-letter country code, two check digits and a BBAN, compact or
//! printed in groups of four separated by single spaces. The country fixes
//! the length (table below: all SEPA countries and the common others), and
//! the ISO 7064 mod-97 remainder must be 1. Checksummed, so it counts alone;
//! lower case is accepted (people type it).
//!
//! Must not: start inside a word, stop in the middle of a group, or accept a
//! length its country does not use.

use super::text::{byte_before, digit_pairs, is_word_byte};
use super::{Kind, Match};

/// Country code and total IBAN length (ISO 13616 registry).
#[rustfmt::skip]
const LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24), (b"AE", 23), (b"AL", 28), (b"AT", 20), (b"AZ", 28), (b"BA", 20),
    (b"BE", 16), (b"BG", 22), (b"BH", 22), (b"BI", 27), (b"BR", 29), (b"BY", 28),
    (b"CH", 21), (b"CR", 22), (b"CY", 28), (b"CZ", 24), (b"DE", 22), (b"DJ", 27),
    (b"DK", 18), (b"DO", 28), (b"EE", 20), (b"EG", 29), (b"ES", 24), (b"FI", 18),
    (b"FK", 18), (b"FO", 18), (b"FR", 27), (b"GB", 22), (b"GE", 22), (b"GI", 23),
    (b"GL", 18), (b"GR", 27), (b"GT", 28), (b"HR", 21), (b"HU", 28), (b"IE", 22),
    (b"IL", 23), (b"IQ", 23), (b"IS", 26), (b"IT", 27), (b"JO", 30), (b"KW", 30),
    (b"KZ", 20), (b"LB", 28), (b"LC", 32), (b"LI", 21), (b"LT", 20), (b"LU", 20),
    (b"LV", 21), (b"LY", 25), (b"MC", 27), (b"MD", 24), (b"ME", 22), (b"MK", 19),
    (b"MN", 20), (b"MR", 27), (b"MT", 31), (b"MU", 30), (b"NI", 28), (b"NL", 18),
    (b"NO", 15), (b"OM", 23), (b"PK", 24), (b"PL", 28), (b"PS", 29), (b"PT", 25),
    (b"QA", 29), (b"RO", 24), (b"RS", 22), (b"RU", 33), (b"SA", 24), (b"SC", 31),
    (b"SD", 18), (b"SE", 24), (b"SI", 19), (b"SK", 24), (b"SM", 27), (b"SO", 23),
    (b"ST", 25), (b"SV", 28), (b"TL", 23), (b"TN", 24), (b"TR", 26), (b"UA", 29),
    (b"VA", 22), (b"VG", 24), (b"XK", 20), (b"YE", 30),
];

fn expected_len(country: [u8; 2]) -> Option<usize> {
    LENGTHS
        .iter()
        .find(|(c, _)| **c == country)
        .map(|&(_, n)| n)
}

/// ISO 7064 mod 97-10 over an upper-case alphanumeric IBAN.
pub(super) fn mod97_ok(iban: &[u8]) -> bool {
    if iban.len() < 5 {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem = 0u32;
    for &c in tail.iter().chain(head) {
        rem = match c {
            b'0'..=b'9' => (rem * 10 + u32::from(c - b'0')) % 97,
            b'A'..=b'Z' => (rem * 100 + u32::from(c - b'A' + 10)) % 97,
            _ => return false,
        };
    }
    rem == 1
}

/// Appends every IBAN in `text`.
pub(super) fn detect(text: &str, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    // An IBAN starts a word with two letters and two digits: only the
    // places two digits follow two such letters are looked at.
    let mut resume = 0;
    for j in digit_pairs(b) {
        let Some(i) = j.checked_sub(2).filter(|&i| i >= resume) else {
            continue;
        };
        if b[i].is_ascii_alphabetic()
            && b[i + 1].is_ascii_alphabetic()
            && byte_before(b, i).is_none_or(|c| !is_word_byte(c))
            && let Some(end) = parse_at(b, i)
        {
            out.push(Match {
                kind: Kind::Iban,
                start: i,
                end,
            });
            resume = end;
        }
    }
}

/// Reads an IBAN starting at `start`; returns its end if valid.
fn parse_at(b: &[u8], start: usize) -> Option<usize> {
    let country = [
        b[start].to_ascii_uppercase(),
        b[start + 1].to_ascii_uppercase(),
    ];
    let want = expected_len(country)?;
    let mut buf = [0u8; 34];
    let mut n = 0;
    let mut i = start;
    while n < want {
        let c = *b.get(i)?;
        if c.is_ascii_alphanumeric() {
            *buf.get_mut(n)? = c.to_ascii_uppercase();
            n += 1;
            i += 1;
        } else if c == b' '
            && n % 4 == 0
            && n > 0
            && b.get(i + 1).is_some_and(u8::is_ascii_alphanumeric)
        {
            i += 1;
        } else {
            return None;
        }
    }
    if b.get(i).copied().is_some_and(is_word_byte) {
        return None;
    }
    mod97_ok(&buf[..n]).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn ibans(text: &str) -> Vec<&str> {
        spans(text, Kind::Iban)
    }

    #[test]
    fn checksum() {
        assert!(mod97_ok(b"GB82WEST12345698765432"));
        assert!(!mod97_ok(b"GB83WEST12345698765432"));
        assert!(mod97_ok(b"DE89370400440532013000"));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            (
                "My IBAN is GB82WEST12345698765432.",
                &["GB82WEST12345698765432"],
            ),
            ("iban gb82west12345698765432", &["gb82west12345698765432"]),
            (
                "DE89 3704 0044 0532 0130 00 ok",
                &["DE89 3704 0044 0532 0130 00"],
            ),
            (
                "FR14 2004 1010 0505 0001 3M02 606",
                &["FR14 2004 1010 0505 0001 3M02 606"],
            ),
            ("bad GB83WEST12345698765432", &[]),
            ("short GB82WEST1234569876543", &[]),
            ("long GB82WEST123456987654321", &[]),
            ("glued XGB82WEST12345698765432", &[]),
            ("NO9386011117947", &["NO9386011117947"]),
            ("odd DE8937 0400 4405 3201 3000", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&ibans(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Überweisung an → DE89370400440532013000";
        assert_eq!(ibans(text), vec!["DE89370400440532013000"]);
    }
}
