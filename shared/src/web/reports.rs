//! The Reports screen (`/reports`): the team's reports (newest first, each opening its HTML
//! file), a form to make one for chosen dates, and the schedule of the weekly and monthly
//! reports. Everything comes from `services::reports`, as `GET/POST /v1/reports` and
//! `GET/PATCH /v1/reports/schedule` do.
//!
//! A report's HTML file (`/reports/{id}`) is the very file the API serves at
//! `/v1/reports/{id}/report.html`: a self-contained document with a `<style>` element and a few
//! `style=""` attributes (the legend's colours). The web app's policy (`style-src 'self'`) would
//! strip its styles, so it is served as a document of its own with [`REPORT_CSP`]: inline styles
//! allowed, no script at all, nothing from anywhere, never framed.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{PageForm, csrf_field};
use super::page::{Refusal, Screen, problem, refusal, respond, see_other, shell_signed_in, status_line};
use crate::domain::{Language, MonthlyReport, ReportFormat, ReportId, ReportSchedule, WeeklyReport, parse_date, parse_weekday};
use crate::http::{ApiError, AppState, Caller};
use crate::services::reports::{self as service, MAX_PERIOD_DAYS, ScheduleChange, schedule::upcoming};
use crate::store::PageRequest;

/// The policy of a report's own HTML document: its inline styles and `data:` images, nothing
/// else (no script, no fetch, no form, no frame, no `<base>`).
pub const REPORT_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Reports per page of the list.
const PER_PAGE: u32 = 50;

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/reports", get(page).post(make))
        .route("/reports/schedule", post(set_schedule))
        .route("/reports/{id}", get(document))
        .route("/reports/{id}/{file}", get(file))
}

/// `?cursor=` (the next page), `?done=` (what the last change did), `?made=` (the report just made).
#[derive(Debug, Default, Deserialize)]
pub struct ReportsQuery {
    cursor: Option<String>,
    done: Option<String>,
    made: Option<String>,
}

/// What the "make a report" form sends.
#[derive(Debug, Default, Deserialize)]
pub struct MakeForm {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    /// `en`, `fr`, or empty for the team's language.
    #[serde(default)]
    language: String,
}

/// What the schedule form sends: a checkbox per report (absent: switched off), its day and hour.
#[derive(Debug, Default, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    weekly: Option<String>,
    #[serde(default)]
    weekly_day: String,
    #[serde(default)]
    weekly_hour: u8,
    #[serde(default)]
    monthly: Option<String>,
    #[serde(default)]
    monthly_day: u8,
    #[serde(default)]
    monthly_hour: u8,
}

/// The forms as they show: what was typed and the refusal, for the one that was refused.
#[derive(Default)]
struct Forms {
    make: Option<(MakeForm, Refusal)>,
    schedule: Option<(ScheduleForm, Refusal)>,
}

async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ReportsQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let status = match (query.made.as_deref().and_then(|m| ReportId::parse("made", m).ok()), query.done.as_deref()) {
        (Some(id), _) => Some(html! { "The report is ready: " a href=(format!("/reports/{id}")) { "open it" } "." }),
        (None, Some("schedule")) => Some(html! { "The schedule is saved." }),
        _ => None,
    };
    render(&state, &caller, query.cursor, status, Forms::default(), StatusCode::OK).await
}

/// The whole screen at `status`.
async fn render(
    state: &AppState,
    caller: &Caller,
    cursor: Option<String>,
    done: Option<Markup>,
    forms: Forms,
    status: StatusCode,
) -> Result<Response, WebError> {
    let actor = caller.actor();
    let team = actor.team(&*state.store).await?;
    let tz = team.time_zone;
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let page = PageRequest { limit: PER_PAGE, cursor: cursor.filter(|c| !c.is_empty()) };
    let listing = service::list(&*state.store, &actor, &page).await?;
    let (schedule, _) = service::report_schedule(&*state.store, &actor).await?;

    let default_make = MakeForm {
        from: (today - Duration::days(7)).format("%Y-%m-%d").to_string(),
        to: (today - Duration::days(1)).format("%Y-%m-%d").to_string(),
        language: String::new(),
    };
    let (make, make_refusal) = match &forms.make {
        Some((f, r)) => (f, Some(r)),
        None => (&default_make, None),
    };
    let shown_schedule = schedule_form_of(&schedule);
    let (sched, sched_refusal) = match &forms.schedule {
        Some((f, r)) => (f, Some(r)),
        None => (&shown_schedule, None),
    };

    let main = html! {
        h1 { "Reports" }
        p.zone { "Days and hours on the team's clock: " (tz.name()) "." }
        (status_line(done))
        div.admin {
            section.panel.wide aria-labelledby="list-h" {
                h2 #list-h { "The team's reports" }
                @if listing.items.is_empty() {
                    p.nothing { "No reports yet. Make one below, or wait for the next scheduled one." }
                } @else {
                    div.table-wrap {
                        table.listing {
                            thead { tr { th scope="col" { "Period" } th scope="col" { "Made" } th scope="col" { "Files" } } }
                            tbody {
                                @for r in &listing.items {
                                    tr {
                                        th scope="row" {
                                            a href=(format!("/reports/{}", r.id)) {
                                                (period_label(r.period_start, r.period_end))
                                            }
                                        }
                                        td data-label="Made" { (when(r.created_at, tz)) }
                                        td data-label="Files" {
                                            ul.inline {
                                                @for f in ReportFormat::ALL {
                                                    @if r.files.contains_key(&f) {
                                                        li { a href=(format!("/reports/{}/{}", r.id, f.file_name())) { (f.file_name()) } }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &listing.next {
                    p { a rel="next" href=(format!("/reports?cursor={}", form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>())) { "Older reports →" } }
                }
            }
            section.panel aria-labelledby="make-h" {
                h2 #make-h { "Make a report for these dates" }
                (problem(make_refusal))
                form.stack method="post" action="/reports" {
                    (csrf_field(caller))
                    label for="from" { "First day" }
                    input #from type="date" name="from" value=(make.from) required;
                    label for="to" { "Last day" }
                    input #to type="date" name="to" value=(make.to) required;
                    p.hint { "Both days included, on the team's clock; at most " (MAX_PERIOD_DAYS) " days." }
                    label for="report-language" { "Language" }
                    select #report-language name="language" {
                        option value="" selected[make.language.is_empty()] { "The team's language" }
                        @for l in Language::ALL {
                            option value=(l.as_str()) selected[make.language == l.as_str()] { (l.own_name()) }
                        }
                    }
                    button type="submit" { "Make the report" }
                }
            }
            section.panel aria-labelledby="schedule-h" {
                h2 #schedule-h { "Schedule" }
                (problem(sched_refusal))
                form.stack method="post" action="/reports/schedule" {
                    (csrf_field(caller))
                    fieldset {
                        legend { "Weekly report (the seven days before)" }
                        div.check {
                            input #weekly type="checkbox" name="weekly" value="on" checked[sched.weekly.is_some()];
                            label for="weekly" { "Make a weekly report" }
                        }
                        label for="weekly_day" { "On" }
                        select #weekly_day name="weekly_day" {
                            @for (value, name) in WEEKDAYS {
                                option value=(value) selected[sched.weekly_day == value] { (name) }
                            }
                        }
                        label for="weekly_hour" { "From" }
                        (hour_select("weekly_hour", sched.weekly_hour))
                    }
                    fieldset {
                        legend { "Monthly report (the previous month)" }
                        div.check {
                            input #monthly type="checkbox" name="monthly" value="on" checked[sched.monthly.is_some()];
                            label for="monthly" { "Make a monthly report" }
                        }
                        label for="monthly_day" { "On day" }
                        select #monthly_day name="monthly_day" {
                            @for d in 1..=crate::domain::MONTHLY_REPORT_LAST_DAY {
                                option value=(d) selected[sched.monthly_day == d] { (d) }
                            }
                        }
                        label for="monthly_hour" { "From" }
                        (hour_select("monthly_hour", sched.monthly_hour))
                    }
                    button type="submit" { "Save the schedule" }
                }
                h3 { "Next scheduled reports" }
                @let runs = upcoming(&schedule, tz, now);
                @if runs.is_empty() {
                    p.nothing { "None: both reports are switched off." }
                } @else {
                    ul {
                        @for run in &runs {
                            li {
                                (when(run.at, tz)) ": the " (run.cadence.as_str()) " report for " (period_label(run.from, run.to))
                            }
                        }
                    }
                }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_signed_in("Reports", Some(Screen::Reports), csrf, main)))
}

const WEEKDAYS: [(&str, &str); 7] =
    [("mon", "Monday"), ("tue", "Tuesday"), ("wed", "Wednesday"), ("thu", "Thursday"), ("fri", "Friday"), ("sat", "Saturday"), ("sun", "Sunday")];

fn hour_select(name: &str, selected: u8) -> Markup {
    html! {
        select id=(name) name=(name) {
            @for h in 0..24u8 {
                option value=(h) selected[h == selected] { (format!("{h:02}:00")) }
            }
        }
    }
}

/// The schedule as its form shows it (a report switched off keeps the usual day and hour).
fn schedule_form_of(s: &ReportSchedule) -> ScheduleForm {
    let day = |d: chrono::Weekday| WEEKDAYS[d.num_days_from_monday() as usize].0.to_owned();
    ScheduleForm {
        weekly: s.weekly.map(|_| "on".to_owned()),
        weekly_day: s.weekly.map_or_else(|| "mon".to_owned(), |w| day(w.day)),
        weekly_hour: s.weekly.map_or(8, |w| w.hour),
        monthly: s.monthly.map(|_| "on".to_owned()),
        monthly_day: s.monthly.map_or(1, |m| m.day),
        monthly_hour: s.monthly.map_or(8, |m| m.hour),
    }
}

/// "4 Jan 2027 – 10 Jan 2027".
pub(super) fn period_label(from: NaiveDate, to: NaiveDate) -> String {
    format!("{} – {}", from.format("%-d %b %Y"), to.format("%-d %b %Y"))
}

/// An instant on the team's clock, in a `<time>`.
pub(super) fn when(at: chrono::DateTime<chrono::Utc>, tz: Tz) -> Markup {
    let local = at.with_timezone(&tz);
    html! { time datetime=(local.to_rfc3339()) { (local.format("%a %-d %b %Y, %H:%M")) } }
}

/// `POST /reports`: the report made (303 to the list, which links it), or the form again.
async fn make(State(state): State<AppState>, PageForm { caller, form }: PageForm<MakeForm>) -> Result<Response, WebError> {
    let actor = caller.actor();
    let made = async {
        let (from, to) = (parse_date("from", &form.from)?, parse_date("to", &form.to)?);
        let language = match form.language.as_str() {
            "" => None,
            l => Some(Language::parse("language", l)?),
        };
        let (report, _) = service::generate_on_demand(
            &*state.store,
            &*state.report_files,
            &*state.events,
            &actor,
            service::Asked { from, to, language },
            state.clock.now(),
        )
        .await?;
        Ok::<_, ApiError>(report)
    }
    .await;
    match made {
        Ok(report) => Ok(see_other(&format!("/reports?made={}", report.id))),
        Err(e) => {
            let refusal = refusal(e)?;
            let status = refusal.status;
            render(&state, &caller, None, None, Forms { make: Some((form, refusal)), schedule: None }, status).await
        }
    }
}

/// `POST /reports/schedule`: saved (303 back), or the form again.
async fn set_schedule(State(state): State<AppState>, PageForm { caller, form }: PageForm<ScheduleForm>) -> Result<Response, WebError> {
    let actor = caller.actor();
    let change = || -> Result<ScheduleChange, ApiError> {
        let weekly = match form.weekly {
            Some(_) => Some(WeeklyReport::new("weekly", parse_weekday("weekly.day", &form.weekly_day)?, form.weekly_hour)?),
            None => None,
        };
        let monthly = match form.monthly {
            Some(_) => Some(MonthlyReport::new("monthly", form.monthly_day, form.monthly_hour)?),
            None => None,
        };
        Ok(ScheduleChange { weekly: Some(weekly), monthly: Some(monthly) })
    };
    let saved = match change() {
        Ok(change) => service::change_report_schedule(&*state.store, &actor, change).await.map_err(ApiError::from),
        Err(e) => Err(e),
    };
    match saved {
        Ok(_) => Ok(see_other("/reports?done=schedule")),
        Err(e) => {
            let refusal = refusal(e)?;
            let status = refusal.status;
            render(&state, &caller, None, None, Forms { make: None, schedule: Some((form, refusal)) }, status).await
        }
    }
}

/// A path id that is not a UUID names no report: 404, as the API says.
fn report_id(s: &str) -> Result<ReportId, WebError> {
    ReportId::parse("id", s)
        .map_err(|_| WebError::Api(ApiError::Missing { message: format!("no report `{s}` in your team"), field: None }))
}

/// `GET /reports/{id}`: the report's HTML file, as a document of its own ([`REPORT_CSP`]).
async fn document(State(state): State<AppState>, caller: Result<Caller, ApiError>, Path(id): Path<String>) -> Result<Response, WebError> {
    let caller = caller?;
    serve_file(&state, &caller, report_id(&id)?, ReportFormat::Html).await
}

/// `GET /reports/{id}/{file}`: `report.html`, `report.csv` or `report.json`, as the API serves them.
async fn file(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((id, file)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let id = report_id(&id)?;
    let format = ReportFormat::from_file_name(&file).ok_or(WebError::Api(ApiError::NotFound("no such report file")))?;
    serve_file(&state, &caller, id, format).await
}

async fn serve_file(state: &AppState, caller: &Caller, id: ReportId, format: ReportFormat) -> Result<Response, WebError> {
    let bytes = service::file(&*state.store, &*state.report_files, &caller.actor(), id, format).await?;
    let mut response = (
        StatusCode::OK,
        [
            (CONTENT_TYPE, format.content_type().to_owned()),
            (CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", format.file_name())),
            (CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response();
    if format == ReportFormat::Html {
        response.headers_mut().insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(REPORT_CSP));
    }
    Ok(response)
}

