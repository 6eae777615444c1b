//! `GET /v1/openapi.json`: the OpenAPI 3 document, generated from the `#[utoipa::path]`
//! annotations on the handlers, the `ToSchema` derives on the request bodies and the views, and
//! the shared error responses of `error.rs`. Handlers never import this module: it imports
//! them. Every route of [`super::api_router`] is listed in `paths(...)` below;
//! `tests/system/api_openapi.rs` checks that the router and the document agree both ways.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document};
use utoipa::{Modify, OpenApi};

use super::error::{ApiErrorBody, Forbidden, Invalid, TooLarge, Unauthorized};
use super::{calendar, channels, connect, import, inbox, keys, media, people, posts, reports, shares, team, views, webhooks};

/// Adds the bearer API-key scheme every protected operation refers to as `ApiKey`, and the
/// session cookie people sign in with as `Session`.
struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Components::new);
        components.add_security_scheme(
            "ApiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("hrld_…")
                    .description(Some("An API key: `Authorization: Bearer hrld_…`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "Session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "herald_session",
                "A signed-in person's session (POST /auth/sign-in); every change also carries `x-csrf-token`",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald API", description = "Social media for small teams: connect channels (credentials checked \
with the network; Herald publishes to Mastodon, Bluesky and the local sandbox, other networks are intake-only), plan \
posts on a calendar in local time, approve them, answer comments, mentions and messages from one inbox, watch for \
crises, and make reports. Errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`; every request is authenticated \
with an API key or a signed-in person's session cookie (changes then carry `x-csrf-token`) except `/auth/*`, `/health`, this document, the calendar feed (token in its URL) and platform webhooks (signed)."),
    paths(
        super::health,
        super::me,
        serve,
        team::get,
        team::update,
        team::logo,
        channels::list,
        channels::create,
        channels::get,
        channels::update,
        channels::delete,
        connect::start,
        connect::callback,
        connect::get,
        connect::finish,
        posts::list,
        posts::create,
        import::import,
        media::start,
        media::receive,
        media::linked,
        posts::get,
        posts::update,
        posts::cancel,
        posts::approve,
        posts::reject,
        posts::retry,
        keys::list,
        keys::create,
        keys::delete,
        people::invite,
        people::list,
        people::remove,
        people::reset_link,
        people::accept,
        people::sign_in,
        people::reset,
        people::sign_out,
        people::sign_out_everywhere,
        calendar::rotate_token,
        calendar::feed,
        inbox::list,
        inbox::get,
        inbox::assign,
        inbox::add_note,
        inbox::close,
        inbox::reopen,
        inbox::reply,
        inbox::answered,
        inbox::contact,
        inbox::erase_contact,
        inbox::get_watchlist,
        inbox::put_watchlist,
        inbox::incidents,
        reports::create,
        reports::list,
        reports::get,
        reports::file,
        reports::suggest_slots,
        reports::schedule,
        reports::set_schedule,
        shares::create,
        shares::list,
        shares::revoke,
        shares::open,
        webhooks::receive,
        webhooks::handshake,
    ),
    components(
        responses(Unauthorized, Forbidden, TooLarge, Invalid),
        schemas(
            ApiErrorBody,
            team::PatchTeamBody,
            shares::CreateShareBody,
            channels::CreateChannelBody,
            channels::PatchChannelBody,
            channels::SlotBody,
            connect::FinishBody,
            posts::CreatePostBody,
            posts::PatchPostBody,
            posts::MediaBody,
            media::StartUploadBody,
            posts::RecurrenceBody,
            posts::ApproveBody,
            posts::RejectBody,
            keys::CreateKeyBody,
            people::InviteBody,
            people::AcceptBody,
            people::SignInBody,
            people::ResetBody,
            inbox::AssignBody,
            inbox::TextBody,
            inbox::AnsweredBody,
            inbox::WatchlistBody,
            reports::CreateReportBody,
            reports::ScheduleBody,
            crate::intake::GenericInteraction,
        ),
    ),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "meta", description = "Health, the caller, this document"),
        (name = "team", description = "The team's name, time zone, language and logo"),
        (name = "channels", description = "Connected accounts"),
        (name = "posts", description = "Posts, their deliveries, the calendar, import"),
        (name = "keys", description = "API keys"),
        (name = "people", description = "Members, invites, sign-in, sessions and password resets"),
        (name = "calendar", description = "The iCalendar feed"),
        (name = "inbox", description = "Comments, mentions and messages from every channel; contacts; watch list; crisis incidents"),
        (name = "reports", description = "Reports (HTML with charts, CSV, JSON) and best posting times"),
        (name = "webhooks", description = "Where platforms deliver interactions (signed per platform)"),
    ),
)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> Document {
    ApiDoc::openapi()
}

#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    summary = "This OpenAPI 3 document; no key needed",
    responses((status = 200, description = "the OpenAPI 3 document", body = views::OpenApiDocument)),
)]
pub async fn serve() -> Json<views::OpenApiDocument> {
    Json(views::OpenApiDocument(served()))
}

/// The document as served: [`document`] in JSON, with the Link objects' fields spelt as OpenAPI
/// spells them (utoipa 5.5 writes `operation_id`, `operation_ref` and `request_body` there,
/// which no client reads as links).
pub fn served() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(serde_json::Value::as_object_mut).flat_map(|item| item.values_mut()) {
            let Some(responses) = operation.get_mut("responses").and_then(serde_json::Value::as_object_mut) else { continue };
            for response in responses.values_mut() {
                let Some(links) = response.get_mut("links").and_then(serde_json::Value::as_object_mut) else { continue };
                for link in links.values_mut().filter_map(serde_json::Value::as_object_mut) {
                    for (from, to) in [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")] {
                        if let Some(v) = link.remove(from) {
                            link.insert(to.to_owned(), v);
                        }
                    }
                }
            }
        }
    }
    doc
}
