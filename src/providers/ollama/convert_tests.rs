use serde_json::{Map, Value, json};

use super::*;
use crate::providers::ndjson::NdjsonSplitter;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/ollama/",
            $name
        ))
    };
}

const ID: &str = "chatcmpl-req1";
const CREATED: u64 = 1_700_000_000;
const MODEL: &str = "local-llama";

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

/// Runs a whole NDJSON body through the splitter and the stream converter.
fn stream(
    chunks: &[&[u8]],
    include_usage: bool,
) -> (Vec<Value>, Result<(), ConvertError>, ChatStream) {
    let mut splitter = NdjsonSplitter::new(1 << 16);
    let mut conv = ChatStream::new(ID, CREATED, MODEL, include_usage);
    let mut out = Vec::new();
    let mut feed = |line: &[u8], conv: &mut ChatStream| conv.push_line(line).map(|c| out.extend(c));
    for chunk in chunks {
        splitter.push(chunk).unwrap();
        while let Some(line) = splitter.next_line() {
            if let Err(err) = feed(&line, &mut conv) {
                return (out, Err(err), conv);
            }
        }
    }
    if let Some(line) = splitter.finish().unwrap()
        && let Err(err) = feed(&line, &mut conv)
    {
        return (out, Err(err), conv);
    }
    let end = conv.end();
    (out, end, conv)
}

#[test]
fn golden_chat_responses() {
    let got = chat_response(&parse(fixture!("chat.json")), ID, CREATED, MODEL).unwrap();
    assert_eq!(got, parse(fixture!("chat.expected.json")));
    let got = chat_response(&parse(fixture!("chat_tools.json")), ID, CREATED, MODEL).unwrap();
    assert_eq!(got, parse(fixture!("chat_tools.expected.json")));
}

/// NDJSON input, expected chunks, include_usage, usage.
type StreamCase = (&'static [u8], &'static [u8], bool, (u64, u64));

#[test]
fn golden_streams_at_every_split() {
    let cases: [StreamCase; 2] = [
        (
            fixture!("chat_stream.ndjson"),
            fixture!("chat_stream.expected.json"),
            true,
            (26, 282),
        ),
        (
            fixture!("chat_stream_tools.ndjson"),
            fixture!("chat_stream_tools.expected.json"),
            false,
            (169, 15),
        ),
    ];
    for (input, expected, include_usage, usage) in cases {
        let expected: Vec<Value> = serde_json::from_slice(expected).unwrap();
        let (chunks, end, conv) = stream(&[input], include_usage);
        assert_eq!(chunks, expected);
        assert_eq!(end, Ok(()));
        assert_eq!(conv.usage(), Some(usage));
        for at in 0..=input.len() {
            let (a, b) = input.split_at(at);
            assert_eq!(stream(&[a, b], include_usage).0, expected, "split at {at}");
        }
    }
}

#[test]
fn truncated_stream_is_reported() {
    let input = fixture!("chat_stream.ndjson");
    let last_line = input[..input.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap();
    let (chunks, end, conv) = stream(&[&input[..=last_line]], true);
    assert_eq!(chunks.len(), 3, "content chunks only");
    assert!(!conv.is_done());
    assert_eq!(conv.usage(), None);
    assert!(matches!(end, Err(ConvertError::Upstream { .. })));
}

#[test]
fn error_line_and_garbage_are_upstream_errors() {
    let (chunks, end, _) = stream(&[fixture!("chat_stream_error.ndjson")], false);
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        end,
        Err(ConvertError::Upstream {
            message: "an error was encountered while running the model: unexpected EOF".into()
        })
    );
    let mut conv = ChatStream::new(ID, CREATED, MODEL, false);
    assert!(matches!(
        conv.push_line(b"{\"done\":"),
        Err(ConvertError::Upstream { .. })
    ));
    assert!(matches!(
        conv.push_line(b"[1]"),
        Err(ConvertError::Upstream { .. })
    ));
    assert!(matches!(
        conv.push_line(b"{\"done\":1}"),
        Err(ConvertError::Upstream { .. })
    ));
    let done =
        br#"{"message":{"role":"assistant","content":""},"done":true,"done_reason":"length"}"#;
    let chunks = conv.push_line(done).unwrap();
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], "length");
    assert_eq!(conv.usage(), Some((0, 0)), "absent counts are zero");
    assert!(
        matches!(conv.push_line(done), Err(ConvertError::Upstream { .. })),
        "after done"
    );
}

#[test]
fn stream_thinking_and_content_on_done_line() {
    let mut conv = ChatStream::new(ID, CREATED, MODEL, false);
    let first = conv
        .push_line(
            br#"{"message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}"#,
        )
        .unwrap();
    assert_eq!(
        first[0]["choices"][0]["delta"],
        json!({ "role": "assistant", "content": "", "reasoning_content": "hmm" })
    );
    let last = conv
        .push_line(br#"{"message":{"role":"assistant","content":"ok"},"done":true,"eval_count":2}"#)
        .unwrap();
    assert_eq!(last.len(), 2);
    assert_eq!(last[0]["choices"][0]["delta"], json!({ "content": "ok" }));
    assert_eq!(last[1]["choices"][0]["finish_reason"], "stop");
    assert!(
        last[1].get("usage").is_none(),
        "no usage field without include_usage"
    );
}

#[test]
fn chat_response_errors_and_extras() {
    let err = chat_response(
        &json!({"error": "model \"x\" not found"}),
        ID,
        CREATED,
        MODEL,
    );
    assert_eq!(
        err,
        Err(ConvertError::Upstream {
            message: "model \"x\" not found".into()
        })
    );
    let not_done = json!({"message": {"role": "assistant", "content": "x"}, "done": false});
    assert!(matches!(
        chat_response(&not_done, ID, CREATED, MODEL),
        Err(ConvertError::Upstream { .. })
    ));
    let resp = json!({
        "message": {"role": "assistant", "content": "a", "thinking": "t",
                    "tool_calls": [{"id": "up_1", "function": {"name": "f", "arguments": {}}}]},
        "done": true, "done_reason": "length", "prompt_eval_count": 3, "eval_count": 4,
    });
    let got = chat_response(&resp, ID, CREATED, MODEL).unwrap();
    let choice = &got["choices"][0];
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(choice["message"]["content"], "a");
    assert_eq!(choice["message"]["reasoning_content"], "t");
    assert_eq!(
        choice["message"]["tool_calls"][0]["id"], "up_1",
        "upstream id kept"
    );
    assert_eq!(
        choice["message"]["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
    assert_eq!(got["usage"]["total_tokens"], 7);
}

#[test]
fn full_request_mapping() {
    let req = body(json!({
        "model": "auto",
        "stream": true,
        "stream_options": {"include_usage": true},
        "temperature": 0.2, "top_p": 0.9, "seed": 7,
        "presence_penalty": 0.5, "frequency_penalty": 0.25,
        "stop": "END", "max_tokens": 100, "max_completion_tokens": 50,
        "n": 1, "logprobs": false, "logit_bias": {}, "user": "u", "metadata": {"a": "b"},
        "parallel_tool_calls": false, "keep_alive": "10m", "top_logprobs": null,
        "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
        "tool_choice": "auto",
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                   "parameters": {"type": "object"}, "strict": true}}],
        "messages": [
            {"role": "developer", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "what is"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                {"type": "text", "text": "this?"}]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_9", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}]},
            {"role": "tool", "tool_call_id": "call_9", "content": [{"type": "text", "text": "11C"}]},
            {"role": "tool", "tool_call_id": "call_unknown", "content": "?"},
        ],
    }));
    let got = chat_request(&req, "llama3.2").unwrap();
    let expected = json!({
        "model": "llama3.2",
        "stream": true,
        "keep_alive": "10m",
        "format": {"type": "object"},
        "options": {"temperature": 0.2, "top_p": 0.9, "seed": 7, "presence_penalty": 0.5,
                    "frequency_penalty": 0.25, "stop": ["END"], "num_predict": 50},
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "d",
                   "parameters": {"type": "object"}}}],
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "what is\nthis?", "images": ["iVBORw0KGgo="]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}]},
            {"role": "tool", "content": "11C", "tool_name": "get_weather"},
            {"role": "tool", "content": "?"},
        ],
    });
    assert_eq!(got, expected);
}

#[test]
fn small_request_mappings() {
    let got = chat_request(&request(json!({})), "m").unwrap();
    assert_eq!(
        got,
        json!({"model": "m", "stream": false, "messages": [{"role": "user", "content": "hi"}]})
    );
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let got = chat_request(
        &request(json!({"tools": tools, "tool_choice": "none"})),
        "m",
    )
    .unwrap();
    assert!(got.get("tools").is_none(), "tool_choice none omits tools");
    let got = chat_request(
        &request(json!({"response_format": {"type": "json_object"}})),
        "m",
    )
    .unwrap();
    assert_eq!(got["format"], "json");
    let got = chat_request(&request(json!({"response_format": {"type": "text"}})), "m").unwrap();
    assert!(got.get("format").is_none());
    let got = chat_request(&request(json!({"stop": ["a", "b"], "max_tokens": 5})), "m").unwrap();
    assert_eq!(
        got["options"],
        json!({"stop": ["a", "b"], "num_predict": 5})
    );
    let got = chat_request(
        &request(json!({"modalities": ["text"], "top_logprobs": 0})),
        "m",
    )
    .unwrap();
    assert!(got.get("options").is_none());
}

#[test]
fn unsupported_parameters_are_named() {
    let cases = [
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 3}), "top_logprobs"),
        (json!({"logit_bias": {"50256": -100}}), "logit_bias"),
        (json!({"tool_choice": "required"}), "tool_choice"),
        (
            json!({"tool_choice": {"type": "function", "function": {"name": "f"}}}),
            "tool_choice",
        ),
        (json!({"modalities": ["text", "audio"]}), "modalities"),
        (json!({"audio": {"voice": "alloy"}}), "audio"),
        (json!({"reasoning_effort": "low"}), "reasoning_effort"),
        (json!({"functions": [{"name": "f"}]}), "functions"),
        (json!({"frobnicate": 1}), "frobnicate"),
        (
            json!({"response_format": {"type": "grammar"}}),
            "response_format",
        ),
        (
            json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]}),
            "tools[0].type",
        ),
    ];
    for (extra, param) in cases {
        assert_eq!(unsupported_param(chat_request(&request(extra), "m")), param);
    }
    let messages = [
        (
            json!({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "HTTPS://x/y.png"}}]}),
            "messages[0].content[0].image_url",
        ),
        (
            json!({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}),
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
        assert_eq!(unsupported_param(chat_request(&req, "m")), param);
    }
}

#[test]
fn invalid_requests_are_named() {
    let cases = [
        (json!({"messages": "hi"}), Some("messages")),
        (json!({"messages": []}), Some("messages")),
        (
            json!({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}),
            Some("messages[0].tool_calls"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "ftp://x/y.png"}}]}]}),
            Some("messages[0].content[0].image_url"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:text/plain;base64,AAAA"}}]}]}),
            Some("messages[0].content[0].image_url"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png,AAAA"}}]}]}),
            Some("messages[0].content[0].image_url"),
        ),
        (
            json!({"messages": [{"content": "x"}]}),
            Some("messages[0].role"),
        ),
        (
            json!({"messages": [{"role": "boss", "content": "x"}]}),
            Some("messages[0].role"),
        ),
        (
            json!({"messages": [{"role": "user"}]}),
            Some("messages[0].content"),
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            Some("messages[0].tool_call_id"),
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "{not json"}}]}]}),
            Some("messages[0].tool_calls[0].function.arguments"),
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
            "function": {"name": "f", "arguments": "[1]"}}]}]}),
            Some("messages[0].tool_calls[0].function.arguments"),
        ),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png;base64,not base64!"}}]}]}),
            Some("messages[0].content[0].image_url"),
        ),
        (
            json!({"messages": [{"role": "system", "content": [{"type": "image_url",
            "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}),
            Some("messages[0].content[0].image_url"),
        ),
        (json!({"stop": 5}), Some("stop")),
        (json!({"temperature": "hot"}), Some("temperature")),
        (json!({"max_tokens": 0}), Some("max_tokens")),
        (json!({"n": 0}), Some("n")),
        (json!({"stream": "yes"}), Some("stream")),
        (json!({"tool_choice": "sometimes"}), Some("tool_choice")),
    ];
    for (extra, param) in cases {
        let got = invalid_param(chat_request(&request(extra.clone()), "m"));
        assert_eq!(got.as_deref(), param, "{extra}");
    }
    let mut no_messages = request(json!({}));
    no_messages.remove("messages");
    assert_eq!(
        invalid_param(chat_request(&no_messages, "m")).as_deref(),
        Some("messages")
    );
}

#[test]
fn embeddings() {
    let req = body(
        json!({"model": "e", "input": ["a", "b"], "dimensions": 256, "user": "u",
                          "encoding_format": "float"}),
    );
    let call = embed_request(&req, "all-minilm").unwrap();
    assert_eq!(
        call.body,
        json!({"model": "all-minilm", "input": ["a", "b"], "dimensions": 256})
    );
    assert_eq!((call.inputs, call.encoding), (2, EmbeddingEncoding::Float));
    let got = embed_response(
        &parse(fixture!("embed.json")),
        "text-embedding-local",
        &call,
    )
    .unwrap();
    assert_eq!(got, parse(fixture!("embed.expected.json")));

    let one = embed_request(&body(json!({"model": "e", "input": "a"})), "m").unwrap();
    assert!(matches!(
        embed_response(&parse(fixture!("embed.json")), "m", &one),
        Err(ConvertError::Upstream { .. })
    ));
    let b64 = embed_request(
        &body(json!({"model": "e", "input": ["x", "y"], "encoding_format": "base64"})),
        "m",
    )
    .unwrap();
    let resp = json!({"embeddings": [[1.0, -2.0], [0.5, 0.25, -1.5]], "prompt_eval_count": 3});
    let got = embed_response(&resp, "m", &b64).unwrap();
    assert_eq!(got["data"][0]["embedding"], "AACAPwAAAMA=");
    assert_eq!(got["data"][1]["embedding"], "AAAAPwAAgD4AAMC/");
    assert_eq!(got["usage"], json!({"prompt_tokens": 3, "total_tokens": 3}));
    let bad = json!({"embeddings": [["x"], [1]]});
    assert!(matches!(
        embed_response(&bad, "m", &b64),
        Err(ConvertError::Upstream { .. })
    ));

    let refused = |extra: Value| match embed_request(&body(extra), "m") {
        Err(ConvertError::Unsupported { param, .. }) => param,
        other => panic!("expected Unsupported, got {other:?}"),
    };
    assert_eq!(refused(json!({"input": [1, 2, 3]})), "input");
    assert_eq!(refused(json!({"input": [[1, 2], [3]]})), "input");
    assert_eq!(
        refused(json!({"input": "a", "truncate": false})),
        "truncate"
    );
    let invalid = |extra: Value| {
        matches!(
            embed_request(&body(extra), "m"),
            Err(ConvertError::Invalid { .. })
        )
    };
    assert!(invalid(json!({"input": []})));
    assert!(invalid(json!({"input": ["a", 1]})));
    assert!(invalid(json!({"model": "e"})));
    assert!(invalid(json!({"input": "a", "encoding_format": "int8"})));
    assert!(invalid(json!({"input": "a", "dimensions": 0})));
}

#[test]
fn tags_and_error_bodies() {
    assert_eq!(
        tags_models(&parse(fixture!("tags.json"))).unwrap(),
        vec!["codellama:13b", "llama3:latest"]
    );
    assert_eq!(
        tags_models(&json!({"models": []})).unwrap(),
        Vec::<String>::new()
    );
    assert!(matches!(
        tags_models(&json!({})),
        Err(ConvertError::Upstream { .. })
    ));
    assert!(matches!(
        tags_models(&json!({"models": [{"size": 1}]})),
        Err(ConvertError::Upstream { .. })
    ));
    assert_eq!(
        error_message(br#"{"error":"model 'x' not found"}"#).as_deref(),
        Some("model 'x' not found")
    );
    assert_eq!(error_message(b"<html>bad gateway</html>"), None);
    assert_eq!(error_message(br#"{"error":{"message":"x"}}"#), None);
    let long = format!(r#"{{"error":"{}"}}"#, "é".repeat(400));
    let text = error_message(long.as_bytes()).unwrap();
    assert!(text.len() <= 512 && text.chars().all(|c| c == 'é'));
}

#[test]
fn stream_never_panics_on_prefixes_and_noise() {
    for input in [
        &fixture!("chat_stream.ndjson")[..],
        &fixture!("chat_stream_tools.ndjson")[..],
        &fixture!("chat.json")[..],
    ] {
        for end in 0..=input.len() {
            let mut conv = ChatStream::new(ID, CREATED, MODEL, true);
            let _ = conv.push_line(&input[..end]);
            let _ = chat_response(
                &serde_json::from_slice(&input[..end]).unwrap_or(Value::Null),
                ID,
                0,
                MODEL,
            );
        }
    }
    for odd in [
        json!(null),
        json!(1),
        json!({"message": 1}),
        json!({"message": {"tool_calls": [1]}}),
        json!({"message": {"content": 5}}),
        json!({"done": true, "eval_count": -1}),
        json!({"done": true, "done_reason": 5}),
    ] {
        let mut conv = ChatStream::new(ID, CREATED, MODEL, true);
        assert!(conv.push_line(odd.to_string().as_bytes()).is_err(), "{odd}");
    }
}

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
fn requests_never_panic_on_odd_values() {
    let chat = json!({
        "model": "auto", "stream": true, "temperature": 0.2, "stop": ["a"], "max_tokens": 9,
        "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}},
        "tool_choice": "auto",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
            {"role": "assistant", "content": "x", "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"},
        ],
    });
    let variants = mutations(&chat);
    assert!(variants.len() > 300);
    for variant in variants {
        if let Value::Object(map) = variant {
            let _ = chat_request(&map, "m");
        }
    }
    let embed =
        json!({"model": "e", "input": ["a", "b"], "dimensions": 8, "encoding_format": "base64"});
    for variant in mutations(&embed) {
        if let Value::Object(map) = variant
            && let Ok(call) = embed_request(&map, "m")
        {
            let _ = embed_response(&json!({"embeddings": [[1.0], [2.0]]}), "m", &call);
        }
    }
}
