//! The Ollama fake: `POST /api/chat` (NDJSON lines unless `"stream":
//! false`), `/api/embed` and `GET /api/tags`; errors are `{"error": "..."}`.
//! As Ollama does, it answers 404 for a model it has not pulled and 400 for
//! an image that is not plain base64; it calls the first of the `tools` it
//! is given (arguments as an object), answers a `tool` message with its
//! text, and counts the images of the last message.

use super::{Fake, Fault, St, chunked, record, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

struct Ollama {
    st: St,
    models: Vec<String>,
}

fn error(status: StatusCode, message: String) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// What the model says: text, or one call of the first tool; `Err` with
/// the message of a 400.
fn answer(req: &Value) -> Result<(String, Option<Value>), String> {
    let last = req["messages"]
        .as_array()
        .and_then(|m| m.last())
        .cloned()
        .unwrap_or(Value::Null);
    let images = last["images"].as_array().cloned().unwrap_or_default();
    for image in &images {
        let data = image.as_str().unwrap_or("");
        if base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
        {
            return Err("illegal base64 data at input byte 4".into());
        }
    }
    let tool = req["tools"][0]["function"]["name"].as_str();
    Ok(if last["role"] == "tool" {
        let content = last["content"].as_str().unwrap_or("");
        (format!("Tool said: {content}."), None)
    } else if let Some(name) = tool {
        let call = json!({"function": {"name": name, "arguments": {"city": "Paris"}}});
        (String::new(), Some(call))
    } else if !images.is_empty() {
        (format!("I see {} images.", images.len()), None)
    } else {
        ("Hi from ollama.".into(), None)
    })
}

async fn ol_chat(State(ol): State<Arc<Ollama>>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&ol.st, "/api/chat", &headers, &body);
    match &fault {
        Fault::Status(s) => {
            return (
                StatusCode::from_u16(*s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                axum::Json(json!({"error": format!("fake ollama error {s}")})),
            )
                .into_response();
        }
        Fault::Delay(d) => tokio::time::sleep(*d).await,
        _ => {}
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("?").to_owned();
    let pulled = |m: &String| *m == model || format!("{m}:latest") == model;
    if !ol.models.iter().any(pulled) {
        return error(
            StatusCode::NOT_FOUND,
            format!("model \"{model}\" not found, try pulling it first"),
        );
    }
    let (text, call) = match answer(&req) {
        Ok(a) => a,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let calls: Vec<Value> = call.into_iter().collect();
    // Ollama streams unless "stream": false.
    if req["stream"] != json!(false) {
        let mut lines: Vec<String> = words
            .iter()
            .map(|w| {
                format!(
                    "{}\n",
                    json!({"model": model, "created_at": "2024-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": w}, "done": false})
                )
            })
            .collect();
        if !calls.is_empty() {
            lines.push(format!(
                "{}\n",
                json!({"model": model, "created_at": "2024-01-01T00:00:00Z",
                    "message": {"role": "assistant", "content": "", "tool_calls": calls},
                    "done": false})
            ));
        }
        lines.push(format!(
            "{}\n",
            json!({"model": model, "created_at": "2024-01-01T00:00:01Z",
                "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop",
                "total_duration": 1000000, "load_duration": 1000, "prompt_eval_count": 7,
                "prompt_eval_duration": 1000, "eval_count": 3, "eval_duration": 1000})
        ));
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            _ => None,
        };
        return (
            [(header::CONTENT_TYPE, "application/x-ndjson")],
            chunked(lines, cut),
        )
            .into_response();
    }
    let mut message = json!({"role": "assistant", "content": text});
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    axum::Json(json!({
        "model": model, "created_at": "2024-01-01T00:00:01Z", "message": message,
        "done": true, "done_reason": "stop", "total_duration": 1000000, "load_duration": 1000,
        "prompt_eval_count": 7, "prompt_eval_duration": 1000, "eval_count": 3, "eval_duration": 1000
    }))
    .into_response()
}

async fn ol_embed(State(ol): State<Arc<Ollama>>, headers: HeaderMap, body: Bytes) -> Response {
    record(&ol.st, "/api/embed", &headers, &body);
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let embeddings: Vec<Value> = (0..n).map(|_| json!([0.5, -0.5, 0.25])).collect();
    axum::Json(json!({"model": req["model"], "embeddings": embeddings,
        "total_duration": 1000, "load_duration": 100, "prompt_eval_count": 3}))
    .into_response()
}

pub async fn ollama(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let ol = Arc::new(Ollama {
        st: inner.clone(),
        models: models.iter().map(|s| s.to_string()).collect(),
    });
    let router = Router::new()
        .route("/api/chat", post(ol_chat))
        .route("/api/embed", post(ol_embed))
        .route(
            "/api/tags",
            get(|State(ol): State<Arc<Ollama>>, headers: HeaderMap| async move {
                    record(&ol.st, "/api/tags", &headers, &Bytes::new());
                    let list: Vec<Value> = ol.models
                        .iter()
                        .map(|m| json!({"name": m, "model": m, "modified_at": "2024-01-01T00:00:00Z",
                            "size": 1, "digest": "sha256:0", "details": {"format": "gguf", "family": "llama"}}))
                        .collect();
                    axum::Json(json!({"models": list}))
            }),
        )
        .with_state(ol);
    Fake {
        addr: serve(router).await,
        inner,
    }
}
