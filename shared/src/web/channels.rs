//! The Channels screen (`/channels`): the team's channels with their health (publishing or
//! intake only, credentials, what the metric poller last read and whether the network refuses
//! the token), connecting one, its queue slots (edited, or suggested from its best times), its
//! credentials replaced, and deleting one after a confirmation page.
//!
//! Every change calls the service the API's `/v1/channels` handlers call
//! (`services::channels`, `services::reports::suggest_slots`), so the rules (admins only,
//! credentials checked with the network, slots without duplicates) are theirs.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{EmptyForm, PageForm, csrf_field};
use super::page::{Screen, respond, shell_signed_in};
use super::page::{Refusal, problem, refusal, see_other, status_line};
use super::reports::when;
use crate::crypto::Credentials;
use crate::domain::{
    Channel, ChannelId, ChannelName, Platform, QueueSlot, ValidationError, parse_slot_time, parse_time_zone,
    parse_weekday, slot_time_text, weekday_name,
};
use crate::http::views::SlotSuggestions;
use crate::http::{ApiError, AppState, Caller};
use crate::platforms::credentials;
use crate::services::channels::{self as service, ChannelChanges, NewChannel};
use crate::services::metrics::{ChannelHealth, LAST_PUBLISHED_DAYS, channels_health};

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels", get(page).post(connect))
        .route("/channels/{id}/slots", post(set_slots))
        .route("/channels/{id}/slots/suggest", post(suggest))
        .route("/channels/{id}/credentials", post(set_credentials))
        .route("/channels/{id}/delete", get(confirm_delete).post(delete))
}

/// `?done=` (what the last change did).
#[derive(Debug, Default, Deserialize)]
pub struct ChannelsQuery {
    done: Option<String>,
}

/// What the "connect a channel" form sends.
#[derive(Debug, Default, Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    platform: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    credentials: String,
}

/// A channel's queue slots, one a line: `mon 09:00`.
#[derive(Debug, Default, Deserialize)]
pub struct SlotsForm {
    #[serde(default)]
    slots: String,
}

/// A channel's new credentials, JSON.
#[derive(Debug, Default, Deserialize)]
pub struct CredentialsForm {
    #[serde(default)]
    credentials: String,
}


/// What the screen shows besides the channels: a refused form (what was typed, why), or the
/// suggestions just asked for.
#[derive(Default)]
struct Shown {
    connect: Option<(ConnectForm, Refusal)>,
    slots: Option<(ChannelId, String, Refusal)>,
    credentials: Option<(ChannelId, String, Refusal)>,
    suggestions: Option<(ChannelId, SlotSuggestions)>,
}

async fn page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ChannelsQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let done = match query.done.as_deref() {
        Some("connected") => Some(html! { "The channel is connected." }),
        Some("slots") => Some(html! { "The queue slots are saved." }),
        Some("credentials") => Some(html! { "The credentials are replaced." }),
        Some("deleted") => Some(html! { "The channel is deleted; its posts that had not gone out are cancelled." }),
        _ => None,
    };
    render(&state, &caller, done, Shown::default(), StatusCode::OK).await
}

async fn render(state: &AppState, caller: &Caller, done: Option<Markup>, shown: Shown, status: StatusCode) -> Result<Response, WebError> {
    let actor = caller.actor();
    let team = actor.team(&*state.store).await?;
    let tz = team.time_zone;
    let now = state.clock.now();
    let channels = channels_health(&*state.store, &actor, now).await?;
    let default_connect = ConnectForm { time_zone: tz.name().to_owned(), platform: "mastodon".into(), ..Default::default() };
    let (connect, connect_refusal) = match &shown.connect {
        Some((f, r)) => (f, Some(r)),
        None => (&default_connect, None),
    };
    let main = html! {
        h1 { "Channels" }
        p.zone { "Times on the team's clock: " (tz.name()) "; queue slots on each channel's own." }
        (status_line(done))
        div.admin {
            @if channels.is_empty() {
                section.panel.wide { p.nothing { "No channel yet: connect one below." } }
            }
            @for health in &channels {
                (channel_panel(caller, health, tz, now, &shown))
            }
            (super::connect::buttons(state, caller))
            section.panel.wide aria-labelledby="connect-h" {
                h2 #connect-h { "Connect a channel" }
                (problem(connect_refusal))
                form.stack method="post" action="/channels" {
                    (csrf_field(caller))
                    label for="platform" { "Network" }
                    select #platform name="platform" {
                        @for p in Platform::ALL {
                            option value=(p.as_str()) selected[connect.platform == p.as_str()] { (p.as_str()) }
                        }
                    }
                    label for="name" { "Name" }
                    input #name type="text" name="name" value=(connect.name) maxlength="200" required;
                    p.hint { "How the team calls it: " code { "@cafe on Mastodon" } "." }
                    label for="time_zone" { "Time zone" }
                    input #time_zone type="text" name="time_zone" value=(connect.time_zone) required;
                    p.hint { "An IANA zone name, " code { "Europe/Paris" } ": its queue slots and best times are on this clock." }
                    label for="credentials" { "Credentials (JSON)" }
                    textarea #credentials name="credentials" aria-describedby="credentials-hint" spellcheck="false" autocomplete="off" {
                        (connect.credentials)
                    }
                    p.hint #credentials-hint { "An object of strings, checked with the network before the channel is saved. What each network takes:" }
                    (credential_hints())
                    button type="submit" { "Connect" }
                }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_signed_in("Channels", Some(Screen::Channels), csrf, main)))
}

/// Per network, the credential fields it takes (from the same table the service checks).
fn credential_hints() -> Markup {
    html! {
        ul.hints {
            @for p in Platform::ALL {
                li {
                    details {
                        summary { (p.as_str()) @if !credentials::needs_credentials(p) { " (none needed)" } }
                        ul {
                            @for f in credentials::fields(p) {
                                li {
                                    code { (f.name) }
                                    @if f.required { " (required)" } @else { " (optional)" }
                                    ": " (f.about)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `mon 09:00`, one a line.
fn slots_text(slots: &[QueueSlot]) -> String {
    slots.iter().map(|s| format!("{} {}", weekday_name(s.weekday), slot_time_text(s.time))).collect::<Vec<_>>().join("\n")
}

fn channel_panel(
    caller: &Caller,
    ChannelHealth { channel: c, metrics: health, last_published, needs_reconnect }: &ChannelHealth,
    tz: chrono_tz::Tz,
    now: chrono::DateTime<chrono::Utc>,
    shown: &Shown,
) -> Markup {
    let id = c.id;
    let heading = format!("channel-{id}");
    let slot_field = format!("slots-{id}");
    let cred_field = format!("credentials-{id}");
    let (slots_value, slots_refusal) = match &shown.slots {
        Some((sid, text, r)) if *sid == id => (text.clone(), Some(r)),
        _ => (slots_text(&c.queue_slots), None),
    };
    let (cred_value, cred_refusal) = match &shown.credentials {
        Some((cid, text, r)) if *cid == id => (text.clone(), Some(r)),
        _ => (String::new(), None),
    };
    let needs = credentials::needs_credentials(c.platform);
    html! {
        section.panel aria-labelledby=(heading) {
            h2 id=(heading) { (c.name.as_str()) " " span.badge { (c.platform.as_str()) } }
            dl.health {
                dt { "Publishing" }
                dd {
                    @if c.platform.can_publish() { span.badge.ok { "publishes" } }
                    @else { span.badge { "intake only" } " Herald does not publish to this network yet; its replies and figures come in." }
                }
                dt { "Credentials" }
                dd {
                    @if c.credentials.is_some() { span.badge.ok { "set" } }
                    @else if needs { span.badge.bad { "missing" } " Add them below." }
                    @else { span.badge { "none needed" } }
                }
                dt { "Connection" }
                dd {
                    @if let Some(refused) = needs_reconnect {
                        span.badge.bad { "needs reconnecting" }
                        " Since " (when(refused.since, tz)) " the network refuses its credentials: " q { (refused.reason) } ". "
                        @if super::connect::OAUTH_PLATFORMS.contains(&c.platform) { "Connect it again above, or replace them below." }
                        @else { "Replace them below." }
                    } @else if let Some(until) = health.not_before.filter(|t| *t > now) {
                        span.badge.warn { "rate limited" } " Until " (when(until, tz)) "."
                    } @else {
                        span.badge.ok { "no problem known" }
                    }
                }
                dt { "Last published" }
                dd {
                    @match last_published {
                        Some(t) => { (when(*t, tz)) }
                        None => { "not in the last " (LAST_PUBLISHED_DAYS) " days" }
                    }
                }
                dt { "Figures read" }
                dd {
                    @match health.polled_until {
                        Some(t) => { "up to " (when(t, tz)) }
                        None => { "not yet" }
                    }
                }
                dt { "Time zone" }
                dd { (c.time_zone.name()) }
            }
            h3 { "Queue slots" }
            @if c.queue_slots.is_empty() {
                p.nothing { "None yet." }
            } @else {
                ul.inline aria-label="Queue slots" {
                    @for s in &c.queue_slots { li.badge { (weekday_name(s.weekday)) " " (slot_time_text(s.time)) } }
                }
            }
            (problem(slots_refusal))
            form.stack method="post" action=(format!("/channels/{id}/slots")) {
                (csrf_field(caller))
                label for=(slot_field) { "Queue slots, one a line" }
                textarea id=(slot_field) name="slots" spellcheck="false" { (slots_value) }
                p.hint { "A day and a time on the channel's clock: " code { "mon 09:00" } "." }
                button type="submit" { "Save the slots" }
            }
            form.stack method="post" action=(format!("/channels/{id}/slots/suggest")) {
                (csrf_field(caller))
                button type="submit" { "Suggest from best times" }
            }
            @if let Some((sid, s)) = &shown.suggestions {
                @if *sid == id { (suggestions(caller, c, s)) }
            }
            details open[cred_refusal.is_some()] {
                summary { "Replace the credentials" }
                (problem(cred_refusal))
                form.stack method="post" action=(format!("/channels/{id}/credentials")) {
                    (csrf_field(caller))
                    label for=(cred_field) { "New credentials (JSON)" }
                    textarea id=(cred_field) name="credentials" spellcheck="false" autocomplete="off" { (cred_value) }
                    p.hint { "Checked with the network before they are kept; left empty, the channel keeps none. Fields: "
                        @for (i, f) in credentials::fields(c.platform).iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (f.name) }
                        }
                        "." }
                    button type="submit" { "Replace" }
                }
            }
            p { a href=(format!("/channels/{id}/delete")) { "Delete this channel…" } }
        }
    }
}

/// The suggestions for one channel, and a form to save them with its slots.
fn suggestions(caller: &Caller, c: &Channel, s: &SlotSuggestions) -> Markup {
    let id = c.id;
    let mut merged: Vec<String> = c.queue_slots.iter().map(|q| format!("{} {}", weekday_name(q.weekday), slot_time_text(q.time))).collect();
    for slot in &s.suggested {
        let line = format!("{} {}", slot.weekday, slot.time);
        if !merged.contains(&line) {
            merged.push(line);
        }
    }
    let field = format!("suggested-{id}");
    html! {
        div.suggestions role="status" {
            h3 { "Best times (" (s.time_zone) ", " (s.sample) " posts measured)" }
            @if s.suggested.is_empty() {
                p { (s.note.as_deref().unwrap_or("Nothing to suggest yet.")) }
            } @else {
                ul {
                    @for slot in &s.suggested {
                        li { (slot.weekday) " " (slot.time) ": " (slot.posts) " posts, " (format!("{:.1}", slot.mean_engagements)) " engagements on average" }
                    }
                }
                form.stack method="post" action=(format!("/channels/{id}/slots")) {
                    (csrf_field(caller))
                    label for=(field) { "Queue slots with the suggestions added" }
                    textarea id=(field) name="slots" spellcheck="false" { (merged.join("\n")) }
                    button type="submit" { "Save these slots" }
                }
            }
        }
    }
}

/// A path id that is not a UUID names no channel: 404, as the API says.
fn channel_id(s: &str) -> Result<ChannelId, WebError> {
    ChannelId::parse("id", s)
        .map_err(|_| WebError::Api(ApiError::Missing { message: format!("no channel `{s}` in your team"), field: None }))
}

/// The credentials typed as JSON: none when blank.
fn read_credentials(field: &str, text: &str) -> Result<Option<Credentials>, ValidationError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| ValidationError::new(field, format!("is not JSON: {e}; write an object like {{\"access_token\": \"…\"}}")))?;
    Credentials::from_json(field, &value).map(Some)
}

/// `POST /channels`: connected (303), or the form again with the service's refusal.
async fn connect(State(state): State<AppState>, PageForm { caller, form }: PageForm<ConnectForm>) -> Result<Response, WebError> {
    let actor = caller.actor();
    let created = async {
        let new = NewChannel {
            platform: Platform::parse("platform", &form.platform)?,
            name: ChannelName::parse("name", &form.name)?,
            time_zone: parse_time_zone("time_zone", form.time_zone.trim())?,
            credentials: read_credentials("credentials", &form.credentials)?,
            queue_slots: vec![],
        };
        state.check_platform_available(new.platform)?;
        service::create_channel(&*state.store, &*state.clock, &state.cipher, &state.adapters, &actor, new).await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match created {
        Ok(()) => Ok(see_other("/channels?done=connected")),
        Err(e) => {
            let r = refusal(e)?;
            let status = r.status;
            // Never echo credentials back into the page.
            let form = ConnectForm { credentials: String::new(), ..form };
            render(&state, &caller, None, Shown { connect: Some((form, r)), ..Shown::default() }, status).await
        }
    }
}

/// The lines of the slots form, as the API's `queue_slots` (fields named the same way).
fn read_slots(text: &str) -> Result<Vec<QueueSlot>, ValidationError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .map(|(i, line)| {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(day), Some(time), None) => Ok(QueueSlot {
                    weekday: parse_weekday(&format!("queue_slots[{i}].weekday"), day)?,
                    time: parse_slot_time(&format!("queue_slots[{i}].time"), time)?,
                }),
                _ => Err(ValidationError::new(format!("queue_slots[{i}]"), format!("`{line}` is not a day and a time like `mon 09:00`"))),
            }
        })
        .collect()
}

async fn change(state: &AppState, caller: &Caller, id: ChannelId, changes: Result<ChannelChanges, ValidationError>) -> Result<(), ApiError> {
    let changes = changes?;
    service::update_channel(&*state.store, &*state.clock, &state.cipher, &state.adapters, &caller.actor(), id, changes).await?;
    Ok(())
}

/// `POST /channels/{id}/slots`: the slots replaced, as `PATCH /v1/channels/{id}` `queue_slots`.
async fn set_slots(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<SlotsForm>,
) -> Result<Response, WebError> {
    let id = channel_id(&id)?;
    let changes = read_slots(&form.slots).map(|slots| ChannelChanges { queue_slots: Some(slots), ..Default::default() });
    match change(&state, &caller, id, changes).await {
        Ok(()) => Ok(see_other("/channels?done=slots")),
        Err(e) => {
            let r = refusal(e)?;
            let status = r.status;
            render(&state, &caller, None, Shown { slots: Some((id, form.slots, r)), ..Shown::default() }, status).await
        }
    }
}

/// `POST /channels/{id}/credentials`: replaced (checked with the network first).
async fn set_credentials(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<CredentialsForm>,
) -> Result<Response, WebError> {
    let id = channel_id(&id)?;
    let changes = read_credentials("credentials", &form.credentials)
        .map(|c| ChannelChanges { credentials: Some(c), ..Default::default() });
    match change(&state, &caller, id, changes).await {
        Ok(()) => Ok(see_other("/channels?done=credentials")),
        Err(e) => {
            let r = refusal(e)?;
            let status = r.status;
            render(&state, &caller, None, Shown { credentials: Some((id, String::new(), r)), ..Shown::default() }, status).await
        }
    }
}

/// `POST /channels/{id}/slots/suggest`: the channel's best times, shown on the screen with a
/// form to save them (nothing changes until it is sent).
async fn suggest(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    let id = channel_id(&id)?;
    let best = crate::services::reports::suggest_slots(&*state.store, &caller.actor(), id, state.clock.now()).await?;
    let shown = Shown { suggestions: Some((id, SlotSuggestions::from(&best))), ..Shown::default() };
    render(&state, &caller, None, shown, StatusCode::OK).await
}

/// `GET /channels/{id}/delete`: what deleting it does, and the button that does it.
async fn confirm_delete(State(state): State<AppState>, caller: Result<Caller, ApiError>, Path(id): Path<String>) -> Result<Response, WebError> {
    let caller = caller?;
    let id = channel_id(&id)?;
    let channel = service::get_channel(&*state.store, &caller.actor(), id).await?;
    Ok(confirm_page(&caller, &channel, None))
}

fn confirm_page(caller: &Caller, channel: &Channel, refused: Option<&Refusal>) -> Response {
    let title = format!("Delete {}?", channel.name.as_str());
    let main = html! {
        h1 { (title) }
        (problem(refused))
        p { "The " (channel.platform.as_str()) " channel " strong { (channel.name.as_str()) } " is disconnected from Herald. "
            "Its posts that have not gone out (drafts, awaiting approval, scheduled, failed) are cancelled; "
            "what was published stays in the history." }
        form.stack method="post" action=(format!("/channels/{}/delete", channel.id)) {
            (csrf_field(caller))
            button.danger type="submit" { "Delete " (channel.name.as_str()) }
        }
        p { a href="/channels" { "Keep it: back to the channels" } }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    let status = refused.map_or(StatusCode::OK, |r| r.status);
    respond(status, shell_signed_in(&title, Some(Screen::Channels), csrf, main))
}

/// `POST /channels/{id}/delete`: deleted (303 to the list), as `DELETE /v1/channels/{id}`.
async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    let id = channel_id(&id)?;
    let actor = caller.actor();
    match service::delete_channel(&*state.store, &*state.clock, &actor, id).await {
        Ok(_) => Ok(see_other("/channels?done=deleted")),
        Err(e) => {
            let r = refusal(e)?;
            let channel = service::get_channel(&*state.store, &actor, id).await?;
            Ok(confirm_page(&caller, &channel, Some(&r)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_lines_read_like_the_apis_queue_slots_and_a_bad_one_is_named() {
        let slots = read_slots("mon 09:00\n\n  Tuesday 18:30  \n").unwrap();
        assert_eq!(slots_text(&slots), "mon 09:00\ntue 18:30");
        assert_eq!(read_slots("mon 09:00\nsoon").unwrap_err().field, "queue_slots[1]");
        assert_eq!(read_slots("mon 25:00").unwrap_err().field, "queue_slots[0].time");
        assert_eq!(read_slots("someday 09:00").unwrap_err().field, "queue_slots[0].weekday");
        assert!(read_slots("").unwrap().is_empty());
    }

    #[test]
    fn credentials_are_json_objects_or_nothing() {
        assert!(read_credentials("credentials", "  ").unwrap().is_none());
        assert!(read_credentials("credentials", r#"{"access_token": "t"}"#).unwrap().is_some());
        assert_eq!(read_credentials("credentials", "token=abc").unwrap_err().field, "credentials");
        assert_eq!(read_credentials("credentials", r#"{"a": 1}"#).unwrap_err().field, "credentials.a");
    }
}
