//! Simulated nodes and the node lifecycle with the real kubectl: `--simulated-nodes` registers
//! Ready nodes with Leases, pods bound to them run (IPs, readiness, completion, crash loops,
//! deletion), a paused node goes Unknown, is tainted and loses its pods, annotated Nodes are
//! adopted, and pods of deleted nodes are garbage collected.

mod common;

use std::time::Duration;

use common::{eventually, Server};
use serde_json::Value;

/// A short grace period so the lifecycle tests take seconds (leases renew every 1.5 s).
const GRACE: &str = "6s";

fn start(nodes: &str) -> Server {
    Server::start_with(&[
        "--simulated-nodes",
        nodes,
        "--node-monitor-grace-period",
        GRACE,
    ])
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    json(&s.kubectl_ok(&a))
}

/// `kubectl get nodes` lines that say Ready with the simulated kubelet version.
fn ready_nodes(s: &Server) -> usize {
    s.kubectl_ok(&["get", "nodes", "--no-headers"])
        .lines()
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1) == Some(&"Ready") && cols.get(4) == Some(&"v1.33.1")
        })
        .count()
}

fn pod_yaml(name: &str, node: &str, extra_spec: &str, container: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeName: {node}\n{extra_spec}  containers:\n  - name: c\n    image: busybox\n{container}"
    )
}

#[test]
fn simulated_nodes_are_ready_with_leases_and_annotated_nodes_are_adopted() {
    let s = start("3");
    assert!(
        eventually(Duration::from_secs(20), || ready_nodes(&s) == 3),
        "{}",
        s.kubectl_ok(&["get", "nodes"])
    );
    // Leases are renewed concurrently with status writes: wait for all three.
    let has_leases = || {
        let leases = s.kubectl_ok(&["get", "leases", "-n", "kube-node-lease", "--no-headers"]);
        (0..3).all(|i| leases.contains(&format!("sim-node-{i} ")))
    };
    assert!(
        eventually(Duration::from_secs(20), has_leases),
        "{}",
        s.kubectl_ok(&["get", "leases", "-n", "kube-node-lease"])
    );
    let node = get_json(&s, &["node", "sim-node-1"]);
    assert_eq!(node["metadata"]["labels"]["type"], "simulated");
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "sim-node-1"
    );
    assert_eq!(
        node["metadata"]["annotations"]["skiff.dev/simulated"],
        "true"
    );
    assert_eq!(node["spec"]["podCIDR"], "10.42.1.0/24");
    assert_eq!(node["status"]["capacity"]["cpu"], "32");
    assert_eq!(node["status"]["capacity"]["memory"], "256Gi");
    assert_eq!(node["status"]["capacity"]["pods"], "110");
    assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], "v1.33.1");
    let types: Vec<(String, String)> = node["status"]["conditions"]
        .as_array()
        .map(|c| {
            c.iter()
                .map(|c| {
                    (
                        c["type"].as_str().unwrap_or_default().to_string(),
                        c["status"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for (t, st) in [
        ("Ready", "True"),
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
        ("NetworkUnavailable", "False"),
    ] {
        assert!(types.contains(&(t.into(), st.into())), "{types:?}");
    }
    // Leases keep being renewed.
    let renew = |s: &Server| {
        get_json(s, &["lease", "sim-node-0", "-n", "kube-node-lease"])["spec"]["renewTime"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let first = renew(&s);
    assert!(eventually(Duration::from_secs(10), || renew(&s) != first));

    // A Node created later with the annotation is adopted.
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: extra\n  annotations:\n    skiff.dev/simulated: \"true\"\n",
    );
    assert!(
        eventually(Duration::from_secs(20), || ready_nodes(&s) == 4),
        "{}",
        s.kubectl_ok(&["get", "nodes"])
    );
    assert!(eventually(Duration::from_secs(10), || s
        .kubectl_ok(&["get", "leases", "-n", "kube-node-lease"])
        .contains("extra")));
}

#[test]
fn pods_on_simulated_nodes_run_complete_crash_and_go_away() {
    let s = start("3");
    assert!(eventually(Duration::from_secs(20), || ready_nodes(&s) == 3));

    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &pod_yaml("web", "sim-node-1", "", ""),
    );
    s.kubectl_ok(&["wait", "--for=condition=Ready", "pod/web", "--timeout=30s"]);
    let wide = s.kubectl_ok(&["get", "pod", "web", "-o", "wide", "--no-headers"]);
    let cols: Vec<&str> = wide.split_whitespace().collect();
    assert_eq!(cols[1], "1/1", "{wide}");
    assert_eq!(cols[2], "Running", "{wide}");
    assert!(cols[5].starts_with("10.42.1."), "{wide}");
    assert_eq!(cols[6], "sim-node-1", "{wide}");
    let pod = get_json(&s, &["pod", "web"]);
    let cs = &pod["status"]["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert_eq!(cs["started"], true);
    assert_eq!(cs["restartCount"], 0);
    assert!(cs["containerID"]
        .as_str()
        .is_some_and(|c| c.starts_with("simulated://")));
    assert!(cs["state"]["running"]["startedAt"].is_string());
    assert!(pod["status"]["hostIP"]
        .as_str()
        .is_some_and(|ip| !ip.is_empty()));
    assert_eq!(pod["status"]["qosClass"], "BestEffort");

    // A simulated node runs no containers: exec and port-forward get a Kubernetes error at
    // once (kubectl falls back from WebSocket to SPDY and reports the server's message).
    let err = s.kubectl_err(&["exec", "web", "--", "true"]);
    assert!(
        err.contains("no kubelet for node \"sim-node-1\" runs in this server"),
        "{err}"
    );
    let err = s.kubectl_err(&["port-forward", "pod/web", ":80"]);
    assert!(err.contains("simulated nodes run no containers"), "{err}");

    // A command that exits 0 with restartPolicy Never completes.
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &pod_yaml(
            "done",
            "sim-node-0",
            "  restartPolicy: Never\n",
            "    command: [sh, -c, \"exit 0\"]\n",
        ),
    );
    // `exit 1` with restartPolicy Always crash-loops.
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &pod_yaml(
            "crash",
            "sim-node-2",
            "",
            "    command: [sh, -c, \"exit 1\"]\n",
        ),
    );
    assert!(
        eventually(Duration::from_secs(20), || s
            .kubectl_ok(&["get", "pod", "done", "--no-headers"])
            .contains("Completed")),
        "{}",
        s.kubectl_ok(&["get", "pod", "done", "-o", "yaml"])
    );
    let done = get_json(&s, &["pod", "done"]);
    assert_eq!(done["status"]["phase"], "Succeeded");
    let term = &done["status"]["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(term["exitCode"], 0);
    assert_eq!(term["reason"], "Completed");

    assert!(
        eventually(Duration::from_secs(20), || s
            .kubectl_ok(&["get", "pod", "crash", "--no-headers"])
            .contains("CrashLoopBackOff")),
        "{}",
        s.kubectl_ok(&["get", "pod", "crash", "-o", "yaml"])
    );
    let restarts = |s: &Server| {
        get_json(s, &["pod", "crash"])["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0)
    };
    let before = restarts(&s);
    assert!(
        eventually(Duration::from_secs(30), || restarts(&s) > before),
        "restarts stuck at {before}"
    );
    let crash = get_json(&s, &["pod", "crash"]);
    let last = &crash["status"]["containerStatuses"][0]["lastState"]["terminated"];
    assert_eq!(last["exitCode"], 1);
    assert_eq!(last["reason"], "Error");

    // Deleting a pod removes it (the simulated kubelet confirms at once).
    s.kubectl_ok(&["delete", "pod", "web", "--timeout=20s"]);
    assert!(!s.kubectl(&["get", "pod", "web"]).status.success());
}

#[test]
fn paused_node_goes_unknown_is_tainted_and_loses_its_pods() {
    let s = start("2");
    assert!(eventually(Duration::from_secs(20), || ready_nodes(&s) == 2));
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &pod_yaml(
            "tol",
            "sim-node-1",
            "  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n    tolerationSeconds: 2\n",
            "",
        ),
    );
    s.kubectl_ok(&["wait", "--for=condition=Ready", "pod/tol", "--timeout=30s"]);
    // Pods on deleted nodes are garbage collected.
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &pod_yaml("orphan", "ghost", "", ""));

    s.kubectl_ok(&[
        "annotate",
        "node",
        "sim-node-1",
        "skiff.dev/simulated-paused=true",
    ]);
    let ready_status = |s: &Server| {
        get_json(s, &["node", "sim-node-1"])["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready").cloned())
            .unwrap_or_default()
    };
    assert!(
        eventually(Duration::from_secs(20), || ready_status(&s)["status"]
            == "Unknown"),
        "{}",
        s.kubectl_ok(&["get", "node", "sim-node-1", "-o", "yaml"])
    );
    let ready = ready_status(&s);
    assert_eq!(ready["reason"], "NodeStatusUnknown");
    assert_eq!(ready["message"], "Kubelet stopped posting node status.");
    assert!(s
        .kubectl_ok(&["get", "node", "sim-node-1", "--no-headers"])
        .contains("NotReady"));
    let taints = |s: &Server| {
        get_json(s, &["node", "sim-node-1"])["spec"]["taints"]
            .as_array()
            .map(|t| {
                t.iter()
                    .map(|t| {
                        format!(
                            "{}:{}",
                            t["key"].as_str().unwrap_or(""),
                            t["effect"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(eventually(Duration::from_secs(10), || {
        let t = taints(&s);
        t.contains(&"node.kubernetes.io/unreachable:NoExecute".to_string())
            && t.contains(&"node.kubernetes.io/unreachable:NoSchedule".to_string())
    }));
    // Evicted after its 2 s toleration: marked for deletion (the node's kubelet is away).
    assert!(
        eventually(Duration::from_secs(15), || {
            let out = s.kubectl(&["get", "pod", "tol", "-o", "json"]);
            !out.status.success()
                || json(&String::from_utf8_lossy(&out.stdout))["metadata"]["deletionTimestamp"]
                    .is_string()
        }),
        "pod not evicted"
    );
    // The node comes back: Ready, taints gone, the terminating pod finished off.
    s.kubectl_ok(&[
        "annotate",
        "node",
        "sim-node-1",
        "skiff.dev/simulated-paused-",
    ]);
    assert!(eventually(Duration::from_secs(20), || ready_status(&s)
        ["status"]
        == "True"));
    assert!(eventually(Duration::from_secs(20), || taints(&s).is_empty()));
    assert!(eventually(Duration::from_secs(20), || !s
        .kubectl(&["get", "pod", "tol"])
        .status
        .success()));
    assert!(
        eventually(Duration::from_secs(40), || !s
            .kubectl(&["get", "pod", "orphan"])
            .status
            .success()),
        "pod on a missing node not collected"
    );
}
