//! `/v1/posts`: create, read, the calendar, change, cancel, approve, retry. Handlers parse the
//! request into domain values, call the service, and show the result; the rules live in
//! [`crate::services::posts`].

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::Duration;
use serde::Deserialize;
use serde_json::Value;

use super::listing::instant;
use super::schemas;
use super::views::{self, Page};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{
    ChannelId, DeliveryState, MediaRef, Platform, PostId, PostText, PublishAt, PublishAtInput, ReplyControl, Role, ValidationError,
    parse_time_zone,
};
use crate::services::Actor;
use crate::services::posts::{self as service, NewPost, PostChanges, PostFilter};
use crate::services::series::{self as service_series, RecurrenceRequest};

/// At most this many media items per post (above every platform's own limit).
pub const MAX_MEDIA: usize = 50;
/// The longest alt text Herald keeps.
pub const MAX_ALT_CHARS: usize = 5000;

/// The calendar's default range: from a week ago…
const DEFAULT_PAST_DAYS: i64 = 7;
/// …to a month ahead.
const DEFAULT_FUTURE_DAYS: i64 = 30;

impl Caller {
    /// The service layer's view of the caller.
    pub fn actor(&self) -> Actor {
        Actor { team_id: self.team_id.clone(), role: self.role, key_id: self.key_id }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostBody {
    /// What to publish; each network's limits are checked for the channels named (422).
    #[schema(max_length = 16384, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    text: String,
    #[schema(schema_with = schemas::channel_ids)]
    channel_ids: Vec<String>,
    publish_at: PublishAtInput,
    /// A network → the text published there instead of `text`.
    #[serde(default)]
    #[schema(value_type = BTreeMap<Platform, String>)]
    variants: BTreeMap<String, String>,
    #[serde(default)]
    #[schema(max_items = 50)]
    media: Vec<MediaBody>,
    #[serde(default)]
    draft: bool,
    /// Makes a series: one post per occurrence of the rule, in the rule's zone.
    #[serde(default)]
    recurrence: Option<RecurrenceBody>,
    /// Said right after the post goes out: a comment under it on Instagram and Facebook, a
    /// reply to it on Threads (hashtags out of the caption). Checked against each of those
    /// channels' limits (Instagram 2,200, Threads 500 with emoji as UTF-8 bytes); refused (422)
    /// when none of the channels is on one of them. Blank is none. Best effort: a comment that
    /// fails leaves the post published.
    #[serde(default)]
    #[schema(max_length = 16384, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    first_comment: Option<String>,
    /// Who may reply on Threads; refused (422) when none of the channels is on Threads.
    #[serde(default)]
    #[schema(value_type = Option<ReplyControl>)]
    reply_control: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceBody {
    /// An RFC 5545 rule: `FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10` (`COUNT` or `UNTIL` required, at most
    /// 52 occurrences).
    #[schema(min_length = 1, max_length = 500, pattern = "^(RRULE:)?[A-Za-z0-9=;,+-]+$")]
    rrule: String,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_time_zone)]
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaBody {
    /// An http(s) URL, fetched when the post is published, or the `reference` of a file
    /// uploaded with `POST /v1/media`.
    #[schema(max_length = 2048, pattern = "^(https?://[^\\s]+|herald-media:[a-z0-9-]{1,63}/[0-9a-f-]{36}\\.[a-z0-9]{3,4})$")]
    pub(crate) url: String,
    /// The description people who cannot see it read.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub(crate) alt: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPostBody {
    #[serde(default)]
    #[schema(max_length = 16384, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    text: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<Platform, String>>)]
    variants: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(max_items = 50)]
    media: Option<Vec<MediaBody>>,
    #[serde(default)]
    publish_at: Option<PublishAtInput>,
    #[serde(default)]
    draft: Option<bool>,
    /// As in `POST /v1/posts`; `null` removes it, absent leaves it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<String>, max_length = 16384, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    first_comment: Option<Option<String>>,
    /// As in `POST /v1/posts`; `null` goes back to Threads' default, absent leaves it.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(value_type = Option<ReplyControl>)]
    reply_control: Option<Option<String>>,
    /// Accepted only to refuse it with a clear message (a post's channels never change), so
    /// not part of the documented body.
    #[serde(default)]
    #[schema(ignore)]
    channel_ids: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/posts",
    tag = "posts",
    operation_id = "create_post",
    summary = "Schedule a post, a draft, or a recurring series",
    request_body = CreatePostBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the post with its deliveries, or with `recurrence` the series", body = views::Created, links(
            ("get_post" = (operation_id = "get_post", parameters(("id" = "$response.body#/id")))),
            ("update_post" = (operation_id = "update_post", parameters(("id" = "$response.body#/id")))),
            ("cancel_post" = (operation_id = "cancel_post", parameters(("id" = "$response.body#/id")))),
            ("approve_post" = (operation_id = "approve_post", parameters(("id" = "$response.body#/id")))),
            ("retry_post" = (operation_id = "retry_post", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "a channel of `channel_ids` is not in your team", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreatePostBody>,
) -> Result<(StatusCode, Json<views::Created>), ApiError> {
    let mut new = NewPost {
        text: PostText::parse("text", &body.text)?,
        channel_ids: channel_ids(&body.channel_ids)?,
        publish_at: PublishAt::parse(&body.publish_at)?,
        variants: variants(body.variants)?,
        media: media(body.media)?,
        draft: body.draft,
        first_comment: first_comment(body.first_comment.as_deref())?,
        reply_control: reply_control(body.reply_control.as_deref())?,
    };
    crate::services::media::check_uploads(&*state.media, &caller.actor(), &mut new.media).await?;
    if let Some(recurrence) = body.recurrence {
        let recurrence = RecurrenceRequest {
            rrule: recurrence.rrule,
            time_zone: recurrence
                .time_zone
                .as_deref()
                .map(|tz| parse_time_zone(service_series::TIME_ZONE_FIELD, tz))
                .transpose()?,
        };
        let series =
            service_series::create_series(&*state.store, &*state.clock, &*state.events, &caller.actor(), new, recurrence)
                .await?;
        return Ok((StatusCode::CREATED, Json(views::Created::Series(views::Series::new(&series, &zones(&state, &caller).await?)))));
    }
    let view = service::create_post(&*state.store, &*state.clock, &*state.events, &caller.actor(), new).await?;
    Ok((StatusCode::CREATED, Json(views::Created::Post(views::Post::new(&view, &zones(&state, &caller).await?)))))
}

#[utoipa::path(
    get,
    path = "/v1/posts/{id}",
    tag = "posts",
    operation_id = "get_post",
    summary = "A post and the state of each delivery",
    params(("id" = uuid::Uuid, Path, description = "the post id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the post", body = views::Post,
            headers(("ETag" = String, description = "the post's version, `\"3\"`: send it back as `If-Match` to approve it"))),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(TypedHeaderETag, Json<views::Post>), ApiError> {
    let view = service::get_post(&*state.store, &caller.actor(), post_id(&id)?).await?;
    Ok((TypedHeaderETag(view.post.version), Json(views::Post::new(&view, &zones(&state, &caller).await?))))
}

/// `ETag: "<version>"`: what `If-Match` sends back to approve this version.
pub struct TypedHeaderETag(u64);

impl axum::response::IntoResponseParts for TypedHeaderETag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: axum::response::ResponseParts) -> Result<axum::response::ResponseParts, Self::Error> {
        if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", self.0)) {
            res.headers_mut().insert(header::ETAG, v);
        }
        Ok(res)
    }
}

/// `GET /v1/posts?from=…&to=…&limit=…&cursor=…`: the calendar.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CalendarParams {
    /// Only posts with a delivery in this state: `pending_approval` is the approval queue.
    /// With a state and no `from`/`to`, the window is a year back to five years ahead.
    #[param(value_type = Option<DeliveryState>)]
    state: Option<String>,
    /// Only posts with a delivery to this channel.
    #[param(value_type = Option<uuid::Uuid>)]
    channel_id: Option<String>,
    /// RFC 3339 instant, or a plain date (`2027-01-04`: that day's start in the team's zone);
    /// years 1970–9999; default a week ago.
    #[param(value_type = Option<String>, format = DateTime, pattern = "^(19[7-9][0-9]|[2-9][0-9]{3})-")]
    from: Option<String>,
    /// RFC 3339 instant, exclusive, or a plain date, inclusive (the end of that day in the
    /// team's zone); default 30 days ahead.
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
    path = "/v1/posts",
    tag = "posts",
    operation_id = "list_posts",
    summary = "The calendar: posts with a delivery in [from, to)",
    params(CalendarParams),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "one page of the calendar", body = Page<views::Post>),
        (status = 401, response = super::error::Unauthorized),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Page<views::Post>>, ApiError> {
    let params: CalendarParams = super::listing::read(query)?;
    let filter = PostFilter {
        state: params.state.as_deref().map(|s| DeliveryState::parse("state", s)).transpose()?,
        channel: params.channel_id.as_deref().map(|s| ChannelId::parse("channel_id", s)).transpose()?,
    };
    let now = state.clock.now();
    // A queue (a state asked for) looks further than the calendar's default weeks.
    let (back, ahead) = match filter.state {
        Some(_) => (Duration::days(366), Duration::days(366 * crate::domain::HORIZON_YEARS)),
        None => (Duration::days(DEFAULT_PAST_DAYS), Duration::days(DEFAULT_FUTURE_DAYS)),
    };
    // A plain date is a day on the team's clock, as in reports: `to` then includes its day.
    let dated = |s: &Option<String>| s.as_deref().is_some_and(is_plain_date);
    let team_zone = match dated(&params.from) || dated(&params.to) {
        true => Some(caller.actor().team(&*state.store).await?.time_zone),
        false => None,
    };
    let from = match (&params.from, team_zone) {
        (Some(s), Some(zone)) if is_plain_date(s) => day_start("from", s, zone, 0)?,
        (Some(s), _) => instant("from", s)?,
        (None, _) => now - back,
    };
    let to = match (&params.to, team_zone) {
        (Some(s), Some(zone)) if is_plain_date(s) => day_start("to", s, zone, 1)?,
        (Some(s), _) => instant("to", s)?,
        (None, _) => now + ahead,
    };
    let page = super::listing::page_of(params.limit.as_deref(), params.cursor)?;
    let listing = service::list_posts(&*state.store, &caller.actor(), from, to, &filter, &page).await?;
    let zones = zones(&state, &caller).await?;
    Ok(Json(Page { items: listing.items.iter().map(|v| views::Post::new(v, &zones)).collect(), next: listing.next.clone() }))
}

#[utoipa::path(
    patch,
    path = "/v1/posts/{id}",
    tag = "posts",
    operation_id = "update_post",
    summary = "Change a post until a delivery is publishing",
    params(("id" = uuid::Uuid, Path, description = "the post id (a UUID)")),
    request_body = PatchPostBody,
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the changed post", body = views::Post),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "a delivery is already publishing, or changed concurrently", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchPostBody>,
) -> Result<Json<views::Post>, ApiError> {
    let id = post_id(&id)?;
    if body.channel_ids.is_some() {
        return Err(ValidationError::new(
            "channel_ids",
            "cannot change on an existing post; cancel it and create a new one for other channels",
        )
        .into());
    }
    let mut changes = PostChanges {
        text: body.text.as_deref().map(|t| PostText::parse("text", t)).transpose()?,
        variants: body.variants.map(variants).transpose()?,
        media: body.media.map(media).transpose()?,
        publish_at: body.publish_at.as_ref().map(PublishAt::parse).transpose()?,
        draft: body.draft,
        first_comment: body.first_comment.map(|c| first_comment(c.as_deref())).transpose()?,
        reply_control: body.reply_control.map(|r| reply_control(r.as_deref())).transpose()?,
    };
    if let Some(media) = changes.media.as_mut() {
        crate::services::media::check_uploads(&*state.media, &caller.actor(), media).await?;
    }
    let view = service::update_post(&*state.store, &*state.clock, &*state.events, &caller.actor(), id, changes).await?;
    Ok(Json(views::Post::new(&view, &zones(&state, &caller).await?)))
}

#[utoipa::path(
    post,
    path = "/v1/posts/{id}/cancel",
    tag = "posts",
    operation_id = "cancel_post",
    summary = "Cancel every delivery not yet publishing or published",
    params(("id" = uuid::Uuid, Path, description = "the post id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the post", body = views::Post),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "nothing left to cancel", body = super::error::ApiErrorBody),
    ),
)]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Post>, ApiError> {
    let view =
        service::cancel_post(&*state.store, &*state.clock, &caller.actor(), post_id(&id)?).await?;
    Ok(Json(views::Post::new(&view, &zones(&state, &caller).await?)))
}

/// `POST /v1/posts/{id}/approve`: the version of the post the editor read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// The post's `version` as you read it (`GET /v1/posts/{id}`); if the post changed since,
    /// the approval is refused (409) so nobody approves text they did not see.
    #[serde(deserialize_with = "super::whole_number")]
    version: u64,
}

#[utoipa::path(
    post,
    path = "/v1/posts/{id}/approve",
    tag = "posts",
    operation_id = "approve_post",
    summary = "Approve deliveries awaiting approval, as you read the post (editor/admin)",
    description = "Send the `version` you read, in the body `{\"version\": n}` or as `If-Match: \"n\"` \
        (the `ETag` of `GET /v1/posts/{id}`). A post changed since that version is 409.",
    params(
        ("id" = uuid::Uuid, Path, description = "the post id (a UUID)"),
        ("If-Match" = Option<String>, Header, pattern = "^(W/)?\"?[0-9]{1,19}\"?$", description = "the post's ETag as you read it, instead of `version` in the body"),
    ),
    request_body(content = ApproveBody, description = "`{\"version\": n}`, unless `If-Match` says it"),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the post", body = views::Post),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "nothing awaits approval, or the post changed since the version you read", body = super::error::ApiErrorBody),
        (status = 422, description = "no version given, or their time has passed", body = super::error::ApiErrorBody),
    ),
)]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<views::Post>, ApiError> {
    let id = post_id(&id)?;
    // The role first: a contributor learns it may not approve, whatever it sent.
    caller.actor().require(Role::Editor, service::APPROVERS_ONLY)?;
    let seen = match headers.get(header::IF_MATCH) {
        Some(tag) => Some(etag_version(tag)?),
        None if body.iter().all(u8::is_ascii_whitespace) => None,
        None => Some(super::parse_json::<ApproveBody>(&body)?.version),
    };
    let view = service::approve_post(&*state.store, &*state.clock, &caller.actor(), id, seen).await?;
    Ok(Json(views::Post::new(&view, &zones(&state, &caller).await?)))
}

/// The version an `If-Match` names: `"3"` (or `W/"3"`).
fn etag_version(tag: &HeaderValue) -> Result<u64, ValidationError> {
    tag.to_str()
        .ok()
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ValidationError::new("If-Match", "must be the post's ETag, like \"3\""))
}

/// `POST /v1/posts/{id}/reject`: what the author should change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Kept on the post and shown to its author until the post is approved.
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    comment: String,
}

#[utoipa::path(
    post,
    path = "/v1/posts/{id}/reject",
    tag = "posts",
    operation_id = "reject_post",
    summary = "Send a post awaiting approval back to its author as a draft, with a comment (editor/admin)",
    params(("id" = uuid::Uuid, Path, description = "the post id (a UUID)")),
    request_body = RejectBody,
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the post, a draft again, with the comment as `review`", body = views::Post),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "nothing awaits approval, or the post changed meanwhile", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<views::Post>, ApiError> {
    let id = post_id(&id)?;
    let view =
        service::reject_post(&*state.store, &*state.clock, &*state.events, &caller.actor(), id, &body.comment).await?;
    Ok(Json(views::Post::new(&view, &zones(&state, &caller).await?)))
}

#[utoipa::path(
    post,
    path = "/v1/posts/{id}/retry",
    tag = "posts",
    operation_id = "retry_post",
    summary = "Retry failed deliveries now (editor/admin)",
    params(("id" = uuid::Uuid, Path, description = "the post id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the post", body = views::Post),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such post in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "no failed delivery", body = super::error::ApiErrorBody),
    ),
)]
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Post>, ApiError> {
    let view = service::retry_post(&*state.store, &*state.clock, &caller.actor(), post_id(&id)?).await?;
    Ok(Json(views::Post::new(&view, &zones(&state, &caller).await?)))
}

/// A path id that is not even a UUID names no post: 404, like any unknown id.
pub(crate) fn post_id(s: &str) -> Result<PostId, ApiError> {
    PostId::parse("id", s)
        .map_err(|_| ApiError::Missing { message: format!("no post `{s}` in your team"), field: None })
}

/// Ids that are not UUIDs name no channel of the team: 404 on `channel_ids`, like unknown ones.
pub(crate) fn channel_ids(ids: &[String]) -> Result<Vec<ChannelId>, ApiError> {
    let mut out = Vec::with_capacity(ids.len());
    let mut bad = Vec::new();
    for id in ids {
        match ChannelId::parse("channel_ids", id) {
            Ok(c) => out.push(c),
            Err(_) => bad.push(format!("`{id}`")),
        }
    }
    if !bad.is_empty() {
        let noun = if bad.len() == 1 { "channel" } else { "channels" };
        return Err(ApiError::Missing {
            message: format!("no {noun} {} in your team", bad.join(", ")),
            field: Some("channel_ids".into()),
        });
    }
    Ok(out)
}

pub(crate) fn variants(raw: BTreeMap<String, String>) -> Result<BTreeMap<Platform, PostText>, ValidationError> {
    raw.into_iter()
        .map(|(platform, text)| {
            let field = format!("variants.{platform}");
            Ok((Platform::parse(&field, &platform)?, PostText::parse(&field, &text)?))
        })
        .collect()
}

/// A first comment as given: blank (or absent) is none; otherwise the rules of a post's text.
pub(crate) fn first_comment(raw: Option<&str>) -> Result<Option<PostText>, ValidationError> {
    raw.filter(|c| !c.trim().is_empty()).map(|c| PostText::parse("first_comment", c)).transpose()
}

/// `reply_control` as given: one of Threads' values.
pub(crate) fn reply_control(raw: Option<&str>) -> Result<Option<ReplyControl>, ValidationError> {
    raw.map(|r| ReplyControl::parse("reply_control", r)).transpose()
}

pub(crate) fn media(raw: Vec<MediaBody>) -> Result<Vec<MediaRef>, ValidationError> {
    if raw.len() > MAX_MEDIA {
        return Err(ValidationError::new("media", format!("at most {MAX_MEDIA} items per post")));
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, m)| {
            if m.alt.as_ref().is_some_and(|a| a.chars().count() > MAX_ALT_CHARS) {
                return Err(ValidationError::new(
                    format!("media[{i}].alt"),
                    format!("must be at most {MAX_ALT_CHARS} characters"),
                ));
            }
            MediaRef::parse(&format!("media[{i}].url"), &m.url, m.alt)
        })
        .collect()
}

/// The zone of each of the caller's team's channels, to show delivery times on their clocks.
pub(super) async fn zones(state: &AppState, caller: &Caller) -> Result<views::Zones, ApiError> {
    Ok(views::Zones::of(&state.store.list_channels(&caller.actor().team_id).await?))
}

/// `2027-01-04`: a date, not an instant.
fn is_plain_date(s: &str) -> bool {
    let s = s.trim();
    s.len() == 10 && !s.contains(['T', 't', ' '])
}

/// When the day `s` plus `days_after` days begins in `zone`.
fn day_start(field: &str, s: &str, zone: chrono_tz::Tz, days_after: u64) -> Result<chrono::DateTime<chrono::Utc>, ValidationError> {
    let day = crate::domain::parse_date(field, s)?;
    let day = day
        .checked_add_days(chrono::Days::new(days_after))
        .ok_or_else(|| ValidationError::new(field, format!("`{s}` is the last day Herald reads")))?;
    Ok(crate::services::reports::midnight(day, zone))
}
