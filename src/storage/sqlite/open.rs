//! Opening the database: the schema, connection options, recovering the current and compacted
//! revisions, and starting the writer task.

use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::AtomicI64;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::ConnectOptions;
use tokio::sync::{broadcast, mpsc};

use super::writer::writer_loop;
use super::{Result, Shared, SqliteStorage};

/// Queued writes waiting for the writer task.
const WRITE_QUEUE: usize = 4096;
/// Committed batches a watcher may fall behind before it gets an error.
const EVENT_CHANNEL: usize = 4096;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS kv (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name BLOB NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS kv_name_id ON kv (name, id)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
];

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and starts its writer task.
    pub async fn open(path: &Path) -> Result<SqliteStorage> {
        Self::open_with_event_capacity(path, EVENT_CHANNEL).await
    }

    /// Like [`SqliteStorage::open`] with `capacity` committed batches buffered for watchers.
    pub(super) async fn open_with_event_capacity(
        path: &Path,
        capacity: usize,
    ) -> Result<SqliteStorage> {
        let opts = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(1));

        let mut writer = opts.connect().await?;
        for stmt in SCHEMA {
            sqlx::query(stmt).execute(&mut writer).await?;
        }
        let current: i64 = sqlx::query_scalar(
            "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'kv'), 0),
                        COALESCE((SELECT MAX(id) FROM kv), 0))",
        )
        .fetch_one(&mut writer)
        .await?;
        let compacted: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT value FROM meta WHERE key = 'compacted'), 0)",
        )
        .fetch_one(&mut writer)
        .await?;

        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(opts)
            .await?;

        let (events, _) = broadcast::channel(capacity);
        let shared = Arc::new(Shared {
            current: AtomicI64::new(current),
            compacted: AtomicI64::new(compacted),
            events,
        });
        let (writes, rx) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(writer_loop(writer, rx, shared.clone()));
        tracing::info!(path = %path.display(), current, compacted, "opened sqlite storage");
        Ok(SqliteStorage {
            pool,
            writes,
            shared,
        })
    }
}
