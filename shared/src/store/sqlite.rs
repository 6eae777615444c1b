//! The embedded store: one SQLite file (or `:memory:` in tests), migrations applied at open.
//!
//! Each table keeps the entity as JSON in `body` plus the columns its access patterns filter
//! and sort on (see docs/data-model.md). rusqlite is blocking, so every call runs on tokio's
//! blocking pool behind one connection mutex: SQLite serialises writers anyway, and a single
//! connection makes conditional updates (claims) trivially atomic.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    ApiKeyStore, BucketCounts, CounterStore, PeopleStore, ChannelStore, Cursor, ErasureStore, InboxQuery, IncidentStore, InteractionStore,
    MAX_EXAMINED_PER_PAGE, MetricStore, Page, PageRequest, PostStore, RawEventStore, ReportStore, StateStore,
    StoreError, StoreResult, TeamStore, Versioned,
};
use crate::domain::{
    ApiKey, ApiKeyId, Email, Member, MemberId, OneTimeToken, Session, Channel, ChannelId, Delivery, DeliveryId, ErasedEvent, Incident, Interaction, InteractionId, KeyHash,
    MetricRollup, MetricSnapshot, MetricSubject, Platform, Post, PostId, RawEvent, RawEventId, Report, ReportId, Team, TeamId,
    sortable_instant,
};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran. Databases
/// created before the first version lost its `seen_events` table (a dedupe port nothing called)
/// still have it, empty and unread; it is harmless, so no version drops it.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE teams (
    id    TEXT PRIMARY KEY,
    body  TEXT NOT NULL
);
CREATE TABLE api_keys (
    hash     TEXT PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    team_id  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX api_keys_team ON api_keys (team_id, id);
CREATE TABLE channels (
    id       TEXT PRIMARY KEY,
    team_id  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX channels_team ON channels (team_id, id);
CREATE TABLE posts (
    id       TEXT PRIMARY KEY,
    team_id  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    post_id     TEXT NOT NULL REFERENCES posts (id),
    team_id     TEXT NOT NULL,
    publish_at  TEXT NOT NULL,
    due_at      TEXT,
    version     INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX deliveries_post ON deliveries (post_id);
CREATE INDEX deliveries_calendar ON deliveries (team_id, publish_at, id);
CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE due_at IS NOT NULL;
CREATE TABLE interactions (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    thread_id   TEXT NOT NULL,
    platform    TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX interactions_inbox ON interactions (team_id, status, created_at, id);
CREATE INDEX interactions_thread ON interactions (team_id, channel_id, thread_id, created_at);
CREATE INDEX interactions_author ON interactions (team_id, platform, author_id, created_at, id);
CREATE TABLE metric_snapshots (
    team_id     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    taken_at    TEXT NOT NULL,
    expires_at  INTEGER,
    body        TEXT NOT NULL,
    PRIMARY KEY (team_id, subject, taken_at)
);
CREATE TABLE reports (
    id          TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX reports_team ON reports (team_id, created_at, id);
"#, r#"
CREATE TABLE calendar_tokens (
    hash     TEXT PRIMARY KEY,
    team_id  TEXT NOT NULL UNIQUE
);
"#, r#"
CREATE TABLE raw_events (
    id           TEXT PRIMARY KEY,
    channel_id   TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX raw_events_channel ON raw_events (channel_id, received_at, id);
CREATE INDEX raw_events_expiry ON raw_events (expires_at);
CREATE TABLE state (
    key      TEXT PRIMARY KEY,
    version  INTEGER NOT NULL,
    value    TEXT NOT NULL
);
CREATE TABLE incidents (
    id         TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL,
    opened_at  TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX incidents_team ON incidents (team_id, opened_at, id);
"#, r#"
CREATE TABLE metric_rollups (
    team_id   TEXT NOT NULL,
    day       TEXT NOT NULL,
    subject   TEXT NOT NULL,
    taken_at  TEXT NOT NULL,
    body      TEXT NOT NULL,
    PRIMARY KEY (team_id, day, subject)
);
"#, r#"
CREATE TABLE erased_events (
    fingerprint  TEXT PRIMARY KEY,
    expires_at   INTEGER NOT NULL,
    body         TEXT NOT NULL
);
"#, r#"
CREATE TABLE members (
    id       TEXT PRIMARY KEY,
    email    TEXT NOT NULL UNIQUE,
    team_id  TEXT NOT NULL,
    body     TEXT NOT NULL
);
CREATE INDEX members_team ON members (team_id, id);
CREATE TABLE links (
    hash        TEXT PRIMARY KEY,
    expires_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX sessions_member ON sessions (member_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE TABLE attempts (
    key         TEXT PRIMARY KEY,
    count       INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
"#, r#"
CREATE TABLE counters (
    series        TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    interactions  INTEGER NOT NULL,
    negatives     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    PRIMARY KEY (series, bucket)
) WITHOUT ROWID;
"#];

#[derive(Clone)]
pub struct SqliteStore {
    /// The one connection that writes (SQLite has one writer at a time anyway), used by the
    /// writer thread ([`write_loop`]) and by reads when no reader is idle.
    conn: Arc<Mutex<Connection>>,
    /// Writes, queued for the writer thread, which commits what queued together at once.
    writes: std::sync::mpsc::Sender<WriteJob>,
    /// Read-only connections to the same file, idle ones on the stack: in WAL mode they read
    /// the last committed state while the writer writes, so reads (a webhook's channel, team
    /// and erasure lookups, the API's key) do not queue behind writes. Empty in memory.
    readers: Arc<Mutex<Vec<Connection>>>,
}

/// Read-only connections a file-backed store keeps: as many as the blocking pool will usefully
/// run at once on a small machine; when all are busy a read takes the writer's connection.
const READERS: usize = 4;

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date. On Unix
    /// the file is its owner's alone (`0600`), and so are the `-wal` and `-shm` files beside it:
    /// SQLite creates them with the database file's mode, and ones left by an older Herald are
    /// tightened here.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<Self> {
        let path = path.as_ref();
        #[cfg(unix)]
        make_private(path).map_err(StoreError::backend)?;
        let conn = Connection::open(path).map_err(StoreError::backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(StoreError::backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(StoreError::backend)?;
        // Checkpoints are not made by the writer (inline, fsync included, in whichever commit
        // crossed 1,000 pages, while every write waited) but by a thread of their own.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(StoreError::backend)?;
        let store = Self::init(conn)?;
        let checkpointer = Connection::open(path).map_err(StoreError::backend)?;
        checkpointer.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::backend)?;
        let alive = Arc::downgrade(&store.readers);
        std::thread::Builder::new()
            .name("herald-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &alive))
            .map_err(StoreError::backend)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(StoreError::backend)?;
            reader.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::backend)?;
            reader.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
            readers.push(reader);
        }
        *store.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = readers;
        Ok(store)
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory().map_err(StoreError::backend)?)
    }

    fn init(mut conn: Connection) -> StoreResult<Self> {
        conn.pragma_update(None, "foreign_keys", "ON").map_err(StoreError::backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(StoreError::backend)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn)?;
        let conn = Arc::new(Mutex::new(conn));
        let (writes, queue) = std::sync::mpsc::channel();
        let writer = Arc::clone(&conn);
        // Ends when the last clone of the store is dropped (the queue's senders with it).
        std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || write_loop(&writer, &queue))
            .map_err(StoreError::backend)?;
        Ok(Self { conn, writes, readers: Arc::default() })
    }

    /// Runs `f`, which only reads, on the blocking pool with an idle read-only connection (the
    /// writer's when none is idle, or in memory).
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (conn, readers) = (Arc::clone(&self.conn), Arc::clone(&self.readers));
        tokio::task::spawn_blocking(move || match on_idle_reader(&readers, f) {
            Ok(result) => result,
            Err(f) => f(&conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())),
        })
        .await
        .map_err(StoreError::backend)?
    }

    /// Runs `f`, a lookup by key (microseconds), right here on an idle read-only connection;
    /// as [`read`](Self::read) when none is idle or in memory. A webhook makes several such
    /// lookups, and a hop to the blocking pool and back costs more than the lookup: the profile
    /// of the webhook bench was a third thread wake-ups. WAL readers never wait for the writer
    /// (checkpoints are passive), so this does not block the async thread beyond the lookup.
    async fn lookup<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        match on_idle_reader(&self.readers, f) {
            Ok(result) => result,
            Err(f) => self.read(f).await,
        }
    }

    /// Runs `f`, which writes, on the writer thread, and answers once what it wrote is
    /// committed. Writes queued together share one transaction (group commit, [`write_loop`]).
    async fn with<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |committed| {
                let _ = answer.send(committed.and(result));
            });
            (ok, deliver)
        });
        self.writes.send(job).map_err(|_| StoreError::Backend("the SQLite writer thread has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Backend("the SQLite writer dropped a write (it panicked)".into()))?
    }
}

/// How often the checkpoint thread copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// The checkpoint thread: every [`CHECKPOINT_EVERY`], a passive checkpoint on its own
/// connection, which copies what the WAL holds into the database file (and syncs it) alongside
/// the writer and the readers instead of stopping them; SQLite then writes the WAL from its
/// start again. Ends with the store (`alive` is a weak handle to it).
fn checkpoint_loop(conn: &Connection, alive: &std::sync::Weak<Mutex<Vec<Connection>>>) {
    while alive.strong_count() > 0 {
        std::thread::sleep(CHECKPOINT_EVERY);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "SQLite checkpoint failed; trying again");
        }
    }
}

/// One write for the writer thread: runs on the connection, says whether it succeeded, and
/// gives back how to answer its caller once the transaction it ran in is settled.
type WriteJob = Box<dyn FnOnce(&mut Connection) -> (bool, Deliver) + Send>;

/// Answers a write's caller: `Ok(())` when its transaction committed, the commit's error if not.
type Deliver = Box<dyn FnOnce(StoreResult<()>) + Send>;

/// Most writes committed in one transaction.
const MAX_GROUP: usize = 256;

/// The writer thread: takes the next write, and with it every write queued meanwhile (up to
/// [`MAX_GROUP`]), and runs them in one transaction, each inside its own savepoint, so one that
/// fails is rolled back alone and the others commit. Callers are answered only after the
/// commit: a stored webhook is answered 200 once it is in the database file, as before. One
/// commit a group instead of one a write is what lets intake's three inserts a delivery keep up
/// with thousands of deliveries a second: each commit appends every page it changed to the
/// WAL, and a group changes most pages (an index's last leaf) once. With nothing queued a write
/// runs alone, in its own transaction, and waits for nobody: there is no batching delay.
fn write_loop(conn: &Mutex<Connection>, queue: &std::sync::mpsc::Receiver<WriteJob>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut c = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if group.len() == 1 || c.execute_batch("BEGIN IMMEDIATE").is_err() {
            // Alone, or no transaction to share: each write commits on its own.
            for job in group {
                if let Some((_, deliver)) = run_job(&mut c, job) {
                    deliver(Ok(()));
                }
            }
            continue;
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            if c.execute_batch("SAVEPOINT write").is_err() {
                // Cannot isolate it: keep it out of the group (its caller gets an error).
                drop(job);
                continue;
            }
            let ran = run_job(&mut c, job);
            let kept = match &ran {
                Some((true, _)) => c.execute_batch("RELEASE write").is_ok(),
                _ => false,
            };
            if !kept && c.execute_batch("ROLLBACK TO write; RELEASE write").is_err() {
                // The savepoint is gone with the transaction: what ran so far is undone below.
                answers.extend(ran.map(|(_, deliver)| deliver));
                break;
            }
            answers.extend(ran.map(|(_, deliver)| deliver));
        }
        let committed = c.execute_batch("COMMIT").map_err(db);
        if committed.is_err() {
            let _ = c.execute_batch("ROLLBACK");
        }
        drop(c);
        for deliver in answers {
            deliver(committed.as_ref().map(drop).map_err(|e| StoreError::Backend(e.to_string().into())));
        }
    }
}

/// Runs one write, a panic included: a panicking write is `None` (its caller's answer is
/// dropped, which it reads as an error) and the writer thread goes on.
fn run_job(c: &mut Connection, job: WriteJob) -> Option<(bool, Deliver)> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(c))).ok()
}

/// Runs `f` on an idle read-only connection, which goes back on the stack after; `Err(f)`
/// untouched when none is idle.
fn on_idle_reader<T, F: FnOnce(&Connection) -> T>(readers: &Mutex<Vec<Connection>>, f: F) -> Result<T, F> {
    let Some(reader) = readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop() else {
        return Err(f);
    };
    let result = f(&reader);
    readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(reader);
    Ok(result)
}

/// Creates the database file empty when it is missing (SQLite takes an empty file for an empty
/// database), and makes it, its `-wal` and its `-shm`, where they exist, `0600`.
#[cfg(unix)]
fn make_private(db: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o600).open(db)?;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = db.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        .map_err(StoreError::backend)?
        .try_into()
        .unwrap_or(0);
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {applied} is newer than this Herald ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(StoreError::backend)?;
        tx.execute_batch(sql).map_err(StoreError::backend)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(StoreError::backend)?;
        tx.commit().map_err(StoreError::backend)?;
    }
    Ok(())
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::backend(e)
}

fn to_json<T: Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Reads the JSON `body` column of every row of a query.
fn bodies<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let rows = stmt.query_map(params, |r| r.get::<_, String>(0)).map_err(db)?;
    rows.map(|r| r.map_err(db).and_then(|b| from_json(&b))).collect()
}

fn one_body<T: DeserializeOwned>(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<Option<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, |r| r.get::<_, String>(0)))
        .optional()
        .map_err(db)?
        .map(|b| from_json(&b))
        .transpose()
}

/// `execute` through the connection's statement cache: each statement is parsed once per
/// connection, not once per call (parsing was a visible share of a webhook's time).
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// Statements each connection keeps prepared: every statement of this file fits.
const STATEMENT_CACHE: usize = 128;

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

/// Insert that maps a key collision to [`StoreError::AlreadyExists`].
fn insert(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<()> {
    match exec(conn, sql, params) {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::AlreadyExists),
        Err(e) => Err(db(e)),
    }
}

fn changed_one(n: usize) -> StoreResult<()> {
    if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Keyset pagination over `(sort, id)`: the cursor is the last row's position.
type Position = (String, String);

/// Takes one extra row to know whether a next page exists.
fn paginate<T>(mut rows: Vec<(Position, T)>, limit: u32) -> Page<T> {
    let next = if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(|(pos, _)| Cursor::encode(pos))
    } else {
        None
    };
    Page { items: rows.into_iter().map(|(_, t)| t).collect(), next }
}

fn positioned<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<(Position, T)>> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let rows = stmt
        .query_map(params, |r| Ok(((r.get::<_, String>(0)?, r.get::<_, String>(1)?), r.get::<_, String>(2)?)))
        .map_err(db)?;
    rows.map(|r| {
        let (pos, body) = r.map_err(db)?;
        Ok((pos, from_json(&body)?))
    })
    .collect()
}

fn start_after(page: &PageRequest) -> StoreResult<Option<Position>> {
    page.cursor.as_deref().map(Cursor::decode::<Position>).transpose()
}

fn subject_key(subject: &MetricSubject) -> String {
    match subject {
        MetricSubject::Delivery { delivery_id, .. } => format!("D#{delivery_id}"),
        MetricSubject::Channel { channel_id } => format!("C#{channel_id}"),
    }
}

fn write_delivery(tx: &Connection, d: &Delivery) -> StoreResult<()> {
    insert(
        tx,
        "INSERT INTO deliveries (id, post_id, team_id, publish_at, due_at, version, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            d.id.to_string(),
            d.post_id.to_string(),
            d.team_id.as_str(),
            sortable_instant(d.publish_at),
            d.due_at().map(sortable_instant),
            d.version as i64,
            to_json(d)?,
        ],
    )
}

#[async_trait]
impl TeamStore for SqliteStore {
    async fn create_team(&self, team: &Team) -> StoreResult<()> {
        let (id, body) = (team.id.to_string(), to_json(team)?);
        let token = team.calendar_token_hash.as_ref().map(|h| h.as_str().to_owned());
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            insert(&tx, "INSERT INTO teams (id, body) VALUES (?1, ?2)", params![id, body])?;
            set_calendar_token(&tx, &id, token.as_deref())?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_team(&self, id: &TeamId) -> StoreResult<Option<Team>> {
        let id = id.to_string();
        self.lookup(move |c| one_body(c, "SELECT body FROM teams WHERE id = ?1", [id])).await
    }

    async fn update_team(&self, team: &Team) -> StoreResult<Team> {
        let next = Team { version: team.version.checked_add(1).ok_or(StoreError::Conflict)?, ..team.clone() };
        let (id, body, expected) = (team.id.to_string(), to_json(&next)?, team.version);
        let token = team.calendar_token_hash.as_ref().map(|h| h.as_str().to_owned());
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            let stored: Team = one_body(&tx, "SELECT body FROM teams WHERE id = ?1", [&id])?.ok_or(StoreError::NotFound)?;
            if stored.version != expected {
                return Err(StoreError::Conflict);
            }
            changed_one(exec(&tx, "UPDATE teams SET body = ?2 WHERE id = ?1", params![id, body]).map_err(db)?)?;
            set_calendar_token(&tx, &id, token.as_deref())?;
            tx.commit().map_err(db)
        })
        .await?;
        Ok(next)
    }

    async fn list_teams(&self) -> StoreResult<Vec<Team>> {
        self.read(|c| bodies(c, "SELECT body FROM teams ORDER BY id", [])).await
    }

    async fn team_by_calendar_token(&self, hash: &KeyHash) -> StoreResult<Option<Team>> {
        let hash = hash.as_str().to_owned();
        self.lookup(move |c| {
            one_body(
                c,
                "SELECT t.body FROM calendar_tokens k JOIN teams t ON t.id = k.team_id WHERE k.hash = ?1",
                [hash],
            )
        })
        .await
    }
}

/// Makes `hash` the team's only calendar token (none when `None`).
fn set_calendar_token(tx: &Connection, team: &str, hash: Option<&str>) -> StoreResult<()> {
    exec(tx, "DELETE FROM calendar_tokens WHERE team_id = ?1", [team]).map_err(db)?;
    if let Some(hash) = hash {
        insert(tx, "INSERT INTO calendar_tokens (hash, team_id) VALUES (?1, ?2)", params![hash, team])?;
    }
    Ok(())
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn put_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let (hash, id, team, body) = (key.hash.as_str().to_owned(), key.id.to_string(), key.team_id.to_string(), to_json(key)?);
        self.with(move |c| {
            exec(c, 
                "INSERT INTO api_keys (hash, id, team_id, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (hash) DO UPDATE SET body = excluded.body",
                params![hash, id, team, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn api_key_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<ApiKey>> {
        let hash = hash.as_str().to_owned();
        self.lookup(move |c| one_body(c, "SELECT body FROM api_keys WHERE hash = ?1", [hash])).await
    }

    async fn list_api_keys(&self, team: &TeamId) -> StoreResult<Vec<ApiKey>> {
        let team = team.to_string();
        self.read(move |c| bodies(c, "SELECT body FROM api_keys WHERE team_id = ?1 ORDER BY id", [team])).await
    }

    async fn delete_api_key(&self, team: &TeamId, id: ApiKeyId) -> StoreResult<()> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| {
            changed_one(exec(c, "DELETE FROM api_keys WHERE team_id = ?1 AND id = ?2", [team, id]).map_err(db)?)
        })
        .await
    }
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()> {
        let (id, team, body) = (channel.id.to_string(), channel.team_id.to_string(), to_json(channel)?);
        self.with(move |c| {
            insert(c, "INSERT INTO channels (id, team_id, body) VALUES (?1, ?2, ?3)", params![id, team, body])
        })
        .await
    }

    async fn get_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<Option<Channel>> {
        let (team, id) = (team.to_string(), id.to_string());
        self.lookup(move |c| one_body(c, "SELECT body FROM channels WHERE id = ?1 AND team_id = ?2", [id, team]))
            .await
    }

    async fn channel_by_id(&self, id: ChannelId) -> StoreResult<Option<Channel>> {
        let id = id.to_string();
        self.lookup(move |c| one_body(c, "SELECT body FROM channels WHERE id = ?1", [id])).await
    }

    async fn channels_on(&self, platform: Platform) -> StoreResult<Vec<Channel>> {
        let all: Vec<Channel> = self.read(|c| bodies(c, "SELECT body FROM channels ORDER BY id", [])).await?;
        Ok(all.into_iter().filter(|c| c.platform == platform).collect())
    }

    async fn list_channels(&self, team: &TeamId) -> StoreResult<Vec<Channel>> {
        let team = team.to_string();
        self.read(move |c| bodies(c, "SELECT body FROM channels WHERE team_id = ?1 ORDER BY id", [team])).await
    }

    async fn update_channel(&self, channel: &Channel) -> StoreResult<()> {
        let (id, team, body) = (channel.id.to_string(), channel.team_id.to_string(), to_json(channel)?);
        self.with(move |c| {
            changed_one(
                exec(c, "UPDATE channels SET body = ?3 WHERE id = ?1 AND team_id = ?2", params![id, team, body])
                    .map_err(db)?,
            )
        })
        .await
    }

    async fn delete_channel(&self, team: &TeamId, id: ChannelId) -> StoreResult<()> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| {
            changed_one(exec(c, "DELETE FROM channels WHERE id = ?1 AND team_id = ?2", [id, team]).map_err(db)?)
        })
        .await
    }
}

#[async_trait]
impl PostStore for SqliteStore {
    async fn create_post(&self, post: &Post, deliveries: &[Delivery]) -> StoreResult<()> {
        let (id, team, body) = (post.id.to_string(), post.team_id.to_string(), to_json(post)?);
        let deliveries = deliveries.to_vec();
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            insert(&tx, "INSERT INTO posts (id, team_id, body) VALUES (?1, ?2, ?3)", params![id, team, body])?;
            for d in &deliveries {
                write_delivery(&tx, d)?;
            }
            tx.commit().map_err(db)
        })
        .await
    }

    async fn get_post(&self, team: &TeamId, id: PostId) -> StoreResult<Option<Post>> {
        let (team, id) = (team.to_string(), id.to_string());
        self.lookup(move |c| one_body(c, "SELECT body FROM posts WHERE id = ?1 AND team_id = ?2", [id, team])).await
    }

    async fn update_post(&self, post: &Post) -> StoreResult<Post> {
        let next = Post { version: post.version.checked_add(1).ok_or(StoreError::Conflict)?, ..post.clone() };
        let (id, team, body, expected) = (post.id.to_string(), post.team_id.to_string(), to_json(&next)?, post.version);
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            let stored: Post = one_body(&tx, "SELECT body FROM posts WHERE id = ?1 AND team_id = ?2", [&id, &team])?
                .ok_or(StoreError::NotFound)?;
            if stored.version != expected {
                return Err(StoreError::Conflict);
            }
            changed_one(
                exec(&tx, "UPDATE posts SET body = ?3 WHERE id = ?1 AND team_id = ?2", params![id, team, body])
                    .map_err(db)?,
            )?;
            tx.commit().map_err(db)
        })
        .await?;
        Ok(next)
    }

    async fn deliveries_of_post(&self, team: &TeamId, post: PostId) -> StoreResult<Vec<Delivery>> {
        let (team, post) = (team.to_string(), post.to_string());
        self.read(move |c| {
            bodies(c, "SELECT body FROM deliveries WHERE post_id = ?1 AND team_id = ?2 ORDER BY id", [post, team])
        })
        .await
    }

    async fn get_delivery(&self, team: &TeamId, post: PostId, id: DeliveryId) -> StoreResult<Option<Delivery>> {
        let (team, post, id) = (team.to_string(), post.to_string(), id.to_string());
        self.lookup(move |c| {
            one_body(
                c,
                "SELECT body FROM deliveries WHERE id = ?1 AND post_id = ?2 AND team_id = ?3",
                [id, post, team],
            )
        })
        .await
    }

    async fn update_delivery(&self, delivery: &Delivery) -> StoreResult<Delivery> {
        let mut next = delivery.clone();
        next.version += 1;
        let body = to_json(&next)?;
        let (id, expected) = (next.id.to_string(), delivery.version as i64);
        let (publish_at, due_at, version) =
            (sortable_instant(next.publish_at), next.due_at().map(sortable_instant), next.version as i64);
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE deliveries SET publish_at = ?3, due_at = ?4, version = ?5, body = ?6
                     WHERE id = ?1 AND version = ?2",
                    params![id, expected, publish_at, due_at, version, body],
                )
                .map_err(db)?;
            if n == 0 { Err(StoreError::Conflict) } else { Ok(next) }
        })
        .await
    }

    /// One transaction for the whole batch: a burst of claims costs one commit (one WAL write)
    /// and one trip to the blocking pool, not one of each per delivery.
    async fn update_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<Vec<StoreResult<Delivery>>> {
        let rows = deliveries
            .iter()
            .map(|d| {
                let mut next = d.clone();
                next.version = d.version.checked_add(1).ok_or(StoreError::Conflict)?;
                let body = to_json(&next)?;
                let columns = (
                    next.id.to_string(),
                    d.version as i64,
                    sortable_instant(next.publish_at),
                    next.due_at().map(sortable_instant),
                    next.version as i64,
                    body,
                );
                Ok((next, columns))
            })
            .collect::<Vec<StoreResult<_>>>();
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            let mut written = Vec::with_capacity(rows.len());
            {
                let mut update = tx
                    .prepare_cached(
                        "UPDATE deliveries SET publish_at = ?3, due_at = ?4, version = ?5, body = ?6
                         WHERE id = ?1 AND version = ?2",
                    )
                    .map_err(db)?;
                for row in rows {
                    let (next, (id, expected, publish_at, due_at, version, body)) = match row {
                        Ok(row) => row,
                        Err(e) => {
                            written.push(Err(e));
                            continue;
                        }
                    };
                    // A failing statement fails the batch: nothing is committed.
                    let n = update.execute(params![id, expected, publish_at, due_at, version, body]).map_err(db)?;
                    written.push(if n == 0 { Err(StoreError::Conflict) } else { Ok(next) });
                }
            }
            tx.commit().map_err(db)?;
            Ok(written)
        })
        .await
    }

    async fn calendar(
        &self,
        team: &TeamId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<Delivery>> {
        let limit = page.effective_limit();
        let (after_t, after_id) = start_after(page)?.unwrap_or_default();
        let (team, from, to) = (team.to_string(), sortable_instant(from), sortable_instant(to));
        self.read(move |c| {
            let rows = positioned(
                c,
                "SELECT publish_at, id, body FROM deliveries
                 WHERE team_id = ?1 AND publish_at >= ?2 AND publish_at < ?3 AND (publish_at, id) > (?4, ?5)
                 ORDER BY publish_at, id LIMIT ?6",
                params![team, from, to, after_t, after_id, limit + 1],
            )?;
            Ok(paginate(rows, limit))
        })
        .await
    }

    async fn due_deliveries(&self, until: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Delivery>> {
        let until = sortable_instant(until);
        self.read(move |c| {
            bodies(
                c,
                "SELECT body FROM deliveries WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
                params![until, limit],
            )
        })
        .await
    }
}

fn interaction_columns(i: &Interaction) -> StoreResult<[String; 9]> {
    Ok([
        i.id.to_string(),
        i.team_id.to_string(),
        i.status.as_str().to_owned(),
        sortable_instant(i.created_at),
        i.channel_id.to_string(),
        i.thread_id.clone(),
        i.platform.as_str().to_owned(),
        i.author_id.clone(),
        to_json(i)?,
    ])
}

#[async_trait]
impl InteractionStore for SqliteStore {
    async fn create_interaction(&self, interaction: &Interaction) -> StoreResult<()> {
        let cols = interaction_columns(interaction)?;
        self.with(move |c| {
            insert(
                c,
                "INSERT INTO interactions (id, team_id, status, created_at, channel_id, thread_id, platform, author_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                cols,
            )
        })
        .await
    }

    async fn get_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<Option<Interaction>> {
        let (team, id) = (team.to_string(), id.to_string());
        self.lookup(move |c| one_body(c, "SELECT body FROM interactions WHERE id = ?1 AND team_id = ?2", [id, team]))
            .await
    }

    async fn update_interaction(&self, interaction: &Interaction) -> StoreResult<()> {
        let cols = interaction_columns(interaction)?;
        self.with(move |c| {
            changed_one(
                exec(c, 
                    "UPDATE interactions SET status = ?3, created_at = ?4, channel_id = ?5, thread_id = ?6,
                         platform = ?7, author_id = ?8, body = ?9
                     WHERE id = ?1 AND team_id = ?2",
                    cols,
                )
                .map_err(db)?,
            )
        })
        .await
    }

    async fn inbox(&self, team: &TeamId, query: &InboxQuery, page: &PageRequest) -> StoreResult<Page<Interaction>> {
        let limit = page.effective_limit();
        // Newest first: the cursor is the last (created_at, id) examined; the next page is below it.
        let (mut before_t, mut before_id) = start_after(page)?.unwrap_or_else(|| ("~".into(), String::new()));
        let team = team.to_string();
        let status = query.status.as_str();
        let from = query.from.map(sortable_instant).unwrap_or_default();
        let to = query.to.map(sortable_instant).unwrap_or_else(|| "~".into());
        let query = query.clone();
        self.read(move |c| {
            let mut kept: Vec<(Position, Interaction)> = Vec::new();
            let mut examined = 0usize;
            loop {
                let batch = limit + 1;
                let rows: Vec<(Position, Interaction)> = positioned(
                    c,
                    "SELECT created_at, id, body FROM interactions
                     WHERE team_id = ?1 AND status = ?2 AND created_at >= ?3 AND created_at < ?4
                       AND (created_at, id) < (?5, ?6)
                     ORDER BY created_at DESC, id DESC LIMIT ?7",
                    params![team, status, from, to, before_t, before_id, batch],
                )?;
                let exhausted = rows.len() < batch as usize;
                for (pos, item) in rows {
                    examined += 1;
                    (before_t, before_id) = pos.clone();
                    if query.matches(&item) {
                        kept.push((pos, item));
                        if kept.len() > limit as usize {
                            return Ok(paginate(kept, limit));
                        }
                    }
                    if examined >= MAX_EXAMINED_PER_PAGE {
                        // Bounded work per page: hand back what was found and where to go on.
                        let next = Some(Cursor::encode(&(before_t.clone(), before_id.clone())));
                        return Ok(Page { items: kept.into_iter().map(|(_, i)| i).collect(), next });
                    }
                }
                if exhausted {
                    return Ok(paginate(kept, limit));
                }
            }
        })
        .await
    }

    async fn thread(&self, team: &TeamId, channel: ChannelId, thread_id: &str) -> StoreResult<Vec<Interaction>> {
        let (team, channel, thread) = (team.to_string(), channel.to_string(), thread_id.to_owned());
        self.read(move |c| {
            bodies(
                c,
                "SELECT body FROM interactions WHERE team_id = ?1 AND channel_id = ?2 AND thread_id = ?3
                 ORDER BY created_at, id",
                [team, channel, thread],
            )
        })
        .await
    }

    async fn delete_interaction(&self, team: &TeamId, id: InteractionId) -> StoreResult<()> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| {
            changed_one(exec(c, "DELETE FROM interactions WHERE id = ?1 AND team_id = ?2", [id, team]).map_err(db)?)
        })
        .await
    }

    async fn by_author(
        &self,
        team: &TeamId,
        platform: Platform,
        author_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Interaction>> {
        let limit = page.effective_limit();
        let (before_t, before_id) = start_after(page)?.unwrap_or_else(|| ("~".into(), String::new()));
        let (team, author) = (team.to_string(), author_id.to_owned());
        let platform = platform.as_str();
        self.read(move |c| {
            let rows = positioned(
                c,
                "SELECT created_at, id, body FROM interactions
                 WHERE team_id = ?1 AND platform = ?2 AND author_id = ?3 AND (created_at, id) < (?4, ?5)
                 ORDER BY created_at DESC, id DESC LIMIT ?6",
                params![team, platform, author, before_t, before_id, limit + 1],
            )?;
            Ok(paginate(rows, limit))
        })
        .await
    }
}

#[async_trait]
impl RawEventStore for SqliteStore {
    async fn put_raw_event(&self, event: &RawEvent) -> StoreResult<()> {
        let (id, channel, received, expires, body) = (
            event.id.to_string(),
            event.channel_id.to_string(),
            sortable_instant(event.received_at),
            event.expires_at.timestamp(),
            to_json(event)?,
        );
        self.with(move |c| {
            exec(c, 
                "INSERT INTO raw_events (id, channel_id, received_at, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
                params![id, channel, received, expires, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn get_raw_event(&self, id: RawEventId) -> StoreResult<Option<RawEvent>> {
        let id = id.to_string();
        self.lookup(move |c| one_body(c, "SELECT body FROM raw_events WHERE id = ?1", [id])).await
    }

    async fn raw_events(
        &self,
        channel: ChannelId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        page: &PageRequest,
    ) -> StoreResult<Page<RawEvent>> {
        let limit = page.effective_limit();
        let (after_t, after_id) = start_after(page)?.unwrap_or_default();
        let (channel, from, to) = (channel.to_string(), sortable_instant(from), sortable_instant(to));
        self.read(move |c| {
            let rows = positioned(
                c,
                "SELECT received_at, id, body FROM raw_events
                 WHERE channel_id = ?1 AND received_at >= ?2 AND received_at < ?3 AND (received_at, id) > (?4, ?5)
                 ORDER BY received_at, id LIMIT ?6",
                params![channel, from, to, after_t, after_id, limit + 1],
            )?;
            Ok(paginate(rows, limit))
        })
        .await
    }

    async fn delete_raw_event(&self, id: RawEventId) -> StoreResult<()> {
        let id = id.to_string();
        self.with(move |c| exec(c, "DELETE FROM raw_events WHERE id = ?1", [id]).map(drop).map_err(db)).await
    }
}

#[async_trait]
impl PeopleStore for SqliteStore {
    async fn create_member(&self, member: &Member) -> StoreResult<()> {
        let (id, email, team, body) =
            (member.id.to_string(), member.email.as_str().to_owned(), member.team_id.to_string(), to_json(member)?);
        self.with(move |c| {
            insert(c, "INSERT INTO members (id, email, team_id, body) VALUES (?1, ?2, ?3, ?4)", params![id, email, team, body])
        })
        .await
    }

    async fn update_member(&self, member: &Member) -> StoreResult<()> {
        let (id, email, team, body) =
            (member.id.to_string(), member.email.as_str().to_owned(), member.team_id.to_string(), to_json(member)?);
        self.with(move |c| {
            changed_one(
                exec(c, 
                    "UPDATE members SET body = ?4 WHERE id = ?1 AND email = ?2 AND team_id = ?3",
                    params![id, email, team, body],
                )
                .map_err(db)?,
            )
        })
        .await
    }

    async fn member_by_email(&self, email: &Email) -> StoreResult<Option<Member>> {
        let email = email.as_str().to_owned();
        self.lookup(move |c| one_body(c, "SELECT body FROM members WHERE email = ?1", [email])).await
    }

    async fn get_member(&self, team: &TeamId, id: MemberId) -> StoreResult<Option<Member>> {
        let (team, id) = (team.to_string(), id.to_string());
        self.lookup(move |c| one_body(c, "SELECT body FROM members WHERE team_id = ?1 AND id = ?2", [team, id])).await
    }

    async fn list_members(&self, team: &TeamId) -> StoreResult<Vec<Member>> {
        let team = team.to_string();
        self.read(move |c| bodies(c, "SELECT body FROM members WHERE team_id = ?1 ORDER BY id", [team])).await
    }

    async fn delete_member(&self, team: &TeamId, id: MemberId) -> StoreResult<()> {
        let (team, id) = (team.to_string(), id.to_string());
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            changed_one(exec(&tx, "DELETE FROM members WHERE team_id = ?1 AND id = ?2", [&team, &id]).map_err(db)?)?;
            exec(&tx, "DELETE FROM sessions WHERE member_id = ?1", [&id]).map_err(db)?;
            tx.commit().map_err(db)
        })
        .await
    }

    async fn put_link(&self, link: &OneTimeToken) -> StoreResult<()> {
        let (hash, expires, body) = (link.hash.as_str().to_owned(), link.expires_at.timestamp(), to_json(link)?);
        let now = link.created_at.timestamp();
        self.with(move |c| {
            // Lapsed links are never read again: clear them as new ones come.
            exec(c, "DELETE FROM links WHERE expires_at < ?1", [now]).map_err(db)?;
            insert(c, "INSERT INTO links (hash, expires_at, body) VALUES (?1, ?2, ?3)", params![hash, expires, body])
        })
        .await
    }

    async fn link_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<OneTimeToken>> {
        let hash = hash.as_str().to_owned();
        self.lookup(move |c| one_body(c, "SELECT body FROM links WHERE hash = ?1", [hash])).await
    }

    async fn take_link(&self, hash: &KeyHash, now: DateTime<Utc>) -> StoreResult<Option<OneTimeToken>> {
        let hash = hash.as_str().to_owned();
        self.with(move |c| {
            let tx = c.savepoint().map_err(db)?;
            let link: Option<OneTimeToken> = one_body(&tx, "SELECT body FROM links WHERE hash = ?1", [&hash])?;
            let Some(link) = link.filter(|l| l.is_live(now)) else { return Ok(None) };
            changed_one(exec(&tx, "DELETE FROM links WHERE hash = ?1", [&hash]).map_err(db)?)?;
            tx.commit().map_err(db)?;
            Ok(Some(link))
        })
        .await
    }

    async fn put_session(&self, session: &Session) -> StoreResult<()> {
        let (hash, member, expires, body) =
            (session.hash.as_str().to_owned(), session.member_id.to_string(), session.expires_at.timestamp(), to_json(session)?);
        let now = session.created_at.timestamp();
        self.with(move |c| {
            // SQLite has no TTL: lapsed sessions go as new ones come.
            exec(c, "DELETE FROM sessions WHERE expires_at < ?1", [now]).map_err(db)?;
            insert(
                c,
                "INSERT INTO sessions (hash, member_id, expires_at, body) VALUES (?1, ?2, ?3, ?4)",
                params![hash, member, expires, body],
            )
        })
        .await
    }

    async fn session_by_hash(&self, hash: &KeyHash) -> StoreResult<Option<Session>> {
        let hash = hash.as_str().to_owned();
        self.lookup(move |c| one_body(c, "SELECT body FROM sessions WHERE hash = ?1", [hash])).await
    }

    async fn delete_session(&self, hash: &KeyHash) -> StoreResult<()> {
        let hash = hash.as_str().to_owned();
        self.with(move |c| exec(c, "DELETE FROM sessions WHERE hash = ?1", [hash]).map(drop).map_err(db)).await
    }

    async fn delete_sessions_of(&self, member: MemberId) -> StoreResult<usize> {
        let member = member.to_string();
        self.with(move |c| exec(c, "DELETE FROM sessions WHERE member_id = ?1", [member]).map_err(db)).await
    }

    async fn take_attempt(&self, key: &str, max: u32, expires_at: DateTime<Utc>) -> StoreResult<bool> {
        let (key, expires) = (key.to_owned(), expires_at.timestamp());
        self.with(move |c| {
            let n = c
                .execute(
                    "INSERT INTO attempts (key, count, expires_at) VALUES (?1, 1, ?3)
                     ON CONFLICT (key) DO UPDATE SET count = count + 1 WHERE count < ?2",
                    params![key, i64::from(max), expires],
                )
                .map_err(db)?;
            Ok(n == 1 && max > 0)
        })
        .await
    }

    async fn give_back_attempt(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.with(move |c| {
            exec(c, "UPDATE attempts SET count = count - 1 WHERE key = ?1 AND count > 0", [key]).map(drop).map_err(db)
        })
        .await
    }
}

#[async_trait]
impl ErasureStore for SqliteStore {
    async fn put_erased_event(&self, event: &ErasedEvent) -> StoreResult<()> {
        let (fingerprint, expires, body) = (event.fingerprint.clone(), event.expires_at.timestamp(), to_json(event)?);
        self.with(move |c| {
            exec(c, 
                "INSERT INTO erased_events (fingerprint, expires_at, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (fingerprint) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body",
                params![fingerprint, expires, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn erased_event(&self, fingerprint: &str) -> StoreResult<Option<ErasedEvent>> {
        let fingerprint = fingerprint.to_owned();
        self.lookup(move |c| one_body(c, "SELECT body FROM erased_events WHERE fingerprint = ?1", [fingerprint])).await
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn get_state(&self, key: &str) -> StoreResult<Option<Versioned>> {
        let key = key.to_owned();
        self.lookup(move |c| {
            c.prepare_cached("SELECT value, version FROM state WHERE key = ?1").map_err(db)?.query_row([key], |r| {
                Ok(Versioned { value: r.get(0)?, version: r.get::<_, i64>(1)? as u64 })
            })
            .optional()
            .map_err(db)
        })
        .await
    }

    async fn put_state(&self, key: &str, value: &str, expected: Option<u64>) -> StoreResult<u64> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.with(move |c| {
            let written = match expected {
                None => match insert(c, "INSERT INTO state (key, version, value) VALUES (?1, 1, ?2)", params![key, value]) {
                    Ok(()) => 1,
                    Err(StoreError::AlreadyExists) => 0,
                    Err(e) => return Err(e),
                },
                Some(v) => c
                    .execute(
                        "UPDATE state SET value = ?2, version = version + 1 WHERE key = ?1 AND version = ?3",
                        params![key, value, v as i64],
                    )
                    .map_err(db)?,
            };
            match written {
                0 => Err(StoreError::Conflict),
                _ => Ok(expected.map_or(1, |v| v + 1)),
            }
        })
        .await
    }
}

/// SQLite has one writer at a time: an upsert that adds is atomic as it is, with no shards.
#[async_trait]
impl CounterStore for SqliteStore {
    async fn add_to_bucket(&self, series: &str, bucket: i64, add: BucketCounts, expires_at: DateTime<Utc>) -> StoreResult<()> {
        let series = series.to_owned();
        let (all, neg) = (sql_count(add.interactions), sql_count(add.negatives));
        self.with(move |c| {
            c.prepare_cached(
                "INSERT INTO counters (series, bucket, interactions, negatives, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (series, bucket) DO UPDATE SET interactions = interactions + excluded.interactions,
                     negatives = negatives + excluded.negatives, expires_at = max(expires_at, excluded.expires_at)",
            )
            .and_then(|mut stmt| stmt.execute(params![series, bucket, all, neg, expires_at.timestamp()]))
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn buckets(&self, series: &str, first: i64, last: i64) -> StoreResult<Vec<(i64, BucketCounts)>> {
        let series = series.to_owned();
        self.lookup(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT bucket, interactions, negatives FROM counters
                     WHERE series = ?1 AND bucket BETWEEN ?2 AND ?3 ORDER BY bucket",
                )
                .map_err(db)?;
            let rows = stmt
                .query_map(params![series, first, last], |r| {
                    let count = |i| r.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or(0));
                    Ok((r.get::<_, i64>(0)?, BucketCounts { interactions: count(1)?, negatives: count(2)? }))
                })
                .map_err(db)?;
            rows.map(|r| r.map_err(db)).collect()
        })
        .await
    }
}

/// A count as SQLite's integer (at most `i64::MAX`).
fn sql_count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn put_incident(&self, incident: &Incident) -> StoreResult<()> {
        let (id, team, opened, body) = (
            incident.id.to_string(),
            incident.team_id.to_string(),
            sortable_instant(incident.opened_at),
            to_json(incident)?,
        );
        self.with(move |c| {
            exec(c, 
                "INSERT INTO incidents (id, team_id, opened_at, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![id, team, opened, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn list_incidents(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Incident>> {
        let limit = page.effective_limit();
        let (before_t, before_id) = start_after(page)?.unwrap_or_else(|| ("~".into(), String::new()));
        let team = team.to_string();
        self.read(move |c| {
            let rows = positioned(
                c,
                "SELECT opened_at, id, body FROM incidents WHERE team_id = ?1 AND (opened_at, id) < (?2, ?3)
                 ORDER BY opened_at DESC, id DESC LIMIT ?4",
                params![team, before_t, before_id, limit + 1],
            )?;
            Ok(paginate(rows, limit))
        })
        .await
    }
}

#[async_trait]
impl MetricStore for SqliteStore {
    async fn put_snapshot(&self, snapshot: &MetricSnapshot) -> StoreResult<()> {
        let team = snapshot.team_id.to_string();
        let subject = subject_key(&snapshot.subject);
        let taken = sortable_instant(snapshot.taken_at);
        let expires = snapshot.expires_at.map(|t| t.timestamp());
        let body = to_json(snapshot)?;
        self.with(move |c| {
            exec(c, 
                "INSERT INTO metric_snapshots (team_id, subject, taken_at, expires_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (team_id, subject, taken_at) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body",
                params![team, subject, taken, expires, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn snapshots(
        &self,
        team: &TeamId,
        subject: &MetricSubject,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<MetricSnapshot>> {
        let (team, subject) = (team.to_string(), subject_key(subject));
        let (from, to) = (sortable_instant(from), sortable_instant(to));
        self.read(move |c| {
            bodies(
                c,
                "SELECT body FROM metric_snapshots
                 WHERE team_id = ?1 AND subject = ?2 AND taken_at >= ?3 AND taken_at < ?4 ORDER BY taken_at",
                [team, subject, from, to],
            )
        })
        .await
    }

    async fn put_rollup(&self, rollup: &MetricRollup) -> StoreResult<()> {
        let team = rollup.team_id.to_string();
        let day = rollup.day.format("%Y-%m-%d").to_string();
        let subject = subject_key(&rollup.subject);
        let taken = sortable_instant(rollup.taken_at);
        let body = to_json(rollup)?;
        self.with(move |c| {
            // Keep the day's latest snapshot: an older one arriving late changes nothing.
            exec(c, 
                "INSERT INTO metric_rollups (team_id, day, subject, taken_at, body) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (team_id, day, subject) DO UPDATE SET taken_at = excluded.taken_at, body = excluded.body
                 WHERE excluded.taken_at >= metric_rollups.taken_at",
                params![team, day, subject, taken, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn rollups(&self, team: &TeamId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<MetricRollup>> {
        let team = team.to_string();
        let (from, to) = (from.format("%Y-%m-%d").to_string(), to.format("%Y-%m-%d").to_string());
        self.read(move |c| {
            bodies(
                c,
                "SELECT body FROM metric_rollups WHERE team_id = ?1 AND day >= ?2 AND day < ?3 ORDER BY day, subject",
                [team, from, to],
            )
        })
        .await
    }
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn put_report(&self, report: &Report) -> StoreResult<()> {
        let (id, team, created, body) =
            (report.id.to_string(), report.team_id.to_string(), sortable_instant(report.created_at), to_json(report)?);
        self.with(move |c| {
            exec(c, 
                "INSERT INTO reports (id, team_id, created_at, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![id, team, created, body],
            )
            .map(drop)
            .map_err(db)
        })
        .await
    }

    async fn get_report(&self, team: &TeamId, id: ReportId) -> StoreResult<Option<Report>> {
        let (team, id) = (team.to_string(), id.to_string());
        self.lookup(move |c| one_body(c, "SELECT body FROM reports WHERE id = ?1 AND team_id = ?2", [id, team])).await
    }

    async fn list_reports(&self, team: &TeamId, page: &PageRequest) -> StoreResult<Page<Report>> {
        let limit = page.effective_limit();
        let (before_t, before_id) = start_after(page)?.unwrap_or_else(|| ("~".into(), String::new()));
        let team = team.to_string();
        self.read(move |c| {
            let rows = positioned(
                c,
                "SELECT created_at, id, body FROM reports WHERE team_id = ?1 AND (created_at, id) < (?2, ?3)
                 ORDER BY created_at DESC, id DESC LIMIT ?4",
                params![team, before_t, before_id, limit + 1],
            )?;
            Ok(paginate(rows, limit))
        })
        .await
    }
}
