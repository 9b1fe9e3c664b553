//! In-process fakes of the upstream APIs airlock speaks, each on
//! 127.0.0.1:0, written from the providers' API references: OpenAI and
//! Ollama (`openai.rs`, `ollama.rs`), Anthropic, Gemini, Azure OpenAI and
//! Bedrock. They check what the real services check that matters to airlock
//! (paths, credentials, signatures, bodies), answer as they do (JSON and
//! streamed answers, error bodies and status codes), and record what they
//! received so tests can assert what reached which backend. Behaviours are
//! scripted with a [`Fault`] (in process) or by words in the prompt (any
//! client). Shared by the gateway tests (`tests/it/`) and the
//! `fake_providers` example that serves them all to the end-to-end tests;
//! nothing here is part of airlock.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod gemini;
mod ollama;
mod openai;

pub use ollama::ollama;
pub use openai::openai;

/// The API key (and bearer token) every fake accepts.
pub const KEY: &str = "sk-cloud-upstream-secret";

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use futures_util::StreamExt;
use serde_json::Value;
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

/// An address where nothing listens (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    drop(l);
    a
}
