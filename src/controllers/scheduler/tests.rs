//! Unit tests of the filters, scores, preemption and a decisions-per-second measurement.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};

use super::algorithm::Scheduler;
use super::cache::{Cache, NodeInfo};
use super::filters::{self, fit_error, Failure};
use super::scores;
use super::types::{NodeSpec, PodInfo};

fn node(name: &str, extra: Value) -> NodeSpec {
    let mut n = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    });
    merge(&mut n, extra);
    let n: Node = serde_json::from_value(n).expect("node");
    NodeSpec::from_node(&n).expect("node spec")
}

fn pod(name: &str, extra: Value) -> Arc<PodInfo> {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "c", "image": "i"}]}
    });
    merge(&mut p, extra);
    let p: Pod = serde_json::from_value(p).expect("pod");
    PodInfo::from_pod(&p).expect("pod info")
}

fn merge(a: &mut Value, b: Value) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn requests(cpu: &str, mem: &str) -> Value {
    json!({"spec": {"containers": [{"name": "c", "image": "i",
        "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}})
}

fn check(p: &PodInfo, n: &NodeInfo) -> Result<(), Failure> {
    let mut c = Cache::new();
    if let Some(s) = n.spec.clone() {
        c.set_node(s);
    }
    for q in &n.pods {
        c.add_pod(q.clone());
    }
    filters::filter(p, n, &filters::prefilter(p, &c))
}

fn reason(r: Result<(), Failure>) -> String {
    r.err().map(|f| f.reasons.join(";")).unwrap_or_default()
}

#[test]
fn unschedulable_node_needs_toleration() {
    let n = NodeInfo::new(node("a", json!({"spec": {"unschedulable": true}})));
    assert_eq!(
        reason(check(&pod("p", json!({})), &n)),
        filters::ERR_UNSCHEDULABLE
    );
    let tol = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}});
    assert!(check(&pod("p", tol), &n).is_ok());
}

#[test]
fn resources_fit_counts_requests_init_containers_and_pods() {
    let mut n = NodeInfo::new(node("a", json!({"status": {"allocatable": {"pods": "2"}}})));
    n.add_pod(pod("x", requests("3", "1Gi")));
    assert!(check(&pod("p", requests("1", "1Gi")), &n).is_ok());
    assert_eq!(
        reason(check(&pod("p", requests("1500m", "8Gi")), &n)),
        "Insufficient cpu;Insufficient memory"
    );
    let init = json!({"spec": {"initContainers": [{"name": "i", "image": "i",
        "resources": {"requests": {"cpu": "2"}}}]}});
    assert_eq!(reason(check(&pod("p", init), &n)), "Insufficient cpu");
    n.add_pod(pod("y", json!({})));
    assert_eq!(reason(check(&pod("p", json!({})), &n)), "Too many pods");
}

#[test]
fn node_name_filter() {
    let n = NodeInfo::new(node("a", json!({})));
    let p = pod("p", json!({"spec": {"nodeName": "b"}}));
    assert_eq!(reason(check(&p, &n)), filters::ERR_NODE_NAME);
}

#[test]
fn node_affinity_selector_and_terms() {
    let n = NodeInfo::new(node(
        "a",
        json!({"metadata": {"labels": {"disk": "ssd", "gen": "5"}}}),
    ));
    assert!(check(
        &pod("p", json!({"spec": {"nodeSelector": {"disk": "ssd"}}})),
        &n
    )
    .is_ok());
    assert_eq!(
        reason(check(
            &pod("p", json!({"spec": {"nodeSelector": {"disk": "hdd"}}})),
            &n
        )),
        filters::ERR_NODE_AFFINITY
    );
    let aff = |exprs: Value, fields: Value| {
        json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
            {"nodeSelectorTerms": [{"matchExpressions": exprs, "matchFields": fields}]}}}}})
    };
    let ok = |e: Value| check(&pod("p", aff(e, json!([]))), &n).is_ok();
    assert!(ok(
        json!([{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}])
    ));
    assert!(!ok(
        json!([{"key": "disk", "operator": "NotIn", "values": ["ssd"]}])
    ));
    assert!(ok(json!([{"key": "disk", "operator": "Exists"}])));
    assert!(ok(json!([{"key": "gpu", "operator": "DoesNotExist"}])));
    assert!(ok(
        json!([{"key": "gen", "operator": "Gt", "values": ["4"]}])
    ));
    assert!(!ok(
        json!([{"key": "gen", "operator": "Lt", "values": ["4"]}])
    ));
    let by_name = |name: &str| {
        aff(
            json!([]),
            json!([{"key": "metadata.name", "operator": "In", "values": [name]}]),
        )
    };
    assert!(check(&pod("p", by_name("a")), &n).is_ok());
    assert!(check(&pod("p", by_name("b")), &n).is_err());
}

#[test]
fn taints_need_tolerations() {
    let n = NodeInfo::new(node(
        "a",
        json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
    ));
    assert_eq!(
        reason(check(&pod("p", json!({})), &n)),
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    );
    let tol = json!({"spec": {"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]}});
    assert!(check(&pod("p", tol), &n).is_ok());
    let soft = NodeInfo::new(node(
        "b",
        json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}}),
    ));
    assert!(check(&pod("p", json!({})), &soft).is_ok());
    assert_eq!(scores::taint_raw(&pod("p", json!({})), &soft), 1);
}

#[test]
fn host_ports_conflict() {
    let ports = json!({"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}});
    let mut n = NodeInfo::new(node("a", json!({})));
    assert!(check(&pod("p", ports.clone()), &n).is_ok());
    n.add_pod(pod("x", ports.clone()));
    assert_eq!(reason(check(&pod("p", ports), &n)), filters::ERR_PORTS);
}

fn cluster(nodes: &[NodeSpec], pods: &[(&str, Arc<PodInfo>)]) -> Cache {
    let mut c = Cache::new();
    for n in nodes {
        c.set_node(n.clone());
    }
    for (node, p) in pods {
        let mut q = (**p).clone();
        q.node_name = node.to_string();
        c.add_pod(Arc::new(q));
    }
    c
}

fn feasible(p: &PodInfo, c: &Cache) -> Vec<String> {
    let st = filters::prefilter(p, c);
    c.live
        .iter()
        .filter(|i| filters::filter(p, &c.nodes[**i], &st).is_ok())
        .map(|i| c.nodes[*i].name.clone())
        .collect()
}

#[test]
fn inter_pod_affinity_and_anti_affinity() {
    let zone = |n: &str, z: &str| node(n, json!({"metadata": {"labels": {"zone": z}}}));
    let nodes = [zone("a", "z1"), zone("b", "z1"), zone("c", "z2")];
    let web = pod("web", json!({"metadata": {"labels": {"app": "web"}}}));
    let c = cluster(&nodes, &[("a", web)]);
    let term = |kind: &str| {
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"affinity": {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}]}}}})
    };
    assert_eq!(feasible(&pod("p", term("podAffinity")), &c), ["a", "b"]);
    assert_eq!(feasible(&pod("p", term("podAntiAffinity")), &c), ["c"]);
    // The existing pod's anti-affinity keeps matching pods out of its zone.
    let guard = pod("g", term("podAntiAffinity"));
    let c = cluster(&nodes, &[("a", guard)]);
    let web = pod("p", json!({"metadata": {"labels": {"app": "web"}}}));
    assert_eq!(feasible(&web, &c), ["c"]);
    // The first pod of a self-affine group may go anywhere.
    let c = cluster(&nodes, &[]);
    assert_eq!(feasible(&pod("p", term("podAffinity")), &c).len(), 3);
}

#[test]
fn topology_spread_do_not_schedule() {
    let zone = |n: &str, z: &str| node(n, json!({"metadata": {"labels": {"zone": z}}}));
    let nodes = [zone("a", "z1"), zone("b", "z2"), node("c", json!({}))];
    let labeled = |n: &str| pod(n, json!({"metadata": {"labels": {"app": "web"}}}));
    let c = cluster(&nodes, &[("a", labeled("x")), ("a", labeled("y"))]);
    let p = pod(
        "p",
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
             "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
    );
    assert_eq!(feasible(&p, &c), ["b"]);
    let st = filters::prefilter(&p, &c);
    let i = c.node_index("c").expect("c");
    assert_eq!(
        reason(filters::filter(&p, &c.nodes[i], &st)),
        filters::ERR_SPREAD_LABEL
    );
}

#[test]
fn scores_least_allocated_and_balanced() {
    let mut busy = NodeInfo::new(node("a", json!({})));
    busy.add_pod(pod("x", requests("2", "1Gi")));
    let idle = NodeInfo::new(node("b", json!({})));
    let p = pod("p", requests("1", "1Gi"));
    assert!(scores::least_allocated(&p, &idle) > scores::least_allocated(&p, &busy));
    // cpu 1/4, memory 1/8 → std 1/16 → 93.75
    assert_eq!(scores::balanced_allocation(&p, &idle), Some(93));
    assert_eq!(
        scores::balanced_allocation(&pod("be", json!({})), &idle),
        None
    );
    let mut s = vec![0, 5, 10];
    scores::normalize(&mut s, false);
    assert_eq!(s, [0, 50, 100]);
    let mut s = vec![0, 1];
    scores::normalize(&mut s, true);
    assert_eq!(s, [100, 0]);
}

#[test]
fn preferred_node_affinity_and_pod_affinity_win() {
    let nodes = [
        node("a", json!({"metadata": {"labels": {"disk": "hdd"}}})),
        node("b", json!({"metadata": {"labels": {"disk": "ssd"}}})),
    ];
    let mut s = Scheduler::new();
    s.cache = cluster(&nodes, &[]);
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}}}),
    );
    for _ in 0..5 {
        let i = s.schedule(&p).expect("fits");
        assert_eq!(s.cache.nodes[i].name, "b");
    }
    let db = pod("db", json!({"metadata": {"labels": {"app": "db"}}}));
    s.cache = cluster(&nodes, &[("a", db)]);
    let p = pod(
        "p",
        json!({"spec": {"affinity": {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}}]}}}}),
    );
    for _ in 0..5 {
        let i = s.schedule(&p).expect("fits");
        assert_eq!(s.cache.nodes[i].name, "a");
    }
}

#[test]
fn spread_schedule_anyway_prefers_emptier_domain() {
    let nodes = [node("a", json!({})), node("b", json!({}))];
    let labeled = |n: &str| pod(n, json!({"metadata": {"labels": {"app": "web"}}}));
    let mut s = Scheduler::new();
    s.cache = cluster(&nodes, &[("a", labeled("x")), ("a", labeled("y"))]);
    let p = pod(
        "p",
        json!({"metadata": {"labels": {"app": "web"}}, "spec": {"topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": "web"}}}]}}),
    );
    let i = s.schedule(&p).expect("fits");
    assert_eq!(s.cache.nodes[i].name, "b");
}

#[test]
fn fit_error_message_as_upstream() {
    let nodes = [
        node(
            "cp",
            json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
        ),
        node("w1", json!({})),
        node("w2", json!({})),
    ];
    let mut s = Scheduler::new();
    s.cache = cluster(&nodes, &[]);
    let p = pod("p", requests("8", "1Gi"));
    let fit = s.schedule(&p).expect_err("unschedulable");
    let post = s.preempt(&p, &fit).expect_err("no preemption");
    assert_eq!(
        fit.message(Some(&post)),
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
    );
    assert_eq!(fit_error(0, &[], None), "0/0 nodes are available:");
}

#[test]
fn preemption_picks_lowest_priority_victims() {
    let nodes = [node("a", json!({})), node("b", json!({}))];
    let low = |n: &str, prio: i32| {
        let mut v = requests("3", "1Gi");
        merge(&mut v, json!({"spec": {"priority": prio}}));
        pod(n, v)
    };
    let mut s = Scheduler::new();
    s.cache = cluster(&nodes, &[("a", low("x", 10)), ("b", low("y", 50))]);
    let mut v = requests("2", "1Gi");
    merge(&mut v, json!({"spec": {"priority": 100}}));
    let p = pod("p", v);
    let fit = s.schedule(&p).expect_err("unschedulable");
    let (node, victims) = s.preempt(&p, &fit).expect("preempts");
    assert_eq!(s.cache.nodes[node].name, "a");
    assert_eq!(victims.len(), 1);
    assert_eq!(victims[0].name, "x");
}

/// Measures scheduling decisions per second on 1,000 synthetic nodes (no API); prints, never
/// asserts a timing.
#[test]
fn decisions_per_second_on_1000_nodes() {
    let mut s = Scheduler::new();
    for i in 0..1000 {
        s.cache.set_node(node(
            &format!("node-{i}"),
            json!({"metadata": {"labels": {"zone": format!("z{}", i % 3)}},
                   "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"}}}),
        ));
    }
    let n = 5000;
    let pods: Vec<Arc<PodInfo>> = (0..n)
        .map(|i| pod(&format!("p{i}"), requests("100m", "128Mi")))
        .collect();
    let start = Instant::now();
    for p in &pods {
        let node = s.schedule(p).expect("fits");
        s.assume(p, node);
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "scheduler: {n} decisions on 1000 nodes in {secs:.2}s = {:.0} decisions/s",
        n as f64 / secs
    );
}
