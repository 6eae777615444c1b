//! The port for metric polling: what a network says about one published post (its engagement
//! counters) and about the account (its followers). Each network offers what it has; a counter
//! it does not offer is `None`, never 0 (platforms.md "Metrics": Mastodon §1.3, Bluesky §2.3).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PublishError;
use crate::crypto::Credentials;
use crate::domain::{Channel, MetricCounters};

/// Why a metrics read did not work, sorted by what the poller does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// 429: leave the channel alone until `retry_after` (or the next round).
    #[error("rate limited")]
    RateLimited { retry_after: Option<Duration> },
    /// The token is expired or revoked: `Channel Needs Reconnect`, once.
    #[error("{reason}")]
    Auth { reason: String },
    /// The post is gone (deleted, or hidden from this account): stop asking about it.
    #[error("the post is gone")]
    Gone,
    /// Anything else (network, 5xx, an answer Herald cannot read): try again next round.
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<PublishError> for MetricsError {
    fn from(e: PublishError) -> Self {
        match e {
            PublishError::Auth { reason } => MetricsError::Auth { reason },
            PublishError::Transient { reason, retry_after } if reason.contains("rate limit") => {
                MetricsError::RateLimited { retry_after }
            }
            PublishError::Transient { reason, .. } | PublishError::Permanent { reason } => MetricsError::Failed { reason },
        }
    }
}

#[async_trait]
pub trait MetricsAdapter: Send + Sync {
    /// The counters of one post the channel published (`platform_post_id` as the publisher
    /// recorded it), `published_at` being when it went out.
    async fn post_counters(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        platform_post_id: &str,
        published_at: DateTime<Utc>,
    ) -> Result<MetricCounters, MetricsError>;

    /// The account's followers now, or `None` when the network does not say.
    async fn followers(&self, channel: &Channel, credentials: &Credentials) -> Result<Option<u64>, MetricsError>;
}
