//! PATCH bodies (JSON merge patch, JSON patch, strategic merge patch) and the `scale` subresource.

use serde_json::{json, Map, Value};

use super::errors::{ApiError, ApiResult};
use super::object::ObjectMeta;

/// The patch formats served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 7386 `application/merge-patch+json`.
    Merge,
    /// RFC 6902 `application/json-patch+json`.
    Json,
    /// `application/strategic-merge-patch+json`: merged by the kind's patch metadata
    /// (see [`super::strategic`]).
    Strategic,
}

impl PatchKind {
    /// The patch kind of a content type; 415 for anything else.
    pub fn from_content_type(ct: &str) -> ApiResult<PatchKind> {
        match ct {
            "application/merge-patch+json" => Ok(PatchKind::Merge),
            "application/json-patch+json" => Ok(PatchKind::Json),
            "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {other:?})"),
            )),
        }
    }
}

/// Parses a patch body.
pub fn parse_patch(kind: PatchKind, body: &[u8]) -> ApiResult<Value> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    match kind {
        PatchKind::Json if !v.is_array() => Err(ApiError::bad_request(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        )),
        PatchKind::Merge | PatchKind::Strategic if !v.is_object() => Err(ApiError::bad_request(
            "error decoding patch: the patch must be a JSON object",
        )),
        _ => Ok(v),
    }
}

/// Applies a patch to an object whose OpenAPI definition is `schema_name`
/// (`io.k8s.api.apps.v1.Deployment`; strategic merge patches of kinds without one, or with an
/// empty name, fall back to JSON merge patch semantics).
pub fn apply(
    kind: PatchKind,
    target: &Value,
    patch: &Value,
    schema_name: Option<&str>,
) -> ApiResult<Value> {
    let mut doc = target.clone();
    match kind {
        PatchKind::Merge => json_patch::merge(&mut doc, patch),
        PatchKind::Strategic => {
            doc = super::strategic::apply(target, patch, schema_name.filter(|s| !s.is_empty()))?;
        }
        PatchKind::Json => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
                ApiError::bad_request(format!(
                    "the server rejected our request due to an error in our request: {e}"
                ))
            })?;
            json_patch::patch(&mut doc, &p).map_err(|e| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!("the server rejected our request due to an error in our request: {e}"),
                )
            })?;
        }
    }
    Ok(doc)
}

/// The label selector of an object's `spec.selector` in its string form.
fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return String::new() };
    let mut parts = Vec::new();
    let labels = sel
        .get("matchLabels")
        .or(Some(sel))
        .and_then(Value::as_object);
    if let Some(m) = labels {
        for (k, v) in m {
            if let Some(v) = v.as_str() {
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or("");
            let values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e.get("operator").and_then(Value::as_str).unwrap_or("") {
                "In" => parts.push(format!("{key} in ({})", values.join(","))),
                "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
                "Exists" => parts.push(key.to_string()),
                "DoesNotExist" => parts.push(format!("!{key}")),
                _ => {}
            }
        }
    }
    parts.sort();
    parts.join(",")
}

/// The autoscaling/v1 `Scale` of an object with `spec.replicas`.
pub fn scale_of(obj: &Value) -> ApiResult<Value> {
    let meta = obj.meta().cloned().unwrap_or_default();
    let mut m = Map::new();
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = meta.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    let replicas = obj
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let status_replicas = obj
        .pointer("/status/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": m,
        "spec": {"replicas": replicas},
        "status": {"replicas": status_replicas, "selector": selector_string(obj.pointer("/spec/selector"))},
    }))
}

/// Applies a Scale (from PUT or a patched Scale) to its object.
pub fn apply_scale(old: &Value, scale: &Value) -> ApiResult<Value> {
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::bad_request("spec.replicas is required in a Scale"))?;
    if replicas < 0 {
        let msg = format!("Scale.autoscaling \"{}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0", old.name());
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            old.name(),
            msg,
            vec![super::errors::Cause {
                reason: "FieldValueInvalid".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            }],
        ));
    }
    let mut new = old.clone();
    if let Some(rv) = scale.meta_str("resourceVersion").filter(|s| !s.is_empty()) {
        new.set_meta("resourceVersion", json!(rv));
    }
    new["spec"]["replicas"] = json!(replicas);
    Ok(new)
}
