//! networking.k8s.io (Ingress, IngressClass, NetworkPolicy) and storage.k8s.io kinds
//! (upstream `pkg/apis/networking/validation`, `pkg/apis/storage/validation`).

use super::meta::{object_meta, validate_label_selector, IMMUTABLE};
use super::names::{
    is_dns1035_label, is_dns1123_subdomain, is_qualified_name, is_valid_port_name,
    is_valid_port_num, NameKind,
};
use super::util::{child, index, Ctx};
use super::FieldError;
use serde_json::Value;

fn empty() -> Value {
    Value::Object(Default::default())
}

const PATH_TYPES: [&str; 3] = ["Exact", "ImplementationSpecific", "Prefix"];

/// `validateIngressBackend`.
fn ingress_backend(v: &mut Ctx, b: &Value, path: &str) {
    let svc = b.get("service").filter(|x| !x.is_null());
    let res = b.get("resource").filter(|x| !x.is_null());
    match (svc, res) {
        (Some(_), Some(_)) => v.push(FieldError::invalid(
            path,
            "",
            "cannot set both resource and service backends",
        )),
        (None, None) => v.push(FieldError::invalid(
            path,
            "",
            "resource or service backend is required",
        )),
        (Some(svc), None) => {
            let sp = child(path, "service");
            let name = v.string(svc, "name", &sp);
            if name.is_empty() {
                v.push(FieldError::required(&child(&sp, "name"), ""));
            } else {
                v.invalid_each(&child(&sp, "name"), name, is_dns1035_label(name));
            }
            let port = svc.get("port").cloned().unwrap_or_else(empty);
            let pp = child(&sp, "port");
            let pname = v.string(&port, "name", &pp);
            let pnum = v.int(&port, "number", &pp).unwrap_or(0);
            if !pname.is_empty() && pnum != 0 {
                v.push(FieldError::invalid(
                    &pp,
                    pname,
                    "cannot set both port name & port number",
                ));
            } else if !pname.is_empty() {
                v.invalid_each(&child(&pp, "name"), pname, is_valid_port_name(pname));
            } else if pnum != 0 {
                for m in is_valid_port_num(pnum) {
                    v.push(FieldError::invalid(&child(&pp, "number"), pnum, &m));
                }
            } else {
                v.push(FieldError::required(&pp, "port name or number is required"));
            }
        }
        (None, Some(r)) => {
            let rp = child(path, "resource");
            for f in ["kind", "name"] {
                if v.string(r, f, &rp).is_empty() {
                    v.push(FieldError::required(&child(&rp, f), ""));
                }
            }
        }
    }
}

/// A rule host: a DNS subdomain, or a wildcard `*.` followed by one.
fn ingress_host(v: &mut Ctx, host: &str, path: &str) {
    if let Some(rest) = host.strip_prefix("*.") {
        v.invalid_each(path, host, is_dns1123_subdomain(rest));
    } else if host.contains('*') {
        v.push(FieldError::invalid(
            path,
            host,
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ));
    } else {
        v.invalid_each(path, host, is_dns1123_subdomain(host));
    }
}

/// `ValidateIngressCreate` / `ValidateIngressUpdate` (spec rules).
pub fn ingress(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let rules = v.arr(&spec, "rules", "spec").to_vec();
    let default = spec.get("defaultBackend").filter(|x| !x.is_null());
    if rules.is_empty() && default.is_none() {
        v.push(
            FieldError::invalid(
                "spec",
                Value::Null,
                "either `defaultBackend` or `rules` must be specified",
            )
            .with_repr("[]networking.IngressRule(nil)".to_string()),
        );
    }
    if let Some(b) = default {
        ingress_backend(v, b, "spec.defaultBackend");
    }
    for (i, rule) in rules.iter().enumerate() {
        let rp = index("spec.rules", i);
        let host = v.string(rule, "host", &rp);
        if !host.is_empty() {
            ingress_host(v, host, &child(&rp, "host"));
        }
        let Some(http) = rule.get("http").filter(|x| !x.is_null()) else {
            continue;
        };
        let hp = child(&rp, "http");
        let paths = v.arr(http, "paths", &hp);
        let pp = child(&hp, "paths");
        if paths.is_empty() {
            v.push(FieldError::required(&pp, ""));
        }
        for (j, p) in paths.iter().enumerate() {
            let ip = index(&pp, j);
            let pt = v.string(p, "pathType", &ip);
            let path = v.string(p, "path", &ip);
            if pt.is_empty() {
                v.push(FieldError::required(
                    &child(&ip, "pathType"),
                    "pathType must be specified",
                ));
            } else if !PATH_TYPES.contains(&pt) {
                v.push(FieldError::not_supported(
                    &child(&ip, "pathType"),
                    pt,
                    &PATH_TYPES,
                ));
            }
            let absolute_required = pt == "Exact" || pt == "Prefix" || !path.is_empty();
            if absolute_required && !path.starts_with('/') {
                v.push(FieldError::invalid(
                    &child(&ip, "path"),
                    path,
                    "must be an absolute path",
                ));
            }
            let b = p.get("backend").cloned().unwrap_or_else(empty);
            ingress_backend(v, &b, &child(&ip, "backend"));
        }
    }
    if let Some(c) = v.str(&spec, "ingressClassName", "spec") {
        v.invalid_each("spec.ingressClassName", c, is_dns1123_subdomain(c));
    }
    for (i, tls) in v.arr(&spec, "tls", "spec").to_vec().iter().enumerate() {
        let tp = index("spec.tls", i);
        for (j, h) in v.arr(tls, "hosts", &tp).to_vec().iter().enumerate() {
            if let Some(h) = h.as_str() {
                ingress_host(v, h, &index(&child(&tp, "hosts"), j));
            }
        }
    }
}

/// `ValidateIngressClass` / `ValidateIngressClassUpdate`.
pub fn ingress_class(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let controller = v.string(&spec, "controller", "spec");
    if controller.is_empty() {
        v.push(FieldError::required("spec.controller", ""));
    } else if controller.len() > 250 {
        v.push(FieldError::too_long("spec.controller", 250));
    }
    if let Some(old) = old {
        let oc = old
            .pointer("/spec/controller")
            .and_then(Value::as_str)
            .unwrap_or("");
        if oc != controller {
            v.push(FieldError::invalid(
                "spec.controller",
                controller,
                IMMUTABLE,
            ));
        }
    }
}

/// `ValidateNetworkPolicy` (selectors, policy types, port protocols).
pub fn network_policy(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    if let Some(sel) = v.obj(&spec, "podSelector", "spec").cloned() {
        validate_label_selector(v, &sel, "spec.podSelector");
    }
    let types = ["Ingress", "Egress"];
    let pts = v.arr(&spec, "policyTypes", "spec").to_vec();
    if pts.len() > 2 {
        v.push(FieldError::invalid(
            "spec.policyTypes",
            Value::Array(pts.clone()),
            "may not specify more than two policyTypes",
        ));
    }
    for (i, t) in pts.iter().enumerate() {
        let s = t.as_str().unwrap_or("");
        if !types.contains(&s) {
            v.push(FieldError::not_supported(
                &index("spec.policyTypes", i),
                s,
                &types,
            ));
        }
    }
    for dir in ["ingress", "egress"] {
        for (i, rule) in v.arr(&spec, dir, "spec").to_vec().iter().enumerate() {
            let rp = index(&child("spec", dir), i);
            for (j, port) in v.arr(rule, "ports", &rp).to_vec().iter().enumerate() {
                let pp = index(&child(&rp, "ports"), j);
                if let Some(proto) = v.str(port, "protocol", &pp) {
                    let ok = ["SCTP", "TCP", "UDP"];
                    if !ok.contains(&proto) {
                        v.push(FieldError::not_supported(
                            &child(&pp, "protocol"),
                            proto,
                            &ok,
                        ));
                    }
                }
            }
        }
    }
}

/// `ValidateStorageClass` / `ValidateStorageClassUpdate`.
pub fn storage_class(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let prov = v.string(obj, "provisioner", "");
    if prov.is_empty() {
        v.push(FieldError::required("provisioner", ""));
    } else {
        v.invalid_each("provisioner", prov, is_qualified_name(&prov.to_lowercase()));
    }
    if let Some(r) = v.str(obj, "reclaimPolicy", "") {
        if r != "Delete" && r != "Retain" {
            v.push(FieldError::not_supported(
                "reclaimPolicy",
                r,
                &["Delete", "Retain"],
            ));
        }
    }
    match v.str(obj, "volumeBindingMode", "") {
        None => v.push(FieldError::required("volumeBindingMode", "")),
        Some(m) if m != "Immediate" && m != "WaitForFirstConsumer" => {
            v.push(FieldError::not_supported(
                "volumeBindingMode",
                m,
                &["Immediate", "WaitForFirstConsumer"],
            ))
        }
        _ => {}
    }
    if let Some(old) = old {
        let get = |o: &Value, f: &str| o.get(f).cloned().unwrap_or(Value::Null);
        for f in ["parameters", "provisioner", "reclaimPolicy"] {
            if get(obj, f) != get(old, f) {
                v.push(FieldError::forbidden(
                    f,
                    &format!("updates to {f} are forbidden."),
                ));
            }
        }
        if get(obj, "volumeBindingMode") != get(old, "volumeBindingMode") {
            v.push(FieldError::invalid(
                "volumeBindingMode",
                get(obj, "volumeBindingMode"),
                IMMUTABLE,
            ));
        }
    }
}

/// `ValidateVolumeAttachment` / `ValidateVolumeAttachmentUpdate` (spec rules).
pub fn volume_attachment(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let attacher = v.string(&spec, "attacher", "spec");
    if attacher.is_empty() {
        v.push(FieldError::required("spec.attacher", ""));
    }
    let source = spec.get("source").cloned().unwrap_or_else(empty);
    let pv = source
        .get("persistentVolumeName")
        .is_some_and(|x| !x.is_null());
    let inline = source.get("inlineVolumeSpec").is_some_and(|x| !x.is_null());
    if pv == inline {
        v.push(FieldError::required(
            "spec.source",
            "must specify exactly one of inlineVolumeSpec and persistentVolumeName",
        ));
    }
    if v.string(&spec, "nodeName", "spec").is_empty() {
        v.push(FieldError::required("spec.nodeName", ""));
    }
    if let Some(old) = old {
        if old.get("spec") != obj.get("spec") {
            v.push(
                FieldError::invalid("spec", spec.clone(), IMMUTABLE)
                    .with_repr("storage.VolumeAttachmentSpec{...}".to_string()),
            );
        }
    }
}
