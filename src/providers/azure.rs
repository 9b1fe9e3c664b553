//! The `azure_openai` protocol: Azure OpenAI, the OpenAI wire format served
//! per deployment: `POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=V`
//! (and `/embeddings`), where the deployment is the model airlock routes to
//! and `V` the backend's `api_version`. Requests pass through untouched but
//! for `model` (which Azure ignores), as with the `openai` protocol.
//!
//! Answers are made indistinguishable from OpenAI's: the Azure-only
//! `prompt_filter_results` (`prompt_annotations` in older versions) and each
//! choice's `content_filter_results` / `content_filter_offsets` are removed,
//! and a stream chunk that carried nothing else (Azure's first chunk, with
//! `"choices": []`) is dropped; the usage chunk of `include_usage`, which
//! also has no choices, is kept. `finish_reason: "content_filter"` passes
//! through, as OpenAI sends it too. A prompt refused by the content filter
//! (HTTP 400, code `content_filter`) is answered 400 `content_filter`
//! ([`content_filter`], read by the shared `check_status`).
//!
//! Auth (see `with_auth`): the key in `api-key`, or with `token_env` a
//! Microsoft Entra ID token as `Authorization: Bearer`. The probe lists
//! `{base_url}/openai/models?api-version=V` (stable across versions, unlike
//! the deployment list) and counts a 2xx as up; that list names base models,
//! not deployments, so the backend's configured deployments are reported.
//!
//! Must not log request or answer content, nor the key.

use super::sse::SseDecoder;
use super::{
    Call, ConvertError, DispatchError, Framer, Reply, open_stream, post, read_body, write_sse_data,
};
use crate::config::Backend;
use crate::openai::{ChatRequest, EmbeddingsRequest};
use bytes::{Bytes, BytesMut};
use serde_json::Value;
use std::time::Duration;

/// The URL of `endpoint` (`chat/completions`, `embeddings`) of `deployment`.
fn url(backend: &Backend, deployment: &str, endpoint: &str) -> Result<String, ConvertError> {
    // Configured deployments are checked at load; a caller may still name
    // any model of a backend, and it goes into the path.
    if !crate::config::valid_path_segment(deployment) {
        return Err(ConvertError::invalid(
            "model",
            "is not an Azure deployment name (letters, digits, '-', '_' and '.')",
        ));
    }
    Ok(format!(
        "{}/openai/deployments/{deployment}/{endpoint}?api-version={}",
        backend.base_url, backend.api_version
    ))
}

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let url = url(call.backend, call.model, "chat/completions").map_err(DispatchError::Convert)?;
    let resp = post(
        http,
        call,
        &url,
        req.body_for_backend(call.model, &call.backend.drop_fields),
        req.stream,
    )
    .await?;
    if req.stream {
        let framer = Chunks {
            decoder: SseDecoder::new(call.limits.max_event_bytes),
            started: false,
            done: false,
        };
        open_stream(resp, framer, call).await.map(Reply::Stream)
    } else {
        let body = read_body(resp, call, call.limits.max_response_bytes).await?;
        clean_json(body)
            .ok_or_else(|| DispatchError::Protocol {
                backend: call.backend.name.clone(),
                message: "the response is not JSON".into(),
            })
            .map(Reply::Json)
    }
}

pub async fn embeddings(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &EmbeddingsRequest,
) -> Result<Bytes, DispatchError> {
    let url = url(call.backend, call.model, "embeddings").map_err(DispatchError::Convert)?;
    let resp = post(
        http,
        call,
        &url,
        req.body
            .with_model_without(call.model, &call.backend.drop_fields),
        false,
    )
    .await?;
    let body = read_body(resp, call, call.limits.max_response_bytes).await?;
    clean_json(body).ok_or_else(|| DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "the response is not JSON".into(),
    })
}

pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let path = format!("/openai/models?api-version={}", backend.api_version);
    super::get_json(http, backend, &path, timeout).await?;
    Ok(backend.models.clone())
}

/// A 4xx body that is Azure's content filter refusing the prompt, as the
/// refusal: the filter categories it names (from a fixed list: the body's
/// own text is never relayed, it may quote the prompt).
pub(crate) fn content_filter(body: &[u8]) -> Option<ConvertError> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let err = v.get("error")?;
    let inner = err.get("innererror");
    let filtered = err.get("code").and_then(Value::as_str) == Some("content_filter")
        || inner.and_then(|i| i.get("code")).and_then(Value::as_str)
            == Some("ResponsibleAIPolicyViolation");
    if !filtered {
        return None;
    }
    const CATEGORIES: [&str; 9] = [
        "hate",
        "self_harm",
        "sexual",
        "violence",
        "jailbreak",
        "indirect_attack",
        "profanity",
        "custom_blocklists",
        "protected_material_text",
    ];
    let result = inner.and_then(|i| i.get("content_filter_result"));
    let names: Vec<&str> = CATEGORIES
        .into_iter()
        .filter(|c| {
            result
                .and_then(|r| r.get(c))
                .is_some_and(|r| r.get("filtered") == Some(&Value::Bool(true)))
        })
        .collect();
    let message = if names.is_empty() {
        "the backend's content filter blocked the prompt".to_owned()
    } else {
        format!(
            "the backend's content filter blocked the prompt ({})",
            names.join(", ")
        )
    };
    Some(ConvertError::ContentFilter { message })
}

/// Removes the Azure-only fields of a chat completion, chunk or embeddings
/// answer; `true` when one was there.
fn strip(v: &mut Value) -> bool {
    let Some(obj) = v.as_object_mut() else {
        return false;
    };
    let mut changed = obj.remove("prompt_filter_results").is_some();
    changed |= obj.remove("prompt_annotations").is_some();
    if let Some(choices) = obj.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices.iter_mut().filter_map(Value::as_object_mut) {
            changed |= c.remove("content_filter_results").is_some();
            changed |= c.remove("content_filter_offsets").is_some();
        }
    }
    changed
}

/// Whether the text may hold an Azure-only field (a cheap test that spares
/// re-encoding the answers that do not).
fn may_hold_azure_fields(text: &[u8]) -> bool {
    memchr::memmem::find(text, b"filter_").is_some()
        || memchr::memmem::find(text, b"prompt_annotations").is_some()
}

/// A whole JSON answer without Azure's fields; `None` when it is not JSON.
fn clean_json(body: Bytes) -> Option<Bytes> {
    if !may_hold_azure_fields(&body) {
        serde_json::from_slice::<serde::de::IgnoredAny>(&body).ok()?;
        return Some(body);
    }
    let mut v: Value = serde_json::from_slice(&body).ok()?;
    if !strip(&mut v) {
        return Some(body);
    }
    serde_json::to_vec(&v).ok().map(Bytes::from)
}

/// What to do with one stream chunk's data.
#[derive(Debug, PartialEq)]
enum Chunk {
    /// Forward the data as it came.
    Keep,
    /// Forward this instead (Azure fields removed).
    Cleaned(Value),
    /// Azure-only: nothing to forward.
    Drop,
}

/// Judges one stream event's data (not `[DONE]`).
fn chunk(data: &str) -> Chunk {
    if !may_hold_azure_fields(data.as_bytes()) {
        return Chunk::Keep;
    }
    let Ok(mut v) = serde_json::from_str::<Value>(data) else {
        return Chunk::Keep;
    };
    if !strip(&mut v) {
        return Chunk::Keep;
    }
    let no_choices = v
        .get("choices")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty);
    let no_usage = v.get("usage").is_none_or(Value::is_null);
    if no_choices && no_usage {
        Chunk::Drop
    } else {
        Chunk::Cleaned(v)
    }
}

/// Re-frames Azure's SSE chunks as OpenAI's, dropping Azure-only ones.
struct Chunks {
    decoder: SseDecoder,
    started: bool,
    done: bool,
}

impl Framer for Chunks {
    fn push(&mut self, bytes: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.decoder.push(bytes).map_err(|e| e.to_string())?;
        while let Some(ev) = self.decoder.next_event() {
            if ev.data.trim() == "[DONE]" {
                self.done = true;
                self.started = true;
                out.extend_from_slice(b"data: [DONE]\n\n");
                continue;
            }
            match chunk(&ev.data) {
                Chunk::Drop => continue,
                Chunk::Keep => {
                    if let Some(name) = &ev.event {
                        out.extend_from_slice(b"event: ");
                        out.extend_from_slice(name.as_bytes());
                        out.extend_from_slice(b"\n");
                    }
                    for line in ev.data.split('\n') {
                        out.extend_from_slice(b"data: ");
                        out.extend_from_slice(line.as_bytes());
                        out.extend_from_slice(b"\n");
                    }
                    out.extend_from_slice(b"\n");
                }
                Chunk::Cleaned(v) => write_sse_data(out, &v)?,
            }
            self.started = true;
        }
        Ok(())
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finish(&mut self, _out: &mut BytesMut) -> Result<(), String> {
        if self.done {
            Ok(())
        } else {
            Err("the stream ended before [DONE]".into())
        }
    }
}

#[cfg(test)]
mod tests;
