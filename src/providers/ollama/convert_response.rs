//! Ollama `/api/chat` answers -> OpenAI `chat.completion` and
//! `chat.completion.chunk` objects; part of the Ollama conversion module (see
//! its docs for the mapping). Must not put completion text into errors.

use serde_json::{Map, Value, json};

use super::{ConvertError, upstream_object};

/// Non-streaming `/api/chat` answer -> OpenAI `chat.completion`.
pub fn chat_response(
    resp: &Value,
    id: &str,
    created: u64,
    model: &str,
) -> Result<Value, ConvertError> {
    let resp = upstream_object(resp, "chat response")?;
    if resp.get("done") != Some(&Value::Bool(true)) {
        return Err(ConvertError::upstream("chat response is not marked done"));
    }
    let message = match resp.get("message") {
        Some(Value::Object(m)) => m,
        _ => return Err(ConvertError::upstream("chat response has no message")),
    };
    let (content, thinking) = message_texts(message)?;
    let calls = upstream_tool_calls(message, id, 0)?;
    let mut out_msg = Map::new();
    out_msg.insert("role".into(), "assistant".into());
    let content = if content.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        content.into()
    };
    out_msg.insert("content".into(), content);
    out_msg.insert("refusal".into(), Value::Null);
    if !thinking.is_empty() {
        out_msg.insert("reasoning_content".into(), thinking.into());
    }
    let finish = finish_reason(resp, !calls.is_empty())?;
    if !calls.is_empty() {
        out_msg.insert("tool_calls".into(), Value::Array(calls));
    }
    let (prompt, completion) = token_counts(resp)?;
    Ok(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": out_msg,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": usage(prompt, completion),
    }))
}

/// Streaming `/api/chat` -> OpenAI `chat.completion.chunk`s; one per response.
#[derive(Debug, Clone)]
pub struct ChatStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    tool_calls: usize,
    usage: Option<(u64, u64)>,
}

impl ChatStream {
    pub fn new(id: &str, created: u64, model: &str, include_usage: bool) -> Self {
        Self {
            id: id.to_owned(),
            created,
            model: model.to_owned(),
            include_usage,
            started: false,
            tool_calls: 0,
            usage: None,
        }
    }

    /// One NDJSON line -> zero or more chunks, in order. The first carries
    /// `role`; the done line gives a `finish_reason` chunk and, with
    /// `include_usage`, a last chunk with empty `choices` and `usage`.
    pub fn push_line(&mut self, line: &[u8]) -> Result<Vec<Value>, ConvertError> {
        if self.is_done() {
            return Err(ConvertError::upstream(
                "chat stream continued after its final line",
            ));
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| {
            ConvertError::upstream(format!("chat stream line is not JSON ({:?})", e.classify()))
        })?;
        let resp = upstream_object(&value, "chat stream line")?;
        let done = match resp.get("done") {
            None | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => {
                return Err(ConvertError::upstream(
                    "chat stream `done` is not a boolean",
                ));
            }
        };
        let mut delta = Map::new();
        let mut calls = Vec::new();
        match resp.get("message") {
            Some(Value::Object(message)) => {
                let (content, thinking) = message_texts(message)?;
                if !content.is_empty() {
                    delta.insert("content".into(), content.into());
                }
                if !thinking.is_empty() {
                    delta.insert("reasoning_content".into(), thinking.into());
                }
                calls = upstream_tool_calls(message, &self.id, self.tool_calls)?;
            }
            None | Some(Value::Null) => {}
            Some(_) => {
                return Err(ConvertError::upstream(
                    "chat stream message is not an object",
                ));
            }
        }
        let calls_here = !calls.is_empty();
        if calls_here {
            for (k, call) in calls.iter_mut().enumerate() {
                if let Value::Object(call) = call {
                    call.insert("index".into(), (self.tool_calls + k).into());
                }
            }
            self.tool_calls += calls.len();
            delta.insert("tool_calls".into(), Value::Array(calls));
        }
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            delta.insert("role".into(), "assistant".into());
            // OpenAI's first chunk has `content: ""`, or `null` beside tool calls.
            let empty = if calls_here { Value::Null } else { "".into() };
            delta.entry("content").or_insert(empty);
        }
        if !delta.is_empty() {
            out.push(self.chunk(Value::Object(delta), Value::Null));
        }
        if done {
            let finish = finish_reason(resp, self.tool_calls > 0)?;
            let (prompt, completion) = token_counts(resp)?;
            self.usage = Some((prompt, completion));
            out.push(self.chunk(json!({}), finish.into()));
            if self.include_usage {
                out.push(json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage(prompt, completion),
                }));
            }
        }
        Ok(out)
    }

    /// True once the done line was seen.
    pub fn is_done(&self) -> bool {
        self.usage.is_some()
    }

    /// `(prompt_tokens, completion_tokens)` from the done line.
    pub fn usage(&self) -> Option<(u64, u64)> {
        self.usage
    }

    /// To call when the upstream body ended: an error unless the done line came.
    pub fn end(&self) -> Result<(), ConvertError> {
        if self.is_done() {
            Ok(())
        } else {
            Err(ConvertError::upstream(
                "chat stream ended before its final line",
            ))
        }
    }

    fn chunk(&self, delta: Value, finish: Value) -> Value {
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

/// `(content, thinking)` of an Ollama message; absent fields are empty.
fn message_texts(message: &Map<String, Value>) -> Result<(&str, &str), ConvertError> {
    let text = |key: &str| match message.get(key) {
        None | Some(Value::Null) => Ok(""),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(ConvertError::upstream(format!(
            "message `{key}` is not a string"
        ))),
    };
    Ok((text("content")?, text("thinking")?))
}

/// Ollama tool calls -> OpenAI ones (without `index`), numbered from `first`.
fn upstream_tool_calls(
    message: &Map<String, Value>,
    response_id: &str,
    first: usize,
) -> Result<Vec<Value>, ConvertError> {
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(ConvertError::upstream("`tool_calls` is not an array")),
    };
    let suffix = response_id.strip_prefix("chatcmpl-").unwrap_or(response_id);
    let bad = || ConvertError::upstream("tool call has no function name");
    let mut out = Vec::with_capacity(calls.len());
    for (k, call) in calls.iter().enumerate() {
        let func = call.get("function").ok_or_else(bad)?;
        let name = func.get("name").and_then(Value::as_str).ok_or_else(bad)?;
        let arguments = match func.get("arguments") {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(args) => args.to_string(),
        };
        let id = match call.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("call_{suffix}_{}", first + k),
        };
        out.push(json!({
            "id": id,
            "type": "function",
            "function": { "name": name, "arguments": arguments },
        }));
    }
    Ok(out)
}

fn finish_reason(
    resp: &Map<String, Value>,
    called_tools: bool,
) -> Result<&'static str, ConvertError> {
    match resp.get("done_reason") {
        Some(Value::String(r)) if r == "length" => Ok("length"),
        None | Some(Value::Null | Value::String(_)) if called_tools => Ok("tool_calls"),
        None | Some(Value::Null | Value::String(_)) => Ok("stop"),
        Some(_) => Err(ConvertError::upstream("`done_reason` is not a string")),
    }
}

fn token_counts(resp: &Map<String, Value>) -> Result<(u64, u64), ConvertError> {
    let count = |key: &str| match resp.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ConvertError::upstream(format!("`{key}` is not a token count"))),
    };
    Ok((count("prompt_eval_count")?, count("eval_count")?))
}

fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt.saturating_add(completion),
    })
}
