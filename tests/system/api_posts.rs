//! `/v1/posts` in process: the API router on an in-memory SQLite store, a manual clock and a
//! fresh credentials key; every request through `tower::ServiceExt::oneshot`. Delivery states
//! the API cannot reach by itself (publishing, published, failed) are set through the store,
//! with the same state machine the publisher uses.

use std::collections::HashSet;

use chrono::Duration;
use axum::http::Method;
use herald_core::clock::Clock;
use herald_core::domain::{DeliveryState, PostId, Role};
use serde_json::{Value, json};

use crate::common::{App, cafe, deliveries, error_of, t0, utc};

fn delivery_of<'a>(post: &'a Value, channel: &str) -> &'a Value {
    deliveries(post).iter().find(|d| d["channel_id"] == channel).expect("a delivery to that channel")
}

fn states(post: &Value) -> Vec<String> {
    deliveries(post).iter().map(|d| d["state"].as_str().unwrap().to_owned()).collect()
}

/// The id of a post as the API showed it.
fn id_of(post: &Value) -> &str {
    post["id"].as_str().expect("a post id")
}

// ------------------------------------------------------------------------------------------
// Creating: the three forms of publish_at
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_instant_schedules_every_channel_and_get_shows_the_same_shape() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let post = app
        .create(
            &admin,
            json!({"text": "Fresh croissants ☕", "channel_ids": [a, b], "publish_at": "2027-01-04T09:00:00Z",
                   "media": [{"url": "https://example.org/c.jpg", "alt": "croissants"}], "draft": false}),
        )
        .await;
    assert!(post["id"].as_str().is_some());
    assert_eq!(post["text"], "Fresh croissants ☕");
    assert_eq!(post["state"], "scheduled");
    assert_eq!(post["media"], json!([{"url": "https://example.org/c.jpg", "alt": "croissants"}]));
    assert_eq!(deliveries(&post).len(), 2);
    for (d, ch) in [(delivery_of(&post, &a), &a), (delivery_of(&post, &b), &b)] {
        assert!(d["id"].as_str().is_some());
        assert_eq!(d["channel_id"], ch.as_str());
        assert_eq!((d["platform"].as_str(), d["state"].as_str()), (Some("sandbox"), Some("scheduled")));
        assert_eq!(utc(d["publish_at"].as_str().unwrap()), utc("2027-01-04T09:00:00Z"));
        assert_eq!((d["attempts"].as_u64(), d["last_error"].is_null()), (Some(0), true));
    }
    let (status, got) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
    assert_eq!((status, &got), (200, &post));
}

#[tokio::test]
async fn a_local_time_in_a_zone_is_that_wall_clock_time() {
    let (app, admin, ch) = cafe().await;
    let post = app
        .create(
            &admin,
            json!({"text": "Spring!", "channel_ids": [ch],
                   "publish_at": {"local": "2027-03-28T09:30:00", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!(utc(deliveries(&post)[0]["publish_at"].as_str().unwrap()), utc("2027-03-28T07:30:00Z"));
    // New York is still on winter time that morning: UTC-4 since 14 March.
    let post = app
        .create(
            &admin,
            json!({"text": "Brunch", "channel_ids": [ch],
                   "publish_at": {"local": "2027-03-28T09:30:00", "time_zone": "America/New_York"}}),
        )
        .await;
    assert_eq!(utc(deliveries(&post)[0]["publish_at"].as_str().unwrap()), utc("2027-03-28T13:30:00Z"));
    // Without a zone: the channel's own (Europe/Paris).
    let post = app
        .create(&admin, json!({"text": "x", "channel_ids": [ch], "publish_at": {"local": "2027-07-01T12:00"}}))
        .await;
    assert_eq!(utc(deliveries(&post)[0]["publish_at"].as_str().unwrap()), utc("2027-07-01T10:00:00Z"));
}

#[tokio::test]
async fn nonexistent_ambiguous_past_and_unzoned_times_are_422_never_shifted() {
    let (app, admin, ch) = cafe().await;
    let try_at = |publish_at: Value| {
        let body = json!({"text": "x", "channel_ids": [ch], "publish_at": publish_at});
        let app = &app;
        let admin = admin.clone();
        async move { app.post("/v1/posts", &admin, body).await }
    };

    let (status, err) = try_at(json!({"local": "2027-03-28T02:30:00", "time_zone": "Europe/Paris"})).await;
    let (code, field, message) = error_of(&err);
    assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("publish_at")));
    assert!(
        message.contains("2027-03-28T02:30:00 does not exist in Europe/Paris (clocks jump from 02:00 to 03:00)"),
        "{message}"
    );

    let (status, err) = try_at(json!({"local": "2027-10-31T02:30:00", "time_zone": "Europe/Paris"})).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("publish_at")));
    assert!(message.contains("happens twice in Europe/Paris"), "{message}");
    assert!(
        message.contains("2027-10-31T02:30:00+02:00") && message.contains("2027-10-31T02:30:00+01:00"),
        "{message}"
    );

    let (status, err) = try_at(json!({"local": "2027-03-14T02:30:00", "time_zone": "America/New_York"})).await;
    assert_eq!(status, 422);
    assert!(error_of(&err).2.contains("does not exist in America/New_York"));

    let (status, err) = try_at(json!({"local": "2027-03-01T09:00:00", "time_zone": "Europe/Pariss"})).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("publish_at")));
    assert!(message.contains("Europe/Pariss"), "{message}");

    let (status, err) = try_at(json!("2027-01-04T06:59:00Z")).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("publish_at")));
    assert!(message.contains("in the past"), "{message}");
    // A few seconds late is fine: the request took a moment.
    let (status, _) = try_at(json!("2027-01-04T06:59:57Z")).await;
    assert_eq!(status, 201);

    for bad in [json!("2027-01-04T09:00:00"), json!("soon"), json!(42), json!(null), json!({"local": "nope"})] {
        let (status, err) = try_at(bad.clone()).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("publish_at")), "{bad}");
    }
    let (_, list) = app.get("/v1/posts", &admin).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "only the one good post exists");
}

#[tokio::test]
async fn next_slot_takes_the_channels_next_free_queue_slot() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let queued = app
        .channel(
            &admin,
            json!({"platform": "sandbox", "name": "Queued", "time_zone": "Europe/Paris",
                   "queue_slots": [{"weekday": "mon", "time": "09:00"}, {"weekday": "mon", "time": "12:30"}]}),
        )
        .await;
    let plain = app.sandbox(&admin, "No queue").await;
    let next = |text: &str| json!({"text": text, "channel_ids": [queued], "publish_at": "next_slot"});
    let at = |post: &Value| utc(deliveries(post)[0]["publish_at"].as_str().unwrap());

    // Monday 08:00 Paris: 09:00 and 12:30 today, then next Monday.
    let first = app.create(&admin, next("one")).await;
    assert_eq!(at(&first), utc("2027-01-04T08:00:00Z"));
    let second = app.create(&admin, next("two")).await;
    assert_eq!(at(&second), utc("2027-01-04T11:30:00Z"));
    let third = app.create(&admin, next("three")).await;
    assert_eq!(at(&third), utc("2027-01-11T08:00:00Z"));
    // A cancelled post frees its slot.
    assert_eq!(app.action(second["id"].as_str().unwrap(), "cancel", &admin).await.0, 200);
    let fourth = app.create(&admin, next("four")).await;
    assert_eq!(at(&fourth), utc("2027-01-04T11:30:00Z"));
    // Another channel's posts do not take this channel's slots.
    let other =
        app.create(&admin, json!({"text": "x", "channel_ids": [plain], "publish_at": "2027-01-11T11:30:00Z"})).await;
    assert_eq!(states(&other), ["scheduled"]);
    assert_eq!(at(&app.create(&admin, next("five")).await), utc("2027-01-11T11:30:00Z"));

    // A channel without slots: nothing to pick from.
    let (status, err) =
        app.post("/v1/posts", &admin, json!({"text": "x", "channel_ids": [plain], "publish_at": "next_slot"})).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("publish_at")));
    assert!(message.contains("\"No queue\" has no queue slots"), "{message}");
}

// ------------------------------------------------------------------------------------------
// Creating: channels and per-platform rules
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn texts_are_checked_per_target_platform_naming_the_channel_and_the_rule() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let toot = app.platform_channel(&admin, "mastodon", "@cafe@mastodon.social").await;
    let long = "a".repeat(312);

    let (status, err) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": long, "channel_ids": [toot, sky], "publish_at": "2027-01-05T09:00:00Z"}),
        )
        .await;
    let (code, field, message) = error_of(&err);
    assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("text")));
    assert!(
        message
            .contains("channel \"@cafe\" (bluesky): text is 312 characters on Bluesky; the limit is 300 (graphemes)"),
        "{message}"
    );
    assert!(!message.contains("mastodon"), "Mastodon takes 500: {message}");

    // A Bluesky variant fixes it; the long text still goes to Mastodon.
    let post = app
        .create(
            &admin,
            json!({"text": long, "channel_ids": [toot, sky], "publish_at": "2027-01-05T09:00:00Z",
                   "variants": {"bluesky": "Short for Bluesky"}}),
        )
        .await;
    assert_eq!(post["variants"], json!({"bluesky": "Short for Bluesky"}));

    // A variant that is itself too long is named as such.
    let (status, err) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "ok", "channel_ids": [sky], "publish_at": "2027-01-05T09:00:00Z", "variants": {"bluesky": long}}),
        )
        .await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("variants.bluesky")));

    for (body, field) in [
        (
            json!({"text": "x", "channel_ids": [sky], "publish_at": "next_slot", "variants": {"myspace": "x"}}),
            "variants.myspace",
        ),
        (
            json!({"text": "x", "channel_ids": [sky], "publish_at": "next_slot", "media": [{"url": "ftp://x"}]}),
            "media[0].url",
        ),
    ] {
        let (status, err) = app.post("/v1/posts", &admin, body.clone()).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{body}");
    }
}

#[tokio::test]
async fn channel_ids_must_be_the_teams_own_distinct_and_bounded() {
    let (app, admin, ch) = cafe().await;
    let bakery = app.key("bakery", Role::Admin).await;
    let theirs = app.sandbox(&bakery, "Bakery").await;
    let at = "2027-01-05T09:00:00Z";

    let (status, err) =
        app.post("/v1/posts", &admin, json!({"text": "x", "channel_ids": [ch, theirs], "publish_at": at})).await;
    let (code, field, message) = error_of(&err);
    assert_eq!((status, code.as_str(), field.as_deref()), (404, "not_found", Some("channel_ids")));
    assert!(message.contains(&theirs) && !message.contains(&ch), "{message}");
    let (status, err) =
        app.post("/v1/posts", &admin, json!({"text": "x", "channel_ids": ["not-an-id"], "publish_at": at})).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (404, Some("channel_ids")));

    let many: Vec<String> = (0..100).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for ids in [json!([]), json!([ch, ch]), json!(many)] {
        let (status, err) =
            app.post("/v1/posts", &admin, json!({"text": "x", "channel_ids": ids, "publish_at": at})).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("channel_ids")), "{ids}");
    }
    let (_, list) = app.get("/v1/posts", &admin).await;
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn bad_post_bodies_get_json_errors_naming_the_field() {
    let (app, admin, ch) = cafe().await;
    for (body, field) in [
        (r#"{"text": "x", "channel_ids": ["#.to_owned(), "body"),
        ("not json".to_owned(), "body"),
        ("[1, 2]".to_owned(), "body"),
        (json!({"text": "x", "channel_ids": ch, "publish_at": "next_slot"}).to_string(), "channel_ids"),
        (json!({"text": 5, "channel_ids": [ch], "publish_at": "next_slot"}).to_string(), "text"),
        (json!({"text": "x", "channel_ids": [5], "publish_at": "next_slot"}).to_string(), "channel_ids[0]"),
        (json!({"text": "x", "channel_ids": [ch]}).to_string(), "publish_at"),
        (json!({"channel_ids": [ch], "publish_at": "next_slot"}).to_string(), "text"),
        (json!({"text": "x", "channel_ids": [ch], "publish_at": "next_slot", "colour": "red"}).to_string(), "colour"),
        (json!({"text": "x", "channel_ids": [ch], "publish_at": "next_slot", "draft": "yes"}).to_string(), "draft"),
        (
            json!({"text": "x", "channel_ids": [ch], "publish_at": "next_slot", "media": [{"href": "x"}]}).to_string(),
            "media[0].href",
        ),
    ] {
        let (status, err) = app.call(Method::POST, "/v1/posts", Some(&admin), Some(body.clone())).await;
        let (code, got, _) = error_of(&err);
        assert_eq!((status, code.as_str(), got.as_deref()), (422, "invalid", Some(field)), "{body} → {err}");
    }
    let (status, err) =
        app.call(Method::PATCH, &format!("/v1/posts/{}", PostId::new()), Some(&admin), Some("{oops".into())).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("body")));
}

// ------------------------------------------------------------------------------------------
// Roles and approval
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_contributors_post_waits_for_an_editor_to_approve_it() {
    let (app, admin, ch) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let editor = app.key("cafe", Role::Editor).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let body = json!({"text": "Our new menu", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"});

    let (status, err) = app.post("/v1/posts", &viewer, body.clone()).await;
    assert_eq!((status, error_of(&err).0.as_str()), (403, "forbidden"));

    let post = app.create(&contributor, body.clone()).await;
    let id = post["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (states(&post), post["state"].as_str()),
        (vec!["pending_approval".to_owned()], Some("pending_approval"))
    );

    // Contributors and viewers cannot approve; everyone reads.
    assert_eq!(app.approve(&id, &contributor).await.0, 403);
    assert_eq!(app.approve(&id, &viewer).await.0, 403);
    let (status, seen) = app.get(&format!("/v1/posts/{id}"), &viewer).await;
    assert_eq!((status, states(&seen)), (200, vec!["pending_approval".to_owned()]));

    let (status, approved) = app.approve(&id, &editor).await;
    assert_eq!((status, states(&approved)), (200, vec!["scheduled".to_owned()]), "{approved}");
    let (status, err) = app.approve(&id, &editor).await;
    let (code, _, message) = error_of(&err);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    assert!(message.contains("nothing to approve") && message.contains("scheduled"), "{message}");

    // Editors and admins schedule straight away.
    assert_eq!(states(&app.create(&editor, body.clone()).await), ["scheduled"]);
    assert_eq!(states(&app.create(&admin, body.clone()).await), ["scheduled"]);
}

#[tokio::test]
async fn draft_true_keeps_a_draft_for_anyone_until_submitted() {
    let (app, _admin, ch) = cafe().await;
    let editor = app.key("cafe", Role::Editor).await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let body = json!({"text": "idea", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z", "draft": true});

    let mine = app.create(&contributor, body.clone()).await;
    assert_eq!(states(&mine), ["draft"]);
    let id = mine["id"].as_str().unwrap();
    // Approve is for posts awaiting approval, not drafts.
    assert_eq!(app.approve(id, &editor).await.0, 409);
    let (status, submitted) = app.patch(&format!("/v1/posts/{id}"), &contributor, json!({"draft": false})).await;
    assert_eq!((status, states(&submitted)), (200, vec!["pending_approval".to_owned()]), "{submitted}");

    let theirs = app.create(&editor, body.clone()).await;
    assert_eq!(states(&theirs), ["draft"]);
    let (status, submitted) =
        app.patch(&format!("/v1/posts/{}", theirs["id"].as_str().unwrap()), &editor, json!({"draft": false})).await;
    assert_eq!((status, states(&submitted)), (200, vec!["scheduled".to_owned()]));
}

#[tokio::test]
async fn approving_a_post_whose_time_has_passed_asks_for_a_new_time() {
    let (app, _admin, ch) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let editor = app.key("cafe", Role::Editor).await;
    let post =
        app.create(&contributor, json!({"text": "x", "channel_ids": [ch], "publish_at": "2027-01-04T08:00:00Z"})).await;
    let id = post["id"].as_str().unwrap();
    app.clock.set(utc("2027-01-04T09:00:00Z"));
    let (status, err) = app.approve(id, &editor).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("publish_at")));
    assert!(message.contains("change publish_at"), "{message}");
    // The contributor moves it; the editor approves.
    let (status, moved) =
        app.patch(&format!("/v1/posts/{id}"), &contributor, json!({"publish_at": "2027-01-04T10:00:00Z"})).await;
    assert_eq!((status, states(&moved)), (200, vec!["pending_approval".to_owned()]), "{moved}");
    assert_eq!(app.approve(id, &editor).await.0, 200);
}

// ------------------------------------------------------------------------------------------
// Changing and cancelling
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn update_changes_text_and_time_and_checks_them_again() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let sand = app.sandbox(&admin, "Sandbox").await;
    let post = app
        .create(&admin, json!({"text": "v1", "channel_ids": [sky, sand], "publish_at": "2027-01-05T09:00:00Z"}))
        .await;
    let path = format!("/v1/posts/{}", post["id"].as_str().unwrap());
    let before = app.stored_deliveries("cafe", &post).await;

    app.clock.advance(Duration::minutes(1));
    let (status, changed) = app
        .patch(
            &path,
            &admin,
            json!({"text": "v2", "publish_at": {"local": "2027-01-06T18:00:00", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["text"], "v2");
    assert_eq!(utc(changed["updated_at"].as_str().unwrap()), utc("2027-01-04T07:01:00Z"));
    for d in deliveries(&changed) {
        assert_eq!(
            (d["state"].as_str(), utc(d["publish_at"].as_str().unwrap())),
            (Some("scheduled"), utc("2027-01-06T17:00:00Z"))
        );
    }
    let after = app.stored_deliveries("cafe", &post).await;
    assert!(
        after.iter().zip(&before).all(|(a, b)| a.id == b.id && a.version == b.version + 1),
        "version-checked writes"
    );
    assert_eq!(app.get(&path, &admin).await.1, changed);

    // Too long for Bluesky now: refused, and nothing changed.
    let (status, err) = app.patch(&path, &admin, json!({"text": "b".repeat(301)})).await;
    let (_, field, message) = error_of(&err);
    assert_eq!((status, field.as_deref()), (422, Some("text")));
    assert!(message.contains("channel \"@cafe\" (bluesky)"), "{message}");
    for bad in [
        json!({"publish_at": {"local": "2027-03-28T02:30:00", "time_zone": "Europe/Paris"}}),
        json!({"publish_at": "2027-01-01T00:00:00Z"}),
    ] {
        assert_eq!(app.patch(&path, &admin, bad).await.0, 422);
    }
    let (status, err) = app.patch(&path, &admin, json!({"channel_ids": [sand]})).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("channel_ids")));
    let (status, err) = app.patch(&path, &admin, json!({"txt": "typo"})).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("txt")));
    assert_eq!(app.get(&path, &admin).await.1, changed);
}

#[tokio::test]
async fn update_is_refused_once_a_delivery_is_publishing_or_published() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let post =
        app.create(&admin, json!({"text": "x", "channel_ids": [a, b], "publish_at": "2027-01-04T07:00:30Z"})).await;
    let path = format!("/v1/posts/{}", post["id"].as_str().unwrap());
    let first = delivery_of(&post, &a)["id"].as_str().unwrap().to_owned();
    app.force("cafe", id_of(&post), &first, &[DeliveryState::Publishing], |d| {
        d.lease_until = Some(t0() + Duration::seconds(60));
        d.attempts = 1;
    })
    .await;

    let (status, err) = app.patch(&path, &admin, json!({"text": "too late"})).await;
    let (code, _, message) = error_of(&err);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    assert!(message.contains("\"Sandbox\" (sandbox) is publishing"), "{message}");
    let (_, now) = app.get(&path, &admin).await;
    assert_eq!(now["text"], "x");

    // Cancel stops what has not started and leaves the publishing one alone.
    let (status, cancelled) = app.action(post["id"].as_str().unwrap(), "cancel", &admin).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(delivery_of(&cancelled, &a)["state"], "publishing");
    assert_eq!(delivery_of(&cancelled, &b)["state"], "cancelled");
    assert_eq!(cancelled["state"], "mixed");

    app.force("cafe", id_of(&post), &first, &[DeliveryState::Published], |d| {
        d.platform_post_id = Some("sandbox-1".into());
        d.url = Some("file:///outbox/1.json".into());
        d.published_at = Some(t0() + Duration::seconds(30));
    })
    .await;
    assert_eq!(app.patch(&path, &admin, json!({"text": "still too late"})).await.0, 409);
    let (_, shown) = app.get(&path, &admin).await;
    let d = delivery_of(&shown, &a);
    assert_eq!((d["platform_post_id"].as_str(), d["url"].as_str()), (Some("sandbox-1"), Some("file:///outbox/1.json")));
    assert_eq!(utc(d["published_at"].as_str().unwrap()), utc("2027-01-04T07:00:30Z"));
    let (status, err) = app.action(post["id"].as_str().unwrap(), "cancel", &admin).await;
    assert_eq!((status, error_of(&err).0.as_str()), (409, "conflict"), "nothing left to cancel");
}

#[tokio::test]
async fn contributors_change_and_cancel_only_what_is_not_yet_approved() {
    let (app, admin, ch) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let body = json!({"text": "x", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"});

    let pending = app.create(&contributor, body.clone()).await;
    let pending_path = format!("/v1/posts/{}", pending["id"].as_str().unwrap());
    let (status, changed) = app.patch(&pending_path, &contributor, json!({"text": "better"})).await;
    assert_eq!(
        (status, changed["text"].as_str(), states(&changed)),
        (200, Some("better"), vec!["pending_approval".to_owned()])
    );
    assert_eq!(app.patch(&pending_path, &viewer, json!({"text": "no"})).await.0, 403);
    assert_eq!(app.action(pending["id"].as_str().unwrap(), "cancel", &viewer).await.0, 403);

    let scheduled = app.create(&admin, body.clone()).await;
    let id = scheduled["id"].as_str().unwrap();
    assert_eq!(app.patch(&format!("/v1/posts/{id}"), &contributor, json!({"text": "mine"})).await.0, 403);
    assert_eq!(app.action(id, "cancel", &contributor).await.0, 403);
    assert_eq!(app.action(id, "retry", &contributor).await.0, 403);

    let (status, cancelled) = app.action(pending["id"].as_str().unwrap(), "cancel", &contributor).await;
    assert_eq!((status, states(&cancelled)), (200, vec!["cancelled".to_owned()]));
    let (status, err) = app.patch(&pending_path, &contributor, json!({"text": "revive"})).await;
    assert_eq!((status, error_of(&err).0.as_str()), (409, "conflict"));
}

// ------------------------------------------------------------------------------------------
// Retrying
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn retry_reschedules_only_the_failed_deliveries() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let c = app.sandbox(&admin, "Third").await;
    let editor = app.key("cafe", Role::Editor).await;
    let post =
        app.create(&admin, json!({"text": "x", "channel_ids": [a, b, c], "publish_at": "2027-01-04T07:00:30Z"})).await;
    let id = post["id"].as_str().unwrap().to_owned();
    let did = |ch: &str| delivery_of(&post, ch)["id"].as_str().unwrap().to_owned();

    // Nothing failed yet.
    let (status, err) = app.action(&id, "retry", &editor).await;
    let (code, _, message) = error_of(&err);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    assert!(message.contains("only failed deliveries"), "{message}");

    app.clock.advance(Duration::seconds(30));
    app.force("cafe", id_of(&post), &did(&a), &[DeliveryState::Publishing, DeliveryState::Published], |d| {
        d.attempts = 1;
        d.platform_post_id = Some("ok-1".into());
        d.published_at = Some(t0() + Duration::seconds(30));
    })
    .await;
    app.force("cafe", id_of(&post), &did(&b), &[DeliveryState::Publishing, DeliveryState::Failed], |d| {
        d.attempts = 5;
        d.last_error = Some("token expired".into());
    })
    .await;
    let (_, failed) = app.get(&format!("/v1/posts/{id}"), &editor).await;
    assert_eq!(failed["state"], "partially_published");
    let fb = delivery_of(&failed, &b);
    assert_eq!((fb["last_error"].as_str(), fb["attempts"].as_u64()), (Some("token expired"), Some(5)));
    let before = app.stored_deliveries("cafe", &post).await;

    app.clock.advance(Duration::minutes(10));
    let (status, retried) = app.action(&id, "retry", &editor).await;
    assert_eq!(status, 200, "{retried}");
    let rb = delivery_of(&retried, &b);
    assert_eq!(rb["state"], "scheduled");
    assert_eq!(utc(rb["publish_at"].as_str().unwrap()), app.clock.now());
    assert_eq!((rb["attempts"].as_u64(), rb["last_error"].is_null()), (Some(0), true));

    // The published and the scheduled deliveries are exactly as they were.
    let after = app.stored_deliveries("cafe", &post).await;
    for (x, y) in before.iter().zip(&after) {
        if x.channel_id.to_string() == b {
            assert_eq!(y.version, x.version + 1);
        } else {
            assert_eq!(x, y, "untouched");
        }
    }
    assert_eq!(app.action(&id, "retry", &editor).await.0, 409, "nothing failed any more");
    let bakery = app.key("bakery", Role::Admin).await;
    assert_eq!(app.action(&id, "retry", &bakery).await.0, 404);
}

#[tokio::test]
async fn a_partially_published_post_says_so() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let post =
        app.create(&admin, json!({"text": "x", "channel_ids": [a, b], "publish_at": "2027-01-04T07:00:00Z"})).await;
    let did = |ch: &str| delivery_of(&post, ch)["id"].as_str().unwrap().to_owned();
    app.force("cafe", id_of(&post), &did(&a), &[DeliveryState::Publishing, DeliveryState::Published], |_| {}).await;
    app.force("cafe", id_of(&post), &did(&b), &[DeliveryState::Publishing, DeliveryState::Failed], |_| {}).await;
    let (_, shown) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
    assert_eq!(shown["state"], "partially_published");
}

// ------------------------------------------------------------------------------------------
// The calendar
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_calendar_lists_posts_in_a_range_once_each_across_pages() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let make = |text: &str, ch: &str, at: &str| json!({"text": text, "channel_ids": [ch], "publish_at": at});
    for (text, ch, at) in [
        ("p1", &a, "2027-01-05T09:00:00Z"),
        ("p2", &a, "2027-01-06T09:00:00Z"),
        ("p3", &b, "2027-01-05T12:00:00Z"),
        ("p4", &a, "2027-01-08T09:00:00Z"),
        ("march", &a, "2027-03-01T09:00:00Z"),
    ] {
        app.create(&admin, make(text, ch, at)).await;
    }
    let post_ids = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap().to_owned()).collect()
    };
    // A post whose deliveries are on two days (5 and 7 January): one re-scheduled through the store.
    let spread = app
        .create(&admin, json!({"text": "spread", "channel_ids": [a, b], "publish_at": "2027-01-05T10:00:00Z"}))
        .await;
    let later = delivery_of(&spread, &b)["id"].as_str().unwrap().to_owned();
    app.force("cafe", id_of(&spread), &later, &[], |d| d.publish_at = utc("2027-01-07T10:00:00Z")).await;

    let range = "from=2027-01-05T00:00:00Z&to=2027-01-10T00:00:00Z";
    let (status, all) = app.get(&format!("/v1/posts?{range}"), &admin).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(post_ids(&all), ["p1", "spread", "p3", "p2", "p4"]);
    assert!(all["next"].is_null());
    let spread_shown = all["items"].as_array().unwrap().iter().find(|p| p["text"] == "spread").unwrap();
    assert_eq!(deliveries(spread_shown).len(), 2, "every delivery of a listed post");

    // Page by page, one post at a time: the same posts, each once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let path = match &cursor {
            Some(c) => format!("/v1/posts?{range}&limit=1&cursor={c}"),
            None => format!("/v1/posts?{range}&limit=1"),
        };
        let (status, page) = app.get(&path, &admin).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(post_ids(&page));
        match page["next"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, ["p1", "spread", "p3", "p2", "p4"]);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // The default range is a week back to a month ahead: March is out.
    let (_, default) = app.get("/v1/posts", &admin).await;
    assert!(!post_ids(&default).contains(&"march".to_owned()));
    assert_eq!(post_ids(&default).len(), 5);
    // An offset whose `+` arrived as a space still reads.
    let (status, _) = app.get("/v1/posts?from=2027-01-05T01:00:00+01:00&to=2027-01-06T00:00:00Z", &admin).await;
    assert_eq!(status, 200);

    // Other teams see nothing of it; viewers see all of it.
    let bakery = app.key("bakery", Role::Viewer).await;
    let (_, theirs) = app.get(&format!("/v1/posts?{range}"), &bakery).await;
    assert_eq!(theirs["items"], json!([]));
    let viewer = app.key("cafe", Role::Viewer).await;
    assert_eq!(post_ids(&app.get(&format!("/v1/posts?{range}"), &viewer).await.1).len(), 5);

    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2027-13-01T00:00:00Z", "to"),
        ("from=2027-01-10T00:00:00Z&to=2027-01-05T00:00:00Z", "to"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("limit=501", "limit"),
        ("cursor=garbage", "cursor"),
        ("sort=desc", "sort"),
    ] {
        let (status, err) = app.get(&format!("/v1/posts?{query}"), &admin).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{query} → {err}");
    }
}

// ------------------------------------------------------------------------------------------
// Teams are walled off
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn another_teams_posts_are_not_found_for_every_verb() {
    let (app, admin, ch) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let post =
        app.create(&contributor, json!({"text": "x", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"})).await;
    let id = post["id"].as_str().unwrap();
    let path = format!("/v1/posts/{id}");
    let bakery = app.key("bakery", Role::Admin).await;

    let (status, err) = app.get(&path, &bakery).await;
    assert_eq!((status, error_of(&err).0.as_str()), (404, "not_found"));
    assert_eq!(app.patch(&path, &bakery, json!({"text": "hijack"})).await.0, 404);
    for what in ["cancel", "approve", "retry"] {
        assert_eq!(app.action(id, what, &bakery).await.0, 404, "{what}");
    }
    assert_eq!(app.get("/v1/posts/not-a-uuid", &admin).await.0, 404);
    assert_eq!(app.get(&format!("/v1/posts/{}", PostId::new()), &admin).await.0, 404);
    let (_, still) = app.get(&path, &admin).await;
    assert_eq!((still["text"].as_str(), states(&still)), (Some("x"), vec!["pending_approval".to_owned()]));
}

// ------------------------------------------------------------------------------------------
// Approving what was read; contributors and other people's posts
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_approval_is_of_the_version_the_editor_read() {
    let (app, _, ch) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let editor = app.key("cafe", Role::Editor).await;
    let post = app.create(&contributor, json!({"text": "Tasting at 6", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"})).await;
    let id = id_of(&post);
    let path = format!("/v1/posts/{id}");

    // The editor reads it: version 0, and the same as an ETag.
    let raw = app.raw(Method::GET, &path, Some(&editor), None, None).await;
    let seen = raw.json()["version"].as_u64().unwrap();
    // The contributor changes the text after that read.
    let (status, changed) = app.patch(&path, &contributor, json!({"text": "Tasting at 6, free wine"})).await;
    assert_eq!((status, changed["version"].as_u64()), (200, Some(seen + 1)), "{changed}");
    // Approving what the editor read is refused, and nothing is scheduled.
    let (status, err) = app.post(&format!("{path}/approve"), &editor, json!({"version": seen})).await;
    assert_eq!(status, 409, "{err}");
    assert!(error_of(&err).2.contains("changed since you read it"), "{err}");
    assert_eq!(states(&app.get(&path, &editor).await.1), vec!["pending_approval".to_owned()]);
    // No version at all is a 422 naming it; a bad If-Match too.
    let (status, err) = app.action(id, "approve", &editor).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("version")), "{err}");
    let req = axum::http::Request::post(format!("{path}/approve"))
        .header("authorization", format!("Bearer {editor}"))
        .header("if-match", "\"soon\"")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(req).await.status, 422);
    // Read again (the ETag this time), approve that: scheduled.
    let raw = app.raw(Method::GET, &path, Some(&editor), None, None).await;
    let etag = raw_header(&app, &path, &editor).await;
    assert_eq!(etag, format!("\"{}\"", raw.json()["version"]));
    let req = axum::http::Request::post(format!("{path}/approve"))
        .header("authorization", format!("Bearer {editor}"))
        .header("if-match", etag)
        .body(axum::body::Body::empty())
        .unwrap();
    let raw = app.send(req).await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(states(&raw.json()), vec!["scheduled".to_owned()]);
    assert_eq!(raw.json()["text"], "Tasting at 6, free wine");
}

/// The `ETag` header of `GET` on `path`.
async fn raw_header(app: &App, path: &str, key: &str) -> String {
    let req = axum::http::Request::get(path).header("authorization", format!("Bearer {key}")).body(axum::body::Body::empty()).unwrap();
    let resp = tower::ServiceExt::oneshot(app.router.clone(), req).await.unwrap();
    resp.headers().get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned()
}

#[tokio::test]
async fn a_contributor_changes_only_the_posts_it_created() {
    let (app, _, ch) = cafe().await;
    let mine = app.key("cafe", Role::Contributor).await;
    let theirs = app.key("cafe", Role::Contributor).await;
    let editor = app.key("cafe", Role::Editor).await;
    let draft = app.create(&theirs, json!({"text": "Their draft", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z", "draft": true})).await;
    let pending = app.create(&theirs, json!({"text": "Theirs, pending", "channel_ids": [ch], "publish_at": "2027-01-05T10:00:00Z"})).await;
    for post in [&draft, &pending] {
        let path = format!("/v1/posts/{}", id_of(post));
        let (status, err) = app.patch(&path, &mine, json!({"text": "hijacked"})).await;
        assert_eq!((status, error_of(&err).0.as_str()), (403, "forbidden"), "{err}");
        assert_eq!(app.action(id_of(post), "cancel", &mine).await.0, 403);
        let (_, still) = app.get(&path, &editor).await;
        assert_ne!(still["text"], "hijacked");
        assert_eq!(still["version"], post["version"], "nothing was written");
        // Its author and an editor still may.
        assert_eq!(app.patch(&path, &theirs, json!({"text": "mine to change"})).await.0, 200);
        assert_eq!(app.patch(&path, &editor, json!({"text": "an editor's fix"})).await.0, 200);
    }
}

// ------------------------------------------------------------------------------------------
// The approval queue: list it, hear of it, send a post back
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_approval_queue_lists_what_awaits_an_editor_who_hears_of_each_and_may_send_it_back() {
    use herald_core::events::EventKind;
    let (app, admin, ch) = cafe().await;
    let other = app.sandbox(&admin, "Other").await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let editor = app.key("cafe", Role::Editor).await;
    // Two awaiting approval (one 40 days ahead, past the calendar's default month), one
    // scheduled by an editor, one draft.
    let soon = app.create(&contributor, json!({"text": "Soup", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"})).await;
    let later = app.create(&contributor, json!({"text": "Galette", "channel_ids": [ch, other], "publish_at": "2027-02-13T09:00:00Z"})).await;
    app.create(&editor, json!({"text": "Scheduled", "channel_ids": [ch], "publish_at": "2027-01-06T09:00:00Z"})).await;
    let draft = app.create(&contributor, json!({"text": "Draft", "channel_ids": [ch], "publish_at": "2027-01-07T09:00:00Z", "draft": true})).await;

    let queue = |query: &'static str| {
        let (app, editor) = (&app, &editor);
        async move {
            let (status, page) = app.get(&format!("/v1/posts?{query}"), editor).await;
            assert_eq!(status, 200, "{page}");
            page["items"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        }
    };
    assert_eq!(queue("state=pending_approval").await, vec!["Soup", "Galette"]);
    assert_eq!(queue(Box::leak(format!("state=pending_approval&channel_id={other}").into_boxed_str())).await, vec!["Galette"]);
    assert_eq!(queue("state=draft").await, vec!["Draft"]);
    assert_eq!(queue("state=pending_approval&to=2027-01-10T00:00:00Z").await, vec!["Soup"], "an explicit window still holds");
    let (status, err) = app.get("/v1/posts?state=waiting", &editor).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("state")));

    // Editors heard of each post awaiting approval, once, with where and when it would go.
    let requested = |app: &App| -> Vec<serde_json::Value> {
        app.events.events().into_iter().filter(|e| e.kind == EventKind::ApprovalRequested).map(|e| e.detail).collect()
    };
    let asked = requested(&app);
    assert_eq!(asked.iter().map(|d| d["post_id"].clone()).collect::<Vec<_>>(), vec![soon["id"].clone(), later["id"].clone()]);
    assert_eq!(asked[1]["deliveries"].as_array().map(Vec::len), Some(2));
    assert_eq!(asked[0]["text"], "Soup");
    // Submitting the draft asks again, for that post.
    let (status, _) = app.patch(&format!("/v1/posts/{}", id_of(&draft)), &contributor, json!({"draft": false})).await;
    assert_eq!(status, 200);
    assert_eq!(requested(&app).last().unwrap()["post_id"], draft["id"]);

    // "Not yet": back to its author as a draft, the comment kept and shown.
    let path = format!("/v1/posts/{}", id_of(&soon));
    assert_eq!(app.post(&format!("{path}/reject"), &contributor, json!({"comment": "no"})).await.0, 403);
    let (status, err) = app.post(&format!("{path}/reject"), &editor, json!({"comment": "   "})).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("comment")));
    let (status, sent_back) = app.post(&format!("{path}/reject"), &editor, json!({"comment": "Say which soup, please"})).await;
    assert_eq!(status, 200, "{sent_back}");
    assert_eq!(states(&sent_back), vec!["draft".to_owned()]);
    assert_eq!(sent_back["review"]["comment"], "Say which soup, please");
    let (_, seen) = app.get(&path, &contributor).await;
    assert_eq!(seen["review"], sent_back["review"], "the author reads it");
    let rejected: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == EventKind::PostRejected).collect();
    assert_eq!((rejected.len(), rejected[0].detail["comment"].as_str()), (1, Some("Say which soup, please")));
    assert_eq!(queue("state=pending_approval").await, vec!["Draft", "Galette"]);
    // Nothing left to send back: 409.
    assert_eq!(app.post(&format!("{path}/reject"), &editor, json!({"comment": "again"})).await.0, 409);
    // The author changes it and submits it; once approved, the comment is settled.
    app.patch(&path, &contributor, json!({"text": "Leek soup", "draft": false})).await;
    let (status, approved) = app.approve(id_of(&soon), &editor).await;
    assert_eq!((status, states(&approved)), (200, vec!["scheduled".to_owned()]), "{approved}");
    assert!(approved["review"].is_null(), "{approved}");
}

/// Until Herald publishes to a network, its channels are intake-only: they say so, and a post
/// to one is refused when it is made, naming the channel, instead of failing a minute later.
#[tokio::test]
async fn a_post_to_an_intake_only_channel_is_refused_at_creation_naming_the_channel() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let li = app.platform_channel(&admin, "linkedin", "cafe.linkedin").await;

    let (_, channels) = app.get("/v1/channels", &admin).await;
    let can_publish: Vec<(String, bool)> = channels["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| (c["platform"].as_str().unwrap_or_default().to_owned(), c["can_publish"].as_bool().expect("can_publish")))
        .collect();
    assert!(can_publish.contains(&("bluesky".into(), true)), "{can_publish:?}");
    assert!(can_publish.contains(&("linkedin".into(), false)), "{can_publish:?}");

    let (status, err) = app
        .post("/v1/posts", &admin, json!({"text": "Fresh bread", "channel_ids": [sky, li], "publish_at": "2027-01-05T09:00:00Z"}))
        .await;
    let (code, field, message) = error_of(&err);
    assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("channel_ids")), "{err}");
    assert!(message.contains("channel \"cafe.linkedin\" (linkedin) is intake-only"), "{message}");
    assert!(!message.contains("@cafe"), "the Bluesky channel is fine: {message}");
    let (_, calendar) = app.get("/v1/posts?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z", &admin).await;
    assert_eq!(calendar["items"], json!([]), "nothing was kept");

    // The same holds for a series.
    let (status, err) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "Menu", "channel_ids": [li], "publish_at": {"local": "2027-01-04T09:00:00"},
                   "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("channel_ids")), "{err}");
}

/// A post with nothing in it is refused where the network needs text (or a picture), naming the
/// channel; the same text with a picture is fine where the network takes pictures alone.
#[tokio::test]
async fn an_empty_text_is_refused_where_the_network_needs_text() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let toot = app.platform_channel(&admin, "mastodon", "@cafe@mastodon.social").await;
    let sandbox = app.sandbox(&admin, "Sandbox").await;
    for text in ["", "   \n "] {
        let (status, err) = app
            .post("/v1/posts", &admin, json!({"text": text, "channel_ids": [sky, toot, sandbox], "publish_at": "2027-01-05T09:00:00Z"}))
            .await;
        let (code, field, message) = error_of(&err);
        assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("text")), "{err}");
        for name in ["@cafe", "@cafe@mastodon.social", "Sandbox"] {
            assert!(message.contains(&format!("channel \"{name}\"")), "{name} missing from {message}");
        }
        assert!(message.contains("neither text nor media"), "{message}");
    }
    let post = app
        .create(
            &admin,
            json!({"text": "", "channel_ids": [sky], "publish_at": "2027-01-05T09:00:00Z",
                   "media": [{"url": "https://cdn.example/bread.jpg", "alt": "a loaf"}]}),
        )
        .await;
    assert_eq!(post["text"], "");
}

/// `"publish_at": "now"`, the calendar read by plain dates on the team's clock, and every
/// delivery's time echoed on its channel's clock beside the UTC instant.
#[tokio::test]
async fn now_plain_calendar_dates_and_local_times() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await; // a team in Europe/Paris
    let paris = app.sandbox(&admin, "Paris").await;
    let ny = app
        .channel(&admin, json!({"platform": "sandbox", "name": "NYC", "time_zone": "America/New_York", "credentials": {}}))
        .await;

    let now = app.create(&admin, json!({"text": "Fresh out of the oven", "channel_ids": [paris], "publish_at": "now"})).await;
    let d = &now["deliveries"][0];
    assert_eq!(utc(d["publish_at"].as_str().unwrap()), t0(), "{d}");
    assert_eq!((d["publish_at_local"].as_str(), d["time_zone"].as_str()), (Some("2027-01-04T08:00:00+01:00"), Some("Europe/Paris")));
    let (status, err) = app
        .post("/v1/posts", &admin, json!({"text": "x", "channel_ids": [paris], "publish_at": "now",
            "recurrence": {"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Europe/Paris"}}))
        .await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("publish_at")), "{err}");

    // 23:30 on the 10th in Paris, and 00:30 on the 11th there (still the 10th in UTC).
    let late = app.create(&admin, json!({"text": "Late", "channel_ids": [paris, ny], "publish_at": "2027-01-10T22:30:00Z"})).await;
    let after = app.create(&admin, json!({"text": "After", "channel_ids": [paris], "publish_at": "2027-01-10T23:30:00Z"})).await;
    let locals: Vec<(&str, &str)> = late["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["time_zone"].as_str().unwrap(), d["publish_at_local"].as_str().unwrap()))
        .collect();
    assert!(locals.contains(&("Europe/Paris", "2027-01-10T23:30:00+01:00")), "{locals:?}");
    assert!(locals.contains(&("America/New_York", "2027-01-10T17:30:00-05:00")), "{locals:?}");

    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
    };
    let (status, day) = app.get("/v1/posts?from=2027-01-10&to=2027-01-10", &admin).await;
    assert_eq!(status, 200, "{day}");
    assert_eq!(ids(&day), vec![late["id"].as_str().unwrap().to_owned()], "the 10th in Paris, `to` included");
    let (_, next_day) = app.get("/v1/posts?from=2027-01-11&to=2027-01-11", &admin).await;
    assert_eq!(ids(&next_day), vec![after["id"].as_str().unwrap().to_owned()]);
    let (_, utc_day) = app.get("/v1/posts?from=2027-01-10T00:00:00Z&to=2027-01-11T00:00:00Z", &admin).await;
    assert_eq!(ids(&utc_day).len(), 2, "instants are still instants");
    assert!(utc_day["items"][0]["deliveries"][0]["time_zone"].as_str().is_some(), "the calendar shows local times too");

    for bad in ["from=2027-02-30", "to=2027-13-01"] {
        let (status, err) = app.get(&format!("/v1/posts?{bad}"), &admin).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{bad}: {err}");
    }
}

/// An uploaded picture goes to a network Herald sends the bytes to (the sandbox here), but not to
/// one whose servers fetch media themselves (Facebook, Instagram, Threads) while uploads have no
/// public address: refused when the post is saved, naming the media and what to set.
#[tokio::test]
async fn an_upload_with_no_public_address_is_refused_for_networks_that_fetch_media() {
    let (app, admin, sandbox) = cafe().await;
    let page = app.platform_channel(&admin, "facebook", "Café du Coin").await;
    let picture = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10".to_vec();
    let (status, ticket) = app.post("/v1/media", &admin, json!({"content_type": "image/png", "bytes": picture.len()})).await;
    assert_eq!(status, 201, "{ticket}");
    let path = ticket["url"].as_str().expect("an address").split_once("/v1/").map(|(_, p)| format!("/v1/{p}")).expect("a path");
    let sent = app.raw(Method::PUT, &path, None, Some("image/png"), Some(picture)).await;
    assert_eq!(sent.status, 200, "{}", sent.text());

    let post = |channel: &str| {
        json!({"text": "Le croissant", "channel_ids": [channel], "publish_at": (t0() + Duration::days(1)).to_rfc3339(),
            "media": [{"url": ticket["reference"], "alt": "Un croissant"}]})
    };
    let (status, made) = app.post("/v1/posts", &admin, post(&sandbox)).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["media"][0]["upload"]["fetchable"], false);
    let (status, err) = app.post("/v1/posts", &admin, post(&page)).await;
    let (code, field, message) = error_of(&err);
    assert_eq!((status, code.as_str(), field.as_deref()), (422, "invalid", Some("media[0].url")), "{err}");
    assert!(message.contains("Facebook fetches media from a public address") && message.contains("HERALD_PUBLIC_URL"), "{message}");
}
