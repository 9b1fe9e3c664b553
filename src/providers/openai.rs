//! The `openai` protocol: OpenAI and every server that speaks its API
//! (LM Studio, llama.cpp server, vLLM, Mistral). Requests pass through
//! untouched but for `model`; streamed bytes are forwarded as they arrive,
//! while an SSE decoder watches the frames to know when the stream really
//! started and whether it finished with `[DONE]`.

use super::sse::SseDecoder;
use super::{Call, DispatchError, Framer, Reply, open_stream, post, read_body};
use crate::config::Backend;
use crate::openai::{ChatRequest, EmbeddingsRequest};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let url = format!("{}/chat/completions", call.backend.base_url);
    let resp = post(
        http,
        call,
        &url,
        req.body_for_backend(call.model, &call.backend.drop_fields),
        req.stream,
    )
    .await?;
    if req.stream {
        let framer = PassThrough {
            comments: 0,
            decoder: SseDecoder::new(call.limits.max_event_bytes),
            started: false,
            done: false,
        };
        open_stream(resp, framer, call).await.map(Reply::Stream)
    } else {
        let body = read_body(resp, call, call.limits.max_response_bytes).await?;
        check_json(&body, call)?;
        Ok(Reply::Json(body))
    }
}

pub async fn embeddings(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &EmbeddingsRequest,
) -> Result<Bytes, DispatchError> {
    let url = format!("{}/embeddings", call.backend.base_url);
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
    check_json(&body, call)?;
    Ok(body)
}

pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let v = super::get_json(http, backend, "/models", timeout).await?;
    Ok(v.get("data")
        .and_then(|d| d.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|m| m.get("id").and_then(|id| id.as_str()).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

fn check_json(body: &[u8], call: &Call<'_>) -> Result<(), DispatchError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|_| DispatchError::Protocol {
            backend: call.backend.name.clone(),
            message: "the response is not JSON".into(),
        })
}

/// Forwards upstream SSE events as they complete, each one checked: its
/// data must be JSON (or `[DONE]`), so that a backend sending garbage ends
/// the stream with an error event (or, before the first event, is passed
/// over) instead of handing the caller's SDK something it cannot parse. An
/// event is sent whole, never a half of one. Comments (keep-alive pings)
/// are passed on as `: keep-alive`, so idle proxies stay open mid-stream.
struct PassThrough {
    decoder: SseDecoder,
    started: bool,
    done: bool,
    comments: u64,
}

impl Framer for PassThrough {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.decoder.push(chunk).map_err(|e| e.to_string())?;
        for _ in self.comments..self.decoder.comments() {
            out.extend_from_slice(b": keep-alive\n\n");
        }
        self.comments = self.decoder.comments();
        while let Some(ev) = self.decoder.next_event() {
            if self.done {
                // Nothing follows [DONE].
                continue;
            }
            if ev.data.trim() == "[DONE]" {
                self.done = true;
                self.started = true;
                out.extend_from_slice(b"data: [DONE]\n\n");
                continue;
            }
            if serde_json::from_str::<serde::de::IgnoredAny>(&ev.data).is_err() {
                return Err("the backend sent an event that is not JSON".into());
            }
            self.started = true;
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
