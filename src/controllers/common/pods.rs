//! Pod state as the workload controllers see it (upstream's `podutil.IsPodReady`,
//! `IsPodAvailable`, `controller.IsPodActive`) and the order in which surplus pods are deleted
//! (upstream's `ActivePodsWithRanks`).

use std::cmp::Ordering;
use std::collections::HashMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Annotation ordering pods for scale-down (lower cost is deleted first).
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Name of the pod index by controller (upstream's `PodControllerUIDIndex` plus the lookup of
/// orphans by namespace that `FilterPodsByOwner` does).
pub const BY_CONTROLLER: &str = "controller-uid";

/// Where [`BY_CONTROLLER`] files a pod: its controller's uid, or [`orphans_in`] its namespace.
pub fn controller_index(pod: &Pod) -> Vec<String> {
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    match controller {
        Some(o) => vec![o.uid.clone()],
        None => vec![orphans_in(
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        )],
    }
}

/// The [`BY_CONTROLLER`] value of the pods in `namespace` without a controller.
pub fn orphans_in(namespace: &str) -> String {
    format!("orphans/{namespace}")
}

/// Not terminal and not being deleted (upstream's `IsPodActive`).
pub fn is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded") | Some("Failed"))
        && pod.metadata.deletion_timestamp.is_none()
}

/// The `Ready` condition's transition time when it is `True`.
fn ready_since(pod: &Pod) -> Option<Option<Timestamp>> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// Whether the pod's `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// Ready for at least `min_ready_seconds` at `now` (upstream's `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i32, now: Timestamp) -> bool {
    match ready_since(pod) {
        None => false,
        Some(_) if min_ready_seconds <= 0 => true,
        Some(None) => false,
        Some(Some(t)) => t + SignedDuration::from_secs(i64::from(min_ready_seconds)) < now,
    }
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Pending") => 0,
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn node(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

fn deletion_cost(pod: &Pod) -> i32 {
    pod.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}

/// Upstream's `logarithmicRankDiff`: compares how old two times are in powers of two.
fn log_rank_diff(t1: Timestamp, t2: Timestamp, now: Timestamp) -> i64 {
    let rank = |t: Timestamp| {
        let d = now.duration_since(t).as_nanos();
        if d > 0 {
            (d as f64).log2() as i64
        } else {
            -1
        }
    };
    rank(t1) - rank(t2)
}

/// Compares two times "newer or zero first" with upstream's logarithmic buckets.
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    now: Timestamp,
    uids: (&str, &str),
) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) if x == y => Ordering::Equal,
        (Some(x), Some(y)) => match log_rank_diff(x, y, now) {
            0 => uids.0.cmp(uids.1),
            d if d < 0 => Ordering::Less,
            _ => Ordering::Greater,
        },
    }
}

/// Order of deletion: `Less` means `a` is deleted before `b`. `rank_*` is the number of related
/// pods on the pod's node (doubled-up pods go first).
pub fn deletion_order(a: &Pod, rank_a: usize, b: &Pod, rank_b: usize, now: Timestamp) -> Ordering {
    let (na, nb) = (node(a), node(b));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let c = phase_ordinal(a).cmp(&phase_ordinal(b));
    if c != Ordering::Equal {
        return c;
    }
    let (ra, rb) = (is_ready(a), is_ready(b));
    if ra != rb {
        return if ra {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    let c = deletion_cost(a).cmp(&deletion_cost(b));
    if c != Ordering::Equal {
        return c;
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    let uids = (
        a.metadata.uid.as_deref().unwrap_or_default(),
        b.metadata.uid.as_deref().unwrap_or_default(),
    );
    if ra && rb {
        let (ta, tb) = (ready_since(a).flatten(), ready_since(b).flatten());
        if ta != tb {
            let c = newer_first(ta, tb, now, uids);
            if c != Ordering::Equal {
                return c;
            }
        }
    }
    let c = max_restarts(b).cmp(&max_restarts(a));
    if c != Ordering::Equal {
        return c;
    }
    let (ca, cb) = (
        a.metadata.creation_timestamp.as_ref().map(|t| t.0),
        b.metadata.creation_timestamp.as_ref().map(|t| t.0),
    );
    newer_first(ca, cb, now, uids)
}

/// Picks the `n` pods of `pods` to delete first; `related` are all pods of the owner's family
/// (used to rank pods doubled up on a node).
pub fn pods_to_delete<'a>(pods: &[&'a Pod], related: &[&Pod], n: usize) -> Vec<&'a Pod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for p in related.iter().filter(|p| is_active(p)) {
        let nd = node(p);
        if !nd.is_empty() {
            *on_node.entry(nd).or_default() += 1;
        }
    }
    let now = Timestamp::now();
    let mut ranked: Vec<(&'a Pod, usize)> = pods
        .iter()
        .map(|p| (*p, on_node.get(node(p)).copied().unwrap_or(0)))
        .collect();
    ranked.sort_by(|(a, ra), (b, rb)| deletion_order(a, *ra, b, *rb, now));
    ranked.into_iter().take(n).map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, node: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"containers": [], "nodeName": node},
            "status": {"phase": phase, "conditions": [
                {"type": "Ready", "status": if ready {"True"} else {"False"},
                 "lastTransitionTime": "2024-01-01T00:00:10Z"}]}
        }))
        .expect("pod")
    }

    #[test]
    fn unscheduled_pending_unready_go_first() {
        let running = pod("running", "n1", "Running", true);
        let unready = pod("unready", "n1", "Running", false);
        let pending = pod("pending", "n1", "Pending", false);
        let unscheduled = pod("unscheduled", "", "Pending", false);
        let all = [&running, &unready, &pending, &unscheduled];
        let order: Vec<_> = pods_to_delete(&all, &all, 4)
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(order, ["unscheduled", "pending", "unready", "running"]);
    }

    #[test]
    fn availability_respects_min_ready_seconds() {
        let p = pod("a", "n", "Running", true);
        let now: Timestamp = "2024-01-01T00:00:20Z".parse().expect("ts");
        assert!(is_available(&p, 0, now));
        assert!(is_available(&p, 5, now));
        assert!(!is_available(&p, 30, now));
        assert!(!is_available(&pod("b", "n", "Running", false), 0, now));
    }
}
