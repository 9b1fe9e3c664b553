//! Serving a decided request: counting it, remembering sensitive turns,
//! redacting, then calling the decided candidates in order (retrying and
//! falling back only before the first byte), and answering with decision
//! headers. Fills the request's [`Record`] as it goes: the middleware emits
//! it for JSON answers, the stream tap when a stream ends.

use super::tap;
use super::{ApiError, Ctx, H_BUDGET, H_OFFLINE, H_REDACTED, H_RULE, H_SENSITIVITY, set};
use super::{H_BACKEND, H_MODEL, H_TIER};
use crate::app::AppState;
use crate::config::{Config, Target};
use crate::observe::metrics::CallResult;
use crate::observe::{Outcome, Record};
use crate::pipeline::Assessment;
use crate::providers::{self, Call, Job, Reply};
use crate::route::Decision;
use crate::volume::{Count, Dim};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A record the handler filled, handed to the middleware with the answer.
#[derive(Clone)]
pub(super) struct Draft(pub Box<Record>);

/// The answer is a stream: its tap emits the record when it ends.
#[derive(Clone)]
pub(super) struct Deferred;

/// Attaches what the handler knows to an answer.
pub(super) fn with_record(mut resp: Response, rec: Record) -> Response {
    resp.extensions_mut().insert(Draft(Box::new(rec)));
    resp
}

/// An error answer (with the level header when the request was classified)
/// and its record.
pub(super) fn failed(e: ApiError, mut rec: Record, a: Option<&Assessment>) -> Response {
    rec.error = Some(e.code());
    rec.outcome = e.outcome();
    with_record(super::error_with(e, a), rec)
}

/// What the assessment says, into the record: level, finding counts,
/// task, complexity, and the decision's rule and flags.
pub(super) fn assessed(rec: &mut Record, a: &Assessment) {
    rec.level = Some(a.sensitivity.level);
    for f in &a.sensitivity.findings {
        if let Some(n) = rec.findings.get_mut(f.category as usize) {
            *n = n.saturating_add(1);
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

fn served_by(rec: &mut Record, config: &Config, target: &Target) {
    let b = config.backend(target.backend);
    rec.tier = Some(b.tier);
    rec.backend = Some(b.name.clone());
    rec.backend_id = Some(target.backend);
    rec.protocol = Some(b.protocol);
    rec.model = Some(target.model.clone());
}

/// `x-airlock-max-latency-ms`: prefer backends measured under it.
fn max_latency_ms(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get("x-airlock-max-latency-ms") else {
        return Ok(None);
    };
    v.to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or_else(|| ApiError::InvalidRequest {
            message: "x-airlock-max-latency-ms must be a whole number of milliseconds".into(),
            param: Some("x-airlock-max-latency-ms".into()),
        })
}

/// Tokens and spend of one answer.
struct Usage {
    input: u64,
    output: u64,
    cached: u64,
    estimated: bool,
    cost_usd: f64,
}

/// What serving records once an answer is known: its tokens and spend in
/// the volume counters, and a sensitive exchange's answer in memory.
struct Recorder {
    app: Arc<AppState>,
    dims: Arc<[Dim]>,
    key: Option<String>,
    level: crate::types::Level,
    is_chat: bool,
    prompt_tokens: u64,
    /// The price of the model that answered (cloud backends).
    price: Option<crate::config::Price>,
}

impl Recorder {
    fn record(&self, answer: &tap::Answer) -> Usage {
        let (input_tokens, output_tokens) = answer.tokens(self.prompt_tokens);
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
        }
    }
}

fn add_usage(rec: &mut Record, u: &Usage) {
    rec.input_tokens = u.input;
    rec.output_tokens = u.output;
    rec.cached_tokens = u.cached;
    rec.tokens_estimated = u.estimated;
    rec.cost_usd = u.cost_usd;
}

/// How a stream the tap saw ended.
fn stream_outcome(answer: &tap::Answer) -> (Outcome, Option<&'static str>) {
    match (answer.ended, answer.error_code.as_deref()) {
        (_, Some("upstream_timeout")) => (Outcome::Timeout, Some("upstream_timeout")),
        (_, Some(_)) => (Outcome::UpstreamError, Some("upstream_error")),
        (true, None) => (Outcome::Ok, None),
        (false, None) => (Outcome::Cancelled, None),
    }
}

/// Sends the request to the decided candidates in order, falling back only
/// on retryable failures before the first byte, and answers.
pub(super) async fn serve(
    app: &Arc<AppState>,
    ctx: &Ctx,
    headers: &HeaderMap,
    a: &Assessment,
    job: Job<'_>,
    mut rec: Record,
) -> Response {
    assessed(&mut rec, a);
    // A bad header is refused before anything is counted or sent.
    let max_latency = match max_latency_ms(headers) {
        Ok(v) => v,
        Err(e) => return failed(e, rec, None),
    };
    let decision = match &a.decision {
        Ok(d) => d,
        Err(e) => return failed(ApiError::from(e.clone()), rec, Some(a)),
    };
    let key = super::key_name(app, ctx);
    let dims: Arc<[Dim]> = [
        Some(Dim::Task(a.complexity.task)),
        Some(Dim::Rule(decision.rule.clone())),
        key.map(|k| Dim::Key(k.to_owned())),
        Some(Dim::All),
    ]
    .into_iter()
    .flatten()
    .collect();
    app.volume.record(
        &dims,
        Count {
            requests: 1,
            ..Count::default()
        },
    );
    let level = a.sensitivity.level;
    let is_chat = matches!(job, Job::Chat(_));
    rec.stream = matches!(job, Job::Chat(req) if req.stream);
    let prompt_tokens = a.complexity.prompt_tokens;
    if let Job::Chat(req) = job
        && level > crate::types::Level::Public
    {
        let (segments, _) = req.segments();
        // Texts with findings are caught again by the scan when resent (and
        // can be redacted); memory is for the rest of the exchange.
        let has_finding = |s: &crate::openai::Segment<'_>| {
            a.sensitivity
                .findings
                .iter()
                .any(|f| (f.message, f.part, f.field) == (s.message, s.part, s.field))
        };
        app.memory.remember(
            key,
            level,
            segments
                .iter()
                .filter(|s| !has_finding(s))
                .map(|s| (s.role, s.text)),
        );
    }
    // Redaction: what leaves is the request with placeholders; the answer
    // gets the originals back.
    let redacted = match job {
        Job::Chat(req) if decision.redact => Some(crate::redact::redact(
            req,
            &a.sensitivity.findings,
            &app.config.detectors,
        )),
        _ => None,
    };
    if let Some((_, restorer)) = &redacted {
        rec.redacted = u32::try_from(restorer.len()).unwrap_or(u32::MAX);
    }
    let job = match &redacted {
        Some((req, _)) => Job::Chat(req),
        None => job,
    };
    let fwd = super::forward(ctx, headers);
    let conversation = match job {
        Job::Chat(req) => app.affinity.conversation(key, &req.segments().0),
        Job::Embeddings(_) => None,
    };
    let order = app
        .affinity
        .order(&decision.candidates, max_latency, conversation);
    let metrics = &app.observer.metrics;
    let mut upstream = Duration::ZERO;
    let mut last: Option<providers::DispatchError> = None;
    for target in &order {
        let backend = app.config.backend(target.backend);
        served_by(&mut rec, &app.config, target);
        let call = Call {
            backend,
            model: &target.model,
            forward: &fwd,
            limits: super::limits(&app.config),
            created: super::unix_now(),
        };
        let mut attempt = 0;
        let in_flight = metrics.call_started(target.backend);
        let (sent, outcome) = loop {
            let sent = Instant::now();
            let outcome = providers::send(&app.http, &call, job).await;
            upstream += sent.elapsed();
            rec.attempts += 1;
            metrics.call_ended(
                target.backend,
                outcome
                    .as_ref()
                    .map_or_else(CallResult::of, |_| CallResult::Ok),
            );
            // Nothing has reached the client yet: the same backend may be
            // tried again after a wait, before the next one.
            let wait = match &outcome {
                Err(e) if attempt + 1 < app.config.retries.attempts => {
                    e.retry_wait(attempt, &app.config.retries)
                }
                _ => None,
            };
            match (wait, outcome) {
                (Some(w), Err(e)) => {
                    tracing::warn!(request_id = %ctx.request_id, backend = %backend.name, error = e.label(), attempt, wait_ms = w.as_millis() as u64, "backend call failed; retrying");
                    let slept = Instant::now();
                    tokio::time::sleep(w).await;
                    upstream += slept.elapsed();
                    attempt += 1;
                }
                (_, outcome) => break (sent, outcome),
            }
        };
        rec.upstream = upstream;
        match outcome {
            Ok(reply) => {
                app.health.mark(target.backend, true);
                app.affinity.observe(target, sent.elapsed());
                if let Some(c) = conversation {
                    app.affinity.stick(c, target);
                }
                let recorder = Recorder {
                    app: Arc::clone(app),
                    dims: Arc::clone(&dims),
                    key: key.map(str::to_owned),
                    level,
                    is_chat,
                    prompt_tokens,
                    price: (backend.tier != crate::types::Tier::Local)
                        .then(|| backend.prices.get(&target.model).copied())
                        .flatten(),
                };
                let mut resp = match reply {
                    Reply::Json(bytes) => {
                        drop(in_flight);
                        let bytes = match &redacted {
                            Some((_, restorer)) => restore_json(bytes, restorer),
                            None => bytes,
                        };
                        add_usage(&mut rec, &recorder.record(&tap::json_answer(&bytes)));
                        let resp =
                            ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
                        with_record(resp, std::mem::take(&mut rec))
                    }
                    Reply::Stream(stream) => {
                        let stream = match &redacted {
                            Some((_, restorer)) => crate::redact::restore_sse(
                                stream,
                                restorer.clone(),
                                app.config.server.max_event_bytes,
                            ),
                            None => stream,
                        };
                        rec.stream = true;
                        rec.overhead = ctx.started.elapsed().saturating_sub(upstream);
                        let mut rec = std::mem::take(&mut rec);
                        let app = Arc::clone(app);
                        let span = ctx.span.clone();
                        let started = ctx.started;
                        let stream = tap::tap_stream(
                            stream,
                            app.config.server.max_event_bytes,
                            move |answer| {
                                drop(in_flight);
                                add_usage(&mut rec, &recorder.record(&answer));
                                rec.ttft = answer
                                    .first_at
                                    .map(|t| t.saturating_duration_since(started));
                                rec.latency = started.elapsed();
                                rec.status = 200;
                                (rec.outcome, rec.error) = stream_outcome(&answer);
                                app.observer.emit(&span, rec);
                            },
                        );
                        let mut resp = (
                            [
                                (header::CONTENT_TYPE, "text/event-stream"),
                                (header::CACHE_CONTROL, "no-cache"),
                                (HeaderName::from_static("x-accel-buffering"), "no"),
                            ],
                            Body::from_stream(stream),
                        )
                            .into_response();
                        resp.extensions_mut().insert(Deferred);
                        resp
                    }
                };
                decision_headers(resp.headers_mut(), &app.config, a, decision, target);
                if let Some((_, restorer)) = &redacted {
                    set(resp.headers_mut(), H_REDACTED, &restorer.len().to_string());
                }
                return resp;
            }
            Err(e) => {
                if e.marks_down() {
                    app.health.mark(target.backend, false);
                }
                let retry = e.is_retryable();
                let status = match &e {
                    providers::DispatchError::Status { status, .. }
                    | providers::DispatchError::Rejected { status, .. } => *status,
                    _ => 0,
                };
                tracing::warn!(request_id = %ctx.request_id, backend = %backend.name, error = e.label(), status, retry, "backend call failed");
                last = Some(e);
                if !retry {
                    break;
                }
            }
        }
    }
    let err = last
        .map(ApiError::from)
        .unwrap_or(ApiError::NoEligibleBackend {
            message: "no eligible backend".into(),
        });
    failed(err, rec, Some(a))
}

/// Puts the originals back into a JSON answer.
fn restore_json(bytes: Bytes, restorer: &crate::redact::Restorer) -> Bytes {
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut v) => {
            if let Some(choices) = v.get_mut("choices") {
                restorer.restore_value(choices);
            }
            serde_json::to_vec(&v).map(Bytes::from).unwrap_or(bytes)
        }
        Err(_) => bytes,
    }
}

fn decision_headers(
    h: &mut HeaderMap,
    config: &Config,
    a: &Assessment,
    d: &Decision,
    target: &Target,
) {
    let b = config.backend(target.backend);
    set(h, H_TIER, b.tier.as_str());
    set(h, H_BACKEND, &b.name);
    set(h, H_MODEL, &target.model);
    set(h, H_SENSITIVITY, a.sensitivity.level.as_str());
    set(h, H_RULE, &d.rule);
    if d.offline_fallback {
        set(h, H_OFFLINE, "true");
    }
    if d.budget_downgraded {
        set(h, H_BUDGET, "downgraded");
    }
}
