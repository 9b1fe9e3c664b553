//! `POST /v1/messages` (Anthropic's Messages API, JSON or SSE) and
//! `POST /v1/messages/count_tokens`: the request is translated into the
//! OpenAI chat request (`anthropic_api`) and served by the same `prepare`
//! and `serve` as `/v1/chat/completions` (one classification, policy, tier
//! filter and dispatch); only the answer's dialect differs, and errors come
//! in Anthropic's shape. Holds no routing logic.

use super::record::{assessed, bare_record, failed, with_record};
use super::{ApiError, CHAT, Ctx, Dialect, Kind, prepare, serve};
use crate::anthropic_api;
use crate::app::AppState;
use crate::openai::ChatRequest;
use crate::pipeline;
use crate::providers::sse::SseDecoder;
use crate::providers::{ByteStream, Job};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;
use std::sync::Arc;

/// Anthropic's request id header, which its SDKs read.
const H_ANTHROPIC_REQUEST_ID: HeaderName = HeaderName::from_static("request-id");

const MESSAGES: Kind<ChatRequest> = Kind {
    parse: anthropic_api::parse,
    ..CHAT
};

const COUNT_TOKENS: Kind<ChatRequest> = Kind {
    parse: anthropic_api::parse_count_tokens,
    ..CHAT
};

/// Whether `path` is served in Anthropic's dialect (its errors included).
pub(super) fn is_anthropic_path(path: &str) -> bool {
    path == "/v1/messages" || path.starts_with("/v1/messages/")
}

/// The message id of an answer to request `request_id`.
fn message_id(request_id: &str) -> String {
    format!("msg_{request_id}")
}

fn with_request_id(mut resp: Response, ctx: &Ctx) -> Response {
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        resp.headers_mut().insert(H_ANTHROPIC_REQUEST_ID, v);
    }
    resp
}

pub(super) async fn messages(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let rec = bare_record(&app, &ctx.request_id, ctx.endpoint, ctx.key);
    let resp = match prepare(&app, &ctx, &headers, body, MESSAGES).await {
        Ok((req, a)) => {
            let job = Job::Chat(&req);
            serve::serve(&app, &ctx, &headers, &a, job, Dialect::Anthropic, rec).await
        }
        Err(e) => failed(Dialect::Anthropic, e, rec, None),
    };
    with_request_id(resp, &ctx)
}

/// An estimate (4 bytes a token, as the complexity scorer counts), not the
/// backend's tokenizer: nothing is sent anywhere.
pub(super) async fn count_tokens(
    State(app): State<Arc<AppState>>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut rec = bare_record(&app, &ctx.request_id, ctx.endpoint, ctx.key);
    let resp = match prepare(&app, &ctx, &headers, body, COUNT_TOKENS).await {
        Ok((_, a)) => {
            assessed(&mut rec, &a, &app.config);
            let count = json!({"input_tokens": a.complexity.prompt_tokens});
            with_record(axum::Json(count).into_response(), rec)
        }
        Err(e) => failed(Dialect::Anthropic, e, rec, None),
    };
    with_request_id(resp, &ctx)
}

impl Dialect {
    /// A JSON answer in this dialect (an untranslatable one is the
    /// backend's failure).
    pub(super) fn json(
        self,
        bytes: Bytes,
        ctx: &Ctx,
        backend: &str,
        model: &str,
        a: &pipeline::Assessment,
    ) -> Result<Bytes, ApiError> {
        match self {
            Dialect::OpenAi => Ok(bytes),
            Dialect::Anthropic => {
                message_json(&bytes, ctx, model, a).map_err(|m| ApiError::Upstream {
                    message: format!("backend {backend}: {m}"),
                })
            }
        }
    }

    /// An OpenAI chunk stream in this dialect.
    pub(super) fn stream(
        self,
        stream: ByteStream,
        ctx: &Ctx,
        model: &str,
        a: &pipeline::Assessment,
        max_event_bytes: usize,
    ) -> ByteStream {
        match self {
            Dialect::OpenAi => stream,
            Dialect::Anthropic => event_stream(stream, ctx, model, a, max_event_bytes),
        }
    }
}

/// A `chat.completion` body -> an Anthropic `message` body.
fn message_json(
    bytes: &[u8],
    ctx: &Ctx,
    model: &str,
    a: &pipeline::Assessment,
) -> Result<Bytes, String> {
    let chat: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|_| "the answer is not JSON".to_owned())?;
    let message = anthropic_api::response::message(
        &chat,
        &message_id(&ctx.request_id),
        model,
        a.complexity.prompt_tokens,
    )?;
    serde_json::to_vec(&message)
        .map(Bytes::from)
        .map_err(|_| "cannot encode the answer".to_owned())
}

/// An OpenAI chunk stream -> Anthropic's event stream. The upstream stays
/// inside, so a client that leaves cancels it.
fn event_stream(
    upstream: ByteStream,
    ctx: &Ctx,
    model: &str,
    a: &pipeline::Assessment,
    max_event_bytes: usize,
) -> ByteStream {
    struct State {
        upstream: ByteStream,
        decoder: SseDecoder,
        translator: anthropic_api::stream::Translator,
    }
    let state = State {
        upstream,
        decoder: SseDecoder::new(max_event_bytes),
        translator: anthropic_api::stream::Translator::new(
            &message_id(&ctx.request_id),
            model,
            a.complexity.prompt_tokens,
        ),
    };
    Box::pin(futures_util::stream::unfold(state, |mut s| async move {
        loop {
            if s.translator.is_done() {
                return None;
            }
            let mut out = Vec::new();
            match s.upstream.next().await {
                Some(Ok(chunk)) => {
                    let pushed = s.decoder.push(&chunk);
                    while let Some(ev) = s.decoder.next_event() {
                        s.translator.push(&ev.data, &mut out);
                    }
                    if pushed.is_err() {
                        s.translator.fail(
                            &mut out,
                            "api_error",
                            "the backend sent an event larger than allowed",
                        );
                    }
                }
                Some(Err(never)) => match never {},
                None => s.translator.finish(&mut out),
            }
            if !out.is_empty() {
                return Some((Ok(Bytes::from(out)), s));
            }
        }
    }))
}
