//! The one keyword pass: a single Aho-Corasick automaton (ASCII case
//! ignored) over every literal that can start a secret finding (API-key
//! prefixes, secret-sounding keywords, `curl -u`, Kubernetes `data:`, PEM
//! and PuTTY headers, `eyJ` and `://`) and every context word of a weak
//! identifier (`anchors::WORDS`). Text without any of them costs one
//! linear pass here (four quarters stepped at once, see
//! [`crate::classify::lanes`]) and nothing in the detectors behind them.
//!
//! Must not: judge anything; it only says where each detector should look.

use crate::classify::lanes::Lanes;

use super::api_key::ApiKeys;
use super::{anchors, code, curl_user, k8s_secret, legal, secret};

/// Which detector a literal belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    /// Index into the API-key rule table.
    Rule(usize),
    Keyword,
    /// Index into `anchors::WORDS`.
    Context(usize),
    Curl,
    K8sData,
    Pem,
    Putty,
    Jwt,
    Url,
    /// A word inside a legal privilege marker.
    Legal,
    /// A proprietary-code marker (built-in notice or operator marker).
    CodeMarker,
}

/// One literal found in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hit {
    pub trigger: Trigger,
    pub start: usize,
    pub end: usize,
}

/// The compiled automaton and what each of its patterns means.
pub(super) struct Triggers {
    lanes: Lanes,
    meaning: Vec<Trigger>,
}

impl Triggers {
    /// `code_markers` are the operator's proprietary-code markers (empty
    /// and whitespace-only ones are skipped).
    pub(super) fn new(code_markers: &[String]) -> Triggers {
        let (literals, meaning) = literals(code_markers);
        let lanes = Lanes::new(&literals)
            .expect("trigger literals are plain non-empty strings (covered by tests)");
        Triggers { lanes, meaning }
    }

    /// Appends every trigger found in `text`, overlapping ones included,
    /// ordered by end offset.
    pub(super) fn find(&self, text: &str, hits: &mut Vec<Hit>) {
        self.lanes.each(text.as_bytes(), |pattern, start, end| {
            if let Some(&trigger) = self.meaning.get(pattern) {
                hits.push(Hit {
                    trigger,
                    start,
                    end,
                });
            }
        });
    }
}

/// Every trigger literal and what it means, in automaton order.
/// `code_markers` are the operator's proprietary-code markers (empty and
/// whitespace-only ones are skipped).
fn literals<'a>(code_markers: &'a [String]) -> (Vec<&'a str>, Vec<Trigger>) {
    let mut literals = Vec::new();
    let mut meaning = Vec::new();
    let mut add = |lit: &'a str, t: Trigger| {
        literals.push(lit);
        meaning.push(t);
    };
    for (rule, lit) in ApiKeys::literals() {
        add(lit, Trigger::Rule(rule));
    }
    for &kw in secret::KEYWORDS {
        add(kw, Trigger::Keyword);
    }
    for &lit in curl_user::LITERALS {
        add(lit, Trigger::Curl);
    }
    add(k8s_secret::LITERAL, Trigger::K8sData);
    add("-----BEGIN", Trigger::Pem);
    add("PuTTY-User-Key-File-", Trigger::Putty);
    add("eyJ", Trigger::Jwt);
    add("://", Trigger::Url);
    for &lit in legal::LITERALS {
        add(lit, Trigger::Legal);
    }
    for lit in code::BUILTIN_MARKERS
        .iter()
        .copied()
        .chain(code_markers.iter().map(|m| m.trim()))
        .filter(|m| !m.is_empty())
    {
        add(lit, Trigger::CodeMarker);
    }
    for (i, &(word, _, _)) in anchors::WORDS.iter().enumerate() {
        add(word, Trigger::Context(i));
    }
    (literals, meaning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::lanes::testing;
    use proptest::prelude::*;

    /// Texts made of the trigger literals, halves of them, their neighbours
    /// in prose, any case: the laned search must find exactly what
    /// aho-corasick's own overlapping search finds over the same literals
    /// (a missed trigger is a missed secret).
    fn pieces() -> Vec<String> {
        let (lits, _) = literals(&[]);
        testing::pieces(&lits, &[" ", "the ", "=", "_", "\n", "x", "0", "é"])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn the_laned_pass_finds_every_trigger_the_automaton_finds(
            picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..600)
        ) {
            let text = testing::text(&picks, &pieces());
            let (lits, meaning) = literals(&[]);
            let reference = aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&lits)
                .expect("build");
            let want: Vec<Hit> = reference
                .find_overlapping_iter(&text)
                .map(|m| Hit { trigger: meaning[m.pattern().as_usize()], start: m.start(), end: m.end() })
                .collect();
            let mut got = Vec::new();
            Triggers::new(&[]).find(&text, &mut got);
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn finds_overlapping_literals_case_insensitively() {
        let t = Triggers::new(&[]);
        let mut hits = Vec::new();
        t.find("export GITHUB_TOKEN=ghp_x; Password: x", &mut hits);
        let kinds: Vec<_> = hits.iter().map(|h| h.trigger).collect();
        assert!(kinds.contains(&Trigger::Keyword));
        assert!(kinds.iter().any(|k| matches!(k, Trigger::Rule(_))));
        assert!(
            hits.iter()
                .any(|h| h.start == 27 && h.trigger == Trigger::Keyword)
        );
    }

    #[test]
    fn nothing_in_plain_prose() {
        let t = Triggers::new(&[]);
        let mut hits = Vec::new();
        t.find(
            "The weather is nice today and we went for a walk.",
            &mut hits,
        );
        assert!(hits.is_empty(), "{hits:?}");
    }
}
