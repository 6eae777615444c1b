//! The Inbox screen: `GET /inbox` (the unified inbox, filtered, a page at a time with the API's
//! cursor) and `GET /inbox/{id}` (one conversation), with forms that work it: reply, assign,
//! note, close and reopen (`POST /inbox/{id}/…`, [`PageForm`]: CSRF checked, then `303` back to
//! the thread). A crisis incident still open is a banner at the top of both pages.
//!
//! Everything comes from the services the JSON API's inbox handlers call
//! ([`service::list`], [`service::get`], [`service::thread`], [`service::reply`],
//! [`service::assign`], [`service::add_note`], [`service::set_closed`], [`service::incidents`]);
//! the filters are read by the API's own [`service::InboxFilters`]. The roles are the
//! services' too: a viewer's post is their 403 (the page only leaves the forms out for them).
//! `assets/inbox.js` adds the keyboard (`j`/`k`, `o`, `r`, `e`); the pages work without it.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::assets;
use super::form::{EmptyForm, PageForm, csrf_field};
use super::page::{Screen, respond, see_other, shell_with_scripts};
use crate::domain::{
    Channel, ChannelId, Incident, Interaction, InteractionId, InteractionKind, InteractionStatus, Role, SentimentLabel,
};
use crate::http::{ApiError, AppState, Caller, retry_after_value};
use crate::platforms::PublishError;
use crate::services::inbox::{self as service, InboxFilters, MAX_NOTE_CHARS, ReplyError};
use crate::services::{Actor, ServiceError, channels, people};
use crate::store::PageRequest;

/// Items on one page of the list.
const PAGE_SIZE: u32 = 25;
/// An item of the list shows at most this many characters (graphemes) of its text.
const EXCERPT: usize = 160;
/// Incidents read for the banner (newest first: an open one is among the latest).
const INCIDENTS_READ: u32 = 20;

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/inbox", get(list_page))
        .route("/inbox/{id}", get(thread_page))
        .route("/inbox/{id}/reply", post(reply))
        .route("/inbox/{id}/assign", post(assign))
        .route("/inbox/{id}/note", post(note))
        .route("/inbox/{id}/close", post(close))
        .route("/inbox/{id}/reopen", post(reopen))
}

// ---------------------------------------------------------------------------------------------
// The list.

/// The list's query string: the JSON `GET /v1/inbox`'s filters, by the same names. An empty
/// value (a form's "all") is no filter.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    kind: Option<String>,
    channel_id: Option<String>,
    sentiment: Option<String>,
    tag: Option<String>,
    q: Option<String>,
    assignee: Option<String>,
    cursor: Option<String>,
}

impl ListQuery {
    fn given(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.trim().is_empty())
    }

    fn filters(&self) -> InboxFilters<'_> {
        InboxFilters {
            status: Self::given(&self.status),
            kind: Self::given(&self.kind),
            channel_id: Self::given(&self.channel_id),
            sentiment: Self::given(&self.sentiment),
            tag: Self::given(&self.tag),
            q: Self::given(&self.q),
            assignee: Self::given(&self.assignee),
        }
    }

    /// `/inbox?…` with these filters (and `cursor`, when given).
    fn href(&self, cursor: Option<&str>) -> String {
        let f = self.filters();
        let mut params = form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("status", f.status),
            ("channel_id", f.channel_id),
            ("kind", f.kind),
            ("sentiment", f.sentiment),
            ("tag", f.tag),
            ("q", f.q),
            ("assignee", f.assignee),
            ("cursor", cursor),
        ] {
            if let Some(v) = value {
                params.append_pair(name, v);
            }
        }
        let params = params.finish();
        if params.is_empty() { "/inbox".to_owned() } else { format!("/inbox?{params}") }
    }
}

async fn list_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let actor = caller.actor();
    let inbox_query = query.filters().read(None, None).map_err(ApiError::from)?;
    let page = PageRequest { limit: PAGE_SIZE, cursor: ListQuery::given(&query.cursor).map(str::to_owned) };
    let listing = service::list(&*state.store, &actor, &inbox_query, &page).await?;
    let tz = actor.team(&*state.store).await?.time_zone;
    let channels = channels_of(&state, &actor).await?;
    let incidents = open_incidents(&state, &actor).await?;
    let terms = service::watch_terms(&*state.store, &actor).await?;

    let f = query.filters();
    let filtered = f.kind.is_some() || f.channel_id.is_some() || f.sentiment.is_some() || f.tag.is_some() || f.q.is_some();
    let status = inbox_query.status;
    let main = html! {
        (crisis_banner(&incidents, &channels, tz))
        h1 { "Inbox" }
        p.zone { "Times on the team's clock: " (tz.name()) "." }
        form.filters.inbox-filters method="get" action="/inbox" data-autosubmit {
            div.field {
                label for="f-status" { "Status" }
                select #f-status name="status" {
                    @for s in InteractionStatus::ALL {
                        option value=(s.as_str()) selected[s == status] { (status_label(s)) }
                    }
                }
            }
            div.field {
                label for="f-channel" { "Channel" }
                select #f-channel name="channel_id" {
                    option value="" { "All channels" }
                    @for (id, c) in &channels {
                        option value=(id) selected[inbox_query.channel == Some(*id)] {
                            (c.name.as_str()) " (" (c.platform.as_str()) ")"
                        }
                    }
                }
            }
            div.field {
                label for="f-kind" { "Kind" }
                select #f-kind name="kind" {
                    option value="" { "All kinds" }
                    @for k in InteractionKind::ALL {
                        option value=(k.as_str()) selected[inbox_query.kind == Some(k)] { (kind_label(k)) }
                    }
                }
            }
            div.field {
                label for="f-sentiment" { "Sentiment" }
                select #f-sentiment name="sentiment" {
                    option value="" { "Any sentiment" }
                    @for l in SentimentLabel::ALL {
                        option value=(l.as_str()) selected[inbox_query.sentiment == Some(l)] { (l.as_str()) }
                    }
                }
            }
            @if !terms.is_empty() || inbox_query.tag.is_some() {
                div.field {
                    label for="f-tag" { "Tag" }
                    select #f-tag name="tag" {
                        option value="" { "Any tag" }
                        @for t in &terms {
                            option value=(t) selected[inbox_query.tag.as_deref() == Some(t.as_str())] { (t) }
                        }
                        @if let Some(t) = inbox_query.tag.as_deref().filter(|t| !terms.iter().any(|x| x == t)) {
                            option value=(t) selected { (t) }
                        }
                    }
                }
            }
            div.field {
                label for="f-assignee" { "Assigned to" }
                input #f-assignee type="text" name="assignee" value=[f.assignee] maxlength="200" autocomplete="off";
            }
            div.field {
                label for="f-q" { "Search" }
                input #f-q type="search" name="q" value=[f.q] maxlength="200";
            }
            button type="submit" { "Filter" }
        }
        (keyboard_hint("Keyboard: j/k move · o open"))
        @if listing.items.is_empty() {
            p.nothing {
                "Nothing " (status_label(status).to_lowercase())
                @if filtered { " with these filters" }
                @if page.cursor.is_some() { " on this page" }
                "."
            }
        } @else {
            ol.inbox-list aria-label="Conversations" data-inbox-list {
                @for it in &listing.items {
                    (list_item(it, &channels, tz))
                }
            }
        }
        ul.pager aria-label="Pages" {
            @if page.cursor.is_some() {
                li { a href=(query.href(None)) { "← Newest" } }
            }
            @if let Some(next) = &listing.next {
                li { a href=(query.href(Some(next))) rel="next" { "Older →" } }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(StatusCode::OK, shell_with_scripts("Inbox", Some(Screen::Inbox), csrf, &[&assets::INBOX_JS], main)))
}

fn list_item(it: &Interaction, channels: &BTreeMap<ChannelId, Channel>, tz: Tz) -> Markup {
    let received = it.received_at.with_timezone(&tz);
    html! {
        li class=(format!("inbox-item st-{}", it.status.as_str())) data-inbox-item {
            div.item-head {
                a.open href=(format!("/inbox/{}", it.id)) { span.author { (it.author_name) } }
                span.meta {
                    (channel_label(channels, it)) " · " (kind_label(it.kind)) " · "
                    time datetime=(received.to_rfc3339()) { (when(received)) }
                }
            }
            p.excerpt { (excerpt(&it.text)) }
            div.item-tags {
                (sentiment_chip(it))
                span class=(format!("status st-{}", it.status.as_str())) { (status_label(it.status)) }
                @if let Some(a) = &it.assignee {
                    span.assignee { "Assigned to " (a) }
                }
                @for t in &it.tags {
                    span.tag { "#" (t.trim_start_matches('#')) }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The thread.

/// The notice a change's `303` leaves on the thread (`?done=…`; only these words are shown).
#[derive(Debug, Default, Deserialize)]
pub struct ThreadQuery {
    done: Option<String>,
}

fn done_message(done: &str) -> Option<&'static str> {
    Some(match done {
        "replied" => "Reply sent.",
        "assigned" => "Assigned.",
        "unassigned" => "Unassigned.",
        "noted" => "Note added.",
        "closed" => "Closed.",
        "reopened" => "Reopened.",
        _ => return None,
    })
}

/// What a refused change shows again: the service's words, and what was typed.
#[derive(Debug, Default)]
struct Refusal {
    message: String,
    reply: String,
    note: String,
    assignee: Option<String>,
}

async fn thread_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    query: Result<Query<ThreadQuery>, QueryRejection>,
) -> Result<Response, WebError> {
    let caller = caller?;
    let Query(query) = query.map_err(|e| WebError::BadParameter { name: "query", message: e.body_text() })?;
    let id = interaction_id(&id)?;
    let notice = query.done.as_deref().and_then(done_message);
    thread_response(&state, &caller, id, StatusCode::OK, notice, None).await
}

/// The thread page, at `status` (200, or a refusal's).
async fn thread_response(
    state: &AppState,
    caller: &Caller,
    id: InteractionId,
    status: StatusCode,
    notice: Option<&str>,
    refusal: Option<&Refusal>,
) -> Result<Response, WebError> {
    let actor = caller.actor();
    let it = service::get(&*state.store, &actor, id).await?;
    let thread = service::thread(&*state.store, &actor, id).await?;
    let tz = actor.team(&*state.store).await?.time_zone;
    let channels = channels_of(state, &actor).await?;
    let incidents = open_incidents(state, &actor).await?;
    // Names for the assignee choice: the members service answers admins; others type a name.
    let members = match people::list_members(&*state.store, &actor).await {
        Ok(members) => Some(members),
        Err(ServiceError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let names: HashMap<String, String> =
        people::member_names(&*state.store, &actor).await?.into_iter().map(|(id, name)| (id.to_string(), name)).collect();
    let me = actor.key_id.to_string();
    let author_of = |key: &str| -> String {
        if key == me {
            "you".to_owned()
        } else {
            names.get(key).cloned().unwrap_or_else(|| "an API key".to_owned())
        }
    };

    // The conversation, oldest first: each message, then the notes and replies kept on it.
    let mut timeline: Vec<(DateTime<Utc>, Markup)> = Vec::new();
    let items: Vec<&Interaction> = if thread.iter().any(|t| t.id == it.id) { thread.iter().collect() } else { vec![&it] };
    for m in &items {
        let at = m.created_at.with_timezone(&tz);
        let this = m.id == it.id;
        timeline.push((
            m.created_at,
            html! {
                li class=(if this { "msg them this" } else { "msg them" }) {
                    div.msg-head {
                        span.author { (m.author_name) }
                        " · " (kind_label(m.kind)) " · "
                        time datetime=(at.to_rfc3339()) { (when(at)) }
                        @if !this { " · " a href=(format!("/inbox/{}", m.id)) { "open" } }
                    }
                    p.msg-text { (m.text) }
                    (sentiment_chip(m))
                }
            },
        ));
        for n in &m.notes {
            let at = n.at.with_timezone(&tz);
            let ours = is_reply_note(&n.text);
            timeline.push((
                n.at,
                html! {
                    li class=(if ours { "msg ours" } else { "msg note" }) {
                        div.msg-head {
                            span.kind { (if ours { "Our reply" } else { "Internal note" }) }
                            " · by " (author_of(&n.author)) " · "
                            time datetime=(at.to_rfc3339()) { (when(at)) }
                        }
                        p.msg-text { (n.text) }
                    }
                },
            ));
        }
    }
    timeline.sort_by_key(|(at, _)| *at);

    let can_work = caller.role.includes(Role::Contributor);
    let received = it.received_at.with_timezone(&tz);
    let closed = it.status == InteractionStatus::Closed;
    let empty = Refusal::default();
    let typed = refusal.unwrap_or(&empty);
    let action = |what: &str| format!("/inbox/{}/{what}", it.id);
    let current_assignee = typed.assignee.clone().or_else(|| it.assignee.clone()).unwrap_or_default();
    let title = format!("{} · Inbox", it.author_name);
    let main = html! {
        (crisis_banner(&incidents, &channels, tz))
        p.back { a href="/inbox" { "← Inbox" } }
        h1 { (it.author_name) }
        p.zone {
            (channel_label(&channels, &it)) " · " (kind_label(it.kind)) " · received "
            time datetime=(received.to_rfc3339()) { (when(received)) }
            " (" (tz.name()) ")"
        }
        div.item-tags {
            (sentiment_chip(&it))
            span class=(format!("status st-{}", it.status.as_str())) { (status_label(it.status)) }
            @if let Some(a) = &it.assignee { span.assignee { "Assigned to " (a) } }
            @for t in &it.tags { span.tag { "#" (t.trim_start_matches('#')) } }
        }
        @if let Some(notice) = notice {
            p.notice role="status" { (notice) }
        }
        @if let Some(r) = refusal {
            div.problem role="alert" { p { (r.message) } }
        }
        div.thread-layout {
            section.conversation aria-labelledby="conv-h" {
                h2 #conv-h { "Conversation" }
                ol.thread { @for (_, m) in &timeline { (m) } }
                @if let Some(url) = &it.post_url {
                    p.hint { "On the network: " a href=(url) rel="noopener noreferrer" { "the post it is about" } }
                }
            }
            @if can_work {
                section.actions aria-labelledby="act-h" {
                    h2 #act-h { "Work it" }
                    form.stack.reply-form method="post" action=(action("reply")) {
                        (csrf_field(caller))
                        label for="reply-text" { "Reply on " (channel_label(&channels, &it)) }
                        textarea #reply-text name="text" rows="4" maxlength=(MAX_NOTE_CHARS) required { (typed.reply) }
                        p.hint { "Published to the network through the channel." }
                        button type="submit" { "Send reply" }
                    }
                    form.stack method="post" action=(action("assign")) {
                        (csrf_field(caller))
                        @if let Some(members) = &members {
                            label for="assignee" { "Assignee" }
                            select #assignee name="assignee" {
                                option value="" { "Nobody (unassigned)" }
                                @for m in members {
                                    option value=(m.name) selected[m.name == current_assignee] { (m.name) " (" (m.role) ")" }
                                }
                                @if !current_assignee.is_empty() && !members.iter().any(|m| m.name == current_assignee) {
                                    option value=(current_assignee) selected { (current_assignee) }
                                }
                            }
                        } @else {
                            label for="assignee" { "Assignee" }
                            input #assignee type="text" name="assignee" value=(current_assignee) maxlength="200" autocomplete="off";
                            p.hint { "A team member's name or e-mail; empty to unassign." }
                        }
                        button type="submit" { "Assign" }
                    }
                    @if caller.session.is_some() {
                        form.inline method="post" action=(action("assign")) {
                            (csrf_field(caller))
                            input type="hidden" name="me" value="true";
                            button type="submit" { "Assign to me" }
                        }
                    }
                    form.stack method="post" action=(action("note")) {
                        (csrf_field(caller))
                        label for="note-text" { "Internal note" }
                        textarea #note-text name="text" rows="3" maxlength=(MAX_NOTE_CHARS) required { (typed.note) }
                        p.hint { "Seen by the team only, never sent." }
                        button type="submit" { "Add note" }
                    }
                    @if closed {
                        form.inline method="post" action=(action("reopen")) {
                            (csrf_field(caller))
                            button type="submit" { "Reopen" }
                        }
                    } @else {
                        form #close-form.inline method="post" action=(action("close")) {
                            (csrf_field(caller))
                            button type="submit" { "Close" }
                        }
                    }
                    (keyboard_hint("Keyboard: r reply · e close"))
                }
            } @else {
                p.hint { "You can read the inbox; working it (replying, assigning, notes, closing) needs the contributor role." }
            }
        }
    };
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    Ok(respond(status, shell_with_scripts(&title, Some(Screen::Inbox), csrf, &[&assets::INBOX_JS], main)))
}

// ---------------------------------------------------------------------------------------------
// The changes: each one service call, then 303 back to the thread, or the thread again with
// the service's words and what was typed.

#[derive(Debug, Deserialize)]
pub struct TextForm {
    #[serde(default)]
    text: String,
}

#[derive(Debug, Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
    /// "Assign to me": the signed-in member's name.
    #[serde(default)]
    me: bool,
}


fn back_to(id: InteractionId, done: &str) -> Response {
    see_other(&format!("/inbox/{id}?done={done}"))
}

/// A refused change: 401, 403 and 404 are error pages (there is no thread to show them on, or
/// nothing of it may change); any other refusal is the thread again, at the API's status.
async fn refused(state: &AppState, caller: &Caller, id: InteractionId, e: ApiError, mut typed: Refusal) -> Result<Response, WebError> {
    let (status, _) = e.status();
    if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND) {
        return Err(e.into());
    }
    if status.is_server_error() && matches!(e, ApiError::Internal(_)) {
        return Err(e.into());
    }
    typed.message = match &e {
        ApiError::Invalid(v) if v.field == "text" => format!("The text {}.", v.rule),
        _ => e.to_string(),
    };
    let mut page = thread_response(state, caller, id, status, None, Some(&typed)).await?;
    // The network is down or busy: when it said how long to wait, the page says it too.
    if let ApiError::Platform(PublishError::Transient { retry_after: Some(wait), .. }) = &e {
        page.headers_mut().insert(RETRY_AFTER, retry_after_value(*wait));
    }
    Ok(page)
}

async fn reply(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<TextForm>,
) -> Result<Response, WebError> {
    let id = interaction_id(&id)?;
    match service::reply(&state.ports, &caller.actor(), id, &form.text).await {
        Ok(_) => Ok(back_to(id, "replied")),
        Err(e) => {
            let e = match e {
                ReplyError::Service(e) => ApiError::from(e),
                ReplyError::Platform(e) => ApiError::Platform(e),
            };
            refused(&state, &caller, id, e, Refusal { reply: form.text, ..Refusal::default() }).await
        }
    }
}

async fn assign(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<AssignForm>,
) -> Result<Response, WebError> {
    let id = interaction_id(&id)?;
    let actor = caller.actor();
    let assignee = match (form.me, &caller.session) {
        (true, Some(session)) => Some(
            state
                .store
                .get_member(&actor.team_id, session.member_id)
                .await
                .map_err(|e| WebError::from(ApiError::from(ServiceError::from(e))))?
                .ok_or_else(|| WebError::from(ApiError::from(ServiceError::not_found("you are no longer a member of this team"))))?
                .name,
        ),
        (true, None) => {
            return Err(WebError::BadParameter { name: "me", message: "only a person signed in can assign to themselves".into() });
        }
        (false, _) => Some(form.assignee.trim().to_owned()).filter(|a| !a.is_empty()),
    };
    let unassign = assignee.is_none();
    match service::assign(&*state.store, &actor, id, assignee.clone()).await {
        Ok(_) => Ok(back_to(id, if unassign { "unassigned" } else { "assigned" })),
        Err(e) => refused(&state, &caller, id, e.into(), Refusal { assignee, ..Refusal::default() }).await,
    }
}

async fn note(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form }: PageForm<TextForm>,
) -> Result<Response, WebError> {
    let id = interaction_id(&id)?;
    match service::add_note(&*state.store, &*state.clock, &caller.actor(), id, &form.text).await {
        Ok(_) => Ok(back_to(id, "noted")),
        Err(e) => refused(&state, &caller, id, e.into(), Refusal { note: form.text, ..Refusal::default() }).await,
    }
}

async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    set_closed(&state, &caller, &id, true).await
}

async fn reopen(
    State(state): State<AppState>,
    Path(id): Path<String>,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    set_closed(&state, &caller, &id, false).await
}

async fn set_closed(state: &AppState, caller: &Caller, id: &str, closed: bool) -> Result<Response, WebError> {
    let id = interaction_id(id)?;
    match service::set_closed(&*state.store, &caller.actor(), id, closed).await {
        Ok(_) => Ok(back_to(id, if closed { "closed" } else { "reopened" })),
        Err(e) => refused(state, caller, id, e.into(), Refusal::default()).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Shared pieces.

/// A path id that is not a UUID names no interaction: 404, as the API says.
fn interaction_id(s: &str) -> Result<InteractionId, WebError> {
    InteractionId::parse("id", s)
        .map_err(|_| WebError::from(ApiError::Missing { message: format!("no interaction `{s}` in your team"), field: None }))
}

async fn channels_of(state: &AppState, actor: &Actor) -> Result<BTreeMap<ChannelId, Channel>, WebError> {
    Ok(channels::list_channels(&*state.store, actor).await?.into_iter().map(|c| (c.id, c)).collect())
}

/// The team's crisis incidents still open, oldest first.
async fn open_incidents(state: &AppState, actor: &Actor) -> Result<Vec<Incident>, WebError> {
    let page = service::incidents(&*state.store, actor, &PageRequest::first(INCIDENTS_READ)).await?;
    let mut open: Vec<Incident> = page.items.into_iter().filter(|i| i.closed_at.is_none()).collect();
    open.sort_by_key(|i| i.opened_at);
    Ok(open)
}

fn crisis_banner(incidents: &[Incident], channels: &BTreeMap<ChannelId, Channel>, tz: Tz) -> Markup {
    html! {
        @if !incidents.is_empty() {
            div.crisis role="alert" {
                p.crisis-title { strong { "Crisis under way" } }
                ul {
                    @for i in incidents {
                        @let since = i.opened_at.with_timezone(&tz);
                        @let name = channels.get(&i.channel_id).map_or("a deleted channel", |c| c.name.as_str());
                        li {
                            "A wave of negative messages on " strong { (name) } " since "
                            time datetime=(since.to_rfc3339()) { (when(since)) }
                            " (" (i.negatives_in_window) " negative in the detection window). "
                            a href=(format!("/inbox?channel_id={}&sentiment=negative", i.channel_id)) { "See them" }
                        }
                    }
                }
            }
        }
    }
}

fn keyboard_hint(text: &str) -> Markup {
    html! { p.hint.keys hidden data-keyboard-hint { (text) } }
}

fn sentiment_chip(it: &Interaction) -> Markup {
    html! {
        @match &it.sentiment {
            Some(s) => span class=(format!("sentiment sent-{}", s.label.as_str())) { (sentiment_symbol(s.label)) " " (s.label.as_str()) },
            None => span.sentiment.sent-none { "not scored" },
        }
    }
}

fn sentiment_symbol(label: SentimentLabel) -> &'static str {
    match label {
        SentimentLabel::Positive => "+",
        SentimentLabel::Neutral => "=",
        SentimentLabel::Negative => "−",
    }
}

fn channel_label(channels: &BTreeMap<ChannelId, Channel>, it: &Interaction) -> String {
    match channels.get(&it.channel_id) {
        Some(c) => format!("{} ({})", c.name.as_str(), it.platform.as_str()),
        None => format!("a deleted channel ({})", it.platform.as_str()),
    }
}

fn kind_label(kind: InteractionKind) -> &'static str {
    match kind {
        InteractionKind::Comment => "comment",
        InteractionKind::Mention => "mention",
        InteractionKind::Reply => "reply",
        InteractionKind::DirectMessage => "direct message",
    }
}

fn status_label(status: InteractionStatus) -> &'static str {
    match status {
        InteractionStatus::Open => "Open",
        InteractionStatus::Assigned => "Assigned",
        InteractionStatus::Answered => "Answered",
        InteractionStatus::Closed => "Closed",
    }
}

/// A time on the team's clock, as the list shows it: `Mon 4 Jan 08:00`.
fn when(at: DateTime<Tz>) -> String {
    at.format("%a %-d %b %Y %H:%M").to_string()
}

/// Whether a note is the record of an answer the service kept ([`service::reply`] writes
/// "Replied (…): …" or "Reply handed to the integration: …").
fn is_reply_note(text: &str) -> bool {
    text.starts_with("Replied (") || text.starts_with("Reply handed to the integration:")
}

/// The start of a message for the list, whole graphemes, on one line, with `…` when cut.
fn excerpt(text: &str) -> String {
    crate::text::excerpt(text, EXCERPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_are_no_filters_and_links_keep_the_others() {
        let q = ListQuery {
            status: Some("closed".into()),
            kind: Some(String::new()),
            sentiment: Some("negative".into()),
            q: Some("café & co".into()),
            ..ListQuery::default()
        };
        let f = q.filters();
        assert_eq!((f.status, f.kind, f.sentiment, f.q), (Some("closed"), None, Some("negative"), Some("café & co")));
        assert_eq!(q.href(Some("abc=")), "/inbox?status=closed&sentiment=negative&q=caf%C3%A9+%26+co&cursor=abc%3D");
        assert_eq!(ListQuery::default().href(None), "/inbox");
    }

    #[test]
    fn only_known_notices_are_shown_and_excerpts_cut_on_graphemes() {
        assert_eq!(done_message("replied"), Some("Reply sent."));
        assert_eq!(done_message("<script>"), None);
        let long = "é".repeat(EXCERPT + 3);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT + 1);
        assert_eq!(excerpt("a\n\n b"), "a b");
    }
}
