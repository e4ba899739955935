//! Expected outputs follow what a v1.33 apiserver returns for the same request bodies
//! (and upstream's `defaults_test.go` expectations).

use serde_json::{json, Value};

use super::{apply, image, job_selector_on_create};

/// Applies defaults and checks the result, then checks that a second pass changes nothing.
fn check(group: &str, kind: &str, input: Value, expected: Value) {
    let mut got = input;
    apply(group, kind, &mut got);
    assert_eq!(
        got,
        expected,
        "got:\n{}",
        serde_json::to_string_pretty(&got).unwrap_or_default()
    );
    let mut again = got.clone();
    apply(group, kind, &mut again);
    assert_eq!(again, got, "defaulting {group}/{kind} is not idempotent");
}

/// Checks that defaulting leaves an object exactly as it is.
fn unchanged(group: &str, kind: &str, input: Value) {
    check(group, kind, input.clone(), input);
}

/// A defaulted PodSpec holding `containers` (already defaulted) and nothing else set by the user.
fn defaulted_pod_spec(containers: Value) -> Value {
    json!({
        "containers": containers,
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "terminationGracePeriodSeconds": 30
    })
}

/// A container as kubectl sends it, and the same container defaulted.
fn busybox() -> (Value, Value) {
    (
        json!({"image": "busybox:1.35", "name": "busybox", "resources": {}}),
        json!({
            "image": "busybox:1.35", "name": "busybox", "resources": {},
            "imagePullPolicy": "IfNotPresent",
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"
        }),
    )
}

#[test]
fn pod_from_kubectl_run() {
    check(
        "",
        "Pod",
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"creationTimestamp": null, "labels": {"run": "nginx"}, "name": "nginx"},
            "spec": {
                "containers": [{"image": "nginx", "name": "nginx", "resources": {}}],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"
            },
            "status": {}
        }),
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"creationTimestamp": null, "labels": {"run": "nginx"}, "name": "nginx"},
            "spec": {
                "containers": [{
                    "image": "nginx", "name": "nginx", "resources": {},
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "dnsPolicy": "ClusterFirst", "restartPolicy": "Always",
                "enableServiceLinks": true,
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30
            },
            "status": {}
        }),
    );
}

#[test]
fn pod_nested_defaults() {
    check(
        "",
        "Pod",
        json!({
            "metadata": {"name": "p"},
            "spec": {
                "hostNetwork": true,
                "initContainers": [{
                    "name": "init", "image": "reg.example:5000/tools/init@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}
                }],
                "containers": [{
                    "name": "app", "image": "app:latest",
                    "ports": [{"containerPort": 8080}, {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}],
                    "env": [
                        {"name": "A", "value": "x"},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
                    ],
                    "resources": {"limits": {"cpu": "2"}},
                    "livenessProbe": {"httpGet": {"port": 8080}},
                    "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "timeoutSeconds": 0},
                    "startupProbe": {"grpc": {"port": 9000}},
                    "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/quit"}}, "postStart": {"exec": {"command": ["true"]}}}
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
                "volumes": [
                    {"name": "scratch"},
                    {"name": "cm", "configMap": {"name": "c"}},
                    {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
                    {"name": "dapi", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"name": "proj", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}},
                        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
                        {"configMap": {"name": "c"}}
                    ]}},
                    {"name": "host", "hostPath": {"path": "/var/log"}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}}},
                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "ceph", "rbd": {"monitors": ["m"], "image": "i"}},
                    {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "u"}},
                    {"name": "iscsi", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}},
                    {"name": "sio", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}}
                ]
            }
        }),
        json!({
            "metadata": {"name": "p"},
            "spec": {
                "hostNetwork": true,
                "initContainers": [{
                    "name": "init", "image": "reg.example:5000/tools/init@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "1Gi"}},
                    "imagePullPolicy": "IfNotPresent",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "containers": [{
                    "name": "app", "image": "app:latest",
                    "ports": [
                        {"containerPort": 8080, "hostPort": 8080, "protocol": "TCP"},
                        {"containerPort": 53, "protocol": "UDP", "hostPort": 5353}
                    ],
                    "env": [
                        {"name": "A", "value": "x"},
                        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName", "apiVersion": "v1"}}}
                    ],
                    "resources": {"limits": {"cpu": "2"}, "requests": {"cpu": "2"}},
                    "livenessProbe": {
                        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
                    },
                    "readinessProbe": {
                        "tcpSocket": {"port": 8080}, "periodSeconds": 5,
                        "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3
                    },
                    "startupProbe": {
                        "grpc": {"port": 9000, "service": ""},
                        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3
                    },
                    "lifecycle": {
                        "preStop": {"httpGet": {"port": 80, "path": "/quit", "scheme": "HTTP"}},
                        "postStart": {"exec": {"command": ["true"]}}
                    },
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "ephemeralContainers": [{
                    "name": "debug", "image": "busybox",
                    "imagePullPolicy": "Always",
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"
                }],
                "volumes": [
                    {"name": "scratch", "emptyDir": {}},
                    {"name": "cm", "configMap": {"name": "c", "defaultMode": 420}},
                    {"name": "sec", "secret": {"secretName": "s", "defaultMode": 256}},
                    {"name": "dapi", "downwardAPI": {"defaultMode": 420, "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels", "apiVersion": "v1"}}]}},
                    {"name": "proj", "projected": {"defaultMode": 420, "sources": [
                        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                        {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace", "apiVersion": "v1"}}]}},
                        {"configMap": {"name": "c"}}
                    ]}},
                    {"name": "host", "hostPath": {"path": "/var/log", "type": ""}},
                    {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem"}}}},
                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "ceph", "rbd": {"monitors": ["m"], "image": "i", "pool": "rbd", "user": "admin", "keyring": "/etc/ceph/keyring"}},
                    {"name": "disk", "azureDisk": {"diskName": "d", "diskURI": "u", "cachingMode": "ReadWrite", "fsType": "ext4", "readOnly": false, "kind": "Shared"}},
                    {"name": "iscsi", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0, "iscsiInterface": "default"}},
                    {"name": "sio", "scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}, "storageMode": "ThinProvisioned", "fsType": "xfs"}}
                ],
                "enableServiceLinks": true,
                "dnsPolicy": "ClusterFirst",
                "restartPolicy": "Always",
                "schedulerName": "default-scheduler",
                "securityContext": {},
                "terminationGracePeriodSeconds": 30
            }
        }),
    );
}

#[test]
fn pod_keeps_user_values() {
    unchanged(
        "",
        "Pod",
        json!({
            "metadata": {"name": "p"},
            "spec": {
                "containers": [{
                    "name": "c", "image": "nginx:latest", "imagePullPolicy": "Never",
                    "terminationMessagePath": "/tmp/log", "terminationMessagePolicy": "FallbackToLogsOnError",
                    "ports": [{"containerPort": 80, "protocol": "SCTP"}],
                    "livenessProbe": {"exec": {"command": ["x"]}, "timeoutSeconds": 4, "periodSeconds": 7, "successThreshold": 1, "failureThreshold": 9}
                }],
                "dnsPolicy": "Default", "restartPolicy": "Never", "schedulerName": "mine",
                "securityContext": {"runAsUser": 1000}, "terminationGracePeriodSeconds": 0,
                "enableServiceLinks": false,
                "volumes": [{"name": "v", "hostPath": {"path": "/x", "type": "Directory"}}]
            }
        }),
    );
}

#[test]
fn wrong_types_are_left_alone() {
    let inputs = [
        json!({"spec": "nope"}),
        json!({"spec": {"containers": "nope", "volumes": [1, "x", null], "dnsPolicy": 7}}),
        json!({"spec": {"containers": [{"name": 1, "image": 2, "ports": [{"protocol": 6}], "livenessProbe": []}]}}),
        json!([1, 2, 3]),
        json!(null),
    ];
    for kind in [
        "Pod",
        "PodTemplate",
        "ReplicationController",
        "Service",
        "Namespace",
    ] {
        for input in &inputs {
            let mut v = input.clone();
            apply("", kind, &mut v);
        }
    }
    let mut v =
        json!({"spec": {"dnsPolicy": 7, "containers": [{"image": 2, "ports": [{"protocol": 6}]}]}});
    apply("", "Pod", &mut v);
    assert_eq!(v["spec"]["dnsPolicy"], json!(7));
    assert_eq!(v["spec"]["containers"][0]["ports"][0]["protocol"], json!(6));
    // An unparsable image has no tag, so it pulls IfNotPresent.
    assert_eq!(
        v["spec"]["containers"][0]["imagePullPolicy"],
        json!("IfNotPresent")
    );
    for (group, kind) in [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("networking.k8s.io", "NetworkPolicy"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
    ] {
        for input in &inputs {
            let mut v = input.clone();
            apply(group, kind, &mut v);
        }
        let mut v = json!({"spec": {"strategy": 3, "updateStrategy": "x", "template": 5, "jobTemplate": []}});
        let before = v.clone();
        apply(group, kind, &mut v);
        for key in ["strategy", "updateStrategy", "template", "jobTemplate"] {
            assert_eq!(v["spec"][key], before["spec"][key], "{kind}.spec.{key}");
        }
    }
    let mut job = json!({"spec": "x"});
    job_selector_on_create(&mut job);
    assert_eq!(job, json!({"spec": "x"}));
}

#[test]
fn image_pull_policy() {
    for (img, policy) in [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("docker.io/library/busybox", "Always"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:latest", "Always"),
        ("busybox:1.35", "IfNotPresent"),
        ("registry.k8s.io/pause:3.10", "IfNotPresent"),
        (
            "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        (
            "busybox:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "Always",
        ),
        ("busybox@sha256:abc", "IfNotPresent"),
        ("Busybox", "IfNotPresent"),
        ("", "IfNotPresent"),
        ("not a ref", "IfNotPresent"),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "IfNotPresent",
        ),
        ("Registry.Example.com/app", "Always"),
    ] {
        assert_eq!(image::pull_policy(img), policy, "{img}");
    }
}

#[test]
fn pod_template() {
    let (c, dc) = busybox();
    check(
        "",
        "PodTemplate",
        json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [c]}}}),
        json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": defaulted_pod_spec(json!([dc]))}}),
    );
}

#[test]
fn replication_controller() {
    let (c, dc) = busybox();
    check(
        "",
        "ReplicationController",
        json!({"metadata": {"name": "rc"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [c.clone()]}}}}),
        json!({
            "metadata": {"name": "rc", "labels": {"app": "x"}},
            "spec": {
                "replicas": 1,
                "selector": {"app": "x"},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": defaulted_pod_spec(json!([dc]))}
            }
        }),
    );
    // Set selector, labels and replicas are kept.
    let mut rc = json!({"metadata": {"name": "rc", "labels": {"own": "1"}}, "spec": {"replicas": 0, "selector": {"app": "x"}, "template": {"metadata": {"labels": {"app": "x", "v": "2"}}, "spec": {"containers": [c]}}}});
    apply("", "ReplicationController", &mut rc);
    assert_eq!(rc["metadata"]["labels"], json!({"own": "1"}));
    assert_eq!(rc["spec"]["selector"], json!({"app": "x"}));
    assert_eq!(rc["spec"]["replicas"], json!(0));
}

#[test]
fn service_cluster_ip_from_kubectl() {
    check(
        "",
        "Service",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web"},
            "spec": {
                "ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app": "web"}, "type": "ClusterIP"
            },
            "status": {"loadBalancer": {}}
        }),
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web"},
            "spec": {
                "ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
                "selector": {"app": "web"}, "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster"
            },
            "status": {"loadBalancer": {}}
        }),
    );
}

#[test]
fn service_variants() {
    // Minimal: type, protocol and targetPort default.
    check(
        "",
        "Service",
        json!({"spec": {"ports": [{"port": 443}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}, {"port": 81, "targetPort": 0}]}}),
        json!({"spec": {
            "ports": [
                {"port": 443, "protocol": "TCP", "targetPort": 443},
                {"port": 53, "protocol": "UDP", "targetPort": "dns"},
                {"port": 81, "targetPort": 81, "protocol": "TCP"}
            ],
            "sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster"
        }}),
    );
    // LoadBalancer with ClientIP affinity.
    check(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb.example"}]}}}),
        json!({"spec": {
            "type": "LoadBalancer", "sessionAffinity": "ClientIP",
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
            "ports": [{"port": 80, "targetPort": 80, "protocol": "TCP"}],
            "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster",
            "allocateLoadBalancerNodePorts": true
        }, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}, {"hostname": "lb.example"}]}}}),
    );
    // NodePort; a None affinity drops any config.
    check(
        "",
        "Service",
        json!({"spec": {"type": "NodePort", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}}}),
        json!({"spec": {"type": "NodePort", "sessionAffinity": "None", "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"}}),
    );
    // ClusterIP with external IPs is externally accessible.
    check(
        "",
        "Service",
        json!({"spec": {"externalIPs": ["10.0.0.9"]}}),
        json!({"spec": {"externalIPs": ["10.0.0.9"], "sessionAffinity": "None", "type": "ClusterIP",
                         "externalTrafficPolicy": "Cluster", "internalTrafficPolicy": "Cluster"}}),
    );
    // ExternalName gets no traffic policies.
    check(
        "",
        "Service",
        json!({"spec": {"type": "ExternalName", "externalName": "example.com"}}),
        json!({"spec": {"type": "ExternalName", "externalName": "example.com", "sessionAffinity": "None"}}),
    );
    // User choices stay.
    unchanged(
        "",
        "Service",
        json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP",
                         "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
                         "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Local",
                         "allocateLoadBalancerNodePorts": false,
                         "ports": [{"port": 80, "targetPort": 8080, "protocol": "UDP"}]}}),
    );
}

#[test]
fn secret_namespace_node() {
    check(
        "",
        "Secret",
        json!({"metadata": {"name": "s"}, "data": {"k": "dg=="}}),
        json!({"metadata": {"name": "s"}, "data": {"k": "dg=="}, "type": "Opaque"}),
    );
    unchanged("", "Secret", json!({"type": "kubernetes.io/tls"}));
    check(
        "",
        "Namespace",
        json!({"metadata": {"name": "dev"}, "spec": {}, "status": {}}),
        json!({"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev"}}, "spec": {}, "status": {}}),
    );
    // Upstream overwrites a wrong metadata.name label.
    check(
        "",
        "Namespace",
        json!({"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "x", "a": "b"}}}),
        json!({"metadata": {"name": "dev", "labels": {"kubernetes.io/metadata.name": "dev", "a": "b"}}}),
    );
    unchanged(
        "",
        "Namespace",
        json!({"metadata": {"generateName": "dev-"}}),
    );
    check(
        "",
        "Node",
        json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4", "pods": "110"}}}),
        json!({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "4", "pods": "110"}, "allocatable": {"cpu": "4", "pods": "110"}}}),
    );
    unchanged("", "Node", json!({"metadata": {"name": "n"}, "spec": {}}));
    unchanged("", "ConfigMap", json!({"metadata": {"name": "c"}}));
    unchanged(
        "",
        "Event",
        json!({"metadata": {"name": "e"}, "reason": "x"}),
    );
    unchanged(
        "coordination.k8s.io",
        "Lease",
        json!({"metadata": {"name": "l"}, "spec": {}}),
    );
    unchanged(
        "events.k8s.io",
        "Event",
        json!({"metadata": {"name": "e"}, "reason": "x"}),
    );
    unchanged(
        "",
        "ResourceQuota",
        json!({"spec": {"hard": {"pods": "10"}}}),
    );
}

#[test]
fn persistent_volumes() {
    check(
        "",
        "PersistentVolume",
        json!({"metadata": {"name": "pv"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data"}}}),
        json!({"metadata": {"name": "pv"},
               "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data", "type": ""},
                        "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"},
               "status": {"phase": "Pending"}}),
    );
    check(
        "",
        "PersistentVolumeClaim",
        json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
        json!({"metadata": {"name": "c"},
               "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
               "status": {"phase": "Pending"}}),
    );
    unchanged(
        "",
        "PersistentVolumeClaim",
        json!({"spec": {"volumeMode": "Block"}, "status": {"phase": "Bound"}}),
    );
}

#[test]
fn limit_range() {
    check(
        "",
        "LimitRange",
        json!({"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m", "ephemeral-storage": "1Mi"}, "default": {"memory": "512Mi"}},
            {"type": "Pod", "max": {"cpu": "4"}},
            {"type": "Container"}
        ]}}),
        json!({"spec": {"limits": [
            {"type": "Container", "max": {"cpu": "2", "memory": "1Gi"}, "min": {"cpu": "100m", "ephemeral-storage": "1Mi"},
             "default": {"memory": "512Mi", "cpu": "2"},
             "defaultRequest": {"memory": "512Mi", "cpu": "2", "ephemeral-storage": "1Mi"}},
            {"type": "Pod", "max": {"cpu": "4"}},
            {"type": "Container"}
        ]}}),
    );
}

#[test]
fn endpoints_and_slices() {
    check(
        "",
        "Endpoints",
        json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}]}),
        json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}]}),
    );
    check(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}),
        json!({"addressType": "IPv4", "endpoints": [], "ports": [{"port": 80, "name": "", "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]}),
    );
}

#[test]
fn deployment_from_kubectl_create() {
    let (c, dc) = busybox();
    check(
        "apps",
        "Deployment",
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {},
                "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}}, "spec": {"containers": [c]}}
            },
            "status": {}
        }),
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"creationTimestamp": null, "labels": {"app": "web"}, "name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
                "template": {"metadata": {"creationTimestamp": null, "labels": {"app": "web"}}, "spec": defaulted_pod_spec(json!([dc]))}
            },
            "status": {}
        }),
    );
}

#[test]
fn deployment_keeps_user_values() {
    let (_, dc) = busybox();
    let mut spec = defaulted_pod_spec(json!([dc]));
    spec["enableServiceLinks"] = json!(false);
    unchanged(
        "apps",
        "Deployment",
        json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}, "revisionHistoryLimit": 0,
                         "progressDeadlineSeconds": 30, "template": {"spec": spec}}}),
    );
    check(
        "apps",
        "Deployment",
        json!({"spec": {"strategy": {"rollingUpdate": {"maxSurge": 0}}, "template": {"spec": {}}}}),
        json!({"spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "25%"}},
                         "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
                         "template": {"spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always", "schedulerName": "default-scheduler",
                                               "securityContext": {}, "terminationGracePeriodSeconds": 30}}}}),
    );
}

#[test]
fn replica_set() {
    let (c, dc) = busybox();
    check(
        "apps",
        "ReplicaSet",
        json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [c]}}}}),
        json!({"spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                         "template": {"metadata": {"labels": {"a": "b"}}, "spec": defaulted_pod_spec(json!([dc]))}}}),
    );
}

#[test]
fn stateful_set() {
    let (c, dc) = busybox();
    check(
        "apps",
        "StatefulSet",
        json!({"spec": {
            "serviceName": "db", "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [c]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
        }}),
        json!({"spec": {
            "serviceName": "db", "selector": {"matchLabels": {"a": "b"}},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "replicas": 1,
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": defaulted_pod_spec(json!([dc]))},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                      "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeMode": "Filesystem"},
                                      "status": {"phase": "Pending"}}]
        }}),
    );
    // An explicit RollingUpdate type without rollingUpdate stays that way; OnDelete gets nothing.
    let mut sts =
        json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}, "template": {"spec": {}}}});
    apply("apps", "StatefulSet", &mut sts);
    assert_eq!(
        sts["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate"})
    );
    let mut sts = json!({"spec": {"updateStrategy": {"type": "OnDelete"}, "podManagementPolicy": "Parallel",
                                  "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Delete"}}});
    apply("apps", "StatefulSet", &mut sts);
    assert_eq!(sts["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
    assert_eq!(sts["spec"]["podManagementPolicy"], json!("Parallel"));
    assert_eq!(
        sts["spec"]["persistentVolumeClaimRetentionPolicy"],
        json!({"whenDeleted": "Delete", "whenScaled": "Retain"})
    );
}

#[test]
fn daemon_set() {
    let (c, dc) = busybox();
    check(
        "apps",
        "DaemonSet",
        json!({"spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [c]}}}}),
        json!({"spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": {"a": "b"}}, "spec": defaulted_pod_spec(json!([dc]))}
        }}),
    );
    let mut ds = json!({"spec": {"updateStrategy": {"type": "OnDelete"}}});
    apply("apps", "DaemonSet", &mut ds);
    assert_eq!(ds["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
}

/// `kubectl create job pi --image=perl:5.34.0` as sent over the wire.
fn kubectl_job() -> Value {
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"creationTimestamp": null, "name": "pi", "uid": "0d8e5f4e-1111-2222-3333-444455556666"},
        "spec": {"template": {"metadata": {"creationTimestamp": null},
                               "spec": {"containers": [{"image": "perl:5.34.0", "name": "pi", "resources": {}}], "restartPolicy": "Never"}}},
        "status": {}
    })
}

#[test]
fn job_from_kubectl_create() {
    let mut pod_spec = defaulted_pod_spec(json!([{
        "image": "perl:5.34.0", "name": "pi", "resources": {},
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"
    }]));
    pod_spec["restartPolicy"] = json!("Never");
    let uid = "0d8e5f4e-1111-2222-3333-444455556666";
    let generated = json!({
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi"
    });
    let expected = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"creationTimestamp": null, "name": "pi", "uid": uid, "labels": generated},
        "spec": {
            "backoffLimit": 6, "completionMode": "NonIndexed", "completions": 1, "manualSelector": false,
            "parallelism": 1, "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "suspend": false,
            "template": {"metadata": {"creationTimestamp": null, "labels": generated}, "spec": pod_spec}
        },
        "status": {}
    });
    // Create path: selector generation, then defaulting.
    let mut job = kubectl_job();
    job_selector_on_create(&mut job);
    apply("batch", "Job", &mut job);
    assert_eq!(job, expected);
    // The other order agrees for a template without labels of its own.
    let mut job = kubectl_job();
    apply("batch", "Job", &mut job);
    job_selector_on_create(&mut job);
    assert_eq!(job, expected);
    // Both steps are idempotent.
    let again = job.clone();
    job_selector_on_create(&mut job);
    apply("batch", "Job", &mut job);
    assert_eq!(job, again);
}

#[test]
fn job_rules() {
    // Only completions set: parallelism defaults to 1, completions stays.
    let mut j = json!({"spec": {"completions": 5, "template": {"spec": {}}}});
    apply("batch", "Job", &mut j);
    assert_eq!(j["spec"]["completions"], json!(5));
    assert_eq!(j["spec"]["parallelism"], json!(1));
    // Only parallelism set: completions stays unset.
    let mut j = json!({"spec": {"parallelism": 3}});
    apply("batch", "Job", &mut j);
    assert!(j["spec"].get("completions").is_none());
    assert_eq!(j["spec"]["parallelism"], json!(3));
    // Per-index backoff makes the global limit MaxInt32; a pod failure policy makes
    // replacement wait for Failed and its patterns default to status True.
    let mut j = json!({"spec": {"completionMode": "Indexed", "completions": 3, "backoffLimitPerIndex": 1,
                                "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}}});
    apply("batch", "Job", &mut j);
    assert_eq!(j["spec"]["backoffLimit"], json!(2147483647));
    assert_eq!(j["spec"]["podReplacementPolicy"], json!("Failed"));
    assert_eq!(j["spec"]["completionMode"], json!("Indexed"));
    assert_eq!(
        j["spec"]["podFailurePolicy"]["rules"][0]["onPodConditions"][0],
        json!({"type": "DisruptionTarget", "status": "True"})
    );
    // A template with labels lends them to an unlabelled Job.
    let mut j = json!({"metadata": {"name": "j", "uid": "u"}, "spec": {"template": {"metadata": {"labels": {"app": "x"}}}}});
    job_selector_on_create(&mut j);
    apply("batch", "Job", &mut j);
    assert_eq!(
        j["metadata"]["labels"],
        json!({"app": "x", "job-name": "j", "batch.kubernetes.io/job-name": "j", "controller-uid": "u", "batch.kubernetes.io/controller-uid": "u"})
    );
    // Manual selectors are left to the user.
    let mut j = json!({"metadata": {"name": "j", "uid": "u"}, "spec": {"manualSelector": true, "selector": {"matchLabels": {"a": "b"}},
                                                                        "template": {"metadata": {"labels": {"a": "b"}}}}});
    let before = j.clone();
    job_selector_on_create(&mut j);
    assert_eq!(j, before);
    // User-set values stay.
    unchanged(
        "batch",
        "Job",
        json!({"metadata": {"labels": {"x": "y"}},
               "spec": {"completions": 0, "parallelism": 0, "backoffLimit": 0, "completionMode": "NonIndexed", "suspend": true,
                        "podReplacementPolicy": "Failed", "manualSelector": false,
                        "template": {"metadata": {"labels": {"a": "b"}},
                                     "spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "OnFailure", "schedulerName": "default-scheduler",
                                              "securityContext": {}, "terminationGracePeriodSeconds": 30}}}}),
    );
}

#[test]
fn cron_job_from_kubectl_create() {
    let mut pod_spec = defaulted_pod_spec(json!([{
        "image": "busybox", "name": "tick", "resources": {},
        "imagePullPolicy": "Always",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File"
    }]));
    pod_spec["restartPolicy"] = json!("OnFailure");
    check(
        "batch",
        "CronJob",
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"creationTimestamp": null, "name": "tick"},
            "spec": {
                "jobTemplate": {"metadata": {"creationTimestamp": null, "name": "tick"},
                                "spec": {"template": {"metadata": {"creationTimestamp": null},
                                                      "spec": {"containers": [{"image": "busybox", "name": "tick", "resources": {}}], "restartPolicy": "OnFailure"}}}},
                "schedule": "*/1 * * * *"
            },
            "status": {}
        }),
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"creationTimestamp": null, "name": "tick"},
            "spec": {
                "concurrencyPolicy": "Allow",
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {"metadata": {"creationTimestamp": null, "name": "tick"},
                                "spec": {"template": {"metadata": {"creationTimestamp": null}, "spec": pod_spec}}},
                "schedule": "*/1 * * * *",
                "successfulJobsHistoryLimit": 3,
                "suspend": false
            },
            "status": {}
        }),
    );
    unchanged(
        "batch",
        "CronJob",
        json!({"spec": {"concurrencyPolicy": "Forbid", "suspend": true, "successfulJobsHistoryLimit": 0, "failedJobsHistoryLimit": 0,
                        "jobTemplate": {"spec": {"template": {"spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "Never",
                            "schedulerName": "default-scheduler", "securityContext": {}, "terminationGracePeriodSeconds": 30}}}}}}),
    );
}

#[test]
fn networking() {
    check(
        "networking.k8s.io",
        "NetworkPolicy",
        json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}], "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}}),
        json!({"spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}],
                         "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}], "policyTypes": ["Ingress", "Egress"]}}),
    );
    check(
        "networking.k8s.io",
        "NetworkPolicy",
        json!({"spec": {"podSelector": {}}}),
        json!({"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
    );
    unchanged(
        "networking.k8s.io",
        "NetworkPolicy",
        json!({"spec": {"podSelector": {}, "policyTypes": ["Egress"]}}),
    );
    check(
        "networking.k8s.io",
        "IngressClass",
        json!({"spec": {"controller": "x/y", "parameters": {"kind": "K", "name": "n"}}}),
        json!({"spec": {"controller": "x/y", "parameters": {"kind": "K", "name": "n", "scope": "Cluster"}}}),
    );
    unchanged(
        "networking.k8s.io",
        "Ingress",
        json!({"spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix"}]}}]}}),
    );
}

#[test]
fn rbac_storage_scheduling() {
    check(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        json!({"roleRef": {"kind": "Role", "name": "r"}, "subjects": [
            {"kind": "User", "name": "u"}, {"kind": "Group", "name": "g"},
            {"kind": "ServiceAccount", "name": "sa", "namespace": "default"}]}),
        json!({"roleRef": {"kind": "Role", "name": "r", "apiGroup": "rbac.authorization.k8s.io"}, "subjects": [
            {"kind": "User", "name": "u", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "Group", "name": "g", "apiGroup": "rbac.authorization.k8s.io"},
            {"kind": "ServiceAccount", "name": "sa", "namespace": "default", "apiGroup": ""}]}),
    );
    check(
        "rbac.authorization.k8s.io",
        "ClusterRoleBinding",
        json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"}}),
        json!({"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"}}),
    );
    check(
        "storage.k8s.io",
        "StorageClass",
        json!({"provisioner": "p"}),
        json!({"provisioner": "p", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}),
    );
    check(
        "storage.k8s.io",
        "CSIDriver",
        json!({"spec": {}}),
        json!({"spec": {"attachRequired": true, "podInfoOnMount": false, "storageCapacity": false,
                         "fsGroupPolicy": "ReadWriteOnceWithFSType", "volumeLifecycleModes": ["Persistent"],
                         "requiresRepublish": false, "seLinuxMount": false}}),
    );
    check(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"value": 1000}),
        json!({"value": 1000, "preemptionPolicy": "PreemptLowerPriority"}),
    );
    unchanged(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"value": 1000, "preemptionPolicy": "Never"}),
    );
}

#[test]
fn horizontal_pod_autoscaler() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    check(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 5, "scaleTargetRef": target}}),
        json!({"apiVersion": "autoscaling/v2", "spec": {
            "maxReplicas": 5, "scaleTargetRef": target, "minReplicas": 1,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        }}),
    );
    check(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 5, "minReplicas": 2, "scaleTargetRef": target,
               "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}],
               "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}}),
        json!({"apiVersion": "autoscaling/v2", "spec": {"maxReplicas": 5, "minReplicas": 2, "scaleTargetRef": target,
        "metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}}],
        "behavior": {
            "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max",
                          "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
            "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                     {"type": "Percent", "value": 100, "periodSeconds": 15}]}
        }}}),
    );
    check(
        "autoscaling",
        "HorizontalPodAutoscaler",
        json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 5, "scaleTargetRef": target}}),
        json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 5, "scaleTargetRef": target, "minReplicas": 1}}),
    );
}
