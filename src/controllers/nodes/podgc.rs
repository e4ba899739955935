//! Pod garbage collection (upstream's `podgc`): pods bound to nodes that no longer exist are
//! deleted (after the node was missing in two checks and the API confirms it is gone),
//! terminating pods on out-of-service nodes are force-deleted, and terminated pods beyond
//! `--terminated-pod-gc-threshold` are deleted oldest first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use super::lifecycle::TAINT_OUT_OF_SERVICE;
use super::{now_seconds, Informers, NodesConfig};

/// Upstream's `gcCheckPeriod`.
const CHECK_PERIOD: Duration = Duration::from_secs(20);
/// Upstream's `quarantineTime` (40 s): how long a node must be missing before its pods are
/// deleted. Capped by `--node-monitor-grace-period` so tests with a short grace period stay short.
const QUARANTINE: Duration = Duration::from_secs(40);

/// Runs pod GC until the process ends.
pub async fn run(client: Client, informers: Informers, config: NodesConfig) {
    informers.wait_synced().await;
    let mut tick = tokio::time::interval(CHECK_PERIOD.min(config.grace_period));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When each node was first found missing (upstream's quarantine).
    let mut missing_since: HashMap<String, std::time::Instant> = HashMap::new();
    loop {
        tick.tick().await;
        let nodes: HashMap<String, Arc<Node>> = informers
            .nodes
            .state()
            .into_iter()
            .filter_map(|n| Some((n.metadata.name.clone()?, n)))
            .collect();
        let pods = informers.pods.state();
        let quarantine = QUARANTINE.min(config.grace_period);
        gc_orphaned(&client, &pods, &nodes, &mut missing_since, quarantine).await;
        gc_out_of_service(&client, &pods, &nodes).await;
        if config.terminated_pod_gc_threshold > 0 {
            gc_terminated(&client, &pods, config.terminated_pod_gc_threshold as usize).await;
        }
    }
}

fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Deletes pods of nodes that have been missing for the quarantine time (and still are).
async fn gc_orphaned(
    client: &Client,
    pods: &[Arc<Pod>],
    nodes: &HashMap<String, Arc<Node>>,
    missing_since: &mut HashMap<String, std::time::Instant>,
    quarantine: Duration,
) {
    let missing: HashSet<String> = pods
        .iter()
        .filter_map(|p| node_of(p))
        .filter(|n| !nodes.contains_key(*n))
        .map(str::to_string)
        .collect();
    let node_api: Api<Node> = Api::all(client.clone());
    let now = std::time::Instant::now();
    missing_since.retain(|n, _| missing.contains(n));
    for n in &missing {
        missing_since.entry(n.clone()).or_insert(now);
    }
    let mut gone = HashSet::new();
    for (n, since) in missing_since.iter() {
        if now.duration_since(*since) >= quarantine {
            if let Ok(None) = node_api.get_opt(n).await {
                gone.insert(n.as_str());
            }
        }
    }
    for pod in pods {
        if node_of(pod).is_some_and(|n| gone.contains(n)) {
            let msg = "PodGC: node no longer exists";
            delete(client, pod, "DeletionByPodGC", msg).await;
        }
    }
}

/// Force-deletes terminating pods on NotReady nodes tainted `out-of-service`.
async fn gc_out_of_service(client: &Client, pods: &[Arc<Pod>], nodes: &HashMap<String, Arc<Node>>) {
    let out: HashSet<&str> = nodes
        .iter()
        .filter(|(_, n)| {
            let taints = n.spec.as_ref().and_then(|s| s.taints.as_ref());
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
                .is_some_and(|c| c.status == "True");
            !ready && taints.is_some_and(|t| t.iter().any(|t| t.key == TAINT_OUT_OF_SERVICE))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    if out.is_empty() {
        return;
    }
    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some()
            && node_of(pod).is_some_and(|n| out.contains(n))
        {
            let msg = "PodGC: node is out of service";
            delete(client, pod, "DeletionByPodGC", msg).await;
        }
    }
}

/// Deletes the oldest terminated pods beyond `threshold`.
async fn gc_terminated(client: &Client, pods: &[Arc<Pod>], threshold: usize) {
    let mut terminated: Vec<&Arc<Pod>> = pods
        .iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Succeeded" | "Failed")
                )
        })
        .collect();
    if terminated.len() <= threshold {
        return;
    }
    terminated.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let excess = terminated.len() - threshold;
    tracing::info!(
        count = excess,
        "deleting terminated pods beyond the threshold"
    );
    for pod in &terminated[..excess] {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let api: Api<Pod> = Api::namespaced(
            client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Err(e) = api.delete(&name, &params).await {
            tracing::debug!(pod = %name, error = %e, "pod GC: delete failed");
        }
    }
}

/// Marks `pod` as a disruption target, then deletes it with grace period 0.
async fn delete(client: &Client, pod: &Pod, reason: &str, message: &str) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let now = serde_json::to_value(Time(now_seconds())).unwrap_or_default();
    let patch = json!({"status": {"conditions": [{
        "type": "DisruptionTarget", "status": "True", "lastTransitionTime": now,
        "reason": reason, "message": message,
    }]}});
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    if !terminal {
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            tracing::debug!(pod = %name, error = %e, "pod GC: could not add DisruptionTarget");
        }
    }
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => tracing::info!(pod = %format!("{ns}/{name}"), reason, "pod GC deleted pod"),
        Err(e) => tracing::debug!(pod = %name, error = %e, "pod GC: delete failed"),
    }
}
