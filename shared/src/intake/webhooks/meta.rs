//! Meta: Facebook Pages (`object: "page"`), Instagram (`object: "instagram"`) and Threads
//! (platforms.md §4.1, §5.1).
//!
//! - Handshake ✅: `GET ?hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<n>`; the
//!   token is compared (constant time) with the `verify_token` credential and the challenge is
//!   sent back as the body. The underscore spellings (`hub_mode`…) are accepted too.
//! - Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>` (🟡 for
//!   Facebook/Instagram; ❓ for Threads, where platforms.md only presumes the Meta scheme keyed
//!   with the Threads app secret: the same check is applied). The legacy SHA-1 `X-Hub-Signature`
//!   is not accepted: Meta sends the SHA-256 one alongside it.
//! - Body ✅: `{"object", "entry": [{"id", "time", "changes": [{"field", "value"}] | "messaging": [...]}]}`.
//!   The flat `{"id", "time", "field", "value"}` entry shown in Instagram's examples page is
//!   accepted too, and `standby[]` (messages received while another app holds the thread) is
//!   read like `messaging[]`.
//!
//! What becomes an interaction, and its dedupe key (Meta sends no delivery id; platforms.md
//! says to key on the object ids):
//!
//! | object / field | kind | key |
//! |---|---|---|
//! | page `feed`, `item: comment`, `verb: add` 🟡 | Comment, or Reply when `parent_id` is another comment | `comment/<comment_id>` |
//! | page `mention` ❓ (shape not in platforms.md: `post_id`, `comment_id`, `sender_id`, `sender_name`, `item`, `verb`) | Mention | `comment/<comment_id>` or `post/<post_id>` |
//! | page / instagram `messaging[]` with a `message` 🟡/✅ | DirectMessage | `message/<mid>` |
//! | instagram `comments`, `live_comments` ✅ | Comment, or Reply with `parent_id` | `comment/<id>` |
//! | instagram `mentions` ❓ (`media_id`, `comment_id`: ids only, no text) | Mention | `comment/<comment_id>` or `media/<media_id>` |
//! | threads `replies` ✅ | Reply | `post/<id>` |
//! | threads `mentions` ✅ (same value shape as replies) | Mention | `post/<id>` |
//!
//! Ignored: every other field and item (reactions, likes, shares, edits, removals, message
//! echoes, reads, deliveries, postbacks, Threads `publish`/`delete`), and the account's own
//! comments and messages (author = `entry[].id`; on Threads a reply whose author is the root
//! post's author). Instagram mentions carry no text: the draft's text is empty and the author
//! unknown unless the value happens to include `text`/`from`; the comment must be read with
//! `GET /{ig-user-id}?fields=mentioned_comment.comment_id(<id>)` to fill them in.

use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::common::{
    HandshakeReply, IntakeError, ParsedEvent, content_key, ct_eq, envelope, ignored, interaction, item, json_body,
    name_or, opt_id, query_param, secret, time, unusable, verify_hub_sha256,
};
use crate::crypto::Credentials;
use crate::domain::{InteractionDraft, InteractionKind};

/// The app secret that keys `X-Hub-Signature-256` (for Threads, the Threads app's secret).
pub const APP_SECRET: &str = "app_secret";
/// The token typed in the app dashboard next to the callback URL; Meta echoes it in the handshake.
pub const VERIFY_TOKEN: &str = "verify_token";
const SIGNATURE: &str = "x-hub-signature-256";
const SIGNATURE_NAME: &str = "X-Hub-Signature-256";

pub(super) fn handshake(creds: &Credentials, query: Option<&str>) -> Option<Result<HandshakeReply, IntakeError>> {
    let mode = query_param(query, &["hub.mode", "hub_mode"]);
    let token = query_param(query, &["hub.verify_token", "hub_verify_token"]);
    let challenge = query_param(query, &["hub.challenge", "hub_challenge"]);
    if mode.is_none() && token.is_none() && challenge.is_none() {
        return None;
    }
    let answer = || {
        let expected = secret(creds, VERIFY_TOKEN)?;
        if mode.as_deref() != Some("subscribe") {
            return Err(IntakeError::bad_request("hub.mode", "must be `subscribe`"));
        }
        let token = token.ok_or_else(|| IntakeError::Unauthorized("missing hub.verify_token".into()))?;
        if !ct_eq(token.as_bytes(), expected.as_bytes()) {
            return Err(IntakeError::Unauthorized("hub.verify_token does not match the channel's verify_token".into()));
        }
        let challenge = challenge
            .filter(|c| !c.is_empty())
            .ok_or_else(|| IntakeError::bad_request("hub.challenge", "must be present"))?;
        Ok(HandshakeReply { content_type: "text/plain; charset=utf-8", body: challenge })
    };
    Some(answer())
}

pub(super) fn verify(creds: &Credentials, headers: &HeaderMap, body: &[u8]) -> Result<(), IntakeError> {
    verify_hub_sha256(creds, APP_SECRET, headers, SIGNATURE, SIGNATURE_NAME, body)
}

// ---------------------------------------------------------------------------------------------
// Facebook Pages and Instagram: {"object", "entry": [...]}

#[derive(Deserialize)]
struct Envelope {
    object: String,
    entry: Vec<Value>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    time: Option<Value>,
    #[serde(default)]
    changes: Vec<Value>,
    #[serde(default)]
    messaging: Vec<Value>,
    #[serde(default)]
    standby: Vec<Value>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    value: Option<Value>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

/// What an entry says about every change it holds.
struct Ctx {
    /// The Page or Instagram account the entry is about: its own comments are not interactions.
    account_id: Option<String>,
    /// When Meta sent it: the fallback for values without their own time.
    time: Option<DateTime<Utc>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Object {
    Page,
    Instagram,
}

pub(super) fn parse_page(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    parse_objects(body, Object::Page)
}

pub(super) fn parse_instagram(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    parse_objects(body, Object::Instagram)
}

fn parse_objects(body: &[u8], expected: Object) -> Result<Vec<ParsedEvent>, IntakeError> {
    let raw = json_body(body)?;
    let env: Envelope = envelope(raw.clone())?;
    let matches = match expected {
        Object::Page => env.object == "page",
        Object::Instagram => env.object == "instagram",
    };
    if !matches {
        return Ok(vec![ignored(content_key(&raw), format!("object {}", env.object))]);
    }
    let mut out = Vec::new();
    for entry in &env.entry {
        parse_entry(expected, entry, &mut out);
    }
    Ok(out)
}

fn parse_entry(object: Object, raw: &Value, out: &mut Vec<ParsedEvent>) {
    let entry: Entry = match item(raw) {
        Ok(e) => e,
        Err(why) => return out.push(unusable(raw, "entry", &why)),
    };
    let ctx = Ctx { account_id: entry.id.clone(), time: entry.time.as_ref().and_then(time) };
    let before = out.len();
    for change in &entry.changes {
        out.push(match item::<Change>(change) {
            Ok(c) => on_change(object, &ctx, &c.field, &c.value, change),
            Err(why) => unusable(change, "change", &why),
        });
    }
    if let (Some(field), Some(value)) = (&entry.field, &entry.value) {
        out.push(on_change(object, &ctx, field, value, raw));
    }
    for m in entry.messaging.iter().chain(&entry.standby) {
        out.push(messaging(&ctx, m));
    }
    if out.len() == before {
        out.push(ignored(content_key(raw), "entry without changes or messaging"));
    }
}

fn on_change(object: Object, ctx: &Ctx, field: &str, value: &Value, raw: &Value) -> ParsedEvent {
    match (object, field) {
        (Object::Page, "feed") => page_feed(ctx, value, raw),
        (Object::Page, "mention") => page_mention(ctx, value, raw),
        (Object::Instagram, "comments" | "live_comments") => ig_comment(ctx, field, value, raw),
        (Object::Instagram, "mentions") => ig_mention(ctx, value, raw),
        // Messaging delivered as a change (`field: "messages"`), as some Instagram Login apps
        // receive it ❓: read like `messaging[]` when it has the same shape.
        (_, "messages") if value.get("message").is_some() => messaging(ctx, value),
        _ => ignored(content_key(raw), field),
    }
}

#[derive(Deserialize, Default)]
struct From {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

impl From {
    /// (id, display name): the name, else the username, else the id.
    fn split(self) -> (String, String) {
        let id = self.id.unwrap_or_default();
        let name = name_or(self.name.or(self.username), &id);
        (id, name)
    }
}

fn is_own(ctx: &Ctx, author_id: &str) -> bool {
    ctx.account_id.as_deref().is_some_and(|own| !author_id.is_empty() && own == author_id)
}

#[derive(Deserialize)]
struct Feed {
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    verb: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    comment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    post_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    parent_id: Option<String>,
    /// Meta leaves `from` out when the commenter's data may not be shared.
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<Value>,
    #[serde(default)]
    post: Option<FeedPost>,
    #[serde(default)]
    photo: Option<String>,
    #[serde(default)]
    video: Option<String>,
}

#[derive(Deserialize)]
struct FeedPost {
    #[serde(default)]
    permalink_url: Option<String>,
}

fn page_feed(ctx: &Ctx, value: &Value, raw: &Value) -> ParsedEvent {
    let f: Feed = match item(value) {
        Ok(f) => f,
        Err(why) => return unusable(raw, "feed", &why),
    };
    let event_type =
        format!("feed.{}.{}", f.item.as_deref().unwrap_or("unknown"), f.verb.as_deref().unwrap_or("unknown"));
    if f.item.as_deref() != Some("comment") || f.verb.as_deref() != Some("add") {
        return ignored(content_key(raw), event_type);
    }
    let Some(comment_id) = f.comment_id else { return unusable(raw, &event_type, "no comment_id") };
    let Some(post_id) = f.post_id else { return unusable(raw, &event_type, "no post_id") };
    let (author_id, author_name) = f.from.unwrap_or_default().split();
    if is_own(ctx, &author_id) {
        return ignored(content_key(raw), format!("{event_type} (own)"));
    }
    let Some(created_at) = f.created_time.as_ref().and_then(time).or(ctx.time) else {
        return unusable(raw, &event_type, "no created_time");
    };
    // A top-level comment's parent is the post; a reply's is another comment.
    let reply_to = f.parent_id.filter(|p| *p != post_id);
    let kind = if reply_to.is_some() { InteractionKind::Reply } else { InteractionKind::Comment };
    let text = text_or_media(f.message, &[("photo", f.photo.is_some()), ("video", f.video.is_some())]);
    // `https://www.facebook.com/<pageid_postid>` opens the post ❓ (not in platforms.md).
    let post_url =
        f.post.and_then(|p| p.permalink_url).unwrap_or_else(|| format!("https://www.facebook.com/{post_id}"));
    interaction(
        format!("comment/{comment_id}"),
        InteractionDraft {
            kind,
            external_id: comment_id,
            thread_id: post_id.clone(),
            parent_id: Some(reply_to.unwrap_or_else(|| post_id.clone())),
            author_id,
            author_name,
            text,
            created_at,
            post_external_id: Some(post_id),
            post_url: Some(post_url),
            reply_ref: None,
        },
    )
}

/// The text, or `[photo]`-style markers for a comment that is only a picture.
fn text_or_media(text: Option<String>, media: &[(&str, bool)]) -> String {
    match text.filter(|t| !t.trim().is_empty()) {
        Some(t) => t,
        None => media.iter().filter(|(_, has)| *has).map(|(name, _)| format!("[{name}]")).collect::<Vec<_>>().join(" "),
    }
}

/// Page `mention` ❓: the value shape is not in platforms.md; read defensively.
#[derive(Deserialize)]
struct PageMention {
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    verb: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    post_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    comment_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    sender_id: Option<String>,
    #[serde(default)]
    sender_name: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    created_time: Option<Value>,
}

fn page_mention(ctx: &Ctx, value: &Value, raw: &Value) -> ParsedEvent {
    let m: PageMention = match item(value) {
        Ok(m) => m,
        Err(why) => return unusable(raw, "mention", &why),
    };
    let verb = m.verb.as_deref().unwrap_or("add");
    let event_type = format!("mention.{}.{verb}", m.item.as_deref().unwrap_or("post"));
    if verb != "add" {
        return ignored(content_key(raw), event_type);
    }
    let Some(post_id) = m.post_id else { return unusable(raw, &event_type, "no post_id") };
    let author_id = m.sender_id.unwrap_or_default();
    if is_own(ctx, &author_id) {
        return ignored(content_key(raw), format!("{event_type} (own)"));
    }
    let Some(created_at) = m.created_time.as_ref().and_then(time).or(ctx.time) else {
        return unusable(raw, &event_type, "no created_time");
    };
    let (event_id, external_id, parent_id) = match m.comment_id {
        Some(c) => (format!("comment/{c}"), c, Some(post_id.clone())),
        None => (format!("post/{post_id}"), post_id.clone(), None),
    };
    interaction(
        event_id,
        InteractionDraft {
            kind: InteractionKind::Mention,
            external_id,
            thread_id: post_id.clone(),
            parent_id,
            author_name: name_or(m.sender_name, &author_id),
            author_id,
            text: m.message.unwrap_or_default(),
            created_at,
            post_url: Some(format!("https://www.facebook.com/{post_id}")),
            post_external_id: Some(post_id),
            reply_ref: None,
        },
    )
}

#[derive(Deserialize)]
struct IgComment {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media: Option<IgMedia>,
    #[serde(default, deserialize_with = "opt_id")]
    parent_id: Option<String>,
    /// Not in the documented value; read if present, else the entry's time is used.
    #[serde(default)]
    timestamp: Option<Value>,
}

#[derive(Deserialize)]
struct IgMedia {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
}

fn ig_comment(ctx: &Ctx, field: &str, value: &Value, raw: &Value) -> ParsedEvent {
    let c: IgComment = match item(value) {
        Ok(c) => c,
        Err(why) => return unusable(raw, field, &why),
    };
    let Some(id) = c.id else { return unusable(raw, field, "no id") };
    let (author_id, author_name) = c.from.unwrap_or_default().split();
    if is_own(ctx, &author_id) {
        return ignored(content_key(raw), format!("{field} (own)"));
    }
    let Some(created_at) = c.timestamp.as_ref().and_then(time).or(ctx.time) else {
        return unusable(raw, field, "no time");
    };
    let media_id = c.media.and_then(|m| m.id);
    let kind = if c.parent_id.is_some() { InteractionKind::Reply } else { InteractionKind::Comment };
    interaction(
        format!("comment/{id}"),
        InteractionDraft {
            kind,
            thread_id: media_id.clone().or_else(|| c.parent_id.clone()).unwrap_or_else(|| id.clone()),
            parent_id: c.parent_id.or_else(|| media_id.clone()),
            external_id: id,
            author_id,
            author_name,
            text: c.text.unwrap_or_default(),
            created_at,
            post_external_id: media_id,
            post_url: None,
            reply_ref: None,
        },
    )
}

/// Instagram `mentions` ❓: `{"media_id", "comment_id"}` (a comment mention) or `{"media_id"}` (a
/// caption mention) on someone else's media; ids only.
#[derive(Deserialize)]
struct IgMention {
    #[serde(default, deserialize_with = "opt_id")]
    media_id: Option<String>,
    #[serde(default, deserialize_with = "opt_id")]
    comment_id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    from: Option<From>,
    #[serde(default)]
    timestamp: Option<Value>,
}

fn ig_mention(ctx: &Ctx, value: &Value, raw: &Value) -> ParsedEvent {
    let m: IgMention = match item(value) {
        Ok(m) => m,
        Err(why) => return unusable(raw, "mentions", &why),
    };
    let Some(created_at) = m.timestamp.as_ref().and_then(time).or(ctx.time) else {
        return unusable(raw, "mentions", "no time");
    };
    let (event_id, external_id, parent_id) = match (&m.comment_id, &m.media_id) {
        (Some(c), media) => (format!("comment/{c}"), c.clone(), media.clone()),
        (None, Some(media)) => (format!("media/{media}"), media.clone(), None),
        (None, None) => return unusable(raw, "mentions", "no comment_id or media_id"),
    };
    let (author_id, author_name) = m.from.unwrap_or_default().split();
    interaction(
        event_id,
        InteractionDraft {
            kind: InteractionKind::Mention,
            thread_id: m.media_id.clone().unwrap_or_else(|| external_id.clone()),
            external_id,
            parent_id,
            author_id,
            author_name,
            text: m.text.or(m.caption).unwrap_or_default(),
            created_at,
            post_external_id: m.media_id,
            post_url: None,
            reply_ref: None,
        },
    )
}

#[derive(Deserialize)]
struct Messaging {
    #[serde(default)]
    sender: Option<Party>,
    #[serde(default)]
    timestamp: Option<Value>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct Party {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default, deserialize_with = "opt_id")]
    mid: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
    #[serde(default)]
    is_deleted: bool,
    #[serde(default)]
    attachments: Vec<Attachment>,
    #[serde(default)]
    reply_to: Option<ReplyTo>,
}

#[derive(Deserialize)]
struct Attachment {
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ReplyTo {
    #[serde(default, deserialize_with = "opt_id")]
    mid: Option<String>,
}

/// One `messaging[]` item: a message to the Page / account becomes a DirectMessage; echoes of
/// its own messages, deletions, reads, deliveries, reactions and postbacks are ignored.
fn messaging(ctx: &Ctx, raw: &Value) -> ParsedEvent {
    let m: Messaging = match item(raw) {
        Ok(m) => m,
        Err(why) => return unusable(raw, "messaging", &why),
    };
    let Some(message) = m.message else {
        let kind = raw
            .as_object()
            .and_then(|o| o.keys().find(|k| !matches!(k.as_str(), "sender" | "recipient" | "timestamp")).cloned())
            .unwrap_or_else(|| "unknown".to_owned());
        return ignored(content_key(raw), format!("messaging.{kind}"));
    };
    let Some(sender) = m.sender.and_then(|s| s.id) else { return unusable(raw, "messaging.message", "no sender.id") };
    if message.is_echo || is_own(ctx, &sender) {
        return ignored(content_key(raw), "messaging.message (echo)");
    }
    if message.is_deleted {
        return ignored(content_key(raw), "messaging.message (deleted)");
    }
    let Some(mid) = message.mid else { return unusable(raw, "messaging.message", "no mid") };
    let Some(created_at) = m.timestamp.as_ref().and_then(time).or(ctx.time) else {
        return unusable(raw, "messaging.message", "no timestamp");
    };
    let text = match message.text.filter(|t| !t.trim().is_empty()) {
        Some(t) => t,
        None => message
            .attachments
            .iter()
            .map(|a| format!("[{}]", a.kind.as_deref().unwrap_or("attachment")))
            .collect::<Vec<_>>()
            .join(" "),
    };
    interaction(
        format!("message/{mid}"),
        InteractionDraft {
            kind: InteractionKind::DirectMessage,
            external_id: mid,
            thread_id: format!("dm:{sender}"),
            parent_id: message.reply_to.and_then(|r| r.mid),
            author_name: sender.clone(),
            author_id: sender,
            text,
            created_at,
            post_external_id: None,
            post_url: None,
            reply_ref: None,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Threads: {"app_id", "topic", "target_id", "time", "subscription_id", "values": {"field", "value"}}

#[derive(Deserialize)]
struct EntryList {
    entry: Vec<Value>,
}

#[derive(Deserialize)]
struct ThreadsNotification {
    #[serde(default)]
    time: Option<Value>,
    values: ThreadsValues,
}

#[derive(Deserialize)]
struct ThreadsValues {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct ThreadsPost {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    replied_to: Option<ThreadsRef>,
    #[serde(default)]
    root_post: Option<ThreadsRoot>,
    #[serde(default)]
    timestamp: Option<Value>,
}

#[derive(Deserialize)]
struct ThreadsRef {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
}

#[derive(Deserialize)]
struct ThreadsRoot {
    #[serde(default, deserialize_with = "opt_id")]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

/// Threads sends one notification per request ✅; an array of them, or a Meta-style
/// `{"entry": [{"changes": [...]}]}` envelope, is read too ❓ (defensive).
pub(super) fn parse_threads(body: &[u8]) -> Result<Vec<ParsedEvent>, IntakeError> {
    let raw = json_body(body)?;
    match &raw {
        Value::Array(items) => Ok(items
            .iter()
            .map(|i| match item::<ThreadsNotification>(i) {
                Ok(n) => threads_change(&n.values.field, &n.values.value, n.time.as_ref().and_then(time), i),
                Err(why) => unusable(i, "threads notification", &why),
            })
            .collect()),
        Value::Object(o) if o.contains_key("entry") => {
            let env: EntryList = envelope(raw.clone())?;
            let mut out = Vec::new();
            for e in &env.entry {
                let entry: Entry = match item(e) {
                    Ok(entry) => entry,
                    Err(why) => {
                        out.push(unusable(e, "entry", &why));
                        continue;
                    }
                };
                let fallback = entry.time.as_ref().and_then(time);
                for c in &entry.changes {
                    out.push(match item::<Change>(c) {
                        Ok(change) => threads_change(&change.field, &change.value, fallback, c),
                        Err(why) => unusable(c, "change", &why),
                    });
                }
            }
            Ok(out)
        }
        _ => {
            let n: ThreadsNotification = envelope(raw.clone())?;
            Ok(vec![threads_change(&n.values.field, &n.values.value, n.time.as_ref().and_then(time), &raw)])
        }
    }
}

fn threads_change(field: &str, value: &Value, fallback: Option<DateTime<Utc>>, raw: &Value) -> ParsedEvent {
    let kind = match field {
        "replies" => InteractionKind::Reply,
        "mentions" => InteractionKind::Mention,
        other => return ignored(content_key(raw), other),
    };
    let p: ThreadsPost = match item(value) {
        Ok(p) => p,
        Err(why) => return unusable(raw, field, &why),
    };
    let Some(id) = p.id else { return unusable(raw, field, "no id") };
    let username = p.username.unwrap_or_default();
    let root_id = p.root_post.as_ref().and_then(|r| r.id.clone());
    let root_author = p.root_post.as_ref().and_then(|r| r.username.as_deref());
    if kind == InteractionKind::Reply && !username.is_empty() && root_author == Some(username.as_str()) {
        return ignored(content_key(raw), format!("{field} (own)"));
    }
    let Some(created_at) = p.timestamp.as_ref().and_then(time).or(fallback) else {
        return unusable(raw, field, "no timestamp");
    };
    let parent_id = p.replied_to.and_then(|r| r.id);
    let media = p.media_type.filter(|m| m != "TEXT_POST").map(|m| m.to_ascii_lowercase());
    let text = text_or_media(p.text, &[(media.as_deref().unwrap_or("media"), media.is_some())]);
    interaction(
        format!("post/{id}"),
        InteractionDraft {
            kind,
            thread_id: root_id.clone().or_else(|| parent_id.clone()).unwrap_or_else(|| id.clone()),
            external_id: id,
            parent_id,
            // Threads gives the author's username, not an id: the username stands for both.
            author_id: username.clone(),
            author_name: username,
            text,
            created_at,
            post_external_id: root_id,
            post_url: p.permalink,
            reply_ref: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, Method};
    use chrono::TimeZone;

    use super::super::{
        EventPayload, WebhookRequest, handshake as dispatch_handshake, parse, signing, verify as dispatch_verify,
    };
    use super::*;
    use crate::domain::Platform;

    const KAT_BODY: &[u8] = br#"{"object":"page","entry":[{"id":"123","time":1700000000,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","comment_id":"123_456","post_id":"123_789","message":"hi"}}]}]}"#;
    const KAT_SIGNATURE: &str = "sha256=ae2852e06de083ad54667ab147fb176e4ab2a534939cb9eb038618fb9b9493f1";

    fn creds() -> Credentials {
        Credentials::from_json(
            "credentials",
            &serde_json::json!({"app_secret": "app_secret", "verify_token": "my verify token", "access_token": "EAAB"}),
        )
        .unwrap()
    }

    fn signed(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("X-Hub-Signature-256", HeaderValue::from_str(value).unwrap());
        h
    }

    fn post<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        WebhookRequest { method: &Method::POST, query: None, headers, body }
    }

    fn hs(platform: Platform, creds: &Credentials, query: &str) -> Option<Result<HandshakeReply, IntakeError>> {
        let headers = HeaderMap::new();
        dispatch_handshake(
            platform,
            creds,
            &WebhookRequest { method: &Method::GET, query: Some(query), headers: &headers, body: b"" },
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap()
    }

    fn drafts(events: &[ParsedEvent]) -> Vec<&InteractionDraft> {
        events
            .iter()
            .filter_map(|e| match &e.payload {
                EventPayload::Interaction(d) => Some(d),
                EventPayload::Ignored { .. } => None,
            })
            .collect()
    }

    fn ignored_types(events: &[ParsedEvent]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|e| match &e.payload {
                EventPayload::Ignored { event_type } => Some(event_type.as_str()),
                EventPayload::Interaction(_) => None,
            })
            .collect()
    }

    // --- known-answer vectors (platforms.md §0.1) ---

    #[test]
    fn meta_signature_known_answer() {
        assert_eq!(signing::meta("app_secret", KAT_BODY), KAT_SIGNATURE);
        for p in [Platform::Facebook, Platform::Instagram, Platform::Threads] {
            let headers = signed(KAT_SIGNATURE);
            assert_eq!(dispatch_verify(p, &creds(), &post(&headers, KAT_BODY), now()), Ok(()), "{p}");
        }
    }

    #[test]
    fn github_style_known_answer_uses_the_same_scheme() {
        // GitHub's published X-Hub-Signature-256 vector (platforms.md §0.1, §8.2): same algorithm.
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(signing::meta("It's a Secret to Everybody", b"Hello, World!"), expected);
        let creds =
            Credentials::from_json("c", &serde_json::json!({"app_secret": "It's a Secret to Everybody"})).unwrap();
        let headers = signed(expected);
        assert_eq!(dispatch_verify(Platform::Facebook, &creds, &post(&headers, b"Hello, World!"), now()), Ok(()));
    }

    // --- verification failures ---

    #[test]
    fn wrong_secret_missing_header_tampered_body_and_bad_formats_are_unauthorized() {
        let other = Credentials::from_json("c", &serde_json::json!({"app_secret": "another"})).unwrap();
        let headers = signed(KAT_SIGNATURE);
        let unauthorized = |r: Result<(), IntakeError>| matches!(r, Err(IntakeError::Unauthorized(_)));
        assert!(unauthorized(dispatch_verify(Platform::Facebook, &other, &post(&headers, KAT_BODY), now())));
        let none = HeaderMap::new();
        assert!(unauthorized(dispatch_verify(Platform::Facebook, &creds(), &post(&none, KAT_BODY), now())));
        let tampered = String::from_utf8(KAT_BODY.to_vec()).unwrap().replace("\"hi\"", "\"ho\"");
        assert!(unauthorized(dispatch_verify(
            Platform::Instagram,
            &creds(),
            &post(&headers, tampered.as_bytes()),
            now()
        )));
        for bad in [
            "ae2852e06de083ad54667ab147fb176e4ab2a534939cb9eb038618fb9b9493f1",
            "sha1=ae2852e06de083ad54667ab147fb176e4ab2a534939cb9eb038618fb9b9493f1",
            "sha256=zz",
            "sha256=ae2852e06de083ad54667ab147fb176e4ab2a534939cb9eb038618fb9b9493",
            "sha256=",
        ] {
            let headers = signed(bad);
            assert!(
                unauthorized(dispatch_verify(Platform::Threads, &creds(), &post(&headers, KAT_BODY), now())),
                "{bad}"
            );
        }
        // Upper-case prefix and hex digits are the same signature.
        let headers = signed(&KAT_SIGNATURE.to_uppercase());
        assert_eq!(dispatch_verify(Platform::Facebook, &creds(), &post(&headers, KAT_BODY), now()), Ok(()));
    }

    #[test]
    fn missing_app_secret_is_not_configured() {
        let creds = Credentials::from_json("c", &serde_json::json!({"verify_token": "t", "app_secret": ""})).unwrap();
        let headers = signed(KAT_SIGNATURE);
        assert_eq!(
            dispatch_verify(Platform::Facebook, &creds, &post(&headers, KAT_BODY), now()),
            Err(IntakeError::NotConfigured { field: "app_secret".into() })
        );
    }

    // --- handshake ---

    #[test]
    fn handshake_echoes_the_challenge_when_the_token_matches() {
        let q = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=my+verify%20token";
        for p in [Platform::Facebook, Platform::Instagram, Platform::Threads] {
            assert_eq!(
                hs(p, &creds(), q),
                Some(Ok(HandshakeReply { content_type: "text/plain; charset=utf-8", body: "1158201444".into() }))
            );
        }
        let php = "hub_mode=subscribe&hub_challenge=42&hub_verify_token=my%20verify%20token";
        assert_eq!(hs(Platform::Facebook, &creds(), php).unwrap().unwrap().body, "42");
    }

    #[test]
    fn handshake_refusals() {
        let wrong = "hub.mode=subscribe&hub.challenge=1&hub.verify_token=guess";
        assert!(matches!(hs(Platform::Facebook, &creds(), wrong), Some(Err(IntakeError::Unauthorized(_)))));
        let missing = "hub.mode=subscribe&hub.challenge=1";
        assert!(matches!(hs(Platform::Facebook, &creds(), missing), Some(Err(IntakeError::Unauthorized(_)))));
        let mode = "hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=my%20verify%20token";
        assert!(matches!(hs(Platform::Facebook, &creds(), mode), Some(Err(IntakeError::BadRequest { .. }))));
        let no_challenge = "hub.mode=subscribe&hub.verify_token=my%20verify%20token";
        assert!(matches!(hs(Platform::Facebook, &creds(), no_challenge), Some(Err(IntakeError::BadRequest { .. }))));
        let no_token = Credentials::from_json("c", &serde_json::json!({"app_secret": "s"})).unwrap();
        assert_eq!(
            hs(Platform::Instagram, &no_token, wrong),
            Some(Err(IntakeError::NotConfigured { field: "verify_token".into() }))
        );
        assert_eq!(hs(Platform::Facebook, &creds(), "foo=bar"), None, "not a handshake");
        let headers = HeaderMap::new();
        let as_post = WebhookRequest { method: &Method::POST, query: Some(wrong), headers: &headers, body: b"" };
        assert_eq!(dispatch_handshake(Platform::Facebook, &creds(), &as_post), None, "handshakes are GETs");
    }

    // --- parsing: Facebook ---

    #[test]
    fn the_known_answer_body_is_one_comment() {
        let events = parse(Platform::Facebook, KAT_BODY).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "comment/123_456");
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Comment);
        assert_eq!((d.external_id.as_str(), d.thread_id.as_str(), d.text.as_str()), ("123_456", "123_789", "hi"));
        assert_eq!(d.created_at, Utc.timestamp_opt(1_700_000_000, 0).unwrap(), "entry time when no created_time");
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("", ""), "no `from`: unknown author");
    }

    #[test]
    fn facebook_comment_and_reply() {
        let events =
            parse(Platform::Facebook, include_bytes!("../../../tests/fixtures/webhooks/facebook/feed_comment.json"))
                .unwrap();
        assert_eq!(events.len(), 1);
        let d = drafts(&events)[0];
        assert_eq!(events[0].event_id, "comment/1234567890_9876543210");
        assert_eq!(d.kind, InteractionKind::Comment);
        assert_eq!(d.author_id, "6543210987654321");
        assert_eq!(d.author_name, "Camille Martin");
        assert_eq!(d.text, "Vous ouvrez à quelle heure dimanche ?");
        assert_eq!(d.thread_id, "106123456789012_1234567890");
        assert_eq!(d.parent_id.as_deref(), Some("106123456789012_1234567890"));
        assert_eq!(d.post_external_id.as_deref(), Some("106123456789012_1234567890"));
        assert_eq!(d.post_url.as_deref(), Some("https://www.facebook.com/106123456789012/posts/1234567890"));
        assert_eq!(d.created_at, Utc.with_ymd_and_hms(2025, 10, 30, 9, 15, 0).unwrap());

        let events =
            parse(Platform::Facebook, include_bytes!("../../../tests/fixtures/webhooks/facebook/feed_reply.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Reply);
        assert_eq!(d.parent_id.as_deref(), Some("1234567890_9876543210"));
        assert_eq!(d.thread_id, "106123456789012_1234567890");
        assert_eq!(events[0].event_id, "comment/1234567890_9876543299");
    }

    #[test]
    fn facebook_messenger_message() {
        let events = parse(
            Platform::Facebook,
            include_bytes!("../../../tests/fixtures/webhooks/facebook/messenger_message.json"),
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].event_id,
            "message/m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
        );
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::DirectMessage);
        assert_eq!(d.author_id, "7012345678901234");
        assert_eq!(d.thread_id, "dm:7012345678901234");
        assert_eq!(d.text, "Bonjour, vous livrez à Lyon ?");
        assert_eq!(d.created_at, Utc.timestamp_millis_opt(1_761_815_700_123).unwrap());
    }

    #[test]
    fn facebook_mention() {
        let events =
            parse(Platform::Facebook, include_bytes!("../../../tests/fixtures/webhooks/facebook/mention.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Mention);
        assert_eq!(events[0].event_id, "comment/7766554433_1122334455");
        assert_eq!(d.author_name, "Lucie Bernard");
        assert_eq!(d.thread_id, "7766554433");
    }

    #[test]
    fn facebook_batch_keeps_interactions_and_ignores_the_rest() {
        let events =
            parse(Platform::Facebook, include_bytes!("../../../tests/fixtures/webhooks/facebook/batch.json")).unwrap();
        let kinds: Vec<_> = drafts(&events).iter().map(|d| d.kind).collect();
        assert_eq!(kinds, vec![InteractionKind::Comment, InteractionKind::DirectMessage]);
        assert_eq!(
            ignored_types(&events),
            vec![
                "feed.reaction.add",
                "feed.comment.add (own)",
                "feed.comment.edited",
                "messaging.message (echo)",
                "messaging.read",
                "ratings"
            ]
        );
        let ids: std::collections::HashSet<_> = events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), events.len(), "every event has its own key");
    }

    // --- parsing: Instagram ---

    #[test]
    fn instagram_comment_reply_mention_and_message() {
        let events =
            parse(Platform::Instagram, include_bytes!("../../../tests/fixtures/webhooks/instagram/comment.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(events[0].event_id, "comment/17865799348089039");
        assert_eq!(d.kind, InteractionKind::Comment);
        assert_eq!((d.author_id.as_str(), d.author_name.as_str()), ("232323232", "jules.dupont"));
        assert_eq!(d.thread_id, "17887498072083520");
        assert_eq!(d.post_external_id.as_deref(), Some("17887498072083520"));
        assert_eq!(d.text, "Trop beau ce gâteau 😍");
        assert_eq!(d.created_at, Utc.timestamp_opt(1_761_900_000, 0).unwrap());

        let events =
            parse(Platform::Instagram, include_bytes!("../../../tests/fixtures/webhooks/instagram/comment_reply.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Reply);
        assert_eq!(d.parent_id.as_deref(), Some("17865799348089039"));

        let events =
            parse(Platform::Instagram, include_bytes!("../../../tests/fixtures/webhooks/instagram/mention.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(events[0].event_id, "comment/17894227972186120");
        assert_eq!(d.kind, InteractionKind::Mention);
        assert_eq!(d.post_external_id.as_deref(), Some("17918195224117851"));
        assert_eq!(d.text, "", "mentions carry ids only");

        let events =
            parse(Platform::Instagram, include_bytes!("../../../tests/fixtures/webhooks/instagram/message.json"))
                .unwrap();
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::DirectMessage);
        assert_eq!(d.author_id, "5544332211");
        assert_eq!(d.text, "[image]", "attachment only");
        assert_eq!(events[0].event_id, "message/aWdfZAG1faWQ6MTc4NDE0");
    }

    #[test]
    fn instagram_docs_flat_entry_and_own_comment() {
        // The examples page puts field/value directly in the entry.
        let body = br#"{"object":"instagram","entry":[{"id":"17841400000000000","time":1761900000,"field":"comments","value":{"id":"1","from":{"id":"2","username":"ana"},"text":"hello","media":{"id":"3","media_product_type":"FEED"}}}]}"#;
        let events = parse(Platform::Instagram, body).unwrap();
        assert_eq!(drafts(&events)[0].text, "hello");
        let own = br#"{"object":"instagram","entry":[{"id":"17841400000000000","time":1761900000,"changes":[{"field":"comments","value":{"id":"1","from":{"id":"17841400000000000","username":"us"},"text":"thanks!","media":{"id":"3"}}}]}]}"#;
        assert_eq!(ignored_types(&parse(Platform::Instagram, own).unwrap()), vec!["comments (own)"]);
    }

    #[test]
    fn objects_of_another_platform_are_ignored() {
        let body = br#"{"object":"instagram","entry":[]}"#;
        assert_eq!(ignored_types(&parse(Platform::Facebook, body).unwrap()), vec!["object instagram"]);
        assert_eq!(parse(Platform::Instagram, body).unwrap(), vec![]);
    }

    #[test]
    fn unknown_fields_and_unusable_items_are_ignored() {
        let body = br#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","post_id":"1_2"}},{"field":"leadgen","value":{}},{"nofield":true}]},"not an entry"]}"#;
        let events = parse(Platform::Facebook, body).unwrap();
        assert_eq!(
            ignored_types(&events),
            vec![
                "feed.comment.add (unusable: no comment_id)",
                "leadgen",
                "change (unusable: missing field `field`)",
                "entry (unusable: invalid type: string \"not an entry\", expected struct Entry)",
            ]
        );
    }

    #[test]
    fn malformed_bodies_are_bad_requests() {
        for (p, body) in [
            (Platform::Facebook, &b"not json"[..]),
            (Platform::Facebook, br#"{"entry":[]}"#),
            (Platform::Instagram, br#"{"object":"instagram"}"#),
            (Platform::Instagram, br#"{"object":"instagram","entry":{}}"#),
            (Platform::Facebook, b"[]"),
            (Platform::Threads, b"{\"values\": 1"),
            (Platform::Threads, br#"{"app_id":"1"}"#),
            (Platform::Threads, b"42"),
        ] {
            assert!(
                matches!(parse(p, body), Err(IntakeError::BadRequest { .. })),
                "{p}: {}",
                String::from_utf8_lossy(body)
            );
        }
        match parse(Platform::Facebook, br#"{"entry":[]}"#) {
            Err(IntakeError::BadRequest { field, rule }) => {
                assert_eq!((field.as_str(), rule.as_str()), ("object", "is required"))
            }
            other => panic!("{other:?}"),
        }
    }

    // --- parsing: Threads ---

    #[test]
    fn threads_reply_from_the_docs() {
        let events =
            parse(Platform::Threads, include_bytes!("../../../tests/fixtures/webhooks/threads/reply.json")).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event_id, "post/8901234");
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Reply);
        assert_eq!(d.text, "Reply");
        assert_eq!(d.author_id, "test_username");
        assert_eq!(d.parent_id.as_deref(), Some("567890"));
        assert_eq!(d.thread_id, "123456");
        assert_eq!(d.post_external_id.as_deref(), Some("123456"));
        assert_eq!(d.post_url.as_deref(), Some("https://www.threads.net/@test_username/post/Pp"));
        assert_eq!(d.created_at, Utc.with_ymd_and_hms(2024, 8, 7, 10, 33, 16).unwrap());
    }

    #[test]
    fn threads_mention_and_other_fields() {
        let events =
            parse(Platform::Threads, include_bytes!("../../../tests/fixtures/webhooks/threads/mention.json")).unwrap();
        let d = drafts(&events)[0];
        assert_eq!(d.kind, InteractionKind::Mention);
        assert_eq!(events[0].event_id, "post/18045678901234567");
        assert_eq!(d.thread_id, "18045678901234567", "a mention that starts a thread is its own root");

        let events =
            parse(Platform::Threads, include_bytes!("../../../tests/fixtures/webhooks/threads/delete.json")).unwrap();
        assert_eq!(ignored_types(&events), vec!["delete"]);

        let own = br#"{"topic":"moderate","time":1723226877,"values":{"field":"replies","value":{"id":"9","username":"cafe","text":"merci","root_post":{"id":"1","owner_id":"5","username":"cafe"},"replied_to":{"id":"8"},"timestamp":"2024-08-07T10:33:16+0000"}}}"#;
        assert_eq!(ignored_types(&parse(Platform::Threads, own).unwrap()), vec!["replies (own)"]);

        let meta_style = br#"{"entry":[{"id":"78901","time":1723226877,"changes":[{"field":"replies","value":{"id":"7","username":"b","text":"hi","replied_to":{"id":"1"},"root_post":{"id":"1","username":"cafe"}}}]}]}"#;
        let events = parse(Platform::Threads, meta_style).unwrap();
        assert_eq!(events[0].event_id, "post/7");
        assert_eq!(drafts(&events)[0].created_at, Utc.timestamp_opt(1_723_226_877, 0).unwrap());

        let batch = br#"[{"time":1723226877,"values":{"field":"mentions","value":{"id":"1","username":"a","text":"@cafe"}}},{"values":{"field":"publish","value":{"id":"2"}}}]"#;
        let events = parse(Platform::Threads, batch).unwrap();
        assert_eq!(drafts(&events).len(), 1);
        assert_eq!(ignored_types(&events), vec!["publish"]);
    }
}
