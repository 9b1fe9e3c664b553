use super::eventstream::tests::FIXTURES;
use super::*;
use serde_json::{Value, json};

fn framer(include_usage: bool) -> Events {
    Events {
        decoder: eventstream::Decoder::new(1 << 16),
        chat: convert::ChunkStream::new("chatcmpl-r", 1, "m", include_usage),
        started: false,
    }
}

/// Feeds `chunks`, returning the bytes out and how the stream ended.
fn run(chunks: &[&[u8]]) -> (Vec<u8>, Result<(), String>) {
    let mut f = framer(true);
    let mut out = BytesMut::new();
    for chunk in chunks {
        if let Err(e) = f.push(chunk, &mut out) {
            return (out.to_vec(), Err(e));
        }
    }
    let end = f.finish(&mut out);
    (out.to_vec(), end)
}

/// The `data:` payloads of SSE bytes.
fn events(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: ").map(str::to_owned))
        .collect()
}

#[test]
fn framer_output_is_the_same_at_every_split() {
    for fixture in FIXTURES {
        let whole = run(&[fixture]);
        for at in 0..=fixture.len() {
            let (a, b) = fixture.split_at(at);
            assert_eq!(run(&[a, b]), whole, "split at {at}");
        }
        let bytes: Vec<&[u8]> = fixture.chunks(1).collect();
        assert_eq!(run(&bytes), whole, "byte at a time");
    }
}

#[test]
fn a_text_stream_becomes_openai_chunks_with_usage() {
    let (out, end) = run(&[FIXTURES[0]]);
    assert_eq!(end, Ok(()));
    let ev = events(&out);
    assert_eq!(ev.last().map(String::as_str), Some("[DONE]"));
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect();
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "Hello "})
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello from the fake Bedrock.");
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "stop");
    assert_eq!(finish["usage"], Value::Null);
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(
        usage["usage"],
        json!({"prompt_tokens": 16, "completion_tokens": 6, "total_tokens": 22,
               "prompt_tokens_details": {"cached_tokens": 4}})
    );
}

#[test]
fn tool_uses_become_indexed_tool_call_deltas() {
    let (out, end) = run(&[FIXTURES[1]]);
    assert_eq!(end, Ok(()));
    let ev = events(&out);
    let chunks: Vec<Value> = ev[..ev.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).expect("json"))
        .collect();
    let calls: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"].get(0))
        .collect();
    assert_eq!(
        calls[0],
        &json!({"index": 0, "id": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}})
    );
    let args = |i: u64| -> String {
        calls
            .iter()
            .filter(|c| c["index"] == i)
            .filter_map(|c| c["function"]["arguments"].as_str())
            .collect()
    };
    assert_eq!(args(0), "{\"city\": \"Paris\"}");
    assert_eq!(args(1), "{}");
    assert_eq!(calls.iter().filter(|c| c.get("id").is_some()).count(), 2);
    let finish = chunks
        .iter()
        .find_map(|c| c["choices"][0]["finish_reason"].as_str())
        .expect("finish");
    assert_eq!(finish, "tool_calls");
}

#[test]
fn an_exception_frame_is_an_error_after_the_content_before_it() {
    let (out, end) = run(&[FIXTURES[2]]);
    let end = end.expect_err("exception");
    assert_eq!(
        end,
        "throttlingException: Too many tokens, please wait before trying again."
    );
    let ev = events(&out);
    assert_eq!(ev.len(), 1, "the text before it");
    assert!(!out.windows(6).any(|w| w == b"[DONE]"));
}

#[test]
fn nothing_is_committed_before_content_and_a_cut_is_an_error() {
    let mut f = framer(false);
    let mut out = BytesMut::new();
    let start = eventstream::encode(
        &[
            (
                ":event-type",
                eventstream::HeaderValue::String("messageStart".into()),
            ),
            (
                ":message-type",
                eventstream::HeaderValue::String("event".into()),
            ),
        ],
        br#"{"role":"assistant"}"#,
    );
    f.push(&start, &mut out).expect("push");
    assert!(!f.started() && out.is_empty());
    assert!(f.finish(&mut out).is_err(), "no messageStop");
    // Cut inside a frame.
    let mut f = framer(false);
    f.push(&FIXTURES[0][..start.len() + 5], &mut out)
        .expect("push");
    assert_eq!(
        f.finish(&mut out),
        Err("the stream was cut inside a frame".into())
    );
}

#[test]
fn a_corrupt_frame_is_an_error() {
    let mut bad = FIXTURES[0].to_vec();
    let n = bad.len();
    bad[n - 10] ^= 1;
    let (out, end) = run(&[&bad]);
    assert_eq!(end, Err("event-stream message CRC mismatch".into()));
    assert!(!events(&out).is_empty(), "the frames before it count");
}

fn backend(model: &str) -> Backend {
    let toml = format!(
        r#"
[[backends]]
name = "bedrock"
protocol = "bedrock"
region = "eu-west-3"
tier = "private_cloud"
models = ["{model}"]

[pools]
p = ["bedrock/{model}"]

[[rules]]
name = "default"
pool = "p"
"#
    );
    let env = |v: &str| match v {
        "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some("secret-key".to_owned()),
        "AWS_SESSION_TOKEN" => Some("session-token".to_owned()),
        _ => None,
    };
    let loaded = crate::config::from_toml_str(&toml, &env).expect("valid config");
    loaded
        .config
        .backends
        .into_iter()
        .next()
        .expect("one backend")
}

#[test]
fn urls_default_from_the_region_and_encode_the_model_as_one_segment() {
    let b = backend("anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert_eq!(
        b.base_url,
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
    assert_eq!(
        url(&b, "anthropic.claude-3-5-sonnet-20240620-v1:0", "converse")
            .expect("url")
            .as_str(),
        "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    );
    let arn = "arn:aws:bedrock:eu-west-3:123456789012:application-inference-profile/a1b2c3";
    assert_eq!(
        url(&b, arn, "converse-stream").expect("url").path(),
        "/model/arn%3Aaws%3Abedrock%3Aeu-west-3%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse-stream"
    );
    for bad in ["", ".", ".."] {
        assert!(url(&b, bad, "converse").is_err(), "{bad:?}");
    }
    assert_eq!(
        url(&b, "../x?y#z", "converse").expect("url").path(),
        "/model/..%2Fx%3Fy%23z/converse"
    );
}

#[test]
fn requests_are_signed_and_the_secrets_stay_hidden() {
    let b = backend("m");
    assert_eq!(b.auth, Auth::SigV4);
    let url = url(&b, "m", "converse").expect("url");
    let rb = reqwest::Client::new().post(url.as_str());
    let req = sign(rb, &b, &url, "application/json", b"{}")
        .build()
        .expect("request");
    let h = req.headers();
    let authz = h["authorization"].to_str().expect("ascii");
    assert!(authz.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
    assert!(authz.contains("/eu-west-3/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature="));
    assert!(h["authorization"].is_sensitive());
    assert_eq!(h["x-amz-security-token"], "session-token");
    assert!(h["x-amz-security-token"].is_sensitive());
    let shown = format!("{req:?}");
    assert!(!shown.contains("session-token") && !shown.contains("secret-key"));
}
