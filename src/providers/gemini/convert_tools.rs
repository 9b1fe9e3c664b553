//! OpenAI tools, tool choices and assistant tool calls -> Gemini
//! `functionDeclarations`, `functionCallingConfig` and `functionCall` parts;
//! part of the Gemini conversion module (see its docs for the mapping).
//! Pure; errors name parameters, never request text.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::ConvertError;
use crate::providers::fields::{object, string, tool_calls};

/// The `thoughtSignature` Google documents for function calls it did not
/// produce (histories from other models or clients that drop signatures).
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// An assistant message's `tool_calls` -> `functionCall` parts, recording
/// each call's name under its id in `names` (for the tool results after it).
pub(super) fn function_calls<'a>(
    value: &'a Value,
    path: &str,
    names: &mut HashMap<&'a str, &'a str>,
) -> Result<Vec<Value>, ConvertError> {
    let mut out = Vec::new();
    for (j, c) in tool_calls(value, path)?.into_iter().enumerate() {
        let (call, id, name, args) = (c.call, c.id, c.name, c.arguments);
        names.insert(id, name);
        let mut part = Map::new();
        part.insert("functionCall".into(), json!({"name": name, "args": args}));
        let signature = call
            .get("extra_content")
            .and_then(|e| e.get("google"))
            .and_then(|g| g.get("thought_signature"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match signature {
            Some(s) => {
                part.insert("thoughtSignature".into(), s.into());
            }
            None if j == 0 => {
                part.insert("thoughtSignature".into(), SKIP_SIGNATURE.into());
            }
            None => {}
        }
        out.push(Value::Object(part));
    }
    Ok(out)
}

/// `tools` -> `functionDeclarations`.
pub(super) fn chat_tools(value: &Value) -> Result<Vec<Value>, ConvertError> {
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
                "only `function` tools are supported for Gemini backends",
            ));
        }
        let func_path = format!("{path}.function");
        let func = object(tool.get("function").unwrap_or(&Value::Null), &func_path)?;
        let name_path = format!("{func_path}.name");
        let mut declaration = Map::new();
        let name = string(func.get("name").unwrap_or(&Value::Null), &name_path)?;
        declaration.insert("name".into(), name.into());
        if let Some(d) = func.get("description").filter(|v| !v.is_null()) {
            let d = string(d, &format!("{func_path}.description"))?;
            declaration.insert("description".into(), d.into());
        }
        if let Some(p) = func.get("parameters").filter(|v| !v.is_null()) {
            let schema = schema(p, &format!("{func_path}.parameters"))?;
            declaration.insert("parametersJsonSchema".into(), schema);
        }
        out.push(Value::Object(declaration));
    }
    Ok(out)
}

/// A JSON Schema object for Gemini's `*JsonSchema` fields: unchanged but for
/// the root `$schema` dialect tag.
pub(super) fn schema(value: &Value, path: &str) -> Result<Value, ConvertError> {
    let mut map = object(value, path)?.clone();
    map.remove("$schema");
    Ok(Value::Object(map))
}

/// The `functionCallingConfig`; `None` when Gemini's default (`AUTO`) fits
/// or there are no tools to choose from.
pub(super) fn tool_choice(value: &Value, tools: &[Value]) -> Result<Option<Value>, ConvertError> {
    let config = match value {
        Value::String(s) if s == "auto" => None,
        Value::String(s) if s == "none" => Some(json!({"mode": "NONE"})),
        Value::String(s) if s == "required" => Some(json!({"mode": "ANY"})),
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
            if !tools.is_empty() && !tools.iter().any(|t| t["name"] == name) {
                return Err(ConvertError::invalid(
                    "tool_choice.function.name",
                    "names no function in `tools`",
                ));
            }
            Some(json!({"mode": "ANY", "allowedFunctionNames": [name]}))
        }
        _ => return Err(ConvertError::invalid("tool_choice", "unknown value")),
    };
    let forced = config.as_ref().is_some_and(|c| c["mode"] == "ANY");
    if tools.is_empty() && forced {
        return Err(ConvertError::invalid(
            "tool_choice",
            "a forced tool choice needs `tools`",
        ));
    }
    Ok(config)
}
