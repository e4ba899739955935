//! Row cells for core/v1 Node, Namespace and Events (core/v1 and events.k8s.io/v1).

use super::super::util::*;
use super::name;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Node row.
pub(super) fn node(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut status: Vec<String> = Vec::new();
    // conditionMap keeps the last condition of each type.
    if let Some(cond) = arr(o, &["status", "conditions"])
        .iter()
        .rev()
        .find(|c| s(c, &["type"]) == "Ready")
    {
        if s(cond, &["status"]) == "True" {
            status.push("Ready".to_string());
        } else {
            status.push("NotReady".to_string());
        }
    }
    if status.is_empty() {
        status.push("Unknown".to_string());
    }
    if b(o, &["spec", "unschedulable"]) {
        status.push("SchedulingDisabled".to_string());
    }
    let mut roles: Vec<String> = Vec::new();
    if let Some(labels) = at(o, &["metadata", "labels"]).as_object() {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role.to_string());
                }
            } else if k == "kubernetes.io/role" {
                let v = v.as_str().unwrap_or("");
                if !v.is_empty() {
                    roles.push(v.to_string());
                }
            }
        }
    }
    roles.sort();
    roles.dedup();
    let info = at(o, &["status", "nodeInfo"]);
    let addr = |t: &str| {
        arr(o, &["status", "addresses"])
            .iter()
            .find(|a| s(a, &["type"]) == t)
            .map(|a| s(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    vec![
        json!(name(o)),
        json!(status.join(",")),
        json!(or(&roles.join(","), "<none>")),
        json!(age(o, now)),
        json!(s(info, &["kubeletVersion"])),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(or(s(info, &["osImage"]), "<unknown>")),
        json!(or(s(info, &["kernelVersion"]), "<unknown>")),
        json!(or(s(info, &["containerRuntimeVersion"]), "<unknown>")),
    ]
}

/// Namespace row.
pub(super) fn namespace(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["status", "phase"])),
        json!(age(o, now)),
    ]
}

/// core/v1 Event row.
pub(super) fn core_event(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event(&EventView::core(o), now)
}

/// events.k8s.io/v1 Event row.
pub(super) fn events_v1_event(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    event(&EventView::events_v1(o), now)
}

/// The fields of an Event the printer needs, from either API shape.
struct EventView<'a> {
    name: &'a str,
    type_: &'a str,
    reason: &'a str,
    object: &'a Value,
    component: &'a str,
    host: &'a str,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    message: &'a str,
    first: &'a Value,
    last: &'a Value,
    event_time: &'a Value,
    count: i64,
    series: &'a Value,
}

impl<'a> EventView<'a> {
    fn core(o: &'a Value) -> Self {
        EventView {
            name: s(o, &["metadata", "name"]),
            type_: s(o, &["type"]),
            reason: s(o, &["reason"]),
            object: at(o, &["involvedObject"]),
            component: s(o, &["source", "component"]),
            host: s(o, &["source", "host"]),
            reporting_controller: s(o, &["reportingComponent"]),
            reporting_instance: s(o, &["reportingInstance"]),
            message: s(o, &["message"]),
            first: at(o, &["firstTimestamp"]),
            last: at(o, &["lastTimestamp"]),
            event_time: at(o, &["eventTime"]),
            count: i(o, &["count"]),
            series: at(o, &["series"]),
        }
    }

    fn events_v1(o: &'a Value) -> Self {
        EventView {
            name: s(o, &["metadata", "name"]),
            type_: s(o, &["type"]),
            reason: s(o, &["reason"]),
            object: at(o, &["regarding"]),
            component: s(o, &["deprecatedSource", "component"]),
            host: s(o, &["deprecatedSource", "host"]),
            reporting_controller: s(o, &["reportingController"]),
            reporting_instance: s(o, &["reportingInstance"]),
            message: s(o, &["note"]),
            first: at(o, &["deprecatedFirstTimestamp"]),
            last: at(o, &["deprecatedLastTimestamp"]),
            event_time: at(o, &["eventTime"]),
            count: i(o, &["deprecatedCount"]),
            series: at(o, &["series"]),
        }
    }
}

fn event(e: &EventView<'_>, now: DateTime<Utc>) -> Vec<Value> {
    let first = if parse_time(e.first).is_none() {
        since(e.event_time, now)
    } else {
        since(e.first, now)
    };
    let mut last = if parse_time(e.last).is_none() {
        first.clone()
    } else {
        since(e.last, now)
    };
    let mut count = e.count;
    if e.series.is_object() {
        last = since(at(e.series, &["lastObservedTime"]), now);
        count = i(e.series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = s(e.object, &["kind"]).to_lowercase();
    let obj_name = s(e.object, &["name"]);
    let target = if obj_name.is_empty() {
        kind
    } else {
        format!("{kind}/{obj_name}")
    };
    let component = if e.component.is_empty() {
        e.reporting_controller
    } else {
        e.component
    };
    let instance = if e.host.is_empty() {
        e.reporting_instance
    } else {
        e.host
    };
    let source = if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(e.type_),
        json!(e.reason),
        json!(target),
        json!(s(e.object, &["fieldPath"])),
        json!(source),
        json!(e.message.trim()),
        json!(first),
        json!(count),
        json!(e.name),
    ]
}
