//! Medical vocabulary in prompt text: condition and diagnosis names,
//! medication names, lab test terms, ICD-10-CM codes and CPT codes. A
//! finding here is not PHI by itself; beside an identifier found elsewhere it
//! makes a request PHI.
//!
//! How it matches, in one pass over the text:
//! - Every term has an *anchor*: the leading letters and digits of its most
//!   distinctive word (the longest one that is not a common word such as
//!   "type" or "count"; ties go to the later word). All anchors, with the
//!   code context words below, are compiled into one Aho-Corasick DFA
//!   (ASCII case-insensitive, leftmost-longest, anchored).
//! - The text is read 64 bytes at a time to find word starts (an ASCII
//!   letter or digit after any other byte; bit tricks, no `unsafe`). A word
//!   start goes through a hashed filter on its first three or four bytes and
//!   its run length, and only then is the DFA walked from it. Ordinary prose
//!   and code pass the filter at a few per cent of word starts.
//! - A DFA hit is verified in place: the rest of the anchor word, the words
//!   after and before it, each separated by whitespace with at most one `-`
//!   or `/` ("type-2 diabetes", "type 2\ndiabetes"), then whole-word
//!   boundaries: no letter or digit (any script) on either side. `_` is a
//!   boundary too ("diabetes_type"), except for case-sensitive entries, which
//!   are short abbreviations ("ENABLE_ALT_SCREEN" is no lab value).
//! - Code context words (`ICD`, `ICD-10`, `diagnosis`, `diagnosed`, `dx`,
//!   `code`, `billing`, `CPT`, `procedure code`) are anchors in the same
//!   DFA. Only around them are ICD-10-CM and CPT codes looked for (a window
//!   of 40 and 30 bytes, extended by each code found after the word, for
//!   lists); a dotted ICD-10-CM code ("E11.9") counts anywhere once the text
//!   has an ICD context word. Text without context words pays nothing for
//!   codes.
//!
//! Data-file syntax (one term a line, lower case, `#` comments): a trailing
//! `+` also accepts a plural "s"/"es"; a leading `=` makes the entry
//! case-sensitive, exactly as written (`=ALT` matches "ALT", not "alt");
//! `'` matches an ASCII or typographic apostrophe, or none ("crohn's" also
//! matches "Crohn’s" and "Crohns").
//!
//! Overlapping findings are joined into one span. A separator run between
//! two words is read for at most 64 bytes, so one hit costs bounded work and
//! the whole call stays linear in the text.
//!
//! Must not: log, store or copy the text (findings are byte offsets only),
//! panic on any input, or allocate for text without codes (only found codes
//! are buffered before they are merged into `out`).

use super::text::alnum_mask;
use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};

const CONDITIONS: &str = include_str!("data/conditions.txt");
const MEDICATIONS: &str = include_str!("data/medications.txt");
const LAB_TERMS: &str = include_str!("data/lab_terms.txt");

/// Words never chosen as a term's anchor while the term has another word:
/// they are common outside medicine, and anchoring on them would make the
/// automaton stop in ordinary prose and code.
const WEAK_ANCHORS: &[&str] = &[
    "acid",
    "and",
    "attack",
    "blood",
    "cell",
    "common",
    "count",
    "failure",
    "free",
    "function",
    "high",
    "international",
    "level",
    "load",
    "low",
    "panel",
    "pressure",
    "ratio",
    "screen",
    "self",
    "specific",
    "test",
    "time",
    "tolerance",
    "total",
    "type",
    "use",
];

/// Context words for ICD-10-CM codes, in data-file syntax.
const ICD_CONTEXT: &[&str] = &[
    "icd",
    "icd10",
    "icd-10",
    "icd-10-cm",
    "diagnosis",
    "diagnoses",
    "diagnosed",
    "dx",
    "code+",
    "billing",
];
/// Context words for CPT codes ("procedure code" is an ICD context too: it
/// contains "code").
const CPT_CONTEXT: &[&str] = &["cpt", "cpt-4"];
const BOTH_CONTEXT: &[&str] = &["procedure code+"];

/// A bare ICD-10-CM code counts when it starts at most this many bytes
/// after a context word, or ends at most this many bytes before one.
const ICD_WINDOW: usize = 40;
/// The same for CPT codes around "CPT" or "procedure code".
const CPT_WINDOW: usize = 30;
/// Longest ICD-10-CM code ("S72.001A") and CPT code ("99213").
const ICD_MAX: usize = 8;
const CPT_LEN: usize = 5;
/// Longest whitespace run read between two words of a term (keeps the
/// verification of one hit bounded).
const MAX_SEP: usize = 64;

/// Reported as a term.
const TERM: u8 = 1;
/// An ICD-10-CM context word.
const ICD: u8 = 2;
/// A CPT context word.
const CPT: u8 = 4;

/// One entry of a word list, or one context word.
struct Entry {
    /// Words as written in the list (lower case unless `exact`).
    words: Box<[Box<[u8]>]>,
    /// Index of the anchor word in `words`.
    anchor: usize,
    exact: bool,
    plural: bool,
    role: u8,
}

/// Finds medical vocabulary. Build once (`new` compiles the word lists),
/// share (`Send + Sync`).
pub struct MedicalTerms {
    /// Anchored DFA over the anchors, walked from word starts only.
    dfa: DFA,
    start: StateID,
    /// Hashed set of the first three or four bytes of the anchors (see
    /// `prefix_bit`).
    prefixes: Box<[u64]>,
    /// Set of the two-byte anchors, by byte classes.
    pairs: Box<[u64]>,
    entries: Vec<Entry>,
    /// For each automaton pattern, the range of `members` holding the
    /// indices of the entries anchored on it.
    groups: Vec<(u32, u32)>,
    members: Vec<u32>,
}

impl Default for MedicalTerms {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MedicalTerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MedicalTerms")
            .field("entries", &self.entries.len())
            .field("anchors", &self.groups.len())
            .finish()
    }
}

impl MedicalTerms {
    /// Compiles the embedded word lists and the code context words into one
    /// automaton (a few milliseconds; build once and share).
    pub fn new() -> MedicalTerms {
        let mut entries = Vec::new();
        for list in [CONDITIONS, MEDICATIONS, LAB_TERMS] {
            entries.extend(data_lines(list).filter_map(|l| parse_entry(l, TERM)));
        }
        let context = [
            (ICD_CONTEXT, ICD),
            (CPT_CONTEXT, CPT),
            (BOTH_CONTEXT, ICD | CPT),
        ];
        for (words, role) in context {
            entries.extend(words.iter().filter_map(|l| parse_entry(l, role)));
        }

        // One automaton pattern per distinct anchor prefix.
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut of_entry: Vec<usize> = Vec::with_capacity(entries.len());
        for e in &entries {
            let key = anchor_prefix(e).to_ascii_lowercase();
            let id = match patterns.iter().position(|p| *p == key) {
                Some(id) => id,
                None => {
                    patterns.push(key);
                    patterns.len() - 1
                }
            };
            of_entry.push(id);
        }
        let mut groups = Vec::with_capacity(patterns.len());
        let mut members = Vec::with_capacity(entries.len());
        for id in 0..patterns.len() {
            let from = members.len();
            // Entry counts are far below u32::MAX (a few thousand).
            members.extend(
                of_entry
                    .iter()
                    .enumerate()
                    .filter(|&(_, &p)| p == id)
                    .map(|(i, _)| i as u32),
            );
            groups.push((from as u32, members.len() as u32));
        }

        let mut prefixes = vec![0u64; PREFIX_BITS / 64].into_boxed_slice();
        let pair_bits = usize::from(CLASSES) * usize::from(CLASSES);
        let mut pairs = vec![0u64; pair_bits.div_ceil(64)].into_boxed_slice();
        for p in &patterns {
            for form in anchor_forms(p) {
                let (set, bit) = match *form.as_slice() {
                    [a, b] => {
                        let class = |c: u8| usize::from(CLASS[usize::from(c)]);
                        (&mut pairs, class(a) * usize::from(CLASSES) + class(b))
                    }
                    _ => {
                        let run = form.len().min(4);
                        let mut x = [0u8; 4];
                        x[..run].copy_from_slice(&form[..run]);
                        (&mut prefixes, prefix_bit(u32::from_le_bytes(x), run as u32))
                    }
                };
                if let Some(word) = set.get_mut(bit / 64) {
                    *word |= 1 << (bit % 64);
                }
            }
        }
        let dfa = DFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .start_kind(StartKind::Anchored)
            .build(&patterns)
            .expect("the embedded word lists compile (covered by the tests)");
        let start = dfa
            .start_state(Anchored::Yes)
            .expect("built for anchored searches");
        MedicalTerms {
            dfa,
            start,
            prefixes,
            pairs,
            entries,
            groups,
            members,
        }
    }

    /// Appends (start, end) byte spans, on char boundaries, of medical terms
    /// in `text`: condition names, medication names, lab test terms,
    /// ICD-10-CM codes and CPT codes. Sorted by start, non-overlapping.
    /// Never panics on any input.
    pub fn detect(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let mut scan = Scan {
            text,
            first: out.len(),
            out,
            codes: Vec::new(),
            icd: Codes::new(CodeKind::Icd),
            cpt: Codes::new(CodeKind::Cpt),
            skip_to: 0,
        };
        let bytes = text.as_bytes();
        // Word starts (an ASCII letter or digit after a byte that is not
        // one), 64 bytes at a time with the mask of the next 64 at hand for
        // run lengths. Only there can an anchor start (after a non-ASCII
        // byte, `word_before` decides). Each start goes through a cheap
        // prefix filter before the DFA is walked.
        let mut cur = alnum_mask(bytes.get(..64).unwrap_or(bytes));
        let mut carry = 0u64;
        let mut base = 0;
        while base < bytes.len() {
            let next = bytes
                .get(base + 64..)
                .map_or(0, |rest| alnum_mask(rest.get(..64).unwrap_or(rest)));
            let starts = cur & !((cur << 1) | carry);
            let run2 = (cur >> 1) | (next << 63);
            let run3 = (cur >> 2) | (next << 62);
            let run4 = (cur >> 3) | (next << 61);
            // Runs of one letter or digit hold no anchor (they are >= 2).
            let long = starts & run2 & run3;
            let pair = starts & run2 & !run3;
            let mut pass = 0u64;
            let mut m = long;
            while m != 0 {
                let j = m.trailing_zeros();
                m &= m - 1;
                let four = ((run4 >> j) & 1) as u32;
                let x = load_u32(bytes, base + j as usize) | 0x2020_2020;
                let keep = u32::MAX >> (8 * (1 - four));
                let bit = prefix_bit(x & keep, 3 + four);
                pass |= u64::from(self.has_prefix(bit)) << j;
            }
            let mut m = pair;
            while m != 0 {
                let j = m.trailing_zeros();
                m &= m - 1;
                let i = base + j as usize;
                let c = |k: usize| CLASS[usize::from(bytes.get(i + k).copied().unwrap_or(0))];
                pass |= u64::from(self.has_pair(c(0), c(1))) << j;
            }
            while pass != 0 {
                let i = base + pass.trailing_zeros() as usize;
                pass &= pass - 1;
                if i >= scan.skip_to {
                    self.at_word(&mut scan, i);
                }
            }
            carry = cur >> 63;
            cur = next;
            base += 64;
        }
        scan.finish();
    }

    /// Whether filter bit `bit` is set (see `prefix_bit`).
    fn has_prefix(&self, bit: usize) -> bool {
        self.prefixes
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Whether some anchor is exactly the two bytes of classes `a`, `b`.
    fn has_pair(&self, a: u8, b: u8) -> bool {
        let bit = usize::from(a) * usize::from(CLASSES) + usize::from(b);
        self.pairs
            .get(bit / 64)
            .is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Walks the DFA from the word start `i` and checks the entries of the
    /// anchors found there, longest first.
    fn at_word(&self, scan: &mut Scan<'_, '_>, i: usize) {
        let b = scan.text.as_bytes();
        // Anchors that match at `i`, shortest first (a word holds few).
        let mut hits = [(0usize, 0usize); 4];
        let mut n = 0;
        let mut sid = self.start;
        for (at, &byte) in b.iter().enumerate().skip(i) {
            sid = self.dfa.next_state(Anchored::Yes, sid, byte);
            if self.dfa.is_dead(sid) {
                break;
            }
            if self.dfa.is_match(sid) {
                let pid = self.dfa.match_pattern(sid, 0);
                if self.dfa.pattern_len(pid) == at + 1 - i {
                    if n == hits.len() {
                        hits.copy_within(1.., 0);
                        n -= 1;
                    }
                    hits[n] = (pid.as_usize(), at + 1);
                    n += 1;
                }
            }
        }
        if n == 0 || word_before(scan.text, i) {
            return;
        }
        for &(pid, e) in hits[..n].iter().rev() {
            if self.at_anchor(scan, i, e, pid) {
                return;
            }
        }
    }

    /// Checks the entries anchored on pattern `pid`, found at `s..e`;
    /// whether any matched.
    fn at_anchor(&self, scan: &mut Scan<'_, '_>, s: usize, e: usize, pid: usize) -> bool {
        let Some(&(from, to)) = self.groups.get(pid) else {
            return false;
        };
        let mut term: Option<(usize, usize)> = None;
        let mut ctx: Option<(usize, usize, u8)> = None;
        for &i in self.members.get(from as usize..to as usize).unwrap_or(&[]) {
            let Some(entry) = self.entries.get(i as usize) else {
                continue;
            };
            let Some((a, b)) = verify(scan.text, s, e, entry) else {
                continue;
            };
            if entry.role == TERM {
                term = Some(term.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            } else {
                ctx = Some(ctx.map_or((a, b, entry.role), |(x, y, r)| {
                    (x.min(a), y.max(b), r | entry.role)
                }));
            }
        }
        if let Some((a, b)) = term {
            push_merged(scan.out, scan.first, a, b);
            scan.skip_to = b;
        }
        if let Some((a, b, role)) = ctx {
            if role & ICD != 0 {
                scan.icd.around(scan.text, a, b, &mut scan.codes);
            }
            if role & CPT != 0 {
                scan.cpt.around(scan.text, a, b, &mut scan.codes);
            }
            scan.skip_to = scan.skip_to.max(b);
        }
        term.is_some() || ctx.is_some()
    }
}

/// The state of one `detect` call.
struct Scan<'t, 'o> {
    text: &'t str,
    out: &'o mut Vec<(usize, usize)>,
    /// Where this call's spans start in `out`.
    first: usize,
    /// Codes found (rare: allocated only when there is one).
    codes: Vec<(usize, usize)>,
    icd: Codes,
    cpt: Codes,
    /// Word starts before this are inside a term or context already found.
    skip_to: usize,
}

impl Scan<'_, '_> {
    /// Adds dotted ICD-10-CM codes anywhere once there is ICD context, then
    /// merges the codes into the term spans.
    fn finish(self) {
        let Scan {
            text,
            out,
            first,
            mut codes,
            icd,
            ..
        } = self;
        // A dotted ICD-10-CM code ("E11.9", "F32.A") counts anywhere once
        // the text has an ICD context word.
        if icd.seen {
            for dot in memchr::memchr_iter(b'.', text.as_bytes()) {
                let Some(p) = dot.checked_sub(3) else {
                    continue;
                };
                if let Some(end) = parse_icd(text, p)
                    && end > dot + 1
                {
                    codes.push((p, end));
                }
            }
        }
        if codes.is_empty() {
            return;
        }
        out.extend_from_slice(&codes);
        let Some(appended) = out.get_mut(first..) else {
            return;
        };
        appended.sort_unstable();
        // Merge overlapping spans in place.
        let mut w = 0;
        for r in 0..appended.len() {
            let cur = appended[r];
            if w > 0 && cur.0 < appended[w - 1].1 {
                appended[w - 1].1 = appended[w - 1].1.max(cur.1);
            } else {
                appended[w] = cur;
                w += 1;
            }
        }
        out.truncate(first + w);
    }
}

/// Byte classes for the two-byte anchor set: digits 0-9, letters (either
/// case) 10-35, anything else 36.
const CLASSES: u8 = 37;
const CLASS: [u8; 256] = {
    let mut t = [CLASSES - 1; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 26 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Size of the prefix filter in bits (8 KiB).
const PREFIX_BITS: usize = 1 << 16;

/// The filter bit of a word start: its first `run` (3 or 4) bytes, lower
/// case, with `run` the length of its run of letters and digits, at most 4.
/// A hashed set: no false negatives, about one per cent false positives.
fn prefix_bit(bytes: u32, run: u32) -> usize {
    let key = u64::from(bytes) | (u64::from(run) << 32);
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - PREFIX_BITS.trailing_zeros())) as usize
}

/// The four bytes at `i`, zero-padded past the end of `b`.
fn load_u32(b: &[u8], i: usize) -> u32 {
    let x = match b.get(i..i + 4).and_then(|w| <[u8; 4]>::try_from(w).ok()) {
        Some(w) => w,
        None => {
            let mut x = [0u8; 4];
            for (d, &c) in x.iter_mut().zip(b.get(i..).unwrap_or(&[])) {
                *d = c;
            }
            x
        }
    };
    u32::from_le_bytes(x)
}

/// The runs of letters and digits a word starting with anchor `p` (lower
/// case) can have: the anchor itself (what follows it is an apostrophe, a
/// separator or the end), and for short anchors a plural "s" or "es".
fn anchor_forms(p: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = vec![p.to_vec()];
    if p.len() < 4 {
        forms.push([p, b"s"].concat());
        forms.push([p, b"es"].concat());
    }
    forms
}

/// The non-comment lines of a data file, trimmed.
fn data_lines(list: &str) -> impl Iterator<Item = &str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Parses one data line (`=` exact, `+` plural, words split on space, `-`
/// and `/`) and picks its anchor word. `None` for a line with no word.
fn parse_entry(line: &str, role: u8) -> Option<Entry> {
    let (exact, rest) = match line.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, line),
    };
    let (plural, rest) = match rest.strip_suffix('+') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let words: Box<[Box<[u8]>]> = rest
        .split([' ', '-', '/'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let w = if exact {
                w.to_owned()
            } else {
                w.to_ascii_lowercase()
            };
            w.into_bytes().into_boxed_slice()
        })
        .collect();
    let strength = |w: &[u8]| {
        let n = alnum_prefix(w).len();
        let weak = WEAK_ANCHORS
            .iter()
            .any(|s| s.as_bytes().eq_ignore_ascii_case(w));
        (!weak && n > 0, n)
    };
    // The strongest word; ties go to the later one, the head noun ("sleep
    // apnea").
    let mut anchor: Option<(usize, (bool, usize))> = None;
    for (i, w) in words.iter().enumerate() {
        let st = strength(w);
        if st.1 > 0 && anchor.is_none_or(|(_, best)| st >= best) {
            anchor = Some((i, st));
        }
    }
    Some(Entry {
        anchor: anchor?.0,
        words,
        exact,
        plural,
        role,
    })
}

/// The leading ASCII letters and digits of `w`.
fn alnum_prefix(w: &[u8]) -> &[u8] {
    let n = w.iter().take_while(|b| b.is_ascii_alphanumeric()).count();
    &w[..n]
}

/// The automaton pattern of an entry: the alphanumeric start of its anchor.
fn anchor_prefix(e: &Entry) -> &[u8] {
    e.words.get(e.anchor).map_or(&[], |w| alnum_prefix(w))
}

/// Checks `entry` around an automaton hit at `s..e`; its full span.
fn verify(text: &str, s: usize, e: usize, entry: &Entry) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let anchor = entry.words.get(entry.anchor)?;
    let mut end = word_from(b, s, anchor, entry.exact)?;
    if end < e {
        return None;
    }
    for w in entry.words.get(entry.anchor + 1..)? {
        let p = sep_forward(b, end)?;
        end = word_from(b, p, w, entry.exact)?;
    }
    end = if entry.plural {
        let suffixes: [&[u8]; 3] = [b"es", b"s", b""];
        suffixes.iter().find_map(|suffix| {
            let x = end + suffix.len();
            let here = b
                .get(end..x)
                .is_some_and(|got| got.eq_ignore_ascii_case(suffix));
            (here && !word_at(text, x)).then_some(x)
        })?
    } else if word_at(text, end) {
        return None;
    } else {
        end
    };
    let mut start = s;
    for w in entry.words.get(..entry.anchor)?.iter().rev() {
        let p = sep_backward(b, start)?;
        start = word_until(b, p, w, entry.exact)?;
    }
    if start != s && word_before(text, start) {
        return None;
    }
    // Case-sensitive entries are short upper-case abbreviations: inside a
    // SCREAMING_SNAKE identifier ("ENABLE_ALT_SCREEN") they are not terms.
    if entry.exact && (start > 0 && b.get(start - 1) == Some(&b'_') || b.get(end) == Some(&b'_')) {
        return None;
    }
    Some((start, end))
}

/// Whether the text byte `t` matches the pattern byte `p`.
fn same(t: u8, p: u8, exact: bool) -> bool {
    if exact {
        t == p
    } else {
        t.to_ascii_lowercase() == p
    }
}

/// Typographic apostrophe (U+2019) in UTF-8.
const RSQUO: &[u8] = "\u{2019}".as_bytes();

/// Matches word `w` at `pos`; the end. `'` in `w` is optional and matches
/// `'` or `’`.
fn word_from(b: &[u8], mut pos: usize, w: &[u8], exact: bool) -> Option<usize> {
    for &p in w {
        if p == b'\'' {
            if b.get(pos) == Some(&b'\'') {
                pos += 1;
            } else if b.get(pos..).is_some_and(|r| r.starts_with(RSQUO)) {
                pos += RSQUO.len();
            }
        } else if b.get(pos).is_some_and(|&t| same(t, p, exact)) {
            pos += 1;
        } else {
            return None;
        }
    }
    Some(pos)
}

/// Matches word `w` ending at `end`; the start.
fn word_until(b: &[u8], mut end: usize, w: &[u8], exact: bool) -> Option<usize> {
    for &p in w.iter().rev() {
        if p == b'\'' {
            if end > 0 && b.get(end - 1) == Some(&b'\'') {
                end -= 1;
            } else if b.get(..end).is_some_and(|r| r.ends_with(RSQUO)) {
                end -= RSQUO.len();
            }
        } else if end > 0 && b.get(end - 1).is_some_and(|&t| same(t, p, exact)) {
            end -= 1;
        } else {
            return None;
        }
    }
    Some(end)
}

/// ASCII whitespace allowed between the words of a term (NBSP is handled
/// beside it).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

const NBSP: &[u8] = "\u{a0}".as_bytes();

/// Skips the separator between two words of a term, forward from `pos`:
/// whitespace with at most one `-` or `/`, at least one byte, at most
/// `MAX_SEP` bytes. The start of the next word.
fn sep_forward(b: &[u8], mut pos: usize) -> Option<usize> {
    let start = pos;
    let mut dash = false;
    while pos - start <= MAX_SEP {
        match b.get(pos) {
            Some(&c) if is_space(c) => pos += 1,
            Some(b'-' | b'/') if !dash => {
                dash = true;
                pos += 1;
            }
            Some(_) if b.get(pos..).is_some_and(|r| r.starts_with(NBSP)) => pos += NBSP.len(),
            _ => break,
        }
    }
    (pos > start && pos - start <= MAX_SEP).then_some(pos)
}

/// Skips the separator backward from `end` (exclusive); the end of the
/// previous word.
fn sep_backward(b: &[u8], mut end: usize) -> Option<usize> {
    let start = end;
    let mut dash = false;
    while start - end <= MAX_SEP && end > 0 {
        match b.get(end - 1) {
            Some(&c) if is_space(c) => end -= 1,
            Some(b'-' | b'/') if !dash => {
                dash = true;
                end -= 1;
            }
            Some(_) if b.get(..end).is_some_and(|r| r.ends_with(NBSP)) => end -= NBSP.len(),
            _ => break,
        }
    }
    (end < start && start - end <= MAX_SEP).then_some(end)
}

/// Whether the char ending at `pos` is a letter or digit (any script).
fn word_before(text: &str, pos: usize) -> bool {
    match text.as_bytes().get(pos.wrapping_sub(1)) {
        None => false,
        Some(c) if c.is_ascii() => c.is_ascii_alphanumeric(),
        Some(_) => text
            .get(..pos)
            .and_then(|t| t.chars().next_back())
            .is_some_and(char::is_alphanumeric),
    }
}

/// Whether the char starting at `pos` is a letter or digit (any script).
fn word_at(text: &str, pos: usize) -> bool {
    match text.as_bytes().get(pos) {
        None => false,
        Some(c) if c.is_ascii() => c.is_ascii_alphanumeric(),
        Some(_) => text
            .get(pos..)
            .and_then(|t| t.chars().next())
            .is_some_and(char::is_alphanumeric),
    }
}

/// Looks for codes of one kind around context words, never scanning a byte
/// twice as a code start.
struct Codes {
    kind: CodeKind,
    /// Code starts below this were already tried.
    done: usize,
    seen: bool,
}

/// The two kinds of code looked for around context words.
#[derive(Clone, Copy)]
enum CodeKind {
    Icd,
    Cpt,
}

impl CodeKind {
    /// Bytes around the context word within which a code counts.
    fn window(self) -> usize {
        match self {
            CodeKind::Icd => ICD_WINDOW,
            CodeKind::Cpt => CPT_WINDOW,
        }
    }

    /// The code at `p`, if one starts there; its end.
    fn parse(self, text: &str, p: usize) -> Option<usize> {
        let b = text.as_bytes();
        // Cheap test of the first two bytes before the full parse.
        let (c0, c1) = (*b.get(p)?, *b.get(p + 1)?);
        match self {
            CodeKind::Icd if c0.is_ascii_uppercase() && c1.is_ascii_digit() => parse_icd(text, p),
            CodeKind::Cpt if c0.is_ascii_digit() && c1.is_ascii_digit() => parse_cpt(text, p),
            _ => None,
        }
    }

    /// Longest code.
    fn max_len(self) -> usize {
        match self {
            CodeKind::Icd => ICD_MAX,
            CodeKind::Cpt => CPT_LEN,
        }
    }
}

impl Codes {
    fn new(kind: CodeKind) -> Self {
        Codes {
            kind,
            done: 0,
            seen: false,
        }
    }

    /// Finds codes within the window around the context word at `a..b`; a
    /// code found after the word extends the window (lists of codes).
    fn around(&mut self, text: &str, a: usize, b: usize, codes: &mut Vec<(usize, usize)>) {
        self.seen = true;
        let (kind, window) = (self.kind, self.kind.window());
        let len = text.len();
        let mut p = a.saturating_sub(window + kind.max_len()).max(self.done);
        let mut to = b.saturating_add(window).min(len);
        while p < to {
            match kind.parse(text, p) {
                Some(end) if end + window >= a => {
                    codes.push((p, end));
                    if end > b {
                        to = end.saturating_add(window).min(len).max(to);
                    }
                    p = end;
                }
                _ => p += 1,
            }
        }
        self.done = self.done.max(p);
    }
}

/// An ICD-10-CM code at `p`: an upper-case letter other than `U`, two
/// digits, optionally `.` and 1-4 upper-case letters or digits, as a whole
/// word and not followed by `.` and more (a version number). The end.
fn parse_icd(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    let c = *b.get(p)?;
    if !c.is_ascii_uppercase() || c == b'U' {
        return None;
    }
    if !b.get(p + 1)?.is_ascii_digit() || !b.get(p + 2)?.is_ascii_digit() {
        return None;
    }
    if word_before(text, p) {
        return None;
    }
    let mut end = p + 3;
    if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric) {
        let tail = end + 1;
        let n = b
            .get(tail..)?
            .iter()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            .count();
        if n > 4 {
            return None;
        }
        end = tail + n;
    }
    if word_at(text, end) {
        return None;
    }
    if b.get(end) == Some(&b'.') && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    Some(end)
}

/// A CPT code at `p`: five digits, or four digits and `F` or `T`, as a whole
/// word and not part of a decimal or grouped number. The end.
fn parse_cpt(text: &str, p: usize) -> Option<usize> {
    let b = text.as_bytes();
    let code = b.get(p..p + CPT_LEN)?;
    let last = code[CPT_LEN - 1];
    if !code[..CPT_LEN - 1].iter().all(u8::is_ascii_digit)
        || !(last.is_ascii_digit() || last == b'F' || last == b'T')
    {
        return None;
    }
    let end = p + CPT_LEN;
    if word_before(text, p) || word_at(text, end) {
        return None;
    }
    let grouped = |sep: Option<&u8>, digit: Option<&u8>| {
        matches!(sep, Some(b'.' | b',')) && digit.is_some_and(u8::is_ascii_digit)
    };
    if p >= 2 && grouped(b.get(p - 1), b.get(p - 2)) {
        return None;
    }
    if grouped(b.get(end), b.get(end + 1)) {
        return None;
    }
    Some(end)
}

/// Pushes a term span, merging it with earlier ones it overlaps (a term
/// verified backward can reach into an earlier one).
fn push_merged(out: &mut Vec<(usize, usize)>, first: usize, mut a: usize, mut b: usize) {
    while out.len() > first {
        match out.last() {
            Some(&(x, y)) if y > a => {
                a = a.min(x);
                b = b.max(y);
                out.pop();
            }
            _ => break,
        }
    }
    out.push((a, b));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn terms() -> &'static MedicalTerms {
        static T: OnceLock<MedicalTerms> = OnceLock::new();
        T.get_or_init(MedicalTerms::new)
    }

    fn found(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        terms().detect(text, &mut out);
        out.iter().map(|&(a, b)| &text[a..b]).collect()
    }

    fn spans(text: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        terms().detect(text, &mut out);
        out
    }

    #[test]
    fn send_sync() {
        fn check<T: Send + Sync>() {}
        check::<MedicalTerms>();
    }

    #[test]
    fn exact_spans() {
        let cases: &[(&str, &[(usize, usize)])] = &[
            ("on metformin 500 mg", &[(3, 12)]),
            ("Dx: type 2 diabetes.", &[(4, 19)]),
            ("HIV+ and hepatitis C", &[(0, 3), (9, 20)]),
            ("(insulin),", &[(1, 8)]),
            ("his HbA1c was 7.2", &[(4, 9)]),
        ];
        for (text, want) in cases {
            assert_eq!(&spans(text), want, "{text}");
        }
    }

    #[test]
    fn positives() {
        let cases: &[(&str, &[&str])] = &[
            // conditions
            ("history of asthma and COPD", &["asthma", "COPD"]),
            ("She has Hypertension.", &["Hypertension"]),
            ("diagnosed with schizophrenia in 2019", &["schizophrenia"]),
            ("Bipolar Disorder, stable", &["Bipolar Disorder"]),
            ("major depressive disorder", &["major depressive disorder"]),
            ("stage II breast cancer", &["breast cancer"]),
            ("a melanoma on the arm", &["melanoma"]),
            ("Crohn's disease flare", &["Crohn's disease"]),
            ("Crohn\u{2019}s disease flare", &["Crohn\u{2019}s disease"]),
            ("crohns disease", &["crohns disease"]),
            ("opioid use disorder", &["opioid use disorder"]),
            (
                "gestational diabetes at 28 weeks",
                &["gestational diabetes"],
            ),
            ("had a miscarriage", &["miscarriage"]),
            // multi-word with whitespace and hyphen variants
            ("type-2 diabetes", &["type-2 diabetes"]),
            (
                "Type 2\n  diabetes mellitus",
                &["Type 2\n  diabetes mellitus"],
            ),
            ("chronic\tkidney disease", &["chronic\tkidney disease"]),
            ("non hodgkin lymphoma", &["non hodgkin lymphoma"]),
            ("COVID-19 and covid 19", &["COVID-19", "covid 19"]),
            (
                "post traumatic stress disorder",
                &["post traumatic stress disorder"],
            ),
            // plurals
            ("recurrent migraines", &["migraines"]),
            ("two miscarriages", &["miscarriages"]),
            ("febrile seizures", &["febrile seizures"]),
            ("kidney stones", &["kidney stones"]),
            // medications
            (
                "lisinopril 10mg, atorvastatin 40mg",
                &["lisinopril", "atorvastatin"],
            ),
            ("started Ozempic (semaglutide)", &["Ozempic", "semaglutide"]),
            ("insulin glargine 20 units", &["insulin glargine"]),
            ("on Biktarvy", &["Biktarvy"]),
            ("LEVOTHYROXINE", &["LEVOTHYROXINE"]),
            // lab terms
            ("hemoglobin A1c 8.1%", &["hemoglobin A1c"]),
            ("LDL cholesterol 160", &["LDL cholesterol"]),
            ("eGFR 45, creatinine 1.6", &["eGFR", "creatinine"]),
            ("ALT 80 and AST 95", &["ALT"]),
            ("AST/ALT ratio 2.1", &["AST/ALT"]),
            ("AST levels rose", &["AST levels"]),
            ("CBC with differential", &["CBC with differential"]),
            ("BUN 22, PSA 4.1", &["BUN", "PSA"]),
            ("c-reactive protein", &["c-reactive protein"]),
            // codes
            ("ICD-10 E11.9", &["E11.9"]),
            ("diagnosis code: I10", &["I10"]),
            ("Dx F32.A", &["F32.A"]),
            ("S72.001A per billing", &["S72.001A"]),
            ("codes E11.65, Z79.4 and I10", &["E11.65", "Z79.4", "I10"]),
            ("the chart notes E11.9; diagnosis pending", &["E11.9"]),
            ("CPT 99213", &["99213"]),
            ("99214 (CPT)", &["99214"]),
            ("procedure code 3074F", &["3074F"]),
            (
                "CPT codes 99213, 99214, 93000",
                &["99213", "99214", "93000"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(&found(text), want, "{text:?}");
        }
    }

    #[test]
    fn negatives() {
        let cases: &[&str] = &[
            "archive the files",
            "Take the I10 highway east",
            "E11.9 alone",
            "press the alt key",
            "Abstract Syntax Tree (AST)",
            "AES in CBC mode",
            "the bun and the psa",
            "ENABLE_ALT_SCREEN = 7",
            "gcc -ldl -lm",
            "cflags = ['/MDd', '/W3']",
            "Alt+Tab switches windows",
            "the last cast fast",
            "The Great Depression of the 1930s",
            "a cold weather front",
            "ship to 94103 and 10001",
            "the stroke of midnight",
            "search and seizure",
            "CPT is nice.",
            "hivemind",
            "diabetesx",
            "xdiabetes",
            "diabetes_",
        ];
        for text in cases {
            if *text == "diabetes_" {
                // '_' is not alphanumeric: the word ends before it.
                assert_eq!(found(text), vec!["diabetes"]);
                continue;
            }
            assert_eq!(found(text), Vec::<&str>::new(), "{text:?}");
        }
    }

    #[test]
    fn context_needed_for_codes() {
        // CPT context more than 30 bytes away.
        assert!(found("CPT .................................... 99213").is_empty());
        // Bare ICD code far from its context word.
        let far = format!("diagnosis {} I10", "x ".repeat(40));
        assert!(found(&far).is_empty());
        // Dotted code is fine anywhere once there is context.
        let dotted = format!("diagnosis {} I10.0", "x ".repeat(40));
        assert_eq!(found(&dotted), vec!["I10.0"]);
        // Lower-case, version-like and too-long forms.
        assert!(found("icd e11.9").is_empty());
        assert!(found("icd v1.E11.9.2").is_empty());
        assert!(found("icd E11.12345").is_empty());
        assert!(found("CPT 123456 and 1234 and 12.34567").is_empty());
        assert!(found("CPT 2,99213").is_empty());
    }

    #[test]
    fn prose_and_code_are_clean() {
        let prose = "The committee met on Tuesday to review the quarterly budget. \
            Revenue grew by 12 percent, driven by strong demand in the northern \
            region, while costs stayed flat. The chair noted that the new \
            warehouse in Springfield, 62704, would open in the spring and that \
            the alternative supplier had passed its audit. Members asked for a \
            pressure test of the forecast against a mild recession, and for a \
            plan to archive old invoices. Type your comments below; the vote is \
            at 10 am. Great depression-era photos hang in the lobby.";
        assert_eq!(found(prose), Vec::<&str>::new());
        let code = r#"
use std::collections::HashMap;
/// Counts words; returns an error code on failure.
pub fn count(text: &str, total: &mut usize) -> Result<HashMap<String, u32>, Error> {
    let mut map: HashMap<String, u32> = HashMap::new();
    for w in text.split_whitespace() {
        *map.entry(w.to_lowercase()).or_insert(0) += 1;
        *total += 1;
    }
    if map.is_empty() { return Err(Error::Empty { code: 404 }); }
    let archive = Archive::open("data/A12.bin")?;
    let ast = parse(&archive, Type::Alt)?;
    Ok(map)
}
"#;
        assert_eq!(found(code), Vec::<&str>::new());
    }

    #[test]
    fn chunk_boundaries() {
        // Terms and context words across the 64-byte blocks of the scan.
        for pad in 50..140 {
            let text = format!(
                "{}diabetes; dx E11.9; ALT/AST; t4 free T4.",
                " ".repeat(pad)
            );
            assert_eq!(
                found(&text),
                vec!["diabetes", "E11.9", "ALT/AST", "free T4"],
                "{pad}"
            );
            let text = format!("{}hiv", "x".repeat(pad));
            assert!(found(&text).is_empty(), "{pad}");
        }
    }

    #[test]
    fn sorted_and_merged() {
        // Overlapping candidates at one anchor are joined.
        assert_eq!(
            found("type 2 diabetes mellitus"),
            vec!["type 2 diabetes mellitus"]
        );
        // Codes inside and beside terms stay sorted and disjoint.
        let text = "ICD-10 E11.9 type 2 diabetes, CPT 99213, E11.9";
        let s = spans(text);
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].0), "{s:?}");
        assert_eq!(
            found(text),
            vec!["E11.9", "type 2 diabetes", "99213", "E11.9"]
        );
        // Appends after what `out` already holds.
        let mut out = vec![(0, 1)];
        terms().detect("asthma", &mut out);
        assert_eq!(out, vec![(0, 1), (0, 6)]);
    }

    fn entries(list: &str) -> Vec<&str> {
        data_lines(list).collect()
    }

    #[test]
    fn data_files_are_clean() {
        let mut all = std::collections::HashSet::new();
        for (name, list) in [
            ("conditions", CONDITIONS),
            ("medications", MEDICATIONS),
            ("lab_terms", LAB_TERMS),
        ] {
            for (n, line) in list.lines().enumerate() {
                assert!(!line.trim().is_empty(), "{name}:{}: empty line", n + 1);
                assert_eq!(line, line.trim(), "{name}:{}: stray whitespace", n + 1);
                if line.starts_with('#') {
                    continue;
                }
                let body = line.strip_prefix('=').unwrap_or(line);
                let term = body.strip_suffix('+').unwrap_or(body);
                assert!(
                    term.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b" -/'.".contains(&c)),
                    "{name}:{}: {line:?} has other characters",
                    n + 1
                );
                if !line.starts_with('=') {
                    assert_eq!(
                        line,
                        line.to_lowercase(),
                        "{name}:{}: not lower case",
                        n + 1
                    );
                }
                let key = if line.starts_with('=') {
                    term.to_owned()
                } else {
                    term.to_lowercase()
                };
                let key = key.replace(['-', '/'], " ");
                assert!(all.insert(key), "{name}:{}: duplicate {line:?}", n + 1);
                let e = parse_entry(line, TERM).expect("has a word");
                let anchor = anchor_prefix(&e);
                // The prefix filter knows the run of letters and digits at a
                // word start only from the anchor: a short anchor must be its
                // whole word (no optional apostrophe running on).
                let word = &e.words[e.anchor];
                assert!(
                    anchor.len() >= 4 || anchor.len() == word.len(),
                    "{name}:{}: short anchor of {line:?} is part of a word",
                    n + 1
                );
                // Short anchors are frequent substrings: the automaton would
                // stop inside ordinary words.
                let rare = anchor.len() >= 3 || anchor.iter().any(u8::is_ascii_digit);
                assert!(rare, "{name}:{}: anchor of {line:?} too short", n + 1);
            }
        }
        assert!(entries(CONDITIONS).len() >= 300);
        assert!(entries(MEDICATIONS).len() >= 300);
        assert!(entries(LAB_TERMS).len() >= 80);
    }

    #[test]
    fn every_entry_finds_itself() {
        for list in [CONDITIONS, MEDICATIONS, LAB_TERMS] {
            for line in entries(list) {
                let body = line.strip_prefix('=').unwrap_or(line);
                let term = body.strip_suffix('+').unwrap_or(body);
                let text = format!("x ({term}) y");
                assert_eq!(found(&text), vec![term], "{line:?}");
                if line.ends_with('+') {
                    for plural in [format!("{term}s"), format!("{term}es")] {
                        let text = format!("x {plural}, y");
                        assert_eq!(found(&text), vec![plural.as_str()], "{line:?}");
                    }
                }
                if term.contains('\'') {
                    for variant in [term.replace('\'', "\u{2019}"), term.replace('\'', "")] {
                        let text = format!("x {variant}. y");
                        assert_eq!(found(&text), vec![variant.as_str()], "{line:?}");
                    }
                }
                if term.contains(' ') {
                    let spaced = term.replace(' ', " \n\t ");
                    assert_eq!(found(&spaced), vec![spaced.as_str()], "{line:?}");
                }
            }
        }
    }

    /// A small deterministic generator (no extra dependency).
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    /// `detect` without the word-start masks and the prefix filter: the DFA
    /// is walked from every word start found byte by byte.
    fn unfiltered(text: &str) -> Vec<(usize, usize)> {
        let t = terms();
        let mut out = Vec::new();
        let mut scan = Scan {
            text,
            first: 0,
            out: &mut out,
            codes: Vec::new(),
            icd: Codes::new(CodeKind::Icd),
            cpt: Codes::new(CodeKind::Cpt),
            skip_to: 0,
        };
        let b = text.as_bytes();
        for i in 0..b.len() {
            let start =
                b[i].is_ascii_alphanumeric() && (i == 0 || !b[i - 1].is_ascii_alphanumeric());
            if start && i >= scan.skip_to {
                t.at_word(&mut scan, i);
            }
        }
        scan.finish();
        out
    }

    #[test]
    fn filter_has_no_false_negatives() {
        let mut words: Vec<String> = Vec::new();
        for list in [CONDITIONS, MEDICATIONS, LAB_TERMS] {
            for line in entries(list) {
                let body = line.strip_prefix('=').unwrap_or(line);
                words.push(body.strip_suffix('+').unwrap_or(body).to_owned());
            }
        }
        let extra = [
            "s",
            "es",
            "'s",
            "\u{2019}s",
            " ",
            "-",
            "\n",
            "x",
            "ICD",
            "dx",
            "E11.9",
            "I10",
            "CPT",
            "99213",
            "the",
            "code",
            "é",
            "日本",
            "_",
            "(",
            ".",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..3_000 {
            let mut text = String::new();
            for _ in 0..(next(&mut state) % 40) {
                let r = next(&mut state) as usize;
                if r & 1 == 0 {
                    text.push_str(&words[(r >> 1) % words.len()]);
                } else {
                    text.push_str(extra[(r >> 1) % extra.len()]);
                }
            }
            assert_eq!(spans(&text), unfiltered(&text), "{text:?}");
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let pieces = [
            "é", "日本", "😀", "\u{2019}", "\u{a0}", "-", "/", " ", "\n", ".", ",", "'", "s", "es",
            "E11", ".9", "I10", "99213", "3074F", "CPT", "icd", "dx", "code", "hiv", "HIV",
            "diabetes", "type", "2", "crohn", "alt", "ALT", "ß", "İ", "\u{300}", "a", "Z", "0",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..20_000 {
            let n = (next(&mut state) % 24) as usize;
            let mut text = String::new();
            for _ in 0..n {
                text.push_str(pieces[(next(&mut state) % pieces.len() as u64) as usize]);
            }
            let s = spans(&text);
            for w in s.windows(2) {
                assert!(w[0].1 <= w[1].0, "{text:?} {s:?}");
            }
            for &(a, b) in &s {
                assert!(a < b && b <= text.len(), "{text:?} {s:?}");
                assert!(
                    text.is_char_boundary(a) && text.is_char_boundary(b),
                    "{text:?} {s:?}"
                );
            }
        }
        // Raw bytes, lossily decoded.
        for _ in 0..5_000 {
            let n = (next(&mut state) % 64) as usize;
            let raw: Vec<u8> = (0..n).map(|_| next(&mut state) as u8).collect();
            let text = String::from_utf8_lossy(&raw);
            for (a, b) in spans(&text) {
                assert!(text.is_char_boundary(a) && text.is_char_boundary(b));
            }
        }
        // Long separator runs and many context words stay bounded.
        let long = format!(
            "type{}diabetes {}",
            " ".repeat(10_000),
            "code I10 ".repeat(2_000)
        );
        assert!(!spans(&long).is_empty());
    }
}
