use super::*;
use crate::openai::Field;

fn chat(body: Value) -> ChatRequest {
    parse(&serde_json::to_vec(&body).expect("json")).unwrap_or_else(|e| panic!("{e:?}"))
}

fn refused(body: Value) -> RequestError {
    parse(&serde_json::to_vec(&body).expect("json")).expect_err("refused")
}

fn internal(r: &ChatRequest) -> Value {
    Value::Object((*r.body).clone())
}

#[test]
fn a_full_conversation_becomes_the_openai_body() {
    let r = chat(json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
                   {"type": "text", "text": "Use tools."}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Weather in Paris?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Thanks"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                    {"type": "text", "text": "18C"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "BBBB"}}]}]},
            {"role": "assistant", "content": "Sunny."}
        ],
        "tools": [{"name": "get_weather", "description": "Weather", "input_schema":
            {"type": "object", "properties": {"city": {"type": "string"}}}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
        "stop_sequences": ["END"],
        "temperature": 0.5,
        "top_p": 0.9,
        "stream": true,
        "metadata": {"user_id": "u-1"},
        "thinking": {"type": "disabled"}
    }));
    assert_eq!(
        internal(&r),
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 256,
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "Be brief."},
                                               {"type": "text", "text": "Use tools."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}}]},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "toolu_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
                {"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,BBBB"}},
                    {"type": "text", "text": "Thanks"}]},
                {"role": "assistant", "content": "Sunny."}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "stop": ["END"],
            "temperature": 0.5,
            "top_p": 0.9,
            "stream": true,
            "stream_options": {"include_usage": true}
        })
    );
    assert!(r.stream && r.include_usage && r.has_tools);
    assert_eq!(r.max_tokens, Some(256));
}

#[test]
fn every_text_is_a_segment_to_scan() {
    let r = chat(json!({
        "model": "m", "max_tokens": 1,
        "system": "sys",
        "messages": [
            {"role": "user", "content": "u"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": "arg"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "result"},
                {"type": "tool_result", "tool_use_id": "t2", "content": [
                    {"type": "text", "text": "r1"}, {"type": "text", "text": "r2"}]},
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}}]}
        ]
    }));
    let (segs, un) = r.segments();
    let texts: Vec<(&str, Field)> = segs.iter().map(|s| (s.text, s.field)).collect();
    assert_eq!(
        texts,
        vec![
            ("sys", Field::Content),
            ("u", Field::Content),
            ("lookup", Field::ToolName(0)),
            ("{\"q\":\"arg\"}", Field::ToolArguments(0)),
            ("result", Field::Content),
            ("r1", Field::Content),
            ("r2", Field::Content),
            ("doc", Field::Content),
        ]
    );
    assert!(!un.any());
}

#[test]
fn pdf_documents_are_unscannable_files() {
    let r = chat(
        json!({"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
        {"type": "text", "text": "Summarise"}]}]}),
    );
    assert_eq!(r.segments().1.files, 1);
}

#[test]
fn strings_and_empty_parts() {
    let r = chat(json!({"model": "m", "max_tokens": 5, "system": "",
        "messages": [{"role": "user", "content": "hi"},
                     {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]},
                     {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "again"}]}]}));
    assert_eq!(
        internal(&r)["messages"],
        json!([{"role": "user", "content": "hi"},
               {"role": "user", "content": "again"}])
    );
    assert!(!r.stream && !r.include_usage && !r.has_tools);
}

#[test]
fn tool_choices() {
    let tools = json!([{"name": "f", "input_schema": {"type": "object"}}]);
    for (choice, want) in [
        (json!({"type": "auto"}), json!("auto")),
        (json!({"type": "none"}), json!("none")),
        (
            json!({"type": "tool", "name": "f"}),
            json!({"type": "function", "function": {"name": "f"}}),
        ),
    ] {
        let r = chat(
            json!({"model": "m", "max_tokens": 1, "tools": tools, "tool_choice": choice,
            "messages": [{"role": "user", "content": "x"}]}),
        );
        assert_eq!(internal(&r)["tool_choice"], want);
        assert!(internal(&r).get("parallel_tool_calls").is_none());
    }
    // Without tools: auto and none are dropped, a forced choice is refused.
    let r = chat(
        json!({"model": "m", "max_tokens": 1, "tool_choice": {"type": "auto"},
        "messages": [{"role": "user", "content": "x"}]}),
    );
    assert!(internal(&r).get("tool_choice").is_none());
    let e = refused(
        json!({"model": "m", "max_tokens": 1, "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "x"}]}),
    );
    assert_eq!(e.param.as_deref(), Some("tool_choice"));
}

#[test]
fn bad_bodies_name_the_field() {
    let user = json!([{"role": "user", "content": "x"}]);
    for (body, param) in [
        (json!({"model": "m", "messages": user}), "max_tokens"),
        (
            json!({"model": "m", "max_tokens": 0, "messages": user}),
            "max_tokens",
        ),
        (
            json!({"model": "m", "max_tokens": "5", "messages": user}),
            "max_tokens",
        ),
        (json!({"max_tokens": 5, "messages": user}), "model"),
        (
            json!({"model": 5, "max_tokens": 5, "messages": user}),
            "model",
        ),
        (json!({"model": "m", "max_tokens": 5}), "messages"),
        (
            json!({"model": "m", "max_tokens": 5, "messages": []}),
            "messages",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": "hi"}),
            "messages",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}),
            "messages.0.role",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user"}]}),
            "messages.0.content",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}),
            "messages.0.content",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"text": "x"}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "text", "text": 1}]}]}),
            "messages.0.content.0.text",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
            "messages.0.content.0.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": "AA"}}]}]}),
            "messages.0.content.0.source.media_type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}),
            "messages.0.content.0.tool_use_id",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": "x"}]}]}),
            "messages.0.content.0.input",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "stream": "yes"}),
            "stream",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "temperature": 1.5}),
            "temperature",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "stop_sequences": [1]}),
            "stop_sequences",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "top_k": 5}),
            "top_k",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "n": 2}),
            "n",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "system": 5}),
            "system",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "system": [{"type": "image"}]}),
            "system.0.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools.0.type",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "tools": [{"name": "f"}]}),
            "tools.0.input_schema",
        ),
        (
            json!({"model": "m", "max_tokens": 5, "messages": user, "tool_choice": {"type": "sometimes"}}),
            "tool_choice.type",
        ),
    ] {
        let e = refused(body.clone());
        assert_eq!(e.param.as_deref(), Some(param), "{body}: {e:?}");
    }
    for bytes in [
        &b"{"[..],
        b"[1]",
        b"{\"model\":\"\xff\"}",
        b"{\"a\":1,\"a\":2}",
    ] {
        let e = parse(bytes).expect_err("refused");
        assert!(e.param.is_none(), "{e:?}");
    }
}

#[test]
fn count_tokens_needs_no_max_tokens() {
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]});
    let r = parse_count_tokens(&serde_json::to_vec(&body).expect("json")).expect("valid");
    assert_eq!(r.max_tokens, None);
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_shuffled_json(depth in 0usize..3, s in "[a-z_]{0,12}", n in any::<i64>()) {
            let leaf = match depth {
                0 => json!(s),
                1 => json!(n),
                _ => json!([{"type": s, "text": s, "source": {"type": s}}]),
            };
            let body = json!({"model": "m", "max_tokens": 1, "system": leaf.clone(),
                "messages": [{"role": "user", "content": leaf.clone()},
                             {"role": "assistant", "content": leaf.clone()}],
                "tools": [{"name": s, "input_schema": leaf.clone()}],
                "tool_choice": {"type": s, "name": leaf}});
            let _ = parse(&serde_json::to_vec(&body).expect("json"));
        }
    }
}
