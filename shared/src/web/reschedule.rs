//! Rescheduling a post from the calendar: `/calendar/move/{post}`.
//!
//! The keyboard's (and the phone's) way is the "Move" link of a chip: a page with the post's
//! local date and time on the team's clock, posted back here. Dragging a chip to another day
//! (`assets/calendar.js`) posts the same form with `fetch`, so both go through one handler and
//! the one rule of the posts service ([`posts::update_post`]: who may move what, DST gaps and
//! overlaps refused, a published post no longer moves).

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{PageForm, csrf_field};
use super::page::{Screen, respond, see_other, shell_signed_in};
use crate::domain::{PostId, PublishAt};
use crate::http::{ApiError, AppState, Caller};
use crate::services::posts::{self, PostChanges, PostView};

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/calendar/move/{id}", get(page).post(move_post))
}

/// Where to go back to: a calendar address (anything else is the calendar itself, so the form
/// cannot send anyone to another site).
#[derive(Debug, Default, Deserialize)]
pub struct Back {
    #[serde(default)]
    back: Option<String>,
}

fn back_to(back: Option<&str>) -> String {
    back.filter(|b| (*b == "/calendar" || b.starts_with("/calendar?")) && !b.contains(['\r', '\n']))
        .unwrap_or("/calendar")
        .to_owned()
}

/// What the form sends: the new local day and time on the team's clock.
#[derive(Debug, Default, Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    time: String,
    #[serde(default)]
    back: Option<String>,
}

fn post_id(id: &str) -> Result<PostId, WebError> {
    PostId::parse("id", id).map_err(|e| WebError::BadParameter { name: "id", message: e.rule })
}

/// `GET /calendar/move/{id}`: the form, with the post's current local day and time.
async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    query: Result<Query<Back>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let id = post_id(&id)?;
    let actor = caller.actor();
    let tz = actor.team(&*state.store).await?.time_zone;
    let view = posts::get_post(&*state.store, &actor, id).await?;
    let at = first_time(&view).map(|t| t.with_timezone(&tz).naive_local());
    // Back to where the person came from, else to the post's month.
    let back = match query.ok().and_then(|Query(b)| b.back) {
        Some(b) => back_to(Some(&b)),
        None => at.map_or_else(|| "/calendar".to_owned(), |a| format!("/calendar?month={}", a.format("%Y-%m"))),
    };
    let form = MoveForm {
        date: at.map(|a| a.format("%Y-%m-%d").to_string()).unwrap_or_default(),
        time: at.map(|a| a.format("%H:%M").to_string()).unwrap_or_default(),
        back: Some(back),
    };
    Ok(respond(StatusCode::OK, move_page(&caller, &view, tz, &form, None)))
}

/// `POST /calendar/move/{id}`: moved (303 back to the calendar), or the form again saying why.
async fn move_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<MoveForm>,
) -> Result<Response, WebError> {
    let id = post_id(&id)?;
    let actor = caller.actor();
    let tz = actor.team(&*state.store).await?.time_zone;
    let view = posts::get_post(&*state.store, &actor, id).await?;
    let refuse = |status: StatusCode, message: String| respond(status, move_page(&caller, &view, tz, &form, Some(&message)));

    let Ok(date) = NaiveDate::parse_from_str(form.date.trim(), "%Y-%m-%d") else {
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, "date: give a day like 2027-01-15".into()));
    };
    let Ok(time) = NaiveTime::parse_from_str(form.time.trim(), "%H:%M") else {
        return Ok(refuse(StatusCode::UNPROCESSABLE_ENTITY, "time: give a time like 09:30".into()));
    };
    let changes = PostChanges { publish_at: Some(PublishAt::Local { local: NaiveDateTime::new(date, time), time_zone: Some(tz) }), ..Default::default() };
    match posts::update_post(&*state.store, &*state.clock, &*state.events, &actor, id, changes).await {
        Ok(_) => {
            tracing::info!(post_id = %id, %date, %time, "post moved from the calendar");
            let to = match form.back.as_deref() {
                Some(b) if b.starts_with("/calendar?week=") => format!("/calendar?week={}", date.format("%Y-%m-%d")),
                _ => format!("/calendar?month={}", date.format("%Y-%m")),
            };
            Ok(see_other(&to))
        }
        Err(e) => {
            let e = ApiError::from(e);
            let (status, _) = e.status();
            if status.is_server_error() {
                return Err(WebError::Api(e));
            }
            let message = match &e {
                ApiError::Invalid(v) => format!("{}: {}", v.field, v.rule),
                other => other.to_string(),
            };
            Ok(refuse(status, message))
        }
    }
}

/// The earliest time among the post's deliveries that have not gone out.
fn first_time(view: &PostView) -> Option<chrono::DateTime<chrono::Utc>> {
    view.deliveries.iter().map(|d| d.publish_at).min()
}

fn move_page(caller: &Caller, view: &PostView, tz: Tz, form: &MoveForm, message: Option<&str>) -> Markup {
    let back = back_to(form.back.as_deref());
    let text: String = view.post.text.as_str().chars().take(200).collect();
    let main = html! {
        h1 { "Move a post" }
        @if let Some(message) = message {
            div.problem role="alert" { p { (message) } }
        }
        blockquote.excerpt { (text) @if view.post.text.as_str().chars().count() > 200 { "…" } }
        p.hint { "State: " (view.state().replace('_', " ")) ". Times on the team's clock: " (tz.name()) "." }
        form.stack method="post" action=(format!("/calendar/move/{}", view.post.id)) {
            (csrf_field(caller))
            input type="hidden" name="back" value=(back);
            label for="date" { "Day" }
            input #date type="date" name="date" value=(form.date) required;
            label for="time" { "Time" }
            input #time type="time" name="time" value=(form.time) required;
            button type="submit" { "Move" }
        }
        p { a href=(back) { "Back to the calendar" } }
    };
    shell_signed_in("Move a post", Some(Screen::Calendar), caller.session.as_ref().map(|s| s.csrf_token.as_str()), main)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn going_back_stays_on_the_calendar() {
        assert_eq!(back_to(Some("/calendar?month=2027-01&channel=x")), "/calendar?month=2027-01&channel=x");
        assert_eq!(back_to(Some("/calendar")), "/calendar");
        for elsewhere in ["https://evil.example/", "//evil.example", "/calendarx", "/v1/posts", "/calendar?\r\nSet-Cookie: x"] {
            assert_eq!(back_to(Some(elsewhere)), "/calendar", "{elsewhere:?}");
        }
        assert_eq!(back_to(None), "/calendar");
    }
}
