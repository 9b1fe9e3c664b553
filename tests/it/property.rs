//! The hard rule as a property: requests with sensitive content in any
//! position, under random category levels, violation handling, requested
//! models and backend faults, never put a byte of that content on a backend
//! whose tier the level does not allow, through rules, rerouting,
//! redaction, retries and fallbacks.

use crate::fakes::{self, Fault};
use crate::{World, spawn};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Sensitive values the scanner must catch, with the marker that must never
/// leave, and the category that governs them.
const VALUES: &[(&str, &str, &str)] = &[
    ("card 4111 1111 1111 1111", "4111", "financial"),
    ("write to jane.doe@example.com", "jane.doe", "pii"),
    ("ssn: 123-45-6789", "6789", "pii"),
    ("aws AKIAIOSFODNN7EXAMPLE", "IOSFODNN7", "secret"),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n",
        "b3BlbnNzaC1rZXk",
        "secret",
    ),
    ("iban DE89 3704 0044 0532 0130 00", "0532", "financial"),
    (
        "card ４１１１ １１１１ １１１１ １１１１",
        "１１１１",
        "financial",
    ),
    (
        "blob d3JpdGUgdG8gamFuZS5kb2VAZXhhbXBsZS5jb20=",
        "d3JpdGUgdG8gamFuZS5kb2VAZXhhbXBsZS5jb20",
        "pii",
    ),
    (
        "PRIVILEGED & CONFIDENTIAL: the merger terms",
        "merger",
        "legal",
    ),
    ("patient DOB 03/14/1962 has schizophrenia", "1962", "phi"),
];

#[derive(Debug, Clone, Copy)]
enum Position {
    System,
    User,
    Assistant,
    ToolArgs,
    ToolResult,
    Name,
    TextPart,
}

fn request(model: &str, pos: Position, secret: &str, stream: bool) -> Value {
    let args = serde_json::to_string(&json!({"note": secret})).unwrap_or_default();
    let mut messages = vec![json!({"role": "system", "content": "You are helpful."})];
    match pos {
        Position::System => messages[0] = json!({"role": "system", "content": secret}),
        Position::User => messages.push(json!({"role": "user", "content": secret})),
        Position::Assistant => {
            messages.push(json!({"role": "user", "content": "earlier"}));
            messages.push(json!({"role": "assistant", "content": secret}));
        }
        Position::ToolArgs => {
            messages.push(json!({"role": "user", "content": "save it"}));
            messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "save", "arguments": args}}]}));
            messages.push(json!({"role": "tool", "tool_call_id": "c1", "content": "ok"}));
        }
        Position::ToolResult => {
            messages.push(json!({"role": "user", "content": "look it up"}));
            messages.push(json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]}));
            messages.push(json!({"role": "tool", "tool_call_id": "c1", "content": secret}));
        }
        Position::Name => messages
            .push(json!({"role": "user", "name": secret.replace(' ', "_"), "content": "hi"})),
        Position::TextPart => messages.push(json!({"role": "user", "content": [
            {"type": "text", "text": "see"}, {"type": "text", "text": secret}]})),
    }
    messages.push(json!({"role": "user", "content": crate::COMPLEX}));
    json!({"model": model, "messages": messages, "stream": stream})
}

fn position() -> impl Strategy<Value = Position> {
    prop_oneof![
        Just(Position::System),
        Just(Position::User),
        Just(Position::Assistant),
        Just(Position::ToolArgs),
        Just(Position::ToolResult),
        Just(Position::Name),
        Just(Position::TextPart),
    ]
}

fn received_bytes(fake: &fakes::Fake) -> String {
    fake.seen()
        .iter()
        .map(|s| s.body.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sensitive_content_never_reaches_a_disallowed_tier(
        value in 0..VALUES.len(),
        pos in position(),
        model in prop::sample::select(vec!["auto", "frontier", "cloud/gpt-4o", "private", "azure/gpt-4o", "lm", "gpt-4o-mini"]),
        violation in prop::sample::select(vec!["reroute", "reject", "redact"]),
        category_restricted in any::<bool>(),
        fault in 0..4u8,
        stream in any::<bool>(),
        // Routing state that must never widen where data may go: offline
        // fallback, a spent budget (downgrade or reject), a volume rule that
        // sends busy tasks to the cloud, and a latency budget.
        offline in any::<bool>(),
        budget in prop::sample::select(vec!["", "downgrade", "reject"]),
        busy_to_cloud in any::<bool>(),
        latency in prop::option::of(0..500u64),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (secret, marker, category) = VALUES[value];
            let w = World::new().await;
            let azure = fakes::openai(&["gpt-4o"]).await;
            let down = fakes::closed_port().await;
            let level = if category_restricted { "restricted" } else { "confidential" };
            let mut state = format!("offline_fallback = {offline}\noffline_pool = \"local\"\n");
            if !budget.is_empty() {
                state.push_str(&format!(
                    "[budgets]\nmonthly_usd = 0.0\non_exceeded = \"{budget}\"\n"
                ));
            }
            if busy_to_cloud {
                state.push_str(
                    "[[rules]]\nname = \"busy\"\nwhen = { requests_per_hour_at_least = 0 }\npool = \"frontier\"\n",
                );
            }
            let extra = format!(
                "[policy]\non_violation = \"{}\"\n{state}[policy.categories]\n{category} = \"{level}\"\n\n\
                 [[backends]]\nname = \"azure\"\nprotocol = \"openai\"\nbase_url = \"http://{}/v1\"\n\
                 tier = \"private_cloud\"\nmodels = [\"gpt-4o\"]\n",
                violation,
                azure.addr,
            );
            let ollama = if fault == 3 { down } else { w.ollama.addr };
            let toml = w
                .toml_with(ollama, &extra)
                .replace("[pools]", "[pools]\nprivate = [\"azure/gpt-4o\"]")
                .replace("lm = [\"lmstudio/qwen\"]", "lm = [\"lmstudio/qwen\", \"ollama/llama3.1:8b\"]")
                .replace("local = [\"ollama/llama3.1:8b\"]", "local = [\"ollama/llama3.1:8b\", \"lmstudio/qwen\"]");
            let app = spawn(&toml).await;
            match fault {
                1 => w.lmstudio.set_fault(Fault::Status(503)),
                2 => w.lmstudio.set_fault(Fault::CutAfter(1)),
                _ => {}
            }
            let mut req = app
                .http
                .post(app.url("/v1/chat/completions"))
                .json(&request(model, pos, secret, stream));
            if let Some(ms) = latency {
                req = req.header("x-airlock-max-latency-ms", ms.to_string());
            }
            let r = req.send().await.expect("send");
            let _ = r.bytes().await;
            // Whatever the outcome, the public cloud got nothing of it, and
            // the private cloud only when the level is confidential.
            let cloud = received_bytes(&w.cloud);
            prop_assert!(!cloud.contains(marker), "public cloud received {marker:?} ({pos:?}, {model})");
            if category_restricted {
                let private = received_bytes(&azure);
                prop_assert!(!private.contains(marker), "private cloud received restricted {marker:?} ({pos:?}, {model})");
            }
            Ok(())
        })?;
    }
}
