//! OpenAI `chat.completion` (what every backend's answer becomes inside
//! airlock) -> an Anthropic `message` object, for `POST /v1/messages`.
//! Pure; errors describe the shape, never the text.
//!
//! - `content`: the assistant text as one `text` block (none when empty),
//!   then one `tool_use` block per tool call (`arguments` parsed into
//!   `input`: an object, `{}` when blank; anything else is an upstream
//!   error, as Anthropic's `input` must be an object). Reasoning text is
//!   not given back: Anthropic clients expect signed thinking blocks only.
//! - `stop_reason` from `finish_reason` (the shared table,
//!   `providers::anthropic::convert::anthropic_stop_reason`);
//!   `stop_sequence` is always null (OpenAI does not say which matched).
//! - `usage`: `input_tokens` = `prompt_tokens` less the cached ones,
//!   `cache_read_input_tokens` = `prompt_tokens_details.cached_tokens`,
//!   `output_tokens` = `completion_tokens`; without usage, estimates.

use crate::providers::anthropic::convert::anthropic_stop_reason;
use serde_json::{Map, Value, json};

/// Anthropic usage from an OpenAI `usage` object (`None` when absent).
pub fn usage(u: Option<&Value>) -> Option<Usage> {
    let u = u?.as_object()?;
    let prompt = u.get("prompt_tokens").and_then(Value::as_u64)?;
    let cached = u
        .get("prompt_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
        .min(prompt);
    Some(Usage {
        input: prompt - cached,
        cache_read: cached,
        output: u
            .get("completion_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0),
    })
}

/// Token counts in Anthropic's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens not read from a cache.
    pub input: u64,
    pub cache_read: u64,
    pub output: u64,
}

impl Usage {
    pub fn json(&self) -> Value {
        json!({
            "input_tokens": self.input,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": self.cache_read,
            "output_tokens": self.output,
        })
    }
}

/// Tool call arguments (a JSON string) -> a `tool_use` input object.
pub fn tool_input(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(Value::Object(Map::new()));
    }
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
}

/// `chat.completion` -> Anthropic `message` with id `id`; `model` stands in
/// when the answer names none, `input_estimate` when it reports no usage.
pub fn message(chat: &Value, id: &str, model: &str, input_estimate: u64) -> Result<Value, String> {
    let choice = chat
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or("the answer has no choices")?;
    let msg = choice
        .get("message")
        .and_then(Value::as_object)
        .ok_or("the answer's choice has no message")?;
    let mut content = Vec::new();
    let text = match msg.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        Some(_) => return Err("the answer's content is neither text nor parts".into()),
    };
    if !text.is_empty() {
        content.push(json!({"type": "text", "text": text}));
    }
    let mut called = false;
    if let Some(calls) = msg.get("tool_calls").filter(|v| !v.is_null()) {
        let calls = calls.as_array().ok_or("tool_calls is not an array")?;
        for c in calls {
            let f = c.get("function").ok_or("a tool call has no function")?;
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or("a tool call has no name")?;
            let args = match f.get("arguments") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err("tool call arguments are not a string".into()),
            };
            let input = tool_input(args).ok_or("tool call arguments are not a JSON object")?;
            let id = c
                .get("id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map_or_else(|| format!("toolu_{}", content.len()), str::to_owned);
            content.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
            called = true;
        }
    }
    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let usage = usage(chat.get("usage")).unwrap_or(Usage {
        input: input_estimate,
        cache_read: 0,
        output: (text.len() as u64).div_ceil(4),
    });
    Ok(json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": chat.get("model").and_then(Value::as_str).unwrap_or(model),
        "stop_reason": anthropic_stop_reason(finish, called),
        "stop_sequence": null,
        "usage": usage.json(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_answer_with_cached_usage() {
        let chat = json!({"id": "x", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "length"}],
            "usage": {"prompt_tokens": 18, "completion_tokens": 6, "total_tokens": 24,
                "prompt_tokens_details": {"cached_tokens": 5}}});
        let m = message(&chat, "msg_1", "fallback", 99).expect("valid");
        assert_eq!(
            m,
            json!({"id": "msg_1", "type": "message", "role": "assistant",
                "content": [{"type": "text", "text": "Hi."}], "model": "gpt-4o",
                "stop_reason": "max_tokens", "stop_sequence": null,
                "usage": {"input_tokens": 13, "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 5, "output_tokens": 6}})
        );
    }

    #[test]
    fn tool_calls_become_tool_use_blocks() {
        let chat = json!({"choices": [{"message": {"role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
                {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": ""}}]},
            "finish_reason": "stop"}]});
        let m = message(&chat, "msg_1", "m", 7).expect("valid");
        assert_eq!(
            m["content"],
            json!([{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                {"type": "tool_use", "id": "call_2", "name": "g", "input": {}}])
        );
        assert_eq!(m["stop_reason"], "tool_use", "calls made: tool_use");
        assert_eq!(m["model"], "m");
        assert_eq!(m["usage"]["input_tokens"], 7, "estimated");
    }

    #[test]
    fn bad_answers_are_errors_not_panics() {
        for chat in [
            json!({}),
            json!({"choices": []}),
            json!({"choices": [{}]}),
            json!({"choices": [{"message": {"content": 5}}]}),
            json!({"choices": [{"message": {"tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}}]}),
            json!({"choices": [{"message": {"tool_calls": 3}}]}),
        ] {
            assert!(message(&chat, "i", "m", 0).is_err(), "{chat}");
        }
    }

    #[test]
    fn stop_reasons() {
        for (finish, called, want) in [
            (Some("stop"), false, "end_turn"),
            (None, false, "end_turn"),
            (Some("length"), true, "max_tokens"),
            (Some("tool_calls"), false, "tool_use"),
            (Some("stop"), true, "tool_use"),
            (Some("content_filter"), false, "refusal"),
        ] {
            assert_eq!(anthropic_stop_reason(finish, called), want);
        }
    }
}
