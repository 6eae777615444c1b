//! The unified inbox through the HTTP API: interactions arrive by signed webhook (the generic
//! Standard Webhooks endpoint, which any tool can post to), once each; unsigned ones are
//! refused; the inbox lists, filters, assigns, notes, closes, replies; a burst of negative
//! comments opens one incident; erasing an author leaves nothing of theirs.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::{DateTime, Duration, Utc};
use crate::common::{App, t0};
use herald_core::crypto::Credentials;
use herald_core::domain::{Channel, ChannelId, Interaction, Platform, Role};
use herald_core::events::EventKind;
use herald_core::platforms::{Adapters, InboxAdapter, Polled, PublishError, Published};
use herald_core::store::{PageRequest, RawEventStore};
use herald_core::webhooks::StandardWebhooks;
use serde_json::{Value, json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A `generic` channel holding the Standard Webhooks secret; returns (admin key, channel id).
async fn generic_channel(app: &App) -> (String, String) {
    let admin = app.key("cafe", Role::Admin).await;
    let id = app
        .channel(
            &admin,
            json!({"platform": "generic", "name": "CRM", "time_zone": "Europe/Paris", "credentials": {"webhook_secret": SECRET}}),
        )
        .await;
    (admin, id)
}

/// An interaction written a few seconds before `at` (the app's clock).
fn interaction_at(at: DateTime<Utc>, id: &str, author: &str, text: &str) -> Value {
    json!({
        "kind": "comment", "id": id, "author": {"id": author, "name": format!("Name of {author}")},
        "text": text, "created_at": (at - Duration::seconds(5)).to_rfc3339(),
    })
}

fn interaction(id: &str, author: &str, text: &str) -> Value {
    interaction_at(t0(), id, author, text)
}

/// A webhook request signed for `at` (unix seconds), with the message id `msg`.
fn signed(channel: &str, body: &Value, msg: &str, at: i64, secret: &str) -> Request<Body> {
    let bytes = body.to_string().into_bytes();
    let signature = StandardWebhooks::new(secret).unwrap().sign(msg, at, &bytes);
    Request::builder()
        .method(Method::POST)
        .uri(format!("/webhooks/generic/{channel}"))
        .header("content-type", "application/json")
        .header("webhook-id", msg)
        .header("webhook-timestamp", at.to_string())
        .header("webhook-signature", signature)
        .body(Body::from(bytes))
        .unwrap()
}

async fn deliver(app: &App, channel: &str, body: &Value) -> Value {
    let now = app.state.clock.now().timestamp();
    let raw = app.send(signed(channel, body, &format!("msg_{}", body["id"].as_str().unwrap()), now, SECRET)).await;
    assert_eq!(raw.status, 200, "{}", String::from_utf8_lossy(&raw.body));
    raw.json()
}

async fn inbox(app: &App, key: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/v1/inbox{query}"), key).await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn raw_count(app: &App, channel: &str) -> usize {
    let ch = ChannelId::parse("c", channel).unwrap();
    app.store.raw_events(ch, t0() - Duration::days(30), t0() + Duration::days(30), &PageRequest::first(500)).await.unwrap().items.len()
}

#[tokio::test]
async fn a_signed_webhook_lands_once_and_redeliveries_create_nothing() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    let body = interaction("c-1", "u-1", "Your croissants are amazing, thank you! 🥐");
    assert_eq!(deliver(&app, &ch, &body).await, json!({"created": 1, "duplicates": 0, "ignored": 0}));
    // The platform retries (same body, new delivery attempt): 200, nothing new.
    assert_eq!(deliver(&app, &ch, &body).await, json!({"created": 0, "duplicates": 1, "ignored": 0}));

    let items = inbox(&app, &admin, "").await;
    assert_eq!(items.len(), 1, "{items:?}");
    let it = &items[0];
    assert_eq!((it["kind"].as_str(), it["external_id"].as_str(), it["status"].as_str()), (Some("comment"), Some("c-1"), Some("open")));
    assert_eq!(it["author"], json!({"id": "u-1", "name": "Name of u-1"}));
    assert_eq!(it["sentiment"]["label"], "positive", "{it}");
    assert_eq!(raw_count(&app, &ch).await, 1, "the raw body is kept once");
}

#[tokio::test]
async fn unsigned_mis_signed_stale_or_oversized_webhooks_are_refused_and_store_nothing() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    let body = interaction("c-2", "u-2", "hello");
    let now = app.state.clock.now().timestamp();

    let mut unsigned = signed(&ch, &body, "m1", now, SECRET);
    unsigned.headers_mut().remove("webhook-signature");
    assert_eq!(app.send(unsigned).await.status, 401);
    let wrong_secret = signed(&ch, &body, "m2", now, "whsec_c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1jaGFubmVscw==");
    assert_eq!(app.send(wrong_secret).await.status, 401);
    let stale = signed(&ch, &body, "m3", now - 600, SECRET);
    assert_eq!(app.send(stale).await.status, 401);
    // A signature over other bytes: the body was tampered with on the way.
    let mut tampered = signed(&ch, &body, "m4", now, SECRET);
    *tampered.body_mut() = Body::from(interaction("c-2", "u-2", "evil").to_string());
    let raw = app.send(tampered).await;
    assert_eq!(raw.status, 401);
    assert_eq!(raw.json()["error"]["code"], "unauthorized");

    let huge = json!({"kind": "comment", "id": "big", "author": {"id": "u", "name": "u"}, "text": "x".repeat(300 * 1024), "created_at": t0()});
    assert_eq!(app.send(signed(&ch, &huge, "m5", now, SECRET)).await.status, 413);

    // Unknown channel, or a channel of another platform: 404, whatever the signature.
    let other = "00000000-0000-4000-8000-000000000000";
    assert_eq!(app.send(signed(other, &body, "m6", now, SECRET)).await.status, 404);
    let mut wrong_platform = signed(&ch, &body, "m7", now, SECRET);
    *wrong_platform.uri_mut() = format!("/webhooks/facebook/{ch}").parse().unwrap();
    assert_eq!(app.send(wrong_platform).await.status, 404);

    assert!(inbox(&app, &admin, "").await.is_empty());
    assert_eq!(raw_count(&app, &ch).await, 0, "nothing of a refused webhook is kept");
}

#[tokio::test]
async fn a_signed_body_that_is_not_an_interaction_is_a_400_naming_the_field() {
    let app = App::new();
    let (_, ch) = generic_channel(&app).await;
    let now = app.state.clock.now().timestamp();
    let raw = app.send(signed(&ch, &json!({"kind": "comment", "id": "x"}), "m1", now, SECRET)).await;
    assert_eq!(raw.status, 400, "{}", String::from_utf8_lossy(&raw.body));
    assert!(raw.json()["error"]["field"].is_string(), "{}", raw.json());
}

#[tokio::test]
async fn the_inbox_filters_by_kind_sentiment_text_tag_and_channel_and_pages() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    let (status, wl) = app
        .call(Method::PUT, "/v1/watchlist", Some(&admin), Some(json!({"terms": ["Starbucks", "#brunch"]}).to_string()))
        .await;
    assert_eq!((status, &wl["terms"]), (200, &json!(["Starbucks", "#brunch"])));

    deliver(&app, &ch, &interaction("a", "u-a", "I love this place, best coffee in town")).await;
    deliver(&app, &ch, &interaction("b", "u-b", "Terrible service, cold coffee and rude staff. Never again.")).await;
    deliver(&app, &ch, &interaction("c", "u-c", "Better than Starbucks honestly")).await;
    let mut dm = interaction("d", "u-d", "Do you open on Sundays for #brunch?");
    dm["kind"] = json!("direct_message");
    deliver(&app, &ch, &dm).await;

    assert_eq!(inbox(&app, &admin, "").await.len(), 4);
    let negative = inbox(&app, &admin, "?sentiment=negative").await;
    assert_eq!(negative.iter().map(|i| i["external_id"].as_str().unwrap()).collect::<Vec<_>>(), vec!["b"]);
    let dms = inbox(&app, &admin, "?kind=direct_message").await;
    assert_eq!(dms.len(), 1);
    assert_eq!(dms[0]["tags"], json!(["#brunch"]));
    let starbucks = inbox(&app, &admin, "?tag=Starbucks").await;
    assert_eq!(starbucks.len(), 1);
    assert_eq!(starbucks[0]["external_id"], "c");
    let coffee = inbox(&app, &admin, "?q=COFFEE").await;
    assert_eq!(coffee.len(), 2);
    assert_eq!(inbox(&app, &admin, &format!("?channel_id={ch}")).await.len(), 4);
    assert!(inbox(&app, &admin, &format!("?channel_id={}", ChannelId::new())).await.is_empty());

    // Pages of one, filtered: every item once, then the end.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("/v1/inbox?q=coffee&limit=1&cursor={c}"),
            None => "/v1/inbox?q=coffee&limit=1".to_owned(),
        };
        let (status, page) = app.get(&q, &admin).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["items"].as_array().unwrap().iter().map(|i| i["external_id"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(n) => cursor = Some(n.to_owned()),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, vec!["a", "b"]);

    for (query, field) in [("?status=pending", "status"), ("?kind=tweet", "kind"), ("?sentiment=angry", "sentiment"), ("?colour=red", "colour")] {
        let (status, body) = app.get(&format!("/v1/inbox{query}"), &admin).await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some(field)), "{query}: {body}");
    }
}

#[tokio::test]
async fn assign_note_close_and_reopen_with_roles() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let contributor = app.key("cafe", Role::Contributor).await;
    deliver(&app, &ch, &interaction("n-1", "u-1", "Is the terrace open?")).await;
    let id = inbox(&app, &viewer, "").await[0]["id"].as_str().unwrap().to_owned();

    let (status, _) = app.post(&format!("/v1/inbox/{id}/assign"), &viewer, json!({"assignee": "marie"})).await;
    assert_eq!(status, 403, "viewers read only");
    let (status, it) = app.post(&format!("/v1/inbox/{id}/assign"), &contributor, json!({"assignee": "marie"})).await;
    assert_eq!((status, it["status"].as_str(), it["assignee"].as_str()), (200, Some("assigned"), Some("marie")));
    assert!(inbox(&app, &admin, "").await.is_empty(), "no longer open");
    assert_eq!(inbox(&app, &admin, "?status=assigned").await.len(), 1);
    assert_eq!(inbox(&app, &admin, "?assignee=Marie").await.len(), 1, "whose: the assigned ones, any case");
    assert!(inbox(&app, &admin, "?assignee=paul").await.is_empty());
    let (status, body) = app.get("/v1/inbox?assignee=%20", &admin).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("assignee")), "{body}");

    let (status, it) = app.post(&format!("/v1/inbox/{id}/notes"), &contributor, json!({"text": "regular, knows Paul"})).await;
    assert_eq!(status, 201);
    assert_eq!(it["notes"][0]["text"], "regular, knows Paul");
    let (status, body) = app.post(&format!("/v1/inbox/{id}/notes"), &contributor, json!({"text": "  "})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("text")));

    let (status, it) = app.call(Method::POST, &format!("/v1/inbox/{id}/close"), Some(&contributor), None).await;
    assert_eq!((status, it["status"].as_str()), (200, Some("closed")));
    let (status, it) = app.call(Method::POST, &format!("/v1/inbox/{id}/reopen"), Some(&contributor), None).await;
    assert_eq!((status, it["status"].as_str()), (200, Some("assigned")), "reopened to its assignee");

    let (status, thread) = app.get(&format!("/v1/inbox/{id}"), &viewer).await;
    assert_eq!(status, 200);
    assert_eq!(thread["thread"].as_array().unwrap().len(), 1);
    // Another team sees nothing of it.
    let stranger = app.key("other-team", Role::Admin).await;
    assert_eq!(app.get(&format!("/v1/inbox/{id}"), &stranger).await.0, 404);
}

/// A platform at the port: records replies, answers with an id and a link.
#[derive(Default)]
struct RecordingInbox(Mutex<Vec<(String, String)>>);

#[async_trait]
impl InboxAdapter for RecordingInbox {
    async fn poll(&self, _: &Channel, _: &Credentials, _: Option<&str>) -> Result<Polled, PublishError> {
        Ok(Polled::default())
    }

    async fn reply(&self, _: &Channel, _: &Credentials, to: &Interaction, text: &str) -> Result<Published, PublishError> {
        let secs = std::time::Duration::from_secs;
        match text {
            "please fail" => {
                return Err(PublishError::Transient { reason: "the instance is down".into(), retry_after: Some(secs(30)) });
            }
            "down, no hint" => return Err(PublishError::Transient { reason: "the instance is down".into(), retry_after: None }),
            "revoked" => return Err(PublishError::Auth { reason: "the token was revoked".into() }),
            "too long" => return Err(PublishError::Permanent { reason: "the reply is too long for the instance".into() }),
            _ => {}
        }
        self.0.lock().unwrap().push((to.external_id.clone(), text.to_owned()));
        Ok(Published { platform_post_id: "r-1".into(), url: Some("https://example.social/r-1".into()), published_at: None })
    }
}

#[tokio::test]
async fn a_reply_goes_through_the_platform_and_records_the_first_response_time() {
    let platform = Arc::new(RecordingInbox::default());
    let app = App::with_adapters(Adapters::default().with_inbox(Platform::Generic, platform.clone()));
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("q-1", "u-1", "What time do you close?")).await;
    let id = inbox(&app, &admin, "").await[0]["id"].as_str().unwrap().to_owned();

    let raw = app.send(
        Request::post(format!("/v1/inbox/{id}/reply"))
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::from(json!({"text": "please fail"}).to_string()))
            .unwrap(),
    ).await;
    assert_eq!(raw.status, 503, "a platform outage is said as such");
    assert_eq!(raw.header("retry-after"), Some("30"), "the wait the platform asked for");
    assert!(platform.0.lock().unwrap().is_empty());

    app.clock.advance(Duration::minutes(12));
    let (status, body) = app.post(&format!("/v1/inbox/{id}/reply"), &admin, json!({"text": "We close at 7pm!"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["reply"]["url"], "https://example.social/r-1");
    assert_eq!(body["interaction"]["status"], "answered");
    assert!(body["interaction"]["first_response_seconds"].as_i64().unwrap() >= 12 * 60, "{body}");
    assert_eq!(*platform.0.lock().unwrap(), vec![("q-1".to_owned(), "We close at 7pm!".to_owned())]);
}

/// A reply the platform refuses is a 502 saying why (a revoked token: reconnect; a post it will
/// not take: change it), without `Retry-After` since waiting will not help; a platform that is
/// down is a 503 with the `Retry-After` it asked for, or none when it gave none. Nothing is
/// recorded as answered.
#[tokio::test]
async fn a_refused_reply_is_a_502_and_an_outage_a_503_with_the_platforms_retry_after() {
    let platform = Arc::new(RecordingInbox::default());
    let app = App::with_adapters(Adapters::default().with_inbox(Platform::Generic, platform.clone()));
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("q-2", "u-2", "Do you deliver?")).await;
    let id = inbox(&app, &admin, "").await[0]["id"].as_str().unwrap().to_owned();
    for (text, status, code, says, retry_after) in [
        ("revoked", 502, "platform_auth", "the token was revoked", None),
        ("too long", 502, "platform_refused", "the reply is too long for the instance", None),
        ("please fail", 503, "platform_unavailable", "the instance is down", Some("30")),
        ("down, no hint", 503, "platform_unavailable", "the instance is down", None),
    ] {
        let body = json!({"text": text}).to_string().into_bytes();
        let path = format!("/v1/inbox/{id}/reply");
        let raw = app.raw(Method::POST, &path, Some(&admin), Some("application/json"), Some(body)).await;
        assert_eq!(raw.status, status, "{text}: {}", raw.text());
        let (got_code, _, message) = crate::common::error_of(&raw.json());
        assert_eq!(got_code, code, "{text}");
        assert!(message.contains(says), "{text}: {message}");
        assert_eq!(raw.header("retry-after"), retry_after, "{text}");
    }
    assert!(platform.0.lock().unwrap().is_empty());
    let (_, thread) = app.get(&format!("/v1/inbox/{id}"), &admin).await;
    assert_eq!(thread["interaction"]["status"], "open", "{thread}");
    assert_eq!(thread["interaction"]["first_response_seconds"], Value::Null, "{thread}");
}

#[tokio::test]
async fn a_burst_of_negative_comments_opens_exactly_one_incident_and_one_event() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    // A normal day and a half first: the detector learns the channel (a new channel only
    // learns during its first 24 hours), a question now and then.
    for i in 0..36 {
        let body = interaction_at(app.state.clock.now(), &format!("calm-{i}"), &format!("c-{i}"), "What time do you open on Saturday?");
        deliver(&app, &ch, &body).await;
        app.clock.advance(Duration::hours(1));
    }
    let kinds: Vec<EventKind> = app.events.events().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds.len(), 36, "one Interaction Received per comment: {kinds:?}");
    assert!(kinds.iter().all(|k| *k == EventKind::InteractionReceived), "no alarm on a normal day: {kinds:?}");
    for i in 0..40 {
        let text = "This is disgusting, worst service ever, I want a refund!";
        let body = interaction_at(app.state.clock.now(), &format!("angry-{i}"), &format!("u-{i}"), text);
        deliver(&app, &ch, &body).await;
        app.clock.advance(Duration::seconds(10));
    }
    let (status, incidents) = app.get("/v1/incidents", &admin).await;
    assert_eq!(status, 200);
    let items = incidents["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{incidents}");
    assert_eq!(items[0]["channel_id"], ch.as_str());
    assert_eq!(items[0]["open"], true);
    let detected = app.events.events().into_iter().filter(|e| e.kind == EventKind::CrisisDetected).count();
    assert_eq!(detected, 1, "one Crisis Detected per incident");

    // Calm returns: the poller's round ticks the open detector, which closes the incident once.
    for _ in 0..2 {
        app.clock.advance(Duration::hours(3));
        app.state.intake().poll_all().await.unwrap();
    }
    let (_, incidents) = app.get("/v1/incidents", &admin).await;
    assert_eq!(incidents["items"][0]["open"], false, "{incidents}");
    let resolved = app.events.events().into_iter().filter(|e| e.kind == EventKind::CrisisResolved).count();
    assert_eq!(resolved, 1, "one Crisis Resolved per incident");
}

#[tokio::test]
async fn erasing_an_author_removes_their_interactions_and_raw_bodies() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("e-1", "gdpr-user", "first message")).await;
    deliver(&app, &ch, &interaction("e-2", "gdpr-user", "second message")).await;
    deliver(&app, &ch, &interaction("e-3", "someone-else", "stays")).await;

    let (status, history) = app.get("/v1/contacts/generic/gdpr-user", &admin).await;
    assert_eq!((status, history["items"].as_array().unwrap().len()), (200, 2));

    let editor = app.key("cafe", Role::Editor).await;
    let (status, _) = app.call(Method::DELETE, "/v1/contacts/generic/gdpr-user", Some(&editor), None).await;
    assert_eq!(status, 403, "admins only");
    let (status, erased) = app.call(Method::DELETE, "/v1/contacts/generic/gdpr-user", Some(&admin), None).await;
    assert_eq!((status, &erased), (200, &json!({"removed": 4})), "2 interactions + their 2 raw bodies");

    let (_, history) = app.get("/v1/contacts/generic/gdpr-user", &admin).await;
    assert!(history["items"].as_array().unwrap().is_empty());
    let left = inbox(&app, &admin, "").await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["author"]["id"], "someone-else");
    assert_eq!(raw_count(&app, &ch).await, 1);
    let raws = app.store.raw_events(ChannelId::parse("c", &ch).unwrap(), t0() - Duration::days(30), t0() + Duration::days(30), &PageRequest::first(10)).await.unwrap();
    let bodies: Vec<String> = raws.items.iter().map(|r| r.body.clone()).collect();
    use base64::Engine as _;
    for b in bodies {
        let text = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).unwrap()).unwrap();
        assert!(!text.contains("gdpr-user"), "a raw body of the erased author is left: {text}");
    }
}

#[tokio::test]
async fn replay_restores_what_a_raw_body_holds_and_only_that() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("r-1", "u-1", "keep me")).await;
    let id = inbox(&app, &admin, "").await[0]["id"].as_str().unwrap().to_owned();
    // Lost by a bug after intake (simulated by deleting the stored interaction).
    use herald_core::store::InteractionStore;
    let team = herald_core::domain::TeamId::parse("t", "cafe").unwrap();
    app.store.delete_interaction(&team, herald_core::domain::InteractionId::parse("id", &id).unwrap()).await.unwrap();
    assert!(inbox(&app, &admin, "").await.is_empty());

    let intake = app.state.intake();
    let channel = ChannelId::parse("c", &ch).unwrap();
    let (bodies, summary) = intake.replay_channel(channel, t0() - Duration::days(1), t0() + Duration::days(1)).await.unwrap();
    assert_eq!((bodies, summary.created, summary.duplicates), (1, 1, 0));
    let back = inbox(&app, &admin, "").await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["id"], id.as_str(), "the same id: replays are idempotent");
    let (_, again) = intake.replay_channel(channel, t0() - Duration::days(1), t0() + Duration::days(1)).await.unwrap();
    assert_eq!((again.created, again.duplicates), (0, 1));
}

#[tokio::test]
async fn notes_are_capped_so_an_interaction_always_fits_its_store_and_replies_are_still_recorded() {
    use herald_core::services::inbox::{MAX_INTERACTION_BYTES, MAX_NOTE_CHARS, MAX_NOTES};
    let platform = Arc::new(RecordingInbox::default());
    let app = App::with_adapters(Adapters::default().with_inbox(Platform::Generic, platform.clone()));
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("busy", "u-1", "A long conversation")).await;
    deliver(&app, &ch, &interaction("huge", "u-2", "A long-winded one")).await;
    let items = inbox(&app, &admin, "").await;
    let id_of = |ext: &str| items.iter().find(|i| i["external_id"] == ext).unwrap()["id"].as_str().unwrap().to_owned();
    let (busy, huge) = (id_of("busy"), id_of("huge"));

    // At most MAX_NOTES notes: the next one is a 422 naming `text` with the rule.
    for n in 0..MAX_NOTES {
        let (status, body) = app.post(&format!("/v1/inbox/{busy}/notes"), &admin, json!({"text": format!("note {n}")})).await;
        assert_eq!(status, 201, "note {n}: {body}");
    }
    let (status, body) = app.post(&format!("/v1/inbox/{busy}/notes"), &admin, json!({"text": "one too many"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("text")), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("at most {MAX_NOTES} notes")), "{message}");
    // A reply at the cap still goes out and is recorded, its note included.
    let (status, body) = app.post(&format!("/v1/inbox/{busy}/reply"), &admin, json!({"text": "Thanks, see you soon!"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["interaction"]["status"], "answered");
    let notes = body["interaction"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), MAX_NOTES + 1);
    assert!(notes[MAX_NOTES]["text"].as_str().unwrap().contains("Thanks, see you soon!"), "{notes:?}");

    // Long notes fill the stored form first: refused before the item would outgrow DynamoDB's
    // 400 KB, with the same field and a rule that says so.
    let longest = "✨".repeat(MAX_NOTE_CHARS);
    let mut accepted = 0;
    let refusal = loop {
        let (status, body) = app.post(&format!("/v1/inbox/{huge}/notes"), &admin, json!({"text": longest})).await;
        match status {
            201 => accepted += 1,
            _ => break (status, body),
        }
        assert!(accepted < MAX_NOTES, "long notes must hit the size bound first");
    };
    assert_eq!((refusal.0, refusal.1["error"]["field"].as_str()), (422, Some("text")), "{}", refusal.1);
    assert!(refusal.1["error"]["message"].as_str().unwrap().contains("KiB"), "{}", refusal.1);
    use herald_core::store::InteractionStore;
    let team = herald_core::domain::TeamId::parse("t", "cafe").unwrap();
    let stored = app.store.get_interaction(&team, herald_core::domain::InteractionId::parse("id", &huge).unwrap()).await.unwrap().unwrap();
    let size = serde_json::to_vec(&stored).unwrap().len();
    assert!(size <= MAX_INTERACTION_BYTES && size > MAX_INTERACTION_BYTES - 16 * 1024, "{size}: close to the bound, never over it");
    // Short notes still fit until the bound.
    let (status, _) = app.post(&format!("/v1/inbox/{huge}/notes"), &admin, json!({"text": "ok"})).await;
    assert_eq!(status, 201);
    // A reply that no longer fits: sent, the interaction answered, only its note is left out.
    let (status, body) = app.post(&format!("/v1/inbox/{huge}/reply"), &admin, json!({"text": longest})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["interaction"]["status"], "answered");
    assert!(body["interaction"]["first_response_seconds"].is_number(), "{body}");
    assert_eq!(body["interaction"]["notes"].as_array().unwrap().len(), accepted + 1, "the reply's note did not fit");
    assert_eq!(platform.0.lock().unwrap().len(), 2, "both replies went out");
}

/// A `generic` channel's messages come from another tool (a CRM, a form): Herald cannot answer
/// on that tool's network, so a reply is handed back to it as an `Interaction Reply Requested`
/// event carrying what it needs to deliver it, and the interaction is answered. Every arrival is
/// an `Interaction Received` event, once, however often the webhook is retried.
#[tokio::test]
async fn a_reply_on_a_generic_channel_is_handed_to_the_integration_as_an_event() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    let msg = interaction("q-7", "u-7", "Can I book a table for 6?");
    deliver(&app, &ch, &msg).await;
    deliver(&app, &ch, &msg).await;
    let received: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == EventKind::InteractionReceived).collect();
    assert_eq!(received.len(), 1, "one event for one interaction, retries included");
    let id = inbox(&app, &admin, "").await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(received[0].detail["interaction_id"], id.as_str(), "{}", received[0].detail);
    assert_eq!(received[0].detail["channel_id"], ch.as_str());

    app.clock.advance(Duration::minutes(3));
    let (status, body) = app.post(&format!("/v1/inbox/{id}/reply"), &admin, json!({"text": "Yes, see you at 8!"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["reply"]["delivered_by"], "integration", "{body}");
    assert!(body["reply"]["platform_post_id"].is_null() && body["reply"]["url"].is_null(), "{body}");
    assert_eq!(body["interaction"]["status"], "answered");
    assert!(body["interaction"]["first_response_seconds"].as_i64().unwrap() >= 3 * 60, "{body}");
    let asked: Vec<_> =
        app.events.events().into_iter().filter(|e| e.kind == EventKind::InteractionReplyRequested).collect();
    assert_eq!(asked.len(), 1);
    let detail = &asked[0].detail;
    assert_eq!(
        (&detail["external_id"], &detail["thread_id"], &detail["author"]["id"], &detail["text"]),
        (&json!("q-7"), &json!("q-7"), &json!("u-7"), &json!("Yes, see you at 8!")),
        "what the integration needs to deliver it: {detail}"
    );
}

/// An interaction answered elsewhere (on the phone, at the counter) is marked so: answered, its
/// first-response time recorded once (a second mark does not move it), the note kept; the
/// viewer role cannot, an unknown id is a 404, an empty note a 422.
#[tokio::test]
async fn an_interaction_answered_elsewhere_is_marked_answered_with_its_response_time() {
    let app = App::new();
    let (admin, ch) = generic_channel(&app).await;
    deliver(&app, &ch, &interaction("q-8", "u-8", "Are you open on Christmas Eve?")).await;
    let id = inbox(&app, &admin, "").await[0]["id"].as_str().unwrap().to_owned();
    let viewer = app.key("cafe", Role::Viewer).await;
    let (status, _) = app.post(&format!("/v1/inbox/{id}/answered"), &viewer, json!({})).await;
    assert_eq!(status, 403);
    let (status, body) = app.post(&format!("/v1/inbox/{id}/answered"), &admin, json!({"note": ""})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("note")), "{body}");

    app.clock.advance(Duration::minutes(20));
    let (status, body) = app.post(&format!("/v1/inbox/{id}/answered"), &admin, json!({"note": "Called her back"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "answered");
    let first = body["first_response_seconds"].as_i64().unwrap();
    assert!(first >= 20 * 60, "{body}");
    assert!(body["notes"][0]["text"].as_str().unwrap().contains("Called her back"), "{body}");

    app.clock.advance(Duration::hours(2));
    let (status, body) = app.post(&format!("/v1/inbox/{id}/answered"), &admin, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["first_response_seconds"].as_i64(), Some(first), "the first response stays the first");
    assert_eq!(body["notes"].as_array().unwrap().len(), 2);
    let missing = "00000000-0000-4000-8000-000000000000";
    let (status, _) = app.post(&format!("/v1/inbox/{missing}/answered"), &admin, json!({})).await;
    assert_eq!(status, 404);
}
