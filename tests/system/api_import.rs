//! `POST /v1/posts/import`: posts from a CSV file, in process (see tests/system/common).

use axum::http::Method;
use crate::common::{App, Raw, cafe, error_of, utc};
use herald_core::domain::Role;
use serde_json::{Value, json};

async fn import(app: &App, key: &str, query: &str, csv: &str) -> Raw {
    let path = format!("/v1/posts/import{query}");
    app.raw(Method::POST, &path, Some(key), Some("text/csv"), Some(csv.as_bytes().to_vec())).await
}

/// `(line, field)` of every reported row, in order.
fn reported(rows: &Value) -> Vec<(u64, String)> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["line"].as_u64().expect("a line"), r["field"].as_str().expect("a field").to_owned()))
        .collect()
}

fn message_for(rows: &Value, line: u64) -> String {
    rows.as_array().unwrap().iter().find(|r| r["line"] == line).expect("a row on that line")["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_good_file_imports_every_row_with_its_line_and_the_zones_wall_clock() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let csv = format!(
        "\u{feff}text,channels,local_time,time_zone\r\n\
         \"Croissants, chauds\",{a},2027-01-05T09:00,Europe/Paris\r\n\
         \"Two\nlines; with a \"\"quote\"\"\",{a};{b},2027-04-05T09:00:00,Europe/Paris\r\n\
         \r\n\
         New York brunch,{b} | {a},2027-01-10T11:30,America/New_York\r\n"
    );
    let resp = import(&app, &admin, "", &csv).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(body["imported"], 3);
    assert_eq!(body["rejected"], json!([]));
    let posts = body["posts"].as_array().unwrap();
    // The quoted field spans lines 3–4; the blank line 5 is skipped.
    assert_eq!(posts.iter().map(|p| p["line"].as_u64().unwrap()).collect::<Vec<_>>(), vec![2, 3, 6]);

    let expect = [
        ("Croissants, chauds", 1, "2027-01-05T08:00:00Z"),
        ("Two\nlines; with a \"quote\"", 2, "2027-04-05T07:00:00Z"),
        ("New York brunch", 2, "2027-01-10T16:30:00Z"),
    ];
    for (post, (text, channels, at)) in posts.iter().zip(expect) {
        let (status, got) = app.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap()), &admin).await;
        assert_eq!(status, 200);
        assert_eq!(got["text"], text);
        assert_eq!(got["state"], "scheduled");
        let ds = got["deliveries"].as_array().unwrap();
        assert_eq!(ds.len(), channels);
        assert!(ds.iter().all(|d| utc(d["publish_at"].as_str().unwrap()) == utc(at)), "{got}");
    }
    assert_eq!(app.stored_calendar("cafe").await.len(), 5);
}

/// A file with one good row and one bad row of every kind.
fn mixed_file(a: &str, sky: &str) -> String {
    [
        "text,channels,local_time,time_zone".to_owned(),
        format!("good one,{a},2027-01-05T09:00,Europe/Paris"), // 2
        "unknown channel,00000000-0000-4000-8000-000000000000,2027-01-05T09:00,Europe/Paris".to_owned(), // 3
        format!("bad zone,{a},2027-01-05T09:00,Europe/Atlantis"), // 4
        format!("dst gap,{a},2027-03-28T02:30,Europe/Paris"),  // 5
        format!("dst overlap,{a},2027-10-31T02:30,Europe/Paris"), // 6
        format!("in the past,{a},2027-01-04T07:00,Europe/Paris"), // 7
        format!("{},{a};{sky},2027-01-05T09:00,Europe/Paris", "x".repeat(301)), // 8
        format!("bad time,{a},tomorrow at nine,Europe/Paris"), // 9
        format!("too,many,fields,{a},2027-01-05T09:00,Europe/Paris"), // 10
        format!(",{a},2027-01-05T09:00,Europe/Paris"),         // 11
        format!("twice,{a};{a},2027-01-05T09:00,Europe/Paris"), // 12
        format!("another good one,{sky},2027-01-06T09:00:00,Europe/Paris"), // 13
        ",,,".to_owned(),                                      // 14
    ]
    .join("\n")
}

#[tokio::test]
async fn any_bad_row_refuses_the_whole_file_and_reports_every_bad_row_by_line() {
    let (app, admin, a) = cafe().await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let resp = import(&app, &admin, "", &mixed_file(&a, &sky)).await;
    let body = resp.json();
    assert_eq!(resp.status, 422, "{body}");
    let (code, field, message) = error_of(&body);
    assert_eq!((code.as_str(), field.as_deref()), ("invalid", Some("csv")));
    assert!(message.contains("nothing was imported"), "{message}");
    assert!(message.contains("partial=true"), "{message}");
    let rows = &body["rows"];
    let mut want: Vec<(u64, String)> = [
        (3, "channels"),
        (4, "time_zone"),
        (5, "local_time"),
        (6, "local_time"),
        (7, "local_time"),
        (8, "text"),
        (9, "local_time"),
        (10, "csv"),
        (11, "text"),
        (12, "channels"),
        (14, "text"),
        (14, "channels"),
        (14, "time_zone"),
        (14, "local_time"),
    ]
    .into_iter()
    .map(|(l, f)| (l, f.to_owned()))
    .collect();
    let mut got = reported(rows);
    got.sort();
    want.sort();
    assert_eq!(got, want, "{body}");
    assert!(message_for(rows, 3).contains("no channel `00000000-0000-4000-8000-000000000000` in your team"));
    assert!(message_for(rows, 4).contains("Europe/Atlantis"));
    assert!(message_for(rows, 5).contains("does not exist in Europe/Paris"), "{}", message_for(rows, 5));
    assert!(message_for(rows, 6).contains("happens twice in Europe/Paris"), "{}", message_for(rows, 6));
    assert!(message_for(rows, 7).contains("in the past"));
    assert!(message_for(rows, 8).contains("channel \"@cafe\" (bluesky)"), "{}", message_for(rows, 8));
    assert!(message_for(rows, 10).contains("has 6 fields but the header has 4"));
    assert!(message_for(rows, 12).contains("listed twice"));
    assert!(message.starts_with("11 of 13 rows are invalid"), "{message}");
    assert!(app.stored_calendar("cafe").await.is_empty(), "nothing is half-imported");
}

#[tokio::test]
async fn partial_imports_the_good_rows_and_reports_the_bad_ones() {
    let (app, admin, a) = cafe().await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe").await;
    let resp = import(&app, &admin, "?partial=true", &mixed_file(&a, &sky)).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(body["imported"], 2);
    let lines: Vec<u64> = body["posts"].as_array().unwrap().iter().map(|p| p["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 13]);
    let rejected_lines: std::collections::BTreeSet<u64> =
        reported(&body["rejected"]).into_iter().map(|(l, _)| l).collect();
    assert_eq!(rejected_lines.into_iter().collect::<Vec<_>>(), vec![3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14]);
    assert_eq!(app.stored_calendar("cafe").await.len(), 2);

    // Nothing good at all: still refused.
    let only_bad = "text,channels,local_time,time_zone\nx,nope,2027-01-05T09:00,Europe/Paris\n";
    let resp = import(&app, &admin, "?partial=true", only_bad).await;
    assert_eq!(resp.status, 422);
    assert_eq!(reported(&resp.json()["rows"]), vec![(2, "channels".to_owned())]);
    // And a partial flag that is not a boolean is refused.
    let resp = import(&app, &admin, "?partial=yes", only_bad).await;
    assert_eq!((resp.status, error_of(&resp.json()).1.as_deref()), (422, Some("partial")));
}

#[tokio::test]
async fn the_header_is_required_and_checked() {
    let (app, admin, a) = cafe().await;
    // Columns in another order, names spelled the friendly way.
    let ok = format!("Zone,Local time,Channels,Text\nEurope/Paris,2027-01-05T09:00,{a},hello\n");
    assert_eq!(import(&app, &admin, "", &ok).await.status, 201);

    let no_header = format!("hello,{a},2027-01-05T09:00,Europe/Paris\n");
    let resp = import(&app, &admin, "", &no_header).await;
    let body = resp.json();
    assert_eq!(resp.status, 422, "{body}");
    let rows = reported(&body["rows"]);
    assert!(rows.iter().all(|(line, field)| *line == 1 && field == "csv"), "{body}");
    assert!(body["rows"][0]["message"].as_str().unwrap().contains("`hello` is not a column"), "{body}");

    let missing = "text,channels\nhello,x\n";
    let body = import(&app, &admin, "", missing).await.json();
    let messages: Vec<&str> = body["rows"].as_array().unwrap().iter().map(|r| r["message"].as_str().unwrap()).collect();
    assert!(messages.iter().any(|m| m.contains("`local_time` is missing")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("`time_zone` is missing")), "{messages:?}");

    for (csv, says) in [("", "is empty"), ("  \n", "is empty"), ("text,channels,local_time,time_zone\n", "no rows")] {
        let resp = import(&app, &admin, "", csv).await;
        let body = resp.json();
        assert_eq!(resp.status, 422, "{csv:?}");
        let (_, field, message) = error_of(&body);
        assert_eq!(field.as_deref(), Some("csv"));
        assert!(message.contains(says), "{csv:?}: {message}");
    }
    assert_eq!(app.stored_calendar("cafe").await.len(), 1);
}

#[tokio::test]
async fn files_are_bounded_in_rows_and_bytes() {
    let (app, admin, a) = cafe().await;
    let row = format!("hi,{a},2027-01-05T09:00,Europe/Paris\n");
    let thousand = format!("text,channels,local_time,time_zone\n{}", row.repeat(1000));
    let resp = import(&app, &admin, "", &thousand).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["imported"], 1000);

    let more = format!("text,channels,local_time,time_zone\n{}", row.repeat(1001));
    let resp = import(&app, &admin, "", &more).await;
    let body = resp.json();
    assert_eq!(resp.status, 422);
    let (_, field, message) = error_of(&body);
    assert_eq!(field.as_deref(), Some("csv"));
    assert!(message.contains("more than 1000 rows"), "{message}");

    let huge = format!(
        "text,channels,local_time,time_zone\n\"{}\",{a},2027-01-05T09:00,Europe/Paris\n",
        "x".repeat(1024 * 1024)
    );
    let resp = import(&app, &admin, "", &huge).await;
    assert_eq!(resp.status, 413);
    assert_eq!(error_of(&resp.json()).0, "too_large");
    assert_eq!(app.stored_calendar("cafe").await.len(), 1000);
}

#[tokio::test]
async fn roles_and_teams_apply_to_every_row() {
    let (app, _admin, a) = cafe().await;
    let csv = format!("text,channels,local_time,time_zone\nhello,{a},2027-01-05T09:00,Europe/Paris\n");

    let contributor = app.key("cafe", Role::Contributor).await;
    let resp = import(&app, &contributor, "", &csv).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(body["posts"][0]["state"], "pending_approval");
    assert_eq!(body["posts"][0]["deliveries"][0]["state"], "pending_approval");

    let viewer = app.key("cafe", Role::Viewer).await;
    assert_eq!(import(&app, &viewer, "", &csv).await.status, 403);
    assert_eq!(
        app.raw(Method::POST, "/v1/posts/import", None, Some("text/csv"), Some(csv.clone().into_bytes())).await.status,
        401
    );

    // Another team's channel is an unknown channel.
    let other = app.key("other", Role::Admin).await;
    let resp = import(&app, &other, "", &csv).await;
    assert_eq!(resp.status, 422);
    assert_eq!(reported(&resp.json()["rows"]), vec![(2, "channels".to_owned())]);
    assert_eq!(app.stored_calendar("other").await.len(), 0);
}
