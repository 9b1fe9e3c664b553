//! Complexity and task kind: a first, cheap, explainable estimate of how hard
//! a request is, from features that cost microseconds (length, reasoning and
//! multi-step cues, code, math, images, tools). Pure and synchronous; it never
//! calls a model or the network, and it keeps no text, only feature names.

use crate::openai::{Role, Segment, Unscannable};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::sync::OnceLock;

/// What kind of task a request is, for rules (`when.task`) and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    Chat,
    Code,
    Math,
    Reasoning,
    Extraction,
    Classification,
    Summarization,
    Translation,
    Writing,
    Vision,
    Embedding,
}

impl Task {
    pub const ALL: [Task; 11] = [
        Task::Chat,
        Task::Code,
        Task::Math,
        Task::Reasoning,
        Task::Extraction,
        Task::Classification,
        Task::Summarization,
        Task::Translation,
        Task::Writing,
        Task::Vision,
        Task::Embedding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Chat => "chat",
            Task::Code => "code",
            Task::Math => "math",
            Task::Reasoning => "reasoning",
            Task::Extraction => "extraction",
            Task::Classification => "classification",
            Task::Summarization => "summarization",
            Task::Translation => "translation",
            Task::Writing => "writing",
            Task::Vision => "vision",
            Task::Embedding => "embedding",
        }
    }

    pub fn parse(s: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The estimate for one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Complexity {
    /// 0 (trivial) to 1 (frontier-only), continuous.
    pub score: f64,
    pub task: Task,
    /// Feature names that raised or lowered the score, for explain and logs.
    pub reasons: Vec<&'static str>,
    /// Rough prompt size (bytes / 4).
    pub prompt_tokens: u64,
}

/// Request-level facts the scorer needs besides the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    pub unscannable: Unscannable,
    pub has_tools: bool,
    pub max_tokens: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cue {
    Reasoning,
    MultiStep,
    Code,
    Math,
    Extraction,
    Classification,
    Summarization,
    Translation,
    Writing,
}

const CUES: &[(&str, Cue)] = &[
    ("step by step", Cue::Reasoning),
    ("prove", Cue::Reasoning),
    ("derive", Cue::Reasoning),
    ("analyze", Cue::Reasoning),
    ("analyse", Cue::Reasoning),
    ("trade-off", Cue::Reasoning),
    ("tradeoff", Cue::Reasoning),
    ("explain why", Cue::Reasoning),
    ("why does", Cue::Reasoning),
    ("compare", Cue::Reasoning),
    ("evaluate", Cue::Reasoning),
    ("design a", Cue::Reasoning),
    ("architecture", Cue::Reasoning),
    ("optimize", Cue::Reasoning),
    ("optimise", Cue::Reasoning),
    ("root cause", Cue::Reasoning),
    ("pros and cons", Cue::Reasoning),
    ("think through", Cue::Reasoning),
    ("implications", Cue::Reasoning),
    ("strategy", Cue::Reasoning),
    ("first,", Cue::MultiStep),
    ("then ", Cue::MultiStep),
    ("after that", Cue::MultiStep),
    ("finally", Cue::MultiStep),
    ("next,", Cue::MultiStep),
    ("\n1.", Cue::MultiStep),
    ("\n2.", Cue::MultiStep),
    ("\n3.", Cue::MultiStep),
    ("\n- ", Cue::MultiStep),
    ("```", Cue::Code),
    ("fn ", Cue::Code),
    ("def ", Cue::Code),
    ("class ", Cue::Code),
    ("function ", Cue::Code),
    ("import ", Cue::Code),
    ("#include", Cue::Code),
    ("=>", Cue::Code),
    ("stack trace", Cue::Code),
    ("traceback", Cue::Code),
    ("refactor", Cue::Code),
    ("compile", Cue::Code),
    ("unit test", Cue::Code),
    ("sql", Cue::Code),
    ("regex", Cue::Code),
    ("integral", Cue::Math),
    ("equation", Cue::Math),
    ("theorem", Cue::Math),
    ("probability", Cue::Math),
    ("derivative", Cue::Math),
    ("matrix", Cue::Math),
    ("solve for", Cue::Math),
    ("calculate", Cue::Math),
    ("extract", Cue::Extraction),
    ("pull out", Cue::Extraction),
    ("list all", Cue::Extraction),
    ("parse the", Cue::Extraction),
    ("as json", Cue::Extraction),
    ("classify", Cue::Classification),
    ("categorize", Cue::Classification),
    ("categorise", Cue::Classification),
    ("sentiment", Cue::Classification),
    ("label the", Cue::Classification),
    ("is this spam", Cue::Classification),
    ("summarize", Cue::Summarization),
    ("summarise", Cue::Summarization),
    ("summary", Cue::Summarization),
    ("tl;dr", Cue::Summarization),
    ("translate", Cue::Translation),
    ("write a", Cue::Writing),
    ("draft", Cue::Writing),
    ("essay", Cue::Writing),
    ("story", Cue::Writing),
    ("poem", Cue::Writing),
    ("blog post", Cue::Writing),
];

fn automaton() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(CUES.iter().map(|(p, _)| p))
            .expect("the cue patterns are constant and valid")
    })
}

#[derive(Default)]
struct Counts {
    reasoning: u32,
    multi_step: u32,
    code: u32,
    math: u32,
    extraction: u32,
    classification: u32,
    summarization: u32,
    translation: u32,
    writing: u32,
}

/// Scores a request. `segments` are all its texts; cues are read from the
/// system prompts and the last user turn, size from everything.
pub fn assess(segments: &[Segment<'_>], shape: Shape) -> Complexity {
    let total_bytes: usize = segments.iter().map(|s| s.text.len()).sum();
    let prompt_tokens = (total_bytes as u64).div_ceil(4);
    let last_user = segments
        .iter()
        .rev()
        .find(|s| matches!(s.role, Role::User | Role::Input))
        .map(|s| s.message);

    let mut counts = Counts::default();
    let ac = automaton();
    for seg in segments
        .iter()
        .filter(|s| s.role == Role::System || Some(s.message) == last_user)
    {
        for m in ac.find_iter(seg.text) {
            let c = match CUES[m.pattern().as_usize()].1 {
                Cue::Reasoning => &mut counts.reasoning,
                Cue::MultiStep => &mut counts.multi_step,
                Cue::Code => &mut counts.code,
                Cue::Math => &mut counts.math,
                Cue::Extraction => &mut counts.extraction,
                Cue::Classification => &mut counts.classification,
                Cue::Summarization => &mut counts.summarization,
                Cue::Translation => &mut counts.translation,
                Cue::Writing => &mut counts.writing,
            };
            *c += 1;
        }
    }

    let mut score = 0.05;
    let mut reasons = Vec::new();
    // Length: 0 at a few hundred tokens, ~0.35 at 8k.
    let length = 0.35 * ((1.0 + prompt_tokens as f64 / 500.0).ln() / 17f64.ln()).min(1.0);
    if prompt_tokens > 1_000 {
        reasons.push("long_prompt");
    }
    score += length;
    if counts.reasoning > 0 {
        score += (0.14 * counts.reasoning as f64).min(0.4);
        reasons.push("reasoning_cues");
    }
    if counts.multi_step >= 3 {
        score += (0.04 * counts.multi_step as f64).min(0.2);
        reasons.push("multi_step");
    }
    if counts.code >= 2 {
        score += (0.08 * counts.code as f64).min(0.3);
        reasons.push("code");
    }
    if counts.math >= 1 {
        score += (0.1 * counts.math as f64).min(0.25);
        reasons.push("math");
    }
    if shape.unscannable.images > 0 {
        score += 0.25;
        reasons.push("images");
    }
    if shape.has_tools {
        score += 0.1;
        reasons.push("tools");
    }
    if shape.max_tokens.is_some_and(|n| n > 2_000) {
        score += 0.05;
        reasons.push("long_output");
    }
    let simple = counts.extraction + counts.classification + counts.translation;
    if simple > 0 && counts.reasoning == 0 && prompt_tokens < 1_000 {
        score -= 0.05;
        reasons.push("simple_task");
    }

    let task = if shape.unscannable.images > 0 {
        Task::Vision
    } else if counts.code >= 2 {
        Task::Code
    } else if counts.math >= 1 {
        Task::Math
    } else if counts.classification > 0 {
        Task::Classification
    } else if counts.extraction > 0 {
        Task::Extraction
    } else if counts.translation > 0 {
        Task::Translation
    } else if counts.summarization > 0 {
        Task::Summarization
    } else if counts.reasoning >= 2 {
        Task::Reasoning
    } else if counts.writing > 0 {
        Task::Writing
    } else {
        Task::Chat
    };

    Complexity {
        score: score.clamp(0.0, 1.0),
        task,
        reasons,
        prompt_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::{Field, Segment};

    fn user(text: &str) -> Segment<'_> {
        Segment {
            message: 0,
            part: None,
            field: Field::Content,
            role: Role::User,
            text,
        }
    }

    fn score(text: &str) -> Complexity {
        assess(&[user(text)], Shape::default())
    }

    #[test]
    fn short_simple_requests_score_low() {
        let c = score("Classify the sentiment of: I love this phone.");
        assert!(c.score < 0.2, "{c:?}");
        assert_eq!(c.task, Task::Classification);
        assert_eq!(score("hello there").task, Task::Chat);
    }

    #[test]
    fn reasoning_and_code_score_high() {
        let c = score(
            "Analyze the trade-offs step by step and design a distributed cache architecture.\n\
             First, compare approaches.\n1. consistency\n2. latency\n3. cost\nThen write code:\n\
             ```rust\nfn main() { let x = 1; }\n```",
        );
        assert!(c.score >= 0.6, "{c:?}");
        assert!(c.reasons.contains(&"reasoning_cues"));
        assert!(c.reasons.contains(&"code"));
    }

    #[test]
    fn score_grows_with_length_and_is_bounded() {
        let short = score("tell me about rust").score;
        let long_text = "tell me about rust. ".repeat(2_000);
        let long = score(&long_text);
        assert!(long.score > short);
        assert!(long.reasons.contains(&"long_prompt"));
        let huge = "prove the theorem step by step analyze compare ".repeat(10_000);
        let h = score(&huge);
        assert!((0.0..=1.0).contains(&h.score));
    }

    #[test]
    fn images_and_tools_raise_the_score() {
        let shape = Shape {
            unscannable: Unscannable {
                images: 1,
                ..Default::default()
            },
            has_tools: true,
            max_tokens: None,
        };
        let c = assess(&[user("what is in this picture?")], shape);
        assert_eq!(c.task, Task::Vision);
        assert!(c.reasons.contains(&"images") && c.reasons.contains(&"tools"));
        assert!(c.score > score("what is in this picture?").score);
    }

    #[test]
    fn only_system_and_last_user_turn_give_cues() {
        let old = Segment {
            message: 0,
            ..user("prove this theorem step by step")
        };
        let last = Segment {
            message: 2,
            ..user("thanks!")
        };
        let c = assess(&[old, last], Shape::default());
        assert!(!c.reasons.contains(&"reasoning_cues"), "{c:?}");
    }

    #[test]
    fn task_names_round_trip() {
        for t in Task::ALL {
            assert_eq!(Task::parse(t.as_str()), Some(t));
        }
    }
}
