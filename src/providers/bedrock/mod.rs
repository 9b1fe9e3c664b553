//! The `bedrock` protocol: Amazon Bedrock's `Converse` API (`POST
//! {base_url}/model/{modelId}/converse`, or `/converse-stream`, whose answer
//! is an `application/vnd.amazon.eventstream` of binary frames). The base
//! URL defaults to `https://bedrock-runtime.{region}.amazonaws.com`; the
//! model id (a model, an inference profile, or an ARN) is one path segment,
//! percent-encoded (`:` as `%3A`, `/` as `%2F`). Requests are translated
//! from the OpenAI format by `convert` (pure), answers translated back,
//! stream frames decoded by `eventstream` and translated as they arrive,
//! ending in `data: [DONE]`.
//!
//! Auth: AWS credentials (access key id, secret, optional session token)
//! sign every request with SigV4 (`sigv4`, service `bedrock`, the backend's
//! region), or a Bedrock API key goes as `Authorization: Bearer` (see
//! `with_auth`). Errors: Bedrock names its error in `x-amzn-errortype`
//! ([`error`]); throttling, unavailability, timeouts and airlock's
//! credential failures may be tried elsewhere, validation errors are the
//! caller's and relayed. Exceptions inside a stream become in-band errors.
//! Bedrock has no free model list on its runtime endpoint: the probe sends
//! the first model an empty conversation, which Bedrock refuses with a
//! `ValidationException` after checking the signature and access, without
//! running the model (no tokens, no cost).
//!
//! Must not log request or answer content, nor the credentials.

pub mod convert;
pub mod eventstream;
pub mod sigv4;

pub use super::ConvertError;

use super::{
    Call, DispatchError, Framer, Reply, open_stream, read_body, send_post, transport_error,
    write_sse_data,
};
use crate::config::{Auth, Backend, KeyState};
use crate::openai::ChatRequest;
use bytes::{Bytes, BytesMut};
use secrecy::ExposeSecret;
use std::time::Duration;

/// The SigV4 service name of the Bedrock runtime.
const SERVICE: &str = "bedrock";

/// The media type of ConverseStream answers.
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

fn chat_id(call: &Call<'_>) -> String {
    format!("chatcmpl-{}", call.forward.request_id)
}

/// The URL of `operation` (`converse`, `converse-stream`) of `model`.
fn url(backend: &Backend, model: &str, operation: &str) -> Result<url::Url, ConvertError> {
    // `.` and `..` would be taken as path steps; nothing else can leave the
    // segment once encoded.
    if model.is_empty() || model == "." || model == ".." {
        return Err(ConvertError::invalid(
            "model",
            "is not a Bedrock model id, inference profile or ARN",
        ));
    }
    let url = format!(
        "{}/model/{}/{operation}",
        backend.base_url,
        sigv4::encode_segment(model)
    );
    url::Url::parse(&url).map_err(|_| ConvertError::invalid("model", "does not fit in a URL"))
}

/// Adds auth to a request about to be sent: a SigV4 signature over
/// `body`, or nothing (a Bedrock API key is added by `with_auth`).
fn sign(
    rb: reqwest::RequestBuilder,
    backend: &Backend,
    url: &url::Url,
    accept: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let (Auth::SigV4, KeyState::Present(secret), Some(aws)) =
        (backend.auth, &backend.key, &backend.aws)
    else {
        return super::with_auth(rb, backend);
    };
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let host = sigv4::host(url);
    let headers = [("accept", accept), ("content-type", "application/json")];
    let req = sigv4::Request {
        method: "POST",
        host: &host,
        path: url.path(),
        query: url.query(),
        headers: &headers,
        body,
    };
    let creds = sigv4::Credentials {
        access_key_id: &aws.access_key_id,
        secret_access_key: secret.expose_secret(),
        session_token: aws.session_token.as_ref().map(|t| t.expose_secret()),
    };
    let scope = sigv4::Scope {
        region: &backend.region,
        service: SERVICE,
        time,
    };
    let mut rb = rb;
    for (name, value) in sigv4::sign(&req, &creds, &scope) {
        rb = match http::HeaderValue::from_str(&value) {
            Ok(mut v) => {
                v.set_sensitive(name != "x-amz-date");
                rb.header(name, v)
            }
            // Not a header value (a token with a newline): reqwest fails
            // the request when sent, without quoting it.
            Err(_) => rb.header(name, value),
        };
    }
    rb
}

/// A signed POST of `body` to `url`, its status checked.
async fn post(
    http: &reqwest::Client,
    call: &Call<'_>,
    url: &url::Url,
    body: Vec<u8>,
    stream: bool,
) -> Result<reqwest::Response, DispatchError> {
    let accept = if stream {
        EVENT_STREAM
    } else {
        "application/json"
    };
    let rb = super::request(http, call, url.as_str(), accept);
    let rb = sign(rb, call.backend, url, accept, &body);
    send_post(rb.body(body), call).await
}

pub async fn chat(
    http: &reqwest::Client,
    call: &Call<'_>,
    req: &ChatRequest,
) -> Result<Reply, DispatchError> {
    let operation = if req.stream {
        "converse-stream"
    } else {
        "converse"
    };
    let url = url(call.backend, call.model, operation).map_err(DispatchError::Convert)?;
    let body = convert::chat_request(&req.body).map_err(DispatchError::Convert)?;
    let bytes = serde_json::to_vec(&body).map_err(|_| DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: "cannot encode the request".into(),
    })?;
    let resp = post(http, call, &url, bytes, req.stream).await?;
    let id = chat_id(call);
    if req.stream {
        let framer = Events {
            decoder: eventstream::Decoder::new(call.limits.max_event_bytes),
            chat: convert::ChunkStream::new(&id, call.created, call.model, req.include_usage),
            started: false,
        };
        open_stream(resp, framer, call).await.map(Reply::Stream)
    } else {
        let body = read_body(resp, call, call.limits.max_response_bytes).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|_| protocol(call, "not valid JSON"))?;
        let out = convert::chat_response(&v, &id, call.created, call.model).map_err(|e| {
            DispatchError::Protocol {
                backend: call.backend.name.clone(),
                message: e.to_string(),
            }
        })?;
        Ok(Reply::Json(Bytes::from(
            serde_json::to_vec(&out).map_err(|_| protocol(call, "not encodable"))?,
        )))
    }
}

/// Sends the first model an empty conversation: a `ValidationException`
/// (400) means Bedrock checked the signature and access and is up.
pub async fn probe(
    http: &reqwest::Client,
    backend: &Backend,
    timeout: Duration,
) -> Result<Vec<String>, DispatchError> {
    let upstream = |message: &str| DispatchError::Protocol {
        backend: backend.name.clone(),
        message: message.into(),
    };
    let model = backend
        .models
        .first()
        .ok_or_else(|| upstream("no model to probe"))?;
    let url = url(backend, model, "converse").map_err(|e| upstream(&e.to_string()))?;
    let body = br#"{"messages":[]}"#;
    let rb = http
        .post(url.as_str())
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .timeout(timeout);
    let resp = sign(rb, backend, &url, "application/json", body)
        .body(&body[..])
        .send()
        .await
        .map_err(|e| transport_error(&backend.name, &e))?;
    let status = resp.status().as_u16();
    let kind = error_type(resp.headers());
    match (status, kind.as_deref()) {
        (200..300, _) | (400, Some("ValidationException")) => Ok(backend.models.clone()),
        _ => Err(DispatchError::Status {
            backend: backend.name.clone(),
            status,
            retry_after: None,
        }),
    }
}

/// The error name of `x-amzn-errortype` (`ThrottlingException:http://...`
/// -> `ThrottlingException`).
fn error_type(h: &http::HeaderMap) -> Option<String> {
    let v = h.get("x-amzn-errortype")?.to_str().ok()?;
    let name = v.split(':').next()?.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// A non-2xx Bedrock answer as the error it is. Bedrock names the error in
/// `x-amzn-errortype` (else `__type` / `code` in the body, namespace cut)
/// with `{"message": ...}` in the body:
/// - `ThrottlingException`, `ServiceQuotaExceededException`,
///   `ModelNotReadyException`: a 429, waited for or tried elsewhere;
/// - `ServiceUnavailableException` 503, `InternalServerException` 500,
///   `ModelTimeoutException` 408, `ModelErrorException` 424 and the
///   credential errors (`AccessDeniedException`,
///   `UnrecognizedClientException`, `InvalidSignatureException`,
///   `ExpiredTokenException`, 403): Bedrock's or airlock's failure, tried
///   elsewhere;
/// - any other 4xx (`ValidationException`, `ResourceNotFoundException`):
///   the caller's, relayed with Bedrock's message.
pub(crate) async fn error(resp: reqwest::Response, call: &Call<'_>) -> DispatchError {
    let status = resp.status().as_u16();
    let retry_after = super::retry_after(resp.headers());
    let header = error_type(resp.headers());
    let body = read_body(resp, call, 64 * 1024).await.unwrap_or_default();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let kind = header.or_else(|| {
        ["__type", "code"].iter().find_map(|k| {
            let t = v.get(*k)?.as_str()?;
            Some(t.rsplit('#').next().unwrap_or(t).to_owned())
        })
    });
    let backend = call.backend.name.clone();
    let failed = |status: u16| DispatchError::Status {
        backend: backend.clone(),
        status,
        retry_after,
    };
    match kind.as_deref() {
        Some(
            "ThrottlingException" | "ServiceQuotaExceededException" | "ModelNotReadyException",
        ) => {
            return failed(429);
        }
        Some("ServiceUnavailableException") => return failed(503),
        Some("InternalServerException") => return failed(500),
        Some("ModelTimeoutException") => return failed(408),
        Some("ModelErrorException") => return failed(424),
        Some(
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "InvalidSignatureException"
            | "ExpiredTokenException"
            | "IncompleteSignatureException"
            | "MissingAuthenticationTokenException",
        ) => return failed(403),
        _ => {}
    }
    if matches!(status, 401 | 402 | 403 | 408 | 429) || !(400..500).contains(&status) {
        return failed(status);
    }
    let text = ["message", "Message"]
        .iter()
        .find_map(|k| v.get(*k).and_then(|m| m.as_str()));
    let message = match (kind.as_deref(), text) {
        (Some(kind), Some(text)) => super::fields::bounded(&format!("{kind}: {text}")),
        (None, Some(text)) => super::fields::bounded(text),
        _ => format!("backend {backend} rejected the request with HTTP {status}"),
    };
    DispatchError::Rejected {
        backend,
        status,
        message,
        param: None,
    }
}

fn protocol(call: &Call<'_>, what: &str) -> DispatchError {
    DispatchError::Protocol {
        backend: call.backend.name.clone(),
        message: format!("the response is {what}"),
    }
}

/// ConverseStream frames to OpenAI SSE chunks.
struct Events {
    decoder: eventstream::Decoder,
    chat: convert::ChunkStream,
    started: bool,
}

impl Events {
    /// One decoded frame; `Err` for exceptions and errors.
    fn frame(&mut self, m: &eventstream::Message, out: &mut BytesMut) -> Result<(), String> {
        match m.header(":message-type") {
            Some("event") => {}
            Some("exception") => {
                let kind = m.header(":exception-type").unwrap_or("exception");
                let text = serde_json::from_slice::<serde_json::Value>(&m.payload)
                    .ok()
                    .and_then(|v| v.get("message").and_then(|t| t.as_str()).map(str::to_owned));
                return Err(match text {
                    Some(text) => super::fields::bounded(&format!("{kind}: {text}")),
                    None => kind.to_owned(),
                });
            }
            Some("error") => {
                let code = m.header(":error-code").unwrap_or("error");
                return Err(match m.header(":error-message") {
                    Some(text) => super::fields::bounded(&format!("{code}: {text}")),
                    None => code.to_owned(),
                });
            }
            _ => return Err("an event-stream message has no known :message-type".into()),
        }
        let kind = m
            .header(":event-type")
            .ok_or("an event has no :event-type")?;
        for c in self
            .chat
            .push_event(kind, &m.payload)
            .map_err(|e| e.to_string())?
        {
            self.started = true;
            write_sse_data(out, &c)?;
        }
        if self.chat.is_done() {
            out.extend_from_slice(b"data: [DONE]\n\n");
        }
        Ok(())
    }
}

impl Framer for Events {
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_done() {
            return Ok(());
        }
        // Frames completed before a framing error still count.
        let pushed = self.decoder.push(chunk);
        while let Some(m) = self.decoder.next_message() {
            self.frame(&m, out)?;
            if self.chat.is_done() {
                return Ok(());
            }
        }
        pushed.map_err(|e| e.to_string())
    }

    fn started(&self) -> bool {
        self.started
    }

    fn finish(&mut self, out: &mut BytesMut) -> Result<(), String> {
        if self.chat.is_done() {
            return Ok(());
        }
        if self.decoder.is_partial() {
            return Err("the stream was cut inside a frame".into());
        }
        for c in self.chat.finish().map_err(|e| e.to_string())? {
            write_sse_data(out, &c)?;
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
