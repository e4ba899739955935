//! The deployment controller (upstream's `pkg/controller/deployment`): a Deployment owns one
//! ReplicaSet per pod template (`<name>-<pod-template-hash>`), rolls from old to new with the
//! RollingUpdate (maxSurge / maxUnavailable) or Recreate strategy, scales proportionally,
//! keeps `revisionHistoryLimit` old ReplicaSets, and reports progress in `status`.

mod replicasets;
mod rollout;
pub mod util;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Client;

use super::common::controller_ref::controller_of;
use super::common::informer::{next_change, Change, SharedInformers, Subscription};
use super::common::{key, label_selector, split_key};
use super::events::{reference, EventType, Recorder};
use super::queue::{run_workers, WorkQueue};
use super::replicaset;

/// Name of the deployment controller (`--disable`, event source).
pub const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";

/// Errors of one sync (the deployment is synced again with back-off).
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// A ReplicaSet name was taken by another template; `collisionCount` was raised.
    #[error("hash collision for ReplicaSet {0}; collisionCount raised")]
    Collision(String),
    /// The deployment cannot be acted on.
    #[error("{0}")]
    Invalid(String),
}

/// Shared state of the running controller.
pub(crate) struct Ctl {
    pub(crate) client: Client,
    pub(crate) deployments: Store<Deployment>,
    pub(crate) replicasets: Store<ReplicaSet>,
    pub(crate) pods: Store<Pod>,
    pub(crate) queue: Arc<WorkQueue<String>>,
    pub(crate) recorder: Recorder,
}

/// Starts the workload controllers (ReplicaSet, ReplicationController, Deployment) not named
/// in `disabled`.
pub fn start_workload_controllers(informers: &Arc<SharedInformers>, disabled: &[String]) {
    replicaset::spawn(informers, disabled);
    if !disabled.iter().any(|d| d == DEPLOYMENT_CONTROLLER) {
        tokio::spawn(run(informers.clone()));
    }
}

/// Runs the deployment controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let pods = informers.get::<Pod>();
    let deployments = informers.get::<Deployment>();
    let replicasets = informers.get::<ReplicaSet>();
    let ctl = Arc::new(Ctl {
        client: client.clone(),
        deployments: deployments.store(),
        replicasets: replicasets.store(),
        pods: pods.store(),
        queue: WorkQueue::new(),
        recorder: Recorder::new(client, DEPLOYMENT_CONTROLLER, None),
    });
    tokio::spawn(watch_deployments(ctl.clone(), deployments.subscribe()));
    tokio::spawn(watch_replicasets(ctl.clone(), replicasets.subscribe()));
    tokio::spawn(watch_pods(ctl.clone(), pods.subscribe()));
    for synced in [deployments.synced(), replicasets.synced(), pods.synced()] {
        if !synced.wait().await {
            return;
        }
    }
    ctl.enqueue_all();
    tracing::info!("deployment controller started");
    let queue = ctl.queue.clone();
    // Upstream's `--concurrent-deployment-syncs` default.
    run_workers(queue, 5, DEPLOYMENT_CONTROLLER, move |k: String| {
        let ctl = ctl.clone();
        async move { ctl.sync(&k).await }
    })
    .await;
}

impl Ctl {
    fn enqueue_all(&self) {
        for d in self.deployments.state() {
            self.queue.add(key(
                d.metadata.namespace.as_deref(),
                d.metadata.name.as_deref(),
            ));
        }
    }

    /// The deployment controlling `rs`, or for an orphan every deployment whose selector
    /// matches it (adoption).
    fn enqueue_for_rs(&self, rs: &ReplicaSet) {
        let ns = rs.metadata.namespace.as_deref();
        if let Some(r) = controller_of(&rs.metadata) {
            if r.kind == "Deployment" && r.api_version == "apps/v1" {
                self.queue.add(key(ns, Some(&r.name)));
            }
            return;
        }
        let empty = BTreeMap::new();
        let labels = rs.metadata.labels.as_ref().unwrap_or(&empty);
        for d in self.deployments.state() {
            if d.metadata.namespace.as_deref() != ns {
                continue;
            }
            let sel = d.spec.as_ref().map(|s| &s.selector);
            if label_selector(sel).is_ok_and(|s| !s.is_empty() && s.matches(labels)) {
                self.queue.add(key(ns, d.metadata.name.as_deref()));
            }
        }
    }

    /// Syncs one deployment (upstream's `syncDeployment`); returns when to look again.
    async fn sync(&self, k: &str) -> Result<Option<Duration>, DeploymentError> {
        let (ns, name) = split_key(k);
        let Some(d) = self.deployments.get(&ObjectRef::new(name).within(ns)) else {
            return Ok(None);
        };
        let mut d = (*d).clone();
        let selector = d.spec.as_ref().map(|s| &s.selector);
        let everything = selector.is_none_or(|s| {
            s.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
                && s.match_expressions.as_ref().is_none_or(Vec::is_empty)
        });
        if everything {
            self.recorder
                .record(
                    &reference("apps/v1", "Deployment", &d.metadata),
                    EventType::Warning,
                    "SelectorNone",
                    "This deployment is selecting all pods. A non-empty selector is required.",
                )
                .await;
            let status = d.status.get_or_insert_with(Default::default);
            if status.observed_generation < d.metadata.generation {
                status.observed_generation = d.metadata.generation;
                self.update_status(&mut d).await?;
            }
            return Ok(None);
        }
        let rs_list = self.claim_replica_sets(&d).await?;
        if d.metadata.deletion_timestamp.is_some() {
            return self.sync_status_only(&mut d, rs_list).await;
        }
        self.check_paused_conditions(&mut d).await?;
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event(&mut d, &rs_list).await? {
            return self.sync_scale(&mut d, rs_list).await;
        }
        if util::is_rolling(&d) {
            self.rollout_rolling(&mut d, rs_list).await
        } else {
            self.rollout_recreate(&mut d, rs_list).await
        }
    }

    /// Writes `d.status` (and annotations) through `/status`; `d` becomes the stored object.
    pub(crate) async fn update_status(&self, d: &mut Deployment) -> Result<(), DeploymentError> {
        let api: Api<Deployment> = Api::namespaced(
            self.client.clone(),
            d.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let name = d.metadata.name.clone().unwrap_or_default();
        *d = api.replace_status(&name, &PostParams::default(), d).await?;
        Ok(())
    }
}

async fn watch_deployments(ctl: Arc<Ctl>, mut rx: Subscription<Deployment>) {
    while let Some(change) = next_change(&mut rx).await {
        match change {
            Change::Applied(d) | Change::Deleted(d) => ctl.queue.add(key(
                d.metadata.namespace.as_deref(),
                d.metadata.name.as_deref(),
            )),
            Change::Resync => ctl.enqueue_all(),
        }
    }
}

async fn watch_replicasets(ctl: Arc<Ctl>, mut rx: Subscription<ReplicaSet>) {
    while let Some(change) = next_change(&mut rx).await {
        match change {
            Change::Applied(rs) | Change::Deleted(rs) => ctl.enqueue_for_rs(&rs),
            Change::Resync => ctl.enqueue_all(),
        }
    }
}

/// Deleted pods matter to Recreate deployments waiting for old pods to go away.
async fn watch_pods(ctl: Arc<Ctl>, mut rx: Subscription<Pod>) {
    while let Some(change) = next_change(&mut rx).await {
        if let Change::Deleted(pod) = change {
            let Some(r) = controller_of(&pod.metadata) else {
                continue;
            };
            if r.kind != "ReplicaSet" {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            if let Some(rs) = ctl.replicasets.get(&ObjectRef::new(&r.name).within(&ns)) {
                ctl.enqueue_for_rs(&rs);
            }
        }
    }
}
