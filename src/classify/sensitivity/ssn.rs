//! US Social Security numbers (and ITINs): `ddd-dd-dddd`, `ddd dd dddd` or
//! nine bare digits. No checksum exists, only never-issued ranges: group
//! `00` and serial `0000` never count. A dashed number counts alone unless
//! its area is `000` or `666`; with a context word nearby (ssn, social
//! security, tax id, tin, itin...) any SSN shape counts whatever its area,
//! because this is an egress gate and fails closed (ITINs start with 9).
//!
//! Must not: match inside a longer dashed number or a longer digit run, or
//! claim digits a card already claimed.

use super::numeric::{Chunk, Group, sep_between};
use super::text::Context;
use super::{Kind, Match};

/// Words that make any SSN-shaped number count.
pub(super) const CONTEXT_WORDS: &[&str] = &[
    "ssn",
    "ssns",
    "ss#",
    "ss no",
    "social security",
    "social sec",
    "soc sec",
    "tax id",
    "taxpayer",
    "tin",
    "itin",
];

/// How the number was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Dashed,
    Spaced,
    Bare,
}

/// Whether `area-group-serial` (ASCII digits) counts for `shape`, given
/// whether a context word is near.
fn counts(digits: &[u8; 9], shape: Shape, near_context: bool) -> bool {
    let area = &digits[0..3];
    if &digits[3..5] == b"00" || &digits[5..9] == b"0000" {
        return false;
    }
    if near_context {
        return true;
    }
    shape == Shape::Dashed && area != b"000" && area != b"666"
}

/// Finds SSNs among the chunk's groups not yet claimed; marks the groups it
/// uses.
pub(super) fn detect(
    text: &str,
    all_groups: &[Group],
    chunk: &Chunk,
    claimed: &mut [bool],
    context: &Context,
    out: &mut Vec<Match>,
) {
    let bytes = text.as_bytes();
    let groups = &all_groups[chunk.groups.clone()];
    let n = groups.len();
    let sep = |k: usize| sep_between(bytes, groups, k);
    let mut i = 0;
    while i < n {
        let (j, shape) = if i + 2 < n
            && groups[i].len() == 3
            && groups[i + 1].len() == 2
            && groups[i + 2].len() == 4
            && sep(i) == sep(i + 1)
            && (sep(i) == b"-" || sep(i) == b" ")
        {
            let s = sep(i);
            let shape = if s == b"-" {
                Shape::Dashed
            } else {
                Shape::Spaced
            };
            // A neighbour joined by the same separator makes it a longer number.
            if (i > 0 && sep(i - 1) == s) || (i + 3 < n && sep(i + 2) == s) {
                i += 1;
                continue;
            }
            (i + 2, shape)
        } else if groups[i].len() == 9 {
            let loose = |s: &[u8]| s.iter().all(|&b| b == b' ');
            if (i > 0 && !loose(sep(i - 1))) || (i + 1 < n && !loose(sep(i))) {
                i += 1;
                continue;
            }
            (i, Shape::Bare)
        } else {
            i += 1;
            continue;
        };
        let glued = (i == 0 && chunk.glued_before) || (j + 1 == n && chunk.glued_after);
        if glued || claimed[i..=j].iter().any(|&c| c) {
            i += 1;
            continue;
        }
        let mut digits = [0u8; 9];
        let mut k = 0;
        for g in &groups[i..=j] {
            for &d in &bytes[g.start..g.end] {
                if let Some(slot) = digits.get_mut(k) {
                    *slot = d;
                }
                k += 1;
            }
        }
        let (start, end) = (groups[i].start, groups[j].end);
        if k == 9 && counts(&digits, shape, context.near(text, start, end)) {
            out.push(Match {
                kind: Kind::UsSsn,
                start,
                end,
            });
            claimed[i..=j].iter_mut().for_each(|c| *c = true);
            i = j + 1;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn ssns(text: &str) -> Vec<&str> {
        spans(text, Kind::UsSsn)
    }

    #[test]
    fn ranges() {
        assert!(counts(b"123456789", Shape::Dashed, false));
        assert!(!counts(b"000456789", Shape::Dashed, false));
        assert!(!counts(b"666456789", Shape::Dashed, false));
        assert!(counts(b"666456789", Shape::Dashed, true));
        assert!(counts(b"912706789", Shape::Bare, true));
        assert!(!counts(b"123006789", Shape::Dashed, true));
        assert!(!counts(b"123450000", Shape::Dashed, true));
        assert!(!counts(b"123456789", Shape::Bare, false));
        assert!(!counts(b"123456789", Shape::Spaced, false));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("Here's my SSN: 460-89-9847", &["460-89-9847"]),
            ("ref 460-89-9847 filed", &["460-89-9847"]),
            ("ref 000-89-9847 filed", &[]),
            ("ref 666-89-9847 filed", &[]),
            ("SSN 666-89-9847", &["666-89-9847"]),
            ("ITIN: 912-70-1234", &["912-70-1234"]),
            ("ssn 460 89 9847", &["460 89 9847"]),
            ("code 460 89 9847", &[]),
            ("social security number 460899847", &["460899847"]),
            ("order 460899847", &[]),
            ("ssn 460-00-9847", &[]),
            ("part 1-460-89-9847", &[]),
            ("x 460-89-98471", &[]),
            ("latin 460899847", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&ssns(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "número de seguro ünd SSN → 460-89-9847";
        assert_eq!(ssns(text), vec!["460-89-9847"]);
    }
}
