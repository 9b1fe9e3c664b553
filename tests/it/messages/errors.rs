//! `/v1/messages` failures: invalid bodies, keys, unknown models and
//! paths, a backend's own refusal and a stream that breaks, all in
//! Anthropic's error shape with airlock's statuses; and `count_tokens`.

use super::{Setup, ask, error_of, names, sse, streamed_text};
use crate::GW_KEY;
use crate::fakes::Fault;
use serde_json::{Value, json};

#[tokio::test]
async fn invalid_bodies_get_anthropic_shaped_400s() {
    let s = Setup::new("").await;
    for (body, needle) in [
        ("{\"model\": ".to_owned(), "not valid JSON"),
        ("[1]".to_owned(), "JSON object"),
        (
            json!({"model": "auto", "messages": [{"role": "user", "content": "x"}]}).to_string(),
            "max_tokens: Field required",
        ),
        (
            json!({"model": "auto", "max_tokens": "ten", "messages": [{"role": "user", "content": "x"}]})
                .to_string(),
            "max_tokens: must be a positive integer",
        ),
        (
            json!({"model": "auto", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]})
                .to_string(),
            "messages.0.content",
        ),
        (
            json!({"model": "auto", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]})
                .to_string(),
            "messages.0.role",
        ),
        (
            json!({"model": "auto", "max_tokens": 5, "top_k": 3, "messages": [{"role": "user", "content": "x"}]})
                .to_string(),
            "top_k",
        ),
    ] {
        let (status, error) = error_of(s.post("/v1/messages", body.clone()).await).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error["type"], "invalid_request_error", "{body}");
        let message = error["message"].as_str().unwrap_or("");
        assert!(message.contains(needle), "{body}: {message}");
    }
    assert_eq!(
        s.cloud_calls() + s.ollama.chat_count() + s.lmstudio.chat_count(),
        0
    );
}

#[tokio::test]
async fn errors_keep_their_status_in_anthropic_shape() {
    let s = Setup::new("").await;
    // No key, a wrong key.
    let r = s
        .app
        .http
        .post(s.app.url("/v1/messages"))
        .json(&ask("auto", "hi"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        error_of(r).await,
        (
            401,
            json!({"type": "authentication_error",
        "message": "invalid or missing gateway key"})
        )
    );
    let r = s
        .app
        .http
        .post(s.app.url("/v1/messages"))
        .header("x-api-key", "wrong")
        .json(&ask("auto", "hi"))
        .send()
        .await
        .expect("request");
    assert_eq!(error_of(r).await.0, 401);
    // An unknown model.
    let (status, error) = error_of(s.messages(ask("claude-opus-9", "hi")).await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (404, Some("not_found_error"))
    );
    // A backend's own 400 is relayed.
    s.claude.set_fault(Fault::Status(400));
    let (status, error) = error_of(s.messages(ask("claude", "hi")).await).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
    s.claude.set_fault(Fault::None);
    // Wrong method and unknown paths under /v1/messages.
    let r = s
        .app
        .http
        .get(s.app.url("/v1/messages"))
        .header("x-api-key", GW_KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(error_of(r).await.0, 405);
    let r = s.post("/v1/messages/batches", "{}".into()).await;
    assert_eq!(
        error_of(r).await,
        (
            404,
            json!({"type": "not_found_error", "message": "not found"})
        )
    );
    // The OpenAI routes keep OpenAI's shape.
    let r = s
        .app
        .http
        .post(s.app.url("/v1/chat/completions"))
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_api_key");
}

#[tokio::test]
async fn a_stream_that_breaks_ends_with_an_error_event() {
    let s = Setup::new("").await;
    // message_start, block start, ping, one text delta, then `error`.
    s.claude.set_fault(Fault::ErrorEvent(4));
    let mut body = ask("claude", "hi");
    body["stream"] = json!(true);
    let r = s.messages(body).await;
    assert_eq!(r.status(), 200);
    let ev = sse(r).await;
    assert_eq!(ev[0].0, "message_start");
    assert_eq!(streamed_text(&ev), "Hello ");
    let (name, data) = ev.last().expect("events");
    assert_eq!(name, "error");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(
        data["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("overloaded_error")),
        "{data}"
    );
    assert!(!names(&ev).contains(&"message_stop"));
}

#[tokio::test]
async fn count_tokens_estimates_without_sending() {
    let s = Setup::new("").await;
    let r = s
        .post(
            "/v1/messages/count_tokens",
            json!({"model": "claude", "system": "Be brief.",
                "messages": [{"role": "user", "content": "Hello there, how are you?"}]})
            .to_string(),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    // 9 + 25 bytes at 4 bytes a token.
    assert_eq!(body, json!({"input_tokens": 9}));
    assert_eq!(s.cloud_calls(), 0);
}
