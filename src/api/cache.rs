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
/// At most this many bytes of objects (and their previous states) are kept in the event history; older events are dropped
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

/// One cached object: its JSON (LZ4-compressed: a pod's JSON shrinks to less than half, which
/// counts with tens of thousands of cached objects, and decompresses in a few microseconds), its
/// namespace and its labels (what label selectors read).
#[derive(Debug)]
pub struct Cached {
    packed: Box<[u8]>,
    namespace: Box<str>,
    labels: CompactLabels,
}

/// An object's labels as one boxed slice of pairs, sorted by key: a fraction of the memory of a
/// JSON map, which counts with tens of thousands of cached objects.
#[derive(Debug, Default)]
pub struct CompactLabels(Box<[(Box<str>, Box<str>)]>);

impl CompactLabels {
    /// The string-valued labels of `map`.
    pub fn from_map(map: &Map<String, Value>) -> CompactLabels {
        let mut pairs: Vec<(Box<str>, Box<str>)> = map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().into(), v.as_str()?.into())))
            .collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        CompactLabels(pairs.into_boxed_slice())
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Bytes the labels hold.
    fn size(&self) -> usize {
        self.0
            .iter()
            .map(|(k, v)| k.len() + v.len() + 32)
            .sum::<usize>()
    }
}

impl crate::selectors::Labels for CompactLabels {
    fn label(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }
}

impl Cached {
    /// Encodes `v` (which carries its `resourceVersion`).
    pub fn from_value(v: &Value) -> Cached {
        let json = serde_json::to_vec(v).unwrap_or_default();
        // A boxed slice: no unused capacity carried by tens of thousands of cached objects.
        let packed = lz4_flex::compress_prepend_size(&json).into_boxed_slice();
        let labels = v
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(CompactLabels::from_map)
            .unwrap_or_default();
        let namespace = v
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .into();
        Cached {
            packed,
            namespace,
            labels,
        }
    }

    /// The object's namespace (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The object's JSON (decompressed on each call).
    pub fn json(&self) -> Bytes {
        lz4_flex::decompress_size_prepended(&self.packed)
            .map(Bytes::from)
            .unwrap_or_default()
    }

    /// Length of the object's JSON, without decompressing it.
    pub fn json_len(&self) -> usize {
        self.packed
            .first_chunk::<4>()
            .map_or(0, |n| u32::from_le_bytes(*n) as usize)
    }

    /// The object, decoded (a fresh copy each call).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json()).unwrap_or(Value::Null)
    }

    /// The object's labels.
    pub fn labels(&self) -> &CompactLabels {
        &self.labels
    }

    /// The object as a `PartialObjectMetadata` of meta.k8s.io `version`, written from its JSON
    /// without decoding the rest of it.
    pub fn partial_metadata(&self, version: &str) -> Vec<u8> {
        #[derive(serde::Deserialize)]
        struct MetaOnly<'a> {
            #[serde(borrow)]
            metadata: Option<&'a serde_json::value::RawValue>,
        }
        let json = self.json();
        let meta = serde_json::from_slice::<MetaOnly>(&json)
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
        self.packed.len() + self.namespace.len() + self.labels.size()
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

impl CacheEvent {
    /// Memory the event keeps alive: the object and its previous state (counted even when a
    /// newer event shares them, so the history bound is an upper bound).
    fn size(&self) -> usize {
        self.object.size() + self.prev.as_ref().map_or(0, |p| p.size())
    }
}

struct State {
    objects: BTreeMap<String, Arc<Cached>>,
    revision: Revision,
    history: VecDeque<Arc<CacheEvent>>,
    /// Sum of the sizes of the objects in `history`.
    history_bytes: usize,
    /// Events with a revision greater than this are all in `history`.
    history_floor: Revision,
    /// Live events, one channel per watched prefix (a watcher only wakes for its own keys).
    channels: Vec<(String, broadcast::Sender<Arc<CacheEvent>>)>,
}

/// Live events a channel holds for a slow watcher; one that falls further behind catches up
/// from the event history (the channel's slots keep old versions alive, so it stays small).
const CHANNEL_CAPACITY: usize = 1024;

impl State {
    /// A receiver of the live events under `prefix`.
    fn subscribe(&mut self, prefix: &str) -> EventReceiver {
        if let Some((_, tx)) = self.channels.iter().find(|(p, _)| p == prefix) {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(CHANNEL_CAPACITY);
        self.channels.push((prefix.to_string(), tx));
        rx
    }

    /// Hands `ev` to the channels whose prefix it falls under, dropping channels nobody
    /// listens to any more.
    fn publish(&mut self, ev: &Arc<CacheEvent>) {
        self.channels.retain(|(prefix, tx)| {
            !ev.key.starts_with(prefix.as_str()) || tx.send(ev.clone()).is_ok()
        });
    }
}

/// The in-memory copy of the store, kept current by a storage watch.
pub struct WatchCache {
    state: RwLock<State>,
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
        let (revision_tx, _) = watch::channel(0);
        let cache = Arc::new(WatchCache {
            state: RwLock::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                history: VecDeque::new(),
                history_bytes: 0,
                history_floor: 0,
                channels: Vec::new(),
            }),
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
        st.history_bytes += ev.size();
        st.history.push_back(ev.clone());
        while st.history.len() > EVENT_HISTORY || st.history_bytes > EVENT_HISTORY_BYTES {
            let Some(e) = st.history.pop_front() else {
                break;
            };
            st.history_bytes -= e.size();
            st.history_floor = e.revision;
        }
        // Sent under the lock so that subscribers see a gap-free sequence.
        st.publish(&ev);
        drop(st);
        self.revision_tx.send_replace(revision);
    }

    /// Drops event history at or below `revision` (after the storage compacted it), so watches
    /// from there get 410 as they would from storage.
    pub fn compact(&self, revision: Revision) {
        let mut st = self.state.write();
        while st.history.front().is_some_and(|e| e.revision <= revision) {
            if let Some(e) = st.history.pop_front() {
                st.history_bytes -= e.size();
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

    /// The objects under `prefix` from `start` on as they were at `revision`, rebuilt from the
    /// current objects by undoing the newer events; `None` when the event history does not reach
    /// back that far (or `revision` is in the future). Serves continue tokens and exact-revision
    /// lists without touching storage, as upstream's watch cache does.
    pub fn snapshot_at(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
    ) -> Option<Snapshot> {
        let st = self.state.read();
        if revision < st.history_floor || revision > st.revision {
            return None;
        }
        let from = start.unwrap_or(prefix);
        let in_range = |k: &str| k.starts_with(prefix) && k >= from;
        let mut objects: BTreeMap<&str, Arc<Cached>> = st
            .objects
            .range(from.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        for ev in st
            .history
            .iter()
            .rev()
            .take_while(|e| e.revision > revision)
        {
            if !in_range(&ev.key) {
                continue;
            }
            match &ev.prev {
                Some(prev) => {
                    objects.insert(ev.key.as_str(), prev.clone());
                }
                None => {
                    objects.remove(ev.key.as_str());
                }
            }
        }
        Some(Snapshot {
            items: objects
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            revision,
        })
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
        let mut st = self.state.write();
        if after < st.history_floor {
            return Err(st.history_floor);
        }
        let backlog = st
            .history
            .iter()
            .filter(|e| e.revision > after && e.key.starts_with(prefix))
            .cloned()
            .collect();
        let rx = st.subscribe(prefix);
        Ok((backlog, rx))
    }

    /// A receiver of the live events under `prefix` ([`ROOT`] for all of them).
    pub fn subscribe(&self, prefix: &str) -> EventReceiver {
        self.state.write().subscribe(prefix)
    }

    /// The current state under `prefix` and a receiver of every later event under it.
    pub fn list_and_watch(&self, prefix: &str) -> (Snapshot, EventReceiver) {
        let mut st = self.state.write();
        let items = st
            .objects
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let rx = st.subscribe(prefix);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::SqliteStorage;

    fn obj(name: &str, v: u32) -> Bytes {
        Bytes::from(format!(r#"{{"metadata":{{"name":"{name}"}},"v":{v}}}"#))
    }

    fn names_and_values(snap: &Snapshot) -> Vec<(String, u64)> {
        snap.values()
            .into_iter()
            .map(|v| {
                let name = v["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                (name, v["v"].as_u64().unwrap_or(0))
            })
            .collect()
    }

    #[test]
    fn compact_labels_answer_selectors() {
        let v = serde_json::json!({"metadata": {"labels": {"z": "1", "app": "web", "n": 3}}});
        let c = Cached::from_value(&v);
        assert_eq!(c.labels().len(), 2, "non-string values are dropped");
        let sel = |s: &str| crate::selectors::Selector::parse(s).expect("selector");
        assert!(sel("app=web,z=1").matches(c.labels()));
        assert!(sel("app in (web,db),!n").matches(c.labels()));
        assert!(!sel("app=db").matches(c.labels()));
        assert!(!sel("missing").matches(c.labels()));
    }

    #[test]
    fn cached_objects_are_compressed_and_read_back_whole() {
        let v = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "resourceVersion": "7"},
            "spec": {"containers": (0..20).map(|i| serde_json::json!({"name": format!("c{i}"), "image": "busybox:1.35"})).collect::<Vec<_>>()},
        });
        let json = serde_json::to_vec(&v).expect("encode");
        let c = Cached::from_value(&v);
        assert_eq!(c.json(), Bytes::from(json.clone()), "same bytes back");
        assert_eq!(c.json_len(), json.len());
        assert_eq!(c.value(), v);
        assert_eq!(c.namespace(), "ns");
        assert!(
            c.size() < json.len() / 2,
            "repetitive JSON is held compressed"
        );
        let meta: Value = serde_json::from_slice(&c.partial_metadata("v1")).expect("json");
        assert_eq!(meta["kind"], "PartialObjectMetadata");
        assert_eq!(meta["metadata"]["name"], "p");
    }

    #[tokio::test]
    async fn snapshot_at_undoes_later_events() {
        let dir = tempfile::tempdir().expect("temp dir");
        let storage: SharedStorage = Arc::new(
            SqliteStorage::open(&dir.path().join("state.db"))
                .await
                .expect("open"),
        );
        let cache = WatchCache::start(storage.clone()).await.expect("cache");
        let p = "/registry/things/";
        let a = storage
            .create(&format!("{p}a"), obj("a", 1))
            .await
            .expect("a");
        storage
            .create(&format!("{p}b"), obj("b", 1))
            .await
            .expect("b");
        let r1 = storage.current_revision().await.expect("rev");
        storage
            .update(&format!("{p}a"), obj("a", 2), a.mod_revision)
            .await
            .expect("update");
        storage
            .delete(&format!("{p}b"), None)
            .await
            .expect("delete");
        storage
            .create(&format!("{p}c"), obj("c", 1))
            .await
            .expect("c");
        storage
            .create("/registry/other/x", obj("x", 1))
            .await
            .expect("x");
        let now = storage.current_revision().await.expect("rev");
        assert!(cache.wait_for(now, Duration::from_secs(3)).await);

        let then = cache.snapshot_at(p, None, r1).expect("in history");
        assert_eq!(then.revision, r1);
        assert_eq!(
            names_and_values(&then),
            vec![("a".to_string(), 1), ("b".to_string(), 1)]
        );
        let from_b = cache
            .snapshot_at(p, Some(&format!("{p}b")), r1)
            .expect("in history");
        assert_eq!(names_and_values(&from_b), vec![("b".to_string(), 1)]);
        let current = cache.snapshot_at(p, None, now).expect("current");
        assert_eq!(
            names_and_values(&current),
            vec![("a".to_string(), 2), ("c".to_string(), 1)]
        );
        assert!(
            cache.snapshot_at(p, None, now + 1).is_none(),
            "future revision"
        );
    }
}
