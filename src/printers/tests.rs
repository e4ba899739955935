use super::*;
use chrono::{Duration, TimeZone};
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 5, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn ago(d: Duration) -> String {
    (now() - d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn strs(v: &[Value]) -> Vec<String> {
    v.iter()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[test]
fn human_duration_matches_upstream() {
    let cases = [
        (Duration::seconds(1), "1s"),
        (Duration::seconds(70), "70s"),
        (Duration::seconds(190), "3m10s"),
        (Duration::seconds(200), "3m20s"),
        (Duration::minutes(5), "5m"),
        (Duration::minutes(70), "70m"),
        (Duration::minutes(4 * 60 + 5), "4h5m"),
        (Duration::hours(47), "47h"),
        (Duration::hours(49), "2d1h"),
        (Duration::hours(48), "2d"),
        (Duration::hours(8 * 24 + 2), "8d"),
        (Duration::hours(367 * 24), "367d"),
        (Duration::hours(365 * 2 * 24 + 25), "2y1d"),
        (Duration::days(3 * 365 + 120), "3y120d"),
        (Duration::hours(365 * 8 * 24 + 2), "8y"),
        (Duration::milliseconds(-1500), "0s"),
        (Duration::seconds(-3), "<invalid>"),
    ];
    for (d, want) in cases {
        assert_eq!(human_duration(d), want, "{d:?}");
    }
}

#[test]
fn default_table_for_unknown_kinds() {
    let cols = columns("rbac.authorization.k8s.io", "ClusterRole");
    assert_eq!(cols.len(), 2);
    assert_eq!((cols[0].name, cols[0].format), ("Name", "name"));
    assert!(cols[0]
        .description
        .starts_with("Name must be unique within a namespace."));
    assert_eq!((cols[1].name, cols[1].type_), ("Created At", "date"));
    let obj = json!({"metadata": {"name": "admin", "creationTimestamp": "2025-04-01T10:00:00Z"}});
    assert_eq!(
        strs(&cells(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            &obj,
            now()
        )),
        ["admin", "2025-04-01T10:00:00Z"]
    );
    let crd = json!({"metadata": {"name": "foos.example.com"}});
    assert_eq!(
        strs(&cells(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            &crd,
            now()
        )),
        ["foos.example.com", "0001-01-01T00:00:00Z"]
    );
    let defs = column_definitions_json(&cols);
    assert_eq!(defs[1]["type"], "date");
    assert_eq!(defs[0]["priority"], 0);
}

#[test]
fn column_shapes() {
    let names =
        |g: &str, k: &str| -> Vec<&'static str> { columns(g, k).iter().map(|c| c.name).collect() };
    assert_eq!(
        names("", "Pod"),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(
        names("batch", "Job")[..5],
        ["Name", "Status", "Completions", "Duration", "Age"]
    );
    assert_eq!(
        names("", "Event"),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(names("events.k8s.io", "Event"), names("", "Event"));
    let pod = columns("", "Pod");
    assert_eq!(pod[5].priority, 1);
    assert_eq!(pod[3].type_, "string");
    assert_eq!(columns("apps", "ReplicaSet")[1].type_, "integer");
    // Every kind's cell count matches its column count, even for `{}`.
    for (g, k) in [
        ("", "Pod"),
        ("", "Service"),
        ("", "Node"),
        ("", "Event"),
        ("events.k8s.io", "Event"),
        ("apps", "Deployment"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("", "Namespace"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("apps", "ControllerRevision"),
        ("", "LimitRange"),
        ("", "ResourceQuota"),
        ("", "PodTemplate"),
        ("", "ReplicationController"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("storage.k8s.io", "CSIDriver"),
        ("certificates.k8s.io", "CertificateSigningRequest"),
        ("policy", "PodDisruptionBudget"),
    ] {
        for obj in [
            json!({}),
            json!(null),
            json!({"spec": 5, "status": "x", "metadata": []}),
        ] {
            assert_eq!(
                cells(g, k, &obj, now()).len(),
                columns(g, k).len(),
                "{g}/{k}"
            );
        }
    }
}

#[test]
fn pod_running() {
    let pod = json!({
        "metadata": {"name": "web", "creationTimestamp": ago(Duration::minutes(5))},
        "spec": {"nodeName": "node1", "containers": [{"name": "c"}]},
        "status": {"phase": "Running", "podIP": "10.42.0.5",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &pod, now())),
        [
            "web",
            "1/1",
            "Running",
            "0",
            "5m",
            "10.42.0.5",
            "node1",
            "<none>",
            "<none>"
        ]
    );
}

#[test]
fn pod_init_and_waiting_states() {
    let base = |init_statuses: Value| {
        json!({
            "metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": init_statuses,
                "containerStatuses": [{"name": "c", "state": {"waiting": {"reason": "PodInitializing"}}}]}
        })
    };
    let p = base(json!([
        {"name": "i1", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i2", "state": {"running": {}}}
    ]));
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..4],
        ["0/1", "Init:1/2", "0"]
    );
    let p = base(json!([{"name": "i1", "restartCount": 2,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]));
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[2],
        "Init:CrashLoopBackOff"
    );
    let p = base(json!([{"name": "i1", "state": {"terminated": {"exitCode": 1}}}]));
    assert_eq!(strs(&cells("", "Pod", &p, now()))[2], "Init:ExitCode:1");
    let p = base(json!([{"name": "i1", "state": {"terminated": {"exitCode": 1, "signal": 9}}}]));
    assert_eq!(strs(&cells("", "Pod", &p, now()))[2], "Init:Signal:9");
    // Scheduled but no statuses yet: plain phase.
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending"}});
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..4],
        ["0/1", "Pending", "0"]
    );
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "c",
            "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
    assert_eq!(strs(&cells("", "Pod", &p, now()))[2], "ContainerCreating");
}

#[test]
fn pod_sidecar_counts_toward_ready() {
    let p = json!({
        "metadata": {"name": "p"},
        "spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}], "containers": [{"name": "c"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Initialized", "status": "True"}],
            "initContainerStatuses": [{"name": "side", "started": true, "ready": true, "restartCount": 1,
                "lastState": {"terminated": {"finishedAt": ago(Duration::minutes(3))}}, "state": {"running": {}}}],
            "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..4],
        ["2/2", "Running", "1 (3m ago)"]
    );
}

#[test]
fn pod_crashloop_with_last_restart() {
    let p = json!({
        "metadata": {"name": "crash", "creationTimestamp": ago(Duration::hours(1))},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(Duration::minutes(5))}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[..5],
        ["crash", "0/1", "CrashLoopBackOff", "5 (5m ago)", "60m"]
    );
}

#[test]
fn pod_terminating_completed_and_unknown() {
    let p = json!({
        "metadata": {"name": "t", "deletionTimestamp": ago(Duration::seconds(3))},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..3],
        ["1/1", "Terminating"]
    );
    let p = json!({
        "metadata": {"name": "done"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c", "ready": false,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..3],
        ["0/1", "Completed"]
    );
    let p = json!({
        "metadata": {"name": "lost", "deletionTimestamp": ago(Duration::seconds(3))},
        "spec": {"containers": [{"name": "c"}]},
        "status": {"phase": "Running", "reason": "NodeLost"}
    });
    assert_eq!(strs(&cells("", "Pod", &p, now()))[2], "Unknown");
    // One container completed, the other still running and ready.
    let p = json!({
        "metadata": {"name": "mixed"},
        "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
            "containerStatuses": [
                {"name": "a", "ready": true, "state": {"running": {}}},
                {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    });
    assert_eq!(
        strs(&cells("", "Pod", &p, now()))[1..3],
        ["1/2", "NotReady"]
    );
    let p = json!({"metadata": {"name": "g"}, "spec": {"readinessGates": [{"conditionType": "x"}, {"conditionType": "y"}]},
        "status": {"conditions": [{"type": "x", "status": "True"}], "podIPs": [{"ip": "fd00::1"}]}});
    let c = strs(&cells("", "Pod", &p, now()));
    assert_eq!((c[5].as_str(), c[8].as_str()), ("fd00::1", "1/2"));
}

#[test]
fn deployments_and_workloads() {
    let d = json!({
        "metadata": {"name": "nginx", "creationTimestamp": ago(Duration::days(3))},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]},
            "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    let c = cells("apps", "Deployment", &d, now());
    assert_eq!(
        strs(&c),
        [
            "nginx",
            "2/3",
            "3",
            "2",
            "3d",
            "nginx,log",
            "nginx:1.27,busybox",
            "app=nginx,tier in (api,web)"
        ]
    );
    assert_eq!(c[2], json!(3));
    let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 1}});
    assert_eq!(
        strs(&cells("apps", "StatefulSet", &sts, now()))[..2],
        ["db", "0/1"]
    );
    let job = json!({
        "metadata": {"name": "pi", "creationTimestamp": ago(Duration::seconds(40))},
        "spec": {"completions": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}},
        "status": {"succeeded": 1, "startTime": ago(Duration::seconds(38)), "completionTime": ago(Duration::seconds(30)),
            "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]}
    });
    assert_eq!(
        strs(&cells("batch", "Job", &job, now()))[..5],
        ["pi", "Complete", "1/1", "8s", "40s"]
    );
    let job = json!({"metadata": {"name": "par"}, "spec": {"parallelism": 3}, "status": {"startTime": ago(Duration::seconds(90))}});
    assert_eq!(
        strs(&cells("batch", "Job", &job, now()))[1..4],
        ["Running", "0/1 of 3", "90s"]
    );
    let cj =
        json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/1 * * * *", "suspend": false}});
    assert_eq!(
        strs(&cells("batch", "CronJob", &cj, now()))[1..6],
        ["*/1 * * * *", "<none>", "False", "0", "<none>"]
    );
}

#[test]
fn services_of_each_type() {
    let svc = |spec: Value, status: Value| json!({"metadata": {"name": "s"}, "spec": spec, "status": status});
    let c = strs(&cells(
        "",
        "Service",
        &svc(
            json!({"type": "ClusterIP", "clusterIP": "10.43.0.1", "clusterIPs": ["10.43.0.1"],
        "ports": [{"port": 443, "protocol": "TCP"}]}),
            json!({}),
        ),
        now(),
    ));
    assert_eq!(c[1..5], ["ClusterIP", "10.43.0.1", "<none>", "443/TCP"]);
    assert_eq!(c[6], "<none>");
    let c = strs(&cells(
        "",
        "Service",
        &svc(
            json!({"type": "NodePort", "clusterIPs": ["10.43.0.2"],
        "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
        "selector": {"b": "2", "a": "1"}}),
            json!({}),
        ),
        now(),
    ));
    assert_eq!(
        c[1..5],
        ["NodePort", "10.43.0.2", "<none>", "80:30080/TCP,53/UDP"]
    );
    assert_eq!(c[6], "a=1,b=2");
    let c = strs(&cells(
        "",
        "Service",
        &svc(
            json!({"type": "LoadBalancer", "clusterIPs": ["10.43.0.3"]}),
            json!({}),
        ),
        now(),
    ));
    assert_eq!(c[3..5], ["<pending>", "<none>"]);
    let c = strs(&cells(
        "",
        "Service",
        &svc(
            json!({"type": "LoadBalancer", "externalIPs": ["1.1.1.1"]}),
            json!({"loadBalancer": {"ingress": [{"ip": "5.5.5.5"}, {"hostname": "lb.example"}]}}),
        ),
        now(),
    ));
    assert_eq!(c[3], "5.5.5.5,lb.example,1.1.1.1");
    let c = strs(&cells(
        "",
        "Service",
        &svc(
            json!({"type": "ExternalName", "externalName": "example.com"}),
            json!({}),
        ),
        now(),
    ));
    assert_eq!(c[2..4], ["<none>", "example.com"]);
}

#[test]
fn nodes() {
    let node = |ready: &str, unsched: bool| {
        json!({
            "metadata": {"name": "n1", "creationTimestamp": ago(Duration::days(10)),
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"}},
            "spec": {"unschedulable": unsched},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": ready}],
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "n1"}],
                "nodeInfo": {"kubeletVersion": "v1.33.1+skiff", "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.27"}}
        })
    };
    assert_eq!(
        strs(&cells("", "Node", &node("True", false), now())),
        [
            "n1",
            "Ready",
            "control-plane,master",
            "10d",
            "v1.33.1+skiff",
            "192.168.1.10",
            "<none>",
            "Debian GNU/Linux 12 (bookworm)",
            "6.1.0",
            "containerd://1.7.27"
        ]
    );
    assert_eq!(
        strs(&cells("", "Node", &node("Unknown", false), now()))[1],
        "NotReady"
    );
    assert_eq!(
        strs(&cells("", "Node", &node("True", true), now()))[1],
        "Ready,SchedulingDisabled"
    );
    let bare = json!({"metadata": {"name": "n2"}, "spec": {"unschedulable": true}});
    assert_eq!(
        strs(&cells("", "Node", &bare, now()))[1..3],
        ["Unknown,SchedulingDisabled", "<none>"]
    );
}

#[test]
fn events_core_and_events_v1() {
    let ev = json!({
        "metadata": {"name": "web.17f", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{c}"},
        "reason": "Pulled", "type": "Normal", "message": "  Successfully pulled image  ",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": ago(Duration::minutes(10)), "lastTimestamp": ago(Duration::minutes(2)), "count": 4
    });
    let c = cells("", "Event", &ev, now());
    assert_eq!(
        strs(&c),
        [
            "2m",
            "Normal",
            "Pulled",
            "pod/web",
            "spec.containers{c}",
            "kubelet, n1",
            "Successfully pulled image",
            "10m",
            "4",
            "web.17f"
        ]
    );
    assert_eq!(c[8], json!(4));
    let ev = json!({
        "metadata": {"name": "e2"}, "regarding": {"kind": "Node"}, "reason": "Starting", "type": "Normal",
        "note": "Starting kubelet.", "reportingController": "kubelet", "reportingInstance": "n1",
        "eventTime": ago(Duration::seconds(30))
    });
    assert_eq!(
        strs(&cells("events.k8s.io", "Event", &ev, now())),
        [
            "30s",
            "Normal",
            "Starting",
            "node",
            "",
            "kubelet, n1",
            "Starting kubelet.",
            "30s",
            "1",
            "e2"
        ]
    );
    let ev = json!({"metadata": {"name": "e3"}, "series": {"count": 7, "lastObservedTime": ago(Duration::seconds(5))},
        "eventTime": ago(Duration::minutes(4))});
    let c = strs(&cells("", "Event", &ev, now()));
    assert_eq!(
        (c[0].as_str(), c[7].as_str(), c[8].as_str()),
        ("5s", "4m", "7")
    );
}

#[test]
fn misc_kinds() {
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(Duration::days(2))}, "status": {"phase": "Active"}});
    assert_eq!(
        strs(&cells("", "Namespace", &ns, now())),
        ["kube-system", "Active", "2d"]
    );
    let cm =
        json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
    assert_eq!(
        strs(&cells("", "ConfigMap", &cm, now())),
        ["c", "3", "<unknown>"]
    );
    let sec = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}});
    assert_eq!(
        strs(&cells("", "Secret", &sec, now())),
        ["s", "Opaque", "1", "<unknown>"]
    );
    let ep = json!({"metadata": {"name": "kubernetes"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
        "ports": [{"port": 6443}, {"port": 80}]}]});
    assert_eq!(
        strs(&cells("", "Endpoints", &ep, now()))[1],
        "10.0.0.1:6443,10.0.0.2:6443,10.0.0.1:80 + 1 more..."
    );
    let es = json!({"metadata": {"name": "k"}, "addressType": "IPv4", "ports": [{"port": 6443, "name": "https"}],
        "endpoints": [{"addresses": ["10.0.0.1"]}]});
    assert_eq!(
        strs(&cells("discovery.k8s.io", "EndpointSlice", &es, now()))[1..4],
        ["IPv4", "6443", "10.0.0.1"]
    );
    let lease = json!({"metadata": {"name": "n1"}, "spec": {"holderIdentity": "n1"}});
    assert_eq!(
        strs(&cells("coordination.k8s.io", "Lease", &lease, now()))[1],
        "n1"
    );
    let cr = json!({"metadata": {"name": "ds-1", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
        "name": "ds", "controller": true}]}, "revision": 2});
    assert_eq!(
        strs(&cells("apps", "ControllerRevision", &cr, now()))[1..3],
        ["daemonset.apps/ds", "2"]
    );
    let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv1", "storageClassName": "local-path"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
    assert_eq!(
        strs(&cells("", "PersistentVolumeClaim", &pvc, now())),
        [
            "data",
            "Bound",
            "pv1",
            "1Gi",
            "RWO",
            "local-path",
            "<unset>",
            "<unknown>",
            "<unset>"
        ]
    );
    let rq = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"},
        "used": {"pods": "3", "limits.cpu": "500m"}}});
    assert_eq!(
        strs(&cells("", "ResourceQuota", &rq, now()))[2..4],
        ["pods: 3/10, requests.cpu: 0/1", "limits.cpu: 500m/2"]
    );
    let sc = json!({"metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
    assert_eq!(
        strs(&cells("storage.k8s.io", "StorageClass", &sc, now()))[..5],
        [
            "local-path (default)",
            "rancher.io/local-path",
            "Delete",
            "WaitForFirstConsumer",
            "false"
        ]
    );
}

#[test]
fn field_selectors_per_kind() {
    let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.9"}]}});
    assert_eq!(
        field_value("", "Pod", &pod, "spec.nodeName"),
        Ok(Some("n1".into()))
    );
    assert_eq!(
        field_value("", "Pod", &pod, "spec.host"),
        Ok(Some("n1".into()))
    );
    assert_eq!(
        field_value("", "Pod", &pod, "spec.hostNetwork"),
        Ok(Some("false".into()))
    );
    assert_eq!(
        field_value("", "Pod", &pod, "status.podIP"),
        Ok(Some("10.0.0.9".into()))
    );
    assert_eq!(field_value("", "Pod", &pod, "status.podIPs"), Ok(None));
    assert_eq!(
        field_value("", "Pod", &pod, "spec.foo").map_err(|e| e.to_string()),
        Err("field label not supported: spec.foo".to_string())
    );
    assert_eq!(
        field_value("apps", "Deployment", &pod, "status.replicas").map_err(|e| e.to_string()),
        Err(r#""status.replicas" is not a known field selector: only "metadata.name", "metadata.namespace""#.to_string())
    );
    assert_eq!(
        field_value("apps", "Deployment", &pod, "metadata.namespace"),
        Ok(Some("ns".into()))
    );
    assert!(field_value("", "Node", &pod, "metadata.namespace").is_err());
    assert_eq!(
        field_value(
            "batch",
            "Job",
            &json!({"status": {"succeeded": 2}}),
            "status.successful"
        ),
        Ok(Some("2".into()))
    );
    assert_eq!(
        field_value("batch", "Job", &pod, "x").map_err(|e| e.to_string()),
        Err(r#"field label "x" not supported for Job"#.to_string())
    );
    let ev =
        json!({"involvedObject": {"kind": "Pod", "name": "p"}, "reportingComponent": "kubelet"});
    assert_eq!(
        field_value("", "Event", &ev, "source"),
        Ok(Some("kubelet".into()))
    );
    assert_eq!(
        field_value("", "Event", &ev, "involvedObject.name"),
        Ok(Some("p".into()))
    );
    assert_eq!(
        field_value("", "Secret", &json!({"type": "Opaque"}), "type"),
        Ok(Some("Opaque".into()))
    );
    assert_eq!(
        field_value("", "ReplicationController", &json!({}), "status.replicas"),
        Ok(Some("0".into()))
    );

    let reqs = match parse_field_selector("status.phase!=Failed,spec.nodeName==n1") {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(reqs.len(), 2);
    assert!(matches(&reqs, |f| field_value("", "Pod", &pod, f)
        .ok()
        .flatten()));
    let reqs = parse_field_selector("status.phase=Pending").unwrap_or_default();
    assert!(!matches(&reqs, |f| field_value("", "Pod", &pod, f)
        .ok()
        .flatten()));
}

#[test]
fn field_selector_parsing() {
    let r = parse_field_selector(r"a=x\,y\=z\\,b!=").unwrap_or_default();
    assert_eq!(
        r,
        [
            FieldRequirement {
                field: "a".into(),
                op: FieldOp::Equals,
                value: r"x,y=z\".into()
            },
            FieldRequirement {
                field: "b".into(),
                op: FieldOp::NotEquals,
                value: String::new()
            },
        ]
    );
    assert_eq!(parse_field_selector(""), Ok(vec![]));
    assert_eq!(
        parse_field_selector("abc"),
        Err("invalid selector: 'abc'; can't understand 'abc'".to_string())
    );
    assert_eq!(
        parse_field_selector(r"a=\n"),
        Err(r"invalid field selector: invalid escape sequence: \n".to_string())
    );
    assert_eq!(
        parse_field_selector("a=b=c"),
        Err("invalid field selector: unescaped character in value: 61".to_string())
    );
    assert!(matches(&[], |_| None));
}
