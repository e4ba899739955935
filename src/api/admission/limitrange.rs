//! LimitRanger (upstream's `plugin/pkg/admission/limitranger`): container defaults
//! (`default`, `defaultRequest`) on pod create, then `min`, `max` and `maxLimitRequestRatio` of
//! `Container` and `Pod` items enforced with upstream's messages.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::forbidden;
use super::usage::pod_resources;
use crate::api::errors::ApiResult;
use crate::api::object::ObjectMeta;
use crate::api::registry::ResourceEntry;
use crate::api::store::Store;
use crate::validation::Quantity;

/// The annotation naming what LimitRanger set.
pub const ANNOTATION: &str = "kubernetes.io/limit-ranger";

fn limit_ranges(store: &Store, ns: &str) -> Vec<Value> {
    store
        .cache
        .snapshot(&format!("/registry/limitranges/{ns}/"), None)
        .values()
}

fn items(lr: &Value) -> Vec<Value> {
    lr.pointer("/spec/limits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

use super::usage::resource_list as quantities;

/// Sets missing container requests and limits from the namespace's `Container` defaults and
/// records them in the `kubernetes.io/limit-ranger` annotation.
pub fn default_pod(store: &Store, ns: &str, pod: &mut Value) {
    for lr in limit_ranges(store, ns) {
        let mut limits = serde_json::Map::new();
        let mut requests = serde_json::Map::new();
        for item in items(&lr) {
            if item.get("type").and_then(Value::as_str) != Some("Container") {
                continue;
            }
            if let Some(d) = item.get("default").and_then(Value::as_object) {
                limits.extend(d.clone());
            }
            if let Some(d) = item.get("defaultRequest").and_then(Value::as_object) {
                requests.extend(d.clone());
            }
        }
        if limits.is_empty() && requests.is_empty() {
            continue;
        }
        let mut notes = Vec::new();
        for (list, what) in [
            ("containers", "container"),
            ("initContainers", "init container"),
        ] {
            let Some(cs) = pod
                .pointer_mut(&format!("/spec/{list}"))
                .and_then(Value::as_array_mut)
            else {
                continue;
            };
            for c in cs.iter_mut().filter(|c| c.is_object()) {
                let cname = c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if !c.get("resources").is_some_and(Value::is_object) {
                    c["resources"] = json!({});
                }
                let mut set = |field: &str, defaults: &serde_json::Map<String, Value>| {
                    let mut names = Vec::new();
                    if defaults.is_empty() {
                        return names;
                    }
                    if !c["resources"].get(field).is_some_and(Value::is_object) {
                        c["resources"][field] = json!({});
                    }
                    for (k, v) in defaults {
                        if c["resources"][field].get(k).is_none() {
                            c["resources"][field][k] = v.clone();
                            names.push(k.clone());
                        }
                    }
                    names.sort();
                    names
                };
                let req = set("requests", &requests);
                let lim = set("limits", &limits);
                if !req.is_empty() {
                    notes.push(format!("{} request for {what} {cname}", req.join(", ")));
                }
                if !lim.is_empty() {
                    notes.push(format!("{} limit for {what} {cname}", lim.join(", ")));
                }
            }
        }
        if !notes.is_empty() {
            let value = format!("LimitRanger plugin set: {}", notes.join("; "));
            if let Some(meta) = pod.meta_mut() {
                let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                if let Some(a) = ann.as_object_mut() {
                    a.insert(ANNOTATION.into(), json!(value));
                }
            }
        }
    }
}

/// `Value()`/`MilliValue()` comparison values of upstream's `requestLimitEnforcedValues`.
fn milli(q: Option<&Quantity>) -> i128 {
    q.map(|q| {
        let n = q.nano_value();
        let d = 1_000_000;
        if n % d != 0 && n > 0 {
            n / d + 1
        } else {
            n / d
        }
    })
    .unwrap_or(0)
}

fn show(q: Option<&Quantity>) -> String {
    q.map(ToString::to_string).unwrap_or_else(|| "0".into())
}

/// Checks one item's min, max and ratio for one container or pod.
fn check(
    kind: &str,
    item: &Value,
    requests: &BTreeMap<String, Quantity>,
    limits: &BTreeMap<String, Quantity>,
    errs: &mut Vec<String>,
) {
    for (res, min) in quantities(item.get("min")) {
        let (req, lim) = (requests.get(&res), limits.get(&res));
        if req.is_none() {
            errs.push(format!(
                "minimum {res} usage per {kind} is {min}.  No request is specified"
            ));
        } else if milli(req) < milli(Some(&min)) {
            errs.push(format!(
                "minimum {res} usage per {kind} is {min}, but request is {}",
                show(req)
            ));
        } else if lim.is_some() && milli(lim) < milli(Some(&min)) {
            errs.push(format!(
                "minimum {res} usage per {kind} is {min}, but limit is {}",
                show(lim)
            ));
        }
    }
    for (res, max) in quantities(item.get("max")) {
        let (req, lim) = (requests.get(&res), limits.get(&res));
        if lim.is_none() {
            errs.push(format!(
                "maximum {res} usage per {kind} is {max}.  No limit is specified"
            ));
        } else if milli(lim) > milli(Some(&max)) {
            errs.push(format!(
                "maximum {res} usage per {kind} is {max}, but limit is {}",
                show(lim)
            ));
        } else if req.is_some() && milli(req) > milli(Some(&max)) {
            errs.push(format!(
                "maximum {res} usage per {kind} is {max}, but request is {}",
                show(req)
            ));
        }
    }
    for (res, ratio) in quantities(item.get("maxLimitRequestRatio")) {
        let (req, lim) = (milli(requests.get(&res)), milli(limits.get(&res)));
        if req == 0 {
            errs.push(format!("{res} max limit to request ratio per {kind} is {ratio}, but no request is specified or request is 0"));
        } else if lim == 0 {
            errs.push(format!("{res} max limit to request ratio per {kind} is {ratio}, but no limit is specified or limit is 0"));
        } else {
            let observed = lim as f64 / req as f64;
            let max = ratio.nano_value() as f64 / 1e9;
            if observed > max {
                errs.push(format!("{res} max limit to request ratio per {kind} is {ratio}, but provided ratio is {observed:.6}"));
            }
        }
    }
}

/// Refuses a pod outside the namespace's `Container` or `Pod` limits (403, upstream's messages).
pub fn validate_pod(
    store: &Store,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    pod: &Value,
) -> ApiResult<()> {
    let mut errs = Vec::new();
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    for lr in limit_ranges(store, ns) {
        for item in items(&lr) {
            match item.get("type").and_then(Value::as_str) {
                Some("Container") => {
                    for list in ["containers", "initContainers"] {
                        for c in spec
                            .get(list)
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            let r = quantities(c.pointer("/resources/requests"));
                            let l = quantities(c.pointer("/resources/limits"));
                            check("Container", &item, &r, &l, &mut errs);
                        }
                    }
                }
                Some("Pod") => {
                    let r = pod_resources(&spec, "requests");
                    let l = pod_resources(&spec, "limits");
                    check("Pod", &item, &r, &l, &mut errs);
                }
                _ => {}
            }
        }
    }
    let mut seen = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    match seen.len() {
        0 => Ok(()),
        1 => Err(forbidden(res, name, &seen[0])),
        _ => Err(forbidden(res, name, &format!("[{}]", seen.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_bounds_messages() {
        let item = json!({"type": "Container", "min": {"cpu": "100m"}, "max": {"memory": "1Gi"}, "maxLimitRequestRatio": {"cpu": "2"}});
        let r = quantities(Some(&json!({"cpu": "50m"})));
        let l = quantities(Some(&json!({"cpu": "500m", "memory": "2Gi"})));
        let mut errs = Vec::new();
        check("Container", &item, &r, &l, &mut errs);
        assert_eq!(
            errs,
            vec![
                "minimum cpu usage per Container is 100m, but request is 50m",
                "maximum memory usage per Container is 1Gi, but limit is 2Gi",
                "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000",
            ]
        );
    }
}
