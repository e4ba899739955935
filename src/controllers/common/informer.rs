//! Shared informers (client-go's `SharedInformerFactory`): one watch and one local cache per
//! resource type for all the controllers of the process, with every change handed to each
//! subscriber through its own unbounded queue (as client-go's listeners), so a slow controller
//! never makes another miss a change and objects are decoded and cached once.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource};
use parking_lot::{Mutex, RwLock};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

/// One change seen by the informer.
#[derive(Debug)]
pub enum Change<K> {
    /// The object was added or modified (it is in the store).
    Applied(Arc<K>),
    /// The object was deleted (it is no longer in the store).
    Deleted(Arc<K>),
    /// The store was (re)filled from a full list: handlers should look at every object again.
    Resync,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(o) => Change::Applied(o.clone()),
            Change::Deleted(o) => Change::Deleted(o.clone()),
            Change::Resync => Change::Resync,
        }
    }
}

/// The receiving end of one subscriber.
pub type Subscription<K> = mpsc::UnboundedReceiver<Change<K>>;

/// What an index files an object under (client-go's `IndexFunc`).
pub type IndexFn<K> = Arc<dyn Fn(&K) -> Vec<String> + Send + Sync>;

/// One index over the store: value → objects.
struct Index<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    name: &'static str,
    func: IndexFn<K>,
    map: HashMap<String, HashMap<ObjectRef<K>, Arc<K>>>,
}

impl<K> Index<K>
where
    K: Resource + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    fn insert(&mut self, obj: &Arc<K>) {
        let r = ObjectRef::from_obj(obj.as_ref());
        for v in (self.func)(obj) {
            self.map
                .entry(v)
                .or_default()
                .insert(r.clone(), obj.clone());
        }
    }

    fn remove(&mut self, obj: &K) {
        let r = ObjectRef::from_obj(obj);
        for v in (self.func)(obj) {
            if let Some(m) = self.map.get_mut(&v) {
                m.remove(&r);
                if m.is_empty() {
                    self.map.remove(&v);
                }
            }
        }
    }

    fn rebuild(&mut self, objects: &[Arc<K>]) {
        self.map.clear();
        for o in objects {
            self.insert(o);
        }
    }
}

/// The indexes of one informer; held for writing while the store and the indexes change, so a
/// reader of an index never sees it behind the store it read just before.
type Indexes<K> = Arc<RwLock<Vec<Index<K>>>>;

/// A running watch with its store and subscribers.
pub struct Informer<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    listeners: Arc<Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>>,
    synced: watch::Receiver<bool>,
    indexes: Indexes<K>,
}

impl<K: Resource + 'static> Clone for Informer<K>
where
    K::DynamicType: Eq + Hash + Clone,
{
    fn clone(&self) -> Self {
        Informer {
            store: self.store.clone(),
            listeners: self.listeners.clone(),
            synced: self.synced.clone(),
            indexes: self.indexes.clone(),
        }
    }
}

/// Waits for an informer's first full list. (`Store::wait_until_ready` wakes only one of
/// several concurrent waiters, so shared informers signal readiness themselves.)
#[derive(Clone)]
pub struct Synced(watch::Receiver<bool>);

impl Synced {
    /// Returns once the store holds a full list; `false` if the informer ended first.
    pub async fn wait(mut self) -> bool {
        self.0.wait_for(|v| *v).await.is_ok()
    }
}

/// Drops what no controller reads from cached objects (client-go's informer transforms):
/// `managedFields` (a large share of every object; only the API server uses them) and, of pods,
/// every volume but claims (`persistentVolumeClaim`, `ephemeral`) and the containers' volume
/// mounts — a typed volume takes 3 KiB whatever its source. Components that need a pod whole
/// (the kubelet) use [`Informer::spawn_whole`], which only drops `managedFields`.
fn slim<K: Resource + 'static>(mut obj: K, whole: bool) -> K {
    obj.meta_mut().managed_fields = None;
    if whole {
        return obj;
    }
    if let Some(pod) = (&mut obj as &mut dyn Any).downcast_mut::<Pod>() {
        if let Some(spec) = pod.spec.as_mut() {
            if let Some(volumes) = spec.volumes.as_mut() {
                volumes.retain(|v| v.persistent_volume_claim.is_some() || v.ephemeral.is_some());
                volumes.shrink_to_fit();
            }
            let containers = spec
                .containers
                .iter_mut()
                .chain(spec.init_containers.iter_mut().flatten());
            for c in containers {
                c.volume_mounts = None;
            }
        }
    }
    obj
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    /// Starts watching `api` with `config` in a task (pods without their volumes, see [`slim`]).
    pub fn spawn_with(api: Api<K>, config: watcher::Config) -> Informer<K> {
        Informer::spawn_inner(api, config, false)
    }

    /// As [`Informer::spawn_with`], keeping pods whole (volumes and volume mounts).
    pub fn spawn_whole(api: Api<K>, config: watcher::Config) -> Informer<K> {
        Informer::spawn_inner(api, config, true)
    }

    fn spawn_inner(api: Api<K>, config: watcher::Config, whole: bool) -> Informer<K> {
        let (store, mut writer) = reflector::store();
        let listeners: Arc<Mutex<Vec<mpsc::UnboundedSender<Change<K>>>>> = Arc::default();
        let feed = listeners.clone();
        let (synced_tx, synced) = watch::channel(false);
        let reader = store.clone();
        let indexes: Indexes<K> = Arc::default();
        let index_writer = indexes.clone();
        tokio::spawn(async move {
            let stream = watcher::watcher(api, config).default_backoff().map(|ev| {
                ev.map(|e| match e {
                    Event::Apply(o) => Event::Apply(slim(o, whole)),
                    Event::InitApply(o) => Event::InitApply(slim(o, whole)),
                    Event::Delete(o) => Event::Delete(slim(o, whole)),
                    other => other,
                })
            });
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let event = match event {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::debug!(error = %e, kind = %K::kind(&Default::default()), "informer: watch error");
                        continue;
                    }
                };
                let mut indexes = index_writer.write();
                if let Event::Apply(o) | Event::Delete(o) = &event {
                    if let Some(old) = reader.get(&ObjectRef::from_obj(o)) {
                        indexes.iter_mut().for_each(|i| i.remove(&old));
                    }
                }
                writer.apply_watcher_event(&event);
                let change = match event {
                    Event::Apply(o) => {
                        // Share the store's copy rather than keeping a second one.
                        let shared = reader
                            .get(&ObjectRef::from_obj(&o))
                            .unwrap_or_else(|| Arc::new(o));
                        indexes.iter_mut().for_each(|i| i.insert(&shared));
                        Change::Applied(shared)
                    }
                    Event::Delete(o) => Change::Deleted(Arc::new(o)),
                    Event::InitDone => {
                        let all = reader.state();
                        indexes.iter_mut().for_each(|i| i.rebuild(&all));
                        synced_tx.send_replace(true);
                        Change::Resync
                    }
                    // A (re)list fills the store at its end; subscribers then get `Resync`.
                    Event::Init | Event::InitApply(_) => continue,
                };
                drop(indexes);
                feed.lock().retain(|tx| tx.send(change.clone()).is_ok());
            }
        });
        Informer {
            store,
            listeners,
            synced,
            indexes,
        }
    }

    /// Adds an index named `name` (once; later calls with the same name keep the first).
    pub fn add_index(&self, name: &'static str, func: IndexFn<K>) {
        let mut indexes = self.indexes.write();
        if indexes.iter().any(|i| i.name == name) {
            return;
        }
        let mut index = Index {
            name,
            func,
            map: HashMap::new(),
        };
        index.rebuild(&self.store.state());
        indexes.push(index);
    }

    /// The objects filed under `value` in index `name` (empty for an unknown index).
    pub fn by_index(&self, name: &str, value: &str) -> Vec<Arc<K>> {
        self.indexes
            .read()
            .iter()
            .find(|i| i.name == name)
            .and_then(|i| i.map.get(value))
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Starts watching every object of `api`.
    pub fn spawn(api: Api<K>) -> Informer<K> {
        Self::spawn_with(api, watcher::Config::default())
    }

    /// A handle to wait for the first full list.
    pub fn synced(&self) -> Synced {
        Synced(self.synced.clone())
    }

    /// The store (empty until the first list completed; see [`Informer::synced`]).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// A feed of changes from now on; starts with [`Change::Resync`] when the store is already
    /// filled, so a late subscriber sees every object (as client-go replays adds).
    pub fn subscribe(&self) -> Subscription<K> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut listeners = self.listeners.lock();
        if *self.synced.borrow() {
            let _ = tx.send(Change::Resync);
        }
        listeners.push(tx);
        rx
    }

    /// Runs `handler(object, deleted)` in a task for every change, and for every cached object
    /// on a resync (client-go's `AddEventHandler`). Returns the store.
    pub fn handle<F>(&self, handler: F) -> Store<K>
    where
        F: Fn(&K, bool) + Send + 'static,
    {
        let mut rx = self.subscribe();
        let store = self.store.clone();
        tokio::spawn(async move {
            while let Some(change) = rx.recv().await {
                match change {
                    Change::Applied(o) => handler(&o, false),
                    Change::Deleted(o) => handler(&o, true),
                    Change::Resync => {
                        for o in store.state() {
                            handler(&o, false);
                        }
                    }
                }
            }
        });
        self.store.clone()
    }
}

/// Receives the next change; `None` when the informer ended.
pub async fn next_change<K>(rx: &mut Subscription<K>) -> Option<Change<K>> {
    rx.recv().await
}

/// One informer per resource type, made on first use and shared by every controller.
pub struct SharedInformers {
    client: Client,
    informers: Mutex<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
}

impl SharedInformers {
    /// A factory for informers using `client`.
    pub fn new(client: Client) -> Arc<SharedInformers> {
        Arc::new(SharedInformers {
            client,
            informers: Mutex::default(),
        })
    }

    /// The client the informers watch with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The informer of every `K` in the cluster, started on first use.
    pub fn get<K>(&self) -> Informer<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    {
        let mut map = self.informers.lock();
        if let Some(i) = map
            .get(&TypeId::of::<K>())
            .and_then(|b| b.downcast_ref::<Informer<K>>())
        {
            return i.clone();
        }
        let informer = Informer::spawn(Api::<K>::all(self.client.clone()));
        map.insert(TypeId::of::<K>(), Box::new(informer.clone()));
        informer
    }
}
