//! What the API answers, as types: every JSON response body is one of these `Serialize +
//! ToSchema` views, built from domain values and services' results, so the bytes sent and the
//! OpenAPI document come from the same definition. Views hold no rules: they only choose what
//! is shown (never credentials, key hashes or lease details) and how it is spelt.
//!
//! `tests/system/api_wire.rs` pins the JSON of every endpoint; a view that changes the wire
//! format fails it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{
    self, ApiKeyId, ChannelId, DeliveryId, DeliveryState, IncidentId, InteractionId, InteractionKind, InteractionStatus,
    MediaRef, Note, Platform, PostId, ReportFormat, ReportId, Role, Sentiment, SentimentLabel, SeriesId, TeamId, slot_time_text,
    weekday_name,
};
use crate::services::inbox::first_response_seconds;
use crate::services::posts::PostView;

/// One page of a listing: `next` reads the following page; `null` is the end.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass it as `cursor` to read the next page; `null` when this is the last one.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A store's page, each item shown as `T`.
    pub fn of<U>(page: &crate::store::Page<U>) -> Self
    where
        T: for<'a> From<&'a U>,
    {
        Page { items: page.items.iter().map(T::from).collect(), next: page.next.clone() }
    }
}

/// Every item at once (a team has few of them): `{"items": […]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

// ------------------------------------------------------------------------------------------
// Meta
// ------------------------------------------------------------------------------------------

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
    /// The server's clock.
    pub time: DateTime<Utc>,
}

/// `GET /v1/me`: who the key belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub team_id: TeamId,
    pub role: Role,
    /// The API key's id; for a signed-in person, their member id.
    pub key_id: ApiKeyId,
    /// A signed-in person only: their member id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<crate::domain::MemberId>,
    /// A signed-in person only: the token every change must carry in `x-csrf-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// `GET /v1/openapi.json`: the OpenAPI 3 document itself.
#[derive(Serialize)]
#[serde(transparent)]
pub struct OpenApiDocument(pub serde_json::Value);

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new().description(Some("An OpenAPI 3.1 document: this one.")).into()
    }
}

impl ToSchema for OpenApiDocument {}

/// A named object schema for a JSON body whose shape is documented elsewhere.
macro_rules! documented_object {
    ($(#[$doc:meta])* $name:ident, $description:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new().description(Some($description)).into()
            }
        }

        impl ToSchema for $name {}
    };
}

documented_object!(
    /// `report.json`: everything a report holds.
    ReportDocument,
    "Everything the report holds: periods, key figures per channel and overall, every post, the best times, the inbox, incidents, failures; each figure is defined in docs/reports.md."
);

documented_object!(
    /// A handshake answered as the platform expects it (X's `response_token`, LinkedIn's
    /// `challengeResponse`).
    HandshakeAnswer,
    "The platform's handshake answer: X `{\"response_token\"}`, LinkedIn `{\"challengeCode\",\"challengeResponse\"}` (Meta's is plain text)."
);

/// The team's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    /// The zone reports and schedules are read in.
    pub time_zone: String,
    pub language: domain::Language,
    /// Where the logo is served (`/v1/team/logo`), or `null` when there is none.
    pub logo: Option<String>,
    /// The colour the team's reports are drawn in (`#rrggbb`), or `null` for Herald's.
    pub accent_color: Option<String>,
    /// The team's reports carry no mention of Herald.
    pub white_label: bool,
    pub created_at: DateTime<Utc>,
    /// Bumped by every change of the team.
    pub version: u64,
}

impl From<&domain::Team> for Team {
    fn from(t: &domain::Team) -> Self {
        Team {
            id: t.id.clone(),
            name: t.name.clone(),
            time_zone: t.time_zone.name().to_owned(),
            language: t.language,
            logo: t.logo.as_ref().map(|_| "/v1/team/logo".to_owned()),
            accent_color: t.brand.accent_color.as_ref().map(|c| c.as_str().to_owned()),
            white_label: t.brand.white_label,
            created_at: t.created_at,
            version: t.version,
        }
    }
}

// ------------------------------------------------------------------------------------------
// Channels and keys
// ------------------------------------------------------------------------------------------

/// A connected account. Its credentials never come back: only whether it has some.
#[derive(Debug, Serialize, ToSchema)]
pub struct Channel {
    pub id: ChannelId,
    pub platform: Platform,
    pub name: String,
    /// An IANA zone name: `Europe/Paris`.
    pub time_zone: String,
    pub has_credentials: bool,
    /// Set when the network refused the credentials the channel has now: connect it again or
    /// replace them. `Channel Needs Reconnect` was raised once, when this was first seen.
    pub needs_reconnect: Option<NeedsReconnect>,
    /// Whether Herald publishes to this channel's network yet. `false`: intake-only (webhooks,
    /// inbox, reports); a post to it is refused at creation.
    pub can_publish: bool,
    pub queue_slots: Vec<QueueSlot>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Since when, and why, a channel needs reconnecting.
#[derive(Debug, Serialize, ToSchema)]
pub struct NeedsReconnect {
    pub since: DateTime<Utc>,
    /// The network's words.
    pub reason: String,
}

/// A weekly posting slot in the channel's zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueSlot {
    /// `mon` … `sun`.
    pub weekday: &'static str,
    /// `09:00`.
    pub time: String,
}

impl From<&domain::Channel> for Channel {
    fn from(c: &domain::Channel) -> Self {
        Channel {
            id: c.id,
            platform: c.platform,
            name: c.name.as_str().to_owned(),
            time_zone: c.time_zone.name().to_owned(),
            has_credentials: c.credentials.is_some(),
            needs_reconnect: None,
            can_publish: c.platform.can_publish(),
            queue_slots: c
                .queue_slots
                .iter()
                .map(|s| QueueSlot { weekday: weekday_name(s.weekday), time: slot_time_text(s.time) })
                .collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// An API key as listings show it: never the secret, nor its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct Key {
    pub id: ApiKeyId,
    pub role: Role,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&domain::ApiKey> for Key {
    fn from(k: &domain::ApiKey) -> Self {
        Key { id: k.id, role: k.role, name: k.name.clone(), created_at: k.created_at }
    }
}

/// A key just made: the one time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    #[serde(flatten)]
    pub key: Key,
    /// The secret, `hrld_…`: keep it, it is never shown again.
    #[serde(rename = "key")]
    pub secret: String,
}

// ------------------------------------------------------------------------------------------
// Posts
// ------------------------------------------------------------------------------------------

/// A post and every delivery of it, by publish time.
#[derive(Debug, Serialize, ToSchema)]
pub struct Post {
    pub id: PostId,
    /// The series this post belongs to, when it was made from a recurrence rule.
    pub series_id: Option<SeriesId>,
    pub text: String,
    /// Per-platform texts replacing `text` on that platform.
    pub variants: BTreeMap<String, String>,
    pub media: Vec<MediaRef>,
    /// The deliveries' common state, or `partially_published`, `mixed`, `empty`.
    pub state: &'static str,
    /// The key that created it.
    pub created_by: Option<ApiKeyId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every change: approve the version you read (`POST /v1/posts/{id}/approve`).
    pub version: u64,
    /// Why an editor sent it back (`POST /v1/posts/{id}/reject`), until it is approved.
    pub review: Option<crate::domain::Review>,
    /// The comment (Instagram, Facebook) or reply (Threads) said right after the post; absent
    /// when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 16384)]
    pub first_comment: Option<String>,
    /// Who may reply on Threads; absent for Threads' default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_control: Option<crate::domain::ReplyControl>,
    pub deliveries: Vec<Delivery>,
}

/// One (post, channel) publication and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    pub id: DeliveryId,
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub state: DeliveryState,
    pub publish_at: DateTime<Utc>,
    /// `publish_at` on the channel's clock: `2027-01-04T10:00:00+01:00` (absent when the
    /// channel was deleted).
    pub publish_at_local: Option<String>,
    /// The channel's IANA zone, which `publish_at_local` is in.
    pub time_zone: Option<String>,
    pub attempts: u32,
    /// When a transient failure will be retried.
    pub retry_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed, in words.
    pub last_error: Option<String>,
    pub platform_post_id: Option<String>,
    /// The published post on the network.
    pub url: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Each of a team's channels' zone: delivery times are shown on their channel's clock too.
#[derive(Debug, Clone, Default)]
pub struct Zones(std::collections::HashMap<domain::ChannelId, chrono_tz::Tz>);

impl Zones {
    pub fn of(channels: &[domain::Channel]) -> Self {
        Zones(channels.iter().map(|c| (c.id, c.time_zone)).collect())
    }
}

impl Delivery {
    fn new(d: &domain::Delivery, zones: &Zones) -> Self {
        let zone = zones.0.get(&d.channel_id);
        Delivery {
            id: d.id,
            channel_id: d.channel_id,
            platform: d.platform,
            state: d.state,
            publish_at: d.publish_at,
            publish_at_local: zone.map(|z| d.publish_at.with_timezone(z).format("%Y-%m-%dT%H:%M:%S%:z").to_string()),
            time_zone: zone.map(|z| z.name().to_owned()),
            attempts: d.attempts,
            retry_at: d.retry_at,
            last_error: d.last_error.clone(),
            platform_post_id: d.platform_post_id.clone(),
            url: d.url.clone(),
            published_at: d.published_at,
        }
    }
}

impl Post {
    /// The post, its delivery times also on their channels' clocks.
    pub fn new(v: &PostView, zones: &Zones) -> Self {
        let p = &v.post;
        let mut deliveries: Vec<_> = v.deliveries.iter().collect();
        deliveries.sort_by_key(|d| (d.publish_at, d.channel_id));
        Post {
            id: p.id,
            series_id: p.series_id,
            text: p.text.as_str().to_owned(),
            variants: p.variants.iter().map(|(k, t)| (k.as_str().to_owned(), t.as_str().to_owned())).collect(),
            media: p.media.clone(),
            state: v.state(),
            created_by: p.created_by,
            created_at: p.created_at,
            updated_at: p.updated_at,
            version: p.version,
            review: p.review.clone(),
            first_comment: p.first_comment.as_ref().map(|c| c.as_str().to_owned()),
            reply_control: p.reply_control,
            deliveries: deliveries.into_iter().map(|d| Delivery::new(d, zones)).collect(),
        }
    }
}

/// `POST /v1/posts`: the post, or with `recurrence` the series.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Created {
    Post(Post),
    Series(Series),
}

/// A recurring post as created: one post per occurrence.
#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub series_id: SeriesId,
    pub recurrence: Recurrence,
    pub posts: Vec<SeriesPost>,
    /// Wall-clock times of the rule that do not exist in its zone (a DST gap): no post for them.
    pub skipped: Vec<SkippedTime>,
}

/// The rule a series was made from.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recurrence {
    pub rrule: String,
    pub time_zone: String,
}

/// A post of a series, with the time of its first delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPost {
    #[serde(flatten)]
    pub post: Post,
    pub publish_at: Option<DateTime<Utc>>,
}

/// A wall-clock time the rule named that the zone skips.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedTime {
    /// `2027-03-28T02:30:00`.
    pub local: String,
    pub reason: String,
}

impl Series {
    pub fn new(s: &crate::services::series::SeriesView, zones: &Zones) -> Self {
        Series {
            series_id: s.series_id,
            recurrence: Recurrence { rrule: s.rrule.clone(), time_zone: s.time_zone.name().to_owned() },
            posts: s
                .posts
                .iter()
                .map(|v| SeriesPost { post: Post::new(v, zones), publish_at: v.deliveries.iter().map(|d| d.publish_at).min() })
                .collect(),
            skipped: s
                .skipped
                .iter()
                .map(|t| SkippedTime {
                    local: t.format("%Y-%m-%dT%H:%M:%S").to_string(),
                    reason: format!("does not exist in {} (clocks move forward that day)", s.time_zone),
                })
                .collect(),
        }
    }
}

/// What a CSV import stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Imported {
    /// How many posts were created.
    pub imported: usize,
    pub posts: Vec<ImportedPost>,
    /// The rows whose post already existed (imported before, or on an earlier line of the
    /// file): nothing was written for them.
    pub duplicates: Duplicates,
    /// With `partial=true`: the rows left out, and why.
    pub rejected: Vec<RowProblem>,
}

/// The rows of an imported file that were already imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct Duplicates {
    /// How many rows were duplicates.
    pub count: usize,
    /// Each one, by line, with the post it made the first time.
    pub rows: Vec<DuplicateRow>,
}

/// A row of an imported file whose post already exists.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// The post made from the same content before.
    pub post_id: crate::domain::PostId,
}

impl From<&[crate::services::import::DuplicateRow]> for Duplicates {
    fn from(rows: &[crate::services::import::DuplicateRow]) -> Self {
        Duplicates {
            count: rows.len(),
            rows: rows.iter().map(|d| DuplicateRow { line: d.line, post_id: d.post_id }).collect(),
        }
    }
}

/// A post made from one row of the file.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedPost {
    #[serde(flatten)]
    pub post: Post,
    /// Its line in the file (the header is line 1).
    pub line: u64,
}

/// What is wrong with one row of an imported file.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowProblem {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl From<&crate::services::import::RowError> for RowProblem {
    fn from(r: &crate::services::import::RowError) -> Self {
        RowProblem { line: r.line, field: r.field.clone(), message: r.message.clone() }
    }
}

/// `POST /v1/calendar/token`: the feed's new address, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarFeed {
    /// `/v1/calendar.ics?token=…`
    pub url: String,
}

// ------------------------------------------------------------------------------------------
// Inbox
// ------------------------------------------------------------------------------------------

/// A comment, mention, reply or direct message (its raw webhook body stays internal).
#[derive(Debug, Serialize, ToSchema)]
pub struct Interaction {
    pub id: InteractionId,
    pub channel_id: ChannelId,
    pub platform: Platform,
    pub kind: InteractionKind,
    /// The platform's id of it.
    pub external_id: String,
    pub thread_id: String,
    pub parent_id: Option<String>,
    pub author: Author,
    pub text: String,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    /// The post it is about, on the network.
    pub post_url: Option<String>,
    pub status: InteractionStatus,
    pub assignee: Option<String>,
    /// `null` until scored.
    pub sentiment: Option<SentimentScore>,
    /// Watch-list terms it contains.
    pub tags: Vec<String>,
    /// Internal notes, never sent.
    pub notes: Vec<Note>,
    pub first_response_at: Option<DateTime<Utc>>,
    /// Seconds from `created_at` to the first answer.
    pub first_response_seconds: Option<i64>,
}

/// How an interaction reads (see docs/sentiment.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct SentimentScore {
    /// From −1 (most negative) to 1 (most positive); stored as an `f32` and shown widened.
    pub score: f64,
    pub label: SentimentLabel,
    /// The language it was scored in: `en` or `fr`.
    pub language: String,
}

impl From<&Sentiment> for SentimentScore {
    fn from(s: &Sentiment) -> Self {
        SentimentScore { score: f64::from(s.score), label: s.label, language: s.language.clone() }
    }
}

/// Who wrote an interaction, as the platform names them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Author {
    pub id: String,
    pub name: String,
}

impl From<&domain::Interaction> for Interaction {
    fn from(i: &domain::Interaction) -> Self {
        Interaction {
            id: i.id,
            channel_id: i.channel_id,
            platform: i.platform,
            kind: i.kind,
            external_id: i.external_id.clone(),
            thread_id: i.thread_id.clone(),
            parent_id: i.parent_id.clone(),
            author: Author { id: i.author_id.clone(), name: i.author_name.clone() },
            text: i.text.clone(),
            created_at: i.created_at,
            received_at: i.received_at,
            post_url: i.post_url.clone(),
            status: i.status,
            assignee: i.assignee.clone(),
            sentiment: i.sentiment.as_ref().map(SentimentScore::from),
            tags: i.tags.clone(),
            notes: i.notes.clone(),
            first_response_at: i.first_response_at,
            first_response_seconds: first_response_seconds(i),
        }
    }
}

/// One interaction and its whole conversation, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Thread {
    pub interaction: Interaction,
    pub thread: Vec<Interaction>,
}

/// An answer sent on the platform.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replied {
    /// The interaction, now answered.
    pub interaction: Interaction,
    pub reply: Reply,
}

/// The reply: as the platform published it, or handed to the tool that sent the interaction
/// (a `generic` channel: `Interaction Reply Requested`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Reply {
    /// The platform's id of the reply; `null` when the integration delivers it.
    pub platform_post_id: Option<String>,
    pub url: Option<String>,
    /// `platform` (Herald answered on the network) or `integration` (handed over by event).
    pub delivered_by: &'static str,
}

/// Everything one author wrote to the team, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub platform: Platform,
    pub author_id: String,
    pub items: Vec<Interaction>,
    pub next: Option<String>,
}

/// `DELETE /v1/contacts/…`: how many stored items were deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    pub removed: usize,
}

/// The team's watch list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Watchlist {
    pub terms: Vec<String>,
}

/// A crisis incident: a wave of negative interactions on one channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incident {
    pub id: IncidentId,
    pub channel_id: ChannelId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub open: bool,
    /// Negative interactions in the detection window when it opened.
    pub negatives_in_window: u32,
    /// What the channel's baseline expected in that window.
    pub expected: f64,
}

impl From<&domain::Incident> for Incident {
    fn from(i: &domain::Incident) -> Self {
        Incident {
            id: i.id,
            channel_id: i.channel_id,
            opened_at: i.opened_at,
            closed_at: i.closed_at,
            open: i.closed_at.is_none(),
            negatives_in_window: i.negatives_in_window,
            expected: i.expected,
        }
    }
}

/// What a webhook delivery stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookReceived {
    /// New interactions stored.
    pub created: usize,
    /// Events already stored before (redeliveries).
    pub duplicates: usize,
    /// Events of types Herald does not turn into interactions (kept raw only).
    pub ignored: usize,
}

impl From<&crate::intake::IngestSummary> for WebhookReceived {
    fn from(s: &crate::intake::IngestSummary) -> Self {
        WebhookReceived { created: s.created, duplicates: s.duplicates, ignored: s.ignored }
    }
}

// ------------------------------------------------------------------------------------------
// Reports
// ------------------------------------------------------------------------------------------

/// A generated report's record: its period and the links to its files.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub id: ReportId,
    pub team_id: TeamId,
    /// First day, in the team's zone.
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub files: ReportFiles,
}

/// Where each file of a report is served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportFiles {
    /// `/v1/reports/{id}/report.html`: a self-contained page with SVG charts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// `/v1/reports/{id}/report.csv`: the per-post table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<String>,
    /// `/v1/reports/{id}/report.json`: everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// `/v1/reports/{id}/report.pdf`: the report on A4 (absent if it could not be made).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pdf: Option<String>,
}

impl From<&domain::Report> for Report {
    fn from(r: &domain::Report) -> Self {
        let link = |format: ReportFormat| {
            r.files.contains_key(&format).then(|| crate::services::reports::file_link(r.id, format))
        };
        Report {
            id: r.id,
            team_id: r.team_id.clone(),
            from: r.period_start,
            to: r.period_end,
            created_at: r.created_at,
            files: ReportFiles {
                html: link(ReportFormat::Html),
                csv: link(ReportFormat::Csv),
                json: link(ReportFormat::Json),
                pdf: link(ReportFormat::Pdf),
            },
        }
    }
}

/// A report just generated, with its headline figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewReport {
    #[serde(flatten)]
    pub report: Report,
    pub summary: ReportSummary,
}

/// The overall figures of a report (every one is defined in docs/reports.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSummary {
    /// The key figures, this period and the previous one.
    pub overall: crate::services::reports::Compared<crate::services::reports::Kpis>,
    /// The inbox over the period.
    pub inbox: crate::services::reports::InboxStats,
    /// Crisis incidents opened in the period.
    pub incidents: usize,
    /// What generating it read from the store.
    pub items_read: crate::services::reports::ItemsRead,
}

impl From<&crate::services::reports::ReportData> for ReportSummary {
    fn from(d: &crate::services::reports::ReportData) -> Self {
        ReportSummary {
            overall: d.overall.clone(),
            inbox: d.inbox.current.clone(),
            incidents: d.incidents.len(),
            items_read: d.items_read.clone(),
        }
    }
}

/// When the team's reports are made, in its zone, and the next runs.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSchedule {
    pub time_zone: String,
    /// `null`: no weekly report.
    pub weekly: Option<WeeklyReport>,
    /// `null`: no monthly report.
    pub monthly: Option<MonthlyReport>,
    /// Who gets each scheduled report by e-mail (its summary, its files and a share link).
    pub recipients: Vec<String>,
    pub upcoming: Vec<ScheduledRun>,
}

/// The seven days before `day`, made on `day` from `hour`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeeklyReport {
    /// `mon` … `sun`.
    pub day: &'static str,
    pub hour: u8,
}

/// The previous calendar month, made on that day of the month from `hour`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyReport {
    /// 1 to 28.
    pub day: u8,
    pub hour: u8,
}

/// One coming scheduled report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduledRun {
    /// `weekly` or `monthly`.
    pub schedule: &'static str,
    pub at: DateTime<Utc>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl ReportSchedule {
    pub fn new(schedule: &domain::ReportSchedule, zone: chrono_tz::Tz, now: DateTime<Utc>) -> Self {
        ReportSchedule {
            time_zone: zone.name().to_owned(),
            weekly: schedule.weekly.map(|w| WeeklyReport { day: weekday_name(w.day), hour: w.hour }),
            monthly: schedule.monthly.map(|m| MonthlyReport { day: m.day, hour: m.hour }),
            recipients: schedule.recipients.clone(),
            upcoming: crate::services::reports::schedule::upcoming(schedule, zone, now)
                .iter()
                .map(|r| ScheduledRun { schedule: r.cadence.as_str(), at: r.at, from: r.from, to: r.to })
                .collect(),
        }
    }
}

/// Best posting times of a channel, as queue slots to apply with `PATCH /v1/channels/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotSuggestions {
    pub suggested: Vec<SuggestedSlot>,
    pub time_zone: String,
    /// Posts measured.
    pub sample: usize,
    /// Every weekday × hour cell with at least one post (weekday 0 = Monday).
    pub cells: Vec<crate::services::reports::Cell>,
    /// Why nothing is suggested, when nothing is.
    pub note: Option<String>,
}

/// A suggested weekly slot and the evidence for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestedSlot {
    /// `mon` … `sun`.
    pub weekday: &'static str,
    /// `18:00`.
    pub time: String,
    pub posts: usize,
    pub mean_engagements: f64,
}

impl From<&crate::services::reports::BestTime> for SlotSuggestions {
    fn from(best: &crate::services::reports::BestTime) -> Self {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        SlotSuggestions {
            suggested: best
                .recommended
                .iter()
                .map(|c| SuggestedSlot {
                    weekday: DAYS[c.weekday as usize % 7],
                    time: format!("{:02}:00", c.hour),
                    posts: c.posts,
                    mean_engagements: c.mean_engagements,
                })
                .collect(),
            time_zone: best.time_zone.clone(),
            sample: best.sample,
            cells: best.cells.clone(),
            note: best.note.clone(),
        }
    }
}
