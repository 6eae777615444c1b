//! Server time to render the web app's calendar month (`GET /calendar?month=…`) with 300 posts,
//! through the whole API router (key lookup, `list_posts`, layout, HTML) on an in-memory SQLite
//! store. Issue 13's budget: under 300 ms.
//!
//! ```text
//! cargo bench -p herald-core --bench calendar_page
//! HERALD_BENCH_POSTS=1000 cargo bench -p herald-core --bench calendar_page
//! ```
//!
//! Setup (untimed): a team in Europe/Paris, two sandbox channels, N posts (default 300) spread
//! over February 2027, one in three on both channels, one in ten a draft, made through
//! `POST /v1/posts`. Each iteration is one `GET /calendar?month=2027-02` answered in full (the
//! body read); the page is checked to show every post once.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput};
use herald_core::clock::ManualClock;
use herald_core::crypto::CredentialCipher;
use herald_core::domain::{Role, TeamId};
use herald_core::http::{AppState, api_router};
use herald_core::ports::Ports;
use herald_core::services::keys::{create_key, ensure_team};
use herald_core::store::sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

fn posts() -> usize {
    std::env::var("HERALD_BENCH_POSTS").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(300)
}

async fn call(router: &axum::Router, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
        .expect("a request");
    let resp = router.clone().oneshot(req).await.expect("an answer");
    let status = resp.status().as_u16();
    (status, axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("a body").to_vec())
}

/// The router with N posts in February 2027, and a key.
async fn setup(n: usize) -> (axum::Router, String) {
    let store = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2027, 1, 4, 7, 0, 0).single().expect("an instant")));
    let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("a key");
    let ports = Ports::new(store.clone(), clock.clone(), cipher);
    let router = api_router(AppState::new(ports));
    let team = TeamId::parse("team", "cafe").expect("a team id");
    ensure_team(&*store, &*clock, &team, chrono_tz::Europe::Paris).await.expect("a team");
    let (_, secret) = create_key(&*store, &*clock, &team, Role::Admin, "bench").await.expect("a key");
    let key = secret.reveal().to_owned();
    let mut channels = Vec::new();
    for name in ["Café", "Bakery"] {
        let body = json!({"platform": "sandbox", "name": name, "time_zone": "Europe/Paris", "credentials": {}});
        let (status, ch) = call(&router, "POST", "/v1/channels", &key, Some(body)).await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&ch));
        let ch: Value = serde_json::from_slice(&ch).expect("JSON");
        channels.push(ch["id"].as_str().expect("an id").to_owned());
    }
    for i in 0..n {
        let (day, h, m) = (1 + i % 28, 8 + (i / 28) % 12, (i * 7) % 60);
        let ids = if i % 3 == 0 { channels.clone() } else { vec![channels[0].clone()] };
        let body = json!({
            "text": format!("Post {i}: {}", "fresh bread and coffee ".repeat(1 + i % 5)),
            "channel_ids": ids,
            "publish_at": {"local": format!("2027-02-{day:02}T{h:02}:{m:02}:00"), "time_zone": "Europe/Paris"},
            "draft": i % 10 == 0,
        });
        let (status, post) = call(&router, "POST", "/v1/posts", &key, Some(body)).await;
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&post));
    }
    (router, key)
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let n = posts();
    let (router, key) = rt.block_on(setup(n));
    let (status, page) = rt.block_on(call(&router, "GET", "/calendar?month=2027-02", &key, None));
    assert_eq!(status, 200);
    let shown = String::from_utf8_lossy(&page).matches("<time class=\"when\"").count();
    assert_eq!(shown, n, "every post once on the page");
    eprintln!("calendar month: {n} posts, page {} KB", page.len() / 1024);

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("calendar_page");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(format!("month_{n}_posts"), |b| {
        b.to_async(&rt).iter(|| async {
            let (status, body) = call(&router, "GET", "/calendar?month=2027-02", &key, None).await;
            assert_eq!(status, 200);
            body.len()
        })
    });
    group.finish();
    c.final_summary();
}
