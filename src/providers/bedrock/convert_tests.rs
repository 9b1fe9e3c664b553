use super::*;

fn convert(body: Value) -> Result<Value, ConvertError> {
    chat_request(body.as_object().expect("object"))
}

#[test]
fn a_full_conversation_maps_to_converse() {
    let req = json!({
        "model": "m", "stream": true, "stream_options": {"include_usage": true},
        "max_tokens": 300, "max_completion_tokens": 200, "temperature": 0.2, "top_p": 0.9,
        "stop": "END", "user": "u1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is here?"},
                {"type": "image_url", "image_url": {"url": "data:image/PNG;base64,iVBORw0K", "detail": "low"}}
            ]},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "tooluse_1", "type": "function", "function": {"name": "look", "arguments": "{\"x\":1}"}}
            ]},
            {"role": "tool", "tool_call_id": "tooluse_1", "content": "a cat"},
            {"role": "user", "content": "Thanks."}
        ],
        "tools": [{"type": "function", "function": {"name": "look", "description": "Looks.",
                   "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}}}],
        "tool_choice": "required"
    });
    let out = convert(req).expect("converts");
    assert_eq!(
        out,
        json!({
            "system": [{"text": "Be brief."}, {"text": "Use tools."}],
            "messages": [
                {"role": "user", "content": [
                    {"text": "What is here?"},
                    {"image": {"format": "png", "source": {"bytes": "iVBORw0K"}}}
                ]},
                {"role": "assistant", "content": [
                    {"toolUse": {"toolUseId": "tooluse_1", "name": "look", "input": {"x": 1}}}
                ]},
                {"role": "user", "content": [
                    {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "a cat"}]}},
                    {"text": "Thanks."}
                ]}
            ],
            "toolConfig": {
                "tools": [{"toolSpec": {"name": "look", "description": "Looks.", "inputSchema": {"json":
                    {"type": "object", "properties": {"x": {"type": "integer"}}}}}}],
                "toolChoice": {"any": {}}
            },
            "inferenceConfig": {"maxTokens": 200, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]}
        })
    );
}

#[test]
fn tool_choices() {
    let tools = json!([{"type": "function", "function": {"name": "f"}}]);
    let with = |choice: Value| {
        convert(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "tool_choice": choice}),
        )
    };
    let auto = with(json!("auto")).expect("auto");
    assert_eq!(auto["toolConfig"].get("toolChoice"), None);
    assert_eq!(
        auto["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"],
        json!({"json": {"type": "object", "properties": {}}})
    );
    assert_eq!(
        with(json!({"type": "function", "function": {"name": "f"}})).expect("named")["toolConfig"]
            ["toolChoice"],
        json!({"tool": {"name": "f"}})
    );
    // `none` without tool history: the tools are left out.
    assert_eq!(with(json!("none")).expect("none").get("toolConfig"), None);
    assert!(matches!(
        with(json!({"type": "function", "function": {"name": "g"}})),
        Err(ConvertError::Invalid { .. })
    ));
    // `none` with tool history cannot be honoured.
    let history = json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "t", "content": "ok"}
    ], "tools": tools, "tool_choice": "none"});
    assert!(
        matches!(convert(history), Err(ConvertError::Unsupported { param, .. }) if param == "tool_choice")
    );
    let forced =
        json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"});
    assert!(matches!(convert(forced), Err(ConvertError::Invalid { .. })));
    let one = json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "parallel_tool_calls": false});
    assert!(
        matches!(convert(one), Err(ConvertError::Unsupported { param, .. }) if param == "parallel_tool_calls")
    );
}

#[test]
fn what_cannot_be_translated_is_refused_by_name() {
    let base = |k: &str, v: Value| {
        let mut req = json!({"messages": [{"role": "user", "content": "hi"}]});
        req[k] = v;
        convert(req)
    };
    for (key, value) in [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(3)),
        ("logit_bias", json!({"1": 5})),
        ("presence_penalty", json!(0.5)),
        ("seed", json!(7)),
        ("response_format", json!({"type": "json_object"})),
        ("modalities", json!(["text", "audio"])),
        ("reasoning_effort", json!("high")),
        ("functions", json!([])),
    ] {
        match base(key, value) {
            Err(ConvertError::Unsupported { param, .. }) => assert_eq!(param, key),
            other => panic!("{key}: {other:?}"),
        }
    }
    for (key, value) in [
        ("n", json!(1)),
        ("logprobs", json!(false)),
        ("presence_penalty", json!(0)),
        ("response_format", json!({"type": "text"})),
        ("metadata", json!({"a": "b"})),
        ("seed", Value::Null),
    ] {
        assert!(base(key, value).is_ok(), "{key}");
    }
    let image = |url: &str| {
        convert(json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}]}]}))
    };
    assert!(matches!(
        image("https://x/y.png"),
        Err(ConvertError::Unsupported { .. })
    ));
    assert!(matches!(
        image("data:image/bmp;base64,AAAA"),
        Err(ConvertError::Unsupported { .. })
    ));
    assert!(matches!(
        image("data:image/png,AAAA"),
        Err(ConvertError::Invalid { .. })
    ));
    let audio = json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]});
    assert!(matches!(
        convert(audio),
        Err(ConvertError::Unsupported { .. })
    ));
    assert!(matches!(
        convert(json!({"messages": [{"role": "system", "content": "only"}]})),
        Err(ConvertError::Invalid { .. })
    ));
}

#[test]
fn errors_never_quote_the_prompt() {
    let secret = "my-secret-prompt-text";
    let req = json!({"messages": [{"role": "user", "content": [{"type": secret, "x": secret}]}]});
    let e = convert(req).expect_err("unknown part");
    assert!(!e.to_string().contains("secret-prompt"), "{e}");
}
