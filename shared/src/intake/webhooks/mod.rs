//! The pure, per-platform half of webhook intake: handshakes, signatures and payload parsing.
//! No I/O here: every function works on the raw request (method, raw query string, headers,
//! raw body bytes) and the channel's credentials; the caller routes, looks the channel up,
//! stores the raw body, dedupes and fills the inbox ([`super::Intake::receive`]).
//!
//! The order a request goes through: [`handshake`] (a subscription check: answer it and stop),
//! then [`verify`] (signature on the raw bytes, and the timestamp window where the platform
//! signs one), then [`parse`] (JSON → [`ParsedEvent`]s). Facts, sources and test vectors:
//! `platforms.md` beside the repository, sections 0, 0.1, 1.1, 3.1, 4.1, 5.1, 6.1, 7.1, 8.
//!
//! | platform | credentials | handshake | signature header |
//! |---|---|---|---|
//! | `facebook`, `instagram`, `threads` | `app_secret`, `verify_token` | `GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` → the challenge, as text | `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, body)>` |
//! | `x` | `consumer_secret` | `GET ?crc_token=<1–255 of A–Z a–z 0–9 -_.~+/=>` → `{"response_token":"sha256=<base64 HMAC>"}` | `X-Twitter-Webhooks-Signature: sha256=<base64 HMAC-SHA256(consumer_secret, body)>` |
//! | `linkedin` | `client_secret` | `GET ?challengeCode=<UUID>` → `{"challengeCode","challengeResponse":<hex HMAC>}` | `X-LI-Signature: <hex HMAC-SHA256(client_secret, "hmacsha256=" + body)>` |
//! | `tiktok` | `client_secret` | none | `TikTok-Signature: t=<unix s>,s=<hex HMAC-SHA256(client_secret, "<t>.<body>")>`, ±5 min |
//! | `mastodon` | `webhook_secret` | none | `X-Hub-Signature: sha256=<hex HMAC-SHA256(webhook_secret, body)>` |
//! | `generic` | `webhook_secret` (`whsec_…`) | none | Standard Webhooks: `webhook-id`, `webhook-timestamp` (±5 min), `webhook-signature: v1,<base64>` |
//! | `sandbox`, `bluesky` | — | [`IntakeError::Unsupported`] | — |
//!
//! **Handshakes are not signing oracles.** X's CRC answer is `HMAC(consumer_secret, token)`,
//! which is the `x-twitter-webhooks-signature` of a body equal to the token; LinkedIn's answer
//! for a code `hmacsha256=<body>` would be that body's `X-LI-Signature`. So X answers only
//! token-shaped `crc_token`s and refuses (401) every body of that shape, whatever its signature,
//! and LinkedIn answers only a UUID (no signed message, which starts with `hmacsha256=`, is
//! one); other tokens are 400. Meta's handshake echoes `hub.challenge` and computes no MAC (and
//! needs the `verify_token`); TikTok, Mastodon and `generic` have no handshake: none of them
//! can sign anything for a caller.
//!
//! Modules: `common` defines the request, reply, error and event types (re-exported here) and
//! the helpers the platform modules share, and uses none of its siblings. Each platform module
//! (`meta`, `x`, `linkedin`, `tiktok`, `mastodon`, `generic`) uses only `common` of them. This
//! module dispatches to the platform modules. [`signing`] uses `common` and the platform
//! modules' credential names, and computes what a sender must send independently of the
//! verifiers and handshakes. So the imports form no cycle. Not to be confused with
//! `crate::platforms` (the outbound API clients) or `crate::webhooks` (Standard Webhooks
//! signing, which Herald's outgoing webhooks and `generic` use).
//!
//! Header names are matched case-insensitively (HTTP says they are; `http::HeaderMap` stores
//! them lower-cased), so every documented casing is accepted.
//!
//! **Dedupe keys.** Each [`ParsedEvent::event_id`] is unique within one channel (the caller
//! scopes it by channel). For an interaction it names the platform's *object* (a comment, a
//! post, a message), prefixed by what it is: `comment/<id>`, `post/<id>`, `message/<id>`,
//! `tweet/<id>`, `dm/<id>`, `status/<id>`… rather than the delivery: one object can arrive in
//! several events (an X reply that @mentions the account fires both `post.reply.create` and
//! `post.mention.create`; a Facebook comment that tags the Page fires `feed` and `mention`; a
//! Threads reply with a mention fires `replies` and `mentions`), and keying on the object keeps
//! it to one inbox item. Each platform module says which key it uses. Events Herald does not
//! turn into interactions ([`EventPayload::Ignored`]) carry the platform's event id where
//! there is one, else the natural key `platforms.md` gives, else `sha256:<hex>` of the item's
//! JSON (stable across redeliveries of the same bytes).
//!
//! **Parsing policy.** A body that is not JSON, or lacks the platform's envelope (Meta's
//! `object`/`entry`, LinkedIn's `type`, Mastodon's `event`/`object`…), is
//! [`IntakeError::BadRequest`]. Inside a valid envelope, an item of an unknown type, or a known
//! type missing what an interaction needs, becomes [`EventPayload::Ignored`] (its
//! `event_type` then says `"<type> (unusable: <why>)"`), so that one odd item never makes the
//! platform retry, or drop, the whole batch. The raw body is kept by the caller either way.
//! Field lengths are not judged here: [`super::Intake::ingest`] refuses a draft with a field
//! over its bound ([`crate::domain::InteractionDraft::check_bounds`]) for webhooks and pollers
//! alike, counting it as ignored.
//!
//! **Draft fields.** `thread_id` is the root the conversation hangs from (the post commented
//! on, the X conversation, `dm:<counterpart id>` for direct messages); `parent_id` what it
//! answers directly; `author_name` falls back to the author's id (or handle) when the payload
//! carries no name; `post_url` is a link showing the interaction in context when one can be
//! built. `reply_ref` stays `None`: every platform here answers with the ids already in the
//! draft (`external_id`, `author_id`).

mod common;
pub mod generic;
pub mod linkedin;
pub mod mastodon;
pub mod meta;
pub mod signing;
pub mod tiktok;
pub mod x;

use axum::http::Method;
use chrono::{DateTime, Utc};

use crate::crypto::Credentials;
use crate::domain::Platform;

pub use common::{EventPayload, HandshakeReply, IntakeError, ParsedEvent, WebhookRequest};
pub use generic::{GenericAuthor, GenericInteraction, GenericKind};

/// Answers a subscription handshake: `Some(Ok(reply))` to send with 200, `Some(Err(_))` when the
/// request is a handshake that must be refused, `None` when it is not a handshake at all (go on
/// with [`verify`]). Handshakes are `GET`s: Meta's `hub.challenge` (checked against the
/// `verify_token` credential), X's CRC (`crc_token`), LinkedIn's `challengeCode`.
pub fn handshake(
    platform: Platform,
    creds: &Credentials,
    req: &WebhookRequest,
) -> Option<Result<HandshakeReply, IntakeError>> {
    match platform {
        Platform::Sandbox | Platform::Bluesky => Some(Err(IntakeError::Unsupported)),
        _ if req.method != Method::GET => None,
        Platform::Facebook | Platform::Instagram | Platform::Threads => meta::handshake(creds, req.query),
        Platform::X => x::handshake(creds, req.query),
        Platform::Linkedin => linkedin::handshake(creds, req.query),
        Platform::Tiktok | Platform::Mastodon | Platform::Generic => None,
    }
}

/// Checks a delivery's signature on the raw body bytes, in constant time, and its timestamp
/// window where the platform signs one (TikTok, generic). The credentials are checked first: a
/// channel without its secret answers [`IntakeError::NotConfigured`] whatever the request.
pub fn verify(
    platform: Platform,
    creds: &Credentials,
    req: &WebhookRequest,
    now: DateTime<Utc>,
) -> Result<(), IntakeError> {
    match platform {
        Platform::Sandbox | Platform::Bluesky => Err(IntakeError::Unsupported),
        Platform::Facebook | Platform::Instagram | Platform::Threads => meta::verify(creds, req.headers, req.body),
        Platform::X => x::verify(creds, req.headers, req.body),
        Platform::Linkedin => linkedin::verify(creds, req.headers, req.body),
        Platform::Tiktok => tiktok::verify(creds, req.headers, req.body, now),
        Platform::Mastodon => mastodon::verify(creds, req.headers, req.body),
        Platform::Generic => generic::verify(creds, req.headers, req.body, now),
    }
}

/// Normalises a verified body into events (one body may hold several: Meta batches
/// `entry[].changes[]` and `entry[].messaging[]`, LinkedIn up to 10 notifications, X arrays of
/// events). Unknown event types are [`EventPayload::Ignored`], never an error; a body that is
/// not JSON or lacks the platform's envelope is [`IntakeError::BadRequest`].
pub fn parse(platform: Platform, body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    parse_for_account(platform, body, None)
}

/// [`parse`], knowing the channel's own account id on the platform. Only Mastodon needs it:
/// admin webhooks report *every* local status of the instance, so with `Some(id)` only the
/// statuses that mention or answer that account become interactions (and its own statuses are
/// ignored); with `None` every status that mentions or answers anyone does. Other platforms
/// already scope their deliveries to the account (Meta `entry[].id`, X `for_user_id`) and
/// ignore the argument.
pub fn parse_for_account(
    platform: Platform,
    body: &[u8],
    own_account_id: Option<&str>,
) -> Result<Vec<ParsedEvent>, IntakeError> {
    match platform {
        Platform::Sandbox | Platform::Bluesky => Err(IntakeError::Unsupported),
        Platform::Facebook => meta::parse_page(body),
        Platform::Instagram => meta::parse_instagram(body),
        Platform::Threads => meta::parse_threads(body),
        Platform::X => x::parse(body),
        Platform::Linkedin => linkedin::parse(body),
        Platform::Tiktok => tiktok::parse(body),
        Platform::Mastodon => mastodon::parse(body, own_account_id),
        Platform::Generic => generic::parse(body),
    }
}

/// The credential fields a platform's webhooks use (handshake and signature), for the docs and
/// for a clear 409. Meta's `access_token` is the channel's publishing credential, not used by
/// intake, so it is not listed here.
pub fn credential_fields(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Sandbox | Platform::Bluesky => &[],
        Platform::Facebook | Platform::Instagram | Platform::Threads => &[meta::APP_SECRET, meta::VERIFY_TOKEN],
        Platform::X => &[x::CONSUMER_SECRET],
        Platform::Linkedin => &[linkedin::CLIENT_SECRET],
        Platform::Tiktok => &[tiktok::CLIENT_SECRET],
        Platform::Mastodon => &[mastodon::WEBHOOK_SECRET],
        Platform::Generic => &[generic::WEBHOOK_SECRET],
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, StatusCode};

    use super::*;

    fn get(query: &str) -> (Method, HeaderMap, String) {
        (Method::GET, HeaderMap::new(), query.to_owned())
    }

    #[test]
    fn platforms_without_webhooks_are_unsupported_everywhere() {
        let creds = Credentials::default();
        let (method, headers, query) = get("hub.mode=subscribe");
        let req = WebhookRequest { method: &method, query: Some(&query), headers: &headers, body: b"{}" };
        for p in [Platform::Sandbox, Platform::Bluesky] {
            assert_eq!(handshake(p, &creds, &req), Some(Err(IntakeError::Unsupported)));
            assert_eq!(verify(p, &creds, &req, Utc::now()), Err(IntakeError::Unsupported));
            assert_eq!(parse(p, b"{}"), Err(IntakeError::Unsupported));
            assert!(credential_fields(p).is_empty());
            assert_eq!(IntakeError::Unsupported.status(), StatusCode::NOT_FOUND);
        }
    }

    #[test]
    fn platforms_without_handshakes_answer_none() {
        let creds = Credentials::default();
        let (method, headers, query) = get("crc_token=abc&challengeCode=x&hub.challenge=1");
        let req = WebhookRequest { method: &method, query: Some(&query), headers: &headers, body: b"" };
        for p in [Platform::Tiktok, Platform::Mastodon, Platform::Generic] {
            assert_eq!(handshake(p, &creds, &req), None, "{p}");
        }
    }

    #[test]
    fn every_platform_with_webhooks_names_its_credentials_and_refuses_without_them() {
        let creds = Credentials::default();
        let headers = HeaderMap::new();
        let req = WebhookRequest { method: &Method::POST, query: None, headers: &headers, body: b"{}" };
        for p in Platform::ALL.into_iter().filter(|p| !matches!(p, Platform::Sandbox | Platform::Bluesky)) {
            let fields = credential_fields(p);
            assert!(!fields.is_empty(), "{p}");
            match verify(p, &creds, &req, Utc::now()) {
                Err(IntakeError::NotConfigured { field }) => assert!(fields.contains(&field.as_str()), "{p}: {field}"),
                other => panic!("{p}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_map_to_statuses() {
        assert_eq!(IntakeError::Unauthorized("x".into()).status(), StatusCode::UNAUTHORIZED);
        assert_eq!(IntakeError::bad_request("body", "must be JSON").status(), StatusCode::BAD_REQUEST);
        assert_eq!(IntakeError::NotConfigured { field: "app_secret".into() }.status(), StatusCode::CONFLICT);
    }
}
