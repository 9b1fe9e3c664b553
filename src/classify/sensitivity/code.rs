//! Proprietary source code: source code that carries an operator's marker
//! (an internal domain such as `git.acme.internal`, a package prefix such as
//! `com.acme.`, a copyright holder, a repository name; `[detectors]
//! code_markers`) or a built-in confidentiality notice ("proprietary and
//! confidential", "internal use only", ...). A marker alone is not enough,
//! nor is code alone: open-source code and prose that mentions the company
//! both stay unflagged. The scanner's one keyword pass finds the markers
//! (`triggers`); only a text with a marker is read for code structure.
//!
//! The finding spans the marker, so a report says where it was; redacting
//! it would not remove the code, so the kind is never redacted.
//!
//! Must not: keep or log the text or the markers' matches.

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

/// Checks the marker the keyword pass found at `s..e`: it must not continue
/// a longer word (a marker that starts or ends with a word character), and
/// the text must look like source code. `code` caches that verdict for the
/// text (`None` until a marker needs it).
pub(super) fn check(text: &str, s: usize, e: usize, code: &mut Option<bool>, out: &mut Vec<Match>) {
    let b = text.as_bytes();
    if (is_word(b[s]) && s > 0 && is_word(b[s - 1]))
        || (is_word(b[e - 1]) && e < b.len() && is_word(b[e]))
    {
        return;
    }
    if *code.get_or_insert_with(|| looks_like_code(text)) {
        out.push(Match {
            kind: Kind::ProprietaryCode,
            start: s,
            end: e,
        });
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
        let scanner = super::super::Scanner::with_options(&super::super::Options {
            names: false,
            code_markers: markers.iter().map(|s| s.to_string()).collect(),
        });
        let mut out = Vec::new();
        scanner.scan(text, &mut out);
        out.iter()
            .filter(|m| m.kind == Kind::ProprietaryCode)
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
