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

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{PlatformAdapter, PublishError, PublishRequest, Published};
use crate::clock::Clock;

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
    async fn log_publication(&self, entry: &OutboxEntry) -> Result<(), PublishError> {
        use tokio::io::AsyncWriteExt;
        let line = format!("{} {} {}\n", entry.published_at.to_rfc3339(), entry.delivery_id, entry.channel_id);
        let mut log = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.outbox.join("published.log"))
            .await
            .map_err(|e| io_error("log", e))?;
        log.write_all(line.as_bytes()).await.map_err(|e| io_error("log", e))
    }
}

fn io_error(what: &str, e: std::io::Error) -> PublishError {
    PublishError::Transient { reason: format!("sandbox outbox {what}: {e}"), retry_after: None }
}

#[async_trait]
impl PlatformAdapter for SandboxAdapter {
    async fn publish(&self, request: &PublishRequest<'_>) -> Result<Published, PublishError> {
        match request.credentials.get("fail_with") {
            Some("transient") => {
                return Err(PublishError::Transient { reason: "sandbox: simulated outage".into(), retry_after: None });
            }
            Some("permanent") => return Err(PublishError::Permanent { reason: "sandbox: simulated refusal".into() }),
            Some("auth") => return Err(PublishError::Auth { reason: "token expired (sandbox simulation)".into() }),
            _ => {}
        }
        // The same delivery twice is the same file: publishing is idempotent.
        if let Some(existing) = self.find_published(request).await? {
            return Ok(existing);
        }
        tokio::fs::create_dir_all(&self.outbox).await.map_err(|e| io_error("folder", e))?;
        let entry = OutboxEntry {
            delivery_id: request.delivery.id.to_string(),
            post_id: request.delivery.post_id.to_string(),
            channel_id: request.channel.id.to_string(),
            channel_name: request.channel.name.as_str().to_owned(),
            text: request.text.to_owned(),
            media: request.media.iter().map(|m| m.url.clone()).collect(),
            scheduled_for: request.delivery.publish_at,
            published_at: self.clock.now(),
        };
        let body = serde_json::to_vec_pretty(&entry).map_err(|e| PublishError::Permanent { reason: e.to_string() })?;
        // Write then rename, so a reader never sees half a file.
        let path = self.path(request);
        let tmp = path.with_extension("json.tmp");
        tokio::fs::write(&tmp, body).await.map_err(|e| io_error("write", e))?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| io_error("rename", e))?;
        self.log_publication(&entry).await?;
        if let Some(ms) = request.credentials.get("ack_delay_ms").and_then(|v| v.parse::<u64>().ok()) {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        Ok(Self::published(&entry, &path))
    }

    async fn find_published(&self, request: &PublishRequest<'_>) -> Result<Option<Published>, PublishError> {
        let path = self.path(request);
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let entry: OutboxEntry = serde_json::from_slice(&bytes)
                    .map_err(|e| PublishError::Permanent { reason: format!("sandbox outbox file unreadable: {e}") })?;
                Ok(Some(Self::published(&entry, &path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", e)),
        }
    }
}
