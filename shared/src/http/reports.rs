//! `/v1/reports`: generate a report on demand, list and fetch them (record and files), the
//! team's report schedule (`/v1/reports/schedule`), and
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

use super::listing::PageParams;
use super::views::{self, Page};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{
    ChannelId, Language, MONTHLY_REPORT_LAST_DAY, MonthlyReport, ReportFormat, ReportId, ValidationError, WeeklyReport,
    parse_weekday,
};
use crate::services::reports as service;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReportBody {
    /// First day, `2027-01-04`, in the team's time zone.
    #[schema(schema_with = super::schemas::date)]
    from: String,
    /// Last day, inclusive; at most 366 days after `from`.
    #[schema(schema_with = super::schemas::date)]
    to: String,
    /// The language to write it in; the team's when left out.
    #[serde(default)]
    #[schema(value_type = Option<Language>)]
    language: Option<String>,
}

fn day(field: &str, s: &str) -> Result<NaiveDate, ValidationError> {
    crate::domain::parse_date(field, s)
}

/// A path id that is not even a UUID names no report: 404, like any unknown id.
fn report_id(s: &str) -> Result<ReportId, ApiError> {
    ReportId::parse("id", s).map_err(|_| ApiError::Missing { message: format!("no report `{s}` in your team"), field: None })
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
        (status = 201, description = "the report record with links to report.html, report.csv, report.json and report.pdf, and `summary` (the overall figures)", body = views::NewReport, links(
            ("get_report" = (operation_id = "get_report", parameters(("id" = "$response.body#/id")))),
            ("get_report_file" = (operation_id = "get_report_file", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "viewers cannot generate reports", body = super::error::ApiErrorBody),
        (status = 422, description = "invalid dates; `field` names it", body = super::error::ApiErrorBody),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateReportBody>,
) -> Result<(StatusCode, Json<views::NewReport>), ApiError> {
    let (from, to) = (day("from", &body.from)?, day("to", &body.to)?);
    let language = body.language.as_deref().map(|l| Language::parse("language", l)).transpose()?;
    let (report, data) = service::generate_on_demand(
        &*state.store,
        &*state.report_files,
        &*state.events,
        &caller.actor(),
        service::Asked { from, to, language },
        state.clock.now(),
    )
    .await?;
    let shown = views::Report::from(&report);
    Ok((StatusCode::CREATED, Json(views::NewReport { report: shown, summary: views::ReportSummary::from(&data) })))
}

#[utoipa::path(
    get,
    path = "/v1/reports",
    tag = "reports",
    operation_id = "list_reports",
    summary = "The team's reports, newest first",
    params(
        PageParams,
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of reports", body = Page<views::Report>),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, description = "a bad `limit` or `cursor`", body = super::error::ApiErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Report>>, ApiError> {
    let params: PageParams = super::listing::read(query)?;
    let page = params.page()?;
    let listing = service::list(&*state.store, &caller.actor(), &page).await?;
    Ok(Json(Page::of(&listing)))
}

#[utoipa::path(
    get,
    path = "/v1/reports/{id}",
    tag = "reports",
    operation_id = "get_report",
    summary = "One report's record and the links to its files",
    params(("id" = uuid::Uuid, Path, description = "the report id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the report record", body = views::Report),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such report in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Report>, ApiError> {
    let report = service::get(&*state.store, &caller.actor(), report_id(&id)?).await?;
    Ok(Json(views::Report::from(&report)))
}

#[utoipa::path(
    get,
    path = "/v1/reports/{id}/{file}",
    tag = "reports",
    operation_id = "get_report_file",
    summary = "A report's file: report.html (self-contained page with SVG charts), report.csv (per-post table), report.json (everything) or report.pdf (A4)",
    params(
        ("id" = uuid::Uuid, Path, description = "the report id (a UUID)"),
        ("file" = String, Path, pattern = "^report\\.(html|csv|json|pdf)$", description = "`report.html`, `report.csv`, `report.json` or `report.pdf`"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the file: the page, the per-post table, everything, or the A4 PDF", content(
            (String = "text/html"),
            (String = "text/csv"),
            (views::ReportDocument = "application/json"),
            (Vec<u8> = "application/pdf"),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such report in your team, or no such file", body = super::error::ApiErrorBody),
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
    params(("id" = uuid::Uuid, Path, description = "the channel id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "suggested slots: apply them with `PATCH /v1/channels/{id}` `queue_slots`", body = views::SlotSuggestions),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such channel in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn suggest_slots(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::SlotSuggestions>, ApiError> {
    let channel = ChannelId::parse("id", &id)
        .map_err(|_| ApiError::Missing { message: format!("no channel `{id}` in your team"), field: None })?;
    let best = service::suggest_slots(&*state.store, &caller.actor(), channel, state.clock.now()).await?;
    Ok(Json(views::SlotSuggestions::from(&best)))
}

/// `PATCH /v1/reports/schedule`: a key left out keeps its schedule, `null` switches it off.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleBody {
    /// The seven days before `day`, made on `day` from `hour`; `null` switches it off, absent
    /// leaves it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<WeeklyBody>)]
    weekly: Option<Option<WeeklyBody>>,
    /// The previous calendar month, made on that day of the month from `hour`; `null` switches it
    /// off, absent leaves it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<MonthlyBody>)]
    monthly: Option<Option<MonthlyBody>>,
    /// The e-mail addresses each scheduled report is sent to (at most 20; `[]` or `null`: none);
    /// absent leaves them.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = super::schemas::recipients)]
    recipients: Option<Option<Vec<String>>>,
}

/// `{"day": "mon"…"sun", "hour": 0–23}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyBody {
    #[schema(schema_with = super::schemas::weekday)]
    day: String,
    #[serde(deserialize_with = "super::whole_number")]
    #[schema(maximum = 23)]
    hour: u64,
}

/// `{"day": 1–28, "hour": 0–23}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MonthlyBody {
    #[serde(deserialize_with = "super::whole_number")]
    #[schema(minimum = 1, maximum = 28)]
    day: u64,
    #[serde(deserialize_with = "super::whole_number")]
    #[schema(maximum = 23)]
    hour: u64,
}

/// An hour of `field`: 0 to 23.
fn hour(field: &str, h: u64) -> Result<u8, ValidationError> {
    u8::try_from(h).ok().filter(|h| *h <= 23).ok_or_else(|| ValidationError::new(field, "must be an hour from 0 to 23"))
}

fn weekly(body: &Option<WeeklyBody>) -> Result<Option<WeeklyReport>, ValidationError> {
    let Some(w) = body else { return Ok(None) };
    let day = parse_weekday("weekly.day", &w.day)?;
    Ok(Some(WeeklyReport::new("weekly", day, hour("weekly.hour", w.hour)?)?))
}

fn monthly(body: &Option<MonthlyBody>) -> Result<Option<MonthlyReport>, ValidationError> {
    let Some(m) = body else { return Ok(None) };
    let day = u8::try_from(m.day)
        .map_err(|_| ValidationError::new("monthly.day", format!("must be a day of the month from 1 to {MONTHLY_REPORT_LAST_DAY}")))?;
    Ok(Some(MonthlyReport::new("monthly", day, hour("monthly.hour", m.hour)?)?))
}

#[utoipa::path(
    get,
    path = "/v1/reports/schedule",
    tag = "reports",
    operation_id = "get_report_schedule",
    summary = "When the team's weekly and monthly reports are made, in its time zone, and the next runs",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the schedule and its next runs", body = views::ReportSchedule),
        (status = 401, response = super::error::Unauthorized),
    ),
)]
pub async fn schedule(State(state): State<AppState>, caller: Caller) -> Result<Json<views::ReportSchedule>, ApiError> {
    let (schedule, zone) = service::report_schedule(&*state.store, &caller.actor()).await?;
    Ok(Json(views::ReportSchedule::new(&schedule, zone, state.clock.now())))
}

#[utoipa::path(
    patch,
    path = "/v1/reports/schedule",
    tag = "reports",
    operation_id = "set_report_schedule",
    summary = "Choose the day and hour of the weekly and monthly reports (a key left out is unchanged; null switches it off)",
    request_body = ScheduleBody,
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the schedule, as `GET /v1/reports/schedule` shows it", body = views::ReportSchedule),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "viewers and contributors cannot change the schedule", body = super::error::ApiErrorBody),
        (status = 422, description = "a bad day or hour; `field` names it (`weekly.day`, `monthly.hour`, `recipients[1]`…)", body = super::error::ApiErrorBody),
    ),
)]
pub async fn set_schedule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ScheduleBody>,
) -> Result<Json<views::ReportSchedule>, ApiError> {
    let change = service::ScheduleChange {
        weekly: body.weekly.as_ref().map(weekly).transpose()?,
        monthly: body.monthly.as_ref().map(monthly).transpose()?,
        recipients: body
            .recipients
            .map(|r| crate::domain::parse_recipients("recipients", &r.unwrap_or_default()))
            .transpose()?,
    };
    let (schedule, zone) = service::change_report_schedule(&*state.store, &caller.actor(), change).await?;
    Ok(Json(views::ReportSchedule::new(&schedule, zone, state.clock.now())))
}
