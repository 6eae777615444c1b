//! Faults, injected: the store, the bus and the networks fail the way AWS and platforms fail,
//! and Herald publishes nothing twice, loses no webhook, drops no event silently and keeps its
//! inbox consistent. `docs/reliability.md` holds the table of faults × outcomes; each of its
//! rows names a test here.
//!
//! DynamoDB and EventBridge are the moto server `tests/run` starts, reached through the
//! fault-injecting proxy of `common/fault_proxy.rs` with the SDK settings the Lambda functions
//! use (`herald_core::aws::dynamodb_client`: standard retries, 3 attempts; Herald's timeouts).
//! Mastodon is a fake built from its documented shapes (statuses with `Idempotency-Key`,
//! `verify_credentials`, the account's statuses, notifications), behind the same proxy. What
//! was stored is always read around the proxy, straight from moto.
//!
//! The lines printed with `MEASURED` are the numbers docs/reliability.md reports
//! (`cargo nextest run … --no-capture`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, TimeZone, Utc};
use herald_core::clock::{Clock, ManualClock, SystemClock};
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::*;
use herald_core::events::{EventBridgeSink, EventKind, EventSink, MemorySink, UNDELIVERED_MARK};
use herald_core::intake::Intake;
use herald_core::platforms::mastodon::{MastodonAdapter, MastodonConfig};
use herald_core::platforms::{Adapters, NetworkPolicy, PlatformAdapter, PublishRequest, Published};
use herald_core::ports::Ports;
use herald_core::services::publisher::{Publisher, PublisherConfig, RunSummary};
use herald_core::store::dynamo::DynamoStore;
use herald_core::store::sqlite::SqliteStore;
use herald_core::listening::crisis::CrisisRule;
use herald_core::store::{ChannelStore, InboxQuery, PageRequest, StateStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::common::fault_proxy::{EVENTBRIDGE_JSON, Fault, FaultProxy, Rule};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).single().expect("valid instant")
}

fn team_id() -> TeamId {
    TeamId::parse("team", "cafe").unwrap()
}

/// A line docs/reliability.md quotes.
fn measured(what: &str, value: impl std::fmt::Display) {
    eprintln!("MEASURED {what}: {value}");
}

// ------------------------------------------------------------------------------------------
// The AWS rig: moto, and the proxy in front of it
// ------------------------------------------------------------------------------------------

fn moto() -> String {
    std::env::var("HERALD_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("HERALD_TEST_DYNAMODB_ENDPOINT is not set: run the suite with `tests/run`, which starts moto")
    })
}

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
        .load()
        .await
}

/// A fresh table in moto; `store` reaches it through the proxy with the functions' SDK
/// settings, `direct` around it (for setting up and for looking at what was stored).
struct Aws {
    proxy: FaultProxy,
    /// The SDK configuration through the proxy.
    sdk: aws_config::SdkConfig,
    /// The SDK configuration straight to moto.
    direct_sdk: aws_config::SdkConfig,
    store: Arc<DynamoStore>,
    direct: Arc<DynamoStore>,
}

impl Aws {
    async fn new() -> Aws {
        let proxy = FaultProxy::start(&moto()).await;
        let direct_sdk = sdk(&moto()).await;
        let sdk = sdk(&proxy.url).await;
        let table = format!("herald-faults-{}", uuid::Uuid::new_v4().simple());
        let client = aws_sdk_dynamodb::Client::new(&direct_sdk);
        DynamoStore::create_table(&client, &table).await.expect("table created in moto");
        let store = Arc::new(DynamoStore::new(dynamodb_client(&sdk), table.clone()));
        Aws { proxy, sdk, direct_sdk, store, direct: Arc::new(DynamoStore::new(client, table)) }
    }
}

/// The functions' DynamoDB client (`herald_core::aws::dynamodb_client`: Herald's timeouts,
/// standard retries) with a retry quota of its own: the SDK keeps one token bucket per
/// partition for the whole process, and the faults injected here must not drain the quota of
/// other tests sharing the process (`cargo test` runs them all in one).
fn dynamodb_client(sdk: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    let own = aws_sdk_dynamodb::config::retry::RetryPartition::new(format!("dynamodb-{}", uuid::Uuid::new_v4().simple()));
    let config = herald_core::aws::dynamodb_client(sdk).config().to_builder().retry_partition(own).build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The same for EventBridge (`herald_core::aws::eventbridge_client`).
fn eventbridge_client(sdk: &aws_config::SdkConfig) -> aws_sdk_eventbridge::Client {
    let own = aws_sdk_eventbridge::config::retry::RetryPartition::new(format!("eventbridge-{}", uuid::Uuid::new_v4().simple()));
    let config = herald_core::aws::eventbridge_client(sdk).config().to_builder().retry_partition(own).build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

fn cipher() -> CredentialCipher {
    CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap()
}

fn channel(cipher: &CredentialCipher, platform: Platform, credentials: Value) -> Channel {
    let id = ChannelId::new();
    Channel {
        id,
        team_id: team_id(),
        platform,
        name: ChannelName::parse("name", "@cafe").unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: Some(cipher.seal(id, &Credentials::from_json("credentials", &credentials).unwrap())),
        queue_slots: vec![],
        created_at: t0(),
        updated_at: t0(),
    }
}

/// Stores `n` posts on `channel`, one delivery each, due at `at`.
async fn schedule(store: &dyn Store, channel: &Channel, n: usize, at: DateTime<Utc>) -> Vec<Delivery> {
    let mut all = vec![];
    for i in 0..n {
        let post = Post { review: None,
            version: 0,
            first_comment: None,
            reply_control: None,
            id: PostId::new(),
            team_id: team_id(),
            text: PostText::parse("text", &format!("Fresh croissants, batch {i} at {}", at.format("%H:%M"))).unwrap(),
            variants: Default::default(),
            media: vec![],
            series_id: None,
            created_by: None,
            created_at: t0(),
            updated_at: t0(),
        };
        let d = Delivery::new(&post, channel.id, channel.platform, DeliveryState::Scheduled, at, t0());
        store.create_post(&post, std::slice::from_ref(&d)).await.unwrap();
        all.push(d);
    }
    all
}

async fn reload(store: &dyn Store, d: &Delivery) -> Delivery {
    store.get_delivery(&d.team_id, d.post_id, d.id).await.unwrap().expect("the delivery")
}

/// How many `Post Published` events name `d`.
fn published_events(events: &MemorySink, d: &Delivery) -> usize {
    events
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::PostPublished && e.detail["delivery_id"] == json!(d.id))
        .count()
}

// ------------------------------------------------------------------------------------------
// 1. The publisher on DynamoDB through the proxy
// ------------------------------------------------------------------------------------------

/// A network without idempotency: every `publish` makes one more post, and `find_published`
/// finds the first post made for a delivery. A delivery published twice shows as two posts.
#[derive(Default)]
struct Ledger {
    posts: Mutex<Vec<(DeliveryId, String)>>,
    lookups: AtomicUsize,
}

impl Ledger {
    fn posts_of(&self, d: &Delivery) -> usize {
        self.posts.lock().unwrap().iter().filter(|(id, _)| *id == d.id).count()
    }

    fn post_id_of(&self, d: &Delivery) -> Option<String> {
        self.posts.lock().unwrap().iter().find(|(id, _)| *id == d.id).map(|(_, p)| p.clone())
    }
}

#[async_trait]
impl PlatformAdapter for Ledger {
    async fn publish(&self, r: &PublishRequest<'_>) -> Result<Published, herald_core::platforms::PublishError> {
        let mut posts = self.posts.lock().unwrap();
        let id = format!("post-{}", posts.len() + 1);
        posts.push((r.delivery.id, id.clone()));
        Ok(Published { platform_post_id: id, url: None, published_at: None })
    }

    /// This fake network takes any credentials.
    async fn check_credentials(&self, _: &herald_core::domain::Channel, _: &herald_core::crypto::Credentials) -> Result<(), herald_core::platforms::PublishError> {
        Ok(())
    }

    async fn find_published(&self, r: &PublishRequest<'_>) -> Result<Option<Published>, herald_core::platforms::PublishError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let posts = self.posts.lock().unwrap();
        Ok(posts
            .iter()
            .find(|(id, _)| *id == r.delivery.id)
            .map(|(_, p)| Published { platform_post_id: p.clone(), url: None, published_at: None }))
    }
}

struct PublisherRig {
    aws: Aws,
    clock: Arc<ManualClock>,
    events: Arc<MemorySink>,
    ledger: Arc<Ledger>,
    publisher: Publisher,
    channel: Channel,
}

impl PublisherRig {
    async fn new() -> PublisherRig {
        let aws = Aws::new().await;
        let clock = Arc::new(ManualClock::new(t0()));
        let events = Arc::new(MemorySink::default());
        let ledger = Arc::new(Ledger::default());
        let cipher = cipher();
        let channel = channel(&cipher, Platform::Mastodon, json!({}));
        aws.direct.create_channel(&channel).await.unwrap();
        let ports = Ports::new(aws.store.clone(), clock.clone(), cipher)
            .with_events(events.clone())
            .with_adapters(Adapters::default().with(Platform::Mastodon, ledger.clone()));
        let config = PublisherConfig { base_backoff: Duration::seconds(10), max_attempts: 3, ..PublisherConfig::default() };
        PublisherRig { publisher: Publisher::new(ports, config), aws, clock, events, ledger, channel }
    }

    async fn schedule(&self, n: usize, at: DateTime<Utc>) -> Vec<Delivery> {
        schedule(&*self.aws.direct, &self.channel, n, at).await
    }

    async fn reload(&self, d: &Delivery) -> Delivery {
        reload(&*self.aws.direct, d).await
    }

    /// One run, timed.
    async fn run(&self, what: &str) -> (Result<RunSummary, String>, StdDuration) {
        let started = Instant::now();
        let summary = self.publisher.run_once().await.map_err(|e| e.to_string());
        let took = started.elapsed();
        measured(&format!("publisher run, {what}"), format!("{took:.1?}, {summary:?}"));
        (summary, took)
    }
}

/// Marks of a delivery item's state in a PutItem body.
const CLAIM: &str = r#"{"S":"publishing"}"#;
const RECORD: &str = r#"{"S":"published"}"#;

#[tokio::test]
async fn publisher_rides_out_throttling_and_500s_rarer_than_the_sdk_retries() {
    let mut rig = PublisherRig::new().await;
    // Real time, to measure how late the faults make the posts.
    rig.publisher.ports.clock = Arc::new(SystemClock);
    let due = SystemClock.now();
    let ds = rig.schedule(3, due).await;
    // Every call fails twice before it succeeds: the due query throttled, every read a 500,
    // every write over the provisioned throughput.
    rig.aws.proxy.add(Rule::new(Fault::throttling()).on("Query").per_request(2));
    rig.aws.proxy.add(Rule::new(Fault::internal_error()).on("GetItem").per_request(2));
    rig.aws.proxy.add(Rule::new(Fault::throughput_exceeded()).on("PutItem").per_request(2));

    let (summary, _) = rig.run("every call failing twice").await;
    let summary = summary.expect("the SDK's retries absorb faults rarer than its 3 attempts");
    assert_eq!((summary.due, summary.claimed, summary.published), (3, 3, 3), "{summary:?}");
    let mut lateness = vec![];
    for d in &ds {
        assert_eq!(rig.ledger.posts_of(d), 1, "published once");
        let stored = rig.reload(d).await;
        assert_eq!((stored.state, stored.attempts), (DeliveryState::Published, 1));
        assert_eq!(stored.platform_post_id, rig.ledger.post_id_of(d));
        assert_eq!(published_events(&rig.events, d), 1, "announced once");
        lateness.push((stored.published_at.unwrap() - due).num_milliseconds());
    }
    measured("lateness of 3 posts due at the same second, every call failing twice", format!("{lateness:?} ms"));
    let seen = rig.aws.proxy.seen();
    let distinct: std::collections::HashSet<_> = seen.iter().map(|s| (s.operation.clone(), s.body.clone())).collect();
    let faulted = seen.iter().filter(|s| s.fault.is_some()).count();
    assert_eq!(faulted, 2 * distinct.len(), "each distinct call failed twice, then went through");
    measured(
        "SDK attempts, every call failing twice",
        format!("{} requests for {} distinct calls, {faulted} of them faults; all succeeded on the 3rd attempt", seen.len(), distinct.len()),
    );
}

#[tokio::test]
async fn publisher_under_persistent_store_faults_publishes_nothing_twice_and_reconciles_what_it_could_not_record() {
    let rig = PublisherRig::new().await;
    let ds = rig.schedule(3, t0()).await;

    // The due query throttled on every attempt: the run fails (the Lambda reports
    // Herald.Transient), nothing is claimed, nothing published.
    rig.aws.proxy.add(Rule::new(Fault::throttling()).on("Query"));
    let (summary, _) = rig.run("due query always throttled").await;
    assert!(summary.is_err(), "{summary:?}");
    assert_eq!(rig.aws.proxy.count("Query"), 3, "the SDK's 3 attempts, then the error");
    assert_eq!(rig.ledger.posts.lock().unwrap().len(), 0);

    // Every claim over the provisioned throughput: no claim, nothing published, still scheduled.
    rig.aws.proxy.heal();
    rig.aws.proxy.add(Rule::new(Fault::throughput_exceeded()).on("PutItem").body_contains(CLAIM));
    let (summary, _) = rig.run("claims always throttled").await;
    let summary = summary.unwrap();
    assert_eq!((summary.due, summary.claimed, summary.published), (3, 0, 0));
    for d in &ds {
        assert_eq!(rig.reload(d).await.state, DeliveryState::Scheduled);
    }
    assert_eq!(rig.ledger.posts.lock().unwrap().len(), 0);

    // Claims pass, but recording the outcome fails with 500s on every attempt: the posts are
    // made, the deliveries stay `publishing` under their lease, no event yet.
    rig.aws.proxy.heal();
    rig.aws.proxy.add(Rule::new(Fault::internal_error()).on("PutItem").body_contains(RECORD));
    let (summary, _) = rig.run("records always 500").await;
    let summary = summary.unwrap();
    assert_eq!((summary.claimed, summary.published), (3, 0), "{summary:?}");
    let mut lease_until = t0();
    for d in &ds {
        let stored = rig.reload(d).await;
        assert_eq!(stored.state, DeliveryState::Publishing);
        lease_until = lease_until.max(stored.lease_until.unwrap());
        assert_eq!(rig.ledger.posts_of(d), 1);
        assert_eq!(published_events(&rig.events, d), 0, "not announced before it is recorded");
    }

    // The store is back. While the leases hold nobody touches them; once they run out, the
    // next run asks the network, finds each post, and records it: reconciled, not published again.
    rig.aws.proxy.heal();
    rig.clock.set(lease_until - Duration::seconds(1));
    assert_eq!(rig.run("store back, leases held").await.0.unwrap().claimed, 0);
    rig.clock.set(lease_until);
    let (summary, _) = rig.run("store back, leases run out").await;
    let summary = summary.unwrap();
    assert_eq!((summary.claimed, summary.reconciled, summary.published), (3, 3, 0), "{summary:?}");
    for d in &ds {
        let stored = rig.reload(d).await;
        assert_eq!((stored.state, stored.attempts), (DeliveryState::Published, 2));
        assert_eq!(stored.platform_post_id, rig.ledger.post_id_of(d));
        assert_eq!(rig.ledger.posts_of(d), 1, "found on the network, not published again");
        assert_eq!(published_events(&rig.events, d), 1);
    }
    assert_eq!(rig.ledger.lookups.load(Ordering::SeqCst), 3);
    measured("recovery of an unrecorded publication", format!("the lease: {} s after the claim", (lease_until - t0()).num_seconds()));
}

/// The SDK's retry quota (a token bucket per retry partition and process, 500 tokens; each
/// retry takes some): under an outage it runs out, and from then on each call is tried once.
#[tokio::test]
async fn a_long_outage_drains_the_sdks_retry_quota() {
    const CALLS: usize = 80;
    // 500 tokens at 10 a retry of a 500 (the SDK costs a transient error like a timeout), at 5
    // a retry of a throttle.
    for (what, fault, expected) in [("500", Fault::internal_error(), 50), ("throttled", Fault::throttling(), 100)] {
        let aws = Aws::new().await;
        aws.proxy.add(Rule::new(fault));
        let started = Instant::now();
        let calls = (0..CALLS).map(|i| {
            let store = aws.store.clone();
            async move { store.get_state(&format!("quota-{i}")).await }
        });
        let results = futures_util::future::join_all(calls).await;
        assert!(results.iter().all(Result::is_err));
        let requests = aws.proxy.seen().len();
        let retries = requests - CALLS;
        assert!(retries.abs_diff(expected) <= 5, "{what}: about {expected} retries, then the quota ran out: {requests} requests");
        measured(
            &format!("{CALLS} concurrent calls, DynamoDB always {what}"),
            format!("{requests} requests: {retries} retries of the {} a full quota would allow, {:.1?}", 2 * CALLS, started.elapsed()),
        );
    }
}

/// The write landed, its answer did not: DynamoDB applied it, then the SDK got a 500, a
/// closed connection or half an answer, and sent it again, which then failed its own
/// version check. Before the fix the publisher took that for someone else's write and
/// announced nothing: the delivery was published and recorded, its `Post Published` lost.
#[tokio::test]
async fn a_recorded_outcome_whose_answer_was_lost_is_still_announced() {
    let rig = PublisherRig::new().await;
    let faults = [
        ("a 500 after the write", Fault::internal_error_after()),
        ("the connection closed after the write", Fault::DropAfter),
        ("the answer cut off mid-way", Fault::ResetMidResponse),
    ];
    for (i, (what, fault)) in faults.into_iter().enumerate() {
        let at = t0() + Duration::minutes(10 * i as i64);
        rig.clock.set(at);
        let d = rig.schedule(1, at).await.remove(0);
        rig.aws.proxy.heal();
        rig.aws.proxy.forget();
        rig.aws.proxy.add(Rule::new(fault).on("PutItem").body_contains(RECORD).per_request(1));
        let (summary, _) = rig.run(what).await;
        let summary = summary.unwrap();
        assert_eq!(summary.published, 1, "{what}: {summary:?}");
        let stored = rig.reload(&d).await;
        assert_eq!((stored.state, stored.attempts), (DeliveryState::Published, 1), "{what}");
        assert_eq!(rig.ledger.posts_of(&d), 1, "{what}");
        assert_eq!(published_events(&rig.events, &d), 1, "{what}: announced once");
        assert_eq!(rig.aws.proxy.count("PutItem"), 3, "{what}: claim, record, the SDK's retry of the record");
    }
}

/// A claim that landed but whose answer was lost reads as a lost race: the delivery waits
/// for its lease, then is taken over, looked up on the network, and published once.
#[tokio::test]
async fn a_claim_whose_answer_was_lost_waits_for_its_lease_and_is_published_once() {
    let rig = PublisherRig::new().await;
    let d = rig.schedule(1, t0()).await.remove(0);
    rig.aws.proxy.add(Rule::new(Fault::DropAfter).on("PutItem").body_contains(CLAIM).per_request(1));
    let summary = rig.run("claim answer lost").await.0.unwrap();
    assert_eq!((summary.due, summary.claimed, summary.published), (1, 0, 0));
    let stored = rig.reload(&d).await;
    assert_eq!(stored.state, DeliveryState::Publishing, "the claim landed");
    assert_eq!(rig.ledger.posts_of(&d), 0);

    rig.aws.proxy.heal();
    let lease_until = stored.lease_until.unwrap();
    rig.clock.set(lease_until - Duration::seconds(1));
    assert_eq!(rig.run("lease held").await.0.unwrap().claimed, 0);
    rig.clock.set(lease_until);
    let summary = rig.run("lease run out").await.0.unwrap();
    assert_eq!((summary.claimed, summary.published), (1, 1), "{summary:?}");
    assert_eq!(rig.ledger.lookups.load(Ordering::SeqCst), 1, "looked up before publishing");
    assert_eq!(rig.ledger.posts_of(&d), 1);
    assert_eq!(published_events(&rig.events, &d), 1);
    let stored = rig.reload(&d).await;
    assert_eq!((stored.state, stored.attempts), (DeliveryState::Published, 2));
    measured("lateness after a lost claim answer", format!("{} s (the lease)", (lease_until - t0()).num_seconds()));
}

/// DynamoDB takes the write and never answers: Herald's SDK timeouts (3 s an attempt, 8 s in
/// all) give up; reading the delivery back tells whether it landed. Had nobody been able to
/// tell, the post is announced all the same (it exists), and a run that reconciles it later
/// announces it once more: events are at-least-once.
#[tokio::test]
async fn a_store_that_stops_answering_is_given_up_on_within_the_sdk_timeouts() {
    let rig = PublisherRig::new().await;
    let hang = || Fault::DelayAfter(StdDuration::from_secs(30));
    let delivery_read = |d: &Delivery| Rule::new(Fault::DelayBefore(StdDuration::from_secs(30))).on("GetItem").body_contains(&format!("DELIVERY#{}", d.id));

    // The record lands, its answers never come; the read-back says it is there.
    let d = rig.schedule(1, t0()).await.remove(0);
    rig.aws.proxy.add(Rule::new(hang()).on("PutItem").body_contains(RECORD));
    let (summary, took) = rig.run("record answers never come").await;
    assert_eq!(summary.unwrap().published, 1);
    assert!(took >= StdDuration::from_secs(7) && took < StdDuration::from_secs(30), "gave up after the 8 s operation timeout: {took:?}");
    assert_eq!(rig.reload(&d).await.state, DeliveryState::Published);
    assert_eq!(published_events(&rig.events, &d), 1);

    // The record lands and the read-back hangs too: announced anyway, the run reports the error.
    rig.aws.proxy.heal();
    let at = t0() + Duration::minutes(10);
    rig.clock.set(at);
    let d = rig.schedule(1, at).await.remove(0);
    rig.aws.proxy.add(Rule::new(hang()).on("PutItem").body_contains(RECORD));
    rig.aws.proxy.add(delivery_read(&d));
    let (summary, took) = rig.run("record and read-back hang").await;
    assert_eq!(summary.unwrap().published, 0);
    assert!(took < StdDuration::from_secs(30), "{took:?}");
    assert_eq!(rig.reload(&d).await.state, DeliveryState::Published, "it landed");
    assert_eq!(published_events(&rig.events, &d), 1, "announced although unconfirmed");
    rig.aws.proxy.heal();
    rig.clock.set(at + Duration::minutes(5));
    assert_eq!(rig.run("after the lease").await.0.unwrap().due, 0, "published: nothing to reconcile");
    assert_eq!(published_events(&rig.events, &d), 1, "so announced once");

    // The record is refused on every attempt and the read-back hangs: announced now, and
    // again by the run that reconciles it after the lease. Posted once.
    let at = t0() + Duration::minutes(20);
    rig.clock.set(at);
    let d = rig.schedule(1, at).await.remove(0);
    rig.aws.proxy.add(Rule::new(Fault::internal_error()).on("PutItem").body_contains(RECORD));
    rig.aws.proxy.add(delivery_read(&d));
    rig.run("record refused, read-back hangs").await.0.unwrap();
    let stored = rig.reload(&d).await;
    assert_eq!(stored.state, DeliveryState::Publishing, "not recorded");
    assert_eq!(published_events(&rig.events, &d), 1);
    rig.aws.proxy.heal();
    rig.clock.set(stored.lease_until.unwrap());
    assert_eq!(rig.run("after the lease").await.0.unwrap().reconciled, 1);
    assert_eq!(rig.reload(&d).await.state, DeliveryState::Published);
    assert_eq!(rig.ledger.posts_of(&d), 1, "posted once");
    assert_eq!(published_events(&rig.events, &d), 2, "announced at least once: here twice, same delivery_id");
}

// ------------------------------------------------------------------------------------------
// 2. Webhook intake on DynamoDB through the proxy
// ------------------------------------------------------------------------------------------

/// Meta's batch delivery (one body, several comments): `shared/tests/fixtures/webhooks`.
fn facebook_batch() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/tests/fixtures/webhooks/facebook/batch.json");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn meta_credentials() -> Value {
    json!({"app_secret": "meta-app-secret", "verify_token": "herald-verify", "access_token": "EAAG-token"})
}

/// The webhook router of the webhook-intake function, on DynamoDB through the proxy.
struct IntakeRig {
    aws: Aws,
    router: axum::Router,
    cipher: CredentialCipher,
    body: Vec<u8>,
    /// Distinct interactions the body holds.
    expected: usize,
}

impl IntakeRig {
    async fn new() -> IntakeRig {
        let aws = Aws::new().await;
        let cipher = cipher();
        herald_core::services::keys::ensure_team(&*aws.direct, &SystemClock, &team_id(), chrono_tz::Europe::Paris).await.unwrap();
        let ports = Ports::new(aws.store.clone(), Arc::new(SystemClock), cipher.clone());
        let router = herald_core::http::webhook_router(herald_core::http::AppState::new(ports));
        let body = facebook_batch();
        let parsed = herald_core::intake::webhooks::parse_for_account(Platform::Facebook, &body, None).unwrap();
        let ids: std::collections::HashSet<_> = parsed
            .iter()
            .filter(|e| matches!(e.payload, herald_core::intake::EventPayload::Interaction(_)))
            .map(|e| e.event_id.clone())
            .collect();
        assert!(ids.len() >= 2, "the batch holds several interactions");
        IntakeRig { aws, router, cipher, body, expected: ids.len() }
    }

    /// A fresh Facebook channel (its interactions, raw bodies and crisis state are its own).
    async fn channel(&self) -> Channel {
        let c = channel(&self.cipher, Platform::Facebook, meta_credentials());
        self.aws.direct.create_channel(&c).await.unwrap();
        c
    }

    /// One signed delivery of the batch, as Meta sends it (and sends it again when it got no
    /// 2xx): (status, body, how long it took).
    async fn deliver(&self, channel: &Channel) -> (u16, Value, StdDuration) {
        let creds = Credentials::from_json("c", &meta_credentials()).unwrap();
        let headers = herald_core::intake::webhooks::signing::headers(Platform::Facebook, &creds, &self.body, Utc::now()).unwrap();
        let mut req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/webhooks/facebook/{}", channel.id))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let started = Instant::now();
        let resp = self.router.clone().oneshot(req.body(axum::body::Body::from(self.body.clone())).unwrap()).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null), started.elapsed())
    }

    /// The channel's interactions in the inbox, read straight from moto.
    async fn stored(&self, channel: &Channel) -> Vec<Interaction> {
        inbox_of(&*self.aws.direct, channel).await
    }

    /// Interactions the channel's crisis detector counted (the sum of its buckets).
    async fn observed(&self, channel: &Channel) -> u64 {
        observed(&*self.aws.direct, channel).await
    }
}

async fn inbox_of(store: &dyn Store, channel: &Channel) -> Vec<Interaction> {
    let query = InboxQuery { channel: Some(channel.id), ..InboxQuery::status(InteractionStatus::Open) };
    let mut page = PageRequest::first(PageRequest::MAX_PAGE);
    let mut all = vec![];
    loop {
        let got = store.inbox(&team_id(), &query, &page).await.unwrap();
        all.extend(got.items);
        match got.next {
            Some(next) => page.cursor = Some(next),
            None => return all,
        }
    }
}

async fn observed(store: &dyn Store, channel: &Channel) -> u64 {
    let series = format!("crisis#{}#{}", channel.id, CrisisRule::default().bucket_secs());
    store.buckets(&series, i64::MIN, i64::MAX).await.unwrap().iter().map(|(_, c)| c.interactions).sum()
}

/// Each interaction exactly once (by its platform id).
fn assert_once(items: &[Interaction], expected: usize, what: &str) {
    let mut ids: Vec<_> = items.iter().map(|i| i.external_id.clone()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "{what}: an interaction stored twice");
    assert_eq!(n, expected, "{what}: interactions in the inbox");
}

/// The store goes down from its k-th request on, for every k a delivery makes: the webhook
/// answers 5xx (never 200 without having stored everything), and the platform's retry, once
/// the store is back, stores the rest: every interaction exactly once.
#[tokio::test]
async fn a_webhook_is_answered_5xx_until_stored_and_the_platforms_retry_lands_once() {
    let rig = IntakeRig::new().await;
    let clean = rig.channel().await;
    let (status, got, took) = rig.deliver(&clean).await;
    assert_eq!(status, 200, "{got}");
    assert_once(&rig.stored(&clean).await, rig.expected, "no fault");
    let requests = rig.aws.proxy.seen().len();
    measured("webhook intake, no fault", format!("{requests} DynamoDB requests, {took:.1?}"));

    let mut outcomes = vec![];
    for k in 0..requests {
        let ch = rig.channel().await;
        rig.aws.proxy.heal();
        rig.aws.proxy.forget();
        rig.aws.proxy.add(Rule::new(Fault::internal_error()).after(k));
        let (status, got, _) = rig.deliver(&ch).await;
        let stored = rig.stored(&ch).await;
        match status {
            200 => assert_once(&stored, rig.expected, &format!("outage from request {k}: answered 200, so all stored")),
            500 => assert_eq!(got["error"]["code"], "internal", "{got}"),
            other => panic!("outage from request {k}: answered {other}: {got}"),
        }
        outcomes.push(format!("{k}:{status}/{}", stored.len()));

        rig.aws.proxy.heal();
        let (status, got, _) = rig.deliver(&ch).await;
        assert_eq!(status, 200, "the retry after an outage from request {k}: {got}");
        assert_once(&rig.stored(&ch).await, rig.expected, &format!("after the retry (outage from request {k})"));
    }
    measured("webhook outage from request k (k:status/stored before the retry)", outcomes.join(" "));
}

/// Each request of a delivery in turn is applied by DynamoDB and then answered with a 500
/// (the SDK sends it again): the webhook is answered 200 and everything is stored once. The
/// crisis detector may count one interaction twice (its counter's `ADD`, applied and then
/// sent again by the SDK, adds twice).
#[tokio::test]
async fn a_webhook_whose_writes_lose_their_answers_is_stored_once() {
    let rig = IntakeRig::new().await;
    let clean = rig.channel().await;
    rig.deliver(&clean).await;
    let requests = rig.aws.proxy.seen().len();
    let mut counted = vec![];
    for k in 0..requests {
        let ch = rig.channel().await;
        rig.aws.proxy.heal();
        rig.aws.proxy.forget();
        rig.aws.proxy.add(Rule::new(Fault::internal_error_after()).after(k).times(1));
        let (status, got, _) = rig.deliver(&ch).await;
        assert_eq!(status, 200, "answer of request {k} lost: {got}");
        assert_once(&rig.stored(&ch).await, rig.expected, &format!("answer of request {k} lost"));
        let op = rig.aws.proxy.seen().iter().find(|s| s.fault.is_some()).map(|s| s.operation.clone()).unwrap_or_default();
        counted.push(format!("{k}:{op}:created {}/observed {}", got["created"], rig.observed(&ch).await));
        rig.aws.proxy.heal();
        let (status, again, _) = rig.deliver(&ch).await;
        assert_eq!((status, again["created"].as_u64()), (200, Some(0)), "redelivery after request {k}: {again}");
        assert_once(&rig.stored(&ch).await, rig.expected, &format!("redelivered, request {k}"));
    }
    measured(
        &format!("webhook, answer of request k lost ({} interactions; k:operation:created/observed by the crisis detector)", rig.expected),
        counted.join(" "),
    );
}

#[tokio::test]
async fn a_webhook_rides_out_throttling_rarer_than_the_sdk_retries() {
    let rig = IntakeRig::new().await;
    let ch = rig.channel().await;
    rig.aws.proxy.add(Rule::new(Fault::throughput_exceeded()).on("PutItem").per_request(2));
    rig.aws.proxy.add(Rule::new(Fault::throttling()).on("GetItem").per_request(2));
    let (status, got, took) = rig.deliver(&ch).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["created"].as_u64(), Some(rig.expected as u64), "{got}");
    assert_once(&rig.stored(&ch).await, rig.expected, "throttled twice per call");
    measured("webhook intake, every call throttled twice", format!("200 after {took:.1?}, {} requests", rig.aws.proxy.seen().len()));
}

/// DynamoDB accepts connections and never answers: the webhook answers 500 within the SDK's
/// 8 s operation timeout (the function has 10 s), and the platform's retry lands once.
#[tokio::test]
async fn a_hung_store_turns_a_webhook_into_a_5xx_within_the_sdk_timeouts() {
    let rig = IntakeRig::new().await;
    let ch = rig.channel().await;
    rig.aws.proxy.add(Rule::new(Fault::DelayBefore(StdDuration::from_secs(30))));
    let (status, got, took) = rig.deliver(&ch).await;
    assert_eq!(status, 500, "{got}");
    assert!(took >= StdDuration::from_secs(7) && took < StdDuration::from_secs(10), "{took:?}");
    measured("webhook intake, store never answering", format!("500 after {took:.1?}, {} attempts", rig.aws.proxy.seen().len()));
    rig.aws.proxy.heal();
    let (status, got, _) = rig.deliver(&ch).await;
    assert_eq!(status, 200, "{got}");
    assert_once(&rig.stored(&ch).await, rig.expected, "after the retry");
}

// ------------------------------------------------------------------------------------------
// 3. EventBridge PutEvents: partial failures and errors
// ------------------------------------------------------------------------------------------

/// A bus in moto whose rule sends every Herald event to a queue, and the sink on it through
/// the proxy (the functions' EventBridge client: `herald_core::aws::eventbridge_client`).
struct Bus {
    aws: Aws,
    bus: String,
    sink: EventBridgeSink,
    direct: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Bus {
    async fn new() -> Bus {
        let aws = Aws::new().await;
        let direct = aws_sdk_eventbridge::Client::new(&aws.direct_sdk);
        let sqs = aws_sdk_sqs::Client::new(&aws.direct_sdk);
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let bus = format!("herald-faults-{suffix}");
        direct.create_event_bus().name(&bus).send().await.unwrap();
        let queue_url = sqs.create_queue().queue_name(format!("herald-faults-{suffix}")).send().await.unwrap().queue_url.unwrap();
        let arn_attr = aws_sdk_sqs::types::QueueAttributeName::QueueArn;
        let attrs = sqs.get_queue_attributes().queue_url(&queue_url).attribute_names(arn_attr.clone()).send().await.unwrap();
        let queue_arn = attrs.attributes.unwrap()[&arn_attr].clone();
        direct
            .put_rule()
            .name("all")
            .event_bus_name(&bus)
            .event_pattern(json!({"source": ["herald"]}).to_string())
            .send()
            .await
            .unwrap();
        let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(&queue_arn).build().unwrap();
        direct.put_targets().rule("all").event_bus_name(&bus).targets(target).send().await.unwrap();
        let sink = EventBridgeSink::new(eventbridge_client(&aws.sdk), &bus);
        Bus { aws, bus, sink, direct, sqs, queue_url }
    }

    /// Every event on the queue so far, waiting until `expected` arrived (at most 20 s), then
    /// a second more, so that one too many shows.
    async fn delivered(&self, expected: usize) -> Vec<Value> {
        let mut got = vec![];
        let deadline = Instant::now() + StdDuration::from_secs(20);
        loop {
            let wait = if got.len() >= expected { 1 } else { 2 };
            let out = self.sqs.receive_message().queue_url(&self.queue_url).max_number_of_messages(10).wait_time_seconds(wait).send().await.unwrap();
            let messages = out.messages.unwrap_or_default();
            let empty = messages.is_empty();
            for m in messages {
                got.push(serde_json::from_str::<Value>(m.body().unwrap()).unwrap());
                self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
            }
            if (got.len() >= expected && empty) || Instant::now() > deadline {
                return got;
            }
        }
    }
}

fn event(kind: EventKind, delivery: &str) -> herald_core::events::Event {
    herald_core::events::Event::new(kind, &team_id(), t0(), json!({"delivery_id": delivery, "url": "https://example.social/@cafe/1"}))
}

/// `PutEvents` answered 200 with the entry refused: `FailedEntryCount` 1 and an `ErrorCode`.
fn refused(code: &str) -> Fault {
    Fault::Answer {
        status: 200,
        content_type: EVENTBRIDGE_JSON,
        body: json!({"FailedEntryCount": 1, "Entries": [{"ErrorCode": code, "ErrorMessage": format!("injected {code}")}]}).to_string(),
        headers: vec![],
    }
}

/// Log lines written as the functions write them (JSON, `herald_core::logging::init_json`).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Logs {
    type Writer = Logs;
    fn make_writer(&'a self) -> Logs {
        self.clone()
    }
}

impl Logs {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        tracing_subscriber::fmt().json().with_current_span(true).with_ansi(false).without_time().with_writer(self.clone()).finish()
    }

    fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap().lines().map(|l| serde_json::from_str(l).expect("a JSON log line")).collect()
    }

    /// The lines a CloudWatch filter pattern `"herald.events.undelivered"` matches.
    fn undelivered(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .filter(|l| l.contains(UNDELIVERED_MARK))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn eventbridge_partial_failures_are_put_again_until_the_bus_takes_the_event() {
    let bus = Bus::new().await;
    for (code, times) in [("ThrottlingException", 2), ("InternalFailure", 3)] {
        bus.aws.proxy.heal();
        bus.aws.proxy.forget();
        bus.aws.proxy.add(Rule::new(refused(code)).on("PutEvents").times(times));
        let logs = Logs::default();
        let started = Instant::now();
        let result = tracing::instrument::WithSubscriber::with_subscriber(bus.sink.emit(&event(EventKind::PostPublished, code)), logs.subscriber()).await;
        let took = started.elapsed();
        assert!(result.is_ok(), "{code}: {result:?}");
        assert_eq!(bus.aws.proxy.count("PutEvents"), times + 1, "{code}: refused {times} times, then taken");
        assert!(logs.undelivered().is_empty(), "{code}: delivered in the end, no alarm");
        let got = bus.delivered(1).await;
        assert_eq!(got.len(), 1, "{code}: on the bus once: {got:?}");
        assert_eq!(got[0]["detail"]["delivery_id"], code);
        measured(&format!("PutEvents entry refused {times}× with {code}"), format!("delivered on put {} after {took:.1?}", times + 1));
    }
}

/// The bus refuses the event on every put: the publication is not held back, the event is
/// logged once, whole, with the mark the template's metric filters count; from that line it
/// can be put on the bus again.
#[tokio::test]
async fn an_event_the_bus_keeps_refusing_is_logged_whole_for_the_alarm_and_can_be_put_again() {
    let bus = Bus::new().await;
    bus.aws.proxy.add(Rule::new(refused("ThrottlingException")).on("PutEvents"));
    // The publisher, on the table around the proxy, its events on the refusing bus.
    let clock = Arc::new(ManualClock::new(t0()));
    let ledger = Arc::new(Ledger::default());
    let cipher = cipher();
    let ch = channel(&cipher, Platform::Mastodon, json!({}));
    bus.aws.direct.create_channel(&ch).await.unwrap();
    let d = schedule(&*bus.aws.direct, &ch, 1, t0()).await.remove(0);
    let sink = EventBridgeSink::new(eventbridge_client(&bus.aws.sdk), &bus.bus);
    let ports = Ports::new(bus.aws.direct.clone(), clock, cipher)
        .with_events(Arc::new(sink))
        .with_adapters(Adapters::default().with(Platform::Mastodon, ledger.clone()));
    let publisher = Publisher::new(ports, PublisherConfig::default());
    let logs = Logs::default();
    let started = Instant::now();
    let summary = tracing::instrument::WithSubscriber::with_subscriber(publisher.run_once(), logs.subscriber()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(summary.published, 1, "the bus does not hold back publishing");
    assert_eq!(reload(&*bus.aws.direct, &d).await.state, DeliveryState::Published);
    assert_eq!(bus.aws.proxy.count("PutEvents"), 4, "4 puts in all");
    assert!(bus.delivered(0).await.is_empty());
    measured("PutEvents entry always refused", format!("4 puts, given up after {took:.1?}"));

    let lines = logs.undelivered();
    assert_eq!(lines.len(), 1, "one line per lost event: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "ERROR");
    let fields = &line["fields"];
    assert!(fields["message"].as_str().unwrap().starts_with(UNDELIVERED_MARK), "{line}");
    assert_eq!(fields["detail_type"], "Post Published");
    assert_eq!(fields["bus"], bus.bus.as_str());
    assert_eq!(fields["attempts"], 4);
    assert!(fields["error"].as_str().unwrap().contains("ThrottlingException"), "{line}");
    assert!(logs.lines().iter().any(|l| l["fields"]["message"] == "event not delivered"), "the publisher says so too");

    // The line holds the entry: put it on the bus again (docs/reliability.md: the runbook).
    let detail: Value = serde_json::from_str(fields["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["delivery_id"], json!(d.id));
    let time = DateTime::parse_from_rfc3339(fields["time"].as_str().unwrap()).unwrap();
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(fields["bus"].as_str().unwrap())
        .source(fields["source"].as_str().unwrap())
        .detail_type(fields["detail_type"].as_str().unwrap())
        .detail(fields["detail"].as_str().unwrap())
        .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(time.timestamp_millis()))
        .build();
    let out = bus.direct.put_events().entries(entry).send().await.unwrap();
    assert_eq!(out.failed_entry_count(), 0);
    let got = bus.delivered(1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["detail-type"], "Post Published");
    assert_eq!(got[0]["detail"], detail);
}

#[tokio::test]
async fn a_refusal_that_retrying_cannot_cure_is_not_retried_but_logged() {
    let bus = Bus::new().await;
    bus.aws.proxy.add(Rule::new(refused("MalformedDetail")).on("PutEvents"));
    let logs = Logs::default();
    let result = tracing::instrument::WithSubscriber::with_subscriber(bus.sink.emit(&event(EventKind::PostFailed, "d-1")), logs.subscriber()).await;
    assert!(result.is_err());
    assert_eq!(bus.aws.proxy.count("PutEvents"), 1, "not retried");
    let lines = logs.undelivered();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["fields"]["attempts"], 1);
    assert_eq!(lines[0]["fields"]["detail_type"], "Post Failed");
}

/// Throttling and 5xx of the call itself (not of the entry): the SDK retries them; past its 3
/// attempts the sink puts again, and at last logs the event.
#[tokio::test]
async fn eventbridge_call_throttling_and_5xx_are_retried() {
    let bus = Bus::new().await;
    let throttled = Fault::Answer {
        status: 400,
        content_type: EVENTBRIDGE_JSON,
        body: json!({"__type": "ThrottlingException", "message": "Rate exceeded"}).to_string(),
        headers: vec![],
    };
    let internal = Fault::Answer {
        status: 500,
        content_type: EVENTBRIDGE_JSON,
        body: json!({"__type": "InternalException", "message": "injected"}).to_string(),
        headers: vec![],
    };
    bus.aws.proxy.add(Rule::new(throttled).on("PutEvents").times(1));
    bus.aws.proxy.add(Rule::new(internal.clone()).on("PutEvents").times(1));
    bus.sink.emit(&event(EventKind::ReportReady, "r-1")).await.expect("the SDK's retries absorb it");
    assert_eq!(bus.aws.proxy.count("PutEvents"), 3);
    assert_eq!(bus.delivered(1).await.len(), 1);

    bus.aws.proxy.heal();
    bus.aws.proxy.forget();
    bus.aws.proxy.add(Rule::new(internal).on("PutEvents"));
    let logs = Logs::default();
    let started = Instant::now();
    let result = tracing::instrument::WithSubscriber::with_subscriber(bus.sink.emit(&event(EventKind::ReportReady, "r-2")), logs.subscriber()).await;
    let took = started.elapsed();
    assert!(result.is_err());
    let calls = bus.aws.proxy.count("PutEvents");
    assert_eq!(calls, 12, "4 puts of 3 SDK attempts each");
    assert_eq!(logs.undelivered().len(), 1);
    measured("PutEvents always 500", format!("{calls} requests (4 puts × 3 SDK attempts), given up after {took:.1?}"));
}

/// Every function's log group has two metric filters counting into the one `Failures` metric:
/// undelivered-event lines, and Lambda's reports of invocations and inits that did not succeed;
/// one alarm watches the metric and mails the alerts topic.
#[test]
fn the_template_counts_undelivered_events_and_failed_invocations_in_every_function_log_and_alarms() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template.yaml");
    let template = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = template.lines().collect();
    // Function log groups: `LogGroup: !Ref X` inside a function's LoggingConfig.
    let groups: Vec<&str> = lines
        .iter()
        .filter_map(|l| l.trim().strip_prefix("LogGroup: !Ref "))
        .collect();
    assert_eq!(groups.len(), 6, "six functions, each with its log group: {groups:?}");
    let undelivered = format!("FilterPattern: '\"{UNDELIVERED_MARK}\"'");
    let failed = r#"FilterPattern: '{ ($.type = "platform.report" || $.type = "platform.initReport") && $.record.status != "success" }'"#;
    for group in groups {
        // Every metric filter on this group: the lines around each `LogGroupName: !Ref <group>`.
        let filters: Vec<&[&str]> = lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim() == format!("LogGroupName: !Ref {group}"))
            .map(|(at, _)| &lines[at.saturating_sub(3)..(at + 7).min(lines.len())])
            .filter(|f| f.iter().any(|l| l.contains("Type: AWS::Logs::MetricFilter")))
            .collect();
        for pattern in [undelivered.as_str(), failed] {
            let filter = filters
                .iter()
                .find(|f| f.iter().any(|l| l.trim() == pattern))
                .unwrap_or_else(|| panic!("{group}: no filter {pattern}: {filters:?}"));
            assert!(filter.iter().any(|l| l.trim() == "MetricName: Failures"), "{group}: {filter:?}");
        }
    }
    let alarm = lines.iter().position(|l| l.trim() == "FailuresAlarm:").expect("the alarm");
    let body = &lines[alarm..(alarm + 24).min(lines.len())];
    assert!(body.iter().any(|l| l.trim() == "MetricName: Failures"), "{body:?}");
    assert!(body.iter().any(|l| l.trim() == "- !Ref AlertsTopic"), "{body:?}");
    // Three alarm metrics in all ($0.30 a month at list price; docs/performance.md, Lambda).
    let alarms = lines.iter().filter(|l| l.trim() == "Type: AWS::CloudWatch::Alarm").count();
    assert_eq!(alarms, 3, "FailuresAlarm, ThrottlesAlarm, DeadLettersAlarm");
    assert!(!template.contains("AWS::CloudWatch::CompositeAlarm") && !template.contains("Metrics:"), "no composite or metric-math alarm");
}

// ------------------------------------------------------------------------------------------
// A fake Mastodon (platforms.md §1: statuses with Idempotency-Key, the account, its recent
// statuses, notifications; errors `{"error": …}`)
// ------------------------------------------------------------------------------------------

const TOKEN: &str = "masto-token-1";

#[derive(Default)]
struct MastodonState {
    /// Statuses made, oldest first.
    statuses: Vec<Value>,
    /// Status index by `Idempotency-Key` (Mastodon answers a known key with the status it made).
    by_key: HashMap<String, usize>,
    /// The account's notifications (`GET /api/v1/notifications`), oldest first.
    notifications: Vec<Value>,
    /// `GET /api/v1/accounts/:id/statuses` lists nothing (the post is beyond the 40 it shows).
    hide_timeline: bool,
}

#[derive(Clone)]
struct FakeMastodon {
    state: Arc<Mutex<MastodonState>>,
    clock: Arc<dyn Clock>,
    url: String,
}

fn cmp_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl FakeMastodon {
    async fn start(clock: Arc<dyn Clock>) -> FakeMastodon {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeMastodon { state: Default::default(), clock, url };
        let app = axum::Router::new().fallback(mastodon).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn statuses(&self) -> Vec<Value> {
        self.state.lock().unwrap().statuses.clone()
    }

    /// `n` mentions of the account, notification ids 1001… and status ids 5001….
    fn mentions(&self, n: u64) {
        let mut s = self.state.lock().unwrap();
        for i in 1..=n {
            let at = (t0() - Duration::minutes(30) + Duration::minutes(i as i64)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            s.notifications.push(json!({
                "id": (1000 + i).to_string(), "type": "mention", "created_at": at,
                "account": {"id": "77", "acct": "alice@example.social", "username": "alice", "display_name": "Alice"},
                "status": {
                    "id": (5000 + i).to_string(), "created_at": at, "visibility": "public", "in_reply_to_id": null,
                    "content": format!("<p><span class=\"h-card\"><a href=\"https://example.social/@cafe\" class=\"u-url mention\">@<span>cafe</span></a></span> question {i}: open on Sunday?</p>"),
                    "account": {"id": "77", "acct": "alice@example.social", "username": "alice", "display_name": "Alice"},
                },
            }));
        }
    }
}

fn masto_json(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json; charset=utf-8")], body.to_string()).into_response()
}

async fn mastodon(State(fake): State<FakeMastodon>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    if parts.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {TOKEN}")) {
        return masto_json(StatusCode::UNAUTHORIZED, json!({"error": "The access token is invalid"}));
    }
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .map(url_pairs)
        .unwrap_or_default();
    let mut s = fake.state.lock().unwrap();
    match (parts.method.as_str(), parts.uri.path()) {
        ("POST", "/api/v1/statuses") => {
            let key = parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            if let Some(&i) = s.by_key.get(&key).filter(|_| !key.is_empty()) {
                return masto_json(StatusCode::OK, s.statuses[i].clone());
            }
            let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let id = format!("11000{}", s.statuses.len() + 1);
            let status = json!({
                "id": id,
                "created_at": fake.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "url": format!("{}/@cafe/{id}", fake.url),
                "uri": format!("{}/users/cafe/statuses/{id}", fake.url),
                "content": format!("<p>{}</p>", params["status"].as_str().unwrap_or("")),
                "media_attachments": [],
            });
            s.statuses.push(status.clone());
            let i = s.statuses.len() - 1;
            s.by_key.insert(key, i);
            masto_json(StatusCode::OK, status)
        }
        ("GET", "/api/v1/accounts/verify_credentials") => masto_json(StatusCode::OK, json!({"id": "109", "username": "cafe", "acct": "cafe"})),
        ("GET", "/api/v1/accounts/109/statuses") => {
            let listed: Vec<Value> = if s.hide_timeline { vec![] } else { s.statuses.iter().rev().take(40).cloned().collect() };
            masto_json(StatusCode::OK, json!(listed))
        }
        ("GET", "/api/v1/notifications") => {
            // Newest first; with min_id, the page just after it (Mastodon's forward paging).
            let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(40);
            let mut page: Vec<Value> = s
                .notifications
                .iter()
                .filter(|n| query.get("min_id").is_none_or(|m| cmp_ids(n["id"].as_str().unwrap(), m).is_gt()))
                .take(limit)
                .cloned()
                .collect();
            page.reverse();
            masto_json(StatusCode::OK, json!(page))
        }
        _ => masto_json(StatusCode::NOT_FOUND, json!({"error": "Record not found"})),
    }
}

fn url_pairs(q: &str) -> HashMap<String, String> {
    q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

// ------------------------------------------------------------------------------------------
// 4. Publishing to Mastodon through the proxy: 5xx, timeouts, resets
// ------------------------------------------------------------------------------------------

struct MastodonRig {
    fake: FakeMastodon,
    proxy: FaultProxy,
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    events: Arc<MemorySink>,
    publisher: Publisher,
    channel: Channel,
}

impl MastodonRig {
    /// The real Mastodon adapter (5 s per exchange) reaching the fake through the proxy.
    async fn new(max_attempts: u32) -> MastodonRig {
        let clock = Arc::new(ManualClock::new(t0()));
        let fake = FakeMastodon::start(clock.clone()).await;
        let proxy = FaultProxy::start(&fake.url).await;
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let events = Arc::new(MemorySink::default());
        let cipher = cipher();
        let channel = channel(&cipher, Platform::Mastodon, json!({"instance_url": proxy.url, "access_token": TOKEN}));
        store.create_channel(&channel).await.unwrap();
        let config = MastodonConfig { connect_timeout: StdDuration::from_secs(2), timeout: StdDuration::from_secs(5), ..MastodonConfig::default() };
        let adapter = Arc::new(MastodonAdapter::with_config(clock.clone(), config, NetworkPolicy::AllowPrivate).unwrap());
        let ports = Ports::new(store.clone(), clock.clone(), cipher)
            .with_events(events.clone())
            .with_adapters(Adapters::default().with(Platform::Mastodon, adapter));
        let config = PublisherConfig { base_backoff: Duration::seconds(10), max_attempts, ..PublisherConfig::default() };
        MastodonRig { fake, proxy, store, clock, events, publisher: Publisher::new(ports, config), channel }
    }

    /// Runs the publisher until the delivery is published or failed, moving the clock to each
    /// retry (or lease) time; returns it and the state after each run.
    async fn settle(&self, d: &Delivery) -> (Delivery, Vec<String>) {
        let mut runs = vec![];
        for _ in 0..10 {
            let summary = self.publisher.run_once().await.unwrap();
            let now = reload(&*self.store, d).await;
            runs.push(format!("{}{}", now.state, now.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()));
            match now.state {
                DeliveryState::Published | DeliveryState::Failed => return (now, runs),
                DeliveryState::Scheduled => self.clock.set(now.retry_at.expect("a retry time")),
                DeliveryState::Publishing => self.clock.set(now.lease_until.expect("a lease")),
                other => panic!("{other}: {summary:?}"),
            }
        }
        panic!("not settled after 10 runs: {runs:?}");
    }
}

const STATUSES: &str = "POST /api/v1/statuses";

#[tokio::test]
async fn mastodon_5xx_answers_are_retried_and_the_post_made_once() {
    let rig = MastodonRig::new(5).await;
    let d = schedule(&*rig.store, &rig.channel, 1, t0()).await.remove(0);
    for status in [500, 502, 503] {
        rig.proxy.add(Rule::new(Fault::status(status)).on(STATUSES).times(1));
    }
    let (d, runs) = rig.settle(&d).await;
    assert_eq!(d.state, DeliveryState::Published, "{runs:?}");
    assert_eq!(d.attempts, 4);
    assert_eq!(rig.fake.statuses().len(), 1, "one status on Mastodon");
    assert_eq!(d.platform_post_id.as_deref(), rig.fake.statuses()[0]["id"].as_str());
    assert_eq!(runs[1], "scheduled (Mastodon answered HTTP 502 for the post: injected HTTP 502)", "{runs:?}");
    assert_eq!(published_events(&rig.events, &d), 1);
    measured("Mastodon 500, 502, 503 then 200", format!("published on attempt {}, runs: {runs:?}", d.attempts));
}

#[tokio::test]
async fn mastodon_failing_for_good_ends_failed_with_a_readable_reason() {
    let rig = MastodonRig::new(3).await;
    let d = schedule(&*rig.store, &rig.channel, 1, t0()).await.remove(0);
    rig.proxy.add(Rule::new(Fault::status(503)).on(STATUSES));
    let (d, runs) = rig.settle(&d).await;
    assert_eq!((d.state, d.attempts), (DeliveryState::Failed, 3), "{runs:?}");
    assert_eq!(d.last_error.as_deref(), Some("gave up after 3 attempts: Mastodon answered HTTP 503 for the post: injected HTTP 503"));
    assert!(rig.fake.statuses().is_empty());
    let failed: Vec<_> = rig.events.events().into_iter().filter(|e| e.kind == EventKind::PostFailed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail["reason"], d.last_error.clone().unwrap());
}

/// The network took the post and its answer never came (a timeout), or came cut off, or the
/// connection closed: the retry looks the post up first, finds it, and records it.
#[tokio::test]
async fn a_post_whose_answer_was_lost_is_found_not_made_again() {
    let faults = [
        ("answer after the 5 s timeout", Fault::DelayAfter(StdDuration::from_secs(10))),
        ("answer cut off mid-way", Fault::ResetMidResponse),
        ("connection closed after the post", Fault::DropAfter),
        ("connection closed before the post", Fault::Drop),
    ];
    for (what, fault) in faults {
        let rig = MastodonRig::new(5).await;
        let d = schedule(&*rig.store, &rig.channel, 1, t0()).await.remove(0);
        rig.proxy.add(Rule::new(fault).on(STATUSES).times(1));
        let (d, runs) = rig.settle(&d).await;
        assert_eq!(d.state, DeliveryState::Published, "{what}: {runs:?}");
        assert_eq!(rig.fake.statuses().len(), 1, "{what}: one status on Mastodon");
        assert_eq!(d.platform_post_id.as_deref(), rig.fake.statuses()[0]["id"].as_str(), "{what}");
        assert_eq!(published_events(&rig.events, &d), 1, "{what}");
        let posts = rig.proxy.count(STATUSES);
        let lookups = rig.proxy.count("GET /api/v1/accounts/109/statuses");
        measured(&format!("Mastodon, {what}"), format!("{runs:?}; POST statuses {posts}×, recent-posts lookups {lookups}×"));
    }
}

/// The lookup misses the post (more than 40 posts since, say): the retry posts again with the
/// same `Idempotency-Key`, and Mastodon answers with the status it already made.
#[tokio::test]
async fn a_post_the_lookup_misses_is_saved_by_the_idempotency_key() {
    let rig = MastodonRig::new(5).await;
    rig.fake.state.lock().unwrap().hide_timeline = true;
    let d = schedule(&*rig.store, &rig.channel, 1, t0()).await.remove(0);
    rig.proxy.add(Rule::new(Fault::DelayAfter(StdDuration::from_secs(10))).on(STATUSES).times(1));
    let (d, runs) = rig.settle(&d).await;
    assert_eq!(d.state, DeliveryState::Published, "{runs:?}");
    assert_eq!(rig.proxy.count(STATUSES), 2, "posted again…");
    assert_eq!(rig.fake.statuses().len(), 1, "…and Mastodon made one status");
    assert_eq!(d.platform_post_id.as_deref(), rig.fake.statuses()[0]["id"].as_str());
}

// ------------------------------------------------------------------------------------------
// 5. Notification polling when the store fails mid-poll
// ------------------------------------------------------------------------------------------

struct PollRig {
    aws: Aws,
    fake: FakeMastodon,
    intake: Intake,
    adapter: Arc<MastodonAdapter>,
    cipher: CredentialCipher,
}

impl PollRig {
    async fn new(mentions: u64) -> PollRig {
        let aws = Aws::new().await;
        let clock = Arc::new(ManualClock::new(t0()));
        let fake = FakeMastodon::start(clock.clone()).await;
        fake.mentions(mentions);
        herald_core::services::keys::ensure_team(&*aws.direct, &*clock, &team_id(), chrono_tz::Europe::Paris).await.unwrap();
        let cipher = cipher();
        let adapter = Arc::new(MastodonAdapter::new(clock.clone(), NetworkPolicy::AllowPrivate).unwrap());
        let ports = Ports::new(aws.store.clone(), clock, cipher.clone());
        PollRig { aws, fake, intake: Intake::new(ports), adapter, cipher }
    }

    async fn channel(&self) -> Channel {
        let c = channel(&self.cipher, Platform::Mastodon, json!({"instance_url": self.fake.url, "access_token": TOKEN}));
        self.aws.direct.create_channel(&c).await.unwrap();
        c
    }

    async fn poll(&self, c: &Channel) -> Result<herald_core::intake::IngestSummary, String> {
        self.intake.poll_channel(c, &*self.adapter).await.map_err(|e| e.to_string())
    }

    async fn cursor(&self, c: &Channel) -> Option<String> {
        let state = self.aws.direct.get_state(&format!("poll#{}", c.id)).await.unwrap()?;
        serde_json::from_str::<Value>(&state.value).unwrap()["cursor"].as_str().map(str::to_owned)
    }
}

/// The store goes down from its k-th request on, for every k a poll makes: the cursor never
/// moves past what was stored, and the next round stores the rest, nothing twice.
#[tokio::test]
async fn a_store_failing_mid_poll_keeps_the_cursor_and_the_next_round_stores_the_rest_once() {
    const N: usize = 3;
    let rig = PollRig::new(N as u64).await;
    let clean = rig.channel().await;
    let got = rig.poll(&clean).await.unwrap();
    assert_eq!(got.created, N);
    assert_eq!(rig.cursor(&clean).await.as_deref(), Some("1003"));
    let requests = rig.aws.proxy.seen().len();
    measured("notification poll, no fault", format!("{requests} DynamoDB requests for {N} mentions"));

    let mut outcomes = vec![];
    for k in 0..requests {
        let ch = rig.channel().await;
        rig.aws.proxy.heal();
        rig.aws.proxy.forget();
        rig.aws.proxy.add(Rule::new(Fault::internal_error()).after(k));
        let first = rig.poll(&ch).await;
        let stored = inbox_of(&*rig.aws.direct, &ch).await;
        let cursor = rig.cursor(&ch).await;
        match &first {
            Ok(_) => assert_once(&stored, N, &format!("outage from {k}: the poll succeeded, so all stored")),
            Err(_) => assert_eq!(cursor, None, "outage from {k}: the cursor did not move"),
        }
        if cursor.is_some() {
            assert_once(&stored, N, &format!("outage from {k}: the cursor moved, so all stored"));
        }
        outcomes.push(format!("{k}:{}/{}", if first.is_ok() { "ok" } else { "err" }, stored.len()));

        rig.aws.proxy.heal();
        let second = rig.poll(&ch).await.unwrap();
        assert_once(&inbox_of(&*rig.aws.direct, &ch).await, N, &format!("next round after an outage from {k}"));
        assert_eq!(second.created + second.duplicates, if first.is_ok() { 0 } else { N }, "outage from {k}: {second:?}");
        assert_eq!(second.created, N - stored.len(), "outage from {k}: {second:?}");
        assert_eq!(rig.cursor(&ch).await.as_deref(), Some("1003"));
        let third = rig.poll(&ch).await.unwrap();
        assert_eq!((third.created, third.duplicates), (0, 0), "nothing new: {third:?}");
    }
    measured("poll outage from request k (k:first round/stored)", outcomes.join(" "));
}

/// Each request of a poll in turn is applied and then answered with a 500: every mention is
/// stored once and the cursor moves.
#[tokio::test]
async fn a_poll_whose_writes_lose_their_answers_stores_each_mention_once() {
    const N: usize = 3;
    let rig = PollRig::new(N as u64).await;
    let clean = rig.channel().await;
    rig.poll(&clean).await.unwrap();
    let requests = rig.aws.proxy.seen().len();
    let mut outcomes = vec![];
    for k in 0..requests {
        let ch = rig.channel().await;
        rig.aws.proxy.heal();
        rig.aws.proxy.forget();
        rig.aws.proxy.add(Rule::new(Fault::internal_error_after()).after(k).times(1));
        let got = rig.poll(&ch).await;
        let op = rig.aws.proxy.seen().iter().find(|s| s.fault.is_some()).map(|s| s.operation.clone()).unwrap_or_default();
        let got = got.unwrap_or_else(|e| panic!("answer of request {k} ({op}) lost: {e}"));
        assert_once(&inbox_of(&*rig.aws.direct, &ch).await, N, &format!("answer of request {k} lost"));
        assert_eq!(rig.cursor(&ch).await.as_deref(), Some("1003"), "answer of request {k} lost");
        outcomes.push(format!("{k}:{op}:created {}/observed {}", got.created, observed(&*rig.aws.direct, &ch).await));
        rig.aws.proxy.heal();
        let again = rig.poll(&ch).await.unwrap();
        assert_eq!((again.created, again.duplicates), (0, 0));
    }
    measured(&format!("poll, answer of request k lost ({N} mentions; k:operation:created/observed by the crisis detector)"), outcomes.join(" "));
}
