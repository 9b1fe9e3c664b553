//! Measures the sensitivity scanner against labelled data that no one here
//! wrote (`airlock eval-sensitivity FILE...`). Each JSONL file is read into
//! one of three record shapes, recognised by its fields:
//!
//! - **PII spans** (`{"text", "spans": [{"type", "start", "end"}]}`, the
//!   Presidio sets): offsets count Unicode code points and are converted to
//!   byte offsets here. Per gold entity type: a gold span is recalled when a
//!   finding of its mapped kind overlaps it; a finding is precise when it
//!   overlaps a gold span of a type mapped to its kind. Plus "any sensitive
//!   finding" per text (positive: the text has a gold span).
//! - **Secret examples** (`{"rule", "label": "tp"|"fp", "text"}`, the
//!   gitleaks set): recall on the `tp` rows and hit rate on the `fp` rows;
//!   an `fp` row whose text is a `tp` of another rule is a positive (its
//!   README says so) and is counted apart.
//! - **Ordinary prompts** (`{"prompt", ...}`, MMLU): the share flagged
//!   above `public` under the default policy (`Policy::default`, whose
//!   category levels make every built-in finding count).
//!
//! Every text is scanned as the gateway scans it: `evasion::scan`, with
//! the decoded and normalised views.
//!
//! Gold type to airlock kind (a kind that does not exist yet leaves its
//! type unmapped; unmapped types are reported with recall 0, not hidden):
//!
//! | gold type | airlock kind |
//! |---|---|
//! | `CREDIT_CARD` | `credit_card` |
//! | `PHONE_NUMBER` | `phone` |
//! | `EMAIL_ADDRESS` | `email` |
//! | `IBAN_CODE` | `iban` |
//! | `US_SSN`, `US_ITIN` | `us_ssn` |
//! | `IP_ADDRESS` | `ip_address` |
//! | `US_DRIVER_LICENSE` | `us_driver_license` |
//! | `US_PASSPORT` | `us_passport` |
//! | `US_BANK_NUMBER` | `bank_account` |
//! | `ABA_ROUTING_NUMBER` | `aba_routing` |
//! | `CRYPTO` | `crypto_wallet` |
//! | `MEDICAL_LICENSE`, `US_NPI` | `npi` |
//! | `PERSON` | `person` (not built yet) |
//! | `STREET_ADDRESS` | `street_address` (not built yet) |
//! | `DATE_TIME`, `AGE`, `GPE`, `LOCATION`, `ORGANIZATION`, `TITLE`, `NRP`, `ZIP_CODE`, `DOMAIN_NAME`, `URL` and any other | none |
//!
//! `DATE_TIME` stays unmapped on purpose: its spans are mostly years,
//! weekdays and timestamps, not dates of birth; `date_of_birth` findings
//! show up in the "kinds without a gold type" rows with the share that
//! overlaps some gold span.
//!
//! Must not: read files or print (the binary does), or panic on any input.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::classify::evasion;
use crate::classify::sensitivity::{Category, Kind, Match, Scanner};
use crate::config::Policy;
use crate::types::Level;

pub mod routing;
mod table;

/// Gold entity type to airlock kind name (see the module doc).
const GOLD_TO_KIND: &[(&str, &str)] = &[
    ("CREDIT_CARD", "credit_card"),
    ("PHONE_NUMBER", "phone"),
    ("EMAIL_ADDRESS", "email"),
    ("IBAN_CODE", "iban"),
    ("US_SSN", "us_ssn"),
    ("US_ITIN", "us_ssn"),
    ("IP_ADDRESS", "ip_address"),
    ("US_DRIVER_LICENSE", "us_driver_license"),
    ("US_PASSPORT", "us_passport"),
    ("US_BANK_NUMBER", "bank_account"),
    ("ABA_ROUTING_NUMBER", "aba_routing"),
    ("CRYPTO", "crypto_wallet"),
    ("MEDICAL_LICENSE", "npi"),
    ("US_NPI", "npi"),
    ("PERSON", "person"),
    ("STREET_ADDRESS", "street_address"),
];

/// The airlock kind a gold type maps to, if that kind exists.
pub fn kind_for(gold: &str) -> Option<Kind> {
    let name = GOLD_TO_KIND.iter().find(|(g, _)| *g == gold)?.1;
    Kind::ALL.into_iter().find(|k| k.as_str() == name)
}

/// Why a file could not be read as evaluation data.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("line {line}: invalid JSON")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: no known record shape (expected PII spans, secret examples or prompts)")]
    UnknownShape { line: usize },
    #[error("line {line}: mixes record shapes")]
    MixedShapes { line: usize },
    #[error("line {line}: span {start}..{end} lies outside its {chars}-character text")]
    BadSpan {
        line: usize,
        start: usize,
        end: usize,
        chars: usize,
    },
    #[error("line {line}: label {label:?} is neither \"tp\" nor \"fp\"")]
    BadLabel { line: usize, label: String },
    #[error("no records")]
    Empty,
}

/// A gold span in byte offsets (converted from code points on parsing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoldSpan {
    pub entity: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiRecord {
    pub text: String,
    pub spans: Vec<GoldSpan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub rule: String,
    /// `true` for `tp`.
    pub positive: bool,
    pub text: String,
}

/// One file's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dataset {
    Pii(Vec<PiiRecord>),
    Secrets(Vec<SecretRecord>),
    Prompts(Vec<String>),
}

#[derive(Deserialize)]
struct RawSpan {
    #[serde(rename = "type")]
    entity: String,
    start: usize,
    end: usize,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLine {
    Pii {
        text: String,
        spans: Vec<RawSpan>,
    },
    Secret {
        rule: String,
        label: String,
        text: String,
    },
    Prompt {
        prompt: String,
    },
}

/// Byte offset of each code point of `text`, plus `text.len()` at the end.
pub fn char_to_byte(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(b, _)| b)
        .chain([text.len()])
        .collect()
}

/// Parses a JSONL file (blank lines skipped) into one record shape.
pub fn parse(content: &str) -> Result<Dataset, EvalError> {
    let mut data: Option<Dataset> = None;
    for (i, raw) in content.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let parsed: RawLine = serde_json::from_str(raw).map_err(|e| {
            if e.is_data() {
                EvalError::UnknownShape { line }
            } else {
                EvalError::Json { line, source: e }
            }
        })?;
        match (parsed, &mut data) {
            (RawLine::Pii { text, spans }, Some(Dataset::Pii(v))) => {
                v.push(pii_record(line, text, spans)?)
            }
            (RawLine::Pii { text, spans }, None) => {
                data = Some(Dataset::Pii(vec![pii_record(line, text, spans)?]))
            }
            (RawLine::Secret { rule, label, text }, slot) => {
                let positive = match label.as_str() {
                    "tp" => true,
                    "fp" => false,
                    _ => return Err(EvalError::BadLabel { line, label }),
                };
                let r = SecretRecord {
                    rule,
                    positive,
                    text,
                };
                match slot {
                    Some(Dataset::Secrets(v)) => v.push(r),
                    None => data = Some(Dataset::Secrets(vec![r])),
                    Some(_) => return Err(EvalError::MixedShapes { line }),
                }
            }
            (RawLine::Prompt { prompt }, Some(Dataset::Prompts(v))) => v.push(prompt),
            (RawLine::Prompt { prompt }, None) => data = Some(Dataset::Prompts(vec![prompt])),
            _ => return Err(EvalError::MixedShapes { line }),
        }
    }
    data.ok_or(EvalError::Empty)
}

fn pii_record(line: usize, text: String, spans: Vec<RawSpan>) -> Result<PiiRecord, EvalError> {
    let map = char_to_byte(&text);
    let chars = map.len() - 1;
    let spans = spans
        .into_iter()
        .map(|s| match (map.get(s.start), map.get(s.end)) {
            (Some(&start), Some(&end)) if s.start <= s.end => Ok(GoldSpan {
                entity: s.entity,
                start,
                end,
            }),
            _ => Err(EvalError::BadSpan {
                line,
                start: s.start,
                end: s.end,
                chars,
            }),
        })
        .collect::<Result<_, _>>()?;
    Ok(PiiRecord { text, spans })
}

/// Precision, recall, F1 and F2; `None` where the denominator is zero.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scores {
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub f2: Option<f64>,
}

/// Scores from matched predictions over predictions and matched gold over gold.
pub fn scores(pred_hit: usize, pred: usize, gold_hit: usize, gold: usize) -> Scores {
    let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
    let precision = ratio(pred_hit, pred);
    let recall = ratio(gold_hit, gold);
    let f = |beta: f64| match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => {
            Some((1.0 + beta * beta) * p * r / (beta * beta * p + r))
        }
        (Some(_), Some(_)) | (None, Some(0.0)) => Some(0.0),
        _ => None,
    };
    Scores {
        precision,
        recall,
        f1: f(1.0),
        f2: f(2.0),
    }
}

/// One row of a PII table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityRow {
    /// Gold type, or `kind (no gold type)` for findings of an unmatched kind.
    pub entity: String,
    /// The airlock kind it maps to; `None` when unmapped.
    pub kind: Option<&'static str>,
    pub gold: usize,
    pub gold_hit: usize,
    pub findings: usize,
    pub findings_hit: usize,
    pub scores: Scores,
}

/// "Any sensitive finding" per text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TextRow {
    pub name: &'static str,
    pub positives: usize,
    pub flagged: usize,
    pub flagged_positive: usize,
    pub scores: Scores,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PiiReport {
    pub texts: usize,
    pub entities: Vec<EntityRow>,
    pub any: Vec<TextRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecretsReport {
    pub tp_rows: usize,
    pub tp_hit: usize,
    pub tp_hit_secret_kind: usize,
    /// `fp` rows whose text no rule lists as `tp`.
    pub fp_rows: usize,
    pub fp_hit: usize,
    /// `fp` rows whose text is a `tp` of another rule (positives).
    pub fp_rows_other_tp: usize,
    pub fp_other_tp_hit: usize,
    /// Distinct texts: positive (any rule's `tp`) and negative.
    pub any: TextRow,
    /// Rules with a missed `tp` row: `(rule, hit, rows)`.
    pub missed_rules: Vec<(String, usize, usize)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptsReport {
    pub prompts: usize,
    pub above_public: usize,
    pub share_above_public: f64,
    /// Prompts an identifier or secret detector alone puts above public.
    pub above_public_identifiers: usize,
    pub share_above_public_identifiers: f64,
    /// Prompts by their level under the default policy.
    pub by_level: BTreeMap<&'static str, usize>,
    /// Prompts with at least one finding of each kind.
    pub by_kind: BTreeMap<&'static str, usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum Report {
    Pii(PiiReport),
    Secrets(SecretsReport),
    Prompts(PromptsReport),
}

/// As serving scans one text: medical vocabulary only next to something
/// that identifies a person.
fn scan(scanner: &Scanner, text: &str, out: &mut Vec<Match>) {
    out.clear();
    evasion::scan(scanner, text, out);
    if out.iter().any(|m| m.kind.identifies_person()) {
        evasion::scan_medical(scanner, text, out);
    }
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Scores the scanner on one dataset.
pub fn evaluate(scanner: &Scanner, data: &Dataset) -> Report {
    match data {
        Dataset::Pii(records) => Report::Pii(evaluate_pii(scanner, records)),
        Dataset::Secrets(records) => Report::Secrets(evaluate_secrets(scanner, records)),
        Dataset::Prompts(prompts) => Report::Prompts(evaluate_prompts(scanner, prompts)),
    }
}

#[derive(Default)]
struct Tally {
    gold: usize,
    gold_hit: usize,
}

fn evaluate_pii(scanner: &Scanner, records: &[PiiRecord]) -> PiiReport {
    let mut by_entity: BTreeMap<&str, Tally> = BTreeMap::new();
    // Per kind: findings, and findings overlapping a gold span mapped to it
    // (or, for kinds no gold type maps to, any gold span).
    let mut findings: HashMap<Kind, (usize, usize)> = HashMap::new();
    let mapped_kinds: HashSet<Kind> = records
        .iter()
        .flat_map(|r| &r.spans)
        .filter_map(|s| kind_for(&s.entity))
        .collect();
    let (mut pos_all, mut pos_mapped, mut flagged) = (0, 0, 0);
    let (mut hit_all, mut hit_mapped) = (0, 0);
    let mut found = Vec::new();
    for r in records {
        scan(scanner, &r.text, &mut found);
        for s in &r.spans {
            let t = by_entity.entry(&s.entity).or_default();
            t.gold += 1;
            let kind = kind_for(&s.entity);
            if found
                .iter()
                .any(|m| Some(m.kind) == kind && overlaps((m.start, m.end), (s.start, s.end)))
            {
                t.gold_hit += 1;
            }
        }
        for m in &found {
            let slot = findings.entry(m.kind).or_default();
            slot.0 += 1;
            let mapped = mapped_kinds.contains(&m.kind);
            if r.spans.iter().any(|s| {
                (!mapped || kind_for(&s.entity) == Some(m.kind))
                    && overlaps((m.start, m.end), (s.start, s.end))
            }) {
                slot.1 += 1;
            }
        }
        let is_flagged = !found.is_empty();
        let positive = !r.spans.is_empty();
        let positive_mapped = r.spans.iter().any(|s| kind_for(&s.entity).is_some());
        flagged += usize::from(is_flagged);
        pos_all += usize::from(positive);
        pos_mapped += usize::from(positive_mapped);
        hit_all += usize::from(is_flagged && positive);
        hit_mapped += usize::from(is_flagged && positive_mapped);
    }
    let mut entities: Vec<EntityRow> = by_entity
        .into_iter()
        .map(|(entity, t)| {
            let kind = kind_for(entity);
            let (f, fh) = kind
                .and_then(|k| findings.get(&k).copied())
                .unwrap_or((0, 0));
            let scores = match kind {
                Some(_) => scores(fh, f, t.gold_hit, t.gold),
                None => scores(0, 0, 0, t.gold),
            };
            EntityRow {
                entity: entity.to_owned(),
                kind: kind.map(Kind::as_str),
                gold: t.gold,
                gold_hit: t.gold_hit,
                findings: f,
                findings_hit: fh,
                scores,
            }
        })
        .collect();
    // Mapped types first (by name), then unmapped ones.
    entities.sort_by_key(|r| (r.kind.is_none(), r.entity.clone()));
    for k in Kind::ALL {
        if let Some(&(f, fh)) = findings.get(&k).filter(|_| !mapped_kinds.contains(&k)) {
            entities.push(EntityRow {
                entity: format!("{} (no gold type)", k.as_str()),
                kind: Some(k.as_str()),
                gold: 0,
                gold_hit: 0,
                findings: f,
                findings_hit: fh,
                scores: scores(fh, f, 0, 0),
            });
        }
    }
    let text_row = |name, positives, hit| TextRow {
        name,
        positives,
        flagged,
        flagged_positive: hit,
        scores: scores(hit, flagged, hit, positives),
    };
    PiiReport {
        texts: records.len(),
        entities,
        any: vec![
            text_row("any gold span", pos_all, hit_all),
            text_row("any mapped gold span", pos_mapped, hit_mapped),
        ],
    }
}

fn evaluate_secrets(scanner: &Scanner, records: &[SecretRecord]) -> SecretsReport {
    let positive_texts: HashSet<&str> = records
        .iter()
        .filter(|r| r.positive)
        .map(|r| r.text.as_str())
        .collect();
    let mut verdict: HashMap<&str, (bool, bool)> = HashMap::new();
    let mut found = Vec::new();
    for r in records {
        verdict.entry(r.text.as_str()).or_insert_with(|| {
            scan(scanner, &r.text, &mut found);
            let secret = found.iter().any(|m| m.kind.category() == Category::Secret);
            (!found.is_empty(), secret)
        });
    }
    let hit = |r: &SecretRecord| verdict.get(r.text.as_str()).copied().unwrap_or_default();
    let mut rep = SecretsReport {
        tp_rows: 0,
        tp_hit: 0,
        tp_hit_secret_kind: 0,
        fp_rows: 0,
        fp_hit: 0,
        fp_rows_other_tp: 0,
        fp_other_tp_hit: 0,
        any: text_row_secrets(&verdict, &positive_texts),
        missed_rules: Vec::new(),
    };
    let mut per_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for r in records {
        let (any, secret) = hit(r);
        if r.positive {
            rep.tp_rows += 1;
            rep.tp_hit += usize::from(any);
            rep.tp_hit_secret_kind += usize::from(secret);
            let e = per_rule.entry(&r.rule).or_default();
            e.0 += usize::from(any);
            e.1 += 1;
        } else if positive_texts.contains(r.text.as_str()) {
            rep.fp_rows_other_tp += 1;
            rep.fp_other_tp_hit += usize::from(any);
        } else {
            rep.fp_rows += 1;
            rep.fp_hit += usize::from(any);
        }
    }
    rep.missed_rules = per_rule
        .into_iter()
        .filter(|(_, (h, n))| h < n)
        .map(|(rule, (h, n))| (rule.to_owned(), h, n))
        .collect();
    rep
}

fn text_row_secrets(verdict: &HashMap<&str, (bool, bool)>, positives: &HashSet<&str>) -> TextRow {
    let flagged = verdict.values().filter(|v| v.0).count();
    let hit = positives
        .iter()
        .filter(|t| verdict.get(*t).is_some_and(|v| v.0))
        .count();
    TextRow {
        name: "distinct texts",
        positives: positives.len(),
        flagged,
        flagged_positive: hit,
        scores: scores(hit, flagged, hit, positives.len()),
    }
}

/// Kinds an identifier or secret detector reports (the issue's "< 1% of
/// ordinary prompts" gate): everything but names, addresses, medical terms
/// and privilege or code markers.
fn identifier_or_secret(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::Person
            | Kind::StreetAddress
            | Kind::MedicalTerm
            | Kind::LegalPrivilege
            | Kind::ProprietaryCode
    )
}

/// Each prompt as one user message of a request, judged as serving judges
/// it (medical terms count only next to an identifier, default policy).
fn evaluate_prompts(scanner: &Scanner, prompts: &[String]) -> PromptsReport {
    use crate::classify::{self, FindingKind};
    use crate::openai::{Field, Role, Segment, Unscannable};
    let policy = Policy::default();
    let mut by_level: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut above, mut above_ids) = (0, 0);
    for p in prompts {
        let seg = Segment {
            message: 0,
            part: None,
            field: Field::Content,
            role: Role::User,
            text: p,
        };
        let r = classify::sensitivity(scanner, &policy, &[], &[seg], Unscannable::default(), &[]);
        *by_level.entry(r.level.as_str()).or_default() += 1;
        above += usize::from(r.level > Level::Public);
        let kinds: HashSet<Kind> = r
            .findings
            .iter()
            .filter_map(|f| match f.kind {
                FindingKind::Builtin(k) => Some(k),
                FindingKind::Custom(_) => None,
            })
            .collect();
        above_ids += usize::from(
            kinds
                .iter()
                .any(|&k| identifier_or_secret(k) && policy.kind_level(k) > Level::Public),
        );
        for k in kinds {
            *by_kind.entry(k.as_str()).or_default() += 1;
        }
    }
    let share = |n: usize| {
        if prompts.is_empty() {
            0.0
        } else {
            n as f64 / prompts.len() as f64
        }
    };
    PromptsReport {
        prompts: prompts.len(),
        above_public: above,
        share_above_public: share(above),
        above_public_identifiers: above_ids,
        share_above_public_identifiers: share(above_ids),
        by_level,
        by_kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn metric_arithmetic() {
        let s = scores(3, 4, 2, 5);
        assert!(close(s.precision, 0.75));
        assert!(close(s.recall, 0.4));
        assert!(close(s.f1, 2.0 * 0.75 * 0.4 / 1.15));
        assert!(close(s.f2, 5.0 * 0.75 * 0.4 / (4.0 * 0.75 + 0.4)));
        let none = scores(0, 0, 0, 3);
        assert_eq!(none.precision, None);
        assert!(close(none.recall, 0.0) && close(none.f1, 0.0));
        assert_eq!(scores(0, 0, 0, 0).f2, None);
    }

    #[test]
    fn code_points_become_bytes() {
        let text = "Zoë née 😀 at zoe@example.org";
        let map = char_to_byte(text);
        assert_eq!(map.len(), text.chars().count() + 1);
        // "zoe@example.org" starts at code point 13.
        assert_eq!(&text[map[13]..map[28]], "zoe@example.org");
        let line = r#"{"text": "Zoë née 😀 at zoe@example.org", "spans": [{"type": "EMAIL_ADDRESS", "value": "zoe@example.org", "start": 13, "end": 28}]}"#;
        let Ok(Dataset::Pii(r)) = parse(line) else {
            panic!("not parsed as PII");
        };
        assert_eq!(r[0].spans[0].start, 18);
        assert_eq!(&r[0].text[18..r[0].spans[0].end], "zoe@example.org");
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(matches!(parse(""), Err(EvalError::Empty)));
        assert!(matches!(parse("{"), Err(EvalError::Json { line: 1, .. })));
        assert!(matches!(
            parse(r#"{"foo": 1}"#),
            Err(EvalError::UnknownShape { line: 1 })
        ));
        assert!(matches!(
            parse(r#"{"text": "ab", "spans": [{"type": "X", "start": 1, "end": 9}]}"#),
            Err(EvalError::BadSpan { line: 1, .. })
        ));
        assert!(matches!(
            parse("{\"prompt\": \"a\"}\n{\"text\": \"b\", \"spans\": []}"),
            Err(EvalError::MixedShapes { line: 2 })
        ));
        assert!(matches!(
            parse(r#"{"rule": "r", "label": "maybe", "text": "x"}"#),
            Err(EvalError::BadLabel { line: 1, .. })
        ));
    }

    #[test]
    fn pii_report_on_a_tiny_set() {
        let lines = [
            // Found: e-mail after a multibyte prefix.
            r#"{"text": "Écrivez à zoe@example.org", "spans": [{"type": "EMAIL_ADDRESS", "start": 10, "end": 25}]}"#,
            // Missed: the card fails Luhn. Found: the person.
            r#"{"text": "Ana pays with 4111111111111112", "spans": [{"type": "PERSON", "start": 0, "end": 3}, {"type": "CREDIT_CARD", "start": 14, "end": 30}]}"#,
            // No gold, but a finding: an e-mail false positive.
            r#"{"text": "mail ops@corp.example", "spans": []}"#,
            // Nothing at all.
            r#"{"text": "hello", "spans": []}"#,
        ]
        .join("\n");
        let data = parse(&lines).unwrap();
        let Report::Pii(r) = evaluate(&Scanner::new(), &data) else {
            panic!("not a PII report");
        };
        let row = |name: &str| r.entities.iter().find(|e| e.entity == name).unwrap();
        let email = row("EMAIL_ADDRESS");
        assert_eq!((email.gold, email.gold_hit), (1, 1));
        assert_eq!((email.findings, email.findings_hit), (2, 1));
        assert!(close(email.scores.precision, 0.5) && close(email.scores.recall, 1.0));
        let card = row("CREDIT_CARD");
        assert_eq!((card.gold, card.gold_hit, card.findings), (1, 0, 0));
        assert_eq!(card.scores.precision, None);
        assert!(close(card.scores.recall, 0.0));
        let person = row("PERSON");
        assert!(close(person.scores.recall, 1.0));
        assert_eq!(r.any[0].positives, 2);
        assert_eq!((r.any[0].flagged, r.any[0].flagged_positive), (3, 2));
        assert!(close(r.any[0].scores.precision, 2.0 / 3.0));
        let table = Report::Pii(r).table("tiny");
        assert!(table.contains("EMAIL_ADDRESS"), "{table}");
    }

    #[test]
    fn secrets_and_prompts_on_a_tiny_set() {
        let lines = [
            r#"{"rule": "a", "label": "tp", "text": "key AKIAIOSFODNN7EXAMPLE"}"#,
            r#"{"rule": "b", "label": "fp", "text": "key AKIAIOSFODNN7EXAMPLE"}"#,
            r#"{"rule": "b", "label": "tp", "text": "nothing here"}"#,
            r#"{"rule": "c", "label": "fp", "text": "just words"}"#,
        ]
        .join("\n");
        let Report::Secrets(r) = evaluate(&Scanner::new(), &parse(&lines).unwrap()) else {
            panic!("not a secrets report");
        };
        assert_eq!((r.tp_rows, r.tp_hit, r.tp_hit_secret_kind), (2, 1, 1));
        assert_eq!((r.fp_rows, r.fp_hit), (1, 0));
        assert_eq!((r.fp_rows_other_tp, r.fp_other_tp_hit), (1, 1));
        assert_eq!(r.missed_rules, vec![("b".to_owned(), 0, 1)]);
        let prompts = "{\"prompt\": \"What is 2+2?\"}\n{\"prompt\": \"mail a@b.io\"}\n{\"prompt\": \"Ask Maria Gonzalez, she knows.\"}";
        let Report::Prompts(p) = evaluate(&Scanner::new(), &parse(prompts).unwrap()) else {
            panic!("not a prompts report");
        };
        assert_eq!((p.prompts, p.above_public), (3, 2));
        assert_eq!(
            p.above_public_identifiers, 1,
            "a name is not an identifier finding"
        );
        assert_eq!(p.by_kind.get("email"), Some(&1));
    }
}
