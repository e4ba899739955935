//! The ReplicaSet and ReplicationController controllers (upstream's `pkg/controller/replicaset`;
//! the ReplicationController one is the same code run over `v1.ReplicationController`): keep
//! `spec.replicas` active pods matching the selector, adopting orphans and releasing pods that
//! stopped matching, and report counts and the `ReplicaFailure` condition in `status`.

mod sync;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::Store;
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::common::controller_ref::controller_of;
use super::common::expectations::Expectations;

use super::common::informer::{next_change, Change, Informer, SharedInformers, Subscription};
use super::common::pods::{controller_index, BY_CONTROLLER};
use super::common::{key, label_selector};
use super::events::Recorder;
use super::queue::{run_workers, WorkQueue};

/// Name of the ReplicaSet controller (`--disable`, event source).
pub const REPLICASET_CONTROLLER: &str = "replicaset-controller";
/// Name of the ReplicationController controller (`--disable`, event source).
pub const REPLICATION_CONTROLLER: &str = "replication-controller";

/// Upstream's `BurstReplicas`: at most this many pods are created or deleted per sync.
pub const BURST_REPLICAS: usize = 500;

/// Errors of one sync (the owner is synced again with back-off).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The object cannot be acted on (e.g. an invalid selector).
    #[error("{0}")]
    Invalid(String),
}

/// What the controller needs of a ReplicaSet or ReplicationController.
#[derive(Clone, Debug)]
pub struct Target {
    /// Object metadata.
    pub meta: ObjectMeta,
    /// Desired number of pods.
    pub replicas: i32,
    /// The pod selector as a `LabelSelector`.
    pub selector: LabelSelector,
    /// The pod template.
    pub template: Option<PodTemplateSpec>,
    /// Seconds a pod must be ready to count as available.
    pub min_ready_seconds: i32,
    /// The current status as JSON.
    pub status: Value,
}

/// A kind this controller manages.
pub trait Replicated:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + DeserializeOwned
    + Serialize
    + Debug
    + Send
    + Sync
    + 'static
{
    /// `apiVersion` for owner references and events.
    const API_VERSION: &'static str;
    /// `kind` for owner references and events.
    const KIND: &'static str;
    /// Event source component.
    const COMPONENT: &'static str;
    /// The fields the controller works with.
    fn target(&self) -> Target;
}

fn status_json<S: Serialize>(s: &Option<S>) -> Value {
    s.as_ref()
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_else(|| Value::Object(Default::default()))
}

impl Replicated for ReplicaSet {
    const API_VERSION: &'static str = "apps/v1";
    const KIND: &'static str = "ReplicaSet";
    const COMPONENT: &'static str = REPLICASET_CONTROLLER;
    fn target(&self) -> Target {
        let spec = self.spec.clone().unwrap_or_default();
        Target {
            meta: self.metadata.clone(),
            replicas: spec.replicas.unwrap_or(1),
            selector: spec.selector,
            template: spec.template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            status: status_json(&self.status),
        }
    }
}

impl Replicated for ReplicationController {
    const API_VERSION: &'static str = "v1";
    const KIND: &'static str = "ReplicationController";
    const COMPONENT: &'static str = REPLICATION_CONTROLLER;
    fn target(&self) -> Target {
        let spec = self.spec.clone().unwrap_or_default();
        let labels: Option<BTreeMap<String, String>> = spec.selector.clone().or_else(|| {
            spec.template
                .as_ref()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.clone())
        });
        Target {
            meta: self.metadata.clone(),
            replicas: spec.replicas.unwrap_or(1),
            selector: LabelSelector {
                match_labels: labels,
                match_expressions: None,
            },
            template: spec.template,
            min_ready_seconds: spec.min_ready_seconds.unwrap_or(0),
            status: status_json(&self.status),
        }
    }
}

/// Syncs running at once (upstream's `--concurrent-replicaset-syncs` default).
const WORKERS: usize = 5;

/// Shared state of one running controller.
pub(crate) struct Ctl<K: Replicated> {
    pub(crate) client: Client,
    pub(crate) pods: Store<Pod>,
    pub(crate) pod_informer: Informer<Pod>,
    pub(crate) owners: Store<K>,
    pub(crate) queue: Arc<WorkQueue<String>>,
    pub(crate) expectations: Expectations,
    pub(crate) recorder: Recorder,
}

/// Starts the ReplicaSet and ReplicationController controllers not named in `disabled`, sharing
/// `pods` (an informer over all pods).
pub fn spawn(informers: &Arc<SharedInformers>, disabled: &[String]) {
    let enabled = |name: &str| !disabled.iter().any(|d| d == name);
    if enabled(REPLICASET_CONTROLLER) {
        tokio::spawn(run::<ReplicaSet>(informers.clone()));
    }
    if enabled(REPLICATION_CONTROLLER) {
        tokio::spawn(run::<ReplicationController>(informers.clone()));
    }
}

/// Runs the controller for kind `K` until the process ends.
pub async fn run<K: Replicated>(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let pods = informers.get::<Pod>();
    pods.add_index(BY_CONTROLLER, Arc::new(controller_index));
    let owners = informers.get::<K>();
    let ctl = Arc::new(Ctl {
        client: client.clone(),
        pods: pods.store(),
        pod_informer: pods.clone(),
        owners: owners.store(),
        queue: WorkQueue::new(),
        expectations: Expectations::new(),
        recorder: Recorder::new(client, K::COMPONENT, None),
    });
    tokio::spawn(watch_owners(ctl.clone(), owners.subscribe()));
    tokio::spawn(watch_pods(ctl.clone(), pods.subscribe()));
    if !pods.synced().wait().await || !owners.synced().wait().await {
        return;
    }
    ctl.enqueue_all();
    tracing::info!(kind = K::KIND, "replica controller started");
    let queue = ctl.queue.clone();
    run_workers(queue, WORKERS, K::COMPONENT, move |k: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&k).await }
    })
    .await;
}

impl<K: Replicated> Ctl<K> {
    fn enqueue_all(&self) {
        for o in self.owners.state() {
            self.queue
                .add(key(o.meta().namespace.as_deref(), o.meta().name.as_deref()));
        }
    }

    /// Owners a pod should be looked at by: its controller if of our kind, else every owner
    /// in its namespace whose selector matches (orphan adoption).
    fn enqueue_for_pod(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.as_deref();
        if let Some(r) = controller_of(&pod.metadata) {
            if r.kind == K::KIND && r.api_version == K::API_VERSION {
                self.queue.add(key(ns, Some(&r.name)));
            }
            return;
        }
        let empty = BTreeMap::new();
        let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
        for o in self.owners.state() {
            if o.meta().namespace.as_deref() != ns {
                continue;
            }
            let t = o.target();
            if label_selector(Some(&t.selector)).is_ok_and(|s| !s.is_empty() && s.matches(labels)) {
                self.queue.add(key(ns, t.meta.name.as_deref()));
            }
        }
    }
}

async fn watch_owners<K: Replicated>(ctl: Arc<Ctl<K>>, mut rx: Subscription<K>) {
    while let Some(change) = next_change(&mut rx).await {
        match change {
            Change::Applied(o) => ctl
                .queue
                .add(key(o.meta().namespace.as_deref(), o.meta().name.as_deref())),
            Change::Deleted(o) => {
                let k = key(o.meta().namespace.as_deref(), o.meta().name.as_deref());
                ctl.expectations.delete(&k);
                ctl.queue.add(k);
            }
            Change::Resync => ctl.enqueue_all(),
        }
    }
}

async fn watch_pods<K: Replicated>(ctl: Arc<Ctl<K>>, mut rx: Subscription<Pod>) {
    while let Some(change) = next_change(&mut rx).await {
        match change {
            Change::Applied(p) | Change::Deleted(p) => ctl.enqueue_for_pod(&p),
            Change::Resync => ctl.enqueue_all(),
        }
    }
}

/// Delay before looking again at an owner whose pods become available after `minReadySeconds`.
pub(crate) fn min_ready_requeue(secs: i32) -> Duration {
    Duration::from_secs(u64::try_from(secs).unwrap_or(0)) + Duration::from_millis(100)
}
