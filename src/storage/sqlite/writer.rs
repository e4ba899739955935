//! The writer task: every write goes through one task that applies all queued writes in one
//! transaction (group commit, one fsync per batch) and broadcasts the committed events.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row};
use tokio::sync::{mpsc, oneshot};

use super::{Event, KeyValue, Result, Revision, Shared, SqliteStorage, StorageError};

/// Most writes applied in one transaction.
const MAX_BATCH: usize = 1024;

/// A write for the writer task.
pub(super) enum Op {
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

/// The result of an applied [`Op`].
pub(super) enum Outcome {
    Kv(KeyValue),
    Deleted(Revision, KeyValue),
    Compacted,
}

/// A queued write and where to send its outcome.
pub(super) struct WriteRequest {
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

impl SqliteStorage {
    /// Queues `op` for the writer task and waits for its outcome.
    pub(super) async fn write(&self, op: Op) -> Result<Outcome> {
        let (reply, rx) = oneshot::channel();
        self.writes
            .send(WriteRequest { op, reply })
            .await
            .map_err(|_| StorageError::Backend("sqlite writer task stopped".into()))?;
        rx.await
            .map_err(|_| StorageError::Backend("sqlite writer task dropped a write".into()))?
    }
}

/// The writer task: applies queued writes in batches of up to [`MAX_BATCH`], one transaction
/// each, then publishes the new revisions and the batch's events.
pub(super) async fn writer_loop(
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
