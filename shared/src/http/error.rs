//! Errors as the API says them: a status and `{"error":{"code","message","field"?}}`.
//! Internal details are logged with the request's span, never sent.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use serde_json::json;

use crate::domain::ValidationError;
use crate::services::ServiceError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(&'static str),
    /// 404 saying what was looked for, and the input that named it when there is one.
    #[error("{message}")]
    Missing { message: String, field: Option<String> },
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over [`super::MAX_BODY_BYTES`].
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) | ApiError::Missing { .. } => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let body = match &self {
            ApiError::Invalid(v) => json!({"error": {"code": code, "message": v.to_string(), "field": v.field}}),
            ApiError::Missing { message, field: Some(field) } => {
                json!({"error": {"code": code, "message": message, "field": field}})
            }
            other => json!({"error": {"code": code, "message": other.to_string()}}),
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
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
