//! Pod admission plugins: ServiceAccount (default account, projected API token volume), Priority
//! and DefaultTolerationSeconds, as upstream's `plugin/pkg/admission/{serviceaccount,priority,
//! defaulttolerationseconds}`.

use std::time::Duration;

use serde_json::{json, Map, Value};

use super::forbidden;
use crate::api::errors::ApiResult;
use crate::api::object::{random_suffix, ObjectMeta};
use crate::api::registry::ResourceEntry;
use crate::api::store::Store;

/// The account pods run as when they name none.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// Where the API token volume is mounted in every container.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Prefix of the projected token volume's name.
pub const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";
/// `ExpirationSeconds` of the projected token (upstream's `serviceaccount.Expiry`).
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// The ConfigMap holding the cluster CA in every namespace.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";

/// How long a pod waits for its namespace's `default` account to be made.
const DEFAULT_ACCOUNT_WAIT: Duration = Duration::from_secs(5);

/// The projected volume source upstream's `TokenVolumeSource` builds.
pub fn token_volume_source() -> Value {
    json!({
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": 420,
    })
}

async fn lookup_account(store: &Store, ns: &str, name: &str) -> Option<Value> {
    let key = format!("/registry/serviceaccounts/{ns}/{name}");
    if let Some(sa) = store.cache.get(&key) {
        return Some(sa);
    }
    // The namespace's `default` account is made right after the namespace; wait for it briefly.
    if name == DEFAULT_SERVICE_ACCOUNT {
        let deadline = tokio::time::Instant::now() + DEFAULT_ACCOUNT_WAIT;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(sa) = store.cache.get(&key) {
                return Some(sa);
            }
        }
    }
    None
}

/// ServiceAccount admission: the `default` account when none is named, the projected API token
/// volume mounted in every container unless automounting is off, and the account's image pull
/// secrets. Mirror pods are left alone.
pub async fn service_account(
    store: &Store,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    pod: &mut Value,
) -> ApiResult<()> {
    let mirror = pod
        .meta()
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get("kubernetes.io/config.mirror"))
        .is_some();
    if mirror || !pod.get("spec").is_some_and(Value::is_object) {
        return Ok(());
    }
    let spec = &mut pod["spec"];
    let mut sa_name = spec
        .get("serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if sa_name.is_empty() {
        sa_name = spec
            .get("serviceAccount")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(DEFAULT_SERVICE_ACCOUNT)
            .to_string();
    }
    spec["serviceAccountName"] = json!(sa_name);
    spec["serviceAccount"] = json!(sa_name);
    let Some(sa) = lookup_account(store, ns, &sa_name).await else {
        return Err(forbidden(
            res,
            name,
            &format!(
                "error looking up service account {ns}/{sa_name}: serviceaccount \"{sa_name}\" not found"
            ),
        ));
    };
    let automount = spec
        .get("automountServiceAccountToken")
        .and_then(Value::as_bool)
        .or_else(|| {
            sa.get("automountServiceAccountToken")
                .and_then(Value::as_bool)
        })
        .unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    let has_pull_secrets = spec
        .get("imagePullSecrets")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_pull_secrets {
        if let Some(secrets) = sa
            .get("imagePullSecrets")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        {
            spec["imagePullSecrets"] = Value::Array(secrets.clone());
        }
    }
    Ok(())
}

/// Adds the token volume and its mount to every (init) container without a mount at
/// [`TOKEN_MOUNT_PATH`], as upstream's `mountServiceAccountToken`.
fn mount_token(spec: &mut Value) {
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(TOKEN_VOLUME_PREFIX))
                .map(str::to_string)
        });
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{TOKEN_VOLUME_PREFIX}{}", random_suffix(5)));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needs_volume = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = c
                .entry("volumeMounts")
                .or_insert_with(|| Value::Array(vec![]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            let taken = mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH));
            if !taken {
                mounts.push(mount.clone());
                needs_volume = true;
            }
        }
    }
    if existing.is_none() && needs_volume {
        if let Some(spec) = spec.as_object_mut() {
            let volumes = spec
                .entry("volumes")
                .or_insert_with(|| Value::Array(vec![]));
            if let Some(vs) = volumes.as_array_mut() {
                vs.push(json!({"name": volume_name, "projected": token_volume_source()}));
            }
        }
    }
}

/// Priority classes every cluster has (upstream creates them at start-up).
const SYSTEM_PRIORITY_CLASSES: &[(&str, i64)] = &[
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

/// A priority class's value and preemption policy, from storage or the system classes.
fn priority_class(store: &Store, name: &str) -> Option<(i64, String)> {
    if let Some(pc) = store
        .cache
        .get(&format!("/registry/priorityclasses/{name}"))
    {
        let value = pc.get("value").and_then(Value::as_i64).unwrap_or(0);
        let policy = pc
            .get("preemptionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("PreemptLowerPriority")
            .to_string();
        return Some((value, policy));
    }
    SYSTEM_PRIORITY_CLASSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| (*v, "PreemptLowerPriority".to_string()))
}

/// The global default priority class, if one is marked `globalDefault`.
fn default_priority_class(store: &Store) -> Option<(String, i64, String)> {
    let snap = store.cache.snapshot("/registry/priorityclasses/", None);
    snap.values()
        .into_iter()
        .filter(|pc| pc.get("globalDefault").and_then(Value::as_bool) == Some(true))
        .min_by_key(|pc| pc.get("value").and_then(Value::as_i64).unwrap_or(0))
        .map(|pc| {
            (
                pc.name().to_string(),
                pc.get("value").and_then(Value::as_i64).unwrap_or(0),
                pc.get("preemptionPolicy")
                    .and_then(Value::as_str)
                    .unwrap_or("PreemptLowerPriority")
                    .to_string(),
            )
        })
}

/// Priority admission: `priority` and `preemptionPolicy` from the pod's class (or the global
/// default; 0 and `PreemptLowerPriority` without one).
pub fn priority(store: &Store, res: &ResourceEntry, name: &str, pod: &mut Value) -> ApiResult<()> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let class = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (value, policy) = if class.is_empty() {
        match default_priority_class(store) {
            Some((n, v, p)) => {
                spec.insert("priorityClassName".into(), json!(n));
                (v, p)
            }
            None => (0, "PreemptLowerPriority".to_string()),
        }
    } else {
        priority_class(store, &class).ok_or_else(|| {
            forbidden(
                res,
                name,
                &format!("no PriorityClass with name {class} was found"),
            )
        })?
    };
    if let Some(given) = spec.get("priority").and_then(Value::as_i64) {
        if given != value {
            return Err(forbidden(res, name, &format!("the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name")));
        }
    }
    spec.insert("priority".into(), json!(value));
    if let Some(given) = spec.get("preemptionPolicy").and_then(Value::as_str) {
        if given != policy {
            return Err(forbidden(res, name, &format!("the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name")));
        }
    }
    spec.insert("preemptionPolicy".into(), json!(policy));
    Ok(())
}

/// DefaultTolerationSeconds: tolerate `not-ready` and `unreachable` NoExecute taints for 300 s
/// unless the pod already tolerates them.
pub fn default_tolerations(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let tolerations = spec
        .entry("tolerations")
        .or_insert_with(|| Value::Array(vec![]));
    let Some(list) = tolerations.as_array_mut() else {
        return;
    };
    let tolerates = |list: &[Value], key: &str| {
        list.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let e = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key || k.is_empty()) && (e == "NoExecute" || e.is_empty())
        })
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        if !tolerates(list, key) {
            let mut t = Map::new();
            t.insert("key".into(), json!(key));
            t.insert("operator".into(), json!("Exists"));
            t.insert("effect".into(), json!("NoExecute"));
            t.insert("tolerationSeconds".into(), json!(300));
            list.push(Value::Object(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerations_added_once() {
        let mut pod = json!({"spec": {"containers": []}});
        default_tolerations(&mut pod);
        default_tolerations(&mut pod);
        let t = pod["spec"]["tolerations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["key"], "node.kubernetes.io/not-ready");
        assert_eq!(t[1]["tolerationSeconds"], 300);
        let mut wildcard = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        default_tolerations(&mut wildcard);
        assert_eq!(
            wildcard["spec"]["tolerations"].as_array().map(Vec::len),
            Some(1)
        );
    }

    #[test]
    fn token_mounted_in_every_container() {
        let mut spec = json!({"containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "x", "mountPath": TOKEN_MOUNT_PATH}]}], "initContainers": [{"name": "i"}]});
        mount_token(&mut spec);
        let vols = spec["volumes"].as_array().cloned().unwrap_or_default();
        assert_eq!(vols.len(), 1);
        let name = vols[0]["name"].as_str().unwrap_or("");
        assert!(
            name.starts_with(TOKEN_VOLUME_PREFIX) && name.len() == TOKEN_VOLUME_PREFIX.len() + 5
        );
        assert_eq!(spec["containers"][0]["volumeMounts"][0]["name"], name);
        assert_eq!(
            spec["containers"][1]["volumeMounts"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        assert_eq!(
            spec["initContainers"][0]["volumeMounts"][0]["readOnly"],
            true
        );
        assert_eq!(
            vols[0]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
    }
}
