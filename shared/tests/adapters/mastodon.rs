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
    Channel, ChannelId, ChannelName, Delivery, DeliveryState, Interaction, InteractionDraft, InteractionKind, MediaRef,
    Platform, Post, PostId, PostText, TeamId,
};
use herald_core::platforms::mastodon::{MastodonAdapter, MastodonConfig};
use herald_core::platforms::{
    InboxAdapter, NetworkPolicy, PlatformAdapter, Polled, PublishError, PublishRequest, Published,
};
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
    /// Every notification of the account (`GET /api/v1/notifications` pages through them).
    notifications: Vec<Value>,
    /// Answer every `types[]` filter with all types (as a server that ignores it would).
    ignore_types: bool,
    /// Send no `Link` header with notification pages.
    no_link: bool,
    /// Answer to give to `GET /api/v1/notifications` instead of a page.
    notifications_reply: Option<CannedReply>,
    /// `GET /api/v1/statuses/:id/context` answers, by status id (404 for others).
    contexts: HashMap<String, Value>,
    /// Size of `/media/huge.mp4` (announced with `Content-Length`) and of
    /// `/media/huge-chunked.mp4` (sent chunked, size unannounced), made as they are sent.
    huge_bytes: u64,
    /// Read `POST /api/v2/media` as a stream, checking the file part against the huge media
    /// byte by byte without keeping it ([`StreamedUpload`]), instead of buffering the body.
    stream_uploads: bool,
    streamed_uploads: Vec<StreamedUpload>,
}

/// What the fake saw of one streamed upload.
#[derive(Debug, Clone, Default)]
struct StreamedUpload {
    /// The whole request body arrived (not cut off).
    complete: bool,
    /// Body bytes and chunks received.
    bytes: u64,
    chunks: usize,
    /// Bytes of the `file` part, each equal to the huge media's byte at its place.
    file_bytes: u64,
    mismatch: bool,
    content_length: Option<String>,
    chunked: bool,
}

/// Byte `i` of the huge media: an MP4 signature, then letters. No `\r` in it, so in a multipart
/// body the file part ends at the first `\r` after its headers.
fn huge_byte(i: u64) -> u8 {
    const SIGNATURE: &[u8] = b"\0\0\0\x18ftypisom";
    usize::try_from(i).ok().and_then(|k| SIGNATURE.get(k).copied()).unwrap_or(b'a' + (i % 26) as u8)
}

/// The huge media, made 64 KiB at a time as the client reads it (never whole in memory).
fn huge_media(len: u64, announced: bool) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunks = futures_util::stream::iter((0..len).step_by(CHUNK as usize).map(move |start| {
        let end = (start + CHUNK).min(len);
        Ok::<_, std::convert::Infallible>(Bytes::from((start..end).map(huge_byte).collect::<Vec<u8>>()))
    }));
    let mut r = Response::new(axum::body::Body::from_stream(chunks));
    r.headers_mut().insert("content-type", "video/mp4".parse().unwrap());
    if announced {
        r.headers_mut().insert("content-length", len.to_string().parse().unwrap());
    }
    r
}

/// `POST /api/v2/media` read chunk by chunk: the `file` part is compared with the huge media as
/// it arrives. A complete upload makes a processed attachment; a cut-off one makes nothing.
async fn streamed_upload(fake: Fake, request: Request) -> Response {
    use futures_util::StreamExt as _;
    let (parts, body) = request.into_parts();
    fake.with(|s| {
        s.seen.push(Seen {
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
            query: String::new(),
            headers: parts.headers.clone(),
            body: Bytes::new(),
        });
    });
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut up = StreamedUpload {
        content_length: header("content-length"),
        chunked: header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")),
        ..StreamedUpload::default()
    };
    // Before the file part's data: its headers (and the boundary line), a few hundred bytes.
    let mut head: Vec<u8> = Vec::new();
    let (mut in_file, mut file_done) = (false, false);
    let check = |up: &mut StreamedUpload, data: &[u8]| -> bool {
        for &b in data {
            if b == b'\r' {
                return true;
            }
            if b != huge_byte(up.file_bytes) {
                up.mismatch = true;
            }
            up.file_bytes += 1;
        }
        false
    };
    let mut stream = body.into_data_stream();
    loop {
        match stream.next().await {
            None => {
                up.complete = true;
                break;
            }
            Some(Err(_)) => break,
            Some(Ok(chunk)) => {
                up.chunks += 1;
                up.bytes += chunk.len() as u64;
                if file_done {
                    continue;
                }
                if in_file {
                    file_done = check(&mut up, &chunk);
                    continue;
                }
                head.extend_from_slice(&chunk);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    assert!(String::from_utf8_lossy(&head[..end]).contains("name=\"file\""), "the file part comes first");
                    in_file = true;
                    let rest = head.split_off(end + 4);
                    head.clear();
                    file_done = check(&mut up, &rest);
                }
            }
        }
    }
    let complete = up.complete;
    let id = fake.0.lock().map(|mut s| {
        s.streamed_uploads.push(up);
        s.next_id += 1;
        s.next_id
    });
    if !complete {
        return StatusCode::BAD_REQUEST.into_response();
    }
    json_reply(StatusCode::OK, json!({"id": format!("{}", 900 + id.unwrap()), "type": "video", "url": "http://fake/system/huge.mp4"}))
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
    let huge = fake.0.lock().unwrap().huge_bytes;
    match request.uri().path() {
        "/media/huge.mp4" => return huge_media(huge, true),
        "/media/huge-chunked.mp4" => return huge_media(huge, false),
        "/api/v2/media" if fake.0.lock().unwrap().stream_uploads => return streamed_upload(fake, request).await,
        _ => {}
    }
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
        (Method::GET, "/api/v1/notifications") => {
            let s = fake.0.lock().unwrap();
            if let Some((status, headers, body)) = s.notifications_reply.clone() {
                let mut r = json_reply(status, body);
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                return r;
            }
            notifications_page(&s, parts.uri.query().unwrap_or(""), &base)
        }
        (Method::GET, p) if p.starts_with("/api/v1/statuses/") && p.ends_with("/context") => {
            let id = p.trim_start_matches("/api/v1/statuses/").trim_end_matches("/context");
            match fake.0.lock().unwrap().contexts.get(id) {
                Some(context) => json_reply(StatusCode::OK, context.clone()),
                None => json_reply(StatusCode::NOT_FOUND, json!({"error": "Record not found"})),
            }
        }
        _ => json_reply(StatusCode::NOT_FOUND, json!({"error": "Record not found"})),
    }
}

/// `types[]` / `limit` / `min_id` as Mastodon reads them: without `min_id` the newest page,
/// with it the page just after it; newest first either way, with a `Link` header
/// (`prev` = newer, with `min_id`; `next` = older, with `max_id`).
fn notifications_page(s: &FakeState, query: &str, base: &str) -> Response {
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.replace("%5B", "[").replace("%5D", "]"), v.to_owned()))
        .collect();
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let types: Vec<&str> = params.iter().filter(|(k, _)| k == "types[]").map(|(_, v)| v.as_str()).collect();
    let limit: usize = param("limit").and_then(|l| l.parse().ok()).unwrap_or(40);
    let id = |n: &Value| n["id"].as_str().unwrap().parse::<u64>().unwrap();
    let mut all: Vec<Value> = s
        .notifications
        .iter()
        .filter(|n| s.ignore_types || types.is_empty() || types.contains(&n["type"].as_str().unwrap()))
        .cloned()
        .collect();
    all.sort_by_key(id);
    let page: Vec<Value> = match param("min_id").and_then(|m| m.parse::<u64>().ok()) {
        Some(min) => {
            all.into_iter().filter(|n| id(n) > min).take(limit).collect::<Vec<_>>().into_iter().rev().collect()
        }
        None => all.into_iter().rev().take(limit).collect(),
    };
    let mut r = json_reply(StatusCode::OK, Value::Array(page.clone()));
    if let (false, Some(newest), Some(oldest)) = (s.no_link, page.first(), page.last()) {
        let filter: String = types.iter().map(|t| format!("types%5B%5D={t}&")).collect();
        let link = format!(
            "<{base}/api/v1/notifications?{filter}limit={limit}&max_id={}>; rel=\"next\", \
             <{base}/api/v1/notifications?{filter}limit={limit}&min_id={}>; rel=\"prev\"",
            id(oldest),
            id(newest)
        );
        r.headers_mut().insert("link", link.parse().unwrap());
    }
    r
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
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
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
            media_files: &herald_core::media::NoMediaFiles,
            first_comment: None,
            reply_control: None,
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
    MastodonAdapter::with_config(Arc::new(ManualClock::new(now())), config(), NetworkPolicy::AllowPrivate).unwrap()
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
async fn an_uploaded_file_is_read_from_where_uploads_are_kept_not_fetched() {
    use herald_core::media::{MediaKey, MediaType, MemoryMediaFiles};
    let (fake, mut fx) = setup("Le chat de la maison", &[]).await;
    let files = MemoryMediaFiles::default();
    let key = MediaKey::new(fx.channel.team_id.clone(), MediaType::by_mime("image/png").unwrap());
    files.insert(&key, png());
    fx.media = vec![MediaRef::parse("media", &key.reference(), Some("A cat asleep on the counter".into())).unwrap()];
    let request = PublishRequest { media_files: &files, ..fx.request() };
    adapter().publish(&request).await.unwrap();

    let uploads = fake.seen(Method::POST, "/api/v2/media");
    let ct = uploads[0].headers["content-type"].to_str().unwrap().to_owned();
    let parts = multipart_parts(&uploads[0].body, ct.split("boundary=").nth(1).unwrap());
    let file = parts.iter().find(|p| p.name == "file").expect("a file part");
    assert_eq!((file.filename.as_deref(), file.content_type.as_deref()), (Some("media.png"), Some("image/png")));
    assert_eq!(file.data, png());
    let body: Value = serde_json::from_slice(&fake.seen(Method::POST, "/api/v1/statuses")[0].body).unwrap();
    assert_eq!(body["media_ids"], json!(["901"]));

    // Gone since the post was saved: refused for good, nothing posted.
    let (fake, mut fx) = setup("Le chat", &[]).await;
    fx.media = vec![MediaRef::parse("media", &key.reference(), None).unwrap()];
    let empty = MemoryMediaFiles::default();
    let reason = permanent(adapter().publish(&PublishRequest { media_files: &empty, ..fx.request() }).await);
    assert!(reason.contains("is no longer there"), "{reason}");
    assert_eq!(fake.count(Method::POST, "/api/v1/statuses"), 0);
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
// Large media: streamed from their host to the instance, never whole in memory

/// Tens of MB: twice Herald's default limit, so a whole copy in memory could not go unnoticed.
const HUGE: u64 = 32_000_000;

/// What a publish may hold at its peak while streaming (this thread's allocations, which
/// include the fakes' side of both connections): the connections' buffers and a few chunks.
/// Reading a media whole would hold all of it (32 MB, or 16 MB up to the limit).
const STREAMING_PEAK: u64 = 4_000_000;

fn streaming_adapter(max_media_bytes: u64) -> MastodonAdapter {
    let config = MastodonConfig { timeout: Duration::from_secs(60), max_media_bytes, ..config() };
    MastodonAdapter::with_config(Arc::new(ManualClock::new(now())), config, NetworkPolicy::AllowPrivate).unwrap()
}

#[tokio::test]
async fn a_large_media_is_streamed_to_the_instance_never_whole_in_memory() {
    for (path, announced) in [("/media/huge.mp4", true), ("/media/huge-chunked.mp4", false)] {
        let (fake, fx) = setup("Le film de la soirée", &[path]).await;
        fake.with(|s| {
            s.huge_bytes = HUGE;
            s.stream_uploads = true;
        });
        let adapter = streaming_adapter(64_000_000);
        let peak = crate::memory::Peak::start();
        let published = adapter.publish(&fx.request()).await.unwrap_or_else(|e| panic!("{path}: {e:?}"));
        let held = peak.bytes();
        assert!(!published.platform_post_id.is_empty());

        let up = fake.0.lock().unwrap().streamed_uploads.clone();
        assert_eq!(up.len(), 1, "{path}: one upload");
        let up = &up[0];
        assert!(up.complete, "{path}: {up:?}");
        assert_eq!((up.file_bytes, up.mismatch), (HUGE, false), "{path}: the file part is the media, byte for byte");
        // (The server reads what the connection holds, up to ~400 KB at a time: the count of
        // chunks says little; what the publish held, below, says whether it streamed.)
        assert!(up.chunks > 1, "{path}: the upload arrived in {} chunks", up.chunks);
        if announced {
            // The host said its size: the upload says its own (multipart overhead included).
            let length: u64 = up.content_length.as_deref().expect("a Content-Length").parse().unwrap();
            assert_eq!(length, up.bytes, "{path}");
            assert!(!up.chunked, "{path}");
        } else {
            assert!(up.chunked && up.content_length.is_none(), "{path}: {up:?}");
        }
        let body: Value = serde_json::from_slice(&fake.seen(Method::POST, "/api/v1/statuses")[0].body).unwrap();
        assert_eq!(body["media_ids"], json!(["901"]), "{path}");
        assert!(held < STREAMING_PEAK, "{path}: the publish held {held} bytes at its peak for a {HUGE}-byte media");
        eprintln!("{path}: {HUGE} bytes streamed in {} chunks; peak held {held} bytes", up.chunks);
    }
}

#[tokio::test]
async fn a_media_over_the_limit_fails_for_good_and_nothing_is_uploaded() {
    let limit = MastodonConfig::default().max_media_bytes;
    assert_eq!(limit, 16_000_000);

    // Its size announced: refused before anything is uploaded, or even read.
    let (fake, fx) = setup("Le film", &["/media/huge.mp4"]).await;
    fake.with(|s| {
        s.huge_bytes = HUGE;
        s.stream_uploads = true;
    });
    let reason = permanent(streaming_adapter(limit).publish(&fx.request()).await);
    assert_eq!(reason, format!("media rejected: video is 32 MB; Mastodon takes at most 16 MB ({}/media/huge.mp4)", base_of(&fx)));
    assert_eq!(fake.count(Method::POST, "/api/v2/media") + fake.count(Method::POST, "/api/v1/statuses"), 0);

    // Unannounced (sent chunked): the upload stops when the limit is passed, so the instance
    // gets an incomplete request and makes no attachment; nothing is posted.
    let (fake, fx) = setup("Le film", &["/media/huge-chunked.mp4"]).await;
    fake.with(|s| {
        s.huge_bytes = HUGE;
        s.stream_uploads = true;
    });
    let peak = crate::memory::Peak::start();
    let reason = permanent(streaming_adapter(limit).publish(&fx.request()).await);
    let held = peak.bytes();
    assert_eq!(
        reason,
        format!("media rejected: video is larger than 16 MB; Mastodon takes at most 16 MB ({}/media/huge-chunked.mp4)", base_of(&fx))
    );
    // The fake notices the cut-off request only once its connection closes.
    let uploads = {
        let waited = Instant::now();
        loop {
            let ups = fake.0.lock().unwrap().streamed_uploads.clone();
            if !ups.is_empty() || waited.elapsed() > Duration::from_secs(5) {
                break ups;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert!(uploads.iter().all(|u| !u.complete && u.file_bytes <= limit), "{uploads:?}");
    assert_eq!(fake.count(Method::POST, "/api/v1/statuses"), 0);
    assert!(held < STREAMING_PEAK, "the refused publish held {held} bytes at its peak");
    eprintln!("refused at the limit: peak held {held} bytes");
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
// Inbox: polling notifications, replying

fn person(id: &str, acct: &str, display_name: &str) -> Value {
    json!({"id": id, "username": acct.split('@').next().unwrap(), "acct": acct, "display_name": display_name})
}

fn toot(id: &str, author: Value, html: &str, visibility: &str, in_reply_to_id: Option<&str>) -> Value {
    json!({
        "id": id,
        "created_at": "2026-11-20T09:30:00.000Z",
        "url": format!("https://other.example/@x/{id}"),
        "content": html,
        "visibility": visibility,
        "in_reply_to_id": in_reply_to_id,
        "account": author,
        "media_attachments": [],
    })
}

fn notification(id: u64, kind: &str, status: Option<Value>) -> Value {
    let mut n = json!({"id": id.to_string(), "type": kind, "created_at": "2026-11-20T09:31:00.000Z",
        "account": person("9", "someone@other.example", "Someone")});
    if let Some(s) = status {
        n["status"] = s;
    }
    n
}

fn polled(r: Result<Polled, PublishError>) -> Polled {
    r.unwrap_or_else(|e| panic!("poll failed: {e:?}"))
}

/// The interaction Herald would store from a draft (as JSON, so that fields added to
/// `Interaction` later with defaults do not break this test).
fn interaction_from(draft: &InteractionDraft, channel: &Channel) -> Interaction {
    let mut v = serde_json::to_value(draft).unwrap();
    v["id"] = json!(herald_core::domain::InteractionId::new());
    v["team_id"] = json!(channel.team_id);
    v["channel_id"] = json!(channel.id);
    v["platform"] = json!("mastodon");
    v["received_at"] = json!(now());
    v["status"] = json!("open");
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn a_first_poll_reads_the_latest_page_of_mentions_replies_and_direct_messages() {
    let (fake, fx) = setup("", &[]).await;
    let bob = person("71", "bob@other.example", "Bob ✨");
    let carol = person("72", "carol@other.example", "");
    fake.with(|s| {
        // A server that ignores `types[]`: likes, follows and boosts must still be left out.
        s.ignore_types = true;
        s.notifications = vec![
            notification(101, "favourite", Some(toot("50", person("109", "cafe", "Café"), "<p>menu</p>", "public", None))),
            notification(102, "follow", None),
            notification(103, "mention", Some(toot("201", bob.clone(),
                "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://mastodon.example/@cafe\" class=\"u-url mention\">@<span>cafe</span></a></span> \
                 Vous ouvrez à quelle heure&nbsp;? C&#39;est pour <a href=\"https://example.org/anniv\"><span class=\"invisible\">https://</span><span class=\"\">example.org/anniv</span></a></p><p>Merci&nbsp;!<br />Bob</p>",
                "public", None))),
            notification(104, "mention", Some(toot("202", carol.clone(), "<p>@cafe miam</p>", "public", Some("50")))),
            notification(105, "mention", Some(toot("203", carol.clone(), "<p>@cafe et demain ?</p>", "unlisted", Some("202")))),
            notification(106, "mention", Some(toot("204", person("73", "dave@other.example", "Dave"), "<p>@cafe un secret</p>", "direct", None))),
            notification(107, "quote", Some({
                let mut t = toot("205", person("74", "erin", "Erin"), "<p>Regardez ça</p>", "public", None);
                t["quote"] = json!({"state": "accepted", "quoted_status": {"id": "50"}});
                t
            })),
            notification(108, "reblog", Some(toot("50", person("109", "cafe", "Café"), "<p>menu</p>", "public", None))),
            // The quote mentions the café too: one interaction, not two.
            notification(109, "mention", Some({
                let mut t = toot("205", person("74", "erin", "Erin"), "<p>Regardez ça</p>", "public", None);
                t["quote"] = json!({"state": "accepted", "quoted_status": {"id": "50"}});
                t
            })),
        ];
        s.contexts.insert("202".into(), json!({"ancestors": [{"id": "50"}], "descendants": []}));
    });
    let a = adapter();
    let got = polled(a.poll(&fx.channel, &fx.credentials, None).await);

    let ids: Vec<&str> = got.items.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["201", "202", "203", "204", "205"], "oldest first, likes/follows/boosts skipped, one per status");
    assert_eq!(got.cursor.as_deref(), Some("109"));
    let by_id = |id: &str| &got.items.iter().find(|(k, _)| k == id).unwrap().1;

    let mention = by_id("201");
    assert_eq!(mention.kind, InteractionKind::Mention);
    assert_eq!(mention.external_id, "201");
    assert_eq!(mention.thread_id, "201");
    assert_eq!(mention.parent_id, None);
    assert_eq!(mention.author_id, "71");
    assert_eq!(mention.author_name, "Bob ✨");
    assert_eq!(
        mention.text,
        "@cafe Vous ouvrez à quelle heure\u{a0}? C'est pour https://example.org/anniv\n\nMerci\u{a0}!\nBob"
    );
    assert_eq!(mention.created_at, Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap());
    let reply_ref: Value = serde_json::from_str(mention.reply_ref.as_deref().unwrap()).unwrap();
    assert_eq!(reply_ref, json!({"status_id": "201", "acct": "bob@other.example", "visibility": "public"}));

    let reply = by_id("202");
    assert_eq!(
        (reply.kind, reply.thread_id.as_str(), reply.parent_id.as_deref()),
        (InteractionKind::Reply, "50", Some("50"))
    );
    assert_eq!(reply.post_external_id.as_deref(), Some("50"));
    assert_eq!(reply.author_name, "carol@other.example", "no display name: the acct");
    // A reply to a reply of the same poll shares its root without another lookup.
    let deeper = by_id("203");
    assert_eq!(
        (deeper.kind, deeper.thread_id.as_str(), deeper.parent_id.as_deref()),
        (InteractionKind::Reply, "50", Some("202"))
    );
    assert_eq!(fake.count(Method::GET, "/api/v1/statuses/202/context"), 1);
    assert_eq!(fake.count(Method::GET, "/api/v1/statuses/203/context"), 0);

    let dm = by_id("204");
    assert_eq!((dm.kind, dm.thread_id.as_str()), (InteractionKind::DirectMessage, "204"));
    let quote = by_id("205");
    assert_eq!((quote.kind, quote.post_external_id.as_deref()), (InteractionKind::Mention, Some("50")));

    // The request: mentions and quotes, one page of 40, no cursor.
    let sent = fake.seen(Method::GET, "/api/v1/notifications");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].query, "types%5B%5D=mention&types%5B%5D=quote&limit=40");
    assert_eq!(sent[0].headers["authorization"], format!("Bearer {TOKEN}").as_str());

    // Polling again with the cursor: nothing new, the same cursor.
    let again = polled(a.poll(&fx.channel, &fx.credentials, got.cursor.as_deref()).await);
    assert_eq!(again, Polled { items: vec![], cursor: Some("109".into()) });
    assert!(fake.seen(Method::GET, "/api/v1/notifications")[1].query.ends_with("&min_id=109"));
}

#[tokio::test]
async fn a_poll_with_a_cursor_reads_every_newer_page_through_the_link_header() {
    let (fake, fx) = setup("", &[]).await;
    fake.with(|s| {
        s.notifications = (990..=1045)
            .map(|n| {
                let status = toot(
                    &(n + 2000).to_string(),
                    person("71", "bob@other.example", "Bob"),
                    "<p>hi</p>",
                    "public",
                    None,
                );
                notification(n, "mention", Some(status))
            })
            .collect()
    });
    let a = adapter();
    let got = polled(a.poll(&fx.channel, &fx.credentials, Some("1000")).await);
    let ids: Vec<String> = got.items.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, (3001..=3045).map(|n| n.to_string()).collect::<Vec<_>>());
    assert_eq!(got.cursor.as_deref(), Some("1045"));
    let sent = fake.seen(Method::GET, "/api/v1/notifications");
    assert_eq!(sent.len(), 2, "40, then the last 5");
    assert!(sent[0].query.ends_with("limit=40&min_id=1000"), "{}", sent[0].query);
    assert!(sent[1].query.ends_with("limit=40&min_id=1040"), "the Link header's prev: {}", sent[1].query);

    // Without a Link header the adapter goes on from the newest id itself.
    fake.with(|s| {
        s.no_link = true;
        s.seen.clear();
    });
    let got = polled(a.poll(&fx.channel, &fx.credentials, Some("1000")).await);
    assert_eq!(got.items.len(), 45);
    let sent = fake.seen(Method::GET, "/api/v1/notifications");
    assert_eq!(sent.len(), 2);
    assert!(sent[1].query.ends_with("min_id=1040"), "{}", sent[1].query);
}

#[tokio::test]
async fn a_reply_answers_in_the_thread_mentions_the_author_and_keeps_a_direct_message_direct() {
    let (fake, fx) = setup("", &[]).await;
    fake.with(|s| {
        s.notifications = vec![notification(
            106,
            "mention",
            Some(toot("204", person("73", "dave@other.example", "Dave"), "<p>@cafe un secret</p>", "direct", None)),
        )]
    });
    let a = adapter();
    let got = polled(a.poll(&fx.channel, &fx.credentials, None).await);
    let dm = interaction_from(&got.items[0].1, &fx.channel);

    let first = a.reply(&fx.channel, &fx.credentials, &dm, "Bonjour, c'est noté !").await.unwrap();
    let sent = fake.seen(Method::POST, "/api/v1/statuses");
    let body: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body,
        json!({"status": "@dave@other.example Bonjour, c'est noté !", "in_reply_to_id": "204", "visibility": "direct"})
    );
    let key = sent[0].headers["idempotency-key"].to_str().unwrap().to_owned();
    assert!(key.starts_with("herald-reply-") && key.len() == "herald-reply-".len() + 32, "{key}");
    assert!(first.platform_post_id.starts_with("11330"));
    assert!(first.url.is_some());

    // The same reply again (a retry) uses the same key, and Mastodon gives back the same status.
    let second = a.reply(&fx.channel, &fx.credentials, &dm, "Bonjour, c'est noté !").await.unwrap();
    assert_eq!(second, first);
    // Another text is another reply.
    a.reply(&fx.channel, &fx.credentials, &dm, "Autre chose").await.unwrap();
    let keys: Vec<String> = fake
        .seen(Method::POST, "/api/v1/statuses")
        .iter()
        .map(|s| s.headers["idempotency-key"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys[0], keys[1]);
    assert_ne!(keys[0], keys[2]);

    // A public reply that already names the author: no mention added, the account's default visibility.
    let mut public = dm.clone();
    public.kind = InteractionKind::Reply;
    public.reply_ref =
        Some(json!({"status_id": "202", "acct": "carol@other.example", "visibility": "public"}).to_string());
    a.reply(&fx.channel, &fx.credentials, &public, "Merci @Carol@other.example !").await.unwrap();
    // Without a reply_ref (an interaction from elsewhere): the external id, nothing more.
    let mut bare = dm.clone();
    bare.kind = InteractionKind::Comment;
    bare.external_id = "777".into();
    bare.reply_ref = None;
    a.reply(&fx.channel, &fx.credentials, &bare, "Merci").await.unwrap();
    let bodies: Vec<Value> =
        fake.seen(Method::POST, "/api/v1/statuses").iter().map(|s| serde_json::from_slice(&s.body).unwrap()).collect();
    assert_eq!(bodies[3], json!({"status": "Merci @Carol@other.example !", "in_reply_to_id": "202"}));
    assert_eq!(bodies[4], json!({"status": "Merci", "in_reply_to_id": "777"}));
}

#[tokio::test]
async fn inbox_errors_are_sorted_like_publishing_errors() {
    let (fake, fx) = setup("", &[]).await;
    let reset = (now() + chrono::Duration::seconds(90)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    fake.with(|s| {
        s.notifications_reply = Some((
            StatusCode::TOO_MANY_REQUESTS,
            vec![("x-ratelimit-remaining", "0".into()), ("x-ratelimit-reset", reset)],
            json!({"error": "Too many requests"}),
        ))
    });
    let a = adapter();
    match a.poll(&fx.channel, &fx.credentials, Some("5")).await {
        Err(PublishError::Transient { reason, retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(90)));
            assert!(reason.contains("rate limit"), "{reason}");
        }
        other => panic!("expected Transient, got {other:?}"),
    }

    let revoked =
        Credentials::from_json("credentials", &json!({"instance_url": base_of(&fx), "access_token": "revoked"}))
            .unwrap();
    assert!(matches!(a.poll(&fx.channel, &revoked, None).await, Err(PublishError::Auth { .. })));

    let draft = InteractionDraft {
        kind: InteractionKind::Reply,
        external_id: "202".into(),
        thread_id: "50".into(),
        parent_id: Some("50".into()),
        author_id: "72".into(),
        author_name: "Carol".into(),
        text: "miam".into(),
        created_at: now(),
        post_external_id: Some("50".into()),
        post_url: None,
        reply_ref: None,
    };
    let to = interaction_from(&draft, &fx.channel);
    assert!(matches!(a.reply(&fx.channel, &revoked, &to, "merci").await, Err(PublishError::Auth { .. })));
    fake.with(|s| {
        s.statuses_reply =
            Some((StatusCode::UNPROCESSABLE_ENTITY, vec![], json!({"error": "Validation failed: Text is too long"})))
    });
    match a.reply(&fx.channel, &fx.credentials, &to, "merci").await {
        Err(PublishError::Permanent { reason }) => {
            assert_eq!(reason, "Mastodon refused the reply: Validation failed: Text is too long")
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The private-network guard: what production runs (`NetworkPolicy::PublicOnly`) refuses the
// loopback fake, for good, without a single request reaching it.

fn guarded() -> MastodonAdapter {
    MastodonAdapter::with_config(Arc::new(ManualClock::new(now())), config(), NetworkPolicy::PublicOnly).unwrap()
}

fn requests_seen(fake: &Fake) -> usize {
    fake.0.lock().unwrap().seen.len()
}

#[tokio::test]
async fn the_guard_refuses_a_media_url_on_loopback_permanently_and_fetches_nothing() {
    let (fake, fx) = setup("Le chat de la maison", &["/media/cat.png"]).await;
    let reason = permanent(guarded().publish(&fx.request()).await);
    assert_eq!(
        reason,
        format!(
            "media URL {}/media/cat.png: 127.0.0.1 is a private address (loopback); refused \
             (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)",
            base_of(&fx)
        )
    );
    assert_eq!(requests_seen(&fake), 0, "no media fetch, no upload, no status");
}

#[tokio::test]
async fn the_guard_refuses_an_instance_on_loopback_by_address_or_by_name() {
    let (fake, fx) = setup("Bonjour", &[]).await;
    let reason = permanent(guarded().publish(&fx.request()).await);
    assert_eq!(
        reason,
        "Mastodon not contacted while publishing: 127.0.0.1 is a private address (loopback); \
         refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"
    );

    // By name: `localhost` goes through the system resolver, whose answer the guard refuses.
    let by_name = Fixture::new(&base_of(&fx).replace("127.0.0.1", "localhost"), "Bonjour", &[]);
    let reason = permanent(guarded().publish(&by_name.request()).await);
    let expected = "Mastodon not contacted while publishing: localhost resolves to a private address (";
    assert!(reason.starts_with(expected), "{reason}");
    match guarded().poll(&by_name.channel, &by_name.credentials, None).await {
        Err(PublishError::Permanent { reason }) => {
            assert!(reason.contains("localhost resolves to a private address"), "{reason}")
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert_eq!(requests_seen(&fake), 0);
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
