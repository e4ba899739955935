//! The garbage collector (upstream's `pkg/controller/garbagecollector`): monitors list and watch
//! every served resource through the API, a graph builder keeps the owner → dependents graph,
//! and a worker deletes objects whose owners are gone, finishes foreground deletions and orphans
//! dependents, all through the API as any client would.

pub mod graph;
mod worker;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::queue::WorkQueue;
use super::resources::{Resources, Served, GC_VERBS};
use graph::{Graph, ObjectRef, Observed, OwnerRef, Work};

/// How often discovery is re-run to find new resources (as upstream's GC resync period).
const RESYNC_PERIOD: Duration = Duration::from_secs(30);
/// How long workers wait for the monitors' initial lists before working anyway.
const SYNC_TIMEOUT: Duration = Duration::from_secs(15);

/// Errors of one unit of collector work (the work is retried).
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// An ownerReference names a kind the API does not serve.
    #[error("no resource serves {kind} in {api_version}")]
    UnknownKind {
        /// The reference's `apiVersion`.
        api_version: String,
        /// The reference's `kind`.
        kind: String,
    },
}

/// What monitors send to the graph builder.
enum MonitorEvent {
    Upsert(Observed),
    Delete(String),
    Relisted(String, HashSet<String>),
    Synced(String),
}

/// The garbage collector's shared state.
pub struct GarbageCollector {
    client: Client,
    resources: RwLock<Arc<Resources>>,
    graph: Mutex<Graph>,
    queue: Arc<WorkQueue<Work>>,
}

impl GarbageCollector {
    fn resources(&self) -> Arc<Resources> {
        self.resources.read().clone()
    }
}

/// Runs the garbage collector until the process ends.
pub async fn run(client: Client) {
    let resources = discover_until_ok(&client).await;
    let gc = Arc::new(GarbageCollector {
        client: client.clone(),
        resources: RwLock::new(Arc::new(resources)),
        graph: Mutex::new(Graph::default()),
        queue: WorkQueue::new(),
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let mut monitors: HashMap<String, JoinHandle<()>> = HashMap::new();
    let initial = start_monitors(&client, &gc.resources(), &mut monitors, &tx);
    let (synced_tx, mut synced_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(build_graph(gc.clone(), rx, initial, synced_tx));
    let synced = matches!(
        tokio::time::timeout(SYNC_TIMEOUT, synced_rx.wait_for(|s| *s)).await,
        Ok(Ok(_))
    );
    if !synced {
        tracing::warn!("garbage collector: not all monitors synced in time; starting anyway");
    }
    tracing::info!(
        resources = monitors.len(),
        nodes = gc.graph.lock().len(),
        "garbage collector started"
    );
    tokio::spawn(work_loop(gc.clone()));
    loop {
        tokio::time::sleep(RESYNC_PERIOD).await;
        match Resources::discover(&client).await {
            Ok(r) => {
                let r = Arc::new(r);
                *gc.resources.write() = r.clone();
                let started = start_monitors(&client, &r, &mut monitors, &tx);
                if !started.is_empty() {
                    tracing::info!(resources = ?started, "garbage collector: monitoring new resources");
                }
            }
            Err(e) => tracing::warn!(error = %e, "garbage collector: discovery failed"),
        }
    }
}

async fn discover_until_ok(client: &Client) -> Resources {
    loop {
        match Resources::discover(client).await {
            Ok(r) => return r,
            Err(e) => {
                tracing::warn!(error = %e, "garbage collector: discovery failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Upstream's `DefaultIgnoredResources`: Events are never owners nor owned in practice, and
/// there are many of them, so the graph leaves them out.
fn ignored(served: &Served) -> bool {
    served.ar.plural == "events" && matches!(served.ar.group.as_str(), "" | "events.k8s.io")
}

/// Starts a monitor for every listable, watchable and deletable resource not monitored yet;
/// returns the keys of those started.
fn start_monitors(
    client: &Client,
    resources: &Resources,
    monitors: &mut HashMap<String, JoinHandle<()>>,
    tx: &mpsc::UnboundedSender<MonitorEvent>,
) -> HashSet<String> {
    let mut started = HashSet::new();
    let monitored = resources
        .preferred()
        .filter(|s| s.supports(GC_VERBS) && !ignored(s));
    for served in monitored {
        let key = served.key();
        if monitors.get(&key).is_some_and(|h| !h.is_finished()) {
            continue;
        }
        let handle = tokio::spawn(monitor(client.clone(), served.clone(), tx.clone()));
        monitors.insert(key.clone(), handle);
        started.insert(key);
    }
    started
}

/// Lists and watches one resource, sending what it sees to the graph builder.
async fn monitor(client: Client, served: Served, tx: mpsc::UnboundedSender<MonitorEvent>) {
    let key = served.key();
    let api = served.metadata_api(&client);
    // Metadata is all the graph needs (upstream's GC uses metadata informers too).
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    let mut relist: Option<HashSet<String>> = None;
    let mut synced = false;
    while let Some(event) = stream.next().await {
        let msg = match event {
            Ok(Event::Init) => {
                relist = Some(HashSet::new());
                continue;
            }
            Ok(Event::InitApply(obj)) => {
                if let (Some(seen), Some(uid)) = (relist.as_mut(), obj.metadata.uid.as_ref()) {
                    seen.insert(uid.clone());
                }
                observe(&served, &key, &obj).map(MonitorEvent::Upsert)
            }
            Ok(Event::InitDone) => {
                let seen = relist.take().unwrap_or_default();
                if tx.send(MonitorEvent::Relisted(key.clone(), seen)).is_err() {
                    return;
                }
                if !synced {
                    synced = true;
                    Some(MonitorEvent::Synced(key.clone()))
                } else {
                    None
                }
            }
            Ok(Event::Apply(obj)) => observe(&served, &key, &obj).map(MonitorEvent::Upsert),
            Ok(Event::Delete(obj)) => obj.metadata.uid.clone().map(MonitorEvent::Delete),
            Err(e) => {
                tracing::debug!(resource = %key, error = %e, "garbage collector: watch error");
                None
            }
        };
        if let Some(msg) = msg {
            if tx.send(msg).is_err() {
                return;
            }
        }
    }
}

/// The graph's view of an object.
fn observe(served: &Served, key: &str, obj: &PartialObjectMeta<DynamicObject>) -> Option<Observed> {
    let meta = &obj.metadata;
    Some(Observed {
        identity: ObjectRef {
            api_version: served.ar.api_version.clone(),
            kind: served.ar.kind.clone(),
            namespace: meta.namespace.clone().filter(|_| served.namespaced),
            name: meta.name.clone()?,
            uid: meta.uid.clone()?,
        },
        resource: key.to_string(),
        owners: meta
            .owner_references
            .iter()
            .flatten()
            .map(|o| OwnerRef {
                uid: o.uid.clone(),
                api_version: o.api_version.clone(),
                kind: o.kind.clone(),
                name: o.name.clone(),
                block: o.block_owner_deletion == Some(true),
            })
            .collect(),
        being_deleted: meta.deletion_timestamp.is_some(),
        finalizers: meta.finalizers.clone().unwrap_or_default(),
    })
}

/// Applies monitor events to the graph and queues the resulting work.
async fn build_graph(
    gc: Arc<GarbageCollector>,
    mut rx: mpsc::UnboundedReceiver<MonitorEvent>,
    mut waiting_for: HashSet<String>,
    synced: tokio::sync::watch::Sender<bool>,
) {
    if waiting_for.is_empty() {
        let _ = synced.send(true);
    }
    while let Some(event) = rx.recv().await {
        let work = {
            let mut graph = gc.graph.lock();
            match event {
                MonitorEvent::Upsert(obs) => graph.upsert(obs),
                MonitorEvent::Delete(uid) => graph.remove(&uid),
                MonitorEvent::Relisted(key, seen) => graph.relisted(&key, &seen),
                MonitorEvent::Synced(key) => {
                    if waiting_for.remove(&key) && waiting_for.is_empty() {
                        let _ = synced.send(true);
                    }
                    Vec::new()
                }
            }
        };
        for w in work {
            gc.queue.add(w);
        }
    }
}

/// Takes work from the queue until the process ends; failed work comes back later.
async fn work_loop(gc: Arc<GarbageCollector>) {
    loop {
        let work = gc.queue.next().await;
        match gc.process(&work).await {
            Ok(()) => gc.queue.forget(&work),
            Err(e) => {
                tracing::debug!(?work, error = %e, "garbage collector: retrying");
                gc.queue.add_rate_limited(work);
            }
        }
    }
}
