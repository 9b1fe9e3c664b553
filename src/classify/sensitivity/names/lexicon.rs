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

/// 64-bit hash of a lower-case word (FxHash-style over 8-byte chunks).
fn word_hash(w: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h = w.len() as u64;
    for chunk in w.chunks(8) {
        let mut buf = [0u8; 8];
        buf[..chunk.len()].copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Lower-cased word to flags.
pub struct Lexicon {
    /// Open addressing with linear probing over `(fingerprint, flags)`:
    /// the high 32 bits of a word's hash, and its flags. Eight bytes a slot
    /// keeps the table (256 KiB) in cache; two words would share a slot's
    /// fingerprint once in about four billion lookups, which a heuristic
    /// detector can bear. The length is a power of two.
    slots: Vec<(u32, u32)>,
    /// Street-name endings; `true` when the whole word must match.
    endings: Vec<(Box<str>, bool)>,
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
        let endings = entries(ENDINGS)
            .map(|e| match e.strip_prefix('=') {
                Some(whole) => (whole.to_lowercase().into(), true),
                None => (e.to_lowercase().into(), false),
            })
            .collect();
        let size = (words.len() + words.len() / 4).next_power_of_two();
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
        Lexicon { slots, endings }
    }

    fn probe(&self, lower: &[u8]) -> u32 {
        let h = word_hash(lower);
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
    pub fn get(&self, word: &str) -> u32 {
        if word.len() > MAX_WORD {
            return 0;
        }
        if word.is_ascii() {
            let mut buf = [0u8; MAX_WORD];
            let lower = &mut buf[..word.len()];
            lower.copy_from_slice(word.as_bytes());
            lower.make_ascii_lowercase();
            self.probe(lower)
        } else {
            self.probe(word.to_lowercase().as_bytes())
        }
    }

    /// True when `word` ends like a European street name ("Søndergade",
    /// "Hammarvägen") or is a street word of its own ("tee" in "Luite tee").
    pub fn street_ending(&self, word: &str) -> bool {
        if word.len() > 40 {
            return false;
        }
        let lower = word.to_lowercase();
        self.endings.iter().any(|(e, whole)| {
            if *whole {
                lower == **e
            } else {
                lower.ends_with(&**e)
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
    fn street_endings_match_case_blind() {
        let lex = Lexicon::new();
        assert!(lex.street_ending("Hammarvägen"));
        assert!(lex.street_ending("PASSAUERSTRASSE"));
        assert!(lex.street_ending("tér"));
        assert!(!lex.street_ending("Johnson"));
        assert!(!lex.street_ending("Committee"));
    }
}
