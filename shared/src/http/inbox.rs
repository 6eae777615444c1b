//! `/v1/inbox`, `/v1/contacts`, `/v1/watchlist`, `/v1/incidents`: the unified inbox.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::listing::{instant, page, params};
use super::views::{self, Page};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{
    ChannelId, InteractionId, InteractionKind, InteractionStatus, Platform, SentimentLabel, ValidationError,
};
use crate::services::inbox::{self as service, ReplyError};
use crate::store::InboxQuery;

const LIST_PARAMS: &[&str] = &["status", "kind", "channel_id", "sentiment", "tag", "q", "from", "to", "limit", "cursor"];

fn interaction_id(s: &str) -> Result<InteractionId, ValidationError> {
    InteractionId::parse("id", s)
}

#[utoipa::path(
    get,
    path = "/v1/inbox",
    tag = "inbox",
    operation_id = "list_inbox",
    summary = "The inbox, newest first, filtered",
    description = "`status` and the time window select from the index; the other filters apply to what it yields, \
        so a page may hold fewer than `limit` items and still have a `next`: only `next: null` means the end.",
    params(
        ("status" = Option<String>, Query, description = "open (default), assigned, answered or closed"),
        ("kind" = Option<String>, Query, description = "comment, mention, reply or direct_message"),
        ("channel_id" = Option<String>, Query, description = "one channel"),
        ("sentiment" = Option<String>, Query, description = "positive, neutral or negative"),
        ("tag" = Option<String>, Query, description = "a watch-list term the interaction matched"),
        ("q" = Option<String>, Query, description = "case-insensitive text in the message or the author's name"),
        ("from" = Option<String>, Query, description = "RFC 3339; created at or after"),
        ("to" = Option<String>, Query, description = "RFC 3339; created before"),
        ("limit" = Option<u32>, Query, description = "page size"),
        ("cursor" = Option<String>, Query, description = "`next` of the previous page"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of the inbox", body = Page<views::Interaction>),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, description = "invalid filter; `field` names it", body = super::error::ApiErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Interaction>>, ApiError> {
    let p = params(query, LIST_PARAMS)?;
    let status = match p.get("status") {
        Some(s) => InteractionStatus::parse("status", s)?,
        None => InteractionStatus::Open,
    };
    let text = match p.get("q").map(|q| q.trim()) {
        Some("") => return Err(ValidationError::new("q", "must not be empty").into()),
        Some(q) if q.chars().count() > 200 => return Err(ValidationError::new("q", "at most 200 characters").into()),
        other => other.map(str::to_owned),
    };
    let query = InboxQuery {
        status,
        from: p.get("from").map(|s| instant("from", s)).transpose()?,
        to: p.get("to").map(|s| instant("to", s)).transpose()?,
        channel: p.get("channel_id").map(|s| ChannelId::parse("channel_id", s)).transpose()?,
        kind: p.get("kind").map(|s| InteractionKind::parse("kind", s)).transpose()?,
        sentiment: p.get("sentiment").map(|s| SentimentLabel::parse("sentiment", s)).transpose()?,
        tag: p.get("tag").cloned(),
        text,
    };
    let listing = service::list(&*state.store, &caller.actor(), &query, &page(&p)?).await?;
    Ok(Json(Page::of(&listing)))
}

#[utoipa::path(
    get,
    path = "/v1/inbox/{id}",
    tag = "inbox",
    operation_id = "get_interaction",
    summary = "One interaction and its whole thread (oldest first)",
    params(("id" = String, Path, description = "the interaction id")),
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "the interaction and its thread", body = views::Thread),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Thread>, ApiError> {
    let actor = caller.actor();
    let id = interaction_id(&id)?;
    let it = service::get(&*state.store, &actor, id).await?;
    let thread = service::thread(&*state.store, &actor, id).await?;
    Ok(Json(views::Thread {
        interaction: views::Interaction::from(&it),
        thread: thread.iter().map(views::Interaction::from).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// A team member's name or e-mail; null unassigns.
    assignee: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/assign",
    tag = "inbox",
    operation_id = "assign_interaction",
    summary = "Assign to a team member, or unassign with null (contributor and up)",
    params(("id" = String, Path, description = "the interaction id")),
    request_body = AssignBody,
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "the interaction", body = views::Interaction),
        (status = 403, description = "viewers cannot", body = super::error::ApiErrorBody),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
        (status = 422, description = "invalid input", body = super::error::ApiErrorBody),
    ),
)]
pub async fn assign(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignBody>,
) -> Result<Json<views::Interaction>, ApiError> {
    let it = service::assign(&*state.store, &caller.actor(), interaction_id(&id)?, body.assignee).await?;
    Ok(Json(views::Interaction::from(&it)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextBody {
    text: String,
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/notes",
    tag = "inbox",
    operation_id = "add_note",
    summary = "Add an internal note, never sent to the platform (contributor and up)",
    params(("id" = String, Path, description = "the interaction id")),
    request_body = TextBody,
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 201, description = "the interaction with its notes", body = views::Interaction),
        (status = 403, description = "viewers cannot", body = super::error::ApiErrorBody),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
        (status = 422, description = "empty or over 5000 characters, or the interaction's notes are full (100 notes, 300 KiB in all); `field` is `text`", body = super::error::ApiErrorBody),
    ),
)]
pub async fn add_note(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<views::Interaction>), ApiError> {
    let it = service::add_note(&*state.store, &*state.clock, &caller.actor(), interaction_id(&id)?, &body.text).await?;
    Ok((StatusCode::CREATED, Json(views::Interaction::from(&it))))
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/close",
    tag = "inbox",
    operation_id = "close_interaction",
    summary = "Close (contributor and up)",
    params(("id" = String, Path, description = "the interaction id")),
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "the interaction", body = views::Interaction),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Interaction>, ApiError> {
    let it = service::set_closed(&*state.store, &caller.actor(), interaction_id(&id)?, true).await?;
    Ok(Json(views::Interaction::from(&it)))
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/reopen",
    tag = "inbox",
    operation_id = "reopen_interaction",
    summary = "Reopen: back to assigned when it has an assignee, else open (contributor and up)",
    params(("id" = String, Path, description = "the interaction id")),
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "the interaction", body = views::Interaction),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn reopen(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Interaction>, ApiError> {
    let it = service::set_closed(&*state.store, &caller.actor(), interaction_id(&id)?, false).await?;
    Ok(Json(views::Interaction::from(&it)))
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/reply",
    tag = "inbox",
    operation_id = "reply_to_interaction",
    summary = "Answer on the platform; marks it answered (contributor and up)",
    params(("id" = String, Path, description = "the interaction id")),
    request_body = TextBody,
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 201, description = "the answered interaction and the reply on the platform", body = views::Replied),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "replying is not possible on this channel (platform, credentials)", body = super::error::ApiErrorBody),
        (status = 502, description = "the platform refused the reply; `message` says why", body = super::error::ApiErrorBody),
        (status = 503, description = "the platform is unavailable or rate-limited; retry later (Retry-After)", body = super::error::ApiErrorBody),
    ),
)]
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TextBody>,
) -> Result<(StatusCode, Json<views::Replied>), ApiError> {
    match service::reply(&state.ports, &caller.actor(), interaction_id(&id)?, &body.text).await {
        Ok((it, published)) => Ok((
            StatusCode::CREATED,
            Json(views::Replied {
                interaction: views::Interaction::from(&it),
                reply: views::Reply { platform_post_id: published.platform_post_id, url: published.url },
            }),
        )),
        Err(ReplyError::Service(e)) => Err(e.into()),
        Err(ReplyError::Platform(e)) => Err(ApiError::Platform(e)),
    }
}

#[utoipa::path(
    get,
    path = "/v1/contacts/{platform}/{author_id}",
    tag = "inbox",
    operation_id = "contact_history",
    summary = "Everything one author wrote to the team, across channels, newest first",
    params(
        ("platform" = String, Path, description = "the author's platform"),
        ("author_id" = String, Path, description = "the platform's id of the author"),
        ("limit" = Option<u32>, Query, description = "page size"),
        ("cursor" = Option<String>, Query, description = "`next` of the previous page"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "one page of the author's interactions", body = views::Contact),
        (status = 422, description = "an unknown platform, or an `author_id` over 1024 bytes (no interaction has one)", body = super::error::ApiErrorBody),
    ),
)]
pub async fn contact(
    State(state): State<AppState>,
    caller: Caller,
    Path((platform, author)): Path<(String, String)>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<views::Contact>, ApiError> {
    let p = params(query, &["limit", "cursor"])?;
    let platform = Platform::parse("platform", &platform)?;
    let listing = service::contact(&*state.store, &caller.actor(), platform, &author, &page(&p)?).await?;
    Ok(Json(views::Contact {
        platform,
        author_id: author,
        items: listing.items.iter().map(views::Interaction::from).collect(),
        next: listing.next,
    }))
}

#[utoipa::path(
    delete,
    path = "/v1/contacts/{platform}/{author_id}",
    tag = "inbox",
    operation_id = "erase_contact",
    summary = "Erase every stored item of one author, raw webhook bodies included (admin)",
    description = "Interactions and the raw webhook bodies they came in are deleted. For 14 days (the raw-body \
        retention) a SHA-256 fingerprint of each erased event (channel and platform id, nothing of the person) is \
        kept, so that the same event delivered again (a retry, a captured body replayed) stores nothing of it.",
    params(
        ("platform" = String, Path, description = "the author's platform"),
        ("author_id" = String, Path, description = "the platform's id of the author"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "how many stored items were deleted", body = views::Erased),
        (status = 403, description = "admins only", body = super::error::ApiErrorBody),
        (status = 422, description = "an unknown platform, or an `author_id` over 1024 bytes (no interaction has one)", body = super::error::ApiErrorBody),
    ),
)]
pub async fn erase_contact(
    State(state): State<AppState>,
    caller: Caller,
    Path((platform, author)): Path<(String, String)>,
) -> Result<Json<views::Erased>, ApiError> {
    let platform = Platform::parse("platform", &platform)?;
    let keep = state.intake.raw_ttl;
    let removed = service::erase_contact(&*state.store, &*state.clock, &caller.actor(), platform, &author, keep).await?;
    tracing::info!(platform = platform.as_str(), removed, "contact erased");
    Ok(Json(views::Erased { removed }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchlistBody {
    /// Brand and competitor names, hashtags: interactions containing one are tagged with it.
    terms: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/v1/watchlist",
    tag = "inbox",
    operation_id = "get_watchlist",
    summary = "The team's watch list",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the watch list", body = views::Watchlist),
        (status = 401, response = super::error::Unauthorized),
    ),
)]
pub async fn get_watchlist(State(state): State<AppState>, caller: Caller) -> Result<Json<views::Watchlist>, ApiError> {
    Ok(Json(views::Watchlist { terms: service::watch_terms(&*state.store, &caller.actor()).await? }))
}

#[utoipa::path(
    put,
    path = "/v1/watchlist",
    tag = "inbox",
    operation_id = "put_watchlist",
    summary = "Replace the watch list (editor and up); new interactions are tagged from then on",
    request_body = WatchlistBody,
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 200, description = "the watch list as stored", body = views::Watchlist),
        (status = 403, description = "editors and admins only", body = super::error::ApiErrorBody),
        (status = 422, description = "a term is empty, too long or there are too many", body = super::error::ApiErrorBody),
    ),
)]
pub async fn put_watchlist(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<WatchlistBody>,
) -> Result<Json<views::Watchlist>, ApiError> {
    Ok(Json(views::Watchlist { terms: service::set_watch_terms(&*state.store, &caller.actor(), body.terms).await? }))
}

#[utoipa::path(
    get,
    path = "/v1/incidents",
    tag = "inbox",
    operation_id = "list_incidents",
    summary = "Crisis incidents, newest first",
    params(
        ("limit" = Option<u32>, Query, description = "page size"),
        ("cursor" = Option<String>, Query, description = "`next` of the previous page"),
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of incidents", body = Page<views::Incident>),
        (status = 401, response = super::error::Unauthorized),
    ),
)]
pub async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Incident>>, ApiError> {
    let p = params(query, &["limit", "cursor"])?;
    let listing = service::incidents(&*state.store, &caller.actor(), &page(&p)?).await?;
    Ok(Json(Page::of(&listing)))
}
