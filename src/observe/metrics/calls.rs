//! What a backend call came to, and why a candidate got no call: the
//! fixed label values of `airlock_backend_calls_total{result}` and
//! `airlock_backend_skipped_total{reason}`.

use crate::providers::{ConvertError, DispatchError};

/// What one backend call came to (`airlock_backend_calls_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    Ok,
    Connect,
    Timeout,
    RateLimited,
    Status,
    Rejected,
    Protocol,
    TooLarge,
    ContentFilter,
    Unsupported,
    /// The backend said it is still loading a model.
    Loading,
}

impl CallResult {
    pub const ALL: [CallResult; 11] = [
        CallResult::Ok,
        CallResult::Connect,
        CallResult::Timeout,
        CallResult::RateLimited,
        CallResult::Status,
        CallResult::Rejected,
        CallResult::Protocol,
        CallResult::TooLarge,
        CallResult::ContentFilter,
        CallResult::Unsupported,
        CallResult::Loading,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallResult::Ok => "ok",
            CallResult::Connect => "connect",
            CallResult::Timeout => "timeout",
            CallResult::RateLimited => "rate_limited",
            CallResult::Status => "status",
            CallResult::Rejected => "rejected",
            CallResult::Protocol => "protocol",
            CallResult::TooLarge => "too_large",
            CallResult::ContentFilter => "content_filter",
            CallResult::Unsupported => "unsupported",
            CallResult::Loading => "loading",
        }
    }

    pub fn of(e: &DispatchError) -> CallResult {
        match e {
            DispatchError::Connect { .. } => CallResult::Connect,
            DispatchError::Timeout { .. } => CallResult::Timeout,
            DispatchError::Status { status: 429, .. } => CallResult::RateLimited,
            DispatchError::Status { .. } => CallResult::Status,
            DispatchError::Rejected { .. } => CallResult::Rejected,
            DispatchError::Protocol { .. }
            | DispatchError::Convert(ConvertError::Upstream { .. }) => CallResult::Protocol,
            DispatchError::TooLarge { .. } => CallResult::TooLarge,
            DispatchError::Convert(ConvertError::ContentFilter { .. }) => CallResult::ContentFilter,
            DispatchError::Convert(
                ConvertError::Unsupported { .. } | ConvertError::Invalid { .. },
            ) => CallResult::Unsupported,
            DispatchError::Unavailable { .. } => CallResult::Loading,
        }
    }
}

/// Why a candidate backend was passed over without a call
/// (`airlock_backend_skipped_total{reason}`): `DispatchError::Unavailable`'s
/// `why` from the circuit breaker and the capacity gate.
pub const SKIP_REASONS: [&str; 4] = ["circuit_open", "busy", "queue_full", "queue_timeout"];
