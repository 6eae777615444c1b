//! LinkedIn organization social action notifications (platforms.md §6.1).
//!
//! - Validation ✅ (formula): `GET ?challengeCode=<uuid>[&applicationId=]` → 200 JSON
//!   `{"challengeCode": "<same>", "challengeResponse": "<hex HMAC-SHA256(client_secret, challengeCode)>"}`.
//!   That answer for a code `hmacsha256=<body>` would be `<body>`'s signature, so only a UUID
//!   (the shape LinkedIn sends) is answered; anything else is 400 ([`is_challenge_code`]).
//! - Signature 🟡: `X-LI-Signature: <lowercase hex HMAC-SHA256(client_secret, "hmacsha256=" + raw body)>`
//!   (algorithm from a verbatim capture of the docs and one independent implementation). Built
//!   defensively: a `hmacsha256=` prefix on the *header value* is tolerated, and hex is compared
//!   as bytes (either case).
//! - Body 🟡: `{"type": "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS", "notifications": [{"notificationId",
//!   "organizationalEntity", "action", "sourcePost", "decoratedSourcePost", "lastModifiedAt",
//!   "generatedActivity", "decoratedGeneratedActivity", "subscriber"}]}`, up to 10 a batch.
//!
//! | action | kind | key |
//! |---|---|---|
//! | `COMMENT` | Comment | `comment/<comment URN>` (the decorated comment's `entity`, else `generatedActivity`) |
//! | `SHARE_MENTION` | Mention | `share/<share URN>` |
//!
//! Keys name the comment or share rather than `notificationId` (the documented dedupe field), so
//! a backfill from `/rest/organizationalEntityNotifications` or a re-sent notification lands on
//! the same inbox item; a notification without any URN falls back to `notification/<id>`.
//! Ignored: `LIKE`, `SHARE`, `ADMIN_COMMENT` (the organization's own), `COMMENT_EDIT`,
//! `COMMENT_DELETE`, other families (`LEAD_ACTION`…), keyed `notification/<notificationId>`.
//!
//! The decorated comment/share carry the author's URN (`owner`, e.g. `urn:li:person:…`) but no
//! name: the URN stands for both until a profile lookup fills the name in. The comment text is
//! read from `text`, or `message.text` (both shapes are seen ❓).

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    HandshakeReply, IntakeError, ParsedEvent, check_mac, content_key, envelope, header, ignored, interaction, item,
    json_body, mac, mac_bytes, opt_id, query_param, secret, strip_prefix_ci, time, unusable,
};
use crate::crypto::Credentials;
use crate::domain::{InteractionDraft, InteractionKind};

/// The app's client secret: keys the challenge response and `X-LI-Signature`.
pub const CLIENT_SECRET: &str = "client_secret";
const SIGNATURE: &str = "x-li-signature";
const SIGNATURE_NAME: &str = "X-LI-Signature";
const SOCIAL_ACTIONS: &str = "ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS";

/// Whether `code` is a UUID in its hyphenated form (8-4-4-4-12 hexadecimal digits, either
/// case), the only shape of `challengeCode` answered. A signed message is `hmacsha256=` + body,
/// and no UUID starts with `h`: no challenge answer is ever a delivery's `X-LI-Signature`.
pub(super) fn is_challenge_code(code: &str) -> bool {
    code.len() == 36
        && code.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

pub(super) fn handshake(creds: &Credentials, query: Option<&str>) -> Option<Result<HandshakeReply, IntakeError>> {
    let code = query_param(query, &["challengeCode"])?;
    let answer = || {
        let key = secret(creds, CLIENT_SECRET)?;
        if !is_challenge_code(&code) {
            return Err(IntakeError::bad_request(
                "challengeCode",
                "must be a UUID (8-4-4-4-12 hexadecimal digits), as LinkedIn sends",
            ));
        }
        let body = serde_json::json!({
            "challengeCode": code,
            // `<hex HMAC-SHA256(client_secret, challengeCode)>`
            "challengeResponse": hex::encode(mac_bytes(key, &[code.as_bytes()])),
        });
        Ok(HandshakeReply { content_type: "application/json", body: body.to_string() })
    };
    Some(answer())
}

pub(super) fn verify(creds: &Credentials, headers: &HeaderMap, body: &[u8]) -> Result<(), IntakeError> {
    let key = secret(creds, CLIENT_SECRET)?;
    let value = header(headers, SIGNATURE)?;
    let hex_sig = strip_prefix_ci(value, "hmacsha256=").unwrap_or(value);
    let given =
        hex::decode(hex_sig).map_err(|_| IntakeError::Unauthorized(format!("{SIGNATURE_NAME} is not hexadecimal")))?;
    check_mac(mac(key.as_bytes(), &[b"hmacsha256=", body]), &given, SIGNATURE_NAME)
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    notifications: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    #[serde(default, deserialize_with = "opt_id")]
    notification_id: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    source_post: Option<String>,
    #[serde(default)]
    decorated_source_post: Option<Decorated>,
    #[serde(default)]
    last_modified_at: Option<Value>,
    #[serde(default, deserialize_with = "opt_id")]
    generated_activity: Option<String>,
    #[serde(default)]
    decorated_generated_activity: Option<GeneratedActivity>,
}

#[derive(Deserialize, Default)]
struct GeneratedActivity {
    #[serde(default)]
    comment: Option<Decorated>,
    #[serde(default)]
    share: Option<Decorated>,
}

#[derive(Deserialize, Default, Clone)]
struct Decorated {
    #[serde(default, deserialize_with = "opt_id")]
    entity: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    owner: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize, Default, Clone)]
struct Message {
    #[serde(default)]
    text: Option<String>,
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    let raw = json_body(body)?;
    let env: Envelope = envelope(raw.clone())?;
    if env.kind != SOCIAL_ACTIONS {
        return Ok(vec![ignored(content_key(&raw), env.kind)]);
    }
    Ok(env.notifications.iter().map(notification).collect())
}

fn notification(raw: &Value) -> ParsedEvent {
    let n: Notification = match item(raw) {
        Ok(n) => n,
        Err(why) => return unusable(raw, SOCIAL_ACTIONS, &why),
    };
    let action = n.action.clone().unwrap_or_else(|| "UNKNOWN".to_owned());
    let notification_key =
        || n.notification_id.as_ref().map(|id| format!("notification/{id}")).unwrap_or_else(|| content_key(raw));
    let (kind, decorated, prefix) = match action.as_str() {
        "COMMENT" => (
            InteractionKind::Comment,
            n.decorated_generated_activity.as_ref().and_then(|g| g.comment.as_ref()),
            "comment",
        ),
        "SHARE_MENTION" => {
            (InteractionKind::Mention, n.decorated_generated_activity.as_ref().and_then(|g| g.share.as_ref()), "share")
        }
        _ => return ignored(notification_key(), action),
    };
    let decorated = decorated.cloned().unwrap_or_default();
    let Some(external_id) = decorated.entity.clone().or_else(|| n.generated_activity.clone()) else {
        return unusable(raw, &action, "no generatedActivity");
    };
    let Some(created_at) = n.last_modified_at.as_ref().and_then(time) else {
        return unusable(raw, &action, "no lastModifiedAt");
    };
    let author = decorated.owner.clone().unwrap_or_default();
    let text =
        decorated.text.clone().or_else(|| decorated.message.as_ref().and_then(|m| m.text.clone())).unwrap_or_default();
    let post = n.decorated_source_post.as_ref().and_then(|p| p.entity.clone()).or_else(|| n.source_post.clone());
    let (thread_id, parent_id) = match kind {
        InteractionKind::Comment => {
            let root = n.source_post.clone().or_else(|| post.clone()).unwrap_or_else(|| external_id.clone());
            (root.clone(), Some(root))
        }
        _ => (external_id.clone(), None),
    };
    let url_target = match kind {
        InteractionKind::Comment => n.source_post.clone().or_else(|| post.clone()),
        _ => Some(external_id.clone()),
    };
    interaction(
        format!("{prefix}/{external_id}"),
        InteractionDraft {
            kind,
            external_id,
            thread_id,
            parent_id,
            author_name: author.clone(),
            author_id: author,
            text,
            created_at,
            post_external_id: if kind == InteractionKind::Comment { post } else { None },
            post_url: url_target.map(|u| format!("https://www.linkedin.com/feed/update/{u}")),
            reply_ref: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::{DateTime, TimeZone, Utc};
    use hmac::Mac as _;

    use super::super::{
        EventPayload, WebhookRequest, handshake as dispatch_handshake, parse as dispatch_parse, signing,
        verify as dispatch_verify,
    };
    use super::*;
    use crate::domain::Platform;

    // platforms.md §0.1
    const CHALLENGE: &str = "890e4665-4dfe-4ab1-b689-ed553bceeed3";
    const CHALLENGE_RESPONSE: &str = "a3d2275529a89d6e7609267f4716ebda63a8fb7cd264788ca06d9c43566f057e";
    const BODY: &[u8] = br#"{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notifications":[]}"#;
    const SIGNATURE_KAT: &str = "b7d26f599fb61ed150335f59cd1fb77d4d1334e6c2b6d766ac96d7050ce1b878";

    fn creds(secret: &str) -> Credentials {
        Credentials::from_json("c", &serde_json::json!({ "client_secret": secret })).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn check(creds: &Credentials, signature: Option<&str>, body: &[u8]) -> Result<(), IntakeError> {
        let mut headers = HeaderMap::new();
        if let Some(s) = signature {
            headers.insert("X-LI-Signature", HeaderValue::from_str(s).unwrap());
        }
        dispatch_verify(
            Platform::Linkedin,
            creds,
            &WebhookRequest { method: &Method::POST, query: None, headers: &headers, body },
            now(),
        )
    }

    fn challenge(creds: &Credentials, query: &str) -> Option<Result<HandshakeReply, IntakeError>> {
        let headers = HeaderMap::new();
        dispatch_handshake(
            Platform::Linkedin,
            creds,
            &WebhookRequest { method: &Method::GET, query: Some(query), headers: &headers, body: b"" },
        )
    }

    fn parse(body: &[u8]) -> Vec<ParsedEvent> {
        dispatch_parse(Platform::Linkedin, body).unwrap()
    }

    #[test]
    fn challenge_known_answer() {
        let reply = challenge(&creds("client_secret"), &format!("challengeCode={CHALLENGE}&applicationId=123"))
            .unwrap()
            .unwrap();
        assert_eq!(reply.content_type, "application/json");
        let json: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(json, serde_json::json!({"challengeCode": CHALLENGE, "challengeResponse": CHALLENGE_RESPONSE}));
        assert_eq!(signing::linkedin_challenge_response("client_secret", CHALLENGE), CHALLENGE_RESPONSE);
    }

    #[test]
    fn challenge_refusals() {
        assert_eq!(
            challenge(&Credentials::default(), &format!("challengeCode={CHALLENGE}")),
            Some(Err(IntakeError::NotConfigured { field: "client_secret".into() }))
        );
        assert!(matches!(challenge(&creds("s"), "challengeCode="), Some(Err(IntakeError::BadRequest { .. }))));
        assert_eq!(challenge(&creds("s"), "hub.challenge=1"), None);
    }

    #[test]
    fn only_uuids_are_answered_so_no_answer_signs_a_body() {
        assert!(is_challenge_code(CHALLENGE));
        assert!(is_challenge_code(&CHALLENGE.to_uppercase()));
        // The attack: a code `hmacsha256=<body>` whose answer is `<body>`'s X-LI-Signature.
        let mut crafted = String::from("hmacsha256=");
        crafted.push_str(std::str::from_utf8(BODY).unwrap());
        assert_eq!(signing::linkedin_challenge_response("client_secret", &crafted), SIGNATURE_KAT);
        for bad in [
            crafted.as_str(),
            "abc-123",
            "890e46654dfe4ab1b689ed553bceeed3",
            "890e4665-4dfe-4ab1-b689-ed553bceeed",
            "890e4665-4dfe-4ab1-b689-ed553bceeed3a",
            "890e4665-4dfe-4ab1-b689_ed553bceeed3",
            "g90e4665-4dfe-4ab1-b689-ed553bceeed3",
            "{90e4665-4dfe-4ab1-b689-ed553bceeed3}",
        ] {
            assert!(!is_challenge_code(bad), "{bad}");
            let query = format!("challengeCode={}", bad.replace('{', "%7B").replace('}', "%7D"));
            assert!(
                matches!(challenge(&creds("s"), &query), Some(Err(IntakeError::BadRequest { ref field, .. })) if field == "challengeCode"),
                "{bad}"
            );
        }
        // Every signed message starts with `h`, which no UUID does.
        for body in [&b""[..], b"{}", BODY, CHALLENGE.as_bytes()] {
            let mut message = b"hmacsha256=".to_vec();
            message.extend_from_slice(body);
            assert!(!is_challenge_code(&String::from_utf8_lossy(&message)));
        }
    }

    #[test]
    fn signature_known_answer() {
        assert_eq!(signing::linkedin("client_secret", BODY), SIGNATURE_KAT);
        assert_eq!(check(&creds("client_secret"), Some(SIGNATURE_KAT), BODY), Ok(()));
        assert_eq!(check(&creds("client_secret"), Some(&SIGNATURE_KAT.to_uppercase()), BODY), Ok(()));
        assert_eq!(
            check(&creds("client_secret"), Some(&format!("hmacsha256={SIGNATURE_KAT}")), BODY),
            Ok(()),
            "tolerated prefix"
        );
    }

    #[test]
    fn signature_failures() {
        let unauthorized = |r: Result<(), IntakeError>| matches!(r, Err(IntakeError::Unauthorized(_)));
        assert!(unauthorized(check(&creds("other"), Some(SIGNATURE_KAT), BODY)));
        assert!(unauthorized(check(&creds("client_secret"), None, BODY)));
        assert!(unauthorized(check(
            &creds("client_secret"),
            Some(SIGNATURE_KAT),
            br#"{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notifications":[{}]}"#
        )));
        assert!(unauthorized(check(&creds("client_secret"), Some("not-hex"), BODY)));
        // HMAC of the bare body (without the "hmacsha256=" prefix) is not LinkedIn's signature.
        let bare = hex::encode(mac(b"client_secret", &[BODY]).finalize().into_bytes());
        assert!(unauthorized(check(&creds("client_secret"), Some(&bare), BODY)));
        assert_eq!(
            check(&Credentials::default(), Some(SIGNATURE_KAT), BODY),
            Err(IntakeError::NotConfigured { field: "client_secret".into() })
        );
    }

    #[test]
    fn the_known_answer_body_is_empty() {
        assert_eq!(parse(BODY), vec![]);
    }

    #[test]
    fn comment_from_the_docs_sample() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/linkedin/comment.json"));
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].event_id,
            "comment/urn:li:comment:(urn:li:activity:7094637247890620418,7094977717598625792)"
        );
        let EventPayload::Interaction(d) = &events[0].payload else { panic!("{events:?}") };
        assert_eq!(d.kind, InteractionKind::Comment);
        assert_eq!(d.text, "Commenting as Sumit Butola...");
        assert_eq!(d.author_id, "urn:li:person:zLqTygBP8S");
        assert_eq!(d.author_name, "urn:li:person:zLqTygBP8S");
        assert_eq!(d.thread_id, "urn:li:activity:7094637247890620418");
        assert_eq!(d.post_external_id.as_deref(), Some("urn:li:share:7094637247487995904"));
        assert_eq!(
            d.post_url.as_deref(),
            Some("https://www.linkedin.com/feed/update/urn:li:activity:7094637247890620418")
        );
        assert_eq!(d.created_at, Utc.timestamp_millis_opt(1_691_574_506_310).unwrap());
    }

    #[test]
    fn batch_with_mention_like_admin_comment_and_odd_items() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/linkedin/batch.json"));
        let summary: Vec<(String, String)> = events
            .iter()
            .map(|e| match &e.payload {
                EventPayload::Interaction(d) => (e.event_id.clone(), format!("{:?}: {}", d.kind, d.text)),
                EventPayload::Ignored { event_type } => (e.event_id.clone(), event_type.clone()),
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    "share/urn:li:share:7260000000000000001".into(),
                    "Mention: Bravo à l'équipe de Café du Coin pour le prix !".into()
                ),
                ("notification/5603453400".into(), "LIKE".into()),
                ("notification/5603453401".into(), "ADMIN_COMMENT".into()),
                (
                    "comment/urn:li:comment:(urn:li:activity:7094637247890620418,7094977717598625800)".into(),
                    "Comment: Quels horaires ce week-end ?".into()
                ),
                ("notification/5603453403".into(), "COMMENT_DELETE".into()),
            ]
        );
    }

    #[test]
    fn other_families_are_ignored_and_malformed_bodies_refused() {
        let lead = br#"{"type":"LEAD_ACTION","leadGenFormResponse":"urn:li:leadGenFormResponse:1","leadAction":"CREATED","occurredAt":1700000000000}"#;
        let events = parse(lead);
        assert!(matches!(&events[0].payload, EventPayload::Ignored { event_type } if event_type == "LEAD_ACTION"));
        for body in [&b"{"[..], br#"{"notifications":[]}"#, b"[]"] {
            assert!(matches!(dispatch_parse(Platform::Linkedin, body), Err(IntakeError::BadRequest { .. })));
        }
        let no_time = br#"{"type":"ORGANIZATION_SOCIAL_ACTION_NOTIFICATIONS","notifications":[{"notificationId":1,"action":"COMMENT","generatedActivity":"urn:li:comment:(x,1)"}]}"#;
        assert!(
            matches!(&parse(no_time)[0].payload, EventPayload::Ignored { event_type } if event_type == "COMMENT (unusable: no lastModifiedAt)")
        );
    }
}
