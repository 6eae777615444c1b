//! Meta's Graph API (Facebook Pages, Instagram) and the Threads API on 127.0.0.1, for the
//! system tests that publish, measure and answer through `herald serve` and the Lambda
//! functions. It follows the documented shapes (platforms.md §4–5, platforms-more.md §8):
//! `{"id"}` answers, containers polled by `status_code` (Instagram) or `status` (Threads),
//! `content_publishing_limit`, insights as `{"data":[{"name","period","values":[{"value"}]}]}`
//! (account metrics with `total_value`), `{"data":[...]}` listings newest first, the token as
//! the `access_token` parameter (query or form), and Graph error bodies
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`.
//!
//! Mounted beside the OAuth fake (common/meta_oauth.rs, [`FakeMetaOAuth::start_with_graph`]) it
//! takes the tokens that fake hands out: `page-tok-<page>` for a Page and the Instagram account
//! linked to it, `th-long-…` for the Threads profile. Under `/v22.0` it is Graph, under `/v1.0`
//! Threads, as the adapters' `HERALD_META_GRAPH_URL` and `HERALD_THREADS_GRAPH_URL` say.
//!
//! What a test can script: the statuses new containers go through, the Instagram quota, a
//! revoked token (code 190), publishing that answers only after a hold (the window in which a
//! crash leaves a post made but not recorded), a visitor's comment on a media, each object's
//! counters and each account's followers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::meta_oauth::{IG_USER_ID, IG_USERNAME, OTHER_PAGE_ID, PAGE_ID, PAGE_NAME, THREADS_USER_ID, THREADS_USERNAME};

/// One request: method, path without the version, and its query and form together.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub params: HashMap<String, String>,
}

impl Seen {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// What kind of published object an id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    PagePost,
    IgMedia,
    Thread,
    /// A comment or reply on Facebook or Instagram.
    Comment,
}

#[derive(Debug, Clone)]
struct Object {
    kind: Kind,
    /// The account it was made by or on (a Page, an Instagram account, a Threads profile).
    owner: String,
    /// What it answers to (a comment's post or parent comment, a Threads reply's post).
    parent: Option<String>,
    /// Its Graph fields (`message`/`caption`/`text`, `from`, `permalink`…).
    fields: Map<String, Value>,
}

#[derive(Debug, Clone)]
struct Container {
    owner: String,
    params: HashMap<String, String>,
    /// Statuses the next status reads answer, then the last one forever.
    script: Vec<&'static str>,
    published: Option<String>,
}

#[derive(Default)]
struct World {
    seen: Vec<Seen>,
    next: u64,
    /// Published objects by id, and their ids oldest first.
    objects: HashMap<String, Object>,
    order: Vec<String>,
    containers: HashMap<String, Container>,
    /// Statuses new containers go through; empty: `FINISHED` at once.
    container_script: Vec<&'static str>,
    quota_usage: u64,
    /// Tokens refused with code 190 (by prefix).
    revoked: Vec<String>,
    /// `media_publish` / `threads_publish` make the post, then answer only after this.
    publish_hold: Option<Duration>,
    /// Insights and counts by object id, by metric name.
    counters: HashMap<String, HashMap<String, u64>>,
    followers: HashMap<String, u64>,
}

/// The Instagram quota (platforms-more.md §8.1 ✅: 50 per rolling 24 h).
pub const QUOTA_TOTAL: u64 = 50;

#[derive(Clone, Default)]
pub struct Graph(Arc<Mutex<World>>);

fn now() -> String {
    Utc::now().format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

fn ok(body: Value) -> Response {
    reply(StatusCode::OK, body)
}

fn graph_error(code: u32, subcode: Option<u32>, message: &str) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "FakeTrace1"});
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    reply(StatusCode::BAD_REQUEST, json!({ "error": error }))
}

/// `a=1&b=2` (a query or a form body) as pairs.
fn pairs(s: &str) -> Vec<(String, String)> {
    let mut url = reqwest::Url::parse("http://fake/").expect("a constant URL");
    url.set_query(Some(s));
    url.query_pairs().into_owned().collect()
}

impl Graph {
    /// A Graph fake of its own on 127.0.0.1 (the base without a version).
    pub async fn start() -> (Graph, String) {
        let graph = Graph::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let app = graph.router();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (graph, url)
    }

    /// Its routes, to serve alone or behind another fake's.
    pub fn router(&self) -> Router {
        Router::new().fallback(handle).with_state(self.clone())
    }

    fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.with(|w| w.seen.clone())
    }

    /// Requests of `method` whose path is `path` (without the version).
    pub fn count(&self, method: Method, path: &str) -> usize {
        self.with(|w| w.seen.iter().filter(|s| s.method == method && s.path == path).count())
    }

    /// The published objects of `kind` by `owner`, oldest first: (id, fields).
    pub fn published(&self, kind: Kind, owner: &str) -> Vec<(String, Map<String, Value>)> {
        self.with(|w| {
            w.order
                .iter()
                .filter_map(|id| w.objects.get(id).map(|o| (id, o)))
                .filter(|(_, o)| o.kind == kind && o.owner == owner && (kind != Kind::Thread || o.parent.is_none()))
                .map(|(id, o)| (id.clone(), o.fields.clone()))
                .collect()
        })
    }

    /// Replies made by `owner` under `parent` (a comment, or a Threads post): their texts.
    pub fn replies_to(&self, parent: &str, owner: &str) -> Vec<String> {
        self.with(|w| {
            w.order
                .iter()
                .filter_map(|id| w.objects.get(id))
                .filter(|o| o.parent.as_deref() == Some(parent) && o.owner == owner)
                .filter_map(|o| ["message", "text"].iter().find_map(|k| o.fields.get(*k)).and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
    }

    pub fn script_containers(&self, statuses: &[&'static str]) {
        self.with(|w| w.container_script = statuses.to_vec());
    }

    pub fn spend_quota(&self) {
        self.with(|w| w.quota_usage = QUOTA_TOTAL);
    }

    /// Tokens starting with `prefix` are refused from now on (code 190).
    pub fn revoke(&self, prefix: &str) {
        self.with(|w| w.revoked.push(prefix.to_owned()));
    }

    pub fn hold_publish(&self, hold: Option<Duration>) {
        self.with(|w| w.publish_hold = hold);
    }

    /// `id`'s counters (insights names, or `reactions`/`comments`/`shares` for a Page post).
    pub fn set_counters(&self, id: &str, counters: &[(&str, u64)]) {
        self.with(|w| w.counters.insert(id.to_owned(), counters.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()));
    }

    pub fn set_followers(&self, account: &str, n: u64) {
        self.with(|w| w.followers.insert(account.to_owned(), n));
    }

    /// A visitor's comment on Instagram media `media`: its id.
    pub fn visitor_comments_on_media(&self, media: &str, username: &str, text: &str) -> String {
        self.with(|w| {
            let id = new_id(w, "1790");
            let fields = json!({"id": id, "text": text, "timestamp": now(), "username": username, "from": {"id": format!("visitor-{username}"), "username": username}});
            insert(w, &id, Object { kind: Kind::Comment, owner: format!("visitor-{username}"), parent: Some(media.to_owned()), fields: as_map(fields) });
            id
        })
    }
}

fn new_id(w: &mut World, prefix: &str) -> String {
    w.next += 1;
    format!("{prefix}{:06}", w.next)
}

fn as_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn insert(w: &mut World, id: &str, object: Object) {
    w.objects.insert(id.to_owned(), object);
    w.order.push(id.to_owned());
}

/// The accounts a token may act for; `None`: not a token this fake knows (code 190).
fn accounts_of(w: &World, token: &str) -> Option<Vec<String>> {
    if w.revoked.iter().any(|p| token.starts_with(p.as_str())) {
        return None;
    }
    if token == format!("page-tok-{PAGE_ID}") {
        return Some(vec![PAGE_ID.into(), IG_USER_ID.into()]);
    }
    if token == format!("page-tok-{OTHER_PAGE_ID}") {
        return Some(vec![OTHER_PAGE_ID.into()]);
    }
    if token.starts_with("th-long") {
        return Some(vec![THREADS_USER_ID.into()]);
    }
    None
}

fn account_json(w: &World, id: &str) -> Option<Value> {
    let followers = w.followers.get(id).copied();
    Some(match id {
        PAGE_ID => json!({"id": id, "name": PAGE_NAME, "followers_count": followers, "fan_count": followers}),
        OTHER_PAGE_ID => json!({"id": id, "name": "Boulangerie"}),
        IG_USER_ID => json!({"id": id, "username": IG_USERNAME, "followers_count": followers}),
        THREADS_USER_ID => json!({"id": id, "username": THREADS_USERNAME}),
        _ => return None,
    })
}

/// The owner of `id`, an account, a container or an object.
fn owner_of(w: &World, id: &str) -> Option<String> {
    if account_json(w, id).is_some() {
        return Some(id.to_owned());
    }
    w.containers.get(id).map(|c| c.owner.clone()).or_else(|| w.objects.get(id).map(|o| o.owner.clone()))
}

fn limit(params: &HashMap<String, String>) -> usize {
    params.get("limit").and_then(|l| l.parse().ok()).unwrap_or(25)
}

async fn handle(State(graph): State<Graph>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let full = parts.uri.path().to_owned();
    let Some(path) = full.strip_prefix("/v22.0").or_else(|| full.strip_prefix("/v1.0")).map(str::to_owned) else {
        return graph_error(2500, None, "Unknown path components");
    };
    let mut params: HashMap<String, String> = pairs(parts.uri.query().unwrap_or("")).into_iter().collect();
    if parts.method == Method::POST {
        params.extend(pairs(&String::from_utf8_lossy(&body)));
    }
    let segments: Vec<String> = path.trim_start_matches('/').split('/').map(str::to_owned).collect();
    let hold = graph.with(|w| {
        w.seen.push(Seen { method: parts.method.clone(), path: path.clone(), params: params.clone() });
        w.publish_hold
    });
    let publishing = parts.method == Method::POST && segments.last().is_some_and(|s| s == "media_publish" || s == "threads_publish");
    let answer = graph.with(|w| answer(w, &parts.method, &segments, &params));
    if publishing && answer.status().is_success() && let Some(hold) = hold {
        tokio::time::sleep(hold).await;
    }
    answer
}

fn answer(w: &mut World, method: &Method, segments: &[String], p: &HashMap<String, String>) -> Response {
    let token = p.get("access_token").cloned().unwrap_or_default();
    let Some(mine) = accounts_of(w, &token) else {
        return graph_error(190, Some(463), "Error validating access token: Session has expired.");
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    if segs == ["refresh_access_token"] {
        return ok(json!({"access_token": format!("{token}-renewed"), "token_type": "bearer", "expires_in": 5183944}));
    }
    let Some(first) = segs.first().copied() else { return graph_error(2500, None, "Unknown path components") };
    match owner_of(w, first) {
        Some(owner) if mine.contains(&owner) || w.objects.get(first).is_some_and(|o| o.kind == Kind::Comment) => {}
        Some(_) => return graph_error(200, None, "(#200) Permissions error"),
        // A comment that came by webhook: Meta knows it; this fake takes it as the account's.
        None if matches!(segs.as_slice(), [_, "comments" | "replies"]) => {}
        None => {
            return graph_error(100, Some(33), &format!("Unsupported get request. Object with ID '{first}' does not exist"));
        }
    }
    let get = |k: &str| p.get(k).cloned();
    match (method.clone(), segs.as_slice()) {
        (Method::GET, [id]) => read(w, id),
        (Method::GET, [acct, "content_publishing_limit"]) => {
            let _ = acct;
            ok(json!({"data": [{"quota_usage": w.quota_usage, "config": {"quota_total": QUOTA_TOTAL, "quota_duration": 86400}}]}))
        }
        (Method::GET, [acct, "published_posts"]) => listing(w, acct, Kind::PagePost, p),
        (Method::GET, [acct, "media"]) => listing(w, acct, Kind::IgMedia, p),
        (Method::GET, [acct, "threads"]) => listing(w, acct, Kind::Thread, p),
        (Method::GET, [acct, "replies"]) => {
            // Threads: the account's own replies, newest first.
            let data: Vec<Value> = w
                .order
                .iter()
                .rev()
                .filter_map(|id| w.objects.get(id))
                .filter(|o| o.kind == Kind::Thread && o.owner == *acct && o.parent.is_some())
                .take(limit(p))
                .map(|o| Value::Object(o.fields.clone()))
                .collect();
            ok(json!({ "data": data }))
        }
        (Method::GET, [id, "comments"]) => {
            let data: Vec<Value> = w
                .order
                .iter()
                .rev()
                .filter_map(|cid| w.objects.get(cid))
                .filter(|o| o.kind == Kind::Comment && o.parent.as_deref() == Some(*id))
                .take(limit(p))
                .map(|o| Value::Object(o.fields.clone()))
                .collect();
            ok(json!({ "data": data }))
        }
        (Method::GET, [id, "insights"]) => {
            let asked = get("metric").unwrap_or_default();
            let counters = w.counters.get(*id).cloned().unwrap_or_default();
            let data: Vec<Value> = asked
                .split(',')
                .filter_map(|m| counters.get(m).map(|v| (m, v)))
                .map(|(m, v)| json!({"name": m, "period": "lifetime", "values": [{"value": v}], "title": m, "id": format!("{id}/insights/{m}/lifetime")}))
                .collect();
            ok(json!({ "data": data }))
        }
        (Method::GET, [acct, "threads_insights"]) => {
            let data: Vec<Value> = w
                .followers
                .get(*acct)
                .map(|n| json!({"name": "followers_count", "period": "day", "total_value": {"value": n}, "title": "followers_count", "id": format!("{acct}/insights/followers_count/day")}))
                .into_iter()
                .collect();
            ok(json!({ "data": data }))
        }
        (Method::POST, [page, "feed"]) => {
            let id = format!("{page}_{}", new_id(w, "88"));
            let fields = json!({"id": id, "message": get("message"), "created_time": now(), "permalink_url": format!("https://www.facebook.com/{id}")});
            insert(w, &id, Object { kind: Kind::PagePost, owner: (*page).to_owned(), parent: None, fields: as_map(fields) });
            ok(json!({ "id": id }))
        }
        (Method::POST, [page, "photos"]) => {
            if get("url").is_none() {
                return graph_error(100, None, "(#100) url is required");
            }
            let photo = new_id(w, "55");
            if get("published").as_deref() == Some("false") {
                return ok(json!({ "id": photo }));
            }
            let post = format!("{page}_{}", new_id(w, "88"));
            let fields = json!({"id": post, "message": get("caption").or(get("message")), "created_time": now(), "permalink_url": format!("https://www.facebook.com/{post}"),
                "attachments": {"data": [{"media_type": "photo"}]}});
            insert(w, &post, Object { kind: Kind::PagePost, owner: (*page).to_owned(), parent: None, fields: as_map(fields) });
            ok(json!({ "id": photo, "post_id": post }))
        }
        (Method::POST, [acct, "media" | "threads"]) => {
            let id = new_id(w, "c");
            let script = w.container_script.clone();
            w.containers.insert(id.clone(), Container { owner: (*acct).to_owned(), params: p.clone(), script, published: None });
            ok(json!({ "id": id }))
        }
        (Method::POST, [acct, publish @ ("media_publish" | "threads_publish")]) => {
            let Some(creation) = get("creation_id") else { return graph_error(100, None, "(#100) creation_id is required") };
            if *publish == "media_publish" && w.quota_usage >= QUOTA_TOTAL {
                return graph_error(9, Some(2207042), "Application request limit reached: you reached the maximum number of posts that can be published in 24 hours");
            }
            let Some(container) = w.containers.get(&creation).cloned() else {
                return graph_error(100, Some(33), "Invalid creation_id");
            };
            if container.published.is_some() {
                return graph_error(100, None, "(#100) The media has already been published");
            }
            let threads = *publish == "threads_publish";
            let id = new_id(w, if threads { "1801" } else { "1789" });
            let text_key = if threads { "text" } else { "caption" };
            let children: Vec<Value> = container
                .params
                .get("children")
                .map(|c| c.split(',').map(|id| json!({"id": id})).collect())
                .unwrap_or_default();
            let mut fields = json!({
                "id": id, text_key: container.params.get(text_key), "timestamp": now(),
                "permalink": format!("https://{}/p/{id}", if threads { "www.threads.net" } else { "www.instagram.com" }),
                "media_type": container.params.get("media_type").cloned().unwrap_or_else(|| "IMAGE".into()),
            });
            if !children.is_empty() {
                fields["children"] = json!({ "data": children });
            }
            let parent = container.params.get("reply_to_id").cloned();
            if let Some(parent) = &parent {
                fields["replied_to"] = json!({ "id": parent });
            }
            insert(w, &id, Object { kind: if threads { Kind::Thread } else { Kind::IgMedia }, owner: (*acct).to_owned(), parent, fields: as_map(fields) });
            if let Some(c) = w.containers.get_mut(&creation) {
                c.published = Some(id.clone());
            }
            if !threads {
                w.quota_usage += 1;
            }
            ok(json!({ "id": id }))
        }
        (Method::POST, [id, edge @ ("comments" | "replies")]) => {
            let Some(message) = get("message").filter(|m| !m.trim().is_empty()) else {
                return graph_error(100, None, "(#100) message is required");
            };
            // The answer is the account's: the one that made the post commented on (a first
            // comment), else the Page (Facebook comments) or the Instagram account (replies).
            let owner = w
                .objects
                .get(*id)
                .filter(|o| o.kind != Kind::Comment)
                .map(|o| o.owner.clone())
                .unwrap_or_else(|| if *edge == "replies" { IG_USER_ID } else { PAGE_ID }.to_owned());
            let cid = new_id(w, "7700");
            let fields = json!({"id": cid, "message": message, "text": message, "timestamp": now(), "created_time": now(),
                "from": {"id": owner}, "permalink_url": format!("https://www.facebook.com/{cid}")});
            insert(w, &cid, Object { kind: Kind::Comment, owner, parent: Some((*id).to_owned()), fields: as_map(fields) });
            ok(json!({ "id": cid }))
        }
        _ => graph_error(2500, None, "Unknown path components"),
    }
}

/// `GET /{id}`: an account, a container's status, or a published object with its counts.
fn read(w: &mut World, id: &str) -> Response {
    if let Some(account) = account_json(w, id) {
        return ok(account);
    }
    if let Some(c) = w.containers.get_mut(id) {
        let status = if c.published.is_some() {
            "PUBLISHED"
        } else if c.script.len() > 1 {
            c.script.remove(0)
        } else {
            c.script.first().copied().unwrap_or("FINISHED")
        };
        let why = if status == "ERROR" { "The media could not be fetched from the URI" } else { "" };
        // Instagram: the state is `status_code`, and `status` says why; Threads: the state is
        // `status`, and `error_message` says why.
        return ok(match c.owner.as_str() {
            IG_USER_ID => json!({"id": id, "status_code": status, "status": if why.is_empty() { status.to_owned() } else { format!("Error: {why}") }}),
            _ => json!({"id": id, "status": status, "error_message": why}),
        });
    }
    let Some(o) = w.objects.get(id) else { return graph_error(100, Some(33), "Object does not exist") };
    let mut fields = Value::Object(o.fields.clone());
    if o.kind == Kind::PagePost {
        let counters = w.counters.get(id).cloned().unwrap_or_default();
        let count = |k: &str| counters.get(k).copied();
        if let Some(n) = count("reactions") {
            fields["reactions"] = json!({"data": [], "summary": {"total_count": n}});
        }
        if let Some(n) = count("comments") {
            fields["comments"] = json!({"data": [], "summary": {"total_count": n, "order": "ranked"}});
        }
        if let Some(n) = count("shares") {
            fields["shares"] = json!({ "count": n });
        }
    }
    ok(fields)
}

/// An account's published objects of `kind`, newest first (`limit`, 25 by default), each with
/// its `comments_count` (Instagram reads it to skip media without comments).
fn listing(w: &World, acct: &str, kind: Kind, p: &HashMap<String, String>) -> Response {
    let data: Vec<Value> = w
        .order
        .iter()
        .rev()
        .filter_map(|id| w.objects.get(id).map(|o| (id, o)))
        .filter(|(_, o)| o.kind == kind && o.owner == acct && o.parent.is_none())
        .take(limit(p))
        .map(|(id, o)| {
            let mut v = Value::Object(o.fields.clone());
            if kind == Kind::IgMedia {
                let comments = w.objects.values().filter(|c| c.kind == Kind::Comment && c.parent.as_deref() == Some(id)).count();
                v["comments_count"] = json!(comments);
            }
            v
        })
        .collect();
    ok(json!({ "data": data }))
}

/// RFC 3339 of a Graph time, for assertions.
pub fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
