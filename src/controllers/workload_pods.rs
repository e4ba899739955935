//! Pod helpers shared by the StatefulSet and DaemonSet controllers (upstream's `podutil` and
//! `metav1` controller-reference helpers): readiness, availability, controller references.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use crate::selectors::Selector;

/// The pod's phase (`""` when unset).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Whether the pod has a deletion timestamp.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Upstream's `IsPodReady`: the `Ready` condition is `True`.
pub fn is_ready(pod: &Pod) -> bool {
    ready_since(pod).is_some()
}

/// When the `Ready` condition last became `True`, if it is `True` (the epoch when unknown).
fn ready_since(pod: &Pod) -> Option<i64> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .filter(|c| c.status == "True")
        .map(|c| {
            c.last_transition_time
                .as_ref()
                .map(|t| t.0.as_second())
                .unwrap_or(0)
        })
}

/// Upstream's `IsPodAvailable`: ready for at least `min_ready_seconds`. When ready but not yet
/// available, `Err` holds how long until it will be.
pub fn availability(pod: &Pod, min_ready_seconds: i32) -> Result<bool, Duration> {
    let Some(since) = ready_since(pod) else {
        return Ok(false);
    };
    if min_ready_seconds <= 0 {
        return Ok(true);
    }
    let now = chrono::Utc::now().timestamp();
    let at = since + i64::from(min_ready_seconds);
    if at <= now {
        Ok(true)
    } else {
        Err(Duration::from_secs(u64::try_from(at - now).unwrap_or(1)))
    }
}

/// Whether the pod is available (see [`availability`]).
pub fn is_available(pod: &Pod, min_ready_seconds: i32) -> bool {
    availability(pod, min_ready_seconds) == Ok(true)
}

/// A controller reference to an owner (`controller` and `blockOwnerDeletion` set).
pub fn controller_ref(api_version: &str, kind: &str, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether `meta`'s controller reference points at `uid`.
pub fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}

/// The name and namespace of `meta`'s controller of `kind`, if any.
pub fn controller_of(meta: &ObjectMeta, kind: &str) -> Option<String> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true) && o.kind == kind)
        .map(|o| o.name.clone())
}

/// A `metav1.LabelSelector` as a selector (a missing one selects nothing).
pub fn selector(sel: Option<&LabelSelector>) -> Result<Selector, String> {
    match sel {
        None => Ok(Selector::nothing()),
        Some(s) => {
            let v = serde_json::to_value(s).map_err(|e| e.to_string())?;
            Selector::from_label_selector(&v)
        }
    }
}

/// Creation time of an object in seconds (0 when unset), for oldest-first ordering.
pub fn created(meta: &ObjectMeta) -> i64 {
    meta.creation_timestamp
        .as_ref()
        .map(|t| t.0.as_second())
        .unwrap_or(0)
}

/// Whether writing `new` (a status) over `old` changes anything: fields of `new` that differ,
/// treating zero numbers as absent (the API may omit them).
pub fn status_changed(old: &serde_json::Value, new: &serde_json::Value) -> bool {
    use serde_json::Value;
    let empty = serde_json::Map::new();
    let old = old.as_object().unwrap_or(&empty);
    let Some(new) = new.as_object() else {
        return false;
    };
    new.iter().any(|(k, v)| match (old.get(k), v) {
        (Some(o), v) => o != v,
        (None, Value::Number(n)) => n.as_i64() != Some(0),
        (None, Value::Null) => false,
        (None, _) => true,
    })
}

/// The HTTP code of an API error answer (`None` for other errors).
pub fn api_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

/// `result` with an API error answer of `code` (e.g. 404 on delete) counted as success.
pub fn ok_if<T>(result: Result<T, kube::Error>, code: u16) -> Result<(), kube::Error> {
    match result {
        Ok(_) => Ok(()),
        Err(e) if api_code(&e) == Some(code) => Ok(()),
        Err(e) => Err(e),
    }
}
