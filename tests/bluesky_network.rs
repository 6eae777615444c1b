//! The real Bluesky network that `tests/run` starts with `infra/bluesky/up`: PLC directory, PDS
//! and AppView from `@atproto/dev-env` on 127.0.0.1, with the accounts alice.test and bob.test.
//! `HERALD_TEST_BLUESKY_NETWORK` names the JSON file that describes it:
//!
//! ```json
//! {"pds": "http://127.0.0.1:P", "appview": "http://127.0.0.1:A", "plc": "http://127.0.0.1:L",
//!  "accounts": [{"handle": "alice.test", "did": "did:plc:…", "password": "…"}, …]}
//! ```
//!
//! These tests check the network itself with a plain HTTP client, along the path the Bluesky
//! adapter takes (session, post with a link facet at UTF-8 byte offsets, counts, notifications),
//! so that an adapter test failing here points at the adapter, not the rig.
//!
//! Without `HERALD_TEST_BLUESKY_NETWORK` they FAIL rather than skip, unless
//! `HERALD_SKIP_BLUESKY_NETWORK=1` says to skip (tests/run honours the same variable, loudly).
//! Each test makes its own records, so re-running against one network is fine.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long indexing by the AppView (counts, notifications) may take before a test fails.
const INDEXING_DEADLINE: Duration = Duration::from_secs(10);

struct Network {
    pds: String,
    appview: String,
    plc: String,
    accounts: Vec<Account>,
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

/// The network described by `HERALD_TEST_BLUESKY_NETWORK`; `None` (skip) only when
/// `HERALD_SKIP_BLUESKY_NETWORK=1`.
fn network() -> Option<Network> {
    if std::env::var("HERALD_SKIP_BLUESKY_NETWORK").as_deref() == Ok("1") {
        eprintln!(
            "WARNING: HERALD_SKIP_BLUESKY_NETWORK=1: NOT testing against the Bluesky network \
             (infra/bluesky); this test checked nothing"
        );
        return None;
    }
    let path = std::env::var("HERALD_TEST_BLUESKY_NETWORK").unwrap_or_else(|_| {
        panic!(
            "HERALD_TEST_BLUESKY_NETWORK is not set: the Bluesky tests need the loopback Bluesky \
             network (PLC + PDS + AppView). Run the suite with `tests/run`, which starts one with \
             infra/bluesky/up, or `eval \"$(infra/bluesky/up)\"` first; \
             HERALD_SKIP_BLUESKY_NETWORK=1 skips them."
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
    Some(Network { pds: field(&v, "pds"), appview: field(&v, "appview"), plc: field(&v, "plc"), accounts })
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
