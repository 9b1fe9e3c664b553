//! Proprietary source code: source code that carries an operator's marker
//! (an internal domain such as `git.acme.internal`, a package prefix such as
//! `com.acme.`, a copyright holder, a repository name; `[detectors]
//! code_markers`) or a built-in confidentiality notice ("proprietary and
//! confidential", "internal use only", ...). A marker alone is not enough,
//! nor is code alone: open-source code and prose that mentions the company
//! both stay unflagged. One case-insensitive Aho-Corasick pass finds the
//! markers; only a text with a marker is read for code structure.
//!
//! The finding spans the marker, so a report says where it was; redacting
//! it would not remove the code, so the kind is never redacted.
//!
//! Must not: keep or log the text or the markers' matches.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::{Kind, Match};

/// Confidentiality notices that mark a file as not for release.
pub const BUILTIN_MARKERS: &[&str] = &[
    "proprietary and confidential",
    "confidential and proprietary",
    "proprietary & confidential",
    "confidential & proprietary",
    "internal use only",
    "company confidential",
    "do not distribute",
    "not for distribution",
    "trade secret",
];

/// The compiled markers.
pub(super) struct CodeMarkers {
    ac: AhoCorasick,
}

impl CodeMarkers {
    /// Compiles the built-in notices and `extra` (operator markers; empty
    /// and whitespace-only entries are skipped).
    pub(super) fn new(extra: &[String]) -> CodeMarkers {
        let mut all: Vec<&str> = BUILTIN_MARKERS.to_vec();
        all.extend(extra.iter().map(|m| m.trim()).filter(|m| !m.is_empty()));
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(&all)
            .expect("markers are non-empty literals (empty ones are skipped)");
        CodeMarkers { ac }
    }

    /// Reports each marker in `text` when `text` looks like source code.
    pub(super) fn detect(&self, text: &str, out: &mut Vec<Match>) {
        let b = text.as_bytes();
        let mut code = None;
        for m in self.ac.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            // A marker that starts or ends with a word character must not
            // continue a longer word ("acme" is not in "acmeville").
            if (is_word(b[s]) && s > 0 && is_word(b[s - 1]))
                || (is_word(b[e - 1]) && e < b.len() && is_word(b[e]))
            {
                continue;
            }
            if !*code.get_or_insert_with(|| looks_like_code(text)) {
                return;
            }
            out.push(Match {
                kind: Kind::ProprietaryCode,
                start: s,
                end: e,
            });
        }
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether `text` holds source code: a fenced block, or at least two lines
/// that only code writes (statements ending in `;` or a brace, imports,
/// definitions, preprocessor lines, comment-block starts).
pub(super) fn looks_like_code(text: &str) -> bool {
    if text.contains("```") {
        return true;
    }
    let mut lines = 0;
    for line in text.lines() {
        let t = line.trim();
        if t.len() < 2 {
            continue;
        }
        let ends = t.ends_with(';') || t.ends_with('{') || t.ends_with("});") || t == "}";
        let starts = [
            "import ", "from ", "#include", "package ", "def ", "fn ", "pub fn ", "func ",
            "class ", "public ", "private ", "return ", "const ", "let ", "var ", "use ", "/*",
            "#!",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        if ends || starts {
            lines += 1;
            if lines >= 2 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(markers: &[&str], text: &str) -> Vec<String> {
        let extra: Vec<String> = markers.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        CodeMarkers::new(&extra).detect(text, &mut out);
        out.iter()
            .map(|m| text[m.start..m.end].to_owned())
            .collect()
    }

    const JAVA: &str = "package com.acme.billing;\n\nimport java.util.List;\n\npublic class Ledger {\n  // calls https://git.acme.internal/billing\n  int total;\n}\n";

    #[test]
    fn operator_markers_in_code() {
        assert_eq!(
            found(&["com.acme.", "git.acme.internal"], JAVA),
            vec!["com.acme.", "git.acme.internal"]
        );
        let py = "# Copyright Acme Corp\nimport os\ndef main():\n    return os.getcwd()\n";
        assert_eq!(
            found(&["Copyright Acme Corp"], py),
            vec!["Copyright Acme Corp"]
        );
    }

    #[test]
    fn builtin_notice_in_code() {
        let c = "/* PROPRIETARY AND CONFIDENTIAL */\n#include <stdio.h>\nint main(void) { return 0; }\n";
        assert_eq!(found(&[], c), vec!["PROPRIETARY AND CONFIDENTIAL"]);
        let fenced = "Review this:\n```\nx = secret_sauce() # internal use only\n```";
        assert_eq!(found(&[], fenced), vec!["internal use only"]);
    }

    #[test]
    fn marker_without_code_or_code_without_marker_is_nothing() {
        assert!(found(&["acme"], "Acme Corp reported record sales this quarter.").is_empty());
        assert!(found(&["acme"], "import os\ndef main():\n    return 1\n").is_empty());
        assert!(found(&[], "This memo is proprietary and confidential.").is_empty());
        // Inside a longer word.
        assert!(found(&["acme"], "import acmeville;\nuse acmeville;\n").is_empty());
    }

    #[test]
    fn blank_operator_markers_are_skipped() {
        assert!(found(&["", "  "], JAVA).is_empty());
    }
}
