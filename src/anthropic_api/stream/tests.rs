use super::*;

/// The events written, as `(name, data)`.
fn events(out: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(out).expect("utf8");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("two lines");
            let name = name.strip_prefix("event: ").expect("event line");
            let data = data.strip_prefix("data: ").expect("data line");
            (name.to_owned(), serde_json::from_str(data).expect("json"))
        })
        .collect()
}

fn names(ev: &[(String, Value)]) -> Vec<&str> {
    ev.iter().map(|(n, _)| n.as_str()).collect()
}

fn chunk(delta: Value, finish: Value) -> String {
    json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

fn run(datas: &[String], done: bool) -> Vec<(String, Value)> {
    let mut t = Translator::new("msg_1", "m", 12);
    let mut out = Vec::new();
    for d in datas {
        t.push(d, &mut out);
    }
    if done {
        t.push("[DONE]", &mut out);
    }
    t.finish(&mut out);
    events(&out)
}

#[test]
fn text_stream_with_usage() {
    let ev = run(
        &[
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "Hel"}), Value::Null),
            chunk(json!({"content": "lo"}), Value::Null),
            chunk(json!({}), json!("stop")),
            json!({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2,
                "prompt_tokens_details": {"cached_tokens": 4}}})
            .to_string(),
        ],
        true,
    );
    assert_eq!(
        names(&ev),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(ev[0].1["message"]["id"], "msg_1");
    assert_eq!(ev[0].1["message"]["usage"]["input_tokens"], 12);
    assert_eq!(
        ev[2].1,
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    );
    assert_eq!(
        ev[3].1["delta"],
        json!({"type": "text_delta", "text": "Hel"})
    );
    assert_eq!(
        ev[6].1,
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"input_tokens": 5, "cache_read_input_tokens": 4, "output_tokens": 2}})
    );
}

#[test]
fn tool_calls_become_blocks_in_order() {
    let ev = run(
        &[
            chunk(
                json!({"role": "assistant", "content": "Let me check."}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
                Value::Null,
            ),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                "function": {"name": "get_time", "arguments": "{}"}}]}),
                Value::Null,
            ),
            chunk(json!({}), json!("tool_calls")),
        ],
        true,
    );
    assert_eq!(
        names(&ev),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        ev[5].1,
        json!({"type": "content_block_start", "index": 1, "content_block":
            {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {}}})
    );
    let args: String = ev
        .iter()
        .filter(|(_, v)| v["index"] == 1 && v["delta"]["type"] == "input_json_delta")
        .map(|(_, v)| v["delta"]["partial_json"].as_str().expect("str").to_owned())
        .collect();
    assert_eq!(args, "{\"city\":\"Paris\"}");
    assert_eq!(ev[9].1["index"], 2);
    assert_eq!(ev[12].1["delta"]["stop_reason"], "tool_use");
    // No usage reported: output estimated from the text.
    assert_eq!(ev[12].1["usage"], json!({"output_tokens": 4}));
}

#[test]
fn error_events_end_the_stream() {
    let ev = run(
        &[
            chunk(json!({"content": "par"}), Value::Null),
            json!({"error": {"message": "backend x: the connection was lost", "type": "api_error",
                "param": null, "code": "upstream_error"}})
            .to_string(),
            chunk(json!({"content": "ignored"}), Value::Null),
        ],
        true,
    );
    let last = ev.last().expect("events");
    assert_eq!(last.0, "error");
    assert_eq!(
        last.1,
        json!({"type": "error", "error": {"type": "api_error",
            "message": "backend x: the connection was lost"}})
    );
    assert_eq!(ev.iter().filter(|(n, _)| n == "error").count(), 1);
    assert!(!names(&ev).contains(&"message_stop"));
}

#[test]
fn a_cut_stream_is_an_error_and_a_finished_one_is_not() {
    let ev = run(&[chunk(json!({"content": "par"}), Value::Null)], false);
    assert_eq!(ev.last().expect("events").0, "error");
    let ev = run(
        &[
            chunk(json!({"content": "whole"}), Value::Null),
            chunk(json!({}), json!("length")),
        ],
        false,
    );
    assert_eq!(ev.last().expect("events").0, "message_stop");
    assert_eq!(ev[ev.len() - 2].1["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn an_empty_answer_still_opens_and_closes_the_message() {
    let ev = run(&[], true);
    assert_eq!(
        names(&ev),
        ["message_start", "ping", "message_delta", "message_stop"]
    );
}

#[test]
fn malformed_chunks_and_late_arguments_are_errors_not_panics() {
    for bad in [
        vec!["not json".to_owned()],
        vec![chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
            Value::Null,
        )],
        vec![
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}]}),
                Value::Null,
            ),
            chunk(json!({"content": "text"}), Value::Null),
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
                Value::Null,
            ),
        ],
    ] {
        let ev = run(&bad, true);
        assert_eq!(ev.last().expect("events").0, "error", "{bad:?}");
    }
    // Odd but harmless shapes pass.
    let ev = run(
        &[
            json!({"choices": "x"}).to_string(),
            json!({"choices": [{"delta": {"content": 5}}]}).to_string(),
            json!([1]).to_string(),
        ],
        true,
    );
    assert_eq!(ev.last().expect("events").0, "message_stop");
}
