//! The web app in a real browser (headless Chromium over WebDriver, tests/system/common/webdriver.rs):
//! what a person does, with a mouse or the keyboard, at a phone's and a laptop's width, each
//! screen checked for sideways overflow and by axe-core, screenshots kept.

use std::time::Duration;

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use herald_core::domain::Role;
use serde_json::{Value, json};

use crate::common::App;
use crate::common::webdriver::{Driver, LAPTOP, PHONE, Session, Site};

const PASSWORD: &str = "correct horse battery";

/// A café in Paris with a sandbox channel, and a person invited as `role` (the invite's link).
async fn cafe_with_invite(role: &str, email: &str) -> (App, String, String, String) {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, team) = app.patch("/v1/team", &admin, json!({"name": "Café du coin", "time_zone": "Europe/Paris"})).await;
    assert_eq!(status, 200, "{team}");
    let channel = app.sandbox(&admin, "Sandbox").await;
    let (status, invite) = app.post("/v1/invites", &admin, json!({"email": email, "role": role})).await;
    assert_eq!(status, 201, "{invite}");
    let link = invite["url"].as_str().expect("an invite link").to_owned();
    (app, admin, channel, link)
}

/// Joins through the invite page, as a person does.
async fn join(s: &Session, site: &Site, link: &str, name: &str, email: &str) {
    s.goto(&format!("{}{link}", site.url)).await;
    s.check_page("invite").await;
    s.fill("#name", name).await;
    s.fill("#email", email).await;
    s.fill("#password", PASSWORD).await;
    s.click("form.stack button[type=submit]").await;
    s.wait_until("return location.pathname === '/calendar'", "the calendar after joining").await;
}

async fn publish_at(app: &App, key: &str, post: &str) -> String {
    let (status, post) = app.get(&format!("/v1/posts/{post}"), key).await;
    assert_eq!(status, 200, "{post}");
    post["deliveries"][0]["publish_at"].as_str().expect("publish_at").to_owned()
}

#[tokio::test]
async fn a_person_joins_moves_a_post_by_dragging_and_by_keyboard_signs_out_and_back_in() {
    let Some(driver) = Driver::start().await else { return };
    let (app, admin, channel, link) = cafe_with_invite("editor", "lea@cafe.example").await;
    let post: Value = app
        .create(
            &admin,
            json!({"text": "Galette des rois all week", "channel_ids": [channel],
                   "publish_at": {"local": "2027-01-12T10:00:00", "time_zone": "Europe/Paris"}}),
        )
        .await;
    let id = post["id"].as_str().expect("post id").to_owned();
    let site = Site::start(&app).await;
    let s = driver.session(LAPTOP).await;

    join(&s, &site, &link, "Léa", "lea@cafe.example").await;
    s.goto(&format!("{}/calendar?month=2027-01", site.url)).await;
    s.check_page("calendar-month").await;

    // Drag the chip from Tuesday the 12th to Thursday the 14th: same time of day, new day.
    let chip = s.find(&format!("li.chip[data-post=\"{id}\"]")).await;
    let target = s.find("li.day[data-date=\"2027-01-14\"]").await;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element: chip, duration: None, x: 0.0, y: 0.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::MoveBy { duration: Some(Duration::from_millis(100)), x: 10.0, y: 0.0 })
        .then(PointerAction::MoveToElement { element: target, duration: Some(Duration::from_millis(300)), x: 0.0, y: 0.0 })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    s.client.perform_actions(drag).await.expect("dragging the chip");
    s.wait_until(
        &format!("var c = document.querySelector('li.chip[data-post=\"{id}\"]'); return !!c && c.closest('li.day').dataset.date === '2027-01-14'"),
        "the chip on the 14th after the page reloads",
    )
    .await;
    assert_eq!(publish_at(&app, &admin, &id).await, "2027-01-14T09:00:00Z", "10:00 in Paris on the 14th");

    // The keyboard's way: Tab to the chip's "Move" link, Enter, then the form.
    s.eval(&format!("document.querySelector('li.chip[data-post=\"{id}\"] a.move').focus(); return true")).await;
    s.find(&format!("li.chip[data-post=\"{id}\"] a.move")).await.send_keys("\u{E007}").await.expect("Enter on the link");
    s.wait_until("return location.pathname.startsWith('/calendar/move/')", "the move form").await;
    s.check_page("move").await;
    assert_eq!(s.find("#date").await.prop("value").await.expect("date").as_deref(), Some("2027-01-14"));
    assert_eq!(s.find("#time").await.prop("value").await.expect("time").as_deref(), Some("10:00"));
    s.eval("document.querySelector('#date').value = '2027-01-20'; document.querySelector('#time').value = '18:30'; return true").await;
    s.click("form.stack button[type=submit]").await;
    s.wait_until("return location.search === '?month=2027-01'", "back on the month").await;
    assert_eq!(publish_at(&app, &admin, &id).await, "2027-01-20T17:30:00Z");
    assert!(s.text("li.day[data-date=\"2027-01-20\"]").await.contains("Galette des rois"));

    // A time that does not exist in Paris (the spring gap) is refused, and nothing moves.
    s.goto(&format!("{}/calendar/move/{id}", site.url)).await;
    s.eval("document.querySelector('#date').value = '2027-03-28'; document.querySelector('#time').value = '02:30'; return true").await;
    s.click("form.stack button[type=submit]").await;
    let problem = s.text(".problem").await;
    assert!(problem.contains("publish_at"), "says which rule: {problem}");
    s.check_page("move-refused").await;
    assert_eq!(publish_at(&app, &admin, &id).await, "2027-01-20T17:30:00Z");

    // Sign out, and in again with the password chosen when joining.
    s.goto(&format!("{}/calendar", site.url)).await;
    s.click("form.signout button").await;
    s.wait_until("return location.pathname === '/sign-in'", "the sign-in page after signing out").await;
    s.check_page("sign-in").await;
    s.goto(&format!("{}/calendar", site.url)).await;
    assert!(s.body_text().await.contains("Not signed in"), "the session has ended");
    s.sign_in(&site, "lea@cafe.example", PASSWORD).await;
    s.close().await;
}

#[tokio::test]
async fn the_calendar_and_sign_in_fit_a_phone_and_pass_axe() {
    let Some(driver) = Driver::start().await else { return };
    let (app, admin, channel, link) = cafe_with_invite("admin", "sam@cafe.example").await;
    for (day, text) in [("2027-01-05T08:30:00", "Croissants are back"), ("2027-01-05T18:00:00", "Jazz night tonight")] {
        app.create(
            &admin,
            json!({"text": text, "channel_ids": [channel], "publish_at": {"local": day, "time_zone": "Europe/Paris"}}),
        )
        .await;
    }
    let site = Site::start(&app).await;
    let s = driver.session(PHONE).await;
    join(&s, &site, &link, "Sam", "sam@cafe.example").await;
    assert_eq!(s.eval("return document.documentElement.clientWidth").await, json!(PHONE), "a phone's width");
    s.goto(&format!("{}/calendar?month=2027-01", site.url)).await;
    s.check_page("calendar-month").await;
    s.goto(&format!("{}/calendar?week=2027-01-04", site.url)).await;
    s.check_page("calendar-week").await;
    assert!(s.body_text().await.contains("Jazz night tonight"));
    s.close().await;
}

/// The inbox with the keyboard, as in the inboxes people know: `j`/`k` move, `o` opens, `r`
/// goes to the reply box, the reply reaches the network, `e` closes.
#[tokio::test]
async fn an_editor_answers_the_inbox_with_the_keyboard() {
    use crate::web_inbox::{deliver, id_of, message, rig};
    let Some(driver) = Driver::start().await else { return };
    let rig = rig().await;
    deliver(&rig, message("c-1", "alice", "Are you open on Sunday?")).await;
    deliver(&rig, message("c-2", "bob", "Best croissants in town, thank you!")).await;
    let (older, newer) = (id_of(&rig, "c-1").await, id_of(&rig, "c-2").await);
    let site = Site::start(&rig.app).await;
    for width in [PHONE, LAPTOP] {
        let s = driver.session(width).await;
        let email = format!("ed{width}@cafe.example");
        join_as(&s, &site, &rig.app, &rig.admin, "editor", &email).await;
        s.goto(&format!("{}/inbox", site.url)).await;
        s.check_page("inbox").await;
        // j selects the first conversation of the list, j again the second; o opens it.
        let second = s.eval("return document.querySelectorAll('[data-inbox-item] a.open')[1].getAttribute('href')").await;
        let first = s.eval("return document.querySelectorAll('[data-inbox-item] a.open')[0].getAttribute('href')").await;
        press(&s, "j").await;
        s.wait_until(&format!("return document.activeElement.getAttribute('href') === {first}"), "the first selected").await;
        press(&s, "j").await;
        s.wait_until(&format!("return document.activeElement.getAttribute('href') === {second}"), "the second selected").await;
        press(&s, "o").await;
        s.wait_until(&format!("return location.pathname === {second}"), "the thread open").await;
        let (opened, external) = if second == json!(format!("/inbox/{older}")) { (older.clone(), "c-1") } else { (newer.clone(), "c-2") };
        s.check_page("inbox-thread").await;
        press(&s, "r").await;
        s.wait_until("return document.activeElement && document.activeElement.tagName === 'TEXTAREA'", "the reply box focused").await;
        let reply = format!("Yes, 8:00 to 13:00 ({width})");
        s.client.active_element().await.expect("the reply box").send_keys(&reply).await.expect("typing the reply");
        s.click("form[action$='/reply'] button[type=submit]").await;
        s.wait_until("return location.search.indexOf('done=') >= 0", "the thread after replying").await;
        assert!(rig.platform.0.lock().unwrap().iter().any(|(to, text)| to == external && *text == reply), "the reply reached the network");
        press(&s, "e").await;
        s.wait_until("return location.search.indexOf('done=closed') >= 0", "closed").await;
        let (_, thread) = rig.app.get(&format!("/v1/inbox/{opened}"), &rig.admin).await;
        assert_eq!(thread["interaction"]["status"], "closed", "{thread}");
        let (status, reopened) = rig.app.post(&format!("/v1/inbox/{opened}/reopen"), &rig.admin, json!({})).await;
        assert_eq!(status, 200, "{reopened}");
        s.close().await;
    }
}

/// Joins as `role` through the invite page in this browser.
async fn join_as(s: &Session, site: &Site, app: &App, admin: &str, role: &str, email: &str) {
    let (status, invite) = app.post("/v1/invites", admin, json!({"email": email, "role": role})).await;
    assert_eq!(status, 201, "{invite}");
    join(s, site, invite["url"].as_str().expect("an invite link"), "Test person", email).await;
}

/// Types `key` into whatever has the focus, as a person does.
async fn press(s: &Session, key: &str) {
    let focused = s.client.active_element().await.expect("the focused element");
    focused.send_keys(key).await.unwrap_or_else(|e| panic!("pressing {key}: {e}"));
}

/// The composer and approvals: a contributor writes a post in the composer (the server's
/// counters answering as they type), submits it for approval, an editor approves it from the
/// approvals screen, and it is on the calendar as scheduled, at the local time typed.
#[tokio::test]
async fn a_contributor_composes_an_editor_approves_and_the_post_is_on_the_calendar() {
    let Some(driver) = Driver::start().await else { return };
    let (app, admin, _channel, link) = cafe_with_invite("contributor", "kim@cafe.example").await;
    let site = Site::start(&app).await;

    let kim = driver.session(PHONE).await;
    join(&kim, &site, &link, "Kim", "kim@cafe.example").await;
    kim.goto(&format!("{}/compose", site.url)).await;
    kim.check_page("compose").await;
    kim.click("input[name=channel]").await;
    kim.fill("#text", "Galette des rois: order yours before Friday!").await;
    kim.wait_until(
        "var o = document.querySelector('#checks'); return !!o && /\\d+ \\/ \\d+/.test(o.textContent)",
        "the server's counters",
    )
    .await;
    // A picture from the device: announced, sent to its upload address, its reference put in
    // the first media row, whose description is asked for next.
    let picture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/system/fixtures/croissant.png");
    kim.find("#media_file").await.send_keys(&picture.display().to_string()).await.expect("a file chosen");
    kim.wait_until(
        "return /1 file uploaded/.test(document.querySelector('#upload-status').textContent)",
        "the upload",
    )
    .await;
    let reference = kim.find("#media_url_0").await.prop("value").await.expect("value").unwrap_or_default();
    assert!(reference.starts_with("herald-media:cafe/"), "{reference}");
    assert_eq!(kim.eval("return document.activeElement.id").await, json!("media_alt_0"), "the description is asked for next");
    kim.fill("#media_alt_0", "A golden galette on the counter").await;
    kim.eval("document.querySelector('#local').value = '2027-01-08T17:30'; return true").await;
    kim.check_page("compose-filled").await;
    kim.click("button[name=action][value=schedule]").await;
    kim.wait_until("return location.pathname === '/calendar'", "the calendar after submitting").await;
    let (status, listed) = app.get("/v1/posts?from=2027-01-01T00:00:00Z&to=2027-02-01T00:00:00Z", &admin).await;
    assert_eq!(status, 200);
    let post = listed["items"].as_array().and_then(|a| a.first()).cloned().expect("the post");
    let id = post["id"].as_str().expect("id").to_owned();
    assert_eq!(post["deliveries"][0]["state"], "pending_approval", "{post}");
    assert_eq!(post["deliveries"][0]["publish_at"], "2027-01-08T16:30:00Z", "17:30 in Paris");
    let size = std::fs::metadata(&picture).expect("the fixture").len();
    assert_eq!(
        post["media"],
        json!([{"url": reference, "alt": "A golden galette on the counter", "upload": {"content_type": "image/png", "bytes": size, "fetchable": false}}]),
        "{post}"
    );
    assert!(kim.text(&format!("li.chip[data-post=\"{id}\"]")).await.contains("pending approval"));
    kim.close().await;

    let (status, invite) = app.post("/v1/invites", &admin, json!({"email": "ed@cafe.example", "role": "editor"})).await;
    assert_eq!(status, 201);
    let ed = driver.session(LAPTOP).await;
    join(&ed, &site, invite["url"].as_str().expect("link"), "Ed", "ed@cafe.example").await;
    ed.goto(&format!("{}/approvals", site.url)).await;
    ed.check_page("approvals").await;
    let queue = ed.body_text().await;
    assert!(queue.contains("Galette des rois") && queue.contains("Kim"), "the post and its author's name, for an editor: {queue}");
    ed.click(&format!("form[action=\"/approvals/{id}/approve\"] button[type=submit]")).await;
    ed.wait_until("return location.search.indexOf('done=approved') >= 0", "approved").await;
    ed.check_page("approvals-done").await;
    let (_, post) = app.get(&format!("/v1/posts/{id}"), &admin).await;
    assert_eq!(post["deliveries"][0]["state"], "scheduled", "{post}");
    ed.goto(&format!("{}/calendar?month=2027-01", site.url)).await;
    let chip = ed.text(&format!("li.day[data-date=\"2027-01-08\"] li.chip[data-post=\"{id}\"]")).await;
    assert!(chip.contains("17:30") && chip.contains("scheduled"), "{chip}");
    // The chip's Edit link opens the composer on the post.
    ed.click(&format!("li.chip[data-post=\"{id}\"] a.edit")).await;
    ed.wait_until(&format!("return location.search === '?post={id}'"), "the composer on the post").await;
    assert_eq!(ed.find("#text").await.prop("value").await.expect("text").as_deref(), Some("Galette des rois: order yours before Friday!"));
    ed.check_page("compose-edit").await;
    ed.close().await;
}

/// Every screen of the web app, at a phone's and a laptop's width, as an admin with some of
/// everything to show: no sideways overflow and no serious or critical axe-core violation on
/// any of them; and a report opens from the reports screen.
#[tokio::test]
async fn every_screen_fits_a_phone_and_a_laptop_and_passes_axe() {
    let Some(driver) = Driver::start().await else { return };
    let (app, admin, channel, link) = cafe_with_invite("admin", "ada@cafe.example").await;
    app.create(
        &admin,
        json!({"text": "Soup of the day: pumpkin", "channel_ids": [channel],
               "publish_at": {"local": "2027-01-06T11:30:00", "time_zone": "Europe/Paris"}}),
    )
    .await;
    let contributor = app.key("cafe", Role::Contributor).await;
    let pending = app
        .create(
            &contributor,
            json!({"text": "Open mic on Thursday", "channel_ids": [channel],
                   "publish_at": {"local": "2027-01-07T18:00:00", "time_zone": "Europe/Paris"}}),
        )
        .await;
    let pending_id = pending["id"].as_str().expect("id").to_owned();
    let (status, report) = app.post("/v1/reports", &admin, json!({"from": "2026-12-28", "to": "2027-01-03"})).await;
    assert_eq!(status, 201, "{report}");
    let report_id = report["id"].as_str().expect("report id").to_owned();
    // The network refuses the channel's token: the Channels screen shows it with the network's words.
    {
        use herald_core::store::ChannelStore;
        let refused = app.store.channel_by_id(channel.parse().expect("a channel id")).await.expect("read").expect("the channel");
        let since = crate::common::utc("2027-01-04T07:12:00Z");
        let reason = "Error validating access token: Session has expired on Sunday, 03-Jan-27 (code 190, fbtrace_id AbC1)";
        assert!(herald_core::services::reconnect::mark(&*app.store, &refused, reason, since).await.expect("marked"));
        // An Instagram account beside it (put in the store as connecting would), so the composer
        // shows the first comment and Threads' reply control.
        let id = herald_core::domain::ChannelId::new();
        let creds = herald_core::crypto::Credentials::from_json("credentials", &json!({"ig_user_id": "17841", "access_token": "t"})).expect("credentials");
        let instagram = herald_core::domain::Channel {
            id,
            platform: herald_core::domain::Platform::Instagram,
            name: herald_core::domain::ChannelName::parse("name", "@cafeducoin").expect("a name"),
            credentials: Some(app.state.cipher.seal(id, &creds)),
            ..refused
        };
        app.store.create_channel(&instagram).await.expect("stored");
    }
    let site = Site::start(&app).await;

    for (i, width) in [PHONE, LAPTOP].into_iter().enumerate() {
        let s = driver.session(width).await;
        if i == 0 {
            join(&s, &site, &link, "Ada", "ada@cafe.example").await;
        } else {
            s.sign_in(&site, "ada@cafe.example", PASSWORD).await;
        }
        for (name, path) in [
            ("screen-calendar-month", "/calendar?month=2027-01".to_owned()),
            ("screen-calendar-week", "/calendar?week=2027-01-04".to_owned()),
            ("screen-move", format!("/calendar/move/{pending_id}")),
            ("screen-compose", "/compose".to_owned()),
            ("screen-compose-edit", format!("/compose?post={pending_id}")),
            ("screen-approvals", "/approvals".to_owned()),
            ("screen-inbox", "/inbox".to_owned()),
            ("screen-reports", "/reports".to_owned()),
            ("screen-channels", "/channels".to_owned()),
            ("screen-settings", "/settings".to_owned()),
        ] {
            s.goto(&format!("{}{path}", site.url)).await;
            assert!(!s.body_text().await.contains("not built yet"), "{path}");
            s.check_page(name).await;
        }
        // Open a report from the list: its own document, styled by its own policy.
        s.goto(&format!("{}/reports", site.url)).await;
        s.click(&format!("a[href=\"/reports/{report_id}\"]")).await;
        s.wait_until(&format!("return location.pathname === '/reports/{report_id}'"), "the report").await;
        let styled = s.eval("return getComputedStyle(document.body).fontFamily").await;
        assert_ne!(styled, json!("\"Times New Roman\""), "the report keeps its own styles: {styled}");
        s.check_page("screen-report").await;
        s.close().await;
    }
}

/// Connecting with OAuth in the browser, against the fake Meta consent screen and Graph API
/// (common/meta_oauth.rs): the Channels page's "Connect with Facebook" button, the page with
/// the link on, the consent screen sending the person back, the account picker, and the two
/// channels made. Each page at a phone's width, checked by axe-core.
#[tokio::test]
async fn an_admin_connects_a_page_and_its_instagram_account_with_oauth_in_the_browser() {
    use crate::common::meta_oauth::{FakeMetaOAuth, META_APP_ID, META_APP_SECRET};
    use herald_core::services::connect::ConnectConfig;
    let Some(driver) = Driver::start().await else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let fake = FakeMetaOAuth::start(&[format!("{url}/oauth/facebook/callback")]).await;
    let (mut app, admin, _channel, link) = cafe_with_invite("admin", "ada@cafe.example").await;
    let vars = [
        ("HERALD_PUBLIC_URL", url.clone()),
        ("HERALD_FACEBOOK_CLIENT_ID", META_APP_ID.to_owned()),
        ("HERALD_FACEBOOK_CLIENT_SECRET", META_APP_SECRET.to_owned()),
        ("HERALD_META_OAUTH_URL", format!("{}/v22.0", fake.url)),
        ("HERALD_META_GRAPH_URL", format!("{}/v22.0", fake.url)),
    ];
    let config = ConnectConfig::from_vars(
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()),
        herald_core::platforms::NetworkPolicy::AllowPrivate,
    )
    .expect("the connect configuration");
    app.state = app.state.clone().with_connect(config);
    app.router = herald_core::http::api_router(app.state.clone());
    let site = Site::start_on(listener, &app);

    let s = driver.session(PHONE).await;
    join(&s, &site, &link, "Ada", "ada@cafe.example").await;
    s.goto(&format!("{}/channels", site.url)).await;
    s.check_page("channels-connect").await;
    s.click("form[action=\"/channels/connect\"] input[value=facebook] ~ button").await;
    s.wait_until("return !!document.querySelector('#continue')", "the link to the consent screen").await;
    s.check_page("connect-continue").await;
    s.click("#continue").await;
    s.wait_until("return location.pathname.indexOf('/connect/') === 0", "the picker, back from the consent screen").await;
    s.check_page("connect-picker").await;
    let picker = s.body_text().await;
    assert!(picker.contains("Café du Coin") && picker.contains("instagram"), "the Page and its Instagram account: {picker}");
    s.eval("document.querySelectorAll('input[name=account]').forEach(function (b) { b.checked = true; }); return true").await;
    s.click("form.picker button[type=submit]").await;
    s.wait_until("return location.search.indexOf('done=connected') >= 0", "back on the channels").await;
    s.check_page("channels-connected").await;
    s.close().await;

    let (status, listed) = app.get("/v1/channels", &admin).await;
    assert_eq!(status, 200);
    let platforms: Vec<&str> = listed["items"].as_array().expect("items").iter().filter_map(|c| c["platform"].as_str()).collect();
    assert!(platforms.contains(&"facebook") && platforms.contains(&"instagram"), "{listed}");
}
