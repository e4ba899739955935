//! A container's environment as upstream's `makeEnvironmentVariables`: `envFrom` ConfigMaps and
//! Secrets first (with `prefix`, invalid names skipped), then `env` entries in order (`value`
//! with `$(VAR)` expansion, `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`,
//! `optional` honoured), then the service link variables ([`super::service_env`]) not defined
//! otherwise (they can be used in `$(VAR)` too). The ConfigMaps, Secrets and Services are
//! fetched first ([`fetch`]) so the resolution itself ([`resolve`]) is pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret};
use kube::{Api, Client};

use super::downward::{field_value, resource_value, PodRuntimeInfo};

/// Why a container's environment cannot be made (the container waits with
/// `CreateContainerConfigError` and this message, as upstream).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    /// A referenced ConfigMap or Secret does not exist (`configmap "x" not found`).
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        /// `configmap` or `secret`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// A referenced key is missing.
    #[error("couldn't find key {key} in {kind} {namespace}/{name}")]
    MissingKey {
        /// `ConfigMap` or `Secret`.
        kind: &'static str,
        /// The key.
        key: String,
        /// The pod's namespace.
        namespace: String,
        /// The object's name.
        name: String,
    },
    /// A `fieldRef` or `resourceFieldRef` that cannot be resolved.
    #[error("{0}")]
    Field(String),
    /// Fetching a ConfigMap or Secret failed.
    #[error("{0}")]
    Api(String),
}

/// The ConfigMaps and Secrets a container's environment refers to (`None`: not found).
#[derive(Clone, Debug, Default)]
pub struct EnvSources {
    /// ConfigMap name → its `data`.
    pub config_maps: HashMap<String, Option<BTreeMap<String, String>>>,
    /// Secret name → its decoded `data` (as UTF-8, lossy).
    pub secrets: HashMap<String, Option<BTreeMap<String, String>>>,
    /// Service link variables.
    pub services: Vec<(String, String)>,
}

/// The names of the ConfigMaps and Secrets `c` refers to in `env` and `envFrom`.
pub fn referenced(c: &Container) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    for e in c.env_from.iter().flatten() {
        if let Some(r) = &e.config_map_ref {
            cms.insert(r.name.clone());
        }
        if let Some(r) = &e.secret_ref {
            secrets.insert(r.name.clone());
        }
    }
    for e in c.env.iter().flatten() {
        let Some(from) = &e.value_from else { continue };
        if let Some(r) = &from.config_map_key_ref {
            cms.insert(r.name.clone());
        }
        if let Some(r) = &from.secret_key_ref {
            secrets.insert(r.name.clone());
        }
    }
    (cms, secrets)
}

/// Fetches what `c`'s environment refers to, from the pod's namespace.
pub async fn fetch(client: &Client, pod: &Pod, c: &Container) -> Result<EnvSources, EnvError> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let (cm_names, secret_names) = referenced(c);
    let mut out = EnvSources::default();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for name in cm_names {
        let cm = cms
            .get_opt(&name)
            .await
            .map_err(|e| EnvError::Api(e.to_string()))?;
        out.config_maps
            .insert(name, cm.map(|cm| cm.data.unwrap_or_default()));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    for name in secret_names {
        let s = secrets
            .get_opt(&name)
            .await
            .map_err(|e| EnvError::Api(e.to_string()))?;
        out.secrets.insert(name, s.map(secret_strings));
    }
    out.services = super::service_env::fetch(client, pod)
        .await
        .map_err(|e| EnvError::Api(e.to_string()))?;
    Ok(out)
}

/// A Secret's `data` (and `stringData`, should a client have stored it) as strings.
pub fn secret_strings(s: Secret) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = s
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    out.extend(s.string_data.unwrap_or_default());
    out
}

/// Upstream's `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let ok = |c: char, first: bool| {
        c == '-'
            || c == '.'
            || c == '_'
            || c.is_ascii_alphabetic()
            || (!first && c.is_ascii_digit())
    };
    match chars.next() {
        Some(c) if ok(c, true) => chars.all(|c| ok(c, false)),
        _ => false,
    }
}

/// The environment of `c`, in order (`envFrom` entries sorted by name, then `env`), later
/// entries replacing earlier ones of the same name.
pub fn resolve(
    pod: &Pod,
    c: &Container,
    info: &PodRuntimeInfo,
    sources: &EnvSources,
) -> Result<Vec<(String, String)>, EnvError> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, k: String, v: String| {
        out.retain(|(n, _)| n != &k);
        out.push((k, v));
    };
    for e in c.env_from.iter().flatten() {
        let prefix = e.prefix.clone().unwrap_or_default();
        let data = if let Some(r) = &e.config_map_ref {
            match sources.config_maps.get(&r.name).cloned().flatten() {
                Some(d) => d,
                None if r.optional == Some(true) => continue,
                None => return Err(not_found("configmap", &r.name)),
            }
        } else if let Some(r) = &e.secret_ref {
            match sources.secrets.get(&r.name).cloned().flatten() {
                Some(d) => d,
                None if r.optional == Some(true) => continue,
                None => return Err(not_found("secret", &r.name)),
            }
        } else {
            continue;
        };
        for (k, v) in data {
            let name = format!("{prefix}{k}");
            if is_env_var_name(&name) {
                set(&mut out, name, v);
            } else {
                tracing::debug!(
                    name,
                    "kubelet: skipping an invalid environment variable name"
                );
            }
        }
    }
    for e in c.env.iter().flatten() {
        let value = if let Some(from) = &e.value_from {
            if let Some(f) = &from.field_ref {
                field_value(pod, &f.field_path, info).ok_or_else(|| {
                    EnvError::Field(format!("unsupported fieldPath: {}", f.field_path))
                })?
            } else if let Some(r) = &from.resource_field_ref {
                let container = r.container_name.clone().filter(|n| !n.is_empty());
                let container = container.unwrap_or_else(|| c.name.clone());
                resource_value(pod, &container, r, info).map_err(EnvError::Field)?
            } else if let Some(r) = &from.config_map_key_ref {
                let optional = r.optional == Some(true);
                let data = match sources.config_maps.get(&r.name).cloned().flatten() {
                    Some(d) => d,
                    None if optional => continue,
                    None => return Err(not_found("configmap", &r.name)),
                };
                match data.get(&r.key) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => return Err(missing_key("ConfigMap", &r.key, &ns, &r.name)),
                }
            } else if let Some(r) = &from.secret_key_ref {
                let optional = r.optional == Some(true);
                let data = match sources.secrets.get(&r.name).cloned().flatten() {
                    Some(d) => d,
                    None if optional => continue,
                    None => return Err(not_found("secret", &r.name)),
                };
                match data.get(&r.key) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => return Err(missing_key("Secret", &r.key, &ns, &r.name)),
                }
            } else {
                String::new()
            }
        } else {
            let mut vars: HashMap<&str, &str> = sources
                .services
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            vars.extend(out.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            expand(e.value.as_deref().unwrap_or_default(), &vars)
        };
        set(&mut out, e.name.clone(), value);
    }
    for (k, v) in &sources.services {
        if !out.iter().any(|(n, _)| n == k) {
            out.push((k.clone(), v.clone()));
        }
    }
    Ok(out)
}

fn not_found(kind: &'static str, name: &str) -> EnvError {
    EnvError::NotFound {
        kind,
        name: name.to_string(),
    }
}

fn missing_key(kind: &'static str, key: &str, namespace: &str, name: &str) -> EnvError {
    EnvError::MissingKey {
        kind,
        key: key.to_string(),
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

/// Upstream's `$(VAR)` expansion: defined variables are replaced, `$$` is a literal `$`,
/// anything else stays as written.
pub fn expand(input: &str, vars: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match vars.get(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
