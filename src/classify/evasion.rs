//! Sees through the cheap ways to hide sensitive text from a pattern
//! scanner: Unicode compatibility forms (full-width digits, ligatures,
//! circled and superscript digits: NFKC), invisible characters inside a
//! value (zero-width spaces and joiners, soft hyphens, BOMs), percent-encoded
//! text, and base64 blobs. Each view is scanned with the same `Scanner` and
//! its findings are mapped back to byte spans of the *original* text, so
//! offsets stay true and redaction can cut there.
//!
//! It only adds findings; it never removes one the plain scan made. ASCII
//! text with no `%` escapes and no long base64 runs costs one pass over the
//! bytes. It must not allocate for text that needs no other view.

use super::sensitivity::{Match, Scanner};
use base64::Engine;
use unicode_normalization::UnicodeNormalization;

/// Shortest base64 run worth decoding (12 decoded bytes).
const MIN_B64: usize = 16;
/// Longest base64 run decoded (bounded work per request).
const MAX_B64: usize = 64 * 1024;

/// What is looked for in each view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every detector but medical vocabulary (`Scanner::scan`).
    Detectors,
    /// Medical vocabulary (`Scanner::scan_medical`): worth running only
    /// when something in the request identifies a person.
    Medical,
}

impl Pass {
    fn run(self, scanner: &Scanner, text: &str, out: &mut Vec<Match>) {
        match self {
            Pass::Detectors => scanner.scan(text, out),
            Pass::Medical => scanner.scan_medical(text, out),
        }
    }
}

/// Scans `text` and its decoded or normalised views with every detector
/// but medical vocabulary, appending findings with spans in `text`.
pub fn scan(scanner: &Scanner, text: &str, out: &mut Vec<Match>) {
    scan_with(scanner, Pass::Detectors, text, out);
}

/// Looks for medical vocabulary in `text` and the same views.
pub fn scan_medical(scanner: &Scanner, text: &str, out: &mut Vec<Match>) {
    scan_with(scanner, Pass::Medical, text, out);
}

fn scan_with(scanner: &Scanner, pass: Pass, text: &str, out: &mut Vec<Match>) {
    let first = out.len();
    pass.run(scanner, text, out);
    // Separators that glue a value to its neighbours are read as spaces in
    // every view (same length, so the same offsets or map).
    if text.is_ascii() {
        if let Some(sep) = separators_as_spaces(text) {
            pass.run(scanner, &sep, out);
        }
    } else {
        let (view, map) = normalised(text);
        if view != text {
            scan_view(scanner, pass, &view, &map, out);
        }
        if let Some(sep) = separators_as_spaces(&view) {
            scan_view(scanner, pass, &sep, &map, out);
        }
    }
    if has_percent_escape(text.as_bytes()) {
        let (view, map) = percent_decoded(text);
        scan_view(scanner, pass, &view, &map, out);
    }
    for (start, end) in base64_runs(text.as_bytes()).flat_map(|r| pieces(text.as_bytes(), r)) {
        if let Some(decoded) = decode_b64(&text[start..end]) {
            let mut inner = Vec::new();
            scan_with(scanner, pass, &decoded, &mut inner);
            // The whole encoded run carries the finding.
            out.extend(inner.into_iter().map(|m| Match {
                kind: m.kind,
                start,
                end,
            }));
        }
    }
    dedup(out, first);
}

/// Scans a view and maps its spans back through `map` (view byte -> original
/// byte range start, with one extra entry for the end).
fn scan_view(scanner: &Scanner, pass: Pass, view: &str, map: &[usize], out: &mut Vec<Match>) {
    let mut found = Vec::new();
    pass.run(scanner, view, &mut found);
    for m in found {
        let (Some(&start), Some(&end)) = (map.get(m.start), map.get(m.end)) else {
            continue;
        };
        if start < end {
            out.push(Match {
                kind: m.kind,
                start,
                end,
            });
        }
    }
}

/// Removes repeats of the same kind over overlapping spans, keeping the widest.
fn dedup(out: &mut Vec<Match>, first: usize) {
    if out.len() - first < 2 {
        return;
    }
    let mut tail: Vec<Match> = out.drain(first..).collect();
    tail.sort_by_key(|m| (m.kind, m.start, std::cmp::Reverse(m.end)));
    let mut kept: Vec<Match> = Vec::with_capacity(tail.len());
    for m in tail {
        match kept.last_mut() {
            Some(k) if k.kind == m.kind && m.start < k.end => k.end = k.end.max(m.end),
            _ => kept.push(m),
        }
    }
    kept.sort_by_key(|m| (m.start, m.end, m.kind));
    out.extend(kept);
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// NFKC per character, invisible characters dropped, Unicode decimal digits
/// folded to ASCII. Returns the view and, for every view byte, the original
/// byte where its character starts (plus the end).
fn normalised(text: &str) -> (String, Vec<usize>) {
    let mut view = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for (i, c) in text.char_indices() {
        if is_invisible(c) {
            continue;
        }
        let push = |ch: char, view: &mut String, map: &mut Vec<usize>| {
            let before = view.len();
            view.push(ch);
            // Every byte of a char maps to its start; the char's end is
            // recorded when the next char (or the end) is pushed.
            map.extend(std::iter::repeat_n(i, view.len() - before));
        };
        if c.is_ascii() {
            push(c, &mut view, &mut map);
        } else if let Some(d) = decimal_digit(c) {
            push(d, &mut view, &mut map);
        } else {
            for n in std::iter::once(c).nfkc() {
                push(n, &mut view, &mut map);
            }
        }
    }
    // A view span `s..e` maps to `map[s]..map[e]`: the start of the char that
    // made byte `s` to the start of the char that made byte `e` (or the end).
    map.push(text.len());
    (view, map)
}

/// A Unicode decimal digit (Nd) outside ASCII, as its ASCII digit.
fn decimal_digit(c: char) -> Option<char> {
    // Blocks of ten consecutive decimal digits that NFKC leaves alone.
    const ZEROS: [u32; 12] = [
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0E50,
        0x0ED0,
    ];
    let u = c as u32;
    ZEROS
        .iter()
        .find(|&&z| (z..z + 10).contains(&u))
        .and_then(|&z| char::from_digit(u - z, 10))
}

/// The text with separators that glue a value to its neighbours made
/// spaces: `_` next to a word that holds a digit (`ssn_123-45-6789`,
/// `iban_DE89`, `name` fields) or inside a PEM armour line, and `.` between two digits (`4111.1111.1111.1111`);
/// `None` when there is none, which keeps ordinary code (`snake_case`) to
/// one scan.
fn separators_as_spaces(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // Read only once an `_` is seen (most texts have none).
    let armour = std::cell::OnceCell::new();
    let armour = || {
        *armour.get_or_init(|| {
            memchr::memmem::find(b, b"-----BEGIN_").is_some()
                || memchr::memmem::find(b, b"-----END_").is_some()
        })
    };
    let digit = |i: usize| i < b.len() && b[i].is_ascii_digit();
    // Each word is walked at most twice (from the `_` on either side).
    let word_has_digit = |range: &mut dyn Iterator<Item = usize>| {
        range
            .take_while(|&j| b[j].is_ascii_alphanumeric())
            .any(|j| b[j].is_ascii_digit())
    };
    let hit = |i: usize| match b[i] {
        b'_' => {
            armour() || word_has_digit(&mut (i + 1..b.len())) || word_has_digit(&mut (0..i).rev())
        }
        b'.' => i > 0 && digit(i - 1) && digit(i + 1),
        _ => false,
    };
    // Only `_` and `.` can hit: find them with memchr, not byte by byte.
    if !memchr::memchr2_iter(b'_', b'.', b).any(hit) {
        return None;
    }
    let mut out = b.to_vec();
    for i in memchr::memchr2_iter(b'_', b'.', b) {
        if hit(i) {
            out[i] = b' ';
        }
    }
    // Only ASCII bytes were replaced by ASCII spaces.
    String::from_utf8(out).ok()
}

fn has_percent_escape(b: &[u8]) -> bool {
    memchr::memchr_iter(b'%', b)
        .any(|i| i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit())
}

/// Percent-decodes `%XX` escapes; bytes that are not UTF-8 after decoding
/// become U+FFFD. Map as in `normalised`.
fn percent_decoded(text: &str) -> (String, Vec<usize>) {
    let b = text.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut origin = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%' && i + 2 < b.len())
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(v) => {
                bytes.push(v);
                origin.push(i);
                i += 3;
            }
            None => {
                bytes.push(b[i]);
                origin.push(i);
                i += 1;
            }
        }
    }
    let mut view = String::with_capacity(bytes.len());
    let mut map = Vec::with_capacity(bytes.len() + 1);
    let mut pos = 0;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            let before = view.len();
            view.push(c);
            map.extend(std::iter::repeat_n(origin[pos], view.len() - before));
            pos += c.len_utf8();
        }
        if !chunk.invalid().is_empty() {
            let before = view.len();
            view.push(char::REPLACEMENT_CHARACTER);
            map.extend(std::iter::repeat_n(origin[pos], view.len() - before));
            pos += chunk.invalid().len();
        }
    }
    map.push(text.len());
    (view, snap(text, map))
}

/// Moves map entries down to char boundaries of the original.
fn snap(text: &str, mut map: Vec<usize>) -> Vec<usize> {
    for m in &mut map {
        while *m > 0 && !text.is_char_boundary(*m) {
            *m -= 1;
        }
    }
    map
}

/// Bytes that may appear in base64 (standard or URL-safe).
const B64: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
        c += 1;
    }
    t
};

/// Runs of base64 (standard or URL-safe) characters, with optional `=`
/// padding, long enough to hide something and not absurdly long, mixing
/// upper case, lower case and digits (prose words and identifiers do not).
///
/// A run of `MIN_B64` (16) or more bytes holds a whole aligned block of 8,
/// so only blocks are looked at: a block with a space, a control byte or
/// any of `!"#$%&'()*` (all below `+`, the lowest base64 byte) is passed
/// over with a few word operations, and only a block of base64 bytes is
/// widened to its whole run. Prose, which has a space in nearly every
/// block, costs about one word test per 8 bytes.
fn base64_runs(b: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let is_b64 = |i: usize| B64[usize::from(b[i])];
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // Some byte of `x` is below `+` (exact for a bound up to 128).
    let has_low = |x: u64| x.wrapping_sub(ONES * u64::from(b'+')) & !x & HIGH != 0;
    let mut block = 0;
    // Everything before `done` belongs to a run already handled.
    let mut done = 0;
    std::iter::from_fn(move || {
        while 8 * block + 8 <= b.len() {
            // Four blocks that each have a low byte are passed at once.
            while let Some(four) = b.get(8 * block..8 * block + 32) {
                let word = |k: usize| {
                    u64::from_ne_bytes(four[8 * k..8 * k + 8].try_into().expect("eight bytes"))
                };
                if !(has_low(word(0)) & has_low(word(1)) & has_low(word(2)) & has_low(word(3))) {
                    break;
                }
                block += 4;
            }
            if 8 * block + 8 > b.len() {
                break;
            }
            let at = 8 * block;
            let bytes: [u8; 8] = b[at..at + 8].try_into().expect("eight bytes");
            block += 1;
            if has_low(u64::from_ne_bytes(bytes)) || !bytes.iter().all(|&c| B64[usize::from(c)]) {
                continue;
            }
            let mut start = at;
            while start > done && is_b64(start - 1) {
                start -= 1;
            }
            let mut i = at + 8;
            while i < b.len() && is_b64(i) {
                i += 1;
            }
            done = i;
            // The next block to look at is the first that starts at or
            // after the run's end.
            block = i.div_ceil(8);
            if i - start < MIN_B64 {
                continue;
            }
            while i < b.len() && b[i] == b'=' && i - start < MAX_B64 {
                i += 1;
            }
            done = i;
            block = i.div_ceil(8);
            let run = &b[start..i];
            if run.len() <= MAX_B64
                && run.iter().any(u8::is_ascii_uppercase)
                && run.iter().any(u8::is_ascii_lowercase)
                && run
                    .iter()
                    .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/'))
            {
                return Some((start, i));
            }
        }
        None
    })
}

/// A run, and when it holds URL-safe `-`/`_` (which also join words, as in
/// `blob_<base64>`), its long pieces between them too.
fn pieces(b: &[u8], (start, end): (usize, usize)) -> Vec<(usize, usize)> {
    let mut out = vec![(start, end)];
    let run = &b[start..end];
    if run.iter().any(|&c| c == b'_' || c == b'-') {
        let mut offset = start;
        for piece in run.split(|&c| c == b'_' || c == b'-') {
            if piece.len() >= MIN_B64 && piece.len() < run.len() {
                out.push((offset, offset + piece.len()));
            }
            offset += piece.len() + 1;
        }
    }
    out
}

/// Decodes a base64 run into text worth scanning: valid UTF-8, mostly printable.
fn decode_b64(run: &str) -> Option<String> {
    let trimmed = run.trim_end_matches('=');
    let engines = [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let bytes = engines.iter().find_map(|e| e.decode(trimmed).ok())?;
    let s = String::from_utf8(bytes).ok()?;
    let printable = s
        .chars()
        .filter(|c| !c.is_control() || c.is_whitespace())
        .count();
    (printable * 10 >= s.chars().count() * 9 && !s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte scan `base64_runs` replaced, as a reference.
    fn base64_runs_bytewise(b: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if !B64[b[i] as usize] {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && B64[b[i] as usize] {
                i += 1;
            }
            if i - start < MIN_B64 {
                continue;
            }
            while i < b.len() && b[i] == b'=' && i - start < MAX_B64 {
                i += 1;
            }
            let run = &b[start..i];
            if run.len() <= MAX_B64
                && run.iter().any(u8::is_ascii_uppercase)
                && run.iter().any(u8::is_ascii_lowercase)
                && run
                    .iter()
                    .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/'))
            {
                out.push((start, i));
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn base64_runs_match_the_bytewise_scan_on_any_text(
            text in "[aB3+/=_ .-]{0,200}"
        ) {
            let b = text.as_bytes();
            proptest::prop_assert_eq!(base64_runs(b).collect::<Vec<_>>(), base64_runs_bytewise(b));
        }

        #[test]
        fn long_base64_runs_match_the_bytewise_scan(
            text in "([aB3+/_-]{0,150}[ =.é]){0,6}"
        ) {
            let b = text.as_bytes();
            proptest::prop_assert_eq!(base64_runs(b).collect::<Vec<_>>(), base64_runs_bytewise(b));
        }
    }

    #[test]
    fn base64_runs_match_the_bytewise_scan() {
        // Runs of every length around the run minimum, the 8-byte blocks
        // and the 32 bytes passed at once (within one, across one or more
        // block ends), at every offset, with padding, joined by spaces,
        // `=` and nothing.
        let run = |n: usize| -> String { "aB3+".chars().cycle().take(n).collect() };
        for len in [
            1, 14, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 127, 128, 129, 200,
        ] {
            for lead in 0..70 {
                for (sep, pad) in [(" ", ""), ("=", "=="), ("", "="), (".", "")] {
                    let text = format!(
                        "{}{}{pad}{sep}{}{sep}x",
                        "w ".repeat(lead / 2) + &"q".repeat(lead % 2),
                        run(len),
                        run(len + 3),
                    );
                    let b = text.as_bytes();
                    assert_eq!(
                        base64_runs(b).collect::<Vec<_>>(),
                        base64_runs_bytewise(b),
                        "{text:?}"
                    );
                }
            }
        }
    }

    fn kinds(text: &str) -> Vec<(&'static str, String)> {
        let scanner = Scanner::new();
        let mut out = Vec::new();
        scan(&scanner, text, &mut out);
        out.iter()
            .map(|m| (m.kind.as_str(), text[m.start..m.end].to_owned()))
            .collect()
    }

    fn has(text: &str, kind: &str) -> bool {
        kinds(text).iter().any(|(k, _)| *k == kind)
    }

    #[test]
    fn full_width_digits_are_seen() {
        let t = "card ４１１１ １１１１ １１１１ １１１１ ok";
        let found = kinds(t);
        let card = found
            .iter()
            .find(|(k, _)| *k == "credit_card")
            .expect("card");
        assert_eq!(card.1, "４１１１ １１１１ １１１１ １１１１");
    }

    #[test]
    fn zero_width_characters_are_seen_through() {
        let t = "mail jane\u{200B}.doe@exam\u{200D}ple.com now";
        let found = kinds(t);
        let email = found.iter().find(|(k, _)| *k == "email").expect("email");
        assert_eq!(email.1, "jane\u{200B}.doe@exam\u{200D}ple.com");
        assert!(has("key AKIA\u{FEFF}IOSFODNN7EXAMPLE", "api_key"));
    }

    #[test]
    fn other_script_digits_are_folded() {
        // Arabic-Indic digits.
        assert!(has(
            "card \u{0664}\u{0661}\u{0661}\u{0661} 1111 1111 1111",
            "credit_card"
        ));
    }

    #[test]
    fn percent_encoded_text_is_decoded() {
        let t = "GET /login?user=jane.doe%40example.com&x=1";
        let found = kinds(t);
        let email = found.iter().find(|(k, _)| *k == "email").expect("email");
        assert_eq!(email.1, "jane.doe%40example.com");
    }

    #[test]
    fn base64_blobs_are_decoded() {
        let secret = "my card is 4111 1111 1111 1111";
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let t = format!("payload: {b64} end");
        let found = kinds(&t);
        let card = found
            .iter()
            .find(|(k, _)| *k == "credit_card")
            .expect("card");
        assert_eq!(card.1, b64);
        let url =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("reach me: bob@example.org");
        assert!(has(&format!("x {url} y"), "email"));
    }

    #[test]
    fn separators_inside_numbers() {
        assert!(has("card 4111.1111.1111.1111", "credit_card"));
        assert!(has("card 4111-1111-1111-1111", "credit_card"));
        assert!(has("ssn: 123 45 6789", "us_ssn"));
        assert!(has("ssn_123-45-6789", "us_ssn"));
        assert!(has("contact_jane.doe@example.com", "email"));
        let b64 = base64::engine::general_purpose::STANDARD.encode("write to jane.doe@example.com");
        assert!(has(&format!("blob_{b64}"), "email"));
        assert!(has(
            "card_４１１１_１１１１_１１１１_１１１１",
            "credit_card"
        ));
        assert!(has("-----BEGIN_OPENSSH_PRIVATE_KEY-----", "private_key"));
        assert!(has("iban_DE89_3704_0044_0532_0130_00", "iban"));
        assert!(separators_as_spaces("let MAX_SIZE = read_config(path);").is_none());
    }

    #[test]
    fn plain_text_has_no_extra_findings() {
        assert!(kinds("The quick brown fox jumps over the lazy dog, twice.").is_empty());
        assert!(kinds("Über naïve café: 10% off — ﬁne print").is_empty());
        // A long mixed-case identifier that decodes to garbage is not a finding.
        assert!(kinds("hash 9f8A7b6C5d4E3f2A1b0C9d8E7f6A5b4C").is_empty());
    }

    #[test]
    fn no_panic_and_spans_on_boundaries_for_odd_input() {
        let samples = [
            "%",
            "%4",
            "%zz%e2%82",
            "%E2%82%AC%",
            "\u{200B}",
            "４",
            "ﬁ\u{200B}%41",
            "AAAAAAAAAAAAAAAAAAAAAAAA====",
            "é%C3",
            "\u{FEFF}%00%ff",
        ];
        for s in samples {
            let scanner = Scanner::new();
            let mut out = Vec::new();
            scan(&scanner, s, &mut out);
            for m in out {
                assert!(s.is_char_boundary(m.start) && s.is_char_boundary(m.end));
            }
        }
    }
}
