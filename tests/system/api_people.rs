//! People through the API: invites, accepting one, signing in (throttled) and out, password
//! resets, the session cookie and its CSRF token.

use axum::body::Body;
use axum::http::{Method, Request};
use chrono::Duration;
use herald_core::domain::Role;
use serde_json::{Value, json};

use crate::common::{App, Raw, error_of};

const PASSWORD: &str = "correct horse battery";

/// A browser: the session cookie it holds and the CSRF token it was given.
#[derive(Clone, Debug)]
struct Browser {
    cookie: String,
    csrf: String,
}

async fn send(app: &App, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Raw {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    app.send(req.body(body).unwrap()).await
}

/// As a browser: the cookie, and the CSRF token on changes when `csrf`.
async fn as_browser(app: &App, b: &Browser, method: Method, path: &str, body: Option<Value>, csrf: bool) -> Raw {
    let cookie = format!("other=1; herald_session={}", b.cookie);
    let mut headers = vec![("cookie", cookie.as_str())];
    if csrf {
        headers.push(("x-csrf-token", b.csrf.as_str()));
    }
    send(app, method, path, body, &headers).await
}

/// The session id a response's `Set-Cookie` carries, checking the cookie's attributes.
fn session_from(raw: &Raw, https: bool) -> String {
    let set = raw.header("set-cookie").unwrap_or_else(|| panic!("a Set-Cookie: {}", raw.text()));
    let mut parts = set.split("; ");
    let id = parts.next().and_then(|p| p.strip_prefix("herald_session=")).expect("the session cookie").to_owned();
    let attrs: Vec<&str> = parts.collect();
    for want in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=1209600"] {
        assert!(attrs.contains(&want), "{want} in {set}");
    }
    assert_eq!(attrs.contains(&"Secure"), https, "Secure exactly when the request came over https: {set}");
    id
}

async fn invite(app: &App, admin: &str, email: &str, role: &str) -> String {
    let (status, body) = app.post("/v1/invites", admin, json!({"email": email, "role": role})).await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().expect("a url");
    url.strip_prefix("/invite/").expect("an /invite/ url").to_owned()
}

async fn accept(app: &App, token: &str, name: &str) -> Browser {
    let raw = send(app, Method::POST, "/auth/accept", Some(json!({"token": token, "name": name, "password": PASSWORD})), &[]).await;
    assert_eq!(raw.status, 201, "{}", raw.text());
    Browser { cookie: session_from(&raw, false), csrf: raw.json()["csrf_token"].as_str().expect("a csrf token").to_owned() }
}

async fn sign_in(app: &App, email: &str, password: &str) -> Raw {
    send(app, Method::POST, "/auth/sign-in", Some(json!({"email": email, "password": password})), &[]).await
}

fn browser_of(raw: &Raw) -> Browser {
    assert_eq!(raw.status, 200, "{}", raw.text());
    Browser { cookie: session_from(raw, false), csrf: raw.json()["csrf_token"].as_str().expect("a csrf token").to_owned() }
}

#[tokio::test]
async fn an_invited_person_accepts_and_is_signed_in() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, body) = app.post("/v1/invites", &admin, json!({"email": "  Marie@Example.com ", "role": "editor"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["email"], "marie@example.com");
    assert_eq!(body["role"], "editor");
    assert_eq!(body["expires_at"], "2027-01-11T07:00:00Z", "7 days");
    let token = body["url"].as_str().unwrap().strip_prefix("/invite/").unwrap().to_owned();
    assert!(token.starts_with("hinv_") && token.len() == 5 + 64, "{token}");

    let marie = accept(&app, &token, "Marie").await;
    let me = as_browser(&app, &marie, Method::GET, "/v1/me", None, false).await;
    assert_eq!(me.status, 200, "{}", me.text());
    let me = me.json();
    assert_eq!((me["team_id"].as_str(), me["role"].as_str()), (Some("cafe"), Some("editor")));
    assert_eq!(me["csrf_token"], marie.csrf.as_str());
    assert_eq!(me["member_id"], me["key_id"]);

    // The session works on the rest of the API, and changes carry the CSRF token.
    let (status, _) = app.get("/v1/posts", &admin).await;
    assert_eq!(status, 200);
    let listed = as_browser(&app, &marie, Method::GET, "/v1/posts", None, false).await;
    assert_eq!(listed.status, 200, "{}", listed.text());

    // The same invite does not work twice.
    let again = send(&app, Method::POST, "/auth/accept", Some(json!({"token": token, "name": "Eve", "password": PASSWORD})), &[]).await;
    assert_eq!(again.status, 404, "{}", again.text());
    assert_eq!(error_of(&again.json()).1.as_deref(), Some("token"));

    // The admin sees the member; the e-mail cannot be invited again.
    let (status, members) = app.get("/v1/members", &admin).await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members["items"][0]["email"], "marie@example.com");
    assert_eq!(members["items"][0]["name"], "Marie");
    assert!(members["items"][0].get("password_hash").is_none());
    let (status, body) = app.post("/v1/invites", &admin, json!({"email": "marie@example.com", "role": "viewer"})).await;
    assert_eq!(status, 409, "{body}");

    // Signing in by e-mail and password, case-insensitively.
    let raw = sign_in(&app, "MARIE@example.com", PASSWORD).await;
    let second = browser_of(&raw);
    assert_ne!(second.cookie, marie.cookie);
    assert_eq!(raw.json()["member"]["role"], "editor");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    for (body, field) in [
        (json!({"email": "not-an-email", "role": "editor"}), "email"),
        (json!({"email": "a@example.com", "role": "owner"}), "role"),
        (json!({"email": "a@example.com"}), "role"),
        (json!({"email": 5, "role": "editor"}), "email"),
    ] {
        let (status, err) = app.post("/v1/invites", &admin, body).await;
        assert_eq!((status, error_of(&err).1.as_deref()), (422, Some(field)), "{err}");
    }
    let token = invite(&app, &admin, "marie@example.com", "viewer").await;
    for (body, field) in [
        (json!({"token": token, "name": "Marie", "password": "short"}), "password"),
        (json!({"token": token, "name": "Marie", "password": "x".repeat(257)}), "password"),
        (json!({"token": token, "name": "  ", "password": PASSWORD}), "name"),
        (json!({"token": token, "name": "Marie"}), "password"),
        (json!({"token": token, "email": "eve@example.com", "name": "Marie", "password": PASSWORD}), "email"),
    ] {
        let raw = send(&app, Method::POST, "/auth/accept", Some(body), &[]).await;
        assert_eq!((raw.status, error_of(&raw.json()).1.as_deref()), (422, Some(field)), "{}", raw.text());
    }
    // None of those used the invite up.
    accept(&app, &token, "Marie").await;
    let raw = send(&app, Method::POST, "/auth/sign-in", Some(json!({"email": "marie@example.com"})), &[]).await;
    assert_eq!((raw.status, error_of(&raw.json()).1.as_deref()), (422, Some("password")));
}

#[tokio::test]
async fn wrong_passwords_are_refused_alike_and_the_sixth_attempt_is_throttled() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "viewer").await;
    accept(&app, &token, "Marie").await;

    let wrong_password = sign_in(&app, "marie@example.com", "not the password").await;
    let wrong_email = sign_in(&app, "nobody@example.com", PASSWORD).await;
    assert_eq!((wrong_password.status, wrong_email.status), (401, 401));
    assert_eq!(wrong_password.json(), wrong_email.json(), "the same answer for a wrong e-mail and a wrong password");
    assert!(wrong_password.header("set-cookie").is_none());

    for _ in 0..4 {
        assert_eq!(sign_in(&app, "marie@example.com", "still not it").await.status, 401);
    }
    // Five failures for this e-mail in this window: the sixth attempt is refused, even right.
    let throttled = sign_in(&app, "marie@example.com", PASSWORD).await;
    assert_eq!(throttled.status, 429, "{}", throttled.text());
    assert_eq!(error_of(&throttled.json()).0, "throttled");
    let after: i64 = throttled.header("retry-after").expect("Retry-After").parse().unwrap();
    // t0 is 07:00:00 plus nothing: the window ends at 07:15.
    assert_eq!(after, 15 * 60);
    // Another e-mail from the same address is not throttled yet.
    assert_eq!(sign_in(&app, "nobody@example.com", PASSWORD).await.status, 401);

    // In the next window the person signs in, and a success does not count.
    app.clock.advance(Duration::minutes(15));
    browser_of(&sign_in(&app, "marie@example.com", PASSWORD).await);
    for _ in 0..4 {
        assert_eq!(sign_in(&app, "marie@example.com", "wrong again, sorry").await.status, 401);
    }
    browser_of(&sign_in(&app, "marie@example.com", PASSWORD).await);
}

#[tokio::test]
async fn an_address_is_throttled_after_twenty_failures_whatever_the_emails() {
    let app = App::new();
    let from = [("x-forwarded-for", "198.51.100.7, 203.0.113.9")];
    for i in 0..20 {
        let body = json!({"email": format!("p{i}@example.com"), "password": "not a password"});
        assert_eq!(send(&app, Method::POST, "/auth/sign-in", Some(body), &from).await.status, 401);
    }
    let body = json!({"email": "p99@example.com", "password": "not a password"});
    assert_eq!(send(&app, Method::POST, "/auth/sign-in", Some(body.clone()), &from).await.status, 429);
    // The address is API Gateway's (the last entry); another one is not throttled.
    let other = [("x-forwarded-for", "198.51.100.7, 203.0.113.10")];
    assert_eq!(send(&app, Method::POST, "/auth/sign-in", Some(body), &other).await.status, 401);
}

#[tokio::test]
async fn a_reset_link_works_once_and_ends_the_old_sessions() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "contributor").await;
    let old = accept(&app, &token, "Marie").await;
    let (_, members) = app.get("/v1/members", &admin).await;
    let id = members["items"][0]["id"].as_str().unwrap().to_owned();

    let (status, link) = app.post(&format!("/v1/members/{id}/reset-link"), &admin, json!({})).await;
    assert_eq!(status, 201, "{link}");
    assert_eq!(link["expires_at"], "2027-01-05T07:00:00Z", "24 hours");
    let reset = link["url"].as_str().unwrap().strip_prefix("/reset/").unwrap().to_owned();
    // A reset token is not an invite.
    let raw = send(&app, Method::POST, "/auth/accept", Some(json!({"token": reset, "name": "Eve", "password": PASSWORD})), &[]).await;
    assert_eq!(raw.status, 404);

    let new_password = "a brand new passphrase";
    let raw = send(&app, Method::POST, "/auth/reset", Some(json!({"token": reset, "password": new_password})), &[]).await;
    let fresh = browser_of(&raw);
    assert_eq!(as_browser(&app, &fresh, Method::GET, "/v1/me", None, false).await.status, 200);
    assert_eq!(as_browser(&app, &old, Method::GET, "/v1/me", None, false).await.status, 401, "the old session ended");
    assert_eq!(sign_in(&app, "marie@example.com", PASSWORD).await.status, 401);
    browser_of(&sign_in(&app, "marie@example.com", new_password).await);

    let again = send(&app, Method::POST, "/auth/reset", Some(json!({"token": reset, "password": "yet another passphrase"})), &[]).await;
    assert_eq!(again.status, 404, "used once");

    // An unknown member, another team's, a non-id: 404.
    let other = app.key("bakery", Role::Admin).await;
    let (status, _) = app.post(&format!("/v1/members/{id}/reset-link"), &other, json!({})).await;
    assert_eq!(status, 404);
    let (status, _) = app.post("/v1/members/nope/reset-link", &admin, json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn signing_out_everywhere_ends_the_other_sessions() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "editor").await;
    let laptop = accept(&app, &token, "Marie").await;
    let phone = browser_of(&sign_in(&app, "marie@example.com", PASSWORD).await);

    // Signing out needs the CSRF token too.
    let raw = as_browser(&app, &phone, Method::POST, "/auth/sign-out-everywhere", None, false).await;
    assert_eq!((raw.status, error_of(&raw.json()).0.as_str()), (403, "csrf"));
    let raw = as_browser(&app, &phone, Method::POST, "/auth/sign-out-everywhere", None, true).await;
    assert_eq!(raw.status, 204, "{}", raw.text());
    assert!(raw.header("set-cookie").is_some_and(|c| c.starts_with("herald_session=;") && c.contains("Max-Age=0")));
    for b in [&laptop, &phone] {
        assert_eq!(as_browser(&app, b, Method::GET, "/v1/me", None, false).await.status, 401);
    }

    // Plain sign-out ends only its own session.
    let a = browser_of(&sign_in(&app, "marie@example.com", PASSWORD).await);
    let b = browser_of(&sign_in(&app, "marie@example.com", PASSWORD).await);
    assert_eq!(as_browser(&app, &a, Method::POST, "/auth/sign-out", None, true).await.status, 204);
    assert_eq!(as_browser(&app, &a, Method::GET, "/v1/me", None, false).await.status, 401);
    assert_eq!(as_browser(&app, &b, Method::GET, "/v1/me", None, false).await.status, 200);
    // An API key has no session to end.
    let (status, _) = app.post("/auth/sign-out", &admin, json!({})).await;
    assert_eq!(status, 409);
}

#[tokio::test]
async fn a_change_with_a_session_cookie_needs_the_csrf_token() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "admin").await;
    let marie = accept(&app, &token, "Marie").await;
    let body = json!({"email": "paul@example.com", "role": "viewer"});

    let raw = as_browser(&app, &marie, Method::POST, "/v1/invites", Some(body.clone()), false).await;
    assert_eq!((raw.status, error_of(&raw.json()).0.as_str()), (403, "csrf"), "{}", raw.text());
    let wrong = Browser { csrf: "0".repeat(64), ..marie.clone() };
    let raw = as_browser(&app, &wrong, Method::POST, "/v1/invites", Some(body.clone()), true).await;
    assert_eq!(raw.status, 403);
    let raw = as_browser(&app, &marie, Method::POST, "/v1/invites", Some(body), true).await;
    assert_eq!(raw.status, 201, "{}", raw.text());

    // An admin in a session cannot remove themselves; can remove another member.
    let (_, members) = app.get("/v1/members", &admin).await;
    let me = as_browser(&app, &marie, Method::GET, "/v1/me", None, false).await.json();
    let my_id = me["member_id"].as_str().unwrap();
    let raw = as_browser(&app, &marie, Method::DELETE, &format!("/v1/members/{my_id}"), None, true).await;
    assert_eq!(raw.status, 409, "{}", raw.text());
    assert_eq!(members["items"].as_array().unwrap().len(), 1);

    // An unknown cookie is a 401, not a CSRF question.
    let ghost = Browser { cookie: "hses_nope".into(), csrf: String::new() };
    assert_eq!(as_browser(&app, &ghost, Method::POST, "/v1/invites", None, false).await.status, 401);
}

#[tokio::test]
async fn a_contributor_session_cannot_invite_or_manage_members() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "paul@example.com", "contributor").await;
    let paul = accept(&app, &token, "Paul").await;
    let raw = as_browser(&app, &paul, Method::POST, "/v1/invites", Some(json!({"email": "eve@example.com", "role": "admin"})), true).await;
    assert_eq!((raw.status, error_of(&raw.json()).0.as_str()), (403, "forbidden"), "{}", raw.text());
    assert_eq!(as_browser(&app, &paul, Method::GET, "/v1/members", None, false).await.status, 403);

    // The admin removes Paul: his session ends with him.
    let (_, members) = app.get("/v1/members", &admin).await;
    let id = members["items"][0]["id"].as_str().unwrap();
    let (status, _) = app.delete(&format!("/v1/members/{id}"), &admin).await;
    assert_eq!(status, 204);
    assert_eq!(as_browser(&app, &paul, Method::GET, "/v1/me", None, false).await.status, 401);
    let (status, _) = app.delete(&format!("/v1/members/{id}"), &admin).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn an_expired_invite_is_refused() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "viewer").await;
    app.clock.advance(Duration::days(7));
    let raw = send(&app, Method::POST, "/auth/accept", Some(json!({"token": token, "name": "Marie", "password": PASSWORD})), &[]).await;
    assert_eq!(raw.status, 404, "{}", raw.text());
    let (code, field, message) = error_of(&raw.json());
    assert_eq!((code.as_str(), field.as_deref()), ("not_found", Some("token")));
    assert!(message.contains("expired"), "{message}");
}

#[tokio::test]
async fn a_session_lapses_after_fourteen_days_and_cookies_are_secure_over_https() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let token = invite(&app, &admin, "marie@example.com", "viewer").await;
    let raw = send(
        &app,
        Method::POST,
        "/auth/accept",
        Some(json!({"token": token, "name": "Marie", "password": PASSWORD})),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(raw.status, 201, "{}", raw.text());
    let marie = Browser { cookie: session_from(&raw, true), csrf: String::new() };
    app.clock.advance(Duration::days(14) - Duration::seconds(1));
    assert_eq!(as_browser(&app, &marie, Method::GET, "/v1/me", None, false).await.status, 200);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(as_browser(&app, &marie, Method::GET, "/v1/me", None, false).await.status, 401);
}
