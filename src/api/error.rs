//! Every error airlock answers with, mapped to HTTP in exactly one place.
//! Bodies are OpenAI-shaped (`{"error":{"message","type","param","code"}}`)
//! with a stable `code`; 5xx messages name the failing backend and the kind of
//! failure, never internals or request content.

use crate::observe::Outcome;
use crate::openai::RequestError;
use crate::providers::{ConvertError, DispatchError};
use crate::route::RouteError;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    InvalidRequest {
        message: String,
        param: Option<String>,
    },
    #[error("{message}")]
    UnsupportedParameter {
        message: String,
        param: Option<String>,
    },
    #[error("invalid or missing gateway key")]
    InvalidApiKey,
    #[error("{message}")]
    PolicyViolation { message: String },
    #[error("the model {model} does not exist")]
    ModelNotFound { model: String },
    #[error("the request body exceeds the limit of {limit} bytes")]
    RequestTooLarge { limit: usize },
    /// A backend refused the request as the caller's fault; its status and message are relayed.
    #[error("{message}")]
    UpstreamRejected {
        status: u16,
        message: String,
        param: Option<String>,
    },
    #[error("{message}")]
    Upstream { message: String },
    /// Every backend tried was rate-limited (429); `retry_after` is the
    /// wait the last of them asked for.
    #[error("{message}")]
    UpstreamRateLimited {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    /// A backend's safety filter refused the prompt.
    #[error("{message}")]
    ContentFilter { message: String },
    #[error("{message}")]
    NoEligibleBackend { message: String },
    #[error("{message}")]
    UpstreamTimeout { message: String },
    /// A cloud budget is spent (`budgets.on_exceeded = "reject"`).
    #[error("{message}")]
    BudgetExceeded { message: String },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Airlock's own failure; the body says nothing more.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::UnsupportedParameter { .. }
            | ApiError::ContentFilter { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::PolicyViolation { .. } => StatusCode::FORBIDDEN,
            ApiError::ModelNotFound { .. } | ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UpstreamRejected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NoEligibleBackend { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::BudgetExceeded { .. } | ApiError::UpstreamRateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::UnsupportedParameter { .. } => "unsupported_parameter",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::PolicyViolation { .. } => "sensitivity_policy_violation",
            ApiError::ModelNotFound { .. } => "model_not_found",
            ApiError::RequestTooLarge { .. } => "request_too_large",
            ApiError::UpstreamRejected { .. } => "upstream_rejected",
            ApiError::Upstream { .. } => "upstream_error",
            // OpenAI's code for a rate limit, so SDKs back off and retry.
            ApiError::UpstreamRateLimited { .. } => "rate_limit_exceeded",
            // The code OpenAI-compatible services use for a filtered prompt.
            ApiError::ContentFilter { .. } => "content_filter",
            ApiError::NoEligibleBackend { .. } => "no_eligible_backend",
            ApiError::UpstreamTimeout { .. } => "upstream_timeout",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Internal => "internal_error",
            // OpenAI's code for a spent quota, so SDKs and tools recognise it.
            ApiError::BudgetExceeded { .. } => "insufficient_quota",
        }
    }

    /// How the request ended, for metrics, logs and audit.
    pub fn outcome(&self) -> Outcome {
        match self {
            ApiError::InvalidRequest { .. }
            | ApiError::UnsupportedParameter { .. }
            | ApiError::ModelNotFound { .. }
            | ApiError::RequestTooLarge { .. }
            | ApiError::UpstreamRejected { .. }
            | ApiError::NotFound
            | ApiError::MethodNotAllowed => Outcome::ClientError,
            ApiError::InvalidApiKey => Outcome::Unauthorized,
            ApiError::PolicyViolation { .. } => Outcome::Blocked,
            ApiError::NoEligibleBackend { .. } => Outcome::NoBackend,
            ApiError::UpstreamRateLimited { .. } => Outcome::RateLimited,
            ApiError::BudgetExceeded { .. } => Outcome::Budget,
            ApiError::Upstream { .. } => Outcome::UpstreamError,
            ApiError::Internal => Outcome::Internal,
            ApiError::UpstreamTimeout { .. } => Outcome::Timeout,
            ApiError::ContentFilter { .. } => Outcome::ContentFilter,
        }
    }

    fn kind(&self) -> &'static str {
        if matches!(self, ApiError::BudgetExceeded { .. }) {
            return "insufficient_quota";
        }
        match self.status().as_u16() {
            429 => "rate_limit_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            s if s >= 500 => "api_error",
            _ => "invalid_request_error",
        }
    }

    fn param(&self) -> Option<&str> {
        match self {
            ApiError::InvalidRequest { param, .. }
            | ApiError::UnsupportedParameter { param, .. }
            | ApiError::UpstreamRejected { param, .. } => param.as_deref(),
            ApiError::ModelNotFound { .. } => Some("model"),
            ApiError::ContentFilter { .. } => Some("messages"),
            _ => None,
        }
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.to_string(),
                "type": self.kind(),
                "param": self.param(),
                "code": self.code(),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status(), axum::Json(self.body())).into_response();
        if let ApiError::UpstreamRateLimited {
            retry_after: Some(d),
            ..
        } = &self
        {
            // Whole seconds, rounded up: what clients read.
            let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        if matches!(self, ApiError::InvalidApiKey) {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer"),
            );
        }
        resp
    }
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        ApiError::InvalidRequest {
            message: e.message,
            param: e.param,
        }
    }
}

impl From<RouteError> for ApiError {
    fn from(e: RouteError) -> Self {
        match e {
            RouteError::ModelNotFound { model } => ApiError::ModelNotFound { model },
            RouteError::AmbiguousModel { model, backends } => ApiError::InvalidRequest {
                message: format!(
                    "the model {model} is served by several backends ({}); name one as \"backend/model\"",
                    backends.join(", ")
                ),
                param: Some("model".into()),
            },
            RouteError::PolicyViolation { message } => ApiError::PolicyViolation { message },
            RouteError::NoEligibleBackend { message } => ApiError::NoEligibleBackend { message },
            RouteError::BudgetExceeded { message } => ApiError::BudgetExceeded { message },
            RouteError::Capability { param, message } => ApiError::UnsupportedParameter {
                param: Some(param.to_owned()),
                message,
            },
        }
    }
}

impl From<DispatchError> for ApiError {
    fn from(e: DispatchError) -> Self {
        match e {
            DispatchError::Connect { .. } => ApiError::NoEligibleBackend {
                message: format!("no eligible backend is reachable ({e})"),
            },
            DispatchError::Timeout { .. } => ApiError::UpstreamTimeout {
                message: e.to_string(),
            },
            DispatchError::Rejected {
                status,
                message,
                param,
                ..
            } => ApiError::UpstreamRejected {
                status,
                message,
                param,
            },
            DispatchError::Status {
                status: 429,
                retry_after,
                ..
            } => ApiError::UpstreamRateLimited {
                message: "every eligible backend is rate-limited; retry later".into(),
                retry_after,
            },
            DispatchError::Status { .. }
            | DispatchError::Protocol { .. }
            | DispatchError::TooLarge { .. } => ApiError::Upstream {
                message: e.to_string(),
            },
            DispatchError::Convert(ConvertError::Unsupported { param, message }) => {
                ApiError::UnsupportedParameter {
                    message,
                    param: Some(param),
                }
            }
            DispatchError::Convert(ConvertError::Invalid { param, message }) => {
                ApiError::InvalidRequest { message, param }
            }
            DispatchError::Convert(ConvertError::Upstream { message }) => {
                ApiError::Upstream { message }
            }
            DispatchError::Convert(ConvertError::ContentFilter { message }) => {
                ApiError::ContentFilter { message }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_openai_shape_and_stable_code() {
        let cases = [
            (
                ApiError::InvalidRequest {
                    message: "m".into(),
                    param: Some("model".into()),
                },
                400,
                "invalid_request",
            ),
            (
                ApiError::UnsupportedParameter {
                    message: "m".into(),
                    param: Some("n".into()),
                },
                400,
                "unsupported_parameter",
            ),
            (ApiError::InvalidApiKey, 401, "invalid_api_key"),
            (
                ApiError::PolicyViolation {
                    message: "m".into(),
                },
                403,
                "sensitivity_policy_violation",
            ),
            (
                ApiError::ModelNotFound { model: "x".into() },
                404,
                "model_not_found",
            ),
            (
                ApiError::RequestTooLarge { limit: 1 },
                413,
                "request_too_large",
            ),
            (
                ApiError::Upstream {
                    message: "m".into(),
                },
                502,
                "upstream_error",
            ),
            (
                ApiError::ContentFilter {
                    message: "m".into(),
                },
                400,
                "content_filter",
            ),
            (
                ApiError::NoEligibleBackend {
                    message: "m".into(),
                },
                503,
                "no_eligible_backend",
            ),
            (
                ApiError::UpstreamTimeout {
                    message: "m".into(),
                },
                504,
                "upstream_timeout",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status);
            let b = e.body();
            assert_eq!(b["error"]["code"], code);
            assert!(b["error"]["message"].is_string());
            assert!(b["error"]["type"].is_string());
            assert!(b["error"].get("param").is_some());
        }
    }

    #[test]
    fn connect_failures_are_no_eligible_backend() {
        let e: ApiError = DispatchError::Connect {
            backend: "ollama".into(),
        }
        .into();
        assert_eq!(e.code(), "no_eligible_backend");
    }
}
