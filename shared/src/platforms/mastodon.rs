//! Mastodon: publishing with the REST API of the account's own instance.
//!
//! Flow (platforms.md §1.2 ✅): each picture or video is streamed from its URL into
//! `POST /api/v2/media` (the multipart `file` part is the download as it arrives, so a 16 MB
//! video is never whole in memory; see `upload_media`), which may answer `202` while the
//! server still processes it: then `GET /api/v1/media/:id` is polled until `200`; then
//! `POST /api/v1/statuses` with the
//! attachments' ids and the header `Idempotency-Key: <request.idempotency_key()>`. Mastodon
//! remembers that key for one hour (§1.2 ✅), so a retry within the hour returns the status the
//! first attempt made instead of a second one.
//!
//! Credentials: `instance_url` (`https://mastodon.social`) and `access_token` (an OAuth user
//! token with `write:statuses` and `write:media`; `read:accounts` and `read:statuses` for
//! [`MastodonAdapter::find_published`]). Tokens do not expire; they stop working when revoked
//! (§1.4 ✅), which is an [`PublishError::Auth`].
//!
//! Inbox ([`InboxAdapter`]): `GET /api/v1/notifications` (mentions and quotes) forward from the
//! stored cursor with `min_id` and the `Link` header; replies are statuses with `in_reply_to_id`
//! that mention the author, keep a direct or followers-only visibility, and carry an
//! `Idempotency-Key` made of the interaction and the text. Polling needs `read:notifications`
//! (and `read:statuses` for thread roots); replying `write:statuses`.
//!
//! The second half of this file holds the HTTP helpers that `bluesky.rs` shares (bounded
//! downloads, rate-limit headers, image sniffing, sizes in words). The HTTP client itself, and
//! its refusal of private addresses (instance, media URLs, redirects), is `net.rs`'s.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use unicode_normalization::UnicodeNormalization;

use super::inbox::{InboxAdapter, Polled, reply_digest};
use super::net::{HttpClient, NetworkPolicy, SendError};
use super::{PlatformAdapter, PublishError, PublishRequest, Published};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::{Channel, Interaction, InteractionDraft, InteractionKind, MediaRef};
use crate::media::{MediaFiles, MediaKey, Sniffed, sniff};
use crate::text::html_to_text;

const PLATFORM: &str = "Mastodon";

/// Tunables of [`MastodonAdapter`]; [`Default`] is what production uses.
#[derive(Debug, Clone)]
pub struct MastodonConfig {
    /// Time to open a TCP+TLS connection.
    pub connect_timeout: Duration,
    /// Time for one whole HTTP exchange (request and response body).
    pub timeout: Duration,
    /// Largest picture or video Herald uploads. Mastodon's own limits are set per instance
    /// (16 MiB for images by default in recent versions; not in platforms.md): this bound
    /// refuses early what most instances would refuse anyway. Media are streamed from their
    /// host to the instance, so it is not what a publish holds in memory (that is a chunk).
    pub max_media_bytes: u64,
    /// How long to wait for the server to finish processing an upload (`202` → `200`).
    pub media_processing_wait: Duration,
    /// Pause between two `GET /api/v1/media/:id` while processing.
    pub media_poll_interval: Duration,
}

/// [`MastodonConfig::max_media_bytes`] unless set otherwise (what posts are checked against
/// when they are saved, too).
pub const DEFAULT_MAX_MEDIA_BYTES: u64 = 16_000_000;

impl Default for MastodonConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            max_media_bytes: DEFAULT_MAX_MEDIA_BYTES,
            media_processing_wait: Duration::from_secs(60),
            media_poll_interval: Duration::from_secs(1),
        }
    }
}

pub struct MastodonAdapter {
    http: HttpClient,
    clock: Arc<dyn Clock>,
    config: MastodonConfig,
}

impl std::fmt::Debug for MastodonAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MastodonAdapter").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A channel's Mastodon credentials, checked.
struct Account {
    /// `https://mastodon.social`, without a trailing `/`.
    base: String,
    token: SecretString,
}

impl Account {
    fn from_credentials(credentials: &Credentials) -> Result<Self, PublishError> {
        let base = service_base(credentials.get("instance_url"), "instance_url", None, PLATFORM)?;
        let token = credentials
            .get("access_token")
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| auth("the Mastodon channel has no access_token; reconnect it"))?;
        Ok(Self { base, token: SecretString::from(token.to_owned()) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

#[derive(Debug, Deserialize)]
struct StatusJson {
    id: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    content: Option<String>,
    /// Plain-text source: Mastodon returns it only in some answers (after a delete); some
    /// compatible servers always do. Preferred over `content` when present.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    media_attachments: Vec<serde_json::Value>,
}

impl StatusJson {
    fn published(&self) -> Published {
        Published {
            platform_post_id: self.id.clone(),
            url: self.url.clone().or_else(|| self.uri.clone()),
            published_at: self.created_at.as_deref().and_then(parse_instant),
        }
    }
}

#[derive(Debug, Deserialize)]
struct MediaJson {
    id: String,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AccountJson {
    id: String,
}

impl MastodonAdapter {
    /// The production adapter: timeouts 5 s to connect, 30 s per exchange. `network` says
    /// whether the instance and media URLs may be private addresses ([`NetworkPolicy`]).
    pub fn new(clock: Arc<dyn Clock>, network: NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_config(clock, MastodonConfig::default(), network)
    }

    pub fn with_config(
        clock: Arc<dyn Clock>,
        config: MastodonConfig,
        network: NetworkPolicy,
    ) -> Result<Self, reqwest::Error> {
        Ok(Self { http: HttpClient::new(config.connect_timeout, config.timeout, network)?, clock, config })
    }

    /// Streams one picture or video from its URL to `POST /api/v2/media` (the multipart `file`
    /// part is the download itself, never whole in memory; with the media host's
    /// `Content-Length` the upload has one too, else it is sent chunked); the attachment id once
    /// processed. A media over `max_media_bytes` is refused before the upload when its host
    /// announces its size, else the upload is cut off when the limit is passed (an incomplete
    /// request: the instance creates nothing) and the delivery fails with that reason.
    async fn upload_media(
        &self,
        account: &Account,
        files: &dyn MediaFiles,
        media: &crate::domain::MediaRef,
    ) -> Result<String, PublishError> {
        let download = open_media(&self.http, files, media, self.config.max_media_bytes, PLATFORM).await?;
        let mime = match download.sniffed.map(|s| s.mime) {
            Some(m) => m.to_owned(),
            None => match download.declared.as_deref() {
                Some(d) if d.starts_with("image/") || d.starts_with("video/") => d.to_owned(),
                other => {
                    return Err(permanent(format!(
                        "media rejected: {} is {}, not an image or video",
                        redact_url(&media.url),
                        other.unwrap_or("of unknown type")
                    )));
                }
            },
        };
        let file_name = download.file_name.clone();
        let length = download.length;
        let (body, streamed) = download.into_body();
        let part = match length {
            Some(n) => reqwest::multipart::Part::stream_with_length(body, n),
            None => reqwest::multipart::Part::stream(body),
        };
        let part = part
            .file_name(file_name.clone())
            .mime_str(&mime)
            .map_err(|_| permanent(format!("media rejected: `{mime}` is not a valid content type")))?;
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(alt) = media.alt.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            form = form.text("description", alt.to_owned());
        }
        let reply = send(
            &self.http,
            self.http.post(account.url("/api/v2/media")).bearer_auth(account.token.expose_secret()).multipart(form),
            PLATFORM,
            "uploading media",
        )
        .await;
        // The download's own failure (too large, cut off) explains a failed upload best.
        if let Some(stopped) = streamed.failure() {
            return Err(stopped);
        }
        let reply = reply?;
        let what = format!("media {file_name}");
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, &what));
        }
        let uploaded: MediaJson = reply.json(PLATFORM, "the media upload")?;
        tracing::debug!(media_id = %uploaded.id, bytes = streamed.sent(), mime = %mime, processed = uploaded.url.is_some(), "uploaded media to Mastodon");
        if reply.status == StatusCode::OK && uploaded.url.is_some() {
            return Ok(uploaded.id);
        }
        self.wait_until_processed(account, &uploaded.id, &file_name).await?;
        Ok(uploaded.id)
    }

    /// Polls `GET /api/v1/media/:id` until `200` with a `url` (§1.2 ✅ for the `202` + polling).
    /// That the poll answers `206 Partial Content` while processing is from Mastodon's API docs
    /// of the endpoint, not in platforms.md (unverified here): any of 200-without-url, 202 and 206
    /// is taken as "still processing".
    async fn wait_until_processed(&self, account: &Account, id: &str, file_name: &str) -> Result<(), PublishError> {
        let path = format!("/api/v1/media/{}", path_segment(id)?);
        let waited_from = tokio::time::Instant::now();
        loop {
            let reply = send(
                &self.http,
                self.http.get(account.url(&path)).bearer_auth(account.token.expose_secret()),
                PLATFORM,
                "checking an upload",
            )
            .await?;
            match reply.status {
                StatusCode::OK => {
                    let media: MediaJson = reply.json(PLATFORM, "the media status")?;
                    if media.url.is_some() {
                        return Ok(());
                    }
                }
                StatusCode::PARTIAL_CONTENT | StatusCode::ACCEPTED => {}
                _ => return Err(self.error_from(&reply, &format!("media {file_name}"))),
            }
            if waited_from.elapsed() + self.config.media_poll_interval > self.config.media_processing_wait {
                return Err(PublishError::Transient {
                    reason: format!(
                        "Mastodon was still processing {file_name} after {} s; will try again",
                        self.config.media_processing_wait.as_secs()
                    ),
                    retry_after: None,
                });
            }
            tokio::time::sleep(self.config.media_poll_interval).await;
        }
    }

    /// What a non-success answer means. `what` names the object ("the post", "media cat.png").
    /// `POST /api/v1/statuses` with an `Idempotency-Key`: a post or a reply.
    async fn post_status(
        &self,
        account: &Account,
        body: &serde_json::Value,
        idempotency_key: String,
        words: StatusWrite,
    ) -> Result<Published, PublishError> {
        let reply = send(
            &self.http,
            self.http
                .post(account.url("/api/v1/statuses"))
                .bearer_auth(account.token.expose_secret())
                .header("Idempotency-Key", idempotency_key)
                .json(body),
            PLATFORM,
            words.doing,
        )
        .await?;
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, words.what));
        }
        let status: StatusJson = reply.json(PLATFORM, words.read_as)?;
        Ok(status.published())
    }

    fn error_from(&self, reply: &Reply, what: &str) -> PublishError {
        let detail = reply.mastodon_error();
        let with_detail = |base: String| match &detail {
            Some(d) => format!("{base}: {d}"),
            None => base,
        };
        let status = reply.status;
        match status.as_u16() {
            401 | 403 => auth(with_detail(format!("Mastodon: token expired or revoked (HTTP {})", status.as_u16()))),
            429 => PublishError::Transient {
                reason: with_detail("Mastodon rate limit reached".into()),
                retry_after: retry_after(&reply.headers, self.clock.now(), ResetHeader::MastodonIso),
            },
            408 | 409 | 425 => PublishError::Transient {
                reason: with_detail(format!("Mastodon answered HTTP {} for {what}", status.as_u16())),
                retry_after: retry_after(&reply.headers, self.clock.now(), ResetHeader::MastodonIso),
            },
            400..=499 => {
                let refused = if what == "the post" {
                    "Mastodon refused the post".to_owned()
                } else {
                    format!("Mastodon refused {what}")
                };
                permanent(match &detail {
                    Some(d) => format!("{refused}: {d}"),
                    None => format!("{refused} (HTTP {})", status.as_u16()),
                })
            }
            _ => PublishError::Transient {
                reason: with_detail(format!("Mastodon answered HTTP {} for {what}", status.as_u16())),
                retry_after: retry_after(&reply.headers, self.clock.now(), ResetHeader::MastodonIso),
            },
        }
    }
}

/// How a status write is named in errors: what Herald was doing, what was refused, and what
/// could not be read back.
struct StatusWrite {
    doing: &'static str,
    what: &'static str,
    read_as: &'static str,
}

#[async_trait]
impl PlatformAdapter for MastodonAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        let account = Account::from_credentials(request.credentials)?;
        let mut media_ids = Vec::with_capacity(request.media.len());
        for media in request.media {
            media_ids.push(self.upload_media(&account, request.media_files, media).await?);
        }
        let mut body = serde_json::json!({ "status": request.text });
        if !media_ids.is_empty() {
            body["media_ids"] = serde_json::json!(media_ids);
        }
        let published = self
            .post_status(&account, &body, request.idempotency_key(), StatusWrite { doing: "publishing", what: "the post", read_as: "the new post" })
            .await?;
        tracing::info!(
            delivery = %request.delivery.id,
            channel = %request.channel.id,
            status_id = %published.platform_post_id,
            "published on Mastodon"
        );
        Ok(published)
    }

    /// `GET /api/v1/accounts/verify_credentials`: the token works on that server.
    async fn check_credentials(&self, _: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        let account = Account::from_credentials(credentials)?;
        let request = self.http.get(account.url("/api/v1/accounts/verify_credentials")).bearer_auth(account.token.expose_secret());
        let reply = send(&self.http, request, PLATFORM, "checking the access token").await?;
        if reply.status.is_success() { Ok(()) } else { Err(self.error_from(&reply, "the access token check")) }
    }

    /// Looks for this delivery's status among the account's 40 most recent ones.
    ///
    /// A status matches when it was created at or after `publish_at` minus one minute, its text
    /// equals the delivery's text once both are normalised (HTML stripped from `content`,
    /// whitespace collapsed, Unicode NFC, `@user@domain` reduced to `@user` since that is how
    /// Mastodon renders a remote mention), and it has as many attachments as the delivery has
    /// media.
    ///
    /// Limits (Mastodon has no lookup by `Idempotency-Key`):
    /// - only the 40 latest statuses (one page) are read: an account that posted more than 40
    ///   times since the attempt is reported as "not found", and a retry would then duplicate,
    ///   unless it is within the hour in which Mastodon still honours the `Idempotency-Key`;
    /// - a status edited since, or deleted, is not found;
    /// - the same text posted by hand inside the window is taken for this delivery's;
    /// - the HTML-to-text conversion covers what Mastodon's own formatter emits (paragraphs,
    ///   line breaks, links split into invisible spans, mentions, hashtags, entities); a server
    ///   with another formatter (glitch-soc Markdown, other software) may not match.
    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let account = Account::from_credentials(request.credentials)?;
        let reply = send(
            &self.http,
            self.http
                .get(account.url("/api/v1/accounts/verify_credentials"))
                .bearer_auth(account.token.expose_secret()),
            PLATFORM,
            "looking up the account",
        )
        .await?;
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, "the account lookup"));
        }
        let me: AccountJson = reply.json(PLATFORM, "the account")?;
        let path = format!("/api/v1/accounts/{}/statuses", path_segment(&me.id)?);
        let reply = send(
            &self.http,
            self.http
                .get(account.url(&path))
                .bearer_auth(account.token.expose_secret())
                // `limit` (max 40) and `exclude_reblogs` are from Mastodon's accounts API docs,
                // not in platforms.md (unverified here); a server ignoring them still works.
                .query(&[("limit", "40"), ("exclude_reblogs", "true")]),
            PLATFORM,
            "listing recent posts",
        )
        .await?;
        if !reply.status.is_success() {
            return Err(self.error_from(&reply, "the list of recent posts"));
        }
        let statuses: Vec<StatusJson> = reply.json(PLATFORM, "the recent posts")?;
        let not_before = request.delivery.publish_at - chrono::Duration::minutes(1);
        let wanted = normalise_for_match(request.text);
        let found = statuses.iter().find(|s| {
            let recent = s.created_at.as_deref().and_then(parse_instant).is_some_and(|t| t >= not_before);
            let text = match (&s.text, &s.content) {
                (Some(t), _) => normalise_for_match(t),
                (None, Some(html)) => normalise_for_match(&html_to_text(html)),
                (None, None) => String::new(),
            };
            recent && text == wanted && s.media_attachments.len() == request.media.len()
        });
        Ok(found.map(StatusJson::published))
    }
}

// ---------------------------------------------------------------------------------------------
// Inbox: notifications in, replies out

/// Notification types that become interactions (platforms.md §1.1 ✅): a `mention` is a
/// mention, a reply (its status has `in_reply_to_id`) or a direct message (visibility
/// `direct`); a `quote` (Mastodon 4.5+) is taken as a mention. Servers that do not know `quote`
/// ignore it. Everything else (favourites, reblogs, follows, polls...) is not an interaction.
const INBOX_TYPES: [&str; 2] = ["mention", "quote"];
/// Notifications per page asked for (Mastodon's default page size).
const NOTIFICATIONS_PAGE: usize = 40;
/// Pages read per poll at most; the rest waits for the next poll (nothing is skipped: pages
/// go forward from the cursor with `min_id`).
const MAX_NOTIFICATION_PAGES: usize = 10;
/// `GET /api/v1/statuses/:id/context` calls per poll at most, to find the root of a thread.
const MAX_THREAD_LOOKUPS: usize = 20;

#[derive(Debug, Deserialize)]
struct NotificationJson {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    status: Option<NotifiedStatus>,
}

#[derive(Debug, Deserialize)]
struct NotifiedStatus {
    id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    in_reply_to_id: Option<String>,
    account: NotifiedAccount,
    /// Mastodon 4.5+: `{"state": "accepted", "quoted_status": {...}}`.
    #[serde(default)]
    quote: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct NotifiedAccount {
    id: String,
    #[serde(default)]
    acct: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
}

/// What `reply` needs, kept in [`Interaction::reply_ref`] by the poller as JSON.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
struct MastodonReplyRef {
    /// The status to answer (`in_reply_to_id`).
    status_id: String,
    /// Its author, `user` or `user@domain`: the reply mentions them, or they are not notified
    /// (and a direct reply would reach nobody).
    #[serde(default)]
    acct: Option<String>,
    /// Its visibility: a reply to a direct or followers-only status keeps it.
    #[serde(default)]
    visibility: Option<String>,
}

impl MastodonReplyRef {
    fn of(to: &Interaction) -> Self {
        let stored = to.reply_ref.as_deref().and_then(|r| serde_json::from_str::<Self>(r).ok());
        match stored {
            Some(r) if !r.status_id.is_empty() => r,
            _ => Self {
                status_id: to.external_id.clone(),
                acct: None,
                visibility: (to.kind == InteractionKind::DirectMessage).then(|| "direct".to_owned()),
            },
        }
    }
}

/// Orders Mastodon ids: snowflakes are decimal strings (a longer one is larger); other servers'
/// ids (ULIDs, flake ids) have a fixed length and sort as strings.
fn cmp_ids(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn newer_id(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if cmp_ids(b, &a).is_gt() => Some(b.to_owned()),
        (None, Some(b)) => Some(b.to_owned()),
        (a, _) => a,
    }
}

/// The URL of the `Link` header entry with `rel` (RFC 8288): `<https://…>; rel="prev", …`.
pub(crate) fn link_rel(headers: &HeaderMap, rel: &str) -> Option<String> {
    for value in headers.get_all(reqwest::header::LINK) {
        let Ok(mut rest) = value.to_str() else { continue };
        while let Some(open) = rest.find('<') {
            let after = rest.get(open + 1..).unwrap_or("");
            let Some(close) = after.find('>') else { break };
            let url = after.get(..close).unwrap_or("").trim();
            let params_and_rest = after.get(close + 1..).unwrap_or("");
            let params = params_and_rest.split('<').next().unwrap_or("");
            let rels = params
                .split(';')
                .filter_map(|p| p.trim().trim_end_matches(',').trim_end().strip_prefix("rel="))
                .map(|v| v.trim_matches('"'));
            if rels.flat_map(str::split_whitespace).any(|r| r.eq_ignore_ascii_case(rel)) && !url.is_empty() {
                return Some(url.to_owned());
            }
            rest = params_and_rest;
        }
    }
    None
}

/// The people-facing text of a status's HTML: [`html_to_text`] with blank lines collapsed (a
/// paragraph break stays one empty line) and the ends trimmed.
pub(crate) fn html_to_plain(html: &str) -> String {
    let text = html_to_text(html);
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank { "\n\n" } else { "\n" });
        }
        out.push_str(line);
        blank = false;
    }
    out
}

/// `text` with `@acct` in front unless it already mentions them (as `@acct`, case-insensitive,
/// not as part of a longer handle).
fn with_mention(text: &str, acct: Option<&str>) -> String {
    let Some(acct) = acct.map(|a| a.trim().trim_start_matches('@')).filter(|a| !a.is_empty()) else {
        return text.to_owned();
    };
    let needle = format!("@{}", acct.to_lowercase());
    let lower = text.to_lowercase();
    let handle_char = |c: char| c.is_alphanumeric() || c == '_' || c == '@';
    let mentioned = lower.match_indices(&needle).any(|(i, _)| {
        let before_ok = lower.get(..i).and_then(|b| b.chars().next_back()).is_none_or(|c| !handle_char(c));
        let rest = lower.get(i + needle.len()..).unwrap_or("");
        let mut chars = rest.chars();
        let after_ok = match chars.next() {
            None => true,
            Some('.' | '-') => !chars.next().is_some_and(char::is_alphanumeric),
            Some(c) => !handle_char(c),
        };
        before_ok && after_ok
    });
    if mentioned { text.to_owned() } else { format!("@{acct} {text}") }
}

impl MastodonAdapter {
    /// The root of the thread `status_id` is in, from `GET /api/v1/statuses/:id/context`
    /// (ancestors come oldest first; not in platforms.md, from Mastodon's API docs). `Ok(None)`
    /// when the server cannot say (the status or its ancestors are gone or hidden); an expired
    /// token is an error, as is a rate limit (which ends the lookups of this poll).
    async fn thread_root(&self, account: &Account, status_id: &str) -> Result<Option<String>, PublishError> {
        let path = format!("/api/v1/statuses/{}/context", path_segment(status_id)?);
        let reply = send(
            &self.http,
            self.http.get(account.url(&path)).bearer_auth(account.token.expose_secret()),
            PLATFORM,
            "reading a thread",
        )
        .await?;
        if !reply.status.is_success() {
            return match self.error_from(&reply, "the thread") {
                e @ PublishError::Auth { .. } => Err(e),
                e if reply.status == StatusCode::TOO_MANY_REQUESTS => Err(e),
                e => {
                    tracing::debug!(error = %e, "thread root unknown");
                    Ok(None)
                }
            };
        }
        let context: serde_json::Value = reply.json(PLATFORM, "the thread")?;
        Ok(context
            .get("ancestors")
            .and_then(serde_json::Value::as_array)
            .and_then(|a| a.first())
            .and_then(|s| s.get("id"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned))
    }

    /// Reads notification pages forward from `cursor` (`min_id`, then the `Link` header's
    /// `prev`), or the most recent page on a first run. Returns them and the newest id seen.
    async fn notifications(
        &self,
        account: &Account,
        cursor: Option<&str>,
    ) -> Result<(Vec<NotificationJson>, Option<String>), PublishError> {
        let endpoint = account.url("/api/v1/notifications");
        let query = |min_id: Option<&str>| {
            let mut q: Vec<(&str, String)> = INBOX_TYPES.iter().map(|t| ("types[]", (*t).to_owned())).collect();
            q.push(("limit", NOTIFICATIONS_PAGE.to_string()));
            if let Some(m) = min_id {
                q.push(("min_id", m.to_owned()));
            }
            q
        };
        let mut request = self.http.get(&endpoint).query(&query(cursor));
        let mut newest = cursor.map(str::to_owned);
        let mut found: Vec<NotificationJson> = Vec::new();
        for page in 1..=MAX_NOTIFICATION_PAGES {
            let authorized = request.bearer_auth(account.token.expose_secret());
            let reply = send(&self.http, authorized, PLATFORM, "reading notifications").await?;
            if !reply.status.is_success() {
                return Err(self.error_from(&reply, "the notifications"));
            }
            let items: Vec<serde_json::Value> = reply.json(PLATFORM, "the notifications")?;
            let count = items.len();
            let before = newest.clone();
            for item in items {
                match serde_json::from_value::<NotificationJson>(item) {
                    // A server that ignores min_id must not make old notifications new again.
                    Ok(n) if cursor.is_some_and(|c| cmp_ids(&n.id, c).is_le()) => {}
                    Ok(n) if found.iter().any(|f| f.id == n.id) => {}
                    Ok(n) => {
                        newest = newer_id(newest, Some(&n.id));
                        found.push(n);
                    }
                    Err(e) => tracing::warn!(error = %e, "skipping a Mastodon notification Herald cannot read"),
                }
            }
            // A first run reads one page; later runs go forward until the newest page.
            if cursor.is_none() || count < NOTIFICATIONS_PAGE || newest == before {
                break;
            }
            if page == MAX_NOTIFICATION_PAGES {
                tracing::info!("more Mastodon notifications than one poll reads; the next poll continues");
                break;
            }
            let prefix = format!("{endpoint}?");
            request = match link_rel(&reply.headers, "prev").filter(|u| u.starts_with(&prefix)) {
                Some(url) => self.http.get(url),
                None => self.http.get(&endpoint).query(&query(newest.as_deref())),
            };
        }
        found.sort_by(|a, b| cmp_ids(&a.id, &b.id));
        Ok((found, newest))
    }
}

/// How strongly a kind says what the item is, to merge two notifications about one status.
fn kind_rank(kind: InteractionKind) -> u8 {
    match kind {
        InteractionKind::DirectMessage => 3,
        InteractionKind::Reply => 2,
        InteractionKind::Mention => 1,
        InteractionKind::Comment => 0,
    }
}

#[async_trait]
impl InboxAdapter for MastodonAdapter {
    /// `GET /api/v1/notifications?types[]=mention&types[]=quote&limit=40[&min_id=<cursor>]`.
    /// The cursor is the newest notification id seen. Each status becomes one draft (dedupe id:
    /// the status id); a reply's thread is the root found with `/context` (at most
    /// `MAX_THREAD_LOOKUPS` per poll, then its parent stands in), text is the HTML `content`
    /// as plain text.
    async fn poll(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        cursor: Option<&str>,
    ) -> Result<Polled, PublishError> {
        let account = Account::from_credentials(credentials)?;
        let cursor = cursor.map(str::trim).filter(|c| !c.is_empty());
        let (notifications, newest) = self.notifications(&account, cursor).await?;

        let mut drafts: Vec<InteractionDraft> = Vec::new();
        for n in notifications {
            if !INBOX_TYPES.contains(&n.kind.as_str()) {
                continue;
            }
            let Some(status) = n.status else { continue };
            let direct = status.visibility.as_deref() == Some("direct");
            let kind = match (n.kind.as_str(), direct, &status.in_reply_to_id) {
                ("quote", _, _) => InteractionKind::Mention,
                (_, true, _) => InteractionKind::DirectMessage,
                (_, false, Some(_)) => InteractionKind::Reply,
                (_, false, None) => InteractionKind::Mention,
            };
            if let Some(existing) = drafts.iter_mut().find(|d| d.external_id == status.id) {
                if kind_rank(kind) > kind_rank(existing.kind) {
                    existing.kind = kind;
                }
                continue;
            }
            let text = match (&status.text, &status.content) {
                (Some(t), _) if !t.trim().is_empty() => t.trim().to_owned(),
                (_, Some(html)) => html_to_plain(html),
                _ => String::new(),
            };
            let acct = if status.account.acct.is_empty() { &status.account.username } else { &status.account.acct };
            let author_name = match status.account.display_name.trim() {
                "" => acct.clone(),
                name => name.to_owned(),
            };
            let created_at = status
                .created_at
                .as_deref()
                .or(n.created_at.as_deref())
                .and_then(parse_instant)
                .unwrap_or_else(|| self.clock.now());
            let quoted = status
                .quote
                .as_ref()
                .and_then(|q| q.get("quoted_status"))
                .and_then(|s| s.get("id"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned);
            let reply_ref = MastodonReplyRef {
                status_id: status.id.clone(),
                acct: Some(acct.clone()).filter(|a| !a.is_empty()),
                visibility: status.visibility.clone(),
            };
            drafts.push(InteractionDraft {
                kind,
                external_id: status.id.clone(),
                thread_id: status.in_reply_to_id.clone().unwrap_or_else(|| status.id.clone()),
                parent_id: status.in_reply_to_id.clone(),
                author_id: status.account.id.clone(),
                author_name,
                text,
                created_at,
                post_external_id: status.in_reply_to_id.clone().or(quoted),
                post_url: None,
                reply_ref: serde_json::to_string(&reply_ref).ok(),
            });
        }

        // Thread roots, oldest first so that a reply to a reply of this poll reuses its root.
        let mut roots: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let mut lookups = 0;
        let mut lookups_stopped = false;
        for d in &mut drafts {
            if let Some(parent) = d.parent_id.clone() {
                if let Some(root) = roots.get(&parent) {
                    d.thread_id = root.clone();
                } else if lookups < MAX_THREAD_LOOKUPS && !lookups_stopped {
                    lookups += 1;
                    match self.thread_root(&account, &d.external_id).await {
                        Ok(Some(root)) => d.thread_id = root,
                        Ok(None) => {}
                        Err(e @ PublishError::Auth { .. }) => return Err(e),
                        Err(e) => {
                            tracing::info!(error = %e, "stopping thread lookups for this poll");
                            lookups_stopped = true;
                        }
                    }
                }
            }
            roots.insert(d.external_id.clone(), d.thread_id.clone());
        }

        tracing::debug!(channel = %channel.id, found = drafts.len(), "polled Mastodon notifications");
        Ok(Polled { items: drafts.into_iter().map(|d| (d.external_id.clone(), d)).collect(), cursor: newest })
    }

    /// `POST /api/v1/statuses` with `in_reply_to_id`, the author mentioned in front (unless the
    /// text mentions them already), the original's visibility when it is `direct`, `private` or
    /// `unlisted`, and an `Idempotency-Key` made of the interaction and the text.
    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        let account = Account::from_credentials(credentials)?;
        let target = MastodonReplyRef::of(to);
        if target.status_id.trim().is_empty() {
            return Err(permanent("this interaction has no Mastodon status id to answer"));
        }
        let mut body = serde_json::json!({
            "status": with_mention(text, target.acct.as_deref()),
            "in_reply_to_id": target.status_id,
        });
        if let Some(v) = target.visibility.as_deref().filter(|v| matches!(*v, "direct" | "private" | "unlisted")) {
            body["visibility"] = serde_json::json!(v);
        }
        let key = format!("herald-reply-{}", hex::encode(&reply_digest(to, text)[..16]));
        let published = self
            .post_status(&account, &body, key, StatusWrite { doing: "replying", what: "the reply", read_as: "the reply" })
            .await?;
        tracing::info!(channel = %channel.id, interaction = %to.id, status_id = %published.platform_post_id, "replied on Mastodon");
        Ok(published)
    }
}

/// A path segment from an id the server gave: ids are digits (snowflakes) on Mastodon; anything
/// that would change the path is refused rather than escaped.
fn path_segment(id: &str) -> Result<&str, PublishError> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        Ok(id)
    } else {
        Err(transient(format!("Mastodon returned an unexpected id `{}`", id.chars().take(64).collect::<String>())))
    }
}

// ---------------------------------------------------------------------------------------------
// Matching text: normalisation (HTML → text is `crate::text::html_to_text`)

/// Both sides of a text comparison: NFC, whitespace runs collapsed to one space, trimmed, and
/// `@user@domain` reduced to `@user` (Mastodon renders remote mentions without the domain).
pub(crate) fn normalise_for_match(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    let collapsed = nfc.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = collapsed.get(i..).and_then(|s| s.chars().next()) {
        out.push(c);
        i += c.len_utf8();
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
            let user_end = run_end(&collapsed, i, |ch| ch.is_alphanumeric() || ch == '_' || ch == '.' || ch == '-');
            let user = collapsed.get(i..user_end).unwrap_or("");
            if !user.is_empty() && collapsed.get(user_end..).is_some_and(|r| r.starts_with('@')) {
                let domain_end = run_end(&collapsed, user_end + 1, |ch| ch.is_alphanumeric() || ch == '.' || ch == '-');
                let domain = collapsed.get(user_end + 1..domain_end).unwrap_or("").trim_end_matches(['.', '-']);
                if domain.contains('.') {
                    out.push_str(user);
                    i = user_end + 1 + domain.len();
                    prev = Some('x');
                    continue;
                }
            }
        }
        prev = Some(c);
    }
    out
}

fn run_end(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    let rest = text.get(from..).unwrap_or("");
    from + rest.char_indices().find(|&(_, c)| !keep(c)).map_or(rest.len(), |(j, _)| j)
}

// =============================================================================================
// HTTP helpers shared with bluesky.rs (candidates for a `platforms/http.rs` of their own).

/// Largest API answer read into memory (JSON of a post, a session, a list of 40 statuses).
const MAX_API_BODY: usize = 4 * 1024 * 1024;

pub(crate) fn permanent(reason: impl Into<String>) -> PublishError {
    PublishError::Permanent { reason: reason.into() }
}

pub(crate) fn transient(reason: impl Into<String>) -> PublishError {
    PublishError::Transient { reason: reason.into(), retry_after: None }
}

pub(crate) fn auth(reason: impl Into<String>) -> PublishError {
    PublishError::Auth { reason: reason.into() }
}

/// The base URL of a service from a credential field: `https://` (or `http://` to a loopback
/// address, for local peers and tests), no query, without a trailing `/`. A bad value is the
/// channel's to fix: [`PublishError::Auth`] ("reconnect it"). Where the address leads is not
/// judged here but by the client when it connects ([`super::net`]): a loopback `http://` base
/// is only reachable with [`NetworkPolicy::AllowPrivate`].
pub(crate) fn service_base(
    value: Option<&str>,
    field: &str,
    default: Option<&str>,
    platform: &str,
) -> Result<String, PublishError> {
    let example = if platform == PLATFORM { "https://mastodon.social" } else { "https://bsky.social" };
    let raw = value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .or(default)
        .ok_or_else(|| auth(format!("the {platform} channel has no {field} (e.g. {example}); reconnect it")))?;
    let url = Url::parse(raw)
        .map_err(|_| auth(format!("the {platform} channel's {field} `{raw}` is not a URL; reconnect it")))?;
    let loopback = url.host_str().is_some_and(|h| {
        h.eq_ignore_ascii_case("localhost")
            || h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    if !scheme_ok || url.host().is_none() || url.query().is_some() || !url.username().is_empty() {
        return Err(auth(format!(
            "the {platform} channel's {field} must be an https:// address like {example}; reconnect it"
        )));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A whole answer, read with a size bound.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(&self, platform: &str, what: &str) -> Result<T, PublishError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| transient(format!("{platform} sent an answer Herald does not understand for {what}: {e}")))
    }

    /// Mastodon's `{"error": "...", "error_description": "..."}` (§1.2 ✅), in one line.
    fn mastodon_error(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let error = v.get("error").and_then(|e| e.as_str()).map(one_line);
        let description = v.get("error_description").and_then(|e| e.as_str()).map(one_line);
        match (error, description) {
            (Some(e), Some(d)) if !d.is_empty() => Some(format!("{e} ({d})")),
            (Some(e), _) if !e.is_empty() => Some(e),
            (None, Some(d)) if !d.is_empty() => Some(d),
            _ => None,
        }
    }
}

/// Sends through `http` (whose guard may refuse the address: [`PublishError::Permanent`]) and
/// reads the whole answer; network trouble is [`PublishError::Transient`].
pub(crate) async fn send(
    http: &HttpClient,
    request: reqwest::RequestBuilder,
    platform: &str,
    doing: &str,
) -> Result<Reply, PublishError> {
    let mut response = http.execute(request).await.map_err(|e| match e {
        SendError::Refused(refused) => permanent(format!("{platform} not contacted while {doing}: {refused}")),
        SendError::Http(e) => network_error(platform, doing, e),
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| network_error(platform, doing, e))? {
        if body.len() + chunk.len() > MAX_API_BODY {
            return Err(transient(format!(
                "{platform} sent an answer larger than {} while {doing}",
                size_words(MAX_API_BODY as u64)
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply { status, headers, body })
}

/// A transport failure in words. The URL is left out (it may carry a signed query).
pub(crate) fn network_error(platform: &str, doing: &str, e: reqwest::Error) -> PublishError {
    let why = if e.is_timeout() {
        "did not answer in time".to_owned()
    } else if e.is_connect() {
        "could not be reached".to_owned()
    } else {
        format!("connection failed ({})", e.without_url())
    };
    transient(format!("{platform} {why} while {doing}"))
}

/// One line of at most 300 characters, for a reason shown to people.
pub(crate) fn one_line(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        let mut cut: String = flat.chars().take(299).collect();
        cut.push('…');
        cut
    } else {
        flat
    }
}

/// Which rate-limit reset header a platform sends besides `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResetHeader {
    /// `X-RateLimit-Reset: 2026-11-20T10:05:00.000Z` — an ISO-8601 instant (§1.2 ✅).
    MastodonIso,
    /// `RateLimit-Reset: 1763632800` — Unix epoch seconds (§2.2 ✅).
    EpochSeconds,
}

/// The wait a platform asked for: `Retry-After` (seconds, or an HTTP date) first, else the
/// rate-limit reset instant minus `now`. `None` when neither says anything usable or the reset
/// is already past. Capped at one day.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>, reset: ResetHeader) -> Option<Duration> {
    const CAP: Duration = Duration::from_secs(24 * 3600);
    let until = |t: DateTime<Utc>| (t - now).to_std().ok().filter(|d| !d.is_zero());
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let from_retry_after = text(RETRY_AFTER.as_str()).and_then(|v| match v.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => DateTime::parse_from_rfc2822(v).ok().and_then(|t| until(t.with_timezone(&Utc))),
    });
    let from_reset = || match reset {
        ResetHeader::MastodonIso => text("x-ratelimit-reset").and_then(parse_instant).and_then(until),
        ResetHeader::EpochSeconds => text("ratelimit-reset")
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            .and_then(until),
    };
    from_retry_after.or_else(from_reset).map(|d| d.min(CAP))
}

pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&Utc))
}

/// A URL fit for a message people read: no query or fragment (signed URLs carry secrets there).
pub(crate) fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or("").chars().take(200).collect(),
    }
}

/// `2300000` → "2.3 MB", `16000000` → "16 MB", `850000` → "850 KB" (decimal units).
pub(crate) fn size_words(bytes: u64) -> String {
    let in_units = |unit: u64, name: &str| {
        let tenths = bytes.saturating_mul(10).saturating_add(unit / 2) / unit;
        if tenths.is_multiple_of(10) || tenths >= 1000 {
            format!("{} {name}", (tenths + 5) / 10)
        } else {
            format!("{}.{} {name}", tenths / 10, tenths % 10)
        }
    };
    if bytes >= 1_000_000 {
        in_units(1_000_000, "MB")
    } else if bytes >= 1_000 {
        in_units(1_000, "KB")
    } else {
        format!("{bytes} bytes")
    }
}

/// "is 2.3 MB; Bluesky takes at most 1 MB", falling back to exact byte counts when rounding
/// would make the two look equal.
pub(crate) fn too_big_words(size: Option<u64>, limit: u64, platform: &str) -> String {
    match size {
        Some(n) if size_words(n) != size_words(limit) => {
            format!("is {}; {platform} takes at most {}", size_words(n), size_words(limit))
        }
        Some(n) => format!("is {} bytes; {platform} takes at most {} bytes", group_digits(n), group_digits(limit)),
        None => format!("is larger than {}; {platform} takes at most {}", size_words(limit), size_words(limit)),
    }
}

fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A downloaded picture or video, whole in memory (Bluesky's images, at most 1 MB each).
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    /// The `Content-Type` the media host declared (essence only, lowercase).
    pub declared: Option<String>,
    /// What the bytes say they are, when Herald recognises them.
    pub sniffed: Option<Sniffed>,
}

/// Bytes read from a download before its type is decided: more than [`sniff`] needs to
/// recognise every type it knows (their signatures are in the first 16 bytes). In practice the
/// first chunk the connection delivers.
const HEAD_BYTES: usize = 4 * 1024;

/// A picture or video whose download has begun: its first bytes are read (so its type is
/// known), the rest is still on the wire. [`fetch_media`] reads the rest into memory;
/// [`MediaDownload::into_body`] streams it to an upload instead.
pub(crate) struct MediaDownload {
    /// The rest of the file: the media host's response, or an uploaded file being read.
    body: BoxStream<'static, Result<bytes::Bytes, PublishError>>,
    head: Vec<u8>,
    /// Bytes received so far, the head included.
    received: u64,
    /// The size the media host announced (`Content-Length`), already checked against `max`.
    pub length: Option<u64>,
    /// The `Content-Type` the media host declared (essence only, lowercase).
    pub declared: Option<String>,
    /// What the first bytes say they are, when Herald recognises them.
    pub sniffed: Option<Sniffed>,
    /// A file name for uploads: the last path segment of the URL, or `media`.
    pub file_name: String,
    /// The URL without its query, for messages.
    shown: String,
    /// "image", "video" or "file", from the declared type, for messages.
    kind: &'static str,
    max: u64,
    platform: String,
}

/// Starts downloading `url`, refusing what is not worth downloading: a 4xx, a declared type
/// that is not an image, a video or unknown (`application/octet-stream` or none, decided by
/// the bytes later), an announced size over `max`, an empty file. A 5xx, 429 or network
/// trouble is transient. A media URL whose address the guard refuses (first hop or a
/// redirect) is refused permanently. Reads the first bytes ([`HEAD_BYTES`]) to know the type.
pub(crate) async fn open_media(
    http: &HttpClient,
    files: &dyn MediaFiles,
    media: &MediaRef,
    max: u64,
    platform: &str,
) -> Result<MediaDownload, PublishError> {
    if let Some(key) = media.uploaded() {
        return open_upload(files, &key, max, platform).await;
    }
    let url = media.url.as_str();
    let shown = redact_url(url);
    let parsed = Url::parse(url).map_err(|_| permanent(format!("media rejected: `{shown}` is not a URL")))?;
    if parsed.scheme() != "https" && parsed.scheme() != "http" {
        return Err(permanent(format!("media rejected: `{shown}` is not an http(s) URL")));
    }
    let response = http.execute(http.get(parsed.clone())).await.map_err(|e| match e {
        SendError::Refused(refused) => permanent(format!("media URL {shown}: {refused}")),
        SendError::Http(e) => {
            let mut err = network_error("the media host", "downloading media", e);
            if let PublishError::Transient { reason, .. } = &mut err {
                let _ = write!(reason, " ({shown})");
            }
            err
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        let reason = format!("media download failed: {shown} answered HTTP {}", status.as_u16());
        return Err(if status.is_client_error() && !matches!(status.as_u16(), 408 | 425 | 429) {
            permanent(format!("media rejected: {shown} answered HTTP {}", status.as_u16()))
        } else {
            transient(reason)
        });
    }
    let declared = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty());
    let kind = match declared.as_deref() {
        Some(d) if d.starts_with("image/") => "image",
        Some(d) if d.starts_with("video/") => "video",
        None | Some("application/octet-stream" | "binary/octet-stream") => "file",
        Some(other) => return Err(permanent(format!("media rejected: {shown} is {other}, not an image or video"))),
    };
    let length = response.content_length();
    if let Some(len) = length.filter(|&n| n > max) {
        return Err(permanent(format!("media rejected: {kind} {} ({shown})", too_big_words(Some(len), max, platform))));
    }
    let file_name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).take(100).collect::<String>())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "media".to_owned());
    let body = {
        let shown = shown.clone();
        response
            .bytes_stream()
            .map_err(move |e| network_error("the media host", &format!("downloading {shown}"), e))
            .boxed()
    };
    let download = MediaDownload {
        body,
        head: Vec::new(),
        received: 0,
        length,
        declared,
        sniffed: None,
        file_name,
        shown,
        kind,
        max,
        platform: platform.to_owned(),
    };
    download.read_head().await
}

/// Opens a file uploaded to Herald for publishing: read from where uploads are kept, never
/// fetched over the network. Its type and size were checked when the post was saved; they are
/// checked again here (the file is read as it is now).
async fn open_upload(files: &dyn MediaFiles, key: &MediaKey, max: u64, platform: &str) -> Result<MediaDownload, PublishError> {
    let shown = format!("the uploaded {} {}", key.media_type.kind(), key.path());
    let opened = match files.open(key).await {
        Ok(Some(opened)) => opened,
        Ok(None) => return Err(permanent(format!("media rejected: {shown} is no longer there"))),
        Err(e) => return Err(transient(format!("reading {shown}: {e}"))),
    };
    if opened.bytes > max {
        return Err(permanent(format!("media rejected: {} {} ({shown})", key.media_type.kind(), too_big_words(Some(opened.bytes), max, platform))));
    }
    let body = {
        let shown = shown.clone();
        opened.body.map_err(move |e| transient(format!("reading {shown}: {e}"))).boxed()
    };
    let download = MediaDownload {
        body,
        head: Vec::new(),
        received: 0,
        length: Some(opened.bytes),
        declared: Some(key.media_type.mime.to_owned()),
        sniffed: None,
        file_name: format!("media.{}", key.media_type.ext),
        shown,
        kind: key.media_type.kind(),
        max,
        platform: platform.to_owned(),
    };
    download.read_head().await
}

impl MediaDownload {
    /// Reads the first bytes ([`HEAD_BYTES`]) to know the type; an empty file is refused.
    async fn read_head(mut self) -> Result<Self, PublishError> {
        while self.head.len() < HEAD_BYTES {
            match self.next_chunk().await? {
                Some(chunk) => self.head.extend_from_slice(&chunk),
                None => break,
            }
        }
        if self.head.is_empty() {
            return Err(permanent(format!("media rejected: {} is empty", self.shown)));
        }
        self.sniffed = sniff(&self.head);
        Ok(self)
    }
}

/// Downloads a media whole, with at most `max` bytes (see [`open_media`] for what is refused; a
/// size over `max` found while reading is refused too).
pub(crate) async fn fetch_media(
    http: &HttpClient,
    files: &dyn MediaFiles,
    media: &MediaRef,
    max: u64,
    platform: &str,
) -> Result<Fetched, PublishError> {
    let mut download = open_media(http, files, media, max, platform).await?;
    let mut bytes = std::mem::take(&mut download.head);
    while let Some(chunk) = download.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    // The whole file this time: a JPEG's pixel size may be past the head.
    let sniffed = sniff(&bytes);
    Ok(Fetched { bytes, declared: download.declared, sniffed })
}

impl MediaDownload {
    /// The next chunk of the download, counted against `max`: a media that turns out larger
    /// is refused ([`PublishError::Permanent`]); one cut short is transient.
    async fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, PublishError> {
        let Some(chunk) = self.body.next().await.transpose()? else {
            if let Some(announced) = self.length.filter(|&n| self.received < n) {
                return Err(transient(format!(
                    "the media host sent {} of the {} bytes it announced ({})",
                    self.received, announced, self.shown
                )));
            }
            return Ok(None);
        };
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.max {
            return Err(permanent(format!(
                "media rejected: {} {} ({})",
                self.kind,
                too_big_words(None, self.max, &self.platform),
                self.shown
            )));
        }
        Ok(Some(chunk))
    }

    /// The whole media as a streamed upload body: the head, then the rest as it arrives, with
    /// one chunk in memory at a time (the upload pulls the next one when it has sent the last,
    /// so a slow network slows the download instead of filling memory). A download that breaks
    /// a rule midway (larger than `max`, cut off) ends the body with an error, which fails the
    /// upload request; [`Streamed::failure`] then says why, in the words of [`next_chunk`].
    pub(crate) fn into_body(mut self) -> (reqwest::Body, Streamed) {
        let streamed = Streamed::default();
        let (failure, sent) = (streamed.failure.clone(), streamed.sent.clone());
        let head = bytes::Bytes::from(std::mem::take(&mut self.head));
        sent.fetch_add(head.len() as u64, std::sync::atomic::Ordering::Relaxed);
        let first: Option<bytes::Bytes> = Some(head);
        let chunks = futures_util::stream::unfold(Some((first, self)), move |state| {
            let (failure, sent) = (failure.clone(), sent.clone());
            async move {
                let (first, mut download) = state?;
                if let Some(head) = first {
                    return Some((Ok(head), Some((None, download))));
                }
                match download.next_chunk().await {
                    Ok(Some(chunk)) => {
                        sent.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                        Some((Ok(chunk), Some((None, download))))
                    }
                    Ok(None) => None,
                    Err(e) => {
                        let message = e.to_string();
                        *failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                        Some((Err(std::io::Error::other(message)), None))
                    }
                }
            }
        });
        (reqwest::Body::wrap_stream(chunks), streamed)
    }
}

/// What became of a media streamed by [`MediaDownload::into_body`].
#[derive(Clone, Default)]
pub(crate) struct Streamed {
    failure: Arc<std::sync::Mutex<Option<PublishError>>>,
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Streamed {
    /// Why the download stopped the upload, if it did.
    pub fn failure(&self) -> Option<PublishError> {
        self.failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Bytes handed to the upload so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}


// ---------------------------------------------------------------------------------------------
// Metrics (platforms.md §1.3 ✅): a status's counts, the account's followers.

/// The counts of a Mastodon status. `quotes_count` exists only on Mastodon 4.5+: absent is
/// `None`. Mastodon has no impressions, reach, clicks or bookmarks counts (§1.3 ✅ absent).
#[derive(Debug, Deserialize)]
struct StatusCountsJson {
    #[serde(default)]
    favourites_count: Option<u64>,
    #[serde(default)]
    reblogs_count: Option<u64>,
    #[serde(default)]
    replies_count: Option<u64>,
    #[serde(default)]
    quotes_count: Option<u64>,
}

impl MastodonAdapter {
    /// A failed metrics read in the poller's terms: 429 is a rate limit (with the reset), 404
    /// and 410 a status that is gone, the rest as for publishing.
    fn metrics_error(&self, reply: &Reply, what: &str) -> super::metrics::MetricsError {
        use super::metrics::MetricsError;
        match reply.status.as_u16() {
            429 => MetricsError::RateLimited {
                retry_after: retry_after(&reply.headers, self.clock.now(), ResetHeader::MastodonIso),
            },
            404 | 410 => MetricsError::Gone,
            _ => self.error_from(reply, what).into(),
        }
    }
}

#[async_trait]
impl super::metrics::MetricsAdapter for MastodonAdapter {
    /// `GET /api/v1/statuses/:id` → `favourites_count` (likes), `reblogs_count` (reposts),
    /// `replies_count`, `quotes_count`.
    async fn post_counters(
        &self,
        _channel: &Channel,
        credentials: &Credentials,
        platform_post_id: &str,
        _published_at: DateTime<Utc>,
    ) -> Result<crate::domain::MetricCounters, super::metrics::MetricsError> {
        let account = Account::from_credentials(credentials)?;
        let path = format!("/api/v1/statuses/{}", path_segment(platform_post_id)?);
        let reply = send(
            &self.http,
            self.http.get(account.url(&path)).bearer_auth(account.token.expose_secret()),
            PLATFORM,
            "reading a post's counts",
        )
        .await?;
        if !reply.status.is_success() {
            return Err(self.metrics_error(&reply, "the post's counts"));
        }
        let counts: StatusCountsJson = reply.json(PLATFORM, "the post's counts")?;
        Ok(crate::domain::MetricCounters {
            likes: counts.favourites_count,
            reposts: counts.reblogs_count,
            replies: counts.replies_count,
            quotes: counts.quotes_count,
            ..Default::default()
        })
    }

    /// `GET /api/v1/accounts/verify_credentials` → `followers_count`.
    async fn followers(
        &self,
        _channel: &Channel,
        credentials: &Credentials,
    ) -> Result<Option<u64>, super::metrics::MetricsError> {
        let account = Account::from_credentials(credentials)?;
        let reply = send(
            &self.http,
            self.http
                .get(account.url("/api/v1/accounts/verify_credentials"))
                .bearer_auth(account.token.expose_secret()),
            PLATFORM,
            "reading the account",
        )
        .await?;
        if !reply.status.is_success() {
            return Err(self.metrics_error(&reply, "the account"));
        }
        let v: serde_json::Value = reply.json(PLATFORM, "the account")?;
        Ok(v.get("followers_count").and_then(serde_json::Value::as_u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_content_matches_the_posted_text() {
        let html = crate::text::tests::STATUS_HTML;
        let posted =
            "Café ouvert ✨ https://example.com/menu/today\n\nmerci @bob@social.example #café\na <b> & \"c\" 'd'";
        assert_eq!(normalise_for_match(&html_to_text(html)), normalise_for_match(posted));
    }

    #[test]
    fn normalisation_keeps_what_matters() {
        assert_eq!(normalise_for_match("  a\n\n b\tc "), "a b c");
        assert_eq!(normalise_for_match("hi @alice@example.org!"), "hi @alice!");
        assert_eq!(normalise_for_match("mail a@b.org"), "mail a@b.org"); // not a mention
        assert_eq!(normalise_for_match("@x@localhost"), "@x@localhost"); // no dot: left alone
        assert_eq!(normalise_for_match("e\u{301}"), "é");
        assert_ne!(normalise_for_match("hello"), normalise_for_match("hello!"));
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_reset_headers() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset", "2026-11-20T10:01:30.000Z".parse().unwrap());
        assert_eq!(retry_after(&h, now, ResetHeader::MastodonIso), Some(Duration::from_secs(90)));
        assert_eq!(retry_after(&h, now, ResetHeader::EpochSeconds), None);
        h.insert("retry-after", "12".parse().unwrap());
        assert_eq!(retry_after(&h, now, ResetHeader::MastodonIso), Some(Duration::from_secs(12)));
        h.insert("retry-after", "Fri, 20 Nov 2026 10:00:05 GMT".parse().unwrap());
        assert_eq!(retry_after(&h, now, ResetHeader::MastodonIso), Some(Duration::from_secs(5)));

        let mut b = HeaderMap::new();
        b.insert("ratelimit-reset", (now.timestamp() + 42).to_string().parse().unwrap());
        assert_eq!(retry_after(&b, now, ResetHeader::EpochSeconds), Some(Duration::from_secs(42)));
        b.insert("ratelimit-reset", (now.timestamp() - 5).to_string().parse().unwrap());
        assert_eq!(retry_after(&b, now, ResetHeader::EpochSeconds), None); // already past
        b.insert("retry-after", "9999999".parse().unwrap());
        assert_eq!(retry_after(&b, now, ResetHeader::EpochSeconds), Some(Duration::from_secs(24 * 3600)));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(size_words(2_300_000), "2.3 MB");
        assert_eq!(size_words(1_000_000), "1 MB");
        assert_eq!(size_words(16_000_000), "16 MB");
        assert_eq!(size_words(850_000), "850 KB");
        assert_eq!(size_words(999), "999 bytes");
        assert_eq!(size_words(999_999_999), "1000 MB");
        assert_eq!(too_big_words(Some(2_300_000), 1_000_000, "Bluesky"), "is 2.3 MB; Bluesky takes at most 1 MB");
        assert_eq!(
            too_big_words(Some(1_000_001), 1_000_000, "Bluesky"),
            "is 1,000,001 bytes; Bluesky takes at most 1,000,000 bytes"
        );
        assert_eq!(too_big_words(None, 16_000_000, "Mastodon"), "is larger than 16 MB; Mastodon takes at most 16 MB");
    }


    #[test]
    fn service_urls_must_be_https_except_on_loopback() {
        let ok = |v: &str| service_base(Some(v), "instance_url", None, PLATFORM);
        assert_eq!(ok("https://mastodon.social/").unwrap(), "https://mastodon.social");
        assert_eq!(ok(" https://example.org/sub/ ").unwrap(), "https://example.org/sub");
        assert_eq!(ok("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert!(matches!(ok("http://mastodon.social"), Err(PublishError::Auth { .. })));
        assert!(matches!(ok("mastodon.social"), Err(PublishError::Auth { .. })));
        assert!(matches!(ok("https://user:pw@mastodon.social"), Err(PublishError::Auth { .. })));
        assert!(matches!(service_base(None, "instance_url", None, PLATFORM), Err(PublishError::Auth { .. })));
        assert_eq!(
            service_base(None, "service", Some("https://bsky.social"), "Bluesky").unwrap(),
            "https://bsky.social"
        );
    }

    #[test]
    fn link_headers_give_the_url_of_a_relation() {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "<https://m.example/api/v1/notifications?max_id=7&types%5B%5D=mention>; rel=\"next\", \
             <https://m.example/api/v1/notifications?min_id=9,x>; rel=\"prev\""
                .parse()
                .unwrap(),
        );
        assert_eq!(link_rel(&h, "prev").as_deref(), Some("https://m.example/api/v1/notifications?min_id=9,x"));
        assert_eq!(
            link_rel(&h, "next").as_deref(),
            Some("https://m.example/api/v1/notifications?max_id=7&types%5B%5D=mention")
        );
        assert_eq!(link_rel(&h, "last"), None);
        h.insert(reqwest::header::LINK, "<https://a/x>; rel=prev next".parse().unwrap());
        assert_eq!(link_rel(&h, "next").as_deref(), Some("https://a/x"));
        for odd in ["<", "<>; rel=prev", ">; rel=prev", "garbage"] {
            h.insert(reqwest::header::LINK, odd.parse().unwrap());
            assert_eq!(link_rel(&h, "prev"), None, "{odd}");
        }
    }

    #[test]
    fn replies_mention_the_author_once() {
        assert_eq!(with_mention("Merci !", Some("bob@other.example")), "@bob@other.example Merci !");
        assert_eq!(with_mention("Merci @Bob@Other.example !", Some("bob@other.example")), "Merci @Bob@Other.example !");
        assert_eq!(with_mention("@bob merci", Some("bob")), "@bob merci");
        assert_eq!(with_mention("merci @bob.", Some("bob")), "merci @bob.");
        // A longer handle, or the same name on another server, is someone else.
        assert_eq!(with_mention("@bobby merci", Some("bob")), "@bob @bobby merci");
        assert_eq!(with_mention("@bob@elsewhere.example", Some("bob")), "@bob @bob@elsewhere.example");
        assert_eq!(with_mention("merci", None), "merci");
        assert_eq!(with_mention("merci", Some(" ")), "merci");
    }

    #[test]
    fn status_html_becomes_plain_text_with_paragraphs() {
        assert_eq!(html_to_plain("<p>a</p><p>b<br>c</p>"), "a\n\nb\nc");
        assert_eq!(html_to_plain("<p>  </p><p>x &amp; y</p>"), "x & y");
        assert_eq!(html_to_plain(""), "");
    }

    #[test]
    fn mastodon_ids_order_by_length_then_text() {
        assert!(cmp_ids("99", "100").is_lt());
        assert!(cmp_ids("113300", "113299").is_gt());
        assert_eq!(newer_id(Some("9".into()), Some("10")).as_deref(), Some("10"));
        assert_eq!(newer_id(Some("10".into()), Some("9")).as_deref(), Some("10"));
        assert_eq!(newer_id(None, Some("9")).as_deref(), Some("9"));
    }

    #[test]
    fn urls_in_messages_lose_their_query() {
        assert_eq!(redact_url("https://bucket.example/a.png?X-Amz-Signature=abc#f"), "https://bucket.example/a.png");
        assert_eq!(redact_url("not a url?secret"), "not a url");
    }
}
