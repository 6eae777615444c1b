//! Use cases, written once and called by every host: the HTTP handlers, the Lambda mains and
//! the `herald` CLI.
//!
//! How wide a port argument is, everywhere: a use case takes the whole store (`store: &dyn
//! Store`, one argument however many aggregates it touches; the tests run the real SQLite) and
//! each other port it uses by itself (`clock: &dyn Clock`, `cipher: &CredentialCipher`, …). A
//! private helper may take the one store port it uses (`&dyn PostStore`). The long-running
//! workers (publisher, metric poller, intake) hold the host's [`crate::ports::Ports`].

pub mod calendar;
pub mod channels;
pub mod connect;
pub mod import;
pub mod inbox;
pub mod keys;
pub mod media;
pub mod metrics;
pub mod people;
pub mod posts;
pub mod publisher;
pub mod reconnect;
pub mod reports;
pub mod series;
pub mod team;

use crate::domain::{ApiKeyId, Role, TeamId, ValidationError};
use crate::store::StoreError;

/// Who is acting: the team whose data the call may touch, and what their role allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub team_id: TeamId,
    pub role: Role,
    pub key_id: ApiKeyId,
}

impl Actor {
    /// Refuses unless the actor's role includes `needed`; `why` says what the role is for.
    pub fn require(&self, needed: Role, why: &'static str) -> Result<(), ServiceError> {
        if self.role.includes(needed) { Ok(()) } else { Err(ServiceError::Forbidden(why)) }
    }

    /// The actor's team, read from `teams` (a key outliving its team is a 404).
    pub async fn team(&self, teams: &dyn crate::store::TeamStore) -> Result<crate::domain::Team, ServiceError> {
        teams.get_team(&self.team_id).await?.ok_or_else(|| ServiceError::not_found("your team no longer exists"))
    }
}

/// What a use case can refuse with. The HTTP layer maps each to a status; the CLI prints it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The role does not allow it (403).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Absent, or another team's (404): `field` names the input that pointed at it.
    #[error("{message}")]
    NotFound { message: String, field: Option<String> },
    /// The current state does not allow it (409).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A network the call had to ask could not answer (503, with its `Retry-After`): nothing
    /// was changed, the same call may be made again.
    #[error("{reason}")]
    Unavailable { reason: String, retry_after: Option<std::time::Duration> },
}

impl ServiceError {
    pub fn not_found(message: impl Into<String>) -> Self {
        ServiceError::NotFound { message: message.into(), field: None }
    }
}
