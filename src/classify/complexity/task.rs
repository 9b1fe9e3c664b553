//! Task kinds and how one is picked from cue counts: a fixed order of
//! checks, first match wins, so a request is one kind and the rule that
//! gave it is a line to read here. Pure; no text.

use super::cues::Cue;

/// What kind of task a request is, for rules (`when.task`), counters and
/// the score's task offset.
///
/// Drafting ("write an email", "draft a reply to this customer", a
/// briefing) is `chat`: ordinary assistant prose. `creative` is fiction,
/// verse, role-play, essays, blog posts and slogans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    Classification,
    Extraction,
    Formatting,
    Summarization,
    Translation,
    Chat,
    Code,
    Math,
    Reasoning,
    Creative,
    /// Images or audio in the request.
    Multimodal,
    /// Asks for news, prices, weather, scores: facts newer than any model.
    CurrentInfo,
    /// Set by the pipeline for the embeddings endpoint.
    Embedding,
}

impl Task {
    pub const COUNT: usize = 13;
    pub const ALL: [Task; Task::COUNT] = [
        Task::Classification,
        Task::Extraction,
        Task::Formatting,
        Task::Summarization,
        Task::Translation,
        Task::Chat,
        Task::Code,
        Task::Math,
        Task::Reasoning,
        Task::Creative,
        Task::Multimodal,
        Task::CurrentInfo,
        Task::Embedding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Extraction => "extraction",
            Task::Formatting => "formatting",
            Task::Summarization => "summarization",
            Task::Translation => "translation",
            Task::Chat => "chat",
            Task::Code => "code",
            Task::Math => "math",
            Task::Reasoning => "reasoning",
            Task::Creative => "creative",
            Task::Multimodal => "multimodal",
            Task::CurrentInfo => "current_info",
            Task::Embedding => "embedding",
        }
    }

    pub fn parse(s: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// What the kind is picked from: weighted cue counts and a few totals.
pub(super) struct Evidence<'a> {
    pub cues: &'a [f64; Cue::COUNT],
    pub numbers: f64,
    /// Code cues plus a quarter of the code symbols.
    pub code: f64,
    /// Computing-concept cues ("array", "recursion", "website").
    pub technical: f64,
    pub media: bool,
}

/// The first kind whose check holds, in this order: media, code, math,
/// current information, translation, summarization, classification,
/// extraction, formatting, creative, reasoning; else chat.
pub(super) fn pick(e: &Evidence<'_>) -> Task {
    let n = |c: Cue| e.cues[c as usize];
    let math = n(Cue::Math);
    if e.media {
        Task::Multimodal
    } else if e.code >= 2.0 || (e.code >= 1.0 && e.technical >= 1.0) {
        Task::Code
    } else if math >= 2.0 || (math >= 1.0 && e.numbers >= 2.0) {
        Task::Math
    } else if n(Cue::CurrentStrong) >= 1.0
        || (n(Cue::CurrentTime) >= 1.0 && n(Cue::CurrentTopic) >= 1.0)
    {
        Task::CurrentInfo
    } else if n(Cue::Translation) >= 1.0 {
        Task::Translation
    } else if n(Cue::Summarization) >= 1.0 {
        Task::Summarization
    } else if n(Cue::Classification) >= 1.0 {
        Task::Classification
    } else if n(Cue::Extraction) >= 1.0 {
        Task::Extraction
    } else if n(Cue::Formatting) >= 1.0 {
        Task::Formatting
    } else if n(Cue::Creative) >= 1.0 {
        Task::Creative
    } else if n(Cue::Reasoning) + n(Cue::Logic) >= 2.0 {
        Task::Reasoning
    } else {
        Task::Chat
    }
}
