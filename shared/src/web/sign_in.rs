//! Signing in, and accepting an invite (the first admin's setup link is one): plain HTML forms
//! that post to the page itself, then a `303` to the calendar with the session cookie. The
//! rules (e-mail form, password length, throttling, one-time links) are the API's own, from
//! `services::people`; a refusal shows the form again with what to change.
//!
//! Signing out is a form too (the "Sign out" button of the top bar), carrying the session's CSRF
//! token in a hidden field: a page cannot set the `x-csrf-token` header the API asks of
//! cookie-authenticated changes, so the token travels in the body and is compared here.
//!
//! Login CSRF: another site's page could post these forms with the attacker's own e-mail and
//! password (or an invite the attacker made), signing the visitor in as the attacker, whose
//! team would then see what the visitor types. So each form, when shown, carries a fresh random
//! token in a hidden `login` field and the same value in a `herald_login` cookie (HttpOnly,
//! SameSite=Strict, an hour); a post whose field and cookie differ is refused (403, the form
//! again with a new token). Another site can make the browser post, but can neither read nor
//! set our cookie.

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::WebError;
use super::form::{EmptyForm, PageForm};
use super::page::{respond, shell};
use crate::domain::Member;
use crate::http::{AppState, Client, constant_time_eq, cookie_value, retry_after_value, session_cookie, session_set_cookie};
use crate::services::ServiceError;
use crate::services::people::{self, NewSession, SignInError};

/// The cookie holding the login form's token (see the module's documentation).
pub const LOGIN_COOKIE: &str = "herald_login";
/// What a refused login token says.
const STALE_FORM: &str = "This form was out of date or did not come from this site. Nothing was sent; try again.";

/// What the sign-in form sends.
#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    login: String,
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
    #[serde(default)]
    login: String,
}

/// A login form shown at `status`, with a fresh token in its `login` field and in the
/// `herald_login` cookie.
fn login_page(status: StatusCode, https: bool, form: impl FnOnce(&str) -> Markup) -> Response {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let token = hex::encode(bytes);
    let mut page = respond(status, form(&token));
    let secure = if https { "; Secure" } else { "" };
    let cookie = format!("{LOGIN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        page.headers_mut().append(SET_COOKIE, v);
    }
    page
}

/// Whether a login form post carries the token of a form this site showed to this browser.
fn login_token_matches(headers: &HeaderMap, sent: &str) -> bool {
    cookie_value(headers, LOGIN_COOKIE).is_some_and(|kept| !sent.is_empty() && constant_time_eq(kept.as_bytes(), sent.as_bytes()))
}

/// `GET /sign-in`.
pub async fn sign_in_page(client: Client) -> Response {
    login_page(StatusCode::OK, client.https, |login| sign_in_form(login, "", None))
}

/// `POST /sign-in`: signed in (303 to the calendar, with the cookie), or the form again.
pub async fn sign_in(State(state): State<AppState>, client: Client, headers: HeaderMap, form: Result<Form<SignInForm>, FormRejection>) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let again = |status: StatusCode, message: &str| login_page(status, client.https, |login| sign_in_form(login, &form.email, Some(message)));
    if !login_token_matches(&headers, &form.login) {
        return again(StatusCode::FORBIDDEN, STALE_FORM);
    }
    match people::sign_in(&*state.store, &*state.clock, &form.email, &form.password, &client.address).await {
        Ok((member, new)) => {
            tracing::info!(member_id = %member.id, "signed in (page)");
            to_calendar(&new, client.https)
        }
        Err(SignInError::Wrong) => again(StatusCode::UNAUTHORIZED, people::WRONG_CREDENTIALS),
        Err(SignInError::Throttled { retry_after }) => {
            let mut page = again(StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Wait a few minutes, then try again.");
            page.headers_mut().insert(RETRY_AFTER, retry_after_value(retry_after));
            page
        }
        Err(SignInError::Service(e)) => refused(e, |status, message| again(status, message)),
    }
}

/// `GET /invite/{token}`: the form to join (the link is checked when it is sent).
pub async fn invite_page(client: Client, Path(token): Path<String>) -> Response {
    login_page(StatusCode::OK, client.https, |login| accept_form(login, &token, &AcceptForm::default(), None))
}

/// `POST /invite/{token}`: joined and signed in (303 to the calendar), or the form again.
pub async fn accept(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<AcceptForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let again = |status: StatusCode, message: &str| login_page(status, client.https, |login| accept_form(login, &token, &form, Some(message)));
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    let joined = people::accept(&*state.store, &*state.clock, &token, email, &form.name, &form.password);
    signed_in_or_again(&headers, &form.login, client.https, "invite accepted (page)", joined, again).await
}

/// What the password-reset form sends.
#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    login: String,
}

/// `GET /reset/{token}`: the form to choose a new password (the link is checked when it is sent).
pub async fn reset_page(client: Client, Path(token): Path<String>) -> Response {
    login_page(StatusCode::OK, client.https, |login| reset_form(login, &token, None))
}

/// `POST /reset/{token}`: the new password set, every other session of the member ended, and
/// this browser signed in (303 to the calendar); or the form again.
pub async fn reset(
    State(state): State<AppState>,
    client: Client,
    headers: HeaderMap,
    Path(token): Path<String>,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let again = |status: StatusCode, message: &str| login_page(status, client.https, |login| reset_form(login, &token, Some(message)));
    let reset = people::reset_password(&*state.store, &*state.clock, &token, &form.password);
    signed_in_or_again(&headers, &form.login, client.https, "password reset (page)", reset, again).await
}

/// The end of a one-time link's form (invite, reset): with this browser's login token, the
/// service's new session (303 to the calendar with its cookie), or the form `again` with the
/// service's words. The service runs only once the token is checked (a future does nothing
/// until awaited).
async fn signed_in_or_again(
    headers: &HeaderMap,
    login: &str,
    https: bool,
    what: &'static str,
    service: impl Future<Output = Result<(Member, NewSession), ServiceError>>,
    again: impl FnOnce(StatusCode, &str) -> Response,
) -> Response {
    if !login_token_matches(headers, login) {
        return again(StatusCode::FORBIDDEN, STALE_FORM);
    }
    match service.await {
        Ok((member, new)) => {
            tracing::info!(member_id = %member.id, role = %member.role, "{what}");
            to_calendar(&new, https)
        }
        Err(e) => refused(e, again),
    }
}

fn reset_form(login: &str, token: &str, message: Option<&str>) -> Markup {
    let action = format!("/reset/{}", urlencoding_path(token));
    shell(
        "Choose a new password",
        None,
        html! {
            h1 { "Choose a new password" }
            (problem(message))
            form.stack method="post" action=(action) {
                input type="hidden" name="login" value=(login);
                label for="password" { "New password" }
                input #password type="password" name="password" autocomplete="new-password" minlength="12" maxlength="256" required;
                p.hint { "12 characters at least. Every other session of yours ends; this browser is signed in." }
                button type="submit" { "Set the password" }
            }
        },
    )
}

/// The form again with the service's words, at the status the API would answer.
fn refused(e: ServiceError, again: impl FnOnce(StatusCode, &str) -> Response) -> Response {
    let e = crate::http::ApiError::from(e);
    let (status, _) = e.status();
    if status.is_server_error() {
        tracing::error!(error = %e, "a sign-in page failed");
        return again(status, "Something went wrong on our side; try again in a moment.");
    }
    again(status, &e.to_string())
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

fn sign_in_form(login: &str, email: &str, message: Option<&str>) -> Markup {
    shell(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            (problem(message))
            form.stack method="post" action="/sign-in" {
                input type="hidden" name="login" value=(login);
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

fn accept_form(login: &str, token: &str, form: &AcceptForm, message: Option<&str>) -> Markup {
    let action = format!("/invite/{}", urlencoding_path(token));
    shell(
        "Join your team",
        None,
        html! {
            h1 { "Join your team" }
            (problem(message))
            form.stack method="post" action=(action) {
                input type="hidden" name="login" value=(login);
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

/// `POST /sign-out-everywhere` (the Settings page's button): every session of the signed-in
/// person ends, on every device (the form carries the session's CSRF token, checked by
/// [`PageForm`]); 303 to the sign-in page with the cookie cleared.
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    client: Client,
    PageForm { caller, form: EmptyForm {} }: PageForm<EmptyForm>,
) -> Result<Response, WebError> {
    let Some(session) = &caller.session else {
        return Err(WebError::Api(crate::http::ApiError::Conflict(
            "this is for people signed in; an API key is revoked on the Settings page".into(),
        )));
    };
    let ended = people::sign_out_everywhere(&*state.store, session.member_id, &session.session_hash).await?;
    tracing::info!(member_id = %session.member_id, ended, "signed out everywhere (page)");
    Ok((StatusCode::SEE_OTHER, [(SET_COOKIE, session_set_cookie(None, client.https)), (LOCATION, HeaderValue::from_static("/sign-in"))])
        .into_response())
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
                return login_page(StatusCode::INTERNAL_SERVER_ERROR, client.https, |login| {
                    sign_in_form(login, "", Some("Signing out failed; try again."))
                });
            }
            tracing::info!(member_id = %session.member_id, "signed out (page)");
            (StatusCode::SEE_OTHER, [(SET_COOKIE, session_set_cookie(None, client.https)), (LOCATION, HeaderValue::from_static("/sign-in"))])
                .into_response()
        }
        Ok(_) => login_page(StatusCode::FORBIDDEN, client.https, |login| {
            sign_in_form(login, "", Some("That sign-out did not come from your own page; nothing changed."))
        }),
        Err(e) => {
            tracing::error!(error = %e, "reading a session failed");
            login_page(StatusCode::INTERNAL_SERVER_ERROR, client.https, |login| {
                sign_in_form(login, "", Some("Something went wrong on our side; try again."))
            })
        }
    }
}
