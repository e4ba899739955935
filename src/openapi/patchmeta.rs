//! List, map and strategic-merge-patch extensions on the generated schemas.
//!
//! k8s-openapi generates its `schemars` impls without `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`, `x-kubernetes-patch-merge-key` or
//! `x-kubernetes-patch-strategy`. Upstream derives them from `+listType`, `+listMapKey`,
//! `+mapType` and `patchStrategy`/`patchMergeKey` tags in the Go types; [`crate::schema`]
//! carries them for every v1.33 type, and this module copies them onto the properties (and,
//! for `x-kubernetes-map-type` of structs, onto the definitions). Clients rely on them:
//! kubectl's client-side apply computes its strategic merge patch from them.

use serde_json::{Map, Value};

use crate::schema::{self, Field};

/// The extensions of one field, in the order upstream's documents list them.
fn extensions(f: &Field) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    if let Some(lt) = &f.list_type {
        out.push(("x-kubernetes-list-type", Value::from(lt.as_str())));
    }
    if !f.map_keys.is_empty() {
        out.push((
            "x-kubernetes-list-map-keys",
            Value::from(f.map_keys.clone()),
        ));
    }
    if let Some(mt) = &f.map_type {
        out.push(("x-kubernetes-map-type", Value::from(mt.as_str())));
    }
    if let Some(key) = &f.merge_key {
        out.push(("x-kubernetes-patch-merge-key", Value::from(key.as_str())));
    }
    if let Some(ps) = &f.patch_strategy {
        out.push(("x-kubernetes-patch-strategy", Value::from(ps.as_str())));
    }
    out
}

/// Adds the schema metadata's extensions to the matching definitions and properties.
pub(crate) fn apply(definitions: &mut Map<String, Value>) {
    for (name, def) in definitions.iter_mut() {
        let Some(meta) = schema::definition(name) else {
            continue;
        };
        let Some(obj) = def.as_object_mut() else {
            continue;
        };
        if let Some(mt) = &meta.map_type {
            obj.insert("x-kubernetes-map-type".into(), Value::from(mt.as_str()));
        }
        let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for (field, prop) in props.iter_mut() {
            let (Some(f), Some(prop)) = (meta.fields.get(field), prop.as_object_mut()) else {
                continue;
            };
            for (k, v) in extensions(f) {
                prop.insert(k.into(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(root: &str) -> Map<String, Value> {
        let mut g = super::super::registry::generator();
        super::super::registry::add_definition(&mut g, root);
        let mut defs = g.take_definitions(true);
        apply(&mut defs);
        defs
    }

    #[test]
    fn patch_meta_lands_on_pod_spec_and_deployment() {
        let defs = defs("io.k8s.api.apps.v1.Deployment");
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"][0], "name");
        let volumes = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["volumes"];
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let strategy = &defs["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        let env = &defs["io.k8s.api.core.v1.Container"]["properties"]["env"];
        assert_eq!(env["x-kubernetes-patch-merge-key"], "name");
        let finalizers =
            &defs["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"];
        assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(finalizers["x-kubernetes-list-type"], "set");
        assert_eq!(
            defs["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"]["x-kubernetes-map-type"],
            "atomic"
        );
    }

    #[test]
    fn service_ports_merge_by_port() {
        let defs = defs("io.k8s.api.core.v1.Service");
        let ports = &defs["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "port");
        assert_eq!(ports["x-kubernetes-list-map-keys"][1], "protocol");
    }
}
