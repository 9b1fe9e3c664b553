use super::*;

#[test]
fn a_converse_answer_becomes_a_chat_completion() {
    let resp = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig"}}},
            {"text": "Hello"}, {"text": " there."}
        ]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 3, "totalTokens": 23,
                  "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2},
        "metrics": {"latencyMs": 100}
    });
    let out = chat_response(&resp, "chatcmpl-1", 7, "m").expect("converts");
    assert_eq!(
        out,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 7, "model": "m",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop", "message": {
                "role": "assistant", "content": "Hello there.", "refusal": null,
                "reasoning_content": "Think."}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23,
                      "prompt_tokens_details": {"cached_tokens": 8}}
        })
    );
}

#[test]
fn tool_uses_become_tool_calls() {
    let resp = json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "f", "input": {"a": [1]}}}
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 1, "outputTokens": 2, "totalTokens": 3}
    });
    let out = chat_response(&resp, "chatcmpl-1", 7, "m").expect("converts");
    let choice = &out["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([{"id": "tooluse_1", "type": "function",
                "function": {"name": "f", "arguments": "{\"a\":[1]}"}}])
    );
}

#[test]
fn stop_reasons() {
    for (reason, want) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("something_new", "stop"),
    ] {
        assert_eq!(finish_reason(Some(reason), false), Ok(want), "{reason}");
    }
    assert_eq!(finish_reason(None, true), Ok("tool_calls"));
    for reason in ["malformed_model_output", "malformed_tool_use"] {
        assert!(finish_reason(Some(reason), false).is_err());
    }
}

#[test]
fn malformed_answers_are_upstream_errors() {
    for bad in [
        json!([]),
        json!({"output": {}}),
        json!({"output": {"message": {"content": [{"text": 5}]}}}),
        json!({"output": {"message": {"content": [{"toolUse": {"name": "f"}}]}}}),
        json!({"output": {"message": {"content": []}}, "usage": {"inputTokens": -1}}),
    ] {
        assert!(
            matches!(
                chat_response(&bad, "c", 1, "m"),
                Err(ConvertError::Upstream { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn stream_events_out_of_order_are_errors() {
    let mut s = ChunkStream::new("c", 1, "m", false);
    assert!(
        s.push_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"x"}}"#
        )
        .is_err()
    );
    let mut s = ChunkStream::new("c", 1, "m", false);
    s.push_event("messageStart", br#"{"role":"assistant"}"#)
        .expect("start");
    assert!(
        s.push_event("messageStart", br#"{"role":"assistant"}"#)
            .is_err()
    );
    let mut s = ChunkStream::new("c", 1, "m", false);
    s.push_event("messageStart", br#"{"role":"assistant"}"#)
        .expect("start");
    s.push_event(
        "contentBlockStart",
        br#"{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}"#,
    )
    .expect("tool start");
    assert!(
        s.push_event(
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"x"}}"#
        )
        .is_err()
    );
    // Unknown events are skipped; malformed ones are not.
    let mut s = ChunkStream::new("c", 1, "m", true);
    s.push_event("messageStart", br#"{"role":"assistant"}"#)
        .expect("start");
    assert_eq!(
        s.push_event("somethingNew", b"{}").expect("skipped"),
        Vec::<Value>::new()
    );
    assert!(s.push_event("contentBlockDelta", b"not json").is_err());
    // A stop without metadata still ends with the usage chunk.
    let mut s = ChunkStream::new("c", 1, "m", true);
    s.push_event("messageStart", br#"{"role":"assistant"}"#)
        .expect("start");
    let finish = s
        .push_event("messageStop", br#"{"stopReason":"max_tokens"}"#)
        .expect("stop");
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "length");
    let end = s.finish().expect("usage");
    assert_eq!(end[0]["choices"], json!([]));
    assert!(s.is_done());
}
