//! Share links of a report (`/v1/reports/{id}/shares`) and the page they open
//! (`GET /share/{token}`, no key: the signed token is the permission). See
//! [`crate::services::reports::share`].

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, AppState, Caller, parse_json};
use crate::domain::ReportId;
use crate::services::reports::share::{self as service, Share, ShareRefused};

/// `POST /v1/reports/{id}/shares`; an empty body is `{}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateShareBody {
    /// How long the link works: 1 to 90 days; 30 when absent.
    #[serde(default, deserialize_with = "whole_days")]
    #[schema(minimum = 1, maximum = 90, default = 30, value_type = Option<u64>)]
    expires_in_days: Option<u64>,
}

/// A whole number of days, or `null` (the default).
fn whole_days<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => super::whole_number(v).map(Some).map_err(serde::de::Error::custom),
    }
}

/// A share link.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareView {
    #[schema(value_type = uuid::Uuid)]
    pub id: uuid::Uuid,
    /// Opens the report's HTML without a key until `expires_at`, unless revoked.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    /// Set once revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// The API key id that made it, or `report e-mail` for the link a scheduled report's mail carries.
    pub created_by: String,
}

/// A report's share links, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareList {
    pub items: Vec<ShareView>,
}

/// Herald's public address: `HERALD_PUBLIC_URL` (or the one learned behind API Gateway), else
/// the address this request was made to.
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = state.connect.public_url() {
        return url.to_owned();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    format!("http://{host}")
}

fn view(share: &Share, base: &str, state: &AppState) -> ShareView {
    ShareView {
        id: share.id,
        url: share.url(base, &state.cipher),
        expires_at: share.expires_at,
        created_at: share.created_at,
        revoked_at: share.revoked_at,
        created_by: share.created_by.clone(),
    }
}

fn report_id(s: &str) -> Result<ReportId, ApiError> {
    ReportId::parse("id", s).map_err(|_| ApiError::Missing { message: format!("no report `{s}` in your team"), field: None })
}

#[utoipa::path(
    post,
    path = "/v1/reports/{id}/shares",
    tag = "reports",
    operation_id = "create_report_share",
    summary = "A link to the report's HTML that works without a key, until it expires or is revoked",
    params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)")),
    request_body(content = Option<CreateShareBody>, description = "optional: no body, `{}` or `null` days give a 30-day link"),
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the link", body = ShareView, links(
            ("revoke_report_share" = (operation_id = "revoke_report_share", parameters(("share" = "$response.body#/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "viewers and contributors cannot share", body = super::error::ApiErrorBody),
        (status = 404, description = "no such report in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "50 links of this report stand already: revoke one", body = super::error::ApiErrorBody),
        (status = 422, description = "a bad `expires_in_days`", body = super::error::ApiErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ShareView>), ApiError> {
    // No body, and a JSON `null`, are the defaults (the body is optional).
    let body: CreateShareBody = match body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null" {
        true => CreateShareBody::default(),
        false => parse_json(&body)?,
    };
    let report = report_id(&id)?;
    let share = service::share(&*state.store, &caller.actor(), report, body.expires_in_days, state.clock.now()).await?;
    Ok((StatusCode::CREATED, Json(view(&share, &base_url(&state, &headers), &state))))
}

#[utoipa::path(
    get,
    path = "/v1/reports/{id}/shares",
    tag = "reports",
    operation_id = "list_report_shares",
    summary = "The report's share links, revoked and expired ones included, newest first",
    params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the links", body = ShareList),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such report in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<ShareList>, ApiError> {
    let shares = service::shares(&*state.store, &caller.actor(), report_id(&id)?).await?;
    let base = base_url(&state, &headers);
    Ok(Json(ShareList { items: shares.iter().map(|s| view(s, &base, &state)).collect() }))
}

#[utoipa::path(
    delete,
    path = "/v1/reports/{id}/shares/{share}",
    tag = "reports",
    operation_id = "revoke_report_share",
    summary = "Revoke a share link: it opens nothing from now on",
    params(
        ("id" = uuid::Uuid, Path, description = "the report id (a UUID)"),
        ("share" = uuid::Uuid, Path, description = "the share link's id"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 204, description = "revoked (revoking again changes nothing)"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "viewers and contributors cannot revoke", body = super::error::ApiErrorBody),
        (status = 404, description = "no such report in your team, or no such link of it", body = super::error::ApiErrorBody),
    ),
)]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, share)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let report = report_id(&id)?;
    let share = uuid::Uuid::try_parse(&share)
        .map_err(|_| ApiError::Missing { message: format!("no share link `{share}` of this report"), field: Some("share".into()) })?;
    service::revoke(&*state.store, &caller.actor(), report, share, state.clock.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/share/{token}",
    tag = "reports",
    operation_id = "open_report_share",
    summary = "A shared report's HTML; the token in the URL is the permission",
    params(("token" = String, Path, description = "the token of a share link")),
    responses(
        (status = 200, description = "the report's page", body = String, content_type = "text/html"),
        (status = 404, description = "a wrong, unknown or revoked link (which, is not said)", body = super::error::ApiErrorBody),
        (status = 410, description = "a link past its expiry", body = super::error::ApiErrorBody),
    ),
)]
pub async fn open(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let result = service::open(&*state.store, &*state.report_files, &state.cipher, &token, state.clock.now()).await;
    let mut response = match result {
        Ok(html) => {
            let mut ok = (StatusCode::OK, html).into_response();
            ok.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            // The report's own policy: its inline styles and data: images, nothing else.
            ok.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(crate::web::reports::REPORT_CSP));
            ok
        }
        Err(ShareRefused::NotFound) => ApiError::NotFound("no such link: it may be mistyped or revoked").into_response(),
        Err(ShareRefused::Expired) => ApiError::Gone("this link has expired: ask whoever sent it for a new one").into_response(),
        Err(ShareRefused::Failed(e)) => ApiError::from(e).into_response(),
    };
    // A private page whatever the answer: not kept, not indexed, its address not passed on.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
