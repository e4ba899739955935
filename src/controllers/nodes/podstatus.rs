//! The status a kubelet would report for a pod on a simulated node: one pure step from the last
//! status and the clock. Init containers run first, one after the other; then the containers
//! start; containers whose program ends terminate and are restarted per `restartPolicy` with the
//! kubelet's back-off (10 s doubling to 5 min, `CrashLoopBackOff`).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::program::{interpret, Program};

/// Longest back-off between restarts.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// First back-off.
const INITIAL_BACKOFF: Duration = Duration::from_secs(10);

/// The outcome of one step.
#[derive(Debug)]
pub struct Step {
    /// The new status.
    pub status: PodStatus,
    /// When the status changes next on its own (a container exits or restarts).
    pub wake_at: Option<Timestamp>,
}

/// The kubelet's restart back-off after `restarts` restarts: none for the first restart, then
/// 10 s doubling up to 5 min.
pub fn backoff(restarts: i32) -> Duration {
    if restarts <= 0 {
        return Duration::ZERO;
    }
    let shift = (restarts - 1).min(10) as u32;
    (INITIAL_BACKOFF * 2u32.pow(shift)).min(MAX_BACKOFF)
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// One step of the pod's life at `now`, starting from `base` (the last status).
pub fn step(pod: &Pod, base: &PodStatus, now: Timestamp, host_ip: &str, pod_ip: &str) -> Step {
    let phase = base.phase.as_deref().unwrap_or("Pending");
    if phase == "Succeeded" || phase == "Failed" {
        return Step {
            status: base.clone(),
            wake_at: None,
        };
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.restart_policy.as_deref().unwrap_or("Always");
    let ctx = Ctx { pod, now };
    let mut status = base.clone();
    status.host_ip = Some(host_ip.to_string());
    status.host_ips = Some(vec![HostIP {
        ip: host_ip.to_string(),
    }]);
    if !pod_ip.is_empty() {
        status.pod_ip = Some(pod_ip.to_string());
        status.pod_ips = Some(vec![PodIP {
            ip: pod_ip.to_string(),
        }]);
    }
    status.start_time.get_or_insert(Time(now));
    status.qos_class = Some(qos_class(pod));

    let old_init = by_name(base.init_container_statuses.as_deref());
    let old_main = by_name(base.container_statuses.as_deref());
    let mut wake = None;

    // Init containers, one after the other (sidecars, restartPolicy Always, only need to start).
    let mut init_statuses = Vec::new();
    let mut initialized = true;
    let mut init_failed = false;
    let mut pending_init = Vec::new();
    for c in spec.init_containers.iter().flatten() {
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        if !initialized {
            init_statuses.push(ctx.waiting(c, old_init.get(c.name.as_str()), "PodInitializing"));
            pending_init.push(c.name.clone());
            continue;
        }
        let init_policy = if sidecar {
            "Always"
        } else if policy == "Never" {
            "Never"
        } else {
            "OnFailure"
        };
        let (cs, w) = ctx.advance(c, old_init.get(c.name.as_str()).copied(), init_policy);
        wake = earliest(wake, w);
        let done = if sidecar {
            cs.started == Some(true)
        } else {
            exit_code(&cs) == Some(0)
        };
        if !done {
            initialized = false;
            pending_init.push(c.name.clone());
            if init_policy == "Never" && exit_code(&cs).is_some() {
                init_failed = true;
            }
        }
        init_statuses.push(cs);
    }

    let mut main_statuses = Vec::new();
    for c in &spec.containers {
        if initialized {
            let (cs, w) = ctx.advance(c, old_main.get(c.name.as_str()).copied(), policy);
            wake = earliest(wake, w);
            main_statuses.push(cs);
        } else {
            main_statuses.push(ctx.waiting(c, old_main.get(c.name.as_str()), "PodInitializing"));
        }
    }

    let new_phase = if init_failed {
        "Failed"
    } else if !initialized {
        "Pending"
    } else {
        main_phase(&main_statuses, policy)
    };
    let terminal = new_phase == "Succeeded" || new_phase == "Failed";
    if terminal {
        wake = None;
    }
    let unready: Vec<&str> = main_statuses
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();

    let mut conditions = Vec::new();
    let mut cond = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        conditions.push(condition(base, type_, ok, reason, message, now));
    };
    cond("PodReadyToStartContainers", !terminal, None, None);
    if initialized {
        cond("Initialized", true, None, None);
    } else {
        cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                pending_init.join(" ")
            )),
        );
    }
    let (reason, message) = if unready.is_empty() {
        (None, None)
    } else if new_phase == "Succeeded" {
        (Some("PodCompleted"), None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        )
    };
    cond("Ready", unready.is_empty(), reason, message.clone());
    cond("ContainersReady", unready.is_empty(), reason, message);
    cond("PodScheduled", true, None, None);
    // Conditions set by others (e.g. DisruptionTarget) are kept.
    for c in base.conditions.iter().flatten() {
        if !conditions.iter().any(|n| n.type_ == c.type_) {
            conditions.push(c.clone());
        }
    }
    status.conditions = Some(conditions);
    status.phase = Some(new_phase.to_string());
    status.init_container_statuses = (!init_statuses.is_empty()).then_some(init_statuses);
    status.container_statuses = Some(main_statuses);
    Step {
        status,
        wake_at: wake,
    }
}

fn by_name(list: Option<&[ContainerStatus]>) -> BTreeMap<&str, &ContainerStatus> {
    list.into_iter()
        .flatten()
        .map(|c| (c.name.as_str(), c))
        .collect()
}

fn exit_code(cs: &ContainerStatus) -> Option<i32> {
    cs.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .map(|t| t.exit_code)
}

/// Upstream's phase from the container states.
fn main_phase(statuses: &[ContainerStatus], policy: &str) -> &'static str {
    let terminated: Vec<i32> = statuses.iter().filter_map(exit_code).collect();
    if statuses.is_empty() || terminated.len() < statuses.len() {
        let started = statuses
            .iter()
            .any(|c| c.started == Some(true) || c.restart_count > 0 || c.last_state.is_some());
        return if started { "Running" } else { "Pending" };
    }
    let all_ok = terminated.iter().all(|c| *c == 0);
    match policy {
        "Never" if all_ok => "Succeeded",
        "Never" => "Failed",
        "OnFailure" if all_ok => "Succeeded",
        _ => "Running",
    }
}

/// A pod condition `type_` (True when `ok`), keeping its transition time from `base` while its
/// status holds.
pub fn condition(
    base: &PodStatus,
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let old = base.conditions.iter().flatten().find(|c| c.type_ == type_);
    let transition = match old {
        Some(o) if o.status == status => o.last_transition_time.clone(),
        _ => Some(Time(now)),
    };
    PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        last_transition_time: transition,
        last_probe_time: None,
        reason: reason.map(str::to_string),
        message,
        ..Default::default()
    }
}

struct Ctx<'a> {
    pod: &'a Pod,
    now: Timestamp,
}

impl Ctx<'_> {
    /// A container that has not started yet.
    fn waiting(
        &self,
        c: &Container,
        old: Option<&&ContainerStatus>,
        reason: &str,
    ) -> ContainerStatus {
        ContainerStatus {
            name: c.name.clone(),
            image: normalize_image(c.image.as_deref().unwrap_or_default()),
            image_id: String::new(),
            ready: false,
            started: Some(false),
            restart_count: old.map(|o| o.restart_count).unwrap_or(0),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.to_string()),
                    message: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn container_id(&self, c: &Container, restarts: i32) -> String {
        let uid = self.pod.metadata.uid.as_deref().unwrap_or_default();
        let digest = Sha256::digest(format!("{uid}/{}/{restarts}", c.name));
        format!("simulated://{}", hex(&digest))
    }

    fn running(&self, c: &Container, restarts: i32, since: Timestamp) -> ContainerStatus {
        let image = normalize_image(c.image.as_deref().unwrap_or_default());
        ContainerStatus {
            name: c.name.clone(),
            image_id: image_id(&image),
            image,
            container_id: Some(self.container_id(c, restarts)),
            ready: true,
            started: Some(true),
            restart_count: restarts,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(since)),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Advances one container under `policy`; returns its status and when it changes next.
    fn advance(
        &self,
        c: &Container,
        old: Option<&ContainerStatus>,
        policy: &str,
    ) -> (ContainerStatus, Option<Timestamp>) {
        let program = interpret(
            c.command.as_deref().unwrap_or_default(),
            c.args.as_deref().unwrap_or_default(),
        );
        let mut cs = match old {
            Some(o) if o.container_id.is_some() => o.clone(),
            _ => self.running(c, 0, self.now),
        };
        // A few transitions at most: run → exit → immediate restart → exit → back-off.
        for _ in 0..4 {
            let state = cs.state.clone().unwrap_or_default();
            if let Some(running) = &state.running {
                let started = running.started_at.as_ref().map(|t| t.0).unwrap_or(self.now);
                let Program::Exit { code, after } = program else {
                    return (cs, None);
                };
                let end = add(started, after);
                if end > self.now {
                    return (cs, Some(end));
                }
                cs.ready = false;
                cs.started = Some(false);
                cs.state = Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: code,
                        reason: Some(if code == 0 { "Completed" } else { "Error" }.to_string()),
                        started_at: Some(Time(started)),
                        finished_at: Some(Time(end)),
                        container_id: cs.container_id.clone(),
                        ..Default::default()
                    }),
                    ..Default::default()
                });
                continue;
            }
            // Terminated, or waiting to restart after a termination (in `last_state`).
            let terminated = state
                .terminated
                .clone()
                .or_else(|| cs.last_state.as_ref().and_then(|l| l.terminated.clone()));
            let Some(terminated) = terminated else {
                // Waiting with nothing before: start now.
                let restarts = cs.restart_count;
                cs = self.running(c, restarts, self.now);
                continue;
            };
            let restart =
                policy == "Always" || (policy == "OnFailure" && terminated.exit_code != 0);
            if !restart {
                return (cs, None);
            }
            let finished = terminated
                .finished_at
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(self.now);
            let at = add(finished, backoff(cs.restart_count));
            let last = ContainerState {
                terminated: Some(terminated),
                ..Default::default()
            };
            if at <= self.now {
                let restarts = cs.restart_count + 1;
                cs = self.running(c, restarts, self.now);
                cs.last_state = Some(last);
                continue;
            }
            let pod_name = self.pod.metadata.name.as_deref().unwrap_or_default();
            let ns = self.pod.metadata.namespace.as_deref().unwrap_or_default();
            let uid = self.pod.metadata.uid.as_deref().unwrap_or_default();
            cs.ready = false;
            cs.started = Some(false);
            cs.state = Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some("CrashLoopBackOff".to_string()),
                    message: Some(format!(
                        "back-off {} restarting failed container={} pod={pod_name}_{ns}({uid})",
                        go_duration(backoff(cs.restart_count)),
                        c.name
                    )),
                }),
                ..Default::default()
            });
            cs.last_state = Some(last);
            return (cs, Some(at));
        }
        (cs, Some(self.now))
    }
}

/// A duration as Go prints it (`10s`, `1m20s`, `5m0s`).
pub fn go_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s}s")
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `nginx` → `docker.io/library/nginx:latest`, as container runtimes report images.
pub fn normalize_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    if let Some(d) = digest {
        full = format!("{full}@{d}");
    }
    full
}

/// A stable fake digest for an image: `docker.io/library/nginx@sha256:…`.
fn image_id(image: &str) -> String {
    if image.contains("@sha256:") {
        return image.to_string();
    }
    let repo = match image.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => image,
    };
    format!("{repo}@sha256:{}", hex(&Sha256::digest(image)))
}

/// Upstream's QoS class: Guaranteed, Burstable or BestEffort.
pub fn qos_class(pod: &Pod) -> String {
    let Some(spec) = &pod.spec else {
        return "BestEffort".into();
    };
    let containers: Vec<&Container> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let res = c.resources.clone().unwrap_or_default();
        let requests = res.requests.unwrap_or_default();
        let limits = res.limits.unwrap_or_default();
        let relevant = |m: &BTreeMap<String, _>| {
            m.keys()
                .any(|k: &String| k == "cpu" || k == "memory" || k.starts_with("hugepages-"))
        };
        if relevant(&requests) || relevant(&limits) {
            any = true;
        }
        for r in ["cpu", "memory"] {
            match (requests.get(r), limits.get(r)) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q != l => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort".into()
    } else if guaranteed {
        "Guaranteed".into()
    } else {
        "Burstable".into()
    }
}

#[cfg(test)]
#[path = "podstatus_tests.rs"]
mod tests;
