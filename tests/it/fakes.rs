//! In-process fake upstreams on 127.0.0.1:0 that speak the OpenAI and Ollama
//! wire protocols (from their API references): JSON and streamed answers,
//! error bodies and status codes, and scripted faults. Each records what it
//! received so tests can assert what reached which backend. The Anthropic
//! and Gemini fakes live in `fake_anthropic.rs` and `fake_gemini.rs` and
//! share these pieces.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request a fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A scripted behaviour for the next requests.
#[derive(Debug, Clone, Default)]
pub enum Fault {
    #[default]
    None,
    /// Answer with this status and the protocol's error body.
    Status(u16),
    /// Wait this long before the response head.
    Delay(Duration),
    /// Stream this many chunks, then cut the connection without finishing.
    CutAfter(usize),
    /// Answer 200 with a body that is not JSON.
    Garbage,
    /// Answer with the last message's text, streamed three characters a chunk.
    Echo,
    /// Answer `status` (OpenAI error body, `retry-after-ms` when given) to
    /// the next `times` requests, then behave.
    FailTimes {
        status: u16,
        times: usize,
        retry_after_ms: Option<u64>,
    },
    /// Wait `head` before the response head, then `first` before the
    /// stream's first chunk (OpenAI streams).
    Stall { head: Duration, first: Duration },
    /// Anthropic: stream this many events, then an in-stream `error` event
    /// (`overloaded_error`); Gemini: then an `error` object (`UNAVAILABLE`).
    ErrorEvent(usize),
}

#[derive(Default)]
pub struct Inner {
    pub seen: Vec<Seen>,
    pub fault: Fault,
}

#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    pub inner: Arc<Mutex<Inner>>,
}

impl Fake {
    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().expect("lock").seen.clone()
    }
    pub fn count(&self) -> usize {
        self.inner.lock().expect("lock").seen.len()
    }
    pub fn chat_count(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| {
                s.path.ends_with("/chat/completions")
                    || s.path == "/api/chat"
                    || s.path == "/v1/messages"
            })
            .count()
    }
    /// Embeddings requests received (health probes do not count).
    pub fn embed_count(&self) -> usize {
        self.seen()
            .iter()
            .filter(|s| s.path.ends_with("/embeddings") || s.path == "/api/embed")
            .count()
    }
    pub fn set_fault(&self, f: Fault) {
        self.inner.lock().expect("lock").fault = f;
    }
    /// The last request with a body (health probes have none).
    pub fn last(&self) -> Seen {
        self.seen()
            .into_iter()
            .rev()
            .find(|s| !s.body.is_null())
            .expect("a request with a body was received")
    }
}

pub type St = Arc<Mutex<Inner>>;

pub fn record(st: &St, path: &str, headers: &HeaderMap, body: &Bytes) -> Fault {
    let body = serde_json::from_slice(body).unwrap_or(Value::Null);
    let probe = body.is_null();
    let mut g = st.lock().expect("lock");
    g.seen.push(Seen {
        path: path.into(),
        headers: headers.clone(),
        body,
    });
    let fault = g.fault.clone();
    // Health probes (no body) do not use up a `FailTimes`.
    if probe {
        return fault;
    }
    if let Fault::FailTimes {
        status,
        times,
        retry_after_ms,
    } = fault
    {
        if times == 0 {
            return Fault::None;
        }
        g.fault = Fault::FailTimes {
            status,
            times: times - 1,
            retry_after_ms,
        };
    }
    fault
}

pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A stream of body chunks, with an optional cut (an error ends the body abruptly).
pub fn chunked(chunks: Vec<String>, cut_after: Option<usize>) -> Body {
    chunked_after(chunks, cut_after, Duration::ZERO)
}

/// As `chunked`, with `first` more before the first chunk.
pub fn chunked_after(chunks: Vec<String>, cut_after: Option<usize>, first: Duration) -> Body {
    let n = cut_after.unwrap_or(usize::MAX);
    let items: Vec<Result<Bytes, std::io::Error>> = chunks
        .into_iter()
        .take(n)
        .map(|c| Ok(Bytes::from(c)))
        .chain(cut_after.map(|_| Err(std::io::Error::other("cut"))))
        .collect();
    let s = futures_util::stream::iter(items.into_iter().enumerate()).then(
        move |(i, item)| async move {
            let extra = if i == 0 { first } else { Duration::ZERO };
            tokio::time::sleep(Duration::from_millis(2) + extra).await;
            item
        },
    );
    Body::from_stream(s)
}

use futures_util::StreamExt;

// ---------------------------------------------------------------- OpenAI

fn openai_error(status: u16) -> Response {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_value"),
        401 => ("invalid_request_error", "invalid_api_key"),
        404 => ("invalid_request_error", "model_not_found"),
        429 => ("requests", "rate_limit_exceeded"),
        _ => ("server_error", "server_error"),
    };
    let body = json!({"error": {"message": format!("fake upstream error {status}"), "type": kind, "param": null, "code": code}});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

async fn apply_fault(f: &Fault) -> Option<Response> {
    match f {
        Fault::Status(s) => Some(openai_error(*s)),
        Fault::FailTimes {
            status,
            retry_after_ms,
            ..
        } => {
            let mut r = openai_error(*status);
            if let Some(v) = retry_after_ms.and_then(|ms| ms.to_string().parse().ok()) {
                r.headers_mut().insert("retry-after-ms", v);
            }
            Some(r)
        }
        Fault::Delay(d) | Fault::Stall { head: d, .. } => {
            tokio::time::sleep(*d).await;
            None
        }
        Fault::Garbage => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                "<html>oops</html>",
            )
                .into_response(),
        ),
        _ => None,
    }
}

async fn oa_chat(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/v1/chat/completions", &headers, &body);
    if let Some(r) = apply_fault(&fault).await {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("?").to_owned();
    let echo: Vec<String> = match fault {
        Fault::Echo => {
            let text = req["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .chars()
                .collect::<Vec<_>>();
            text.chunks(3).map(|c| c.iter().collect()).collect()
        }
        _ => Vec::new(),
    };
    let default = ["Hello", " from", " the", " fake", " upstream."];
    let words: Vec<&str> = if echo.is_empty() {
        default.to_vec()
    } else {
        echo.iter().map(String::as_str).collect()
    };
    if req["stream"] == json!(true) {
        let include_usage = req["stream_options"]["include_usage"] == json!(true);
        let chunk = |delta: Value, finish: Value| {
            let c = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "system_fingerprint": null,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
            format!("data: {c}\n\n")
        };
        let mut chunks = vec![": keep-alive\n\n".to_owned()];
        chunks.push(chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for w in words {
            chunks.push(chunk(json!({"content": w}), Value::Null));
        }
        chunks.push(chunk(json!({}), json!("stop")));
        if include_usage {
            let u = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}});
            chunks.push(format!("data: {u}\n\n"));
        }
        chunks.push("data: [DONE]\n\n".into());
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            _ => None,
        };
        let first = match fault {
            Fault::Stall { first, .. } => first,
            _ => Duration::ZERO,
        };
        return (
            [
                (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            chunked_after(chunks, cut, first),
        )
            .into_response();
    }
    let body = json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat(), "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
        "system_fingerprint": "fp_fake"
    });
    axum::Json(body).into_response()
}

async fn oa_embeddings(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/v1/embeddings", &headers, &body);
    if let Some(r) = apply_fault(&fault).await {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": req["model"],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
    )
    .into_response()
}

pub async fn openai(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    let router = Router::new()
        .route("/v1/chat/completions", post(oa_chat))
        .route("/v1/embeddings", post(oa_embeddings))
        .route(
            "/v1/models",
            get(move |State(st): State<St>, headers: HeaderMap| {
                let models = models.clone();
                async move {
                    record(&st, "/v1/models", &headers, &Bytes::new());
                    let data: Vec<Value> = models
                        .iter()
                        .map(|m| json!({"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}))
                        .collect();
                    axum::Json(json!({"object": "list", "data": data}))
                }
            }),
        )
        .with_state(inner.clone());
    Fake {
        addr: serve(router).await,
        inner,
    }
}

// ---------------------------------------------------------------- Ollama

async fn ol_chat(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/api/chat", &headers, &body);
    match &fault {
        Fault::Status(s) => {
            return (
                StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(json!({"error": format!("fake ollama error {s}")})),
            )
                .into_response();
        }
        Fault::Delay(d) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("?").to_owned();
    let words = ["Hi", " from", " ollama."];
    // Ollama streams unless "stream": false.
    if req["stream"] != json!(false) {
        let mut lines: Vec<String> = words
            .iter()
            .map(|w| {
                format!(
                    "{}\n",
                    json!({"model": model, "created_at": "2024-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": w}, "done": false})
                )
            })
            .collect();
        lines.push(format!(
            "{}\n",
            json!({"model": model, "created_at": "2024-01-01T00:00:01Z",
                "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
                "total_duration": 1000000, "load_duration": 1000, "prompt_eval_count": 7,
                "prompt_eval_duration": 1000, "eval_count": 3, "eval_duration": 1000})
        ));
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            _ => None,
        };
        return (
            [(header::CONTENT_TYPE, "application/x-ndjson")],
            chunked(lines, cut),
        )
            .into_response();
    }
    axum::Json(json!({
        "model": model, "created_at": "2024-01-01T00:00:01Z",
        "message": {"role": "assistant", "content": words.concat()},
        "done": true, "done_reason": "stop", "total_duration": 1000000, "load_duration": 1000,
        "prompt_eval_count": 7, "prompt_eval_duration": 1000, "eval_count": 3, "eval_duration": 1000
    }))
    .into_response()
}

async fn ol_embed(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    record(&st, "/api/embed", &headers, &body);
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let embeddings: Vec<Value> = (0..n).map(|_| json!([0.5, -0.5, 0.25])).collect();
    axum::Json(json!({"model": req["model"], "embeddings": embeddings,
        "total_duration": 1000, "load_duration": 100, "prompt_eval_count": 3}))
    .into_response()
}

pub async fn ollama(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    let router = Router::new()
        .route("/api/chat", post(ol_chat))
        .route("/api/embed", post(ol_embed))
        .route(
            "/api/tags",
            get(move |State(st): State<St>, headers: HeaderMap| {
                let models = models.clone();
                async move {
                    record(&st, "/api/tags", &headers, &Bytes::new());
                    let list: Vec<Value> = models
                        .iter()
                        .map(|m| json!({"name": m, "model": m, "modified_at": "2024-01-01T00:00:00Z",
                            "size": 1, "digest": "sha256:0", "details": {"format": "gguf", "family": "llama"}}))
                        .collect();
                    axum::Json(json!({"models": list}))
                }
            }),
        )
        .with_state(inner.clone());
    Fake {
        addr: serve(router).await,
        inner,
    }
}

/// An address where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}
