//! Endpoints and EndpointSlice controllers, PodDisruptionBudgets with the eviction subresource,
//! `kubectl drain`/`cordon` and the HPA controller, driven with the real kubectl.
//!
//! There is no kubelet here: pods are created with `nodeName` set and [`kubelet_ready`] patches
//! their status (Running, Ready condition, podIP) the way a kubelet would report it.

mod common;

use std::time::Duration;

use common::{eventually, unique_ns, Server};

const WAIT: Duration = Duration::from_secs(30);

fn get(s: &Server, ns: &str, kind: &str, name: &str, path: &str) -> String {
    let out = s.kubectl(&[
        "-n",
        ns,
        "get",
        kind,
        name,
        "-o",
        &format!("jsonpath={path}"),
    ]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn create_ns(s: &Server, prefix: &str) -> String {
    let ns = unique_ns(prefix);
    s.kubectl_ok(&["create", "namespace", &ns]);
    ns
}

/// A pod on `node` labelled `app=<app>` with a container port named `http` = `port`.
fn pod(s: &Server, ns: &str, name: &str, app: &str, node: &str, port: u16) {
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{app: {app}}}\nspec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: 0\n  containers:\n  - name: c\n    image: nginx\n    ports:\n    - {{name: http, containerPort: {port}}}\n"
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
}

/// Stands in for the kubelet: reports the pod Running with `ip`, Ready or not.
fn kubelet_ready(s: &Server, ns: &str, name: &str, ip: &str, ready: bool) {
    let status = if ready { "True" } else { "False" };
    let patch = format!(
        r#"{{"status":{{"phase":"Running","podIP":"{ip}","podIPs":[{{"ip":"{ip}"}}],"conditions":[{{"type":"Ready","status":"{status}","lastTransitionTime":"2024-01-01T00:00:00Z"}}]}}}}"#
    );
    s.kubectl_ok(&[
        "-n",
        ns,
        "patch",
        "pod",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

fn node(s: &Server, name: &str) {
    let manifest = format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
}

fn service(s: &Server, ns: &str, name: &str, app: &str) {
    let manifest = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  selector: {{app: {app}}}\n  ports:\n  - {{name: web, port: 80, targetPort: http}}\n"
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
}

#[test]
fn endpoints_and_slices_follow_pod_readiness() {
    let s = Server::start_without_node_lifecycle();
    let ns = create_ns(&s, "ep");
    node(&s, "ep-node");
    for (i, port) in [(1, 8080), (2, 8080), (3, 9090)] {
        let name = format!("web-{i}");
        pod(&s, &ns, &name, "web", "ep-node", port);
        kubelet_ready(&s, &ns, &name, &format!("10.1.0.{i}"), true);
    }
    service(&s, &ns, "web", "web");
    let ready_ips = |s: &Server| {
        let mut ips: Vec<String> = get(s, &ns, "endpoints", "web", "{.subsets[*].addresses[*].ip}")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        ips.sort();
        ips
    };
    assert!(
        eventually(WAIT, || ready_ips(&s)
            == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]),
        "endpoints: {}",
        s.kubectl_ok(&["-n", &ns, "get", "endpoints", "web", "-o", "yaml"])
    );
    // The named target port resolves per pod: two subsets (8080 for two pods, 9090 for one).
    let ports = get(&s, &ns, "endpoints", "web", "{.subsets[*].ports[*].port}");
    let mut ports: Vec<&str> = ports.split_whitespace().collect();
    ports.sort();
    assert_eq!(ports, ["8080", "9090"]);
    let ep_yaml = s.kubectl_ok(&["-n", &ns, "get", "endpoints", "web", "-o", "yaml"]);
    assert!(ep_yaml.contains("nodeName: ep-node"), "{ep_yaml}");
    assert!(ep_yaml.contains("kind: Pod"), "{ep_yaml}");
    assert!(
        ep_yaml.contains("endpoints.kubernetes.io/last-change-trigger-time"),
        "{ep_yaml}"
    );

    let slice_ready = |s: &Server| {
        get(
            s,
            &ns,
            "endpointslices",
            "",
            "{range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}",
        )
    };
    let sel = "kubernetes.io/service-name=web";
    assert!(
        eventually(WAIT, || {
            let out = s.kubectl(&[
                "-n",
                &ns,
                "get",
                "endpointslices",
                "-l",
                sel,
                "-o",
                "jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}",
            ]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            text.matches("=true").count() == 3
        }),
        "slices: {}",
        slice_ready(&s)
    );
    let slices = s.kubectl_ok(&["-n", &ns, "get", "endpointslices", "-l", sel, "-o", "yaml"]);
    assert!(
        slices.contains("endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io"),
        "{slices}"
    );
    assert!(slices.contains("addressType: IPv4"), "{slices}");
    assert!(slices.contains("name: web-"), "{slices}");

    // web-2 turns unready.
    kubelet_ready(&s, &ns, "web-2", "10.1.0.2", false);
    assert!(eventually(WAIT, || {
        get(
            &s,
            &ns,
            "endpoints",
            "web",
            "{.subsets[*].notReadyAddresses[*].ip}",
        ) == "10.1.0.2"
            && ready_ips(&s) == ["10.1.0.1", "10.1.0.3"]
    }));
    assert!(eventually(WAIT, || {
        let out = s.kubectl(&[
            "-n",
            &ns,
            "get",
            "endpointslices",
            "-l",
            sel,
            "-o",
            "jsonpath={range .items[*].endpoints[*]}{.addresses[0]}={.conditions.ready} {end}",
        ]);
        String::from_utf8_lossy(&out.stdout).contains("10.1.0.2=false")
    }));
}

#[test]
fn pdb_blocks_drain_and_cordon_marks_unschedulable() {
    let s = Server::start_without_node_lifecycle();
    let ns = create_ns(&s, "pdb");
    node(&s, "drain-node");
    for i in 1..=2 {
        let name = format!("db-{i}");
        pod(&s, &ns, &name, "db", "drain-node", 5432);
        kubelet_ready(&s, &ns, &name, &format!("10.2.0.{i}"), true);
    }
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "pdb",
        "db",
        "--selector=app=db",
        "--min-available=2",
    ]);
    assert!(eventually(WAIT, || {
        get(&s, &ns, "pdb", "db", "{.status.currentHealthy}/{.status.desiredHealthy}/{.status.disruptionsAllowed}/{.status.conditions[0].reason}")
            == "2/2/0/InsufficientPods"
    }));
    let err = s.kubectl_err(&[
        "drain",
        "drain-node",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--force",
        "--timeout=5s",
    ]);
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget."),
        "{err}"
    );
    assert_eq!(
        get(&s, &ns, "node", "drain-node", "{.spec.unschedulable}"),
        "true"
    );
    assert_eq!(get(&s, &ns, "pod", "db-1", "{.metadata.name}"), "db-1");

    // A third ready pod allows one eviction.
    pod(&s, &ns, "db-3", "db", "other-node", 5432);
    kubelet_ready(&s, &ns, "db-3", "10.2.0.3", true);
    assert!(eventually(WAIT, || {
        get(
            &s,
            &ns,
            "pdb",
            "db",
            "{.status.disruptionsAllowed}/{.status.conditions[0].reason}",
        ) == "1/SufficientPods"
    }));
    let err = s.kubectl_err(&[
        "drain",
        "drain-node",
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--force",
        "--timeout=5s",
    ]);
    assert!(err.contains("disruption budget"), "{err}");
    let left: Vec<String> = ["db-1", "db-2"]
        .iter()
        .filter(|p| !get(&s, &ns, "pod", p, "{.metadata.name}").is_empty())
        .map(|p| p.to_string())
        .collect();
    assert_eq!(left.len(), 1, "exactly one pod evicted: {left:?}");

    s.kubectl_ok(&["uncordon", "drain-node"]);
    assert_eq!(
        get(&s, &ns, "node", "drain-node", "{.spec.unschedulable}"),
        ""
    );
    s.kubectl_ok(&["cordon", "drain-node"]);
    assert_eq!(
        get(&s, &ns, "node", "drain-node", "{.spec.unschedulable}"),
        "true"
    );
}

#[test]
fn eviction_api_answers_as_upstream() {
    let s = Server::start_without_node_lifecycle();
    let ns = create_ns(&s, "evict");
    pod(&s, &ns, "solo", "solo", "n1", 80);
    kubelet_ready(&s, &ns, "solo", "10.3.0.1", true);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "pdb",
        "solo",
        "--selector=app=solo",
        "--min-available=1",
    ]);
    assert!(eventually(WAIT, || get(
        &s,
        &ns,
        "pdb",
        "solo",
        "{.status.currentHealthy}"
    ) == "1"));
    let body = format!(
        r#"{{"apiVersion":"policy/v1","kind":"Eviction","metadata":{{"name":"solo","namespace":"{ns}"}}}}"#
    );
    let path = format!("/api/v1/namespaces/{ns}/pods/solo/eviction");
    let (code, out) = s.curl(&[
        &path,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
    ]);
    assert_eq!(code, 429, "{out}");
    assert!(out.contains(r#""reason":"DisruptionBudget""#), "{out}");
    assert!(
        out.contains("The disruption budget solo needs 1 healthy pods and has 1 currently"),
        "{out}"
    );
    // Two budgets over one pod: 500.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "pdb",
        "solo2",
        "--selector=app=solo",
        "--max-unavailable=1",
    ]);
    let (code, out) = s.curl(&[
        &path,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
    ]);
    assert_eq!(code, 500, "{out}");
    assert!(out.contains("more than one PodDisruptionBudget"), "{out}");
    s.kubectl_ok(&["-n", &ns, "delete", "pdb", "solo2", "solo"]);
    let (code, out) = s.curl(&[
        &path,
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &body,
    ]);
    assert_eq!(code, 201, "{out}");
    assert!(out.contains(r#""status":"Success""#), "{out}");
    assert!(eventually(WAIT, || get(
        &s,
        &ns,
        "pod",
        "solo",
        "{.metadata.name}"
    )
    .is_empty()));
}

#[test]
fn hpa_without_metrics_reports_upstream_condition() {
    let s = Server::start_without_node_lifecycle();
    let ns = create_ns(&s, "hpa");
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "app",
        "--image=nginx",
        "--replicas=1",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "autoscale",
        "deployment",
        "app",
        "--cpu-percent=50",
        "--min=1",
        "--max=3",
    ]);
    let want = "the HPA was unable to compute the replica count: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";
    assert!(
        eventually(WAIT, || {
            get(
                &s,
                &ns,
                "hpa",
                "app",
                "{.status.conditions[?(@.type==\"ScalingActive\")].message}",
            ) == want
        }),
        "{}",
        s.kubectl_ok(&["-n", &ns, "get", "hpa", "app", "-o", "yaml"])
    );
    assert_eq!(
        get(&s, &ns, "hpa", "app", "{.status.conditions[?(@.type==\"AbleToScale\")].status}/{.status.conditions[?(@.type==\"ScalingActive\")].reason}"),
        "True/FailedGetResourceMetric"
    );
    assert!(eventually(WAIT, || {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "events",
            "--field-selector",
            "reason=FailedGetResourceMetric",
            "-o",
            "name",
        ])
        .contains("app")
    }));
}
