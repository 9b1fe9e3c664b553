//! An in-process fake of Anthropic's Messages API on 127.0.0.1:0, from its
//! API reference: `POST /v1/messages` (JSON, or SSE with `event:` lines,
//! `ping`s and in-stream `error` events) and `GET /v1/models`. It checks what
//! the real API checks that matters here: `x-api-key`, `anthropic-version`,
//! a JSON body with `model`, `max_tokens` and `messages` only among known
//! fields, alternating roles, non-empty text, `tool_result` blocks first in
//! their user turn and answering every `tool_use` of the turn before. It
//! refuses with Anthropic's status codes and error bodies
//! (`{"type":"error","error":{"type","message"}}`, `retry-after` on 429); a
//! prompt with `OVERLOADED` gets 529 `overloaded_error`.

use super::{Fake, Fault, St, chunked, record, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The key the fake accepts.
pub const KEY: &str = super::KEY;

const TOP_LEVEL: [&str; 11] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "stream",
    "temperature",
    "top_p",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
];

fn error(status: u16, message: &str) -> Response {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": message},
        "request_id": "req_fake_error"});
    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [("request-id", "req_fake_error")],
        axum::Json(body),
    )
        .into_response();
    if status == 429 {
        resp.headers_mut()
            .insert("retry-after", header::HeaderValue::from_static("7"));
    }
    resp
}

/// The headers every call needs, as the real API checks them.
fn check_headers(headers: &HeaderMap) -> Option<Response> {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) {
        return Some(error(401, "invalid x-api-key"));
    }
    if headers.get("anthropic-version").is_none() {
        return Some(error(400, "anthropic-version: header is required"));
    }
    None
}

/// What the real API would refuse in a Messages body, as its message.
fn check_body(req: &Value) -> Result<(), String> {
    let obj = req.as_object().ok_or("body must be a JSON object")?;
    for key in obj.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            return Err(format!("{key}: Extra inputs are not permitted"));
        }
    }
    if !req["model"].is_string() {
        return Err("model: Field required".into());
    }
    if req["max_tokens"].as_u64().is_none_or(|n| n == 0) {
        return Err("max_tokens: Field required".into());
    }
    let messages = req["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("messages: at least one message is required")?;
    let mut prev_role = "";
    let mut open_calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or("");
        if role != "user" && role != "assistant" {
            return Err(format!(
                "messages.{i}.role: Input should be 'user' or 'assistant'"
            ));
        }
        if role == prev_role {
            return Err("messages: roles must alternate between \"user\" and \"assistant\"".into());
        }
        prev_role = role;
        let blocks: Vec<Value> = match &m["content"] {
            Value::String(s) if !s.is_empty() => vec![json!({"type": "text", "text": s})],
            Value::Array(b) if !b.is_empty() => b.clone(),
            _ => {
                return Err(format!(
                    "messages.{i}: all messages must have non-empty content"
                ));
            }
        };
        let mut seen_other = false;
        let mut results = Vec::new();
        for b in &blocks {
            match b["type"].as_str().unwrap_or("") {
                "text" if b["text"].as_str().is_some_and(|t| !t.is_empty()) => seen_other = true,
                "text" => {
                    return Err(format!(
                        "messages.{i}: text content blocks must be non-empty"
                    ));
                }
                "image" if role == "user" => seen_other = true,
                "tool_use" if role == "assistant" => {}
                "tool_result" if role == "user" => {
                    if seen_other {
                        return Err(format!(
                            "messages.{i}: tool_result blocks must come first in the user message"
                        ));
                    }
                    results.push(b["tool_use_id"].as_str().unwrap_or("").to_owned());
                }
                other => return Err(format!("messages.{i}: unexpected block type {other:?}")),
            }
        }
        if let Some(id) = open_calls.iter().find(|id| !results.contains(id)) {
            return Err(format!(
                "messages.{i}: tool_use ids were found without tool_result blocks immediately after: {id}"
            ));
        }
        open_calls = blocks
            .iter()
            .filter(|b| b["type"] == "tool_use")
            .map(|b| b["id"].as_str().unwrap_or("").to_owned())
            .collect();
    }
    if let Some(system) = req.get("system")
        && !system.is_string()
        && !system
            .as_array()
            .is_some_and(|a| a.iter().all(|b| b["type"] == "text"))
    {
        return Err("system: must be a string or text blocks".into());
    }
    Ok(())
}

/// Every text block of the conversation, joined.
fn texts(req: &Value) -> String {
    let mut out = String::new();
    for m in req["messages"].as_array().into_iter().flatten() {
        match &m["content"] {
            Value::String(s) => out.push_str(s),
            Value::Array(blocks) => out.extend(blocks.iter().filter_map(|b| b["text"].as_str())),
            _ => {}
        }
    }
    out
}

/// What the fake says: text, optionally followed by one tool call.
struct Answer {
    text: String,
    tool: Option<(String, Value)>,
}

fn answer(req: &Value) -> Answer {
    let last = req["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    let blocks = last["content"].as_array().cloned().unwrap_or_default();
    let results: Vec<String> = blocks
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .map(|b| {
            b["content"]
                .as_array()
                .map(|c| c.iter().filter_map(|t| t["text"].as_str()).collect())
                .unwrap_or_default()
        })
        .collect();
    let images = blocks.iter().filter(|b| b["type"] == "image").count();
    let tool_name = req["tools"][0]["name"].as_str();
    if !results.is_empty() {
        Answer {
            text: format!("Tool said: {}.", results.join(", ")),
            tool: None,
        }
    } else if let Some(name) = tool_name.filter(|_| req["tool_choice"]["type"] != "none") {
        Answer {
            text: "Let me check.".into(),
            tool: Some((name.to_owned(), json!({"city": "Paris", "unit": "c"}))),
        }
    } else if images > 0 {
        Answer {
            text: format!("I see {images} images."),
            tool: None,
        }
    } else {
        Answer {
            text: "Hello from the fake Anthropic.".into(),
            tool: None,
        }
    }
}

const TOOL_ID: &str = "toolu_01FakeWeather";
const USAGE: (u64, u64, u64, u64) = (11, 2, 5, 6); // input, cache creation, cache read, output

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn stream_events(model: &str, a: &Answer) -> Vec<String> {
    let (input, creation, read, output) = USAGE;
    let mut out = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message",
            "role": "assistant", "content": [], "model": model, "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": input,
            "cache_creation_input_tokens": creation, "cache_read_input_tokens": read,
            "output_tokens": 1}}}),
    )];
    out.push(event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ));
    out.push(event("ping", json!({"type": "ping"})));
    for word in a.text.split_inclusive(' ') {
        out.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}}),
        ));
    }
    out.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    if let Some((name, input)) = &a.tool {
        out.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use",
                "id": TOOL_ID, "name": name, "input": {}}}),
        ));
        let json = input.to_string();
        let (first, second) = json.split_at(json.len() / 2);
        for part in ["", first, second] {
            out.push(event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": part}}),
            ));
        }
        out.push(event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ));
    }
    let stop = if a.tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    out.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
            "usage": {"output_tokens": output}}),
    ));
    out.push(event("message_stop", json!({"type": "message_stop"})));
    out
}

async fn messages(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/v1/messages", &headers, &body);
    if let Some(r) = check_headers(&headers) {
        return r;
    }
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/json")
    {
        return error(400, "content-type must be application/json");
    }
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return error(
                400,
                "There was an issue with your request body: invalid JSON",
            );
        }
    };
    if let Err(message) = check_body(&req) {
        return error(400, &message);
    }
    if texts(&req).contains("OVERLOADED") {
        return error(529, "Overloaded");
    }
    match &fault {
        Fault::Status(s) => return error(*s, &format!("fake anthropic error {s}")),
        Fault::Delay(d) => tokio::time::sleep(*d).await,
        Fault::Garbage => {
            return (
                [(header::CONTENT_TYPE, "application/json")],
                "<html>oops</html>",
            )
                .into_response();
        }
        _ => {}
    }
    let model = req["model"].as_str().unwrap_or("?").to_owned();
    let a = answer(&req);
    if req["stream"] == json!(true) {
        let mut events = stream_events(&model, &a);
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            Fault::ErrorEvent(n) => {
                events.truncate(n);
                events.push(event(
                    "error",
                    json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
                ));
                None
            }
            _ => None,
        };
        return (
            [
                (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            chunked(events, cut),
        )
            .into_response();
    }
    let mut content = vec![json!({"type": "text", "text": a.text})];
    if let Some((name, input)) = &a.tool {
        content.push(json!({"type": "tool_use", "id": TOOL_ID, "name": name, "input": input}));
    }
    let (input, creation, read, output) = USAGE;
    axum::Json(json!({
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
        "content": content,
        "stop_reason": if a.tool.is_some() { "tool_use" } else { "end_turn" },
        "stop_sequence": null,
        "usage": {"input_tokens": input, "cache_creation_input_tokens": creation,
                  "cache_read_input_tokens": read, "output_tokens": output},
    }))
    .into_response()
}

pub async fn anthropic(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    let router = Router::new()
        .route("/v1/messages", post(messages))
        .route(
            "/v1/models",
            get(
                move |State(st): State<St>, RawQuery(query): RawQuery, headers: HeaderMap| {
                    let models = models.clone();
                    async move {
                        let path = match query {
                            Some(q) => format!("/v1/models?{q}"),
                            None => "/v1/models".into(),
                        };
                        record(&st, &path, &headers, &Bytes::new());
                        if let Some(r) = check_headers(&headers) {
                            return r;
                        }
                        let data: Vec<Value> = models
                            .iter()
                            .map(|m| {
                                json!({"type": "model", "id": m, "display_name": m,
                                "created_at": "2025-01-01T00:00:00Z"})
                            })
                            .collect();
                        axum::Json(json!({"data": data, "has_more": false,
                            "first_id": models.first(), "last_id": models.last()}))
                        .into_response()
                    }
                },
            ),
        )
        .with_state(inner.clone());
    Fake {
        addr: serve(router).await,
        inner,
    }
}
