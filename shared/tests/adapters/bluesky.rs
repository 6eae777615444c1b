//! The Bluesky adapter against a fake PDS on 127.0.0.1, built from platforms.md §2.2/§2.4 and
//! from what peers-bluesky.md saw a real PDS do: a bad token is `400 InvalidToken` /
//! `ExpiredToken`, a wrong password `401 AuthenticationRequired`, a missing record `400
//! RecordNotFound`, and a `createRecord` on a key that is taken a `500 InternalServerError`
//! (the reference PDS, bluesky-social/atproto issue 3718). The fake also serves the media.

use std::collections::{HashMap, HashSet};
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
use herald_core::platforms::bluesky::{BlueskyAdapter, BlueskyConfig, is_valid_tid, reply_rkey, rkey_for};
use herald_core::platforms::{
    InboxAdapter, NetworkPolicy, PlatformAdapter, Polled, PublishError, PublishRequest, Published,
};
use serde_json::{Value, json};

const DID: &str = "did:plc:alice1234567890abcdefgh";
const HANDLE: &str = "alice.test";
const PASSWORD: &str = "abcd-efgh-ijkl-mnop";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

/// A 1200×800 PNG header (enough for type and size sniffing), padded to 300 bytes.
fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.extend_from_slice(&1200u32.to_be_bytes());
    b.extend_from_slice(&800u32.to_be_bytes());
    b.resize(300, 0);
    b
}

// ---------------------------------------------------------------------------------------------
// The fake PDS

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
struct PdsState {
    seen: Vec<Seen>,
    tokens: u64,
    access: HashSet<String>,
    refresh: HashSet<String>,
    /// Refuse every access token, even fresh ones.
    refuse_all_access: bool,
    /// Records of app.bsky.feed.post, by rkey.
    records: HashMap<String, Value>,
    /// Answer to give to `createRecord` instead of creating.
    create_reply: Option<CannedReply>,
    hang: bool,
    /// Access tokens shaped like the PDS's JWTs (`iat`/`exp` two hours apart) instead of `access-N`.
    jwt_tokens: bool,
    /// Every notification of the account, in any order (`listNotifications` sorts by `indexedAt`).
    notifications: Vec<Value>,
    /// Answer every `reasons` filter with all reasons (as an AppView that ignores it would).
    ignore_reasons: bool,
    /// Answer to give to `listNotifications` instead of a page.
    notifications_reply: Option<CannedReply>,
    /// What `app.bsky.feed.getPosts` knows, by URI: post views.
    posts: HashMap<String, Value>,
}

#[derive(Clone, Default)]
struct Pds(Arc<Mutex<PdsState>>);

impl Pds {
    fn with<T>(&self, f: impl FnOnce(&mut PdsState) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    fn seen(&self, nsid_or_path: &str) -> Vec<Seen> {
        let path =
            if nsid_or_path.starts_with('/') { nsid_or_path.to_owned() } else { format!("/xrpc/{nsid_or_path}") };
        self.with(|s| s.seen.iter().filter(|r| r.path == path).cloned().collect())
    }

    fn count(&self, nsid: &str) -> usize {
        self.seen(nsid).len()
    }

    /// Every access token stops working (as after 120 minutes).
    fn expire_access_tokens(&self) {
        self.with(|s| s.access.clear());
    }
}

fn xrpc(status: StatusCode, body: Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn xrpc_error(status: StatusCode, error: &str, message: &str) -> Response {
    xrpc(status, json!({"error": error, "message": message}))
}

fn new_session(s: &mut PdsState) -> Value {
    use base64::Engine as _;
    s.tokens += 1;
    let (mut access, refresh) = (format!("access-{}", s.tokens), format!("refresh-{}", s.tokens));
    if s.jwt_tokens {
        let claims = json!({"scope": "com.atproto.access", "sub": DID, "iat": 1_800_000_000, "exp": 1_800_007_200});
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
        access = format!("eyJ0eXAiOiJhdCtqd3QiLCJhbGciOiJIUzI1NiJ9.{payload}.{access}");
    }
    s.access.insert(access.clone());
    s.refresh.insert(refresh.clone());
    json!({"did": DID, "handle": HANDLE, "accessJwt": access, "refreshJwt": refresh, "active": true})
}

async fn handle(State(pds): State<Pds>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query: HashMap<String, String> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":").replace("%3a", ":")))
        .collect();
    pds.with(|s| {
        s.seen.push(Seen {
            method: parts.method.clone(),
            path: path.clone(),
            query: parts.uri.query().unwrap_or("").to_owned(),
            headers: parts.headers.clone(),
            body: body.clone(),
        })
    });
    let bearer = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);

    match path.as_str() {
        "/media/cat.png" => return ([("content-type", "image/png")], png()).into_response(),
        "/media/big.jpg" => return ([("content-type", "image/jpeg")], vec![0xFFu8; 2_300_000]).into_response(),
        "/media/logo.svg" => return ([("content-type", "image/svg+xml")], "<svg/>").into_response(),
        "/xrpc/com.atproto.server.createSession" => {
            let who = json_body["identifier"].as_str().unwrap_or("");
            if (who == HANDLE || who == DID) && json_body["password"] == PASSWORD {
                return xrpc(StatusCode::OK, pds.with(new_session));
            }
            return xrpc_error(StatusCode::UNAUTHORIZED, "AuthenticationRequired", "Invalid identifier or password");
        }
        "/xrpc/com.atproto.server.refreshSession" => {
            // Refresh tokens rotate: the old one stops working.
            let ok = pds.with(|s| s.refresh.remove(&bearer));
            if ok {
                return xrpc(StatusCode::OK, pds.with(new_session));
            }
            return xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
        }
        "/xrpc/com.atproto.identity.resolveHandle" => {
            return match query.get("handle").map(String::as_str) {
                Some("alice.test") => xrpc(StatusCode::OK, json!({"did": DID})),
                Some("bob.test") => xrpc(StatusCode::OK, json!({"did": "did:plc:bob"})),
                _ => xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", "Unable to resolve handle"),
            };
        }
        _ => {}
    }

    // Everything below needs a valid access token (a real PDS answers 400 InvalidToken / ExpiredToken).
    let valid = pds.with(|s| !s.refuse_all_access && s.access.contains(&bearer));
    if !valid {
        return xrpc_error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired");
    }
    match path.as_str() {
        "/xrpc/com.atproto.repo.uploadBlob" => {
            let mime = parts.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("*/*").to_owned();
            xrpc(
                StatusCode::OK,
                json!({"blob": {"$type": "blob", "ref": {"$link": format!("bafkrei{}", body.len())}, "mimeType": mime, "size": body.len()}}),
            )
        }
        "/xrpc/com.atproto.repo.createRecord" => {
            if pds.with(|s| s.hang) {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            if let Some((status, headers, body)) = pds.with(|s| s.create_reply.clone()) {
                let mut r = xrpc(status, body);
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                return r;
            }
            let rkey = json_body["rkey"].as_str().unwrap_or("").to_owned();
            if json_body["repo"] != DID || json_body["collection"] != "app.bsky.feed.post" || !is_valid_tid(&rkey) {
                return xrpc_error(StatusCode::BAD_REQUEST, "InvalidRequest", "bad repo, collection or rkey");
            }
            let record = json_body["record"].clone();
            if record["text"].as_str().unwrap_or("").chars().count() > 300 {
                return xrpc_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "Invalid app.bsky.feed.post record: grapheme too big",
                );
            }
            let taken = pds.with(|s| {
                if s.records.contains_key(&rkey) {
                    return true;
                }
                s.records.insert(rkey.clone(), record);
                false
            });
            if taken {
                return xrpc_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError", "Internal Server Error");
            }
            xrpc(StatusCode::OK, json!({"uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": "bafyreicid"}))
        }
        "/xrpc/com.atproto.repo.getRecord" => {
            let rkey = query.get("rkey").cloned().unwrap_or_default();
            match pds.with(|s| s.records.get(&rkey).cloned()) {
                Some(value) if query.get("repo").map(String::as_str) == Some(DID) => xrpc(
                    StatusCode::OK,
                    json!({"uri": format!("at://{DID}/app.bsky.feed.post/{rkey}"), "cid": "bafyreicid", "value": value}),
                ),
                _ => xrpc_error(
                    StatusCode::BAD_REQUEST,
                    "RecordNotFound",
                    &format!("Could not locate record: at://{DID}/app.bsky.feed.post/{rkey}"),
                ),
            }
        }
        "/xrpc/app.bsky.notification.listNotifications" => {
            if let Some((status, headers, body)) = pds.with(|s| s.notifications_reply.clone()) {
                let mut r = xrpc(status, body);
                for (k, v) in headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                return r;
            }
            pds.with(|s| notifications_page(s, parts.uri.query().unwrap_or("")))
        }
        "/xrpc/app.bsky.feed.getPosts" => {
            let uri = query.get("uris").map(|u| u.replace("%2F", "/").replace("%2f", "/")).unwrap_or_default();
            let posts: Vec<Value> = pds.with(|s| s.posts.get(&uri).cloned()).into_iter().collect();
            xrpc(StatusCode::OK, json!({"posts": posts}))
        }
        _ => xrpc_error(StatusCode::NOT_IMPLEMENTED, "MethodNotImplemented", "Method Not Implemented"),
    }
}

/// `limit`, `cursor` and `reasons` as the AppView reads them: newest first by `indexedAt`, the
/// cursor being the `indexedAt` of the last item of the previous page.
fn notifications_page(s: &PdsState, query: &str) -> Response {
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":").replace("%3a", ":")))
        .collect();
    let reasons: Vec<&str> = params.iter().filter(|(k, _)| k == "reasons").map(|(_, v)| v.as_str()).collect();
    let limit: usize = params.iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(50);
    let cursor = params.iter().find(|(k, _)| k == "cursor").map(|(_, v)| v.clone());
    let at = |n: &Value| n["indexedAt"].as_str().unwrap().to_owned();
    let mut all: Vec<Value> = s
        .notifications
        .iter()
        .filter(|n| s.ignore_reasons || reasons.is_empty() || reasons.contains(&n["reason"].as_str().unwrap()))
        .filter(|n| cursor.as_ref().is_none_or(|c| at(n) < *c))
        .cloned()
        .collect();
    all.sort_by_key(|n| std::cmp::Reverse(at(n)));
    all.truncate(limit);
    let mut body = json!({"notifications": all});
    if let Some(last) = body["notifications"].as_array().unwrap().last().map(at) {
        body["cursor"] = json!(last);
    }
    xrpc(StatusCode::OK, body)
}

async fn start(pds: &Pds) -> String {
    let app = Router::new().fallback(handle).with_state(pds.clone());
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
    base: String,
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
            platform: Platform::Bluesky,
            name: ChannelName::parse("name", "@alice.test").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: now(),
            updated_at: now(),
        };
        // Created a few days before it is due, at an instant with microseconds.
        let created = now() - chrono::Duration::days(3) + chrono::Duration::microseconds(123_456);
        let delivery = Delivery::new(&post, channel.id, Platform::Bluesky, DeliveryState::Publishing, now(), created);
        let credentials = Credentials::from_json(
            "credentials",
            &json!({"service": base, "identifier": HANDLE, "app_password": PASSWORD}),
        )
        .unwrap();
        let media = media
            .iter()
            .map(|p| {
                MediaRef::parse("media", &format!("{base}{p}"), Some("A cat asleep on the counter".into())).unwrap()
            })
            .collect();
        Self { base: base.to_owned(), delivery, channel, credentials, text: text.to_owned(), media }
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

fn adapter() -> BlueskyAdapter {
    let config = BlueskyConfig { connect_timeout: Duration::from_secs(1), timeout: Duration::from_secs(1) };
    BlueskyAdapter::with_config(Arc::new(ManualClock::new(now())), config, NetworkPolicy::AllowPrivate).unwrap()
}

async fn setup(text: &str, media: &[&str]) -> (Pds, Fixture) {
    let pds = Pds::default();
    let base = start(&pds).await;
    (pds, Fixture::new(&base, text, media))
}

/// What production runs: the PDS on loopback is refused without a request reaching it.
#[tokio::test]
async fn the_guard_refuses_a_pds_on_loopback_permanently_and_sends_nothing() {
    let (pds, fx) = setup("Bonjour", &["/media/cat.png"]).await;
    let config = BlueskyConfig { connect_timeout: Duration::from_secs(1), timeout: Duration::from_secs(1) };
    let clock = Arc::new(ManualClock::new(now()));
    let guarded = BlueskyAdapter::with_config(clock, config, NetworkPolicy::PublicOnly).unwrap();
    // Pictures are downloaded first: the picture's address is the first refused.
    let reason = permanent(guarded.publish(&fx.request()).await);
    assert!(reason.starts_with(&format!("media URL {}/media/cat.png: 127.0.0.1 is a private address", fx.base)), "{reason}");
    let text_only = Fixture::new(&fx.base, "Bonjour", &[]);
    let reason = permanent(guarded.publish(&text_only.request()).await);
    assert_eq!(
        reason,
        "Bluesky not contacted while signing in: 127.0.0.1 is a private address (loopback); \
         refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"
    );
    match guarded.poll(&fx.channel, &fx.credentials, None).await {
        Err(PublishError::Permanent { reason }) => assert!(reason.contains("private address"), "{reason}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
    assert_eq!(pds.with(|s| s.seen.len()), 0, "the PDS saw a request");
}

fn created_record(pds: &Pds, k: usize) -> Value {
    let sent = pds.seen("com.atproto.repo.createRecord");
    serde_json::from_slice(&sent[k].body).unwrap()
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

fn auth(r: Result<Published, PublishError>) -> String {
    match r {
        Err(PublishError::Auth { reason }) => reason,
        other => panic!("expected Auth, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Publishing

#[tokio::test]
async fn publishes_text_with_link_mention_and_hashtag_facets_at_byte_offsets() {
    let text = "Café ✨ https://example.com/menu?jour=lundi avec @alice.test et @nobody.test #café";
    let (pds, fx) = setup(text, &[]).await;
    let published = adapter().publish(&fx.request()).await.unwrap();

    let rkey = rkey_for(&fx.delivery);
    assert_eq!(published.platform_post_id, format!("at://{DID}/app.bsky.feed.post/{rkey}"));
    assert_eq!(published.url.as_deref(), Some(format!("https://bsky.app/profile/{HANDLE}/post/{rkey}").as_str()));
    assert_eq!(published.published_at, Some(now()));

    let sent = created_record(&pds, 0);
    assert_eq!(sent["repo"], DID);
    assert_eq!(sent["collection"], "app.bsky.feed.post");
    assert_eq!(sent["rkey"], rkey.as_str());
    let record = &sent["record"];
    assert_eq!(record["$type"], "app.bsky.feed.post");
    assert_eq!(record["text"], text);
    assert_eq!(record["createdAt"], "2026-11-20T10:00:00.000Z");
    assert!(record.get("embed").is_none());

    // "Café ✨ " is 10 bytes (é is 2, ✨ is 3) but 7 characters: offsets are in bytes.
    let link = "https://example.com/menu?jour=lundi";
    let mention = text.find("@alice.test").unwrap();
    let tag = text.find("#café").unwrap();
    assert_eq!(
        record["facets"],
        json!([
            {"index": {"byteStart": 10, "byteEnd": 10 + link.len()},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]},
            {"index": {"byteStart": mention, "byteEnd": mention + "@alice.test".len()},
             "features": [{"$type": "app.bsky.richtext.facet#mention", "did": DID}]},
            {"index": {"byteStart": tag, "byteEnd": tag + "#café".len()},
             "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "café"}]},
        ])
    );
    assert_eq!(&text.as_bytes()[10..10 + link.len()], link.as_bytes());
    // Both mentions were looked up; the unresolvable one simply has no facet.
    let lookups: Vec<String> = pds
        .seen("com.atproto.identity.resolveHandle")
        .into_iter()
        .inspect(|s| assert_eq!(s.method, Method::GET))
        .map(|s| s.query)
        .collect();
    assert_eq!(lookups, ["handle=alice.test", "handle=nobody.test"]);
    // Authenticated with the session's access token.
    assert_eq!(pds.seen("com.atproto.repo.createRecord")[0].headers["authorization"], "Bearer access-1");
}

#[tokio::test]
async fn publishes_an_image_with_alt_text_and_aspect_ratio() {
    let (pds, fx) = setup("Le chat", &["/media/cat.png"]).await;
    adapter().publish(&fx.request()).await.unwrap();

    let uploads = pds.seen("com.atproto.repo.uploadBlob");
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].method, Method::POST);
    assert_eq!(uploads[0].headers["content-type"], "image/png");
    assert_eq!(uploads[0].body.as_ref(), png().as_slice());

    let record = &created_record(&pds, 0)["record"];
    assert_eq!(
        record["embed"],
        json!({
            "$type": "app.bsky.embed.images",
            "images": [{
                "alt": "A cat asleep on the counter",
                "image": {"$type": "blob", "ref": {"$link": "bafkrei300"}, "mimeType": "image/png", "size": 300},
                "aspectRatio": {"width": 1200, "height": 800},
            }],
        })
    );
}

#[tokio::test]
async fn the_rkey_is_a_valid_tid_and_a_retry_collides_instead_of_duplicating() {
    let (pds, fx) = setup("Une seule fois", &[]).await;
    let a = adapter();
    let first = a.publish(&fx.request()).await.unwrap();
    // The publisher lost the answer and tries again: same key → the PDS refuses (500) → the
    // adapter finds its own post there.
    let second = a.publish(&fx.request()).await.unwrap();
    assert_eq!(first.platform_post_id, second.platform_post_id);
    assert_eq!(first.url, second.url);

    let rkeys: Vec<Value> = (0..2).map(|k| created_record(&pds, k)["rkey"].clone()).collect();
    assert_eq!(rkeys[0], rkeys[1]);
    let rkey = rkeys[0].as_str().unwrap();
    assert!(is_valid_tid(rkey), "{rkey}");
    assert_eq!(rkey.len(), 13);
    assert!("234567abcdefghij".contains(&rkey[..1]));
    assert_eq!(pds.with(|s| s.records.len()), 1);
    assert_eq!(pds.count("com.atproto.repo.getRecord"), 1);

    // The key comes from the delivery: stable for it, different for another delivery.
    let other = Fixture::new(&fx.base, "Une seule fois", &[]);
    assert_ne!(rkey_for(&other.delivery), rkey);
    assert_eq!(rkey_for(&fx.delivery), rkey);
}

#[tokio::test]
async fn one_session_serves_two_posts() {
    let (pds, fx) = setup("premier", &[]).await;
    let a = adapter();
    a.publish(&fx.request()).await.unwrap();
    let fx2 = Fixture { channel: fx.channel.clone(), ..Fixture::new(&fx.base, "second", &[]) };
    a.publish(&fx2.request()).await.unwrap();
    assert_eq!(pds.count("com.atproto.server.createSession"), 1);
    assert_eq!(pds.count("com.atproto.repo.createRecord"), 2);
    let body: Value = serde_json::from_slice(&pds.seen("com.atproto.server.createSession")[0].body).unwrap();
    assert_eq!(body, json!({"identifier": HANDLE, "password": PASSWORD}));
}

#[tokio::test]
async fn an_expired_access_token_is_refreshed_once() {
    let (pds, fx) = setup("premier", &[]).await;
    let a = adapter();
    a.publish(&fx.request()).await.unwrap();
    pds.expire_access_tokens();
    let fx2 = Fixture { channel: fx.channel.clone(), ..Fixture::new(&fx.base, "second", &[]) };
    a.publish(&fx2.request()).await.unwrap();
    assert_eq!(pds.count("com.atproto.server.createSession"), 1);
    let refreshes = pds.seen("com.atproto.server.refreshSession");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].headers["authorization"], "Bearer refresh-1");
    let creates = pds.seen("com.atproto.repo.createRecord");
    assert_eq!(
        creates.iter().map(|c| c.headers["authorization"].to_str().unwrap().to_owned()).collect::<Vec<_>>(),
        ["Bearer access-1", "Bearer access-1", "Bearer access-2"]
    );
    // The refreshed session is kept for the next post.
    let fx3 = Fixture { channel: fx.channel.clone(), ..Fixture::new(&fx.base, "third", &[]) };
    a.publish(&fx3.request()).await.unwrap();
    assert_eq!(pds.count("com.atproto.server.refreshSession"), 1);
    assert_eq!(pds.count("com.atproto.server.createSession"), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_leads_to_a_new_session() {
    let (pds, fx) = setup("premier", &[]).await;
    let a = adapter();
    a.publish(&fx.request()).await.unwrap();
    pds.with(|s| {
        s.access.clear();
        s.refresh.clear();
    });
    let fx2 = Fixture { channel: fx.channel.clone(), ..Fixture::new(&fx.base, "second", &[]) };
    a.publish(&fx2.request()).await.unwrap();
    assert_eq!(pds.count("com.atproto.server.refreshSession"), 1);
    assert_eq!(pds.count("com.atproto.server.createSession"), 2);
}

#[tokio::test]
async fn a_wrong_app_password_is_an_auth_error() {
    let (pds, mut fx) = setup("hello", &[]).await;
    fx.credentials = Credentials::from_json(
        "credentials",
        &json!({"service": fx.base, "identifier": HANDLE, "app_password": "wrong-pass-word-0000"}),
    )
    .unwrap();
    let reason = auth(adapter().publish(&fx.request()).await);
    assert!(reason.contains("app password rejected"), "{reason}");
    assert!(reason.contains("Invalid identifier or password"), "{reason}");
    assert!(!reason.contains("wrong-pass-word"));
    assert_eq!(pds.count("com.atproto.repo.createRecord"), 0);
}

#[tokio::test]
async fn a_token_refused_even_after_renewal_is_an_auth_error() {
    let (pds, fx) = setup("hello", &[]).await;
    pds.with(|s| s.refuse_all_access = true);
    let reason = auth(adapter().publish(&fx.request()).await);
    assert!(reason.contains("token expired or revoked"), "{reason}");
    assert!(!reason.contains("access-"), "{reason}");
    // One renewal, not a loop.
    assert_eq!(pds.count("com.atproto.repo.createRecord"), 2);
    assert_eq!(pds.count("com.atproto.server.refreshSession"), 1);
}

#[tokio::test]
async fn missing_credentials_are_an_auth_error() {
    let (pds, mut fx) = setup("hello", &[]).await;
    fx.credentials = Credentials::from_json("credentials", &json!({"service": fx.base, "identifier": HANDLE})).unwrap();
    let reason = auth(adapter().publish(&fx.request()).await);
    assert!(reason.contains("app_password"), "{reason}");
    assert_eq!(pds.with(|s| s.seen.len()), 0);
}

#[tokio::test]
async fn a_refused_record_is_permanent_with_bluesky_s_message() {
    let (pds, fx) = setup(&"x".repeat(301), &[]).await;
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(
        reason,
        "Bluesky refused the post: Invalid app.bsky.feed.post record: grapheme too big (InvalidRequest)"
    );
    assert_eq!(pds.with(|s| s.records.len()), 0);
}

#[tokio::test]
async fn rate_limits_are_transient_with_the_reset_delay() {
    let (pds, fx) = setup("hello", &[]).await;
    let reset = (now() + chrono::Duration::seconds(75)).timestamp().to_string();
    pds.with(|s| {
        s.create_reply = Some((
            StatusCode::TOO_MANY_REQUESTS,
            vec![
                ("ratelimit-limit", "5000".into()),
                ("ratelimit-remaining", "0".into()),
                ("ratelimit-reset", reset),
                ("ratelimit-policy", "5000;w=3600".into()),
            ],
            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
        ))
    });
    let (reason, retry_after) = transient(adapter().publish(&fx.request()).await);
    assert_eq!(retry_after, Some(Duration::from_secs(75)));
    assert!(reason.contains("rate limit"), "{reason}");
    // A rate limit is not a reason to go looking for the post.
    assert_eq!(pds.count("com.atproto.repo.getRecord"), 0);

    pds.with(|s| {
        if let Some(r) = s.create_reply.as_mut() {
            r.1.push(("retry-after", "20".into()));
        }
    });
    let (_, retry_after) = transient(adapter().publish(&fx.request()).await);
    assert_eq!(retry_after, Some(Duration::from_secs(20)));
}

#[tokio::test]
async fn server_errors_are_transient() {
    let (pds, fx) = setup("hello", &[]).await;
    pds.with(|s| {
        s.create_reply =
            Some((StatusCode::BAD_GATEWAY, vec![], json!({"error": "UpstreamFailure", "message": "upstream down"})))
    });
    let (reason, _) = transient(adapter().publish(&fx.request()).await);
    assert!(reason.contains("502") && reason.contains("upstream down"), "{reason}");
    // It looked for an earlier attempt's post, found none, and said so as the original error.
    assert_eq!(pds.count("com.atproto.repo.getRecord"), 1);
}

#[tokio::test]
async fn a_server_that_never_answers_is_transient_within_the_timeout() {
    let (pds, fx) = setup("hello", &[]).await;
    pds.with(|s| s.hang = true);
    let started = Instant::now();
    let (reason, _) = transient(adapter().publish(&fx.request()).await);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(reason.contains("did not answer in time"), "{reason}");
}

#[tokio::test]
async fn an_image_over_1_mb_is_rejected_before_anything_is_sent() {
    let (pds, fx) = setup("hello", &["/media/cat.png", "/media/big.jpg"]).await;
    let reason = permanent(adapter().publish(&fx.request()).await);
    assert_eq!(
        reason,
        format!("media rejected: image is 2.3 MB; Bluesky takes at most 1 MB ({}/media/big.jpg)", fx.base)
    );
    assert_eq!(pds.count("com.atproto.server.createSession"), 0);
    assert_eq!(pds.count("com.atproto.repo.uploadBlob"), 0);
}

#[tokio::test]
async fn more_than_four_images_or_a_non_image_are_rejected() {
    let (pds, fx) = setup("hello", &["/media/cat.png"; 5]).await;
    assert_eq!(
        permanent(adapter().publish(&fx.request()).await),
        "media rejected: 5 images attached; Bluesky takes at most 4"
    );
    assert_eq!(pds.count("/media/cat.png"), 0);

    let (_pds, fx) = setup("hello", &["/media/logo.svg"]).await;
    assert_eq!(
        permanent(adapter().publish(&fx.request()).await),
        format!(
            "media rejected: {}/media/logo.svg is image/svg+xml; Bluesky takes PNG, JPEG, WebP or GIF images",
            fx.base
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Reconciling

#[tokio::test]
async fn find_published_reads_the_record_at_the_delivery_s_key() {
    let (pds, fx) = setup("Ouvert ce soir", &[]).await;
    let a = adapter();
    assert_eq!(a.find_published(&fx.request()).await.unwrap(), None);
    let published = a.publish(&fx.request()).await.unwrap();
    let found = a.find_published(&fx.request()).await.unwrap().expect("found");
    assert_eq!(found, published);
    let lookups = pds.seen("com.atproto.repo.getRecord");
    assert_eq!(lookups.len(), 2);
    let rkey = rkey_for(&fx.delivery);
    assert!(lookups[1].query.contains(&format!("rkey={rkey}")), "{}", lookups[1].query);
    assert!(lookups[1].query.contains("collection=app.bsky.feed.post"), "{}", lookups[1].query);
}

#[tokio::test]
async fn find_published_refuses_a_different_post_at_the_same_key() {
    let (pds, fx) = setup("Ouvert ce soir", &[]).await;
    pds.with(|s| {
        s.records.insert(
            rkey_for(&fx.delivery),
            json!({"$type": "app.bsky.feed.post", "text": "autre chose", "createdAt": "2026-11-20T09:00:00.000Z"}),
        )
    });
    match adapter().find_published(&fx.request()).await {
        Err(PublishError::Permanent { reason }) => {
            assert!(reason.contains("already uses this delivery's record key"), "{reason}")
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox: polling notifications, replying

const BOB: &str = "did:plc:bob";
const CAROL: &str = "did:plc:carol";

fn post_uri(did: &str, rkey: &str) -> String {
    format!("at://{did}/app.bsky.feed.post/{rkey}")
}

/// 2026-11-20T10:00:00.000Z plus `secs` seconds, in the AppView's format.
fn at(secs: i64) -> String {
    (now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A `listNotifications` entry. `reply`: (root uri, parent uri); cids are `cid-<uri>`.
fn notif(
    reason: &str,
    uri: &str,
    author: (&str, &str, Option<&str>),
    text: &str,
    indexed: i64,
    reply: Option<(&str, &str)>,
    subject: Option<&str>,
) -> Value {
    let (did, handle, display) = author;
    let mut record = json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": at(indexed - 1)});
    if let Some((root, parent)) = reply {
        record["reply"] = json!({"root": {"uri": root, "cid": format!("cid-{root}")},
            "parent": {"uri": parent, "cid": format!("cid-{parent}")}});
    }
    let mut author = json!({"did": did, "handle": handle});
    if let Some(d) = display {
        author["displayName"] = json!(d);
    }
    let mut n = json!({"uri": uri, "cid": format!("cid-{uri}"), "author": author, "reason": reason,
        "record": record, "isRead": false, "indexedAt": at(indexed), "labels": []});
    if let Some(s) = subject {
        n["reasonSubject"] = json!(s);
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
    v["platform"] = json!("bluesky");
    v["received_at"] = json!(now());
    v["status"] = json!("open");
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn a_first_poll_takes_replies_mentions_and_quotes_but_not_likes_reposts_or_follows() {
    let (pds, fx) = setup("", &[]).await;
    let menu = post_uri(DID, "3menu2222222a");
    let someone_else = post_uri(CAROL, "3root22222222");
    let my_answer = post_uri(DID, "3answer222222");
    let bob_reply = post_uri(BOB, "3bobreply222a");
    let erin_reply = post_uri("did:plc:erin", "3erin22222222");
    pds.with(|s| {
        // An AppView that ignores `reasons`: likes, reposts and follows must still be left out.
        s.ignore_reasons = true;
        s.notifications = vec![
            notif("like", "at://did:plc:bob/app.bsky.feed.like/3l", (BOB, "bob.test", None), "", 1, None, Some(&menu)),
            notif("follow", "at://did:plc:bob/app.bsky.graph.follow/3f", (BOB, "bob.test", None), "", 2, None, None),
            notif(
                "reply",
                &bob_reply,
                (BOB, "bob.test", None),
                "Trop bien ✨ à demain",
                3,
                Some((&menu, &menu)),
                Some(&menu),
            ),
            notif(
                "mention",
                &post_uri(CAROL, "3carol2222222"),
                (CAROL, "carol.test", Some("Carol")),
                "@alice.test bonjour",
                4,
                None,
                None,
            ),
            notif(
                "quote",
                &post_uri("did:plc:dave", "3dave22222222"),
                ("did:plc:dave", "dave.test", Some(" ")),
                "regardez",
                5,
                None,
                Some(&menu),
            ),
            // Erin answers the café's answer in Carol's thread, and mentions the café: one reply.
            notif(
                "reply",
                &erin_reply,
                ("did:plc:erin", "erin.test", Some("Erin")),
                "@alice.test oui !",
                6,
                Some((&someone_else, &my_answer)),
                Some(&my_answer),
            ),
            notif(
                "repost",
                "at://did:plc:bob/app.bsky.feed.repost/3r",
                (BOB, "bob.test", None),
                "",
                7,
                None,
                Some(&menu),
            ),
            notif(
                "mention",
                &erin_reply,
                ("did:plc:erin", "erin.test", Some("Erin")),
                "@alice.test oui !",
                6,
                Some((&someone_else, &my_answer)),
                None,
            ),
        ];
    });
    let a = adapter();
    let got = polled(a.poll(&fx.channel, &fx.credentials, None).await);
    let ids: Vec<&str> = got.items.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            bob_reply.as_str(),
            &post_uri(CAROL, "3carol2222222"),
            &post_uri("did:plc:dave", "3dave22222222"),
            &erin_reply
        ]
    );

    let reply = &got.items[0].1;
    assert_eq!(reply.kind, InteractionKind::Reply);
    assert_eq!(reply.external_id, bob_reply);
    assert_eq!(reply.thread_id, menu, "the thread is the root post");
    assert_eq!(reply.parent_id.as_deref(), Some(menu.as_str()));
    assert_eq!(reply.author_id, BOB);
    assert_eq!(reply.author_name, "bob.test", "no display name: the handle");
    assert_eq!(reply.text, "Trop bien ✨ à demain");
    assert_eq!(reply.created_at, now() + chrono::Duration::seconds(2), "the post's own createdAt");
    assert_eq!(reply.post_external_id.as_deref(), Some(menu.as_str()));
    assert_eq!(reply.post_url.as_deref(), Some(format!("https://bsky.app/profile/{DID}/post/3menu2222222a").as_str()));
    let refs: Value = serde_json::from_str(reply.reply_ref.as_deref().unwrap()).unwrap();
    assert_eq!(
        refs,
        json!({"root": {"uri": menu, "cid": format!("cid-{menu}")}, "parent": {"uri": bob_reply, "cid": format!("cid-{bob_reply}")}})
    );

    let mention = &got.items[1].1;
    assert_eq!(
        (mention.kind, mention.thread_id.as_str(), mention.parent_id.as_deref()),
        (InteractionKind::Mention, mention.external_id.as_str(), None)
    );
    assert_eq!(mention.author_name, "Carol");
    let quote = &got.items[2].1;
    assert_eq!((quote.kind, quote.author_name.as_str()), (InteractionKind::Mention, "dave.test"));
    assert_eq!(quote.post_external_id.as_deref(), Some(menu.as_str()));
    let deep = &got.items[3].1;
    assert_eq!(deep.kind, InteractionKind::Reply, "a reply that also mentions is a reply");
    assert_eq!((deep.thread_id.as_str(), deep.parent_id.as_deref()), (someone_else.as_str(), Some(my_answer.as_str())));
    let refs: Value = serde_json::from_str(deep.reply_ref.as_deref().unwrap()).unwrap();
    assert_eq!(refs["root"]["uri"], someone_else.as_str());
    assert_eq!(refs["parent"]["uri"], erin_reply.as_str());

    // The request: through the PDS with the session, one page of 50, the three reasons.
    let sent = pds.seen("app.bsky.notification.listNotifications");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].query, "limit=50&reasons=mention&reasons=reply&reasons=quote");
    assert_eq!(sent[0].headers["authorization"], "Bearer access-1");

    // Again with the cursor: nothing new.
    let again = polled(a.poll(&fx.channel, &fx.credentials, got.cursor.as_deref()).await);
    assert_eq!(again.items, vec![]);
    assert!(again.cursor.is_some());
    let sent = pds.seen("app.bsky.notification.listNotifications");
    assert!(sent[1].query.starts_with("limit=100&"), "{}", sent[1].query);
}

#[tokio::test]
async fn later_polls_read_down_to_the_cursor_across_pages_and_catch_a_late_arrival() {
    let (pds, fx) = setup("", &[]).await;
    let menu = post_uri(DID, "3menu2222222a");
    let reply = |k: usize, indexed: i64| {
        notif(
            "reply",
            &post_uri(BOB, &format!("3r{k:011}")),
            (BOB, "bob.test", None),
            &format!("réponse {k}"),
            indexed,
            Some((&menu, &menu)),
            Some(&menu),
        )
    };
    pds.with(|s| s.notifications = (0..3).map(|k| reply(k, k as i64)).collect());
    let a = adapter();
    let first = polled(a.poll(&fx.channel, &fx.credentials, None).await);
    assert_eq!(first.items.len(), 3);

    // 120 more: two pages of 100 are read, down to where the last poll stopped.
    pds.with(|s| s.notifications.extend((3..123).map(|k| reply(k, 10 + k as i64))));
    let second = polled(a.poll(&fx.channel, &fx.credentials, first.cursor.as_deref()).await);
    let texts: Vec<String> = second.items.iter().map(|(_, d)| d.text.clone()).collect();
    assert_eq!(texts, (3..123).map(|k| format!("réponse {k}")).collect::<Vec<_>>(), "all of them, oldest first");
    let pages: Vec<String> =
        pds.seen("app.bsky.notification.listNotifications").into_iter().skip(1).map(|s| s.query).collect();
    assert!(pages.len() >= 2, "{pages:?}");
    assert!(pages[1].contains("&cursor="), "{pages:?}");

    // A post whose createdAt is two minutes behind (a client's clock) is listed below the
    // newest one already seen: the next poll still finds it, and only it.
    pds.with(|s| s.notifications.push(reply(500, 10 + 122 - 120)));
    let third = polled(a.poll(&fx.channel, &fx.credentials, second.cursor.as_deref()).await);
    assert_eq!(third.items.iter().map(|(_, d)| d.text.as_str()).collect::<Vec<_>>(), ["réponse 500"]);
    let fourth = polled(a.poll(&fx.channel, &fx.credentials, third.cursor.as_deref()).await);
    assert_eq!(fourth.items, vec![]);

    // An unreadable cursor is a first run, not an error forever.
    let reset = polled(a.poll(&fx.channel, &fx.credentials, Some("not json")).await);
    assert_eq!(reset.items.len(), 50);
}

#[tokio::test]
async fn a_reply_carries_root_and_parent_refs_and_is_not_posted_twice() {
    let (pds, fx) = setup("", &[]).await;
    let someone_else = post_uri(CAROL, "3root22222222");
    let my_answer = post_uri(DID, "3answer222222");
    let erin_reply = post_uri("did:plc:erin", "3erin22222222");
    pds.with(|s| {
        s.notifications = vec![notif(
            "reply",
            &erin_reply,
            ("did:plc:erin", "erin.test", None),
            "@alice.test oui !",
            6,
            Some((&someone_else, &my_answer)),
            Some(&my_answer),
        )]
    });
    let a = adapter();
    let got = polled(a.poll(&fx.channel, &fx.credentials, None).await);
    let to = interaction_from(&got.items[0].1, &fx.channel);

    let text = "Merci @bob.test et à très vite ✨";
    let published = a.reply(&fx.channel, &fx.credentials, &to, text).await.unwrap();
    let rkey = reply_rkey(&to, text);
    assert!(is_valid_tid(&rkey), "{rkey}");
    assert_eq!(published.platform_post_id, post_uri(DID, &rkey));
    assert_eq!(published.url.as_deref(), Some(format!("https://bsky.app/profile/{HANDLE}/post/{rkey}").as_str()));
    let sent = created_record(&pds, 0);
    assert_eq!(sent["rkey"], rkey.as_str());
    let record = &sent["record"];
    assert_eq!(record["text"], text);
    assert_eq!(
        record["reply"],
        json!({"root": {"uri": someone_else, "cid": format!("cid-{someone_else}")},
               "parent": {"uri": erin_reply, "cid": format!("cid-{erin_reply}")}})
    );
    let at_bob = text.find("@bob.test").unwrap();
    assert_eq!(
        record["facets"],
        json!([{"index": {"byteStart": at_bob, "byteEnd": at_bob + "@bob.test".len()},
                "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:bob"}]}])
    );

    // The same reply again (a retry after a lost answer): the same key, one post.
    let again = a.reply(&fx.channel, &fx.credentials, &to, text).await.unwrap();
    assert_eq!(again.platform_post_id, published.platform_post_id);
    assert_eq!(pds.with(|s| s.records.len()), 1);
    // Another text to the same interaction is another post.
    assert_ne!(reply_rkey(&to, "autre"), rkey);

    // Without reply_ref (an interaction from elsewhere): the refs come from getPosts.
    let bob_reply = post_uri(BOB, "3bobreply222a");
    let menu = post_uri(DID, "3menu2222222a");
    pds.with(|s| {
        s.posts.insert(bob_reply.clone(), json!({"uri": bob_reply, "cid": "cid-bob", "author": {"did": BOB},
            "record": {"text": "Trop bien", "createdAt": at(0), "reply": {"root": {"uri": menu, "cid": "cid-menu"}, "parent": {"uri": menu, "cid": "cid-menu"}}}}))
    });
    let mut bare = to.clone();
    bare.external_id = bob_reply.clone();
    bare.reply_ref = None;
    a.reply(&fx.channel, &fx.credentials, &bare, "Merci !").await.unwrap();
    assert_eq!(
        created_record(&pds, 2)["record"]["reply"],
        json!({"root": {"uri": menu, "cid": "cid-menu"}, "parent": {"uri": bob_reply, "cid": "cid-bob"}})
    );
    // A post that is gone cannot be answered.
    bare.external_id = post_uri(BOB, "3gone22222222");
    match a.reply(&fx.channel, &fx.credentials, &bare, "Merci !").await {
        Err(PublishError::Permanent { reason }) => assert!(reason.contains("is gone"), "{reason}"),
        other => panic!("expected Permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn inbox_rate_limits_are_transient_and_refused_credentials_are_auth_errors() {
    let (pds, fx) = setup("", &[]).await;
    let reset = (now() + chrono::Duration::seconds(75)).timestamp().to_string();
    pds.with(|s| {
        s.notifications_reply = Some((
            StatusCode::TOO_MANY_REQUESTS,
            vec![("ratelimit-remaining", "0".into()), ("ratelimit-reset", reset)],
            json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}),
        ))
    });
    let a = adapter();
    match a.poll(&fx.channel, &fx.credentials, None).await {
        Err(PublishError::Transient { reason, retry_after }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(75)));
            assert!(reason.contains("rate limit"), "{reason}");
        }
        other => panic!("expected Transient, got {other:?}"),
    }

    pds.with(|s| {
        s.notifications_reply = None;
        s.refuse_all_access = true;
    });
    match adapter().poll(&fx.channel, &fx.credentials, None).await {
        Err(PublishError::Auth { reason }) => assert!(reason.contains("token expired or revoked"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
    let draft = InteractionDraft {
        kind: InteractionKind::Mention,
        external_id: post_uri(BOB, "3bob222222222"),
        thread_id: post_uri(BOB, "3bob222222222"),
        parent_id: None,
        author_id: BOB.into(),
        author_name: "bob.test".into(),
        text: "@alice.test".into(),
        created_at: now(),
        post_external_id: None,
        post_url: None,
        reply_ref: Some(
            json!({"root": {"uri": post_uri(BOB, "3bob222222222"), "cid": "c"},
            "parent": {"uri": post_uri(BOB, "3bob222222222"), "cid": "c"}})
            .to_string(),
        ),
    };
    let to = interaction_from(&draft, &fx.channel);
    assert!(matches!(
        adapter().reply(&fx.channel, &fx.credentials, &to, "merci").await,
        Err(PublishError::Auth { .. })
    ));

    pds.with(|s| s.refuse_all_access = false);
    let wrong = Credentials::from_json(
        "credentials",
        &json!({"service": fx.base, "identifier": HANDLE, "app_password": "wrong-pass-word-0000"}),
    )
    .unwrap();
    match adapter().poll(&fx.channel, &wrong, None).await {
        Err(PublishError::Auth { reason }) => assert!(reason.contains("app password rejected"), "{reason}"),
        other => panic!("expected Auth, got {other:?}"),
    }
}

#[tokio::test]
async fn an_access_token_at_the_end_of_its_life_is_refreshed_before_it_is_used() {
    let (pds, fx) = setup("", &[]).await;
    pds.with(|s| s.jwt_tokens = true);
    let clock = Arc::new(ManualClock::new(now()));
    let config = BlueskyConfig { connect_timeout: Duration::from_secs(1), timeout: Duration::from_secs(1) };
    let a = BlueskyAdapter::with_config(clock.clone(), config, NetworkPolicy::AllowPrivate).unwrap();
    polled(a.poll(&fx.channel, &fx.credentials, None).await);
    clock.advance(chrono::Duration::minutes(100));
    polled(a.poll(&fx.channel, &fx.credentials, None).await);
    assert_eq!(pds.count("com.atproto.server.refreshSession"), 0, "still within its two hours");
    // Two hours after it was issued (less a minute): renewed before use, not after a refusal.
    clock.advance(chrono::Duration::minutes(19) + chrono::Duration::seconds(30));
    polled(a.poll(&fx.channel, &fx.credentials, None).await);
    assert_eq!(pds.count("com.atproto.server.refreshSession"), 1);
    assert_eq!(pds.count("com.atproto.server.createSession"), 1);
    let tokens: Vec<String> = pds
        .seen("app.bsky.notification.listNotifications")
        .iter()
        .map(|s| s.headers["authorization"].to_str().unwrap().rsplit('.').next().unwrap().to_owned())
        .collect();
    assert_eq!(tokens, ["access-1", "access-1", "access-2"], "no request was refused");
}
