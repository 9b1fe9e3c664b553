//! The HTTP surface: routes, the request-context middleware (request id,
//! gateway-key auth), and handlers that hand parsed requests to the pipeline
//! and turn its outcome into JSON or SSE responses with decision headers,
//! in OpenAI's dialect or (`/v1/messages`, see `messages`) Anthropic's.
//! Handlers hold no routing logic; errors become responses only in `error`.
//! The middleware opens each request's span and emits its record
//! (`observe`) once the answer is known; `/metrics` serves the counts.

mod error;
mod info;
mod keepalive;
mod messages;
mod record;
mod serve;
mod tap;

use crate::observe::{Endpoint, Outcome, Record};
use record::{Deferred, Draft, Unanswered, bare_record, failed};
use tracing::Instrument;

pub use error::ApiError;

use crate::app::AppState;
use crate::classify::Floor;
use crate::config::{BackendId, Config};
use crate::openai::{ChatRequest, EmbeddingsRequest};
use crate::pipeline::{self, Assessment, Caller};
use crate::providers::{Forward, Job, Limits};
use crate::types::Level;
use axum::body::Bytes;
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
    pub endpoint: Endpoint,
    /// The request's span: the stream tap emits the record inside it.
    pub span: tracing::Span,
}

pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.server.max_body_bytes;
    let v1 = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/messages", post(messages::messages))
        .route("/v1/messages/count_tokens", post(messages::count_tokens))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(info::models))
        .route("/v1/airlock/explain", post(explain))
        .route("/v1/airlock/cost", get(info::cost))
        .route("/v1/airlock/report", get(info::report))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), context));
    Router::new()
        .route("/healthz", get(info::healthz))
        .route("/readyz", get(info::readyz))
        .route("/dashboard", get(info::dashboard))
        .route("/metrics", get(info::metrics))
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

pub(crate) fn authenticate(
    config: &Config,
    headers: &HeaderMap,
) -> Result<Option<usize>, ApiError> {
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
    let started = Instant::now();
    let id = request_id(req.headers());
    let endpoint = Endpoint::from_path(req.uri().path());
    let auth = authenticate(&app.config, req.headers());
    let key_name = auth
        .as_ref()
        .ok()
        .and_then(|k| k.map(|i| app.config.keys[i].name.as_str()));
    let span = crate::observe::request_span(&id, endpoint, key_name);
    #[cfg(feature = "otel")]
    crate::observe::otel::set_parent(&span, req.headers());
    app.observer.begin();
    let (key, mut resp) = match auth {
        Ok(key) => {
            req.extensions_mut().insert(Ctx {
                request_id: id.clone(),
                key,
                started,
                endpoint,
                span: span.clone(),
            });
            // A handler dropped before it answers (the client went away)
            // still leaves its record.
            let unanswered =
                Unanswered::new(&app, &span, started, bare_record(&app, &id, endpoint, key));
            let resp = next.run(req).instrument(span.clone()).await;
            unanswered.answered();
            (key, resp)
        }
        Err(e) => (
            None,
            failed(
                Dialect::of(req.uri().path()),
                e,
                bare_record(&app, &id, endpoint, None),
                None,
            ),
        ),
    };
    if resp.extensions().get::<Deferred>().is_none() {
        let status = resp.status().as_u16();
        let mut rec = match resp.extensions_mut().remove::<Draft>() {
            Some(Draft(rec)) => *rec,
            None => Record {
                outcome: Outcome::from_status(status),
                ..bare_record(&app, &id, endpoint, key)
            },
        };
        rec.status = status;
        rec.latency = started.elapsed();
        rec.overhead = rec.latency.saturating_sub(rec.upstream);
        app.observer.emit(&span, rec);
    }
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
    let rec = bare_record(&app, &ctx.request_id, ctx.endpoint, ctx.key);
    match prepare(&app, &ctx, &headers, body, CHAT).await {
        Ok((req, a)) => match app.config.server.sse_keepalive {
            // Once the head went out early, the record is the keep-alive
            // stream's to emit (see `record::late`).
            Some(every) if req.stream => {
                let late = record::late(Arc::clone(&app), &ctx, &a, rec.clone());
                let serving = async move {
                    let job = Job::Chat(&req);
                    serve::serve(&app, &ctx, &headers, &a, job, Dialect::OpenAi, rec).await
                };
                let mut resp = keepalive::hold(serving, every, late).await;
                if resp.headers().contains_key(keepalive::H_KEEPALIVE) {
                    resp.extensions_mut().insert(Deferred);
                }
                resp
            }
            _ => {
                let job = Job::Chat(&req);
                serve::serve(&app, &ctx, &headers, &a, job, Dialect::OpenAi, rec).await
            }
        },
        Err(e) => failed(Dialect::OpenAi, e, rec, None),
    }
}

async fn embeddings(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let rec = bare_record(&app, &ctx.request_id, ctx.endpoint, ctx.key);
    match prepare(&app, &ctx, &headers, body, EMBEDDINGS).await {
        // Vectors from different models are incompatible: the candidates
        // are the one requested model (or the embeddings pool), never a reroute.
        Ok((req, a)) => {
            let job = Job::Embeddings(&req);
            serve::serve(&app, &ctx, &headers, &a, job, Dialect::OpenAi, rec).await
        }
        Err(e) => failed(Dialect::OpenAi, e, rec, None),
    }
}

async fn explain(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut rec = bare_record(&app, &ctx.request_id, ctx.endpoint, ctx.key);
    let a = match prepare(&app, &ctx, &headers, body, CHAT).await {
        Ok((_, a)) => a,
        Err(e) => return failed(Dialect::OpenAi, e, rec, None),
    };
    record::assessed(&mut rec, &a, &app.config);
    let mut doc = pipeline::explain_json(&app.config, &a);
    doc["request_id"] = json!(ctx.request_id);
    // Where the counts come from: this process, or Redis shared by replicas.
    doc["volume"]["redis"] = json!(app.volume.redis_state());
    record::with_record(Json(doc).into_response(), rec)
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
