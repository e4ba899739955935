//! The node lifecycle controller (upstream's `nodelifecycle` with its taint-eviction half): a node
//! whose Lease (and status) was not renewed for `node-monitor-grace-period` gets Ready=Unknown
//! (`NodeStatusUnknown`, "Kubelet stopped posting node status."), its pods are marked not ready,
//! and it is tainted `node.kubernetes.io/unreachable` (`not-ready` when Ready=False) with the
//! NoSchedule and NoExecute effects; the taints go when it is Ready again. Pods on a node with
//! NoExecute taints they do not tolerate (or tolerate only for `tolerationSeconds`) are deleted.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use serde_json::json;

use super::{now_seconds, Informers, NodesConfig, LEASE_NAMESPACE};
use crate::controllers::events::{reference, EventType, Recorder};

/// Taint of nodes whose Ready condition is Unknown.
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// Taint of nodes whose Ready condition is False.
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// Taint that lets pod GC force-delete terminating pods of a dead node.
pub const TAINT_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// Conditions the controller sets to Unknown when the kubelet goes silent.
const KUBELET_CONDITIONS: [&str; 4] = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// Runs the controller until the process ends.
pub async fn run(client: Client, informers: Informers, config: NodesConfig) {
    informers.wait_synced().await;
    let controller = Controller {
        nodes_recorder: Recorder::new(client.clone(), "node-controller", None),
        eviction_recorder: Recorder::new(client.clone(), "taint-eviction-controller", None),
        client,
        informers,
        config,
        first_seen: HashMap::new(),
    };
    controller.run().await;
}

struct Controller {
    client: Client,
    informers: Informers,
    config: NodesConfig,
    nodes_recorder: Recorder,
    eviction_recorder: Recorder,
    /// When the controller first saw each node (a heartbeat for nodes never heard from).
    first_seen: HashMap<String, Timestamp>,
}

impl Controller {
    async fn run(mut self) {
        let mut tick = tokio::time::interval(self.config.monitor_period());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let nodes = self.informers.nodes.state();
            let now = Timestamp::now();
            self.first_seen
                .retain(|n, _| nodes.iter().any(|x| x.metadata.name.as_ref() == Some(n)));
            for node in &nodes {
                if let Err(e) = self.monitor(node, now).await {
                    tracing::debug!(node = ?node.metadata.name, error = %e, "node lifecycle: retry");
                }
            }
            self.evict(&nodes, now).await;
        }
    }

    /// Last sign of life of a node: Lease renewal, Ready heartbeat, or first sight.
    fn last_heartbeat(&mut self, node: &Node, now: Timestamp) -> Timestamp {
        let name = node.metadata.name.clone().unwrap_or_default();
        let mut last = *self.first_seen.entry(name.clone()).or_insert(now);
        let lease = self
            .informers
            .leases
            .get(&ObjectRef::new(&name).within(LEASE_NAMESPACE));
        if let Some(t) = lease.and_then(|l| l.spec.clone()?.renew_time) {
            last = last.max(t.0);
        }
        if let Some(t) = ready_condition(node).and_then(|c| c.last_heartbeat_time.clone()) {
            last = last.max(t.0);
        }
        last
    }

    async fn monitor(&mut self, node: &Node, now: Timestamp) -> Result<(), kube::Error> {
        let name = node.metadata.name.clone().unwrap_or_default();
        let last = self.last_heartbeat(node, now);
        let silent =
            now.duration_since(last).unsigned_abs() > self.config.grace_period && now > last;
        let mut ready = ready_condition(node).map(|c| c.status.clone());
        let api: Api<Node> = Api::all(self.client.clone());
        if silent && ready.as_deref() != Some("Unknown") {
            let conditions = unknown_conditions(node);
            let patch = json!({"status": {"conditions": conditions}});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            tracing::info!(node = %name, "node stopped posting status; Ready=Unknown");
            let r = reference("v1", "Node", &node.metadata);
            self.nodes_recorder
                .record(
                    &r,
                    EventType::Normal,
                    "NodeNotReady",
                    &format!("Node {name} status is now: NodeNotReady"),
                )
                .await;
            ready = Some("Unknown".to_string());
            self.mark_pods_not_ready(&name).await;
        }
        let wanted = match ready.as_deref() {
            Some("True") => None,
            Some("False") => Some(TAINT_NOT_READY),
            _ if silent => Some(TAINT_UNREACHABLE),
            _ => None,
        };
        self.reconcile_taints(node, wanted, now).await
    }

    /// Sets the Ready condition of the node's pods to False (upstream's `MarkPodsNotReady`).
    async fn mark_pods_not_ready(&self, node: &str) {
        let now = serde_json::to_value(Time(now_seconds())).unwrap_or_default();
        for pod in self.pods_on(node) {
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|c| c.iter().find(|c| c.type_ == "Ready"));
            if ready.is_none_or(|c| c.status == "False") {
                continue;
            }
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            let patch = json!({"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now}
            ]}});
            if let Err(e) = api
                .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
                .await
            {
                tracing::debug!(pod = %name, error = %e, "could not mark pod not ready");
            }
        }
    }

    fn pods_on(&self, node: &str) -> Vec<Arc<Pod>> {
        self.informers
            .pods
            .state_filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
    }

    /// Makes the node's `not-ready`/`unreachable` taints match `wanted`.
    async fn reconcile_taints(
        &self,
        node: &Node,
        wanted: Option<&str>,
        now: Timestamp,
    ) -> Result<(), kube::Error> {
        let current = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let managed = |t: &Taint| {
            (t.key == TAINT_UNREACHABLE || t.key == TAINT_NOT_READY)
                && (t.effect == "NoExecute" || t.effect == "NoSchedule")
        };
        let has =
            |key: &str, effect: &str| current.iter().any(|t| t.key == key && t.effect == effect);
        let in_sync = match wanted {
            Some(key) => {
                has(key, "NoExecute")
                    && has(key, "NoSchedule")
                    && current.iter().filter(|t| managed(t)).count() == 2
            }
            None => !current.iter().any(managed),
        };
        if in_sync {
            return Ok(());
        }
        let name = node.metadata.name.clone().unwrap_or_default();
        let api: Api<Node> = Api::all(self.client.clone());
        // Read-modify-write with the resourceVersion as precondition (conflicts retry next tick).
        let mut fresh = api.get(&name).await?;
        let spec = fresh.spec.get_or_insert_with(Default::default);
        let mut taints: Vec<Taint> = spec
            .taints
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| !managed(t) || Some(t.key.as_str()) == wanted)
            .collect();
        if let Some(key) = wanted {
            for effect in ["NoSchedule", "NoExecute"] {
                if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                    taints.push(Taint {
                        key: key.to_string(),
                        effect: effect.to_string(),
                        value: None,
                        time_added: (effect == "NoExecute").then(|| Time(now_seconds_of(now))),
                    });
                }
            }
        }
        spec.taints = (!taints.is_empty()).then_some(taints);
        api.replace(&name, &PostParams::default(), &fresh).await?;
        tracing::info!(node = %name, taint = ?wanted, "node taints updated");
        Ok(())
    }

    /// Deletes pods whose toleration of their node's NoExecute taints ran out.
    async fn evict(&self, nodes: &[Arc<Node>], now: Timestamp) {
        let tainted: HashMap<&str, Vec<&Taint>> = nodes
            .iter()
            .filter_map(|n| {
                let taints: Vec<&Taint> = n
                    .spec
                    .as_ref()?
                    .taints
                    .as_ref()?
                    .iter()
                    .filter(|t| t.effect == "NoExecute")
                    .collect();
                (!taints.is_empty())
                    .then(|| (n.metadata.name.as_deref().unwrap_or_default(), taints))
            })
            .collect();
        if tainted.is_empty() {
            return;
        }
        let pods = self.informers.pods.state_filter(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| tainted.contains_key(n))
        });
        for pod in pods {
            let node = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .unwrap_or_default();
            let taints = &tainted[node];
            let tolerations = pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.clone())
                .unwrap_or_default();
            if eviction_due(taints, &tolerations, now) {
                self.evict_pod(&pod).await;
            }
        }
    }

    async fn evict_pod(&self, pod: &Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let now = serde_json::to_value(Time(now_seconds())).unwrap_or_default();
        let patch = json!({"status": {"conditions": [{
            "type": "DisruptionTarget", "status": "True", "lastTransitionTime": now,
            "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint",
        }]}});
        if let Err(e) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
        {
            tracing::debug!(pod = %name, error = %e, "could not add DisruptionTarget");
        }
        let r = reference("v1", "Pod", &pod.metadata);
        self.eviction_recorder
            .record(
                &r,
                EventType::Normal,
                "TaintManagerEviction",
                &format!("Marking for deletion Pod {ns}/{name}"),
            )
            .await;
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(pod = %format!("{ns}/{name}"), "evicted by NoExecute taint"),
            Err(e) => tracing::debug!(pod = %name, error = %e, "eviction failed"),
        }
    }
}

fn now_seconds_of(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// The node's conditions with the kubelet's ones set to Unknown.
fn unknown_conditions(node: &Node) -> Vec<NodeCondition> {
    let now = Time(now_seconds());
    let mut conditions = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(c) => {
                if c.status != "Unknown" {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(now.clone());
                }
            }
            None => conditions.push(NodeCondition {
                type_: type_.to_string(),
                status: "Unknown".into(),
                reason: Some("NodeStatusNeverUpdated".into()),
                message: Some("Kubelet never posted node status.".into()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(now.clone()),
            }),
        }
    }
    conditions
}

/// Whether a toleration matches a taint (upstream's `ToleratesTaint`).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if effect != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => {
            !key.is_empty()
                && t.value.as_deref().unwrap_or_default()
                    == taint.value.as_deref().unwrap_or_default()
        }
    }
}

/// Whether a pod with `tolerations` must go from a node with NoExecute `taints` at `now`.
fn eviction_due(taints: &[&Taint], tolerations: &[Toleration], now: Timestamp) -> bool {
    let mut deadline: Option<Timestamp> = None;
    for taint in taints {
        let matching: Vec<&Toleration> =
            tolerations.iter().filter(|t| tolerates(t, taint)).collect();
        if matching.is_empty() {
            return true;
        }
        // Tolerated for the shortest `tolerationSeconds` (none: forever).
        let Some(secs) = matching.iter().filter_map(|t| t.toleration_seconds).min() else {
            continue;
        };
        let since = taint.time_added.as_ref().map(|t| t.0).unwrap_or(now);
        let at = since
            .checked_add(k8s_openapi::jiff::SignedDuration::from_secs(secs.max(0)))
            .unwrap_or(Timestamp::MAX);
        deadline = Some(deadline.map_or(at, |d| d.min(at)));
    }
    deadline.is_some_and(|d| d <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint(key: &str) -> Taint {
        Taint {
            key: key.into(),
            effect: "NoExecute".into(),
            time_added: Some(Time(Timestamp::from_second(1000).expect("ts"))),
            value: None,
        }
    }

    #[test]
    fn toleration_seconds() {
        let t = taint(TAINT_UNREACHABLE);
        let at = |s| Timestamp::from_second(s).expect("ts");
        let tol = Toleration {
            key: Some(TAINT_UNREACHABLE.into()),
            operator: Some("Exists".into()),
            effect: Some("NoExecute".into()),
            toleration_seconds: Some(5),
            value: None,
        };
        assert!(!eviction_due(&[&t], std::slice::from_ref(&tol), at(1004)));
        assert!(eviction_due(&[&t], std::slice::from_ref(&tol), at(1005)));
        assert!(eviction_due(&[&t], &[], at(1000)));
        let forever = Toleration {
            toleration_seconds: None,
            ..tol
        };
        assert!(!eviction_due(&[&t], &[forever], at(99999)));
    }
}
