//! Observability: `/metrics` after real traffic (names, labels, counts,
//! tokens and cost from the fakes' reported usage, bounded model labels),
//! its access settings, one record per request (early errors, cancelled
//! streams, rate-limited and unavailable requests, streams held by
//! keep-alives and `/v1/messages` included), backend health and queue
//! gauges, and no prompt text in logs or metrics.

use crate::fakes::{self, Fault};
use crate::{World, spawn, spawn_with_sinks, user};
use airlock::observe::{Outcome, Record, Sink};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The World's backends, with the cloud priced and a list-less backend
/// (`open`) that takes any model name.
fn toml(w: &World, open: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"
{extra}

[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://{ollama}"
tier = "local"
models = ["llama3.1:8b"]

[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://{lm}/v1"
tier = "local"
models = ["qwen"]

[[backends]]
name = "open"
protocol = "openai"
base_url = "http://{open}/v1"
tier = "local"

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]
prices."gpt-4o" = {{ input = 2.0, output = 10.0 }}

[pools]
local = ["ollama/llama3.1:8b"]
lm = ["lmstudio/qwen"]
frontier = ["cloud/gpt-4o"]
anything = ["open/known-model"]

[[rules]]
name = "sensitive-local"
when = {{ sensitivity_at_least = "confidential" }}
pool = "local"

[[rules]]
name = "default"
pool = "lm"
"#,
        ollama = w.ollama.addr,
        lm = w.lmstudio.addr,
        cloud = w.cloud.addr,
    )
}

/// Sums the samples of `name` whose labels include every `k="v"` of `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum()
}

async fn scrape(app: &crate::TestApp) -> String {
    let r = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(r.status(), 200);
    assert!(
        crate::header(&r, "content-type").starts_with("application/openmetrics-text"),
        "{r:?}"
    );
    r.text().await.expect("text")
}

#[tokio::test]
async fn metrics_count_requests_tokens_cost_and_outcomes() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let app = spawn(&toml(&w, open.addr, "[policy]\non_violation = \"reject\"")).await;

    // ok, JSON, local: the fake reports 9 prompt and 5 completion tokens.
    assert_eq!(app.chat(user("hello there")).await.status(), 200);
    // ok, JSON, priced cloud model.
    let r = app
        .chat(json!({"model": "cloud/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 200);
    // ok, streamed with usage.
    let r = app
        .chat(
            json!({"model": "lm", "stream": true, "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.expect("stream");
    assert!(body.contains("[DONE]"));
    // blocked by the tier filter.
    let r = app
        .chat(json!({"model": "frontier", "messages": [
            {"role": "user", "content": "my email is jane@example.com"}]}))
        .await;
    assert_eq!(r.status(), 403);
    // upstream error.
    w.lmstudio.set_fault(Fault::Status(500));
    assert_eq!(app.chat(user("hello again")).await.status(), 502);
    w.lmstudio.set_fault(Fault::None);
    // bad JSON: a record too.
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);

    let text = scrape(&app).await;
    let req = |labels: &[(&str, &str)]| sample(&text, "airlock_requests_total", labels);
    assert_eq!(
        req(&[
            ("endpoint", "chat"),
            ("tier", "local"),
            ("backend", "lmstudio"),
            ("model", "qwen"),
            ("level", "public"),
            ("task", "chat"),
            ("outcome", "ok"),
        ]),
        2.0,
        "{text}"
    );
    // `auto` went by the rule; the pool asked for by name is `explicit`.
    assert_eq!(
        req(&[
            ("backend", "lmstudio"),
            ("rule", "default"),
            ("outcome", "ok")
        ]),
        1.0
    );
    assert_eq!(
        req(&[
            ("backend", "lmstudio"),
            ("rule", "explicit"),
            ("outcome", "ok")
        ]),
        1.0
    );
    assert_eq!(
        req(&[
            ("backend", "cloud"),
            ("model", "gpt-4o"),
            ("rule", "explicit"),
            ("outcome", "ok")
        ]),
        1.0
    );
    assert_eq!(
        req(&[
            ("backend", "none"),
            ("level", "confidential"),
            ("outcome", "blocked")
        ]),
        1.0,
        "{text}"
    );
    assert_eq!(
        req(&[("backend", "lmstudio"), ("outcome", "upstream_error")]),
        1.0
    );
    assert_eq!(
        req(&[
            ("level", "none"),
            ("task", "none"),
            ("outcome", "client_error")
        ]),
        1.0
    );
    assert_eq!(req(&[]), 6.0, "every request counted once: {text}");
    assert_eq!(
        sample(
            &text,
            "airlock_tier_filter_total",
            &[("action", "blocked"), ("level", "confidential")]
        ),
        1.0
    );
    // Tokens: the fakes' reported usage (two answers from lmstudio, one from the cloud).
    let tokens = |backend: &str, t: &str| {
        sample(
            &text,
            "airlock_tokens_total",
            &[("backend", backend), ("type", t)],
        )
    };
    assert_eq!(tokens("lmstudio", "input"), 18.0, "{text}");
    assert_eq!(tokens("lmstudio", "output"), 10.0);
    assert_eq!(tokens("cloud", "input"), 9.0);
    assert_eq!(tokens("cloud", "output"), 5.0);
    // 9 input at $2/M and 5 output at $10/M.
    let cost = sample(&text, "airlock_cost_usd_total", &[("backend", "cloud")]);
    assert!(
        (cost - (9.0 * 2.0 + 5.0 * 10.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(
        sample(&text, "airlock_cost_usd_total", &[("backend", "lmstudio")]),
        0.0
    );
    // Histograms: one latency sample per request; TTFT for the stream only.
    assert_eq!(
        sample(
            &text,
            "airlock_request_duration_seconds_count",
            &[("endpoint", "chat")]
        ),
        6.0
    );
    assert_eq!(
        sample(&text, "airlock_time_to_first_token_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        sample(&text, "airlock_gateway_overhead_seconds_count", &[]),
        6.0
    );
    // Backend calls (the 500 was tried twice: `[retries] attempts = 2`),
    // health and in-flight gauges.
    assert_eq!(
        sample(
            &text,
            "airlock_backend_calls_total",
            &[("backend", "lmstudio"), ("result", "status")]
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_backend_calls_total",
            &[("backend", "lmstudio"), ("result", "ok")]
        ),
        2.0
    );
    assert!(text.contains("# TYPE airlock_backend_up gauge"));
    assert_eq!(
        sample(
            &text,
            "airlock_backend_in_flight",
            &[("backend", "lmstudio")]
        ),
        0.0
    );
    assert_eq!(sample(&text, "airlock_requests_in_flight", &[]), 0.0);
    // Scrapes are not requests.
    let again = scrape(&app).await;
    assert_eq!(sample(&again, "airlock_requests_total", &[]), 6.0);
}

#[tokio::test]
async fn a_model_name_the_config_does_not_list_is_labelled_other() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let app = spawn(&toml(&w, open.addr, "")).await;
    for model in ["open/known-model", "open/zz-made-up-9f3a"] {
        let r = app
            .chat(json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .await;
        assert_eq!(r.status(), 200, "{model}");
    }
    let text = scrape(&app).await;
    assert!(!text.contains("zz-made-up-9f3a"), "{text}");
    assert_eq!(
        sample(
            &text,
            "airlock_requests_total",
            &[("backend", "open"), ("model", "other")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_requests_total",
            &[("backend", "open"), ("model", "known-model")]
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_tokens_total",
            &[("backend", "open"), ("model", "other"), ("type", "output")]
        ),
        5.0
    );
}

#[tokio::test]
async fn metrics_can_require_a_token_or_be_off() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let app = spawn(&toml(&w, open.addr, "[metrics]\ntoken_env = \"VIP_KEY\"")).await;
    let get = |key: Option<&'static str>| {
        let mut r = app.http.get(app.url("/metrics"));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    assert_eq!(get(None).await.expect("send").status(), 401);
    assert_eq!(get(Some("wrong")).await.expect("send").status(), 401);
    assert_eq!(get(Some(crate::VIP_KEY)).await.expect("send").status(), 200);

    let off = spawn(&toml(&w, open.addr, "[metrics]\nenabled = false")).await;
    let r = off
        .http
        .get(off.url("/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
}

#[derive(Default)]
struct Capture(Mutex<Vec<Record>>);

impl Sink for Capture {
    fn record(&self, r: &Record) {
        self.0.lock().expect("lock").push(r.clone());
    }
}

impl Capture {
    async fn wait_for(&self, n: usize) -> Vec<Record> {
        for _ in 0..200 {
            let got = self.0.lock().expect("lock").clone();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.0.lock().expect("lock").clone()
    }
}

#[tokio::test]
async fn every_request_gets_one_record_early_errors_and_cancelled_streams_included() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let keys = "[[keys]]\nname = \"team-a\"\nkey_env = \"GW_KEY\"\n";
    let sink = Arc::new(Capture::default());
    let app = spawn_with_sinks(&toml(&w, open.addr, keys), vec![sink.clone()]).await;
    let post = |body: serde_json::Value, key: Option<&'static str>| {
        let mut r = app.http.post(app.url("/v1/chat/completions")).json(&body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    // No key.
    assert_eq!(post(user("hi"), None).await.expect("send").status(), 401);
    let recs = sink.wait_for(1).await;
    assert_eq!(recs[0].outcome, Outcome::Unauthorized);
    assert_eq!(recs[0].status, 401);
    assert_eq!(recs[0].key, None);

    // Served: key, decision, tokens.
    let r = post(user("hi"), Some(crate::GW_KEY)).await.expect("send");
    assert_eq!(r.status(), 200);
    let id = crate::header(&r, "x-airlock-request-id").to_owned();
    let recs = sink.wait_for(2).await;
    let rec = &recs[1];
    assert_eq!(rec.request_id, id);
    assert_eq!(rec.key.as_deref(), Some("team-a"));
    assert_eq!(rec.backend.as_deref(), Some("lmstudio"));
    assert_eq!(rec.rule.as_deref(), Some("default"));
    assert_eq!((rec.input_tokens, rec.output_tokens), (9, 5));
    assert_eq!(rec.attempts, 1);
    assert!(rec.latency >= rec.overhead && rec.latency >= rec.upstream);

    // A sensitive request: categories counted, never the values.
    let r = post(user("my email is jane@example.com"), Some(crate::GW_KEY))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let recs = sink.wait_for(3).await;
    let pii: Vec<_> = recs[2].finding_categories().collect();
    assert_eq!(pii.len(), 1, "{pii:?}");
    assert!(!format!("{:?}", recs[2]).contains("jane@example.com"));

    // A stream the client leaves early: cancelled.
    w.lmstudio.set_fault(Fault::Echo);
    let long = "word ".repeat(300);
    let mut r = post(
        json!({"model": "lm", "stream": true, "messages": [{"role": "user", "content": long}]}),
        Some(crate::GW_KEY),
    )
    .await
    .expect("send");
    assert_eq!(r.status(), 200);
    let _ = r.chunk().await.expect("first chunk");
    drop(r);
    let recs = sink.wait_for(4).await;
    assert_eq!(recs.len(), 4, "{recs:#?}");
    assert_eq!(recs[3].outcome, Outcome::Cancelled);
    assert!(recs[3].stream && recs[3].ttft.is_some());
}

/// A writer that keeps every log line.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

#[tokio::test]
async fn prompt_text_never_reaches_logs_or_metrics() {
    use airlock::observe::logging::{LogFormat, subscriber};
    const SECRET: &str = "zebra-quartz-7731-marmalade";
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    // With a single scoped dispatcher, tracing caches a callsite's interest
    // from whichever thread registers it first (another test's thread, with
    // no subscriber: "never"). A second live dispatcher makes it ask every
    // dispatcher instead.
    let _keep = tracing::Dispatch::new(tracing_subscriber::registry());
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let logs = Logs::default();
        // The current-thread test runtime runs the gateway on this thread,
        // so a thread-local subscriber sees all of its events.
        let _guard = tracing::subscriber::set_default(subscriber(
            format,
            "trace",
            logs.clone(),
            false,
            None,
        ));
        let app = spawn(&toml(&w, open.addr, "")).await;
        let prompts = [
            json!({"model": "auto", "messages": [{"role": "user", "content": format!("remember {SECRET}")}]}),
            json!({"model": "lm", "stream": true, "messages": [{"role": "user", "content": format!("say {SECRET}")}]}),
            json!({"model": "auto", "messages": [{"role": "user", "content": format!("{SECRET} my email is jane@example.com")}]}),
        ];
        w.lmstudio.set_fault(Fault::Echo);
        for p in prompts {
            let r = app.chat(p).await;
            assert_eq!(r.status(), 200);
            let _ = r.text().await.expect("body");
        }
        w.lmstudio.set_fault(Fault::Status(500));
        let r = app.chat(user(&format!("fail {SECRET}"))).await;
        assert_eq!(r.status(), 502);
        w.lmstudio.set_fault(Fault::None);
        let r = app
            .http
            .post(app.url("/v1/embeddings"))
            .json(&json!({"model": "auto", "input": SECRET}))
            .send()
            .await
            .expect("send");
        let _ = r.text().await;
        let metrics = scrape(&app).await;
        drop(app);
        let text = String::from_utf8(logs.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            text.matches("request").count() >= 5,
            "one event per request: {text}"
        );
        assert!(
            !text.contains(SECRET),
            "{format:?} logs carry the prompt:\n{text}"
        );
        assert!(!text.contains("jane@example.com"));
        assert!(!metrics.contains(SECRET));
        if format == LogFormat::Json {
            let line = text
                .lines()
                .find(|l| l.contains("\"outcome\":\"upstream_error\""))
                .expect("the failed request's record");
            let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object a line");
            assert_eq!(v["backend"], "lmstudio");
            assert_eq!(v["message"], "request");
            assert!(v["span"]["request_id"].is_string(), "{v}");
        }
    }
}

/// Waits a little, then checks that no record beyond `n` came.
async fn exactly(sink: &Capture, n: usize) -> Vec<Record> {
    let recs = sink.wait_for(n).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = sink.0.lock().expect("lock").clone();
    assert_eq!(again.len(), n, "one record per request: {again:#?}");
    recs
}

/// A key over its requests per minute is a 429 recorded `rate_limited`; a
/// backend at `max_concurrency` with its queue full, or with its circuit
/// open, is a 503 `backend_unavailable` recorded `no_backend` and counted
/// as a skip; the queue-depth gauge shows a waiting call.
#[tokio::test]
async fn rate_limited_and_unavailable_requests_get_their_outcomes() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let extra = "[health]\ninterval_ms = 60000\nfailure_threshold = 1\nopen_ms = 60000\n\
        [retries]\nattempts = 1\n\
        [[keys]]\nname = \"team-a\"\nkey_env = \"GW_KEY\"\nrequests_per_minute = 1\n\
        [[keys]]\nname = \"ops\"\nkey_env = \"VIP_KEY\"\n";
    let toml = toml(&w, open.addr, extra).replace(
        "models = [\"qwen\"]",
        "models = [\"qwen\"]\nmax_concurrency = 1\nmax_queue = 1\nqueue_timeout_ms = 5000",
    );
    let sink = Arc::new(Capture::default());
    let app = spawn_with_sinks(&toml, vec![sink.clone()]).await;
    let post = |key: &'static str, text: &str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&user(text))
            .send()
    };

    // The key's one request a minute, then a 429.
    assert_eq!(post(crate::GW_KEY, "hi").await.expect("send").status(), 200);
    let r = post(crate::GW_KEY, "hi again").await.expect("send");
    assert_eq!(r.status(), 429);
    assert!(!crate::header(&r, "retry-after").is_empty());
    let recs = exactly(&sink, 2).await;
    let limited = &recs[1];
    assert_eq!(limited.outcome, Outcome::RateLimited);
    assert_eq!(
        (limited.status, limited.error),
        (429, Some("rate_limit_exceeded"))
    );
    assert_eq!(limited.key.as_deref(), Some("team-a"));
    assert_eq!(limited.rule.as_deref(), Some("default"));
    assert_eq!((limited.attempts, limited.backend.as_deref()), (0, None));

    // One call on lmstudio, one queued behind it, a third turned away.
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(500)));
    let later = |ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        post(crate::VIP_KEY, "hello").await.expect("send")
    };
    let (first, queued, turned_away, during) =
        tokio::join!(later(0), later(100), later(200), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            scrape(&app).await
        });
    assert_eq!(
        (first.status().as_u16(), queued.status().as_u16()),
        (200, 200)
    );
    assert_eq!(turned_away.status(), 503);
    let lm = [("backend", "lmstudio")];
    assert_eq!(
        sample(&during, "airlock_backend_queued", &lm),
        1.0,
        "{during}"
    );
    assert_eq!(sample(&during, "airlock_backend_in_flight", &lm), 1.0);
    let recs = exactly(&sink, 5).await;
    let full = recs
        .iter()
        .find(|r| r.status == 503)
        .expect("the turned-away request's record");
    assert_eq!(full.outcome, Outcome::NoBackend);
    assert_eq!(full.error, Some("backend_unavailable"));
    assert_eq!(full.backend, None, "no backend was called");

    // A failed call opens lmstudio's circuit: the next request is not sent.
    w.lmstudio.set_fault(Fault::Status(500));
    assert_eq!(
        post(crate::VIP_KEY, "once more")
            .await
            .expect("send")
            .status(),
        502
    );
    let r = post(crate::VIP_KEY, "and again").await.expect("send");
    assert_eq!(r.status(), 503);
    let recs = exactly(&sink, 7).await;
    assert_eq!(recs[6].outcome, Outcome::NoBackend);

    let text = scrape(&app).await;
    let req = |outcome: &str| sample(&text, "airlock_requests_total", &[("outcome", outcome)]);
    assert_eq!(req("rate_limited"), 1.0, "{text}");
    assert_eq!(req("no_backend"), 2.0, "{text}");
    assert_eq!(sample(&text, "airlock_requests_total", &[]), 7.0);
    let skipped = |reason: &str| {
        sample(
            &text,
            "airlock_backend_skipped_total",
            &[("backend", "lmstudio"), ("reason", reason)],
        )
    };
    assert_eq!((skipped("queue_full"), skipped("circuit_open")), (1.0, 1.0));
    assert_eq!(sample(&text, "airlock_backend_up", &lm), 0.0);
    let state = |s: &str| {
        sample(
            &text,
            "airlock_backend_state",
            &[("backend", "lmstudio"), ("state", s)],
        )
    };
    assert_eq!((state("down"), state("up")), (1.0, 0.0), "{text}");
    assert_eq!(sample(&text, "airlock_backend_queued", &lm), 0.0);
    assert_eq!(sample(&text, "airlock_requests_in_flight", &[]), 0.0);
}

/// `/v1/messages` (JSON and streamed) and `count_tokens` are counted under
/// their own endpoint labels; a stream translated to Anthropic's events
/// that ran to its end is `ok`, not cancelled.
#[tokio::test]
async fn messages_requests_are_counted_under_their_endpoints() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let sink = Arc::new(Capture::default());
    let app = spawn_with_sinks(&toml(&w, open.addr, ""), vec![sink.clone()]).await;
    let post = |path: &str, body: serde_json::Value| {
        app.http
            .post(app.url(path))
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };
    let ask = |stream: bool| {
        json!({"model": "lm", "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": "hello there"}]})
    };
    let r = post("/v1/messages", ask(false)).await.expect("send");
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["type"], "message");
    let r = post("/v1/messages", ask(true)).await.expect("send");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("stream");
    assert!(text.contains("event: message_stop"), "{text}");
    let r = post("/v1/messages/count_tokens", ask(false))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // A bad request, answered in Anthropic's shape, is counted too.
    let r = post("/v1/messages", json!({"model": "lm", "messages": []}))
        .await
        .expect("send");
    assert_eq!(r.status(), 400);

    let recs = exactly(&sink, 4).await;
    use airlock::observe::Endpoint;
    let ends: Vec<_> = recs.iter().map(|r| (r.endpoint, r.outcome)).collect();
    assert_eq!(
        ends,
        [
            (Endpoint::Messages, Outcome::Ok),
            (Endpoint::Messages, Outcome::Ok),
            (Endpoint::CountTokens, Outcome::Ok),
            (Endpoint::Messages, Outcome::ClientError),
        ]
    );
    assert!(recs[1].stream && recs[1].ttft.is_some());
    assert_eq!(recs[0].backend.as_deref(), Some("lmstudio"));
    assert_eq!((recs[0].input_tokens, recs[0].output_tokens), (9, 5));
    assert_eq!(recs[2].backend, None, "count_tokens sends nothing");

    let text = scrape(&app).await;
    let req = |labels: &[(&str, &str)]| sample(&text, "airlock_requests_total", labels);
    assert_eq!(
        req(&[
            ("endpoint", "messages"),
            ("backend", "lmstudio"),
            ("outcome", "ok")
        ]),
        2.0,
        "{text}"
    );
    assert_eq!(req(&[("endpoint", "count_tokens"), ("outcome", "ok")]), 1.0);
    assert_eq!(
        req(&[("endpoint", "messages"), ("outcome", "client_error")]),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_request_duration_seconds_count",
            &[("endpoint", "messages")]
        ),
        3.0
    );
    assert_eq!(
        sample(
            &text,
            "airlock_tokens_total",
            &[("backend", "lmstudio"), ("type", "output")]
        ),
        recs[0].output_tokens as f64 + recs[1].output_tokens as f64
    );
}

/// A stream whose head went out early with keep-alives is recorded once,
/// when it ends: served (`ok`), failed after the head (`timeout`, status
/// 200, as the client saw it), or left by the client while it waited
/// (`cancelled`).
#[tokio::test]
async fn streams_held_by_keep_alives_are_recorded_once_when_they_end() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let extra = "[server]\nsse_keepalive_ms = 100\n[timeouts]\nfirst_byte_ms = 600\n[retries]\nattempts = 1";
    let sink = Arc::new(Capture::default());
    let app = spawn_with_sinks(&toml(&w, open.addr, extra), vec![sink.clone()]).await;
    let body = json!({"model": "lm", "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});

    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(10),
        first: Duration::from_millis(350),
    });
    let r = app.chat(body.clone()).await;
    assert_eq!(crate::header(&r, "x-airlock-keepalive"), "true");
    assert!(r.text().await.expect("text").ends_with("data: [DONE]\n\n"));
    let recs = exactly(&sink, 1).await;
    assert_eq!(recs[0].outcome, Outcome::Ok);
    assert_eq!(recs[0].backend.as_deref(), Some("lmstudio"));
    assert!(recs[0].stream && recs[0].ttft.is_some());

    // No first event within first_byte_ms: the in-band error event.
    w.lmstudio.set_fault(Fault::Stall {
        head: Duration::from_millis(10),
        first: Duration::from_secs(5),
    });
    let r = app.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("upstream_timeout"));
    let recs = exactly(&sink, 2).await;
    assert_eq!(recs[1].outcome, Outcome::Timeout);
    assert_eq!(
        (recs[1].status, recs[1].error),
        (200, Some("upstream_timeout"))
    );
    assert_eq!(recs[1].rule.as_deref(), Some("explicit"));

    // The client leaves after the first keep-alive.
    let mut r = app.chat(body).await;
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.expect("chunk").expect("a keep-alive");
    assert!(first.starts_with(b": keep-alive"));
    drop(r);
    let recs = exactly(&sink, 3).await;
    assert_eq!(recs[2].outcome, Outcome::Cancelled);
    assert_eq!(recs[2].rule.as_deref(), Some("explicit"));

    let text = scrape(&app).await;
    assert_eq!(sample(&text, "airlock_requests_total", &[]), 3.0, "{text}");
    assert_eq!(sample(&text, "airlock_requests_in_flight", &[]), 0.0);
    assert_eq!(
        sample(
            &text,
            "airlock_backend_in_flight",
            &[("backend", "lmstudio")]
        ),
        0.0
    );
}

/// A client that gives up while airlock waits on the backend still leaves
/// one record: `cancelled`, status 499.
#[tokio::test]
async fn a_client_that_leaves_before_the_answer_is_recorded_cancelled() {
    let w = World::new().await;
    let open = fakes::openai(&[]).await;
    let sink = Arc::new(Capture::default());
    let app = spawn_with_sinks(&toml(&w, open.addr, ""), vec![sink.clone()]).await;
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(1500)));
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .timeout(Duration::from_millis(200))
        .json(&user("hi"))
        .send()
        .await;
    assert!(r.is_err(), "the client gave up");
    let recs = exactly(&sink, 1).await;
    assert_eq!(recs[0].outcome, Outcome::Cancelled);
    assert_eq!(recs[0].status, 499);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "airlock_requests_in_flight", &[]), 0.0);
}
