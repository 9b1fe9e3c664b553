//! The `gemini` protocol's failures through the real gateway: a prompt
//! blocked by safety, Google's error statuses (fallback or 502, a wrong
//! key's 400, a relayed 400) and errors inside a stream.

use super::{chat, chunks, content, generate_calls, setup};
use crate::fakes::gemini as fake_gemini;
use crate::fakes::{self, Fault};
use crate::streaming::events;
use crate::{header, spawn};
use serde_json::{Value, json};

const MODEL: &str = super::MODEL;

#[tokio::test]
async fn a_blocked_prompt_is_a_content_filter_error_not_an_answer() {
    let s = setup("").await;
    for stream in [false, true] {
        let mut req = chat("gemini-first", "BLOCKME please.");
        req["stream"] = json!(stream);
        let r = s.app.chat(req).await;
        assert_eq!(r.status(), 400, "stream {stream}");
        assert!(header(&r, "content-type").starts_with("application/json"));
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "content_filter");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(
            body["error"]["message"],
            "the backend's safety filter blocked the prompt (SAFETY)"
        );
    }
    assert_eq!(generate_calls(&s.gemini), 2);
    assert_eq!(
        s.cloud.chat_count(),
        0,
        "a refusal is not retried elsewhere"
    );
}

#[tokio::test]
async fn rate_limits_and_unavailability_fall_back_or_fail_as_upstream_errors() {
    let s = setup("").await;
    for (status, n) in [(429, 1), (503, 2)] {
        s.gemini.set_fault(Fault::Status(status));
        // With a fallback in the pool, the next backend serves it.
        let r = s
            .app
            .chat(chat("gemini-first", &format!("Fallback please, case {n}.")))
            .await;
        assert_eq!(r.status(), 200, "{status}");
        assert_eq!(header(&r, "x-airlock-backend"), "cloud", "{status}");
        assert_eq!(s.cloud.chat_count(), n);
        // Alone (after one retry), a rate limit is the caller's to wait out
        // (OpenAI's 429); unavailability is airlock's upstream's failure:
        // 502, no upstream text.
        let r = s
            .app
            .chat(chat("gemini", &format!("Alone, case {n}.")))
            .await;
        let body: Value = r.json().await.expect("json");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(!message.contains("fake gemini"), "{message}");
        if status == 429 {
            assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
        } else {
            assert_eq!(body["error"]["code"], "upstream_error");
            assert!(message.contains(&format!("HTTP {status}")), "{message}");
        }
    }
    // 403 (the key's permissions) and 500 are not the caller's fault either.
    for status in [403, 500] {
        s.gemini.set_fault(Fault::Status(status));
        let r = s
            .app
            .chat(chat("gemini", &format!("Status {status}.")))
            .await;
        assert_eq!(r.status(), 502, "{status}");
    }
}

#[tokio::test]
async fn a_wrong_key_is_airlocks_failure_and_a_bad_request_the_callers() {
    let s = setup("").await;
    // The fake refuses unknown fields with 400 INVALID_ARGUMENT, relayed.
    s.gemini.set_fault(Fault::Status(400));
    let r = s.app.chat(chat("gemini-first", "Bad request.")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "upstream_rejected");
    assert_eq!(body["error"]["message"], "fake gemini error 400");
    assert_eq!(s.cloud.chat_count(), 0, "a caller's error is not retried");
    s.gemini.set_fault(Fault::None);

    // A wrong key answers 400 API_KEY_INVALID: not the caller's error.
    let wrong = fake_gemini::gemini(&[MODEL]).await;
    let cloud = fakes::openai(&["gpt-4o"]).await;
    let toml = format!(
        r#"
[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "http://{wrong}"
api_key_env = "GW_KEY"
tier = "public_cloud"
models = ["{MODEL}"]

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
gemini = ["gemini/{MODEL}"]
gemini-first = ["gemini/{MODEL}", "cloud/gpt-4o"]

[[rules]]
name = "default"
pool = "gemini"
"#,
        wrong = wrong.addr,
        cloud = cloud.addr,
    );
    let app = spawn(&toml).await;
    let r = app.chat(chat("gemini", "Key check.")).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.expect("json");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("API key"),
        "{body}"
    );
    let r = app.chat(chat("gemini-first", "Key check.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
}

#[tokio::test]
async fn in_stream_errors_fall_back_before_content_and_end_the_stream_after() {
    let s = setup("").await;
    let stream = |model: &str, text: &str| {
        json!({"model": model, "stream": true,
               "messages": [{"role": "user", "content": text}]})
    };
    // An error object first: nothing sent yet, the next backend serves it.
    s.gemini.set_fault(Fault::ErrorEvent(0));
    let r = s.app.chat(stream("gemini-first", "Early error.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    let ev = events(r).await;
    assert_eq!(content(&chunks(&ev)), "Hello from the fake upstream.");
    // After two text events the stream is committed: an in-band error ends it.
    s.gemini.set_fault(Fault::ErrorEvent(2));
    let r = s.app.chat(stream("gemini", "Late error.")).await;
    assert_eq!(r.status(), 200);
    let ev = events(r).await;
    assert_ne!(ev.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(ev.last().expect("an event")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_error");
    assert_eq!(last["error"]["type"], "api_error");
    let message = last["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("UNAVAILABLE"), "{message}");
    assert_eq!(content(&chunks(&ev[..ev.len() - 1])), "Hello from ");
    // A cut stream (no finish reason) ends the same way.
    s.gemini.set_fault(Fault::CutAfter(2));
    let ev = events(s.app.chat(stream("gemini", "Cut.")).await).await;
    let last: Value = serde_json::from_str(ev.last().expect("an event")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_error");
}
