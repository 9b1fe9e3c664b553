//! Conversation memory shared through a real `redis-server` (installed by
//! `scripts/setup-redis.sh`): replicas agree, and an unreachable Redis
//! fails closed.

use crate::{World, header, spawn};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A throwaway `redis-server` on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    async fn start() -> Redis {
        let port = crate::free_port();
        Redis::start_on(port).await
    }

    async fn start_on(port: u16) -> Redis {
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server not found: run scripts/setup-redis.sh (scripts/test.sh does)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Redis { child, port };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not listen on {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn trimmed_history(answer: &str) -> Value {
    json!({"model": "frontier", "messages": [
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "and what should I do next?"}]})
}

#[tokio::test]
async fn replicas_share_conversation_memory_and_fail_closed_without_redis() {
    let mut redis = Redis::start().await;
    let w = World::new().await;
    let state = format!("[state]\nredis_url = \"{}\"\ntimeout_ms = 200", redis.url());
    let a = spawn(&w.toml(&state)).await;
    let b = spawn(&w.toml(&state)).await;
    let r = a
        .chat(json!({"model": "lm", "messages": [
            {"role": "user", "content": "Refund order 5512 to card 4111 1111 1111 1111 please"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-sensitivity"), "restricted");
    let v: Value = r.json().await.expect("json");
    let answer = v["choices"][0]["message"]["content"]
        .as_str()
        .expect("content")
        .to_owned();
    assert!(
        answer.chars().count() >= 24,
        "the fake's answer is long enough to remember"
    );
    // The write is in the background: wait until replica B sees it.
    let mut doc = Value::Null;
    for _ in 0..100 {
        doc = b.explain(trimmed_history(&answer)).await;
        if doc["sensitivity"]["level"] == "restricted" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(doc["sensitivity"]["level"], "restricted", "{doc}");
    assert_eq!(doc["sensitivity"]["floors"][0]["source"], "memory");
    let r = b.chat(trimmed_history(&answer)).await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 0);
    // A conversation nobody saw before still goes to the cloud.
    let fresh = json!({"model": "frontier", "messages": [
        {"role": "user", "content": "A completely different conversation about gardening tips."}]});
    let r = b.chat(fresh.clone()).await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");
    assert_eq!(w.cloud.chat_count(), 1);

    // Redis goes away: texts memory would check count as unscannable
    // (`confidential` by default), so nothing goes to the public cloud.
    redis.stop();
    let doc = b.explain(fresh.clone()).await;
    assert_eq!(doc["sensitivity"]["level"], "confidential", "{doc}");
    assert_eq!(
        doc["sensitivity"]["floors"][0]["source"],
        "memory_unavailable"
    );
    let r = b.chat(fresh.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-airlock-tier"), "local");
    assert_eq!(w.cloud.chat_count(), 1);
    // Texts too short to remember need no lookup and are not held back.
    let r = b
        .chat(json!({"model": "frontier", "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(header(&r, "x-airlock-tier"), "public_cloud");

    // Redis comes back (empty): the replicas reconnect by themselves.
    let _redis = Redis::start_on(redis.port).await;
    let mut doc = Value::Null;
    for _ in 0..100 {
        doc = b.explain(fresh.clone()).await;
        if doc["sensitivity"]["level"] == "public" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(doc["sensitivity"]["level"], "public", "{doc}");
}

async fn explain_volume(app: &crate::TestApp, text: &str) -> Value {
    app.explain(json!({"model": "auto", "messages": [{"role": "user", "content": text}]}))
        .await["volume"]
        .clone()
}

async fn readyz_redis(app: &crate::TestApp) -> String {
    let v: Value = app
        .http
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    v["state"]["redis"].as_str().unwrap_or("").to_owned()
}

#[tokio::test]
async fn replicas_share_volume_counts_and_fall_back_to_local_ones() {
    let mut redis = Redis::start().await;
    let w = World::new().await;
    // Extraction goes to the cloud until the fleet has seen 3 extraction
    // requests in the hour; then it is busy enough to keep local. (Memory is
    // off here: without Redis it would fail closed, tested above.)
    let extra = format!(
        "[memory]\nenabled = false\n\n[state]\nredis_url = \"{}\"\nsync_ms = 50\ntimeout_ms = 200\n\n\
         [[rules]]\nname = \"busy-extraction\"\nwhen = {{ task = [\"extraction\"], requests_per_hour_at_least = 3 }}\npool = \"local\"\n\n\
         [[rules]]\nname = \"extraction-cloud\"\nwhen = {{ task = [\"extraction\"] }}\npool = \"frontier\"\n",
        redis.url()
    );
    let a = spawn(&w.toml(&extra)).await;
    let b = spawn(&w.toml(&extra)).await;
    let ask = "Extract the product names from this list: apples, pears.";
    for (app, expected) in [(&a, "extraction-cloud"), (&a, "extraction-cloud")] {
        let r = app.chat(crate::user(ask)).await;
        assert_eq!(header(&r, "x-airlock-rule"), expected);
    }
    // B has served nothing, yet sees A's two requests once they are synced.
    let mut volume = Value::Null;
    for _ in 0..100 {
        volume = explain_volume(&b, ask).await;
        if volume["windows"]["1h"]["requests"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(volume["task"], "extraction", "{volume}");
    assert_eq!(volume["windows"]["1h"]["requests"], 2, "{volume}");
    assert!(
        volume["windows"]["30d"]["tokens"].as_u64().unwrap_or(0) > 0,
        "{volume}"
    );
    assert_eq!(volume["redis"], "ok");
    assert_eq!(readyz_redis(&b).await, "ok");
    let r = b.chat(crate::user(ask)).await;
    assert_eq!(
        header(&r, "x-airlock-rule"),
        "extraction-cloud",
        "third request"
    );
    // The fourth, through A, sees three in the fleet: local.
    let mut rule = String::new();
    for _ in 0..100 {
        let doc = a
            .explain(json!({"model": "auto", "messages": [{"role": "user", "content": ask}]}))
            .await;
        rule = doc["rule"].as_str().unwrap_or("").to_owned();
        if rule == "busy-extraction" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rule, "busy-extraction");
    let r = a.chat(crate::user(ask)).await;
    assert_eq!(header(&r, "x-airlock-tier"), "local");

    // Redis goes away: each process routes on its own counts and says so.
    redis.stop();
    let mut state = String::new();
    for _ in 0..100 {
        state = readyz_redis(&b).await;
        if state == "unreachable" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(state, "unreachable");
    let volume = explain_volume(&b, ask).await;
    assert_eq!(volume["redis"], "unreachable");
    assert_eq!(
        volume["windows"]["1h"]["requests"], 1,
        "B's own count: {volume}"
    );
    let r = b.chat(crate::user(ask)).await;
    assert_eq!(r.status(), 200, "no Redis is no reason to fail");
    assert_eq!(header(&r, "x-airlock-rule"), "extraction-cloud");
}

const LIMITED_KEYS: &str = r#"
[[keys]]
name = "team-a"
key_env = "GW_KEY"
requests_per_minute = 3

[[keys]]
name = "vip"
key_env = "VIP_KEY"
"#;

async fn as_key(app: &crate::TestApp, key: &str) -> reqwest::Response {
    app.http
        .post(app.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&crate::user("hi"))
        .send()
        .await
        .expect("send")
}

/// Per-key requests per minute: the fourth request in a minute is a 429
/// with Retry-After; another key is not affected; two replicas sharing a
/// `redis-server` share the budget, and without Redis each counts alone.
#[tokio::test]
async fn rate_limits_per_key_are_shared_by_replicas_through_redis() {
    let mut redis = Redis::start().await;
    let w = World::new().await;
    let state = format!(
        "[state]\nredis_url = \"{}\"\ntimeout_ms = 200\n{LIMITED_KEYS}",
        redis.url()
    );
    let a = spawn(&w.toml(&state)).await;
    let b = spawn(&w.toml(&state)).await;
    let sent_before = w.lmstudio.chat_count();
    // Three between the two replicas...
    for app in [&a, &b, &a] {
        assert_eq!(as_key(app, crate::GW_KEY).await.status(), 200);
    }
    // ...and the fourth is refused by either.
    for app in [&b, &a] {
        let r = as_key(app, crate::GW_KEY).await;
        assert_eq!(r.status(), 429);
        let retry: u64 = header(&r, "retry-after").parse().expect("retry-after");
        assert!((1..=60).contains(&retry), "{retry}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("team-a") && m.contains("3 requests per minute")),
            "{body}"
        );
    }
    assert_eq!(
        w.lmstudio.chat_count(),
        sent_before + 3,
        "refused requests are not sent"
    );
    // The unlimited key goes on.
    assert_eq!(as_key(&b, crate::VIP_KEY).await.status(), 200);

    // Without Redis, a fresh process counts only what it saw itself: it
    // still enforces the limit on its own.
    redis.stop();
    let c = spawn(&w.toml(&format!(
        "[state]\nredis_url = \"{}\"\ntimeout_ms = 100\n{LIMITED_KEYS}",
        redis.url()
    )))
    .await;
    for _ in 0..3 {
        assert_eq!(as_key(&c, crate::GW_KEY).await.status(), 200);
    }
    assert_eq!(as_key(&c, crate::GW_KEY).await.status(), 429);
}

#[tokio::test]
async fn tokens_per_minute_count_prompts_and_answers() {
    let w = World::new().await;
    let keys = "[[keys]]\nname = \"team-a\"\nkey_env = \"GW_KEY\"\ntokens_per_minute = 40\n";
    let app = spawn(&w.toml(keys)).await;
    // The fake answers 5 words with usage; prompts are estimated (4 bytes a
    // token). A few requests use up 40 tokens.
    let mut served = 0;
    for _ in 0..20 {
        match as_key(&app, crate::GW_KEY).await.status().as_u16() {
            200 => served += 1,
            429 => break,
            s => panic!("unexpected {s}"),
        }
    }
    assert!((1..20).contains(&served), "served {served}");
    assert_eq!(as_key(&app, crate::GW_KEY).await.status(), 429);
}
