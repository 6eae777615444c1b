//! The sandbox network: "publishes" by appending one JSON line per publication to
//! `<outbox>/published.jsonl`. For the demo, for tests, and for trying Herald without any account.
//!
//! The journal is what the sandbox network holds: a line is a post made (`"kind": "post"`, an
//! [`OutboxEntry`]) or a reply made (`"kind": "reply"`, a [`ReplyEntry`]), in the order they were
//! made. Publishing is idempotent (the same delivery twice is its first line, nothing written),
//! so a duplicate, the same delivery posted twice, can only come from two processes racing,
//! and would show as two lines. Read it with [`read_journal`]; watch it with `tail -f`.
//!
//! One file, not one file per delivery: a burst of thousands due in the same second spent
//! most of its time in the file system allocating their inodes (docs/performance.md, Bursts),
//! where an append to a file kept open costs microseconds. Each line is one `write` on a file
//! opened to append, so lines written together (by this process or another) never interleave,
//! and a process killed between two publications leaves whole lines only.
//!
//! A sandbox channel's credentials may hold, to rehearse what happens when a network misbehaves:
//! - `fail_with`: `transient`, `permanent` or `auth`;
//! - `ack_delay_ms`: the post is made at once but the answer comes that much later (a slow
//!   network whose reply may be lost if Herald dies meanwhile).
//!
//! Inbox ([`InboxAdapter`]): a reply is a journal line too, once per interaction and text
//! (the same reply twice is its first line). Polling reads `<outbox>/../inbox-in/*.json`, files
//! that someone (a demo, a test) drops there, each one interaction ([`InboxFile`]), taken in
//! file name order: name them so that they sort in arrival order (a timestamp first). The
//! cursor is the last file name taken. Write them atomically (write elsewhere, then rename).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::inbox::{InboxAdapter, Polled, reply_digest};
use super::{PlatformAdapter, PublishError, PublishRequest, Published};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::{Channel, Interaction, InteractionDraft, InteractionKind};

/// The sandbox network's journal, in the outbox folder.
pub const JOURNAL: &str = "published.jsonl";

pub struct SandboxAdapter {
    outbox: PathBuf,
    clock: Arc<dyn Clock>,
    journal: Arc<Journal>,
}

/// One published delivery: a `"kind": "post"` line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxEntry {
    pub delivery_id: String,
    pub post_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub text: String,
    pub media: Vec<String>,
    pub scheduled_for: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Publication {
    Post(OutboxEntry),
    Reply(ReplyEntry),
}

impl Publication {
    /// What makes two lines the same publication: the delivery, or the reply's id.
    pub fn key(&self) -> &str {
        match self {
            Self::Post(entry) => &entry.delivery_id,
            Self::Reply(entry) => &entry.id,
        }
    }

    pub fn published_at(&self) -> DateTime<Utc> {
        match self {
            Self::Post(entry) => entry.published_at,
            Self::Reply(entry) => entry.published_at,
        }
    }
}

/// Every whole line of the journal in `outbox`, in the order they were written; none when there
/// is no journal yet. A line that is not a publication (edited by hand) is skipped.
pub fn read_journal(outbox: &Path) -> std::io::Result<Vec<Publication>> {
    match std::fs::read(outbox.join(JOURNAL)) {
        Ok(bytes) => Ok(parse_lines(&bytes).0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        Err(e) => Err(e),
    }
}

/// The publications of the whole lines in `bytes`, and how many bytes those lines take (a last
/// line without its newline is still being written, and is left for the next read).
pub fn parse_lines(bytes: &[u8]) -> (Vec<Publication>, usize) {
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines = bytes[..whole].split(|b| *b == b'\n').filter(|line| !line.is_empty());
    (lines.filter_map(|line| serde_json::from_slice(line).ok()).collect(), whole)
}

/// The journal file and what this process knows is in it, behind one lock: checking whether a
/// publication was made and making it is one step.
struct Journal {
    path: PathBuf,
    state: Mutex<JournalState>,
}

#[derive(Default)]
struct JournalState {
    /// Open to read and append; `None` until the first use, or after the file went away.
    file: Option<File>,
    /// Bytes of the file already read into `made`.
    read_to: u64,
    /// The file ends in a line without its newline: one being written by another process, or
    /// the torn end of a write that failed (a full disk). A new line then starts with a newline
    /// of its own, so that it is never glued to it.
    unfinished: bool,
    /// Each publication made (by any process writing this journal), by key: when.
    made: HashMap<String, DateTime<Utc>>,
}

impl Journal {
    fn new(outbox: &Path) -> Self {
        Self { path: outbox.join(JOURNAL), state: Mutex::default() }
    }

    /// When the publication `key` was made, if it was. Blocking (file calls).
    fn find(&self, key: &str) -> Result<Option<DateTime<Utc>>, PublishError> {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.catch_up(&self.path)?;
        Ok(state.made.get(key).copied())
    }

    /// Makes the publication `make(now)` unless `key` was made already. The time it was made,
    /// and whether that was now. Blocking (file calls).
    fn make(
        &self,
        key: &str,
        now: impl FnOnce() -> DateTime<Utc>,
        make: impl FnOnce(DateTime<Utc>) -> Publication,
    ) -> Result<(DateTime<Utc>, bool), PublishError> {
        use std::io::Write;
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.catch_up(&self.path)?;
        if let Some(at) = state.made.get(key) {
            return Ok((*at, false));
        }
        let Some(file) = &state.file else { return Err(io_error("open", std::io::Error::other("the journal is not open"))) };
        let at = now();
        let mut line = if state.unfinished { vec![b'\n'] } else { vec![] };
        serde_json::to_writer(&mut line, &make(at)).map_err(|e| PublishError::Permanent { reason: e.to_string() })?;
        line.push(b'\n');
        // One write on a file opened to append: whole lines, never interleaved. Not counted as
        // read (`read_to` stays): lines other processes appended before it are read next time.
        (&*file).write_all(&line).map_err(|e| io_error("write", e))?;
        state.made.insert(key.to_owned(), at);
        Ok((at, true))
    }
}

impl JournalState {
    /// Opens the journal (again, if it was deleted or replaced since: one `stat` tells) and
    /// reads the lines written since the last call, by this process or another.
    fn catch_up(&mut self, path: &Path) -> Result<(), PublishError> {
        use std::os::unix::fs::{FileExt, MetadataExt};
        let on_disk = match std::fs::metadata(path) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error("stat", e)),
        };
        let open = self.file.as_ref().and_then(|f| f.metadata().ok());
        let same = matches!((&open, &on_disk), (Some(o), Some(d)) if o.ino() == d.ino() && o.dev() == d.dev());
        let len = match (same, on_disk) {
            // (Shorter than what was read: cut by hand; read again from its start.)
            (true, Some(meta)) if meta.len() >= self.read_to => meta.len(),
            _ => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| io_error("folder", e))?;
                }
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(path)
                    .map_err(|e| io_error("open", e))?;
                let len = file.metadata().map_err(|e| io_error("stat", e))?.len();
                *self = Self { file: Some(file), ..Self::default() };
                len
            }
        };
        let Some(file) = &self.file else { return Ok(()) };
        let Some(unread) = len.checked_sub(self.read_to).filter(|n| *n > 0) else {
            self.unfinished = false;
            return Ok(());
        };
        let mut bytes = vec![0; usize::try_from(unread).map_err(|e| io_error("read", std::io::Error::other(e)))?];
        file.read_exact_at(&mut bytes, self.read_to).map_err(|e| io_error("read", e))?;
        let (read, used) = parse_lines(&bytes);
        for publication in read {
            self.made.entry(publication.key().to_owned()).or_insert_with(|| publication.published_at());
        }
        self.read_to += used as u64;
        self.unfinished = used < bytes.len();
        Ok(())
    }
}

impl SandboxAdapter {
    pub fn new(outbox: PathBuf, clock: Arc<dyn Clock>) -> Self {
        let journal = Arc::new(Journal::new(&outbox));
        Self { outbox, clock, journal }
    }

    /// Where a publication is: the journal, at its key.
    fn url(&self, key: &str) -> String {
        format!("file://{}#{key}", self.journal.path.display())
    }

    fn published(&self, delivery_id: &str, published_at: DateTime<Utc>) -> Published {
        Published {
            platform_post_id: format!("sandbox-{delivery_id}"),
            url: Some(self.url(delivery_id)),
            published_at: Some(published_at),
        }
    }

    /// [`Journal::make`] on tokio's blocking pool: one trip per publication.
    async fn make(
        &self,
        key: String,
        make: impl FnOnce(DateTime<Utc>) -> Publication + Send + 'static,
    ) -> Result<(DateTime<Utc>, bool), PublishError> {
        let (journal, clock) = (Arc::clone(&self.journal), Arc::clone(&self.clock));
        blocking(move || journal.make(&key, || clock.now(), make)).await
    }

    async fn find(&self, key: String) -> Result<Option<DateTime<Utc>>, PublishError> {
        let journal = Arc::clone(&self.journal);
        blocking(move || journal.find(&key)).await
    }
}

/// Runs file calls on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, PublishError> + Send + 'static) -> Result<T, PublishError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(PublishError::Transient { reason: format!("sandbox journal: {e}"), retry_after: None }))
}

/// Simulated failures from the channel's `fail_with` credential.
fn simulated_failure(credentials: &Credentials) -> Result<(), PublishError> {
    match credentials.get("fail_with") {
        Some("transient") => {
            Err(PublishError::Transient { reason: "sandbox: simulated outage".into(), retry_after: None })
        }
        Some("permanent") => Err(PublishError::Permanent { reason: "sandbox: simulated refusal".into() }),
        Some("auth") => Err(PublishError::Auth { reason: "token expired (sandbox simulation)".into() }),
        _ => Ok(()),
    }
}

fn io_error(what: &str, e: std::io::Error) -> PublishError {
    PublishError::Transient { reason: format!("sandbox journal {what}: {e}"), retry_after: None }
}

#[async_trait]
impl PlatformAdapter for SandboxAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        simulated_failure(request.credentials)?;
        let delivery_id = request.delivery.id.to_string();
        let entry = OutboxEntry {
            delivery_id: delivery_id.clone(),
            post_id: request.delivery.post_id.to_string(),
            channel_id: request.channel.id.to_string(),
            channel_name: request.channel.name.as_str().to_owned(),
            text: request.text.to_owned(),
            media: request.media.iter().map(|m| m.url.clone()).collect(),
            scheduled_for: request.delivery.publish_at,
            // Stamped when it is written.
            published_at: request.delivery.publish_at,
        };
        // The same delivery twice is its first line: publishing is idempotent.
        let (at, new) = self.make(delivery_id.clone(), move |at| Publication::Post(OutboxEntry { published_at: at, ..entry })).await?;
        if new && let Some(ms) = request.credentials.get("ack_delay_ms").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(self.published(&delivery_id, at))
    }

    /// The sandbox takes any credentials of the right shape; `fail_with: auth` is refused as a
    /// network would refuse a revoked token, so the connect flow can be rehearsed too.
    async fn check_credentials(&self, _: &Channel, credentials: &Credentials) -> Result<(), PublishError> {
        match credentials.get("fail_with") {
            Some("auth") => simulated_failure(credentials),
            _ => Ok(()),
        }
    }

    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let delivery_id = request.delivery.id.to_string();
        Ok(self.find(delivery_id.clone()).await?.map(|at| self.published(&delivery_id, at)))
    }
}

/// One interaction dropped into `<outbox>/../inbox-in/` as JSON. Only `text` is required.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboxFile {
    pub text: String,
    /// `mention` (default), `reply`, `comment` or `direct_message`.
    #[serde(default)]
    pub kind: Option<InteractionKind>,
    /// The channel it is for (its id or name); without it, every sandbox channel takes it.
    #[serde(default)]
    pub channel: Option<String>,
    /// Default: `sandbox-<file name without .json>`.
    #[serde(default)]
    pub external_id: Option<String>,
    /// Default: the external id (it starts a thread).
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Default: `sandbox-person`.
    #[serde(default)]
    pub author_id: Option<String>,
    /// Default: the author id.
    #[serde(default)]
    pub author_name: Option<String>,
    /// Default: when it was polled.
    #[serde(default)]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub post_external_id: Option<String>,
    #[serde(default)]
    pub post_url: Option<String>,
}

/// A reply made: a `"kind": "reply"` line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyEntry {
    /// `reply-<interaction id>-<hash of the text>`: the same reply twice is the same id.
    pub id: String,
    pub interaction_id: String,
    pub channel_id: String,
    pub channel_name: String,
    /// The external id of the interaction answered.
    pub in_reply_to: String,
    pub thread_id: String,
    pub text: String,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

impl SandboxAdapter {
    fn inbox_dir(&self) -> PathBuf {
        self.outbox.parent().map_or_else(|| PathBuf::from("inbox-in"), |p| p.join("inbox-in"))
    }
}

#[async_trait]
impl InboxAdapter for SandboxAdapter {
    async fn poll(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        cursor: Option<&str>,
    ) -> Result<Polled, PublishError> {
        simulated_failure(credentials)?;
        let dir = self.inbox_dir();
        let mut names = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Polled { items: vec![], cursor: cursor.map(str::to_owned) });
            }
            Err(e) => return Err(io_error("inbox folder", e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(|e| io_error("inbox folder", e))? {
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name.ends_with(".json") && cursor.is_none_or(|c| name.as_str() > c) {
                names.push(name);
            }
        }
        names.sort();
        let mut items = Vec::new();
        for name in &names {
            let bytes = tokio::fs::read(dir.join(name)).await.map_err(|e| io_error("inbox file", e))?;
            let file: InboxFile = match serde_json::from_slice(&bytes) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "sandbox inbox: skipping a file that is not an interaction");
                    continue;
                }
            };
            if file.channel.as_deref().is_some_and(|c| c != channel.id.to_string() && c != channel.name.as_str()) {
                continue;
            }
            let stem = name.trim_end_matches(".json");
            let external_id = file.external_id.unwrap_or_else(|| format!("sandbox-{stem}"));
            let author_id = file.author_id.unwrap_or_else(|| "sandbox-person".to_owned());
            let draft = InteractionDraft {
                kind: file.kind.unwrap_or(InteractionKind::Mention),
                thread_id: file.thread_id.unwrap_or_else(|| external_id.clone()),
                external_id: external_id.clone(),
                parent_id: file.parent_id,
                author_name: file.author_name.unwrap_or_else(|| author_id.clone()),
                author_id,
                text: file.text,
                created_at: file.created_at.unwrap_or_else(|| self.clock.now()),
                post_external_id: file.post_external_id,
                post_url: file.post_url,
                reply_ref: None,
            };
            items.push((external_id, draft));
        }
        let cursor = names.last().cloned().or_else(|| cursor.map(str::to_owned));
        Ok(Polled { items, cursor })
    }

    async fn reply(
        &self,
        channel: &Channel,
        credentials: &Credentials,
        to: &Interaction,
        text: &str,
    ) -> Result<Published, PublishError> {
        simulated_failure(credentials)?;
        let digest = hex::encode(&reply_digest(to, text)[..8]);
        let id = format!("reply-{}-{digest}", to.id);
        let entry = ReplyEntry {
            id: id.clone(),
            interaction_id: to.id.to_string(),
            channel_id: channel.id.to_string(),
            channel_name: channel.name.as_str().to_owned(),
            in_reply_to: to.external_id.clone(),
            thread_id: to.thread_id.clone(),
            text: text.to_owned(),
            // Stamped when it is written.
            published_at: to.received_at,
        };
        // The same reply twice is its first line.
        let (at, _) = self.make(id.clone(), move |at| Publication::Reply(ReplyEntry { published_at: at, ..entry })).await?;
        Ok(Published { platform_post_id: format!("sandbox-{id}"), url: Some(self.url(&id)), published_at: Some(at) })
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics: simulated, so the demo and the tests have numbers. Deterministic: the same post at
// the same age always has the same counters, and they only grow with age (engagement comes
// fast, then levels off: 1 − e^(−age/10 h)). A channel's followers grow a few a day from a base
// of its own. Credentials `metrics_fail_with` (`rate_limited`, `auth`, `failed`) rehearse
// failures, as does `fail_with` for everything.

/// A stable number from some text (the first 8 bytes of its SHA-256).
fn seed(text: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap_or([0; 8]))
}

fn simulated_metrics_failure(credentials: &Credentials) -> Result<(), super::metrics::MetricsError> {
    use super::metrics::MetricsError;
    simulated_failure(credentials)?;
    match credentials.get("metrics_fail_with") {
        Some("rate_limited") => Err(MetricsError::RateLimited { retry_after: Some(std::time::Duration::from_secs(600)) }),
        Some("auth") => Err(MetricsError::Auth { reason: "token expired (sandbox simulation)".into() }),
        Some("failed") => Err(MetricsError::Failed { reason: "sandbox: simulated outage".into() }),
        _ => Ok(()),
    }
}

/// The simulated counters of a post `age` after it went out.
pub fn simulated_counters(platform_post_id: &str, age: chrono::Duration) -> crate::domain::MetricCounters {
    let s = seed(platform_post_id);
    let hours = (age.num_seconds().max(0) as f64) / 3600.0;
    let grown = 1.0 - (-hours / 10.0).exp();
    let potential = 300 + s % 2700; // impressions the post will end up with
    let impressions = (potential as f64 * grown).round() as u64;
    let rate = 2 + (s >> 16) % 7; // likes per 100 impressions
    let likes = impressions * rate / 100;
    crate::domain::MetricCounters {
        likes: Some(likes),
        reposts: Some(likes * (1 + (s >> 24) % 3) / 10),
        replies: Some(likes / 8),
        quotes: Some(likes / 30),
        bookmarks: Some(likes / 12),
        impressions: Some(impressions),
        reach: Some(impressions * 4 / 5),
        clicks: Some(impressions * (s >> 32 & 3) / 100),
        followers: None,
    }
}

/// A sandbox channel's followers at `now`: a base of its own, plus a few a day since it was made.
pub fn simulated_followers(channel: &Channel, now: chrono::DateTime<chrono::Utc>) -> u64 {
    let s = seed(&channel.id.to_string());
    let days = (now - channel.created_at).num_hours().max(0) as u64 / 24;
    let hours = (now - channel.created_at).num_hours().max(0) as u64 % 24;
    800 + s % 4000 + days * (2 + (s >> 20) % 6) + hours / 6
}

#[async_trait]
impl super::metrics::MetricsAdapter for SandboxAdapter {
    async fn post_counters(
        &self,
        _channel: &Channel,
        credentials: &Credentials,
        platform_post_id: &str,
        published_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::domain::MetricCounters, super::metrics::MetricsError> {
        simulated_metrics_failure(credentials)?;
        Ok(simulated_counters(platform_post_id, self.clock.now() - published_at))
    }

    async fn followers(
        &self,
        channel: &Channel,
        credentials: &Credentials,
    ) -> Result<Option<u64>, super::metrics::MetricsError> {
        simulated_metrics_failure(credentials)?;
        Ok(Some(simulated_followers(channel, self.clock.now())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::domain::Delivery;
    use chrono::TimeZone;
    use serde_json::json;

    fn channel(name: &str) -> Channel {
        let now = chrono::Utc::now();
        Channel {
            id: crate::domain::ChannelId::new(),
            team_id: crate::domain::TeamId::parse("team", "cafe").unwrap(),
            platform: crate::domain::Platform::Sandbox,
            name: crate::domain::ChannelName::parse("name", name).unwrap(),
            time_zone: chrono_tz::Europe::Paris,
            credentials: None,
            queue_slots: vec![],
            created_at: now,
            updated_at: now,
        }
    }

    fn creds(v: serde_json::Value) -> Credentials {
        Credentials::from_json("credentials", &v).unwrap()
    }

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn polling_reads_dropped_files_in_name_order_for_their_channel() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = SandboxAdapter::new(dir.path().join("outbox"), Arc::new(ManualClock::new(at())));
        let (cafe, bar) = (channel("Café"), channel("Bar"));
        let none = creds(json!({}));
        assert_eq!(sandbox.poll(&cafe, &none, None).await.unwrap(), Polled::default(), "no inbox-in folder");

        let inbox = dir.path().join("inbox-in");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("002-bob.json"), json!({"text": "Vous ouvrez ?", "author_name": "Bob"}).to_string())
            .unwrap();
        std::fs::write(
            inbox.join("001-dm.json"),
            json!({"text": "un secret", "kind": "direct_message", "channel": "Café"}).to_string(),
        )
        .unwrap();
        std::fs::write(inbox.join("003-bar.json"), json!({"text": "pour le bar", "channel": "Bar"}).to_string())
            .unwrap();
        std::fs::write(inbox.join("004-broken.json"), "{").unwrap();
        std::fs::write(inbox.join("notes.txt"), "ignored").unwrap();

        let first = sandbox.poll(&cafe, &none, None).await.unwrap();
        let texts: Vec<&str> = first.items.iter().map(|(_, d)| d.text.as_str()).collect();
        assert_eq!(texts, ["un secret", "Vous ouvrez ?"]);
        let (id, dm) = &first.items[0];
        assert_eq!(id, "sandbox-001-dm");
        assert_eq!(
            (dm.kind, dm.thread_id.as_str(), dm.created_at),
            (InteractionKind::DirectMessage, "sandbox-001-dm", at())
        );
        assert_eq!(first.items[1].1.author_name, "Bob");
        assert_eq!(first.items[1].1.kind, InteractionKind::Mention);
        assert_eq!(first.cursor.as_deref(), Some("004-broken.json"));
        assert_eq!(sandbox.poll(&bar, &none, None).await.unwrap().items.len(), 2, "its own and the one for all");

        let again = sandbox.poll(&cafe, &none, first.cursor.as_deref()).await.unwrap();
        assert_eq!(again, Polled { items: vec![], cursor: first.cursor.clone() });
        std::fs::write(inbox.join("005-new.json"), json!({"text": "encore"}).to_string()).unwrap();
        let next = sandbox.poll(&cafe, &none, first.cursor.as_deref()).await.unwrap();
        assert_eq!(next.items.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["sandbox-005-new"]);

        let failing = creds(json!({"fail_with": "auth"}));
        assert!(matches!(sandbox.poll(&cafe, &failing, None).await, Err(PublishError::Auth { .. })));
    }

    #[tokio::test]
    async fn a_reply_is_written_to_the_outbox_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let sandbox = SandboxAdapter::new(outbox.clone(), Arc::new(ManualClock::new(at())));
        let cafe = channel("Café");
        let to: Interaction = serde_json::from_value(json!({
            "id": crate::domain::InteractionId::new(), "team_id": cafe.team_id, "channel_id": cafe.id,
            "platform": "sandbox", "kind": "mention", "external_id": "sandbox-002-bob", "thread_id": "sandbox-002-bob",
            "author_id": "bob", "author_name": "Bob", "text": "Vous ouvrez ?", "created_at": at(), "received_at": at(),
            "status": "open",
        }))
        .unwrap();
        let none = creds(json!({}));
        let first = sandbox.reply(&cafe, &none, &to, "Oui, dès 8 h").await.unwrap();
        let again = sandbox.reply(&cafe, &none, &to, "Oui, dès 8 h").await.unwrap();
        assert_eq!(first, again);
        assert_eq!(first.published_at, Some(at()));
        assert_eq!(first.platform_post_id, format!("sandbox-reply-{}-{}", to.id, hex::encode(&reply_digest(&to, "Oui, dès 8 h")[..8])));
        assert!(first.url.as_deref().is_some_and(|u| u.starts_with("file://") && u.ends_with(&first.platform_post_id["sandbox-".len()..])));
        sandbox.reply(&cafe, &none, &to, "Autre réponse").await.unwrap();
        let journal = read_journal(&outbox).unwrap();
        let replies: Vec<_> = journal
            .iter()
            .map(|p| match p {
                Publication::Reply(r) => (r.in_reply_to.as_str(), r.text.as_str(), r.published_at),
                Publication::Post(_) => panic!("{p:?}"),
            })
            .collect();
        assert_eq!(replies, [("sandbox-002-bob", "Oui, dès 8 h", at()), ("sandbox-002-bob", "Autre réponse", at())]);
        let failing = creds(json!({"fail_with": "transient"}));
        assert!(matches!(sandbox.reply(&cafe, &failing, &to, "x").await, Err(PublishError::Transient { .. })));
    }

    fn request_parts(cafe: &Channel) -> (Delivery, Credentials) {
        let delivery = Delivery {
            id: crate::domain::DeliveryId::new(),
            team_id: cafe.team_id.clone(),
            post_id: crate::domain::PostId::new(),
            channel_id: cafe.id,
            platform: crate::domain::Platform::Sandbox,
            state: crate::domain::DeliveryState::Publishing,
            publish_at: at(),
            attempts: 1,
            retry_at: None,
            lease_until: None,
            platform_post_id: None,
            url: None,
            published_at: None,
            last_error: None,
            version: 2,
            created_at: at(),
            updated_at: at(),
        };
        (delivery, creds(json!({})))
    }

    use crate::media::NoMediaFiles;

    fn request<'a>(delivery: &'a Delivery, cafe: &'a Channel, none: &'a Credentials, files: &'a NoMediaFiles) -> PublishRequest<'a> {
        PublishRequest {
            delivery,
            channel: cafe,
            credentials: none,
            text: "Galettes ✨",
            media: &[],
            media_files: files,
            first_comment: None,
            reply_control: None,
        }
    }

    #[tokio::test]
    async fn a_delivery_is_one_journal_line_whoever_publishes_it_and_whenever() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        let clock = Arc::new(ManualClock::new(at()));
        let (one, other) = (SandboxAdapter::new(outbox.clone(), clock.clone()), SandboxAdapter::new(outbox.clone(), clock.clone()));
        let cafe = channel("Café");
        let (delivery, none) = request_parts(&cafe);
        let files = NoMediaFiles;
        let request = request(&delivery, &cafe, &none, &files);
        assert_eq!(one.find_published(&request).await.unwrap(), None, "nothing published yet, no journal yet");
        let first = one.publish(&request).await.unwrap();
        assert_eq!(first.published_at, Some(at()));
        clock.advance(chrono::Duration::seconds(5));
        // Again, from this adapter and from another one on the same outbox (a second process,
        // or serve after a restart): the first publication, nothing written.
        assert_eq!(one.publish(&request).await.unwrap(), first);
        assert_eq!(other.publish(&request).await.unwrap(), first);
        assert_eq!(other.find_published(&request).await.unwrap(), Some(first.clone()));
        let journal = read_journal(&outbox).unwrap();
        assert_eq!(journal.len(), 1, "{journal:?}");
        let Publication::Post(entry) = &journal[0] else { panic!("{journal:?}") };
        assert_eq!((entry.text.as_str(), entry.delivery_id.clone(), entry.published_at), ("Galettes ✨", delivery.id.to_string(), at()));

        // The journal deleted by hand: a new one, and the delivery is no longer known there.
        std::fs::remove_dir_all(&outbox).unwrap();
        assert_eq!(one.find_published(&request).await.unwrap(), None);
        let again = one.publish(&request).await.unwrap();
        assert_eq!(again.published_at, Some(at() + chrono::Duration::seconds(5)));
        assert_eq!(read_journal(&outbox).unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_torn_line_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        std::fs::create_dir_all(&outbox).unwrap();
        // The end of a write that failed half-way (a full disk), or one still being written.
        std::fs::write(outbox.join(JOURNAL), r#"{"kind":"post","delivery_id":"torn"#).unwrap();
        let clock = Arc::new(ManualClock::new(at()));
        let cafe = channel("Café");
        let (delivery, none) = request_parts(&cafe);
        let files = NoMediaFiles;
        let request = request(&delivery, &cafe, &none, &files);
        let published = SandboxAdapter::new(outbox.clone(), clock.clone()).publish(&request).await.unwrap();
        // Another process (or serve after a restart) reads it back: it was not glued to the torn line.
        let found = SandboxAdapter::new(outbox.clone(), clock).find_published(&request).await.unwrap();
        assert_eq!(found, Some(published));
        assert_eq!(read_journal(&outbox).unwrap().len(), 1);
    }

    #[test]
    fn a_line_still_being_written_is_left_for_the_next_read() {
        let post = Publication::Post(OutboxEntry {
            delivery_id: "d1".into(),
            post_id: "p1".into(),
            channel_id: "c1".into(),
            channel_name: "Café".into(),
            text: "Bonjour".into(),
            media: vec![],
            scheduled_for: at(),
            published_at: at(),
        });
        let line = serde_json::to_string(&post).unwrap();
        let bytes = format!("{line}\nnot a publication\n{}", &line[..10]);
        let (read, used) = parse_lines(bytes.as_bytes());
        assert_eq!(read, [post]);
        assert_eq!(used, line.len() + 1 + "not a publication".len() + 1);
        assert!(line.contains(r#""kind":"post""#), "{line}");
    }
}
