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
    /// The gateway key is over its requests or tokens per minute.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    /// Every eligible backend is loading, has its circuit open or its
    /// queue full; `retry_after` is when the soonest may take calls.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after: Option<std::time::Duration>,
    },
    #[error("{message}")]
    UpstreamTimeout { message: String },
    /// A cloud budget is spent (`budgets.on_exceeded = "reject"`).
    #[error("{message}")]
    BudgetExceeded { message: String },
    #[error("not found")]
    NotFound,
    /// `/v1/airlock/report` with no audit database to read.
    #[error(
        "the audit is disabled ([audit] enabled = false, or its database could not be opened): there is no report"
    )]
    AuditDisabled,
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
            ApiError::ModelNotFound { .. } | ApiError::NotFound | ApiError::AuditDisabled => {
                StatusCode::NOT_FOUND
            }
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UpstreamRejected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NoEligibleBackend { .. } | ApiError::Unavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::BudgetExceeded { .. }
            | ApiError::UpstreamRateLimited { .. }
            | ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
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
            ApiError::UpstreamRateLimited { .. } | ApiError::RateLimited { .. } => {
                "rate_limit_exceeded"
            }
            // The code OpenAI-compatible services use for a filtered prompt.
            ApiError::ContentFilter { .. } => "content_filter",
            ApiError::NoEligibleBackend { .. } => "no_eligible_backend",
            ApiError::Unavailable { .. } => "backend_unavailable",
            ApiError::UpstreamTimeout { .. } => "upstream_timeout",
            ApiError::NotFound => "not_found",
            ApiError::AuditDisabled => "audit_disabled",
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
            | ApiError::AuditDisabled
            | ApiError::MethodNotAllowed => Outcome::ClientError,
            ApiError::InvalidApiKey => Outcome::Unauthorized,
            ApiError::PolicyViolation { .. } => Outcome::Blocked,
            ApiError::NoEligibleBackend { .. } | ApiError::Unavailable { .. } => Outcome::NoBackend,
            ApiError::UpstreamRateLimited { .. } | ApiError::RateLimited { .. } => {
                Outcome::RateLimited
            }
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

    /// The `error.type` of Anthropic's error body for this error, by
    /// status as Anthropic's API assigns them (its SDKs pick the exception
    /// class from the status; the type is for people and logs).
    pub fn anthropic_type(&self) -> &'static str {
        match self.status().as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 | 405 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            504 => "timeout_error",
            s if s >= 500 => "api_error",
            _ => "invalid_request_error",
        }
    }

    /// Anthropic's error body: `{"type":"error","error":{"type","message"}}`,
    /// the parameter path leading the message when there is one.
    pub fn anthropic_body(&self) -> serde_json::Value {
        let message = match self.param() {
            Some(p) => format!("{p}: {self}"),
            None => self.to_string(),
        };
        serde_json::json!({
            "type": "error",
            "error": {"type": self.anthropic_type(), "message": message},
        })
    }

    /// The response in Anthropic's shape (`/v1/messages`), with the same
    /// status and headers as [`IntoResponse`] gives.
    pub fn into_anthropic_response(self) -> Response {
        let body = axum::Json(self.anthropic_body());
        let mut resp = self.into_response();
        let headers = std::mem::take(resp.headers_mut());
        let mut out = (resp.status(), body).into_response();
        for (name, value) in &headers {
            if name != axum::http::header::CONTENT_TYPE
                && name != axum::http::header::CONTENT_LENGTH
            {
                out.headers_mut().insert(name.clone(), value.clone());
            }
        }
        out
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
        }
        | ApiError::Unavailable {
            retry_after: Some(d),
            ..
        }
        | ApiError::RateLimited { retry_after: d, .. } = &self
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
            DispatchError::Unavailable { retry_after, .. } => ApiError::Unavailable {
                message: format!("no eligible backend is available ({e})"),
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
    fn anthropic_shape_keeps_status_and_names_the_type() {
        for (e, status, kind) in [
            (
                ApiError::InvalidRequest {
                    message: "Field required".into(),
                    param: Some("max_tokens".into()),
                },
                400,
                "invalid_request_error",
            ),
            (ApiError::InvalidApiKey, 401, "authentication_error"),
            (
                ApiError::PolicyViolation {
                    message: "m".into(),
                },
                403,
                "permission_error",
            ),
            (
                ApiError::ModelNotFound { model: "x".into() },
                404,
                "not_found_error",
            ),
            (
                ApiError::UpstreamRateLimited {
                    message: "m".into(),
                    retry_after: Some(std::time::Duration::from_millis(1500)),
                },
                429,
                "rate_limit_error",
            ),
            (
                ApiError::Upstream {
                    message: "m".into(),
                },
                502,
                "api_error",
            ),
            (
                ApiError::NoEligibleBackend {
                    message: "m".into(),
                },
                503,
                "overloaded_error",
            ),
        ] {
            let b = e.anthropic_body();
            assert_eq!(b["type"], "error");
            assert_eq!(b["error"]["type"], kind);
            let r = e.into_anthropic_response();
            assert_eq!(r.status().as_u16(), status);
            if status == 429 {
                assert_eq!(r.headers()["retry-after"], "2");
            }
        }
        let e = ApiError::InvalidRequest {
            message: "Field required".into(),
            param: Some("max_tokens".into()),
        };
        assert_eq!(
            e.anthropic_body()["error"]["message"],
            "max_tokens: Field required"
        );
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
