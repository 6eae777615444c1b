//! The iCalendar feed: `POST /v1/calendar/token` and `GET /v1/calendar.ics?token=…`, in
//! process (see tests/system/common). The feed is parsed here as a calendar app would read it.

use std::collections::BTreeMap;

use axum::http::Method;
use chrono::{DateTime, Duration, Utc};
use crate::common::{App, Raw, cafe, deliveries, error_of, t0};
use herald_core::domain::{DeliveryState, Role};
use serde_json::{Value, json};

/// One `VEVENT`: its properties by name (parameters dropped), values still escaped.
type Event = BTreeMap<String, String>;

/// Reads an iCalendar stream, checking the RFC 5545 line rules on the way: CRLF endings only,
/// at most 75 octets per line, continuation lines starting with one space.
fn parse_ics(raw: &str) -> (Vec<(String, String)>, Vec<Event>) {
    assert!(raw.ends_with("\r\n"), "the stream ends with CRLF");
    let physical: Vec<&str> = raw.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    for line in &physical {
        assert!(!line.contains('\n') && !line.contains('\r'), "a bare line break: {line:?}");
        assert!(line.len() <= 75, "{} octets: {line:?}", line.len());
    }
    // Unfold.
    let mut logical: Vec<String> = Vec::new();
    for line in physical {
        match line.strip_prefix(' ') {
            Some(rest) => logical.last_mut().expect("a line to continue").push_str(rest),
            None => logical.push(line.to_owned()),
        }
    }
    let mut calendar = Vec::new();
    let mut events = Vec::new();
    let mut current: Option<Event> = None;
    for line in logical {
        let (name, value) = line.split_once(':').unwrap_or_else(|| panic!("not a content line: {line:?}"));
        let name = name.split(';').next().unwrap().to_owned();
        match (name.as_str(), value) {
            ("BEGIN", "VEVENT") => current = Some(Event::new()),
            ("END", "VEVENT") => events.push(current.take().expect("an open event")),
            _ => match current.as_mut() {
                Some(event) => {
                    assert!(event.insert(name.clone(), value.to_owned()).is_none(), "{name} twice in an event");
                }
                None => calendar.push((name, value.to_owned())),
            },
        }
    }
    assert!(current.is_none(), "an unclosed VEVENT");
    (calendar, events)
}

/// RFC 5545 TEXT back to plain text.
fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => panic!("a dangling backslash in {v:?}"),
            }
        } else {
            assert!(c != ',' && c != ';', "an unescaped {c:?} in {v:?}");
            out.push(c);
        }
    }
    out
}

fn ics_time(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

async fn make_token(app: &App, admin: &str) -> String {
    let (status, body) = app.post("/v1/calendar/token", admin, json!({})).await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().expect("a url").to_owned();
    assert!(url.starts_with("/v1/calendar.ics?token=hcal_"), "{url}");
    url
}

async fn fetch(app: &App, url: &str) -> Raw {
    app.raw(Method::GET, url, None, None, None).await
}

fn by_uid(events: &[Event]) -> BTreeMap<String, Event> {
    events.iter().map(|e| (e["UID"].clone(), e.clone())).collect()
}

fn uid(post: &Value, i: usize) -> String {
    format!("{}@herald", deliveries(post)[i]["id"].as_str().unwrap())
}

#[tokio::test]
async fn the_feed_needs_the_current_token_and_answers_404_otherwise() {
    let (app, admin, _) = cafe().await;
    for url in
        ["/v1/calendar.ics", "/v1/calendar.ics?token=", "/v1/calendar.ics?token=hcal_nope", "/v1/calendar.ics?x=1"]
    {
        let resp = fetch(&app, url).await;
        assert_eq!(resp.status, 404, "{url}");
        assert_eq!(error_of(&resp.json()).0, "not_found");
    }
    // Only an admin makes the token; the API key is for making it, never for reading the feed.
    let editor = app.key("cafe", Role::Editor).await;
    let (status, _) = app.post("/v1/calendar/token", &editor, json!({})).await;
    assert_eq!(status, 403);
    let (status, _) = app.call(Method::POST, "/v1/calendar/token", None, None).await;
    assert_eq!(status, 401);

    let first = make_token(&app, &admin).await;
    let resp = fetch(&app, &first).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.content_type.as_deref(), Some("text/calendar; charset=utf-8"));
    let (calendar, events) = parse_ics(&resp.text());
    assert!(events.is_empty());
    assert_eq!(calendar.first(), Some(&("BEGIN".to_owned(), "VCALENDAR".to_owned())));
    assert_eq!(calendar.last(), Some(&("END".to_owned(), "VCALENDAR".to_owned())));
    assert!(calendar.contains(&("VERSION".to_owned(), "2.0".to_owned())));
    assert!(calendar.iter().any(|(n, _)| n == "PRODID"));

    // Rotation: the old URL stops working at once, the new one works.
    let second = make_token(&app, &admin).await;
    assert_ne!(first, second);
    assert_eq!(fetch(&app, &first).await.status, 404);
    assert_eq!(fetch(&app, &second).await.status, 200);
}

#[tokio::test]
async fn one_event_per_scheduled_or_published_delivery_in_range_escaped_and_folded() {
    let (app, admin, a) = cafe().await;
    let b = app.sandbox(&admin, "Second, \"the\" other").await;
    let at = |days: i64| (t0() + Duration::days(days)).to_rfc3339();

    // Two deliveries, a text with every character TEXT escapes and many multibyte ones.
    let special_text = "Soupe du jour; pain, beurre \\ fromage\nÀ midi ☕☕☕ — réservez vite ! ".repeat(3);
    let special = app.create(&admin, json!({"text": special_text, "channel_ids": [a, b], "publish_at": at(40)})).await;
    // Published 21 days before the feed is read: in range. Published 31 days before: out.
    let recent = app.create(&admin, json!({"text": "Recent", "channel_ids": [a], "publish_at": at(10)})).await;
    let old = app.create(&admin, json!({"text": "Old", "channel_ids": [a], "publish_at": at(0) })).await;
    // Scheduled 100 days ahead: in; 200 days ahead: out.
    let ahead = app.create(&admin, json!({"text": "Ahead", "channel_ids": [a], "publish_at": at(131)})).await;
    let _far = app.create(&admin, json!({"text": "Far", "channel_ids": [a], "publish_at": at(231)})).await;
    // Not on the calendar: a draft, a post awaiting approval, a cancelled and a failed one.
    let _draft =
        app.create(&admin, json!({"text": "Draft", "channel_ids": [a], "publish_at": at(40), "draft": true})).await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let _pending = app.create(&contributor, json!({"text": "Pending", "channel_ids": [a], "publish_at": at(40)})).await;
    let cancelled = app.create(&admin, json!({"text": "Cancelled", "channel_ids": [a], "publish_at": at(40)})).await;
    let (status, _) = app.action(cancelled["id"].as_str().unwrap(), "cancel", &admin).await;
    assert_eq!(status, 200);
    let failed = app.create(&admin, json!({"text": "Failed", "channel_ids": [a], "publish_at": at(35)})).await;

    let published_at = t0() + Duration::days(10) + Duration::seconds(1);
    for (post, url) in [(&recent, "https://example.org/@cafe/1?a=1,b=2;c"), (&old, "https://example.org/@cafe/0")] {
        let d = deliveries(post)[0]["id"].as_str().unwrap().to_owned();
        let edit = |d: &mut herald_core::domain::Delivery| {
            d.platform_post_id = Some("1".into());
            d.url = Some(url.to_owned());
            d.published_at = Some(if d.publish_at > t0() + Duration::days(5) { published_at } else { t0() });
        };
        app.force(
            "cafe",
            post["id"].as_str().unwrap(),
            &d,
            &[DeliveryState::Publishing, DeliveryState::Published],
            edit,
        )
        .await;
    }
    let d = deliveries(&failed)[0]["id"].as_str().unwrap().to_owned();
    app.force("cafe", failed["id"].as_str().unwrap(), &d, &[DeliveryState::Publishing, DeliveryState::Failed], |_| {})
        .await;

    // Another team's posts never show.
    let other = app.key("other", Role::Admin).await;
    let oc = app.sandbox(&other, "Theirs").await;
    app.create(&other, json!({"text": "Not yours", "channel_ids": [oc], "publish_at": at(40)})).await;

    let url = make_token(&app, &admin).await;
    app.clock.advance(Duration::days(31));
    let resp = fetch(&app, &url).await;
    assert_eq!(resp.status, 200);
    let (_, events) = parse_ics(&resp.text());
    let events = by_uid(&events);
    let want: Vec<String> = vec![uid(&special, 0), uid(&special, 1), uid(&recent, 0), uid(&ahead, 0)];
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(events.keys().cloned().collect::<Vec<_>>(), want_sorted);

    // The special post: each of its deliveries, tentative (not out yet), text escaped and whole.
    for i in 0..2 {
        let e = &events[&uid(&special, i)];
        assert_eq!(e["DTSTART"], ics_time(t0() + Duration::days(40)));
        assert_eq!(e["STATUS"], "TENTATIVE");
        assert!(e["DTSTAMP"].ends_with('Z') && e["DTSTAMP"].len() == 16, "{}", e["DTSTAMP"]);
        let summary = unescape(&e["SUMMARY"]);
        let first60: String = special_text.replace('\n', " ").chars().take(60).collect();
        assert_eq!(summary, format!("[sandbox] {}…", first60.trim_end()));
        let description = unescape(&e["DESCRIPTION"]);
        assert!(description.starts_with(&special_text), "{description}");
        assert!(description.contains("State: scheduled"), "{description}");
        assert!(e["DESCRIPTION"].contains("\\;") && e["DESCRIPTION"].contains("\\,"));
        assert!(e["DESCRIPTION"].contains("\\\\") && e["DESCRIPTION"].contains("\\n"));
    }
    let channels: Vec<String> = (0..2).map(|i| unescape(&events[&uid(&special, i)]["DESCRIPTION"])).collect();
    assert!(channels.iter().any(|d| d.contains("Channel: Second, \"the\" other (sandbox)")), "{channels:?}");
    assert!(channels.iter().any(|d| d.contains("Channel: Sandbox (sandbox)")), "{channels:?}");

    // The published one: confirmed, at the second it went out, with its URL.
    let e = &events[&uid(&recent, 0)];
    assert_eq!(e["STATUS"], "CONFIRMED");
    assert_eq!(e["DTSTART"], ics_time(published_at));
    assert_eq!(e["SUMMARY"], "[sandbox] Recent");
    let description = unescape(&e["DESCRIPTION"]);
    assert!(description.contains("State: published"), "{description}");
    assert!(description.contains("URL: https://example.org/@cafe/1?a=1,b=2;c"), "{description}");
    assert_eq!(e["URL"], "https://example.org/@cafe/1?a=1,b=2;c");

    let e = &events[&uid(&ahead, 0)];
    assert_eq!((e["STATUS"].as_str(), e["DTSTART"].clone()), ("TENTATIVE", ics_time(t0() + Duration::days(131))));
    assert!(!e.contains_key("URL"));
}
