//! Serves the fake upstreams of `tests/fakes/` (the very code the gateway
//! tests use, not a copy) for the end-to-end tests: OpenAI, Ollama,
//! Anthropic, Gemini, Azure OpenAI and Bedrock, each on its own ephemeral
//! port on 127.0.0.1. They check what airlock sends as the real services do
//! (keys, Bedrock's SigV4 signature, Azure's `api-version`, bodies) and are
//! steered by words in the prompt (see each fake's module docs).
//!
//! Once all listen it prints one JSON line on stdout: per fake its address
//! and the models it serves (Azure: deployments and `api_version`; Bedrock:
//! `region`), and the `credentials` they accept, to hand to airlock:
//!
//! ```text
//! {"anthropic":{"addr":"127.0.0.1:40001","models":["claude-sonnet-4-5"]},...,
//!  "credentials":{"api_key":"...","aws_access_key_id":"...",...}}
//! ```
//!
//! It serves until its stdin closes (its parent went away) or it gets
//! SIGTERM or SIGINT. Never bind it beyond loopback: it is a test double.
//!
//! ```text
//! cargo run --release --example fake_providers
//! ```

#[path = "../tests/fakes/mod.rs"]
#[expect(
    dead_code,
    reason = "shared with tests/it, which also uses the recording and fault helpers"
)]
mod fakes;

use serde_json::json;
use std::io::Read;

const OPENAI: &[&str] = &["gpt-4o"];
const OLLAMA: &[&str] = &["llama3.1:8b", "llava:13b"];
const ANTHROPIC: &[&str] = &["claude-sonnet-4-5"];
const GEMINI: &[&str] = &["gemini-2.5-flash"];
/// Azure deployments, and the `api-version` the fake wants (airlock's default).
const AZURE: &[&str] = &["gpt-4o-prod"];
const AZURE_VERSION: &str = "2024-10-21";
/// A model id with a `:`, which SigV4 wants encoded twice in the signature.
const BEDROCK: &[&str] = &["anthropic.claude-3-5-sonnet-20240620-v1:0"];

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let openai = fakes::openai(OPENAI).await;
    let ollama = fakes::ollama(OLLAMA).await;
    let anthropic = fakes::anthropic::anthropic(ANTHROPIC).await;
    let gemini = fakes::gemini::gemini(GEMINI).await;
    let azure = fakes::azure::azure(AZURE_VERSION, AZURE).await;
    let bedrock = fakes::bedrock::bedrock(BEDROCK).await;
    let ready = json!({
        "openai": {"addr": openai.addr, "models": OPENAI},
        "ollama": {"addr": ollama.addr, "models": OLLAMA},
        "anthropic": {"addr": anthropic.addr, "models": ANTHROPIC},
        "gemini": {"addr": gemini.addr, "models": GEMINI},
        "azure_openai": {"addr": azure.addr, "models": AZURE, "api_version": AZURE_VERSION},
        "bedrock": {"addr": bedrock.addr, "models": BEDROCK, "region": fakes::bedrock::REGION},
        "credentials": {
            "api_key": fakes::KEY,
            "aws_access_key_id": fakes::bedrock::ACCESS_KEY_ID,
            "aws_secret_access_key": fakes::bedrock::SECRET,
            "aws_session_token": fakes::bedrock::SESSION_TOKEN,
        },
    });
    // The ready line is this program's output, read by the test harness.
    println!("{ready}");
    stopped().await;
}

/// Resolves when stdin reaches its end or SIGTERM / SIGINT arrives.
async fn stopped() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = rx => {}
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
