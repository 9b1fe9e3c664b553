//! The `azure_openai` protocol through the real gateway, against the fake
//! Azure OpenAI resource: what airlock sends (deployment path,
//! `api-version`, `api-key`), and that the application cannot tell Azure
//! answered (no filter fields, no empty first chunk); a content-filter
//! refusal is 400 `content_filter`, a 429 falls back.

use crate::fakes::azure::{self as fake_azure, KEY};
use crate::fakes::{self, Fake};
use crate::streaming::events;
use crate::{TestApp, header, spawn};
use serde_json::{Value, json};

const DEPLOYMENT: &str = "gpt-4o-prod";

struct Setup {
    azure: Fake,
    cloud: Fake,
    app: TestApp,
}

/// One Azure backend (with `backend_extra` lines) serving `version`, and an
/// OpenAI cloud as fallback.
async fn setup(version: &str, backend_extra: &str) -> Setup {
    let azure = fake_azure::azure(version, &[DEPLOYMENT, "embed-prod"]).await;
    let cloud = fakes::openai(&["gpt-4o"]).await;
    let toml = format!(
        r#"
[[backends]]
name = "azure"
protocol = "azure_openai"
base_url = "http://{azure}/"
tier = "private_cloud"
models = ["{DEPLOYMENT}", "embed-prod"]
{backend_extra}

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]

[pools]
azure = ["azure/{DEPLOYMENT}"]
azure-first = ["azure/{DEPLOYMENT}", "cloud/gpt-4o"]
azure-embed = ["azure/embed-prod"]

[[rules]]
name = "default"
pool = "azure"
"#,
        azure = azure.addr,
        cloud = cloud.addr,
    );
    let app = spawn(&toml).await;
    Setup { azure, cloud, app }
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// Requests to the deployments (health probes aside).
fn calls(f: &Fake, endpoint: &str) -> Vec<crate::fakes::Seen> {
    f.seen()
        .into_iter()
        .filter(|s| s.path.contains(&format!("/{endpoint}?")))
        .collect()
}

#[tokio::test]
async fn text_chat_reaches_the_deployment_and_answers_without_azure_fields() {
    let s = setup("2024-10-21", "api_key_env = \"CLOUD_KEY\"").await;
    let r = s.app.chat(chat("azure", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "azure");
    assert_eq!(header(&r, "x-airlock-model"), DEPLOYMENT);
    let text = r.text().await.expect("body");
    assert!(!text.contains("filter_results"), "{text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        body["choices"][0],
        json!({"index": 0, "finish_reason": "stop", "logprobs": null,
               "message": {"role": "assistant", "content": "Hello from the fake Azure.", "refusal": null}})
    );
    assert_eq!(body["usage"]["total_tokens"], 18);

    let sent = calls(&s.azure, "chat/completions");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].path,
        format!("/openai/deployments/{DEPLOYMENT}/chat/completions?api-version=2024-10-21")
    );
    let h = &sent[0].headers;
    assert_eq!(h.get("api-key").and_then(|v| v.to_str().ok()), Some(KEY));
    assert!(
        h.get("authorization").is_none(),
        "the key goes in api-key only"
    );
    assert_eq!(sent[0].body["model"], DEPLOYMENT);
    assert_eq!(sent[0].body["messages"][0]["content"], "Say hello.");
}

#[tokio::test]
async fn streams_lose_azure_fields_and_the_filter_only_first_chunk() {
    let s = setup("2024-10-21", "api_key_env = \"CLOUD_KEY\"").await;
    let mut req = chat("azure", "Stream hello.");
    req["stream"] = json!(true);
    req["stream_options"] = json!({"include_usage": true});
    let r = s.app.chat(req).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let ev = events(r).await;
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    for e in &ev {
        assert!(!e.contains("filter_results"), "{e}");
    }
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("chunk json"))
        .collect();
    // The first chunk the application sees is the assistant's, not Azure's
    // empty one.
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(chunks[0]["id"], "chatcmpl-azure1");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the fake Azure.");
    // The usage chunk (empty choices too) is kept, last.
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["total_tokens"], 18);
    assert_eq!(
        chunks.iter().filter(|c| c["choices"] == json!([])).count(),
        1
    );
}

#[tokio::test]
async fn a_filtered_prompt_is_a_content_filter_error_not_retried() {
    let s = setup("2024-10-21", "api_key_env = \"CLOUD_KEY\"").await;
    for stream in [false, true] {
        let mut req = chat("azure-first", "BLOCKME my secret words.");
        req["stream"] = json!(stream);
        let r = s.app.chat(req).await;
        assert_eq!(r.status(), 400, "stream {stream}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "content_filter");
        let message = body["error"]["message"].as_str().unwrap_or("");
        assert!(message.contains("violence"), "{message}");
        assert!(!message.contains("secret words"), "{message}");
    }
    assert_eq!(calls(&s.azure, "chat/completions").len(), 2);
    assert_eq!(s.cloud.chat_count(), 0, "a refusal is not sent elsewhere");
}

#[tokio::test]
async fn a_rate_limit_falls_back_or_is_relayed_with_its_wait() {
    let s = setup("2024-10-21", "api_key_env = \"CLOUD_KEY\"").await;
    let r = s.app.chat(chat("azure-first", "RATELIMIT please.")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    assert_eq!(s.cloud.chat_count(), 1);
    // Alone: 429 with Azure's wait (retry-after-ms 59.5 s, past
    // `retries.max_wait`, so not waited), rounded up to whole seconds.
    let r = s.app.chat(chat("azure", "RATELIMIT alone.")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "60");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(calls(&s.azure, "chat/completions").len(), 2);
}

#[tokio::test]
async fn a_token_and_a_configured_api_version_reach_embeddings_too() {
    let version = "2025-04-01-preview";
    let s = setup(
        version,
        &format!("token_env = \"CLOUD_KEY\"\napi_version = \"{version}\""),
    )
    .await;
    let r = s.app.chat(chat("azure", "Say hello.")).await;
    assert_eq!(r.status(), 200);
    let r = s
        .app
        .http
        .post(s.app.url("/v1/embeddings"))
        .json(&json!({"model": "azure-embed", "input": "hello"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "azure");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["data"][0]["embedding"], json!([0.1, 0.2, 0.3]));

    let sent = calls(&s.azure, "embeddings");
    assert_eq!(
        sent[0].path,
        format!("/openai/deployments/embed-prod/embeddings?api-version={version}")
    );
    for seen in calls(&s.azure, "chat/completions").iter().chain(&sent) {
        let auth = seen
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        assert_eq!(auth, Some(format!("Bearer {KEY}").as_str()));
        assert!(seen.headers.get("api-key").is_none());
    }
}
