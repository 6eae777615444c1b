//! Herald on one machine: the data directory that `herald serve` and the CLI share.
//!
//! ```text
//! <data-dir>/herald.db         the SQLite store
//! <data-dir>/credentials.key   the AES-256 key sealing channel credentials (0600, made on first run)
//! <data-dir>/events.jsonl      every event (Post Published, Post Failed…), one JSON object a line
//! <data-dir>/outbox/published.jsonl  what the sandbox network "published", one JSON line each
//! <data-dir>/reports/<team>/<report id>/report.{html,csv,json}   generated reports
//! <data-dir>/media/<team>/<id>.<ext>  pictures and videos uploaded for posts
//! ```
//!
//! On Unix the directory is created `0700` and the database (with SQLite's `-wal` and `-shm`
//! beside it) and the key are `0600`: channel credentials, inbox messages and API key hashes are
//! nobody else's business on a shared machine. A data directory that already exists keeps its
//! mode (it may be one the user made on purpose), with a warning when others can enter it.

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
use crate::media::DirMediaFiles;
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
        create_private_dir(path).map_err(|source| LocalError::DataDir { path: path.display().to_string(), source })?;
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
    /// `events`, every network adapter (the sandbox writing to `outbox/`), report files
    /// under `reports/` and uploaded media under `media/`. Built once by each command and shared by everything it runs.
    pub fn ports(&self, events: Arc<dyn EventSink>) -> Result<Ports, LocalError> {
        Ok(Ports::new(self.store.clone(), Arc::new(SystemClock), self.cipher.clone())
            .with_events(events)
            .with_adapters(self.adapters()?)
            .with_report_files(Arc::new(DirReportFiles::new(self.path.clone())))
            .with_media(Arc::new(self.media_files())))
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

    /// Uploads under `media/`, with signed public links under `HERALD_PUBLIC_URL` when it is set
    /// (for the networks that fetch media themselves).
    fn media_files(&self) -> DirMediaFiles {
        let files = DirMediaFiles::new(self.path.join("media"));
        match std::env::var("HERALD_PUBLIC_URL").ok().filter(|u| !u.trim().is_empty()) {
            Some(base) => files.public_at(base.trim(), self.cipher.clone()),
            None => files,
        }
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

/// Creates `path` (and missing parents) readable by its owner only (`0700` on Unix); an existing
/// directory is left as it is, with a warning when group or others may enter it.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    let existed = path.is_dir();
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode() & 0o777;
        if existed && mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{mode:o}"),
                "the data directory can be entered by other users; `chmod 700` it to keep its files private"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = existed;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::domain::{Team, TeamId};
    use crate::store::TeamStore;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
    }

    fn team() -> Team {
        Team { language: Default::default(), logo: None, brand: Default::default(), version: 0,
            id: TeamId::parse("team", "cafe").unwrap(),
            name: "Café".into(),
            time_zone: chrono_tz::Europe::Paris,
            created_at: chrono::DateTime::UNIX_EPOCH,
            calendar_token_hash: None,
            watch_terms: vec![],
            report_schedule: Default::default(),
        }
    }

    #[tokio::test]
    async fn the_data_directory_and_the_database_are_private_to_their_owner() {
        let parent = tempfile::tempdir().unwrap();
        // Whatever the umask lets through, which is what `herald serve` meets on most machines.
        std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = parent.path().join("nested").join("herald-data");
        let dir = DataDir::open(&path).unwrap();
        // A write, so that SQLite has made its -wal and -shm files.
        dir.store.create_team(&team()).await.unwrap();
        assert_eq!(mode(&path), 0o700, "the data directory");
        for file in ["herald.db", "herald.db-wal", "herald.db-shm"] {
            assert_eq!(mode(&path.join(file)), 0o600, "{file}");
        }
        if std::env::var_os("HERALD_CREDENTIALS_KEY").is_none() {
            assert_eq!(mode(&path.join("credentials.key")), 0o600, "the credentials key stays 0600");
        }
        drop(dir);
        // Opened again (the next `herald serve`): still private, nothing loosened.
        let again = DataDir::open(&path).unwrap();
        assert!(!again.first_run);
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&path.join("herald.db")), 0o600);
    }

    #[tokio::test]
    async fn a_database_made_by_an_older_herald_is_made_private_when_opened() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("herald-data");
        {
            let dir = DataDir::open(&path).unwrap();
            dir.store.create_team(&team()).await.unwrap();
        }
        for file in ["herald.db", "herald.db-wal", "herald.db-shm"] {
            let file = path.join(file);
            if file.exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
            }
        }
        let dir = DataDir::open(&path).unwrap();
        assert!(dir.store.get_team(&team().id).await.unwrap().is_some(), "the data is still there");
        for file in ["herald.db", "herald.db-wal", "herald.db-shm"] {
            assert_eq!(mode(&path.join(file)), 0o600, "{file}");
        }
    }
}
