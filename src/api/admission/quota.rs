//! ResourceQuota: admission (upstream's `plugin/pkg/admission/resourcequota`, 403 `exceeded quota`
//! and `failed quota` messages) and the controller keeping `status.hard`/`status.used` current
//! (upstream's resource quota controller, recomputing on every change in the namespace).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::sync::broadcast::error::RecvError;

use super::forbidden;
use super::usage::{self, Usage};
use crate::api::cache::Cached;
use crate::api::errors::ApiResult;
use crate::api::handler::App;
use crate::api::object::ObjectMeta;
use crate::api::registry::ResourceEntry;
use crate::api::store::{Part, Store, WriteOptions};
use crate::validation::Quantity;

const PREFIX: &str = "/registry/resourcequotas/";

/// Resources whose absence from a container fails a quota that limits them (upstream's
/// backward-compatible "must specify" rule for cpu and memory).
const MUST_SPECIFY: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// True when namespace `ns` has at least one ResourceQuota.
pub fn has_quotas(store: &Store, ns: &str) -> bool {
    !store
        .cache
        .snapshot(&format!("{PREFIX}{ns}/"), None)
        .items
        .is_empty()
}

fn hard_of(quota: &Value) -> BTreeMap<String, Quantity> {
    super::usage::resource_list(quota.pointer("/spec/hard"))
}

fn best_effort(pod: &Value) -> bool {
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    ["containers", "initContainers"].iter().all(|list| {
        spec.get(*list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|c| {
                ["requests", "limits"].iter().all(|f| {
                    c.pointer(&format!("/resources/{f}"))
                        .and_then(Value::as_object)
                        .is_none_or(|m| m.is_empty())
                })
            })
    })
}

fn scope_matches(scope: &str, pod: &Value) -> bool {
    let terminating = pod
        .pointer("/spec/activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null());
    match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort(pod),
        "NotBestEffort" => !best_effort(pod),
        "PriorityClass" => true,
        "CrossNamespacePodAffinity" => false,
        _ => false,
    }
}

fn selector_matches(req: &Value, pod: &Value) -> bool {
    let scope = req.get("scopeName").and_then(Value::as_str).unwrap_or("");
    let op = req.get("operator").and_then(Value::as_str).unwrap_or("");
    if scope != "PriorityClass" {
        let base = scope_matches(scope, pod);
        return if op == "DoesNotExist" { !base } else { base };
    }
    let class = pod
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let values: Vec<&str> = req
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match op {
        "In" => values.contains(&class),
        "NotIn" => !values.contains(&class),
        "Exists" => !class.is_empty(),
        "DoesNotExist" => class.is_empty(),
        _ => false,
    }
}

/// True when the quota's scopes and scope selector select `obj` (scoped quotas select pods only).
fn quota_selects(quota: &Value, group: &str, plural: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let exprs: Vec<Value> = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if scopes.is_empty() && exprs.is_empty() {
        return true;
    }
    if !(group.is_empty() && plural == "pods") {
        return false;
    }
    scopes.iter().all(|s| scope_matches(s, obj)) && exprs.iter().all(|e| selector_matches(e, obj))
}

fn pretty(u: &BTreeMap<String, Quantity>, keys: &[String]) -> String {
    keys.iter()
        .filter_map(|k| u.get(k).map(|q| format!("{k}={q}")))
        .collect::<Vec<_>>()
        .join(",")
}

/// Containers missing a request or limit the quota requires, as upstream's pod `Constraints`.
fn missing_constraints(hard: &BTreeMap<String, Quantity>, pod: &Value) -> Option<String> {
    let mut missing: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    for list in ["containers", "initContainers"] {
        for c in spec
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let cname = c.get("name").and_then(Value::as_str).unwrap_or("");
            for key in MUST_SPECIFY.iter().filter(|k| hard.contains_key(**k)) {
                let (field, res) = match key.split_once('.') {
                    Some(("limits", r)) => ("limits", r),
                    Some((_, r)) => ("requests", r),
                    None => ("requests", *key),
                };
                let has = c
                    .pointer(&format!("/resources/{field}/{res}"))
                    .is_some_and(|v| !v.is_null());
                if !has {
                    missing.entry(key).or_default().insert(cname.to_string());
                }
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(k, names)| {
            format!(
                "{k} for: {}",
                names.iter().cloned().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

/// Refuses a create that would take any quota of namespace `ns` over its hard limits.
pub fn check_create(
    store: &Store,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    obj: &Value,
) -> ApiResult<()> {
    let (group, plural) = (res.rt.group.as_str(), res.rt.plural.as_str());
    let delta = usage::object_usage(group, plural, obj);
    let is_pod = group.is_empty() && plural == "pods";
    for quota in store
        .cache
        .snapshot(&format!("{PREFIX}{ns}/"), None)
        .values()
    {
        if !quota_selects(&quota, group, plural, obj) {
            continue;
        }
        let qname = quota.name().to_string();
        let hard = hard_of(&quota);
        if is_pod && !usage::pod_terminal(obj) {
            if let Some(msg) = missing_constraints(&hard, obj) {
                return Err(forbidden(
                    res,
                    name,
                    &format!("failed quota: {qname}: {msg}"),
                ));
            }
        }
        let relevant: BTreeSet<String> = hard
            .keys()
            .filter(|k| delta.contains_key(*k))
            .cloned()
            .collect();
        if relevant.is_empty() {
            continue;
        }
        let selects = |g: &str, p: &str, o: &Value| quota_selects(&quota, g, p, o);
        let used = usage::namespace_usage(store, ns, &relevant, &selects);
        let exceeded: Vec<String> = relevant
            .iter()
            .filter(|k| {
                let u = used.get(*k).map(Quantity::nano_value).unwrap_or(0);
                let d = delta.get(*k).map(Quantity::nano_value).unwrap_or(0);
                hard.get(*k).is_some_and(|h| u + d > h.nano_value())
            })
            .cloned()
            .collect();
        if !exceeded.is_empty() {
            return Err(forbidden(
                res,
                name,
                &format!(
                    "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                    pretty(&delta, &exceeded),
                    pretty(&used, &exceeded),
                    pretty(&hard, &exceeded)
                ),
            ));
        }
    }
    Ok(())
}

fn status_of(store: &Store, ns: &str, quota: &Value) -> Value {
    let hard = hard_of(quota);
    let keys: BTreeSet<String> = hard.keys().cloned().collect();
    let selects = |g: &str, p: &str, o: &Value| quota_selects(quota, g, p, o);
    let used: Usage = usage::namespace_usage(store, ns, &keys, &selects);
    let to_map = |u: &BTreeMap<String, Quantity>| {
        Value::Object(
            u.iter()
                .map(|(k, q)| (k.clone(), json!(q.to_string())))
                .collect::<Map<_, _>>(),
        )
    };
    json!({"hard": to_map(&hard), "used": to_map(&used)})
}

/// Recomputes the status of every quota in `ns`, writing those that changed.
pub async fn sync_namespace(store: &Store, ns: &str) {
    let Some(res) = store.registry.find("", "v1", "resourcequotas") else {
        return;
    };
    for quota in store
        .cache
        .snapshot(&format!("{PREFIX}{ns}/"), None)
        .values()
    {
        if quota.meta_str("deletionTimestamp").is_some() {
            continue;
        }
        let status = status_of(store, ns, &quota);
        if quota.get("status") == Some(&status) {
            continue;
        }
        let name = quota.name().to_string();
        let result = store
            .guaranteed_update(
                &res,
                Some(ns),
                &name,
                Part::Status,
                &WriteOptions::default(),
                |old| {
                    let mut n = old.clone();
                    n["status"] = status.clone();
                    Ok(n)
                },
            )
            .await;
        if let Err(e) = result {
            if e.code != 404 {
                tracing::warn!(namespace = ns, quota = %name, error = %e, "quota status update failed");
            }
        }
    }
}

/// The namespace of a changed object, when that namespace has quotas.
fn namespace_of(store: &Store, obj: &Cached) -> Option<String> {
    let ns = obj.namespace();
    (!ns.is_empty() && has_quotas(store, ns)).then(|| ns.to_string())
}

/// Starts the resource quota controller: quota status follows every change in its namespace.
pub fn spawn_controller(app: Arc<App>) {
    tokio::spawn(async move {
        let store = &app.store;
        let mut rx_all = store.cache.subscribe(crate::api::cache::ROOT);
        let mut dirty = all_quota_namespaces(store);
        loop {
            for ns in std::mem::take(&mut dirty) {
                sync_namespace(store, &ns).await;
            }
            let first = match rx_all.recv().await {
                Ok(e) => Some(e),
                Err(RecvError::Lagged(_)) => None,
                Err(RecvError::Closed) => return,
            };
            match first {
                Some(e) => dirty.extend(namespace_of(store, &e.object)),
                None => dirty.extend(all_quota_namespaces(store)),
            }
            // Gather a burst of changes before recomputing.
            let deadline = tokio::time::Instant::now() + Duration::from_millis(50);
            while let Ok(r) = tokio::time::timeout_at(deadline, rx_all.recv()).await {
                match r {
                    Ok(e) => dirty.extend(namespace_of(store, &e.object)),
                    Err(RecvError::Lagged(_)) => dirty.extend(all_quota_namespaces(store)),
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
}

fn all_quota_namespaces(store: &Store) -> BTreeSet<String> {
    store
        .cache
        .snapshot(PREFIX, None)
        .items
        .iter()
        .map(|(_, q)| q.namespace().to_string())
        .collect::<BTreeSet<String>>()
}
