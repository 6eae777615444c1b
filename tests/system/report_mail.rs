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
/// the team and period, the summary, the share link, report.html attached), and later rounds
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

    let mut link = String::new();
    for r in &received {
        let mail = Mail::parse(&r.data);
        assert!(mail.subject.starts_with("Café du coin: weekly report, "), "{}", mail.subject);
        let text = mail.text();
        assert!(text.contains("Posts published: ") && text.contains("Inbox: "), "the summary's figures: {text}");
        assert!(text.contains("Engagement rate: "), "{text}");
        let found = text.split_whitespace().find(|w| w.starts_with(&format!("{}/share/", serve.url))).expect("a share link in the text").to_owned();
        assert!(mail.html().contains(&format!("href=\"{found}\"")), "the HTML part links it too: {}", mail.html());
        assert!(link.is_empty() || link == found, "one link for the report");
        link = found;
        let (name, kind, bytes) = mail.attachments.first().expect("an attachment");
        assert_eq!((name.as_str(), kind.starts_with("text/html")), ("report.html", true));
        assert_eq!(bytes, &html_file, "the report's own file");
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
