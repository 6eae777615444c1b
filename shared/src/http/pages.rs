//! The web app's routes, beside the API's: `/` (to the calendar), `/calendar`, `/sign-in`,
//! `/invite/{token}`, `/reset/{token}`, `/sign-out`, `/assets/{file}`, and each screen's own (its `routes()`). The pages themselves are in [`crate::web`]; none is an API operation, so
//! none is in the OpenAPI document.

use axum::Router;
use axum::middleware::map_response;
use axum::response::Redirect;
use axum::routing::get;

use super::AppState;
use crate::web;

/// The pages, each response with the web app's security headers ([`web::security_headers`]).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/calendar") }))
        .route("/calendar", get(web::calendar::page))
        .route("/sign-in", get(web::sign_in::sign_in_page).post(web::sign_in::sign_in))
        .route("/invite/{token}", get(web::sign_in::invite_page).post(web::sign_in::accept))
        .route("/reset/{token}", get(web::sign_in::reset_page).post(web::sign_in::reset))
        .route("/sign-out", axum::routing::post(web::sign_in::sign_out))
        .route("/sign-out-everywhere", axum::routing::post(web::sign_in::sign_out_everywhere))
        .route("/assets/{file}", get(web::assets::serve))
        // The networks send people back here (an API operation too: JSON for a non-browser).
        .route("/oauth/{platform}/callback", get(super::connect::callback))
        .merge(web::connect::routes())
        .merge(web::reschedule::routes())
        .merge(web::compose::routes())
        .merge(web::approvals::routes())
        .merge(web::inbox::routes())
        .merge(web::reports::routes())
        .merge(web::channels::routes())
        .merge(web::settings::routes())
        .layer(map_response(web::security_headers))
}
