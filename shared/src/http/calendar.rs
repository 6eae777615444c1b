//! The calendar feed: `POST /v1/calendar/token` (admin) makes its URL, `GET
//! /v1/calendar.ics?token=…` serves it to calendar apps (see [`crate::services::calendar`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use super::views;
use super::{ApiError, AppState, Caller};
use crate::services::calendar::{self as service, feed_path};

/// Creates or rotates the team's feed token: 201 `{"url":"/v1/calendar.ics?token=…"}`. The
/// previous URL stops working at once. The token is shown this once.
#[utoipa::path(
    post,
    path = "/v1/calendar/token",
    tag = "calendar",
    operation_id = "rotate_calendar_token",
    summary = "Create or rotate the team's calendar feed token (admin)",
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the feed's address, shown once", body = views::CalendarFeed),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
    ),
)]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<(StatusCode, Json<views::CalendarFeed>), ApiError> {
    let token = service::rotate_token(&*state.store, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(views::CalendarFeed { url: feed_path(token.reveal()) })))
}

/// The feed, `text/calendar`. No API key: the token in the URL is the credential, and any
/// token that is not a team's current one is 404. Query errors are 404 too (nothing to reveal).
#[utoipa::path(
    get,
    path = "/v1/calendar.ics",
    tag = "calendar",
    operation_id = "calendar_feed",
    summary = "The team's iCalendar feed; the token in the URL is the credential",
    params(("token" = String, Query, description = "the team's current calendar token")),
    responses(
        (status = 200, description = "the feed", body = String, content_type = "text/calendar"),
        (status = 404, description = "a wrong, old or missing token", body = super::error::ApiErrorBody),
    ),
)]
pub async fn feed(
    State(state): State<AppState>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let token = query.as_ref().ok().and_then(|Query(q)| q.get("token")).map(String::as_str);
    let ics = service::feed(&*state.store, &*state.clock, token).await?;
    let headers = [
        (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
        (header::CACHE_CONTROL, "private, max-age=300"),
        (header::CONTENT_DISPOSITION, "inline; filename=\"herald.ics\""),
    ];
    Ok((StatusCode::OK, headers, ics).into_response())
}
