//! The scheduler against a real server, driven by the real kubectl: Nodes are created by hand
//! (no kubelet), pods land per nodeSelector, taints, cordons and anti-affinity; unschedulable
//! pods get upstream's FailedScheduling event; the binding subresource answers 409 on rebinding.

mod common;

use std::time::Duration;

use common::Server;

fn node_yaml(name: &str, labels: &str, extra_spec: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/hostname: {name}\n{labels}spec:\n  podCIDR: 10.42.0.0/24\n{extra_spec}status:\n  capacity: {{cpu: \"{cpu}\", memory: 8Gi, pods: \"110\"}}\n  allocatable: {{cpu: \"{cpu}\", memory: 8Gi, pods: \"110\"}}\n  conditions:\n  - type: Ready\n    status: \"True\"\n    reason: KubeletReady\n    message: kubelet is posting ready status\n"
    )
}

fn pod_yaml(ns: &str, name: &str, spec_extra: &str, cpu: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels:\n    app: {name}\nspec:\n{spec_extra}  containers:\n  - name: c\n    image: busybox\n    resources:\n      requests:\n        cpu: {cpu}\n"
    )
}

fn node_of(s: &Server, ns: &str, pod: &str) -> String {
    s.kubectl_ok(&[
        "-n",
        ns,
        "get",
        "pod",
        pod,
        "-o",
        "jsonpath={.spec.nodeName}",
    ])
}

fn wait_node(s: &Server, ns: &str, pod: &str) -> String {
    let mut node = String::new();
    common::eventually(Duration::from_secs(20), || {
        node = node_of(s, ns, pod);
        !node.is_empty()
    });
    node
}

fn create_nodes(s: &Server) {
    let mut all = String::new();
    all.push_str(&node_yaml("n1", "    disk: ssd\n", "", "4"));
    all.push_str("---\n");
    all.push_str(&node_yaml(
        "n2",
        "",
        "  taints:\n  - key: node-role.kubernetes.io/control-plane\n    effect: NoSchedule\n",
        "4",
    ));
    all.push_str("---\n");
    all.push_str(&node_yaml("n3", "", "", "4"));
    s.kubectl_stdin_ok(&["create", "-f", "-"], &all);
}

#[test]
fn scheduler_places_pods_by_selector_taint_and_cordon() {
    let s = Server::start_without_node_lifecycle();
    let ns = common::unique_ns("sched");
    s.kubectl_ok(&["create", "ns", &ns]);
    create_nodes(&s);

    // nodeSelector → n1, visible in `kubectl get pod -o wide`.
    s.kubectl_stdin_ok(
        &["create", "-f", "-"],
        &pod_yaml(&ns, "ssd", "  nodeSelector:\n    disk: ssd\n", "100m"),
    );
    assert_eq!(wait_node(&s, &ns, "ssd"), "n1");
    let wide = s.kubectl_ok(&["-n", &ns, "get", "pod", "ssd", "-o", "wide"]);
    assert!(wide.contains("NODE") && wide.contains("n1"), "{wide}");
    let cond = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "pod",
        "ssd",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].status}",
    ]);
    assert_eq!(cond, "True");

    // The tainted n2 is never chosen; after cordoning n1, only n3 is left.
    s.kubectl_ok(&["cordon", "n1"]);
    for i in 0..4 {
        let name = format!("p{i}");
        s.kubectl_stdin_ok(&["create", "-f", "-"], &pod_yaml(&ns, &name, "", "100m"));
        assert_eq!(wait_node(&s, &ns, &name), "n3", "pod {name}");
    }
    // Scheduled event.
    let events = s.kubectl_ok(&["-n", &ns, "get", "events"]);
    assert!(
        events.contains("Scheduled")
            && events.contains(&format!("Successfully assigned {ns}/p0 to n3")),
        "{events}"
    );
}

#[test]
fn unschedulable_pod_stays_pending_with_failed_scheduling() {
    let s = Server::start_without_node_lifecycle();
    let ns = common::unique_ns("sched");
    s.kubectl_ok(&["create", "ns", &ns]);
    create_nodes(&s);
    s.kubectl_stdin_ok(&["create", "-f", "-"], &pod_yaml(&ns, "big", "", "8"));
    let want = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.";
    let mut describe = String::new();
    let seen = common::eventually(Duration::from_secs(20), || {
        describe = s.kubectl_ok(&["-n", &ns, "describe", "pod", "big"]);
        describe.contains("FailedScheduling")
    });
    assert!(seen, "{describe}");
    assert!(describe.contains("default-scheduler"), "{describe}");
    let events = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "events",
        "--field-selector",
        "reason=FailedScheduling",
        "-o",
        "jsonpath={.items[0].message}",
    ]);
    assert_eq!(events, want);
    let mut cond = String::new();
    common::eventually(Duration::from_secs(10), || {
        cond = s.kubectl_ok(&[
            "-n", &ns, "get", "pod", "big", "-o",
            "jsonpath={.status.conditions[?(@.type==\"PodScheduled\")].reason}|{.status.conditions[?(@.type==\"PodScheduled\")].message}",
        ]);
        !cond.is_empty() && cond != "|"
    });
    assert_eq!(cond, format!("Unschedulable|{want}"));
    let phase = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "pod",
        "big",
        "-o",
        "jsonpath={.spec.nodeName}|{.status.phase}",
    ]);
    assert_eq!(phase, "|Pending");

    // A new node with room makes it schedulable (retry on node events).
    s.kubectl_stdin_ok(&["create", "-f", "-"], &node_yaml("n4", "", "", "16"));
    assert_eq!(wait_node(&s, &ns, "big"), "n4");
}

#[test]
fn anti_affinity_spreads_two_pods() {
    let s = Server::start_without_node_lifecycle();
    let ns = common::unique_ns("sched");
    s.kubectl_ok(&["create", "ns", &ns]);
    create_nodes(&s);
    let anti = "  affinity:\n    podAntiAffinity:\n      requiredDuringSchedulingIgnoredDuringExecution:\n      - labelSelector:\n          matchLabels:\n            group: g\n        topologyKey: kubernetes.io/hostname\n";
    let pod = |name: &str| {
        pod_yaml(&ns, name, anti, "100m").replace("    app: ", "    group: g\n    app: ")
    };
    s.kubectl_stdin_ok(&["create", "-f", "-"], &pod("a1"));
    let first = wait_node(&s, &ns, "a1");
    s.kubectl_stdin_ok(&["create", "-f", "-"], &pod("a2"));
    let second = wait_node(&s, &ns, "a2");
    assert!(!first.is_empty() && !second.is_empty());
    assert_ne!(first, second);
    // A third cannot go anywhere: n2 is tainted, n1 and n3 are taken.
    s.kubectl_stdin_ok(&["create", "-f", "-"], &pod("a3"));
    let mut describe = String::new();
    common::eventually(Duration::from_secs(20), || {
        describe = s.kubectl_ok(&["-n", &ns, "describe", "pod", "a3"]);
        describe.contains("FailedScheduling")
    });
    assert!(
        describe.contains("2 node(s) didn't satisfy existing pods anti-affinity rules"),
        "{describe}"
    );
}

#[test]
fn binding_subresource_sets_node_and_conflicts() {
    let s = Server::start_without_node_lifecycle();
    let ns = common::unique_ns("bind");
    s.kubectl_ok(&["create", "ns", &ns]);
    // Another scheduler's pod: ours leaves it alone.
    s.kubectl_stdin_ok(
        &["create", "-f", "-"],
        &pod_yaml(&ns, "p", "  schedulerName: other\n", "100m"),
    );
    let path = format!("/api/v1/namespaces/{ns}/pods/p/binding");
    let body = r#"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n9"}}"#;
    let args = [
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
    ];
    let mut full = vec![path.as_str()];
    full.extend(args);
    let (code, out) = s.curl(&full);
    assert_eq!(code, 201, "{out}");
    assert!(out.contains("\"status\":\"Success\""), "{out}");
    assert_eq!(node_of(&s, &ns, "p"), "n9");
    let (code, out) = s.curl(&full);
    assert_eq!(code, 409, "{out}");
    assert!(
        out.contains(r#"Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n9\""#),
        "{out}"
    );
}
