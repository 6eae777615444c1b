//! Standard Webhooks 1.0 (HMAC-SHA256, `whsec_` secrets): signing what Herald sends, and
//! verifying what it receives. Signed content is `{webhook-id}.{webhook-timestamp}.{raw body}`;
//! the header is `v1,<base64 signature>` (a space-separated list when keys rotate).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

/// How far a `webhook-timestamp` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the secret must be `whsec_` followed by base64")]
    BadSecret,
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a number of seconds")]
    BadTimestamp,
    #[error("webhook-timestamp is more than 5 minutes away from now")]
    StaleTimestamp,
    #[error("no signature matches")]
    BadSignature,
}

pub struct StandardWebhooks {
    key: SecretSlice<u8>,
}

impl std::fmt::Debug for StandardWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StandardWebhooks(..)")
    }
}

impl StandardWebhooks {
    /// From a `whsec_<base64>` secret (the prefix is optional, as in the reference libraries).
    pub fn new(secret: &str) -> Result<Self, WebhookError> {
        let b64 = secret.trim().strip_prefix("whsec_").unwrap_or(secret.trim());
        let key = STANDARD.decode(b64).map_err(|_| WebhookError::BadSecret)?;
        if key.is_empty() {
            return Err(WebhookError::BadSecret);
        }
        Ok(Self { key: key.into() })
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` header value for this message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body).finalize().into_bytes()))
    }

    /// Checks the timestamp window and, in constant time, each `v1,` signature of the header.
    pub fn verify(&self, id: &str, timestamp: &str, signatures: &str, body: &[u8], now: i64) -> Result<(), WebhookError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| WebhookError::BadTimestamp)?;
        // Checked: a timestamp near i64::MIN must be refused, not overflow.
        if now.checked_sub(ts).and_then(i64::checked_abs).is_none_or(|d| d > TOLERANCE_SECS) {
            return Err(WebhookError::StaleTimestamp);
        }
        let expected = self.mac(id, ts, body);
        let ok = signatures
            .split_whitespace()
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|sig| expected.clone().verify_slice(&sig).is_ok());
        if ok { Ok(()) } else { Err(WebhookError::BadSignature) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The published Standard Webhooks test vector (platforms.md §0.1).
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_published_vector() {
        assert_eq!(StandardWebhooks::new(SECRET).unwrap().sign(ID, TS, BODY), SIG);
    }

    #[test]
    fn verifies_within_the_window_only() {
        let wh = StandardWebhooks::new(SECRET).unwrap();
        assert_eq!(wh.verify(ID, "1614265330", SIG, BODY, TS + 10), Ok(()));
        assert_eq!(wh.verify(ID, "1614265330", &format!("v1,bogus {SIG}"), BODY, TS), Ok(()), "any listed signature");
        assert_eq!(wh.verify(ID, "1614265330", SIG, BODY, TS + 301), Err(WebhookError::StaleTimestamp));
        assert_eq!(wh.verify(ID, "1614265330", SIG, BODY, TS - 301), Err(WebhookError::StaleTimestamp));
        assert_eq!(wh.verify(ID, "1614265330", SIG, b"{\"test\": 2432232315}", TS), Err(WebhookError::BadSignature));
        assert_eq!(wh.verify("msg_other", "1614265330", SIG, BODY, TS), Err(WebhookError::BadSignature));
        assert_eq!(wh.verify(ID, "yesterday", SIG, BODY, TS), Err(WebhookError::BadTimestamp));
        assert_eq!(wh.verify(ID, "1614265330", "v2,abc", BODY, TS), Err(WebhookError::BadSignature));
        // Extreme timestamps are stale, not an arithmetic overflow.
        assert_eq!(wh.verify(ID, &i64::MIN.to_string(), SIG, BODY, TS), Err(WebhookError::StaleTimestamp));
        assert_eq!(wh.verify(ID, &i64::MAX.to_string(), SIG, BODY, -TS), Err(WebhookError::StaleTimestamp));
    }

    #[test]
    fn refuses_bad_secrets() {
        assert!(StandardWebhooks::new("whsec_!!!").is_err());
        assert!(StandardWebhooks::new("whsec_").is_err());
    }
}
