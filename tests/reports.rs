//! Reports checked by hand, and the metric poller with the sandbox network.
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
use herald_core::clock::{Clock, ManualClock};
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::*;
use herald_core::events::{EventKind, MemorySink};
use herald_core::platforms::Adapters;
use herald_core::platforms::sandbox::SandboxAdapter;
use herald_core::services::metrics::{MetricsPlan, MetricsPoller};
use herald_core::services::reports::{self, ReportData};
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::*;
use serde_json::json;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn team() -> Team {
    Team {
        id: TeamId::parse("team", "cafe").unwrap(),
        name: "Café du coin".into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: utc("2026-12-01T00:00:00Z"),
        calendar_token_hash: None,
        watch_terms: vec![],
        report_schedule: Default::default(),
    }
}

fn channel(team: &TeamId, platform: Platform, name: &str) -> Channel {
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

struct Fixture {
    store: Arc<SqliteStore>,
    team: Team,
    a: Channel,
    b: Channel,
}

impl Fixture {
    async fn new() -> Self {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let team = team();
        store.create_team(&team).await.unwrap();
        let a = channel(&team.id, Platform::Sandbox, "Café sandbox");
        let b = channel(&team.id, Platform::Mastodon, "@cafe@mastodon.social");
        store.create_channel(&a).await.unwrap();
        store.create_channel(&b).await.unwrap();
        Self { store, team, a, b }
    }

    /// A post with one delivery on `channel`, in `state`, published at `at` (when published).
    async fn delivery(&self, channel: &Channel, text: &str, at: &str, state: DeliveryState) -> Delivery {
        let at = utc(at);
        let post = Post {
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

    async fn counters(&self, d: &Delivery, on: &str, taken: &str, c: MetricCounters) {
        let r = MetricRollup {
            team_id: self.team.id.clone(),
            subject: MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id },
            day: day(on),
            taken_at: utc(taken),
            counters: c,
        };
        self.store.put_rollup(&r).await.unwrap();
    }

    async fn followers(&self, c: &Channel, on: &str, n: u64) {
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
    async fn interaction(
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

    async fn incident(&self, opened: &str, closed: Option<&str>) {
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

fn c(likes: u64, reposts: u64, replies: u64, quotes: Option<u64>, bookmarks: Option<u64>, clicks: Option<u64>) -> MetricCounters {
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

fn with_audience(mut m: MetricCounters, impressions: u64, reach: Option<u64>) -> MetricCounters {
    m.impressions = Some(impressions);
    m.reach = reach;
    m
}

async fn dataset() -> (Fixture, ReportData) {
    let f = Fixture::new().await;
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

    let data = reports::build(&*f.store, &f.team, day("2027-01-04"), day("2027-01-10"), utc("2027-01-12T08:00:00Z"))
        .await
        .unwrap();
    (f, data)
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a rate");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[tokio::test]
async fn every_figure_matches_the_hand_computed_dataset() {
    let (f, d) = dataset().await;

    // The period and the one before, in Paris time.
    assert_eq!(d.period.start, utc("2027-01-03T23:00:00Z"));
    assert_eq!(d.period.end, utc("2027-01-10T23:00:00Z"));
    assert_eq!((d.previous_period.from, d.previous_period.to), (day("2026-12-28"), day("2027-01-03")));
    // measured until min(end + 7 d, now) = now.
    assert_eq!(d.measured_until, utc("2027-01-12T08:00:00Z"));

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

#[tokio::test]
async fn the_three_renderings_say_the_same() {
    let (_, d) = dataset().await;
    let csv = String::from_utf8(reports::render_csv(&d)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 9, "header + 8 posts:\n{csv}");
    assert!(lines[0].starts_with("published_at,published_local,channel,platform,text,url,likes"));
    assert!(lines[1].contains(",a1,") && lines[1].contains(",20,0.0500,impressions,"), "{}", lines[1]);
    // b1: quotes/bookmarks/impressions/reach/clicks empty, not 0.
    assert!(lines[2].contains(",12,3,2,,,,,,17,0.0340,followers,"), "{}", lines[2]);

    let json: ReportData = serde_json::from_slice(&reports::render_json(&d)).unwrap();
    assert_eq!(json, d);

    let html = reports::render_html(&d);
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches("<svg").count(), 4, "followers, engagement bars, heatmap, sentiment");
    assert!(!html.contains("No follower counts") && !html.contains("No engagement measured"));
    assert!(html.contains("3.32\u{a0}%"), "overall engagement rate 112/3370");
    assert!(!html.contains("<script"), "self-contained, no scripts");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http://"), "no external resources");
}

#[tokio::test]
async fn an_empty_period_is_an_honest_empty_report() {
    let f = Fixture::new().await;
    let d = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-10T00:00:00Z")).await.unwrap();
    assert!(d.is_empty());
    assert_eq!(d.overall.current.posts_published, 0);
    assert_eq!(d.overall.current.engagements, None);
    assert_eq!(d.overall.current.engagement_rate, None);
    assert_eq!(d.inbox.current.median_first_response_seconds, None);
    let html = reports::render_html(&d);
    assert!(html.contains("Nothing happened in this period"));
    assert!(html.contains("No follower counts measured"));
    assert_eq!(String::from_utf8(reports::render_csv(&d)).unwrap().lines().count(), 1);
    // A period that ends before it starts is refused.
    assert!(reports::build(&*f.store, &f.team, day("2027-03-07"), day("2027-03-01"), Utc::now()).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// The metric poller with the sandbox network.

struct Rig {
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    events: Arc<MemorySink>,
    cipher: CredentialCipher,
    poller: MetricsPoller,
    team: Team,
    _dir: tempfile::TempDir,
}

fn rig_at(t: DateTime<Utc>) -> (Arc<SqliteStore>, Arc<ManualClock>, Arc<MemorySink>, CredentialCipher, tempfile::TempDir) {
    (
        Arc::new(SqliteStore::in_memory().unwrap()),
        Arc::new(ManualClock::new(t)),
        Arc::new(MemorySink::default()),
        CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

impl Rig {
    async fn new() -> Rig {
        let (store, clock, events, cipher, dir) = rig_at(utc("2027-01-04T08:00:00Z"));
        let sandbox = Arc::new(SandboxAdapter::new(dir.path().join("outbox"), clock.clone()));
        let poller = MetricsPoller {
            store: store.clone(),
            adapters: Adapters::default().with_metrics(Platform::Sandbox, sandbox),
            events: events.clone(),
            clock: clock.clone(),
            cipher: cipher.clone(),
            plan: MetricsPlan::default(),
        };
        let team = team();
        store.create_team(&team).await.unwrap();
        Rig { store, clock, events, cipher, poller, team, _dir: dir }
    }

    async fn channel(&self, name: &str, credentials: serde_json::Value) -> Channel {
        let mut c = channel(&self.team.id, Platform::Sandbox, name);
        c.credentials = Some(self.cipher.seal(c.id, &Credentials::from_json("credentials", &credentials).unwrap()));
        self.store.create_channel(&c).await.unwrap();
        c
    }

    async fn published(&self, c: &Channel, at: DateTime<Utc>) -> Delivery {
        let f = Fixture { store: self.store.clone(), team: self.team.clone(), a: c.clone(), b: c.clone() };
        f.delivery(c, &format!("post-{}", at.timestamp()), &at.to_rfc3339(), DeliveryState::Published).await
    }

    async fn snapshots(&self, d: &Delivery) -> Vec<MetricSnapshot> {
        let subject = MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id };
        self.store.snapshots(&self.team.id, &subject, d.publish_at, d.publish_at + Duration::days(30)).await.unwrap()
    }
}

#[tokio::test]
async fn the_poller_reads_each_post_once_per_checkpoint_then_never() {
    let r = Rig::new().await;
    let ch = r.channel("Café sandbox", json!({})).await;
    let t = r.clock.now();
    let d = r.published(&ch, t).await;

    // Rounds every 10 minutes for 8 days: five reads of the post (+1 h, +6 h, +24 h, +72 h, +7 d)
    // and followers once an hour.
    let mut posts = 0;
    let mut followers = 0;
    let mut at = t;
    while at < t + Duration::days(8) {
        at += Duration::minutes(10);
        r.clock.set(at);
        let s = r.poller.run_once().await.unwrap();
        posts += s.posts;
        followers += s.followers;
        assert_eq!(s.failed + s.rate_limited + s.needs_reconnect, 0, "{s:?}");
    }
    assert_eq!(posts, 5);
    assert_eq!(followers, 8 * 24);
    let snaps = r.snapshots(&d).await;
    assert_eq!(snaps.len(), 5);
    let offsets: Vec<i64> = snaps.iter().map(|s| (s.taken_at - t).num_minutes()).collect();
    assert_eq!(offsets, vec![60, 360, 1440, 4320, 10080]);
    // Engagement only grows, and every snapshot expires after 90 days.
    let likes: Vec<u64> = snaps.iter().map(|s| s.counters.likes.unwrap()).collect();
    assert!(likes.windows(2).all(|w| w[0] <= w[1]), "{likes:?}");
    assert!(snaps.iter().all(|s| s.expires_at == Some(s.taken_at + Duration::days(90))));
    // Roll-ups: one per day with a read (days in Paris), the day's latest counters.
    let rollups = r.store.rollups(&r.team.id, day("2027-01-01"), day("2027-01-20")).await.unwrap();
    let post_days: Vec<String> = rollups
        .iter()
        .filter(|x| matches!(x.subject, MetricSubject::Delivery { .. }))
        .map(|x| x.day.to_string())
        .collect();
    assert_eq!(post_days, vec!["2027-01-04", "2027-01-05", "2027-01-07", "2027-01-11"]);
    let jan4 = rollups.iter().find(|x| x.day == day("2027-01-04") && matches!(x.subject, MetricSubject::Delivery { .. })).unwrap();
    assert_eq!(jan4.taken_at, t + Duration::hours(6), "the day's last read (+6 h) stands, not the +1 h one");
    let follower_days = rollups.iter().filter(|x| matches!(x.subject, MetricSubject::Channel { .. })).count();
    assert_eq!(follower_days, 9, "4 Jan to 12 Jan");

    // And the report sees them.
    let data = reports::build(&*r.store, &r.team, day("2027-01-04"), day("2027-01-10"), t + Duration::days(8)).await.unwrap();
    assert_eq!(data.overall.current.posts_published, 1);
    assert_eq!(data.posts[0].counters, snaps[4].counters, "the +7 d read (11 Jan, inside the measuring week)");
    assert!(data.overall.current.follower_growth.unwrap() > 0);
}

#[tokio::test]
async fn one_channel_failing_does_not_stop_the_others_and_reconnect_is_said_once() {
    let r = Rig::new().await;
    let ok = r.channel("fine", json!({})).await;
    let limited = r.channel("limited", json!({"metrics_fail_with": "rate_limited"})).await;
    let revoked = r.channel("revoked", json!({"metrics_fail_with": "auth"})).await;
    let broken = r.channel("broken", json!({"metrics_fail_with": "failed"})).await;
    let t = r.clock.now();
    let posts = [r.published(&ok, t).await, r.published(&limited, t).await, r.published(&revoked, t).await, r.published(&broken, t).await];

    r.clock.set(t + Duration::minutes(61));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!((s.posts, s.followers), (1, 1), "{s:?}");
    assert_eq!((s.rate_limited, s.needs_reconnect, s.failed), (1, 1, 1), "{s:?}");
    assert_eq!(r.snapshots(&posts[0]).await.len(), 1);
    assert!(r.snapshots(&posts[1]).await.is_empty());

    // Five minutes later: the rate-limited channel waits out its 10 minutes (no call), the revoked
    // one fails again without a second event, the broken one retries its window.
    r.clock.set(t + Duration::minutes(66));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!((s.rate_limited, s.needs_reconnect, s.failed, s.posts), (1, 1, 1, 0), "{s:?}");
    let reconnects: Vec<_> =
        r.events.events().into_iter().filter(|e| e.kind == EventKind::ChannelNeedsReconnect).collect();
    assert_eq!(reconnects.len(), 1);
    assert_eq!(reconnects[0].detail["channel_id"], json!(revoked.id));

    // Once the broken channel works again, the missed +1 h read is made late rather than lost.
    let mut fixed = broken.clone();
    fixed.credentials = Some(r.cipher.seal(fixed.id, &Credentials::from_json("credentials", &json!({})).unwrap()));
    r.store.update_channel(&fixed).await.unwrap();
    r.clock.set(t + Duration::minutes(80));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!(r.snapshots(&posts[3]).await.len(), 1, "{s:?}");
}

// ---------------------------------------------------------------------------------------------
// The API: generate on demand, list, fetch the record and each file.

mod common;

#[tokio::test]
async fn reports_through_the_api() {
    use axum::http::Method;
    let app = common::App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let ch = app.sandbox(&admin, "Café sandbox").await;

    let (status, body) = app.post("/v1/reports", &viewer, json!({"from": "2027-01-04", "to": "2027-01-10"})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app.post("/v1/reports", &admin, json!({"from": "2027-01-10", "to": "2027-01-04"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("to")), "{body}");
    let (status, body) = app.post("/v1/reports", &admin, json!({"from": "4 Jan", "to": "2027-01-10"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("from")), "{body}");

    let (status, made) = app.post("/v1/reports", &admin, json!({"from": "2027-01-04", "to": "2027-01-10"})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["summary"]["overall"]["current"]["posts_published"], 0, "an honest empty report");
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["files"]["html"], format!("/v1/reports/{id}/report.html"));
    let ready: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == herald_core::events::EventKind::ReportReady).collect();
    assert_eq!(ready.len(), 1, "one Report Ready event");
    assert_eq!(ready[0].detail["files"]["html"], made["files"]["html"]);

    let (status, list) = app.get("/v1/reports", &viewer).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (status, one) = app.get(&format!("/v1/reports/{id}"), &viewer).await;
    assert_eq!((status, one["from"].as_str()), (200, Some("2027-01-04")));

    for (file, ct) in [("report.html", "text/html"), ("report.csv", "text/csv"), ("report.json", "application/json")] {
        let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/{file}"), Some(&viewer), None, None).await;
        assert_eq!(raw.status, 200, "{file}");
        assert!(raw.content_type.as_deref().unwrap_or("").starts_with(ct), "{file}: {:?}", raw.content_type);
        assert!(!raw.body.is_empty());
    }
    let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/report.pdf"), Some(&viewer), None, None).await;
    assert_eq!(raw.status, 404);
    // Another team sees none of it.
    let other = app.key("other", Role::Admin).await;
    assert_eq!(app.get(&format!("/v1/reports/{id}"), &other).await.0, 404);
    let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/report.html"), Some(&other), None, None).await;
    assert_eq!(raw.status, 404);

    // Slot suggestions: nothing measured yet, so nothing suggested, and a note says why.
    let (status, s) = app.post(&format!("/v1/channels/{ch}/slots/suggest"), &viewer, json!({})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["suggested"], json!([]));
    assert!(s["note"].as_str().unwrap().contains("not enough data"));
    let (status, _) = app.post(&format!("/v1/channels/{ch}/slots/suggest"), &other, json!({})).await;
    assert_eq!(status, 404);
}

/// The team chooses when its reports are made: `GET`/`PATCH /v1/reports/schedule`, checked
/// field by field, and the generator's round follows the choice in the team's zone.
#[tokio::test]
async fn the_report_schedule_is_the_teams_choice() {
    use axum::http::Method;
    let app = common::App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let editor = app.key("cafe", Role::Editor).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    app.sandbox(&admin, "Café sandbox").await;
    let patch = |key: &str, body: serde_json::Value| {
        let key = key.to_owned();
        let app = &app;
        async move {
            let raw = app.raw(Method::PATCH, "/v1/reports/schedule", Some(&key), Some("application/json"), Some(body.to_string().into_bytes())).await;
            (raw.status, raw.json())
        }
    };

    // The default, with the next runs: it is Monday 4 January 2027, 08:00 in Paris.
    let (status, s) = app.get("/v1/reports/schedule", &viewer).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["time_zone"], "Europe/Paris");
    assert_eq!(s["weekly"], json!({"day": "mon", "hour": 8}));
    assert_eq!(s["monthly"], json!({"day": 1, "hour": 8}));
    assert_eq!(s["upcoming"][0], json!({"schedule": "weekly", "at": "2027-01-11T07:00:00Z", "from": "2027-01-04", "to": "2027-01-10"}));
    assert_eq!(s["upcoming"][1], json!({"schedule": "monthly", "at": "2027-02-01T07:00:00Z", "from": "2027-01-01", "to": "2027-01-31"}));

    assert_eq!(patch(&viewer, json!({"weekly": null})).await.0, 403);
    for (body, field) in [
        (json!({"weekly": {"day": "funday", "hour": 9}}), "weekly.day"),
        (json!({"weekly": {"day": "wed", "hour": 24}}), "weekly.hour"),
        (json!({"weekly": {"day": "wed"}}), "weekly.hour"),
        (json!({"weekly": {"day": "wed", "hour": 9, "minute": 30}}), "weekly.minute"),
        (json!({"weekly": "wednesdays"}), "weekly"),
        (json!({"monthly": {"day": 31, "hour": 8}}), "monthly.day"),
        (json!({"monthly": {"day": "first", "hour": 8}}), "monthly.day"),
        (json!({"monthly": {"day": 1, "hour": -1}}), "monthly.hour"),
    ] {
        let (status, e) = patch(&editor, body.clone()).await;
        assert_eq!((status, e["error"]["field"].as_str()), (422, Some(field)), "{body} → {e}");
    }
    let (status, e) = patch(&editor, json!({"daily": {"hour": 8}})).await;
    assert_eq!(status, 422, "unknown keys are refused: {e}");
    // Nothing above changed anything.
    assert_eq!(app.get("/v1/reports/schedule", &viewer).await.1["weekly"], json!({"day": "mon", "hour": 8}));

    // Wednesdays at 17:00, no monthly report; a key left out stays as it was.
    let (status, s) = patch(&editor, json!({"weekly": {"day": "Wednesday", "hour": 17}, "monthly": null})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["weekly"].clone(), s["monthly"].clone()), (json!({"day": "wed", "hour": 17}), json!(null)));
    assert_eq!(s["upcoming"], json!([{"schedule": "weekly", "at": "2027-01-06T16:00:00Z", "from": "2026-12-30", "to": "2027-01-05"}]));
    let (_, s) = patch(&admin, json!({"monthly": {"day": 3, "hour": 6}})).await;
    assert_eq!((s["weekly"]["day"].as_str(), s["monthly"]["day"].as_u64()), (Some("wed"), Some(3)));

    // The generator's round follows it: nothing on Monday at 08:00 any more, the weekly report
    // on Wednesday from 17:00 (once), the monthly one on the 3rd from 06:00.
    let files = reports::MemoryReportFiles::default();
    let round = |at: &str| {
        let (store, files, events) = (app.store.clone(), &files, app.events.clone());
        let at = utc(at);
        async move { reports::scheduled_round(&*store, files, &*events, at).await.unwrap() }
    };
    assert_eq!(round("2027-01-04T07:00:00Z").await.generated, 0, "Monday 08:00 is no longer the time");
    let monthly = round("2027-01-03T05:00:00Z").await;
    assert_eq!((monthly.generated, monthly.existing), (1, 0), "Sunday 3 January 06:00: December's report");
    assert_eq!(round("2027-01-06T15:59:00Z").await.generated, 0, "Wednesday 16:59");
    assert_eq!(round("2027-01-06T16:00:00Z").await.generated, 1, "Wednesday 17:00");
    let later = round("2027-01-06T19:00:00Z").await;
    assert_eq!((later.generated, later.existing), (0, 1), "once");
    let (_, list) = app.get("/v1/reports", &viewer).await;
    let periods: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), r["to"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(periods.len(), 2, "{list}");
    assert!(periods.contains(&("2026-12-01".into(), "2026-12-31".into())), "{periods:?}");
    assert!(periods.contains(&("2026-12-30".into(), "2027-01-05".into())), "{periods:?}");
    let ready: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == EventKind::ReportReady).collect();
    let schedules: Vec<&str> = ready.iter().filter_map(|e| e.detail["schedule"].as_str()).collect();
    assert_eq!(schedules, ["monthly", "weekly"]);
}

// ---------------------------------------------------------------------------------------------
// In a browser: the rendered page as Chromium lays it out and draws it (tests/common/browser.rs).

/// Where the screenshots are kept for people to look at (printed by the tests).
fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A desktop browser window, the width of an A4 page's printable area (182 mm at 96 dpi), and
/// the narrowest window headless Chromium opens, near a phone's (wide tables scroll inside
/// their own box there; the page itself must not).
const WIDTHS: [u32; 3] = [1280, 688, 500];

fn assert_looks_right(browser: &common::browser::Browser, html: &str, name: &str) {
    for width in WIDTHS {
        let seen = browser.inspect(html, width, &screenshots(), name);
        let labels: Vec<&str> = seen.charts.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Followers per channel", "Engagements per day", "Engagement by weekday and hour", "Sentiment mix"],
            "{name} at {width} px"
        );
        assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
        eprintln!("{name} at {width} px: fine, screenshot {}", seen.screenshot.display());
    }
}

#[tokio::test]
async fn the_hand_checked_report_has_no_empty_chart_and_fits_the_page_in_chromium() {
    let Some(browser) = common::browser::Browser::find() else { return };
    let (_, d) = dataset().await;
    assert_looks_right(&browser, &reports::render_html(&d), "hand-checked");

    // An empty period: no chart is drawn as if it had data, and nothing overflows.
    let f = Fixture::new().await;
    let empty = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-20T00:00:00Z")).await.unwrap();
    for width in WIDTHS {
        let seen = browser.inspect(&reports::render_html(&empty), width, &screenshots(), "empty");
        assert_eq!(seen.scroll_width, seen.client_width, "empty at {width} px: {:?}", seen.overflowing);
        assert!(seen.charts.iter().all(|c| c.marks == 0), "{:?}", seen.charts);
    }
}

/// The check itself can fail: a page with a chart that draws no data, a chart whose data is all
/// grey, and a table wider than the window.
#[test]
fn the_browser_check_sees_an_empty_chart_and_an_overflowing_page() {
    let Some(browser) = common::browser::Browser::find() else { return };
    let html = r##"<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Axes only"><line x1="0" y1="99" x2="300" y2="99" stroke="#9ca3af"/></svg></figure>
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Grey bars"><rect x="10" y="10" width="50" height="90" fill="#d1d5db"><title>bar</title></rect></svg></figure>
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Blue bars"><rect x="10" y="10" width="50" height="90" fill="#2563eb"><title>bar</title></rect></svg></figure>
<table style="width:2000px"><tr><td>a table wider than the window</td></tr></table>
</body></html>"##;
    let seen = browser.inspect(html, 800, &screenshots(), "broken");
    let problems = seen.problems().join("\n");
    assert!(problems.contains("chart 'Axes only' is empty"), "{problems}");
    assert!(problems.contains("chart 'Grey bars' shows no data on screen"), "{problems}");
    assert!(!problems.contains("Blue bars"), "{problems}");
    assert!(problems.contains("the page overflows at 800 px"), "{problems}");
    assert!(seen.overflowing.iter().any(|e| e.starts_with("table")), "{:?}", seen.overflowing);
}

/// `herald demo` makes a report you could send: eight weeks of history behind it, every figure
/// filled in, every chart drawn, nothing overflowing, and listed by the API.
#[tokio::test]
async fn herald_demo_writes_a_report_worth_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, report) = common::serve::Serve::demo(dir.path());
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(report.with_file_name("report.json")).unwrap()).unwrap();
    let overall = &data["overall"]["current"];
    assert!(overall["posts_published"].as_u64().unwrap() >= 60, "{overall}");
    for figure in ["impressions", "engagements", "engagement_rate", "follower_growth"] {
        assert!(overall[figure].as_f64().is_some_and(|v| v > 0.0), "{figure}: {overall}");
    }
    assert!(data["overall"]["previous"]["posts_published"].as_u64().unwrap() >= 60, "a previous period to compare with");
    let inbox = &data["inbox"]["current"];
    assert!(inbox["total"].as_u64().unwrap() >= 100, "{inbox}");
    assert!(inbox["answered"].as_u64().unwrap() > 0 && inbox["median_first_response_seconds"].as_u64().is_some(), "{inbox}");
    for label in ["positive", "neutral", "negative"] {
        assert!(inbox["by_sentiment"][label].as_u64().unwrap_or(0) > 0, "{label}: {inbox}");
    }
    assert_eq!(data["incidents"].as_array().unwrap().len(), 1, "the evening of the cancelled brunches");
    assert!(data["channels"].as_array().unwrap().iter().all(|c| !c["best_time"]["recommended"].as_array().unwrap().is_empty()));

    // The API lists it, with the demo's key.
    let client = common::serve::Client::new(&demo);
    let (status, list) = client.call(reqwest::Method::GET, "/v1/reports", None).await;
    assert_eq!(status, 200, "{list}");
    let id = report.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap();
    assert!(list["items"].as_array().unwrap().iter().any(|r| r["id"] == id), "{list}");

    let Some(browser) = common::browser::Browser::find() else { return };
    assert_looks_right(&browser, &std::fs::read_to_string(&report).unwrap(), "demo");
}
