//! OpenAI embeddings <-> Ollama `/api/embed`, and `/api/tags` -> model names;
//! part of the Ollama conversion module.
//!
//! - `input`: a string or a non-empty array of strings; token arrays are
//!   refused (Ollama embeds text only).
//! - `dimensions` -> `dimensions` (Ollama's API reference lists it for
//!   `/api/embed`); `keep_alive` passes through; `user` is accepted and not
//!   forwarded; anything else is refused.
//! - `encoding_format`: `float` (the default) or `base64`. Ollama answers with
//!   floats, so base64 (little-endian `f32`, what OpenAI sends and what the
//!   official Python SDK asks for when the caller names no format) is encoded
//!   here.
//!
//! Must not accept an answer whose embedding count differs from the inputs.

use serde_json::{Map, Value, json};

use super::{ConvertError, positive, upstream_object};

/// How the client wants each vector written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddingEncoding {
    /// A JSON array of numbers.
    Float,
    /// Base64 of the vector as little-endian `f32`s.
    Base64,
}

/// An `/api/embed` body plus what the answer must be checked and shaped by.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbedCall {
    /// The body to POST to `/api/embed`.
    pub body: Value,
    /// How many vectors the answer must hold.
    pub inputs: usize,
    pub encoding: EmbeddingEncoding,
}

/// OpenAI embeddings body -> Ollama `/api/embed` call for `model`.
pub fn embed_request(body: &Map<String, Value>, model: &str) -> Result<EmbedCall, ConvertError> {
    let mut out = Map::new();
    let mut encoding = EmbeddingEncoding::Float;
    out.insert("model".into(), model.into());
    for (key, value) in body {
        if value.is_null() {
            continue;
        }
        let key = key.as_str();
        match key {
            "model" | "input" | "user" => {}
            "encoding_format" => {
                encoding = match value.as_str() {
                    Some("float") => EmbeddingEncoding::Float,
                    Some("base64") => EmbeddingEncoding::Base64,
                    _ => return Err(ConvertError::invalid(key, "must be `float` or `base64`")),
                }
            }
            "dimensions" => {
                out.insert("dimensions".into(), positive(value, key)?.into());
            }
            "keep_alive" if value.is_string() || value.is_number() => {
                out.insert("keep_alive".into(), value.clone());
            }
            "keep_alive" => {
                return Err(ConvertError::invalid(key, "must be a duration or seconds"));
            }
            _ => {
                return Err(ConvertError::unsupported(
                    key,
                    "this parameter is not supported for Ollama backends",
                ));
            }
        }
    }
    let input = body
        .get("input")
        .filter(|v| !v.is_null())
        .ok_or_else(|| ConvertError::invalid("input", "is required"))?;
    let inputs = match input {
        Value::String(_) => 1,
        Value::Array(items) if items.is_empty() => {
            return Err(ConvertError::invalid("input", "must not be empty"));
        }
        Value::Array(items) if items.iter().all(Value::is_string) => items.len(),
        Value::Array(items) if items.iter().all(|i| i.is_number() || i.is_array()) => {
            return Err(ConvertError::unsupported(
                "input",
                "token arrays are not supported for Ollama backends; send text",
            ));
        }
        _ => {
            return Err(ConvertError::invalid(
                "input",
                "must be a string or an array of strings",
            ));
        }
    };
    out.insert("input".into(), input.clone());
    Ok(EmbedCall {
        body: Value::Object(out),
        inputs,
        encoding,
    })
}

/// `/api/embed` answer -> OpenAI embeddings list, reporting `model`.
pub fn embed_response(resp: &Value, model: &str, call: &EmbedCall) -> Result<Value, ConvertError> {
    let resp = upstream_object(resp, "embed response")?;
    let vectors = resp
        .get("embeddings")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::upstream("embed response has no `embeddings` array"))?;
    if vectors.len() != call.inputs {
        return Err(ConvertError::upstream(format!(
            "embed response has {} vectors for {} inputs",
            vectors.len(),
            call.inputs
        )));
    }
    let mut data = Vec::with_capacity(vectors.len());
    for (index, vector) in vectors.iter().enumerate() {
        let bad = || ConvertError::upstream("an embedding is not an array of numbers");
        let numbers = vector.as_array().ok_or_else(bad)?;
        let embedding = match call.encoding {
            EmbeddingEncoding::Float => {
                if !numbers.iter().all(Value::is_number) {
                    return Err(bad());
                }
                vector.clone()
            }
            EmbeddingEncoding::Base64 => {
                let mut bytes = Vec::with_capacity(numbers.len() * 4);
                for n in numbers {
                    let x = n.as_f64().ok_or_else(bad)?;
                    // OpenAI's base64 embeddings are f32 by definition.
                    bytes.extend_from_slice(&(x as f32).to_le_bytes());
                }
                base64(&bytes).into()
            }
        };
        data.push(json!({ "object": "embedding", "index": index, "embedding": embedding }));
    }
    let prompt = match resp.get("prompt_eval_count") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .ok_or_else(|| ConvertError::upstream("`prompt_eval_count` is not a token count"))?,
    };
    Ok(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": prompt, "total_tokens": prompt },
    }))
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `/api/tags` answer -> the names of the models it lists.
pub fn tags_models(resp: &Value) -> Result<Vec<String>, ConvertError> {
    let resp = upstream_object(resp, "tags response")?;
    let models = match resp.get("models") {
        Some(Value::Array(models)) => models.as_slice(),
        Some(Value::Null) => &[],
        _ => {
            return Err(ConvertError::upstream(
                "tags response has no `models` array",
            ));
        }
    };
    models
        .iter()
        .map(|m| {
            m.get("name")
                .or_else(|| m.get("model"))
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| ConvertError::upstream("a listed model has no name"))
        })
        .collect()
}
