//! The API's one error shape: `{"error":{"field":<string or null>,"message":<string>,
//! "problem":{"code":…,"params":{…}}}}`, the problem present when the message has a code.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kairos_core::problem::{self, Problem};
use kairos_core::scheduler::SchedulerError;
use kairos_core::store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error answered as JSON with an HTTP status.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The request field, parameter or JSON path that is wrong, if one is.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong, and where.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// The field, query parameter or JSON path at fault (e.g. `trigger`, `jobs[2].id`), or null.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The message's stable code and parameters, when the catalog knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl ApiError {
    /// An error with `status`, about `field` if given.
    pub fn new(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Self {
        ApiError {
            status,
            field: field.map(str::to_string),
            message: message.into(),
        }
    }

    /// 400: the request is malformed (unparseable JSON, a query parameter of the wrong type).
    pub fn bad_request(field: Option<&str>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, field, message)
    }

    /// 422: the request parses but `field` has an unacceptable value.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, Some(field), message)
    }

    /// 404: nothing has this id.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, message)
    }

    /// 500: the server failed.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, "request failed: {}", self.message);
        } else {
            tracing::debug!(status = %self.status, field = ?self.field, "request refused: {}", self.message);
        }
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let too_large = self.status == StatusCode::PAYLOAD_TOO_LARGE;
        let body = ErrorBody {
            error: ErrorDetail {
                field: self.field,
                problem: problem::recognize(&self.message),
                message: self.message,
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if too_large {
            // The rest of the body is never read, so the connection is closed after this
            // answer: saying so keeps a client from sending its next request down it.
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<SchedulerError> for ApiError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Invalid { field, message } => ApiError::invalid(&field, message),
            SchedulerError::NotFound(_)
            | SchedulerError::NoRun(_)
            | SchedulerError::NoChannel(_) => ApiError::not_found(e.to_string()),
            SchedulerError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, None, message),
            SchedulerError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError::not_found(e.to_string()),
            StoreError::Duplicate(_) => ApiError::invalid("id", e.to_string()),
            StoreError::Full(_) => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, None, e.to_string())
            }
            e => ApiError::internal(e.to_string()),
        }
    }
}

/// The result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
