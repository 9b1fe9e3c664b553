//! Measures complexity routing on per-question results of a strong and a
//! weak model (`airlock eval-routing FILE`): RouteLLM's MMLU file in
//! `../shared/eval/routing/`, one JSON object a line with `prompt`,
//! `strong_correct`, `weak_correct` and `contaminated`. Contaminated rows
//! are dropped, as RouteLLM's own evaluation drops them.
//!
//! **Routers.** `complexity`: the score exactly as explain computes it for
//! a chat request holding one user message with the prompt. `length`: the
//! prompt's length in characters. `random`: analytic (PGR equals the share
//! of strong calls, so APGR 0.5, CPT(x%) = x%).
//!
//! **Metrics** (RouteLLM, arXiv 2406.18665). Send the top share `x` of
//! prompts by score to the strong model and the rest to the weak one; the
//! accuracy of that mix is `perf(x)`. `PGR(x) = (perf(x) - weak) /
//! (strong - weak)`, with `strong` and `weak` the two models' accuracies on
//! the same rows. APGR is the area under `PGR(x)` for `x` in 0..1; CPT(p)
//! is the least `x` with `PGR(x) >= p`. Prompts with equal scores cannot be
//! told apart, so they are routed together: within a block of ties the
//! curve is the straight line between the block's ends, which is the
//! expectation under a random order of the ties. A coarse score gets no
//! credit for the order its ties happen to be stored in. APGR is the exact
//! area under that piecewise-linear curve; CPT is read on it.
//!
//! **Split.** A prompt is in `train` when the FNV-1a 64 hash of its UTF-8
//! bytes, modulo 100, is below 50, else in `test`. The hash depends only
//! on the text, so copies of a prompt (the file has 105 prompts twice)
//! always land in the same half. The weights in
//! `crate::classify::complexity::WEIGHTS` were fitted on `train` only
//! (`cargo run --release --example tune_complexity -- FILE`: a ridge
//! regression of each question's strong-minus-weak gain on the text
//! features, with signs fixed in advance); `test` was read only to report.
//!
//! Must not: read files or print (the binary does), or panic on any input.

use serde::Serialize;

use crate::classify::complexity::{self, Shape, Values};
use crate::openai::ChatRequest;

/// One question: the prompt and whether each model got it right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub prompt: String,
    pub strong: bool,
    pub weak: bool,
}

/// Why a file could not be read as routing data.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("line {line}: invalid JSON")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: missing or mistyped field {field:?}")]
    Field { line: usize, field: &'static str },
    #[error("no records in the {0} split")]
    Empty(&'static str),
    #[error("the two models are equally accurate on the {0} split: PGR is undefined")]
    NoGap(&'static str),
}

/// Parses a JSONL file (blank lines skipped), dropping contaminated rows.
pub fn parse(content: &str) -> Result<Vec<Record>, RoutingError> {
    let mut out = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(raw).map_err(|source| RoutingError::Json { line, source })?;
        let flag = |field: &'static str| {
            v.get(field)
                .and_then(serde_json::Value::as_bool)
                .ok_or(RoutingError::Field { line, field })
        };
        let contaminated = match v.get("contaminated") {
            None | Some(serde_json::Value::Null) => false,
            Some(_) => flag("contaminated")?,
        };
        if contaminated {
            continue;
        }
        let prompt =
            v.get("prompt")
                .and_then(serde_json::Value::as_str)
                .ok_or(RoutingError::Field {
                    line,
                    field: "prompt",
                })?;
        out.push(Record {
            prompt: prompt.to_owned(),
            strong: flag("strong_correct")?,
            weak: flag("weak_correct")?,
        });
    }
    Ok(out)
}

/// Which rows to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
    All,
}

impl Split {
    pub fn parse(s: &str) -> Option<Split> {
        match s {
            "train" => Some(Split::Train),
            "test" => Some(Split::Test),
            "all" => Some(Split::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
            Split::All => "all",
        }
    }

    /// Whether a prompt belongs to this split.
    pub fn holds(self, prompt: &str) -> bool {
        match self {
            Split::All => true,
            Split::Train => is_train(prompt),
            Split::Test => !is_train(prompt),
        }
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The train half: hash of the prompt text modulo 100 below 50.
pub fn is_train(prompt: &str) -> bool {
    fnv1a64(prompt.as_bytes()) % 100 < 50
}

/// A routed row: its score and the two models' results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    pub score: f64,
    pub strong: bool,
    pub weak: bool,
}

/// APGR and the call shares needed for 50% and 80% of the gap.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Metrics {
    pub apgr: f64,
    pub cpt50: f64,
    pub cpt80: f64,
}

impl Metrics {
    /// Random routing, in expectation.
    pub const RANDOM: Metrics = Metrics {
        apgr: 0.5,
        cpt50: 0.5,
        cpt80: 0.8,
    };
}

/// The PGR curve as `(share of strong calls, PGR)` points, one per block
/// of equal scores (highest first), from `(0, 0)` to `(1, 1)`; `None` when
/// there are no rows or the two models are equally accurate.
pub fn curve(outcomes: &[Outcome]) -> Option<Vec<(f64, f64)>> {
    let n = outcomes.len();
    let gap: i64 = outcomes
        .iter()
        .map(|o| i64::from(o.strong) - i64::from(o.weak))
        .sum();
    if n == 0 || gap == 0 {
        return None;
    }
    let mut order: Vec<&Outcome> = outcomes.iter().collect();
    order.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut points = Vec::with_capacity(n + 1);
    points.push((0.0, 0.0));
    let mut gained: i64 = 0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j < n && order[j].score.total_cmp(&order[i].score).is_eq() {
            gained += i64::from(order[j].strong) - i64::from(order[j].weak);
            j += 1;
        }
        points.push((j as f64 / n as f64, gained as f64 / gap as f64));
        i = j;
    }
    Some(points)
}

/// APGR, CPT(50%) and CPT(80%) of a scored set (see the module doc).
pub fn metrics(outcomes: &[Outcome]) -> Option<Metrics> {
    let points = curve(outcomes)?;
    let apgr = points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    let cpt = |p: f64| {
        for w in points.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if y0 >= p {
                return x0;
            }
            if y1 >= p {
                return x0 + (x1 - x0) * (p - y0) / (y1 - y0);
            }
        }
        1.0
    };
    Some(Metrics {
        apgr,
        cpt50: cpt(0.5),
        cpt80: cpt(0.8),
    })
}

/// The chat request explain would see for a prompt: one user message.
fn request(prompt: &str) -> Option<ChatRequest> {
    let body = serde_json::json!({
        "model": "auto",
        "messages": [{"role": "user", "content": prompt}],
    });
    ChatRequest::parse(&serde_json::to_vec(&body).ok()?).ok()
}

/// `complexity.score` exactly as explain computes it for one user message
/// holding `prompt` (0 if such a request cannot be built).
pub fn complexity_score(prompt: &str) -> f64 {
    let Some(req) = request(prompt) else {
        return 0.0;
    };
    let (segments, unscannable) = req.segments();
    complexity::assess(
        &segments,
        Shape {
            unscannable,
            has_tools: req.has_tools,
            max_tokens: req.max_tokens,
        },
    )
    .score
}

/// The raw feature values of the same request, for tuning weights.
pub fn complexity_values(prompt: &str) -> Option<Values> {
    let req = request(prompt)?;
    let (segments, unscannable) = req.segments();
    Some(complexity::values(
        &segments,
        Shape {
            unscannable,
            has_tools: req.has_tools,
            max_tokens: req.max_tokens,
        },
    ))
}

/// One router's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouterRow {
    pub router: &'static str,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The evaluation of one split.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub split: &'static str,
    pub rows: usize,
    pub prompts: usize,
    pub strong_accuracy: f64,
    pub weak_accuracy: f64,
    pub routers: Vec<RouterRow>,
}

/// Scores every row of `split` with each router.
pub fn evaluate(records: &[Record], split: Split) -> Result<Report, RoutingError> {
    let rows: Vec<&Record> = records.iter().filter(|r| split.holds(&r.prompt)).collect();
    if rows.is_empty() {
        return Err(RoutingError::Empty(split.as_str()));
    }
    let outcomes = |score: &dyn Fn(&str) -> f64| -> Vec<Outcome> {
        rows.iter()
            .map(|r| Outcome {
                score: score(&r.prompt),
                strong: r.strong,
                weak: r.weak,
            })
            .collect()
    };
    let no_gap = || RoutingError::NoGap(split.as_str());
    let complexity = metrics(&outcomes(&complexity_score)).ok_or_else(no_gap)?;
    let length = metrics(&outcomes(&|p: &str| p.chars().count() as f64)).ok_or_else(no_gap)?;
    let n = rows.len() as f64;
    let prompts: std::collections::HashSet<&str> = rows.iter().map(|r| r.prompt.as_str()).collect();
    Ok(Report {
        split: split.as_str(),
        rows: rows.len(),
        prompts: prompts.len(),
        strong_accuracy: rows.iter().filter(|r| r.strong).count() as f64 / n,
        weak_accuracy: rows.iter().filter(|r| r.weak).count() as f64 / n,
        routers: vec![
            RouterRow {
                router: "complexity",
                metrics: complexity,
            },
            RouterRow {
                router: "length",
                metrics: length,
            },
            RouterRow {
                router: "random",
                metrics: Metrics::RANDOM,
            },
        ],
    })
}

impl Report {
    /// A plain-text table of the report.
    pub fn table(&self, name: &str) -> String {
        let mut out = format!(
            "{name}: split {}, {} rows ({} prompts), strong {:.3}, weak {:.3}\n",
            self.split, self.rows, self.prompts, self.strong_accuracy, self.weak_accuracy
        );
        out.push_str(&format!(
            "{:<12} {:>6} {:>9} {:>9}\n",
            "router", "APGR", "CPT(50%)", "CPT(80%)"
        ));
        for r in &self.routers {
            out.push_str(&format!(
                "{:<12} {:>6.3} {:>8.1}% {:>8.1}%\n",
                r.router,
                r.metrics.apgr,
                100.0 * r.metrics.cpt50,
                100.0 * r.metrics.cpt80
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests;
