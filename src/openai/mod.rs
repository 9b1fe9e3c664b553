//! The OpenAI API surface airlock exposes: request bodies parsed once into a
//! checked view (model, stream flags, where the text is) while the JSON itself
//! is kept whole, so unknown fields reach OpenAI-protocol backends untouched.
//! No I/O here; errors name the offending parameter.

mod body;

pub use body::Body;

use serde_json::{Map, Value};

/// Why a request body was refused, with the OpenAI `param` it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    pub message: String,
    pub param: Option<String>,
}

impl RequestError {
    pub(crate) fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError {
            message: message.into(),
            param: Some(param.into()),
        }
    }
}

/// Where a piece of scannable text sits in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// `messages[i].content` (or its text part `part`), or `input[i]` for embeddings.
    Content,
    /// `messages[i].name`.
    Name,
    /// `messages[i].tool_calls[j].function.arguments`.
    ToolArguments(usize),
    /// `messages[i].tool_calls[j].function.name`.
    ToolName(usize),
}

impl Field {
    pub fn describe(self) -> String {
        match self {
            Field::Content => "content".into(),
            Field::Name => "name".into(),
            Field::ToolArguments(j) => format!("tool_calls[{j}].function.arguments"),
            Field::ToolName(j) => format!("tool_calls[{j}].function.name"),
        }
    }
}

/// One scannable string of a request.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Index into `messages` (or `input` for embeddings).
    pub message: usize,
    /// Index of the content part, when the content is an array of parts.
    pub part: Option<usize>,
    pub field: Field,
    pub role: Role,
    pub text: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
    /// Embeddings input.
    Input,
}

/// What the scanner could not read, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unscannable {
    pub images: usize,
    pub audio: usize,
    pub files: usize,
    pub other: usize,
}

impl Unscannable {
    pub fn any(&self) -> bool {
        self.images + self.audio + self.files + self.other > 0
    }
}

/// A checked `POST /v1/chat/completions` body.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The body as sent, to forward (with `model` replaced).
    pub body: Body,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    pub has_tools: bool,
    pub max_tokens: Option<u64>,
    /// `response_format.type` is `json_schema` (structured output).
    pub json_schema: bool,
}

/// Most messages one chat request may hold. Far above any real
/// conversation; a request over it is refused before it is scanned.
pub const MAX_MESSAGES: usize = 4096;
/// Most inputs one embeddings request may hold (OpenAI's documented limit
/// for an array of strings or of token arrays).
pub const MAX_INPUTS: usize = 2048;

/// Parses a JSON object body (duplicate keys refused, see [`Body`]).
pub(crate) fn as_object(bytes: &[u8]) -> Result<Body, RequestError> {
    Body::parse(bytes).map_err(|e| match e {
        body::BodyError::NotObject => RequestError {
            message: "the request body must be a JSON object".into(),
            param: None,
        },
        body::BodyError::Json(e) => RequestError {
            message: format!("the request body is not valid JSON: {e}"),
            param: None,
        },
    })
}

fn model_of(body: &Map<String, Value>) -> Result<String, RequestError> {
    match body.get("model") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(RequestError::new("model", "model must not be empty")),
        Some(_) => Err(RequestError::new("model", "model must be a string")),
        None => Err(RequestError::new(
            "model",
            "you must provide a model parameter (\"auto\" lets airlock decide)",
        )),
    }
}

fn opt_bool(body: &Map<String, Value>, key: &str) -> Result<Option<bool>, RequestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(RequestError::new(key, format!("{key} must be a boolean"))),
    }
}

fn opt_u64(body: &Map<String, Value>, key: &str) -> Result<Option<u64>, RequestError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| RequestError::new(key, format!("{key} must be a non-negative integer"))),
    }
}

impl ChatRequest {
    pub fn parse(bytes: &[u8]) -> Result<ChatRequest, RequestError> {
        ChatRequest::from_body(as_object(bytes)?)
    }

    /// Checks a body already parsed (or built by another API's translation,
    /// such as the Anthropic Messages ingress).
    pub fn from_body(body: Body) -> Result<ChatRequest, RequestError> {
        let model = model_of(&body)?;
        let stream = opt_bool(&body, "stream")?.unwrap_or(false);
        let include_usage = match body.get("stream_options") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => {
                if !stream {
                    return Err(RequestError::new(
                        "stream_options",
                        "stream_options is only allowed when stream is true",
                    ));
                }
                opt_bool(o, "include_usage")
                    .map_err(|_| {
                        RequestError::new(
                            "stream_options.include_usage",
                            "include_usage must be a boolean",
                        )
                    })?
                    .unwrap_or(false)
            }
            Some(_) => {
                return Err(RequestError::new(
                    "stream_options",
                    "stream_options must be an object",
                ));
            }
        };
        let has_tools = match body.get("tools") {
            None | Some(Value::Null) => false,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => return Err(RequestError::new("tools", "tools must be an array")),
        };
        let max_tokens = match opt_u64(&body, "max_completion_tokens")? {
            Some(n) => Some(n),
            None => opt_u64(&body, "max_tokens")?,
        };
        if let Some(n) = opt_u64(&body, "n")?
            && n == 0
        {
            return Err(RequestError::new("n", "n must be at least 1"));
        }
        let json_schema = match body.get("response_format") {
            None | Some(Value::Null) => false,
            Some(Value::Object(o)) => o.get("type").and_then(Value::as_str) == Some("json_schema"),
            Some(_) => {
                return Err(RequestError::new(
                    "response_format",
                    "response_format must be an object",
                ));
            }
        };
        let req = ChatRequest {
            body,
            model,
            stream,
            include_usage,
            has_tools,
            max_tokens,
            json_schema,
        };
        req.check_messages()?;
        Ok(req)
    }

    pub fn messages(&self) -> &[Value] {
        match self.body.get("messages") {
            Some(Value::Array(a)) => a,
            _ => &[],
        }
    }

    fn check_messages(&self) -> Result<(), RequestError> {
        let messages = match self.body.get("messages") {
            Some(Value::Array(a)) if a.len() > MAX_MESSAGES => {
                return Err(RequestError::new(
                    "messages",
                    format!("too many messages: {} (at most {MAX_MESSAGES})", a.len()),
                ));
            }
            Some(Value::Array(a)) if !a.is_empty() => a,
            Some(Value::Array(_)) => {
                return Err(RequestError::new("messages", "messages must not be empty"));
            }
            Some(_) => return Err(RequestError::new("messages", "messages must be an array")),
            None => {
                return Err(RequestError::new(
                    "messages",
                    "you must provide a messages parameter",
                ));
            }
        };
        for (i, m) in messages.iter().enumerate() {
            let Value::Object(m) = m else {
                return Err(RequestError::new(
                    format!("messages[{i}]"),
                    "each message must be an object",
                ));
            };
            let role = match m.get("role") {
                Some(Value::String(r)) => r.as_str(),
                _ => {
                    return Err(RequestError::new(
                        format!("messages[{i}].role"),
                        "each message needs a string role",
                    ));
                }
            };
            if parse_role(role).is_none() {
                return Err(RequestError::new(
                    format!("messages[{i}].role"),
                    format!(
                        "unknown role {role:?} (expected system, developer, user, assistant or tool)"
                    ),
                ));
            }
            match m.get("content") {
                None | Some(Value::Null) | Some(Value::String(_)) => {}
                Some(Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        let ok = match p {
                            Value::Object(p) => match p.get("type") {
                                Some(Value::String(t)) if t == "text" => {
                                    matches!(p.get("text"), Some(Value::String(_)))
                                }
                                Some(Value::String(_)) => true,
                                _ => false,
                            },
                            _ => false,
                        };
                        if !ok {
                            return Err(RequestError::new(
                                format!("messages[{i}].content[{j}]"),
                                "each content part must be an object with a string type (and text for text parts)",
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(RequestError::new(
                        format!("messages[{i}].content"),
                        "content must be a string, an array of parts or null",
                    ));
                }
            }
            if let Some(name) = m.get("name")
                && !name.is_string()
            {
                return Err(RequestError::new(
                    format!("messages[{i}].name"),
                    "name must be a string",
                ));
            }
            match m.get("tool_calls") {
                None | Some(Value::Null) => {}
                Some(Value::Array(calls)) => {
                    for (j, c) in calls.iter().enumerate() {
                        let args = c.pointer("/function/arguments");
                        if !matches!(args, None | Some(Value::String(_))) {
                            return Err(RequestError::new(
                                format!("messages[{i}].tool_calls[{j}].function.arguments"),
                                "arguments must be a JSON-encoded string",
                            ));
                        }
                    }
                }
                Some(_) => {
                    return Err(RequestError::new(
                        format!("messages[{i}].tool_calls"),
                        "tool_calls must be an array",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every scannable string of the request, and what could not be scanned.
    pub fn segments(&self) -> (Vec<Segment<'_>>, Unscannable) {
        let mut out = Vec::with_capacity(self.messages().len() * 2);
        let mut unscannable = Unscannable::default();
        for (i, m) in self.messages().iter().enumerate() {
            let role = m
                .get("role")
                .and_then(Value::as_str)
                .and_then(parse_role)
                .unwrap_or(Role::User);
            let seg = |part, field, text| Segment {
                message: i,
                part,
                field,
                role,
                text,
            };
            match m.get("content") {
                Some(Value::String(s)) => out.push(seg(None, Field::Content, s.as_str())),
                Some(Value::Array(parts)) => {
                    for (j, p) in parts.iter().enumerate() {
                        match p.get("type").and_then(Value::as_str) {
                            Some("text") | Some("input_text") | Some("refusal") => {
                                let key = if p.get("refusal").is_some() {
                                    "refusal"
                                } else {
                                    "text"
                                };
                                if let Some(t) = p.get(key).and_then(Value::as_str) {
                                    out.push(seg(Some(j), Field::Content, t));
                                }
                            }
                            Some("image_url") | Some("input_image") | Some("image") => {
                                unscannable.images += 1
                            }
                            Some("input_audio") | Some("audio") => unscannable.audio += 1,
                            Some("file") | Some("input_file") => unscannable.files += 1,
                            _ => unscannable.other += 1,
                        }
                    }
                }
                _ => {}
            }
            if let Some(Value::String(name)) = m.get("name") {
                out.push(seg(None, Field::Name, name.as_str()));
            }
            if let Some(Value::Array(calls)) = m.get("tool_calls") {
                for (j, c) in calls.iter().enumerate() {
                    if let Some(Value::String(n)) = c.pointer("/function/name") {
                        out.push(seg(None, Field::ToolName(j), n.as_str()));
                    }
                    if let Some(Value::String(a)) = c.pointer("/function/arguments") {
                        out.push(seg(None, Field::ToolArguments(j), a.as_str()));
                    }
                }
            }
        }
        (out, unscannable)
    }

    /// The body to send to an OpenAI-protocol backend: the caller's JSON with `model` replaced.
    pub fn body_for(&self, model: &str) -> Vec<u8> {
        self.body.with_model(model)
    }

    /// [`ChatRequest::body_for`] less the backend's `drop_fields`.
    pub fn body_for_backend(&self, model: &str, drop: &[String]) -> Vec<u8> {
        self.body.with_model_without(model, drop)
    }
}

fn parse_role(role: &str) -> Option<Role> {
    Some(match role {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" | "function" => Role::Tool,
        _ => return None,
    })
}

/// A checked `POST /v1/embeddings` body.
#[derive(Debug, Clone)]
pub struct EmbeddingsRequest {
    pub body: Body,
    pub model: String,
}

impl EmbeddingsRequest {
    pub fn parse(bytes: &[u8]) -> Result<EmbeddingsRequest, RequestError> {
        let body = as_object(bytes)?;
        let model = model_of(&body)?;
        match body.get("input") {
            Some(Value::String(_)) => {}
            Some(Value::Array(items)) if !items.is_empty() => {
                let all_strings = items.iter().all(Value::is_string);
                let all_tokens = items.iter().all(|v| v.is_u64())
                    || items
                        .iter()
                        .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_u64)));
                if !all_strings && !all_tokens {
                    return Err(RequestError::new(
                        "input",
                        "input must be a string, an array of strings, or token arrays",
                    ));
                }
                // One token array may be long; a list of inputs may not.
                let one_token_array = items.iter().all(Value::is_u64);
                if !one_token_array && items.len() > MAX_INPUTS {
                    return Err(RequestError::new(
                        "input",
                        format!("too many inputs: {} (at most {MAX_INPUTS})", items.len()),
                    ));
                }
            }
            Some(Value::Array(_)) => {
                return Err(RequestError::new("input", "input must not be empty"));
            }
            Some(_) => {
                return Err(RequestError::new(
                    "input",
                    "input must be a string or an array",
                ));
            }
            None => {
                return Err(RequestError::new(
                    "input",
                    "you must provide an input parameter",
                ));
            }
        }
        Ok(EmbeddingsRequest { body, model })
    }

    pub fn segments(&self) -> (Vec<Segment<'_>>, Unscannable) {
        let mut out = Vec::new();
        let mut unscannable = Unscannable::default();
        let seg = |i, text| Segment {
            message: i,
            part: None,
            field: Field::Content,
            role: Role::Input,
            text,
        };
        match self.body.get("input") {
            Some(Value::String(s)) => out.push(seg(0, s.as_str())),
            Some(Value::Array(items)) => {
                for (i, v) in items.iter().enumerate() {
                    match v {
                        Value::String(s) => out.push(seg(i, s.as_str())),
                        // Token ids can be decoded only with the model's tokenizer.
                        _ => unscannable.other += 1,
                    }
                }
            }
            _ => {}
        }
        (out, unscannable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(body: &str) -> RequestError {
        ChatRequest::parse(body.as_bytes()).expect_err("should fail")
    }

    #[test]
    fn parses_a_plain_chat() {
        let r = ChatRequest::parse(
            br#"{"model":"auto","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"x_custom":1}"#,
        )
        .expect("valid");
        assert_eq!(r.model, "auto");
        assert!(r.stream && r.include_usage);
        let body: Value = serde_json::from_slice(&r.body_for("m")).expect("json");
        assert_eq!(body["model"], "m");
        assert_eq!(body["x_custom"], 1, "unknown fields are kept");
    }

    #[test]
    fn names_the_bad_parameter() {
        assert_eq!(err("{}").param.as_deref(), Some("model"));
        assert_eq!(err(r#"{"model":1}"#).param.as_deref(), Some("model"));
        assert_eq!(
            err(r#"{"model":"a","messages":"x"}"#).param.as_deref(),
            Some("messages")
        );
        assert_eq!(
            err(r#"{"model":"a","messages":[{"content":"x"}]}"#)
                .param
                .as_deref(),
            Some("messages[0].role")
        );
        assert_eq!(
            err(r#"{"model":"a","messages":[{"role":"user","content":5}]}"#)
                .param
                .as_deref(),
            Some("messages[0].content")
        );
        assert_eq!(
            err(r#"{"model":"a","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#)
                .param
                .as_deref(),
            Some("stream")
        );
        assert!(err("[1,2]").message.contains("JSON object"));
        assert!(err("{\"model\": ").message.contains("not valid JSON"));
    }

    #[test]
    fn message_and_input_counts_and_nesting_are_bounded() {
        let msgs = |n: usize| {
            let one = r#"{"role":"user","content":"x"}"#;
            format!(r#"{{"model":"a","messages":[{}]}}"#, vec![one; n].join(","))
        };
        assert!(ChatRequest::parse(msgs(MAX_MESSAGES).as_bytes()).is_ok());
        let e = err(&msgs(MAX_MESSAGES + 1));
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert!(e.message.contains("too many messages"), "{}", e.message);
        let inputs = |n: usize| {
            format!(
                r#"{{"model":"e","input":[{}]}}"#,
                vec!["\"x\""; n].join(",")
            )
        };
        assert!(EmbeddingsRequest::parse(inputs(MAX_INPUTS).as_bytes()).is_ok());
        let e = EmbeddingsRequest::parse(inputs(MAX_INPUTS + 1).as_bytes()).expect_err("too many");
        assert!(e.message.contains("too many inputs"), "{}", e.message);
        // One long token array is one input.
        let tokens = format!(r#"{{"model":"e","input":[{}]}}"#, vec!["1"; 5000].join(","));
        assert!(EmbeddingsRequest::parse(tokens.as_bytes()).is_ok());
        // Nesting deeper than serde_json's limit (128) is refused, not a
        // stack overflow.
        let deep = format!(
            r#"{{"model":"a","messages":[{{"role":"user","content":"x","x":{}{}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(err(&deep).message.contains("not valid JSON"));
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let e = ChatRequest::parse(b"{\"model\":\"\xff\xfe\"}").expect_err("invalid");
        assert!(e.message.contains("not valid JSON"));
    }

    #[test]
    fn segments_cover_every_text_place() {
        let r = ChatRequest::parse(
            br#"{"model":"auto","messages":[
                {"role":"system","content":"sys"},
                {"role":"user","name":"bob","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:x"}},{"type":"text","text":"b"}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"result"}]}"#,
        )
        .expect("valid");
        let (segs, un) = r.segments();
        let got: Vec<_> = segs
            .iter()
            .map(|s| (s.message, s.part, s.field, s.text))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, None, Field::Content, "sys"),
                (1, Some(0), Field::Content, "a"),
                (1, Some(2), Field::Content, "b"),
                (1, None, Field::Name, "bob"),
                (2, None, Field::ToolName(0), "f"),
                (2, None, Field::ToolArguments(0), "{\"x\":1}"),
                (3, None, Field::Content, "result"),
            ]
        );
        assert_eq!(un.images, 1);
    }

    #[test]
    fn embeddings_inputs() {
        let r = EmbeddingsRequest::parse(br#"{"model":"e","input":["a","b"]}"#).expect("ok");
        assert_eq!(r.segments().0.len(), 2);
        let r = EmbeddingsRequest::parse(br#"{"model":"e","input":[[1,2],[3]]}"#).expect("ok");
        assert!(r.segments().1.any());
        assert!(EmbeddingsRequest::parse(br#"{"model":"e","input":[1,"a"]}"#).is_err());
        assert!(EmbeddingsRequest::parse(br#"{"model":"e"}"#).is_err());
    }
}
