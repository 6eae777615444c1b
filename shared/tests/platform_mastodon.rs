//! The Mastodon adapter against a fake Mastodon on 127.0.0.1, built from the shapes in
//! platforms.md §1.2/§1.4: statuses, media (202 then polling), errors `{"error": "..."}`,
//! rate limits with an ISO-8601 `X-RateLimit-Reset`. The fake also serves the media files.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use herald_core::clock::ManualClock;
use herald_core::crypto::Credentials;
use herald_core::domain::{
    Channel, ChannelId, ChannelName, Delivery, DeliveryState, MediaRef, Platform, Post, PostId, PostText, TeamId,
};
use herald_core::platforms::mastodon::{MastodonAdapter, MastodonConfig};
use herald_core::platforms::{PlatformAdapter, PublishError, PublishRequest, Published};
use serde_json::{Value, json};

const TOKEN: &str = "tok-secret-123";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

/// A 640×480 PNG header (enough for type and size sniffing), padded to 200 bytes.
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&640u32.to_be_bytes());
    b.extend_from_slice(&480u32.to_be_bytes());
    b.resize(200, 0);
    b
}

// ---------------------------------------------------------------------------------------------
// The fake

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A status, extra headers and a JSON body to answer with.
type CannedReply = (StatusCode, Vec<(&'static str, String)>, Value);

#[derive(Default)]
struct FakeState {
    seen: Vec<Seen>,
    /// Statuses made, by Idempotency-Key (Mastodon returns the same status for a known key).
    by_key: HashMap<String, Value>,
    next_id: u64,
    /// `GET /api/v1/media/:id` answers 206 this many times before 200.
    processing_polls: u32,
    /// Answer to give to `POST /api/v1/statuses` instead of creating one.
    statuses_reply: Option<CannedReply>,
    /// `POST /api/v1/statuses` never answers.
    hang: bool,
    /// What `GET /api/v1/accounts/109/statuses` lists.
    timeline: Vec<Value>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn with(&self, f: impl FnOnce(&mut FakeState)) {
        f(&mut self.0.lock().unwrap());
    }

    fn seen(&self, method: Method, path: &str) -> Vec<Seen> {
        self.0.lock().unwrap().seen.iter().filter(|s| s.method == method && s.path == path).cloned().collect()
    }

    fn count(&self, method: Method, path: &str) -> usize {
        self.seen(method, path).len()
    }
}

fn json_reply(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let seen = Seen {
        method: parts.method.clone(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    fake.with(|s| s.seen.push(seen));

    // Media files, unauthenticated.
    match path.as_str() {
        "/media/cat.png" => return ([("content-type", "image/png")], png()).into_response(),
        "/media/clip.mp4" => {
            return ([("content-type", "video/mp4")], b"\0\0\0\x18ftypisom....".to_vec()).into_response();
        }
        "/media/page.html" => return ([("content-type", "text/html; charset=utf-8")], "<html></html>").into_response(),
        "/media/big.png" => return ([("content-type", "image/png")], vec![0u8; 3_000]).into_response(),
        "/media/missing.png" => return StatusCode::NOT_FOUND.into_response(),
        _ => {}
    }

    let authorized =
        parts.headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
    if !authorized {
        return json_reply(StatusCode::UNAUTHORIZED, json!({"error": "The access token is invalid"}));
    }
    let base = format!("http://{}", parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost"));

    match (parts.method.clone(), path.as_str()) {
        (Method::POST, "/api/v2/media") => {
            let id = fake.0.lock().map(|mut s| {
                s.next_id += 1;
                s.next_id
            });
            json_reply(
                StatusCode::ACCEPTED,
                json!({"id": format!("{}", 900 + id.unwrap()), "type": "image", "url": null}),
            )
        }
        (Method::GET, p) if p.starts_with("/api/v1/media/") => {
            let id = p.trim_start_matches("/api/v1/media/").to_owned();
            let still = fake.0.lock().map(|mut s| {
                let still = s.processing_polls > 0;
                s.processing_polls = s.processing_polls.saturating_sub(1);
                still
            });
            if still.unwrap() {
                json_reply(StatusCode::PARTIAL_CONTENT, json!({"id": id, "url": null}))
            } else {
                json_reply(StatusCode::OK, json!({"id": id, "url": format!("{base}/system/{id}.png")}))
            }
        }
        (Method::POST, "/api/v1/statuses") => {
            if fake.0.lock().unwrap().hang {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            if let Some((status, headers, body)) = fake.0.lock().unwrap().statuses_reply.clone() {
                let mut r = json_reply(status, body);
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                return r;
            }
            let key = parts.headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            let params: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut s = fake.0.lock().unwrap();
            if let Some(existing) = s.by_key.get(&key) {
                return json_reply(StatusCode::OK, existing.clone());
            }
            s.next_id += 1;
            let id = format!("11330{}", s.next_id);
            let text = params["status"].as_str().unwrap_or("");
            let media: Vec<Value> = params["media_ids"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|m| json!({"id": m, "type": "image"}))
                .collect();
            let status = json!({
                "id": id,
                "created_at": "2026-11-20T10:00:00.512Z",
                "url": format!("{base}/@cafe/{id}"),
                "uri": format!("{base}/users/cafe/statuses/{id}"),
                "content": format!("<p>{}</p>", text.replace('&', "&amp;").replace('<', "&lt;")),
                "media_attachments": media,
            });
            s.by_key.insert(key, status.clone());
            json_reply(StatusCode::OK, status)
        }
        (Method::GET, "/api/v1/accounts/verify_credentials") => {
            json_reply(StatusCode::OK, json!({"id": "109", "username": "cafe"}))
        }
        (Method::GET, "/api/v1/accounts/109/statuses") => {
            let timeline = fake.0.lock().unwrap().timeline.clone();
            json_reply(StatusCode::OK, Value::Array(timeline))
        }
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error": "Record not found"})),
    }
}

async fn start(fake: &Fake) -> String {
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

// ---------------------------------------------------------------------------------------------
// Requests

struct Fixture {
    delivery: Delivery,
    channel: Channel,
    credentials: Credentials,
    text: String,
    media: Vec<MediaRef>,
}

impl Fixture {
    fn new(base: &str, text: &str, media: &[&str]) -> Self {
        let team = TeamId::parse("team", "cafe-du-coin").unwrap();
        let post = Post {
            id: PostId::new(),
            team_id: team.clone(),
            text: PostText::parse("text", text).unwrap(),
            variants: Default::default(),
            media: vec![],
            series_id: None,
            created_by: None,
            created_at: now(),
            updated_at: now(),
        };
        let channel = Channel {
            id: ChannelId::new(),
            team_id: team,
            platform: Platform::Mastodon,
            name: ChannelName::parse("name", "@cafe@mastodon.example").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: now(),
            updated_at: now(),
        };
        let delivery = Delivery::new(&post, channel.id, Platform::Mastodon, DeliveryState::Publishing, now(), now());
        let credentials =
            Credentials::from_json("credentials", &json!({"instance_url": base, "access_token": TOKEN})).unwrap();
        let media = media
            .iter()
            .map(|p| {
                MediaRef::parse("media", &format!("{base}{p}"), Some("A cat asleep on the counter".into())).unwrap()
            })
            .collect();
        Self { delivery, channel, credentials, text: text.to_owned(), media }
    }

    fn request(&self) -> PublishRequest<'_> {
        PublishRequest {
            delivery: &self.delivery,
            channel: &self.channel,
            credentials: &self.credentials,
            text: &self.text,
            media: &self.media,
        }
    }
}

fn config() -> MastodonConfig {
    MastodonConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        max_media_bytes: 2_000,
        media_processing_wait: Duration::from_millis(400),
        media_poll_interval: Duration::from_millis(20),
    }
}

fn adapter() -> MastodonAdapter {
    MastodonAdapter::with_config(Arc::new(ManualClock::new(now())), config()).unwrap()
}

async fn setup(text: &str, media: &[&str]) -> (Fake, Fixture) {
    let fake = Fake::default();
    let base = start(&fake).await;
    (fake, Fixture::new(&base, text, media))
}

fn permanent(r: Result<Published, PublishError>) -> String {
    match r {
        Err(PublishError::Permanent { reason }) => reason,
        other => panic!("expected Permanent, got {other:?}"),
    }
}

fn transient(r: Result<Published, PublishError>) -> (String, Option<Duration>) {
    match r {
        Err(PublishError::Transient { reason, retry_after }) => (reason, retry_after),
        other => panic!("expected Transient, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[tokio::test]
async fn publishes_text_with_a_link_and_sends_the_idempotency_key() {
    let text = "Nouveau menu ✨ https://example.com/menu?jour=lundi & bon appétit";
    let (fake, fx) = setup(text, &[]).await;
    let published = adapter().publish(&fx.request()).await.unwrap();

    assert!(published.platform_post_id.starts_with("11330"));
    assert_eq!(
        published.url.as_deref(),
        Some(format!("{}/@cafe/{}", base_of(&fx), published.platform_post_id).as_str())
    );
    assert_eq!(
        published.published_at,
        Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap() + chrono::Duration::milliseconds(512))
    );

    let sent = fake.seen(Method::POST, "/api/v1/statuses");
    assert_eq!(sent.len(), 1);
    let h = &sent[0].headers;
    assert_eq!(h["idempotency-key"], format!("herald-{}", fx.delivery.id).as_str());
    assert_eq!(h["authorization"], format!("Bearer {TOKEN}").as_str());
    assert!(h["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body, json!({"status": text}));
    assert_eq!(fake.count(Method::POST, "/api/v2/media"), 0);
}

fn base_of(fx: &Fixture) -> String {
    fx.credentials.get("instance_url").unwrap().to_owned()
}

#[tokio::test]
async fn uploads_an_image_waits_for_processing_then_attaches_it() {
    let (fake, fx) = setup("Le chat de la maison", &["/media/cat.png"]).await;
    fake.with(|s| s.processing_polls = 2);
    let published = adapter().publish(&fx.request()).await.unwrap();
    assert!(!published.platform_post_id.is_empty());

    // The file was downloaded from the media URL and uploaded as multipart `file` + `description`.
    assert_eq!(fake.count(Method::GET, "/media/cat.png"), 1);
    let uploads = fake.seen(Method::POST, "/api/v2/media");
    assert_eq!(uploads.len(), 1);
    let ct = uploads[0].headers["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
    let parts = multipart_parts(&uploads[0].body, ct.split("boundary=").nth(1).unwrap());
    let file = parts.iter().find(|p| p.name == "file").expect("a file part");
    assert_eq!(file.filename.as_deref(), Some("cat.png"));
    assert_eq!(file.content_type.as_deref(), Some("image/png"));
    assert_eq!(file.data, png());
    let description = parts.iter().find(|p| p.name == "description").expect("a description part");
    assert_eq!(description.data, b"A cat asleep on the counter");

    // 202 → polled until 200 (two 206 first), then the status names the attachment.
    assert_eq!(fake.count(Method::GET, "/api/v1/media/901"), 3);
    let body: Value = serde_json::from_slice(&fake.seen(Method::POST, "/api/v1/statuses")[0].body).unwrap();
    assert_eq!(body["media_ids"], json!(["901"]));
}

#[tokio::test]
async fn a_video_is_uploaded_too() {
    let (fake, fx) = setup("", &["/media/clip.mp4"]).await;
    adapter().publish(&fx.request()).await.unwrap();
    let uploads = fake.seen(Method::POST, "/api/v2/media");
    let ct = uploads[0].headers["content-type"].to_str().unwrap().to_owned();
    let parts = multipart_parts(&uploads[0].body, ct.split("boundary=").nth(1).unwrap());
    assert_eq!(parts[0].content_type.as_deref(), Some("video/mp4"));
}

#[tokio::test]
async fn a_retry_with_the_same_key_gets_the_same_status() {
    let (fake, fx) = setup("Une seule fois, s'il vous plaît", &[]).await;
    let a = adapter();
    let first = a.publish(&fx.request()).await.unwrap();
    let second = a.publish(&fx.request()).await.unwrap();
    assert_eq!(first, second);
    let keys: Vec<_> =
        fake.seen(Method::POST, "/api/v1/statuses").iter().map(|s| s.headers["idempotency-key"].clone()).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(fake.0.lock().unwrap().by_key.len(), 1);
}

#[tokio::test]
async fn a_refused_post_is_permanent_with_mastodon_s_reason() {
    let (fake, fx) = setup("", &[]).await;
    fake.with(|s| {
        s.statuses_reply =
            Some((StatusCode::UNPROCESSABLE_ENTITY, vec![], json!({"error": "Validation failed: Text can't be blank"})))
    });
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(reason, "Mastodon refused the post: Validation failed: Text can't be blank");

    fake.with(|s| s.statuses_reply = Some((StatusCode::NOT_FOUND, vec![], json!({"error": "Record not found"}))));
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(reason, "Mastodon refused the post: Record not found");
}

#[tokio::test]
async fn a_revoked_token_is_an_auth_error() {
    let (_fake, mut fx) = setup("hello", &[]).await;
    fx.credentials =
        Credentials::from_json("credentials", &json!({"instance_url": base_of(&fx), "access_token": "revoked"}))
            .unwrap();
    match adapter().publish(&fx.request()).await {
        Err(PublishError::Auth { reason }) => {
            assert!(reason.contains("token expired or revoked"), "{reason}");
            assert!(reason.contains("The access token is invalid"), "{reason}");
            assert!(!reason.contains(TOKEN));
        }
        other => panic!("expected Auth, got {other:?}"),
    }

    let (fake, fx) = setup("hello", &[]).await;
    fake.with(|s| {
        s.statuses_reply = Some((StatusCode::FORBIDDEN, vec![], json!({"error": "This action is not allowed"})))
    });
    assert!(matches!(adapter().publish(&fx.request()).await, Err(PublishError::Auth { .. })));
}

#[tokio::test]
async fn missing_credentials_are_an_auth_error() {
    let (fake, mut fx) = setup("hello", &[]).await;
    fx.credentials = Credentials::from_json("credentials", &json!({"instance_url": base_of(&fx)})).unwrap();
    match adapter().publish(&fx.request()).await {
        Err(PublishError::Auth { reason }) => assert!(reason.contains("access_token"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
    fx.credentials =
        Credentials::from_json("credentials", &json!({"instance_url": "http://mastodon.example", "access_token": "x"}))
            .unwrap();
    assert!(matches!(adapter().publish(&fx.request()).await, Err(PublishError::Auth { .. })));
    assert_eq!(fake.0.lock().unwrap().seen.len(), 0);
}

#[tokio::test]
async fn a_rate_limit_reset_instant_becomes_the_retry_delay() {
    let (fake, fx) = setup("hello", &[]).await;
    let reset = (now() + chrono::Duration::seconds(90)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    fake.with(|s| {
        s.statuses_reply = Some((
            StatusCode::TOO_MANY_REQUESTS,
            vec![
                ("x-ratelimit-limit", "300".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset),
            ],
            json!({"error": "Too many requests"}),
        ))
    });
    let (reason, retry_after) = transient(adapter().publish(&fx.request()).await);
    assert_eq!(retry_after, Some(Duration::from_secs(90)));
    assert!(reason.contains("rate limit") && reason.contains("Too many requests"), "{reason}");

    // Retry-After, when present, wins.
    fake.with(|s| {
        if let Some(r) = s.statuses_reply.as_mut() {
            r.1.push(("retry-after", "30".into()));
        }
    });
    let (_, retry_after) = transient(adapter().publish(&fx.request()).await);
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn server_errors_are_transient() {
    let (fake, fx) = setup("hello", &[]).await;
    fake.with(|s| s.statuses_reply = Some((StatusCode::SERVICE_UNAVAILABLE, vec![], json!({"error": "Maintenance"}))));
    let (reason, retry_after) = transient(adapter().publish(&fx.request()).await);
    assert!(reason.contains("503") && reason.contains("Maintenance"), "{reason}");
    assert_eq!(retry_after, None);
}

#[tokio::test]
async fn a_server_that_never_answers_is_transient_within_the_timeout() {
    let (fake, fx) = setup("hello", &[]).await;
    fake.with(|s| s.hang = true);
    let started = Instant::now();
    let (reason, _) = transient(adapter().publish(&fx.request()).await);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(reason.contains("did not answer in time"), "{reason}");
}

#[tokio::test]
async fn an_unreachable_instance_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let fx = Fixture::new(&base, "hello", &[]);
    let (reason, _) = transient(adapter().publish(&fx.request()).await);
    assert!(reason.contains("could not be reached"), "{reason}");
}

#[tokio::test]
async fn media_that_is_not_an_image_or_video_is_rejected() {
    let (fake, fx) = setup("hello", &["/media/page.html"]).await;
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(reason, format!("media rejected: {}/media/page.html is text/html, not an image or video", base_of(&fx)));
    assert_eq!(fake.count(Method::POST, "/api/v2/media") + fake.count(Method::POST, "/api/v1/statuses"), 0);
}

#[tokio::test]
async fn media_too_big_is_rejected_with_its_size() {
    let (fake, fx) = setup("hello", &["/media/big.png"]).await;
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(
        reason,
        format!("media rejected: image is 3 KB; Mastodon takes at most 2 KB ({}/media/big.png)", base_of(&fx))
    );
    assert_eq!(fake.count(Method::POST, "/api/v1/statuses"), 0);
}

#[tokio::test]
async fn missing_media_is_permanent() {
    let (_fake, fx) = setup("hello", &["/media/missing.png"]).await;
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert!(reason.starts_with("media rejected:") && reason.contains("HTTP 404"), "{reason}");
}

#[tokio::test]
async fn media_still_processing_after_the_wait_is_transient() {
    let (fake, fx) = setup("hello", &["/media/cat.png"]).await;
    fake.with(|s| s.processing_polls = 1_000);
    let (reason, _) = transient(adapter().publish(&fx.request()).await);
    assert!(reason.contains("still processing cat.png"), "{reason}");
    assert_eq!(fake.count(Method::POST, "/api/v1/statuses"), 0);
}

// ---------------------------------------------------------------------------------------------
// Reconciling

fn status(id: &str, created_at: &str, content: &str, media: usize) -> Value {
    json!({
        "id": id,
        "created_at": created_at,
        "url": format!("https://mastodon.example/@cafe/{id}"),
        "content": content,
        "media_attachments": (0..media).map(|k| json!({"id": k.to_string()})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn find_published_matches_text_time_and_media() {
    let text =
        "Ouvert ce soir ✨ https://example.com/menu/aujourd-hui avec @bob@social.example #café\n\nÀ tout à l'heure";
    let (fake, fx) = setup(text, &["/media/cat.png"]).await;
    let html = concat!(
        "<p>Ouvert ce soir ✨ <a href=\"https://example.com/menu/aujourd-hui\" rel=\"nofollow noopener\" target=\"_blank\">",
        "<span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/menu/aujour</span>",
        "<span class=\"invisible\">d-hui</span></a> avec <span class=\"h-card\" translate=\"no\">",
        "<a href=\"https://social.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> ",
        "<a href=\"https://mastodon.example/tags/caf%C3%A9\" class=\"mention hashtag\" rel=\"tag\">#<span>café</span></a></p>",
        "<p>À tout à l&#39;heure</p>"
    );
    fake.with(|s| {
        s.timeline = vec![
            status("3", "2026-11-20T10:00:01.000Z", "<p>something else</p>", 1),
            status("2", "2026-11-20T09:59:30.000Z", html, 1),
            // The same text a week earlier (a recurring post) must not be taken for this one.
            status("1", "2026-11-13T10:00:00.000Z", html, 1),
        ]
    });
    let found = adapter().find_published(&fx.request()).await.unwrap().expect("found");
    assert_eq!(found.platform_post_id, "2");
    assert_eq!(found.url.as_deref(), Some("https://mastodon.example/@cafe/2"));
    let list = fake.seen(Method::GET, "/api/v1/accounts/109/statuses");
    assert!(list[0].query.contains("limit=40"), "{}", list[0].query);
    assert_eq!(list[0].headers["authorization"], format!("Bearer {TOKEN}").as_str());

    // Plain `text`, when a server sends it, is used instead of the HTML.
    fake.with(|s| {
        s.timeline = vec![json!({"id": "7", "created_at": "2026-11-20T10:00:02Z", "content": "<p>x</p>", "text": text,
            "media_attachments": [{"id": "1"}]})]
    });
    assert_eq!(adapter().find_published(&fx.request()).await.unwrap().map(|p| p.platform_post_id), Some("7".into()));
}

#[tokio::test]
async fn find_published_says_none_for_older_different_or_media_less_posts() {
    let (fake, fx) = setup("Ouvert ce soir", &["/media/cat.png"]).await;
    fake.with(|s| {
        s.timeline = vec![
            status("3", "2026-11-20T10:00:01.000Z", "<p>Ouvert ce soir !</p>", 1),
            status("2", "2026-11-20T09:58:59.000Z", "<p>Ouvert ce soir</p>", 1),
            status("1", "2026-11-20T10:00:01.000Z", "<p>Ouvert ce soir</p>", 0),
        ]
    });
    assert_eq!(adapter().find_published(&fx.request()).await.unwrap(), None);
}

#[tokio::test]
async fn find_published_with_a_revoked_token_is_an_auth_error() {
    let (_fake, mut fx) = setup("hello", &[]).await;
    fx.credentials =
        Credentials::from_json("credentials", &json!({"instance_url": base_of(&fx), "access_token": "revoked"}))
            .unwrap();
    assert!(matches!(adapter().find_published(&fx.request()).await, Err(PublishError::Auth { .. })));
}

// ---------------------------------------------------------------------------------------------
// A small multipart reader, for checking what the adapter uploaded.

struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn multipart_parts(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut parts = Vec::new();
    let positions: Vec<usize> =
        body.windows(delimiter.len()).enumerate().filter(|(_, w)| *w == delimiter.as_slice()).map(|(i, _)| i).collect();
    for pair in positions.windows(2) {
        let chunk = &body[pair[0] + delimiter.len()..pair[1]];
        let chunk = chunk.strip_prefix(b"\r\n").unwrap_or(chunk);
        let chunk = chunk.strip_suffix(b"\r\n").unwrap_or(chunk);
        let split = chunk.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&chunk[..split]).to_string();
        let data = chunk[split + 4..].to_vec();
        let mut part = Part { name: String::new(), filename: None, content_type: None, data };
        for line in head.lines() {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:") {
                let attr = |key: &str| {
                    line.split(';')
                        .map(str::trim)
                        .find_map(|a| a.strip_prefix(&format!("{key}=\"")))
                        .map(|v| v.trim_end_matches('"').to_owned())
                };
                part.name = attr("name").unwrap_or_default();
                part.filename = attr("filename");
            } else if lower.starts_with("content-type:") {
                part.content_type = Some(line["content-type:".len()..].trim().to_owned());
            }
        }
        parts.push(part);
    }
    parts
}
