//! API-key authentication: `Authorization: Bearer hrld_…`, looked up by its SHA-256.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::{ApiError, AppState};
use crate::domain::{ApiKeyId, KeyHash, Role, TeamId};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub team_id: TeamId,
    pub role: Role,
    pub key_id: ApiKeyId,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing Authorization: Bearer <api key>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized("Authorization must be `Bearer <api key>`"))?;
        let key = state
            .store
            .api_key_by_hash(&KeyHash::of(token))
            .await?
            .ok_or(ApiError::Unauthorized("unknown or revoked API key"))?;
        Ok(Caller { team_id: key.team_id, role: key.role, key_id: key.id })
    }
}
