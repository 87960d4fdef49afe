//! The HTTP API's JSON envelope: `{"code": 10000, "message": "...", "data": ...}`. The SDK
//! reads only the body, never the status line, but statuses are set honestly anyway.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use relay_channels::HubError;
use serde_json::{json, Value};

pub(super) const OK: i64 = 10000;

pub(super) struct ApiError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    /// Seconds for `Retry-After`, on refusals that say when to try again.
    pub retry_after: Option<u64>,
}

/// What a client refused because every password-hashing slot is busy is told to wait.
const BUSY_RETRY_S: u64 = 2;

impl ApiError {
    pub(super) fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    pub(super) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 40100, message)
    }
    pub(super) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 40000, message)
    }
    /// A node that does not serve the channel state now: try again in a second.
    pub(super) fn standby(message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, 50300, message)
        }
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        let (status, code) = match &e {
            HubError::BadCredentials | HubError::BadToken => (StatusCode::UNAUTHORIZED, 40100),
            HubError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, 42900),
            HubError::Busy => (StatusCode::SERVICE_UNAVAILABLE, 50300),
            HubError::SignupClosed | HubError::Forbidden(_) => (StatusCode::FORBIDDEN, 40300),
            HubError::NotFound(_) => (StatusCode::NOT_FOUND, 40400),
            HubError::AccountExists(_) => (StatusCode::CONFLICT, 40900),
            HubError::Invalid(_) => (StatusCode::BAD_REQUEST, 40000),
            HubError::Locked
            | HubError::Store(_)
            | HubError::Postgres(_)
            | HubError::Io(_)
            | HubError::WriterGone => {
                tracing::error!(error = &e as &dyn std::error::Error, "channel store error");
                (StatusCode::INTERNAL_SERVER_ERROR, 50000)
            }
        };
        let retry_after = match e {
            HubError::Throttled { retry_after_s } => Some(retry_after_s),
            HubError::Busy => Some(BUSY_RETRY_S),
            _ => None,
        };
        Self {
            retry_after,
            ..Self::new(status, code, e.to_string())
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(json!({"code": self.code, "message": self.message, "data": null})),
        )
            .into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, s.into());
        }
        response
    }
}

/// A success envelope.
pub(super) fn ok(data: Value) -> Response {
    Json(json!({"code": OK, "message": "success", "data": data})).into_response()
}

pub(super) type ApiResult = Result<Response, ApiError>;
