//! The StatefulSet controller (upstream's `pkg/controller/statefulset`): stable pod names and
//! storage, OrderedReady and Parallel pod management, RollingUpdate with partition and OnDelete,
//! ControllerRevisions (see [`crate::controllers::history`]) and the status `kubectl rollout`
//! reads.
//!
//! Watches only trigger syncs; each sync reads the set, its pods and revisions through the API
//! (consistent lists), so no expectations are needed for its own writes.

mod control;
pub mod identity;
mod pods;

use crate::controllers::common::informer::SharedInformers;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::Client;

use super::events::Recorder;
use super::history::{self, HistoryError};
use super::queue::WorkQueue;
use super::workload_pods::{controlled_by, controller_of, selector, status_changed};

/// Name of the controller for `--disable` and its event component.
pub const NAME: &str = "statefulset-controller";

/// A StatefulSet's namespace and name.
type Key = (String, String);

/// Errors of one sync (the set is synced again later).
#[derive(Debug, thiserror::Error)]
pub enum StsError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Revision handling failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The set's selector is invalid.
    #[error("invalid selector: {0}")]
    Selector(String),
    /// Progress waits for something else (e.g. a claim being deleted).
    #[error("{0}")]
    Blocked(String),
}

/// Shared state of the controller.
pub(crate) struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Spawns the StatefulSet and DaemonSet controllers unless `--disable`d by name.
pub fn spawn_with_daemonset(informers: &Arc<SharedInformers>, enabled: &dyn Fn(&str) -> bool) {
    if enabled(NAME) {
        tokio::spawn(run(informers.clone()));
    }
    if enabled(super::daemonset::NAME) {
        tokio::spawn(super::daemonset::run(informers.clone()));
    }
}

/// Runs the StatefulSet controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<Key>> = WorkQueue::new();
    watch_sets(&informers, queue.clone());
    watch_pods(&informers, queue.clone());
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
                tracing::debug!(namespace = %key.0, name = %key.1, error = %e, "statefulset: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

fn watch_sets(informers: &SharedInformers, queue: Arc<WorkQueue<Key>>) {
    informers.get::<StatefulSet>().handle(move |s, deleted| {
        if let (false, Some(ns), Some(n)) = (deleted, &s.metadata.namespace, &s.metadata.name) {
            queue.add((ns.clone(), n.clone()));
        }
    });
}

fn watch_pods(informers: &SharedInformers, queue: Arc<WorkQueue<Key>>) {
    informers.get::<Pod>().handle(move |p, _| {
        if let (Some(ns), Some(owner)) = (
            p.metadata.namespace.clone(),
            controller_of(&p.metadata, "StatefulSet"),
        ) {
            queue.add((ns, owner));
        }
    });
}

/// One sync of the set `ns/name`; returns when to look again (minReadySeconds).
async fn sync(ctx: &Ctx, ns: &str, name: &str) -> Result<Option<Duration>, StsError> {
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let Some(set) = api.get_opt(name).await? else {
        return Ok(None);
    };
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let sel = selector(set.spec.as_ref().map(|s| &s.selector)).map_err(StsError::Selector)?;
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| controlled_by(&p.metadata, &uid))
        .filter(|p| sel.matches(&p.metadata.labels.clone().unwrap_or_default()))
        .collect();
    let live: HashSet<String> = pods
        .iter()
        .map(|p| identity::pod_revision(p).to_string())
        .collect();
    let revs = history::list_owned(&ctx.client, ns, &sel, &uid).await?;
    let outcome = control::update(ctx, &set, pods, revs).await?;
    let status = outcome.status;
    let old = serde_json::to_value(&set.status).unwrap_or_default();
    let new = serde_json::to_value(&status).unwrap_or_default();
    if status_changed(&old, &new) {
        let patch = serde_json::json!({ "status": new });
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    let revs = history::list_owned(&ctx.client, ns, &sel, &uid).await?;
    let mut live = live;
    live.extend(outcome.live_revisions);
    let limit = set
        .spec
        .as_ref()
        .and_then(|s| s.revision_history_limit)
        .unwrap_or(10);
    history::truncate(&ctx.client, &revs, &live, limit).await?;
    Ok(outcome.requeue)
}
