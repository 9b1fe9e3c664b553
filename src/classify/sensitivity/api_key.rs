//! Known credential shapes (provider API keys and tokens). The keyword pass
//! reports where a rule's literal occurs; this module confirms the rule's
//! regex from there, checks the token's edges and rejects redaction masks
//! (`ghp_xxxx...`). Documentation examples such as `AKIAIOSFODNN7EXAMPLE`
//! still count: a gate cannot tell a published key from a live one.
//!
//! Must not: run a rule's regex anywhere but at its literal, or over more
//! than the rule's window.

use regex::Regex;

use super::Match;
use super::api_key_rules::{RULES, Rule};
use super::text::{byte_before, ceil_boundary, floor_boundary, is_word_byte, looks_masked};

/// Per-scan state: where each rule's last regex match ended, so a literal
/// repeated inside a long token (`sk-sk-sk-...`) is not matched again and
/// the scan stays linear.
#[derive(Debug, Default)]
pub(super) struct State {
    scanned_to: Vec<usize>,
}

/// The rules with their compiled regexes.
pub(super) struct ApiKeys {
    compiled: Vec<Regex>,
}

impl ApiKeys {
    pub(super) fn new() -> ApiKeys {
        let compiled = RULES
            .iter()
            .map(|r| {
                let pattern = if r.back == 0 {
                    format!("^(?:{})", r.pattern)
                } else {
                    r.pattern.to_owned()
                };
                Regex::new(&pattern)
                    .expect("constant API-key rule regex compiles (covered by tests)")
            })
            .collect();
        ApiKeys { compiled }
    }

    /// `(rule index, literal)` for every trigger literal.
    pub(super) fn literals() -> impl Iterator<Item = (usize, &'static str)> {
        RULES
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.literals.iter().map(move |&l| (i, l)))
    }

    /// Confirms rule `index` at the literal found at `start..end`.
    pub(super) fn check(
        &self,
        index: usize,
        text: &str,
        (start, end): (usize, usize),
        state: &mut State,
        out: &mut Vec<Match>,
    ) {
        let (Some(rule), Some(regex)) = (RULES.get(index), self.compiled.get(index)) else {
            return;
        };
        let scanned = state.scanned_to.get(index).copied().unwrap_or(0);
        if start < scanned {
            return; // inside this rule's last match: same token again
        }
        let b = text.as_bytes();
        let Some(literal) = rule
            .literals
            .iter()
            .find(|l| b.get(start..end) == Some(l.as_bytes()))
        else {
            return; // the keyword pass ignores case; the rules do not
        };
        if rule.back > 0 && !byte_before(b, start).is_some_and(is_word_byte) {
            return;
        }
        let ws = floor_boundary(text, start.saturating_sub(rule.back));
        let we = ceil_boundary(text, start.saturating_add(rule.after).max(end));
        let Some(window) = text.get(ws..we) else {
            return;
        };
        let found = if rule.back == 0 {
            regex.find(window)
        } else {
            regex
                .find_iter(window)
                .find(|m| ws + m.start() <= start && ws + m.end() >= end)
        };
        let Some(m) = found else {
            return;
        };
        let (s, e) = (ws + m.start(), ws + m.end());
        if state.scanned_to.len() < RULES.len() {
            state.scanned_to.resize(RULES.len(), 0);
        }
        state.scanned_to[index] = e;
        let body = if rule.back == 0 {
            &b[(s + literal.len()).min(e)..e]
        } else {
            &b[s..e]
        };
        if edges_ok(rule, b, s, e) && body_ok(rule, body) {
            out.push(Match {
                kind: rule.kind,
                start: s,
                end: e,
            });
        }
    }
}

fn edges_ok(rule: &Rule, b: &[u8], s: usize, e: usize) -> bool {
    let before_ok = match byte_before(b, s) {
        None => true,
        Some(c) => {
            !(c.is_ascii_alphanumeric()
                || (rule.strict_start && matches!(c, b'.' | b'_' | b'-' | b'/')))
        }
    };
    let after_ok = !(rule.end_word && b.get(e).is_some_and(|c| c.is_ascii_alphanumeric()));
    before_ok && after_ok
}

fn body_ok(rule: &Rule, body: &[u8]) -> bool {
    let mixed_ok = !rule.mixed
        || (body.iter().any(u8::is_ascii_digit) && body.iter().any(u8::is_ascii_alphabetic));
    mixed_ok && !looks_masked(body)
}

#[cfg(test)]
mod tests {
    use super::super::Kind;
    use super::super::tests::spans;

    fn api(text: &str) -> Vec<&str> {
        spans(text, Kind::ApiKey)
    }

    #[test]
    fn every_rule_compiles_and_has_literals() {
        let keys = super::ApiKeys::new();
        assert_eq!(keys.compiled.len(), super::RULES.len());
        for r in super::RULES {
            // One-byte literals only for inner rules, which check the byte
            // before the literal first.
            let min = if r.back > 0 { 1 } else { 2 };
            assert!(
                r.literals
                    .iter()
                    .all(|l| l.len() >= min && r.pattern.len() > l.len()),
                "{r:?}"
            );
        }
    }

    #[test]
    fn positives() {
        let cases: &[(&str, &str)] = &[
            (
                "key sk-proj-SevzWEV_NmNnMndQ5gn6PjFcX_9ay5SEKse8AL0EuYAB0cIgFW7E end",
                "sk-proj-SevzWEV_NmNnMndQ5gn6PjFcX_9ay5SEKse8AL0EuYAB0cIgFW7E",
            ),
            (
                "sk-ant-api03-abc123xyz-456def789ghij-klmnopqrstuvwx-3456yza789bcdeAA",
                "sk-ant-api03-abc123xyz-456def789ghij-klmnopqrstuvwx-3456yza789bcdeAA",
            ),
            (
                "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",
                "AKIAIOSFODNN7EXAMPLE",
            ),
            ("ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
            (
                "token ghp_16C7e42F292c6912E7710c838347Ae178B4a!",
                "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            ),
            (
                "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
                "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD",
            ),
            (
                "\"sk_live_4eC39HqLyjWDarjtT1zdp7dc\"",
                "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            ),
            (
                "AIzaSyNHxIf32IQ1a1yjl3ZJIqKZqzLAK1XhDk-",
                "AIzaSyNHxIf32IQ1a1yjl3ZJIqKZqzLAK1XhDk-",
            ),
            ("glpat-1a2B3c4D5e6F7g8H9i0J", "glpat-1a2B3c4D5e6F7g8H9i0J"),
            (
                "login --token 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",
                "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",
            ),
            (
                "npm_1234567890abcdefghijABCDEFGHIJ123456",
                "npm_1234567890abcdefghijABCDEFGHIJ123456",
            ),
            (
                "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",
                "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",
            ),
            (
                "SK0123456789abcdef0123456789abcdef",
                "SK0123456789abcdef0123456789abcdef",
            ),
            (
                "mailchimp cefa780880ba5f5696192a34f6292c35-us18",
                "cefa780880ba5f5696192a34f6292c35-us18",
            ),
            (
                "facebook 1308742762612587|rhoK1cbv0DOU_RTX_87O4MkX7AI",
                "1308742762612587|rhoK1cbv0DOU_RTX_87O4MkX7AI",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(api(text), vec![*want], "{text}");
        }
    }

    #[test]
    fn negatives() {
        let cases = [
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "AKIAXXXXXXXXXXXXXXXX",
            "use sk-learn-for-classification-tasks",
            "SKIP the task",
            "GSSAPI-VIRHEKAPSELOINTIMERKKIJONO",
            "- (id)hf_requiredCharacteristicTypesForDisplayMetadata;",
            "AIzaTesb6Tscfcni8vIpWZqNCXFDFslJtVSvFDqabcd123",
            "xoxb-xxx",
            "http://assets.r7.com/video_box.ico-7a388b69018576d24b59331fd60aab0c.png",
            "| a | b |",
        ];
        for text in cases {
            assert_eq!(api(text), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn age_key_is_a_private_key() {
        let key = format!(
            "AGE-SECRET-KEY-1{}",
            "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"
                .repeat(2)
                .get(..58)
                .unwrap_or_default()
        );
        assert_eq!(spans(&key, Kind::PrivateKey), vec![key.as_str()]);
        assert_eq!(api(&key), Vec::<&str>::new());
    }

    #[test]
    fn multibyte_prefix_offsets() {
        let text = "clé → «AKIAIOSFODNN7EXAMPLE»";
        assert_eq!(api(text), vec!["AKIAIOSFODNN7EXAMPLE"]);
    }
}
