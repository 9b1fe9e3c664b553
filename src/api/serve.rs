//! Serving a decided request: counting it, remembering sensitive turns,
//! redacting, then calling the decided candidates in order (retrying and
//! falling back only before the first byte), and answering with decision
//! headers, in the request's dialect. Fills the request's [`Record`] as it
//! goes: the middleware emits it for JSON answers, the stream tap when a
//! stream ends. Per-key rate limits, circuit breaking and per-backend
//! capacity are checked here, before anything is sent.

use super::record::{Deferred, Recorder, add_usage, assessed, failed, served_by};
use super::record::{stream_outcome, with_record};
use super::{ApiError, Ctx, Dialect, H_BUDGET, H_OFFLINE, H_REDACTED, H_RULE, H_SENSITIVITY};
use super::{H_BACKEND, H_MODEL, H_TIER, set, tap};
use crate::app::AppState;
use crate::capacity::Permit;
use crate::config::{Config, Target};
use crate::health::Admit;
use crate::observe::Record;
use crate::observe::metrics::CallResult;
use crate::pipeline::Assessment;
use crate::providers::{self, Call, Job, Reply};
use crate::route::Decision;
use crate::volume::{Count, Dim};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A key over its per-minute limits is refused before anything is sent
/// or counted.
async fn admit_key(app: &AppState, ctx: &Ctx, a: &Assessment) -> Result<(), ApiError> {
    let (Some(i), Some(name)) = (ctx.key, super::key_name(app, ctx)) else {
        return Ok(());
    };
    let rate = app.config.keys[i].rate;
    app.ratelimit
        .admit(name, rate, a.complexity.prompt_tokens)
        .await
        .map_err(|l| ApiError::RateLimited {
            message: format!(
                "gateway key {name} is over its limit of {} {} per minute; retry in {} s",
                l.limit,
                l.what,
                l.retry_after.as_secs().max(1)
            ),
            retry_after: l.retry_after,
        })
}

/// Whether `target` may be called now, and its capacity slot. An open
/// circuit is skipped; a half-open one lets this call through as its
/// trial. A full backend is passed over while another candidate remains
/// (every candidate is in the allowed tiers); the `last` one is waited for
/// in its queue. A skip is counted and said as `Unavailable`.
async fn admit(
    app: &AppState,
    ctx: &Ctx,
    target: &Target,
    last: bool,
) -> Result<Permit, providers::DispatchError> {
    let backend = app.config.backend(target.backend);
    let skipped = |why: &'static str, retry_after| {
        app.observer.metrics.skipped(target.backend, why);
        providers::DispatchError::Unavailable {
            backend: backend.name.clone(),
            why,
            retry_after,
        }
    };
    let trial = match app.health.admit(target.backend) {
        Admit::Yes => false,
        Admit::Trial => true,
        Admit::No(wait) => {
            tracing::debug!(backend = %backend.name, "circuit open; skipped");
            return Err(skipped("circuit_open", Some(wait)));
        }
    };
    match app.capacity.acquire(target.backend, last).await {
        Ok(p) => Ok(p),
        Err(busy) => {
            if trial {
                app.health.call_done(target.backend);
            }
            tracing::info!(request_id = %ctx.request_id, backend = %backend.name, why = busy.as_str(), "backend at capacity; skipped");
            Err(skipped(busy.as_str(), None))
        }
    }
}

/// The salted hash of a conversation's opening: the first KB of each of its
/// texts up to and including the first user message, so every later
/// request of the conversation (which resends them) gets the same one. A
/// KB names a conversation as well as the whole text does, and hashing a
/// 16 KB prompt whole cost ~10 us a request in the load harness.
fn conversation_hash(audit: &crate::audit::Audit, req: &crate::openai::ChatRequest) -> String {
    let (segments, _) = req.segments();
    let first_user = segments
        .iter()
        .find(|s| {
            matches!(
                s.role,
                crate::openai::Role::User | crate::openai::Role::Input
            )
        })
        .map_or(usize::MAX, |s| s.message);
    audit.conversation_hash(
        segments
            .iter()
            .filter(|s| s.message <= first_user)
            .map(|s| {
                let mut end = s.text.len().min(1024);
                while !s.text.is_char_boundary(end) {
                    end -= 1;
                }
                &s.text[..end]
            }),
    )
}

/// Keeps a stream's capacity slot taken until the stream is done.
fn hold_permit(reply: Reply, permit: Permit) -> Reply {
    match (reply, permit) {
        (Reply::Stream(s), Some(p)) => {
            Reply::Stream(Box::pin(futures_util::StreamExt::map(s, move |c| {
                let _slot = &p;
                c
            })))
        }
        (reply, _) => reply,
    }
}

/// Sends the request to the decided candidates in order, falling back only
/// on retryable failures before the first byte, and answers in `dialect`.
pub(super) async fn serve(
    app: &Arc<AppState>,
    ctx: &Ctx,
    headers: &HeaderMap,
    a: &Assessment,
    job: Job<'_>,
    dialect: Dialect,
    mut rec: Record,
) -> Response {
    assessed(&mut rec, a, &app.config);
    rec.stream = matches!(job, Job::Chat(req) if req.stream);
    if let (Some(audit), Job::Chat(req)) = (&app.audit, job) {
        rec.conversation = Some(conversation_hash(audit, req));
        // The operator asked this rule's text to be audited.
        let keep = a.decision.as_ref().is_ok_and(|d| {
            app.config
                .rules
                .iter()
                .any(|r| r.name == d.rule && r.audit_content)
        });
        if keep {
            let (segments, _) = req.segments();
            let texts: Vec<&str> = segments.iter().map(|s| s.text).collect();
            rec.prompt_text = Some(texts.join("\n"));
        }
    }
    // A bad header is refused before anything is counted or sent.
    let max_latency = match max_latency_ms(headers) {
        Ok(v) => v,
        Err(e) => return failed(dialect, e, rec, None),
    };
    let decision = match &a.decision {
        Ok(d) => d,
        Err(e) => return failed(dialect, ApiError::from(e.clone()), rec, Some(a)),
    };
    if let Err(e) = admit_key(app, ctx, a).await {
        return failed(dialect, e, rec, Some(a));
    }
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
    for (i, target) in order.iter().enumerate() {
        let backend = app.config.backend(target.backend);
        let queued = Instant::now();
        let admitted = admit(app, ctx, target, i + 1 == order.len()).await;
        // Time in a backend's queue is time waiting on it.
        upstream += queued.elapsed();
        rec.upstream = upstream;
        let permit = match admitted {
            Ok(p) => p,
            Err(e) => {
                last = Some(e);
                continue;
            }
        };
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
            let outcome = providers::send(app.http.get(target.backend), &call, job).await;
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
                app.health.call_ok(target.backend);
                let reply = hold_permit(reply, permit);
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
                    rate: ctx
                        .key
                        .map_or_else(Default::default, |i| app.config.keys[i].rate),
                    price: (backend.tier != crate::types::Tier::Local)
                        .then(|| backend.prices.get(&target.model).copied())
                        .flatten(),
                    keep_text: rec.prompt_text.is_some(),
                };
                let mut resp = match reply {
                    Reply::Json(bytes) => {
                        drop(in_flight);
                        let bytes = match &redacted {
                            Some((_, restorer)) => restore_json(bytes, restorer),
                            None => bytes,
                        };
                        add_usage(&mut rec, &recorder.record(&tap::json_answer(&bytes)));
                        let rec = std::mem::take(&mut rec);
                        match dialect.json(bytes, ctx, &backend.name, &target.model, a) {
                            Ok(bytes) => with_record(
                                ([(header::CONTENT_TYPE, "application/json")], bytes)
                                    .into_response(),
                                rec,
                            ),
                            Err(e) => {
                                tracing::warn!(request_id = %ctx.request_id, backend = %backend.name, "answer cannot be translated");
                                failed(dialect, e, rec, None)
                            }
                        }
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
                        let max_event_bytes = app.config.server.max_event_bytes;
                        let stream = tap::tap_stream(stream, max_event_bytes, move |answer| {
                            drop(in_flight);
                            add_usage(&mut rec, &recorder.record(&answer));
                            rec.ttft = answer
                                .first_at
                                .map(|t| t.saturating_duration_since(started));
                            rec.latency = started.elapsed();
                            rec.status = 200;
                            (rec.outcome, rec.error) = stream_outcome(&answer);
                            app.observer.emit(&span, rec);
                        });
                        // The tap reads OpenAI's events: it goes before a
                        // translation, which ends with the stream it wraps.
                        let stream = dialect.stream(stream, ctx, &target.model, a, max_event_bytes);
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
                if e.is_loading() || e.marks_down() {
                    app.health.call_failed(target.backend, e.is_loading());
                } else {
                    app.health.call_done(target.backend);
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
    failed(dialect, err, rec, Some(a))
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
