//! The Job controller (upstream's `pkg/controller/job`): creates pods for Jobs up to
//! `parallelism` until `completions` succeed, counts finished pods through the
//! `batch.kubernetes.io/job-tracking` finalizer and `status.uncountedTerminatedPods`, applies
//! `backoffLimit` (with upstream's 10s-doubling back-off capped at 6 minutes),
//! `activeDeadlineSeconds`, `podFailurePolicy`, `suspend` and the Indexed completion mode, and
//! keeps `status` and the conditions (`SuccessCriteriaMet`/`FailureTarget` first, `Complete`/
//! `Failed` once no pod is terminating) as upstream.
//!
//! Simplifications (documented here rather than hidden):
//! - pods being deleted are counted as failed at once and their finalizer removed (upstream's
//!   `podReplacementPolicy: TerminatingOrFailed`), even with a `podFailurePolicy`;
//! - `FailIndex` marks the index failed (`status.failedIndexes`) without per-index back-off
//!   limits (`backoffLimitPerIndex` is not implemented);
//! - `successPolicy` and `managedBy` are not implemented; pods are created one call at a time
//!   (no slow-start batches) and orphan pods are not adopted.
//!
//! This module also starts the CronJob and TTL-after-finished controllers ([`spawn_batch`]).

mod pods;
mod sync;

use crate::controllers::common::informer::SharedInformers;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use parking_lot::Mutex;

use super::events::Recorder;
use super::queue::WorkQueue;

/// Name of the Job controller for `--disable` (and its event source).
pub const JOB_CONTROLLER: &str = "job-controller";
/// The finalizer put on every pod the controller creates, removed once the pod is counted.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// Annotation and label carrying a pod's completion index (Indexed Jobs).
pub const COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";

/// Errors of one Job sync (the Job is synced again later).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// An object could not be converted.
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
}

/// Consecutive failures since the last success and when the last one finished (upstream's
/// `backoffRecord`), per Job key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Backoff {
    failures: u32,
    last_failure: Option<jiff::Timestamp>,
}

/// Shared state of the Job controller.
pub(crate) struct Ctx {
    client: Client,
    recorder: Recorder,
    backoff: Mutex<HashMap<String, Backoff>>,
    queue: Arc<WorkQueue<String>>,
}

/// Starts the Job, CronJob and TTL-after-finished controllers not named in `disabled`.
pub fn spawn_batch(informers: &Arc<SharedInformers>, disabled: &[String]) {
    let enabled = |name: &str| !disabled.iter().any(|d| d == name);
    if enabled(JOB_CONTROLLER) {
        tokio::spawn(run(informers.clone()));
    }
    if enabled(super::cronjob::CRONJOB_CONTROLLER) {
        tokio::spawn(super::cronjob::run(informers.clone()));
    }
    if enabled(super::ttl::TTL_CONTROLLER) {
        tokio::spawn(super::ttl::run(informers.clone()));
    }
}

/// `namespace/name`.
pub(crate) fn key(ns: &str, name: &str) -> String {
    format!("{ns}/{name}")
}

/// Runs the Job controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let ctx = Arc::new(Ctx {
        recorder: Recorder::new(client.clone(), JOB_CONTROLLER, None),
        client: client.clone(),
        backoff: Mutex::default(),
        queue: WorkQueue::new(),
    });
    watch_jobs(&informers, ctx.queue.clone());
    watch_pods(&informers, ctx.queue.clone());
    loop {
        let key = ctx.queue.next().await;
        let Some((ns, name)) = key.split_once('/') else {
            continue;
        };
        match sync::sync(&ctx, ns, name).await {
            Ok(requeue) => {
                ctx.queue.forget(&key);
                if let Some(after) = requeue {
                    ctx.queue.add_after(key, after);
                }
            }
            Err(e) => {
                tracing::debug!(job = %key, error = %e, "job controller: will retry");
                ctx.queue.add_rate_limited(key);
            }
        }
    }
}

fn watch_jobs(informers: &SharedInformers, queue: Arc<WorkQueue<String>>) {
    informers.get::<Job>().handle(move |j, _| {
        if let (Some(ns), Some(name)) = (&j.metadata.namespace, &j.metadata.name) {
            queue.add(key(ns, name));
        }
    });
}

/// The Job controlling `pod`, as a queue key.
fn owner_job(pod: &Pod) -> Option<String> {
    let ns = pod.metadata.namespace.as_deref()?;
    let owner = pod
        .metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    (owner.kind == "Job" && owner.api_version == "batch/v1").then(|| key(ns, &owner.name))
}

fn watch_pods(informers: &SharedInformers, queue: Arc<WorkQueue<String>>) {
    informers.get::<Pod>().handle(move |p, _| {
        if let Some(k) = owner_job(p) {
            queue.add(k);
        }
    });
}
