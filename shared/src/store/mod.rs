//! Store ports, grouped by aggregate, and their two adapters: SQLite (embedded default) and
//! DynamoDB (one table; see docs/data-model.md). Both pass the same contract suite.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{
    ApiKey, ApiKeyId, Channel, ChannelId, Delivery, DeliveryId, Email, ErasedEvent, Incident, Interaction, InteractionId,
    InteractionKind, InteractionStatus, KeyHash, Member, MemberId, MetricRollup, MetricSnapshot, MetricSubject, OneTimeToken,
    Platform, Post, PostId, RawEvent, RawEventId, Report, ReportId, SentimentLabel, Session, Team, TeamId,
};

pub mod sqlite;
#[cfg(feature = "aws")]
pub mod dynamo;

mod cursor;

pub use cursor::Cursor;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists")]
    AlreadyExists,
    /// The item changed since it was read (optimistic concurrency): read again and retry, or
    /// give up (a lost claim).
    #[error("changed concurrently")]
    Conflict,
    #[error("invalid pagination cursor")]
    InvalidCursor,
    #[error("stored item could not be read: {0}")]
    Corrupt(String),
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Which page of a listing to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (stores clamp it to 1..=MAX_PAGE).
    pub limit: u32,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

impl PageRequest {
    pub const MAX_PAGE: u32 = 500;
    pub const DEFAULT_PAGE: u32 = 50;

    pub fn first(limit: u32) -> Self {
        Self { limit, cursor: None }
    }

    pub fn effective_limit(&self) -> u32 {
        match self.limit {
            0 => Self::DEFAULT_PAGE,
            n => n.min(Self::MAX_PAGE),
        }
    }
}

/// One page of a listing; `next` reads the following page, `None` means the end.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[async_trait]
pub trait TeamStore: Send + Sync {
    /// Creates a team; [`StoreError::AlreadyExists`] when its id is taken.
    async fn create_team(&self, team: &Team) -> StoreResult<()>;
    async fn get_team(&self, id: &TeamId) -> StoreResult<Option<Team>>;
    /// Replaces a stored team if it still has `team.version`, and returns it with the version
    /// bumped; [`StoreError::NotFound`] when it does not exist, [`StoreError::Conflict`] when
    /// someone else wrote it since it was read. Keeps the calendar-token lookup in step with
    /// `team.calendar_token_hash`: a new hash is findable by
    /// [`TeamStore::team_by_calendar_token`] and the one it replaced is not, atomically.
    async fn update_team(&self, team: &Team) -> StoreResult<Team>;
    /// Every team, by id (the report generator's round; teams are few).
    async fn list_teams(&self) -> StoreResult<Vec<Team>>;
    /// The team whose calendar feed token has this hash (one key read), or `None`.
    async fn team_by_calendar_token(&self, hash: &KeyHash) -> StoreResult<Option<Team>>;
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    async fn put_api_key(&self, key: &ApiKey) -> StoreResult<()>;
    /// The authentication lookup: one read by the key's hash.
    async fn api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>>;
    async fn list_api_keys(&self, team: &TeamId) -> StoreResult<Vec<ApiKey>>;
    /// [`StoreError::NotFound`] when the team has no such key.
    async fn delete_api_key(&self, team: &TeamId, id: ApiKeyId) -> StoreResult<()>;
}

/// People who sign in (see `domain::people`): members, their one-time links (invites, password
/// resets), their sessions, and the sign-in throttle's counters.
#[async_trait]
pub trait PeopleStore: Send + Sync {
    /// Creates a member; [`StoreError::AlreadyExists`] when a member of any team has this e-mail
    /// (an e-mail is one person on the whole deployment).
    async fn create_member(&self, member: &Member) -> StoreResult<()>;
    /// Replaces a stored member (a new password); [`StoreError::NotFound`] when absent.
    async fn update_member(&self, member: &Member) -> StoreResult<()>;
    /// The sign-in lookup: one key read by the normalised e-mail.
    async fn member_by_email(&self, email: &Email) -> StoreResult<Option<Member>>;
    /// A team's member; `None` when absent or another team's.
    async fn get_member(&self, team: &TeamId, id: MemberId) -> StoreResult<Option<Member>>;
    /// A team's members, by id.
    async fn list_members(&self, team: &TeamId) -> StoreResult<Vec<Member>>;
    /// Removes a member and every session of theirs; [`StoreError::NotFound`] when the team has
    /// no such member.
    async fn delete_member(&self, team: &TeamId, id: MemberId) -> StoreResult<()>;

    /// Stores a one-time link (by its token's hash), which lapses at its `expires_at`.
    async fn put_link(&self, link: &OneTimeToken) -> StoreResult<()>;
    /// The link with this hash, lapsed or not; `None` once used.
    async fn link_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<OneTimeToken>>;
    /// Uses a link: removes it and returns it if it exists and has not lapsed at `now`, `None`
    /// otherwise. A conditional write: of two concurrent takers, exactly one gets it.
    async fn take_link(&self, hash: &KeyHash, now: DateTime<Utc>) -> StoreResult<Option<OneTimeToken>>;

    /// Stores a session (by its id's hash) until its `expires_at`.
    async fn put_session(&self, session: &Session) -> StoreResult<()>;
    /// The session with this hash, lapsed or not (the caller checks [`Session::is_live`]).
    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<Session>>;
    /// Ends one session (no error when it is already gone).
    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()>;
    /// Ends every session of a member; returns how many there were.
    async fn delete_sessions_of(&self, member: MemberId) -> StoreResult<usize>;

    /// Counts one attempt under `key` unless `max` are counted already (then `Ok(false)` and
    /// nothing changes): a conditional increment, so the limit holds across hosts. The count
    /// lapses at `expires_at` (keys name their window, so a lapsed count is never read again).
    async fn take_attempt(&self, key: &str, max: u32, expires_at: DateTime<Utc>) -> StoreResult<bool>;
    /// Gives back one attempt counted under `key` (a sign-in that succeeded); never below 0.
    async fn give_back_attempt(&self, key: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// A team's channel; `None` when it does not exist or belongs to another team.
    async fn get_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<Option<Channel>>;
    /// A channel by id alone, for webhook intake where the URL names only the channel.
    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>>;
    async fn list_channels(&self, team: &TeamId) -> StoreResult<Vec<Channel>>;
    /// Every team's channels on one platform (the notification poller's round).
    async fn channels_on(&self, platform: Platform) -> StoreResult<Vec<Channel>>;
    /// Replaces a stored channel; [`StoreError::NotFound`] when it does not exist.
    async fn update_channel(&self, channel: &Channel) -> StoreResult<()>;
    async fn delete_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<()>;
}

#[async_trait]
pub trait PostStore: Send + Sync {
    /// Stores a post and its deliveries atomically: all of them or none.
    async fn create_post(&self, post: &Post, deliveries: &[Delivery]) -> StoreResult<()>;
    async fn get_post(&self, team: &TeamId, id: PostId) -> StoreResult<Option<Post>>;
    /// How many `get_post`s are worth having in flight at once (a report reads every post of
    /// its period): 1 for a store behind one connection, more where each read is a round trip.
    fn parallel_reads(&self) -> usize {
        1
    }
    /// Replaces a stored post if it still has `post.version`, and returns it with the version
    /// bumped; [`StoreError::NotFound`] when the team has no such post,
    /// [`StoreError::Conflict`] when someone else wrote it since it was read.
    async fn update_post(&self, post: &Post) -> StoreResult<Post>;
    /// The deliveries of one post (empty when the post is another team's).
    async fn deliveries_of_post(&self, team: &TeamId, post: PostId) -> StoreResult<Vec<Delivery>>;
    async fn get_delivery(&self, team: &TeamId, post: PostId, id: DeliveryId) -> StoreResult<Option<Delivery>>;
    /// Writes `delivery` if the stored one still has `delivery.version`, and returns it with the
    /// version bumped. [`StoreError::Conflict`] when someone else wrote first: this is how a
    /// claim is won by exactly one publisher.
    async fn update_delivery(&self, delivery: &Delivery) -> StoreResult<Delivery>;
    /// [`update_delivery`](Self::update_delivery) for many deliveries at once, each
    /// version-checked on its own: one answer per delivery, in order (a lost one is
    /// [`StoreError::Conflict`] and takes nothing from the others). This is how a publisher run
    /// claims a burst: SQLite writes them all in one transaction (the outer error: none was
    /// written), DynamoDB sends one conditional write per item, several at a time. By default,
    /// one `update_delivery` after another.
    async fn update_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<Vec<StoreResult<Delivery>>> {
        let mut written = Vec::with_capacity(deliveries.len());
        for d in deliveries {
            written.push(self.update_delivery(d).await);
        }
        Ok(written)
    }
    /// The calendar: a team's deliveries with `from <= publish_at < to`, by publish time.
    async fn calendar(
        &self,
        team: &TeamId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>>;
    /// Due work across all teams: deliveries whose [`Delivery::due_at`] is at or before `until`,
    /// earliest first, at most `limit`.
    async fn due_deliveries(&self, until: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>>;
}

/// Filters of an inbox listing. `status` and the time window select from the index; the other
/// filters are applied to what it yields, so a page may hold fewer than `limit` items and still
/// have a `next` (as a DynamoDB FilterExpression would): only `next: None` means the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxQuery {
    pub status: InteractionStatus,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub channel: Option<ChannelId>,
    pub kind: Option<InteractionKind>,
    pub sentiment: Option<SentimentLabel>,
    /// Watch-list tag the interaction must carry.
    pub tag: Option<String>,
    /// Case-insensitive substring of the text or the author's name.
    pub text: Option<String>,
    /// Whom it is assigned to (case-insensitive, whole name).
    pub assignee: Option<String>,
}

impl InboxQuery {
    /// Everything in one status.
    pub fn status(status: InteractionStatus) -> Self {
        Self { status, from: None, to: None, channel: None, kind: None, sentiment: None, tag: None, text: None, assignee: None }
    }

    /// Whether the filters beyond status and time keep `i`.
    pub fn matches(&self, i: &Interaction) -> bool {
        self.channel.is_none_or(|c| i.channel_id == c)
            && self.kind.is_none_or(|k| i.kind == k)
            && self.sentiment.is_none_or(|l| i.sentiment.as_ref().is_some_and(|s| s.label == l))
            && self.tag.as_ref().is_none_or(|t| i.tags.iter().any(|x| x == t))
            && self.assignee.as_ref().is_none_or(|a| i.assignee.as_ref().is_some_and(|x| x.to_lowercase() == a.to_lowercase()))
            && self.text.as_ref().is_none_or(|q| {
                let q = q.to_lowercase();
                i.text.to_lowercase().contains(&q) || i.author_name.to_lowercase().contains(&q)
            })
    }

    /// Whether any filter beyond status and time is set.
    pub fn filters(&self) -> bool {
        self.channel.is_some()
            || self.kind.is_some()
            || self.sentiment.is_some()
            || self.tag.is_some()
            || self.text.is_some()
            || self.assignee.is_some()
    }
}

/// How many index entries one filtered inbox page examines at most before it returns what it
/// found (with a `next` to continue): bounds the cost of a page whatever the filters.
pub const MAX_EXAMINED_PER_PAGE: usize = 2000;

#[async_trait]
pub trait InteractionStore: Send + Sync {
    /// Stores a new interaction; [`StoreError::AlreadyExists`] when its id is taken.
    async fn create_interaction(&self, interaction: &Interaction) -> StoreResult<()>;
    async fn get_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<Option<Interaction>>;
    /// Replaces a stored interaction (status, assignee…); [`StoreError::NotFound`] when absent.
    async fn update_interaction(&self, interaction: &Interaction) -> StoreResult<()>;
    /// A team's inbox in one status, newest first, `from <= created_at < to`.
    async fn inbox(&self, team: &TeamId, query: &InboxQuery, page: &PageRequest) -> StoreResult<Page<Interaction>>;
    /// One conversation, oldest first.
    async fn thread(&self, team: &TeamId, channel: ChannelId, thread_id: &str) -> StoreResult<Vec<Interaction>>;
    /// Removes one interaction; [`StoreError::NotFound`] when the team has no such interaction.
    async fn delete_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<()>;
    /// Everything one author wrote to the team, newest first (contact history, erasure).
    async fn by_author(
        &self,
        team: &TeamId,
        platform: Platform,
        author_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Interaction>>;
}

#[async_trait]
pub trait RawEventStore: Send + Sync {
    async fn put_raw_event(&self, event: &RawEvent) -> StoreResult<()>;
    async fn get_raw_event(&self, id: RawEventId) -> StoreResult<Option<RawEvent>>;
    /// One channel's raw events with `from <= received_at < to`, oldest first (replay). Expired
    /// ones may still appear until the backend removes them.
    async fn raw_events(
        &self,
        channel: ChannelId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<RawEvent>>;
    /// Removes one (no error when it is already gone).
    async fn delete_raw_event(&self, id: RawEventId) -> StoreResult<()>;
}

/// Fingerprints of erased interactions ([`ErasedEvent`]), so that intake does not store their
/// events again while they are remembered.
#[async_trait]
pub trait ErasureStore: Send + Sync {
    /// Remembers an erased event until its `expires_at`; a second put of the same fingerprint
    /// replaces the first.
    async fn put_erased_event(&self, event: &ErasedEvent) -> StoreResult<()>;
    /// The erased event with this fingerprint, expired or not: DynamoDB removes expired items
    /// only days later (and SQLite not at all), so the caller asks [`ErasedEvent::blocks`].
    async fn erased_event(&self, fingerprint: &str) -> StoreResult<Option<ErasedEvent>>;
}

/// A small value kept under a key with a version, for state that several runs update
/// (a channel's crisis detector, a notification cursor): read, change, write back if unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    pub value: String,
    pub version: u64,
}

#[async_trait]
pub trait StateStore: Send + Sync {
    async fn get_state(&self, key: &str) -> StoreResult<Option<Versioned>>;
    /// Writes `value` if the stored version is `expected` (`None`: nothing stored yet) and
    /// returns the new version; [`StoreError::Conflict`] when someone else wrote first.
    async fn put_state(&self, key: &str, value: &str, expected: Option<u64>) -> StoreResult<u64>;

    /// [`Self::put_state`] for a value of no use after `until` (a pending OAuth connection):
    /// the store may drop it from then on. DynamoDB does, with the table's TTL (within days of
    /// `until`); SQLite keeps it (a local file, where a few such rows cost nothing). A read
    /// after `until` may still find it: callers check their own expiry.
    async fn put_state_until(
        &self,
        key: &str,
        value: &str,
        expected: Option<u64>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<u64> {
        let _ = until;
        self.put_state(key, value, expected).await
    }
}

/// One time bucket's counts in a [`CounterStore`] series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BucketCounts {
    pub interactions: u64,
    pub negatives: u64,
}

/// Counts per time bucket that any number of writers add to at once. An add is one atomic
/// write, with no read and no version to race for, so a busy series has no read-modify-write
/// item (the crisis detector's counting, docs/crisis.md "Counting"). DynamoDB spreads each
/// bucket over shard items and sums them on read, so one bucket is not one hot item either.
#[async_trait]
pub trait CounterStore: Send + Sync {
    /// Adds `add` to bucket `bucket` of `series`; the bucket may be forgotten after `expires_at`.
    async fn add_to_bucket(&self, series: &str, bucket: i64, add: BucketCounts, expires_at: DateTime<Utc>) -> StoreResult<()>;
    /// The buckets of `series` from `first` to `last` (inclusive) that were added to, in order;
    /// the others are zero.
    async fn buckets(&self, series: &str, first: i64, last: i64) -> StoreResult<Vec<(i64, BucketCounts)>>;
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Creates or replaces an incident.
    async fn put_incident(&self, incident: &Incident) -> StoreResult<()>;
    /// A team's incidents, newest first.
    async fn list_incidents(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Incident>>;
}

#[async_trait]
pub trait MetricStore: Send + Sync {
    async fn put_snapshot(&self, snapshot: &MetricSnapshot) -> StoreResult<()>;
    /// Snapshots of one subject with `from <= taken_at < to`, oldest first.
    async fn snapshots(
        &self,
        team: &TeamId,
        subject: &MetricSubject,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MetricSnapshot>>;
    /// Writes a subject's roll-up of one day unless the stored one was taken later (so polls
    /// landing out of order keep the day's latest counters).
    async fn put_rollup(&self, rollup: &MetricRollup) -> StoreResult<()>;
    /// Every roll-up of the team with `from <= day < to`, by day then subject key: what a report
    /// reads (O(subjects × days with data), never O(snapshots)).
    async fn rollups(&self, team: &TeamId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MetricRollup>>;
}

#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn put_report(&self, report: &Report) -> StoreResult<()>;
    async fn get_report(&self, team: &TeamId, id: ReportId) -> StoreResult<Option<Report>>;
    /// A team's reports, newest first.
    async fn list_reports(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Report>>;
}

/// Everything Herald keeps. Services take the narrowest port they need; hosts hold this.
pub trait Store:
    TeamStore
    + ApiKeyStore
    + PeopleStore
    + ChannelStore
    + PostStore
    + InteractionStore
    + RawEventStore
    + ErasureStore
    + StateStore
    + CounterStore
    + IncidentStore
    + MetricStore
    + ReportStore
{
}

impl<T> Store for T where
    T: TeamStore
        + ApiKeyStore
        + PeopleStore
        + ChannelStore
        + PostStore
        + InteractionStore
        + RawEventStore
        + ErasureStore
        + StateStore
        + CounterStore
        + IncidentStore
        + MetricStore
        + ReportStore
{
}
