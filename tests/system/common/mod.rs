//! The in-process API rig shared by the `api_*` system tests: the API router on an in-memory
//! SQLite store, a manual clock and a fresh credentials key; every request through
//! `tower::ServiceExt::oneshot`, no network.

#![allow(dead_code)]

pub mod browser;
pub mod fault_proxy;
pub mod graph;
pub mod lambda_emulator;
pub mod mastodon;
pub mod meta;
pub mod meta_oauth;
pub mod people;
pub mod process;
pub mod report_dataset;
pub mod serve;
pub mod smtp;
pub mod webdriver;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{DateTime, TimeZone, Utc};
use herald_core::clock::{Clock, ManualClock};
use herald_core::crypto::CredentialCipher;
use herald_core::domain::{Delivery, DeliveryId, DeliveryState, PostId, Role, TeamId};
use herald_core::events::MemorySink;
use herald_core::http::{AppState, api_router};
use herald_core::platforms::Adapters;
use herald_core::ports::Ports;
use herald_core::services::keys::{create_key, ensure_team};
use herald_core::store::PostStore;
use herald_core::store::sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Monday 2027-01-04, 08:00 in Paris.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, 4, 7, 0, 0).single().expect("valid instant")
}

pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("an RFC 3339 instant").with_timezone(&Utc)
}

/// A response as the tests look at it.
pub struct Raw {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!("{}: the body is not JSON: {}", self.status, String::from_utf8_lossy(&self.body))
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    /// The value of header `name`, when it is there (and readable as text).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub struct App {
    pub router: Router,
    pub store: Arc<SqliteStore>,
    pub clock: Arc<ManualClock>,
    /// Every event the app emitted (crisis, …).
    pub events: Arc<MemorySink>,
    pub state: AppState,
}

impl App {
    pub fn new() -> App {
        Self::with_adapters(Adapters::default())
    }

    /// The app with these platform adapters (for replies from the inbox).
    pub fn with_adapters(adapters: Adapters) -> App {
        let store = Arc::new(SqliteStore::in_memory().expect("in-memory store"));
        let clock = Arc::new(ManualClock::new(t0()));
        let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).expect("fresh key");
        let events = Arc::new(MemorySink::default());
        let ports = Ports::new(store.clone(), clock.clone(), cipher).with_events(events.clone()).with_adapters(adapters);
        let state = AppState::new(ports);
        App { router: api_router(state.clone()), store, clock, events, state }
    }

    /// Sends a request as it is (any headers).
    pub async fn send(&self, req: Request<Body>) -> Raw {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap().to_vec();
        Raw { status, content_type, headers, body }
    }

    /// A key of `role` for `team` (created on first use).
    pub async fn key(&self, team: &str, role: Role) -> String {
        let team = TeamId::parse("team", team).unwrap();
        ensure_team(&*self.store, &*self.clock, &team, chrono_tz::Europe::Paris).await.unwrap();
        let (_, secret) = create_key(&*self.store, &*self.clock, &team, role, "test").await.unwrap();
        secret.reveal().to_owned()
    }

    /// Any request; the body is sent as it is, with `content_type` when given.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Raw {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        self.send(req).await
    }

    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<String>) -> (u16, Value) {
        let ct = body.as_ref().map(|_| "application/json");
        let raw = self.raw(method, path, key, ct, body.map(String::into_bytes)).await;
        if raw.body.is_empty() {
            return (raw.status, Value::Null);
        }
        (raw.status, raw.json())
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(key), Some(body.to_string())).await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(key), Some(body.to_string())).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, Some(key), None).await
    }

    /// Approves a post as an editor who has just read it: its version from `GET`, then approve.
    pub async fn approve(&self, post: &str, key: &str) -> (u16, Value) {
        let (_, read) = self.get(&format!("/v1/posts/{post}"), key).await;
        let version = read["version"].as_u64().unwrap_or_default();
        self.post(&format!("/v1/posts/{post}/approve"), key, json!({"version": version})).await
    }

    pub async fn action(&self, post: &str, what: &str, key: &str) -> (u16, Value) {
        self.call(Method::POST, &format!("/v1/posts/{post}/{what}"), Some(key), None).await
    }

    pub async fn channel(&self, admin: &str, body: Value) -> String {
        let (status, ch) = self.post("/v1/channels", admin, body).await;
        assert_eq!(status, 201, "{ch}");
        ch["id"].as_str().expect("an id").to_owned()
    }

    pub async fn sandbox(&self, admin: &str, name: &str) -> String {
        self.channel(
            admin,
            json!({"platform": "sandbox", "name": name, "time_zone": "Europe/Paris", "credentials": {}}),
        )
        .await
    }

    /// A channel of `platform` with credentials of the right shape (this app has no network
    /// adapters, so nobody checks them with a network: enough to schedule, not to publish).
    pub async fn platform_channel(&self, admin: &str, platform: &str, name: &str) -> String {
        let credentials = credentials_shaped_for(platform);
        self.channel(admin, json!({"platform": platform, "name": name, "time_zone": "Europe/Paris", "credentials": credentials}))
            .await
    }

    /// Creates a post and returns its JSON (asserting 201).
    pub async fn create(&self, key: &str, body: Value) -> Value {
        let (status, post) = self.post("/v1/posts", key, body).await;
        assert_eq!(status, 201, "{post}");
        post
    }

    /// The deliveries of a post as the API showed it, straight from the store, by id.
    pub async fn stored_deliveries(&self, team: &str, post: &Value) -> Vec<Delivery> {
        let team = TeamId::parse("team", team).unwrap();
        let id = PostId::parse("id", post["id"].as_str().expect("a post id")).unwrap();
        let mut ds = self.store.deliveries_of_post(&team, id).await.unwrap();
        ds.sort_by_key(|d| d.id);
        ds
    }

    /// Every delivery of the team, straight from the store.
    pub async fn stored_calendar(&self, team: &str) -> Vec<Delivery> {
        let team = TeamId::parse("team", team).unwrap();
        let mut page = herald_core::store::PageRequest::first(500);
        let from = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap();
        let mut all = Vec::new();
        loop {
            let got = self.store.calendar(&team, from, to, &page).await.unwrap();
            all.extend(got.items);
            match got.next {
                Some(next) => page.cursor = Some(next),
                None => return all,
            }
        }
    }

    /// Moves a delivery through the state machine and stores it, as the publisher would.
    pub async fn force(
        &self,
        team: &str,
        post_id: &str,
        delivery: &str,
        path: &[DeliveryState],
        edit: impl Fn(&mut Delivery),
    ) {
        let team = TeamId::parse("team", team).unwrap();
        let post_id = PostId::parse("id", post_id).unwrap();
        let id = DeliveryId::parse("id", delivery).unwrap();
        let mut d = self.store.get_delivery(&team, post_id, id).await.unwrap().expect("the delivery");
        for to in path {
            d.transition(*to, self.clock.now()).expect("a legal move");
        }
        edit(&mut d);
        self.store.update_delivery(&d).await.expect("stored");
    }
}

pub fn error_of(body: &Value) -> (String, Option<String>, String) {
    let e = &body["error"];
    (
        e["code"].as_str().unwrap_or_else(|| panic!("an error code: {body}")).to_owned(),
        e["field"].as_str().map(str::to_owned),
        e["message"].as_str().unwrap_or_else(|| panic!("an error message: {body}")).to_owned(),
    )
}

pub fn deliveries(post: &Value) -> &Vec<Value> {
    post["deliveries"].as_array().expect("deliveries")
}

/// A rig with team `cafe`: an admin key and one sandbox channel.
pub async fn cafe() -> (App, String, String) {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let ch = app.sandbox(&admin, "Sandbox").await;
    (app, admin, ch)
}

/// Credentials of the shape a channel of `platform` needs (values made up).
pub fn credentials_shaped_for(platform: &str) -> Value {
    match platform {
        "mastodon" => json!({"instance_url": "https://mastodon.example", "access_token": "token-of-cafe"}),
        "bluesky" => json!({"identifier": "cafe.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"}),
        "facebook" | "instagram" | "threads" => meta::credentials(platform, "meta-app-secret", "verify-me"),
        "x" => json!({"consumer_secret": "x-consumer-secret"}),
        "linkedin" | "tiktok" => json!({"client_secret": "client-secret"}),
        "generic" => json!({"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
        _ => json!({}),
    }
}
