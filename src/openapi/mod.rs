//! OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/<group-version>`) and strict field
//! validation driven by the same schemas.
//!
//! Nothing is generated up front: each document is built on its first request and cached
//! (one `OnceLock` per path), and the schema trees used by [`OpenApi::validate_fields`] are
//! compiled per kind on first use. `/openapi/v2` is not served (404).

mod custom;
mod document;
mod patchmeta;
mod registry;
mod validate;

pub use validate::duplicate_fields;

use crate::api::resource::ResourceType;
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

/// A custom resource kind documented from its CRD's `openAPIV3Schema`.
#[derive(Clone, Debug)]
pub struct CustomSchema {
    /// The served resource (its `schema_name` names the definition).
    pub rt: ResourceType,
    /// The version's `openAPIV3Schema`.
    pub schema: Value,
}

/// One served OpenAPI v3 document.
#[derive(Clone, Debug)]
pub struct Document {
    /// The document as compact JSON.
    pub body: Bytes,
    /// Uppercase hex SHA-512 of `body`, as upstream's `?hash=` and ETag.
    pub hash: String,
}

impl Document {
    fn new(value: &Value) -> Self {
        let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        let hash = format!("{:X}", Sha512::digest(&body));
        Document { body, hash }
    }
}

/// Which document a path serves.
#[derive(Debug)]
enum Spec {
    /// `api`: the core API versions.
    CoreVersions,
    /// `apis`: the group list.
    Groups,
    /// `apis/<group>`: one group.
    Group(String),
    /// `version`: the server version.
    Version,
    /// `api/v1`, `apis/<group>/<version>`: a group-version's resources.
    GroupVersion { group: String, version: String },
}

#[derive(Debug)]
struct Entry {
    /// Path under `/openapi/v3/`, e.g. `apis/apps/v1`.
    key: String,
    spec: Spec,
    doc: OnceLock<Arc<Document>>,
}

/// The OpenAPI v3 service: the built-in resource types plus the custom kinds set by the CRD
/// controller. `Send + Sync`; share via `Arc`.
pub struct OpenApi {
    builtin: Vec<ResourceType>,
    state: RwLock<Arc<State>>,
    validator: validate::Validator,
}

/// One generation of documents (replaced whenever the custom kinds change).
struct State {
    resources: Vec<ResourceType>,
    custom: Vec<CustomSchema>,
    entries: Vec<Entry>,
    index: OnceLock<Value>,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.read().clone();
        f.debug_struct("OpenApi")
            .field(
                "paths",
                &state.entries.iter().map(|e| &e.key).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl State {
    fn new(resources: Vec<ResourceType>, custom: Vec<CustomSchema>) -> State {
        let mut groups = BTreeSet::new();
        let mut group_versions = BTreeSet::new();
        let documented = resources
            .iter()
            .filter(|r| document::documentable(r))
            .chain(custom.iter().map(|c| &c.rt));
        for r in documented {
            if !r.group.is_empty() {
                groups.insert(r.group.clone());
            }
            group_versions.insert((r.group.clone(), r.version.clone()));
        }
        let mut entries = vec![
            Entry::new("api".into(), Spec::CoreVersions),
            Entry::new("apis".into(), Spec::Groups),
            Entry::new("version".into(), Spec::Version),
        ];
        for g in groups {
            entries.push(Entry::new(format!("apis/{g}"), Spec::Group(g)));
        }
        for (group, version) in group_versions {
            let key = if group.is_empty() {
                format!("api/{version}")
            } else {
                format!("apis/{group}/{version}")
            };
            entries.push(Entry::new(key, Spec::GroupVersion { group, version }));
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        State {
            resources,
            custom,
            entries,
            index: OnceLock::new(),
        }
    }
}

impl OpenApi {
    /// Prepares the service for `resources`. Cheap: documents are built on first request.
    /// Resources whose `schema_name` has no registered schema are left out of the documents.
    pub fn new(resources: Vec<ResourceType>) -> Self {
        OpenApi {
            state: RwLock::new(Arc::new(State::new(resources.clone(), Vec::new()))),
            builtin: resources,
            validator: validate::Validator::default(),
        }
    }

    /// Replaces the custom kinds documented (from the served CRDs); documents are rebuilt lazily
    /// and the index hashes change with them.
    pub fn set_custom(&self, custom: Vec<CustomSchema>) {
        let mut resources = self.builtin.clone();
        resources.extend(custom.iter().map(|c| c.rt.clone()));
        *self.state.write() = Arc::new(State::new(resources, custom));
    }

    /// The body of `GET /openapi/v3`:
    /// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`.
    /// Building it builds (and caches) every document, since the hashes need them.
    pub fn index(&self) -> Value {
        let state = self.state.read().clone();
        state
            .index
            .get_or_init(|| {
                let mut paths = Map::new();
                for e in &state.entries {
                    let doc = state.build(e);
                    paths.insert(
                        e.key.clone(),
                        json!({ "serverRelativeURL": format!("/openapi/v3/{}?hash={}", e.key, doc.hash) }),
                    );
                }
                json!({ "paths": paths })
            })
            .clone()
    }

    /// The document served at `/openapi/v3/<path>` (`api/v1`, `apis/apps/v1`, `apis/apps`,
    /// `api`, `apis`, `version`), or `None` for an unknown path. Leading and trailing slashes
    /// are ignored; the `?hash=` query is the caller's business.
    pub fn document(&self, path: &str) -> Option<Arc<Document>> {
        let key = path.trim_matches('/');
        let state = self.state.read().clone();
        let entry = state.entries.iter().find(|e| e.key == key)?;
        Some(state.build(entry))
    }

    /// The unknown-field messages for `obj` checked against the schema `schema_name`
    /// (`io.k8s.api.apps.v1.Deployment`), formatted as upstream's strict decoder does:
    /// `unknown field "spec.template.spec.containers[0].bogus"`, in document order. Map keys
    /// (`data`, `labels`) are never unknown, nor is anything under
    /// `x-kubernetes-preserve-unknown-fields` or raw extensions. Empty when the schema is not
    /// registered. The compiled schema tree is cached per kind.
    pub fn validate_fields(&self, schema_name: &str, obj: &Value) -> Vec<String> {
        self.validator.validate(schema_name, obj)
    }
}

impl State {
    fn build(&self, entry: &Entry) -> Arc<Document> {
        entry
            .doc
            .get_or_init(|| Arc::new(Document::new(&self.generate(&entry.spec))))
            .clone()
    }

    fn generate(&self, spec: &Spec) -> Value {
        match spec {
            Spec::CoreVersions => document::discovery(
                "/api/",
                "getCoreAPIVersions",
                "core",
                "get available API versions",
                "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
            ),
            Spec::Groups => document::discovery(
                "/apis/",
                "getAPIVersions",
                "apis",
                "get available API versions",
                "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
            ),
            Spec::Group(group) => {
                let og = document::op_group(group);
                let mut tag = og.clone();
                if let Some(first) = og.get(..1) {
                    tag = first.to_lowercase() + &og[1..];
                }
                document::discovery(
                    &format!("/apis/{group}/"),
                    &format!("get{og}APIGroup"),
                    &tag,
                    "get information of a group",
                    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
                )
            }
            Spec::Version => document::discovery(
                "/version/",
                "getCodeVersion",
                "version",
                "get the version information for this server",
                "io.k8s.apimachinery.pkg.version.Info",
            ),
            Spec::GroupVersion { group, version } => {
                let rs: Vec<&ResourceType> = self
                    .resources
                    .iter()
                    .filter(|r| &r.group == group && &r.version == version)
                    .collect();
                let mut extra = Map::new();
                for c in self
                    .custom
                    .iter()
                    .filter(|c| &c.rt.group == group && &c.rt.version == version)
                {
                    custom::custom_definitions(&c.rt, &c.schema, &mut extra);
                }
                document::group_version(group, version, &rs, &extra)
            }
        }
    }
}

impl Entry {
    fn new(key: String, spec: Spec) -> Self {
        Entry {
            key,
            spec,
            doc: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests;
