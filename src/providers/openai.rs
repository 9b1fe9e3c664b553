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
    let resp = post(http, call, &url, req.body_for(call.model), req.stream).await?;
    if req.stream {
        let framer = stream_framer(call.limits.max_event_bytes);
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
    let resp = post(http, call, &url, req.body.with_model(call.model), false).await?;
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

/// The framer of a streamed answer (also driven by the fuzz targets).
pub(crate) fn stream_framer(max_event_bytes: usize) -> impl Framer {
    PassThrough {
        decoder: SseDecoder::new(max_event_bytes),
        started: false,
        done: false,
    }
}

/// Forwards upstream SSE bytes unchanged while tracking its frames.
struct PassThrough {
    decoder: SseDecoder,
    started: bool,
    done: bool,
}

impl Framer for PassThrough {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        self.decoder.push(chunk).map_err(|e| e.to_string())?;
        while let Some(ev) = self.decoder.next_event() {
            self.started = true;
            if ev.data.trim() == "[DONE]" {
                self.done = true;
            }
        }
        out.extend_from_slice(chunk);
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
