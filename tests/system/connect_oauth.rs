//! Connecting channels with OAuth through the real `herald serve`, against a fake of Meta's and
//! Threads' OAuth and Graph endpoints (common/meta_oauth.rs): the consent screen is a URL the
//! test follows (the fake sends the person straight back, as if they clicked "Continue"), and
//! `HERALD_PUBLIC_URL` is an outside address (`https://herald.example`, as behind a proxy) that
//! the test maps onto serve's own.
//!
//! What is checked: a Facebook + Instagram round trip (a Page and its Instagram account become
//! two channels, with the credentials the adapters read, sealed), a Threads round trip through
//! the web pages, every bad state refused (forged, changed, expired, for another network, used
//! twice, declined), admins only, tokens never in the store in clear, and a server without an
//! app saying which variable to set.

use std::collections::HashMap;

use base64::Engine;
use chrono::Utc;
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::{ApiKeyId, Platform, TeamId};
use herald_core::services::connect::OAuthState;
use herald_core::store::ChannelStore;
use herald_core::store::sqlite::SqliteStore;
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::meta_oauth::*;
use crate::common::serve::{Client, Serve};

const PUBLIC: &str = "https://herald.example";

/// A fixed credentials key, so the test can sign a state of its own (an expired one) and open
/// what serve sealed.
fn key() -> String {
    base64::engine::general_purpose::STANDARD.encode([7u8; 32])
}

struct Rig {
    fake: FakeMetaOAuth,
    serve: Serve,
    dir: tempfile::TempDir,
    api: Client,
    /// Follows no redirect: the test looks at each.
    http: reqwest::Client,
}

async fn rig() -> Rig {
    let redirects: Vec<String> = ["facebook", "instagram", "threads"].iter().map(|p| format!("{PUBLIC}/oauth/{p}/callback")).collect();
    let fake = FakeMetaOAuth::start(&redirects).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key = key();
    let serve = Serve::start_with(
        dir.path(),
        &[
            ("HERALD_ALLOW_PRIVATE_NETWORK", "1"),
            ("HERALD_CREDENTIALS_KEY", &key),
            ("HERALD_PUBLIC_URL", PUBLIC),
            ("HERALD_FACEBOOK_CLIENT_ID", META_APP_ID),
            ("HERALD_FACEBOOK_CLIENT_SECRET", META_APP_SECRET),
            ("HERALD_THREADS_CLIENT_ID", THREADS_APP_ID),
            ("HERALD_THREADS_CLIENT_SECRET", THREADS_APP_SECRET),
            ("HERALD_META_OAUTH_URL", &format!("{}/v22.0", fake.url)),
            ("HERALD_META_GRAPH_URL", &format!("{}/v22.0", fake.url)),
            ("HERALD_THREADS_OAUTH_URL", &fake.url),
            ("HERALD_THREADS_GRAPH_URL", &format!("{}/v1.0", fake.url)),
        ],
    );
    let api = Client::new(&serve);
    let http = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    Rig { fake, serve, dir, api, http }
}

impl Rig {
    /// Starts connecting `platform` with the admin key: the authorize URL and the connection id.
    async fn start(&self, platform: &str) -> (String, String) {
        let (status, body) = self.api.call(Method::POST, &format!("/v1/channels/connect/{platform}"), None).await;
        assert_eq!(status, 200, "{body}");
        (body["authorize_url"].as_str().expect("authorize_url").to_owned(), body["connection_id"].as_str().expect("connection_id").to_owned())
    }

    /// Opens the consent screen and clicks "Continue": where the network sends the browser
    /// back, as an address of serve (`HERALD_PUBLIC_URL` mapped onto it).
    async fn consent(&self, authorize_url: &str) -> String {
        let resp = self.http.get(authorize_url).send().await.expect("the fake answers");
        assert_eq!(resp.status().as_u16(), 302, "{}", resp.text().await.unwrap_or_default());
        let location = resp.headers()[reqwest::header::LOCATION].to_str().expect("a location").to_owned();
        let rest = location.strip_prefix(PUBLIC).unwrap_or_else(|| panic!("sent back to Herald's public URL: {location}"));
        format!("{}{rest}", self.serve.url)
    }

    /// The callback as an API client asks it (JSON).
    async fn callback(&self, url: &str) -> (u16, Value) {
        let resp = self.http.get(url).header("accept", "application/json").send().await.expect("serve answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The callback on `platform` with `query` (state, code, error…).
    async fn callback_with(&self, platform: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let mut url = reqwest::Url::parse(&format!("{}/oauth/{platform}/callback", self.serve.url)).expect("a URL");
        url.query_pairs_mut().extend_pairs(query);
        self.callback(url.as_str()).await
    }

    /// The database's bytes (WAL included): what a thief of the data directory would read.
    fn stored_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for f in ["herald.db", "herald.db-wal"] {
            if let Ok(bytes) = std::fs::read(self.dir.path().join(f)) {
                all.extend(bytes);
            }
        }
        all
    }

    fn assert_no_token_in_clear(&self, when: &str) {
        let stored = self.stored_bytes();
        let mut secrets = self.fake.tokens();
        secrets.extend([format!("page-tok-{PAGE_ID}"), format!("page-tok-{OTHER_PAGE_ID}")]);
        assert!(secrets.len() >= 3, "the fake handed tokens out: {secrets:?}");
        for secret in &secrets {
            let found = stored.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{when}: the token {secret} is in the store in clear");
            assert!(!self.serve.transcript.text().contains(secret.as_str()), "{when}: the token {secret} was logged");
        }
    }

    async fn team(&self) -> TeamId {
        let (_, me) = self.api.call(Method::GET, "/v1/me", None).await;
        TeamId::parse("team_id", me["team_id"].as_str().expect("team_id")).expect("a team id")
    }

    /// A new key of `role`.
    async fn key_of(&self, role: &str) -> Client {
        let (status, made) = self.api.call(Method::POST, "/v1/keys", Some(json!({"role": role, "name": role}))).await;
        assert_eq!(status, 201, "{made}");
        Client { http: self.api.http.clone(), base: self.api.base.clone(), key: made["key"].as_str().expect("key").to_owned() }
    }
}

/// The channels serve made, their credentials opened with the key (serve stopped first).
async fn stored_credentials(rig: Rig, team: &TeamId) -> HashMap<String, (Platform, Credentials)> {
    let dir = rig.dir;
    drop(rig.serve);
    let store = SqliteStore::open(dir.path().join("herald.db")).expect("the store opens");
    let cipher = CredentialCipher::from_base64(&key()).expect("the key");
    let mut out = HashMap::new();
    for c in store.list_channels(team).await.expect("channels") {
        let creds = cipher.open(c.id, c.credentials.as_ref().expect("sealed credentials")).expect("they open");
        out.insert(c.name.as_str().to_owned(), (c.platform, creds));
    }
    out
}

#[tokio::test]
async fn a_page_and_its_instagram_account_become_two_channels() {
    let rig = rig().await;
    let (authorize_url, connection_id) = rig.start("facebook").await;
    let authorize = reqwest::Url::parse(&authorize_url).expect("a URL");
    assert_eq!(authorize.path(), "/v22.0/dialog/oauth");
    let q: HashMap<String, String> = authorize.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], META_APP_ID);
    assert_eq!(q["redirect_uri"], format!("{PUBLIC}/oauth/facebook/callback"));
    assert!(q["scope"].split(',').any(|s| s == "pages_manage_posts") && q["scope"].split(',').any(|s| s == "instagram_content_publish"), "{}", q["scope"]);
    assert!(!authorize_url.contains(META_APP_SECRET), "the secret stays on the server");

    let back = rig.consent(&authorize_url).await;
    assert!(back.starts_with(&format!("{}/oauth/facebook/callback?code=", rig.serve.url)), "{back}");
    let (status, found) = rig.callback(&back).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["id"], connection_id.as_str());
    let accounts: Vec<(String, String)> = found["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| (a["id"].as_str().unwrap_or_default().to_owned(), a["name"].as_str().unwrap_or_default().to_owned()))
        .collect();
    assert_eq!(
        accounts,
        [
            (format!("facebook:{PAGE_ID}"), PAGE_NAME.to_owned()),
            (format!("instagram:{IG_USER_ID}"), format!("@{IG_USERNAME}")),
            (format!("facebook:{OTHER_PAGE_ID}"), "Boulangerie".to_owned()),
        ],
        "both pages of /me/accounts, the Page the person cannot post to left out"
    );
    // The code was exchanged with the secret and the same redirect URI, then for a long-lived
    // token, and the Pages were asked with the long-lived one (the fake refuses a short one).
    let seen = rig.fake.seen();
    let exchanges: Vec<_> = seen.iter().filter(|s| s.path == "/v22.0/oauth/access_token").collect();
    assert_eq!(exchanges.len(), 2, "{seen:?}");
    assert_eq!(exchanges[0].params["redirect_uri"], format!("{PUBLIC}/oauth/facebook/callback"));
    assert_eq!(exchanges[0].params["client_secret"], META_APP_SECRET);
    assert_eq!(exchanges[1].params["grant_type"], "fb_exchange_token");
    assert_eq!(seen.iter().filter(|s| s.path == "/v22.0/me/accounts").count(), 2, "the next page was followed");

    // Waiting, the tokens are sealed: not in the store, not in the answer, not in the logs.
    rig.assert_no_token_in_clear("pending");
    let (status, listed) = rig.api.call(Method::GET, &format!("/v1/connections/{connection_id}"), None).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["accounts"], found["accounts"]);
    assert!(!listed.to_string().contains("tok") && !found.to_string().contains("tok"), "{listed}");

    // The same code and state again: refused, nothing exchanged twice.
    let (status, again) = rig.callback(&back).await;
    assert_eq!(status, 409, "{again}");

    // Another admin's team cannot see it; a viewer cannot either.
    let viewer = rig.key_of("viewer").await;
    let (status, _) = viewer.call(Method::GET, &format!("/v1/connections/{connection_id}"), None).await;
    assert_eq!(status, 403);

    // Picking an account that is not there names it; then the Page and its Instagram account.
    let finish = format!("/v1/connections/{connection_id}/finish");
    let (status, err) = rig.api.call(Method::POST, &finish, Some(json!({"accounts": [format!("facebook:{PAGE_ID}"), "facebook:999"]}))).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("accounts[1]")), "{err}");
    let body = json!({"accounts": [format!("facebook:{PAGE_ID}"), format!("instagram:{IG_USER_ID}")], "time_zone": "Europe/Paris"});
    let (status, made) = rig.api.call(Method::POST, &finish, Some(body.clone())).await;
    assert_eq!(status, 201, "{made}");
    // Made through the channel create path: where Herald publishes to the network, its adapter
    // checked each token with the network first (the fake answers that read, `GET /{id}`).
    for (c, id) in made["items"].as_array().expect("items").iter().zip([PAGE_ID, IG_USER_ID]) {
        if c["can_publish"] == true {
            let path = format!("/v22.0/{id}");
            assert!(rig.fake.seen().iter().any(|s| s.path == path), "{id} was checked with the network");
        }
    }
    let made: Vec<(String, String, String, bool)> = made["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| {
            (
                c["platform"].as_str().unwrap_or_default().to_owned(),
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["time_zone"].as_str().unwrap_or_default().to_owned(),
                c["has_credentials"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        made,
        [
            ("facebook".to_owned(), PAGE_NAME.to_owned(), "Europe/Paris".to_owned(), true),
            ("instagram".to_owned(), format!("@{IG_USERNAME}"), "Europe/Paris".to_owned(), true),
        ]
    );
    let (status, again) = rig.api.call(Method::POST, &finish, Some(body)).await;
    assert_eq!(status, 409, "a connection is finished once: {again}");
    rig.assert_no_token_in_clear("connected");

    let team = rig.team().await;
    let stored = stored_credentials(rig, &team).await;
    let (platform, page) = &stored[PAGE_NAME];
    assert_eq!(*platform, Platform::Facebook);
    assert_eq!(page.field_names().collect::<Vec<_>>(), ["page_access_token", "page_id"]);
    assert_eq!((page.get("page_id"), page.get("page_access_token")), (Some(PAGE_ID), Some(format!("page-tok-{PAGE_ID}").as_str())));
    let (platform, ig) = &stored[&format!("@{IG_USERNAME}")];
    assert_eq!(*platform, Platform::Instagram);
    assert_eq!(ig.field_names().collect::<Vec<_>>(), ["access_token", "ig_user_id"]);
    assert_eq!((ig.get("ig_user_id"), ig.get("access_token")), (Some(IG_USER_ID), Some(format!("page-tok-{PAGE_ID}").as_str())));
}

/// Threads from the browser's side: the Channels page's button, the page linking to the
/// consent screen, the callback sending the browser to the picker, the picker's form.
#[tokio::test]
async fn a_threads_profile_connects_through_the_pages() {
    let rig = rig().await;
    let page = |path: &str| {
        let req = rig.http.get(format!("{}{path}", rig.serve.url)).bearer_auth(&rig.api.key).header("accept", "text/html");
        async move {
            let resp = req.send().await.expect("serve answers");
            (resp.status().as_u16(), resp.text().await.unwrap_or_default())
        }
    };
    let (status, channels) = page("/channels").await;
    assert_eq!(status, 200);
    for p in ["Facebook", "Instagram", "Threads"] {
        assert!(channels.contains(&format!("Connect with {p}")), "the {p} button: {channels}");
    }
    let resp = rig
        .http
        .post(format!("{}/channels/connect", rig.serve.url))
        .bearer_auth(&rig.api.key)
        .form(&[("platform", "threads")])
        .send()
        .await
        .expect("serve answers");
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap_or_default();
    let href = html.split("id=\"continue\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("the link to the consent screen");
    let authorize_url = href.replace("&amp;", "&");
    assert!(authorize_url.starts_with(&format!("{}/oauth/authorize?", rig.fake.url)), "{authorize_url}");
    let q: HashMap<String, String> = reqwest::Url::parse(&authorize_url).expect("a URL").query_pairs().into_owned().collect();
    assert_eq!((q["client_id"].as_str(), q["response_type"].as_str()), (THREADS_APP_ID, "code"));
    assert_eq!(q["scope"].split(',').take(2).collect::<Vec<_>>(), ["threads_basic", "threads_content_publish"]);

    let back = rig.consent(&authorize_url).await;
    let resp = rig.http.get(&back).header("accept", "text/html").send().await.expect("serve answers");
    assert_eq!(resp.status().as_u16(), 303);
    let picker = resp.headers()[reqwest::header::LOCATION].to_str().expect("a location").to_owned();
    assert!(picker.starts_with("/connect/"), "{picker}");
    let (status, html) = page(&picker).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains(&format!("value=\"threads:{THREADS_USER_ID}\"")) && html.contains(&format!("@{THREADS_USERNAME}")), "{html}");
    assert!(!html.contains("th-long") && !html.contains("th-short"), "no token on the page");
    let seen = rig.fake.seen();
    let token_call = seen.iter().find(|s| s.path == "/v1.0/oauth/access_token").expect("the code was exchanged");
    assert_eq!((token_call.method, token_call.params["redirect_uri"].as_str()), ("POST", format!("{PUBLIC}/oauth/threads/callback").as_str()));
    assert!(seen.iter().any(|s| s.path == "/v1.0/access_token" && s.params["grant_type"] == "th_exchange_token"), "{seen:?}");
    rig.assert_no_token_in_clear("pending");

    // Nothing ticked: said at the form; then the profile.
    let post = |form: Vec<(&'static str, String)>| {
        let req = rig.http.post(format!("{}{picker}", rig.serve.url)).bearer_auth(&rig.api.key).form(&form);
        async move {
            let resp = req.send().await.expect("serve answers");
            let location = resp.headers().get(reqwest::header::LOCATION).and_then(|l| l.to_str().ok()).map(str::to_owned);
            (resp.status().as_u16(), location, resp.text().await.unwrap_or_default())
        }
    };
    let (status, _, html) = post(vec![("time_zone", "Europe/Paris".into())]).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("pick at least one account"), "{html}");
    let (status, location, _) = post(vec![("account", format!("threads:{THREADS_USER_ID}")), ("time_zone", "America/Montreal".into())]).await;
    assert_eq!((status, location.as_deref()), (303, Some("/channels?done=connected")));
    let (_, channels) = rig.api.call(Method::GET, "/v1/channels", None).await;
    let items = channels["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{channels}");
    assert_eq!((items[0]["platform"].as_str(), items[0]["name"].as_str()), (Some("threads"), Some(format!("@{THREADS_USERNAME}").as_str())));
    assert_eq!(items[0]["time_zone"], "America/Montreal");
    rig.assert_no_token_in_clear("connected");

    let team = rig.team().await;
    let long = rig.fake.tokens().into_iter().find(|t| t.starts_with("th-long")).expect("a long-lived token");
    let stored = stored_credentials(rig, &team).await;
    let (platform, creds) = &stored[&format!("@{THREADS_USERNAME}")];
    assert_eq!(*platform, Platform::Threads);
    assert_eq!(creds.field_names().collect::<Vec<_>>(), ["access_token", "threads_user_id", "token_expires_at"]);
    assert_eq!((creds.get("threads_user_id"), creds.get("access_token")), (Some(THREADS_USER_ID), Some(long.as_str())), "the long-lived token is kept");
    // Its expiry (`expires_in` 5183944 s, about 60 days), so the metric poller renews it in time.
    let expires = herald_core::platforms::tokens::expires_at(creds).expect("the expiry is kept");
    let lifetime = expires - chrono::Utc::now();
    assert!((59..=60).contains(&lifetime.num_days()), "expires in {lifetime:?}");
}

#[tokio::test]
async fn states_that_do_not_hold_are_refused_and_only_admins_start() {
    let rig = rig().await;
    let (authorize_url, _) = rig.start("facebook").await;
    let q: HashMap<String, String> = reqwest::Url::parse(&authorize_url).expect("a URL").query_pairs().into_owned().collect();
    let state = q["state"].clone();
    let refused = |(status, body): (u16, Value), field: &str, words: &str| {
        assert_eq!((status, body["error"]["field"].as_str()), (400, Some(field)), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message}");
    };

    // Forged: not signed by this Herald; changed: one character of the claims.
    refused(rig.callback_with("facebook", &[("code", "code-1"), ("state", "eyJ0IjoiY2FmZSJ9.00ff")]).await, "state", "not made by this Herald");
    let (payload, signature) = state.split_once('.').expect("claims.signature");
    let mut chars: Vec<char> = payload.chars().collect();
    chars[5] = if chars[5] == 'A' { 'B' } else { 'A' };
    let changed = format!("{}.{signature}", chars.into_iter().collect::<String>());
    refused(rig.callback_with("facebook", &[("code", "code-1"), ("state", &changed)]).await, "state", "not made by this Herald");
    refused(rig.callback_with("facebook", &[("code", "code-1")]).await, "state", "missing");
    // Good for Facebook, brought to the Threads callback.
    refused(rig.callback_with("threads", &[("code", "code-1"), ("state", &state)]).await, "state", "another network");
    // Expired: signed with serve's key, its ten minutes over.
    let cipher = CredentialCipher::from_base64(&key()).expect("the key");
    let old = OAuthState {
        team_id: rig.team().await,
        started_by: ApiKeyId::new(),
        platform: Platform::Facebook,
        nonce: uuid::Uuid::new_v4(),
        expires_at: Utc::now() - chrono::Duration::seconds(1),
    };
    refused(rig.callback_with("facebook", &[("code", "code-1"), ("state", &old.sign(&cipher))]).await, "state", "expired");
    // A browser is shown a page saying so.
    let resp = rig
        .http
        .get(format!("{}/oauth/facebook/callback?code=x&state={changed}", rig.serve.url))
        .header("accept", "text/html")
        .send()
        .await
        .expect("serve answers");
    assert_eq!(resp.status().as_u16(), 400);
    assert!(resp.headers()["content-type"].to_str().unwrap_or_default().starts_with("text/html"));
    assert!(resp.text().await.unwrap_or_default().contains("not made by this Herald"));
    assert!(rig.fake.seen().iter().all(|s| s.path != "/v22.0/oauth/access_token"), "no refused state reached the network");

    // The person clicked "Cancel".
    rig.fake.deny(true);
    let back = rig.consent(&authorize_url).await;
    let (status, body) = rig.callback(&back).await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("error")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("access was not granted"), "{body}");

    // Admins only; a network without OAuth says how to connect it instead.
    for role in ["viewer", "contributor", "editor"] {
        let key = rig.key_of(role).await;
        let (status, body) = key.call(Method::POST, "/v1/channels/connect/facebook", None).await;
        assert_eq!(status, 403, "{role}: {body}");
    }
    let (status, body) = rig.api.call(Method::POST, "/v1/channels/connect/mastodon", None).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("platform")), "{body}");
    let (status, body) = rig.api.call(Method::POST, "/v1/channels/connect/myspace", None).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("platform")), "{body}");
}

#[tokio::test]
async fn a_server_without_an_app_says_which_variable_to_set() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let serve = Serve::start_with(dir.path(), &[("HERALD_PUBLIC_URL", PUBLIC), ("HERALD_THREADS_CLIENT_ID", THREADS_APP_ID)]);
    let api = Client::new(&serve);
    let (status, body) = api.call(Method::POST, "/v1/channels/connect/instagram", None).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("platform")), "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("HERALD_FACEBOOK_CLIENT_ID") && message.contains("HERALD_FACEBOOK_CLIENT_SECRET"), "{message}");
    let (status, body) = api.call(Method::POST, "/v1/channels/connect/threads", None).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("HERALD_THREADS_CLIENT_SECRET is not set"), "{body}");
    let page = api.http.get(format!("{}/channels", serve.url)).bearer_auth(&api.key).send().await.expect("serve answers");
    assert!(!page.text().await.unwrap_or_default().contains("Connect with"), "no button for a network not configured");
}
