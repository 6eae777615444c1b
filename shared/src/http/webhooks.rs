//! `GET|POST /webhooks/{platform}/{channel_id}`: where platforms deliver comments, mentions
//! and messages. The handler reads the raw bytes (signatures are over them), hands them to
//! [`crate::intake::Intake`], and answers as soon as they are stored.

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::{ApiError, AppState};
use crate::domain::ValidationError;
use crate::intake::{IntakeError, MAX_WEBHOOK_BODY_BYTES, ReceiveError, Received, WebhookRequest};

/// Adds the webhook route to `router`.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    router.route(
        "/webhooks/{platform}/{channel_id}",
        get(handshake).post(receive).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY_BYTES)),
    )
}

#[utoipa::path(
    post,
    path = "/webhooks/{platform}/{channel_id}",
    tag = "webhooks",
    operation_id = "receive_webhook",
    summary = "Platform webhook delivery (signed; GET answers the platform's handshake)",
    description = "Each platform signs its deliveries: Meta `X-Hub-Signature-256`, X \
        `x-twitter-webhooks-signature`, LinkedIn `X-LI-Signature`, TikTok `TikTok-Signature`, \
        Mastodon `X-Hub-Signature`, and `generic` channels Standard Webhooks headers \
        (`webhook-id`, `webhook-timestamp`, `webhook-signature`, 5-minute tolerance) with the \
        channel's `webhook_secret` (`whsec_…`). A `generic` body is one interaction \
        (`GenericInteraction`). A redelivery answers 200 and creates nothing.",
    params(
        ("platform" = String, Path, description = "the channel's platform: facebook, instagram, threads, x, linkedin, tiktok, mastodon or generic"),
        ("channel_id" = String, Path, description = "the channel id (a UUID)"),
    ),
    request_body(content = crate::intake::GenericInteraction, description = "for `generic`: one interaction; other platforms: their own payloads"),
    responses(
        (status = 200, description = "stored: `{\"created\",\"duplicates\",\"ignored\"}`; or a handshake answer", body = serde_json::Value),
        (status = 400, description = "signed, but not a payload of that platform", body = crate::http::openapi::ApiErrorBody),
        (status = 401, description = "missing or wrong signature, or a timestamp outside the window; nothing stored", body = crate::http::openapi::ApiErrorBody),
        (status = 404, description = "no such channel for that platform", body = crate::http::openapi::ApiErrorBody),
        (status = 409, description = "the channel's credentials lack the secret this platform signs with", body = crate::http::openapi::ApiErrorBody),
        (status = 413, description = "the body is over 256 KiB", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((platform, channel_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::TooLarge(format!("webhook bodies are limited to {MAX_WEBHOOK_BODY_BYTES} bytes"))
                .into_response();
        }
        Err(_) => return ApiError::Invalid(ValidationError::new("body", "could not be read")).into_response(),
    };
    let request = WebhookRequest { method: &method, query: uri.query(), headers: &headers, body: &body };
    match state.intake().receive(&platform, &channel_id, &request).await {
        Ok(Received::Handshake(reply)) => {
            let mut resp = (StatusCode::OK, reply.body).into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
            resp
        }
        Ok(Received::Accepted(summary)) => {
            tracing::info!(platform, created = summary.created, duplicates = summary.duplicates, ignored = summary.ignored, "webhook stored");
            (StatusCode::OK, axum::Json(json!(summary))).into_response()
        }
        Err(e) => refusal(e).into_response(),
    }
}

/// The GET side of the same endpoint: subscription handshakes (Meta `hub.challenge`, X CRC,
/// LinkedIn `challengeCode`). Handled exactly as a POST.
#[utoipa::path(
    get,
    path = "/webhooks/{platform}/{channel_id}",
    tag = "webhooks",
    operation_id = "webhook_handshake",
    summary = "Subscription handshake: Meta hub.challenge, X crc_token, LinkedIn challengeCode",
    params(
        ("platform" = String, Path, description = "the channel's platform"),
        ("channel_id" = String, Path, description = "the channel id (a UUID)"),
    ),
    responses(
        (status = 200, description = "the challenge answered as the platform expects", body = String),
        (status = 401, description = "wrong verify token", body = crate::http::openapi::ApiErrorBody),
        (status = 404, description = "no such channel for that platform", body = crate::http::openapi::ApiErrorBody),
    ),
)]
pub async fn handshake(
    state: State<AppState>,
    path: Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    receive(state, path, method, uri, headers, body).await
}

fn refusal(e: ReceiveError) -> Response {
    let (status, code, message, field) = match e {
        ReceiveError::UnknownEndpoint | ReceiveError::Intake(IntakeError::Unsupported) => {
            (StatusCode::NOT_FOUND, "not_found", "no such webhook endpoint".to_owned(), None)
        }
        ReceiveError::Intake(IntakeError::Unauthorized(why)) => {
            tracing::warn!(reason = %why, "webhook refused");
            (StatusCode::UNAUTHORIZED, "unauthorized", why, None)
        }
        ReceiveError::Intake(IntakeError::BadRequest { field, rule }) => {
            (StatusCode::BAD_REQUEST, "bad_request", format!("{field}: {rule}"), Some(field))
        }
        ReceiveError::Intake(IntakeError::NotConfigured { field }) => (
            StatusCode::CONFLICT,
            "not_configured",
            format!("the channel's credentials have no `{field}`: set it with PATCH /v1/channels/{{id}}"),
            Some(format!("credentials.{field}")),
        ),
        ReceiveError::Store(e) => return ApiError::Internal(Box::new(e)).into_response(),
        ReceiveError::Credentials => {
            return ApiError::Internal("the channel's credentials could not be opened".into()).into_response();
        }
    };
    let mut error = json!({"code": code, "message": message});
    if let Some(field) = field {
        error["field"] = json!(field);
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}
