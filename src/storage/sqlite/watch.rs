//! Watches: replay of history from the log table, then the live events broadcast by the writer
//! task.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;
use tokio::sync::broadcast;

use super::{
    key_string, prefix_end, Event, KeyValue, Result, Revision, SqliteStorage, StorageError,
    WatchStream,
};

/// Rows fetched per page when replaying history for a watch.
const REPLAY_PAGE: i64 = 1000;

impl SqliteStorage {
    /// Replays history of `prefix` after `after`, then follows live events ([`Storage::watch`](super::Storage::watch)).
    pub(super) async fn watch_prefix(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
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

/// The event of one history row (with its previous row joined in).
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

/// Live part of a watch: follows the broadcast channel, skipping revisions already replayed.
struct Live {
    rx: broadcast::Receiver<Arc<Vec<Event>>>,
    prefix: String,
    last: Revision,
    pending: VecDeque<Event>,
    done: bool,
}

/// The live part of a watch as a stream.
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
