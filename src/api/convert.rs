//! Conversion between the version a resource is served in and the version its objects are
//! stored in. A [`ResourceEntry`](super::registry::ResourceEntry) with a [`Conversion`] shares
//! its storage prefix with the entry of the storage version: writes are converted to the storage
//! version before the store sees them, and every object answered (get, list, watch, write
//! results) is converted back to the served version. Upstream does the same through its internal
//! version; CRDs with several versions and core/events.k8s.io Events fit the same hook.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::registry::ResourceEntry;

/// How one served version maps to the storage version.
#[derive(Clone, Copy, Debug)]
pub struct Conversion {
    /// The version objects are stored in (same group and resource).
    pub storage_version: &'static str,
    /// Converts an object of the served version to the storage version.
    pub to_storage: fn(Value) -> Value,
    /// Converts a stored object to the served version.
    pub from_storage: fn(Value) -> Value,
}

impl Conversion {
    /// Converts a stored object to the served version `api_version`, unless it already is.
    pub fn output(&self, obj: &Value, api_version: &str) -> Value {
        if obj.get("apiVersion").and_then(Value::as_str) == Some(api_version) {
            obj.clone()
        } else {
            (self.from_storage)(obj.clone())
        }
    }
}

/// `obj` as served by `res`: converted from the storage version when `res` has a conversion.
pub fn served(res: &ResourceEntry, obj: &Value) -> Option<Value> {
    res.conversion.map(|c| c.output(obj, &res.rt.api_version()))
}

/// The items of a list as served by `res` (shared unchanged when `res` has no conversion).
pub fn served_items(res: &ResourceEntry, items: Vec<Arc<Value>>) -> Vec<Arc<Value>> {
    match res.conversion {
        None => items,
        Some(c) => {
            let av = res.rt.api_version();
            items
                .into_iter()
                .map(|o| Arc::new(c.output(&o, &av)))
                .collect()
        }
    }
}

/// The conversion of a built-in resource served in a version other than its storage version.
pub fn builtin(group: &str, version: &str, kind: &str) -> Option<Conversion> {
    match (group, version, kind) {
        ("autoscaling", "v1", "HorizontalPodAutoscaler") => Some(Conversion {
            storage_version: "v2",
            to_storage: hpa_v1_to_v2,
            from_storage: hpa_v2_to_v1,
        }),
        _ => None,
    }
}

/// Annotation holding the v2 metrics that autoscaling/v1 cannot express.
pub const HPA_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/metrics";
/// Annotation holding the v2 current metrics.
pub const HPA_CURRENT_METRICS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/current-metrics";
/// Annotation holding the v2 status conditions.
pub const HPA_CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";
/// Annotation holding the v2 scaling behavior.
pub const HPA_BEHAVIOR_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/behavior";

const HPA_ANNOTATIONS: [&str; 4] = [
    HPA_METRICS_ANNOTATION,
    HPA_CURRENT_METRICS_ANNOTATION,
    HPA_CONDITIONS_ANNOTATION,
    HPA_BEHAVIOR_ANNOTATION,
];

fn is_cpu_utilization(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("Resource")
        && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
        && m.pointer("/resource/target/type").and_then(Value::as_str) == Some("Utilization")
        && m.pointer("/resource/target/averageUtilization")
            .is_some_and(|u| !u.is_null())
}

fn take_annotation(meta: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let ann = meta.get_mut("annotations")?.as_object_mut()?;
    let raw = ann.shift_remove(key)?;
    if ann.is_empty() {
        meta.remove("annotations");
    }
    raw.as_str().and_then(|s| serde_json::from_str(s).ok())
}

fn put_annotation(obj: &mut Map<String, Value>, key: &str, value: &Value) {
    let meta = obj.entry("metadata").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        let ann = m.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = ann.as_object_mut() {
            a.insert(key.to_string(), Value::String(value.to_string()));
        }
    }
}

/// autoscaling/v2 → autoscaling/v1 (upstream's `Convert_autoscaling_HorizontalPodAutoscaler_To_v1_...`):
/// the CPU utilization target becomes `targetCPUUtilizationPercentage`; other metrics, current
/// metrics, conditions and behavior are kept in annotations (as v2 JSON).
pub fn hpa_v2_to_v1(obj: Value) -> Value {
    let Value::Object(mut o) = obj else {
        return obj;
    };
    o.insert("apiVersion".into(), json!("autoscaling/v1"));
    let spec = o.remove("spec").unwrap_or_else(|| json!({}));
    let status = o.remove("status");
    let mut v1spec = Map::new();
    for f in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        if let Some(v) = spec.get(f) {
            v1spec.insert(f.into(), v.clone());
        }
    }
    let metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if let Some(cpu) = metrics.iter().find(|m| is_cpu_utilization(m)) {
        if let Some(u) = cpu.pointer("/resource/target/averageUtilization") {
            v1spec.insert("targetCPUUtilizationPercentage".into(), u.clone());
        }
    }
    let other: Vec<Value> = metrics
        .into_iter()
        .filter(|m| !is_cpu_utilization(m))
        .collect();
    if !other.is_empty() {
        put_annotation(&mut o, HPA_METRICS_ANNOTATION, &Value::Array(other));
    }
    if let Some(b) = spec.get("behavior").filter(|b| !b.is_null()) {
        put_annotation(&mut o, HPA_BEHAVIOR_ANNOTATION, b);
    }
    o.insert("spec".into(), Value::Object(v1spec));
    if let Some(status) = status {
        let mut v1 = Map::new();
        for f in ["observedGeneration", "lastScaleTime"] {
            if let Some(v) = status.get(f) {
                v1.insert(f.into(), v.clone());
            }
        }
        for f in ["currentReplicas", "desiredReplicas"] {
            v1.insert(f.into(), status.get(f).cloned().unwrap_or(json!(0)));
        }
        let current = status
            .get("currentMetrics")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for m in &current {
            if m.get("type").and_then(Value::as_str) == Some("Resource")
                && m.pointer("/resource/name").and_then(Value::as_str) == Some("cpu")
            {
                if let Some(u) = m
                    .pointer("/resource/current/averageUtilization")
                    .filter(|u| !u.is_null())
                {
                    v1.insert("currentCPUUtilizationPercentage".into(), u.clone());
                }
            }
        }
        if !current.is_empty() {
            put_annotation(
                &mut o,
                HPA_CURRENT_METRICS_ANNOTATION,
                &Value::Array(current),
            );
        }
        if let Some(c) = status
            .get("conditions")
            .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
        {
            put_annotation(&mut o, HPA_CONDITIONS_ANNOTATION, c);
        }
        o.insert("status".into(), Value::Object(v1));
    }
    Value::Object(o)
}

/// autoscaling/v1 → autoscaling/v2: the inverse of [`hpa_v2_to_v1`]; the round-trip annotations
/// are consumed. Without any metric the v2 default (CPU at 80%) is applied by defaulting.
pub fn hpa_v1_to_v2(obj: Value) -> Value {
    let Value::Object(mut o) = obj else {
        return obj;
    };
    o.insert("apiVersion".into(), json!("autoscaling/v2"));
    let mut taken: Vec<Option<Value>> = Vec::new();
    if let Some(Value::Object(meta)) = o.get_mut("metadata") {
        for a in HPA_ANNOTATIONS {
            taken.push(take_annotation(meta, a));
        }
    } else {
        taken.resize(HPA_ANNOTATIONS.len(), None);
    }
    let [other, current, conditions, behavior]: [Option<Value>; 4] =
        taken.try_into().unwrap_or_default();
    let spec = o.remove("spec").unwrap_or_else(|| json!({}));
    let mut v2spec = Map::new();
    for f in ["scaleTargetRef", "minReplicas", "maxReplicas"] {
        if let Some(v) = spec.get(f) {
            v2spec.insert(f.into(), v.clone());
        }
    }
    let mut metrics = Vec::new();
    if let Some(t) = spec
        .get("targetCPUUtilizationPercentage")
        .filter(|t| !t.is_null())
    {
        metrics.push(json!({"type": "Resource", "resource": {"name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": t}}}));
    }
    if let Some(Value::Array(other)) = other {
        metrics.extend(other);
    }
    if !metrics.is_empty() {
        v2spec.insert("metrics".into(), Value::Array(metrics));
    }
    if let Some(b) = behavior {
        v2spec.insert("behavior".into(), b);
    }
    o.insert("spec".into(), Value::Object(v2spec));
    if let Some(status) = o.remove("status") {
        let mut v2 = Map::new();
        for f in [
            "observedGeneration",
            "lastScaleTime",
            "currentReplicas",
            "desiredReplicas",
        ] {
            if let Some(v) = status.get(f) {
                v2.insert(f.into(), v.clone());
            }
        }
        match current {
            Some(c @ Value::Array(_)) => {
                v2.insert("currentMetrics".into(), c);
            }
            _ => {
                if let Some(u) = status
                    .get("currentCPUUtilizationPercentage")
                    .filter(|u| !u.is_null())
                {
                    v2.insert(
                        "currentMetrics".into(),
                        json!([{"type": "Resource", "resource": {"name": "cpu",
                            "current": {"averageUtilization": u}}}]),
                    );
                }
            }
        }
        if let Some(c) = conditions {
            v2.insert("conditions".into(), c);
        }
        o.insert("status".into(), Value::Object(v2));
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpa_round_trips_through_v1() {
        let v2 = json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1, "maxReplicas": 3,
                "metrics": [
                    {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
                    {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}}}
                ]
            },
            "status": {"currentReplicas": 2, "desiredReplicas": 2,
                "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 30}}}]}
        });
        let v1 = hpa_v2_to_v1(v2.clone());
        assert_eq!(v1["apiVersion"], "autoscaling/v1");
        assert_eq!(v1["spec"]["targetCPUUtilizationPercentage"], 50);
        assert_eq!(v1["status"]["currentCPUUtilizationPercentage"], 30);
        assert!(v1["metadata"]["annotations"][HPA_METRICS_ANNOTATION]
            .as_str()
            .is_some_and(|s| s.contains("memory")));
        assert_eq!(hpa_v1_to_v2(v1), v2);
    }

    #[test]
    fn hpa_v1_without_target_has_no_metrics() {
        let v1 = json!({"apiVersion": "autoscaling/v1", "spec": {"maxReplicas": 2}});
        let v2 = hpa_v1_to_v2(v1);
        assert_eq!(v2["spec"], json!({"maxReplicas": 2}));
        let back = builtin("autoscaling", "v1", "HorizontalPodAutoscaler")
            .map(|c| c.output(&v2, "autoscaling/v1"));
        assert_eq!(
            back.map(|b| b["apiVersion"].clone()),
            Some(json!("autoscaling/v1"))
        );
    }
}
