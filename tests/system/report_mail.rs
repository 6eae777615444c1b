//! Scheduled reports by e-mail through the real `herald serve`, into a local SMTP sink
//! (common/smtp.rs), and the share link the mail carries, opened with no key.

use std::time::Duration;

use chrono::{Datelike, Utc};
use serde_json::json;

use crate::common::process::http_client;
use crate::common::serve::{Client, Serve};
use crate::common::smtp::{Mail, SmtpSink};
use crate::serve::{seeded_data_dir, within};

/// `HERALD_SMTP_URL` at the sink, `HERALD_MAIL_FROM` set, rounds every second. Once the admin
/// schedules a weekly report for today with two recipients, each gets one message (subject with
/// the team and period, the summary, the share link, report.pdf attached), and later rounds
/// send nothing more. The link opens the report's HTML with no key and the headers a private
/// page needs; revoked, it is 404.
#[tokio::test]
async fn serve_mails_a_scheduled_report_to_each_recipient_once_with_a_working_share_link() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _, _) = seeded_data_dir(dir.path()).await;
    let serve = Serve::start_with(
        dir.path(),
        &[
            ("HERALD_REPORTS_SECS", "1"),
            ("HERALD_POLL_SECS", "3600"),
            ("HERALD_METRICS_SECS", "3600"),
            ("HERALD_SMTP_URL", &sink.url()),
            ("HERALD_MAIL_FROM", "Herald reports <reports@herald.test>"),
        ],
    );
    let api = Client { http: http_client(), base: serve.url.clone(), key };
    let day = Utc::now().with_timezone(&chrono_tz::Europe::Paris).weekday().to_string().to_lowercase();
    let (status, e) = api
        .call(reqwest::Method::PATCH, "/v1/reports/schedule", Some(json!({"recipients": ["boss@cafe.test", "not an address"]})))
        .await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("recipients[1]")), "{e}");
    let recipients = json!(["boss@cafe.test", "client@agency.test"]);
    let (status, schedule) = api
        .call(reqwest::Method::PATCH, "/v1/reports/schedule", Some(json!({"weekly": {"day": day, "hour": 0}, "recipients": recipients})))
        .await;
    assert_eq!(status, 200, "{schedule}");
    assert_eq!(schedule["recipients"], recipients);
    assert_eq!(api.call(reqwest::Method::GET, "/v1/reports/schedule", None).await.1["recipients"], recipients, "GET shows them");

    within(Duration::from_secs(30), "two messages in the SMTP sink", &serve, async || sink.received().len() >= 2).await;
    // Several more rounds run (one a second): nothing is sent twice.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let received = sink.received();
    assert_eq!(received.len(), 2, "one message per recipient, once: {:?}", received.iter().map(|r| &r.rcpt_to).collect::<Vec<_>>());
    let mut to: Vec<&str> = received.iter().flat_map(|r| r.rcpt_to.iter().map(String::as_str)).collect();
    to.sort();
    assert_eq!(to, ["boss@cafe.test", "client@agency.test"], "each message to one recipient");
    assert!(received.iter().all(|r| r.mail_from == "reports@herald.test"));

    let (_, list) = api.call(reqwest::Method::GET, "/v1/reports", None).await;
    let report = list["items"][0].clone();
    let report_id = report["id"].as_str().expect("the report's id").to_owned();
    let html_file = std::fs::read(dir.path().join(format!("reports/cafe/{report_id}/report.html"))).expect("the report's HTML file");
    let pdf_file = std::fs::read(dir.path().join(format!("reports/cafe/{report_id}/report.pdf"))).expect("the report's PDF file");
    let data: herald_core::services::reports::ReportData =
        serde_json::from_slice(&std::fs::read(dir.path().join(format!("reports/cafe/{report_id}/report.json"))).expect("report.json")).expect("its data");
    let summary = herald_core::services::reports::summary::sentences(&data.summary, herald_core::i18n::Tr::of(data.language));
    assert!(!summary.is_empty());

    let mut link = String::new();
    for r in &received {
        let mail = Mail::parse(&r.data);
        assert!(mail.subject.starts_with("Café du coin: weekly report, "), "{}", mail.subject);
        let text = mail.text();
        for sentence in &summary {
            assert!(text.contains(sentence.as_str()), "the report's summary, {sentence:?}, in: {text}");
        }
        let found = text.split_whitespace().find(|w| w.starts_with(&format!("{}/share/", serve.url))).expect("a share link in the text").to_owned();
        assert!(mail.html().contains(&format!("href=\"{found}\"")), "the HTML part links it too: {}", mail.html());
        assert!(link.is_empty() || link == found, "one link for the report");
        link = found;
        let (name, kind, bytes) = mail.attachments.first().expect("an attachment");
        assert_eq!((name.as_str(), kind.starts_with("application/pdf")), ("report.pdf", true));
        assert_eq!(bytes, &pdf_file, "the report's own PDF");
    }

    // The link, with no key.
    let http = http_client();
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| page.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(header("content-type").starts_with("text/html"), "{}", header("content-type"));
    assert_eq!(
        (header("cache-control"), header("x-robots-tag"), header("referrer-policy")),
        ("private, no-store".to_owned(), "noindex".to_owned(), "no-referrer".to_owned())
    );
    assert_eq!(page.bytes().await.unwrap().to_vec(), html_file, "the report's HTML");

    // Listed (made by the mail), then revoked: the link opens nothing any more.
    let (status, shares) = api.call(reqwest::Method::GET, &format!("/v1/reports/{report_id}/shares"), None).await;
    assert_eq!(status, 200, "{shares}");
    let items = shares["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{shares}");
    assert_eq!((items[0]["created_by"].as_str(), items[0]["url"].as_str()), (Some("report e-mail"), Some(link.as_str())));
    let share_id = items[0]["id"].as_str().unwrap();
    let (status, _) = api.call(reqwest::Method::DELETE, &format!("/v1/reports/{report_id}/shares/{share_id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(http.get(&link).send().await.unwrap().status(), 404, "revoked");

    // A link made through the API works the same way; a tampered one is 404 like the revoked.
    let (status, made) = api.call(reqwest::Method::POST, &format!("/v1/reports/{report_id}/shares"), Some(json!({"expires_in_days": 7}))).await;
    assert_eq!(status, 201, "{made}");
    let url = made["url"].as_str().expect("a url");
    assert!(url.starts_with(&format!("{}/share/", serve.url)), "{url}");
    assert_eq!(http.get(url).send().await.unwrap().status(), 200);
    let tampered = format!("{}0", &url[..url.len() - 1]);
    let tampered = if tampered == url { format!("{}1", &url[..url.len() - 1]) } else { tampered };
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 404);
    let (status, e) = api.call(reqwest::Method::POST, &format!("/v1/reports/{report_id}/shares"), Some(json!({"expires_in_days": 91}))).await;
    assert_eq!((status, e["error"]["field"].as_str()), (422, Some("expires_in_days")), "{e}");
    assert_eq!(sink.received().len(), 2, "still two messages");
}

/// The share API in process, on the manual clock: editors and admins share and revoke, viewers
/// list, contributors neither; a link opens until its expiry, then is 410, and a revoked or
/// forged one is 404 with the same body; another team's report cannot be shared.
#[tokio::test]
async fn share_links_follow_roles_and_expire_on_the_servers_clock() {
    use axum::http::Method;
    use herald_core::domain::Role;
    let app = crate::common::App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let editor = app.key("cafe", Role::Editor).await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let stranger = app.key("other", Role::Admin).await;
    let (status, report) = app.post("/v1/reports", &admin, json!({"from": "2026-12-28", "to": "2027-01-03"})).await;
    assert_eq!(status, 201, "{report}");
    let shares = format!("/v1/reports/{}/shares", report["id"].as_str().unwrap());

    for (key, status) in [(&viewer, 403), (&contributor, 403), (&stranger, 404)] {
        assert_eq!(app.post(&shares, key, json!({})).await.0, status);
    }
    // No body at all is a 30-day link.
    let raw = app.raw(Method::POST, &shares, Some(&editor), None, None).await;
    assert_eq!(raw.status, 201, "{}", raw.text());
    let month = raw.json();
    assert_eq!(month["expires_at"], "2027-02-03T07:00:00Z", "{month}");
    let (status, day) = app.post(&shares, &admin, json!({"expires_in_days": 1})).await;
    assert_eq!(status, 201, "{day}");
    for bad in [json!({"expires_in_days": 0}), json!({"expires_in_days": 91}), json!({"expires_in_days": 1.5}), json!({"expires_in_days": "7"}), json!({"days": 7})] {
        let (status, e) = app.post(&shares, &editor, bad.clone()).await;
        assert_eq!(status, 422, "{bad} → {e}");
    }
    let (status, list) = app.get(&shares, &viewer).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(2)), "viewers list: {list}");
    assert_eq!(list["items"][0]["id"], day["id"], "newest first");

    let path = |share: &serde_json::Value| share["url"].as_str().unwrap().trim_start_matches("http://localhost").to_owned();
    let open = |p: String| {
        let app = &app;
        async move { app.raw(Method::GET, &p, None, None, None).await }
    };
    let page = open(path(&day)).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "the report's HTML");
    assert_eq!(page.header("x-robots-tag"), Some("noindex"));

    // A day later the one-day link is gone (410); the month one still opens.
    app.clock.advance(chrono::Duration::days(1));
    let gone = open(path(&day)).await;
    assert_eq!((gone.status, gone.json()["error"]["code"].as_str()), (410, Some("gone")));
    assert_eq!(gone.header("cache-control"), Some("private, no-store"));
    assert_eq!(open(path(&month)).await.status, 200);

    // Revoked, and forged: 404 alike.
    let revoke = format!("{shares}/{}", month["id"].as_str().unwrap());
    assert_eq!(app.delete(&revoke, &viewer).await.0, 403);
    assert_eq!(app.delete(&revoke, &editor).await.0, 204);
    assert_eq!(app.delete(&revoke, &admin).await.0, 204, "again: no change, no error");
    let revoked = open(path(&month)).await;
    let forged = open(format!("{}{}", path(&month).trim_end_matches(char::is_alphanumeric), "00")).await;
    assert_eq!((revoked.status, forged.status), (404, 404));
    assert_eq!(revoked.body, forged.body, "nothing tells a revoked link from a forged one");
    assert_eq!(app.delete(&format!("{shares}/not-a-share"), &editor).await.0, 404);
}
