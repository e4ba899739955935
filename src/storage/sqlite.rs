//! SQLite backend: a kine-like append-only log table where every write is one row whose id is the
//! revision. Writes go through one writer task that applies all queued writes in one transaction
//! (group commit, one fsync per batch); watches replay history from the table and then follow a
//! broadcast channel fed after each commit.

use std::collections::VecDeque;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Event, KeyValue, RangeResponse, Result, Revision, Storage, StorageError, WatchStream};

/// Most writes applied in one transaction.
const MAX_BATCH: usize = 1024;
/// Queued writes waiting for the writer task.
const WRITE_QUEUE: usize = 4096;
/// Committed batches a watcher may fall behind before it gets an error.
const EVENT_CHANNEL: usize = 4096;
/// Rows fetched per page when replaying history for a watch.
const REPLAY_PAGE: i64 = 1000;

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

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        StorageError::Backend(format!("sqlite: {e}"))
    }
}

/// The exclusive upper bound of keys starting with `prefix` (UTF-8 never contains 0xFF, so the
/// last byte can always be incremented; the empty prefix maps to `[0xFF]`, above every key).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    match end.last_mut() {
        Some(last) => *last += 1,
        None => end.push(0xFF),
    }
    end
}

fn key_string(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| StorageError::Backend(format!("non-UTF-8 key: {e}")))
}

/// State shared by the handle and the writer task.
struct Shared {
    /// Revision of the newest committed write.
    current: AtomicI64,
    /// Compacted revision (oldest readable).
    compacted: AtomicI64,
    /// Events of each committed batch, in revision order.
    events: broadcast::Sender<Arc<Vec<Event>>>,
}

enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    Compact {
        revision: Revision,
    },
}

enum Outcome {
    Kv(KeyValue),
    Deleted(Revision, KeyValue),
    Compacted,
}

struct WriteRequest {
    op: Op,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The latest row of a key as seen by the writer.
struct Latest {
    id: Revision,
    deleted: bool,
    create_revision: Revision,
    value: Vec<u8>,
}

/// A [`super::Storage`] on a local SQLite database file.
pub struct SqliteStorage {
    pool: SqlitePool,
    writes: mpsc::Sender<WriteRequest>,
    shared: Arc<Shared>,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and starts its writer task.
    pub async fn open(path: &Path) -> Result<SqliteStorage> {
        Self::open_with_event_capacity(path, EVENT_CHANNEL).await
    }

    async fn open_with_event_capacity(path: &Path, capacity: usize) -> Result<SqliteStorage> {
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

    async fn write(&self, op: Op) -> Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| StorageError::Backend("sqlite writer task stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Backend("sqlite writer task dropped a write".into()))?
    }

    fn current(&self) -> Revision {
        self.shared.current.load(Ordering::SeqCst)
    }

    fn compacted(&self) -> Revision {
        self.shared.compacted.load(Ordering::SeqCst)
    }

    /// Resolves `revision` (0 = current) to a readable revision or the matching error.
    fn read_revision(&self, revision: Revision) -> Result<Revision> {
        let current = self.current();
        if revision <= 0 {
            return Ok(current);
        }
        if revision > current {
            return Err(StorageError::FutureRevision {
                requested: revision,
                current,
            });
        }
        let compacted = self.compacted();
        if revision < compacted {
            return Err(StorageError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(revision)
    }

    /// History events for `prefix` with revisions in `(after, upto]`, in order.
    async fn history(&self, prefix: &str, after: Revision, upto: Revision) -> Result<Vec<Event>> {
        let end = prefix_end(prefix);
        let mut events = Vec::new();
        let mut cursor = after;
        while cursor < upto {
            let rows = sqlx::query(
                "SELECT k.id, k.name, k.deleted, k.create_revision, k.prev_revision, k.value,
                        p.deleted, p.create_revision, p.value
                 FROM kv k LEFT JOIN kv p ON p.id = k.prev_revision
                 WHERE k.id > ?1 AND k.id <= ?2 AND k.name >= ?3 AND k.name < ?4
                 ORDER BY k.id LIMIT ?5",
            )
            .bind(cursor)
            .bind(upto)
            .bind(prefix.as_bytes())
            .bind(&end[..])
            .bind(REPLAY_PAGE)
            .fetch_all(&self.pool)
            .await?;
            let full = rows.len() as i64 == REPLAY_PAGE;
            for row in rows {
                let event = history_event(&row)?;
                cursor = event.revision();
                events.push(event);
            }
            if !full {
                break;
            }
        }
        Ok(events)
    }
}

fn history_event(row: &SqliteRow) -> Result<Event> {
    let id: i64 = row.try_get(0)?;
    let key = key_string(row.try_get(1)?)?;
    let deleted: bool = row.try_get(2)?;
    let create_revision: i64 = row.try_get(3)?;
    let prev_revision: i64 = row.try_get(4)?;
    let value: Vec<u8> = row.try_get(5)?;
    if deleted {
        // A tombstone stores the deleted key's last value and create revision.
        return Ok(Event::Delete {
            prev: KeyValue {
                key,
                value: Bytes::from(value),
                create_revision,
                mod_revision: prev_revision,
            },
            revision: id,
        });
    }
    let prev_deleted: Option<bool> = row.try_get(6)?;
    let prev = match prev_deleted {
        Some(false) => Some(KeyValue {
            key: key.clone(),
            value: Bytes::from(row.try_get::<Vec<u8>, _>(8)?),
            create_revision: row.try_get(7)?,
            mod_revision: prev_revision,
        }),
        _ => None,
    };
    Ok(Event::Put {
        kv: KeyValue {
            key,
            value: Bytes::from(value),
            create_revision,
            mod_revision: id,
        },
        prev,
    })
}

async fn writer_loop(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<WriteRequest>,
    shared: Arc<Shared>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let reqs = std::mem::take(&mut batch);
        let (ops, replies): (Vec<Op>, Vec<_>) = reqs.into_iter().map(|r| (r.op, r.reply)).unzip();
        match apply_batch(&mut conn, &ops, &shared).await {
            Ok(applied) => {
                if let Some(rev) = applied.events.last().map(Event::revision) {
                    shared.current.store(rev, Ordering::SeqCst);
                }
                if let Some(rev) = applied.compacted {
                    shared.compacted.store(rev, Ordering::SeqCst);
                }
                if !applied.events.is_empty() {
                    // No receivers is fine: nobody is watching.
                    let _ = shared.events.send(Arc::new(applied.events));
                }
                for (reply, result) in replies.into_iter().zip(applied.results) {
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, writes = ops.len(), "sqlite write batch failed");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
    tracing::debug!("sqlite writer task stopped");
}

struct Applied {
    results: Vec<Result<Outcome>>,
    events: Vec<Event>,
    compacted: Option<Revision>,
}

/// Applies `ops` in order in one transaction; per-op failures (conflicts) do not abort the batch.
async fn apply_batch(conn: &mut SqliteConnection, ops: &[Op], shared: &Shared) -> Result<Applied> {
    let mut tx = conn.begin().await?;
    let mut rev = shared.current.load(Ordering::SeqCst);
    let mut compacted = shared.compacted.load(Ordering::SeqCst);
    let mut applied = Applied {
        results: Vec::with_capacity(ops.len()),
        events: Vec::new(),
        compacted: None,
    };
    for op in ops {
        let result = match op {
            Op::Create { key, value } => {
                let latest = latest(&mut tx, key).await?;
                match latest {
                    Some(l) if !l.deleted => Err(StorageError::AlreadyExists(key.clone())),
                    _ => {
                        rev += 1;
                        let prev_id = latest.map(|l| l.id).unwrap_or(0);
                        insert(&mut tx, rev, key, false, rev, prev_id, value).await?;
                        let kv = KeyValue {
                            key: key.clone(),
                            value: value.clone(),
                            create_revision: rev,
                            mod_revision: rev,
                        };
                        applied.events.push(Event::Put {
                            kv: kv.clone(),
                            prev: None,
                        });
                        Ok(Outcome::Kv(kv))
                    }
                }
            }
            Op::Update {
                key,
                value,
                expected,
            } => match latest(&mut tx, key).await? {
                Some(l) if !l.deleted => {
                    if l.id != *expected {
                        Err(StorageError::Conflict {
                            key: key.clone(),
                            expected: *expected,
                            current: l.id,
                        })
                    } else {
                        rev += 1;
                        insert(&mut tx, rev, key, false, l.create_revision, l.id, value).await?;
                        let kv = KeyValue {
                            key: key.clone(),
                            value: value.clone(),
                            create_revision: l.create_revision,
                            mod_revision: rev,
                        };
                        applied.events.push(Event::Put {
                            kv: kv.clone(),
                            prev: Some(KeyValue {
                                key: key.clone(),
                                value: Bytes::from(l.value),
                                create_revision: l.create_revision,
                                mod_revision: l.id,
                            }),
                        });
                        Ok(Outcome::Kv(kv))
                    }
                }
                _ => Err(StorageError::NotFound(key.clone())),
            },
            Op::Delete { key, expected } => match latest(&mut tx, key).await? {
                Some(l) if !l.deleted => match expected {
                    Some(e) if *e != l.id => Err(StorageError::Conflict {
                        key: key.clone(),
                        expected: *e,
                        current: l.id,
                    }),
                    _ => {
                        rev += 1;
                        let value = Bytes::from(l.value);
                        insert(&mut tx, rev, key, true, l.create_revision, l.id, &value).await?;
                        let prev = KeyValue {
                            key: key.clone(),
                            value,
                            create_revision: l.create_revision,
                            mod_revision: l.id,
                        };
                        applied.events.push(Event::Delete {
                            prev: prev.clone(),
                            revision: rev,
                        });
                        Ok(Outcome::Deleted(rev, prev))
                    }
                },
                _ => Err(StorageError::NotFound(key.clone())),
            },
            Op::Compact { revision } => {
                if *revision > rev {
                    Err(StorageError::FutureRevision {
                        requested: *revision,
                        current: rev,
                    })
                } else if *revision <= compacted {
                    Err(StorageError::Compacted {
                        requested: *revision,
                        compacted,
                    })
                } else {
                    let removed = sqlx::query(
                        "DELETE FROM kv WHERE id < ?1 AND (deleted = 1 OR EXISTS (
                             SELECT 1 FROM kv n WHERE n.name = kv.name AND n.id > kv.id AND n.id <= ?1))",
                    )
                    .bind(revision)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    sqlx::query(
                        "INSERT INTO meta (key, value) VALUES ('compacted', ?1)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .bind(revision)
                    .execute(&mut *tx)
                    .await?;
                    tracing::info!(revision, removed, "compacted sqlite storage");
                    compacted = *revision;
                    applied.compacted = Some(compacted);
                    Ok(Outcome::Compacted)
                }
            }
        };
        applied.results.push(result);
    }
    tx.commit().await?;
    Ok(applied)
}

async fn latest(conn: &mut SqliteConnection, key: &str) -> Result<Option<Latest>> {
    let row = sqlx::query(
        "SELECT id, deleted, create_revision, value FROM kv WHERE name = ?1 ORDER BY id DESC LIMIT 1",
    )
    .bind(key.as_bytes())
    .fetch_optional(conn)
    .await?;
    row.map(|row| {
        Ok(Latest {
            id: row.try_get(0)?,
            deleted: row.try_get(1)?,
            create_revision: row.try_get(2)?,
            value: row.try_get(3)?,
        })
    })
    .transpose()
}

async fn insert(
    conn: &mut SqliteConnection,
    id: Revision,
    key: &str,
    deleted: bool,
    create_revision: Revision,
    prev_revision: Revision,
    value: &Bytes,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO kv (id, name, deleted, create_revision, prev_revision, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .bind(id)
    .bind(key.as_bytes())
    .bind(deleted)
    .bind(create_revision)
    .bind(prev_revision)
    .bind(value.as_ref())
    .execute(conn)
    .await?;
    Ok(())
}

fn row_kv(row: &SqliteRow) -> Result<KeyValue> {
    Ok(KeyValue {
        key: key_string(row.try_get(0)?)?,
        value: Bytes::from(row.try_get::<Vec<u8>, _>(1)?),
        create_revision: row.try_get(2)?,
        mod_revision: row.try_get(3)?,
    })
}

/// Live part of a watch: follows the broadcast channel, skipping revisions already replayed.
struct Live {
    rx: broadcast::Receiver<Arc<Vec<Event>>>,
    prefix: String,
    last: Revision,
    pending: VecDeque<Event>,
    done: bool,
}

fn live_stream(live: Live) -> WatchStream {
    Box::pin(futures::stream::unfold(live, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            match st.rx.recv().await {
                Ok(batch) => {
                    for ev in batch.iter() {
                        if ev.revision() > st.last && ev.key().starts_with(&st.prefix) {
                            st.last = ev.revision();
                            st.pending.push_back(ev.clone());
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    st.done = true;
                    tracing::warn!(prefix = %st.prefix, missed = n, "sqlite watcher lagged");
                    let err = StorageError::Backend(format!(
                        "watch on {} fell behind by {n} batches after revision {}; restart it",
                        st.prefix, st.last
                    ));
                    return Some((Err(err), st));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }))
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.current())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let row = sqlx::query(
            "SELECT name, value, create_revision, id, deleted FROM kv WHERE name = ?1
             ORDER BY id DESC LIMIT 1",
        )
        .bind(key.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) if !row.try_get::<bool, _>(4)? => Ok(Some(row_kv(&row)?)),
            _ => Ok(None),
        }
    }

    async fn range(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
    ) -> Result<RangeResponse> {
        let rev = self.read_revision(revision)?;
        let lower = match start {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let end = prefix_end(prefix);
        let fetch = if limit > 0 { limit + 1 } else { -1 };
        let rows = sqlx::query(
            "SELECT kv.name, kv.value, kv.create_revision, kv.id FROM kv
             JOIN (SELECT MAX(id) AS mid FROM kv WHERE name >= ?1 AND name < ?2 AND id <= ?3
                   GROUP BY name) AS l ON kv.id = l.mid
             WHERE kv.deleted = 0 ORDER BY kv.name LIMIT ?4",
        )
        .bind(lower.as_bytes())
        .bind(&end[..])
        .bind(rev)
        .bind(fetch)
        .fetch_all(&self.pool)
        .await?;
        let mut kvs = rows.iter().map(row_kv).collect::<Result<Vec<_>>>()?;
        let more = limit > 0 && kvs.len() as i64 > limit;
        if more {
            kvs.truncate(limit as usize);
        }
        Ok(RangeResponse {
            kvs,
            more,
            revision: rev,
        })
    }

    async fn count(&self, prefix: &str) -> Result<i64> {
        let rev = self.current();
        let end = prefix_end(prefix);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM kv
             JOIN (SELECT MAX(id) AS mid FROM kv WHERE name >= ?1 AND name < ?2 AND id <= ?3
                   GROUP BY name) AS l ON kv.id = l.mid
             WHERE kv.deleted = 0",
        )
        .bind(prefix.as_bytes())
        .bind(&end[..])
        .bind(rev)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        match self
            .write(Op::Create {
                key: key.to_string(),
                value,
            })
            .await?
        {
            Outcome::Kv(kv) => Ok(kv),
            _ => Err(StorageError::Backend("unexpected create outcome".into())),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> Result<KeyValue> {
        match self
            .write(Op::Update {
                key: key.to_string(),
                value,
                expected: expected_mod_revision,
            })
            .await?
        {
            Outcome::Kv(kv) => Ok(kv),
            _ => Err(StorageError::Backend("unexpected update outcome".into())),
        }
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(Revision, KeyValue)> {
        match self
            .write(Op::Delete {
                key: key.to_string(),
                expected: expected_mod_revision,
            })
            .await?
        {
            Outcome::Deleted(rev, prev) => Ok((rev, prev)),
            _ => Err(StorageError::Backend("unexpected delete outcome".into())),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let compacted = self.compacted();
        if after < compacted {
            return Err(StorageError::Compacted {
                requested: after,
                compacted,
            });
        }
        // Subscribe first, then replay up to a revision known to be committed; live events up to
        // that revision are skipped, so there is neither a gap nor a duplicate.
        let rx = self.shared.events.subscribe();
        let upto = self.current();
        let history = self.history(prefix, after, upto).await?;
        let live = live_stream(Live {
            rx,
            prefix: prefix.to_string(),
            last: upto.max(after),
            pending: VecDeque::new(),
            done: false,
        });
        Ok(Box::pin(
            futures::stream::iter(history.into_iter().map(Ok)).chain(live),
        ))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        match self.write(Op::Compact { revision }).await? {
            Outcome::Compacted => Ok(()),
            _ => Err(StorageError::Backend("unexpected compact outcome".into())),
        }
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        Ok(self.compacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end("/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(""), vec![0xFF]);
        assert!(b"/a/\xF4\x8F\xBF\xBF".as_slice() < prefix_end("/a/").as_slice());
        assert!(b"/ab".as_slice() >= prefix_end("/a/").as_slice());
    }

    #[tokio::test]
    async fn lagging_watcher_gets_an_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let s = SqliteStorage::open_with_event_capacity(&dir.path().join("state.db"), 2)
            .await
            .expect("open");
        let mut w = s.watch("/registry/", 0).await.expect("watch");
        for i in 0..10 {
            s.create(&format!("/registry/k{i}"), Bytes::from("v"))
                .await
                .expect("create");
        }
        match w.next().await {
            Some(Err(StorageError::Backend(msg))) => assert!(msg.contains("fell behind"), "{msg}"),
            other => panic!("expected a lag error, got {other:?}"),
        }
        assert!(w.next().await.is_none(), "the stream ends after the error");
    }
}
