//! OpenAI `chat.completion.chunk` events (what every backend's stream
//! becomes inside airlock) -> Anthropic Messages stream events, for
//! `POST /v1/messages` with `stream: true`. Pure: the caller decodes the SSE
//! and feeds each `data:` payload; the translator appends the Anthropic
//! events (`event: <type>` + `data: <json>`) to an output buffer.
//!
//! The first chunk opens the message (`message_start`, then `ping`). Content
//! deltas open a `text` block, tool-call deltas a `tool_use` block per call
//! (its `id` and `name` from the call's first delta, `arguments` fragments
//! as `input_json_delta`s); a block is closed (`content_block_stop`) when
//! another opens. `finish_reason` and the usage chunk are remembered; at
//! `data: [DONE]` the open block closes, `message_delta` carries the stop
//! reason and usage (estimated when the backend sent none), and
//! `message_stop` ends the stream. An OpenAI error event, a malformed chunk
//! or arguments for a call whose block was already closed become one
//! `event: error` (Anthropic's `{"type":"error","error":{...}}`) and end it;
//! so does a stream that ends with neither `[DONE]` nor a finish reason.
//! Reasoning deltas are not given back (Anthropic clients expect signed
//! thinking blocks only). Error texts never quote the answer.

use super::response::{Usage, usage};
use crate::providers::anthropic::convert::anthropic_stop_reason;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The block being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    /// A tool call by its OpenAI `tool_calls` index.
    Tool(u64),
}

/// One answer's stream translation.
#[derive(Debug)]
pub struct Translator {
    id: String,
    model: String,
    input_estimate: u64,
    started: bool,
    /// The open block and its Anthropic index.
    open: Option<(Open, usize)>,
    next_index: usize,
    /// OpenAI tool-call indexes seen (their blocks open or closed).
    tools: HashMap<u64, usize>,
    finish: Option<String>,
    usage: Option<Usage>,
    text_bytes: usize,
    done: bool,
}

impl Translator {
    /// `id` is the message id; `model` names the model that answers;
    /// `input_estimate` stands in until the backend reports usage.
    pub fn new(id: &str, model: &str, input_estimate: u64) -> Translator {
        Translator {
            id: id.to_owned(),
            model: model.to_owned(),
            input_estimate,
            started: false,
            open: None,
            next_index: 0,
            tools: HashMap::new(),
            finish: None,
            usage: None,
            text_bytes: 0,
            done: false,
        }
    }

    /// Whether the stream has ended (`message_stop` or an error was written).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// One OpenAI SSE `data:` payload.
    pub fn push(&mut self, data: &str, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if data.trim() == "[DONE]" {
            self.end(out);
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            return self.fail(
                out,
                "api_error",
                "the backend sent a malformed stream event",
            );
        };
        if let Some(e) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the backend stream failed");
            let kind = match e.get("code").and_then(Value::as_str) {
                Some("upstream_timeout") => "timeout_error",
                _ => "api_error",
            };
            return self.fail(out, kind, message);
        }
        self.begin(out);
        if let Some(u) = usage(chunk.get("usage")) {
            self.usage = Some(u);
        }
        let Some(choice) = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|c| c.first())
        else {
            return;
        };
        let delta = choice.get("delta");
        if let Some(text) = delta
            .and_then(|d| d.get("content"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            if self.open.map(|(o, _)| o) != Some(Open::Text) {
                self.start_block(out, Open::Text, json!({"type": "text", "text": ""}));
            }
            self.text_bytes += text.len();
            let index = self.open.map_or(0, |(_, i)| i);
            event(
                out,
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "text_delta", "text": text}}),
            );
        }
        if let Some(calls) = delta
            .and_then(|d| d.get("tool_calls"))
            .and_then(Value::as_array)
        {
            for (pos, call) in calls.iter().enumerate() {
                if let Err(m) = self.tool_delta(out, call, pos as u64) {
                    return self.fail(out, "api_error", m);
                }
            }
        }
        if let Some(f) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish = Some(f.to_owned());
        }
    }

    /// The upstream body ended: a stream cut before `[DONE]` and before any
    /// finish reason is an error; one with a finish reason ends normally.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if self.finish.is_some() {
            self.end(out);
        } else {
            self.fail(out, "api_error", "the backend stream ended early");
        }
    }

    /// Ends the stream with an error event (`kind` is Anthropic's type).
    pub fn fail(&mut self, out: &mut Vec<u8>, kind: &str, message: &str) {
        if self.done {
            return;
        }
        self.done = true;
        event(
            out,
            "error",
            &json!({"type": "error", "error": {"type": kind, "message": message}}),
        );
    }

    fn tool_delta(
        &mut self,
        out: &mut Vec<u8>,
        call: &Value,
        pos: u64,
    ) -> Result<(), &'static str> {
        let index = call.get("index").and_then(Value::as_u64).unwrap_or(pos);
        let f = call.get("function");
        let args = f
            .and_then(|f| f.get("arguments"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !self.tools.contains_key(&index) {
            let name = f
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|n| !n.is_empty())
                .ok_or("the backend streamed a tool call without a name")?;
            let id = call
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("toolu_{}_{index}", self.id), str::to_owned);
            self.start_block(
                out,
                Open::Tool(index),
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
            );
            let block = self.open.map_or(0, |(_, i)| i);
            self.tools.insert(index, block);
        } else if self.open.map(|(o, _)| o) != Some(Open::Tool(index)) {
            if args.is_empty() {
                return Ok(());
            }
            return Err("the backend streamed a tool call's arguments after another block");
        }
        if !args.is_empty() {
            let block = self.open.map_or(0, |(_, i)| i);
            event(
                out,
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": block,
                    "delta": {"type": "input_json_delta", "partial_json": args}}),
            );
        }
        Ok(())
    }

    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "content": [],
                "model": self.model, "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": self.input_estimate, "output_tokens": 0}}}),
        );
        event(out, "ping", &json!({"type": "ping"}));
    }

    fn start_block(&mut self, out: &mut Vec<u8>, kind: Open, block: Value) {
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((kind, index));
        event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        );
    }

    fn close_block(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    fn end(&mut self, out: &mut Vec<u8>) {
        self.begin(out);
        self.close_block(out);
        self.done = true;
        let stop = anthropic_stop_reason(self.finish.as_deref(), !self.tools.is_empty());
        let usage = match self.usage {
            Some(u) => json!({"input_tokens": u.input, "cache_read_input_tokens": u.cache_read,
                "output_tokens": u.output}),
            None => json!({"output_tokens": (self.text_bytes as u64).div_ceil(4)}),
        };
        event(
            out,
            "message_delta",
            &json!({"type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": usage}),
        );
        event(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

fn event(out: &mut Vec<u8>, name: &str, data: &Value) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serialising a JSON value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests;
