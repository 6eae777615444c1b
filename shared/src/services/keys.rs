//! Teams and API keys.

use chrono_tz::Tz;

use crate::clock::Clock;
use crate::domain::{ApiKey, ApiKeyId, ApiKeySecret, Role, Team, TeamId};
use crate::store::{Store, StoreError, StoreResult};

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
        Team { language: Default::default(), logo: None, version: 0, id: id.clone(), name: id.to_string(), time_zone, created_at: clock.now(), calendar_token_hash: None, watch_terms: vec![], report_schedule: Default::default() };
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
