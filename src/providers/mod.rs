//! Talking to backends: one module per wire protocol (`openai`, `ollama`,
//! `anthropic`, `gemini`, `azure`, `bedrock`), sharing the transport here: timeouts (connect, first byte,
//! idle, total), bounded bodies, header hygiene, and the stream pump that
//! commits only once the first meaningful frame has arrived. Errors say who failed and whether
//! another backend may be tried. This layer never decides *where* a request
//! goes; it only sends to the target it is handed.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod gemini;
pub mod ndjson;
pub mod ollama;
pub mod openai;
pub mod sse;

mod convert_error;
pub(crate) mod fields;

pub use convert_error::ConvertError;

use crate::config::{Auth, Backend, KeyState, Protocol, Retries, Timeouts};
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use secrecy::ExposeSecret;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::Instant;

/// A response body stream that never fails: errors become in-band SSE error events.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, std::convert::Infallible>> + Send>>;

/// What a backend answered, already in the OpenAI wire format.
pub enum Reply {
    Json(Bytes),
    Stream(ByteStream),
}

/// Headers of the caller that are forwarded upstream. Nothing else is.
#[derive(Debug, Clone, Default)]
pub struct Forward {
    pub request_id: String,
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
}

/// Limits a call runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeouts: Timeouts,
    pub max_response_bytes: usize,
    pub max_event_bytes: usize,
}

/// Why a call to a backend failed.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("cannot connect to backend {backend}")]
    Connect { backend: String },
    #[error("backend {backend} timed out ({phase})")]
    Timeout {
        backend: String,
        phase: &'static str,
    },
    /// The backend refused the request as the caller's fault (4xx other than
    /// 401/402/403/408/429); `message` and `param` are relayed to the caller.
    #[error("backend {backend} rejected the request with HTTP {status}")]
    Rejected {
        backend: String,
        status: u16,
        message: String,
        param: Option<String>,
    },
    /// 401/402/403/408/429/5xx (Anthropic's 529 included): a failure of the
    /// backend or of airlock's credentials or billing; `retry_after` is
    /// what the backend asked for, if it did (`retry-after-ms`, or
    /// `retry-after` in seconds).
    #[error("backend {backend} answered HTTP {status}")]
    Status {
        backend: String,
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("backend {backend} sent an invalid response: {message}")]
    Protocol { backend: String, message: String },
    #[error("backend {backend}'s response exceeds {limit} bytes")]
    TooLarge { backend: String, limit: usize },
    /// The request uses something this backend's protocol cannot honour.
    #[error("{0}")]
    Convert(ConvertError),
    /// Not sent, or refused before any work: the backend is loading a
    /// model (`why` "loading"), its circuit is open ("circuit_open"), or
    /// its queue is full or was waited on too long ("queue_full",
    /// "queue_timeout"). Another backend may be tried.
    #[error("backend {backend} is unavailable ({why})")]
    Unavailable {
        backend: String,
        why: &'static str,
        retry_after: Option<Duration>,
    },
}

impl DispatchError {
    /// Whether another eligible backend may be tried (only ever before the first byte).
    pub fn is_retryable(&self) -> bool {
        match self {
            DispatchError::Connect { .. }
            | DispatchError::Timeout { .. }
            | DispatchError::Protocol { .. }
            | DispatchError::Status { .. }
            | DispatchError::Unavailable { .. } => true,
            DispatchError::Convert(ConvertError::Unsupported { .. }) => true,
            DispatchError::Rejected { .. }
            | DispatchError::TooLarge { .. }
            | DispatchError::Convert(_) => false,
        }
    }

    /// A fixed label for logs: messages may quote what an upstream sent
    /// (Ollama's error texts), which may quote the prompt, so logs get this.
    pub fn label(&self) -> &'static str {
        match self {
            DispatchError::Connect { .. } => "connect",
            DispatchError::Timeout { phase, .. } => phase,
            DispatchError::Rejected { .. } => "rejected",
            DispatchError::Status { .. } => "status",
            DispatchError::Protocol { .. } => "protocol",
            DispatchError::TooLarge { .. } => "too_large",
            DispatchError::Convert(ConvertError::ContentFilter { .. }) => "content_filter",
            DispatchError::Convert(_) => "unsupported",
            DispatchError::Unavailable { why, .. } => why,
        }
    }

    /// Whether the backend said it is still loading a model.
    pub fn is_loading(&self) -> bool {
        matches!(self, DispatchError::Unavailable { why: "loading", .. })
    }

    /// How long to wait before trying the same backend again after this
    /// failure on attempt `attempt` (0 for the first), or `None` when the
    /// next backend should be tried instead: connect failures and 5xx
    /// (529 included) back off exponentially with jitter; a 429 waits what
    /// the backend asked for, or backs off when it did not say. A wait
    /// longer than `retries.max_wait` is not waited.
    pub fn retry_wait(&self, attempt: u32, retries: &Retries) -> Option<Duration> {
        let wait = match self {
            DispatchError::Connect { .. } => backoff(attempt, retries),
            DispatchError::Status {
                status,
                retry_after,
                ..
            } if *status == 429 || *status >= 500 => {
                retry_after.unwrap_or_else(|| backoff(attempt, retries))
            }
            _ => return None,
        };
        (wait <= retries.max_wait).then_some(wait)
    }

    /// Whether the failure says the backend itself is unavailable.
    pub fn marks_down(&self) -> bool {
        matches!(
            self,
            DispatchError::Connect { .. } | DispatchError::Timeout { .. }
        ) || matches!(self, DispatchError::Status { status, .. } if *status >= 500)
    }
}

/// One backend call's context.
pub struct Call<'a> {
    pub backend: &'a Backend,
    pub model: &'a str,
    pub forward: &'a Forward,
    pub limits: Limits,
    /// Unix seconds, for synthesised response objects.
    pub created: u64,
}

/// Builds the shared HTTP client: connect timeout, pooled keep-alive, no
/// automatic retries or redirects to other hosts, and no proxy taken from
/// the environment: reqwest would otherwise honour `HTTP(S)_PROXY` and
/// `ALL_PROXY`, sending even restricted prompts bound for a local backend
/// through whatever proxy a container happens to set.
pub fn client(timeouts: &Timeouts) -> reqwest::Result<reqwest::Client> {
    builder(timeouts).build()
}

fn builder(timeouts: &Timeouts) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
}

/// The HTTP clients backends are called with: one shared, and one of its
/// own for each backend with a proxy, CA or client certificate (a
/// connection pool is per client, so nothing configured for one backend
/// can reach another's calls).
#[derive(Clone)]
pub struct Clients {
    shared: reqwest::Client,
    own: std::sync::Arc<[Option<reqwest::Client>]>,
}

impl Clients {
    pub fn new(config: &crate::config::Config) -> reqwest::Result<Clients> {
        let own = config
            .backends
            .iter()
            .map(|b| {
                b.egress
                    .as_ref()
                    .map(|e| egress_client(&config.timeouts, e))
                    .transpose()
            })
            .collect::<reqwest::Result<Vec<_>>>()?;
        Ok(Clients {
            shared: client(&config.timeouts)?,
            own: own.into(),
        })
    }

    /// The client for backend `id`.
    pub fn get(&self, id: crate::config::BackendId) -> &reqwest::Client {
        self.own
            .get(id.0)
            .and_then(Option::as_ref)
            .unwrap_or(&self.shared)
    }
}

fn egress_client(
    timeouts: &Timeouts,
    e: &crate::config::Egress,
) -> reqwest::Result<reqwest::Client> {
    let mut b = builder(timeouts);
    if let Some(p) = &e.proxy {
        b = b.proxy(reqwest::Proxy::all(p)?);
    }
    if let Some(pem) = &e.ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)? {
            b = b.add_root_certificate(cert);
        }
    }
    if let Some(pem) = &e.identity_pem {
        b = b.identity(reqwest::Identity::from_pem(pem)?);
    }
    b.build()
}

/// A checked request of one of the endpoints airlock forwards.
#[derive(Debug, Clone, Copy)]
pub enum Job<'a> {
    Chat(&'a crate::openai::ChatRequest),
    Embeddings(&'a crate::openai::EmbeddingsRequest),
}

/// Sends `job` to `call.backend` in its protocol.
pub async fn send(
    http: &reqwest::Client,
    call: &Call<'_>,
    job: Job<'_>,
) -> Result<Reply, DispatchError> {
    match (call.backend.protocol, job) {
        (Protocol::OpenAi, Job::Chat(req)) => openai::chat(http, call, req).await,
        (Protocol::Ollama, Job::Chat(req)) => ollama::chat(http, call, req).await,
        (Protocol::Anthropic, Job::Chat(req)) => anthropic::chat(http, call, req).await,
        (Protocol::Gemini, Job::Chat(req)) => gemini::chat(http, call, req).await,
        (Protocol::AzureOpenAi, Job::Chat(req)) => azure::chat(http, call, req).await,
        (Protocol::Bedrock, Job::Chat(req)) => bedrock::chat(http, call, req).await,
        (Protocol::OpenAi, Job::Embeddings(req)) => {
            openai::embeddings(http, call, req).await.map(Reply::Json)
        }
        (Protocol::Ollama, Job::Embeddings(req)) => {
            ollama::embeddings(http, call, req).await.map(Reply::Json)
        }
        (Protocol::AzureOpenAi, Job::Embeddings(req)) => {
            azure::embeddings(http, call, req).await.map(Reply::Json)
        }
        // Anthropic has no embeddings endpoint; the caller may try another backend.
        (Protocol::Anthropic, Job::Embeddings(_)) => Err(DispatchError::Convert(
            ConvertError::unsupported("model", "Anthropic backends do not serve embeddings"),
        )),
        // Bedrock's embedding models speak InvokeModel, not translated (yet).
        (Protocol::Bedrock, Job::Embeddings(_)) => Err(DispatchError::Convert(
            ConvertError::unsupported("model", "Bedrock backends do not serve embeddings"),
        )),
        // Gemini's embedContent is not translated (yet); another backend may serve it.
        (Protocol::Gemini, Job::Embeddings(_)) => Err(DispatchError::Convert(
            ConvertError::unsupported("model", "Gemini backends do not serve embeddings"),
        )),
    }
}

/// Probes a backend; `Ok` with the models it lists when it answers (`None`
/// when it is probed on its `health_path`, which lists none).
pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Option<Vec<String>>, DispatchError> {
    if let Some(path) = &backend.health_path {
        // An absolute path, from the server's root (llama.cpp's `/health`
        // beside `base_url = ".../v1"`).
        let url = url::Url::parse(&backend.base_url)
            .and_then(|u| u.join(path))
            .map_err(|_| DispatchError::Protocol {
                backend: backend.name.clone(),
                message: "health_path does not make a URL".into(),
            })?;
        return get_bounded(http, backend, url.as_str(), timeout)
            .await
            .map(|_| None);
    }
    match backend.protocol {
        Protocol::OpenAi => openai::probe(http, backend, timeout).await,
        Protocol::Ollama => ollama::probe(http, backend, timeout).await,
        Protocol::Anthropic => anthropic::probe(http, backend, timeout).await,
        Protocol::Gemini => gemini::probe(http, backend, timeout).await,
        Protocol::AzureOpenAi => azure::probe(http, backend, timeout).await,
        Protocol::Bedrock => bedrock::probe(http, backend, timeout).await,
    }
    .map(Some)
}

/// A POST with auth and forwarded headers, waiting for the response head
/// under the first-byte timeout. Non-2xx answers become errors.
pub(crate) async fn post(
    http: &reqwest::Client,
    call: &Call<'_>,
    url: &str,
    body: Vec<u8>,
    stream: bool,
) -> Result<reqwest::Response, DispatchError> {
    let accept = if stream { "text/event-stream" } else { "" };
    let rb = with_auth(request(http, call, url, accept), call.backend);
    send_post(rb.body(body), call).await
}

/// A POST to `url` with the JSON content type, the forwarded headers,
/// `accept` (unless empty) and the total timeout; no auth, no body yet.
pub(crate) fn request(
    http: &reqwest::Client,
    call: &Call<'_>,
    url: &str,
    accept: &str,
) -> reqwest::RequestBuilder {
    let mut rb = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-request-id", &call.forward.request_id)
        .timeout(call.limits.timeouts.total);
    if !accept.is_empty() {
        rb = rb.header(http::header::ACCEPT, accept);
    }
    if let Some(tp) = &call.forward.traceparent {
        rb = rb.header("traceparent", tp);
    }
    if let Some(ts) = &call.forward.tracestate {
        rb = rb.header("tracestate", ts);
    }
    for (name, value) in &call.backend.headers {
        rb = rb.header(name.clone(), value.clone());
    }
    rb
}

/// Sends a request built by [`request`], waiting for the response head
/// under the first-byte timeout. Non-2xx answers become errors.
pub(crate) async fn send_post(
    rb: reqwest::RequestBuilder,
    call: &Call<'_>,
) -> Result<reqwest::Response, DispatchError> {
    let name = &call.backend.name;
    let sent = Instant::now();
    let mut resp = match tokio::time::timeout(call.limits.timeouts.first_byte, rb.send()).await {
        Err(_) => {
            return Err(DispatchError::Timeout {
                backend: name.clone(),
                phase: "first byte",
            });
        }
        Ok(Err(e)) => return Err(transport_error(name, &e)),
        Ok(Ok(r)) => r,
    };
    // A stream's first event must come within `first_byte` of sending,
    // not of the response head: `open_stream` reads this.
    resp.extensions_mut().insert(SentAt(sent));
    check_status(resp, call).await
}

/// The wait a backend asks for: `retry-after-ms` (OpenAI, Azure), else
/// `retry-after` in whole seconds. An HTTP date is not read (no provider
/// airlock speaks sends one); it counts as not asked.
fn retry_after(h: &http::HeaderMap) -> Option<Duration> {
    let read = |name: &str| h.get(name)?.to_str().ok()?.trim().parse::<f64>().ok();
    let secs = read("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| read("retry-after"))?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// Exponential backoff with jitter for attempt `attempt`: a random wait
/// between half and all of `backoff * 2^attempt`.
fn backoff(attempt: u32, retries: &Retries) -> Duration {
    let full = retries.backoff.saturating_mul(1 << attempt.min(16));
    full / 2 + full.mul_f64(rand::random::<f64>() * 0.5)
}

/// When a request was sent (a response extension set by `post`).
#[derive(Debug, Clone, Copy)]
struct SentAt(Instant);

/// A GET of a small JSON document (health probes), under `timeout`.
pub(crate) async fn get_json(
    http: &reqwest::Client,
    backend: &Backend,
    path: &str,
    timeout: Duration,
) -> Result<serde_json::Value, DispatchError> {
    let url = format!("{}{path}", backend.base_url);
    let body = get_bounded(http, backend, &url, timeout).await?;
    serde_json::from_slice(&body).map_err(|_| DispatchError::Protocol {
        backend: backend.name.clone(),
        message: format!("{path} did not return JSON"),
    })
}

/// A GET of `url` with the backend's auth: the body of a 2xx answer, at
/// most `PROBE_MAX_BYTES`; a 503 that says it is loading is
/// `Unavailable { why: "loading" }`.
async fn get_bounded(
    http: &reqwest::Client,
    backend: &Backend,
    url: &str,
    timeout: Duration,
) -> Result<Bytes, DispatchError> {
    let resp = with_auth(http.get(url).timeout(timeout), backend)
        .send()
        .await
        .map_err(|e| transport_error(&backend.name, &e))?;
    let status = resp.status().as_u16();
    let ok = (200..300).contains(&status);
    if !ok && status != 503 {
        return Err(DispatchError::Status {
            backend: backend.name.clone(),
            status,
            retry_after: None,
        });
    }
    // A model list is a few KB; a backend sending more is not trusted
    // with memory.
    let too_large = || DispatchError::TooLarge {
        backend: backend.name.clone(),
        limit: PROBE_MAX_BYTES,
    };
    if resp
        .content_length()
        .is_some_and(|n| n > PROBE_MAX_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    let mut chunks = resp.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| transport_error(&backend.name, &e))?;
        if body.len() + chunk.len() > PROBE_MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if !ok {
        return Err(if says_loading(&body) {
            loading(&backend.name)
        } else {
            DispatchError::Status {
                backend: backend.name.clone(),
                status,
                retry_after: None,
            }
        });
    }
    Ok(body.freeze())
}

/// A 503 whose body says a model is loading (llama.cpp answers every
/// endpoint with `{"error":{"code":503,"message":"Loading model",
/// "type":"unavailable_error"}}` while it reads weights).
fn says_loading(body: &[u8]) -> bool {
    body.len() <= 64 * 1024
        && std::str::from_utf8(body).is_ok_and(|s| s.to_ascii_lowercase().contains("loading"))
}

fn loading(backend: &str) -> DispatchError {
    DispatchError::Unavailable {
        backend: backend.to_owned(),
        why: "loading",
        retry_after: None,
    }
}

/// Largest health-probe answer read (a model list).
const PROBE_MAX_BYTES: usize = 1024 * 1024;

/// The backend's key in its protocol's header (a bearer token, Anthropic's
/// `x-api-key`, Gemini's `x-goog-api-key`, Azure's `api-key`; a `token_env` token as a bearer
/// token whatever the protocol), marked sensitive so it is never shown in
/// debug output, and the API version header Anthropic requires on every call.
/// Keys never go in a URL, which may be logged.
pub(crate) fn with_auth(rb: reqwest::RequestBuilder, backend: &Backend) -> reqwest::RequestBuilder {
    let rb = match backend.protocol {
        Protocol::Anthropic => rb.header("anthropic-version", anthropic::API_VERSION),
        Protocol::OpenAi
        | Protocol::Ollama
        | Protocol::Gemini
        | Protocol::AzureOpenAi
        | Protocol::Bedrock => rb,
    };
    let key = match &backend.key {
        KeyState::Present(k) => k.expose_secret(),
        KeyState::NotNeeded | KeyState::Missing(_) => return rb,
    };
    match (backend.protocol, backend.auth) {
        // Bedrock requests are signed with the whole request in hand.
        (_, Auth::SigV4) => rb,
        (Protocol::OpenAi | Protocol::Ollama | Protocol::Bedrock, Auth::ApiKey)
        | (_, Auth::Bearer) => rb.bearer_auth(key),
        (Protocol::Anthropic, Auth::ApiKey) => sensitive_header(rb, "x-api-key", key),
        (Protocol::Gemini, Auth::ApiKey) => sensitive_header(rb, "x-goog-api-key", key),
        (Protocol::AzureOpenAi, Auth::ApiKey) => sensitive_header(rb, "api-key", key),
    }
}

fn sensitive_header(
    rb: reqwest::RequestBuilder,
    name: &'static str,
    key: &str,
) -> reqwest::RequestBuilder {
    match http::HeaderValue::from_str(key) {
        Ok(mut value) => {
            value.set_sensitive(true);
            rb.header(name, value)
        }
        // Not a valid header value: reqwest fails the request when it is
        // sent (as `bearer_auth` does), without quoting the value.
        Err(_) => rb.header(name, key),
    }
}

pub(crate) fn transport_error(backend: &str, e: &reqwest::Error) -> DispatchError {
    if e.is_timeout() {
        DispatchError::Timeout {
            backend: backend.to_owned(),
            phase: if e.is_connect() { "connect" } else { "total" },
        }
    } else if e.is_connect() {
        DispatchError::Connect {
            backend: backend.to_owned(),
        }
    } else {
        DispatchError::Protocol {
            backend: backend.to_owned(),
            message: "the connection failed".into(),
        }
    }
}

async fn check_status(
    resp: reqwest::Response,
    call: &Call<'_>,
) -> Result<reqwest::Response, DispatchError> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(resp);
    }
    // Bedrock names its errors in a header, whatever the status.
    if call.backend.protocol == Protocol::Bedrock {
        return Err(bedrock::error(resp, call).await);
    }
    let backend = call.backend.name.clone();
    if status == 503 {
        let retry_after = retry_after(resp.headers());
        let body = read_body(resp, call, 64 * 1024).await.unwrap_or_default();
        if says_loading(&body) {
            return Err(loading(&backend));
        }
        return Err(DispatchError::Status {
            backend,
            status,
            retry_after,
        });
    }
    if matches!(status, 401 | 402 | 403 | 408 | 429) || !(400..500).contains(&status) {
        return Err(DispatchError::Status {
            backend,
            status,
            retry_after: retry_after(resp.headers()),
        });
    }
    // A 4xx about the request: pass its message on, bounded.
    let body = read_body(resp, call, 64 * 1024).await.unwrap_or_default();
    // Google answers a bad key with 400 INVALID_ARGUMENT: airlock's fault.
    if call.backend.protocol == Protocol::Gemini && gemini::is_key_error(&body) {
        return Err(DispatchError::Status {
            backend,
            status,
            retry_after: None,
        });
    }
    // Azure's content filter refuses the prompt with a 400: a refusal,
    // answered as such and not tried elsewhere.
    if call.backend.protocol == Protocol::AzureOpenAi
        && let Some(refusal) = azure::content_filter(&body)
    {
        return Err(DispatchError::Convert(refusal));
    }
    let (message, param) = error_message(&body).unwrap_or_else(|| {
        (
            format!("backend {backend} rejected the request with HTTP {status}"),
            None,
        )
    });
    Err(DispatchError::Rejected {
        backend,
        status,
        message,
        param,
    })
}

/// The message of an OpenAI-shaped (`{"error":{"message"}}`), Anthropic-shaped
/// (`{"type":"error","error":{"type","message"}}`) or Ollama-shaped
/// (`{"error":"..."}`) error body.
fn error_message(body: &[u8]) -> Option<(String, Option<String>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get("error")? {
        serde_json::Value::String(s) => Some((s.clone(), None)),
        serde_json::Value::Object(o) => Some((
            o.get("message")?.as_str()?.to_owned(),
            o.get("param").and_then(|p| p.as_str()).map(str::to_owned),
        )),
        _ => None,
    }
}

/// Reads a whole (non-streamed) body under the total timeout and a size cap.
pub(crate) async fn read_body(
    resp: reqwest::Response,
    call: &Call<'_>,
    limit: usize,
) -> Result<Bytes, DispatchError> {
    let backend = &call.backend.name;
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(DispatchError::TooLarge {
            backend: backend.clone(),
            limit,
        });
    }
    let mut buf = BytesMut::new();
    let mut stream = resp.bytes_stream();
    let deadline = Instant::now() + call.limits.timeouts.total;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        match next {
            Err(_) => {
                return Err(DispatchError::Timeout {
                    backend: backend.clone(),
                    phase: "total",
                });
            }
            Ok(None) => return Ok(buf.freeze()),
            Ok(Some(Err(e))) => return Err(transport_error(backend, &e)),
            Ok(Some(Ok(chunk))) => {
                if buf.len() + chunk.len() > limit {
                    return Err(DispatchError::TooLarge {
                        backend: backend.clone(),
                        limit,
                    });
                }
                buf.extend_from_slice(&chunk);
            }
        }
    }
}

/// Turns upstream bytes into OpenAI SSE bytes, frame by frame.
pub(crate) trait Framer: Send + 'static {
    /// Consumes one upstream chunk, appending what to send downstream.
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String>;
    /// Whether a meaningful frame (not a comment or keep-alive) has been produced.
    fn started(&self) -> bool;
    /// At upstream EOF: appends any tail; `Err` when the stream was cut short.
    fn finish(&mut self, out: &mut BytesMut) -> Result<(), String>;
    /// After `push` failed: the failure as a refusal of the caller's request
    /// (a prompt the backend's safety filter blocked), answered as such
    /// before the stream commits instead of as an upstream fault.
    fn refusal(&mut self) -> Option<ConvertError> {
        None
    }
}

/// Appends `value` as one SSE `data:` event.
pub(crate) fn write_sse_data(out: &mut BytesMut, value: &serde_json::Value) -> Result<(), String> {
    struct Writer<'a>(&'a mut BytesMut);
    impl std::io::Write for Writer<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    out.extend_from_slice(b"data: ");
    serde_json::to_writer(Writer(out), value).map_err(|e| e.to_string())?;
    out.extend_from_slice(b"\n\n");
    Ok(())
}

/// An SSE error event in the shape the OpenAI SDKs raise as an API error.
pub fn sse_error_event(message: &str, code: &str) -> Bytes {
    let body = serde_json::json!({
        "error": {"message": message, "type": "api_error", "param": null, "code": code}
    });
    Bytes::from(format!("data: {body}\n\n"))
}

/// Reads the upstream stream until the framer has produced its first
/// meaningful frame (first-byte timeout), then returns a body stream that
/// yields it and the rest. Failures before that point are errors the caller
/// may retry elsewhere; after it they end the stream with an error event.
pub(crate) async fn open_stream<F: Framer>(
    resp: reqwest::Response,
    mut framer: F,
    call: &Call<'_>,
) -> Result<ByteStream, DispatchError> {
    let backend = call.backend.name.clone();
    let limits = call.limits;
    let sent = resp
        .extensions()
        .get::<SentAt>()
        .map_or_else(Instant::now, |s| s.0);
    let deadline = sent + limits.timeouts.total;
    let first_deadline = sent + limits.timeouts.first_byte;
    let mut upstream = resp.bytes_stream();
    let mut out = BytesMut::new();
    while !framer.started() {
        match tokio::time::timeout_at(first_deadline.min(deadline), upstream.next()).await {
            Err(_) => {
                return Err(DispatchError::Timeout {
                    backend,
                    phase: "first byte",
                });
            }
            Ok(None) => {
                let message = match framer.finish(&mut out) {
                    Err(m) => m,
                    Ok(()) => "the stream ended before any event".into(),
                };
                return Err(DispatchError::Protocol { backend, message });
            }
            Ok(Some(Err(e))) => return Err(transport_error(&backend, &e)),
            Ok(Some(Ok(chunk))) => {
                if let Err(message) = framer.push(&chunk, &mut out) {
                    return Err(match framer.refusal() {
                        Some(refusal) => DispatchError::Convert(refusal),
                        None => DispatchError::Protocol { backend, message },
                    });
                }
                if out.len() > limits.max_event_bytes.max(64 * 1024) * 4 && !framer.started() {
                    return Err(DispatchError::TooLarge {
                        backend,
                        limit: limits.max_event_bytes,
                    });
                }
            }
        }
    }
    let first = out.split().freeze();

    struct Pump<F> {
        upstream: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
        framer: F,
        backend: String,
        idle: Duration,
        deadline: Instant,
        first: Option<Bytes>,
        ended: bool,
    }
    let state = Pump {
        upstream: Box::pin(upstream),
        framer,
        backend,
        idle: limits.timeouts.idle,
        deadline,
        first: Some(first),
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut s| async move {
        if let Some(first) = s.first.take() {
            return Some((Ok(first), s));
        }
        loop {
            if s.ended {
                return None;
            }
            let wait = (Instant::now() + s.idle).min(s.deadline);
            let mut out = BytesMut::new();
            let fail = |s: &mut Pump<F>, message: String, code: &str| {
                s.ended = true;
                // The message may quote the upstream's text: the client gets
                // it in the event, logs only the code.
                tracing::warn!(backend = %s.backend, code, "upstream stream failed after commit");
                sse_error_event(&format!("backend {}: {message}", s.backend), code)
            };
            match tokio::time::timeout_at(wait, s.upstream.next()).await {
                Err(_) => {
                    let ev = fail(&mut s, "the stream timed out".into(), "upstream_timeout");
                    return Some((Ok(ev), s));
                }
                Ok(None) => {
                    s.ended = true;
                    match s.framer.finish(&mut out) {
                        Ok(()) if out.is_empty() => return None,
                        Ok(()) => return Some((Ok(out.freeze()), s)),
                        Err(m) => {
                            let ev = fail(&mut s, m, "upstream_error");
                            out.extend_from_slice(&ev);
                            return Some((Ok(out.freeze()), s));
                        }
                    }
                }
                // reqwest's own total timeout and ours race: either way it
                // is the total timeout, not a lost connection.
                Ok(Some(Err(e))) if e.is_timeout() || Instant::now() >= s.deadline => {
                    let ev = fail(&mut s, "the stream timed out".into(), "upstream_timeout");
                    return Some((Ok(ev), s));
                }
                Ok(Some(Err(_))) => {
                    let ev = fail(&mut s, "the connection was lost".into(), "upstream_error");
                    return Some((Ok(ev), s));
                }
                Ok(Some(Ok(chunk))) => match s.framer.push(&chunk, &mut out) {
                    Ok(()) if out.is_empty() => continue,
                    Ok(()) => return Some((Ok(out.freeze()), s)),
                    Err(m) => {
                        let ev = fail(&mut s, m, "upstream_error");
                        out.extend_from_slice(&ev);
                        return Some((Ok(out.freeze()), s));
                    }
                },
            }
        }
    });
    Ok(Box::pin(stream))
}
