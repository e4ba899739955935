//! Row cells for the remaining groups: policy, autoscaling, rbac,
//! certificates, coordination, scheduling, node and admissionregistration.

use super::super::util::*;
use super::name;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// PodDisruptionBudget (policy) row.
pub(super) fn pod_disruption_budget(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let min = match at(o, &["spec", "minAvailable"]) {
        Value::Null => "N/A".to_string(),
        v => int_or_string(v),
    };
    let max = match at(o, &["spec", "maxUnavailable"]) {
        Value::Null => "N/A".to_string(),
        v => int_or_string(v),
    };
    vec![
        json!(name(o)),
        json!(min),
        json!(max),
        json!(i(o, &["status", "disruptionsAllowed"])),
        json!(age(o, now)),
    ]
}

/// HorizontalPodAutoscaler (autoscaling) row.
pub(super) fn hpa(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let reference = format!(
        "{}/{}",
        s(spec, &["scaleTargetRef", "kind"]),
        s(spec, &["scaleTargetRef", "name"])
    );
    let min = match opt_i(spec, &["minReplicas"]) {
        Some(m) => m.to_string(),
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(reference),
        json!(hpa_metrics(
            arr(spec, &["metrics"]),
            arr(o, &["status", "currentMetrics"])
        )),
        json!(min),
        json!(i(spec, &["maxReplicas"])),
        json!(i(o, &["status", "currentReplicas"])),
        json!(age(o, now)),
    ]
}

fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let max = 2usize;
    let mut list: Vec<String> = Vec::new();
    for (idx, spec) in specs.iter().enumerate() {
        let st = statuses.get(idx).unwrap_or(&Value::Null);
        let entry = match s(spec, &["type"]) {
            t @ ("External" | "Object") => {
                let key = if t == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[key, "target"]);
                let cur = at(st, &[key]);
                if !at(target, &["averageValue"]).is_null() {
                    let current = match at(cur, &["current", "averageValue"]) {
                        Value::Null => "<unknown>".to_string(),
                        v => quantity(v),
                    };
                    format!(
                        "{}/{} (avg)",
                        current,
                        quantity(at(target, &["averageValue"]))
                    )
                } else {
                    let current = if cur.is_object() {
                        quantity(at(cur, &["current", "value"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!("{}/{}", current, quantity(at(target, &["value"])))
                }
            }
            "Pods" => {
                let current = if is_obj(st, &["pods"]) {
                    quantity(at(st, &["pods", "current", "averageValue"]))
                } else {
                    "<unknown>".to_string()
                };
                format!(
                    "{}/{}",
                    current,
                    quantity(at(spec, &["pods", "target", "averageValue"]))
                )
            }
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let target = at(spec, &[key, "target"]);
                let rname = s(spec, &[key, "name"]);
                let cur = at(st, &[key]);
                if !at(target, &["averageValue"]).is_null() {
                    let current = if cur.is_object() {
                        quantity(at(cur, &["current", "averageValue"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!(
                        "{}: {}/{}",
                        rname,
                        current,
                        quantity(at(target, &["averageValue"]))
                    )
                } else {
                    let current = match opt_i(cur, &["current", "averageUtilization"]) {
                        Some(u) => format!("{u}%"),
                        None => "<unknown>".to_string(),
                    };
                    let tgt = match opt_i(target, &["averageUtilization"]) {
                        Some(u) => format!("{u}%"),
                        None => "<auto>".to_string(),
                    };
                    format!("{rname}: {current}/{tgt}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > max {
        list.truncate(max);
        return format!("{} + {} more...", list.join(", "), count - max);
    }
    list.join(", ")
}

/// RoleBinding and ClusterRoleBinding row.
pub(super) fn role_binding(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let role = format!(
        "{}/{}",
        s(o, &["roleRef", "kind"]),
        s(o, &["roleRef", "name"])
    );
    let (users, groups, sas) = subjects(arr(o, &["subjects"]));
    vec![
        json!(name(o)),
        json!(role),
        json!(age(o, now)),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(sas.join(", ")),
    ]
}

fn subjects(subjects: &[Value]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for sub in subjects {
        let n = s(sub, &["name"]).to_string();
        match s(sub, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{}", s(sub, &["namespace"]), n)),
            "User" => users.push(n),
            "Group" => groups.push(n),
            _ => {}
        }
    }
    (users, groups, sas)
}

/// CertificateSigningRequest (certificates.k8s.io) row.
pub(super) fn csr(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (mut approved, mut denied, mut failed) = (false, false, false);
    for c in arr(o, &["status", "conditions"]) {
        match s(c, &["type"]) {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" => failed = true,
            _ => {}
        }
    }
    let mut status = if denied {
        "Denied".to_string()
    } else if approved {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if failed {
        status.push_str(",Failed");
    }
    if !s(o, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    let requested = match opt_i(o, &["spec", "expirationSeconds"]) {
        Some(secs) => human_duration(chrono::Duration::seconds(secs)),
        None => "<none>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(age(o, now)),
        json!(or(s(o, &["spec", "signerName"]), "<none>")),
        json!(s(o, &["spec", "username"])),
        json!(requested),
        json!(status),
    ]
}

/// Lease (coordination.k8s.io) row.
pub(super) fn lease(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["spec", "holderIdentity"])),
        json!(age(o, now)),
    ]
}

/// PriorityClass (scheduling.k8s.io) row.
pub(super) fn priority_class(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(i(o, &["value"])),
        json!(b(o, &["globalDefault"])),
        json!(age(o, now)),
        json!(s(o, &["preemptionPolicy"])),
    ]
}

/// RuntimeClass (node.k8s.io) row.
pub(super) fn runtime_class(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["handler"])),
        json!(age(o, now)),
    ]
}

/// Mutating/ValidatingWebhookConfiguration row.
pub(super) fn webhook_configuration(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(arr(o, &["webhooks"]).len() as i64),
        json!(age(o, now)),
    ]
}
