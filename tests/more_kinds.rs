//! The kinds of the smaller API groups with the real kubectl: create helpers, `get` columns,
//! discovery short names, upstream validation messages, the HPA served in autoscaling/v1 and v2,
//! the system priority classes and core events.

mod common;

use common::Server;

fn header(out: &str) -> Vec<&str> {
    out.lines()
        .next()
        .unwrap_or("")
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

#[test]
fn api_resources_lists_new_kinds_with_short_names() {
    let s = Server::start();
    let out = s.kubectl_ok(&["api-resources", "--no-headers"]);
    for (name, short, gv) in [
        ("ingresses", "ing", "networking.k8s.io/v1"),
        ("networkpolicies", "netpol", "networking.k8s.io/v1"),
        ("storageclasses", "sc", "storage.k8s.io/v1"),
        ("poddisruptionbudgets", "pdb", "policy/v1"),
        ("priorityclasses", "pc", "scheduling.k8s.io/v1"),
        ("horizontalpodautoscalers", "hpa", "autoscaling/v2"),
        (
            "certificatesigningrequests",
            "csr",
            "certificates.k8s.io/v1",
        ),
    ] {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.get(1), Some(&short), "{line}");
        assert_eq!(cols.get(2), Some(&gv), "{line}");
    }
    for name in [
        "ingressclasses",
        "csidrivers",
        "csinodes",
        "volumeattachments",
        "roles",
        "clusterroles",
        "rolebindings",
        "clusterrolebindings",
        "runtimeclasses",
        "validatingwebhookconfigurations",
        "mutatingwebhookconfigurations",
        "validatingadmissionpolicies",
        "validatingadmissionpolicybindings",
    ] {
        assert!(
            out.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing"
        );
    }
    let (code, body) = s.curl(&["/apis/autoscaling"]);
    assert_eq!(code, 200);
    assert!(
        body.contains(r#""preferredVersion":{"groupVersion":"autoscaling/v2""#),
        "{body}"
    );
}

#[test]
fn system_priority_classes_exist_and_value_is_immutable() {
    let s = Server::start();
    let out = s.kubectl_ok(&["get", "pc"]);
    assert_eq!(
        header(&out),
        ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    );
    assert!(
        out.contains("system-node-critical      2000001000"),
        "{out}"
    );
    assert!(
        out.contains("system-cluster-critical   2000000000"),
        "{out}"
    );
    let desc = s.kubectl_ok(&[
        "get",
        "pc",
        "system-node-critical",
        "-o",
        "jsonpath={.description}",
    ]);
    assert_eq!(
        desc,
        "Used for system critical pods that must not be moved from their current node."
    );
    s.kubectl_ok(&["create", "priorityclass", "high", "--value=1000"]);
    let err = s.kubectl_err(&[
        "patch",
        "pc",
        "high",
        "--type=merge",
        "-p",
        r#"{"value":5}"#,
    ]);
    assert!(
        err.contains(
            r#"The PriorityClass "high" is invalid: value: Forbidden: may not be changed in an update."#
        ),
        "{err}"
    );
    let err = s.kubectl_err(&["create", "priorityclass", "system-mine", "--value=5"]);
    assert!(
        err.contains(r#"PriorityClass.scheduling.k8s.io "system-mine" is invalid: metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"#),
        "{err}"
    );
}

#[test]
fn ingress_and_pdb_created_and_printed() {
    let s = Server::start();
    s.kubectl_ok(&[
        "create",
        "ingress",
        "simple",
        "--rule=foo.com/bar=svc1:8080,tls=my-cert",
    ]);
    let out = s.kubectl_ok(&["get", "ing"]);
    assert_eq!(
        header(&out),
        ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    );
    assert!(
        out.contains("simple   <none>   foo.com             80, 443"),
        "{out}"
    );
    let gen = s.kubectl_ok(&[
        "get",
        "ing",
        "simple",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    assert_eq!(gen, "1");

    s.kubectl_ok(&[
        "create",
        "poddisruptionbudget",
        "pdb1",
        "--selector=app=web",
        "--min-available=1",
    ]);
    let out = s.kubectl_ok(&["get", "pdb"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE"
        ]
    );
    assert!(
        out.contains("pdb1   1               N/A               0"),
        "{out}"
    );

    let bad_ingress =
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: bad}\nspec: {}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad_ingress));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"The Ingress "bad" is invalid: spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be specified"#),
        "{err}"
    );
    let bad_pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: bad}\nspec: {minAvailable: 1, maxUnavailable: 1}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad_pdb));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("minAvailable and maxUnavailable cannot be both set"),
        "{err}"
    );
    // The raw answer is a 422 Invalid Status.
    let (code, body) = s.curl(&[
        "/apis/networking.k8s.io/v1/namespaces/default/ingresses",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"metadata":{"name":"bad"},"spec":{}}"#,
    ]);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains(r#""reason":"Invalid""#), "{body}");
}

#[test]
fn rbac_objects_created_printed_and_role_ref_immutable() {
    let s = Server::start();
    s.kubectl_ok(&[
        "create",
        "role",
        "pod-reader",
        "--verb=get,list",
        "--resource=pods",
    ]);
    s.kubectl_ok(&[
        "create",
        "clusterrole",
        "node-reader",
        "--verb=get",
        "--resource=nodes",
    ]);
    s.kubectl_ok(&[
        "create",
        "rolebinding",
        "rb",
        "--role=pod-reader",
        "--user=bob",
    ]);
    s.kubectl_ok(&[
        "create",
        "clusterrolebinding",
        "crb",
        "--clusterrole=node-reader",
        "--group=devs",
    ]);
    let out = s.kubectl_ok(&["get", "role"]);
    assert_eq!(header(&out), ["NAME", "CREATED AT"]);
    assert!(out.contains("pod-reader"), "{out}");
    assert!(s
        .kubectl_ok(&["get", "clusterrole"])
        .contains("node-reader"));
    let out = s.kubectl_ok(&["get", "rolebinding", "-o", "wide"]);
    assert_eq!(
        header(&out),
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    );
    assert!(out.contains("rb     Role/pod-reader"), "{out}");
    let out = s.kubectl_ok(&["get", "clusterrolebinding", "crb", "-o", "wide"]);
    assert!(
        out.contains("ClusterRole/node-reader") && out.contains("devs"),
        "{out}"
    );
    let err = s.kubectl_err(&[
        "patch",
        "rolebinding",
        "rb",
        "--type=merge",
        "-p",
        r#"{"roleRef":{"name":"other"}}"#,
    ]);
    assert!(
        err.contains(r#"The RoleBinding "rb" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", Name:"other"}: cannot change roleRef"#),
        "{err}"
    );
    let bad = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r2"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":[]}]}"#;
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rules[0].verbs: Required value: verbs must contain at least one value"),
        "{err}"
    );
}

#[test]
fn autoscale_served_in_v1_and_v2() {
    let s = Server::start();
    s.kubectl_ok(&["create", "deployment", "web", "--image=nginx"]);
    s.kubectl_ok(&[
        "autoscale",
        "deployment",
        "web",
        "--min=1",
        "--max=3",
        "--cpu-percent=50",
    ]);
    let out = s.kubectl_ok(&["get", "hpa"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "REFERENCE",
            "TARGETS",
            "MINPODS",
            "MAXPODS",
            "REPLICAS",
            "AGE"
        ]
    );
    assert!(
        // REPLICAS is 0 until the HPA controller reports the target's current replicas.
        out.contains("web    Deployment/web   cpu: <unknown>/50%   1         3         0")
            || out.contains("web    Deployment/web   cpu: <unknown>/50%   1         3         1"),
        "{out}"
    );
    let v2 = s.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web",
    ]);
    let v2: serde_json::Value = serde_json::from_str(&v2).expect("json");
    assert_eq!(v2["apiVersion"], "autoscaling/v2");
    assert_eq!(
        v2["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        50
    );
    let v1 = s.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
    ]);
    let v1: serde_json::Value = serde_json::from_str(&v1).expect("json");
    assert_eq!(v1["apiVersion"], "autoscaling/v1");
    assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
    assert_eq!(v1["metadata"]["uid"], v2["metadata"]["uid"]);
    // A v1 patch applies to the v1 shape and shows in v2.
    let (code, body) = s.curl(&[
        "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/web",
        "-X",
        "PATCH",
        "-H",
        "Content-Type: application/merge-patch+json",
        "-d",
        r#"{"spec":{"targetCPUUtilizationPercentage":70}}"#,
    ]);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains(r#""targetCPUUtilizationPercentage":70"#),
        "{body}"
    );
    let t = s.kubectl_ok(&[
        "get",
        "hpa",
        "web",
        "-o",
        "jsonpath={.spec.metrics[0].resource.target.averageUtilization}",
    ]);
    assert_eq!(t, "70");
    let list = s.kubectl_ok(&[
        "get",
        "--raw",
        "/apis/autoscaling/v1/horizontalpodautoscalers",
    ]);
    // The v1 view has no v2 `metrics` in its spec (managedFields keep the writer's field paths).
    let list: serde_json::Value = serde_json::from_str(&list).expect("list json");
    assert_eq!(list["apiVersion"], "autoscaling/v1");
    let item = &list["items"][0];
    assert_eq!(item["apiVersion"], "autoscaling/v1", "{item}");
    assert!(item["spec"].get("metrics").is_none(), "{item}");
    let bad = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: bad}\nspec: {maxReplicas: 0, scaleTargetRef: {kind: Deployment, name: x}}\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.maxReplicas: Invalid value: 0: must be greater than 0"),
        "{err}"
    );
}

const CLUSTER_OBJECTS: &str = r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: example.com/fast
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: gvisor}
handler: runsc
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: storage.k8s.io/v1
kind: VolumeAttachment
metadata: {name: va1}
spec: {attacher: csi.example.com, nodeName: n1, source: {persistentVolumeName: pv1}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: vwc}
"#;

#[test]
fn cluster_kinds_stored_printed_and_validated() {
    let s = Server::start();
    s.kubectl_stdin_ok(&["create", "-f", "-"], CLUSTER_OBJECTS);
    let out = s.kubectl_ok(&["get", "sc"]);
    assert_eq!(
        header(&out),
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE"
        ]
    );
    assert!(
        out.contains("fast   example.com/fast   Delete          Immediate"),
        "{out}"
    );
    assert!(s
        .kubectl_ok(&["get", "runtimeclass"])
        .contains("gvisor   runsc"));
    // Besides the bootstrap class `skiff`.
    let classes = s.kubectl_ok(&["get", "ingressclass"]);
    assert!(
        classes
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..3].eq(&[
                "nginx",
                "k8s.io/ingress-nginx",
                "<none>"
            ])),
        "{classes}"
    );
    assert!(s.kubectl_ok(&["get", "netpol"]).contains("deny   <none>"));
    assert!(s
        .kubectl_ok(&["get", "volumeattachment"])
        .contains("va1    csi.example.com   pv1   n1     false"));
    assert!(s
        .kubectl_ok(&["get", "validatingwebhookconfigurations"])
        .contains("vwc    0"));
    let err = s.kubectl_err(&[
        "patch",
        "sc",
        "fast",
        "--type=merge",
        "-p",
        r#"{"provisioner":"example.com/other"}"#,
    ]);
    assert!(
        err.contains(r#"The StorageClass "fast" is invalid: provisioner: Forbidden: updates to provisioner are forbidden."#),
        "{err}"
    );
}

#[test]
fn core_events_listed_by_kubectl_events_and_sorted() {
    let s = Server::start();
    for (name, ts, n) in [
        ("web.b", "2025-01-01T00:00:09Z", 2),
        ("web.a", "2025-01-01T00:00:01Z", 1),
    ] {
        let ev = format!(
            "apiVersion: v1\nkind: Event\nmetadata: {{name: {name}}}\ninvolvedObject: {{kind: Deployment, name: web, namespace: default, apiVersion: apps/v1}}\nreason: ScalingReplicaSet\nmessage: Scaled to {n}\ntype: Normal\nsource: {{component: deployment-controller}}\nfirstTimestamp: \"{ts}\"\nlastTimestamp: \"{ts}\"\ncount: 1\n"
        );
        s.kubectl_stdin_ok(&["create", "-f", "-"], &ev);
    }
    let out = s.kubectl_ok(&["get", "events", "--sort-by=.lastTimestamp"]);
    assert_eq!(
        header(&out),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    let first = out.find("Scaled to 1").expect("event 1");
    let second = out.find("Scaled to 2").expect("event 2");
    assert!(first < second, "{out}");
    assert!(out.contains("deployment/web"), "{out}");
    let out = s.kubectl_ok(&["events"]);
    assert_eq!(
        header(&out),
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert!(
        out.contains("Deployment/web") && out.contains("Scaled to 2"),
        "{out}"
    );
    let out = s.kubectl_ok(&["events", "--for", "deployment/web"]);
    assert!(out.contains("Scaled to 1"), "{out}");
}
