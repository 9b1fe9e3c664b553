//! OpenAI chat completions -> a Gemini `generateContent` request body (the
//! Gemini API's, which Vertex AI shares), as `serde_json::Value` in and out.
//! Pure: no I/O, no clock, no randomness. The model goes in the URL and
//! `stream` picks the method, so neither is in the body.
//!
//! It must never silently drop a request field that changes the output (the
//! policy of the Ollama and Anthropic conversions): a field is mapped,
//! refused ([`ConvertError::Unsupported`], which lets the caller try another
//! backend), or on the short list below of fields that do not change what
//! the model says. It must not put prompt or completion text into errors.
//!
//! Request mapping (OpenAI -> Gemini):
//! - `system` and `developer` messages, wherever they stand, become the
//!   `systemInstruction` text parts, in order. `user` stays `user`,
//!   `assistant` becomes `model`; each `tool` message becomes a
//!   `functionResponse` part in a `user` turn. Consecutive turns of one role
//!   are merged into one, as Gemini wants them alternating.
//! - Content is a string or parts. `text` (and `refusal`) parts become `text`
//!   parts; empty texts are skipped and a turn left with no part is dropped.
//!   `image_url` parts (user messages only) with a base64 `data:` URL of PNG,
//!   JPEG, WebP, HEIC or HEIF become `inlineData {mimeType, data}`. http(s)
//!   image URLs are refused: Gemini's `fileData` needs the MIME type, which
//!   an OpenAI image URL does not carry, and airlock fetches nothing.
//!   `input_audio`, `file` and other parts are refused; a message's `name`
//!   and an image's `detail` are not forwarded.
//! - Assistant `tool_calls` -> `functionCall {name, args}` parts (`arguments`,
//!   a JSON object string, parsed; anything else is invalid). The Gemini
//!   `thoughtSignature` that airlock hands out on a call (its
//!   `extra_content.google.thought_signature`) goes back on the part; the
//!   first call of a turn without one gets `skip_thought_signature_validator`,
//!   the value Google documents for histories it did not produce (Gemini 3
//!   refuses function calls without a signature). Call ids are not sent:
//!   Gemini pairs responses with calls by name and order, and an id another
//!   backend made means nothing to it. `reasoning_content` is not forwarded.
//! - A `tool` message's `functionResponse.name` is that of the earlier
//!   assistant call with its `tool_call_id` (none is invalid: Gemini needs
//!   the name). Its `response` must be an object: the result text when it is
//!   a JSON object, else `{"output": <text>}` (the key Google names for a
//!   function's output).
//! - `tools` (type `function`) -> one `tools` entry with `functionDeclarations`
//!   `{name, description, parametersJsonSchema}`. The JSON Schema goes as it
//!   is in `parametersJsonSchema`, which takes JSON Schema
//!   (`additionalProperties`, `$ref`/`$defs`, `anyOf`, type lists), instead
//!   of `parameters`, whose OpenAPI subset refuses those keys; only the root
//!   `$schema` dialect tag is dropped. `strict` is not enforced.
//! - `tool_choice`: `auto` -> Gemini's default (nothing sent), `none` ->
//!   `NONE`, `required` -> `ANY`, a named function -> `ANY` with
//!   `allowedFunctionNames` (it must be one of `tools`), all in
//!   `toolConfig.functionCallingConfig.mode`. A forced choice without tools
//!   is invalid; `auto`/`none` without tools are dropped.
//!   `parallel_tool_calls: false` is refused when tools may be called:
//!   Gemini cannot limit a turn to one call.
//! - `generationConfig`: `max_completion_tokens` / `max_tokens` ->
//!   `maxOutputTokens` (the smaller if both), `temperature`, `top_p` ->
//!   `topP`, `stop` (string or array) -> `stopSequences`, `seed`, non-zero
//!   `presence_penalty` / `frequency_penalty` -> `presencePenalty` /
//!   `frequencyPenalty`; `response_format` `json_object` ->
//!   `responseMimeType: application/json`, `json_schema` -> that and its
//!   `schema` as `responseJsonSchema` (root `$schema` dropped).
//! - Refused: `n` > 1, `logprobs: true`, `top_logprobs` > 0, non-empty
//!   `logit_bias`, `modalities` other than `["text"]`, `reasoning_effort`
//!   (Gemini's thinking settings differ by model family), and every field
//!   not named here (e.g. `audio`, `prediction`, `functions`).
//! - No `safetySettings` are sent: Google's defaults for the model apply.
//! - Accepted and not forwarded: `stream` (it picks the method) and
//!   [`IGNORED_CHAT_FIELDS`]: `stream_options` (the caller reads
//!   `include_usage`), `user`, `metadata`, `store`, `service_tier`,
//!   `safety_identifier`, `prompt_cache_key`, `prompt_cache_retention`. A
//!   `null` value counts as absent.
//!
//! Tools are converted in `convert_tools.rs`; response mapping: see
//! `convert_response.rs`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::{
    self, Message, base64_data_url, boolean, has_scheme, object, positive, string, uint,
};

#[path = "convert_response.rs"]
mod response;
#[path = "convert_tools.rs"]
mod tools;

pub use response::{ChunkStream, chat_response, finish_reason, models};
pub use tools::SKIP_SIGNATURE;

use tools::{chat_tools, function_calls, schema, tool_choice};

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

/// Image media types Gemini takes inline.
const IMAGE_TYPES: [&str; 5] = [
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/heic",
    "image/heif",
];

/// OpenAI chat body -> Gemini `generateContent` body.
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
            "presence_penalty" | "frequency_penalty" => {
                if number(value, key)? != 0.0 {
                    let name = if key == "presence_penalty" {
                        "presencePenalty"
                    } else {
                        "frequencyPenalty"
                    };
                    config.insert(name.into(), value.clone());
                }
            }
            "seed" => {
                let seed = value
                    .as_i64()
                    .ok_or_else(|| ConvertError::invalid(key, "must be an integer"))?;
                config.insert("seed".into(), seed.into());
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
            "response_format" => response_format(value, &mut config)?,
            "n" if positive(value, key)? > 1 => {
                return Err(ConvertError::unsupported(
                    key,
                    "Gemini backends return one choice",
                ));
            }
            "logprobs" if boolean(value, key)? => {
                return Err(ConvertError::unsupported(
                    key,
                    "logprobs are not translated for Gemini backends",
                ));
            }
            "top_logprobs" if uint(value, key)? > 0 => {
                return Err(ConvertError::unsupported(
                    key,
                    "logprobs are not translated for Gemini backends",
                ));
            }
            "logit_bias" if !object(value, key)?.is_empty() => {
                return Err(ConvertError::unsupported(key, "Gemini has no logit bias"));
            }
            "modalities" if value != &json!(["text"]) => {
                return Err(ConvertError::unsupported(
                    key,
                    "Gemini backends answer in text only",
                ));
            }
            "n" | "logprobs" | "top_logprobs" | "logit_bias" | "modalities" => {}
            _ if IGNORED_CHAT_FIELDS.contains(&key) => {}
            _ => {
                return Err(ConvertError::unsupported(
                    key,
                    "this parameter is not supported for Gemini backends",
                ));
            }
        }
    }
    let messages = body
        .get("messages")
        .ok_or_else(|| ConvertError::invalid("messages", "is required"))?;
    let (system, contents) = chat_messages(messages)?;
    let mut out = Map::new();
    if !system.is_empty() {
        out.insert("systemInstruction".into(), json!({"parts": system}));
    }
    out.insert("contents".into(), Value::Array(contents));
    let tools = match body.get("tools").filter(|v| !v.is_null()) {
        Some(tools) => chat_tools(tools)?,
        None => Vec::new(),
    };
    let mode = match choice {
        Some(choice) => tool_choice(choice, &tools)?,
        None => None,
    };
    if !tools.is_empty() {
        let calls_allowed = mode.as_ref().is_none_or(|m| m["mode"] != "NONE");
        if !parallel && calls_allowed {
            return Err(ConvertError::unsupported(
                "parallel_tool_calls",
                "Gemini cannot limit a turn to one tool call",
            ));
        }
        out.insert(
            "tools".into(),
            json!([{"functionDeclarations": Value::Array(tools)}]),
        );
        if let Some(mode) = mode {
            out.insert("toolConfig".into(), json!({"functionCallingConfig": mode}));
        }
    }
    if let Some(n) = max_tokens {
        config.insert("maxOutputTokens".into(), n.into());
    }
    if !config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(config));
    }
    Ok(Value::Object(out))
}

/// One turn's role in `contents`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    User,
    Model,
}

/// `(system parts, alternating user/model contents)`.
fn chat_messages(value: &Value) -> Result<(Vec<Value>, Vec<Value>), ConvertError> {
    let list = value
        .as_array()
        .ok_or_else(|| ConvertError::invalid("messages", "must be an array"))?;
    if list.is_empty() {
        return Err(ConvertError::invalid("messages", "must not be empty"));
    }
    let mut system = Vec::new();
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::new();
    // Tool call id -> function name, from earlier assistant messages (a
    // later call with the same id wins).
    let mut call_names: HashMap<&str, &str> = HashMap::new();
    for (i, message) in list.iter().enumerate() {
        let Message {
            path,
            fields: message,
            role,
            content,
        } = fields::message(message, i, "Gemini backends")?;
        let role_path = format!("{path}.role");
        let content_path = format!("{path}.content");
        let required = || ConvertError::invalid(content_path.as_str(), "is required");
        let (role, parts) = match role {
            "system" | "developer" => {
                let content = content.ok_or_else(required)?;
                system.extend(content_parts(content, &content_path, false)?);
                continue;
            }
            "user" => {
                let content = content.ok_or_else(required)?;
                (Role::User, content_parts(content, &content_path, true)?)
            }
            "assistant" => {
                let mut parts = match content {
                    Some(content) => content_parts(content, &content_path, false)?,
                    None => Vec::new(),
                };
                if parts.is_empty()
                    && let Some(refusal) = message.get("refusal").and_then(Value::as_str)
                    && !refusal.is_empty()
                {
                    parts.push(json!({"text": refusal}));
                }
                if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
                    parts.extend(function_calls(calls, &path, &mut call_names)?);
                }
                (Role::Model, parts)
            }
            "tool" => {
                let id_path = format!("{path}.tool_call_id");
                let id = message
                    .get("tool_call_id")
                    .ok_or_else(|| ConvertError::invalid(id_path.as_str(), "is required"))?;
                let name = call_names.get(string(id, &id_path)?).ok_or_else(|| {
                    ConvertError::invalid(
                        id_path.as_str(),
                        "matches no tool call of an earlier assistant message",
                    )
                })?;
                let text = tool_text(content.ok_or_else(required)?, &content_path)?;
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(object @ Value::Object(_)) => object,
                    _ => json!({"output": text}),
                };
                let part = json!({"functionResponse": {"name": name, "response": response}});
                (Role::User, vec![part])
            }
            "function" => {
                return Err(ConvertError::unsupported(
                    role_path,
                    "the deprecated `function` role is not supported; use `tool`",
                ));
            }
            _ => return Err(ConvertError::invalid(role_path, "unknown role")),
        };
        if parts.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((last, merged)) if *last == role => merged.extend(parts),
            _ => turns.push((role, parts)),
        }
    }
    if turns.is_empty() {
        return Err(ConvertError::invalid(
            "messages",
            "must contain a user or assistant message with content",
        ));
    }
    let contents = turns
        .into_iter()
        .map(|(role, parts)| {
            let role = match role {
                Role::User => "user",
                Role::Model => "model",
            };
            json!({"role": role, "parts": parts})
        })
        .collect();
    Ok((system, contents))
}

/// A message's content as Gemini parts: text, and images when allowed
/// (user messages). Empty texts are skipped.
fn content_parts(value: &Value, path: &str, images: bool) -> Result<Vec<Value>, ConvertError> {
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
                out.push(image_part(url, &image_path)?);
            }
            other => {
                return Err(ConvertError::unsupported(
                    part_path,
                    format!("`{other}` content parts are not supported for Gemini backends"),
                ));
            }
        }
    }
    Ok(out)
}

/// An `inlineData` part from a base64 `data:` URL.
fn image_part(url: &str, path: &str) -> Result<Value, ConvertError> {
    if has_scheme(url, "http://") || has_scheme(url, "https://") {
        return Err(ConvertError::unsupported(
            path,
            "Gemini backends take images as base64 `data:` URLs, not links",
        ));
    }
    let (media_type, data) = base64_data_url(url).ok_or_else(|| {
        ConvertError::invalid(path, "must be an http(s) URL or a base64 `data:` URL")
    })?;
    let media_type = media_type.to_ascii_lowercase();
    if !IMAGE_TYPES.contains(&media_type.as_str()) {
        return Err(ConvertError::unsupported(
            path,
            "Gemini accepts PNG, JPEG, WebP, HEIC and HEIF images",
        ));
    }
    Ok(json!({"inlineData": {"mimeType": media_type, "data": data}}))
}

/// A tool result's text: a string, or its text parts joined.
fn tool_text(value: &Value, path: &str) -> Result<String, ConvertError> {
    let parts = content_parts(value, path, false)?;
    Ok(parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `response_format` -> `responseMimeType` (and `responseJsonSchema`).
fn response_format(value: &Value, config: &mut Map<String, Value>) -> Result<(), ConvertError> {
    let format = object(value, "response_format")?;
    let kind = format.get("type").unwrap_or(&Value::Null);
    match string(kind, "response_format.type")? {
        "text" => {}
        "json_object" => {
            config.insert("responseMimeType".into(), "application/json".into());
        }
        "json_schema" => {
            config.insert("responseMimeType".into(), "application/json".into());
            let spec = format.get("json_schema").unwrap_or(&Value::Null);
            let spec = object(spec, "response_format.json_schema")?;
            if let Some(s) = spec.get("schema").filter(|v| !v.is_null()) {
                let s = schema(s, "response_format.json_schema.schema")?;
                config.insert("responseJsonSchema".into(), s);
            }
        }
        _ => {
            return Err(ConvertError::unsupported(
                "response_format.type",
                "Gemini backends take `text`, `json_object` or `json_schema`",
            ));
        }
    }
    Ok(())
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
