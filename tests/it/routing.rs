//! Routing through the real gateway: rules, model resolution, the tier
//! filter under fallback, violations and embeddings.

use crate::fakes::{self, Fault};
use crate::{COMPLEX, GW_KEY, VIP_KEY, World, header, spawn, user};
use serde_json::{Value, json};

#[tokio::test]
async fn default_rule_serves_simple_public_requests_locally() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app.chat(user("What is the capital of France?")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "default");
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(header(&r, "x-airlock-model"), "qwen");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "public");
    assert!(!header(&r, "x-airlock-request-id").is_empty());
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(w.lmstudio.last().body["model"], "qwen");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn complexity_rule_sends_hard_tasks_to_frontier() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app.chat(user(COMPLEX)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "complex-to-frontier");
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(w.cloud.chat_count(), 1);
    // The cloud received airlock's key, never the caller's.
    let seen = w.cloud.last();
    assert_eq!(
        seen.headers["authorization"],
        format!("Bearer {}", crate::CLOUD_KEY).as_str()
    );
}

#[tokio::test]
async fn task_rule_matches_code() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(user(
            "Refactor this function:\n```python\ndef add(a, b):\n    return a + b\n```",
        ))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "code-to-frontier");
}

#[tokio::test]
async fn sensitivity_rule_and_tier_filter_keep_pii_local() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    // Complex *and* sensitive: sensitivity wins, it stays local.
    let text = format!("{COMPLEX} Contact me at jane.doe@example.com.");
    let r = app.chat(user(&text)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "sensitive-local");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "confidential");
    assert_eq!(w.cloud.chat_count(), 0);
    assert_eq!(w.ollama.chat_count(), 1);
}

#[tokio::test]
async fn key_rule_and_gateway_keys() {
    let w = World::new().await;
    let keys = r#"
[[keys]]
name = "team-a"
key_env = "GW_KEY"

[[keys]]
name = "vip"
key_env = "VIP_KEY"

[[keys]]
name = "hashed"
key_sha256 = "HASH"
"#;
    // A key stored only as its SHA-256 (here of "sk-hashed-key").
    let hashed = airlock::config::key_sha256(b"sk-hashed-key")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let app = spawn(&w.toml(&keys.replace("HASH", &hashed))).await;
    // No key: 401, nothing sent anywhere.
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_api_key");
    // Wrong key.
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth("nope")
        .json(&user("hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(w.lmstudio.chat_count() + w.cloud.chat_count(), 0);
    // team-a: default rule; vip (via x-api-key): vip rule.
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(GW_KEY)
        .json(&user("hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(header(&r, "x-airlock-rule"), "default");
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .header("x-api-key", VIP_KEY)
        .json(&user("hi"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "vip");
    // The hashed key authenticates with the key itself, not its hash.
    let send = |key: &str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&user("hi"))
            .send()
    };
    assert_eq!(send("sk-hashed-key").await.expect("send").status(), 200);
    assert_eq!(send(&hashed).await.expect("send").status(), 401);
    // The gateway key never reaches a backend.
    for s in w.cloud.seen().iter().chain(w.lmstudio.seen().iter()) {
        let auth = s
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(!auth.contains(GW_KEY) && !auth.contains(VIP_KEY));
        assert!(s.headers.get("x-api-key").is_none());
    }
}

#[tokio::test]
async fn model_resolution() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let ask =
        |model: &str| json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    // Pool name.
    let r = app.chat(ask("frontier")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-rule"), "explicit");
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    // backend/model.
    let r = app.chat(ask("cloud/gpt-4o-mini")).await;
    assert_eq!(header(&r, "x-airlock-model"), "gpt-4o-mini");
    assert_eq!(w.cloud.last().body["model"], "gpt-4o-mini");
    // Bare model served by one backend.
    let r = app.chat(ask("llama3.1:8b")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    // Served by two: 400 that says so.
    let r = app.chat(ask("shared")).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(body["error"]["param"], "model");
    // Unknown: 404.
    for m in ["nope", "cloud/nope", "nobackend/x"] {
        let r = app.chat(ask(m)).await;
        assert_eq!(r.status(), 404, "{m}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "model_not_found");
    }
}

#[tokio::test]
async fn restricted_request_with_local_down_fails_closed() {
    let w = World::new().await;
    let down = fakes::closed_port().await;
    // lmstudio (also local) is removed from play: only ollama serves the local pool.
    let app = spawn(&w.toml_with(down, "")).await;
    let r = app
        .chat(json!({"model": "auto", "messages": [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": format!("{COMPLEX} my card is 4111 1111 1111 1111, mail jane@example.com")}
        ]}))
        .await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "no_eligible_backend");
    // The cloud never saw a prompt.
    assert_eq!(w.cloud.chat_count(), 0);
    assert!(
        w.cloud.seen().iter().all(|s| s.body.is_null()),
        "only body-less health probes may reach the cloud"
    );
}

#[tokio::test]
async fn down_backend_falls_back_within_the_pool() {
    let w = World::new().await;
    let down = fakes::closed_port().await;
    let extra = "";
    let toml = w.toml_with(down, extra).replace(
        "local = [\"ollama/llama3.1:8b\"]",
        "local = [\"ollama/llama3.1:8b\", \"lmstudio/qwen\"]",
    );
    let app = spawn(&toml).await;
    let r = app.chat(user("mail jane@example.com please")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn upstream_5xx_falls_back_but_4xx_is_relayed() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "lm = [\"lmstudio/qwen\"]",
        "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
    );
    let app = spawn(&toml).await;
    w.lmstudio.set_fault(Fault::Status(503));
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    // lmstudio is now known down, so `auto` tries ollama first; ask for it by name.
    w.lmstudio.set_fault(Fault::Status(400));
    let r = app
        .chat(json!({"model": "lmstudio/qwen", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["message"], "fake upstream error 400");
}

#[tokio::test]
async fn all_backends_failing_is_502_and_timeouts_504() {
    let w = World::new().await;
    let app = spawn(&w.toml("[timeouts]\nfirst_byte_ms = 300")).await;
    w.lmstudio.set_fault(Fault::Status(500));
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "upstream_error");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("fake upstream")
    );
    w.lmstudio
        .set_fault(Fault::Delay(std::time::Duration::from_secs(2)));
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 504);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "upstream_timeout");
    w.lmstudio.set_fault(Fault::Garbage);
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 502);
}

#[tokio::test]
async fn violation_reroutes_by_default() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(json!({"model": "cloud/gpt-4o", "messages": [
            {"role": "user", "content": "my email is jane@example.com"}]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(header(&r, "x-airlock-rule"), "sensitive-local");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn violation_rejects_when_configured() {
    let w = World::new().await;
    let app = spawn(&w.toml("[policy]\non_violation = \"reject\"")).await;
    let r = app
        .chat(json!({"model": "frontier", "messages": [
            {"role": "user", "content": "my email is jane@example.com"}]}))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(header(&r, "x-airlock-sensitivity"), "confidential");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "sensitivity_policy_violation");
    assert_eq!(body["error"]["type"], "permission_error");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn caller_can_raise_never_lower_the_level() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let send = |level: &'static str, text: &'static str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .header("x-airlock-min-sensitivity", level)
            .json(&json!({"model": "frontier", "messages": [{"role": "user", "content": text}]}))
            .send()
    };
    let r = send("restricted", "hello").await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    let r = send("public", "mail jane@example.com").await.expect("send");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "confidential");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
    let r = send("top-secret", "hi").await.expect("send");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn history_and_tool_results_are_scanned() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(json!({"model": "frontier", "messages": [
            {"role": "user", "content": "look up the customer"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "lookup", "arguments": "{\"id\": 7}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "{\"email\": \"bob@corp.example.com\"}"},
            {"role": "user", "content": "summarize it"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    let r = app
        .chat(json!({"model": "frontier", "messages": [
            {"role": "user", "content": "send it"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "send", "arguments": "{\"to\": \"eve@corp.example.com\"}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn images_count_as_the_unscannable_level_and_need_a_vision_model() {
    let w = World::new().await;
    let image = json!({"model": "frontier", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]});
    // By default local models take text only: the image may not leave and
    // no local model can read it, so the request fails closed.
    let app = spawn(&w.toml("")).await;
    let doc = app.explain(image.clone()).await;
    assert_eq!(doc["sensitivity"]["level"], "confidential");
    assert_eq!(doc["decision"], Value::Null, "{doc}");
    let r = app.chat(image.clone()).await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("images"),
        "{body}"
    );
    assert_eq!(w.cloud.chat_count(), 0);
    // Declared as a vision model, the local model serves it.
    let vision = w.toml("").replace(
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]",
        "models = [\"llama3.1:8b\", \"nomic-embed-text\", \"shared\"]\ncapabilities.\"llama3.1:8b\" = { modalities = [\"text\", \"image\"] }",
    );
    let app = spawn(&vision).await;
    let doc = app.explain(image).await;
    assert_eq!(doc["decision"]["tier"], "local", "{doc}");
    assert_eq!(doc["decision"]["model"], "llama3.1:8b");
}

#[tokio::test]
async fn context_window_tools_and_json_schema_are_hard_limits() {
    let w = World::new().await;
    let limits = w.toml("").replace(
        "models = [\"qwen\", \"shared\"]",
        "models = [\"qwen\", \"shared\"]\ncontext_window = 4096\ntools = false",
    );
    let app = spawn(&limits).await;
    let ask = |extra: Value| {
        let mut body =
            json!({"model": "lmstudio/qwen", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        app.chat(body)
    };
    for (extra, param) in [
        (json!({"max_tokens": 5000}), "max_tokens"),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}),
            "tools",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}}),
            "response_format",
        ),
    ] {
        let r = ask(extra.clone()).await;
        assert_eq!(r.status(), 400, "{extra}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "unsupported_parameter", "{body}");
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    assert_eq!(w.lmstudio.chat_count(), 0);
    let r = ask(json!({"max_tokens": 1000})).await;
    assert_eq!(r.status(), 200, "within the window");
    // With `auto`, a rule whose pool cannot take the request is passed
    // over: the default pool (qwen, 4096 tokens) cannot take 5000, so the
    // request fails rather than being truncated.
    let doc = app
        .explain(json!({"model": "auto", "max_tokens": 5000, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(doc["decision"], Value::Null, "{doc}");
    let why = doc["error"]["message"].as_str().unwrap_or("");
    assert!(
        why.contains("default: no model that can take the request"),
        "{doc}"
    );
}

#[tokio::test]
async fn embeddings_use_the_embeddings_pool_and_are_never_rerouted() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let post = |body: Value| app.http.post(app.url("/v1/embeddings")).json(&body).send();
    let r = post(json!({"model": "auto", "input": ["a", "b"]}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["object"], "list");
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(body["data"][1]["index"], 1);
    // Public text to a cloud embedding model is fine.
    let r = post(json!({"model": "cloud-embed", "input": "hello"}))
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    // Sensitive text to it is a 403, not a reroute.
    let before = w.cloud.embed_count();
    let r = post(json!({"model": "cloud/text-embedding-3-small", "input": "jane@example.com"}))
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "sensitivity_policy_violation");
    // Health probes may reach the fake meanwhile; embeddings must not.
    assert_eq!(w.cloud.embed_count(), before);
}

impl crate::TestApp {
    pub async fn explain(&self, body: Value) -> Value {
        let r = self
            .http
            .post(self.url("/v1/airlock/explain"))
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }
}

#[tokio::test]
async fn explain_shows_the_decision_without_sending() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let text = "Hi, I'm Jane, mail me at jane@example.com";
    let doc = app
        .explain(json!({"model": "auto", "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": text}]}))
        .await;
    assert_eq!(doc["sensitivity"]["level"], "confidential");
    let findings = doc["sensitivity"]["findings"].as_array().expect("findings");
    assert!(
        findings.iter().all(|f| f["kind"] != "person"),
        "names are off by default: {doc}"
    );
    let f = findings
        .iter()
        .find(|f| f["kind"] == "email")
        .expect("email finding");
    assert_eq!(f["category"], "pii");
    assert_eq!(f["message"], 1);
    assert!(f["part"].is_null());
    let (s, e) = (
        f["start"].as_u64().expect("start") as usize,
        f["end"].as_u64().expect("end") as usize,
    );
    assert_eq!(&text[s..e], "jane@example.com");
    assert!(
        !doc.to_string().contains("jane@example.com"),
        "explain never echoes matched text"
    );
    assert!(doc["complexity"]["score"].as_f64().is_some());
    assert!(doc["complexity"]["task"].is_string());
    assert!(doc["complexity"]["features"].is_array());
    assert_eq!(doc["rule"], "sensitive-local");
    assert_eq!(doc["pool"], "local");
    assert_eq!(doc["allowed_tiers"], json!(["local", "private_cloud"]));
    assert_eq!(doc["decision"]["backend"], "ollama");
    assert_eq!(
        w.ollama.chat_count() + w.cloud.chat_count() + w.lmstudio.chat_count(),
        0
    );

    let doc = app
        .explain(json!({"model": "nope", "messages": [{"role": "user", "content": "x"}]}))
        .await;
    assert_eq!(doc["error"]["code"], "model_not_found");
    assert!(doc["decision"].is_null());
}

#[tokio::test]
async fn evasion_does_not_get_data_out() {
    use base64::Engine;
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let encoded = base64::engine::general_purpose::STANDARD.encode("card 4111 1111 1111 1111");
    for text in [
        "card ４１１１ １１１１ １１１１ １１１１".to_owned(),
        "mail jane\u{200B}@example.com".to_owned(),
        "user=jane%40example.com".to_owned(),
        format!("blob {encoded}"),
        "card 4111.1111.1111.1111".to_owned(),
    ] {
        let r = app
            .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": text}]}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-airlock-tier"), "local", "{text}");
        assert_ne!(header(&r, "x-airlock-sensitivity"), "public", "{text}");
    }
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn custom_detectors_and_kind_levels_route() {
    let w = World::new().await;
    let extra = r#"
[policy.kinds]
email = "internal"

[[detectors.custom]]
name = "codenames"
level = "restricted"
keywords = ["Project Bluebird"]
"#;
    let app = spawn(&w.toml(extra)).await;
    // An email is only `internal` here: the cloud may have it.
    let r = app
        .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": "mail a@example.com"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "internal");
    let r = app
        .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": "status of project bluebird?"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    let doc = app
        .explain(
            json!({"model": "auto", "messages": [{"role": "user", "content": "project bluebird"}]}),
        )
        .await;
    assert_eq!(doc["sensitivity"]["findings"][0]["kind"], "codenames");
    assert_eq!(doc["sensitivity"]["findings"][0]["category"], "custom");
}

#[tokio::test]
async fn resent_history_of_a_sensitive_exchange_stays_sensitive() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let first = "Please file the refund for order 5512, card 4111 1111 1111 1111";
    let follow = "Thanks, now summarise what we agreed in a few lines";
    let r = app
        .chat(json!({"model": "lm", "messages": [
            {"role": "user", "content": first},
            {"role": "assistant", "content": "Noted, I will file it today for you."},
            {"role": "user", "content": follow}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    let completion: Value = r.json().await.expect("json");
    let answer = completion["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned();
    // The client trims the card message from the front and asks the cloud.
    for history in [
        vec![
            json!({"role": "user", "content": follow}),
            json!({"role": "assistant", "content": answer}),
            json!({"role": "user", "content": "ok"}),
        ],
        vec![
            json!({"role": "assistant", "content": "Noted, I will file it today for you."}),
            json!({"role": "user", "content": "and then?"}),
        ],
    ] {
        let body = json!({"model": "frontier", "messages": history});
        let doc = app.explain(body.clone()).await;
        assert_eq!(doc["sensitivity"]["level"], "restricted", "{doc}");
        assert_eq!(doc["sensitivity"]["floors"][0]["source"], "memory");
        let r = app.chat(body).await;
        assert_eq!(header(&r, "x-airlock-tier"), "local");
    }
    assert_eq!(w.cloud.chat_count(), 0);
    // An unrelated conversation with short, common turns is not tainted.
    let r = app
        .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": "ok"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
}

#[tokio::test]
async fn redaction_sends_placeholders_and_restores_answers() {
    let w = World::new().await;
    let app =
        spawn(&w.toml("[policy]\non_violation = \"redact\"\nnever_redact = [\"private_key\"]"))
            .await;
    w.cloud.set_fault(Fault::Echo);
    let text =
        "Write to jane.doe@example.com about card 4111 1111 1111 1111, cc jane.doe@example.com";
    let doc = app
        .explain(json!({"model": "frontier", "messages": [{"role": "user", "content": text}]}))
        .await;
    assert_eq!(doc["redact"], true, "{doc}");
    for stream in [false, true] {
        let r = app
            .chat(json!({"model": "frontier", "stream": stream,
                "messages": [{"role": "user", "content": text}]}))
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
        assert_eq!(header(&r, "x-airlock-redacted"), "2");
        assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
        let answer = if stream {
            let body = r.text().await.expect("body");
            body.split("\n\n")
                .filter_map(|e| e.strip_prefix("data: "))
                .filter(|d| *d != "[DONE]")
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .filter_map(|v| {
                    v["choices"][0]["delta"]["content"]
                        .as_str()
                        .map(str::to_owned)
                })
                .collect::<String>()
        } else {
            let v: Value = r.json().await.expect("json");
            v["choices"][0]["message"]["content"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        assert_eq!(answer, text, "originals restored (stream: {stream})");
        let sent = w.cloud.last().body.to_string();
        assert!(
            !sent.contains("jane.doe") && !sent.contains("4111"),
            "{sent}"
        );
        assert!(
            sent.contains("<EMAIL_1>") && sent.contains("<CREDIT_CARD_1>"),
            "{sent}"
        );
    }
    // A kind the operator never redacts keeps the request local.
    let r = app
        .chat(json!({"model": "frontier", "messages": [{"role": "user",
            "content": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n and jane@example.com"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert!(r.headers().get("x-airlock-redacted").is_none());
}

#[tokio::test]
async fn streamed_completions_of_sensitive_exchanges_are_remembered() {
    let w = World::new().await;
    let app = spawn(&w.toml("")).await;
    let r = app
        .chat(json!({"model": "lm", "stream": true, "messages": [
            {"role": "user", "content": "my card is 4111 1111 1111 1111"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    let _ = r.text().await.expect("stream read to the end");
    // The streamed answer, resent without the card, keeps the level.
    let body = json!({"model": "frontier", "messages": [
        {"role": "assistant", "content": "Hello from the fake upstream."},
        {"role": "user", "content": "go on"}]});
    let doc = app.explain(body.clone()).await;
    assert_eq!(doc["sensitivity"]["level"], "restricted", "{doc}");
    let r = app.chat(body).await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
}

#[tokio::test]
async fn names_and_addresses_when_turned_on() {
    let w = World::new().await;
    let app = spawn(&w.toml("[detectors]\nnames = true")).await;
    let doc = app
        .explain(json!({"model": "frontier", "messages": [{"role": "user",
            "content": "Dear Maria Gonzalez, how are you?"}]}))
        .await;
    assert_eq!(doc["sensitivity"]["findings"][0]["kind"], "person", "{doc}");
    // A name alone is `internal` by default: the cloud may have it.
    assert_eq!(doc["sensitivity"]["level"], "internal");
    assert_eq!(doc["decision"]["tier"], "public_cloud");
    let doc = app
        .explain(json!({"model": "frontier", "messages": [{"role": "user",
            "content": "Ship it to 1600 Pennsylvania Avenue NW, Washington, DC 20500"}]}))
        .await;
    let kinds: Vec<&str> = doc["sensitivity"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"street_address"), "{doc}");
    assert_eq!(doc["decision"]["tier"], "local");
}

#[tokio::test]
async fn privilege_and_proprietary_code_markers_keep_requests_local() {
    let w = World::new().await;
    // Redaction on: these markers are never redacted (replacing the marker
    // would leave the privileged text or the code), so they stay local.
    let extra = "[policy]\non_violation = \"redact\"\n\n[detectors]\ncode_markers = [\"git.acme.internal\", \"com.acme.\"]";
    let app = spawn(&w.toml(extra)).await;
    let privileged =
        "PRIVILEGED & CONFIDENTIAL\nSummarise our litigation strategy memo in three bullet points.";
    let code =
        "Refactor this:\n```java\npackage com.acme.billing;\nclass Ledger { int total; }\n```";
    for (text, kind, level) in [
        (privileged, "legal_privilege", "confidential"),
        (code, "proprietary_code", "restricted"),
    ] {
        let body = json!({"model": "frontier", "messages": [{"role": "user", "content": text}]});
        let doc = app.explain(body.clone()).await;
        assert_eq!(doc["sensitivity"]["findings"][0]["kind"], kind, "{doc}");
        assert_eq!(doc["sensitivity"]["level"], level, "{doc}");
        assert_eq!(doc["redact"], false, "{doc}");
        let r = app.chat(body).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-airlock-tier"), "local");
        assert!(r.headers().get("x-airlock-redacted").is_none());
    }
    // The same code without the operator's marker may go to the cloud.
    let open = code.replace("com.acme.", "org.example.");
    let r = app
        .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": open}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(w.cloud.chat_count(), 1);
    assert!(!w.cloud.last().body.to_string().contains("acme"));
}

#[tokio::test]
async fn phi_stays_local_and_redaction_removes_the_identifiers_not_the_terms() {
    let w = World::new().await;
    let record = "Summarise: patient born 1962-03-14, MRN: 99812233, type 2 diabetes on metformin, HbA1c 8.1%.";
    let body = json!({"model": "frontier", "messages": [{"role": "user", "content": record}]});
    let app = spawn(&w.toml("")).await;
    let doc = app.explain(body.clone()).await;
    assert_eq!(doc["sensitivity"]["level"], "restricted", "{doc}");
    let cats: Vec<&str> = doc["sensitivity"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["category"].as_str())
        .collect();
    assert!(cats.iter().filter(|c| **c == "phi").count() >= 3, "{doc}");
    let r = app.chat(body.clone()).await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    // The same question without the identifiers is a public question.
    let general = json!({"model": "frontier", "messages": [{"role": "user",
        "content": "How is type 2 diabetes on metformin usually followed up when HbA1c is 8.1%?"}]});
    let r = app.chat(general).await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(header(&r, "x-airlock-sensitivity"), "public");
    // Redaction replaces the identifiers and keeps the medical terms, which
    // are no longer about anyone.
    let app = spawn(&w.toml("[policy]\non_violation = \"redact\"")).await;
    w.cloud.set_fault(Fault::Echo);
    let r = app.chat(body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    let sent = w.cloud.last().body.to_string();
    assert!(
        !sent.contains("1962") && !sent.contains("99812233"),
        "{sent}"
    );
    assert!(
        sent.contains("metformin") && sent.contains("diabetes"),
        "{sent}"
    );
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["choices"][0]["message"]["content"], record, "restored");
}

#[tokio::test]
async fn offline_fallback_serves_cleared_traffic_locally_when_the_cloud_is_down() {
    let w = World::new().await;
    let gone = fakes::closed_port().await;
    let toml = |extra: &str| {
        w.toml(extra)
            .replace(&w.cloud.addr.to_string(), &gone.to_string())
    };
    for (extra, fallback) in [
        (
            "[policy]\noffline_fallback = true\noffline_pool = \"lm\"",
            true,
        ),
        ("", false),
    ] {
        let app = spawn(&toml(extra)).await;
        // Once the cloud is known to be down (a failed call or a health
        // probe marks it), the fallback serves complex requests locally.
        let mut served = None;
        for _ in 0..3 {
            let r = app.chat(user(COMPLEX)).await;
            if r.status() == 200 {
                served = Some(r);
                break;
            }
            assert!(r.status().is_server_error(), "{extra}: {}", r.status());
        }
        if fallback {
            let r = served.expect("served by the fallback");
            assert_eq!(header(&r, "x-airlock-tier"), "local");
            assert_eq!(header(&r, "x-airlock-offline-fallback"), "true");
            assert_eq!(header(&r, "x-airlock-rule"), "complex-to-frontier");
        } else {
            assert!(served.is_none(), "no fallback without the setting");
        }
    }
}

#[tokio::test]
async fn spent_budgets_downgrade_or_reject_cloud_requests() {
    let w = World::new().await;
    let priced = |budgets: &str| {
        w.toml(budgets).replace(
            "models = [\"gpt-4o\", \"gpt-4o-mini\", \"text-embedding-3-small\"]",
            "models = [\"gpt-4o\", \"gpt-4o-mini\", \"text-embedding-3-small\"]\nprices.\"gpt-4o\" = { input = 2.5, output = 10.0 }",
        )
    };
    // One cloud answer (9 prompt + 5 completion tokens = 72.5 µUSD) spends
    // a budget of 50 µUSD.
    for on_exceeded in ["downgrade", "reject"] {
        let app = spawn(&priced(&format!(
            "[budgets]\nmonthly_usd = 0.00005\non_exceeded = \"{on_exceeded}\""
        )))
        .await;
        let r = app.chat(user(COMPLEX)).await;
        assert_eq!(
            header(&r, "x-airlock-tier"),
            "public_cloud",
            "{on_exceeded}"
        );
        let _ = r.bytes().await;
        let doc = app.explain(user(COMPLEX)).await;
        assert_eq!(doc["budget"]["exceeded"], true, "{doc}");
        assert!(
            doc["budget"]["global_spent_usd"].as_f64().unwrap_or(0.0) > 0.00007,
            "{doc}"
        );
        let r = app.chat(user(COMPLEX)).await;
        if on_exceeded == "downgrade" {
            assert_eq!(r.status(), 200);
            assert_eq!(header(&r, "x-airlock-tier"), "local");
            assert_eq!(header(&r, "x-airlock-budget"), "downgraded");
        } else {
            assert_eq!(r.status(), 429);
            let body: Value = r.json().await.expect("json");
            assert_eq!(body["error"]["code"], "insufficient_quota", "{body}");
            assert_eq!(body["error"]["type"], "insufficient_quota", "{body}");
        }
        // Local traffic is not a cloud cost: still served as before.
        let r = app.chat(user("What is the capital of France?")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-airlock-tier"), "local");
    }
    assert_eq!(
        w.cloud.chat_count(),
        2,
        "one cloud call per app, none past the budget"
    );
    // A key's own budget works the same way, for that key only.
    let keys = "[[keys]]\nname = \"team-a\"\nkey_env = \"GW_KEY\"\nmonthly_budget_usd = 0.00005\n\n\
         [[keys]]\nname = \"vip\"\nkey_env = \"VIP_KEY\"\n";
    let app = spawn(&priced(keys)).await;
    let as_key = |key: &'static str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "frontier", "messages": [{"role": "user", "content": "Hello there"}]}))
            .send()
    };
    let r = as_key(GW_KEY).await.expect("send");
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    let _ = r.bytes().await;
    let r = as_key(GW_KEY).await.expect("send");
    assert_eq!(header(&r, "x-airlock-budget"), "downgraded");
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    let r = as_key(VIP_KEY).await.expect("send");
    assert_eq!(
        header(&r, "x-airlock-tier"),
        "public_cloud",
        "other keys unaffected"
    );
}

#[tokio::test]
async fn conversations_stick_and_latency_budgets_prefer_fast_backends() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "[pools]",
        "[pools]\nboth = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]",
    );
    let app = spawn(&toml).await;
    let turn = |first: &str, more: &[&str]| {
        let mut messages = vec![json!({"role": "user", "content": first})];
        for m in more {
            messages.push(json!({"role": "assistant", "content": "noted"}));
            messages.push(json!({"role": "user", "content": m}));
        }
        json!({"model": "both", "messages": messages})
    };
    // The conversation starts on Ollama (asked for by name)...
    let mut first = turn("plan a trip to Lisbon", &[]);
    first["model"] = json!("ollama/llama3.1:8b");
    let r = app.chat(first).await;
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    // ...and its later turns through the pool go back to Ollama, where its
    // prompt is cached, although LM Studio is first in the pool.
    let r = app
        .chat(turn("plan a trip to Lisbon", &["and Porto?"]))
        .await;
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    // Another conversation takes the pool's order.
    let r = app.chat(turn("write a haiku about rain", &[])).await;
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");

    // Latency: LM Studio becomes slow; with a budget of 150 ms, the
    // measured-fast Ollama is tried first.
    w.lmstudio
        .set_fault(Fault::Delay(std::time::Duration::from_millis(300)));
    let r = app.chat(turn("a slow one", &[])).await;
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    let fast = |budget: &'static str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .header("x-airlock-max-latency-ms", budget)
            .json(&turn("something new", &[]))
            .send()
    };
    for _ in 0..8 {
        // Enough slow samples that LM Studio's average is well over 150 ms.
        let _ = app.chat(turn("another slow one", &[])).await;
    }
    let r = fast("150").await.expect("send");
    assert_eq!(header(&r, "x-airlock-backend"), "ollama");
    let r = fast("soon").await.expect("send");
    assert_eq!(r.status(), 400);
}

/// Before anything reaches the client, a failing backend is tried again
/// after a backoff (5xx) or the wait it asked for (429 `retry-after-ms`),
/// and only then the next one; a wait longer than `retries.max_wait` is
/// not waited. Retries never leave the pool the decision allowed.
#[tokio::test]
async fn failures_are_retried_on_the_same_backend_before_falling_back() {
    let w = World::new().await;
    let app = spawn(&w.toml("[retries]\nattempts = 3\nbackoff_ms = 10\nmax_wait_ms = 500")).await;
    let fail = |status, times, retry_after_ms| Fault::FailTimes {
        status,
        times,
        retry_after_ms,
    };
    // Two 503s, then an answer: served by the same backend on the third try.
    w.lmstudio.set_fault(fail(503, 2, None));
    let r = app.chat(user("hi")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    assert_eq!(w.lmstudio.chat_count(), 3);
    // A 429 asking for 50 ms is waited out, then served.
    w.lmstudio.set_fault(fail(429, 1, Some(50)));
    let r = app.chat(user("hi again")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(w.lmstudio.chat_count(), 5);
    // Asking for longer than max_wait: not retried; alone in its pool, the
    // caller gets OpenAI's 429 with the wait, in whole seconds.
    w.lmstudio.set_fault(fail(429, 5, Some(60_000)));
    let r = app.chat(user("and again")).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "60");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    assert_eq!(w.lmstudio.chat_count(), 6);
    // A caller error (400) is never retried.
    w.lmstudio.set_fault(fail(400, 5, None));
    let r = app.chat(user("bad")).await;
    assert_eq!(r.status(), 400);
    assert_eq!(w.lmstudio.chat_count(), 7);
    // Nothing left the allowed tier on the way.
    assert_eq!(w.cloud.chat_count(), 0);
}

/// A gateway key's `max_tier` caps where its requests go, whatever their
/// level: public text asked of a cloud model stays local for a key capped
/// at `local` (rerouted, or refused under `on_violation = "reject"`), while
/// an uncapped key reaches the cloud.
#[tokio::test]
async fn a_key_max_tier_caps_where_its_requests_go() {
    let w = World::new().await;
    let keys = r#"
[[keys]]
name = "team-a"
key_env = "GW_KEY"
max_tier = "local"

[[keys]]
name = "vip"
key_env = "VIP_KEY"
"#;
    let app = spawn(&w.toml(keys)).await;
    let ask = |key: &'static str| {
        app.http
            .post(app.url("/v1/chat/completions"))
            .bearer_auth(key)
            .json(&json!({"model": "cloud/gpt-4o", "messages": [
                {"role": "user", "content": "What is the capital of France?"}]}))
            .send()
    };
    let r = ask(crate::GW_KEY).await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
    let r = ask(crate::VIP_KEY).await.expect("send");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(w.cloud.chat_count(), 1);
    // Under `reject`, the capped key is refused rather than rerouted.
    let app = spawn(&w.toml(&format!("[policy]\non_violation = \"reject\"\n{keys}"))).await;
    let r = app
        .http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(crate::GW_KEY)
        .json(&json!({"model": "cloud/gpt-4o", "messages": [
            {"role": "user", "content": "What is the capital of France?"}]}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    assert_eq!(w.cloud.chat_count(), 1);
}

/// Per-backend quirks: extra headers on every call and fields a server
/// would refuse left out; everything else goes as the caller sent it.
#[tokio::test]
async fn backend_headers_are_sent_and_drop_fields_are_left_out() {
    let w = World::new().await;
    let toml = w.toml("").replace(
        "models = [\"qwen\", \"shared\"]",
        "models = [\"qwen\", \"shared\"]\nheaders = { \"HTTP-Referer\" = \"https://app.example\", \"X-Title\" = \"airlock\" }\ndrop_fields = [\"user\", \"stream_options\"]",
    );
    let app = spawn(&toml).await;
    let r = app
        .chat(json!({
            "model": "auto", "user": "u-1", "temperature": 0.2, "stream": true,
            "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "hi"}]
        }))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");
    let _ = r.text().await;
    let sent = w.lmstudio.last();
    assert_eq!(sent.headers["http-referer"], "https://app.example");
    assert_eq!(sent.headers["x-title"], "airlock");
    assert!(sent.body.get("user").is_none(), "{}", sent.body);
    assert!(sent.body.get("stream_options").is_none(), "{}", sent.body);
    assert_eq!(sent.body["temperature"], json!(0.2));
    assert_eq!(sent.body["stream"], json!(true));
    // Other backends get neither.
    let r = app.chat(user(COMPLEX)).await;
    assert_eq!(header(&r, "x-airlock-backend"), "cloud");
    assert!(w.cloud.last().headers.get("x-title").is_none());
}
