//! The claim → publish path on SQLite, with the sandbox network: how many deliveries a second
//! one publisher gets out when everything is already due.
//!
//! ```text
//! cargo bench -p herald-core --bench publish_path              # everything (≈ 2–3 min on 2 cores)
//! cargo bench -p herald-core --bench publish_path -- run_once  # only the criterion part
//! HERALD_BENCH_DELIVERIES=5000 cargo bench -p herald-core --bench publish_path
//! HERALD_BENCH_BATCH=50 cargo bench -p herald-core --bench publish_path   # smaller runs than serve's 500
//! HERALD_BENCH_CONCURRENCY=500 cargo bench -p herald-core --bench publish_path   # more slots than the default 16
//! ```
//!
//! Two parts:
//!
//! 1. **`publish_path/run_once/{sqlite_file,sqlite_memory}`** (criterion). Each iteration gets a
//!    fresh store — a `herald.db` file in a temp dir opened like `herald serve` opens it (WAL,
//!    `synchronous=NORMAL`), or `:memory:` — one sandbox channel writing to a fresh temp outbox,
//!    and N deliveries (default 1,000) already due. Only the loop of `Publisher::run_once()`
//!    calls until all N are published is timed (setup is not); criterion's throughput line is
//!    deliveries/second. The publisher uses serve's settings (2 s lookahead, batch 500, 16
//!    publishing slots), so 1,000 deliveries take two runs plus nothing else.
//! 2. **`split`** (printed table, after criterion). The same steps `run_once` takes for one
//!    delivery, done one delivery at a time on a file-backed store and timed step by step:
//!    due query (per delivery, amortised over its batch), claim write, load (post, channel,
//!    credentials), sandbox publish (one line appended to its journal), record write (+ event).
//!    It is a sequential re-enactment through the same public APIs, not instrumentation inside
//!    the publisher, so its total is not the reciprocal of part 1: `run_once` overlaps the
//!    publish tasks of a batch, but every SQLite call goes through one connection mutex.
//!
//! Criterion instead of a plain main: `iter_custom` lets each iteration build its store and
//! schedule its deliveries untimed, on the same tokio runtime, and report only the publishing
//! time; `Throughput::Elements` turns that into deliveries/second directly. The split is a
//! plain table because it is one pass over five steps, not five benchmarks. Under `cargo test
//! --benches` (no `--bench` flag) criterion runs each benchmark once and the split runs on 20
//! deliveries, as a smoke test.
//!
//! Every iteration checks what it did: all N deliveries published, and the sandbox's
//! journal holding exactly N posts (no duplicate).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use herald_core::clock::{Clock, SystemClock};
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::*;
use herald_core::events::{Event, EventKind, EventSink, MemorySink};
use herald_core::platforms::sandbox::{self, SandboxAdapter};
use herald_core::ports::Ports;
use herald_core::platforms::{Adapters, PlatformAdapter, PublishRequest};
use herald_core::services::publisher::{Publisher, PublisherConfig};
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::{ChannelStore, PostStore, Store};

/// Deliveries per iteration (`HERALD_BENCH_DELIVERIES`, default 1,000).
fn deliveries() -> usize {
    std::env::var("HERALD_BENCH_DELIVERIES").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(1_000)
}

/// Checks made (see `check_once`).
static CHECKS: AtomicUsize = AtomicUsize::new(0);

/// `herald serve`'s publisher settings (cli/src/main.rs): 3 s lookahead, 20 pages, default lease, batch
/// and concurrency. `HERALD_BENCH_BATCH` overrides the batch (deliveries one run takes on) and
/// `HERALD_BENCH_CONCURRENCY` the publishing slots (deliveries publishing at once), to see
/// their effect.
fn serve_config() -> PublisherConfig {
    let default = PublisherConfig::default();
    let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0);
    let batch = from_env("HERALD_BENCH_BATCH").and_then(|b| u32::try_from(b).ok());
    PublisherConfig {
        lookahead: Duration::seconds(3),
        batch: batch.unwrap_or(default.batch),
        pages: 20,
        concurrency: from_env("HERALD_BENCH_CONCURRENCY").unwrap_or(default.concurrency),
        ..default
    }
}

#[derive(Clone, Copy, Debug)]
enum Backing {
    File,
    Memory,
}

impl Backing {
    fn name(self) -> &'static str {
        match self {
            Backing::File => "sqlite_file",
            Backing::Memory => "sqlite_memory",
        }
    }
}

/// One iteration's world: a store holding a sandbox channel and `n` due deliveries, and a
/// publisher on it whose outbox is in the same temp dir.
struct World {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    publisher: Publisher,
    sandbox: Arc<SandboxAdapter>,
    events: Arc<MemorySink>,
    cipher: CredentialCipher,
    team: TeamId,
    n: usize,
}

impl World {
    async fn new(backing: Backing, n: usize) -> World {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = Arc::new(match backing {
            Backing::File => SqliteStore::open(dir.path().join("herald.db")).expect("sqlite file"),
            Backing::Memory => SqliteStore::in_memory().expect("sqlite memory"),
        });
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("a key");
        let team = TeamId::parse("team", "bench").expect("team id");
        let now = clock.now();

        // Like a channel made through the API: credentials sealed, even when empty.
        let id = ChannelId::new();
        let credentials = Credentials::from_json("credentials", &serde_json::json!({})).expect("credentials");
        let channel = Channel {
            id,
            team_id: team.clone(),
            platform: Platform::Sandbox,
            name: ChannelName::parse("name", "bench").expect("name"),
            time_zone: chrono_tz::UTC,
            credentials: Some(cipher.seal(id, &credentials)),
            queue_slots: vec![],
            created_at: now,
            updated_at: now,
        };
        store.create_channel(&channel).await.expect("channel");

        // Already due: a second ago, so no publish task waits for its second.
        let due = now - Duration::seconds(1);
        for i in 0..n {
            let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
                id: PostId::new(),
                team_id: team.clone(),
                text: PostText::parse("text", &format!("Benchmark post #{i}: fresh croissants at 9")).expect("text"),
                variants: Default::default(),
                media: vec![],
                created_by: None,
                series_id: None,
                created_at: now,
                updated_at: now,
            };
            let d = Delivery::new(&post, channel.id, Platform::Sandbox, DeliveryState::Scheduled, due, now);
            store.create_post(&post, &[d]).await.expect("post");
        }

        let sandbox = Arc::new(SandboxAdapter::new(dir.path().join("outbox"), clock.clone()));
        let events = Arc::new(MemorySink::default());
        let ports = Ports::new(store.clone(), clock, cipher.clone())
            .with_events(events.clone())
            .with_adapters(Adapters::default().with(Platform::Sandbox, sandbox.clone()));
        let publisher = Publisher::new(ports, serve_config());
        World { dir, store, publisher, sandbox, events, cipher, team, n }
    }

    /// Calls `run_once` until all `n` are published (bounded), returns how long that took.
    async fn publish_all(&self) -> StdDuration {
        let max_runs = self.n / self.publisher.config.batch as usize + 3;
        let started = Instant::now();
        let mut published = 0;
        for _ in 0..max_runs {
            let summary = self.publisher.run_once().await.expect("run_once");
            assert_eq!(summary.failed + summary.retrying, 0, "sandbox publishing failed: {summary:?}");
            published += summary.published;
            if published >= self.n || summary.due == 0 {
                break;
            }
        }
        let took = started.elapsed();
        assert_eq!(published, self.n, "not everything was published in {max_runs} runs");
        took
    }

    /// No delivery published twice: one journal line each, one event each (the sandbox has
    /// written its line when `publish` returns).
    async fn check_once(&self) {
        let journal = sandbox::read_journal(&self.dir.path().join("outbox")).expect("the sandbox's journal");
        let mut posts: Vec<&str> = journal.iter().map(sandbox::Publication::key).collect();
        posts.sort_unstable();
        posts.dedup();
        assert_eq!((journal.len(), posts.len()), (self.n, self.n), "journal lines and deliveries in them, for {} deliveries", self.n);
        assert_eq!(self.events.events().len(), self.n, "one Post Published event each");
        CHECKS.fetch_add(1, Ordering::Relaxed);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    // `herald serve` runs on #[tokio::main]: a worker per core (2 here).
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

fn run_once_benches(c: &mut Criterion, rt: &tokio::runtime::Runtime, n: usize) {
    let mut group = c.benchmark_group("publish_path/run_once");
    group.throughput(Throughput::Elements(n as u64));
    // An iteration is hundreds of milliseconds: few of them, all the same size.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.warm_up_time(StdDuration::from_secs(1));
    group.measurement_time(StdDuration::from_secs(6));
    for backing in [Backing::File, Backing::Memory] {
        group.bench_function(BenchmarkId::from_parameter(backing.name()), |b| {
            b.to_async(rt).iter_custom(|iters| async move {
                let mut total = StdDuration::ZERO;
                for _ in 0..iters {
                    let world = World::new(backing, n).await;
                    total += world.publish_all().await;
                    world.check_once().await;
                }
                total
            });
        });
    }
    group.finish();
}

/// Per-delivery time of each step, summed over one sequential pass.
#[derive(Default, Clone, Copy)]
struct Split {
    query: StdDuration,
    claim: StdDuration,
    load: StdDuration,
    publish: StdDuration,
    record: StdDuration,
}

impl Split {
    fn total(&self) -> StdDuration {
        self.query + self.claim + self.load + self.publish + self.record
    }
}

/// One delivery at a time, the steps of `Publisher::run_once` + `settle` + `attempt` +
/// `record_published`, each timed.
async fn split_pass(world: &World) -> Split {
    let config = &world.publisher.config;
    let clock = SystemClock;
    let store: &dyn Store = &*world.store;
    let mut split = Split::default();
    let mut done = 0;
    for _ in 0..world.n / config.batch as usize + 3 {
        let now = clock.now();
        let t = Instant::now();
        let due = store.due_deliveries(now + config.lookahead, config.batch).await.expect("due");
        split.query += t.elapsed();
        if due.is_empty() {
            break;
        }
        for seen in due {
            // Claim: the version-checked write that takes the delivery.
            let t = Instant::now();
            let claim = seen.claimed(now, config.lookahead, config.lease).expect("claimable");
            let mut d = store.update_delivery(&claim).await.expect("claim write");
            split.claim += t.elapsed();

            // Load what publishing needs: the post, the channel, its credentials.
            let t = Instant::now();
            let post = store.get_post(&d.team_id, d.post_id).await.expect("post").expect("post exists");
            let channel = store.get_channel(&d.team_id, d.channel_id).await.expect("channel").expect("channel exists");
            let credentials = world.cipher.open(channel.id, channel.credentials.as_ref().expect("sealed")).expect("open");
            split.load += t.elapsed();

            // Publish through the sandbox adapter (a journal line).
            let t = Instant::now();
            let text = post.text_for(channel.platform);
            let request = PublishRequest {
                delivery: &d,
                channel: &channel,
                credentials: &credentials,
                text: text.as_str(),
                media: &post.media,
                media_files: &herald_core::media::NoMediaFiles,
                first_comment: None,
                reply_control: None,
            };
            let published = world.sandbox.publish(&request).await.expect("sandbox publish");
            split.publish += t.elapsed();

            // Record: the published state (a second version-checked write) and the event.
            let t = Instant::now();
            let now = clock.now();
            d.transition(DeliveryState::Published, now).expect("publishing → published");
            d.published_at = Some(published.published_at.unwrap_or(now));
            d.platform_post_id = Some(published.platform_post_id);
            d.url = published.url;
            let d = store.update_delivery(&d).await.expect("record write");
            let event = Event::new(
                EventKind::PostPublished,
                &world.team,
                now,
                serde_json::json!({"delivery_id": d.id, "post_id": d.post_id, "published_at": d.published_at}),
            );
            world.events.emit(&event).await.expect("event");
            split.record += t.elapsed();
            done += 1;
        }
    }
    assert_eq!(done, world.n, "the split pass published everything");
    world.check_once().await;
    let per = |total: StdDuration| total / world.n as u32;
    Split {
        query: per(split.query),
        claim: per(split.claim),
        load: per(split.load),
        publish: per(split.publish),
        record: per(split.record),
    }
}

fn split_report(rt: &tokio::runtime::Runtime, n: usize, rounds: usize) {
    let mut splits: Vec<Split> = rt.block_on(async {
        let mut out = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let world = World::new(Backing::File, n).await;
            out.push(split_pass(&world).await);
        }
        out
    });
    // The round with the median total, shown whole so that its steps add up.
    splits.sort_by_key(Split::total);
    let (fastest, slowest, mid) = (splits[0].total(), splits[splits.len() - 1].total(), splits[splits.len() / 2]);
    let us = |d: StdDuration| d.as_secs_f64() * 1e6;
    let total = mid.total();
    println!();
    println!("publish_path/split: one delivery at a time, sqlite_file, {n} deliveries; the median of {rounds} rounds");
    println!("  {:<44} {:>10} {:>7}", "step", "µs/deliv.", "share");
    let rows = [
        ("due query (amortised over its batch)", mid.query),
        ("claim write (scheduled → publishing)", mid.claim),
        ("load post + channel + open credentials", mid.load),
        ("sandbox publish (journal line)", mid.publish),
        ("record write (→ published) + event", mid.record),
    ];
    for (name, v) in rows {
        println!("  {:<44} {:>10.1} {:>6.0}%", name, us(v), 100.0 * v.as_secs_f64() / total.as_secs_f64());
    }
    println!("  {:<44} {:>10.1}   (≈ {:.0} deliveries/s sequentially)", "total", us(total), 1.0 / total.as_secs_f64());
    println!("  {:<44} {:>10}", "total, fastest – slowest round", format!("{:.0}–{:.0}", us(fastest), us(slowest)));
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: then only a smoke run.
    let benching = std::env::args().any(|a| a == "--bench");
    let n = deliveries();
    let rt = runtime();
    let mut criterion = Criterion::default().configure_from_args();
    run_once_benches(&mut criterion, &rt, if benching { n } else { 20 });
    criterion.final_summary();
    // The split runs unless a filter was given that does not name it.
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if filters.is_empty() || filters.iter().any(|f| "publish_path/split".contains(f.as_str())) {
        if benching { split_report(&rt, n, 5) } else { split_report(&rt, 20, 1) }
    }
    println!();
    println!("checked {} iterations: every delivery published once", CHECKS.load(Ordering::Relaxed));
}
