//! The Anthropic Messages API airlock exposes (`POST /v1/messages`, for the
//! official `anthropic` SDKs and tools built on them): a request is checked
//! and translated into the OpenAI chat body the rest of airlock works on, so
//! the same scan, complexity, policy, tier filter and dispatch run whatever
//! dialect the caller speaks; `response` and `stream` translate the answer
//! (OpenAI `chat.completion` or chunk stream, from any backend) back.
//! This is the inverse of `providers::anthropic::convert`, whose tables
//! (image types, stop reasons) it shares.
//!
//! Pure: no I/O. Errors name the field by its path (`messages.2.content.0`)
//! and never quote the request's text.
//!
//! Request mapping (Anthropic -> OpenAI), nothing that reaches the model is
//! dropped unscanned:
//! - `system` (a string or `text` blocks) -> a leading `system` message.
//! - Content of one text block becomes a plain string, as OpenAI-compatible
//!   servers all take it (some local ones refuse part arrays).
//! - `user` content: `text` -> text parts; `image` (`base64` of JPEG, PNG,
//!   GIF or WebP, or `url`) -> `image_url` parts (a `data:` URL for base64);
//!   `document` with a `text` source -> a text part, with a base64 PDF
//!   source -> a `file` part; each `tool_result` -> a `tool` message
//!   (`tool_call_id` = `tool_use_id`, its text blocks as the content),
//!   placed before the rest of the turn as OpenAI wants; images inside a
//!   tool result go into the user message that follows the tool messages.
//!   `is_error` has no OpenAI equivalent and is not carried.
//! - `assistant` content: `text` -> content, `tool_use` -> `tool_calls`
//!   (`input` serialised as `arguments`); `thinking` and `redacted_thinking`
//!   blocks are dropped (signed for Anthropic alone; never sent anywhere).
//! - `tools` (custom tools: `name`, `description`, `input_schema`) ->
//!   `function` tools; server tools (`web_search_...`, `bash_...`) are
//!   refused. `tool_choice`: `auto` -> `auto`, `any` -> `required`, `tool`
//!   -> the named function, `none` -> `none`; `disable_parallel_tool_use`
//!   -> `parallel_tool_calls: false`.
//! - `max_tokens` (required, positive) -> `max_tokens`; `stop_sequences`
//!   -> `stop`; `temperature` (0 to 1), `top_p`, `stream` as they are; a
//!   stream asks for `stream_options.include_usage` so the final
//!   `message_delta` can carry real usage.
//! - Accepted, not forwarded (they do not change what the model says, or
//!   only ask for what airlock cannot give): `metadata`, `thinking`,
//!   `service_tier`, and `cache_control` / `citations` on blocks.
//! - Refused with 400: `top_k` (no OpenAI equivalent), every other field.

pub mod response;
pub mod stream;

use crate::openai::{ChatRequest, RequestError};
use crate::providers::anthropic::convert::IMAGE_TYPES;
use serde_json::{Map, Value, json};

/// Parses a `POST /v1/messages` body into the chat request airlock serves.
pub fn parse(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
    let body = crate::openai::as_object(bytes)?;
    ChatRequest::from_body(to_chat(&body, true)?.into())
}

/// Parses a `POST /v1/messages/count_tokens` body (no `max_tokens`).
pub fn parse_count_tokens(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
    let body = crate::openai::as_object(bytes)?;
    ChatRequest::from_body(to_chat(&body, false)?.into())
}

fn err(param: impl Into<String>, message: impl Into<String>) -> RequestError {
    RequestError::new(param, message)
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, RequestError> {
    v.as_str().ok_or_else(|| err(path, "must be a string"))
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RequestError> {
    v.as_object().ok_or_else(|| err(path, "must be an object"))
}

fn required<'a>(
    m: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a Value, RequestError> {
    m.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| err(format!("{path}.{key}"), "Field required"))
}

/// Anthropic Messages body -> OpenAI chat body.
fn to_chat(
    body: &Map<String, Value>,
    need_max_tokens: bool,
) -> Result<Map<String, Value>, RequestError> {
    let mut out = Map::new();
    let mut stream = false;
    let mut parallel = true;
    for (key, value) in body {
        let key = key.as_str();
        if value.is_null() && key != "model" && key != "messages" && key != "max_tokens" {
            continue;
        }
        match key {
            "model" | "messages" | "system" | "tools" | "tool_choice" => {}
            "max_tokens" => {}
            "stream" => {
                stream = value
                    .as_bool()
                    .ok_or_else(|| err(key, "must be a boolean"))?;
            }
            "temperature" => {
                let t = value.as_f64().ok_or_else(|| err(key, "must be a number"))?;
                if !(0.0..=1.0).contains(&t) {
                    return Err(err(key, "must be between 0 and 1"));
                }
                out.insert(key.into(), value.clone());
            }
            "top_p" => {
                let p = value.as_f64().ok_or_else(|| err(key, "must be a number"))?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(err(key, "must be between 0 and 1"));
                }
                out.insert(key.into(), value.clone());
            }
            "stop_sequences" => {
                let items = value
                    .as_array()
                    .filter(|a| a.iter().all(Value::is_string))
                    .ok_or_else(|| err(key, "must be an array of strings"))?;
                if !items.is_empty() {
                    out.insert("stop".into(), value.clone());
                }
            }
            "metadata" => {
                let m = object(value, key)?;
                if let Some(id) = m.get("user_id").filter(|v| !v.is_null()) {
                    string(id, "metadata.user_id")?;
                }
            }
            "thinking" => {
                object(value, key)?;
            }
            "service_tier" => {
                string(value, key)?;
            }
            "top_k" => {
                return Err(err(
                    key,
                    "top_k is not supported: airlock's backends take OpenAI-style sampling (temperature, top_p)",
                ));
            }
            other => {
                return Err(err(other, "Extra inputs are not permitted"));
            }
        }
    }
    let model = match body.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() => s,
        Some(Value::String(_)) => return Err(err("model", "must not be empty")),
        Some(v) if !v.is_null() => return Err(err("model", "must be a string")),
        _ => return Err(err("model", "Field required")),
    };
    out.insert("model".into(), model.as_str().into());
    match body.get("max_tokens").filter(|v| !v.is_null()) {
        Some(v) => {
            let n = v
                .as_u64()
                .filter(|&n| n > 0)
                .ok_or_else(|| err("max_tokens", "must be a positive integer"))?;
            out.insert("max_tokens".into(), n.into());
        }
        None if need_max_tokens => return Err(err("max_tokens", "Field required")),
        None => {}
    }
    let mut messages = Vec::new();
    if let Some(system) = body.get("system").filter(|v| !v.is_null())
        && let Some(content) = system_content(system)?
    {
        messages.push(json!({"role": "system", "content": content}));
    }
    let list = match body.get("messages") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err(err("messages", "at least one message is required")),
        Some(v) if !v.is_null() => return Err(err("messages", "must be an array")),
        _ => return Err(err("messages", "Field required")),
    };
    for (i, m) in list.iter().enumerate() {
        convert_message(m, i, &mut messages)?;
    }
    if messages.iter().all(|m| m["role"] == "system") {
        return Err(err(
            "messages",
            "must contain a user or assistant message with content",
        ));
    }
    out.insert("messages".into(), Value::Array(messages));
    let mut has_tools = false;
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        let tools = convert_tools(tools)?;
        has_tools = !tools.is_empty();
        if has_tools {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(choice) = body.get("tool_choice").filter(|v| !v.is_null()) {
        let (choice, disable_parallel) = convert_tool_choice(choice)?;
        parallel = !disable_parallel;
        match choice {
            Some(c) if has_tools => {
                out.insert("tool_choice".into(), c);
            }
            Some(c) if c != "auto" && c != "none" => {
                return Err(err("tool_choice", "a forced tool choice needs `tools`"));
            }
            _ => {}
        }
    }
    if has_tools && !parallel {
        out.insert("parallel_tool_calls".into(), false.into());
    }
    if stream {
        out.insert("stream".into(), true.into());
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(out)
}

/// `system` -> the system message's content, `None` when empty.
fn system_content(v: &Value) -> Result<Option<Value>, RequestError> {
    match v {
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.as_str().into())),
        Value::Array(blocks) => {
            let mut parts = Vec::with_capacity(blocks.len());
            for (j, b) in blocks.iter().enumerate() {
                let path = format!("system.{j}");
                let b = object(b, &path)?;
                let kind = string(required(b, "type", &path)?, &format!("{path}.type"))?;
                if kind != "text" {
                    return Err(err(
                        format!("{path}.type"),
                        "system blocks must be text blocks",
                    ));
                }
                let text = string(required(b, "text", &path)?, &format!("{path}.text"))?;
                if !text.is_empty() {
                    parts.push(json!({"type": "text", "text": text}));
                }
            }
            Ok((!parts.is_empty()).then(|| collapse(parts)))
        }
        _ => Err(err("system", "must be a string or an array of text blocks")),
    }
}

/// One Anthropic message -> one or more OpenAI messages appended to `out`.
fn convert_message(m: &Value, i: usize, out: &mut Vec<Value>) -> Result<(), RequestError> {
    let path = format!("messages.{i}");
    let m = object(m, &path)?;
    for key in m.keys() {
        if key != "role" && key != "content" {
            return Err(err(
                format!("{path}.{key}"),
                "Extra inputs are not permitted",
            ));
        }
    }
    let role_path = format!("{path}.role");
    let role = string(required(m, "role", &path)?, &role_path)?;
    let content_path = format!("{path}.content");
    let content = required(m, "content", &path)?;
    let blocks: Vec<(usize, &Map<String, Value>)> = match content {
        Value::String(s) => {
            let role = match role {
                "user" | "assistant" => role,
                _ => return Err(err(role_path, "Input should be 'user' or 'assistant'")),
            };
            if !s.is_empty() {
                out.push(json!({"role": role, "content": s}));
            }
            return Ok(());
        }
        Value::Array(blocks) => blocks
            .iter()
            .enumerate()
            .map(|(j, b)| object(b, &format!("{content_path}.{j}")).map(|b| (j, b)))
            .collect::<Result<_, _>>()?,
        _ => return Err(err(content_path, "must be a string or an array of blocks")),
    };
    match role {
        "user" => user_blocks(&blocks, &content_path, out),
        "assistant" => assistant_blocks(&blocks, &content_path, out),
        _ => Err(err(role_path, "Input should be 'user' or 'assistant'")),
    }
}

fn block_type<'a>(b: &'a Map<String, Value>, path: &str) -> Result<&'a str, RequestError> {
    string(required(b, "type", path)?, &format!("{path}.type"))
}

fn user_blocks(
    blocks: &[(usize, &Map<String, Value>)],
    path: &str,
    out: &mut Vec<Value>,
) -> Result<(), RequestError> {
    // Tool results first (OpenAI wants them right after the assistant's
    // calls), then images they held, then the rest of the turn.
    let mut tools = Vec::new();
    let mut hoisted = Vec::new();
    let mut parts = Vec::new();
    for &(j, b) in blocks {
        let bpath = format!("{path}.{j}");
        match block_type(b, &bpath)? {
            "tool_result" => {
                let id = string(
                    required(b, "tool_use_id", &bpath)?,
                    &format!("{bpath}.tool_use_id"),
                )?;
                let content = tool_result_content(b.get("content"), &bpath, &mut hoisted)?;
                tools.push(json!({"role": "tool", "tool_call_id": id, "content": content}));
            }
            _ => {
                if let Some(part) = user_part(b, &bpath)? {
                    parts.push(part);
                }
            }
        }
    }
    out.extend(tools);
    hoisted.extend(parts);
    if !hoisted.is_empty() {
        out.push(json!({"role": "user", "content": collapse(hoisted)}));
    }
    Ok(())
}

/// Parts as OpenAI content: one text part as a plain string (what every
/// OpenAI-compatible server takes; some local ones refuse part arrays),
/// anything else as the array.
fn collapse(mut parts: Vec<Value>) -> Value {
    if let [part] = parts.as_mut_slice()
        && part["type"] == "text"
        && let Some(Value::String(text)) = part.get_mut("text")
    {
        return Value::String(std::mem::take(text));
    }
    Value::Array(parts)
}

/// A user content block (other than `tool_result`) -> an OpenAI part;
/// `None` for an empty text.
fn user_part(b: &Map<String, Value>, path: &str) -> Result<Option<Value>, RequestError> {
    match block_type(b, path)? {
        "text" => {
            let text = string(required(b, "text", path)?, &format!("{path}.text"))?;
            Ok((!text.is_empty()).then(|| json!({"type": "text", "text": text})))
        }
        "image" => image_part(b, path).map(Some),
        "document" => document_part(b, path).map(Some),
        other => Err(err(
            format!("{path}.type"),
            format!("`{other}` blocks are not supported in user messages"),
        )),
    }
}

fn image_part(b: &Map<String, Value>, path: &str) -> Result<Value, RequestError> {
    let spath = format!("{path}.source");
    let source = object(required(b, "source", path)?, &spath)?;
    match string(required(source, "type", &spath)?, &format!("{spath}.type"))? {
        "base64" => {
            let media = string(
                required(source, "media_type", &spath)?,
                &format!("{spath}.media_type"),
            )?;
            if !IMAGE_TYPES.contains(&media) {
                return Err(err(
                    format!("{spath}.media_type"),
                    "must be image/jpeg, image/png, image/gif or image/webp",
                ));
            }
            let data = string(required(source, "data", &spath)?, &format!("{spath}.data"))?;
            Ok(
                json!({"type": "image_url", "image_url": {"url": format!("data:{media};base64,{data}")}}),
            )
        }
        "url" => {
            let url = string(required(source, "url", &spath)?, &format!("{spath}.url"))?;
            Ok(json!({"type": "image_url", "image_url": {"url": url}}))
        }
        _ => Err(err(
            format!("{spath}.type"),
            "image sources must be `base64` or `url`",
        )),
    }
}

fn document_part(b: &Map<String, Value>, path: &str) -> Result<Value, RequestError> {
    let spath = format!("{path}.source");
    let source = object(required(b, "source", path)?, &spath)?;
    match string(required(source, "type", &spath)?, &format!("{spath}.type"))? {
        "text" => {
            let data = string(required(source, "data", &spath)?, &format!("{spath}.data"))?;
            Ok(json!({"type": "text", "text": data}))
        }
        "base64" if source.get("media_type").and_then(Value::as_str) == Some("application/pdf") => {
            let data = string(required(source, "data", &spath)?, &format!("{spath}.data"))?;
            Ok(json!({"type": "file", "file": {
                "filename": "document.pdf",
                "file_data": format!("data:application/pdf;base64,{data}"),
            }}))
        }
        _ => Err(err(
            format!("{spath}.type"),
            "documents must have a `text` source or a base64 `application/pdf` source",
        )),
    }
}

/// A `tool_result`'s `content` -> the tool message's content (a string,
/// or text parts); its images go to `images`.
fn tool_result_content(
    content: Option<&Value>,
    path: &str,
    images: &mut Vec<Value>,
) -> Result<Value, RequestError> {
    let cpath = format!("{path}.content");
    let blocks = match content {
        None | Some(Value::Null) => return Ok("".into()),
        Some(Value::String(s)) => return Ok(s.as_str().into()),
        Some(Value::Array(blocks)) => blocks,
        Some(_) => return Err(err(cpath, "must be a string or an array of blocks")),
    };
    let mut texts = Vec::with_capacity(blocks.len());
    for (k, b) in blocks.iter().enumerate() {
        let bpath = format!("{cpath}.{k}");
        let b = object(b, &bpath)?;
        match block_type(b, &bpath)? {
            "text" => {
                let text = string(required(b, "text", &bpath)?, &format!("{bpath}.text"))?;
                texts.push(json!({"type": "text", "text": text}));
            }
            "image" => images.push(image_part(b, &bpath)?),
            "document" => texts.push(document_part(b, &bpath)?),
            other => {
                return Err(err(
                    format!("{bpath}.type"),
                    format!("`{other}` blocks are not supported in tool results"),
                ));
            }
        }
    }
    if texts.iter().any(|t| t["type"] != "text") {
        return Err(err(
            cpath,
            "PDF documents are not supported in tool results",
        ));
    }
    Ok(if texts.is_empty() {
        "".into()
    } else {
        collapse(texts)
    })
}

fn assistant_blocks(
    blocks: &[(usize, &Map<String, Value>)],
    path: &str,
    out: &mut Vec<Value>,
) -> Result<(), RequestError> {
    let mut parts = Vec::new();
    let mut calls = Vec::new();
    for &(j, b) in blocks {
        let bpath = format!("{path}.{j}");
        match block_type(b, &bpath)? {
            "text" => {
                let text = string(required(b, "text", &bpath)?, &format!("{bpath}.text"))?;
                if !text.is_empty() {
                    parts.push(json!({"type": "text", "text": text}));
                }
            }
            "tool_use" => {
                let id = string(required(b, "id", &bpath)?, &format!("{bpath}.id"))?;
                let name = string(required(b, "name", &bpath)?, &format!("{bpath}.name"))?;
                let input = required(b, "input", &bpath)?;
                if !input.is_object() {
                    return Err(err(format!("{bpath}.input"), "must be an object"));
                }
                calls.push(json!({"id": id, "type": "function",
                    "function": {"name": name, "arguments": input.to_string()}}));
            }
            // Signed for Anthropic alone: never sent anywhere.
            "thinking" | "redacted_thinking" => {}
            other => {
                return Err(err(
                    format!("{bpath}.type"),
                    format!("`{other}` blocks are not supported in assistant messages"),
                ));
            }
        }
    }
    if parts.is_empty() && calls.is_empty() {
        return Ok(());
    }
    let mut m = Map::new();
    m.insert("role".into(), "assistant".into());
    let content = if parts.is_empty() {
        Value::Null
    } else {
        collapse(parts)
    };
    m.insert("content".into(), content);
    if !calls.is_empty() {
        m.insert("tool_calls".into(), Value::Array(calls));
    }
    out.push(Value::Object(m));
    Ok(())
}

fn convert_tools(v: &Value) -> Result<Vec<Value>, RequestError> {
    let tools = v
        .as_array()
        .ok_or_else(|| err("tools", "must be an array"))?;
    let mut out = Vec::with_capacity(tools.len());
    for (i, t) in tools.iter().enumerate() {
        let path = format!("tools.{i}");
        let t = object(t, &path)?;
        match t.get("type").filter(|v| !v.is_null()) {
            None => {}
            Some(Value::String(s)) if s == "custom" => {}
            Some(_) => {
                return Err(err(
                    format!("{path}.type"),
                    "only custom tools (name, description, input_schema) are supported",
                ));
            }
        }
        for key in t.keys() {
            if !matches!(
                key.as_str(),
                "type" | "name" | "description" | "input_schema" | "cache_control"
            ) {
                return Err(err(
                    format!("{path}.{key}"),
                    "Extra inputs are not permitted",
                ));
            }
        }
        let name = string(required(t, "name", &path)?, &format!("{path}.name"))?;
        let schema = required(t, "input_schema", &path)?;
        object(schema, &format!("{path}.input_schema"))?;
        let mut f = Map::new();
        f.insert("name".into(), name.into());
        if let Some(d) = t.get("description").filter(|v| !v.is_null()) {
            f.insert(
                "description".into(),
                string(d, &format!("{path}.description"))?.into(),
            );
        }
        f.insert("parameters".into(), schema.clone());
        out.push(json!({"type": "function", "function": f}));
    }
    Ok(out)
}

/// `tool_choice` -> (the OpenAI choice, `disable_parallel_tool_use`).
fn convert_tool_choice(v: &Value) -> Result<(Option<Value>, bool), RequestError> {
    let c = object(v, "tool_choice")?;
    let disable = match c.get("disable_parallel_tool_use") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(err(
                "tool_choice.disable_parallel_tool_use",
                "must be a boolean",
            ));
        }
    };
    let choice = match string(required(c, "type", "tool_choice")?, "tool_choice.type")? {
        "auto" => json!("auto"),
        "any" => json!("required"),
        "none" => json!("none"),
        "tool" => {
            let name = string(required(c, "name", "tool_choice")?, "tool_choice.name")?;
            json!({"type": "function", "function": {"name": name}})
        }
        _ => {
            return Err(err("tool_choice.type", "must be auto, any, tool or none"));
        }
    };
    Ok((Some(choice), disable))
}

#[cfg(test)]
mod tests;
