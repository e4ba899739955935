//! Row cells for apps/v1: ReplicaSet, DaemonSet, StatefulSet, Deployment,
//! ControllerRevision.

use super::super::util::*;
use super::name;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// ReplicaSet row.
pub(super) fn replica_set(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(i(o, &["spec", "replicas"])),
        json!(i(o, &["status", "replicas"])),
        json!(i(o, &["status", "readyReplicas"])),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

/// DaemonSet row.
pub(super) fn daemon_set(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(i(o, &["status", "desiredNumberScheduled"])),
        json!(i(o, &["status", "currentNumberScheduled"])),
        json!(i(o, &["status", "numberReady"])),
        json!(i(o, &["status", "updatedNumberScheduled"])),
        json!(i(o, &["status", "numberAvailable"])),
        json!(format_labels(at(
            o,
            &["spec", "template", "spec", "nodeSelector"]
        ))),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

/// StatefulSet row.
pub(super) fn stateful_set(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(format!(
            "{}/{}",
            i(o, &["status", "readyReplicas"]),
            i(o, &["spec", "replicas"])
        )),
        json!(age(o, now)),
        json!(n),
        json!(img),
    ]
}

/// Deployment row.
pub(super) fn deployment(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    let sel = match label_selector_string(at(o, &["spec", "selector"])) {
        Ok(sel) => sel,
        Err(()) => "<invalid>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(format!(
            "{}/{}",
            i(o, &["status", "readyReplicas"]),
            i(o, &["spec", "replicas"])
        )),
        json!(i(o, &["status", "updatedReplicas"])),
        json!(i(o, &["status", "availableReplicas"])),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(sel),
    ]
}

/// ControllerRevision row.
pub(super) fn controller_revision(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let controller = arr(o, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| b(r, &["controller"]))
        .map(|r| {
            let api_version = s(r, &["apiVersion"]);
            let group = match api_version.rsplit_once('/') {
                Some((g, _)) => g,
                None => "",
            };
            let k = s(r, &["kind"]);
            let gk = if group.is_empty() {
                k.to_string()
            } else {
                format!("{k}.{group}")
            };
            if gk.is_empty() {
                s(r, &["name"]).to_string()
            } else {
                format!("{}/{}", gk.to_lowercase(), s(r, &["name"]))
            }
        })
        .unwrap_or_else(|| "<none>".to_string());
    vec![
        json!(name(o)),
        json!(controller),
        json!(i(o, &["revision"])),
        json!(age(o, now)),
    ]
}
