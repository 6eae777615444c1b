//! `/v1/keys`: a team's API keys, admin only. A new key is shown once, in the creation
//! response; afterwards only its id, role and name are.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::views::{self, Items};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::domain::{ApiKeyId, Role};
use crate::services::keys as service;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyBody {
    #[schema(value_type = Role)]
    role: String,
    /// A label for people: `ci`, `Marie's laptop`.
    #[serde(default)]
    #[schema(value_type = String, required, min_length = 1, max_length = 100, pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$")]
    name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/keys",
    tag = "keys",
    operation_id = "create_key",
    summary = "Create an API key, shown this once (admin)",
    request_body = CreateKeyBody,
    security(("ApiKey" = [])),
    responses(
        (status = 201, description = "the key, with its secret shown this once", body = views::NewKey, links(
            ("delete_key" = (operation_id = "delete_key", parameters(("id" = "$response.body#/id")))),
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
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<(StatusCode, Json<views::NewKey>), ApiError> {
    let role = Role::parse("role", &body.role)?;
    let (key, secret) = service::create_team_key(&*state.store, &*state.clock, &caller.actor(), role, body.name.as_deref()).await?;
    tracing::info!(key_id = %key.id, role = %key.role, "API key created");
    Ok((StatusCode::CREATED, Json(views::NewKey { key: views::Key::from(&key), secret: secret.reveal().to_owned() })))
}

#[utoipa::path(
    get,
    path = "/v1/keys",
    tag = "keys",
    operation_id = "list_keys",
    summary = "The team's API keys, never the secrets (admin)",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "every key of the team", body = Items<views::Key>),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
    ),
)]
pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Items<views::Key>>, ApiError> {
    let keys = service::list_keys(&*state.store, &caller.actor()).await?;
    Ok(Json(Items { items: keys.iter().map(views::Key::from).collect() }))
}

/// Revokes a key at once. The key making the call cannot revoke itself (that is how a team
/// locks itself out): create another admin key first, then revoke this one with it.
#[utoipa::path(
    delete,
    path = "/v1/keys/{id}",
    tag = "keys",
    operation_id = "delete_key",
    summary = "Revoke an API key at once (admin)",
    params(("id" = uuid::Uuid, Path, description = "the key id (a UUID)")),
    security(("ApiKey" = [])),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, response = super::error::Unauthorized),
        (status = 403, response = super::error::Forbidden),
        (status = 404, description = "no such key in your team", body = super::error::ApiErrorBody),
        (status = 409, description = "this is the key making the request", body = super::error::ApiErrorBody),
    ),
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let missing = || ApiError::Missing { message: format!("no API key `{id}` in your team"), field: None };
    let key_id = ApiKeyId::parse("id", &id).map_err(|_| missing())?;
    service::revoke_key(&*state.store, &caller.actor(), key_id).await?;
    tracing::info!(key_id = %key_id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}
