//! The HTTP surface: routes, the request-context middleware (request id,
//! gateway-key auth), and handlers that hand parsed requests to the pipeline
//! and turn its outcome into JSON or SSE responses with decision headers,
//! in OpenAI's dialect or (`/v1/messages`, see `messages`) Anthropic's.
//! Handlers hold no routing logic; errors become responses only in `error`.

mod error;
mod keepalive;
mod messages;
mod tap;

use crate::volume::{Count, Dim};

pub use error::ApiError;

use crate::app::AppState;
use crate::classify::Floor;
use crate::config::{BackendId, Config};
use crate::health::Admit;
use crate::openai::{ChatRequest, EmbeddingsRequest};
use crate::pipeline::{self, Assessment, Caller};
use crate::providers::{self, Call, Forward, Job, Limits, Reply};
use crate::route::Decision;
use crate::types::Level;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub const H_REQUEST_ID: HeaderName = HeaderName::from_static("x-airlock-request-id");
pub const H_TIER: HeaderName = HeaderName::from_static("x-airlock-tier");
pub const H_BACKEND: HeaderName = HeaderName::from_static("x-airlock-backend");
pub const H_MODEL: HeaderName = HeaderName::from_static("x-airlock-model");
pub const H_SENSITIVITY: HeaderName = HeaderName::from_static("x-airlock-sensitivity");
pub const H_RULE: HeaderName = HeaderName::from_static("x-airlock-rule");
pub const H_MIN_SENSITIVITY: &str = "x-airlock-min-sensitivity";
/// How many distinct values were replaced by placeholders before sending.
pub const H_REDACTED: HeaderName = HeaderName::from_static("x-airlock-redacted");
pub const H_OFFLINE: HeaderName = HeaderName::from_static("x-airlock-offline-fallback");
pub const H_BUDGET: HeaderName = HeaderName::from_static("x-airlock-budget");

/// Per-request context set by the middleware.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub request_id: String,
    /// Index into `config.keys` of the key that authenticated the request.
    pub key: Option<usize>,
    pub started: Instant,
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.server.max_body_bytes;
    let v1 = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/v1/airlock/explain", post(explain))
        .route("/v1/airlock/cost", get(cost))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), context));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(v1)
        .fallback(|uri: axum::http::Uri| async move {
            Dialect::of(uri.path()).error(ApiError::NotFound)
        })
        .method_not_allowed_fallback(|uri: axum::http::Uri| async move {
            Dialect::of(uri.path()).error(ApiError::MethodNotAllowed)
        })
        .with_state(state)
}

fn request_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers.get("x-request-id").and_then(|v| v.to_str().ok())
        && !v.is_empty()
        && v.len() <= 128
        && v.bytes().all(|b| b.is_ascii_graphic())
    {
        return v.to_owned();
    }
    let n: u128 = rand::random();
    format!("{n:032x}")
}

/// Compares without an early exit, so timing says nothing of the key.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ") {
            return Some(v[7..].trim());
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn authenticate(config: &Config, headers: &HeaderMap) -> Result<Option<usize>, ApiError> {
    if !config.auth_required() {
        return Ok(None);
    }
    let presented = presented_key(headers).ok_or(ApiError::InvalidApiKey)?;
    // Keys are kept as SHA-256 digests: the presented key is hashed once
    // and compared with every digest, all 32 bytes each time.
    let digest = crate::config::key_sha256(presented.as_bytes());
    let mut found = None;
    for (i, k) in config.keys.iter().enumerate() {
        if let Some(d) = &k.digest
            && same_secret(d, &digest)
        {
            found = Some(i);
        }
    }
    found.map(Some).ok_or(ApiError::InvalidApiKey)
}

async fn context(State(app): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let id = request_id(req.headers());
    let mut resp = match authenticate(&app.config, req.headers()) {
        Ok(key) => {
            req.extensions_mut().insert(Ctx {
                request_id: id.clone(),
                key,
                started: Instant::now(),
            });
            next.run(req).await
        }
        Err(e) => {
            tracing::info!(request_id = %id, "rejected: invalid or missing gateway key");
            Dialect::of(req.uri().path()).error(e)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(H_REQUEST_ID, v);
    }
    resp
}

fn body_bytes(app: &AppState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::RequestTooLarge {
                limit: app.config.server.max_body_bytes,
            }
        } else {
            ApiError::InvalidRequest {
                message: format!("cannot read the request body: {}", rej.body_text()),
                param: None,
            }
        }
    })
}

fn floors(app: &AppState, ctx: &Ctx, headers: &HeaderMap) -> Result<Vec<Floor>, ApiError> {
    let mut out = Vec::new();
    if let Some(v) = headers.get(H_MIN_SENSITIVITY) {
        let level = v.to_str().ok().and_then(Level::parse).ok_or_else(|| {
            ApiError::InvalidRequest {
                message: format!(
                    "header {H_MIN_SENSITIVITY} must be public, internal, confidential or restricted"
                ),
                param: Some(H_MIN_SENSITIVITY.into()),
            }
        })?;
        out.push(Floor::Header(level));
    }
    if let Some(l) = ctx.key.and_then(|i| app.config.keys[i].min_level) {
        out.push(Floor::Key(l));
    }
    Ok(out)
}

fn key_name<'a>(app: &'a AppState, ctx: &Ctx) -> Option<&'a str> {
    ctx.key.map(|i| app.config.keys[i].name.as_str())
}

fn forward(ctx: &Ctx, headers: &HeaderMap) -> Forward {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 512)
            .map(str::to_owned)
    };
    Forward {
        request_id: ctx.request_id.clone(),
        traceparent: get("traceparent"),
        tracestate: get("tracestate"),
    }
}

fn limits(config: &Config) -> Limits {
    Limits {
        timeouts: config.timeouts,
        max_response_bytes: config.server.max_response_bytes,
        max_event_bytes: config.server.max_event_bytes,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

/// The API dialect a request came in, and its answer goes out, in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `/v1/chat/completions`, `/v1/embeddings`: answers pass as backends
    /// gave them (in OpenAI's format).
    OpenAi,
    /// `/v1/messages`: answers and errors translated to Anthropic's format.
    Anthropic,
}

impl Dialect {
    /// The dialect of a path, for answers given before any handler runs.
    fn of(path: &str) -> Dialect {
        if messages::is_anthropic_path(path) {
            Dialect::Anthropic
        } else {
            Dialect::OpenAi
        }
    }

    fn error(self, e: ApiError) -> Response {
        match self {
            Dialect::OpenAi => e.into_response(),
            Dialect::Anthropic => e.into_anthropic_response(),
        }
    }
}

/// An error answer that still says what airlock decided about the request.
fn error_with(dialect: Dialect, e: ApiError, a: Option<&Assessment>) -> Response {
    let mut resp = dialect.error(e);
    if let Some(a) = a {
        set(
            resp.headers_mut(),
            H_SENSITIVITY,
            a.sensitivity.level.as_str(),
        );
    }
    resp
}

fn assess_state(app: &AppState) -> impl Fn(BackendId) -> crate::route::BackendState + '_ {
    move |id| app.health.state(id)
}

type Assess<R> = fn(
    &Config,
    &crate::classify::sensitivity::Scanner,
    &R,
    &Caller<'_>,
    &dyn Fn(BackendId) -> crate::route::BackendState,
) -> Assessment;

/// How one request kind is read and judged.
struct Kind<R> {
    parse: fn(&[u8]) -> Result<R, crate::openai::RequestError>,
    segments: for<'r> fn(&'r R) -> (Vec<crate::openai::Segment<'r>>, crate::openai::Unscannable),
    assess: Assess<R>,
}

const CHAT: Kind<ChatRequest> = Kind {
    parse: ChatRequest::parse,
    segments: ChatRequest::segments,
    assess: pipeline::assess_chat,
};

const EMBEDDINGS: Kind<EmbeddingsRequest> = Kind {
    parse: EmbeddingsRequest::parse,
    segments: EmbeddingsRequest::segments,
    assess: pipeline::assess_embeddings,
};

/// Reads, parses, recalls, classifies and decides.
async fn prepare<R>(
    app: &AppState,
    ctx: &Ctx,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    kind: Kind<R>,
) -> Result<(R, Assessment), ApiError> {
    let Kind {
        parse,
        segments,
        assess,
    } = kind;
    let body = body_bytes(app, body)?;
    let req = parse(&body)?;
    drop(body);
    let floors = floors(app, ctx, headers)?;
    let key = key_name(app, ctx);
    let recall = app.memory.recall(key, &segments(&req).0).await;
    let caller = Caller {
        floors: &floors,
        key,
        memory: Some(&recall),
        volume: Some(&app.volume),
    };
    let a = assess(&app.config, &app.scanner, &req, &caller, &assess_state(app));
    Ok((req, a))
}

async fn chat(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match prepare(&app, &ctx, &headers, body, CHAT).await {
        Ok((req, a)) => match app.config.server.sse_keepalive {
            Some(every) if req.stream => {
                let serving = async move {
                    serve(&app, &ctx, &headers, &a, Job::Chat(&req), Dialect::OpenAi).await
                };
                keepalive::hold(serving, every).await
            }
            _ => serve(&app, &ctx, &headers, &a, Job::Chat(&req), Dialect::OpenAi).await,
        },
        Err(e) => e.into_response(),
    }
}

async fn embeddings(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match prepare(&app, &ctx, &headers, body, EMBEDDINGS).await {
        // Vectors from different models are incompatible: the candidates
        // are the one requested model (or the embeddings pool), never a reroute.
        Ok((req, a)) => {
            serve(
                &app,
                &ctx,
                &headers,
                &a,
                Job::Embeddings(&req),
                Dialect::OpenAi,
            )
            .await
        }
        Err(e) => e.into_response(),
    }
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

/// What serving records once an answer is known: its tokens and spend in
/// the volume counters, and a sensitive exchange's answer in memory.
struct Recorder {
    app: Arc<AppState>,
    dims: Arc<[Dim]>,
    key: Option<String>,
    level: crate::types::Level,
    is_chat: bool,
    prompt_tokens: u64,
    /// The key's rate limits: its answers' tokens count towards them.
    rate: crate::ratelimit::Limits,
    /// The price of the model that answered (cloud backends).
    price: Option<crate::config::Price>,
}

impl Recorder {
    fn record(&self, answer: &tap::Answer) {
        let (input_tokens, output_tokens) = answer.tokens(self.prompt_tokens);
        if let Some(key) = &self.key {
            self.app.ratelimit.add_tokens(key, self.rate, output_tokens);
        }
        // Prices are USD per million tokens: one token costs `price` µUSD.
        let spend = self.price.map_or(0.0, |p| {
            let cached = answer.cached_tokens.unwrap_or(0).min(input_tokens);
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
    }
}

/// Sends the request to the decided candidates in order, falling back only
/// on retryable failures before the first byte, and answers.
async fn serve(
    app: &Arc<AppState>,
    ctx: &Ctx,
    headers: &HeaderMap,
    a: &Assessment,
    job: Job<'_>,
    dialect: Dialect,
) -> Response {
    // A bad header is refused before anything is counted or sent.
    let max_latency = match max_latency_ms(headers) {
        Ok(v) => v,
        Err(e) => return dialect.error(e),
    };
    let decision = match &a.decision {
        Ok(d) => d,
        Err(e) => {
            let err = ApiError::from(e.clone());
            log_outcome(ctx, a, None, err.status().as_u16());
            return error_with(dialect, err, Some(a));
        }
    };
    let key = key_name(app, ctx);
    // A key over its per-minute limits is refused before anything is sent
    // or counted.
    if let (Some(i), Some(name)) = (ctx.key, key) {
        let rate = app.config.keys[i].rate;
        if let Err(l) = app
            .ratelimit
            .admit(name, rate, a.complexity.prompt_tokens)
            .await
        {
            let err = ApiError::RateLimited {
                message: format!(
                    "gateway key {name} is over its limit of {} {} per minute; retry in {} s",
                    l.limit,
                    l.what,
                    l.retry_after.as_secs().max(1)
                ),
                retry_after: l.retry_after,
            };
            log_outcome(ctx, a, None, err.status().as_u16());
            return error_with(dialect, err, Some(a));
        }
    }
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
    let job = match &redacted {
        Some((req, _)) => Job::Chat(req),
        None => job,
    };
    let fwd = forward(ctx, headers);
    let conversation = match job {
        Job::Chat(req) => app.affinity.conversation(key, &req.segments().0),
        Job::Embeddings(_) => None,
    };
    let order = app
        .affinity
        .order(&decision.candidates, max_latency, conversation);
    let mut last: Option<providers::DispatchError> = None;
    for (i, target) in order.iter().enumerate() {
        let backend = app.config.backend(target.backend);
        // An open circuit is skipped; a half-open one lets this call
        // through as its trial.
        let trial = match app.health.admit(target.backend) {
            Admit::Yes => false,
            Admit::Trial => true,
            Admit::No(wait) => {
                tracing::debug!(request_id = %ctx.request_id, backend = %backend.name, "circuit open; skipped");
                last = Some(providers::DispatchError::Unavailable {
                    backend: backend.name.clone(),
                    why: "circuit_open",
                    retry_after: Some(wait),
                });
                continue;
            }
        };
        // A full backend is passed over while another candidate remains
        // (every candidate is in the allowed tiers); the last one is
        // waited for in its queue.
        let permit = match app
            .capacity
            .acquire(target.backend, i + 1 == order.len())
            .await
        {
            Ok(p) => p,
            Err(busy) => {
                if trial {
                    app.health.call_done(target.backend);
                }
                tracing::info!(request_id = %ctx.request_id, backend = %backend.name, why = busy.as_str(), "backend at capacity; skipped");
                last = Some(providers::DispatchError::Unavailable {
                    backend: backend.name.clone(),
                    why: busy.as_str(),
                    retry_after: None,
                });
                continue;
            }
        };
        let call = Call {
            backend,
            model: &target.model,
            forward: &fwd,
            limits: limits(&app.config),
            created: unix_now(),
        };
        let mut attempt = 0;
        let (sent, outcome) = loop {
            let sent = std::time::Instant::now();
            let outcome = providers::send(app.http.get(target.backend), &call, job).await;
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
                    tokio::time::sleep(w).await;
                    attempt += 1;
                }
                (_, outcome) => break (sent, outcome),
            }
        };
        match outcome {
            Ok(reply) => {
                app.health.call_ok(target.backend);
                // The slot stays taken until the stream is done.
                let reply = match (reply, permit) {
                    (Reply::Stream(s), Some(p)) => {
                        Reply::Stream(Box::pin(futures_util::StreamExt::map(s, move |c| {
                            let _slot = &p;
                            c
                        })))
                    }
                    (reply, _) => reply,
                };
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
                };
                let mut resp = match reply {
                    Reply::Json(bytes) => {
                        let bytes = match &redacted {
                            Some((_, restorer)) => restore_json(bytes, restorer),
                            None => bytes,
                        };
                        recorder.record(&tap::json_answer(&bytes));
                        let bytes = match dialect {
                            Dialect::OpenAi => Ok(bytes),
                            Dialect::Anthropic => {
                                messages::message_json(&bytes, ctx, &target.model, a).map_err(|m| {
                                    ApiError::Upstream {
                                        message: format!("backend {}: {m}", backend.name),
                                    }
                                })
                            }
                        };
                        match bytes {
                            Ok(bytes) => ([(header::CONTENT_TYPE, "application/json")], bytes)
                                .into_response(),
                            Err(e) => {
                                tracing::warn!(request_id = %ctx.request_id, backend = %backend.name, "answer cannot be translated");
                                dialect.error(e)
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
                        let stream = tap::tap_stream(
                            stream,
                            app.config.server.max_event_bytes,
                            move |answer| recorder.record(&answer),
                        );
                        let stream = match dialect {
                            Dialect::OpenAi => stream,
                            Dialect::Anthropic => messages::event_stream(
                                stream,
                                ctx,
                                &target.model,
                                a,
                                app.config.server.max_event_bytes,
                            ),
                        };
                        (
                            [
                                (header::CONTENT_TYPE, "text/event-stream"),
                                (header::CACHE_CONTROL, "no-cache"),
                                (HeaderName::from_static("x-accel-buffering"), "no"),
                            ],
                            Body::from_stream(stream),
                        )
                            .into_response()
                    }
                };
                decision_headers(resp.headers_mut(), &app.config, a, decision, target);
                if let Some((_, restorer)) = &redacted {
                    set(resp.headers_mut(), H_REDACTED, &restorer.len().to_string());
                }
                log_outcome(ctx, a, Some((&app.config, target)), resp.status().as_u16());
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
    log_outcome(ctx, a, None, err.status().as_u16());
    error_with(dialect, err, Some(a))
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
    target: &crate::config::Target,
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

fn log_outcome(
    ctx: &Ctx,
    a: &Assessment,
    served: Option<(&Config, &crate::config::Target)>,
    status: u16,
) {
    let (backend, tier, model) = served
        .map(|(c, t)| {
            let b = c.backend(t.backend);
            (b.name.as_str(), b.tier.as_str(), t.model.as_str())
        })
        .unwrap_or(("-", "-", "-"));
    let rule = a.decision.as_ref().map(|d| d.rule.as_str()).unwrap_or("-");
    tracing::info!(
        request_id = %ctx.request_id,
        level = a.sensitivity.level.as_str(),
        findings = a.sensitivity.findings.len(),
        task = a.complexity.task.as_str(),
        complexity = a.complexity.score,
        rule,
        backend,
        tier,
        model,
        status,
        elapsed_us = ctx.started.elapsed().as_micros() as u64,
        "request"
    );
}

async fn explain(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let a = match prepare(&app, &ctx, &headers, body, CHAT).await {
        Ok((_, a)) => a,
        Err(e) => return e.into_response(),
    };
    let mut doc = pipeline::explain_json(&app.config, &a);
    doc["request_id"] = json!(ctx.request_id);
    // Where the counts come from: this process, or Redis shared by replicas.
    doc["volume"]["redis"] = json!(app.volume.redis_state());
    Json(doc).into_response()
}

/// `airlock cost` for the running gateway: per task kind, volume, cloud and
/// local cost a day, break-even and recommendation.
async fn cost(State(app): State<Arc<AppState>>) -> Response {
    let counts = |t: crate::classify::Task| {
        crate::volume::Window::ALL.map(|w| app.volume.count(&Dim::Task(t), w))
    };
    let rows = crate::cost::table(&app.config, &counts);
    let cloud = crate::cost::sides(&app.config).map(|s| s.cloud.0);
    Json(json!({
        "object": "airlock.cost",
        "cloud_price_from": cloud,
        "counts_from": app.volume.redis_state(),
        "rows": rows,
    }))
    .into_response()
}

async fn models(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let entry = |id: &str, owner: &str| json!({"id": id, "object": "model", "created": 0, "owned_by": owner});
    let mut data = vec![entry(crate::config::AUTO_MODEL, "airlock")];
    for p in &c.pools {
        data.push(entry(&p.name, "airlock"));
    }
    for (i, b) in c.backends.iter().enumerate() {
        if !b.is_configured() {
            continue;
        }
        let mut names = b.models.clone();
        if names.is_empty() {
            names = app.health.discovered(BackendId(i));
        }
        for m in names {
            data.push(entry(&format!("{}/{m}", b.name), &b.name));
        }
    }
    Json(json!({"object": "list", "data": data})).into_response()
}

async fn healthz() -> Response {
    Json(json!({"status": "ok"})).into_response()
}

async fn readyz(State(app): State<Arc<AppState>>) -> Response {
    let c = &app.config;
    let mut up = 0;
    let mut configured = 0;
    let backends: Vec<_> = c
        .backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let s = app.health.state(BackendId(i));
            if s == crate::route::BackendState::Up {
                up += 1;
            }
            if b.is_configured() {
                configured += 1;
            }
            let mut entry = json!({"name": b.name, "tier": b.tier.as_str(), "state": s.as_str()});
            if let Some((in_flight, queued)) = app.capacity.load(BackendId(i)) {
                entry["in_flight"] = json!(in_flight);
                entry["queued"] = json!(queued);
            }
            entry
        })
        .collect();
    let status = if up == 0 {
        "unready"
    } else if up == configured {
        "ready"
    } else {
        "degraded"
    };
    let code = if up == 0 {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    // Redis trouble does not make the gateway unready: memory fails closed
    // and volume falls back to this process's counts; it is reported here.
    let state = json!({"redis": app.volume.redis_state()});
    (
        code,
        Json(json!({"status": status, "backends": backends, "state": state})),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_x_api_key_are_accepted() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer abc"),
        );
        assert_eq!(presented_key(&h), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("xyz"));
        assert_eq!(presented_key(&h), Some("xyz"));
        assert_eq!(presented_key(&HeaderMap::new()), None);
    }

    #[test]
    fn request_ids_are_sanitised() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert("x-request-id", HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }

    #[test]
    fn secret_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
    }
}
