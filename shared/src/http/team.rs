//! `/v1/team`: the team's name, time zone, language and logo (see [`crate::services::team`]).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::views;
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{AccentColor, Language, parse_time_zone};
use crate::services::team::{self as service, LogoUpload, TeamChanges};

/// `PATCH /v1/team`: a key left out is unchanged.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTeamBody {
    /// What reports call the team: `Café du coin`.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    name: Option<String>,
    /// The zone reports and schedules are read in; the next scheduled reports move with it.
    #[serde(default)]
    #[schema(schema_with = super::schemas::time_zone)]
    time_zone: Option<String>,
    /// What reports (and the web app) speak.
    #[serde(default)]
    #[schema(value_type = Option<Language>)]
    language: Option<String>,
    /// A PNG, JPEG or WebP of at most 256 KiB as a data URL (`data:image/png;base64,…`);
    /// `null` removes the logo.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, pattern = "^data:image/(png|jpeg|jpg|webp);base64,[A-Za-z0-9+/=\\\\s]+$", max_length = 350_000)]
    logo: Option<Option<String>>,
    /// The colour reports are drawn in, `#rrggbb`, dark enough to read on white (contrast at
    /// least 3:1); `null` goes back to Herald's blue.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, pattern = "^\\s*#[0-9a-fA-F]{6}\\s*$")]
    accent_color: Option<Option<String>>,
    /// `true`: reports carry no mention of Herald.
    #[serde(default)]
    white_label: Option<bool>,
}

#[utoipa::path(
    get,
    path = "/v1/team",
    tag = "team",
    operation_id = "get_team",
    summary = "The team's settings: name, time zone, language, logo",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the team", body = views::Team),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "the key's team no longer exists", body = super::error::ApiErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, caller: Caller) -> Result<Json<views::Team>, ApiError> {
    let team = service::get(&*state.store, &caller.actor()).await?;
    Ok(Json(views::Team::from(&team)))
}

#[utoipa::path(
    patch,
    path = "/v1/team",
    tag = "team",
    operation_id = "update_team",
    summary = "Change the team's name, time zone, language, logo, accent colour or white label (admin)",
    request_body = PatchTeamBody,
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the team as changed", body = views::Team),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "the key's team no longer exists", body = super::error::ApiErrorBody),
        (status = 409, description = "the team changed meanwhile; read it again", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PatchTeamBody>,
) -> Result<Json<views::Team>, ApiError> {
    let changes = TeamChanges {
        name: body.name,
        time_zone: body.time_zone.as_deref().map(|z| parse_time_zone("time_zone", z)).transpose()?,
        language: body.language.as_deref().map(|l| Language::parse("language", l)).transpose()?,
        logo: match body.logo {
            None => None,
            Some(None) => Some(None),
            Some(Some(url)) => Some(Some(LogoUpload::from_data_url("logo", &url)?)),
        },
        accent_color: match body.accent_color {
            None => None,
            Some(None) => Some(None),
            Some(Some(c)) => Some(Some(AccentColor::parse("accent_color", &c)?)),
        },
        white_label: body.white_label,
    };
    let team = service::update(&*state.store, &*state.report_files, &caller.actor(), changes).await?;
    Ok(Json(views::Team::from(&team)))
}

#[utoipa::path(
    get,
    path = "/v1/team/logo",
    tag = "team",
    operation_id = "get_team_logo",
    summary = "The team's logo image",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the image", content(
            (Vec<u8> = "image/png"),
            (Vec<u8> = "image/jpeg"),
            (Vec<u8> = "image/webp"),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "the team has no logo", body = super::error::ApiErrorBody),
    ),
)]
pub async fn logo(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let (bytes, content_type) = service::logo(&*state.store, &*state.report_files, &caller.actor()).await?;
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
    ];
    Ok((StatusCode::OK, headers, bytes).into_response())
}
