//! The hand-checked report dataset, on any store: `tests/system/reports.rs` checks every figure of it
//! on SQLite, `tests/system/lambda_functions.rs` the report the `report-generator` function makes of it
//! on DynamoDB (moto) and puts in S3.
//!
//! The dataset (team `cafe`, Europe/Paris = UTC+1 in January; period Mon 2027-01-04 .. Sun
//! 2027-01-10, i.e. [2027-01-03T23:00Z, 2027-01-10T23:00Z); previous period 2026-12-28 ..
//! 2027-01-03). Every expected figure below is worked out in the comments from these rows.
//!
//! Channel A "Café sandbox" (sandbox: impressions reported) — posts (local time, counters):
//!   a1 Mon 04 09:00  likes 10 reposts 2 replies 1 quotes 0 bookmarks 1 clicks 6  imp 400  reach 300  → eng 20
//!   a2 Mon 04 17:00  likes 4  reposts 0 replies 0 quotes 0 bookmarks 0 clicks 1  imp 200  reach 150  → eng 5
//!   a3 Wed 06 09:00  likes 30 reposts 5 replies 3 quotes 1 bookmarks 2 clicks 9  imp 1000 reach 800  → eng 50
//!   a4 Fri 08 09:00  likes 8  reposts 1 replies 1 quotes 0 bookmarks 0 clicks 0  imp 250  reach 200  → eng 10
//!   previous: pa Wed 30 Dec 09:00 likes 5 clicks 5 imp 100 (→ eng 10); pa2 Mon 28 Dec 09:00 likes 8 imp 160 (→ eng 8)
//!   followers: 1000 on 2 Jan, 1040 on 9 Jan.
//! Channel B "@cafe@mastodon.social" (Mastodon: likes, reposts, replies; quotes missing):
//!   b1 Mon 04 09:00:30 likes 12 reposts 3 replies 2 → eng 17
//!   b2 Tue 05 12:00  likes 1  reposts 0 replies 0 → eng 1
//!   b3 Thu 07 09:00  likes 6  reposts 2 replies 1 → eng 9
//!   b4 Sun 10 23:30  never measured → engagements missing (not 0)
//!   b5 Mon 11 00:10  outside the period (next day locally, though 10 Jan in UTC)
//!   previous: pb Sat 02 Jan 09:00 likes 2 reposts 1 replies 0 → eng 3
//!   followers: 480 on 27 Dec, 500 on 3 Jan, 510 on 5 Jan, 530 on 10 Jan.


use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use herald_core::domain::*;
use herald_core::services::reports::ReportData;
use herald_core::store::*;

/// The report checked: Monday 4 to Sunday 10 January 2027 in Paris.
pub const FROM: &str = "2027-01-04";
pub const TO: &str = "2027-01-10";

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn team() -> Team {
    Team { language: Default::default(), logo: None, brand: Default::default(), version: 0,
        id: TeamId::parse("team", "cafe").unwrap(),
        name: "Café du coin".into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: utc("2026-12-01T00:00:00Z"),
        calendar_token_hash: None,
        watch_terms: vec![],
        report_schedule: Default::default(),
    }
}

pub fn channel(team: &TeamId, platform: Platform, name: &str) -> Channel {
    Channel {
        id: ChannelId::new(),
        team_id: team.clone(),
        platform,
        name: ChannelName::parse("name", name).unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: None,
        queue_slots: vec![],
        created_at: utc("2026-12-01T00:00:00Z"),
        updated_at: utc("2026-12-01T00:00:00Z"),
    }
}

pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub team: Team,
    pub a: Channel,
    pub b: Channel,
}

impl Fixture {
    /// The team and its two channels, nothing else, in `store`.
    pub async fn new(store: Arc<dyn Store>) -> Self {
        let team = team();
        store.create_team(&team).await.unwrap();
        let a = channel(&team.id, Platform::Sandbox, "Café sandbox");
        let b = channel(&team.id, Platform::Mastodon, "@cafe@mastodon.social");
        store.create_channel(&a).await.unwrap();
        store.create_channel(&b).await.unwrap();
        Self { store, team, a, b }
    }

    /// A post with one delivery on `channel`, in `state`, published at `at` (when published).
    pub async fn delivery(&self, channel: &Channel, text: &str, at: &str, state: DeliveryState) -> Delivery {
        let at = utc(at);
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: PostId::new(),
            team_id: self.team.id.clone(),
            text: PostText::parse("text", text).unwrap(),
            variants: Default::default(),
            media: vec![],
            created_by: None,
            created_at: at - Duration::days(3),
            updated_at: at - Duration::days(3),
            series_id: None,
        };
        let mut d = Delivery::new(&post, channel.id, channel.platform, state, at, at - Duration::days(3));
        if state == DeliveryState::Published {
            d.published_at = Some(at);
            d.platform_post_id = Some(format!("pp-{text}"));
            d.url = Some(format!("https://example.org/{text}"));
        }
        if state == DeliveryState::Failed {
            d.attempts = 5;
            d.last_error = Some("sandbox: simulated refusal".into());
        }
        self.store.create_post(&post, std::slice::from_ref(&d)).await.unwrap();
        d
    }

    pub async fn counters(&self, d: &Delivery, on: &str, taken: &str, c: MetricCounters) {
        let r = MetricRollup {
            team_id: self.team.id.clone(),
            subject: MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id },
            day: day(on),
            taken_at: utc(taken),
            counters: c,
        };
        self.store.put_rollup(&r).await.unwrap();
    }

    pub async fn followers(&self, c: &Channel, on: &str, n: u64) {
        let r = MetricRollup {
            team_id: self.team.id.clone(),
            subject: MetricSubject::Channel { channel_id: c.id },
            day: day(on),
            taken_at: utc(&format!("{on}T20:00:00Z")),
            counters: MetricCounters { followers: Some(n), ..Default::default() },
        };
        self.store.put_rollup(&r).await.unwrap();
    }

    #[allow(clippy::too_many_arguments)]
    pub async fn interaction(
        &self,
        kind: InteractionKind,
        sentiment: Option<SentimentLabel>,
        created: &str,
        status: InteractionStatus,
        response_secs: Option<i64>,
    ) {
        let created = utc(created);
        let i = Interaction {
            id: InteractionId::new(),
            team_id: self.team.id.clone(),
            channel_id: self.b.id,
            platform: Platform::Mastodon,
            kind,
            external_id: InteractionId::new().to_string(),
            thread_id: "t".into(),
            parent_id: None,
            author_id: "42".into(),
            author_name: "Marie".into(),
            text: "hello".into(),
            created_at: created,
            received_at: created,
            post_url: None,
            status,
            assignee: None,
            reply_ref: None,
            sentiment: sentiment.map(|label| Sentiment { score: 0.0, label, language: "en".into() }),
            tags: vec![],
            notes: vec![],
            first_response_at: response_secs.map(|s| created + Duration::seconds(s)),
            raw_event_id: None,
        };
        self.store.create_interaction(&i).await.unwrap();
    }

    pub async fn incident(&self, opened: &str, closed: Option<&str>) {
        self.store
            .put_incident(&Incident {
                id: IncidentId::new(),
                team_id: self.team.id.clone(),
                channel_id: self.b.id,
                opened_at: utc(opened),
                closed_at: closed.map(utc),
                negatives_in_window: 6,
                expected: 1.5,
            })
            .await
            .unwrap();
    }
}

pub fn c(likes: u64, reposts: u64, replies: u64, quotes: Option<u64>, bookmarks: Option<u64>, clicks: Option<u64>) -> MetricCounters {
    MetricCounters {
        likes: Some(likes),
        reposts: Some(reposts),
        replies: Some(replies),
        quotes,
        bookmarks,
        clicks,
        ..Default::default()
    }
}

pub fn with_audience(mut m: MetricCounters, impressions: u64, reach: Option<u64>) -> MetricCounters {
    m.impressions = Some(impressions);
    m.reach = reach;
    m
}

/// The whole dataset in `store`.
pub async fn seed(store: Arc<dyn Store>) -> Fixture {
    let f = Fixture::new(store).await;
    let (a, b) = (f.a.clone(), f.b.clone());
    use DeliveryState::*;
    // Channel A, this period (UTC = local − 1 h).
    let a1 = f.delivery(&a, "a1", "2027-01-04T08:00:00Z", Published).await;
    let a2 = f.delivery(&a, "a2", "2027-01-04T16:00:00Z", Published).await;
    let a3 = f.delivery(&a, "a3", "2027-01-06T08:00:00Z", Published).await;
    let a4 = f.delivery(&a, "a4", "2027-01-08T08:00:00Z", Published).await;
    // An older, smaller measure of a1 first: the latest roll-up wins.
    f.counters(&a1, "2027-01-04", "2027-01-04T09:00:00Z", with_audience(c(2, 0, 0, Some(0), Some(0), Some(1)), 90, Some(80))).await;
    f.counters(&a1, "2027-01-05", "2027-01-05T08:00:00Z", with_audience(c(10, 2, 1, Some(0), Some(1), Some(6)), 400, Some(300))).await;
    f.counters(&a2, "2027-01-05", "2027-01-05T16:00:00Z", with_audience(c(4, 0, 0, Some(0), Some(0), Some(1)), 200, Some(150))).await;
    f.counters(&a3, "2027-01-07", "2027-01-07T08:00:00Z", with_audience(c(30, 5, 3, Some(1), Some(2), Some(9)), 1000, Some(800))).await;
    f.counters(&a4, "2027-01-09", "2027-01-09T08:00:00Z", with_audience(c(8, 1, 1, Some(0), Some(0), Some(0)), 250, Some(200))).await;
    // A measure taken after the report was made (now = 12 Jan 08:00Z) is not used.
    f.counters(&a4, "2027-01-13", "2027-01-13T08:00:00Z", with_audience(c(99, 9, 9, Some(9), Some(9), Some(9)), 9999, Some(9999))).await;
    // Channel B, this period.
    let b1 = f.delivery(&b, "b1", "2027-01-04T08:00:30Z", Published).await;
    let b2 = f.delivery(&b, "b2", "2027-01-05T11:00:00Z", Published).await;
    let b3 = f.delivery(&b, "b3", "2027-01-07T08:00:00Z", Published).await;
    let _b4 = f.delivery(&b, "b4", "2027-01-10T22:30:00Z", Published).await;
    let b5 = f.delivery(&b, "b5", "2027-01-10T23:10:00Z", Published).await;
    f.counters(&b1, "2027-01-05", "2027-01-05T08:00:00Z", c(12, 3, 2, None, None, None)).await;
    f.counters(&b2, "2027-01-06", "2027-01-06T11:00:00Z", c(1, 0, 0, None, None, None)).await;
    f.counters(&b3, "2027-01-08", "2027-01-08T08:00:00Z", c(6, 2, 1, None, None, None)).await;
    f.counters(&b5, "2027-01-11", "2027-01-11T01:00:00Z", c(50, 50, 50, None, None, None)).await;
    // Previous period.
    let pa = f.delivery(&a, "pa", "2026-12-30T08:00:00Z", Published).await;
    let pa2 = f.delivery(&a, "pa2", "2026-12-28T08:00:00Z", Published).await;
    let pb = f.delivery(&b, "pb", "2027-01-02T08:00:00Z", Published).await;
    f.counters(&pa, "2026-12-31", "2026-12-31T08:00:00Z", with_audience(c(5, 0, 0, Some(0), Some(0), Some(5)), 100, None)).await;
    f.counters(&pa2, "2026-12-29", "2026-12-29T08:00:00Z", with_audience(c(8, 0, 0, Some(0), Some(0), Some(0)), 160, None)).await;
    f.counters(&pb, "2027-01-03", "2027-01-03T08:00:00Z", c(2, 1, 0, None, None, None)).await;
    // Not published: a failure in each period, one still scheduled, one cancelled.
    f.delivery(&a, "failed", "2027-01-09T10:00:00Z", Failed).await;
    f.delivery(&b, "failed-before", "2027-01-01T10:00:00Z", Failed).await;
    f.delivery(&a, "later", "2027-01-10T10:00:00Z", Scheduled).await;
    f.delivery(&b, "dropped", "2027-01-06T10:00:00Z", Cancelled).await;
    // Followers.
    f.followers(&a, "2027-01-02", 1000).await;
    f.followers(&a, "2027-01-09", 1040).await;
    f.followers(&b, "2026-12-27", 480).await;
    f.followers(&b, "2027-01-03", 500).await;
    f.followers(&b, "2027-01-05", 510).await;
    f.followers(&b, "2027-01-10", 530).await;
    // Inbox.
    use InteractionKind::*;
    use InteractionStatus::*;
    use SentimentLabel::*;
    f.interaction(Comment, Some(Positive), "2027-01-04T10:00:00Z", Answered, Some(1800)).await;
    f.interaction(Mention, Some(Negative), "2027-01-05T09:00:00Z", Answered, Some(3600)).await;
    f.interaction(Reply, Some(Neutral), "2027-01-06T12:00:00Z", Closed, Some(600)).await;
    f.interaction(DirectMessage, Some(Positive), "2027-01-07T15:00:00Z", Open, None).await;
    f.interaction(Comment, Some(Negative), "2027-01-08T09:00:00Z", Assigned, None).await;
    f.interaction(Comment, None, "2027-01-09T20:00:00Z", Answered, Some(7200)).await;
    f.interaction(Comment, Some(Positive), "2027-01-01T10:00:00Z", Answered, Some(120)).await;
    f.interaction(Mention, Some(Negative), "2026-12-20T10:00:00Z", Open, None).await;
    // Incidents: one this period, one the previous, one long before.
    f.incident("2027-01-08T09:30:00Z", Some("2027-01-08T13:00:00Z")).await;
    f.incident("2027-01-02T09:30:00Z", Some("2027-01-02T12:00:00Z")).await;
    f.incident("2026-12-01T09:30:00Z", None).await;

    f
}

pub fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a rate");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}


/// Every figure of the report of [`FROM`] to [`TO`], worked out by hand (see the top of this
/// file); `d.measured_until` is `d.generated_at` (made within a week of the period's end).
pub fn check_every_figure(f: &Fixture, d: &ReportData) {
    // The period and the one before, in Paris time.
    assert_eq!(d.period.start, utc("2027-01-03T23:00:00Z"));
    assert_eq!(d.period.end, utc("2027-01-10T23:00:00Z"));
    assert_eq!((d.previous_period.from, d.previous_period.to), (day("2026-12-28"), day("2027-01-03")));
    // measured until min(end + 7 d, now) = now.
    assert_eq!(d.measured_until, d.generated_at);

    // Overall, this period: a1..a4 and b1..b4 = 8 posts (b5 is Monday locally).
    let o = &d.overall.current;
    assert_eq!(o.posts_published, 8);
    assert_eq!(o.impressions, Some(400 + 200 + 1000 + 250)); // 1850
    assert_eq!(o.reach, Some(300 + 150 + 800 + 200)); // 1450
    // 20 + 5 + 50 + 10 + 17 + 1 + 9 = 112 (b4 unmeasured, not 0; a4's later measure ignored)
    assert_eq!(o.engagements, Some(112));
    // denominators: a's impressions 1850; b1 ÷ 500 (followers on 4 Jan = 3 Jan's 500), b2, b3 ÷ 510
    close(o.engagement_rate, 112.0 / (1850.0 + 500.0 + 510.0 + 510.0));
    // followers: A 1000 → 1040, B 500 → 530
    assert_eq!((o.followers_start, o.followers_end, o.follower_growth), (Some(1500), Some(1570), Some(70)));
    assert_eq!(o.failed_deliveries, 1);

    // Overall, previous period: pa, pa2, pb.
    let p = &d.overall.previous;
    assert_eq!(p.posts_published, 3);
    assert_eq!(p.impressions, Some(100 + 160));
    assert_eq!(p.reach, None, "no previous post reported reach");
    assert_eq!(p.engagements, Some(10 + 8 + 3));
    // pb ÷ B's followers on 2 Jan = 27 Dec's 480
    close(p.engagement_rate, 21.0 / (100.0 + 160.0 + 480.0));
    // A: no measure before 28 Dec, so its first inside (1000) to its last inside (1000); B 480 → 500
    assert_eq!((p.followers_start, p.followers_end, p.follower_growth), (Some(1480), Some(1500), Some(20)));
    assert_eq!(p.failed_deliveries, 1);

    // Per channel.
    let ca = d.channels.iter().find(|c| c.channel_id == f.a.id).unwrap();
    let cb = d.channels.iter().find(|c| c.channel_id == f.b.id).unwrap();
    let k = &ca.kpis.current;
    assert_eq!((k.posts_published, k.impressions, k.reach, k.engagements), (4, Some(1850), Some(1450), Some(85)));
    close(k.engagement_rate, 85.0 / 1850.0);
    assert_eq!((k.followers_start, k.followers_end, k.follower_growth, k.failed_deliveries), (Some(1000), Some(1040), Some(40), 1));
    let k = &ca.kpis.previous;
    assert_eq!((k.posts_published, k.impressions, k.engagements, k.follower_growth), (2, Some(260), Some(18), Some(0)));
    close(k.engagement_rate, 18.0 / 260.0);
    let k = &cb.kpis.current;
    assert_eq!((k.posts_published, k.impressions, k.reach, k.engagements), (4, None, None, Some(27)));
    close(k.engagement_rate, 27.0 / 1520.0);
    assert_eq!((k.followers_start, k.followers_end, k.follower_growth, k.failed_deliveries), (Some(500), Some(530), Some(30), 0));
    let k = &cb.kpis.previous;
    assert_eq!((k.posts_published, k.engagements, k.follower_growth, k.failed_deliveries), (1, Some(3), Some(20), 1));
    close(k.engagement_rate, 3.0 / 480.0);
    // Follower line of B: 4 Jan carries 3 Jan's 500; then 510 from the 5th; 530 on the 10th.
    let series: Vec<(String, u64)> = cb.followers.iter().map(|(d, n)| (d.to_string(), *n)).collect();
    assert_eq!(
        series,
        vec![
            ("2027-01-04".into(), 500),
            ("2027-01-05".into(), 510),
            ("2027-01-06".into(), 510),
            ("2027-01-07".into(), 510),
            ("2027-01-08".into(), 510),
            ("2027-01-09".into(), 510),
            ("2027-01-10".into(), 530)
        ]
    );
    assert_eq!(ca.followers.first(), Some(&(day("2027-01-04"), 1000)));
    assert_eq!(ca.followers.last(), Some(&(day("2027-01-10"), 1040)));

    // The per-post table: 8 rows by time; b4 with no counters.
    let names: Vec<&str> = d.posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(names, vec!["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4"]);
    let a1 = &d.posts[0];
    assert_eq!((a1.engagements, a1.rate_basis.as_deref(), a1.published_local.as_str()), (Some(20), Some("impressions"), "2027-01-04 09:00"));
    close(a1.engagement_rate, 0.05);
    let b1 = &d.posts[1];
    assert_eq!((b1.engagements, b1.rate_basis.as_deref(), b1.counters.quotes), (Some(17), Some("followers"), None));
    close(b1.engagement_rate, 17.0 / 500.0);
    let b4 = &d.posts[7];
    assert_eq!((b4.engagements, b4.engagement_rate, b4.counters.clone()), (None, None, MetricCounters::default()));

    // Top: a3 50, a1 20, b1 17, a4 10, b3 9; bottom of the rest, lowest first: b2 1, a2 5.
    let top: Vec<(&str, Option<u64>)> = d.top_posts.iter().map(|p| (p.text.as_str(), p.engagements)).collect();
    assert_eq!(top, vec![("a3", Some(50)), ("a1", Some(20)), ("b1", Some(17)), ("a4", Some(10)), ("b3", Some(9))]);
    let bottom: Vec<&str> = d.bottom_posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(bottom, vec!["b2", "a2"]);

    // Engagement per local day: 4th a1+a2+b1 = 3 posts, 42; 5th b2 1; 6th a3 50; 7th b3 9;
    // 8th a4 10; 9th nothing; 10th b4 (1 post, nothing measured).
    let daily: Vec<(u64, u64)> = d.daily.iter().map(|r| (r.posts, r.engagements)).collect();
    assert_eq!(daily, vec![(3, 42), (1, 1), (1, 50), (1, 9), (1, 10), (0, 0), (1, 0)]);

    // Best time, team-wide (both periods: a1..a4, b1..b3, pa, pa2, pb = 10 measured posts;
    // b4 is unmeasured): Mon 09h has a1 20, b1 17, pa2 8
    // → 3 posts, mean 15: the only cell with 3 posts, so the only recommendation.
    let bt = &d.best_time;
    assert_eq!(bt.sample, 10);
    assert_eq!(bt.recommended.len(), 1);
    assert_eq!((bt.recommended[0].weekday, bt.recommended[0].hour, bt.recommended[0].posts), (0, 9, 3));
    assert!((bt.recommended[0].mean_engagements - 15.0).abs() < 1e-12);
    let wed9 = bt.cells.iter().find(|c| c.weekday == 2 && c.hour == 9).unwrap();
    assert_eq!((wed9.posts, wed9.mean_engagements), (2, 30.0)); // a3 50, pa 10
    assert_eq!(bt.cells.len(), 7); // Mon 9, Mon 17, Tue 12, Wed 9, Thu 9, Fri 9, Sat 9
    // Per channel: A has Mon 09h twice only (a1, pa2): nothing recommended, a note says why.
    assert_eq!(ca.best_time.sample, 6);
    assert!(ca.best_time.recommended.is_empty());
    assert!(ca.best_time.note.as_deref().unwrap().contains("not enough data"));
    assert_eq!(cb.best_time.sample, 4);

    // Inbox, this period: 6 interactions (the 1 Jan one is the previous period's).
    let i = &d.inbox.current;
    assert_eq!(i.total, 6);
    let kinds: Vec<(&str, u64)> = i.by_kind.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(kinds, vec![("comment", 3), ("direct_message", 1), ("mention", 1), ("reply", 1)]);
    let moods: Vec<(&str, u64)> = i.by_sentiment.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(moods, vec![("negative", 2), ("neutral", 1), ("positive", 2), ("unscored", 1)]);
    // Responses 600, 1800, 3600, 7200 s: median (1800 + 3600) / 2.
    assert_eq!((i.answered, i.median_first_response_seconds, i.open_items), (4, Some(2700), 2));
    let i = &d.inbox.previous;
    assert_eq!((i.total, i.answered, i.median_first_response_seconds, i.open_items), (1, 1, Some(120), 0));

    // Incidents and failures.
    assert_eq!(d.incidents.len(), 1);
    assert_eq!(d.incidents[0].opened_at, utc("2027-01-08T09:30:00Z"));
    assert_eq!(d.incidents[0].channel, "@cafe@mastodon.social");
    assert_eq!(d.incidents_previous, 1);
    assert_eq!(d.failed_deliveries.len(), 1);
    assert_eq!(d.failed_deliveries[0].reason.as_deref(), Some("sandbox: simulated refusal"));
    assert_eq!(d.failed_deliveries[0].attempts, 5);

    // What it read: 2 channels and the 8 posts of the period, once each.
    assert_eq!((d.items_read.channels, d.items_read.posts), (2, 8));
    assert!(!d.is_empty());
}
