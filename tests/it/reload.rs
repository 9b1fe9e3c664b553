//! Hot reload: `POST /v1/airlock/reload` (an admin key; loopback without
//! keys) and SIGHUP swap in a valid config, refuse a bad one with its
//! errors, and let in-flight requests finish on the config they began with.

use crate::fakes::Fault;
use crate::{World, header, user};
use serde_json::Value;
use std::time::Duration;

const ADMIN: &str = "sk-admin-reload";
const USER: &str = "sk-user-reload";

fn digest(key: &str) -> String {
    airlock::config::key_sha256(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// World's config with the default pool `pool`, an admin and a user key.
fn config(w: &World, pool: &str) -> String {
    let keys = format!(
        "[audit]\nenabled = false\n[[keys]]\nname = \"root\"\nkey_sha256 = \"{}\"\nadmin = true\n[[keys]]\nname = \"app\"\nkey_sha256 = \"{}\"\n",
        digest(ADMIN),
        digest(USER)
    );
    w.toml(&keys).replace(
        "[[rules]]\nname = \"default\"\npool = \"lm\"",
        &format!("[[rules]]\nname = \"default\"\npool = \"{pool}\""),
    )
}

struct Running {
    base: String,
    http: reqwest::Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Running {
    async fn chat(&self, key: &str, text: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(key)
            .json(&user(text))
            .send()
            .await
            .expect("send")
    }

    async fn reload(&self, key: Option<&str>) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}/v1/airlock/reload", self.base));
        if let Some(k) = key {
            rb = rb.bearer_auth(k);
        }
        let r = rb.send().await.expect("send");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

async fn start(path: &std::path::Path) -> Running {
    let mut config = airlock::config::load(path).expect("valid").config;
    config.server.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let app = airlock::App::build(config)
        .await
        .expect("build")
        .with_source(path.to_path_buf());
    let addr = app.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    Running {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
        _stop: tx,
    }
}

#[tokio::test]
async fn an_admin_reloads_a_valid_config_and_a_bad_one_is_refused() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("airlock.toml");
    std::fs::write(&path, config(&w, "lm")).expect("write");
    let gw = start(&path).await;
    let r = gw.chat(USER, "hi").await;
    assert_eq!(header(&r, "x-airlock-backend"), "lmstudio");

    // The default rule now points at ollama.
    std::fs::write(&path, config(&w, "local")).expect("write");
    assert_eq!(gw.reload(None).await.0, 401);
    let (status, body) = gw.reload(Some(USER)).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "admin_key_required");
    assert_eq!(
        header(&gw.chat(USER, "hi").await, "x-airlock-backend"),
        "lmstudio"
    );

    // A slow request that began before the reload ends on the old config.
    w.lmstudio
        .set_fault(Fault::Delay(Duration::from_millis(400)));
    let slow = {
        let gw_base = gw.base.clone();
        let http = gw.http.clone();
        tokio::spawn(async move {
            http.post(format!("{gw_base}/v1/chat/completions"))
                .bearer_auth(USER)
                .json(&user("a slow one"))
                .send()
                .await
                .expect("send")
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = gw.reload(Some(ADMIN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "reloaded");
    let slow = slow.await.expect("join");
    assert_eq!(slow.status(), 200);
    assert_eq!(header(&slow, "x-airlock-backend"), "lmstudio");
    w.lmstudio.set_fault(Fault::None);
    assert_eq!(
        header(&gw.chat(USER, "hi").await, "x-airlock-backend"),
        "ollama"
    );

    // A bad file is refused with its errors; the running config stays.
    std::fs::write(&path, config(&w, "lm") + "\n[bogus]\nx = 1\n").expect("write");
    let (status, body) = gw.reload(Some(ADMIN)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "invalid_config");
    assert!(
        body["issues"].as_array().is_some_and(|i| i
            .iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains("bogus")))),
        "{body}"
    );
    assert_eq!(
        header(&gw.chat(USER, "hi").await, "x-airlock-backend"),
        "ollama"
    );
    // Keys come from the new config too: a removed key stops working.
    std::fs::write(
        &path,
        config(&w, "local").replace(&digest(USER), &digest("sk-someone-else")),
    )
    .expect("write");
    assert_eq!(gw.reload(Some(ADMIN)).await.0, 200);
    assert_eq!(gw.chat(USER, "hi").await.status(), 401);
}

#[tokio::test]
async fn without_keys_a_loopback_client_may_reload() {
    let w = World::new().await;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("airlock.toml");
    std::fs::write(&path, w.toml("[audit]\nenabled = false")).expect("write");
    let gw = start(&path).await;
    let (status, body) = gw.reload(None).await;
    assert_eq!(status, 200, "{body}");
    // The test listens on a port of its own, not the file's: reloading
    // says that only a restart would move it.
    assert_eq!(
        body["restart_required"],
        serde_json::json!(["server.listen"])
    );
}

/// SIGHUP to the binary reloads the file it was started with.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_binary() {
    let w = World::new().await;
    let port = crate::free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("airlock.toml");
    let with_listen = |pool: &str| {
        config(&w, pool).replace(
            "[audit]",
            &format!("[server]\nlisten = \"127.0.0.1:{port}\"\n[audit]"),
        )
    };
    std::fs::write(&path, with_listen("lm")).expect("write");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_airlock"))
        .args(["serve", "--config"])
        .arg(&path)
        .env("CLOUD_KEY", "sk-test")
        .env_remove("AIRLOCK_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let backend = || async {
        http.post(&url)
            .bearer_auth(USER)
            .json(&user("hi"))
            .send()
            .await
            .ok()
            .map(|r| header(&r, "x-airlock-backend").to_owned())
    };
    let mut first = None;
    for _ in 0..100 {
        first = backend().await;
        if first.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::write(&path, with_listen("local")).expect("write");
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill");
    let mut after = None;
    for _ in 0..100 {
        after = backend().await;
        if after.as_deref() == Some("ollama") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(hup.success());
    assert_eq!(first.as_deref(), Some("lmstudio"));
    assert_eq!(after.as_deref(), Some("ollama"));
}
