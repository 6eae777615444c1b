//! Recurring posts through `POST /v1/posts` with a `recurrence`, in process (see tests/system/common).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use crate::common::{App, cafe, deliveries, error_of, utc};
use herald_core::domain::Role;
use serde_json::{Value, json};

fn posts(series: &Value) -> &Vec<Value> {
    series["posts"].as_array().expect("posts")
}

fn publish_times(series: &Value) -> Vec<DateTime<Utc>> {
    posts(series).iter().map(|p| utc(p["publish_at"].as_str().expect("publish_at"))).collect()
}

async fn create_series(app: &App, key: &str, body: Value) -> Value {
    let (status, series) = app.post("/v1/posts", key, body).await;
    assert_eq!(status, 201, "{series}");
    series
}

#[tokio::test]
async fn weekly_monday_nine_paris_stays_nine_local_across_the_dst_change() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    // 2027-03-28: Paris moves from +01:00 to +02:00.
    let series = create_series(
        &app,
        &admin,
        json!({
            "text": "Lundi: la carte de la semaine ☕",
            "channel_ids": [a, b],
            "publish_at": {"local": "2027-03-15T09:00:00"},
            "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "time_zone": "Europe/Paris"},
        }),
    )
    .await;
    assert_eq!(
        publish_times(&series),
        vec![
            utc("2027-03-15T08:00:00Z"),
            utc("2027-03-22T08:00:00Z"),
            utc("2027-03-29T07:00:00Z"),
            utc("2027-04-05T07:00:00Z"),
        ]
    );
    let series_id = series["series_id"].as_str().expect("a series id");
    assert_eq!(series["recurrence"], json!({"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "time_zone": "Europe/Paris"}));
    assert_eq!(series["skipped"], json!([]));
    let mut ids = HashSet::new();
    for post in posts(&series) {
        assert!(ids.insert(post["id"].as_str().unwrap().to_owned()), "each occurrence is its own post");
        assert_eq!(post["series_id"], series_id);
        assert_eq!(post["text"], "Lundi: la carte de la semaine ☕");
        assert_eq!(post["state"], "scheduled");
        let ds = deliveries(post);
        assert_eq!(ds.len(), 2, "every channel of every occurrence");
        for d in ds {
            assert_eq!(d["publish_at"], post["publish_at"]);
            assert!(d["id"].as_str().is_some());
        }
        // GET shows the same post, linked to its series.
        let (status, got) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
        assert_eq!(status, 200);
        assert_eq!(got["series_id"], series_id);
        assert_eq!(got["deliveries"], post["deliveries"]);
    }
    assert_eq!(app.stored_calendar("cafe").await.len(), 8);
    // One-off posts belong to no series.
    let single =
        app.create(&admin, json!({"text": "once", "channel_ids": [a], "publish_at": "2027-02-01T09:00:00Z"})).await;
    assert_eq!(single["series_id"], Value::Null);
}

#[tokio::test]
async fn several_days_a_week_variants_and_media_repeat_on_every_post() {
    let (app, admin, a) = cafe().await;
    let series = create_series(
        &app,
        &admin,
        json!({
            "text": "Menu",
            "channel_ids": [a],
            "publish_at": {"local": "2027-01-04T12:30", "time_zone": "Europe/Paris"},
            "variants": {"bluesky": "Menu 🦋"},
            "media": [{"url": "https://example.org/menu.png", "alt": "menu"}],
            "recurrence": {"rrule": "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"},
        }),
    )
    .await;
    let times = publish_times(&series);
    assert_eq!(times.len(), 10);
    assert_eq!(times[0], utc("2027-01-04T11:30:00Z"));
    assert_eq!(times[1], utc("2027-01-06T11:30:00Z"));
    assert_eq!(times[9], utc("2027-02-03T11:30:00Z"));
    for post in posts(&series) {
        assert_eq!(post["variants"], json!({"bluesky": "Menu 🦋"}));
        assert_eq!(post["media"], json!([{"url": "https://example.org/menu.png", "alt": "menu"}]));
    }
}

#[tokio::test]
async fn until_bounds_the_series_and_an_instant_start_is_read_in_the_zone() {
    let (app, admin, a) = cafe().await;
    let series = create_series(
        &app,
        &admin,
        json!({
            "text": "Daily special",
            "channel_ids": [a],
            "publish_at": "2027-01-05T08:00:00Z",
            "recurrence": {"rrule": "FREQ=DAILY;UNTIL=20270108T080000Z", "time_zone": "Europe/Paris"},
        }),
    )
    .await;
    assert_eq!(
        publish_times(&series),
        vec![
            utc("2027-01-05T08:00:00Z"),
            utc("2027-01-06T08:00:00Z"),
            utc("2027-01-07T08:00:00Z"),
            utc("2027-01-08T08:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn gap_times_are_skipped_and_overlap_times_take_the_earlier_instant() {
    let (app, admin, a) = cafe().await;
    // 02:30 does not exist in Paris on 2027-03-28.
    let series = create_series(
        &app,
        &admin,
        json!({
            "text": "Night owl",
            "channel_ids": [a],
            "publish_at": {"local": "2027-03-27T02:30:00", "time_zone": "Europe/Paris"},
            "recurrence": {"rrule": "FREQ=DAILY;COUNT=3"},
        }),
    )
    .await;
    assert_eq!(publish_times(&series), vec![utc("2027-03-27T01:30:00Z"), utc("2027-03-29T00:30:00Z")]);
    let skipped = series["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["local"], "2027-03-28T02:30:00");
    assert!(skipped[0]["reason"].as_str().unwrap().contains("does not exist in Europe/Paris"));

    // 01:30 happens twice in New York on 2027-11-07: the first (EDT, -04:00) is taken.
    let series = create_series(
        &app,
        &admin,
        json!({
            "text": "Early bird",
            "channel_ids": [a],
            "publish_at": {"local": "2027-11-06T01:30:00"},
            "recurrence": {"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "America/New_York"},
        }),
    )
    .await;
    assert_eq!(publish_times(&series), vec![utc("2027-11-06T05:30:00Z"), utc("2027-11-07T05:30:00Z")]);
}

#[tokio::test]
async fn unbounded_or_too_long_series_are_422_naming_the_rule_and_store_nothing() {
    let (app, admin, a) = cafe().await;
    let cases = [
        ("FREQ=WEEKLY;BYDAY=MO", "needs COUNT or UNTIL"),
        ("FREQ=WEEKLY;COUNT=53", "1 to 52"),
        ("FREQ=DAILY;UNTIL=20271231T000000Z", "more than 52"),
        ("FREQ=HOURLY;COUNT=3", "at most daily"),
        ("FREQ=WEEKLY;BYDAY=XX;COUNT=3", "XX"),
        ("every monday", "contains ` `"),
    ];
    for (rule, says) in cases {
        let (status, body) = app
            .post(
                "/v1/posts",
                &admin,
                json!({"text": "x", "channel_ids": [a], "publish_at": {"local": "2027-01-04T09:00:00"},
                       "recurrence": {"rrule": rule, "time_zone": "Europe/Paris"}}),
            )
            .await;
        assert_eq!(status, 422, "{rule}: {body}");
        let (code, field, message) = error_of(&body);
        assert_eq!((code.as_str(), field.as_deref()), ("invalid", Some("recurrence.rrule")), "{rule}");
        assert!(message.contains(says), "{rule}: {message}");
    }
    assert!(app.stored_calendar("cafe").await.is_empty());
}

#[tokio::test]
async fn one_bad_occurrence_means_no_post_at_all() {
    let (app, admin, a) = cafe().await;
    // Now is 2027-01-04T07:00Z: the first occurrence (yesterday) is past, the other four are not.
    let (status, body) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "x", "channel_ids": [a], "publish_at": {"local": "2027-01-03T09:00:00"},
                   "recurrence": {"rrule": "FREQ=DAILY;COUNT=5", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, field, message) = error_of(&body);
    assert_eq!(field.as_deref(), Some("publish_at"));
    assert!(message.contains("occurrence 1 of 5 (2027-01-03T09:00:00 in Europe/Paris"), "{message}");
    assert!(message.contains("in the past"), "{message}");
    assert!(app.stored_calendar("cafe").await.is_empty());

    // Text too long for one target platform: refused for the whole series, naming the channel.
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let (status, body) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "a".repeat(301), "channel_ids": [a, sky], "publish_at": {"local": "2027-01-05T09:00:00"},
                   "recurrence": {"rrule": "FREQ=DAILY;COUNT=5", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (_, field, message) = error_of(&body);
    assert_eq!(field.as_deref(), Some("text"));
    assert!(message.contains("channel \"@cafe\" (bluesky)"), "{message}");
    assert!(app.stored_calendar("cafe").await.is_empty());

    // An unknown channel: 404 naming channel_ids, nothing stored.
    let (status, body) = app
        .post(
            "/v1/posts",
            &admin,
            json!({"text": "x", "channel_ids": [a, "00000000-0000-4000-8000-000000000000"],
                   "publish_at": {"local": "2027-01-05T09:00:00"},
                   "recurrence": {"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Europe/Paris"}}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_of(&body).1.as_deref(), Some("channel_ids"));
    assert!(app.stored_calendar("cafe").await.is_empty());
}

#[tokio::test]
async fn the_start_and_zone_must_make_sense() {
    let (app, admin, a) = cafe().await;
    let cases = [
        (json!("next_slot"), json!({"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Europe/Paris"}), "publish_at"),
        (json!({"local": "2027-01-05T09:00:00"}), json!({"rrule": "FREQ=DAILY;COUNT=2"}), "recurrence.time_zone"),
        (
            json!({"local": "2027-01-05T09:00:00", "time_zone": "America/New_York"}),
            json!({"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Europe/Paris"}),
            "recurrence.time_zone",
        ),
        (
            json!({"local": "2027-01-05T09:00:00"}),
            json!({"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Mars/Olympus"}),
            "recurrence.time_zone",
        ),
        (
            json!({"local": "2027-01-05T09:00:00"}),
            json!({"rrule": "FREQ=DAILY;COUNT=2", "time_zone": "Europe/Paris", "byday": "MO"}),
            "recurrence.byday",
        ),
        (json!({"local": "2027-01-05T09:00:00"}), json!({"time_zone": "Europe/Paris"}), "recurrence.rrule"),
    ];
    for (publish_at, recurrence, field) in cases {
        let (status, body) = app
            .post(
                "/v1/posts",
                &admin,
                json!({"text": "x", "channel_ids": [a], "publish_at": publish_at, "recurrence": recurrence}),
            )
            .await;
        assert_eq!(status, 422, "{recurrence}: {body}");
        assert_eq!(error_of(&body).1.as_deref(), Some(field), "{body}");
    }
    assert!(app.stored_calendar("cafe").await.is_empty());
}

#[tokio::test]
async fn roles_apply_to_every_occurrence() {
    let (app, admin, a) = cafe().await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let body = json!({"text": "x", "channel_ids": [a], "publish_at": {"local": "2027-01-05T09:00:00"},
                      "recurrence": {"rrule": "FREQ=DAILY;COUNT=3", "time_zone": "Europe/Paris"}});
    let series = create_series(&app, &contributor, body.clone()).await;
    for post in posts(&series) {
        assert_eq!(post["state"], "pending_approval");
    }
    // An editor approves each occurrence on its own.
    let first = posts(&series)[0]["id"].as_str().unwrap().to_owned();
    let (status, approved) = app.approve(&first, &admin).await;
    assert_eq!((status, approved["state"].as_str()), (200, Some("scheduled")));

    let mut draft = body.clone();
    draft["draft"] = json!(true);
    let series = create_series(&app, &admin, draft).await;
    assert!(posts(&series).iter().all(|p| p["state"] == "draft"));

    let viewer = app.key("cafe", Role::Viewer).await;
    let (status, _) = app.post("/v1/posts", &viewer, body).await;
    assert_eq!(status, 403);
}
