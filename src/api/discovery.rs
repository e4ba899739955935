//! Discovery documents: `/api`, `/apis`, per group and group-version resource lists, and the
//! aggregated (apidiscovery.k8s.io/v2) forms.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{json, Map, Value};

use super::registry::{Registry, ResourceEntry};

/// Content type of aggregated discovery responses.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// Content type of the v2beta1 aggregated discovery responses.
pub const AGGREGATED_V2BETA1: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Which aggregated discovery version the client accepts first, if any.
pub fn wants_aggregated(headers: &HeaderMap) -> Option<&'static str> {
    let accept = headers.get("accept").and_then(|v| v.to_str().ok())?;
    for part in accept.split(',') {
        let p: Vec<&str> = part.split(';').map(str::trim).collect();
        if p.contains(&"g=apidiscovery.k8s.io") && p.contains(&"as=APIGroupDiscoveryList") {
            if p.contains(&"v=v2") {
                return Some("v2");
            }
            if p.contains(&"v=v2beta1") {
                return Some("v2beta1");
            }
        }
        if p.first()
            .is_some_and(|m| *m == "application/json" || *m == "*/*")
            && p.len() == 1
        {
            return None;
        }
    }
    None
}

/// Group names in first-served order (core excluded).
fn groups(reg: &Registry) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for e in reg.all() {
        if e.rt.group.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(g, _)| *g == e.rt.group) {
            Some((_, vs)) => {
                if !vs.contains(&e.rt.version) {
                    vs.push(e.rt.version.clone());
                }
            }
            None => out.push((e.rt.group.clone(), vec![e.rt.version.clone()])),
        }
    }
    out
}

/// `GET /api` (legacy form).
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    let preferred = vs.first().cloned().unwrap_or(Value::Null);
    json!({"name": name, "versions": vs, "preferredVersion": preferred})
}

/// `GET /apis` (legacy form).
pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = groups(reg)
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/<group>`.
pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let (g, vs) = groups(reg).into_iter().find(|(g, _)| g == group)?;
    let mut v = group_json(&g, &vs);
    if let Some(m) = v.as_object_mut() {
        let mut out = Map::new();
        out.insert("kind".into(), json!("APIGroup"));
        out.insert("apiVersion".into(), json!("v1"));
        out.extend(std::mem::take(m));
        *m = out;
    }
    Some(v)
}

fn entries_of(reg: &Registry, group: &str, version: &str) -> Vec<Arc<ResourceEntry>> {
    reg.all()
        .into_iter()
        .filter(|e| e.rt.group == group && e.rt.version == version)
        .collect()
}

/// `GET /api/v1` or `/apis/<group>/<version>`: the APIResourceList.
pub fn resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let entries = entries_of(reg, group, version);
    if entries.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for e in &entries {
        let rt = &e.rt;
        let mut r = Map::new();
        r.insert("name".into(), json!(rt.plural));
        r.insert("singularName".into(), json!(rt.singular));
        r.insert("namespaced".into(), json!(rt.namespaced));
        r.insert("kind".into(), json!(rt.kind));
        r.insert("verbs".into(), json!(rt.verbs));
        if !rt.short_names.is_empty() {
            r.insert("shortNames".into(), json!(rt.short_names));
        }
        if !rt.categories.is_empty() {
            r.insert("categories".into(), json!(rt.categories));
        }
        resources.push(Value::Object(r));
        for s in &rt.subresources {
            let mut r = Map::new();
            r.insert("name".into(), json!(format!("{}/{}", rt.plural, s.name)));
            r.insert("singularName".into(), json!(""));
            r.insert("namespaced".into(), json!(rt.namespaced));
            if s.group != rt.group || s.version != rt.version {
                r.insert("group".into(), json!(s.group));
                r.insert("version".into(), json!(s.version));
            }
            r.insert("kind".into(), json!(s.kind));
            r.insert("verbs".into(), json!(s.verbs));
            resources.push(Value::Object(r));
        }
    }
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

fn aggregated_version(reg: &Registry, group: &str, version: &str) -> Value {
    let resources: Vec<Value> = entries_of(reg, group, version)
        .iter()
        .map(|e| {
            let rt = &e.rt;
            let mut r = Map::new();
            r.insert("resource".into(), json!(rt.plural));
            r.insert("responseKind".into(), json!({"group": rt.group, "version": rt.version, "kind": rt.kind}));
            r.insert("scope".into(), json!(if rt.namespaced { "Namespaced" } else { "Cluster" }));
            r.insert("singularResource".into(), json!(rt.singular));
            r.insert("verbs".into(), json!(rt.verbs));
            if !rt.short_names.is_empty() {
                r.insert("shortNames".into(), json!(rt.short_names));
            }
            if !rt.categories.is_empty() {
                r.insert("categories".into(), json!(rt.categories));
            }
            if !rt.subresources.is_empty() {
                let subs: Vec<Value> = rt
                    .subresources
                    .iter()
                    .map(|s| {
                        json!({
                            "subresource": s.name,
                            "responseKind": {"group": s.group, "version": s.version, "kind": s.kind},
                            "verbs": s.verbs,
                        })
                    })
                    .collect();
                r.insert("subresources".into(), Value::Array(subs));
            }
            Value::Object(r)
        })
        .collect();
    json!({"version": version, "resources": resources, "freshness": "Current"})
}

/// Aggregated discovery for `/api` (core) or `/apis` (every group).
pub fn aggregated(reg: &Registry, core: bool, version: &str) -> Value {
    let items: Vec<Value> = if core {
        vec![
            json!({"metadata": {"creationTimestamp": null}, "versions": [aggregated_version(reg, "", "v1")]}),
        ]
    } else {
        groups(reg)
            .iter()
            .map(|(g, vs)| {
                let versions: Vec<Value> =
                    vs.iter().map(|v| aggregated_version(reg, g, v)).collect();
                json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
            })
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

/// Every `group/version` served, for `/openapi/v3` and api-versions.
pub fn group_versions(reg: &Registry) -> BTreeSet<(String, String)> {
    reg.all()
        .iter()
        .map(|e| (e.rt.group.clone(), e.rt.version.clone()))
        .collect()
}
