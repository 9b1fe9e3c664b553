//! Gemini `GenerateContentResponse`s -> OpenAI `chat.completion` objects,
//! and the responses of a `streamGenerateContent?alt=sse` stream ->
//! `chat.completion.chunk` objects; part of the Gemini conversion module.
//! Must not put prompt or completion text into errors.
//!
//! - The first candidate is read (airlock never asks for more). Its `text`
//!   parts are joined into `content` (`null` when the answer holds only tool
//!   calls); `thought: true` text parts become `reasoning_content` (a common
//!   extension); `functionCall` parts become `tool_calls` (`args` serialised
//!   as the `arguments` string; Gemini's `id` kept, else `call_<request
//!   id>_<n>`), with the part's `thoughtSignature` as
//!   `extra_content.google.thought_signature` (the field Google's own OpenAI
//!   compatibility uses) so that a caller sending the call back returns it.
//!   Other parts come only with features airlock never asks for and are
//!   skipped.
//! - `finishReason`: `STOP`, `OTHER`, absent or unknown -> `stop`
//!   (`tool_calls` when calls were made); `MAX_TOKENS` -> `length`;
//!   `SAFETY`, `RECITATION`, `LANGUAGE`, `BLOCKLIST`, `PROHIBITED_CONTENT`,
//!   `SPII` and the `IMAGE_*` filters -> `content_filter`;
//!   `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`,
//!   `TOO_MANY_TOOL_CALLS`, `MISSING_THOUGHT_SIGNATURE` and
//!   `MALFORMED_RESPONSE` are upstream errors (no answer came; another
//!   backend may be tried).
//! - A prompt Gemini blocked (`promptFeedback.blockReason`, no candidates)
//!   is a [`ConvertError::ContentFilter`] naming the reason: HTTP 400
//!   `content_filter`, not an empty answer.
//! - `usageMetadata`: `prompt_tokens` = `promptTokenCount` (cached content
//!   included, as in OpenAI's count) + `toolUsePromptTokenCount`;
//!   `completion_tokens` = `candidatesTokenCount` + `thoughtsTokenCount`
//!   (the latter also as `completion_tokens_details.reasoning_tokens`);
//!   `prompt_tokens_details.cached_tokens` = `cachedContentTokenCount`;
//!   `total_tokens` = `totalTokenCount` (their sum when absent).
//! - `id`, `created` and `model` come from the caller, as for the other
//!   protocols. A Google error body (`{"error":{"code","message","status"}}`)
//!   is an upstream error naming its status.
//!
//! Streams: every SSE event holds a whole `GenerateContentResponse` with the
//! new parts only. Text becomes `content` deltas, each function call one
//! `tool_calls` delta (Gemini sends calls whole: `index`, `id`, `type`,
//! `name` and all `arguments` at once), the `finishReason` a finish chunk.
//! The upstream's end is the stream's end (Gemini sends no `[DONE]`): then,
//! with `include_usage`, a last chunk with empty `choices` and the usage
//! last reported. The first chunk carries `role`; events without content
//! produce nothing, so a stream that fails before content can still be
//! retried elsewhere. An `error` object, a blocked prompt, a malformed event
//! or content after the finish reason are errors; an end without a finish
//! reason is a cut stream.

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::bounded;

/// Non-streaming `generateContent` answer -> OpenAI `chat.completion`.
pub fn chat_response(
    resp: &Value,
    id: &str,
    created: u64,
    model: &str,
) -> Result<Value, ConvertError> {
    let resp = response_object(resp, "answer")?;
    let mut usage = Usage::default();
    usage.read(resp.get("usageMetadata"))?;
    let candidate = match first_candidate(resp)? {
        Some(c) => c,
        None => return Err(ConvertError::upstream("answer has no candidates")),
    };
    let mut parts = Parts::new(id, 0);
    parts.read(candidate)?;
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if parts.text.is_empty() && !parts.calls.is_empty() {
        Value::Null
    } else {
        std::mem::take(&mut parts.text).into()
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !parts.thought.is_empty() {
        message.insert("reasoning_content".into(), parts.thought.into());
    }
    let finish = finish_reason(finish_of(candidate)?, !parts.calls.is_empty())?;
    if !parts.calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(parts.calls));
    }
    Ok(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": usage.openai(),
    }))
}

/// Gemini `finishReason` -> OpenAI `finish_reason`; an error for the
/// reasons that mean no usable answer came.
pub fn finish_reason(
    reason: Option<&str>,
    called_tools: bool,
) -> Result<&'static str, ConvertError> {
    match reason {
        Some("MAX_TOKENS") => Ok("length"),
        Some(
            "SAFETY"
            | "RECITATION"
            | "LANGUAGE"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "IMAGE_RECITATION",
        ) => Ok("content_filter"),
        Some(
            r @ ("MALFORMED_FUNCTION_CALL"
            | "UNEXPECTED_TOOL_CALL"
            | "TOO_MANY_TOOL_CALLS"
            | "MISSING_THOUGHT_SIGNATURE"
            | "MALFORMED_RESPONSE"),
        ) => Err(ConvertError::upstream(format!(
            "the model gave no usable answer ({r})"
        ))),
        _ if called_tools => Ok("tool_calls"),
        _ => Ok("stop"),
    }
}

/// `GET /v1beta/models` answer -> model ids (the `models/` prefix dropped),
/// leaving out models that do not serve `generateContent` (embedding models).
pub fn models(resp: &Value) -> Result<Vec<String>, ConvertError> {
    let resp = response_object(resp, "model list")?;
    let list = match resp.get("models") {
        Some(Value::Array(list)) => list,
        // An empty list has no `models` field at all.
        None => return Ok(Vec::new()),
        Some(_) => return Err(ConvertError::upstream("model list is not an array")),
    };
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let name = m
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ConvertError::upstream("model list entry has no name"))?;
        let generates = match m.get("supportedGenerationMethods") {
            Some(Value::Array(methods)) => methods.iter().any(|x| x == "generateContent"),
            _ => true,
        };
        if generates {
            out.push(name.strip_prefix("models/").unwrap_or(name).to_owned());
        }
    }
    Ok(out)
}

/// Token counts as Gemini reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    prompt: u64,
    candidates: u64,
    thoughts: u64,
    cached: u64,
    tool_prompt: u64,
    total: Option<u64>,
}

impl Usage {
    /// Takes every count `usage` names (a stream repeats them, growing).
    fn read(&mut self, usage: Option<&Value>) -> Result<(), ConvertError> {
        let usage = match usage {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(u)) => u,
            Some(_) => return Err(ConvertError::upstream("usageMetadata is not an object")),
        };
        let mut total = self.total.unwrap_or(0);
        for (key, slot) in [
            ("promptTokenCount", &mut self.prompt),
            ("candidatesTokenCount", &mut self.candidates),
            ("thoughtsTokenCount", &mut self.thoughts),
            ("cachedContentTokenCount", &mut self.cached),
            ("toolUsePromptTokenCount", &mut self.tool_prompt),
            ("totalTokenCount", &mut total),
        ] {
            match usage.get(key) {
                None | Some(Value::Null) => {}
                Some(v) => {
                    *slot = v.as_u64().ok_or_else(|| {
                        ConvertError::upstream(format!("usage `{key}` is not a token count"))
                    })?;
                }
            }
        }
        if usage.get("totalTokenCount").is_some_and(|v| !v.is_null()) {
            self.total = Some(total);
        }
        Ok(())
    }

    fn prompt_tokens(&self) -> u64 {
        self.prompt.saturating_add(self.tool_prompt)
    }

    fn completion_tokens(&self) -> u64 {
        self.candidates.saturating_add(self.thoughts)
    }

    fn openai(&self) -> Value {
        let sum = self
            .prompt_tokens()
            .saturating_add(self.completion_tokens());
        json!({
            "prompt_tokens": self.prompt_tokens(),
            "completion_tokens": self.completion_tokens(),
            "total_tokens": self.total.unwrap_or(sum),
            "prompt_tokens_details": {"cached_tokens": self.cached},
            "completion_tokens_details": {"reasoning_tokens": self.thoughts},
        })
    }
}

/// What a candidate's parts say, in OpenAI terms.
struct Parts {
    /// The `n` of generated call ids: `call_<suffix>_<n>`.
    suffix: String,
    next_call: usize,
    text: String,
    thought: String,
    calls: Vec<Value>,
}

impl Parts {
    /// For response id `id`, numbering generated call ids from `first`.
    fn new(id: &str, first: usize) -> Self {
        Self {
            suffix: id.strip_prefix("chatcmpl-").unwrap_or(id).to_owned(),
            next_call: first,
            text: String::new(),
            thought: String::new(),
            calls: Vec::new(),
        }
    }

    fn read(&mut self, candidate: &Map<String, Value>) -> Result<(), ConvertError> {
        let content = match candidate.get("content") {
            // A filtered candidate may come without content.
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(c)) => c,
            Some(_) => return Err(ConvertError::upstream("candidate content is not an object")),
        };
        let parts = match content.get("parts") {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Array(p)) => p,
            Some(_) => return Err(ConvertError::upstream("content parts is not an array")),
        };
        for part in parts {
            let part = part
                .as_object()
                .ok_or_else(|| ConvertError::upstream("content part is not an object"))?;
            if let Some(text) = part.get("text") {
                let text = text
                    .as_str()
                    .ok_or_else(|| ConvertError::upstream("part `text` is not a string"))?;
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    self.thought.push_str(text);
                } else {
                    self.text.push_str(text);
                }
            } else if let Some(call) = part.get("functionCall") {
                let call = self.call(call, part.get("thoughtSignature"))?;
                self.calls.push(call);
            }
            // Other parts (executable code, inline data, ...) answer
            // features airlock never asks for.
        }
        Ok(())
    }

    /// One `functionCall` as an OpenAI tool call.
    fn call(&mut self, call: &Value, signature: Option<&Value>) -> Result<Value, ConvertError> {
        let call = call
            .as_object()
            .ok_or_else(|| ConvertError::upstream("functionCall is not an object"))?;
        let name = call
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ConvertError::upstream("functionCall has no name"))?;
        let arguments = match call.get("args") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(args @ Value::Object(_)) => args.to_string(),
            Some(_) => return Err(ConvertError::upstream("functionCall args is not an object")),
        };
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("call_{}_{}", self.suffix, self.next_call),
        };
        self.next_call += 1;
        let mut out = json!({
            "id": id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        });
        match signature {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                out["extra_content"] = json!({"google": {"thought_signature": s}});
            }
            Some(_) => return Err(ConvertError::upstream("thoughtSignature is not a string")),
        }
        Ok(out)
    }
}

/// The stream's position, for the chunks it still owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No finish reason yet.
    Open,
    /// The finish chunk was sent; only usage may follow.
    Finished,
    /// The end was reported; nothing more is accepted.
    Ended,
}

/// `streamGenerateContent?alt=sse` events -> OpenAI `chat.completion.chunk`s;
/// one per response.
pub struct ChunkStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// A chunk was produced (the first carries `role`).
    started: bool,
    /// Tool calls sent so far (their OpenAI `index`).
    tool_calls: usize,
    phase: Phase,
    usage: Usage,
}

impl ChunkStream {
    pub fn new(id: &str, created: u64, model: &str, include_usage: bool) -> Self {
        Self {
            id: id.to_owned(),
            created,
            model: model.to_owned(),
            include_usage,
            started: false,
            tool_calls: 0,
            phase: Phase::Open,
            usage: Usage::default(),
        }
    }

    /// One SSE event's `data` -> zero or more chunks, in order.
    pub fn push_event(&mut self, data: &str) -> Result<Vec<Value>, ConvertError> {
        if self.phase == Phase::Ended {
            return Err(ConvertError::upstream("the stream continued after its end"));
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            ConvertError::upstream(format!("stream event is not JSON ({:?})", e.classify()))
        })?;
        let resp = response_object(&value, "stream event")?;
        self.usage.read(resp.get("usageMetadata"))?;
        let Some(candidate) = first_candidate(resp)? else {
            // Usage alone (e.g. after the finish reason).
            return Ok(Vec::new());
        };
        let mut parts = Parts::new(&self.id, self.tool_calls);
        parts.read(candidate)?;
        let mut delta = Map::new();
        if !parts.text.is_empty() {
            delta.insert("content".into(), parts.text.into());
        }
        if !parts.thought.is_empty() {
            delta.insert("reasoning_content".into(), parts.thought.into());
        }
        if !parts.calls.is_empty() {
            let calls: Vec<Value> = parts
                .calls
                .into_iter()
                .map(|mut call| {
                    call["index"] = self.tool_calls.into();
                    self.tool_calls += 1;
                    call
                })
                .collect();
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        if self.phase == Phase::Finished && !delta.is_empty() {
            return Err(ConvertError::upstream(
                "content came after the finish reason",
            ));
        }
        let mut out = Vec::new();
        if !delta.is_empty() {
            out.push(self.chunk(delta, Value::Null));
        }
        if self.phase == Phase::Open
            && let Some(reason) = finish_of(candidate)?
        {
            let finish = finish_reason(Some(reason), self.tool_calls > 0)?;
            self.phase = Phase::Finished;
            out.push(self.chunk(Map::new(), finish.into()));
        }
        Ok(out)
    }

    /// At the upstream's end: the usage chunk if asked, or an error when no
    /// finish reason came (a cut stream).
    pub fn end(&mut self) -> Result<Vec<Value>, ConvertError> {
        match self.phase {
            Phase::Open => Err(ConvertError::upstream(
                "the stream ended before a finish reason",
            )),
            Phase::Ended => Ok(Vec::new()),
            Phase::Finished => {
                self.phase = Phase::Ended;
                if !self.include_usage {
                    return Ok(Vec::new());
                }
                Ok(vec![json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": self.usage.openai(),
                })])
            }
        }
    }

    /// True once `end` succeeded.
    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// `(prompt_tokens, completion_tokens)` as reported so far.
    pub fn usage(&self) -> (u64, u64) {
        (self.usage.prompt_tokens(), self.usage.completion_tokens())
    }

    fn chunk(&mut self, mut delta: Map<String, Value>, finish: Value) -> Value {
        if !self.started {
            self.started = true;
            delta.insert("role".into(), "assistant".into());
            // OpenAI's first chunk has `content: ""`, or `null` beside tool calls.
            let empty = if delta.contains_key("tool_calls") {
                Value::Null
            } else {
                "".into()
            };
            delta.entry("content").or_insert(empty);
        }
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish,
            }],
        });
        if self.include_usage
            && let Value::Object(map) = &mut chunk
        {
            map.insert("usage".into(), Value::Null);
        }
        chunk
    }
}

/// The first candidate, or `None` when there is none; a blocked prompt is
/// a [`ConvertError::ContentFilter`].
fn first_candidate(resp: &Map<String, Value>) -> Result<Option<&Map<String, Value>>, ConvertError> {
    if let Some(feedback) = resp.get("promptFeedback").filter(|v| !v.is_null()) {
        match feedback.get("blockReason") {
            None | Some(Value::Null) => {}
            Some(Value::String(reason)) => {
                return Err(ConvertError::ContentFilter {
                    message: bounded(&format!(
                        "the backend's safety filter blocked the prompt ({reason})"
                    )),
                });
            }
            Some(_) => return Err(ConvertError::upstream("blockReason is not a string")),
        }
    }
    match resp.get("candidates") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) => match list.first() {
            None => Ok(None),
            Some(Value::Object(c)) => Ok(Some(c)),
            Some(_) => Err(ConvertError::upstream("candidate is not an object")),
        },
        Some(_) => Err(ConvertError::upstream("candidates is not an array")),
    }
}

fn finish_of(candidate: &Map<String, Value>) -> Result<Option<&str>, ConvertError> {
    match candidate.get("finishReason") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(r)) => Ok(Some(r)),
        Some(_) => Err(ConvertError::upstream("finishReason is not a string")),
    }
}

/// `value` as an object, failing with Google's own error if it is an error
/// body (`{"error":{"code","message","status"}}`).
fn response_object<'a>(
    value: &'a Value,
    what: &str,
) -> Result<&'a Map<String, Value>, ConvertError> {
    let map = value
        .as_object()
        .ok_or_else(|| ConvertError::upstream(format!("{what} is not a JSON object")))?;
    if let Some(error) = map.get("error") {
        let status = error
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let text = match error.get("message").and_then(Value::as_str) {
            Some(message) => format!("{status}: {message}"),
            None => status.to_owned(),
        };
        return Err(ConvertError::upstream(bounded(&text)));
    }
    Ok(map)
}

#[cfg(test)]
#[path = "convert_response_tests.rs"]
mod tests;
