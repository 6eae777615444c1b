//! A Mastodon instance on 127.0.0.1, reduced to what Herald calls, answering in the documented
//! shapes (docs.joinmastodon.org; the fuller fake of the adapter's own tests is in
//! shared/tests/adapters/mastodon.rs): publishing, the notification poller and the metric poller.
//!
//! | call | answer |
//! |---|---|
//! | `POST /api/v2/media` | a processed attachment `700<n>` (200 with its `url`); the multipart body recorded |
//! | `POST /api/v1/statuses` | a new status `1100<n>`, recorded |
//! | `GET /api/v1/notifications?types[]=…&limit=…[&min_id=…]` | the notifications newer than `min_id`, newest first, no `Link` |
//! | `GET /api/v1/statuses/:id` | the status with the counters set for it (404 for another id) |
//! | `GET /api/v1/accounts/verify_credentials` | the account, with its `followers_count` (401 for the token `revoked`) |
//!
//! Every request is recorded (method, path, query, `Authorization`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Holding {
    seen: Vec<Seen>,
    /// Statuses published, with the headers they came with.
    statuses: Vec<(HeaderMap, Value)>,
    /// The multipart bodies of the media uploaded.
    uploads: Vec<Vec<u8>>,
    notifications: Vec<Value>,
    /// Counters of the statuses `GET /api/v1/statuses/:id` knows: favourites, reblogs, replies, quotes.
    counters: HashMap<String, [u64; 4]>,
    followers: u64,
}

/// The fake's handle: its base URL (the channel's `instance_url`) and what it holds.
#[derive(Clone)]
pub struct FakeMastodon {
    pub url: String,
    state: Arc<Mutex<Holding>>,
}

impl FakeMastodon {
    /// Starts the fake on a free loopback port (it runs as long as the test's runtime).
    pub async fn start() -> FakeMastodon {
        let state: Arc<Mutex<Holding>> = Arc::default();
        let app = Router::new()
            .route("/api/v1/statuses", post(publish))
            .route("/api/v2/media", post(upload))
            .route("/api/v1/statuses/{id}", get(status))
            .route("/api/v1/notifications", get(notifications))
            .route("/api/v1/accounts/verify_credentials", get(account))
            .layer(axum::middleware::from_fn_with_state(state.clone(), record))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeMastodon { url, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Holding) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a `mention` notification `id` of status `status_id` by `author` (`{id, acct,
    /// display_name}`) saying `html`.
    pub fn mention(&self, id: u64, status_id: &str, author: (&str, &str, &str), html: &str) {
        let (author_id, acct, name) = author;
        let n = json!({
            "id": id.to_string(), "type": "mention", "created_at": "2026-11-20T09:31:00.000Z",
            "account": {"id": author_id, "username": acct.split('@').next().unwrap(), "acct": acct, "display_name": name},
            "status": {
                "id": status_id, "created_at": "2026-11-20T09:30:00.000Z",
                "url": format!("https://other.example/@{acct}/{status_id}"), "content": html,
                "visibility": "public", "in_reply_to_id": null, "media_attachments": [],
                "account": {"id": author_id, "username": acct.split('@').next().unwrap(), "acct": acct, "display_name": name},
            },
        });
        self.with(|s| s.notifications.push(n));
    }

    /// What `GET /api/v1/statuses/:id` says of status `id`: favourites, reblogs, replies, quotes.
    pub fn counters(&self, id: &str, counts: [u64; 4]) {
        self.with(|s| s.counters.insert(id.to_owned(), counts));
    }

    pub fn followers(&self, n: u64) {
        self.with(|s| s.followers = n);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    /// The requests of `method` to `path`.
    pub fn seen_at(&self, method: &str, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|r| r.method == method && r.path == path).collect()
    }

    /// The multipart bodies of the media uploaded, in order.
    pub fn uploads(&self) -> Vec<Vec<u8>> {
        self.with(|s| s.uploads.clone())
    }

    /// The statuses published, with their headers.
    pub fn statuses(&self) -> Vec<(HeaderMap, Value)> {
        self.with(|s| s.statuses.clone())
    }
}

async fn record(State(state): State<Arc<Mutex<Holding>>>, req: Request, next: axum::middleware::Next) -> Response {
    let seen = Seen {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or_default().to_owned(),
        authorization: req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    state.lock().unwrap_or_else(|e| e.into_inner()).seen.push(seen);
    next.run(req).await
}

async fn publish(State(state): State<Arc<Mutex<Holding>>>, headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.statuses.push((headers, body));
    let id = format!("1100{}", s.statuses.len());
    // Made now, as a server says (the publisher records it as the delivery's `published_at`).
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    Json(json!({"id": id, "url": format!("https://example.social/@cafe/{id}"), "created_at": now,
        "content": "<p>…</p>", "media_attachments": []}))
}

async fn upload(State(state): State<Arc<Mutex<Holding>>>, body: axum::body::Bytes) -> Json<Value> {
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    s.uploads.push(body.to_vec());
    let id = format!("700{}", s.uploads.len());
    Json(json!({"id": id, "type": "image", "url": format!("https://example.social/media/{id}.png"), "description": null}))
}

/// Mastodon ids are decimal snowflakes: a longer one is newer.
fn newer(a: &str, b: &str) -> bool {
    (a.len(), a) > (b.len(), b)
}

async fn notifications(State(state): State<Arc<Mutex<Holding>>>, RawQuery(query): RawQuery) -> Json<Value> {
    let query = query.unwrap_or_default();
    let min_id = query.split('&').find_map(|p| p.strip_prefix("min_id=")).map(str::to_owned);
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    let mut page: Vec<Value> = s
        .notifications
        .iter()
        .filter(|n| min_id.as_deref().is_none_or(|m| newer(n["id"].as_str().unwrap(), m)))
        .cloned()
        .collect();
    page.sort_by(|a, b| {
        let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
        (b.len(), b).cmp(&(a.len(), a))
    });
    Json(Value::Array(page))
}

async fn status(State(state): State<Arc<Mutex<Holding>>>, Path(id): Path<String>) -> Response {
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    match s.counters.get(&id) {
        Some([favourites, reblogs, replies, quotes]) => Json(json!({
            "id": id, "created_at": "2026-11-20T09:30:00.000Z", "content": "<p>…</p>", "visibility": "public",
            "favourites_count": favourites, "reblogs_count": reblogs, "replies_count": replies, "quotes_count": quotes,
            "media_attachments": [],
        }))
        .into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "Record not found"}))).into_response(),
    }
}

/// The account; the token `revoked` is refused as Mastodon refuses a revoked one.
async fn account(State(state): State<Arc<Mutex<Holding>>>, headers: HeaderMap) -> Response {
    if headers.get("authorization").is_some_and(|v| v.as_bytes() == b"Bearer revoked") {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "The access token is invalid"}))).into_response();
    }
    let s = state.lock().unwrap_or_else(|e| e.into_inner());
    Json(json!({"id": "1", "username": "cafe", "acct": "cafe", "display_name": "Café du coin",
        "followers_count": s.followers, "following_count": 12, "statuses_count": 40}))
    .into_response()
}
