//! The composer (`/compose`, `/compose/check`) and the approvals screen (`/approvals`) from the
//! browser's side: people signed in with a session post the forms as a browser does
//! (`application/x-www-form-urlencoded`, the session's CSRF token in the `csrf` field), and what
//! they did is then read back through the JSON API.

use axum::body::Body;
use axum::http::{Method, Request};
use herald_core::web::CONTENT_SECURITY_POLICY;
use serde_json::{Value, json};

use crate::common::people::{Person, enc};
use crate::common::{App, Raw, cafe};


fn body_of(fields: &[(&str, &str)]) -> String {
    fields.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// Invites `email` as `role` and signs them in through the invite form.
async fn join(app: &App, admin: &str, email: &str, role: &str) -> Person {
    crate::common::people::join(app, admin, &format!("{role} person"), email, role).await
}

async fn get(app: &App, path: &str, session: &str) -> Raw {
    let req = Request::builder().method(Method::GET).uri(path).header("cookie", format!("herald_session={session}"));
    app.send(req.body(Body::empty()).unwrap()).await
}

/// Posts a form as `who`, with their CSRF token unless `csrf` is false.
async fn send(app: &App, who: &Person, path: &str, fields: &[(&str, &str)], csrf: bool) -> Raw {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    if csrf {
        all.insert(0, ("csrf", &who.csrf));
    }
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("herald_session={}", who.session))
        .body(Body::from(body_of(&all)))
        .unwrap();
    app.send(req).await
}

fn assert_security_headers(raw: &Raw, what: &str) {
    assert_headers(raw, what, CONTENT_SECURITY_POLICY);
}

/// The composer's page carries its own policy: the pages' one with `blob:` thumbnails (and, on
/// AWS, the media bucket's origin to upload to; none here).
fn assert_headers(raw: &Raw, what: &str, policy: &str) {
    assert_eq!(raw.header("content-security-policy"), Some(policy), "{what}");
    assert_eq!(raw.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(raw.header("referrer-policy"), Some("same-origin"), "{what}");
    assert_eq!(raw.header("x-frame-options"), Some("DENY"), "{what}");
}

/// Every post of the team the API lists, any state, over the next year.
async fn listed(app: &App, key: &str) -> Vec<Value> {
    let (status, page) = app.get("/v1/posts?from=2027-01-01T00:00:00Z&to=2028-01-01T00:00:00Z&limit=500", key).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// One network's part of a check fragment.
fn section<'a>(fragment: &'a str, network: &str) -> &'a str {
    fragment
        .split(&format!("aria-label=\"{network}\""))
        .nth(1)
        .and_then(|rest| rest.split("</section>").next())
        .unwrap_or_else(|| panic!("no {network} in {fragment}"))
}

/// The id after `/approvals/` in the first approve form of a page.
fn approve_action(html: &str) -> String {
    html.split("action=\"/approvals/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("an approve form: {html}"))
        .to_owned()
}

#[tokio::test]
async fn a_post_scheduled_from_the_form_is_in_the_api_at_its_paris_time() {
    let (app, admin, ch) = cafe().await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;

    let page = get(&app, "/compose", &lea.session).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let composer = herald_core::web::compose::policy(None);
    assert!(composer.contains("img-src 'self' data: blob:") && composer.contains("connect-src 'self';"), "{composer}");
    assert_headers(&page, "GET /compose", &composer);
    let html = page.text();
    assert!(html.contains(&format!("name=\"channel\" value=\"{ch}\"")), "a checkbox per channel: {html}");
    assert!(html.contains("type=\"datetime-local\"") && html.contains("Europe/Paris"), "a local time on the team's clock");
    assert!(html.contains("value=\"next_slot\""), "the next free slot");
    assert!(html.contains("name=\"rrule\""), "a recurrence");
    assert!(html.contains("aria-live=\"polite\""), "a live region for the counters");
    assert!(html.contains("/assets/compose."), "the composer's script");

    let done = send(
        &app,
        &lea,
        "/compose",
        &[
            ("text", "Croissants are back, 9:30 sharp"),
            ("channel", &ch),
            ("variant_sandbox", "Sandbox: croissants at 9:30"),
            ("media_url", "https://img.example/croissant.jpg"),
            ("media_alt", "A warm croissant on a plate"),
            ("media_url", ""),
            ("media_alt", ""),
            ("when", "at"),
            ("local", "2027-01-10T09:30"),
            ("rrule", ""),
            ("action", "schedule"),
        ],
        true,
    )
    .await;
    assert_eq!((done.status, done.header("location")), (303, Some("/calendar?month=2027-01")), "{}", done.text());
    assert_security_headers(&done, "the 303");

    let posts = listed(&app, &admin).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    let p = &posts[0];
    assert_eq!(p["text"], "Croissants are back, 9:30 sharp");
    assert_eq!(p["state"], "scheduled", "an editor schedules directly");
    assert_eq!(p["variants"]["sandbox"], "Sandbox: croissants at 9:30");
    assert_eq!(p["media"], json!([{"url": "https://img.example/croissant.jpg", "alt": "A warm croissant on a plate"}]));
    // 09:30 in Paris in January is 08:30 UTC.
    assert_eq!(p["deliveries"][0]["publish_at"], "2027-01-10T08:30:00Z", "{p}");

    // The calendar shows it on its day; the edit form opens it prefilled.
    let month = get(&app, "/calendar?month=2027-01", &lea.session).await.text();
    assert!(month.contains("Croissants are back"), "{month}");
    let id = p["id"].as_str().unwrap();
    let edit = get(&app, &format!("/compose?post={id}"), &lea.session).await;
    assert_eq!(edit.status, 200, "{}", edit.text());
    let edit = edit.text();
    assert!(edit.contains("value=\"2027-01-10T09:30\"") && edit.contains("Croissants are back, 9:30 sharp"), "{edit}");
    assert!(edit.contains(&format!("name=\"post\" value=\"{id}\"")));

    // A change from the form goes through the PATCH service: a new local time moves it.
    let moved = send(
        &app,
        &lea,
        "/compose",
        &[
            ("post", id),
            ("local_was", "2027-01-10T09:30"),
            ("text", "Croissants are back, 10:00 sharp"),
            ("channel", &ch),
            ("when", "at"),
            ("local", "2027-02-01T10:00"),
            ("action", "schedule"),
        ],
        true,
    )
    .await;
    assert_eq!((moved.status, moved.header("location")), (303, Some("/calendar?month=2027-02")), "{}", moved.text());
    let (_, p) = app.get(&format!("/v1/posts/{id}"), &admin).await;
    assert_eq!(p["text"], "Croissants are back, 10:00 sharp");
    assert_eq!(p["deliveries"][0]["publish_at"], "2027-02-01T09:00:00Z");
    assert_eq!(p["media"], json!([]), "the form's media replace the post's");

    // The next free slot and a recurrence are the API's own.
    let weekly = send(
        &app,
        &lea,
        "/compose",
        &[
            ("text", "Weekly menu"),
            ("channel", &ch),
            ("when", "at"),
            ("local", "2027-01-11T08:00"),
            ("rrule", "FREQ=WEEKLY;COUNT=3"),
            ("action", "schedule"),
        ],
        true,
    )
    .await;
    assert_eq!((weekly.status, weekly.header("location")), (303, Some("/calendar?month=2027-01")), "{}", weekly.text());
    let menus: Vec<_> = listed(&app, &admin).await.into_iter().filter(|p| p["text"] == "Weekly menu").collect();
    assert_eq!(menus.len(), 3, "one post per occurrence");
    let no_slots = send(&app, &lea, "/compose", &[("text", "Whenever"), ("channel", &ch), ("when", "next_slot"), ("action", "schedule")], true).await;
    assert_eq!(no_slots.status, 422, "the channel has no queue slots");
    assert!(no_slots.text().contains("has no queue slots"), "{}", no_slots.text());
}

#[tokio::test]
async fn a_too_long_bluesky_text_is_refused_naming_text_and_the_check_counts_it() {
    let (app, admin, _) = cafe().await;
    let sky = app.platform_channel(&admin, "bluesky", "@cafe.bsky.social").await;
    let masto = app.platform_channel(&admin, "mastodon", "@cafe@mastodon.example").await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;
    let long = "a".repeat(301);
    let fields = [
        ("text", long.as_str()),
        ("channel", sky.as_str()),
        ("channel", masto.as_str()),
        ("when", "at"),
        ("local", "2027-01-10T09:30"),
        ("action", "schedule"),
    ];

    let refused = send(&app, &lea, "/compose", &fields, true).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let html = refused.text();
    assert!(html.contains("role=\"alert\"") && html.contains("<code>text</code>"), "names the field: {html}");
    assert!(html.contains("text is 301 characters on Bluesky; the limit is 300 (graphemes)"), "{html}");
    assert!(html.contains(&long), "keeps the text");
    assert!(html.contains(&format!("value=\"{sky}\" data-network=\"bluesky\" checked")), "keeps the channels: {html}");
    assert!(html.contains("value=\"2027-01-10T09:30\""), "keeps the time");
    assert!(html.contains("301 / 300"), "the counters without the script");
    assert!(app.stored_calendar("cafe").await.is_empty(), "nothing saved");

    // The live check: the same words, per network, nothing saved.
    let check = send(&app, &lea, "/compose/check", &fields, true).await;
    assert_eq!(check.status, 200, "{}", check.text());
    assert_security_headers(&check, "/compose/check");
    let fragment = check.text();
    assert!(!fragment.contains("<html"), "a fragment: {fragment}");
    assert!(fragment.contains("aria-label=\"Bluesky\"") && fragment.contains("aria-label=\"Mastodon\""), "{fragment}");
    let bluesky = section(&fragment, "Bluesky");
    assert!(bluesky.contains("301 / 300"), "{bluesky}");
    assert!(bluesky.contains("text is 301 characters on Bluesky; the limit is 300 (graphemes)"), "{bluesky}");
    let mastodon = section(&fragment, "Mastodon");
    assert!(mastodon.contains("301 / 500") && mastodon.contains("takes this post"), "{mastodon}");
    assert!(fragment.contains("Preview on Bluesky"), "a preview");

    // A Bluesky variant: its own count, the main text still fits Mastodon; five media are too many there.
    let mut with_variant = fields.to_vec();
    with_variant[0] = ("text", "Short");
    with_variant.push(("variant_bluesky", "Bonjour Bluesky 🥐"));
    for _ in 0..5 {
        with_variant.push(("media_url", "https://img.example/a.jpg"));
        with_variant.push(("media_alt", ""));
    }
    let fragment = send(&app, &lea, "/compose/check", &with_variant, true).await.text();
    let bluesky = section(&fragment, "Bluesky");
    assert!(bluesky.contains("17 / 300") && bluesky.contains("its own text"), "{bluesky}");
    assert!(bluesky.contains("Bonjour Bluesky 🥐"), "the preview shows the variant");
    assert!(fragment.contains("<strong>media</strong>"), "too many media, named: {fragment}");
    assert!(app.stored_calendar("cafe").await.is_empty(), "a check saves nothing");

    // Without the CSRF token the check is refused too.
    assert_eq!(send(&app, &lea, "/compose/check", &fields, false).await.status, 403);

    // An intake-only channel (Herald reads LinkedIn but does not publish there yet): the live
    // check says so before the create call refuses it.
    let li = app.platform_channel(&admin, "linkedin", "Café du Coin").await;
    let mut with_li = fields.to_vec();
    with_li[0] = ("text", "Short");
    with_li.push(("channel", li.as_str()));
    let fragment = send(&app, &lea, "/compose/check", &with_li, true).await.text();
    let linkedin = section(&fragment, "LinkedIn");
    assert!(linkedin.contains("does not publish to LinkedIn yet") && !linkedin.contains("takes this post"), "{linkedin}");
    assert!(section(&fragment, "Mastodon").contains("takes this post"));
    let refused = send(&app, &lea, "/compose", &with_li, true).await;
    assert_eq!(refused.status, 422, "the create call refuses it too: {}", refused.text());
    assert!(refused.text().contains("intake-only"), "{}", refused.text());
}

/// The first comment and who may reply on Threads: shown where the team has a network that
/// takes them, refused as the API refuses them (naming the field, the form kept as typed), and
/// saved as the API saves them; the composer opened on the post shows them again.
#[tokio::test]
async fn a_first_comment_and_who_may_reply_go_from_the_form_to_the_api_and_a_refusal_keeps_them() {
    let (app, admin, ch) = cafe().await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;
    let html = get(&app, "/compose", &lea.session).await.text();
    assert!(!html.contains("id=\"first_comment\"") && !html.contains("id=\"reply_control\""), "a sandbox-only team has neither: {html}");

    let threads = app.platform_channel(&admin, "threads", "@cafeducoin").await;
    let html = get(&app, "/compose", &lea.session).await.text();
    assert!(html.contains("<label for=\"first_comment\">First comment (optional)</label>"), "{html}");
    assert!(html.contains("Instagram and Facebook: a comment under the post; Threads: a reply"), "{html}");
    assert!(html.contains("<label for=\"reply_control\">Who can reply on Threads</label>"), "{html}");
    assert!(html.contains("<option value=\"mentioned_only\">"), "{html}");

    let long = "t".repeat(501);
    let mut fields = vec![
        ("text", "Galette tonight"),
        ("channel", ch.as_str()),
        ("channel", threads.as_str()),
        ("first_comment", long.as_str()),
        ("reply_control", "followers_only"),
        ("when", "at"),
        ("local", "2027-01-10T09:30"),
        ("action", "schedule"),
    ];
    // The live check says it as the person types, naming the field.
    let fragment = send(&app, &lea, "/compose/check", &fields, true).await.text();
    assert!(fragment.contains("<strong>first_comment</strong>: channel &quot;@cafeducoin&quot; (threads): first reply is 501 characters on Threads"), "{fragment}");
    let sandbox_only = [("text", "Galette tonight"), ("channel", ch.as_str()), ("reply_control", "followers_only")];
    let fragment = send(&app, &lea, "/compose/check", &sandbox_only, true).await.text();
    assert!(fragment.contains("<strong>reply_control</strong>: only Threads"), "{fragment}");

    let refused = send(&app, &lea, "/compose", &fields, true).await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    let html = refused.text();
    assert!(html.contains("<code>first_comment</code>") && html.contains("href=\"#first_comment\""), "names the field: {html}");
    assert!(html.contains("first reply is 501 characters on Threads; the limit is 500"), "{html}");
    assert!(html.contains(&format!(">{long}</textarea>")), "keeps the comment");
    assert!(html.contains("<option value=\"followers_only\" selected>"), "keeps the choice: {html}");
    assert!(app.stored_calendar("cafe").await.is_empty(), "nothing saved");

    fields[3] = ("first_comment", "#galette #paris");
    let done = send(&app, &lea, "/compose", &fields, true).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let posts = listed(&app, &admin).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!((posts[0]["first_comment"].as_str(), posts[0]["reply_control"].as_str()), (Some("#galette #paris"), Some("followers_only")));

    // Opened again: both shown; emptied, both gone.
    let id = posts[0]["id"].as_str().unwrap().to_owned();
    let edit = get(&app, &format!("/compose?post={id}"), &lea.session).await.text();
    assert!(edit.contains(">#galette #paris</textarea>") && edit.contains("<option value=\"followers_only\" selected>"), "{edit}");
    let change = [
        ("post", id.as_str()),
        ("local_was", "2027-01-10T09:30"),
        ("text", "Galette tonight"),
        ("channel", ch.as_str()),
        ("channel", threads.as_str()),
        ("first_comment", " "),
        ("reply_control", ""),
        ("when", "at"),
        ("local", "2027-01-10T09:30"),
        ("action", "schedule"),
    ];
    let done = send(&app, &lea, "/compose", &change, true).await;
    assert_eq!(done.status, 303, "{}", done.text());
    let (_, post) = app.get(&format!("/v1/posts/{id}"), &admin).await;
    assert!(post.get("first_comment").is_none() && post.get("reply_control").is_none(), "{post}");
}

#[tokio::test]
async fn a_contributors_post_awaits_approval_and_an_editor_approves_it_from_the_page() {
    let (app, admin, ch) = cafe().await;
    let sam = join(&app, &admin, "sam@cafe.example", "contributor").await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;

    let form = get(&app, "/compose", &sam.session).await.text();
    assert!(form.contains("Submit for approval"), "a contributor submits: {form}");
    let sent = send(
        &app,
        &sam,
        "/compose",
        &[("text", "Jazz night on Friday"), ("channel", &ch), ("when", "at"), ("local", "2027-01-15T20:00"), ("action", "schedule")],
        true,
    )
    .await;
    assert_eq!(sent.status, 303, "{}", sent.text());
    let posts = listed(&app, &admin).await;
    assert_eq!(posts[0]["state"], "pending_approval", "{posts:?}");
    let id = posts[0]["id"].as_str().unwrap().to_owned();

    // The contributor sees the queue read-only, and may not approve.
    let theirs = get(&app, "/approvals", &sam.session).await;
    assert_eq!(theirs.status, 200);
    assert!(theirs.text().contains("Jazz night on Friday") && !theirs.text().contains("/approve\""), "{}", theirs.text());
    let refused = send(&app, &sam, &format!("/approvals/{id}/approve"), &[("version", "1")], true).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("only an editor or admin"), "{}", refused.text());

    // The editor sees it with its time on the team's clock and its author.
    let queue = get(&app, "/approvals", &lea.session).await;
    assert_eq!(queue.status, 200);
    assert_security_headers(&queue, "GET /approvals");
    let html = queue.text();
    assert!(html.contains("Jazz night on Friday"), "{html}");
    assert!(html.contains("datetime=\"2027-01-15T20:00:00+01:00\""), "{html}");
    assert!(html.contains("Sandbox"), "its channel");
    assert_eq!(approve_action(&html), id);
    let version = html
        .split("name=\"version\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("the version shown")
        .to_owned();

    // Without the CSRF token nothing happens.
    let forged = send(&app, &lea, &format!("/approvals/{id}/approve"), &[("version", &version)], false).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.get(&format!("/v1/posts/{id}"), &admin).await.1["state"], "pending_approval");

    let approved = send(&app, &lea, &format!("/approvals/{id}/approve"), &[("version", &version)], true).await;
    assert_eq!((approved.status, approved.header("location")), (303, Some("/approvals?done=approved")), "{}", approved.text());
    assert_security_headers(&approved, "the approval's 303");
    assert_eq!(app.get(&format!("/v1/posts/{id}"), &admin).await.1["state"], "scheduled");
    let after = get(&app, "/approvals?done=approved", &lea.session).await.text();
    assert!(after.contains("role=\"status\"") && after.contains("Approved"), "{after}");
    assert!(after.contains("Nothing awaits approval."), "{after}");

    // Approving again: the service's 409, on the page.
    let again = send(&app, &lea, &format!("/approvals/{id}/approve"), &[("version", &version)], true).await;
    assert_eq!(again.status, 409, "{}", again.text());
}

#[tokio::test]
async fn an_editor_sends_a_post_back_with_a_comment_its_author_sees_and_resubmits() {
    let (app, admin, ch) = cafe().await;
    let sam = join(&app, &admin, "sam@cafe.example", "contributor").await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;
    let sent = send(
        &app,
        &sam,
        "/compose",
        &[("text", "Jazz nite on Friday"), ("channel", &ch), ("when", "at"), ("local", "2027-01-15T20:00"), ("action", "schedule")],
        true,
    )
    .await;
    assert_eq!(sent.status, 303);
    let id = listed(&app, &admin).await[0]["id"].as_str().unwrap().to_owned();

    // An empty comment: the service's 422 naming it, nothing changed.
    let empty = send(&app, &lea, &format!("/approvals/{id}/reject"), &[("comment", "  ")], true).await;
    assert_eq!(empty.status, 422, "{}", empty.text());
    assert!(empty.text().contains("comment"), "{}", empty.text());
    assert_eq!(app.get(&format!("/v1/posts/{id}"), &admin).await.1["state"], "pending_approval");

    let back = send(&app, &lea, &format!("/approvals/{id}/reject"), &[("comment", "Spell “night” in full, please.")], true).await;
    assert_eq!((back.status, back.header("location")), (303, Some("/approvals?done=sent_back")), "{}", back.text());
    let (_, p) = app.get(&format!("/v1/posts/{id}"), &admin).await;
    assert_eq!(p["state"], "draft", "sent back as a draft");
    assert_eq!(p["review"]["comment"], "Spell “night” in full, please.");

    // The author opens the post in the composer and reads the comment.
    let edit = get(&app, &format!("/compose?post={id}"), &sam.session).await;
    assert_eq!(edit.status, 200, "{}", edit.text());
    let html = edit.text();
    assert!(html.contains("Sent back by an editor") && html.contains("Spell “night” in full, please."), "{html}");

    // Fixed and submitted again: awaiting approval, with the same time.
    let fixed = send(
        &app,
        &sam,
        "/compose",
        &[
            ("post", &id),
            ("local_was", "2027-01-15T20:00"),
            ("text", "Jazz night on Friday"),
            ("channel", &ch),
            ("when", "at"),
            ("local", "2027-01-15T20:00"),
            ("action", "schedule"),
        ],
        true,
    )
    .await;
    assert_eq!(fixed.status, 303, "{}", fixed.text());
    let (_, p) = app.get(&format!("/v1/posts/{id}"), &admin).await;
    assert_eq!((p["state"].as_str(), p["text"].as_str()), (Some("pending_approval"), Some("Jazz night on Friday")));
    assert_eq!(p["deliveries"][0]["publish_at"], "2027-01-15T19:00:00Z");
}

#[tokio::test]
async fn without_the_csrf_token_or_as_a_viewer_nothing_is_saved() {
    let (app, admin, ch) = cafe().await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;
    let vic = join(&app, &admin, "vic@cafe.example", "viewer").await;
    let fields = [("text", "Should not exist"), ("channel", ch.as_str()), ("when", "at"), ("local", "2027-01-10T09:30"), ("action", "schedule")];

    let forged = send(&app, &lea, "/compose", &fields, false).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert_security_headers(&forged, "the 403");
    let wrong = send(&app, &lea, "/compose", &[&[("csrf", "not-the-token")][..], &fields[..]].concat(), false).await;
    assert_eq!(wrong.status, 403);
    // Another person's token is not this session's.
    let crossed = send(&app, &lea, "/compose", &[&[("csrf", vic.csrf.as_str())][..], &fields[..]].concat(), false).await;
    assert_eq!(crossed.status, 403);

    let viewer = send(&app, &vic, "/compose", &fields, true).await;
    assert_eq!(viewer.status, 403, "{}", viewer.text());
    assert!(viewer.text().contains("viewer"), "the service's words: {}", viewer.text());
    assert!(viewer.text().contains("Should not exist"), "the form again, as typed");
    let draft = send(&app, &vic, "/compose", &[&fields[..4], &[("action", "draft")][..]].concat(), true).await;
    assert_eq!(draft.status, 403);
    assert!(app.stored_calendar("cafe").await.is_empty(), "nothing saved");

    // A contributor's post: the viewer sees it in the queue, read-only, and may not send it back.
    let sam = join(&app, &admin, "sam@cafe.example", "contributor").await;
    let sent = send(&app, &sam, "/compose", &[("text", "Pending one"), ("channel", &ch), ("when", "at"), ("local", "2027-01-10T09:30"), ("action", "schedule")], true).await;
    assert_eq!(sent.status, 303);
    let id = listed(&app, &admin).await[0]["id"].as_str().unwrap().to_owned();
    let queue = get(&app, "/approvals", &vic.session).await;
    assert_eq!(queue.status, 200);
    assert!(queue.text().contains("Pending one") && !queue.text().contains("Send back</button>"), "{}", queue.text());
    let refused = send(&app, &vic, &format!("/approvals/{id}/reject"), &[("comment", "no")], true).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let refused = send(&app, &vic, &format!("/approvals/{id}/approve"), &[("version", "1")], true).await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let forged = send(&app, &lea, &format!("/approvals/{id}/reject"), &[("comment", "no")], false).await;
    assert_eq!(forged.status, 403);
    assert_eq!(app.get(&format!("/v1/posts/{id}"), &admin).await.1["state"], "pending_approval", "nothing changed");

    // A stranger is sent to sign in.
    let stranger = app.send(Request::builder().uri("/compose").body(Body::empty()).unwrap()).await;
    assert_eq!(stranger.status, 401);
    let stranger = app.send(Request::builder().uri("/approvals").body(Body::empty()).unwrap()).await;
    assert_eq!(stranger.status, 401);
    // A post that is not one is a 404 page.
    let missing = get(&app, "/compose?post=nope", &lea.session).await;
    assert_eq!(missing.status, 404);
    assert_security_headers(&missing, "the 404");
}

/// The composer (refused, with its counters) and the approvals queue fit a phone and a laptop.
#[tokio::test]
async fn the_composer_and_the_approvals_fit_a_phone_and_a_laptop_in_chromium() {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let (app, admin, ch) = cafe().await;
    let sky = app.platform_channel(&admin, "bluesky", "@boulangerie-du-marche-saint-germain.bsky.social").await;
    // A Threads channel: the first comment and who may reply are on the page (and under axe).
    app.platform_channel(&admin, "threads", "@cafeducoin").await;
    let sam = join(&app, &admin, "sam@cafe.example", "contributor").await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;
    let long = format!("{} https://boulangerie.example/galette-des-rois-frangipane-pommes-caramelisees-reservation", "Galette des rois ! ".repeat(16));
    let refused = send(
        &app,
        &lea,
        "/compose",
        &[("text", &long), ("channel", &ch), ("channel", &sky), ("variant_sandbox", "Galette"), ("first_comment", "#galette #frangipane"), ("reply_control", "mentioned_only"), ("when", "at"), ("local", "2027-01-10T09:30"), ("action", "schedule")],
        true,
    )
    .await;
    assert_eq!(refused.status, 422, "{}", refused.text());
    assert!(refused.text().contains(">#galette #frangipane</textarea>"), "the first comment is kept");
    let sent = send(
        &app,
        &sam,
        "/compose",
        &[("text", &long[..120]), ("channel", &ch), ("when", "at"), ("local", "2027-01-15T20:00"), ("action", "schedule")],
        true,
    )
    .await;
    assert_eq!(sent.status, 303, "{}", sent.text());
    let queue = get(&app, "/approvals", &lea.session).await;
    assert_eq!(queue.status, 200);
    let id = approve_action(&queue.text());
    let back = send(&app, &lea, &format!("/approvals/{id}/reject"), &[("comment", "Shorter, please: and say the price.")], true).await;
    assert_eq!(back.status, 303);
    let edit = get(&app, &format!("/compose?post={id}"), &sam.session).await;
    assert_eq!(edit.status, 200);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    for asset in herald_core::web::assets::all() {
        std::fs::write(dir.join("assets").join(&asset.name), asset.body).unwrap();
    }
    for (name, page) in [("compose-refused", refused.text()), ("approvals-queue", queue.text()), ("compose-sent-back", edit.text())] {
        let page = page.replace("\"/assets/", "\"assets/");
        for width in [390, 1280] {
            let seen = browser.inspect(&page, width, &dir, name);
            assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
            eprintln!("{name} at {width} px: fine, screenshot {}", seen.screenshot.display());
        }
    }
}

/// Types in the composer (loaded after compose.js; the test adds it to the page): ticks the
/// Bluesky channel, types 301 characters, and when `#checks` shows the server's answer, copies
/// it into `#driver-done` for the DOM dump.
const DRIVER: &str = r#"'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var sky = document.querySelector('input[data-network="bluesky"]');
  sky.checked = true;
  sky.dispatchEvent(new Event('change', { bubbles: true }));
  var text = document.getElementById('text');
  text.value = 'a'.repeat(301);
  text.dispatchEvent(new Event('input', { bubbles: true }));
  var tries = 0;
  var timer = setInterval(function () {
    var region = document.getElementById('checks');
    if (region.textContent.indexOf('301 / 300') >= 0 || ++tries > 80) {
      clearInterval(timer);
      var pre = document.createElement('pre');
      pre.id = 'driver-done';
      var sandbox = document.querySelector('.variant[data-network="sandbox"]');
      var bluesky = document.querySelector('.variant[data-network="bluesky"]');
      pre.textContent = 'sandbox hidden=' + sandbox.hidden + ' bluesky hidden=' + bluesky.hidden + ' CHECKS ' + region.innerHTML;
      document.body.appendChild(pre);
    }
  }, 100);
});
"#;

/// compose.js in Chromium, over HTTP from the real router: typing asks `/compose/check` and the
/// counters the server computed replace the region; the text boxes of networks not chosen hide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_shows_the_servers_counters_in_chromium() {
    use axum::http::HeaderValue;
    use axum::http::header::{CONTENT_TYPE, COOKIE};
    use axum::response::Response;

    let Some(_browser) = crate::common::browser::Browser::find() else { return };
    let (app, admin, _) = cafe().await;
    app.platform_channel(&admin, "bluesky", "@cafe.bsky.social").await;
    let lea = join(&app, &admin, "lea@cafe.example", "editor").await;

    // Chromium's command line sets no cookie: a layer gives every request Léa's session. Another
    // adds the driver script to the composer's page (a script of this origin, as the CSP wants).
    let cookie = HeaderValue::from_str(&format!("herald_session={}", lea.session)).unwrap();
    let router = app
        .router
        .clone()
        .route("/__test/driver.js", axum::routing::get(|| async { ([(CONTENT_TYPE, "text/javascript")], DRIVER) }))
        .layer(axum::middleware::map_response(|resp: Response| async move {
            let html = resp.headers().get(CONTENT_TYPE).is_some_and(|c| c.as_bytes().starts_with(b"text/html"));
            if !html {
                return resp;
            }
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let page = String::from_utf8_lossy(&bytes).replace("</head>", "<script src=\"/__test/driver.js\" defer></script></head>");
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(page))
        }))
        .layer(axum::middleware::map_request(move |mut req: Request<Body>| {
            let cookie = cookie.clone();
            async move {
                req.headers_mut().insert(COOKIE, cookie);
                req
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let exe = std::env::var_os("HERALD_CHROMIUM").unwrap_or_else(|| "chromium".into());
    let out = tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(exe);
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(["--dump-dom", "--virtual-time-budget=15000"])
            .arg(format!("http://{address}/compose"));
        crate::common::process::output_within(&mut command, std::time::Duration::from_secs(60))
    })
    .await
    .unwrap();
    server.abort();
    let dom = String::from_utf8_lossy(&out.stdout);
    let done = dom
        .split("<pre id=\"driver-done\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| panic!("the driver did not finish: {dom}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(done.contains("301 / 300"), "the server's count: {done}");
    assert!(done.contains("text is 301 characters on Bluesky; the limit is 300 (graphemes)"), "{done}");
    assert!(done.contains("sandbox hidden=true bluesky hidden=false"), "{done}");
    assert!(app.stored_calendar("cafe").await.is_empty(), "checking saves nothing");
}
