//! Herald on one machine: the data directory that `herald serve` and the CLI share.
//!
//! ```text
//! <data-dir>/herald.db         the SQLite store
//! <data-dir>/credentials.key   the AES-256 key sealing channel credentials (0600, made on first run)
//! <data-dir>/events.jsonl      every event (Post Published, Post Failed…), one JSON object a line
//! <data-dir>/outbox/           what the sandbox network "published", one JSON file per delivery
//! <data-dir>/reports/<team>/<report id>/report.{html,csv,json}   generated reports
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::crypto::{CredentialCipher, CryptoError};
use crate::domain::Platform;
use crate::events::{EventSink, FanoutSink, JsonLinesSink, WebhookSink};
use crate::platforms::sandbox::SandboxAdapter;
use crate::platforms::net::SwitchError;
use crate::platforms::{Adapters, NetworkPolicy, network_adapters};
use crate::ports::Ports;
use crate::services::reports::DirReportFiles;
use crate::store::StoreError;
use crate::webhooks::StandardWebhooks;
use crate::store::sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("HTTP client: {0}")]
    Http(String),
    #[error(transparent)]
    Switch(#[from] SwitchError),
}

/// An opened data directory.
pub struct DataDir {
    pub path: PathBuf,
    pub store: Arc<SqliteStore>,
    pub cipher: CredentialCipher,
    /// True when this open created the database: the first run.
    pub first_run: bool,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<Self, LocalError> {
        std::fs::create_dir_all(path)
            .map_err(|source| LocalError::DataDir { path: path.display().to_string(), source })?;
        let db = path.join("herald.db");
        let first_run = !db.exists();
        let store = Arc::new(SqliteStore::open(&db)?);
        let cipher = match std::env::var("HERALD_CREDENTIALS_KEY") {
            Ok(key) => CredentialCipher::from_base64(&key)?,
            Err(_) => CredentialCipher::load_or_create_key_file(&path.join("credentials.key"))?,
        };
        Ok(Self { path: path.to_owned(), store, cipher, first_run })
    }

    /// This machine's ports: the SQLite store, the system clock, the credentials key, events to
    /// `events`, every network adapter (the sandbox writing to `outbox/`) and report files
    /// under `reports/`. Built once by each command and shared by everything it runs.
    pub fn ports(&self, events: Arc<dyn EventSink>) -> Result<Ports, LocalError> {
        Ok(Ports::new(self.store.clone(), Arc::new(SystemClock), self.cipher.clone())
            .with_events(events)
            .with_adapters(self.adapters()?)
            .with_report_files(Arc::new(DirReportFiles::new(self.path.clone()))))
    }

    /// Every platform adapter, with the sandbox writing to `outbox/`. The networks' clients
    /// refuse private addresses unless `HERALD_ALLOW_PRIVATE_NETWORK=1` (local development,
    /// fake networks on loopback): this host is where that switch is read.
    pub fn adapters(&self) -> Result<Adapters, LocalError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sandbox = Arc::new(SandboxAdapter::new(self.outbox(), clock.clone()));
        Ok(network_adapters(clock, NetworkPolicy::from_env()?)
            .map_err(|e| LocalError::Http(e.to_string()))?
            .with(Platform::Sandbox, sandbox.clone())
            .with_inbox(Platform::Sandbox, sandbox.clone())
            .with_metrics(Platform::Sandbox, sandbox))
    }

    /// Where the sandbox network writes what it publishes.
    pub fn outbox(&self) -> PathBuf {
        self.path.join("outbox")
    }

    /// Where events go: `events.jsonl`, plus each outgoing webhook.
    pub fn event_sink(&self, webhooks: Vec<(String, StandardWebhooks)>) -> Arc<dyn EventSink> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut sinks: Vec<Arc<dyn EventSink>> = vec![Arc::new(JsonLinesSink::new(self.path.join("events.jsonl")))];
        for (url, signer) in webhooks {
            sinks.push(Arc::new(WebhookSink::new(url, signer, clock.clone())));
        }
        Arc::new(FanoutSink(sinks))
    }

}
