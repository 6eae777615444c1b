//! The publisher against the SQLite store: once, on time, retried with backoff, failed with a
//! reason, reconciled after an expired lease, and events for each outcome.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use herald_core::clock::{Clock, ManualClock, SystemClock};
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::*;
use herald_core::events::{EventKind, MemorySink};
use herald_core::platforms::sandbox::{self, SandboxAdapter};
use herald_core::ports::Ports;
use herald_core::platforms::{Adapters, PlatformAdapter, PublishError, PublishRequest, Published};
use herald_core::services::publisher::{Publisher, PublisherConfig};
use herald_core::services::reconnect;
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::{ChannelStore, PostStore};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 9, 0, 0).single().expect("valid instant")
}

/// An adapter that answers from a script and counts what it was asked. It can also be slow
/// (`publish_ms`), hang (`hang_publish`, `hang_lookup`: until the publisher drops the call),
/// and it records how many publishes ran at once and in which order they started.
#[derive(Default)]
struct Scripted {
    answers: Mutex<VecDeque<Result<Published, PublishError>>>,
    existing: Mutex<Option<Published>>,
    publishes: AtomicUsize,
    lookups: AtomicUsize,
    hang_publish: AtomicBool,
    hang_lookup: AtomicBool,
    publish_ms: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// Publishes dropped before they answered (cut by the publisher's bound).
    cancelled: AtomicUsize,
    /// Deliveries in the order their publish started.
    order: Mutex<Vec<DeliveryId>>,
    /// The first comment and reply control each publish and each lookup was given.
    asked: Mutex<Vec<Asked>>,
}

/// What one call was given: `publish` or `find`, the first comment, the reply control.
type Asked = (&'static str, Option<String>, Option<ReplyControl>);

impl Scripted {
    fn answering(answers: Vec<Result<Published, PublishError>>) -> Arc<Self> {
        Arc::new(Self { answers: Mutex::new(answers.into()), ..Self::default() })
    }

    fn hanging() -> Arc<Self> {
        let s = Self::answering(vec![]);
        s.hang_publish.store(true, Ordering::SeqCst);
        s
    }
}

/// One publish in progress: counted while it lasts, and as cancelled if dropped unfinished.
struct InFlight<'a> {
    adapter: &'a Scripted,
    finished: bool,
}

impl<'a> InFlight<'a> {
    fn enter(adapter: &'a Scripted) -> Self {
        let now = adapter.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        adapter.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self { adapter, finished: false }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.adapter.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.adapter.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn ok(id: &str) -> Result<Published, PublishError> {
    Ok(Published { platform_post_id: id.into(), url: Some(format!("https://example.social/{id}")), published_at: None })
}

fn transient(after: Option<u64>) -> Result<Published, PublishError> {
    Err(PublishError::Transient { reason: "503 from the network".into(), retry_after: after.map(std::time::Duration::from_secs) })
}

#[async_trait]
impl PlatformAdapter for Scripted {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        self.publishes.fetch_add(1, Ordering::SeqCst);
        self.order.lock().unwrap().push(request.delivery.id);
        self.asked.lock().unwrap().push(("publish", request.first_comment.map(str::to_owned), request.reply_control));
        let mut flight = InFlight::enter(self);
        if self.hang_publish.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let ms = self.publish_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        flight.finished = true;
        self.answers.lock().unwrap().pop_front().unwrap_or_else(|| ok("default"))
    }

    /// This fake network takes any credentials.
    async fn check_credentials(&self, _: &herald_core::domain::Channel, _: &herald_core::crypto::Credentials) -> Result<(), herald_core::platforms::PublishError> {
        Ok(())
    }

    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push(("find", request.first_comment.map(str::to_owned), request.reply_control));
        if self.hang_lookup.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(self.existing.lock().unwrap().clone())
    }
}

/// Posts in a sandbox outbox's journal (one line each).
fn outbox_files(dir: &std::path::Path) -> usize {
    sandbox::read_journal(dir).unwrap().iter().filter(|p| matches!(p, sandbox::Publication::Post(_))).count()
}

struct Rig {
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    events: Arc<MemorySink>,
    publisher: Publisher,
    team: TeamId,
    cipher: CredentialCipher,
}

impl Rig {
    fn new(adapter: Arc<dyn PlatformAdapter>) -> Rig {
        Rig::with(adapter, |_| {})
    }

    /// The rig with the publisher's settings changed by `tune` (from 10 s backoff, 3 attempts).
    fn with(adapter: Arc<dyn PlatformAdapter>, tune: impl FnOnce(&mut PublisherConfig)) -> Rig {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let clock = Arc::new(ManualClock::new(t0()));
        let events = Arc::new(MemorySink::default());
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
        let ports = Ports::new(store.clone(), clock.clone(), cipher.clone())
            .with_events(events.clone())
            .with_adapters(Adapters::default().with(Platform::Mastodon, adapter));
        let mut config = PublisherConfig { base_backoff: Duration::seconds(10), max_attempts: 3, ..PublisherConfig::default() };
        tune(&mut config);
        let publisher = Publisher::new(ports, config);
        Rig { store, clock, events, publisher, team: TeamId::parse("team", "cafe").unwrap(), cipher }
    }

    async fn channel(&self, platform: Platform, credentials: serde_json::Value) -> Channel {
        let id = ChannelId::new();
        let creds = Credentials::from_json("credentials", &credentials).unwrap();
        let c = Channel {
            id,
            team_id: self.team.clone(),
            platform,
            name: ChannelName::parse("name", "@cafe").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: Some(self.cipher.seal(id, &creds)),
            queue_slots: vec![],
            created_at: t0(),
            updated_at: t0(),
        };
        self.store.create_channel(&c).await.unwrap();
        c
    }

    async fn schedule(&self, channels: &[&Channel], at: DateTime<Utc>) -> (Post, Vec<Delivery>) {
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: PostId::new(),
            team_id: self.team.clone(),
            text: PostText::parse("text", "Fresh croissants at 9").unwrap(),
            variants: Default::default(),
            media: vec![],
            series_id: None,
            created_by: None,
            created_at: t0(),
            updated_at: t0(),
        };
        let ds: Vec<_> = channels
            .iter()
            .map(|c| Delivery::new(&post, c.id, c.platform, DeliveryState::Scheduled, at, t0()))
            .collect();
        self.store.create_post(&post, &ds).await.unwrap();
        (post, ds)
    }

    async fn reload(&self, d: &Delivery) -> Delivery {
        self.store.get_delivery(&self.team, d.post_id, d.id).await.unwrap().unwrap()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.events.events().iter().map(|e| e.kind).collect()
    }
}

#[tokio::test]
async fn a_due_delivery_is_published_once_and_announced() {
    let adapter = Scripted::answering(vec![ok("109")]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({"access_token": "t"})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;

    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.due, summary.claimed, summary.published), (1, 1, 1));
    let d = rig.reload(&ds[0]).await;
    assert_eq!(d.state, DeliveryState::Published);
    assert_eq!(d.platform_post_id.as_deref(), Some("109"));
    assert_eq!(d.url.as_deref(), Some("https://example.social/109"));
    assert_eq!(d.published_at, Some(t0()));
    assert_eq!(rig.kinds(), vec![EventKind::PostPublished]);
    assert_eq!(rig.events.events()[0].detail["platform_post_id"], "109");

    // Nothing is due any more: a second run publishes nothing.
    assert_eq!(rig.publisher.run_once().await.unwrap().due, 0);
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 1);
}

/// The post's first comment and reply control reach the adapter as stored (it makes the
/// comment after the post, best effort; the adapters' own tests show that).
#[tokio::test]
async fn the_first_comment_and_reply_control_reach_the_adapter() {
    let adapter = Scripted::answering(vec![ok("110")]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({"access_token": "t"})).await;
    let (post, ds) = rig.schedule(&[&ch], t0()).await;
    let with = Post {
        first_comment: Some(PostText::parse("first_comment", "#croissant #paris").unwrap()),
        reply_control: Some(ReplyControl::FollowersOnly),
        ..post
    };
    rig.store.update_post(&with).await.unwrap();
    assert_eq!(rig.publisher.run_once().await.unwrap().published, 1);
    assert_eq!(rig.reload(&ds[0]).await.state, DeliveryState::Published);
    assert_eq!(
        *adapter.asked.lock().unwrap(),
        [("publish", Some("#croissant #paris".to_owned()), Some(ReplyControl::FollowersOnly))]
    );
}

#[tokio::test]
async fn deliveries_beyond_the_lookahead_wait() {
    let adapter = Scripted::answering(vec![]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0() + Duration::seconds(61)).await;
    assert_eq!(rig.publisher.run_once().await.unwrap().due, 0);
    assert_eq!(rig.reload(&ds[0]).await.state, DeliveryState::Scheduled);
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn transient_failures_back_off_honour_retry_after_then_fail_with_a_reason() {
    let adapter = Scripted::answering(vec![transient(None), transient(Some(600)), transient(None)]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;

    assert_eq!(rig.publisher.run_once().await.unwrap().retrying, 1);
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Scheduled, 1));
    let retry_at = d.retry_at.expect("a retry time");
    // Base 10 s with jitter in [0.5, 1]: between 5 and 10 s later.
    assert!(retry_at >= t0() + Duration::seconds(5) && retry_at <= t0() + Duration::seconds(10), "{retry_at}");
    assert_eq!(d.last_error.as_deref(), Some("503 from the network"));

    rig.clock.set(retry_at);
    assert_eq!(rig.publisher.run_once().await.unwrap().retrying, 1);
    let d = rig.reload(&ds[0]).await;
    assert_eq!(d.attempts, 2);
    let retry_at = d.retry_at.expect("a retry time");
    assert!(retry_at >= rig.clock.now() + Duration::seconds(600), "Retry-After 600 s is honoured: {retry_at}");

    rig.clock.set(retry_at);
    assert_eq!(rig.publisher.run_once().await.unwrap().failed, 1);
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 3));
    assert_eq!(d.last_error.as_deref(), Some("gave up after 3 attempts: 503 from the network"));
    assert_eq!(rig.kinds(), vec![EventKind::PostFailed]);
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn permanent_and_auth_failures_fail_at_once_and_auth_asks_for_a_reconnect_once() {
    let adapter = Scripted::answering(vec![
        Err(PublishError::Permanent { reason: "text too long for X".into() }),
        Err(PublishError::Auth { reason: "token expired".into() }),
        Err(PublishError::Auth { reason: "token expired".into() }),
        Err(PublishError::Auth { reason: "the new token is refused too".into() }),
    ]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, first) = rig.schedule(&[&ch], t0()).await;
    rig.publisher.run_once().await.unwrap();
    let (_, second) = rig.schedule(&[&ch], t0()).await;
    rig.publisher.run_once().await.unwrap();

    let a = rig.reload(&first[0]).await;
    assert_eq!((a.state, a.last_error.as_deref()), (DeliveryState::Failed, Some("text too long for X")));
    let b = rig.reload(&second[0]).await;
    assert_eq!((b.state, b.last_error.as_deref()), (DeliveryState::Failed, Some("token expired")));
    assert_eq!(rig.kinds(), vec![EventKind::PostFailed, EventKind::PostFailed, EventKind::ChannelNeedsReconnect]);
    assert_eq!(rig.events.events()[2].detail["channel_id"], serde_json::json!(ch.id));
    let marked = reconnect::needs_reconnect(&*rig.store, &ch).await.unwrap().expect("the channel is marked");
    assert_eq!(marked.reason, "token expired");

    // The same credentials refused again: the delivery fails, nobody is told twice.
    rig.schedule(&[&ch], t0()).await;
    rig.publisher.run_once().await.unwrap();
    assert_eq!(rig.kinds().iter().filter(|k| **k == EventKind::ChannelNeedsReconnect).count(), 1, "{:?}", rig.kinds());

    // New credentials clear the mark; when they are refused too, that is news again.
    let renewed = Channel { credentials: Some(rig.cipher.seal(ch.id, &Credentials::from_json("c", &serde_json::json!({"t": "new"})).unwrap())), ..ch.clone() };
    rig.store.update_channel(&renewed).await.unwrap();
    assert_eq!(reconnect::needs_reconnect(&*rig.store, &renewed).await.unwrap(), None);
    rig.schedule(&[&renewed], t0()).await;
    rig.publisher.run_once().await.unwrap();
    assert_eq!(rig.kinds().iter().filter(|k| **k == EventKind::ChannelNeedsReconnect).count(), 2, "{:?}", rig.kinds());
    assert_eq!(reconnect::needs_reconnect(&*rig.store, &renewed).await.unwrap().map(|m| m.reason).as_deref(), Some("the new token is refused too"));
}

#[tokio::test]
async fn an_expired_claim_is_reconciled_before_publishing_again() {
    let adapter = Scripted::answering(vec![]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;
    // A run claimed both of these and died before recording anything.
    let crashed = rig.store.update_delivery(&ds[0].claimed(t0(), Duration::seconds(60), Duration::seconds(30)).unwrap()).await.unwrap();
    *adapter.existing.lock().unwrap() = Some(Published {
        platform_post_id: "already-there".into(),
        url: None,
        published_at: Some(t0() + Duration::seconds(1)),
    });

    // While the lease holds, nobody touches it.
    rig.clock.set(t0() + Duration::seconds(29));
    assert_eq!(rig.publisher.run_once().await.unwrap().claimed, 0);

    rig.clock.set(crashed.lease_until.unwrap());
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.claimed, summary.reconciled, summary.published), (1, 1, 0));
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.platform_post_id.as_deref()), (DeliveryState::Published, Some("already-there")));
    assert_eq!(d.published_at, Some(t0() + Duration::seconds(1)));
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 0, "found on the platform: not published again");
    assert_eq!(adapter.lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_expired_claim_not_found_on_the_platform_is_published() {
    let adapter = Scripted::answering(vec![ok("fresh")]);
    let rig = Rig::new(adapter.clone());
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;
    let crashed = rig.store.update_delivery(&ds[0].claimed(t0(), Duration::seconds(60), Duration::seconds(30)).unwrap()).await.unwrap();
    rig.clock.set(crashed.lease_until.unwrap() + Duration::seconds(1));
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!(summary.published, 1);
    assert_eq!((adapter.lookups.load(Ordering::SeqCst), adapter.publishes.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(rig.reload(&ds[0]).await.attempts, 2);
}

#[tokio::test]
async fn one_failing_channel_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(Scripted::answering(vec![]));
    let mut publisher = rig.publisher.clone();
    publisher.ports.adapters =
        Adapters::default().with(Platform::Sandbox, Arc::new(SandboxAdapter::new(dir.path().to_owned(), rig.clock.clone())));
    let good = rig.channel(Platform::Sandbox, serde_json::json!({})).await;
    let bad = rig.channel(Platform::Sandbox, serde_json::json!({"fail_with": "permanent"})).await;
    let (_, ds) = rig.schedule(&[&good, &bad], t0()).await;
    let summary = publisher.run_once().await.unwrap();
    assert_eq!((summary.published, summary.failed), (1, 1));
    let by_channel = |c: &Channel| ds.iter().find(|d| d.channel_id == c.id).unwrap().clone();
    assert_eq!(rig.reload(&by_channel(&good)).await.state, DeliveryState::Published);
    let failed = rig.reload(&by_channel(&bad)).await;
    assert_eq!((failed.state, failed.last_error.as_deref()), (DeliveryState::Failed, Some("sandbox: simulated refusal")));
    assert_eq!(outbox_files(dir.path()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_runs_publish_each_delivery_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::new(Scripted::answering(vec![]));
    let mut publisher = rig.publisher.clone();
    publisher.ports.adapters =
        Adapters::default().with(Platform::Sandbox, Arc::new(SandboxAdapter::new(dir.path().to_owned(), rig.clock.clone())));
    let ch = rig.channel(Platform::Sandbox, serde_json::json!({})).await;
    for _ in 0..40 {
        rig.schedule(&[&ch], t0() - Duration::seconds(5)).await;
    }
    let runs: Vec<_> = (0..6).map(|_| {
        let p = publisher.clone();
        tokio::spawn(async move { p.run_once().await.unwrap() })
    }).collect();
    let mut published = 0;
    for r in runs {
        published += r.await.unwrap().published;
    }
    assert_eq!(published, 40, "every delivery published by exactly one run");
    assert_eq!(outbox_files(dir.path()), 40);
    assert_eq!(rig.events.events().len(), 40);
}

/// A burst larger than a page is claimed whole by one run, a page at a time (each page one
/// batch of claim writes), and each delivery is published once; with one page (the AWS
/// setting), a run takes a page and leaves the rest to the next run.
#[tokio::test]
async fn a_burst_larger_than_a_page_is_claimed_whole_a_page_at_a_time() {
    for (pages, first_run) in [(5, 35), (1, 10)] {
        let adapter = Scripted::answering(vec![]);
        let rig = Rig::with(adapter.clone(), |c| {
            c.batch = 10;
            c.pages = pages;
        });
        let (a, b) = (
            rig.channel(Platform::Mastodon, serde_json::json!({})).await,
            rig.channel(Platform::Mastodon, serde_json::json!({})).await,
        );
        let mut all = Vec::new();
        for i in 0..17 {
            all.extend(rig.schedule(&[&a, &b], t0() - Duration::seconds(17 - i)).await.1);
        }
        all.extend(rig.schedule(&[&a], t0()).await.1);
        let summary = rig.publisher.run_once().await.unwrap();
        assert_eq!((summary.due, summary.claimed, summary.published), (first_run, first_run, first_run), "pages {pages}: {summary:?}");
        let mut runs = 1;
        while rig.publisher.run_once().await.unwrap().published > 0 {
            runs += 1;
        }
        assert_eq!(runs, 35_usize.div_ceil(first_run), "pages {pages}");
        assert_eq!(adapter.publishes.load(Ordering::SeqCst), 35, "each delivery published once");
        for d in &all {
            assert_eq!(rig.reload(d).await.state, DeliveryState::Published);
        }
        assert_eq!(rig.events.events().len(), 35);
    }
}

#[tokio::test]
async fn the_publisher_waits_for_the_scheduled_second() {
    // Real time: a delivery 1.2 s ahead is claimed now and published no earlier than its second.
    let adapter = Scripted::answering(vec![]);
    let mut rig = Rig::new(adapter);
    rig.publisher.ports.clock = Arc::new(SystemClock);
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let at = SystemClock.now() + Duration::milliseconds(1200);
    let (_, ds) = rig.schedule(&[&ch], at).await;
    assert_eq!(rig.publisher.run_once().await.unwrap().published, 1);
    let d = rig.reload(&ds[0]).await;
    assert!(d.published_at.unwrap() >= at, "published at {:?}, scheduled {at}", d.published_at);
}

/// The private-network guard through Herald's own entry points, in process: the API router with
/// the production adapters (`network_adapters` with `NetworkPolicy::PublicOnly`, what a host
/// builds without `HERALD_ALLOW_PRIVATE_NETWORK`), a Mastodon channel whose instance is a fake
/// on loopback, and a post whose picture is on that fake too. The publisher fails the delivery
/// on its first attempt with the guard's reason, and the fake sees no request at all: no media
/// fetch, no upload, no status.
#[tokio::test]
async fn a_media_url_on_a_private_address_fails_the_delivery_without_being_fetched() {
    use crate::common::{App, utc};
    use herald_core::platforms::{NetworkPolicy, network_adapters};

    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let fake = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            ([("content-type", "image/png")], b"\x89PNG\r\n\x1a\n".to_vec())
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake).await });

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let app = App::with_adapters(network_adapters(clock, NetworkPolicy::PublicOnly).unwrap());
    let admin = app.key("cafe", Role::Admin).await;
    // Connecting refuses this instance already (publishing_e2e's connecting test); the channel is
    // written as if connected before the guard was on, so the publisher's own guard is tested.
    let channel = {
        let id = herald_core::domain::ChannelId::new();
        let credentials = serde_json::json!({"instance_url": base, "access_token": "tok"});
        let credentials = Credentials::from_json("credentials", &credentials).unwrap();
        let ch = Channel {
            id,
            team_id: herald_core::domain::TeamId::parse("team", "cafe").unwrap(),
            platform: Platform::Mastodon,
            name: herald_core::domain::ChannelName::parse("name", "@cafe@masto.test").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: Some(app.state.cipher.seal(id, &credentials)),
            queue_slots: vec![],
            created_at: app.clock.now(),
            updated_at: app.clock.now(),
        };
        app.store.create_channel(&ch).await.unwrap();
        id.to_string()
    };
    let at = "2027-01-04T09:00:00Z";
    let picture = format!("{base}/img.png");
    let post = app
        .create(
            &admin,
            serde_json::json!({"text": "Le chat de la maison", "channel_ids": [channel], "publish_at": at,
                "media": [{"url": picture, "alt": "a cat"}]}),
        )
        .await;

    app.clock.set(utc(at));
    let publisher = Publisher::new(app.state.ports.clone(), PublisherConfig::default());
    let summary = publisher.run_once().await.unwrap();
    assert_eq!((summary.published, summary.failed, summary.retrying), (0, 1, 0), "{summary:?}");

    let (status, got) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
    assert_eq!(status, 200, "{got}");
    let d = &got["deliveries"][0];
    assert_eq!((d["state"].as_str(), d["attempts"].as_u64()), (Some("failed"), Some(1)), "{d}");
    let reason = format!(
        "media URL {picture}: 127.0.0.1 is a private address (loopback); refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"
    );
    assert_eq!(d["last_error"].as_str(), Some(reason.as_str()), "{d}");
    assert_eq!(requests.load(Ordering::SeqCst), 0, "the fake was reached");
    let failed: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == EventKind::PostFailed).collect();
    assert_eq!(failed.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Bounded: concurrency, the attempt's time, the attempts.

/// A lease short enough for real-time tests: the margin is a quarter of it (1 s), so each
/// attempt is cut 3 s after it starts, and a delivery still waiting for a slot 1.5 s after
/// its second is handed back.
const SHORT_LEASE_S: i64 = 4;

fn short_lease(c: &mut PublisherConfig) {
    c.lease = Duration::seconds(SHORT_LEASE_S);
}

#[tokio::test]
async fn at_most_concurrency_deliveries_publish_at_once_earliest_due_first() {
    for concurrency in [1, 3] {
        let adapter = Scripted::answering(vec![]);
        adapter.publish_ms.store(40, Ordering::SeqCst);
        let rig = Rig::with(adapter.clone(), |c| c.concurrency = concurrency);
        let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
        let mut scheduled = Vec::new();
        // Twelve overdue deliveries, scheduled in a shuffled order of due times.
        for k in [7, 2, 11, 0, 5, 9, 1, 10, 4, 8, 3, 6] {
            let (_, ds) = rig.schedule(&[&ch], t0() - Duration::seconds(30 - k)).await;
            scheduled.push(ds[0].clone());
        }
        let summary = rig.publisher.run_once().await.unwrap();
        assert_eq!((summary.claimed, summary.published, summary.deferred), (12, 12, 0), "{summary:?}");
        assert_eq!(adapter.max_in_flight.load(Ordering::SeqCst), concurrency, "publishes at once");

        // Slots go to the earliest due first. With one slot that is the order of the publishes;
        // with three, the three holders load what they publish concurrently and may call the
        // network in any order, but no later delivery starts before them.
        scheduled.sort_by_key(|d| d.publish_at);
        let by_due: Vec<DeliveryId> = scheduled.iter().map(|d| d.id).collect();
        let started = adapter.order.lock().unwrap().clone();
        let first = |ids: &[DeliveryId]| ids.iter().take(concurrency).copied().collect::<std::collections::HashSet<_>>();
        assert_eq!(first(&started), first(&by_due), "concurrency {concurrency}");
        if concurrency == 1 {
            assert_eq!(started, by_due);
        }
    }
}

#[tokio::test]
async fn a_delivery_that_waits_too_long_for_a_slot_is_handed_back_unstarted() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = Scripted::hanging();
    let mut rig = Rig::with(hanging.clone(), |c| {
        short_lease(c);
        c.concurrency = 1;
        c.lookahead = Duration::zero(); // the second run leaves the retry alone
    });
    rig.publisher.ports.adapters = Adapters::default()
        .with(Platform::Mastodon, hanging.clone())
        .with(Platform::Sandbox, Arc::new(SandboxAdapter::new(dir.path().to_owned(), rig.clock.clone())));
    let stuck = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let fine = rig.channel(Platform::Sandbox, serde_json::json!({})).await;
    // The hanging network's delivery is due first, so it takes the only slot.
    let (_, a) = rig.schedule(&[&stuck], t0() - Duration::seconds(2)).await;
    let (_, b) = rig.schedule(&[&fine], t0() - Duration::seconds(1)).await;

    let started = std::time::Instant::now();
    let summary = rig.publisher.run_once().await.unwrap();
    let took = started.elapsed();
    assert_eq!((summary.claimed, summary.retrying, summary.deferred, summary.published), (2, 1, 1, 0), "{summary:?}");
    assert!(took < std::time::Duration::from_secs(SHORT_LEASE_S as u64), "the run outlived the lease: {took:?}");

    // Handed back: scheduled again, due now, no attempt counted, nothing published.
    let b1 = rig.reload(&b[0]).await;
    assert_eq!((b1.state, b1.attempts, b1.lease_until, b1.last_error.as_deref()), (DeliveryState::Scheduled, 0, None, None));
    assert!(b1.due_at().unwrap() <= t0());
    assert_eq!(outbox_files(dir.path()), 0);
    // The hanging one was cut at its bound.
    let a1 = rig.reload(&a[0]).await;
    assert_eq!((a1.state, a1.attempts), (DeliveryState::Scheduled, 1));
    assert_eq!(hanging.cancelled.load(Ordering::SeqCst), 1);

    // The next run takes the handed-back one at once.
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.claimed, summary.published), (1, 1), "{summary:?}");
    let b2 = rig.reload(&b[0]).await;
    assert_eq!((b2.state, b2.attempts), (DeliveryState::Published, 1));
    assert_eq!(outbox_files(dir.path()), 1);
}

#[tokio::test]
async fn one_hanging_channel_does_not_hold_back_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = Scripted::hanging();
    let mut rig = Rig::with(hanging.clone(), short_lease);
    rig.publisher.ports.clock = Arc::new(SystemClock);
    rig.publisher.ports.adapters = Adapters::default()
        .with(Platform::Mastodon, hanging.clone())
        .with(Platform::Sandbox, Arc::new(SandboxAdapter::new(dir.path().to_owned(), Arc::new(SystemClock))));
    let stuck = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let fine = rig.channel(Platform::Sandbox, serde_json::json!({})).await;
    let at = SystemClock.now();
    let (_, ds) = rig.schedule(&[&stuck, &fine], at).await;

    let started = std::time::Instant::now();
    let summary = rig.publisher.run_once().await.unwrap();
    let took = started.elapsed();
    assert_eq!((summary.published, summary.retrying), (1, 1), "{summary:?}");
    // The run ends when the hanging attempt is cut (3 s after it started), before the lease.
    assert!(took < std::time::Duration::from_secs(SHORT_LEASE_S as u64), "the run outlived the lease: {took:?}");
    assert!(took >= std::time::Duration::from_millis(2_900), "cut before its bound: {took:?}");
    let by_channel = |c: &Channel| ds.iter().find(|d| d.channel_id == c.id).unwrap().clone();
    let published = rig.reload(&by_channel(&fine)).await;
    let late = published.published_at.unwrap() - at;
    assert!(late < Duration::milliseconds(500), "the other channel waited {late}");
    assert_eq!(rig.reload(&by_channel(&stuck)).await.state, DeliveryState::Scheduled);
}

#[tokio::test]
async fn a_hanging_network_is_cut_before_the_lease_and_the_retry_reconciles_instead_of_publishing_again() {
    let adapter = Scripted::hanging();
    let rig = Rig::with(adapter.clone(), short_lease);
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;

    let started = std::time::Instant::now();
    let summary = rig.publisher.run_once().await.unwrap();
    let took = started.elapsed();
    assert_eq!(summary.retrying, 1, "{summary:?}");
    assert!(took < std::time::Duration::from_secs(SHORT_LEASE_S as u64), "the attempt outlived the lease: {took:?}");
    assert!(took >= std::time::Duration::from_millis(2_900), "cut before its bound: {took:?}");
    assert_eq!(adapter.cancelled.load(Ordering::SeqCst), 1, "the publish call was dropped, not left running");
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.attempts, d.lease_until), (DeliveryState::Scheduled, 1, None));
    assert_eq!(
        d.last_error.as_deref(),
        Some("mastodon did not finish within 3 s (the attempt's bound, inside the claim's lease); Herald checks whether it published before trying again")
    );
    // Not due again before the claim would have run out (the network may still act on it).
    let retry_at = d.retry_at.unwrap();
    assert!(retry_at >= t0() + Duration::seconds(SHORT_LEASE_S), "{retry_at}");

    // The first attempt landed after all: the retry finds it and publishes nothing.
    adapter.hang_publish.store(false, Ordering::SeqCst);
    *adapter.existing.lock().unwrap() =
        Some(Published { platform_post_id: "landed".into(), url: None, published_at: Some(t0() + Duration::seconds(2)) });
    rig.clock.set(retry_at);
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.reconciled, summary.published), (1, 0), "{summary:?}");
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 1, "no second publish");
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.platform_post_id.as_deref(), d.attempts), (DeliveryState::Published, Some("landed"), 2));
}

#[tokio::test]
async fn a_hanging_reconciliation_is_bounded_too() {
    let adapter = Scripted::answering(vec![]);
    adapter.hang_lookup.store(true, Ordering::SeqCst);
    let rig = Rig::with(adapter.clone(), short_lease);
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;
    let crashed = rig.store.update_delivery(&ds[0].claimed(t0(), Duration::seconds(60), Duration::seconds(30)).unwrap()).await.unwrap();
    rig.clock.set(crashed.lease_until.unwrap());

    let started = std::time::Instant::now();
    let run = tokio::time::timeout(std::time::Duration::from_secs(20), rig.publisher.run_once()).await;
    let took = started.elapsed();
    let summary = run.expect("the run never ended: reconciliation is unbounded").unwrap();
    assert_eq!(summary.retrying, 1, "{summary:?}");
    assert!(took < std::time::Duration::from_secs(SHORT_LEASE_S as u64), "{took:?}");
    assert_eq!((adapter.lookups.load(Ordering::SeqCst), adapter.publishes.load(Ordering::SeqCst)), (1, 0));
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Scheduled, 2));
}

/// A run "crashed" mid-publish at the last attempt: publishing, lease expired, attempts used.
async fn crashed_at(rig: &Rig, attempts: u32) -> Delivery {
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;
    let mut claimed = ds[0].claimed(t0(), Duration::seconds(60), Duration::seconds(30)).unwrap();
    claimed.attempts = attempts;
    rig.store.update_delivery(&claimed).await.unwrap()
}

#[tokio::test]
async fn a_delivery_reclaimed_after_its_last_attempt_fails_for_good_when_the_network_has_no_such_post() {
    // 3 = max_attempts; 7 = a delivery reclaimed past it (the runaway this fixes).
    for used in [3, 7] {
        let adapter = Scripted::answering(vec![]);
        let rig = Rig::new(adapter.clone());
        let crashed = crashed_at(&rig, used).await;
        rig.clock.set(crashed.lease_until.unwrap());

        let summary = rig.publisher.run_once().await.unwrap();
        assert_eq!((summary.claimed, summary.failed, summary.published), (1, 1, 0), "{used}: {summary:?}");
        assert_eq!((adapter.lookups.load(Ordering::SeqCst), adapter.publishes.load(Ordering::SeqCst)), (1, 0), "{used}");
        let d = rig.store.get_delivery(&rig.team, crashed.post_id, crashed.id).await.unwrap().unwrap();
        assert_eq!((d.state, d.attempts, d.lease_until), (DeliveryState::Failed, used, None), "{used}");
        let reason = format!(
            "gave up after {used} attempts: the last one was cut short before its outcome was known, and mastodon has no such post"
        );
        assert_eq!(d.last_error.as_deref(), Some(reason.as_str()));
        assert_eq!(rig.kinds(), vec![EventKind::PostFailed]);
        assert_eq!(rig.events.events()[0].detail["reason"], reason.as_str());

        // Never claimed again.
        rig.clock.set(t0() + Duration::days(2));
        assert_eq!(rig.publisher.run_once().await.unwrap().due, 0);
        assert_eq!(adapter.publishes.load(Ordering::SeqCst), 0);
    }
}

#[tokio::test]
async fn a_delivery_reclaimed_after_its_last_attempt_is_published_when_the_network_has_it() {
    let adapter = Scripted::answering(vec![]);
    *adapter.existing.lock().unwrap() =
        Some(Published { platform_post_id: "it-went-out".into(), url: None, published_at: Some(t0()) });
    let rig = Rig::new(adapter.clone());
    let crashed = crashed_at(&rig, 3).await;
    rig.clock.set(crashed.lease_until.unwrap());
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.reconciled, summary.published, summary.failed), (1, 0, 0), "{summary:?}");
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 0);
    let d = rig.store.get_delivery(&rig.team, crashed.post_id, crashed.id).await.unwrap().unwrap();
    assert_eq!((d.state, d.platform_post_id.as_deref(), d.attempts), (DeliveryState::Published, Some("it-went-out"), 3));
    assert_eq!(rig.kinds(), vec![EventKind::PostPublished]);
}

#[tokio::test]
async fn a_last_attempt_cut_short_is_checked_once_then_fails_for_good() {
    let adapter = Scripted::hanging();
    let rig = Rig::with(adapter.clone(), |c| {
        short_lease(c);
        c.max_attempts = 2;
    });
    let ch = rig.channel(Platform::Mastodon, serde_json::json!({})).await;
    let (_, ds) = rig.schedule(&[&ch], t0()).await;

    // Attempts 1 and 2 both hang and are cut; the second, the last, leaves a check to make.
    for attempt in 1..=2 {
        let summary = rig.publisher.run_once().await.unwrap();
        assert_eq!(summary.retrying, 1, "attempt {attempt}: {summary:?}");
        let d = rig.reload(&ds[0]).await;
        assert_eq!((d.state, d.attempts), (DeliveryState::Scheduled, attempt));
        if attempt == 2 {
            assert_eq!(
                d.last_error.as_deref(),
                Some("mastodon did not finish within 3 s (the attempt's bound, inside the claim's lease); that was the last attempt: Herald checks whether it published, and fails it if not")
            );
        }
        rig.clock.set(d.retry_at.unwrap());
    }
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 2);
    let lookups_before = adapter.lookups.load(Ordering::SeqCst);

    // The check: not found, so failed for good without a third publish.
    let summary = rig.publisher.run_once().await.unwrap();
    assert_eq!((summary.failed, summary.published), (1, 0), "{summary:?}");
    assert_eq!(adapter.lookups.load(Ordering::SeqCst), lookups_before + 1);
    assert_eq!(adapter.publishes.load(Ordering::SeqCst), 2, "no publish after the last attempt");
    let d = rig.reload(&ds[0]).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 2));
    assert_eq!(
        d.last_error.as_deref(),
        Some("gave up after 2 attempts: the last one was cut short before its outcome was known, and mastodon has no such post")
    );
    rig.clock.set(t0() + Duration::days(2));
    assert_eq!(rig.publisher.run_once().await.unwrap().due, 0);
}
