//! Dates of birth: a full date (day, month and year) within 40 bytes after
//! a birth word (`DOB`, `D.O.B`, `born`, `birth`, `birthday`, `birthdate`,
//! `date of birth`, `bday`) or ending within 32 bytes before one. A date
//! alone is not personal data; next to a birth word it is. Formats:
//! `3/14/1985`, `14.03.85`, `1985-03-14` (same separator twice, month and
//! day valid in either order), `March 14, 1985`, `Mar. 14th 1985`,
//! `14 March 1985`, `14th of March, 1985`. Four-digit years must fall in
//! 1900-2099: earlier dates belong to history questions, not to living
//! people. Two-digit years count.
//!
//! Must not: accept a date without a year or a day, or look further than
//! the windows above.

use super::anchors::Anchor;
use super::{Kind, Match};

/// Bytes after the birth word within which the date must start.
const AFTER: usize = 40;
/// Bytes before the birth word within which the date must end.
const BEFORE: usize = 32;

#[rustfmt::skip]
const MONTHS: &[&str] = &[
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
];

/// Finds the dates next to the birth word `a`.
pub(super) fn check(text: &str, a: &Anchor, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    let after = (a.end..a.end.saturating_add(AFTER).min(b.len()))
        .filter(|&i| word_start(b, i))
        .find_map(|i| date_at(b, i).map(|end| (i, end)));
    let before = (a.start.saturating_sub(BEFORE)..a.start)
        .rev()
        .filter(|&i| word_start(b, i))
        .filter_map(|i| date_at(b, i).map(|end| (i, end)))
        .find(|&(_, end)| end <= a.start);
    for (start, end) in [after, before].into_iter().flatten() {
        out.push(Match {
            kind: Kind::DateOfBirth,
            start,
            end,
        });
    }
}

fn word_start(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_alphanumeric)
        && (i == 0 || !b[i - 1].is_ascii_alphanumeric() || super::text::is_escape_letter(b, i - 1))
}

/// Reads ASCII digits from `i`: `(value, count, end)`, at most `max` digits.
fn number(b: &[u8], i: usize, max: usize) -> Option<(u32, usize, usize)> {
    let mut j = i;
    let mut v = 0u32;
    while j < b.len() && b[j].is_ascii_digit() {
        if j - i == max {
            return None;
        }
        v = v * 10 + u32::from(b[j] - b'0');
        j += 1;
    }
    (j > i).then_some((v, j - i, j))
}

fn day_ok(day: u32, month: u32) -> bool {
    let max = match month {
        2 => 29,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => 0,
    };
    (1..=max).contains(&day)
}

fn year_ok(year: u32, len: usize) -> bool {
    len == 2 || (len == 4 && (1900..=2099).contains(&year))
}

/// Whether the date ends at `end`: no letter or digit follows, nor a
/// separator and a digit (`1/2/3/4`, `1.2.85.4`); `T` before a time is fine.
fn ends(b: &[u8], end: usize) -> bool {
    match b.get(end) {
        None => true,
        Some(b'T') => b.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(c) if c.is_ascii_alphanumeric() => false,
        Some(b'/' | b'-' | b'.') => !b.get(end + 1).is_some_and(u8::is_ascii_digit),
        Some(_) => true,
    }
}

/// The end of a date starting at `i`, if one does.
pub(super) fn date_at(b: &[u8], i: usize) -> Option<usize> {
    let end = if b.get(i)?.is_ascii_digit() {
        numeric(b, i).or_else(|| day_first(b, i))?
    } else {
        month_first(b, i)?
    };
    ends(b, end).then_some(end)
}

/// `m/d/y`, `d/m/y`, `y-m-d` with one separator kind.
fn numeric(b: &[u8], i: usize) -> Option<usize> {
    let (n1, l1, e1) = number(b, i, 4)?;
    let sep = *b.get(e1)?;
    if !matches!(sep, b'/' | b'-' | b'.') {
        return None;
    }
    let (n2, l2, e2) = number(b, e1 + 1, 2)?;
    if b.get(e2) != Some(&sep) {
        return None;
    }
    let (n3, l3, e3) = number(b, e2 + 1, 4)?;
    let ok = if l1 == 4 {
        year_ok(n1, l1) && l3 <= 2 && day_ok(n3, n2)
    } else {
        l1 <= 2 && year_ok(n3, l3) && (day_ok(n2, n1) || day_ok(n1, n2))
    };
    (ok && l2 >= 1).then_some(e3)
}

/// A month name (or its first three letters, `Sept`, with an optional dot)
/// starting at `i`: `(month, end)`.
fn month(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let mut j = i;
    while j < b.len() && b[j].is_ascii_alphabetic() {
        j += 1;
    }
    let word = &b[i..j];
    let m = MONTHS.iter().position(|name| {
        word.eq_ignore_ascii_case(name.as_bytes())
            || (word.len() == 3 && name.as_bytes()[..3].eq_ignore_ascii_case(word))
            || (word.eq_ignore_ascii_case(b"sept") && *name == "september")
    })?;
    let end = if word.len() < 5 && b.get(j) == Some(&b'.') {
        j + 1
    } else {
        j
    };
    Some((u32::try_from(m).ok()? + 1, end))
}

/// A day number with an optional ordinal suffix: `(day, end)`.
fn day(b: &[u8], i: usize) -> Option<(u32, usize)> {
    let (d, _, mut e) = number(b, i, 2)?;
    if let Some(suffix) = b.get(e..e + 2)
        && [&b"st"[..], b"nd", b"rd", b"th"]
            .iter()
            .any(|s| suffix.eq_ignore_ascii_case(s))
    {
        e += 2;
    }
    Some((d, e))
}

/// Skips spaces, then an optional comma and more spaces.
fn gap(b: &[u8], mut i: usize, comma: bool) -> usize {
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if comma && b.get(i) == Some(&b',') {
        i += 1;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    i
}

/// A four-digit year at `i` (after at least one separator byte).
fn year(b: &[u8], i: usize, from: usize) -> Option<usize> {
    let (y, l, e) = number(b, i, 4)?;
    (i > from && l == 4 && year_ok(y, l)).then_some(e)
}

/// `March 14, 1985`, `Mar. 14th 1985`.
fn month_first(b: &[u8], i: usize) -> Option<usize> {
    let (m, e) = month(b, i)?;
    let ds = gap(b, e, false);
    if ds == e {
        return None;
    }
    let (d, de) = day(b, ds)?;
    if !day_ok(d, m) {
        return None;
    }
    year(b, gap(b, de, true), de)
}

/// `14 March 1985`, `14th of March, 1985`.
fn day_first(b: &[u8], i: usize) -> Option<usize> {
    let (d, de) = day(b, i)?;
    let mut ms = gap(b, de, false);
    if ms == de {
        return None;
    }
    if b.get(ms..ms + 3)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"of "))
    {
        ms = gap(b, ms + 2, false);
    }
    let (m, me) = month(b, ms)?;
    if !day_ok(d, m) {
        return None;
    }
    year(b, gap(b, me, true), me)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{offsets, spans};
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        spans(text, Kind::DateOfBirth)
    }

    #[test]
    fn dates() {
        let ok = |s: &str| date_at(s.as_bytes(), 0) == Some(s.len());
        for s in [
            "2/8/1935",
            "03/14/1985",
            "14.03.85",
            "1985-03-14",
            "March 14, 1985",
            "Mar. 14th 1985",
            "sept 3 2001",
            "14 March 1985",
            "14th of March, 1985",
            "29/02/2000",
        ] {
            assert!(ok(s), "{s}");
        }
        for s in [
            "13/13/1985",
            "2/8/1835",
            "1985-14-03",
            "March 1985",
            "March 32, 1985",
            "1/2-1985",
            "31/04/1990",
            "May 5",
        ] {
            assert!(!ok(s), "{s}");
        }
        assert_eq!(date_at(b"1/2/1990/5", 0), None);
        assert_eq!(date_at(b"1985-03-14T10:00", 0), Some(10));
    }

    #[test]
    fn table() {
        let cases: &[(&str, &[&str])] = &[
            ("She was born on 2/8/1935. Her maid", &["2/8/1935"]),
            (
                "Please tell me your date of birth. It's 6/1/1945",
                &["6/1/1945"],
            ),
            ("DOB: 1985-03-14", &["1985-03-14"]),
            ("Date of Birth\\n03/14/1985", &["03/14/1985"]),
            ("born in Chicago on March 3, 1990.", &["March 3, 1990"]),
            ("03/14/1985 (DOB)", &["03/14/1985"]),
            (
                "My birthday is on the 4th of July, 1976",
                &["4th of July, 1976"],
            ),
            ("Lincoln was born on February 12, 1809", &[]),
            ("born in 1977", &[]),
            ("the meeting is on 03/14/1985", &[]),
            ("stubborn 03/14/1985", &[]),
            ("DOB 13/13/1985", &[]),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text}");
        }
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "Geburtsdatum (fécha) – DOB 14.03.85";
        assert_eq!(offsets(text, Kind::DateOfBirth), vec![(30, 38)]);
    }
}
