//! The port every network's publishing adapter implements.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::inbox::InboxAdapter;
use super::metrics::MetricsAdapter;
use super::tokens::TokenAdapter;
use crate::crypto::Credentials;
use crate::domain::{Channel, Delivery, MediaRef, Platform, ReplyControl};
use crate::media::MediaFiles;

/// Everything an adapter needs to publish one delivery.
pub struct PublishRequest<'a> {
    pub delivery: &'a Delivery,
    pub channel: &'a Channel,
    pub credentials: &'a Credentials,
    /// The text for this platform (the post's variant for it, or its text).
    pub text: &'a str,
    pub media: &'a [MediaRef],
    /// Where the files `media` names by a `herald-media:` reference are kept.
    pub media_files: &'a dyn MediaFiles,
    /// Said right after the post: a comment under it (Instagram, Facebook) or a reply to it
    /// (Threads). Best effort: the post is what the delivery is about, so an adapter that
    /// published logs a failed comment and still answers `Ok` (retrying would post twice).
    /// Adapters of other networks ignore it (posts asking for it were refused at creation).
    pub first_comment: Option<&'a str>,
    /// Who may reply, on Threads; other adapters ignore it.
    pub reply_control: Option<ReplyControl>,
}

impl PublishRequest<'_> {
    /// A handle that is the same on every attempt of this delivery, for the platform's own
    /// idempotency mechanism (Mastodon `Idempotency-Key`, the seed of a Bluesky `rkey`).
    pub fn idempotency_key(&self) -> String {
        format!("herald-{}", self.delivery.id)
    }
}

/// What the platform said about a post that exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub platform_post_id: String,
    pub url: Option<String>,
    /// When the platform says it was published, if it says.
    pub published_at: Option<DateTime<Utc>>,
}

/// Why publishing did not work, sorted by what the publisher must do next. `reason` is for
/// people: it ends up on the delivery and in the `Post Failed` event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// Worth trying again later: timeouts, 5xx, 429. `retry_after` is the platform's own word
    /// (`Retry-After`, rate-limit reset headers) when it gave one.
    #[error("{reason}")]
    Transient { reason: String, retry_after: Option<Duration> },
    /// Will fail the same way every time: text too long, media rejected, post refused.
    #[error("{reason}")]
    Permanent { reason: String },
    /// The token is expired or revoked: the channel needs reconnecting.
    #[error("{reason}")]
    Auth { reason: String },
}

#[async_trait]
pub trait PlatformAdapter: Send + Sync {
    /// Publishes, using the request's idempotency key wherever the platform has a mechanism
    /// for it, so that a repeated attempt does not make a second post.
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError>;

    /// After a claim expired mid-publish: does this delivery's post already exist on the
    /// platform? `Ok(None)` means it is safe to publish again.
    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError>;

    /// When a channel is connected or its credentials replaced: one cheap authenticated call
    /// that says whether the network takes them (their shape was checked already, by
    /// [`super::credentials::check_shape`]). `Auth` means refused, `Transient` that the
    /// network could not be asked.
    async fn check_credentials(&self, channel: &Channel, credentials: &Credentials) -> Result<(), PublishError>;
}

/// The adapters a host wires in, by platform: publishing, inbox (polling and replying),
/// metrics, and renewing tokens that expire.
#[derive(Clone, Default)]
pub struct Adapters(
    HashMap<Platform, Arc<dyn PlatformAdapter>>,
    HashMap<Platform, Arc<dyn InboxAdapter>>,
    HashMap<Platform, Arc<dyn MetricsAdapter>>,
    HashMap<Platform, Arc<dyn TokenAdapter>>,
);

impl Adapters {
    pub fn with(mut self, platform: Platform, adapter: Arc<dyn PlatformAdapter>) -> Self {
        self.0.insert(platform, adapter);
        self
    }

    pub fn get(&self, platform: Platform) -> Option<&Arc<dyn PlatformAdapter>> {
        self.0.get(&platform)
    }

    pub fn with_inbox(mut self, platform: Platform, adapter: Arc<dyn InboxAdapter>) -> Self {
        self.1.insert(platform, adapter);
        self
    }

    pub fn inbox(&self, platform: Platform) -> Option<&Arc<dyn InboxAdapter>> {
        self.1.get(&platform)
    }

    pub fn with_metrics(mut self, platform: Platform, adapter: Arc<dyn MetricsAdapter>) -> Self {
        self.2.insert(platform, adapter);
        self
    }

    pub fn metrics(&self, platform: Platform) -> Option<&Arc<dyn MetricsAdapter>> {
        self.2.get(&platform)
    }

    pub fn with_tokens(mut self, platform: Platform, adapter: Arc<dyn TokenAdapter>) -> Self {
        self.3.insert(platform, adapter);
        self
    }

    pub fn tokens(&self, platform: Platform) -> Option<&Arc<dyn TokenAdapter>> {
        self.3.get(&platform)
    }
}
