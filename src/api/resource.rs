//! Resource types as data: what the generic store needs to know to serve a kind.

/// A subresource such as `status` or `scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subresource {
    /// Name as it appears in the URL (`status`, `scale`, `log`, ...).
    pub name: String,
    /// Group of the kind it returns (`autoscaling` for scale).
    pub group: String,
    /// Version of the kind it returns.
    pub version: String,
    /// Kind it returns (`Scale` for scale, the parent kind for status).
    pub kind: String,
    /// Verbs served on it.
    pub verbs: Vec<String>,
}

/// One served resource: group/version/kind, its URL name, scope and discovery metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `ConfigMap`.
    pub kind: String,
    /// Kind of the list, e.g. `ConfigMapList`.
    pub list_kind: String,
    /// Plural resource name used in URLs, e.g. `configmaps`.
    pub plural: String,
    /// Singular name, e.g. `configmap`.
    pub singular: String,
    /// True for namespaced kinds.
    pub namespaced: bool,
    /// Short names, e.g. `cm`.
    pub short_names: Vec<String>,
    /// Categories, e.g. `all`.
    pub categories: Vec<String>,
    /// Verbs served on the collection and items.
    pub verbs: Vec<String>,
    /// Subresources.
    pub subresources: Vec<Subresource>,
    /// OpenAPI definition name of the kind's schema, e.g. `io.k8s.api.core.v1.ConfigMap`
    /// (empty for kinds without a built-in schema).
    pub schema_name: String,
}

impl ResourceType {
    /// `apiVersion` as written in objects: `v1` for core, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `group/resource` name used in error messages and storage keys (`deployments.apps`).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// True when the subresource `name` is served.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }
}
