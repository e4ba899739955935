//! Definitions of custom kinds (from CRDs' `openAPIV3Schema`) for the group-version documents.

use super::document::{list_schema_name, schema_ref};
use super::registry;
use crate::api::resource::ResourceType;
use serde_json::{json, Map, Value};

/// The ObjectMeta definition custom kinds refer to.
pub(crate) const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// The ListMeta definition custom list kinds refer to.
pub(crate) const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

/// Adds the definitions of a custom kind (from its CRD's `openAPIV3Schema`) and its list kind.
pub(crate) fn custom_definitions(rt: &ResourceType, schema: &Value, out: &mut Map<String, Value>) {
    let mut s = schema.clone();
    if let Some(o) = s.as_object_mut() {
        let props = o
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(p) = props.as_object_mut() {
            p.insert("apiVersion".into(), json!({
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
                "type": "string",
            }));
            p.insert("kind".into(), json!({
                "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
                "type": "string",
            }));
            p.insert("metadata".into(), json!({
                "allOf": [schema_ref(OBJECT_META)],
                "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
            }));
            let mut sorted: Vec<(String, Value)> = std::mem::take(p).into_iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            *p = sorted.into_iter().collect();
        }
    }
    out.insert(rt.schema_name.clone(), s);
    let list = registry::list_schema(&rt.kind, schema_ref(&rt.schema_name), schema_ref(LIST_META));
    out.insert(list_schema_name(rt), list);
}
