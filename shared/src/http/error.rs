//! Errors as the API says them: a status and `{"error":{"code","message","field"?}}`, one type
//! ([`ApiErrorBody`]) that is both what is sent and what the OpenAPI document shows, with its
//! codes an enum ([`ErrorCode`]). The responses most operations share are declared once here
//! ([`Unauthorized`], [`Forbidden`], [`TooLarge`], [`Invalid`]). Internal details are logged
//! with the request's span, never sent.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use utoipa::{ToResponse, ToSchema};

use super::views::RowProblem;
use crate::domain::ValidationError;
use crate::platforms::PublishError;
use crate::services::ServiceError;
use crate::store::StoreError;

/// What went wrong, for programs: each code has one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: a signed webhook body that is not a payload of its platform.
    BadRequest,
    /// 401: no, unknown or revoked API key; a webhook's missing or wrong signature.
    Unauthorized,
    /// 403: the key's role does not allow it.
    Forbidden,
    /// 403: a change made with a session cookie lacks the session's `x-csrf-token`.
    Csrf,
    /// 404: no such thing in your team (or no such route).
    NotFound,
    /// 405: the path does not take that method.
    MethodNotAllowed,
    /// 410: a share link past its expiry.
    Gone,
    /// 409: the current state does not allow it, or it changed concurrently.
    Conflict,
    /// 409: a webhook's channel lacks the secret its platform signs with.
    NotConfigured,
    /// 413: the body is too large.
    TooLarge,
    /// 422: invalid input; `field` names it.
    Invalid,
    /// 429: too many sign-in attempts; retry after `Retry-After` seconds.
    Throttled,
    /// 500: Herald failed; the request id finds it in the logs.
    Internal,
    /// 502: the platform refused the token.
    PlatformAuth,
    /// 502: the platform refused the request.
    PlatformRefused,
    /// 503: the platform is down or rate-limited; retry after `Retry-After`.
    PlatformUnavailable,
}

/// Every error response: `{"error":{"code","message","field"?}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorBody {
    pub error: ApiErrorDetail,
    /// A refused CSV import only: every bad row by its line in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<RowProblem>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiErrorDetail {
    pub code: ErrorCode,
    /// For people: what is wrong and, where it helps, what to do.
    pub message: String,
    /// The input at fault (`text`, `channel_ids[1]`, `publish_at`, …), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// 401, shared by every operation that takes an API key.
#[derive(ToResponse)]
#[response(description = "no, unknown or revoked API key")]
#[allow(dead_code)] // documents the response; never built
pub struct Unauthorized(ApiErrorBody);

/// 403, shared by every operation a role may be refused.
#[derive(ToResponse)]
#[response(description = "the key's role may not do this")]
#[allow(dead_code)]
pub struct Forbidden(ApiErrorBody);

/// 413, shared by every operation with a body.
#[derive(ToResponse)]
#[response(description = "the body is over 1 MiB")]
#[allow(dead_code)]
pub struct TooLarge(ApiErrorBody);

/// 422, shared by every operation that reads input.
#[derive(ToResponse)]
#[response(description = "invalid input; `field` names it")]
#[allow(dead_code)]
pub struct Invalid(ApiErrorBody);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a signed webhook body that is not a payload of its platform.
    #[error("{message}")]
    BadRequest { message: String, field: Option<String> },
    /// 401 for a missing or unknown API key (with `WWW-Authenticate: Bearer`).
    #[error("{0}")]
    Unauthorized(&'static str),
    /// 401 for a webhook whose signature, token or timestamp does not hold.
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    Forbidden(&'static str),
    /// 403: a change made with a session cookie without the session's CSRF token.
    #[error("a change made with a session cookie must carry the session's CSRF token in x-csrf-token (GET /v1/me gives it)")]
    Csrf,
    /// 429 with `Retry-After`: too many sign-in attempts.
    #[error("too many sign-in attempts; try again later")]
    Throttled { retry_after: std::time::Duration },
    #[error("{0}")]
    NotFound(&'static str),
    /// 410: it existed, and is no more (a share link past its expiry).
    #[error("{0}")]
    Gone(&'static str),
    /// 404 saying what was looked for, and the input that named it when there is one.
    #[error("{message}")]
    Missing { message: String, field: Option<String> },
    #[error("this path does not take that method")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// 409: a webhook's channel lacks the secret its platform signs with.
    #[error("{message}")]
    NotConfigured { message: String, field: String },
    /// 413: the body is over [`super::MAX_BODY_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// 422 for a CSV import: nothing imported, `rows` lists every bad row.
    #[error("{message}")]
    InvalidRows { message: String, field: String, rows: Vec<RowProblem> },
    /// The platform refused or failed an action taken on it (a reply): 502 or 503.
    #[error(transparent)]
    Platform(PublishError),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found"),
            StoreError::AlreadyExists => ApiError::Conflict("already exists".into()),
            StoreError::Conflict => ApiError::Conflict("changed concurrently; read it again and retry".into()),
            StoreError::InvalidCursor => ApiError::Invalid(ValidationError::new("cursor", "is not a cursor this API returned")),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

impl ApiError {
    /// The status and code this error is sent with.
    pub fn status(&self) -> (StatusCode, ErrorCode) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, ErrorCode::BadRequest),
            ApiError::Unauthorized(_) | ApiError::BadSignature(_) => (StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, ErrorCode::Forbidden),
            ApiError::Csrf => (StatusCode::FORBIDDEN, ErrorCode::Csrf),
            ApiError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, ErrorCode::Throttled),
            ApiError::NotFound(_) | ApiError::Missing { .. } => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed),
            ApiError::Gone(_) => (StatusCode::GONE, ErrorCode::Gone),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            ApiError::NotConfigured { .. } => (StatusCode::CONFLICT, ErrorCode::NotConfigured),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::TooLarge),
            ApiError::Invalid(_) | ApiError::InvalidRows { .. } => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::Invalid),
            ApiError::Platform(PublishError::Transient { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, ErrorCode::PlatformUnavailable)
            }
            ApiError::Platform(PublishError::Auth { .. }) => (StatusCode::BAD_GATEWAY, ErrorCode::PlatformAuth),
            ApiError::Platform(PublishError::Permanent { .. }) => (StatusCode::BAD_GATEWAY, ErrorCode::PlatformRefused),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        if let ApiError::Internal(e) = &self {
            tracing::error!(error = %e, "internal error");
        }
        let message = self.to_string();
        let bearer = matches!(self, ApiError::Unauthorized(_));
        let (field, rows, retry_after) = match self {
            ApiError::Invalid(v) => (Some(v.field), None, None),
            ApiError::Missing { field, .. } | ApiError::BadRequest { field, .. } => (field, None, None),
            ApiError::NotConfigured { field, .. } => (Some(field), None, None),
            ApiError::InvalidRows { field, rows, .. } => (Some(field), Some(rows), None),
            ApiError::Platform(PublishError::Transient { retry_after, .. }) => (None, None, retry_after),
            ApiError::Throttled { retry_after } => (None, None, Some(retry_after)),
            _ => (None, None, None),
        };
        let body = ApiErrorBody { error: ApiErrorDetail { code, message, field }, rows };
        let mut resp = (status, Json(body)).into_response();
        if bearer {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(after) = retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, retry_after_value(after));
        }
        resp
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Forbidden(why) => ApiError::Forbidden(why),
            ServiceError::NotFound { message, field } => ApiError::Missing { message, field },
            ServiceError::Conflict(message) => ApiError::Conflict(message),
            ServiceError::Invalid(v) => ApiError::Invalid(v),
            ServiceError::Store(e) => e.into(),
            ServiceError::Unavailable { reason, retry_after } => {
                ApiError::Platform(PublishError::Transient { reason, retry_after })
            }
        }
    }
}

/// A JSON request body, like `axum::Json`, except that every way it can be wrong is answered
/// in the API's error shape naming the field: invalid JSON (`body`), a wrong type
/// (`channel_ids[1]`), a missing or unknown field (with `deny_unknown_fields`), too large (413).
/// The Content-Type is not insisted on: `curl -d` sends form encoding by default.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge(format!("the request body is over {} bytes", super::MAX_BODY_BYTES))
            } else {
                ApiError::Invalid(ValidationError::new("body", "could not be read"))
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads a JSON body into `T`, with errors that name the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ValidationError::new("body", "is empty; send a JSON object").into());
    }
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ValidationError::new("body", format!("is not valid JSON: {e}")))?;
    if !json.is_object() {
        return Err(ValidationError::new("body", "must be a JSON object").into());
    }
    let value = serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let error = match inner.classify() {
            Category::Data => {
                let message = strip_position(&inner.to_string());
                let name = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split('`').next());
                let under = |name: &str| if path == "." { name.to_owned() } else { format!("{path}.{name}") };
                if let Some(name) = name("unknown field `") {
                    // The path already ends at the unknown key.
                    let field = if path == "." { name.to_owned() } else { path.clone() };
                    let expected = message.find("expected").map(|i| format!(" ({})", &message[i..])).unwrap_or_default();
                    ValidationError::new(field, format!("is not a field of this request{expected}"))
                } else if let Some(name) = name("missing field `") {
                    ValidationError::new(under(name), "is required")
                } else {
                    let field = if path == "." { "body".to_owned() } else { path };
                    ValidationError::new(field, message)
                }
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ValidationError::new("body", format!("is not valid JSON: {inner}"))
            }
        };
        ApiError::Invalid(error)
    })?;
    Ok(value)
}

/// "invalid type: string \"x\", expected u32 at line 1 column 9" → without the position.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The `Retry-After` header of every refusal that has one (API errors, the sign-in page).
pub fn retry_after_value(after: std::time::Duration) -> HeaderValue {
    HeaderValue::from(retry_after_secs(after))
}

/// `Retry-After` in whole seconds, rounded up (a client waiting the rounded-down figure would
/// come back too early), at least 1.
fn retry_after_secs(after: std::time::Duration) -> u64 {
    after.as_secs().saturating_add(u64::from(after.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod retry_after_tests {
    use super::retry_after_secs;
    use std::time::Duration;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_secs(Duration::from_millis(1500)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::MAX), u64::MAX);
    }
}
