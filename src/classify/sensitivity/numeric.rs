//! Splits text into numeric chunks: runs of digit groups joined by short
//! separators (`415-555-0132`, `(415) 555 0132`, `4111 1111 1111 1111`).
//! The card, SSN and phone detectors read these chunks instead of running
//! their own regexes, so one linear pass serves all three and a digit run is
//! never split in the middle.
//!
//! Must not: decide what a number is (that is the detectors' job) or look
//! past the chunk's immediate neighbours.

use std::ops::Range;

use super::text::{is_escape_letter, is_word_byte};

/// One maximal run of ASCII digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Group {
    pub start: usize,
    pub end: usize,
}

impl Group {
    pub(super) fn len(self) -> usize {
        self.end - self.start
    }
}

/// What stands right before the first group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lead {
    None,
    /// `+` (international prefix); holds its byte offset.
    Plus(usize),
    /// `(` opening an area code; holds its byte offset.
    Paren(usize),
}

/// Digit groups joined by separators of one to three bytes from
/// `space - . ( ) /`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Chunk {
    /// Indexes into the group list filled by [`tokenize`].
    pub groups: Range<usize>,
    pub lead: Lead,
    /// A letter, digit or `_` (or `,`/`:` followed by a digit) touches the
    /// chunk on the left: it is part of a longer token.
    pub glued_before: bool,
    /// Same, on the right.
    pub glued_after: bool,
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// A separator run joins two groups if it has at most one of `- . /`, at
/// most two spaces and at most one of each parenthesis.
fn sep_joins(sep: &[u8]) -> bool {
    let count = |c: u8| sep.iter().filter(|&&b| b == c).count();
    let punct = count(b'-') + count(b'.') + count(b'/');
    punct <= 1 && count(b' ') <= 2 && count(b'(') <= 1 && count(b')') <= 1
}

/// Fills `groups` and `chunks` (both cleared first) from `bytes`.
pub(super) fn tokenize(bytes: &[u8], groups: &mut Vec<Group>, chunks: &mut Vec<Chunk>) {
    groups.clear();
    chunks.clear();
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let first = groups.len();
        let chunk_start = i;
        loop {
            let start = i;
            while i < n && bytes[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(Group { start, end: i });
            let mut j = i;
            while j < n && j - i < 3 && is_sep(bytes[j]) {
                j += 1;
            }
            if j > i && j < n && bytes[j].is_ascii_digit() && sep_joins(&bytes[i..j]) {
                i = j;
            } else {
                break;
            }
        }
        let last_end = i;
        let lead = match chunk_start.checked_sub(1).map(|p| (p, bytes[p])) {
            Some((p, b'+')) => Lead::Plus(p),
            Some((p, b'(')) => Lead::Paren(p),
            _ => Lead::None,
        };
        let outer_start = match lead {
            Lead::Plus(p) | Lead::Paren(p) => p,
            Lead::None => chunk_start,
        };
        chunks.push(Chunk {
            groups: first..groups.len(),
            lead,
            glued_before: glued_left(bytes, outer_start),
            glued_after: glued_right(bytes, last_end),
        });
    }
}

fn glued_left(bytes: &[u8], at: usize) -> bool {
    let Some(p) = at.checked_sub(1) else {
        return false;
    };
    let b = bytes[p];
    (is_word_byte(b) && !is_escape_letter(bytes, p))
        || (matches!(b, b',' | b':') && p > 0 && bytes[p - 1].is_ascii_digit())
}

fn glued_right(bytes: &[u8], at: usize) -> bool {
    let Some(&b) = bytes.get(at) else {
        return false;
    };
    is_word_byte(b)
        || (matches!(b, b',' | b':') && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
}

/// Copies the digits of `groups` into `buf`; returns how many were copied,
/// or `None` if they do not fit.
pub(super) fn collect_digits(bytes: &[u8], groups: &[Group], buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for g in groups {
        let d = &bytes[g.start..g.end];
        buf.get_mut(n..n + d.len())?.copy_from_slice(d);
        n += d.len();
    }
    Some(n)
}

/// The separator bytes between group `k` and group `k + 1`.
pub(super) fn sep_between<'a>(bytes: &'a [u8], groups: &[Group], k: usize) -> &'a [u8] {
    match (groups.get(k), groups.get(k + 1)) {
        (Some(a), Some(b)) => &bytes[a.end..b.start],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<Group>, Vec<Chunk>) {
        let (mut g, mut c) = (Vec::new(), Vec::new());
        tokenize(text.as_bytes(), &mut g, &mut c);
        (g, c)
    }

    #[test]
    fn joins_formatted_numbers() {
        let (g, c) = run("call (415) 555-0132 now");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].groups.len(), 3);
        assert_eq!(c[0].lead, Lead::Paren(5));
        assert_eq!(
            &"call (415) 555-0132 now"[g[0].start..g[2].end],
            "415) 555-0132"
        );
    }

    #[test]
    fn splits_on_long_or_odd_separators() {
        let (_, c) = run("1 -- 2, 3\n4");
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn marks_glue() {
        let (_, c) = run("Phone:\\n0492 97");
        assert!(!c[0].glued_before);
        let (_, c) = run("abc123 456x 1,234 +44 20");
        assert_eq!(c.len(), 4);
        assert!(c[0].glued_before && c[0].glued_after);
        assert!(c[1].glued_after && c[2].glued_before);
        assert_eq!(c[3].lead, Lead::Plus(18));
        assert!(!c[3].glued_before && !c[3].glued_after);
    }

    #[test]
    fn digits_fit_or_fail() {
        let (g, c) = run("4111 1111 1111 1111");
        let mut buf = [0u8; 19];
        let groups = &g[c[0].groups.clone()];
        assert_eq!(
            collect_digits(b"4111 1111 1111 1111", groups, &mut buf),
            Some(16)
        );
        let mut small = [0u8; 8];
        assert_eq!(
            collect_digits(b"4111 1111 1111 1111", groups, &mut small),
            None
        );
        assert_eq!(sep_between(b"4111 1111 1111 1111", groups, 0), b" ");
    }
}
