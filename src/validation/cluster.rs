//! RBAC, scheduling, policy, autoscaling, node and certificates kinds (upstream
//! `pkg/apis/{rbac,scheduling,policy,autoscaling,node,certificates}/validation`).

use super::apps::{not_more_than_100_percent, positive_int_or_percent};
use super::fmt::go_quote;
use super::meta::{object_meta, validate_label_selector, IMMUTABLE};
use super::names::{
    is_dns1123_label, is_dns1123_subdomain, is_valid_path_segment_name, validate_name, NameKind,
};
use super::util::{child, index, peek, Ctx};
use super::FieldError;
use serde_json::Value;

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn empty() -> Value {
    Value::Object(Default::default())
}

fn strs(v: &mut Ctx, obj: &Value, name: &str, path: &str) -> Vec<String> {
    v.arr(obj, name, path)
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// `validatePolicyRule` for every rule of a Role or ClusterRole.
fn policy_rules(v: &mut Ctx, obj: &Value, namespaced: bool) {
    for (i, rule) in v.arr(obj, "rules", "").to_vec().iter().enumerate() {
        let p = index("rules", i);
        if strs(v, rule, "verbs", &p).is_empty() {
            v.push(FieldError::required(
                &child(&p, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = strs(v, rule, "nonResourceURLs", &p);
        let groups = strs(v, rule, "apiGroups", &p);
        let resources = strs(v, rule, "resources", &p);
        let names = strs(v, rule, "resourceNames", &p);
        if !urls.is_empty() {
            let up = child(&p, "nonResourceURLs");
            if namespaced {
                v.push(FieldError::invalid(
                    &up,
                    urls.clone(),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if !groups.is_empty() || !resources.is_empty() || !names.is_empty() {
                v.push(FieldError::invalid(
                    &up,
                    urls,
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if groups.is_empty() {
            v.push(FieldError::required(
                &child(&p, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if resources.is_empty() {
            v.push(FieldError::required(
                &child(&p, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
        if !names.is_empty() && resources.len() > 1 {
            v.push(FieldError::required(
                &child(&p, "resourceNames"),
                "resource names cannot apply to multiple resources",
            ));
        }
    }
}

/// `ValidateRole` / `ValidateClusterRole` (and their updates).
pub fn role(v: &mut Ctx, obj: &Value, old: Option<&Value>, namespaced: bool) {
    object_meta(v, obj, old, NameKind::PathSegment);
    policy_rules(v, obj, namespaced);
}

fn go_role_ref(r: &Value) -> String {
    let f = |k: &str| go_quote(r.get(k).and_then(Value::as_str).unwrap_or(""));
    format!(
        "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
        f("apiGroup"),
        f("kind"),
        f("name")
    )
}

/// `ValidateRoleBinding` / `ValidateClusterRoleBinding` (and their updates: `roleRef` is
/// immutable).
pub fn role_binding(v: &mut Ctx, obj: &Value, old: Option<&Value>, namespaced: bool) {
    object_meta(v, obj, old, NameKind::PathSegment);
    let rr = v.obj(obj, "roleRef", "").cloned().unwrap_or_else(empty);
    let group = v.string(&rr, "apiGroup", "roleRef");
    if group != RBAC_GROUP {
        v.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    let kind = v.string(&rr, "kind", "roleRef");
    let kinds: &[&str] = if namespaced {
        &["Role", "ClusterRole"]
    } else {
        &["ClusterRole"]
    };
    if !kinds.contains(&kind) {
        v.push(FieldError::not_supported("roleRef.kind", kind, kinds));
    }
    let name = v.string(&rr, "name", "roleRef");
    if name.is_empty() {
        v.push(FieldError::required("roleRef.name", ""));
    } else {
        v.invalid_each("roleRef.name", name, is_valid_path_segment_name(name));
    }
    for (i, s) in v.arr(obj, "subjects", "").to_vec().iter().enumerate() {
        subject(v, s, namespaced, &index("subjects", i));
    }
    if let Some(old) = old {
        let old_rr = old.get("roleRef").cloned().unwrap_or_else(empty);
        let same = ["apiGroup", "kind", "name"]
            .iter()
            .all(|k| rr.get(*k).and_then(Value::as_str) == old_rr.get(*k).and_then(Value::as_str));
        if !same {
            v.push(
                FieldError::invalid("roleRef", rr.clone(), "cannot change roleRef")
                    .with_repr(go_role_ref(&rr)),
            );
        }
    }
}

/// `validateRoleBindingSubject`.
fn subject(v: &mut Ctx, s: &Value, namespaced: bool, path: &str) {
    let name = v.string(s, "name", path);
    let group = v.string(s, "apiGroup", path);
    let np = child(path, "name");
    let gp = child(path, "apiGroup");
    if name.is_empty() {
        v.push(FieldError::required(&np, ""));
    }
    match v.string(s, "kind", path) {
        "ServiceAccount" => {
            if !name.is_empty() {
                v.invalid_each(&np, name, validate_name(NameKind::Subdomain, name, false));
            }
            if !group.is_empty() {
                v.push(FieldError::not_supported(&gp, group, &[""]));
            }
            if !namespaced && v.string(s, "namespace", path).is_empty() {
                v.push(FieldError::required(&child(path, "namespace"), ""));
            }
        }
        k @ ("User" | "Group") => {
            if name.is_empty() {
                let what = if k == "User" { "user" } else { "group" };
                v.push(FieldError::invalid(
                    &np,
                    name,
                    &format!("{what} name cannot be empty"),
                ));
            }
            if group != RBAC_GROUP {
                v.push(FieldError::not_supported(&gp, group, &[RBAC_GROUP]));
            }
        }
        other => v.push(FieldError::not_supported(
            &child(path, "kind"),
            other,
            &["ServiceAccount", "User", "Group"],
        )),
    }
}

/// The priority classes every cluster has: name, value, description.
pub const SYSTEM_PRIORITY_CLASSES: &[(&str, i64, &str)] = &[
    (
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    (
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
];

/// `ValidatePriorityClass` / `ValidatePriorityClassUpdate`.
pub fn priority_class(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let name = peek(obj, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = v.int(obj, "value", "").unwrap_or(0);
    let global = v.bool(obj, "globalDefault", "").unwrap_or(false);
    if name.starts_with("system-") {
        let err = match SYSTEM_PRIORITY_CLASSES.iter().find(|c| c.0 == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some(c) if c.1 != value => {
                Some(format!("value of {name} PriorityClass must be {}", c.1))
            }
            Some(_) if global => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(e) = err {
            v.push(FieldError::forbidden(
                "metadata.name",
                &format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {e}"
                ),
            ));
        }
    } else if value > 1_000_000_000 {
        v.push(FieldError::forbidden(
            "value",
            "maximum allowed value of a user defined priority is 1000000000",
        ));
    }
    if let Some(p) = v.str(obj, "preemptionPolicy", "") {
        if p != "Never" && p != "PreemptLowerPriority" {
            v.push(FieldError::not_supported(
                "preemptionPolicy",
                p,
                &["Never", "PreemptLowerPriority"],
            ));
        }
    }
    if let Some(old) = old {
        if old.get("value").and_then(Value::as_i64).unwrap_or(0) != value {
            v.push(FieldError::forbidden(
                "value",
                "may not be changed in an update.",
            ));
        }
        let np = obj.get("preemptionPolicy").cloned().unwrap_or(Value::Null);
        if old.get("preemptionPolicy").cloned().unwrap_or(Value::Null) != np {
            v.push(FieldError::invalid("preemptionPolicy", np, IMMUTABLE));
        }
    }
}

/// `ValidatePodDisruptionBudget` (spec) and its status.
pub fn pod_disruption_budget(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let min = spec.get("minAvailable").filter(|x| !x.is_null());
    let max = spec.get("maxUnavailable").filter(|x| !x.is_null());
    if min.is_some() && max.is_some() {
        // Upstream prints the Go struct with its pointers.
        v.push(
            FieldError::invalid("spec", spec.clone(), "minAvailable and maxUnavailable cannot be both set")
                .with_repr("policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)(0xc000000000), Selector:(*v1.LabelSelector)(0xc000000000), MaxUnavailable:(*intstr.IntOrString)(0xc000000000), UnhealthyPodEvictionPolicy:(*policy.UnhealthyPodEvictionPolicyType)(nil)}".to_string()),
        );
    }
    for (f, val) in [("minAvailable", min), ("maxUnavailable", max)] {
        if val.is_some() {
            let p = child("spec", f);
            positive_int_or_percent(v, val, &p);
            not_more_than_100_percent(v, val, &p);
        }
    }
    if let Some(sel) = v.obj(&spec, "selector", "spec").cloned() {
        validate_label_selector(v, &sel, "spec.selector");
    }
    if let Some(p) = v.str(&spec, "unhealthyPodEvictionPolicy", "spec") {
        if p != "AlwaysAllow" && p != "IfHealthyBudget" {
            v.push(FieldError::not_supported(
                "spec.unhealthyPodEvictionPolicy",
                p,
                &["AlwaysAllow", "IfHealthyBudget"],
            ));
        }
    }
    let status = obj.get("status").cloned().unwrap_or_else(empty);
    for f in [
        "disruptionsAllowed",
        "currentHealthy",
        "desiredHealthy",
        "expectedPods",
    ] {
        let n = v.int(&status, f, "status");
        super::util::nonnegative(v, n, &child("status", f));
    }
}

/// `ValidateHorizontalPodAutoscaler` (of the autoscaling/v2 shape every version is stored in).
pub fn horizontal_pod_autoscaler(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let r = v
        .obj(&spec, "scaleTargetRef", "spec")
        .cloned()
        .unwrap_or_else(empty);
    for f in ["kind", "name"] {
        let p = child("spec.scaleTargetRef", f);
        let s = v.string(&r, f, "spec.scaleTargetRef");
        if s.is_empty() {
            v.push(FieldError::required(&p, ""));
        } else {
            v.invalid_each(&p, s, is_valid_path_segment_name(s));
        }
    }
    let min = v.int(&spec, "minReplicas", "spec");
    if let Some(m) = min.filter(|m| *m < 1) {
        v.push(FieldError::invalid(
            "spec.minReplicas",
            m,
            "must be greater than or equal to 1",
        ));
    }
    let max = v.int(&spec, "maxReplicas", "spec").unwrap_or(0);
    if max < 1 {
        v.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than 0",
        ));
    }
    if min.is_some_and(|m| max < m) {
        v.push(FieldError::invalid(
            "spec.maxReplicas",
            max,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    for (i, m) in v.arr(&spec, "metrics", "spec").to_vec().iter().enumerate() {
        let p = index("spec.metrics", i);
        let t = v.string(m, "type", &p);
        let types = [
            "ContainerResource",
            "External",
            "Object",
            "Pods",
            "Resource",
        ];
        if t.is_empty() {
            v.push(FieldError::required(
                &child(&p, "type"),
                "must specify a metric source type",
            ));
            continue;
        }
        if !types.contains(&t) {
            v.push(FieldError::not_supported(&child(&p, "type"), t, &types));
            continue;
        }
        if t == "Resource" {
            let rp = child(&p, "resource");
            let res = v.obj(m, "resource", &p).cloned().unwrap_or_else(empty);
            if v.string(&res, "name", &rp).is_empty() {
                v.push(FieldError::required(
                    &child(&rp, "name"),
                    "must specify a resource name",
                ));
            }
            let target = res.get("target").cloned().unwrap_or_else(empty);
            if let Some(u) = v.int(&target, "averageUtilization", &child(&rp, "target")) {
                if u < 1 {
                    v.push(FieldError::invalid(
                        &child(&rp, "target.averageUtilization"),
                        u,
                        "must be greater than 0",
                    ));
                }
            }
        }
    }
}

/// `ValidateRuntimeClass` / `ValidateRuntimeClassUpdate`.
pub fn runtime_class(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let handler = v.string(obj, "handler", "");
    if handler.is_empty() {
        v.push(FieldError::required("handler", ""));
    } else {
        v.invalid_each("handler", handler, is_dns1123_label(handler));
    }
    if let Some(old) = old {
        let oh = old.get("handler").and_then(Value::as_str).unwrap_or("");
        if oh != handler {
            v.push(FieldError::invalid("handler", handler, IMMUTABLE));
        }
    }
}

/// `ValidateCertificateSigningRequestCreate` (main rules). Updates keep the stored spec
/// (strategy), so only the create rules apply.
pub fn certificate_signing_request(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let request = v.string(&spec, "request", "spec");
    let decoded = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(request)
    };
    let pem = decoded
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if !pem.contains("-----BEGIN CERTIFICATE REQUEST-----") {
        v.push(
            FieldError::invalid(
                "spec.request",
                request,
                "PEM block type must be CERTIFICATE REQUEST",
            )
            .with_repr("[]byte{...}".to_string()),
        );
    }
    let signer = v.string(&spec, "signerName", "spec");
    if signer.is_empty() {
        v.push(FieldError::required("spec.signerName", ""));
    } else if signer.split('/').count() != 2 || signer.starts_with('/') || signer.ends_with('/') {
        v.push(FieldError::invalid(
            "spec.signerName",
            signer,
            "must be a fully qualified domain and path of the form 'example.com/signer-name'",
        ));
    } else if let Some(domain) = signer.split('/').next() {
        v.invalid_each("spec.signerName", signer, is_dns1123_subdomain(domain));
    }
    if let Some(e) = v.int(&spec, "expirationSeconds", "spec") {
        if e < 600 {
            v.push(FieldError::invalid(
                "spec.expirationSeconds",
                e,
                "may not specify a duration less than 600 seconds (10 minutes)",
            ));
        }
    }
    if strs(v, &spec, "usages", "spec").is_empty() && old.is_none() {
        v.push(FieldError::required("spec.usages", ""));
    }
}
