//! Teams and API keys.

use chrono_tz::Tz;

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{ApiKey, ApiKeyId, ApiKeySecret, Role, Team, TeamId, ValidationError};
use crate::store::{Store, StoreError, StoreResult};

const ADMIN_ONLY: &str = "only an admin key can manage API keys";

/// A key's name is at most this many characters.
pub const MAX_KEY_NAME: usize = 100;

/// Returns the team, creating it (named after its id, in `time_zone`) when it does not exist.
pub async fn ensure_team(
    store: &dyn Store,
    clock: &dyn Clock,
    id: &TeamId,
    time_zone: Tz,
) -> StoreResult<(Team, bool)> {
    if let Some(team) = store.get_team(id).await? {
        return Ok((team, false));
    }
    let team =
        Team { language: Default::default(), logo: None, brand: Default::default(), version: 0, id: id.clone(), name: id.to_string(), time_zone, created_at: clock.now(), calendar_token_hash: None, watch_terms: vec![], report_schedule: Default::default() };
    match store.create_team(&team).await {
        Ok(()) => Ok((team, true)),
        // Someone created it between our read and our write: theirs stands.
        Err(StoreError::AlreadyExists) => store.get_team(id).await?.map(|t| (t, false)).ok_or(StoreError::NotFound),
        Err(e) => Err(e),
    }
}

/// Mints a key for a team. The secret is returned once and only its hash is stored.
pub async fn create_key(
    store: &dyn Store,
    clock: &dyn Clock,
    team: &TeamId,
    role: Role,
    name: &str,
) -> StoreResult<(ApiKey, ApiKeySecret)> {
    let secret = ApiKeySecret::generate();
    let key = ApiKey {
        id: ApiKeyId::new(),
        team_id: team.clone(),
        role,
        name: name.to_owned(),
        hash: secret.hash(),
        created_at: clock.now(),
    };
    store.put_api_key(&key).await?;
    Ok((key, secret))
}

/// A key made by an admin of the team (`POST /v1/keys`, the Settings page): named for people,
/// its secret returned once.
pub async fn create_team_key(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    role: Role,
    name: Option<&str>,
) -> Result<(ApiKey, ApiKeySecret), ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    let name = key_name(name)?;
    Ok(create_key(store, clock, &actor.team_id, role, &name).await?)
}

/// The team's keys (admin).
pub async fn list_keys(store: &dyn Store, actor: &Actor) -> Result<Vec<ApiKey>, ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    Ok(store.list_api_keys(&actor.team_id).await?)
}

/// Revokes one of the team's keys (admin), never the one making the request.
pub async fn revoke_key(store: &dyn Store, actor: &Actor, id: ApiKeyId) -> Result<(), ServiceError> {
    actor.require(Role::Admin, ADMIN_ONLY)?;
    if id == actor.key_id {
        return Err(ServiceError::Conflict("this is the key making the request; revoke it with another admin key".into()));
    }
    match store.delete_api_key(&actor.team_id, id).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound) => Err(ServiceError::not_found(format!("no API key `{id}` in your team"))),
        Err(e) => Err(e.into()),
    }
}

fn key_name(name: Option<&str>) -> Result<String, ValidationError> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ValidationError::new("name", "is required: a label for people, like \"ci\" or \"Marie's laptop\""));
    }
    if name.chars().count() > MAX_KEY_NAME {
        return Err(ValidationError::new("name", format!("must be at most {MAX_KEY_NAME} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new("name", "must not contain control characters"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ApiKeyStore;
    use crate::clock::SystemClock;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn ensure_team_creates_once_and_keys_authenticate() {
        let store = SqliteStore::in_memory().unwrap();
        let team = TeamId::parse("team", "cafe").unwrap();
        let (_, created) = ensure_team(&store, &SystemClock, &team, chrono_tz::UTC).await.unwrap();
        assert!(created);
        let (_, created) = ensure_team(&store, &SystemClock, &team, chrono_tz::UTC).await.unwrap();
        assert!(!created);
        let (key, secret) = create_key(&store, &SystemClock, &team, Role::Editor, "ci").await.unwrap();
        let found = store.api_key_by_hash(&crate::domain::KeyHash::of(secret.reveal())).await.unwrap();
        assert_eq!(found, Some(key));
    }
}
