//! X (Twitter) webhooks: the Account Activity API (AAA, v1.1-shaped payloads) and the X Activity
//! API (XAA, `{"data": {"event_uuid", "event_type", "payload", ...}}`) share the V2 webhook
//! transport (platforms.md §3.1 ✅).
//!
//! - CRC ✅: `GET ?crc_token=<t>` → `{"response_token": "sha256=<base64 HMAC-SHA256(consumer_secret, t)>"}`.
//!   That answer is exactly the signature of a body equal to `t`, so the CRC would sign any
//!   body an attacker puts in the query. X documents no token format (its examples are UUIDs,
//!   platforms.md §0.1) ❓: Herald answers only tokens of 1 to [`MAX_CRC_TOKEN_LEN`] characters
//!   from `A–Z a–z 0–9 - _ . ~ + / =` (UUIDs, base64, base64url), refuses any other with 400,
//!   and [`verify`] refuses (401) every body of that shape before looking at its signature.
//!   No delivery has it (deliveries are JSON objects, `{…}`), so no CRC answer signs a body
//!   Herald keeps.
//! - Signature ✅: `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer_secret, raw body)>`;
//!   no timestamp, so no replay window (dedupe is the defence).
//! - The credential is the app's *consumer secret* ("API secret key"), `consumer_secret`.
//!
//! What becomes an interaction (keys name the object, so a tweet that arrives as both a reply
//! and a mention, or through both AAA and XAA, is one inbox item):
//!
//! | delivery | kind | key |
//! |---|---|---|
//! | AAA `tweet_create_events[]` replying to `for_user_id` | Reply | `tweet/<id_str>` |
//! | AAA `tweet_create_events[]` mentioning or quoting `for_user_id` | Mention | `tweet/<id_str>` |
//! | AAA `direct_message_events[]` (`message_create`) received | DirectMessage | `dm/<id>` |
//! | XAA `post.reply.create`, `post.mention.create` | Reply (when it answers the filtered user or is a reply event), else Mention | `tweet/<payload.id>` |
//! | XAA `dm.received` | DirectMessage | `dm/<id>` |
//!
//! Ignored: the account's own tweets and sent DMs, retweets, tweets that neither answer nor
//! mention nor quote the account, and every other event (`favorite_events`, `follow_events`,
//! `tweet_delete_events`, typing and read events, `user_event`, replay job status, XAA
//! `post.create`, `like.create`, `follow.*`, `dm.sent`, …). Ignored tweets and DMs keep their
//! `tweet/`/`dm/` key, other XAA events are keyed `xaa/<event_uuid>` (X's delivery id), other
//! AAA items by content hash (AAA items carry no delivery id).
//!
//! A webhook may be shared by several subscribed accounts: with `for_user_id` (AAA) or
//! `filter.user_id` (XAA) present, "own" and "about the account" are judged against it.
//!
//! AAA tweets have no `conversation_id`: their `thread_id` is the tweet they answer (else
//! themselves). XAA posts use `conversation_id`. A long AAA tweet's text is
//! `extended_tweet.full_text`; a long XAA post's is `note_tweet.text` when present.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    HandshakeReply, IntakeError, ParsedEvent, check_mac, content_key, header, ignored, interaction, item, json_body,
    mac, mac_bytes, name_or, opt_id, query_param, secret, strip_prefix_ci, time, unusable,
};
use crate::crypto::Credentials;
use crate::domain::{InteractionDraft, InteractionKind};

/// The app's consumer secret (API secret key): keys the CRC and the event signatures.
pub const CONSUMER_SECRET: &str = "consumer_secret";
const SIGNATURE: &str = "x-twitter-webhooks-signature";
/// The longest `crc_token` the CRC answers (X's own are UUIDs, 36 characters).
pub const MAX_CRC_TOKEN_LEN: usize = 255;

/// Whether `bytes` have the shape of a `crc_token` Herald answers: 1 to [`MAX_CRC_TOKEN_LEN`]
/// of `A–Z a–z 0–9 - _ . ~ + / =`. The same test refuses such bodies in [`verify`]: a CRC
/// answer is `HMAC(consumer_secret, token)`, the signature of a body equal to the token.
pub(super) fn is_crc_token(bytes: &[u8]) -> bool {
    (1..=MAX_CRC_TOKEN_LEN).contains(&bytes.len())
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(b))
}

pub(super) fn handshake(creds: &Credentials, query: Option<&str>) -> Option<Result<HandshakeReply, IntakeError>> {
    let token = query_param(query, &["crc_token"])?;
    let answer = || {
        let key = secret(creds, CONSUMER_SECRET)?;
        if !is_crc_token(token.as_bytes()) {
            return Err(IntakeError::bad_request(
                "crc_token",
                format!("must be 1 to {MAX_CRC_TOKEN_LEN} letters, digits or `-_.~+/=` (a UUID, base64)"),
            ));
        }
        // `sha256=<base64 HMAC-SHA256(consumer_secret, crc_token)>`
        let response_token = format!("sha256={}", BASE64.encode(mac_bytes(key, &[token.as_bytes()])));
        let body = serde_json::json!({ "response_token": response_token });
        Ok(HandshakeReply { content_type: "application/json", body: body.to_string() })
    };
    Some(answer())
}

pub(super) fn verify(creds: &Credentials, headers: &HeaderMap, body: &[u8]) -> Result<(), IntakeError> {
    let key = secret(creds, CONSUMER_SECRET)?;
    if is_crc_token(body) {
        // Whatever its signature: a CRC answer is a valid signature of such a body.
        return Err(IntakeError::Unauthorized(
            "the body has the shape of a CRC token, not of an X delivery; it is never accepted".into(),
        ));
    }
    let value = header(headers, SIGNATURE)?;
    let b64 = strip_prefix_ci(value, "sha256=")
        .ok_or_else(|| IntakeError::Unauthorized(format!("{SIGNATURE} must be sha256=<base64>")))?;
    let given = BASE64.decode(b64).map_err(|_| IntakeError::Unauthorized(format!("{SIGNATURE} is not base64")))?;
    check_mac(mac(key.as_bytes(), &[body]), &given, SIGNATURE)
}

pub(super) fn parse(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    let raw = json_body(body)?;
    let Some(obj) = raw.as_object() else { return Err(IntakeError::bad_request("body", "must be a JSON object")) };
    if let Some(data) = obj.get("data").filter(|d| d.get("event_type").is_some()) {
        return Ok(xaa(data));
    }
    let for_user = obj.get("for_user_id").and_then(id_of);
    let users = obj.get("users");
    let mut out = Vec::new();
    for (key, value) in obj {
        let Some(items) = value.as_array().filter(|_| key.ends_with("_events")) else { continue };
        for i in items {
            out.push(match key.as_str() {
                "tweet_create_events" => aaa_tweet(for_user.as_deref(), i),
                "direct_message_events" => dm(for_user.as_deref(), users, i),
                other => ignored(content_key(i), other),
            });
        }
    }
    if out.is_empty() {
        let kind = obj.keys().find(|k| *k != "for_user_id").cloned().unwrap_or_else(|| "empty".to_owned());
        out.push(ignored(content_key(&raw), kind));
    }
    Ok(out)
}

fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A link to a post: with the author's handle when known.
fn post_url(handle: Option<&str>, id: &str) -> String {
    match handle.filter(|h| !h.is_empty()) {
        Some(h) => format!("https://x.com/{h}/status/{id}"),
        None => format!("https://x.com/i/web/status/{id}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Account Activity API (v1.1 objects)

#[derive(Deserialize)]
struct Tweet {
    #[serde(default, deserialize_with = "opt_id")]
    id_str: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    extended_tweet: Option<Extended>,
    #[serde(default)]
    user: Option<User1>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_status_id_str: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_user_id_str: Option<String>,
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default)]
    timestamp_ms: Option<Value>,
    #[serde(default)]
    retweeted_status: Option<Value>,
    #[serde(default)]
    quoted_status: Option<QuotedStatus>,
    #[serde(default)]
    entities: Option<Entities>,
}

#[derive(Deserialize)]
struct Extended {
    #[serde(default)]
    full_text: Option<String>,
    #[serde(default)]
    entities: Option<Entities>,
}

#[derive(Deserialize, Default)]
struct User1 {
    #[serde(default, deserialize_with = "opt_id")]
    id_str: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    screen_name: Option<String>,
}

#[derive(Deserialize)]
struct QuotedStatus {
    #[serde(default)]
    user: Option<User1>,
}

#[derive(Deserialize)]
struct Entities {
    #[serde(default)]
    user_mentions: Vec<UserMention>,
}

#[derive(Deserialize)]
struct UserMention {
    #[serde(default, deserialize_with = "opt_id")]
    id_str: Option<String>,
}

fn mentions(entities: Option<&Entities>, user: &str) -> bool {
    entities.is_some_and(|e| e.user_mentions.iter().any(|m| m.id_str.as_deref() == Some(user)))
}

fn aaa_tweet(for_user: Option<&str>, raw: &Value) -> ParsedEvent {
    const TYPE: &str = "tweet_create_events";
    let t: Tweet = match item(raw) {
        Ok(t) => t,
        Err(why) => return unusable(raw, TYPE, &why),
    };
    let Some(id) = t.id_str.or(t.id) else { return unusable(raw, TYPE, "no id_str") };
    let user = t.user.unwrap_or_default();
    let author_id = user.id_str.unwrap_or_default();
    if for_user.is_some_and(|u| u == author_id) {
        return ignored(format!("tweet/{id}"), format!("{TYPE} (own)"));
    }
    if t.retweeted_status.is_some() {
        return ignored(format!("tweet/{id}"), format!("{TYPE} (retweet)"));
    }
    let replying_to_us = t.in_reply_to_status_id_str.is_some()
        && match for_user {
            Some(u) => t.in_reply_to_user_id_str.as_deref() == Some(u),
            None => true,
        };
    let kind = if replying_to_us {
        InteractionKind::Reply
    } else {
        let about_us = match for_user {
            Some(u) => {
                mentions(t.entities.as_ref(), u)
                    || mentions(t.extended_tweet.as_ref().and_then(|e| e.entities.as_ref()), u)
                    || t.quoted_status.as_ref().and_then(|q| q.user.as_ref()).and_then(|q| q.id_str.as_deref())
                        == Some(u)
            }
            // Without `for_user_id` every delivered tweet concerns the subscribed account.
            None => true,
        };
        if !about_us {
            return ignored(format!("tweet/{id}"), format!("{TYPE} (not about the account)"));
        }
        InteractionKind::Mention
    };
    let Some(created_at) = t.created_at.as_ref().and_then(time).or_else(|| t.timestamp_ms.as_ref().and_then(time))
    else {
        return unusable(raw, TYPE, "no created_at");
    };
    let text = t.extended_tweet.and_then(|e| e.full_text).or(t.full_text).or(t.text).unwrap_or_default();
    let url = post_url(user.screen_name.as_deref(), &id);
    interaction(
        format!("tweet/{id}"),
        InteractionDraft {
            kind,
            thread_id: t.in_reply_to_status_id_str.clone().unwrap_or_else(|| id.clone()),
            parent_id: t.in_reply_to_status_id_str.clone(),
            external_id: id,
            author_name: name_or(user.name.or(user.screen_name), &author_id),
            author_id,
            text,
            created_at,
            post_external_id: t.in_reply_to_status_id_str,
            post_url: Some(url),
            reply_ref: None,
        },
    )
}

#[derive(Deserialize)]
struct Dm {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    created_timestamp: Option<Value>,
    #[serde(default)]
    message_create: Option<MessageCreate>,
}

#[derive(Deserialize)]
struct MessageCreate {
    #[serde(default, deserialize_with = "opt_id")]
    sender_id: Option<String>,
    #[serde(default)]
    message_data: Option<MessageData>,
}

#[derive(Deserialize)]
struct MessageData {
    #[serde(default)]
    text: Option<String>,
}

/// The display name of `id` in a `users` map: `{"<id>": {"name"}}` (AAA) or
/// `{"<id>": {"data": {"name"}}}` (XAA).
fn user_name(users: Option<&Value>, id: &str) -> Option<String> {
    let user = users?.get(id)?;
    let user = user.get("data").unwrap_or(user);
    user.get("name")
        .or_else(|| user.get("screen_name"))
        .or_else(|| user.get("username"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// One `direct_message_events[]` item (AAA and XAA `dm.received` alike).
fn dm(for_user: Option<&str>, users: Option<&Value>, raw: &Value) -> ParsedEvent {
    const TYPE: &str = "direct_message_events";
    let d: Dm = match item(raw) {
        Ok(d) => d,
        Err(why) => return unusable(raw, TYPE, &why),
    };
    if d.kind.as_deref().is_some_and(|k| k != "message_create") {
        return ignored(content_key(raw), format!("{TYPE}.{}", d.kind.unwrap_or_default()));
    }
    let Some(id) = d.id else { return unusable(raw, TYPE, "no id") };
    let Some(mc) = d.message_create else { return unusable(raw, TYPE, "no message_create") };
    let Some(sender) = mc.sender_id else { return unusable(raw, TYPE, "no sender_id") };
    if for_user.is_some_and(|u| u == sender) {
        return ignored(format!("dm/{id}"), format!("{TYPE} (sent)"));
    }
    let Some(created_at) = d.created_timestamp.as_ref().and_then(time) else {
        return unusable(raw, TYPE, "no created_timestamp");
    };
    interaction(
        format!("dm/{id}"),
        InteractionDraft {
            kind: InteractionKind::DirectMessage,
            external_id: id,
            thread_id: format!("dm:{sender}"),
            parent_id: None,
            author_name: name_or(user_name(users, &sender), &sender),
            author_id: sender,
            text: mc.message_data.and_then(|m| m.text).unwrap_or_default(),
            created_at,
            post_external_id: None,
            post_url: None,
            reply_ref: None,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// X Activity API

#[derive(Deserialize)]
struct XaaData {
    #[serde(default, deserialize_with = "opt_id")]
    event_uuid: Option<String>,
    #[serde(default)]
    event_type: Option<String>,
    #[serde(default)]
    filter: Option<Filter>,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    includes: Value,
}

#[derive(Deserialize)]
struct Filter {
    #[serde(default, deserialize_with = "opt_id")]
    user_id: Option<String>,
}

#[derive(Deserialize)]
struct PostV2 {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    note_tweet: Option<NoteTweet>,
    #[serde(default, deserialize_with = "opt_id")]
    author_id: Option<String>,
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default, deserialize_with = "opt_id")]
    conversation_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_user_id: Option<String>,
    /// Named in platforms.md's field list; the v2 Post object says `referenced_tweets`.
    #[serde(default, deserialize_with = "opt_id")]
    in_reply_to_tweet_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<Referenced>,
}

#[derive(Deserialize)]
struct NoteTweet {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Referenced {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
}

/// `(name, username)` of `id` in `includes.users[]` (flat user objects, or wrapped in `data`).
fn included_user(includes: &Value, id: &str) -> (Option<String>, Option<String>) {
    let users = includes.get("users").and_then(Value::as_array);
    let user = users
        .into_iter()
        .flatten()
        .map(|u| u.get("data").unwrap_or(u))
        .find(|u| u.get("id").and_then(id_of).as_deref() == Some(id));
    let field = |k: &str| user.and_then(|u| u.get(k)).and_then(Value::as_str).map(str::to_owned);
    (field("name"), field("username"))
}

fn xaa(raw: &Value) -> Vec<ParsedEvent> {
    let d: XaaData = match item(raw) {
        Ok(d) => d,
        Err(why) => return vec![unusable(raw, "xaa", &why)],
    };
    let event_type = d.event_type.clone().unwrap_or_default();
    let key = d.event_uuid.as_ref().map(|u| format!("xaa/{u}")).unwrap_or_else(|| content_key(raw));
    let own = d.filter.and_then(|f| f.user_id);
    match event_type.as_str() {
        "post.mention.create" | "post.reply.create" => {
            vec![xaa_post(&event_type, own.as_deref(), &d.payload, &d.includes, key)]
        }
        "dm.received" => {
            let events = d.payload.get("direct_message_events").and_then(Value::as_array);
            let users = d.payload.get("users");
            let out: Vec<_> = events.into_iter().flatten().map(|e| dm(own.as_deref(), users, e)).collect();
            if out.is_empty() { vec![unusable(raw, &event_type, "no direct_message_events")] } else { out }
        }
        _ => vec![ignored(key, event_type)],
    }
}

fn xaa_post(event_type: &str, own: Option<&str>, payload: &Value, includes: &Value, key: String) -> ParsedEvent {
    let p: PostV2 = match item(payload) {
        Ok(p) => p,
        Err(why) => return unusable(payload, event_type, &why),
    };
    let Some(id) = p.id else { return unusable(payload, event_type, "no payload.id") };
    let author_id = p.author_id.unwrap_or_default();
    if own.is_some_and(|u| u == author_id) {
        return ignored(key, format!("{event_type} (own)"));
    }
    let Some(created_at) = p.created_at.as_ref().and_then(time) else {
        return unusable(payload, event_type, "no created_at");
    };
    let parent = p
        .referenced_tweets
        .iter()
        .find(|r| r.kind.as_deref() == Some("replied_to"))
        .and_then(|r| r.id.clone())
        .or(p.in_reply_to_tweet_id);
    let answers_us = parent.is_some() && own.is_some_and(|u| p.in_reply_to_user_id.as_deref() == Some(u));
    let kind = if answers_us || (event_type == "post.reply.create" && parent.is_some()) {
        InteractionKind::Reply
    } else {
        InteractionKind::Mention
    };
    let (name, username) = included_user(includes, &author_id);
    let url = post_url(username.as_deref(), &id);
    interaction(
        format!("tweet/{id}"),
        InteractionDraft {
            kind,
            thread_id: p.conversation_id.or_else(|| parent.clone()).unwrap_or_else(|| id.clone()),
            parent_id: parent.clone(),
            external_id: id,
            author_name: name_or(name.or(username), &author_id),
            author_id,
            text: p.note_tweet.and_then(|n| n.text).or(p.text).unwrap_or_default(),
            created_at,
            post_external_id: parent,
            post_url: Some(url),
            reply_ref: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::{DateTime, TimeZone, Utc};

    use super::super::{
        EventPayload, WebhookRequest, handshake as dispatch_handshake, parse as dispatch_parse, signing,
        verify as dispatch_verify,
    };
    use super::*;
    use crate::domain::Platform;

    // platforms.md §0.1
    const CRC_SECRET: &str = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu";
    const CRC_TOKEN: &str = "9b4507b3-9040-4669-9ca3-6b94edb50553";
    const CRC_RESPONSE: &str = r#"{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}"#;
    const EVENT_BODY: &[u8] = br#"{"for_user_id":"2244994945","tweet_create_events":[]}"#;
    const EVENT_SIGNATURE: &str = "sha256=F5YOErV5HY7/N/XyDtXyuyhfFUwTuRA3Yb11v6UVkd8=";

    fn creds(secret: &str) -> Credentials {
        Credentials::from_json("c", &serde_json::json!({ "consumer_secret": secret })).unwrap()
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn signed(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-Twitter-Webhooks-Signature", HeaderValue::from_str(value).unwrap());
        h
    }

    fn check(creds: &Credentials, headers: &HeaderMap, body: &[u8]) -> Result<(), IntakeError> {
        dispatch_verify(
            Platform::X,
            creds,
            &WebhookRequest { method: &Method::POST, query: None, headers, body },
            now(),
        )
    }

    fn crc(creds: &Credentials, query: &str) -> Option<Result<HandshakeReply, IntakeError>> {
        let headers = HeaderMap::new();
        dispatch_handshake(
            Platform::X,
            creds,
            &WebhookRequest { method: &Method::GET, query: Some(query), headers: &headers, body: b"" },
        )
    }

    fn parse(body: &[u8]) -> Vec<ParsedEvent> {
        dispatch_parse(Platform::X, body).unwrap()
    }

    fn draft(e: &ParsedEvent) -> &InteractionDraft {
        match &e.payload {
            EventPayload::Interaction(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn ignored_type(e: &ParsedEvent) -> &str {
        match &e.payload {
            EventPayload::Ignored { event_type } => event_type,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn crc_known_answer() {
        assert_eq!(
            crc(&creds(CRC_SECRET), &format!("crc_token={CRC_TOKEN}&nonce=abc")),
            Some(Ok(HandshakeReply { content_type: "application/json", body: CRC_RESPONSE.into() }))
        );
        assert_eq!(
            signing::x_crc_response_token(CRC_SECRET, CRC_TOKEN),
            "sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="
        );
    }

    #[test]
    fn crc_refusals() {
        assert_eq!(
            crc(&Credentials::default(), &format!("crc_token={CRC_TOKEN}")),
            Some(Err(IntakeError::NotConfigured { field: "consumer_secret".into() }))
        );
        assert!(matches!(crc(&creds(CRC_SECRET), "crc_token="), Some(Err(IntakeError::BadRequest { .. }))));
        assert_eq!(crc(&creds(CRC_SECRET), "other=1"), None);
    }

    #[test]
    fn the_crc_answers_token_shapes_only_and_such_bodies_are_never_accepted() {
        let longest = "a".repeat(MAX_CRC_TOKEN_LEN);
        for good in [CRC_TOKEN, "aGVsbG8gd29ybGQ=", "crc_A-b.c~d/e+f", "1", longest.as_str()] {
            assert!(is_crc_token(good.as_bytes()), "{good}");
            let reply = crc(&creds(CRC_SECRET), &format!("crc_token={}", good.replace('+', "%2B").replace('/', "%2F")));
            assert!(matches!(reply, Some(Ok(_))), "{good}: {reply:?}");
            // A body equal to the token, signed with the CRC's answer: refused.
            let answer = signing::x_crc_response_token(CRC_SECRET, good);
            assert!(
                matches!(check(&creds(CRC_SECRET), &signed(&answer), good.as_bytes()), Err(IntakeError::Unauthorized(_))),
                "{good}"
            );
        }
        let too_long = "a".repeat(MAX_CRC_TOKEN_LEN + 1);
        for bad in [EVENT_BODY, b"{}", b"a b", b"a\nb", b"\"quoted\"", b"caf\xc3\xa9", too_long.as_bytes()] {
            assert!(!is_crc_token(bad), "{}", String::from_utf8_lossy(bad));
        }
        let crafted = format!("crc_token={}", String::from_utf8_lossy(EVENT_BODY).replace('{', "%7B").replace('}', "%7D"));
        assert!(
            matches!(crc(&creds(CRC_SECRET), &crafted), Some(Err(IntakeError::BadRequest { ref field, .. })) if field == "crc_token")
        );
        // Deliveries (JSON objects) are untouched by the rule.
        assert_eq!(check(&creds("consumer_secret"), &signed(EVENT_SIGNATURE), EVENT_BODY), Ok(()));
    }

    #[test]
    fn event_signature_known_answer() {
        assert_eq!(signing::x("consumer_secret", EVENT_BODY), EVENT_SIGNATURE);
        assert_eq!(check(&creds("consumer_secret"), &signed(EVENT_SIGNATURE), EVENT_BODY), Ok(()));
        // The header name in the docs' lower case works too (header names are case-insensitive).
        let mut lower = HeaderMap::new();
        lower.insert("x-twitter-webhooks-signature", HeaderValue::from_static(EVENT_SIGNATURE));
        assert_eq!(check(&creds("consumer_secret"), &lower, EVENT_BODY), Ok(()));
    }

    #[test]
    fn event_signature_failures() {
        let unauthorized = |r: Result<(), IntakeError>| matches!(r, Err(IntakeError::Unauthorized(_)));
        assert!(unauthorized(check(&creds("another secret"), &signed(EVENT_SIGNATURE), EVENT_BODY)));
        assert!(unauthorized(check(&creds("consumer_secret"), &HeaderMap::new(), EVENT_BODY)));
        assert!(unauthorized(check(
            &creds("consumer_secret"),
            &signed(EVENT_SIGNATURE),
            br#"{"for_user_id":"2244994946","tweet_create_events":[]}"#
        )));
        for bad in [
            "F5YOErV5HY7/N/XyDtXyuyhfFUwTuRA3Yb11v6UVkd8=",
            "sha256=!!!",
            "sha256=F5YOErV5",
            "sha1=F5YOErV5HY7/N/XyDtXyuyhfFUwTuRA3Yb11v6UVkd8=",
        ] {
            assert!(unauthorized(check(&creds("consumer_secret"), &signed(bad), EVENT_BODY)), "{bad}");
        }
        assert_eq!(
            check(&Credentials::default(), &signed(EVENT_SIGNATURE), EVENT_BODY),
            Err(IntakeError::NotConfigured { field: "consumer_secret".into() })
        );
    }

    #[test]
    fn the_known_answer_body_holds_nothing() {
        let events = parse(EVENT_BODY);
        assert_eq!(events.len(), 1);
        assert_eq!(ignored_type(&events[0]), "tweet_create_events");
    }

    #[test]
    fn aaa_mention_reply_own_and_retweet() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/x/aaa_tweets.json"));
        assert_eq!(events.len(), 5);
        let mention = draft(&events[0]);
        assert_eq!(events[0].event_id, "tweet/1986123456789012345");
        assert_eq!(mention.kind, InteractionKind::Mention);
        assert_eq!((mention.author_id.as_str(), mention.author_name.as_str()), ("3001969357", "Jordan Brinks"));
        assert_eq!(mention.text, "@cafeducoin vous faites des brunchs le dimanche ?");
        assert_eq!(mention.thread_id, "1986123456789012345");
        assert_eq!(mention.post_url.as_deref(), Some("https://x.com/furiouscamper/status/1986123456789012345"));
        assert_eq!(mention.created_at, Utc.with_ymd_and_hms(2025, 11, 5, 14, 1, 46).unwrap());

        let reply = draft(&events[1]);
        assert_eq!(reply.kind, InteractionKind::Reply);
        assert_eq!(reply.parent_id.as_deref(), Some("1986000000000000001"));
        assert_eq!(reply.thread_id, "1986000000000000001");
        assert!(reply.text.ends_with("la suite du texte qui dépasse 140 caractères."), "extended_tweet.full_text");

        assert_eq!(ignored_type(&events[2]), "tweet_create_events (own)");
        assert_eq!(ignored_type(&events[3]), "tweet_create_events (retweet)");
        assert_eq!(ignored_type(&events[4]), "tweet_create_events (not about the account)");
    }

    #[test]
    fn aaa_direct_messages_from_the_docs() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/x/aaa_direct_message.json"));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "dm/954491830116155396");
        let d = draft(&events[0]);
        assert_eq!(d.kind, InteractionKind::DirectMessage);
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("3001969357", "Jordan Brinks"));
        assert_eq!(d.text, "Hello World!");
        assert_eq!(d.thread_id, "dm:3001969357");
        assert_eq!(d.created_at, Utc.timestamp_millis_opt(1_516_403_560_557).unwrap());

        let sent = br#"{"for_user_id":"4337869213","direct_message_events":[{"type":"message_create","id":"1","created_timestamp":"1516403560557","message_create":{"target":{"recipient_id":"3001969357"},"sender_id":"4337869213","message_data":{"text":"Hi"}}}]}"#;
        assert_eq!(ignored_type(&parse(sent)[0]), "direct_message_events (sent)");
    }

    #[test]
    fn aaa_other_events_are_ignored() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/x/aaa_favorite.json"));
        assert_eq!(events.len(), 1);
        assert_eq!(ignored_type(&events[0]), "favorite_events");
        let revoke = br#"{"user_event":{"revoke":{"date_time":"2018-05-24T09:48:12+00:00","target":{"app_id":"13090192"},"source":{"user_id":"63046977"}}}}"#;
        assert_eq!(ignored_type(&parse(revoke)[0]), "user_event");
    }

    #[test]
    fn xaa_mention_from_the_docs() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/x/xaa_post_mention.json"));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "tweet/2080765813578191303");
        let d = draft(&events[0]);
        assert_eq!(d.kind, InteractionKind::Mention);
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("2222222222222222222", "OtherUser"));
        assert_eq!(d.text, "hey @ExampleUser");
        assert_eq!(d.thread_id, "2080765813578191303");
        assert_eq!(d.post_url.as_deref(), Some("https://x.com/OtherUser/status/2080765813578191303"));
        assert_eq!(d.created_at, Utc.with_ymd_and_hms(2026, 7, 24, 21, 23, 23).unwrap());
    }

    #[test]
    fn xaa_reply_and_mention_of_the_same_post_share_a_key() {
        let reply = parse(include_bytes!("../../../tests/fixtures/webhooks/x/xaa_post_reply.json"));
        let d = draft(&reply[0]);
        assert_eq!(d.kind, InteractionKind::Reply);
        assert_eq!(d.parent_id.as_deref(), Some("2080761390344937796"));
        assert_eq!(d.thread_id, "2080761390344937796");
        let as_mention =
            String::from_utf8(include_bytes!("../../../tests/fixtures/webhooks/x/xaa_post_reply.json").to_vec())
                .unwrap()
                .replace("post.reply.create", "post.mention.create")
                .replace("2080770000000000001", "2080770000000000002");
        let again = parse(as_mention.as_bytes());
        assert_eq!(again[0].event_id, reply[0].event_id);
        assert_eq!(draft(&again[0]).kind, InteractionKind::Reply, "it answers the filtered user");
    }

    #[test]
    fn xaa_dm_received_from_the_docs_and_other_events() {
        let events = parse(include_bytes!("../../../tests/fixtures/webhooks/x/xaa_dm_received.json"));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "dm/2080765901528535096");
        let d = draft(&events[0]);
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("2222222222222222222", "OtherUser"));
        assert_eq!(d.text, "hello!");

        let like = br#"{"data":{"event_uuid":"-3402274206530057851","filter":{"user_id":"1"},"event_type":"like.create","payload":{"id":"x"}}}"#;
        let events = parse(like);
        assert_eq!(events[0].event_id, "xaa/-3402274206530057851");
        assert_eq!(ignored_type(&events[0]), "like.create");
        let own = br#"{"data":{"event_uuid":"9","filter":{"user_id":"1"},"event_type":"post.mention.create","payload":{"id":"5","author_id":"1","text":"@me","created_at":"2026-07-24T21:23:23.000Z"}}}"#;
        assert_eq!(ignored_type(&parse(own)[0]), "post.mention.create (own)");
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        for body in [&b"nope"[..], b"[]", b"\"x\""] {
            assert!(matches!(dispatch_parse(Platform::X, body), Err(IntakeError::BadRequest { .. })));
        }
        let broken = br#"{"for_user_id":"1","tweet_create_events":[{"id_str":"5","text":42}]}"#;
        assert!(ignored_type(&parse(broken)[0]).starts_with("tweet_create_events (unusable: text: invalid type"));
    }
}
