//! Facebook, Instagram and Threads end to end through the real `herald serve`, against the fake
//! OAuth and Graph APIs of common/meta_oauth.rs and common/graph.rs (one address for both):
//! connect with OAuth, schedule one post to the three, each published once, a comment on each
//! reaching the inbox (Facebook and Threads by signed webhook, Instagram by polling, as for an
//! account in development mode without webhooks), a reply from the inbox reaching the network,
//! the metric poller reading each post's insights, and the report showing them.
//!
//! Then Instagram's hard cases through serve: a carousel made of children and a parent, a
//! container that stays `IN_PROGRESS` then turns `ERROR`, a spent quota, a revoked token (one
//! `Channel Needs Reconnect` however many posts it fails), and serve killed between
//! `media_publish` and recording it, reconciled on restart rather than published twice.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::Utc;
use herald_core::domain::TeamId;
use herald_core::intake::webhooks::signing;
use herald_core::store::PostStore;
use herald_core::store::sqlite::SqliteStore;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::graph::{Graph, Kind};
use crate::common::meta_oauth::*;
use crate::common::serve::{Client, Serve};

const PUBLIC: &str = "https://herald.example";
const FB_APP_SECRET: &str = "page-webhook-secret";
const TH_APP_SECRET: &str = "threads-webhook-secret";

struct Rig {
    graph: Graph,
    oauth: FakeMetaOAuth,
    dir: tempfile::TempDir,
    serve: Option<Serve>,
    api: Client,
    /// Follows no redirect.
    http: reqwest::Client,
}

fn env<'a>(oauth: &FakeMetaOAuth, key: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
    let mut env: Vec<(&str, String)> = vec![
        ("HERALD_ALLOW_PRIVATE_NETWORK", "1".into()),
        ("HERALD_CREDENTIALS_KEY", key.to_owned()),
        ("HERALD_PUBLIC_URL", PUBLIC.into()),
        ("HERALD_FACEBOOK_CLIENT_ID", META_APP_ID.into()),
        ("HERALD_FACEBOOK_CLIENT_SECRET", META_APP_SECRET.into()),
        ("HERALD_THREADS_CLIENT_ID", THREADS_APP_ID.into()),
        ("HERALD_THREADS_CLIENT_SECRET", THREADS_APP_SECRET.into()),
        ("HERALD_META_OAUTH_URL", format!("{}/v22.0", oauth.url)),
        ("HERALD_META_GRAPH_URL", format!("{}/v22.0", oauth.url)),
        ("HERALD_THREADS_OAUTH_URL", oauth.url.clone()),
        ("HERALD_THREADS_GRAPH_URL", format!("{}/v1.0", oauth.url)),
        ("HERALD_REPORTS_SECS", "3600".into()),
    ];
    for (k, v) in extra {
        env.retain(|(name, _)| name != k);
        env.push((k, (*v).to_owned()));
    }
    env
}

fn credentials_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([9u8; 32])
}

impl Rig {
    async fn new(extra: &[(&str, &str)]) -> Rig {
        let redirects: Vec<String> = ["facebook", "instagram", "threads"].iter().map(|p| format!("{PUBLIC}/oauth/{p}/callback")).collect();
        let graph = Graph::default();
        let oauth = FakeMetaOAuth::start_with_graph(&redirects, &graph).await;
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key = credentials_key();
        let vars = env(&oauth, &key, extra);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let serve = Serve::start_with(dir.path(), &vars);
        let api = Client::new(&serve);
        let http = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
        Rig { graph, oauth, dir, serve: Some(serve), api, http }
    }

    fn serve(&self) -> &Serve {
        self.serve.as_ref().expect("serve is running")
    }

    /// Stops serve the hard way and starts it again on the same data with `extra` settings.
    fn restart(&mut self, extra: &[(&str, &str)]) {
        drop(self.serve.take());
        let key = credentials_key();
        let vars = env(&self.oauth, &key, extra);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let serve = Serve::start_with(self.dir.path(), &vars);
        self.api.base = serve.url.clone();
        self.serve = Some(serve);
    }

    /// Connects `platform` with OAuth and makes channels of every account found: name → id.
    async fn connect(&self, platform: &str, accounts: &[&str]) -> HashMap<String, String> {
        let (status, started) = self.api.call(Method::POST, &format!("/v1/channels/connect/{platform}"), None).await;
        assert_eq!(status, 200, "{started}");
        let consent = self.http.get(started["authorize_url"].as_str().expect("authorize_url")).send().await.expect("the fake answers");
        assert_eq!(consent.status().as_u16(), 302);
        let location = consent.headers()[reqwest::header::LOCATION].to_str().expect("a location").to_owned();
        let back = format!("{}{}", self.serve().url, location.strip_prefix(PUBLIC).expect("sent back to Herald"));
        let resp = self.http.get(&back).header("accept", "application/json").send().await.expect("serve answers");
        assert_eq!(resp.status().as_u16(), 200);
        let connection: Value = resp.json().await.expect("JSON");
        let picked: Vec<Value> = accounts.iter().map(|a| json!(a)).collect();
        let id = connection["id"].as_str().expect("a connection id");
        let (status, finished) =
            self.api.call(Method::POST, &format!("/v1/connections/{id}/finish"), Some(json!({"accounts": picked, "time_zone": "Europe/Paris"}))).await;
        assert_eq!(status, 201, "{finished}");
        finished["items"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| (c["platform"].as_str().unwrap_or_default().to_owned(), c["id"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Pastes the channel's credentials with the webhook fields added (the app's secret signs
    /// Meta's webhooks; connecting does not set them).
    async fn add_webhook_secret(&self, channel: &str, credentials: Value) {
        let (status, body) = self.api.call(Method::PATCH, &format!("/v1/channels/{channel}"), Some(json!({ "credentials": credentials }))).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn webhook(&self, platform: &str, channel: &str, secret: &str, body: &Value) {
        let bytes = body.to_string().into_bytes();
        let resp = self
            .http
            .post(format!("{}/webhooks/{platform}/{channel}", self.serve().url))
            .header("content-type", "application/json")
            .header("X-Hub-Signature-256", signing::meta(secret, &bytes))
            .body(bytes)
            .send()
            .await
            .expect("serve answers");
        assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await.unwrap_or_default());
    }

    /// The post's deliveries once none is waiting any more (`limit` at most).
    async fn settled(&self, post: &str, limit: Duration) -> Vec<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let (_, p) = self.api.call(Method::GET, &format!("/v1/posts/{post}"), None).await;
            let deliveries = p["deliveries"].as_array().cloned().unwrap_or_default();
            let done = !deliveries.is_empty()
                && deliveries.iter().all(|d| matches!(d["state"].as_str(), Some("published" | "failed")) || d["last_error"].is_string());
            if done || Instant::now() > deadline {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn schedule(&self, text: &str, channels: &[&str], media: &[&str]) -> String {
        self.schedule_with(json!({"text": text}), channels, media).await
    }

    /// A post of `fields` (its text and any option) to `channels` in two seconds.
    async fn schedule_with(&self, mut fields: Value, channels: &[&str], media: &[&str]) -> String {
        let at = (Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
        let media: Vec<Value> = media.iter().map(|m| json!({"url": m, "alt": format!("alt of {m}")})).collect();
        fields["channel_ids"] = json!(channels);
        fields["publish_at"] = json!(at);
        fields["media"] = json!(media);
        let (status, post) = self.api.call(Method::POST, "/v1/posts", Some(fields)).await;
        assert_eq!(status, 201, "{post}");
        post["id"].as_str().expect("id").to_owned()
    }

    async fn inbox_item(&self, platform: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let (_, inbox) = self.api.call(Method::GET, "/v1/inbox", None).await;
            if let Some(item) = inbox["items"].as_array().into_iter().flatten().find(|i| i["platform"] == platform) {
                return item.clone();
            }
            assert!(Instant::now() < deadline, "no {platform} item in the inbox: {inbox}\nserve printed:\n{}", self.serve().transcript.text());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn events(&self, kind: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("events.jsonl")).unwrap_or_default().lines().filter(|l| l.contains(kind)).count()
    }
}

fn by_platform<'a>(deliveries: &'a [Value], platform: &str) -> &'a Value {
    deliveries.iter().find(|d| d["platform"] == platform).unwrap_or_else(|| panic!("a {platform} delivery: {deliveries:?}"))
}

/// Moves the post's deliveries' publication back `by` in the store (serve stopped), so the
/// metric poller's +1 h checkpoint is due now.
async fn published_earlier(dir: &Path, team: &TeamId, post: &str, by: chrono::Duration) {
    let store = SqliteStore::open(dir.join("herald.db")).expect("the store opens");
    let post = herald_core::domain::PostId::parse("id", post).expect("a post id");
    for mut d in store.deliveries_of_post(team, post).await.expect("deliveries") {
        d.publish_at -= by;
        d.published_at = d.published_at.map(|t| t - by);
        store.update_delivery(&d).await.expect("stored");
    }
}

#[tokio::test]
async fn a_cafe_connects_its_meta_accounts_publishes_answers_and_gets_its_figures() {
    let mut rig = Rig::new(&[("HERALD_POLL_SECS", "1"), ("HERALD_METRICS_SECS", "3600")]).await;
    let meta = rig.connect("facebook", &[&format!("facebook:{PAGE_ID}"), &format!("instagram:{IG_USER_ID}")]).await;
    let threads = rig.connect("threads", &[&format!("threads:{THREADS_USER_ID}")]).await;
    let (fb, ig, th) = (meta["facebook"].clone(), meta["instagram"].clone(), threads["threads"].clone());
    let th_token = rig.oauth.tokens().into_iter().find(|t| t.starts_with("th-long")).expect("a Threads token");
    rig.add_webhook_secret(&fb, json!({"page_id": PAGE_ID, "page_access_token": format!("page-tok-{PAGE_ID}"), "app_secret": FB_APP_SECRET, "verify_token": "v"})).await;
    rig.add_webhook_secret(&th, json!({"threads_user_id": THREADS_USER_ID, "access_token": th_token, "app_secret": TH_APP_SECRET, "verify_token": "v"})).await;

    // One post to the three, with a picture each network fetches from its address, a first
    // comment (a reply on Threads) and who may reply on Threads.
    let text = "Terrasse ouverte ce midi ☀️";
    let first = "Réservations au 01 23 45 67 89 #terrasse";
    let fields = json!({"text": text, "first_comment": first, "reply_control": "followers_only"});
    let post = rig.schedule_with(fields, &[&fb, &ig, &th], &["https://cdn.example/terrasse.jpg"]).await;
    let deliveries = rig.settled(&post, Duration::from_secs(30)).await;
    for d in &deliveries {
        assert_eq!(d["state"], "published", "{d}\nserve printed:\n{}", rig.serve().transcript.text());
    }
    let page_posts = rig.graph.published(Kind::PagePost, PAGE_ID);
    let media = rig.graph.published(Kind::IgMedia, IG_USER_ID);
    let thread_posts = rig.graph.published(Kind::Thread, THREADS_USER_ID);
    assert_eq!((page_posts.len(), media.len(), thread_posts.len()), (1, 1, 1), "each published once");
    assert_eq!(by_platform(&deliveries, "facebook")["platform_post_id"], json!(page_posts[0].0));
    assert_eq!(by_platform(&deliveries, "instagram")["platform_post_id"], json!(media[0].0));
    assert_eq!(by_platform(&deliveries, "threads")["platform_post_id"], json!(thread_posts[0].0));
    assert_eq!(media[0].1["caption"], text);
    let made = rig.graph.seen().into_iter().find(|s| s.method == Method::POST && s.path == format!("/{IG_USER_ID}/media")).expect("a container");
    assert_eq!(made.param("image_url"), Some("https://cdn.example/terrasse.jpg"));
    // The first comment under each, once, by the account; Threads' as a reply, and its post
    // made with the reply control.
    assert_eq!(rig.graph.replies_to(&page_posts[0].0, PAGE_ID), [first]);
    assert_eq!(rig.graph.replies_to(&media[0].0, IG_USER_ID), [first]);
    assert_eq!(rig.graph.replies_to(&thread_posts[0].0, THREADS_USER_ID), [first]);
    let containers: Vec<_> = rig.graph.seen().into_iter().filter(|s| s.method == Method::POST && s.path == format!("/{THREADS_USER_ID}/threads")).collect();
    assert_eq!(containers[0].param("reply_control"), Some("followers_only"));
    assert_eq!((containers[1].param("reply_to_id"), containers[1].param("text")), (Some(thread_posts[0].0.as_str()), Some(first)));

    // Comments: Facebook and Threads by their webhooks, Instagram by the inbox poller.
    let fb_post = page_posts[0].0.clone();
    let fb_comment = format!("{}_991", fb_post.split('_').nth(1).unwrap_or("1"));
    let now = Utc::now().timestamp();
    rig.webhook("facebook", &fb, FB_APP_SECRET, &json!({"object": "page", "entry": [{"id": PAGE_ID, "time": now, "changes": [{"field": "feed", "value": {
        "from": {"id": "4321", "name": "Inès Moreau"}, "message": "Vous faites des brunchs ?", "post_id": fb_post, "comment_id": fb_comment,
        "created_time": now, "item": "comment", "parent_id": fb_post, "verb": "add"}}]}]})).await;
    let th_post = thread_posts[0].0.clone();
    rig.webhook("threads", &th, TH_APP_SECRET, &json!({"app_id": "1", "topic": "moderate", "target_id": THREADS_USER_ID, "time": now, "subscription_id": "2",
        "has_uid_field": false, "values": {"field": "replies", "value": {"id": "th-reply-1", "username": "ines", "text": "Il reste de la place ?",
        "media_type": "TEXT_POST", "permalink": "https://www.threads.net/@ines/post/x", "replied_to": {"id": th_post},
        "root_post": {"id": th_post, "owner_id": THREADS_USER_ID, "username": THREADS_USERNAME}, "shortcode": "x", "timestamp": Utc::now().format("%Y-%m-%dT%H:%M:%S%z").to_string()}}})).await;
    let ig_comment = rig.graph.visitor_comments_on_media(&media[0].0, "lea", "Trop beau !");

    for (platform, parent, owner, answer) in [
        ("facebook", fb_comment.as_str(), PAGE_ID, "Oui, le dimanche de 10 h à 14 h."),
        ("instagram", ig_comment.as_str(), IG_USER_ID, "Merci Léa !"),
        ("threads", "th-reply-1", THREADS_USER_ID, "Oui, venez !"),
    ] {
        let item = rig.inbox_item(platform, Duration::from_secs(20)).await;
        assert_eq!(item["external_id"], parent, "{item}");
        let (status, replied) = rig.api.call(Method::POST, &format!("/v1/inbox/{}/reply", item["id"].as_str().unwrap_or_default()), Some(json!({"text": answer}))).await;
        assert_eq!(status, 201, "{platform}: {replied}");
        assert_eq!(rig.graph.replies_to(parent, owner), [answer], "{platform}: the reply reached the network once, under the comment");
    }

    // Figures: each network's counters for its post, read at the +1 h checkpoint.
    rig.graph.set_counters(&fb_post, &[("reactions", 12), ("comments", 3), ("shares", 2)]);
    rig.graph.set_counters(&media[0].0, &[("likes", 40), ("comments", 5), ("shares", 4), ("saved", 6), ("views", 900), ("reach", 700)]);
    rig.graph.set_counters(&th_post, &[("likes", 9), ("replies", 1), ("reposts", 2), ("quotes", 1), ("views", 300)]);
    rig.graph.set_followers(PAGE_ID, 1200);
    rig.graph.set_followers(IG_USER_ID, 3400);
    rig.graph.set_followers(THREADS_USER_ID, 560);
    let (_, me) = rig.api.call(Method::GET, "/v1/me", None).await;
    let team = TeamId::parse("team_id", me["team_id"].as_str().expect("team_id")).expect("a team id");
    drop(rig.serve.take());
    published_earlier(rig.dir.path(), &team, &post, chrono::Duration::minutes(65)).await;
    rig.restart(&[("HERALD_POLL_SECS", "3600"), ("HERALD_METRICS_SECS", "1")]);
    let today = Utc::now().date_naive();
    let deadline = Instant::now() + Duration::from_secs(30);
    let csv = loop {
        let (status, report) = rig
            .api
            .call(Method::POST, "/v1/reports", Some(json!({"from": (today - chrono::Duration::days(1)).to_string(), "to": today.to_string()})))
            .await;
        assert_eq!(status, 201, "{report}");
        let id = report["id"].as_str().expect("a report id").to_owned();
        let csv = rig.http.get(format!("{}/v1/reports/{id}/report.csv", rig.serve().url)).bearer_auth(&rig.api.key).send().await.expect("csv");
        let csv = csv.text().await.unwrap_or_default();
        if csv.contains(",900,700,") && csv.contains(",300,") && csv.lines().any(|l| l.contains(",facebook,") && l.contains(",12,2,3,")) {
            break csv;
        }
        assert!(Instant::now() < deadline, "the report has not every network's figures:\n{csv}\nserve printed:\n{}", rig.serve().transcript.text());
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let row = |platform: &str| csv.lines().find(|l| l.contains(&format!(",{platform},"))).unwrap_or_default().to_owned();
    // likes, reposts, replies, quotes, bookmarks, impressions, reach
    assert!(row("facebook").contains(",12,2,3,,,,,"), "Facebook: reactions, shares, comments; no impressions read: {}", row("facebook"));
    assert!(row("instagram").contains(",40,4,5,,6,900,700,"), "Instagram: {}", row("instagram"));
    assert!(row("threads").contains(",9,2,1,1,,300,,"), "Threads: {}", row("threads"));
    assert_eq!(rig.events("Channel Needs Reconnect"), 0);
}

#[tokio::test]
async fn instagram_carousels_failures_quota_reconnect_and_a_crash_through_serve() {
    let lease = [("HERALD_POLL_SECS", "3600"), ("HERALD_METRICS_SECS", "3600"), ("HERALD_PUBLISH_LEASE_SECS", "10")];
    let mut rig = Rig::new(&lease).await;
    let ig = rig.connect("facebook", &[&format!("instagram:{IG_USER_ID}")]).await["instagram"].clone();
    let media_publish = format!("/{IG_USER_ID}/media_publish");

    // A carousel: one container per picture, a parent naming them, one media_publish.
    let pictures = ["https://cdn.example/a.jpg", "https://cdn.example/b.jpg", "https://cdn.example/c.jpg"];
    let post = rig.schedule("Trois vues de la terrasse", &[&ig], &pictures).await;
    let d = rig.settled(&post, Duration::from_secs(30)).await;
    assert_eq!(d[0]["state"], "published", "{d:?}\nserve printed:\n{}", rig.serve().transcript.text());
    let made: Vec<_> = rig.graph.seen().into_iter().filter(|s| s.method == Method::POST && s.path == format!("/{IG_USER_ID}/media")).collect();
    assert_eq!(made.len(), 4, "three children and a parent");
    for (child, url) in made.iter().zip(pictures) {
        assert_eq!((child.param("image_url"), child.param("is_carousel_item")), (Some(url), Some("true")));
    }
    assert_eq!(made[3].param("media_type"), Some("CAROUSEL"));
    assert_eq!(made[3].param("caption"), Some("Trois vues de la terrasse"));
    let published = rig.graph.published(Kind::IgMedia, IG_USER_ID);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1["children"]["data"].as_array().map(Vec::len), Some(3));
    assert_eq!(rig.graph.count(Method::POST, &media_publish), 1);

    // Serve dies after media_publish made the post and before it heard back: after the restart
    // and the claim's lease, the post is found (same caption, time window, one picture), not made again.
    rig.graph.hold_publish(Some(Duration::from_secs(60)));
    let post = rig.schedule("Ne me doublez pas", &[&ig], &["https://cdn.example/d.jpg"]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while rig.graph.published(Kind::IgMedia, IG_USER_ID).len() < 2 {
        assert!(Instant::now() < deadline, "media_publish never reached the fake");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rig.graph.hold_publish(None);
    rig.restart(&lease);
    let d = rig.settled(&post, Duration::from_secs(40)).await;
    assert_eq!(d[0]["state"], "published", "{d:?}\nserve printed:\n{}", rig.serve().transcript.text());
    let published = rig.graph.published(Kind::IgMedia, IG_USER_ID);
    assert_eq!(published.len(), 2, "reconciled, not published twice");
    assert_eq!(d[0]["platform_post_id"], json!(published[1].0));
    assert_eq!(rig.graph.count(Method::POST, &media_publish), 2, "one media_publish per post");

    // A container that stays IN_PROGRESS, then turns ERROR: failed for good, with Meta's reason.
    rig.graph.script_containers(&["IN_PROGRESS", "ERROR"]);
    let post = rig.schedule("Une photo introuvable", &[&ig], &["https://cdn.example/gone.jpg"]).await;
    let d = rig.settled(&post, Duration::from_secs(30)).await;
    assert_eq!(d[0]["state"], "failed", "{d:?}");
    let reason = d[0]["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains("ERROR") && reason.contains("could not be fetched"), "{reason}");
    rig.graph.script_containers(&[]);

    // The quota is spent: nothing is made, and the delivery waits for the window to move.
    rig.graph.spend_quota();
    let post = rig.schedule("Trop de posts aujourd'hui", &[&ig], &["https://cdn.example/e.jpg"]).await;
    let d = rig.settled(&post, Duration::from_secs(30)).await;
    assert_eq!(d[0]["state"], "scheduled", "{d:?}");
    assert!(d[0]["last_error"].as_str().unwrap_or_default().contains("publishing quota is spent: 50 of 50"), "{d:?}");
    assert_eq!(rig.graph.count(Method::POST, &media_publish), 2, "nothing published in ERROR or over quota");

    // The token is revoked (code 190): both posts fail, the channel is marked, and Channel Needs
    // Reconnect is raised once.
    rig.graph.revoke(&format!("page-tok-{PAGE_ID}"));
    for text in ["Premier refus", "Second refus"] {
        let post = rig.schedule(text, &[&ig], &["https://cdn.example/f.jpg"]).await;
        let d = rig.settled(&post, Duration::from_secs(30)).await;
        assert_eq!(d[0]["state"], "failed", "{d:?}");
        assert!(d[0]["last_error"].as_str().unwrap_or_default().contains("Error validating access token"), "{d:?}");
    }
    let (_, channel) = rig.api.call(Method::GET, &format!("/v1/channels/{ig}"), None).await;
    assert!(channel["needs_reconnect"]["reason"].as_str().unwrap_or_default().contains("Error validating access token"), "{channel}");
    assert_eq!(rig.events("Channel Needs Reconnect"), 1, "raised once for two refusals");
}
