//! OpenAI chat completions <-> Anthropic's Messages API (`POST /v1/messages`,
//! `anthropic-version: 2023-06-01`), as `serde_json::Value` in and out. Pure:
//! no I/O, no clock, no randomness; the caller supplies ids and timestamps.
//!
//! It must never silently drop a request field that changes the output (the
//! same policy as the Ollama conversion): a field is mapped, refused
//! ([`ConvertError::Unsupported`], which lets the caller try another
//! backend), or on the short list below of fields that do not change what
//! the model says. It must not put prompt or completion text into errors.
//!
//! Request mapping (OpenAI -> Anthropic):
//! - `system` and `developer` messages, wherever they stand, become the
//!   top-level `system` text blocks, in order. `user` and `assistant` keep
//!   their roles; each `tool` message becomes a `tool_result` block
//!   (`tool_use_id` from `tool_call_id`) in a user turn. Anthropic wants
//!   alternating roles, so consecutive turns of one role are merged into one,
//!   and within a user turn the `tool_result` blocks go first (Anthropic
//!   requires them before any other content).
//! - Content is a string or parts. `text` (and `refusal`) parts become `text`
//!   blocks; empty texts are skipped and a turn left with no block is
//!   dropped (Anthropic refuses empty content). `image_url` parts (user
//!   messages only) become `image` blocks: a base64 `data:` URL of JPEG, PNG,
//!   GIF or WebP -> a `base64` source, an http(s) URL -> a `url` source;
//!   `detail` is not forwarded. `input_audio`, `file` and other parts are
//!   refused. A message's `name` is not forwarded.
//! - Assistant `tool_calls` -> `tool_use` blocks (`id`, `name`, and the
//!   `arguments` JSON object string parsed into `input`; text that is not a
//!   JSON object is invalid). `reasoning_content` is not forwarded: Anthropic
//!   takes back only the signed thinking blocks it produced. The `function`
//!   role and `function_call`/`audio` on messages are refused.
//! - `tools` (type `function`) -> `{name, description, input_schema}`, the
//!   schema being `parameters` or, without it, an empty object schema
//!   (`strict` is not enforced). `tool_choice`: `auto` -> `auto`, `none` ->
//!   `none`, `required` -> `any`, a named function -> `tool`; with
//!   `parallel_tool_calls: false` the choice gets
//!   `disable_parallel_tool_use: true`. A forced choice without tools is
//!   invalid; `auto`/`none` without tools are dropped.
//! - `max_completion_tokens` / `max_tokens` -> `max_tokens` (the smaller if
//!   both). Anthropic requires it: absent, the backend's
//!   `default_max_tokens` is sent (4096 unless configured).
//! - `temperature` (Anthropic's range is 0 to 1: above 1 is refused), `top_p`,
//!   `stop` (string or array) -> `stop_sequences`, `stream` -> `stream`.
//! - Refused: `n` > 1, `logprobs: true`, `top_logprobs` > 0, non-empty
//!   `logit_bias`, non-zero `presence_penalty` / `frequency_penalty`, `seed`,
//!   `response_format` other than `text` (Anthropic's Messages API has no
//!   equivalent), `modalities` other than `["text"]`, and every field not
//!   named here (e.g. `audio`, `prediction`, `reasoning_effort`, `functions`).
//! - Accepted and not forwarded ([`IGNORED_CHAT_FIELDS`]): `stream_options`
//!   (the caller reads `include_usage`), `user`, `metadata`, `store`,
//!   `service_tier`, `safety_identifier`, `prompt_cache_key`,
//!   `prompt_cache_retention`. A `null` value counts as absent.
//!
//! Response mapping: see `convert_response.rs`.

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::{
    self, Message, base64_data_url, boolean, has_scheme, object, positive, string, tool_calls, uint,
};

#[path = "convert_response.rs"]
mod response;

pub use response::{MessageStream, anthropic_stop_reason, chat_response, finish_reason, models};

/// Top-level chat fields accepted and not forwarded: none changes the output.
pub const IGNORED_CHAT_FIELDS: &[&str] = &[
    "stream_options",
    "user",
    "metadata",
    "store",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
];

/// Image media types the Messages API accepts in a `base64` source.
pub const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// OpenAI chat body -> Anthropic `/v1/messages` body for `model`;
/// `default_max_tokens` is sent when the request names no limit.
pub fn chat_request(
    body: &Map<String, Value>,
    model: &str,
    default_max_tokens: u64,
) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    let mut max_tokens: Option<u64> = None;
    let mut choice: Option<&Value> = None;
    let mut parallel = true;
    out.insert("model".into(), model.into());
    out.insert("stream".into(), false.into());
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        let key = key.as_str();
        match key {
            "model" | "messages" | "tools" => {}
            "stream" => {
                out.insert("stream".into(), boolean(value, key)?.into());
            }
            "tool_choice" => choice = Some(value),
            "parallel_tool_calls" => parallel = boolean(value, key)?,
            "temperature" => {
                let t = number(value, key)?;
                if t > 1.0 {
                    return Err(ConvertError::unsupported(
                        key,
                        "Anthropic accepts a temperature from 0 to 1",
                    ));
                }
                out.insert(key.into(), value.clone());
            }
            "top_p" => {
                number(value, key)?;
                out.insert(key.into(), value.clone());
            }
            "stop" => {
                if let Some(stop) = stop(value)? {
                    out.insert("stop_sequences".into(), stop);
                }
            }
            "max_tokens" | "max_completion_tokens" => {
                let n = positive(value, key)?;
                max_tokens = Some(max_tokens.map_or(n, |m| m.min(n)));
            }
            "response_format" => {
                let format = object(value, key)?;
                if format.get("type").and_then(Value::as_str) != Some("text") {
                    return Err(ConvertError::unsupported(
                        key,
                        "Anthropic backends answer in text only; JSON modes are not supported",
                    ));
                }
            }
            "presence_penalty" | "frequency_penalty" if number(value, key)? != 0.0 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic has no sampling penalties",
                ));
            }
            "seed" => {
                return Err(ConvertError::unsupported(key, "Anthropic takes no seed"));
            }
            "n" if positive(value, key)? > 1 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic returns one choice",
                ));
            }
            "logprobs" if boolean(value, key)? => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic returns no logprobs",
                ));
            }
            "top_logprobs" if uint(value, key)? > 0 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic returns no logprobs",
                ));
            }
            "logit_bias" if !object(value, key)?.is_empty() => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic has no logit bias",
                ));
            }
            "modalities" if value != &json!(["text"]) => {
                return Err(ConvertError::unsupported(
                    key,
                    "Anthropic backends answer in text only",
                ));
            }
            "presence_penalty" | "frequency_penalty" | "n" | "logprobs" | "top_logprobs"
            | "logit_bias" | "modalities" => {}
            _ if IGNORED_CHAT_FIELDS.contains(&key) => {}
            _ => {
                return Err(ConvertError::unsupported(
                    key,
                    "this parameter is not supported for Anthropic backends",
                ));
            }
        }
    }
    let messages = body
        .get("messages")
        .ok_or_else(|| ConvertError::invalid("messages", "is required"))?;
    let (system, turns) = chat_messages(messages)?;
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    out.insert("messages".into(), Value::Array(turns));
    let tools = match body.get("tools").filter(|v| !v.is_null()) {
        Some(tools) => chat_tools(tools)?,
        None => Vec::new(),
    };
    let choice = match choice {
        Some(choice) => tool_choice(choice, !tools.is_empty())?,
        None => None,
    };
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
        let mut choice = choice.unwrap_or_else(|| json!({"type": "auto"}));
        if !parallel
            && choice["type"] != "none"
            && let Value::Object(map) = &mut choice
        {
            map.insert("disable_parallel_tool_use".into(), true.into());
        }
        // `auto` alone is Anthropic's default: leave it out.
        if choice != json!({"type": "auto"}) {
            out.insert("tool_choice".into(), choice);
        }
    }
    out.insert(
        "max_tokens".into(),
        max_tokens.unwrap_or(default_max_tokens).into(),
    );
    Ok(Value::Object(out))
}

/// One message's role in the Messages API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    User,
    Assistant,
}

/// `(system blocks, alternating user/assistant turns)`.
fn chat_messages(value: &Value) -> Result<(Vec<Value>, Vec<Value>), ConvertError> {
    let list = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid("messages", "must be an array"))?;
    if list.is_empty() {
        return Err(ConvertError::invalid("messages", "must not be empty"));
    }
    let mut system = Vec::new();
    let mut turns: Vec<(Turn, Vec<Value>)> = Vec::new();
    for (i, message) in list.iter().enumerate() {
        let Message {
            path,
            fields: message,
            role,
            content,
        } = fields::message(message, i, "Anthropic backends")?;
        let role_path = format!("{path}.role");
        let content_path = format!("{path}.content");
        let required = || ConvertError::invalid(content_path.as_str(), "is required");
        let (turn, blocks) = match role {
            "system" | "developer" => {
                let content = content.ok_or_else(required)?;
                system.extend(text_blocks(content, &content_path, false)?);
                continue;
            }
            "user" => {
                let content = content.ok_or_else(required)?;
                (Turn::User, text_blocks(content, &content_path, true)?)
            }
            "assistant" => {
                let mut blocks = match content {
                    Some(content) => text_blocks(content, &content_path, false)?,
                    None => Vec::new(),
                };
                if blocks.is_empty()
                    && let Some(refusal) = message.get("refusal").and_then(Value::as_str)
                    && !refusal.is_empty()
                {
                    blocks.push(json!({"type": "text", "text": refusal}));
                }
                if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                    blocks.extend(assistant_tool_calls(calls, &path)?);
                }
                (Turn::Assistant, blocks)
            }
            "tool" => {
                let id_path = format!("{path}.tool_call_id");
                let id = message
                    .get("tool_call_id")
                    .ok_or_else(|| ConvertError::invalid(id_path.as_str(), "is required"))?;
                let id = string(id, &id_path)?;
                let text = text_blocks(content.ok_or_else(required)?, &content_path, false)?;
                let mut result = Map::new();
                result.insert("type".into(), "tool_result".into());
                result.insert("tool_use_id".into(), id.into());
                if !text.is_empty() {
                    result.insert("content".into(), Value::Array(text));
                }
                (Turn::User, vec![Value::Object(result)])
            }
            "function" => {
                return Err(ConvertError::unsupported(
                    role_path,
                    "the deprecated `function` role is not supported; use `tool`",
                ));
            }
            _ => return Err(ConvertError::invalid(role_path, "unknown role")),
        };
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, merged)) if *last == turn => merged.extend(blocks),
            _ => turns.push((turn, blocks)),
        }
    }
    if turns.is_empty() {
        return Err(ConvertError::invalid(
            "messages",
            "must contain a user or assistant message with content",
        ));
    }
    let turns = turns
        .into_iter()
        .map(|(turn, mut blocks)| {
            let role = match turn {
                Turn::User => {
                    // Stable: tool results first, in order, then the rest.
                    blocks.sort_by_key(|b| b["type"] != "tool_result");
                    "user"
                }
                Turn::Assistant => "assistant",
            };
            json!({"role": role, "content": blocks})
        })
        .collect();
    Ok((system, turns))
}

/// A message's content as Anthropic blocks: text, and images when allowed
/// (user messages). Empty texts are skipped.
fn text_blocks(value: &Value, path: &str, images: bool) -> Result<Vec<Value>, ConvertError> {
    let text_block = |text: &str| json!({"type": "text", "text": text});
    let parts = match value {
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![text_block(text)]),
        Value::Array(parts) => parts,
        _ => return Err(ConvertError::invalid(path, "must be a string or an array")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part_path = format!("{path}[{j}]");
        let part = object(part, &part_path)?;
        let kind = part
            .get("type")
            .ok_or_else(|| ConvertError::invalid(format!("{part_path}.type"), "is required"))?;
        match string(kind, &format!("{part_path}.type"))? {
            kind @ ("text" | "refusal") => {
                let field_path = format!("{part_path}.{kind}");
                let text = part
                    .get(kind)
                    .ok_or_else(|| ConvertError::invalid(field_path.as_str(), "is required"))?;
                let text = string(text, &field_path)?;
                if !text.is_empty() {
                    out.push(text_block(text));
                }
            }
            "image_url" => {
                let image_path = format!("{part_path}.image_url");
                if !images {
                    return Err(ConvertError::invalid(
                        image_path,
                        "images are only allowed in user messages",
                    ));
                }
                let url = part
                    .get("image_url")
                    .and_then(|v| v.get("url"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| ConvertError::invalid(image_path.as_str(), "needs a `url`"))?;
                out.push(image_block(url, &image_path)?);
            }
            other => {
                return Err(ConvertError::unsupported(
                    part_path,
                    format!("`{other}` content parts are not supported for Anthropic backends"),
                ));
            }
        }
    }
    Ok(out)
}

/// An `image` block from an http(s) URL or a base64 `data:` URL.
fn image_block(url: &str, path: &str) -> Result<Value, ConvertError> {
    if has_scheme(url, "http://") || has_scheme(url, "https://") {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    let (media_type, data) = base64_data_url(url).ok_or_else(|| {
        ConvertError::invalid(path, "must be an http(s) URL or a base64 `data:` URL")
    })?;
    let media_type = media_type.to_ascii_lowercase();
    if !IMAGE_TYPES.contains(&media_type.as_str()) {
        return Err(ConvertError::unsupported(
            path,
            "Anthropic accepts JPEG, PNG, GIF and WebP images",
        ));
    }
    Ok(json!({
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }))
}

fn assistant_tool_calls(value: &Value, path: &str) -> Result<Vec<Value>, ConvertError> {
    Ok(tool_calls(value, path)?
        .into_iter()
        .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}))
        .collect())
}

fn chat_tools(value: &Value) -> Result<Vec<Value>, ConvertError> {
    let tools = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid("tools", "must be an array"))?;
    let mut out = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        let path = format!("tools[{i}]");
        let tool = object(tool, &path)?;
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            return Err(ConvertError::unsupported(
                format!("{path}.type"),
                "only `function` tools are supported for Anthropic backends",
            ));
        }
        let func_path = format!("{path}.function");
        let func = object(tool.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let mut out_tool = Map::new();
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        out_tool.insert("name".into(), name.into());
        if let Some(d) = func.get("description").filter(|v| !v.is_null()) {
            let d = string(d, &format!("{func_path}.description"))?;
            out_tool.insert("description".into(), d.into());
        }
        let schema = match func.get("parameters").filter(|v| !v.is_null()) {
            Some(p) => {
                object(p, &format!("{func_path}.parameters"))?;
                p.clone()
            }
            None => json!({"type": "object", "properties": {}}),
        };
        out_tool.insert("input_schema".into(), schema);
        out.push(Value::Object(out_tool));
    }
    Ok(out)
}

/// The Anthropic `tool_choice`; `None` when there are no tools to choose from.
fn tool_choice(value: &Value, has_tools: bool) -> Result<Option<Value>, ConvertError> {
    let choice = match value {
        Value::String(s) if s == "auto" => json!({"type": "auto"}),
        Value::String(s) if s == "none" => json!({"type": "none"}),
        Value::String(s) if s == "required" => json!({"type": "any"}),
        Value::Object(map) => {
            if map.get("type").and_then(Value::as_str) != Some("function") {
                return Err(ConvertError::unsupported(
                    "tool_choice.type",
                    "only `function` tool choices are supported",
                ));
            }
            let name = map
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or_else(|| ConvertError::invalid("tool_choice.function.name", "is required"))?;
            json!({"type": "tool", "name": name})
        }
        _ => return Err(ConvertError::invalid("tool_choice", "unknown value")),
    };
    match choice["type"].as_str() {
        _ if has_tools => Ok(Some(choice)),
        Some("auto" | "none") => Ok(None),
        _ => Err(ConvertError::invalid(
            "tool_choice",
            "a forced tool choice needs `tools`",
        )),
    }
}

fn stop(value: &Value) -> Result<Option<Value>, ConvertError> {
    match value {
        Value::String(s) => Ok(Some(json!([s]))),
        Value::Array(items) if items.iter().all(Value::is_string) => {
            Ok((!items.is_empty()).then(|| value.clone()))
        }
        _ => Err(ConvertError::invalid(
            "stop",
            "must be a string or an array of strings",
        )),
    }
}

fn number(value: &Value, path: &str) -> Result<f64, ConvertError> {
    value
        .as_f64()
        .ok_or_else(|| ConvertError::invalid(path, "must be a number"))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
pub(crate) mod tests;
