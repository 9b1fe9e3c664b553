//! `POST /v1/messages` (Anthropic's Messages API as airlock's ingress)
//! through the real gateway: Anthropic-format requests run through the same
//! classification, policy and tier filter and are answered in Anthropic's
//! format from whichever backend served them (the fake Anthropic, OpenAI and
//! Ollama APIs here): text, streams, tool-use round trips, images, errors in
//! Anthropic's shape, and sensitive values in system blocks, tool inputs and
//! tool results keeping the request local.

mod errors;

use crate::fakes::anthropic as fake_anthropic;
use crate::fakes::{self, Fake, Fault};
use crate::{GW_KEY, TestApp, header, spawn};
use serde_json::{Value, json};

const CLAUDE: &str = "claude-sonnet-4-5";
/// A card number and an email: restricted by the default policy.
const CARD: &str = "card 4111 1111 1111 1111, email jane.doe@example.com";

struct Setup {
    ollama: Fake,
    lmstudio: Fake,
    claude: Fake,
    cloud: Fake,
    app: TestApp,
}

impl Setup {
    async fn new(head: &str) -> Setup {
        let ollama = fakes::ollama(&["llama3.1:8b"]).await;
        let lmstudio = fakes::openai(&["qwen"]).await;
        let claude = fake_anthropic::anthropic(&[CLAUDE]).await;
        let cloud = fakes::openai(&["gpt-4o"]).await;
        let toml = format!(
            r#"
{head}

[[keys]]
name = "team-a"
key_env = "GW_KEY"

[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://{ollama}"
tier = "local"
models = ["llama3.1:8b"]

[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://{lmstudio}/v1"
tier = "local"
models = ["qwen"]

[[backends]]
name = "claude"
protocol = "anthropic"
base_url = "http://{claude}"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["{CLAUDE}"]

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
local = ["ollama/llama3.1:8b"]
lm = ["lmstudio/qwen"]
claude = ["claude/{CLAUDE}"]
frontier = ["cloud/gpt-4o"]

[[rules]]
name = "sensitive-local"
when = {{ sensitivity_at_least = "confidential" }}
pool = "local"

[[rules]]
name = "default"
pool = "claude"
"#,
            ollama = ollama.addr,
            lmstudio = lmstudio.addr,
            claude = claude.addr,
            cloud = cloud.addr,
        );
        let app = spawn(&toml).await;
        Setup {
            ollama,
            lmstudio,
            claude,
            cloud,
            app,
        }
    }

    /// Posts `body` to `/v1/messages` with the gateway key in `x-api-key`
    /// and `anthropic-version`, as the anthropic SDK sends them.
    async fn messages(&self, body: Value) -> reqwest::Response {
        self.post("/v1/messages", body.to_string()).await
    }

    async fn post(&self, path: &str, body: String) -> reqwest::Response {
        self.app
            .http
            .post(self.app.url(path))
            .header("x-api-key", GW_KEY)
            .header("anthropic-version", "2023-06-01")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    fn cloud_calls(&self) -> usize {
        self.claude.chat_count() + self.cloud.chat_count()
    }
}

fn ask(model: &str, text: &str) -> Value {
    json!({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
}

fn weather_tools() -> Value {
    json!([{"name": "get_weather", "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}])
}

/// An SSE body as `(event name, data)` pairs.
async fn sse(r: reqwest::Response) -> Vec<(String, Value)> {
    let text = r.text().await.expect("body");
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let mut name = String::new();
            let mut data = String::new();
            for line in e.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let data = serde_json::from_str(&data).unwrap_or_else(|_| panic!("json: {data}"));
            (name, data)
        })
        .collect()
}

fn names(ev: &[(String, Value)]) -> Vec<&str> {
    ev.iter().map(|(n, _)| n.as_str()).collect()
}

fn streamed_text(ev: &[(String, Value)]) -> String {
    ev.iter()
        .filter_map(|(_, v)| v["delta"]["text"].as_str())
        .collect()
}

/// Checks the event grammar: every event's `type` is its name, one
/// `message_start` first, blocks opened and closed in order, and
/// `message_delta` + `message_stop` last.
fn check_grammar(ev: &[(String, Value)]) {
    for (name, data) in ev {
        assert_eq!(data["type"], name.as_str(), "{data}");
    }
    assert_eq!(ev[0].0, "message_start");
    let mut open: Option<u64> = None;
    let mut next = 0;
    for (name, data) in ev {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block is open");
                assert_eq!(data["index"], next);
                open = data["index"].as_u64();
                next += 1;
            }
            "content_block_delta" => assert_eq!(data["index"].as_u64(), open),
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    let n = ev.len();
    assert_eq!(names(&ev[n - 2..]), ["message_delta", "message_stop"]);
}

#[tokio::test]
async fn text_from_an_anthropic_backend_comes_back_as_a_message() {
    let s = Setup::new("").await;
    let r = s.messages(ask("auto", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "claude");
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(header(&r, "x-airlock-rule"), "default");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "public");
    let rid = header(&r, "x-airlock-request-id").to_owned();
    assert_eq!(header(&r, "request-id"), rid);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"id": format!("msg_{rid}"), "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "Hello from the fake Anthropic."}],
            "model": CLAUDE, "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 13, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 5, "output_tokens": 6}})
    );
    // What reached the backend: the request, translated there and back.
    assert_eq!(
        s.claude.last().body,
        json!({"model": CLAUDE, "stream": false, "max_tokens": 64,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello."}]}]})
    );
}

#[tokio::test]
async fn text_from_an_openai_backend_with_a_bearer_key() {
    let s = Setup::new("").await;
    let r = s
        .app
        .http
        .post(s.app.url("/v1/messages"))
        .bearer_auth(GW_KEY)
        .json(
            &json!({"model": "lm", "max_tokens": 50, "system": "Be brief.",
            "stop_sequences": ["END"], "temperature": 0.2,
            "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Hello from the fake upstream."}])
    );
    assert_eq!(body["model"], "qwen");
    assert_eq!(body["usage"]["input_tokens"], 9);
    assert_eq!(body["usage"]["output_tokens"], 5);
    assert_eq!(
        s.lmstudio.last().body,
        json!({"model": "qwen", "max_tokens": 50, "stop": ["END"], "temperature": 0.2,
            "messages": [{"role": "system", "content": "Be brief."},
                         {"role": "user", "content": "hi"}]})
    );
}

#[tokio::test]
async fn streams_from_each_protocol_become_anthropic_events() {
    let s = Setup::new("").await;
    for (model, backend, text) in [
        ("lm", "lmstudio", "Hello from the fake upstream."),
        ("local", "ollama", "Hi from ollama."),
        ("claude", "claude", "Hello from the fake Anthropic."),
    ] {
        let mut body = ask(model, "hi");
        body["stream"] = json!(true);
        let r = s.messages(body).await;
        assert_eq!(r.status(), 200, "{model}");
        assert!(header(&r, "content-type").starts_with("text/event-stream"));
        assert_eq!(header(&r, "x-airlock-backend"), backend);
        let ev = sse(r).await;
        check_grammar(&ev);
        assert_eq!(ev[1].0, "ping");
        assert_eq!(streamed_text(&ev), text, "{model}");
        let delta = &ev[ev.len() - 2].1;
        assert_eq!(delta["delta"]["stop_reason"], "end_turn", "{model}");
        assert!(
            delta["usage"]["output_tokens"].as_u64() > Some(0),
            "{delta}"
        );
    }
    // Usage was asked for, so the final event carries the backend's counts.
    assert_eq!(
        s.lmstudio.last().body["stream_options"],
        json!({"include_usage": true})
    );
}

#[tokio::test]
async fn tool_use_round_trip_json_and_streamed() {
    let s = Setup::new("").await;
    let first = json!({"model": "claude", "max_tokens": 200, "tools": weather_tools(),
        "tool_choice": {"type": "auto"},
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let r = s.messages(first.clone()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["stop_reason"], "tool_use");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_01FakeWeather", "name": "get_weather",
             "input": {"city": "Paris", "unit": "c"}}])
    );
    // Streamed: the same call, its input in input_json_delta pieces.
    let mut streamed = first.clone();
    streamed["stream"] = json!(true);
    let ev = sse(s.messages(streamed).await).await;
    check_grammar(&ev);
    let start = ev
        .iter()
        .find(|(n, v)| n == "content_block_start" && v["content_block"]["type"] == "tool_use")
        .expect("tool block");
    assert_eq!(
        start.1["content_block"],
        json!({"type": "tool_use", "id": "toolu_01FakeWeather", "name": "get_weather", "input": {}})
    );
    let json: String = ev
        .iter()
        .filter(|(_, v)| v["delta"]["type"] == "input_json_delta")
        .map(|(_, v)| v["delta"]["partial_json"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).expect("arguments"),
        json!({"city": "Paris", "unit": "c"})
    );
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "tool_use");

    // The caller answers the call; the result reaches the backend as a tool_result.
    let mut second = first;
    second["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": body["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01FakeWeather",
            "content": [{"type": "text", "text": "18C and sunny"}]}]}]);
    let r = s.messages(second).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Tool said: 18C and sunny."}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    let sent = s.claude.last().body;
    assert_eq!(
        sent["messages"][1]["content"][1],
        json!({"type": "tool_use", "id": "toolu_01FakeWeather", "name": "get_weather",
            "input": {"city": "Paris", "unit": "c"}})
    );
    assert_eq!(
        sent["messages"][2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_01FakeWeather",
            "content": [{"type": "text", "text": "18C and sunny"}]})
    );
}

fn two_images() -> Value {
    json!({"model": "claude", "max_tokens": 20, "messages": [{"role": "user",
        "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": "What do you see?"}]}]})
}

#[tokio::test]
async fn images_count_as_unscannable_and_fail_closed_by_default() {
    // Images cannot be scanned: at the default `unscannable` level no
    // image-capable backend is allowed (the local one reads text only).
    let s = Setup::new("").await;
    let r = s.messages(two_images()).await;
    assert_eq!(header(&r, "x-airlock-sensitivity"), "confidential");
    let (status, error) = error_of(r).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (503, Some("overloaded_error"))
    );
    assert_eq!(s.cloud_calls() + s.ollama.chat_count(), 0);
}

#[tokio::test]
async fn images_reach_a_backend_that_takes_them() {
    let s = Setup::new("[policy]\nunscannable = \"public\"").await;
    let r = s.messages(two_images()).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["content"][0]["text"], "I see 2 images.", "{body}");
    let sent = s.claude.last().body;
    assert_eq!(
        sent["messages"][0]["content"][0],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        sent["messages"][0]["content"][1]["source"],
        json!({"type": "url", "url": "https://example.com/cat.jpg"})
    );
}

#[tokio::test]
async fn sensitive_values_anywhere_keep_the_request_local() {
    let s = Setup::new("").await;
    let turn = |extra: Value| {
        let mut body = json!({"model": "auto", "max_tokens": 30, "tools": weather_tools(),
            "messages": [
                {"role": "user", "content": "What is the weather?"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                    "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": "18C"}]}]});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (
            "a system block",
            turn(json!({"system": [{"type": "text", "text": "Context."},
                {"type": "text", "text": format!("Customer on file: {CARD}")}]})),
        ),
        (
            "a tool result (string)",
            turn(json!({"messages": [
                {"role": "user", "content": "Look up the customer."},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                    "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": format!("Found: {CARD}")}]}]})),
        ),
        (
            "a tool result (blocks)",
            turn(json!({"messages": [
                {"role": "user", "content": "Look up the customer."},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                    "name": "get_weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "Found:"}, {"type": "text", "text": CARD}]}]}]})),
        ),
        (
            "a tool input",
            turn(json!({"messages": [
                {"role": "user", "content": "Charge it."},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                    "name": "get_weather", "input": {"note": CARD}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                    "content": "done"}]}]})),
        ),
    ];
    for (place, body) in cases {
        for (model, stream) in [
            ("auto", false),
            ("claude", false),
            ("claude/claude-sonnet-4-5", true),
        ] {
            let mut body = body.clone();
            body["model"] = json!(model);
            body["stream"] = json!(stream);
            let r = s.messages(body).await;
            assert_eq!(r.status(), 200, "{place}, {model}");
            assert_eq!(header(&r, "x-airlock-tier"), "local", "{place}, {model}");
            assert_eq!(
                header(&r, "x-airlock-backend"),
                "ollama",
                "{place}, {model}"
            );
            assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted", "{place}");
            if stream {
                check_grammar(&sse(r).await);
            } else {
                let body: Value = r.json().await.expect("json");
                assert_eq!(body["type"], "message");
            }
        }
        assert_eq!(s.cloud_calls(), 0, "{place}: nothing reached a cloud");
    }
    // The same conversation without the values goes to the cloud.
    let r = s.messages(turn(json!({}))).await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(s.claude.chat_count(), 1);
    // And what reached the local model held the tool result as a tool message.
    let sent = s.ollama.last().body;
    assert!(
        sent.to_string().contains("4111"),
        "the local model got it all"
    );
}

#[tokio::test]
async fn reject_policy_answers_a_permission_error() {
    let s = Setup::new("[policy]\non_violation = \"reject\"").await;
    let r = s
        .messages(json!({"model": "claude", "max_tokens": 10,
            "system": format!("Customer: {CARD}"),
            "messages": [{"role": "user", "content": "Summarise."}]}))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(!body.to_string().contains("4111"), "{body}");
    assert_eq!(s.cloud_calls(), 0);
}

#[tokio::test]
async fn redaction_restores_originals_in_anthropic_answers() {
    let s = Setup::new("[policy]\non_violation = \"redact\"").await;
    s.cloud.set_fault(Fault::Echo);
    let text = "Write to jane.doe@example.com about card 4111 1111 1111 1111";
    for stream in [false, true] {
        let r = s
            .messages(
                json!({"model": "frontier", "max_tokens": 100, "stream": stream,
                "messages": [{"role": "user", "content": text}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-airlock-redacted"), "2");
        let answer = if stream {
            let ev = sse(r).await;
            check_grammar(&ev);
            streamed_text(&ev)
        } else {
            let body: Value = r.json().await.expect("json");
            body["content"][0]["text"].as_str().unwrap_or("").to_owned()
        };
        assert_eq!(answer, text, "stream: {stream}");
        let sent = s.cloud.last().body.to_string();
        assert!(
            !sent.contains("4111") && sent.contains("<CREDIT_CARD_1>"),
            "{sent}"
        );
    }
}

#[tokio::test]
async fn a_gemini_backend_answers_in_anthropic_format_too() {
    let gemini = crate::fakes::gemini::gemini(&["gemini-2.5-flash"]).await;
    let app = spawn(&format!(
        r#"
[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "http://{addr}"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gemini-2.5-flash"]

[pools]
gemini = ["gemini/gemini-2.5-flash"]

[[rules]]
name = "default"
pool = "gemini"
"#,
        addr = gemini.addr
    ))
    .await;
    let post = |body: Value| app.http.post(app.url("/v1/messages")).json(&body).send();
    // A tool call, streamed, then its result.
    let first = json!({"model": "gemini", "max_tokens": 100, "stream": true, "tools": weather_tools(),
        "messages": [{"role": "user", "content": "Weather in Paris?"}]});
    let r = post(first).await.expect("request");
    assert_eq!(header(&r, "x-airlock-backend"), "gemini");
    let ev = sse(r).await;
    check_grammar(&ev);
    assert_eq!(streamed_text(&ev), "Let me check.");
    let call = ev
        .iter()
        .find(|(_, v)| v["content_block"]["type"] == "tool_use")
        .map(|(_, v)| v["content_block"].clone())
        .expect("a tool_use block");
    assert_eq!(call["name"], "get_weather");
    let json: String = ev
        .iter()
        .filter_map(|(_, v)| v["delta"]["partial_json"].as_str())
        .collect();
    let input: Value = serde_json::from_str(&json).expect("input");
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "tool_use");
    let second = json!({"model": "gemini", "max_tokens": 100, "tools": weather_tools(),
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": call["id"], "name": "get_weather", "input": input}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"],
                "content": "18C"}]}]});
    let r = post(second).await.expect("request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body["content"],
        json!([{"type": "text", "text": "Tool said: 18C."}])
    );
    assert_eq!(body["stop_reason"], "end_turn");
    // Gemini's safety filter refusing the prompt: a 400 in Anthropic's shape.
    let (status, error) = error_of(post(ask("gemini", "BLOCKME")).await.expect("request")).await;
    assert_eq!(
        (status, error["type"].as_str()),
        (400, Some("invalid_request_error"))
    );
}

async fn error_of(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.expect("json error body");
    assert_eq!(body["type"], "error", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    (status, body["error"].clone())
}
