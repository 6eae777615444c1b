//! The web app's calendar page (`GET /calendar`, shared/src/web), in process through the API's
//! router (tests/system/common): posts on their local day, filters, free queue slots, the
//! security headers of every page, the embedded assets, bad query values, and the page as
//! Chromium lays it out at a phone's and a laptop's width.

use std::time::{Duration, Instant};

use axum::http::Method;
use crate::common::{App, Raw, cafe};
use herald_core::domain::Role;
use herald_core::web::{CONTENT_SECURITY_POLICY, assets};
use serde_json::{Value, json};

async fn page(app: &App, path: &str, key: Option<&str>) -> Raw {
    app.raw(Method::GET, path, key, None, None).await
}

/// The page, asserting 200 and HTML.
async fn html(app: &App, path: &str, key: &str) -> String {
    let raw = page(app, path, Some(key)).await;
    assert_eq!(raw.status, 200, "{path}: {}", raw.text());
    assert_eq!(raw.content_type.as_deref(), Some("text/html; charset=utf-8"), "{path}");
    raw.text()
}

/// The markup of local day `date` (`2027-01-10`) on a calendar page: from its `<li class="day…">`
/// to the next day's.
fn day<'a>(html: &'a str, date: &str) -> &'a str {
    let heading = format!("<time datetime=\"{date}\">");
    html.split("<li class=\"day")
        .skip(1)
        .find(|section| section.contains(&heading))
        .unwrap_or_else(|| panic!("no day {date} on the page:\n{html}"))
}

fn assert_security_headers(raw: &Raw, what: &str) {
    assert_eq!(raw.header("content-security-policy"), Some(CONTENT_SECURITY_POLICY), "{what}");
    assert_eq!(raw.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(raw.header("referrer-policy"), Some("same-origin"), "{what}");
}

async fn post_at(app: &App, key: &str, channels: &[&str], text: &str, local: &str, draft: bool) -> Value {
    app.create(
        key,
        json!({"text": text, "channel_ids": channels, "publish_at": {"local": local, "time_zone": "Europe/Paris"}, "draft": draft}),
    )
    .await
}

#[tokio::test]
async fn a_post_at_2330_in_paris_shows_on_its_local_day_in_the_month_and_the_week() {
    let (app, admin, ch) = cafe().await;
    post_at(&app, &admin, &[&ch], "Late-night jazz at the café", "2027-01-10T23:30:00", false).await;

    let month = html(&app, "/calendar?month=2027-01", &admin).await;
    let tenth = day(&month, "2027-01-10");
    assert!(tenth.contains("Late-night jazz at the café"), "{tenth}");
    assert!(tenth.contains("<time class=\"when\" datetime=\"2027-01-10T23:30:00+01:00\">23:30</time>"), "{tenth}");
    assert!(tenth.contains("chip s-scheduled") && tenth.contains("<span class=\"state\">scheduled</span>"), "{tenth}");
    assert!(tenth.contains("Sandbox"), "the chip names its channel: {tenth}");
    assert!(!day(&month, "2027-01-11").contains("Late-night jazz"), "22:30 UTC on the 10th is the 10th in Paris");
    assert!(month.contains("Europe/Paris"), "the page says which clock it shows");

    // The default is this month on the team's clock (the app's clock: 2027-01-04).
    let default = html(&app, "/calendar", &admin).await;
    assert!(default.contains("<h1>January 2027</h1>"), "{default}");
    assert!(day(&default, "2027-01-04").split('"').next().unwrap().contains("today"), "today is marked");
    assert!(day(&default, "2027-01-10").contains("Late-night jazz"));

    // Any day of a week reads as its Monday; the post is on the Sunday.
    let week = html(&app, "/calendar?week=2027-01-07", &admin).await;
    assert!(week.contains("<h1>Week of 4 January 2027</h1>"), "{week}");
    assert!(day(&week, "2027-01-10").contains("Late-night jazz"));
    assert!(week.contains("href=\"/calendar?week=2027-01-11\""), "a link to the next week");
    assert!(week.contains("href=\"/calendar?week=2026-12-28\""), "a link to the previous week");
    assert!(month.contains("href=\"/calendar?month=2027-02\"") && month.contains("href=\"/calendar?month=2026-12\""));

    // Another month does not show it; `/` leads to the calendar.
    assert!(!html(&app, "/calendar?month=2027-02", &admin).await.contains("Late-night jazz"));
    let root = page(&app, "/", None).await;
    assert_eq!((root.status, root.header("location")), (303, Some("/calendar")));
}

#[tokio::test]
async fn filters_by_channel_and_state_keep_to_their_posts_and_their_links() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Bakery").await;
    post_at(&app, &admin, &[&a], "Scheduled on the café channel", "2027-01-12T10:00:00", false).await;
    post_at(&app, &admin, &[&b], "A draft for the bakery", "2027-01-13T10:00:00", true).await;
    post_at(&app, &admin, &[&a, &b], "On both channels", "2027-01-14T10:00:00", false).await;

    let all = html(&app, "/calendar?month=2027-01", &admin).await;
    for text in ["Scheduled on the café channel", "A draft for the bakery", "On both channels"] {
        assert!(all.contains(text), "{text}");
    }
    assert!(day(&all, "2027-01-14").contains("Sandbox, Bakery") || day(&all, "2027-01-14").contains("Bakery, Sandbox"));

    let by_channel = html(&app, &format!("/calendar?month=2027-01&channel={b}"), &admin).await;
    assert!(!by_channel.contains("Scheduled on the café channel"));
    assert!(by_channel.contains("A draft for the bakery") && by_channel.contains("On both channels"));
    assert!(by_channel.contains(&format!("<option value=\"{b}\" selected>")), "the form shows the filter");
    assert!(by_channel.contains(&format!("href=\"/calendar?month=2027-02&amp;channel={b}\"")), "next keeps the filter");

    let drafts = html(&app, "/calendar?month=2027-01&state=draft", &admin).await;
    assert!(drafts.contains("A draft for the bakery"));
    assert!(!drafts.contains("Scheduled on the café channel") && !drafts.contains("On both channels"));
    assert!(drafts.contains("chip s-draft") && drafts.contains("<option value=\"draft\" selected>"));

    let none = html(&app, &format!("/calendar?month=2027-01&state=published&channel={a}"), &admin).await;
    assert!(none.contains("No posts this month with these filters."), "{none}");

    // The form is a plain GET form: it works without the script.
    assert!(all.contains("<form class=\"filters\" method=\"get\" action=\"/calendar\""), "{all}");
    // An empty choice is "all".
    let empty = html(&app, "/calendar?month=2027-01&channel=&state=", &admin).await;
    assert!(empty.contains("A draft for the bakery") && empty.contains("On both channels"));
}

#[tokio::test]
async fn the_week_shows_the_free_queue_slots_and_not_the_taken_ones() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let ch = app
        .channel(
            &admin,
            json!({"platform": "sandbox", "name": "Queue", "time_zone": "Europe/Paris", "credentials": {},
                   "queue_slots": [{"weekday": "mon", "time": "09:00"}, {"weekday": "wed", "time": "12:30"}, {"weekday": "fri", "time": "18:00"}]}),
        )
        .await;
    // Wednesday's slot is taken; the app's clock is Monday 08:00 in Paris.
    post_at(&app, &admin, &[&ch], "Lunch menu", "2027-01-06T12:30:00", false).await;

    let week = html(&app, "/calendar?week=2027-01-04", &admin).await;
    let monday = day(&week, "2027-01-04");
    assert!(monday.contains("datetime=\"2027-01-04T09:00:00+01:00\">09:00</time>free slot · Queue"), "{monday}");
    let wednesday = day(&week, "2027-01-06");
    assert!(wednesday.contains("Lunch menu") && !wednesday.contains("free slot"), "{wednesday}");
    assert!(day(&week, "2027-01-08").contains("18:00</time>free slot · Queue"));
    assert_eq!(week.matches("free slot").count(), 2, "Monday and Friday");

    // A cancelled post frees its slot.
    let post = post_at(&app, &admin, &[&ch], "Friday drinks", "2027-01-08T18:00:00", false).await;
    assert_eq!(html(&app, "/calendar?week=2027-01-04", &admin).await.matches("free slot").count(), 1);
    let (status, _) = app.action(post["id"].as_str().unwrap(), "cancel", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(html(&app, "/calendar?week=2027-01-04", &admin).await.matches("free slot").count(), 2);

    // Slots already past are not free; the month view shows none.
    app.clock.set(crate::common::utc("2027-01-04T09:30:00Z"));
    assert_eq!(html(&app, "/calendar?week=2027-01-04", &admin).await.matches("free slot").count(), 1);
    assert!(!html(&app, "/calendar?month=2027-01", &admin).await.contains("free slot"));
}

#[tokio::test]
async fn every_page_and_asset_carries_the_security_headers_and_names_no_other_host() {
    let (app, admin, ch) = cafe().await;
    post_at(&app, &admin, &[&ch], "Hello", "2027-01-10T10:00:00", false).await;
    let paths = [
        ("/calendar", Some(admin.as_str()), 200),
        ("/calendar?month=2027-01", Some(admin.as_str()), 200),
        ("/calendar?week=2027-01-04", Some(admin.as_str()), 200),
        ("/calendar?month=2027-13", Some(admin.as_str()), 400),
        ("/calendar", None, 401),
        ("/", None, 303),
        ("/assets/app.0000000000.css", None, 404),
    ];
    for (path, key, status) in paths {
        let raw = page(&app, path, key).await;
        assert_eq!(raw.status, status, "{path}: {}", raw.text());
        assert_security_headers(&raw, path);
        let body = raw.text();
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} names another host");
        assert!(!body.contains("<script>") && !body.contains("style=\""), "{path}: inline script or style");
    }
    for asset in assets::all() {
        let raw = page(&app, &asset.path(), None).await;
        assert_security_headers(&raw, &asset.path());
    }
}

#[tokio::test]
async fn assets_are_served_immutable_under_their_hash_and_an_unknown_one_is_404() {
    let (app, admin, _) = cafe().await;
    let html = html(&app, "/calendar", &admin).await;
    for (asset, content_type) in [(&*assets::CSS, "text/css; charset=utf-8"), (&*assets::JS, "text/javascript; charset=utf-8")] {
        assert!(html.contains(&format!("\"{}\"", asset.path())), "the page links {}", asset.path());
        let raw = page(&app, &asset.path(), None).await;
        assert_eq!(raw.status, 200);
        assert_eq!(raw.header("cache-control"), Some("public, max-age=31536000, immutable"));
        assert_eq!(raw.content_type.as_deref(), Some(content_type));
        assert_eq!(raw.body, asset.body);
    }
    for unknown in ["/assets/app.0000000000.css", "/assets/app.css", "/assets/htmx.js", "/assets/..%2FCargo.toml"] {
        let raw = page(&app, unknown, None).await;
        assert_eq!(raw.status, 404, "{unknown}");
        assert_ne!(raw.header("cache-control"), Some("public, max-age=31536000, immutable"), "{unknown}");
    }
}

#[tokio::test]
async fn a_bad_query_value_is_a_4xx_page_naming_it_and_no_key_is_401() {
    let (app, admin, _) = cafe().await;
    for (query, name) in [
        ("month=2027-13", "month"),
        ("month=january", "month"),
        ("month=99999-01", "month"),
        ("week=2027-02-30", "week"),
        ("month=2027-01&week=2027-01-04", "week"),
        ("state=lost", "state"),
        ("channel=nope", "channel"),
    ] {
        let raw = page(&app, &format!("/calendar?{query}"), Some(admin.as_str())).await;
        assert_eq!(raw.status, 400, "{query}: {}", raw.text());
        assert_eq!(raw.content_type.as_deref(), Some("text/html; charset=utf-8"), "{query}");
        assert!(raw.text().contains(&format!("The parameter <code>{name}</code> is not right")), "{query}: {}", raw.text());
    }
    let raw = page(&app, "/calendar", None).await;
    assert_eq!(raw.status, 401);
    assert!(raw.text().contains("Authorization: Bearer"), "{}", raw.text());
    let raw = page(&app, "/calendar", Some("hrld_not-a-key")).await;
    assert_eq!(raw.status, 401);
}

#[tokio::test]
async fn pages_are_not_api_operations() {
    let app = App::new();
    let (status, doc) = app.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    let api = |p: &str| ["/v1/", "/webhooks/", "/auth/", "/oauth/", "/share/"].iter().any(|prefix| p.starts_with(prefix)) || p == "/health";
    assert!(paths.iter().all(|p| api(p)), "{paths:?}");
}

/// A month of 300 posts (ten a day, on two channels, some with long texts) renders well within
/// the 300 ms budget of server time; prints the figure (a debug build: `cargo bench -p
/// herald-core --bench calendar_page` gives the release one).
#[tokio::test]
async fn a_month_of_300_posts_renders_within_budget() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Bakery").await;
    for i in 0..300 {
        let day = 1 + i % 28;
        let (h, m) = (8 + (i / 30) % 12, (i * 7) % 60);
        let channels: Vec<&str> = if i % 3 == 0 { vec![&a, &b] } else { vec![&a] };
        let text = format!("Post {i}: {}", "fresh bread and coffee ".repeat(1 + i % 5));
        post_at(&app, &admin, &channels, &text, &format!("2027-02-{day:02}T{h:02}:{m:02}:00"), i % 10 == 0).await;
    }
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let html = html(&app, "/calendar?month=2027-02", &admin).await;
        best = best.min(started.elapsed());
        assert_eq!(html.matches("<time class=\"when\"").count(), 300, "every post, once (each on one day)");
    }
    eprintln!("calendar month, 300 posts, debug build: {:.1} ms (best of 5)", best.as_secs_f64() * 1000.0);
    assert!(best < Duration::from_millis(3000), "{best:?}");
}

// ---------------------------------------------------------------------------------------------
// In a browser: the page as Chromium lays it out (tests/system/common/browser.rs).

/// Where the screenshots are kept for people to look at (printed by the test).
fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    dir
}

#[tokio::test]
async fn the_calendar_fits_a_phone_and_a_laptop_in_chromium() {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let (app, admin, a) = cafe().await;
    let b = app
        .channel(
            &admin,
            json!({"platform": "sandbox", "name": "Boulangerie du Marché Saint-Germain", "time_zone": "Europe/Paris",
                   "credentials": {}, "queue_slots": [{"weekday": "tue", "time": "09:00"}, {"weekday": "thu", "time": "17:30"}]}),
        )
        .await;
    let long = "Ce week-end, notre nouvelle galette des rois à la frangipane et aux pommes caramélisées arrive en boutique : réservez la vôtre avant samedi midi ! #galette #boulangerie";
    post_at(&app, &admin, &[&a, &b], long, "2027-01-05T08:30:00", false).await;
    post_at(&app, &admin, &[&a], "Soupe du jour : potiron", "2027-01-05T11:45:00", true).await;
    post_at(&app, &admin, &[&b], "Nouveaux horaires", "2027-01-07T18:00:00", false).await;
    post_at(&app, &admin, &[&a], "Late-night jazz", "2027-01-10T23:30:00", false).await;
    post_at(&app, &admin, &[&a, &b], "Supercalifragilisticexpialidocious-sans-espaces-du-tout-pour-voir-si-ca-deborde", "2027-01-21T12:00:00", false).await;

    let dir = screenshots();
    for asset in assets::all() {
        std::fs::write(dir.join("assets").join(&asset.name), asset.body).unwrap();
    }
    for (name, path) in [("month", "/calendar?month=2027-01"), ("week", "/calendar?week=2027-01-04")] {
        // The page as served, its assets beside it (a file:// page reads `assets/…`).
        let page = html(&app, path, &admin).await.replace("\"/assets/", "\"assets/");
        for width in [390, 1280] {
            let seen = browser.inspect(&page, width, &dir, name);
            assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
            eprintln!("{name} at {width} px: fine, screenshot {}", seen.screenshot.display());
        }
    }
}
