//! What the platform modules share: the request, reply, error and event types (re-exported by
//! [`super`]), and helpers for credentials, headers, query strings, HMAC, times and ids. It uses
//! none of its sibling modules, so each of them can use it without an import cycle.

use axum::http::{HeaderMap, Method, StatusCode};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::crypto::Credentials;
use crate::domain::InteractionDraft;

/// One webhook request as received: nothing decoded but the transport's base64.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub method: &'a Method,
    /// The raw query string, without the `?` (still percent-encoded).
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The raw body bytes (already base64-decoded when the Lambda event said `isBase64Encoded`).
    pub body: &'a [u8],
}

/// The answer to a handshake; always sent with HTTP 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    pub content_type: &'static str,
    pub body: String,
}

/// Why a webhook request is refused. [`IntakeError::status`] gives the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// 401: a missing or wrong signature, a timestamp outside the window, a wrong verify token.
    #[error("unauthorized webhook: {0}")]
    Unauthorized(String),
    /// 400: the body is not JSON, or lacks a field the platform always sends.
    #[error("{field}: {rule}")]
    BadRequest { field: String, rule: String },
    /// 409: the channel's credentials lack a field this platform's webhooks need.
    #[error("the channel's credentials have no usable `{field}`, which this platform's webhooks need")]
    NotConfigured { field: String },
    /// 404: the platform has no webhooks (sandbox, bluesky).
    #[error("this platform has no webhooks")]
    Unsupported,
}

impl IntakeError {
    pub fn status(&self) -> StatusCode {
        match self {
            IntakeError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            IntakeError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            IntakeError::NotConfigured { .. } => StatusCode::CONFLICT,
            IntakeError::Unsupported => StatusCode::NOT_FOUND,
        }
    }

    pub(crate) fn bad_request(field: impl Into<String>, rule: impl Into<String>) -> Self {
        IntakeError::BadRequest { field: field.into(), rule: rule.into() }
    }
}

/// One event of a webhook body.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    /// The dedupe key within the channel (see "Dedupe keys" in [`super`]).
    pub event_id: String,
    pub payload: EventPayload,
}

// Drafts are not boxed: events live for one request, and boxing would only add allocations.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    Interaction(InteractionDraft),
    /// Not an interaction (a like, a follow, a publish status, our own reply…): kept raw only.
    Ignored {
        event_type: String,
    },
}

pub(super) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 over the concatenation of `parts`.
pub(super) fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac =
        <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    for part in parts {
        mac.update(part);
    }
    mac
}

/// HMAC-SHA256 of `key` over the concatenation of `parts`, as bytes (to hex- or base64-encode).
pub(super) fn mac_bytes(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    mac(key.as_bytes(), parts).finalize().into_bytes().to_vec()
}

/// Compares `given` with the MAC in constant time (`hmac`'s `verify_slice`).
pub(super) fn check_mac(mac: HmacSha256, given: &[u8], header: &str) -> Result<(), IntakeError> {
    mac.verify_slice(given).map_err(|_| IntakeError::Unauthorized(format!("{header} does not match the body")))
}

/// The GitHub-style `sha256=<hex HMAC-SHA256(secret, body)>` header (Meta's
/// `X-Hub-Signature-256`, Mastodon's `X-Hub-Signature`): the secret from credential `field`,
/// the header looked up as `header_lc` and named `header_name` in errors.
pub(super) fn verify_hub_sha256(
    creds: &Credentials,
    field: &'static str,
    headers: &HeaderMap,
    header_lc: &'static str,
    header_name: &str,
    body: &[u8],
) -> Result<(), IntakeError> {
    let key = secret(creds, field)?;
    let value = header(headers, header_lc)?;
    let hex_sig = strip_prefix_ci(value, "sha256=")
        .ok_or_else(|| IntakeError::Unauthorized(format!("{header_name} must be sha256=<hex>")))?;
    let given =
        hex::decode(hex_sig).map_err(|_| IntakeError::Unauthorized(format!("{header_name} is not hexadecimal")))?;
    check_mac(mac(key.as_bytes(), &[body]), &given, header_name)
}

/// Equality of two secrets in time independent of where they differ (length still shows).
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A credential the channel must have, non-empty.
pub(super) fn secret<'a>(creds: &'a Credentials, field: &'static str) -> Result<&'a str, IntakeError> {
    match creds.get(field) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(IntakeError::NotConfigured { field: field.to_owned() }),
    }
}

/// A header's value as text; missing or not visible ASCII is Unauthorized.
pub(super) fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, IntakeError> {
    let value = headers.get(name).ok_or_else(|| IntakeError::Unauthorized(format!("missing header {name}")))?;
    value.to_str().map(str::trim).map_err(|_| IntakeError::Unauthorized(format!("header {name} is not ASCII text")))
}

/// Strips `prefix` from a header value, ignoring ASCII case (`sha256=`, `SHA256=`).
pub(super) fn strip_prefix_ci<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &value[prefix.len()..])
}

/// The first value of one of `names` in a raw query string, percent-decoded (`+` is a space).
pub(super) fn query_param(query: Option<&str>, names: &[&str]) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k);
        names.contains(&key.as_str()).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The whole body as JSON, or 400.
pub(super) fn json_body(body: &[u8]) -> Result<Value, IntakeError> {
    serde_json::from_slice(body).map_err(|e| IntakeError::bad_request("body", format!("must be JSON: {e}")))
}

/// A platform envelope, typed; a missing or mistyped envelope field is 400 naming its path.
pub(super) fn envelope<T: DeserializeOwned>(value: Value) -> Result<T, IntakeError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // "missing field `x`" is reported at the parent's path: name the field itself.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`'));
        match (missing, path.as_str()) {
            (Some(name), ".") => IntakeError::bad_request(name, "is required"),
            (Some(name), parent) => IntakeError::bad_request(format!("{parent}.{name}"), "is required"),
            (None, ".") => IntakeError::bad_request("body", message),
            (None, _) => IntakeError::bad_request(path, message),
        }
    })
}

/// One item inside an envelope, typed; the error says why it cannot be used.
pub(super) fn item<T: DeserializeOwned>(value: &Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        if path == "." { e.into_inner().to_string() } else { format!("{path}: {}", e.into_inner()) }
    })
}

/// An id given as a string or a number (LinkedIn `notificationId`, X numeric ids); empty → None.
pub(super) fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A platform time: unix seconds or milliseconds (number or digits), RFC 3339,
/// `2024-08-07T10:33:16+0000` (Meta), or `Mon May 19 14:01:46 +0000 2025` (X v1.1).
pub(super) fn time(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).and_then(unix),
        Value::String(s) => time_str(s),
        _ => None,
    }
}

/// A platform's time in any of the forms platforms send, within the years Herald reads
/// (1970–9999; anything else is no time at all).
pub(super) fn time_str(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().and_then(unix);
    }
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(s, "%a %b %d %H:%M:%S %z %Y"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").ok().map(|n| n.and_utc()))
        .filter(in_range)
}

/// Unix seconds, or milliseconds when the number is too large to be seconds (year > 5000).
pub(super) fn unix(n: i64) -> Option<DateTime<Utc>> {
    let t = if n.unsigned_abs() >= 100_000_000_000 {
        Utc.timestamp_millis_opt(n).single()
    } else {
        Utc.timestamp_opt(n, 0).single()
    };
    t.filter(in_range)
}

fn in_range(t: &DateTime<Utc>) -> bool {
    use chrono::Datelike;
    crate::domain::check_year("time", t.year()).is_ok()
}

/// Whether `timestamp` (unix seconds) is within `tolerance` seconds of `now`, either way;
/// overflow-proof, so an absurd timestamp is simply outside.
pub(super) fn within(now: i64, timestamp: i64, tolerance: i64) -> bool {
    now.checked_sub(timestamp).is_some_and(|d| d.checked_abs().is_some_and(|d| d <= tolerance))
}

/// `sha256:<hex>` of a JSON value: the dedupe key of an item that carries no id. Object keys
/// are hashed in sorted order (whatever serde_json's map keeps), so the same item always gives
/// the same key.
pub(super) fn content_key(value: &Value) -> String {
    let mut hasher = Sha256::new();
    canonical(value, &mut hasher);
    format!("sha256:{}", hex::encode(hasher.finalize()))
}

fn canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.update(b"{");
            for k in keys {
                out.update(Value::String(k.clone()).to_string().as_bytes());
                out.update(b":");
                if let Some(v) = map.get(k) {
                    canonical(v, out);
                }
                out.update(b",");
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for v in items {
                canonical(v, out);
                out.update(b",");
            }
            out.update(b"]");
        }
        scalar => out.update(scalar.to_string().as_bytes()),
    }
}

pub(super) fn interaction(event_id: String, draft: InteractionDraft) -> ParsedEvent {
    ParsedEvent { event_id, payload: EventPayload::Interaction(draft) }
}

pub(super) fn ignored(event_id: String, event_type: impl Into<String>) -> ParsedEvent {
    ParsedEvent { event_id, payload: EventPayload::Ignored { event_type: event_type.into() } }
}

/// An item of a known type that cannot become an interaction.
pub(super) fn unusable(raw: &Value, event_type: &str, why: &str) -> ParsedEvent {
    ignored(content_key(raw), format!("{event_type} (unusable: {why})"))
}

/// The display name, else the id (some payloads carry no name).
pub(super) fn name_or(name: Option<String>, fallback: &str) -> String {
    name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| fallback.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded() {
        let q = Some("hub.mode=subscribe&hub.verify_token=a%20b+c%2F&hub.challenge=1158201444&empty");
        assert_eq!(query_param(q, &["hub.verify_token"]).as_deref(), Some("a b c/"));
        assert_eq!(query_param(q, &["hub.challenge"]).as_deref(), Some("1158201444"));
        assert_eq!(query_param(q, &["empty"]).as_deref(), Some(""));
        assert_eq!(query_param(q, &["missing"]), None);
        assert_eq!(query_param(None, &["hub.mode"]), None);
        assert_eq!(query_param(Some("a=%zz%4"), &["a"]).as_deref(), Some("%zz%4"), "bad escapes stay literal");
        assert_eq!(query_param(Some("hub_mode=x"), &["hub.mode", "hub_mode"]).as_deref(), Some("x"));
    }

    #[test]
    fn times_in_every_platform_format() {
        let t = Utc.with_ymd_and_hms(2024, 8, 7, 10, 33, 16).unwrap();
        for v in [
            serde_json::json!(1723026796),
            serde_json::json!(1723026796000_i64),
            serde_json::json!("1723026796"),
            serde_json::json!("2024-08-07T10:33:16+0000"),
            serde_json::json!("2024-08-07T10:33:16Z"),
            serde_json::json!("2024-08-07T12:33:16+02:00"),
            serde_json::json!("2024-08-07T10:33:16.000Z"),
            serde_json::json!("Wed Aug 07 10:33:16 +0000 2024"),
        ] {
            assert_eq!(time(&v), Some(t), "{v}");
        }
        assert_eq!(time(&serde_json::json!("yesterday")), None);
        assert_eq!(time(&serde_json::json!(null)), None);
        assert_eq!(time(&serde_json::json!(i64::MIN)), None, "absurd numbers do not panic");
        assert_eq!(time(&serde_json::json!(u64::MAX)), None);
        assert_eq!(time(&serde_json::json!(1e300)), None);
    }

    #[test]
    fn time_windows_do_not_overflow() {
        assert!(within(1000, 700, 300));
        assert!(within(1000, 1300, 300));
        assert!(!within(1000, 1301, 300));
        assert!(!within(1000, i64::MIN, 300));
        assert!(!within(-5, i64::MAX, 300));
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"token", b"token"));
        assert!(!ct_eq(b"token", b"tokeN"));
        assert!(!ct_eq(b"token", b"tokens"));
    }

    #[test]
    fn content_keys_ignore_key_order() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":[1,2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{ "b":[1,2], "a":1 }"#).unwrap();
        assert_eq!(content_key(&a), content_key(&b));
        assert!(content_key(&a).starts_with("sha256:"));
    }
}
