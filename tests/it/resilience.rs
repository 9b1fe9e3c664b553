//! Circuit breaking, loading backends and per-backend concurrency limits,
//! against fakes over loopback.

use crate::fakes::{self, Fault};
use crate::{World, header, spawn, user};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// One local OpenAI-protocol backend, `lmstudio`, alone in the default
/// pool; probes rare so that only calls move its circuit.
fn one_backend(w: &World, extra: &str) -> String {
    format!(
        r#"
[health]
interval_ms = 60000
failure_threshold = 2
open_ms = 400
[retries]
attempts = 1
{extra}
[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://{lm}/v1"
tier = "local"
models = ["qwen"]

[pools]
lm = ["lmstudio/qwen"]

[[rules]]
name = "default"
pool = "lm"
"#,
        lm = w.lmstudio.addr,
    )
}

async fn error_code(r: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = r.json().await.expect("json error body");
    (status, retry, body)
}

#[tokio::test]
async fn consecutive_failures_open_the_circuit_and_a_trial_closes_it() {
    let w = World::new().await;
    let app = spawn(&one_backend(&w, "")).await;
    w.lmstudio.set_fault(Fault::Status(500));
    for n in 1..=2 {
        let r = app.chat(user("hi")).await;
        assert_eq!(r.status(), 502, "failure {n} is relayed");
        assert_eq!(w.lmstudio.chat_count(), n);
    }
    // Open: the backend is not called; the caller is told when to retry.
    let (status, retry, body) = error_code(app.chat(user("hi")).await).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "backend_unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("circuit_open")),
        "{body}"
    );
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(w.lmstudio.chat_count(), 2, "an open circuit sends nothing");
    assert_eq!(state_of(&app, "lmstudio").await, "down");

    // Half-open after open_ms: one trial goes through; it fails, so the
    // circuit opens again at once.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.chat(user("hi")).await.status(), 502);
    assert_eq!(w.lmstudio.chat_count(), 3);
    assert_eq!(app.chat(user("hi")).await.status(), 503);
    assert_eq!(w.lmstudio.chat_count(), 3);

    // The backend recovers: the next trial succeeds and closes the circuit.
    w.lmstudio.set_fault(Fault::None);
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(app.chat(user("hi")).await.status(), 200);
    assert_eq!(app.chat(user("hi")).await.status(), 200);
    assert_eq!(w.lmstudio.chat_count(), 5);
}

#[tokio::test]
async fn an_open_circuit_passes_traffic_to_the_next_backend_in_the_pool() {
    let w = World::new().await;
    let toml = w
        .toml("[health]\ninterval_ms = 60000\nfailure_threshold = 1\nopen_ms = 60000\n[retries]\nattempts = 1")
        .replace(
            "lm = [\"lmstudio/qwen\"]",
            "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
        );
    let app = spawn(&toml).await;
    w.lmstudio.set_fault(Fault::Status(503));
    let r = app.chat(user("hi")).await;
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    assert_eq!(w.lmstudio.chat_count(), 1);
    // Asked for by name, the open backend is still not called.
    let r = app
        .chat(json!({"model": "lmstudio/qwen", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 503);
    assert_eq!(w.lmstudio.chat_count(), 1);
    let r = app.chat(user("hi")).await;
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    assert_eq!(w.lmstudio.chat_count(), 1);
}

/// A llama.cpp-like server: while `loading`, every path answers 503
/// `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`.
#[derive(Clone, Default)]
struct Llama {
    loading: Arc<AtomicBool>,
    chats: Arc<AtomicUsize>,
    health_hits: Arc<AtomicUsize>,
}

impl Llama {
    async fn serve(&self) -> std::net::SocketAddr {
        async fn gate(l: &Llama) -> Option<axum::response::Response> {
            l.loading.load(Ordering::SeqCst).then(|| {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    axum::Json(json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}})),
                )
                    .into_response()
            })
        }
        let router = axum::Router::new()
            .route(
                "/health",
                get(|State(l): State<Llama>| async move {
                    l.health_hits.fetch_add(1, Ordering::SeqCst);
                    match gate(&l).await {
                        Some(r) => r,
                        None => axum::Json(json!({"status": "ok"})).into_response(),
                    }
                }),
            )
            .route(
                "/v1/chat/completions",
                post(|State(l): State<Llama>| async move {
                    l.chats.fetch_add(1, Ordering::SeqCst);
                    match gate(&l).await {
                        Some(r) => r,
                        None => axum::Json(json!({
                            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "llama",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ready"}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
                        }))
                        .into_response(),
                    }
                }),
            )
            .with_state(self.clone());
        fakes::serve(router).await
    }
}

/// `/readyz`'s entry for backend `name` (null when absent).
async fn backend_of(app: &crate::TestApp, name: &str) -> Value {
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    ready["backends"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["name"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

async fn state_of(app: &crate::TestApp, name: &str) -> Value {
    backend_of(app, name).await["state"].clone()
}

async fn wait_for_state(app: &crate::TestApp, name: &str, want: &str) {
    for _ in 0..100 {
        if state_of(app, name).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("{name} never became {want}: {}", state_of(app, name).await);
}

#[tokio::test]
async fn a_loading_model_is_told_apart_from_a_dead_backend() {
    let w = World::new().await;
    let llama = Llama::default();
    llama.loading.store(true, Ordering::SeqCst);
    let addr = llama.serve().await;
    let dead = fakes::closed_port().await;
    let toml = format!(
        r#"
[health]
interval_ms = 100
failure_threshold = 1
open_ms = 60000
[retries]
attempts = 1

[[backends]]
name = "llama"
protocol = "openai"
base_url = "http://{addr}/v1"
health_path = "/health"
tier = "local"
models = ["llama"]

[[backends]]
name = "dead"
protocol = "openai"
base_url = "http://{dead}/v1"
tier = "local"
models = ["llama"]

[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://{lm}/v1"
tier = "local"
models = ["qwen"]

[pools]
both = ["llama/llama", "lmstudio/qwen"]
only = ["llama/llama"]

[[rules]]
name = "only"
when = {{ task = ["translation"] }}
pool = "only"

[[rules]]
name = "default"
pool = "both"
"#,
        lm = w.lmstudio.addr,
    );
    let app = spawn(&toml).await;
    wait_for_state(&app, "llama", "loading").await;
    wait_for_state(&app, "dead", "down").await;
    assert!(llama.health_hits.load(Ordering::SeqCst) >= 1);

    // Loading sorts after the healthy backend.
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");

    // Where it is the only choice, the caller hears that it is loading,
    // and the failure does not open its circuit (threshold 1).
    let r = app
        .chat(user("Translate 'good morning' into French."))
        .await;
    let (status, _, body) = error_code(r).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("loading")),
        "{body}"
    );
    assert_eq!(state_of(&app, "llama").await, "loading");

    // Loaded: the next probe marks it up and it serves.
    llama.loading.store(false, Ordering::SeqCst);
    wait_for_state(&app, "llama", "up").await;
    let r = app
        .chat(user("Translate 'good morning' into French."))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "llama");
}

/// `lmstudio` limited to one call at a time, its answers slowed down.
fn limited(w: &World, limit: &str, pools: &str) -> String {
    w.toml("[health]\ninterval_ms = 60000")
        .replace(
            "models = [\"qwen\", \"shared\"]",
            &format!("models = [\"qwen\", \"shared\"]\n{limit}"),
        )
        .replace("lm = [\"lmstudio/qwen\"]", pools)
}

#[tokio::test]
async fn a_full_local_backend_spills_cleared_traffic_to_the_next_candidate() {
    let w = World::new().await;
    let toml = limited(
        &w,
        "max_concurrency = 1",
        "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
    );
    let app = spawn(&toml).await;
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(400)));
    let (a, b) = tokio::join!(app.chat(user("hi")), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.chat(user("hello")).await
    });
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (200, 200));
    assert_eq!(header(&a, "x-airlock-backend"), "lmstudio");
    assert_eq!(header(&b, "x-airlock-backend"), "ollama");
    assert_eq!(w.lmstudio.chat_count(), 1);
}

#[tokio::test]
async fn restricted_traffic_waits_for_a_full_local_backend_and_never_spills_to_the_cloud() {
    let w = World::new().await;
    // The sensitive rule's pool names the cloud too; the tier filter keeps
    // only lmstudio, which takes one call and queues one.
    let toml = limited(
        &w,
        "max_concurrency = 1\nmax_queue = 1\nqueue_timeout_ms = 5000",
        "lm = [\"lmstudio/qwen\"]",
    )
    .replace(
        "local = [\"ollama/llama3.1:8b\"]",
        "local = [\"lmstudio/qwen\", \"cloud/gpt-4o\"]",
    );
    let app = spawn(&toml).await;
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(400)));
    let secret = || user("mail jane@example.com the figures");
    let later = |ms| {
        let app = &app;
        async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            app.chat(secret()).await
        }
    };
    let (first, queued, turned_away) = tokio::join!(later(0), later(100), later(200));
    assert_eq!(first.status(), 200);
    assert_eq!(header(&first, "x-airlock-backend"), "lmstudio");
    // The second waited in the queue and was served after the first.
    assert_eq!(queued.status(), 200);
    assert_eq!(header(&queued, "x-airlock-backend"), "lmstudio");
    // The third found the queue full: 503, not the cloud.
    let (status, _, body) = error_code(turned_away).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("queue_full")),
        "{body}"
    );
    assert_eq!(w.lmstudio.chat_count(), 2);
    assert_eq!(
        w.cloud.chat_count(),
        0,
        "restricted traffic reached the cloud"
    );
}

#[tokio::test]
async fn a_queued_call_gives_up_after_the_queue_timeout() {
    let w = World::new().await;
    let toml = limited(
        &w,
        "max_concurrency = 1\nqueue_timeout_ms = 150",
        "lm = [\"lmstudio/qwen\"]",
    );
    let app = spawn(&toml).await;
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(600)));
    let (first, second) = tokio::join!(app.chat(user("hi")), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.chat(user("hello")).await
    });
    assert_eq!(first.status(), 200);
    let (status, _, body) = error_code(second).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("queue_timeout")),
        "{body}"
    );
    assert_eq!(w.lmstudio.chat_count(), 1);
    // /readyz shows the slots of a limited backend, free again.
    let lm = backend_of(&app, "lmstudio").await;
    assert_eq!(
        (lm["in_flight"].clone(), lm["queued"].clone()),
        (json!(0), json!(0)),
        "{lm}"
    );
}

#[tokio::test]
async fn a_stream_holds_its_slot_until_it_ends() {
    let w = World::new().await;
    let toml = limited(
        &w,
        "max_concurrency = 1\nmax_queue = 0",
        "lm = [\"lmstudio/qwen\"]",
    );
    let app = spawn(&toml).await;
    w.lmstudio.set_fault(Fault::Echo);
    let stream = app
        .chat(json!({"model": "auto", "stream": true, "messages": [{"role": "user", "content": "a long enough answer to stream"}]}))
        .await;
    assert_eq!(stream.status(), 200);
    // The head is in, the body not yet read: the slot is still taken.
    let (status, _, body) = error_code(app.chat(user("hi")).await).await;
    assert_eq!(status, 503, "{body}");
    let text = stream.text().await.expect("stream body");
    assert!(text.contains("[DONE]"), "{text}");
    // Read to its end and dropped: the slot is free again.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(app.chat(user("hi")).await.status(), 200);
}

/// Starts the gateway like `spawn`, but hands back its state, the shutdown
/// trigger and the task running it.
async fn start(
    toml: &str,
) -> (
    String,
    std::sync::Arc<airlock::app::AppState>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let mut config = airlock::config::from_toml_str(toml, &|_| None)
        .unwrap_or_else(|e| panic!("test config invalid: {e:#?}"))
        .config;
    config.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    config.audit.enabled = false;
    let app = airlock::App::build(config).await.expect("build");
    let addr = app.local_addr().expect("addr");
    let state = app.state();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    (format!("http://{addr}"), state, tx, run)
}

fn streaming(content: &str) -> Value {
    json!({"model": "auto", "stream": true, "messages": [{"role": "user", "content": content}]})
}

/// An OpenAI-protocol backend that streams `n` chunks, one every `gap`, and
/// notes how many it sent and whether its stream was dropped (the caller
/// went away).
#[derive(Clone, Default)]
struct Trickle {
    sent: Arc<AtomicUsize>,
    dropped: Arc<AtomicBool>,
}

struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Trickle {
    async fn serve(&self, n: usize, gap: Duration) -> std::net::SocketAddr {
        let me = self.clone();
        let router = axum::Router::new().route(
            "/v1/chat/completions",
            post(move || {
                let me = me.clone();
                async move {
                    let flag = DropFlag(me.dropped.clone());
                    let sent = me.sent.clone();
                    let chunks = futures_util::stream::unfold((0usize, flag), move |(i, flag)| {
                        let sent = sent.clone();
                        async move {
                            if i > n {
                                return None;
                            }
                            if i > 0 {
                                tokio::time::sleep(gap).await;
                            }
                            let line = if i == n {
                                "data: [DONE]\n\n".to_owned()
                            } else {
                                let c = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                                    "choices": [{"index": 0, "delta": {"content": "word "}, "finish_reason": null}]});
                                format!("data: {c}\n\n")
                            };
                            sent.fetch_add(1, Ordering::SeqCst);
                            Some((Ok::<_, std::convert::Infallible>(line), (i + 1, flag)))
                        }
                    });
                    (
                        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
                        axum::body::Body::from_stream(chunks),
                    )
                }
            }),
        );
        fakes::serve(router).await
    }
}

fn trickle_config(addr: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"
{extra}
[[backends]]
name = "slow"
protocol = "openai"
base_url = "http://{addr}/v1"
tier = "local"
models = ["m"]
[pools]
p = ["slow/m"]
[[rules]]
name = "default"
pool = "p"
"#
    )
}

#[tokio::test]
async fn a_client_that_leaves_cancels_the_upstream_call_and_its_usage_so_far_counts() {
    let t = Trickle::default();
    let addr = t.serve(200, Duration::from_millis(20)).await;
    let (base, state, _stop, _run) = start(&trickle_config(addr, "")).await;
    let mut r = reqwest::Client::new()
        .post(format!("{base}/v1/chat/completions"))
        .json(&streaming("tell me a long story"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let mut got = String::new();
    while got.matches("data: ").count() < 5 {
        let chunk = r.chunk().await.expect("chunk").expect("more");
        got.push_str(&String::from_utf8_lossy(&chunk));
    }
    drop(r);
    for _ in 0..100 {
        if t.dropped.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        t.dropped.load(Ordering::SeqCst),
        "the upstream stream was not dropped"
    );
    let sent = t.sent.load(Ordering::SeqCst);
    assert!(sent < 100, "upstream kept streaming: {sent} chunks");
    // The words that went through are counted (no usage was reported: the
    // text is estimated at 4 bytes a token, "word " being 2).
    let count = state
        .volume
        .count(&airlock::volume::Dim::All, airlock::volume::Window::Hour);
    assert_eq!(count.requests, 1);
    assert!(count.output_tokens >= 5, "{count:?}");
}

#[tokio::test]
async fn shutdown_lets_a_running_stream_finish_and_refuses_new_connections() {
    let t = Trickle::default();
    let addr = t.serve(10, Duration::from_millis(60)).await;
    let (base, _state, stop, run) =
        start(&trickle_config(addr, "[server]\nshutdown_grace_ms = 5000")).await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{base}/v1/chat/completions"))
        .json(&streaming("count to ten"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let _ = stop.send(());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // No new connection is taken.
    let fresh = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(fresh.is_err(), "a new connection was served after shutdown");
    // The stream in flight ends normally.
    let text = r.text().await.expect("the stream finishes");
    assert_eq!(text.matches("word ").count(), 10, "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
    let done = tokio::time::timeout(Duration::from_secs(3), run).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
}

/// SIGTERM to the binary: the grace period bounds how long a stream that
/// will not end keeps it up; then it exits, the stream is cut (no
/// `[DONE]`) and the upstream call is dropped.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_after_the_grace_period_even_with_a_stream_open() {
    let t = Trickle::default();
    let addr = t.serve(1000, Duration::from_millis(50)).await;
    let port = crate::free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("airlock.toml");
    std::fs::write(
        &config,
        trickle_config(
            addr,
            &format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nshutdown_grace_ms = 400\n[audit]\nenabled = false"
            ),
        ),
    )
    .expect("write");
    let mut child = crate::Reaped(
        std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("AIRLOCK_CONFIG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let mut resp = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .post(&url)
            .json(&streaming("never stop"))
            .send()
            .await
        {
            resp = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut r = resp.expect("the gateway answered");
    assert_eq!(r.status(), 200);
    let _ = r.chunk().await;
    let started = std::time::Instant::now();
    let status = child.terminate(Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(
        took >= Duration::from_millis(350),
        "exited before the grace: {took:?}"
    );
    // The cut stream ends without [DONE]; the upstream call is dropped.
    let mut rest = String::new();
    while let Ok(Some(c)) = r.chunk().await {
        rest.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(!rest.contains("[DONE]"));
    for _ in 0..50 {
        if t.dropped.load(Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the upstream stream was not dropped");
}
