//! `GET /v1/openapi.json`: the OpenAPI 3 document, generated from the `#[utoipa::path]`
//! annotations on the handlers and the `ToSchema` derives on the request bodies. Every route of
//! [`super::api_router`] is listed in `paths(...)` below; `tests/system/api_openapi.rs` checks that the
//! router and the document agree both ways.

use axum::Json;
use serde::Deserialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Components, OpenApi as Document};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{calendar, channels, import, inbox, keys, posts, reports, webhooks};

/// Every error response: `{"error":{"code","message","field"?}}`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApiErrorBody {
    error: ApiErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ApiErrorDetail {
    /// `unauthorized`, `forbidden`, `not_found`, `conflict`, `too_large`, `invalid`,
    /// `method_not_allowed` or `internal`.
    code: String,
    /// For people: what is wrong and, where it helps, what to do.
    message: String,
    /// The input at fault (`text`, `channel_ids[1]`, `publish_at`, …), when there is one.
    field: Option<String>,
}

/// When to publish: an instant (`"2027-01-04T09:00:00Z"`), `"next_slot"` (the channel's next
/// queue slot), or a wall-clock time `{"local","time_zone"?}` (zone defaults to each channel's).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum PublishAtSchema {
    /// An RFC 3339 instant, or `"next_slot"`.
    Text(String),
    /// A local date-time in a zone; DST gaps and overlaps are refused (422).
    Local {
        /// `2027-01-04T10:00:00`
        local: String,
        /// An IANA zone, like `Europe/Paris`.
        time_zone: Option<String>,
    },
}

/// Adds the bearer API-key scheme every protected operation refers to as `ApiKey`.
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
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald API", description = "Social-media scheduling: channels, posts, approvals, the calendar."),
    paths(
        super::health,
        super::me,
        serve,
        channels::list,
        channels::create,
        channels::get,
        channels::update,
        channels::delete,
        posts::list,
        posts::create,
        import::import,
        posts::get,
        posts::update,
        posts::cancel,
        posts::approve,
        posts::retry,
        keys::list,
        keys::create,
        keys::delete,
        calendar::rotate_token,
        calendar::feed,
        inbox::list,
        inbox::get,
        inbox::assign,
        inbox::add_note,
        inbox::close,
        inbox::reopen,
        inbox::reply,
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
        webhooks::receive,
        webhooks::handshake,
    ),
    components(schemas(
        ApiErrorBody,
        ApiErrorDetail,
        PublishAtSchema,
        channels::CreateChannelBody,
        channels::PatchChannelBody,
        channels::SlotBody,
        posts::CreatePostBody,
        posts::PatchPostBody,
        posts::MediaBody,
        posts::RecurrenceBody,
        keys::CreateKeyBody,
        inbox::AssignBody,
        inbox::TextBody,
        inbox::WatchlistBody,
        reports::CreateReportBody,
        reports::ScheduleBody,
        crate::intake::GenericInteraction,
    )),
    modifiers(&ApiKeyScheme),
    tags(
        (name = "meta", description = "Health, the caller, this document"),
        (name = "channels", description = "Connected accounts"),
        (name = "posts", description = "Posts, their deliveries, the calendar, import"),
        (name = "keys", description = "API keys"),
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
    responses((status = 200, description = "the OpenAPI 3 document", body = serde_json::Value)),
)]
pub async fn serve() -> Json<Document> {
    Json(document())
}
