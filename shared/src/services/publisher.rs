//! The publisher: finds due deliveries, claims each with a version-checked write and a lease,
//! waits for the exact second, publishes through the channel's adapter, records the outcome
//! and says so with an event. On AWS an EventBridge rule runs [`Publisher::run_once`] every
//! minute; `herald serve` runs it from a timer. Claims make concurrent runs safe: a delivery
//! is published by exactly one of them.
//!
//! Never twice: the adapter gets a per-delivery idempotency handle, and a delivery whose lease
//! ran out mid-publish (a crashed or timed-out run) is first *reconciled*: the adapter is asked
//! whether the post already exists before anything is published again.


use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use tracing::instrument::WithSubscriber;

use crate::domain::{Delivery, DeliveryState};
use crate::events::{Event, EventKind};
use crate::platforms::{PublishError, PublishRequest, Published};
use crate::ports::Ports;
use crate::store::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// How far ahead a run claims work (it then waits for each delivery's second).
    pub lookahead: Duration,
    /// How long a claim holds after the delivery's due time: the longest a publish may take.
    pub lease: Duration,
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Most deliveries one run takes on.
    pub batch: u32,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        Self {
            lookahead: Duration::seconds(60),
            lease: Duration::seconds(120),
            max_attempts: 5,
            base_backoff: Duration::seconds(30),
            max_backoff: Duration::minutes(30),
            batch: 500,
        }
    }
}

/// What one run did; the Lambda returns it, `serve` logs it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct RunSummary {
    pub due: usize,
    pub claimed: usize,
    pub published: usize,
    pub retrying: usize,
    pub failed: usize,
    /// Deliveries whose lease had expired and that were found already published.
    pub reconciled: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Published,
    Reconciled,
    Retrying,
    Failed,
    /// Someone else wrote the delivery meanwhile; their write stands.
    Lost,
}

/// What became of the write of an outcome ([`Publisher::write`]).
enum Written {
    /// Stored (perhaps by a try whose answer was lost).
    Stored(Box<Delivery>),
    /// Someone else wrote the delivery first; their write stands.
    Lost,
    /// Not stored: the delivery is still as this run claimed it. Its lease will run out and a
    /// later run will reconcile it.
    NotStored(StoreError),
    /// The store failed, and failed again when asked what it holds.
    Unknown(StoreError),
}

#[derive(Clone)]
pub struct Publisher {
    pub ports: Ports,
    pub config: PublisherConfig,
}

impl Publisher {
    pub fn new(ports: Ports, config: PublisherConfig) -> Self {
        Self { ports, config }
    }

    /// One pass: claim everything due within the lookahead, publish each at its second, and
    /// return when all of them are settled.
    pub async fn run_once(&self) -> StoreResult<RunSummary> {
        let now = self.ports.clock.now();
        let due = self.ports.store.due_deliveries(now + self.config.lookahead, self.config.batch).await?;
        let mut summary = RunSummary { due: due.len(), ..RunSummary::default() };
        let mut tasks = tokio::task::JoinSet::new();
        for seen in due {
            // Publish at the scheduled (or retry) second; an expired claim is taken over now.
            let start_at = match seen.state {
                DeliveryState::Scheduled => seen.due_at().unwrap_or(now).max(now),
                _ => now,
            };
            let lease = (start_at - now) + self.config.lease;
            let Ok(claim) = seen.claimed(now, self.config.lookahead, lease) else { continue };
            match self.ports.store.update_delivery(&claim).await {
                Ok(claimed) => {
                    summary.claimed += 1;
                    let reclaimed = seen.state == DeliveryState::Publishing;
                    let this = self.clone();
                    // Logs go where the caller's go (its subscriber, not only the global one).
                    tasks.spawn(async move { this.settle(claimed, start_at, reclaimed).await }.with_current_subscriber());
                }
                Err(StoreError::Conflict) => {} // another run claimed it first
                Err(e) => tracing::error!(delivery = %seen.id, error = %e, "claim failed"),
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(Outcome::Published)) => summary.published += 1,
                Ok(Ok(Outcome::Reconciled)) => summary.reconciled += 1,
                Ok(Ok(Outcome::Retrying)) => summary.retrying += 1,
                Ok(Ok(Outcome::Failed)) => summary.failed += 1,
                Ok(Ok(Outcome::Lost)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "recording a publish outcome failed; the lease will expire and it will be reconciled"),
                Err(e) => tracing::error!(error = %e, "publish task panicked"),
            }
        }
        if summary.due > 0 {
            tracing::info!(?summary, "publisher run");
        }
        Ok(summary)
    }

    /// Publishes one claimed delivery and records what happened.
    async fn settle(&self, delivery: Delivery, start_at: DateTime<Utc>, reclaimed: bool) -> StoreResult<Outcome> {
        if let Ok(wait) = (start_at - self.ports.clock.now()).to_std() {
            tokio::time::sleep(wait).await;
        }
        let result = self.attempt(&delivery, reclaimed).await;
        let now = self.ports.clock.now();
        match result {
            Ok((published, found)) => self.record_published(delivery, published, found, now).await,
            Err(e) => self.record_failure(delivery, e, now).await,
        }
    }

    /// Loads what publishing needs and calls the adapter. `Ok((_, true))`: it already existed.
    async fn attempt(&self, d: &Delivery, reclaimed: bool) -> Result<(Published, bool), PublishError> {
        let permanent = |reason: String| PublishError::Permanent { reason };
        let store_err = |e: StoreError| PublishError::Transient { reason: format!("store unavailable: {e}"), retry_after: None };
        let post = self
            .ports.store
            .get_post(&d.team_id, d.post_id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| permanent("the post was deleted".into()))?;
        let channel = self
            .ports.store
            .get_channel(&d.team_id, d.channel_id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| permanent("the channel was deleted".into()))?;
        let credentials = match &channel.credentials {
            Some(sealed) => self
                .ports.cipher
                .open(channel.id, sealed)
                .map_err(|_| PublishError::Auth { reason: "the channel's credentials cannot be opened; reconnect it".into() })?,
            None => crate::crypto::Credentials::default(),
        };
        let adapter = self
            .ports.adapters
            .get(channel.platform)
            .ok_or_else(|| permanent(format!("publishing to {} is not available yet", channel.platform)))?;
        let request = PublishRequest {
            delivery: d,
            channel: &channel,
            credentials: &credentials,
            text: post.text_for(channel.platform).as_str(),
            media: &post.media,
        };
        // After an expired claim, or a failed attempt whose outcome may be unknown (a timeout,
        // a 5xx after the network took the post), ask before posting again: some networks
        // remember idempotency keys only for a while (Mastodon: one hour).
        if (reclaimed || d.attempts > 1)
            && let Some(found) = adapter.find_published(&request).await?
        {
            return Ok((found, true));
        }
        let timeout = self.config.lease.to_std().unwrap_or(std::time::Duration::from_secs(120));
        match tokio::time::timeout(timeout, adapter.publish(&request)).await {
            Ok(result) => result.map(|p| (p, false)),
            Err(_) => Err(PublishError::Transient { reason: "the network did not answer in time".into(), retry_after: None }),
        }
    }

    async fn record_published(
        &self,
        mut d: Delivery,
        p: Published,
        found: bool,
        now: DateTime<Utc>,
    ) -> StoreResult<Outcome> {
        if d.transition(DeliveryState::Published, now).is_err() {
            return Ok(Outcome::Lost);
        }
        d.published_at = Some(p.published_at.unwrap_or(now));
        d.platform_post_id = Some(p.platform_post_id);
        d.url = p.url;
        d.last_error = None;
        d.retry_at = None;
        let detail = json!({
            "post_id": d.post_id, "delivery_id": d.id, "channel_id": d.channel_id, "platform": d.platform,
            "platform_post_id": d.platform_post_id, "url": d.url, "published_at": d.published_at,
            "scheduled_for": d.publish_at,
        });
        let d = match self.write(&d).await {
            Written::Stored(d) => *d,
            Written::Lost => return Ok(Outcome::Lost),
            Written::NotStored(e) => return Err(e),
            Written::Unknown(e) => {
                // The post exists: say so now. Should the write not have landed, the run that
                // reconciles the delivery after its lease says it again (events are
                // at-least-once; `delivery_id` tells a repeat).
                tracing::warn!(delivery = %d.id, error = %e, "published, but the store could not confirm it recorded it; announcing it now");
                self.emit(EventKind::PostPublished, &d, detail).await;
                return Err(e);
            }
        };
        let lateness_ms = (d.published_at.unwrap_or(now) - d.publish_at).num_milliseconds();
        tracing::info!(delivery = %d.id, platform = %d.platform, lateness_ms, reconciled = found, "published");
        self.emit(EventKind::PostPublished, &d, detail).await;
        Ok(if found { Outcome::Reconciled } else { Outcome::Published })
    }

    async fn record_failure(&self, mut d: Delivery, error: PublishError, now: DateTime<Utc>) -> StoreResult<Outcome> {
        let retry = match &error {
            PublishError::Transient { retry_after, .. } if d.attempts < self.config.max_attempts => Some(*retry_after),
            _ => None,
        };
        if let Some(retry_after) = retry {
            let mut delay = self.backoff(d.attempts);
            if let Some(asked) = retry_after.and_then(|r| Duration::from_std(r).ok()) {
                delay = delay.max(asked);
            }
            if d.transition(DeliveryState::Scheduled, now).is_err() {
                return Ok(Outcome::Lost);
            }
            d.retry_at = Some(now + delay);
            d.last_error = Some(error.to_string());
            let d = match self.write(&d).await {
                Written::Stored(d) => *d,
                Written::Lost => return Ok(Outcome::Lost),
                Written::NotStored(e) | Written::Unknown(e) => return Err(e),
            };
            tracing::warn!(delivery = %d.id, attempt = d.attempts, retry_in_s = delay.num_seconds(), reason = %error, "publish failed; will retry");
            return Ok(Outcome::Retrying);
        }
        let reason = match &error {
            PublishError::Transient { reason, .. } => format!("gave up after {} attempts: {reason}", d.attempts),
            other => other.to_string(),
        };
        if d.transition(DeliveryState::Failed, now).is_err() {
            return Ok(Outcome::Lost);
        }
        d.last_error = Some(reason.clone());
        let detail = json!({
            "post_id": d.post_id, "delivery_id": d.id, "channel_id": d.channel_id, "platform": d.platform,
            "reason": reason, "attempts": d.attempts,
        });
        let (d, unconfirmed) = match self.write(&d).await {
            Written::Stored(d) => (*d, None),
            Written::Lost => return Ok(Outcome::Lost),
            Written::NotStored(e) => return Err(e),
            // As for a publication: the network's answer is announced, at least once.
            Written::Unknown(e) => (d, Some(e)),
        };
        tracing::warn!(delivery = %d.id, reason = %reason, "publish failed for good");
        self.emit(EventKind::PostFailed, &d, detail.clone()).await;
        if matches!(error, PublishError::Auth { .. }) {
            self.emit(EventKind::ChannelNeedsReconnect, &d, detail).await;
        }
        match unconfirmed {
            None => Ok(Outcome::Failed),
            Some(e) => Err(e),
        }
    }

    /// Version-checked write of an outcome, and what became of it.
    ///
    /// When the store refuses or fails the write, the delivery is read back. A write whose
    /// answer was lost (DynamoDB applied it, then a 500, a timeout or a reset reached the SDK,
    /// which sent it again) comes back as a conflict with itself, or as a timeout: the stored
    /// delivery is then exactly the one written, which only this run's claim can have written
    /// (a run taking over an expired claim counts one more attempt), so it is this run's, and
    /// its event is still due.
    async fn write(&self, d: &Delivery) -> Written {
        let error = match self.ports.store.update_delivery(d).await {
            Ok(d) => return Written::Stored(Box::new(d)),
            Err(e) => e,
        };
        let written = d.version.checked_add(1).map(|version| Delivery { version, ..d.clone() });
        match self.ports.store.get_delivery(&d.team_id, d.post_id, d.id).await {
            Ok(Some(stored)) if Some(&stored) == written.as_ref() => {
                tracing::info!(delivery = %d.id, error = %error, "the outcome was stored although its answer was lost");
                Written::Stored(Box::new(stored))
            }
            // Still as this run claimed it: the write did not land.
            Ok(Some(stored)) if stored.version == d.version => Written::NotStored(error),
            Ok(_) => {
                tracing::warn!(delivery = %d.id, "delivery changed while publishing; keeping the other write");
                Written::Lost
            }
            Err(read) => {
                tracing::warn!(delivery = %d.id, error = %error, read_back = %read, "the outcome may or may not be stored");
                Written::Unknown(error)
            }
        }
    }

    /// Exponential backoff with jitter: base·2^(attempt-1), capped, then scaled by 0.5–1.0.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.config.base_backoff.num_milliseconds().saturating_mul(1_i64 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.config.max_backoff.num_milliseconds()).max(0);
        let jittered = rand::thread_rng().gen_range(capped / 2..=capped.max(1));
        Duration::milliseconds(jittered)
    }

    async fn emit(&self, kind: EventKind, d: &Delivery, detail: serde_json::Value) {
        let event = Event::new(kind, &d.team_id, self.ports.clock.now(), detail);
        if let Err(e) = self.ports.events.emit(&event).await {
            tracing::error!(delivery = %d.id, kind = kind.detail_type(), error = %e, "event not delivered");
        }
    }
}
