//! An in-process fake of Azure OpenAI on 127.0.0.1:0, from its REST
//! reference: `POST /openai/deployments/{deployment}/chat/completions` and
//! `/embeddings`, and `GET /openai/models`, each with `api-version` in the
//! query. It checks what the real service checks that matters here: the
//! `api-key` header (or an Entra ID bearer token), the `api-version`, the
//! deployment name. It answers as Azure does: `prompt_filter_results` and
//! per-choice `content_filter_results` in answers, a first stream chunk
//! with `"choices": []` and only the prompt's filter results; a prompt with
//! `BLOCKME` is refused 400 `content_filter`, one with `RATELIMIT` 429 with
//! `retry-after-ms` and `retry-after`. Given tools it calls the first one
//! (`tool_calls`, streamed as OpenAI does), answers a tool result with its
//! text, and counts the images of the last message.

use super::{Fake, St, chunked, record, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The key (or token) the fake accepts.
pub const KEY: &str = super::KEY;

fn error(status: u16, code: &str, message: &str) -> Response {
    let body = json!({"error": {"code": code, "message": message}});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

fn filter_results() -> Value {
    json!({
        "hate": {"filtered": false, "severity": "safe"},
        "self_harm": {"filtered": false, "severity": "safe"},
        "sexual": {"filtered": false, "severity": "safe"},
        "violence": {"filtered": false, "severity": "safe"}
    })
}

fn prompt_filter_results() -> Value {
    json!([{"prompt_index": 0, "content_filter_results": filter_results()}])
}

/// The checks every call passes: key, api-version, deployment.
fn check(
    headers: &HeaderMap,
    query: Option<&str>,
    version: &str,
    deployment: Option<(&str, &[String])>,
) -> Option<Response> {
    let key = headers.get("api-key").and_then(|v| v.to_str().ok());
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if key != Some(KEY) && bearer != Some(KEY) {
        return Some(error(
            401,
            "401",
            "Access denied due to invalid subscription key or wrong API endpoint.",
        ));
    }
    let want = format!("api-version={version}");
    if !query.is_some_and(|q| q.split('&').any(|p| p == want)) {
        return Some(error(404, "404", "Resource not found"));
    }
    if let Some((name, known)) = deployment
        && !known.iter().any(|k| k == name)
    {
        return Some(error(
            404,
            "DeploymentNotFound",
            "The API deployment for this resource does not exist.",
        ));
    }
    None
}

/// The last message of the conversation.
fn last(req: &Value) -> &Value {
    req["messages"]
        .as_array()
        .and_then(|m| m.last())
        .unwrap_or(&Value::Null)
}

/// A message's text: string content, or its text parts joined.
fn text_of(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// What the model says: text, or one call of the first tool (unless
/// `tool_choice` is `none`); a tool result is answered with its text, and
/// the images of the last message are counted.
fn answer(req: &Value) -> (String, Option<String>) {
    let last = last(req);
    if last["role"] == "tool" {
        return (format!("Tool said: {}.", text_of(last)), None);
    }
    if let Some(name) = req["tools"][0]["function"]["name"]
        .as_str()
        .filter(|_| req["tool_choice"] != "none")
    {
        return (String::new(), Some(name.to_owned()));
    }
    let images = last["content"]
        .as_array()
        .map_or(0, |p| p.iter().filter(|p| p["type"] == "image_url").count());
    if images > 0 {
        (format!("I see {images} images."), None)
    } else {
        ("Hello from the fake Azure.".into(), None)
    }
}

const CALL_ID: &str = "call_azure_weather";
const ARGS: &str = r#"{"city":"Paris"}"#;

struct Azure {
    st: St,
    version: String,
    deployments: Vec<String>,
}

async fn chat(
    State(az): State<Arc<Azure>>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!(
        "/openai/deployments/{deployment}/chat/completions?{}",
        query.as_deref().unwrap_or("")
    );
    record(&az.st, &path, &headers, &body);
    if let Some(r) = check(
        &headers,
        query.as_deref(),
        &az.version,
        Some((&deployment, &az.deployments)),
    ) {
        return r;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "BadRequest", "invalid JSON");
    };
    let text = text_of(last(&req));
    if text.contains("BLOCKME") {
        let body = json!({"error": {
            "message": format!("The response was filtered due to the prompt triggering Azure OpenAI's content management policy: {text}"),
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
                "hate": {"filtered": false, "severity": "safe"},
                "jailbreak": {"filtered": false, "detected": false},
                "self_harm": {"filtered": false, "severity": "safe"},
                "sexual": {"filtered": false, "severity": "safe"},
                "violence": {"filtered": true, "severity": "medium"}
            }}
        }});
        return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
    }
    if text.contains("RATELIMIT") {
        let mut r = error(
            429,
            "429",
            "Requests to the ChatCompletions_Create Operation have exceeded the rate limit.",
        );
        let h = r.headers_mut();
        h.insert("retry-after-ms", header::HeaderValue::from_static("59500"));
        h.insert("retry-after", header::HeaderValue::from_static("60"));
        return r;
    }
    let model = "gpt-4o-2024-08-06";
    let (text, call) = answer(&req);
    let finish = if call.is_some() { "tool_calls" } else { "stop" };
    if req["stream"] != json!(true) {
        let mut message = json!({"role": "assistant", "content": text, "refusal": null});
        if let Some(name) = &call {
            message["content"] = Value::Null;
            message["tool_calls"] = json!([{"id": CALL_ID, "type": "function",
                "function": {"name": name, "arguments": ARGS}}]);
        }
        return axum::Json(json!({
            "id": "chatcmpl-azure1", "object": "chat.completion", "created": 1_700_000_000,
            "model": model, "system_fingerprint": "fp_azure",
            "prompt_filter_results": prompt_filter_results(),
            "choices": [{
                "index": 0, "finish_reason": finish, "logprobs": null, "message": message,
                "content_filter_results": filter_results()
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}
        }))
        .into_response();
    }
    let chunk = |choices: Value| {
        json!({"id": "chatcmpl-azure1", "object": "chat.completion.chunk",
               "created": 1_700_000_000, "model": model,
               "system_fingerprint": "fp_azure", "choices": choices})
    };
    let mut events = vec![
        json!({"choices": [], "created": 0, "id": "", "model": "", "object": "",
               "prompt_filter_results": prompt_filter_results()}),
        chunk(
            json!([{"index": 0, "delta": {"role": "assistant", "content": ""},
                      "finish_reason": null, "logprobs": null, "content_filter_results": {}}]),
        ),
    ];
    for piece in text.split_inclusive(' ') {
        events.push(chunk(json!([{"index": 0, "delta": {"content": piece},
            "finish_reason": null, "logprobs": null,
            "content_filter_results": filter_results()}])));
    }
    if let Some(name) = &call {
        events.push(chunk(
            json!([{"index": 0, "delta": {"tool_calls": [{"index": 0,
            "id": CALL_ID, "type": "function", "function": {"name": name, "arguments": ""}}]},
            "finish_reason": null, "logprobs": null}]),
        ));
        for piece in ["{\"city\":", "\"Paris\"}"] {
            events.push(chunk(
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0,
                "function": {"arguments": piece}}]}, "finish_reason": null, "logprobs": null}]),
            ));
        }
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "finish_reason": finish,
        "logprobs": null, "content_filter_results": {}}]),
    ));
    if req["stream_options"]["include_usage"] == json!(true) {
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18});
        events.push(usage);
    }
    let mut frames: Vec<String> = events.iter().map(|e| format!("data: {e}\n\n")).collect();
    frames.push("data: [DONE]\n\n".into());
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        chunked(frames, None),
    )
        .into_response()
}

async fn embeddings(
    State(az): State<Arc<Azure>>,
    Path(deployment): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!(
        "/openai/deployments/{deployment}/embeddings?{}",
        query.as_deref().unwrap_or("")
    );
    record(&az.st, &path, &headers, &body);
    if let Some(r) = check(
        &headers,
        query.as_deref(),
        &az.version,
        Some((&deployment, &az.deployments)),
    ) {
        return r;
    }
    axum::Json(json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}
    }))
    .into_response()
}

async fn models(
    State(az): State<Arc<Azure>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let path = format!("/openai/models?{}", query.as_deref().unwrap_or(""));
    record(&az.st, &path, &headers, &Bytes::new());
    if let Some(r) = check(&headers, query.as_deref(), &az.version, None) {
        return r;
    }
    // Base models, not deployments, as the real list.
    axum::Json(json!({"object": "list", "data": [
        {"id": "gpt-4o-2024-08-06", "object": "model", "status": "succeeded"}
    ]}))
    .into_response()
}

/// A fake Azure OpenAI resource serving `deployments` under `version`.
pub async fn azure(version: &str, deployments: &[&str]) -> Fake {
    let st: St = Arc::default();
    let az = Arc::new(Azure {
        st: st.clone(),
        version: version.into(),
        deployments: deployments.iter().map(|d| d.to_string()).collect(),
    });
    let router = Router::new()
        .route(
            "/openai/deployments/{deployment}/chat/completions",
            post(chat),
        )
        .route(
            "/openai/deployments/{deployment}/embeddings",
            post(embeddings),
        )
        .route("/openai/models", get(models))
        .with_state(az);
    Fake {
        addr: serve(router).await,
        inner: st,
    }
}
