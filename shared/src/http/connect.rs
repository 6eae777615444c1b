//! Connecting channels with OAuth ([`crate::services::connect`]): `POST
//! /v1/channels/connect/{platform}` answers the consent screen's address, the network sends the
//! person back to `GET /oauth/{platform}/callback`, and `GET /v1/connections/{id}` / `POST
//! /v1/connections/{id}/finish` list the accounts found and make channels of the chosen ones.
//!
//! The callback carries no key: its signed `state` is the permission. A browser is sent on to
//! the picker page (`/connect/{id}`) or shown what went wrong; any other client gets JSON.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::views::{self, Items};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{Platform, ValidationError, parse_time_zone};
use crate::services::connect::{self as service, CallbackQuery, ConnectError, PendingConnection};

/// Where to send the person to connect.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectStarted {
    /// The network's consent screen, with Herald's signed `state`: open it in the person's browser.
    pub authorize_url: String,
    /// The connection this leads to: `GET /v1/connections/{connection_id}` once the person is back.
    pub connection_id: Uuid,
    /// The `state` is refused after this (10 minutes).
    pub expires_at: DateTime<Utc>,
}

/// An account a connection found. Its token stays sealed in Herald; it is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoundAccount {
    /// What `finish` takes: `facebook:<page id>`, `instagram:<ig user id>`, `threads:<id>`.
    pub id: String,
    pub platform: Platform,
    /// The network's own id of the account.
    pub account_id: String,
    /// The Page's name, or `@username`.
    pub name: String,
}

/// A connection waiting for the person to pick its accounts (30 minutes).
#[derive(Debug, Serialize, ToSchema)]
pub struct Connection {
    pub id: Uuid,
    /// The network the connection was started for.
    pub platform: Platform,
    pub expires_at: DateTime<Utc>,
    /// Whether its channels are made (a connection is finished once).
    pub finished: bool,
    pub accounts: Vec<FoundAccount>,
}

impl From<&PendingConnection> for Connection {
    fn from(p: &PendingConnection) -> Self {
        Connection {
            id: p.id,
            platform: p.platform,
            expires_at: p.expires_at,
            finished: p.finished,
            accounts: p
                .accounts
                .iter()
                .map(|a| FoundAccount { id: a.id.clone(), platform: a.platform, account_id: a.account_id.clone(), name: a.name.clone() })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishBody {
    /// Account ids from the connection, each once: one channel is made per account.
    #[schema(min_items = 1)]
    accounts: Vec<String>,
    /// The channels' IANA time zone; the team's when absent.
    #[serde(default)]
    #[schema(example = "Europe/Paris")]
    time_zone: Option<String>,
}

fn platform(raw: &str) -> Result<Platform, ApiError> {
    Ok(Platform::parse("platform", raw)?)
}

fn connection_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ValidationError::new("id", "is not a connection id").into())
}

#[utoipa::path(
    post,
    path = "/v1/channels/connect/{platform}",
    tag = "channels",
    operation_id = "start_connect",
    summary = "Start connecting accounts with OAuth (admin): the consent screen's address",
    params(("platform" = Platform, Path, description = "facebook, instagram or threads")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "open `authorize_url` in the person's browser", body = ConnectStarted, links(
            ("get_connection" = (operation_id = "get_connection", parameters(("id" = "$response.body#/connection_id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 422, description = "not a network connected with OAuth, or not configured on this server (the message names the variable to set)", body = super::ApiErrorBody),
    ),
)]
pub async fn start(State(state): State<AppState>, caller: Caller, Path(raw): Path<String>) -> Result<Json<ConnectStarted>, ApiError> {
    let platform = platform(&raw)?;
    let started = service::start(&state.connect, &state.cipher, &*state.clock, &caller.actor(), platform)?;
    Ok(Json(ConnectStarted {
        authorize_url: started.authorize_url.to_string(),
        connection_id: started.connection_id,
        expires_at: started.expires_at,
    }))
}

#[utoipa::path(
    get,
    path = "/oauth/{platform}/callback",
    tag = "channels",
    operation_id = "connect_callback",
    summary = "Where the network sends the person back; no key (the signed state is the permission)",
    params(
        ("platform" = Platform, Path, description = "the network the connection was started for"),
        ("code" = Option<String>, Query, description = "the authorization code"),
        ("state" = String, Query, description = "Herald's signed state, as sent"),
        ("error" = Option<String>, Query, description = "`access_denied` when the person declined"),
        ("error_description" = Option<String>, Query, description = "the network's words"),
    ),
    responses(
        (status = 200, description = "the accounts found (a client that does not ask for HTML)", body = Connection),
        (status = 303, description = "a browser: on to the picker page `/connect/{id}`"),
        (status = 400, description = "the state is missing, forged, changed, for another network or expired; the person declined; no code", body = super::ApiErrorBody),
        (status = 409, description = "this state was already used", body = super::ApiErrorBody),
        (status = 422, description = "`platform` is not a network Herald knows", body = super::ApiErrorBody),
        (status = 502, description = "the network refused the code or answered otherwise than documented", body = super::ApiErrorBody),
        (status = 503, description = "the network could not be reached; start again", body = super::ApiErrorBody),
    ),
)]
pub async fn callback(
    State(state): State<AppState>,
    Path(raw): Path<String>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let browser = wants_html(&headers);
    let result = async {
        let platform = platform(&raw)?;
        let Query(query) = query.map_err(|e| ApiError::BadRequest { message: e.body_text(), field: Some("query".into()) })?;
        service::callback(&*state.store, &*state.clock, &state.cipher, &state.connect, platform, &query)
            .await
            .map_err(api_error)
    }
    .await;
    match (result, browser) {
        (Ok(pending), true) => {
            (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/connect/{}", pending.id))]).into_response()
        }
        (Ok(pending), false) => Json(Connection::from(&pending)).into_response(),
        (Err(e), true) => crate::web::connect::callback_problem(e),
        (Err(e), false) => e.into_response(),
    }
}

/// A browser asks for HTML first; `curl` and API clients do not.
fn wants_html(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"))
}

/// The callback's refusals as the API says them.
pub(crate) fn api_error(e: ConnectError) -> ApiError {
    match e {
        ConnectError::State(why) => ApiError::BadRequest { message: why.to_string(), field: Some("state".into()) },
        ConnectError::Declined(message) => ApiError::BadRequest { message, field: Some("error".into()) },
        ConnectError::NoCode => ApiError::BadRequest { message: e.to_string(), field: Some("code".into()) },
        ConnectError::Network(reason) => ApiError::Platform(crate::platforms::PublishError::Permanent { reason }),
        ConnectError::Service(e) => e.into(),
    }
}

#[utoipa::path(
    get,
    path = "/v1/connections/{id}",
    tag = "channels",
    operation_id = "get_connection",
    summary = "The accounts a connection found (admin); never their tokens",
    params(("id" = Uuid, Path, description = "the `connection_id` of the start")),
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the accounts to pick from", body = Connection, links(
            ("finish_connection" = (operation_id = "finish_connection", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "not back from the network yet, expired, or another team's", body = super::ApiErrorBody),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn get(State(state): State<AppState>, caller: Caller, Path(raw): Path<String>) -> Result<Json<Connection>, ApiError> {
    let id = connection_id(&raw)?;
    let pending = service::get_connection(&*state.store, &*state.clock, &caller.actor(), id).await?;
    Ok(Json(Connection::from(&pending)))
}

#[utoipa::path(
    post,
    path = "/v1/connections/{id}/finish",
    tag = "channels",
    operation_id = "finish_connection",
    summary = "Make one channel per chosen account (admin)",
    params(("id" = Uuid, Path, description = "the connection")),
    request_body = FinishBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the channels made", body = Items<views::Channel>),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such connection waiting", body = super::ApiErrorBody),
        (status = 409, description = "already finished", body = super::ApiErrorBody),
        (status = 413, response = super::error::TooLarge),
        (status = 422, response = super::error::Invalid),
    ),
)]
pub async fn finish(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<FinishBody>,
) -> Result<(StatusCode, Json<Items<views::Channel>>), ApiError> {
    let id = connection_id(&raw)?;
    let actor = caller.actor();
    let time_zone = match &body.time_zone {
        Some(tz) => parse_time_zone("time_zone", tz)?,
        None => actor.team(&*state.store).await?.time_zone,
    };
    let made = service::finish(&*state.store, &*state.clock, &state.cipher, &state.adapters, &actor, id, &body.accounts, time_zone).await?;
    Ok((StatusCode::CREATED, Json(Items { items: made.iter().map(views::Channel::from).collect() })))
}
