//! Row cells for networking.k8s.io (Ingress, IngressClass, NetworkPolicy)
//! and discovery.k8s.io (EndpointSlice).

use super::super::util::*;
use super::{lb_status_string, name};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Ingress row.
pub(super) fn ingress(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let class = match at(o, &["spec", "ingressClassName"]).as_str() {
        Some(c) => c.to_string(),
        None => "<none>".to_string(),
    };
    let rules = arr(o, &["spec", "rules"]);
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for rule in rules {
        if list.len() == 3 {
            more = true;
        }
        let host = s(rule, &["host"]);
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    let hosts = if list.is_empty() {
        "*".to_string()
    } else if more {
        format!("{} + {} more...", list.join(","), rules.len() - 3)
    } else {
        list.join(",")
    };
    let address = lb_status_string(arr(o, &["status", "loadBalancer", "ingress"]));
    let ports = if arr(o, &["spec", "tls"]).is_empty() {
        "80"
    } else {
        "80, 443"
    };
    vec![
        json!(name(o)),
        json!(class),
        json!(hosts),
        json!(address),
        json!(ports),
        json!(age(o, now)),
    ]
}

/// IngressClass row.
pub(super) fn ingress_class(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let p = at(o, &["spec", "parameters"]);
    let params = if p.is_object() {
        let mut r = s(p, &["kind"]).to_string();
        if let Some(g) = p.get("apiGroup").and_then(Value::as_str) {
            r = format!("{r}.{g}");
        }
        format!("{}/{}", r, s(p, &["name"]))
    } else {
        "<none>".to_string()
    };
    vec![
        json!(name(o)),
        json!(s(o, &["spec", "controller"])),
        json!(params),
        json!(age(o, now)),
    ]
}

/// NetworkPolicy row.
pub(super) fn network_policy(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(format_label_selector_np(at(o, &["spec", "podSelector"]))),
        json!(age(o, now)),
    ]
}

/// NetworkPolicy's podSelector is a struct (never nil): an empty one is `<none>`.
fn format_label_selector_np(sel: &Value) -> String {
    if sel.is_object() {
        format_label_selector(sel)
    } else {
        format_label_selector(&json!({}))
    }
}

/// EndpointSlice (discovery.k8s.io) row.
pub(super) fn endpoint_slice(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["addressType"])),
        json!(discovery_ports(arr(o, &["ports"]))),
        json!(discovery_endpoints(arr(o, &["endpoints"]))),
        json!(age(o, now)),
    ]
}

fn list_with_more(list: &[String], more: bool, count: usize, max: usize) -> String {
    let ret = list.join(",");
    if more {
        return format!("{} + {} more...", ret, count.saturating_sub(max));
    }
    or(&ret, "<unset>")
}

fn discovery_ports(ports: &[Value]) -> String {
    let (max, mut more, mut count) = (3usize, false, 0usize);
    let mut list = Vec::new();
    for p in ports {
        if list.len() < max {
            let n = match (opt_i(p, &["port"]), at(p, &["name"]).as_str()) {
                (Some(n), _) => n.to_string(),
                (None, Some(nm)) => nm.to_string(),
                (None, None) => "*".to_string(),
            };
            list.push(n);
        } else if list.len() == max {
            more = true;
        }
        count += 1;
    }
    list_with_more(&list, more, count, max)
}

fn discovery_endpoints(endpoints: &[Value]) -> String {
    let (max, mut more, mut count) = (3usize, false, 0usize);
    let mut list = Vec::new();
    for e in endpoints {
        for a in arr(e, &["addresses"]) {
            if list.len() < max {
                list.push(a.as_str().unwrap_or("").to_string());
            } else if list.len() == max {
                more = true;
            }
            count += 1;
        }
    }
    list_with_more(&list, more, count, max)
}
