//! Meta's and Threads' OAuth on 127.0.0.1, reduced to what connecting calls, answering in the
//! documented shapes (platforms.md §4.5 and §5.4, platforms-more.md §1.4). One server stands for
//! every host: `HERALD_META_OAUTH_URL` and `HERALD_META_GRAPH_URL` are [`FakeMetaOAuth::url`]
//! then `/v22.0`, `HERALD_THREADS_OAUTH_URL` is the URL itself and `HERALD_THREADS_GRAPH_URL`
//! the URL then `/v1.0` (the Graph addresses carry their version, as the adapters take them).
//!
//! | call | answer |
//! |---|---|
//! | `GET /{ver}/dialog/oauth?client_id&redirect_uri&state&scope&response_type=code` | the person clicks "Continue": 302 to `redirect_uri?code=…&state=…` (or `?error=access_denied&error_reason=user_denied&error_description=Permissions+error&state=…` when [`FakeMetaOAuth::deny`] is set); an unknown client or a redirect URI not registered: 400 |
//! | `GET /{ver}/oauth/access_token?client_id&redirect_uri&client_secret&code` | `{"access_token":"fb-short-<n>","token_type":"bearer","expires_in":5183}`; a code used twice, another redirect URI or secret: 400 `OAuthException` |
//! | `GET /{ver}/oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret&fb_exchange_token` | `{"access_token":"fb-long-<n>","token_type":"bearer","expires_in":5183944}` |
//! | `GET /{ver}/me/accounts?fields=…&access_token=fb-long-…[&after=…]` | two pages of Pages with their `access_token` (`page-tok-<id>`) and `instagram_business_account{id,username}`; a short-lived token: 400 (the test proves the exchange happened) |
//! | `GET /oauth/authorize?client_id&redirect_uri&scope&response_type=code&state` | Threads' consent: 302 back with a code |
//! | `POST /v1.0/oauth/access_token` (form: client_id, client_secret, grant_type=authorization_code, redirect_uri, code) | `{"access_token":"th-short-<n>","user_id":"2001"}` |
//! | `GET /v1.0/access_token?grant_type=th_exchange_token&client_secret&access_token` | `{"access_token":"th-long-<n>","token_type":"bearer","expires_in":5183944}` |
//! | `GET /v1.0/me?fields=id,username&access_token=th-long-…` | `{"id":"2001","username":"cafe.threads"}` |
//! | `GET /{ver}/{id}?fields=…&access_token=…` | the object, when the token is the Page token of that Page (or of the Page an Instagram account is linked to) or the long-lived Threads token of that profile: how an adapter checks credentials; 400 code 190 otherwise |
//!
//! Errors are Graph's: `{"error":{"message","type":"OAuthException","code":100,"error_subcode":…,"fbtrace_id"}}`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub const META_APP_ID: &str = "meta-app-123";
pub const META_APP_SECRET: &str = "meta-secret-456";
pub const THREADS_APP_ID: &str = "threads-app-789";
pub const THREADS_APP_SECRET: &str = "threads-secret-012";
/// The Page that has an Instagram professional account linked.
pub const PAGE_ID: &str = "1001";
pub const PAGE_NAME: &str = "Café du Coin";
pub const IG_USER_ID: &str = "17841400000000001";
pub const IG_USERNAME: &str = "cafeducoin";
/// On the second page of `/me/accounts`.
pub const OTHER_PAGE_ID: &str = "1002";
pub const THREADS_USER_ID: &str = "2001";
pub const THREADS_USERNAME: &str = "cafe.threads";

/// One request the fake received: method, path and its query or form as pairs.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: &'static str,
    pub path: String,
    pub params: HashMap<String, String>,
}

#[derive(Default)]
struct Holding {
    seen: Vec<Seen>,
    /// The redirect URIs registered in the app ("Valid OAuth Redirect URIs", strict match).
    redirect_uris: Vec<String>,
    /// Codes handed out: code → (client id, redirect URI), removed when used.
    codes: HashMap<String, (String, String)>,
    /// Tokens handed out, by kind: `fb-short`, `fb-long`, `th-short`, `th-long`.
    tokens: HashMap<String, &'static str>,
    counter: u64,
    deny: bool,
    /// The fake's own address (Graph's `paging.next` is absolute).
    base: String,
}

#[derive(Clone)]
pub struct FakeMetaOAuth {
    pub url: String,
    state: Arc<Mutex<Holding>>,
}

type Shared = Arc<Mutex<Holding>>;

impl FakeMetaOAuth {
    /// Starts the fake with the redirect URIs the app registers.
    pub async fn start(redirect_uris: &[String]) -> FakeMetaOAuth {
        Self::serve(redirect_uris, None).await
    }

    /// The OAuth fake with the Graph fake (common/graph.rs) behind it, on one address: the
    /// OAuth routes answer as here, every other Graph call is `graph`'s (which takes the tokens
    /// this fake hands out).
    pub async fn start_with_graph(redirect_uris: &[String], graph: &super::graph::Graph) -> FakeMetaOAuth {
        Self::serve(redirect_uris, Some(graph.router())).await
    }

    async fn serve(redirect_uris: &[String], graph: Option<Router>) -> FakeMetaOAuth {
        let state: Shared = Arc::new(Mutex::new(Holding { redirect_uris: redirect_uris.to_vec(), ..Holding::default() }));
        let app = Router::new()
            .route("/{ver}/dialog/oauth", get(meta_dialog))
            // Meta's code exchange is a GET, Threads' a POST, both under the version.
            .route("/{ver}/oauth/access_token", get(meta_token).post(threads_token))
            .route("/{ver}/me/accounts", get(meta_accounts))
            .route("/oauth/authorize", get(threads_authorize))
            .route("/{ver}/access_token", get(threads_exchange))
            .route("/{ver}/me", get(threads_me));
        let app = match graph {
            None => app.route("/{ver}/{id}", get(object)).with_state(state.clone()),
            Some(graph) => app.with_state(state.clone()).fallback_service(graph),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        lock(&state).base = url.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeMetaOAuth { url, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Holding) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The next consent is declined ("Cancel").
    pub fn deny(&self, deny: bool) {
        self.with(|h| h.deny = deny);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.with(|h| h.seen.clone())
    }

    /// Every token the fake handed out (to look for them where they must not be).
    pub fn tokens(&self) -> Vec<String> {
        self.with(|h| h.tokens.keys().cloned().collect())
    }
}

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Holding> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

fn record(h: &mut Holding, method: &'static str, path: String, params: &HashMap<String, String>) {
    h.seen.push(Seen { method, path, params: params.clone() });
}

/// Graph's error body (400).
fn graph_error(message: &str, code: u32, subcode: Option<u32>) -> Response {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"});
    if let Some(s) = subcode {
        error["error_subcode"] = json!(s);
    }
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// The person clicked "Continue" (or "Cancel"): back to `redirect_uri` with a code (or the
/// error) and the state as sent.
fn consent(h: &mut Holding, client: &str, q: &HashMap<String, String>) -> Response {
    let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return graph_error("Missing redirect_uri or state", 100, None);
    };
    if q.get("client_id").map(String::as_str) != Some(client) {
        return graph_error("Invalid App ID", 101, None);
    }
    if !h.redirect_uris.contains(redirect) {
        return graph_error("URL Blocked: This redirect failed because the redirect URI is not whitelisted in the app's Client OAuth Settings.", 191, None);
    }
    let mut location = reqwest::Url::parse(redirect).expect("a registered URI parses");
    if h.deny {
        location
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_reason", "user_denied")
            .append_pair("error_description", "Permissions error.")
            .append_pair("state", state);
    } else {
        h.counter += 1;
        let code = format!("code-{}", h.counter);
        h.codes.insert(code.clone(), (client.to_owned(), redirect.clone()));
        location.query_pairs_mut().append_pair("code", &code).append_pair("state", state);
    }
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

fn new_token(h: &mut Holding, kind: &'static str) -> String {
    h.counter += 1;
    let token = format!("{kind}-{}-EAAG{:08x}", h.counter, h.counter * 7919);
    h.tokens.insert(token.clone(), kind);
    token
}

/// Takes the code of `q["code"]` (used once, for `client` and the same redirect URI), or the
/// refusal.
fn take_code(h: &mut Holding, client: &str, q: &HashMap<String, String>) -> Option<Response> {
    let code = q.get("code").cloned().unwrap_or_default();
    match h.codes.remove(&code) {
        Some((c, redirect)) if c == client && q.get("redirect_uri") == Some(&redirect) => None,
        Some(_) => Some(graph_error("Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request", 100, Some(36008))),
        None => Some(graph_error("This authorization code has been used.", 100, Some(36009))),
    }
}

fn has_token(h: &Holding, token: Option<&String>, kind: &str) -> bool {
    token.and_then(|t| h.tokens.get(t)).is_some_and(|k| *k == kind)
}

async fn meta_dialog(State(s): State<Shared>, Path(ver): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/dialog/oauth"), &q);
    consent(&mut h, META_APP_ID, &q)
}

async fn meta_token(State(s): State<Shared>, Path(ver): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/oauth/access_token"), &q);
    if q.get("client_id").map(String::as_str) != Some(META_APP_ID) || q.get("client_secret").map(String::as_str) != Some(META_APP_SECRET) {
        return graph_error("Error validating client secret.", 1, None);
    }
    if q.get("grant_type").map(String::as_str) == Some("fb_exchange_token") {
        if !has_token(&h, q.get("fb_exchange_token"), "fb-short") {
            return graph_error("Invalid OAuth access token.", 190, None);
        }
        let token = new_token(&mut h, "fb-long");
        return Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5183944})).into_response();
    }
    if let Some(refused) = take_code(&mut h, META_APP_ID, &q) {
        return refused;
    }
    let token = new_token(&mut h, "fb-short");
    Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5183})).into_response()
}

async fn meta_accounts(State(s): State<Shared>, Path(ver): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/me/accounts"), &q);
    if !has_token(&h, q.get("access_token"), "fb-long") {
        return graph_error("Invalid OAuth access token - Cannot parse access token", 190, None);
    }
    if q.get("fields").map(String::as_str) != Some("id,name,access_token,instagram_business_account{id,username}") {
        return graph_error("(#100) Unknown fields", 100, None);
    }
    let base = format!("/{ver}/me/accounts");
    if q.get("after").map(String::as_str) == Some("QVFIUjEwMDE") {
        // The second page: a Page without Instagram; and one the person may not post to (no token).
        return Json(json!({
            "data": [
                {"id": OTHER_PAGE_ID, "name": "Boulangerie", "access_token": format!("page-tok-{OTHER_PAGE_ID}")},
                {"id": "1003", "name": "Read only"}
            ],
            "paging": {"cursors": {"before": "QVFIUjEwMDI", "after": "QVFIUjEwMDM"}}
        }))
        .into_response();
    }
    let mut next = reqwest::Url::parse(&format!("{}{base}", h.base)).expect("a URL");
    next.query_pairs_mut()
        .append_pair("access_token", q.get("access_token").map(String::as_str).unwrap_or_default())
        .append_pair("fields", "id,name,access_token,instagram_business_account{id,username}")
        .append_pair("limit", "100")
        .append_pair("after", "QVFIUjEwMDE");
    Json(json!({
        "data": [
            {"id": PAGE_ID, "name": PAGE_NAME, "access_token": format!("page-tok-{PAGE_ID}"),
             "instagram_business_account": {"id": IG_USER_ID, "username": IG_USERNAME}}
        ],
        "paging": {"cursors": {"before": "QVFIUjEwMDA", "after": "QVFIUjEwMDE"}, "next": next.to_string()}
    }))
    .into_response()
}

async fn threads_authorize(State(s): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", "/oauth/authorize".into(), &q);
    consent(&mut h, THREADS_APP_ID, &q)
}

async fn threads_token(State(s): State<Shared>, Path(ver): Path<String>, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "POST", format!("/{ver}/oauth/access_token"), &f);
    if f.get("client_id").map(String::as_str) != Some(THREADS_APP_ID)
        || f.get("client_secret").map(String::as_str) != Some(THREADS_APP_SECRET)
        || f.get("grant_type").map(String::as_str) != Some("authorization_code")
    {
        return graph_error("Error validating client secret.", 1, None);
    }
    if let Some(refused) = take_code(&mut h, THREADS_APP_ID, &f) {
        return refused;
    }
    let token = new_token(&mut h, "th-short");
    Json(json!({"access_token": token, "user_id": THREADS_USER_ID})).into_response()
}

async fn threads_exchange(State(s): State<Shared>, Path(ver): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/access_token"), &q);
    if q.get("grant_type").map(String::as_str) != Some("th_exchange_token") || q.get("client_secret").map(String::as_str) != Some(THREADS_APP_SECRET) {
        return graph_error("Error validating client secret.", 1, None);
    }
    if !has_token(&h, q.get("access_token"), "th-short") {
        return graph_error("Invalid OAuth access token.", 190, None);
    }
    let token = new_token(&mut h, "th-long");
    Json(json!({"access_token": token, "token_type": "bearer", "expires_in": 5183944})).into_response()
}

async fn threads_me(State(s): State<Shared>, Path(ver): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/me"), &q);
    if ver != "v1.0" || !has_token(&h, q.get("access_token"), "th-long") {
        return graph_error("Invalid OAuth access token.", 190, None);
    }
    let fields = q.get("fields").map(String::as_str).unwrap_or_default();
    let mut me = json!({"id": THREADS_USER_ID});
    if fields.split(',').any(|f| f == "username") {
        me["username"] = Value::from(THREADS_USERNAME);
    }
    Json(me).into_response()
}

/// A Page, an Instagram account or a Threads profile read with its own token (what the
/// publishing adapters' credential check asks).
async fn object(State(s): State<Shared>, Path((ver, id)): Path<(String, String)>, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut h = lock(&s);
    record(&mut h, "GET", format!("/{ver}/{id}"), &q);
    let token = q.get("access_token").map(String::as_str).unwrap_or_default();
    let page_token = |page: &str| token == format!("page-tok-{page}");
    match id.as_str() {
        PAGE_ID | OTHER_PAGE_ID if page_token(&id) => {
            let name = if id == PAGE_ID { PAGE_NAME } else { "Boulangerie" };
            Json(json!({"id": id, "name": name})).into_response()
        }
        IG_USER_ID if page_token(PAGE_ID) => Json(json!({"id": IG_USER_ID, "username": IG_USERNAME})).into_response(),
        THREADS_USER_ID if has_token(&h, Some(&token.to_owned()), "th-long") => {
            Json(json!({"id": THREADS_USER_ID, "username": THREADS_USERNAME})).into_response()
        }
        _ => graph_error("Invalid OAuth access token - Cannot parse access token", 190, None),
    }
}
