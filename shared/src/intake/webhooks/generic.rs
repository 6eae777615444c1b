//! `generic`: interactions from any tool that speaks Standard Webhooks 1.0 (platforms.md §8.1 ✅).
//!
//! - Headers: `webhook-id`, `webhook-timestamp` (unix seconds, within ±5 minutes of now),
//!   `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<raw body>")>` (a
//!   space-separated list when keys rotate; any match is enough). Verified by
//!   [`crate::webhooks::StandardWebhooks`], the same code that signs Herald's outgoing webhooks.
//! - Credential: `webhook_secret`, `whsec_<base64 key>`; a secret that is not base64 is
//!   [`IntakeError::NotConfigured`].
//! - Body: one [`GenericInteraction`]. Its `kind` is `comment`, `mention`, `reply` or
//!   `direct_message`; any other kind is [`super::EventPayload::Ignored`] (so senders may send
//!   more event types than Herald reads).
//!
//! Dedupe key: the body's `id`, as given. (The `webhook-id` header names the *delivery* and is
//! not passed to [`super::parse`]; the body's `id` names the interaction, which is what must
//! not be stored twice.)

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{
    IntakeError, ParsedEvent, content_key, envelope, header, ignored, interaction, json_body, name_or, secret, within,
};
use crate::crypto::Credentials;
use crate::domain::{InteractionDraft, InteractionKind};
use crate::webhooks::{StandardWebhooks, WebhookError};

/// The channel's Standard Webhooks secret, `whsec_<base64>`.
pub const WEBHOOK_SECRET: &str = "webhook_secret";

/// What a generic interaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GenericKind {
    Comment,
    Mention,
    Reply,
    DirectMessage,
}

impl GenericKind {
    const NAMES: [&'static str; 4] = ["comment", "mention", "reply", "direct_message"];
}

impl From<GenericKind> for InteractionKind {
    fn from(kind: GenericKind) -> Self {
        match kind {
            GenericKind::Comment => InteractionKind::Comment,
            GenericKind::Mention => InteractionKind::Mention,
            GenericKind::Reply => InteractionKind::Reply,
            GenericKind::DirectMessage => InteractionKind::DirectMessage,
        }
    }
}

/// The body of a `generic` webhook: one comment, mention, reply or direct message, signed with
/// Standard Webhooks. Unknown fields are allowed (and ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "kind": "comment",
    "id": "cmt_8f2a61",
    "author": {"id": "user_42", "name": "Camille Martin"},
    "text": "Vous ouvrez à quelle heure dimanche ?",
    "created_at": "2026-11-02T09:15:00Z",
    "thread_id": "post_1001",
    "parent_id": "post_1001",
    "post_url": "https://forum.example/t/1001"
}))]
pub struct GenericInteraction {
    /// `comment`, `mention`, `reply` or `direct_message`; any other value is accepted and ignored.
    pub kind: GenericKind,
    /// The sender's id of this interaction: Herald's dedupe key (send the same id on retries).
    pub id: String,
    pub author: GenericAuthor,
    pub text: String,
    /// RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The conversation it belongs to; defaults to `id` (it starts one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// What it answers directly, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// A link showing it in context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenericAuthor {
    /// The sender's stable id of the author (contact history and erasure use it).
    pub id: String,
    /// Display name; defaults to `id`.
    #[serde(default)]
    pub name: String,
}

pub(super) fn verify(
    creds: &Credentials,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), IntakeError> {
    let wh = StandardWebhooks::new(secret(creds, WEBHOOK_SECRET)?)
        .map_err(|_| IntakeError::NotConfigured { field: WEBHOOK_SECRET.to_owned() })?;
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    let signatures = header(headers, "webhook-signature")?;
    // The window is checked here first with overflow-proof arithmetic (an absurd timestamp must
    // be a 401, never an arithmetic overflow); `StandardWebhooks::verify` checks it again.
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| IntakeError::Unauthorized("webhook-timestamp is not a number of seconds".to_owned()))?;
    if !within(now.timestamp(), ts, crate::webhooks::TOLERANCE_SECS) {
        return Err(IntakeError::Unauthorized("webhook-timestamp is more than 5 minutes away from now".to_owned()));
    }
    wh.verify(id, timestamp, signatures, body, now.timestamp()).map_err(|e| {
        IntakeError::Unauthorized(match e {
            WebhookError::BadTimestamp => "webhook-timestamp is not a number of seconds".to_owned(),
            WebhookError::StaleTimestamp => "webhook-timestamp is more than 5 minutes away from now".to_owned(),
            other => format!("webhook-signature: {other}"),
        })
    })
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    let raw = json_body(body)?;
    let Some(obj) = raw.as_object() else { return Err(IntakeError::bad_request("body", "must be a JSON object")) };
    let kind = obj.get("kind").and_then(Value::as_str).ok_or_else(|| {
        IntakeError::bad_request("kind", "must be a string: comment, mention, reply or direct_message")
    })?;
    if !GenericKind::NAMES.contains(&kind) {
        let id = obj.get("id").and_then(Value::as_str).filter(|id| !id.is_empty());
        return Ok(vec![ignored(id.map(str::to_owned).unwrap_or_else(|| content_key(&raw)), kind)]);
    }
    let g: GenericInteraction = envelope(raw)?;
    if g.id.trim().is_empty() {
        return Err(IntakeError::bad_request("id", "must not be empty"));
    }
    if g.author.id.trim().is_empty() {
        return Err(IntakeError::bad_request("author.id", "must not be empty"));
    }
    {
        use chrono::Datelike;
        crate::domain::check_year("created_at", g.created_at.year())
            .map_err(|e| IntakeError::bad_request("created_at", e.rule))?;
    }
    let author_name = name_or(Some(g.author.name), &g.author.id);
    Ok(vec![interaction(
        g.id.clone(),
        InteractionDraft {
            kind: g.kind.into(),
            thread_id: g.thread_id.filter(|t| !t.is_empty()).unwrap_or_else(|| g.id.clone()),
            external_id: g.id,
            parent_id: g.parent_id,
            author_id: g.author.id,
            author_name,
            text: g.text,
            created_at: g.created_at,
            post_external_id: None,
            post_url: g.post_url,
            reply_ref: None,
        },
    )])
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::TimeZone;

    use super::super::{EventPayload, WebhookRequest, parse as dispatch_parse, signing, verify as dispatch_verify};
    use super::*;
    use crate::domain::Platform;

    // platforms.md §0.1 (the published Standard Webhooks vector).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn creds(secret: &str) -> Credentials {
        Credentials::from_json("c", &serde_json::json!({ "webhook_secret": secret })).unwrap()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    fn headers(id: Option<&str>, ts: Option<&str>, sig: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)] {
            if let Some(v) = value {
                h.insert(name, HeaderValue::from_str(v).unwrap());
            }
        }
        h
    }

    fn check(creds: &Credentials, headers: &HeaderMap, body: &[u8], now: DateTime<Utc>) -> Result<(), IntakeError> {
        dispatch_verify(
            Platform::Generic,
            creds,
            &WebhookRequest { method: &Method::POST, query: None, headers, body },
            now,
        )
    }

    fn unauthorized(r: Result<(), IntakeError>) -> bool {
        matches!(r, Err(IntakeError::Unauthorized(_)))
    }

    #[test]
    fn standard_webhooks_known_answer() {
        assert_eq!(signing::generic(SECRET, ID, TS, BODY), Ok(SIG.to_owned()));
        let h = headers(Some(ID), Some("1614265330"), Some(SIG));
        assert_eq!(check(&creds(SECRET), &h, BODY, at(TS)), Ok(()));
        // Header names in any case; rotated keys: any listed signature may match.
        let mut upper = HeaderMap::new();
        upper.insert("Webhook-Id", HeaderValue::from_static(ID));
        upper.insert("Webhook-Timestamp", HeaderValue::from_static("1614265330"));
        upper.insert("Webhook-Signature", HeaderValue::from_str(&format!("v1,b2xk {SIG}")).unwrap());
        assert_eq!(check(&creds(SECRET), &upper, BODY, at(TS + 299)), Ok(()));
    }

    #[test]
    fn failures() {
        let c = creds(SECRET);
        let ok = headers(Some(ID), Some("1614265330"), Some(SIG));
        assert!(
            unauthorized(check(&creds("whsec_c2VjcmV0IGJ1dCBub3QgdGhlIHJpZ2h0IG9uZQ=="), &ok, BODY, at(TS))),
            "wrong secret"
        );
        assert!(unauthorized(check(&c, &ok, br#"{"test": 2432232315}"#, at(TS))), "tampered body");
        assert!(unauthorized(check(&c, &ok, BODY, at(TS + 301))), "stale");
        assert!(unauthorized(check(&c, &ok, BODY, at(TS - 301))), "from the future");
        assert!(
            unauthorized(check(&c, &headers(Some("msg_other"), Some("1614265330"), Some(SIG)), BODY, at(TS))),
            "another id"
        );
        assert!(unauthorized(check(&c, &headers(Some(ID), Some("soon"), Some(SIG)), BODY, at(TS))));
        let absurd = headers(Some(ID), Some("-9223372036854775808"), Some(SIG));
        assert!(unauthorized(check(&c, &absurd, BODY, at(TS))), "no overflow");
        assert!(unauthorized(check(&c, &headers(None, Some("1614265330"), Some(SIG)), BODY, at(TS))), "no id");
        assert!(unauthorized(check(&c, &headers(Some(ID), None, Some(SIG)), BODY, at(TS))), "no timestamp");
        assert!(unauthorized(check(&c, &headers(Some(ID), Some("1614265330"), None), BODY, at(TS))), "no signature");
        assert_eq!(
            check(&Credentials::default(), &ok, BODY, at(TS)),
            Err(IntakeError::NotConfigured { field: "webhook_secret".into() })
        );
        assert_eq!(
            check(&creds("whsec_!!!"), &ok, BODY, at(TS)),
            Err(IntakeError::NotConfigured { field: "webhook_secret".into() })
        );
    }

    fn draft(events: &[ParsedEvent]) -> &InteractionDraft {
        match &events[0].payload {
            EventPayload::Interaction(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn comment_with_every_field() {
        let events =
            dispatch_parse(Platform::Generic, include_bytes!("../../../tests/fixtures/webhooks/generic/comment.json"))
                .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "cmt_8f2a61");
        let d = draft(&events);
        assert_eq!(d.kind, InteractionKind::Comment);
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("user_42", "Camille Martin"));
        assert_eq!(d.thread_id, "post_1001");
        assert_eq!(d.parent_id.as_deref(), Some("post_1001"));
        assert_eq!(d.post_url.as_deref(), Some("https://forum.example/t/1001"));
        assert_eq!(d.created_at, Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 0).unwrap(), "offsets are honoured");
    }

    #[test]
    fn direct_message_with_only_the_required_fields() {
        let events = dispatch_parse(
            Platform::Generic,
            include_bytes!("../../../tests/fixtures/webhooks/generic/direct_message_minimal.json"),
        )
        .unwrap();
        let d = draft(&events);
        assert_eq!(d.kind, InteractionKind::DirectMessage);
        assert_eq!(d.thread_id, "dm_77", "thread defaults to the id");
        assert_eq!(d.author_name, "user_9", "name defaults to the id");
        assert_eq!(d.parent_id, None);
    }

    #[test]
    fn mention_and_reply_kinds() {
        for (kind, expected) in [("mention", InteractionKind::Mention), ("reply", InteractionKind::Reply)] {
            let body = format!(
                r#"{{"kind":"{kind}","id":"x1","author":{{"id":"a","name":"A"}},"text":"t","created_at":"2026-11-02T09:15:00Z","extra":{{"ignored":true}}}}"#
            );
            assert_eq!(draft(&dispatch_parse(Platform::Generic, body.as_bytes()).unwrap()).kind, expected);
        }
    }

    #[test]
    fn unknown_kinds_are_ignored() {
        let events = dispatch_parse(
            Platform::Generic,
            include_bytes!("../../../tests/fixtures/webhooks/generic/unknown_kind.json"),
        )
        .unwrap();
        assert_eq!(
            events,
            vec![ParsedEvent {
                event_id: "like_5".into(),
                payload: EventPayload::Ignored { event_type: "like".into() }
            }]
        );
    }

    #[test]
    fn malformed_bodies_are_bad_requests_naming_the_field() {
        let cases: [(&[u8], &str); 7] = [
            (b"not json", "body"),
            (b"[]", "body"),
            (br#"{"id":"1"}"#, "kind"),
            (br#"{"kind":"comment","id":"1","author":{"id":"a"},"text":"t","created_at":"yesterday"}"#, "created_at"),
            (
                br#"{"kind":"comment","id":"1","author":{"name":"a"},"text":"t","created_at":"2026-11-02T09:15:00Z"}"#,
                "author.id",
            ),
            (br#"{"kind":"comment","id":"","author":{"id":"a"},"text":"t","created_at":"2026-11-02T09:15:00Z"}"#, "id"),
            (br#"{"kind":"comment","id":"1","author":{"id":"a"},"created_at":"2026-11-02T09:15:00Z"}"#, "text"),
        ];
        for (body, expected) in cases {
            match dispatch_parse(Platform::Generic, body) {
                Err(IntakeError::BadRequest { field, .. }) => {
                    assert_eq!(field, expected, "{}", String::from_utf8_lossy(body))
                }
                other => panic!("{}: {other:?}", String::from_utf8_lossy(body)),
            }
        }
    }

    #[test]
    fn signed_fixture_round_trip() {
        let body = include_bytes!("../../../tests/fixtures/webhooks/generic/comment.json");
        let now = Utc.with_ymd_and_hms(2026, 11, 2, 9, 16, 0).unwrap();
        let c = creds(SECRET);
        let mut h = HeaderMap::new();
        for (name, value) in signing::headers(Platform::Generic, &c, body, now).unwrap() {
            h.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        assert_eq!(check(&c, &h, body, now), Ok(()));
    }
}
