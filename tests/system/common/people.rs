//! People in the web app's tests: the login forms posted as a browser posts them (first shown,
//! so the browser holds the form's `herald_login` cookie and the page its `login` field), and a
//! person invited, joined and signed in, with their session cookie and CSRF token.

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use super::{App, Raw};

/// The password test people choose.
pub const PASSWORD: &str = "correct horse battery";

/// A signed-in person: the `herald_session` cookie's value and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Person {
    pub session: String,
    pub csrf: String,
}

/// `GET path` (a login form: `/sign-in`, `/invite/<token>`): its `login` token and the page.
pub async fn login_form(app: &App, path: &str) -> (String, Raw) {
    let page = app.send(Request::builder().uri(path).body(Body::empty()).unwrap()).await;
    let token = page
        .text()
        .split("name=\"login\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .unwrap_or_default();
    (token, page)
}

/// Posts a login form (`body` url-encoded, without `login`) as a browser does after showing it:
/// with the form's token in the field and in the `herald_login` cookie.
pub async fn post_login_form(app: &App, path: &str, body: &str) -> Raw {
    let (token, page) = login_form(app, path).await;
    assert!(!token.is_empty(), "{path} shows no login token: {}", page.text());
    let set = page.header("set-cookie").unwrap_or_default().to_owned();
    assert!(set.starts_with(&format!("herald_login={token};")) && set.contains("SameSite=Strict"), "{set}");
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("herald_login={token}"))
        .body(Body::from(format!("{body}&login={token}")))
        .unwrap();
    app.send(req).await
}

/// The session id of a `303` to the calendar.
pub fn signed_in(raw: &Raw) -> String {
    assert_eq!((raw.status, raw.header("location")), (303, Some("/calendar")), "{}", raw.text());
    let set = raw.header("set-cookie").expect("the session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().and_then(|p| p.strip_prefix("herald_session=")).expect("herald_session").to_owned()
}

/// Invites `email` as `role` (with the admin key `admin`), joins as `name` through the invite
/// form and reads the session's CSRF token off the calendar page.
pub async fn join(app: &App, admin: &str, name: &str, email: &str, role: &str) -> Person {
    let (status, invite) = app.post("/v1/invites", admin, json!({"email": email, "role": role})).await;
    assert_eq!(status, 201, "{invite}");
    let path = invite["url"].as_str().expect("an invite url").to_owned();
    let email_field: String = enc(email);
    let name_field = enc(name);
    let joined = post_login_form(app, &path, &format!("name={name_field}&email={email_field}&password={}", PASSWORD.replace(' ', "+"))).await;
    let session = signed_in(&joined);
    let calendar = app
        .send(Request::builder().uri("/calendar").header("cookie", format!("herald_session={session}")).body(Body::empty()).unwrap())
        .await;
    let csrf = calendar
        .text()
        .split("name=\"csrf-token\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("the calendar carries the CSRF token: {}", calendar.text()))
        .to_owned();
    Person { session, csrf }
}

/// `v` percent-encoded for a form body, as a browser sends it (`application/x-www-form-urlencoded`).
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
