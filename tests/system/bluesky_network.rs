//! The real Bluesky network that `tests/run` starts with `infra/bluesky/up`: PLC directory, PDS
//! and AppView from `@atproto/dev-env` on 127.0.0.1, with the accounts alice.test and bob.test.
//! `HERALD_TEST_BLUESKY_NETWORK` names the JSON file that describes it:
//!
//! ```json
//! {"pds": "http://127.0.0.1:P", "appview": "http://127.0.0.1:A", "plc": "http://127.0.0.1:L",
//!  "accounts": [{"handle": "alice.test", "did": "did:plc:…", "password": "…"}, …]}
//! ```
//!
//! The first tests check the network itself with a plain HTTP client, along the path the Bluesky
//! adapter takes (session, post with a link facet at UTF-8 byte offsets, counts, notifications),
//! so that an adapter test failing here points at the adapter, not the rig. The others run
//! Herald's `BlueskyAdapter` against it: publishing (facets, images, record keys, sessions) and
//! the inbox (polling notifications, replying), checked by reading back what the PDS stored
//! and what the AppView shows. The adapter connects with an app password, as a team would.
//! The network is on loopback, so every adapter here is built with
//! `NetworkPolicy::AllowPrivate` (what `HERALD_ALLOW_PRIVATE_NETWORK=1` gives a host).
//!
//! Without `HERALD_TEST_BLUESKY_NETWORK` they FAIL rather than skip, unless
//! `HERALD_SKIP_BLUESKY_NETWORK=1` says to skip (tests/run honours the same variable, loudly;
//! under `CI` both refuse to skip). Each test makes its own records, so re-running against one
//! network is fine; tests run one at a time on a network (the nextest test group
//! `bluesky-network` in .config/nextest.toml, and [`NetworkLock`] for `cargo test`), since some
//! count every new notification of alice's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use herald_core::clock::{ManualClock, SystemClock};
use herald_core::crypto::Credentials;
use herald_core::domain::{
    Channel, ChannelId, ChannelName, Delivery, DeliveryState, Interaction, InteractionDraft, InteractionKind, MediaRef,
    Platform, Post, PostId, PostText, TeamId,
};
use herald_core::platforms::bluesky::{BlueskyAdapter, rkey_for};
use herald_core::platforms::{
    InboxAdapter, NetworkPolicy, PlatformAdapter, Polled, PublishError, PublishRequest, Published,
};
use serde_json::{Value, json};

/// How long indexing by the AppView (counts, notifications) may take before a test fails.
const INDEXING_DEADLINE: Duration = Duration::from_secs(10);

struct Network {
    pds: String,
    appview: String,
    plc: String,
    accounts: Vec<Account>,
    /// Held until the test ends.
    _lock: NetworkLock,
}

struct Account {
    handle: String,
    did: String,
    password: String,
}

impl Network {
    fn account(&self, handle: &str) -> &Account {
        self.accounts
            .iter()
            .find(|a| a.handle == handle)
            .unwrap_or_else(|| panic!("the network file lists no account {handle}"))
    }
}

/// The network described by `HERALD_TEST_BLUESKY_NETWORK`, with this test holding it alone
/// (see [`NetworkLock`]); `None` (skip) only when `HERALD_SKIP_BLUESKY_NETWORK=1` outside CI.
fn network() -> Option<Network> {
    if crate::common::process::skip_requested(
        "HERALD_SKIP_BLUESKY_NETWORK",
        "the Bluesky adapter against the Bluesky network (infra/bluesky)",
    ) {
        return None;
    }
    let path = std::env::var("HERALD_TEST_BLUESKY_NETWORK").unwrap_or_else(|_| {
        panic!(
            "HERALD_TEST_BLUESKY_NETWORK is not set: the Bluesky tests need the loopback Bluesky \
             network (PLC + PDS + AppView). Run the suite with `tests/run`, which starts one with \
             infra/bluesky/up, or `eval \"$(infra/bluesky/up)\"` first; \
             HERALD_SKIP_BLUESKY_NETWORK=1 skips them (not under CI)."
        )
    });
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("HERALD_TEST_BLUESKY_NETWORK={path}: cannot read it: {e}"));
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("HERALD_TEST_BLUESKY_NETWORK={path}: not JSON: {e}"));
    let field = |v: &Value, k: &str| -> String {
        v[k].as_str().unwrap_or_else(|| panic!("{path}: missing string field {k:?} in {v}")).to_owned()
    };
    let accounts = v["accounts"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no \"accounts\" array"))
        .iter()
        .map(|a| Account { handle: field(a, "handle"), did: field(a, "did"), password: field(a, "password") })
        .collect();
    let lock = NetworkLock::take(&path);
    Some(Network { pds: field(&v, "pds"), appview: field(&v, "appview"), plc: field(&v, "plc"), accounts, _lock: lock })
}

/// One test at a time on a network: the tests that count alice's new notifications ("only bob's
/// three posts are new") would otherwise see another test's mentions and replies.
///
/// Under nextest the test group `bluesky-network` (.config/nextest.toml, one thread) already
/// runs these tests one after the other, so this lock is never contended there; it is what
/// keeps them apart under `cargo test` (tests/run's fallback when cargo-nextest is missing),
/// which runs a binary's tests on parallel threads. An exclusive `flock` on a file named after
/// the network, held by the test until it ends (the kernel releases it if the test dies).
struct NetworkLock(#[allow(dead_code)] std::fs::File);

impl NetworkLock {
    fn take(network_file: &str) -> NetworkLock {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        network_file.hash(&mut h);
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bluesky-network-{:016x}.lock", h.finish()));
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.lock().unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
        NetworkLock(file)
    }
}

fn client() -> reqwest::Client {
    // Loopback only: never through a proxy, whatever the environment says.
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("HTTP client")
}

/// POST /xrpc/{nsid} with a JSON body; returns the status and the JSON answer.
async fn post(c: &reqwest::Client, base: &str, nsid: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = c.post(format!("{base}/xrpc/{nsid}")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(nsid, req).await
}

/// GET /xrpc/{nsid}?{query}; returns the status and the JSON answer.
async fn get(c: &reqwest::Client, base: &str, nsid: &str, token: Option<&str>, query: &[(&str, &str)]) -> (u16, Value) {
    let mut req = c.get(format!("{base}/xrpc/{nsid}")).query(query);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(nsid, req).await
}

async fn answer(nsid: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
    let res = req.send().await.unwrap_or_else(|e| panic!("{nsid}: no answer from the network: {e}"));
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_else(|e| panic!("{nsid}: reading the answer: {e}"));
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// `com.atproto.server.createSession` → (did, access JWT).
async fn login(c: &reqwest::Client, net: &Network, account: &Account) -> (String, String) {
    let (status, s) = post(
        c,
        &net.pds,
        "com.atproto.server.createSession",
        None,
        &json!({"identifier": account.handle, "password": account.password}),
    )
    .await;
    assert_eq!(status, 200, "createSession for {}: {s}", account.handle);
    assert_eq!(s["did"], account.did.as_str(), "createSession for {}: {s}", account.handle);
    assert_eq!(s["handle"], account.handle.as_str());
    assert!(s["refreshJwt"].is_string(), "createSession gives a refresh JWT: {s}");
    (s["did"].as_str().unwrap().to_owned(), s["accessJwt"].as_str().expect("accessJwt").to_owned())
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Polls `probe` every 100 ms until it gives `Some`, for at most INDEXING_DEADLINE.
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + INDEXING_DEADLINE;
    loop {
        match probe().await {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not within {INDEXING_DEADLINE:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

#[tokio::test]
async fn the_network_file_describes_a_loopback_network_with_alice_and_bob() {
    let Some(net) = network() else { return };
    for (name, url) in [("pds", &net.pds), ("appview", &net.appview), ("plc", &net.plc)] {
        assert!(url.starts_with("http://127.0.0.1:"), "{name} is not on 127.0.0.1: {url}");
    }
    for handle in ["alice.test", "bob.test"] {
        let a = net.account(handle);
        assert!(a.did.starts_with("did:plc:"), "{handle}: {}", a.did);
        assert!(!a.password.is_empty());
    }
    let c = client();
    let (status, d) = get(&c, &net.pds, "com.atproto.server.describeServer", None, &[]).await;
    assert_eq!(status, 200, "describeServer: {d}");
    assert!(d["availableUserDomains"].as_array().is_some_and(|a| a.contains(&json!(".test"))), "{d}");
    // The PLC directory knows alice, with the PDS as her service.
    let alice = net.account("alice.test");
    let res = c.get(format!("{}/{}", net.plc, alice.did)).send().await.expect("PLC answers");
    assert_eq!(res.status().as_u16(), 200);
    let doc: Value = res.json().await.expect("a DID document");
    assert_eq!(doc["id"], alice.did.as_str(), "{doc}");
}

#[tokio::test]
async fn a_post_with_a_link_facet_is_stored_liked_counted_and_notified() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let bob = net.account("bob.test");
    let (alice_did, alice_jwt) = login(&c, &net, alice).await;

    // Facet offsets are UTF-8 byte offsets: with `é` (2 bytes) and `✨` (3 bytes) before the
    // link, its byte offset differs from its offset in chars (and in UTF-16 units).
    let link = "https://example.org/menu?d=2027-01-04";
    let run = uuid::Uuid::new_v4().simple().to_string();
    let text = format!("Café ✨ nouveau menu: {link} #{}", &run[..8]);
    let byte_start = text.find(link).expect("link in text");
    let byte_end = byte_start + link.len();
    assert_eq!(byte_start, 24, "bytes (it is 21 in chars, 21 in UTF-16 units)");
    assert_ne!(byte_start, text[..byte_start].chars().count(), "the text must exercise multi-byte characters");
    let facets = json!([{
        "index": {"byteStart": byte_start, "byteEnd": byte_end},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
    }]);
    let record = json!({
        "$type": "app.bsky.feed.post",
        "text": text,
        "facets": facets,
        "langs": ["fr"],
        "createdAt": now(),
    });
    let (status, made) = post(
        &c,
        &net.pds,
        "com.atproto.repo.createRecord",
        Some(&alice_jwt),
        &json!({"repo": alice_did, "collection": "app.bsky.feed.post", "record": record}),
    )
    .await;
    assert_eq!(status, 200, "createRecord of the post: {made}");
    let uri = made["uri"].as_str().expect("uri").to_owned();
    let cid = made["cid"].as_str().expect("cid").to_owned();
    let prefix = format!("at://{alice_did}/app.bsky.feed.post/");
    let rkey = uri.strip_prefix(&prefix).unwrap_or_else(|| panic!("{uri} is not under {prefix}"));

    // getRecord gives the post back as written, and the facet slices out exactly the link.
    let (status, got) = get(
        &c,
        &net.pds,
        "com.atproto.repo.getRecord",
        None,
        &[("repo", &alice_did), ("collection", "app.bsky.feed.post"), ("rkey", rkey)],
    )
    .await;
    assert_eq!(status, 200, "getRecord: {got}");
    assert_eq!(got["uri"], uri.as_str());
    assert_eq!(got["cid"], cid.as_str());
    assert_eq!(got["value"]["text"], text.as_str());
    assert_eq!(got["value"]["facets"], facets);
    let stored = got["value"]["text"].as_str().unwrap().as_bytes();
    let idx = &got["value"]["facets"][0]["index"];
    let (s, e) = (idx["byteStart"].as_u64().unwrap() as usize, idx["byteEnd"].as_u64().unwrap() as usize);
    assert_eq!(std::str::from_utf8(&stored[s..e]).expect("facet on char boundaries"), link);

    // Bob likes it.
    let (bob_did, bob_jwt) = login(&c, &net, bob).await;
    let (status, like) = post(
        &c,
        &net.pds,
        "com.atproto.repo.createRecord",
        Some(&bob_jwt),
        &json!({
            "repo": bob_did,
            "collection": "app.bsky.feed.like",
            "record": {"$type": "app.bsky.feed.like", "subject": {"uri": uri, "cid": cid}, "createdAt": now()},
        }),
    )
    .await;
    assert_eq!(status, 200, "createRecord of the like: {like}");

    // The AppView indexes asynchronously: poll getPosts (no auth needed on the AppView).
    let view = eventually("getPosts likeCount == 1", || {
        let (c, appview, uri) = (&c, &net.appview, &uri);
        async move {
            let (status, body) = get(c, appview, "app.bsky.feed.getPosts", None, &[("uris", uri)]).await;
            let p = &body["posts"][0];
            if status == 200 && p["likeCount"] == 1 { Ok(p.clone()) } else { Err(format!("HTTP {status}: {body}")) }
        }
    })
    .await;
    assert_eq!(view["uri"], uri.as_str());
    assert_eq!(view["author"]["did"], alice_did.as_str());
    assert_eq!(view["author"]["handle"], "alice.test");
    assert_eq!(view["record"]["facets"], facets, "the AppView keeps the facets: {view}");
    for count in ["repostCount", "replyCount", "quoteCount"] {
        assert_eq!(view[count], 0, "{count}: {view}");
    }

    // Alice is notified, through her PDS (which proxies app.bsky.* to the AppView).
    let notif = eventually("a like notification for alice", || {
        let (c, pds, jwt, uri) = (&c, &net.pds, &alice_jwt, &uri);
        async move {
            let (status, body) =
                get(c, pds, "app.bsky.notification.listNotifications", Some(jwt), &[("limit", "50")]).await;
            let found = body["notifications"]
                .as_array()
                .and_then(|ns| ns.iter().find(|n| n["reason"] == "like" && n["reasonSubject"] == uri.as_str()));
            match found {
                Some(n) if status == 200 => Ok(n.clone()),
                _ => Err(format!("HTTP {status}: {body}")),
            }
        }
    })
    .await;
    assert_eq!(notif["author"]["did"], bob_did.as_str(), "{notif}");
    assert_eq!(notif["author"]["handle"], "bob.test", "{notif}");
    assert_eq!(notif["record"]["subject"]["uri"], uri.as_str(), "{notif}");
}

// =============================================================================================
// Herald's BlueskyAdapter against the network

/// A real 3×2 RGB PNG (73 bytes).
const PNG_3X2: [u8; 73] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0x12, 0x16, 0xf1, 0x4d, 0x00, 0x00, 0x00, 0x10, 0x49,
    0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0xf8, 0xcf, 0xc0, 0xc0, 0x00, 0xc1, 0x70, 0x16, 0x00, 0x3b, 0xd8, 0x05, 0xfb,
    0x36, 0x11, 0x98, 0xea, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// Eight characters that tell this run's records from other runs' on the same network.
fn run_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

/// A new app password of `account` (what a team connects Herald with), made with its password.
async fn app_password(c: &reqwest::Client, net: &Network, account: &Account) -> String {
    let (_, jwt) = login(c, net, account).await;
    let name = format!("herald-test-{}", run_id());
    let (status, made) =
        post(c, &net.pds, "com.atproto.server.createAppPassword", Some(&jwt), &json!({"name": name})).await;
    assert_eq!(status, 200, "createAppPassword: {made}");
    made["password"].as_str().expect("an app password").to_owned()
}

fn credentials(service: &str, identifier: &str, app_password: &str) -> Credentials {
    Credentials::from_json(
        "credentials",
        &json!({"service": service, "identifier": identifier, "app_password": app_password}),
    )
    .expect("credentials")
}

fn channel(handle: &str) -> Channel {
    Channel {
        id: ChannelId::new(),
        team_id: TeamId::parse("team", "cafe-du-coin").unwrap(),
        platform: Platform::Bluesky,
        name: ChannelName::parse("name", &format!("@{handle}")).unwrap(),
        time_zone: chrono_tz::Europe::Paris,
        credentials: None,
        queue_slots: vec![],
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}

/// One delivery of a post to `channel`, ready to publish.
struct Job {
    delivery: Delivery,
    channel: Channel,
    credentials: Credentials,
    text: String,
    media: Vec<MediaRef>,
}

impl Job {
    fn new(channel: &Channel, credentials: &Credentials, text: &str, media: Vec<MediaRef>) -> Self {
        let now = Utc::now();
        let post = Post { review: None, version: 0, first_comment: None, reply_control: None,
            id: PostId::new(),
            team_id: channel.team_id.clone(),
            text: PostText::parse("text", text).unwrap(),
            variants: Default::default(),
            media: vec![],
            series_id: None,
            created_by: None,
            created_at: now,
            updated_at: now,
        };
        let delivery = Delivery::new(&post, channel.id, Platform::Bluesky, DeliveryState::Publishing, now, now);
        Self { delivery, channel: channel.clone(), credentials: credentials.clone(), text: text.to_owned(), media }
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
    BlueskyAdapter::new(Arc::new(SystemClock), NetworkPolicy::AllowPrivate).expect("adapter")
}

async fn publish(a: &BlueskyAdapter, job: &Job) -> Published {
    a.publish(&job.request()).await.unwrap_or_else(|e| panic!("publishing {:?}: {e:?}", job.text))
}

/// `com.atproto.repo.getRecord` of an `at://` URI (no auth needed): the record view.
async fn get_record(c: &reqwest::Client, net: &Network, uri: &str) -> Value {
    let rest = uri.strip_prefix("at://").unwrap_or_else(|| panic!("not an at:// URI: {uri}"));
    let parts: Vec<&str> = rest.splitn(3, '/').collect();
    let (status, got) = get(
        c,
        &net.pds,
        "com.atproto.repo.getRecord",
        None,
        &[("repo", parts[0]), ("collection", parts[1]), ("rkey", parts[2])],
    )
    .await;
    assert_eq!(status, 200, "getRecord {uri}: {got}");
    got
}

/// The text a facet covers in the stored record: its byte range of the UTF-8 text.
fn facet_text<'a>(text: &'a str, facet: &Value) -> &'a str {
    let index = &facet["index"];
    let (s, e) = (index["byteStart"].as_u64().unwrap() as usize, index["byteEnd"].as_u64().unwrap() as usize);
    text.get(s..e).unwrap_or_else(|| panic!("facet {facet} is outside the text or splits a character"))
}

#[tokio::test]
async fn the_adapter_publishes_link_mention_and_tag_facets_at_utf8_byte_offsets() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let bob = net.account("bob.test");
    let creds = credentials(&net.pds, "alice.test", &app_password(&c, &net, alice).await);
    let run = run_id();
    let link = "https://example.org/menu?jour=lundi&plat=crème";
    let text = format!("Crème brûlée ✨ ce soir : {link} avec @bob.test #menu{run}");
    let job = Job::new(&channel("alice.test"), &creds, &text, vec![]);
    let published = publish(&adapter(), &job).await;

    let rkey = rkey_for(&job.delivery);
    assert_eq!(published.platform_post_id, format!("at://{}/app.bsky.feed.post/{rkey}", alice.did));
    assert_eq!(published.url.as_deref(), Some(format!("https://bsky.app/profile/alice.test/post/{rkey}").as_str()));

    let got = get_record(&c, &net, &published.platform_post_id).await;
    let value = &got["value"];
    assert_eq!(value["text"], text.as_str());
    let stored = value["text"].as_str().unwrap();
    let facets = value["facets"].as_array().unwrap_or_else(|| panic!("no facets: {got}"));
    assert_eq!(facets.len(), 3, "{got}");
    // Link: its byte offset is not its offset in characters (é, û, ✨ before it).
    let link_start = facets[0]["index"]["byteStart"].as_u64().unwrap() as usize;
    assert_eq!(link_start, text.find(link).unwrap());
    assert_ne!(link_start, text[..link_start].chars().count());
    assert_eq!(facet_text(stored, &facets[0]), link);
    assert_eq!(facets[0]["features"], json!([{"$type": "app.bsky.richtext.facet#link", "uri": link}]));
    // Mention: resolved to bob's DID by the PDS.
    assert_eq!(facet_text(stored, &facets[1]), "@bob.test");
    assert_eq!(facets[1]["features"], json!([{"$type": "app.bsky.richtext.facet#mention", "did": bob.did}]));
    // Tag.
    assert_eq!(facet_text(stored, &facets[2]), format!("#menu{run}"));
    assert_eq!(facets[2]["features"], json!([{"$type": "app.bsky.richtext.facet#tag", "tag": format!("menu{run}")}]));

    // The AppView takes it as it is.
    let uri = published.platform_post_id.clone();
    let view = eventually("the AppView shows the post", || {
        let (c, appview, uri) = (&c, &net.appview, &uri);
        async move {
            let (status, body) = get(c, appview, "app.bsky.feed.getPosts", None, &[("uris", uri)]).await;
            match body["posts"].get(0) {
                Some(p) if status == 200 => Ok(p.clone()),
                _ => Err(format!("HTTP {status}: {body}")),
            }
        }
    })
    .await;
    assert_eq!(view["record"]["facets"], value["facets"]);
}

#[tokio::test]
async fn the_adapter_uploads_a_picture_it_downloads_from_its_url() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let creds = credentials(&net.pds, "alice.test", &app_password(&c, &net, alice).await);

    // The media host: a local listener serving one PNG.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let media_host = axum::Router::new().route(
        "/media/cafe.png",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "image/png")], PNG_3X2.to_vec())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let media_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, media_host).await;
    });

    let alt = "La terrasse au soleil, trois tables rouges";
    let media = vec![MediaRef::parse("media", &format!("{media_base}/media/cafe.png"), Some(alt.into())).unwrap()];
    let job = Job::new(&channel("alice.test"), &creds, &format!("La terrasse est ouverte {}", run_id()), media);
    let published = publish(&adapter(), &job).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1, "downloaded once");

    let got = get_record(&c, &net, &published.platform_post_id).await;
    let embed = &got["value"]["embed"];
    assert_eq!(embed["$type"], "app.bsky.embed.images", "{got}");
    let image = &embed["images"][0];
    assert_eq!(image["alt"], alt);
    assert_eq!(image["aspectRatio"], json!({"width": 3, "height": 2}));
    assert_eq!(image["image"]["$type"], "blob");
    assert_eq!(image["image"]["mimeType"], "image/png");
    assert_eq!(image["image"]["size"], PNG_3X2.len());
    // The PDS holds exactly those bytes under the blob's CID.
    let cid = image["image"]["ref"]["$link"].as_str().unwrap_or_else(|| panic!("no blob ref: {image}"));
    let res = c
        .get(format!("{}/xrpc/com.atproto.sync.getBlob", net.pds))
        .query(&[("did", alice.did.as_str()), ("cid", cid)])
        .send()
        .await
        .expect("getBlob answers");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG_3X2.as_slice());
}

#[tokio::test]
async fn one_delivery_is_one_post_however_often_it_is_published_and_find_published_finds_it() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let creds = credentials(&net.pds, "alice.test", &app_password(&c, &net, alice).await);
    let a = adapter();
    let ch = channel("alice.test");
    let text = format!("Une seule fois {}", run_id());
    let job = Job::new(&ch, &creds, &text, vec![]);

    assert_eq!(a.find_published(&job.request()).await.unwrap(), None, "not published yet");
    let first = publish(&a, &job).await;
    // A retry (the publisher lost the answer): the same record key, so the same post.
    let second = publish(&a, &job).await;
    assert_eq!(second.platform_post_id, first.platform_post_id);
    assert_eq!(second.url, first.url);
    let found = a.find_published(&job.request()).await.unwrap().expect("found after publishing");
    assert_eq!(found.platform_post_id, first.platform_post_id);
    assert_eq!(found.url, first.url);

    // Another delivery of the same text is another post, not yet made.
    let other = Job::new(&ch, &creds, &text, vec![]);
    assert_eq!(a.find_published(&other.request()).await.unwrap(), None);

    let (status, list) = get(
        &c,
        &net.pds,
        "com.atproto.repo.listRecords",
        None,
        &[("repo", alice.did.as_str()), ("collection", "app.bsky.feed.post"), ("limit", "100")],
    )
    .await;
    assert_eq!(status, 200, "listRecords: {list}");
    let same: Vec<&Value> =
        list["records"].as_array().unwrap().iter().filter(|r| r["value"]["text"] == text.as_str()).collect();
    assert_eq!(same.len(), 1, "exactly one record with this text: {same:?}");
    assert_eq!(same[0]["uri"], first.platform_post_id.as_str());
}

/// A proxy in front of the PDS that records every exchange (NSID, status, JSON answer), and can
/// make an access token go bad in flight as it does when its two hours are over: the real PDS
/// then refuses it with its own error. Only once per token: the PDS's access JWTs carry no
/// nonce, so a token issued again in the same second is the same string.
#[derive(Clone)]
struct Recorder(Arc<Mutex<RecorderState>>);

struct RecorderState {
    target: String,
    exchanges: Vec<(String, u16, Value)>,
    spoiled: HashSet<String>,
}

impl Recorder {
    async fn start(target: &str) -> (Self, String) {
        let r = Recorder(Arc::new(Mutex::new(RecorderState {
            target: target.to_owned(),
            exchanges: vec![],
            spoiled: HashSet::new(),
        })));
        let app = axum::Router::new().fallback(forward).with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (r, base)
    }

    fn exchanges(&self) -> Vec<(String, u16, Value)> {
        self.0.lock().unwrap().exchanges.clone()
    }

    /// (NSID, status) of every exchange from `from` on.
    fn since(&self, from: usize) -> Vec<(String, u16)> {
        self.exchanges().into_iter().skip(from).map(|(n, s, _)| (n, s)).collect()
    }

    /// The last JSON answer of `nsid`.
    fn last_answer(&self, nsid: &str) -> Value {
        let found = self.exchanges().into_iter().rev().find(|(n, _, _)| n == nsid);
        found.unwrap_or_else(|| panic!("no {nsid} went through the proxy")).2
    }

    fn spoil(&self, token: &str) {
        self.0.lock().unwrap().spoiled.insert(token.to_owned());
    }
}

async fn forward(
    axum::extract::State(r): axum::extract::State<Recorder>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let nsid = parts.uri.path().trim_start_matches("/xrpc/").to_owned();
    let target = r.0.lock().unwrap().target.clone();
    let url = format!("{target}{}", parts.uri.path_and_query().map_or("", |p| p.as_str()));
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut req = client().request(method, url).body(body.to_vec());
    for name in ["content-type", "authorization"] {
        if let Some(v) = parts.headers.get(name).and_then(|v| v.to_str().ok()) {
            let value = match v.strip_prefix("Bearer ") {
                Some(token) if r.0.lock().unwrap().spoiled.remove(token) => format!("Bearer {token}x"),
                _ => v.to_owned(),
            };
            req = req.header(name, value);
        }
    }
    let res = req.send().await.unwrap_or_else(|e| panic!("{nsid}: the PDS did not answer the proxy: {e}"));
    let status = res.status().as_u16();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = res.bytes().await.unwrap_or_default();
    let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    r.0.lock().unwrap().exchanges.push((nsid, status, answer));
    let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = axum::http::StatusCode::from_u16(status).unwrap();
    if let Some(ct) = content_type {
        response.headers_mut().insert("content-type", ct.parse().unwrap());
    }
    response
}

fn nsids(list: &[(&str, u16)]) -> Vec<(String, u16)> {
    list.iter().map(|(n, s)| ((*n).to_owned(), *s)).collect()
}

#[tokio::test]
async fn a_refused_access_token_is_refreshed_a_revoked_session_replaced_and_an_old_one_renewed_ahead() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let (recorder, proxy) = Recorder::start(&net.pds).await;
    let creds = credentials(&proxy, "alice.test", &app_password(&c, &net, alice).await);
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let a = BlueskyAdapter::new(clock.clone(), NetworkPolicy::AllowPrivate).unwrap();
    let ch = channel("alice.test");
    let run = run_id();
    let jobs: Vec<Job> = (1..=4).map(|k| Job::new(&ch, &creds, &format!("Session {k} {run}"), vec![])).collect();

    publish(&a, &jobs[0]).await;
    assert_eq!(
        recorder.since(0),
        nsids(&[("com.atproto.server.createSession", 200), ("com.atproto.repo.createRecord", 200)])
    );

    // The access token goes bad: the PDS refuses it, the adapter refreshes and posts.
    let session = recorder.last_answer("com.atproto.server.createSession");
    recorder.spoil(session["accessJwt"].as_str().unwrap());
    let mark = recorder.exchanges().len();
    publish(&a, &jobs[1]).await;
    assert_eq!(
        recorder.since(mark),
        nsids(&[
            ("com.atproto.repo.createRecord", 400),
            ("com.atproto.server.refreshSession", 200),
            ("com.atproto.repo.createRecord", 200),
        ])
    );
    let refused = &recorder.exchanges()[mark].2;
    assert!(matches!(refused["error"].as_str(), Some("InvalidToken" | "ExpiredToken")), "{refused}");

    // The session is revoked (deleteSession with its refresh token) and the access token goes
    // bad: the refresh is refused too, so the adapter signs in again.
    let refreshed = recorder.last_answer("com.atproto.server.refreshSession");
    let res = c
        .post(format!("{}/xrpc/com.atproto.server.deleteSession", net.pds))
        .bearer_auth(refreshed["refreshJwt"].as_str().unwrap())
        .send()
        .await
        .expect("deleteSession answers");
    assert_eq!(res.status().as_u16(), 200, "deleteSession");
    recorder.spoil(refreshed["accessJwt"].as_str().unwrap());
    let mark = recorder.exchanges().len();
    publish(&a, &jobs[2]).await;
    assert_eq!(
        recorder.since(mark),
        nsids(&[
            ("com.atproto.repo.createRecord", 400),
            ("com.atproto.server.refreshSession", 400),
            ("com.atproto.server.createSession", 200),
            ("com.atproto.repo.createRecord", 200),
        ])
    );

    // Two hours later by Herald's clock the access token has run its lifetime: refreshed
    // before use, so no request is refused.
    clock.advance(chrono::Duration::minutes(121));
    let mark = recorder.exchanges().len();
    publish(&a, &jobs[3]).await;
    assert_eq!(
        recorder.since(mark),
        nsids(&[("com.atproto.server.refreshSession", 200), ("com.atproto.repo.createRecord", 200)])
    );

    for job in &jobs {
        let uri = format!("at://{}/app.bsky.feed.post/{}", alice.did, rkey_for(&job.delivery));
        assert_eq!(get_record(&c, &net, &uri).await["value"]["text"], job.text.as_str());
    }
}

#[tokio::test]
async fn a_wrong_app_password_is_an_auth_error() {
    let Some(net) = network() else { return };
    let creds = credentials(&net.pds, "alice.test", "aaaa-bbbb-cccc-dddd");
    let ch = channel("alice.test");
    let job = Job::new(&ch, &creds, &format!("jamais publié {}", run_id()), vec![]);
    let a = adapter();
    match a.publish(&job.request()).await {
        Err(PublishError::Auth { reason }) => {
            assert!(reason.contains("app password rejected"), "{reason}");
            assert!(!reason.contains("aaaa-bbbb"), "the password is not in the reason: {reason}");
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(matches!(a.poll(&ch, &creds, None).await, Err(PublishError::Auth { .. })));
}

// ---------------------------------------------------------------------------------------------
// Inbox

/// The interaction Herald would store from a draft (as JSON, so that fields added to
/// `Interaction` later with defaults do not break this test).
fn interaction_from(draft: &InteractionDraft, channel: &Channel) -> Interaction {
    let mut v = serde_json::to_value(draft).unwrap();
    v["id"] = json!(herald_core::domain::InteractionId::new());
    v["team_id"] = json!(channel.team_id);
    v["channel_id"] = json!(channel.id);
    v["platform"] = json!("bluesky");
    v["received_at"] = json!(Utc::now());
    v["status"] = json!("open");
    serde_json::from_value(v).unwrap()
}

/// bob's record of `collection`; returns (uri, cid).
async fn bob_writes(
    c: &reqwest::Client,
    net: &Network,
    jwt: &str,
    collection: &str,
    record: Value,
) -> (String, String) {
    let bob = net.account("bob.test");
    let (status, made) = post(
        c,
        &net.pds,
        "com.atproto.repo.createRecord",
        Some(jwt),
        &json!({"repo": bob.did, "collection": collection, "record": record}),
    )
    .await;
    assert_eq!(status, 200, "bob's {collection}: {made}");
    (made["uri"].as_str().unwrap().to_owned(), made["cid"].as_str().unwrap().to_owned())
}

fn items_of(polled: &Polled) -> Vec<&str> {
    polled.items.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn bob_s_reply_mention_and_quote_reach_alice_s_inbox_once_and_her_reply_joins_the_thread() {
    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let bob = net.account("bob.test");
    let creds = credentials(&net.pds, "alice.test", &app_password(&c, &net, alice).await);
    let a = adapter();
    let ch = channel("alice.test");
    let run = run_id();

    // Where the inbox stands before (other runs may have left notifications: a first poll takes
    // the latest page, whatever is in it).
    let before = a.poll(&ch, &creds, None).await.expect("first poll");
    let mut cursor = before.cursor.clone();

    // Alice (through Herald) posts; bob answers, mentions her, quotes her, likes and follows.
    let menu = publish(&a, &Job::new(&ch, &creds, &format!("Nouveau menu d'hiver {run}"), vec![])).await;
    let menu_uri = menu.platform_post_id.clone();
    let menu_cid = get_record(&c, &net, &menu_uri).await["cid"].as_str().unwrap().to_owned();
    let menu_ref = json!({"uri": menu_uri, "cid": menu_cid});
    // Bob answers a post he has seen, i.e. one the AppView has indexed. (Indexing runs per
    // repository in parallel: a reply indexed before its parent makes no reply notification.)
    eventually("the AppView has alice's post", || {
        let (c, appview, uri) = (&c, &net.appview, &menu_uri);
        async move {
            let (status, body) = get(c, appview, "app.bsky.feed.getPosts", None, &[("uris", uri)]).await;
            if status == 200 && body["posts"][0]["uri"] == uri.as_str() {
                Ok(())
            } else {
                Err(format!("HTTP {status}: {body}"))
            }
        }
    })
    .await;
    let (_, bob_jwt) = login(&c, &net, bob).await;
    let reply_text = format!("Miam, la crème brûlée ✨ {run}");
    let (reply_uri, reply_cid) = bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.feed.post",
        json!({
            "$type": "app.bsky.feed.post", "text": reply_text, "createdAt": now(),
            "reply": {"root": menu_ref, "parent": menu_ref},
        }),
    )
    .await;
    let mention_text = format!("Bravo @alice.test pour le menu {run}");
    let at = mention_text.find("@alice.test").unwrap();
    let (mention_uri, _) = bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.feed.post",
        json!({
            "$type": "app.bsky.feed.post", "text": mention_text, "createdAt": now(),
            "facets": [{"index": {"byteStart": at, "byteEnd": at + "@alice.test".len()},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": alice.did}]}],
        }),
    )
    .await;
    let (quote_uri, _) = bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.feed.post",
        json!({
            "$type": "app.bsky.feed.post", "text": format!("Regardez ça {run}"), "createdAt": now(),
            "embed": {"$type": "app.bsky.embed.record", "record": menu_ref},
        }),
    )
    .await;
    bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.feed.like",
        json!({
            "$type": "app.bsky.feed.like", "subject": menu_ref, "createdAt": now(),
        }),
    )
    .await;
    bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.graph.follow",
        json!({
            "$type": "app.bsky.graph.follow", "subject": alice.did, "createdAt": now(),
        }),
    )
    .await;

    // Poll as the poller does (storing the cursor each time) until the three are in.
    let wanted: HashSet<&str> = [reply_uri.as_str(), mention_uri.as_str(), quote_uri.as_str()].into();
    let mut inbox: Vec<(String, InteractionDraft)> = Vec::new();
    let deadline = Instant::now() + INDEXING_DEADLINE;
    while inbox.len() < wanted.len() {
        assert!(Instant::now() < deadline, "not all in the inbox within {INDEXING_DEADLINE:?}: {inbox:#?}");
        let polled = a.poll(&ch, &creds, cursor.as_deref()).await.expect("poll");
        cursor = polled.cursor.clone();
        for (id, draft) in polled.items {
            assert!(wanted.contains(id.as_str()), "only bob's three posts are new, not {id}: {draft:?}");
            assert!(inbox.iter().all(|(seen, _)| *seen != id), "{id} came twice");
            inbox.push((id, draft));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let find = |uri: &str| &inbox.iter().find(|(id, _)| id == uri).unwrap().1;

    let reply = find(&reply_uri);
    assert_eq!(reply.kind, InteractionKind::Reply);
    assert_eq!(reply.external_id, reply_uri);
    assert_eq!(reply.thread_id, menu_uri, "the thread is alice's post");
    assert_eq!(reply.parent_id.as_deref(), Some(menu_uri.as_str()));
    assert_eq!(reply.post_external_id.as_deref(), Some(menu_uri.as_str()));
    let menu_rkey = menu_uri.rsplit('/').next().unwrap();
    assert_eq!(reply.post_url, Some(format!("https://bsky.app/profile/{}/post/{menu_rkey}", alice.did)));
    assert_eq!(reply.author_id, bob.did);
    assert_eq!(reply.text, reply_text);
    let mention = find(&mention_uri);
    assert_eq!((mention.kind, mention.thread_id.as_str()), (InteractionKind::Mention, mention_uri.as_str()));
    assert_eq!(mention.text, mention_text);
    let quote = find(&quote_uri);
    assert_eq!(quote.kind, InteractionKind::Mention, "a quote is a mention");
    assert_eq!(quote.post_external_id.as_deref(), Some(menu_uri.as_str()));

    // The next poll with the stored cursor: nothing new (the like and the follow never are).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let again = a.poll(&ch, &creds, cursor.as_deref()).await.expect("poll");
    assert_eq!(items_of(&again), Vec::<&str>::new());
    cursor = again.cursor;

    // Alice answers bob's reply through Herald; a retry of the same answer is the same post.
    let to = interaction_from(reply, &ch);
    let answer_text = format!("Merci @bob.test, à ce soir ! {run}");
    let answer = a.reply(&ch, &creds, &to, &answer_text).await.expect("reply");
    let retried = a.reply(&ch, &creds, &to, &answer_text).await.expect("reply again");
    assert_eq!(retried.platform_post_id, answer.platform_post_id);
    let stored = get_record(&c, &net, &answer.platform_post_id).await;
    assert_eq!(stored["value"]["text"], answer_text.as_str());
    assert_eq!(
        stored["value"]["reply"],
        json!({"root": {"uri": menu_uri, "cid": menu_cid}, "parent": {"uri": reply_uri, "cid": reply_cid}})
    );
    assert_eq!(stored["value"]["facets"][0]["features"][0]["did"], bob.did.as_str());

    // The AppView shows it in the thread, under bob's reply.
    let thread = eventually("alice's answer in the thread", || {
        let (c, appview, menu_uri, reply_uri, answer_uri) =
            (&c, &net.appview, &menu_uri, &reply_uri, &answer.platform_post_id);
        async move {
            let (status, body) =
                get(c, appview, "app.bsky.feed.getPostThread", None, &[("uri", menu_uri), ("depth", "6")]).await;
            let under_bob = body["thread"]["replies"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["post"]["uri"] == reply_uri.as_str()))
                .and_then(|r| r["replies"].as_array())
                .and_then(|rs| rs.iter().find(|r| r["post"]["uri"] == answer_uri.as_str()).cloned());
            match under_bob {
                Some(node) if status == 200 => Ok(node),
                _ => Err(format!("HTTP {status}: {body}")),
            }
        }
    })
    .await;
    assert_eq!(thread["post"]["author"]["did"], alice.did.as_str());
    assert_eq!(thread["post"]["record"]["text"], answer_text.as_str());

    // Her own answer is not something to answer: still nothing new for alice.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = a.poll(&ch, &creds, cursor.as_deref()).await.expect("poll");
    assert_eq!(items_of(&after), Vec::<&str>::new());
}

/// The whole path through Herald's own entry points: a Bluesky channel connected through the
/// API, the notification poller (`Intake::poll_all`, what `herald serve`'s timer and the Lambda
/// run) bringing bob's mention into the inbox, and a reply sent with `POST /v1/inbox/{id}/reply`
/// reaching the network, under bob's post.
#[tokio::test]
async fn a_mention_polled_into_the_inbox_is_answered_through_the_api_on_the_network() {
    use axum::body::Body;
    use axum::http::Request;
    use herald_core::crypto::CredentialCipher;
    use herald_core::http::{AppState, api_router};
    use herald_core::ports::Ports;
    use herald_core::platforms::network_adapters;
    use herald_core::services::keys::{create_key, ensure_team};
    use herald_core::store::sqlite::SqliteStore;
    use tower::ServiceExt;

    let Some(net) = network() else { return };
    let c = client();
    let alice = net.account("alice.test");
    let bob = net.account("bob.test");
    let run = run_id();

    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let clock = Arc::new(SystemClock);
    let cipher = CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap();
    let adapters = network_adapters(clock.clone(), NetworkPolicy::AllowPrivate).unwrap();
    let state = AppState::new(Ports::new(store.clone(), clock.clone(), cipher).with_adapters(adapters));
    let router = api_router(state.clone());
    let team = TeamId::parse("team", "cafe-du-coin").unwrap();
    ensure_team(&*store, &*clock, &team, chrono_tz::Europe::Paris).await.unwrap();
    let (_, key) = create_key(&*store, &*clock, &team, herald_core::domain::Role::Admin, "test").await.unwrap();
    let key = key.reveal().to_owned();
    let call = |method: &str, path: String, body: Option<Value>| {
        let (router, key) = (router.clone(), key.clone());
        let method = method.to_owned();
        async move {
            let req = Request::builder()
                .method(method.as_str())
                .uri(path)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(body.map(|b| Body::from(b.to_string())).unwrap_or_else(Body::empty))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };

    let password = app_password(&c, &net, alice).await;
    let (status, ch) = call(
        "POST",
        "/v1/channels".into(),
        Some(json!({"platform": "bluesky", "name": "@alice.test", "time_zone": "Europe/Paris",
                    "credentials": {"service": net.pds, "identifier": "alice.test", "app_password": password}})),
    )
    .await;
    assert_eq!(status, 201, "{ch}");
    // The first round only sets the channel's cursor (no backfill of old notifications).
    state.intake().poll_all().await.expect("first poll round");

    let (_, bob_jwt) = login(&c, &net, bob).await;
    let text = format!("@alice.test vous ouvrez dimanche ? {run}");
    let (mention_uri, _) = bob_writes(
        &c,
        &net,
        &bob_jwt,
        "app.bsky.feed.post",
        json!({
            "$type": "app.bsky.feed.post", "text": text, "createdAt": now(),
            "facets": [{"index": {"byteStart": 0, "byteEnd": "@alice.test".len()},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": alice.did}]}],
        }),
    )
    .await;

    let deadline = Instant::now() + INDEXING_DEADLINE;
    let item = loop {
        let summary = state.intake().poll_all().await.expect("poll round");
        assert_eq!(summary.failed, 0, "{summary:?}");
        let (status, page) = call("GET", format!("/v1/inbox?q={run}"), None).await;
        assert_eq!(status, 200, "{page}");
        if let Some(item) = page["items"].as_array().and_then(|items| items.first()).cloned() {
            break item;
        }
        assert!(Instant::now() < deadline, "bob's mention not in the inbox within {INDEXING_DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(item["external_id"], mention_uri.as_str());
    assert_eq!((item["kind"].as_str(), item["author"]["id"].as_str()), (Some("mention"), Some(bob.did.as_str())));
    assert_eq!(item["sentiment"]["language"], "fr", "{item}");
    // Another round brings nothing twice.
    state.intake().poll_all().await.unwrap();
    let (_, page) = call("GET", format!("/v1/inbox?q={run}"), None).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    let answer = format!("Oui, de 9h à 14h ! {run}");
    let id = item["id"].as_str().unwrap();
    let (status, replied) = call("POST", format!("/v1/inbox/{id}/reply"), Some(json!({"text": answer}))).await;
    assert_eq!(status, 201, "{replied}");
    assert_eq!(replied["interaction"]["status"], "answered");
    let answer_uri = replied["reply"]["platform_post_id"].as_str().unwrap().to_owned();
    let stored = get_record(&c, &net, &answer_uri).await;
    assert_eq!(stored["value"]["reply"]["parent"]["uri"], mention_uri.as_str());
    eventually("the answer under bob's post on the AppView", || {
        let (c, appview, mention_uri, answer_uri) = (&c, &net.appview, &mention_uri, &answer_uri);
        async move {
            let (status, body) = get(c, appview, "app.bsky.feed.getPostThread", None, &[("uri", mention_uri)]).await;
            let found = body["thread"]["replies"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["post"]["uri"] == answer_uri.as_str()));
            if status == 200 && found { Ok(()) } else { Err(format!("HTTP {status}: {body}")) }
        }
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// `account`'s record of `collection` (repo = its DID); returns (uri, cid).
async fn writes(c: &reqwest::Client, net: &Network, did: &str, jwt: &str, collection: &str, record: Value) -> (String, String) {
    let (status, made) = post(
        c,
        &net.pds,
        "com.atproto.repo.createRecord",
        Some(jwt),
        &json!({"repo": did, "collection": collection, "record": record}),
    )
    .await;
    assert_eq!(status, 200, "{did}'s {collection}: {made}");
    (made["uri"].as_str().unwrap().to_owned(), made["cid"].as_str().unwrap().to_owned())
}

/// Herald's metrics port (what the metric poller reads) against the real network. A fresh
/// account, made for this test so that its numbers are its own, publishes through the adapter;
/// bob likes the post and replies to it, alice likes it and quotes it, bob follows the account.
/// Once the AppView has indexed them, `post_counters_batch` reads exactly those counters (a post
/// that does not exist is `Gone`, in the same batch), and `followers` reads 1: both what the
/// AppView itself shows, read there directly.
#[tokio::test]
async fn the_metrics_port_reads_the_appviews_real_counters_and_followers() {
    use herald_core::domain::MetricCounters;
    use herald_core::platforms::MetricsAdapter;
    use herald_core::platforms::metrics::{MetricsError, PostRef};
    let Some(net) = network() else { return };
    let c = client();
    let run = run_id();

    let handle = format!("m{run}.test");
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let (status, made) = post(
        &c,
        &net.pds,
        "com.atproto.server.createAccount",
        None,
        &json!({"handle": handle, "email": format!("{handle}@herald.test"), "password": password}),
    )
    .await;
    assert_eq!(status, 200, "createAccount {handle}: {made}");
    let did = made["did"].as_str().expect("a DID").to_owned();
    let jwt = made["accessJwt"].as_str().expect("a session").to_owned();
    let (status, app) =
        post(&c, &net.pds, "com.atproto.server.createAppPassword", Some(&jwt), &json!({"name": "herald"})).await;
    assert_eq!(status, 200, "createAppPassword: {app}");
    let creds = credentials(&net.pds, &handle, app["password"].as_str().unwrap());
    let a = adapter();
    let ch = channel(&handle);
    let job = Job::new(&ch, &creds, &format!("Menu du jour {run}"), vec![]);
    let published = publish(&a, &job).await;
    let uri = published.platform_post_id.clone();
    let cid = get_record(&c, &net, &uri).await["cid"].as_str().unwrap().to_owned();
    let subject = json!({"uri": uri, "cid": cid});
    // Answers to a post the AppView has seen (a reply indexed before its parent counts for nothing).
    eventually("the AppView has the post", || {
        let (c, appview, uri) = (&c, &net.appview, &uri);
        async move {
            let (status, body) = get(c, appview, "app.bsky.feed.getPosts", None, &[("uris", uri)]).await;
            if status == 200 && body["posts"][0]["uri"] == uri.as_str() { Ok(()) } else { Err(format!("HTTP {status}: {body}")) }
        }
    })
    .await;

    let (bob, alice) = (net.account("bob.test"), net.account("alice.test"));
    let (_, bob_jwt) = login(&c, &net, bob).await;
    let (_, alice_jwt) = login(&c, &net, alice).await;
    let like = json!({"$type": "app.bsky.feed.like", "subject": subject, "createdAt": now()});
    writes(&c, &net, &bob.did, &bob_jwt, "app.bsky.feed.like", like.clone()).await;
    writes(&c, &net, &alice.did, &alice_jwt, "app.bsky.feed.like", like).await;
    let reply = json!({"$type": "app.bsky.feed.post", "text": format!("Je viens ! {run}"), "createdAt": now(),
        "reply": {"root": subject, "parent": subject}});
    writes(&c, &net, &bob.did, &bob_jwt, "app.bsky.feed.post", reply).await;
    let quote = json!({"$type": "app.bsky.feed.post", "text": format!("À tester {run}"), "createdAt": now(),
        "embed": {"$type": "app.bsky.embed.record", "record": subject}});
    writes(&c, &net, &alice.did, &alice_jwt, "app.bsky.feed.post", quote).await;
    let follow = json!({"$type": "app.bsky.graph.follow", "subject": did, "createdAt": now()});
    writes(&c, &net, &bob.did, &bob_jwt, "app.bsky.graph.follow", follow).await;

    // Read through the port until the AppView has indexed all of it.
    let missing = format!("at://{did}/app.bsky.feed.post/3zzzzzzzzzzzz");
    let at = Utc::now();
    let posts = [PostRef { platform_post_id: &uri, published_at: at }, PostRef { platform_post_id: &missing, published_at: at }];
    let want = |bookmarks: Option<u64>| MetricCounters {
        likes: Some(2),
        reposts: Some(0),
        replies: Some(1),
        quotes: Some(1),
        bookmarks,
        ..Default::default()
    };
    let answers = eventually("2 likes, 1 reply, 1 quote through post_counters_batch", || {
        let (a, ch, creds, posts) = (&a, &ch, &creds, &posts);
        async move {
            let answers = a.post_counters_batch(ch, creds, posts).await.map_err(|e| format!("{e:?}"))?;
            match &answers[0] {
                Ok(got) if *got == want(got.bookmarks) => Ok(answers),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[1], Err(MetricsError::Gone), "a post the network does not have");
    let followers = eventually("1 follower through the port", || {
        let (a, ch, creds) = (&a, &ch, &creds);
        async move {
            match a.followers(ch, creds).await {
                Ok(Some(1)) => Ok(1),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;

    // What the AppView itself says, asked directly (not through the PDS the adapter talks to).
    let (status, views) = get(&c, &net.appview, "app.bsky.feed.getPosts", None, &[("uris", &uri)]).await;
    assert_eq!(status, 200, "{views}");
    let view = &views["posts"][0];
    let counted = answers[0].as_ref().unwrap();
    for (field, got) in
        [("likeCount", counted.likes), ("repostCount", counted.reposts), ("replyCount", counted.replies), ("quoteCount", counted.quotes)]
    {
        assert_eq!(view[field].as_u64(), got, "{field}: {view}");
    }
    assert_eq!(view["bookmarkCount"].as_u64(), counted.bookmarks, "{view}");
    let (status, profile) = get(&c, &net.appview, "app.bsky.actor.getProfile", None, &[("actor", &did)]).await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["followersCount"].as_u64(), Some(followers), "{profile}");
}
