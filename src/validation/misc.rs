//! Lease, EndpointSlice, core/v1 Event and events.k8s.io/v1 Event.

use super::meta::{object_meta, IMMUTABLE};
use super::names::{is_dns1123_label, is_dns1123_subdomain, is_qualified_name, NameKind};
use super::util::{child, index, Ctx};
use super::FieldError;
use serde_json::Value;
use std::net::IpAddr;

fn empty() -> Value {
    Value::Object(Default::default())
}

/// `ValidateLease`.
pub fn lease(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    if let Some(d) = v.int(&spec, "leaseDurationSeconds", "spec") {
        if d <= 0 {
            v.push(FieldError::invalid(
                "spec.leaseDurationSeconds",
                d,
                "must be greater than 0",
            ));
        }
    }
    if let Some(t) = v.int(&spec, "leaseTransitions", "spec") {
        if t < 0 {
            v.push(FieldError::invalid(
                "spec.leaseTransitions",
                t,
                "must be greater than or equal to 0",
            ));
        }
    }
}

/// `ValidateEndpointIP`: rejects special-purpose addresses.
pub fn endpoint_ip(v: &mut Ctx, ip: &str, path: &str) {
    let Ok(addr) = ip.parse::<IpAddr>() else {
        v.push(FieldError::invalid(path, ip, "must be a valid IP address"));
        return;
    };
    if addr.is_unspecified() {
        v.push(FieldError::invalid(
            path,
            ip,
            &format!("may not be unspecified ({ip})"),
        ));
    }
    if addr.is_loopback() {
        v.push(FieldError::invalid(
            path,
            ip,
            "may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ));
    }
    let (link_local, ll_multicast) = match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            (a.is_link_local(), o[0] == 224 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            ((s[0] & 0xffc0) == 0xfe80, (s[0] & 0xff0f) == 0xff02)
        }
    };
    if link_local {
        v.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ));
    }
    if ll_multicast {
        v.push(FieldError::invalid(
            path,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
}

/// `ValidateEndpointSlice` / `ValidateEndpointSliceUpdate`.
pub fn endpoint_slice(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let addr_type = v.string(obj, "addressType", "");
    let endpoints = v.arr(obj, "endpoints", "");
    if endpoints.len() > 1000 {
        v.push(FieldError::too_many("endpoints", endpoints.len(), 1000));
    }
    for (i, ep) in endpoints.iter().enumerate() {
        let p = index("endpoints", i);
        let ap = child(&p, "addresses");
        let addrs = v.arr(ep, "addresses", &p);
        if addrs.is_empty() {
            v.push(FieldError::required(&ap, "must contain at least 1 address"));
        } else if addrs.len() > 100 {
            v.push(FieldError::too_many(&ap, addrs.len(), 100));
        }
        for (j, a) in addrs.iter().enumerate() {
            let aip = index(&ap, j);
            let Some(s) = a.as_str() else {
                v.push(FieldError::type_invalid(&aip, a, "string"));
                continue;
            };
            match addr_type {
                "IPv4" => match s.parse::<IpAddr>() {
                    Ok(IpAddr::V4(_)) => endpoint_ip(v, s, &aip),
                    _ => v.push(FieldError::invalid(&aip, s, "must be a valid IPv4 address")),
                },
                "IPv6" => match s.parse::<IpAddr>() {
                    Ok(IpAddr::V6(_)) => endpoint_ip(v, s, &aip),
                    _ => v.push(FieldError::invalid(&aip, s, "must be a valid IPv6 address")),
                },
                "FQDN" => fqdn(v, s, &aip),
                _ => {}
            }
        }
        if let Some(n) = v.str(ep, "nodeName", &p) {
            v.invalid_each(&child(&p, "nodeName"), n, is_dns1123_subdomain(n));
        }
        if let Some(h) = v.str(ep, "hostname", &p) {
            v.invalid_each(&child(&p, "hostname"), h, is_dns1123_label(h));
        }
    }
    const TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];
    if addr_type.is_empty() {
        v.push(FieldError::required("addressType", ""));
    } else if !TYPES.contains(&addr_type) {
        v.push(FieldError::not_supported("addressType", addr_type, TYPES));
    }
    let ports = v.arr(obj, "ports", "");
    if ports.len() > 20000 {
        v.push(FieldError::too_many("ports", ports.len(), 20000));
    }
    let mut names: Vec<&str> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let p = index("ports", i);
        let name = v.string(port, "name", &p);
        if !name.is_empty() {
            v.invalid_each(&child(&p, "name"), name, is_dns1123_label(name));
        }
        if names.contains(&name) {
            v.push(FieldError::duplicate(&child(&p, "name"), name));
        } else {
            names.push(name);
        }
        if let Some(proto) = v.str(port, "protocol", &p) {
            const P: &[&str] = &["SCTP", "TCP", "UDP"];
            if !P.contains(&proto) {
                v.push(FieldError::not_supported(&child(&p, "protocol"), proto, P));
            }
        }
    }
    if let Some(old) = old {
        let o = old.get("addressType").and_then(Value::as_str).unwrap_or("");
        if o != addr_type {
            v.push(FieldError::invalid("addressType", addr_type, IMMUTABLE));
        }
    }
}

/// Upstream `IsFullyQualifiedDomainName`.
fn fqdn(v: &mut Ctx, name: &str, path: &str) {
    if name.is_empty() {
        v.push(FieldError::required(path, ""));
        return;
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = is_dns1123_subdomain(name);
    if !errs.is_empty() {
        v.push(FieldError::invalid(path, name, &errs.join(",")));
        return;
    }
    if name.split('.').count() < 2 {
        v.push(FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        ));
        return;
    }
    for label in name.split('.') {
        let errs = is_dns1123_label(label);
        if !errs.is_empty() {
            v.push(FieldError::invalid(path, label, &errs.join(",")));
            return;
        }
    }
}

/// Internal (core) view of an event, from either API.
struct Event<'a> {
    namespace: &'a str,
    involved_ns: &'a str,
    event_time: bool,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    action: &'a str,
    reason: &'a str,
    message: &'a str,
}

fn legacy_event(v: &mut Ctx, e: &Event<'_>, reporting_field: &str) {
    let ns_err = || {
        FieldError::invalid(
            "involvedObject.namespace",
            e.involved_ns,
            "does not match event.namespace",
        )
    };
    if !e.event_time {
        if e.involved_ns.is_empty() {
            if !e.namespace.is_empty() && e.namespace != "default" {
                v.push(ns_err());
            }
        } else if e.namespace != e.involved_ns {
            v.push(ns_err());
        }
    } else {
        if e.involved_ns.is_empty() && e.namespace != "default" && e.namespace != "kube-system" {
            v.push(ns_err());
        }
        if e.reporting_controller.is_empty() {
            v.push(FieldError::required(reporting_field, ""));
        }
        v.invalid_each(
            reporting_field,
            e.reporting_controller,
            is_qualified_name(e.reporting_controller),
        );
        if e.reporting_instance.is_empty() {
            v.push(FieldError::required("reportingInstance", ""));
        }
        if e.reporting_instance.len() > 128 {
            v.push(FieldError::invalid(
                "reportingInstance",
                "",
                "can have at most 128 characters",
            ));
        }
        if e.action.is_empty() {
            v.push(FieldError::required("action", ""));
        }
        if e.action.len() > 128 {
            v.push(FieldError::invalid(
                "action",
                "",
                "can have at most 128 characters",
            ));
        }
        if e.reason.is_empty() {
            v.push(FieldError::required("reason", ""));
        }
        if e.reason.len() > 128 {
            v.push(FieldError::invalid(
                "reason",
                "",
                "can have at most 128 characters",
            ));
        }
        if e.message.len() > 4096 {
            v.push(FieldError::invalid(
                "message",
                "",
                "can have at most 4096 characters",
            ));
        }
    }
    if !e.namespace.is_empty() {
        v.invalid_each("namespace", e.namespace, is_dns1123_subdomain(e.namespace));
    }
}

fn s<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    super::util::peek_str(obj, path).unwrap_or("")
}

fn set(obj: &Value, path: &[&str]) -> bool {
    super::util::peek(obj, path).is_some_and(|x| !x.is_null() && x != "" && x != 0)
}

/// core/v1 `Event` create/update (legacy validation only, as upstream for v1).
pub fn core_event(v: &mut Ctx, obj: &Value, _old: Option<&Value>) {
    let e = Event {
        namespace: s(obj, &["metadata", "namespace"]),
        involved_ns: s(obj, &["involvedObject", "namespace"]),
        event_time: set(obj, &["eventTime"]),
        reporting_controller: s(obj, &["reportingComponent"]),
        reporting_instance: s(obj, &["reportingInstance"]),
        action: s(obj, &["action"]),
        reason: s(obj, &["reason"]),
        message: s(obj, &["message"]),
    };
    legacy_event(v, &e, "reportingComponent");
}

/// events.k8s.io/v1 `Event` (strict validation).
pub fn events_event(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    let e = Event {
        namespace: s(obj, &["metadata", "namespace"]),
        involved_ns: s(obj, &["regarding", "namespace"]),
        event_time: set(obj, &["eventTime"]),
        reporting_controller: s(obj, &["reportingController"]),
        reporting_instance: s(obj, &["reportingInstance"]),
        action: s(obj, &["action"]),
        reason: s(obj, &["reason"]),
        message: s(obj, &["note"]),
    };
    legacy_event(v, &e, "reportingController");
    object_meta(v, obj, old, NameKind::Subdomain);
    if let Some(series) = obj.get("series").filter(|x| x.is_object()) {
        if series.get("count").and_then(Value::as_i64).unwrap_or(0) < 2 {
            v.push(FieldError::invalid(
                "series.count",
                "",
                "should be at least 2",
            ));
        }
        if !set(series, &["lastObservedTime"]) {
            v.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    if !e.event_time {
        v.push(FieldError::required("eventTime", ""));
    }
    let ty = s(obj, &["type"]);
    if ty != "Normal" && ty != "Warning" {
        v.push(FieldError::invalid(
            "type",
            "",
            &format!("has invalid value: {ty}"),
        ));
    }
    if set(obj, &["deprecatedFirstTimestamp"]) {
        v.push(FieldError::invalid(
            "firstTimestamp",
            "",
            "needs to be unset",
        ));
    }
    if set(obj, &["deprecatedLastTimestamp"]) {
        v.push(FieldError::invalid(
            "lastTimestamp",
            "",
            "needs to be unset",
        ));
    }
    if set(obj, &["deprecatedCount"]) {
        v.push(FieldError::invalid("count", "", "needs to be unset"));
    }
    if set(obj, &["deprecatedSource", "component"]) || set(obj, &["deprecatedSource", "host"]) {
        v.push(FieldError::invalid("source", "", "needs to be unset"));
    }
}
