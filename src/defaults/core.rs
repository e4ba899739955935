//! Defaults of the core (`""`) group, ported from `pkg/apis/core/v1/defaults.go` and the
//! generated `zz_generated.defaults.go` (including its declarative `+default` markers).

use serde_json::{json, Map, Value};

use super::{
    default_int, default_ptr, default_str, each_obj, image, len_zero, ptr_field, str_of, str_unset,
    struct_field, unset, Obj,
};

/// Defaults a core-group object of `kind`.
pub(super) fn apply(kind: &str, o: &mut Obj) {
    match kind {
        "Pod" => pod(o),
        "PodTemplate" => {
            if let Some(t) = struct_field(o, "template") {
                pod_template_spec(t);
            }
        }
        "ReplicationController" => replication_controller(o),
        "Service" => service(o),
        "Secret" => default_str(o, "type", "Opaque"),
        "Namespace" => namespace(o),
        "Node" => node(o),
        "PersistentVolume" => persistent_volume(o),
        "PersistentVolumeClaim" => persistent_volume_claim(o),
        "Endpoints" => each_obj(o, "subsets", |ss| {
            each_obj(ss, "ports", |p| default_str(p, "protocol", "TCP"));
        }),
        "LimitRange" => {
            if let Some(spec) = struct_field(o, "spec") {
                each_obj(spec, "limits", limit_range_item);
            }
        }
        // ConfigMap's `data = {}` default is dropped by `omitempty`; ResourceQuota only rounds
        // quantities; Event, ServiceAccount and the rest have no defaults.
        _ => {}
    }
}

/// `SetObjectDefaults_Pod`: the Pod-only defaults plus everything a PodSpec gets.
fn pod(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    // SetDefaults_Pod: requests default to limits, for regular and init containers only.
    for key in ["containers", "initContainers"] {
        each_obj(spec, key, requests_from_limits);
    }
    default_ptr(spec, "enableServiceLinks", Value::Bool(true));
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for key in ["containers", "initContainers"] {
            each_obj(spec, key, |c| {
                each_obj(c, "ports", |p| {
                    if super::int_unset(p.get("hostPort")) {
                        if let Some(n @ Value::Number(_)) = p.get("containerPort").cloned() {
                            p.insert("hostPort".into(), n);
                        }
                    }
                });
            });
        }
    }
    pod_spec(spec);
}

/// Copies each limit into requests where the request is missing.
fn requests_from_limits(c: &mut Obj) {
    let Some(res) = ptr_field(c, "resources") else {
        return;
    };
    let Some(Value::Object(limits)) = res.get("limits").cloned() else {
        return;
    };
    if unset(res.get("requests")) {
        if limits.is_empty() {
            return; // Go makes an empty map, which `omitempty` drops.
        }
        res.insert("requests".into(), Value::Object(Map::new()));
    }
    if let Some(Value::Object(requests)) = res.get_mut("requests") {
        for (k, v) in limits {
            requests.entry(k).or_insert(v);
        }
    }
}

/// Defaults the PodSpec inside a PodTemplateSpec (`template` of the workload kinds).
pub(crate) fn pod_template_spec(t: &mut Obj) {
    if let Some(spec) = struct_field(t, "spec") {
        pod_spec(spec);
    }
}

/// `SetDefaults_PodSpec` plus the generated recursion into volumes and containers.
pub(crate) fn pod_spec(spec: &mut Obj) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_ptr(spec, "securityContext", json!({}));
    default_ptr(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    each_obj(spec, "volumes", volume);
    each_obj(spec, "initContainers", container);
    each_obj(spec, "containers", container);
    each_obj(spec, "ephemeralContainers", container);
}

/// Every `VolumeSource` member; a volume with none of them set becomes an `emptyDir`.
const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

/// `SetDefaults_Volume` and the defaults of each volume source.
fn volume(v: &mut Obj) {
    if VOLUME_SOURCES.iter().all(|k| unset(v.get(*k))) {
        v.insert("emptyDir".into(), json!({}));
    }
    // Image volumes' pullPolicy default is behind the ImageVolume gate, off in v1.33.
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = ptr_field(v, key) {
            default_ptr(s, "defaultMode", json!(420));
        }
    }
    if let Some(d) = ptr_field(v, "downwardAPI") {
        each_obj(d, "items", downward_api_file);
    }
    if let Some(p) = ptr_field(v, "projected") {
        each_obj(p, "sources", |src| {
            if let Some(d) = ptr_field(src, "downwardAPI") {
                each_obj(d, "items", downward_api_file);
            }
            if let Some(t) = ptr_field(src, "serviceAccountToken") {
                default_ptr(t, "expirationSeconds", json!(3600));
            }
        });
    }
    if let Some(e) = ptr_field(v, "ephemeral") {
        if let Some(t) = ptr_field(e, "volumeClaimTemplate") {
            if let Some(spec) = struct_field(t, "spec") {
                pvc_spec(spec);
            }
        }
    }
    volume_source_common(v);
}

/// Defaults shared by Pod volume sources and PersistentVolume sources.
fn volume_source_common(v: &mut Obj) {
    if let Some(h) = ptr_field(v, "hostPath") {
        default_ptr(h, "type", json!(""));
    }
    if let Some(i) = ptr_field(v, "iscsi") {
        default_str(i, "iscsiInterface", "default");
    }
    if let Some(r) = ptr_field(v, "rbd") {
        default_str(r, "pool", "rbd");
        default_str(r, "user", "admin");
        default_str(r, "keyring", "/etc/ceph/keyring");
    }
    if let Some(a) = ptr_field(v, "azureDisk") {
        default_ptr(a, "cachingMode", json!("ReadWrite"));
        default_ptr(a, "fsType", json!("ext4"));
        default_ptr(a, "readOnly", json!(false));
        default_ptr(a, "kind", json!("Shared"));
    }
    if let Some(s) = ptr_field(v, "scaleIO") {
        default_str(s, "storageMode", "ThinProvisioned");
        default_str(s, "fsType", "xfs");
    }
}

/// Defaults the volume sources of a PersistentVolumeSpec.
pub(crate) fn pv_spec_sources(spec: &mut Obj) {
    volume_source_common(spec);
}

/// A downward API file: its `fieldRef` gets `apiVersion: v1`.
fn downward_api_file(f: &mut Obj) {
    if let Some(r) = ptr_field(f, "fieldRef") {
        default_str(r, "apiVersion", "v1");
    }
}

/// `SetDefaults_Container` plus ports, env, probes and lifecycle handlers.
fn container(c: &mut Obj) {
    if str_unset(c.get("imagePullPolicy")) {
        let policy = image::pull_policy(str_of(c, "image"));
        c.insert("imagePullPolicy".into(), json!(policy));
    }
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    each_obj(c, "ports", |p| default_str(p, "protocol", "TCP"));
    each_obj(c, "env", |e| {
        if let Some(from) = ptr_field(e, "valueFrom") {
            if let Some(r) = ptr_field(from, "fieldRef") {
                default_str(r, "apiVersion", "v1");
            }
        }
    });
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = ptr_field(c, key) {
            probe(p);
        }
    }
    if let Some(l) = ptr_field(c, "lifecycle") {
        for key in ["postStart", "preStop"] {
            if let Some(h) = ptr_field(l, key) {
                if let Some(g) = ptr_field(h, "httpGet") {
                    http_get(g);
                }
            }
        }
    }
}

/// `SetDefaults_Probe` and its handler's defaults.
fn probe(p: &mut Obj) {
    default_int(p, "timeoutSeconds", 1);
    default_int(p, "periodSeconds", 10);
    default_int(p, "successThreshold", 1);
    default_int(p, "failureThreshold", 3);
    if let Some(g) = ptr_field(p, "httpGet") {
        http_get(g);
    }
    if let Some(g) = ptr_field(p, "grpc") {
        default_ptr(g, "service", json!(""));
    }
}

/// `SetDefaults_HTTPGetAction`.
fn http_get(g: &mut Obj) {
    default_str(g, "path", "/");
    default_str(g, "scheme", "HTTP");
}

/// `SetObjectDefaults_ReplicationController`.
fn replication_controller(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    let template_labels = spec
        .get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned();
    default_ptr(spec, "replicas", json!(1));
    if let Some(labels) = &template_labels {
        if len_zero(spec.get("selector")) {
            spec.insert("selector".into(), labels.clone());
        }
    }
    if let Some(t) = ptr_field(spec, "template") {
        pod_template_spec(t);
    }
    if let Some(labels) = template_labels {
        if let Some(meta) = struct_field(o, "metadata") {
            if len_zero(meta.get("labels")) {
                meta.insert("labels".into(), labels);
            }
        }
    }
}

/// `SetDefaults_Service`.
fn service(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_str(spec, "sessionAffinity", "None");
    match str_of(spec, "sessionAffinity") {
        "None" => {
            spec.remove("sessionAffinityConfig");
        }
        "ClientIP" => {
            let needs = match spec.get("sessionAffinityConfig") {
                None | Some(Value::Null) => true,
                Some(Value::Object(cfg)) => match cfg.get("clientIP") {
                    None | Some(Value::Null) => true,
                    Some(Value::Object(ip)) => unset(ip.get("timeoutSeconds")),
                    Some(_) => false,
                },
                Some(_) => false,
            };
            if needs {
                spec.insert(
                    "sessionAffinityConfig".into(),
                    json!({"clientIP": {"timeoutSeconds": 10800}}),
                );
            }
        }
        _ => {}
    }
    default_str(spec, "type", "ClusterIP");
    each_obj(spec, "ports", |p| {
        default_str(p, "protocol", "TCP");
        let target_unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        if target_unset {
            match p.get("port") {
                None | Some(Value::Null) => {
                    p.insert("targetPort".into(), json!(0));
                }
                Some(n @ Value::Number(_)) => {
                    let n = n.clone();
                    p.insert("targetPort".into(), n);
                }
                Some(_) => {}
            }
        }
    });
    let ty = str_of(spec, "type").to_string();
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let externally_accessible =
        ty == "LoadBalancer" || ty == "NodePort" || (ty == "ClusterIP" && has_external_ips);
    if externally_accessible {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "NodePort" | "LoadBalancer" | "ClusterIP") {
        default_ptr(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        default_ptr(spec, "allocateLoadBalancerNodePorts", json!(true));
        if let Some(status) = ptr_field(o, "status") {
            if let Some(lb) = ptr_field(status, "loadBalancer") {
                each_obj(lb, "ingress", |ing| {
                    if !str_of(ing, "ip").is_empty() {
                        default_ptr(ing, "ipMode", json!("VIP"));
                    }
                });
            }
        }
    }
}

/// `SetDefaults_Namespace`: the `kubernetes.io/metadata.name` label always mirrors the name.
/// (`status.phase` and `spec.finalizers` are set by the namespace strategy.)
fn namespace(o: &mut Obj) {
    let Some(meta) = ptr_field(o, "metadata") else {
        return;
    };
    let name = str_of(meta, "name").to_string();
    if name.is_empty() {
        return;
    }
    if unset(meta.get("labels")) {
        meta.insert("labels".into(), json!({}));
    }
    if let Some(Value::Object(labels)) = meta.get_mut("labels") {
        labels.insert("kubernetes.io/metadata.name".into(), Value::String(name));
    }
}

/// `SetDefaults_NodeStatus`: allocatable defaults to capacity.
fn node(o: &mut Obj) {
    let Some(status) = ptr_field(o, "status") else {
        return;
    };
    if unset(status.get("allocatable")) {
        if let Some(Value::Object(cap)) = status.get("capacity") {
            if !cap.is_empty() {
                let cap = Value::Object(cap.clone());
                status.insert("allocatable".into(), cap);
            }
        }
    }
}

/// `SetObjectDefaults_PersistentVolume`.
fn persistent_volume(o: &mut Obj) {
    if let Some(status) = struct_field(o, "status") {
        default_str(status, "phase", "Pending");
    }
    if let Some(spec) = struct_field(o, "spec") {
        default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
        default_ptr(spec, "volumeMode", json!("Filesystem"));
        pv_spec_sources(spec);
    }
}

/// `SetObjectDefaults_PersistentVolumeClaim` (also used for StatefulSet claim templates).
pub(crate) fn persistent_volume_claim(o: &mut Obj) {
    if let Some(status) = struct_field(o, "status") {
        default_str(status, "phase", "Pending");
    }
    if let Some(spec) = struct_field(o, "spec") {
        pvc_spec(spec);
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
fn pvc_spec(spec: &mut Obj) {
    default_ptr(spec, "volumeMode", json!("Filesystem"));
}

/// `SetDefaults_LimitRangeItem`: container limits get default/defaultRequest from max/min.
fn limit_range_item(item: &mut Obj) {
    if str_of(item, "type") != "Container" {
        return;
    }
    let list = |item: &Obj, key: &str| -> Option<Obj> {
        match item.get(key) {
            None | Some(Value::Null) => Some(Map::new()),
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => None,
        }
    };
    let (Some(max), Some(min), Some(mut default), Some(mut default_request)) = (
        list(item, "max"),
        list(item, "min"),
        list(item, "default"),
        list(item, "defaultRequest"),
    ) else {
        return;
    };
    for (k, v) in &max {
        default.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for (k, v) in &default {
        default_request
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    for (k, v) in &min {
        default_request
            .entry(k.clone())
            .or_insert_with(|| v.clone());
    }
    // Go makes empty maps here, which `omitempty` drops from the wire.
    if !default.is_empty() {
        item.insert("default".into(), Value::Object(default));
    }
    if !default_request.is_empty() {
        item.insert("defaultRequest".into(), Value::Object(default_request));
    }
}
