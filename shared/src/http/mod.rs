//! The HTTP surface: axum routers shared by every host (`lambda_http::run` on AWS, a TCP
//! listener in `herald serve`). There is one implementation of every endpoint.
//!
//! A handler reads the request into domain values (its `*Body` types, `listing` for query
//! strings), calls a use case of [`crate::services`], and answers with a view of [`views`]
//! or an [`ApiError`]; `openapi.rs` documents them all and is imported by nothing else.

mod auth;
mod calendar;
mod channels;
mod connect;
mod error;
mod import;
mod inbox;
mod keys;
mod media;
mod people;
pub(crate) mod listing;
pub mod openapi;
mod pages;
pub(crate) mod posts;
mod reports;
mod schemas;
mod shares;
mod team;
pub mod views;
mod webhooks;


use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use auth::{CSRF_HEADER, Caller, Csrf, authenticate, cookie_value, SESSION_COOKIE, SessionCaller, constant_time_eq, over_https, session_cookie, session_set_cookie};
pub use people::Client;
pub use error::{ApiError, ApiErrorBody, ApiErrorDetail, ApiJson, ErrorCode, parse_json, retry_after_value};

use crate::intake::{Intake, IntakeConfig};
use crate::ports::Ports;

/// What every handler may use: the host's [`Ports`] (reached through `Deref`: `state.store`,
/// `state.clock`…) and intake's settings. The same state runs on SQLite or DynamoDB.
#[derive(Clone)]
pub struct AppState {
    pub ports: Ports,
    pub intake: IntakeConfig,
    /// Whether this host takes `sandbox` channels: `herald serve` and the tests do (the sandbox
    /// writes to a folder of the machine); the functions on Lambda do not, and refuse them with
    /// 422 ([`AppState::check_platform_available`]).
    pub sandbox: bool,
    /// Connecting channels with OAuth: the apps' ids and secrets, Herald's public address, the
    /// networks' hosts. Nothing configured by default ([`AppState::with_connect`]).
    pub connect: std::sync::Arc<crate::services::connect::ConnectConfig>,
    /// Where each channel's crisis detector was last synced, shared by every request's intake.
    pub crisis_marks: std::sync::Arc<crate::intake::CrisisMarks>,
}

impl AppState {
    pub fn new(ports: Ports) -> Self {
        Self {
            ports,
            intake: IntakeConfig::default(),
            sandbox: true,
            connect: Default::default(),
            crisis_marks: Default::default(),
        }
    }

    /// This state with the OAuth connect configuration the host read.
    pub fn with_connect(self, connect: crate::services::connect::ConnectConfig) -> Self {
        Self { connect: std::sync::Arc::new(connect), ..self }
    }

    /// This state on a host without the sandbox network (the Lambda functions).
    pub fn without_sandbox(self) -> Self {
        Self { sandbox: false, ..self }
    }

    /// Refuses, when a channel is made, a network this host cannot publish to: `sandbox` on
    /// Lambda (422 naming `platform`, saying what to do instead), rather than accepting the
    /// channel and failing every one of its posts at publishing time.
    ///
    /// The sandbox "publishes" into a file of the machine Herald runs on (`<data-dir>/outbox`)
    /// and is for trying Herald with no account, which `herald serve` does with the same code
    /// and no AWS at all. A Lambda function has no such folder (each execution environment has
    /// its own /tmp, seen by nobody and gone when it is recycled); giving the sandbox an outbox
    /// in S3 or the table would be a second sandbox to build and keep for a use `serve` covers.
    pub fn check_platform_available(&self, platform: crate::domain::Platform) -> Result<(), ApiError> {
        match platform == crate::domain::Platform::Sandbox && !self.sandbox {
            true => Err(crate::domain::ValidationError::new(
                "platform",
                "the sandbox network is not available on this deployment (it writes to a local folder): \
                 try Herald with sandbox channels in `herald serve`, or connect a real account here",
            )
            .into()),
            false => Ok(()),
        }
    }

    /// The intake service on these ports.
    pub fn intake(&self) -> Intake {
        Intake { ports: self.ports.clone(), config: self.intake.clone(), marks: self.crisis_marks.clone() }
    }
}

impl std::ops::Deref for AppState {
    type Target = Ports;

    fn deref(&self) -> &Ports {
        &self.ports
    }
}

/// Request bodies larger than this are refused with 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// For a PATCH body's field that may be absent (unchanged) or null (removed): `Some(value)`
/// whenever the key is present (with `T` an `Option` or a `Value`, `null` is `Some(None)` or
/// `Some(Value::Null)`), `None` when absent (with `#[serde(default)]`).
fn present<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A whole number given as JSON: `6` or `6.0` (JSON Schema's `integer` counts both), never
/// `6.5`, a negative or a string.
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64).map(|f| f as u64))
        .ok_or_else(|| D::Error::custom(format!("must be a whole number, not {n}")))
}

/// The API router: `/health`, everything under `/v1`, the webhooks, and the web app's pages
/// (`/`, `/calendar`, `/assets/…`: [`crate::web`]).
pub fn api_router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/me", get(me))
        .route("/team", get(team::get).patch(team::update))
        .route("/team/logo", get(team::logo))
        .route("/openapi.json", get(openapi::serve))
        .route("/channels", get(channels::list).post(channels::create))
        .route("/channels/{id}", get(channels::get).patch(channels::update).delete(channels::delete))
        .route("/channels/connect/{platform}", post(connect::start))
        .route("/connections/{id}", get(connect::get))
        .route("/connections/{id}/finish", post(connect::finish))
        .route("/posts", get(posts::list).post(posts::create))
        .route("/posts/import", post(import::import))
        .route("/media", post(media::start))
        // A raw `Body` is outside `MAX_BODY_BYTES`: the file is held to the size its signed
        // address announced as it arrives, and streamed to disk.
        .route("/media/upload/{team}/{file}", axum::routing::put(media::receive))
        .route("/media/files/{team}/{file}", get(media::linked))
        .route("/posts/{id}", get(posts::get).patch(posts::update))
        .route("/posts/{id}/cancel", post(posts::cancel))
        .route("/posts/{id}/approve", post(posts::approve))
        .route("/posts/{id}/reject", post(posts::reject))
        .route("/posts/{id}/retry", post(posts::retry))
        .route("/keys", get(keys::list).post(keys::create))
        .route("/keys/{id}", delete(keys::delete))
        .route("/invites", post(people::invite))
        .route("/members", get(people::list))
        .route("/members/{id}", delete(people::remove))
        .route("/members/{id}/reset-link", post(people::reset_link))
        .route("/calendar/token", post(calendar::rotate_token))
        .route("/calendar.ics", get(calendar::feed))
        .route("/inbox", get(inbox::list))
        .route("/inbox/{id}", get(inbox::get))
        .route("/inbox/{id}/assign", post(inbox::assign))
        .route("/inbox/{id}/notes", post(inbox::add_note))
        .route("/inbox/{id}/close", post(inbox::close))
        .route("/inbox/{id}/reopen", post(inbox::reopen))
        .route("/inbox/{id}/reply", post(inbox::reply))
        .route("/inbox/{id}/answered", post(inbox::answered))
        .route("/contacts/{platform}/{author_id}", get(inbox::contact).delete(inbox::erase_contact))
        .route("/watchlist", get(inbox::get_watchlist).put(inbox::put_watchlist))
        .route("/incidents", get(inbox::incidents))
        .route("/reports", get(reports::list).post(reports::create))
        .route("/reports/schedule", get(reports::schedule).patch(reports::set_schedule))
        .route("/reports/{id}", get(reports::get))
        .route("/reports/{id}/shares", get(shares::list).post(shares::create))
        .route("/reports/{id}/shares/{share}", delete(shares::revoke))
        .route("/reports/{id}/{file}", get(reports::file))
        .route("/channels/{id}/slots/suggest", post(reports::suggest_slots))
        .method_not_allowed_fallback(method_not_allowed);
    let auth = Router::new()
        .route("/accept", post(people::accept))
        .route("/sign-in", post(people::sign_in))
        .route("/reset", post(people::reset))
        .route("/sign-out", post(people::sign_out))
        .route("/sign-out-everywhere", post(people::sign_out_everywhere))
        .method_not_allowed_fallback(method_not_allowed);
    let router = Router::new()
        .route("/health", get(health))
        // A report shared by link: no key, the signed token is the permission.
        .route("/share/{token}", get(shares::open))
        .nest("/v1", v1).nest("/auth", auth).merge(pages::routes());
    let router = webhooks::routes(router).fallback(not_found);
    let router = match state.connect.learns_public_url() {
        true => router.layer(axum::middleware::from_fn_with_state(state.connect.clone(), learn_public_url)),
        false => router,
    };
    with_common_layers(router.with_state(state))
}

/// Behind API Gateway: the connect flow's public URL from the first request's `Host`
/// ([`crate::services::connect::ConnectConfig::learning_public_url_from_requests`]).
async fn learn_public_url(
    State(connect): State<std::sync::Arc<crate::services::connect::ConnectConfig>>,
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if connect.learns_public_url()
        && let Some(host) = request.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok())
    {
        connect.learn_public_url(host);
    }
    next.run(request).await
}

/// Body limit, a panic in a handler turned into a 500 for that request alone, request ids
/// (taken from `x-request-id` or made up) and one tracing span per request carrying that id, so
/// every log line of a request can be found by it.
fn with_common_layers(router: Router) -> Router {
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
}

/// The webhook router: `GET|POST /webhooks/{platform}/{channel_id}` and `/health`, for the
/// webhook-intake function. [`api_router`] serves the same routes, for `herald serve`.
pub fn webhook_router(state: AppState) -> Router {
    let router = Router::new().route("/health", get(health));
    with_common_layers(webhooks::routes(router).fallback(not_found).with_state(state))
}

#[utoipa::path(
    get,
    path = "/health",
    tag = "meta",
    operation_id = "health",
    summary = "Liveness and the server's clock; no key needed",
    responses((status = 200, description = "the server is up; its clock", body = views::Health)),
)]
async fn health(State(state): State<AppState>) -> Json<views::Health> {
    Json(views::Health { status: "ok", time: state.clock.now() })
}

/// Who the key belongs to: the first call a client makes to check its key.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "meta",
    operation_id = "me",
    summary = "The caller's team, role and id (and a signed-in person's CSRF token)",
    security(("ApiKey" = [])),
    responses(
        (status = 200, description = "the key's team, role and id", body = views::Me),
        (status = 401, response = error::Unauthorized),
    ),
)]
async fn me(caller: Caller) -> Json<views::Me> {
    let session = caller.session.as_ref();
    Json(views::Me {
        member_id: session.map(|x| x.member_id),
        csrf_token: session.map(|x| x.csrf_token.clone()),
        team_id: caller.team_id,
        role: caller.role,
        key_id: caller.key_id,
    })
}

/// A handler panicked: log what it said (in the request's span) and answer 500 like any internal
/// error. The process, and every other request, carries on.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    axum::response::IntoResponse::into_response(ApiError::Internal(format!("handler panicked: {what}").into()))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("overflow in a date computation")
    }

    /// A handler that panics answers 500 in the API's error shape, and the same router keeps
    /// answering: one request never takes the process (or its other requests) down.
    #[tokio::test]
    async fn a_panicking_handler_is_a_500_for_that_request_alone() {
        let router = with_common_layers(
            Router::new()
                .route("/boom", get(boom))
                .route("/fine", get(|| async { "fine" })),
        );
        let call = |path: &'static str| {
            let router = router.clone();
            async move {
                let resp = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
                let status = resp.status();
                let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
                (status, body)
            }
        };
        let (status, body) = call("/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert_eq!(body["error"]["message"], "internal error", "the panic's words are logged, not sent");
        let (status, body) = call("/fine").await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"fine"[..]));
    }

    /// The release profile unwinds: with `panic = "abort"` the layer above could not catch
    /// anything and one bad request would end `herald serve` for every team.
    #[test]
    fn the_release_profile_unwinds() {
        let manifest = include_str!("../../../Cargo.toml");
        let release = manifest.split("[profile.release]").nth(1).expect("a release profile");
        let release = release.split("\n[").next().unwrap_or(release);
        assert!(!release.lines().any(|l| l.trim_start().starts_with("panic")), "{release}");
    }
}
