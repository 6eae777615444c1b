//! Platform webhooks through the API router in process ([`App`]): the subscription handshakes
//! cannot be turned into a signing oracle. X's CRC answers `HMAC(consumer_secret, crc_token)`,
//! which is the signature of a body equal to the token; LinkedIn's `challengeCode` answers
//! `HMAC(client_secret, code)`, the signature of a body `b` when `code = "hmacsha256=" + b`.
//! Herald answers only tokens of the platforms' own shape, and refuses any delivery whose body
//! has that shape, so an answer never signs a body Herald would keep.

use axum::body::Body;
use axum::http::{Method, Request};
use chrono::Duration;
use herald_core::domain::{ChannelId, Role};
use herald_core::intake::webhooks::signing;
use herald_core::store::{PageRequest, RawEventStore};
use serde_json::{Value, json};

use crate::common::{App, Raw, t0};

const X_SECRET: &str = "x-consumer-secret";
const LI_SECRET: &str = "li-client-secret";

const X_TWEETS: &[u8] = include_bytes!("../../shared/tests/fixtures/webhooks/x/aaa_tweets.json");
const LI_COMMENT: &[u8] = include_bytes!("../../shared/tests/fixtures/webhooks/linkedin/comment.json");

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn query_value(text: &[u8]) -> String {
    text.iter()
        .map(|&b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Team `cafe`'s admin key and a channel of `platform` with these credentials.
async fn channel(app: &App, platform: &str, credentials: Value) -> (String, String) {
    let admin = app.key("cafe", Role::Admin).await;
    let id = app
        .channel(&admin, json!({"platform": platform, "name": platform, "time_zone": "Europe/Paris", "credentials": credentials}))
        .await;
    (admin, id)
}

async fn handshake(app: &App, platform: &str, channel: &str, query: &str) -> Raw {
    app.raw(Method::GET, &format!("/webhooks/{platform}/{channel}?{query}"), None, None, None).await
}

async fn deliver(app: &App, platform: &str, channel: &str, header: (&str, &str), body: &[u8]) -> Raw {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/webhooks/{platform}/{channel}"))
        .header("content-type", "application/json")
        .header(header.0, header.1)
        .body(Body::from(body.to_vec()))
        .unwrap();
    app.send(req).await
}

/// Nothing at all is stored for the channel: no interaction in any status, no raw body.
async fn assert_nothing_stored(app: &App, admin: &str, channel: &str) {
    for status in ["open", "assigned", "answered", "closed"] {
        let (code, page) = app.get(&format!("/v1/inbox?status={status}"), admin).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["items"], json!([]), "no interaction may be stored: {page}");
    }
    let ch = ChannelId::parse("c", channel).unwrap();
    let raw = app.store.raw_events(ch, t0() - Duration::days(30), t0() + Duration::days(30), &PageRequest::first(10)).await.unwrap();
    assert!(raw.items.is_empty(), "no raw body may be kept: {} kept", raw.items.len());
}

#[tokio::test]
async fn an_x_crc_answer_never_signs_a_delivery_herald_keeps() {
    let app = App::new();
    let (admin, ch) = channel(&app, "x", json!({"consumer_secret": X_SECRET})).await;

    // The documented exchange still works (platforms.md §0.1's token is a UUID).
    let uuid = "9b4507b3-9040-4669-9ca3-6b94edb50553";
    let ok = handshake(&app, "x", &ch, &format!("crc_token={uuid}")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["response_token"], signing::x_crc_response_token(X_SECRET, uuid));

    // An attacker asks the CRC to MAC a whole delivery: no answer, whatever the token holds.
    let crafted = handshake(&app, "x", &ch, &format!("crc_token={}", query_value(X_TWEETS))).await;
    assert_eq!(crafted.status, 400, "a JSON body is not a CRC token: {}", crafted.text());
    assert_eq!(crafted.json()["error"]["field"], "crc_token");
    assert!(crafted.json().get("response_token").is_none());

    // Whatever token the CRC does answer, a POST of that token signed with the answer is 401.
    let mut answered = 0;
    let tokens: [&[u8]; 5] = [X_TWEETS, uuid.as_bytes(), b"aGVsbG8gd29ybGQ=", b"12345", b"crc_A-b.c~d"];
    for token in tokens {
        let got = handshake(&app, "x", &ch, &format!("crc_token={}", query_value(token))).await;
        if got.status != 200 {
            continue;
        }
        answered += 1;
        let answer = got.json()["response_token"].as_str().expect("a response_token").to_owned();
        let forged = deliver(&app, "x", &ch, ("x-twitter-webhooks-signature", &answer), token).await;
        assert_eq!(forged.status, 401, "{}: {}", String::from_utf8_lossy(token), forged.text());
        assert_eq!(forged.json()["error"]["code"], "unauthorized");
    }
    assert_eq!(answered, 4, "every well-formed token is answered");
    assert_nothing_stored(&app, &admin, &ch).await;

    // The body itself, signed by X with the secret, is of course accepted.
    let genuine = deliver(&app, "x", &ch, ("x-twitter-webhooks-signature", &signing::x(X_SECRET, X_TWEETS)), X_TWEETS).await;
    assert_eq!(genuine.status, 200, "{}", genuine.text());
    assert!(genuine.json()["created"].as_u64().unwrap() >= 1, "{}", genuine.text());
}

#[tokio::test]
async fn a_linkedin_challenge_answer_never_signs_a_delivery_herald_keeps() {
    let app = App::new();
    let (admin, ch) = channel(&app, "linkedin", json!({"client_secret": LI_SECRET})).await;

    let uuid = "890e4665-4dfe-4ab1-b689-ed553bceeed3";
    let ok = handshake(&app, "linkedin", &ch, &format!("challengeCode={uuid}&applicationId=123")).await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["challengeResponse"], signing::linkedin_challenge_response(LI_SECRET, uuid));
    let upper = handshake(&app, "linkedin", &ch, &format!("challengeCode={}", uuid.to_uppercase())).await;
    assert_eq!(upper.status, 200, "hexadecimal in either case: {}", upper.text());

    // `challengeCode = "hmacsha256=" + body` would make the answer that body's X-LI-Signature.
    let mut code = b"hmacsha256=".to_vec();
    code.extend_from_slice(LI_COMMENT);
    let crafted = handshake(&app, "linkedin", &ch, &format!("challengeCode={}", query_value(&code))).await;
    assert_eq!(crafted.status, 400, "only a UUID is a challengeCode: {}", crafted.text());
    assert_eq!(crafted.json()["error"]["field"], "challengeCode");
    assert!(crafted.json().get("challengeResponse").is_none());
    for not_uuid in ["abc-123", "hmacsha256=x", "890e4665-4dfe-4ab1-b689-ed553bceeed", "890e4665-4dfe-4ab1-b689-ed553bceeed3a", "890e4665x4dfe-4ab1-b689-ed553bceeed3"] {
        let got = handshake(&app, "linkedin", &ch, &format!("challengeCode={}", query_value(not_uuid.as_bytes()))).await;
        assert_eq!(got.status, 400, "{not_uuid}: {}", got.text());
    }

    // Had the crafted code been answered, its answer would be the body's signature: it is
    // refused whichever way it comes.
    let would_be = signing::linkedin_challenge_response(LI_SECRET, &String::from_utf8_lossy(&code));
    assert_eq!(would_be, signing::linkedin(LI_SECRET, LI_COMMENT), "the oracle the UUID rule closes");
    // An answered code's response does not sign the code as a body either.
    let answer = ok.json()["challengeResponse"].as_str().unwrap().to_owned();
    let forged = deliver(&app, "linkedin", &ch, ("X-LI-Signature", &answer), uuid.as_bytes()).await;
    assert_eq!(forged.status, 401, "{}", forged.text());
    assert_nothing_stored(&app, &admin, &ch).await;

    let genuine = deliver(&app, "linkedin", &ch, ("X-LI-Signature", &signing::linkedin(LI_SECRET, LI_COMMENT)), LI_COMMENT).await;
    assert_eq!((genuine.status, genuine.json()["created"].as_u64()), (200, Some(1)), "{}", genuine.text());
}

// ------------------------------------------------------------------------------------------
// Over-long ids from a platform: refused for that event alone, never a 500.
// ------------------------------------------------------------------------------------------

const META_SECRET: &str = "meta-app-secret";

/// A Facebook Page comment by `author` (id and name), with its comment id.
fn fb_comment(comment_id: &str, author_id: &str, author_name: &str) -> Value {
    json!({
        "field": "feed",
        "value": {
            "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": "106123456789012_1234567890",
            "parent_id": "106123456789012_1234567890", "from": {"id": author_id, "name": author_name},
            "message": "Vous ouvrez à quelle heure dimanche ?", "created_time": 1798966800,
        },
    })
}

fn fb_body(changes: Vec<Value>) -> Vec<u8> {
    json!({"object": "page", "entry": [{"id": "106123456789012", "time": 1798966805, "changes": changes}]}).to_string().into_bytes()
}

async fn deliver_fb(app: &App, channel: &str, body: &[u8]) -> Raw {
    deliver(app, "facebook", channel, ("X-Hub-Signature-256", &signing::meta(META_SECRET, body)), body).await
}

#[tokio::test]
async fn an_over_long_platform_id_refuses_that_event_only_and_the_delivery_is_acknowledged() {
    use herald_core::domain::{MAX_AUTHOR_NAME_BYTES, MAX_ID_BYTES};
    let app = App::new();
    let (admin, ch) = channel(&app, "facebook", crate::common::meta::credentials("facebook", META_SECRET, "v")).await;
    let long_id = "9".repeat(MAX_ID_BYTES + 1);
    let longest_id = "8".repeat(MAX_ID_BYTES);
    let body = fb_body(vec![
        fb_comment("1_1", &long_id, "Long Author Id"),
        fb_comment(&long_id, "42", "Long Comment Id"),
        fb_comment("1_2", "43", &"N".repeat(MAX_AUTHOR_NAME_BYTES + 1)),
        fb_comment("1_3", &longest_id, "At The Bound"),
        fb_comment("1_4", "44", "Camille Martin"),
    ]);
    let got = deliver_fb(&app, &ch, &body).await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.json(), json!({"created": 2, "duplicates": 0, "ignored": 3}), "one bad event does not sink the batch");
    let (_, page) = app.get("/v1/inbox", &admin).await;
    let mut authors: Vec<&str> = page["items"].as_array().unwrap().iter().map(|i| i["author"]["name"].as_str().unwrap()).collect();
    authors.sort();
    assert_eq!(authors, vec!["At The Bound", "Camille Martin"]);
    // The platform retries: the same answer, nothing more.
    let again = deliver_fb(&app, &ch, &body).await;
    assert_eq!(again.json(), json!({"created": 0, "duplicates": 2, "ignored": 3}));

    // The contact endpoints take no author id that could not have been stored (its index key
    // would be over DynamoDB's limit): 422 naming it, never a 500.
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = app.call(method.clone(), &format!("/v1/contacts/facebook/{long_id}"), Some(&admin), None).await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some("author_id")), "{method}: {body}");
    }
    let (status, body) = app.get(&format!("/v1/contacts/facebook/{longest_id}"), &admin).await;
    assert_eq!((status, body["items"].as_array().map(Vec::len)), (200, Some(1)), "{body}");
}

/// A notification poller at the port, handing out what it was given once.
struct OncePoller(std::sync::Mutex<Vec<(String, herald_core::domain::InteractionDraft)>>);

#[async_trait::async_trait]
impl herald_core::platforms::InboxAdapter for OncePoller {
    async fn poll(
        &self,
        _: &herald_core::domain::Channel,
        _: &herald_core::crypto::Credentials,
        _: Option<&str>,
    ) -> Result<herald_core::platforms::Polled, herald_core::platforms::PublishError> {
        let items = std::mem::take(&mut *self.0.lock().unwrap());
        Ok(herald_core::platforms::Polled { items, cursor: Some("c1".into()) })
    }

    async fn reply(
        &self,
        _: &herald_core::domain::Channel,
        _: &herald_core::crypto::Credentials,
        _: &herald_core::domain::Interaction,
        _: &str,
    ) -> Result<herald_core::platforms::Published, herald_core::platforms::PublishError> {
        Err(herald_core::platforms::PublishError::Permanent { reason: "not here".into() })
    }
}

#[tokio::test]
async fn an_over_long_polled_thread_id_refuses_that_item_only() {
    use herald_core::domain::{ChannelId, InteractionDraft, InteractionKind, MAX_ID_BYTES, MAX_TEXT_BYTES, TeamId};
    use herald_core::store::ChannelStore;
    let app = App::new();
    let (admin, ch) = channel(&app, "mastodon", json!({"access_token": "t", "instance_url": "https://example.social"})).await;
    let draft = |id: &str, thread: String, text: String| InteractionDraft {
        kind: InteractionKind::Mention,
        external_id: id.into(),
        thread_id: thread,
        parent_id: None,
        author_id: "109876543210".into(),
        author_name: "Marie".into(),
        text,
        created_at: t0(),
        post_external_id: None,
        post_url: None,
        reply_ref: None,
    };
    let poller = OncePoller(std::sync::Mutex::new(vec![
        ("s1".into(), draft("s1", "t".repeat(MAX_ID_BYTES + 1), "hello".into())),
        ("s2".into(), draft("s2", "s2".into(), "x".repeat(MAX_TEXT_BYTES + 1))),
        ("s3".into(), draft("s3", "s3".into(), "Super, à midi !".into())),
    ]));
    let team = TeamId::parse("t", "cafe").unwrap();
    let channel = app.store.get_channel(&team, ChannelId::parse("c", &ch).unwrap()).await.unwrap().unwrap();
    let summary = app.state.intake().poll_channel(&channel, &poller).await.expect("the poll is not a failure");
    assert_eq!((summary.created, summary.duplicates, summary.ignored), (1, 0, 2));
    let (_, page) = app.get("/v1/inbox", &admin).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["external_id"], "s3");

    // A poll that finds nothing new and keeps the cursor writes nothing.
    use herald_core::store::StateStore;
    let key = format!("poll#{ch}");
    let before = app.store.get_state(&key).await.unwrap().expect("the cursor is kept");
    let again = app.state.intake().poll_channel(&channel, &poller).await.expect("the poll is not a failure");
    assert_eq!(again.created, 0);
    assert_eq!(app.store.get_state(&key).await.unwrap(), Some(before), "no write when nothing moved");
}

// ------------------------------------------------------------------------------------------
// Erasure: a captured body replayed afterwards brings nothing back (for the retention period).
// ------------------------------------------------------------------------------------------

/// How many raw bodies the channel keeps.
async fn raw_count(app: &App, channel: &str) -> usize {
    let ch = ChannelId::parse("c", channel).unwrap();
    let window = (t0() - Duration::days(60), t0() + Duration::days(60));
    app.store.raw_events(ch, window.0, window.1, &PageRequest::first(100)).await.unwrap().items.len()
}

async fn contact_items(app: &App, admin: &str, author: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/contacts/facebook/{author}"), admin).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_body_replayed_after_an_erasure_brings_nothing_back_until_the_retention_period_ends() {
    let app = App::new();
    let (admin, ch) = channel(&app, "facebook", crate::common::meta::credentials("facebook", META_SECRET, "v")).await;
    // Meta signs no timestamp: a captured body and its signature are valid for ever.
    let body = fb_body(vec![fb_comment("1_100", "gdpr-person", "Camille Martin")]);
    let signature = signing::meta(META_SECRET, &body);
    let first = deliver(&app, "facebook", &ch, ("X-Hub-Signature-256", &signature), &body).await;
    assert_eq!(first.json(), json!({"created": 1, "duplicates": 0, "ignored": 0}));

    let (status, erased) = app.delete("/v1/contacts/facebook/gdpr-person", &admin).await;
    assert_eq!((status, erased), (200, json!({"removed": 2})), "the interaction and its raw body");
    assert_eq!(raw_count(&app, &ch).await, 0);

    // The same bytes, the same signature, a day later: acknowledged, nothing of them kept.
    app.clock.advance(Duration::days(1));
    let replayed = deliver(&app, "facebook", &ch, ("X-Hub-Signature-256", &signature), &body).await;
    assert_eq!(replayed.status, 200, "{}", replayed.text());
    assert_eq!(replayed.json(), json!({"created": 0, "duplicates": 0, "ignored": 1}));
    assert!(contact_items(&app, &admin, "gdpr-person").await.is_empty(), "nothing of the erased person is back");
    assert_eq!(raw_count(&app, &ch).await, 0, "nor its raw body");

    // A batch carrying the erased comment with someone else's: the other one is stored, and the
    // body (which holds the erased person's words) is not kept.
    let batch = fb_body(vec![fb_comment("1_100", "gdpr-person", "Camille Martin"), fb_comment("1_101", "someone-else", "Paul")]);
    let got = deliver_fb(&app, &ch, &batch).await;
    assert_eq!(got.json(), json!({"created": 1, "duplicates": 0, "ignored": 1}));
    assert_eq!(contact_items(&app, &admin, "someone-else").await.len(), 1);
    assert!(contact_items(&app, &admin, "gdpr-person").await.is_empty());
    assert_eq!(raw_count(&app, &ch).await, 0);
    // What the person writes after the erasure is a new message, and lands.
    let new = fb_body(vec![fb_comment("1_102", "gdpr-person", "Camille Martin")]);
    assert_eq!(deliver_fb(&app, &ch, &new).await.json(), json!({"created": 1, "duplicates": 0, "ignored": 0}));

    // Once the raw-body retention period (14 days from the erasure) is over, the tombstone no
    // longer blocks: the old body is an ordinary delivery again.
    app.clock.advance(Duration::days(13) + Duration::seconds(1));
    let late = deliver(&app, "facebook", &ch, ("X-Hub-Signature-256", &signature), &body).await;
    assert_eq!(late.json(), json!({"created": 1, "duplicates": 0, "ignored": 0}));
    assert_eq!(contact_items(&app, &admin, "gdpr-person").await.len(), 2);
}
