use serde_json::{Value, json};

use super::*;
use crate::providers::anthropic::convert::tests::mutations;
use crate::providers::sse::SseDecoder;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/",
            $name
        ))
    };
}

const ID: &str = "chatcmpl-req1";
const CREATED: u64 = 1_700_000_000;
const MODEL: &str = "claude-sonnet-4-5";

fn parse(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Runs a whole SSE body through the decoder and the stream converter.
fn stream(
    chunks: &[&[u8]],
    include_usage: bool,
) -> (Vec<Value>, Result<(), ConvertError>, MessageStream) {
    let mut decoder = SseDecoder::new(1 << 16);
    let mut conv = MessageStream::new(ID, CREATED, MODEL, include_usage);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk).unwrap();
        while let Some(ev) = decoder.next_event() {
            match conv.push_event(ev.event.as_deref(), &ev.data) {
                Ok(chunks) => out.extend(chunks),
                Err(err) => return (out, Err(err), conv),
            }
        }
    }
    decoder.finish();
    let end = conv.end();
    (out, end, conv)
}

// ---------------------------------------------------------------- answers

#[test]
fn golden_responses() {
    let got = chat_response(&parse(fixture!("message.json")), ID, CREATED, MODEL).unwrap();
    assert_eq!(got, parse(fixture!("message.expected.json")));
    let got = chat_response(&parse(fixture!("message_tools.json")), ID, CREATED, MODEL).unwrap();
    assert_eq!(got, parse(fixture!("message_tools.expected.json")));
}

#[test]
fn stop_reasons() {
    let cases = [
        (Some("end_turn"), false, "stop"),
        (Some("stop_sequence"), false, "stop"),
        (Some("pause_turn"), false, "stop"),
        (Some("max_tokens"), false, "length"),
        (Some("max_tokens"), true, "length"),
        (Some("model_context_window_exceeded"), false, "length"),
        (Some("tool_use"), true, "tool_calls"),
        (Some("refusal"), false, "content_filter"),
        (Some("something_new"), false, "stop"),
        (None, false, "stop"),
        (None, true, "tool_calls"),
    ];
    for (reason, called, finish) in cases {
        assert_eq!(finish_reason(reason, called), finish, "{reason:?}");
    }
    let refusal = json!({"type": "message", "content": [], "stop_reason": "refusal",
        "usage": {"input_tokens": 1, "output_tokens": 0}});
    let got = chat_response(&refusal, ID, CREATED, MODEL).unwrap();
    assert_eq!(got["choices"][0]["finish_reason"], "content_filter");
    assert_eq!(got["choices"][0]["message"]["content"], "");
}

#[test]
fn response_thinking_errors_and_odd_answers() {
    let resp = json!({"type": "message", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"},
        {"type": "redacted_thinking", "data": "x"},
        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}});
    let got = chat_response(&resp, ID, CREATED, MODEL).unwrap();
    let message = &got["choices"][0]["message"];
    assert_eq!(message["content"], Value::Null, "only tool calls");
    assert_eq!(message["reasoning_content"], "hmm");
    assert_eq!(
        message["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    let error = json!({"type": "error", "error": {"type": "api_error", "message": "Internal"}});
    assert_eq!(
        chat_response(&error, ID, CREATED, MODEL),
        Err(ConvertError::Upstream {
            message: "api_error: Internal".into()
        })
    );
    for odd in [
        json!(null),
        json!([]),
        json!({"type": "message"}),
        json!({"content": [1]}),
        json!({"content": [{"text": "x"}]}),
        json!({"content": [{"type": "text", "text": 5}]}),
        json!({"content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}]}),
        json!({"content": [], "stop_reason": 1}),
        json!({"content": [], "usage": {"input_tokens": -1}}),
        json!({"content": [], "usage": []}),
    ] {
        assert!(
            matches!(
                chat_response(&odd, ID, CREATED, MODEL),
                Err(ConvertError::Upstream { .. })
            ),
            "{odd}"
        );
    }
}

#[test]
fn model_list() {
    assert_eq!(
        models(&parse(fixture!("models.json"))).unwrap(),
        vec!["claude-sonnet-4-5", "claude-haiku-4-5"]
    );
    assert!(models(&json!({"data": [{"type": "model"}]})).is_err());
    assert!(models(&json!({"type": "error", "error": {"type": "authentication_error"}})).is_err());
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
            (1833, 9),
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
fn error_event_ends_the_stream_with_its_message() {
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
                message: "overloaded_error: Overloaded".into()
            })
        );
    }
}

#[test]
fn truncated_stream_is_reported() {
    let input = fixture!("stream.sse");
    let stop = input
        .windows(b"event: message_stop".len())
        .position(|w| w == b"event: message_stop")
        .unwrap();
    let (chunks, end, conv) = stream(&[&input[..stop]], true);
    assert_eq!(chunks.len(), 2, "content chunks only");
    assert!(!conv.is_done());
    assert!(matches!(end, Err(ConvertError::Upstream { .. })));
}

const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"m","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":2,"output_tokens":1}}}"#;

fn started(include_usage: bool) -> MessageStream {
    let mut conv = MessageStream::new(ID, CREATED, MODEL, include_usage);
    assert_eq!(conv.push_event(Some("message_start"), START), Ok(vec![]));
    conv
}

#[test]
fn events_out_of_order_or_malformed_are_upstream_errors() {
    let mut conv = MessageStream::new(ID, CREATED, MODEL, false);
    assert!(
        conv.push_event(Some("ping"), r#"{"type":"ping"}"#)
            .unwrap()
            .is_empty()
    );
    let before = conv.push_event(
        None,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    );
    assert!(matches!(before, Err(ConvertError::Upstream { .. })));
    let bad = [
        (Some("message_start"), START),
        (Some("ping"), r#"{"type":"message_stop"}"#),
        (None, "{"),
        (None, "[1]"),
        (None, "{}"),
        (
            None,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#,
        ),
        (None, r#"{"type":"content_block_stop","index":3}"#),
        (
            None,
            r#"{"type":"content_block_start","content_block":{"type":"text","text":""}}"#,
        ),
        (None, r#"{"type":"content_block_start","index":0}"#),
        (
            None,
            r#"{"type":"message_delta","delta":{"stop_reason":5}}"#,
        ),
        (
            None,
            r#"{"type":"message_delta","usage":{"output_tokens":1}}"#,
        ),
        (
            None,
            r#"{"type":"message_delta","delta":{},"usage":{"output_tokens":"many"}}"#,
        ),
    ];
    for (name, data) in bad {
        let mut conv = started(false);
        assert!(
            matches!(
                conv.push_event(name, data),
                Err(ConvertError::Upstream { .. })
            ),
            "{data}"
        );
    }
    // A delta of the wrong kind for its block, and a block started twice.
    let mut conv = started(false);
    conv.push_event(
        None,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
    )
    .unwrap();
    let wrong = r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{"}}"#;
    assert!(conv.push_event(None, wrong).is_err());
    let mut conv = started(false);
    let start =
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"a"}}"#;
    conv.push_event(None, start).unwrap();
    conv.push_event(None, r#"{"type":"content_block_stop","index":0}"#)
        .unwrap();
    assert!(conv.push_event(None, start).is_err());
    // After message_stop nothing more is accepted.
    let mut conv = started(false);
    conv.push_event(None, r#"{"type":"message_stop"}"#).unwrap();
    assert!(conv.is_done());
    assert!(conv.push_event(None, r#"{"type":"ping"}"#).is_err());
}

#[test]
fn unknown_events_and_blocks_are_skipped() {
    let mut conv = started(false);
    let events = [
        r#"{"type":"future_event","x":1}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"s","name":"web_search","input":{}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{}"}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"","citations":[]}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"ok"}}"#,
    ];
    let mut out = Vec::new();
    for data in events {
        out.extend(conv.push_event(None, data).unwrap());
    }
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "ok"})
    );
}

#[test]
fn thinking_and_whole_tool_input_in_a_stream() {
    let mut conv = started(true);
    let mut out = Vec::new();
    for data in [
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"let me see"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_9","name":"f","input":{"q":1}}}"#,
        r#"{"type":"content_block_stop","index":1}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"input_tokens":5,"cache_read_input_tokens":10,"output_tokens":7}}"#,
        r#"{"type":"message_stop"}"#,
    ] {
        out.extend(conv.push_event(None, data).unwrap());
    }
    let deltas: Vec<&Value> = out
        .iter()
        .filter_map(|c| c["choices"].get(0))
        .map(|c| &c["delta"])
        .collect();
    assert_eq!(
        deltas[0],
        &json!({"role": "assistant", "content": "", "reasoning_content": "let me see"})
    );
    assert_eq!(deltas[1]["tool_calls"][0]["function"]["arguments"], "");
    assert_eq!(
        deltas[2]["tool_calls"],
        json!([{"index": 0, "function": {"arguments": "{\"q\":1}"}}])
    );
    assert_eq!(out[3]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        out[4]["usage"],
        json!({"prompt_tokens": 15, "completion_tokens": 7, "total_tokens": 22,
               "prompt_tokens_details": {"cached_tokens": 10}})
    );
}

#[test]
fn an_empty_answer_still_gets_a_role_chunk() {
    let mut conv = started(false);
    conv.push_event(None, r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}}"#)
        .unwrap();
    let out = conv.push_event(None, r#"{"type":"message_stop"}"#).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(out[0]["choices"][0]["finish_reason"], "stop");
}

// ---------------------------------------------------------------- robustness

#[test]
fn never_panics_on_odd_answers_and_events() {
    for answer in [
        parse(fixture!("message.json")),
        parse(fixture!("message_tools.json")),
    ] {
        for variant in mutations(&answer) {
            let _ = chat_response(&variant, ID, CREATED, MODEL);
        }
    }
    let mut decoder = SseDecoder::new(1 << 16);
    decoder.push(fixture!("stream_tools.sse")).unwrap();
    let events: Vec<Value> = std::iter::from_fn(|| decoder.next_event())
        .map(|ev| parse(ev.data.as_bytes()))
        .collect();
    for (i, event) in events.iter().enumerate() {
        for variant in mutations(event) {
            let mut conv = MessageStream::new(ID, CREATED, MODEL, true);
            for before in &events[..i] {
                let _ = conv.push_event(None, &before.to_string());
            }
            let _ = conv.push_event(None, &variant.to_string());
        }
    }
    // Every prefix of every fixture, as one push.
    for input in [
        &fixture!("stream.sse")[..],
        &fixture!("stream_tools.sse")[..],
        &fixture!("stream_error.sse")[..],
    ] {
        for end in 0..=input.len() {
            let _ = stream(&[&input[..end]], true);
        }
    }
}
