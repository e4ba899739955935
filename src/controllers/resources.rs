//! Discovery for controllers: which resources the API serves, found through `kube::discovery`
//! the way client-go's discovery client is used by upstream controllers.

use std::collections::HashMap;

use kube::api::{Api, DynamicObject, PartialObjectMeta};
use kube::discovery::{verbs, ApiCapabilities, ApiResource, Discovery, Scope};
use kube::Client;

/// One served resource with what a controller needs to reach it.
#[derive(Clone, Debug)]
pub struct Served {
    /// Group, version, kind and plural.
    pub ar: ApiResource,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Verbs the resource supports.
    pub verbs: Vec<String>,
}

impl Served {
    /// A stable key for the resource: `group/version/plural`.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.ar.group, self.ar.version, self.ar.plural)
    }

    /// Whether every verb in `wanted` is supported.
    pub fn supports(&self, wanted: &[&str]) -> bool {
        wanted.iter().all(|w| self.verbs.iter().any(|v| v == w))
    }

    /// A metadata-only client (`PartialObjectMetadata`) for this resource in all namespaces.
    pub fn metadata_api(&self, client: &Client) -> Api<PartialObjectMeta<DynamicObject>> {
        Api::all_with(client.clone(), &self.ar)
    }

    /// A dynamic client for this resource, in `namespace` when it is namespaced.
    pub fn api(&self, client: &Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace.filter(|_| self.namespaced) {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.ar),
            None => Api::all_with(client.clone(), &self.ar),
        }
    }
}

/// Every resource the API serves in its preferred version (subresources excluded).
#[derive(Clone, Debug, Default)]
pub struct Resources {
    /// All served resources.
    pub all: Vec<Served>,
    by_kind: HashMap<(String, String), usize>,
    by_version_kind: HashMap<(String, String), usize>,
}

impl Resources {
    /// Runs discovery against the API server.
    pub async fn discover(client: &Client) -> Result<Resources, kube::Error> {
        let discovery = Discovery::new(client.clone()).run().await?;
        let mut out = Resources::default();
        for group in discovery.groups() {
            let preferred = group.preferred_version_or_latest().to_string();
            for version in group.versions().map(str::to_string).collect::<Vec<_>>() {
                for (ar, caps) in group.versioned_resources(&version) {
                    out.push(ar, &caps, version == preferred);
                }
            }
        }
        Ok(out)
    }

    fn push(&mut self, ar: ApiResource, caps: &ApiCapabilities, preferred: bool) {
        let idx = self.all.len();
        self.by_version_kind
            .insert((ar.api_version.clone(), ar.kind.clone()), idx);
        if preferred {
            self.by_kind
                .insert((ar.group.clone(), ar.kind.clone()), idx);
        } else {
            self.by_kind
                .entry((ar.group.clone(), ar.kind.clone()))
                .or_insert(idx);
        }
        self.all.push(Served {
            namespaced: caps.scope == Scope::Namespaced,
            verbs: caps.operations.clone(),
            ar,
        });
    }

    /// Resources in their preferred version only (what controllers list and watch).
    pub fn preferred(&self) -> impl Iterator<Item = &Served> {
        let mut seen: Vec<usize> = self.by_kind.values().copied().collect();
        seen.sort_unstable();
        seen.into_iter().filter_map(|i| self.all.get(i))
    }

    /// The resource for an `apiVersion` and `kind` (as written in an ownerReference); another
    /// served version of the same group and kind when that exact version is not served.
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Option<&Served> {
        if let Some(i) = self
            .by_version_kind
            .get(&(api_version.to_string(), kind.to_string()))
        {
            return self.all.get(*i);
        }
        let group = api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or_default();
        self.by_kind
            .get(&(group.to_string(), kind.to_string()))
            .and_then(|i| self.all.get(*i))
    }
}

/// Verbs the garbage collector needs of a resource to track it.
pub const GC_VERBS: &[&str] = &[verbs::LIST, verbs::WATCH, verbs::DELETE, verbs::GET];
