//! Row cells for core/v1 workloads: Pod, PodTemplate, ReplicationController.

use super::super::util::*;
use super::{deleting, has_condition, name};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Pod row (upstream's `printPod`: ready count, status reason, restarts).
pub(super) fn pod(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let status = at(o, &["status"]);
    let init_specs = arr(spec, &["initContainers"]);
    let restartable = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, &["name"]) == name && s(c, &["restartPolicy"]) == "Always")
    };
    let mut restarts = 0i64;
    let mut restartable_restarts = 0i64;
    let mut total = arr(spec, &["containers"]).len() as i64;
    let mut ready = 0i64;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut last_restartable_restart: Option<DateTime<Utc>> = None;

    let phase = s(status, &["phase"]);
    let mut reason = phase.to_string();
    if !s(status, &["reason"]).is_empty() {
        reason = s(status, &["reason"]).to_string();
    }
    let conditions = arr(status, &["conditions"]);
    for cond in conditions {
        if s(cond, &["type"]) == "PodScheduled" && s(cond, &["reason"]) == "SchedulingGated" {
            reason = "SchedulingGated".to_string();
        }
    }
    total += init_specs
        .iter()
        .filter(|c| s(c, &["restartPolicy"]) == "Always")
        .count() as i64;

    let mut initializing = false;
    for (idx, cs) in arr(status, &["initContainerStatuses"]).iter().enumerate() {
        let rc = i(cs, &["restartCount"]);
        restarts += rc;
        let finished = at(cs, &["lastState", "terminated", "finishedAt"]);
        if is_obj(cs, &["lastState", "terminated"]) {
            latest(&mut last_restart, finished);
        }
        let is_restartable = restartable(s(cs, &["name"]));
        if is_restartable {
            restartable_restarts += rc;
            if is_obj(cs, &["lastState", "terminated"]) {
                latest(&mut last_restartable_restart, finished);
            }
        }
        let terminated = is_obj(cs, &["state", "terminated"]);
        let waiting_reason = s(cs, &["state", "waiting", "reason"]);
        if terminated && i(cs, &["state", "terminated", "exitCode"]) == 0 {
            continue;
        } else if is_restartable && b(cs, &["started"]) {
            if b(cs, &["ready"]) {
                ready += 1;
            }
            continue;
        } else if terminated {
            let t_reason = s(cs, &["state", "terminated", "reason"]);
            reason = if t_reason.is_empty() {
                let signal = i(cs, &["state", "terminated", "signal"]);
                if signal != 0 {
                    format!("Init:Signal:{signal}")
                } else {
                    format!(
                        "Init:ExitCode:{}",
                        i(cs, &["state", "terminated", "exitCode"])
                    )
                }
            } else {
                format!("Init:{t_reason}")
            };
        } else if is_obj(cs, &["state", "waiting"])
            && !waiting_reason.is_empty()
            && waiting_reason != "PodInitializing"
        {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", idx, init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(conditions, "Initialized") {
        restarts = restartable_restarts;
        last_restart = last_restartable_restart;
        let mut has_running = false;
        for cs in arr(status, &["containerStatuses"]).iter().rev() {
            restarts += i(cs, &["restartCount"]);
            if is_obj(cs, &["lastState", "terminated"]) {
                latest(
                    &mut last_restart,
                    at(cs, &["lastState", "terminated", "finishedAt"]),
                );
            }
            let waiting_reason = s(cs, &["state", "waiting", "reason"]);
            let terminated = is_obj(cs, &["state", "terminated"]);
            let t_reason = s(cs, &["state", "terminated", "reason"]);
            if is_obj(cs, &["state", "waiting"]) && !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated && !t_reason.is_empty() {
                reason = t_reason.to_string();
            } else if terminated {
                let signal = i(cs, &["state", "terminated", "signal"]);
                reason = if signal != 0 {
                    format!("Signal:{signal}")
                } else {
                    format!("ExitCode:{}", i(cs, &["state", "terminated", "exitCode"]))
                };
            } else if b(cs, &["ready"]) && is_obj(cs, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if has_condition(conditions, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if deleting(o) && s(status, &["reason"]) == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting(o) && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!("{} ({} ago)", restarts, human_duration(now - t)),
        _ => restarts.to_string(),
    };

    // v1 -> internal conversion fills podIPs from podIP when only the latter is set.
    let mut ip = arr(status, &["podIPs"])
        .first()
        .map(|p| s(p, &["ip"]))
        .unwrap_or("");
    if arr(status, &["podIPs"]).is_empty() {
        ip = s(status, &["podIP"]);
    }
    let gates = arr(spec, &["readinessGates"]);
    let gates_str = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_conditions = gates
            .iter()
            .filter(|g| {
                let t = s(g, &["conditionType"]);
                conditions
                    .iter()
                    .find(|c| s(c, &["type"]) == t)
                    .is_some_and(|c| s(c, &["status"]) == "True")
            })
            .count();
        format!("{}/{}", true_conditions, gates.len())
    };
    vec![
        json!(name(o)),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_str),
        json!(age(o, now)),
        json!(or(ip, "<none>")),
        json!(or(s(spec, &["nodeName"]), "<none>")),
        json!(or(s(status, &["nominatedNodeName"]), "<none>")),
        json!(gates_str),
    ]
}

/// PodTemplate row.
pub(super) fn pod_template(o: &Value) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(n),
        json!(img),
        json!(format_labels(at(o, &["template", "metadata", "labels"]))),
    ]
}

/// ReplicationController row.
pub(super) fn replication_controller(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(i(o, &["spec", "replicas"])),
        json!(i(o, &["status", "replicas"])),
        json!(i(o, &["status", "readyReplicas"])),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_labels(at(o, &["spec", "selector"]))),
    ]
}

fn latest(cur: &mut Option<DateTime<Utc>>, v: &Value) {
    if let Some(t) = parse_time(v) {
        if cur.is_none_or(|c| c < t) {
            *cur = Some(t);
        }
    }
}
