use serde_json::{Value, json};

use super::*;
use crate::providers::gemini::convert::tests::mutations;
use crate::providers::sse::SseDecoder;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/gemini/",
            $name
        ))
    };
}

const ID: &str = "chatcmpl-req1";
const CREATED: u64 = 1_700_000_000;
const MODEL: &str = "gemini-2.5-flash";

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn answer(resp: &Value) -> Result<Value, ConvertError> {
    chat_response(resp, ID, CREATED, MODEL)
}

/// Runs a whole SSE body through the decoder and the stream converter.
fn stream(
    chunks: &[&[u8]],
    include_usage: bool,
) -> (Vec<Value>, Result<(), ConvertError>, ChunkStream) {
    let mut decoder = SseDecoder::new(1 << 16);
    let mut conv = ChunkStream::new(ID, CREATED, MODEL, include_usage);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk).unwrap();
        while let Some(ev) = decoder.next_event() {
            match conv.push_event(&ev.data) {
                Ok(chunks) => out.extend(chunks),
                Err(err) => return (out, Err(err), conv),
            }
        }
    }
    decoder.finish();
    let end = conv.end().map(|tail| out.extend(tail));
    (out, end, conv)
}

// ---------------------------------------------------------------- answers

#[test]
fn golden_responses() {
    let got = answer(&parse(fixture!("response.json"))).unwrap();
    assert_eq!(got, parse(fixture!("response.expected.json")));
    let got = answer(&parse(fixture!("response_tools.json"))).unwrap();
    assert_eq!(got, parse(fixture!("response_tools.expected.json")));
}

#[test]
fn finish_reasons() {
    let cases = [
        (Some("STOP"), false, "stop"),
        (Some("STOP"), true, "tool_calls"),
        (Some("MAX_TOKENS"), false, "length"),
        (Some("MAX_TOKENS"), true, "length"),
        (Some("SAFETY"), false, "content_filter"),
        (Some("RECITATION"), false, "content_filter"),
        (Some("LANGUAGE"), false, "content_filter"),
        (Some("BLOCKLIST"), false, "content_filter"),
        (Some("PROHIBITED_CONTENT"), false, "content_filter"),
        (Some("SPII"), false, "content_filter"),
        (Some("IMAGE_SAFETY"), false, "content_filter"),
        (Some("OTHER"), false, "stop"),
        (Some("FINISH_REASON_UNSPECIFIED"), false, "stop"),
        (Some("SOMETHING_NEW"), true, "tool_calls"),
        (None, false, "stop"),
    ];
    for (reason, called, finish) in cases {
        assert_eq!(finish_reason(reason, called), Ok(finish), "{reason:?}");
    }
    for reason in [
        "MALFORMED_FUNCTION_CALL",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "MISSING_THOUGHT_SIGNATURE",
        "MALFORMED_RESPONSE",
    ] {
        let err = finish_reason(Some(reason), false).unwrap_err();
        assert_eq!(
            err,
            ConvertError::Upstream {
                message: format!("the model gave no usable answer ({reason})")
            }
        );
    }
    // A filtered answer: no content, `content_filter`, not an error.
    let filtered = json!({"candidates": [{"finishReason": "SAFETY", "index": 0,
        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH"}]}]});
    let got = answer(&filtered).unwrap();
    assert_eq!(got["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(got["choices"][0]["message"]["content"], "");
}

#[test]
fn a_blocked_prompt_is_a_content_filter_error() {
    assert_eq!(
        answer(&parse(fixture!("response_blocked.json"))),
        Err(ConvertError::ContentFilter {
            message: "the backend's safety filter blocked the prompt (SAFETY)".into()
        })
    );
    // Feedback without a block reason is just feedback.
    let fine = json!({"promptFeedback": {"safetyRatings": []},
        "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}]});
    assert_eq!(
        answer(&fine).unwrap()["choices"][0]["message"]["content"],
        "ok"
    );
}

#[test]
fn errors_and_odd_answers_are_upstream_errors() {
    let error = json!({"error": {"code": 500, "message": "An internal error has occurred.",
        "status": "INTERNAL"}});
    assert_eq!(
        answer(&error),
        Err(ConvertError::Upstream {
            message: "INTERNAL: An internal error has occurred.".into()
        })
    );
    for odd in [
        json!(null),
        json!([]),
        json!({}),
        json!({"candidates": []}),
        json!({"candidates": [1]}),
        json!({"candidates": {}}),
        json!({"candidates": [{"content": []}]}),
        json!({"candidates": [{"content": {"parts": {}}}]}),
        json!({"candidates": [{"content": {"parts": [1]}}]}),
        json!({"candidates": [{"content": {"parts": [{"text": 5}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"args": {}}}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": "{}"}}]}}]}),
        json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"},
            "thoughtSignature": 7}]}}]}),
        json!({"candidates": [{"finishReason": 1}]}),
        json!({"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}),
        json!({"candidates": [{}], "usageMetadata": {"promptTokenCount": -1}}),
        json!({"candidates": [{}], "usageMetadata": []}),
        json!({"promptFeedback": {"blockReason": 3}}),
    ] {
        assert!(
            matches!(answer(&odd), Err(ConvertError::Upstream { .. })),
            "{odd}"
        );
    }
}

#[test]
fn model_list() {
    assert_eq!(
        models(&parse(fixture!("models.json"))).unwrap(),
        vec!["gemini-2.5-flash", "gemini-2.5-pro"],
        "the embedding model serves no generateContent"
    );
    assert_eq!(models(&json!({})).unwrap(), Vec::<String>::new());
    assert!(models(&json!({"models": [{"displayName": "x"}]})).is_err());
    assert!(models(&json!({"models": {}})).is_err());
    let denied =
        json!({"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}});
    assert!(models(&denied).is_err());
}

// ---------------------------------------------------------------- streams

/// SSE input, expected chunks, include_usage, usage.
type StreamCase = (&'static [u8], &'static [u8], bool, (u64, u64));

#[test]
fn golden_streams_at_every_split() {
    let cases: [StreamCase; 2] = [
        (
            fixture!("stream.sse"),
            fixture!("stream.expected.json"),
            true,
            (1833, 17),
        ),
        (
            fixture!("stream_tools.sse"),
            fixture!("stream_tools.expected.json"),
            false,
            (640, 96),
        ),
    ];
    for (input, expected, include_usage, usage) in cases {
        let expected: Vec<Value> = serde_json::from_slice(expected).unwrap();
        let (chunks, end, conv) = stream(&[input], include_usage);
        assert_eq!(chunks, expected);
        assert_eq!(end, Ok(()));
        assert_eq!(conv.usage(), usage);
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(stream(&[a, b], include_usage).0, expected, "split at {at}");
        }
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        assert_eq!(stream(&bytes, include_usage).0, expected, "byte at a time");
    }
}

#[test]
fn a_blocked_prompt_stream_is_a_content_filter_error() {
    let (chunks, end, _) = stream(&[fixture!("stream_blocked.sse")], true);
    assert!(chunks.is_empty());
    assert_eq!(
        end,
        Err(ConvertError::ContentFilter {
            message: "the backend's safety filter blocked the prompt (PROHIBITED_CONTENT)".into()
        })
    );
}

#[test]
fn an_error_object_ends_the_stream_with_its_status() {
    let input = fixture!("stream_error.sse");
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        let (chunks, end, _) = stream(&[a, b], false);
        assert_eq!(chunks.len(), 1, "the text before the error");
        assert_eq!(
            chunks[0]["choices"][0]["delta"],
            json!({"role": "assistant", "content": "Once upon"})
        );
        assert_eq!(
            end,
            Err(ConvertError::Upstream {
                message: "UNAVAILABLE: The model is overloaded. Please try again later.".into()
            })
        );
    }
}

#[test]
fn a_stream_without_a_finish_reason_is_cut() {
    let input = fixture!("stream.sse");
    let last = input
        .windows(b"finishReason".len())
        .position(|w| w == b"finishReason")
        .unwrap();
    let start = input[..last]
        .windows(b"data:".len())
        .rposition(|w| w == b"data:")
        .unwrap();
    let (chunks, end, conv) = stream(&[&input[..start]], true);
    assert_eq!(chunks.len(), 2, "content chunks only");
    assert!(!conv.is_ended());
    assert_eq!(
        end,
        Err(ConvertError::Upstream {
            message: "the stream ended before a finish reason".into()
        })
    );
}

fn text_event(text: &str, finish: Option<&str>) -> String {
    let mut candidate =
        json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = f.into();
    }
    json!({"candidates": [candidate]}).to_string()
}

#[test]
fn events_after_the_finish_and_odd_events() {
    // Usage after the finish reason is taken; content is not.
    let mut conv = ChunkStream::new(ID, CREATED, MODEL, true);
    assert_eq!(
        conv.push_event(&text_event("hi", Some("STOP")))
            .unwrap()
            .len(),
        2
    );
    let usage = r#"{"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}"#;
    assert!(conv.push_event(usage).unwrap().is_empty());
    assert!(
        conv.push_event(&text_event("", Some("STOP")))
            .unwrap()
            .is_empty()
    );
    assert!(conv.push_event(&text_event("more", None)).is_err());
    let tail = conv.end().unwrap();
    assert_eq!(tail[0]["usage"]["total_tokens"], 4);
    assert!(conv.is_ended());
    assert!(conv.push_event(usage).is_err(), "nothing after the end");

    for bad in [
        "{",
        "[1]",
        "[DONE]",
        r#"{"candidates": 1}"#,
        r#"{"candidates": [{"finishReason": 2}]}"#,
        r#"{"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL"}]}"#,
        r#"{"usageMetadata": {"totalTokenCount": "many"}}"#,
        r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}"#,
    ] {
        let mut conv = ChunkStream::new(ID, CREATED, MODEL, false);
        assert!(
            matches!(conv.push_event(bad), Err(ConvertError::Upstream { .. })),
            "{bad}"
        );
    }
}

#[test]
fn quiet_events_commit_nothing_and_an_empty_answer_gets_a_role() {
    let mut conv = ChunkStream::new(ID, CREATED, MODEL, false);
    let quiet = [
        r#"{"usageMetadata": {"promptTokenCount": 3}}"#.to_owned(),
        r#"{"candidates": [{"content": {"role": "model", "parts": [{"text": "", "thoughtSignature": "c2ln"}]}}]}"#.to_owned(),
        r#"{"candidates": [{"content": {"role": "model"}, "index": 0}]}"#.to_owned(),
    ];
    for event in &quiet {
        assert!(conv.push_event(event).unwrap().is_empty(), "{event}");
    }
    let out = conv.push_event(&text_event("", Some("STOP"))).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(out[0]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn thoughts_in_a_stream_are_reasoning_content() {
    let mut conv = ChunkStream::new(ID, CREATED, MODEL, false);
    let event = r#"{"candidates": [{"content": {"role": "model", "parts": [{"text": "let me see", "thought": true}]}}]}"#;
    let out = conv.push_event(event).unwrap();
    assert_eq!(
        out[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "reasoning_content": "let me see"})
    );
}

// ---------------------------------------------------------------- robustness

#[test]
fn never_panics_on_odd_answers_and_events() {
    for resp in [
        parse(fixture!("response.json")),
        parse(fixture!("response_tools.json")),
        parse(fixture!("response_blocked.json")),
    ] {
        for variant in mutations(&resp) {
            let _ = answer(&variant);
        }
    }
    let _ = models(&parse(fixture!("models.json")));
    let mut decoder = SseDecoder::new(1 << 16);
    decoder.push(fixture!("stream_tools.sse")).unwrap();
    let events: Vec<Value> = std::iter::from_fn(|| decoder.next_event())
        .map(|ev| parse(ev.data.as_bytes()))
        .collect();
    for (i, event) in events.iter().enumerate() {
        for variant in mutations(event) {
            let mut conv = ChunkStream::new(ID, CREATED, MODEL, true);
            for before in &events[..i] {
                let _ = conv.push_event(&before.to_string());
            }
            let _ = conv.push_event(&variant.to_string());
            let _ = conv.end();
        }
    }
    for input in [
        &fixture!("stream.sse")[..],
        &fixture!("stream_tools.sse")[..],
        &fixture!("stream_blocked.sse")[..],
        &fixture!("stream_error.sse")[..],
    ] {
        for end in 0..=input.len() {
            let _ = stream(&[&input[..end]], true);
        }
    }
}
