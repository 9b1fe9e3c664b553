//! The word lists behind the name and address detectors, compiled once into
//! one open-addressing table from a lower-cased word's hash to its flag bits.
//! It only answers "what is this word"; it holds no rules, and it must not
//! allocate on the lookup path for ASCII words (the hot case).

use std::collections::HashMap;

/// A given name (US Census 1990, all first names).
pub const GIVEN: u32 = 1;
/// A surname (US Census 1990, most frequent ones).
pub const SURNAME: u32 = 1 << 1;
/// A name that is also a common word, month or place: never a name alone.
pub const AMBIG: u32 = 1 << 2;
/// A function or sentence word: never part of a name.
pub const STOP: u32 = 1 << 3;
/// A title before a name ("Mr", "Dr").
pub const TITLE: u32 = 1 << 4;
/// A word that marks an organisation or place, not a person.
pub const ORG: u32 = 1 << 5;
/// A common street suffix (USPS Pub. 28): counts with any house number.
pub const SUFFIX: u32 = 1 << 6;
/// A rarer USPS suffix (also an ordinary noun): counts only with support.
pub const SUFFIX_WEAK: u32 = 1 << 7;
/// A unit designator ("Apt", "Suite").
pub const UNIT: u32 = 1 << 8;
/// A US state or territory, name or postal abbreviation.
pub const STATE: u32 = 1 << 9;
/// A word after which a capitalised word is probably a person's name.
pub const PERSON_CTX: u32 = 1 << 10;
/// A word that announces an address ("address", "lives", "located").
pub const ADDR_CTX: u32 = 1 << 11;
/// A word that starts a street name outside the US ("Rue", "Via", "ul").
pub const PREFIX: u32 = 1 << 12;
/// A lower-case particle inside a name or street ("van", "de", "des").
pub const PARTICLE: u32 = 1 << 13;
/// A compass direction ("N", "NW", "North").
pub const DIRECTION: u32 = 1 << 14;

const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "del", "della", "delle", "dei", "da", "das", "do", "dos",
    "di", "du", "des", "la", "le", "les", "ten", "ter", "bin", "ibn", "al", "el", "d", "y", "e",
    "of", "the", "z", "u",
];
const DIRECTIONS: &[&str] = &[
    "n",
    "s",
    "e",
    "w",
    "ne",
    "nw",
    "se",
    "sw",
    "north",
    "south",
    "east",
    "west",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];

/// The data files and the flag each line gets.
const LISTS: &[(&str, u32)] = &[
    (include_str!("data/given_names.txt"), GIVEN),
    (include_str!("data/surnames.txt"), SURNAME),
    (include_str!("data/ambiguous_names.txt"), AMBIG),
    (include_str!("data/stopwords.txt"), STOP),
    (include_str!("data/titles.txt"), TITLE),
    (include_str!("data/org_words.txt"), ORG),
    (include_str!("data/street_suffixes.txt"), SUFFIX),
    (include_str!("data/street_suffixes_weak.txt"), SUFFIX_WEAK),
    (include_str!("data/units.txt"), UNIT),
    (include_str!("data/states.txt"), STATE),
    (include_str!("data/person_context.txt"), PERSON_CTX),
    (include_str!("data/address_context.txt"), ADDR_CTX),
    (include_str!("data/street_prefixes.txt"), PREFIX),
];

/// Word endings of street names in European languages ("Hammarvägen").
const ENDINGS: &str = include_str!("data/street_endings.txt");

/// Longest word looked up; no listed word is longer.
const MAX_WORD: usize = 32;

const HASH_K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// 64-bit hash of a lower-case word (FxHash-style over 8-byte chunks).
fn word_hash(w: &[u8]) -> u64 {
    let mut h = w.len() as u64;
    for chunk in w.chunks(8) {
        h = hash_step(h, load(chunk, 0, chunk.len()));
    }
    hash_end(h)
}

#[inline(always)]
fn hash_step(h: u64, chunk: u64) -> u64 {
    (h.rotate_left(5) ^ chunk).wrapping_mul(HASH_K)
}

#[inline(always)]
fn hash_end(h: u64) -> u64 {
    h ^ (h >> 29)
}

/// `n <= 8` bytes of `b` from `i`, zero-padded, as a little-endian word.
/// Reads eight bytes at once where the slice has them.
#[inline(always)]
fn load(b: &[u8], i: usize, n: usize) -> u64 {
    match b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        Some(c) => {
            let x = u64::from_le_bytes(*c);
            if n >= 8 {
                x
            } else {
                x & ((1u64 << (8 * n)) - 1)
            }
        }
        _ => b[i..i + n]
            .iter()
            .rev()
            .fold(0, |x, &c| (x << 8) | u64::from(c)),
    }
}

const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// ASCII upper-case letters of an ASCII word `x` made lower case.
#[inline(always)]
fn ascii_lower(x: u64) -> u64 {
    let ge = x.wrapping_add(ONES * u64::from(0x80 - b'A'));
    let gt = x.wrapping_add(ONES * u64::from(0x7f - b'Z'));
    x | (((ge & !gt) & HIGH) >> 2)
}

/// Lower-cased word to flags.
pub struct Lexicon {
    /// Open addressing with linear probing over `(fingerprint, flags)`:
    /// the high 32 bits of a word's hash, and its flags. Eight bytes a slot
    /// keeps the table (512 KiB) in cache; two words would share a slot's
    /// fingerprint once in about four billion lookups, which a heuristic
    /// detector can bear. The length is a power of two.
    slots: Vec<(u32, u32)>,
    /// Street-name endings.
    endings: Vec<Ending>,
    /// One bit per hashed `filter_key` of the endings: most words share
    /// their last three bytes with no ending, and are rejected at once.
    ending_keys: Box<[u64]>,
}

/// A street-name ending, lower case, at most eight bytes.
struct Ending {
    /// Its bytes as a number, the last byte lowest (see `tail`).
    tail: u64,
    len: usize,
    /// The whole word must be the ending ("tee", "u").
    whole: bool,
}

/// The last (up to) eight bytes of `lower` as a number, the last byte lowest.
fn tail(lower: &[u8]) -> u64 {
    let from = lower.len().saturating_sub(8);
    lower[from..]
        .iter()
        .fold(0, |t, &b| (t << 8) | u64::from(b))
}

/// Filter bit of a word's `tail` of `len` bytes: its last three bytes.
fn filter_key(tail: u64, len: usize) -> usize {
    let key = if len >= 3 { tail & 0xff_ffff } else { tail };
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) as usize
}

/// Lines of a data file: `#` starts a comment line, blank lines are skipped.
fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

impl Lexicon {
    pub fn new() -> Lexicon {
        let mut words: HashMap<Box<[u8]>, u32> = HashMap::with_capacity(32_000);
        let mut add = |w: &str, flag: u32| {
            *words
                .entry(w.to_lowercase().into_bytes().into())
                .or_insert(0) |= flag;
        };
        for (list, flag) in LISTS {
            for line in entries(list) {
                // Multi-word entries ("name is") are keyed by each word.
                for w in line.split_whitespace() {
                    add(w.trim_end_matches('.'), *flag);
                }
            }
        }
        for w in PARTICLES {
            add(w, PARTICLE);
        }
        for w in DIRECTIONS {
            add(w, DIRECTION);
        }
        let endings: Vec<Ending> = entries(ENDINGS)
            .map(|e| {
                let (e, whole) = match e.strip_prefix('=') {
                    Some(w) => (w.to_lowercase(), true),
                    None => (e.to_lowercase(), false),
                };
                assert!(
                    (1..=8).contains(&e.len()),
                    "street ending {e:?} must be 1 to 8 bytes"
                );
                Ending {
                    tail: tail(e.as_bytes()),
                    len: e.len(),
                    whole,
                }
            })
            .collect();
        let mut ending_keys = vec![0u64; 1 << 6].into_boxed_slice();
        for e in &endings {
            let k = filter_key(e.tail, e.len);
            ending_keys[k / 64] |= 1 << (k % 64);
        }
        // At most half full: a word not in the table (most lookups) ends
        // its probe within a slot or two.
        let size = (2 * words.len()).next_power_of_two();
        let mut slots = vec![(0u32, 0u32); size];
        for (w, flags) in words {
            let h = word_hash(&w);
            let fp = ((h >> 32) as u32).max(1); // 0 marks an empty slot
            let mut i = h as usize & (size - 1);
            while slots[i].0 != 0 {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (fp, flags);
        }
        Lexicon {
            slots,
            endings,
            ending_keys,
        }
    }

    fn probe(&self, lower: &[u8]) -> u32 {
        self.probe_hash(word_hash(lower))
    }

    #[inline]
    fn probe_hash(&self, h: u64) -> u32 {
        let fp = ((h >> 32) as u32).max(1);
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let (f, flags) = self.slots[i];
            if f == fp {
                return flags;
            }
            if f == 0 {
                return 0;
            }
            i = (i + 1) & mask;
        }
    }

    /// Flags of `word`, compared without case; 0 when unknown.
    #[cfg(test)]
    pub fn get(&self, word: &str) -> u32 {
        self.get_at(word, 0, word.len())
    }

    /// Flags of the word `text[start..end]`, compared without case; 0 when
    /// unknown. ASCII words are lower-cased and hashed eight bytes at a time
    /// straight from `text`, without a copy.
    #[inline]
    pub fn get_at(&self, text: &str, start: usize, end: usize) -> u32 {
        // Most words: ASCII, up to eight bytes, one load.
        let len = end - start;
        if (1..=8).contains(&len)
            && let Some(c) = text
                .as_bytes()
                .get(start..)
                .and_then(<[u8]>::first_chunk::<8>)
        {
            let x = u64::from_le_bytes(*c) & (!0 >> (64 - 8 * len));
            if x & HIGH == 0 {
                return self.probe_hash(hash_end(hash_step(len as u64, ascii_lower(x))));
            }
        }
        self.get_any(text, start, end)
    }

    /// `get_at` for any word.
    #[inline(never)]
    fn get_any(&self, text: &str, start: usize, end: usize) -> u32 {
        let len = end - start;
        if len > MAX_WORD {
            return 0;
        }
        let bytes = text.as_bytes();
        let mut h = len as u64;
        let mut high = 0;
        let mut i = start;
        while i < end {
            let x = load(bytes, i, end - i);
            high |= x;
            h = hash_step(h, ascii_lower(x));
            i += 8;
        }
        if high & HIGH == 0 {
            self.probe_hash(hash_end(h))
        } else {
            self.probe(text[start..end].to_lowercase().as_bytes())
        }
    }

    /// True when `word` ends like a European street name ("Søndergade",
    /// "Hammarvägen") or is a street word of its own ("tee" in "Luite tee").
    pub fn street_ending(&self, word: &str) -> bool {
        if word.len() > 40 {
            return false;
        }
        if word.is_ascii() {
            // Only the last eight bytes can meet an ending.
            let w = word.as_bytes();
            let from = w.len().saturating_sub(8);
            let mut buf = [0u8; 8];
            let last = &mut buf[..w.len() - from];
            last.copy_from_slice(&w[from..]);
            last.make_ascii_lowercase();
            self.ends_like_street(tail(last), w.len())
        } else {
            let lower = word.to_lowercase();
            self.ends_like_street(tail(lower.as_bytes()), lower.len())
        }
    }

    /// `t`: the `tail` of a lower-case word of `n` bytes.
    fn ends_like_street(&self, t: u64, n: usize) -> bool {
        let k = filter_key(t, n);
        if self.ending_keys[k / 64] & (1 << (k % 64)) == 0 {
            return false;
        }
        self.endings.iter().any(|e| {
            if e.whole {
                n == e.len && t == e.tail
            } else {
                let mask = if e.len == 8 {
                    !0
                } else {
                    (1 << (8 * e.len)) - 1
                };
                n >= e.len && t & mask == e.tail
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_from_every_list() {
        let lex = Lexicon::new();
        assert_ne!(lex.get("MARY") & GIVEN, 0);
        assert_ne!(lex.get("Smith") & SURNAME, 0);
        assert_ne!(lex.get("may") & AMBIG, 0);
        assert_ne!(lex.get("The") & STOP, 0);
        assert_ne!(lex.get("mrs") & TITLE, 0);
        assert_ne!(lex.get("Avenue") & SUFFIX, 0);
        assert_ne!(lex.get("Forges") & SUFFIX_WEAK, 0);
        assert_ne!(lex.get("Apt") & UNIT, 0);
        assert_ne!(lex.get("NY") & STATE, 0);
        assert_ne!(lex.get("via") & PREFIX, 0);
        assert_eq!(lex.get("qwertyuiop"), 0);
        assert_eq!(lex.get("a-very-long-word-past-the-key-limit"), 0);
    }

    #[test]
    fn fast_lookup_hashes_as_the_table_does() {
        let lex = Lexicon::new();
        let text = "Mary SMITH avenue Forges x Wolfeschlegelsteinhausen ab-c Quinzia O'Brien";
        let mut start = 0;
        for w in text.split(' ') {
            let lower = w.to_lowercase();
            assert_eq!(
                lex.get_at(text, start, start + w.len()),
                lex.probe(lower.as_bytes()),
                "{w}"
            );
            start += w.len() + 1;
        }
        // Every listed word is found again through the fast path.
        for (list, flag) in LISTS {
            for line in entries(list) {
                for w in line.split_whitespace() {
                    let w = w.trim_end_matches('.');
                    if w.len() <= MAX_WORD {
                        assert_ne!(lex.get(w) & flag, 0, "{w}");
                        let upper = w.to_uppercase();
                        assert_ne!(lex.get(&upper) & flag, 0, "{upper}");
                    }
                }
            }
        }
    }

    #[test]
    fn street_endings_match_case_blind() {
        let lex = Lexicon::new();
        assert!(lex.street_ending("Hammarvägen"));
        assert!(lex.street_ending("PASSAUERSTRASSE"));
        assert!(lex.street_ending("tér"));
        assert!(!lex.street_ending("Johnson"));
        assert!(!lex.street_ending("Committee"));
        // Whole-word endings match only the whole word.
        assert!(lex.street_ending("TEE"));
        assert!(lex.street_ending("u"));
        assert!(!lex.street_ending("Settee"));
        assert!(!lex.street_ending("Lu"));
        // The same answers as a plain scan of the list, for every ending in
        // both cases, alone and after stems, and for every listed word.
        let plain = |word: &str| {
            let lower = word.to_lowercase();
            word.len() <= 40
                && entries(ENDINGS).any(|e| match e.strip_prefix('=') {
                    Some(whole) => lower == whole.to_lowercase(),
                    None => lower.ends_with(&e.to_lowercase()),
                })
        };
        let mut words: Vec<String> = Vec::new();
        for e in entries(ENDINGS) {
            let e = e.trim_start_matches('=');
            for stem in ["", "a", "Nagy", "Ő", "Wolfeschlegelsteinhausenberger"] {
                words.push(format!("{stem}{e}"));
                words.push(format!("{stem}{}", e.to_uppercase()));
                words.push(format!(
                    "{stem}{}",
                    &e[e.char_indices().nth(1).map_or(0, |c| c.0)..]
                ));
            }
        }
        for (list, _) in LISTS {
            words.extend(entries(list).map(str::to_owned));
        }
        for w in &words {
            assert_eq!(lex.street_ending(w), plain(w), "{w}");
        }
    }
}
