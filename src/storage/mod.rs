//! Storage with etcd semantics: keys under `/registry/...`, one global revision, compare-and-swap by
//! mod-revision, watch from a revision and compaction. `sqlite` and `etcd` implement [`Storage`] and pass
//! the same suite in [`suite`].

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

/// A revision of the whole store; every write bumps it by one.
pub type Revision = i64;

/// One stored key with its value and the revisions that created and last modified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, e.g. `/registry/configmaps/default/cfg`.
    pub key: String,
    /// The stored bytes (JSON for Kubernetes objects).
    pub value: Bytes,
    /// Revision of the write that created this key (since its last deletion).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
}

/// The answer to a [`Storage::range`] call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// Keys in ascending order.
    pub kvs: Vec<KeyValue>,
    /// True when the limit cut the result and more keys follow.
    pub more: bool,
    /// The revision the range was read at.
    pub revision: Revision,
}

/// A change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A key was created or updated; `kv.mod_revision` is the event's revision.
    Put {
        /// The new state.
        kv: KeyValue,
        /// The state before, when the key existed.
        prev: Option<KeyValue>,
    },
    /// A key was deleted at `revision`; `prev` is its last state.
    Delete {
        /// The last state before deletion.
        prev: KeyValue,
        /// Revision of the delete.
        revision: Revision,
    },
}

impl Event {
    /// The revision at which the event happened.
    pub fn revision(&self) -> Revision {
        match self {
            Event::Put { kv, .. } => kv.mod_revision,
            Event::Delete { revision, .. } => *revision,
        }
    }

    /// The key the event is about.
    pub fn key(&self) -> &str {
        match self {
            Event::Put { kv, .. } => &kv.key,
            Event::Delete { prev, .. } => &prev.key,
        }
    }
}

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// A create found the key already present.
    #[error("key {0} already exists")]
    AlreadyExists(String),
    /// The key does not exist.
    #[error("key {0} not found")]
    NotFound(String),
    /// A guarded write found another mod revision than expected.
    #[error("conflict on {key}: expected mod revision {expected}, found {current}")]
    Conflict {
        /// The key written.
        key: String,
        /// The mod revision the caller expected.
        expected: Revision,
        /// The mod revision found.
        current: Revision,
    },
    /// The requested revision was compacted away.
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        /// Revision asked for.
        requested: Revision,
        /// Oldest revision still available.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("required revision {requested} is a future revision (current {current})")]
    FutureRevision {
        /// Revision asked for.
        requested: Revision,
        /// Current revision.
        current: Revision,
    },
    /// Any other failure of the backend (I/O, connection, corrupt data).
    #[error("storage backend error: {0}")]
    Backend(String),
}

/// Result alias for storage calls.
pub type Result<T> = std::result::Result<T, StorageError>;

/// A stream of watch events; an `Err` item ends the stream.
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send>>;

/// The storage contract shared by the SQLite and etcd backends.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The store's current revision (the revision of the newest write).
    async fn current_revision(&self) -> Result<Revision>;

    /// The latest state of one key, if present.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Keys starting with `prefix`, from `start` (inclusive; `None` = the prefix itself) in ascending
    /// order, as of `revision` (0 = current), at most `limit` keys (0 = no limit).
    /// A compacted revision gives [`StorageError::Compacted`], a future one [`StorageError::FutureRevision`].
    async fn range(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
    ) -> Result<RangeResponse>;

    /// How many keys start with `prefix` now.
    async fn count(&self, prefix: &str) -> Result<i64>;

    /// Creates `key` if absent ([`StorageError::AlreadyExists`] otherwise); returns the stored key.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key` if its mod revision is `expected_mod_revision`
    /// ([`StorageError::Conflict`] otherwise, [`StorageError::NotFound`] when absent).
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> Result<KeyValue>;

    /// Deletes `key`, guarded by its mod revision when given; returns the delete's revision and the
    /// last state of the key.
    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(Revision, KeyValue)>;

    /// Events for keys starting with `prefix` with a revision strictly greater than `after`, in order.
    /// An `after` older than the compacted revision gives [`StorageError::Compacted`].
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// Discards history older than `revision`.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The oldest revision still readable (0 when nothing was compacted).
    async fn compacted_revision(&self) -> Result<Revision>;
}

/// A shared handle to a storage backend.
pub type SharedStorage = Arc<dyn Storage>;
