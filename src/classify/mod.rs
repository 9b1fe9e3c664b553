//! Classification of one request, in process and without network: which
//! sensitive data it carries (and so its level) and how hard it is. The
//! detectors live in `sensitivity`, the scorer in `complexity`. Findings
//! carry kinds and byte offsets, never the matched text.

pub mod complexity;
pub mod evasion;
pub mod lanes;
pub mod sensitivity;

pub use complexity::{Complexity, Shape, Task};

use crate::config::Policy;
use crate::config::detectors::CustomDetector;
use crate::openai::{Field, Segment, Unscannable};
use crate::types::Level;
use sensitivity::{Category, Kind, Match, Scanner};

/// What found a finding: a built-in detector or an operator's custom one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    Builtin(Kind),
    /// Index into `Config::detectors`.
    Custom(usize),
}

impl FindingKind {
    pub fn name<'a>(&self, custom: &'a [CustomDetector]) -> &'a str {
        match self {
            FindingKind::Builtin(k) => k.as_str(),
            FindingKind::Custom(i) => custom.get(*i).map(|d| d.name.as_str()).unwrap_or("custom"),
        }
    }
}

/// One detected item; offsets are bytes into the original string of
/// `messages[message]` (its content part `part`, or the `field` named).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    pub category: Category,
    pub level: Level,
    pub message: usize,
    pub part: Option<usize>,
    pub field: Field,
    pub start: usize,
    pub end: usize,
}

impl Finding {
    /// Whether the finding can identify a person (see
    /// `Kind::identifies_person`; an operator's detector does when its
    /// category is `pii` or `phi`).
    pub fn identifies_person(&self) -> bool {
        match self.kind {
            FindingKind::Builtin(k) => k.identifies_person(),
            FindingKind::Custom(_) => matches!(self.category, Category::Pii | Category::Phi),
        }
    }

    /// Whether redaction replaces this finding (see `Kind::redactable`;
    /// an operator's finding always is).
    pub fn redactable(&self) -> bool {
        match self.kind {
            FindingKind::Builtin(k) => k.redactable(),
            FindingKind::Custom(_) => true,
        }
    }
}

/// Why a request has the level it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floor {
    /// The `x-airlock-min-sensitivity` header.
    Header(Level),
    /// The gateway key's `min_sensitivity`.
    Key(Level),
    /// Conversation memory: the request resends part of a sensitive exchange.
    Memory(Level),
    /// Conversation memory could not be asked (Redis down or slow): the
    /// texts it would have checked count as unscannable.
    MemoryUnavailable(Level),
}

impl Floor {
    pub fn level(self) -> Level {
        let (Floor::Header(l) | Floor::Key(l) | Floor::Memory(l) | Floor::MemoryUnavailable(l)) =
            self;
        l
    }
}

#[derive(Debug, Clone, Default)]
pub struct SensitivityReport {
    pub level: Level,
    pub findings: Vec<Finding>,
    pub unscannable: Unscannable,
    /// The level content that could not be scanned counts as, when there was some.
    pub unscannable_level: Option<Level>,
    pub floors: Vec<Floor>,
}

/// Scans every segment and derives the request's level: the highest of its
/// findings, its unscannable content and the floors a caller set.
pub fn sensitivity(
    scanner: &Scanner,
    policy: &Policy,
    custom: &[CustomDetector],
    segments: &[Segment<'_>],
    unscannable: Unscannable,
    floors: &[Floor],
) -> SensitivityReport {
    let mut findings = Vec::new();
    let mut matches: Vec<Match> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let builtin = |seg: &Segment<'_>, m: &Match| Finding {
        kind: FindingKind::Builtin(m.kind),
        category: m.kind.category(),
        level: policy.kind_level(m.kind),
        message: seg.message,
        part: seg.part,
        field: seg.field,
        start: m.start,
        end: m.end,
    };
    for seg in segments {
        matches.clear();
        evasion::scan(scanner, seg.text, &mut matches);
        findings.extend(matches.iter().map(|m| builtin(seg, m)));
        for (i, d) in custom.iter().enumerate() {
            spans.clear();
            d.find(seg.text, &mut spans);
            findings.extend(spans.iter().map(|&(start, end)| Finding {
                kind: FindingKind::Custom(i),
                category: d.category,
                level: d.level,
                message: seg.message,
                part: seg.part,
                field: seg.field,
                start,
                end,
            }));
        }
    }
    // Medical vocabulary is PHI only where something in the same request
    // can identify a person; a question about diabetes alone is not, and
    // is not even read for it.
    if findings.iter().any(Finding::identifies_person) {
        for seg in segments {
            matches.clear();
            evasion::scan_medical(scanner, seg.text, &mut matches);
            findings.extend(matches.iter().map(|m| builtin(seg, m)));
        }
    }
    let mut level = findings.iter().map(|f| f.level).max().unwrap_or_default();
    let unscannable_level = unscannable.any().then_some(policy.unscannable);
    if let Some(l) = unscannable_level {
        level = level.max(l);
    }
    for f in floors {
        level = level.max(f.level());
    }
    SensitivityReport {
        level,
        findings,
        unscannable,
        unscannable_level,
        floors: floors.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::Role;

    fn seg(text: &str) -> Segment<'_> {
        Segment {
            message: 1,
            part: Some(2),
            field: Field::Content,
            role: Role::User,
            text,
        }
    }

    fn policy() -> Policy {
        Policy::default()
    }

    #[test]
    fn no_findings_is_public() {
        let r = sensitivity(
            &Scanner::new(),
            &policy(),
            &[],
            &[seg("hello world")],
            Unscannable::default(),
            &[],
        );
        assert_eq!(r.level, Level::Public);
        assert!(r.findings.is_empty());
    }

    #[test]
    fn finding_sets_level_and_offsets() {
        let text = "write to jane.doe@example.com today";
        let r = sensitivity(
            &Scanner::new(),
            &policy(),
            &[],
            &[seg(text)],
            Unscannable::default(),
            &[],
        );
        assert_eq!(r.level, Level::Confidential);
        let f = &r.findings[0];
        assert_eq!((f.message, f.part), (1, Some(2)));
        assert_eq!(&text[f.start..f.end], "jane.doe@example.com");
    }

    #[test]
    fn each_first_version_kind_maps_to_its_category_level() {
        let cases = [
            (
                "card 4111 1111 1111 1111 please",
                "credit_card",
                Level::Restricted,
            ),
            ("my ssn is 123-45-6789", "us_ssn", Level::Confidential),
            (
                "IBAN DE89 3704 0044 0532 0130 00",
                "iban",
                Level::Restricted,
            ),
            ("call me on +44 20 7946 0958", "phone", Level::Confidential),
            (
                "key AKIAIOSFODNN7EXAMPLE in the config",
                "api_key",
                Level::Restricted,
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n",
                "private_key",
                Level::Restricted,
            ),
        ];
        let scanner = Scanner::new();
        for (text, kind, level) in cases {
            let r = sensitivity(
                &scanner,
                &policy(),
                &[],
                &[seg(text)],
                Unscannable::default(),
                &[],
            );
            assert!(
                r.findings.iter().any(|f| f.kind.name(&[]) == kind),
                "{kind} not found in {text:?}: {:?}",
                r.findings
            );
            assert_eq!(r.level, level, "{text:?}");
        }
    }

    #[test]
    fn floors_raise_never_lower() {
        let r = sensitivity(
            &Scanner::new(),
            &policy(),
            &[],
            &[seg("mail jane.doe@example.com")],
            Unscannable::default(),
            &[Floor::Header(Level::Internal)],
        );
        assert_eq!(r.level, Level::Confidential);
        let r = sensitivity(
            &Scanner::new(),
            &policy(),
            &[],
            &[seg("hi")],
            Unscannable::default(),
            &[Floor::Key(Level::Restricted)],
        );
        assert_eq!(r.level, Level::Restricted);
    }

    #[test]
    fn unscannable_content_counts_as_configured_level() {
        let un = Unscannable {
            images: 1,
            ..Default::default()
        };
        let r = sensitivity(&Scanner::new(), &policy(), &[], &[seg("hi")], un, &[]);
        assert_eq!(r.level, Level::Confidential);
        assert_eq!(r.unscannable_level, Some(Level::Confidential));
    }

    fn kinds(r: &SensitivityReport) -> Vec<&'static str> {
        r.findings
            .iter()
            .map(|f| match f.kind {
                FindingKind::Builtin(k) => k.as_str(),
                FindingKind::Custom(_) => "custom",
            })
            .collect()
    }

    #[test]
    fn medical_terms_are_phi_only_next_to_an_identifier() {
        let scan = |segs: &[Segment<'_>]| {
            sensitivity(
                &Scanner::new(),
                &policy(),
                &[],
                segs,
                Unscannable::default(),
                &[],
            )
        };
        // A question about a condition names no one: nothing to protect.
        let r = scan(&[seg(
            "What are the first-line treatments for type 2 diabetes?",
        )]);
        assert_eq!(r.level, Level::Public, "{:?}", r.findings);
        assert!(r.findings.is_empty());
        // With a date of birth, the condition is PHI: restricted.
        let r = scan(&[seg(
            "Patient DOB 03/14/1962, on metformin for type 2 diabetes, HbA1c 8.1%",
        )]);
        assert_eq!(r.level, Level::Restricted);
        let k = kinds(&r);
        assert!(
            k.contains(&"date_of_birth") && k.contains(&"medical_term"),
            "{k:?}"
        );
        assert!(
            r.findings
                .iter()
                .filter(|f| f.kind == FindingKind::Builtin(Kind::MedicalTerm))
                .all(|f| f.category == Category::Phi && f.level == Level::Restricted)
        );
        // The identifier may sit in another message of the same request.
        let system = Segment {
            message: 0,
            role: Role::System,
            ..seg("You are assisting Dr. Patel with the chart of Maria Gonzalez.")
        };
        let r = scan(&[
            system,
            seg("Summarise her schizophrenia treatment history."),
        ]);
        assert_eq!(r.level, Level::Restricted, "{:?}", kinds(&r));
        // A name alone (without medical terms) stays `internal`.
        let r = scan(&[seg("Please send the agenda to Maria Gonzalez.")]);
        assert_eq!(r.level, Level::Internal);
    }
}
