//! Signing in, and accepting an invite (the first admin's setup link is one): plain HTML forms
//! that post to the page itself, then a `303` to the calendar with the session cookie. The
//! rules (e-mail form, password length, throttling, one-time links) are the API's own, from
//! `services::people`; a refusal shows the form again with what to change.
//!
//! Signing out is a form too (the "Sign out" button of the top bar), carrying the session's CSRF
//! token in a hidden field: a page cannot set the `x-csrf-token` header the API asks of
//! cookie-authenticated changes, so the token travels in the body and is compared here.
//!
//! Not yet: login CSRF protection beyond `SameSite=Lax` (an attacker's page can sign a visitor
//! in as the attacker).

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{respond, shell};
use crate::http::{AppState, Client, constant_time_eq, retry_after_value, session_cookie, session_set_cookie};
use crate::services::ServiceError;
use crate::services::people::{self, NewSession, SignInError};

/// What the sign-in form sends.
#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// What the invite form sends.
#[derive(Debug, Default, Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// `GET /sign-in`.
pub async fn sign_in_page() -> Response {
    respond(StatusCode::OK, sign_in_form("", None))
}

/// `POST /sign-in`: signed in (303 to the calendar, with the cookie), or the form again.
pub async fn sign_in(State(state): State<AppState>, client: Client, form: Result<Form<SignInForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    match people::sign_in(&*state.store, &*state.clock, &form.email, &form.password, &client.address).await {
        Ok((member, new)) => {
            tracing::info!(member_id = %member.id, "signed in (page)");
            to_calendar(&new, client.https)
        }
        Err(SignInError::Wrong) => respond(StatusCode::UNAUTHORIZED, sign_in_form(&form.email, Some(people::WRONG_CREDENTIALS))),
        Err(SignInError::Throttled { retry_after }) => {
            let mut page = respond(
                StatusCode::TOO_MANY_REQUESTS,
                sign_in_form(&form.email, Some("Too many attempts. Wait a few minutes, then try again.")),
            );
            page.headers_mut().insert(RETRY_AFTER, retry_after_value(retry_after));
            page
        }
        Err(SignInError::Service(e)) => refused(e, |message| sign_in_form(&form.email, Some(message))),
    }
}

/// `GET /invite/{token}`: the form to join (the link is checked when it is sent).
pub async fn invite_page(Path(token): Path<String>) -> Response {
    respond(StatusCode::OK, accept_form(&token, &AcceptForm::default(), None))
}

/// `POST /invite/{token}`: joined and signed in (303 to the calendar), or the form again.
pub async fn accept(State(state): State<AppState>, client: Client, Path(token): Path<String>, form: Result<Form<AcceptForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    match people::accept(&*state.store, &*state.clock, &token, email, &form.name, &form.password).await {
        Ok((member, new)) => {
            tracing::info!(member_id = %member.id, role = %member.role, "invite accepted (page)");
            to_calendar(&new, client.https)
        }
        Err(e) => refused(e, |message| accept_form(&token, &form, Some(message))),
    }
}

/// The form again with the service's words, at the status the API would answer.
fn refused(e: ServiceError, form: impl FnOnce(&str) -> Markup) -> Response {
    let e = crate::http::ApiError::from(e);
    let (status, _) = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "a sign-in page failed");
        return respond(status, form("Something went wrong on our side; try again in a moment."));
    }
    respond(status, form(&e.to_string()))
}

fn to_calendar(new: &NewSession, https: bool) -> Response {
    (StatusCode::SEE_OTHER, [(SET_COOKIE, session_set_cookie(Some(new.id.reveal()), https)), (LOCATION, HeaderValue::from_static("/calendar"))])
        .into_response()
}

fn problem(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            div.problem role="alert" { p { (message) } }
        }
    }
}

fn sign_in_form(email: &str, message: Option<&str>) -> Markup {
    shell(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            (problem(message))
            form.stack method="post" action="/sign-in" {
                label for="email" { "E-mail" }
                input #email type="email" name="email" value=(email) autocomplete="username" required;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p.hint { "No account yet? Ask an admin of your team for an invite link." }
        },
    )
}

fn accept_form(token: &str, form: &AcceptForm, message: Option<&str>) -> Markup {
    let action = format!("/invite/{}", urlencoding_path(token));
    shell(
        "Join your team",
        None,
        html! {
            h1 { "Join your team" }
            (problem(message))
            form.stack method="post" action=(action) {
                label for="name" { "Your name" }
                input #name type="text" name="name" value=(form.name) autocomplete="name" maxlength="100" required;
                label for="email" { "E-mail" }
                input #email type="email" name="email" value=(form.email) autocomplete="username";
                p.hint { "The address the invite was sent for (the first admin's setup link takes yours)." }
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="new-password" minlength="12" maxlength="256" required;
                p.hint { "12 characters at least." }
                button type="submit" { "Join" }
            }
        },
    )
}

/// A link token in a path: tokens are URL-safe already; anything else is dropped rather than
/// echoed (the service refuses it anyway).
fn urlencoding_path(token: &str) -> String {
    token.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')).collect()
}

/// What the sign-out button sends.
#[derive(Debug, Default, Deserialize)]
pub struct SignOutForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sign-out`: the session named by the cookie ends when the form carries its CSRF token
/// (303 to the sign-in page, the cookie cleared); without a live session, or with another
/// token, nothing ends (403).
pub async fn sign_out(State(state): State<AppState>, client: Client, headers: HeaderMap, form: Result<Form<SignOutForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let session = match session_cookie(&headers) {
        Some(id) => people::session_member(&*state.store, &*state.clock, &id).await,
        None => Ok(None),
    };
    match session {
        Ok(Some((session, _))) if constant_time_eq(session.csrf_token.as_bytes(), form.csrf.as_bytes()) => {
            if let Err(e) = state.store.delete_session(&session.hash).await {
                tracing::error!(error = %e, "signing out failed");
                return respond(StatusCode::INTERNAL_SERVER_ERROR, sign_in_form("", Some("Signing out failed; try again.")));
            }
            tracing::info!(member_id = %session.member_id, "signed out (page)");
            (StatusCode::SEE_OTHER, [(SET_COOKIE, session_set_cookie(None, client.https)), (LOCATION, HeaderValue::from_static("/sign-in"))])
                .into_response()
        }
        Ok(_) => respond(StatusCode::FORBIDDEN, sign_in_form("", Some("That sign-out did not come from your own page; nothing changed."))),
        Err(e) => {
            tracing::error!(error = %e, "reading a session failed");
            respond(StatusCode::INTERNAL_SERVER_ERROR, sign_in_form("", Some("Something went wrong on our side; try again.")))
        }
    }
}
