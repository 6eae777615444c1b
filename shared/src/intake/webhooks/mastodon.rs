//! Mastodon admin webhooks (platforms.md §1.1). Only a server's admins can set them up
//! (*Administration > Webhooks*); ordinary accounts are polled instead.
//!
//! - No handshake.
//! - Signature ✅: `X-Hub-Signature: sha256=<lowercase hex HMAC-SHA256(webhook secret, raw body)>`;
//!   no timestamp and no delivery id, so no replay window (dedupe is the defence).
//! - Body ✅: `{"event", "created_at", "object"}`; for `status.*` the object is a Status entity
//!   (`id`, `created_at`, `edited_at`, `in_reply_to_id`, `in_reply_to_account_id`, `visibility`,
//!   `content` (HTML), `url`, `account`, `mentions[]`…). Mastodon fires `status.created` for
//!   every *local* status of the instance.
//!
//! | `status.created` status | kind | key |
//! |---|---|---|
//! | `visibility: "direct"` | DirectMessage | `status/<id>` |
//! | `in_reply_to_id` set | Reply | `status/<id>` |
//! | `mentions[]` not empty | Mention | `status/<id>` |
//!
//! The key is the status id (platforms.md's natural key is `(event, object.id, updated_at|created_at)`;
//! only `status.created` becomes an interaction, so the status id alone names it, and a
//! notification poller can use the same key). Ignored: statuses that mention and answer nobody,
//! reblogs, `status.updated` (edits), `account.*`, `report.*`, keyed
//! `<event>/<object.id>/<object.updated_at|edited_at|created_at>`. With the channel's account id
//! ([`super::parse_for_account`]) only statuses that mention or answer that account are kept,
//! and its own statuses are ignored. The HTML `content` is turned into plain text; a content
//! warning (`spoiler_text`) comes first, on its own line.

use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    IntakeError, ParsedEvent, envelope, ignored, interaction, item, json_body, name_or, opt_id, time, unusable,
    verify_hub_sha256,
};
use crate::crypto::Credentials;
use crate::domain::{InteractionDraft, InteractionKind};
use crate::text::html_to_text;

/// The secret shown when the admin webhook is created.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
const SIGNATURE: &str = "x-hub-signature";
const SIGNATURE_NAME: &str = "X-Hub-Signature";

pub(super) fn verify(creds: &Credentials, headers: &HeaderMap, body: &[u8]) -> Result<(), IntakeError> {
    verify_hub_sha256(creds, WEBHOOK_SECRET, headers, SIGNATURE, SIGNATURE_NAME, body)
}

#[derive(Deserialize)]
struct Envelope {
    event: String,
    #[serde(default)]
    created_at: Option<Value>,
    object: Value,
}

#[derive(Deserialize)]
struct Status {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_account_id: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    spoiler_text: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    account: Option<Account>,
    #[serde(default)]
    mentions: Vec<Mention>,
    #[serde(default)]
    reblog: Option<Value>,
}

#[derive(Deserialize, Default)]
struct Account {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    acct: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Deserialize)]
struct Mention {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
}

pub(super) fn parse(body: &[u8], own_account: Option<&str>) -> Result<Vec<ParsedEvent>, IntakeError> {
    let env: Envelope = envelope(json_body(body)?)?;
    let natural_key = || {
        let field = |k: &str| {
            env.object.get(k).and_then(|v| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string())))
        };
        let stamp = field("updated_at")
            .or_else(|| field("edited_at"))
            .or_else(|| field("created_at"))
            .or_else(|| env.created_at.as_ref().and_then(|v| v.as_str().map(str::to_owned)))
            .unwrap_or_default();
        format!("{}/{}/{stamp}", env.event, field("id").unwrap_or_default())
    };
    if env.event != "status.created" {
        return Ok(vec![ignored(natural_key(), env.event.clone())]);
    }
    let s: Status = match item(&env.object) {
        Ok(s) => s,
        Err(why) => return Ok(vec![unusable(&env.object, &env.event, &why)]),
    };
    let Some(id) = s.id else { return Ok(vec![unusable(&env.object, &env.event, "no object.id")]) };
    let account = s.account.unwrap_or_default();
    let author_id = account.id.unwrap_or_default();
    if s.reblog.as_ref().is_some_and(|r| !r.is_null()) {
        return Ok(vec![ignored(natural_key(), "status.created (reblog)")]);
    }
    if own_account.is_some_and(|own| own == author_id) {
        return Ok(vec![ignored(natural_key(), "status.created (own)")]);
    }
    let mentioned: Vec<&str> = s.mentions.iter().filter_map(|m| m.id.as_deref()).collect();
    let concerns = |who: &str| mentioned.contains(&who) || s.in_reply_to_account_id.as_deref() == Some(who);
    let relevant = match own_account {
        Some(own) => concerns(own),
        None => !mentioned.is_empty() || s.in_reply_to_id.is_some(),
    };
    if !relevant {
        return Ok(vec![ignored(natural_key(), "status.created (no mention)")]);
    }
    let kind = if s.visibility.as_deref() == Some("direct") {
        InteractionKind::DirectMessage
    } else if s.in_reply_to_id.is_some()
        && own_account.is_none_or(|own| s.in_reply_to_account_id.as_deref() == Some(own))
    {
        InteractionKind::Reply
    } else {
        InteractionKind::Mention
    };
    let Some(created_at) = s.created_at.as_ref().and_then(time).or_else(|| env.created_at.as_ref().and_then(time))
    else {
        return Ok(vec![unusable(&env.object, &env.event, "no created_at")]);
    };
    let content = html_to_text(s.content.as_deref().unwrap_or_default()).trim().to_owned();
    let text = match s.spoiler_text.filter(|w| !w.trim().is_empty()) {
        Some(warning) => format!("{}\n{content}", warning.trim()),
        None => content,
    };
    let name = account.display_name.filter(|n| !n.trim().is_empty()).or(account.acct).or(account.username);
    Ok(vec![interaction(
        format!("status/{id}"),
        InteractionDraft {
            kind,
            thread_id: match kind {
                InteractionKind::DirectMessage => format!("dm:{author_id}"),
                _ => s.in_reply_to_id.clone().unwrap_or_else(|| id.clone()),
            },
            parent_id: s.in_reply_to_id.clone(),
            external_id: id,
            author_name: name_or(name, &author_id),
            author_id,
            text,
            created_at,
            post_external_id: s.in_reply_to_id,
            post_url: s.url.or(s.uri),
            reply_ref: None,
        },
    )])
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::{DateTime, TimeZone, Utc};

    use super::super::{
        EventPayload, WebhookRequest, parse as dispatch_parse, parse_for_account, signing, verify as dispatch_verify,
    };
    use super::*;
    use crate::domain::Platform;

    // platforms.md §0.1
    const BODY: &[u8] = br#"{"event":"status.created","created_at":"2023-10-26T13:34:00.351Z","object":{"id":"1"}}"#;
    const KAT: &str = "sha256=0a73a95a50876d697d79fef3fd46dd29ac15a931659adb9282e0c77e64080a08";

    fn creds(secret: &str) -> Credentials {
        Credentials::from_json("c", &serde_json::json!({ "webhook_secret": secret })).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn check(creds: &Credentials, signature: Option<&str>, body: &[u8]) -> Result<(), IntakeError> {
        let mut headers = HeaderMap::new();
        if let Some(s) = signature {
            headers.insert("X-Hub-Signature", HeaderValue::from_str(s).unwrap());
        }
        dispatch_verify(
            Platform::Mastodon,
            creds,
            &WebhookRequest { method: &Method::POST, query: None, headers: &headers, body },
            now(),
        )
    }

    fn summary(events: &[ParsedEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.payload {
                EventPayload::Interaction(d) => format!("{} {:?}", e.event_id, d.kind),
                EventPayload::Ignored { event_type } => format!("{} ignored {event_type}", e.event_id),
            })
            .collect()
    }

    #[test]
    fn signature_known_answer() {
        assert_eq!(signing::mastodon("webhook_secret", BODY), KAT);
        assert_eq!(check(&creds("webhook_secret"), Some(KAT), BODY), Ok(()));
    }

    #[test]
    fn signature_failures() {
        let unauthorized = |r: Result<(), IntakeError>| matches!(r, Err(IntakeError::Unauthorized(_)));
        assert!(unauthorized(check(&creds("other"), Some(KAT), BODY)));
        assert!(unauthorized(check(&creds("webhook_secret"), None, BODY)));
        assert!(unauthorized(check(
            &creds("webhook_secret"),
            Some(KAT),
            br#"{"event":"status.created","created_at":"2023-10-26T13:34:00.351Z","object":{"id":"2"}}"#
        )));
        for bad in ["0a73a95a50876d697d79fef3fd46dd29ac15a931659adb9282e0c77e64080a08", "sha256=0a73", "sha256=nothex"]
        {
            assert!(unauthorized(check(&creds("webhook_secret"), Some(bad), BODY)), "{bad}");
        }
        // The signature of a GitHub-style X-Hub-Signature-256 header is not looked at.
        let mut headers = HeaderMap::new();
        headers.insert("X-Hub-Signature-256", HeaderValue::from_static(KAT));
        let req = WebhookRequest { method: &Method::POST, query: None, headers: &headers, body: BODY };
        assert!(unauthorized(dispatch_verify(Platform::Mastodon, &creds("webhook_secret"), &req, now())));
        assert_eq!(
            check(&Credentials::default(), Some(KAT), BODY),
            Err(IntakeError::NotConfigured { field: "webhook_secret".into() })
        );
    }

    #[test]
    fn the_known_answer_body_mentions_nobody() {
        assert_eq!(
            summary(&dispatch_parse(Platform::Mastodon, BODY).unwrap()),
            vec!["status.created/1/2023-10-26T13:34:00.351Z ignored status.created (no mention)"]
        );
    }

    #[test]
    fn mention_reply_and_direct_message() {
        let events = dispatch_parse(
            Platform::Mastodon,
            include_bytes!("../../../tests/fixtures/webhooks/mastodon/status_mention.json"),
        )
        .unwrap();
        assert_eq!(summary(&events), vec!["status/113400000000000001 Mention"]);
        let EventPayload::Interaction(d) = &events[0].payload else { unreachable!() };
        assert_eq!(d.text, "@cafeducoin vous servez encore le brunch à 14\u{a0}h ?", "&nbsp; stays non-breaking");
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("109000000000000042", "Zoé 🌿"));
        assert_eq!(d.thread_id, "113400000000000001");
        assert_eq!(d.post_url.as_deref(), Some("https://mastodon.example/@zoe/113400000000000001"));
        assert_eq!(d.created_at, Utc.with_ymd_and_hms(2025, 11, 2, 10, 0, 0).unwrap());

        let events = dispatch_parse(
            Platform::Mastodon,
            include_bytes!("../../../tests/fixtures/webhooks/mastodon/status_reply.json"),
        )
        .unwrap();
        assert_eq!(summary(&events), vec!["status/113400000000000002 Reply"]);
        let EventPayload::Interaction(d) = &events[0].payload else { unreachable!() };
        assert_eq!(d.parent_id.as_deref(), Some("113399999999999999"));
        assert_eq!(d.text, "spoilers: prix\n@cafeducoin un peu cher le café\nmais bon");

        let events = dispatch_parse(
            Platform::Mastodon,
            include_bytes!("../../../tests/fixtures/webhooks/mastodon/status_direct.json"),
        )
        .unwrap();
        assert_eq!(summary(&events), vec!["status/113400000000000003 DirectMessage"]);
        let EventPayload::Interaction(d) = &events[0].payload else { unreachable!() };
        assert_eq!(d.thread_id, "dm:109000000000000042");
    }

    #[test]
    fn with_the_account_id_only_what_concerns_it_is_kept() {
        let mention = include_bytes!("../../../tests/fixtures/webhooks/mastodon/status_mention.json");
        assert_eq!(
            summary(&parse_for_account(Platform::Mastodon, mention, Some("109000000000000001")).unwrap()),
            vec!["status/113400000000000001 Mention"]
        );
        let other = parse_for_account(Platform::Mastodon, mention, Some("109000000000009999")).unwrap();
        assert_eq!(
            summary(&other),
            vec!["status.created/113400000000000001/2025-11-02T10:00:00.000Z ignored status.created (no mention)"]
        );
        let own = parse_for_account(Platform::Mastodon, mention, Some("109000000000000042")).unwrap();
        assert!(summary(&own)[0].ends_with("ignored status.created (own)"));
    }

    #[test]
    fn other_events_are_ignored() {
        let events = dispatch_parse(
            Platform::Mastodon,
            include_bytes!("../../../tests/fixtures/webhooks/mastodon/report_created.json"),
        )
        .unwrap();
        assert_eq!(summary(&events), vec!["report.created/8437/2023-10-26T13:34:00.348Z ignored report.created"]);
        let edit = br#"{"event":"status.updated","created_at":"2025-11-02T10:05:00Z","object":{"id":"5","created_at":"2025-11-02T10:00:00Z","edited_at":"2025-11-02T10:04:59Z","mentions":[{"id":"1"}]}}"#;
        assert_eq!(
            summary(&dispatch_parse(Platform::Mastodon, edit).unwrap()),
            vec!["status.updated/5/2025-11-02T10:04:59Z ignored status.updated"]
        );
        let reblog = br#"{"event":"status.created","object":{"id":"6","created_at":"2025-11-02T10:00:00Z","reblog":{"id":"1"},"mentions":[{"id":"1"}]}}"#;
        assert!(summary(&dispatch_parse(Platform::Mastodon, reblog).unwrap())[0].ends_with("(reblog)"));
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        for body in [&b""[..], br#"{"event":"status.created"}"#, br#"{"object":{}}"#, b"[1]"] {
            assert!(
                matches!(dispatch_parse(Platform::Mastodon, body), Err(IntakeError::BadRequest { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let odd = br#"{"event":"status.created","object":"not a status"}"#;
        assert!(summary(&dispatch_parse(Platform::Mastodon, odd).unwrap())[0].contains("(unusable: invalid type"));
    }
}
