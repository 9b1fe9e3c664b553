//! Payment card numbers: 12-19 digits, bare or in groups split by one kind of
//! separator (space or dash), that pass the Luhn check AND fall in a known
//! issuer range with a length that issuer uses. Checksummed, so a match
//! counts without context, except 12-digit Maestro numbers, which need a
//! card word nearby. Well-known test numbers are not allow-listed.
//!
//! Must not: split a digit run, accept mixed separators, or claim digits
//! another detector already claimed.

use super::numeric::{Chunk, Group, collect_digits, sep_between};
use super::text::Context;
use super::{Kind, Match};

/// Words that make a 12-digit Maestro number count.
pub(super) const CONTEXT_WORDS: &[&str] = &[
    "card",
    "cc",
    "credit",
    "debit",
    "visa",
    "mastercard",
    "maestro",
    "amex",
    "payment",
    "cvv",
];

/// The Luhn (mod 10) check over ASCII digits.
pub(super) fn luhn_ok(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = u32::from(d.wrapping_sub(b'0'));
        if v > 9 {
            return false;
        }
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The number formed by the first `n` digits.
fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0, |acc, &d| acc * 10 + u32::from(d.wrapping_sub(b'0') % 10))
}

/// Whether the digits start with an issuer prefix that issues numbers of
/// this length. `Some(true)` means "needs a context word" (12-digit Maestro).
pub(super) fn issuer(digits: &[u8]) -> Option<bool> {
    let len = digits.len();
    let (p2, p3, p4, p6) = (
        prefix(digits, 2),
        prefix(digits, 3),
        prefix(digits, 4),
        prefix(digits, 6),
    );
    let long = (16..=19).contains(&len);
    let visa = digits.first() == Some(&b'4') && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = (p2 == 34 || p2 == 37) && len == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622_126..=622_925).contains(&p6))
            && long;
    // JCB issues 3528-3589; the rest of 35xx is unassigned, and a gate
    // fails closed on a Luhn-valid 35 number.
    let jcb = (p2 == 35 && long) || ((p4 == 1800 || p4 == 2131) && len == 15);
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39))
        && (14..=19).contains(&len);
    let unionpay = p2 == 62 && long;
    let mir = (2200..=2204).contains(&p4) && long;
    let rupay = (matches!(p2, 60 | 65 | 81 | 82) || p3 == 508) && len == 16;
    let troy = p4 == 9792 && len == 16;
    let maestro = p2 == 50 || (56..=69).contains(&p2) || p4 == 604;
    let known =
        visa || mastercard || amex || discover || jcb || diners || unionpay || mir || rupay || troy;
    if known || (maestro && (13..=19).contains(&len)) {
        Some(false)
    } else if maestro && len == 12 {
        Some(true)
    } else {
        None
    }
}

/// Group lengths a printed card uses: first group of four, then groups of
/// four to six, the last one three to six.
fn grouping_ok(groups: &[Group]) -> bool {
    match groups {
        [] => false,
        [_] => true,
        [first, middle @ .., last] => {
            first.len() == 4
                && middle.iter().all(|g| (4..=6).contains(&g.len()))
                && (3..=6).contains(&last.len())
        }
    }
}

/// Finds cards among the chunk's groups; marks the groups it uses in
/// `claimed` (indexed like the chunk's group range).
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
    let mut i = 0;
    while i < n {
        let mut best = None;
        let mut digits = 0;
        for j in i..n {
            digits += groups[j].len();
            // A grouped card starts with a group of four (see `grouping_ok`).
            if digits > 19 || (j > i && groups[i].len() != 4) {
                break;
            }
            if digits < 12 || !card_at(text, bytes, groups, chunk, i, j, context) {
                continue;
            }
            best = Some(j);
        }
        match best {
            Some(j) => {
                out.push(Match {
                    kind: Kind::CreditCard,
                    start: groups[i].start,
                    end: groups[j].end,
                });
                claimed[i..=j].iter_mut().for_each(|c| *c = true);
                i = j + 1;
            }
            None => i += 1,
        }
    }
}

fn card_at(
    text: &str,
    bytes: &[u8],
    groups: &[Group],
    chunk: &Chunk,
    i: usize,
    j: usize,
    context: &Context,
) -> bool {
    if (i == 0 && chunk.glued_before) || (j + 1 == groups.len() && chunk.glued_after) {
        return false;
    }
    let sub = &groups[i..=j];
    let first_sep = sep_between(bytes, groups, i);
    if j > i {
        if first_sep != b" " && first_sep != b"-" {
            return false;
        }
        if (i..j).any(|k| sep_between(bytes, groups, k) != first_sep) || !grouping_ok(sub) {
            return false;
        }
    }
    let mut buf = [0u8; 19];
    let Some(len) = collect_digits(bytes, sub, &mut buf) else {
        return false;
    };
    let digits = &buf[..len];
    if !luhn_ok(digits) || digits.iter().all(|&d| d == digits[0]) {
        return false;
    }
    match issuer(digits) {
        Some(false) => true,
        Some(true) => context.near(text, sub[0].start, sub[sub.len() - 1].end),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn cards(text: &str) -> Vec<&str> {
        spans(text, Kind::CreditCard)
    }

    #[test]
    fn luhn() {
        assert!(luhn_ok(b"4111111111111111"));
        assert!(!luhn_ok(b"4111111111111112"));
        assert!(luhn_ok(b"378282246310005"));
        assert!(!luhn_ok(b""));
    }

    #[test]
    fn issuers() {
        assert_eq!(issuer(b"4111111111111111"), Some(false));
        assert_eq!(issuer(b"378282246310005"), Some(false));
        assert_eq!(issuer(b"3782822463100050"), None); // Amex is 15 long
        assert_eq!(issuer(b"2223003122003222"), Some(false));
        assert_eq!(issuer(b"630427373398"), Some(true));
        assert_eq!(issuer(b"7111111111111111"), None);
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("card 4111111111111111 ok", &["4111111111111111"]),
            ("4111 1111 1111 1111", &["4111 1111 1111 1111"]),
            ("pay 5555-5555-5555-4444.", &["5555-5555-5555-4444"]),
            ("amex 3782 822463 10005", &["3782 822463 10005"]),
            ("Card: 4111 1111 1111 1111 12/25", &["4111 1111 1111 1111"]),
            ("bad luhn 4111111111111112", &[]),
            ("mixed 4111-1111 1111-1111", &[]),
            ("no issuer 7111111111111114", &[]),
            ("glued A4111111111111111", &[]),
            ("too long 41111111111111111111111", &[]),
            ("card number 630427373398 is lost", &["630427373398"]),
            ("order 630427373398 shipped", &[]),
            ("jcb 180016070420458", &["180016070420458"]),
        ];
        for (text, want) in cases {
            assert_eq!(&cards(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "carte bancaire é中 4111111111111111";
        assert_eq!(cards(text), vec!["4111111111111111"]);
    }
}
