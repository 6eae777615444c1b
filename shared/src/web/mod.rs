//! The web app: server-rendered HTML pages over the same services as the JSON API (see
//! `docs/web.md`). Pages are templates in Rust ([`maud`]), checked when the crate compiles;
//! the one stylesheet and the one script are embedded in the binary ([`assets`]).
//!
//! Their routes are in `http/pages.rs`, merged into [`crate::http::api_router`], so `herald
//! serve` and the `api` function serve the pages with the API (and this module, which uses the
//! API's state and caller, is not named by `http/mod.rs`: no import cycle). Pages are not API
//! operations: they are not in the OpenAPI document.
//!
//! Every page response carries [`CONTENT_SECURITY_POLICY`] (no inline script or style, nothing
//! from another host), `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.

pub mod approvals;
pub mod assets;
pub mod calendar;
pub mod channels;
pub mod connect;
pub mod compose;
pub mod form;
pub mod inbox;
mod page;
pub mod reports;
pub mod reschedule;
pub mod settings;
pub mod sign_in;

use axum::http::header::{self, HeaderValue};
use axum::response::Response;

pub use page::{Screen, WebError};

/// The pages' policy: scripts, styles, fetches and form posts from this origin only, images
/// from here or `data:` URLs, never framed, no `<base>`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every page, asset and redirect of the web app carries. A response that set a
/// policy of its own keeps it: only a report's HTML file does ([`reports::REPORT_CSP`]: its
/// inline styles, no script at all), served as a document of its own.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
