//! SQLite backend: a kine-like append-only log table where every write is one row whose id is the
//! revision. Writes go through one writer task that applies all queued writes in one transaction
//! (group commit, one fsync per batch); watches replay history from the table and then follow a
//! broadcast channel fed after each commit.
//!
//! `mod.rs` holds the handle and the [`Storage`] implementation; `open.rs` the schema and
//! start-up, `writer.rs` the group-commit writer task, `read.rs` point reads, ranges and counts,
//! `watch.rs` history replay and live watches.

mod open;
mod read;
mod watch;
mod writer;

use std::sync::atomic::AtomicI64;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use sqlx::SqlitePool;
use tokio::sync::{broadcast, mpsc};

use super::{Event, KeyValue, RangeResponse, Result, Revision, Storage, StorageError, WatchStream};
use writer::{Op, Outcome, WriteRequest};

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

/// A [`super::Storage`] on a local SQLite database file.
pub struct SqliteStorage {
    pool: SqlitePool,
    writes: mpsc::Sender<WriteRequest>,
    shared: Arc<Shared>,
}

#[async_trait]
impl Storage for SqliteStorage {
    async fn current_revision(&self) -> Result<Revision> {
        Ok(self.current())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        self.read_key(key).await
    }

    async fn range(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
    ) -> Result<RangeResponse> {
        self.read_range(prefix, start, revision, limit).await
    }

    async fn count(&self, prefix: &str) -> Result<i64> {
        self.read_count(prefix).await
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
        self.watch_prefix(prefix, after).await
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
    use futures::StreamExt;

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
