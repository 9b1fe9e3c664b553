use super::*;
use crate::config::{Auth, Caps, KeyState, Protocol};
use crate::types::Tier;
use serde_json::json;
use std::collections::HashMap;

fn backend(api_version: &str) -> Backend {
    Backend {
        name: "azure".into(),
        protocol: Protocol::AzureOpenAi,
        base_url: "https://acme.openai.azure.com".into(),
        tier: Tier::PrivateCloud,
        models: vec!["gpt-4o-prod".into()],
        key: KeyState::NotNeeded,
        auth: Auth::ApiKey,
        caps: Caps::default_for(Tier::PrivateCloud),
        model_caps: HashMap::new(),
        prices: HashMap::new(),
        monthly_cost_usd: None,
        tokens_per_second: None,
        default_max_tokens: 4096,
        api_version: api_version.into(),
        health_path: None,
        capacity: None,
        headers: Vec::new(),
        drop_fields: Vec::new(),
        egress: None,
        region: String::new(),
        aws: None,
    }
}

#[test]
fn urls_name_the_deployment_and_the_api_version() {
    let b = backend("2024-10-21");
    assert_eq!(
        url(&b, "gpt-4o-prod", "chat/completions").unwrap(),
        "https://acme.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(
        url(&backend("2025-04-01-preview"), "ada.v2", "embeddings").unwrap(),
        "https://acme.openai.azure.com/openai/deployments/ada.v2/embeddings?api-version=2025-04-01-preview"
    );
    // A caller-named model goes into the path: nothing that could leave it.
    for bad in ["../x", "a/b", "a?x=1", "", ".hidden", "a b", "a%2Fb"] {
        assert!(
            matches!(
                url(&b, bad, "embeddings"),
                Err(ConvertError::Invalid { param: Some(ref p), .. }) if p == "model"
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn json_answers_lose_azure_fields_only() {
    let azure = json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}}],
        "choices": [{
            "index": 0, "finish_reason": "stop", "logprobs": null,
            "message": {"role": "assistant", "content": "hi"},
            "content_filter_results": {"hate": {"filtered": false, "severity": "safe"}}
        }],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    });
    let out = clean_json(Bytes::from(azure.to_string())).unwrap();
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
            "choices": [{
                "index": 0, "finish_reason": "stop", "logprobs": null,
                "message": {"role": "assistant", "content": "hi"}
            }],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        })
    );
    // Without Azure fields the bytes pass as they came, even if the text
    // mentions one of their names.
    let plain = Bytes::from_static(
        br#"{"choices":[{"message":{"content":"a prompt_filter_results field"}}]}"#,
    );
    assert_eq!(clean_json(plain.clone()).unwrap(), plain);
    assert!(clean_json(Bytes::from_static(b"not json")).is_none());
    assert!(clean_json(Bytes::from_static(b"{\"filter_\": ")).is_none());
}

#[test]
fn stream_chunks_with_only_azure_fields_are_dropped() {
    // Azure's first chunk: no choices, only the prompt's filter results.
    let first = json!({
        "id": "", "object": "", "created": 0, "model": "", "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]
    });
    assert_eq!(chunk(&first.to_string()), Chunk::Drop);
    // The include_usage chunk also has no choices: kept.
    let usage = json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    });
    assert_eq!(chunk(&usage.to_string()), Chunk::Keep);
    // ... also when Azure adds its fields to it.
    let mut usage_azure = usage.clone();
    usage_azure["prompt_filter_results"] = json!([]);
    assert_eq!(chunk(&usage_azure.to_string()), Chunk::Cleaned(usage));
    // A content chunk loses its per-choice filter results.
    let delta = json!({
        "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": null,
                     "content_filter_results": {"hate": {"filtered": false}},
                     "content_filter_offsets": {"start_offset": 0}}]
    });
    let Chunk::Cleaned(v) = chunk(&delta.to_string()) else {
        panic!("not cleaned")
    };
    assert_eq!(
        v["choices"][0],
        json!({"index": 0, "delta": {"content": "hi"}, "finish_reason": null})
    );
    // A content_filter finish passes through.
    let stop = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter"}]});
    assert_eq!(chunk(&stop.to_string()), Chunk::Keep);
}

#[test]
fn the_framer_drops_the_first_chunk_and_commits_on_content() {
    let mut f = Chunks {
        decoder: SseDecoder::new(64 * 1024),
        started: false,
        done: false,
    };
    let first = r#"data: {"id":"","choices":[],"prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}"#;
    let mut out = BytesMut::new();
    f.push(format!("{first}\n\n").as_bytes(), &mut out).unwrap();
    assert!(out.is_empty() && !f.started(), "{out:?}");
    let delta = r#"data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"},"content_filter_results":{}}]}"#;
    // Split mid-event: the decoder reassembles it.
    let text = format!("{delta}\n\ndata: [DONE]\n\n");
    let (a, b) = text.split_at(20);
    f.push(a.as_bytes(), &mut out).unwrap();
    f.push(b.as_bytes(), &mut out).unwrap();
    assert!(f.started());
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"index\":0}],\"id\":\"c\"}\n\ndata: [DONE]\n\n"
    );
    assert!(f.finish(&mut out).is_ok());
}

#[test]
fn content_filter_refusals_are_recognised() {
    let body = json!({"error": {
        "code": "content_filter", "message": "The prompt was filtered: it says <secret prompt text>",
        "param": "prompt", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": {"filtered": false, "severity": "safe"},
            "violence": {"filtered": true, "severity": "high"},
            "jailbreak": {"filtered": true, "detected": true},
            "<made up>": {"filtered": true}
        }}
    }});
    assert_eq!(
        content_filter(body.to_string().as_bytes()),
        Some(ConvertError::ContentFilter {
            message: "the backend's content filter blocked the prompt (violence, jailbreak)".into()
        })
    );
    let bare = json!({"error": {"code": "content_filter", "message": "x"}});
    assert_eq!(
        content_filter(bare.to_string().as_bytes()),
        Some(ConvertError::ContentFilter {
            message: "the backend's content filter blocked the prompt".into()
        })
    );
    let other = json!({"error": {"code": "context_length_exceeded", "message": "x"}});
    assert_eq!(content_filter(other.to_string().as_bytes()), None);
    assert_eq!(content_filter(b"oops"), None);
}
