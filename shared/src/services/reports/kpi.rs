//! The report's arithmetic: pure functions of what `read.rs` got from the store (no store,
//! nothing async). The engagement rate of a post and of a set of posts, the key figures
//! ([`Kpis`]), best times, top and bottom posts, engagement day by day, follower counts from the
//! roll-ups ([`Measures`]) and the inbox figures ([`Tally`]). Every rate in a report comes from
//! [`engagement_rate`]; the report's words for it are
//! the definition in the translation files (`def-engagement-rate`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use super::data::{
    BEST_TIME_MIN_POSTS, BEST_TIME_RECOMMENDATIONS, BestTime, Cell, DayRow, InboxStats, Kpis, Period, PostRow, TOP_POSTS,
};
use crate::domain::{
    ChannelId, DeliveryId, InteractionKind, InteractionStatus, MetricCounters, MetricRollup, MetricSubject, SentimentLabel,
};

/// Engagements divided by the denominator (impressions, or followers): `None` when the
/// denominator is 0. The one place a rate is computed, for a post and for a set of posts (where
/// both are sums).
pub(super) fn engagement_rate(engagements: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| engagements as f64 / denominator as f64)
}

/// What a post's rate divides by, and the rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PostRate {
    /// Impressions or followers, whichever `basis` says.
    pub denominator: Option<u64>,
    /// `impressions` or `followers`.
    pub basis: Option<&'static str>,
    pub rate: Option<f64>,
}

/// A post's rate: its engagements over its impressions where the network reports impressions
/// (even 0), otherwise over the channel's `followers` on the day it went out.
pub(super) fn post_rate(engagements: Option<u64>, impressions: Option<u64>, followers: Option<u64>) -> PostRate {
    let (denominator, basis) = match (impressions, followers) {
        (Some(i), _) => (Some(i), Some("impressions")),
        (None, Some(f)) => (Some(f), Some("followers")),
        (None, None) => (None, None),
    };
    let rate = engagements.zip(denominator).and_then(|(e, n)| engagement_rate(e, n));
    PostRate { denominator, basis, rate }
}

/// One measured post, of either period.
pub(super) struct Measured {
    pub row: PostRow,
    /// The denominator of its rate, if any.
    pub denominator: Option<u64>,
}

/// The key figures of `posts` (one channel's or every channel's, one period's), given the
/// followers at the period's start and end and the deliveries that failed in it.
pub(super) fn kpis(posts: &[&Measured], followers: (Option<u64>, Option<u64>), failed: u64) -> Kpis {
    let sum = |f: fn(&MetricCounters) -> Option<u64>| posts.iter().filter_map(|m| f(&m.row.counters)).reduce(|a, b| a + b);
    let engagements = posts.iter().filter_map(|m| m.row.engagements).reduce(|a, b| a + b);
    // One definition for a post and a set: a post with no rate (nothing to divide by, or 0
    // impressions) adds nothing to the set's rate either, neither its engagements nor its 0.
    let (num, den) = posts
        .iter()
        .filter_map(|m| m.row.engagements.zip(m.denominator))
        .filter(|(_, n)| *n > 0)
        .fold((0u64, 0u64), |(e, n), (a, b)| (e + a, n + b));
    let (start, end) = followers;
    Kpis {
        posts_published: posts.len() as u64,
        impressions: sum(|c| c.impressions),
        reach: sum(|c| c.reach),
        engagements,
        engagement_rate: engagement_rate(num, den),
        followers_start: start,
        followers_end: end,
        follower_growth: start.zip(end).map(|(s, e)| e as i64 - s as i64),
        failed_deliveries: failed,
    }
}

/// Engagement by weekday × hour in `zone`, and the recommended cells (small-sample rule: a cell
/// needs [`BEST_TIME_MIN_POSTS`] posts).
pub(super) fn best_time(sample: &[&Measured], zone: Tz) -> BestTime {
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

/// The period's posts with engagements, most engaged first (ties: earlier first), and the
/// least engaged of the rest, least first: at most [`TOP_POSTS`] each, never the same post twice.
pub(super) fn top_and_bottom(posts: &[Measured]) -> (Vec<PostRow>, Vec<PostRow>) {
    let mut ranked: Vec<&PostRow> = posts.iter().map(|m| &m.row).filter(|r| r.engagements.is_some()).collect();
    ranked.sort_by(|a, b| {
        b.engagements.cmp(&a.engagements).then(a.published_at.cmp(&b.published_at)).then(a.delivery_id.cmp(&b.delivery_id))
    });
    let top: Vec<PostRow> = ranked.iter().take(TOP_POSTS).map(|r| (*r).clone()).collect();
    let rest = &ranked[top.len()..];
    let bottom: Vec<PostRow> = rest.iter().rev().take(TOP_POSTS).map(|r| (*r).clone()).collect();
    (top, bottom)
}

/// Posts published and their engagements on each day of `period` (days in `zone`), quiet days
/// included.
pub(super) fn daily(posts: &[Measured], period: &Period, zone: Tz) -> Vec<DayRow> {
    let mut daily = Vec::new();
    let mut day = period.from;
    while day <= period.to {
        let that_day: Vec<&PostRow> =
            posts.iter().map(|m| &m.row).filter(|r| r.published_at.with_timezone(&zone).date_naive() == day).collect();
        daily.push(DayRow {
            day,
            posts: that_day.len() as u64,
            engagements: that_day.iter().filter_map(|r| r.engagements).sum(),
        });
        day += Duration::days(1);
    }
    daily
}

/// How far before a period its followers' starting count is looked for (docs/reports.md).
pub(super) const FOLLOWER_BASELINE_DAYS: i64 = 7;

/// Roll-ups indexed for the questions a report asks.
pub(super) struct Measures<'a> {
    /// A post's latest counters up to the cut-off.
    posts: HashMap<DeliveryId, &'a MetricCounters>,
    /// A channel's followers by day (that day's last measure).
    followers: HashMap<ChannelId, BTreeMap<NaiveDate, u64>>,
}

impl<'a> Measures<'a> {
    pub(super) fn new(rollups: &'a [MetricRollup], until: DateTime<Utc>) -> Self {
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

    pub(super) fn post(&self, id: DeliveryId) -> Option<&MetricCounters> {
        self.posts.get(&id).copied()
    }

    /// Followers of the channel at the end of `day`: its measure that day or the latest before;
    /// failing both, the first measure after.
    pub(super) fn followers_on(&self, channel: ChannelId, day: NaiveDate) -> Option<u64> {
        let series = self.followers.get(&channel)?;
        series.range(..=day).next_back().or_else(|| series.range(day..).next()).map(|(_, f)| *f)
    }

    /// (start, end) followers summed over `channels` having both: start = the last measure in
    /// the [`FOLLOWER_BASELINE_DAYS`] before the period (else its first inside), end = the last
    /// measure inside the period. An older count is not a start: a month's report would
    /// otherwise measure growth from five weeks back.
    pub(super) fn growth(&self, channels: &[ChannelId], p: &Period) -> (Option<u64>, Option<u64>) {
        let mut out: (Option<u64>, Option<u64>) = (None, None);
        let baseline_from = p.from.checked_sub_signed(Duration::days(FOLLOWER_BASELINE_DAYS)).unwrap_or(NaiveDate::MIN);
        for c in channels {
            let Some(series) = self.followers.get(c) else { continue };
            let start = series
                .range(baseline_from..p.from)
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
    pub(super) fn series(&self, channel: ChannelId, p: &Period) -> Vec<(NaiveDate, u64)> {
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

/// The inbox of one period, counted interaction by interaction.
#[derive(Default)]
pub(super) struct Tally {
    total: u64,
    by_kind: BTreeMap<String, u64>,
    by_sentiment: BTreeMap<String, u64>,
    responses: Vec<i64>,
    open: u64,
}

impl Tally {
    pub(super) fn add(&mut self, kind: InteractionKind, sentiment: Option<SentimentLabel>, status: InteractionStatus, response: Option<Duration>) {
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

    pub(super) fn stats(mut self) -> InboxStats {
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::domain::{Platform, PostId, TeamId};

    const PARIS: Tz = chrono_tz::Europe::Paris;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).expect("test instant")
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    fn week(from: &str, to: &str) -> Period {
        Period::new(day(from), day(to), PARIS).expect("test period")
    }

    /// A post published at `at` with `likes` (its only engagements; `None`: not measured) and
    /// `impressions`, on a channel that had `followers` that day; rated as `read.rs` does.
    fn post(at: &str, likes: Option<u64>, impressions: Option<u64>, followers: Option<u64>) -> Measured {
        let counters = MetricCounters { likes, impressions, ..Default::default() };
        let engagements = counters.engagements();
        let rate = post_rate(engagements, impressions, followers);
        Measured {
            row: PostRow {
                delivery_id: DeliveryId::new(),
                post_id: PostId::new(),
                channel_id: ChannelId::new(),
                channel: "Café".to_owned(),
                platform: Platform::Sandbox,
                published_at: utc(at),
                published_local: String::new(),
                text: String::new(),
                url: None,
                thumbnail_url: None,
                counters,
                engagements,
                engagement_rate: rate.rate,
                rate_basis: rate.basis.map(str::to_owned),
            },
            denominator: rate.denominator.filter(|_| engagements.is_some()),
        }
    }

    fn likes(rows: &[PostRow]) -> Vec<u64> {
        rows.iter().filter_map(|r| r.counters.likes).collect()
    }

    fn team() -> TeamId {
        TeamId::parse("team", "cafe").expect("team id")
    }

    fn post_rollup(channel: ChannelId, delivery: DeliveryId, taken_at: &str, likes: u64) -> MetricRollup {
        let taken_at = utc(taken_at);
        MetricRollup {
            team_id: team(),
            subject: MetricSubject::Delivery { channel_id: channel, delivery_id: delivery },
            day: taken_at.date_naive(),
            taken_at,
            counters: MetricCounters { likes: Some(likes), ..Default::default() },
        }
    }

    fn follower_rollup(channel: ChannelId, on: &str, followers: u64) -> MetricRollup {
        let day = day(on);
        MetricRollup {
            team_id: team(),
            subject: MetricSubject::Channel { channel_id: channel },
            day,
            taken_at: Utc.from_utc_datetime(&day.and_hms_opt(22, 0, 0).expect("test time")),
            counters: MetricCounters { followers: Some(followers), ..Default::default() },
        }
    }

    #[test]
    fn a_rate_is_engagements_over_the_denominator_and_none_over_zero() {
        assert_eq!(engagement_rate(34, 1000), Some(0.034));
        assert_eq!(engagement_rate(0, 50), Some(0.0));
        assert_eq!(engagement_rate(5, 0), None);
        assert_eq!(engagement_rate(0, 0), None);
    }

    #[test]
    fn a_post_divides_by_its_impressions_else_by_the_followers() {
        let rate = |e, i, f| post_rate(e, i, f);
        assert_eq!(
            rate(Some(30), Some(1000), Some(200)),
            PostRate { denominator: Some(1000), basis: Some("impressions"), rate: Some(0.03) }
        );
        assert_eq!(rate(Some(30), None, Some(200)), PostRate { denominator: Some(200), basis: Some("followers"), rate: Some(0.15) });
        assert_eq!(rate(Some(30), None, None), PostRate { denominator: None, basis: None, rate: None });
        // Engagements not measured: the basis is known, the rate is not.
        assert_eq!(rate(None, Some(1000), Some(200)), PostRate { denominator: Some(1000), basis: Some("impressions"), rate: None });
        // Zero impressions are reported impressions: no falling back to followers, and no rate.
        assert_eq!(rate(Some(3), Some(0), Some(200)), PostRate { denominator: Some(0), basis: Some("impressions"), rate: None });
        assert_eq!(rate(Some(3), None, Some(0)).rate, None);
    }

    #[test]
    fn the_rate_of_a_set_is_the_sum_over_the_sum_not_the_mean_of_rates() {
        let a = post("2027-01-04T09:00:00Z", Some(10), Some(100), None); // 10 %
        let b = post("2027-01-05T09:00:00Z", Some(90), Some(10_000), None); // 0.9 %
        let c = post("2027-01-06T09:00:00Z", Some(20), None, Some(400)); // 5 % of the followers
        let k = kpis(&[&a, &b, &c], (None, None), 0);
        assert_eq!(k.engagement_rate, Some(120.0 / 10_500.0));
        let mean_of_rates = (0.1 + 0.009 + 0.05) / 3.0;
        assert!((k.engagement_rate.unwrap_or_default() - mean_of_rates).abs() > 0.04);
        assert_eq!((k.posts_published, k.engagements, k.impressions), (3, Some(120), Some(10_100)));
    }

    #[test]
    fn posts_without_engagements_or_a_denominator_count_but_stay_out_of_the_rate() {
        let rated = post("2027-01-04T09:00:00Z", Some(50), Some(1000), None);
        let no_denominator = post("2027-01-04T10:00:00Z", Some(500), None, None);
        let unmeasured = post("2027-01-04T11:00:00Z", None, Some(1000), Some(80));
        let k = kpis(&[&rated, &no_denominator, &unmeasured], (None, None), 2);
        assert_eq!(k.posts_published, 3);
        assert_eq!(k.engagements, Some(550));
        assert_eq!(k.impressions, Some(2000));
        assert_eq!(k.engagement_rate, Some(0.05));
        assert_eq!(k.reach, None);
        assert_eq!(k.failed_deliveries, 2);
    }

    #[test]
    fn a_post_with_zero_impressions_has_no_rate_and_adds_nothing_to_the_sets() {
        let rated = post("2027-01-04T09:00:00Z", Some(50), Some(1000), None);
        let unseen = post("2027-01-04T10:00:00Z", Some(30), Some(0), None);
        assert_eq!(unseen.row.engagement_rate, None);
        let k = kpis(&[&rated, &unseen], (None, None), 0);
        assert_eq!(k.engagements, Some(80), "its engagements still count");
        assert_eq!(k.engagement_rate, Some(0.05), "50 / 1000, not 80 / 1000");
    }

    #[test]
    fn nothing_measured_is_none_never_zero() {
        assert_eq!(kpis(&[], (None, None), 0), Kpis::default());
        let unmeasured = post("2027-01-04T09:00:00Z", None, None, None);
        let k = kpis(&[&unmeasured], (None, None), 0);
        assert_eq!((k.posts_published, k.impressions, k.engagements, k.engagement_rate), (1, None, None, None));
        // Measured at zero: zero engagements, and a zero denominator gives no rate.
        let zero = post("2027-01-04T09:00:00Z", Some(0), Some(0), None);
        let k = kpis(&[&zero], (None, None), 0);
        assert_eq!((k.engagements, k.impressions, k.engagement_rate), (Some(0), Some(0), None));
    }

    #[test]
    fn follower_growth_is_end_minus_start_and_needs_both() {
        assert_eq!(kpis(&[], (Some(1200), Some(1150)), 0).follower_growth, Some(-50));
        assert_eq!(kpis(&[], (Some(1000), Some(1042)), 0).follower_growth, Some(42));
        assert_eq!(kpis(&[], (Some(1000), None), 0).follower_growth, None);
        assert_eq!(kpis(&[], (None, Some(1000)), 0).follower_growth, None);
        let k = kpis(&[], (Some(7), Some(9)), 0);
        assert_eq!((k.followers_start, k.followers_end), (Some(7), Some(9)));
    }

    #[test]
    fn a_posts_counters_are_its_latest_up_to_the_cut_off() {
        let (c, d) = (ChannelId::new(), DeliveryId::new());
        let rollups = [
            post_rollup(c, d, "2027-01-05T10:00:00Z", 3),
            post_rollup(c, d, "2027-01-07T10:00:00Z", 9),
            post_rollup(c, d, "2027-01-06T10:00:00Z", 5),
            post_rollup(c, d, "2027-01-20T10:00:00Z", 40),
        ];
        let m = Measures::new(&rollups, utc("2027-01-10T00:00:00Z"));
        assert_eq!(m.post(d).and_then(|c| c.likes), Some(9));
        assert!(m.post(DeliveryId::new()).is_none());
        assert!(Measures::new(&rollups, utc("2027-01-05T09:59:59Z")).post(d).is_none());
    }

    #[test]
    fn followers_on_a_day_are_the_last_count_else_the_first_after() {
        let (c, other) = (ChannelId::new(), ChannelId::new());
        let rollups = [follower_rollup(c, "2027-01-03", 100), follower_rollup(c, "2027-01-06", 130)];
        let m = Measures::new(&rollups, utc("2027-02-01T00:00:00Z"));
        let on = |d: &str| m.followers_on(c, day(d));
        assert_eq!(
            [on("2027-01-02"), on("2027-01-03"), on("2027-01-05"), on("2027-01-06"), on("2027-01-09")],
            [Some(100), Some(100), Some(100), Some(130), Some(130)]
        );
        assert_eq!(m.followers_on(other, day("2027-01-05")), None);
    }

    #[test]
    fn growth_sums_the_channels_counted_at_both_ends() {
        let (a, b, c) = (ChannelId::new(), ChannelId::new(), ChannelId::new());
        let rollups = [
            // a: counted before the period (start) and inside it (end: the last).
            follower_rollup(a, "2027-01-01", 1000),
            follower_rollup(a, "2027-01-05", 1010),
            follower_rollup(a, "2027-01-09", 1030),
            // b: first counted inside the period: that is its start.
            follower_rollup(b, "2027-01-06", 500),
            follower_rollup(b, "2027-01-08", 480),
            // c: never counted inside the period: left out.
            follower_rollup(c, "2027-01-02", 70),
            // After the period: not its end.
            follower_rollup(a, "2027-01-12", 2000),
        ];
        let m = Measures::new(&rollups, utc("2027-02-01T00:00:00Z"));
        let p = week("2027-01-04", "2027-01-10");
        assert_eq!(m.growth(&[a, b, c], &p), (Some(1500), Some(1510)));
        assert_eq!(kpis(&[], m.growth(&[a, b, c], &p), 0).follower_growth, Some(10));
        assert_eq!(m.growth(&[c], &p), (None, None));
        assert_eq!(m.growth(&[b], &p), (Some(500), Some(480)));

        // A count older than a week before the period is not its start: the first inside is.
        let rollups = [follower_rollup(a, "2026-12-01", 700), follower_rollup(a, "2027-01-05", 1010), follower_rollup(a, "2027-01-09", 1030)];
        let m = Measures::new(&rollups, utc("2027-02-01T00:00:00Z"));
        assert_eq!(m.growth(&[a], &p), (Some(1010), Some(1030)));
        let rollups = [follower_rollup(a, "2026-12-28", 990), follower_rollup(a, "2027-01-09", 1030)];
        let m = Measures::new(&rollups, utc("2027-02-01T00:00:00Z"));
        assert_eq!(m.growth(&[a], &p), (Some(990), Some(1030)), "seven days before 4 January is 28 December");
    }

    #[test]
    fn the_follower_series_carries_the_last_count_over_days_without_one() {
        let (a, b) = (ChannelId::new(), ChannelId::new());
        let rollups =
            [follower_rollup(a, "2027-01-01", 1000), follower_rollup(a, "2027-01-06", 1010), follower_rollup(b, "2027-01-06", 500)];
        let m = Measures::new(&rollups, utc("2027-02-01T00:00:00Z"));
        let p = week("2027-01-04", "2027-01-07");
        let series: Vec<u64> = m.series(a, &p).into_iter().map(|(_, f)| f).collect();
        assert_eq!(series, [1000, 1000, 1010, 1010]);
        assert_eq!(m.series(b, &p), [(day("2027-01-06"), 500), (day("2027-01-07"), 500)]);
        assert!(m.series(ChannelId::new(), &p).is_empty());
    }

    #[test]
    fn a_slot_is_recommended_only_from_the_minimum_number_of_posts() {
        assert_eq!(BEST_TIME_MIN_POSTS, 3, "the posts below are laid out for 3");
        let posts = [
            // Monday 09:00 in Paris (08:00 UTC), very engaging, but only twice.
            post("2027-01-04T08:00:00Z", Some(100), None, None),
            post("2027-01-11T08:00:00Z", Some(100), None, None),
            // Not measured: not in the sample.
            post("2027-01-06T08:00:00Z", None, None, None),
            // Tuesday 10:00 in Paris, three times.
            post("2027-01-05T09:00:00Z", Some(10), None, None),
            post("2027-01-12T09:00:00Z", Some(20), None, None),
            post("2027-01-19T09:00:00Z", Some(30), None, None),
        ];
        let all: Vec<&Measured> = posts.iter().collect();
        let b = best_time(&all, PARIS);
        assert_eq!((b.time_zone.as_str(), b.sample, b.cells.len()), ("Europe/Paris", 5, 2));
        assert_eq!(b.recommended, [Cell { weekday: 1, hour: 10, posts: 3, mean_engagements: 20.0 }]);
        assert_eq!(b.note, None);
        // In UTC the same posts fall an hour earlier.
        assert_eq!(best_time(&all, chrono_tz::UTC).recommended[0].hour, 9);

        let b = best_time(&all[..5], PARIS);
        assert!(b.recommended.is_empty());
        let note = b.note.unwrap_or_default();
        assert!(note.contains("3 measured posts") && note.contains("(4 posts measured)"), "{note}");
    }

    #[test]
    fn at_most_three_slots_are_recommended_best_mean_first() {
        // Four Monday hours (UTC), three posts each, means 10, 40, 20 and 30.
        let mut posts = Vec::new();
        for (hour, likes) in [(8, 10), (9, 40), (10, 20), (11, 30)] {
            for monday in ["04", "11", "18"] {
                posts.push(post(&format!("2027-01-{monday}T{hour:02}:00:00Z"), Some(likes), None, None));
            }
        }
        let all: Vec<&Measured> = posts.iter().collect();
        let b = best_time(&all, chrono_tz::UTC);
        let picked: Vec<(u32, f64)> = b.recommended.iter().map(|c| (c.hour, c.mean_engagements)).collect();
        assert_eq!(picked, [(9, 40.0), (11, 30.0), (10, 20.0)]);
        assert_eq!(b.cells.len(), 4);
    }

    #[test]
    fn top_and_bottom_posts_never_overlap() {
        let seven: Vec<Measured> = (1..=7)
            .map(|n| post(&format!("2027-01-04T{n:02}:00:00Z"), Some(n), None, None))
            .chain([post("2027-01-04T12:00:00Z", None, None, None)])
            .collect();
        let (top, bottom) = top_and_bottom(&seven);
        assert_eq!((likes(&top), likes(&bottom)), (vec![7, 6, 5, 4, 3], vec![1, 2]));

        let twelve: Vec<Measured> = (1..=12).map(|n| post(&format!("2027-01-04T{n:02}:00:00Z"), Some(n), None, None)).collect();
        let (top, bottom) = top_and_bottom(&twelve);
        assert_eq!((likes(&top), likes(&bottom)), (vec![12, 11, 10, 9, 8], vec![1, 2, 3, 4, 5]));

        // Equal engagements: the earlier post ranks higher.
        let tied = [post("2027-01-05T09:00:00Z", Some(4), None, None), post("2027-01-04T09:00:00Z", Some(4), None, None)];
        let (top, bottom) = top_and_bottom(&tied);
        assert_eq!(top[0].published_at, utc("2027-01-04T09:00:00Z"));
        assert!(bottom.is_empty());
    }

    #[test]
    fn every_day_of_the_period_has_a_row_in_the_teams_zone() {
        let posts = [
            post("2027-01-04T08:00:00Z", Some(2), None, None),
            post("2027-01-04T10:00:00Z", None, None, None),
            // 00:30 on the 5th in Paris.
            post("2027-01-04T23:30:00Z", Some(5), None, None),
        ];
        let rows: Vec<(NaiveDate, u64, u64)> =
            daily(&posts, &week("2027-01-04", "2027-01-06"), PARIS).into_iter().map(|r| (r.day, r.posts, r.engagements)).collect();
        assert_eq!(rows, [(day("2027-01-04"), 2, 2), (day("2027-01-05"), 1, 5), (day("2027-01-06"), 0, 0)]);
    }

    #[test]
    fn the_inbox_tally_counts_kinds_sentiments_open_items_and_answers() {
        let mut t = Tally::default();
        t.add(InteractionKind::Comment, Some(SentimentLabel::Positive), InteractionStatus::Answered, Some(Duration::seconds(60)));
        t.add(InteractionKind::Comment, Some(SentimentLabel::Negative), InteractionStatus::Closed, Some(Duration::seconds(300)));
        t.add(InteractionKind::Mention, None, InteractionStatus::Open, None);
        // Answered "before" it arrived (clock skew): not a response time.
        t.add(InteractionKind::DirectMessage, Some(SentimentLabel::Neutral), InteractionStatus::Assigned, Some(Duration::seconds(-5)));
        t.add(InteractionKind::Reply, Some(SentimentLabel::Positive), InteractionStatus::Answered, Some(Duration::seconds(120)));
        let s = t.stats();
        assert_eq!((s.total, s.answered, s.open_items, s.median_first_response_seconds), (5, 3, 2, Some(120)));
        let kinds: Vec<(&str, u64)> = s.by_kind.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(kinds, [("comment", 2), ("direct_message", 1), ("mention", 1), ("reply", 1)]);
        let moods: Vec<(&str, u64)> = s.by_sentiment.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(moods, [("negative", 1), ("neutral", 1), ("positive", 2), ("unscored", 1)]);
    }

    #[test]
    fn the_median_response_of_an_even_count_is_the_mean_of_the_middle_two() {
        let median = |secs: &[i64]| {
            let mut t = Tally::default();
            for s in secs {
                t.add(InteractionKind::Comment, None, InteractionStatus::Answered, Some(Duration::seconds(*s)));
            }
            t.stats().median_first_response_seconds
        };
        assert_eq!(median(&[1000, 10, 100, 40]), Some(70));
        assert_eq!(median(&[10, 41]), Some(25));
        assert_eq!(median(&[0]), Some(0));
        assert_eq!(median(&[]), None);
        assert_eq!(Tally::default().stats(), InboxStats::default());
    }
}
