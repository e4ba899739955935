//! Mapping from OpenAPI definition names to the k8s-openapi types that generate their schemas.
//!
//! k8s-openapi has no registry of its types, so the kinds are listed here once. List kinds
//! (`<Kind>List`) are derived from their item kind and need no entry of their own.

use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::version;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};
use std::borrow::Cow;

/// One registered type: its definition name and a function adding its schema to a generator.
struct Entry {
    name: fn() -> Cow<'static, str>,
    add: fn(&mut SchemaGenerator) -> Schema,
}

fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// Lists the types with a schema, one per line. Adding a kind is adding one line; its list
/// kind comes for free.
macro_rules! schema_registry {
    ($($ty:ty),* $(,)?) => {
        static REGISTRY: &[Entry] = &[
            $(Entry { name: <$ty as JsonSchema>::schema_name, add: add::<$ty> },)*
        ];
    };
}

schema_registry! {
    // core/v1
    core::v1::Namespace,
    core::v1::Pod,
    core::v1::Service,
    core::v1::Endpoints,
    core::v1::ConfigMap,
    core::v1::Secret,
    core::v1::ServiceAccount,
    core::v1::Node,
    core::v1::Event,
    core::v1::PersistentVolume,
    core::v1::PersistentVolumeClaim,
    core::v1::LimitRange,
    core::v1::ResourceQuota,
    core::v1::PodTemplate,
    core::v1::ReplicationController,
    // apps/v1
    apps::v1::Deployment,
    apps::v1::ReplicaSet,
    apps::v1::StatefulSet,
    apps::v1::DaemonSet,
    apps::v1::ControllerRevision,
    // authentication.k8s.io/v1, authorization.k8s.io/v1
    authentication::v1::TokenReview,
    authentication::v1::SelfSubjectReview,
    authorization::v1::LocalSubjectAccessReview,
    authorization::v1::SelfSubjectAccessReview,
    authorization::v1::SelfSubjectRulesReview,
    authorization::v1::SubjectAccessReview,
    // batch/v1
    batch::v1::Job,
    batch::v1::CronJob,
    // coordination.k8s.io/v1
    coordination::v1::Lease,
    // discovery.k8s.io/v1
    discovery::v1::EndpointSlice,
    // events.k8s.io/v1
    events::v1::Event,
    // networking.k8s.io/v1
    networking::v1::Ingress,
    networking::v1::IngressClass,
    networking::v1::NetworkPolicy,
    // storage.k8s.io/v1
    storage::v1::StorageClass,
    storage::v1::CSIDriver,
    storage::v1::CSINode,
    storage::v1::VolumeAttachment,
    storage::v1::CSIStorageCapacity,
    // rbac.authorization.k8s.io/v1
    rbac::v1::Role,
    rbac::v1::ClusterRole,
    rbac::v1::RoleBinding,
    rbac::v1::ClusterRoleBinding,
    // policy/v1
    policy::v1::PodDisruptionBudget,
    // scheduling.k8s.io/v1
    scheduling::v1::PriorityClass,
    // autoscaling/v2 and v1
    autoscaling::v2::HorizontalPodAutoscaler,
    autoscaling::v1::HorizontalPodAutoscaler,
    // certificates.k8s.io/v1
    certificates::v1::CertificateSigningRequest,
    // node.k8s.io/v1
    node::v1::RuntimeClass,
    // admissionregistration.k8s.io/v1
    admissionregistration::v1::ValidatingWebhookConfiguration,
    admissionregistration::v1::MutatingWebhookConfiguration,
    admissionregistration::v1::ValidatingAdmissionPolicy,
    admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    // apiextensions.k8s.io/v1
    apiextensions::CustomResourceDefinition,
    // Subresource kinds.
    autoscaling::v1::Scale,
    // Machinery every document carries.
    meta::Status,
    meta::DeleteOptions,
    meta::WatchEvent<core::v1::ConfigMap>,
    meta::Patch,
    meta::APIResourceList,
    meta::APIGroup,
    meta::APIGroupList,
    meta::APIVersions,
    meta::ListMeta,
    meta::ObjectMeta,
    version::Info,
}

fn lookup(name: &str) -> Option<&'static Entry> {
    REGISTRY.iter().find(|e| (e.name)() == name)
}

/// True when `name` (a kind or a derived list kind) has a registered schema.
pub(crate) fn is_known(name: &str) -> bool {
    lookup(name).is_some() || list_item(name).is_some()
}

/// The item kind's entry when `name` is a derived list kind (`...DeploymentList`).
fn list_item(name: &str) -> Option<&'static Entry> {
    let item = name.strip_suffix("List")?;
    lookup(item)
}

/// A fresh generator producing OpenAPI 3.0 schemas with refs to `#/components/schemas/<name>`
/// (a `$ref` with siblings becomes `allOf: [{$ref}]`, as upstream writes it).
pub(crate) fn generator() -> SchemaGenerator {
    schemars::generate::SchemaSettings::openapi3().into_generator()
}

/// Adds the schema named `name` and everything it references to `generator`'s definitions.
/// Returns false when the name is unknown.
pub(crate) fn add_definition(generator: &mut SchemaGenerator, name: &str) -> bool {
    if let Some(entry) = lookup(name) {
        (entry.add)(generator);
        return true;
    }
    let Some(item) = list_item(name) else {
        return false;
    };
    if generator.definitions().contains_key(name) {
        return true;
    }
    let item_ref = (item.add)(generator);
    let list_meta_ref = generator.subschema_for::<meta::ListMeta>();
    let item_kind = (item.name)();
    let item_kind = item_kind.rsplit('.').next().unwrap_or_default().to_string();
    let schema = list_schema(&item_kind, item_ref.to_value(), list_meta_ref.to_value());
    generator.definitions_mut().insert(name.to_string(), schema);
    true
}

/// The schema of `<kind>List`, shaped like upstream's list kinds.
pub(crate) fn list_schema(kind: &str, item_ref: Value, list_meta_ref: Value) -> Value {
    let mut metadata = list_meta_ref;
    if let Some(obj) = metadata.as_object_mut() {
        obj.insert(
            "description".into(),
            "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds".into(),
        );
    }
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            },
            "items": {
                "description": format!("Items is the list of {kind} objects."),
                "type": "array",
                "items": item_ref,
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            },
            "metadata": metadata,
        },
        "required": ["items"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_cover_builtin_kinds() {
        let mut names: Vec<String> = REGISTRY.iter().map(|e| (e.name)().into_owned()).collect();
        let total = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), total);
        for r in crate::api::builtin::builtin_resources() {
            assert!(is_known(&r.schema_name), "{}", r.schema_name);
            assert!(is_known(&format!("{}List", r.schema_name)));
        }
    }

    #[test]
    fn list_kind_definition_references_item_and_list_meta() {
        let mut g = generator();
        assert!(add_definition(&mut g, "io.k8s.api.apps.v1.DeploymentList"));
        let defs = g.take_definitions(true);
        let list = &defs["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.Deployment"
        );
        assert!(defs.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"));
        assert!(!add_definition(&mut g, "io.k8s.api.nothing.v1.Nope"));
    }
}
