//! `/v1/reports`: generate a report on demand, list and fetch them (record and files), and
//! `POST /v1/channels/{id}/slots/suggest` (best posting times as queue-slot suggestions).
//! See [`crate::services::reports`] and docs/reports.md.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{ChannelId, Report, ReportFormat, ReportId, Role, ValidationError};
use crate::services::reports as service;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReportBody {
    /// First day, `2027-01-04`, in the team's time zone.
    from: String,
    /// Last day, inclusive.
    to: String,
}

fn day(field: &str, s: &str) -> Result<NaiveDate, ValidationError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| ValidationError::new(field, format!("`{s}` is not a date like 2027-01-04")))
}

fn report_id(s: &str) -> Result<ReportId, ValidationError> {
    ReportId::parse("id", s)
}

/// A report record as the API shows it: file keys become links.
pub fn report_json(r: &Report) -> Value {
    let files: serde_json::Map<String, Value> = r
        .files
        .keys()
        .map(|f| {
            let name = match f {
                ReportFormat::Html => "html",
                ReportFormat::Csv => "csv",
                ReportFormat::Json => "json",
            };
            (name.to_owned(), json!(format!("/v1/reports/{}/{}", r.id, f.file_name())))
        })
        .collect();
    json!({
        "id": r.id, "team_id": r.team_id, "from": r.period_start, "to": r.period_end,
        "created_at": r.created_at, "files": files,
    })
}

#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    operation_id = "create_report",
    summary = "Generate a report now for [from, to] (days in the team's zone, inclusive)",
    request_body = CreateReportBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the report record with links to report.html, report.csv and report.json, and `summary` (the overall figures)", body = serde_json::Value),
        (status = 401, description = "no, unknown or revoked API key", body = crate::http::openapi::ApiErrorBody),
        (status = 403, description = "viewers cannot generate reports", body = crate::http::openapi::ApiErrorBody),
        (status = 422, description = "invalid dates; `field` names it", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateReportBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let actor = caller.actor();
    actor.require(Role::Contributor, "viewers can read reports but not generate them")?;
    let (from, to) = (day("from", &body.from)?, day("to", &body.to)?);
    let (report, data) =
        service::generate(&*state.store, &*state.report_files, &actor, from, to, state.clock.now()).await?;
    let mut out = report_json(&report);
    // `Report Ready`, with the links the API serves the files at.
    let ready = crate::events::Event::new(
        crate::events::EventKind::ReportReady,
        &report.team_id,
        state.clock.now(),
        json!({"report_id": report.id, "from": body.from, "to": body.to, "files": out["files"].clone()}),
    );
    if let Err(e) = state.events.emit(&ready).await {
        tracing::error!(error = %e, "Report Ready not delivered");
    }
    out["summary"] = json!({
        "overall": data.overall, "inbox": data.inbox.current, "incidents": data.incidents.len(),
        "items_read": data.items_read,
    });
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(
    get,
    path = "/v1/reports",
    tag = "reports",
    operation_id = "list_reports",
    summary = "The team's reports, newest first",
    params(
        ("limit" = Option<u32>, Query, description = "page size"),
        ("cursor" = Option<String>, Query, description = "`next` of the previous page"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "`{\"items\":[…],\"next\":…}`", body = serde_json::Value),
        (status = 401, description = "no, unknown or revoked API key", body = crate::http::openapi::ApiErrorBody),
        (status = 422, description = "a bad `limit` or `cursor`", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = super::listing::params(query, &["limit", "cursor"])?;
    let page = super::listing::page(&params)?;
    let listing = service::list(&*state.store, &caller.actor(), &page).await?;
    Ok(Json(json!({"items": listing.items.iter().map(report_json).collect::<Vec<_>>(), "next": listing.next})))
}

#[utoipa::path(
    get,
    path = "/v1/reports/{id}",
    tag = "reports",
    operation_id = "get_report",
    summary = "One report's record and the links to its files",
    params(("id" = String, Path, description = "the report id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the report record", body = serde_json::Value),
        (status = 401, description = "no, unknown or revoked API key", body = crate::http::openapi::ApiErrorBody),
        (status = 404, description = "no such report in your team", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let report = service::get(&*state.store, &caller.actor(), report_id(&id)?).await?;
    Ok(Json(report_json(&report)))
}

#[utoipa::path(
    get,
    path = "/v1/reports/{id}/{file}",
    tag = "reports",
    operation_id = "get_report_file",
    summary = "A report's file: report.html (self-contained page with SVG charts), report.csv (per-post table) or report.json (everything)",
    params(
        ("id" = String, Path, description = "the report id (a UUID)"),
        ("file" = String, Path, description = "`report.html`, `report.csv` or `report.json`"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the file, `text/html`, `text/csv` or `application/json`", body = String),
        (status = 401, description = "no, unknown or revoked API key", body = crate::http::openapi::ApiErrorBody),
        (status = 404, description = "no such report in your team, or no such file", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = report_id(&id)?;
    let format = ReportFormat::from_file_name(&file).ok_or(ApiError::NotFound("no such report file"))?;
    let bytes = service::file(&*state.store, &*state.report_files, &caller.actor(), id, format).await?;
    let disposition = format!("inline; filename=\"{}\"", format.file_name());
    let headers = [
        (header::CONTENT_TYPE, format.content_type().to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
    ];
    Ok((StatusCode::OK, headers, bytes).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/channels/{id}/slots/suggest",
    tag = "reports",
    operation_id = "suggest_slots",
    summary = "Best posting times of a channel from its last 8 weeks, as queue-slot suggestions",
    params(("id" = String, Path, description = "the channel id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "`{\"suggested\":[{\"weekday\",\"time\"}],\"time_zone\",\"sample\",\"cells\",\"note\"}`: apply them with `PATCH /v1/channels/{id}` `queue_slots`", body = serde_json::Value),
        (status = 401, description = "no, unknown or revoked API key", body = crate::http::openapi::ApiErrorBody),
        (status = 404, description = "no such channel in your team", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn suggest_slots(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let channel = ChannelId::parse("id", &id)?;
    let best = service::suggest_slots(&*state.store, &caller.actor(), channel, state.clock.now()).await?;
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let suggested: Vec<Value> = best
        .recommended
        .iter()
        .map(|c| json!({"weekday": DAYS[c.weekday as usize % 7], "time": format!("{:02}:00", c.hour), "posts": c.posts, "mean_engagements": c.mean_engagements}))
        .collect();
    Ok(Json(json!({
        "suggested": suggested, "time_zone": best.time_zone, "sample": best.sample, "cells": best.cells, "note": best.note,
    })))
}
