//! The `anthropic` protocol: Anthropic's Messages API (`POST
//! {base_url}/v1/messages`, SSE when streaming) and `GET {base_url}/v1/models`
//! for probes. Requests are translated from the OpenAI format by `convert`
//! (pure), answers translated back: Anthropic's stream events become OpenAI
//! `chat.completion.chunk` SSE events as they arrive, ending in
//! `data: [DONE]`. The key travels in `x-api-key` with `anthropic-version`
//! (see `with_auth`); error statuses are mapped by the shared `post`.
//!
//! Must not log request or answer content, nor the key.

pub mod convert;

pub use super::ConvertError;

use super::sse::{SseDecoder, StreamEnd};
use super::{Call, DispatchError, Framer, Reply, open_stream, post, read_body, write_sse_data};
use crate::config::Backend;
use crate::openai::ChatRequest;
use bytes::{Bytes, BytesMut};
use std::time::Duration;

/// The `anthropic-version` header every call carries.
pub const API_VERSION: &str = "2023-06-01";

fn chat_id(call: &Call<'_>) -> String {
    format!("chatcmpl-{}", call.forward.request_id)
}

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let body = convert::chat_request(&req.body, call.model, call.backend.default_max_tokens)
        .map_err(DispatchError::Convert)?;
    let bytes = serde_json::to_vec(&body).map_err(|_| DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "cannot encode the request".into(),
    })?;
    let url = format!("{}/v1/messages", call.backend.base_url);
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
        let out = convert::chat_response(&v, &id, call.created, call.model).map_err(|e| {
            DispatchError::Protocol {
                backend: call.backend.name.clone(),
                message: e.to_string(),
            }
        })?;
        Ok(Reply::Json(Bytes::from(
            serde_json::to_vec(&out).map_err(|_| protocol(call))?,
        )))
    }
}

/// Lists the models the key may use (up to 1000, the API's page limit).
pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let v = super::get_json(http, backend, "/v1/models?limit=1000", timeout).await?;
    convert::models(&v).map_err(|e| DispatchError::Protocol {
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
        chat: convert::MessageStream::new(id, created, model, include_usage),
        started: false,
    }
}

/// Anthropic SSE events to OpenAI SSE chunks.
struct Events {
    decoder: SseDecoder,
    chat: convert::MessageStream,
    started: bool,
}

impl Framer for Events {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_done() {
            return Ok(());
        }
        // Events completed before a framing error still count.
        let pushed = self.decoder.push(chunk);
        while let Some(ev) = self.decoder.next_event() {
            let chunks = self
                .chat
                .push_event(ev.event.as_deref(), &ev.data)
                .map_err(|e| e.to_string())?;
            for c in chunks {
                self.started = true;
                write_sse_data(out, &c)?;
            }
            if self.chat.is_done() {
                out.extend_from_slice(b"data: [DONE]\n\n");
                return Ok(());
            }
        }
        pushed.map_err(|e| e.to_string())
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finish(&mut self, _out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_done() {
            return Ok(());
        }
        let end = self.decoder.finish();
        // A last event without its blank line is discarded by SSE rules.
        let why = match end {
            StreamEnd::Truncated => "the stream was cut inside an event",
            StreamEnd::Clean => "the stream ended before message_stop",
        };
        Err(why.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [&[u8]; 3] = [
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/stream.sse"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/stream_tools.sse"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/stream_error.sse"
        )),
    ];

    fn framer(include_usage: bool) -> Events {
        Events {
            decoder: SseDecoder::new(1 << 16),
            chat: convert::MessageStream::new("chatcmpl-r", 1, "m", include_usage),
            started: false,
        }
    }

    /// Feeds `chunks`, returning the bytes out and how the stream ended.
    fn run(chunks: &[&[u8]]) -> (Vec<u8>, Result<(), String>) {
        let mut f = framer(true);
        let mut out = BytesMut::new();
        for chunk in chunks {
            if let Err(e) = f.push(chunk, &mut out) {
                return (out.to_vec(), Err(e));
            }
        }
        let end = f.finish(&mut out);
        (out.to_vec(), end)
    }

    #[test]
    fn framer_output_is_the_same_at_every_split() {
        for fixture in FIXTURES {
            let whole = run(&[fixture]);
            for at in 0..=fixture.len() {
                let (a, b) = fixture.split_at(at);
                assert_eq!(run(&[a, b]), whole, "split at {at}");
            }
            let bytes: Vec<&[u8]> = fixture.chunks(1).collect();
            assert_eq!(run(&bytes), whole, "byte at a time");
        }
    }

    #[test]
    fn framer_ends_with_done_or_an_error() {
        let (out, end) = run(&[FIXTURES[0]]);
        assert_eq!(end, Ok(()));
        assert!(out.ends_with(b"data: [DONE]\n\n"));
        let (out, end) = run(&[FIXTURES[2]]);
        let end = end.expect_err("error event");
        assert!(end.contains("overloaded_error: Overloaded"), "{end}");
        assert!(!out.windows(6).any(|w| w == b"[DONE]"));
        // Cut after the first text delta: started, then an error at EOF.
        let cut = FIXTURES[0]
            .windows(b"content_block_stop".len())
            .position(|w| w == b"content_block_stop")
            .expect("fixture has a block stop");
        let mut f = framer(false);
        let mut out = BytesMut::new();
        f.push(&FIXTURES[0][..cut], &mut out).expect("push");
        assert!(f.started());
        assert!(f.finish(&mut out).is_err());
    }

    #[test]
    fn nothing_is_committed_before_content() {
        let mut f = framer(false);
        let mut out = BytesMut::new();
        let head = b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n";
        f.push(head, &mut out).expect("push");
        assert!(!f.started() && out.is_empty());
    }

    #[test]
    fn the_key_travels_in_x_api_key_marked_sensitive() {
        let toml = r#"
[[backends]]
name = "claude"
protocol = "anthropic"
base_url = "http://127.0.0.1:9"
api_key_env = "K"
tier = "public_cloud"
models = ["m"]

[pools]
p = ["claude/m"]

[[rules]]
name = "default"
pool = "p"
"#;
        let loaded = crate::config::from_toml_str(toml, &|_| Some("sk-ant-secret".into()))
            .expect("valid config");
        let backend = &loaded.config.backends[0];
        let rb = reqwest::Client::new().get("http://127.0.0.1:9/v1/models");
        let req = super::super::with_auth(rb, backend)
            .build()
            .expect("request");
        let key = req.headers().get("x-api-key").expect("x-api-key");
        assert_eq!(key, "sk-ant-secret");
        assert!(key.is_sensitive());
        assert_eq!(req.headers()["anthropic-version"], API_VERSION);
        assert!(req.headers().get("authorization").is_none());
        assert!(!format!("{req:?}").contains("sk-ant-secret"));
    }
}
