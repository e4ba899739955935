//! Filter plugins, in upstream's order: NodeUnschedulable, NodeName, TaintToleration,
//! NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity. A node fails
//! at the first plugin that rejects it, with that plugin's reasons (upstream's messages).

use std::collections::HashMap;

use super::cache::{Cache, NodeInfo};
use super::types::{PodInfo, Taint};

/// `NodeUnschedulable`'s reason.
pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// `NodeName`'s reason.
pub const ERR_NODE_NAME: &str = "node(s) didn't match the requested node name";
/// `NodeAffinity`'s reason.
pub const ERR_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
/// `NodePorts`' reason.
pub const ERR_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
/// `NodeResourcesFit`'s reason for the pod count.
pub const ERR_TOO_MANY_PODS: &str = "Too many pods";
/// `PodTopologySpread`'s reason.
pub const ERR_SPREAD: &str = "node(s) didn't match pod topology spread constraints";
/// `PodTopologySpread`'s reason for nodes without a constraint's label.
pub const ERR_SPREAD_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";
/// `InterPodAffinity`: an existing pod's anti-affinity forbids the node.
pub const ERR_EXISTING_ANTI: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
/// `InterPodAffinity`: the pod's affinity is not satisfied.
pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// `InterPodAffinity`: the pod's anti-affinity is not satisfied.
pub const ERR_ANTI: &str = "node(s) didn't match pod anti-affinity rules";

/// Why a node was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Upstream's reasons (counted per reason in the FitError message).
    pub reasons: Vec<String>,
    /// `UnschedulableAndUnresolvable`: preemption cannot help on this node.
    pub unresolvable: bool,
}

impl Failure {
    fn one(reason: &str, unresolvable: bool) -> Failure {
        Failure {
            reasons: vec![reason.to_string()],
            unresolvable,
        }
    }
}

/// A topology domain: label key and value.
type Pair = (String, String);

/// What the PreFilter stage computed for one pod over the whole cluster.
#[derive(Default)]
pub struct CycleState {
    /// Per hard spread constraint: matching pods per domain value, and the domains seen.
    spread: Vec<HashMap<String, i64>>,
    /// Domains in which an existing pod's required anti-affinity matches the pod.
    existing_anti: HashMap<Pair, i64>,
    /// Pods matching all the pod's required affinity terms, per domain.
    affinity: HashMap<Pair, i64>,
    /// Pods matching one of the pod's required anti-affinity terms, per domain.
    anti: HashMap<Pair, i64>,
}

/// Whether the node's labels satisfy the pod's nodeSelector and required node affinity.
pub fn node_affinity_matches(pod: &PodInfo, node: &NodeInfo) -> bool {
    let Some(spec) = &node.spec else { return false };
    if !pod
        .node_selector
        .iter()
        .all(|(k, v)| spec.labels.get(k) == Some(v))
    {
        return false;
    }
    match &pod.required_terms {
        None => true,
        Some(terms) => terms.iter().any(|t| t.matches(&spec.name, &spec.labels)),
    }
}

/// Upstream's PreFilter for PodTopologySpread and InterPodAffinity.
pub fn prefilter(pod: &PodInfo, cache: &Cache) -> CycleState {
    let mut st = CycleState::default();
    let hard: Vec<_> = pod.spread.iter().filter(|c| c.hard).collect();
    if !hard.is_empty() {
        st.spread = vec![HashMap::new(); hard.len()];
        for i in &cache.live {
            let node = &cache.nodes[*i];
            let Some(labels) = node.labels() else {
                continue;
            };
            if !node_affinity_matches(pod, node)
                || !hard.iter().all(|c| labels.contains_key(&c.topology_key))
            {
                continue;
            }
            for (k, c) in hard.iter().enumerate() {
                let Some(value) = labels.get(&c.topology_key) else {
                    continue;
                };
                let n = node
                    .pods
                    .iter()
                    .filter(|p| {
                        p.namespace == pod.namespace
                            && !p.terminating
                            && c.selector.matches(&p.labels)
                    })
                    .count() as i64;
                *st.spread[k].entry(value.clone()).or_insert(0) += n;
            }
        }
    }
    let has_terms = !pod.affinity.is_empty() || !pod.anti_affinity.is_empty();
    for node in &cache.nodes {
        if node.pods.is_empty() || (!has_terms && node.with_anti_affinity == 0) {
            continue;
        }
        let Some(labels) = node.labels() else {
            continue;
        };
        for existing in &node.pods {
            for t in &existing.anti_affinity {
                if let Some(v) = labels.get(&t.topology_key) {
                    if t.matches(pod) {
                        *st.existing_anti
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_insert(0) += 1;
                    }
                }
            }
            if !has_terms {
                continue;
            }
            if !pod.affinity.is_empty() && pod.affinity.iter().all(|t| t.matches(existing)) {
                for t in &pod.affinity {
                    if let Some(v) = labels.get(&t.topology_key) {
                        *st.affinity
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_insert(0) += 1;
                    }
                }
            }
            for t in &pod.anti_affinity {
                if let Some(v) = labels.get(&t.topology_key) {
                    if t.matches(existing) {
                        *st.anti
                            .entry((t.topology_key.clone(), v.clone()))
                            .or_insert(0) += 1;
                    }
                }
            }
        }
    }
    st
}

/// Runs the filters on one node.
pub fn filter(pod: &PodInfo, node: &NodeInfo, st: &CycleState) -> Result<(), Failure> {
    let Some(spec) = &node.spec else {
        return Err(Failure::one("node(s) not found", true));
    };
    // NodeUnschedulable
    if spec.unschedulable {
        let tolerated = pod.tolerations.iter().any(|t| {
            t.tolerates(&Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: String::new(),
                effect: "NoSchedule".into(),
            })
        });
        if !tolerated {
            return Err(Failure::one(ERR_UNSCHEDULABLE, true));
        }
    }
    // NodeName
    if !pod.node_name.is_empty() && pod.node_name != spec.name {
        return Err(Failure::one(ERR_NODE_NAME, true));
    }
    // TaintToleration
    if let Some(t) = spec.taints.iter().find(|t| {
        (t.effect == "NoSchedule" || t.effect == "NoExecute")
            && !pod.tolerations.iter().any(|tol| tol.tolerates(t))
    }) {
        return Err(Failure::one(
            &format!("node(s) had untolerated taint {{{}: {}}}", t.key, t.value),
            true,
        ));
    }
    // NodeAffinity
    if !node_affinity_matches(pod, node) {
        return Err(Failure::one(ERR_NODE_AFFINITY, true));
    }
    // NodePorts
    if !pod.host_ports.is_empty() && ports_conflict(pod, node) {
        return Err(Failure::one(ERR_PORTS, false));
    }
    // NodeResourcesFit
    fit(pod, node)?;
    // PodTopologySpread
    spread_filter(pod, node, st)?;
    // InterPodAffinity
    affinity_filter(pod, node, st)
}

fn ports_conflict(pod: &PodInfo, node: &NodeInfo) -> bool {
    pod.host_ports.iter().any(|(proto, ip, port)| {
        node.ports.iter().any(|(p2, ip2, port2)| {
            port == port2 && proto == p2 && (ip == ip2 || ip == "0.0.0.0" || ip2 == "0.0.0.0")
        })
    })
}

/// NodeResourcesFit's filter: the pod count and every requested resource.
pub fn fit(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    let Some(spec) = &node.spec else {
        return Ok(());
    };
    let mut reasons = Vec::new();
    if node.pods.len() as i64 + 1 > spec.allowed_pods {
        reasons.push(ERR_TOO_MANY_PODS.to_string());
    }
    let r = &pod.requests;
    let a = &spec.allocatable;
    let u = &node.requested;
    if r.cpu > 0 && r.cpu > a.cpu - u.cpu {
        reasons.push("Insufficient cpu".to_string());
    }
    if r.memory > 0 && r.memory > a.memory - u.memory {
        reasons.push("Insufficient memory".to_string());
    }
    if r.ephemeral > 0 && r.ephemeral > a.ephemeral - u.ephemeral {
        reasons.push("Insufficient ephemeral-storage".to_string());
    }
    for (k, v) in &r.scalar {
        let avail = a.scalar.get(k).copied().unwrap_or(0) - u.scalar.get(k).copied().unwrap_or(0);
        if *v > 0 && *v > avail {
            reasons.push(format!("Insufficient {k}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Failure {
            reasons,
            unresolvable: false,
        })
    }
}

fn spread_filter(pod: &PodInfo, node: &NodeInfo, st: &CycleState) -> Result<(), Failure> {
    let Some(labels) = node.labels() else {
        return Ok(());
    };
    for (k, c) in pod.spread.iter().filter(|c| c.hard).enumerate() {
        let Some(value) = labels.get(&c.topology_key) else {
            return Err(Failure::one(ERR_SPREAD_LABEL, true));
        };
        let counts = st.spread.get(k);
        let count = |v: &str| counts.and_then(|m| m.get(v)).copied().unwrap_or(0);
        let self_match = i64::from(c.selector.matches(&pod.labels));
        let domains = counts.map(|m| m.len() as i64).unwrap_or(0);
        // With fewer domains than minDomains the global minimum is 0.
        let min = if domains < c.min_domains {
            0
        } else {
            counts.and_then(|m| m.values().min().copied()).unwrap_or(0)
        };
        if count(value) + self_match - min > c.max_skew {
            return Err(Failure::one(ERR_SPREAD, false));
        }
    }
    Ok(())
}

fn affinity_filter(pod: &PodInfo, node: &NodeInfo, st: &CycleState) -> Result<(), Failure> {
    let Some(labels) = node.labels() else {
        return Ok(());
    };
    if !st.existing_anti.is_empty()
        && labels.iter().any(|(k, v)| {
            st.existing_anti
                .get(&(k.clone(), v.clone()))
                .is_some_and(|n| *n > 0)
        })
    {
        return Err(Failure::one(ERR_EXISTING_ANTI, false));
    }
    if !pod.affinity.is_empty() {
        let satisfied = pod.affinity.iter().all(|t| {
            labels.get(&t.topology_key).is_some_and(|v| {
                st.affinity
                    .get(&(t.topology_key.clone(), v.clone()))
                    .is_some_and(|n| *n > 0)
            })
        });
        if !satisfied {
            // The first pod of a group that matches its own terms may go anywhere with the keys.
            let first = st.affinity.is_empty()
                && pod.affinity.iter().all(|t| t.matches(pod))
                && pod
                    .affinity
                    .iter()
                    .all(|t| labels.contains_key(&t.topology_key));
            if !first {
                return Err(Failure::one(ERR_AFFINITY, true));
            }
        }
    }
    for t in &pod.anti_affinity {
        if let Some(v) = labels.get(&t.topology_key) {
            if st
                .anti
                .get(&(t.topology_key.clone(), v.clone()))
                .is_some_and(|n| *n > 0)
            {
                return Err(Failure::one(ERR_ANTI, false));
            }
        }
    }
    Ok(())
}

/// Upstream's `FitError.Error()` for `all` nodes and the per-node failures, plus the
/// preemption (PostFilter) message when there is one.
pub fn fit_error(all: usize, failures: &[Failure], post: Option<&str>) -> String {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for f in failures {
        for r in &f.reasons {
            *counts.entry(r.as_str()).or_insert(0) += 1;
        }
    }
    let mut parts: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
    parts.sort();
    let mut msg = format!("0/{all} nodes are available:");
    if !parts.is_empty() {
        msg.push_str(&format!(" {}.", parts.join(", ")));
    }
    if let Some(p) = post {
        // The preemption message is itself a FitError message ending in a period.
        msg.push_str(&format!(" {}.", p.trim_end_matches('.')));
    }
    msg
}
