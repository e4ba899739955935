//! The DaemonSet controller (upstream's `pkg/controller/daemon`): one pod per eligible node,
//! created pinned to its node through required node affinity (the scheduler binds it),
//! RollingUpdate with maxUnavailable/maxSurge, OnDelete, ControllerRevisions and status.
//!
//! Watches of DaemonSets, pods and nodes only trigger syncs; each sync reads nodes, pods and
//! revisions through the API (consistent lists), so pods created with `generateName` are never
//! created twice from a stale cache.

pub mod nodes;
mod update;

use crate::controllers::common::informer::SharedInformers;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use parking_lot::Mutex;

use super::events::{reference, EventType, Recorder};
use super::history::{self, HistoryError};
use super::queue::WorkQueue;
use super::workload_pods::{
    availability, controlled_by, controller_of, controller_ref, ok_if, selector, status_changed,
};
use update::{NodePods, Plan};

/// Name of the controller for `--disable` and its event component.
pub const NAME: &str = "daemonset-controller";
/// Pod (and revision) label with the revision hash.
pub const HASH_LABEL: &str = "controller-revision-hash";
/// Pod label with the DaemonSet generation the pod was made from (deprecated upstream).
pub const GENERATION_LABEL: &str = "pod-template-generation";

/// A DaemonSet's namespace and name.
type Key = (String, String);

/// Errors of one sync (the DaemonSet is synced again later).
#[derive(Debug, thiserror::Error)]
pub enum DsError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Revision handling failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The selector is invalid.
    #[error("invalid selector: {0}")]
    Selector(String),
}

struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Runs the DaemonSet controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<Key>> = WorkQueue::new();
    let known: Arc<Mutex<HashSet<Key>>> = Arc::default();
    watch_sets(&informers, queue.clone(), known.clone());
    watch_pods(&informers, queue.clone());
    watch_nodes(&informers, queue.clone(), known);
    let ctx = Ctx {
        recorder: Recorder::new(client.clone(), NAME, None),
        client,
    };
    loop {
        let key = queue.next().await;
        match sync(&ctx, &key.0, &key.1).await {
            Ok(requeue) => {
                queue.forget(&key);
                if let Some(after) = requeue {
                    queue.add_after(key, after);
                }
            }
            Err(e) => {
                tracing::debug!(namespace = %key.0, name = %key.1, error = %e, "daemonset: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

fn watch_sets(
    informers: &SharedInformers,
    queue: Arc<WorkQueue<Key>>,
    known: Arc<Mutex<HashSet<Key>>>,
) {
    informers.get::<DaemonSet>().handle(move |ds, deleted| {
        if let (Some(ns), Some(n)) = (&ds.metadata.namespace, &ds.metadata.name) {
            let key = (ns.clone(), n.clone());
            if deleted {
                known.lock().remove(&key);
            } else {
                known.lock().insert(key.clone());
                queue.add(key);
            }
        }
    });
}

fn watch_pods(informers: &SharedInformers, queue: Arc<WorkQueue<Key>>) {
    informers.get::<Pod>().handle(move |p, _| {
        if let (Some(ns), Some(owner)) = (
            p.metadata.namespace.clone(),
            controller_of(&p.metadata, "DaemonSet"),
        ) {
            queue.add((ns, owner));
        }
    });
}

/// Every node change may change where daemon pods belong: all known sets are synced again.
fn watch_nodes(
    informers: &SharedInformers,
    queue: Arc<WorkQueue<Key>>,
    known: Arc<Mutex<HashSet<Key>>>,
) {
    let mut rx = informers.get::<Node>().subscribe();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            let keys: Vec<Key> = known.lock().iter().cloned().collect();
            for k in keys {
                queue.add(k);
            }
        }
    });
}

/// Daemon pods of `ds` by target node.
async fn node_pods(ctx: &Ctx, ds: &DaemonSet) -> Result<NodePods, DsError> {
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let sel = selector(ds.spec.as_ref().map(|s| &s.selector)).map_err(DsError::Selector)?;
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let mut out: NodePods = BTreeMap::new();
    for p in api.list(&ListParams::default()).await?.items {
        if !controlled_by(&p.metadata, &uid)
            || !sel.matches(&p.metadata.labels.clone().unwrap_or_default())
        {
            continue;
        }
        if let Some(node) = nodes::target_node(&p) {
            out.entry(node).or_default().push(p);
        }
    }
    Ok(out)
}

/// Upstream's `constructHistory`: the current revision (created or renumbered) and its hash.
async fn current_revision(
    ctx: &Ctx,
    ds: &DaemonSet,
) -> Result<(String, Vec<ControllerRevision>), DsError> {
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let name = ds.metadata.name.clone().unwrap_or_default();
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let sel = selector(ds.spec.as_ref().map(|s| &s.selector)).map_err(DsError::Selector)?;
    let revs = history::list_owned(&ctx.client, &ns, &sel, &uid).await?;
    let spec = ds.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template)?;
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut collision = ds
        .status
        .as_ref()
        .and_then(|s| s.collision_count)
        .unwrap_or(0);
    let mut snapshot = history::new_revision(
        controller_ref("apps/v1", "DaemonSet", &ds.metadata),
        &ds.metadata,
        &labels,
        data,
        0,
        collision,
    );
    let (current, old): (Vec<&ControllerRevision>, Vec<&ControllerRevision>) =
        revs.iter().partition(|r| history::equal_data(r, &snapshot));
    let next = old.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
    let cur = match current.last() {
        Some(cur) if cur.revision < next => history::set_revision(&ctx.client, cur, next).await?,
        Some(cur) => (*cur).clone(),
        None => {
            snapshot.revision = next;
            snapshot.metadata.annotations = ds.metadata.annotations.clone();
            let created = history::create(&ctx.client, &name, &snapshot, &mut collision).await?;
            let before = ds.status.as_ref().and_then(|s| s.collision_count);
            if collision != before.unwrap_or(0) {
                let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &ns);
                let patch = serde_json::json!({"status": {"collisionCount": collision}});
                api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
            created
        }
    };
    let hash = cur
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(history::HASH_LABEL))
        .cloned()
        .unwrap_or_default();
    Ok((hash, revs))
}

/// One sync of `ns/name`; returns when to look again (minReadySeconds).
async fn sync(ctx: &Ctx, ns: &str, name: &str) -> Result<Option<Duration>, DsError> {
    let api: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), ns);
    let Some(ds) = api.get_opt(name).await? else {
        return Ok(None);
    };
    let node_list = Api::<Node>::all(ctx.client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let mut by_node = node_pods(ctx, &ds).await?;
    let (hash, revs) = current_revision(ctx, &ds).await?;
    if ds.metadata.deletion_timestamp.is_none() {
        let mut plan = update::manage(&ds, &node_list, &by_node, &hash);
        if plan == Plan::default() {
            plan = update::rolling_update(&ds, &node_list, &by_node, &hash);
        }
        if plan != Plan::default() {
            execute(ctx, &ds, &plan, &hash).await?;
            by_node = node_pods(ctx, &ds).await?;
        }
    }
    // History cleanup: revisions of live pods and the current one stay.
    let ds_name = ds.metadata.name.clone().unwrap_or_default();
    let mut live: HashSet<String> = by_node
        .values()
        .flatten()
        .filter_map(|p| p.metadata.labels.as_ref()?.get(HASH_LABEL).cloned())
        .chain(std::iter::once(hash.clone()))
        .map(|h| history::revision_name(&ds_name, &h))
        .collect();
    live.extend(revs.iter().filter_map(|r| {
        let h = r.metadata.labels.as_ref()?.get(history::HASH_LABEL)?;
        (*h == hash).then(|| r.metadata.name.clone()).flatten()
    }));
    let limit = ds
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    let mut revs = revs;
    history::sort(&mut revs);
    history::truncate(&ctx.client, &revs, &live, limit).await?;

    let status = update::status(&ds, &node_list, &by_node, &hash);
    let old = serde_json::to_value(&ds.status).unwrap_or_default();
    let new = serde_json::to_value(&status).unwrap_or_default();
    if status_changed(&old, &new) {
        let patch = serde_json::json!({ "status": new });
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    Ok(by_node
        .values()
        .flatten()
        .filter_map(|p| availability(p, min_ready).err())
        .min())
}

/// A daemon pod for `node` (upstream's `CreatePodTemplate` + node affinity).
fn new_pod(ds: &DaemonSet, node: &str, hash: &str) -> Pod {
    let spec = ds.spec.clone().unwrap_or_default();
    let meta = spec.template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.clone().unwrap_or_default();
    labels.insert(HASH_LABEL.to_string(), hash.to_string());
    if let Some(g) = ds.metadata.generation {
        labels.insert(GENERATION_LABEL.to_string(), g.to_string());
    }
    let mut pod_spec = spec.template.spec.clone().unwrap_or_default();
    let tolerations = nodes::daemon_tolerations(&pod_spec);
    nodes::add_tolerations(&mut pod_spec, tolerations);
    nodes::pin_to_node(&mut pod_spec, node);
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            generate_name: Some(format!(
                "{}-",
                ds.metadata.name.as_deref().unwrap_or_default()
            )),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref("apps/v1", "DaemonSet", &ds.metadata)]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        status: None,
    }
}

/// Upstream's `syncNodes`: deletions, then creations in slow-start batches (1, 2, 4, …)
/// stopping at the first failing batch.
async fn execute(ctx: &Ctx, ds: &DaemonSet, plan: &Plan, hash: &str) -> Result<(), DsError> {
    let ns = ds.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let r = reference("apps/v1", "DaemonSet", &ds.metadata);
    for (pod, node) in &plan.failed {
        let msg = format!("Found failed daemon pod {ns}/{pod} on node {node}, will try to kill it");
        ctx.recorder
            .record(&r, EventType::Warning, "FailedDaemonPod", &msg)
            .await;
    }
    for pod in &plan.delete {
        match ok_if(api.delete(pod, &DeleteParams::default()).await, 404) {
            Ok(()) => {
                let msg = format!("Deleted pod: {pod}");
                ctx.recorder
                    .record(&r, EventType::Normal, "SuccessfulDelete", &msg)
                    .await;
            }
            Err(e) => {
                let msg = format!("Error deleting: {e}");
                ctx.recorder
                    .record(&r, EventType::Warning, "FailedDelete", &msg)
                    .await;
                return Err(e.into());
            }
        }
    }
    let mut batch = 1;
    let mut rest: &[String] = &plan.create;
    while !rest.is_empty() {
        let (now, later) = rest.split_at(batch.min(rest.len()));
        let results = futures::future::join_all(now.iter().map(|node| {
            let pod = new_pod(ds, node, hash);
            let api = api.clone();
            async move { api.create(&PostParams::default(), &pod).await }
        }))
        .await;
        let mut failed = None;
        for res in results {
            match res {
                Ok(p) => {
                    let msg = format!("Created pod: {}", p.metadata.name.unwrap_or_default());
                    ctx.recorder
                        .record(&r, EventType::Normal, "SuccessfulCreate", &msg)
                        .await;
                }
                Err(e) => {
                    let msg = format!("Error creating: {e}");
                    ctx.recorder
                        .record(&r, EventType::Warning, "FailedCreate", &msg)
                        .await;
                    failed = Some(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        rest = later;
        batch *= 2;
    }
    Ok(())
}
