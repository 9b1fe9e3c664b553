//! An in-process fake of the Amazon Bedrock runtime on 127.0.0.1:0, from
//! its API reference: `POST /model/{modelId}/converse` and
//! `/converse-stream`. Like AWS it verifies each request's SigV4 signature
//! (recomputed here from the request as received and the test's secret,
//! with its own canonicalisation: the path as received, each segment
//! encoded once more) and answers a mismatch 403 `InvalidSignatureException`;
//! a Bedrock API key may come as a bearer token instead. Errors carry
//! `x-amzn-errortype` and `{"message"}`. Streams are binary event-stream
//! frames, encoded here. Prompts steer it: `THROTTLE` -> 429
//! `ThrottlingException`, `INVALID` -> 400 `ValidationException`,
//! `STREAMFAIL` -> a `throttlingException` frame after the first text;
//! tools -> a `toolUse`, answered once a `toolResult` comes back; an image
//! block -> its format named.

use super::{Fake, St, record, serve};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use ring::{digest, hmac};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

pub const ACCESS_KEY_ID: &str = "AKIDFAKEBEDROCK";
pub const SECRET: &str = "fake/bedrock+secret";
pub const SESSION_TOKEN: &str = "fake-session-token";
/// A Bedrock API key the fake also accepts.
pub const API_KEY: &str = super::KEY;
pub const REGION: &str = "eu-central-1";

fn error(status: u16, kind: &str, message: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(json!({"message": message})),
    )
        .into_response();
    let v = format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    r.headers_mut().insert(
        "x-amzn-errortype",
        header::HeaderValue::from_str(&v).expect("ascii"),
    );
    r
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// AWS's UriEncode of one segment, applied to the path as received.
fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Checks SigV4 as AWS does; `Err` with the message of the 403 to answer.
fn verify(method: &Method, uri: &Uri, h: &HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let bad = |why: &'static str| Err(why);
    let get = |name: &str| h.get(name).and_then(|v| v.to_str().ok());
    let Some(authz) = get("authorization") else {
        return bad("Missing Authentication Token");
    };
    if authz == format!("Bearer {API_KEY}") {
        return Ok(());
    }
    let Some(rest) = authz.strip_prefix("AWS4-HMAC-SHA256 ") else {
        return bad("unknown authorization scheme");
    };
    let mut credential = "";
    let mut signed = "";
    let mut signature = "";
    for part in rest.split(", ") {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = v;
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = v;
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = v;
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    let Some(amz_date) = get("x-amz-date") else {
        return bad("no x-amz-date");
    };
    if scope.len() != 5
        || scope[0] != ACCESS_KEY_ID
        || scope[2] != REGION
        || scope[3] != "bedrock"
        || scope[4] != "aws4_request"
        || !amz_date.starts_with(scope[1])
    {
        return bad("The security token included in the request is invalid.");
    }
    if get("x-amz-security-token") != Some(SESSION_TOKEN)
        || !signed.split(';').any(|s| s == "x-amz-security-token")
        || !signed.split(';').any(|s| s == "host")
    {
        return bad("The security token included in the request is invalid.");
    }
    let path: Vec<String> = uri.path().split('/').map(uri_encode).collect();
    let mut canonical = format!(
        "{method}\n{}\n{}\n",
        path.join("/"),
        uri.query().unwrap_or("")
    );
    for name in signed.split(';') {
        let value = get(name).unwrap_or("");
        canonical.push_str(&format!("{name}:{}\n", value.trim()));
    }
    canonical.push_str(&format!(
        "\n{signed}\n{}",
        hex(digest::digest(&digest::SHA256, body).as_ref())
    ));
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}/{REGION}/bedrock/aws4_request\n{}",
        scope[1],
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("AWS4{SECRET}").as_bytes());
    for part in [scope[1], REGION, "bedrock", "aws4_request"] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    if hex(hmac::sign(&key, to_sign.as_bytes()).as_ref()) != signature {
        return bad(
            "The request signature we calculated does not match the signature you provided.",
        );
    }
    Ok(())
}

/// One event-stream frame (string headers only).
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let mut h = Vec::new();
    for (n, v) in headers {
        h.push(n.len() as u8);
        h.extend_from_slice(n.as_bytes());
        h.push(7);
        h.extend_from_slice(&(v.len() as u16).to_be_bytes());
        h.extend_from_slice(v.as_bytes());
    }
    let total = (16 + h.len() + payload.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    Bytes::from(out)
}

fn event(kind: &str, body: Value) -> Bytes {
    let mut body = body;
    body["p"] = json!("abcdefghijklmnopqrstuvwxyzABCDEF");
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        body.to_string().as_bytes(),
    )
}

struct Bedrock {
    st: St,
    models: Vec<String>,
}

/// The user's texts, image formats, and whether tool results came back.
fn read(req: &Value) -> (String, Vec<String>, Option<String>) {
    let mut text = String::new();
    let mut images = Vec::new();
    let mut result = None;
    for m in req["messages"].as_array().into_iter().flatten() {
        for b in m["content"].as_array().into_iter().flatten() {
            if let Some(t) = b["text"].as_str() {
                text.push_str(t);
            }
            if let Some(f) = b["image"]["format"].as_str() {
                images.push(f.to_owned());
            }
            if let Some(t) = b["toolResult"]["content"][0]["text"].as_str() {
                result = Some(t.to_owned());
            }
        }
    }
    (text, images, result)
}

async fn handle(
    State(b): State<Arc<Bedrock>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    record(&b.st, uri.path(), &headers, &body);
    if let Err(why) = verify(&method, &uri, &headers, &body) {
        return error(403, "InvalidSignatureException", why);
    }
    let parts: Vec<&str> = uri.path().split('/').collect();
    let (id, stream) = match parts.as_slice() {
        ["", "model", id, "converse"] => (*id, false),
        ["", "model", id, "converse-stream"] => (*id, true),
        _ => return error(404, "UnknownOperationException", "unknown operation"),
    };
    let id = percent_decode(id);
    if !b.models.contains(&id) {
        return error(404, "ResourceNotFoundException", "Model not found.");
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "SerializationException", "not JSON");
    };
    if req["messages"].as_array().is_none_or(Vec::is_empty) {
        return error(
            400,
            "ValidationException",
            "messages: at least 1 item required",
        );
    }
    let (text, images, result) = read(&req);
    if text.contains("THROTTLE") {
        return error(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        );
    }
    if text.contains("INVALID") {
        return error(
            400,
            "ValidationException",
            "The provided request is not valid",
        );
    }
    let tool = req["toolConfig"]["tools"][0]["toolSpec"]["name"].as_str();
    let answer = match (&result, images.first()) {
        (Some(r), _) => format!("The tool said {r}."),
        (None, Some(f)) => format!("I see a {f} image."),
        (None, None) => "Hello from the fake Bedrock.".to_owned(),
    };
    let usage = json!({"inputTokens": 11, "outputTokens": 7, "totalTokens": 21,
                       "cacheReadInputTokens": 3, "cacheWriteInputTokens": 0});
    let call = match (tool, &result) {
        (Some(name), None) => Some(json!({"toolUseId": "tooluse_abc123", "name": name,
                                          "input": {"city": "Paris"}})),
        _ => None,
    };
    if !stream {
        let (content, stop) = match &call {
            Some(c) => (json!([{"toolUse": c}]), "tool_use"),
            None => (json!([{"text": answer}]), "end_turn"),
        };
        return axum::Json(json!({
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": usage, "metrics": {"latencyMs": 120}
        }))
        .into_response();
    }
    let mut frames = vec![event("messageStart", json!({"role": "assistant"}))];
    let stop = match &call {
        Some(c) => {
            frames.push(event(
                "contentBlockStart",
                json!({"contentBlockIndex": 0,
                "start": {"toolUse": {"toolUseId": c["toolUseId"], "name": c["name"]}}}),
            ));
            for piece in ["{\"city\":", " \"Paris\"}"] {
                frames.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0,
                    "delta": {"toolUse": {"input": piece}}}),
                ));
            }
            frames.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
            "tool_use"
        }
        None => {
            for (i, piece) in answer.split_inclusive(' ').enumerate() {
                frames.push(event(
                    "contentBlockDelta",
                    json!({"contentBlockIndex": 0,
                    "delta": {"text": piece}}),
                ));
                if i == 0 && text.contains("STREAMFAIL") {
                    frames.push(frame(
                        &[
                            (":exception-type", "throttlingException"),
                            (":content-type", "application/json"),
                            (":message-type", "exception"),
                        ],
                        br#"{"message":"Too many tokens, please wait before trying again."}"#,
                    ));
                    break;
                }
            }
            frames.push(event("contentBlockStop", json!({"contentBlockIndex": 0})));
            "end_turn"
        }
    };
    frames.push(event("messageStop", json!({"stopReason": stop})));
    frames.push(event(
        "metadata",
        json!({"usage": usage, "metrics": {"latencyMs": 120}}),
    ));
    // Frames cut across chunks: 7 bytes at a time.
    let bytes: Vec<u8> = frames.concat();
    let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let body = futures_util::StreamExt::then(futures_util::stream::iter(chunks), |c| async {
        tokio::time::sleep(Duration::from_micros(200)).await;
        c
    });
    (
        [(header::CONTENT_TYPE, "application/vnd.amazon.eventstream")],
        Body::from_stream(body),
    )
        .into_response()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A fake Bedrock runtime serving `models`.
pub async fn bedrock(models: &[&str]) -> Fake {
    let st: St = Arc::default();
    let b = Arc::new(Bedrock {
        st: st.clone(),
        models: models.iter().map(|m| m.to_string()).collect(),
    });
    let router = Router::new().fallback(handle).with_state(b);
    Fake {
        addr: serve(router).await,
        inner: st,
    }
}
