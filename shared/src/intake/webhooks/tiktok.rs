//! TikTok developer webhooks (platforms.md §7.1).
//!
//! - No handshake: the callback URL is set in the Developer Portal.
//! - Signature ✅: `TikTok-Signature: t=<unix seconds>,s=<hex HMAC-SHA256(key, "<t>.<raw body>")>`;
//!   the key is the app's `client_secret` 🟡 (the doc excerpt is cut before it names the key).
//!   TikTok says to reject old timestamps without giving a number: Herald accepts ±5 minutes
//!   around now ([`TOLERANCE_SECS`], the Standard Webhooks tolerance) ❓.
//! - Body ✅: `{"client_key", "event", "create_time", "user_openid", "content": "<JSON string>"}`.
//!
//! The developer API sends lifecycle events only (`authorization.removed`, `video.upload.failed`,
//! `video.publish.completed`, `post.publish.*`): no comments, mentions or messages ❓ (comments
//! exist only in the separate Business API). So every event is [`super::EventPayload::Ignored`]
//! (kept raw for the publisher and for audit). There is no event id: the key is the natural one
//! platforms.md suggests ❓, `<event>/<user_openid>/<create_time>/<content.publish_id>` (the last
//! part empty when the content has no `publish_id`).

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    IntakeError, ParsedEvent, check_mac, envelope, header, ignored, json_body, mac, opt_id, secret, within,
};
use crate::crypto::Credentials;

/// The app's client secret: keys `TikTok-Signature`.
pub const CLIENT_SECRET: &str = "client_secret";
/// How far `t=` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;
const SIGNATURE: &str = "tiktok-signature";
const SIGNATURE_NAME: &str = "TikTok-Signature";

pub(super) fn verify(
    creds: &Credentials,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), IntakeError> {
    let key = secret(creds, CLIENT_SECRET)?;
    let value = header(headers, SIGNATURE)?;
    let (mut t, mut s) = (None, None);
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.trim()),
            Some(("s", v)) => s = Some(v.trim()),
            _ => {}
        }
    }
    let malformed = || IntakeError::Unauthorized(format!("{SIGNATURE_NAME} must be t=<unix seconds>,s=<hex>"));
    let (t, s) = (t.ok_or_else(malformed)?, s.ok_or_else(malformed)?);
    let ts: i64 = t.parse().map_err(|_| malformed())?;
    if !within(now.timestamp(), ts, TOLERANCE_SECS) {
        return Err(IntakeError::Unauthorized(format!(
            "{SIGNATURE_NAME} timestamp is more than {TOLERANCE_SECS} s away from now"
        )));
    }
    let given = hex::decode(s).map_err(|_| malformed())?;
    check_mac(mac(key.as_bytes(), &[t.as_bytes(), b".", body]), &given, SIGNATURE_NAME)
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    user_openid: Option<String>,
    #[serde(default)]
    create_time: Option<Value>,
    /// A JSON document in a string.
    #[serde(default)]
    content: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(default, deserialize_with = "opt_id")]
    publish_id: Option<String>,
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    let env: Envelope = envelope(json_body(body)?)?;
    let content: Content = match &env.content {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        Some(v @ Value::Object(_)) => serde_json::from_value(v.clone()).unwrap_or_default(),
        _ => Content::default(),
    };
    let create_time = match &env.create_time {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let key = format!(
        "{}/{}/{}/{}",
        env.event,
        env.user_openid.unwrap_or_default(),
        create_time,
        content.publish_id.unwrap_or_default()
    );
    Ok(vec![ignored(key, env.event)])
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::TimeZone;

    use super::super::{EventPayload, WebhookRequest, parse as dispatch_parse, signing, verify as dispatch_verify};
    use super::*;
    use crate::domain::Platform;

    // platforms.md §0.1: the body is the fixture file, byte for byte.
    const BODY: &[u8] = include_bytes!("../../../tests/fixtures/webhooks/tiktok/authorization_removed.json");
    const KAT: &str = "t=1633174587,s=bcda6c7a228bc49bc4fa24b8012238c52d95b0978fae8be10453abd31c3ac6c5";
    const KAT_TS: i64 = 1633174587;

    fn creds(secret: &str) -> Credentials {
        Credentials::from_json("c", &serde_json::json!({ "client_secret": secret })).unwrap()
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).unwrap()
    }

    fn check(creds: &Credentials, signature: Option<&str>, body: &[u8], now: DateTime<Utc>) -> Result<(), IntakeError> {
        let mut headers = HeaderMap::new();
        if let Some(s) = signature {
            headers.insert("TikTok-Signature", HeaderValue::from_str(s).unwrap());
        }
        dispatch_verify(
            Platform::Tiktok,
            creds,
            &WebhookRequest { method: &Method::POST, query: None, headers: &headers, body },
            now,
        )
    }

    fn unauthorized(r: Result<(), IntakeError>) -> bool {
        matches!(r, Err(IntakeError::Unauthorized(_)))
    }

    #[test]
    fn signature_known_answer() {
        assert_eq!(signing::tiktok("client_secret", KAT_TS, BODY), KAT);
        assert_eq!(check(&creds("client_secret"), Some(KAT), BODY, at(KAT_TS)), Ok(()));
        assert_eq!(
            check(
                &creds("client_secret"),
                Some(" s=bcda6c7a228bc49bc4fa24b8012238c52d95b0978fae8be10453abd31c3ac6c5, t=1633174587"),
                BODY,
                at(KAT_TS)
            ),
            Ok(()),
            "any order, spaces"
        );
    }

    #[test]
    fn the_timestamp_window_is_five_minutes_either_way() {
        let c = creds("client_secret");
        assert_eq!(check(&c, Some(KAT), BODY, at(KAT_TS + 300)), Ok(()));
        assert_eq!(check(&c, Some(KAT), BODY, at(KAT_TS - 300)), Ok(()));
        assert!(unauthorized(check(&c, Some(KAT), BODY, at(KAT_TS + 301))), "stale");
        assert!(unauthorized(check(&c, Some(KAT), BODY, at(KAT_TS - 301))), "from the future");
        let absurd = KAT.replace("t=1633174587", "t=-9223372036854775808");
        assert!(unauthorized(check(&c, Some(&absurd), BODY, at(KAT_TS))), "no overflow");
    }

    #[test]
    fn signature_failures() {
        let c = creds("client_secret");
        let now = at(KAT_TS);
        assert!(unauthorized(check(&creds("other"), Some(KAT), BODY, now)));
        assert!(unauthorized(check(&c, None, BODY, now)));
        assert!(unauthorized(check(&c, Some(KAT), &BODY[..BODY.len() - 1], now)), "tampered body");
        // The same signature with another timestamp is refused: t is signed.
        let moved = KAT.replace("t=1633174587", "t=1633174588");
        assert!(unauthorized(check(&c, Some(&moved), BODY, now)));
        for bad in ["t=1633174587", "s=bcda", "t=soon,s=bcda", "t=1633174587,s=xyz", "sha256=bcda"] {
            assert!(unauthorized(check(&c, Some(bad), BODY, now)), "{bad}");
        }
        assert_eq!(
            check(&Credentials::default(), Some(KAT), BODY, now),
            Err(IntakeError::NotConfigured { field: "client_secret".into() })
        );
    }

    #[test]
    fn every_event_is_ignored_with_its_natural_key() {
        let events = dispatch_parse(Platform::Tiktok, BODY).unwrap();
        assert_eq!(
            events,
            vec![ParsedEvent {
                event_id: "authorization.removed/act.example12345Example12345Example/1615338610/".into(),
                payload: EventPayload::Ignored { event_type: "authorization.removed".into() },
            }]
        );
        let events = dispatch_parse(
            Platform::Tiktok,
            include_bytes!("../../../tests/fixtures/webhooks/tiktok/post_publish_publicly_available.json"),
        )
        .unwrap();
        assert_eq!(
            events[0].event_id,
            "post.publish.publicly_available/act.example12345Example12345Example/1762000000/v_pub_url~v2.123456789"
        );
        let events = dispatch_parse(
            Platform::Tiktok,
            include_bytes!("../../../tests/fixtures/webhooks/tiktok/post_publish_failed.json"),
        )
        .unwrap();
        assert!(
            matches!(&events[0].payload, EventPayload::Ignored { event_type } if event_type == "post.publish.failed")
        );
        let unknown = br#"{"event":"comment.update","create_time":1,"content":"not json"}"#;
        assert_eq!(dispatch_parse(Platform::Tiktok, unknown).unwrap()[0].event_id, "comment.update//1/");
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        for body in [&b"<xml/>"[..], br#"{"client_key":"k"}"#, b"[]"] {
            assert!(matches!(dispatch_parse(Platform::Tiktok, body), Err(IntakeError::BadRequest { .. })));
        }
    }
}
