//! The page shell every screen shares, and the error page.

use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::assets;
use crate::http::ApiError;
use crate::services::ServiceError;

/// The screens of the navigation bar, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Calendar,
    Compose,
    Approvals,
    Inbox,
    Reports,
    Channels,
    Settings,
}

impl Screen {
    pub const ALL: [Screen; 7] =
        [Screen::Calendar, Screen::Compose, Screen::Approvals, Screen::Inbox, Screen::Reports, Screen::Channels, Screen::Settings];

    /// Its name in the navigation bar.
    pub fn label(self) -> &'static str {
        match self {
            Screen::Calendar => "Calendar",
            Screen::Compose => "New post",
            Screen::Approvals => "Approvals",
            Screen::Inbox => "Inbox",
            Screen::Reports => "Reports",
            Screen::Channels => "Channels",
            Screen::Settings => "Settings",
        }
    }

    /// Its address.
    pub fn path(self) -> &'static str {
        match self {
            Screen::Calendar => "/calendar",
            Screen::Compose => "/compose",
            Screen::Approvals => "/approvals",
            Screen::Inbox => "/inbox",
            Screen::Reports => "/reports",
            Screen::Channels => "/channels",
            Screen::Settings => "/settings",
        }
    }
}

/// A whole page: `<head>` with the stylesheet and the script, the top bar, then `main`.
pub fn shell(title: &str, current: Option<Screen>, main: Markup) -> Markup {
    shell_signed_in(title, current, None, main)
}

/// [`shell`] for a person signed in with a session: the top bar has a "Sign out" button, a form
/// carrying the session's CSRF token (`csrf`), and the page carries the token in
/// `<meta name="csrf-token">` for the scripts that call the API (they send it in `x-csrf-token`).
pub fn shell_signed_in(title: &str, current: Option<Screen>, csrf: Option<&str>, main: Markup) -> Markup {
    shell_with_scripts(title, current, csrf, &[], main)
}

/// [`shell_signed_in`] with a screen's own scripts (embedded [`assets`], loaded after `app.js`).
pub fn shell_with_scripts(title: &str, current: Option<Screen>, csrf: Option<&str>, scripts: &[&assets::Asset], main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Herald" }
                // No icon yet: an empty one, so browsers do not ask for /favicon.ico.
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(assets::CSS.path());
                @if let Some(csrf) = csrf {
                    meta name="csrf-token" content=(csrf);
                }
                script src=(assets::JS.path()) defer {}
                @for script in scripts {
                    script src=(script.path()) defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Herald" }
                    nav aria-label="Main" {
                        ul {
                            @for screen in Screen::ALL {
                                li {
                                    a href=(screen.path()) aria-current=[(current == Some(screen)).then_some("page")] {
                                        (screen.label())
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(csrf) = csrf {
                        form.signout method="post" action="/sign-out" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (main) }
            }
        }
    }
}

/// An HTML response of `status`.
pub fn respond(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "private, no-store")],
        page.into_string(),
    )
        .into_response()
}

/// What a page can fail with, shown as a page (never the API's JSON): a query parameter that
/// does not read (400 naming it), or any error of the API's ([`ApiError`]: 401, 403, 422
/// naming the field, 500 saying nothing of the internals).
#[derive(Debug)]
pub enum WebError {
    BadParameter { name: &'static str, message: String },
    Api(ApiError),
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        WebError::Api(e)
    }
}

impl From<ServiceError> for WebError {
    fn from(e: ServiceError) -> Self {
        WebError::Api(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, field, message) = match self {
            WebError::BadParameter { name, message } => {
                (StatusCode::BAD_REQUEST, "Bad address", Some(name.to_owned()), message)
            }
            WebError::Api(e) => {
                let (status, _) = e.status();
                if let ApiError::Internal(inner) = &e {
                    tracing::error!(error = %inner, "internal error on a page");
                }
                let field = match &e {
                    ApiError::Invalid(v) => Some(v.field.clone()),
                    _ => None,
                };
                let title = match status {
                    StatusCode::UNAUTHORIZED => "Not signed in",
                    StatusCode::FORBIDDEN => "Not allowed",
                    StatusCode::NOT_FOUND => "Not found",
                    s if s.is_server_error() => "Something went wrong",
                    _ => "That did not work",
                };
                (status, title, field, e.to_string())
            }
        };
        let unauthorized = status == StatusCode::UNAUTHORIZED;
        let main = html! {
            h1 { (title) }
            div.problem role="alert" {
                @if let Some(field) = &field {
                    p { "The parameter " code { (field) } " is not right: " (message) }
                } @else {
                    p { (message) }
                }
            }
            @if unauthorized {
                p { a href="/sign-in" { "Sign in" } }
            } @else {
                p { a href="/calendar" { "Back to the calendar" } }
            }
        };
        respond(status, shell(title, None, main))
    }
}

// ---------------------------------------------------------------------------------------------
// What the screens' forms share: a refusal shown at its form, the status line, a `303`.

/// A change the service refused, to show at its form: the API's status and words (the field
/// named when there is one).
#[derive(Debug)]
pub(super) struct Refusal {
    pub status: StatusCode,
    pub field: Option<String>,
    pub message: String,
}

/// The refusal of `e`, or the error page for what is not a refusal (not signed in, a server
/// error: nothing to show at a form).
pub(super) fn refusal(e: impl Into<ApiError>) -> Result<Refusal, WebError> {
    let e = e.into();
    let (status, _) = e.status();
    if status.is_server_error() || status == StatusCode::UNAUTHORIZED {
        return Err(WebError::Api(e));
    }
    let field = match &e {
        ApiError::Invalid(v) => Some(v.field.clone()),
        ApiError::BadRequest { field, .. } | ApiError::Missing { field, .. } => field.clone(),
        _ => None,
    };
    let message = match &e {
        ApiError::Invalid(v) => v.rule.clone(),
        _ => e.to_string(),
    };
    Ok(Refusal { status, field, message })
}

/// The refusal at its form, when there is one.
pub(super) fn problem(refusal: Option<&Refusal>) -> Markup {
    html! {
        @if let Some(r) = refusal {
            div.problem role="alert" {
                p {
                    @if let Some(field) = &r.field { code { (field) } ": " }
                    (r.message)
                }
            }
        }
    }
}

/// What the last change did, said once at the top of the page it led to.
pub(super) fn status_line(done: Option<Markup>) -> Markup {
    html! {
        @if let Some(done) = done {
            p.done role="status" { (done) }
        }
    }
}

/// `303 See Other` to `location` (a path of this app).
pub(super) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}
