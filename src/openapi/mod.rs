//! OpenAPI v3 documents (`/openapi/v3`, `/openapi/v3/<group-version>`) and strict field
//! validation driven by the same schemas.
//!
//! Nothing is generated up front: each document is built on its first request and cached
//! (one `OnceLock` per path), and the schema trees used by [`OpenApi::validate_fields`] are
//! compiled per kind on first use. `/openapi/v2` is not served (404).

mod document;
mod patchmeta;
mod registry;
mod validate;

pub use validate::duplicate_fields;

use crate::api::resource::ResourceType;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};
use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

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

/// The OpenAPI v3 service for a fixed set of resource types. `Send + Sync`; share via `Arc`.
pub struct OpenApi {
    resources: Vec<ResourceType>,
    entries: Vec<Entry>,
    index: OnceLock<Value>,
    validator: validate::Validator,
}

impl std::fmt::Debug for OpenApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenApi")
            .field(
                "paths",
                &self.entries.iter().map(|e| &e.key).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl OpenApi {
    /// Prepares the service for `resources`. Cheap: documents are built on first request.
    /// Resources whose `schema_name` has no registered schema are left out of the documents.
    pub fn new(resources: Vec<ResourceType>) -> Self {
        let mut groups = BTreeSet::new();
        let mut group_versions = BTreeSet::new();
        for r in resources.iter().filter(|r| document::documentable(r)) {
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
        OpenApi {
            resources,
            entries,
            index: OnceLock::new(),
            validator: validate::Validator::default(),
        }
    }

    /// The body of `GET /openapi/v3`:
    /// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=<HASH>"}, ...}}`.
    /// Building it builds (and caches) every document, since the hashes need them.
    pub fn index(&self) -> Value {
        self.index
            .get_or_init(|| {
                let mut paths = Map::new();
                for e in &self.entries {
                    let doc = self.build(e);
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
        let entry = self.entries.iter().find(|e| e.key == key)?;
        Some(self.build(entry))
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
                document::group_version(group, version, &rs)
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
