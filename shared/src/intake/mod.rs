//! Webhook intake and notification polling: verify, keep the raw event, normalise, dedupe,
//! score, tag, store in the inbox, and watch for a crisis.
//!
//! Nothing lost: a verified body is stored raw (with an expiry) before it is parsed, so a parser
//! bug can be fixed and the body replayed ([`Intake::replay`]). Nothing twice: an interaction's
//! id is derived from its channel and the platform's event id ([`InteractionId::derived`]), and
//! it is stored with one conditional write, so a redelivered event finds its own item and
//! creates nothing. The raw body's id is derived from its bytes the same way, so a redelivered
//! body overwrites itself. No platform is called before the answer: intake is store writes
//! only, well inside the 3–10 s platforms allow.
//!
//! Erased stays erased: erasing an author remembers a fingerprint of each erased interaction's
//! event ([`ErasedEvent`], for [`IntakeConfig::raw_ttl`]), and while it is remembered that event
//! is not stored again, by webhook or poll (one key read per interaction event), nor the raw
//! body that carried it. Meta, X and LinkedIn sign no timestamp: without this, a captured body
//! replayed after an erasure would bring the person's messages back.

pub mod webhooks;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::crypto::Credentials;
use crate::domain::{
    Channel, ChannelId, ErasedEvent, Incident, IncidentId, Interaction, InteractionDraft, InteractionId, InteractionStatus,
    Platform, RawEvent, RawEventId, SentimentLabel, Team,
};
use crate::events::{Event, EventKind};
use crate::listening::crisis::{CrisisChange, CrisisRule, CrisisState, MAX_SYNC_BUCKETS};
use crate::platforms::inbox::InboxAdapter;
use crate::platforms::PublishError;
use crate::listening::sentiment;
use crate::ports::Ports;
use crate::store::{BucketCounts, PageRequest, StoreError, StoreResult};

pub use webhooks::{EventPayload, GenericInteraction, HandshakeReply, IntakeError, ParsedEvent, WebhookRequest};

/// The credential field naming the channel's own account id on the platform, where intake needs
/// it: Mastodon admin webhooks report every status of the instance, and only those that mention
/// or answer this account are the channel's interactions.
pub const OWN_ACCOUNT_ID: &str = "account_id";

/// Webhook bodies larger than this are refused with 413 (platforms send a few KiB; the raw
/// copy must fit a DynamoDB item once base64-encoded).
pub const MAX_WEBHOOK_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct IntakeConfig {
    /// How long raw bodies are kept for replay, and how long an erased interaction's event is
    /// kept out after the erasure ([`ErasedEvent`]).
    pub raw_ttl: Duration,
    pub crisis: CrisisRule,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self { raw_ttl: Duration::days(14), crisis: CrisisRule::default() }
    }
}

/// What a webhook request came to.
#[derive(Debug)]
pub enum Received {
    /// A subscription handshake: answer 200 with this body.
    Handshake(HandshakeReply),
    /// A verified delivery, stored.
    Accepted(IngestSummary),
}

/// What one body or one poll brought.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// New interactions stored.
    pub created: usize,
    /// Events already stored before (redeliveries).
    pub duplicates: usize,
    /// Events of types Herald does not turn into interactions (kept raw only).
    pub ignored: usize,
}

/// What [`Intake::ingest`] did with one interaction event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    /// Stored: a new interaction.
    Created,
    /// Its interaction was stored before (a redelivery): nothing written.
    Duplicate,
    /// Not stored: a field over its bound ([`InteractionDraft::check_bounds`]). Logged, and
    /// counted as ignored, so the rest of the delivery is stored and the platform gets its 200.
    Unusable,
    /// Not stored: the event's interaction was erased and its fingerprint is still remembered
    /// ([`ErasedEvent`]). Counted as ignored; the raw body that carried it is not kept.
    Erased,
}

impl IngestSummary {
    /// One interaction event, as [`Intake::ingest`] answered.
    fn count(&mut self, ingested: Ingested) {
        match ingested {
            Ingested::Created => self.created += 1,
            Ingested::Duplicate => self.duplicates += 1,
            Ingested::Unusable | Ingested::Erased => self.ignored += 1,
        }
    }

    fn add(&mut self, other: &IngestSummary) {
        self.created += other.created;
        self.duplicates += other.duplicates;
        self.ignored += other.ignored;
    }
}

/// Read-sync-write attempts on a channel's crisis detector before giving up on one update.
const CRISIS_ATTEMPTS: u32 = 12;

/// How many channels a poll round reads at once.
pub const POLL_CONCURRENCY: usize = 4;

/// What one poll round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PollSummary {
    /// Channels read successfully.
    pub channels: usize,
    /// Channels whose read failed (logged; retried next round).
    pub failed: usize,
    pub ingested: IngestSummary,
}

#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Platform(PublishError),
    #[error("the channel's credentials could not be opened")]
    Credentials,
}

/// A channel's polling position, stored under `poll#<channel>`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
struct PollState {
    cursor: Option<String>,
}

/// Why a webhook was refused; the HTTP layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// No such channel, or not of that platform (404): nothing is said about which.
    #[error("no such webhook endpoint")]
    UnknownEndpoint,
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the channel's credentials could not be opened")]
    Credentials,
}

#[derive(Clone)]
pub struct Intake {
    pub ports: Ports,
    pub config: IntakeConfig,
    /// Where each channel's crisis detector was last synced by this process.
    pub marks: Arc<CrisisMarks>,
}

impl Intake {
    /// Intake on `ports` with the default settings (14 days of raw bodies, the documented
    /// crisis rule).
    pub fn new(ports: Ports) -> Self {
        Self { ports, config: IntakeConfig::default(), marks: Arc::default() }
    }

    /// One webhook request to `/webhooks/{platform}/{channel_id}`: handshake, or verify, keep
    /// raw, parse and ingest.
    pub async fn receive(
        &self,
        platform: &str,
        channel_id: &str,
        request: &WebhookRequest<'_>,
    ) -> Result<Received, ReceiveError> {
        let platform = Platform::parse("platform", platform).map_err(|_| ReceiveError::UnknownEndpoint)?;
        let channel_id = ChannelId::parse("channel_id", channel_id).map_err(|_| ReceiveError::UnknownEndpoint)?;
        let channel = match self.ports.store.channel_by_id(channel_id).await? {
            Some(c) if c.platform == platform => c,
            _ => return Err(ReceiveError::UnknownEndpoint),
        };
        let credentials = self.credentials_of(&channel)?;
        if let Some(reply) = webhooks::handshake(platform, &credentials, request) {
            return Ok(Received::Handshake(reply?));
        }
        let now = self.ports.clock.now();
        webhooks::verify(platform, &credentials, request, now)?;

        let raw = RawEvent {
            id: RawEventId::derived(&format!("{}/{}", channel.id, hex::encode(Sha256::digest(request.body)))),
            team_id: channel.team_id.clone(),
            channel_id: channel.id,
            platform,
            received_at: now,
            body: BASE64.encode(request.body),
            expires_at: now + self.config.raw_ttl,
        };
        self.ports.store.put_raw_event(&raw).await?;
        let parsed = webhooks::parse_for_account(platform, request.body, credentials.get(OWN_ACCOUNT_ID))?;
        Ok(Received::Accepted(self.ingest_parsed(&channel, parsed, Some(raw.id)).await?))
    }

    /// Parses a stored raw body again and ingests what it holds; already stored events count
    /// as duplicates. For `herald intake replay` after a parser fix.
    pub async fn replay(&self, raw: &RawEvent) -> Result<IngestSummary, ReceiveError> {
        let channel = self.ports.store.channel_by_id(raw.channel_id).await?.ok_or(ReceiveError::UnknownEndpoint)?;
        let body = BASE64.decode(&raw.body).map_err(|_| StoreError::Corrupt(format!("raw event {}: body is not base64", raw.id)))?;
        let credentials = self.credentials_of(&channel)?;
        let parsed = webhooks::parse_for_account(raw.platform, &body, credentials.get(OWN_ACCOUNT_ID))?;
        Ok(self.ingest_parsed(&channel, parsed, Some(raw.id)).await?)
    }

    /// Replays every raw event of `channel` received in `[from, to)`.
    pub async fn replay_channel(
        &self,
        channel: ChannelId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(usize, IngestSummary), ReceiveError> {
        let mut page = PageRequest::first(PageRequest::MAX_PAGE);
        let (mut bodies, mut total) = (0, IngestSummary::default());
        loop {
            let batch = self.ports.store.raw_events(channel, from, to, &page).await?;
            for raw in &batch.items {
                bodies += 1;
                total.add(&self.replay(raw).await?);
            }
            match batch.next {
                Some(next) => page.cursor = Some(next),
                None => return Ok((bodies, total)),
            }
        }
    }

    /// One round of the notification poller: every channel of every platform that has an
    /// inbox adapter is read from its stored cursor (`poll#<channel>`), a few channels at a time;
    /// one channel's failure does not stop the others. Every channel's crisis detector is also
    /// ticked, so incidents close when a channel calms down.
    pub async fn poll_all(&self) -> StoreResult<PollSummary> {
        let mut summary = PollSummary::default();
        let mut tasks = tokio::task::JoinSet::new();
        let limit = Arc::new(tokio::sync::Semaphore::new(POLL_CONCURRENCY));
        for platform in Platform::ALL {
            let channels = self.ports.store.channels_on(platform).await?;
            for channel in channels {
                let adapter = self.ports.adapters.inbox(platform).cloned();
                let (this, limit) = (self.clone(), limit.clone());
                tasks.spawn(async move {
                    let _permit = limit.acquire_owned().await;
                    let polled = match adapter {
                        Some(adapter) => Some(this.poll_channel(&channel, &*adapter).await),
                        None => None,
                    };
                    let ticked = this.tick_crisis(&channel).await;
                    (channel.id, polled, ticked)
                });
            }
        }
        while let Some(joined) = tasks.join_next().await {
            let Ok((channel, polled, ticked)) = joined else {
                summary.failed += 1;
                continue;
            };
            if let Err(e) = ticked {
                tracing::warn!(%channel, error = %e, "crisis tick failed");
            }
            match polled {
                None => {}
                Some(Ok(got)) => {
                    summary.channels += 1;
                    summary.ingested.add(&got);
                }
                Some(Err(e)) => {
                    tracing::warn!(%channel, error = %e, "polling failed");
                    summary.failed += 1;
                }
            }
        }
        Ok(summary)
    }

    /// Reads one channel's new notifications and ingests them; the cursor moves only after
    /// everything it covers is stored. An auth failure marks the channel and raises `Channel
    /// Needs Reconnect` once for its credentials ([`crate::services::reconnect`]).
    pub async fn poll_channel(&self, channel: &Channel, adapter: &dyn InboxAdapter) -> Result<IngestSummary, PollError> {
        let key = format!("poll#{}", channel.id);
        let stored = self.ports.store.get_state(&key).await?;
        let mut state: PollState = stored.as_ref().and_then(|v| serde_json::from_str(&v.value).ok()).unwrap_or_default();
        let version = stored.map(|v| v.version);
        let Some(sealed) = &channel.credentials else { return Ok(IngestSummary::default()) };
        let credentials = self.ports.cipher.open(channel.id, sealed).map_err(|_| PollError::Credentials)?;
        let polled = match adapter.poll(channel, &credentials, state.cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => {
                let now = self.ports.clock.now();
                if matches!(e, PublishError::Auth { .. })
                    && crate::services::reconnect::mark(&*self.ports.store, channel, &e.to_string(), now).await?
                {
                    let detail = json!({"channel_id": channel.id, "platform": channel.platform, "reason": e.to_string()});
                    self.emit(EventKind::ChannelNeedsReconnect, channel, detail).await;
                }
                return Err(PollError::Platform(e));
            }
        };
        let team = self.ports.store.get_team(&channel.team_id).await?;
        let mut summary = IngestSummary::default();
        for (event_id, draft) in polled.items {
            summary.count(self.ingest(channel, team.as_ref(), &event_id, draft, None).await?);
        }
        let cursor = polled.cursor.or_else(|| state.cursor.clone());
        if cursor == state.cursor {
            // Nothing moved (a quiet channel, or one whose network pushes instead): no write,
            // which on DynamoDB is one write a channel a minute saved.
            return Ok(summary);
        }
        state.cursor = cursor;
        let value = serde_json::to_string(&state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        match self.ports.store.put_state(&key, &value, version).await {
            // Another poll of the same channel moved the cursor first: what we stored is
            // deduplicated, and its cursor is as good as ours.
            Ok(_) | Err(StoreError::Conflict) => Ok(summary),
            Err(e) => Err(e.into()),
        }
    }

    /// A channel's credentials in the clear; none at all reads as empty (the platform's check
    /// then says which field is missing).
    fn credentials_of(&self, channel: &Channel) -> Result<Credentials, ReceiveError> {
        self.ports.cipher.open_or_empty(channel.id, channel.credentials.as_ref()).map_err(|_| ReceiveError::Credentials)
    }

    async fn ingest_parsed(
        &self,
        channel: &Channel,
        parsed: Vec<ParsedEvent>,
        raw: Option<RawEventId>,
    ) -> StoreResult<IngestSummary> {
        let mut summary = IngestSummary::default();
        let team = self.ports.store.get_team(&channel.team_id).await?;
        let mut carries_erased = false;
        for event in parsed {
            match event.payload {
                EventPayload::Interaction(draft) => {
                    let ingested = self.ingest(channel, team.as_ref(), &event.event_id, draft, raw).await?;
                    carries_erased |= ingested == Ingested::Erased;
                    summary.count(ingested);
                }
                EventPayload::Ignored { event_type } => {
                    tracing::info!(channel = %channel.id, event_type, "webhook event kept raw only");
                    summary.ignored += 1;
                }
            }
        }
        // The body holds an erased person's words: it is not kept either (the erasure removed
        // the copy that came before). Interactions stored from it keep a dangling link, which
        // erasure and replay both tolerate.
        if let (true, Some(raw)) = (carries_erased, raw) {
            self.ports.store.delete_raw_event(raw).await?;
        }
        Ok(summary)
    }

    /// Stores one interaction unless its event was stored before ([`Ingested::Duplicate`]) or
    /// a field is over its bound ([`Ingested::Unusable`]: an over-long id would be refused by
    /// DynamoDB on every retry). Scores its sentiment, tags it from the team's watch list, and
    /// feeds the channel's crisis detector.
    pub async fn ingest(
        &self,
        channel: &Channel,
        team: Option<&Team>,
        event_id: &str,
        draft: InteractionDraft,
        raw: Option<RawEventId>,
    ) -> StoreResult<Ingested> {
        if let Err(e) = draft.check_bounds() {
            tracing::warn!(
                channel = %channel.id, event = %excerpt(event_id), field = %e.field, rule = %e.rule,
                "interaction not stored: a field is over its bound"
            );
            return Ok(Ingested::Unusable);
        }
        let now = self.ports.clock.now();
        let fingerprint = ErasedEvent::fingerprint(channel.id, &draft.external_id);
        if let Some(erased) = self.ports.store.erased_event(&fingerprint).await?
            && erased.blocks(now)
        {
            tracing::info!(channel = %channel.id, erased_at = %erased.erased_at, "event of an erased interaction not stored again");
            return Ok(Ingested::Erased);
        }
        let sentiment = sentiment::analyse(&draft.text);
        let tags = team.map(|t| watch_tags(&t.watch_terms, &draft.text)).unwrap_or_default();
        let negative = sentiment.label == SentimentLabel::Negative;
        let interaction = Interaction {
            id: InteractionId::derived(&format!("{}/{event_id}", channel.id)),
            team_id: channel.team_id.clone(),
            channel_id: channel.id,
            platform: channel.platform,
            kind: draft.kind,
            external_id: draft.external_id,
            thread_id: draft.thread_id,
            parent_id: draft.parent_id,
            author_id: draft.author_id,
            author_name: draft.author_name,
            text: draft.text,
            created_at: draft.created_at,
            received_at: now,
            post_url: draft.post_url,
            status: InteractionStatus::Open,
            assignee: None,
            reply_ref: draft.reply_ref,
            sentiment: Some(sentiment),
            tags,
            notes: vec![],
            first_response_at: None,
            raw_event_id: raw,
        };
        match self.ports.store.create_interaction(&interaction).await {
            Ok(()) => {}
            Err(StoreError::AlreadyExists) => return Ok(Ingested::Duplicate),
            Err(e) => return Err(e),
        }
        // Best effort: the interaction is stored whatever happens here. A detector that stays
        // unavailable loses this one observation, loudly, rather than failing the delivery,
        // which the platform would retry for nothing.
        if let Err(e) = self.count_for_crisis(channel, interaction.created_at.min(now), negative).await {
            tracing::warn!(channel = %channel.id, error = %e, "crisis detector not updated for this interaction");
        }
        // `Interaction Received`, for integrations and (later) the web app; best effort like the
        // detector: the interaction is stored whatever happens here.
        let text: String = interaction.text.chars().take(280).collect();
        let detail = json!({
            "interaction_id": interaction.id,
            "channel_id": interaction.channel_id,
            "platform": interaction.platform,
            "kind": interaction.kind,
            "thread_id": interaction.thread_id,
            "author": {"id": interaction.author_id, "name": interaction.author_name},
            "text": text,
            "created_at": interaction.created_at,
            "sentiment": interaction.sentiment.as_ref().map(|s| s.label),
            "tags": interaction.tags,
        });
        let event = Event::new(EventKind::InteractionReceived, &interaction.team_id, now, detail);
        if let Err(e) = self.ports.events.emit(&event).await {
            tracing::error!(interaction = %interaction.id, error = %e, "Interaction Received not delivered");
        }
        Ok(Ingested::Created)
    }

    /// Counts one interaction for the channel's crisis detector: one atomic add to its bucket's
    /// counters (`crisis#<channel>#<bucket seconds>`), and no read, unless the interaction is
    /// negative (may it open an incident?) or the first this process sees in a new bucket (the
    /// detector learns the buckets leaving its window); then the detector is brought up to date
    /// from the counters ([`CrisisState::sync`]). So a busy channel writes its detector's state
    /// about once a bucket, not once an interaction: no item is read, changed and written back
    /// by every delivery (docs/crisis.md, "Counting").
    async fn count_for_crisis(&self, channel: &Channel, at: DateTime<Utc>, negative: bool) -> StoreResult<()> {
        let rule = &self.config.crisis;
        let bucket = rule.bucket_of(at);
        let add = BucketCounts { interactions: 1, negatives: u64::from(negative) };
        let keep = Duration::seconds(MAX_SYNC_BUCKETS.saturating_mul(rule.bucket_secs()));
        let expires_at = at.checked_add_signed(keep).unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.ports.store.add_to_bucket(&crisis_series(channel.id, rule), bucket, add, expires_at).await?;
        if negative || self.marks.is_new_bucket(channel.id, bucket) {
            self.update_crisis(channel, false, at, negative).await?;
        }
        Ok(())
    }

    /// Lets time pass for a channel's detector, so an incident can close when things calm down.
    /// Only a channel with an open incident needs it (a quiet one catches up on its next
    /// interaction), so the others cost one read and no write.
    pub async fn tick_crisis(&self, channel: &Channel) -> StoreResult<()> {
        let now = self.ports.clock.now();
        self.update_crisis(channel, true, now, false).await
    }

    /// Reads the detector's state and the counters it has not seen, syncs it to `at`
    /// (`evaluate`: a negative arrived, check for opening), and writes it back, version-checked,
    /// only when it changed more than its counts ([`CrisisState::needs_saving_since`]). On a
    /// race the loser reads again: an incident is opened, and closed, by exactly one writer.
    /// With `only_if_open`, a detector without an open incident is left as it is, after the one read.
    async fn update_crisis(&self, channel: &Channel, only_if_open: bool, at: DateTime<Utc>, evaluate: bool) -> StoreResult<()> {
        let key = format!("crisis#{}", channel.id);
        let rule = &self.config.crisis;
        for attempt in 0..CRISIS_ATTEMPTS {
            if attempt > 0 {
                // Writers race only at a bucket's end or an incident's edges: back off a
                // little, at random, so they stop colliding.
                let ms = rand::Rng::gen_range(&mut rand::thread_rng(), 1..=(2u64 << attempt.min(5)));
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let stored = self.ports.store.get_state(&key).await?;
            let (mut crisis, version) = match &stored {
                Some(v) => match serde_json::from_str::<ChannelCrisis>(&v.value) {
                    Ok(c) => (c, Some(v.version)),
                    Err(e) => {
                        tracing::warn!(channel = %channel.id, error = %e, "unreadable crisis state; starting afresh");
                        (ChannelCrisis::new(self.ports.clock.now()), Some(v.version))
                    }
                },
                None => (ChannelCrisis::new(self.ports.clock.now()), None),
            };
            if only_if_open && !crisis.detector.is_open() {
                return Ok(());
            }
            let (first, last) = crisis.detector.wanted(rule, at);
            let counted: std::collections::HashMap<i64, BucketCounts> =
                self.ports.store.buckets(&crisis_series(channel.id, rule), first, last).await?.into_iter().collect();
            let counts = |b: i64| {
                let c = counted.get(&b).copied().unwrap_or_default();
                (u32::try_from(c.negatives).unwrap_or(u32::MAX), u32::try_from(c.interactions).unwrap_or(u32::MAX))
            };
            let saved = crisis.detector.clone();
            let change = crisis.detector.sync(rule, at, &counts, evaluate);
            if change.is_none() && version.is_some() && !crisis.detector.needs_saving_since(&saved) {
                return Ok(());
            }
            let (opened, closed) = match change {
                Some(CrisisChange::Opened { at, negatives_in_window, expected, .. }) => {
                    let incident = Incident {
                        id: IncidentId::derived(&format!("{}/{}", channel.id, at.timestamp_micros())),
                        team_id: channel.team_id.clone(),
                        channel_id: channel.id,
                        opened_at: at,
                        closed_at: None,
                        negatives_in_window,
                        expected,
                    };
                    crisis.open = Some(incident.clone());
                    (Some(incident), None)
                }
                Some(CrisisChange::Closed { at, .. }) => {
                    let closed = crisis.open.take().map(|mut i| {
                        i.closed_at = Some(at);
                        i
                    });
                    (None, closed)
                }
                None => (None, None),
            };
            let value = serde_json::to_string(&crisis).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            match self.ports.store.put_state(&key, &value, version).await {
                Ok(_) => {}
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e),
            }
            if let Some(incident) = opened {
                self.ports.store.put_incident(&incident).await?;
                let detail = json!({
                    "incident_id": incident.id, "channel_id": channel.id, "platform": channel.platform,
                    "negatives_in_window": incident.negatives_in_window, "expected": incident.expected,
                    "opened_at": incident.opened_at,
                });
                self.emit(EventKind::CrisisDetected, channel, detail).await;
            }
            if let Some(incident) = closed {
                self.ports.store.put_incident(&incident).await?;
                let detail = json!({"incident_id": incident.id, "channel_id": channel.id, "closed_at": incident.closed_at});
                self.emit(EventKind::CrisisResolved, channel, detail).await;
            }
            return Ok(());
        }
        Err(StoreError::Conflict)
    }

    async fn emit(&self, kind: EventKind, channel: &Channel, detail: serde_json::Value) {
        let event = Event::new(kind, &channel.team_id, self.ports.clock.now(), detail);
        if let Err(e) = self.ports.events.emit(&event).await {
            tracing::error!(error = %e, kind = kind.detail_type(), "event not delivered");
        }
    }
}

/// The counter series of a channel's crisis detector. The bucket length is part of it, so
/// that changing the rule's never reads counts made with another.
fn crisis_series(channel: ChannelId, rule: &CrisisRule) -> String {
    format!("crisis#{channel}#{}", rule.bucket_secs())
}

/// The newest crisis bucket each channel's detector was synced to by this process, so that the
/// first interaction of a new bucket syncs it (and the buckets leaving its window are learnt
/// while their counters are kept) and the others only add. Shared by the clones of an
/// [`Intake`]; losing it (a new process) costs one extra sync per channel.
#[derive(Debug, Default)]
pub struct CrisisMarks(std::sync::Mutex<std::collections::HashMap<ChannelId, i64>>);

impl CrisisMarks {
    /// Channels remembered at most; past that the marks start over (each channel then syncs once more).
    const MAX_CHANNELS: usize = 100_000;

    /// Whether `bucket` is newer than the channel's mark, which then moves to it.
    fn is_new_bucket(&self, channel: ChannelId, bucket: i64) -> bool {
        let mut marks = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if marks.len() >= Self::MAX_CHANNELS && !marks.contains_key(&channel) {
            marks.clear();
        }
        let mark = marks.entry(channel).or_insert(i64::MIN);
        let new = bucket > *mark;
        *mark = (*mark).max(bucket);
        new
    }
}

/// A channel's crisis detector and the incident it has open, stored as one versioned value.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
struct ChannelCrisis {
    detector: CrisisState,
    open: Option<Incident>,
}

impl ChannelCrisis {
    fn new(now: DateTime<Utc>) -> Self {
        Self { detector: CrisisState::new(now), open: None }
    }
}

/// At most the first 100 characters of a platform's id, for a log line.
fn excerpt(id: &str) -> String {
    match id.char_indices().nth(100) {
        Some((end, _)) => format!("{}… ({} bytes)", &id[..end], id.len()),
        None => id.to_owned(),
    }
}

/// The watch-list terms that `text` contains, compared case- and accent-insensitively (a term
/// starting with `#` or `@` must match a whole tag; others match on word boundaries).
pub fn watch_tags(terms: &[String], text: &str) -> Vec<String> {
    if terms.is_empty() {
        return vec![];
    }
    let haystack = fold(text);
    terms
        .iter()
        .filter(|term| {
            let needle = fold(term);
            !needle.is_empty() && contains_word(&haystack, &needle)
        })
        .cloned()
        .collect()
}

/// Lower case without accents: "Café" and "CAFE" compare equal.
fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

fn contains_word(haystack: &str, needle: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(needle).any(|(i, m)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + m.len()..].chars().next();
        before.is_none_or(|c| !is_word(c)) && after.is_none_or(|c| !is_word(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_terms_match_whole_words_without_case_or_accents() {
        let terms = vec!["Café du Coin".to_owned(), "#brunch".to_owned(), "Starbucks".to_owned(), "tea".to_owned()];
        let tags = watch_tags(&terms, "Best CAFE DU COIN ever, better than starbucks! #Brunch #teatime");
        assert_eq!(tags, vec!["Café du Coin", "#brunch", "Starbucks"]);
        assert!(watch_tags(&terms, "steam and teapots").is_empty(), "no match inside words");
        assert!(watch_tags(&[], "anything").is_empty());
    }
}
