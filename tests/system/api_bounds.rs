//! Times at the edges, through the API: years chrono reads but Herald does not (`+262142`,
//! `+10000`, 1969) are 422s naming the field, never a panic (which used to end `herald serve`
//! for every team) nor a delivery that clogs the due queue; posts more than five years ahead
//! are refused when they are made.

use axum::http::Method;
use herald_core::domain::Role;
use serde_json::{Value, json};

use crate::common::{App, cafe, error_of};

async fn refused(app: &App, method: Method, path: &str, key: &str, body: Value) -> (String, Option<String>, String) {
    let (status, err) = app.call(method, path, Some(key), Some(body.to_string())).await;
    assert_eq!(status, 422, "{path} {body} → {err}");
    error_of(&err)
}

#[tokio::test]
async fn report_dates_beyond_the_year_9999_are_422_not_a_crash() {
    let (app, admin, _) = cafe().await;
    for (from, to, field) in [
        ("+262142-12-31", "+262142-12-31", "from"),
        ("2027-01-04", "+10000-01-04", "to"),
        ("1969-12-25", "2027-01-04", "from"),
    ] {
        let (code, f, message) = refused(&app, Method::POST, "/v1/reports", &admin, json!({"from": from, "to": to})).await;
        assert_eq!((code.as_str(), f.as_deref()), ("invalid", Some(field)), "{message}");
        assert!(message.contains("out of range"), "{message}");
    }
    // The router still answers afterwards.
    assert_eq!(app.get("/v1/me", &admin).await.0, 200);
}

#[tokio::test]
async fn publish_times_beyond_the_horizon_are_422_naming_publish_at() {
    let (app, admin, ch) = cafe().await;
    for publish_at in [
        json!({"local": "+262142-12-31T23:00:00", "time_zone": "America/New_York"}),
        json!({"local": "+10000-01-04T09:00:00"}),
        json!("+10000-01-04T09:00:00Z"),
        json!("+262142-12-31T23:00:00Z"),
        // Representable, but more than five years after now (2027-01-04): a typo for 2027.
        json!("2207-01-04T09:00:00Z"),
        json!({"local": "2032-06-01T09:00:00", "time_zone": "Europe/Paris"}),
    ] {
        let body = json!({"text": "far", "channel_ids": [ch], "publish_at": publish_at});
        let (code, field, message) = refused(&app, Method::POST, "/v1/posts", &admin, body).await;
        assert_eq!((code.as_str(), field.as_deref()), ("invalid", Some("publish_at")), "{publish_at}: {message}");
    }
    // Five years ahead less a day is fine.
    let (status, post) =
        app.post("/v1/posts", &admin, json!({"text": "next", "channel_ids": [ch], "publish_at": "2032-01-03T09:00:00Z"})).await;
    assert_eq!(status, 201, "{post}");
    // A recurring post whose first occurrence is far away, or whose UNTIL is out of range.
    let series = json!({"text": "far", "channel_ids": [ch], "publish_at": {"local": "9999-12-01T09:00:00"},
                        "recurrence": {"rrule": "FREQ=YEARLY;COUNT=52", "time_zone": "Europe/Paris"}});
    let (_, field, _) = refused(&app, Method::POST, "/v1/posts", &admin, series).await;
    assert_eq!(field.as_deref(), Some("publish_at"));
    let until = json!({"text": "far", "channel_ids": [ch], "publish_at": {"local": "2027-02-01T09:00:00"},
                       "recurrence": {"rrule": "FREQ=DAILY;UNTIL=+2621421231", "time_zone": "Europe/Paris"}});
    let (_, field, _) = refused(&app, Method::POST, "/v1/posts", &admin, until).await;
    assert_eq!(field.as_deref(), Some("recurrence.rrule"));
    // Nothing of the refused ones was stored.
    assert_eq!(app.stored_calendar("cafe").await.len(), 1);
}

#[tokio::test]
async fn listing_bounds_and_csv_times_are_bounded_too() {
    let (app, admin, ch) = cafe().await;
    let (status, err) = app.get("/v1/posts?from=%2B10000-01-01T00:00:00Z", &admin).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("from")), "{err}");
    let (status, err) = app.get("/v1/inbox?to=1900-01-01T00:00:00Z", &admin).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("to")), "{err}");
    let csv = format!("text,channels,local_time,time_zone\nFar,{ch},+10000-01-04T09:00,Europe/Paris\n");
    let raw = app.raw(Method::POST, "/v1/posts/import", Some(&admin), Some("text/csv"), Some(csv.into_bytes())).await;
    assert_eq!(raw.status, 422, "{}", raw.text());
    assert_eq!(raw.json()["rows"][0]["field"], "local_time");
    // An editor's PATCH to a far time is refused the same way.
    let editor = app.key("cafe", Role::Editor).await;
    let post = app.create(&editor, json!({"text": "soon", "channel_ids": [ch], "publish_at": "2027-02-01T09:00:00Z"})).await;
    let path = format!("/v1/posts/{}", post["id"].as_str().unwrap());
    let (_, field, _) = refused(&app, Method::PATCH, &path, &editor, json!({"publish_at": "+10000-01-01T00:00:00Z"})).await;
    assert_eq!(field.as_deref(), Some("publish_at"));
}
