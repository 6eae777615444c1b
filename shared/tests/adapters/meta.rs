//! The Facebook, Instagram and Threads adapters against a fake Graph API on 127.0.0.1, built
//! from the shapes in platforms.md §4–5 and platforms-more.md §8–9: the token as the
//! `access_token` parameter, `{"id"}` answers, containers with `status_code` (Instagram) or
//! `status` (Threads), `content_publishing_limit`, error bodies
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}` and the throttling headers
//! `X-App-Usage` / `X-Business-Use-Case-Usage`. One server answers both the Graph API (under
//! `/v22.0`) and the Threads API (under `/v1.0`); it never fetches media (Meta would).
//!
//! First comments: `POST /{ig-media-id}/comments?message=` → `{"id"}` (platforms-more.md §8.1),
//! `POST /{page-post-id}/comments` with `message` (Meta's comments reference ⚠️, not in the
//! shared files); Threads replies are containers with `reply_to_id`, and `reply_control` takes
//! the five values of §8.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, TimeZone, Utc};
use herald_core::clock::ManualClock;
use herald_core::crypto::Credentials;
use herald_core::domain::{
    Channel, ChannelId, ChannelName, Delivery, DeliveryState, MediaRef, Platform, Post, PostId, PostText, ReplyControl, TeamId,
    Upload,
};
use herald_core::media::{MediaError, MediaFiles, MediaKey, MediaType, MemoryMediaFiles, Opened, Stored, UploadBody};
use herald_core::platforms::meta::facebook::FacebookAdapter;
use herald_core::platforms::meta::instagram::InstagramAdapter;
use herald_core::platforms::meta::threads::ThreadsAdapter;
use herald_core::platforms::meta::{MetaConfig, RATE_LIMIT_PAUSE};
use herald_core::platforms::{NetworkPolicy, PlatformAdapter, PublishError, PublishRequest};
use crate::graph_wire::{Call, graph_error, reply};
use serde_json::{Value, json};

const TOKEN: &str = "EAAG-page-token";
const PAGE: &str = "1001";
const IG_USER: &str = "17841400000000001";
const THREADS_USER: &str = "7001";
/// What the fake answers for a post's creation time: five seconds after the delivery was due.
const CREATED: &str = "2026-11-20T10:00:05+0000";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The fake Graph API

/// A request the fake received.
type Seen = Call;

#[derive(Debug, Clone)]
struct Container {
    params: HashMap<String, String>,
    /// Statuses the next polls answer, then the last one forever.
    script: Vec<&'static str>,
    published: bool,
}

/// A status, extra headers and a JSON body to answer with.
type CannedReply = (StatusCode, Vec<(&'static str, String)>, Value);

#[derive(Default)]
struct FakeState {
    seen: Vec<Seen>,
    next_id: u64,
    /// Page posts, Instagram media and Threads posts, newest last, by their API.
    page_posts: Vec<Value>,
    unpublished_photos: Vec<String>,
    ig_media: Vec<Value>,
    threads: Vec<Value>,
    containers: HashMap<String, Container>,
    /// Statuses new containers go through (default: `FINISHED` at once).
    container_script: Vec<&'static str>,
    quota_usage: u64,
    /// The next call that is not a read of a quota answers this (status, headers, body).
    throttle_next: Option<CannedReply>,
    /// `media_publish` / `threads_publish` publish, then answer only after this long (a crash
    /// between the publish call and recording it, as the client times out first).
    publish_delay: Option<Duration>,
    /// Comments made with `POST /{id}/comments`: (the commented object's id, `message`).
    comments: Vec<(String, String)>,
    /// `POST /{id}/comments` answers a Graph error.
    fail_comments: bool,
    /// Threads replies published (containers with `reply_to_id`), apart from the profile's posts.
    replies: Vec<Value>,
    /// A Threads container with `reply_to_id` is refused.
    fail_replies: bool,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeState>>);

impl Fake {
    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    fn seen(&self, method: Method, path: &str) -> Vec<Seen> {
        self.with(|s| s.seen.iter().filter(|x| x.method == method && x.path == path).cloned().collect())
    }

    fn count(&self, method: Method, path: &str) -> usize {
        self.seen(method, path).len()
    }
}

async fn handle(State(fake): State<Fake>, request: Request) -> Response {
    let call = match Call::read(request).await {
        Ok(call) => call,
        Err(answer) => return answer,
    };
    fake.with(|s| s.seen.push(call.clone()));
    if let Some(refused) = call.refused(TOKEN) {
        return refused;
    }
    let Call { method, threads_api, path, params, .. } = call;
    if !path.ends_with("/content_publishing_limit")
        && let Some((status, headers, body)) = fake.with(|s| s.throttle_next.take())
    {
        let mut r = reply(status, body);
        for (k, v) in headers {
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        return r;
    }
    let p = |k: &str| params.get(k).cloned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let new_id = |s: &mut FakeState| {
        s.next_id += 1;
        s.next_id
    };

    match (method.clone(), segments.as_slice(), threads_api) {
        // ----- Facebook Page
        (Method::GET, [PAGE], false) => reply(StatusCode::OK, json!({"id": PAGE, "name": "Café du Coin"})),
        (Method::POST, [PAGE, "photos"], false) => {
            let Some(url) = p("url") else { return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) url is required") };
            fake.with(|s| {
                let photo = format!("55{}", new_id(s));
                if p("published").as_deref() == Some("false") {
                    s.unpublished_photos.push(photo.clone());
                    return reply(StatusCode::OK, json!({ "id": photo }));
                }
                let post = format!("{PAGE}_{}", new_id(s));
                s.page_posts.push(json!({
                    "id": post, "message": p("message"), "created_time": CREATED,
                    "attachments": {"data": [{"media_type": "photo", "url": url}]},
                }));
                reply(StatusCode::OK, json!({ "id": photo, "post_id": post }))
            })
        }
        (Method::POST, [PAGE, "videos"], false) => fake.with(|s| {
            let video = format!("77{}", new_id(s));
            s.page_posts.push(json!({
                "id": format!("{PAGE}_{video}"), "message": p("description"), "created_time": CREATED,
                "attachments": {"data": [{"media_type": "video"}]},
            }));
            reply(StatusCode::OK, json!({ "id": video }))
        }),
        (Method::POST, [PAGE, "feed"], false) => fake.with(|s| {
            let mut attached: Vec<(usize, String)> = params
                .iter()
                .filter_map(|(k, v)| {
                    let i = k.strip_prefix("attached_media[")?.strip_suffix(']')?.parse().ok()?;
                    let fbid = serde_json::from_str::<Value>(v).ok()?["media_fbid"].as_str()?.to_owned();
                    Some((i, fbid))
                })
                .collect();
            attached.sort();
            if attached.iter().any(|(_, id)| !s.unpublished_photos.contains(id)) {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) attached_media: unknown media_fbid");
            }
            let attachments = match (attached.is_empty(), p("link")) {
                (false, _) => json!({"data": [{"media_type": "album", "subattachments": {
                    "data": attached.iter().map(|(_, id)| json!({"media_type": "photo", "target": {"id": id}})).collect::<Vec<_>>()
                }}]}),
                (true, Some(link)) => json!({"data": [{"media_type": "link", "url": link}]}),
                (true, None) => Value::Null,
            };
            let id = format!("{PAGE}_{}", new_id(s));
            let mut post = json!({"id": id, "message": p("message"), "created_time": CREATED});
            if !attachments.is_null() {
                post["attachments"] = attachments;
            }
            s.page_posts.push(post);
            reply(StatusCode::OK, json!({ "id": id }))
        }),
        (Method::GET, [PAGE, "published_posts"], false) => fake.with(|s| {
            let since: i64 = p("since").and_then(|v| v.parse().ok()).unwrap_or(0);
            let data: Vec<Value> = s
                .page_posts
                .iter()
                .rev()
                .filter(|x| {
                    let t = DateTime::parse_from_str(x["created_time"].as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%z").unwrap();
                    t.timestamp() >= since
                })
                .map(|x| {
                    let mut x = x.clone();
                    x["permalink_url"] = json!(format!("https://www.facebook.com/{}", x["id"].as_str().unwrap()));
                    x
                })
                .collect();
            reply(StatusCode::OK, json!({"data": data, "paging": {}}))
        }),

        // ----- Instagram
        (Method::GET, [IG_USER], false) => reply(StatusCode::OK, json!({"id": IG_USER, "username": "cafeducoin"})),
        (Method::GET, [IG_USER, "content_publishing_limit"], false) => {
            assert_eq!(p("fields").as_deref(), Some("quota_usage,config"));
            let usage = fake.with(|s| s.quota_usage);
            reply(StatusCode::OK, json!({"data": [{"quota_usage": usage, "config": {"quota_total": 50, "quota_duration": 86400}}]}))
        }
        (Method::POST, [IG_USER, "media"], false) => fake.with(|s| {
            let carousel = p("media_type").as_deref() == Some("CAROUSEL");
            if carousel {
                let children: Vec<String> = p("children").unwrap_or_default().split(',').map(str::to_owned).collect();
                let ok = (2..=10).contains(&children.len())
                    && children.iter().all(|c| {
                        s.containers.get(c).is_some_and(|k| {
                            k.params.get("is_carousel_item").map(String::as_str) == Some("true") && k.script.last() == Some(&"FINISHED")
                        })
                    });
                if !ok {
                    return graph_error(StatusCode::BAD_REQUEST, 100, Some(2207012), "(#100) The carousel children are not valid");
                }
            } else {
                let video = matches!(p("media_type").as_deref(), Some("REELS" | "VIDEO"));
                let url_ok = if video { p("video_url").is_some() } else { p("image_url").is_some() };
                if !url_ok {
                    return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) The parameter image_url is required.");
                }
            }
            let id = format!("1790{}", new_id(s));
            let script = if s.container_script.is_empty() { vec!["FINISHED"] } else { s.container_script.clone() };
            s.containers.insert(id.clone(), Container { params: params.clone(), script, published: false });
            reply(StatusCode::OK, json!({ "id": id }))
        }),
        (Method::POST, [IG_USER, "media_publish"], false) => {
            let delay = fake.with(|s| s.publish_delay);
            let answer = fake.with(|s| {
                let Some(container) = p("creation_id").and_then(|c| s.containers.get(&c).cloned()) else {
                    return graph_error(StatusCode::BAD_REQUEST, 100, Some(33), "(#100) Unsupported post request");
                };
                if container.script.first() != Some(&"FINISHED") || container.published {
                    return graph_error(StatusCode::BAD_REQUEST, 9007, Some(2207027), "Media ID is not available");
                }
                if s.quota_usage >= 50 {
                    return graph_error(StatusCode::BAD_REQUEST, 9, Some(2207042), "(#9) Application request limit reached");
                }
                s.quota_usage += 1;
                s.containers.get_mut(&p("creation_id").unwrap()).unwrap().published = true;
                let id = format!("1800{}", new_id(s));
                let children: Vec<Value> = container
                    .params
                    .get("children")
                    .map(|c| c.split(',').map(|id| json!({"id": id})).collect())
                    .unwrap_or_default();
                let media_type = match container.params.get("media_type").map(String::as_str) {
                    Some("CAROUSEL") => "CAROUSEL_ALBUM",
                    Some("REELS") => "VIDEO",
                    _ => "IMAGE",
                };
                let mut media = json!({
                    "id": id, "caption": container.params.get("caption"), "timestamp": CREATED,
                    "permalink": format!("https://www.instagram.com/p/C{id}/"), "media_type": media_type,
                });
                if !children.is_empty() {
                    media["children"] = json!({ "data": children });
                }
                s.ig_media.push(media);
                reply(StatusCode::OK, json!({ "id": id }))
            });
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            answer
        }
        (Method::GET, [IG_USER, "media"], false) => {
            let data: Vec<Value> = fake.with(|s| s.ig_media.iter().rev().cloned().collect());
            reply(StatusCode::OK, json!({"data": data, "paging": {}}))
        }

        // ----- Threads
        (Method::GET, [THREADS_USER], true) => reply(StatusCode::OK, json!({"id": THREADS_USER, "username": "cafeducoin"})),
        // platforms.md §5.4: another 60 days for a token at least a day old and unexpired.
        (Method::GET, ["refresh_access_token"], true) => match p("grant_type").as_deref() {
            Some("th_refresh_token") => {
                reply(StatusCode::OK, json!({"access_token": "THQ-renewed", "token_type": "bearer", "expires_in": 5183944}))
            }
            _ => graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) grant_type must be th_refresh_token"),
        },
        (Method::POST, [THREADS_USER, "threads"], true) => fake.with(|s| {
            let kind = p("media_type").unwrap_or_default();
            let ok = match kind.as_str() {
                "TEXT" => p("text").is_some(),
                "IMAGE" => p("image_url").is_some(),
                "VIDEO" => p("video_url").is_some(),
                "CAROUSEL" => p("children").is_some_and(|c| {
                    let ids: Vec<&str> = c.split(',').collect();
                    (2..=20).contains(&ids.len()) && ids.iter().all(|id| s.containers.contains_key(*id))
                }),
                _ => false,
            };
            if !ok {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Invalid parameter");
            }
            const REPLY_CONTROLS: [&str; 5] =
                ["everyone", "accounts_you_follow", "mentioned_only", "parent_post_author_only", "followers_only"];
            if p("reply_control").is_some_and(|r| !REPLY_CONTROLS.contains(&r.as_str())) {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Param reply_control must be one of {EVERYONE, ACCOUNTS_YOU_FOLLOW, MENTIONED_ONLY, PARENT_POST_AUTHOR_ONLY, FOLLOWERS_ONLY}");
            }
            if let Some(to) = p("reply_to_id") {
                if s.fail_replies {
                    return graph_error(StatusCode::BAD_REQUEST, 10, Some(2207051), "(#10) The user is not allowed to reply to this post");
                }
                if !s.threads.iter().any(|t| t["id"] == to.as_str()) {
                    return graph_error(StatusCode::BAD_REQUEST, 100, Some(33), "(#100) reply_to_id: Object does not exist");
                }
            }
            let id = format!("1790{}", new_id(s));
            s.containers.insert(id.clone(), Container { params: params.clone(), script: vec!["FINISHED"], published: false });
            reply(StatusCode::OK, json!({ "id": id }))
        }),
        (Method::POST, [THREADS_USER, "threads_publish"], true) => fake.with(|s| {
            let Some(container) = p("creation_id").and_then(|c| s.containers.get(&c).cloned()) else {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Invalid parameter");
            };
            s.containers.get_mut(&p("creation_id").unwrap()).unwrap().published = true;
            let id = format!("1810{}", new_id(s));
            let media_type = match container.params.get("media_type").map(String::as_str) {
                Some("CAROUSEL") => "CAROUSEL_ALBUM",
                Some("TEXT") => "TEXT_POST",
                Some(other) => other,
                None => "TEXT_POST",
            }
            .to_owned();
            let mut thread = json!({
                "id": id, "text": container.params.get("text"), "timestamp": CREATED,
                "permalink": format!("https://www.threads.net/@cafeducoin/post/T{id}"), "media_type": media_type,
            });
            if let Some(children) = container.params.get("children") {
                thread["children"] = json!({"data": children.split(',').map(|c| json!({"id": c})).collect::<Vec<_>>()});
            }
            if let Some(r) = container.params.get("reply_control") {
                thread["reply_control"] = json!(r);
            }
            match container.params.get("reply_to_id") {
                Some(to) => {
                    thread["replied_to"] = json!({ "id": to });
                    s.replies.push(thread);
                }
                None => s.threads.push(thread),
            }
            reply(StatusCode::OK, json!({ "id": id }))
        }),
        (Method::GET, [THREADS_USER, "threads"], true) => {
            let data: Vec<Value> = fake.with(|s| s.threads.iter().rev().cloned().collect());
            reply(StatusCode::OK, json!({"data": data, "paging": {}}))
        }

        // ----- A first comment under an Instagram media or a Page post (or video)
        (Method::POST, [id, "comments"], false) => fake.with(|s| {
            if s.fail_comments {
                return graph_error(StatusCode::BAD_REQUEST, 100, Some(2207001), "(#100) Comments are turned off for this post");
            }
            let Some(message) = p("message") else {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) The parameter message is required");
            };
            let exists = s.ig_media.iter().chain(&s.page_posts).any(|m| {
                m["id"] == *id || m["id"].as_str().is_some_and(|pid| pid.strip_prefix(&format!("{PAGE}_")) == Some(*id))
            });
            if !exists {
                return graph_error(StatusCode::BAD_REQUEST, 100, Some(33), "Unsupported post request. Object does not exist");
            }
            s.comments.push(((*id).to_owned(), message));
            let comment = format!("1795{}", new_id(s));
            reply(StatusCode::OK, json!({ "id": comment }))
        }),

        // ----- A container or a published object, by id
        (Method::GET, [id], _) => fake.with(|s| {
            if let Some(c) = s.containers.get_mut(*id) {
                let status = if c.published { "PUBLISHED" } else { c.script[0] };
                if c.script.len() > 1 {
                    c.script.remove(0);
                }
                return if threads_api {
                    let mut body = json!({"id": id, "status": status});
                    if status == "ERROR" {
                        body["error_message"] = json!("FAILED_PROCESSING_IMAGE");
                    }
                    reply(StatusCode::OK, body)
                } else {
                    let mut body = json!({"id": id, "status_code": status});
                    if status == "ERROR" {
                        body["status"] = json!("Error: Media upload has failed with error code 2207026");
                    }
                    reply(StatusCode::OK, body)
                };
            }
            let published = s.ig_media.iter().chain(&s.threads).find(|m| m["id"] == *id).cloned();
            match published {
                Some(m) => reply(StatusCode::OK, m),
                None => graph_error(StatusCode::BAD_REQUEST, 100, Some(33), "Unsupported get request. Object does not exist"),
            }
        }),
        _ => graph_error(StatusCode::BAD_REQUEST, 100, None, "Unsupported request"),
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

/// Uploads kept in memory that, like S3, have a public (presigned) address.
#[derive(Default)]
struct PublicFiles(MemoryMediaFiles);

#[async_trait]
impl MediaFiles for PublicFiles {
    async fn presigned_put(&self, key: &MediaKey, bytes: u64, expires: Duration) -> Result<Option<String>, MediaError> {
        self.0.presigned_put(key, bytes, expires).await
    }
    async fn public_url(&self, key: &MediaKey, valid: Duration) -> Result<Option<String>, MediaError> {
        Ok(Some(format!("https://media.example/{}?X-Amz-Expires={}&X-Amz-Signature=abc", key.object_key(), valid.as_secs())))
    }
    async fn write(&self, key: &MediaKey, bytes: u64, body: UploadBody) -> Result<(), MediaError> {
        self.0.write(key, bytes, body).await
    }
    async fn stat(&self, key: &MediaKey) -> Result<Option<Stored>, MediaError> {
        self.0.stat(key).await
    }
    async fn open(&self, key: &MediaKey) -> Result<Option<Opened>, MediaError> {
        self.0.open(key).await
    }
}

struct Fixture {
    delivery: Delivery,
    channel: Channel,
    credentials: Credentials,
    text: String,
    media: Vec<MediaRef>,
    files: Box<dyn MediaFiles>,
    first_comment: Option<String>,
    reply_control: Option<ReplyControl>,
}

fn team() -> TeamId {
    TeamId::parse("team", "cafe-du-coin").unwrap()
}

impl Fixture {
    fn new(platform: Platform, text: &str, media: &[&str]) -> Self {
        let post = Post {
            review: None,
            version: 0,
            first_comment: None,
            reply_control: None,
            id: PostId::new(),
            team_id: team(),
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
            team_id: team(),
            platform,
            name: ChannelName::parse("name", "Café du Coin").unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: now(),
            updated_at: now(),
        };
        let delivery = Delivery::new(&post, channel.id, platform, DeliveryState::Publishing, now(), now());
        let credentials = match platform {
            Platform::Facebook => json!({"page_id": PAGE, "page_access_token": TOKEN}),
            Platform::Instagram => json!({"ig_user_id": IG_USER, "access_token": TOKEN}),
            _ => json!({"threads_user_id": THREADS_USER, "access_token": TOKEN}),
        };
        let media = media
            .iter()
            .map(|m| MediaRef::parse("media", &format!("https://cdn.example/{m}"), Some(format!("alt of {m}"))).unwrap())
            .collect();
        Self {
            delivery,
            channel,
            credentials: Credentials::from_json("credentials", &credentials).unwrap(),
            text: text.to_owned(),
            media,
            files: Box::new(herald_core::media::NoMediaFiles),
            first_comment: None,
            reply_control: None,
        }
    }

    fn with_first_comment(mut self, comment: &str) -> Self {
        self.first_comment = Some(comment.to_owned());
        self
    }

    fn with_token(mut self, token: &str) -> Self {
        let mut v: Value = json!({});
        for name in ["page_id", "ig_user_id", "threads_user_id"] {
            if let Some(x) = self.credentials.get(name) {
                v[name] = json!(x);
            }
        }
        let token_field = if self.credentials.get("page_access_token").is_some() { "page_access_token" } else { "access_token" };
        v[token_field] = json!(token);
        self.credentials = Credentials::from_json("credentials", &v).unwrap();
        self
    }

    fn request(&self) -> PublishRequest<'_> {
        PublishRequest {
            delivery: &self.delivery,
            channel: &self.channel,
            credentials: &self.credentials,
            text: &self.text,
            media: &self.media,
            media_files: &*self.files,
            first_comment: self.first_comment.as_deref(),
            reply_control: self.reply_control,
        }
    }
}

fn config(base: &str) -> MetaConfig {
    MetaConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        graph_url: format!("{base}/v22.0"),
        threads_url: format!("{base}/v1.0"),
        container_wait: Duration::from_millis(500),
        container_poll_interval: Duration::from_millis(10),
        quota_retry: Duration::from_secs(3600),
    }
}

async fn fake() -> (Fake, MetaConfig) {
    let fake = Fake::default();
    let base = start(&fake).await;
    (fake, config(&base))
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

fn facebook(config: MetaConfig) -> FacebookAdapter {
    FacebookAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap()
}

fn instagram(config: MetaConfig) -> InstagramAdapter {
    InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap()
}

fn threads(config: MetaConfig) -> ThreadsAdapter {
    ThreadsAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap()
}

fn param<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.params.get(name).map(String::as_str)
}

// ---------------------------------------------------------------------------------------------
// Facebook

#[tokio::test]
async fn facebook_text_with_a_link_is_one_feed_post_carrying_the_link() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let f = Fixture::new(Platform::Facebook, "New autumn menu: https://cafe.example/menu. Come by!", &[]);
    let published = fb.publish(&f.request()).await.unwrap();
    assert_eq!(published.platform_post_id, "1001_1");
    assert_eq!(published.url.as_deref(), Some("https://www.facebook.com/1001_1"));
    let feed = fake.seen(Method::POST, "/1001/feed");
    assert_eq!(feed.len(), 1);
    assert_eq!(param(&feed[0], "message"), Some(f.text.as_str()));
    assert_eq!(param(&feed[0], "link"), Some("https://cafe.example/menu"));
    assert!(!feed[0].token_in_query, "the token goes in the form body, never in the URL");
    // Reconciling finds it (once), and a text that was not posted is not found.
    let found = fb.find_published(&f.request()).await.unwrap().expect("the post is found");
    assert_eq!(found.platform_post_id, "1001_1");
    let other = Fixture::new(Platform::Facebook, "Something never posted", &[]);
    assert_eq!(fb.find_published(&other.request()).await.unwrap(), None);
    let list = fake.seen(Method::GET, "/1001/published_posts");
    assert_eq!(param(&list[0], "since"), Some((now().timestamp() - 60).to_string().as_str()));
}

#[tokio::test]
async fn facebook_several_photos_are_uploaded_unpublished_then_attached_to_one_post() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let f = Fixture::new(Platform::Facebook, "Three new cakes", &["a.jpg", "b.png", "c.jpg"]);
    let published = fb.publish(&f.request()).await.unwrap();
    let photos = fake.seen(Method::POST, "/1001/photos");
    assert_eq!(photos.len(), 3);
    assert!(photos.iter().all(|p| param(p, "published") == Some("false")));
    assert_eq!(param(&photos[1], "url"), Some("https://cdn.example/b.png"));
    let feed = fake.seen(Method::POST, "/1001/feed");
    assert_eq!(feed.len(), 1);
    let ids: Vec<String> = fake.with(|s| s.unpublished_photos.clone());
    for (i, id) in ids.iter().enumerate() {
        let attached: Value = serde_json::from_str(param(&feed[0], &format!("attached_media[{i}]")).unwrap()).unwrap();
        assert_eq!(attached, json!({ "media_fbid": id }));
    }
    assert_eq!(fake.with(|s| s.page_posts.len()), 1, "one post, not one per photo");
    assert_eq!(published.platform_post_id, fake.with(|s| s.page_posts[0]["id"].as_str().unwrap().to_owned()));
    // Reconciling compares the photos too: the same text with two photos is another post.
    assert!(fb.find_published(&f.request()).await.unwrap().is_some());
    let two = Fixture::new(Platform::Facebook, "Three new cakes", &["a.jpg", "b.png"]);
    assert_eq!(fb.find_published(&two.request()).await.unwrap(), None);

    // One photo is one call to /photos, published, whose post is the one recorded.
    let one = Fixture::new(Platform::Facebook, "One cake", &["d.jpg"]);
    let published = fb.publish(&one.request()).await.unwrap();
    let last = fake.seen(Method::POST, "/1001/photos").pop().unwrap();
    assert_eq!(param(&last, "published"), None);
    assert_eq!(param(&last, "message"), Some("One cake"));
    assert!(published.platform_post_id.starts_with("1001_"), "{published:?}");
}

#[tokio::test]
async fn facebook_a_video_goes_to_videos_and_a_video_with_photos_is_refused() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let f = Fixture::new(Platform::Facebook, "Behind the counter", &["tour.mp4"]);
    let published = fb.publish(&f.request()).await.unwrap();
    let videos = fake.seen(Method::POST, "/1001/videos");
    assert_eq!(videos.len(), 1);
    assert_eq!(param(&videos[0], "file_url"), Some("https://cdn.example/tour.mp4"));
    assert_eq!(param(&videos[0], "description"), Some("Behind the counter"));
    assert!(published.platform_post_id.starts_with("77"), "the video's id: {published:?}");
    assert_eq!(fake.count(Method::POST, "/1001/photos") + fake.count(Method::POST, "/1001/feed"), 0);

    let mixed = Fixture::new(Platform::Facebook, "Both", &["tour.mp4", "cake.jpg"]);
    let e = fb.publish(&mixed.request()).await.unwrap_err();
    assert!(matches!(&e, PublishError::Permanent { reason } if reason.contains("one video")), "{e:?}");
    assert_eq!(fake.with(|s| s.page_posts.len()), 1, "nothing more was posted");
}

#[tokio::test]
async fn facebook_a_refused_token_is_a_reconnect_naming_metas_words() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let good = Fixture::new(Platform::Facebook, "x", &[]);
    fb.check_credentials(&good.channel, &good.credentials).await.unwrap();
    let bad = Fixture::new(Platform::Facebook, "x", &[]).with_token("expired");
    let e = fb.check_credentials(&bad.channel, &bad.credentials).await.unwrap_err();
    let PublishError::Auth { reason } = e else { panic!("{e:?}") };
    assert!(reason.contains("Session has expired"), "{reason}");
    assert!(reason.contains("code 190, subcode 463, fbtrace_id AbCdEfGh123"), "{reason}");
    assert!(!reason.contains("expired\""), "{reason}");
    let e = fb.publish(&bad.request()).await.unwrap_err();
    assert!(matches!(e, PublishError::Auth { .. }), "{e:?}");
    assert_eq!(fake.with(|s| s.page_posts.len()), 0);
}

#[tokio::test]
async fn facebook_throttling_is_transient_with_the_business_use_case_wait() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let usage = r#"{"1001":[{"type":"pages","call_count":100,"total_cputime":12,"total_time":15,"estimated_time_to_regain_access":3}]}"#;
    fake.with(|s| {
        s.throttle_next = Some((
            StatusCode::BAD_REQUEST,
            vec![("x-business-use-case-usage", usage.to_owned())],
            json!({"error": {"message": "(#32) Page request limit reached", "type": "OAuthException", "code": 32, "fbtrace_id": "Z"}}),
        ))
    });
    let f = Fixture::new(Platform::Facebook, "Later", &[]);
    let e = fb.publish(&f.request()).await.unwrap_err();
    let PublishError::Transient { reason, retry_after } = e else { panic!("{e:?}") };
    assert_eq!(retry_after, Some(Duration::from_secs(180)));
    assert!(reason.contains("rate limit") && reason.contains("Page request limit reached"), "{reason}");
    // The next try goes through.
    fb.publish(&f.request()).await.unwrap();
    assert_eq!(fake.with(|s| s.page_posts.len()), 1);
}

#[tokio::test]
async fn facebook_first_comment_goes_under_the_page_post_and_a_post_without_one_makes_none() {
    let (fake, config) = fake().await;
    let fb = facebook(config);
    let plain = Fixture::new(Platform::Facebook, "Soup of the day", &[]);
    fb.publish(&plain.request()).await.unwrap();
    assert!(fake.with(|s| s.comments.is_empty()), "no first comment asked, none made");

    let f = Fixture::new(Platform::Facebook, "New menu", &[]).with_first_comment("Book a table: 01 23 45 67 89");
    let published = fb.publish(&f.request()).await.unwrap();
    let comments = fake.seen(Method::POST, &format!("/{}/comments", published.platform_post_id));
    assert_eq!(comments.len(), 1);
    assert_eq!(param(&comments[0], "message"), Some("Book a table: 01 23 45 67 89"));
    assert!(!comments[0].token_in_query, "the token goes in the form body");
    let last = fake.with(|s| s.seen.last().map(|x| x.path.clone())).unwrap();
    assert_eq!(last, format!("/{}/comments", published.platform_post_id), "said after the post");
    assert_eq!(fake.with(|s| s.comments.clone()), [(published.platform_post_id.clone(), "Book a table: 01 23 45 67 89".to_owned())]);
}

// ---------------------------------------------------------------------------------------------
// Instagram

#[tokio::test]
async fn instagram_first_comment_is_said_once_after_media_publish() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    let f = Fixture::new(Platform::Instagram, "Croissants are out", &["croissant.jpg"]).with_first_comment("#bakery #paris #croissant");
    let published = ig.publish(&f.request()).await.unwrap();
    let order: Vec<String> = fake.with(|s| s.seen.iter().map(|x| format!("{} {}", x.method, x.path)).collect());
    let publish_at = order.iter().position(|x| *x == format!("POST /{IG_USER}/media_publish")).unwrap();
    let comment_at = order.iter().position(|x| *x == format!("POST /{}/comments", published.platform_post_id)).unwrap();
    assert!(comment_at > publish_at, "{order:?}");
    let made = &fake.seen(Method::POST, &format!("/{IG_USER}/media"))[0];
    assert_eq!(param(made, "caption"), Some("Croissants are out"), "the hashtags stay out of the caption");
    assert_eq!(fake.with(|s| s.comments.clone()), [(published.platform_post_id.clone(), "#bakery #paris #croissant".to_owned())]);
    // Reconciling finds the post and says nothing more under it.
    ig.find_published(&f.request()).await.unwrap().expect("found");
    assert_eq!(fake.with(|s| s.comments.len()), 1);
}

#[tokio::test]
async fn instagram_a_failing_first_comment_still_returns_the_published_post() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    fake.with(|s| s.fail_comments = true);
    let f = Fixture::new(Platform::Instagram, "Croissants are out", &["croissant.jpg"]).with_first_comment("#bakery");
    let published = ig.publish(&f.request()).await.expect("the post is published; the comment is best effort");
    assert_eq!(published.platform_post_id, fake.with(|s| s.ig_media[0]["id"].as_str().unwrap().to_owned()));
    assert!(published.url.is_some());
    assert_eq!(fake.count(Method::POST, &format!("/{}/comments", published.platform_post_id)), 1, "tried once, not retried");
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media_publish")), 1);
    assert!(fake.with(|s| s.comments.is_empty()));
}

#[tokio::test]
async fn instagram_single_image_goes_through_quota_container_status_and_media_publish() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    let f = Fixture::new(Platform::Instagram, "Croissants are out #bakery", &["croissant.jpg"]);
    let published = ig.publish(&f.request()).await.unwrap();
    let order: Vec<String> = fake.with(|s| s.seen.iter().map(|x| format!("{} {}", x.method, x.path)).collect());
    let container = fake.with(|s| s.containers.keys().next().unwrap().clone());
    assert_eq!(
        order,
        [
            format!("GET /{IG_USER}/content_publishing_limit"),
            format!("POST /{IG_USER}/media"),
            format!("GET /{container}"),
            format!("POST /{IG_USER}/media_publish"),
            format!("GET /{}", published.platform_post_id),
        ]
    );
    let made = &fake.seen(Method::POST, &format!("/{IG_USER}/media"))[0];
    assert_eq!(param(made, "image_url"), Some("https://cdn.example/croissant.jpg"));
    assert_eq!(param(made, "caption"), Some("Croissants are out #bakery"));
    assert_eq!(param(made, "alt_text"), Some("alt of croissant.jpg"));
    assert_eq!(param(made, "media_type"), None);
    let status = &fake.seen(Method::GET, &format!("/{container}"))[0];
    assert_eq!(param(status, "fields"), Some("status_code,status"));
    let publish = &fake.seen(Method::POST, &format!("/{IG_USER}/media_publish"))[0];
    assert_eq!(param(publish, "creation_id"), Some(container.as_str()));
    assert_eq!(published.url.as_deref(), Some(format!("https://www.instagram.com/p/C{}/", published.platform_post_id).as_str()));
    assert_eq!(published.published_at, Some(now() + chrono::Duration::seconds(5)));
    assert_eq!(fake.with(|s| s.quota_usage), 1);
}

#[tokio::test]
async fn instagram_carousel_makes_children_then_a_parent_then_publishes_once() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    let f = Fixture::new(Platform::Instagram, "The week in pictures", &["mon.jpg", "tue.mp4", "wed.jpg"]);
    let published = ig.publish(&f.request()).await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{IG_USER}/media"));
    assert_eq!(made.len(), 4, "three children and the carousel");
    assert!(made[..3].iter().all(|c| param(c, "is_carousel_item") == Some("true") && param(c, "caption").is_none()));
    assert_eq!(param(&made[1], "media_type"), Some("VIDEO"));
    assert_eq!(param(&made[1], "video_url"), Some("https://cdn.example/tue.mp4"));
    assert_eq!(param(&made[2], "image_url"), Some("https://cdn.example/wed.jpg"));
    let parent = &made[3];
    assert_eq!(param(parent, "media_type"), Some("CAROUSEL"));
    assert_eq!(param(parent, "caption"), Some("The week in pictures"));
    let children: Vec<String> = param(parent, "children").unwrap().split(',').map(str::to_owned).collect();
    assert_eq!(children.len(), 3);
    for child in &children {
        assert!(fake.count(Method::GET, &format!("/{child}")) >= 1, "each child's status is read before the carousel is made");
    }
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media_publish")), 1);
    let media = fake.with(|s| s.ig_media.clone());
    assert_eq!(media.len(), 1);
    assert_eq!(media[0]["media_type"], "CAROUSEL_ALBUM");
    assert_eq!(published.platform_post_id, media[0]["id"].as_str().unwrap());
}

#[tokio::test]
async fn instagram_container_in_progress_then_error_fails_for_good_and_publishes_nothing() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    fake.with(|s| s.container_script = vec!["IN_PROGRESS", "IN_PROGRESS", "ERROR"]);
    let f = Fixture::new(Platform::Instagram, "A reel", &["reel.mp4"]);
    let e = ig.publish(&f.request()).await.unwrap_err();
    let PublishError::Permanent { reason } = e else { panic!("{e:?}") };
    assert!(reason.contains("ERROR") && reason.contains("2207026"), "{reason}");
    let made = &fake.seen(Method::POST, &format!("/{IG_USER}/media"))[0];
    assert_eq!(param(made, "media_type"), Some("REELS"));
    let container = fake.with(|s| s.containers.keys().next().unwrap().clone());
    assert_eq!(fake.count(Method::GET, &format!("/{container}")), 3, "polled while IN_PROGRESS, stopped at ERROR");
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media_publish")), 0);
    assert!(fake.with(|s| s.ig_media.is_empty()));

    // A container that never finishes within the wait is worth another try.
    fake.with(|s| s.container_script = vec!["IN_PROGRESS"]);
    let e = ig.publish(&f.request()).await.unwrap_err();
    assert!(matches!(&e, PublishError::Transient { reason, .. } if reason.contains("still processing")), "{e:?}");
    assert!(fake.with(|s| s.ig_media.is_empty()));
}

#[tokio::test]
async fn instagram_spent_quota_stops_before_anything_is_made() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    fake.with(|s| s.quota_usage = 50);
    let f = Fixture::new(Platform::Instagram, "One too many", &["x.jpg"]);
    let e = ig.publish(&f.request()).await.unwrap_err();
    let PublishError::Transient { reason, retry_after } = e else { panic!("{e:?}") };
    assert_eq!(retry_after, Some(Duration::from_secs(3600)));
    assert!(reason.contains("quota is spent: 50 of 50 posts in the last 24 hours"), "{reason}");
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media")), 0);
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media_publish")), 0);
}

#[tokio::test]
async fn instagram_expired_token_is_an_auth_error() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    let f = Fixture::new(Platform::Instagram, "x", &["x.jpg"]).with_token("EAAG-old");
    let e = ig.publish(&f.request()).await.unwrap_err();
    assert!(matches!(&e, PublishError::Auth { reason } if reason.contains("code 190") && reason.contains("reconnect")), "{e:?}");
    let e = ig.check_credentials(&f.channel, &f.credentials).await.unwrap_err();
    assert!(matches!(e, PublishError::Auth { .. }), "{e:?}");
    assert!(fake.with(|s| s.containers.is_empty()));
    let good = Fixture::new(Platform::Instagram, "x", &["x.jpg"]);
    ig.check_credentials(&good.channel, &good.credentials).await.unwrap();
}

#[tokio::test]
async fn instagram_crash_after_media_publish_is_reconciled_not_doubled() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    fake.with(|s| s.publish_delay = Some(Duration::from_secs(3)));
    let f = Fixture::new(Platform::Instagram, "Soup of the day: pumpkin", &["soup.jpg"]);
    let e = ig.publish(&f.request()).await.unwrap_err();
    assert!(matches!(e, PublishError::Transient { .. }), "the answer never came: {e:?}");
    assert_eq!(fake.with(|s| s.ig_media.len()), 1, "but Instagram published it");
    let found = ig.find_published(&f.request()).await.unwrap().expect("reconciled");
    assert_eq!(found.platform_post_id, fake.with(|s| s.ig_media[0]["id"].as_str().unwrap().to_owned()));
    assert!(found.url.is_some());
    assert_eq!(fake.count(Method::POST, &format!("/{IG_USER}/media_publish")), 1, "nothing published twice");

    // Not published: another caption, or the same one with another number of media, or posted
    // before the delivery was due, is not this delivery's.
    let other = Fixture::new(Platform::Instagram, "Soup of the day: leek", &["soup.jpg"]);
    assert_eq!(ig.find_published(&other.request()).await.unwrap(), None);
    let two = Fixture::new(Platform::Instagram, "Soup of the day: pumpkin", &["soup.jpg", "bread.jpg"]);
    assert_eq!(ig.find_published(&two.request()).await.unwrap(), None);
    let mut later = Fixture::new(Platform::Instagram, "Soup of the day: pumpkin", &["soup.jpg"]);
    later.delivery.publish_at = now() + chrono::Duration::hours(1);
    assert_eq!(ig.find_published(&later.request()).await.unwrap(), None);
}

#[tokio::test]
async fn instagram_uploads_go_by_their_public_address_or_not_at_all() {
    let (fake, config) = fake().await;
    let ig = instagram(config);
    let key = MediaKey::new(team(), MediaType::by_mime("image/jpeg").unwrap());
    let upload = MediaRef {
        url: key.reference(),
        alt: None,
        upload: Some(Upload { content_type: "image/jpeg".into(), bytes: 2048, fetchable: true }),
    };
    let mut f = Fixture::new(Platform::Instagram, "From the phone", &[]);
    f.media = vec![upload];
    f.files = Box::new(PublicFiles::default());
    ig.publish(&f.request()).await.unwrap();
    let made = &fake.seen(Method::POST, &format!("/{IG_USER}/media"))[0];
    assert_eq!(
        param(made, "image_url"),
        Some(format!("https://media.example/{}?X-Amz-Expires=3600&X-Amz-Signature=abc", key.object_key()).as_str())
    );

    // Where uploads have no public address, the post cannot go to Instagram, and it says why.
    let files = MemoryMediaFiles::default();
    files.insert(&key, vec![0xFF, 0xD8, 0xFF, 0xE0]);
    f.files = Box::new(files);
    let before = fake.with(|s| s.seen.len());
    let e = ig.publish(&f.request()).await.unwrap_err();
    assert!(matches!(&e, PublishError::Permanent { reason } if reason.contains("HERALD_PUBLIC_URL")), "{e:?}");
    assert_eq!(fake.with(|s| s.seen.len()), before, "Instagram was not called");
}

// ---------------------------------------------------------------------------------------------
// Threads

#[tokio::test]
async fn threads_text_is_a_text_container_then_published() {
    let (fake, config) = fake().await;
    let th = threads(config);
    let f = Fixture::new(Platform::Threads, "Open late tonight 🎉", &[]);
    let published = th.publish(&f.request()).await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads"));
    assert_eq!(made.len(), 1);
    assert_eq!(param(&made[0], "media_type"), Some("TEXT"));
    assert_eq!(param(&made[0], "text"), Some("Open late tonight 🎉"));
    let container = fake.with(|s| s.containers.keys().next().unwrap().clone());
    let status = &fake.seen(Method::GET, &format!("/{container}"))[0];
    assert_eq!(param(status, "fields"), Some("status,error_message"));
    let publish = &fake.seen(Method::POST, &format!("/{THREADS_USER}/threads_publish"))[0];
    assert_eq!(param(publish, "creation_id"), Some(container.as_str()));
    assert!(published.url.as_deref().is_some_and(|u| u.starts_with("https://www.threads.net/")), "{published:?}");
    assert_eq!(th.find_published(&f.request()).await.unwrap().map(|p| p.platform_post_id), Some(published.platform_post_id));
}

#[tokio::test]
async fn threads_carousel_and_reconciling_it() {
    let (fake, config) = fake().await;
    let th = threads(config);
    let f = Fixture::new(Platform::Threads, "Two views of the terrace", &["left.jpg", "right.jpg"]);
    let published = th.publish(&f.request()).await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads"));
    assert_eq!(made.len(), 3);
    assert!(made[..2].iter().all(|c| param(c, "media_type") == Some("IMAGE") && param(c, "is_carousel_item") == Some("true")));
    assert_eq!(param(&made[1], "image_url"), Some("https://cdn.example/right.jpg"));
    assert_eq!(param(&made[1], "alt_text"), Some("alt of right.jpg"));
    assert_eq!(param(&made[2], "media_type"), Some("CAROUSEL"));
    assert_eq!(param(&made[2], "text"), Some("Two views of the terrace"));
    assert_eq!(fake.count(Method::POST, &format!("/{THREADS_USER}/threads_publish")), 1);
    let found = th.find_published(&f.request()).await.unwrap().expect("found");
    assert_eq!(found.platform_post_id, published.platform_post_id);
    let one = Fixture::new(Platform::Threads, "Two views of the terrace", &["left.jpg"]);
    assert_eq!(th.find_published(&one.request()).await.unwrap(), None, "media count differs");
}

#[tokio::test]
async fn threads_reply_control_is_on_the_post_and_the_first_reply_answers_it() {
    let (fake, config) = fake().await;
    let th = threads(config);
    let mut f = Fixture::new(Platform::Threads, "New menu tonight", &[]).with_first_comment("#menu #paris");
    f.reply_control = Some(ReplyControl::FollowersOnly);
    let published = th.publish(&f.request()).await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads"));
    assert_eq!(made.len(), 2, "the post's container, then the reply's");
    assert_eq!(param(&made[0], "reply_control"), Some("followers_only"));
    assert_eq!(param(&made[0], "reply_to_id"), None);
    assert_eq!(param(&made[1], "media_type"), Some("TEXT"));
    assert_eq!(param(&made[1], "text"), Some("#menu #paris"));
    assert_eq!(param(&made[1], "reply_to_id"), Some(published.platform_post_id.as_str()));
    assert_eq!(param(&made[1], "reply_control"), None);
    let publishes = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads_publish"));
    assert_eq!(publishes.len(), 2);
    let reply_container = fake.with(|s| {
        s.containers.iter().find(|(_, c)| c.params.contains_key("reply_to_id")).map(|(id, _)| id.clone()).unwrap()
    });
    assert!(fake.count(Method::GET, &format!("/{reply_container}")) >= 1, "the reply's container is waited for");
    assert_eq!(param(&publishes[1], "creation_id"), Some(reply_container.as_str()));
    let (threads, replies) = fake.with(|s| (s.threads.clone(), s.replies.clone()));
    assert_eq!(threads.len(), 1);
    assert_eq!(threads[0]["reply_control"], "followers_only");
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0]["replied_to"]["id"], published.platform_post_id.as_str());
    // Reconciling finds the post, not its reply, and replies nothing more.
    let found = th.find_published(&f.request()).await.unwrap().expect("found");
    assert_eq!(found.platform_post_id, published.platform_post_id);
    assert_eq!(fake.with(|s| s.replies.len()), 1);

    // A carousel says it on its parent only.
    let mut c = Fixture::new(Platform::Threads, "Two views", &["left.jpg", "right.jpg"]);
    c.reply_control = Some(ReplyControl::MentionedOnly);
    th.publish(&c.request()).await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads"));
    let carousel = &made[made.len() - 3..];
    assert!(carousel[..2].iter().all(|x| param(x, "reply_control").is_none()));
    assert_eq!(param(&carousel[2], "media_type"), Some("CAROUSEL"));
    assert_eq!(param(&carousel[2], "reply_control"), Some("mentioned_only"));
    assert_eq!(fake.with(|s| s.replies.len()), 1, "no first reply asked, none made");
}

#[tokio::test]
async fn threads_a_refused_first_reply_leaves_the_post_published() {
    let (fake, config) = fake().await;
    let th = threads(config);
    fake.with(|s| s.fail_replies = true);
    let f = Fixture::new(Platform::Threads, "Open late tonight", &[]).with_first_comment("See you there");
    let published = th.publish(&f.request()).await.expect("the post is published; the reply is best effort");
    assert_eq!(fake.with(|s| s.threads.len()), 1);
    assert_eq!(published.platform_post_id, fake.with(|s| s.threads[0]["id"].as_str().unwrap().to_owned()));
    assert_eq!(fake.count(Method::POST, &format!("/{THREADS_USER}/threads")), 2, "the reply was tried once");
    assert_eq!(fake.count(Method::POST, &format!("/{THREADS_USER}/threads_publish")), 1);
    assert!(fake.with(|s| s.replies.is_empty()));
}

#[tokio::test]
async fn threads_throttled_by_the_app_usage_header_waits_and_says_so() {
    let (fake, config) = fake().await;
    let th = threads(config);
    fake.with(|s| {
        s.throttle_next = Some((
            StatusCode::FORBIDDEN,
            vec![("x-app-usage", r#"{"call_count":100,"total_cputime":40,"total_time":38}"#.to_owned())],
            json!({"error": {"message": "(#4) Application request limit reached", "type": "OAuthException", "code": 4, "is_transient": true, "fbtrace_id": "Q"}}),
        ))
    });
    let f = Fixture::new(Platform::Threads, "Soon", &[]);
    let e = th.publish(&f.request()).await.unwrap_err();
    assert_eq!(
        e,
        PublishError::Transient {
            reason: "Threads rate limit reached while making a container: (#4) Application request limit reached (code 4, fbtrace_id Q)".into(),
            retry_after: Some(RATE_LIMIT_PAUSE),
        }
    );
    assert!(fake.with(|s| s.threads.is_empty()));
    let bad = Fixture::new(Platform::Threads, "x", &[]).with_token("nope");
    assert!(matches!(th.check_credentials(&bad.channel, &bad.credentials).await, Err(PublishError::Auth { .. })));
}

#[tokio::test]
async fn threads_tokens_are_renewed_for_sixty_days_and_a_refused_one_asks_for_a_reconnect() {
    use herald_core::platforms::TokenAdapter;
    use herald_core::platforms::tokens::{TOKEN_EXPIRES_AT, expires_at};
    let (fake, config) = fake().await;
    let th = threads(config);
    let f = Fixture::new(Platform::Threads, "x", &[]);
    let expiring = f.credentials.clone().with(TOKEN_EXPIRES_AT, "2026-11-25T10:00:00Z");
    assert_eq!(th.renew_from(&expiring), Some(Utc.with_ymd_and_hms(2026, 11, 18, 10, 0, 0).unwrap()), "a week ahead");
    assert_eq!(th.renew_from(&f.credentials), None, "no expiry known: never renewed");

    let renewed = th.renew(&f.channel, &expiring).await.unwrap();
    assert_eq!(renewed.get("access_token"), Some("THQ-renewed"));
    assert_eq!(renewed.get("threads_user_id"), Some(THREADS_USER), "the other fields are kept");
    assert_eq!(expires_at(&renewed), Some(now() + chrono::Duration::seconds(5_183_944)));
    let asked = fake.with(|s| s.seen.last().cloned()).unwrap();
    assert_eq!((asked.path.as_str(), param(&asked, "grant_type")), ("/refresh_access_token", Some("th_refresh_token")));
    assert!(asked.token_in_query, "a GET carries the token as its access_token parameter");

    let old = Fixture::new(Platform::Threads, "x", &[]).with_token("expired");
    assert!(matches!(th.renew(&old.channel, &old.credentials).await, Err(PublishError::Auth { .. })));
}
