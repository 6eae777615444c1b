//! The metric poller: asks each network how its published posts are doing and how many
//! followers each channel has, and keeps the answers as snapshots (which expire) and daily
//! roll-ups (which reports read). On AWS an EventBridge rule runs [`MetricsPoller::run_once`];
//! `herald serve` runs it from a timer (`HERALD_METRICS_SECS`, default 300 s).
//!
//! The polling plan spends calls where they matter: a post is read once as each checkpoint
//! after its publication passes (+1 h, +6 h, +24 h, +72 h, +7 d by default), then never again;
//! a channel's followers at most once an hour. Each channel remembers, under the state key
//! `metrics#<channel>`, the instant up to which its checkpoints are done (`polled_until`): a
//! round takes every checkpoint that fell in `(polled_until, now]`, so a missed or failed round
//! is caught up by the next (late rather than lost; several checkpoints passed meanwhile make one
//! read). The deliveries to read come from the team's calendar, queried only around each
//! checkpoint (`publish_at` in `(polled_until − checkpoint − slack, now − checkpoint]`): a round
//! reads O(posts due), never the whole history.
//!
//! Channels are read a few at a time (a channel's own reads one after the other, to be gentle
//! with its rate limit); one channel's failure does not stop the others. A channel's due posts
//! are read in batches of the adapter's [`max_batch`](crate::platforms::MetricsAdapter::max_batch)
//! (25 on Bluesky, one `getPosts` call each; 1 where the network has no batched read). A 429
//! leaves the channel alone until the reset the network gave (else the next round); an expired
//! token marks the channel and raises `Channel Needs Reconnect` once for those credentials,
//! whichever worker saw it first ([`super::reconnect`]); a post the network says
//! is gone is counted and not stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::instrument::WithSubscriber;

use crate::domain::{
    Channel, ChannelId, Delivery, DeliveryState, MetricCounters, MetricRollup, MetricSnapshot, MetricSubject, Platform,
    TeamId,
};
use crate::events::{Event, EventKind};
use crate::platforms::metrics::PostRef;
use crate::platforms::MetricsError;
use crate::ports::Ports;
use crate::store::{PageRequest, StoreError, StoreResult};

/// How often what is read, and how long raw snapshots are kept.
#[derive(Debug, Clone)]
pub struct MetricsPlan {
    /// After publication, when a post's counters are read; never after the last one.
    pub checkpoints: Vec<Duration>,
    /// A channel's followers are read at most this often.
    pub followers_every: Duration,
    /// Raw snapshots expire after this (roll-ups stay).
    pub snapshot_ttl: Duration,
    /// How long after its `publish_at` a delivery may have gone out (retries): the calendar is
    /// searched this much further back.
    pub publish_slack: Duration,
    /// Channels read at once.
    pub concurrency: usize,
}

impl Default for MetricsPlan {
    fn default() -> Self {
        Self {
            checkpoints: vec![
                Duration::hours(1),
                Duration::hours(6),
                Duration::hours(24),
                Duration::hours(72),
                Duration::days(7),
            ],
            followers_every: Duration::hours(1),
            snapshot_ttl: Duration::days(90),
            publish_slack: Duration::hours(3),
            concurrency: 4,
        }
    }
}

impl MetricsPlan {
    fn last_checkpoint(&self) -> Duration {
        self.checkpoints.iter().copied().max().unwrap_or_else(Duration::zero)
    }

    /// Whether some checkpoint of a post published at `published` falls in `(after, until]`.
    pub fn due(&self, published: DateTime<Utc>, after: DateTime<Utc>, until: DateTime<Utc>) -> bool {
        self.checkpoints.iter().any(|c| {
            let at = published + *c;
            after < at && at <= until
        })
    }
}

/// What one round did; the Lambda returns it, `serve` logs it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct MetricsSummary {
    /// Channels read this round.
    pub channels: usize,
    /// Channels left alone: rate limited now or earlier (until the reset).
    pub rate_limited: usize,
    /// Channels whose token is refused (reconnect them).
    pub needs_reconnect: usize,
    /// Channels with some other failure (retried next round).
    pub failed: usize,
    /// Posts whose counters were stored.
    pub posts: usize,
    /// Posts the network says are gone.
    pub gone: usize,
    /// Follower counts stored.
    pub followers: usize,
    /// Tokens renewed before they expired ([`crate::platforms::TokenAdapter`]).
    pub tokens_renewed: usize,
}

impl MetricsSummary {
    fn add(&mut self, o: &MetricsSummary) {
        self.channels += o.channels;
        self.rate_limited += o.rate_limited;
        self.needs_reconnect += o.needs_reconnect;
        self.failed += o.failed;
        self.posts += o.posts;
        self.gone += o.gone;
        self.tokens_renewed += o.tokens_renewed;
        self.followers += o.followers;
    }
}

/// A channel's polling position, stored under `metrics#<channel>`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelMetricsState {
    /// Checkpoints up to this instant are done.
    pub polled_until: Option<DateTime<Utc>>,
    /// When followers were last read.
    pub followers_at: Option<DateTime<Utc>>,
    /// Rate limited: not before this instant.
    pub not_before: Option<DateTime<Utc>>,
}

fn state_key(channel: ChannelId) -> String {
    format!("metrics#{channel}")
}

/// How far back the Channels page looks for each channel's last publication.
pub const LAST_PUBLISHED_DAYS: i64 = 30;

/// One channel's health, as the Channels page shows it.
pub struct ChannelHealth {
    pub channel: Channel,
    /// What the metric poller last knew: how far it has read, whether the network refuses the
    /// channel's token. A channel never polled has the default (nothing read yet).
    pub metrics: ChannelMetricsState,
    /// When it last published, within the last [`LAST_PUBLISHED_DAYS`].
    pub last_published: Option<DateTime<Utc>>,
    /// The network refused its credentials ([`super::reconnect`]).
    pub needs_reconnect: Option<super::reconnect::NeedsReconnect>,
}

/// Each channel of the actor's team with its health (the Channels page).
pub async fn channels_health(
    store: &dyn crate::store::Store,
    actor: &super::Actor,
    now: DateTime<Utc>,
) -> Result<Vec<ChannelHealth>, super::ServiceError> {
    let last = last_published(store, &actor.team_id, now).await?;
    let mut out = Vec::new();
    for channel in super::channels::list_channels(store, actor).await? {
        let stored = store.get_state(&state_key(channel.id)).await?;
        let metrics = stored.and_then(|v| serde_json::from_str(&v.value).ok()).unwrap_or_default();
        let last_published = last.get(&channel.id).copied();
        let needs_reconnect = super::reconnect::needs_reconnect(store, &channel).await?;
        out.push(ChannelHealth { channel, metrics, last_published, needs_reconnect });
    }
    Ok(out)
}

/// Each channel's latest publication in the calendar's last [`LAST_PUBLISHED_DAYS`] (one walk
/// of the team's calendar, by scheduled time, however many channels).
async fn last_published(
    store: &dyn crate::store::Store,
    team: &TeamId,
    now: DateTime<Utc>,
) -> Result<BTreeMap<crate::domain::ChannelId, DateTime<Utc>>, super::ServiceError> {
    let mut last = BTreeMap::new();
    let from = now - chrono::Duration::days(LAST_PUBLISHED_DAYS);
    let mut page = crate::store::PageRequest { limit: crate::store::PageRequest::MAX_PAGE, cursor: None };
    loop {
        let got = store.calendar(team, from, now, &page).await?;
        for d in got.items.iter().filter(|d| d.state == crate::domain::DeliveryState::Published) {
            let at = d.published_at.unwrap_or(d.publish_at);
            last.entry(d.channel_id).and_modify(|t: &mut DateTime<Utc>| *t = (*t).max(at)).or_insert(at);
        }
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => return Ok(last),
        }
    }
}

#[derive(Clone)]
pub struct MetricsPoller {
    pub ports: Ports,
    pub plan: MetricsPlan,
}

/// One channel's work this round.
struct ChannelWork {
    channel: Channel,
    zone: Tz,
    state: ChannelMetricsState,
    version: Option<u64>,
    after: DateTime<Utc>,
    posts: Vec<Delivery>,
}

impl MetricsPoller {
    pub fn new(ports: Ports, plan: MetricsPlan) -> Self {
        Self { ports, plan }
    }

    /// One round over every channel of every network with a metrics adapter.
    pub async fn run_once(&self) -> StoreResult<MetricsSummary> {
        let now = self.ports.clock.now();
        let mut by_team: BTreeMap<TeamId, Vec<Channel>> = BTreeMap::new();
        for platform in Platform::ALL {
            if self.ports.adapters.metrics(platform).is_none() {
                continue;
            }
            for channel in self.ports.store.channels_on(platform).await? {
                by_team.entry(channel.team_id.clone()).or_default().push(channel);
            }
        }
        let mut summary = MetricsSummary::default();
        let limit = Arc::new(tokio::sync::Semaphore::new(self.plan.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (team, channels) in by_team {
            let work = match self.plan_team(&team, channels, now, &mut summary).await {
                Ok(w) => w,
                Err(e) => {
                    tracing::warn!(%team, error = %e, "metrics: planning the team's round failed");
                    summary.failed += 1;
                    continue;
                }
            };
            for w in work {
                let (this, limit) = (self.clone(), limit.clone());
                // Logs go where the caller's go (its subscriber, not only the global one).
                tasks.spawn(
                    async move {
                        let _permit = limit.acquire_owned().await;
                        let id = w.channel.id;
                        (id, this.poll_channel(w, now).await)
                    }
                    .with_current_subscriber(),
                );
            }
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, Ok(s))) => summary.add(&s),
                Ok((channel, Err(e))) => {
                    tracing::warn!(%channel, error = %e, "metrics: storing failed");
                    summary.failed += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e, "metrics task panicked");
                    summary.failed += 1;
                }
            }
        }
        if summary.posts + summary.followers + summary.failed + summary.needs_reconnect > 0 {
            tracing::info!(?summary, "metrics round");
        }
        Ok(summary)
    }

    /// Loads the team's channel states and finds the posts each channel must read now.
    async fn plan_team(
        &self,
        team: &TeamId,
        channels: Vec<Channel>,
        now: DateTime<Utc>,
        summary: &mut MetricsSummary,
    ) -> StoreResult<Vec<ChannelWork>> {
        let zone = self.ports.store.get_team(team).await?.map(|t| t.time_zone).unwrap_or(chrono_tz::UTC);
        // The oldest a round looks back: the last checkpoint (a channel idle for longer, or
        // polled for the first time, catches up on its last week of posts once).
        let floor = now - self.plan.last_checkpoint() - Duration::minutes(1);
        let mut work = Vec::new();
        for channel in channels {
            let stored = self.ports.store.get_state(&state_key(channel.id)).await?;
            let state: ChannelMetricsState =
                stored.as_ref().and_then(|v| serde_json::from_str(&v.value).ok()).unwrap_or_default();
            if state.not_before.is_some_and(|t| now < t) {
                summary.rate_limited += 1;
                continue;
            }
            let after = state.polled_until.unwrap_or(floor).max(floor);
            work.push(ChannelWork { channel, zone, state, version: stored.map(|v| v.version), after, posts: vec![] });
        }
        let Some(earliest) = work.iter().map(|w| w.after).min() else { return Ok(work) };

        // publish_at windows around each checkpoint, merged where they overlap.
        let mut windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
            .plan
            .checkpoints
            .iter()
            .map(|c| (earliest - *c - self.plan.publish_slack, now - *c + Duration::seconds(1)))
            .collect();
        windows.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        for (from, to) in windows {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        let mut seen = HashSet::new();
        let index: HashMap<ChannelId, usize> = work.iter().enumerate().map(|(i, w)| (w.channel.id, i)).collect();
        for (from, to) in merged {
            let mut page = PageRequest::first(PageRequest::MAX_PAGE);
            loop {
                let got = self.ports.store.calendar(team, from, to, &page).await?;
                for d in got.items {
                    let Some(&i) = index.get(&d.channel_id) else { continue };
                    let (Some(published), Some(_)) = (d.published_at, d.platform_post_id.as_ref()) else { continue };
                    if d.state == DeliveryState::Published
                        && self.plan.due(published, work[i].after, now)
                        && seen.insert(d.id)
                    {
                        work[i].posts.push(d);
                    }
                }
                match got.next {
                    Some(next) => page.cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(work)
    }

    /// Reads one channel's followers (when due) and due posts, stores what came back and moves
    /// the channel's position.
    async fn poll_channel(&self, mut w: ChannelWork, now: DateTime<Utc>) -> StoreResult<MetricsSummary> {
        let mut summary = MetricsSummary::default();
        let followers_due = w.state.followers_at.is_none_or(|t| now - t >= self.plan.followers_every);
        if w.posts.is_empty() && !followers_due {
            return Ok(summary);
        }
        let Some(adapter) = self.ports.adapters.metrics(w.channel.platform).cloned() else { return Ok(summary) };
        let credentials = match self.ports.cipher.open_or_empty(w.channel.id, w.channel.credentials.as_ref()) {
            Ok(c) => c,
            Err(_) => {
                let e = MetricsError::Auth { reason: "the channel's credentials cannot be opened; reconnect it".into() };
                return self.stopped(w, e, now, summary).await;
            }
        };
        let credentials = match self.renew_token(&mut w, credentials, now, &mut summary).await? {
            Ok(credentials) => credentials,
            Err(e) => return self.stopped(w, e, now, summary).await,
        };
        summary.channels = 1;
        let day = now.with_timezone(&w.zone).date_naive();
        let mut failures = 0;
        if followers_due {
            match adapter.followers(&w.channel, &credentials).await {
                Ok(followers) => {
                    if followers.is_some() {
                        let counters = MetricCounters { followers, ..Default::default() };
                        let subject = MetricSubject::Channel { channel_id: w.channel.id };
                        self.keep(&w.channel.team_id, subject, counters, now, day).await?;
                        summary.followers += 1;
                    }
                    w.state.followers_at = Some(now);
                }
                Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => {
                    return self.stopped(w, e, now, summary).await;
                }
                Err(e) => {
                    tracing::warn!(channel = %w.channel.id, error = %e, "metrics: followers not read");
                    failures += 1;
                }
            }
        }
        let posts = std::mem::take(&mut w.posts);
        let readable: Vec<(&Delivery, PostRef<'_>)> = posts
            .iter()
            .filter_map(|d| {
                let post = PostRef { platform_post_id: d.platform_post_id.as_deref()?, published_at: d.published_at? };
                Some((d, post))
            })
            .collect();
        for batch in readable.chunks(adapter.max_batch().max(1)) {
            let refs: Vec<PostRef<'_>> = batch.iter().map(|(_, post)| *post).collect();
            let answers = match adapter.post_counters_batch(&w.channel, &credentials, &refs).await {
                Ok(answers) => answers,
                Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => {
                    return self.stopped(w, e, now, summary).await;
                }
                Err(e) => {
                    tracing::warn!(
                        channel = %w.channel.id,
                        posts = batch.len(),
                        error = %e,
                        "metrics: batch of posts not read"
                    );
                    failures += 1;
                    continue;
                }
            };
            // One answer per post; a post the adapter left unanswered is tried again next round.
            let mut answers = answers.into_iter();
            for (d, _) in batch {
                let answer = answers.next().unwrap_or_else(|| {
                    Err(MetricsError::Failed { reason: "the adapter gave no answer for this post".into() })
                });
                match answer {
                    Ok(counters) => {
                        let subject = MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id };
                        self.keep(&d.team_id, subject, counters, now, day).await?;
                        summary.posts += 1;
                    }
                    Err(MetricsError::Gone) => summary.gone += 1,
                    Err(e @ (MetricsError::RateLimited { .. } | MetricsError::Auth { .. })) => {
                        return self.stopped(w, e, now, summary).await;
                    }
                    Err(e) => {
                        tracing::warn!(channel = %w.channel.id, delivery = %d.id, error = %e, "metrics: post not read");
                        failures += 1;
                    }
                }
            }
        }
        // Move on only when everything was read: otherwise the next round does the window again.
        if failures == 0 {
            w.state.polled_until = Some(now);
        } else {
            summary.failed += 1;
        }
        w.state.not_before = None;
        self.save(&w).await?;
        Ok(summary)
    }

    /// Renews the channel's token when it is due ([`crate::platforms::TokenAdapter`]) and keeps
    /// the new credentials, unless someone replaced the credentials meanwhile (theirs stand).
    /// A renewal the network could not make now is tried next round, with the old token, still
    /// valid for days; a refused token stops the channel like any refusal.
    async fn renew_token(
        &self,
        w: &mut ChannelWork,
        credentials: crate::crypto::Credentials,
        now: DateTime<Utc>,
        summary: &mut MetricsSummary,
    ) -> StoreResult<Result<crate::crypto::Credentials, MetricsError>> {
        let Some(tokens) = self.ports.adapters.tokens(w.channel.platform) else { return Ok(Ok(credentials)) };
        if tokens.renew_from(&credentials).is_none_or(|from| from > now) {
            return Ok(Ok(credentials));
        }
        let renewed = match tokens.renew(&w.channel, &credentials).await {
            Ok(renewed) => renewed,
            Err(crate::platforms::PublishError::Auth { reason }) => return Ok(Err(MetricsError::Auth { reason })),
            Err(e) => {
                tracing::warn!(channel = %w.channel.id, error = %e, "token not renewed; trying again next round");
                return Ok(Ok(credentials));
            }
        };
        let sealed = |c: &Channel| c.credentials.as_ref().map(|s| s.as_str().to_owned());
        let Some(mut current) = self.ports.store.get_channel(&w.channel.team_id, w.channel.id).await? else {
            return Ok(Ok(credentials));
        };
        if sealed(&current) != sealed(&w.channel) {
            tracing::info!(channel = %w.channel.id, "credentials replaced meanwhile; the renewed token is dropped");
            return Ok(Ok(credentials));
        }
        current.credentials = Some(self.ports.cipher.seal(current.id, &renewed));
        current.updated_at = now;
        self.ports.store.update_channel(&current).await?;
        tracing::info!(channel = %current.id, platform = %current.platform, "token renewed");
        summary.tokens_renewed += 1;
        w.channel = current;
        Ok(Ok(renewed))
    }

    /// A rate limit or a refused token ends the channel's round; its position stays.
    async fn stopped(
        &self,
        mut w: ChannelWork,
        e: MetricsError,
        now: DateTime<Utc>,
        mut summary: MetricsSummary,
    ) -> StoreResult<MetricsSummary> {
        match &e {
            MetricsError::RateLimited { retry_after } => {
                summary.rate_limited += 1;
                w.state.not_before = retry_after.and_then(|r| Duration::from_std(r).ok()).map(|r| now + r);
                tracing::info!(channel = %w.channel.id, not_before = ?w.state.not_before, "metrics: rate limited; channel skipped");
                self.save(&w).await?;
            }
            MetricsError::Auth { reason } => {
                summary.needs_reconnect += 1;
                tracing::warn!(channel = %w.channel.id, %reason, "metrics: token refused");
                if super::reconnect::mark(&*self.ports.store, &w.channel, reason, now).await? {
                    let detail = json!({"channel_id": w.channel.id, "platform": w.channel.platform, "reason": reason});
                    let event = Event::new(EventKind::ChannelNeedsReconnect, &w.channel.team_id, now, detail);
                    if let Err(e) = self.ports.events.emit(&event).await {
                        tracing::error!(error = %e, "event not delivered");
                    }
                }
            }
            _ => summary.failed += 1,
        }
        Ok(summary)
    }

    /// Writes the channel's state if nobody else did meanwhile (`false` then: theirs stands).
    async fn save(&self, w: &ChannelWork) -> StoreResult<bool> {
        let value = serde_json::to_string(&w.state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match self.ports.store.put_state(&state_key(w.channel.id), &value, w.version).await {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One snapshot (with its expiry) and the day's roll-up.
    async fn keep(
        &self,
        team: &TeamId,
        subject: MetricSubject,
        counters: MetricCounters,
        now: DateTime<Utc>,
        day: NaiveDate,
    ) -> StoreResult<()> {
        let snapshot = MetricSnapshot {
            team_id: team.clone(),
            subject,
            taken_at: now,
            counters: counters.clone(),
            expires_at: Some(now + self.plan.snapshot_ttl),
        };
        self.ports.store.put_snapshot(&snapshot).await?;
        self.ports.store.put_rollup(&MetricRollup { team_id: team.clone(), subject, day, taken_at: now, counters }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::crypto::Credentials;
    use crate::domain::{ChannelName, Post, PostId, PostText, Team};
    use crate::events::MemorySink;
    use crate::platforms::MetricsAdapter;
    use crate::platforms::metrics::PostAnswer;
    use crate::store::sqlite::SqliteStore;
    use crate::store::*;
    use chrono::TimeZone;
    use std::sync::Mutex;

    /// A network reading up to 25 posts per request, which remembers each request's size by
    /// channel. Posts whose id ends in `gone` are gone; channel `limited` is rate limited (10
    /// minutes) on its second request, once; channel `revoked` has its token refused.
    #[derive(Default)]
    struct Batched {
        requests: Mutex<HashMap<String, Vec<usize>>>,
    }

    impl Batched {
        fn requests(&self, channel: &str) -> Vec<usize> {
            self.requests.lock().unwrap().get(channel).cloned().unwrap_or_default()
        }
    }

    #[async_trait::async_trait]
    impl MetricsAdapter for Batched {
        async fn post_counters(
            &self,
            channel: &Channel,
            credentials: &Credentials,
            platform_post_id: &str,
            published_at: DateTime<Utc>,
        ) -> Result<MetricCounters, MetricsError> {
            crate::platforms::metrics::read_as_batch_of_one(self, channel, credentials, platform_post_id, published_at).await
        }

        fn max_batch(&self) -> usize {
            25
        }

        async fn post_counters_batch(
            &self,
            channel: &Channel,
            _credentials: &Credentials,
            posts: &[PostRef<'_>],
        ) -> Result<Vec<PostAnswer>, MetricsError> {
            assert!(posts.len() <= 25, "the poller hands at most max_batch posts");
            let name = channel.name.as_str().to_owned();
            let nth = {
                let mut requests = self.requests.lock().unwrap();
                let mine = requests.entry(name.clone()).or_default();
                mine.push(posts.len());
                mine.len()
            };
            match name.as_str() {
                "limited" if nth == 2 => {
                    return Err(MetricsError::RateLimited { retry_after: Some(std::time::Duration::from_secs(600)) });
                }
                "revoked" => return Err(MetricsError::Auth { reason: "token revoked".into() }),
                _ => {}
            }
            Ok(posts
                .iter()
                .map(|p| match p.platform_post_id.strip_suffix("gone") {
                    Some(_) => Err(MetricsError::Gone),
                    None => Ok(MetricCounters { likes: Some(p.platform_post_id.len() as u64), ..Default::default() }),
                })
                .collect())
        }

        async fn followers(&self, _: &Channel, _: &Credentials) -> Result<Option<u64>, MetricsError> {
            Ok(None)
        }
    }

    /// Renews Sandbox tokens that carry an expiry: `renewed-<channel>` for 60 days; channel
    /// `refused`'s old token is refused.
    #[derive(Default)]
    struct Renewing {
        renewed: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl crate::platforms::TokenAdapter for Renewing {
        fn renew_from(&self, credentials: &Credentials) -> Option<DateTime<Utc>> {
            crate::platforms::tokens::expires_at(credentials).map(|t| t - Duration::days(7))
        }

        async fn renew(&self, channel: &Channel, credentials: &Credentials) -> Result<Credentials, crate::platforms::PublishError> {
            let name = channel.name.as_str();
            self.renewed.lock().unwrap().push(name.to_owned());
            if name == "refused" {
                return Err(crate::platforms::PublishError::Auth { reason: "Error validating access token".into() });
            }
            let until = crate::platforms::tokens::expires_at(credentials).unwrap() + Duration::days(53);
            Ok(credentials.clone().with("access_token", &format!("renewed-{name}")).with("token_expires_at", &until.to_rfc3339()))
        }
    }

    struct Rig {
        store: Arc<SqliteStore>,
        clock: Arc<ManualClock>,
        events: Arc<MemorySink>,
        adapter: Arc<Batched>,
        tokens: Arc<Renewing>,
        poller: MetricsPoller,
        team: TeamId,
    }

    impl Rig {
        async fn new(t: DateTime<Utc>) -> Rig {
            let store = Arc::new(SqliteStore::in_memory().unwrap());
            let clock = Arc::new(ManualClock::new(t));
            let events = Arc::new(MemorySink::default());
            let adapter = Arc::new(Batched::default());
            let tokens = Arc::new(Renewing::default());
            let team = Team { language: Default::default(), logo: None, brand: Default::default(), version: 0,
                id: TeamId::parse("team", "cafe").unwrap(),
                name: "Café".into(),
                time_zone: chrono_tz::Europe::Paris,
                created_at: t - Duration::days(30),
                calendar_token_hash: None,
                watch_terms: vec![],
                report_schedule: Default::default(),
            };
            store.create_team(&team).await.unwrap();
            let cipher = crate::crypto::CredentialCipher::from_base64(&crate::crypto::CredentialCipher::generate_key()).unwrap();
            let ports = Ports::new(store.clone(), clock.clone(), cipher)
                .with_events(events.clone())
                .with_adapters(
                    crate::platforms::Adapters::default()
                        .with_metrics(Platform::Sandbox, adapter.clone())
                        .with_tokens(Platform::Sandbox, tokens.clone()),
                );
            let poller = MetricsPoller::new(ports, MetricsPlan::default());
            Rig { store, clock, events, adapter, tokens, poller, team: team.id }
        }

        /// A channel with `n` posts published at `at`, the `gone`-th (1-based) of them deleted since.
        async fn channel(&self, name: &str, n: usize, gone: Option<usize>, at: DateTime<Utc>) -> Vec<Delivery> {
            let c = Channel {
                id: ChannelId::new(),
                team_id: self.team.clone(),
                platform: Platform::Sandbox,
                name: ChannelName::parse("name", name).unwrap(),
                time_zone: chrono_tz::Europe::Paris,
                credentials: None,
                queue_slots: vec![],
                created_at: at - Duration::days(30),
                updated_at: at - Duration::days(30),
            };
            self.store.create_channel(&c).await.unwrap();
            let mut deliveries = Vec::new();
            for i in 1..=n {
                let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
                    id: PostId::new(),
                    team_id: self.team.clone(),
                    text: PostText::parse("text", &format!("{name} {i}")).unwrap(),
                    variants: Default::default(),
                    media: vec![],
                    series_id: None,
                    created_by: None,
                    created_at: at - Duration::days(1),
                    updated_at: at - Duration::days(1),
                };
                let mut d = Delivery::new(&post, c.id, c.platform, DeliveryState::Published, at, at - Duration::days(1));
                d.published_at = Some(at);
                let suffix = if gone == Some(i) { "gone" } else { "" };
                d.platform_post_id = Some(format!("{name}-{i}{suffix}"));
                self.store.create_post(&post, std::slice::from_ref(&d)).await.unwrap();
                deliveries.push(d);
            }
            deliveries
        }

        /// A channel with no posts whose token expires at `expires`.
        async fn expiring(&self, name: &str, expires: DateTime<Utc>) -> Channel {
            let id = self.channel(name, 0, None, expires).await.first().map(|d| d.channel_id);
            assert!(id.is_none());
            let mut c = self.store.list_channels(&self.team).await.unwrap().into_iter().find(|c| c.name.as_str() == name).unwrap();
            let creds = Credentials::default().with("access_token", "old").with("token_expires_at", &expires.to_rfc3339());
            c.credentials = Some(self.poller.ports.cipher.seal(c.id, &creds));
            self.store.update_channel(&c).await.unwrap();
            c
        }

        fn token_of(&self, c: &Channel) -> (String, Option<DateTime<Utc>>) {
            let creds = self.poller.ports.cipher.open(c.id, c.credentials.as_ref().unwrap()).unwrap();
            (creds.get("access_token").unwrap().to_owned(), crate::platforms::tokens::expires_at(&creds))
        }

        async fn snapshots(&self, d: &Delivery) -> usize {
            let subject = MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id };
            self.store.snapshots(&self.team, &subject, d.publish_at, d.publish_at + Duration::days(30)).await.unwrap().len()
        }

        /// The number of snapshots of each delivery, most first (the calendar's order among posts
        /// published at the same instant is its own).
        async fn read(&self, deliveries: &[Delivery]) -> Vec<usize> {
            let mut counts = Vec::new();
            for d in deliveries {
                counts.push(self.snapshots(d).await);
            }
            counts.sort_unstable_by(|a, b| b.cmp(a));
            counts
        }

        fn reconnects(&self) -> usize {
            self.events.events().iter().filter(|e| e.kind == EventKind::ChannelNeedsReconnect).count()
        }
    }

    #[tokio::test]
    async fn tokens_are_renewed_a_week_before_they_expire_and_kept() {
        let t = Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap();
        let r = Rig::new(t).await;
        let fresh = r.expiring("fresh", t + Duration::days(30)).await;
        let due = r.expiring("due", t + Duration::days(5)).await;
        let refused = r.expiring("refused", t + Duration::days(1)).await;

        let s = r.poller.run_once().await.unwrap();
        assert_eq!((s.tokens_renewed, s.needs_reconnect), (1, 1), "{s:?}");
        let mut asked = r.tokens.renewed.lock().unwrap().clone();
        asked.sort();
        assert_eq!(asked, ["due", "refused"], "only the tokens within a week of their expiry");
        let reload = |c: &Channel| {
            let (store, team, id) = (r.store.clone(), c.team_id.clone(), c.id);
            async move { store.get_channel(&team, id).await.unwrap().unwrap() }
        };
        assert_eq!(r.token_of(&reload(&fresh).await), ("old".into(), Some(t + Duration::days(30))), "not due: untouched");
        assert_eq!(r.token_of(&reload(&due).await), ("renewed-due".into(), Some(t + Duration::days(58))), "renewed and kept");
        assert_eq!(r.token_of(&reload(&refused).await).0, "old");
        assert_eq!(r.reconnects(), 1, "the refused renewal asks for a reconnect");
        assert!(crate::services::reconnect::needs_reconnect(&*r.store, &reload(&refused).await).await.unwrap().is_some());

        // A day later the renewed token is far from its expiry: nothing is asked again but the
        // refused one, quietly.
        r.clock.set(t + Duration::days(1) + Duration::minutes(1));
        let s = r.poller.run_once().await.unwrap();
        assert_eq!((s.tokens_renewed, s.needs_reconnect), (0, 1), "{s:?}");
        assert_eq!(r.tokens.renewed.lock().unwrap().iter().filter(|n| *n == "due").count(), 1);
        assert_eq!(r.reconnects(), 1);
    }

    #[tokio::test]
    async fn batches_keep_gone_rate_limit_and_reconnect_per_channel() {
        let t = Utc.with_ymd_and_hms(2027, 1, 4, 8, 0, 0).unwrap();
        let r = Rig::new(t).await;
        let fine = r.channel("fine", 30, Some(7), t).await;
        let limited = r.channel("limited", 30, None, t).await;
        let revoked = r.channel("revoked", 3, None, t).await;

        // +1 h: 30 due posts are two requests (25 + 5). The rate limit on `limited`'s second
        // request stops that channel (its first 25 are kept); `revoked` raises one reconnect.
        r.clock.set(t + Duration::minutes(61));
        let s = r.poller.run_once().await.unwrap();
        assert_eq!(r.adapter.requests("fine"), vec![25, 5]);
        assert_eq!(r.adapter.requests("limited"), vec![25, 5]);
        assert_eq!(r.adapter.requests("revoked"), vec![3]);
        assert_eq!((s.channels, s.posts, s.gone), (3, 29 + 25, 1), "{s:?}");
        assert_eq!((s.rate_limited, s.needs_reconnect, s.failed), (1, 1, 0), "{s:?}");
        assert_eq!(r.snapshots(&fine[6]).await, 0, "gone: nothing stored");
        assert_eq!(r.snapshots(&fine[29]).await, 1);
        assert_eq!(r.read(&limited).await, vec![1; 25].into_iter().chain([0; 5]).collect::<Vec<_>>());
        assert_eq!(r.snapshots(&revoked[0]).await, 0);
        assert_eq!(r.reconnects(), 1);

        // +1 h 06: `limited` waits out its 10 minutes without a request; `revoked` is refused
        // again without a second event; `fine` has nothing due.
        r.clock.set(t + Duration::minutes(66));
        let s = r.poller.run_once().await.unwrap();
        assert_eq!((s.rate_limited, s.needs_reconnect, s.posts, s.failed), (1, 1, 0, 0), "{s:?}");
        assert_eq!(r.adapter.requests("fine"), vec![25, 5]);
        assert_eq!(r.adapter.requests("limited"), vec![25, 5]);
        assert_eq!(r.adapter.requests("revoked"), vec![3, 3]);
        assert_eq!(r.reconnects(), 1);

        // +1 h 12: the rate limit is over: `limited` reads its whole window again, in two requests.
        r.clock.set(t + Duration::minutes(72));
        let s = r.poller.run_once().await.unwrap();
        assert_eq!(r.adapter.requests("limited"), vec![25, 5, 25, 5]);
        assert_eq!((s.posts, s.rate_limited), (30, 0), "{s:?}");
        assert_eq!(r.read(&limited).await, vec![2; 25].into_iter().chain([1; 5]).collect::<Vec<_>>());
        assert_eq!(r.adapter.requests("fine"), vec![25, 5], "done with the +1 h checkpoint");
    }

    #[test]
    fn each_checkpoint_is_due_once_in_consecutive_windows() {
        let plan = MetricsPlan::default();
        let published = Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).unwrap();
        // Rounds every 5 minutes for 8 days: exactly one round per checkpoint.
        let mut due_rounds = 0;
        let mut after = published;
        while after < published + Duration::days(8) {
            let until = after + Duration::minutes(5);
            if plan.due(published, after, until) {
                due_rounds += 1;
            }
            after = until;
        }
        assert_eq!(due_rounds, 5);
        // Nothing is due before the first hour, nor after the last checkpoint.
        assert!(!plan.due(published, published, published + Duration::minutes(59)));
        assert!(!plan.due(published, published + Duration::days(7), published + Duration::days(30)));
        // A long outage makes several passed checkpoints one read.
        assert!(plan.due(published, published, published + Duration::days(2)));
    }
}
