//! An in-process fake of Google's Gemini API on 127.0.0.1:0, from its API
//! reference: `POST /v1beta/models/{model}:generateContent` (JSON) and
//! `:streamGenerateContent?alt=sse` (SSE `data:` events, `\r\n` framed, each
//! a whole `GenerateContentResponse`), `GET /v1beta/models`, and the same
//! methods under Vertex AI's `/v1/projects/{p}/locations/{l}/publishers/google`
//! with `:countTokens`. It checks what the real API checks that matters here:
//! the key in `x-goog-api-key` (Vertex: a bearer token), a JSON body with
//! only known fields, `user`/`model` turns that alternate, non-empty parts
//! with one datum each, function calls only from the model (the first one of
//! a turn signed, as Gemini 3 wants) answered by function responses of the
//! same names, in the next user turn, with object responses. It refuses with
//! Google's statuses and error bodies (`{"error":{"code","message","status"}}`),
//! blocks a prompt containing `BLOCKME` (`promptFeedback.blockReason`).

use super::{Fake, Fault, St, chunked, record, serve};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

/// The key (and Vertex token) the fake accepts.
pub const KEY: &str = super::KEY;
/// The `thoughtSignature` the fake puts on its function calls.
pub const SIGNATURE: &str = "CiQBjz1rXzFha2Utc2lnbmF0dXJl";

const TOP_LEVEL: [&str; 7] = [
    "contents",
    "systemInstruction",
    "tools",
    "toolConfig",
    "generationConfig",
    "safetySettings",
    "cachedContent",
];

const GENERATION: [&str; 14] = [
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "thinkingConfig",
];

pub fn error(status: u16, message: &str) -> Response {
    let name = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    };
    let mut error = json!({"code": status, "message": message, "status": name});
    if status == 429 {
        error["details"] = json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo",
            "retryDelay": "7s"}]);
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"error": error})),
    )
        .into_response()
}

/// Google's answer to a wrong API key: 400, with the reason in the details.
fn key_invalid() -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": {"code": 400,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"}}]}})),
    )
        .into_response()
}

/// The credentials each API wants.
fn check_auth(headers: &HeaderMap, vertex: bool) -> Option<Response> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if vertex {
        return (get("authorization") != Some(&format!("Bearer {KEY}")))
            .then(|| error(401, "Request had invalid authentication credentials."));
    }
    match get("x-goog-api-key") {
        None => Some(error(
            403,
            "Method doesn't allow unregistered callers (callers without established identity).",
        )),
        Some(k) if k != KEY => Some(key_invalid()),
        Some(_) => None,
    }
}

/// What the real API would refuse in a request body, as its message.
fn check_body(req: &Value) -> Result<(), String> {
    let obj = req.as_object().ok_or("body must be a JSON object")?;
    let unknown = |key: &str| {
        format!("Invalid JSON payload received. Unknown name \"{key}\": Cannot find field.")
    };
    for key in obj.keys() {
        if !TOP_LEVEL.contains(&key.as_str()) {
            return Err(unknown(key));
        }
    }
    if let Some(config) = req.get("generationConfig") {
        let config = config
            .as_object()
            .ok_or("generationConfig must be an object")?;
        for key in config.keys() {
            if !GENERATION.contains(&key.as_str()) {
                return Err(unknown(key));
            }
        }
    }
    if let Some(system) = req.get("systemInstruction")
        && !system["parts"]
            .as_array()
            .is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["text"].is_string()))
    {
        return Err("systemInstruction: only text parts are allowed".into());
    }
    let contents = req["contents"]
        .as_array()
        .filter(|c| !c.is_empty())
        .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
    let mut prev_role = "";
    let mut open_calls: Vec<String> = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let role = c["role"].as_str().unwrap_or("");
        if role != "user" && role != "model" {
            return Err(format!("contents[{i}].role: must be \"user\" or \"model\""));
        }
        if role == prev_role {
            return Err(
                "Please ensure that multiturn requests alternate between user and model.".into(),
            );
        }
        prev_role = role;
        let parts = c["parts"]
            .as_array()
            .filter(|p| !p.is_empty())
            .ok_or(format!("contents[{i}].parts: must not be empty"))?;
        let mut calls = Vec::new();
        let mut answers = Vec::new();
        for (j, p) in parts.iter().enumerate() {
            let data: Vec<&String> = p
                .as_object()
                .map(|o| {
                    o.keys()
                        .filter(|k| *k != "thought" && *k != "thoughtSignature")
                        .collect()
                })
                .unwrap_or_default();
            if data.len() != 1 {
                return Err(format!(
                    "contents[{i}].parts[{j}]: exactly one data field is required"
                ));
            }
            match data[0].as_str() {
                "text" if p["text"].as_str().is_some_and(|t| !t.is_empty()) => {}
                "text" => {
                    return Err(
                        "Unable to submit request because it has an empty text parameter.".into(),
                    );
                }
                "inlineData"
                    if role == "user"
                        && p["inlineData"]["mimeType"].is_string()
                        && p["inlineData"]["data"].is_string() => {}
                "functionCall" if role == "model" => {
                    if calls.is_empty() && !p["thoughtSignature"].is_string() {
                        return Err(format!(
                            "Function call is missing a thought_signature in functionCall parts. \
                             Additional data, function call `{}` , position {}.",
                            p["functionCall"]["name"].as_str().unwrap_or(""),
                            j + 1
                        ));
                    }
                    calls.push(p["functionCall"]["name"].as_str().unwrap_or("").to_owned());
                }
                "functionResponse" if role == "user" => {
                    if !p["functionResponse"]["response"].is_object() {
                        return Err(format!(
                            "contents[{i}].parts[{j}].functionResponse.response: must be an object"
                        ));
                    }
                    answers.push(
                        p["functionResponse"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_owned(),
                    );
                }
                other => {
                    return Err(format!(
                        "contents[{i}].parts[{j}]: unexpected {other} in a {role} turn"
                    ));
                }
            }
        }
        let mut expected = std::mem::take(&mut open_calls);
        if role == "user" {
            expected.sort();
            answers.sort();
            if expected != answers {
                return Err(format!(
                    "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn (contents[{i}])."
                ));
            }
        }
        open_calls = calls;
    }
    if let Some(tools) = req.get("tools") {
        for t in tools.as_array().ok_or("tools must be an array")? {
            for d in t["functionDeclarations"]
                .as_array()
                .ok_or("functionDeclarations must be an array")?
            {
                if d["name"].as_str().is_none_or(str::is_empty) {
                    return Err("function_declarations[0].name: must not be empty".into());
                }
                if d.get("parameters").is_some() && d.get("parametersJsonSchema").is_some() {
                    return Err("parameters and parametersJsonSchema are mutually exclusive".into());
                }
            }
        }
    }
    if let Some(config) = req.get("toolConfig") {
        let mode = config["functionCallingConfig"]["mode"]
            .as_str()
            .unwrap_or("");
        if !["AUTO", "ANY", "NONE", "VALIDATED"].contains(&mode) {
            return Err(format!(
                "Invalid value at 'tool_config.function_calling_config.mode' ({mode})"
            ));
        }
    }
    Ok(())
}

/// What the fake says: text and an optional function call, or a block.
enum Answer {
    Text {
        text: String,
        call: Option<(String, Value)>,
    },
    Blocked,
}

fn answer(req: &Value) -> Answer {
    let last = req["contents"]
        .as_array()
        .and_then(|c| c.last())
        .cloned()
        .unwrap_or(Value::Null);
    let parts = last["parts"].as_array().cloned().unwrap_or_default();
    let results: Vec<String> = parts
        .iter()
        .filter_map(|p| p.get("functionResponse"))
        .map(|r| match r["response"].get("output") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => r["response"].to_string(),
        })
        .collect();
    let text: String = parts.iter().filter_map(|p| p["text"].as_str()).collect();
    let images = parts
        .iter()
        .filter(|p| p.get("inlineData").is_some())
        .count();
    let tool = req["tools"][0]["functionDeclarations"][0]["name"].as_str();
    let mode = req["toolConfig"]["functionCallingConfig"]["mode"].as_str();
    let plain = |t: String| Answer::Text {
        text: t,
        call: None,
    };
    if text.contains("BLOCKME") {
        Answer::Blocked
    } else if !results.is_empty() {
        plain(format!("Tool said: {}.", results.join(", ")))
    } else if let Some(name) = tool.filter(|_| mode != Some("NONE")) {
        Answer::Text {
            text: "Let me check.".into(),
            call: Some((name.to_owned(), json!({"city": "Paris", "unit": "c"}))),
        }
    } else if images > 0 {
        plain(format!("I see {images} images."))
    } else {
        plain("Hello from the fake Gemini.".into())
    }
}

/// prompt, cached, candidates, thoughts (total = prompt + candidates + thoughts).
const USAGE: (u64, u64, u64, u64) = (18, 5, 4, 2);

fn usage(candidates: u64) -> Value {
    let (prompt, cached, _, thoughts) = USAGE;
    json!({"promptTokenCount": prompt, "cachedContentTokenCount": cached,
        "candidatesTokenCount": candidates, "thoughtsTokenCount": thoughts,
        "totalTokenCount": prompt + candidates + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]})
}

fn response(parts: Vec<Value>, finish: Option<&str>, candidates: u64) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = f.into();
    }
    json!({"candidates": [candidate], "usageMetadata": usage(candidates),
        "modelVersion": "gemini-2.5-flash", "responseId": "fake-response-id"})
}

fn blocked() -> Value {
    json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}]},
        "usageMetadata": {"promptTokenCount": USAGE.0, "totalTokenCount": USAGE.0},
        "modelVersion": "gemini-2.5-flash"})
}

fn call_part(name: &str, args: &Value) -> Value {
    json!({"functionCall": {"name": name, "args": args}, "thoughtSignature": SIGNATURE})
}

fn event(data: &Value) -> String {
    format!("data: {data}\r\n\r\n")
}

fn stream_events(a: &Answer) -> Vec<String> {
    let Answer::Text { text, call } = a else {
        return vec![event(&blocked())];
    };
    let words: Vec<&str> = text.split_inclusive(' ').collect();
    let mut out = Vec::new();
    for (k, word) in words.iter().enumerate() {
        let last = k + 1 == words.len() && call.is_none();
        let finish = last.then_some("STOP");
        // Counts grow with the text and end at the JSON answer's.
        let candidates = if last {
            USAGE.2
        } else {
            (k as u64 + 1).min(USAGE.2)
        };
        out.push(event(&response(
            vec![json!({"text": word})],
            finish,
            candidates,
        )));
    }
    if let Some((name, args)) = call {
        out.push(event(&response(
            vec![call_part(name, args)],
            Some("STOP"),
            USAGE.2,
        )));
    }
    out
}

async fn generate(
    st: St,
    path: String,
    call: String,
    query: Option<String>,
    vertex: bool,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let fault = record(&st, &recorded, &headers, &body);
    if let Some(r) = check_auth(&headers, vertex) {
        return r;
    }
    let Some((_model, method)) = call.split_once(':') else {
        return error(404, "Requested entity was not found.");
    };
    if method == "countTokens" {
        return axum::Json(json!({"totalTokens": 1, "totalBillableCharacters": 4})).into_response();
    }
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" if query.as_deref() == Some("alt=sse") => true,
        "streamGenerateContent" => return error(400, "this fake streams only with alt=sse"),
        _ => return error(404, "Requested entity was not found."),
    };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return error(400, "Invalid JSON payload received."),
    };
    if let Err(message) = check_body(&req) {
        return error(400, &message);
    }
    match &fault {
        Fault::Status(s) => return error(*s, &format!("fake gemini error {s}")),
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
    let a = answer(&req);
    if stream {
        let mut events = stream_events(&a);
        let cut = match fault {
            Fault::CutAfter(n) => Some(n),
            Fault::ErrorEvent(n) => {
                events.truncate(n);
                events.push(event(&json!({"error": {"code": 503,
                    "message": "The model is overloaded. Please try again later.",
                    "status": "UNAVAILABLE"}})));
                None
            }
            _ => None,
        };
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            chunked(events, cut),
        )
            .into_response();
    }
    let body = match &a {
        Answer::Blocked => blocked(),
        Answer::Text { text, call } => {
            let mut parts = vec![json!({"text": text})];
            if let Some((name, args)) = call {
                parts.push(call_part(name, args));
            }
            response(parts, Some("STOP"), USAGE.2)
        }
    };
    axum::Json(body).into_response()
}

pub async fn gemini(models: &[&str]) -> Fake {
    let inner: St = Arc::default();
    let models: Vec<String> = models.iter().map(|s| s.to_string()).collect();
    let router = Router::new()
        .route(
            "/v1beta/models/{call}",
            post(
                |State(st): State<St>, Path(call): Path<String>, RawQuery(q): RawQuery,
                 headers: HeaderMap, body: Bytes| async move {
                    let path = format!("/v1beta/models/{call}");
                    generate(st, path, call, q, false, headers, body).await
                },
            ),
        )
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{call}",
            post(
                |State(st): State<St>, Path((project, location, call)): Path<(String, String, String)>,
                 RawQuery(q): RawQuery, headers: HeaderMap, body: Bytes| async move {
                    let path = format!("/v1/projects/{project}/locations/{location}/publishers/google/models/{call}");
                    generate(st, path, call, q, true, headers, body).await
                },
            ),
        )
        .route(
            "/v1beta/models",
            get(
                move |State(st): State<St>, RawQuery(query): RawQuery, headers: HeaderMap| {
                    let models = models.clone();
                    async move {
                        let path = match query {
                            Some(q) => format!("/v1beta/models?{q}"),
                            None => "/v1beta/models".into(),
                        };
                        record(&st, &path, &headers, &Bytes::new());
                        if let Some(r) = check_auth(&headers, false) {
                            return r;
                        }
                        let mut list: Vec<Value> = models
                            .iter()
                            .map(|m| {
                                json!({"name": format!("models/{m}"), "version": "001",
                                    "displayName": m, "supportedGenerationMethods":
                                    ["generateContent", "countTokens"]})
                            })
                            .collect();
                        list.push(json!({"name": "models/gemini-embedding-001",
                            "supportedGenerationMethods": ["embedContent"]}));
                        axum::Json(json!({"models": list})).into_response()
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
