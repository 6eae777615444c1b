//! The web app's Reports, Channels and Settings screens (shared/src/web/{reports,channels,
//! settings}.rs), in process through the API's router: each change made as a browser makes it
//! (a signed-in person's form post with the session cookie and the `csrf` field), then seen
//! through the JSON API; refusals shown at their form with the API's status; a post without
//! the CSRF token or from a role the service refuses changes nothing; every page carries the
//! security headers; and the screens laid out in Chromium at a phone's and a laptop's width.

use axum::body::Body;
use axum::http::{Method, Request};
use herald_core::domain::{DeliveryState, Role};
use herald_core::web::CONTENT_SECURITY_POLICY;
use herald_core::web::assets;
use herald_core::web::reports::REPORT_CSP;
use serde_json::{Value, json};

use crate::common::people::{PASSWORD, enc, post_login_form};
use crate::common::{App, Raw, cafe};

/// A person signed in from the invite form: their session cookie and its CSRF token.
struct Person {
    cookie: String,
    csrf: String,
}

/// Invites `email` as `role` (with the admin key) and signs them in from the invite page.
async fn person(app: &App, admin: &str, email: &str, role: &str) -> Person {
    let p = crate::common::people::join(app, admin, "Someone", email, role).await;
    Person { cookie: p.session, csrf: p.csrf }
}

async fn get(app: &App, path: &str, cookie: Option<&str>) -> Raw {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("herald_session={c}"));
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

/// A page as `who` sees it, asserting 200 HTML with the app's headers.
async fn page(app: &App, path: &str, who: &Person) -> String {
    let raw = get(app, path, Some(&who.cookie)).await;
    assert_eq!(raw.status, 200, "{path}: {}", raw.text());
    assert_eq!(raw.content_type.as_deref(), Some("text/html; charset=utf-8"), "{path}");
    assert_security_headers(&raw, path);
    raw.text()
}

async fn send_form(app: &App, path: &str, cookie: Option<&str>, body: &str) -> Raw {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("cookie", format!("herald_session={c}"));
    }
    app.send(req.body(Body::from(body.to_owned())).unwrap()).await
}

/// `who` uploads `file` (its media type and bytes) as the `logo` field of a multipart form, with
/// `csrf` as the token and `extra` fields.
async fn upload_logo(app: &App, who: &Person, csrf: &str, file: Option<(&str, &[u8])>, extra: &[(&str, &str)]) -> Raw {
    const B: &str = "herald-test-boundary";
    let mut body: Vec<u8> = format!("--{B}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n").into_bytes();
    for (name, value) in extra {
        body.extend(format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").into_bytes());
    }
    if let Some((media_type, bytes)) = file {
        body.extend(format!("--{B}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo\"\r\nContent-Type: {media_type}\r\n\r\n").into_bytes());
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{B}--\r\n").into_bytes());
    let req = Request::builder()
        .method(Method::POST)
        .uri("/settings/logo")
        .header("content-type", format!("multipart/form-data; boundary={B}"))
        .header("cookie", format!("herald_session={}", who.cookie));
    app.send(req.body(Body::from(body)).unwrap()).await
}

/// `who` posts the form `body` to `path` with their CSRF token.
async fn post(app: &App, path: &str, who: &Person, body: &str) -> Raw {
    let body = if body.is_empty() { format!("csrf={}", who.csrf) } else { format!("csrf={}&{body}", who.csrf) };
    send_form(app, path, Some(&who.cookie), &body).await
}

fn assert_security_headers(raw: &Raw, what: &str) {
    assert_eq!(raw.header("content-security-policy"), Some(CONTENT_SECURITY_POLICY), "{what}");
    assert_eq!(raw.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(raw.header("referrer-policy"), Some("same-origin"), "{what}");
    assert_eq!(raw.header("x-frame-options"), Some("DENY"), "{what}");
}

/// A `303` to `to`-something; the location.
fn redirected(raw: &Raw, to: &str) -> String {
    assert_eq!(raw.status, 303, "{}", raw.text());
    let location = raw.header("location").expect("a location").to_owned();
    assert!(location.starts_with(to), "{location}");
    assert_security_headers(raw, &location);
    location
}

async fn reports_of(app: &App, key: &str) -> Vec<Value> {
    let (status, list) = app.get("/v1/reports", key).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().expect("items").clone()
}

// ---------------------------------------------------------------------------------------------
// Reports

#[tokio::test]
async fn a_report_made_from_the_form_is_listed_opens_as_its_own_document_and_is_in_the_api() {
    let (app, admin, _) = cafe().await;
    let lea = person(&app, &admin, "lea@cafe.example", "editor").await;

    let empty = page(&app, "/reports", &lea).await;
    assert!(empty.contains("<h1>Reports</h1>") && empty.contains("No reports yet"), "{empty}");
    assert!(empty.contains("action=\"/reports\"") && empty.contains("Europe/Paris"), "{empty}");
    // The form offers last week on the team's clock (the app's clock: Monday 2027-01-04).
    assert!(empty.contains("value=\"2026-12-28\"") && empty.contains("value=\"2027-01-03\""), "{empty}");

    let made = post(&app, "/reports", &lea, "from=2026-12-28&to=2027-01-03").await;
    let location = redirected(&made, "/reports?made=");
    let listed = reports_of(&app, &admin).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!((listed[0]["from"].as_str(), listed[0]["to"].as_str()), (Some("2026-12-28"), Some("2027-01-03")));
    assert!(location.ends_with(&id), "{location}");

    let after = page(&app, &location, &lea).await;
    assert!(after.contains("role=\"status\"") && after.contains(&format!("href=\"/reports/{id}\"")), "{after}");
    assert!(after.contains("28 Dec 2026 – 3 Jan 2027"), "{after}");
    assert!(after.contains(&format!("href=\"/reports/{id}/report.csv\"")), "{after}");

    // The report's HTML: the API's file, with a policy of its own (its inline styles, no script).
    let doc = get(&app, &format!("/reports/{id}"), Some(&lea.cookie)).await;
    assert_eq!(doc.status, 200, "{}", doc.text());
    assert_eq!(doc.header("content-security-policy"), Some(REPORT_CSP));
    assert!(!REPORT_CSP.contains("script-src") && REPORT_CSP.contains("default-src 'none'"));
    assert_eq!(doc.header("x-frame-options"), Some("DENY"));
    assert_eq!(doc.header("x-content-type-options"), Some("nosniff"));
    let api = app.raw(Method::GET, &format!("/v1/reports/{id}/report.html"), Some(&admin), None, None).await;
    assert_eq!(doc.body, api.body, "the same file as the API's");
    assert!(doc.text().contains("<style>"), "the report's own styles");
    let csv = get(&app, &format!("/reports/{id}/report.csv"), Some(&lea.cookie)).await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.as_deref().is_some_and(|c| c.starts_with("text/csv")));
    assert_eq!(get(&app, &format!("/reports/{id}/secrets.txt"), Some(&lea.cookie)).await.status, 404);
    assert_eq!(get(&app, "/reports/not-a-uuid", Some(&lea.cookie)).await.status, 404);
    let bad_cursor = get(&app, "/reports?cursor=not-a-cursor", Some(&lea.cookie)).await;
    assert!(bad_cursor.status.to_string().starts_with('4'), "a bad cursor is the caller's mistake: {}", bad_cursor.status);
    assert_eq!(get(&app, &format!("/reports/{id}"), None).await.status, 401);

    // Another team does not see it.
    let other_admin = app.key("bistro", Role::Admin).await;
    let other = person(&app, &other_admin, "max@bistro.example", "admin").await;
    assert_eq!(get(&app, &format!("/reports/{id}"), Some(&other.cookie)).await.status, 404);
    assert!(!page(&app, "/reports", &other).await.contains(&id));
}

#[tokio::test]
async fn bad_dates_are_refused_at_the_form_and_a_viewer_or_a_forged_post_makes_nothing() {
    let (app, admin, _) = cafe().await;
    let lea = person(&app, &admin, "lea@cafe.example", "editor").await;

    let bad = post(&app, "/reports", &lea, "from=2027-01-03&to=2026-12-28").await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    let text = bad.text();
    assert!(text.contains("role=\"alert\""), "{text}");
    assert!(text.contains("value=\"2027-01-03\"") && text.contains("value=\"2026-12-28\""), "keeps what was typed: {text}");
    let not_a_date = post(&app, "/reports", &lea, "from=soon&to=2026-12-28").await;
    assert_eq!(not_a_date.status, 422);
    assert!(not_a_date.text().contains("<code>from</code>"), "names the field: {}", not_a_date.text());
    assert!(reports_of(&app, &admin).await.is_empty());

    let vic = person(&app, &admin, "vic@cafe.example", "viewer").await;
    let refused = post(&app, "/reports", &vic, "from=2026-12-28&to=2027-01-03").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("viewers"), "{}", refused.text());
    // No CSRF token, or another one: 403, nothing made.
    let forged = send_form(&app, "/reports", Some(&lea.cookie), "from=2026-12-28&to=2027-01-03").await;
    assert_eq!(forged.status, 403);
    let wrong = send_form(&app, "/reports", Some(&lea.cookie), "csrf=nope&from=2026-12-28&to=2027-01-03").await;
    assert_eq!(wrong.status, 403);
    assert!(reports_of(&app, &admin).await.is_empty());
}

#[tokio::test]
async fn the_schedule_saved_from_the_form_is_the_apis_and_a_bad_day_is_named() {
    let (app, admin, _) = cafe().await;
    let lea = person(&app, &admin, "lea@cafe.example", "editor").await;
    let before = page(&app, "/reports", &lea).await;
    assert!(before.contains("action=\"/reports/schedule\""), "{before}");
    assert!(before.contains("Next scheduled reports"), "{before}");

    // Weekly off, monthly on the 15th from 09:00.
    let saved = post(&app, "/reports/schedule", &lea, "weekly_day=mon&weekly_hour=8&monthly=on&monthly_day=15&monthly_hour=9").await;
    redirected(&saved, "/reports?done=schedule");
    let (_, schedule) = app.get("/v1/reports/schedule", &admin).await;
    assert_eq!(schedule["weekly"], Value::Null, "{schedule}");
    assert_eq!(schedule["monthly"], json!({"day": 15, "hour": 9}), "{schedule}");
    let after = page(&app, "/reports?done=schedule", &lea).await;
    assert!(after.contains("The schedule is saved."), "{after}");
    assert!(after.contains("<option value=\"15\" selected>"), "{after}");
    assert!(!after.contains("name=\"weekly\" value=\"on\" checked"), "weekly shows switched off: {after}");
    assert!(after.contains("15 Jan 2027") || after.contains("Fri 15 Jan 2027"), "the next run: {after}");

    // A day past the 28th: 422 naming `monthly.day`, nothing changed.
    let bad = post(&app, "/reports/schedule", &lea, "weekly=on&weekly_day=tue&weekly_hour=8&monthly=on&monthly_day=31&monthly_hour=9").await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.text().contains("<code>monthly.day</code>"), "{}", bad.text());
    let (_, unchanged) = app.get("/v1/reports/schedule", &admin).await;
    assert_eq!(unchanged, schedule);

    // A contributor may not change it (the service's rule); nor may a post without the token.
    let cleo = person(&app, &admin, "cleo@cafe.example", "contributor").await;
    let refused = post(&app, "/reports/schedule", &cleo, "weekly=on&weekly_day=tue&weekly_hour=8").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let forged = send_form(&app, "/reports/schedule", Some(&lea.cookie), "weekly=on&weekly_day=tue&weekly_hour=8").await;
    assert_eq!(forged.status, 403);
    let (_, unchanged) = app.get("/v1/reports/schedule", &admin).await;
    assert_eq!(unchanged, schedule);
}

// ---------------------------------------------------------------------------------------------
// Layout

fn screenshots() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    dir
}

/// Each screen at 390 and 1280 px: no horizontal overflow.
async fn fits(app: &App, who: &Person, screens: &[(&str, &str)]) {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let dir = screenshots();
    for asset in assets::all() {
        std::fs::write(dir.join("assets").join(&asset.name), asset.body).unwrap();
    }
    for (name, path) in screens {
        let html = page(app, path, who).await.replace("\"/assets/", "\"assets/");
        for width in [390, 1280] {
            let seen = browser.inspect(&html, width, &dir, name);
            assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
        }
    }
}

#[tokio::test]
async fn the_admin_screens_fit_a_phone_and_a_laptop_in_chromium() {
    let (app, admin, _) = cafe().await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;
    let made = post(&app, "/reports", &ada, "from=2026-12-28&to=2027-01-03").await;
    let location = made.header("location").expect("the new report").to_owned();
    // The report's own document, kept beside the screenshots with its policy in a <meta> (a
    // file:// page has no headers; `frame-ancestors` is not read from a <meta>), to look at.
    if crate::common::browser::Browser::find().is_some() {
        let id = location.rsplit('=').next().unwrap();
        let doc = get(&app, &format!("/reports/{id}"), Some(&ada.cookie)).await.text();
        let policy = REPORT_CSP.replace(" frame-ancestors 'none';", "");
        let doc = doc.replacen("<head>", &format!("<head><meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"), 1);
        std::fs::write(screenshots().join("report-document.html"), doc).unwrap();
    }
    app.sandbox(&admin, "Boulangerie du Marché Saint-Germain, compte principal").await;
    post(&app, "/settings/keys", &ada, "name=ci&role=editor").await;
    fits(&app, &ada, &[("reports", "/reports"), ("channels", "/channels"), ("settings", "/settings")]).await;
}

// ---------------------------------------------------------------------------------------------
// Channels

async fn channels_of(app: &App, key: &str) -> Vec<Value> {
    let (status, list) = app.get("/v1/channels", key).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().expect("items").clone()
}

/// The markup of one channel's panel on the Channels page.
fn panel<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html.find(&format!("id=\"channel-{id}\"")).unwrap_or_else(|| panic!("no channel {id}:\n{html}"));
    let rest = &html[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}

#[tokio::test]
async fn channels_show_their_health_and_one_is_connected_from_the_form() {
    use herald_core::store::{ChannelStore, StateStore};
    let (app, admin, ch) = cafe().await;
    let mastodon = app.platform_channel(&admin, "mastodon", "@cafe").await;
    // The poller read the sandbox up to 06:00 UTC; the network refuses the Mastodon token.
    app.store.put_state(&format!("metrics#{ch}"), r#"{"polled_until":"2027-01-04T06:00:00Z"}"#, None).await.unwrap();
    let refused = app.store.channel_by_id(mastodon.parse().expect("a channel id")).await.unwrap().expect("the channel");
    let since = crate::common::utc("2027-01-04T05:00:00Z");
    assert!(herald_core::services::reconnect::mark(&*app.store, &refused, "The access token is invalid", since).await.unwrap());
    // The sandbox published a post at 05:30 UTC.
    let made = app.create(&admin, json!({"text": "Bonjour", "channel_ids": [ch], "publish_at": "2027-01-05T09:00:00Z"})).await;
    let delivery = crate::common::deliveries(&made)[0]["id"].as_str().expect("a delivery").to_owned();
    let published = crate::common::utc("2027-01-04T05:30:00Z");
    app.force("cafe", made["id"].as_str().expect("id"), &delivery, &[DeliveryState::Publishing, DeliveryState::Published], |d| {
        d.publish_at = published;
        d.published_at = Some(published);
    })
    .await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;

    let html = page(&app, "/channels", &ada).await;
    assert!(html.contains("<h1>Channels</h1>"), "{html}");
    let sandbox = panel(&html, &ch);
    assert!(sandbox.contains("Sandbox") && sandbox.contains("publishes") && sandbox.contains("no problem known"), "{sandbox}");
    assert!(sandbox.contains("<time datetime=\"2027-01-04T07:00:00+01:00\">"), "figures read up to, on the team's clock: {sandbox}");
    assert!(
        sandbox.contains("<dt>Last published</dt><dd><time datetime=\"2027-01-04T06:30:00+01:00\">"),
        "the last publication, on the team's clock: {sandbox}"
    );
    let toot = panel(&html, &mastodon);
    assert!(toot.contains("needs reconnecting") && toot.contains("<q>The access token is invalid</q>. Replace them below."), "{toot}");
    assert!(toot.contains("<time datetime=\"2027-01-04T06:00:00+01:00\">"), "since when, on the team's clock: {toot}");
    let (status, listed) = app.get("/v1/channels", &admin).await;
    assert_eq!(status, 200, "{listed}");
    let by_id = |id: &str| listed["items"].as_array().into_iter().flatten().find(|c| c["id"] == id).cloned().unwrap_or_default();
    assert_eq!(by_id(&mastodon)["needs_reconnect"], json!({"since": "2027-01-04T05:00:00Z", "reason": "The access token is invalid"}));
    assert_eq!(by_id(&ch)["needs_reconnect"], Value::Null);
    let (_, one) = app.get(&format!("/v1/channels/{mastodon}"), &admin).await;
    assert_eq!(one["needs_reconnect"]["reason"], "The access token is invalid");
    assert!(toot.contains("<dt>Last published</dt><dd>not in the last 30 days</dd>"), "{toot}");
    assert!(toot.contains("<code>access_token</code>"), "says what its credentials take: {toot}");
    assert!(html.contains("instance_url") && html.contains("app_password"), "hints per network");
    assert!(!html.contains("token-of-cafe"), "credentials are never shown");

    // Connect a sandbox channel from the form.
    let body = "platform=sandbox&name=Test+outbox&time_zone=Europe%2FLondon&credentials=%7B%7D";
    redirected(&post(&app, "/channels", &ada, body).await, "/channels?done=connected");
    let listed = channels_of(&app, &admin).await;
    let made = listed.iter().find(|c| c["name"] == "Test outbox").unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!((made["platform"].as_str(), made["time_zone"].as_str()), (Some("sandbox"), Some("Europe/London")));
    assert!(page(&app, "/channels?done=connected", &ada).await.contains("The channel is connected."));

    // A Mastodon channel with no access token: the API's 422 naming the credential, the
    // form kept (never the credentials typed), nothing made.
    let body = format!(
        "platform=mastodon&name=%40bistro&time_zone=Europe%2FParis&credentials={}",
        enc(r#"{"instance_url": "https://mastodon.example", "secret_typo": "s3cr3t-value"}"#)
    );
    let refused = post(&app, "/channels", &ada, &body).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let text = refused.text();
    assert!(text.contains("<code>credentials.secret_typo</code>"), "{text}");
    assert!(text.contains("value=\"@bistro\"") && text.contains("<option value=\"mastodon\" selected>"), "{text}");
    assert!(!text.contains("s3cr3t-value"), "credentials are not echoed");
    let not_json = post(&app, "/channels", &ada, "platform=sandbox&name=X&time_zone=Europe%2FParis&credentials=token").await;
    assert_eq!(not_json.status, 422);
    let bad_zone = post(&app, "/channels", &ada, "platform=sandbox&name=X&time_zone=Mars%2FOlympus&credentials=").await;
    assert_eq!(bad_zone.status, 422);
    assert!(bad_zone.text().contains("<code>time_zone</code>"), "{}", bad_zone.text());
    assert_eq!(channels_of(&app, &admin).await.len(), 3);

    // An editor (not an admin) and a forged post connect nothing.
    let lea = person(&app, &admin, "lea@cafe.example", "editor").await;
    let body = "platform=sandbox&name=Nope&time_zone=Europe%2FParis&credentials=";
    assert_eq!(post(&app, "/channels", &lea, body).await.status, 403);
    assert_eq!(send_form(&app, "/channels", Some(&ada.cookie), body).await.status, 403);
    assert_eq!(channels_of(&app, &admin).await.len(), 3);
}

async fn slots_of(app: &App, admin: &str, ch: &str) -> Value {
    let (_, c) = app.get(&format!("/v1/channels/{ch}"), admin).await;
    c["queue_slots"].clone()
}

#[tokio::test]
async fn queue_slots_are_edited_and_suggested_from_the_page_and_a_channel_is_deleted_after_confirming() {
    let (app, admin, ch) = cafe().await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;

    let saved = post(&app, &format!("/channels/{ch}/slots"), &ada, &format!("slots={}", enc("tue 18:30\nmon 09:00\n"))).await;
    redirected(&saved, "/channels?done=slots");
    let expected = json!([{"weekday": "mon", "time": "09:00"}, {"weekday": "tue", "time": "18:30"}]);
    assert_eq!(slots_of(&app, &admin, &ch).await, expected);
    let html = page(&app, "/channels", &ada).await;
    assert!(panel(&html, &ch).contains("mon 09:00\ntue 18:30</textarea>"), "{}", panel(&html, &ch));

    // A slot listed twice: the service's 422, the lines kept, nothing changed.
    let twice = post(&app, &format!("/channels/{ch}/slots"), &ada, &format!("slots={}", enc("wed 10:00\nwed 10:00"))).await;
    assert_eq!(twice.status, 422, "{}", twice.text());
    assert!(twice.text().contains("<code>queue_slots[1]</code>"), "{}", twice.text());
    assert!(twice.text().contains("wed 10:00\nwed 10:00</textarea>"));
    let bad = post(&app, &format!("/channels/{ch}/slots"), &ada, "slots=someday+09%3A00").await;
    assert_eq!(bad.status, 422);
    assert!(bad.text().contains("<code>queue_slots[0].weekday</code>"), "{}", bad.text());
    assert_eq!(slots_of(&app, &admin, &ch).await, expected);

    // Suggest: nothing measured yet, and the page says why (a viewer may ask, as in the API).
    let vic = person(&app, &admin, "vic@cafe.example", "viewer").await;
    let suggested = post(&app, &format!("/channels/{ch}/slots/suggest"), &vic, "").await;
    assert_eq!(suggested.status, 200, "{}", suggested.text());
    assert!(suggested.text().contains("Best times (Europe/Paris, 0 posts measured)"), "{}", suggested.text());
    assert!(suggested.text().contains("not enough data"), "{}", suggested.text());
    // A viewer cannot change the slots.
    assert_eq!(post(&app, &format!("/channels/{ch}/slots"), &vic, "slots=").await.status, 403);
    assert_eq!(slots_of(&app, &admin, &ch).await, expected);

    // Delete: a page first, then the button.
    let confirm = page(&app, &format!("/channels/{ch}/delete"), &ada).await;
    assert!(confirm.contains("<h1>Delete Sandbox?</h1>") && confirm.contains(&format!("action=\"/channels/{ch}/delete\"")), "{confirm}");
    assert_eq!(send_form(&app, &format!("/channels/{ch}/delete"), Some(&ada.cookie), "").await.status, 403, "no CSRF token");
    assert_eq!(post(&app, &format!("/channels/{ch}/delete"), &vic, "").await.status, 403, "a viewer");
    assert_eq!(channels_of(&app, &admin).await.len(), 1);
    redirected(&post(&app, &format!("/channels/{ch}/delete"), &ada, "").await, "/channels?done=deleted");
    assert!(channels_of(&app, &admin).await.is_empty());
    assert_eq!(get(&app, &format!("/channels/{ch}/delete"), Some(&ada.cookie)).await.status, 404);
    assert_eq!(get(&app, "/channels/nope/delete", Some(&ada.cookie)).await.status, 404);
}

// ---------------------------------------------------------------------------------------------
// Settings

/// The secret a page shows once (`<code class="secret">…</code>`).
fn shown_secret(raw: &Raw) -> String {
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.header("cache-control"), Some("private, no-store"), "a secret's page is not kept");
    assert!(raw.header("location").is_none());
    assert_security_headers(raw, "a secret's page");
    let text = raw.text();
    text.split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split("</code>").next())
        .unwrap_or_else(|| panic!("no secret shown: {text}"))
        .to_owned()
}

#[tokio::test]
async fn an_invite_made_on_the_settings_page_works_once_and_members_are_removed_after_confirming() {
    let (app, admin, _) = cafe().await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;
    let settings = page(&app, "/settings", &ada).await;
    assert!(settings.contains("<h1>Settings</h1>") && settings.contains("ada@cafe.example"), "{settings}");
    assert!(settings.contains("action=\"/settings/invites\""), "{settings}");

    let made = post(&app, "/settings/invites", &ada, "email=ben%40cafe.example&role=contributor").await;
    let link = shown_secret(&made);
    assert!(link.starts_with("/invite/"), "{link}");
    assert!(made.text().contains("ben@cafe.example") && made.text().contains("contributor"), "{}", made.text());
    assert!(!page(&app, "/settings", &ada).await.contains(&link), "shown once, not on the page again");

    // Ben joins from the link (the invite page) and is a contributor.
    let joined = post_login_form(&app, &link, &format!("name=Ben&email=ben%40cafe.example&password={}", enc(PASSWORD))).await;
    assert_eq!(joined.status, 303, "{}", joined.text());
    let (_, members) = app.get("/v1/members", &admin).await;
    let ben = members["items"].as_array().unwrap().iter().find(|m| m["email"] == "ben@cafe.example").expect("Ben is a member").clone();
    assert_eq!(ben["role"], "contributor");
    let ben_id = ben["id"].as_str().unwrap().to_owned();

    // Refusals: a bad e-mail (422 naming it, kept), an e-mail already a member's (409).
    let bad = post(&app, "/settings/invites", &ada, "email=not-an-email&role=editor").await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.text().contains("<code>email</code>") && bad.text().contains("value=\"not-an-email\""), "{}", bad.text());
    assert!(!bad.text().contains("class=\"secret\""));
    assert_eq!(post(&app, "/settings/invites", &ada, "email=ben%40cafe.example&role=editor").await.status, 409);

    // A reset link for Ben, shown once.
    let reset = post(&app, &format!("/settings/members/{ben_id}/reset-link"), &ada, "").await;
    assert!(shown_secret(&reset).starts_with("/reset/"));

    // Removing Ben: without the box ticked, nothing; then removed, and his session ends.
    let ben_session = person_session_of(&app, "ben@cafe.example").await;
    let unticked = post(&app, &format!("/settings/members/{ben_id}/remove"), &ada, "").await;
    assert_eq!(unticked.status, 422, "{}", unticked.text());
    assert!(unticked.text().contains("<code>confirm</code>"));
    let forged = send_form(&app, &format!("/settings/members/{ben_id}/remove"), Some(&ada.cookie), "confirm=yes").await;
    assert_eq!(forged.status, 403, "no CSRF token");
    assert_eq!(get(&app, "/calendar", Some(&ben_session)).await.status, 200, "Ben is still in");
    redirected(&post(&app, &format!("/settings/members/{ben_id}/remove"), &ada, "confirm=yes").await, "/settings?done=removed");
    let (_, members) = app.get("/v1/members", &admin).await;
    assert!(!members.to_string().contains("ben@cafe.example"), "{members}");
    assert_eq!(get(&app, "/calendar", Some(&ben_session)).await.status, 401, "his session ended");
    // Nobody removes themselves.
    let ada_id = members["items"].as_array().unwrap().iter().find(|m| m["email"] == "ada@cafe.example").unwrap()["id"].as_str().unwrap().to_owned();
    assert_eq!(post(&app, &format!("/settings/members/{ada_id}/remove"), &ada, "confirm=yes").await.status, 409);
}

/// Signs `email` in from the sign-in form (password [`PASSWORD`]); the session id.
async fn person_session_of(app: &App, email: &str) -> String {
    let raw = post_login_form(app, "/sign-in", &format!("email={}&password={}", enc(email), enc(PASSWORD))).await;
    assert_eq!(raw.status, 303, "{}", raw.text());
    raw.header("set-cookie")
        .and_then(|c| c.split(';').next())
        .and_then(|p| p.strip_prefix("herald_session="))
        .expect("a session")
        .to_owned()
}

#[tokio::test]
async fn a_key_made_on_the_settings_page_authenticates_until_it_is_revoked() {
    let (app, admin, _) = cafe().await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;

    let made = post(&app, "/settings/keys", &ada, "name=ci&role=editor").await;
    let secret = shown_secret(&made);
    let (status, me) = app.get("/v1/me", &secret).await;
    assert_eq!(status, 200, "the key shown authenticates: {me}");
    let (_, keys) = app.get("/v1/keys", &admin).await;
    let ci = keys["items"].as_array().unwrap().iter().find(|k| k["name"] == "ci").expect("listed").clone();
    assert_eq!(ci["role"], "editor");
    let listed = page(&app, "/settings", &ada).await;
    assert!(listed.contains("<th scope=\"row\">ci</th>") && !listed.contains(&secret), "listed, the secret never again");

    let unnamed = post(&app, "/settings/keys", &ada, "name=+&role=editor").await;
    assert_eq!(unnamed.status, 422);
    assert!(unnamed.text().contains("<code>name</code>"), "{}", unnamed.text());
    let bad_role = post(&app, "/settings/keys", &ada, "name=x&role=owner").await;
    assert_eq!(bad_role.status, 422);
    assert!(bad_role.text().contains("<code>role</code>") && bad_role.text().contains("value=\"x\""), "{}", bad_role.text());

    let id = ci["id"].as_str().unwrap();
    let forged = send_form(&app, &format!("/settings/keys/{id}/revoke"), Some(&ada.cookie), "").await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.get("/v1/me", &secret).await.0, 200, "not revoked without the token");
    redirected(&post(&app, &format!("/settings/keys/{id}/revoke"), &ada, "").await, "/settings?done=revoked");
    assert_eq!(app.get("/v1/me", &secret).await.0, 401, "revoked");
    assert_eq!(post(&app, &format!("/settings/keys/{id}/revoke"), &ada, "").await.status, 404, "already gone");
}

#[tokio::test]
async fn the_watch_list_team_and_calendar_feed_change_from_the_page_and_non_admins_are_refused() {
    let (app, admin, _) = cafe().await;
    let ada = person(&app, &admin, "ada@cafe.example", "admin").await;

    redirected(&post(&app, "/settings/watchlist", &ada, &format!("terms={}", enc("refund\n  late delivery \n\nrefund"))).await, "/settings?done=watchlist");
    let (_, watch) = app.get("/v1/watchlist", &admin).await;
    assert_eq!(watch["terms"], json!(["refund", "late delivery"]), "{watch}");
    assert!(page(&app, "/settings", &ada).await.contains("refund\nlate delivery</textarea>"));

    redirected(&post(&app, "/settings/team", &ada, "name=Caf%C3%A9+du+Port&time_zone=America%2FMontreal&language=fr").await, "/settings?done=team");
    let (_, team) = app.get("/v1/team", &admin).await;
    assert_eq!((team["name"].as_str(), team["time_zone"].as_str(), team["language"].as_str()), (Some("Café du Port"), Some("America/Montreal"), Some("fr")), "{team}");
    let bad_zone = post(&app, "/settings/team", &ada, "name=X&time_zone=Nowhere&language=en").await;
    assert_eq!(bad_zone.status, 422);
    assert!(bad_zone.text().contains("<code>time_zone</code>") && bad_zone.text().contains("value=\"Nowhere\""), "{}", bad_zone.text());
    assert_eq!(app.get("/v1/team", &admin).await.1["name"], "Café du Port", "nothing changed");

    // The reports' look: a colour (too light is refused), white label, and the logo from a file.
    redirected(&post(&app, "/settings/team", &ada, "name=Caf%C3%A9+du+Port&time_zone=America%2FMontreal&language=fr&accent_color=%230f766e&white_label=on").await, "/settings?done=team");
    let (_, team) = app.get("/v1/team", &admin).await;
    assert_eq!((team["accent_color"].as_str(), team["white_label"].as_bool()), (Some("#0f766e"), Some(true)), "{team}");
    let pale = post(&app, "/settings/team", &ada, "name=X&time_zone=Europe%2FParis&language=en&accent_color=%23fef9c3").await;
    assert_eq!(pale.status, 422);
    assert!(pale.text().contains("<code>accent_color</code>") && pale.text().contains("too light"), "{}", pale.text());
    let logo: &[u8] = include_bytes!("fixtures/logo-cafe.png");
    redirected(&upload_logo(&app, &ada, &ada.csrf, Some(("image/png", logo)), &[]).await, "/settings?done=logo");
    let stored = app.raw(Method::GET, "/v1/team/logo", Some(&admin), None, None).await;
    assert_eq!((stored.status, stored.body.as_slice()), (200, logo), "the file's bytes are the team's logo");
    assert!(page(&app, "/settings", &ada).await.contains(r#"<img class="logo" src="/v1/team/logo""#));
    let svg = upload_logo(&app, &ada, &ada.csrf, Some(("image/svg+xml", b"<svg onload=alert(1)/>")), &[]).await;
    assert_eq!(svg.status, 422);
    assert!(svg.text().contains("<code>logo</code>") && svg.text().contains("SVG is not accepted"), "{}", svg.text());
    assert_eq!(upload_logo(&app, &ada, &ada.csrf, None, &[]).await.status, 422, "no file chosen");
    assert_eq!(upload_logo(&app, &ada, "forged", Some(("image/png", logo)), &[("remove", "1")]).await.status, 403, "no CSRF token, nothing changes");
    assert!(app.get("/v1/team", &admin).await.1["logo"].is_string(), "still there");
    redirected(&upload_logo(&app, &ada, &ada.csrf, None, &[("remove", "1")]).await, "/settings?done=logo");
    assert!(app.get("/v1/team", &admin).await.1["logo"].is_null(), "removed");

    let feed = shown_secret(&post(&app, "/settings/calendar-token", &ada, "").await);
    assert!(feed.starts_with("/v1/calendar.ics?token="), "{feed}");
    let ics = app.raw(Method::GET, &feed.replace("&amp;", "&"), None, None, None).await;
    assert_eq!(ics.status, 200, "the feed link works");
    let newer = shown_secret(&post(&app, "/settings/calendar-token", &ada, "").await);
    assert_ne!(newer, feed);
    assert_eq!(app.raw(Method::GET, &feed, None, None, None).await.status, 404, "the old link stops");

    // An editor may set the watch list, not the team, keys, invites or the feed; a viewer nothing.
    let lea = person(&app, &admin, "lea@cafe.example", "editor").await;
    let hers = page(&app, "/settings", &lea).await;
    assert!(hers.contains("Only admins see the members") && !hers.contains("ada@cafe.example"), "{hers}");
    redirected(&post(&app, "/settings/watchlist", &lea, "terms=refund").await, "/settings?done=watchlist");
    for (path, body) in [
        ("/settings/team", "name=Mine&time_zone=Europe%2FParis&language=en"),
        ("/settings/invites", "email=eve%40cafe.example&role=admin"),
        ("/settings/keys", "name=mine&role=admin"),
        ("/settings/calendar-token", ""),
    ] {
        let refused = post(&app, path, &lea, body).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.text());
        assert!(!refused.text().contains("class=\"secret\""), "{path}");
    }
    assert_eq!(upload_logo(&app, &lea, &lea.csrf, Some(("image/png", include_bytes!("fixtures/logo-cafe.png"))), &[]).await.status, 403, "an editor sets no logo");
    let vic = person(&app, &admin, "vic@cafe.example", "viewer").await;
    assert_eq!(post(&app, "/settings/watchlist", &vic, "terms=anything").await.status, 403);
    assert_eq!(send_form(&app, "/settings/watchlist", Some(&ada.cookie), "terms=forged").await.status, 403);
    let (_, watch) = app.get("/v1/watchlist", &admin).await;
    assert_eq!(watch["terms"], json!(["refund"]));
    let (_, team) = app.get("/v1/team", &admin).await;
    assert_eq!(team["name"], "Café du Port");
    let (_, keys) = app.get("/v1/keys", &admin).await;
    assert!(!keys.to_string().contains("mine"));
    assert_eq!(get(&app, "/settings", None).await.status, 401);
}
