//! Row cells per kind: ports of upstream's `printXxx` functions.

use super::util::*;
use super::Kind;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn name(obj: &Value) -> String {
    s(obj, &["metadata", "name"]).to_string()
}

fn deleting(obj: &Value) -> bool {
    parse_time(at(obj, &["metadata", "deletionTimestamp"])).is_some()
}

pub(crate) fn cells(kind: Kind, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match kind {
        Kind::Pod => pod(o, now),
        Kind::PodTemplate => {
            let (n, img) = container_cells(arr(o, &["template", "spec", "containers"]));
            vec![
                json!(name(o)),
                json!(n),
                json!(img),
                json!(format_labels(at(o, &["template", "metadata", "labels"]))),
            ]
        }
        Kind::PodDisruptionBudget => {
            let min = match at(o, &["spec", "minAvailable"]) {
                Value::Null => "N/A".to_string(),
                v => int_or_string(v),
            };
            let max = match at(o, &["spec", "maxUnavailable"]) {
                Value::Null => "N/A".to_string(),
                v => int_or_string(v),
            };
            vec![
                json!(name(o)),
                json!(min),
                json!(max),
                json!(i(o, &["status", "disruptionsAllowed"])),
                json!(age(o, now)),
            ]
        }
        Kind::ReplicationController => {
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
        Kind::ReplicaSet => {
            let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
            vec![
                json!(name(o)),
                json!(i(o, &["spec", "replicas"])),
                json!(i(o, &["status", "replicas"])),
                json!(i(o, &["status", "readyReplicas"])),
                json!(age(o, now)),
                json!(n),
                json!(img),
                json!(format_label_selector(at(o, &["spec", "selector"]))),
            ]
        }
        Kind::DaemonSet => {
            let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
            vec![
                json!(name(o)),
                json!(i(o, &["status", "desiredNumberScheduled"])),
                json!(i(o, &["status", "currentNumberScheduled"])),
                json!(i(o, &["status", "numberReady"])),
                json!(i(o, &["status", "updatedNumberScheduled"])),
                json!(i(o, &["status", "numberAvailable"])),
                json!(format_labels(at(
                    o,
                    &["spec", "template", "spec", "nodeSelector"]
                ))),
                json!(age(o, now)),
                json!(n),
                json!(img),
                json!(format_label_selector(at(o, &["spec", "selector"]))),
            ]
        }
        Kind::Job => job(o, now),
        Kind::CronJob => {
            let last = match at(o, &["status", "lastScheduleTime"]) {
                Value::Null => "<none>".to_string(),
                v => since(v, now),
            };
            let tz = match at(o, &["spec", "timeZone"]).as_str() {
                Some(t) => t.to_string(),
                None => "<none>".to_string(),
            };
            let tmpl = at(o, &["spec", "jobTemplate", "spec"]);
            let (n, img) = container_cells(arr(tmpl, &["template", "spec", "containers"]));
            vec![
                json!(name(o)),
                json!(s(o, &["spec", "schedule"])),
                json!(tz),
                json!(bool_ptr(at(o, &["spec", "suspend"]))),
                json!(arr(o, &["status", "active"]).len() as i64),
                json!(last),
                json!(age(o, now)),
                json!(n),
                json!(img),
                json!(format_label_selector(at(tmpl, &["selector"]))),
            ]
        }
        Kind::Service => service(o, now),
        Kind::Ingress => ingress(o, now),
        Kind::IngressClass => {
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
        Kind::StatefulSet => {
            let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
            vec![
                json!(name(o)),
                json!(format!(
                    "{}/{}",
                    i(o, &["status", "readyReplicas"]),
                    i(o, &["spec", "replicas"])
                )),
                json!(age(o, now)),
                json!(n),
                json!(img),
            ]
        }
        Kind::Endpoints => vec![
            json!(name(o)),
            json!(format_endpoints(o)),
            json!(age(o, now)),
        ],
        Kind::Node => node(o, now),
        Kind::Event => event(&EventView::core(o), now),
        Kind::EventsV1 => event(&EventView::events_v1(o), now),
        Kind::Namespace => vec![
            json!(name(o)),
            json!(s(o, &["status", "phase"])),
            json!(age(o, now)),
        ],
        Kind::Secret => vec![
            json!(name(o)),
            json!(s(o, &["type"])),
            // StringData is merged into Data on write; count both if unmerged.
            json!(secret_data_len(o)),
            json!(age(o, now)),
        ],
        Kind::ServiceAccount => vec![
            json!(name(o)),
            json!(arr(o, &["secrets"]).len() as i64),
            json!(age(o, now)),
        ],
        Kind::PersistentVolume => pv(o, now),
        Kind::PersistentVolumeClaim => pvc(o, now),
        Kind::Deployment => {
            let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
            let sel = match label_selector_string(at(o, &["spec", "selector"])) {
                Ok(sel) => sel,
                Err(()) => "<invalid>".to_string(),
            };
            vec![
                json!(name(o)),
                json!(format!(
                    "{}/{}",
                    i(o, &["status", "readyReplicas"]),
                    i(o, &["spec", "replicas"])
                )),
                json!(i(o, &["status", "updatedReplicas"])),
                json!(i(o, &["status", "availableReplicas"])),
                json!(age(o, now)),
                json!(n),
                json!(img),
                json!(sel),
            ]
        }
        Kind::HorizontalPodAutoscaler => hpa(o, now),
        Kind::ConfigMap => vec![
            json!(name(o)),
            json!(map_len(o, &["data"]) + map_len(o, &["binaryData"])),
            json!(age(o, now)),
        ],
        Kind::NetworkPolicy => vec![
            json!(name(o)),
            json!(format_label_selector_np(at(o, &["spec", "podSelector"]))),
            json!(age(o, now)),
        ],
        Kind::RoleBinding | Kind::ClusterRoleBinding => {
            let role = format!(
                "{}/{}",
                s(o, &["roleRef", "kind"]),
                s(o, &["roleRef", "name"])
            );
            let (users, groups, sas) = subjects(arr(o, &["subjects"]));
            vec![
                json!(name(o)),
                json!(role),
                json!(age(o, now)),
                json!(users.join(", ")),
                json!(groups.join(", ")),
                json!(sas.join(", ")),
            ]
        }
        Kind::CertificateSigningRequest => csr(o, now),
        Kind::Lease => vec![
            json!(name(o)),
            json!(s(o, &["spec", "holderIdentity"])),
            json!(age(o, now)),
        ],
        Kind::StorageClass => {
            let mut n = name(o);
            if is_default_class(o) {
                n.push_str(" (default)");
            }
            vec![
                json!(n),
                json!(s(o, &["provisioner"])),
                json!(or(s(o, &["reclaimPolicy"]), "Delete")),
                json!(or(s(o, &["volumeBindingMode"]), "Immediate")),
                json!(b(o, &["allowVolumeExpansion"])),
                json!(age(o, now)),
            ]
        }
        Kind::ControllerRevision => {
            let controller = arr(o, &["metadata", "ownerReferences"])
                .iter()
                .find(|r| b(r, &["controller"]))
                .map(|r| {
                    let api_version = s(r, &["apiVersion"]);
                    let group = match api_version.rsplit_once('/') {
                        Some((g, _)) => g,
                        None => "",
                    };
                    let k = s(r, &["kind"]);
                    let gk = if group.is_empty() {
                        k.to_string()
                    } else {
                        format!("{k}.{group}")
                    };
                    if gk.is_empty() {
                        s(r, &["name"]).to_string()
                    } else {
                        format!("{}/{}", gk.to_lowercase(), s(r, &["name"]))
                    }
                })
                .unwrap_or_else(|| "<none>".to_string());
            vec![
                json!(name(o)),
                json!(controller),
                json!(i(o, &["revision"])),
                json!(age(o, now)),
            ]
        }
        Kind::ResourceQuota => resource_quota(o, now),
        Kind::PriorityClass => vec![
            json!(name(o)),
            json!(i(o, &["value"])),
            json!(b(o, &["globalDefault"])),
            json!(age(o, now)),
            json!(s(o, &["preemptionPolicy"])),
        ],
        Kind::RuntimeClass => vec![
            json!(name(o)),
            json!(s(o, &["handler"])),
            json!(age(o, now)),
        ],
        Kind::VolumeAttachment => vec![
            json!(name(o)),
            json!(s(o, &["spec", "attacher"])),
            json!(s(o, &["spec", "source", "persistentVolumeName"])),
            json!(s(o, &["spec", "nodeName"])),
            json!(b(o, &["status", "attached"])),
            json!(age(o, now)),
        ],
        Kind::EndpointSlice => vec![
            json!(name(o)),
            json!(s(o, &["addressType"])),
            json!(discovery_ports(arr(o, &["ports"]))),
            json!(discovery_endpoints(arr(o, &["endpoints"]))),
            json!(age(o, now)),
        ],
        Kind::CsiNode => vec![
            json!(name(o)),
            json!(arr(o, &["spec", "drivers"]).len() as i64),
            json!(age(o, now)),
        ],
        Kind::CsiDriver => {
            let spec = at(o, &["spec"]);
            let modes: Vec<&str> = arr(spec, &["volumeLifecycleModes"])
                .iter()
                .map(|m| m.as_str().unwrap_or(""))
                .collect();
            let tokens = match spec.get("tokenRequests").and_then(Value::as_array) {
                Some(t) => t
                    .iter()
                    .map(|x| s(x, &["audience"]))
                    .collect::<Vec<_>>()
                    .join(","),
                None => "<unset>".to_string(),
            };
            vec![
                json!(name(o)),
                json!(at(spec, &["attachRequired"]).as_bool().unwrap_or(true)),
                json!(b(spec, &["podInfoOnMount"])),
                json!(b(spec, &["storageCapacity"])),
                json!(tokens),
                json!(b(spec, &["requiresRepublish"])),
                json!(or(&modes.join(","), "<none>")),
                json!(age(o, now)),
            ]
        }
        Kind::MutatingWebhook | Kind::ValidatingWebhook => vec![
            json!(name(o)),
            json!(arr(o, &["webhooks"]).len() as i64),
            json!(age(o, now)),
        ],
        Kind::Default => {
            // DefaultTableConvertor: creationTimestamp.UTC().Format(RFC3339).
            let created = parse_time(at(o, &["metadata", "creationTimestamp"]))
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
            vec![json!(name(o)), json!(created)]
        }
    }
}

fn secret_data_len(o: &Value) -> i64 {
    let mut n = map_len(o, &["data"]);
    if let (Some(sd), data) = (
        at(o, &["stringData"]).as_object(),
        at(o, &["data"]).as_object(),
    ) {
        n += sd
            .keys()
            .filter(|k| data.is_none_or(|d| !d.contains_key(*k)))
            .count() as i64;
    }
    n
}

/// NetworkPolicy's podSelector is a struct (never nil): an empty one is `<none>`.
fn format_label_selector_np(sel: &Value) -> String {
    if sel.is_object() {
        format_label_selector(sel)
    } else {
        format_label_selector(&json!({}))
    }
}

fn is_default_class(o: &Value) -> bool {
    let ann = at(o, &["metadata", "annotations"]);
    s(ann, &["storageclass.kubernetes.io/is-default-class"]) == "true"
        || s(ann, &["storageclass.beta.kubernetes.io/is-default-class"]) == "true"
}

fn latest(cur: &mut Option<DateTime<Utc>>, v: &Value) {
    if let Some(t) = parse_time(v) {
        if cur.is_none_or(|c| c < t) {
            *cur = Some(t);
        }
    }
}

fn has_condition(conds: &[Value], type_: &str) -> bool {
    conds
        .iter()
        .find(|c| s(c, &["type"]) == type_)
        .is_some_and(|c| s(c, &["status"]) == "True")
}

fn pod(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn job(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = i(o, &["status", "succeeded"]);
    let completions = match opt_i(o, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = i(o, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = parse_time(at(o, &["status", "startTime"]));
    let end = parse_time(at(o, &["status", "completionTime"]));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(now - st),
        (Some(st), Some(en)) => human_duration(en - st),
    };
    let conds = arr(o, &["status", "conditions"]);
    let status = if has_condition(conds, "Complete") {
        "Complete"
    } else if has_condition(conds, "Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if has_condition(conds, "Suspended") {
        "Suspended"
    } else if has_condition(conds, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

fn lb_status_string(ingress: &[Value]) -> String {
    let mut result: Vec<String> = Vec::new();
    for ing in ingress {
        let ip = s(ing, &["ip"]);
        let host = s(ing, &["hostname"]);
        if !ip.is_empty() {
            result.push(ip.to_string());
        } else if !host.is_empty() {
            result.push(host.to_string());
        }
    }
    result.sort();
    result.dedup();
    result.join(",")
}

fn service(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn ingress(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn node(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn pv(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let claim = if is_obj(spec, &["claimRef"]) {
        format!(
            "{}/{}",
            s(spec, &["claimRef", "namespace"]),
            s(spec, &["claimRef", "name"])
        )
    } else {
        String::new()
    };
    let mut phase = s(o, &["status", "phase"]).to_string();
    if deleting(o) {
        phase = "Terminating".to_string();
    }
    // GetPersistentVolumeClass: beta annotation wins over the field.
    let class = match at(
        o,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .as_str()
    {
        Some(c) => c.to_string(),
        None => s(spec, &["storageClassName"]).to_string(),
    };
    let vac = at(spec, &["volumeAttributesClassName"])
        .as_str()
        .unwrap_or("<unset>");
    let mode = at(spec, &["volumeMode"]).as_str().unwrap_or("<unset>");
    vec![
        json!(name(o)),
        json!(quantity(at(spec, &["capacity", "storage"]))),
        json!(access_modes(arr(spec, &["accessModes"]))),
        json!(s(spec, &["persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(class),
        json!(vac),
        json!(s(o, &["status", "reason"])),
        json!(age(o, now)),
        json!(mode),
    ]
}

fn pvc(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let mut phase = s(o, &["status", "phase"]).to_string();
    if deleting(o) {
        phase = "Terminating".to_string();
    }
    let volume = s(spec, &["volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(o, &["status", "capacity", "storage"])),
            access_modes(arr(o, &["status", "accessModes"])),
        )
    };
    let class = match at(
        o,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .as_str()
    {
        Some(c) => c.to_string(),
        None => s(spec, &["storageClassName"]).to_string(),
    };
    let vac = at(spec, &["volumeAttributesClassName"])
        .as_str()
        .unwrap_or("<unset>");
    let mode = at(spec, &["volumeMode"]).as_str().unwrap_or("<unset>");
    vec![
        json!(name(o)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(vac),
        json!(age(o, now)),
        json!(mode),
    ]
}

fn subjects(subjects: &[Value]) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for sub in subjects {
        let n = s(sub, &["name"]).to_string();
        match s(sub, &["kind"]) {
            "ServiceAccount" => sas.push(format!("{}/{}", s(sub, &["namespace"]), n)),
            "User" => users.push(n),
            "Group" => groups.push(n),
            _ => {}
        }
    }
    (users, groups, sas)
}

fn csr(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (mut approved, mut denied, mut failed) = (false, false, false);
    for c in arr(o, &["status", "conditions"]) {
        match s(c, &["type"]) {
            "Approved" => approved = true,
            "Denied" => denied = true,
            "Failed" => failed = true,
            _ => {}
        }
    }
    let mut status = if denied {
        "Denied".to_string()
    } else if approved {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if failed {
        status.push_str(",Failed");
    }
    if !s(o, &["status", "certificate"]).is_empty() {
        status.push_str(",Issued");
    }
    let requested = match opt_i(o, &["spec", "expirationSeconds"]) {
        Some(secs) => human_duration(chrono::Duration::seconds(secs)),
        None => "<none>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(age(o, now)),
        json!(or(s(o, &["spec", "signerName"]), "<none>")),
        json!(s(o, &["spec", "username"])),
        json!(requested),
        json!(status),
    ]
}

fn hpa(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let reference = format!(
        "{}/{}",
        s(spec, &["scaleTargetRef", "kind"]),
        s(spec, &["scaleTargetRef", "name"])
    );
    let min = match opt_i(spec, &["minReplicas"]) {
        Some(m) => m.to_string(),
        None => "<unset>".to_string(),
    };
    vec![
        json!(name(o)),
        json!(reference),
        json!(hpa_metrics(
            arr(spec, &["metrics"]),
            arr(o, &["status", "currentMetrics"])
        )),
        json!(min),
        json!(i(spec, &["maxReplicas"])),
        json!(i(o, &["status", "currentReplicas"])),
        json!(age(o, now)),
    ]
}

fn hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let max = 2usize;
    let mut list: Vec<String> = Vec::new();
    for (idx, spec) in specs.iter().enumerate() {
        let st = statuses.get(idx).unwrap_or(&Value::Null);
        let entry = match s(spec, &["type"]) {
            t @ ("External" | "Object") => {
                let key = if t == "External" {
                    "external"
                } else {
                    "object"
                };
                let target = at(spec, &[key, "target"]);
                let cur = at(st, &[key]);
                if !at(target, &["averageValue"]).is_null() {
                    let current = match at(cur, &["current", "averageValue"]) {
                        Value::Null => "<unknown>".to_string(),
                        v => quantity(v),
                    };
                    format!(
                        "{}/{} (avg)",
                        current,
                        quantity(at(target, &["averageValue"]))
                    )
                } else {
                    let current = if cur.is_object() {
                        quantity(at(cur, &["current", "value"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!("{}/{}", current, quantity(at(target, &["value"])))
                }
            }
            "Pods" => {
                let current = if is_obj(st, &["pods"]) {
                    quantity(at(st, &["pods", "current", "averageValue"]))
                } else {
                    "<unknown>".to_string()
                };
                format!(
                    "{}/{}",
                    current,
                    quantity(at(spec, &["pods", "target", "averageValue"]))
                )
            }
            t @ ("Resource" | "ContainerResource") => {
                let key = if t == "Resource" {
                    "resource"
                } else {
                    "containerResource"
                };
                let target = at(spec, &[key, "target"]);
                let rname = s(spec, &[key, "name"]);
                let cur = at(st, &[key]);
                if !at(target, &["averageValue"]).is_null() {
                    let current = if cur.is_object() {
                        quantity(at(cur, &["current", "averageValue"]))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!(
                        "{}: {}/{}",
                        rname,
                        current,
                        quantity(at(target, &["averageValue"]))
                    )
                } else {
                    let current = match opt_i(cur, &["current", "averageUtilization"]) {
                        Some(u) => format!("{u}%"),
                        None => "<unknown>".to_string(),
                    };
                    let tgt = match opt_i(target, &["averageUtilization"]) {
                        Some(u) => format!("{u}%"),
                        None => "<auto>".to_string(),
                    };
                    format!("{rname}: {current}/{tgt}")
                }
            }
            _ => "<unknown type>".to_string(),
        };
        list.push(entry);
    }
    let count = list.len();
    if count > max {
        list.truncate(max);
        return format!("{} + {} more...", list.join(", "), count - max);
    }
    list.join(", ")
}

fn resource_quota(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let hard = at(o, &["status", "hard"]);
    let used = at(o, &["status", "used"]);
    let mut resources: Vec<&String> = hard
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let (mut req, mut lim) = (Vec::new(), Vec::new());
    for r in resources {
        let used_q = match used.get(r.as_str()) {
            Some(v) => quantity(v),
            None => "0".to_string(),
        };
        let hard_q = quantity(&hard[r.as_str()]);
        let line = format!("{r}: {used_q}/{hard_q}");
        let mut pieces = r.split('.');
        let first = pieces.next().unwrap_or("");
        if pieces.next().is_some() && first == "limits" {
            lim.push(line);
        } else {
            req.push(line);
        }
    }
    vec![
        json!(name(o)),
        json!(age(o, now)),
        json!(req.join(", ")),
        json!(lim.join(", ")),
    ]
}
