//! Converse answers -> OpenAI `chat.completion` objects, and ConverseStream
//! events -> `chat.completion.chunk` objects; part of the Bedrock
//! conversion module. Must not put completion text into errors.
//!
//! - `output.message.content`: `text` blocks are joined (as one `content`
//!   string; `null` when the answer holds only tool calls), `toolUse`
//!   blocks become `tool_calls` (`input` serialised as the `arguments`
//!   string, `toolUseId` kept as the call id), `reasoningContent.reasoningText`
//!   becomes `reasoning_content` (a common extension). Other blocks
//!   (citations, images, documents) answer features airlock never asks for
//!   and are skipped.
//! - `stopReason`: `end_turn`, `stop_sequence` -> `stop`; `max_tokens`,
//!   `model_context_window_exceeded` -> `length`; `tool_use` ->
//!   `tool_calls`; `guardrail_intervened`, `content_filtered` ->
//!   `content_filter`; `malformed_model_output`, `malformed_tool_use` are
//!   upstream errors (no usable answer came; another backend may be
//!   tried); absent or unknown -> `stop` (`tool_calls` when calls were
//!   made).
//! - `usage`: `prompt_tokens` = `inputTokens` + `cacheReadInputTokens` +
//!   `cacheWriteInputTokens` (Bedrock counts cached input apart, OpenAI's
//!   prompt count holds it all), `completion_tokens` = `outputTokens`,
//!   `prompt_tokens_details.cached_tokens` = `cacheReadInputTokens`.
//! - `id`, `created` and `model` come from the caller, as for the other
//!   protocols.
//!
//! Streams (`messageStart`; per content block an optional
//! `contentBlockStart` (tool uses only), `contentBlockDelta`s and
//! `contentBlockStop`; `messageStop` with the stop reason; `metadata` with
//! the usage): text deltas become `content` deltas, `toolUse.input` deltas
//! become `tool_calls[].function.arguments` deltas (the start of each call
//! carries its `index`, `id`, `type` and `name`), reasoning text becomes
//! `reasoning_content`. `messageStop` gives the `finish_reason` chunk;
//! `metadata` (or the stream's end after `messageStop`) the usage chunk of
//! `include_usage`, then the stream is done. The first chunk carries
//! `role`; `messageStart` produces nothing, so a stream that fails before
//! its first content can still be retried elsewhere. Exceptions (read by
//! the transport from the frame headers), malformed events or events out of
//! order are upstream errors; unknown event types are skipped.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ConvertError;

/// Non-streaming Converse answer -> OpenAI `chat.completion`.
pub fn chat_response(
    resp: &Value,
    id: &str,
    created: u64,
    model: &str,
) -> Result<Value, ConvertError> {
    let resp = resp
        .as_object()
        .ok_or_else(|| ConvertError::upstream("answer is not a JSON object"))?;
    let content = resp
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::upstream("answer has no output.message.content array"))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut calls = Vec::new();
    for block in content {
        let block = block
            .as_object()
            .ok_or_else(|| ConvertError::upstream("content block is not an object"))?;
        if let Some(t) = block.get("text") {
            text.push_str(
                t.as_str()
                    .ok_or_else(|| ConvertError::upstream("content block text is not a string"))?,
            );
        } else if let Some(call) = block.get("toolUse") {
            let input = match call.get("input") {
                Some(input @ Value::Object(_)) => input.to_string(),
                None | Some(Value::Null) => "{}".to_owned(),
                Some(_) => return Err(ConvertError::upstream("toolUse input is not an object")),
            };
            calls.push(json!({
                "id": str_field(call, "toolUseId")?,
                "type": "function",
                "function": {"name": str_field(call, "name")?, "arguments": input},
            }));
        } else if let Some(t) = block
            .get("reasoningContent")
            .and_then(|r| r.get("reasoningText"))
            .and_then(|t| t.get("text"))
        {
            reasoning.push_str(
                t.as_str()
                    .ok_or_else(|| ConvertError::upstream("reasoning text is not a string"))?,
            );
        }
        // Other blocks answer features airlock never asks for.
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
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), reasoning.into());
    }
    let stop = match resp.get("stopReason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.as_str()),
        Some(_) => return Err(ConvertError::upstream("stopReason is not a string")),
    };
    let finish = finish_reason(stop, !calls.is_empty())?;
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

/// Converse `stopReason` -> OpenAI `finish_reason`; an error for the
/// reasons that mean no usable answer came.
pub fn finish_reason(
    reason: Option<&str>,
    called_tools: bool,
) -> Result<&'static str, ConvertError> {
    match reason {
        Some("max_tokens" | "model_context_window_exceeded") => Ok("length"),
        Some("guardrail_intervened" | "content_filtered") => Ok("content_filter"),
        Some("tool_use") => Ok("tool_calls"),
        Some(r @ ("malformed_model_output" | "malformed_tool_use")) => Err(ConvertError::upstream(
            format!("the model gave no usable answer ({r})"),
        )),
        _ if called_tools => Ok("tool_calls"),
        _ => Ok("stop"),
    }
}

/// Token counts as Bedrock reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Usage {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

impl Usage {
    fn read(&mut self, usage: Option<&Value>) -> Result<(), ConvertError> {
        let usage = match usage {
            None | Some(Value::Null) => return Ok(()),
            Some(Value::Object(u)) => u,
            Some(_) => return Err(ConvertError::upstream("usage is not an object")),
        };
        for (key, slot) in [
            ("inputTokens", &mut self.input),
            ("outputTokens", &mut self.output),
            ("cacheReadInputTokens", &mut self.cache_read),
            ("cacheWriteInputTokens", &mut self.cache_write),
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
            .saturating_add(self.cache_write)
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

/// What an open content block of a stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Text or reasoning (their deltas say which).
    Text,
    /// A tool use with this OpenAI `tool_calls` index.
    Tool(usize),
}

/// The stream's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `messageStart`.
    New,
    Open,
    /// After `messageStop`: only `metadata` may follow.
    Stopped,
    /// Done: nothing more is accepted.
    Done,
}

/// ConverseStream events -> OpenAI `chat.completion.chunk`s; one per response.
#[derive(Debug, Clone)]
pub struct ChunkStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    /// A chunk was produced (the first carries `role`).
    started: bool,
    open: HashMap<u64, Block>,
    /// Every block index seen, to refuse a repeated start.
    seen: Vec<u64>,
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
            open: HashMap::new(),
            seen: Vec::new(),
            tool_calls: 0,
            phase: Phase::New,
            usage: Usage::default(),
        }
    }

    /// One event (its `:event-type` and JSON payload) -> zero or more
    /// chunks, in order.
    pub fn push_event(&mut self, kind: &str, payload: &[u8]) -> Result<Vec<Value>, ConvertError> {
        if self.phase == Phase::Done {
            return Err(ConvertError::upstream("the stream continued after its end"));
        }
        let value: Value = serde_json::from_slice(payload).map_err(|e| {
            ConvertError::upstream(format!("stream event is not JSON ({:?})", e.classify()))
        })?;
        let event = value
            .as_object()
            .ok_or_else(|| ConvertError::upstream("stream event is not a JSON object"))?;
        let out_of_order = || ConvertError::upstream(format!("{kind} came out of order"));
        let mut delta = Map::new();
        match (kind, self.phase) {
            ("messageStart", Phase::New) => {
                self.phase = Phase::Open;
                return Ok(Vec::new());
            }
            ("contentBlockStart", Phase::Open) => self.block_start(event, &mut delta)?,
            ("contentBlockDelta", Phase::Open) => self.block_delta(event, &mut delta)?,
            ("contentBlockStop", Phase::Open) => {
                let index = block_index(event)?;
                // A text block may end without a delta having opened it.
                self.open.remove(&index);
                if !self.seen.contains(&index) {
                    self.seen.push(index);
                }
            }
            ("messageStop", Phase::Open) => {
                let reason = match event.get("stopReason") {
                    Some(Value::String(r)) => r.as_str(),
                    _ => return Err(ConvertError::upstream("messageStop has no stopReason")),
                };
                let finish = finish_reason(Some(reason), self.tool_calls > 0)?;
                self.phase = Phase::Stopped;
                return Ok(vec![self.chunk(Map::new(), finish.into())]);
            }
            ("metadata", Phase::Open | Phase::Stopped) => {
                self.usage.read(event.get("usage"))?;
                if self.phase == Phase::Stopped {
                    return Ok(self.end());
                }
            }
            (
                "messageStart" | "contentBlockStart" | "contentBlockDelta" | "contentBlockStop"
                | "messageStop" | "metadata",
                _,
            ) => return Err(out_of_order()),
            // New event types may appear.
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
        if self.seen.contains(&index) || self.open.contains_key(&index) {
            return Err(ConvertError::upstream("a content block started twice"));
        }
        self.seen.push(index);
        let Some(call) = event.get("start").and_then(|s| s.get("toolUse")) else {
            // Other starts (images, tool results) belong to features airlock
            // never asks for.
            self.open.insert(index, Block::Text);
            return Ok(());
        };
        let call_index = self.tool_calls;
        self.tool_calls += 1;
        delta.insert(
            "tool_calls".into(),
            json!([{
                "index": call_index,
                "id": str_field(call, "toolUseId")?,
                "type": "function",
                "function": {"name": str_field(call, "name")?, "arguments": ""},
            }]),
        );
        self.open.insert(index, Block::Tool(call_index));
        Ok(())
    }

    fn block_delta(
        &mut self,
        event: &Map<String, Value>,
        delta: &mut Map<String, Value>,
    ) -> Result<(), ConvertError> {
        let index = block_index(event)?;
        let block = match self.open.get(&index) {
            Some(b) => *b,
            // Text blocks have no start event: their first delta opens them.
            None if !self.seen.contains(&index) => {
                self.seen.push(index);
                self.open.insert(index, Block::Text);
                Block::Text
            }
            None => {
                return Err(ConvertError::upstream(
                    "contentBlockDelta for a block that ended",
                ));
            }
        };
        let change = match event.get("delta") {
            Some(Value::Object(d)) => d,
            _ => return Err(ConvertError::upstream("contentBlockDelta has no delta")),
        };
        let mismatch = || ConvertError::upstream("delta type does not match its block");
        if let Some(text) = change.get("text") {
            if block != Block::Text {
                return Err(mismatch());
            }
            let text = text
                .as_str()
                .ok_or_else(|| ConvertError::upstream("delta text is not a string"))?;
            if !text.is_empty() {
                delta.insert("content".into(), text.into());
            }
        } else if let Some(tool) = change.get("toolUse") {
            let Block::Tool(call_index) = block else {
                return Err(mismatch());
            };
            let input = str_field(tool, "input")?;
            if !input.is_empty() {
                delta.insert(
                    "tool_calls".into(),
                    json!([{"index": call_index, "function": {"arguments": input}}]),
                );
            }
        } else if let Some(text) = change
            .get("reasoningContent")
            .and_then(|r| r.get("text"))
            .and_then(Value::as_str)
            && !text.is_empty()
        {
            delta.insert("reasoning_content".into(), text.into());
        }
        // Other deltas (citations, signatures) are skipped.
        Ok(())
    }

    /// The end after `messageStop`: the usage chunk if asked; nothing more
    /// is accepted after it.
    fn end(&mut self) -> Vec<Value> {
        self.phase = Phase::Done;
        if !self.include_usage {
            return Vec::new();
        }
        vec![json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": self.usage.openai(),
        })]
    }

    /// At the upstream's end: the usage chunk if `metadata` did not send it
    /// yet, or an error when the stream was cut before `messageStop`.
    pub fn finish(&mut self) -> Result<Vec<Value>, ConvertError> {
        match self.phase {
            Phase::Done => Ok(Vec::new()),
            Phase::Stopped => Ok(self.end()),
            Phase::New | Phase::Open => Err(ConvertError::upstream(
                "the stream ended before messageStop",
            )),
        }
    }

    /// True once the stream is complete (`metadata` after `messageStop`).
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// `(prompt_tokens, completion_tokens)` as reported so far.
    pub fn usage(&self) -> (u64, u64) {
        (self.usage.prompt(), self.usage.output)
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

fn block_index(event: &Map<String, Value>) -> Result<u64, ConvertError> {
    event
        .get("contentBlockIndex")
        .and_then(Value::as_u64)
        .ok_or_else(|| ConvertError::upstream("content block event has no contentBlockIndex"))
}

fn str_field<'a>(value: &'a Value, key: &str) -> Result<&'a str, ConvertError> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| ConvertError::upstream(format!("`{key}` is not a string")))
}

#[cfg(test)]
#[path = "convert_response_tests.rs"]
mod tests;
