//! The resource metrics API (`metrics.k8s.io/v1beta1` NodeMetrics and PodMetrics), served by
//! the API server itself from the usage the kubelets of this process sample
//! (`kubelet/stats/`), as k3s bundles metrics-server: `kubectl top node|pod` and the HPA read
//! it. Only `get` and `list` (no watch), as metrics-server; label and field selectors filter on
//! the Node's or Pod's labels; objects are answered as JSON, YAML or a Table (metrics-server's
//! columns: Name, cpu, memory, Window). Off with `--disable metrics-server`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Map, Value};

use super::codec::{self, Format};
use super::errors::ApiError;
use super::filter::Filter;
use super::handler::App;
use super::registry::ResourceEntry;
use super::request::{Query, RequestInfo};
use super::resource::ResourceType;
use super::response::encode;
use super::rest::Handled;
use crate::kubelet::stats::usage::{cpu_quantity, memory_quantity, Usage};
use crate::kubelet::stats::{self, PodStats};

/// The API group.
pub const GROUP: &str = "metrics.k8s.io";
/// The served version.
pub const VERSION: &str = "v1beta1";
/// Name for `--disable`.
pub const DISABLE_NAME: &str = "metrics-server";

/// The two resource types of the group (get and list only).
pub fn resource_types() -> Vec<ResourceType> {
    let rt = |kind: &str, plural: &str, namespaced: bool| ResourceType {
        group: GROUP.into(),
        version: VERSION.into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        namespaced,
        short_names: Vec::new(),
        categories: Vec::new(),
        verbs: vec!["get".into(), "list".into()],
        subresources: Vec::new(),
        schema_name: format!("io.k8s.metrics.pkg.apis.metrics.v1beta1.{kind}"),
    };
    vec![
        rt("NodeMetrics", "nodes", false),
        rt("PodMetrics", "pods", true),
    ]
}

/// True for requests of this group.
pub fn intercepts(res: &ResourceEntry) -> bool {
    res.rt.group == GROUP
}

/// Answers a `get` or `list` of NodeMetrics or PodMetrics.
pub async fn serve(
    app: &Arc<App>,
    res: Arc<ResourceEntry>,
    info: RequestInfo,
    req: Request<Body>,
) -> Handled {
    let query = Query::parse(req.uri().query());
    let verb = if info.name.is_some() { "get" } else { "list" };
    if req.method() != Method::GET || info.watch_path || query.flag("watch") {
        return Err((verb, ApiError::method_not_allowed()));
    }
    if info.subresource.is_some() {
        return Ok((verb, super::response::not_found_path()));
    }
    let format = codec::negotiate(req.headers()).map_err(|e| (verb, e))?;
    let filter = Filter::parse(
        query.get("labelSelector"),
        query.get("fieldSelector"),
        GROUP,
        &res.rt.kind,
    )
    .map_err(|e| (verb, e))?;
    let ns = info.namespace.as_deref().filter(|_| res.rt.namespaced);
    let items = if res.rt.namespaced {
        pod_items(app, ns)
    } else {
        node_items(app)
    };
    let body = match &info.name {
        Some(name) => {
            let found = items.into_iter().find(|o| {
                o.pointer("/metadata/name").and_then(Value::as_str) == Some(name.as_str())
            });
            let Some(obj) = found else {
                let shown = match ns {
                    Some(ns) => format!("{ns}/{name}"),
                    None => name.clone(),
                };
                // As metrics-server words it: `podmetrics.metrics.k8s.io "ns/name" not found`.
                let resource = res.rt.kind.to_ascii_lowercase();
                return Err((verb, ApiError::not_found(GROUP, &resource, &shown)));
            };
            match format {
                Format::Table(v) => table(&[obj], v),
                _ => obj,
            }
        }
        None => {
            let items: Vec<Value> = items.into_iter().filter(|o| filter.matches(o)).collect();
            match format {
                Format::Table(v) => table(&items, v),
                _ => json!({
                    "kind": res.rt.list_kind,
                    "apiVersion": format!("{GROUP}/{VERSION}"),
                    "metadata": {},
                    "items": items,
                }),
            }
        }
    };
    let format = match format {
        Format::PartialMetadata(_) => Format::Json,
        f => f,
    };
    Ok((verb, encode(StatusCode::OK, &body, format)))
}

/// Labels of a stored object, from the watch cache.
fn labels_of(app: &App, plural: &str, ns: Option<&str>, name: &str) -> Option<Value> {
    let entry = app.store.registry.find("", "v1", plural)?;
    let obj = app.store.cache.get(&entry.key(ns, name))?;
    Some(
        obj.pointer("/metadata/labels")
            .cloned()
            .unwrap_or_else(|| json!({})),
    )
}

fn timestamp(ms: i64) -> String {
    k8s_openapi::jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A window as a Kubernetes duration string (`5.002s`).
fn window(ms: i64) -> String {
    let s = ms / 1000;
    let frac = ms % 1000;
    if frac == 0 {
        format!("{s}s")
    } else {
        format!("{s}.{}s", format!("{frac:03}").trim_end_matches('0'))
    }
}

fn usage_json(u: &Usage) -> Value {
    json!({"cpu": cpu_quantity(u.cpu_nanocores), "memory": memory_quantity(u.working_set)})
}

fn metadata(name: &str, ns: Option<&str>, labels: Value) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    if let Some(ns) = ns {
        m.insert("namespace".into(), json!(ns));
    }
    m.insert(
        "creationTimestamp".into(),
        json!(timestamp(
            k8s_openapi::jiff::Timestamp::now().as_millisecond()
        )),
    );
    m.insert("labels".into(), labels);
    Value::Object(m)
}

/// NodeMetrics of the nodes whose kubelet has a complete window and whose Node exists.
fn node_items(app: &App) -> Vec<Value> {
    stats::all()
        .into_iter()
        .filter_map(|(node, snap)| {
            let usage = snap.node?;
            let labels = labels_of(app, "nodes", None, &node)?;
            Some(json!({
                "kind": "NodeMetrics",
                "apiVersion": format!("{GROUP}/{VERSION}"),
                "metadata": metadata(&node, None, labels),
                "timestamp": timestamp(usage.at_ms),
                "window": window(usage.window_ms),
                "usage": usage_json(&usage),
            }))
        })
        .collect()
}

fn pod_json(app: &App, p: &PodStats) -> Option<Value> {
    let labels = labels_of(app, "pods", Some(&p.namespace), &p.name)?;
    let at = p.containers.iter().map(|c| c.usage.at_ms).max()?;
    let window_ms = p.containers.iter().map(|c| c.usage.window_ms).max()?;
    let containers: Vec<Value> = p
        .containers
        .iter()
        .map(|c| json!({"name": c.name, "usage": usage_json(&c.usage)}))
        .collect();
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "metadata": metadata(&p.name, Some(&p.namespace), labels),
        "timestamp": timestamp(at),
        "window": window(window_ms),
        "containers": containers,
    }))
}

/// PodMetrics of the pods (in `ns`, or all) with complete windows that still exist.
fn pod_items(app: &App, ns: Option<&str>) -> Vec<Value> {
    stats::all()
        .into_iter()
        .flat_map(|(_, snap)| {
            snap.pods
                .iter()
                .filter(|p| ns.is_none_or(|n| n == p.namespace))
                .filter_map(|p| pod_json(app, p))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Sum of the usage of an object's containers (pods) or its usage (nodes), as quantities.
fn total_usage(obj: &Value) -> (String, String) {
    if let Some(u) = obj.get("usage") {
        let s = |k: &str| u.get(k).and_then(Value::as_str).unwrap_or("0").to_string();
        return (s("cpu"), s("memory"));
    }
    let (mut cpu, mut mem) = (0u64, 0u64);
    for c in obj
        .get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let q = |k: &str| {
            c.pointer(&format!("/usage/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("0")
                .to_string()
        };
        cpu += q("cpu").trim_end_matches('n').parse::<u64>().unwrap_or(0);
        let m = q("memory");
        mem += match m.strip_suffix("Ki") {
            Some(k) => k.parse::<u64>().unwrap_or(0) * 1024,
            None => m.parse().unwrap_or(0),
        };
    }
    (cpu_quantity(cpu), memory_quantity(mem))
}

/// metrics-server's Table: Name, cpu, memory, Window.
fn table(items: &[Value], version: &str) -> Value {
    let col = |name: &str, format: &str, description: &str| json!({"name": name, "type": "string", "format": format, "description": description, "priority": 0});
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let (cpu, mem) = total_usage(o);
            let name = o.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            let window = o.get("window").cloned().unwrap_or(Value::Null);
            json!({
                "cells": [name, cpu, mem, window],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": format!("meta.k8s.io/{version}"),
                    "metadata": o.get("metadata").cloned().unwrap_or(Value::Null),
                },
            })
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": {},
        "columnDefinitions": [
            col("Name", "name", "Name of the resource"),
            col("cpu", "quantity", ""),
            col("memory", "quantity", ""),
            col("Window", "duration", ""),
        ],
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_as_go_durations() {
        assert_eq!(window(5_000), "5s");
        assert_eq!(window(5_120), "5.12s");
        assert_eq!(window(10_003), "10.003s");
    }

    #[test]
    fn pod_totals_sum_containers() {
        let pod = json!({"containers": [
            {"name": "a", "usage": {"cpu": "1000n", "memory": "4Ki"}},
            {"name": "b", "usage": {"cpu": "500n", "memory": "1024"}},
        ]});
        assert_eq!(total_usage(&pod), ("1500n".to_string(), "5Ki".to_string()));
        let node = json!({"usage": {"cpu": "7n", "memory": "8Ki"}});
        assert_eq!(total_usage(&node), ("7n".to_string(), "8Ki".to_string()));
    }
}
