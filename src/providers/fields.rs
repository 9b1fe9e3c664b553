//! Small readers of OpenAI request JSON shared by the pure conversion modules
//! (`ollama`, `anthropic`, `gemini`): typed access that fails with the
//! parameter path, assistant tool calls, base64 `data:` URLs, and the bound on
//! upstream error text.
//!
//! Pure: no I/O. Errors carry parameter paths and fixed descriptions, never
//! request or completion text.

use serde_json::{Map, Value};

use super::ConvertError;

/// Longest upstream error text kept, in bytes.
pub(crate) const MAX_ERROR_TEXT: usize = 512;

pub(crate) fn object<'a>(
    value: &'a Value,
    path: &str,
) -> Result<&'a Map<String, Value>, ConvertError> {
    value
        .as_object()
        .ok_or_else(|| ConvertError::invalid(path, "must be an object"))
}

pub(crate) fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, ConvertError> {
    value
        .as_str()
        .ok_or_else(|| ConvertError::invalid(path, "must be a string"))
}

/// One entry of `messages`, its common fields checked.
pub(crate) struct Message<'a> {
    /// `messages[i]`, for error paths.
    pub path: String,
    pub fields: &'a Map<String, Value>,
    pub role: &'a str,
    /// `content`, unless absent or null.
    pub content: Option<&'a Value>,
}

/// Reads `messages[i]`: only the fields every protocol here maps (others
/// must be null, else they are unsupported for `backends`, e.g. "Anthropic
/// backends"), a string `role`, and `tool_calls` only on an assistant.
pub(crate) fn message<'a>(
    value: &'a Value,
    i: usize,
    backends: &str,
) -> Result<Message<'a>, ConvertError> {
    let path = format!("messages[{i}]");
    let fields = object(value, &path)?;
    for (key, value) in fields {
        match key.as_str() {
            "role" | "content" | "name" | "tool_calls" | "tool_call_id" | "refusal"
            | "reasoning_content" => {}
            _ if value.is_null() => {}
            other => {
                return Err(ConvertError::unsupported(
                    format!("{path}.{other}"),
                    format!("this message field is not supported for {backends}"),
                ));
            }
        }
    }
    let role_path = format!("{path}.role");
    let role = fields
        .get("role")
        .ok_or_else(|| ConvertError::invalid(role_path.as_str(), "is required"))?;
    let role = string(role, &role_path)?;
    if role != "assistant" && fields.get("tool_calls").is_some_and(|v| !v.is_null()) {
        return Err(ConvertError::invalid(
            format!("{path}.tool_calls"),
            "only assistant messages carry tool calls",
        ));
    }
    let content = fields.get("content").filter(|v| !v.is_null());
    Ok(Message {
        path,
        fields,
        role,
        content,
    })
}

/// One `function` call of an assistant message's `tool_calls`, checked.
pub(crate) struct ToolCall<'a> {
    /// The call object itself, for provider-specific extras.
    pub call: &'a Map<String, Value>,
    pub id: &'a str,
    pub name: &'a str,
    /// The arguments, a JSON object (`{}` when absent or blank).
    pub arguments: Value,
}

/// Reads `{path}.tool_calls`: an array of `function` calls, each with an
/// `id`, a `function.name` and `function.arguments` holding a JSON object
/// as a string.
pub(crate) fn tool_calls<'a>(
    value: &'a Value,
    path: &str,
) -> Result<Vec<ToolCall<'a>>, ConvertError> {
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
        let id_path = format!("{call_path}.id");
        let id = string(call.get("id").unwrap_or(&Value::Null), &id_path)?;
        let func_path = format!("{call_path}.function");
        let func = object(call.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        let args_path = format!("{func_path}.arguments");
        let not_object =
            || ConvertError::invalid(args_path.as_str(), "must be a JSON object string");
        let arguments = match func.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(Value::String(s)) if s.trim().is_empty() => Value::Object(Map::new()),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(not_object)?,
            Some(_) => return Err(not_object()),
        };
        out.push(ToolCall {
            call,
            id,
            name,
            arguments,
        });
    }
    Ok(out)
}

pub(crate) fn boolean(value: &Value, path: &str) -> Result<bool, ConvertError> {
    value
        .as_bool()
        .ok_or_else(|| ConvertError::invalid(path, "must be a boolean"))
}

pub(crate) fn uint(value: &Value, path: &str) -> Result<u64, ConvertError> {
    value
        .as_u64()
        .ok_or_else(|| ConvertError::invalid(path, "must be a non-negative integer"))
}

pub(crate) fn positive(value: &Value, path: &str) -> Result<u64, ConvertError> {
    uint(value, path)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| ConvertError::invalid(path, "must be a positive integer"))
}

/// `text` cut to [`MAX_ERROR_TEXT`] bytes (at a character boundary) and trimmed.
pub(crate) fn bounded(text: &str) -> String {
    let mut end = text.len().min(MAX_ERROR_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].trim().to_owned()
}

/// Whether `url` starts with `prefix`, ASCII case-insensitively.
pub(crate) fn has_scheme(url: &str, prefix: &str) -> bool {
    url.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// `(media type, payload)` of a `data:<media type>[;params];base64,<payload>`
/// URL whose payload is padded standard base64; the media type may be empty.
/// `None` for anything else.
pub(crate) fn base64_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.get(5..).filter(|_| has_scheme(url, "data:"))?;
    let (header, payload) = rest.split_once(',')?;
    let (media_type, params) = header.split_once(';')?;
    let is_base64 = params
        .rsplit(';')
        .next()
        .is_some_and(|p| p.eq_ignore_ascii_case("base64"));
    (is_base64 && is_base64_text(payload)).then_some((media_type, payload))
}

/// Standard alphabet, padded to a multiple of four (as Go's decoder and
/// Anthropic's want).
fn is_base64_text(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !s.is_empty()
        && s.len().is_multiple_of(4)
        && s.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            base64_data_url("data:image/png;base64,AAAA"),
            Some(("image/png", "AAAA"))
        );
        assert_eq!(
            base64_data_url("DATA:image/JPEG;name=x.jpg;BASE64,AA=="),
            Some(("image/JPEG", "AA=="))
        );
        assert_eq!(base64_data_url("data:;base64,AAAA"), Some(("", "AAAA")));
        assert_eq!(base64_data_url("data:image/png,AAAA"), None, "not base64");
        assert_eq!(base64_data_url("data:base64,AAAA"), None, "no `;base64`");
        assert_eq!(base64_data_url("data:image/png;base64,AAA"), None);
        assert_eq!(base64_data_url("data:image/png;base64,"), None);
        assert_eq!(base64_data_url("data:image/png;base64,A A="), None);
        assert_eq!(base64_data_url("https://x/y.png"), None);
        assert_eq!(base64_data_url("dat"), None);
    }

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        let long = "é".repeat(400);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_ERROR_TEXT && cut.chars().all(|c| c == 'é'));
        assert_eq!(bounded("  x "), "x");
    }
}
