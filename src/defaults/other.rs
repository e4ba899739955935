//! Defaults of the smaller groups: networking, discovery, RBAC, storage, autoscaling and
//! scheduling.
//! `coordination.k8s.io` (Lease) and `events.k8s.io` (Event) have no defaults upstream.

use serde_json::{json, Value};

use super::core::pv_spec_sources;
use super::{default_ptr, default_str, each_obj, len_zero, ptr_field, str_of, struct_field, Obj};

/// The RBAC API group, the default of role references and user/group subjects.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// Defaults an object of `group`/`kind` outside the core, apps and batch groups.
pub(super) fn apply(group: &str, kind: &str, o: &mut Obj) {
    match (group, kind) {
        ("networking.k8s.io", "NetworkPolicy") => network_policy(o),
        ("networking.k8s.io", "IngressClass") => {
            if let Some(spec) = struct_field(o, "spec") {
                if let Some(p) = ptr_field(spec, "parameters") {
                    default_ptr(p, "scope", json!("Cluster"));
                }
            }
        }
        ("discovery.k8s.io", "EndpointSlice") => each_obj(o, "ports", |p| {
            default_ptr(p, "name", json!(""));
            default_ptr(p, "protocol", json!("TCP"));
        }),
        (RBAC_GROUP, "RoleBinding" | "ClusterRoleBinding") => {
            if let Some(r) = struct_field(o, "roleRef") {
                default_str(r, "apiGroup", RBAC_GROUP);
            }
            each_obj(o, "subjects", |s| {
                if super::str_unset(s.get("apiGroup")) {
                    match str_of(s, "kind") {
                        "ServiceAccount" => {
                            s.insert("apiGroup".into(), json!(""));
                        }
                        "User" | "Group" => {
                            s.insert("apiGroup".into(), json!(RBAC_GROUP));
                        }
                        _ => {}
                    }
                }
            });
        }
        ("storage.k8s.io", "StorageClass") => {
            default_ptr(o, "reclaimPolicy", json!("Delete"));
            default_ptr(o, "volumeBindingMode", json!("Immediate"));
        }
        ("storage.k8s.io", "CSIDriver") => csi_driver(o),
        ("storage.k8s.io", "VolumeAttachment") => {
            if let Some(spec) = struct_field(o, "spec") {
                if let Some(source) = struct_field(spec, "source") {
                    if let Some(pv) = ptr_field(source, "inlineVolumeSpec") {
                        pv_spec_sources(pv);
                    }
                }
            }
        }
        ("autoscaling", "HorizontalPodAutoscaler") => horizontal_pod_autoscaler(o),
        ("scheduling.k8s.io", "PriorityClass") => {
            default_ptr(o, "preemptionPolicy", json!("PreemptLowerPriority"));
        }
        _ => {}
    }
}

/// `SetDefaults_NetworkPolicy` and `SetDefaults_NetworkPolicyPort`.
fn network_policy(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    for rules in ["ingress", "egress"] {
        each_obj(spec, rules, |rule| {
            each_obj(rule, "ports", |p| default_ptr(p, "protocol", json!("TCP")));
        });
    }
    if len_zero(spec.get("policyTypes")) {
        let has_egress = spec
            .get("egress")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        let types = if has_egress {
            json!(["Ingress", "Egress"])
        } else {
            json!(["Ingress"])
        };
        spec.insert("policyTypes".into(), types);
    }
}

/// `SetDefaults_HorizontalPodAutoscaler` of `autoscaling/v2`, or of `autoscaling/v1` when the
/// object's `apiVersion` says so (v1 only defaults `minReplicas`; its CPU target default is
/// applied by conversion).
fn horizontal_pod_autoscaler(o: &mut Obj) {
    let v1 = o.get("apiVersion").and_then(Value::as_str) == Some("autoscaling/v1");
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_ptr(spec, "minReplicas", json!(1));
    if v1 {
        return;
    }
    if len_zero(spec.get("metrics")) {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    // A behavior, when given, gets every unset scaling rule field filled in.
    if let Some(behavior) = ptr_field(spec, "behavior") {
        let up = json!({
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15}
            ]
        });
        let down = json!({
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
        });
        for (key, defaults) in [("scaleUp", up), ("scaleDown", down)] {
            let Value::Object(mut rules) = defaults else {
                continue;
            };
            match behavior.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Object(given)) => {
                    for (k, v) in given {
                        if !v.is_null() {
                            rules.insert(k.clone(), v.clone());
                        }
                    }
                }
                Some(_) => continue,
            }
            behavior.insert(key.into(), Value::Object(rules));
        }
    }
}

/// `SetDefaults_CSIDriver` with v1.33's default feature gates.
fn csi_driver(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_ptr(spec, "attachRequired", json!(true));
    default_ptr(spec, "podInfoOnMount", json!(false));
    default_ptr(spec, "storageCapacity", json!(false));
    default_ptr(spec, "fsGroupPolicy", json!("ReadWriteOnceWithFSType"));
    if len_zero(spec.get("volumeLifecycleModes")) {
        spec.insert("volumeLifecycleModes".into(), json!(["Persistent"]));
    }
    default_ptr(spec, "requiresRepublish", json!(false));
    // SELinuxMountReadWriteOncePod is on by default.
    default_ptr(spec, "seLinuxMount", json!(false));
}
