//! Phone numbers. Shapes that are phones on their own: `+CC ...` with 8-15
//! digits, North American `(415) 555-0132` / `415-555-0132` /
//! `415.555.0132` / `1-415-555-0132` (when only spaces separate the groups,
//! area and exchange must start with 2-9), `00` + country
//! code, national trunk `0...` numbers of 10-11 digits in groups, and French
//! `01 23 45 67 89`. Anything else with 7-15 digits (bare runs included)
//! counts only with a context word (phone, tel, call, mobile, fax...) near.
//!
//! Must not: match inside longer digit runs or identifiers, dates, dotted
//! versions or IP addresses, or digits a card or SSN already claimed.

use super::numeric::{Chunk, Group, Lead, sep_between};
use super::text::{Context, is_word_byte};
use super::{Kind, Match};

/// Words that make a weak phone shape count.
#[rustfmt::skip]
pub(super) const CONTEXT_WORDS: &[&str] = &[
    "phone", "tel", "telephone", "call", "mobile", "cell", "fax", "contact", "whatsapp", "sms", "dial", "landline",
    "hotline", "mob", "ph", "messag", "answering", "reach me", "text me", "ring",
];

/// Finds phones in the runs of the chunk's groups that no other detector
/// claimed.
pub(super) fn detect(
    text: &str,
    all_groups: &[Group],
    chunk: &Chunk,
    claimed: &[bool],
    context: &Context,
    out: &mut Vec<Match>,
) {
    let groups = &all_groups[chunk.groups.clone()];
    let n = groups.len();
    let mut lo = 0;
    while lo < n {
        if claimed[lo] {
            lo += 1;
            continue;
        }
        let mut hi = lo;
        while hi < n && !claimed[hi] {
            hi += 1;
        }
        let run = Run {
            groups: &groups[lo..hi],
            lead: if lo == 0 { chunk.lead } else { Lead::None },
            glued_before: lo == 0 && chunk.glued_before,
            glued_after: hi == n && chunk.glued_after,
            at_end: hi == n,
        };
        if let Some(m) = run.classify(text, context) {
            out.push(m);
        } else {
            run.find_nanp(text, out);
        }
        lo = hi;
    }
}

struct Run<'g> {
    groups: &'g [Group],
    lead: Lead,
    glued_before: bool,
    glued_after: bool,
    at_end: bool,
}

impl Run<'_> {
    fn classify(&self, text: &str, context: &Context) -> Option<Match> {
        let bytes = text.as_bytes();
        let g = self.groups;
        let (first, last) = (g.first()?, g.last()?);
        let digits: usize = g.iter().map(|x| x.len()).sum();
        if !(7..=15).contains(&digits) || g.len() > 7 {
            return None;
        }
        let seps: Vec<&[u8]> = (0..g.len() - 1).map(|k| sep_between(bytes, g, k)).collect();
        let digit_at = |k: usize| bytes.get(first.start + k).copied().unwrap_or(b'0');
        let all_dots = !seps.is_empty() && seps.iter().all(|s| *s == b".");
        let uniform = |set: &[&[u8]]| seps.iter().all(|s| *s == seps[0] && set.contains(s));
        let nanp = nanp(bytes, g, self.lead);
        let french = g.len() == 5
            && g.iter().all(|x| x.len() == 2)
            && digit_at(0) == b'0'
            && uniform(&[b" ", b".", b"-"]);
        if all_dots && !(nanp || french) {
            return None;
        }
        let slashed = seps.iter().any(|s| s.contains(&b'/'));
        let single_digit_groups = g.iter().filter(|x| x.len() == 1).count();
        let has_date =
            (0..g.len().saturating_sub(2)).any(|k| is_date(bytes, &g[k..k + 3], &seps[k..k + 2]));
        if (has_date && !french && !nanp)
            || (single_digit_groups > 1 && !matches!(self.lead, Lead::Plus(_)))
            || all_same_digit(bytes, g)
            || (slashed && !context.near(text, first.start, last.end))
        {
            return None;
        }
        let ext_end = if self.at_end {
            extension(bytes, last.end)
        } else {
            None
        };
        if self.glued_before || (self.glued_after && ext_end.is_none()) {
            return None;
        }
        let plus = matches!(self.lead, Lead::Plus(_)) && digits >= 8;
        let trunk = digit_at(0) == b'0'
            && digit_at(1) != b'0'
            && g.len() >= 2
            && (10..=11).contains(&digits)
            && (2..=5).contains(&first.len());
        let intl = digit_at(0) == b'0' && digit_at(1) == b'0' && g.len() >= 2 && digits >= 10;
        let alone = plus || nanp || french || trunk || intl;
        if !alone && !context.near(text, first.start, last.end) {
            return None;
        }
        let start = match self.lead {
            Lead::Plus(p) => p,
            Lead::Paren(p) if seps.first().is_some_and(|s| s.starts_with(b")")) => p,
            _ => first.start,
        };
        Some(Match {
            kind: Kind::Phone,
            start,
            end: ext_end.unwrap_or(last.end),
        })
    }

    /// A North American number inside a longer run, loosely joined (by a
    /// space) to its neighbours: `415-555-0132 2024`.
    fn find_nanp(&self, text: &str, out: &mut Vec<Match>) {
        let bytes = text.as_bytes();
        let g = self.groups;
        for k in 0..g.len().saturating_sub(2) {
            let sub = &g[k..k + 3];
            let lead = if k == 0 { self.lead } else { Lead::None };
            let loose = |s: &[u8]| s.iter().all(|&b| b == b' ');
            let left_ok = if k == 0 {
                !self.glued_before
            } else {
                loose(sep_between(bytes, g, k - 1))
            };
            let right_ok = if k + 3 == g.len() {
                !self.glued_after
            } else {
                loose(sep_between(bytes, g, k + 2))
            };
            let spaced = loose(sep_between(bytes, g, k)) && loose(sep_between(bytes, g, k + 1));
            if left_ok && right_ok && !spaced && nanp(bytes, sub, lead) {
                let start = match lead {
                    Lead::Paren(p) => p,
                    _ => sub[0].start,
                };
                out.push(Match {
                    kind: Kind::Phone,
                    start,
                    end: sub[2].end,
                });
                return;
            }
        }
    }
}

/// `(415) 555-0132`, `415-555-0132`, `415.555.0132`, `415 555 0132`,
/// `1-415-555-0132`, `1 (415) 555-0132`.
fn nanp(bytes: &[u8], g: &[Group], lead: Lead) -> bool {
    let first_is_one = g
        .first()
        .is_some_and(|x| x.len() == 1 && bytes[x.start] == b'1');
    let off = match g.len() {
        3 => 0,
        4 if first_is_one => 1,
        _ => return false,
    };
    let (area, exch, line) = (g[off], g[off + 1], g[off + 2]);
    if area.len() != 3 || exch.len() != 3 || line.len() != 4 {
        return false;
    }
    let s_area = sep_between(bytes, g, off);
    let s_line = sep_between(bytes, g, off + 1);
    let paren_before = if off == 0 {
        matches!(lead, Lead::Paren(_))
    } else {
        sep_between(bytes, g, 0).ends_with(b"(")
    };
    let area_sep_ok = if paren_before {
        matches!(s_area, b")" | b") " | b")-")
    } else {
        matches!(s_area, b"-" | b"." | b" ")
    };
    let lead_sep_ok =
        off == 0 || matches!(sep_between(bytes, g, 0), b"-" | b" " | b"." | b" (" | b"(");
    // Plain spaces are the weakest shape: there, area and exchange must
    // start with 2-9 as real NANP numbers do. Dashes, dots and parentheses
    // are phone formatting whatever the digits.
    let two_to_nine = |x: Group| (b'2'..=b'9').contains(&bytes[x.start]);
    let digits_ok = s_area != b" " || (two_to_nine(area) && two_to_nine(exch));
    area_sep_ok && lead_sep_ok && digits_ok && matches!(s_line, b"-" | b"." | b" ")
}

/// `2024-01-15`, `01/15/2024`, `15.01.24`: three groups, one separator.
/// Day and month values must be plausible (`03.93.92` is no date).
fn is_date(bytes: &[u8], g: &[Group], seps: &[&[u8]]) -> bool {
    if g.len() != 3
        || seps.len() != 2
        || seps[0] != seps[1]
        || !matches!(seps[0], b"-" | b"/" | b".")
    {
        return false;
    }
    let value = |x: Group| {
        bytes[x.start..x.end]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'))
    };
    let small = |x: Group| (1..=2).contains(&x.len());
    let month = |x: Group| (1..=12).contains(&value(x));
    let day = |x: Group| (1..=31).contains(&value(x));
    let (a, b, c) = (g[0], g[1], g[2]);
    let ymd = a.len() == 4 && small(b) && small(c) && month(b) && day(c);
    let dmy = small(a)
        && small(b)
        && matches!(c.len(), 2 | 4)
        && ((day(a) && month(b)) || (month(a) && day(b)));
    ymd || dmy
}

fn all_same_digit(bytes: &[u8], g: &[Group]) -> bool {
    let Some(first) = g.first().map(|x| bytes[x.start]) else {
        return true;
    };
    g.iter()
        .all(|x| bytes[x.start..x.end].iter().all(|&d| d == first))
}

/// An extension right after the number: `x4587`, ` ext. 12`, `ext12`.
fn extension(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    if matches!(bytes.get(i), Some(b'x' | b'X')) {
        i += 1;
    } else {
        if bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        if !bytes.get(i..i + 3)?.eq_ignore_ascii_case(b"ext") {
            return None;
        }
        i += 3;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
        }
        if bytes.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() && i - start < 6 {
        i += 1;
    }
    let ok = i > start && !bytes.get(i).copied().is_some_and(is_word_byte);
    ok.then_some(i)
}

#[cfg(test)]
mod tests {
    use super::super::tests::spans;
    use super::*;

    fn phones(text: &str) -> Vec<&str> {
        spans(text, Kind::Phone)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("at (415) 555-0132.", &["(415) 555-0132"]),
            ("at 415-555-0132 today", &["415-555-0132"]),
            ("at 415.555.0132", &["415.555.0132"]),
            ("at 1-415-555-0132", &["1-415-555-0132"]),
            ("uk +44 20 7946 0958", &["+44 20 7946 0958"]),
            ("desk: +1-903-140-4508x769", &["+1-903-140-4508x769"]),
            ("fax 345-899-3560x4587", &["345-899-3560x4587"]),
            ("at 415-555-0132 2024", &["415-555-0132"]),
            ("mobile 07700 900123", &["07700 900123"]),
            ("Mobile: 03.93.92.16.85", &["03.93.92.16.85"]),
            ("Phone:\n467 3395", &["467 3395"]),
            ("Fax: 9498777106", &["9498777106"]),
            ("id 9498777106", &[]),
            ("on 2024-01-15 call", &[]),
            ("## 1.3.0 (2019-10-18) call", &[]),
            ("call7 bind7 [0 1 2 3 4 5 6]", &[]),
            ("version 10.415.555.13 shipped", &[]),
            ("ip 192.168.100.200 call", &[]),
            ("price $4,155,550,132", &[]),
            ("ticket 123-456-7890", &["123-456-7890"]),
            ("spaced 123 456 7890", &[]),
            ("sku A415-555-0132", &[]),
            ("digits 14155550132999", &[]),
            ("(415) 555-0132", &["(415) 555-0132"]),
        ];
        for (text, want) in cases {
            assert_eq!(&phones(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Téléphone 📞: +33 1 23 45 67 89";
        assert_eq!(phones(text), vec!["+33 1 23 45 67 89"]);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(b"x123 ", 0), Some(4));
        assert_eq!(extension(b" ext. 12", 0), Some(8));
        assert_eq!(extension(b"xyz", 0), None);
        assert_eq!(extension(b"x1234567", 0), None);
    }
}
