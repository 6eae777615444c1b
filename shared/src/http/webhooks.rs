//! `GET|POST /webhooks/{platform}/{channel_id}`: where platforms deliver comments, mentions
//! and messages. The handler reads the raw bytes (signatures are over them), hands them to
//! [`crate::intake::Intake`], and answers as soon as they are stored.

use axum::{Json, Router};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::views;
use super::{ApiError, AppState};
use crate::domain::{Platform, ValidationError};
use crate::intake::{HandshakeReply, IntakeError, MAX_WEBHOOK_BODY_BYTES, ReceiveError, Received, WebhookRequest};

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
        ("platform" = Platform, Path, description = "the channel's platform: facebook, instagram, threads, x, linkedin, tiktok, mastodon or generic"),
        ("channel_id" = uuid::Uuid, Path, description = "the channel id (a UUID)"),
    ),
    request_body(content = crate::intake::GenericInteraction, description = "for `generic`: one interaction; other platforms: their own payloads"),
    responses(
        (status = 200, description = "stored (a redelivery creates nothing); or a handshake answer", body = views::WebhookReceived),
        (status = 400, description = "signed, but not a payload of that platform", body = super::error::ApiErrorBody),
        (status = 401, description = "missing or wrong signature, or a timestamp outside the window; nothing stored", body = super::error::ApiErrorBody),
        (status = 404, description = "no such channel for that platform", body = super::error::ApiErrorBody),
        (status = 409, description = "the channel's credentials lack the secret this platform signs with", body = super::error::ApiErrorBody),
        (status = 413, description = "the body is over 256 KiB", body = super::error::ApiErrorBody),
    ),
)]
pub async fn receive(
    State(state): State<AppState>,
    Path((platform, channel_id)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("webhook bodies are limited to {MAX_WEBHOOK_BODY_BYTES} bytes"))
        } else {
            ApiError::Invalid(ValidationError::new("body", "could not be read"))
        }
    })?;
    let request = WebhookRequest { method: &method, query: uri.query(), headers: &headers, body: &body };
    match state.intake().receive(&platform, &channel_id, &request).await {
        Ok(Received::Handshake(reply)) => Ok(Answer::Handshake(reply)),
        Ok(Received::Accepted(summary)) => {
            tracing::info!(platform, created = summary.created, duplicates = summary.duplicates, ignored = summary.ignored, "webhook stored");
            Ok(Answer::Stored(Json(views::WebhookReceived::from(&summary))))
        }
        Err(e) => Err(refusal(e)),
    }
}

/// What the webhook endpoint answers: the platform's handshake in the form it expects, or
/// what was stored.
pub enum Answer {
    Handshake(HandshakeReply),
    Stored(Json<views::WebhookReceived>),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Handshake(reply) => {
                let mut resp = (StatusCode::OK, reply.body).into_response();
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(reply.content_type));
                resp
            }
            Answer::Stored(json) => (StatusCode::OK, json).into_response(),
        }
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
        ("platform" = Platform, Path, description = "the channel's platform"),
        ("channel_id" = uuid::Uuid, Path, description = "the channel id (a UUID)"),
    ),
    responses(
        (status = 200, description = "the challenge answered as the platform expects", content(
            (String = "text/plain"),
            (views::HandshakeAnswer = "application/json"),
        )),
        (status = 400, description = "a challenge not of the platform's shape (X `crc_token`: 1–255 of `A–Z a–z 0–9 -_.~+/=`; LinkedIn `challengeCode`: a UUID)", body = super::error::ApiErrorBody),
        (status = 401, description = "wrong verify token, or not a handshake and not signed", body = super::error::ApiErrorBody),
        (status = 404, description = "no such channel for that platform", body = super::error::ApiErrorBody),
        (status = 409, description = "the channel's credentials lack the secret this platform's handshake uses", body = super::error::ApiErrorBody),
        (status = 413, description = "the body is over 256 KiB", body = super::error::ApiErrorBody),
    ),
)]
pub async fn handshake(
    state: State<AppState>,
    path: Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, ApiError> {
    receive(state, path, method, uri, headers, body).await
}

fn refusal(e: ReceiveError) -> ApiError {
    match e {
        ReceiveError::UnknownEndpoint | ReceiveError::Intake(IntakeError::Unsupported) => {
            ApiError::NotFound("no such webhook endpoint")
        }
        ReceiveError::Intake(IntakeError::Unauthorized(why)) => {
            tracing::warn!(reason = %why, "webhook refused");
            ApiError::BadSignature(why)
        }
        ReceiveError::Intake(IntakeError::BadRequest { field, rule }) => {
            ApiError::BadRequest { message: format!("{field}: {rule}"), field: Some(field) }
        }
        ReceiveError::Intake(IntakeError::NotConfigured { field }) => ApiError::NotConfigured {
            message: format!("the channel's credentials have no `{field}`: set it with PATCH /v1/channels/{{id}}"),
            field: format!("credentials.{field}"),
        },
        ReceiveError::Store(e) => ApiError::Internal(Box::new(e)),
        ReceiveError::Credentials => ApiError::Internal("the channel's credentials could not be opened".into()),
    }
}
