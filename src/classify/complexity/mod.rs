//! Complexity and task kind: a cheap, explainable estimate of how much a
//! request needs a strong model, from features that cost microseconds.
//! Pure and synchronous; it never calls a model or the network, and it
//! keeps no text, only counts and feature names.
//!
//! **How the score is made.** Each feature has a raw value (a count, a
//! token estimate, a share) and contributes `weight * v / (v + half)`:
//! zero at zero, half its weight at `half`, never more than its weight.
//! The score is `base` plus the contributions plus the task kind's offset,
//! clamped to 0..1, so explain can list what moved it and by how much.
//!
//! **Which text counts.** Size (`length`) counts every segment. Cues and
//! text statistics count the system prompts and the user turns: the last
//! user turn fully, system prompts and earlier user turns at half weight
//! (a follow-up like "now prove it" inherits some of its conversation).
//! Assistant and tool texts only add to size.
//!
//! **Where the weights come from.** The text features marked "fitted" in
//! `WEIGHTS` come from a ridge regression, on the train half of RouteLLM's
//! MMLU results (GPT-4 against Mixtral-8x7B), of each question's gain
//! (+1 when only the strong model was right, -1 when only the weak one
//! was) on the features' transformed values, signs fixed in advance, then
//! scaled by 2 onto the score (`examples/tune_complexity.rs`); the split,
//! the metrics and the held-out figures are in `crate::eval::routing`
//! (`airlock eval-routing`). The length weight, 0.3, is the scale. The
//! weights marked "set" are chosen by hand for what MMLU cannot show or
//! shows wrongly: images, tools, turns and requested output length do not
//! occur in it; reasoning and step cues are rare in it; code and math, and
//! the task offsets, follow published per-category gaps (coding and math
//! gain most from a strong model, extraction and reasoning less, creative
//! writing and role-play least). Features the fit set to zero
//! (`questions`, `constraints`, `science`, `numbers`) are still counted and
//! feed the task kind.
//!
//! **Picking an option is not writing an answer.** Those category gaps are
//! measured on written answers, where a strong model works a problem
//! through. A request that only picks one of three or more lettered
//! options, with no written answer asked for (no "explain your answer",
//! "step by step", "detailed", word count, nor `max_tokens` above 16, in
//! the last user turn or a system prompt), gets none of the
//! answer priors (`ANSWER_PRIORS`: steps, reasoning, code, math, the task
//! offset): the `choices` feature adds minus their sum, and explain shows
//! both. MMLU shows why: its strong model, asked for one letter, gained
//! nothing on high-school mathematics (-0.24 on train) while the math
//! prior ranked those questions high. Every MMLU prompt is such a request,
//! so on it the score is length plus the fitted text features.
//!
//! **Scale.** On MMLU questions the score is mostly 0.14 to 0.57 (median
//! 0.22; 0.5 and above, the shipped config's threshold, is the top 13%);
//! multi-step design or coding requests reach 0.6 to 0.9.

mod cues;
mod phrases;
mod task;
#[cfg(test)]
mod tests;

pub use task::Task;

use crate::openai::{Role, Segment, Unscannable};
use cues::Cue;

/// The estimate for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Complexity {
    /// 0 (trivial) to 1 (frontier-only), continuous.
    pub score: f64,
    pub task: Task,
    /// The features that moved the score, largest effect first.
    pub features: Vec<Contribution>,
    /// Rough prompt size (bytes / 4).
    pub prompt_tokens: u64,
}

impl Complexity {
    /// The names of the features that moved the score, for logs.
    pub fn reasons(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.features.iter().map(|c| c.feature.as_str())
    }
}

/// One feature's raw value and what it added to the score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contribution {
    pub feature: Feature,
    pub value: f64,
    pub contribution: f64,
}

/// Request-level facts the scorer needs besides the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub unscannable: Unscannable,
    pub has_tools: bool,
    pub max_tokens: Option<u64>,
}

/// A score feature. Values are counts over the scored text unless noted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// Prompt tokens (bytes / 4) over every segment.
    Length,
    /// Sentence ends.
    Sentences,
    /// Question marks.
    Questions,
    /// Ordered steps: "first,", "then", numbered and bulleted lines.
    Steps,
    /// Constraints: "must", "only", "each", "unless", "at least"...
    Constraints,
    /// "not", "except", "least", "n't"...
    Negation,
    /// Comparisons: "more", "than", "lower", "increase"...
    Comparison,
    /// Asks for a name or a definition: "is called", "refers to"...
    Recall,
    /// Personal pronouns: a situation with people in it to reason about.
    Narrative,
    /// Enumerated parts to judge one by one ("Statement 1", "II.").
    Parts,
    /// Reasoning cues: "explain why", "compare", "trade-off"...
    Reasoning,
    /// Formal logic and argument vocabulary.
    Logic,
    /// Legal reasoning vocabulary.
    Legal,
    /// Computing concepts.
    Technical,
    /// Quantitative science and economics vocabulary.
    Science,
    /// Normative judgement vocabulary.
    Ethics,
    /// Code cues plus a quarter of `{`, `}` and `;`.
    Code,
    /// Math keywords and symbols.
    Math,
    /// Numbers: runs of digits and numbers written as words (\"three\").
    Numbers,
    /// Requested output tokens: `max_tokens`, "in 2000 words", "detailed".
    OutputLength,
    /// User turns before the last one.
    Turns,
    /// 1 when the request offers tools.
    Tools,
    /// Images attached.
    Images,
    /// The task kind's offset (value 1).
    TaskKind,
    /// Lettered options to pick from ("A. ..", "B) ..", "(C) .."), counted
    /// when there are at least three and no written answer is asked for:
    /// it cancels the [`ANSWER_PRIORS`] (it comes last in `ALL` so that
    /// they are known when it is scored).
    Choices,
}

impl Feature {
    pub const COUNT: usize = 25;
    pub const ALL: [Feature; Feature::COUNT] = [
        Feature::Length,
        Feature::Sentences,
        Feature::Questions,
        Feature::Steps,
        Feature::Constraints,
        Feature::Negation,
        Feature::Comparison,
        Feature::Recall,
        Feature::Narrative,
        Feature::Parts,
        Feature::Reasoning,
        Feature::Logic,
        Feature::Legal,
        Feature::Technical,
        Feature::Science,
        Feature::Ethics,
        Feature::Code,
        Feature::Math,
        Feature::Numbers,
        Feature::OutputLength,
        Feature::Turns,
        Feature::Tools,
        Feature::Images,
        Feature::TaskKind,
        Feature::Choices,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Length => "length",
            Feature::Sentences => "sentences",
            Feature::Questions => "questions",
            Feature::Steps => "steps",
            Feature::Constraints => "constraints",
            Feature::Negation => "negation",
            Feature::Comparison => "comparison",
            Feature::Recall => "recall",
            Feature::Narrative => "narrative",
            Feature::Parts => "parts",
            Feature::Reasoning => "reasoning",
            Feature::Logic => "logic",
            Feature::Legal => "legal",
            Feature::Technical => "technical",
            Feature::Science => "science",
            Feature::Ethics => "ethics",
            Feature::Code => "code",
            Feature::Math => "math",
            Feature::Numbers => "numbers",
            Feature::OutputLength => "output_length",
            Feature::Turns => "turns",
            Feature::Tools => "tools",
            Feature::Images => "images",
            Feature::TaskKind => "task_kind",
            Feature::Choices => "choices",
        }
    }
}

/// How much each feature can move the score. `features[f]` is
/// `(weight, half)`: the feature adds `weight * v / (v + half)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    pub base: f64,
    pub features: [(f64, f64); Feature::COUNT],
    /// Offset per task kind, indexed like `Task::ALL`.
    pub tasks: [f64; Task::COUNT],
}

/// The shipped weights (see the module doc for where they come from).
pub const WEIGHTS: Weights = Weights {
    base: 0.05,
    features: [
        (0.30, 759.4),   // length (set: the scale)
        (0.15, 4.0),     // sentences (fitted)
        (0.00, 2.0),     // questions (fitted)
        (0.18, 3.0),     // steps (set)
        (0.00, 3.0),     // constraints (fitted)
        (0.15, 2.0),     // negation (fitted)
        (0.33, 4.0),     // comparison (fitted)
        (-0.23, 1.0),    // recall (fitted)
        (0.16, 3.0),     // narrative (fitted)
        (0.47, 1.0),     // parts (fitted)
        (0.38, 2.0),     // reasoning (set)
        (0.02, 2.0),     // logic (fitted)
        (0.05, 2.0),     // legal (fitted)
        (0.03, 2.0),     // technical (fitted)
        (0.00, 2.0),     // science (fitted)
        (0.07, 1.0),     // ethics (fitted)
        (0.22, 3.0),     // code (set)
        (0.09, 2.0),     // math (set)
        (0.00, 4.0),     // numbers (fitted)
        (0.15, 1_000.0), // output_length (set)
        (0.12, 2.0),     // turns (set)
        (0.12, 1.0),     // tools (set)
        (0.38, 1.0),     // images (set)
        (1.0, 0.0),      // task_kind: the offset itself (set)
        (0.0, 1.0),      // choices: cancels the answer priors, no weight of its own
    ],
    tasks: [
        -0.06, // classification
        0.08,  // extraction
        -0.06, // formatting
        -0.03, // summarization
        -0.03, // translation
        0.00,  // chat
        0.22,  // code
        0.08,  // math
        0.08,  // reasoning
        -0.12, // creative
        0.00,  // multimodal
        0.00,  // current_info
        0.00,  // embedding
    ],
};

/// The raw feature values of one request and its task kind, before any
/// weight: what tuning varies the weights over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Values {
    pub raw: [f64; Feature::COUNT],
    pub task: Task,
    pub prompt_tokens: u64,
}

/// Longest text read whole for cues; a longer one is read at its start
/// (`HEAD` bytes) and end (`TAIL` bytes), where instructions and questions
/// sit, so a long pasted document costs the same as a 4 KB one (the cue
/// pass runs at about 1 ns a byte). Length itself always counts every
/// byte. (Five MMLU prompts are longer; the measured figures are the same
/// as with 8 KB read.)
const SAMPLE: usize = 4 * 1024;
const HEAD: usize = 3 * 1024;
const TAIL: usize = 1024;

/// The most output tokens a request may ask for and still count as
/// picking an option rather than writing an answer.
const CHOICE_OUTPUT: f64 = 16.0;

/// The longest run of lettered options in `text`, one per line, in order
/// from `A`: "A. ..", "A) .." or "(A) ..". Three or more make a
/// multiple-choice question.
fn choices(text: &str) -> u32 {
    let mut best = 0;
    let mut next = b'A';
    for line in text.lines() {
        let l = line.trim_start().as_bytes();
        let letter = match l {
            [b'(', c, b')', b' ' | b'\t', ..] => Some(*c),
            [c, b'.' | b')', b' ' | b'\t', ..] => Some(*c),
            _ => None,
        };
        match letter {
            Some(c) if c == next => next += 1,
            Some(b'A') => next = b'B',
            _ => continue,
        }
        best = best.max(u32::from(next - b'A'));
        if next > b'Z' {
            next = b'A';
        }
    }
    best
}

/// Phrases that ask for the answer to be worked or explained in writing.
const WORKING: [&str; 10] = [
    "explain your",
    "show your work",
    "step by step",
    "step-by-step",
    "justify your",
    "walk me through",
    "give your reasoning",
    "with reasoning",
    "and explain",
    "then explain",
];

/// Whether `text` asks for a worked or explained answer. Only read when
/// the last user turn lists options, so its cost (a lower-cased copy of
/// at most `SAMPLE` bytes) falls on multiple-choice requests alone.
fn asks_for_working(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    WORKING.iter().any(|p| lower.contains(p))
}

/// The parts of `text` that are read for cues.
fn sample(text: &str) -> impl Iterator<Item = &str> {
    let (head, tail) = if text.len() <= SAMPLE {
        (text, "")
    } else {
        let mut h = HEAD;
        while !text.is_char_boundary(h) {
            h -= 1;
        }
        let mut t = text.len() - TAIL;
        while !text.is_char_boundary(t) {
            t += 1;
        }
        (&text[..h], &text[t..])
    };
    [head, tail].into_iter().filter(|p| !p.is_empty())
}

/// Reads the features of a request. `segments` are all its texts.
pub fn values(segments: &[Segment<'_>], shape: Shape) -> Values {
    let total_bytes: usize = segments.iter().map(|s| s.text.len()).sum();
    let prompt_tokens = (total_bytes as u64).div_ceil(4);
    let last_user = segments
        .iter()
        .rev()
        .find(|s| matches!(s.role, Role::User | Role::Input))
        .map(|s| s.message);

    let mut cue = [0.0f64; Cue::COUNT];
    let mut sum = |c: &cues::TextCounts, w: f64, into: &mut Sums| {
        for (acc, n) in cue.iter_mut().zip(c.cues) {
            *acc += w * f64::from(n);
        }
        into.pronouns += w * f64::from(c.pronouns);
        into.numbers += w * f64::from(c.numbers);
        into.questions += w * f64::from(c.questions);
        into.sentences += w * f64::from(c.sentences);
        into.code_symbols += w * f64::from(c.code_symbols);
        into.asked_tokens = into.asked_tokens.max(c.asked_tokens);
    };
    let mut s = Sums::default();
    let mut earlier_user = std::collections::BTreeSet::new();
    for seg in segments {
        let weight = match seg.role {
            Role::User | Role::Input if Some(seg.message) == last_user => 1.0,
            Role::User | Role::Input => {
                earlier_user.insert(seg.message);
                0.5
            }
            Role::System => 0.5,
            Role::Assistant | Role::Tool => continue,
        };
        for piece in sample(seg.text) {
            sum(&cues::count(piece), weight, &mut s);
        }
    }
    let n = |c: Cue| cue[c as usize];
    let code = n(Cue::Code) + s.code_symbols / 4.0;
    let numbers = s.numbers + n(Cue::NumberWord);
    let task = task::pick(&task::Evidence {
        cues: &cue,
        numbers,
        code,
        technical: n(Cue::Technical),
        media: shape.unscannable.images + shape.unscannable.audio > 0,
    });
    let asked = s.asked_tokens as f64 + 500.0 * n(Cue::Detail);
    let output = asked.max(shape.max_tokens.unwrap_or(0) as f64);
    let options = segments
        .iter()
        .filter(|s| Some(s.message) == last_user)
        .flat_map(|s| sample(s.text))
        .map(choices)
        .max()
        .unwrap_or(0);
    let picks = options >= 3
        && output <= CHOICE_OUTPUT
        && !segments
            .iter()
            .filter(|s| Some(s.message) == last_user || s.role == Role::System)
            .flat_map(|s| sample(s.text))
            .any(asks_for_working);
    let mut raw = [0.0; Feature::COUNT];
    for f in Feature::ALL {
        raw[f as usize] = match f {
            Feature::Length => prompt_tokens as f64,
            Feature::Sentences => s.sentences,
            Feature::Questions => s.questions,
            Feature::Steps => n(Cue::Step),
            Feature::Constraints => n(Cue::Constraint),
            Feature::Negation => n(Cue::Negation),
            Feature::Comparison => n(Cue::Comparison),
            Feature::Recall => n(Cue::Recall),
            Feature::Narrative => s.pronouns,
            Feature::Parts => n(Cue::Part),
            Feature::Reasoning => n(Cue::Reasoning),
            Feature::Logic => n(Cue::Logic),
            Feature::Legal => n(Cue::Legal),
            Feature::Technical => n(Cue::Technical),
            Feature::Science => n(Cue::Science),
            Feature::Ethics => n(Cue::Ethics),
            Feature::Code => code,
            Feature::Math => n(Cue::Math),
            Feature::Numbers => numbers,
            Feature::OutputLength => output,
            Feature::Turns => earlier_user.len() as f64,
            Feature::Tools => f64::from(u8::from(shape.has_tools)),
            Feature::Images => shape.unscannable.images as f64,
            Feature::TaskKind => 1.0,
            Feature::Choices => {
                if picks {
                    f64::from(options)
                } else {
                    0.0
                }
            }
        };
    }
    Values {
        raw,
        task,
        prompt_tokens,
    }
}

/// Weighted totals of the text statistics.
#[derive(Default)]
struct Sums {
    pronouns: f64,
    numbers: f64,
    questions: f64,
    sentences: f64,
    code_symbols: f64,
    asked_tokens: u64,
}

/// The hand-set priors that describe what a strong model adds to a
/// written answer; a request that only picks an option gets none of them.
pub const ANSWER_PRIORS: [Feature; 5] = [
    Feature::Steps,
    Feature::Reasoning,
    Feature::Code,
    Feature::Math,
    Feature::TaskKind,
];

/// What each feature adds under `w` (the task kind's offset included).
/// When the request picks one of lettered options (`choices` above zero),
/// `choices` adds minus the answer priors, so they cancel and explain
/// shows both.
pub fn contributions(v: &Values, w: &Weights) -> [f64; Feature::COUNT] {
    let mut out = [0.0; Feature::COUNT];
    for f in Feature::ALL {
        let x = v.raw[f as usize];
        out[f as usize] = match f {
            Feature::TaskKind => w.tasks[v.task as usize],
            Feature::Choices if x > 0.0 => {
                -ANSWER_PRIORS.iter().map(|p| out[*p as usize]).sum::<f64>()
            }
            _ => {
                let (weight, half) = w.features[f as usize];
                if x > 0.0 {
                    weight * x / (x + half)
                } else {
                    0.0
                }
            }
        };
    }
    out
}

/// The score under `w`: base plus every contribution, clamped to 0..1.
pub fn score(v: &Values, w: &Weights) -> f64 {
    (w.base + contributions(v, w).iter().sum::<f64>()).clamp(0.0, 1.0)
}

/// Builds the cue automaton ahead of the first request (it is built on
/// first use otherwise).
pub fn warm() {
    cues::warm();
}

/// Scores a request with the shipped weights.
pub fn assess(segments: &[Segment<'_>], shape: Shape) -> Complexity {
    let v = values(segments, shape);
    let parts = contributions(&v, &WEIGHTS);
    let mut features: Vec<Contribution> = Feature::ALL
        .into_iter()
        .filter(|f| parts[*f as usize].abs() >= 0.0005)
        .map(|f| Contribution {
            feature: f,
            value: v.raw[f as usize],
            contribution: parts[f as usize],
        })
        .collect();
    features.sort_by(|a, b| b.contribution.abs().total_cmp(&a.contribution.abs()));
    Complexity {
        score: (WEIGHTS.base + parts.iter().sum::<f64>()).clamp(0.0, 1.0),
        task: v.task,
        features,
        prompt_tokens: v.prompt_tokens,
    }
}
