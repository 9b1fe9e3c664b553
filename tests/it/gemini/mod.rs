//! The `gemini` protocol through the real gateway, against the fake Gemini
//! API: what airlock sends (path, key, body) and how the answers come back
//! in OpenAI shape, JSON and streamed; tool-call round trips (thought
//! signatures included), images, Vertex AI with a bearer token, refused
//! requests, probes. Failures (safety blocks, error statuses, in-stream
//! errors) are in `failures.rs`.

mod failures;

use crate::fakes::gemini::{self as fake_gemini, KEY, SIGNATURE};
use crate::fakes::{self, Fake};
use crate::streaming::events;
use crate::{TestApp, header, spawn};
use serde_json::{Value, json};
use std::time::Duration;

const MODEL: &str = "gemini-2.5-flash";

struct Setup {
    gemini: Fake,
    cloud: Fake,
    app: TestApp,
}

/// One Gemini API backend (`gemini`), the same fake as Vertex AI (`vertex`,
/// bearer token) and with no model list (`discovered`), an OpenAI cloud as
/// fallback, and `head` before the backends.
async fn setup(head: &str) -> Setup {
    let gemini = fake_gemini::gemini(&[MODEL, "gemini-2.5-pro"]).await;
    let cloud = fakes::openai(&["gpt-4o"]).await;
    let toml = format!(
        r#"
{head}

[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "http://{gemini}"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["{MODEL}"]

[[backends]]
name = "vertex"
protocol = "gemini"
base_url = "http://{gemini}/v1/projects/acme/locations/europe-west4/publishers/google"
token_env = "CLOUD_KEY"
tier = "private_cloud"
models = ["gemini-2.5-pro"]

[[backends]]
name = "discovered"
protocol = "gemini"
base_url = "http://{gemini}/"
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
gemini = ["gemini/{MODEL}"]
gemini-first = ["gemini/{MODEL}", "cloud/gpt-4o"]

[[rules]]
name = "default"
pool = "gemini"
"#,
        gemini = gemini.addr,
        cloud = cloud.addr,
    );
    let app = spawn(&toml).await;
    Setup { gemini, cloud, app }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": text}]})
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "additionalProperties": false}}}])
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

/// The last generation call (probes excepted: Vertex's has a body too).
fn last_call(fake: &Fake) -> fakes::Seen {
    fake.seen()
        .into_iter()
        .rev()
        .find(|s| s.path.contains("enerateContent"))
        .expect("a generation call")
}

fn generate_calls(fake: &Fake) -> usize {
    fake.seen()
        .iter()
        .filter(|s| s.path.contains("enerateContent"))
        .count()
}

#[tokio::test]
async fn text_chat_reaches_generate_content_and_answers_in_openai_shape() {
    let s = setup("").await;
    let r = s.app.chat(chat("gemini", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "gemini");
    assert_eq!(header(&r, "x-airlock-model"), MODEL);
    let rid = header(&r, "x-airlock-request-id").to_owned();
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["id"], format!("chatcmpl-{rid}"));
    assert_eq!(body["model"], MODEL);
    assert_eq!(
        body["choices"][0]["message"],
        json!({"role": "assistant", "content": "Hello from the fake Gemini.", "refusal": null})
    );
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        body["usage"],
        json!({"prompt_tokens": 18, "completion_tokens": 6, "total_tokens": 24,
               "prompt_tokens_details": {"cached_tokens": 5},
               "completion_tokens_details": {"reasoning_tokens": 2}})
    );

    let sent = last_call(&s.gemini);
    assert_eq!(sent.path, format!("/v1beta/models/{MODEL}:generateContent"));
    let h = |name: &str| {
        sent.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(h("x-goog-api-key"), KEY);
    assert_eq!(h("content-type"), "application/json");
    assert!(
        sent.headers.get("authorization").is_none(),
        "no bearer token"
    );
    assert_eq!(
        sent.body,
        json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
               "contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]})
    );
    assert_eq!(s.cloud.chat_count(), 0);
}

#[tokio::test]
async fn streamed_chat_is_translated_to_openai_chunks_with_usage() {
    let s = setup("").await;
    let mut req = chat("gemini", "Say hello.");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    req["max_tokens"] = json!(64);
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
    assert_eq!(content(&chunks), "Hello from the fake Gemini.");
    let finish: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["finish_reason"])
        .filter(|f| !f.is_null())
        .collect();
    assert_eq!(finish, [&json!("stop")]);
    let last = chunks.last().expect("usage chunk");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens": 18, "completion_tokens": 6, "total_tokens": 24,
               "prompt_tokens_details": {"cached_tokens": 5},
               "completion_tokens_details": {"reasoning_tokens": 2}})
    );

    let sent = last_call(&s.gemini);
    assert_eq!(
        sent.path,
        format!("/v1beta/models/{MODEL}:streamGenerateContent?alt=sse")
    );
    assert_eq!(
        sent.body["generationConfig"],
        json!({"maxOutputTokens": 64})
    );
    assert_eq!(
        sent.headers.get("accept").and_then(|v| v.to_str().ok()),
        Some("text/event-stream")
    );
}

#[tokio::test]
async fn tool_call_round_trip_keeps_names_and_signatures() {
    let s = setup("").await;
    // 1. The model asks for a tool.
    let mut req = chat("gemini", "What is the weather in Paris?");
    req["tools"] = weather_tools();
    req["tool_choice"] = json!("required");
    let r = s.app.chat(req.clone()).await;
    assert_eq!(r.status(), 200);
    let rid = header(&r, "x-airlock-request-id").to_owned();
    let body: Value = r.json().await.expect("json");
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "Let me check.");
    let call = choice["message"]["tool_calls"][0].clone();
    assert_eq!(call["id"], format!("call_{rid}_0"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(
        call["extra_content"]["google"]["thought_signature"],
        SIGNATURE
    );
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().expect("a string"))
            .expect("arguments are JSON");
    assert_eq!(args, json!({"city": "Paris", "unit": "c"}));
    let sent = last_call(&s.gemini).body;
    assert_eq!(
        sent["toolConfig"],
        json!({"functionCallingConfig": {"mode": "ANY"}})
    );
    assert_eq!(
        sent["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather",
            "description": "Weather for a city",
            "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}},
                "additionalProperties": false}}]}])
    );

    // 2. The caller answers it; the fake refuses unsigned calls, unnamed or
    // misplaced responses, and turns that do not alternate.
    let mut messages = req["messages"].as_array().expect("messages").clone();
    messages.push(choice["message"].clone());
    messages.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "11C and rain"}));
    messages.push(json!({"role": "user", "content": "Umbrella?"}));
    let follow = json!({"model": "gemini", "messages": messages, "tools": weather_tools(),
        "tool_choice": "none"});
    let r = s.app.chat(follow.clone()).await;
    assert_eq!(r.status(), 200);
    let sent = last_call(&s.gemini).body;
    assert_eq!(
        sent["contents"][1],
        json!({"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "unit": "c"}},
             "thoughtSignature": SIGNATURE}]})
    );
    assert_eq!(
        sent["contents"][2],
        json!({"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": "11C and rain"}}},
            {"text": "Umbrella?"}]}),
        "the tool result and the next user message make one turn"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Tool said: 11C and rain."
    );
    // A client that drops the signature still gets through (Google's skip value).
    let mut unsigned = follow;
    unsigned["messages"][2]["tool_calls"][0]
        .as_object_mut()
        .expect("call")
        .remove("extra_content");
    assert_eq!(s.app.chat(unsigned).await.status(), 200);
    assert_eq!(
        last_call(&s.gemini).body["contents"][1]["parts"][1]["thoughtSignature"],
        "skip_thought_signature_validator"
    );

    // 3. The same first turn streamed: the call arrives whole, signed.
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let r = s.app.chat(streamed).await;
    let rid = header(&r, "x-airlock-request-id").to_owned();
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let chunks = chunks(&ev);
    assert_eq!(content(&chunks), "Let me check.");
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0],
        &json!({"index": 0, "id": format!("call_{rid}_0"), "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"unit\":\"c\"}"},
            "extra_content": {"google": {"thought_signature": SIGNATURE}}})
    );
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str());
    assert_eq!(finish, Some("tool_calls"));
}

#[tokio::test]
async fn images_become_inline_data() {
    // Images cannot be scanned; let them reach the cloud for this test.
    let s = setup("[policy]\nunscannable = \"public\"").await;
    let req = json!({"model": "gemini", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare these."},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQSkZJRg==", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRg=="}}]}]});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["choices"][0]["message"]["content"], "I see 2 images.");
    assert_eq!(
        last_call(&s.gemini).body["contents"][0]["parts"],
        json!([
            {"text": "Compare these."},
            {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}},
            {"inlineData": {"mimeType": "image/webp", "data": "UklGRg=="}},
        ])
    );
    // A linked image cannot go to Gemini: refused, or served elsewhere.
    let linked = json!({"model": "gemini-first", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/b.png"}}]}]});
    let r = s.app.chat(linked).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
}

#[tokio::test]
async fn vertex_ai_gets_a_bearer_token_under_its_project_path() {
    let s = setup("").await;
    let r = s
        .app
        .chat(chat("vertex/gemini-2.5-pro", "Say hello."))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "private_cloud");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "Hello from the fake Gemini."
    );
    let sent = last_call(&s.gemini);
    assert_eq!(
        sent.path,
        "/v1/projects/acme/locations/europe-west4/publishers/google/models/gemini-2.5-pro:generateContent"
    );
    assert_eq!(
        sent.headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert!(sent.headers.get("x-goog-api-key").is_none());
}

#[tokio::test]
async fn unsupported_requests_are_refused_or_served_elsewhere() {
    let s = setup("").await;
    let mut req = chat("gemini", "Two answers please.");
    req["n"] = json!(2);
    let r = s.app.chat(req.clone()).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_parameter");
    assert_eq!(body["error"]["param"], "n");
    req["model"] = json!("gemini-first");
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    // A model name that is not a Gemini id never reaches a URL.
    let r = s.app.chat(chat("discovered/../files", "Hi.")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["param"], "model");
    // Embeddings are not translated.
    let r = s
        .app
        .http
        .post(s.app.url("/v1/embeddings"))
        .json(&json!({"model": "discovered/gemini-embedding-001", "input": "hi"}))
        .send()
        .await
        .expect("embeddings");
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_parameter");
    assert_eq!(generate_calls(&s.gemini), 0, "nothing was sent");
}

#[tokio::test]
async fn probes_list_models_or_count_tokens() {
    let s = setup("").await;
    // Wait for the first probe round to mark both Gemini-only backends up.
    let state = |body: &Value, name: &str| {
        body["backends"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["name"] == name))
            .map(|b| b["state"].clone())
    };
    let mut ready = Value::Null;
    for _ in 0..100 {
        let r = s
            .app
            .http
            .get(s.app.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        ready = r.json().await.expect("json");
        if ["vertex", "discovered"]
            .iter()
            .all(|n| state(&ready, n) == Some(json!("up")))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for name in ["vertex", "discovered"] {
        assert_eq!(state(&ready, name), Some(json!("up")), "{name}: {ready}");
    }
    let r = s
        .app
        .http
        .get(s.app.url("/v1/models"))
        .send()
        .await
        .expect("models");
    let body: Value = r.json().await.expect("json");
    let listed: Vec<String> = body["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .filter(|id| id.starts_with("discovered/"))
        .collect();
    assert_eq!(
        listed,
        ["discovered/gemini-2.5-flash", "discovered/gemini-2.5-pro"],
        "the embedding model is left out"
    );
    let seen = s.gemini.seen();
    let list = seen
        .iter()
        .find(|r| r.path.starts_with("/v1beta/models?"))
        .expect("a list probe");
    assert_eq!(list.path, "/v1beta/models?pageSize=1000");
    assert_eq!(
        list.headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok()),
        Some(KEY)
    );
    let count = seen
        .iter()
        .find(|r| r.path.ends_with(":countTokens"))
        .expect("a Vertex probe");
    assert_eq!(
        count.path,
        "/v1/projects/acme/locations/europe-west4/publishers/google/models/gemini-2.5-pro:countTokens"
    );
    assert_eq!(
        count
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {KEY}").as_str())
    );
}
