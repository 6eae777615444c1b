//! The web app's Inbox screen (`/inbox`, `/inbox/{id}`, shared/src/web/inbox.rs), in process
//! through the API's router: interactions arrive by signed webhook on a `generic` channel (as in
//! api_inbox), people sign in through the invite form and work the inbox with form posts
//! carrying the session cookie and the CSRF field; every change is then read back through the
//! JSON API, and the platform (a recording fake) sees exactly the replies sent.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request};
use chrono::Duration;
use herald_core::crypto::Credentials;
use herald_core::domain::{Channel, ChannelId, Incident, IncidentId, Interaction, Platform, Role, TeamId};
use herald_core::platforms::{Adapters, InboxAdapter, Polled, PublishError, Published};
use herald_core::store::IncidentStore;
use herald_core::web::{CONTENT_SECURITY_POLICY, assets};
use herald_core::webhooks::StandardWebhooks;
use serde_json::{Value, json};

use crate::common::people::Person;
use crate::common::{App, Raw, t0};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The platform at the port: records replies; refuses the text "revoked" (a 502) and is
/// down for "down" (a 503, retry in 30 s).
#[derive(Default)]
pub(crate) struct RecordingInbox(pub(crate) Mutex<Vec<(String, String)>>);

#[async_trait]
impl InboxAdapter for RecordingInbox {
    async fn poll(&self, _: &Channel, _: &Credentials, _: Option<&str>) -> Result<Polled, PublishError> {
        Ok(Polled::default())
    }

    async fn reply(&self, _: &Channel, _: &Credentials, to: &Interaction, text: &str) -> Result<Published, PublishError> {
        if text == "revoked" {
            return Err(PublishError::Auth { reason: "the token was revoked".into() });
        }
        if text == "down" {
            return Err(PublishError::Transient { reason: "the instance is down".into(), retry_after: Some(std::time::Duration::from_secs(30)) });
        }
        self.0.lock().unwrap().push((to.external_id.clone(), text.to_owned()));
        Ok(Published { platform_post_id: "r-1".into(), url: Some("https://example.social/r-1".into()), published_at: None })
    }
}

pub(crate) struct Rig {
    pub(crate) app: App,
    pub(crate) admin: String,
    channel: String,
    pub(crate) platform: Arc<RecordingInbox>,
}

/// Team `cafe` with an admin key and a `generic` channel named "CRM" whose replies the
/// recording fake takes.
pub(crate) async fn rig() -> Rig {
    let platform = Arc::new(RecordingInbox::default());
    let app = App::with_adapters(Adapters::default().with_inbox(Platform::Generic, platform.clone()));
    let admin = app.key("cafe", Role::Admin).await;
    let channel = app
        .channel(&admin, json!({"platform": "generic", "name": "CRM", "time_zone": "Europe/Paris", "credentials": {"webhook_secret": SECRET}}))
        .await;
    Rig { app, admin, channel, platform }
}

/// Delivers one interaction by signed webhook (written 5 s before the app's clock).
pub(crate) async fn deliver(rig: &Rig, mut body: Value) {
    let now = rig.app.state.clock.now();
    body["created_at"] = json!((now - Duration::seconds(5)).to_rfc3339());
    let bytes = body.to_string().into_bytes();
    let msg = format!("msg_{}", body["id"].as_str().unwrap());
    let signature = StandardWebhooks::new(SECRET).unwrap().sign(&msg, now.timestamp(), &bytes);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/webhooks/generic/{}", rig.channel))
        .header("content-type", "application/json")
        .header("webhook-id", msg)
        .header("webhook-timestamp", now.timestamp().to_string())
        .header("webhook-signature", signature)
        .body(Body::from(bytes))
        .unwrap();
    let raw = rig.app.send(req).await;
    assert_eq!(raw.status, 200, "{}", raw.text());
    assert_eq!(raw.json()["created"], 1, "{}", raw.text());
}

pub(crate) fn message(id: &str, author: &str, text: &str) -> Value {
    json!({"kind": "comment", "id": id, "author": {"id": author, "name": author}, "text": text, "created_at": t0()})
}

/// The id of the interaction `external_id`, through the JSON API (any status).
pub(crate) async fn id_of(rig: &Rig, external_id: &str) -> String {
    for status in ["open", "assigned", "answered", "closed"] {
        let (code, page) = rig.app.get(&format!("/v1/inbox?status={status}&limit=500"), &rig.admin).await;
        assert_eq!(code, 200, "{page}");
        if let Some(it) = page["items"].as_array().unwrap().iter().find(|i| i["external_id"] == external_id) {
            return it["id"].as_str().unwrap().to_owned();
        }
    }
    panic!("no interaction {external_id}")
}

async fn api_thread(rig: &Rig, id: &str) -> Value {
    let (status, thread) = rig.app.get(&format!("/v1/inbox/{id}"), &rig.admin).await;
    assert_eq!(status, 200, "{thread}");
    thread
}

/// Invites `email` as `role` and signs them in through the invite form.
async fn join(rig: &Rig, name: &str, email: &str, role: &str) -> Person {
    crate::common::people::join(&rig.app, &rig.admin, name, email, role).await
}

async fn get(app: &App, path: &str, cookie: Option<&str>) -> Raw {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("herald_session={c}"));
    }
    app.send(req.body(Body::empty()).unwrap()).await
}

async fn form(app: &App, path: &str, cookie: Option<&str>, body: &str) -> Raw {
    let mut req = Request::builder().method(Method::POST).uri(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header("cookie", format!("herald_session={c}"));
    }
    app.send(req.body(Body::from(body.to_owned())).unwrap()).await
}

/// A form post as `who`'s browser sends it: the cookie, the CSRF field, then `fields`.
async fn post_as(app: &App, who: &Person, path: &str, fields: &str) -> Raw {
    let body = if fields.is_empty() { format!("csrf={}", who.csrf) } else { format!("csrf={}&{fields}", who.csrf) };
    form(app, path, Some(&who.session), &body).await
}

/// The page as `who` sees it, asserting 200 and HTML.
async fn html(app: &App, path: &str, who: &Person) -> String {
    let raw = get(app, path, Some(&who.session)).await;
    assert_eq!(raw.status, 200, "{path}: {}", raw.text());
    assert_eq!(raw.content_type.as_deref(), Some("text/html; charset=utf-8"));
    raw.text()
}

/// The `<li>` of the list item by `author`.
fn item<'a>(html: &'a str, author: &str) -> &'a str {
    html.split("<li class=\"inbox-item")
        .skip(1)
        .map(|s| s.split("</li>").next().unwrap())
        .find(|s| s.contains(&format!("<span class=\"author\">{author}</span>")))
        .unwrap_or_else(|| panic!("no item by {author}:\n{html}"))
}

fn authors(html: &str) -> Vec<String> {
    html.split("<span class=\"author\">").skip(1).map(|s| s.split('<').next().unwrap().to_owned()).collect()
}

fn assert_security_headers(raw: &Raw, what: &str) {
    assert_eq!(raw.header("content-security-policy"), Some(CONTENT_SECURITY_POLICY), "{what}");
    assert_eq!(raw.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(raw.header("referrer-policy"), Some("same-origin"), "{what}");
    assert_eq!(raw.header("x-frame-options"), Some("DENY"), "{what}");
}

/// Three interactions: a happy comment, an angry one, a DM with a watch-list tag.
async fn seeded() -> (Rig, Person) {
    let rig = rig().await;
    let (status, _) =
        rig.app.call(Method::PUT, "/v1/watchlist", Some(&rig.admin), Some(json!({"terms": ["#brunch"]}).to_string())).await;
    assert_eq!(status, 200);
    deliver(&rig, message("a", "Alice", "I love this place, best coffee in town")).await;
    deliver(&rig, message("b", "Bruno", "Terrible service, cold coffee and rude staff. Never again.")).await;
    let mut dm = message("d", "Chloé", "Do you open on Sundays for #brunch?");
    dm["kind"] = json!("direct_message");
    deliver(&rig, dm).await;
    let person = join(&rig, "Marie", "marie@cafe.example", "contributor").await;
    (rig, person)
}

#[tokio::test]
async fn the_list_shows_each_interaction_with_its_sentiment_and_time_on_the_teams_clock_and_filters_narrow_it() {
    let (rig, marie) = seeded().await;
    let all = html(&rig.app, "/inbox", &marie).await;
    assert!(all.contains("<h1>Inbox</h1>"), "{all}");
    assert_eq!(authors(&all).len(), 3, "{all}");

    let alice = item(&all, "Alice");
    // Received at the app's clock, 07:00 UTC: 08:00 in Paris.
    assert!(alice.contains("<time datetime=\"2027-01-04T08:00:00+01:00\">Mon 4 Jan 2027 08:00</time>"), "{alice}");
    assert!(alice.contains("class=\"sentiment sent-positive\"") && alice.contains("positive</span>"), "in words and colour: {alice}");
    assert!(alice.contains("CRM (generic)") && alice.contains("comment"), "{alice}");
    assert!(alice.contains("I love this place, best coffee in town"), "{alice}");
    assert!(alice.contains("<span class=\"status st-open\">Open</span>"), "{alice}");
    let id = id_of(&rig, "a").await;
    assert!(alice.contains(&format!("href=\"/inbox/{id}\"")), "{alice}");
    let bruno = item(&all, "Bruno");
    assert!(bruno.contains("sent-negative") && bruno.contains("negative</span>"), "{bruno}");
    let chloe = item(&all, "Chloé");
    assert!(chloe.contains("direct message") && chloe.contains("<span class=\"tag\">#brunch</span>"), "{chloe}");
    assert!(all.contains("Europe/Paris"), "the page says which clock it shows");

    // Filters: the API's, by the same names, as a GET form; an empty choice is "all".
    assert!(all.contains("method=\"get\" action=\"/inbox\""), "{all}");
    assert_eq!(authors(&html(&rig.app, "/inbox?sentiment=negative", &marie).await), vec!["Bruno"]);
    assert_eq!(authors(&html(&rig.app, "/inbox?kind=direct_message&sentiment=", &marie).await), vec!["Chloé"]);
    assert_eq!(authors(&html(&rig.app, "/inbox?tag=%23brunch", &marie).await), vec!["Chloé"]);
    let mut coffee = authors(&html(&rig.app, "/inbox?q=COFFEE", &marie).await);
    coffee.sort();
    assert_eq!(coffee, vec!["Alice", "Bruno"]);
    let channel = html(&rig.app, &format!("/inbox?channel_id={}&kind=&q=", rig.channel), &marie).await;
    assert_eq!(authors(&channel).len(), 3);
    assert!(channel.contains(&format!("<option value=\"{}\" selected>", rig.channel)), "the form shows the filter");
    let other = html(&rig.app, &format!("/inbox?channel_id={}", ChannelId::new()), &marie).await;
    assert!(authors(&other).is_empty() && other.contains("Nothing open with these filters."), "{other}");
    let closed = html(&rig.app, "/inbox?status=closed", &marie).await;
    assert!(authors(&closed).is_empty() && closed.contains("<option value=\"closed\" selected>"), "{closed}");

    // A filter that does not read is the API's 422, naming it, as a page.
    let bad = get(&rig.app, "/inbox?sentiment=angry", Some(&marie.session)).await;
    assert_eq!(bad.status, 422, "{}", bad.text());
    assert!(bad.text().contains("<code>sentiment</code>"), "{}", bad.text());
    assert_security_headers(&bad, "a refused filter");
}

#[tokio::test]
async fn the_list_pages_with_the_apis_cursor_and_keeps_its_filters() {
    let rig = rig().await;
    for i in 0..27 {
        deliver(&rig, message(&format!("m-{i}"), &format!("Guest {i:02}"), "Is the terrace open today?")).await;
        rig.app.clock.advance(Duration::minutes(1));
    }
    let who = join(&rig, "Marie", "marie@cafe.example", "contributor").await;
    let first = html(&rig.app, "/inbox?sentiment=&q=terrace", &who).await;
    let on_first = authors(&first);
    assert_eq!(on_first.len(), 25, "a page of 25");
    let older = first
        .split("<a href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with("/inbox?") && h.contains("cursor="))
        .expect("an Older link")
        .replace("&amp;", "&");
    assert!(older.contains("q=terrace"), "the link keeps the filters: {older}");
    assert!(first.contains("Older →"));
    let second = html(&rig.app, &older, &who).await;
    let on_second = authors(&second);
    assert_eq!(on_second.len(), 2, "{second}");
    assert!(on_second.iter().all(|a| !on_first.contains(a)), "each once: {on_first:?} {on_second:?}");
    assert!(!second.contains("Older →") && second.contains("← Newest"), "{second}");
    // A cursor the API did not give is its 422.
    assert_eq!(get(&rig.app, "/inbox?cursor=nope", Some(&who.session)).await.status, 422);
}

#[tokio::test]
async fn the_thread_page_shows_the_conversation_and_its_forms_work_it_through_the_api() {
    let (rig, marie) = seeded().await;
    // A follow-up of Alice's in the same conversation.
    rig.app.clock.advance(Duration::minutes(3));
    let mut follow = message("a2", "Alice", "Also: do you have oat milk?");
    follow["thread_id"] = json!("a");
    follow["parent_id"] = json!("a");
    deliver(&rig, follow).await;
    let id = id_of(&rig, "a").await;
    let path = format!("/inbox/{id}");

    let page = html(&rig.app, &path, &marie).await;
    assert!(page.contains("<h1>Alice</h1>"), "{page}");
    let first = page.find("I love this place").expect("the first message");
    let second = page.find("Also: do you have oat milk?").expect("the follow-up");
    assert!(first < second, "oldest first");
    assert!(page.contains("<textarea id=\"reply-text\" name=\"text\""), "{page}");
    assert!(page.contains("id=\"close-form\""), "{page}");
    assert!(page.contains(&assets::INBOX_JS.path()), "the screen's script");
    assert!(page.contains("Keyboard: r reply · e close"), "{page}");
    assert!(page.contains("<input type=\"hidden\" name=\"csrf\""), "every form carries the token");

    // Reply: the platform gets it; the API shows it answered with the reply kept.
    let sent = post_as(&rig.app, &marie, &format!("{path}/reply"), "text=Yes%2C+oat+milk+too+%F0%9F%A5%9B").await;
    assert_eq!((sent.status, sent.header("location")), (303, Some(&*format!("{path}?done=replied"))), "{}", sent.text());
    assert_security_headers(&sent, "a form's redirect");
    assert_eq!(*rig.platform.0.lock().unwrap(), vec![("a".to_owned(), "Yes, oat milk too 🥛".to_owned())]);
    let thread = api_thread(&rig, &id).await;
    assert_eq!(thread["interaction"]["status"], "answered", "{thread}");
    assert!(thread["interaction"]["notes"][0]["text"].as_str().unwrap().contains("Yes, oat milk too"), "{thread}");
    let after = html(&rig.app, &format!("{path}?done=replied"), &marie).await;
    assert!(after.contains("<p class=\"notice\" role=\"status\">Reply sent.</p>"), "{after}");
    assert!(after.contains("Our reply") && after.contains("Yes, oat milk too 🥛") && after.contains("by you"), "{after}");
    assert!(!html(&rig.app, &format!("{path}?done=%3Cb%3Ehi"), &marie).await.contains("&lt;b&gt;hi"), "only known notices");

    // Assign by name (a contributor types it), then to themselves.
    let assigned = post_as(&rig.app, &marie, &format!("{path}/assign"), "assignee=Paul").await;
    assert_eq!((assigned.status, assigned.header("location")), (303, Some(&*format!("{path}?done=assigned"))));
    assert_eq!(api_thread(&rig, &id).await["interaction"]["assignee"], "Paul");
    let to_me = post_as(&rig.app, &marie, &format!("{path}/assign"), "me=true").await;
    assert_eq!(to_me.status, 303, "{}", to_me.text());
    assert_eq!(api_thread(&rig, &id).await["interaction"]["assignee"], "Marie");
    assert!(html(&rig.app, &path, &marie).await.contains("Assigned to Marie"));

    // An internal note.
    let noted = post_as(&rig.app, &marie, &format!("{path}/note"), "text=Regular%2C+knows+Paul").await;
    assert_eq!((noted.status, noted.header("location")), (303, Some(&*format!("{path}?done=noted"))));
    let notes = api_thread(&rig, &id).await["interaction"]["notes"].clone();
    assert_eq!(notes.as_array().unwrap().len(), 2);
    assert_eq!(notes[1]["text"], "Regular, knows Paul");
    let page = html(&rig.app, &path, &marie).await;
    assert!(page.contains("Internal note") && page.contains("Regular, knows Paul"), "{page}");

    // Close, then reopen (back to its assignee).
    let closed = post_as(&rig.app, &marie, &format!("{path}/close"), "").await;
    assert_eq!((closed.status, closed.header("location")), (303, Some(&*format!("{path}?done=closed"))));
    assert_eq!(api_thread(&rig, &id).await["interaction"]["status"], "closed");
    let page = html(&rig.app, &path, &marie).await;
    assert!(page.contains(&format!("action=\"{path}/reopen\"")) && !page.contains("id=\"close-form\""), "{page}");
    let reopened = post_as(&rig.app, &marie, &format!("{path}/reopen"), "").await;
    assert_eq!(reopened.status, 303);
    assert_eq!(api_thread(&rig, &id).await["interaction"]["status"], "assigned");

    // An unknown interaction is a 404 page.
    let missing = get(&rig.app, "/inbox/00000000-0000-4000-8000-000000000000", Some(&marie.session)).await;
    assert_eq!(missing.status, 404);
    assert_eq!(get(&rig.app, "/inbox/not-an-id", Some(&marie.session)).await.status, 404);
}

#[tokio::test]
async fn a_refused_change_shows_the_thread_again_with_why_and_what_was_typed_and_changes_nothing() {
    let (rig, marie) = seeded().await;
    let id = id_of(&rig, "b").await;
    let path = format!("/inbox/{id}");

    // An empty reply: the service's 422, on the thread, nothing sent.
    let empty = post_as(&rig.app, &marie, &format!("{path}/reply"), "text=+++").await;
    assert_eq!(empty.status, 422, "{}", empty.text());
    let text = empty.text();
    assert!(text.contains("<div class=\"problem\" role=\"alert\">") && text.contains("5000 characters"), "{text}");
    assert!(text.contains("<h1>Bruno</h1>") && text.contains("Terrible service"), "the thread again: {text}");
    assert!(rig.platform.0.lock().unwrap().is_empty(), "nothing sent");
    let thread = api_thread(&rig, &id).await;
    assert_eq!((thread["interaction"]["status"].as_str(), thread["interaction"]["notes"].as_array().map(Vec::len)), (Some("open"), Some(0)));

    // The network refuses: 502 with its words, the text kept to try again.
    let refused = post_as(&rig.app, &marie, &format!("{path}/reply"), "text=revoked").await;
    assert_eq!(refused.status, 502, "{}", refused.text());
    let text = refused.text();
    assert!(text.contains("the token was revoked"), "{text}");
    assert!(text.contains(">revoked</textarea>"), "keeps what was typed: {text}");
    assert_eq!(api_thread(&rig, &id).await["interaction"]["status"], "open");
    // The network is down: 503 with the wait it asked for.
    let down = post_as(&rig.app, &marie, &format!("{path}/reply"), "text=down").await;
    assert_eq!((down.status, down.header("retry-after")), (503, Some("30")), "{}", down.text());
    assert!(down.text().contains("the instance is down") && down.text().contains(">down</textarea>"), "{}", down.text());

    // An empty note: 422, the thread again.
    let note = post_as(&rig.app, &marie, &format!("{path}/note"), "text=").await;
    assert_eq!(note.status, 422);
    assert!(note.text().contains("role=\"alert\""));

    // No CSRF field, or another one: 403, nothing changes.
    for body in ["text=Sorry%21".to_owned(), "csrf=forged&text=Sorry%21".to_owned()] {
        let forged = form(&rig.app, &format!("{path}/reply"), Some(&marie.session), &body).await;
        assert_eq!(forged.status, 403, "{body}: {}", forged.text());
        assert_security_headers(&forged, "a forged post");
        let closing = form(&rig.app, &format!("{path}/close"), Some(&marie.session), &body).await;
        assert_eq!(closing.status, 403, "{body}");
    }
    assert!(rig.platform.0.lock().unwrap().is_empty());
    let thread = api_thread(&rig, &id).await;
    assert_eq!(thread["interaction"]["status"], "open", "{thread}");
    // No session at all: 401.
    assert_eq!(form(&rig.app, &format!("{path}/close"), None, "csrf=x").await.status, 401);
}

#[tokio::test]
async fn a_viewer_reads_the_inbox_but_the_server_refuses_their_changes() {
    let (rig, _) = seeded().await;
    let viewer = join(&rig, "Victor", "victor@cafe.example", "viewer").await;
    let id = id_of(&rig, "a").await;
    let path = format!("/inbox/{id}");
    let page = html(&rig.app, &path, &viewer).await;
    assert!(page.contains("I love this place"), "a viewer reads");
    assert!(!page.contains("reply-text") && !page.contains("/close\""), "no forms for a viewer: {page}");
    assert!(page.contains("needs the contributor role"), "{page}");

    // Posting anyway (with their own valid token): the services' 403, nothing changed.
    for (what, fields) in [("reply", "text=hi"), ("assign", "assignee=Victor"), ("note", "text=mine"), ("close", ""), ("reopen", "")] {
        let raw = post_as(&rig.app, &viewer, &format!("{path}/{what}"), fields).await;
        assert_eq!(raw.status, 403, "{what}: {}", raw.text());
        assert!(raw.text().contains("contributor role"), "{what}: the service says why");
    }
    assert!(rig.platform.0.lock().unwrap().is_empty());
    let thread = api_thread(&rig, &id).await;
    assert_eq!(thread["interaction"]["status"], "open");
    assert!(thread["interaction"]["assignee"].is_null() && thread["interaction"]["notes"].as_array().unwrap().is_empty(), "{thread}");
}

#[tokio::test]
async fn an_admin_assigns_from_the_list_of_members() {
    let (rig, _) = seeded().await;
    let boss = join(&rig, "Nadia", "nadia@cafe.example", "admin").await;
    let id = id_of(&rig, "d").await;
    let path = format!("/inbox/{id}");
    let page = html(&rig.app, &path, &boss).await;
    assert!(page.contains("<select id=\"assignee\" name=\"assignee\">"), "{page}");
    assert!(page.contains("<option value=\"Marie\">Marie (contributor)</option>"), "{page}");
    let raw = post_as(&rig.app, &boss, &format!("{path}/assign"), "assignee=Marie").await;
    assert_eq!(raw.status, 303);
    assert_eq!(api_thread(&rig, &id).await["interaction"]["assignee"], "Marie");
    assert!(html(&rig.app, &path, &boss).await.contains("<option value=\"Marie\" selected>"));
    // The list filtered by whose it is: the assigned ones, the filter kept in the form.
    let mine = html(&rig.app, "/inbox?assignee=marie", &boss).await;
    assert!(mine.contains(&format!("href=\"/inbox/{id}")), "{mine}");
    assert!(mine.contains("<input id=\"f-assignee\" type=\"text\" name=\"assignee\" value=\"marie\""), "{mine}");
    assert!(!html(&rig.app, "/inbox?assignee=paul", &boss).await.contains(&format!("href=\"/inbox/{id}")));
    // Nobody: unassigned, open again.
    let raw = post_as(&rig.app, &boss, &format!("{path}/assign"), "assignee=").await;
    assert_eq!((raw.status, raw.header("location")), (303, Some(&*format!("{path}?done=unassigned"))));
    let thread = api_thread(&rig, &id).await;
    assert!(thread["interaction"]["assignee"].is_null());
    assert_eq!(thread["interaction"]["status"], "open");
}

#[tokio::test]
async fn a_crisis_banner_shows_while_an_incident_is_open_and_not_otherwise() {
    let (rig, marie) = seeded().await;
    let id = id_of(&rig, "b").await;
    let thread_path = format!("/inbox/{id}");
    for path in ["/inbox", thread_path.as_str()] {
        let page = html(&rig.app, path, &marie).await;
        assert!(!page.contains("class=\"crisis\"") && !page.contains("Crisis under way"), "{path}: {page}");
    }

    let team = TeamId::parse("t", "cafe").unwrap();
    let channel = ChannelId::parse("c", &rig.channel).unwrap();
    let mut incident = Incident {
        id: IncidentId::new(),
        team_id: team,
        channel_id: channel,
        opened_at: t0() - Duration::minutes(30),
        closed_at: None,
        negatives_in_window: 14,
        expected: 1.5,
    };
    rig.app.store.put_incident(&incident).await.unwrap();
    let (_, api) = rig.app.get("/v1/incidents", &rig.admin).await;
    assert_eq!(api["items"][0]["open"], true, "{api}");
    for path in ["/inbox", thread_path.as_str()] {
        let page = html(&rig.app, path, &marie).await;
        let banner = page.split("<div class=\"crisis\" role=\"alert\">").nth(1).unwrap_or_else(|| panic!("{path}: no banner: {page}"));
        let banner = banner.split("</div>").next().unwrap();
        assert!(banner.contains("<strong>CRM</strong>"), "which channel: {banner}");
        assert!(banner.contains("<time datetime=\"2027-01-04T07:30:00+01:00\">Mon 4 Jan 2027 07:30</time>"), "since when: {banner}");
        assert!(banner.contains(&format!("/inbox?channel_id={}&amp;sentiment=negative", rig.channel)), "{banner}");
        assert!(page.find("class=\"crisis\"").unwrap() < page.find("<h1>").unwrap(), "at the top");
    }

    incident.closed_at = Some(t0());
    rig.app.store.put_incident(&incident).await.unwrap();
    assert!(!html(&rig.app, "/inbox", &marie).await.contains("class=\"crisis\""), "calm again: no banner");
}

#[tokio::test]
async fn inbox_pages_carry_the_security_headers_and_name_no_other_host() {
    let (rig, marie) = seeded().await;
    let id = id_of(&rig, "a").await;
    let key = Some(rig.admin.as_str());
    for (path, who, status) in [
        ("/inbox".to_owned(), Some(&marie), 200),
        ("/inbox?status=closed&sentiment=negative".to_owned(), Some(&marie), 200),
        (format!("/inbox/{id}"), Some(&marie), 200),
        ("/inbox?kind=tweet".to_owned(), Some(&marie), 422),
        ("/inbox".to_owned(), None, 401),
        (format!("/inbox/{id}"), None, 401),
    ] {
        let raw = get(&rig.app, &path, who.map(|p| p.session.as_str())).await;
        assert_eq!(raw.status, status, "{path}: {}", raw.text());
        assert_security_headers(&raw, &path);
        let body = raw.text();
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} names another host");
        assert!(!body.contains("<script>") && !body.contains("style=\"") && !body.contains("onclick"), "{path}: inline script or style");
    }
    // An API key works too (no session: no CSRF needed, no "assign to me").
    let page = rig.app.raw(Method::GET, &format!("/inbox/{id}"), key, None, None).await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("Assign to me"));
    // The screen's script is served, immutable, with the headers.
    let js = get(&rig.app, &assets::INBOX_JS.path(), None).await;
    assert_eq!(js.status, 200);
    assert_security_headers(&js, "inbox.js");
    assert!(js.text().contains("'j'") && js.text().contains("requestSubmit"), "the keyboard script");
}

// ---------------------------------------------------------------------------------------------
// In a browser: the pages as Chromium lays them out (tests/system/common/browser.rs).

#[tokio::test]
async fn the_inbox_and_a_thread_fit_a_phone_and_a_laptop_in_chromium() {
    let Some(browser) = crate::common::browser::Browser::find() else { return };
    let (rig, marie) = seeded().await;
    deliver(&rig, message("long", "Supercalifragilisticexpialidocious-Sans-Espaces", &"Unbreakable-".repeat(30))).await;
    let id = id_of(&rig, "b").await;
    post_as(&rig.app, &marie, &format!("/inbox/{id}/note"), "text=Called+him+back%2C+refund+offered").await;
    post_as(&rig.app, &marie, &format!("/inbox/{id}/reply"), "text=We+are+so+sorry%2C+please+DM+us").await;
    let team = TeamId::parse("t", "cafe").unwrap();
    let incident = Incident {
        id: IncidentId::new(),
        team_id: team,
        channel_id: ChannelId::parse("c", &rig.channel).unwrap(),
        opened_at: t0() - Duration::minutes(30),
        closed_at: None,
        negatives_in_window: 14,
        expected: 1.5,
    };
    rig.app.store.put_incident(&incident).await.unwrap();

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    for asset in assets::all() {
        std::fs::write(dir.join("assets").join(&asset.name), asset.body).unwrap();
    }
    for (name, path) in [("inbox-list", "/inbox?status=open".to_owned()), ("inbox-thread", format!("/inbox/{id}?done=replied"))] {
        let page = html(&rig.app, &path, &marie).await.replace("\"/assets/", "\"assets/");
        for width in [390, 1280] {
            let seen = browser.inspect(&page, width, &dir, name);
            assert!(seen.problems().is_empty(), "{name} at {width} px: {:#?}\nscreenshot: {}", seen.problems(), seen.screenshot.display());
            eprintln!("{name} at {width} px: fine, screenshot {}", seen.screenshot.display());
        }
    }
}
