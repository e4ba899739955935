//! The watch cache: every object under `/registry/` held in memory as its JSON (with
//! `resourceVersion` set) plus its labels, fed by one storage watch, so that LIST and WATCH are
//! served without touching storage. Objects stay encoded: a decoded `serde_json::Value` costs
//! about nine times its JSON, and JSON watchers and lists write the bytes as they are.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use parking_lot::RwLock;
use serde_json::{Map, Value};
use tokio::sync::{broadcast, watch};

use crate::storage::{Event, KeyValue, Revision, SharedStorage, StorageError};

/// A receiver of live cache events.
pub type EventReceiver = broadcast::Receiver<Arc<CacheEvent>>;

/// The root every cached key lives under.
pub const ROOT: &str = "/registry/";

/// How many recent events are kept for watches that resume from a resourceVersion.
const EVENT_HISTORY: usize = 50_000;
/// At most this many bytes of objects are kept in the event history; older events are dropped
/// first (a watch from before them gets 410 Gone and relists, as from upstream's watch cache).
const EVENT_HISTORY_BYTES: usize = 64 << 20;

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted.
    Deleted,
}

impl EventType {
    /// The watch event type as written on the wire.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One cached object: its JSON, its namespace and its labels (what label selectors read).
#[derive(Debug)]
pub struct Cached {
    raw: Bytes,
    namespace: Box<str>,
    labels: Option<Box<Map<String, Value>>>,
}

impl Cached {
    /// Encodes `v` (which carries its `resourceVersion`).
    pub fn from_value(v: &Value) -> Cached {
        let raw = Bytes::from(serde_json::to_vec(v).unwrap_or_default());
        let labels = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .map(|m| Box::new(m.clone()));
        let namespace = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into();
        Cached {
            raw,
            namespace,
            labels,
        }
    }

    /// The object's namespace (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The object's JSON.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The object, decoded (a fresh copy each call).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }

    /// The object's labels, if it has any.
    pub fn labels(&self) -> Option<&Map<String, Value>> {
        self.labels.as_deref()
    }

    /// The object as a `PartialObjectMetadata` of meta.k8s.io `version`, written from its JSON
    /// without decoding the rest of it.
    pub fn partial_metadata(&self, version: &str) -> Vec<u8> {
        #[derive(serde::Deserialize)]
        struct MetaOnly<'a> {
            #[serde(borrow)]
            metadata: Option<&'a serde_json::value::RawValue>,
        }
        let meta = serde_json::from_slice::<MetaOnly>(&self.raw)
            .ok()
            .and_then(|m| m.metadata)
            .map_or("{}", |m| m.get());
        let mut out = Vec::with_capacity(meta.len() + 80);
        out.extend_from_slice(b"{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":");
        let _ = serde_json::to_writer(&mut out, &format!("meta.k8s.io/{version}"));
        out.extend_from_slice(b",\"metadata\":");
        out.extend_from_slice(meta.as_bytes());
        out.push(b'}');
        out
    }

    /// Memory the object holds (for bounding the event history).
    pub fn size(&self) -> usize {
        self.raw.len() + self.labels.as_ref().map_or(0, |l| l.len() * 64)
    }
}

/// One change to a cached object.
#[derive(Clone, Debug)]
pub struct CacheEvent {
    /// What happened.
    pub kind: EventType,
    /// Storage key of the object.
    pub key: String,
    /// The object after the change (for deletes: its last state, with the delete's revision).
    pub object: Arc<Cached>,
    /// The object before the change, if it existed.
    pub prev: Option<Arc<Cached>>,
    /// Revision of the change.
    pub revision: Revision,
}

struct State {
    objects: BTreeMap<String, Arc<Cached>>,
    revision: Revision,
    history: VecDeque<Arc<CacheEvent>>,
    /// Sum of the sizes of the objects in `history`.
    history_bytes: usize,
    /// Events with a revision greater than this are all in `history`.
    history_floor: Revision,
}

/// The in-memory copy of the store, kept current by a storage watch.
pub struct WatchCache {
    state: RwLock<State>,
    events: broadcast::Sender<Arc<CacheEvent>>,
    revision_tx: watch::Sender<Revision>,
    storage: SharedStorage,
}

/// Decodes a stored value into an object with `metadata.resourceVersion` set.
pub fn decode(value: &[u8], revision: Revision) -> Option<Value> {
    let mut v: Value = serde_json::from_slice(value).ok()?;
    set_resource_version(&mut v, revision);
    Some(v)
}

/// Sets `metadata.resourceVersion` to `revision`.
pub fn set_resource_version(v: &mut Value, revision: Revision) {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert(
            "resourceVersion".into(),
            Value::String(revision.to_string()),
        );
    }
}

/// A consistent copy of the objects under a prefix.
pub struct Snapshot {
    /// Objects in key order.
    pub items: Vec<(String, Arc<Cached>)>,
    /// The cache revision the snapshot was taken at.
    pub revision: Revision,
}

impl Snapshot {
    /// The objects, decoded, in key order (for the small collections admission and the
    /// controllers inside the API server read).
    pub fn values(&self) -> Vec<Value> {
        self.items.iter().map(|(_, c)| c.value()).collect()
    }
}

impl WatchCache {
    /// Loads every object and starts following the storage.
    pub async fn start(storage: SharedStorage) -> Result<Arc<WatchCache>, StorageError> {
        let (events, _) = broadcast::channel(16_384);
        let (revision_tx, _) = watch::channel(0);
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                history: VecDeque::new(),
                history_bytes: 0,
                history_floor: 0,
            }),
            events,
            revision_tx,
            storage,
        });
        let rev = cache.reload().await?;
        let c = cache.clone();
        tokio::spawn(async move { c.follow(rev).await });
        Ok(cache)
    }

    async fn reload(&self) -> Result<Revision, StorageError> {
        let mut objects = BTreeMap::new();
        let mut start: Option<String> = None;
        let mut revision = 0;
        loop {
            let page = self
                .storage
                .range(ROOT, start.as_deref(), revision, 10_000)
                .await?;
            revision = page.revision;
            for kv in &page.kvs {
                if let Some(v) = decode(&kv.value, kv.mod_revision) {
                    objects.insert(kv.key.clone(), Arc::new(Cached::from_value(&v)));
                }
            }
            match (page.more, page.kvs.last()) {
                (true, Some(last)) => start = Some(format!("{}\0", last.key)),
                _ => break,
            }
        }
        let mut st = self.state.write();
        st.objects = objects;
        st.revision = revision;
        st.history.clear();
        st.history_bytes = 0;
        st.history_floor = revision;
        drop(st);
        self.revision_tx.send_replace(revision);
        Ok(revision)
    }

    async fn follow(self: Arc<Self>, mut from: Revision) {
        loop {
            match self.storage.watch(ROOT, from).await {
                Ok(mut stream) => {
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(ev) => {
                                from = ev.revision();
                                self.apply(ev);
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "watch cache lost its storage watch");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "watch cache could not watch storage"),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            match self.reload().await {
                Ok(rev) => from = rev,
                Err(e) => tracing::warn!(error = %e, "watch cache reload failed"),
            }
        }
    }

    fn apply(&self, ev: Event) {
        let revision = ev.revision();
        // Encoded before the lock is taken.
        let put = match &ev {
            Event::Put { kv, .. } => decode(&kv.value, kv.mod_revision)
                .as_ref()
                .map(|v| Arc::new(Cached::from_value(v))),
            Event::Delete { .. } => None,
        };
        let mut st = self.state.write();
        let cache_event = match ev {
            Event::Put { kv, .. } => {
                let Some(obj) = put else {
                    tracing::warn!(key = %kv.key, "undecodable object in storage");
                    st.revision = revision;
                    return;
                };
                let prev = st.objects.insert(kv.key.clone(), obj.clone());
                CacheEvent {
                    kind: if prev.is_some() {
                        EventType::Modified
                    } else {
                        EventType::Added
                    },
                    key: kv.key,
                    object: obj,
                    prev,
                    revision,
                }
            }
            Event::Delete { prev, revision } => {
                let old = st.objects.remove(&prev.key);
                let last = old
                    .as_deref()
                    .map(Cached::value)
                    .filter(|v| !v.is_null())
                    .or_else(|| decode(&prev.value, prev.mod_revision));
                let Some(mut last) = last else {
                    st.revision = revision;
                    return;
                };
                set_resource_version(&mut last, revision);
                CacheEvent {
                    kind: EventType::Deleted,
                    key: prev.key,
                    object: Arc::new(Cached::from_value(&last)),
                    prev: old,
                    revision,
                }
            }
        };
        let ev = Arc::new(cache_event);
        st.revision = revision;
        st.history_bytes += ev.object.size();
        st.history.push_back(ev.clone());
        while st.history.len() > EVENT_HISTORY || st.history_bytes > EVENT_HISTORY_BYTES {
            let Some(e) = st.history.pop_front() else {
                break;
            };
            st.history_bytes -= e.object.size();
            st.history_floor = e.revision;
        }
        // Sent under the lock so that subscribers see a gap-free sequence.
        let _ = self.events.send(ev);
        drop(st);
        self.revision_tx.send_replace(revision);
    }

    /// Drops event history at or below `revision` (after the storage compacted it), so watches
    /// from there get 410 as they would from storage.
    pub fn compact(&self, revision: Revision) {
        let mut st = self.state.write();
        while st.history.front().is_some_and(|e| e.revision <= revision) {
            if let Some(e) = st.history.pop_front() {
                st.history_bytes -= e.object.size();
            }
        }
        st.history_floor = st.history_floor.max(revision);
    }

    /// The newest revision the cache has applied.
    pub fn revision(&self) -> Revision {
        self.state.read().revision
    }

    /// Waits until the cache has applied `revision` (or `timeout` passes; returns false then).
    pub async fn wait_for(&self, revision: Revision, timeout: Duration) -> bool {
        let mut rx = self.revision_tx.subscribe();
        let ok = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision)).await,
            Ok(Ok(_))
        );
        ok
    }

    /// Waits until the cache has caught up with the storage's current revision.
    pub async fn sync(&self) -> Result<Revision, StorageError> {
        let current = self.storage.current_revision().await?;
        if !self.wait_for(current, Duration::from_secs(3)).await {
            return Err(StorageError::Backend(format!(
                "watch cache did not reach revision {current} in time"
            )));
        }
        Ok(self.revision())
    }

    /// The objects under `prefix` from key `start` (inclusive) on.
    pub fn snapshot(&self, prefix: &str, start: Option<&str>) -> Snapshot {
        let st = self.state.read();
        let from = start.unwrap_or(prefix).to_string();
        let items = st
            .objects
            .range(from..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Snapshot {
            items,
            revision: st.revision,
        }
    }

    /// One cached object, encoded.
    pub fn get_cached(&self, key: &str) -> Option<Arc<Cached>> {
        self.state.read().objects.get(key).cloned()
    }

    /// One cached object, decoded.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.get_cached(key).map(|c| c.value())
    }

    /// Events under `prefix` after `after`, then live ones. `Err(floor)` when `after` is older than
    /// the history kept.
    pub fn watch(
        &self,
        prefix: &str,
        after: Revision,
    ) -> Result<(Vec<Arc<CacheEvent>>, EventReceiver), Revision> {
        let st = self.state.read();
        if after < st.history_floor {
            return Err(st.history_floor);
        }
        let backlog = st
            .history
            .iter()
            .filter(|e| e.revision > after && e.key.starts_with(prefix))
            .cloned()
            .collect();
        let rx = self.events.subscribe();
        Ok((backlog, rx))
    }

    /// The current state under `prefix` and a receiver of every later event.
    pub fn list_and_watch(&self, prefix: &str) -> (Snapshot, broadcast::Receiver<Arc<CacheEvent>>) {
        let st = self.state.read();
        let items = st
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rx = self.events.subscribe();
        (
            Snapshot {
                items,
                revision: st.revision,
            },
            rx,
        )
    }
}

/// Builds a stored key-value's object (used where the cache is bypassed).
pub fn decode_kv(kv: &KeyValue) -> Option<Value> {
    decode(&kv.value, kv.mod_revision)
}
