//! The `bedrock` protocol through the real gateway, against the fake
//! Bedrock runtime, which verifies every request's SigV4 signature: text,
//! streams with usage, a tool-call round trip, images, errors relayed or
//! failed over (throttling, a wrong secret), and a Bedrock API key.

use crate::fakes::bedrock::{self as fake_bedrock, API_KEY, REGION, SESSION_TOKEN};
use crate::fakes::{self, Fake};
use crate::streaming::events;
use crate::{TestApp, header, spawn};
use serde_json::{Value, json};

/// A model id with a `:`, which must be encoded in the path and twice in
/// the signature.
const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

struct Setup {
    bedrock: Fake,
    cloud: Fake,
    app: TestApp,
}

/// One Bedrock backend (with `extra` lines) and an OpenAI cloud as fallback.
async fn setup(extra: &str) -> Setup {
    let bedrock = fake_bedrock::bedrock(&[MODEL]).await;
    let cloud = fakes::openai(&["gpt-4o"]).await;
    let toml = format!(
        r#"
[[backends]]
name = "bedrock"
protocol = "bedrock"
region = "{REGION}"
base_url = "http://{addr}"
tier = "private_cloud"
models = ["{MODEL}"]
{extra}

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
bedrock = ["bedrock/{MODEL}"]
bedrock-first = ["bedrock/{MODEL}", "cloud/gpt-4o"]

[[rules]]
name = "default"
pool = "bedrock"
"#,
        addr = bedrock.addr,
        cloud = cloud.addr,
    );
    let app = spawn(&toml).await;
    Setup {
        bedrock,
        cloud,
        app,
    }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Converse calls the fake received (probes aside: they send no message).
fn calls(f: &Fake) -> Vec<crate::fakes::Seen> {
    f.seen()
        .into_iter()
        .filter(|s| s.body["messages"].as_array().is_some_and(|m| !m.is_empty()))
        .collect()
}

#[tokio::test]
async fn a_signed_chat_reaches_the_model_and_answers_openai() {
    let s = setup("").await;
    let r = s.app.chat(chat("bedrock", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "bedrock");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0],
        json!({"index": 0, "finish_reason": "stop", "logprobs": null,
               "message": {"role": "assistant", "content": "Hello from the fake Bedrock.", "refusal": null}})
    );
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 14, "completion_tokens": 7, "total_tokens": 21,
               "prompt_tokens_details": {"cached_tokens": 3}})
    );
    let sent = calls(&s.bedrock);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].path,
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let h = &sent[0].headers;
    assert_eq!(h["x-amz-security-token"], SESSION_TOKEN);
    assert_eq!(h["accept"], "application/json");
    assert_eq!(
        sent[0].body,
        json!({"messages": [{"role": "user", "content": [{"text": "Say hello."}]}]})
    );
}

#[tokio::test]
async fn a_stream_of_binary_frames_becomes_sse_with_usage() {
    let s = setup("").await;
    let mut req = chat("bedrock", "Stream hello.");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk json"))
        .collect();
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the fake Bedrock.");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 14);
    assert_eq!(last["usage"]["prompt_tokens_details"]["cached_tokens"], 3);
    let sent = calls(&s.bedrock);
    assert!(sent[0].path.ends_with("%3A0/converse-stream"));
    assert_eq!(
        sent[0].headers["accept"],
        "application/vnd.amazon.eventstream"
    );
}

#[tokio::test]
async fn a_tool_call_round_trip_json_and_streamed() {
    let s = setup("").await;
    let tools = json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let mut req = chat("bedrock", "Weather in Paris?");
    req["tools"] = tools.clone();
    let r = s.app.chat(req.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["id"], "tooluse_abc123");
    assert_eq!(call["function"]["arguments"], "{\"city\":\"Paris\"}");

    // The same, streamed: the arguments arrive in pieces.
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let ev = events(s.app.chat(streamed).await).await;
    let args: String = ev
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(e).ok())
        .filter_map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(args, "{\"city\": \"Paris\"}");

    // The result goes back as a toolResult; the model answers with it.
    let messages = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "tooluse_abc123", "content": "sunny, 21 C"}
    ]);
    let r = s
        .app
        .chat(json!({"model": "bedrock", "messages": messages, "tools": tools}))
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "The tool said sunny, 21 C."
    );
    let last = calls(&s.bedrock).pop().expect("call");
    assert_eq!(
        last.body["messages"][1]["content"][0]["toolUse"],
        json!({"toolUseId": "tooluse_abc123", "name": "get_weather", "input": {"city": "Paris"}})
    );
    assert_eq!(
        last.body["messages"][2]["content"][0]["toolResult"],
        json!({"toolUseId": "tooluse_abc123", "content": [{"text": "sunny, 21 C"}]})
    );
}

#[tokio::test]
async fn an_image_goes_as_bytes() {
    let s = setup("").await;
    let req = json!({"model": "bedrock", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    ]}]});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "I see a jpeg image."
    );
    let sent = calls(&s.bedrock).pop().expect("call");
    assert_eq!(
        sent.body["messages"][0]["content"][1],
        json!({"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}})
    );
}

#[tokio::test]
async fn throttling_falls_back_and_validation_errors_are_relayed() {
    let s = setup("").await;
    let r = s.app.chat(chat("bedrock-first", "THROTTLE please.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    assert_eq!(s.cloud.chat_count(), 1);
    // Alone: OpenAI's 429.
    let r = s.app.chat(chat("bedrock", "THROTTLE alone.")).await;
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    // A ValidationException is the caller's: relayed, not tried elsewhere.
    let r = s.app.chat(chat("bedrock-first", "INVALID input.")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("ValidationException"), "{message}");
    assert_eq!(s.cloud.chat_count(), 1);
    // Untranslatable requests are refused before anything is sent.
    let mut req = chat("bedrock", "hi");
    req["seed"] = json!(1);
    let before = calls(&s.bedrock).len();
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["param"], "seed");
    assert_eq!(calls(&s.bedrock).len(), before);
}

#[tokio::test]
async fn a_stream_exception_after_content_ends_in_band() {
    let s = setup("").await;
    let mut req = chat("bedrock", "STREAMFAIL now.");
    req["stream"] = json!(true);
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    let ev = events(r).await;
    let last: Value = serde_json::from_str(ev.last().expect("events")).expect("json");
    let message = last["error"]["message"].as_str().unwrap_or("");
    assert!(message.contains("throttlingException"), "{message}");
    assert!(!ev.iter().any(|e| e == "[DONE]"));
}

#[tokio::test]
async fn a_wrong_secret_is_refused_by_the_signature_check_and_fails_over() {
    let s = setup(
        "secret_access_key_env = \"WRONG_AWS_SECRET\"\nsession_token_env = \"AWS_SESSION_TOKEN\"",
    )
    .await;
    let r = s.app.chat(chat("bedrock-first", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    let r = s.app.chat(chat("bedrock", "Say hello.")).await;
    assert_eq!(r.status(), 502);
}

#[tokio::test]
async fn a_bedrock_api_key_goes_as_a_bearer_token() {
    let s = setup("api_key_env = \"CLOUD_KEY\"").await;
    let r = s.app.chat(chat("bedrock", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    let sent = calls(&s.bedrock).pop().expect("call");
    assert_eq!(sent.headers["authorization"], format!("Bearer {API_KEY}"));
    assert!(sent.headers.get("x-amz-date").is_none());
}
