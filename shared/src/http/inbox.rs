//! `/v1/inbox`, `/v1/contacts`, `/v1/watchlist`, `/v1/incidents`: the unified inbox.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::listing::{PageParams, instant, page_of, read};
use super::views::{self, Page};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{
    InteractionId, InteractionKind, InteractionStatus, Platform, SentimentLabel,
};
use crate::services::inbox::{self as service, ReplyError};

/// A path id that is not even a UUID names no interaction: 404, like any unknown id.
fn interaction_id(s: &str) -> Result<InteractionId, ApiError> {
    InteractionId::parse("id", s)
        .map_err(|_| ApiError::Missing { message: format!("no interaction `{s}` in your team"), field: None })
}

/// `GET /v1/inbox?…`: which interactions, and which page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// open (default), assigned, answered or closed.
    #[param(value_type = Option<InteractionStatus>)]
    status: Option<String>,
    #[param(value_type = Option<InteractionKind>)]
    kind: Option<String>,
    /// One channel.
    #[param(value_type = Option<uuid::Uuid>)]
    channel_id: Option<String>,
    #[param(value_type = Option<SentimentLabel>)]
    sentiment: Option<String>,
    /// A watch-list term the interaction matched.
    #[param(value_type = Option<String>, min_length = 1, max_length = 100)]
    tag: Option<String>,
    /// Case-insensitive text in the message or the author's name (not only spaces).
    #[param(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "\\S")]
    q: Option<String>,
    /// Assigned to this person (as `assign` was given it; case-insensitive).
    #[param(value_type = Option<String>, min_length = 1, max_length = 200, pattern = "\\S")]
    assignee: Option<String>,
    /// RFC 3339, years 1970–9999: created at or after.
    #[param(value_type = Option<String>, format = DateTime, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    from: Option<String>,
    /// RFC 3339, years 1970–9999: created before.
    #[param(value_type = Option<String>, format = DateTime, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    to: Option<String>,
    /// Page size: 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next` of the previous page, as the API returned it.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/inbox",
    tag = "inbox",
    operation_id = "list_inbox",
    summary = "The inbox, newest first, filtered",
    description = "`status` and the time window select from the index; the other filters apply to what it yields, \
        so a page may hold fewer than `limit` items and still have a `next`: only `next: null` means the end.",
    params(InboxParams),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of the inbox", body = Page<views::Interaction>, links(
            ("get_interaction" = (operation_id = "get_interaction", parameters(("id" = "$response.body#/items/0/id")))),
            ("assign_interaction" = (operation_id = "assign_interaction", parameters(("id" = "$response.body#/items/0/id")))),
            ("add_note" = (operation_id = "add_note", parameters(("id" = "$response.body#/items/0/id")))),
            ("close_interaction" = (operation_id = "close_interaction", parameters(("id" = "$response.body#/items/0/id")))),
            ("reopen_interaction" = (operation_id = "reopen_interaction", parameters(("id" = "$response.body#/items/0/id")))),
            ("reply_to_interaction" = (operation_id = "reply_to_interaction", parameters(("id" = "$response.body#/items/0/id")))),
            ("mark_answered" = (operation_id = "mark_answered", parameters(("id" = "$response.body#/items/0/id")))),
            ("contact_history" = (operation_id = "contact_history", parameters(("platform" = "$response.body#/items/0/platform"), ("author_id" = "$response.body#/items/0/author/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, description = "invalid filter; `field` names it", body = super::error::ApiErrorBody),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Interaction>>, ApiError> {
    let p: InboxParams = read(query)?;
    let filters = service::InboxFilters {
        status: p.status.as_deref(),
        kind: p.kind.as_deref(),
        channel_id: p.channel_id.as_deref(),
        sentiment: p.sentiment.as_deref(),
        tag: p.tag.as_deref(),
        q: p.q.as_deref(),
        assignee: p.assignee.as_deref(),
    };
    let query = filters.read(
        p.from.as_deref().map(|s| instant("from", s)).transpose()?,
        p.to.as_deref().map(|s| instant("to", s)).transpose()?,
    )?;
    let listing = service::list(&*state.store, &caller.actor(), &query, &page_of(p.limit.as_deref(), p.cursor)?).await?;
    Ok(Json(Page::of(&listing)))
}

#[utoipa::path(
    get,
    path = "/v1/inbox/{id}",
    tag = "inbox",
    operation_id = "get_interaction",
    summary = "One interaction and its whole thread (oldest first)",
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
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
    #[schema(required, min_length = 1, max_length = 200, pattern = "\\S")]
    assignee: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/assign",
    tag = "inbox",
    operation_id = "assign_interaction",
    summary = "Assign to a team member, or unassign with null (contributor and up)",
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
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
    /// 1 to 5000 characters (not only spaces).
    #[schema(min_length = 1, max_length = 5000, pattern = "\\S")]
    text: String,
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/notes",
    tag = "inbox",
    operation_id = "add_note",
    summary = "Add an internal note, never sent to the platform (contributor and up)",
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
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
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
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
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
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
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
    request_body = TextBody,
    security(("ApiKey" = [])),
    responses(
        (status = 401, response = super::error::Unauthorized),
        (status = 201, description = "the answered interaction and the reply on the platform", body = views::Replied),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "replying is not possible on this channel (platform, credentials)", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, description = "the text is empty or too long", body = super::error::ApiErrorBody),
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
                reply: match published {
                    Some(p) => views::Reply { platform_post_id: Some(p.platform_post_id), url: p.url, delivered_by: "platform" },
                    None => views::Reply { platform_post_id: None, url: None, delivered_by: "integration" },
                },
            }),
        )),
        Err(ReplyError::Service(e)) => Err(e.into()),
        Err(ReplyError::Platform(e)) => Err(ApiError::Platform(e)),
    }
}

/// `POST /v1/inbox/{id}/answered`: how it was answered, when that helps the team.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnsweredBody {
    /// "Called her back", "answered at the counter": kept as an internal note.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 5000, pattern = "\\S")]
    note: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/inbox/{id}/answered",
    tag = "inbox",
    operation_id = "mark_answered",
    summary = "Mark answered elsewhere: records the first-response time, who said so and an optional note (contributor and up)",
    params(("id" = uuid::Uuid, Path, description = "the interaction id")),
    request_body(content = AnsweredBody, description = "optional: `{\"note\"}`; an empty body is fine"),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the interaction, answered", body = views::Interaction),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, description = "viewers cannot", body = super::error::ApiErrorBody),
        (status = 404, description = "no such interaction in your team", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn answered(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<views::Interaction>, ApiError> {
    let id = interaction_id(&id)?;
    let note = match body.iter().all(u8::is_ascii_whitespace) {
        true => None,
        false => super::parse_json::<AnsweredBody>(&body)?.note,
    };
    let it = service::mark_answered(&*state.store, &*state.clock, &caller.actor(), id, note.as_deref()).await?;
    Ok(Json(views::Interaction::from(&it)))
}

#[utoipa::path(
    get,
    path = "/v1/contacts/{platform}/{author_id}",
    tag = "inbox",
    operation_id = "contact_history",
    summary = "Everything one author wrote to the team, across channels, newest first",
    params(
        ("platform" = Platform, Path, description = "the author's platform"),
        ("author_id" = String, Path, min_length = 1, max_length = 1024, description = "the platform's id of the author"),
        PageParams,
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
    let p: PageParams = read(query)?;
    let platform = Platform::parse("platform", &platform)?;
    let listing = service::contact(&*state.store, &caller.actor(), platform, &author, &p.page()?).await?;
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
        ("platform" = Platform, Path, description = "the author's platform"),
        ("author_id" = String, Path, min_length = 1, max_length = 1024, description = "the platform's id of the author"),
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
    /// At most 200, each 1 to 100 characters.
    #[schema(schema_with = super::schemas::watch_terms)]
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
        PageParams,
    ),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of incidents", body = Page<views::Incident>),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn incidents(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Incident>>, ApiError> {
    let p: PageParams = read(query)?;
    let listing = service::incidents(&*state.store, &caller.actor(), &p.page()?).await?;
    Ok(Json(Page::of(&listing)))
}
