//! Reports checked by hand, and the metric poller with the sandbox network.
//!
//! The dataset is in tests/system/common/report_dataset.rs, with the figures worked out by hand.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use herald_core::clock::{Clock, ManualClock};
use herald_core::crypto::{CredentialCipher, Credentials};
use herald_core::domain::*;
use herald_core::events::{EventKind, MemorySink};
use herald_core::platforms::Adapters;
use herald_core::platforms::sandbox::SandboxAdapter;
use herald_core::ports::Ports;
use herald_core::services::metrics::{MetricsPlan, MetricsPoller};
use herald_core::services::reports::{self, ReportData};
use herald_core::store::sqlite::SqliteStore;
use herald_core::store::*;
use serde_json::json;

use crate::common::report_dataset::{Fixture, channel, check_every_figure, day, team, utc};

/// The dataset on SQLite, and its report as made on Tuesday 12 January 2027, 09:00 in Paris.
async fn dataset() -> (Fixture, ReportData) {
    let f = crate::common::report_dataset::seed(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let data = reports::build(&*f.store, &f.team, day("2027-01-04"), day("2027-01-10"), utc("2027-01-12T08:00:00Z"))
        .await
        .unwrap();
    (f, data)
}

#[tokio::test]
async fn every_figure_matches_the_hand_computed_dataset() {
    let (f, d) = dataset().await;
    assert_eq!(d.generated_at, utc("2027-01-12T08:00:00Z"));
    check_every_figure(&f, &d);
}

/// The summary of the hand-worked dataset, sentence by sentence, in English and in French.
/// Engagements 112 against 21 (+433 %), impressions 1 850 against 260 (+612 %); followers
/// 1 500 → 1 570; Monday 09:00 recommended (a1 20, b1 17, pa2 8: mean 15 over 3 posts); the
/// alert of 8 January (09:30Z) first answered on 9 January at 22:00Z (the comment of 20:00Z,
/// answered after 7 200 s): 36 h 30 min, said to the hour; the inbox's 6, 4 answered, median
/// 2 700 s, 2 open; the failed delivery of 9 January.
#[tokio::test]
async fn the_summary_says_the_hand_worked_figures_in_english_and_in_french() {
    use herald_core::i18n::Tr;
    use herald_core::services::reports::summary::{self, Fact};
    let (_, d) = dataset().await;
    assert_eq!(d.incidents[0].first_answer_at, Some(utc("2027-01-09T22:00:00Z")));
    assert!(matches!(&d.summary[0], Fact::Engagements { posts: 8, engagements: 112, change: Some(c), impressions: Some(i) }
        if (c.previous, i.previous, i.current) == (21, 260, 1850)), "{:?}", d.summary);
    assert_eq!(
        summary::sentences(&d.summary, Tr::of(Language::En)),
        [
            "Engagements rose by 433% compared with the previous period (112, from 8 posts); impressions rose by 612%.",
            "Followers grew by 70 to 1,570.",
            "Monday at 09:00 did best: 15 engagements per post on average, over 3 posts (this period and the previous one).",
            "One crisis alert, on 8 Jan: answered in 1 d 12 h.",
            "6 messages came in: 4 answered from the inbox (median first response 45 min), 2 still open when the report was made.",
            "One post failed to go out.",
        ]
    );
    assert_eq!(
        summary::sentences(&d.summary, Tr::of(Language::Fr)),
        [
            "Les interactions ont augmenté de 433\u{a0}% par rapport à la période précédente (112, pour 8 publications)\u{a0}; les impressions ont augmenté de 612\u{a0}%.",
            "Le nombre d'abonnés a augmenté de 70 pour atteindre 1\u{202f}570.",
            "Meilleur créneau\u{a0}: le lundi à 09:00, avec 15 interactions par publication en moyenne sur 3 publications (cette période et la précédente).",
            "Une alerte de crise, le 8 janv.\u{a0}: réponse en 1 j 12 h.",
            "6 messages reçus\u{a0}: 4 avec une réponse depuis la messagerie (premier délai médian\u{a0}: 45 min), 2 encore ouverts à la création du rapport.",
            "Une publication n'a pas pu partir.",
        ]
    );
    // report.json carries the facts; the page shows the words at the top.
    let json: serde_json::Value = serde_json::from_slice(&reports::render_json(&d)).unwrap();
    assert_eq!(json["summary"][1], json!({"fact": "followers", "growth": 70, "followers": 1570}));
    let html = reports::render_html(&d);
    let top = html.find("<section class=\"summary\">").expect("the summary block");
    assert!(top < html.find("<h2>Channels</h2>").unwrap_or(usize::MAX), "at the top");
    assert!(html.contains("Followers grew by 70 to 1,570."));

    // An empty period says one sentence.
    let f = Fixture::new(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let empty = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-10T00:00:00Z")).await.unwrap();
    assert_eq!(empty.summary, [Fact::Quiet]);
}

/// An interaction of the period answered after it ended is unanswered in it: the figures of a
/// period do not change when it is made again later.
#[tokio::test]
async fn inbox_answers_count_as_of_the_periods_end() {
    use herald_core::domain::{InteractionKind::Comment, InteractionStatus::Answered};
    let f = crate::common::report_dataset::Fixture::new(Arc::new(SqliteStore::in_memory().unwrap())).await;
    f.interaction(Comment, None, "2027-01-09T10:00:00Z", Answered, Some(600)).await;
    // Sunday 10 January, 22:30 in Paris: answered two hours later, at 00:30 on Monday.
    f.interaction(Comment, None, "2027-01-10T21:30:00Z", Answered, Some(7200)).await;
    let made = |now: &str| {
        let (store, team, now) = (f.store.clone(), f.team.clone(), utc(now));
        async move { reports::build(&*store, &team, day("2027-01-04"), day("2027-01-10"), now).await.unwrap() }
    };
    let on_monday = made("2027-01-11T08:00:00Z").await.inbox.current;
    assert_eq!((on_monday.total, on_monday.answered, on_monday.median_first_response_seconds), (2, 1, Some(600)));
    assert_eq!(made("2027-02-01T08:00:00Z").await.inbox.current, on_monday, "the same a month later");
}

#[tokio::test]
async fn the_three_renderings_say_the_same() {
    let (_, d) = dataset().await;
    let csv = String::from_utf8(reports::render_csv(&d)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 9, "header + 8 posts:\n{csv}");
    assert!(lines[0].starts_with("published_at,published_local,channel,platform,text,url,likes"));
    assert!(lines[1].contains(",a1,") && lines[1].contains(",20,0.0500,impressions,"), "{}", lines[1]);
    // b1: quotes/bookmarks/impressions/reach/clicks empty, not 0.
    assert!(lines[2].contains(",12,3,2,,,,,,17,0.0340,followers,"), "{}", lines[2]);

    let json: ReportData = serde_json::from_slice(&reports::render_json(&d)).unwrap();
    assert_eq!(json, d);

    let html = reports::render_html(&d);
    assert!(html.starts_with("<!doctype html>"));
    assert_eq!(html.matches("<svg").count(), 4, "followers, engagement bars, heatmap, sentiment");
    assert!(!html.contains("No follower counts") && !html.contains("No engagement measured"));
    assert!(html.contains("3.32%"), "overall engagement rate 112/3370");
    assert!(html.contains("Made with Herald"), "Herald is named unless white-labelled");
    assert!(!html.contains("<script"), "self-contained, no scripts");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http://"), "no external resources");
}

/// The café's look: its teal, its logo, no mention of Herald, in French.
async fn french_branded(f: &Fixture) -> ReportData {
    let files = reports::MemoryReportFiles::default();
    let mut team = f.team.clone();
    team.language = Language::Fr;
    team.brand = Brand { accent_color: Some(AccentColor::parse("accent_color", "#0f766e").unwrap()), white_label: true };
    team.logo = Some(Logo { key: "teams/t/logo-cafe.png".into(), content_type: "image/png".into() });
    reports::ReportFiles::put(&files, "teams/t/logo-cafe.png", include_bytes!("fixtures/logo-cafe.png").to_vec()).await.unwrap();
    reports::build_branded(&*f.store, &files, &team, reports::Asked::days(day("2027-01-04"), day("2027-01-10")), utc("2027-01-12T08:00:00Z")).await.unwrap()
}

#[tokio::test]
async fn the_report_speaks_the_teams_language_and_wears_its_brand() {
    let (f, english) = dataset().await;
    let d = french_branded(&f).await;
    assert_eq!((d.overall.clone(), d.posts.clone(), d.inbox.clone()), (english.overall.clone(), english.posts.clone(), english.inbox.clone()), "the same figures in either language");
    assert!(d.engagement_rate_definition.starts_with("Les interactions sont"), "{}", d.engagement_rate_definition);
    let html = reports::render_html(&d);
    assert!(html.contains(r#"<html lang="fr">"#));
    assert!(html.contains("du 4 janv. 2027 au 10 janv. 2027"), "French dates in the title");
    assert!(html.contains("3,32\u{a0}%"), "the overall rate written the French way");
    for heading in ["Taux d’engagement", "Meilleures publications", "Publications les moins engageantes", "Messagerie", "Alertes de crise", "Comment les chiffres sont calculés"] {
        assert!(html.contains(heading), "{heading}");
    }
    for english_word in ["Engagement rate", "Top posts", "Bottom posts", "Inbox", "Read ", "Usually", "eng./post"] {
        assert!(!html.contains(english_word), "English left in the French report: {english_word}");
    }
    assert!(html.contains(r#"<img src="data:image/png;base64,"#), "the logo, inline");
    assert!(html.contains("--accent: #0f766e"), "the team's colour");
    assert!(!html.to_lowercase().contains("herald"), "white label: Herald is not named");
    // The JSON keeps the language and the brand, not the logo's bytes.
    let json: serde_json::Value = serde_json::from_slice(&reports::render_json(&d)).unwrap();
    assert_eq!((&json["language"], &json["brand"]), (&json!("fr"), &json!({"accent": "#0f766e", "white_label": true})));

    // Asked in English, the same team's report is in English, still branded.
    let team = Team { language: Language::Fr, ..f.team.clone() };
    let en = reports::build_branded(&*f.store, &reports::MemoryReportFiles::default(), &team, reports::Asked { from: day("2027-01-04"), to: day("2027-01-10"), language: Some(Language::En) }, utc("2027-01-12T08:00:00Z")).await.unwrap();
    assert!(reports::render_html(&en).contains("Top posts"));
}

#[tokio::test]
async fn an_empty_period_is_an_honest_empty_report() {
    let f = Fixture::new(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let d = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-10T00:00:00Z")).await.unwrap();
    assert!(d.is_empty());
    assert_eq!(d.overall.current.posts_published, 0);
    assert_eq!(d.overall.current.engagements, None);
    assert_eq!(d.overall.current.engagement_rate, None);
    assert_eq!(d.inbox.current.median_first_response_seconds, None);
    let html = reports::render_html(&d);
    assert!(html.contains("Nothing happened in this period"));
    assert!(html.contains("No follower counts measured"));
    assert_eq!(String::from_utf8(reports::render_csv(&d)).unwrap().lines().count(), 1);
    // A period that ends before it starts is refused.
    assert!(reports::build(&*f.store, &f.team, day("2027-03-07"), day("2027-03-01"), Utc::now()).await.is_err());
}

// ---------------------------------------------------------------------------------------------
// The metric poller with the sandbox network.

struct Rig {
    store: Arc<SqliteStore>,
    clock: Arc<ManualClock>,
    events: Arc<MemorySink>,
    cipher: CredentialCipher,
    poller: MetricsPoller,
    team: Team,
    _dir: tempfile::TempDir,
}

fn rig_at(t: DateTime<Utc>) -> (Arc<SqliteStore>, Arc<ManualClock>, Arc<MemorySink>, CredentialCipher, tempfile::TempDir) {
    (
        Arc::new(SqliteStore::in_memory().unwrap()),
        Arc::new(ManualClock::new(t)),
        Arc::new(MemorySink::default()),
        CredentialCipher::from_base64(&CredentialCipher::generate_key()).unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

impl Rig {
    async fn new() -> Rig {
        let (store, clock, events, cipher, dir) = rig_at(utc("2027-01-04T08:00:00Z"));
        let sandbox = Arc::new(SandboxAdapter::new(dir.path().join("outbox"), clock.clone()));
        let ports = Ports::new(store.clone(), clock.clone(), cipher.clone())
            .with_events(events.clone())
            .with_adapters(Adapters::default().with_metrics(Platform::Sandbox, sandbox));
        let poller = MetricsPoller::new(ports, MetricsPlan::default());
        let team = team();
        store.create_team(&team).await.unwrap();
        Rig { store, clock, events, cipher, poller, team, _dir: dir }
    }

    async fn channel(&self, name: &str, credentials: serde_json::Value) -> Channel {
        let mut c = channel(&self.team.id, Platform::Sandbox, name);
        c.credentials = Some(self.cipher.seal(c.id, &Credentials::from_json("credentials", &credentials).unwrap()));
        self.store.create_channel(&c).await.unwrap();
        c
    }

    async fn published(&self, c: &Channel, at: DateTime<Utc>) -> Delivery {
        let f = Fixture { store: self.store.clone(), team: self.team.clone(), a: c.clone(), b: c.clone() };
        f.delivery(c, &format!("post-{}", at.timestamp()), &at.to_rfc3339(), DeliveryState::Published).await
    }

    async fn snapshots(&self, d: &Delivery) -> Vec<MetricSnapshot> {
        let subject = MetricSubject::Delivery { channel_id: d.channel_id, delivery_id: d.id };
        self.store.snapshots(&self.team.id, &subject, d.publish_at, d.publish_at + Duration::days(30)).await.unwrap()
    }
}

#[tokio::test]
async fn the_poller_reads_each_post_once_per_checkpoint_then_never() {
    let r = Rig::new().await;
    let ch = r.channel("Café sandbox", json!({})).await;
    let t = r.clock.now();
    let d = r.published(&ch, t).await;

    // Rounds every 10 minutes for 8 days: five reads of the post (+1 h, +6 h, +24 h, +72 h, +7 d)
    // and followers once an hour.
    let mut posts = 0;
    let mut followers = 0;
    let mut at = t;
    while at < t + Duration::days(8) {
        at += Duration::minutes(10);
        r.clock.set(at);
        let s = r.poller.run_once().await.unwrap();
        posts += s.posts;
        followers += s.followers;
        assert_eq!(s.failed + s.rate_limited + s.needs_reconnect, 0, "{s:?}");
    }
    assert_eq!(posts, 5);
    assert_eq!(followers, 8 * 24);
    let snaps = r.snapshots(&d).await;
    assert_eq!(snaps.len(), 5);
    let offsets: Vec<i64> = snaps.iter().map(|s| (s.taken_at - t).num_minutes()).collect();
    assert_eq!(offsets, vec![60, 360, 1440, 4320, 10080]);
    // Engagement only grows, and every snapshot expires after 90 days.
    let likes: Vec<u64> = snaps.iter().map(|s| s.counters.likes.unwrap()).collect();
    assert!(likes.windows(2).all(|w| w[0] <= w[1]), "{likes:?}");
    assert!(snaps.iter().all(|s| s.expires_at == Some(s.taken_at + Duration::days(90))));
    // Roll-ups: one per day with a read (days in Paris), the day's latest counters.
    let rollups = r.store.rollups(&r.team.id, day("2027-01-01"), day("2027-01-20")).await.unwrap();
    let post_days: Vec<String> = rollups
        .iter()
        .filter(|x| matches!(x.subject, MetricSubject::Delivery { .. }))
        .map(|x| x.day.to_string())
        .collect();
    assert_eq!(post_days, vec!["2027-01-04", "2027-01-05", "2027-01-07", "2027-01-11"]);
    let jan4 = rollups.iter().find(|x| x.day == day("2027-01-04") && matches!(x.subject, MetricSubject::Delivery { .. })).unwrap();
    assert_eq!(jan4.taken_at, t + Duration::hours(6), "the day's last read (+6 h) stands, not the +1 h one");
    let follower_days = rollups.iter().filter(|x| matches!(x.subject, MetricSubject::Channel { .. })).count();
    assert_eq!(follower_days, 9, "4 Jan to 12 Jan");

    // And the report sees them.
    let data = reports::build(&*r.store, &r.team, day("2027-01-04"), day("2027-01-10"), t + Duration::days(8)).await.unwrap();
    assert_eq!(data.overall.current.posts_published, 1);
    assert_eq!(data.posts[0].counters, snaps[4].counters, "the +7 d read (11 Jan, inside the measuring week)");
    assert!(data.overall.current.follower_growth.unwrap() > 0);
}

#[tokio::test]
async fn one_channel_failing_does_not_stop_the_others_and_reconnect_is_said_once() {
    let r = Rig::new().await;
    let ok = r.channel("fine", json!({})).await;
    let limited = r.channel("limited", json!({"metrics_fail_with": "rate_limited"})).await;
    let revoked = r.channel("revoked", json!({"metrics_fail_with": "auth"})).await;
    let broken = r.channel("broken", json!({"metrics_fail_with": "failed"})).await;
    let t = r.clock.now();
    let posts = [r.published(&ok, t).await, r.published(&limited, t).await, r.published(&revoked, t).await, r.published(&broken, t).await];

    r.clock.set(t + Duration::minutes(61));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!((s.posts, s.followers), (1, 1), "{s:?}");
    assert_eq!((s.rate_limited, s.needs_reconnect, s.failed), (1, 1, 1), "{s:?}");
    assert_eq!(r.snapshots(&posts[0]).await.len(), 1);
    assert!(r.snapshots(&posts[1]).await.is_empty());

    // Five minutes later: the rate-limited channel waits out its 10 minutes (no call), the revoked
    // one fails again without a second event, the broken one retries its window.
    r.clock.set(t + Duration::minutes(66));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!((s.rate_limited, s.needs_reconnect, s.failed, s.posts), (1, 1, 1, 0), "{s:?}");
    let reconnects: Vec<_> =
        r.events.events().into_iter().filter(|e| e.kind == EventKind::ChannelNeedsReconnect).collect();
    assert_eq!(reconnects.len(), 1);
    assert_eq!(reconnects[0].detail["channel_id"], json!(revoked.id));

    // Once the broken channel works again, the missed +1 h read is made late rather than lost.
    let mut fixed = broken.clone();
    fixed.credentials = Some(r.cipher.seal(fixed.id, &Credentials::from_json("credentials", &json!({})).unwrap()));
    r.store.update_channel(&fixed).await.unwrap();
    r.clock.set(t + Duration::minutes(80));
    let s = r.poller.run_once().await.unwrap();
    assert_eq!(r.snapshots(&posts[3]).await.len(), 1, "{s:?}");
}

// ---------------------------------------------------------------------------------------------
// The API: generate on demand, list, fetch the record and each file.


#[tokio::test]
async fn reports_through_the_api() {
    use axum::http::Method;
    let app = crate::common::App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let ch = app.sandbox(&admin, "Café sandbox").await;

    let (status, body) = app.post("/v1/reports", &viewer, json!({"from": "2027-01-04", "to": "2027-01-10"})).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app.post("/v1/reports", &admin, json!({"from": "2027-01-10", "to": "2027-01-04"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("to")), "{body}");
    let (status, body) = app.post("/v1/reports", &admin, json!({"from": "4 Jan", "to": "2027-01-10"})).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("from")), "{body}");

    let (status, made) = app.post("/v1/reports", &admin, json!({"from": "2027-01-04", "to": "2027-01-10"})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["summary"]["overall"]["current"]["posts_published"], 0, "an honest empty report");
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["files"]["html"], format!("/v1/reports/{id}/report.html"));
    let ready: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == herald_core::events::EventKind::ReportReady).collect();
    assert_eq!(ready.len(), 1, "one Report Ready event");
    assert_eq!(ready[0].detail["files"]["html"], made["files"]["html"]);

    let (status, list) = app.get("/v1/reports", &viewer).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], id.as_str());
    let (status, one) = app.get(&format!("/v1/reports/{id}"), &viewer).await;
    assert_eq!((status, one["from"].as_str()), (200, Some("2027-01-04")));

    assert_eq!(made["files"]["pdf"], format!("/v1/reports/{id}/report.pdf"));
    for (file, ct) in [("report.html", "text/html"), ("report.csv", "text/csv"), ("report.json", "application/json"), ("report.pdf", "application/pdf")] {
        let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/{file}"), Some(&viewer), None, None).await;
        assert_eq!(raw.status, 200, "{file}");
        assert!(raw.content_type.as_deref().unwrap_or("").starts_with(ct), "{file}: {:?}", raw.content_type);
        assert!(!raw.body.is_empty());
    }
    let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/report.xlsx"), Some(&viewer), None, None).await;
    assert_eq!(raw.status, 404);
    // Another team sees none of it.
    let other = app.key("other", Role::Admin).await;
    assert_eq!(app.get(&format!("/v1/reports/{id}"), &other).await.0, 404);
    let raw = app.raw(Method::GET, &format!("/v1/reports/{id}/report.html"), Some(&other), None, None).await;
    assert_eq!(raw.status, 404);

    // Slot suggestions: nothing measured yet, so nothing suggested, and a note says why.
    let (status, s) = app.post(&format!("/v1/channels/{ch}/slots/suggest"), &viewer, json!({})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["suggested"], json!([]));
    assert!(s["note"].as_str().unwrap().contains("not enough data"));
    let (status, _) = app.post(&format!("/v1/channels/{ch}/slots/suggest"), &other, json!({})).await;
    assert_eq!(status, 404);
}

/// The team chooses when its reports are made: `GET`/`PATCH /v1/reports/schedule`, checked
/// field by field, and the generator's round follows the choice in the team's zone.
#[tokio::test]
async fn the_report_schedule_is_the_teams_choice() {
    use axum::http::Method;
    let app = crate::common::App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let editor = app.key("cafe", Role::Editor).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    app.sandbox(&admin, "Café sandbox").await;
    let patch = |key: &str, body: serde_json::Value| {
        let key = key.to_owned();
        let app = &app;
        async move {
            let raw = app.raw(Method::PATCH, "/v1/reports/schedule", Some(&key), Some("application/json"), Some(body.to_string().into_bytes())).await;
            (raw.status, raw.json())
        }
    };

    // The default, with the next runs: it is Monday 4 January 2027, 08:00 in Paris.
    let (status, s) = app.get("/v1/reports/schedule", &viewer).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["time_zone"], "Europe/Paris");
    assert_eq!(s["weekly"], json!({"day": "mon", "hour": 8}));
    assert_eq!(s["monthly"], json!({"day": 1, "hour": 8}));
    assert_eq!(s["upcoming"][0], json!({"schedule": "weekly", "at": "2027-01-11T07:00:00Z", "from": "2027-01-04", "to": "2027-01-10"}));
    assert_eq!(s["upcoming"][1], json!({"schedule": "monthly", "at": "2027-02-01T07:00:00Z", "from": "2027-01-01", "to": "2027-01-31"}));

    assert_eq!(patch(&viewer, json!({"weekly": null})).await.0, 403);
    for (body, field) in [
        (json!({"weekly": {"day": "funday", "hour": 9}}), "weekly.day"),
        (json!({"weekly": {"day": "wed", "hour": 24}}), "weekly.hour"),
        (json!({"weekly": {"day": "wed"}}), "weekly.hour"),
        (json!({"weekly": {"day": "wed", "hour": 9, "minute": 30}}), "weekly.minute"),
        (json!({"weekly": "wednesdays"}), "weekly"),
        (json!({"monthly": {"day": 31, "hour": 8}}), "monthly.day"),
        (json!({"monthly": {"day": "first", "hour": 8}}), "monthly.day"),
        (json!({"monthly": {"day": 1, "hour": -1}}), "monthly.hour"),
    ] {
        let (status, e) = patch(&editor, body.clone()).await;
        assert_eq!((status, e["error"]["field"].as_str()), (422, Some(field)), "{body} → {e}");
    }
    let (status, e) = patch(&editor, json!({"daily": {"hour": 8}})).await;
    assert_eq!(status, 422, "unknown keys are refused: {e}");
    // Nothing above changed anything.
    assert_eq!(app.get("/v1/reports/schedule", &viewer).await.1["weekly"], json!({"day": "mon", "hour": 8}));

    // Wednesdays at 17:00, no monthly report; a key left out stays as it was.
    let (status, s) = patch(&editor, json!({"weekly": {"day": "Wednesday", "hour": 17}, "monthly": null})).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["weekly"].clone(), s["monthly"].clone()), (json!({"day": "wed", "hour": 17}), json!(null)));
    assert_eq!(s["upcoming"], json!([{"schedule": "weekly", "at": "2027-01-06T16:00:00Z", "from": "2026-12-30", "to": "2027-01-05"}]));
    let (_, s) = patch(&admin, json!({"monthly": {"day": 3, "hour": 6}})).await;
    assert_eq!((s["weekly"]["day"].as_str(), s["monthly"]["day"].as_u64()), (Some("wed"), Some(3)));

    // The generator's round follows it: nothing on Monday at 08:00 any more, the weekly report
    // on Wednesday from 17:00 (once), the monthly one on the 3rd from 06:00.
    let files = reports::MemoryReportFiles::default();
    let round = |at: &str| {
        let (store, files, events) = (app.store.clone(), &files, app.events.clone());
        let at = utc(at);
        async move { reports::scheduled_round(&*store, files, &*events, at).await.unwrap() }
    };
    assert_eq!(round("2027-01-04T07:00:00Z").await.generated, 0, "Monday 08:00 is no longer the time");
    // The team was made on 4 January: the week and the month before it have nothing to report.
    let (_, s) = patch(&editor, json!({"weekly": {"day": "mon", "hour": 9}, "monthly": {"day": 4, "hour": 9}})).await;
    assert_eq!(s["weekly"]["hour"], 9);
    assert_eq!(round("2027-01-04T08:30:00Z").await.generated, 0, "no report of the time before the team");
    patch(&editor, json!({"weekly": {"day": "wed", "hour": 17}, "monthly": {"day": 3, "hour": 6}})).await;
    assert_eq!(round("2027-01-06T15:59:00Z").await.generated, 0, "Wednesday 16:59");
    assert_eq!(round("2027-01-06T16:00:00Z").await.generated, 1, "Wednesday 17:00");
    let later = round("2027-01-06T19:00:00Z").await;
    assert_eq!((later.generated, later.existing), (0, 1), "once");
    let monthly = round("2027-02-03T05:00:00Z").await;
    assert_eq!((monthly.generated, monthly.existing), (1, 0), "Wednesday 3 February 06:00: January's report");
    let (_, list) = app.get("/v1/reports", &viewer).await;
    let periods: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["from"].as_str().unwrap().to_owned(), r["to"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(periods.len(), 2, "{list}");
    assert!(periods.contains(&("2027-01-01".into(), "2027-01-31".into())), "{periods:?}");
    assert!(periods.contains(&("2026-12-30".into(), "2027-01-05".into())), "{periods:?}");
    let ready: Vec<_> = app.events.events().into_iter().filter(|e| e.kind == EventKind::ReportReady).collect();
    let schedules: Vec<&str> = ready.iter().filter_map(|e| e.detail["schedule"].as_str()).collect();
    assert_eq!(schedules, ["weekly", "monthly"]);
}

// ---------------------------------------------------------------------------------------------
// In a browser: the rendered page as Chromium lays it out and draws it (tests/system/common/browser.rs).

/// Where the screenshots are kept for people to look at (printed by the tests).
fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A desktop browser window, the width of an A4 page's printable area (182 mm at 96 dpi), the
/// narrowest window headless Chromium opens, and a phone's (390 px, laid out in a frame of that
/// width): wide tables scroll inside their own box there, the page itself must not, and chart
/// text stays readable.
const WIDTHS: [u32; 4] = [1280, 688, 500, 390];

/// The charts' names, as a screen reader says them, in English and in French.
const CHARTS_EN: [&str; 4] = ["Followers per channel", "Engagements per day", "Engagement by weekday and hour", "Sentiment mix"];
const CHARTS_FR: [&str; 4] = ["Abonnés par compte", "Interactions par jour", "Interactions par jour et par heure", "Tonalité des messages"];

fn assert_looks_right(browser: &crate::common::browser::Browser, html: &str, name: &str, charts: [&str; 4]) {
    for width in WIDTHS {
        let seen = browser.inspect(html, width, &screenshots(), name);
        let labels: Vec<&str> = seen.charts.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, charts, "{name} at {width} px");
        assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
        eprintln!("{name} at {width} px: fine, screenshot {}", seen.screenshot.display());
    }
}

#[tokio::test]
async fn the_hand_checked_report_has_no_empty_chart_and_fits_the_page_in_chromium() {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let (hand_checked, d) = dataset().await;
    assert_looks_right(&browser, &reports::render_html(&d), "hand-checked", CHARTS_EN);
    assert_looks_right(&browser, &reports::render_html(&french_branded(&hand_checked).await), "hand-checked-fr-branded", CHARTS_FR);

    // An empty period: no chart is drawn as if it had data, and nothing overflows.
    let f = Fixture::new(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let empty = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-20T00:00:00Z")).await.unwrap();
    for width in WIDTHS {
        let seen = browser.inspect(&reports::render_html(&empty), width, &screenshots(), "empty");
        assert_eq!(seen.scroll_width, seen.client_width, "empty at {width} px: {:?}", seen.overflowing);
        assert!(seen.charts.iter().all(|c| c.marks == 0), "{:?}", seen.charts);
    }
}

/// The check itself can fail: a page with a chart that draws no data, a chart whose data is all
/// grey, and a table wider than the window.
#[test]
fn the_browser_check_sees_an_empty_chart_and_an_overflowing_page() {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let html = r##"<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0">
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Axes only"><line x1="0" y1="99" x2="300" y2="99" stroke="#9ca3af"/></svg></figure>
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Grey bars"><rect x="10" y="10" width="50" height="90" fill="#d1d5db"><title>bar</title></rect></svg></figure>
<figure><svg viewBox="0 0 300 100" role="img" aria-label="Blue bars"><rect x="10" y="10" width="50" height="90" fill="#2563eb"><title>bar</title></rect></svg></figure>
<figure><svg viewBox="0 0 3000 100" role="img" aria-label="Tiny text"><rect x="10" y="10" width="500" height="90" fill="#2563eb"><title>bar</title></rect><text x="600" y="50" font-size="20">small</text></svg></figure>
<table style="width:2000px"><tr><td>a table wider than the window</td></tr></table>
</body></html>"##;
    let seen = browser.inspect(html, 800, &screenshots(), "broken");
    let problems = seen.problems().join("\n");
    assert!(problems.contains("chart 'Axes only' is empty"), "{problems}");
    assert!(problems.contains("chart 'Grey bars' shows no data on screen"), "{problems}");
    assert!(!problems.contains("Blue bars"), "{problems}");
    assert!(problems.lines().any(|p| p.starts_with("chart 'Tiny text' has text") && p.contains("too small to read")), "{problems}");
    assert!(!problems.contains("chart 'Blue bars' has text"), "{problems}");
    assert!(problems.contains("the page overflows at 800 px"), "{problems}");
    assert!(seen.overflowing.iter().any(|e| e.starts_with("table")), "{:?}", seen.overflowing);
}

/// `herald demo` makes a report you could send: eight weeks of history behind it, every figure
/// filled in, every chart drawn, nothing overflowing, and listed by the API.
#[tokio::test]
async fn herald_demo_writes_a_report_worth_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (demo, report) = crate::common::serve::Serve::demo(dir.path());
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(report.with_file_name("report.json")).unwrap()).unwrap();
    let overall = &data["overall"]["current"];
    assert!(overall["posts_published"].as_u64().unwrap() >= 60, "{overall}");
    for figure in ["impressions", "engagements", "engagement_rate", "follower_growth"] {
        assert!(overall[figure].as_f64().is_some_and(|v| v > 0.0), "{figure}: {overall}");
    }
    assert!(data["overall"]["previous"]["posts_published"].as_u64().unwrap() >= 60, "a previous period to compare with");
    let inbox = &data["inbox"]["current"];
    assert!(inbox["total"].as_u64().unwrap() >= 100, "{inbox}");
    assert!(inbox["answered"].as_u64().unwrap() > 0 && inbox["median_first_response_seconds"].as_u64().is_some(), "{inbox}");
    for label in ["positive", "neutral", "negative"] {
        assert!(inbox["by_sentiment"][label].as_u64().unwrap_or(0) > 0, "{label}: {inbox}");
    }
    assert_eq!(data["incidents"].as_array().unwrap().len(), 1, "the evening of the cancelled brunches");
    assert!(data["channels"].as_array().unwrap().iter().all(|c| !c["best_time"]["recommended"].as_array().unwrap().is_empty()));

    // The API lists it, with the demo's key.
    let client = crate::common::serve::Client::new(&demo);
    let (status, list) = client.call(reqwest::Method::GET, "/v1/reports", None).await;
    assert_eq!(status, 200, "{list}");
    let id = report.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap();
    assert!(list["items"].as_array().unwrap().iter().any(|r| r["id"] == id), "{list}");

    // A second `herald demo` on the folder says again where the report is, with a new key that
    // works (the first is kept only as a hash), and makes nothing twice.
    let first_key = demo.key.clone().expect("the first run's key");
    drop(demo);
    let (again, report_again) = crate::common::serve::Serve::demo(dir.path());
    assert_eq!(report_again, report, "{}", again.transcript.text());
    let key = again.key.clone().expect("a key on the second run too");
    assert_ne!(key, first_key);
    let client = crate::common::serve::Client::new(&again);
    let (status, list_again) = client.call(reqwest::Method::GET, "/v1/reports", None).await;
    assert_eq!((status, list_again["items"].as_array().map(Vec::len)), (200, list["items"].as_array().map(Vec::len)));

    // The café's report wears its brand; the same period asked for in French says the same.
    let english = std::fs::read_to_string(&report).unwrap();
    assert!(english.contains("--accent: #9a3412") && english.contains(r#"<img src="data:image/png;base64,"#), "the demo café's brand");
    let period = json!({"from": data["period"]["from"], "to": data["period"]["to"], "language": "fr"});
    let (status, made) = client.call(reqwest::Method::POST, "/v1/reports", Some(period)).await;
    assert_eq!(status, 201, "{made}");
    let posts = |overall: &serde_json::Value| overall["current"]["posts_published"].as_u64();
    assert_eq!(posts(&made["summary"]["overall"]), posts(&data["overall"]), "the same period, in French: {made}");
    let (status, french) = client.text(&format!("/v1/reports/{}/report.html", made["id"].as_str().unwrap())).await;
    assert_eq!(status, 200);
    assert!(french.contains(r#"<html lang="fr">"#) && french.contains("rapport réseaux sociaux"), "in French");

    let Some(browser) = crate::common::browser::Browser::find() else { return };
    assert_looks_right(&browser, &english, "demo", CHARTS_EN);
    assert_looks_right(&browser, &french, "demo-fr", CHARTS_FR);
}
