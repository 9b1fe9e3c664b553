//! Legal privilege markers: the phrases lawyers put on privileged documents
//! and messages ("Attorney-Client Privileged", "Privileged & Confidential",
//! "Without Prejudice", "Attorney Work Product", "prepared at the direction
//! of counsel", footers saying a message "may be subject to the
//! attorney-client privilege"). The keyword pass finds `privilege`,
//! `prejudice`, `work product` and `of counsel`; only there does one
//! case-insensitive regex read a small window around the hit.
//!
//! Discussion of the doctrine is not a marker: "is the statement protected
//! by the attorney-client privilege?", "it discloses a privileged
//! communication" (both common in law exam questions) and "dismissed
//! without prejudice" (a civil-procedure term) do not count; the adjective
//! forms and the conjunctions with "confidential" do.
//!
//! Must not: read more than a small window around each hit.

use regex::Regex;

use super::{Kind, Match};

/// Keyword-pass literals (ASCII case ignored) that can sit inside a marker.
pub(super) const LITERALS: &[&str] = &[
    "privilege",
    "prejudice",
    "work product",
    "work-product",
    "of counsel",
];

/// How far either side of a literal a marker may reach.
const WINDOW: usize = 64;

/// The compiled marker phrases.
pub(super) struct Legal {
    re: Regex,
}

impl Legal {
    pub(super) fn new() -> Legal {
        // Words may be glued by `_` (identifiers, `name` fields), so the
        // separators take it and word boundaries are checked by hand.
        let sep = r"[\s_\-\u{2010}-\u{2015}]*";
        let pattern = format!(
            r"(?ix)(?:
                attorney{sep}client{sep}privileged
              | (?:subject|entitled)[\s_]+to[\s_]+(?:the[\s_]+)?(?:attorney{sep}client|legal(?:[\s_]+professional)?|litigation|solicitor{sep}client)[\s_]+privilege
              | privileged[\s_]*(?:&|and|/)[\s_]*confidential
              | confidential[\s_]*(?:&|and|/)[\s_]*privileged
              | legally[\s_]+privileged
              | without[\s_]+prejudice(?:[\s_]+save[\s_]+as[\s_]+to[\s_]+costs)?
              | attorney{sep}work{sep}product
              | (?:prepared[\s_]+)?(?:at|by|under)[\s_]+the[\s_]+(?:direction|request)[\s_]+of[\s_]+(?:legal[\s_]+)?counsel
            )"
        );
        Legal {
            re: Regex::new(&pattern).expect("the marker pattern is fixed (covered by tests)"),
        }
    }

    /// Looks for a marker around the literal at `start..end`.
    pub(super) fn check(&self, text: &str, start: usize, end: usize, out: &mut Vec<Match>) {
        if out
            .last()
            .is_some_and(|m| m.kind == Kind::LegalPrivilege && m.end >= end)
        {
            return;
        }
        let lo = floor_char(text, start.saturating_sub(WINDOW));
        let hi = ceil_char(text, (end + WINDOW).min(text.len()));
        let window = &text[lo..hi];
        for m in self.re.find_iter(window) {
            let (s, e) = (lo + m.start(), lo + m.end());
            if s > start || e < end || !boundary(text, s, e) {
                continue;
            }
            if is_dismissal(text, s, m.as_str()) {
                return;
            }
            out.push(Match {
                kind: Kind::LegalPrivilege,
                start: s,
                end: e,
            });
            return;
        }
    }
}

/// Whether `text[s..e]` is not part of a longer word (`_` counts as a
/// separator here).
fn boundary(text: &str, s: usize, e: usize) -> bool {
    let before = text[..s].chars().next_back();
    let after = text[e..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// "dismissed without prejudice": the procedural term, not a marker.
fn is_dismissal(text: &str, start: usize, phrase: &str) -> bool {
    if !phrase
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("without"))
    {
        return false;
    }
    let lo = floor_char(text, start.saturating_sub(40));
    let before = text[lo..start].to_ascii_lowercase();
    ["dismiss", "with or ", "with and "]
        .iter()
        .any(|w| before.contains(w))
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::super::Scanner;
    use super::*;

    fn legal(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        Scanner::without_names().scan(text, &mut out);
        out.iter()
            .filter(|m| m.kind == Kind::LegalPrivilege)
            .map(|m| &text[m.start..m.end])
            .collect()
    }

    #[test]
    fn finds_markers() {
        let cases = [
            (
                "ATTORNEY-CLIENT PRIVILEGED\nRe: merger",
                "ATTORNEY-CLIENT PRIVILEGED",
            ),
            (
                "Privileged & Confidential - draft",
                "Privileged & Confidential",
            ),
            ("privileged and confidential", "privileged and confidential"),
            (
                "This email is confidential and privileged.",
                "confidential and privileged",
            ),
            (
                "WITHOUT PREJUDICE SAVE AS TO COSTS",
                "WITHOUT PREJUDICE SAVE AS TO COSTS",
            ),
            (
                "Dear Sirs, without prejudice, we offer",
                "without prejudice",
            ),
            (
                "Attorney Work Product - do not forward",
                "Attorney Work Product",
            ),
            ("attorney work-product", "attorney work-product"),
            (
                "This memo was prepared at the direction of counsel.",
                "prepared at the direction of counsel",
            ),
            (
                "This message may be subject to the attorney\u{2013}client privilege.",
                "subject to the attorney\u{2013}client privilege",
            ),
            ("a legally privileged note", "legally privileged"),
            (
                "PRIVILEGED_&_CONFIDENTIAL_memo",
                "PRIVILEGED_&_CONFIDENTIAL",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(legal(text), vec![want], "{text}");
        }
    }

    #[test]
    fn discussion_of_the_doctrine_is_not_a_marker() {
        for text in [
            "Is the statement protected by the attorney-client privilege?",
            "The court dismissed the complaint without prejudice.",
            "The claim was dismissed with or without prejudice.",
            "Executive privilege was asserted.",
            "It is a privilege to work here.",
            "the work product of the team",
            "He is of counsel to the firm.",
            "racial prejudice",
            "unprivileged and confidential",
            // MMLU law questions: the doctrine, not a marker.
            "inadmissible, because it discloses a privileged communication",
            "ineffective assistance of counsel",
            "inadmissible as violative of the work-product rule",
        ] {
            assert!(legal(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn windows_respect_char_boundaries() {
        let text = format!(
            "{} privileged & confidential {}",
            "é".repeat(40),
            "日".repeat(30)
        );
        assert_eq!(legal(&text), vec!["privileged & confidential"]);
    }
}
