//! Signing in and joining from the browser's side: HTML forms posted as a browser posts them
//! (`application/x-www-form-urlencoded`), a `303` to the calendar with the session cookie, and
//! the calendar then seen with that cookie alone (no API key).

use axum::body::Body;
use axum::http::{Method, Request};
use herald_core::domain::Role;
use serde_json::json;

use crate::common::{App, Raw};

use crate::common::people::{PASSWORD, post_login_form as form, signed_in};

/// A form posted as it is: no login token, no cookie (another site's page posting it).
async fn bare_form(app: &App, path: &str, body: &str) -> Raw {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_owned()))
        .unwrap();
    app.send(req).await
}

async fn get(app: &App, path: &str, cookie: Option<&str>) -> Raw {
    let mut req = Request::builder().method(Method::GET).uri(path);
    if let Some(c) = cookie {
        req = req.header("cookie", format!("herald_session={c}"));
    }
    app.send(req.body(Body::empty()).unwrap()).await
}


#[tokio::test]
async fn an_invited_person_joins_from_the_form_signs_in_and_sees_the_calendar() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (status, invite) = app.post("/v1/invites", &admin, json!({"email": "lea@cafe.example", "role": "editor"})).await;
    assert_eq!(status, 201, "{invite}");
    let path = invite["url"].as_str().expect("an invite url").to_owned();

    // The link opens a form; it posts back to itself.
    let page = get(&app, &path, None).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains(&format!("action=\"{path}\"")) && html.contains("name=\"password\""), "{html}");
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("form-action 'self'")));

    // A short password: the form again, saying why, and the link still works.
    let short = form(&app, &path, "name=L%C3%A9a&email=lea%40cafe.example&password=short").await;
    assert_eq!(short.status, 422, "{}", short.text());
    assert!(short.text().contains("12"), "says how long: {}", short.text());
    assert!(short.text().contains("value=\"Léa\""), "keeps what was typed");

    let joined = form(&app, &path, &format!("name=L%C3%A9a&email=lea%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await;
    let session = signed_in(&joined);
    let calendar = get(&app, "/calendar", Some(&session)).await;
    assert_eq!(calendar.status, 200, "{}", calendar.text());
    assert!(calendar.text().contains("<h1"), "the calendar page");

    // Used once.
    let again = form(&app, &path, &format!("name=Eve&email=lea%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await;
    assert_eq!(again.status, 404, "{}", again.text());

    // Signing in from the form, wrong then right.
    let page = get(&app, "/sign-in", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("action=\"/sign-in\""));
    let wrong = form(&app, "/sign-in", "email=lea%40cafe.example&password=not+the+password").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("value=\"lea@cafe.example\""), "keeps the e-mail: {}", wrong.text());
    assert!(wrong.headers.get_all("set-cookie").iter().all(|c| !c.to_str().unwrap_or("").starts_with("herald_session=")), "no session");
    let right = form(&app, "/sign-in", &format!("email=LEA%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await;
    let other = signed_in(&right);
    assert_ne!(other, session, "a session of its own");
    assert_eq!(get(&app, "/calendar", Some(&other)).await.status, 200);
}

#[tokio::test]
async fn the_calendar_sends_a_stranger_to_sign_in_and_an_empty_form_is_refused_not_a_crash() {
    let app = App::new();
    let page = get(&app, "/calendar", None).await;
    assert_eq!(page.status, 401);
    assert!(page.text().contains("href=\"/sign-in\""), "{}", page.text());
    assert_eq!(get(&app, "/calendar", Some("not-a-session")).await.status, 401);

    let empty = form(&app, "/sign-in", "").await;
    assert!(matches!(empty.status, 401 | 422), "{}: {}", empty.status, empty.text());
    let garbage = bare_form(&app, "/sign-in", "%%%=&&&").await;
    assert_eq!(garbage.status, 403, "no login token: {}", garbage.text());
    let dead = form(&app, "/invite/nope", &format!("name=X&email=x%40y.example&password={}", PASSWORD.replace(' ', "+"))).await;
    assert_eq!(dead.status, 404, "{}", dead.text());
}

/// The top bar's "Sign out" is a form with the session's CSRF token: posted with it, the
/// session ends (the cookie no longer opens the calendar); without it, or from another
/// session's page, nothing ends.
#[tokio::test]
async fn signing_out_from_the_page_needs_its_csrf_token_and_ends_the_session() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (_, invite) = app.post("/v1/invites", &admin, json!({"email": "lea@cafe.example", "role": "viewer"})).await;
    let path = invite["url"].as_str().expect("an invite url").to_owned();
    let session = signed_in(&form(&app, &path, &format!("name=Lea&email=lea%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await);

    let calendar = get(&app, "/calendar", Some(&session)).await.text();
    let csrf = calendar
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a sign-out form with the CSRF token: {calendar}"))
        .to_owned();
    assert!(calendar.contains("action=\"/sign-out\""));
    assert!(!get(&app, "/sign-in", None).await.text().contains("/sign-out"), "no sign-out for a stranger");

    let with_cookie = |body: String| {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/sign-out")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("herald_session={session}"))
            .body(Body::from(body))
            .unwrap();
        app.send(req)
    };
    for forged in [String::new(), "csrf=not-the-token".to_owned()] {
        let refused = with_cookie(forged.clone()).await;
        assert_eq!(refused.status, 403, "{forged:?}: {}", refused.text());
        assert_eq!(get(&app, "/calendar", Some(&session)).await.status, 200, "still signed in after {forged:?}");
    }
    let out = with_cookie(format!("csrf={csrf}")).await;
    assert_eq!((out.status, out.header("location")), (303, Some("/sign-in")), "{}", out.text());
    assert!(out.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")), "the cookie is cleared");
    assert_eq!(get(&app, "/calendar", Some(&session)).await.status, 401, "the session ended");
}

/// Login CSRF: another site's page can post the sign-in or invite form with the attacker's own
/// credentials, but not with this browser's login token (the field and the `herald_login`
/// cookie must match): refused with 403, and nobody is signed in or joins.
#[tokio::test]
async fn a_login_form_posted_without_the_token_this_site_gave_is_refused() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let (_, invite) = app.post("/v1/invites", &admin, json!({"email": "eve@cafe.example", "role": "admin"})).await;
    let path = invite["url"].as_str().expect("an invite url").to_owned();
    let body = format!("name=Eve&email=eve%40cafe.example&password={}", PASSWORD.replace(' ', "+"));

    let forged = bare_form(&app, &path, &body).await;
    assert_eq!(forged.status, 403, "{}", forged.text());
    assert!(forged.header("set-cookie").is_some_and(|c| c.starts_with("herald_login=")), "a new token for a real retry");
    assert!(forged.text().contains("did not come from this site"), "{}", forged.text());
    // The token of the field alone, or of the cookie alone, or two that differ: refused.
    let (token, _) = crate::common::people::login_form(&app, &path).await;
    for (cookie, field) in [(None, Some(token.as_str())), (Some(token.as_str()), None), (Some(token.as_str()), Some("0000"))] {
        let mut req = Request::builder().method(Method::POST).uri(&path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            req = req.header("cookie", format!("herald_login={c}"));
        }
        let body = match field {
            Some(f) => format!("{body}&login={f}"),
            None => body.clone(),
        };
        let refused = app.send(req.body(Body::from(body)).unwrap()).await;
        assert_eq!(refused.status, 403, "cookie {cookie:?}, field {field:?}");
    }
    let (status, members) = app.get("/v1/members", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(members["items"].as_array().map(Vec::len), Some(0), "nobody joined: {members}");

    // The invite still works from its own page.
    signed_in(&form(&app, &path, &body).await);
    let signed = bare_form(&app, "/sign-in", &format!("email=eve%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await;
    assert_eq!(signed.status, 403, "a forged sign-in with the right password signs nobody in");
    assert!(signed.header("set-cookie").is_none_or(|c| !c.contains("herald_session=h")));
}

/// A password-reset link an admin made (`/reset/<token>`) opens a form: the new password is set,
/// the member's other sessions end, this browser is signed in, and the link works once.
#[tokio::test]
async fn a_reset_link_sets_a_new_password_from_its_page_once() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let lea = crate::common::people::join(&app, &admin, "Léa", "lea@cafe.example", "editor").await;
    let (_, members) = app.get("/v1/members", &admin).await;
    let id = members["items"][0]["id"].as_str().expect("Léa's id").to_owned();
    let (status, link) = app.post(&format!("/v1/members/{id}/reset-link"), &admin, json!({})).await;
    assert_eq!(status, 201, "{link}");
    let path = link["url"].as_str().expect("a reset link").to_owned();

    let page = get(&app, &path, None).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains(&format!("action=\"{path}\"")) && page.text().contains("autocomplete=\"new-password\""), "{}", page.text());
    let short = form(&app, &path, "password=short").await;
    assert_eq!(short.status, 422, "{}", short.text());
    let forged = bare_form(&app, &path, "password=a+brand+new+password").await;
    assert_eq!(forged.status, 403, "no login token, nothing changes");

    let session = signed_in(&form(&app, &path, "password=a+brand+new+password").await);
    assert_eq!(get(&app, "/calendar", Some(&session)).await.status, 200);
    assert_eq!(get(&app, "/calendar", Some(&lea.session)).await.status, 401, "the older session ended");
    assert_eq!(form(&app, "/sign-in", &format!("email=lea%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await.status, 401, "the old password no longer works");
    signed_in(&form(&app, "/sign-in", "email=lea%40cafe.example&password=a+brand+new+password").await);
    assert_eq!(form(&app, &path, "password=yet+another+password").await.status, 404, "the link works once");
}

/// "Sign out everywhere" on the Settings page: with the session's CSRF token every session of the
/// person ends (this one and one on another device), the cookie is cleared, 303 to sign in;
/// without the token nothing ends.
#[tokio::test]
async fn signing_out_everywhere_from_the_settings_page_ends_every_session() {
    let app = App::new();
    let admin = app.key("cafe", Role::Admin).await;
    let here = crate::common::people::join(&app, &admin, "Léa", "lea@cafe.example", "editor").await;
    let elsewhere = signed_in(&form(&app, "/sign-in", &format!("email=lea%40cafe.example&password={}", PASSWORD.replace(' ', "+"))).await);
    let settings = get(&app, "/settings", Some(&here.session)).await.text();
    assert!(settings.contains("action=\"/sign-out-everywhere\""), "{settings}");

    let post = |csrf: &str| {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/sign-out-everywhere")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", format!("herald_session={}", here.session))
            .body(Body::from(format!("csrf={csrf}")))
            .unwrap();
        app.send(req)
    };
    assert_eq!(post("not-the-token").await.status, 403);
    assert_eq!(get(&app, "/calendar", Some(&elsewhere)).await.status, 200, "nothing ended without the token");

    let out = post(&here.csrf).await;
    assert_eq!((out.status, out.header("location")), (303, Some("/sign-in")), "{}", out.text());
    assert!(out.header("set-cookie").is_some_and(|c| c.starts_with("herald_session=;") && c.contains("Max-Age=0")));
    assert_eq!(get(&app, "/calendar", Some(&here.session)).await.status, 401, "this session ended");
    assert_eq!(get(&app, "/calendar", Some(&elsewhere)).await.status, 401, "and the other device's");
}
