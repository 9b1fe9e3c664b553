//! A fast fake OpenAI-protocol upstream for the load harness (`bench/load/`).
//!
//! Serves `POST /v1/chat/completions` (a `chat.completion` JSON body, or a
//! `chat.completion.chunk` SSE stream ending in `data: [DONE]` when the request
//! says `"stream": true`) and `GET /v1/models`, on 127.0.0.1 only. Delays and
//! the number of streamed chunks come from flags, so one process has one
//! behaviour; run several for several behaviours. Prints its bound address on
//! stdout once it accepts connections, then serves until killed.
//!
//! It answers any model name with the name it was asked for, and never looks at
//! the prompt beyond its length (for a rough `usage.prompt_tokens`).
//!
//! For the soak run (`bench/soak/`), a model name picks a behaviour per
//! request, as OpenAI's API shows it: a name containing `slow` waits
//! `--slow-ms` (default `--response-delay-ms`) before answering (or before
//! the first event); `error500`
//! answers HTTP 500 with OpenAI's `server_error` body; `error429` answers
//! HTTP 429 `rate_limit_exceeded` with `retry-after-ms`; `broken` sends part
//! of the answer (two content chunks of a stream, half of a JSON body) and
//! then drops the connection. Other names behave as the flags say.
//!
//! ```text
//! cargo run --release --example fake_upstream -- --port 0 --response-delay-ms 20
//! ```

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use clap::Parser;
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Parser, Debug)]
#[command(about = "Fake OpenAI-protocol upstream for load tests (127.0.0.1 only)")]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one; the bound address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Delay before a JSON answer, or before the first streamed event, in ms.
    #[arg(long, default_value_t = 0)]
    response_delay_ms: u64,
    /// Content chunks in a streamed answer (plus a role chunk and a finish chunk).
    #[arg(long, default_value_t = 16)]
    chunks: u32,
    /// Delay between streamed content chunks, in ms.
    #[arg(long, default_value_t = 0)]
    chunk_delay_ms: u64,
    /// Approximate size of the assistant message in a JSON answer, in bytes.
    #[arg(long, default_value_t = 256)]
    reply_bytes: usize,
    /// Models listed by GET /v1/models (comma separated).
    #[arg(long, default_value = "fake-model", value_delimiter = ',')]
    models: Vec<String>,
    /// Runtime worker threads (1 = a current-thread runtime, the cheapest).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Delay of models whose name contains `slow`, in ms (default: the
    /// same as `--response-delay-ms`, so that the load harness's `slow`
    /// model waits exactly the delay it was started with).
    #[arg(long)]
    slow_ms: Option<u64>,
    /// The `retry-after-ms` of a 429 (models whose name contains `error429`).
    #[arg(long, default_value_t = 50)]
    retry_after_ms: u64,
}

/// What a request's model name asks of this upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Normal,
    Slow,
    Error500,
    Error429,
    Broken,
}

impl Behaviour {
    fn of(model: &str) -> Behaviour {
        if model.contains("error500") {
            Behaviour::Error500
        } else if model.contains("error429") {
            Behaviour::Error429
        } else if model.contains("broken") {
            Behaviour::Broken
        } else if model.contains("slow") {
            Behaviour::Slow
        } else {
            Behaviour::Normal
        }
    }
}

struct Fake {
    response_delay: Duration,
    slow_delay: Duration,
    retry_after_ms: u64,
    chunks: u32,
    chunk_delay: Duration,
    reply: String,
    models: Vec<String>,
    seq: AtomicU64,
}

const WORDS: &[&str] = &[
    "The",
    "gateway",
    "forwards",
    "each",
    "request",
    "to",
    "a",
    "local",
    "model",
    "and",
    "returns",
    "the",
    "answer",
    "unchanged",
    "so",
    "the",
    "client",
    "sees",
    "the",
    "same",
    "shape",
    "it",
    "would",
    "see",
    "from",
    "the",
    "provider",
    "itself.",
];

fn reply_text(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 16);
    for w in WORDS.iter().cycle() {
        if s.len() >= bytes {
            break;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(w);
    }
    s
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let rt = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> std::io::Result<()> {
    let fake = Arc::new(Fake {
        response_delay: Duration::from_millis(args.response_delay_ms),
        slow_delay: Duration::from_millis(args.slow_ms.unwrap_or(args.response_delay_ms)),
        retry_after_ms: args.retry_after_ms,
        chunks: args.chunks,
        chunk_delay: Duration::from_millis(args.chunk_delay_ms),
        reply: reply_text(args.reply_bytes),
        models: args.models,
        seq: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(fake);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port))).await?;
    let addr = listener.local_addr()?;
    // Streamed events are small separate writes: without TCP_NODELAY, Nagle's
    // algorithm holds each one until the client's delayed ACK (~40 ms).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The harness reads this line to learn the port.
    println!("{addr}");
    axum::serve(listener, app).await
}

async fn models(State(fake): State<Arc<Fake>>) -> Response {
    let created = now_unix();
    let data: Vec<Value> = fake
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": created, "owned_by": "fake"}))
        .collect();
    json_response(StatusCode::OK, &json!({"object": "list", "data": data}))
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn bad_request(message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

async fn chat(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return bad_request("request body is not valid JSON"),
    };
    let Some(model) = req.get("model").and_then(Value::as_str).map(str::to_owned) else {
        return bad_request("missing required parameter: 'model'");
    };
    if !req.get("messages").is_some_and(Value::is_array) {
        return bad_request("missing required parameter: 'messages'");
    }
    let behaviour = Behaviour::of(&model);
    match behaviour {
        Behaviour::Error500 => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"error": {"message": "The server had an error while processing your request. Sorry about that!",
                    "type": "server_error", "param": null, "code": null}}),
            );
        }
        Behaviour::Error429 => {
            let mut resp = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"error": {"message": "Rate limit reached for requests. Please try again later.",
                    "type": "requests", "param": null, "code": "rate_limit_exceeded"}}),
            );
            let h = resp.headers_mut();
            h.insert("retry-after-ms", fake.retry_after_ms.into());
            h.insert("x-ratelimit-remaining-requests", 0.into());
            return resp;
        }
        Behaviour::Normal | Behaviour::Slow | Behaviour::Broken => {}
    }
    let delay = if behaviour == Behaviour::Slow {
        fake.slow_delay
    } else {
        fake.response_delay
    };
    let stream = req.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // Roughly four bytes a token; good enough for a fake.
    let prompt_tokens = (body.len() / 4).max(1) as u64;
    let n = fake.seq.fetch_add(1, Ordering::Relaxed);
    let id = format!("chatcmpl-fake{n:016x}");
    if stream {
        let broken = behaviour == Behaviour::Broken;
        return sse(fake, id, model, prompt_tokens, include_usage, delay, broken);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let completion_tokens = (fake.reply.len() / 4).max(1) as u64;
    let answer = json!({
            "id": id,
            "object": "chat.completion",
            "created": now_unix(),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": fake.reply, "refusal": null},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens
            }
    });
    if behaviour == Behaviour::Broken {
        // Half the body, then the connection drops.
        let mut bytes = serde_json::to_vec(&answer).unwrap_or_default();
        bytes.truncate(bytes.len() / 2);
        let parts = futures_util::stream::iter([
            Ok(Bytes::from(bytes)),
            Err(std::io::Error::other("fake upstream: broken on purpose")),
        ]);
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from_stream(parts))
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    }
    json_response(StatusCode::OK, &answer)
}

/// Events of one streamed answer, in order: role chunk, `chunks` content
/// chunks, finish chunk, optional usage chunk, `[DONE]`.
struct Events {
    fake: Arc<Fake>,
    id: String,
    model: String,
    created: u64,
    prompt_tokens: u64,
    include_usage: bool,
    next: u32,
    /// Before the first event.
    delay: Duration,
    /// Drop the connection after two content chunks.
    broken: bool,
}

impl Events {
    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]
        })
    }

    /// The event at position `i`, or None after `[DONE]`.
    fn event(&self, i: u32) -> Option<Bytes> {
        let content_end = 1 + self.fake.chunks;
        let v = if i == 0 {
            self.chunk(
                json!({"role": "assistant", "content": "", "refusal": null}),
                None,
            )
        } else if i < content_end {
            let w = WORDS[(i as usize - 1) % WORDS.len()];
            let text = if i == 1 {
                w.to_owned()
            } else {
                format!(" {w}")
            };
            self.chunk(json!({"content": text}), None)
        } else if i == content_end {
            self.chunk(json!({}), Some("stop"))
        } else if i == content_end + 1 && self.include_usage {
            let c = u64::from(self.fake.chunks);
            json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "system_fingerprint": "fp_fake",
                "choices": [],
                "usage": {"prompt_tokens": self.prompt_tokens, "completion_tokens": c,
                          "total_tokens": self.prompt_tokens + c}
            })
        } else if i == content_end + 1 || (i == content_end + 2 && self.include_usage) {
            return Some(Bytes::from_static(b"data: [DONE]\n\n"));
        } else {
            return None;
        };
        let mut out = b"data: ".to_vec();
        out.extend(serde_json::to_vec(&v).unwrap_or_default());
        out.extend_from_slice(b"\n\n");
        Some(Bytes::from(out))
    }

    /// The delay before event `i`: the response delay before the first, the
    /// chunk delay between content chunks.
    fn delay_before(&self, i: u32) -> Duration {
        if i == 0 {
            self.delay
        } else if i >= 2 && i <= self.fake.chunks {
            self.fake.chunk_delay
        } else {
            Duration::ZERO
        }
    }
}

fn sse(
    fake: Arc<Fake>,
    id: String,
    model: String,
    prompt_tokens: u64,
    include_usage: bool,
    delay: Duration,
    broken: bool,
) -> Response {
    let events = Events {
        fake,
        id,
        model,
        created: now_unix(),
        prompt_tokens,
        include_usage,
        next: 0,
        delay,
        broken,
    };
    let stream = futures_util::stream::unfold(events, |mut ev| async move {
        let i = ev.next;
        if ev.broken && i == 3 {
            ev.next = u32::MAX;
            let cut = std::io::Error::other("fake upstream: broken on purpose");
            return Some((Err(cut), ev));
        }
        let d = ev.delay_before(i);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
        let bytes = ev.event(i)?;
        ev.next += 1;
        Some((Ok::<_, std::io::Error>(bytes), ev))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
