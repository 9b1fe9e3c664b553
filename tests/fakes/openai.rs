//! The OpenAI fake: `POST /v1/chat/completions` (JSON, or SSE
//! `chat.completion.chunk` events ending in `data: [DONE]`, with the usage
//! chunk when `stream_options.include_usage` asks), `/v1/embeddings` and
//! `GET /v1/models`; faults answer OpenAI's error bodies.

use super::{Fake, Fault, St, chunked_after, record, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn openai_error(status: u16) -> Response {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_value"),
        401 => ("invalid_request_error", "invalid_api_key"),
        404 => ("invalid_request_error", "model_not_found"),
        429 => ("requests", "rate_limit_exceeded"),
        _ => ("server_error", "server_error"),
    };
    let body = json!({"error": {"message": format!("fake upstream error {status}"), "type": kind, "param": null, "code": code}});
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

async fn apply_fault(f: &Fault) -> Option<Response> {
    match f {
        Fault::Status(s) => Some(openai_error(*s)),
        Fault::FailTimes {
            status,
            retry_after_ms,
            ..
        } => {
            let mut r = openai_error(*status);
            if let Some(v) = retry_after_ms.and_then(|ms| ms.to_string().parse().ok()) {
                r.headers_mut().insert("retry-after-ms", v);
            }
            Some(r)
        }
        Fault::Delay(d) | Fault::Stall { head: d, .. } => {
            tokio::time::sleep(*d).await;
            None
        }
        Fault::Garbage => Some(
            (
                [(header::CONTENT_TYPE, "application/json")],
                "<html>oops</html>",
            )
                .into_response(),
        ),
        _ => None,
    }
}

async fn oa_chat(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/v1/chat/completions", &headers, &body);
    if let Some(r) = apply_fault(&fault).await {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let model = req["model"].as_str().unwrap_or("?").to_owned();
    let echo: Vec<String> = match fault {
        Fault::Echo => {
            let text = req["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .chars()
                .collect::<Vec<_>>();
            text.chunks(3).map(|c| c.iter().collect()).collect()
        }
        _ => Vec::new(),
    };
    let default = ["Hello", " from", " the", " fake", " upstream."];
    let words: Vec<&str> = if echo.is_empty() {
        default.to_vec()
    } else {
        echo.iter().map(String::as_str).collect()
    };
    if req["stream"] == json!(true) {
        let include_usage = req["stream_options"]["include_usage"] == json!(true);
        let chunk = |delta: Value, finish: Value| {
            let c = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "system_fingerprint": null,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]});
            format!("data: {c}\n\n")
        };
        let mut chunks = vec![": keep-alive\n\n".to_owned()];
        chunks.push(chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for w in words {
            chunks.push(chunk(json!({"content": w}), Value::Null));
        }
        chunks.push(chunk(json!({}), json!("stop")));
        if include_usage {
            let u = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
                "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14}});
            chunks.push(format!("data: {u}\n\n"));
        }
        chunks.push("data: [DONE]\n\n".into());
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            _ => None,
        };
        let first = match fault {
            Fault::Stall { first, .. } => first,
            _ => Duration::ZERO,
        };
        return (
            [
                (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            chunked_after(chunks, cut, first),
        )
            .into_response();
    }
    let body = json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat(), "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 5, "total_tokens": 14},
        "system_fingerprint": "fp_fake"
    });
    axum::Json(body).into_response()
}

async fn oa_embeddings(State(st): State<St>, headers: HeaderMap, body: Bytes) -> Response {
    let fault = record(&st, "/v1/embeddings", &headers, &body);
    if let Some(r) = apply_fault(&fault).await {
        return r;
    }
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = match &req["input"] {
        Value::Array(a) => a.len(),
        _ => 1,
    };
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}))
        .collect();
    axum::Json(
        json!({"object": "list", "data": data, "model": req["model"],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}}),
    )
    .into_response()
}

pub async fn openai(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    let router = Router::new()
        .route("/v1/chat/completions", post(oa_chat))
        .route("/v1/embeddings", post(oa_embeddings))
        .route(
            "/v1/models",
            get(move |State(st): State<St>, headers: HeaderMap| {
                let models = models.clone();
                async move {
                    record(&st, "/v1/models", &headers, &Bytes::new());
                    let data: Vec<Value> = models
                        .iter()
                        .map(|m| json!({"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}))
                        .collect();
                    axum::Json(json!({"object": "list", "data": data}))
                }
            }),
        )
        .with_state(inner.clone());
    Fake {
        addr: serve(router).await,
        inner,
    }
}
