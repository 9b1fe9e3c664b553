//! Anthropic Messages answers -> OpenAI `chat.completion` objects, and
//! Anthropic stream events -> `chat.completion.chunk` objects; part of the
//! Anthropic conversion module. Must not put completion text into errors.
//!
//! - `content`: `text` blocks are joined (as one `content` string; `null`
//!   when the answer holds only tool calls), `tool_use` blocks become
//!   `tool_calls` (`input` re-serialised as the `arguments` string, the
//!   upstream `id` kept), `thinking` blocks become `reasoning_content` (a
//!   common extension). Other blocks (`redacted_thinking`, server-tool
//!   blocks) come only with features airlock never asks for and are skipped.
//! - `stop_reason`: `end_turn`, `stop_sequence`, `pause_turn` -> `stop`;
//!   `max_tokens`, `model_context_window_exceeded` -> `length`; `tool_use` ->
//!   `tool_calls`; `refusal` -> `content_filter`; absent or unknown -> `stop`
//!   (`tool_calls` when calls were made).
//! - `usage`: `prompt_tokens` = `input_tokens` + `cache_read_input_tokens` +
//!   `cache_creation_input_tokens` (Anthropic counts them apart, OpenAI's
//!   prompt count holds them all), `completion_tokens` = `output_tokens`,
//!   `prompt_tokens_details.cached_tokens` = `cache_read_input_tokens`.
//! - `id`, `created` and `model` come from the caller (`chatcmpl-<request
//!   id>`, the call time, the model airlock asked for), as for Ollama.
//!
//! Streams (`message_start`, then per content block `content_block_start`,
//! `content_block_delta`s and `content_block_stop`, then `message_delta` and
//! `message_stop`; `ping` anywhere): text deltas become `content` deltas,
//! `input_json_delta`s become `tool_calls[].function.arguments` deltas (the
//! first chunk of each call carries its `index`, `id`, `type` and `name`),
//! `message_stop` gives the `finish_reason` chunk and, with `include_usage`,
//! a last chunk with empty `choices` and `usage`. The first chunk carries
//! `role`; `message_start` and `ping` produce nothing, so a stream that fails
//! before its first content can still be retried elsewhere. An `error`
//! event, a malformed event or events out of order are upstream errors;
//! unknown event types are skipped, as Anthropic's versioning policy asks.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::bounded;

/// Non-streaming `/v1/messages` answer -> OpenAI `chat.completion`.
pub fn chat_response(
    resp: &Value,
    id: &str,
    created: u64,
    model: &str,
) -> Result<Value, ConvertError> {
    let resp = message_object(resp, "message")?;
    let content = match resp.get("content") {
        Some(Value::Array(blocks)) => blocks,
        _ => return Err(ConvertError::upstream("message has no content array")),
    };
    let mut text = String::new();
    let mut thinking = String::new();
    let mut calls = Vec::new();
    for block in content {
        let block = block
            .as_object()
            .ok_or_else(|| ConvertError::upstream("content block is not an object"))?;
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block_str(block, "text")?),
            Some("thinking") => thinking.push_str(block_str(block, "thinking")?),
            Some("tool_use") => {
                let input = match block.get("input") {
                    Some(input @ Value::Object(_)) => input.to_string(),
                    _ => return Err(ConvertError::upstream("tool_use input is not an object")),
                };
                calls.push(json!({
                    "id": block_str(block, "id")?,
                    "type": "function",
                    "function": {"name": block_str(block, "name")?, "arguments": input},
                }));
            }
            Some(_) => {}
            None => return Err(ConvertError::upstream("content block has no type")),
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        text.into()
    };
    message.insert("content".into(), content);
    message.insert("refusal".into(), Value::Null);
    if !thinking.is_empty() {
        message.insert("reasoning_content".into(), thinking.into());
    }
    let finish = finish_reason(stop_reason(resp)?, !calls.is_empty());
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut usage = Usage::default();
    usage.read(resp.get("usage"))?;
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

/// Anthropic `stop_reason` -> OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: Option<&str>, called_tools: bool) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("refusal") => "content_filter",
        Some("tool_use") => "tool_calls",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// OpenAI `finish_reason` -> Anthropic `stop_reason`, the inverse of
/// [`finish_reason`], for answers airlock gives in Anthropic's format
/// (`POST /v1/messages`): `length` -> `max_tokens`, `content_filter` ->
/// `refusal`, `tool_calls` (or any finish of an answer that called tools)
/// -> `tool_use`, the rest -> `end_turn`. OpenAI does not say which stop
/// sequence matched, so `stop_sequence` is never produced.
pub fn anthropic_stop_reason(finish_reason: Option<&str>, called_tools: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls" | "function_call") => "tool_use",
        _ if called_tools => "tool_use",
        _ => "end_turn",
    }
}

/// `GET /v1/models` answer -> model ids.
pub fn models(resp: &Value) -> Result<Vec<String>, ConvertError> {
    let resp = message_object(resp, "model list")?;
    let data = match resp.get("data") {
        Some(Value::Array(data)) => data,
        _ => return Err(ConvertError::upstream("model list has no data array")),
    };
    data.iter()
        .map(|m| {
            m.get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| ConvertError::upstream("model list entry has no id"))
        })
        .collect()
}

/// Token counts as Anthropic reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_creation: u64,
}

impl Usage {
    /// Takes every count `usage` names (absent ones keep their value, as a
    /// stream's `message_delta` repeats only what changed).
    fn read(&mut self, usage: Option<&Value>) -> Result<(), ConvertError> {
        let usage = match usage {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(u)) => u,
            Some(_) => return Err(ConvertError::upstream("usage is not an object")),
        };
        for (key, slot) in [
            ("input_tokens", &mut self.input),
            ("output_tokens", &mut self.output),
            ("cache_read_input_tokens", &mut self.cache_read),
            ("cache_creation_input_tokens", &mut self.cache_creation),
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
        Ok(())
    }

    fn prompt(&self) -> u64 {
        self.input
            .saturating_add(self.cache_read)
            .saturating_add(self.cache_creation)
    }

    fn openai(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt(),
            "completion_tokens": self.output,
            "total_tokens": self.prompt().saturating_add(self.output),
            "prompt_tokens_details": {"cached_tokens": self.cache_read},
        })
    }
}

/// What a content block of a stream is, by its Anthropic index.
#[derive(Debug, Clone)]
enum Block {
    Text,
    Thinking,
    Tool {
        /// Its OpenAI `tool_calls` index.
        index: usize,
        /// `input` of the start event when not empty, sent at the block's
        /// end unless `input_json_delta`s came.
        initial: Option<String>,
        had_delta: bool,
    },
    /// A block type airlock never asks for: its deltas are skipped.
    Other,
}

/// Streaming `/v1/messages` -> OpenAI `chat.completion.chunk`s; one per response.
#[derive(Debug, Clone)]
pub struct MessageStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// `message_start` was seen.
    begun: bool,
    /// A chunk was produced (the first carries `role`).
    started: bool,
    /// Open blocks by Anthropic index; closed ones are removed.
    open: HashMap<u64, Block>,
    /// Every block index seen, to refuse a repeated start.
    seen: Vec<u64>,
    tool_calls: usize,
    stop_reason: Option<String>,
    usage: Usage,
    done: bool,
}

impl MessageStream {
    pub fn new(id: &str, created: u64, model: &str, include_usage: bool) -> Self {
        Self {
            id: id.to_owned(),
            created,
            model: model.to_owned(),
            include_usage,
            begun: false,
            started: false,
            open: HashMap::new(),
            seen: Vec::new(),
            tool_calls: 0,
            stop_reason: None,
            usage: Usage::default(),
            done: false,
        }
    }

    /// One SSE event (its `event:` name, if any, and its `data`) -> zero or
    /// more chunks, in order.
    pub fn push_event(
        &mut self,
        name: Option<&str>,
        data: &str,
    ) -> Result<Vec<Value>, ConvertError> {
        if self.done {
            return Err(ConvertError::upstream(
                "message stream continued after message_stop",
            ));
        }
        let value: Value = serde_json::from_str(data).map_err(|e| {
            ConvertError::upstream(format!("stream event is not JSON ({:?})", e.classify()))
        })?;
        let event = value
            .as_object()
            .ok_or_else(|| ConvertError::upstream("stream event is not a JSON object"))?;
        let kind = match (event.get("type"), name) {
            (Some(Value::String(t)), Some(n)) if t != n => {
                return Err(ConvertError::upstream(
                    "stream event type differs from its SSE event name",
                ));
            }
            (Some(Value::String(t)), _) => t.as_str(),
            (None, Some(n)) => n,
            _ => return Err(ConvertError::upstream("stream event has no type")),
        };
        match kind {
            "ping" => return Ok(Vec::new()),
            "error" => return Err(error_event(event)),
            "message_start" if self.begun => {
                return Err(ConvertError::upstream("message_start came twice"));
            }
            "message_start" => {
                let message = match event.get("message") {
                    Some(Value::Object(m)) => m,
                    _ => return Err(ConvertError::upstream("message_start has no message")),
                };
                self.usage.read(message.get("usage"))?;
                self.begun = true;
                return Ok(Vec::new());
            }
            _ if !self.begun => {
                return Err(ConvertError::upstream("stream event before message_start"));
            }
            _ => {}
        }
        let mut delta = Map::new();
        match kind {
            "content_block_start" => self.block_start(event, &mut delta)?,
            "content_block_delta" => self.block_delta(event, &mut delta)?,
            "content_block_stop" => {
                let index = block_index(event)?;
                match self.open.remove(&index) {
                    Some(Block::Tool {
                        index,
                        initial: Some(input),
                        had_delta: false,
                    }) => {
                        delta.insert("tool_calls".into(), arguments_delta(index, input));
                    }
                    Some(_) => {}
                    None => {
                        return Err(ConvertError::upstream(
                            "content_block_stop for a block that is not open",
                        ));
                    }
                }
            }
            "message_delta" => {
                match event.get("delta") {
                    Some(Value::Object(d)) => match d.get("stop_reason") {
                        None | Some(Value::Null) => {}
                        Some(Value::String(r)) => self.stop_reason = Some(r.clone()),
                        Some(_) => {
                            return Err(ConvertError::upstream("stop_reason is not a string"));
                        }
                    },
                    _ => return Err(ConvertError::upstream("message_delta has no delta")),
                }
                self.usage.read(event.get("usage"))?;
            }
            "message_stop" => return Ok(self.stop()),
            // New event types may appear (Anthropic's versioning policy).
            _ => {}
        }
        Ok(if delta.is_empty() {
            Vec::new()
        } else {
            vec![self.chunk(delta, Value::Null)]
        })
    }

    fn block_start(
        &mut self,
        event: &Map<String, Value>,
        delta: &mut Map<String, Value>,
    ) -> Result<(), ConvertError> {
        let index = block_index(event)?;
        if self.seen.contains(&index) {
            return Err(ConvertError::upstream("a content block started twice"));
        }
        let block = match event.get("content_block") {
            Some(Value::Object(b)) => b,
            _ => return Err(ConvertError::upstream("content_block_start has no block")),
        };
        let kind = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block_str(block, "text")?;
                if !text.is_empty() {
                    delta.insert("content".into(), text.into());
                }
                Block::Text
            }
            Some("thinking") => {
                let thinking = block_str(block, "thinking")?;
                if !thinking.is_empty() {
                    delta.insert("reasoning_content".into(), thinking.into());
                }
                Block::Thinking
            }
            Some("tool_use") => {
                let initial = match block.get("input") {
                    None | Some(Value::Null) => None,
                    Some(Value::Object(m)) if m.is_empty() => None,
                    Some(input @ Value::Object(_)) => Some(input.to_string()),
                    Some(_) => {
                        return Err(ConvertError::upstream("tool_use input is not an object"));
                    }
                };
                let index = self.tool_calls;
                self.tool_calls += 1;
                delta.insert(
                    "tool_calls".into(),
                    json!([{
                        "index": index,
                        "id": block_str(block, "id")?,
                        "type": "function",
                        "function": {"name": block_str(block, "name")?, "arguments": ""},
                    }]),
                );
                Block::Tool {
                    index,
                    initial,
                    had_delta: false,
                }
            }
            Some(_) => Block::Other,
            None => return Err(ConvertError::upstream("content block has no type")),
        };
        self.seen.push(index);
        self.open.insert(index, kind);
        Ok(())
    }

    fn block_delta(
        &mut self,
        event: &Map<String, Value>,
        delta: &mut Map<String, Value>,
    ) -> Result<(), ConvertError> {
        let index = block_index(event)?;
        let block = self.open.get_mut(&index).ok_or_else(|| {
            ConvertError::upstream("content_block_delta for a block that is not open")
        })?;
        let change = match event.get("delta") {
            Some(Value::Object(d)) => d,
            _ => return Err(ConvertError::upstream("content_block_delta has no delta")),
        };
        let mismatch = || ConvertError::upstream("delta type does not match its block");
        match (change.get("type").and_then(Value::as_str), block) {
            (Some("text_delta"), Block::Text) => {
                let text = block_str(change, "text")?;
                if !text.is_empty() {
                    delta.insert("content".into(), text.into());
                }
            }
            (Some("thinking_delta"), Block::Thinking) => {
                let text = block_str(change, "thinking")?;
                if !text.is_empty() {
                    delta.insert("reasoning_content".into(), text.into());
                }
            }
            (Some("signature_delta"), Block::Thinking) => {}
            (
                Some("input_json_delta"),
                Block::Tool {
                    index, had_delta, ..
                },
            ) => {
                *had_delta = true;
                let part = block_str(change, "partial_json")?;
                if !part.is_empty() {
                    delta.insert(
                        "tool_calls".into(),
                        arguments_delta(*index, part.to_owned()),
                    );
                }
            }
            (Some(_), Block::Other) => {}
            (Some("text_delta" | "thinking_delta" | "signature_delta" | "input_json_delta"), _) => {
                return Err(mismatch());
            }
            // Other delta types (e.g. `citations_delta`) belong to features
            // airlock never asks for.
            (Some(_), _) => {}
            (None, _) => return Err(ConvertError::upstream("delta has no type")),
        }
        Ok(())
    }

    /// `message_stop`: the finish chunk and, if asked, the usage chunk.
    fn stop(&mut self) -> Vec<Value> {
        self.done = true;
        let finish = finish_reason(self.stop_reason.as_deref(), self.tool_calls > 0);
        let mut out = vec![self.chunk(Map::new(), finish.into())];
        if self.include_usage {
            out.push(json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage.openai(),
            }));
        }
        out
    }

    /// True once `message_stop` was seen.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// `(prompt_tokens, completion_tokens)` as reported so far.
    pub fn usage(&self) -> (u64, u64) {
        (self.usage.prompt(), self.usage.output)
    }

    /// To call when the upstream body ended: an error unless `message_stop` came.
    pub fn end(&self) -> Result<(), ConvertError> {
        if self.done {
            Ok(())
        } else {
            Err(ConvertError::upstream(
                "message stream ended before message_stop",
            ))
        }
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

fn arguments_delta(index: usize, arguments: String) -> Value {
    json!([{"index": index, "function": {"arguments": arguments}}])
}

fn block_index(event: &Map<String, Value>) -> Result<u64, ConvertError> {
    event
        .get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConvertError::upstream("content block event has no index"))
}

fn block_str<'a>(block: &'a Map<String, Value>, key: &str) -> Result<&'a str, ConvertError> {
    block
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::upstream(format!("content block `{key}` is not a string")))
}

fn stop_reason(resp: &Map<String, Value>) -> Result<Option<&str>, ConvertError> {
    match resp.get("stop_reason") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(r)) => Ok(Some(r)),
        Some(_) => Err(ConvertError::upstream("stop_reason is not a string")),
    }
}

/// `value` as an object, failing with the upstream's own error if it is an
/// Anthropic error body.
fn message_object<'a>(
    value: &'a Value,
    what: &str,
) -> Result<&'a Map<String, Value>, ConvertError> {
    let map = value
        .as_object()
        .ok_or_else(|| ConvertError::upstream(format!("{what} is not a JSON object")))?;
    if map.get("type").and_then(Value::as_str) == Some("error") {
        return Err(error_event(map));
    }
    Ok(map)
}

/// `{"type":"error","error":{"type","message"}}` -> an upstream error
/// naming Anthropic's error type and its (bounded) message.
fn error_event(event: &Map<String, Value>) -> ConvertError {
    let error = event.get("error");
    let kind = error
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("error");
    match error.and_then(|e| e.get("message")).and_then(Value::as_str) {
        Some(message) => ConvertError::upstream(bounded(&format!("{kind}: {message}"))),
        None => ConvertError::upstream(bounded(kind)),
    }
}

#[cfg(test)]
#[path = "convert_response_tests.rs"]
mod tests;
