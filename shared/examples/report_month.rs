//! Measures a monthly report on SQLite for the reference team of issue 5: 10 channels, 3,000
//! posts published in January 2027, metric snapshots and roll-ups as the polling plan makes them
//! (five reads per post, followers hourly), 50,000 interactions.
//!
//! ```sh
//! cargo run --release -p herald-core --example report_month -- /tmp/herald-report-bench
//! ```
//!
//! The first run seeds the database in that folder (kept for the next runs); every run then
//! builds and renders the report of 1–31 January and prints the time, the items read and the
//! process's peak resident memory (VmHWM). Run it twice and take the second run's memory: the
//! first includes seeding.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use herald_core::domain::*;
use herald_core::services::reports;
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::*;

const CHANNELS: usize = 10;
const POSTS: usize = 3_000;
const INTERACTIONS: usize = 50_000;

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn seed(store: &SqliteStore, team: &Team) -> usize {
    let zone = team.time_zone;
    let mut channels = Vec::new();
    for i in 0..CHANNELS {
        let platform = [Platform::Sandbox, Platform::Mastodon, Platform::Bluesky][i % 3];
        let c = Channel {
            id: ChannelId::new(),
            team_id: team.id.clone(),
            platform,
            name: ChannelName::parse("name", &format!("channel {i}")).unwrap(),
            time_zone: zone,
            credentials: None,
            queue_slots: vec![],
            created_at: t("2026-06-01T00:00:00Z"),
            updated_at: t("2026-06-01T00:00:00Z"),
        };
        store.create_channel(&c).await.unwrap();
        channels.push(c);
    }
    let month_start = t("2026-12-31T23:00:00Z");
    let mut snapshots = 0;
    // Posts spread over the month at 15-minute steps, published on time.
    for n in 0..POSTS {
        let c = &channels[n % CHANNELS];
        let at = month_start + Duration::minutes((n as i64) * 14 + 480);
        let post = Post {
            id: PostId::new(),
            team_id: team.id.clone(),
            text: PostText::parse("text", &format!("Post number {n}: today's special, come and see #café")).unwrap(),
            variants: Default::default(),
            media: vec![],
            created_by: None,
            created_at: at - Duration::days(2),
            updated_at: at - Duration::days(2),
            series_id: None,
        };
        let mut d = Delivery::new(&post, c.id, c.platform, DeliveryState::Published, at, at - Duration::days(2));
        d.published_at = Some(at);
        d.platform_post_id = Some(format!("p-{n}"));
        store.create_post(&post, std::slice::from_ref(&d)).await.unwrap();
        let subject = MetricSubject::Delivery { channel_id: c.id, delivery_id: d.id };
        for (k, hours) in [1i64, 6, 24, 72, 168].into_iter().enumerate() {
            let taken = at + Duration::hours(hours);
            let likes = (n as u64 % 40) * (k as u64 + 1);
            let counters = MetricCounters {
                likes: Some(likes),
                reposts: Some(likes / 5),
                replies: Some(likes / 8),
                quotes: (c.platform != Platform::Mastodon).then_some(likes / 20),
                impressions: (c.platform == Platform::Sandbox).then_some(likes * 30),
                ..Default::default()
            };
            store
                .put_snapshot(&MetricSnapshot {
                    team_id: team.id.clone(),
                    subject,
                    taken_at: taken,
                    counters: counters.clone(),
                    expires_at: Some(taken + Duration::days(90)),
                })
                .await
                .unwrap();
            let day = taken.with_timezone(&zone).date_naive();
            store.put_rollup(&MetricRollup { team_id: team.id.clone(), subject, day, taken_at: taken, counters }).await.unwrap();
            snapshots += 1;
        }
    }
    // Followers hourly from mid-December to mid-February (snapshots), one roll-up a day.
    for c in &channels {
        let subject = MetricSubject::Channel { channel_id: c.id };
        let mut at = t("2026-12-15T00:00:00Z");
        let mut followers = 1_000u64;
        while at < t("2027-02-10T00:00:00Z") {
            followers += 1;
            let counters = MetricCounters { followers: Some(followers), ..Default::default() };
            store
                .put_snapshot(&MetricSnapshot {
                    team_id: team.id.clone(),
                    subject,
                    taken_at: at,
                    counters: counters.clone(),
                    expires_at: Some(at + Duration::days(90)),
                })
                .await
                .unwrap();
            let day = at.with_timezone(&zone).date_naive();
            store.put_rollup(&MetricRollup { team_id: team.id.clone(), subject, day, taken_at: at, counters }).await.unwrap();
            snapshots += 1;
            at += Duration::hours(1);
        }
    }
    // Interactions: 50,000 over December and January (two thirds in January).
    let kinds = InteractionKind::ALL;
    let labels = SentimentLabel::ALL;
    for n in 0..INTERACTIONS {
        let c = &channels[n % CHANNELS];
        let created = t("2026-12-01T00:00:00Z") + Duration::seconds((n as i64) * 80);
        let answered = n % 3 == 0;
        let i = Interaction {
            id: InteractionId::new(),
            team_id: team.id.clone(),
            channel_id: c.id,
            platform: c.platform,
            kind: kinds[n % 4],
            external_id: format!("e-{n}"),
            thread_id: format!("t-{}", n / 5),
            parent_id: None,
            author_id: format!("a-{}", n % 997),
            author_name: "Someone".into(),
            text: "Lovely coffee, but the queue was long".into(),
            created_at: created,
            received_at: created,
            post_url: None,
            status: if answered { InteractionStatus::Answered } else { InteractionStatus::ALL[n % 4] },
            assignee: None,
            reply_ref: None,
            sentiment: Some(Sentiment { score: 0.1, label: labels[n % 3], language: "en".into() }),
            tags: vec![],
            notes: vec![],
            first_response_at: answered.then(|| created + Duration::minutes((n % 240) as i64)),
            raw_event_id: None,
        };
        store.create_interaction(&i).await.unwrap();
    }
    snapshots
}

#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/herald-report-bench".into());
    std::fs::create_dir_all(&dir).unwrap();
    let db = std::path::Path::new(&dir).join("herald.db");
    let fresh = !db.exists();
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let team = Team {
        id: TeamId::parse("team", "reference").unwrap(),
        name: "Reference team".into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
        calendar_token_hash: None,
        watch_terms: vec![],
    };
    if fresh {
        let started = Instant::now();
        store.create_team(&team).await.unwrap();
        let snapshots = seed(&store, &team).await;
        println!("seeded {POSTS} posts, {snapshots} snapshots, {INTERACTIONS} interactions in {:.1?}", started.elapsed());
    }
    let before = peak_rss_kib();
    let from = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    let to = NaiveDate::from_ymd_opt(2027, 1, 31).unwrap();
    let now = t("2027-02-09T06:00:00Z");
    let started = Instant::now();
    let data = reports::build(&*store, &team, from, to, now).await.unwrap();
    let built = started.elapsed();
    let files = reports::render_all(&data);
    let total = started.elapsed();
    let sizes: Vec<String> = files.iter().map(|(f, b)| format!("{} {} KiB", f.file_name(), b.len() / 1024)).collect();
    println!(
        "report 2027-01-01..31: built in {built:.1?}, rendered too in {total:.1?}; {} posts, {} interactions; items read {:?} (total {}); {}",
        data.posts.len(),
        data.inbox.current.total,
        data.items_read,
        data.items_read.total(),
        sizes.join(", ")
    );
    println!("peak RSS (VmHWM): {} KiB before the report, {} KiB after", before.unwrap_or(0), peak_rss_kib().unwrap_or(0));
}
