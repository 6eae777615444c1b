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
    assert!(!messages.iter().any(|m| m.contains("`time_zone` is missing")), "the zone is optional: {messages:?}");

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
    // A thousand different posts (a thousand equal rows would make one post and 999 duplicates).
    let rows: String = (0..1000).map(|i| format!("hi {i},{a},2027-01-05T09:00,Europe/Paris\n")).collect();
    let thousand = format!("text,channels,local_time,time_zone\n{rows}");
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

/// The posts of a 201/200 answer: `(line, id)`.
fn made(body: &Value) -> Vec<(u64, String)> {
    body["posts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| (p["line"].as_u64().expect("a line"), p["id"].as_str().expect("an id").to_owned()))
        .collect()
}

/// `(line, post_id)` of every duplicate row, checking the count agrees.
fn duplicates(body: &Value) -> Vec<(u64, String)> {
    let rows: Vec<(u64, String)> = body["duplicates"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("duplicates.rows: {body}"))
        .iter()
        .map(|r| (r["line"].as_u64().expect("a line"), r["post_id"].as_str().expect("a post id").to_owned()))
        .collect();
    assert_eq!(body["duplicates"]["count"].as_u64(), Some(rows.len() as u64), "{body}");
    rows
}

#[tokio::test]
async fn semicolon_and_tab_files_import_like_comma_files() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    // What a spreadsheet set to French saves: `;` between columns, so a cell listing channels
    // with `;` is quoted, and commas in the text need no quotes.
    let french = format!(
        "text;channels;local_time;time_zone\r\n\
         Croissants, chauds et dorés;\"{a};{b}\";2027-01-05T09:00;Europe/Paris\r\n\
         \"Pain; beurre\";{b};2027-01-06T09:00;Europe/Paris\r\n"
    );
    let resp = import(&app, &admin, "", &french).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(body["imported"], 2);
    assert_eq!(body["posts"][0]["text"], "Croissants, chauds et dorés");
    assert_eq!(body["posts"][0]["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(body["posts"][1]["text"], "Pain; beurre");

    let tabs = format!("text\tchannels\tlocal_time\ttime_zone\nTabs, too\t{a}\t2027-01-07T09:00\tEurope/Paris\n");
    let resp = import(&app, &admin, "", &tabs).await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert_eq!(resp.json()["posts"][0]["text"], "Tabs, too");

    // A row of a `;` file with a stray field says how to quote in that file.
    let stray = format!("text;channels;local_time\nun;deux;{a};2027-01-08T09:00\n");
    let body = import(&app, &admin, "", &stray).await.json();
    assert!(message_for(&body["rows"], 2).contains("a field holding a semicolon must be in double quotes"), "{body}");

    // No separator the header uses: say what to do.
    for undetectable in ["text|channels|local_time\nx|y|z\n", "text,channels;local_time\nx,y;z\n"] {
        let resp = import(&app, &admin, "", undetectable).await;
        let body = resp.json();
        assert_eq!(resp.status, 422, "{body}");
        let (code, field, message) = error_of(&body);
        assert_eq!((code.as_str(), field.as_deref()), ("invalid", Some("csv")));
        assert!(message.contains("could not tell how its columns are separated") && message.contains("use commas"), "{message}");
    }
    assert_eq!(app.stored_calendar("cafe").await.len(), 4);
}

#[tokio::test]
async fn channels_may_be_named_and_a_name_must_name_one_channel() {
    let (app, admin, a) = cafe().await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe.bsky.social").await;
    app.sandbox(&admin, "Twin").await;
    app.sandbox(&admin, "twin ").await;
    let csv = format!(
        "text,channels,local_time,time_zone\n\
         By name,  SANDBOX ; @Cafe.bsky.social ,2027-01-05T09:00,Europe/Paris\n\
         By id and name,{a}|@cafe.bsky.social,2027-01-05T10:00,Europe/Paris\n"
    );
    let resp = import(&app, &admin, "", &csv).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    for post in body["posts"].as_array().unwrap() {
        let mut got: Vec<&str> = post["deliveries"].as_array().unwrap().iter().map(|d| d["channel_id"].as_str().unwrap()).collect();
        got.sort();
        let mut want = vec![a.as_str(), sky.as_str()];
        want.sort();
        assert_eq!(got, want, "{post}");
    }

    let bad = "text,channels,local_time,time_zone\n\
               ambiguous,twin,2027-01-05T09:00,Europe/Paris\n\
               unknown,Sandbox;Nowhere,2027-01-05T09:00,Europe/Paris\n";
    let resp = import(&app, &admin, "", bad).await;
    let body = resp.json();
    assert_eq!(resp.status, 422, "{body}");
    assert_eq!(reported(&body["rows"]), vec![(2, "channels".to_owned()), (3, "channels".to_owned())]);
    let ambiguous = message_for(&body["rows"], 2);
    assert!(ambiguous.contains("`twin` is the name of 2 channels of your team") && ambiguous.contains("give the id"), "{ambiguous}");
    let unknown = message_for(&body["rows"], 3);
    assert!(unknown.contains("no channel `Nowhere` in your team"), "{unknown}");
    assert_eq!(app.stored_calendar("cafe").await.len(), 4);
}

#[tokio::test]
async fn without_a_time_zone_each_channel_reads_the_local_time_in_its_own_zone() {
    let (app, admin, paris) = cafe().await;
    let new_york = app
        .channel(&admin, json!({"platform": "sandbox", "name": "NYC", "time_zone": "America/New_York", "credentials": {}}))
        .await;
    // No time_zone column at all.
    let csv = format!(
        "text,channels,local_time\n\
         Paris morning,{paris},2027-01-05T09:00\n\
         Everyone at nine,{paris};{new_york},2027-01-05T09:00\n"
    );
    let resp = import(&app, &admin, "", &csv).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    let at = |post: &Value, channel: &str| {
        let d = post["deliveries"].as_array().unwrap().iter().find(|d| d["channel_id"] == channel).expect("a delivery");
        utc(d["publish_at"].as_str().unwrap())
    };
    assert_eq!(at(&body["posts"][0], &paris), utc("2027-01-05T08:00:00Z"));
    // One post, two deliveries: 09:00 in Paris and 09:00 in New York.
    assert_eq!(at(&body["posts"][1], &paris), utc("2027-01-05T08:00:00Z"));
    assert_eq!(at(&body["posts"][1], &new_york), utc("2027-01-05T14:00:00Z"));

    // The column present but a cell empty: the same; a zone given still wins.
    let csv = format!(
        "text,channels,local_time,time_zone\n\
         Empty zone,{new_york},2027-01-06T09:00,\n\
         Given zone,{new_york},2027-01-06T09:00,Europe/Paris\n\
         Short row,{new_york},2027-01-07T09:00\n"
    );
    let resp = import(&app, &admin, "", &csv).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    assert_eq!(at(&body["posts"][0], &new_york), utc("2027-01-06T14:00:00Z"));
    assert_eq!(at(&body["posts"][1], &new_york), utc("2027-01-06T08:00:00Z"));
    assert_eq!(at(&body["posts"][2], &new_york), utc("2027-01-07T14:00:00Z"));

    // Each channel's zone is checked for its own DST gap: 02:30 on 2027-03-14 does not exist
    // in New York, and does in Paris.
    let csv = format!("text,channels,local_time\ngap,{paris};{new_york},2027-03-14T02:30\n");
    let body = import(&app, &admin, "", &csv).await.json();
    assert_eq!(reported(&body["rows"]), vec![(2, "local_time".to_owned())], "{body}");
    assert!(message_for(&body["rows"], 2).contains("does not exist in America/New_York"), "{body}");
}

#[tokio::test]
async fn a_day_that_does_not_exist_is_not_a_format_error() {
    let (app, admin, a) = cafe().await;
    let csv = format!(
        "text,channels,local_time,time_zone\n\
         no such day,{a},2026-12-32T10:00,Europe/Paris\n\
         not a leap year,{a},2027-02-29T10:00,Europe/Paris\n\
         no such hour,{a},2027-01-05T24:00,Europe/Paris\n\
         wrong shape,{a},05/01/2027 10:00,Europe/Paris\n"
    );
    let body = import(&app, &admin, "", &csv).await.json();
    let rows = &body["rows"];
    assert_eq!(
        reported(rows),
        (2..=5).map(|l| (l, "local_time".to_owned())).collect::<Vec<_>>(),
        "{body}"
    );
    assert_eq!(message_for(rows, 2), "2026-12-32 is not a day of the calendar: December 2026 has 31 days");
    assert_eq!(message_for(rows, 3), "2027-02-29 is not a day of the calendar: February 2027 has 28 days");
    assert!(message_for(rows, 4).contains("24:00 on 2027-01-05 is not a time of day"), "{body}");
    assert!(message_for(rows, 5).contains("must look like 2027-01-04T10:00:00"), "{body}");
}

#[tokio::test]
async fn importing_a_file_again_creates_nothing_and_says_which_rows_were_there() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second").await;
    let file = format!(
        "text,channels,local_time,time_zone\n\
         one,{a},2027-01-05T09:00,Europe/Paris\n\
         two,{a};{b},2027-01-06T09:00,Europe/Paris\n"
    );
    let first = import(&app, &admin, "", &file).await;
    let first_body = first.json();
    assert_eq!(first.status, 201, "{first_body}");
    assert_eq!(duplicates(&first_body), vec![]);
    let ids = made(&first_body);

    // The same file: nothing new, 200, both rows reported with the posts they made.
    let again = import(&app, &admin, "", &file).await;
    let body = again.json();
    assert_eq!(again.status, 200, "{body}");
    assert_eq!(body["imported"], 0);
    assert_eq!(duplicates(&body), ids);
    assert_eq!(app.stored_calendar("cafe").await.len(), 3);

    // The same rows written differently (channel names and order, seconds, the zone left to the
    // channels), a new row, and a row repeated within the file.
    let edited = format!(
        "text;channels;local_time\n\
         two;\"second;sandbox\";2027-01-06T09:00:00\n\
         three;{a};2027-01-07T09:00\n\
         one;{a};2027-01-05T09:00\n\
         three;{a};2027-01-07T09:00\n"
    );
    let resp = import(&app, &admin, "", &edited).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    let three = made(&body);
    assert_eq!(three.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![3]);
    assert_eq!(duplicates(&body), vec![(2, ids[1].1.clone()), (4, ids[0].1.clone()), (5, three[0].1.clone())]);
    assert_eq!(app.stored_calendar("cafe").await.len(), 4);

    // Once a row's time has passed it is still a duplicate, not a row in the past; with a bad
    // row beside it, the file is refused and the message counts both.
    app.clock.set(utc("2027-01-05T12:00:00Z"));
    let late = format!("{file}bad,{a},2027-01-09T09:00,Mars/Olympus\n");
    let resp = import(&app, &admin, "", &late).await;
    let body = resp.json();
    assert_eq!(resp.status, 422, "{body}");
    assert_eq!(reported(&body["rows"]), vec![(4, "time_zone".to_owned())]);
    assert!(error_of(&body).2.contains("the other 2 were imported before"), "{body}");
    let resp = import(&app, &admin, "?partial=true", &late).await;
    let body = resp.json();
    assert_eq!(resp.status, 200, "{body}");
    assert_eq!(duplicates(&body), ids);
    assert_eq!(reported(&body["rejected"]), vec![(4, "time_zone".to_owned())]);

    // A post cancelled since is not a duplicate: the row makes a new post.
    assert_eq!(app.action(&ids[1].1, "cancel", &admin).await.0, 200);
    let resp = import(&app, &admin, "", &file.replace("2027-01-05T09:00", "2027-01-05T15:00")).await;
    let body = resp.json();
    assert_eq!(resp.status, 201, "{body}");
    let remade = made(&body);
    assert_eq!(remade.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![2, 3]);
    assert_ne!(remade[1].1, ids[1].1);
    // …and importing that again finds the new one.
    let body = import(&app, &admin, "", &file.replace("2027-01-05T09:00", "2027-01-05T15:00")).await.json();
    assert_eq!(duplicates(&body), remade);
}
