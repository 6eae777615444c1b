//! The Reports screen (`/reports`). Not built yet: this placeholder says so.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use maud::html;

use super::WebError;
use super::page::{Screen, respond, shell_signed_in};
use crate::http::{ApiError, AppState, Caller};

/// This screen's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/reports", get(page))
}

async fn page(State(_state): State<AppState>, caller: Result<Caller, ApiError>) -> Result<Response, WebError> {
    let caller = caller?;
    let csrf = caller.session.as_ref().map(|s| s.csrf_token.as_str());
    let main = html! { h1 { "Reports" } p { "This screen is not built yet." } };
    Ok(respond(StatusCode::OK, shell_signed_in("Reports", Some(Screen::Reports), csrf, main)))
}
