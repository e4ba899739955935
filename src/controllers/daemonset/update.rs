//! Decisions of a DaemonSet sync (upstream's `podsShouldBeOnNode`, `rollingUpdate` and
//! `updateDaemonSetStatus`), kept free of API calls: they map the nodes and the daemon pods
//! per node to pods to create and delete, and to the status.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::nodes::should_run;
use super::{GENERATION_LABEL, HASH_LABEL};
use crate::controllers::workload_pods::{created, is_available, is_ready, is_terminating, phase};

/// Daemon pods by the node they are on or pinned to.
pub type NodePods = BTreeMap<String, Vec<Pod>>;

/// Pods to delete (names) and nodes to create a pod on.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Names of pods to delete.
    pub delete: Vec<String>,
    /// Nodes needing a new daemon pod.
    pub create: Vec<String>,
    /// Failed pods found (for events): (pod, node).
    pub failed: Vec<(String, String)>,
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

fn label<'a>(p: &'a Pod, key: &str) -> Option<&'a str> {
    p.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(key))
        .map(String::as_str)
}

/// Upstream's `podByCreationTimestampAndPhase`: scheduled pods first, then oldest, then name.
fn order(p: &Pod) -> (bool, i64, String) {
    let unscheduled = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_none_or(str::is_empty);
    (unscheduled, created(&p.metadata), name(p))
}

/// Upstream's `IsPodUpdated`: the pod has the current hash or template generation.
pub fn is_updated(ds: &DaemonSet, pod: &Pod, hash: &str) -> bool {
    let generation = ds.metadata.generation.map(|g| g.to_string());
    let gen_ok = generation.is_some() && label(pod, GENERATION_LABEL) == generation.as_deref();
    let hash_ok = !hash.is_empty() && label(pod, HASH_LABEL) == Some(hash);
    gen_ok || hash_ok
}

fn allows_surge(ds: &DaemonSet) -> bool {
    rolling_params(ds).is_some_and(|(surge, _)| surge.is_some_and(|s| s != IntOrString::Int(0)))
}

type Params = (Option<IntOrString>, Option<IntOrString>);

fn rolling_params(ds: &DaemonSet) -> Option<Params> {
    let strategy = ds.spec.as_ref()?.update_strategy.as_ref()?;
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
        return None;
    }
    let ru = strategy.rolling_update.clone().unwrap_or_default();
    Some((ru.max_surge, ru.max_unavailable))
}

/// Upstream's `GetScaledValueFromIntOrPercent` rounding up.
fn scaled(v: Option<&IntOrString>, total: i32, default: i32) -> i32 {
    match v {
        None => default,
        Some(IntOrString::Int(i)) => *i,
        Some(IntOrString::String(s)) => {
            let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let v = (pct * i64::from(total) + 99) / 100;
            i32::try_from(v).unwrap_or(i32::MAX)
        }
    }
}

/// Upstream's `podsShouldBeOnNode` for every node, plus unscheduled pods pinned to missing
/// nodes.
pub fn manage(ds: &DaemonSet, nodes: &[Node], by_node: &NodePods, hash: &str) -> Plan {
    let mut plan = Plan::default();
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    for node in nodes {
        let node_name = node.metadata.name.clone().unwrap_or_default();
        let (run, cont) = should_run(ds, node);
        let pods = by_node.get(&node_name).cloned().unwrap_or_default();
        if run && pods.is_empty() {
            plan.create.push(node_name);
        } else if cont {
            let mut running = Vec::new();
            for p in pods.iter().filter(|p| !is_terminating(p)) {
                match phase(p) {
                    "Failed" => {
                        plan.failed.push((name(p), node_name.clone()));
                        plan.delete.push(name(p));
                    }
                    "Succeeded" => plan.delete.push(name(p)),
                    _ => running.push(p.clone()),
                }
            }
            if running.len() <= 1 {
                continue;
            }
            running.sort_by_key(order);
            if !allows_surge(ds) {
                plan.delete.extend(running[1..].iter().map(name));
                continue;
            }
            let (mut oldest_new, mut oldest_old): (Option<&Pod>, Option<&Pod>) = (None, None);
            for p in &running {
                let slot = if label(p, HASH_LABEL) == Some(hash) {
                    &mut oldest_new
                } else {
                    &mut oldest_old
                };
                if slot.is_none() {
                    *slot = Some(p);
                } else {
                    plan.delete.push(name(p));
                }
            }
            if let (Some(new), Some(old)) = (oldest_new, oldest_old) {
                if !is_ready(old) || is_available(new, min_ready) {
                    plan.delete.push(name(old));
                }
            }
        } else {
            plan.delete
                .extend(pods.iter().filter(|p| !is_terminating(p)).map(name));
        }
    }
    for (node, pods) in by_node {
        if nodes.iter().any(|n| n.metadata.name.as_ref() == Some(node)) {
            continue;
        }
        plan.delete.extend(
            pods.iter()
                .filter(|p| !is_terminating(p))
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
                .map(name),
        );
    }
    plan
}

/// Upstream's `findUpdatedPodsOnNode`: (new pod, old pod), `None` when a node has more than one
/// of either.
fn updated_on_node<'a>(
    ds: &DaemonSet,
    pods: &'a [Pod],
    hash: &str,
) -> Option<(Option<&'a Pod>, Option<&'a Pod>)> {
    let (mut new, mut old) = (None, None);
    for p in pods.iter().filter(|p| !is_terminating(p)) {
        let slot = if is_updated(ds, p, hash) {
            &mut new
        } else {
            &mut old
        };
        if slot.is_some() {
            return None;
        }
        *slot = Some(p);
    }
    Some((new, old))
}

/// Upstream's `rollingUpdate`: old pods to delete (maxUnavailable) or nodes to surge onto.
pub fn rolling_update(ds: &DaemonSet, nodes: &[Node], by_node: &NodePods, hash: &str) -> Plan {
    let mut plan = Plan::default();
    let Some((surge, unavailable)) = rolling_params(ds) else {
        return plan;
    };
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    // Nodes that should run a pod count even without one.
    let mut all = by_node.clone();
    let mut desired = 0;
    for n in nodes {
        if should_run(ds, n).0 {
            desired += 1;
            all.entry(n.metadata.name.clone().unwrap_or_default())
                .or_default();
        }
    }
    let mut max_surge = scaled(surge.as_ref(), desired, 0);
    let mut max_unavailable = scaled(unavailable.as_ref(), desired, 1);
    if max_surge == 0 && max_unavailable == 0 {
        max_unavailable = 1;
    }
    if desired == 0 {
        max_surge = 0;
    }
    if max_surge == 0 {
        let mut num_unavailable = 0;
        let mut allowed = Vec::new();
        let mut candidates = Vec::new();
        for pods in all.values() {
            match updated_on_node(ds, pods, hash) {
                None | Some((None, None)) | Some((Some(_), Some(_))) => num_unavailable += 1,
                Some((Some(new), None)) => {
                    if !is_available(new, min_ready) {
                        num_unavailable += 1;
                    }
                }
                Some((None, Some(old))) => {
                    if !is_available(old, min_ready) {
                        allowed.push(name(old));
                    } else if num_unavailable < max_unavailable {
                        candidates.push(name(old));
                    }
                }
            }
        }
        let remaining = usize::try_from((max_unavailable - num_unavailable).max(0))
            .unwrap_or(0)
            .min(candidates.len());
        plan.delete = allowed;
        plan.delete.extend(candidates.into_iter().take(remaining));
        return plan;
    }
    let mut num_surge = 0;
    let mut allowed = Vec::new();
    let mut candidates = Vec::new();
    for (node, pods) in &all {
        match updated_on_node(ds, pods, hash) {
            None | Some((_, None)) => {}
            Some((None, Some(old))) => {
                if !is_available(old, min_ready) {
                    allowed.push(node.clone());
                } else if num_surge < max_surge {
                    candidates.push(node.clone());
                }
            }
            Some((Some(new), Some(old))) => {
                if !is_available(new, min_ready) {
                    num_surge += 1;
                } else {
                    plan.delete.push(name(old));
                }
            }
        }
    }
    let remaining = usize::try_from((max_surge - num_surge).max(0))
        .unwrap_or(0)
        .min(candidates.len());
    plan.create = allowed;
    plan.create.extend(candidates.into_iter().take(remaining));
    plan
}

/// Upstream's `updateDaemonSetStatus` counts.
pub fn status(ds: &DaemonSet, nodes: &[Node], by_node: &NodePods, hash: &str) -> DaemonSetStatus {
    let min_ready = ds
        .spec
        .as_ref()
        .and_then(|s| s.min_ready_seconds)
        .unwrap_or(0);
    let mut s = DaemonSetStatus {
        observed_generation: ds.metadata.generation,
        collision_count: ds.status.as_ref().and_then(|s| s.collision_count),
        conditions: ds.status.as_ref().and_then(|s| s.conditions.clone()),
        ..Default::default()
    };
    let (mut ready, mut available, mut updated) = (0, 0, 0);
    for node in nodes {
        let (run, _) = should_run(ds, node);
        let mut pods = by_node
            .get(node.metadata.name.as_deref().unwrap_or_default())
            .cloned()
            .unwrap_or_default();
        let scheduled = !pods.is_empty();
        if !run {
            if scheduled {
                s.number_misscheduled += 1;
            }
            continue;
        }
        s.desired_number_scheduled += 1;
        if !scheduled {
            continue;
        }
        s.current_number_scheduled += 1;
        pods.sort_by_key(order);
        let pod = &pods[0];
        if is_ready(pod) {
            ready += 1;
            if is_available(pod, min_ready) {
                available += 1;
            }
        }
        if is_updated(ds, pod, hash) {
            updated += 1;
        }
    }
    s.number_ready = ready;
    s.number_available = Some(available);
    s.updated_number_scheduled = Some(updated);
    s.number_unavailable = Some(s.desired_number_scheduled - available);
    s
}
