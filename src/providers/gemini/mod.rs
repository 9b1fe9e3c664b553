//! The `gemini` protocol: Google's Gemini API (`POST
//! {root}/models/{model}:generateContent`, or
//! `:streamGenerateContent?alt=sse` when streaming) and Vertex AI, which
//! serves the same request and response under its own path. The root is
//! `{base_url}/v1beta` for a bare host (`https://generativelanguage.googleapis.com`)
//! and `base_url` itself when it has a path (Vertex AI's
//! `.../v1/projects/P/locations/L/publishers/google`). Requests are
//! translated from the OpenAI format by `convert` (pure), answers translated
//! back, stream events as they arrive, ending in `data: [DONE]`.
//!
//! Auth (see `with_auth`): an API key in `x-goog-api-key`, never in the URL
//! (URLs end up in logs), or with `token_env` an access token as
//! `Authorization: Bearer` (Vertex AI). Error statuses are mapped by the
//! shared `post`; a 400 that says the key is invalid counts as airlock's
//! failure ([`is_key_error`]). Probes list `{base_url}/v1beta/models` on the
//! Gemini API; Vertex AI lists no models under a project, so its probe counts
//! the tokens of one word with the first configured model (free of charge).
//!
//! Must not log request or answer content, nor the key.

pub mod convert;

pub use super::ConvertError;

use super::sse::{SseDecoder, StreamEnd};
use super::{
    Call, DispatchError, Framer, Reply, open_stream, post, read_body, transport_error, with_auth,
    write_sse_data,
};
use crate::config::Backend;
use crate::openai::ChatRequest;
use bytes::{Bytes, BytesMut};
use std::time::Duration;

fn chat_id(call: &Call<'_>) -> String {
    format!("chatcmpl-{}", call.forward.request_id)
}

/// Where `models/...` lives, and whether the model list may be read there
/// (the Gemini API's `v1beta/models`).
fn root(backend: &Backend) -> (String, bool) {
    let bare = url::Url::parse(&backend.base_url).is_ok_and(|u| u.path() == "/");
    if bare {
        (format!("{}/v1beta", backend.base_url), true)
    } else {
        (backend.base_url.clone(), false)
    }
}

/// `model` if it is a Gemini model id (`gemini-2.5-flash`, with or without
/// `models/`): it goes into the URL path, so nothing else may pass (a caller
/// names any model of a backend that lists none).
fn model_id(model: &str) -> Result<&str, ConvertError> {
    let id = model.strip_prefix("models/").unwrap_or(model);
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(id)
    } else {
        Err(ConvertError::invalid(
            "model",
            "is not a Gemini model id (letters, digits, '-', '_' and '.')",
        ))
    }
}

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let model = model_id(call.model).map_err(DispatchError::Convert)?;
    let body = convert::chat_request(&req.body).map_err(DispatchError::Convert)?;
    let bytes = serde_json::to_vec(&body).map_err(|_| DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "cannot encode the request".into(),
    })?;
    let (root, _) = root(call.backend);
    let url = if req.stream {
        format!("{root}/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("{root}/models/{model}:generateContent")
    };
    let resp = post(http, call, &url, bytes, req.stream).await?;
    let id = chat_id(call);
    if req.stream {
        let framer = stream_framer(
            call.limits.max_event_bytes,
            &id,
            call.created,
            call.model,
            req.include_usage,
        );
        open_stream(resp, framer, call).await.map(Reply::Stream)
    } else {
        let body = read_body(resp, call, call.limits.max_response_bytes).await?;
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| protocol(call))?;
        let out =
            convert::chat_response(&v, &id, call.created, call.model).map_err(|e| match e {
                e @ ConvertError::ContentFilter { .. } => DispatchError::Convert(e),
                e => DispatchError::Protocol {
                    backend: call.backend.name.clone(),
                    message: e.to_string(),
                },
            })?;
        Ok(Reply::Json(Bytes::from(
            serde_json::to_vec(&out).map_err(|_| protocol(call))?,
        )))
    }
}

/// The Gemini API: its model list (up to 1000, the API's page limit).
/// Vertex AI: a `countTokens` call with the first configured model.
pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let upstream = |message: String| DispatchError::Protocol {
        backend: backend.name.clone(),
        message,
    };
    let (root, listable) = root(backend);
    if listable {
        let v = super::get_json(http, backend, "/v1beta/models?pageSize=1000", timeout).await?;
        return convert::models(&v).map_err(|e| upstream(e.to_string()));
    }
    let model = backend
        .models
        .first()
        .ok_or_else(|| upstream("no model to probe".into()))
        .and_then(|m| model_id(m).map_err(|e| upstream(e.to_string())))?;
    let body = br#"{"contents":[{"role":"user","parts":[{"text":"ping"}]}]}"#;
    let rb = http
        .post(format!("{root}/models/{model}:countTokens"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .timeout(timeout)
        .body(&body[..]);
    let resp = with_auth(rb, backend)
        .send()
        .await
        .map_err(|e| transport_error(&backend.name, &e))?;
    let status = resp.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(DispatchError::Status {
            backend: backend.name.clone(),
            status,
            retry_after: None,
        });
    }
    Ok(backend.models.clone())
}

/// Whether a 4xx error body says the API key is invalid: Google answers it
/// with 400 `INVALID_ARGUMENT` and an `ErrorInfo` of reason `API_KEY_INVALID`.
pub fn is_key_error(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    v.pointer("/error/details")
        .and_then(serde_json::Value::as_array)
        .is_some_and(|details| details.iter().any(|d| d["reason"] == "API_KEY_INVALID"))
}

fn protocol(call: &Call<'_>) -> DispatchError {
    DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "the response is not valid JSON".into(),
    }
}

/// The framer of a streamed answer (also driven by the fuzz targets).
pub(crate) fn stream_framer(
    max_event_bytes: usize,
    id: &str,
    created: u64,
    model: &str,
    include_usage: bool,
) -> impl Framer {
    Events {
        decoder: SseDecoder::new(max_event_bytes),
        chat: convert::ChunkStream::new(id, created, model, include_usage),
        started: false,
        refusal: None,
    }
}

/// Gemini SSE events to OpenAI SSE chunks.
struct Events {
    decoder: SseDecoder,
    chat: convert::ChunkStream,
    started: bool,
    /// A blocked prompt, kept for [`Framer::refusal`].
    refusal: Option<ConvertError>,
}

impl Framer for Events {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        // Events completed before a framing error still count.
        let pushed = self.decoder.push(chunk);
        while let Some(ev) = self.decoder.next_event() {
            let chunks = self.chat.push_event(&ev.data).map_err(|e| {
                let message = e.to_string();
                if matches!(e, ConvertError::ContentFilter { .. }) {
                    self.refusal = Some(e);
                }
                message
            })?;
            for c in chunks {
                self.started = true;
                write_sse_data(out, &c)?;
            }
        }
        pushed.map_err(|e| e.to_string())
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finish(&mut self, out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_ended() {
            return Ok(());
        }
        // A last event without its blank line is discarded by SSE rules.
        if self.decoder.finish() == StreamEnd::Truncated {
            return Err("the stream was cut inside an event".into());
        }
        for c in self.chat.end().map_err(|e| e.to_string())? {
            write_sse_data(out, &c)?;
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Ok(())
    }

    fn refusal(&mut self) -> Option<ConvertError> {
        self.refusal.take()
    }
}

#[cfg(test)]
mod tests;
