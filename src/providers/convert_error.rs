//! The error every wire conversion returns: who is at fault (the caller's
//! request or the upstream's answer) and which OpenAI parameter it concerns.
//! It carries no prompt or completion text, only parameter names and short
//! descriptions, so it may be logged and shown to clients as it is.

use std::fmt;

/// Why a conversion between the OpenAI wire format and a backend's failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvertError {
    /// The request uses a parameter this protocol cannot honour (HTTP 400
    /// `unsupported_parameter`); `param` is the OpenAI parameter path, e.g.
    /// `"n"`, `"logprobs"`, `"messages[2].content[1].image_url"`.
    Unsupported { param: String, message: String },
    /// The request is malformed for this conversion (HTTP 400 `invalid_request`).
    Invalid {
        param: Option<String>,
        message: String,
    },
    /// The upstream sent something its protocol does not promise (HTTP 502
    /// `upstream_error`). Never contains prompt or completion text.
    Upstream { message: String },
    /// The upstream refused the prompt by policy (a safety filter): HTTP 400
    /// `content_filter`, not retried elsewhere. `message` names the reason
    /// code, never the prompt.
    ContentFilter { message: String },
}

impl ConvertError {
    pub(crate) fn unsupported(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Unsupported {
            param: param.into(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            param: Some(param.into()),
            message: message.into(),
        }
    }

    pub(crate) fn upstream(message: impl Into<String>) -> Self {
        Self::Upstream {
            message: message.into(),
        }
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { param, message } => {
                write!(f, "unsupported parameter `{param}`: {message}")
            }
            Self::Invalid {
                param: Some(param),
                message,
            } => write!(f, "invalid parameter `{param}`: {message}"),
            Self::Invalid {
                param: None,
                message,
            } => write!(f, "invalid request: {message}"),
            Self::Upstream { message } => write!(f, "upstream error: {message}"),
            Self::ContentFilter { message } => write!(f, "content filtered: {message}"),
        }
    }
}

impl std::error::Error for ConvertError {}
