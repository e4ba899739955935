//! Components: the schema definitions reachable from a document's roots (with upstream's
//! extensions), `$ref`s to them, and the document skeleton around paths and schemas.

use super::super::{patchmeta, registry};
use super::KUBERNETES_VERSION;
use serde_json::{json, Map, Value};

const REF_PREFIX: &str = "#/components/schemas/";
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// A `$ref` to the component schema `name`.
pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}

/// The document around `paths` and component `schemas` (info, security schemes).
pub(super) fn skeleton(paths: Map<String, Value>, schemas: Map<String, Value>) -> Value {
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{ "BearerToken": [] }],
    })
}

/// Generates the definitions reachable from `roots`, in name order, with upstream's extensions.
pub(super) fn definitions(roots: &[String]) -> Map<String, Value> {
    let mut generator = registry::generator();
    for root in roots {
        registry::add_definition(&mut generator, root);
    }
    let mut defs = generator.take_definitions(true);
    patchmeta::apply(&mut defs);
    if let Some(Value::Object(s)) = defs.get_mut(INT_OR_STRING) {
        s.insert("format".into(), "int-or-string".into());
        s.insert(
            "oneOf".into(),
            json!([{ "type": "integer" }, { "type": "string" }]),
        );
    }
    if let Some(Value::Object(s)) = defs.get_mut(QUANTITY) {
        s.insert(
            "oneOf".into(),
            json!([{ "type": "string" }, { "type": "number" }]),
        );
    }
    let mut sorted: Vec<(String, Value)> = defs.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted.into_iter().collect()
}

/// Sets `x-kubernetes-group-version-kind` of definition `name`.
pub(super) fn add_gvk(defs: &mut Map<String, Value>, name: &str, gvks: Vec<Value>) {
    if let Some(Value::Object(s)) = defs.get_mut(name) {
        s.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
    }
}
