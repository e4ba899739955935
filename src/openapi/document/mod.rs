//! Builders for the OpenAPI v3 documents served under `/openapi/v3/<path>`, shaped like the
//! documents kube-apiserver serves (kube-openapi `builder3`).
//!
//! `paths.rs` builds the paths of one group-version, `operations.rs` the operation objects
//! (parameters, bodies, responses), `components.rs` the schema definitions and the document
//! skeleton; this module assembles whole documents.

mod components;
mod operations;
mod paths;

pub(crate) use components::schema_ref;

use super::registry;
use crate::api::resource::{ResourceType, Subresource};
use components::{add_gvk, definitions, skeleton};
use operations::{responses, Op, JSON_YAML_PB};
use paths::PathBuilder;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The Kubernetes version reported in `info.version`.
pub(crate) const KUBERNETES_VERSION: &str = "v1.33.1";

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const API_RESOURCE_LIST: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// `apps` -> `Apps`, `coordination.k8s.io` -> `Coordination`,
/// `rbac.authorization.k8s.io` -> `RbacAuthorization`, core -> `Core`.
pub(crate) fn op_group(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split('.').map(capitalize).collect()
}

/// Tag of a group-version's operations: `core_v1`, `apps_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let mut g = op_group(group);
    if let Some(first) = g.get(..1) {
        g = first.to_lowercase() + &g[1..];
    }
    format!("{g}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// An `x-kubernetes-group-version-kind` entry.
fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Definition name of a resource's list kind (`io.k8s.api.apps.v1.DeploymentList`).
pub(crate) fn list_schema_name(r: &ResourceType) -> String {
    match r.schema_name.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{}", r.list_kind),
        None => r.list_kind.clone(),
    }
}

/// The schema of the status and scale subresources; other subresources are not documented.
fn subresource_schema<'a>(r: &'a ResourceType, sub: &Subresource) -> Option<&'a str> {
    match sub.name.as_str() {
        "status" => Some(r.schema_name.as_str()),
        "scale" => Some(SCALE),
        _ => None,
    }
}

/// True when the resource can be documented (its schema is registered).
pub(crate) fn documentable(r: &ResourceType) -> bool {
    !r.schema_name.is_empty() && registry::is_known(&r.schema_name)
}

/// The document of one group-version (`api/v1`, `apis/apps/v1`).
pub(crate) fn group_version(
    group: &str,
    version: &str,
    resources: &[&ResourceType],
    extra: &Map<String, Value>,
) -> Value {
    let documentable = |r: &ResourceType| documentable(r) || extra.contains_key(&r.schema_name);
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let mut b = PathBuilder {
        prefix: prefix.clone(),
        opgv: format!("{}{}", op_group(group), capitalize(version)),
        tag: tag(group, version),
        paths: BTreeMap::new(),
        group,
        version,
    };
    let mut roots: Vec<String> = [
        STATUS,
        DELETE_OPTIONS,
        WATCH_EVENT,
        PATCH,
        API_RESOURCE_LIST,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if !extra.is_empty() {
        roots.push(super::custom::OBJECT_META.to_string());
        roots.push(super::custom::LIST_META.to_string());
    }
    for r in resources.iter().filter(|r| documentable(r)) {
        b.resource(r);
        roots.push(r.schema_name.clone());
        roots.push(list_schema_name(r));
        for sub in &r.subresources {
            if let Some(s) = subresource_schema(r, sub) {
                roots.push(s.to_string());
            }
        }
    }
    let resources_op = Op {
        action: "",
        id: format!("get{}APIResources", b.opgv),
        description: "get available resources".into(),
        gvk: Value::Null,
        params: vec![],
        body: None,
        responses: responses(&[("200", API_RESOURCE_LIST, JSON_YAML_PB)]),
    };
    let mut resources_op = resources_op.into_value(&b.tag);
    if let Some(op) = resources_op.as_object_mut() {
        op.remove("x-kubernetes-action");
        op.remove("x-kubernetes-group-version-kind");
    }
    b.paths
        .entry(format!("{prefix}/"))
        .or_default()
        .insert("get".into(), resources_op);

    let mut defs = definitions(&roots);
    if !extra.is_empty() {
        defs.extend(extra.clone());
        let mut sorted: Vec<(String, Value)> = std::mem::take(&mut defs).into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        defs = sorted.into_iter().collect();
    }
    for r in resources.iter().filter(|r| documentable(r)) {
        add_gvk(
            &mut defs,
            &r.schema_name,
            vec![gvk(group, version, &r.kind)],
        );
        add_gvk(
            &mut defs,
            &list_schema_name(r),
            vec![gvk(group, version, &r.list_kind)],
        );
    }
    let mut shared = vec![gvk("", "v1", "")];
    if !group.is_empty() {
        shared.push(gvk(group, version, ""));
    }
    for (name, kind) in [
        (DELETE_OPTIONS, "DeleteOptions"),
        (WATCH_EVENT, "WatchEvent"),
    ] {
        let gvks = shared
            .iter()
            .cloned()
            .map(|mut g| {
                g["kind"] = kind.into();
                g
            })
            .collect();
        add_gvk(&mut defs, name, gvks);
    }
    add_gvk(&mut defs, STATUS, vec![gvk("", "v1", "Status")]);
    if resources.iter().any(|r| r.has_subresource("scale")) {
        add_gvk(&mut defs, SCALE, vec![gvk("autoscaling", "v1", "Scale")]);
    }
    let paths = b
        .paths
        .into_iter()
        .map(|(k, v)| (k, Value::Object(v)))
        .collect();
    skeleton(paths, defs)
}

/// A discovery document: one GET path returning one schema (`api`, `apis`, `apis/<group>`,
/// `version`).
pub(crate) fn discovery(path: &str, id: &str, tag: &str, description: &str, schema: &str) -> Value {
    let op = json!({
        "tags": [tag],
        "description": description,
        "operationId": id,
        "responses": responses(&[("200", schema, &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"])]),
    });
    let mut paths = Map::new();
    paths.insert(path.into(), json!({ "get": op }));
    skeleton(paths, definitions(&[schema.to_string()]))
}
