//! Small byte-level helpers shared by the detectors: char-boundary-safe
//! windows, word-boundary tests, Shannon entropy, placeholder checks and the
//! context-word matcher used to confirm weak patterns.
//!
//! Must not: slice a `&str` at a position that is not a char boundary, or do
//! more than constant work per byte looked at (everything here is linear).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// Bytes scanned before a candidate when looking for a context word.
pub(super) const CONTEXT_BEFORE: usize = 64;
/// Bytes scanned after a candidate when looking for a context word.
pub(super) const CONTEXT_AFTER: usize = 32;

/// Largest char boundary `<= at` (clamped to the text).
pub(super) fn floor_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Smallest char boundary `>= at` (clamped to the text).
pub(super) fn ceil_boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while i < text.len() && !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// ASCII letter, digit or underscore.
pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `bytes[i]` is the letter of a `\n`, `\r` or `\t` escape: text
/// pasted from JSON or code keeps them, and they separate words.
pub(super) fn is_escape_letter(bytes: &[u8], i: usize) -> bool {
    matches!(bytes.get(i), Some(b'n' | b'r' | b't')) && i > 0 && bytes[i - 1] == b'\\'
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` set when that byte is an ASCII digit
/// (SWAR: no byte's sum below carries into the next).
fn digit8(x: u64) -> u64 {
    let x7 = x & !HIGH;
    (x7 + 0x50 * ONES) & !(x7 + 0x46 * ONES) & !x & HIGH
}

/// As `digit8`, for ASCII letters and digits.
fn alnum8(x: u64) -> u64 {
    let x7 = x & !HIGH;
    let lower = x7 | (0x20 * ONES);
    let letter = (lower + 0x1f * ONES) & !(lower + 0x05 * ONES);
    (letter | digit8(x)) & !x & HIGH
}

/// Bit `j` set when `chunk[j]` (`chunk` holds at most 64 bytes) is in the
/// class `swar` tests eight bytes at a time and `byte` one at a time.
fn class_mask(chunk: &[u8], swar: fn(u64) -> u64, byte: fn(&u8) -> bool) -> u64 {
    let mut m = 0u64;
    let mut words = chunk.chunks_exact(8);
    let mut shift = 0;
    for w in &mut words {
        let mut x = [0u8; 8];
        x.copy_from_slice(w);
        // High bits of the eight bytes to the low eight bits, in order.
        let bits = ((swar(u64::from_le_bytes(x)) >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
        m |= bits << shift;
        shift += 8;
    }
    for (j, c) in words.remainder().iter().enumerate() {
        m |= u64::from(byte(c)) << (shift + j);
    }
    m
}

/// Bit `j` set when `chunk[j]` is an ASCII letter or digit (`chunk` holds
/// at most 64 bytes).
pub(super) fn alnum_mask(chunk: &[u8]) -> u64 {
    class_mask(chunk, alnum8, u8::is_ascii_alphanumeric)
}

/// Bit `j` set when `chunk[j]` is an ASCII digit (at most 64 bytes).
pub(super) fn digit_mask(chunk: &[u8]) -> u64 {
    class_mask(chunk, digit8, u8::is_ascii_digit)
}

/// Positions `j` where `b[j]` and `b[j + 1]` are both ASCII digits, in
/// order, found 64 bytes at a time.
pub(super) fn digit_pairs(b: &[u8]) -> impl Iterator<Item = usize> + '_ {
    let block = |at: usize| {
        b.get(at..)
            .map_or(0, |r| digit_mask(r.get(..64).unwrap_or(r)))
    };
    let mut base = 0;
    let mut cur = block(0);
    let mut pairs = 0u64;
    std::iter::from_fn(move || {
        loop {
            if pairs != 0 {
                let j = pairs.trailing_zeros() as usize;
                pairs &= pairs - 1;
                return Some(base - 64 + j);
            }
            if base >= b.len() {
                return None;
            }
            let next = block(base + 64);
            pairs = cur & ((cur >> 1) | (next << 63));
            cur = next;
            base += 64;
        }
    })
}

/// The byte before `at`, if any.
pub(super) fn byte_before(bytes: &[u8], at: usize) -> Option<u8> {
    at.checked_sub(1).and_then(|i| bytes.get(i).copied())
}

/// Shannon entropy of the bytes of `s`, in bits per byte.
pub(super) fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// How many of {lower, upper, digit, other} occur in `s`.
pub(super) fn char_classes(s: &[u8]) -> u32 {
    let (mut lo, mut up, mut di, mut ot) = (false, false, false, false);
    for &b in s {
        match b {
            b'a'..=b'z' => lo = true,
            b'A'..=b'Z' => up = true,
            b'0'..=b'9' => di = true,
            _ => ot = true,
        }
    }
    u32::from(lo) + u32::from(up) + u32::from(di) + u32::from(ot)
}

/// A redaction mask such as `xxxxxxxx`, `XXXX-XXXX` or `********`: at least
/// half of the characters are mask characters. Such a string holds nothing.
pub(super) fn looks_masked(s: &[u8]) -> bool {
    if s.is_empty() {
        return true;
    }
    let masked = s
        .iter()
        .filter(|&&b| matches!(b, b'x' | b'X' | b'*' | b'#'))
        .count();
    masked * 2 >= s.len()
}

/// Whether `word` equals one of `list`, ASCII case ignored.
pub(super) fn eq_any(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|w| word.eq_ignore_ascii_case(w.as_bytes()))
}

/// A set of context words matched ASCII-case-insensitively near a candidate.
///
/// A word must start at a word start (no ASCII letter before it). Words of
/// four letters or fewer must stand alone (no letter, digit or `_` on either
/// side), so `tin` does not fire inside `latin` and `call` not inside
/// `VRING_CALL`. A `\n`-style escape before a word counts as a break.
pub(super) struct Context {
    ac: AhoCorasick,
    short: Vec<bool>,
}

impl Context {
    pub(super) fn new(words: &[&str]) -> Context {
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .expect("context words are plain non-empty literals");
        let short = words.iter().map(|w| w.len() <= 4).collect();
        Context { ac, short }
    }

    /// Whether one of the words occurs within the context window around
    /// `start..end` (byte offsets into `text`).
    pub(super) fn near(&self, text: &str, start: usize, end: usize) -> bool {
        let bytes = text.as_bytes();
        let lo = start.saturating_sub(CONTEXT_BEFORE);
        let hi = end.saturating_add(CONTEXT_AFTER).min(bytes.len());
        if lo >= hi {
            return false;
        }
        let window = &bytes[lo..hi];
        self.ac.find_overlapping_iter(window).any(|m| {
            let short = self
                .short
                .get(m.pattern().as_usize())
                .copied()
                .unwrap_or(false);
            let joins = |b: u8| {
                if short {
                    is_word_byte(b)
                } else {
                    b.is_ascii_alphabetic()
                }
            };
            let left_ok = m.start() == 0
                || !joins(window[m.start() - 1])
                || is_escape_letter(window, m.start() - 1);
            let right_ok = !short || m.end() >= window.len() || !is_word_byte(window[m.end()]);
            left_ok && right_ok
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_bytewise() {
        let all: Vec<u8> = (0..=255u8).chain(b"a1-Z9_ \xff".iter().copied()).collect();
        let naive = |chunk: &[u8], f: fn(&u8) -> bool| {
            (chunk.iter().enumerate()).fold(0u64, |m, (j, c)| m | (u64::from(f(c)) << j))
        };
        for len in [1, 7, 8, 9, 63, 64] {
            for chunk in all.chunks(len) {
                let want = naive(chunk, u8::is_ascii_alphanumeric);
                assert_eq!(alnum_mask(chunk), want, "{chunk:?}");
                assert_eq!(
                    digit_mask(chunk),
                    naive(chunk, u8::is_ascii_digit),
                    "{chunk:?}"
                );
            }
        }
    }

    #[test]
    fn digit_pairs_match_bytewise() {
        // Digits at and across the 64-byte block edges, and at the end.
        let mut text = [b'x'; 200];
        for i in [0, 1, 5, 62, 63, 64, 65, 127, 128, 150, 152, 153, 198, 199] {
            text[i] = b'7';
        }
        for len in [0, 1, 2, 63, 64, 65, 128, 129, 199, 200] {
            let b = &text[..len];
            let want: Vec<usize> = (0..len.saturating_sub(1))
                .filter(|&j| b[j].is_ascii_digit() && b[j + 1].is_ascii_digit())
                .collect();
            assert_eq!(digit_pairs(b).collect::<Vec<_>>(), want, "len {len}");
        }
    }

    #[test]
    fn boundaries_respect_multibyte() {
        let t = "aé中b";
        assert_eq!(floor_boundary(t, 2), 1);
        assert_eq!(ceil_boundary(t, 2), 3);
        assert_eq!(ceil_boundary(t, 4), 6);
        assert_eq!(floor_boundary(t, 100), t.len());
    }

    #[test]
    fn entropy_and_classes() {
        assert!(shannon_entropy(b"aaaaaaaa") < 0.01);
        assert!(shannon_entropy(b"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB") > 4.0);
        assert_eq!(char_classes(b"abc"), 1);
        assert_eq!(char_classes(b"aB3!"), 4);
    }

    #[test]
    fn masks() {
        assert!(looks_masked(b"xxxxxxxx-xxxx"));
        assert!(looks_masked(b"XXXXXXXXXXXXXXXX"));
        assert!(!looks_masked(b"IOSFODNN7EXAMPLE"));
    }

    #[test]
    fn context_word_boundaries() {
        let c = Context::new(&["tin", "ssn", "phone"]);
        assert!(c.near("my TIN: 123", 8, 11));
        assert!(!c.near("latin 123", 6, 9));
        assert!(!c.near("tinted 123", 7, 10));
        assert!(c.near("Phones: 123", 8, 11));
        let calls = Context::new(&["call", "phone"]);
        assert!(!calls.near("VRING_CALL: u32 = 1074310945", 18, 28));
        assert!(!calls.near("call7 1074310945", 6, 16));
        assert!(calls.near("call: 1074310945", 6, 16));
        assert!(calls.near("user_phone = 1074310945", 13, 23));
        assert!(c.near("x 123 (ssn)", 2, 5));
        assert!(c.near("a\\nPhone:\\n123", 11, 14));
        assert!(!c.near("anPhone: 123", 9, 12));
        assert!(is_escape_letter(b"\\n", 1) && !is_escape_letter(b"an", 1));
    }
}
