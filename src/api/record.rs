//! What the handlers tell `observe` about a request: the [`Record`] they
//! fill as they go and how it reaches the middleware (a [`Draft`] on the
//! answer, or [`Deferred`] when a stream's end emits it), and the answer's
//! tokens, spend and memory ([`Recorder`]). Every request ends in exactly
//! one record: answered ([`with_record`], [`failed`]), streamed (the tap),
//! held by keep-alives ([`late`]), or dropped before it answered
//! ([`Unanswered`]).

use super::{ApiError, Ctx, Dialect, tap};
use crate::app::AppState;
use crate::config::{Config, Target};
use crate::observe::{Endpoint, Outcome, Record};
use crate::pipeline::Assessment;
use crate::volume::{Count, Dim};
use axum::response::Response;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tracing::Span;

/// A record the handler filled, handed to the middleware with the answer.
#[derive(Clone)]
pub(super) struct Draft(pub Box<Record>);

/// The answer is a stream: its tap (or the keep-alive stream) emits the
/// record when it ends.
#[derive(Clone)]
pub(super) struct Deferred;

/// Attaches what the handler knows to an answer.
pub(super) fn with_record(mut resp: Response, rec: Record) -> Response {
    resp.extensions_mut().insert(Draft(Box::new(rec)));
    resp
}

/// An error answer in the request's dialect (with the level header when
/// the request was classified) and its record.
pub(super) fn failed(
    dialect: Dialect,
    e: ApiError,
    mut rec: Record,
    a: Option<&Assessment>,
) -> Response {
    rec.error = Some(e.code());
    rec.outcome = e.outcome();
    with_record(super::error_with(dialect, e, a), rec)
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The record of a request no handler described yet (auth failures, routes
/// that keep no record of their own): who asked and how it ended.
pub(super) fn bare_record(
    app: &AppState,
    ctx_id: &str,
    endpoint: Endpoint,
    key: Option<usize>,
) -> Record {
    Record {
        request_id: ctx_id.to_owned(),
        unix_ms: unix_now_ms(),
        endpoint,
        key: key.map(|i| app.config.keys[i].name.clone()),
        ..Record::default()
    }
}

/// What the assessment says, into the record: level, finding counts,
/// task, complexity, and the decision's rule and flags.
pub(super) fn assessed(rec: &mut Record, a: &Assessment, config: &Config) {
    rec.level = Some(a.sensitivity.level);
    rec.kinds.clear();
    for f in &a.sensitivity.findings {
        if let Some(n) = rec.findings.get_mut(f.category as usize) {
            *n = n.saturating_add(1);
        }
        let name = f.kind.name(&config.detectors);
        match rec.kinds.iter_mut().find(|(k, _)| k == name) {
            Some((_, n)) => *n = n.saturating_add(1),
            None => rec.kinds.push((name.to_owned(), 1)),
        }
    }
    rec.task = Some(a.complexity.task);
    rec.complexity = Some(a.complexity.score);
    if let Ok(d) = &a.decision {
        rec.rule = Some(d.rule.clone());
        rec.rerouted = d.rerouted;
        rec.offline_fallback = d.offline_fallback;
        rec.budget_downgraded = d.budget_downgraded;
    }
}

pub(super) fn served_by(rec: &mut Record, config: &Config, target: &Target) {
    let b = config.backend(target.backend);
    rec.tier = Some(b.tier);
    rec.backend = Some(b.name.clone());
    rec.backend_id = Some(target.backend);
    rec.protocol = Some(b.protocol);
    rec.model = Some(target.model.clone());
}

/// Finishes and emits a record the middleware would have emitted, from
/// somewhere the request outlived it. `answered`: serving answered, so its
/// time in airlock is known; else (the client left first) no overhead is
/// claimed for the wait.
fn emit_late(
    app: &AppState,
    span: &Span,
    started: Instant,
    mut rec: Record,
    status: u16,
    answered: bool,
) {
    rec.status = status;
    rec.latency = started.elapsed();
    rec.overhead = if answered {
        rec.latency.saturating_sub(rec.upstream)
    } else {
        Duration::ZERO
    };
    app.observer.emit(span, rec);
}

/// The status recorded for a request whose client left before any answer
/// (nginx's "client closed request"); its outcome is `cancelled`.
pub(super) const CLIENT_CLOSED: u16 = 499;

/// Emits a `cancelled` record if the handler's future is dropped before it
/// answers (the client went away while it waited on a backend); the
/// middleware calls [`Unanswered::answered`] when it does answer.
pub(super) struct Unanswered<'a> {
    app: &'a AppState,
    span: &'a Span,
    started: Instant,
    rec: Option<Record>,
}

impl<'a> Unanswered<'a> {
    pub(super) fn new(
        app: &'a AppState,
        span: &'a Span,
        started: Instant,
        rec: Record,
    ) -> Unanswered<'a> {
        Unanswered {
            app,
            span,
            started,
            rec: Some(rec),
        }
    }

    pub(super) fn answered(mut self) {
        self.rec = None;
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if let Some(mut rec) = self.rec.take() {
            rec.outcome = Outcome::Cancelled;
            emit_late(self.app, self.span, self.started, rec, CLIENT_CLOSED, false);
        }
    }
}

/// The record's end for a stream served through `keepalive::hold` whose
/// head went out before serving answered (the middleware saw only the
/// keep-alive response): `late` gets serving's answer, or `None` when the
/// client left first. A streamed answer's tap emits its own record; an
/// error (sent in-band, after a 200 head) is emitted here with its outcome.
pub(super) fn late(
    app: Arc<AppState>,
    ctx: &Ctx,
    a: &Assessment,
    mut fallback: Record,
) -> impl FnOnce(Option<&mut Response>) + Send + 'static {
    assessed(&mut fallback, a, &app.config);
    fallback.stream = true;
    let span = ctx.span.clone();
    let started = ctx.started;
    move |answer| {
        // Taken whole: a closure capturing the record's fields one by one
        // (for `..fallback`) crashes the borrow checker (ICE, rustc 1.95).
        let fallback = fallback;
        let (rec, answered) = match answer {
            Some(r) if r.extensions().get::<Deferred>().is_some() => return,
            Some(r) => match r.extensions_mut().remove::<Draft>() {
                Some(Draft(rec)) => (*rec, true),
                None => {
                    let outcome = Outcome::from_status(r.status().as_u16());
                    (
                        Record {
                            outcome,
                            ..fallback
                        },
                        true,
                    )
                }
            },
            None => {
                let outcome = Outcome::Cancelled;
                (
                    Record {
                        outcome,
                        ..fallback
                    },
                    false,
                )
            }
        };
        // The client got a 200 head; the outcome says how it went.
        emit_late(&app, &span, started, rec, 200, answered);
    }
}

/// Tokens and spend of one answer.
pub(super) struct Usage {
    input: u64,
    output: u64,
    cached: u64,
    estimated: bool,
    cost_usd: f64,
    /// The answer's text, when the rule keeps it for the audit.
    completion: Option<String>,
}

/// What serving records once an answer is known: its tokens and spend in
/// the volume counters and the key's token rate, and a sensitive
/// exchange's answer in memory.
pub(super) struct Recorder {
    pub app: Arc<AppState>,
    pub dims: Arc<[Dim]>,
    pub key: Option<String>,
    pub level: crate::types::Level,
    pub is_chat: bool,
    pub prompt_tokens: u64,
    /// The key's rate limits: its answers' tokens count towards them.
    pub rate: crate::ratelimit::Limits,
    /// The price of the model that answered (cloud backends).
    pub price: Option<crate::config::Price>,
    /// Keep the answer's text for the audit (`audit_content` rules).
    pub keep_text: bool,
}

impl Recorder {
    pub(super) fn record(&self, answer: &tap::Answer) -> Usage {
        let (input_tokens, output_tokens) = answer.tokens(self.prompt_tokens);
        if let Some(key) = &self.key {
            self.app.ratelimit.add_tokens(key, self.rate, output_tokens);
        }
        let cached = answer.cached_tokens.unwrap_or(0).min(input_tokens);
        // Prices are USD per million tokens: one token costs `price` µUSD.
        let spend = self.price.map_or(0.0, |p| {
            (input_tokens - cached) as f64 * p.input
                + cached as f64 * p.cached_input
                + output_tokens as f64 * p.output
        });
        self.app.volume.record(
            &self.dims,
            Count {
                requests: 0,
                input_tokens,
                output_tokens,
                spend_micro_usd: spend.round() as u64,
            },
        );
        if self.is_chat && self.level > crate::types::Level::Public && !answer.text.is_empty() {
            self.app.memory.remember(
                self.key.as_deref(),
                self.level,
                [(crate::openai::Role::Assistant, answer.text.as_str())],
            );
        }
        Usage {
            input: input_tokens,
            output: output_tokens,
            cached,
            // Embeddings report no completion tokens: they have none to estimate.
            estimated: answer.prompt_tokens.is_none()
                || (self.is_chat && answer.completion_tokens.is_none()),
            cost_usd: spend / 1e6,
            completion: self.keep_text.then(|| answer.text.clone()),
        }
    }
}

pub(super) fn add_usage(rec: &mut Record, u: &Usage) {
    rec.input_tokens = u.input;
    rec.output_tokens = u.output;
    rec.cached_tokens = u.cached;
    rec.tokens_estimated = u.estimated;
    rec.cost_usd = u.cost_usd;
    if u.completion.is_some() {
        rec.completion_text = u.completion.clone();
    }
}

/// How a stream the tap saw ended.
pub(super) fn stream_outcome(answer: &tap::Answer) -> (Outcome, Option<&'static str>) {
    match (answer.ended, answer.error_code.as_deref()) {
        (_, Some("upstream_timeout")) => (Outcome::Timeout, Some("upstream_timeout")),
        (_, Some(_)) => (Outcome::UpstreamError, Some("upstream_error")),
        (true, None) => (Outcome::Ok, None),
        (false, None) => (Outcome::Cancelled, None),
    }
}
