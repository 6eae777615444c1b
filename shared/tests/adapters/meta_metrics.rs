//! The Facebook, Instagram and Threads metrics against a small fake Graph API on 127.0.0.1,
//! built from platforms.md §4.3–4.4 and §5.3 and Meta's insights references: a Page post's
//! `shares`, `reactions.summary(total_count)` and `comments.summary(true)`; media insights as
//! `{"data":[{"name","period","values":[{"value"}],"title","id"}]}` with a metric that has no
//! data left out (not 0); Threads' `followers_count` as `total_value`; unknown metrics refused
//! with code 100; error bodies `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`
//! and the usage headers `X-App-Usage` / `X-Business-Use-Case-Usage`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use herald_core::clock::ManualClock;
use herald_core::crypto::Credentials;
use herald_core::domain::{Channel, ChannelId, ChannelName, MetricCounters, Platform, TeamId};
use herald_core::platforms::meta::facebook::FacebookAdapter;
use herald_core::platforms::meta::instagram::InstagramAdapter;
use herald_core::platforms::meta::threads::ThreadsAdapter;
use herald_core::platforms::meta::{MetaConfig, RATE_LIMIT_PAUSE};
use herald_core::platforms::metrics::PostRef;
use herald_core::platforms::{MetricsAdapter, MetricsError, NetworkPolicy};
use serde_json::{Value, json};

const TOKEN: &str = "EAAG-metrics-token";
const PAGE: &str = "1001";
const IG_USER: &str = "17841400000000001";
const THREADS_USER: &str = "7001";

/// The media insights each network knows (Instagram Media Insights and Threads Insights
/// references); anything else is refused with code 100, as a retired metric is.
const IG_METRICS: &[&str] = &["reach", "likes", "comments", "shares", "saved", "views", "total_interactions", "follows", "profile_visits"];
const THREADS_METRICS: &[&str] = &["views", "likes", "replies", "reposts", "quotes", "shares"];
const THREADS_ACCOUNT_METRICS: &[&str] = &["views", "likes", "replies", "reposts", "quotes", "clicks", "followers_count"];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The fake Graph API

/// A status, extra headers and a JSON body to answer with.
type CannedReply = (StatusCode, Vec<(&'static str, String)>, Value);

#[derive(Default)]
struct FakeState {
    /// Every request: its path without the version, and its query.
    seen: Vec<(String, HashMap<String, String>)>,
    /// Page posts and videos by id, as the Graph API shows their fields.
    objects: HashMap<String, Value>,
    /// Media insights by media id: the metrics that have data (the others are left out).
    insights: HashMap<String, Vec<(&'static str, u64)>>,
    /// Metrics Meta has retired since Herald was written: refused like an unknown one.
    retired: Vec<&'static str>,
    /// By object id: the answer instead of the object (deleted, throttled…).
    canned: HashMap<String, CannedReply>,
    /// By object id: a usage header a successful answer carries.
    usage: HashMap<String, (&'static str, String)>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    /// The requests about `id` (its node or one of its edges).
    fn asked_about(&self, id: &str) -> Vec<HashMap<String, String>> {
        let own = format!("/{id}");
        let edge = format!("/{id}/");
        self.with(|s| s.seen.iter().filter(|(p, _)| *p == own || p.starts_with(&edge)).map(|(_, q)| q.clone()).collect())
    }
}

fn reply(status: StatusCode, headers: Vec<(&'static str, String)>, body: Value) -> Response {
    let mut r = (status, [("content-type", "application/json")], body.to_string()).into_response();
    for (k, v) in headers {
        r.headers_mut().insert(k, v.parse().unwrap());
    }
    r
}

use crate::graph_wire::{Call, error_body as graph_error};

/// What Graph answers for an id it cannot read: a deleted post among others.
fn deleted(id: &str) -> CannedReply {
    let message = format!(
        "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, \
         or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    );
    (StatusCode::BAD_REQUEST, vec![], graph_error(100, Some(33), &message))
}

/// Code 4 with the business use case header saying when access comes back (minutes).
fn throttled(minutes: u64) -> CannedReply {
    let usage = json!({ "1234": [{
        "type": "instagram", "call_count": 100, "total_cputime": 20, "total_time": 25, "estimated_time_to_regain_access": minutes
    }] });
    (
        StatusCode::FORBIDDEN,
        vec![("x-business-use-case-usage", usage.to_string())],
        graph_error(4, None, "(#4) Application request limit reached"),
    )
}

/// `{"data":[{"name","period","values":[{"value"}],"title","description","id"}]}`, the metrics
/// asked that have data; a metric the network does not know refuses the whole request.
fn insights_answer(id: &str, asked: &str, known: &[&str], data: &[(&str, u64)], account: bool) -> Response {
    let asked: Vec<&str> = asked.split(',').map(str::trim).collect();
    if let Some((i, _)) = asked.iter().enumerate().find(|(_, m)| !known.contains(m)) {
        let message = format!("(#100) metric[{i}] must be one of the following values: {}", known.join(", "));
        return reply(StatusCode::BAD_REQUEST, vec![], graph_error(100, None, &message));
    }
    let entries: Vec<Value> = asked
        .iter()
        .filter_map(|m| {
            let (_, value) = data.iter().find(|(name, _)| name == m)?;
            Some(if account {
                json!({
                    "name": m, "period": "day", "title": m, "description": "…",
                    "total_value": {"value": value}, "id": format!("{id}/insights/{m}/day")
                })
            } else {
                json!({
                    "name": m, "period": "lifetime", "title": m, "description": "…",
                    "values": [{"value": value}], "id": format!("{id}/insights/{m}/lifetime")
                })
            })
        })
        .collect();
    reply(StatusCode::OK, vec![], json!({ "data": entries }))
}

/// A node with only the fields asked for (`shares` asked of a Video is refused, as Graph does
/// for a field a node type lacks).
fn node_answer(id: &str, object: &Value, fields: &str) -> Response {
    let is_video = object.get("type").and_then(Value::as_str) == Some("video");
    let mut out = serde_json::Map::new();
    out.insert("id".into(), json!(id));
    for field in fields.split(',') {
        let name = field.split('.').next().unwrap_or(field).trim();
        if is_video && name == "shares" {
            let message = "(#100) Tried accessing nonexisting field (shares) on node type (Video)";
            return reply(StatusCode::BAD_REQUEST, vec![], graph_error(100, None, message));
        }
        if let Some(v) = object.get(name) {
            out.insert(name.to_owned(), v.clone());
        }
    }
    reply(StatusCode::OK, vec![], Value::Object(out))
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let call = match Call::read(request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    fake.with(|s| s.seen.push((call.path.clone(), call.params.clone())));
    if let Some(refused) = call.refused(TOKEN) {
        return refused;
    }
    let Call { threads_api, path, params: query, .. } = call;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id = segments.first().copied().unwrap_or_default().to_owned();
    if let Some((status, headers, body)) = fake.with(|s| s.canned.get(&id).cloned()) {
        return reply(status, headers, body);
    }
    let q = |k: &str| query.get(k).cloned().unwrap_or_default();
    let mut answer = fake.with(|s| {
        let known = |all: &[&'static str]| all.iter().copied().filter(|m| !s.retired.contains(m)).collect::<Vec<_>>();
        let data = s.insights.get(&id).cloned().unwrap_or_default();
        match (segments.as_slice(), threads_api) {
            ([_, "insights"], false) => insights_answer(&id, &q("metric"), &known(IG_METRICS), &data, false),
            ([_, "insights"], true) => insights_answer(&id, &q("metric"), &known(THREADS_METRICS), &data, false),
            ([THREADS_USER, "threads_insights"], true) => {
                insights_answer(&id, &q("metric"), &known(THREADS_ACCOUNT_METRICS), &data, true)
            }
            ([_], _) if s.objects.contains_key(&id) => node_answer(&id, &s.objects[&id], &q("fields")),
            _ => reply(StatusCode::BAD_REQUEST, vec![], deleted(&id).2),
        }
    });
    if let Some((name, value)) = fake.with(|s| s.usage.get(&id).cloned()) {
        answer.headers_mut().insert(name, value.parse().unwrap());
    }
    answer
}

async fn fake() -> (Fake, MetaConfig) {
    let fake = Fake::default();
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config = MetaConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        graph_url: format!("http://{addr}/v22.0"),
        threads_url: format!("http://{addr}/v1.0"),
        ..MetaConfig::default()
    };
    (fake, config)
}

// ---------------------------------------------------------------------------------------------
// Adapters, channels, credentials

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

fn channel(platform: Platform) -> Channel {
    let t = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    Channel {
        id: ChannelId::new(),
        team_id: TeamId::parse("team", "cafe").unwrap(),
        platform,
        name: ChannelName::parse("name", "cafe").unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: None,
        queue_slots: vec![],
        created_at: t,
        updated_at: t,
    }
}

fn creds(value: Value) -> Credentials {
    Credentials::from_json("credentials", &value).unwrap()
}

fn facebook(config: MetaConfig) -> (FacebookAdapter, Channel, Credentials) {
    let adapter = FacebookAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    (adapter, channel(Platform::Facebook), creds(json!({"page_id": PAGE, "page_access_token": TOKEN})))
}

fn instagram(config: MetaConfig) -> (InstagramAdapter, Channel, Credentials) {
    let adapter = InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    (adapter, channel(Platform::Instagram), creds(json!({"ig_user_id": IG_USER, "access_token": TOKEN})))
}

fn threads(config: MetaConfig) -> (ThreadsAdapter, Channel, Credentials) {
    let adapter = ThreadsAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    (adapter, channel(Platform::Threads), creds(json!({"threads_user_id": THREADS_USER, "access_token": TOKEN})))
}

fn refs(ids: &[&'static str]) -> Vec<PostRef<'static>> {
    ids.iter().map(|id| PostRef { platform_post_id: id, published_at: now() }).collect()
}

/// Instagram media `id` with every metric Herald reads, `n` scaling them.
fn ig_media(fake: &Fake, id: &str, n: u64) {
    let data = vec![("reach", 40 * n), ("likes", 3 * n), ("comments", n), ("shares", 2 * n), ("saved", 5 * n), ("views", 100 * n)];
    fake.with(|s| s.insights.insert(id.to_owned(), data));
}

fn ig_counters(n: u64) -> MetricCounters {
    MetricCounters {
        likes: Some(3 * n),
        replies: Some(n),
        reposts: Some(2 * n),
        bookmarks: Some(5 * n),
        impressions: Some(100 * n),
        reach: Some(40 * n),
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Counters per network

#[tokio::test]
async fn facebook_post_counts_are_reactions_comments_and_shares() {
    let (fake, config) = fake().await;
    let reactions = |n: u64| json!({"data": [], "summary": {"total_count": n, "viewer_reaction": "NONE"}});
    let comments = |n: u64| json!({"data": [], "summary": {"order": "ranked", "total_count": n, "can_comment": true}});
    fake.with(|s| {
        s.objects.insert(format!("{PAGE}_11"), json!({"shares": {"count": 3}, "reactions": reactions(12), "comments": comments(4)}));
        // Never shared: Graph leaves `shares` out.
        s.objects.insert(format!("{PAGE}_12"), json!({"reactions": reactions(1), "comments": comments(0)}));
        s.objects.insert("7713".into(), json!({"type": "video", "reactions": reactions(8), "comments": comments(2)}));
        s.objects.insert(PAGE.into(), json!({"name": "Café du Coin", "followers_count": 1520, "fan_count": 1490}));
    });
    let (fb, ch, creds) = facebook(config);
    let at = now();

    let post = fb.post_counters(&ch, &creds, "1001_11", at).await.unwrap();
    assert_eq!(post, MetricCounters { likes: Some(12), replies: Some(4), reposts: Some(3), ..Default::default() });
    assert_eq!(post.engagements(), Some(19));
    let asked = fake.asked_about("1001_11");
    assert_eq!(asked[0]["fields"], "shares,reactions.summary(total_count),comments.summary(true)");
    assert_eq!(
        fb.post_counters(&ch, &creds, "1001_12", at).await.unwrap(),
        MetricCounters { likes: Some(1), replies: Some(0), reposts: None, ..Default::default() },
        "a measured 0 stays 0, an absent count is missing; no impressions or reach on Facebook"
    );
    // A video is recorded by its own id; `shares` would fail the whole read of a Video node.
    assert_eq!(
        fb.post_counters(&ch, &creds, "7713", at).await.unwrap(),
        MetricCounters { likes: Some(8), replies: Some(2), ..Default::default() }
    );

    assert_eq!(fb.followers(&ch, &creds).await.unwrap(), Some(1520));
    assert_eq!(fake.asked_about(PAGE).last().unwrap()["fields"], "followers_count,fan_count");
    fake.with(|s| s.objects.insert(PAGE.into(), json!({"name": "Café du Coin", "fan_count": 1490})));
    assert_eq!(fb.followers(&ch, &creds).await.unwrap(), Some(1490), "fan_count when followers_count is not given");
    fake.with(|s| s.objects.insert(PAGE.into(), json!({"name": "Café du Coin"})));
    assert_eq!(fb.followers(&ch, &creds).await.unwrap(), None);
}

#[tokio::test]
async fn instagram_media_insights_are_mapped_and_a_metric_without_data_is_missing() {
    let (fake, config) = fake().await;
    ig_media(&fake, "18001", 1);
    // Data is delayed up to 48 h: Meta answers the metrics it has, leaving the others out.
    fake.with(|s| {
        s.insights.insert("18002".into(), vec![("reach", 9), ("likes", 0)]);
        s.objects.insert(IG_USER.into(), json!({"followers_count": 987, "follows_count": 12, "media_count": 40}));
    });
    let (ig, ch, creds) = instagram(config);

    assert_eq!(ig.post_counters(&ch, &creds, "18001", now()).await.unwrap(), ig_counters(1));
    let asked = fake.asked_about("18001");
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["metric"], "reach,likes,comments,shares,saved,views");
    assert_eq!(
        ig.post_counters(&ch, &creds, "18002", now()).await.unwrap(),
        MetricCounters { reach: Some(9), likes: Some(0), ..Default::default() }
    );

    assert_eq!(ig.followers(&ch, &creds).await.unwrap(), Some(987));
    assert_eq!(fake.asked_about(IG_USER)[0]["fields"], "followers_count");
}

#[tokio::test]
async fn a_metric_meta_retires_is_missing_and_does_not_fail_the_read() {
    let (fake, config) = fake().await;
    ig_media(&fake, "18003", 2);
    fake.with(|s| s.retired.push("shares"));
    let (ig, ch, creds) = instagram(config);

    let got = ig.post_counters(&ch, &creds, "18003", now()).await.unwrap();
    assert_eq!(got, MetricCounters { reposts: None, ..ig_counters(2) });
    let asked: Vec<String> = fake.asked_about("18003").iter().map(|q| q["metric"].clone()).collect();
    assert_eq!(asked, ["reach,likes,comments,shares,saved,views", "reach", "likes", "comments", "shares", "saved", "views"]);

    // A media with too few viewers has no insights yet: nothing, not a token to reconnect.
    let message = "(#10) Not enough viewers for the media to show insights";
    fake.with(|s| s.canned.insert("18004".into(), (StatusCode::BAD_REQUEST, vec![], graph_error(10, None, message))));
    assert_eq!(ig.post_counters(&ch, &creds, "18004", now()).await, Ok(MetricCounters::default()));
}

#[tokio::test]
async fn threads_post_insights_and_followers_from_threads_insights() {
    let (fake, config) = fake().await;
    fake.with(|s| {
        let data = vec![("views", 900), ("likes", 40), ("replies", 6), ("reposts", 3), ("quotes", 1), ("shares", 2)];
        s.insights.insert("18100".into(), data);
        // No views yet ("in development"): missing.
        s.insights.insert("18101".into(), vec![("likes", 2), ("replies", 0), ("reposts", 0), ("quotes", 0)]);
        s.insights.insert(THREADS_USER.into(), vec![("followers_count", 480)]);
    });
    let (th, ch, creds) = threads(config);

    let got = th.post_counters(&ch, &creds, "18100", now()).await.unwrap();
    assert_eq!(
        got,
        MetricCounters {
            impressions: Some(900),
            likes: Some(40),
            replies: Some(6),
            reposts: Some(3),
            quotes: Some(1),
            ..Default::default()
        },
        "Threads' shares have no Herald counter"
    );
    assert_eq!(got.engagements(), Some(50));
    assert_eq!(fake.asked_about("18100")[0]["metric"], "views,likes,replies,reposts,quotes");
    assert_eq!(
        th.post_counters(&ch, &creds, "18101", now()).await.unwrap(),
        MetricCounters { likes: Some(2), replies: Some(0), reposts: Some(0), quotes: Some(0), ..Default::default() }
    );

    assert_eq!(th.followers(&ch, &creds).await.unwrap(), Some(480));
    let asked = fake.with(|s| s.seen.iter().find(|(p, _)| p.ends_with("/threads_insights")).cloned()).unwrap();
    assert_eq!(asked.0, format!("/{THREADS_USER}/threads_insights"));
    assert_eq!(asked.1["metric"], "followers_count");
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn an_expired_token_is_a_reconnect_on_every_network() {
    let (fake, config) = fake().await;
    ig_media(&fake, "18001", 1);
    let (fb, fb_ch, _) = facebook(config.clone());
    let (ig, ig_ch, _) = instagram(config.clone());
    let (th, th_ch, _) = threads(config);
    let fb_old = creds(json!({"page_id": PAGE, "page_access_token": "EAAG-expired"}));
    let ig_old = creds(json!({"ig_user_id": IG_USER, "access_token": "EAAG-expired"}));
    let th_old = creds(json!({"threads_user_id": THREADS_USER, "access_token": "EAAG-expired"}));

    for result in [
        fb.post_counters(&fb_ch, &fb_old, "1001_11", now()).await,
        ig.post_counters(&ig_ch, &ig_old, "18001", now()).await,
        th.post_counters(&th_ch, &th_old, "18100", now()).await,
    ] {
        let Err(MetricsError::Auth { reason }) = result else { panic!("{result:?}") };
        assert!(reason.contains("Session has expired") && reason.contains("code 190, subcode 463"), "{reason}");
    }
    for result in [fb.followers(&fb_ch, &fb_old).await, ig.followers(&ig_ch, &ig_old).await, th.followers(&th_ch, &th_old).await] {
        assert!(matches!(result, Err(MetricsError::Auth { .. })), "{result:?}");
    }
    // Nothing asked in the batch after the refusal: the batch as a whole is refused.
    assert!(matches!(ig.post_counters_batch(&ig_ch, &ig_old, &refs(&["18001", "18002"])).await, Err(MetricsError::Auth { .. })));
    assert!(fake.asked_about("18002").is_empty());
    // A channel without its token is a reconnect too, without asking Meta.
    let none = creds(json!({"ig_user_id": IG_USER}));
    assert!(matches!(ig.followers(&ig_ch, &none).await, Err(MetricsError::Auth { .. })));
}

#[tokio::test]
async fn a_deleted_post_is_gone() {
    let (fake, config) = fake().await;
    fake.with(|s| {
        s.canned.insert("1001_66".into(), deleted("1001_66"));
        s.canned.insert("18066".into(), deleted("18066"));
        s.canned.insert("18404".into(), (StatusCode::NOT_FOUND, vec![], json!({})));
    });
    let (fb, fb_ch, fb_creds) = facebook(config.clone());
    let (ig, ig_ch, ig_creds) = instagram(config.clone());
    let (th, th_ch, th_creds) = threads(config);
    assert_eq!(fb.post_counters(&fb_ch, &fb_creds, "1001_66", now()).await, Err(MetricsError::Gone));
    assert_eq!(ig.post_counters(&ig_ch, &ig_creds, "18066", now()).await, Err(MetricsError::Gone));
    assert_eq!(th.post_counters(&th_ch, &th_creds, "18404", now()).await, Err(MetricsError::Gone));
    assert_eq!(fake.asked_about("18066").len(), 1, "a gone post is not asked metric by metric");

    // Any other refusal is a failure to try again, not a gone post.
    let odd = (StatusCode::BAD_REQUEST, vec![], graph_error(1, None, "An unknown error occurred"));
    fake.with(|s| s.canned.insert("18067".into(), odd));
    assert!(matches!(ig.post_counters(&ig_ch, &ig_creds, "18067", now()).await, Err(MetricsError::Failed { .. })));
}

#[tokio::test]
async fn throttling_is_a_rate_limit_with_the_wait_meta_gives() {
    let (fake, config) = fake().await;
    let app_usage = json!({"call_count": 100, "total_cputime": 12, "total_time": 30}).to_string();
    fake.with(|s| {
        s.canned.insert("18070".into(), throttled(7));
        // 429 with Retry-After and no usage header.
        let body = graph_error(613, None, "Calls to this api have exceeded the rate limit.");
        s.canned.insert("18071".into(), (StatusCode::TOO_MANY_REQUESTS, vec![("retry-after", "120".into())], body));
        // App usage spent, no wait given: Herald's own pause.
        let body = graph_error(17, None, "(#17) User request limit reached");
        s.canned.insert("1001_70".into(), (StatusCode::BAD_REQUEST, vec![("x-app-usage", app_usage)], body));
    });
    let (fb, fb_ch, fb_creds) = facebook(config.clone());
    let (ig, ig_ch, ig_creds) = instagram(config.clone());
    let (th, th_ch, th_creds) = threads(config);
    assert_eq!(
        ig.post_counters(&ig_ch, &ig_creds, "18070", now()).await,
        Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(7 * 60)) })
    );
    assert_eq!(
        th.post_counters(&th_ch, &th_creds, "18071", now()).await,
        Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(120)) })
    );
    assert_eq!(
        fb.post_counters(&fb_ch, &fb_creds, "1001_70", now()).await,
        Err(MetricsError::RateLimited { retry_after: Some(RATE_LIMIT_PAUSE) })
    );
    fake.with(|s| s.canned.insert(IG_USER.into(), throttled(3)));
    assert_eq!(ig.followers(&ig_ch, &ig_creds).await, Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(180)) }));
}

// ---------------------------------------------------------------------------------------------
// Batches

#[tokio::test]
async fn a_batch_answers_each_post_and_a_gone_one_does_not_stop_it() {
    let (fake, config) = fake().await;
    ig_media(&fake, "18201", 1);
    ig_media(&fake, "18203", 3);
    fake.with(|s| s.canned.insert("18202".into(), deleted("18202")));
    let (ig, ch, creds) = instagram(config);
    assert_eq!(ig.max_batch(), 25);
    assert_eq!(
        ig.post_counters_batch(&ch, &creds, &refs(&["18201", "18202", "18203"])).await,
        Ok(vec![Ok(ig_counters(1)), Err(MetricsError::Gone), Ok(ig_counters(3))])
    );
    assert_eq!(ig.post_counters_batch(&ch, &creds, &[]).await, Ok(vec![]));
}

#[tokio::test]
async fn a_high_usage_header_stops_the_batch_and_keeps_what_was_read() {
    let (fake, config) = fake().await;
    for (i, id) in ["18301", "18302", "18303", "18304"].iter().enumerate() {
        ig_media(&fake, id, i as u64 + 1);
    }
    // The first answer is fine at 40 %; the second comes back with a business use case at 93 %
    // and access coming back in 2 minutes.
    let buc = json!({"1234": [{
        "type": "instagram", "call_count": 93, "total_cputime": 10, "total_time": 20, "estimated_time_to_regain_access": 2
    }]});
    fake.with(|s| {
        s.usage.insert("18301".into(), ("x-app-usage", json!({"call_count": 40, "total_cputime": 5, "total_time": 8}).to_string()));
        s.usage.insert("18302".into(), ("x-business-use-case-usage", buc.to_string()));
    });
    let (ig, ch, creds) = instagram(config);
    let stop = MetricsError::RateLimited { retry_after: Some(Duration::from_secs(120)) };
    assert_eq!(
        ig.post_counters_batch(&ch, &creds, &refs(&["18301", "18302", "18303", "18304"])).await,
        Ok(vec![Ok(ig_counters(1)), Ok(ig_counters(2)), Err(stop.clone()), Err(stop)])
    );
    assert!(fake.asked_about("18303").is_empty() && fake.asked_about("18304").is_empty(), "nothing asked after the high usage");

    // At 91 % of the app's calls, without a wait: Herald's own pause.
    fake.with(|s| s.usage.insert("18303".into(), ("x-app-usage", json!({"call_count": 91}).to_string())));
    let pause = MetricsError::RateLimited { retry_after: Some(RATE_LIMIT_PAUSE) };
    assert_eq!(
        ig.post_counters_batch(&ch, &creds, &refs(&["18303", "18304"])).await,
        Ok(vec![Ok(ig_counters(3)), Err(pause)])
    );
}

#[tokio::test]
async fn throttling_in_a_batch_keeps_the_answers_before_it() {
    let (fake, config) = fake().await;
    fake.with(|s| {
        s.insights.insert("18401".into(), vec![("views", 10), ("likes", 1)]);
        s.insights.insert("18403".into(), vec![("views", 30)]);
        s.canned.insert("18402".into(), throttled(4));
    });
    let (th, ch, creds) = threads(config);
    let limited = MetricsError::RateLimited { retry_after: Some(Duration::from_secs(240)) };
    assert_eq!(
        th.post_counters_batch(&ch, &creds, &refs(&["18401", "18402", "18403"])).await,
        Ok(vec![
            Ok(MetricCounters { impressions: Some(10), likes: Some(1), ..Default::default() }),
            Err(limited.clone()),
            Err(limited.clone())
        ])
    );
    assert!(fake.asked_about("18403").is_empty());
    // Throttled at the first post, the batch as a whole has no answer.
    assert_eq!(th.post_counters_batch(&ch, &creds, &refs(&["18402", "18403"])).await, Err(limited));
}
