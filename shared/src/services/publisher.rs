//! The publisher: finds due deliveries, claims each with a version-checked write and a lease,
//! waits for the exact second, publishes through the channel's adapter, records the outcome
//! and says so with an event. On AWS an EventBridge rule runs [`Publisher::run_once`] every
//! minute; `herald serve` runs it from a timer. Claims make concurrent runs safe: a delivery
//! is published by exactly one of them.
//!
//! Never twice: the adapter gets a per-delivery idempotency handle, and a delivery whose lease
//! ran out mid-publish (a crashed or timed-out run) is first *reconciled*: the adapter is asked
//! whether the post already exists before anything is published again.
//!
//! Bursts (thousands due in the same second): a run claims a page of `batch` in one batch of
//! version-checked writes ([`PostStore::update_deliveries`](crate::store::PostStore::update_deliveries)),
//! and keeps claiming while pages come back full, up to [`PublisherConfig::pages`]. It loads
//! each claim's post, channel and credentials right after claiming, before the second, so
//! that at the second only the adapter's call is left; outcomes are written one by one (the
//! SQLite store commits the writes that reach it together in one transaction). docs/performance.md
//! §4 has the figures and, for AWS, the sharded fan-out design.
//!
//! Bounded, in memory and in time:
//!
//! - **At most [`PublisherConfig::concurrency`] deliveries publish at once** (one semaphore per
//!   publisher, shared by its clones, so by every run of `herald serve`'s timer; a Lambda
//!   execution environment runs one invocation at a time). A claimed delivery sleeps until
//!   its second without a slot, then asks for one; slots are given in the order they are asked
//!   for (tokio's semaphore is fair), so deliveries get them in the order they came due, and
//!   one waits at most for the attempts of those due before it, each bounded as below.
//! - **Each attempt ends before its claim does**: loading the post, reconciling
//!   (`find_published`) and publishing (media downloads and uploads included) are bounded
//!   together by the claim's lease less [`PublisherConfig::record_margin`], the time kept to
//!   record the outcome while the claim still holds. When the bound fires, the attempt is
//!   dropped (its requests are cancelled) and recorded as a transient failure whose retry is
//!   not due before the lease would have ended, and reconciles first.
//! - **More due in one second than the bound**: the extra ones wait for a slot, earliest due
//!   first, and publish as soon as one frees. One that could only start with less than half of
//!   its attempt window left is *handed back* instead (scheduled again, attempt not counted),
//!   and the next run (a second later in `serve`, a minute later on AWS) claims it afresh.
//!   So a run ends at the latest `lookahead + lease − margin` after it started.
//! - **Every attempt used**: a delivery claimed again after its last attempt (the run died, or
//!   the attempt was cut by the bound) is not published again: the network is asked whether
//!   the post exists (published if so), and otherwise it fails for good with that reason.
//!
//! A post's first comment (Instagram, Facebook) or first reply (Threads) is best effort, made
//! by the adapter right after the post: its failure is logged and never fails or retries the
//! delivery (the post exists; another attempt would post it twice). A delivery found by
//! reconciling gets no first comment.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use tokio::sync::Semaphore;
use tracing::Instrument;
use tracing::instrument::WithSubscriber;

use std::collections::HashMap;

use futures_util::StreamExt;

use crate::crypto::Credentials;
use crate::domain::{Channel, ChannelId, Delivery, DeliveryState, Post, PostId, PostText, TeamId};
use crate::events::{Event, EventKind};
use crate::platforms::{PublishError, PublishRequest, Published};
use crate::ports::Ports;
use crate::store::{StoreError, StoreResult};

/// The environment variable both hosts read for [`PublisherConfig::concurrency`].
pub const CONCURRENCY_ENV: &str = "HERALD_PUBLISH_CONCURRENCY";

/// Most deliveries publishing at once, by default; sized for the scheduled-publisher Lambda
/// (256 MB, template.yaml). What one publish holds in memory at most:
///
/// - Mastodon: its media (up to 16 MB each) are streamed from the media host to the instance
///   (`platforms/mastodon.rs`): the first chunk (to recognise the type) and the HTTP
///   connections' buffers (≈ 0.4 MB each at most) — whatever the media's size. Measured for a
///   32 MB video: 1.2 MB at the peak (2.5 MB when its size is announced), the test's fake
///   servers' side of both connections included (`shared/tests/adapters/mastodon.rs`);
///   reading it whole held 64 MB.
/// - Bluesky: each image is read whole (≤ 1 MB: its type and pixel size are read, its EXIF
///   stripped, and the upload may be sent twice when the session is renewed), four per post at
///   most, one extra copy while stripping, plus the buffers: ≈ 6 MB.
///
/// Of 256 MB, the process itself uses ≈ 20 MB (docs/performance.md); keep the media to about
/// 100 MB, half of the rest, since freed buffers are not all returned to the system
/// (fragmentation): 100 MB / 6 MB ≈ 16. Before media were streamed, a Mastodon publish held its
/// whole file (16 MB) and the same budget allowed 6.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Largest accepted [`PublisherConfig::concurrency`].
pub const MAX_CONCURRENCY: usize = 1024;

#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// How far ahead a run claims work (it then waits for each delivery's second).
    pub lookahead: Duration,
    /// How long a claim holds after the delivery's due time: the longest an attempt may take
    /// (less [`record_margin`](Self::record_margin)).
    pub lease: Duration,
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, with jitter, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Most deliveries one page of a run claims (one due query, one batch of claim writes).
    pub batch: u32,
    /// Most pages one run claims: it keeps claiming, a page at a time, while pages come back
    /// full (everything due within the lookahead, up to `batch × pages`). One on AWS, where
    /// the slots of one invocation are the limit; `herald serve` claims a whole burst.
    pub pages: u32,
    /// Most deliveries publishing at once, across the runs of this publisher
    /// ([`DEFAULT_CONCURRENCY`]; `HERALD_PUBLISH_CONCURRENCY`). Read when the publisher is built.
    pub concurrency: usize,
    /// Kept at the end of each lease for recording the outcome: an attempt is cut this long
    /// before its claim runs out, so its outcome (one version-checked write; a DynamoDB write
    /// takes milliseconds, and the SDK's own retries of a throttled one a few seconds) is
    /// stored while the claim is still this run's, and no other run reclaims a delivery whose
    /// attempt is still talking to the network. At most a quarter of the lease (short leases in
    /// tests and demos).
    pub record_margin: Duration,
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
            pages: 1,
            concurrency: DEFAULT_CONCURRENCY,
            record_margin: Duration::seconds(10),
        }
    }
}

/// `HERALD_PUBLISH_CONCURRENCY` holds something that is not a number of deliveries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{CONCURRENCY_ENV} must be a whole number from 1 to {MAX_CONCURRENCY}, not `{value}`")]
pub struct ConcurrencyError {
    pub value: String,
}

impl PublisherConfig {
    /// The concurrency a value of `HERALD_PUBLISH_CONCURRENCY` asks for: unset or empty is
    /// [`DEFAULT_CONCURRENCY`]; anything but 1..=[`MAX_CONCURRENCY`] is an error, not a guess.
    pub fn concurrency_from(value: Option<&str>) -> Result<usize, ConcurrencyError> {
        match value.map(str::trim) {
            None | Some("") => Ok(DEFAULT_CONCURRENCY),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
                .ok_or_else(|| ConcurrencyError { value: v.chars().take(40).collect() }),
        }
    }

    /// What is kept at the end of a lease to record the outcome (see `record_margin`).
    fn margin(&self) -> Duration {
        self.record_margin.min(self.lease / 4).max(Duration::zero())
    }

    /// How long one attempt may take from its start: the lease less the margin.
    fn window(&self) -> Duration {
        self.lease - self.margin()
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
    /// Claimed but handed back unstarted: no publishing slot freed while enough of the
    /// attempt's window was left. The next run claims them again (no attempt counted).
    pub deferred: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Published,
    Reconciled,
    Retrying,
    Failed,
    Deferred,
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

/// One claimed delivery, as a run hands it to its task.
struct Claim {
    delivery: Delivery,
    /// When publishing starts: the delivery's second (or now, for an expired claim).
    start_at: DateTime<Utc>,
    /// Taken over from a run whose lease ran out.
    reclaimed: bool,
    /// Every attempt was used already: this claim only asks the network whether the last one
    /// published (no attempt is counted).
    check_only: bool,
    /// The post, channel and open credentials, loaded when the run claimed it, so that at the
    /// second only the publish is left. `None`: not loaded in time, the attempt loads them.
    ready: Option<Ready>,
}

/// What a publish needs besides the delivery, loaded ahead of its second.
///
/// Loaded after the claim is stored: from then on the post cannot change (`update_post`
/// refuses a post with a delivery publishing) nor be cancelled (the cancel's version-checked
/// write loses to the claim), so the post read ahead is the one that would be read at the
/// second. A channel disconnected or deleted in between is published to with what it had
/// when claimed, as a claim taken a second later would have been.
#[derive(Clone)]
struct Ready {
    post: Arc<Post>,
    channel: Arc<OpenChannel>,
}

/// A channel and its credentials, opened once per run for all its deliveries.
struct OpenChannel {
    channel: Channel,
    credentials: Credentials,
}

#[derive(Clone)]
pub struct Publisher {
    pub ports: Ports,
    pub config: PublisherConfig,
    /// The publishing slots (`config.concurrency` of them), shared by the clones.
    slots: Arc<Semaphore>,
}

impl Publisher {
    pub fn new(ports: Ports, config: PublisherConfig) -> Self {
        let slots = Arc::new(Semaphore::new(config.concurrency.clamp(1, MAX_CONCURRENCY)));
        Self { ports, config, slots }
    }

    /// One pass: claim everything due within the lookahead (a page of `batch` at a time, up
    /// to `pages`), load what each publish needs, publish each at its second (at most
    /// `concurrency` at once), and return when all of them are settled.
    pub async fn run_once(&self) -> StoreResult<RunSummary> {
        let now = self.ports.clock.now();
        let mut summary = RunSummary::default();
        let mut tasks = tokio::task::JoinSet::new();
        let mut channels = HashMap::new();
        for page in 0..self.config.pages.max(1) {
            let due = match self.ports.store.due_deliveries(now + self.config.lookahead, self.config.batch).await {
                Ok(due) => due,
                Err(e) if page == 0 => return Err(e),
                // Later pages: what is claimed already is published; the rest waits for the
                // next run.
                Err(e) => {
                    tracing::error!(error = %e, page, "due query failed; the rest waits for the next run");
                    break;
                }
            };
            let full = due.len() >= self.config.batch as usize;
            summary.due += due.len();
            let claimed = match self.claim_page(due, now, &mut channels).await {
                Ok(claimed) => claimed,
                Err(e) if page == 0 => return Err(e),
                Err(e) => {
                    tracing::error!(error = %e, page, "claim write failed; the rest waits for the next run");
                    break;
                }
            };
            summary.claimed += claimed.len();
            let progressed = !claimed.is_empty();
            for claim in claimed {
                let this = self.clone();
                // Logs go where the caller's go (its subscriber, not only the global one),
                // each line in a span naming the delivery, inside the caller's (on Lambda,
                // the invocation's `requestId`).
                let span = tracing::info_span!("delivery", delivery_id = %claim.delivery.id);
                tasks.spawn(async move { this.settle(claim).await }.instrument(span).with_current_subscriber());
            }
            // A short page is the end of what is due; a page of which nothing could be claimed
            // (live leases, other runs' claims) would come back the same.
            if !full || !progressed {
                break;
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(Outcome::Published)) => summary.published += 1,
                Ok(Ok(Outcome::Reconciled)) => summary.reconciled += 1,
                Ok(Ok(Outcome::Retrying)) => summary.retrying += 1,
                Ok(Ok(Outcome::Failed)) => summary.failed += 1,
                Ok(Ok(Outcome::Deferred)) => summary.deferred += 1,
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

    /// Claims one page of due deliveries in one batch of version-checked writes, then loads
    /// what their publishes need, and returns the claims won, earliest due first.
    async fn claim_page(
        &self,
        mut due: Vec<Delivery>,
        now: DateTime<Utc>,
        channels: &mut HashMap<(TeamId, ChannelId), Result<Arc<OpenChannel>, PublishError>>,
    ) -> StoreResult<Vec<Claim>> {
        // Publish at the scheduled (or retry) second; an expired claim is taken over now.
        let start_of = |d: &Delivery| match d.state {
            DeliveryState::Scheduled => d.due_at().unwrap_or(now).max(now),
            _ => now,
        };
        // Earliest first, whatever order the store answers in: the tasks ask for publishing
        // slots in the order they wake, and they wake in this order.
        due.sort_by_key(start_of);
        let mut wanted = Vec::with_capacity(due.len());
        let mut writes = Vec::with_capacity(due.len());
        for seen in due {
            let start_at = start_of(&seen);
            let lease = (start_at - now) + self.config.lease;
            let Ok(mut claimed) = seen.claimed(now, self.config.lookahead, lease) else { continue };
            // Every attempt used (the last one was cut short: a crash, or the bound): this
            // claim only checks with the network, and counts no attempt.
            let check_only = seen.attempts >= self.config.max_attempts;
            if check_only {
                claimed.attempts = seen.attempts;
            }
            wanted.push((start_at, seen.state == DeliveryState::Publishing, check_only, seen.id));
            writes.push(claimed);
        }
        if writes.is_empty() {
            return Ok(vec![]);
        }
        let started = std::time::Instant::now();
        let written = self.ports.store.update_deliveries(&writes).await?;
        let claim_ms = started.elapsed().as_millis();
        let mut claims = Vec::with_capacity(written.len());
        for ((start_at, reclaimed, check_only, id), result) in wanted.into_iter().zip(written) {
            match result {
                Ok(delivery) => claims.push(Claim { delivery, start_at, reclaimed, check_only, ready: None }),
                Err(StoreError::Conflict) => {} // another run claimed it first
                Err(e) => tracing::error!(delivery = %id, error = %e, "claim failed"),
            }
        }
        self.prepare(&mut claims, channels).await;
        tracing::debug!(
            due = writes.len(),
            claimed = claims.len(),
            ready = claims.iter().filter(|c| c.ready.is_some()).count(),
            claim_ms,
            prepare_ms = started.elapsed().as_millis() - claim_ms,
            first_due = ?claims.first().map(|c| c.start_at),
            "page claimed"
        );
        Ok(claims)
    }

    /// Loads the post, channel and open credentials of each claim ahead of its second: each
    /// channel once per run, each post once per page (`parallel_reads` at a time). Bounded by
    /// the record margin; a claim not ready by then (or whose load failed) loads at its
    /// second instead, within its attempt's bound, and meets the same errors there.
    async fn prepare(
        &self,
        claims: &mut [Claim],
        channels: &mut HashMap<(TeamId, ChannelId), Result<Arc<OpenChannel>, PublishError>>,
    ) {
        let until = tokio::time::Instant::now() + self.config.margin().to_std().unwrap_or_default();
        for claim in claims.iter() {
            let d = &claim.delivery;
            let key = (d.team_id.clone(), d.channel_id);
            if let std::collections::hash_map::Entry::Vacant(slot) = channels.entry(key) {
                let Ok(open) = tokio::time::timeout_at(until, self.open_channel(&d.team_id, d.channel_id)).await else {
                    return;
                };
                slot.insert(open.map(Arc::new));
            }
        }
        let mut wanted: Vec<(TeamId, PostId)> = claims.iter().map(|c| (c.delivery.team_id.clone(), c.delivery.post_id)).collect();
        wanted.sort_by_key(|(_, id)| *id);
        wanted.dedup_by_key(|(_, id)| *id);
        let store = &self.ports.store;
        let mut loads = futures_util::stream::iter(wanted)
            .map(|(team, id)| async move { (id, store.get_post(&team, id).await) })
            .buffer_unordered(store.parallel_reads().max(1));
        let mut posts = HashMap::new();
        while let Ok(Some((id, loaded))) = tokio::time::timeout_at(until, loads.next()).await {
            if let Ok(Some(post)) = loaded {
                posts.insert(id, Arc::new(post));
            }
        }
        for claim in claims.iter_mut() {
            let d = &claim.delivery;
            let channel = channels.get(&(d.team_id.clone(), d.channel_id)).and_then(|c| c.as_ref().ok());
            if let (Some(post), Some(channel)) = (posts.get(&d.post_id), channel)
                && post.team_id == d.team_id
            {
                claim.ready = Some(Ready { post: Arc::clone(post), channel: Arc::clone(channel) });
            }
        }
    }

    /// A channel of the team with its credentials opened.
    async fn open_channel(&self, team: &TeamId, id: ChannelId) -> Result<OpenChannel, PublishError> {
        let channel = self
            .ports.store
            .get_channel(team, id)
            .await
            .map_err(store_unavailable)?
            .ok_or_else(|| PublishError::Permanent { reason: "the channel was deleted".into() })?;
        let credentials = match &channel.credentials {
            Some(sealed) => self
                .ports.cipher
                .open(channel.id, sealed)
                .map_err(|_| PublishError::Auth { reason: "the channel's credentials cannot be opened; reconnect it".into() })?,
            None => Credentials::default(),
        };
        Ok(OpenChannel { channel, credentials })
    }

    /// What a publish needs, loaded now (the claim was not made ready ahead).
    async fn load(&self, d: &Delivery) -> Result<Ready, PublishError> {
        let post = self
            .ports.store
            .get_post(&d.team_id, d.post_id)
            .await
            .map_err(store_unavailable)?
            .ok_or_else(|| PublishError::Permanent { reason: "the post was deleted".into() })?;
        let channel = self.open_channel(&d.team_id, d.channel_id).await?;
        Ok(Ready { post: Arc::new(post), channel: Arc::new(channel) })
    }

    /// Publishes one claimed delivery and records what happened: waits for its second, then
    /// for a publishing slot, then attempts within the claim's lease less the margin.
    async fn settle(&self, claim: Claim) -> StoreResult<Outcome> {
        let clock = &self.ports.clock;
        // (Not even a zero sleep when it is already time: tasks woken by the timer in the
        // same tick come in no particular order, and this keeps the claim order.)
        if let Ok(wait) = (claim.start_at - clock.now()).to_std()
            && !wait.is_zero()
        {
            tokio::time::sleep(wait).await;
        }
        let lease_until = claim.delivery.lease_until.unwrap_or(claim.start_at + self.config.lease);
        let deadline = lease_until - self.config.margin();
        // Instants on tokio's clock, which the bounds run on (the port's clock may be a test's).
        let on_timer = |t: DateTime<Utc>| tokio::time::Instant::now() + (t - clock.now()).to_std().unwrap_or_default();
        let end = on_timer(deadline);
        let last_start = on_timer(deadline - self.config.window() / 2);
        let permit = match tokio::time::timeout_at(last_start, self.slots.acquire()).await {
            Ok(Ok(permit)) => permit,
            // No slot while half of the window was left (or the semaphore closed, which this
            // type never does): unstarted, the claim goes back for the next run.
            Ok(Err(_)) | Err(_) => return self.hand_back(claim, clock.now()).await,
        };
        let attempt =
            tokio::time::timeout_at(end, self.attempt(&claim.delivery, claim.ready.as_ref(), claim.reclaimed, claim.check_only))
                .await;
        drop(permit);
        let now = clock.now();
        match attempt {
            Ok(Ok((published, found))) => self.record_published(claim.delivery, published, found, now).await,
            Ok(Err(e)) => self.record_failure(claim.delivery, e, now).await,
            Err(_elapsed) => self.record_timeout(claim, lease_until, now).await,
        }
    }

    /// Calls the adapter with what was loaded ahead (or loads it now). `Ok((_, true))`: it
    /// already existed. With `check_only`, only asks whether it exists, and fails for good
    /// when it does not.
    async fn attempt(
        &self,
        d: &Delivery,
        ready: Option<&Ready>,
        reclaimed: bool,
        check_only: bool,
    ) -> Result<(Published, bool), PublishError> {
        let permanent = |reason: String| PublishError::Permanent { reason };
        let loaded;
        let Ready { post, channel: open } = match ready {
            Some(ready) => ready,
            None => {
                loaded = self.load(d).await?;
                &loaded
            }
        };
        let OpenChannel { channel, credentials } = &**open;
        let adapter = self
            .ports.adapters
            .get(channel.platform)
            .ok_or_else(|| permanent(format!("publishing to {} is not available yet", channel.platform)))?;
        let request = PublishRequest {
            delivery: d,
            channel,
            credentials,
            text: post.text_for(channel.platform).as_str(),
            media: &post.media,
            media_files: &*self.ports.media,
            // Made by `publish` only, never by `find_published`: after a crash reconciled, the
            // first comment is not attempted (whether it was made cannot be told cheaply, and a
            // second one would show).
            first_comment: post.first_comment.as_ref().map(PostText::as_str),
            reply_control: post.reply_control,
        };
        if check_only {
            let gave_up = |how: String| {
                format!("gave up after {} attempts: the last one was cut short before its outcome was known, and {how}", d.attempts)
            };
            return match adapter.find_published(&request).await {
                Ok(Some(found)) => Ok((found, true)),
                Ok(None) => Err(permanent(gave_up(format!("{} has no such post", channel.platform)))),
                Err(PublishError::Auth { reason }) => {
                    Err(PublishError::Auth { reason: gave_up(format!("{} could not be asked whether it published: {reason}", channel.platform)) })
                }
                Err(e) => Err(permanent(gave_up(format!("{} could not be asked whether it published: {e}", channel.platform)))),
            };
        }
        // After an expired claim, or a failed attempt whose outcome may be unknown (a timeout,
        // a 5xx after the network took the post), ask before posting again: some networks
        // remember idempotency keys only for a while (Mastodon: one hour).
        if (reclaimed || d.attempts > 1)
            && let Some(found) = adapter.find_published(&request).await?
        {
            return Ok((found, true));
        }
        adapter.publish(&request).await.map(|p| (p, false))
    }

    /// The bound fired: the attempt was dropped and its outcome is unknown. Like a transient
    /// failure it is retried with backoff (reconciling first), not before the claim would have
    /// ended; after the last attempt, the next claim only checks with the network. A check
    /// that was itself cut short fails for good.
    async fn record_timeout(&self, claim: Claim, lease_until: DateTime<Utc>, now: DateTime<Utc>) -> StoreResult<Outcome> {
        let mut d = claim.delivery;
        let platform = d.platform;
        if claim.check_only {
            let reason = format!(
                "gave up after {} attempts: the last one was cut short before its outcome was known, and {platform} did not say in time whether it published",
                d.attempts
            );
            return self.record_failure(d, PublishError::Permanent { reason }, now).await;
        }
        let next = if d.attempts >= self.config.max_attempts {
            "that was the last attempt: Herald checks whether it published, and fails it if not"
        } else {
            "Herald checks whether it published before trying again"
        };
        let reason = format!(
            "{platform} did not finish within {} (the attempt's bound, inside the claim's lease); {next}",
            seconds(self.config.window())
        );
        let retry_at = (now + self.backoff(d.attempts)).max(lease_until);
        if d.transition(DeliveryState::Scheduled, now).is_err() {
            return Ok(Outcome::Lost);
        }
        d.retry_at = Some(retry_at);
        d.last_error = Some(reason.clone());
        let d = match self.write(&d).await {
            Written::Stored(d) => *d,
            Written::Lost => return Ok(Outcome::Lost),
            // Still claimed as this run left it: its lease runs out and a later run reconciles it.
            Written::NotStored(e) | Written::Unknown(e) => return Err(e),
        };
        tracing::warn!(delivery = %d.id, attempt = d.attempts, retry_in_s = (retry_at - now).num_seconds(), reason = %reason, "publish cut short; will check and retry");
        Ok(Outcome::Retrying)
    }

    /// No publishing slot in time: back to scheduled, unstarted, for the next run to claim.
    async fn hand_back(&self, claim: Claim, now: DateTime<Utc>) -> StoreResult<Outcome> {
        let mut d = claim.delivery;
        if d.transition(DeliveryState::Scheduled, now).is_err() {
            return Ok(Outcome::Lost);
        }
        if !claim.check_only {
            d.attempts = d.attempts.saturating_sub(1);
        }
        let d = match self.write(&d).await {
            Written::Stored(d) => *d,
            Written::Lost => return Ok(Outcome::Lost),
            // Still claimed as this run left it: its lease runs out and a later run reconciles it.
            Written::NotStored(e) | Written::Unknown(e) => return Err(e),
        };
        tracing::warn!(
            delivery = %d.id,
            concurrency = self.config.concurrency,
            "no publishing slot freed in time; handed back to the next run"
        );
        Ok(Outcome::Deferred)
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
        if matches!(error, PublishError::Auth { .. }) && self.mark_needs_reconnect(&d, &reason, now).await {
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

    /// Marks the delivery's channel as needing reconnecting: `true` when this is the first
    /// refusal of its credentials ([`super::reconnect`]), so the event is raised once. A store
    /// that cannot say errs on the side of raising it.
    async fn mark_needs_reconnect(&self, d: &Delivery, reason: &str, now: DateTime<Utc>) -> bool {
        let channel = match self.ports.store.get_channel(&d.team_id, d.channel_id).await {
            Ok(Some(channel)) => channel,
            Ok(None) => return false,
            Err(e) => {
                tracing::error!(delivery = %d.id, error = %e, "channel not read; reconnect raised without a mark");
                return true;
            }
        };
        super::reconnect::mark(&*self.ports.store, &channel, reason, now).await.unwrap_or_else(|e| {
            tracing::error!(delivery = %d.id, error = %e, "reconnect mark not stored; raised anyway");
            true
        })
    }

    async fn emit(&self, kind: EventKind, d: &Delivery, detail: serde_json::Value) {
        let event = Event::new(kind, &d.team_id, self.ports.clock.now(), detail);
        if let Err(e) = self.ports.events.emit(&event).await {
            tracing::error!(delivery = %d.id, kind = kind.detail_type(), error = %e, "event not delivered");
        }
    }
}

/// A store error met while loading what a publish needs: transient, the attempt is retried.
fn store_unavailable(e: StoreError) -> PublishError {
    PublishError::Transient { reason: format!("store unavailable: {e}"), retry_after: None }
}

/// "110 s", "2.25 s": a bound in words.
fn seconds(d: Duration) -> String {
    let ms = d.num_milliseconds();
    if ms % 1000 == 0 { format!("{} s", ms / 1000) } else { format!("{} s", ms as f64 / 1000.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_concurrency_switch_reads_a_bounded_number_and_refuses_to_guess() {
        for (value, expect) in [(None, 16), (Some(""), 16), (Some(" 4 "), 4), (Some("1"), 1), (Some("1024"), 1024)] {
            assert_eq!(PublisherConfig::concurrency_from(value), Ok(expect), "{value:?}");
        }
        for bad in ["0", "-3", "1025", "lots", "2.5"] {
            let err = PublisherConfig::concurrency_from(Some(bad)).unwrap_err();
            assert_eq!(err.to_string(), format!("HERALD_PUBLISH_CONCURRENCY must be a whole number from 1 to 1024, not `{bad}`"));
        }
    }

    #[test]
    fn the_margin_is_ten_seconds_or_a_quarter_of_a_short_lease() {
        let default = PublisherConfig::default();
        assert_eq!((default.margin(), default.window()), (Duration::seconds(10), Duration::seconds(110)));
        let short = PublisherConfig { lease: Duration::seconds(4), ..PublisherConfig::default() };
        assert_eq!((short.margin(), short.window()), (Duration::seconds(1), Duration::seconds(3)));
        assert_eq!(seconds(Duration::milliseconds(2_250)), "2.25 s");
        assert_eq!(seconds(Duration::seconds(110)), "110 s");
    }
}
