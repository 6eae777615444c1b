//! The sandbox network: "publishes" by writing one JSON file per delivery into an outbox
//! folder. For the demo, for tests, and for trying Herald without any account.
//!
//! Every real publication also appends one line to `<outbox>/published.log`, so a duplicate
//! (the same delivery posted twice) would show as two lines.
//!
//! A sandbox channel's credentials may hold, to rehearse what happens when a network misbehaves:
//! - `fail_with`: `transient`, `permanent` or `auth`;
//! - `ack_delay_ms`: the post is made at once but the answer comes that much later (a slow
//!   network whose reply may be lost if Herald dies meanwhile).
//!
//! Inbox ([`InboxAdapter`]): a reply is written like a publication, to
//! `<outbox>/reply-<interaction id>-<hash of the text>.json` (the same reply twice is the same
//! file) plus a `published.log` line. Polling reads `<outbox>/../inbox-in/*.json`, files that
//! someone (a demo, a test) drops there, each one interaction ([`InboxFile`]), taken in file
//! name order: name them so that they sort in arrival order (a timestamp first). The cursor is
//! the last file name taken. Write them atomically (write elsewhere, then rename).

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::inbox::{InboxAdapter, Polled, reply_digest};
use super::{PlatformAdapter, PublishError, PublishRequest, Published};
use crate::clock::Clock;
use crate::crypto::Credentials;
use crate::domain::{Channel, Interaction, InteractionDraft, InteractionKind};

pub struct SandboxAdapter {
    outbox: PathBuf,
    clock: Arc<dyn Clock>,
}

/// One published delivery, as written to `<outbox>/<delivery id>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxEntry {
    pub delivery_id: String,
    pub post_id: String,
    pub channel_id: String,
    pub channel_name: String,
    pub text: String,
    pub media: Vec<String>,
    pub scheduled_for: chrono::DateTime<chrono::Utc>,
    pub published_at: chrono::DateTime<chrono::Utc>,
}

impl SandboxAdapter {
    pub fn new(outbox: PathBuf, clock: Arc<dyn Clock>) -> Self {
        Self { outbox, clock }
    }

    fn path(&self, request: &PublishRequest<'_>) -> PathBuf {
        self.outbox.join(format!("{}.json", request.delivery.id))
    }

    fn published(entry: &OutboxEntry, path: &std::path::Path) -> Published {
        Published {
            platform_post_id: format!("sandbox-{}", entry.delivery_id),
            url: Some(format!("file://{}", path.display())),
            published_at: Some(entry.published_at),
        }
    }
}

impl SandboxAdapter {
    /// Appends one line to `<outbox>/published.log`.
    async fn append_log(&self, line: &str) -> Result<(), PublishError> {
        let (log, line) = (self.outbox.join("published.log"), line.to_owned());
        blocking(move || append_line(&log, &line)).await
    }

    /// The whole publication, on the calling (blocking-pool) thread: one trip to the pool per
    /// delivery, not one per file call (seven), which is what a burst of thousands due in the
    /// same second waited on. The flag: written now (`false`: published before, the file exists).
    fn write_outbox(&self, mut entry: OutboxEntry, path: &std::path::Path) -> Result<(OutboxEntry, bool), PublishError> {
        // The same delivery twice is the same file: publishing is idempotent.
        if let Some(existing) = read_entry(path)? {
            return Ok((existing, false));
        }
        std::fs::create_dir_all(&self.outbox).map_err(|e| io_error("folder", e))?;
        entry.published_at = self.clock.now();
        let body = serde_json::to_vec_pretty(&entry).map_err(|e| PublishError::Permanent { reason: e.to_string() })?;
        // Write then rename, so a reader never sees half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, body).map_err(|e| io_error("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io_error("rename", e))?;
        let line = format!("{} {} {}\n", entry.published_at.to_rfc3339(), entry.delivery_id, entry.channel_id);
        append_line(&self.outbox.join("published.log"), &line)?;
        Ok((entry, true))
    }
}

/// Appends `line` with one `write` on a file opened to append: lines written at the same time
/// by several threads never interleave.
fn append_line(log: &std::path::Path, line: &str) -> Result<(), PublishError> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(|e| io_error("log", e))?;
    file.write_all(line.as_bytes()).map_err(|e| io_error("log", e))
}

/// The outbox entry at `path`, if there is one.
fn read_entry(path: &std::path::Path) -> Result<Option<OutboxEntry>, PublishError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PublishError::Permanent { reason: format!("sandbox outbox file unreadable: {e}") }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("read", e)),
    }
}

/// Runs file calls on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, PublishError> + Send + 'static) -> Result<T, PublishError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(PublishError::Transient { reason: format!("sandbox outbox: {e}"), retry_after: None }))
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
    PublishError::Transient { reason: format!("sandbox outbox {what}: {e}"), retry_after: None }
}

#[async_trait]
impl PlatformAdapter for SandboxAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        simulated_failure(request.credentials)?;
        let entry = OutboxEntry {
            delivery_id: request.delivery.id.to_string(),
            post_id: request.delivery.post_id.to_string(),
            channel_id: request.channel.id.to_string(),
            channel_name: request.channel.name.as_str().to_owned(),
            text: request.text.to_owned(),
            media: request.media.iter().map(|m| m.url.clone()).collect(),
            scheduled_for: request.delivery.publish_at,
            // Stamped when it is written.
            published_at: self.clock.now(),
        };
        let path = self.path(request);
        let this = Self { outbox: self.outbox.clone(), clock: Arc::clone(&self.clock) };
        let target = path.clone();
        let (entry, new) = blocking(move || this.write_outbox(entry, &target)).await?;
        if new && let Some(ms) = request.credentials.get("ack_delay_ms").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(Self::published(&entry, &path))
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
        let path = self.path(request);
        let target = path.clone();
        Ok(blocking(move || read_entry(&target)).await?.map(|entry| Self::published(&entry, &path)))
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

/// A reply, as written to `<outbox>/reply-<interaction id>-<hash>.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReplyEntry {
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
        let path = self.outbox.join(format!("reply-{}-{digest}.json", to.id));
        let published = |entry: &ReplyEntry| Published {
            platform_post_id: format!("sandbox-reply-{}-{digest}", entry.interaction_id),
            url: Some(format!("file://{}", path.display())),
            published_at: Some(entry.published_at),
        };
        // The same reply twice is the same file.
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let entry: ReplyEntry = serde_json::from_slice(&bytes)
                    .map_err(|e| PublishError::Permanent { reason: format!("sandbox reply file unreadable: {e}") })?;
                return Ok(published(&entry));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("read", e)),
        }
        tokio::fs::create_dir_all(&self.outbox).await.map_err(|e| io_error("folder", e))?;
        let entry = ReplyEntry {
            interaction_id: to.id.to_string(),
            channel_id: channel.id.to_string(),
            channel_name: channel.name.as_str().to_owned(),
            in_reply_to: to.external_id.clone(),
            thread_id: to.thread_id.clone(),
            text: text.to_owned(),
            published_at: self.clock.now(),
        };
        let body = serde_json::to_vec_pretty(&entry).map_err(|e| PublishError::Permanent { reason: e.to_string() })?;
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, body).await.map_err(|e| io_error("write", e))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| io_error("rename", e))?;
        self.append_log(&format!(
            "{} reply-{}-{digest} {}\n",
            entry.published_at.to_rfc3339(),
            entry.interaction_id,
            entry.channel_id
        ))
        .await?;
        Ok(published(&entry))
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
        let path = first.url.as_deref().unwrap().strip_prefix("file://").unwrap().to_owned();
        let entry: ReplyEntry = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!((entry.in_reply_to.as_str(), entry.text.as_str()), ("sandbox-002-bob", "Oui, dès 8 h"));
        sandbox.reply(&cafe, &none, &to, "Autre réponse").await.unwrap();
        let log = std::fs::read_to_string(outbox.join("published.log")).unwrap();
        assert_eq!(log.lines().count(), 2, "{log}");
        assert!(log.lines().all(|l| l.contains(&format!("reply-{}", to.id))), "{log}");
        let failing = creds(json!({"fail_with": "transient"}));
        assert!(matches!(sandbox.reply(&cafe, &failing, &to, "x").await, Err(PublishError::Transient { .. })));
    }
}
