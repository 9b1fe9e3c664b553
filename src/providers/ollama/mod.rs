//! The native `ollama` protocol: `/api/chat` (NDJSON when streaming),
//! `/api/embed` and `/api/tags`. Requests are translated from the OpenAI
//! format by `convert` (pure), and answers translated back: NDJSON lines become
//! OpenAI `chat.completion.chunk` SSE events as they arrive.

pub mod convert;

pub use super::ConvertError;

use super::ndjson::NdjsonSplitter;
use super::{Call, DispatchError, Framer, Reply, open_stream, post, read_body, write_sse_data};
use crate::config::Backend;
use crate::openai::{ChatRequest, EmbeddingsRequest};
use bytes::{Bytes, BytesMut};
use std::time::Duration;

fn chat_id(call: &Call<'_>) -> String {
    format!("chatcmpl-{}", call.forward.request_id)
}

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let body = convert::chat_request(&req.body, call.model).map_err(DispatchError::Convert)?;
    let bytes = serde_json::to_vec(&body).map_err(|_| DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "cannot encode the request".into(),
    })?;
    let url = format!("{}/api/chat", call.backend.base_url);
    let resp = post(http, call, &url, bytes, false).await?;
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
        let out = convert::chat_response(&v, &id, call.created, call.model)
            .map_err(|e| upstream(call, e))?;
        Ok(Reply::Json(Bytes::from(
            serde_json::to_vec(&out).map_err(|_| protocol(call))?,
        )))
    }
}

pub async fn embeddings(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &EmbeddingsRequest,
) -> Result<Bytes, DispatchError> {
    let embed = convert::embed_request(&req.body, call.model).map_err(DispatchError::Convert)?;
    let bytes = serde_json::to_vec(&embed.body).map_err(|_| protocol(call))?;
    let url = format!("{}/api/embed", call.backend.base_url);
    let resp = post(http, call, &url, bytes, false).await?;
    let body = read_body(resp, call, call.limits.max_response_bytes).await?;
    let v: serde_json::Value = serde_json::from_slice(&body).map_err(|_| protocol(call))?;
    let out = convert::embed_response(&v, call.model, &embed).map_err(|e| upstream(call, e))?;
    Ok(Bytes::from(
        serde_json::to_vec(&out).map_err(|_| protocol(call))?,
    ))
}

pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let v = super::get_json(http, backend, "/api/tags", timeout).await?;
    convert::tags_models(&v).map_err(|e| DispatchError::Protocol {
        backend: backend.name.clone(),
        message: e.to_string(),
    })
}

fn protocol(call: &Call<'_>) -> DispatchError {
    DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "the response is not valid JSON".into(),
    }
}

fn upstream(call: &Call<'_>, e: ConvertError) -> DispatchError {
    DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: e.to_string(),
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
    Ndjson {
        lines: NdjsonSplitter::new(max_event_bytes),
        chat: convert::ChatStream::new(id, created, model, include_usage),
        started: false,
    }
}

/// NDJSON lines from `/api/chat` to OpenAI SSE chunks.
struct Ndjson {
    lines: NdjsonSplitter,
    chat: convert::ChatStream,
    started: bool,
}

impl Ndjson {
    fn emit_line(&mut self, line: &[u8], out: &mut BytesMut) -> Result<(), String> {
        let chunks = self.chat.push_line(line).map_err(|e| e.to_string())?;
        for c in chunks {
            self.started = true;
            write_sse_data(out, &c)?;
        }
        if self.chat.is_done() {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
        Ok(())
    }
}

impl Framer for Ndjson {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_done() {
            return Ok(());
        }
        // Lines completed before a framing error still count, so the
        // outcome does not depend on where the chunks were cut.
        let pushed = self.lines.push(chunk);
        while let Some(line) = self.lines.next_line() {
            self.emit_line(&line, out)?;
            if self.chat.is_done() {
                return Ok(());
            }
        }
        pushed.map_err(|e| e.to_string())
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finish(&mut self, out: &mut BytesMut) -> Result<(), String> {
        if !self.chat.is_done()
            && let Some(line) = self.lines.finish().map_err(|e| e.to_string())?
        {
            self.emit_line(&line, out)?;
        }
        if self.chat.is_done() {
            Ok(())
        } else {
            Err("the stream ended before the final done line".into())
        }
    }
}
