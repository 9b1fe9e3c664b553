//! The HTTP surface: header hygiene, error bodies, limits, models, health.

use crate::{World, header, spawn, user};
use serde_json::{Value, json};

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = header(&r, "content-type").to_owned();
    let body: Value = r.json().await.expect("error body is JSON");
    assert!(ct.starts_with("application/json"), "{ct}");
    for k in ["message", "type", "param", "code"] {
        assert!(
            body["error"].get(k).is_some(),
            "missing error.{k} in {body}"
        );
    }
    (status, body)
}

#[tokio::test]
async fn header_hygiene() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .header("authorization", "Bearer client-secret-token")
        .header("x-airlock-min-sensitivity", "internal")
        .header("x-airlock-debug", "1")
        .header("x-request-id", "req-abc-123")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("cookie", "session=1")
        .json(&user("hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-request-id"), "req-abc-123");
    let seen = w.lmstudio.last();
    assert!(
        seen.headers.get("authorization").is_none(),
        "client auth forwarded"
    );
    assert!(seen.headers.get("cookie").is_none());
    assert!(
        seen.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-airlock-")),
        "x-airlock-* forwarded: {:?}",
        seen.headers
    );
    assert_eq!(seen.headers["x-request-id"], "req-abc-123");
    assert_eq!(
        seen.headers["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
}

#[tokio::test]
async fn bad_requests_get_openai_shaped_errors() {
    let w = World::new().await;
    let app = spawn(&w.toml("[server]\nmax_body_bytes = 4096")).await;
    let raw = |body: Vec<u8>| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, b) = error_of(raw(b"{not json".to_vec()).await.expect("send")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (s, _) = error_of(
        raw(
            b"{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\"}]}"
                .to_vec(),
        )
        .await
        .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    let (s, b) = error_of(
        raw(br#"{"model":"auto","messages":[{"role":"user","content":5}]}"#.to_vec())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["param"], "messages[0].content");
    // A key twice: parsers disagree on which copy wins, so the scanned
    // copy might not be the one a backend reads. Refused, never forwarded.
    let before = w.ollama.chat_count();
    let (s, b) = error_of(
        raw(br#"{"model":"auto","messages":[{"role":"user","content":"hi","content":"jane@example.com"}]}"#.to_vec())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    let why = b["error"]["message"].as_str().unwrap_or("");
    assert!(why.contains("duplicate key \"content\""), "{b}");
    assert_eq!(w.ollama.chat_count(), before);
    let (s, b) = error_of(
        raw(br#"{"model":"auto","messages":[]}"#.to_vec())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["param"], "messages");
    let (s, b) = error_of(
        raw(br#"{"messages":[{"role":"user","content":"x"}]}"#.to_vec())
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["param"], "model");
    // Huge body: 413 before any parsing or forwarding.
    let big = format!(
        r#"{{"model":"auto","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(10_000)
    );
    let (s, b) = error_of(raw(big.into_bytes()).await.expect("send")).await;
    assert_eq!(s, 413);
    assert_eq!(b["error"]["code"], "request_too_large");
    assert_eq!(w.lmstudio.chat_count(), 0);
    // Unknown route and wrong method.
    let (s, _) = error_of(
        app.http
            .get(app.url("/v1/nope"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = error_of(
        app.http
            .get(app.url("/v1/chat/completions"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(s, 405);
}

#[tokio::test]
async fn unknown_fields_pass_through_to_openai_backends() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let body = json!({"model": "lm", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "tool_choice": "auto", "response_format": {"type": "json_object"},
        "n": 2, "logprobs": true, "vendor_extension": {"x": [1, 2]}});
    let r = app.chat(body.clone()).await;
    assert_eq!(r.status(), 200);
    let sent = w.lmstudio.last().body;
    for k in [
        "tools",
        "tool_choice",
        "response_format",
        "n",
        "logprobs",
        "vendor_extension",
        "messages",
    ] {
        assert_eq!(sent[k], body[k], "{k} must pass untouched");
    }
    assert_eq!(sent["model"], "qwen");
}

#[tokio::test]
async fn models_lists_auto_pools_and_backend_models() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .http
        .get(app.url("/v1/models"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "list");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for want in [
        "auto",
        "local",
        "frontier",
        "ollama/llama3.1:8b",
        "lmstudio/qwen",
        "cloud/gpt-4o",
    ] {
        assert!(ids.contains(&want), "{want} missing from {ids:?}");
    }
}

#[tokio::test]
async fn unconfigured_backend_is_reported_and_never_called() {
    let w = World::new().await;
    let toml = w.toml("").replace("CLOUD_KEY", "MISSING_KEY_VAR");
    let app = spawn(&toml).await;
    let r = app
        .chat(json!({"model": "cloud/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 503);
    let r = app.chat(user(crate::COMPLEX)).await;
    // The frontier rule is skipped; default serves it locally.
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.count(), 0, "not even probed");
    let ready: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let cloud = ready["backends"]
        .as_array()
        .expect("backends")
        .iter()
        .find(|b| b["name"] == "cloud")
        .cloned()
        .expect("cloud listed");
    assert_eq!(cloud["state"], "unconfigured");
    assert_eq!(cloud["tier"], "public_cloud");
}

#[tokio::test]
async fn readyz_reflects_backend_states() {
    let w = World::new().await;
    let down = crate::fakes::closed_port().await;
    let app = spawn(&w.toml_with(down, "[health]\ninterval_ms = 100")).await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    // Probes run at start; wait until they have answered.
    let mut last = Value::Null;
    for _ in 0..50 {
        let r = app.http.get(app.url("/readyz")).send().await.expect("send");
        let status = r.status();
        last = r.json().await.expect("json");
        if last["status"] == "degraded" {
            assert_eq!(status, 200);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(last["status"], "degraded", "{last}");
    let state = |name: &str| {
        last["backends"]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["name"] == name))
            .map(|b| b["state"].clone())
    };
    assert_eq!(state("ollama"), Some(json!("down")));
    assert_eq!(state("lmstudio"), Some(json!("up")));
    assert_eq!(state("cloud"), Some(json!("up")));
}

#[tokio::test]
async fn readyz_is_503_when_nothing_is_up() {
    let down = crate::fakes::closed_port().await;
    let toml = format!(
        r#"
[health]
interval_ms = 100
[[backends]]
name = "only"
protocol = "openai"
base_url = "http://{down}/v1"
tier = "local"
models = ["m"]
[pools]
p = ["only/m"]
[[rules]]
name = "default"
pool = "p"
"#
    );
    let app = spawn(&toml).await;
    let mut status = 0;
    for _ in 0..50 {
        let r = app.http.get(app.url("/readyz")).send().await.expect("send");
        status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        if body["backends"][0]["state"] == "down" {
            assert_eq!(body["status"], "unready");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 503);
}

/// A health probe reads at most 1 MiB: a backend answering its model list
/// with more (here 2 MiB, without a length, then with one) counts as down
/// instead of filling memory.
#[tokio::test]
async fn oversized_probe_answers_mark_a_backend_down() {
    use axum::routing::get;
    let w = World::new().await;
    // A valid model list, padded: only its size is wrong.
    let huge = || {
        format!(
            "{{\"models\": [{{\"name\": \"llama3.1:8b\", \"model\": \"llama3.1:8b\", \"pad\": \"{}\"}}]}}",
            "x".repeat(2 * 1024 * 1024)
        )
    };
    let chunked = axum::Router::new().route(
        "/api/tags",
        get(move || async move {
            let body = huge();
            let parts: Vec<Result<String, std::io::Error>> = body
                .as_bytes()
                .chunks(64 * 1024)
                .map(|c| Ok(String::from_utf8_lossy(c).into_owned()))
                .collect();
            axum::body::Body::from_stream(futures_util::stream::iter(parts))
        }),
    );
    let addr = crate::fakes::serve(chunked).await;
    let app = spawn(&w.toml_with(addr, "[health]\ninterval_ms = 100")).await;
    let mut last = Value::Null;
    for _ in 0..50 {
        let r = app.http.get(app.url("/readyz")).send().await.expect("send");
        last = r.json().await.expect("json");
        let ollama = last["backends"]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["name"] == "ollama"))
            .map(|b| b["state"].clone());
        if ollama == Some(json!("down")) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("ollama never marked down: {last}");
}
