use serde_json::{Map, Value, json};

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
    chat_request(&request(extra))
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

fn weather() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}])
}

// ---------------------------------------------------------------- requests

#[test]
fn golden_request() {
    let got = chat_request(&body(parse(fixture!("request.json")))).unwrap();
    assert_eq!(got, parse(fixture!("request.expected.json")));
}

#[test]
fn a_plain_request_is_contents_only() {
    assert_eq!(
        convert(json!({})).unwrap(),
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );
    let got = convert(json!({"max_completion_tokens": 9, "max_tokens": null})).unwrap();
    assert_eq!(got["generationConfig"], json!({"maxOutputTokens": 9}));
    let got = convert(json!({"stop": ["a", "b"], "stream": true})).unwrap();
    assert_eq!(
        got["generationConfig"],
        json!({"stopSequences": ["a", "b"]})
    );
    assert!(
        got.get("stream").is_none(),
        "streaming is the URL's business"
    );
}

#[test]
fn tool_choice_mapping() {
    let cases = [
        (json!("auto"), None),
        (json!("none"), Some(json!({"mode": "NONE"}))),
        (json!("required"), Some(json!({"mode": "ANY"}))),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            Some(json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]})),
        ),
    ];
    for (choice, expected) in cases {
        let got = convert(json!({"tools": weather(), "tool_choice": choice})).unwrap();
        assert_eq!(
            got.get("toolConfig"),
            expected
                .map(|m| json!({"functionCallingConfig": m}))
                .as_ref(),
            "{choice}"
        );
        assert_eq!(
            got["tools"],
            json!([{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema":
                {"type": "object", "properties": {"city": {"type": "string"}}}}]}])
        );
    }
    // Without tools, `auto` and `none` say nothing; forcing a call is invalid.
    for choice in ["auto", "none"] {
        let got = convert(json!({"tool_choice": choice, "tools": []})).unwrap();
        assert!(got.get("toolConfig").is_none() && got.get("tools").is_none());
    }
    assert_eq!(
        invalid_param(convert(json!({"tool_choice": "required"}))).as_deref(),
        Some("tool_choice")
    );
    let unknown = json!({"type": "function", "function": {"name": "nope"}});
    assert_eq!(
        invalid_param(convert(json!({"tools": weather(), "tool_choice": unknown}))).as_deref(),
        Some("tool_choice.function.name")
    );
}

#[test]
fn one_call_a_turn_cannot_be_promised() {
    let refused = convert(json!({"tools": weather(), "parallel_tool_calls": false}));
    assert_eq!(unsupported_param(refused), "parallel_tool_calls");
    // Nothing to limit: no tools, or calls switched off.
    for extra in [
        json!({"parallel_tool_calls": false}),
        json!({"tools": weather(), "tool_choice": "none", "parallel_tool_calls": false}),
        json!({"tools": weather(), "parallel_tool_calls": true}),
    ] {
        assert!(convert(extra.clone()).is_ok(), "{extra}");
    }
}

#[test]
fn turns_alternate_and_tool_results_are_named_objects() {
    let got = convert(json!({"messages": [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "late system"},
        {"role": "user", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "t2", "type": "function", "function": {"name": "g", "arguments": "{\"x\":1}"}}]},
        {"role": "assistant", "content": "more"},
        {"role": "tool", "tool_call_id": "t2", "content": "[1, 2]"},
        {"role": "tool", "tool_call_id": "t1", "content": ""},
        {"role": "user", "content": "c"},
    ]}))
    .unwrap();
    assert_eq!(
        got["systemInstruction"],
        json!({"parts": [{"text": "late system"}]})
    );
    assert_eq!(
        got["contents"],
        json!([
            {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": SKIP_SIGNATURE},
                {"functionCall": {"name": "g", "args": {"x": 1}}},
                {"text": "more"}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "g", "response": {"output": "[1, 2]"}}},
                {"functionResponse": {"name": "f", "response": {"output": ""}}},
                {"text": "c"}]},
        ])
    );
    // A reused call id names the latest call.
    let got = convert(json!({"messages": [
        {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "old", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "1"},
        {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "new", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "2"},
    ]}))
    .unwrap();
    assert_eq!(
        got["contents"][3]["parts"][0]["functionResponse"]["name"],
        "new"
    );
}

#[test]
fn response_formats() {
    let got = convert(json!({"response_format": {"type": "json_object"}})).unwrap();
    assert_eq!(
        got["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let got = convert(json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "s"}}}))
    .unwrap();
    assert_eq!(
        got["generationConfig"],
        json!({"responseMimeType": "application/json"}),
        "no schema: JSON mode"
    );
    let got = convert(json!({"response_format": {"type": "text"}})).unwrap();
    assert!(got.get("generationConfig").is_none());
}

#[test]
fn unsupported_parameters_are_named() {
    let cases = [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (json!({"audio": {"voice": "alloy"}}), "audio"),
        (json!({"reasoning_effort": "low"}), "reasoning_effort"),
        (json!({"functions": [{"name": "f"}]}), "functions"),
        (json!({"top_k": 5}), "top_k"),
        (
            json!({"response_format": {"type": "grammar"}}),
            "response_format.type",
        ),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        ),
        (
            json!({"tools": weather(), "tool_choice": {"type": "allowed_tools"}}),
            "tool_choice.type",
        ),
    ];
    for (extra, param) in cases {
        assert_eq!(unsupported_param(convert(extra.clone())), param, "{extra}");
    }
    let messages = [
        (
            json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/gif;base64,AAAA"}}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}),
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
        assert_eq!(unsupported_param(chat_request(&req)), param);
    }
}

#[test]
fn accepted_fields_that_change_nothing() {
    let got = convert(json!({
        "n": 1, "logprobs": false, "top_logprobs": 0, "logit_bias": {}, "modalities": ["text"],
        "presence_penalty": 0.0, "frequency_penalty": 0, "response_format": {"type": "text"},
        "user": "u", "metadata": {"k": "v"}, "store": false, "service_tier": "auto",
        "safety_identifier": "s", "prompt_cache_key": "k", "stop": [], "stream": false,
        "stream_options": {"include_usage": true}, "parallel_tool_calls": false,
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
            json!({"messages": [{"role": "tool", "tool_call_id": "nobody", "content": "x"}]}),
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
        (json!({"seed": 1.5}), "seed"),
        (json!({"max_tokens": 0}), "max_tokens"),
        (json!({"n": 0}), "n"),
        (json!({"stream": "yes"}), "stream"),
        (json!({"parallel_tool_calls": "no"}), "parallel_tool_calls"),
        (json!({"tool_choice": "sometimes"}), "tool_choice"),
        (json!({"response_format": "json"}), "response_format"),
        (
            json!({"response_format": {"type": "json_schema", "json_schema": {"schema": []}}}),
            "response_format.json_schema.schema",
        ),
        (
            json!({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]}),
            "tools[0].function.parameters",
        ),
    ];
    for (extra, param) in cases {
        let got = invalid_param(convert(extra.clone()));
        assert_eq!(got.as_deref(), Some(param), "{extra}");
    }
    let mut no_messages = request(json!({}));
    no_messages.remove("messages");
    assert_eq!(
        invalid_param(chat_request(&no_messages)).as_deref(),
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
            let _ = chat_request(&map);
        }
    }
}
