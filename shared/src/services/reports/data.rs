//! The report's data: the period it covers, what it gives (key figures per channel and overall,
//! the published posts, best times, the inbox, incidents, failed deliveries, engagement day by
//! day) and the constants that define those figures. `report.json` is [`ReportData`] as JSON; the
//! CSV and HTML renderings are drawn from it. Types and calendar arithmetic only: the figures are
//! computed in `kpi.rs` from what `read.rs` reads.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{ChannelId, DeliveryId, HERALD_ACCENT, Language, MetricCounters, Platform, PostId, TeamId, ValidationError};

/// A weekday × hour cell needs at least this many posts before it may be recommended.
pub const BEST_TIME_MIN_POSTS: usize = 3;
/// Recommended posting times per channel, at most.
pub const BEST_TIME_RECOMMENDATIONS: usize = 3;
/// Posts listed as top and as bottom, at most.
pub const TOP_POSTS: usize = 5;
/// A post's counters are read this long after the period's end at the latest (the last
/// checkpoint of the polling plan): a report generated later says the same.
pub const MEASURE_WINDOW_DAYS: i64 = 7;
/// The longest period a report covers.
pub const MAX_PERIOD_DAYS: i64 = 366;


/// First and last day, inclusive, in the team's zone, and the instants they span.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub start: DateTime<Utc>,
    /// Exclusive: midnight after `to`.
    pub end: DateTime<Utc>,
}

impl Period {
    /// `[from, to]` in `zone`; refused when `to` is before `from` or the period is too long.
    pub fn new(from: NaiveDate, to: NaiveDate, zone: Tz) -> Result<Self, ValidationError> {
        if to < from {
            return Err(ValidationError::new("to", "must not be before `from`"));
        }
        if (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(ValidationError::new("to", format!("a report covers at most {MAX_PERIOD_DAYS} days")));
        }
        Ok(Self { from, to, start: midnight(from, zone), end: midnight(to + Duration::days(1), zone) })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period of the same length just before.
    pub fn previous(&self, zone: Tz) -> Self {
        let n = Duration::days(self.days());
        Self::new(self.from - n, self.to - n, zone).unwrap_or_else(|_| self.clone())
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    pub(super) fn contains_day(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// The first instant of `day` in `zone`.
pub(crate) fn midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    local_start(day, 0, zone)
}

/// The instant `day` at `hour`:00 in `zone` begins (an hour in a DST gap starts when the gap ends).
pub(super) fn local_start(day: NaiveDate, hour: u32, zone: Tz) -> DateTime<Utc> {
    let wall = day.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default();
    let mut t = wall;
    for _ in 0..4 {
        if let Some(at) = zone.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&wall)
}

/// The key figures of one channel or of the whole team, for one period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Kpis {
    pub posts_published: u64,
    /// Sum over posts whose network reports it; `None` when none does.
    pub impressions: Option<u64>,
    pub reach: Option<u64>,
    pub engagements: Option<u64>,
    /// A fraction (0.034 = 3.4 %); see `def-engagement-rate` in the translation files.
    pub engagement_rate: Option<f64>,
    /// Followers at the end of the day before the period (or its first measure inside it).
    pub followers_start: Option<u64>,
    /// Followers at the end of the period (its last measure).
    pub followers_end: Option<u64>,
    pub follower_growth: Option<i64>,
    pub failed_deliveries: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Compared<T> {
    pub current: T,
    pub previous: T,
}

/// One published delivery: a row of the CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostRow {
    pub delivery_id: DeliveryId,
    pub post_id: PostId,
    pub channel_id: ChannelId,
    pub channel: String,
    pub platform: Platform,
    pub published_at: DateTime<Utc>,
    /// In the channel's zone, `2027-01-04 09:00`.
    pub published_local: String,
    pub text: String,
    pub url: Option<String>,
    /// The post's first picture when it was given by an `https` URL (what the networks fetched
    /// it from), for a client to show beside the row; `None` for an upload (it has no lasting
    /// public address) or a post without one. Absent in reports made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    pub counters: MetricCounters,
    pub engagements: Option<u64>,
    pub engagement_rate: Option<f64>,
    /// `impressions` or `followers`: what the rate divides by.
    pub rate_basis: Option<String>,
}

/// Engagement by weekday × hour (local time), and the recommended slots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BestTime {
    pub time_zone: String,
    /// Posts measured (both periods).
    pub sample: usize,
    /// Every cell with at least one post: weekday (0 = Monday), hour, posts, mean engagements.
    pub cells: Vec<Cell>,
    /// Up to three cells with at least [`BEST_TIME_MIN_POSTS`] posts, best mean first.
    pub recommended: Vec<Cell>,
    /// Why nothing is recommended, when nothing is.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Cell {
    pub weekday: u32,
    pub hour: u32,
    pub posts: usize,
    pub mean_engagements: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelReport {
    pub channel_id: ChannelId,
    pub name: String,
    pub platform: Platform,
    pub time_zone: String,
    pub kpis: Compared<Kpis>,
    /// Followers at the end of each day of the period that has a measure (carried forward).
    pub followers: Vec<(NaiveDate, u64)>,
    pub best_time: BestTime,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InboxStats {
    /// Interactions created in the period.
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// positive, neutral, negative (and `unscored`).
    pub by_sentiment: BTreeMap<String, u64>,
    /// Of those, how many got a first answer through Herald before the period ended (so the
    /// same period made again later says the same).
    pub answered: u64,
    /// Median of `first_response_at − created_at` over the answered ones, whole seconds.
    pub median_first_response_seconds: Option<i64>,
    /// Of those created in the period, how many are open or assigned now.
    pub open_items: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentRow {
    pub id: String,
    pub channel_id: ChannelId,
    pub channel: String,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub negatives_in_window: u32,
    pub expected: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedRow {
    pub delivery_id: DeliveryId,
    pub post_id: PostId,
    pub channel: String,
    pub publish_at: DateTime<Utc>,
    pub attempts: u32,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    pub day: NaiveDate,
    pub posts: u64,
    /// Engagements of the posts published that day.
    pub engagements: u64,
}

/// What generating the report read from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemsRead {
    pub channels: usize,
    pub deliveries: usize,
    pub posts: usize,
    pub rollups: usize,
    pub interactions: usize,
    pub incidents: usize,
}

impl ItemsRead {
    pub fn total(&self) -> usize {
        self.channels + self.deliveries + self.posts + self.rollups + self.interactions + self.incidents + 1
    }
}

/// How the report looks: the team's colour, logo and whether it names Herald.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportBrand {
    /// `#rrggbb`.
    pub accent: String,
    pub white_label: bool,
    /// The team's logo as a `data:` URL, drawn on the page; not in report.json.
    #[serde(skip)]
    pub logo_data_url: Option<String>,
}

impl Default for ReportBrand {
    fn default() -> Self {
        Self { accent: HERALD_ACCENT.to_owned(), white_label: false, logo_data_url: None }
    }
}

/// Everything in a report: `report.json` is this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub team_id: TeamId,
    pub team_name: String,
    /// The language it is written in: the team's, or the one asked for.
    #[serde(default)]
    pub language: Language,
    #[serde(default)]
    pub brand: ReportBrand,
    pub time_zone: String,
    pub period: Period,
    pub previous_period: Period,
    pub generated_at: DateTime<Utc>,
    /// Counters are taken as of this instant: the period's end plus the measuring window, or
    /// the generation time if earlier.
    pub measured_until: DateTime<Utc>,
    /// The definition of the engagement rate, in the report's language (`def-engagement-rate`
    /// in the translation files), shown in every rendering.
    pub engagement_rate_definition: String,
    pub overall: Compared<Kpis>,
    pub channels: Vec<ChannelReport>,
    /// Every delivery published in the period, by publication time.
    pub posts: Vec<PostRow>,
    pub top_posts: Vec<PostRow>,
    pub bottom_posts: Vec<PostRow>,
    pub daily: Vec<DayRow>,
    /// Best time over every channel, in the team's zone.
    pub best_time: BestTime,
    pub inbox: Compared<InboxStats>,
    pub incidents: Vec<IncidentRow>,
    pub incidents_previous: u64,
    pub failed_deliveries: Vec<FailedRow>,
    pub items_read: ItemsRead,
}

impl ReportData {
    /// Nothing happened: no posts, no interactions, no incidents, no failures.
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty() && self.inbox.current.total == 0 && self.incidents.is_empty() && self.failed_deliveries.is_empty()
    }
}
