//! Operator-defined detectors (`[[detectors.custom]]`): keywords, regexes
//! and word-list files, compiled once at config load into one
//! case-insensitive Aho-Corasick automaton and a set of regexes per detector.
//! Errors name the exact key. Matching is pure and allocation-free per call
//! beyond the output vector; matched text is never stored.

use crate::classify::sensitivity::Category;
use crate::types::Level;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::Regex;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustom {
    pub name: String,
    pub level: String,
    pub category: Option<String>,
    #[serde(default)]
    pub keywords: Vec<String>,
    #[serde(default)]
    pub regexes: Vec<String>,
    pub word_list_file: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDetectors {
    #[serde(default)]
    pub custom: Vec<RawCustom>,
    /// Person names and street addresses (word lists); off by default for
    /// their cost (see the README).
    #[serde(default)]
    pub names: bool,
    /// Markers of the operator's own source code (internal domains, package
    /// prefixes, copyright holders, repository names): code that carries
    /// one is `proprietary_code`.
    #[serde(default)]
    pub code_markers: Vec<String>,
}

/// One compiled custom detector.
#[derive(Debug)]
pub struct CustomDetector {
    pub name: String,
    pub category: Category,
    pub level: Level,
    words: Option<AhoCorasick>,
    regexes: Vec<Regex>,
}

impl CustomDetector {
    /// Appends `(start, end)` byte spans of matches in `text`.
    pub fn find(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let b = text.as_bytes();
        if let Some(ac) = &self.words {
            for m in ac.find_iter(text) {
                let before = m.start() == 0 || !is_word(b[m.start() - 1]);
                let after = m.end() == b.len() || !is_word(b[m.end()]);
                if before && after {
                    out.push((m.start(), m.end()));
                }
            }
        }
        for re in &self.regexes {
            out.extend(
                re.find_iter(text)
                    .filter(|m| !m.is_empty())
                    .map(|m| (m.start(), m.end())),
            );
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Longest word list file accepted (bytes).
const MAX_WORD_LIST: u64 = 16 * 1024 * 1024;

/// Compiles one detector; errors are `(key, message)`.
pub(super) fn compile(
    i: usize,
    raw: &RawCustom,
    level: Option<Level>,
    errors: &mut Vec<(String, String)>,
) -> Option<CustomDetector> {
    let base = format!("detectors.custom[{i}]");
    let before = errors.len();
    let mut err = |k: String, m: String| errors.push((k, m));
    if raw.name.trim().is_empty() {
        err(format!("{base}.name"), "must not be empty".into());
    }
    let category = match raw.category.as_deref() {
        None => Category::Custom,
        Some(c) => match Category::ALL.into_iter().find(|x| x.as_str() == c) {
            Some(c) => c,
            None => {
                err(
                    format!("{base}.category"),
                    format!(
                        "unknown category {c:?} (expected pii, phi, financial, secret, code, legal or custom)"
                    ),
                );
                Category::Custom
            }
        },
    };
    let mut words: Vec<String> = Vec::new();
    for (j, k) in raw.keywords.iter().enumerate() {
        if k.trim().is_empty() {
            err(format!("{base}.keywords[{j}]"), "must not be empty".into());
        } else {
            words.push(k.trim().to_owned());
        }
    }
    if let Some(path) = &raw.word_list_file {
        match std::fs::metadata(path) {
            Ok(m) if m.len() > MAX_WORD_LIST => err(
                format!("{base}.word_list_file"),
                format!("{path} is larger than {MAX_WORD_LIST} bytes"),
            ),
            Ok(_) => match std::fs::read_to_string(path) {
                Ok(text) => words.extend(
                    text.lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned),
                ),
                Err(e) => err(
                    format!("{base}.word_list_file"),
                    format!("cannot read {path} as UTF-8 text ({e})"),
                ),
            },
            Err(e) => err(
                format!("{base}.word_list_file"),
                format!("cannot read {path} ({e})"),
            ),
        }
    }
    let mut regexes = Vec::new();
    for (j, r) in raw.regexes.iter().enumerate() {
        match regex::RegexBuilder::new(r).size_limit(1 << 22).build() {
            Ok(re) if re.is_match("") => err(
                format!("{base}.regexes[{j}]"),
                "matches the empty string, so it would match everywhere".into(),
            ),
            Ok(re) => regexes.push(re),
            Err(e) => err(
                format!("{base}.regexes[{j}]"),
                format!("invalid regex: {e}"),
            ),
        }
    }
    if words.is_empty() && regexes.is_empty() && errors.len() == before {
        errors.push((
            base.clone(),
            "needs keywords, regexes or a word_list_file".into(),
        ));
    }
    let words = if words.is_empty() {
        None
    } else {
        match AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&words)
        {
            Ok(ac) => Some(ac),
            Err(e) => {
                errors.push((format!("{base}.keywords"), format!("cannot compile: {e}")));
                None
            }
        }
    };
    if errors.len() != before {
        return None;
    }
    Some(CustomDetector {
        name: raw.name.clone(),
        category,
        level: level?,
        words,
        regexes,
    })
}
