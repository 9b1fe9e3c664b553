//! Word tokenizer for the name and address detectors: one forward pass that
//! cuts text into letter words and digit groups, records their case, and
//! summarises the punctuation between them. It does no lookups and makes no
//! decisions; it must never split a UTF-8 character (every offset it returns
//! lies on a char boundary).

/// Letter case of a word token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// First letter lower case ("street", "van").
    Lower,
    /// First letter upper case, some later letter lower ("Smith", "McGregor").
    Title,
    /// Every letter upper case, two letters or more ("OULU", "NY").
    Upper,
    /// A single upper-case letter ("J" in "Szabina J Gelencsér").
    Initial,
}

/// Punctuation seen in the gap before a token.
pub mod gap {
    /// A line break (real, or the two characters `\n` written out).
    pub const NEWLINE: u8 = 1;
    /// A comma or semicolon.
    pub const COMMA: u8 = 2;
    /// A sentence end: `.`, `!` or `?`.
    pub const STOP: u8 = 4;
    /// A colon.
    pub const COLON: u8 = 8;
    /// Any other punctuation: brackets, quotes, dashes, `#`, `/`.
    pub const OTHER: u8 = 16;
    /// A `#` sign (unit numbers: "# 12").
    pub const HASH: u8 = 32;
}

/// One word or number.
#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    /// True for a digit group, possibly with a letter tail ("12B", "5th").
    pub num: bool,
    pub case: Case,
    /// The word holds a letter outside ASCII ("Szöllösy").
    pub non_ascii: bool,
    /// `gap::*` bits for the text between the previous token and this one.
    pub gap: u8,
    /// The token is followed directly by a `.` ("Mr.", "St.", "J.").
    pub dot: bool,
    /// Lexicon flags, filled by the caller for upper-case words (0 = unknown).
    pub flags: u32,
}

impl Token {
    /// Number of digits at the start of a number token.
    pub fn digits(&self, text: &str) -> usize {
        text[self.start..self.end]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count()
    }

    /// True when the token starts with an upper-case letter.
    pub fn capital(&self) -> bool {
        !self.num && self.case != Case::Lower
    }
}

/// Byte classes for the ASCII fast paths (bytes 0x80.. are `NON_ASCII`).
const LOWER: u8 = 1;
const UPPER: u8 = 2;
const DIGIT: u8 = 4;
const ALNUM: u8 = LOWER | UPPER | DIGIT;
/// `\\` and `>`: gap bytes that need a second look.
const SPECIAL: u8 = 8;
const NON_ASCII: u8 = 16;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            b'a'..=b'z' => LOWER,
            b'A'..=b'Z' => UPPER,
            b'0'..=b'9' => DIGIT,
            b'\\' | b'>' => SPECIAL,
            0x80..=0xff => NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    t
};

/// Gap bits of each ASCII gap byte.
const GAP: [u8; 128] = {
    let mut t = [gap::OTHER; 128];
    let mut b = 0;
    while b < 128 {
        t[b] = match b as u8 {
            b'\n' | b'\r' => gap::NEWLINE,
            b',' | b';' => gap::COMMA,
            b'.' | b'!' | b'?' => gap::STOP,
            b':' => gap::COLON,
            b'#' => gap::HASH | gap::OTHER,
            b' ' | b'\t' => 0,
            _ => gap::OTHER,
        };
        b += 1;
    }
    t
};

/// Cuts `text` into tokens, appending them to `out`.
pub fn tokenize(text: &str, out: &mut Vec<Token>) {
    tokenize_with::<true>(text, out);
}

/// `tokenize`; without `FAST`, every word takes the general path (the
/// tests check that both cut alike).
fn tokenize_with<const FAST: bool>(text: &str, out: &mut Vec<Token>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut gap_bits = gap::NEWLINE; // the text start counts as a line start
    while i < bytes.len() {
        let b = bytes[i];
        let class = CLASS[usize::from(b)];
        if class & ALNUM != 0 {
            if !FAST {
                i = word(text, i, gap_bits, out);
                gap_bits = 0;
                continue;
            }
            i = ascii_word(text, i, gap_bits, out);
            // Most words are followed by one space and the next word.
            while let Some(&[b' ', next]) = bytes.get(i..i + 2)
                && CLASS[usize::from(next)] & ALNUM != 0
            {
                i = ascii_word(text, i + 1, 0, out);
            }
            gap_bits = 0;
        } else if class == 0 {
            gap_bits |= GAP[usize::from(b)];
            i += 1;
        } else if class == SPECIAL {
            gap_bits |= match b {
                b'\\'
                    if matches!(bytes.get(i + 1), Some(b'n' | b'r'))
                        && !bytes.get(i + 2).is_some_and(u8::is_ascii_lowercase) =>
                {
                    i += 1; // a written-out "\n"
                    gap::NEWLINE
                }
                // E-mail quoting: "> Suite 828" continues the lines above.
                b'>' if gap_bits & gap::NEWLINE != 0 => 0,
                _ => gap::OTHER,
            };
            i += 1;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            if c.is_alphabetic() {
                i = word(text, i, gap_bits, out);
                gap_bits = 0;
            } else {
                if !c.is_whitespace() {
                    gap_bits |= gap::OTHER;
                }
                i += c.len_utf8();
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that lies in `lo..=hi` (ASCII only).
fn in_range(x: u64, lo: u8, hi: u8) -> u64 {
    let x7 = x & !HIGH; // no byte sum below can carry into the next byte
    let ge = x7.wrapping_add(ONES * u64::from(0x80 - lo));
    let gt = x7.wrapping_add(ONES * u64::from(0x7f - hi));
    ge & !gt & !x & HIGH
}

/// For eight bytes (first byte lowest): how many leading bytes are ASCII
/// letters or digits, and the `CLASS` bits of those bytes or-ed together.
fn alnum_prefix(x: u64) -> (usize, u8) {
    let lower = in_range(x, b'a', b'z');
    let upper = in_range(x, b'A', b'Z');
    let digit = in_range(x, b'0', b'9');
    let n = (!(lower | upper | digit) & HIGH).trailing_zeros() as usize / 8;
    let keep = if n == 8 { !0 } else { (1u64 << (8 * n)) - 1 };
    let bit = |m: u64, class: u8| if m & keep != 0 { class } else { 0 };
    (n, bit(lower, LOWER) | bit(upper, UPPER) | bit(digit, DIGIT))
}

/// `Case` by (first letter upper case, a later letter lower case, a later
/// letter upper case).
const CASES: [Case; 8] = [
    Case::Lower,
    Case::Lower,
    Case::Lower,
    Case::Lower,
    Case::Initial,
    Case::Upper,
    Case::Title,
    Case::Title,
];

/// How a word's first byte after it ends it: `END` (an ASCII byte that
/// joins nothing), `JOINER` (`'` or `-`: ends a number, may join a word) or
/// `OTHER` (outside ASCII: the general path decides).
const AFTER: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut b = 0;
    while b < 128 {
        t[b] = if b == b'\'' as usize || b == b'-' as usize {
            1
        } else {
            0
        };
        b += 1;
    }
    t
};

/// `word` for a token that starts with an ASCII letter or digit, with a
/// fast path for ASCII words of up to seven bytes that end at an ASCII byte
/// joining nothing (most words): one eight-byte load, no loop.
#[inline(always)]
fn ascii_word(text: &str, start: usize, gap_bits: u8, out: &mut Vec<Token>) -> usize {
    let bytes = text.as_bytes();
    let Some(chunk) = bytes.get(start..).and_then(<[u8]>::first_chunk::<8>) else {
        return word(text, start, gap_bits, out);
    };
    let x = u64::from_le_bytes(*chunk);
    let ascii = !x & HIGH;
    // Letters with the case bit (0x20) set, so one range covers both.
    let letter = in_range7(x | (ONES * 0x20), b'a', b'z') & ascii;
    let digit = in_range7(x, b'0', b'9') & ascii;
    let stop = !(letter | digit) & HIGH;
    if stop == 0 {
        return long_ascii_word(text, start, gap_bits, out);
    }
    // The first byte not in the word is byte `n`: bits `8 * n..`.
    let shift = stop.trailing_zeros() & !7;
    let end = start + shift as usize / 8;
    let after = (x >> shift) as u8;
    let num = digit & 0x80 != 0;
    if AFTER[usize::from(after)] > u8::from(num) {
        return word(text, start, gap_bits, out);
    }
    // Bit 5 of a letter, moved to bit 7, is set for lower case; `rest`
    // keeps the bytes after the first.
    let rest = ((1u64 << shift) - 1) & !0xff;
    let lower = letter & (x << 2);
    let upper = letter & !(x << 2);
    let case = usize::from(upper & 0x80 != 0) << 2
        | usize::from(lower & rest != 0) << 1
        | usize::from(upper & rest != 0);
    out.push(Token {
        start,
        end,
        num,
        case: CASES[case],
        non_ascii: false,
        gap: gap_bits,
        dot: after == b'.',
        flags: 0,
    });
    end
}

/// `ascii_word` for a word of eight bytes or more: eight bytes a load.
fn long_ascii_word(text: &str, start: usize, gap_bits: u8, out: &mut Vec<Token>) -> usize {
    let bytes = text.as_bytes();
    let mut at = start;
    // Letters after the first byte: lower case, upper case.
    let (mut lower, mut upper) = (0u64, 0u64);
    let (mut first_upper, mut num) = (false, false);
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        let ascii = !x & HIGH;
        let letter = in_range7(x | (ONES * 0x20), b'a', b'z') & ascii;
        let digit = in_range7(x, b'0', b'9') & ascii;
        let stop = !(letter | digit) & HIGH;
        let shift = stop.trailing_zeros() & !7; // 64: all eight in the word
        let mut keep = if shift < 64 { (1u64 << shift) - 1 } else { !0 };
        if at == start {
            num = digit & 0x80 != 0;
            first_upper = letter & !(x << 2) & 0x80 != 0;
            keep &= !0xff;
        }
        lower |= letter & (x << 2) & keep;
        upper |= letter & !(x << 2) & keep;
        if shift == 64 {
            at += 8;
            continue;
        }
        let end = at + shift as usize / 8;
        let after = (x >> shift) as u8;
        if AFTER[usize::from(after)] > u8::from(num) {
            break;
        }
        let case =
            usize::from(first_upper) << 2 | usize::from(lower != 0) << 1 | usize::from(upper != 0);
        out.push(Token {
            start,
            end,
            num,
            case: CASES[case],
            non_ascii: false,
            gap: gap_bits,
            dot: after == b'.',
            flags: 0,
        });
        return end;
    }
    word(text, start, gap_bits, out)
}

/// High bit set in each byte of `x` that lies in `lo..=hi`, for the bytes
/// below 0x80 (the others are to be masked out by the caller).
#[inline(always)]
fn in_range7(x: u64, lo: u8, hi: u8) -> u64 {
    let x7 = x & !HIGH; // no byte sum below can carry into the next byte
    let ge = x7.wrapping_add(ONES * u64::from(0x80 - lo));
    let gt = x7.wrapping_add(ONES * u64::from(0x7f - hi));
    ge & !gt & HIGH
}

/// Reads one token starting at byte `start`; returns the byte after it.
fn word(text: &str, start: usize, gap_bits: u8, out: &mut Vec<Token>) -> usize {
    let bytes = text.as_bytes();
    let first = CLASS[usize::from(bytes[start])];
    let num = first == DIGIT;
    let mut i = start + 1;
    // Classes of every byte after the first, or-ed together.
    let mut rest = 0u8;
    let mut first_upper = first == UPPER;
    let mut non_ascii = false;
    if first == NON_ASCII {
        i = start;
    }
    loop {
        // ASCII fast path, eight bytes at a time: most words end inside the
        // first chunk, so the loop exit is predictable.
        while i + 8 <= bytes.len() {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&bytes[i..i + 8]);
            let (n, classes) = alnum_prefix(u64::from_le_bytes(chunk));
            rest |= classes;
            i += n;
            if n < 8 {
                break;
            }
        }
        while i < bytes.len() && CLASS[usize::from(bytes[i])] & ALNUM != 0 {
            rest |= CLASS[usize::from(bytes[i])];
            i += 1;
        }
        // Most words end at an ASCII byte that joins nothing.
        match bytes.get(i) {
            None => break,
            Some(&b) if b < 0x80 && b != b'\'' && b != b'-' => break,
            _ => {}
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if !c.is_ascii() && c.is_alphabetic() {
            if c.is_uppercase() {
                if i == start {
                    first_upper = true;
                } else {
                    rest |= UPPER;
                }
            } else if c.is_lowercase() {
                rest |= LOWER;
            }
            non_ascii = true;
            i += c.len_utf8();
            continue;
        }
        // Joiners inside a word: O'Brien, D'Angelo, Jean-Luc, Smith-Jones.
        // "Yefremova's" and "ex-" stop before the mark.
        if matches!(c, '\'' | '’' | '-') && i > start && !num {
            let next = text[i + c.len_utf8()..].chars().next();
            let joins = match c {
                '-' => next.is_some_and(char::is_alphabetic),
                _ => next.is_some_and(char::is_uppercase),
            };
            if joins {
                i += c.len_utf8();
                continue;
            }
        }
        break;
    }
    let case = match (first_upper, rest & LOWER != 0, rest & UPPER != 0) {
        (false, _, _) => Case::Lower,
        (true, true, _) => Case::Title,
        (true, false, true) => Case::Upper,
        (true, false, false) => Case::Initial,
    };
    out.push(Token {
        start,
        end: i,
        num,
        case,
        non_ascii,
        gap: gap_bits,
        dot: bytes.get(i) == Some(&b'.'),
        flags: 0,
    });
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<(&str, bool, Case, u8)> {
        let mut v = Vec::new();
        tokenize(text, &mut v);
        v.iter()
            .map(|t| (&text[t.start..t.end], t.num, t.case, t.gap))
            .collect()
    }

    #[test]
    fn cuts_words_numbers_and_gaps() {
        let t = toks("Mr. O'Brien, 12B Main St.\nJ Gelencsér's OULU");
        let want = [
            ("Mr", false, Case::Title, gap::NEWLINE),
            ("O'Brien", false, Case::Title, gap::STOP),
            ("12B", true, Case::Lower, gap::COMMA),
            ("Main", false, Case::Title, 0),
            ("St", false, Case::Title, 0),
            ("J", false, Case::Initial, gap::STOP | gap::NEWLINE),
            ("Gelencsér", false, Case::Title, 0),
            ("s", false, Case::Lower, gap::OTHER),
            ("OULU", false, Case::Upper, 0),
        ];
        assert_eq!(t, want);
    }

    #[test]
    fn swar_prefix_matches_the_byte_table() {
        let samples: [&[u8; 8]; 5] = [
            b"abcDEF12",
            b"Smith, J",
            b"12B Main",
            b"\xc3\xa9t\xc3\xa9 xy",
            b"zzzzzzz@",
        ];
        for s in samples {
            let (n, classes) = alnum_prefix(u64::from_le_bytes(*s));
            let want = s
                .iter()
                .take_while(|&&b| CLASS[usize::from(b)] & ALNUM != 0)
                .count();
            let want_classes = s[..want].iter().fold(0, |a, &b| a | CLASS[usize::from(b)]);
            assert_eq!((n, classes), (want, want_classes), "{s:?}");
        }
    }

    #[test]
    fn fast_path_cuts_as_the_general_one() {
        const PIECES: &[&str] = &[
            " ",
            "A123456789",
            "B1",
            "Abcdefghijk",
            "a1234567890",
            "  ",
            ". ",
            ", ",
            "\n",
            "\\n",
            "> ",
            "-",
            "'",
            "’",
            "Mr",
            "O'Brien",
            "Jean-Luc",
            "ex-",
            "12B",
            "5th",
            "2024-03-14",
            "quarterly",
            "Wolfeschlegelsteinhausen",
            "ABCDEFGHIJ",
            "aBcDeFgHiJkL",
            "J",
            "x",
            "é",
            "Šárka",
            "東京",
            "😀",
            "Smith's",
            "#",
            "(",
            "x.y",
            "9",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as usize
        };
        let (mut fast, mut general) = (Vec::new(), Vec::new());
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..next() % 30 {
                text.push_str(PIECES[next() % PIECES.len()]);
            }
            fast.clear();
            general.clear();
            tokenize_with::<true>(&text, &mut fast);
            tokenize_with::<false>(&text, &mut general);
            let key = |t: &Token| (t.start, t.end, t.num, t.case, t.non_ascii, t.gap, t.dot);
            assert!(fast.iter().map(key).eq(general.iter().map(key)), "{text:?}");
        }
    }

    #[test]
    fn written_out_newline_is_a_gap() {
        let t = toks("Engel\\nAddress: x\\nation");
        assert_eq!(t[1], ("Address", false, Case::Title, gap::NEWLINE));
        // "\nation" followed by lower case is kept as text, not a break.
        assert_eq!(t[3].0, "nation");
    }

    #[test]
    fn offsets_sit_on_char_boundaries() {
        let text = "Šárka Ottová — 東京 ünd 5€";
        let mut v = Vec::new();
        tokenize(text, &mut v);
        for t in &v {
            assert!(text.is_char_boundary(t.start) && text.is_char_boundary(t.end));
        }
        assert_eq!(&text[v[0].start..v[0].end], "Šárka");
        assert!(v[0].non_ascii);
    }
}
