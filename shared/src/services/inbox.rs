//! The unified inbox: list and filter, read a thread, assign, note, close and reopen, reply
//! through the platform, one author's history (a light CRM), and erasure of an author.
//!
//! Roles: viewers read; contributors and up work the inbox (assign, note, close, reply);
//! editors and up keep the watch list; only admins erase a contact.

use chrono::{DateTime, Duration, Utc};

use super::{Actor, ServiceError};
use crate::clock::Clock;
use crate::domain::{
    ChannelId, ErasedEvent, Incident, Interaction, InteractionId, InteractionKind, InteractionStatus, MAX_ID_BYTES, Note,
    Platform, Role, SentimentLabel, ValidationError,
};
use crate::events::{Event, EventKind};
use crate::platforms::{PublishError, Published};
use crate::ports::Ports;
use crate::store::{InboxQuery, Page, PageRequest, Store};

/// Longest internal note and reply, in characters (platform limits apply to replies on top).
pub const MAX_NOTE_CHARS: usize = 5000;
/// Most notes a team adds to one interaction ([`add_note`]; a reply's note may go past it).
pub const MAX_NOTES: usize = 100;
/// Largest stored form (JSON) an interaction may grow to by its notes. A DynamoDB item is at
/// most 400 KB (409,600 bytes) and one that grows past it can no longer be written at all, not
/// even to close it; the index keys and attribute overhead are a few KiB on top of this, and
/// an interaction's own text is at most 128 KiB ([`crate::domain::MAX_TEXT_BYTES`]), so
/// 300 KiB keeps every item well inside.
pub const MAX_INTERACTION_BYTES: usize = 300 * 1024;
/// Most watch-list terms per team, and the longest term.
pub const MAX_WATCH_TERMS: usize = 200;
pub const MAX_WATCH_TERM_CHARS: usize = 100;

/// The inbox's filters as a client writes them (the API's query string, a page's form), each
/// read and checked here once into the store's [`InboxQuery`]: `status` defaults to open, an
/// error names the filter (`channel_id`, `q`, …).
#[derive(Debug, Default, Clone, Copy)]
pub struct InboxFilters<'a> {
    pub status: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub channel_id: Option<&'a str>,
    pub sentiment: Option<&'a str>,
    /// A watch-list term, 1 to 100 characters.
    pub tag: Option<&'a str>,
    /// Text in the message or the author's name: 1 to 200 characters, not only spaces.
    pub q: Option<&'a str>,
    /// Whom it is assigned to, as `assign` took it (1 to 200 characters).
    pub assignee: Option<&'a str>,
}

impl InboxFilters<'_> {
    /// The query, between `from` (included) and `to` (excluded) when given.
    pub fn read(&self, from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<InboxQuery, ValidationError> {
        // Asking whose it is means the assigned ones, unless a status says otherwise.
        let status = match (self.status, self.assignee) {
            (Some(s), _) => InteractionStatus::parse("status", s)?,
            (None, Some(_)) => InteractionStatus::Assigned,
            (None, None) => InteractionStatus::Open,
        };
        let text = match self.q.map(str::trim) {
            Some("") => return Err(ValidationError::new("q", "must not be empty")),
            Some(q) if q.chars().count() > 200 => return Err(ValidationError::new("q", "at most 200 characters")),
            other => other.map(str::to_owned),
        };
        Ok(InboxQuery {
            status,
            from,
            to,
            channel: self.channel_id.map(|s| ChannelId::parse("channel_id", s)).transpose()?,
            kind: self.kind.map(|s| InteractionKind::parse("kind", s)).transpose()?,
            sentiment: self.sentiment.map(|s| SentimentLabel::parse("sentiment", s)).transpose()?,
            tag: match self.tag {
                Some(t) if t.is_empty() || t.chars().count() > 100 => {
                    return Err(ValidationError::new("tag", "must be 1 to 100 characters: a watch-list term"));
                }
                other => other.map(str::to_owned),
            },
            text,
            assignee: match self.assignee.map(str::trim) {
                Some(a) if a.is_empty() || a.chars().count() > 200 => {
                    return Err(ValidationError::new("assignee", "must be 1 to 200 characters: whom it is assigned to"));
                }
                other => other.map(str::to_owned),
            },
        })
    }
}

pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    query: &InboxQuery,
    page: &PageRequest,
) -> Result<Page<Interaction>, ServiceError> {
    Ok(store.inbox(&actor.team_id, query, page).await?)
}

pub async fn get(store: &dyn Store, actor: &Actor, id: InteractionId) -> Result<Interaction, ServiceError> {
    store
        .get_interaction(&actor.team_id, id)
        .await?
        .ok_or_else(|| ServiceError::NotFound { message: "no such interaction in your team".into(), field: Some("id".into()) })
}

/// The conversation an interaction belongs to, oldest first.
pub async fn thread(store: &dyn Store, actor: &Actor, id: InteractionId) -> Result<Vec<Interaction>, ServiceError> {
    let it = get(store, actor, id).await?;
    Ok(store.thread(&actor.team_id, it.channel_id, &it.thread_id).await?)
}

/// Assigns to a team member (any label: a name or an e-mail), or unassigns with `None`.
pub async fn assign(
    store: &dyn Store,
    actor: &Actor,
    id: InteractionId,
    assignee: Option<String>,
) -> Result<Interaction, ServiceError> {
    actor.require(Role::Contributor, "working the inbox needs the contributor role or above")?;
    let assignee = match assignee.map(|a| a.trim().to_owned()) {
        Some(a) if a.is_empty() || a.chars().count() > 200 => {
            return Err(ValidationError::new("assignee", "must be 1 to 200 characters, or null to unassign").into());
        }
        other => other,
    };
    let mut it = get(store, actor, id).await?;
    it.status = match (&assignee, it.status) {
        (_, InteractionStatus::Closed | InteractionStatus::Answered) => it.status,
        (Some(_), _) => InteractionStatus::Assigned,
        (None, _) => InteractionStatus::Open,
    };
    it.assignee = assignee;
    store.update_interaction(&it).await?;
    Ok(it)
}

pub async fn add_note(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: InteractionId,
    text: &str,
) -> Result<Interaction, ServiceError> {
    actor.require(Role::Contributor, "working the inbox needs the contributor role or above")?;
    let text = bounded_text("text", text)?;
    let mut it = get(store, actor, id).await?;
    if it.notes.len() >= MAX_NOTES {
        return Err(ValidationError::new(
            "text",
            format!("an interaction holds at most {MAX_NOTES} notes, and this one has {}", it.notes.len()),
        )
        .into());
    }
    if !push_note(&mut it, Note { author: actor.key_id.to_string(), text, at: clock.now() }) {
        return Err(ValidationError::new(
            "text",
            format!(
                "the notes of this interaction are full: with this note it would take more than {} KiB",
                MAX_INTERACTION_BYTES / 1024
            ),
        )
        .into());
    }
    store.update_interaction(&it).await?;
    Ok(it)
}

/// Appends `note` when the interaction's stored form stays within [`MAX_INTERACTION_BYTES`];
/// `false` (and `it` unchanged) when it would not.
fn push_note(it: &mut Interaction, note: Note) -> bool {
    it.notes.push(note);
    // Serialising these plain types cannot fail; if it ever did, the note would not be kept.
    let fits = serde_json::to_vec(&*it).is_ok_and(|json| json.len() <= MAX_INTERACTION_BYTES);
    if !fits {
        it.notes.pop();
    }
    fits
}

/// Closes (`true`) or reopens (`false`: back to assigned when it has an assignee, else open).
pub async fn set_closed(
    store: &dyn Store,
    actor: &Actor,
    id: InteractionId,
    closed: bool,
) -> Result<Interaction, ServiceError> {
    actor.require(Role::Contributor, "working the inbox needs the contributor role or above")?;
    let mut it = get(store, actor, id).await?;
    it.status = match (closed, &it.assignee) {
        (true, _) => InteractionStatus::Closed,
        (false, Some(_)) => InteractionStatus::Assigned,
        (false, None) => InteractionStatus::Open,
    };
    store.update_interaction(&it).await?;
    Ok(it)
}

#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The platform refused or could not be reached; nothing changed in Herald.
    #[error("{0}")]
    Platform(PublishError),
}

/// Answers on the platform, then marks the interaction answered (recording the first-response
/// time once) and keeps the reply as a note. It needs most of the host's ports: the store, the
/// clock, the cipher (the channel's credentials) and the network adapters.
///
/// The reply is out once the platform took it, so Herald records it whatever the notes hold:
/// its note may go past [`MAX_NOTES`] (the team's notes stop there, replies do not), and only
/// when even that note would take the interaction past [`MAX_INTERACTION_BYTES`] is the note
/// left out (logged); the answered status and the first-response time are recorded always.
///
/// A `generic` channel's interaction came from another tool (a CRM, a form, Zapier): with no
/// adapter that answers on its network, the reply is handed to that tool as an `Interaction Reply
/// Requested` event (EventBridge and outgoing webhooks) and the result is `None`; a reply the
/// events could not carry is a transient failure (503) and changes nothing.
pub async fn reply(
    cx: &Ports,
    actor: &Actor,
    id: InteractionId,
    text: &str,
) -> Result<(Interaction, Option<Published>), ReplyError> {
    actor.require(Role::Contributor, "working the inbox needs the contributor role or above")?;
    let text = bounded_text("text", text).map_err(ServiceError::from)?;
    let it = get(&*cx.store, actor, id).await?;
    let channel = cx
        .store
        .get_channel(&actor.team_id, it.channel_id)
        .await
        .map_err(ServiceError::from)?
        .ok_or_else(|| ServiceError::Conflict("the channel of this interaction was removed".into()))?;
    let adapter = match cx.adapters.inbox(channel.platform) {
        Some(adapter) => adapter,
        None if channel.platform == Platform::Generic => return hand_off_reply(cx, actor, it, &text).await,
        None => {
            let platform = channel.platform.as_str();
            return Err(ServiceError::Conflict(format!("replying on {platform} is not supported yet")).into());
        }
    };
    // A channel without credentials has empty ones: only networks that need none take them
    // (connecting checks that), and the adapter names any field it misses.
    let credentials = cx
        .cipher
        .open_or_empty(channel.id, channel.credentials.as_ref())
        .map_err(|_| ServiceError::Conflict("the channel's credentials could not be opened".into()))?;
    let published = adapter.reply(&channel, &credentials, &it, &text).await.map_err(ReplyError::Platform)?;

    let link = published.url.clone().unwrap_or_else(|| published.platform_post_id.clone());
    let it = record_answer(&*cx.store, cx.clock.now(), actor, it, format!("Replied ({link}): {text}")).await?;
    Ok((it, Some(published)))
}

/// The reply to a `generic` interaction, handed to the tool that sent it.
async fn hand_off_reply(
    cx: &Ports,
    actor: &Actor,
    it: Interaction,
    text: &str,
) -> Result<(Interaction, Option<Published>), ReplyError> {
    let now = cx.clock.now();
    let detail = serde_json::json!({
        "interaction_id": it.id,
        "channel_id": it.channel_id,
        "external_id": it.external_id,
        "thread_id": it.thread_id,
        "author": {"id": it.author_id, "name": it.author_name},
        "text": text,
        "requested_by": actor.key_id,
    });
    let event = Event::new(EventKind::InteractionReplyRequested, &actor.team_id, now, detail);
    cx.events.emit(&event).await.map_err(|e| {
        ReplyError::Platform(PublishError::Transient {
            reason: format!("the reply could not be handed to the integration: {e}"),
            retry_after: None,
        })
    })?;
    let it = record_answer(&*cx.store, now, actor, it, format!("Reply handed to the integration: {text}")).await?;
    Ok((it, None))
}

/// Marks an interaction answered at `now` (its first-response time, once) with a note of how.
/// The answer is out, so it is recorded whatever the notes hold: only when even this note would
/// take the interaction past [`MAX_INTERACTION_BYTES`] is the note left out (logged).
async fn record_answer(
    store: &dyn Store,
    now: DateTime<Utc>,
    actor: &Actor,
    mut it: Interaction,
    note: String,
) -> Result<Interaction, ServiceError> {
    it.status = InteractionStatus::Answered;
    it.first_response_at = Some(it.first_response_at.map_or(now, |t| t.min(now)));
    let note = Note { author: actor.key_id.to_string(), text: note, at: now };
    if !push_note(&mut it, note) {
        tracing::warn!(interaction = %it.id, "answer recorded, but its note no longer fits the interaction");
    }
    store.update_interaction(&it).await?;
    Ok(it)
}

/// Marks an interaction answered elsewhere (by phone, at the counter, on a network Herald does
/// not answer on): the first-response time is recorded, with who said so and an optional note.
pub async fn mark_answered(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    id: InteractionId,
    note: Option<&str>,
) -> Result<Interaction, ServiceError> {
    actor.require(Role::Contributor, "working the inbox needs the contributor role or above")?;
    let note = note.map(|n| bounded_text("note", n)).transpose()?;
    let it = get(store, actor, id).await?;
    let text = match note {
        Some(n) => format!("Answered elsewhere: {n}"),
        None => "Answered elsewhere".to_owned(),
    };
    record_answer(store, clock.now(), actor, it, text).await
}

/// Everything one author wrote to the team, newest first.
pub async fn contact(
    store: &dyn Store,
    actor: &Actor,
    platform: Platform,
    author_id: &str,
    page: &PageRequest,
) -> Result<Page<Interaction>, ServiceError> {
    storable_author_id(author_id)?;
    Ok(store.by_author(&actor.team_id, platform, author_id, page).await?)
}

/// An author id no interaction can have (over [`MAX_ID_BYTES`]) is refused before the store
/// sees it: in DynamoDB it would make an index key over the size limit, a backend error.
fn storable_author_id(author_id: &str) -> Result<(), ValidationError> {
    if author_id.len() > MAX_ID_BYTES {
        return Err(ValidationError::new("author_id", format!("must be at most {MAX_ID_BYTES} bytes")));
    }
    Ok(())
}

/// Erases every stored item of one author: their interactions and the raw webhook bodies
/// they came in (found through the author index, never a scan). Returns how many items went.
///
/// Each erased interaction leaves, for `keep` (intake's raw-body retention), only the
/// fingerprint of its event ([`ErasedEvent`]: a hash, nothing of the person in clear), written
/// before the interaction goes, so that the same event delivered again (a platform's retry, a
/// captured body replayed: Meta, X and LinkedIn sign no timestamp) is not stored again.
pub async fn erase_contact(
    store: &dyn Store,
    clock: &dyn Clock,
    actor: &Actor,
    platform: Platform,
    author_id: &str,
    keep: Duration,
) -> Result<usize, ServiceError> {
    actor.require(Role::Admin, "erasing a contact needs the admin role")?;
    storable_author_id(author_id)?;
    let now = clock.now();
    let mut removed = 0;
    loop {
        // Always the first page: what was read is deleted, so the next read starts afresh.
        let page = store.by_author(&actor.team_id, platform, author_id, &PageRequest::first(PageRequest::MAX_PAGE)).await?;
        if page.items.is_empty() {
            return Ok(removed);
        }
        for it in page.items {
            store.put_erased_event(&ErasedEvent::new(it.channel_id, &it.external_id, now, keep)).await?;
            if let Some(raw) = it.raw_event_id
                && store.get_raw_event(raw).await?.is_some()
            {
                store.delete_raw_event(raw).await?;
                removed += 1;
            }
            match store.delete_interaction(&actor.team_id, it.id).await {
                Ok(()) => removed += 1,
                Err(crate::store::StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

pub async fn watch_terms(store: &dyn Store, actor: &Actor) -> Result<Vec<String>, ServiceError> {
    Ok(actor.team(store).await?.watch_terms)
}

/// Replaces the team's watch list (trimmed, duplicates dropped, order kept).
pub async fn set_watch_terms(store: &dyn Store, actor: &Actor, terms: Vec<String>) -> Result<Vec<String>, ServiceError> {
    actor.require(Role::Editor, "the watch list needs the editor role or above")?;
    if terms.len() > MAX_WATCH_TERMS {
        return Err(ValidationError::new("terms", format!("at most {MAX_WATCH_TERMS} terms")).into());
    }
    let mut clean: Vec<String> = Vec::with_capacity(terms.len());
    for (i, term) in terms.iter().enumerate() {
        let t = term.trim();
        if t.is_empty() || t.chars().count() > MAX_WATCH_TERM_CHARS || t.chars().any(char::is_control) {
            return Err(ValidationError::new(
                format!("terms[{i}]"),
                format!("must be 1 to {MAX_WATCH_TERM_CHARS} characters, no control characters"),
            )
            .into());
        }
        if !clean.iter().any(|c| c.to_lowercase() == t.to_lowercase()) {
            clean.push(t.to_owned());
        }
    }
    let mut team = actor.team(store).await?;
    team.watch_terms = clean.clone();
    store.update_team(&team).await?;
    Ok(clean)
}

pub async fn incidents(store: &dyn Store, actor: &Actor, page: &PageRequest) -> Result<Page<Incident>, ServiceError> {
    Ok(store.list_incidents(&actor.team_id, page).await?)
}

/// Seconds from the interaction to the team's first answer, when there is one.
pub fn first_response_seconds(it: &Interaction) -> Option<i64> {
    it.first_response_at.map(|t: DateTime<Utc>| (t - it.created_at).num_seconds().max(0))
}

fn bounded_text(field: &str, text: &str) -> Result<String, ValidationError> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_NOTE_CHARS {
        return Err(ValidationError::new(field, format!("must be 1 to {MAX_NOTE_CHARS} characters")));
    }
    Ok(t.to_owned())
}
