//! Resource usage of objects as upstream's quota evaluators count it: object counts
//! (`pods`, `count/<resource>[.<group>]`), pod requests and limits, Service node ports and load
//! balancers, PVC storage per storage class.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::api::registry::ResourceEntry;
use crate::api::store::Store;
use crate::validation::{Quantity, QuantityFormat};

/// Usage by resource name (`pods`, `requests.cpu`, …).
pub type Usage = BTreeMap<String, Quantity>;

/// Core resources counted under their bare name as well as `count/<name>`.
const COUNTED: &[&str] = &[
    "pods",
    "services",
    "configmaps",
    "secrets",
    "replicationcontrollers",
    "resourcequotas",
    "persistentvolumeclaims",
];

/// Compute resources that quota under `requests.<name>`, `limits.<name>` and the bare name.
const STANDARD: &[&str] = &["cpu", "memory", "ephemeral-storage"];

/// True when quota can track objects of `res` (everything namespaced has `count/<resource>`).
pub fn tracked(res: &ResourceEntry) -> bool {
    res.rt.namespaced
}

/// The `count/<resource>[.<group>]` name of a resource.
pub fn count_key(group: &str, plural: &str) -> String {
    if group.is_empty() {
        format!("count/{plural}")
    } else {
        format!("count/{plural}.{group}")
    }
}

fn one() -> Quantity {
    Quantity::from_nano(1_000_000_000, QuantityFormat::DecimalSI)
}

/// Adds `q` to `usage[key]`; a sum takes the format of its first non-zero term, as upstream's
/// `Quantity.Add`.
pub fn add(usage: &mut Usage, key: &str, q: Quantity) {
    match usage.get_mut(key) {
        Some(cur) if !cur.is_zero() => {
            *cur = Quantity::from_nano(cur.nano_value() + q.nano_value(), cur.format())
        }
        _ => {
            usage.insert(key.to_string(), q);
        }
    }
}

/// A ResourceList (`{"cpu": "500m", …}`) parsed into quantities; unparsable entries are skipped.
pub(super) fn resource_list(v: Option<&Value>) -> BTreeMap<String, Quantity> {
    v.and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => return None,
                    };
                    Quantity::parse(&s).ok().map(|q| (k.clone(), q))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn max_into(into: &mut BTreeMap<String, Quantity>, other: &BTreeMap<String, Quantity>) {
    for (k, q) in other {
        match into.get(k) {
            Some(cur) if cur >= q => {}
            _ => {
                into.insert(k.clone(), *q);
            }
        }
    }
}

fn sum_into(into: &mut BTreeMap<String, Quantity>, other: &BTreeMap<String, Quantity>) {
    for (k, q) in other {
        add(into, k, *q);
    }
}

/// A pod's effective requests or limits (`field`): containers and sidecars summed, each regular
/// init container (with the sidecars started before it) as a floor, plus overhead.
pub fn pod_resources(spec: &Value, field: &str) -> BTreeMap<String, Quantity> {
    let of = |c: &Value| resource_list(c.get("resources").and_then(|r| r.get(field)));
    let mut total = BTreeMap::new();
    for c in spec
        .get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        sum_into(&mut total, &of(c));
    }
    let mut sidecars = BTreeMap::new();
    let mut floor = BTreeMap::new();
    for c in spec
        .get("initContainers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if c.get("restartPolicy").and_then(Value::as_str) == Some("Always") {
            sum_into(&mut sidecars, &of(c));
        } else {
            let mut need = of(c);
            sum_into(&mut need, &sidecars);
            max_into(&mut floor, &need);
        }
    }
    sum_into(&mut total, &sidecars);
    max_into(&mut total, &floor);
    sum_into(&mut total, &resource_list(spec.get("overhead")));
    total
}

/// True when a pod no longer counts against quota (Succeeded or Failed).
pub fn pod_terminal(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded") | Some("Failed")
    )
}

/// Everything one object of `group`/`plural` counts for.
pub fn object_usage(group: &str, plural: &str, obj: &Value) -> Usage {
    let mut u = Usage::new();
    if group.is_empty() && plural == "pods" && pod_terminal(obj) {
        return u;
    }
    u.insert(count_key(group, plural), one());
    if !group.is_empty() {
        return u;
    }
    if COUNTED.contains(&plural) {
        u.insert(plural.to_string(), one());
    }
    let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
    match plural {
        "pods" => {
            for (k, q) in pod_resources(&spec, "requests") {
                if STANDARD.contains(&k.as_str()) {
                    add(&mut u, &k, q);
                }
                add(&mut u, &format!("requests.{k}"), q);
            }
            for (k, q) in pod_resources(&spec, "limits") {
                if STANDARD.contains(&k.as_str()) {
                    add(&mut u, &format!("limits.{k}"), q);
                }
            }
        }
        "services" => {
            let t = spec.get("type").and_then(Value::as_str).unwrap_or("");
            let ports = spec
                .get("ports")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0) as i128;
            if t == "NodePort" || t == "LoadBalancer" {
                let q = Quantity::from_nano(ports * 1_000_000_000, QuantityFormat::DecimalSI);
                u.insert("services.nodeports".into(), q);
            }
            if t == "LoadBalancer" {
                u.insert("services.loadbalancers".into(), one());
            }
        }
        "persistentvolumeclaims" => {
            let storage = resource_list(spec.pointer("/resources/requests"))
                .get("storage")
                .copied();
            let class = spec
                .get("storageClassName")
                .and_then(Value::as_str)
                .unwrap_or("");
            if let Some(q) = storage {
                add(&mut u, "requests.storage", q);
                if !class.is_empty() {
                    add(
                        &mut u,
                        &format!("{class}.storageclass.storage.k8s.io/requests.storage"),
                        q,
                    );
                }
            }
            if !class.is_empty() {
                u.insert(
                    format!("{class}.storageclass.storage.k8s.io/persistentvolumeclaims"),
                    one(),
                );
            }
        }
        _ => {}
    }
    u
}

/// The resource (group, plural) whose objects a quota resource name counts.
fn resource_of(key: &str) -> Option<(String, String)> {
    if let Some(rest) = key.strip_prefix("count/") {
        return Some(match rest.split_once('.') {
            Some((plural, group)) => (group.to_string(), plural.to_string()),
            None => (String::new(), rest.to_string()),
        });
    }
    let core = |p: &str| Some((String::new(), p.to_string()));
    if key == "requests.storage"
        || key == "persistentvolumeclaims"
        || key.contains(".storageclass.storage.k8s.io/")
    {
        return core("persistentvolumeclaims");
    }
    if key.starts_with("services") {
        return core("services");
    }
    if COUNTED.contains(&key) {
        return core(key);
    }
    if key == "pods"
        || STANDARD.contains(&key)
        || key.starts_with("requests.")
        || key.starts_with("limits.")
    {
        return core("pods");
    }
    None
}

/// Current usage in namespace `ns` of every name in `keys`, counting only objects `matches`
/// accepts (quota scopes). Names nothing counts stay 0.
pub fn namespace_usage(
    store: &Store,
    ns: &str,
    keys: &BTreeSet<String>,
    matches: &dyn Fn(&str, &str, &Value) -> bool,
) -> Usage {
    let zero = Quantity::from_nano(0, QuantityFormat::DecimalSI);
    let mut usage: Usage = keys.iter().map(|k| (k.clone(), zero)).collect();
    let resources: BTreeSet<(String, String)> =
        keys.iter().filter_map(|k| resource_of(k)).collect();
    for (group, plural) in resources {
        let Some(entry) = store
            .registry
            .all()
            .into_iter()
            .find(|e| e.rt.group == group && e.rt.plural == plural && e.rt.namespaced)
        else {
            continue;
        };
        let snap = store
            .cache
            .snapshot(&entry.collection_prefix(Some(ns)), None);
        for obj in snap.values() {
            if !matches(&group, &plural, &obj) {
                continue;
            }
            for (k, q) in object_usage(&group, &plural, &obj) {
                if keys.contains(&k) {
                    add(&mut usage, &k, q);
                }
            }
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_usage_sums_containers_and_floors_init() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "200m"}}},
                {"resources": {"requests": {"cpu": "250m"}}},
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1"}}}],
        }});
        let u = object_usage("", "pods", &pod);
        assert_eq!(u["pods"].to_string(), "1");
        assert_eq!(u["count/pods"].to_string(), "1");
        assert_eq!(u["requests.cpu"].to_string(), "1");
        assert_eq!(u["cpu"].to_string(), "1");
        assert_eq!(u["requests.memory"].to_string(), "64Mi");
        assert_eq!(u["limits.cpu"].to_string(), "200m");
        let done = json!({"spec": {}, "status": {"phase": "Succeeded"}});
        assert!(object_usage("", "pods", &done).is_empty());
    }

    #[test]
    fn counts_and_services() {
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 1}, {"port": 2}]}});
        let u = object_usage("", "services", &svc);
        assert_eq!(u["services"].to_string(), "1");
        assert_eq!(u["services.nodeports"].to_string(), "2");
        let u = object_usage("apps", "deployments", &json!({}));
        assert_eq!(u.keys().collect::<Vec<_>>(), vec!["count/deployments.apps"]);
        assert_eq!(
            resource_of("count/deployments.apps"),
            Some(("apps".into(), "deployments".into()))
        );
        assert_eq!(
            resource_of("limits.memory"),
            Some((String::new(), "pods".into()))
        );
        assert_eq!(
            resource_of("requests.storage"),
            Some((String::new(), "persistentvolumeclaims".into()))
        );
    }
}
