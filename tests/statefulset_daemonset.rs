//! StatefulSet and DaemonSet controllers against a real server, driven by the real kubectl.
//!
//! No scheduler or kubelet runs here: Node objects are created by the test, and
//! [`mark_ready`] stands in for scheduler + kubelet by patching a pod's status to Running with
//! a `Ready=True` condition through the status subresource.

mod common;

use std::time::Duration;

use common::{eventually, unique_ns, Server};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Stands in for the scheduler and kubelet: the pod becomes Running and Ready.
fn mark_ready(s: &Server, ns: &str, pod: &str) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let patch = format!(
        r#"{{"status":{{"phase":"Running","conditions":[{{"type":"Ready","status":"True","lastTransitionTime":"{now}"}}]}}}}"#
    );
    s.kubectl_ok(&[
        "-n",
        ns,
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&s.kubectl_ok(&a)).expect("json")
}

/// Pods in `ns` as (name, json).
fn pods(s: &Server, ns: &str) -> Vec<Value> {
    get_json(s, &["-n", ns, "get", "pods"])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn pod_exists(s: &Server, ns: &str, name: &str) -> bool {
    pods(s, ns)
        .iter()
        .any(|p| p["metadata"]["name"] == name && p["metadata"]["deletionTimestamp"].is_null())
}

fn label(p: &Value, key: &str) -> String {
    p["metadata"]["labels"][key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

const STS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1
        volumeMounts:
        - {name: data, mountPath: /data}
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: [ReadWriteOnce]
      resources:
        requests: {storage: 1Gi}
"#;

/// Waits until pod `name` exists, checks that `absent` does not appear meanwhile, and makes it
/// Ready.
fn expect_next(s: &Server, ns: &str, name: &str, absent: &str) {
    assert!(
        eventually(WAIT, || pod_exists(s, ns, name)),
        "{name} not created; log:\n{}",
        s.log()
    );
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !pod_exists(s, ns, absent),
        "{absent} created before {name} was Ready"
    );
    mark_ready(s, ns, name);
}

#[test]
fn statefulset_ordered_pvcs_rolling_update_scale_down() {
    let s = Server::start_without_node_lifecycle();
    let ns = unique_ns("sts");
    s.kubectl_ok(&["create", "namespace", &ns]);
    s.kubectl_stdin_ok(&["-n", &ns, "create", "-f", "-"], STS);

    // OrderedReady: web-1 only after web-0 is Ready, web-2 only after web-1.
    expect_next(&s, &ns, "web-0", "web-1");
    expect_next(&s, &ns, "web-1", "web-2");
    assert!(eventually(WAIT, || pod_exists(&s, &ns, "web-2")));
    mark_ready(&s, &ns, "web-2");

    // Identity, storage and revision label of a pod.
    let p = get_json(&s, &["-n", &ns, "get", "pod", "web-1"]);
    assert_eq!(label(&p, "statefulset.kubernetes.io/pod-name"), "web-1");
    assert_eq!(label(&p, "apps.kubernetes.io/pod-index"), "1");
    assert!(label(&p, "controller-revision-hash").starts_with("web-"));
    assert_eq!(p["spec"]["hostname"], "web-1");
    assert_eq!(p["spec"]["subdomain"], "web");
    let vols = p["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    assert!(
        vols.iter()
            .any(|v| v["name"] == "data" && v["persistentVolumeClaim"]["claimName"] == "data-web-1"),
        "{vols:?}"
    );
    let pvcs = s.kubectl_ok(&["-n", &ns, "get", "pvc", "-o", "name"]);
    for i in 0..3 {
        assert!(pvcs.contains(&format!("data-web-{i}")), "{pvcs}");
    }
    let events = s.kubectl_ok(&["-n", &ns, "get", "events"]);
    assert!(
        events.contains("create Pod web-0 in StatefulSet web successful"),
        "{events}"
    );

    s.kubectl_ok(&["-n", &ns, "rollout", "status", "sts/web", "--timeout=30s"]);
    let revs = s.kubectl_ok(&["-n", &ns, "get", "controllerrevisions", "-o", "name"]);
    assert_eq!(revs.lines().count(), 1, "{revs}");
    let first_rev = label(&p, "controller-revision-hash");
    assert!(revs.contains(&first_rev), "{revs} vs {first_rev}");

    // Image update rolls from the highest ordinal down, one pod at a time.
    s.kubectl_ok(&["-n", &ns, "set", "image", "sts/web", "nginx=nginx:2"]);
    for (i, name) in ["web-2", "web-1", "web-0"].iter().enumerate() {
        assert!(
            eventually(WAIT, || {
                pods(&s, &ns).iter().any(|p| {
                    p["metadata"]["name"] == *name
                        && label(p, "controller-revision-hash") != first_rev
                })
            }),
            "{name} not updated; log:\n{}",
            s.log()
        );
        // Lower ordinals are untouched while this one is not Ready.
        for lower in ["web-0", "web-1", "web-2"].iter().take(2 - i) {
            let p = get_json(&s, &["-n", &ns, "get", "pod", lower]);
            assert_eq!(label(&p, "controller-revision-hash"), first_rev, "{lower}");
        }
        let p = get_json(&s, &["-n", &ns, "get", "pod", name]);
        assert_eq!(p["spec"]["containers"][0]["image"], "nginx:2");
        mark_ready(&s, &ns, name);
    }
    s.kubectl_ok(&["-n", &ns, "rollout", "status", "sts/web", "--timeout=30s"]);
    let st = get_json(&s, &["-n", &ns, "get", "sts", "web"]);
    assert_eq!(
        st["status"]["currentRevision"],
        st["status"]["updateRevision"]
    );
    assert_eq!(st["status"]["updatedReplicas"], 3);
    assert_eq!(st["status"]["readyReplicas"], 3);
    let history = s.kubectl_ok(&["-n", &ns, "rollout", "history", "sts/web"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");

    // Undo goes back to the first template (a new update revision with the old data).
    s.kubectl_ok(&["-n", &ns, "rollout", "undo", "sts/web"]);
    assert!(eventually(WAIT, || {
        let st = get_json(&s, &["-n", &ns, "get", "sts", "web"]);
        st["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
            && st["status"]["updateRevision"] == first_rev.as_str()
    }));

    // Scale down removes the highest ordinal first; claims are retained.
    s.kubectl_ok(&["-n", &ns, "scale", "sts/web", "--replicas=2"]);
    assert!(eventually(WAIT, || !pod_exists(&s, &ns, "web-2")));
    assert!(pod_exists(&s, &ns, "web-0"));
    let pvcs = s.kubectl_ok(&["-n", &ns, "get", "pvc", "-o", "name"]);
    assert!(pvcs.contains("data-web-2"), "{pvcs}");
}

#[test]
fn statefulset_parallel_creates_all_at_once() {
    let s = Server::start_without_node_lifecycle();
    let ns = unique_ns("stsp");
    s.kubectl_ok(&["create", "namespace", &ns]);
    let manifest = STS.replace(
        "  serviceName: web\n",
        "  serviceName: web\n  podManagementPolicy: Parallel\n",
    );
    s.kubectl_stdin_ok(&["-n", &ns, "create", "-f", "-"], &manifest);
    assert!(eventually(WAIT, || {
        ["web-0", "web-1", "web-2"]
            .iter()
            .all(|n| pod_exists(&s, &ns, n))
    }));
}

fn node_manifest(name: &str, taint: bool) -> String {
    let taints = if taint {
        "  taints:\n  - {key: dedicated, value: db, effect: NoSchedule}\n"
    } else {
        ""
    };
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels: {{kubernetes.io/hostname: {name}}}\nspec:\n{taints}status:\n  capacity: {{cpu: '4', memory: 8Gi, pods: '110'}}\n  allocatable: {{cpu: '4', memory: 8Gi, pods: '110'}}\n  conditions:\n  - {{type: Ready, status: 'True', reason: KubeletReady, message: ready}}\n"
    )
}

const DS: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: agent:1
"#;

/// The node a daemon pod is pinned to through its required node affinity.
fn pinned_node(p: &Value) -> String {
    let f = &p["spec"]["affinity"]["nodeAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"]
        [0];
    assert_eq!(f["key"], "metadata.name", "{p}");
    assert_eq!(f["operator"], "In", "{p}");
    f["values"][0].as_str().unwrap_or_default().to_string()
}

#[test]
fn daemonset_one_pod_per_node_taints_and_rolling_update() {
    let s = Server::start_without_node_lifecycle();
    let ns = unique_ns("ds");
    s.kubectl_ok(&["create", "namespace", &ns]);
    for i in 1..=5 {
        s.kubectl_stdin_ok(
            &["create", "-f", "-"],
            &node_manifest(&format!("node-{i}"), false),
        );
    }
    s.kubectl_stdin_ok(&["create", "-f", "-"], &node_manifest("tainted", true));
    s.kubectl_stdin_ok(&["-n", &ns, "create", "-f", "-"], DS);

    let live = |s: &Server| -> Vec<Value> {
        pods(s, &ns)
            .into_iter()
            .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
            .collect()
    };
    assert!(
        eventually(WAIT, || live(&s).len() == 5),
        "pods: {:?}; log:\n{}",
        live(&s).len(),
        s.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let ps = live(&s);
    assert_eq!(ps.len(), 5);
    let mut nodes: Vec<String> = ps.iter().map(pinned_node).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3", "node-4", "node-5"]);
    let tols = ps[0]["spec"]["tolerations"].to_string();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    ] {
        assert!(tols.contains(key), "{tols}");
    }
    let first_hash = label(&ps[0], "controller-revision-hash");
    assert!(!first_hash.is_empty());
    assert_eq!(label(&ps[0], "pod-template-generation"), "1");
    let revs = s.kubectl_ok(&["-n", &ns, "get", "controllerrevisions", "-o", "name"]);
    assert!(revs.contains(&format!("agent-{first_hash}")), "{revs}");

    for p in &ps {
        mark_ready(&s, &ns, p["metadata"]["name"].as_str().unwrap_or_default());
    }
    s.kubectl_ok(&["-n", &ns, "rollout", "status", "ds/agent", "--timeout=30s"]);
    let st = get_json(&s, &["-n", &ns, "get", "ds", "agent"]);
    assert_eq!(st["status"]["desiredNumberScheduled"], 5);
    assert_eq!(st["status"]["currentNumberScheduled"], 5);
    assert_eq!(st["status"]["numberReady"], 5);
    assert_eq!(st["status"]["numberAvailable"], 5);
    assert_eq!(st["status"]["updatedNumberScheduled"], 5);

    // RollingUpdate (maxUnavailable 1): at most one node without an available pod at a time.
    s.kubectl_ok(&["-n", &ns, "set", "image", "ds/agent", "agent=agent:2"]);
    let done = eventually(Duration::from_secs(60), || {
        let ps = live(&s);
        let old_unready = ps
            .iter()
            .filter(|p| p["status"]["phase"] != "Running")
            .count();
        assert!(old_unready <= 1, "more than one unavailable: {old_unready}");
        for p in &ps {
            if p["status"]["phase"] != "Running" {
                mark_ready(&s, &ns, p["metadata"]["name"].as_str().unwrap_or_default());
            }
        }
        // As a kubelet would, finish the deletion of pods the controller deleted (the scheduler
        // bound them to a node, so their deletion waits for the node's kubelet).
        for p in pods(&s, &ns) {
            if !p["metadata"]["deletionTimestamp"].is_null() {
                let name = p["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let _ = s.kubectl(&[
                    "-n",
                    &ns,
                    "delete",
                    "pod",
                    &name,
                    "--grace-period=0",
                    "--force",
                    "--wait=false",
                ]);
            }
        }
        ps.len() == 5
            && ps
                .iter()
                .all(|p| label(p, "controller-revision-hash") != first_hash)
    });
    assert!(done, "rolling update incomplete; log:\n{}", s.log());
    s.kubectl_ok(&["-n", &ns, "rollout", "status", "ds/agent", "--timeout=30s"]);
    let revs = s.kubectl_ok(&["-n", &ns, "get", "controllerrevisions", "-o", "name"]);
    assert_eq!(revs.lines().count(), 2, "{revs}");
}
