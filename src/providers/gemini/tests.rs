use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gemini/",
            $name
        ))
    };
}

const FIXTURES: [&[u8]; 4] = [
    fixture!("stream.sse"),
    fixture!("stream_tools.sse"),
    fixture!("stream_error.sse"),
    fixture!("stream_blocked.sse"),
];

fn framer(include_usage: bool) -> Events {
    Events {
        decoder: SseDecoder::new(1 << 16),
        chat: convert::ChunkStream::new("chatcmpl-r", 1, "m", include_usage),
        started: false,
        refusal: None,
    }
}

/// Feeds `chunks`, returning the bytes out, how the stream ended and the
/// refusal, if any.
fn run(chunks: &[&[u8]]) -> (Vec<u8>, Result<(), String>, Option<ConvertError>) {
    let mut f = framer(true);
    let mut out = BytesMut::new();
    for chunk in chunks {
        if let Err(e) = f.push(chunk, &mut out) {
            return (out.to_vec(), Err(e), f.refusal());
        }
    }
    let end = f.finish(&mut out);
    (out.to_vec(), end, f.refusal())
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
fn framer_ends_with_done_or_an_error() {
    let (out, end, _) = run(&[FIXTURES[0]]);
    assert_eq!(end, Ok(()));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert_eq!(text.matches("data: ").count(), 5, "4 chunks and [DONE]");
    assert!(text.contains(r#""choices":[],"#), "the usage chunk");

    let (out, end, refusal) = run(&[FIXTURES[2]]);
    let end = end.expect_err("error object");
    assert!(end.contains("UNAVAILABLE"), "{end}");
    assert!(refusal.is_none());
    assert!(!out.windows(6).any(|w| w == b"[DONE]"));

    // Cut after the first event: started, then an error at EOF.
    let first = FIXTURES[0]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an event")
        + 4;
    let mut f = framer(false);
    let mut out = BytesMut::new();
    f.push(&FIXTURES[0][..first], &mut out).expect("push");
    assert!(f.started());
    assert!(f.finish(&mut out).is_err());
    // Cut inside an event.
    let mut f = framer(false);
    f.push(&FIXTURES[0][..first + 10], &mut out).expect("push");
    assert_eq!(
        f.finish(&mut out),
        Err("the stream was cut inside an event".into())
    );
}

#[test]
fn a_blocked_prompt_is_a_refusal_before_anything_is_sent() {
    let (out, end, refusal) = run(&[FIXTURES[3]]);
    assert!(out.is_empty());
    assert!(end.is_err());
    assert!(matches!(refusal, Some(ConvertError::ContentFilter { .. })));
}

#[test]
fn nothing_is_committed_before_content() {
    let mut f = framer(true);
    let mut out = BytesMut::new();
    let quiet = b"data: {\"usageMetadata\": {\"promptTokenCount\": 4}}\r\n\r\n: keep-alive\r\n\r\ndata: {\"candidates\": [{\"content\": {\"role\": \"model\", \"parts\": [{\"text\": \"\"}]}}]}\r\n\r\n";
    f.push(quiet, &mut out).expect("push");
    assert!(!f.started() && out.is_empty());
}

#[test]
fn model_ids_are_checked_before_they_reach_a_url() {
    for ok in [
        "gemini-2.5-flash",
        "models/gemini-2.0-flash-001",
        "gemma-3_27b.it",
    ] {
        assert!(model_id(ok).is_ok(), "{ok}");
    }
    assert_eq!(model_id("models/gemini-2.5-pro"), Ok("gemini-2.5-pro"));
    for bad in [
        "",
        "models/",
        "..",
        "../files",
        "a/b",
        "x:generateContent?key=1",
        "gemini 2",
        "gemini%2F",
        "é",
    ] {
        assert!(
            matches!(model_id(bad), Err(ConvertError::Invalid { param: Some(p), .. }) if p == "model"),
            "{bad}"
        );
    }
}

#[test]
fn key_errors_are_recognised_by_their_reason() {
    let invalid = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT", "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID", "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}}]}}"#;
    assert!(is_key_error(invalid));
    let bad_request = br#"{"error": {"code": 400, "message": "Invalid JSON payload received.",
        "status": "INVALID_ARGUMENT"}}"#;
    assert!(!is_key_error(bad_request));
    assert!(!is_key_error(b"not json"));
    assert!(!is_key_error(b""));
}

fn backend(extra: &str, base_url: &str) -> crate::config::Config {
    let toml = format!(
        r#"
[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "{base_url}"
tier = "public_cloud"
models = ["gemini-2.5-flash"]
{extra}

[pools]
p = ["gemini/gemini-2.5-flash"]

[[rules]]
name = "default"
pool = "p"
"#
    );
    let env = |var: &str| (var == "K").then(|| "AIza-secret-key".to_owned());
    crate::config::from_toml_str(&toml, &env)
        .expect("valid config")
        .config
}

#[test]
fn the_key_travels_in_x_goog_api_key_marked_sensitive() {
    let config = backend("api_key_env = \"K\"", "http://127.0.0.1:9");
    let rb = reqwest::Client::new().get("http://127.0.0.1:9/v1beta/models");
    let req = with_auth(rb, &config.backends[0]).build().expect("request");
    let key = req.headers().get("x-goog-api-key").expect("x-goog-api-key");
    assert_eq!(key, "AIza-secret-key");
    assert!(key.is_sensitive());
    assert!(req.headers().get("authorization").is_none());
    assert!(!req.url().as_str().contains("AIza"), "never in the URL");
    assert!(!format!("{req:?}").contains("AIza-secret-key"));
}

#[test]
fn a_token_env_token_is_a_bearer_token() {
    let vertex = "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google";
    let config = backend("token_env = \"K\"", vertex);
    let b = &config.backends[0];
    let req = with_auth(reqwest::Client::new().get(vertex), b)
        .build()
        .expect("request");
    let auth = req.headers().get("authorization").expect("authorization");
    assert_eq!(auth, "Bearer AIza-secret-key");
    assert!(auth.is_sensitive());
    assert!(req.headers().get("x-goog-api-key").is_none());
    assert_eq!(root(b), (vertex.to_owned(), false));
    let api = backend("", "https://generativelanguage.googleapis.com/");
    assert_eq!(
        root(&api.backends[0]),
        (
            "https://generativelanguage.googleapis.com/v1beta".to_owned(),
            true
        )
    );
}
