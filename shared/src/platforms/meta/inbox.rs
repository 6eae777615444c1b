//! The inbox on Meta's networks: answering Facebook Page comments, Instagram comments and
//! Threads replies and mentions, and polling Instagram comments for accounts whose webhooks are
//! not set up (Herald issue 14).
//!
//! What is answered is what the webhook intake stored (`intake/webhooks/meta.rs`): the
//! interaction's `external_id` is the comment's (or Threads post's) own id, `parent_id` the
//! comment it answered, and no `reply_ref` is needed.
//!
//! - Facebook: `POST /{comment-id}/comments` with `message` → `{"id"}` (Meta's Graph comments
//!   reference; ⚠️ not in platforms.md). Facebook nests replies one level under a comment, so
//!   an answer to a reply goes under the comment it replied to, as the Page's own app does (⚠️).
//! - Instagram: `POST /{ig-comment-id}/replies?message=` → `{"id"}` (platforms-more.md §8.1 ✅);
//!   replies are one level deep there too, so an answer to a reply goes under its parent comment.
//!   A mention on someone else's media is answered through another endpoint (`/{ig-user-id}/mentions`,
//!   not in the shared files): refused with a clear reason for now.
//! - Threads: a container with `reply_to_id` (`POST /{threads-user-id}/threads` with
//!   `media_type=TEXT`, `text`, `reply_to_id` ✅ §5.2), waited for like a post's, then
//!   `POST /{threads-user-id}/threads_publish?creation_id=` ✅. Over the 1,000 replies a day
//!   (§5.2) Meta refuses the publish with a Graph error, reported as it comes.
//! - Direct messages (Messenger, Instagram Direct) are not answered here yet: refused with a
//!   clear reason (Threads has no DM API at all, §5.1).
//!
//! Exactly once: none of the three takes an idempotency key, so a retry after a lost answer
//! could post the reply twice. Before posting, each reply reads the answers already under the
//! comment (Facebook `GET /{comment-id}/comments`, Instagram `GET /{ig-comment-id}/replies`) or
//! the account's own latest replies (Threads `GET /{threads-user-id}/replies`, §5.1's `/me/replies`
//! ✅ by the account's id) and
//! returns an answer by the account with the same text (normalised: NFC, whitespace collapsed)
//! instead of posting again. Limits: one page is read (the latest 100 on Facebook, the first 50
//! on Instagram, the latest 25 on Threads); the same text already written by hand under the same
//! comment counts as this reply; a lost answer between the read and the write still doubles.
//!
//! Polling (Instagram only): runs only for an account with no webhook, i.e. credentials without
//! `app_secret`; with one, `poll` returns nothing and the cursor unchanged, so that the
//! scheduled poller can call every channel alike. The adapter decides (not the poller), because
//! only the Meta adapters know that the `app_secret` field means "webhooks on". Facebook and
//! Threads `poll` always return nothing: their comments and replies come by webhook (Facebook's
//! `feed` field; Threads `replies` and `mentions`). Threads' `GET /me/replies` lists the account's
//! *own* replies, not replies to it, and reading every recent post's `/conversation` each
//! minute is not cheap; Facebook's comment listing through `/{page-id}/feed` field expansion is
//! ⚠️ (not in the shared files).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::facebook::{self, FacebookAdapter};
use super::instagram::{self, InstagramAdapter};
use super::threads::{self, ThreadsAdapter};
use super::{Created, List, parse_graph_time, same_text};
use crate::crypto::Credentials;
use crate::domain::{Channel, Interaction, InteractionDraft, InteractionKind};
use crate::intake::webhooks::meta::APP_SECRET;
use crate::platforms::mastodon::permanent;
use crate::platforms::{InboxAdapter, Polled, PublishError, Published};

/// Media whose comments one Instagram poll reads, newest first: at most 1 + 10 Graph calls a
/// poll, but only the media whose comment count moved are read ([`MediaCounts`]), so a quiet
/// account costs one call a poll and a full read every [`IG_FULL_READ_EVERY`] (⚠️ Meta's
/// per-account call budget is not in the shared files); a throttled poll is a transient
/// failure with Meta's wait, and the cursor does not move.
pub const IG_MEDIA_PER_POLL: usize = 10;
/// Comments read per media (one page; the paging is not followed).
const IG_COMMENTS_PER_MEDIA: &str = "50";
/// What is read of each Instagram comment, its replies expanded with the same fields (the IG
/// Comment fields `from` and `parent_id` ✅ Graph changelog 2021-10-20; the `/comments` edge of
/// IG Media ✅ Meta's reference; the nested `replies{…}` form is Graph field expansion ⚠️).
const IG_COMMENT_FIELDS: &str =
    "id,text,timestamp,username,from,parent_id,replies{id,text,timestamp,username,from,parent_id}";

/// Whether Meta pushes this channel's interactions: its credentials hold the app secret that
/// signs the webhooks (the intake refuses webhooks without it).
fn has_webhooks(credentials: &Credentials) -> bool {
    credentials.get(APP_SECRET).is_some_and(|s| !s.trim().is_empty())
}

/// Nothing new, and the stored cursor kept.
fn nothing(cursor: Option<&str>) -> Polled {
    Polled { items: vec![], cursor: cursor.map(str::to_owned) }
}

/// The comment an answer goes under on Facebook and Instagram: the comment itself, or, for a
/// reply to a comment, that comment (both networks nest one level only).
fn comment_to_answer<'a>(to: &'a Interaction, platform: &str) -> Result<&'a str, PublishError> {
    if to.kind == InteractionKind::DirectMessage {
        return Err(permanent(format!(
            "answering {platform} direct messages from Herald is not supported yet; answer it in {platform}"
        )));
    }
    let parent = to.parent_id.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let target = match (to.kind, parent) {
        (InteractionKind::Reply, Some(parent)) => parent,
        _ => to.external_id.trim(),
    };
    if target.is_empty() {
        return Err(permanent(format!("this interaction has no {platform} comment id to answer")));
    }
    Ok(target)
}

// ---------------------------------------------------------------------------------------------
// Facebook

/// A comment under a Page post or comment (Graph Comment: `id`, `message`, `from{id,name}`,
/// `permalink_url` ⚠️ not in the shared files).
#[derive(Debug, Deserialize)]
struct FbComment {
    id: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    from: Option<Author>,
    #[serde(default)]
    permalink_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Author {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

impl Author {
    fn is(&self, account_id: &str) -> bool {
        self.id.as_deref() == Some(account_id)
    }
}

#[async_trait]
impl InboxAdapter for FacebookAdapter {
    /// Nothing: Page comments come by webhook (`feed`); see the module's doc.
    async fn poll(&self, _: &Channel, _: &Credentials, cursor: Option<&str>) -> Result<Polled, PublishError> {
        Ok(nothing(cursor))
    }

    /// `GET /{comment-id}/comments?order=reverse_chronological` (the `order` values are from
    /// Meta's comments reference ⚠️) for an answer by the Page with the same text, else
    /// `POST /{comment-id}/comments` with `message`, then the new comment's `permalink_url`
    /// (best effort).
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        const PLATFORM: &str = "Facebook";
        let page = facebook::page(credentials)?;
        let target = comment_to_answer(to, PLATFORM)?;
        let answers: List<FbComment> = self
            .graph
            .get(
                &[target, "comments"],
                &[("fields", "id,message,from,permalink_url"), ("order", "reverse_chronological"), ("limit", "100")],
                &page.token,
                "reading the answers under the comment",
            )
            .await?;
        let existing = answers.data.into_iter().find(|c| {
            c.from.as_ref().is_some_and(|f| f.is(&page.id)) && same_text(text, c.message.as_deref())
        });
        if let Some(c) = existing {
            tracing::info!(channel = %channel.id, interaction = %to.id, comment_id = %c.id, "Facebook reply already there");
            return Ok(Published { platform_post_id: c.id, url: c.permalink_url, published_at: None });
        }
        let made: Created =
            self.graph.post(&[target, "comments"], &[("message", text.to_owned())], &page.token, "replying").await?;
        tracing::info!(channel = %channel.id, interaction = %to.id, comment_id = %made.id, "replied on Facebook");
        let url = match self
            .graph
            .get::<FbComment>(&[&made.id], &[("fields", "id,permalink_url")], &page.token, "reading the reply")
            .await
        {
            Ok(c) => c.permalink_url,
            Err(e) => {
                tracing::warn!(comment_id = %made.id, error = %e, "replied on Facebook; its link could not be read");
                None
            }
        };
        Ok(Published { platform_post_id: made.id, url, published_at: None })
    }
}

// ---------------------------------------------------------------------------------------------
// Instagram

#[derive(Debug, Deserialize)]
struct IgMedia {
    id: String,
    #[serde(default)]
    permalink: Option<String>,
    /// ❓ on the IG Media node (platforms.md §4.4): when Meta gives 0, the media is skipped;
    /// when it gives nothing, its comments are read.
    #[serde(default)]
    comments_count: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct IgComment {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    from: Option<Author>,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    replies: Option<List<IgComment>>,
}

impl IgComment {
    /// The draft the webhook intake makes of the same comment (`comment/<id>`; kind, thread,
    /// parent, author as `ig_comment` reads them), with the time Meta gives and the media's link.
    fn draft(self, media: &IgMedia, created_at: DateTime<Utc>) -> InteractionDraft {
        let from = self.from.unwrap_or_default();
        let author_id = from.id.unwrap_or_default();
        let author_name = from
            .username
            .or(self.username)
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| author_id.clone());
        let parent_id = self.parent_id.filter(|p| !p.trim().is_empty());
        InteractionDraft {
            kind: if parent_id.is_some() { InteractionKind::Reply } else { InteractionKind::Comment },
            external_id: self.id,
            thread_id: media.id.clone(),
            parent_id: parent_id.or_else(|| Some(media.id.clone())),
            author_id,
            author_name,
            text: self.text.unwrap_or_default(),
            created_at,
            post_external_id: Some(media.id.clone()),
            post_url: media.permalink.clone(),
            reply_ref: None,
        }
    }
}

/// Where an Instagram poll starts: the newest comment time seen, and the ids of the comments of
/// that very second already returned (so that a comment written later in the same second is
/// not lost, and the others are not returned again). Written `<RFC 3339>|<id>,<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    at: DateTime<Utc>,
    ids: Vec<String>,
}

/// The other half of an Instagram poll's cursor, after a `#`: each recent media's
/// `comments_count` when it was last read, and how many polls ago every media was read in full.
/// A media whose count has not moved is not read again, so a quiet account costs one call a
/// poll instead of eleven. Every [`IG_FULL_READ_EVERY`] polls all are read anyway: that a reply
/// moves its media's `comments_count` is not in the shared files (⚠️), and a reply that did not
/// would otherwise wait for the next comment. Written `<polls since a full read>;<media>=<count>,…`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct MediaCounts {
    polls: u32,
    counts: Vec<(String, u64)>,
}

/// Every this many polls (ten minutes at the poller's minute), every recent media is read.
pub const IG_FULL_READ_EVERY: u32 = 10;

impl MediaCounts {
    /// Nothing (or an unreadable half): a full read now.
    fn read(half: Option<&str>) -> Self {
        let Some((polls, counts)) = half.and_then(|h| h.split_once(';')) else { return Self::default() };
        let Ok(polls) = polls.parse() else { return Self::default() };
        let counts = counts
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(id, n)| Some((id.to_owned(), n.parse().ok()?)))
            .collect();
        Self { polls, counts }
    }

    fn full_read_due(&self) -> bool {
        self.counts.is_empty() || self.polls + 1 >= IG_FULL_READ_EVERY
    }

    /// Whether `media` says as many comments as when it was last read.
    fn unchanged(&self, media: &IgMedia) -> bool {
        media.comments_count.is_some_and(|now| self.counts.iter().any(|(id, n)| *id == media.id && *n == now))
    }

    /// After a poll that read `media`'s comments where they moved (all of them when a full read
    /// was due).
    fn next(&self, media: &[IgMedia]) -> Self {
        let polls = if self.full_read_due() { 0 } else { self.polls + 1 };
        Self { polls, counts: media.iter().filter_map(|m| Some((m.id.clone(), m.comments_count?))).collect() }
    }

    fn write(&self) -> String {
        let counts: Vec<String> = self.counts.iter().map(|(id, n)| format!("{id}={n}")).collect();
        format!("{};{}", self.polls, counts.join(","))
    }
}

/// Ids kept for the cursor's last second; beyond them a comment may come again (the intake
/// stores it once anyway).
const MAX_CURSOR_IDS: usize = 20;

impl Cursor {
    /// An unreadable cursor is a first run (logged).
    fn read(cursor: Option<&str>) -> Option<Self> {
        let c = cursor.map(str::trim).filter(|c| !c.is_empty())?;
        let (at, ids) = c.split_once('|').unwrap_or((c, ""));
        let read = parse_graph_time(at).map(|at| Self {
            at,
            ids: ids.split(',').map(str::trim).filter(|i| !i.is_empty()).map(str::to_owned).collect(),
        });
        if read.is_none() {
            tracing::warn!(cursor = %c.chars().take(64).collect::<String>(), "unreadable Instagram poll cursor; reading the latest comments again");
        }
        read
    }

    /// Whether a comment of `at` was returned by an earlier poll.
    fn covers(&self, at: DateTime<Utc>, id: &str) -> bool {
        at < self.at || (at == self.at && self.ids.iter().any(|i| i == id))
    }

    /// The cursor after `items` (oldest first), from `before` when nothing is newer.
    fn after(before: Option<Self>, items: &[(String, InteractionDraft)]) -> Option<Self> {
        let Some((_, last)) = items.last() else { return before };
        let at = last.created_at;
        let mut ids: Vec<String> = match before {
            Some(b) if b.at == at => b.ids,
            _ => vec![],
        };
        ids.extend(items.iter().filter(|(_, d)| d.created_at == at).map(|(_, d)| d.external_id.clone()));
        let skip = ids.len().saturating_sub(MAX_CURSOR_IDS);
        Some(Self { at, ids: ids.split_off(skip) })
    }

    fn write(&self) -> String {
        format!("{}|{}", self.at.to_rfc3339(), self.ids.join(","))
    }
}

#[async_trait]
impl InboxAdapter for InstagramAdapter {
    /// Comments on the account's [`IG_MEDIA_PER_POLL`] latest media
    /// (`GET /{ig-user-id}/media?fields=id,permalink,timestamp,comments_count&limit=10`, newest
    /// first, then `GET /{ig-media-id}/comments?fields=<IG_COMMENT_FIELDS>&limit=50` for each
    /// media with comments), their replies included, oldest first, each under the key the
    /// webhook intake gives it (`comment/<id>`), so a comment that comes both ways is stored
    /// once. The cursor ([`Cursor`]) is the newest comment time seen and the ids of that second.
    /// A media whose `comments_count` has not moved since it was last read is skipped, except
    /// every [`IG_FULL_READ_EVERY`] polls ([`MediaCounts`], the cursor's second half).
    /// A first run reads one page of each listing, nothing older. The account's
    /// own comments (`from.id` = the account, as the webhook intake judges them ⚠️: that `from.id`
    /// is the account's id on its own comments is not in the shared files) are skipped.
    /// Nothing at all, and no call, when the channel has webhooks (`app_secret`).
    async fn poll(&self, channel: &Channel, credentials: &Credentials, cursor: Option<&str>) -> Result<Polled, PublishError> {
        if has_webhooks(credentials) {
            return Ok(nothing(cursor));
        }
        let account = instagram::account(credentials)?;
        let (comments_cursor, counts_cursor) = match cursor {
            Some(c) => c.split_once('#').map_or((Some(c), None), |(a, b)| (Some(a), Some(b))),
            None => (None, None),
        };
        let since = Cursor::read(comments_cursor);
        let known = MediaCounts::read(counts_cursor);
        let limit = IG_MEDIA_PER_POLL.to_string();
        let media: List<IgMedia> = self
            .graph
            .get(
                &[&account.id, "media"],
                &[("fields", "id,permalink,timestamp,comments_count"), ("limit", &limit)],
                &account.token,
                "listing recent media",
            )
            .await?;
        let mut found: Vec<(String, InteractionDraft)> = Vec::new();
        let full = known.full_read_due();
        for m in media.data.iter().take(IG_MEDIA_PER_POLL) {
            if m.comments_count == Some(0) || (!full && known.unchanged(m)) {
                continue;
            }
            let comments: List<IgComment> = self
                .graph
                .get(
                    &[&m.id, "comments"],
                    &[("fields", IG_COMMENT_FIELDS), ("limit", IG_COMMENTS_PER_MEDIA)],
                    &account.token,
                    "reading comments",
                )
                .await?;
            let mut all = Vec::new();
            for mut c in comments.data {
                let replies = c.replies.take().map(|r| r.data).unwrap_or_default();
                for mut r in replies {
                    // A reply listed under its comment is a reply to it, whatever it says.
                    r.parent_id = r.parent_id.or_else(|| Some(c.id.clone()));
                    all.push(r);
                }
                all.push(c);
            }
            for c in all {
                let Some(at) = c.timestamp.as_deref().and_then(parse_graph_time) else {
                    tracing::debug!(comment_id = %c.id, "Instagram comment without a readable timestamp skipped");
                    continue;
                };
                let own = c.from.as_ref().is_some_and(|f| f.is(&account.id));
                let seen = since.as_ref().is_some_and(|s| s.covers(at, &c.id));
                if own || seen || found.iter().any(|(_, d)| d.external_id == c.id) {
                    continue;
                }
                found.push((format!("comment/{}", c.id), c.draft(m, at)));
            }
        }
        found.sort_by_key(|(_, d)| d.created_at);
        tracing::debug!(channel = %channel.id, found = found.len(), "polled Instagram comments");
        let comments = Cursor::after(since, &found).map(|c| c.write()).or_else(|| comments_cursor.map(str::to_owned));
        let counts = known.next(&media.data).write();
        Ok(Polled { items: found, cursor: Some(format!("{}#{counts}", comments.unwrap_or_default())) })
    }

    /// `GET /{ig-comment-id}/replies?fields=id,text,from` for an answer by the account with the
    /// same text, else `POST /{ig-comment-id}/replies` with `message` (§8.1 ✅). Instagram
    /// comments have no link of their own: the reply's `url` is the post's when known.
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        const PLATFORM: &str = "Instagram";
        let account = instagram::account(credentials)?;
        if to.kind == InteractionKind::Mention {
            return Err(permanent(
                "answering an Instagram mention on someone else's media from Herald is not supported yet; answer it in Instagram",
            ));
        }
        let target = comment_to_answer(to, PLATFORM)?;
        let answers: List<IgComment> = self
            .graph
            .get(
                &[target, "replies"],
                &[("fields", "id,text,timestamp,username,from"), ("limit", IG_COMMENTS_PER_MEDIA)],
                &account.token,
                "reading the replies to the comment",
            )
            .await?;
        let url = to.post_url.clone();
        let existing =
            answers.data.into_iter().find(|c| c.from.as_ref().is_some_and(|f| f.is(&account.id)) && same_text(text, c.text.as_deref()));
        if let Some(c) = existing {
            tracing::info!(channel = %channel.id, interaction = %to.id, comment_id = %c.id, "Instagram reply already there");
            let published_at = c.timestamp.as_deref().and_then(parse_graph_time);
            return Ok(Published { platform_post_id: c.id, url, published_at });
        }
        let made: Created =
            self.graph.post(&[target, "replies"], &[("message", text.to_owned())], &account.token, "replying").await?;
        tracing::info!(channel = %channel.id, interaction = %to.id, comment_id = %made.id, "replied on Instagram");
        Ok(Published { platform_post_id: made.id, url, published_at: None })
    }
}

// ---------------------------------------------------------------------------------------------
// Threads

/// One of the account's own replies (`GET /{threads-user-id}/replies`, fields 🟡 from Meta's
/// "Retrieve replies" page as mirrored: `replied_to{id}`).
#[derive(Debug, Deserialize)]
struct OwnReply {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    replied_to: Option<Ref>,
}

#[derive(Debug, Deserialize)]
struct Ref {
    #[serde(default)]
    id: Option<String>,
}

impl OwnReply {
    fn published(self) -> Published {
        Published {
            published_at: self.timestamp.as_deref().and_then(parse_graph_time),
            url: self.permalink,
            platform_post_id: self.id,
        }
    }
}

#[async_trait]
impl InboxAdapter for ThreadsAdapter {
    /// Nothing: replies and mentions come by webhook; see the module's doc.
    async fn poll(&self, _: &Channel, _: &Credentials, cursor: Option<&str>) -> Result<Polled, PublishError> {
        Ok(nothing(cursor))
    }

    /// The account's 25 latest replies (`GET /{threads-user-id}/replies?fields=id,text,timestamp,permalink,replied_to`)
    /// for one to the same post with the same text; else a `TEXT` container with `reply_to_id`
    /// = the post answered (Threads nests replies, so a reply is answered where it is), waited
    /// for, published with `threads_publish`, and its `permalink` read (best effort).
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        let account = threads::account(credentials)?;
        if to.kind == InteractionKind::DirectMessage {
            return Err(permanent("Threads has no direct messages to answer"));
        }
        let target = to.external_id.trim();
        if target.is_empty() {
            return Err(permanent("this interaction has no Threads post id to answer"));
        }
        let own: List<OwnReply> = self
            .graph
            .get(
                &[&account.id, "replies"],
                &[("fields", "id,text,timestamp,permalink,replied_to"), ("limit", "25")],
                &account.token,
                "reading the account's latest replies",
            )
            .await?;
        let existing = own
            .data
            .into_iter()
            .find(|r| r.replied_to.as_ref().and_then(|p| p.id.as_deref()) == Some(target) && same_text(text, r.text.as_deref()));
        if let Some(r) = existing {
            tracing::info!(channel = %channel.id, interaction = %to.id, thread_id = %r.id, "Threads reply already there");
            return Ok(r.published());
        }
        let made = self.reply_to(&account, target, text, "the reply").await?;
        tracing::info!(channel = %channel.id, interaction = %to.id, thread_id = %made, "replied on Threads");
        let read = self
            .graph
            .get::<OwnReply>(&[&made], &[("fields", "id,permalink,timestamp")], &account.token, "reading the reply")
            .await;
        Ok(match read {
            Ok(r) => r.published(),
            Err(e) => {
                tracing::warn!(thread_id = %made, error = %e, "replied on Threads; its permalink could not be read");
                Published { platform_post_id: made, url: None, published_at: None }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(id: &str, at: DateTime<Utc>) -> (String, InteractionDraft) {
        let d = InteractionDraft {
            kind: InteractionKind::Comment,
            external_id: id.into(),
            thread_id: "m".into(),
            parent_id: Some("m".into()),
            author_id: "a".into(),
            author_name: "a".into(),
            text: "hi".into(),
            created_at: at,
            post_external_id: Some("m".into()),
            post_url: None,
            reply_ref: None,
        };
        (format!("comment/{id}"), d)
    }

    #[test]
    fn media_counts_round_trip_and_an_unreadable_half_is_a_full_read() {
        let media = |id: &str, n: Option<u64>| IgMedia { id: id.into(), permalink: None, comments_count: n };
        let first = MediaCounts::read(None);
        assert!(first.full_read_due());
        let after = first.next(&[media("1", Some(3)), media("2", None)]);
        assert_eq!(after, MediaCounts { polls: 0, counts: vec![("1".into(), 3)] }, "a media without a count is always read");
        assert_eq!(MediaCounts::read(Some(&after.write())), after);
        assert!(!after.full_read_due());
        assert!(after.unchanged(&media("1", Some(3))) && !after.unchanged(&media("1", Some(4))) && !after.unchanged(&media("2", Some(3))));
        assert_eq!(MediaCounts::read(Some("x;1=2")), MediaCounts::default());
        assert_eq!(after.next(&[]).polls, 1);
    }

    #[test]
    fn the_cursor_keeps_the_ids_of_its_last_second() {
        use chrono::TimeZone;
        let t0 = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 5).unwrap();
        let t1 = t0 + chrono::Duration::seconds(1);
        assert_eq!(Cursor::read(None), None);
        assert_eq!(Cursor::read(Some("  ")), None);
        assert_eq!(Cursor::read(Some("yesterday|1,2")), None, "unreadable: a first run");
        let c = Cursor::after(None, &[draft("1", t0), draft("2", t1), draft("3", t1)]).unwrap();
        assert_eq!(c, Cursor { at: t1, ids: vec!["2".into(), "3".into()] });
        assert_eq!(Cursor::read(Some(&c.write())), Some(c.clone()), "what is written is read back");
        assert!(c.covers(t0, "9") && c.covers(t1, "3"));
        assert!(!c.covers(t1, "4"), "another comment of the same second is new");
        assert!(!c.covers(t1 + chrono::Duration::seconds(1), "2"));
        // One more of the same second adds to the ids; nothing new keeps the cursor.
        let next = Cursor::after(Some(c.clone()), &[draft("4", t1)]).unwrap();
        assert_eq!(next.ids, vec!["2", "3", "4"]);
        assert_eq!(Cursor::after(Some(c.clone()), &[]), Some(c));
        let many: Vec<_> = (0..30).map(|i| draft(&i.to_string(), t1)).collect();
        assert_eq!(Cursor::after(None, &many).unwrap().ids.len(), MAX_CURSOR_IDS);
        // A bare time is read as that time with no ids.
        assert_eq!(Cursor::read(Some("2026-11-20T10:00:05+0000")), Some(Cursor { at: t0, ids: vec![] }));
    }

    #[test]
    fn webhooks_are_on_when_the_app_secret_is_set() {
        let with = Credentials::from_json("c", &serde_json::json!({"app_secret": "s", "access_token": "t"})).unwrap();
        let blank = Credentials::from_json("c", &serde_json::json!({"app_secret": " ", "access_token": "t"})).unwrap();
        let without = Credentials::from_json("c", &serde_json::json!({"access_token": "t"})).unwrap();
        assert!(has_webhooks(&with));
        assert!(!has_webhooks(&blank));
        assert!(!has_webhooks(&without));
    }
}
