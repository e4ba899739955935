//! Row cells for storage.k8s.io: StorageClass, VolumeAttachment, CSINode,
//! CSIDriver.

use super::super::util::*;
use super::name;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// StorageClass row.
pub(super) fn storage_class(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut n = name(o);
    if is_default_class(o) {
        n.push_str(" (default)");
    }
    vec![
        json!(n),
        json!(s(o, &["provisioner"])),
        json!(or(s(o, &["reclaimPolicy"]), "Delete")),
        json!(or(s(o, &["volumeBindingMode"]), "Immediate")),
        json!(b(o, &["allowVolumeExpansion"])),
        json!(age(o, now)),
    ]
}

fn is_default_class(o: &Value) -> bool {
    let ann = at(o, &["metadata", "annotations"]);
    s(ann, &["storageclass.kubernetes.io/is-default-class"]) == "true"
        || s(ann, &["storageclass.beta.kubernetes.io/is-default-class"]) == "true"
}

/// VolumeAttachment row.
pub(super) fn volume_attachment(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["spec", "attacher"])),
        json!(s(o, &["spec", "source", "persistentVolumeName"])),
        json!(s(o, &["spec", "nodeName"])),
        json!(b(o, &["status", "attached"])),
        json!(age(o, now)),
    ]
}

/// CSINode row.
pub(super) fn csi_node(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(arr(o, &["spec", "drivers"]).len() as i64),
        json!(age(o, now)),
    ]
}

/// CSIDriver row.
pub(super) fn csi_driver(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let modes: Vec<&str> = arr(spec, &["volumeLifecycleModes"])
        .iter()
        .map(|m| m.as_str().unwrap_or(""))
        .collect();
    let tokens = match spec.get("tokenRequests").and_then(Value::as_array) {
        Some(t) => t
            .iter()
            .map(|x| s(x, &["audience"]))
            .collect::<Vec<_>>()
            .join(","),
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(at(spec, &["attachRequired"]).as_bool().unwrap_or(true)),
        json!(b(spec, &["podInfoOnMount"])),
        json!(b(spec, &["storageCapacity"])),
        json!(tokens),
        json!(b(spec, &["requiresRepublish"])),
        json!(or(&modes.join(","), "<none>")),
        json!(age(o, now)),
    ]
}
