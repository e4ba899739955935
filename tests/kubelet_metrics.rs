//! Resource metrics from the kubelet on Docker: `kubectl top node|pod` through the
//! `metrics.k8s.io` API skiff serves itself, `kubectl get podmetrics`, and the kubelet's
//! `/metrics/resource` through the API server's node proxy.

mod common;

use std::time::Duration;

use common::docker::{apply, docker_env, kubelet_server, wait_phase};
use common::{eventually, unique_ns, Server};

/// The CPU (millicores) and memory (MiB) columns of `kubectl top pod <pod>`, once available.
fn top_pod(s: &Server, ns: &str, pod: &str) -> Option<(u64, u64)> {
    let out = s.kubectl(&["-n", ns, "top", "pod", pod, "--no-headers"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let f: Vec<&str> = text.split_whitespace().collect();
    if !out.status.success() || f.len() < 3 || f[0] != pod {
        return None;
    }
    let cpu = f[1].strip_suffix('m')?.parse().ok()?;
    let mem = f[2].strip_suffix("Mi")?.parse().ok()?;
    Some((cpu, mem))
}

#[test]
fn kubectl_top_and_resource_metrics() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("metrics");
    s.kubectl_ok(&["create", "ns", &ns]);
    // One pod burns a fifth of a core (its CPU limit), one holds 48 MiB in a tmpfs file.
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: burn, labels: {app: burn}}
spec:
  containers:
  - name: burn
    image: busybox:1.35
    command: ["sh", "-c", "while :; do :; done"]
    resources: {limits: {cpu: 200m}}
---
apiVersion: v1
kind: Pod
metadata: {name: hold, labels: {app: hold}}
spec:
  containers:
  - name: hold
    image: busybox:1.35
    command: ["sh", "-c", "dd if=/dev/zero of=/dev/shm/x bs=1M count=48 && sleep 3600"]
"#,
    );
    wait_phase(&s, &ns, "burn", "Running");
    wait_phase(&s, &ns, "hold", "Running");

    // The group is discovered, so kubectl top works.
    let versions = s.kubectl_ok(&["api-versions"]);
    assert!(
        versions.lines().any(|l| l == "metrics.k8s.io/v1beta1"),
        "{versions}"
    );

    let mut burn = None;
    let ok = eventually(Duration::from_secs(60), || {
        burn = top_pod(&s, &ns, "burn");
        burn.is_some_and(|(cpu, _)| (150..=260).contains(&cpu))
    });
    assert!(ok, "kubectl top pod burn: {burn:?}\n{}", s.log());
    let mut hold = None;
    let ok = eventually(Duration::from_secs(60), || {
        hold = top_pod(&s, &ns, "hold");
        hold.is_some_and(|(cpu, mem)| cpu < 50 && (48..=60).contains(&mem))
    });
    assert!(ok, "kubectl top pod hold: {hold:?}");

    // All pods of the namespace, with a label selector, and per container.
    let all = s.kubectl_ok(&["-n", &ns, "top", "pod"]);
    assert!(all.starts_with("NAME"), "{all}");
    assert!(
        all.contains("CPU(cores)") && all.contains("MEMORY(bytes)"),
        "{all}"
    );
    assert_eq!(all.lines().count(), 3, "{all}");
    let selected = s.kubectl_ok(&["-n", &ns, "top", "pod", "-l", "app=hold", "--no-headers"]);
    assert_eq!(selected.lines().count(), 1, "{selected}");
    assert!(selected.starts_with("hold "), "{selected}");
    let containers = s.kubectl_ok(&["-n", &ns, "top", "pod", "burn", "--containers"]);
    assert!(
        containers
            .lines()
            .any(|l| l.split_whitespace().take(2).eq(["burn", "burn"])),
        "{containers}"
    );

    // The node: usage with percentages of allocatable.
    let node = s
        .kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[0].metadata.name}"])
        .trim()
        .to_string();
    let top_node = s.kubectl_ok(&["top", "node", "--no-headers"]);
    let f: Vec<&str> = top_node.split_whitespace().collect();
    assert_eq!(f.first(), Some(&node.as_str()), "{top_node}");
    assert!(f[1].ends_with('m') && f[2].ends_with('%'), "{top_node}");
    assert!(f[3].ends_with("Mi") && f[4].ends_with('%'), "{top_node}");
    let node_cpu: u64 = f[1].trim_end_matches('m').parse().unwrap_or(0);
    assert!(
        node_cpu >= 150,
        "node CPU includes the burning pod: {top_node}"
    );

    // The objects themselves, and errors as metrics-server answers them.
    let table = s.kubectl_ok(&["-n", &ns, "get", "podmetrics"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("burn ")), "{table}");
    let json = s.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/hold"),
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("PodMetrics JSON");
    assert_eq!(v["kind"], "PodMetrics");
    assert_eq!(v["metadata"]["labels"]["app"], "hold");
    assert_eq!(v["containers"][0]["name"], "hold");
    assert!(
        v["window"].as_str().is_some_and(|w| w.ends_with('s')),
        "{v}"
    );
    let err = s.kubectl_err(&["-n", &ns, "top", "pod", "nope"]);
    assert!(
        err.contains(&format!(
            "podmetrics.metrics.k8s.io \"{ns}/nope\" not found"
        )),
        "{err}"
    );

    // The kubelet's /metrics/resource through the API server.
    let raw = s.kubectl_ok(&[
        "get",
        "--raw",
        &format!("/api/v1/nodes/{node}/proxy/metrics/resource"),
    ]);
    let burn_line = format!(
        "container_cpu_usage_seconds_total{{container=\"burn\",namespace=\"{ns}\",pod=\"burn\"}} "
    );
    assert!(raw.lines().any(|l| l.starts_with(&burn_line)), "{raw}");
    assert!(
        raw.lines()
            .any(|l| l.starts_with("node_memory_working_set_bytes ")),
        "{raw}"
    );
    assert!(
        raw.contains("# TYPE pod_cpu_usage_seconds_total counter"),
        "{raw}"
    );
    assert!(raw.lines().any(|l| l == "resource_scrape_error 0"), "{raw}");
}
