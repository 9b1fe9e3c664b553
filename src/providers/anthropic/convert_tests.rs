use serde_json::{Map, Value, json};

use super::*;
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

fn body(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => panic!("test body must be an object"),
    }
}

fn request(extra: Value) -> Map<String, Value> {
    let mut map = body(json!({
        "model": "auto",
        "messages": [{ "role": "user", "content": "hi" }],
    }));
    map.extend(body(extra));
    map
}

fn convert(extra: Value) -> Result<Value, ConvertError> {
    chat_request(&request(extra), "m", 4096)
}

fn unsupported_param(result: Result<Value, ConvertError>) -> String {
    match result {
        Err(ConvertError::Unsupported { param, .. }) => param,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

fn invalid_param(result: Result<Value, ConvertError>) -> Option<String> {
    match result {
        Err(ConvertError::Invalid { param, .. }) => param,
        other => panic!("expected Invalid, got {other:?}"),
    }
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

// ---------------------------------------------------------------- requests

#[test]
fn golden_request() {
    let got = chat_request(&body(parse(fixture!("request.json"))), MODEL, 4096).unwrap();
    assert_eq!(got, parse(fixture!("request.expected.json")));
}

#[test]
fn max_tokens_defaults_to_the_backend_value() {
    assert_eq!(
        convert(json!({})).unwrap(),
        json!({"model": "m", "stream": false, "max_tokens": 4096,
               "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
    );
    let got = chat_request(&request(json!({})), "m", 1000).unwrap();
    assert_eq!(got["max_tokens"], 1000);
    let got = chat_request(&request(json!({"max_tokens": 7})), "m", 1000).unwrap();
    assert_eq!(got["max_tokens"], 7);
    let got = convert(json!({"max_completion_tokens": 9, "max_tokens": null})).unwrap();
    assert_eq!(got["max_tokens"], 9);
}

#[test]
fn tool_choice_mapping() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let cases = [
        (json!("auto"), true, None),
        (
            json!("auto"),
            false,
            Some(json!({"type": "auto", "disable_parallel_tool_use": true})),
        ),
        (json!("none"), true, Some(json!({"type": "none"}))),
        (json!("none"), false, Some(json!({"type": "none"}))),
        (json!("required"), true, Some(json!({"type": "any"}))),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            true,
            Some(json!({"type": "tool", "name": "f"})),
        ),
        (
            json!({"type": "function", "function": {"name": "f"}}),
            false,
            Some(json!({"type": "tool", "name": "f", "disable_parallel_tool_use": true})),
        ),
    ];
    for (choice, parallel, expected) in cases {
        let got = convert(json!({"tools": tools, "tool_choice": choice,
            "parallel_tool_calls": parallel}))
        .unwrap();
        assert_eq!(
            got.get("tool_choice"),
            expected.as_ref(),
            "{choice} {parallel}"
        );
        assert_eq!(
            got["tools"],
            json!([{"name": "f", "input_schema": {"type": "object", "properties": {}}}])
        );
    }
    // Without tools, `auto` and `none` say nothing; forcing a call is invalid.
    for choice in ["auto", "none"] {
        let got = convert(json!({"tool_choice": choice, "tools": []})).unwrap();
        assert!(got.get("tool_choice").is_none() && got.get("tools").is_none());
    }
    assert_eq!(
        invalid_param(convert(json!({"tool_choice": "required"}))).as_deref(),
        Some("tool_choice")
    );
}

#[test]
fn turns_alternate_and_tool_results_lead_user_turns() {
    let got = convert(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "late system"},
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "assistant", "content": "more"},
        {"role": "user", "content": "c"},
        {"role": "tool", "tool_call_id": "t1", "content": ""},
    ]}))
    .unwrap();
    assert_eq!(
        got["system"],
        json!([{"type": "text", "text": "late system"}])
    );
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                {"type": "text", "text": "more"}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1"},
                {"type": "text", "text": "c"}]},
        ])
    );
}

#[test]
fn unsupported_parameters_are_named() {
    let cases = [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"frequency_penalty": 0.5}), "frequency_penalty"),
        (json!({"presence_penalty": -1}), "presence_penalty"),
        (json!({"seed": 7}), "seed"),
        (json!({"temperature": 1.5}), "temperature"),
        (
            json!({"response_format": {"type": "json_object"}}),
            "response_format",
        ),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"name": "s"}}}),
            "response_format",
        ),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (json!({"audio": {"voice": "alloy"}}), "audio"),
        (json!({"reasoning_effort": "low"}), "reasoning_effort"),
        (json!({"functions": [{"name": "f"}]}), "functions"),
        (json!({"top_k": 5}), "top_k"),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f"}}],
                   "tool_choice": {"type": "allowed_tools"}}),
            "tool_choice.type",
        ),
    ];
    for (extra, param) in cases {
        assert_eq!(unsupported_param(convert(extra.clone())), param, "{extra}");
    }
    let messages = [
        (
            json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/bmp;base64,AAAA"}}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}),
            "messages[0].content[0]",
        ),
        (
            json!({"role": "function", "name": "f", "content": "x"}),
            "messages[0].role",
        ),
        (
            json!({"role": "assistant", "content": "x", "function_call": {"name": "f"}}),
            "messages[0].function_call",
        ),
    ];
    for (message, param) in messages {
        let req = request(json!({"messages": [message]}));
        assert_eq!(unsupported_param(chat_request(&req, "m", 1)), param);
    }
}

#[test]
fn accepted_fields_that_change_nothing() {
    let got = convert(json!({
        "n": 1, "logprobs": false, "top_logprobs": 0, "logit_bias": {}, "modalities": ["text"],
        "presence_penalty": 0.0, "frequency_penalty": 0, "response_format": {"type": "text"},
        "user": "u", "metadata": {"k": "v"}, "store": false, "service_tier": "auto",
        "safety_identifier": "s", "prompt_cache_key": "k", "stop": [],
    }))
    .unwrap();
    assert_eq!(got, convert(json!({})).unwrap());
}

#[test]
fn invalid_requests_are_named() {
    let cases = [
        (json!({"messages": "hi"}), "messages"),
        (json!({"messages": []}), "messages"),
        (
            json!({"messages": [{"role": "user", "content": ""}]}),
            "messages",
        ),
        (
            json!({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}),
            "messages[0].tool_calls",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "ftp://x/y.png"}}]}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png,AAAA"}}]}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png;base64,not base64!"}}]}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
            "messages[0].content[0].image_url",
        ),
        (json!({"messages": [{"content": "x"}]}), "messages[0].role"),
        (
            json!({"messages": [{"role": "boss", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "[1]"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"type": "function",
            "function": {"name": "f", "arguments": "{}"}}]}]}),
            "messages[0].tool_calls[0].id",
        ),
        (json!({"stop": 5}), "stop"),
        (json!({"temperature": "hot"}), "temperature"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"n": 0}), "n"),
        (json!({"stream": "yes"}), "stream"),
        (json!({"parallel_tool_calls": "no"}), "parallel_tool_calls"),
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (json!({"response_format": "json"}), "response_format"),
    ];
    for (extra, param) in cases {
        let got = invalid_param(convert(extra.clone()));
        assert_eq!(got.as_deref(), Some(param), "{extra}");
    }
    let mut no_messages = request(json!({}));
    no_messages.remove("messages");
    assert_eq!(
        invalid_param(chat_request(&no_messages, "m", 1)).as_deref(),
        Some("messages")
    );
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

/// Every way of replacing one node of `value` by an odd value.
fn mutations(value: &Value) -> Vec<Value> {
    let odd = [
        Value::Null,
        json!(-1),
        json!(1.5),
        json!("x"),
        json!("data:image/png;base64,===="),
        json!([]),
        json!({}),
        json!(true),
    ];
    let mut out = odd.to_vec();
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                for m in mutations(item) {
                    let mut copy = items.clone();
                    copy[i] = m;
                    out.push(Value::Array(copy));
                }
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                for m in mutations(item) {
                    let mut copy = map.clone();
                    copy.insert(key.clone(), m);
                    out.push(Value::Object(copy));
                }
            }
        }
        _ => {}
    }
    out
}

#[test]
fn never_panics_on_odd_requests_answers_and_events() {
    let chat = parse(fixture!("request.json"));
    let variants = mutations(&chat);
    assert!(variants.len() > 500, "{}", variants.len());
    for variant in variants {
        if let Value::Object(map) = variant {
            let _ = chat_request(&map, "m", 1);
        }
    }
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
