//! The port for metric polling: what a network says about published posts (their engagement
//! counters) and about the account (its followers). Each network offers what it has; a counter
//! it does not offer is `None`, never 0 (platforms.md "Metrics": Mastodon §1.3, Bluesky §2.3).
//!
//! Posts are read in batches where the network allows it (Bluesky's `getPosts` takes 25 URIs):
//! [`MetricsAdapter::max_batch`] says how many posts one request can read and
//! [`MetricsAdapter::post_counters_batch`] reads them. A network without batches keeps the
//! default: one post per batch, read with [`MetricsAdapter::post_counters`].

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

/// One published post to read: its id on the network (as the publisher recorded it) and when
/// it went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostRef<'a> {
    pub platform_post_id: &'a str,
    pub published_at: DateTime<Utc>,
}

/// One post's answer in a batched read: its counters, or why they could not be read.
pub type PostAnswer = Result<MetricCounters, MetricsError>;

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

    /// How many posts [`post_counters_batch`](Self::post_counters_batch) reads with one
    /// request: callers hand it at most this many at a time. 1 (the default) when the network
    /// has no batched read.
    fn max_batch(&self) -> usize {
        1
    }

    /// The counters of several posts of the channel: one answer per post of `posts`, in the same
    /// order. A post's own failure is its answer (`Gone` for a post the network no longer
    /// shows). The outer error means the batch as a whole got no answer: a rate limit or a
    /// refused token (the caller leaves the channel alone, as for a single read), or a request
    /// that failed as a whole ([`MetricsError::Failed`], tried again next round). Handed more
    /// than [`max_batch`](Self::max_batch) posts, an adapter still answers them all.
    ///
    /// The default reads the posts one after the other with
    /// [`post_counters`](Self::post_counters), stopping at the first rate limit or refused token
    /// (the answers read before it are dropped: the caller reads the batch again later).
    async fn post_counters_batch(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        posts: &[PostRef<'_>],
    ) -> Result<Vec<PostAnswer>, MetricsError> {
        let mut answers = Vec::with_capacity(posts.len());
        for post in posts {
            match self.post_counters(channel, credentials, post.platform_post_id, post.published_at).await {
                Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => return Err(e),
                answer => answers.push(answer),
            }
        }
        Ok(answers)
    }

    /// The account's followers now, or `None` when the network does not say.
    async fn followers(&self, channel: &Channel, credentials: &Credentials) -> Result<Option<u64>, MetricsError>;
}

/// [`MetricsAdapter::post_counters`] for an adapter whose batched read is the primitive: one
/// post read as a batch of one.
pub async fn read_as_batch_of_one<A: MetricsAdapter + ?Sized>(
    adapter: &A,
    channel: &Channel,
    credentials: &Credentials,
    platform_post_id: &str,
    published_at: DateTime<Utc>,
) -> Result<MetricCounters, MetricsError> {
    let post = [PostRef { platform_post_id, published_at }];
    adapter.post_counters_batch(channel, credentials, &post).await?.pop().unwrap_or(Err(MetricsError::Gone))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ChannelId, ChannelName, Platform, TeamId};
    use chrono::TimeZone;
    use std::sync::Mutex;

    /// A network without batched reads: answers by post id, remembers what it was asked.
    struct OneByOne {
        asked: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl MetricsAdapter for OneByOne {
        async fn post_counters(
            &self,
            _channel: &Channel,
            _credentials: &Credentials,
            platform_post_id: &str,
            _published_at: DateTime<Utc>,
        ) -> Result<MetricCounters, MetricsError> {
            self.asked.lock().unwrap().push(platform_post_id.to_owned());
            match platform_post_id {
                "gone" => Err(MetricsError::Gone),
                "broken" => Err(MetricsError::Failed { reason: "outage".into() }),
                "limit" => Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(60)) }),
                id => Ok(MetricCounters { likes: Some(id.len() as u64), ..Default::default() }),
            }
        }

        async fn followers(&self, _: &Channel, _: &Credentials) -> Result<Option<u64>, MetricsError> {
            Ok(None)
        }
    }

    #[tokio::test]
    async fn the_default_batch_reads_post_by_post_and_stops_at_a_rate_limit() {
        let t = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let channel = Channel {
            id: ChannelId::new(),
            team_id: TeamId::parse("team", "cafe").unwrap(),
            platform: Platform::Sandbox,
            name: ChannelName::parse("name", "cafe").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: t,
            updated_at: t,
        };
        let creds = Credentials::default();
        let adapter = OneByOne { asked: Mutex::new(vec![]) };
        assert_eq!(adapter.max_batch(), 1);
        let refs = |ids: &[&'static str]| -> Vec<PostRef<'static>> {
            ids.iter().map(|id| PostRef { platform_post_id: id, published_at: t }).collect()
        };

        let answers = adapter.post_counters_batch(&channel, &creds, &refs(&["abc", "gone", "broken", "abcde"])).await;
        assert_eq!(
            answers,
            Ok(vec![
                Ok(MetricCounters { likes: Some(3), ..Default::default() }),
                Err(MetricsError::Gone),
                Err(MetricsError::Failed { reason: "outage".into() }),
                Ok(MetricCounters { likes: Some(5), ..Default::default() }),
            ])
        );

        adapter.asked.lock().unwrap().clear();
        let answers = adapter.post_counters_batch(&channel, &creds, &refs(&["abc", "limit", "abcde"])).await;
        assert_eq!(answers, Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(60)) }));
        assert_eq!(*adapter.asked.lock().unwrap(), vec!["abc", "limit"], "nothing asked after the rate limit");
        assert_eq!(adapter.post_counters_batch(&channel, &creds, &[]).await, Ok(vec![]));
    }
}
