//! Measures a monthly report for the reference team of issue 5: 10 channels, 3,000 posts
//! published in January 2027, metric snapshots and roll-ups as the polling plan makes them
//! (five reads per post, followers hourly), 50,000 interactions. On SQLite or on DynamoDB (a
//! DynamoDB-compatible endpoint such as moto); seeding and the report both go through
//! `&dyn Store`, so both stores hold the same data and run the same code.
//!
//! ```sh
//! # SQLite, in a folder (the default: /tmp/herald-report-bench)
//! cargo run --release -p herald-core --example report_month -- sqlite /tmp/herald-report-bench
//! cargo run --release -p herald-core --example report_month -- /tmp/herald-report-bench   # same
//! # DynamoDB: endpoint and table (the defaults shown); needs the `aws` feature
//! cargo run --release -p herald-core --features aws --example report_month -- \
//!     dynamo http://127.0.0.1:5188 herald-report-bench
//! ```
//!
//! The first run seeds the store (the SQLite file, or the table, created if missing) and
//! marks it seeded; later runs reuse it. A store that holds the team but not the mark was left
//! half-seeded: the example refuses it (delete the folder, or use another table name). On
//! DynamoDB the writes go 16 at a time, with progress printed.
//!
//! Every run then builds and renders the report of 1–31 January and prints the time, the items
//! read and the process's peak resident memory (VmHWM). Run it twice and take the second run's
//! memory: the first includes seeding. On DynamoDB it also prints the requests the report made
//! (counted by an SDK interceptor on the client, by operation) and an estimate of the read
//! capacity they consume, computed from the items DynamoDB returned (see [`meter`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use herald_core::domain::*;
use herald_core::services::reports;
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::*;
use tokio::task::JoinSet;

const CHANNELS: usize = 10;
const POSTS: usize = 3_000;
const INTERACTIONS: usize = 50_000;
/// Written last by the seed: a store holding the team without it was not seeded to the end.
const SEEDED: &str = "bench:report_month:seeded";
/// Concurrent writes while seeding DynamoDB (SQLite is seeded one write at a time).
const DYNAMO_WRITES_IN_FLIGHT: usize = 16;
const DEFAULT_DIR: &str = "/tmp/herald-report-bench";
const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:5188";
const DEFAULT_TABLE: &str = "herald-report-bench";

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// Runs the seed's writes, at most `limit` at a time, and prints progress.
struct Writer {
    store: Arc<dyn Store>,
    running: JoinSet<StoreResult<()>>,
    limit: usize,
    done: usize,
    started: Instant,
}

impl Writer {
    fn new(store: Arc<dyn Store>, limit: usize) -> Self {
        Self { store, running: JoinSet::new(), limit: limit.max(1), done: 0, started: Instant::now() }
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn write(&mut self, write: impl Future<Output = StoreResult<()>> + Send + 'static) {
        if self.limit == 1 {
            write.await.expect("seed write");
            self.count();
            return;
        }
        while self.running.len() >= self.limit {
            self.join_one().await;
        }
        self.running.spawn(write);
    }

    async fn join_one(&mut self) {
        if let Some(done) = self.running.join_next().await {
            done.expect("seed task").expect("seed write");
            self.count();
        }
    }

    fn count(&mut self) {
        self.done += 1;
        if self.done.is_multiple_of(10_000) {
            let secs = self.started.elapsed().as_secs_f64();
            println!("  seeded {} writes in {secs:.0} s ({:.0}/s)", self.done, self.done as f64 / secs);
        }
    }

    async fn finish(&mut self) -> usize {
        while !self.running.is_empty() {
            self.join_one().await;
        }
        self.done
    }
}

/// Seeds the reference team's month. Posts (a TransactWriteItems each on DynamoDB) go first,
/// while the table is small: moto copies the whole table for every transaction.
async fn seed(store: Arc<dyn Store>, team: &Team, limit: usize) -> (usize, usize) {
    let zone = team.time_zone;
    store.create_team(team).await.unwrap();
    let mut w = Writer::new(store, limit);
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
        let s = w.store();
        let channel = c.clone();
        w.write(async move { s.create_channel(&channel).await }).await;
        channels.push(c);
    }
    w.finish().await;
    let month_start = t("2026-12-31T23:00:00Z");
    // Posts spread over the month at 14-minute steps, published on time.
    let mut published = Vec::with_capacity(POSTS);
    for n in 0..POSTS {
        let c = &channels[n % CHANNELS];
        let at = month_start + Duration::minutes((n as i64) * 14 + 480);
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
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
        published.push((n, c.platform, MetricSubject::Delivery { channel_id: c.id, delivery_id: d.id }, at));
        let s = w.store();
        w.write(async move { s.create_post(&post, std::slice::from_ref(&d)).await }).await;
    }
    let mut snapshots = 0;
    // Five reads per post, each a snapshot and the roll-up of its day.
    for (n, platform, subject, at) in published {
        for (k, hours) in [1i64, 6, 24, 72, 168].into_iter().enumerate() {
            let taken = at + Duration::hours(hours);
            let likes = (n as u64 % 40) * (k as u64 + 1);
            let counters = MetricCounters {
                likes: Some(likes),
                reposts: Some(likes / 5),
                replies: Some(likes / 8),
                quotes: (platform != Platform::Mastodon).then_some(likes / 20),
                impressions: (platform == Platform::Sandbox).then_some(likes * 30),
                ..Default::default()
            };
            metric(&mut w, team, subject, taken, counters).await;
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
            metric(&mut w, team, subject, at, counters).await;
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
        let s = w.store();
        w.write(async move { s.create_interaction(&i).await }).await;
    }
    let writes = w.finish().await;
    (snapshots, writes)
}

/// One metric read: its snapshot and the roll-up of its day (the roll-up keeps the day's
/// latest snapshot whatever order the writes land in).
async fn metric(w: &mut Writer, team: &Team, subject: MetricSubject, taken: DateTime<Utc>, counters: MetricCounters) {
    let snapshot = MetricSnapshot {
        team_id: team.id.clone(),
        subject,
        taken_at: taken,
        counters: counters.clone(),
        expires_at: Some(taken + Duration::days(90)),
    };
    let s = w.store();
    w.write(async move { s.put_snapshot(&snapshot).await }).await;
    let day = taken.with_timezone(&team.time_zone).date_naive();
    let rollup = MetricRollup { team_id: team.id.clone(), subject, day, taken_at: taken, counters };
    let s = w.store();
    w.write(async move { s.put_rollup(&rollup).await }).await;
}

/// Counts the DynamoDB client's requests and estimates the read capacity of its reads.
///
/// An SDK interceptor on the client the store is given: it counts every request sent, by
/// operation (the `X-Amz-Target` header), and for each GetItem and Query response sizes the
/// items returned with DynamoDB's documented rules (attribute names plus values: strings by
/// UTF-8 length, numbers one byte per two significant digits plus one, booleans and nulls one
/// byte, lists and maps three bytes plus their elements plus one byte each). DynamoDB charges a
/// GetItem its item's size and a Query the sum of the items it reads (the store uses no filter,
/// so read = returned), each rounded up to 4 KB, at least one unit: a unit is 1 RCU strongly
/// consistent (GetItem and table Queries, as the store asks) and 0.5 RCU eventually consistent
/// (GSI Queries). On-demand read request units are counted the same way.
///
/// Which read was consistent is taken from the request body and matched to the next response:
/// exact while reads run one at a time, as the report's do (`max_reads_in_flight` says).
#[cfg(feature = "aws")]
mod meter {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::config::interceptors::{
        AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    };
    use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
    use aws_sdk_dynamodb::error::BoxError;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::AttributeValue;

    #[derive(Debug, Default, Clone)]
    pub struct Tally {
        /// Requests sent (retries included), by operation.
        pub requests: BTreeMap<String, u64>,
        /// Items returned by GetItem and Query.
        pub items: u64,
        /// Their size by DynamoDB's rules.
        pub bytes: u64,
        /// Read capacity, in half units (0.5 RCU each).
        pub half_rcu: u64,
        /// Of which eventually consistent (GSI Queries).
        pub half_rcu_eventual: u64,
        pub max_reads_in_flight: usize,
        reads_in_flight: usize,
        consistent: Option<bool>,
    }

    impl Tally {
        pub fn total_requests(&self) -> u64 {
            self.requests.values().sum()
        }
    }

    #[derive(Debug, Default, Clone)]
    pub struct Meter(Arc<Mutex<Tally>>);

    impl Meter {
        /// What was counted since the last call.
        pub fn take(&self) -> Tally {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    fn is_read(op: &str) -> bool {
        op == "GetItem" || op == "Query"
    }

    impl Intercept for Meter {
        fn name(&self) -> &'static str {
            "report_month request meter"
        }

        fn read_before_transmit(
            &self,
            context: &BeforeTransmitInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let request = context.request();
            let op = request.headers().get("x-amz-target").and_then(|t| t.rsplit('.').next()).unwrap_or("?").to_owned();
            let mut tally = self.0.lock().unwrap();
            if is_read(&op) {
                let body: serde_json::Value =
                    request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
                tally.consistent = Some(body.get("ConsistentRead").and_then(|c| c.as_bool()).unwrap_or(false));
                tally.reads_in_flight += 1;
                tally.max_reads_in_flight = tally.max_reads_in_flight.max(tally.reads_in_flight);
            }
            *tally.requests.entry(op).or_default() += 1;
            Ok(())
        }

        fn read_after_deserialization(
            &self,
            context: &AfterDeserializationInterceptorContextRef<'_>,
            _: &RuntimeComponents,
            _: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let Ok(output) = context.output_or_error() else {
                return Ok(());
            };
            let sizes: Vec<u64> = if let Some(q) = output.downcast_ref::<QueryOutput>() {
                q.items().iter().map(item_size).collect()
            } else if let Some(g) = output.downcast_ref::<GetItemOutput>() {
                g.item().map(item_size).into_iter().collect()
            } else {
                return Ok(());
            };
            let mut tally = self.0.lock().unwrap();
            tally.reads_in_flight = tally.reads_in_flight.saturating_sub(1);
            let consistent = tally.consistent.take().unwrap_or(false);
            let bytes: u64 = sizes.iter().sum();
            // A GetItem is one item; a Query sums its items before rounding. At least one unit.
            let units = bytes.div_ceil(4096).max(1);
            let half = if consistent { units * 2 } else { units };
            tally.items += sizes.len() as u64;
            tally.bytes += bytes;
            tally.half_rcu += half;
            if !consistent {
                tally.half_rcu_eventual += half;
            }
            Ok(())
        }
    }

    /// An item's size as DynamoDB counts it.
    pub fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> u64 {
        item.iter().map(|(name, value)| name.len() as u64 + value_size(value)).sum()
    }

    fn value_size(value: &AttributeValue) -> u64 {
        match value {
            AttributeValue::S(s) => s.len() as u64,
            AttributeValue::N(n) => number_size(n),
            AttributeValue::B(b) => b.as_ref().len() as u64,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<u64>(),
            AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() as u64 + value_size(v) + 1).sum::<u64>(),
            AttributeValue::Ss(s) => s.iter().map(|s| s.len() as u64).sum(),
            AttributeValue::Ns(n) => n.iter().map(|n| number_size(n)).sum(),
            AttributeValue::Bs(b) => b.iter().map(|b| b.as_ref().len() as u64).sum(),
            _ => 0,
        }
    }

    /// One byte per two significant digits (leading and trailing zeros dropped), plus one.
    fn number_size(n: &str) -> u64 {
        let digits: String = n.chars().take_while(|c| *c != 'e' && *c != 'E').filter(|c| c.is_ascii_digit()).collect();
        let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1) as u64;
        significant.div_ceil(2) + 1
    }
}

enum Backend {
    Sqlite { dir: String },
    Dynamo { endpoint: String, table: String },
}

fn backend_from_args() -> Backend {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_owned());
    match args.first().map(String::as_str) {
        None => Backend::Sqlite { dir: DEFAULT_DIR.to_owned() },
        Some("sqlite") => Backend::Sqlite { dir: arg(1, DEFAULT_DIR) },
        Some("dynamo") => Backend::Dynamo { endpoint: arg(1, DEFAULT_ENDPOINT), table: arg(2, DEFAULT_TABLE) },
        Some("-h" | "--help") => {
            println!("usage: report_month [sqlite] [DIR] | report_month dynamo [ENDPOINT [TABLE]]");
            std::process::exit(0);
        }
        // The original form: a folder for the SQLite file.
        Some(dir) => Backend::Sqlite { dir: dir.to_owned() },
    }
}

#[cfg(feature = "aws")]
async fn open_dynamo(endpoint: &str, table: &str) -> (Arc<dyn Store>, Option<meter::Meter>) {
    use herald_core::store::dynamo::{DynamoStore, client_for_endpoint};
    let meter = meter::Meter::default();
    let base = client_for_endpoint(endpoint).await;
    let client = aws_sdk_dynamodb::Client::from_conf(base.config().to_builder().interceptor(meter.clone()).build());
    match DynamoStore::create_table(&client, table).await {
        Ok(()) => println!("created table {table} at {endpoint}"),
        Err(StoreError::AlreadyExists) => println!("reusing table {table} at {endpoint}"),
        Err(e) => panic!("cannot create table {table} at {endpoint}: {e}"),
    }
    (Arc::new(DynamoStore::new(client, table)), Some(meter))
}

#[cfg(not(feature = "aws"))]
async fn open_dynamo(_: &str, _: &str) -> (Arc<dyn Store>, Option<()>) {
    eprintln!("the DynamoDB store needs the `aws` feature: cargo run --release -p herald-core --features aws --example report_month -- dynamo …");
    std::process::exit(2);
}

#[tokio::main]
async fn main() {
    let (store, meter, limit): (Arc<dyn Store>, _, usize) = match backend_from_args() {
        Backend::Sqlite { dir } => {
            std::fs::create_dir_all(&dir).unwrap();
            let db = std::path::Path::new(&dir).join("herald.db");
            println!("SQLite store {}", db.display());
            (Arc::new(SqliteStore::open(&db).unwrap()), None, 1)
        }
        Backend::Dynamo { endpoint, table } => {
            let (store, meter) = open_dynamo(&endpoint, &table).await;
            (store, meter, DYNAMO_WRITES_IN_FLIGHT)
        }
    };
    let team = Team { language: Default::default(), logo: None, brand: Default::default(), version: 0,
        id: TeamId::parse("team", "reference").unwrap(),
        name: "Reference team".into(),
        time_zone: chrono_tz::Europe::Paris,
        created_at: Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap(),
        calendar_token_hash: None,
        watch_terms: vec![],
        report_schedule: Default::default(),
    };
    let seeded = store.get_state(SEEDED).await.unwrap();
    match (store.get_team(&team.id).await.unwrap(), seeded) {
        (None, _) => {
            let started = Instant::now();
            let (snapshots, writes) = seed(store.clone(), &team, limit).await;
            let note = format!("{POSTS} posts, {snapshots} snapshots, {INTERACTIONS} interactions ({writes} writes)");
            store.put_state(SEEDED, &note, None).await.unwrap();
            println!("seeded {note} in {:.1?}", started.elapsed());
        }
        (Some(_), Some(note)) => println!("already seeded: {}", note.value),
        (Some(_), None) => {
            eprintln!(
                "the store holds the reference team but no seed mark: an earlier seed stopped half-way (or an older \
                 version of this example made it). Delete the SQLite folder or use another table name, then run again."
            );
            std::process::exit(1);
        }
    }
    #[cfg(feature = "aws")]
    if let Some(m) = &meter {
        let seed = m.take();
        println!("requests so far (seed or checks): {} {:?}", seed.total_requests(), seed.requests);
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
    #[cfg(feature = "aws")]
    if let Some(m) = &meter {
        let r = m.take();
        println!(
            "DynamoDB requests for the report: {} {:?}; items returned {} ({:.1} MB, {:.0} B each on average); \
             read capacity ≈ {:.1} RCU ({:.1} of it eventually consistent); max reads in flight {}",
            r.total_requests(),
            r.requests,
            r.items,
            r.bytes as f64 / 1e6,
            r.bytes as f64 / r.items.max(1) as f64,
            r.half_rcu as f64 / 2.0,
            r.half_rcu_eventual as f64 / 2.0,
            r.max_reads_in_flight
        );
    }
    #[cfg(not(feature = "aws"))]
    let _ = meter;
    println!("peak RSS (VmHWM): {} KiB before the report, {} KiB after", before.unwrap_or(0), peak_rss_kib().unwrap_or(0));
}
