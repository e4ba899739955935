//! Which nodes a DaemonSet's pods belong on (upstream's `NodeShouldRunDaemonPod` and the
//! daemon pod template helpers of `pkg/controller/daemon/util`): node name, nodeSelector,
//! required node affinity, taints vs tolerations including the automatic daemon tolerations,
//! and the `matchFields metadata.name` affinity daemon pods are created with.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodSpec, Taint, Toleration,
};

/// The tolerations every daemon pod gets (upstream's `AddOrUpdateDaemonPodTolerations`).
pub fn daemon_tolerations(spec: &PodSpec) -> Vec<Toleration> {
    let tol = |key: &str, effect: &str| Toleration {
        key: Some(key.to_string()),
        operator: Some("Exists".to_string()),
        effect: Some(effect.to_string()),
        ..Default::default()
    };
    let mut out = vec![
        tol("node.kubernetes.io/not-ready", "NoExecute"),
        tol("node.kubernetes.io/unreachable", "NoExecute"),
        tol("node.kubernetes.io/disk-pressure", "NoSchedule"),
        tol("node.kubernetes.io/memory-pressure", "NoSchedule"),
        tol("node.kubernetes.io/pid-pressure", "NoSchedule"),
        tol("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if spec.host_network == Some(true) {
        out.push(tol("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    out
}

/// Adds `extra` tolerations to `spec`, replacing ones with the same key and effect
/// (upstream's `v1helper.AddOrUpdateTolerationInPodSpec`).
pub fn add_tolerations(spec: &mut PodSpec, extra: Vec<Toleration>) {
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    for t in extra {
        match list
            .iter_mut()
            .find(|o| o.key == t.key && o.effect == t.effect)
        {
            Some(existing) => *existing = t,
            None => list.push(t),
        }
    }
}

/// Upstream's `ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "" | "Equal" => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// Whether some taint with an effect accepted by `filter` is tolerated by none of `tols`.
fn has_untolerated(taints: &[Taint], tols: &[Toleration], filter: impl Fn(&Taint) -> bool) -> bool {
    taints
        .iter()
        .filter(|t| filter(t))
        .any(|taint| !tols.iter().any(|t| tolerates(t, taint)))
}

/// Upstream's node selector requirement matching on labels (`In`, `NotIn`, `Exists`,
/// `DoesNotExist`, `Gt`, `Lt`).
fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.clone().unwrap_or_default();
    let int = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => !value.is_some_and(|v| values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (value.and_then(int), values.first().and_then(|b| int(b)))
            else {
                return false;
            };
            if r.operator == "Gt" {
                v > bound
            } else {
                v < bound
            }
        }
        _ => false,
    }
}

/// Whether a node selector term matches (an empty term matches nothing).
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let exprs = term.match_expressions.clone().unwrap_or_default();
    let fields = term.match_fields.clone().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

/// Upstream's `GetRequiredNodeAffinity(pod).Match(node)`: nodeSelector and the required node
/// affinity terms (ORed).
pub fn affinity_matches(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let name = node.metadata.name.clone().unwrap_or_default();
    if let Some(sel) = &spec.node_selector {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        None => true,
        Some(r) => r
            .node_selector_terms
            .iter()
            .any(|t| term_matches(t, &labels, &name)),
    }
}

/// Upstream's `NodeShouldRunDaemonPod`: (should run, should continue running).
pub fn should_run(ds: &DaemonSet, node: &Node) -> (bool, bool) {
    let node_name = node.metadata.name.as_deref().unwrap_or_default();
    let mut spec = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.clone())
        .unwrap_or_default();
    if spec
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != node_name)
    {
        return (false, false);
    }
    let extra = daemon_tolerations(&spec);
    add_tolerations(&mut spec, extra);
    if !affinity_matches(&spec, node) {
        return (false, false);
    }
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    let tols = spec.tolerations.clone().unwrap_or_default();
    if has_untolerated(&taints, &tols, |t| {
        t.effect == "NoSchedule" || t.effect == "NoExecute"
    }) {
        let no_execute = has_untolerated(&taints, &tols, |t| t.effect == "NoExecute");
        return (false, !no_execute);
    }
    (true, true)
}

/// Upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`: the required node affinity pins the
/// pod to `node` through `matchFields metadata.name In [node]`.
pub fn pin_to_node(spec: &mut PodSpec, node: &str) {
    let field = NodeSelectorRequirement {
        key: "metadata.name".to_string(),
        operator: "In".to_string(),
        values: Some(vec![node.to_string()]),
    };
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let na = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    let required = na
        .required_during_scheduling_ignored_during_execution
        .get_or_insert_with(NodeSelector::default);
    if required.node_selector_terms.is_empty() {
        required
            .node_selector_terms
            .push(NodeSelectorTerm::default());
    }
    for term in &mut required.node_selector_terms {
        term.match_fields = Some(vec![field.clone()]);
    }
}

/// The node a daemon pod is on or pinned to (upstream's `GetTargetNodeName`).
pub fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        return Some(n.to_string());
    }
    spec.affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|f| f.key == "metadata.name" && f.operator == "In")
        .and_then(|f| f.values.as_ref())
        .filter(|v| v.len() == 1)
        .and_then(|v| v.first().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).expect("node")
    }

    fn ds(spec: serde_json::Value) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"selector": {}, "template": {"spec": spec}}
        }))
        .expect("ds")
    }

    #[test]
    fn taints_selectors_and_pinning() {
        let plain = ds(json!({"containers": []}));
        let n = node(json!({"metadata": {"name": "n1", "labels": {"disk": "ssd"}}}));
        assert_eq!(should_run(&plain, &n), (true, true));
        let tainted = node(json!({"metadata": {"name": "n2"},
            "spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}));
        assert_eq!(should_run(&plain, &tainted), (false, true));
        let exec = node(json!({"metadata": {"name": "n3"},
            "spec": {"taints": [{"key": "k", "effect": "NoExecute"}]}}));
        assert_eq!(should_run(&plain, &exec), (false, false));
        let unsched = node(json!({"metadata": {"name": "n4"}, "spec": {"taints": [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}}));
        assert_eq!(should_run(&plain, &unsched), (true, true));
        let sel = ds(json!({"containers": [], "nodeSelector": {"disk": "hdd"}}));
        assert_eq!(should_run(&sel, &n), (false, false));
        let mut spec = PodSpec::default();
        pin_to_node(&mut spec, "n1");
        assert!(affinity_matches(&spec, &n));
        assert!(!affinity_matches(&spec, &tainted));
        let pod = Pod {
            spec: Some(spec),
            ..Default::default()
        };
        assert_eq!(target_node(&pod).as_deref(), Some("n1"));
    }
}
