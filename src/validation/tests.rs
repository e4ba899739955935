use super::*;
use serde_json::json;

fn msgs(group: &str, kind: &str, obj: &Value) -> Vec<String> {
    validate(group, kind, obj, None)
        .iter()
        .map(FieldError::message)
        .collect()
}

fn upd(group: &str, kind: &str, obj: &Value, old: &Value) -> Vec<String> {
    validate(group, kind, obj, Some(old))
        .iter()
        .map(FieldError::message)
        .collect()
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn pod_spec() -> Value {
    json!({"containers": [{"name": "app", "image": "nginx"}]})
}

fn pod() -> Value {
    json!({"metadata": {"name": "p", "namespace": "default"}, "spec": pod_spec()})
}

#[test]
fn object_meta_name() {
    let cm = json!({"metadata": {"name": "Bad_Name"}});
    assert_eq!(
        msgs("", "ConfigMap", &cm),
        vec![format!(
            "metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}"
        )]
    );
    assert_eq!(
        msgs("", "ConfigMap", &json!({"metadata": {}})),
        vec!["metadata.name: Required value: name or generateName is required"]
    );
    assert!(msgs(
        "",
        "ConfigMap",
        &json!({"metadata": {"generateName": "x-"}})
    )
    .is_empty());
    assert_eq!(
        msgs("", "Namespace", &json!({"metadata": {"name": "a.b"}})),
        vec!["metadata.name: Invalid value: \"a.b\": must not contain dots"]
    );
    assert_eq!(
        msgs("", "Service", &json!({"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}})),
        vec!["metadata.name: Invalid value: \"1abc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"]
    );
    assert_eq!(
        msgs(
            "",
            "Namespace",
            &json!({"metadata": {"name": "x".repeat(64)}})
        )
        .len(),
        1
    );
}

#[test]
fn object_meta_labels_annotations_and_update() {
    let cm = json!({"metadata": {"name": "x", "labels": {"a b": "ok", "k": "bad value"}, "annotations": {"big": "x".repeat(300 * 1024)}}});
    let m = msgs("", "ConfigMap", &cm);
    assert_eq!(m.len(), 3, "{m:?}");
    assert!(m[0].starts_with("metadata.labels: Invalid value: \"a b\": name part must consist of alphanumeric characters"));
    assert!(m[1].starts_with(
        "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty string"
    ));
    assert_eq!(
        m[2],
        "metadata.annotations: Too long: must have at most 262144 bytes"
    );

    let old = json!({"metadata": {"name": "x", "uid": "1"}});
    let new = json!({"metadata": {"name": "y", "uid": "2"}});
    assert_eq!(
        upd("", "ConfigMap", &new, &old),
        vec![
            "metadata.name: Invalid value: \"y\": field is immutable",
            "metadata.uid: Invalid value: \"2\": field is immutable"
        ]
    );
}

#[test]
fn config_map() {
    let good =
        json!({"metadata": {"name": "c"}, "data": {"a.txt": "x"}, "binaryData": {"b": "aGk="}});
    assert!(msgs("", "ConfigMap", &good).is_empty());
    let bad = json!({"metadata": {"name": "c"}, "data": {"bad key": "x", "..x": "y"}});
    assert_eq!(
        msgs("", "ConfigMap", &bad),
        vec![
            "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            "data[..x]: Invalid value: \"..x\": must not start with '..'"
        ]
    );
    let big = json!({"metadata": {"name": "c"}, "data": {"a": "x".repeat(1024 * 1024 + 1)}});
    assert_eq!(
        msgs("", "ConfigMap", &big),
        vec![": Too long: must have at most 1048576 bytes"]
    );
    let dup = json!({"metadata": {"name": "c"}, "data": {"a": "x"}, "binaryData": {"a": "aGk="}});
    assert_eq!(
        msgs("", "ConfigMap", &dup),
        vec!["data[a]: Invalid value: \"a\": duplicate of key present in binaryData"]
    );
    let old = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    let new = json!({"metadata": {"name": "c"}, "data": {"a": "2"}});
    assert_eq!(
        upd("", "ConfigMap", &new, &old),
        vec![
            "immutable: Forbidden: field is immutable when `immutable` is set",
            "data: Forbidden: field is immutable when `immutable` is set"
        ]
    );
}

#[test]
fn secret() {
    assert!(msgs(
        "",
        "Secret",
        &json!({"metadata": {"name": "s"}, "data": {"k": "dg=="}})
    )
    .is_empty());
    assert_eq!(
        msgs(
            "",
            "Secret",
            &json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "stringData": {"tls.crt": "x"}})
        ),
        vec!["data[tls.key]: Required value"]
    );
    assert_eq!(
        msgs(
            "",
            "Secret",
            &json!({"metadata": {"name": "s"}, "type": "kubernetes.io/dockerconfigjson"})
        ),
        vec!["data[.dockerconfigjson]: Required value"]
    );
    assert_eq!(
        msgs(
            "",
            "Secret",
            &json!({"metadata": {"name": "s"}, "type": "kubernetes.io/service-account-token"})
        ),
        vec!["metadata.annotations[kubernetes.io/service-account.name]: Required value"]
    );
    assert_eq!(
        msgs(
            "",
            "Secret",
            &json!({"metadata": {"name": "s"}, "stringData": {"a b": "x"}})
        )
        .len(),
        1
    );
    let old = json!({"metadata": {"name": "s"}, "type": "Opaque", "immutable": true, "data": {"a": "MQ=="}});
    let new = json!({"metadata": {"name": "s"}, "type": "Opaque", "immutable": true, "data": {"a": "Mg=="}});
    assert_eq!(
        upd("", "Secret", &new, &old),
        vec!["data: Forbidden: field is immutable when `immutable` is set"]
    );
}

#[test]
fn pod_basics() {
    assert!(msgs("", "Pod", &pod()).is_empty());
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]}});
    assert_eq!(
        msgs("", "Pod", &p),
        vec!["spec.containers[0].image: Required value"]
    );
    let p = json!({"metadata": {"name": "p"}, "spec": {}});
    assert_eq!(msgs("", "Pod", &p), vec!["spec.containers: Required value"]);
    let p = json!({"metadata": {"name": "p"}, "spec": {
        "initContainers": [{"name": "app", "image": "i"}],
        "containers": [{"name": "app", "image": "i"}, {"name": "Bad", "image": "i"}],
        "restartPolicy": "Sometimes",
        "dnsPolicy": "Bogus"
    }});
    assert_eq!(
        msgs("", "Pod", &p),
        vec![
            format!("spec.containers[1].name: Invalid value: \"Bad\": {LABEL}"),
            "spec.initContainers[0].name: Duplicate value: \"app\"".to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".to_string(),
            "spec.dnsPolicy: Unsupported value: \"Bogus\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"".to_string(),
        ]
    );
}

#[test]
fn pod_ports_env_volumes() {
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "app", "image": "i",
        "ports": [{"containerPort": 70000, "name": "http"}, {"containerPort": 80, "name": "http", "protocol": "HTTP"}, {"name": "Bad"}],
        "env": [{"name": ""}, {"name": "A=B"}],
        "volumeMounts": [{"name": "missing", "mountPath": "/x"}]
    }], "volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/"}}, {"name": "v"}]}});
    assert_eq!(
        msgs("", "Pod", &p),
        vec![
            "spec.volumes[0].emptyDir: Forbidden: may not specify more than 1 volume type",
            "spec.volumes[1]: Required value: must specify a volume type",
            "spec.volumes[1].name: Duplicate value: \"v\"",
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
            "spec.containers[0].ports[1].name: Duplicate value: \"http\"",
            "spec.containers[0].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "spec.containers[0].ports[2].name: Invalid value: \"Bad\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            "spec.containers[0].ports[2].containerPort: Required value",
            "spec.containers[0].env[0].name: Required value",
            "spec.containers[0].env[1].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            "spec.containers[0].volumeMounts[0].name: Not found: \"missing\"",
        ]
    );
}

#[test]
fn pod_resources_and_probes() {
    let p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{
        "name": "app", "image": "i",
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "2", "memory": "-1", "storage": "1x"}},
        "livenessProbe": {"httpGet": {"port": 0}, "successThreshold": 2},
        "readinessProbe": {}
    }]}});
    assert_eq!(
        msgs("", "Pod", &p),
        vec![
            "spec.containers[0].resources.requests[storage]: Invalid value: \"1x\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.containers[0].resources.requests[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
            "spec.containers[0].livenessProbe.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
            "spec.containers[0].readinessProbe: Required value: must specify a handler type",
        ]
    );
}

#[test]
fn pod_template() {
    let t = json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c"}]}}});
    assert_eq!(
        msgs("", "PodTemplate", &t),
        vec!["template.spec.containers[0].image: Required value"]
    );
}

fn svc(spec: Value) -> Value {
    json!({"metadata": {"name": "s"}, "spec": spec})
}

#[test]
fn service() {
    assert!(msgs(
        "",
        "Service",
        &svc(json!({"ports": [{"port": 80, "targetPort": "http"}], "selector": {"app": "x"}}))
    )
    .is_empty());
    assert!(msgs("", "Service", &svc(json!({"clusterIP": "None"}))).is_empty());
    assert_eq!(
        msgs("", "Service", &svc(json!({}))),
        vec!["spec.ports: Required value"]
    );
    assert_eq!(
        msgs("", "Service", &svc(json!({"type": "ExternalName"}))),
        vec!["spec.externalName: Required value"]
    );
    assert_eq!(
        msgs("", "Service", &svc(json!({"type": "Weird", "ports": [{"port": 80}]}))),
        vec!["spec.type: Unsupported value: \"Weird\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""]
    );
    assert_eq!(
        msgs("", "Service", &svc(json!({"clusterIP": "1.2.3", "ports": [{"port": 80}, {"port": 0, "name": "b", "protocol": "ICMP"}]}))),
        vec![
            "spec.clusterIPs[0]: Invalid value: \"1.2.3\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "spec.ports[0].name: Required value",
            "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
            "spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ]
    );
    assert_eq!(
        msgs("", "Service", &svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}))),
        vec!["spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"]
    );
    assert_eq!(
        msgs(
            "",
            "Service",
            &svc(json!({"ports": [{"port": 80, "nodePort": 30080}]}))
        ),
        vec!["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]
    );
}

#[test]
fn endpoints_node_event() {
    let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}, {}]});
    assert_eq!(
        msgs("", "Endpoints", &ep),
        vec!["subsets[1]: Required value: must specify `addresses` or `notReadyAddresses`"]
    );
    let node = json!({"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.0.0.0/33", "taints": [{"key": "k", "effect": "Sometimes"}]}});
    assert_eq!(
        msgs("", "Node", &node),
        vec![
            "spec.podCIDR: Invalid value: \"10.0.0.0/33\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
            "spec.taints[0].effect: Unsupported value: \"Sometimes\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
        ]
    );
    let ev =
        json!({"metadata": {"name": "e", "namespace": "a"}, "involvedObject": {"namespace": "b"}});
    assert_eq!(
        msgs("", "Event", &ev),
        vec!["involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"]
    );
    let ev2 = json!({"metadata": {"name": "e", "namespace": "a"}, "regarding": {"namespace": "a"}, "eventTime": "2024-01-01T00:00:00.000000Z",
        "reportingController": "k8s.io/c", "reportingInstance": "i", "action": "A", "reason": "R", "type": "Info"});
    assert_eq!(
        msgs("events.k8s.io", "Event", &ev2),
        vec!["type: Invalid value: \"\": has invalid value: Info"]
    );
}

#[test]
fn storage_and_quota() {
    let pvc = json!({"metadata": {"name": "c"}, "spec": {"resources": {}}});
    assert_eq!(
        msgs("", "PersistentVolumeClaim", &pvc),
        vec![
            "spec.accessModes: Required value: at least 1 access mode is required",
            "spec.resources[storage]: Required value",
        ]
    );
    let pvc = json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    assert!(msgs("", "PersistentVolumeClaim", &pvc).is_empty());
    let pv = json!({"metadata": {"name": "v"}, "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}, "hostPath": {"path": "/x"}}});
    assert!(msgs("", "PersistentVolume", &pv).is_empty());
    let pv = json!({"metadata": {"name": "v"}, "spec": {"accessModes": ["Sometimes"], "capacity": {"storage": "1Gi"}}});
    assert_eq!(
        msgs("", "PersistentVolume", &pv),
        vec![
            "spec.accessModes: Unsupported value: \"Sometimes\": supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
            "spec: Required value: must specify a volume type",
        ]
    );
    let rq = json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "-1", "cpu": "abc"}}});
    assert_eq!(
        msgs("", "ResourceQuota", &rq),
        vec![
            "spec.hard[cpu]: Invalid value: \"abc\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0",
        ]
    );
    let lr = json!({"metadata": {"name": "l"}, "spec": {"limits": [{"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}});
    assert_eq!(
        msgs("", "LimitRange", &lr),
        vec!["spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"]
    );
}

fn deploy(spec: Value) -> Value {
    json!({"metadata": {"name": "d"}, "spec": spec})
}

fn good_deploy_spec() -> Value {
    json!({"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
           "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec()}})
}

#[test]
fn deployment() {
    assert!(msgs("apps", "Deployment", &deploy(good_deploy_spec())).is_empty());
    let mut s = good_deploy_spec();
    s["template"]["metadata"]["labels"] = json!({"app": "other"});
    s["replicas"] = json!(-1);
    s["template"]["spec"]["restartPolicy"] = json!("Never");
    s["strategy"] =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    assert_eq!(
        msgs("apps", "Deployment", &deploy(s)),
        vec![
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"other\"}: `selector` does not match template `labels`",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0",
        ]
    );
    let mut s = good_deploy_spec();
    s.as_object_mut().map(|m| m.remove("selector"));
    let m = msgs("apps", "Deployment", &deploy(s));
    assert_eq!(m[0], "spec.selector: Required value");
    let old = deploy(good_deploy_spec());
    let mut s = good_deploy_spec();
    s["selector"] = json!({"matchLabels": {"app": "web2"}});
    s["template"]["metadata"]["labels"] = json!({"app": "web2"});
    assert_eq!(
        upd("apps", "Deployment", &deploy(s), &old),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]
    );
}

#[test]
fn other_controllers() {
    assert!(msgs("apps", "ReplicaSet", &deploy(good_deploy_spec())).is_empty());
    assert!(msgs("apps", "StatefulSet", &deploy(good_deploy_spec())).is_empty());
    assert!(msgs("apps", "DaemonSet", &deploy(good_deploy_spec())).is_empty());
    let mut s = good_deploy_spec();
    s["selector"] = json!({});
    assert_eq!(
        msgs("apps", "ReplicaSet", &deploy(s)),
        vec!["spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]
    );
    let mut s = good_deploy_spec();
    s["podManagementPolicy"] = json!("Random");
    assert_eq!(
        msgs("apps", "StatefulSet", &deploy(s)),
        vec!["spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]
    );
    let old = deploy(good_deploy_spec());
    let mut s = good_deploy_spec();
    s["serviceName"] = json!("x");
    assert_eq!(
        upd("apps", "StatefulSet", &deploy(s), &old),
        vec!["spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]
    );
    let rc = json!({"metadata": {"name": "r"}, "spec": {"selector": {"app": "x"}, "template": {"metadata": {"labels": {"app": "y"}}, "spec": pod_spec()}}});
    assert_eq!(
        msgs("", "ReplicationController", &rc),
        vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`"]
    );
    let cr = json!({"metadata": {"name": "r"}, "revision": -1});
    assert_eq!(
        msgs("apps", "ControllerRevision", &cr),
        vec![
            "data: Required value: data is mandatory",
            "revision: Invalid value: -1: must be greater than or equal to 0"
        ]
    );
}

#[test]
fn jobs() {
    let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Never"}}}});
    assert!(msgs("batch", "Job", &job).is_empty());
    let job = json!({"metadata": {"name": "j"}, "spec": {"parallelism": -1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    assert_eq!(
        msgs("batch", "Job", &job),
        vec![
            "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
            "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"",
        ]
    );
    let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "61 * * * *", "timeZone": "Nowhere/Land",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}}}}});
    let m = msgs("batch", "CronJob", &cj);
    assert_eq!(
        m[0],
        "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61"
    );
    let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "@daily",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}}}}});
    assert!(msgs("batch", "CronJob", &cj).is_empty());
    let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "TZ=UTC 0 * * * *",
        "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "OnFailure"}}}}}});
    assert_eq!(
        msgs("batch", "CronJob", &cj),
        vec!["spec.schedule: Invalid value: \"TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead"]
    );
}

#[test]
fn lease_and_endpoint_slice() {
    let l = json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}});
    assert_eq!(
        msgs("coordination.k8s.io", "Lease", &l),
        vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
    );
    let es = json!({"metadata": {"name": "e"}, "addressType": "IPv4", "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["::1", "127.0.0.1"]}, {"addresses": []}]});
    assert_eq!(
        msgs("discovery.k8s.io", "EndpointSlice", &es),
        vec![
            "endpoints[1].addresses[0]: Invalid value: \"::1\": must be a valid IPv4 address",
            "endpoints[1].addresses[1]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "endpoints[2].addresses: Required value: must contain at least 1 address",
        ]
    );
    let es = json!({"metadata": {"name": "e"}, "addressType": "IP"});
    assert_eq!(
        msgs("discovery.k8s.io", "EndpointSlice", &es),
        vec!["addressType: Unsupported value: \"IP\": supported values: \"FQDN\", \"IPv4\", \"IPv6\""]
    );
}

#[test]
fn untrusted_input_does_not_panic() {
    for kind in [
        "Pod",
        "Service",
        "ConfigMap",
        "Secret",
        "Namespace",
        "Node",
        "Event",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "LimitRange",
        "ResourceQuota",
        "ReplicationController",
        "PodTemplate",
        "Endpoints",
    ] {
        for obj in [
            json!({}),
            json!({"metadata": 5, "spec": [], "data": "x"}),
            json!({"metadata": {"name": 3, "labels": [1]}, "spec": {"containers": 7, "ports": {"a": 1}, "selector": 1}}),
        ] {
            let _ = validate("", kind, &obj, Some(&json!(null)));
        }
    }
    for (g, k) in [
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("events.k8s.io", "Event"),
    ] {
        let _ = validate(
            g,
            k,
            &json!({"spec": {"selector": "x", "template": 1, "strategy": {"type": 1}, "schedule": 5}}),
            None,
        );
    }
    assert_eq!(validate("", "Pod", &json!([]), None).len(), 1);
    let e = validate("", "ConfigMap", &json!({"metadata": {"name": 3}}), None);
    assert_eq!(e[0].reason(), "FieldValueTypeInvalid");
}

#[test]
fn invalid_message_and_reasons() {
    let errs = validate(
        "",
        "ConfigMap",
        &json!({"metadata": {"name": "Bad_Name"}}),
        None,
    );
    assert_eq!(
        invalid_message("ConfigMap", "Bad_Name", &errs),
        format!("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}")
    );
    assert_eq!(errs[0].reason(), "FieldValueInvalid");
    let errs = vec![
        FieldError::required("a", ""),
        FieldError::required("a", ""),
        FieldError::invalid("b", 1, "bad"),
    ];
    assert_eq!(
        invalid_message("Deployment.apps", "x", &errs),
        "Deployment.apps \"x\" is invalid: [a: Required value, b: Invalid value: 1: bad]"
    );
    assert_eq!(errs[0].reason(), "FieldValueRequired");
    assert_eq!(
        FieldError::not_found("a", "b").reason(),
        "FieldValueNotFound"
    );
}
