//! Row cells for core/v1 Service and Endpoints.

use super::super::util::*;
use super::{lb_status_string, name};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Service row.
pub(super) fn service(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let svc_type = s(spec, &["type"]);
    let cluster_ips = arr(spec, &["clusterIPs"]);
    let internal_ip = match cluster_ips.first() {
        Some(ip) => ip.as_str().unwrap_or("").to_string(),
        None => or(s(spec, &["clusterIP"]), "<none>"),
    };
    let external: Vec<&str> = arr(spec, &["externalIPs"])
        .iter()
        .map(|x| x.as_str().unwrap_or(""))
        .collect();
    let external_ip = match svc_type {
        "ClusterIP" | "NodePort" => {
            if external.is_empty() {
                "<none>".to_string()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let lb = lb_status_string(arr(o, &["status", "loadBalancer", "ingress"]));
            if !external.is_empty() {
                let mut results: Vec<&str> = Vec::new();
                if !lb.is_empty() {
                    results.extend(lb.split(','));
                }
                results.extend(external.iter().copied());
                results.join(",")
            } else if !lb.is_empty() {
                lb
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => s(spec, &["externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr(spec, &["ports"])
        .iter()
        .map(|p| {
            let port = i(p, &["port"]);
            let proto = s(p, &["protocol"]);
            let node_port = i(p, &["nodePort"]);
            if node_port > 0 {
                format!("{port}:{node_port}/{proto}")
            } else {
                format!("{port}/{proto}")
            }
        })
        .collect();
    vec![
        json!(name(o)),
        json!(svc_type),
        json!(internal_ip),
        json!(external_ip),
        json!(or(&ports.join(","), "<none>")),
        json!(age(o, now)),
        json!(format_labels(at(spec, &["selector"]))),
    ]
}

/// Endpoints row.
pub(super) fn endpoints(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(format_endpoints(o)),
        json!(age(o, now)),
    ]
}

fn format_endpoints(o: &Value) -> String {
    let subsets = arr(o, &["subsets"]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let max = 3usize;
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0usize;
    for ss in subsets {
        let addrs = arr(ss, &["addresses"]);
        let ports = arr(ss, &["ports"]);
        if ports.is_empty() {
            count += addrs.len();
            for a in addrs {
                if list.len() == max {
                    more = true;
                    break;
                }
                list.push(s(a, &["ip"]).to_string());
            }
            continue;
        }
        for p in ports {
            count += addrs.len();
            for a in addrs {
                if list.len() == max {
                    more = true;
                    break;
                }
                let ip = s(a, &["ip"]);
                let port = i(p, &["port"]);
                // net.JoinHostPort brackets hosts containing a colon (IPv6).
                if ip.contains(':') {
                    list.push(format!("[{ip}]:{port}"));
                } else {
                    list.push(format!("{ip}:{port}"));
                }
            }
        }
    }
    let ret = list.join(",");
    if more {
        format!("{} + {} more...", ret, count.saturating_sub(max))
    } else {
        ret
    }
}
