//! Reports: what a team's social media did over a period, per channel and overall, compared
//! with the period before, as JSON (everything), CSV (the per-post table) and a self-contained
//! HTML page with inline SVG charts. Every figure is defined in docs/reports.md (and in the
//! report itself); `tests/system/reports.rs` checks each one against a dataset worked out by hand.
//!
//! What a report reads (O(posts + interactions + days), never O(snapshots)): the team, its
//! channels, the calendar from the previous period's start to the period's end, each distinct
//! post once (for its text), the daily metric roll-ups from a week before the previous period to
//! the cut-off, the inbox of both periods (four statuses), and incidents back to the previous
//! period's start. [`ItemsRead`] counts them.

mod csv;
mod html;
pub mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use futures_util::stream::{StreamExt, TryStreamExt};
use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Channel, ChannelId, DeliveryId, DeliveryState, InteractionKind, InteractionStatus, MetricCounters, MetricRollup,
    MetricSubject, Platform, PostId, Report, ReportFormat, ReportId, SentimentLabel, Team, TeamId, ValidationError,
};
use crate::store::{InboxQuery, PageRequest, Store};

use super::{Actor, ServiceError};

pub use self::csv::render_csv;
pub use self::html::render_html;

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

/// The words the report uses for its key figure, shown in every rendering.
pub const ENGAGEMENT_RATE_DEFINITION: &str = "Engagements are likes + reposts + replies + quotes + bookmarks + clicks, \
whichever the network reports. A post's engagement rate is its engagements divided by its impressions where the \
network reports impressions, otherwise by the channel's followers on the day it went out. The rate of a set of posts \
is the sum of their engagements divided by the sum of those denominators (posts without either are left out).";

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

    fn contains_day(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }
}

/// The first instant of `day` in `zone`.
fn midnight(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    local_start(day, 0, zone)
}

/// The instant `day` at `hour`:00 in `zone` begins (an hour in a DST gap starts when the gap ends).
fn local_start(day: NaiveDate, hour: u32, zone: Tz) -> DateTime<Utc> {
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    pub posts_published: u64,
    /// Sum over posts whose network reports it; `None` when none does.
    pub impressions: Option<u64>,
    pub reach: Option<u64>,
    pub engagements: Option<u64>,
    /// A fraction (0.034 = 3.4 %); see [`ENGAGEMENT_RATE_DEFINITION`].
    pub engagement_rate: Option<f64>,
    /// Followers at the end of the day before the period (or its first measure inside it).
    pub followers_start: Option<u64>,
    /// Followers at the end of the period (its last measure).
    pub followers_end: Option<u64>,
    pub follower_growth: Option<i64>,
    pub failed_deliveries: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InboxStats {
    /// Interactions created in the period.
    pub total: u64,
    pub by_kind: BTreeMap<String, u64>,
    /// positive, neutral, negative (and `unscored`).
    pub by_sentiment: BTreeMap<String, u64>,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// Everything in a report: `report.json` is this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportData {
    pub team_id: TeamId,
    pub team_name: String,
    pub time_zone: String,
    pub period: Period,
    pub previous_period: Period,
    pub generated_at: DateTime<Utc>,
    /// Counters are taken as of this instant: the period's end plus the measuring window, or
    /// the generation time if earlier.
    pub measured_until: DateTime<Utc>,
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

/// One measured post, of either period.
struct Measured {
    row: PostRow,
    /// The denominator of its rate, if any.
    denominator: Option<u64>,
}

/// Builds the report of `team` over `[from, to]` (days in the team's zone) as of `now`.
pub async fn build(store: &dyn Store, team: &Team, from: NaiveDate, to: NaiveDate, now: DateTime<Utc>) -> Result<ReportData, ServiceError> {
    let zone = team.time_zone;
    let period = Period::new(from, to, zone)?;
    let previous = period.previous(zone);
    let measured_until = (period.end + Duration::days(MEASURE_WINDOW_DAYS)).min(now.max(period.start));
    let mut read = ItemsRead::default();

    let channels = store.list_channels(&team.id).await?;
    read.channels = channels.len();
    let by_id: HashMap<ChannelId, &Channel> = channels.iter().map(|c| (c.id, c)).collect();

    // Deliveries scheduled from before the previous period (retries publish later) to the end.
    let mut deliveries = Vec::new();
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    loop {
        let got = store.calendar(&team.id, previous.start - Duration::days(1), period.end, &page).await?;
        read.deliveries += got.items.len();
        deliveries.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }

    // Roll-ups: a week before the previous period (follower baselines) to the cut-off day.
    let cutoff_day = measured_until.with_timezone(&zone).date_naive() + Duration::days(1);
    let rollups = store.rollups(&team.id, previous.from - Duration::days(7), cutoff_day).await?;
    read.rollups = rollups.len();
    let measures = Measures::new(&rollups, measured_until);

    // Posts of both periods, measured.
    let published: Vec<_> = deliveries
        .iter()
        .filter(|d| d.state == DeliveryState::Published)
        .filter_map(|d| d.published_at.map(|at| (d, at)))
        .filter(|(_, at)| previous.contains(*at) || period.contains(*at))
        .collect();
    // Each post of the period once, for its text (in the first delivery's network's variant),
    // as many reads at a time as the store says are worth it (DynamoDB: each is a round trip).
    let mut wanted: Vec<(PostId, Platform)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (d, at) in &published {
        if period.contains(*at) && seen.insert(d.post_id) {
            wanted.push((d.post_id, d.platform));
        }
    }
    let team_id = &team.id;
    let fetched: Vec<(PostId, String)> = futures_util::stream::iter(wanted)
        .map(|(id, platform)| async move {
            let post = store.get_post(team_id, id).await?;
            Ok::<_, crate::store::StoreError>((id, post.map(|p| p.text_for(platform).as_str().to_owned()).unwrap_or_default()))
        })
        .buffer_unordered(store.parallel_reads().max(1))
        .try_collect()
        .await?;
    read.posts += fetched.len();
    let texts: HashMap<PostId, String> = fetched.into_iter().collect();
    let mut current: Vec<Measured> = Vec::new();
    let mut before: Vec<Measured> = Vec::new();
    for (d, at) in published {
        let channel = by_id.get(&d.channel_id);
        let channel_zone = channel.map_or(zone, |c| c.time_zone);
        let counters = measures.post(d.id).cloned().unwrap_or_default();
        let engagements = counters.engagements();
        let day = at.with_timezone(&zone).date_naive();
        let (denominator, basis) = match (counters.impressions, measures.followers_on(d.channel_id, day)) {
            (Some(i), _) => (Some(i), Some("impressions")),
            (None, Some(f)) => (Some(f), Some("followers")),
            (None, None) => (None, None),
        };
        let rate = match (engagements, denominator) {
            (Some(e), Some(n)) if n > 0 => Some(e as f64 / n as f64),
            _ => None,
        };
        let row = PostRow {
            delivery_id: d.id,
            post_id: d.post_id,
            channel_id: d.channel_id,
            channel: channel.map_or_else(|| "(deleted channel)".to_owned(), |c| c.name.as_str().to_owned()),
            platform: d.platform,
            published_at: at,
            published_local: at.with_timezone(&channel_zone).format("%Y-%m-%d %H:%M").to_string(),
            text: texts.get(&d.post_id).cloned().unwrap_or_default(),
            url: d.url.clone(),
            counters,
            engagements,
            engagement_rate: rate,
            rate_basis: basis.map(str::to_owned),
        };
        let m = Measured { row, denominator: denominator.filter(|_| engagements.is_some()) };
        if period.contains(at) { current.push(m) } else { before.push(m) }
    }
    let by_time = |a: &Measured, b: &Measured| {
        a.row.published_at.cmp(&b.row.published_at).then_with(|| a.row.delivery_id.cmp(&b.row.delivery_id))
    };
    current.sort_by(by_time);
    before.sort_by(by_time);

    let failed: Vec<_> = deliveries.iter().filter(|d| d.state == DeliveryState::Failed).collect();
    let failed_in = |p: &Period, channel: Option<ChannelId>| {
        failed.iter().filter(|d| p.contains(d.publish_at) && channel.is_none_or(|c| d.channel_id == c)).count() as u64
    };

    // Per channel, then overall.
    let mut channel_reports = Vec::new();
    for c in &channels {
        let cur: Vec<&Measured> = current.iter().filter(|m| m.row.channel_id == c.id).collect();
        let prev: Vec<&Measured> = before.iter().filter(|m| m.row.channel_id == c.id).collect();
        let kpis = Compared {
            current: kpis(&cur, measures.growth(&[c.id], &period), failed_in(&period, Some(c.id))),
            previous: kpis(&prev, measures.growth(&[c.id], &previous), failed_in(&previous, Some(c.id))),
        };
        let sample: Vec<&Measured> = cur.iter().chain(prev.iter()).copied().collect();
        channel_reports.push(ChannelReport {
            channel_id: c.id,
            name: c.name.as_str().to_owned(),
            platform: c.platform,
            time_zone: c.time_zone.name().to_owned(),
            kpis,
            followers: measures.series(c.id, &period),
            best_time: best_time(&sample, c.time_zone),
        });
    }
    let ids: Vec<ChannelId> = channels.iter().map(|c| c.id).collect();
    let all_cur: Vec<&Measured> = current.iter().collect();
    let all_prev: Vec<&Measured> = before.iter().collect();
    let overall = Compared {
        current: kpis(&all_cur, measures.growth(&ids, &period), failed_in(&period, None)),
        previous: kpis(&all_prev, measures.growth(&ids, &previous), failed_in(&previous, None)),
    };
    let sample: Vec<&Measured> = all_cur.iter().chain(all_prev.iter()).copied().collect();
    let team_best = best_time(&sample, zone);

    // Top and bottom posts of the period, by engagements.
    let mut ranked: Vec<&PostRow> = current.iter().map(|m| &m.row).filter(|r| r.engagements.is_some()).collect();
    ranked.sort_by(|a, b| {
        b.engagements.cmp(&a.engagements).then(a.published_at.cmp(&b.published_at)).then(a.delivery_id.cmp(&b.delivery_id))
    });
    let top: Vec<PostRow> = ranked.iter().take(TOP_POSTS).map(|r| (*r).clone()).collect();
    let rest = &ranked[top.len()..];
    let bottom: Vec<PostRow> = rest.iter().rev().take(TOP_POSTS).map(|r| (*r).clone()).collect();

    let mut daily = Vec::new();
    let mut day = period.from;
    while day <= period.to {
        let that_day: Vec<&PostRow> =
            current.iter().map(|m| &m.row).filter(|r| r.published_at.with_timezone(&zone).date_naive() == day).collect();
        daily.push(DayRow {
            day,
            posts: that_day.len() as u64,
            engagements: that_day.iter().filter_map(|r| r.engagements).sum(),
        });
        day += Duration::days(1);
    }

    // The inbox of both periods.
    let mut inbox_cur = Tally::default();
    let mut inbox_prev = Tally::default();
    for status in InteractionStatus::ALL {
        let mut query = InboxQuery::status(status);
        query.from = Some(previous.start);
        query.to = Some(period.end);
        let mut page = PageRequest::first(PageRequest::MAX_PAGE);
        loop {
            let got = store.inbox(&team.id, &query, &page).await?;
            read.interactions += got.items.len();
            for i in &got.items {
                let tally = if period.contains(i.created_at) { &mut inbox_cur } else { &mut inbox_prev };
                tally.add(i.kind, i.sentiment.as_ref().map(|s| s.label), i.status, i.first_response_at.map(|r| r - i.created_at));
            }
            match got.next {
                Some(next) => page.cursor = Some(next),
                None => break,
            }
        }
    }

    // Incidents, newest first, back to the previous period.
    let mut incidents = Vec::new();
    let mut incidents_previous = 0;
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    'pages: loop {
        let got = store.list_incidents(&team.id, &page).await?;
        read.incidents += got.items.len();
        for i in got.items {
            if i.opened_at < previous.start {
                break 'pages;
            }
            if period.contains(i.opened_at) {
                incidents.push(IncidentRow {
                    id: i.id.to_string(),
                    channel_id: i.channel_id,
                    channel: by_id.get(&i.channel_id).map_or_else(String::new, |c| c.name.as_str().to_owned()),
                    opened_at: i.opened_at,
                    closed_at: i.closed_at,
                    negatives_in_window: i.negatives_in_window,
                    expected: i.expected,
                });
            } else if previous.contains(i.opened_at) {
                incidents_previous += 1;
            }
        }
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => break,
        }
    }
    incidents.reverse();

    let mut failed_rows: Vec<FailedRow> = failed
        .iter()
        .filter(|d| period.contains(d.publish_at))
        .map(|d| FailedRow {
            delivery_id: d.id,
            post_id: d.post_id,
            channel: by_id.get(&d.channel_id).map_or_else(String::new, |c| c.name.as_str().to_owned()),
            publish_at: d.publish_at,
            attempts: d.attempts,
            reason: d.last_error.clone(),
        })
        .collect();
    failed_rows.sort_by(|a, b| a.publish_at.cmp(&b.publish_at).then(a.delivery_id.cmp(&b.delivery_id)));

    Ok(ReportData {
        team_id: team.id.clone(),
        team_name: team.name.clone(),
        time_zone: zone.name().to_owned(),
        period,
        previous_period: previous,
        generated_at: now,
        measured_until,
        engagement_rate_definition: ENGAGEMENT_RATE_DEFINITION.to_owned(),
        overall,
        channels: channel_reports,
        posts: current.into_iter().map(|m| m.row).collect(),
        top_posts: top,
        bottom_posts: bottom,
        daily,
        best_time: team_best,
        inbox: Compared { current: inbox_cur.stats(), previous: inbox_prev.stats() },
        incidents,
        incidents_previous,
        failed_deliveries: failed_rows,
        items_read: read,
    })
}

fn kpis(posts: &[&Measured], followers: (Option<u64>, Option<u64>), failed: u64) -> Kpis {
    let sum = |f: fn(&MetricCounters) -> Option<u64>| posts.iter().filter_map(|m| f(&m.row.counters)).reduce(|a, b| a + b);
    let engagements = posts.iter().filter_map(|m| m.row.engagements).reduce(|a, b| a + b);
    let (num, den) = posts
        .iter()
        .filter_map(|m| m.row.engagements.zip(m.denominator))
        .fold((0u64, 0u64), |(e, n), (a, b)| (e + a, n + b));
    let (start, end) = followers;
    Kpis {
        posts_published: posts.len() as u64,
        impressions: sum(|c| c.impressions),
        reach: sum(|c| c.reach),
        engagements,
        engagement_rate: (den > 0).then(|| num as f64 / den as f64),
        followers_start: start,
        followers_end: end,
        follower_growth: start.zip(end).map(|(s, e)| e as i64 - s as i64),
        failed_deliveries: failed,
    }
}

/// Engagement by weekday × hour in `zone`, and the recommended cells (small-sample rule: a cell
/// needs [`BEST_TIME_MIN_POSTS`] posts).
fn best_time(sample: &[&Measured], zone: Tz) -> BestTime {
    let mut cells: BTreeMap<(u32, u32), (usize, u64)> = BTreeMap::new();
    let mut n = 0;
    for m in sample {
        let Some(e) = m.row.engagements else { continue };
        n += 1;
        let local = m.row.published_at.with_timezone(&zone);
        let cell = cells.entry((local.weekday().num_days_from_monday(), local.hour())).or_default();
        cell.0 += 1;
        cell.1 += e;
    }
    let cells: Vec<Cell> = cells
        .into_iter()
        .map(|((weekday, hour), (posts, total))| Cell { weekday, hour, posts, mean_engagements: total as f64 / posts as f64 })
        .collect();
    let mut recommended: Vec<Cell> = cells.iter().filter(|c| c.posts >= BEST_TIME_MIN_POSTS).cloned().collect();
    recommended.sort_by(|a, b| {
        b.mean_engagements.total_cmp(&a.mean_engagements).then(b.posts.cmp(&a.posts)).then((a.weekday, a.hour).cmp(&(b.weekday, b.hour)))
    });
    recommended.truncate(BEST_TIME_RECOMMENDATIONS);
    let note = recommended.is_empty().then(|| {
        format!("not enough data: no weekday and hour has {BEST_TIME_MIN_POSTS} measured posts yet ({n} posts measured)")
    });
    BestTime { time_zone: zone.name().to_owned(), sample: n, cells, recommended, note }
}

/// Roll-ups indexed for the questions a report asks.
struct Measures<'a> {
    /// A post's latest counters up to the cut-off.
    posts: HashMap<DeliveryId, &'a MetricCounters>,
    /// A channel's followers by day (that day's last measure).
    followers: HashMap<ChannelId, BTreeMap<NaiveDate, u64>>,
}

impl<'a> Measures<'a> {
    fn new(rollups: &'a [MetricRollup], until: DateTime<Utc>) -> Self {
        let mut posts: HashMap<DeliveryId, (&'a MetricRollup, &'a MetricCounters)> = HashMap::new();
        let mut followers: HashMap<ChannelId, BTreeMap<NaiveDate, u64>> = HashMap::new();
        for r in rollups.iter().filter(|r| r.taken_at <= until) {
            match r.subject {
                MetricSubject::Delivery { delivery_id, .. } => {
                    let e = posts.entry(delivery_id).or_insert((r, &r.counters));
                    if r.taken_at >= e.0.taken_at {
                        *e = (r, &r.counters);
                    }
                }
                MetricSubject::Channel { channel_id } => {
                    if let Some(f) = r.counters.followers {
                        followers.entry(channel_id).or_default().insert(r.day, f);
                    }
                }
            }
        }
        Self { posts: posts.into_iter().map(|(k, (_, c))| (k, c)).collect(), followers }
    }

    fn post(&self, id: DeliveryId) -> Option<&MetricCounters> {
        self.posts.get(&id).copied()
    }

    /// Followers of the channel at the end of `day`: its measure that day or the latest before;
    /// failing both, the first measure after.
    fn followers_on(&self, channel: ChannelId, day: NaiveDate) -> Option<u64> {
        let series = self.followers.get(&channel)?;
        series.range(..=day).next_back().or_else(|| series.range(day..).next()).map(|(_, f)| *f)
    }

    /// (start, end) followers summed over `channels` having both: start = the last measure
    /// before the period (else its first inside), end = the last measure inside the period.
    fn growth(&self, channels: &[ChannelId], p: &Period) -> (Option<u64>, Option<u64>) {
        let mut out: (Option<u64>, Option<u64>) = (None, None);
        for c in channels {
            let Some(series) = self.followers.get(c) else { continue };
            let start = series
                .range(..p.from)
                .next_back()
                .or_else(|| series.range(p.from..=p.to).next())
                .map(|(_, f)| *f);
            let end = series.range(p.from..=p.to).next_back().map(|(_, f)| *f);
            if let (Some(s), Some(e)) = (start, end) {
                out = (Some(out.0.unwrap_or(0) + s), Some(out.1.unwrap_or(0) + e));
            }
        }
        out
    }

    /// The channel's followers at the end of each day of the period from its first measure on.
    fn series(&self, channel: ChannelId, p: &Period) -> Vec<(NaiveDate, u64)> {
        let Some(series) = self.followers.get(&channel) else { return vec![] };
        let mut out = Vec::new();
        let mut last = series.range(..p.from).next_back().map(|(_, f)| *f);
        let mut day = p.from;
        while p.contains_day(day) {
            if let Some(f) = series.get(&day) {
                last = Some(*f);
            }
            if let Some(f) = last {
                out.push((day, f));
            }
            day += Duration::days(1);
        }
        out
    }
}

#[derive(Default)]
struct Tally {
    total: u64,
    by_kind: BTreeMap<String, u64>,
    by_sentiment: BTreeMap<String, u64>,
    responses: Vec<i64>,
    open: u64,
}

impl Tally {
    fn add(&mut self, kind: InteractionKind, sentiment: Option<SentimentLabel>, status: InteractionStatus, response: Option<Duration>) {
        self.total += 1;
        *self.by_kind.entry(kind.as_str().to_owned()).or_default() += 1;
        let label = sentiment.map_or("unscored", |l| l.as_str());
        *self.by_sentiment.entry(label.to_owned()).or_default() += 1;
        if let Some(r) = response.filter(|r| *r >= Duration::zero()) {
            self.responses.push(r.num_seconds());
        }
        if matches!(status, InteractionStatus::Open | InteractionStatus::Assigned) {
            self.open += 1;
        }
    }

    fn stats(mut self) -> InboxStats {
        self.responses.sort_unstable();
        let n = self.responses.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(self.responses[n / 2]),
            _ => Some((self.responses[n / 2 - 1] + self.responses[n / 2]) / 2),
        };
        InboxStats {
            total: self.total,
            by_kind: self.by_kind,
            by_sentiment: self.by_sentiment,
            answered: n as u64,
            median_first_response_seconds: median,
            open_items: self.open,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Renderings and where they are kept

/// `report.json`: everything, pretty-printed.
pub fn render_json(data: &ReportData) -> Vec<u8> {
    serde_json::to_vec_pretty(data).unwrap_or_default()
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 3] = [ReportFormat::Html, ReportFormat::Csv, ReportFormat::Json];

    pub fn file_name(self) -> &'static str {
        match self {
            ReportFormat::Html => "report.html",
            ReportFormat::Csv => "report.csv",
            ReportFormat::Json => "report.json",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReportFormat::Html => "text/html; charset=utf-8",
            ReportFormat::Csv => "text/csv; charset=utf-8",
            ReportFormat::Json => "application/json",
        }
    }

    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

/// The three renderings of a report, by format.
pub fn render_all(data: &ReportData) -> Vec<(ReportFormat, Vec<u8>)> {
    vec![
        (ReportFormat::Html, render_html(data).into_bytes()),
        (ReportFormat::Csv, render_csv(data)),
        (ReportFormat::Json, render_json(data)),
    ]
}

#[derive(Debug, thiserror::Error)]
#[error("report files: {0}")]
pub struct FilesError(pub String);

/// Where report files are kept: the data directory locally (an S3 bucket on AWS comes later).
#[async_trait]
pub trait ReportFiles: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError>;
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError>;
}

/// Files under a directory: key `reports/<team>/<id>/report.html` is that path below it.
pub struct DirReportFiles {
    root: std::path::PathBuf,
}

impl DirReportFiles {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<std::path::PathBuf, FilesError> {
        let ok = !key.is_empty()
            && key.split('/').all(|p| !p.is_empty() && p != "." && p != ".." && !p.contains('\\'));
        if !ok {
            return Err(FilesError(format!("`{key}` is not a report file key")));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl ReportFiles for DirReportFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(|e| FilesError(e.to_string()))?;
        }
        let tmp = path.with_extension("tmp");
        tokio::fs::write(&tmp, bytes).await.map_err(|e| FilesError(e.to_string()))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| FilesError(e.to_string()))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(FilesError(e.to_string())),
        }
    }
}

/// Files kept in memory (tests, and hosts that have not set a place).
#[derive(Default)]
pub struct MemoryReportFiles(Mutex<HashMap<String, Vec<u8>>>);

#[async_trait]
impl ReportFiles for MemoryReportFiles {
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), FilesError> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, FilesError> {
        Ok(self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(key).cloned())
    }
}

/// Builds the report, keeps its three files and records it: the on-demand path (API) and the
/// scheduled one share this.
pub async fn generate(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(Report, ReportData), ServiceError> {
    generate_as(store, files, actor, from, to, now, ReportId::new()).await
}

/// [`generate`] under a chosen id (the scheduled round derives it from the team and period,
/// so a second run of the same hour finds the report it made).
async fn generate_as(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    id: ReportId,
) -> Result<(Report, ReportData), ServiceError> {
    let team = actor.team(store).await?;
    let data = build(store, &team, from, to, now).await?;
    let mut stored = BTreeMap::new();
    for (format, bytes) in render_all(&data) {
        let key = format!("reports/{}/{id}/{}", team.id, format.file_name());
        files.put(&key, bytes).await.map_err(|e| ServiceError::Store(crate::store::StoreError::backend(e)))?;
        stored.insert(format, key);
    }
    let report = Report { id, team_id: team.id.clone(), period_start: from, period_end: to, created_at: now, files: stored };
    store.put_report(&report).await?;
    Ok((report, data))
}

/// One rendering of a stored report: its bytes, or `NotFound`.
pub async fn file(
    store: &dyn Store,
    files: &dyn ReportFiles,
    actor: &Actor,
    id: ReportId,
    format: ReportFormat,
) -> Result<Vec<u8>, ServiceError> {
    let report = store.get_report(&actor.team_id, id).await?.ok_or_else(|| ServiceError::not_found("no such report"))?;
    let key = report.files.get(&format).ok_or_else(|| ServiceError::not_found("this report has no such file"))?;
    files
        .get(key)
        .await
        .map_err(|e| ServiceError::Store(crate::store::StoreError::backend(e)))?
        .ok_or_else(|| ServiceError::not_found("the report's file is gone"))
}

/// A team's reports, newest first.
pub async fn list(store: &dyn Store, actor: &Actor, page: &PageRequest) -> Result<crate::store::Page<Report>, ServiceError> {
    Ok(store.list_reports(&actor.team_id, page).await?)
}

/// One of the team's reports.
pub async fn get(store: &dyn Store, actor: &Actor, id: ReportId) -> Result<Report, ServiceError> {
    store.get_report(&actor.team_id, id).await?.ok_or_else(|| ServiceError::not_found("no such report"))
}

/// How far back slot suggestions look.
pub const SUGGEST_WEEKS: i64 = 8;

/// Best posting times for one channel from its last [`SUGGEST_WEEKS`] weeks, to become queue
/// slots when the team wants (`POST /v1/channels/{id}/slots/suggest`). Same rule as reports.
pub async fn suggest_slots(
    store: &dyn Store,
    actor: &Actor,
    channel: ChannelId,
    now: DateTime<Utc>,
) -> Result<BestTime, ServiceError> {
    let team = actor.team(store).await?;
    let c = store
        .get_channel(&actor.team_id, channel)
        .await?
        .ok_or_else(|| ServiceError::NotFound { message: "no such channel in your team".into(), field: Some("id".into()) })?;
    let to = now.with_timezone(&team.time_zone).date_naive();
    let half = Duration::days(SUGGEST_WEEKS * 7 / 2);
    // A report's best time covers its period and the previous one: two halves of the window.
    let data = build(store, &team, to - half + Duration::days(1), to, now).await?;
    let best = data.channels.into_iter().find(|r| r.channel_id == c.id).map(|r| r.best_time);
    Ok(best.unwrap_or_else(|| BestTime { time_zone: c.time_zone.name().to_owned(), ..BestTime::default() }))
}


/// The team's report schedule and its time zone.
pub async fn report_schedule(store: &dyn Store, actor: &Actor) -> Result<(crate::domain::ReportSchedule, Tz), ServiceError> {
    let team = actor.team(store).await?;
    Ok((team.report_schedule, team.time_zone))
}

/// A change to a team's report schedule: `None` leaves that report as it is, `Some(None)`
/// switches it off.
#[derive(Debug, Default)]
pub struct ScheduleChange {
    pub weekly: Option<Option<crate::domain::WeeklyReport>>,
    pub monthly: Option<Option<crate::domain::MonthlyReport>>,
}

/// Changes the team's report schedule (editors and above); the schedule as it now is.
pub async fn change_report_schedule(
    store: &dyn Store,
    actor: &Actor,
    change: ScheduleChange,
) -> Result<(crate::domain::ReportSchedule, Tz), ServiceError> {
    actor.require(crate::domain::Role::Editor, "the report schedule needs the editor role or above")?;
    let mut team = actor.team(store).await?;
    if let Some(weekly) = change.weekly {
        team.report_schedule.weekly = weekly;
    }
    if let Some(monthly) = change.monthly {
        team.report_schedule.monthly = monthly;
    }
    store.update_team(&team).await?;
    Ok((team.report_schedule, team.time_zone))
}

/// What one round of the report generator did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScheduledSummary {
    pub teams: usize,
    /// Reports made this round.
    pub generated: usize,
    /// Due reports that existed already (a repeated run within the day they are due).
    pub existing: usize,
    /// Reports that failed (logged; the next round tries again while they are due).
    pub failed: usize,
}

/// The report generator's round, run hourly (and by `herald serve` on its timer): every team's
/// due reports (see [`schedule`]: weekly and monthly, on the day and from the hour the team
/// chose, in its own zone) are made once; `Report Ready` says where each is.
pub async fn scheduled_round(
    store: &dyn Store,
    files: &dyn ReportFiles,
    events: &dyn crate::events::EventSink,
    now: DateTime<Utc>,
) -> Result<ScheduledSummary, ServiceError> {
    let mut summary = ScheduledSummary::default();
    for team in store.list_teams().await? {
        summary.teams += 1;
        for run in schedule::due(&team.report_schedule, team.time_zone, now) {
            // A team made after the period ended has nothing to say about it (a new team's
            // first start is not the time for an empty report).
            if team.created_at >= midnight(run.to + Duration::days(1), team.time_zone) {
                continue;
            }
            let id = run.report_id(&team.id);
            if store.get_report(&team.id, id).await?.is_some() {
                summary.existing += 1;
                continue;
            }
            let actor = Actor {
                team_id: team.id.clone(),
                role: crate::domain::Role::Admin,
                key_id: crate::domain::ApiKeyId::derived("report-generator"),
            };
            match generate_as(store, files, &actor, run.from, run.to, now, id).await {
                Ok((report, _)) => {
                    summary.generated += 1;
                    let files: BTreeMap<&str, &String> = report.files.iter().map(|(f, k)| (f.file_name(), k)).collect();
                    let detail = serde_json::json!({
                        "report_id": report.id, "from": run.from, "to": run.to, "files": files,
                        "schedule": run.cadence.as_str(),
                    });
                    let event = crate::events::Event::new(crate::events::EventKind::ReportReady, &team.id, now, detail);
                    if let Err(e) = events.emit(&event).await {
                        tracing::error!(team = %team.id, error = %e, "Report Ready not delivered");
                    }
                }
                Err(e) => {
                    tracing::error!(team = %team.id, schedule = run.cadence.as_str(), error = %e, "scheduled report failed");
                    summary.failed += 1;
                }
            }
        }
    }
    Ok(summary)
}
