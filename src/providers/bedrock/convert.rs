//! OpenAI chat completions -> an Amazon Bedrock `Converse` /
//! `ConverseStream` request body, as `serde_json::Value` in and out. Pure:
//! no I/O, no clock, no randomness. The model goes in the URL path and
//! `stream` picks the operation, so neither is in the body.
//!
//! It must never silently drop a request field that changes the output (the
//! policy of the other conversions): a field is mapped, refused
//! ([`ConvertError::Unsupported`], which lets the caller try another
//! backend), or on the short list below of fields that do not change what
//! the model says. It must not put prompt or completion text into errors.
//!
//! Request mapping (OpenAI -> Converse):
//! - `system` and `developer` messages, wherever they stand, become the
//!   top-level `system` blocks (`{text}`), in order. `user` and `assistant`
//!   keep their roles; each `tool` message becomes a `toolResult` block
//!   (`toolUseId` from `tool_call_id`, its text as `content: [{text}]`) in a
//!   user turn. Consecutive turns of one role are merged into one (Converse
//!   wants them alternating) and in a user turn the `toolResult` blocks go
//!   first, as the Anthropic models on Bedrock require.
//! - Content is a string or parts. `text` (and `refusal`) parts become
//!   `{text}` blocks; empty texts are skipped and a turn left with no block
//!   is dropped (Converse refuses blank text). `image_url` parts (user
//!   messages only) with a base64 `data:` URL of PNG, JPEG, GIF or WebP
//!   become `{image: {format, source: {bytes}}}`; http(s) image URLs are
//!   refused (Converse reads images only from bytes or S3, and airlock
//!   fetches nothing). `input_audio`, `file` and other parts are refused; a
//!   message's `name` and an image's `detail` are not forwarded.
//! - Assistant `tool_calls` -> `{toolUse: {toolUseId, name, input}}` blocks
//!   (`arguments`, a JSON object string, parsed). `reasoning_content` is not
//!   forwarded (Bedrock takes back only reasoning blocks it signed).
//! - `tools` (type `function`) -> `toolConfig.tools[].toolSpec` `{name,
//!   description, inputSchema: {json}}` (an empty object schema without
//!   `parameters`; `strict` is not enforced). `tool_choice`: `auto` ->
//!   Converse's default (nothing sent), `required` -> `{any: {}}`, a named
//!   function -> `{tool: {name}}` (it must be one of `tools`). Converse has
//!   no `none`: then `tools` are left out, which forbids calls, unless the
//!   conversation holds tool calls or results (Converse then requires the
//!   tools), when it is refused. A forced choice without tools is invalid;
//!   `parallel_tool_calls: false` is refused when tools may be called
//!   (Converse cannot limit a turn to one call).
//! - `inferenceConfig`: `max_completion_tokens` / `max_tokens` ->
//!   `maxTokens` (the smaller if both), `temperature`, `top_p` -> `topP`,
//!   `stop` (string or array) -> `stopSequences`.
//! - Refused: `n` > 1, `logprobs: true`, `top_logprobs` > 0, non-empty
//!   `logit_bias`, non-zero `presence_penalty` / `frequency_penalty`,
//!   `seed`, `response_format` other than `text`, `modalities` other than
//!   `["text"]`, and every field not named here (e.g. `audio`,
//!   `prediction`, `reasoning_effort`, `functions`).
//! - Accepted and not forwarded: `stream` (it picks the operation) and
//!   [`IGNORED_CHAT_FIELDS`]. A `null` value counts as absent.
//!
//! Response mapping: see `convert_response.rs`.

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::{
    self, Message, base64_data_url, boolean, has_scheme, object, positive, string, tool_calls, uint,
};

#[path = "convert_response.rs"]
mod response;

pub use response::{ChunkStream, chat_response, finish_reason};

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

/// `data:` media types -> Converse image `format`s.
const IMAGE_FORMATS: [(&str, &str); 4] = [
    ("image/png", "png"),
    ("image/jpeg", "jpeg"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
];

/// OpenAI chat body -> Converse body.
pub fn chat_request(body: &Map<String, Value>) -> Result<Value, ConvertError> {
    let mut config = Map::new();
    let mut max_tokens: Option<u64> = None;
    let mut choice: Option<&Value> = None;
    let mut parallel = true;
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        let key = key.as_str();
        match key {
            "model" | "messages" | "tools" => {}
            "stream" => {
                boolean(value, key)?;
            }
            "tool_choice" => choice = Some(value),
            "parallel_tool_calls" => parallel = boolean(value, key)?,
            "temperature" | "top_p" => {
                number(value, key)?;
                let name = if key == "top_p" { "topP" } else { key };
                config.insert(name.into(), value.clone());
            }
            "stop" => {
                if let Some(stop) = stop(value)? {
                    config.insert("stopSequences".into(), stop);
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
                        "JSON modes are not translated for Bedrock backends",
                    ));
                }
            }
            "presence_penalty" | "frequency_penalty" if number(value, key)? != 0.0 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Converse has no sampling penalties",
                ));
            }
            "seed" => {
                return Err(ConvertError::unsupported(key, "Converse takes no seed"));
            }
            "n" if positive(value, key)? > 1 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Converse returns one choice",
                ));
            }
            "logprobs" if boolean(value, key)? => {
                return Err(ConvertError::unsupported(
                    key,
                    "Converse returns no logprobs",
                ));
            }
            "top_logprobs" if uint(value, key)? > 0 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Converse returns no logprobs",
                ));
            }
            "logit_bias" if !object(value, key)?.is_empty() => {
                return Err(ConvertError::unsupported(key, "Converse has no logit bias"));
            }
            "modalities" if value != &json!(["text"]) => {
                return Err(ConvertError::unsupported(
                    key,
                    "Bedrock backends answer in text only",
                ));
            }
            "presence_penalty" | "frequency_penalty" | "n" | "logprobs" | "top_logprobs"
            | "logit_bias" | "modalities" => {}
            _ if IGNORED_CHAT_FIELDS.contains(&key) => {}
            _ => {
                return Err(ConvertError::unsupported(
                    key,
                    "this parameter is not supported for Bedrock backends",
                ));
            }
        }
    }
    let messages = body
        .get("messages")
        .ok_or_else(|| ConvertError::invalid("messages", "is required"))?;
    let (system, turns, tool_history) = chat_messages(messages)?;
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(turns));
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let tools = match body.get("tools").filter(|v| !v.is_null()) {
        Some(tools) => chat_tools(tools)?,
        None => Vec::new(),
    };
    let choice = match choice {
        Some(choice) => tool_choice(choice, &tools)?,
        None => Choice::Auto,
    };
    if !tools.is_empty() {
        match choice {
            Choice::None if tool_history => {
                return Err(ConvertError::unsupported(
                    "tool_choice",
                    "Converse has no `none` choice and needs the tools of a conversation with tool calls",
                ));
            }
            Choice::None => {}
            choice => {
                if !parallel {
                    return Err(ConvertError::unsupported(
                        "parallel_tool_calls",
                        "Converse cannot limit a turn to one tool call",
                    ));
                }
                let mut tool_config = Map::new();
                tool_config.insert("tools".into(), Value::Array(tools));
                match choice {
                    Choice::Any => {
                        tool_config.insert("toolChoice".into(), json!({"any": {}}));
                    }
                    Choice::Tool(name) => {
                        tool_config.insert("toolChoice".into(), json!({"tool": {"name": name}}));
                    }
                    Choice::Auto | Choice::None => {}
                }
                out.insert("toolConfig".into(), Value::Object(tool_config));
            }
        }
    }
    if let Some(n) = max_tokens {
        config.insert("maxTokens".into(), n.into());
    }
    if !config.is_empty() {
        out.insert("inferenceConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

/// One message's role in Converse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    User,
    Assistant,
}

/// `(system blocks, alternating user/assistant turns, whether any tool call
/// or result is among them)`.
fn chat_messages(value: &Value) -> Result<(Vec<Value>, Vec<Value>, bool), ConvertError> {
    let list = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid("messages", "must be an array"))?;
    if list.is_empty() {
        return Err(ConvertError::invalid("messages", "must not be empty"));
    }
    let mut system = Vec::new();
    let mut turns: Vec<(Turn, Vec<Value>)> = Vec::new();
    let mut tool_history = false;
    for (i, message) in list.iter().enumerate() {
        let Message {
            path,
            fields: message,
            role,
            content,
        } = fields::message(message, i, "Bedrock backends")?;
        let role_path = format!("{path}.role");
        let content_path = format!("{path}.content");
        let required = || ConvertError::invalid(content_path.as_str(), "is required");
        let (turn, blocks) = match role {
            "system" | "developer" => {
                let content = content.ok_or_else(required)?;
                system.extend(blocks(content, &content_path, false)?);
                continue;
            }
            "user" => {
                let content = content.ok_or_else(required)?;
                (Turn::User, blocks(content, &content_path, true)?)
            }
            "assistant" => {
                let mut out = match content {
                    Some(content) => blocks(content, &content_path, false)?,
                    None => Vec::new(),
                };
                if out.is_empty()
                    && let Some(refusal) = message.get("refusal").and_then(Value::as_str)
                    && !refusal.is_empty()
                {
                    out.push(json!({"text": refusal}));
                }
                if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                    for c in tool_calls(calls, &path)? {
                        tool_history = true;
                        out.push(json!({"toolUse": {
                            "toolUseId": c.id, "name": c.name, "input": c.arguments,
                        }}));
                    }
                }
                (Turn::Assistant, out)
            }
            "tool" => {
                let id_path = format!("{path}.tool_call_id");
                let id = message
                    .get("tool_call_id")
                    .ok_or_else(|| ConvertError::invalid(id_path.as_str(), "is required"))?;
                let id = string(id, &id_path)?;
                let text = blocks(content.ok_or_else(required)?, &content_path, false)?;
                tool_history = true;
                let result = json!({"toolResult": {"toolUseId": id, "content": text}});
                (Turn::User, vec![result])
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
                    blocks.sort_by_key(|b| b.get("toolResult").is_none());
                    "user"
                }
                Turn::Assistant => "assistant",
            };
            json!({"role": role, "content": blocks})
        })
        .collect();
    Ok((system, turns, tool_history))
}

/// A message's content as Converse blocks: text, and images when allowed
/// (user messages). Empty texts are skipped.
fn blocks(value: &Value, path: &str, images: bool) -> Result<Vec<Value>, ConvertError> {
    let parts = match value {
        Value::String(text) if text.is_empty() => return Ok(Vec::new()),
        Value::String(text) => return Ok(vec![json!({"text": text})]),
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
                    out.push(json!({"text": text}));
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
            // The type is not quoted: it is the caller's text.
            _ => {
                return Err(ConvertError::unsupported(
                    part_path,
                    "this content part type is not supported for Bedrock backends",
                ));
            }
        }
    }
    Ok(out)
}

/// An `image` block from a base64 `data:` URL.
fn image_block(url: &str, path: &str) -> Result<Value, ConvertError> {
    if has_scheme(url, "http://") || has_scheme(url, "https://") {
        return Err(ConvertError::unsupported(
            path,
            "Bedrock backends take images as base64 `data:` URLs, not links",
        ));
    }
    let (media_type, data) = base64_data_url(url).ok_or_else(|| {
        ConvertError::invalid(path, "must be an http(s) URL or a base64 `data:` URL")
    })?;
    let media_type = media_type.to_ascii_lowercase();
    let format = IMAGE_FORMATS
        .iter()
        .find(|(m, _)| *m == media_type)
        .map(|(_, f)| *f)
        .ok_or_else(|| {
            ConvertError::unsupported(path, "Converse accepts PNG, JPEG, GIF and WebP images")
        })?;
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// `tools` -> `toolSpec`s.
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
                "only `function` tools are supported for Bedrock backends",
            ));
        }
        let func_path = format!("{path}.function");
        let func = object(tool.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let mut spec = Map::new();
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        spec.insert("name".into(), name.into());
        if let Some(d) = func.get("description").filter(|v| !v.is_null()) {
            let d = string(d, &format!("{func_path}.description"))?;
            spec.insert("description".into(), d.into());
        }
        let schema = match func.get("parameters").filter(|v| !v.is_null()) {
            Some(p) => {
                object(p, &format!("{func_path}.parameters"))?;
                p.clone()
            }
            None => json!({"type": "object", "properties": {}}),
        };
        spec.insert("inputSchema".into(), json!({"json": schema}));
        out.push(json!({"toolSpec": spec}));
    }
    Ok(out)
}

/// A `tool_choice`, checked against `tools`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Choice {
    Auto,
    None,
    Any,
    Tool(String),
}

fn tool_choice(value: &Value, tools: &[Value]) -> Result<Choice, ConvertError> {
    let choice = match value {
        Value::String(s) if s == "auto" => Choice::Auto,
        Value::String(s) if s == "none" => Choice::None,
        Value::String(s) if s == "required" => Choice::Any,
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
            if !tools.is_empty() && !tools.iter().any(|t| t["toolSpec"]["name"] == name) {
                return Err(ConvertError::invalid(
                    "tool_choice.function.name",
                    "names no function in `tools`",
                ));
            }
            Choice::Tool(name.to_owned())
        }
        _ => return Err(ConvertError::invalid("tool_choice", "unknown value")),
    };
    if tools.is_empty() && matches!(choice, Choice::Any | Choice::Tool(_)) {
        return Err(ConvertError::invalid(
            "tool_choice",
            "a forced tool choice needs `tools`",
        ));
    }
    Ok(choice)
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
mod tests;
