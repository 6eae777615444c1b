//! The Meta inbox adapters (answering Facebook and Instagram comments and Threads posts,
//! polling Instagram comments) against a small fake Graph API on 127.0.0.1, built from the
//! shapes in platforms.md §4–5 and platforms-more.md §8.1: the token as the `access_token`
//! parameter, `{"id"}` answers, `{"data": [...], "paging": {...}}` listings, Threads containers
//! with `status`, error bodies `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`
//! and the `X-Business-Use-Case-Usage` header. The interactions answered are the ones the webhook
//! intake makes of Meta's webhook bodies, so the ids the adapters use are the intake's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, TimeZone, Utc};
use herald_core::clock::ManualClock;
use herald_core::crypto::Credentials;
use herald_core::domain::{
    Channel, ChannelId, ChannelName, Interaction, InteractionDraft, InteractionId, InteractionKind, Platform, TeamId,
};
use herald_core::intake::webhooks;
use herald_core::intake::EventPayload;
use herald_core::platforms::meta::MetaConfig;
use herald_core::platforms::meta::facebook::FacebookAdapter;
use herald_core::platforms::meta::instagram::InstagramAdapter;
use herald_core::platforms::meta::threads::ThreadsAdapter;
use herald_core::platforms::{InboxAdapter, NetworkPolicy, Polled, PublishError};
use crate::graph_wire::{Call, graph_error, reply};
use serde_json::{Value, json};

const TOKEN: &str = "EAAG-inbox-token";
const PAGE: &str = "1001";
const IG_USER: &str = "17841400000000001";
const THREADS_USER: &str = "7001";
/// A Page post and a comment on it, as the `feed` webhook names them.
const FB_POST: &str = "1001_500";
const FB_COMMENT: &str = "500_600";
/// When the fake says anything it makes was created.
const CREATED: &str = "2026-11-20T10:00:05+0000";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The fake Graph API

/// A request the fake received.
type Seen = Call;

/// A status, extra headers and a JSON body to answer with.
type CannedReply = (StatusCode, Vec<(&'static str, String)>, Value);

#[derive(Default)]
struct FakeState {
    seen: Vec<Seen>,
    next_id: u64,
    /// Facebook comments by id, each with the comments under it, oldest first.
    fb_answers: HashMap<String, Vec<Value>>,
    /// Instagram media, newest first (`id`, `permalink`, `timestamp`, `comments_count`).
    ig_media: Vec<Value>,
    /// Instagram top-level comments by media, each with its `replies` (`{"data": [...]}`).
    ig_comments: HashMap<String, Vec<Value>>,
    /// Threads posts that may be answered (`reply_to_id`).
    threads_posts: Vec<String>,
    /// Threads containers: their parameters, and whether published.
    containers: HashMap<String, (HashMap<String, String>, bool)>,
    /// The account's own Threads replies, newest first.
    threads_replies: Vec<Value>,
    /// The next call answers this.
    throttle_next: Option<CannedReply>,
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

    fn calls(&self) -> Vec<String> {
        self.with(|s| s.seen.iter().map(|x| format!("{} {}", x.method, x.path)).collect())
    }
}

fn listing(data: Vec<Value>) -> Response {
    reply(StatusCode::OK, json!({"data": data, "paging": {"cursors": {"before": "QVFIUmx", "after": "QVFIUms"}}}))
}

fn missing() -> Response {
    graph_error(StatusCode::BAD_REQUEST, 100, Some(33), "Unsupported get request. Object does not exist")
}

/// Graph field selection: a listed object carries only the fields asked for (and its id).
fn select(fields: Option<&String>, mut item: Value) -> Value {
    let asked: Vec<&str> = fields.map(|f| f.split(',').map(|x| x.split('{').next().unwrap_or(x)).collect()).unwrap_or_default();
    if let Some(o) = item.as_object_mut() {
        o.retain(|k, _| k == "id" || asked.contains(&k.as_str()));
    }
    item
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
    if let Some((status, headers, body)) = fake.with(|s| s.throttle_next.take()) {
        let mut r = reply(status, body);
        for (k, v) in headers {
            r.headers_mut().insert(k, v.parse().unwrap());
        }
        return r;
    }
    let p = |k: &str| params.get(k).cloned();
    let fields = params.get("fields");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let new_id = |s: &mut FakeState| {
        s.next_id += 1;
        s.next_id
    };

    match (method.clone(), segments.as_slice(), threads_api) {
        // ----- Facebook: the comments under a comment (Graph comments edge)
        (Method::GET, [comment, "comments"], false) if fake.with(|s| s.fb_answers.contains_key(*comment)) => fake.with(|s| {
            let mut data: Vec<Value> = s.fb_answers[*comment].iter().map(|c| select(fields, c.clone())).collect();
            if p("order").as_deref() == Some("reverse_chronological") {
                data.reverse();
            }
            listing(data)
        }),
        (Method::POST, [comment, "comments"], false) if fake.with(|s| s.fb_answers.contains_key(*comment)) => {
            let Some(message) = p("message").filter(|m| !m.is_empty()) else {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Missing message or attachment");
            };
            fake.with(|s| {
                let id = format!("500_{}", 900 + new_id(s));
                let answer = json!({
                    "id": id, "message": message, "created_time": CREATED,
                    "from": {"id": PAGE, "name": "Café du Coin"},
                    "permalink_url": format!("https://www.facebook.com/{FB_POST}?comment_id={id}"),
                });
                s.fb_answers.get_mut(*comment).unwrap().push(answer);
                s.fb_answers.insert(id.clone(), vec![]);
                reply(StatusCode::OK, json!({ "id": id }))
            })
        }

        // ----- Instagram
        (Method::GET, [IG_USER, "media"], false) => fake.with(|s| {
            let limit: usize = p("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            listing(s.ig_media.iter().take(limit).map(|m| select(fields, m.clone())).collect())
        }),
        (Method::GET, [media, "comments"], false) => fake.with(|s| {
            let Some(comments) = s.ig_comments.get(*media) else { return missing() };
            let expanded = fields.is_some_and(|f| f.contains("replies{"));
            let data = comments
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if !expanded {
                        c.as_object_mut().unwrap().remove("replies");
                    }
                    c
                })
                .collect();
            listing(data)
        }),
        (Method::GET, [comment, "replies"], false) => fake.with(|s| {
            let found = s.ig_comments.values().flatten().find(|c| c["id"] == *comment);
            match found {
                Some(c) => listing(c["replies"]["data"].as_array().cloned().unwrap_or_default()),
                None => missing(),
            }
        }),
        (Method::POST, [comment, "replies"], false) => {
            let Some(message) = p("message").filter(|m| !m.is_empty()) else {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) The parameter message is required");
            };
            fake.with(|s| {
                let id = format!("1800{}", new_id(s));
                let Some(parent) = s.ig_comments.values_mut().flatten().find(|c| c["id"] == *comment) else {
                    return missing();
                };
                let answer = json!({
                    "id": id, "text": message, "timestamp": CREATED, "username": "cafeducoin",
                    "from": {"id": IG_USER, "username": "cafeducoin"}, "parent_id": comment,
                });
                parent["replies"]["data"].as_array_mut().unwrap().push(answer);
                reply(StatusCode::OK, json!({ "id": id }))
            })
        }

        // ----- Threads
        (Method::GET, [THREADS_USER, "replies"], true) => fake.with(|s| {
            let limit: usize = p("limit").and_then(|l| l.parse().ok()).unwrap_or(25);
            listing(s.threads_replies.iter().take(limit).map(|r| select(fields, r.clone())).collect())
        }),
        (Method::POST, [THREADS_USER, "threads"], true) => fake.with(|s| {
            let text_ok = p("media_type").as_deref() == Some("TEXT") && p("text").is_some_and(|t| !t.is_empty());
            let target_ok = p("reply_to_id").is_none_or(|r| s.threads_posts.contains(&r));
            if !text_ok || !target_ok {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Invalid parameter");
            }
            let id = format!("1790{}", new_id(s));
            s.containers.insert(id.clone(), (params.clone(), false));
            reply(StatusCode::OK, json!({ "id": id }))
        }),
        (Method::POST, [THREADS_USER, "threads_publish"], true) => fake.with(|s| {
            let creation = p("creation_id").unwrap_or_default();
            let Some((container, published)) = s.containers.get(&creation).cloned() else {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) Invalid parameter");
            };
            if published {
                return graph_error(StatusCode::BAD_REQUEST, 100, None, "(#100) The container was already published");
            }
            s.containers.get_mut(&creation).unwrap().1 = true;
            let id = format!("1810{}", new_id(s));
            s.threads_replies.insert(
                0,
                json!({
                    "id": id, "text": container.get("text"), "timestamp": CREATED,
                    "permalink": format!("https://www.threads.net/@cafeducoin/post/R{id}"),
                    "replied_to": {"id": container.get("reply_to_id")},
                }),
            );
            reply(StatusCode::OK, json!({ "id": id }))
        }),

        // ----- An object by id: a Threads container or reply, a Facebook comment
        (Method::GET, [id], true) => fake.with(|s| {
            if let Some((_, published)) = s.containers.get(*id) {
                return reply(StatusCode::OK, json!({"id": id, "status": if *published { "PUBLISHED" } else { "FINISHED" }}));
            }
            match s.threads_replies.iter().find(|r| r["id"] == *id) {
                Some(r) => reply(StatusCode::OK, select(fields, r.clone())),
                None => missing(),
            }
        }),
        (Method::GET, [id], false) => fake.with(|s| {
            match s.fb_answers.values().flatten().find(|c| c["id"] == *id) {
                Some(c) => reply(StatusCode::OK, select(fields, c.clone())),
                None => missing(),
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

async fn fake() -> (Fake, MetaConfig) {
    let fake = Fake::default();
    let base = start(&fake).await;
    let config = MetaConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        graph_url: format!("{base}/v22.0"),
        threads_url: format!("{base}/v1.0"),
        container_wait: Duration::from_millis(500),
        container_poll_interval: Duration::from_millis(10),
        quota_retry: Duration::from_secs(3600),
    };
    (fake, config)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(now()))
}

// ---------------------------------------------------------------------------------------------
// Channels, credentials and interactions as the intake makes them

fn channel(platform: Platform) -> Channel {
    Channel {
        id: ChannelId::new(),
        team_id: TeamId::parse("team", "cafe-du-coin").unwrap(),
        platform,
        name: ChannelName::parse("name", "Café du Coin").unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: None,
        queue_slots: vec![],
        created_at: now(),
        updated_at: now(),
    }
}

fn credentials(fields: Value) -> Credentials {
    Credentials::from_json("credentials", &fields).unwrap()
}

fn fb_credentials() -> Credentials {
    credentials(json!({"page_id": PAGE, "page_access_token": TOKEN, "app_secret": "s", "verify_token": "v"}))
}

/// An Instagram account connected without webhooks (no `app_secret`): it is polled.
fn ig_credentials() -> Credentials {
    credentials(json!({"ig_user_id": IG_USER, "access_token": TOKEN}))
}

fn threads_credentials() -> Credentials {
    credentials(json!({"threads_user_id": THREADS_USER, "access_token": TOKEN, "app_secret": "s"}))
}

/// What the webhook intake makes of `body` on `platform`: (dedupe id, draft) of each interaction.
fn from_webhook(platform: Platform, body: &Value) -> Vec<(String, InteractionDraft)> {
    webhooks::parse(platform, body.to_string().as_bytes())
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.payload {
            EventPayload::Interaction(d) => Some((e.event_id, d)),
            EventPayload::Ignored { .. } => None,
        })
        .collect()
}

/// The interaction Herald stores from a draft (as JSON, so that fields added to `Interaction`
/// later with defaults do not break this test).
fn stored(draft: &InteractionDraft, channel: &Channel, event_id: &str) -> Interaction {
    let mut v = serde_json::to_value(draft).unwrap();
    v["id"] = json!(InteractionId::derived(&format!("{}/{event_id}", channel.id)));
    v["team_id"] = json!(channel.team_id);
    v["channel_id"] = json!(channel.id);
    v["platform"] = json!(channel.platform);
    v["received_at"] = json!(now());
    v["status"] = json!("open");
    serde_json::from_value(v).unwrap()
}

/// The one interaction a webhook body makes, as stored.
fn webhook_interaction(platform: Platform, channel: &Channel, body: Value) -> Interaction {
    let parsed = from_webhook(platform, &body);
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    stored(&parsed[0].1, channel, &parsed[0].0)
}

fn fb_feed(comment_id: &str, parent_id: &str, from: (&str, &str), message: &str) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": 1_763_632_805, "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": FB_POST, "parent_id": parent_id,
        "from": {"id": from.0, "name": from.1}, "message": message, "created_time": 1_763_632_805,
    }}]}]})
}

fn ig_webhook(comment_id: &str, media_id: &str, parent_id: Option<&str>, from: (&str, &str), text: &str) -> Value {
    let mut value = json!({
        "from": {"id": from.0, "username": from.1}, "media": {"id": media_id, "media_product_type": "FEED"},
        "id": comment_id, "text": text,
    });
    if let Some(p) = parent_id {
        value["parent_id"] = json!(p);
    }
    json!({"object": "instagram", "entry": [{"id": IG_USER, "time": 1_763_632_805, "changes": [{"field": "comments", "value": value}]}]})
}

fn param<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.params.get(name).map(String::as_str)
}

fn assert_token_in_body(seen: &Seen) {
    assert_eq!(param(seen, "access_token"), Some(TOKEN));
    assert!(!seen.token_in_query, "a POST sends the token in its form body, not its URL");
}

// ---------------------------------------------------------------------------------------------
// Facebook

#[tokio::test]
async fn facebook_comment_is_answered_under_it_once() {
    let (fake, config) = fake().await;
    fake.with(|s| {
        s.fb_answers.insert(FB_COMMENT.into(), vec![json!({
            // Someone else already said the same words: that is not the Page's answer.
            "id": "500_700", "message": "Dès 9 h !", "created_time": CREATED, "from": {"id": "42", "name": "Léa"},
        })]);
    });
    let fb = FacebookAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Facebook);
    let it = webhook_interaction(Platform::Facebook, &ch, fb_feed(FB_COMMENT, FB_POST, ("42", "Léa"), "Vous ouvrez quand ?"));
    assert_eq!(it.kind, InteractionKind::Comment);

    let published = fb.reply(&ch, &fb_credentials(), &it, "Dès 9 h !").await.unwrap();
    let posts = fake.seen(Method::POST, &format!("/{FB_COMMENT}/comments"));
    assert_eq!(posts.len(), 1);
    assert_eq!(param(&posts[0], "message"), Some("Dès 9 h !"));
    assert_token_in_body(&posts[0]);
    let id = published.platform_post_id.clone();
    assert!(id.starts_with("500_9"), "{id}");
    assert_eq!(published.url.as_deref(), Some(format!("https://www.facebook.com/{FB_POST}?comment_id={id}").as_str()));

    // A retry after a lost answer finds the Page's reply and does not post it again.
    let again = fb.reply(&ch, &fb_credentials(), &it, "  Dès 9 h !\n").await.unwrap();
    assert_eq!(again.platform_post_id, id);
    assert_eq!(fake.seen(Method::POST, &format!("/{FB_COMMENT}/comments")).len(), 1);
    // Another text is another reply.
    let other = fb.reply(&ch, &fb_credentials(), &it, "Et jusqu'à 19 h.").await.unwrap();
    assert_ne!(other.platform_post_id, id);
    assert_eq!(fake.with(|s| s.fb_answers[FB_COMMENT].len()), 3);
}

#[tokio::test]
async fn facebook_reply_to_a_reply_goes_under_its_comment_and_messages_are_refused() {
    let (fake, config) = fake().await;
    fake.with(|s| {
        s.fb_answers.insert(FB_COMMENT.into(), vec![]);
    });
    let fb = FacebookAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Facebook);
    let it = webhook_interaction(Platform::Facebook, &ch, fb_feed("500_650", FB_COMMENT, ("43", "Marc"), "Et le dimanche ?"));
    assert_eq!((it.kind, it.parent_id.as_deref()), (InteractionKind::Reply, Some(FB_COMMENT)));
    fb.reply(&ch, &fb_credentials(), &it, "Le dimanche aussi.").await.unwrap();
    assert_eq!(fake.seen(Method::POST, &format!("/{FB_COMMENT}/comments")).len(), 1);
    assert!(fake.seen(Method::POST, "/500_650/comments").is_empty());

    let dm = json!({"object": "page", "entry": [{"id": PAGE, "time": 1_763_632_805, "messaging": [{
        "sender": {"id": "7012"}, "recipient": {"id": PAGE}, "timestamp": 1_763_632_805_000_i64,
        "message": {"mid": "m_1", "text": "Bonjour"},
    }]}]});
    let dm = webhook_interaction(Platform::Facebook, &ch, dm);
    let before = fake.calls().len();
    let e = fb.reply(&ch, &fb_credentials(), &dm, "Bonjour !").await.unwrap_err();
    let PublishError::Permanent { reason } = e else { panic!("{e:?}") };
    assert!(reason.contains("direct messages"), "{reason}");
    assert_eq!(fake.calls().len(), before, "nothing was sent");
}

#[tokio::test]
async fn facebook_and_threads_polls_leave_it_to_the_webhooks() {
    let (fake, config) = fake().await;
    let fb = FacebookAdapter::with_config(clock(), config.clone(), NetworkPolicy::AllowPrivate).unwrap();
    let th = ThreadsAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let got = fb.poll(&channel(Platform::Facebook), &fb_credentials(), Some("c1")).await.unwrap();
    assert_eq!(got, Polled { items: vec![], cursor: Some("c1".into()) });
    let got = th.poll(&channel(Platform::Threads), &threads_credentials(), None).await.unwrap();
    assert_eq!(got, Polled::default());
    assert!(fake.calls().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Instagram

const MEDIA_NEW: &str = "17900000000000002";
const MEDIA_OLD: &str = "17900000000000001";
const MEDIA_QUIET: &str = "17900000000000003";

fn ig_comment(id: &str, from: (&str, &str), text: &str, timestamp: &str, replies: Vec<Value>) -> Value {
    json!({
        "id": id, "text": text, "timestamp": timestamp, "username": from.1,
        "from": {"id": from.0, "username": from.1}, "replies": {"data": replies},
    })
}

fn ig_reply(id: &str, parent: &str, from: (&str, &str), text: &str, timestamp: &str) -> Value {
    json!({"id": id, "text": text, "timestamp": timestamp, "username": from.1, "from": {"id": from.0, "username": from.1}, "parent_id": parent})
}

/// Three media, newest first: one without comments, two with comments from two people, the
/// account's own answer, and a reply to it.
fn seed_instagram(fake: &Fake) {
    fake.with(|s| {
        s.ig_media = vec![
            json!({"id": MEDIA_QUIET, "permalink": "https://www.instagram.com/p/Q/", "timestamp": "2026-11-20T09:00:00+0000", "comments_count": 0}),
            json!({"id": MEDIA_NEW, "permalink": "https://www.instagram.com/p/N/", "timestamp": "2026-11-19T09:00:00+0000", "comments_count": 3}),
            json!({"id": MEDIA_OLD, "permalink": "https://www.instagram.com/p/O/", "timestamp": "2026-11-01T09:00:00+0000", "comments_count": 1}),
        ];
        s.ig_comments.insert(MEDIA_QUIET.into(), vec![]);
        s.ig_comments.insert(MEDIA_NEW.into(), vec![ig_comment(
            "18000000000000011",
            ("232323232", "jules.dupont"),
            "Trop beau ce gâteau 😍",
            "2026-11-20T08:00:00+0000",
            vec![
                ig_reply("18000000000000012", "18000000000000011", (IG_USER, "cafeducoin"), "Merci Jules !", "2026-11-20T08:05:00+0000"),
                ig_reply("18000000000000013", "18000000000000011", ("454545", "ana.b"), "Il est dispo le dimanche ?", "2026-11-20T08:10:00+0000"),
            ],
        )]);
        s.ig_comments.insert(MEDIA_OLD.into(), vec![ig_comment(
            "18000000000000001",
            ("454545", "ana.b"),
            "Vous livrez ?",
            "2026-11-02T10:00:00+0000",
            vec![],
        )]);
    });
}

#[tokio::test]
async fn instagram_poll_reads_recent_media_comments_once_and_matches_the_webhook_ids() {
    let (fake, config) = fake().await;
    seed_instagram(&fake);
    let ig = InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Instagram);

    // First run: one page of the latest media, their comments and replies, oldest first; the
    // account's own reply skipped; the media without comments not read.
    let first = ig.poll(&ch, &ig_credentials(), None).await.unwrap();
    let ids: Vec<&str> = first.items.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(ids, vec!["comment/18000000000000001", "comment/18000000000000011", "comment/18000000000000013"]);
    assert_eq!(
        fake.calls(),
        vec![format!("GET /{IG_USER}/media"), format!("GET /{MEDIA_NEW}/comments"), format!("GET /{MEDIA_OLD}/comments")]
    );
    let media = &fake.seen(Method::GET, &format!("/{IG_USER}/media"))[0];
    assert_eq!(param(media, "limit"), Some("10"));
    assert!(param(media, "fields").unwrap().contains("comments_count"));
    let comments = &fake.seen(Method::GET, &format!("/{MEDIA_NEW}/comments"))[0];
    assert!(param(comments, "fields").unwrap().contains("replies{id,text,timestamp,username,from,parent_id}"));

    let reply = &first.items[2].1;
    assert_eq!(reply.kind, InteractionKind::Reply);
    assert_eq!(reply.parent_id.as_deref(), Some("18000000000000011"));
    assert_eq!(reply.thread_id, MEDIA_NEW);
    assert_eq!((reply.author_id.as_str(), reply.author_name.as_str()), ("454545", "ana.b"));
    assert_eq!(reply.created_at, Utc.with_ymd_and_hms(2026, 11, 20, 8, 10, 0).unwrap());
    assert_eq!(reply.post_url.as_deref(), Some("https://www.instagram.com/p/N/"));

    // The same comments as webhooks: the same dedupe ids and the same fields, except the time
    // (the webhook's value has none: the entry's is used) and the post's link (polling knows it).
    for (key, polled) in &first.items {
        let parent = polled.parent_id.as_deref().filter(|p| *p != polled.thread_id);
        let body = ig_webhook(&polled.external_id, &polled.thread_id, parent, (&polled.author_id, &polled.author_name), &polled.text);
        let hooked = from_webhook(Platform::Instagram, &body);
        assert_eq!(hooked.len(), 1);
        assert_eq!(&hooked[0].0, key);
        let mut hooked = hooked[0].1.clone();
        hooked.created_at = polled.created_at;
        hooked.post_url = polled.post_url.clone();
        assert_eq!(&hooked, polled);
    }
    let cursor = first.cursor.clone().expect("a cursor");

    // Second run: nothing new, nothing returned, and no media read again: their comment
    // counts have not moved (one call instead of three).
    let calls = fake.calls().len();
    let second = ig.poll(&ch, &ig_credentials(), Some(&cursor)).await.unwrap();
    assert!(second.items.is_empty(), "{:?}", second.items);
    assert_eq!(fake.calls()[calls..], [format!("GET /{IG_USER}/media")]);
    let cursor = second.cursor.clone().expect("a cursor");

    // A new comment, one in the same second as the last one seen, and the account's own (the
    // media's count moves from 3 to 6): only that media is read, and only the two new ones come.
    let calls = fake.calls().len();
    fake.with(|s| {
        s.ig_media[1]["comments_count"] = json!(6);
        let c = s.ig_comments.get_mut(MEDIA_NEW).unwrap();
        c.push(ig_comment("18000000000000021", ("565656", "zoe"), "Miam", "2026-11-20T08:10:00+0000", vec![]));
        c.push(ig_comment("18000000000000022", ("676767", "yann"), "Top", "2026-11-20T09:30:00+0000", vec![]));
        c.push(ig_comment("18000000000000023", (IG_USER, "cafeducoin"), "Merci à tous", "2026-11-20T09:40:00+0000", vec![]));
    });
    let third = ig.poll(&ch, &ig_credentials(), Some(&cursor)).await.unwrap();
    let ids: Vec<&str> = third.items.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(ids, vec!["comment/18000000000000021", "comment/18000000000000022"]);
    assert_eq!(fake.calls()[calls..], [format!("GET /{IG_USER}/media"), format!("GET /{MEDIA_NEW}/comments")]);

    // Every tenth poll reads every media with comments, moved or not: a reply that did not move
    // a count (⚠️ whether one can is not documented) waits ten polls at most.
    let mut cursor = third.cursor.clone();
    let mut reads = Vec::new();
    for _ in 0..10 {
        let calls = fake.calls().len();
        let next = ig.poll(&ch, &ig_credentials(), cursor.as_deref()).await.unwrap();
        assert!(next.items.is_empty(), "{:?}", next.items);
        reads.push(fake.calls().len() - calls);
        cursor = next.cursor;
    }
    assert_eq!(reads.iter().filter(|n| **n == 3).count(), 1, "one full read in ten polls: {reads:?}");
    assert_eq!(reads.iter().filter(|n| **n == 1).count(), 9, "{reads:?}");
}

#[tokio::test]
async fn instagram_accounts_with_webhooks_are_not_polled() {
    let (fake, config) = fake().await;
    seed_instagram(&fake);
    let ig = InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let with_hooks = credentials(json!({"ig_user_id": IG_USER, "access_token": TOKEN, "app_secret": "s"}));
    let got = ig.poll(&channel(Platform::Instagram), &with_hooks, Some("2026-11-20T08:00:00+00:00|1")).await.unwrap();
    assert_eq!(got, Polled { items: vec![], cursor: Some("2026-11-20T08:00:00+00:00|1".into()) });
    assert!(fake.calls().is_empty());
}

#[tokio::test]
async fn instagram_comment_is_answered_once_and_a_reply_under_its_comment() {
    let (fake, config) = fake().await;
    seed_instagram(&fake);
    let ig = InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Instagram);
    let it = webhook_interaction(
        Platform::Instagram,
        &ch,
        ig_webhook("18000000000000001", MEDIA_OLD, None, ("454545", "ana.b"), "Vous livrez ?"),
    );
    let published = ig.reply(&ch, &ig_credentials(), &it, "Oui, dans tout Lyon.").await.unwrap();
    let posts = fake.seen(Method::POST, "/18000000000000001/replies");
    assert_eq!(posts.len(), 1);
    assert_eq!(param(&posts[0], "message"), Some("Oui, dans tout Lyon."));
    assert_token_in_body(&posts[0]);
    assert!(published.platform_post_id.starts_with("1800"));

    let again = ig.reply(&ch, &ig_credentials(), &it, "Oui, dans tout Lyon.").await.unwrap();
    assert_eq!(again.platform_post_id, published.platform_post_id);
    assert_eq!(fake.seen(Method::POST, "/18000000000000001/replies").len(), 1, "not posted twice");

    // A reply (to a comment) is answered under that comment: Instagram nests one level.
    let reply = webhook_interaction(
        Platform::Instagram,
        &ch,
        ig_webhook("18000000000000013", MEDIA_NEW, Some("18000000000000011"), ("454545", "ana.b"), "Il est dispo le dimanche ?"),
    );
    assert_eq!(reply.kind, InteractionKind::Reply);
    ig.reply(&ch, &ig_credentials(), &reply, "Oui !").await.unwrap();
    assert_eq!(fake.seen(Method::POST, "/18000000000000011/replies").len(), 1);
    assert!(fake.seen(Method::POST, "/18000000000000013/replies").is_empty());

    // A mention on someone else's media is not answered this way.
    let mention = json!({"object": "instagram", "entry": [{"id": IG_USER, "time": 1_763_632_805, "changes": [{"field": "mentions", "value": {"media_id": "1799", "comment_id": "1798"}}]}]});
    let mention = webhook_interaction(Platform::Instagram, &ch, mention);
    let e = ig.reply(&ch, &ig_credentials(), &mention, "Merci !").await.unwrap_err();
    assert!(matches!(&e, PublishError::Permanent { reason } if reason.contains("mention")), "{e:?}");
}

#[tokio::test]
async fn instagram_expired_token_is_auth_and_throttling_transient_with_the_wait() {
    let (fake, config) = fake().await;
    seed_instagram(&fake);
    let ig = InstagramAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Instagram);
    let expired = credentials(json!({"ig_user_id": IG_USER, "access_token": "EAAG-expired"}));
    let e = ig.poll(&ch, &expired, None).await.unwrap_err();
    let PublishError::Auth { reason } = e else { panic!("{e:?}") };
    assert!(reason.contains("code 190, subcode 463"), "{reason}");
    assert!(!reason.contains("EAAG-expired"), "the token is never in a message: {reason}");

    let it = webhook_interaction(Platform::Instagram, &ch, ig_webhook("18000000000000001", MEDIA_OLD, None, ("454545", "ana.b"), "?"));
    let e = ig.reply(&ch, &expired, &it, "Oui").await.unwrap_err();
    assert!(matches!(e, PublishError::Auth { .. }), "{e:?}");

    let usage = format!(
        r#"{{"{IG_USER}":[{{"type":"instagram","call_count":100,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":4}}]}}"#
    );
    fake.with(|s| {
        s.throttle_next = Some((
            StatusCode::BAD_REQUEST,
            vec![("x-business-use-case-usage", usage)],
            json!({"error": {"message": "(#80002) There have been too many calls to this Instagram account.", "type": "OAuthException", "code": 80002, "fbtrace_id": "T"}}),
        ))
    });
    let e = ig.poll(&ch, &ig_credentials(), Some("2026-11-20T08:00:00+00:00|x")).await.unwrap_err();
    let PublishError::Transient { reason, retry_after } = e else { panic!("{e:?}") };
    assert_eq!(retry_after, Some(Duration::from_secs(4 * 60)));
    assert!(reason.contains("rate limit"), "{reason}");
    // The next poll goes through.
    assert_eq!(ig.poll(&ch, &ig_credentials(), None).await.unwrap().items.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// Threads

fn threads_reply_webhook() -> Value {
    json!({"app_id": "123456", "topic": "moderate", "target_id": THREADS_USER, "time": 1_763_632_805, "subscription_id": "424242", "has_uid_field": false,
        "values": {"field": "replies", "value": {
            "id": "8901234", "username": "lea.m", "text": "C'est ouvert demain ?", "media_type": "TEXT_POST",
            "permalink": "https://www.threads.net/@lea.m/post/Pp", "replied_to": {"id": "567890"},
            "root_post": {"id": "567890", "owner_id": THREADS_USER, "username": "cafeducoin"}, "shortcode": "Pp",
            "timestamp": "2026-11-20T09:59:00+0000",
        }}})
}

#[tokio::test]
async fn threads_reply_is_a_container_answering_the_post_then_threads_publish_once() {
    let (fake, config) = fake().await;
    fake.with(|s| s.threads_posts.push("8901234".into()));
    let th = ThreadsAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Threads);
    let it = webhook_interaction(Platform::Threads, &ch, threads_reply_webhook());

    let published = th.reply(&ch, &threads_credentials(), &it, "Oui, de 8 h à 18 h.").await.unwrap();
    let made = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads"));
    assert_eq!(made.len(), 1);
    assert_eq!(param(&made[0], "media_type"), Some("TEXT"));
    assert_eq!(param(&made[0], "text"), Some("Oui, de 8 h à 18 h."));
    assert_eq!(param(&made[0], "reply_to_id"), Some("8901234"), "the reply answers the post itself");
    assert_token_in_body(&made[0]);
    let container = fake.with(|s| s.containers.keys().next().unwrap().clone());
    let publish = fake.seen(Method::POST, &format!("/{THREADS_USER}/threads_publish"));
    assert_eq!(publish.len(), 1);
    assert_eq!(param(&publish[0], "creation_id"), Some(container.as_str()));
    assert!(published.platform_post_id.starts_with("1810"));
    assert_eq!(
        published.url.as_deref(),
        Some(format!("https://www.threads.net/@cafeducoin/post/R{}", published.platform_post_id).as_str())
    );
    assert_eq!(published.published_at, Some(Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 5).unwrap()));

    // A retry finds the account's reply to that post with that text: no second container.
    let again = th.reply(&ch, &threads_credentials(), &it, "Oui, de 8 h à 18 h.").await.unwrap();
    assert_eq!(again.platform_post_id, published.platform_post_id);
    assert_eq!(fake.seen(Method::POST, &format!("/{THREADS_USER}/threads")).len(), 1);
    let listed = &fake.seen(Method::GET, &format!("/{THREADS_USER}/replies"))[0];
    assert!(param(listed, "fields").unwrap().contains("replied_to"));
}

#[tokio::test]
async fn threads_throttling_is_transient_and_expired_token_auth() {
    let (fake, config) = fake().await;
    fake.with(|s| s.threads_posts.push("8901234".into()));
    let th = ThreadsAdapter::with_config(clock(), config, NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel(Platform::Threads);
    let it = webhook_interaction(Platform::Threads, &ch, threads_reply_webhook());
    fake.with(|s| {
        s.throttle_next = Some((
            StatusCode::TOO_MANY_REQUESTS,
            vec![("retry-after", "120".into())],
            json!({"error": {"message": "Application request limit reached", "type": "OAuthException", "code": 4, "fbtrace_id": "T"}}),
        ))
    });
    let e = th.reply(&ch, &threads_credentials(), &it, "Oui").await.unwrap_err();
    assert_eq!(
        e,
        PublishError::Transient {
            reason: "Threads rate limit reached while reading the account's latest replies: Application request limit reached (code 4, fbtrace_id T)".into(),
            retry_after: Some(Duration::from_secs(120)),
        }
    );
    assert!(fake.seen(Method::POST, &format!("/{THREADS_USER}/threads")).is_empty(), "nothing made");

    let expired = credentials(json!({"threads_user_id": THREADS_USER, "access_token": "old"}));
    assert!(matches!(th.reply(&ch, &expired, &it, "Oui").await, Err(PublishError::Auth { .. })));
}
