//! The `anthropic` protocol through the real gateway, against the fake
//! Messages API: what airlock sends (path, key, version, body) and how the
//! answers come back in OpenAI shape, JSON and streamed; tool-call round
//! trips, images, and Anthropic's error statuses and in-stream errors.

use crate::fakes::anthropic::{self as fake_anthropic, KEY};
use crate::fakes::{self, Fake, Fault};
use crate::streaming::events;
use crate::{TestApp, header, spawn};
use serde_json::{Value, json};
use std::time::Duration;

const MODEL: &str = "claude-sonnet-4-5";

struct Setup {
    claude: Fake,
    cloud: Fake,
    app: TestApp,
}

/// One Anthropic backend (`claude`, with `backend_extra` lines), an OpenAI
/// cloud as fallback, and `head` before the backends.
async fn setup(head: &str, backend_extra: &str) -> Setup {
    let claude = fake_anthropic::anthropic(&[MODEL, "claude-haiku-4-5"]).await;
    let cloud = fakes::openai(&["gpt-4o"]).await;
    let toml = format!(
        r#"
{head}

[[backends]]
name = "claude"
protocol = "anthropic"
base_url = "http://{claude}"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["{MODEL}"]
{backend_extra}

[[backends]]
name = "discovered"
protocol = "anthropic"
base_url = "http://{claude}/"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
claude = ["claude/{MODEL}"]
claude-first = ["claude/{MODEL}", "cloud/gpt-4o"]

[[rules]]
name = "default"
pool = "claude"
"#,
        claude = claude.addr,
        cloud = cloud.addr,
    );
    let app = spawn(&toml).await;
    Setup { claude, cloud, app }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": text}]})
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
}

fn chunks(ev: &[String]) -> Vec<Value> {
    ev.iter()
        .filter(|e| *e != "[DONE]")
        .map(|e| serde_json::from_str(e).expect("chunk json"))
        .collect()
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

#[tokio::test]
async fn text_chat_reaches_the_messages_api_and_answers_in_openai_shape() {
    let s = setup("", "default_max_tokens = 1234").await;
    let r = s.app.chat(chat("claude", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "claude");
    assert_eq!(header(&r, "x-airlock-model"), MODEL);
    let rid = header(&r, "x-airlock-request-id").to_owned();
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], format!("chatcmpl-{rid}"));
    assert_eq!(body["model"], MODEL);
    assert_eq!(
        body["choices"][0]["message"],
        json!({"role": "assistant", "content": "Hello from the fake Anthropic.", "refusal": null})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 18, "completion_tokens": 6, "total_tokens": 24,
               "prompt_tokens_details": {"cached_tokens": 5}})
    );

    let sent = s.claude.last();
    assert_eq!(sent.path, "/v1/messages");
    let h = |name: &str| {
        sent.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(h("x-api-key"), KEY);
    assert_eq!(h("anthropic-version"), "2023-06-01");
    assert_eq!(h("content-type"), "application/json");
    assert!(
        sent.headers.get("authorization").is_none(),
        "no bearer token"
    );
    assert_eq!(
        sent.body,
        json!({"model": MODEL, "stream": false, "max_tokens": 1234,
               "system": [{"type": "text", "text": "Be brief."}],
               "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]})
    );
    assert_eq!(s.cloud.chat_count(), 0);
}

#[tokio::test]
async fn streamed_chat_is_translated_to_openai_chunks() {
    let s = setup("", "").await;
    let mut req = chat("claude", "Say hello.");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let chunks = chunks(&ev);
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["model"], MODEL);
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(content(&chunks), "Hello from the fake Anthropic.");
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = chunks.last().expect("usage chunk");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 18);
    assert_eq!(last["usage"]["completion_tokens"], 6);

    let sent = s.claude.last();
    assert_eq!(sent.body["stream"], true);
    assert_eq!(sent.body["max_tokens"], 4096, "the documented default");
    assert_eq!(
        sent.headers.get("accept").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn tool_call_round_trip() {
    let s = setup("", "").await;
    // 1. The model asks for a tool.
    let mut req = chat("claude", "What is the weather in Paris?");
    req["tools"] = weather_tools();
    req["tool_choice"] = json!("required");
    let r = s.app.chat(req.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me check.");
    let call = choice["message"]["tool_calls"][0].clone();
    assert_eq!(call["id"], "toolu_01FakeWeather");
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("a string"))
            .expect("arguments are JSON");
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    let sent = s.claude.last().body;
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(
        sent["tools"][0]["input_schema"]["properties"]["city"]["type"],
        "string"
    );

    // 2. The caller answers it; the history must be valid for Anthropic.
    let mut messages = req["messages"].as_array().expect("messages").clone();
    messages.push(choice["message"].clone());
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "11C and rain"}));
    messages.push(json!({"role": "user", "content": "Umbrella?"}));
    let follow = json!({"model": "claude", "messages": messages, "tools": weather_tools(),
        "tool_choice": "none"});
    let r = s.app.chat(follow).await;
    assert_eq!(r.status(), 200);
    let sent = s.claude.last().body;
    assert_eq!(
        sent["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01FakeWeather", "name": "get_weather",
             "input": {"city": "Paris", "unit": "c"}}]})
    );
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01FakeWeather",
             "content": [{"type": "text", "text": "11C and rain"}]},
            {"type": "text", "text": "Umbrella?"}]}),
        "consecutive user turns merged, tool results first"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Tool said: 11C and rain."
    );

    // 3. The same first turn streamed: arguments arrive as deltas.
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let ev = events(s.app.chat(streamed).await).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let chunks = chunks(&ev);
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls[0]["index"], 0);
    assert_eq!(calls[0]["id"], "toolu_01FakeWeather");
    assert_eq!(calls[0]["function"]["name"], "get_weather");
    let joined: String = calls
        .iter()
        .filter_map(|c| c["function"]["arguments"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&joined).expect("JSON"),
        json!({"city": "Paris", "unit": "c"})
    );
    assert!(calls.len() >= 3, "name first, then argument deltas");
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
}

#[tokio::test]
async fn images_become_image_blocks() {
    // Images cannot be scanned; let them reach the cloud for this test.
    let s = setup("[policy]\nunscannable = \"public\"", "").await;
    let req = json!({"model": "claude", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg==", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}]}]});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "I see 2 images.");
    assert_eq!(
        s.claude.last().body["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare these."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                         "data": "/9j/4AAQSkZJRg=="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/b.png"}},
        ])
    );
}

#[tokio::test]
async fn rate_limits_and_overload_fall_back_or_fail_as_upstream_errors() {
    let s = setup("", "").await;
    for (status, n) in [(429, 1), (529, 2)] {
        s.claude.set_fault(Fault::Status(status));
        // With a fallback in the pool, the next backend serves it.
        let r = s
            .app
            .chat(chat("claude-first", &format!("Fallback please, case {n}.")))
            .await;
        assert_eq!(r.status(), 200, "{status}");
        assert_eq!(header(&r, "x-airlock-backend"), "cloud", "{status}");
        assert_eq!(s.cloud.chat_count(), n);
        // Alone, a rate limit is the caller's to wait out: 429 with the
        // backend's retry-after (7 s, longer than `retries.max_wait`, so
        // not waited here). An overload says nothing: it is tried once
        // more after a backoff, then it is airlock's upstream's failure:
        // 502, no upstream text.
        let before = s.claude.chat_count();
        let r = s
            .app
            .chat(chat("claude", &format!("Alone, case {n}.")))
            .await;
        let tries = if status == 429 { 1 } else { 2 };
        assert_eq!(s.claude.chat_count(), before + tries, "{status}");
        let retry_after = header(&r, "retry-after").to_owned();
        let want = if status == 429 { 429 } else { 502 };
        assert_eq!(r.status(), want, "{status}");
        let body: Value = r.json().await.expect("json");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(!message.contains("fake anthropic"), "{message}");
        if status == 429 {
            assert_eq!(body["error"]["code"], "rate_limit_exceeded");
            assert_eq!(body["error"]["type"], "rate_limit_error");
            assert_eq!(retry_after, "7");
        } else {
            assert_eq!(body["error"]["code"], "upstream_error");
            assert!(message.contains(&format!("HTTP {status}")), "{message}");
        }
    }
    // 401 (airlock's key) and 402 (airlock's billing) are not the caller's
    // fault either.
    for status in [401, 402] {
        s.claude.set_fault(Fault::Status(status));
        let r = s
            .app
            .chat(chat("claude", &format!("Key check {status}.")))
            .await;
        assert_eq!(r.status(), 502, "{status}");
    }
}

#[tokio::test]
async fn caller_errors_are_relayed_with_anthropics_message() {
    let s = setup("", "").await;
    for status in [400, 404, 413] {
        s.claude.set_fault(Fault::Status(status));
        let r = s
            .app
            .chat(chat("claude-first", &format!("Bad {status}.")))
            .await;
        assert_eq!(r.status().as_u16(), status);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "upstream_rejected");
        assert_eq!(
            body["error"]["message"],
            format!("fake anthropic error {status}")
        );
    }
    assert_eq!(s.cloud.chat_count(), 0, "a caller's error is not retried");
}

#[tokio::test]
async fn in_stream_errors_fall_back_before_content_and_end_the_stream_after() {
    let s = setup("", "").await;
    let stream = |model: &str, text: &str| {
        json!({"model": model, "stream": true,
               "messages": [{"role": "user", "content": text}]})
    };
    // message_start, content_block_start, ping, then `error`: nothing sent yet.
    s.claude.set_fault(Fault::ErrorEvent(3));
    let r = s.app.chat(stream("claude-first", "Early error.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    let ev = events(r).await;
    assert_eq!(content(&chunks(&ev)), "Hello from the fake upstream.");
    // After two text deltas the stream is committed: an in-band error ends it.
    s.claude.set_fault(Fault::ErrorEvent(5));
    let r = s.app.chat(stream("claude", "Late error.")).await;
    assert_eq!(r.status(), 200);
    let ev = events(r).await;
    assert_ne!(ev.last().map(String::as_str), Some("[DONE]"));
    let last: Value = serde_json::from_str(ev.last().expect("an event")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_error");
    assert_eq!(last["error"]["type"], "api_error");
    let message = last["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("overloaded_error"), "{message}");
    assert_eq!(content(&chunks(&ev[..ev.len() - 1])), "Hello from ");
    // A cut stream ends the same way.
    s.claude.set_fault(Fault::CutAfter(5));
    let ev = events(s.app.chat(stream("claude", "Cut.")).await).await;
    let last: Value = serde_json::from_str(ev.last().expect("an event")).expect("json");
    assert_eq!(last["error"]["code"], "upstream_error");
}

#[tokio::test]
async fn unsupported_parameters_are_refused_or_served_elsewhere() {
    let s = setup("", "").await;
    let mut req = chat("claude", "Deterministic please.");
    req["seed"] = json!(7);
    let r = s.app.chat(req.clone()).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_parameter");
    assert_eq!(body["error"]["param"], "seed");
    assert_eq!(s.claude.chat_count(), 0, "nothing was sent");
    req["model"] = json!("claude-first");
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    assert_eq!(s.claude.chat_count(), 0);
}

#[tokio::test]
async fn probes_list_models_with_the_anthropic_headers() {
    let s = setup("", "").await;
    let mut listed = Vec::new();
    for _ in 0..100 {
        let r = s
            .app
            .http
            .get(s.app.url("/v1/models"))
            .send()
            .await
            .expect("models");
        let body: Value = r.json().await.expect("json");
        listed = body["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(|m| m["id"].as_str().map(str::to_owned))
            .filter(|id| id.starts_with("discovered/"))
            .collect();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        listed,
        [
            "discovered/claude-sonnet-4-5",
            "discovered/claude-haiku-4-5"
        ]
    );
    let probe = s
        .claude
        .seen()
        .into_iter()
        .find(|r| r.path.starts_with("/v1/models"))
        .expect("a probe");
    assert_eq!(probe.path, "/v1/models?limit=1000");
    assert_eq!(
        probe.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
        Some(KEY)
    );
    assert_eq!(
        probe
            .headers
            .get("anthropic-version")
            .and_then(|v| v.to_str().ok()),
        Some("2023-06-01")
    );
}
