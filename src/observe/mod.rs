//! What airlock tells operators about each request: one [`Record`] per
//! request, assembled when the request is over (a stream: when it ends or
//! the client goes away), including requests refused before any routing
//! (bad JSON, a wrong key, the tier filter). The [`Observer`] hands each
//! record to the Prometheus metrics, to one structured log event inside the
//! request's `tracing` span, and to any extra [`Sink`] (the audit store).
//!
//! Must not: carry prompt or completion text, header values or anything a
//! caller wrote other than the (configured) key name and the model name;
//! block the request path (sinks must queue, not do I/O inline).

mod json_log;
pub mod log_buffer;
pub mod logging;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;

use crate::classify::Task;
use crate::classify::sensitivity::Category;
use crate::config::{BackendId, Protocol};
use crate::types::{Level, Tier};
use std::sync::Arc;
use std::time::Duration;
use tracing::Span;

pub use metrics::Metrics;

/// The API surface a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Endpoint {
    #[default]
    Chat,
    Embeddings,
    Explain,
    Models,
    Cost,
    /// `/v1/messages` (Anthropic's Messages API).
    Messages,
    /// `/v1/messages/count_tokens`.
    CountTokens,
    /// `/v1/airlock/report` (the dashboard's data).
    Report,
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Chat,
        Endpoint::Embeddings,
        Endpoint::Explain,
        Endpoint::Models,
        Endpoint::Cost,
        Endpoint::Messages,
        Endpoint::CountTokens,
        Endpoint::Report,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Chat => "chat",
            Endpoint::Embeddings => "embeddings",
            Endpoint::Explain => "explain",
            Endpoint::Models => "models",
            Endpoint::Cost => "cost",
            Endpoint::Messages => "messages",
            Endpoint::CountTokens => "count_tokens",
            Endpoint::Report => "report",
        }
    }

    /// Whether requests here are sent to backends (the others only read
    /// or judge: their decision flags count in no tier-filter metric).
    pub fn dispatches(self) -> bool {
        matches!(
            self,
            Endpoint::Chat | Endpoint::Embeddings | Endpoint::Messages
        )
    }

    /// The endpoint of a `/v1` path (the routes the request middleware wraps).
    pub fn from_path(path: &str) -> Endpoint {
        match path {
            "/v1/embeddings" => Endpoint::Embeddings,
            "/v1/airlock/explain" => Endpoint::Explain,
            "/v1/models" => Endpoint::Models,
            "/v1/airlock/cost" => Endpoint::Cost,
            "/v1/messages" => Endpoint::Messages,
            "/v1/messages/count_tokens" => Endpoint::CountTokens,
            "/v1/airlock/report" => Endpoint::Report,
            _ => Endpoint::Chat,
        }
    }
}

/// How a request ended, from the operator's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Outcome {
    #[default]
    Ok,
    /// The caller's fault: bad JSON, unknown model, unsupported parameter,
    /// too large, or a backend's 4xx relayed.
    ClientError,
    /// No or wrong gateway key.
    Unauthorized,
    /// The tier filter refused it (`on_violation = "reject"`).
    Blocked,
    /// No allowed backend was up or available (down, circuit open,
    /// loading, queue full): failed closed.
    NoBackend,
    /// The gateway key is over its per-minute limits, or every backend
    /// tried was rate-limited.
    RateLimited,
    /// A cloud budget is spent (`budgets.on_exceeded = "reject"`).
    Budget,
    /// A backend failed (bad status, invalid answer, a stream broken after
    /// the first byte).
    UpstreamError,
    Timeout,
    /// A backend's safety filter refused the prompt.
    ContentFilter,
    /// The client went away before the answer was complete.
    Cancelled,
    /// Airlock's own failure.
    Internal,
}

impl Outcome {
    pub const ALL: [Outcome; 12] = [
        Outcome::Ok,
        Outcome::ClientError,
        Outcome::Unauthorized,
        Outcome::Blocked,
        Outcome::NoBackend,
        Outcome::RateLimited,
        Outcome::Budget,
        Outcome::UpstreamError,
        Outcome::Timeout,
        Outcome::ContentFilter,
        Outcome::Cancelled,
        Outcome::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::ClientError => "client_error",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Blocked => "blocked",
            Outcome::NoBackend => "no_backend",
            Outcome::RateLimited => "rate_limited",
            Outcome::Budget => "budget",
            Outcome::UpstreamError => "upstream_error",
            Outcome::Timeout => "timeout",
            Outcome::ContentFilter => "content_filter",
            Outcome::Cancelled => "cancelled",
            Outcome::Internal => "internal_error",
        }
    }

    /// A best guess from the status alone, for answers no handler described.
    pub fn from_status(status: u16) -> Outcome {
        match status {
            200..=399 => Outcome::Ok,
            401 => Outcome::Unauthorized,
            403 => Outcome::Blocked,
            429 => Outcome::RateLimited,
            503 => Outcome::NoBackend,
            504 => Outcome::Timeout,
            400..=499 => Outcome::ClientError,
            500 => Outcome::Internal,
            _ => Outcome::UpstreamError,
        }
    }
}

/// Findings per category (counts only), indexed by `Category as usize`.
pub type FindingCounts = [u32; Category::ALL.len()];

/// Everything known about one finished request. Plain data, no content:
/// levels, categories and counts, configured names, numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    pub request_id: String,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    pub endpoint: Endpoint,
    /// The gateway key's configured name.
    pub key: Option<String>,
    /// Set once the request was classified.
    pub level: Option<Level>,
    pub findings: FindingCounts,
    /// Findings per kind (`email`, a custom detector's name), counts only.
    pub kinds: Vec<(String, u32)>,
    /// Salted hash of the conversation's opening (set when the audit is on).
    pub conversation: Option<String>,
    /// The prompt and completion text, only for a rule with
    /// `audit_content = true` and only for the audit: no log, metric or
    /// span reads them.
    pub prompt_text: Option<String>,
    pub completion_text: Option<String>,
    pub task: Option<Task>,
    pub complexity: Option<f64>,
    /// The rule that chose the pool (`explicit` when served as asked).
    pub rule: Option<String>,
    /// The backend that answered, or the last one tried.
    pub tier: Option<Tier>,
    pub backend: Option<String>,
    pub backend_id: Option<BackendId>,
    pub protocol: Option<Protocol>,
    /// The model sent to the backend.
    pub model: Option<String>,
    pub stream: bool,
    /// The tier filter moved it away from what was asked.
    pub rerouted: bool,
    /// Distinct values replaced by placeholders before sending.
    pub redacted: u32,
    pub offline_fallback: bool,
    pub budget_downgraded: bool,
    /// Backend calls made, retries and fallbacks included.
    pub attempts: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Part of `input_tokens` served from the provider's prompt cache.
    pub cached_tokens: u64,
    /// The backend reported no usage: tokens are airlock's estimates.
    pub tokens_estimated: bool,
    /// What the answer cost at the configured price (0 for local backends).
    pub cost_usd: f64,
    /// Arrival to the last byte handed over (streams: the stream's end).
    pub latency: Duration,
    /// Arrival to the first streamed chunk (streams only).
    pub ttft: Option<Duration>,
    /// Time waiting on backends before the answer began (calls and retry waits).
    pub upstream: Duration,
    /// Time spent in airlock itself before the answer began: everything
    /// but `upstream`.
    pub overhead: Duration,
    pub status: u16,
    pub outcome: Outcome,
    /// The stable error code the caller got, if any.
    pub error: Option<&'static str>,
}

impl Record {
    /// Finding categories with a count, in category order.
    pub fn finding_categories(&self) -> impl Iterator<Item = (Category, u32)> + '_ {
        Category::ALL
            .into_iter()
            .zip(self.findings)
            .filter(|(_, n)| *n > 0)
    }
}

/// A consumer of finished records (e.g. the audit store). `record` runs on
/// the request path: it must be quick and must not block (queue the record
/// and do I/O elsewhere).
pub trait Sink: Send + Sync {
    fn record(&self, record: &Record);
}

/// Hands each finished record to the metrics, the log and the sinks.
pub struct Observer {
    pub metrics: Metrics,
    sinks: Vec<Arc<dyn Sink>>,
}

impl Observer {
    pub fn new(metrics: Metrics, sinks: Vec<Arc<dyn Sink>>) -> Observer {
        Observer { metrics, sinks }
    }

    /// The extra consumers of records (kept across a config reload).
    pub fn sinks(&self) -> Vec<Arc<dyn Sink>> {
        self.sinks.clone()
    }

    /// A request arrived (counted in flight until its record is emitted).
    pub fn begin(&self) {
        self.metrics.request_started();
    }

    /// Emits a finished record: metrics, one `request` log event inside
    /// `span` (with `otel`: the decision on the exported span), then the sinks.
    pub fn emit(&self, span: &Span, record: Record) {
        self.metrics.record(&record);
        #[cfg(feature = "otel")]
        otel::annotate(span, &record);
        span.in_scope(|| log(&record));
        for s in &self.sinks {
            s.record(&record);
        }
    }
}

/// The per-request span: its id, endpoint and gateway key. Every event
/// inside the request carries them; the decision goes in the closing
/// `request` event (and, with `otel`, on the exported span as attributes),
/// not into span fields: the JSON formatter re-parses a span's fields on
/// every `record`, ten microseconds a request for nothing the event lacks.
/// `otel.*` fields are read by the OpenTelemetry layer and no other.
pub fn request_span(request_id: &str, endpoint: Endpoint, key: Option<&str>) -> Span {
    macro_rules! span {
        ($($otel:tt)*) => {
            tracing::info_span!(
                "request",
                $($otel)*
                request_id,
                endpoint = endpoint.as_str(),
                key,
            )
        };
    }
    #[cfg(feature = "otel")]
    let span = span!(
        otel.kind = "server",
        otel.name = endpoint.as_str(),
        otel.status_code = tracing::field::Empty,
    );
    #[cfg(not(feature = "otel"))]
    let span = span!();
    span
}

/// `pii:2,secret:1`: categories and counts, never the values.
fn findings_field(r: &Record) -> String {
    let mut out = String::new();
    for (c, n) in r.finding_categories() {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(c.as_str());
        out.push(':');
        out.push_str(&n.to_string());
    }
    out
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The one log event per request.
fn log(r: &Record) {
    let findings = findings_field(r);
    tracing::info!(
        request_id = %r.request_id,
        endpoint = r.endpoint.as_str(),
        key = r.key.as_deref(),
        sensitivity = r.level.map(Level::as_str),
        findings = (!findings.is_empty()).then_some(findings.as_str()),
        task = r.task.map(Task::as_str),
        complexity = r.complexity,
        rule = r.rule.as_deref(),
        tier = r.tier.map(Tier::as_str),
        backend = r.backend.as_deref(),
        model = r.model.as_deref(),
        stream = r.stream,
        rerouted = r.rerouted,
        redacted = r.redacted,
        offline_fallback = r.offline_fallback,
        budget_downgraded = r.budget_downgraded,
        attempts = r.attempts,
        input_tokens = r.input_tokens,
        output_tokens = r.output_tokens,
        cached_tokens = r.cached_tokens,
        tokens_estimated = r.tokens_estimated,
        cost_usd = r.cost_usd,
        latency_us = micros(r.latency),
        ttft_us = r.ttft.map(micros),
        upstream_us = micros(r.upstream),
        overhead_us = micros(r.overhead),
        status = r.status,
        outcome = r.outcome.as_str(),
        error = r.error,
        "request"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_field_lists_counts_only() {
        let mut r = Record::default();
        assert_eq!(findings_field(&r), "");
        r.findings[Category::Pii as usize] = 2;
        r.findings[Category::Secret as usize] = 1;
        assert_eq!(findings_field(&r), "pii:2,secret:1");
    }

    #[test]
    fn outcome_names_are_distinct_and_status_guesses_hold() {
        let mut names: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Outcome::ALL.len());
        assert_eq!(Outcome::from_status(200), Outcome::Ok);
        assert_eq!(Outcome::from_status(401), Outcome::Unauthorized);
        assert_eq!(Outcome::from_status(413), Outcome::ClientError);
        assert_eq!(Outcome::from_status(502), Outcome::UpstreamError);
    }

    #[test]
    fn endpoints_from_paths() {
        for e in Endpoint::ALL {
            let path = match e {
                Endpoint::Chat => "/v1/chat/completions",
                Endpoint::Embeddings => "/v1/embeddings",
                Endpoint::Explain => "/v1/airlock/explain",
                Endpoint::Models => "/v1/models",
                Endpoint::Cost => "/v1/airlock/cost",
                Endpoint::Messages => "/v1/messages",
                Endpoint::CountTokens => "/v1/messages/count_tokens",
                Endpoint::Report => "/v1/airlock/report",
            };
            assert_eq!(Endpoint::from_path(path), e);
        }
    }
}
