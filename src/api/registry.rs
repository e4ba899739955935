//! The registry of served resources: each a [`ResourceType`] with its [`Strategy`] and storage prefix.

use std::sync::Arc;

use parking_lot::RwLock;

use super::builtin::builtin_resources;
use super::convert::{self, Conversion};
use super::resource::ResourceType;
use super::strategy::Strategy;

/// A served resource: its data, its strategy and where its objects are stored.
#[derive(Debug)]
pub struct ResourceEntry {
    /// The resource type.
    pub rt: ResourceType,
    /// Its per-kind behaviour.
    pub strategy: Strategy,
    /// Storage prefix ending in `/`, e.g. `/registry/configmaps/`.
    pub prefix: String,
    /// Set when objects are stored in another version of the same resource (which then
    /// shares the prefix): how to convert to and from it.
    pub conversion: Option<Conversion>,
}

impl ResourceEntry {
    /// The storage key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.rt.namespaced => format!("{}{}/{}", self.prefix, ns, name),
            _ => format!("{}{}", self.prefix, name),
        }
    }

    /// The storage prefix of a collection: one namespace, or all of them.
    pub fn collection_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.rt.namespaced => format!("{}{}/", self.prefix, ns),
            _ => self.prefix.clone(),
        }
    }
}

/// Storage prefix of a built-in resource, as upstream lays out etcd.
fn builtin_prefix(rt: &ResourceType) -> String {
    match (rt.group.as_str(), rt.plural.as_str()) {
        // Kept apart from core events, whose shape differs (no conversion yet).
        ("events.k8s.io", p) => format!("/registry/events.k8s.io/{p}/"),
        ("apiextensions.k8s.io", p) => format!("/registry/apiextensions.k8s.io/{p}/"),
        ("", "services") => "/registry/services/specs/".to_string(),
        ("", "endpoints") => "/registry/services/endpoints/".to_string(),
        ("", "nodes") => "/registry/minions/".to_string(),
        ("", "replicationcontrollers") => "/registry/controllers/".to_string(),
        ("", "pods") | ("", "namespaces") | ("", "configmaps") | ("", "secrets") => {
            format!("/registry/{}/", rt.plural)
        }
        (_, p) => format!("/registry/{p}/"),
    }
}

/// All served resources, shared and updatable (CRDs add to it).
#[derive(Default)]
pub struct Registry {
    entries: RwLock<Vec<Arc<ResourceEntry>>>,
}

impl Registry {
    /// A registry of the built-in resources.
    pub fn builtin() -> Registry {
        let entries = builtin_resources()
            .into_iter()
            .map(|rt| {
                Arc::new(ResourceEntry {
                    strategy: Strategy::for_builtin(&rt),
                    prefix: builtin_prefix(&rt),
                    conversion: convert::builtin(&rt.group, &rt.version, &rt.kind),
                    rt,
                })
            })
            .collect();
        Registry {
            entries: RwLock::new(entries),
        }
    }

    /// Adds built-in resource types that are not in every server (e.g. `metrics.k8s.io`).
    pub fn add_builtin(&self, types: Vec<ResourceType>) {
        let mut entries = self.entries.write();
        for rt in types {
            entries.push(Arc::new(ResourceEntry {
                strategy: Strategy::for_builtin(&rt),
                prefix: builtin_prefix(&rt),
                conversion: convert::builtin(&rt.group, &rt.version, &rt.kind),
                rt,
            }));
        }
    }

    /// Replaces the custom resources (those served for CRDs) with `custom`.
    pub fn set_custom(&self, custom: Vec<Arc<ResourceEntry>>) {
        let mut entries = self.entries.write();
        entries.retain(|e| e.strategy.custom.is_none());
        entries.extend(custom);
    }

    /// Every served resource.
    pub fn all(&self) -> Vec<Arc<ResourceEntry>> {
        self.entries.read().clone()
    }

    /// The entry whose strategy, defaults and validation apply to writes of `res`: the entry of
    /// its storage version when it is converted, else `res` itself.
    pub fn storage_entry(&self, res: &Arc<ResourceEntry>) -> Arc<ResourceEntry> {
        res.conversion
            .and_then(|c| self.find(&res.rt.group, c.storage_version, &res.rt.plural))
            .unwrap_or_else(|| res.clone())
    }

    /// The resource served at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceEntry>> {
        self.entries
            .read()
            .iter()
            .find(|e| e.rt.group == group && e.rt.version == version && e.rt.plural == plural)
            .cloned()
    }

    /// True when some resource is served in `group/version`.
    pub fn serves_group_version(&self, group: &str, version: &str) -> bool {
        self.entries
            .read()
            .iter()
            .any(|e| e.rt.group == group && e.rt.version == version)
    }

    /// The namespaced resources (for namespace cleanup).
    pub fn namespaced(&self) -> Vec<Arc<ResourceEntry>> {
        self.entries
            .read()
            .iter()
            .filter(|e| e.rt.namespaced)
            .cloned()
            .collect()
    }
}
