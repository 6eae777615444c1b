//! `/v1/media`: uploading a picture or a video for posts. Ask for an address (`POST`), send
//! the file there (`PUT`, no key: the address is the permission), then name the answer's
//! `reference` in a post's `media[].url`. On AWS the address is the media bucket's (presigned);
//! with `herald serve` it is `PUT /v1/media/upload/…` below, signed the same way.

use axum::Json;
use axum::body::Body;
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::{ApiError, ApiJson, AppState, Caller};
use crate::services::media::{self as service, UploadSignature, UploadTicket};

/// `{"content_type","bytes"}`. Documented as one of two shapes (a picture type with its size
/// bound, a video type with its own: [`super::schemas::upload_request`]); read as any string,
/// so another type is a 422 naming `content_type` rather than a parse error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartUploadBody {
    /// The file's type.
    content_type: String,
    /// The file's size in bytes.
    #[serde(deserialize_with = "super::whole_number")]
    bytes: u64,
}

impl utoipa::PartialSchema for StartUploadBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::schemas::upload_request().into()
    }
}

impl utoipa::ToSchema for StartUploadBody {}

/// What an upload through Herald answers.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// What a post's `media[].url` carries.
    reference: String,
    bytes: u64,
}

#[utoipa::path(
    post,
    path = "/v1/media",
    tag = "posts",
    operation_id = "start_upload",
    summary = "An address to upload a picture or a video to, for a post (contributor)",
    description = "Send the file's bytes to `url` with `method` and `headers`, without an API key, within the hour; then use `reference` as a post's `media[].url`. When the post is saved Herald checks that the file arrived, is the team's, is the type announced, and suits each channel's network.",
    request_body = StartUploadBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "where to send the file, and the reference a post names it by", body = UploadTicket),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
        (status = 503, description = "uploads are not set up where Herald runs", body = super::ApiErrorBody),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    uri: axum::http::Uri,
    ApiJson(body): ApiJson<StartUploadBody>,
) -> Result<(StatusCode, Json<UploadTicket>), ApiError> {
    let ticket = service::start_upload(
        &*state.media,
        &state.cipher,
        &caller.actor(),
        state.clock.now(),
        &body.content_type,
        body.bytes,
        &origin(&headers, &uri),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ticket)))
}

/// This server's origin as the caller reached it, for the addresses of uploads through Herald
/// (`herald serve`); empty (a relative address) when the `Host` header is not a plain host.
fn origin(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let host = headers.get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let plain = !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !plain {
        return String::new();
    }
    format!("{}://{host}", if super::over_https(headers, uri) { "https" } else { "http" })
}

#[utoipa::path(
    put,
    path = "/v1/media/upload/{team}/{file}",
    tag = "posts",
    operation_id = "upload_media",
    summary = "Receive an uploaded file at an address POST /v1/media gave (herald serve); no key",
    params(
        ("team" = String, Path, description = "the team the address was made for"),
        ("file" = String, Path, description = "`<id>.<ext>`, as in the address"),
        ("bytes" = u64, Query, description = "the size announced"),
        ("expires" = i64, Query, description = "when the address stops working (Unix seconds)"),
        ("signature" = String, Query, description = "Herald's signature of the address"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file's bytes"),
    responses(
        (status = 200, description = "the file is kept", body = Uploaded),
        (status = 403, response = super::error::Forbidden),
        (status = 422, response = super::error::Invalid),
        (status = 503, description = "this host keeps uploads elsewhere (presigned addresses)", body = super::ApiErrorBody),
    ),
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((team, file)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    body: Body,
) -> Result<Json<Uploaded>, ApiError> {
    // A missing or malformed part signs nothing: the service then refuses the address (403).
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let signed = UploadSignature {
        bytes: query.get("bytes").and_then(|v| v.parse().ok()).unwrap_or(0),
        expires: query.get("expires").and_then(|v| v.parse().ok()).unwrap_or(0),
        signature: query.get("signature").cloned().unwrap_or_default(),
    };
    let stream = body.into_data_stream().map_err(std::io::Error::other).boxed();
    let path = format!("{team}/{file}");
    let reference = service::receive_upload(&*state.media, &state.cipher, state.clock.now(), &path, &signed, stream).await?;
    Ok(Json(Uploaded { reference, bytes: signed.bytes }))
}

#[utoipa::path(
    get,
    path = "/v1/media/files/{team}/{file}",
    tag = "posts",
    operation_id = "linked_media",
    summary = "An uploaded file at a signed link (herald serve with HERALD_PUBLIC_URL), for networks that fetch media; no key",
    params(
        ("team" = String, Path, description = "the file's team"),
        ("file" = String, Path, description = "`<id>.<ext>`"),
        ("expires" = i64, Query, description = "when the link stops working (Unix seconds)"),
        ("signature" = String, Query, description = "Herald's signature of the link"),
    ),
    responses(
        (status = 200, description = "the file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "no such file, or the link is wrong or expired", body = super::ApiErrorBody),
    ),
)]
pub async fn linked(
    State(state): State<AppState>,
    Path((team, file)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let expires = query.get("expires").and_then(|v| v.parse().ok()).unwrap_or(0);
    let signature = query.get("signature").map(String::as_str).unwrap_or("");
    let path = format!("{team}/{file}");
    let (key, opened) =
        service::open_linked(&*state.media, &state.cipher, state.clock.now(), &path, expires, signature).await?;
    let headers = [
        (axum::http::header::CONTENT_TYPE, key.media_type.mime.to_owned()),
        (axum::http::header::CONTENT_LENGTH, opened.bytes.to_string()),
        (axum::http::header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
    ];
    let body = Body::from_stream(opened.body.map_err(std::io::Error::other));
    Ok((StatusCode::OK, headers, body).into_response())
}
