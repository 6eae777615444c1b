//! `GET/PATCH /v1/team` and `GET /v1/team/logo`, in process: a team sets its name, zone,
//! language and logo; its schedule follows the zone; a run made in the old zone is not made
//! again in the new one. The first run of `herald serve` takes them from flags.

use axum::http::Method;
use base64::Engine as _;
use herald_core::domain::Role;
use herald_core::services::reports;
use serde_json::json;

use crate::common::report_dataset::utc;
use crate::common::{App, error_of};
use crate::common::serve::{Client, Serve};

/// A real PNG (1×1, transparent).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

fn png_url() -> String {
    format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(PNG))
}

#[tokio::test]
async fn an_admin_sets_the_name_zone_language_and_logo_and_everyone_reads_them() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let viewer = app.key("cafe", Role::Viewer).await;
    let (status, team) = app.get("/v1/team", &viewer).await;
    assert_eq!(status, 200, "{team}");
    assert_eq!((team["id"].as_str(), team["language"].as_str(), team["logo"].is_null()), (Some("cafe"), Some("en"), true));

    let (status, team) = app
        .patch("/v1/team", &admin, json!({"name": "  Café du coin ", "time_zone": "Europe/Paris", "language": "fr", "logo": png_url()}))
        .await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(team["name"], "Café du coin");
    assert_eq!((team["time_zone"].as_str(), team["language"].as_str()), (Some("Europe/Paris"), Some("fr")));
    assert_eq!(team["logo"], "/v1/team/logo");
    let logo = app.raw(Method::GET, "/v1/team/logo", Some(&viewer), None, None).await;
    assert_eq!((logo.status, logo.content_type.as_deref()), (200, Some("image/png")));
    assert_eq!(logo.body, PNG, "the bytes that were uploaded");
    assert_eq!(app.get("/v1/team", &viewer).await.1, team, "read back as written");

    // A key left out stays; `logo: null` removes the logo.
    let (status, team) = app.patch("/v1/team", &admin, json!({"logo": null})).await;
    assert_eq!((status, team["name"].as_str(), team["logo"].is_null()), (200, Some("Café du coin"), true));
    assert_eq!(app.raw(Method::GET, "/v1/team/logo", Some(&viewer), None, None).await.status, 404);
}

#[tokio::test]
async fn only_admins_change_the_team_and_bad_settings_are_422_naming_them() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    for role in [Role::Viewer, Role::Contributor, Role::Editor] {
        let key = app.key("cafe", role).await;
        let (status, err) = app.patch("/v1/team", &key, json!({"name": "Mine"})).await;
        assert_eq!((status, error_of(&err).0.as_str()), (403, "forbidden"), "{role}");
    }
    let svg = format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode("<svg onload=alert(1)/>"));
    for (body, field) in [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"language": "de"}), "language"),
        (json!({"name": "   "}), "name"),
        (json!({"name": "x".repeat(101)}), "name"),
        (json!({"logo": svg}), "logo"),
        (json!({"logo": "https://example.org/logo.png"}), "logo"),
        (json!({"id": "other"}), "id"),
        (json!({"accent_color": "teal"}), "accent_color"),
        (json!({"accent_color": "#fde047"}), "accent_color"),
        (json!({"white_label": "yes"}), "white_label"),
    ] {
        let (status, err) = app.patch("/v1/team", &admin, body.clone()).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{body} → {err}");
    }
    let (_, team) = app.get("/v1/team", &admin).await;
    assert_eq!((team["name"].as_str(), team["version"].as_u64()), (Some("cafe"), Some(0)), "nothing was written");
}

/// The team's colour, logo, language and white label reach the reports it makes through the API;
/// a report may be asked for in another language.
#[tokio::test]
async fn a_team_brands_its_reports_and_asks_for_one_in_another_language() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, team) = app
        .patch("/v1/team", &admin, json!({"language": "fr", "logo": png_url(), "accent_color": " #0F766E", "white_label": true}))
        .await;
    assert_eq!(status, 200, "{team}");
    assert_eq!((team["accent_color"].as_str(), team["white_label"].as_bool()), (Some("#0f766e"), Some(true)));

    let page = |id: String| {
        let app = &app;
        let admin = admin.clone();
        async move { String::from_utf8(app.raw(Method::GET, &format!("/v1/reports/{id}/report.html"), Some(&admin), None, None).await.body).unwrap() }
    };
    let (status, made) = app.post("/v1/reports", &admin, json!({"from": "2026-12-28", "to": "2027-01-03"})).await;
    assert_eq!(status, 201, "{made}");
    let html = page(made["id"].as_str().unwrap().to_owned()).await;
    assert!(html.contains(r#"<html lang="fr">"#) && html.contains("du 28 déc. 2026 au 3 janv. 2027"), "the team's language");
    assert!(html.contains("--accent: #0f766e") && html.contains(r#"<img src="data:image/png;base64,"#), "its colour and logo");
    assert!(!html.to_lowercase().contains("herald"), "white label");

    let (status, made) = app.post("/v1/reports", &admin, json!({"from": "2026-12-28", "to": "2027-01-03", "language": "en"})).await;
    assert_eq!(status, 201, "{made}");
    assert!(page(made["id"].as_str().unwrap().to_owned()).await.contains("28 Dec 2026 to 3 Jan 2027"), "asked in English");
    let (status, err) = app.post("/v1/reports", &admin, json!({"from": "2026-12-28", "to": "2027-01-03", "language": "de"})).await;
    assert_eq!((status, error_of(&err).1.as_deref()), (422, Some("language")), "{err}");

    // Back to Herald's colour and name.
    let (_, team) = app.patch("/v1/team", &admin, json!({"accent_color": null, "white_label": false})).await;
    assert_eq!((team["accent_color"].is_null(), team["white_label"].as_bool()), (true, Some(false)));
}

/// The schedule is read in the team's zone: changing the zone moves the next runs, and a run
/// already made for a period is not made again in the new zone.
#[tokio::test]
async fn the_schedule_follows_the_zone_and_a_run_is_not_made_twice_across_a_change() {
    let app = App::new(); // Monday 2027-01-04 08:00 in Paris
    let admin = app.key("cafe", Role::Admin).await;
    let (_, before) = app.get("/v1/reports/schedule", &admin).await;
    assert_eq!(before["time_zone"], "Europe/Paris");
    assert_eq!(before["upcoming"][0], json!({"schedule": "weekly", "at": "2027-01-11T07:00:00Z", "from": "2027-01-04", "to": "2027-01-10"}));

    // Monday 11 January, 08:30 in Paris: last week's report is made.
    let files = reports::MemoryReportFiles::default();
    let round = |at: &str| {
        let (store, files, events) = (app.store.clone(), &files, app.events.clone());
        let at = utc(at);
        async move { reports::scheduled_round(&*store, files, &*events, at).await.unwrap() }
    };
    assert_eq!(round("2027-01-11T07:30:00Z").await.generated, 1);

    // The café moves to New York: the next run is Monday 08:00 there.
    let (status, team) = app.patch("/v1/team", &admin, json!({"time_zone": "America/New_York"})).await;
    assert_eq!(status, 200, "{team}");
    app.clock.set(utc("2027-01-11T08:00:00Z"));
    let (_, after) = app.get("/v1/reports/schedule", &admin).await;
    assert_eq!(after["time_zone"], "America/New_York");
    assert_eq!(after["upcoming"][0]["at"], "2027-01-11T13:00:00Z", "{after}");
    // At 08:30 in New York the same Monday, the week is the same week: not made again.
    let again = round("2027-01-11T13:30:00Z").await;
    assert_eq!((again.generated, again.existing), (0, 1));
    let (_, list) = app.get("/v1/reports", &admin).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");
}

/// A stale write of the team is refused: two admins changing it from the same read.
#[tokio::test]
async fn a_change_from_a_stale_read_of_the_team_is_409() {
    use herald_core::store::TeamStore;
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let team = herald_core::domain::TeamId::parse("team", "cafe").unwrap();
    let stale = app.store.get_team(&team).await.unwrap().unwrap();
    let (status, _) = app.patch("/v1/team", &admin, json!({"name": "Café du coin"})).await;
    assert_eq!(status, 200);
    let err = app.store.update_team(&herald_core::domain::Team { name: "Old name".into(), ..stale }).await.unwrap_err();
    assert!(matches!(err, herald_core::store::StoreError::Conflict), "{err:?}");
    assert_eq!(app.get("/v1/team", &admin).await.1["name"], "Café du coin");
}

#[tokio::test]
async fn serve_sets_the_first_run_team_from_its_flags_and_says_how_to_make_another_key() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start_with(
        dir.path(),
        &[("HERALD_TEAM_NAME", "Café du coin"), ("HERALD_TIME_ZONE", "Europe/Paris"), ("HERALD_LANGUAGE", "fr")],
    );
    let client = Client::new(&serve);
    let (status, team) = client.call(reqwest::Method::GET, "/v1/team", None).await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(
        (team["name"].as_str(), team["time_zone"].as_str(), team["language"].as_str()),
        (Some("Café du coin"), Some("Europe/Paris"), Some("fr"))
    );
    let (_, schedule) = client.call(reqwest::Method::GET, "/v1/reports/schedule", None).await;
    assert_eq!(schedule["time_zone"], "Europe/Paris");
    // The first-run message says how to make another key when this one is lost.
    let printed = serve.transcript.text();
    assert!(printed.contains("herald keys create --team default --role admin"), "{printed}");
    serve.kill();
}

/// `herald serve`'s first run prints, beside the admin API key, a one-time setup link that makes
/// its first user an admin of the team, signed in; the link works once.
#[tokio::test]
async fn serve_prints_a_one_time_setup_link_for_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let serve = Serve::start(dir.path());
    let mut link = None;
    for _ in 0..100 {
        let printed = serve.transcript.text();
        link = printed
            .lines()
            .find(|l| l.contains("Setup link for the first admin "))
            .and_then(|l| l.rsplit(": ").next())
            .map(|l| l.trim().to_owned());
        if link.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let link = link.unwrap_or_else(|| panic!("no setup link in {}", serve.transcript.text()));
    let token = link.strip_prefix(&format!("{}/invite/", serve.url)).unwrap_or_else(|| panic!("{link}")).to_owned();
    let http = crate::common::process::http_client();
    let body = serde_json::json!({"token": token, "email": "Owner@Example.com", "name": "Owner", "password": "a long enough passphrase"});
    let resp = http.post(format!("{}/auth/accept", serve.url)).json(&body).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "plain http: no Secure ({cookie})");
    let session = cookie.split(';').next().unwrap().to_owned();
    let me: serde_json::Value =
        http.get(format!("{}/v1/me", serve.url)).header("cookie", &session).send().await.unwrap().json().await.unwrap();
    assert_eq!((me["team_id"].as_str(), me["role"].as_str()), (Some("default"), Some("admin")), "{me}");
    let again = http.post(format!("{}/auth/accept", serve.url)).json(&body).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 404, "the setup link works once");
    serve.kill();
}
