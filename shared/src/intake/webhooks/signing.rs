//! Computes the signature header each platform sends, for a body and a secret: what a fake
//! platform, an end-to-end test or a load bench needs to send webhooks that [`super::verify`]
//! accepts, and what it needs to check the answer to a handshake. The verifiers and the
//! handshakes compute the same MACs on their own (the verifiers compare them in constant time),
//! so a test that signs with these functions checks them against a second implementation.
//!
//! Each function returns the header *value*; [`headers`] returns every header a delivery needs
//! (name and value), taking the secret from a channel's credentials.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::common::{IntakeError, mac_bytes, secret};
use crate::crypto::Credentials;
use crate::domain::Platform;
use crate::webhooks::StandardWebhooks;

/// `X-Hub-Signature-256` of Facebook, Instagram and Threads: `sha256=<hex HMAC-SHA256(app_secret, body)>`.
pub fn meta(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac_bytes(app_secret, &[body])))
}

/// `X-Hub-Signature` of Mastodon admin webhooks: `sha256=<hex HMAC-SHA256(webhook_secret, body)>`.
pub fn mastodon(webhook_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hex::encode(mac_bytes(webhook_secret, &[body])))
}

/// `x-twitter-webhooks-signature` of X: `sha256=<base64 HMAC-SHA256(consumer_secret, body)>`.
pub fn x(consumer_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", BASE64.encode(mac_bytes(consumer_secret, &[body])))
}

/// X's CRC `response_token` for a `crc_token`: `sha256=<base64 HMAC-SHA256(consumer_secret, crc_token)>`.
pub fn x_crc_response_token(consumer_secret: &str, crc_token: &str) -> String {
    x(consumer_secret, crc_token.as_bytes())
}

/// `X-LI-Signature` of LinkedIn: `<hex HMAC-SHA256(client_secret, "hmacsha256=" + body)>`.
pub fn linkedin(client_secret: &str, body: &[u8]) -> String {
    hex::encode(mac_bytes(client_secret, &[b"hmacsha256=", body]))
}

/// LinkedIn's `challengeResponse` for a `challengeCode`: `<hex HMAC-SHA256(client_secret, challengeCode)>`.
pub fn linkedin_challenge_response(client_secret: &str, challenge_code: &str) -> String {
    hex::encode(mac_bytes(client_secret, &[challenge_code.as_bytes()]))
}

/// `TikTok-Signature` of TikTok: `t=<timestamp>,s=<hex HMAC-SHA256(client_secret, "<timestamp>.<body>")>`.
pub fn tiktok(client_secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},s={}", hex::encode(mac_bytes(client_secret, &[t.as_bytes(), b".", body])))
}

/// `webhook-signature` of Standard Webhooks (`generic`): `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
/// the key being the base64 after `whsec_`. A secret that is not base64 is NotConfigured.
pub fn generic(webhook_secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, IntakeError> {
    let wh = StandardWebhooks::new(webhook_secret)
        .map_err(|_| IntakeError::NotConfigured { field: super::generic::WEBHOOK_SECRET.to_owned() })?;
    Ok(wh.sign(id, timestamp, body))
}

/// The `webhook-id` [`headers`] gives a generic delivery: `msg_` and 24 hex digits of the body's
/// SHA-256, so resending the same body is a redelivery of the same message.
pub fn generic_message_id(body: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(body));
    format!("msg_{}", &digest[..24])
}

/// Every header a signed delivery of `body` to `platform` carries, the secret taken from the
/// channel's credentials (`app_secret`, `consumer_secret`, `client_secret` or `webhook_secret`)
/// and the time (TikTok, generic) from `now`. Names are in the platform's documented casing.
pub fn headers(
    platform: Platform,
    creds: &Credentials,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<(&'static str, String)>, IntakeError> {
    let ts = now.timestamp();
    Ok(match platform {
        Platform::Sandbox | Platform::Bluesky => return Err(IntakeError::Unsupported),
        Platform::Facebook | Platform::Instagram | Platform::Threads => {
            vec![("X-Hub-Signature-256", meta(secret(creds, super::meta::APP_SECRET)?, body))]
        }
        Platform::X => vec![("x-twitter-webhooks-signature", x(secret(creds, super::x::CONSUMER_SECRET)?, body))],
        Platform::Linkedin => vec![("X-LI-Signature", linkedin(secret(creds, super::linkedin::CLIENT_SECRET)?, body))],
        Platform::Tiktok => vec![("TikTok-Signature", tiktok(secret(creds, super::tiktok::CLIENT_SECRET)?, ts, body))],
        Platform::Mastodon => {
            vec![("X-Hub-Signature", mastodon(secret(creds, super::mastodon::WEBHOOK_SECRET)?, body))]
        }
        Platform::Generic => {
            let id = generic_message_id(body);
            let signature = generic(secret(creds, super::generic::WEBHOOK_SECRET)?, &id, ts, body)?;
            vec![("webhook-id", id), ("webhook-timestamp", ts.to_string()), ("webhook-signature", signature)]
        }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
    use chrono::TimeZone;

    use super::*;
    use crate::intake::webhooks::{WebhookRequest, verify};

    fn creds() -> Credentials {
        Credentials::from_json(
            "credentials",
            &serde_json::json!({
                "app_secret": "s1", "consumer_secret": "s2", "client_secret": "s3",
                "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            }),
        )
        .unwrap()
    }

    #[test]
    fn signed_headers_pass_verification_on_every_platform() {
        let now = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
        let body = br#"{"hello":"world"}"#;
        for p in Platform::ALL.into_iter().filter(|p| !matches!(p, Platform::Sandbox | Platform::Bluesky)) {
            let mut creds_json = serde_json::json!({
                "app_secret": "s1", "consumer_secret": "s2", "client_secret": "s3",
                "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            });
            if p == Platform::Mastodon {
                // Mastodon's secret is used as is, not base64.
                creds_json["webhook_secret"] = serde_json::json!("plain mastodon secret");
            }
            let creds = Credentials::from_json("c", &creds_json).unwrap();
            let mut map = HeaderMap::new();
            for (name, value) in headers(p, &creds, body, now).unwrap() {
                map.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(&value).unwrap());
            }
            let req = WebhookRequest { method: &Method::POST, query: None, headers: &map, body };
            assert_eq!(verify(p, &creds, &req, now), Ok(()), "{p}");
            let tampered = WebhookRequest { body: br#"{"hello":"World"}"#, ..req };
            assert!(matches!(verify(p, &creds, &tampered, now), Err(IntakeError::Unauthorized(_))), "{p}");
        }
    }

    #[test]
    fn unsupported_and_unconfigured() {
        let now = Utc::now();
        assert_eq!(headers(Platform::Bluesky, &creds(), b"", now), Err(IntakeError::Unsupported));
        assert_eq!(
            headers(Platform::X, &Credentials::default(), b"", now),
            Err(IntakeError::NotConfigured { field: "consumer_secret".into() })
        );
        assert_eq!(
            generic("whsec_!!", "id", 1, b""),
            Err(IntakeError::NotConfigured { field: "webhook_secret".into() })
        );
    }

    #[test]
    fn generic_message_ids_follow_the_body() {
        assert_eq!(generic_message_id(b"a"), generic_message_id(b"a"));
        assert_ne!(generic_message_id(b"a"), generic_message_id(b"b"));
        assert_eq!(generic_message_id(b"a").len(), 4 + 24);
    }
}
