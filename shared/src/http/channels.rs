//! `/v1/channels`: a team's connected accounts. Credentials go in and never come out: responses
//! say `"has_credentials"` only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::views::{self, Items};
use super::schemas;
use super::{ApiError, ApiJson, AppState, Caller};
use crate::crypto::Credentials;
use crate::domain::{
    ChannelId, ChannelName, Platform, QueueSlot, ValidationError, parse_slot_time, parse_time_zone, parse_weekday,
};
use crate::services::channels::{self as service, ChannelChanges, NewChannel};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelBody {
    #[schema(value_type = Platform)]
    platform: String,
    /// What people call it, `@cafe@mastodon.social`.
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    name: String,
    #[schema(schema_with = schemas::time_zone)]
    time_zone: String,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_credentials)]
    credentials: Option<Value>,
    /// Weekly posting slots in the channel's zone, each once.
    #[serde(default)]
    #[schema(schema_with = schemas::queue_slots)]
    queue_slots: Vec<SlotBody>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotBody {
    #[schema(schema_with = schemas::weekday)]
    weekday: String,
    #[schema(schema_with = schemas::slot_time)]
    time: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchChannelBody {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    name: Option<String>,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_time_zone)]
    time_zone: Option<String>,
    /// Present-and-null removes the credentials; absent leaves them.
    #[serde(default, deserialize_with = "super::present")]
    #[schema(schema_with = schemas::optional_credentials)]
    credentials: Option<Value>,
    #[serde(default)]
    #[schema(schema_with = schemas::optional_queue_slots)]
    queue_slots: Option<Vec<SlotBody>>,
    /// Accepted only to refuse it with a clear message (a channel's network never changes), so
    /// not part of the documented body.
    #[serde(default)]
    #[schema(ignore)]
    platform: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/v1/channels",
    tag = "channels",
    operation_id = "create_channel",
    summary = "Connect an account (admin)",
    request_body = CreateChannelBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the channel; credentials never shown again", body = views::Channel, links(
            ("get_channel" = (operation_id = "get_channel", parameters(("id" = "$response.body#/id")))),
            ("update_channel" = (operation_id = "update_channel", parameters(("id" = "$response.body#/id")))),
            ("delete_channel" = (operation_id = "delete_channel", parameters(("id" = "$response.body#/id")))),
            ("suggest_slots" = (operation_id = "suggest_slots", parameters(("id" = "$response.body#/id")))),
            ("webhook_handshake" = (operation_id = "webhook_handshake", parameters(("platform" = "$response.body#/platform"), ("channel_id" = "$response.body#/id")))),
            ("receive_webhook" = (operation_id = "receive_webhook", parameters(("platform" = "$response.body#/platform"), ("channel_id" = "$response.body#/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateChannelBody>,
) -> Result<(StatusCode, Json<views::Channel>), ApiError> {
    let new = NewChannel {
        platform: Platform::parse("platform", &body.platform)?,
        name: ChannelName::parse("name", &body.name)?,
        time_zone: parse_time_zone("time_zone", &body.time_zone)?,
        credentials: parse_credentials(body.credentials)?,
        queue_slots: parse_slots(&body.queue_slots)?,
    };
    state.check_platform_available(new.platform)?;
    let channel = service::create_channel(&*state.store, &*state.clock, &state.cipher, &state.adapters, &caller.actor(), new).await?;
    Ok((StatusCode::CREATED, Json(views::Channel::from(&channel))))
}

#[utoipa::path(
    get,
    path = "/v1/channels",
    tag = "channels",
    operation_id = "list_channels",
    summary = "The team's channels",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "every channel of the team", body = Items<views::Channel>),
        (status = 401, response = super::error::Unauthorized),
    ),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Items<views::Channel>>, ApiError> {
    let channels = service::list_channels(&*state.store, &caller.actor()).await?;
    let mut items = Vec::with_capacity(channels.len());
    for channel in &channels {
        items.push(with_reconnect(&state, channel).await?);
    }
    Ok(Json(Items { items }))
}

/// The channel's view with whether the network refused its credentials (read beside it).
async fn with_reconnect(state: &AppState, channel: &crate::domain::Channel) -> Result<views::Channel, ApiError> {
    let refused = crate::services::reconnect::needs_reconnect(&*state.store, channel).await.map_err(crate::services::ServiceError::from)?;
    let mut view = views::Channel::from(channel);
    view.needs_reconnect = refused.map(|r| views::NeedsReconnect { since: r.since, reason: r.reason });
    Ok(view)
}

#[utoipa::path(
    get,
    path = "/v1/channels/{id}",
    tag = "channels",
    operation_id = "get_channel",
    summary = "One channel",
    params(("id" = uuid::Uuid, Path, description = "the channel id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the channel", body = views::Channel),
        (status = 401, response = super::error::Unauthorized),
        (status = 404, description = "no such channel in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<views::Channel>, ApiError> {
    let channel = service::get_channel(&*state.store, &caller.actor(), channel_id(&id)?).await?;
    Ok(Json(with_reconnect(&state, &channel).await?))
}

#[utoipa::path(
    patch,
    path = "/v1/channels/{id}",
    tag = "channels",
    operation_id = "update_channel",
    summary = "Change a channel (admin)",
    params(("id" = uuid::Uuid, Path, description = "the channel id (a UUID)")),
    request_body = PatchChannelBody,
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the changed channel", body = views::Channel),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such channel in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "changed concurrently", body = super::error::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PatchChannelBody>,
) -> Result<Json<views::Channel>, ApiError> {
    let id = channel_id(&id)?;
    if body.platform.is_some() {
        return Err(
            ValidationError::new("platform", "cannot change; connect the other network as a new channel").into()
        );
    }
    let changes = ChannelChanges {
        name: body.name.as_deref().map(|n| ChannelName::parse("name", n)).transpose()?,
        time_zone: body.time_zone.as_deref().map(|z| parse_time_zone("time_zone", z)).transpose()?,
        credentials: match body.credentials {
            None => None,
            Some(v) => Some(parse_credentials(Some(v))?),
        },
        queue_slots: body.queue_slots.as_deref().map(parse_slots).transpose()?,
    };
    let channel =
        service::update_channel(&*state.store, &*state.clock, &state.cipher, &state.adapters, &caller.actor(), id, changes).await?;
    Ok(Json(with_reconnect(&state, &channel).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/channels/{id}",
    tag = "channels",
    operation_id = "delete_channel",
    summary = "Delete a channel and cancel its unpublished deliveries (admin)",
    params(("id" = uuid::Uuid, Path, description = "the channel id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 204, description = "deleted"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such channel in your team", body = super::error::ApiErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = channel_id(&id)?;
    service::delete_channel(&*state.store, &*state.clock, &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A path id that is not even a UUID names no channel: 404, like any unknown id.
fn channel_id(s: &str) -> Result<ChannelId, ApiError> {
    ChannelId::parse("id", s)
        .map_err(|_| ApiError::Missing { message: format!("no channel `{s}` in your team"), field: None })
}

fn parse_credentials(value: Option<Value>) -> Result<Option<Credentials>, ValidationError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Credentials::from_json("credentials", &v).map(Some),
    }
}

fn parse_slots(slots: &[SlotBody]) -> Result<Vec<QueueSlot>, ValidationError> {
    slots
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Ok(QueueSlot {
                weekday: parse_weekday(&format!("queue_slots[{i}].weekday"), &s.weekday)?,
                time: parse_slot_time(&format!("queue_slots[{i}].time"), &s.time)?,
            })
        })
        .collect()
}
