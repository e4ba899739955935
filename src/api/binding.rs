//! The `pods/binding` subresource (upstream's `BindingREST`): assigns a pending pod to a node by
//! setting `spec.nodeName` and the `PodScheduled=True` condition.

use serde_json::{json, Value};

use super::errors::{ApiError, ApiResult};
use super::object::{now_rfc3339, ObjectMeta};
use super::registry::ResourceEntry;
use super::store::{Part, Store, WriteOptions};

/// Binds pod `name` in `ns` as `binding` (a `v1.Binding`) asks; answers upstream's
/// `Status Success` with code 201.
pub async fn bind(
    store: &Store,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    binding: &Value,
    opts: &WriteOptions,
) -> ApiResult<Value> {
    if !binding.name().is_empty() && binding.name() != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Binding object",
        ));
    }
    let kind = binding
        .pointer("/target/kind")
        .and_then(Value::as_str)
        .unwrap_or("");
    let node = binding
        .pointer("/target/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !kind.is_empty() && kind != "Node" {
        return Err(ApiError::invalid(
            "",
            "Binding",
            name,
            format!("Binding \"{name}\" is invalid: target.kind: Unsupported value: \"{kind}\": supported values: \"Node\", \"<empty>\""),
            Vec::new(),
        ));
    }
    if node.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            name,
            format!("Binding \"{name}\" is invalid: target.name: Required value"),
            Vec::new(),
        ));
    }
    let uid = binding.meta_str("uid").filter(|u| !u.is_empty());
    let annotations = binding
        .meta()
        .and_then(|m| m.get("annotations"))
        .and_then(Value::as_object)
        .cloned();
    let conflict = |detail: &str| ApiError::conflict("", "pods/binding", name, detail);
    store
        .guaranteed_update(res, Some(ns), name, Part::Binding, opts, |old| {
            if let Some(uid) = uid {
                if old.meta_str("uid") != Some(uid) {
                    return Err(conflict(&format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        old.meta_str("uid").unwrap_or("")
                    )));
                }
            }
            if old.meta_str("deletionTimestamp").is_some() {
                return Err(conflict(&format!(
                    "pod {name} is being deleted, cannot be assigned to a host"
                )));
            }
            let current = old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !current.is_empty() {
                return Err(conflict(&format!(
                    "pod {name} is already assigned to node \"{current}\""
                )));
            }
            let mut pod = old.clone();
            pod["spec"]["nodeName"] = json!(node);
            if let Some(extra) = &annotations {
                let meta = &mut pod["metadata"];
                if !meta["annotations"].is_object() {
                    meta["annotations"] = json!({});
                }
                for (k, v) in extra {
                    meta["annotations"][k] = v.clone();
                }
            }
            set_scheduled(&mut pod);
            Ok(pod)
        })
        .await?;
    Ok(json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201
    }))
}

/// Sets `PodScheduled=True` (keeping the transition time when it already was true).
fn set_scheduled(pod: &mut Value) {
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    let status = &mut pod["status"];
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let Some(conds) = status["conditions"].as_array_mut() else {
        return;
    };
    let fresh = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": now_rfc3339(),
    });
    match conds.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(c) if c["status"] == "True" => {}
        Some(c) => *c = fresh,
        None => conds.push(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_condition_replaces_false() {
        let mut pod = json!({"status": {"conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}
        ]}});
        set_scheduled(&mut pod);
        let conds = pod["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0]["status"], "True");
        assert!(conds[0].get("reason").is_none());
    }
}
