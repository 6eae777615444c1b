//! Issue 3's promise through the real entry point, `herald serve`: a contributor's post waits
//! for approval; an approved post goes out once, at its second; a failing channel is retried
//! then failed with a reason while the other channel publishes; retrying republishes only the
//! failed channel; killing serve in the middle of publishing and restarting makes no duplicate.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use herald_core::platforms::sandbox::{OutboxEntry, Publication, read_journal};

/// Fast publisher settings so retries and lease expiry happen within a test.
const FAST: &[(&str, &str)] =
    &[("HERALD_PUBLISH_LEASE_SECS", "3"), ("HERALD_PUBLISH_BACKOFF_MS", "200"), ("HERALD_PUBLISH_MAX_ATTEMPTS", "3")];

/// `herald serve` with the fast publisher settings.
struct Serve;

impl Serve {
    fn start(data_dir: &Path) -> crate::common::serve::Serve {
        Self::start_with(data_dir, &[])
    }

    fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> crate::common::serve::Serve {
        let env: Vec<(&str, &str)> = FAST.iter().chain(env).copied().collect();
        crate::common::serve::Serve::start_with(data_dir, &env)
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("serve answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, key, Some(body)).await
    }

    async fn get(&self, path: &str, key: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, key, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn key(&self, admin: &str, role: &str) -> String {
        let (status, body) = self.post("/v1/keys", admin, json!({"role": role, "name": role})).await;
        assert_eq!(status, 201, "{body}");
        body["key"].as_str().expect("the new key").to_owned()
    }

    async fn channel(&self, admin: &str, name: &str, credentials: Value) -> String {
        let (status, body) = self
            .post(
                "/v1/channels",
                admin,
                json!({"platform": "sandbox", "name": name, "time_zone": "Europe/Paris", "credentials": credentials}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("channel id").to_owned()
    }

    /// Polls a post until every delivery satisfies `done`, or panics after `secs`.
    async fn wait_for(&self, post: &str, key: &str, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let p = self.get(&format!("/v1/posts/{post}"), key).await;
            let ds = p["deliveries"].as_array().expect("deliveries");
            if ds.iter().all(&done) {
                return p;
            }
            assert!(Instant::now() < deadline, "post did not settle in {secs} s: {p:#}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn in_secs(s: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(s)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn state(d: &Value) -> &str {
    d["state"].as_str().unwrap_or("")
}

/// Lines of the sandbox's journal for one delivery: more than one is a duplicate.
fn publications(data_dir: &Path, delivery: &str) -> usize {
    read_journal(&data_dir.join("outbox")).unwrap().iter().filter(|p| p.key() == delivery).count()
}

/// The sandbox's post of one delivery.
fn outbox_entry(data_dir: &Path, delivery: &str) -> OutboxEntry {
    read_journal(&data_dir.join("outbox"))
        .unwrap()
        .into_iter()
        .find_map(|p| match p {
            Publication::Post(entry) if entry.delivery_id == delivery => Some(entry),
            _ => None,
        })
        .unwrap_or_else(|| panic!("delivery {delivery} is not in the sandbox's journal"))
}

fn events(data_dir: &Path, kind: &str) -> Vec<Value> {
    std::fs::read_to_string(data_dir.join("events.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["detail-type"] == kind)
        .collect()
}

#[tokio::test]
async fn approval_then_exactly_once_at_its_second() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: crate::common::process::http_client(), base: serve.url.clone() };
    let contributor = api.key(&admin, "contributor").await;
    let editor = api.key(&admin, "editor").await;
    let channel = api.channel(&admin, "Café du coin", json!({})).await;

    let at = in_secs(4);
    let (status, post) =
        api.post("/v1/posts", &contributor, json!({"text": "Galettes today ✨", "channel_ids": [channel], "publish_at": at})).await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_str().unwrap().to_owned();
    assert_eq!(state(&post["deliveries"][0]), "pending_approval");
    let delivery = post["deliveries"][0]["id"].as_str().unwrap().to_owned();

    // A contributor cannot approve; an editor can.
    let (status, _) = api.post(&format!("/v1/posts/{id}/approve"), &contributor, json!({})).await;
    assert_eq!(status, 403);
    let version = post["version"].as_u64().expect("the post's version");
    let (status, body) = api.post(&format!("/v1/posts/{id}/approve"), &editor, json!({"version": version})).await;
    assert_eq!(status, 200, "{body}");

    let done = api.wait_for(&id, &editor, 20, |d| state(d) == "published").await;
    let d = &done["deliveries"][0];
    let published_at: DateTime<Utc> = d["published_at"].as_str().unwrap().parse().unwrap();
    let scheduled: DateTime<Utc> = at.parse().unwrap();
    assert!(published_at >= scheduled, "never early: {published_at} vs {scheduled}");
    assert!(d["platform_post_id"].as_str().is_some_and(|p| p.contains(&delivery)));
    assert!(d["url"].as_str().is_some());

    // Once: one journal line, one publication, one event, even after more publisher runs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let entry = outbox_entry(dir.path(), &delivery);
    assert_eq!(entry.text, "Galettes today ✨");
    assert_eq!(entry.published_at, published_at, "the API says when the network says");
    assert_eq!(publications(dir.path(), &delivery), 1);
    assert_eq!(events(dir.path(), "Post Published").len(), 1);
}

#[tokio::test]
async fn a_failing_channel_fails_with_a_reason_and_retry_touches_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: crate::common::process::http_client(), base: serve.url.clone() };
    let good = api.channel(&admin, "good", json!({})).await;
    let flaky = api.channel(&admin, "flaky", json!({"fail_with": "transient"})).await;

    let (status, post) =
        api.post("/v1/posts", &admin, json!({"text": "Two channels", "channel_ids": [good, flaky], "publish_at": in_secs(2)})).await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_str().unwrap().to_owned();
    let settled = api.wait_for(&id, &admin, 30, |d| matches!(state(d), "published" | "failed")).await;
    let by = |ch: &str| settled["deliveries"].as_array().unwrap().iter().find(|d| d["channel_id"] == ch).unwrap().clone();
    let (ok, failed) = (by(&good), by(&flaky));
    assert_eq!(state(&ok), "published");
    assert_eq!(state(&failed), "failed");
    assert_eq!(failed["attempts"], 3, "retried up to the bound");
    assert_eq!(failed["last_error"], "gave up after 3 attempts: sandbox: simulated outage");
    assert_eq!(events(dir.path(), "Post Failed").len(), 1);
    let good_delivery = ok["id"].as_str().unwrap().to_owned();
    let good_entry = outbox_entry(dir.path(), &good_delivery);

    // The network recovers; retrying the post republishes the failed channel only.
    let (status, body) = api
        .call(reqwest::Method::PATCH, &format!("/v1/channels/{flaky}"), &admin, Some(json!({"credentials": {}})))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.post(&format!("/v1/posts/{id}/retry"), &admin, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let again = api.wait_for(&id, &admin, 20, |d| state(d) == "published").await;
    assert_eq!(again["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(publications(dir.path(), &good_delivery), 1, "the good channel was not published again");
    assert_eq!(outbox_entry(dir.path(), &good_delivery), good_entry);
    assert_eq!(publications(dir.path(), failed["id"].as_str().unwrap()), 1);
}

#[tokio::test]
async fn killing_serve_mid_publish_and_restarting_makes_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: crate::common::process::http_client(), base: serve.url.clone() };
    // The network takes the post at once but answers 4 s later: serve dies before it hears back.
    let slow = api.channel(&admin, "slow", json!({"ack_delay_ms": "4000"})).await;
    let (status, post) =
        api.post("/v1/posts", &admin, json!({"text": "Do not double me", "channel_ids": [slow], "publish_at": in_secs(1)})).await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_str().unwrap().to_owned();
    let delivery = post["deliveries"][0]["id"].as_str().unwrap().to_owned();

    // Wait until the network has the post, then kill serve before it records anything.
    let deadline = Instant::now() + Duration::from_secs(15);
    while publications(dir.path(), &delivery) == 0 {
        assert!(Instant::now() < deadline, "the sandbox never received the post");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.kill();

    let serve = Serve::start(dir.path());
    let api = Api { http: crate::common::process::http_client(), base: serve.url.clone() };
    // The claim's lease (3 s here) runs out; the publisher reconciles instead of posting again.
    let done = api.wait_for(&id, &admin, 30, |d| state(d) == "published").await;
    assert_eq!(publications(dir.path(), &delivery), 1, "no duplicate after the restart");
    assert_eq!(done["deliveries"][0]["attempts"], 2, "the second attempt found the post instead of posting");
    assert_eq!(events(dir.path(), "Post Published").len(), 1);
}

#[tokio::test]
async fn events_go_out_as_signed_standard_webhooks() {
    use axum::http::HeaderMap;
    use herald_core::webhooks::StandardWebhooks;
    use std::sync::{Arc, Mutex};

    type Received = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;
    let received: Received = Arc::default();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let received = received.clone();
            move |headers: HeaderMap, body: axum::body::Bytes| async move {
                received.lock().unwrap().push((headers, body.to_vec()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &[("HERALD_WEBHOOK_URLS", hook.as_str()), ("HERALD_WEBHOOK_SECRET", secret)]);
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: crate::common::process::http_client(), base: serve.url.clone() };
    let channel = api.channel(&admin, "hooked", json!({})).await;
    let (status, post) =
        api.post("/v1/posts", &admin, json!({"text": "Hook me", "channel_ids": [channel], "publish_at": in_secs(1)})).await;
    assert_eq!(status, 201, "{post}");
    let delivery = post["deliveries"][0]["id"].as_str().unwrap().to_owned();

    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (headers, body) = received.lock().unwrap()[0].clone();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let signer = StandardWebhooks::new(secret).unwrap();
    signer
        .verify(&header("webhook-id"), &header("webhook-timestamp"), &header("webhook-signature"), &body, Utc::now().timestamp())
        .expect("the signature verifies with the shared secret");
    assert!(header("webhook-id").starts_with("msg_"));
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["type"], "post.published");
    assert_eq!(payload["data"]["delivery_id"], delivery.as_str());
}

/// Connecting a channel through `herald serve` asks the network once (Mastodon's
/// `verify_credentials`), so what would fail at publish time is refused at once. The private-network
/// guard (`HERALD_ALLOW_PRIVATE_NETWORK`) holds there too: without the variable (as in production)
/// a Mastodon instance on loopback is refused when connecting, and the fake hears nothing; with
/// `=1` (local development, these tests' fakes) a revoked token is a 422 naming the field, an
/// instance that does not answer is a 503 with nothing saved, and good credentials connect and
/// publish.
#[tokio::test]
async fn connecting_checks_credentials_with_the_network_and_the_private_network_guard() {
    let fake = crate::common::mastodon::FakeMastodon::start().await;
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let connect = |instance: &str, token: &str| {
        json!({"platform": "mastodon", "name": "@cafe@masto.test", "time_zone": "Europe/Paris",
            "credentials": {"instance_url": instance, "access_token": token}})
    };

    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: reqwest::Client::new(), base: serve.url.clone() };
    let (status, err) = api.post("/v1/channels", &admin, connect(&fake.url, "tok")).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("credentials.instance_url")), "{err}");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("127.0.0.1 is a private address (loopback); refused (HERALD_ALLOW_PRIVATE_NETWORK=1 allows it)"), "{message}");
    assert!(fake.seen().is_empty(), "the fake instance was reached: {:?}", fake.seen());
    drop(serve);

    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &[("HERALD_ALLOW_PRIVATE_NETWORK", "1")]);
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: reqwest::Client::new(), base: serve.url.clone() };

    let (status, err) = api.post("/v1/channels", &admin, connect(&fake.url, "revoked")).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("credentials.access_token")), "{err}");
    assert!(err["error"]["message"].as_str().unwrap_or_default().contains("Mastodon refused them"), "{err}");

    let (status, err) = api.post("/v1/channels", &admin, connect(&closed, "tok")).await;
    assert_eq!(status, 503, "{err}");
    assert!(err["error"]["message"].as_str().unwrap_or_default().contains("nothing was saved"), "{err}");
    let channels = api.get("/v1/channels", &admin).await;
    assert_eq!(channels["items"], json!([]), "refused channels are not kept");

    let (status, channel) = api.post("/v1/channels", &admin, connect(&fake.url, "tok")).await;
    assert_eq!(status, 201, "{channel}");
    assert_eq!(channel["can_publish"], true);
    assert_eq!(fake.seen_at("GET", "/api/v1/accounts/verify_credentials").len(), 2, "one check per good or revoked attempt");
    let (status, post) = api
        .post("/v1/posts", &admin, json!({"text": "Bonjour", "channel_ids": [channel["id"]], "publish_at": in_secs(1)}))
        .await;
    assert_eq!(status, 201, "{post}");
    let id = post["id"].as_str().unwrap();
    let done = api.wait_for(id, &admin, 20, |d| matches!(state(d), "published" | "failed")).await;
    assert_eq!(state(&done["deliveries"][0]), "published", "{done}");
    assert_eq!(fake.statuses().len(), 1);
}

/// A picture header (16 × 16) and some bytes: what the upload checks and the networks read.
fn picture() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10".to_vec();
    png.extend((0..3000u32).map(|i| (i % 251) as u8));
    png
}

#[tokio::test]
async fn an_uploaded_picture_is_kept_checked_and_published_with_its_post() {
    let fake = crate::common::mastodon::FakeMastodon::start().await;
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(dir.path(), &[("HERALD_ALLOW_PRIVATE_NETWORK", "1")]);
    let admin = serve.key.clone().expect("first-run admin key");
    let api = Api { http: reqwest::Client::new(), base: serve.url.clone() };
    let channel = api
        .post("/v1/channels", &admin, json!({"platform": "mastodon", "name": "@cafe@masto.test", "time_zone": "Europe/Paris",
            "credentials": {"instance_url": fake.url, "access_token": "tok"}}))
        .await
        .1;
    let picture = picture();

    // Refused before any address is made: a type networks do not take, a size out of bounds.
    let (status, err) = api.post("/v1/media", &admin, json!({"content_type": "application/pdf", "bytes": 10})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("content_type")), "{err}");
    let (status, err) = api.post("/v1/media", &admin, json!({"content_type": "image/png", "bytes": 30_000_000})).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("bytes")), "{err}");

    let (status, ticket) = api.post("/v1/media", &admin, json!({"content_type": "image/png", "bytes": picture.len()})).await;
    assert_eq!(status, 201, "{ticket}");
    let (url, reference) = (ticket["url"].as_str().unwrap(), ticket["reference"].as_str().unwrap());
    assert!(url.starts_with(&format!("{}/v1/media/upload/", serve.url)), "{ticket}");
    assert_eq!((ticket["method"].as_str(), ticket["headers"]["Content-Type"].as_str()), (Some("PUT"), Some("image/png")));

    // A post cannot name it before the file arrives.
    let post_body = |text: &str| {
        json!({"text": text, "channel_ids": [channel["id"]], "publish_at": in_secs(2),
            "media": [{"url": reference, "alt": "Un croissant sur le comptoir"}]})
    };
    let (status, err) = api.post("/v1/posts", &admin, post_body("Trop tôt")).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("media[0].url")), "{err}");
    assert!(err["error"]["message"].as_str().unwrap_or_default().contains("has not arrived"), "{err}");

    // The address is the permission: no key; a changed one is refused; the bytes must be
    // what was announced; nothing is kept from a refused upload.
    let http = reqwest::Client::new();
    let put = |to: String, body: Vec<u8>| http.put(to).header("content-type", "image/png").body(body).send();
    let forged = put(url.replace("signature=", "signature=00"), picture.clone()).await.unwrap();
    assert_eq!(forged.status(), 403);
    let short = put(url.to_owned(), picture[..100].to_vec()).await.unwrap();
    assert_eq!(short.status(), 422, "{}", short.text().await.unwrap());
    let stored = dir.path().join("media");
    let files = || walk(&stored);
    assert_eq!(files(), 0, "a refused upload leaves nothing");
    let sent = put(url.to_owned(), picture.clone()).await.unwrap();
    assert_eq!(sent.status(), 200);
    assert_eq!(sent.json::<Value>().await.unwrap()["reference"], reference);
    assert_eq!(files(), 1);

    let (status, post) = api.post("/v1/posts", &admin, post_body("Le croissant du jour")).await;
    assert_eq!(status, 201, "{post}");
    assert_eq!(post["media"][0]["upload"], json!({"content_type": "image/png", "bytes": picture.len(), "fetchable": false}), "no HERALD_PUBLIC_URL: {post}");
    let id = post["id"].as_str().unwrap();
    let done = api.wait_for(id, &admin, 20, |d| matches!(state(d), "published" | "failed")).await;
    assert_eq!(state(&done["deliveries"][0]), "published", "{done}");

    // Read from the data directory and sent to the instance byte for byte.
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert!(uploads[0].windows(picture.len()).any(|w| w == picture.as_slice()), "the picture is in the upload");
    assert!(String::from_utf8_lossy(&uploads[0]).contains("Un croissant sur le comptoir"));
    let (_, status_body) = &fake.statuses()[0];
    assert_eq!(status_body["media_ids"], json!(["7001"]));
}

/// How many files are under `dir` (0 when it does not exist).
fn walk(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}
