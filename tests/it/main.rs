//! Gateway tests: the real `App` on 127.0.0.1:0 against in-process fake
//! upstreams speaking the OpenAI, Ollama, Anthropic, Gemini, Azure OpenAI and
//! Bedrock protocols (`tests/fakes/`, shared with the `fake_providers`
//! example). No fixed ports.

mod anthropic;
mod audit;
mod azure;
mod bedrock;
mod cli;
mod default_policy;
mod egress;
#[path = "../fakes/mod.rs"]
mod fakes;
mod faults;
mod gemini;
mod messages;
mod observe;
mod ollama;
mod property;
mod redis;
mod reload;
mod report;
mod resilience;
mod routing;
mod streaming;
mod surface;

use fakes::Fake;
use std::net::SocketAddr;
use tokio::sync::oneshot;

pub const CLOUD_KEY: &str = fakes::KEY;
pub const GW_KEY: &str = "gw-key-team-a";
pub const VIP_KEY: &str = "gw-key-vip";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn chat(&self, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(self.url("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .expect("request")
    }
}

fn env(var: &str) -> Option<String> {
    match var {
        "CLOUD_KEY" => Some(CLOUD_KEY.into()),
        "GW_KEY" => Some(GW_KEY.into()),
        "VIP_KEY" => Some(VIP_KEY.into()),
        "AWS_ACCESS_KEY_ID" => Some(fakes::bedrock::ACCESS_KEY_ID.into()),
        "AWS_SECRET_ACCESS_KEY" => Some(fakes::bedrock::SECRET.into()),
        "AWS_SESSION_TOKEN" => Some(fakes::bedrock::SESSION_TOKEN.into()),
        "WRONG_AWS_SECRET" => Some("not-the-secret".into()),
        _ => None,
    }
}

/// Starts the gateway on an ephemeral port with `toml` (its `listen` is replaced).
pub async fn spawn(toml: &str) -> TestApp {
    spawn_with_sinks(toml, Vec::new()).await
}

/// As `spawn`, with extra consumers of the per-request records.
pub async fn spawn_with_sinks(
    toml: &str,
    sinks: Vec<std::sync::Arc<dyn airlock::observe::Sink>>,
) -> TestApp {
    let loaded = airlock::config::from_toml_str(toml, &env)
        .unwrap_or_else(|e| panic!("test config invalid: {e:#?}"));
    let mut config = loaded.config;
    config.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    // No audit database unless the test asks for one.
    if !toml.contains("[audit]") {
        config.audit.enabled = false;
    }
    let app = airlock::App::build_with_sinks(config, sinks)
        .await
        .expect("build");
    let addr = app.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        stop: Some(tx),
    }
}

/// The usual topology: Ollama and an OpenAI-protocol server as local, a cloud.
pub struct World {
    pub ollama: Fake,
    pub lmstudio: Fake,
    pub cloud: Fake,
}

impl World {
    pub async fn new() -> World {
        World {
            ollama: fakes::ollama(&["llama3.1:8b", "nomic-embed-text"]).await,
            lmstudio: fakes::openai(&["qwen"]).await,
            cloud: fakes::openai(&["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]).await,
        }
    }

    pub fn toml(&self, extra: &str) -> String {
        self.toml_with(self.ollama.addr, extra)
    }

    /// The config with Ollama at `ollama` (e.g. a closed port).
    pub fn toml_with(&self, ollama: SocketAddr, extra: &str) -> String {
        format!(
            r#"
{extra}

[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://{ollama}"
tier = "local"
models = ["llama3.1:8b", "nomic-embed-text", "shared"]

[[backends]]
name = "lmstudio"
protocol = "openai"
base_url = "http://{lm}/v1"
tier = "local"
models = ["qwen", "shared"]

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://{cloud}/v1"
api_key_env = "CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]

[pools]
local = ["ollama/llama3.1:8b"]
lm = ["lmstudio/qwen"]
frontier = ["cloud/gpt-4o"]
embeddings = ["ollama/nomic-embed-text"]
cloud-embed = ["cloud/text-embedding-3-small"]

[[rules]]
name = "sensitive-local"
when = {{ sensitivity_at_least = "confidential" }}
pool = "local"

[[rules]]
name = "code-to-frontier"
when = {{ task = ["code"] }}
pool = "frontier"

[[rules]]
name = "complex-to-frontier"
when = {{ complexity_at_least = 0.5 }}
pool = "frontier"

[[rules]]
name = "vip"
when = {{ key = ["vip"] }}
pool = "frontier"

[[rules]]
name = "default"
pool = "lm"
"#,
            lm = self.lmstudio.addr,
            cloud = self.cloud.addr,
        )
    }
}

/// A loopback port free a moment ago (for a child process to listen on).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A child process killed and waited for however the test ends.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Reaped {
    /// Sends SIGTERM and waits up to `within` for the exit.
    pub async fn terminate(&mut self, within: std::time::Duration) -> std::process::ExitStatus {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
        let started = std::time::Instant::now();
        while started.elapsed() < within {
            if let Some(status) = self.0.try_wait().expect("wait") {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("still running {within:?} after SIGTERM");
    }
}

pub fn user(text: &str) -> serde_json::Value {
    serde_json::json!({"model": "auto", "messages": [{"role": "user", "content": text}]})
}

pub fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// A prompt that scores as complex (reasoning and multi-step cues), with no sensitive data.
pub const COMPLEX: &str = "Analyze the trade-offs step by step and compare three strategies, \
    then evaluate the architecture.\n1. latency\n2. cost\n3. risk\nFinally, derive a plan.";
