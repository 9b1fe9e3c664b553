//! OpenAI chat-completions and embeddings <-> Ollama's native API (`/api/chat`,
//! `/api/embed`, `/api/tags`), as `serde_json::Value` in and out. Pure: no I/O,
//! no clock, no randomness; the caller supplies ids and timestamps.
//!
//! It must never silently drop a request field that changes the output: a
//! field is mapped, refused ([`ConvertError::Unsupported`]), or on the short
//! list below of fields that do not change what the model says. It must not put
//! prompt or completion text into errors.
//!
//! Request mapping (OpenAI -> Ollama):
//! - `messages`: `system`/`developer` -> `system`; `user`, `assistant`, `tool`
//!   kept. Content is a string or parts; text (and `refusal`) parts are joined
//!   with `\n`. `image_url` parts (user messages only) with base64 `data:` URLs
//!   go to the message's `images`; http(s) URLs are refused (Ollama takes only
//!   base64); `input_audio`, `file` and other parts are refused. Assistant
//!   `tool_calls` get their `arguments` JSON string parsed into an object;
//!   `reasoning_content` becomes `thinking`. A `tool` message gets `tool_name`
//!   from the earlier assistant call with its `tool_call_id`. The `function`
//!   role and `function_call`/`audio` on messages are refused; a message's
//!   `name` and an image's `detail` are not forwarded. An empty `messages`
//!   is invalid (Ollama would only load the model).
//! - `tools` (type `function`) -> `tools` (`strict` is not enforced).
//!   `tool_choice` `auto` is the default; `none` omits `tools`; `required` or
//!   a named function is refused (Ollama cannot force a call).
//! - `response_format`: `text` -> nothing, `json_object` -> `format: "json"`,
//!   `json_schema` -> `format: <schema>` (no schema -> `"json"`).
//! - `temperature`, `top_p`, `seed`, `presence_penalty`, `frequency_penalty`,
//!   `stop` (string or array) -> `options`; `max_completion_tokens` /
//!   `max_tokens` -> `options.num_predict` (the smaller if both).
//! - `stream` -> `stream` (default false); `keep_alive` passes through.
//! - Refused: `n` > 1, `logprobs: true`, `top_logprobs` > 0, non-empty
//!   `logit_bias`, `modalities` other than `["text"]`, and every field not
//!   named here (e.g. `audio`, `prediction`, `reasoning_effort`, `functions`).
//! - Accepted and not forwarded ([`IGNORED_CHAT_FIELDS`]): `parallel_tool_calls`,
//!   `stream_options` (the caller reads `include_usage`), `user`, `metadata`,
//!   `store`, `service_tier`, `safety_identifier`, `prompt_cache_key`,
//!   `prompt_cache_retention`. A `null` value counts as absent.
//!
//! Response mapping: `message.content` -> `content` (`null` when only tool
//! calls), `tool_calls` -> OpenAI calls with `arguments` as a JSON string and
//! ids `call_<request id>_<n>` (an upstream `id` is kept), `thinking` ->
//! `reasoning_content` (a common extension), `done_reason` `length` ->
//! `length`, else `stop` (`tool_calls` when calls were made);
//! `prompt_eval_count`/`eval_count` -> `usage`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::{
    self, Message, base64_data_url, boolean, bounded, has_scheme, object, positive, string, uint,
};

#[path = "convert_embed.rs"]
mod embed;
#[path = "convert_response.rs"]
mod response;

pub use embed::{EmbedCall, EmbeddingEncoding, embed_request, embed_response, tags_models};
pub use response::{ChatStream, chat_response};

/// Top-level chat fields accepted and not forwarded: none changes the output.
pub const IGNORED_CHAT_FIELDS: &[&str] = &[
    "parallel_tool_calls",
    "stream_options",
    "user",
    "metadata",
    "store",
    "service_tier",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
];

/// OpenAI chat body -> Ollama `/api/chat` body for `model`.
pub fn chat_request(body: &Map<String, Value>, model: &str) -> Result<Value, ConvertError> {
    let mut out = Map::new();
    let mut options = Map::new();
    let mut send_tools = true;
    let mut num_predict: Option<u64> = None;
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
            "tool_choice" => send_tools = tool_choice(value)?,
            "response_format" => {
                if let Some(format) = response_format(value)? {
                    out.insert("format".into(), format);
                }
            }
            "temperature" | "top_p" | "presence_penalty" | "frequency_penalty" => {
                if !value.is_number() {
                    return Err(ConvertError::invalid(key, "must be a number"));
                }
                options.insert(key.into(), value.clone());
            }
            "seed" => {
                let seed = value
                    .as_i64()
                    .ok_or_else(|| ConvertError::invalid(key, "must be an integer"))?;
                options.insert("seed".into(), seed.into());
            }
            "stop" => {
                if let Some(stop) = stop(value)? {
                    options.insert("stop".into(), stop);
                }
            }
            "max_tokens" | "max_completion_tokens" => {
                let n = positive(value, key)?;
                num_predict = Some(num_predict.map_or(n, |m| m.min(n)));
            }
            "n" if positive(value, key)? > 1 => {
                return Err(ConvertError::unsupported(key, "Ollama returns one choice"));
            }
            "logprobs" if boolean(value, key)? => {
                return Err(ConvertError::unsupported(key, "Ollama returns no logprobs"));
            }
            "top_logprobs" if uint(value, key)? > 0 => {
                return Err(ConvertError::unsupported(key, "Ollama returns no logprobs"));
            }
            "logit_bias" if !object(value, key)?.is_empty() => {
                return Err(ConvertError::unsupported(key, "Ollama has no logit bias"));
            }
            "modalities" if value != &json!(["text"]) => {
                return Err(ConvertError::unsupported(key, "Ollama outputs text only"));
            }
            "n" | "logprobs" | "top_logprobs" | "logit_bias" | "modalities" => {}
            "keep_alive" if value.is_string() || value.is_number() => {
                out.insert("keep_alive".into(), value.clone());
            }
            "keep_alive" => {
                return Err(ConvertError::invalid(key, "must be a duration or seconds"));
            }
            _ if IGNORED_CHAT_FIELDS.contains(&key) => {}
            _ => {
                return Err(ConvertError::unsupported(
                    key,
                    "this parameter is not supported for Ollama backends",
                ));
            }
        }
    }
    let messages = body
        .get("messages")
        .ok_or_else(|| ConvertError::invalid("messages", "is required"))?;
    out.insert("messages".into(), Value::Array(chat_messages(messages)?));
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        let tools = chat_tools(tools)?;
        if send_tools && !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(n) = num_predict {
        options.insert("num_predict".into(), n.into());
    }
    if !options.is_empty() {
        out.insert("options".into(), Value::Object(options));
    }
    Ok(Value::Object(out))
}

fn chat_messages(value: &Value) -> Result<Vec<Value>, ConvertError> {
    let list = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid("messages", "must be an array"))?;
    if list.is_empty() {
        // Ollama would only load the model and answer nothing.
        return Err(ConvertError::invalid("messages", "must not be empty"));
    }
    // Tool call id -> function name, from earlier assistant messages.
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    let mut out = Vec::with_capacity(list.len());
    for (i, message) in list.iter().enumerate() {
        let Message {
            path,
            fields: message,
            role,
            content,
        } = fields::message(message, i, "Ollama backends")?;
        let role_path = format!("{path}.role");
        let content_path = format!("{path}.content");
        let required = || ConvertError::invalid(content_path.as_str(), "is required");
        let mut out_msg = Map::new();
        match role {
            "system" | "developer" | "tool" => {
                let text = text_content(content.ok_or_else(required)?, &content_path, None)?;
                out_msg.insert(
                    "role".into(),
                    if role == "tool" { "tool" } else { "system" }.into(),
                );
                out_msg.insert("content".into(), text.into());
            }
            "user" => {
                let mut images = Vec::new();
                let content = content.ok_or_else(required)?;
                let text = text_content(content, &content_path, Some(&mut images))?;
                out_msg.insert("role".into(), "user".into());
                out_msg.insert("content".into(), text.into());
                if !images.is_empty() {
                    out_msg.insert("images".into(), Value::Array(images));
                }
            }
            "assistant" => {
                let mut text = match content {
                    Some(content) => text_content(content, &content_path, None)?,
                    None => String::new(),
                };
                if let Some(refusal) = message.get("refusal").and_then(Value::as_str)
                    && text.is_empty()
                {
                    text = refusal.to_owned();
                }
                out_msg.insert("role".into(), "assistant".into());
                out_msg.insert("content".into(), text.into());
                if let Some(thinking) = message.get("reasoning_content").and_then(Value::as_str) {
                    out_msg.insert("thinking".into(), thinking.into());
                }
                if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                    let calls = assistant_tool_calls(calls, &path, &mut call_names)?;
                    out_msg.insert("tool_calls".into(), Value::Array(calls));
                }
            }
            "function" => {
                return Err(ConvertError::unsupported(
                    role_path,
                    "the deprecated `function` role is not supported; use `tool`",
                ));
            }
            _ => return Err(ConvertError::invalid(role_path, "unknown role")),
        }
        if role == "tool" {
            let id_path = format!("{path}.tool_call_id");
            let id = message
                .get("tool_call_id")
                .ok_or_else(|| ConvertError::invalid(id_path.as_str(), "is required"))?;
            if let Some(name) = call_names.get(string(id, &id_path)?) {
                out_msg.insert("tool_name".into(), (*name).into());
            }
        }
        out.push(Value::Object(out_msg));
    }
    Ok(out)
}

/// Joins text parts; collects images when `images` is given (user messages).
fn text_content(
    value: &Value,
    path: &str,
    mut images: Option<&mut Vec<Value>>,
) -> Result<String, ConvertError> {
    let parts = match value {
        Value::String(text) => return Ok(text.clone()),
        Value::Array(parts) => parts,
        _ => return Err(ConvertError::invalid(path, "must be a string or an array")),
    };
    let mut texts: Vec<&str> = Vec::with_capacity(parts.len());
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
                texts.push(string(text, &field_path)?);
            }
            "image_url" => {
                let image_path = format!("{part_path}.image_url");
                let Some(images) = images.as_deref_mut() else {
                    return Err(ConvertError::invalid(
                        image_path,
                        "images are only allowed in user messages",
                    ));
                };
                let url = part
                    .get("image_url")
                    .and_then(|v| v.get("url"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| ConvertError::invalid(image_path.as_str(), "needs a `url`"))?;
                images.push(data_url_image(url, &image_path)?.into());
            }
            other => {
                return Err(ConvertError::unsupported(
                    part_path,
                    format!("`{other}` content parts are not supported for Ollama backends"),
                ));
            }
        }
    }
    Ok(texts.join("\n"))
}

/// The base64 payload of a `data:image/...;base64,` URL.
fn data_url_image<'a>(url: &'a str, path: &str) -> Result<&'a str, ConvertError> {
    if has_scheme(url, "http://") || has_scheme(url, "https://") {
        return Err(ConvertError::unsupported(
            path,
            "Ollama accepts only inline images; send a base64 `data:` URL",
        ));
    }
    match base64_data_url(url) {
        Some((media_type, payload))
            if media_type.is_empty() || has_scheme(media_type, "image/") =>
        {
            Ok(payload)
        }
        _ => Err(ConvertError::invalid(path, "must be a base64 `data:` URL")),
    }
}

fn assistant_tool_calls<'a>(
    value: &'a Value,
    path: &str,
    names: &mut HashMap<&'a str, &'a str>,
) -> Result<Vec<Value>, ConvertError> {
    let path = format!("{path}.tool_calls");
    let calls = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid(path.as_str(), "must be an array"))?;
    let mut out = Vec::with_capacity(calls.len());
    for (j, call) in calls.iter().enumerate() {
        let call_path = format!("{path}[{j}]");
        let call = object(call, &call_path)?;
        if call
            .get("type")
            .is_some_and(|t| !t.is_null() && t.as_str() != Some("function"))
        {
            return Err(ConvertError::unsupported(
                format!("{call_path}.type"),
                "only `function` tool calls are supported",
            ));
        }
        let func_path = format!("{call_path}.function");
        let func = object(call.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        let args_path = format!("{func_path}.arguments");
        let arguments = match func.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    ConvertError::invalid(args_path.as_str(), "must be a JSON object string")
                })?,
            Some(obj @ Value::Object(_)) => obj.clone(),
            Some(_) => {
                return Err(ConvertError::invalid(
                    args_path,
                    "must be a JSON object string",
                ));
            }
        };
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            names.insert(id, name);
        }
        out.push(json!({ "function": { "name": name, "arguments": arguments } }));
    }
    Ok(out)
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
                "only `function` tools are supported for Ollama backends",
            ));
        }
        let func_path = format!("{path}.function");
        let func = object(tool.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let mut out_func = Map::new();
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        out_func.insert("name".into(), name.into());
        if let Some(d) = func.get("description").filter(|v| !v.is_null()) {
            let d = string(d, &format!("{func_path}.description"))?;
            out_func.insert("description".into(), d.into());
        }
        if let Some(p) = func.get("parameters").filter(|v| !v.is_null()) {
            object(p, &format!("{func_path}.parameters"))?;
            out_func.insert("parameters".into(), p.clone());
        }
        out.push(json!({ "type": "function", "function": out_func }));
    }
    Ok(out)
}

/// Whether tools may be sent: `auto` yes, `none` no, anything forcing a call
/// is refused.
fn tool_choice(value: &Value) -> Result<bool, ConvertError> {
    let forced =
        || ConvertError::unsupported("tool_choice", "Ollama cannot be forced to call a tool");
    match value {
        Value::String(s) if s == "auto" => Ok(true),
        Value::String(s) if s == "none" => Ok(false),
        Value::String(s) if s == "required" => Err(forced()),
        Value::Object(_) => Err(forced()),
        _ => Err(ConvertError::invalid("tool_choice", "unknown value")),
    }
}

fn response_format(value: &Value) -> Result<Option<Value>, ConvertError> {
    let format = object(value, "response_format")?;
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some("json".into())),
        Some("json_schema") => {
            let spec = object(
                format.get("json_schema").unwrap_or(&Value::Null),
                "response_format.json_schema",
            )?;
            match spec.get("schema").filter(|v| !v.is_null()) {
                None => Ok(Some("json".into())),
                Some(schema) => {
                    object(schema, "response_format.json_schema.schema")?;
                    Ok(Some(schema.clone()))
                }
            }
        }
        _ => Err(ConvertError::unsupported(
            "response_format",
            "only `text`, `json_object` and `json_schema` are supported",
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

/// The text of an Ollama error body (`{"error": "..."}`), bounded in length.
pub fn error_message(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("error")?.as_str().map(bounded)
}

/// `value` as an object, failing with the upstream's own `error` if it sent one.
fn upstream_object<'a>(
    value: &'a Value,
    what: &str,
) -> Result<&'a Map<String, Value>, ConvertError> {
    let map = value
        .as_object()
        .ok_or_else(|| ConvertError::upstream(format!("{what} is not a JSON object")))?;
    match map.get("error") {
        None | Some(Value::Null) => Ok(map),
        Some(Value::String(e)) => Err(ConvertError::upstream(bounded(e))),
        Some(_) => Err(ConvertError::upstream(format!("{what} carries an error"))),
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
