//! The metrics adapters against small fake servers on 127.0.0.1, built from platforms.md
//! "Metrics": Mastodon `GET /api/v1/statuses/:id` and `verify_credentials` (§1.3), Bluesky
//! `app.bsky.feed.getPosts` and `app.bsky.actor.getProfile` through the PDS (§2.3). Missing
//! counters stay missing; 429 is a rate limit with the reset; 404 or an absent post is gone;
//! 401 is a refused token.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{TimeZone, Utc};
use herald_core::clock::ManualClock;
use herald_core::crypto::Credentials;
use herald_core::domain::{Channel, ChannelId, ChannelName, MetricCounters, Platform, TeamId};
use herald_core::platforms::bluesky::BlueskyAdapter;
use herald_core::platforms::mastodon::MastodonAdapter;
use herald_core::platforms::{MetricsAdapter, MetricsError, NetworkPolicy};
use serde_json::{Value, json};

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()))
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

/// Serves `answer(path_and_query, authorization)` on a loopback port; returns its base URL.
async fn fake(answer: impl Fn(&str, &str) -> (StatusCode, Vec<(&'static str, String)>, Value) + Send + Sync + 'static) -> String {
    let answer = Arc::new(answer);
    let app = Router::new().fallback(move |req: Request| {
        let answer = answer.clone();
        async move {
            let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let (status, headers, body) = answer(&path, &auth);
            let mut resp: Response = (status, axum::Json(body)).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn mastodon_status_counts_and_followers() {
    let base = fake(|path, auth| {
        if auth != "Bearer tok" {
            return (StatusCode::UNAUTHORIZED, vec![], json!({"error": "The access token is invalid"}));
        }
        match path {
            "/api/v1/statuses/111" => (
                StatusCode::OK,
                vec![],
                // No quotes_count: a server before 4.5.
                json!({"id": "111", "favourites_count": 12, "reblogs_count": 3, "replies_count": 2}),
            ),
            "/api/v1/statuses/222" => (StatusCode::NOT_FOUND, vec![], json!({"error": "Record not found"})),
            "/api/v1/statuses/333" => (
                StatusCode::TOO_MANY_REQUESTS,
                vec![("x-ratelimit-reset", "2026-11-20T10:05:00.000Z".to_owned())],
                json!({"error": "Too many requests"}),
            ),
            "/api/v1/accounts/verify_credentials" => (StatusCode::OK, vec![], json!({"id": "109", "followers_count": 1234})),
            _ => (StatusCode::NOT_FOUND, vec![], json!({"error": "no"})),
        }
    })
    .await;
    let adapter = MastodonAdapter::new(clock(), NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Mastodon);
    let creds = Credentials::from_json("c", &json!({"instance_url": base, "access_token": "tok"})).unwrap();
    let at = Utc::now();

    let got = adapter.post_counters(&ch, &creds, "111", at).await.unwrap();
    assert_eq!(
        got,
        MetricCounters { likes: Some(12), reposts: Some(3), replies: Some(2), quotes: None, ..Default::default() },
        "no impressions, reach, clicks or bookmarks on Mastodon: missing, not 0"
    );
    assert_eq!(got.engagements(), Some(17));
    assert_eq!(adapter.post_counters(&ch, &creds, "222", at).await, Err(MetricsError::Gone));
    assert_eq!(
        adapter.post_counters(&ch, &creds, "333", at).await,
        Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(300)) })
    );
    assert_eq!(adapter.followers(&ch, &creds).await.unwrap(), Some(1234));

    let revoked = Credentials::from_json("c", &json!({"instance_url": base, "access_token": "old"})).unwrap();
    assert!(matches!(adapter.post_counters(&ch, &revoked, "111", at).await, Err(MetricsError::Auth { .. })));
    assert!(matches!(adapter.followers(&ch, &revoked).await, Err(MetricsError::Auth { .. })));
}

const DID: &str = "did:plc:cafe";
const URI: &str = "at://did:plc:cafe/app.bsky.feed.post/3kabc";

#[tokio::test]
async fn bluesky_post_counts_and_followers_through_the_pds() {
    let base = fake(|path, auth| {
        if path.starts_with("/xrpc/com.atproto.server.createSession") {
            return (
                StatusCode::OK,
                vec![],
                json!({"did": DID, "handle": "cafe.test", "accessJwt": "access-1", "refreshJwt": "refresh-1"}),
            );
        }
        if auth != "Bearer access-1" {
            return (StatusCode::UNAUTHORIZED, vec![], json!({"error": "AuthRequired"}));
        }
        if path.starts_with("/xrpc/app.bsky.feed.getPosts") {
            if path.contains("3kgone") {
                return (StatusCode::OK, vec![], json!({"posts": []}));
            }
            if path.contains("3klimit") {
                return (StatusCode::TOO_MANY_REQUESTS, vec![("ratelimit-reset", "1795169100".to_owned())], json!({"error": "RateLimitExceeded"}));
            }
            return (
                StatusCode::OK,
                vec![],
                json!({"posts": [{"uri": URI, "cid": "bafy", "likeCount": 7, "repostCount": 2, "replyCount": 1, "quoteCount": 0, "bookmarkCount": 3, "indexedAt": "2026-11-20T09:00:00Z"}]}),
            );
        }
        if path.starts_with("/xrpc/app.bsky.actor.getProfile") {
            assert!(path.contains("actor=did%3Aplc%3Acafe") || path.contains("actor=did:plc:cafe"), "{path}");
            return (StatusCode::OK, vec![], json!({"did": DID, "handle": "cafe.test", "followersCount": 321}));
        }
        (StatusCode::NOT_FOUND, vec![], json!({"error": "NotFound"}))
    })
    .await;
    let adapter = BlueskyAdapter::new(clock(), NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Bluesky);
    let creds =
        Credentials::from_json("c", &json!({"service": base, "identifier": "cafe.test", "app_password": "abcd-efgh-ijkl-mnop"})).unwrap();
    let at = Utc::now();

    let got = adapter.post_counters(&ch, &creds, URI, at).await.unwrap();
    assert_eq!(
        got,
        MetricCounters {
            likes: Some(7),
            reposts: Some(2),
            replies: Some(1),
            quotes: Some(0),
            bookmarks: Some(3),
            ..Default::default()
        }
    );
    assert_eq!(adapter.post_counters(&ch, &creds, "at://did:plc:cafe/app.bsky.feed.post/3kgone", at).await, Err(MetricsError::Gone));
    // Reset 1795169100 = 2026-11-20T10:05:00Z, five minutes after the clock's now.
    assert_eq!(
        adapter.post_counters(&ch, &creds, "at://did:plc:cafe/app.bsky.feed.post/3klimit", at).await,
        Err(MetricsError::RateLimited { retry_after: Some(Duration::from_secs(300)) })
    );
    assert_eq!(adapter.post_counters(&ch, &creds, "not-a-uri", at).await, Err(MetricsError::Gone));
    assert_eq!(adapter.followers(&ch, &creds).await.unwrap(), Some(321));
}

/// What production runs (`NetworkPolicy::PublicOnly`): an instance on loopback is not read.
#[tokio::test]
async fn the_guard_refuses_to_read_counters_from_a_loopback_instance() {
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let base = fake(move |_, _| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        (StatusCode::OK, vec![], json!({"id": "111", "followers_count": 1}))
    })
    .await;
    let adapter = MastodonAdapter::new(clock(), NetworkPolicy::PublicOnly).unwrap();
    let ch = channel(Platform::Mastodon);
    let creds = Credentials::from_json("c", &json!({"instance_url": base, "access_token": "tok"})).unwrap();
    match adapter.post_counters(&ch, &creds, "111", Utc::now()).await {
        Err(MetricsError::Failed { reason }) => {
            assert!(reason.contains("127.0.0.1 is a private address (loopback)"), "{reason}")
        }
        other => panic!("expected the guard's refusal, got {other:?}"),
    }
    assert!(matches!(adapter.followers(&ch, &creds).await, Err(MetricsError::Failed { .. })));
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}
