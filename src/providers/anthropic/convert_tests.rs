use serde_json::{Map, Value, json};

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/anthropic/",
            $name
        ))
    };
}

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

// ---------------------------------------------------------------- robustness

/// Every way of replacing one node of `value` by an odd value.
pub(super) fn mutations(value: &Value) -> Vec<Value> {
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
fn never_panics_on_odd_requests() {
    let chat = parse(fixture!("request.json"));
    let variants = mutations(&chat);
    assert!(variants.len() > 500, "{}", variants.len());
    for variant in variants {
        if let Value::Object(map) = variant {
            let _ = chat_request(&map, "m", 1);
        }
    }
}
