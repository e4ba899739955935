//! Pod status from what Docker shows (pure, so it is unit-tested): init and app container
//! states with upstream's reasons (ContainerCreating, PodInitializing, Completed, Error,
//! OOMKilled, CrashLoopBackOff, ErrImagePull…), restart counts, `lastState`, the phase by
//! upstream's `getPhase` (a failed init container under restartPolicy Never fails the pod), and
//! the conditions PodReadyToStartContainers, Initialized, ContainersReady, Ready, PodScheduled.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use crate::controllers::nodes::podstatus::{condition, normalize_image, qos_class};

/// The state of one Docker container.
#[derive(Clone, Debug, PartialEq)]
pub enum RunState {
    /// Created, not started yet.
    Created,
    /// Running since `started_at`.
    Running {
        /// Start time.
        started_at: Timestamp,
    },
    /// Exited.
    Exited {
        /// Exit code.
        exit_code: i32,
        /// `Completed`, `Error` or `OOMKilled`.
        reason: String,
        /// Docker's error message, if any.
        message: Option<String>,
        /// Start time (`None` if it never started).
        started_at: Option<Timestamp>,
        /// End time.
        finished_at: Option<Timestamp>,
    },
}

/// One Docker container of a pod's container, as observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    /// Docker id.
    pub id: String,
    /// Restarts before this container was created.
    pub attempt: i32,
    /// `docker-pullable://repo@sha256:…` or `docker://sha256:…`.
    pub image_id: String,
    /// State.
    pub state: RunState,
}

impl Observed {
    /// Whether the container has exited.
    pub fn exited(&self) -> bool {
        matches!(self.state, RunState::Exited { .. })
    }

    fn terminated(&self) -> Option<ContainerStateTerminated> {
        let RunState::Exited {
            exit_code,
            reason,
            message,
            started_at,
            finished_at,
        } = &self.state
        else {
            return None;
        };
        Some(ContainerStateTerminated {
            exit_code: *exit_code,
            reason: Some(reason.clone()),
            message: message.clone().filter(|m| !m.is_empty()),
            started_at: started_at.map(Time),
            finished_at: finished_at.map(Time),
            container_id: Some(format!("docker://{}", self.id)),
            signal: None,
        })
    }
}

/// What the kubelet knows about one container of the pod spec.
#[derive(Clone, Debug, Default)]
pub struct ContainerView {
    /// The container's name in the spec.
    pub name: String,
    /// The spec's image.
    pub image: String,
    /// The latest Docker container.
    pub current: Option<Observed>,
    /// The one before (for `lastState`).
    pub previous: Option<Observed>,
    /// Why it waits, when the kubelet holds it back (image pull errors, restart back-off).
    pub waiting: Option<(String, Option<String>)>,
    /// What the probes say while it runs (`None`: no prober, started and ready).
    pub probes: Option<super::probes::ProbeStatus>,
}

/// Everything the pod's status is computed from.
#[derive(Clone, Debug, Default)]
pub struct PodView {
    /// The sandbox runs (and has its IP).
    pub sandbox_ready: bool,
    /// The pod's IP.
    pub pod_ip: Option<String>,
    /// The node's IP.
    pub host_ip: String,
    /// The spec's init containers, in order.
    pub init_containers: Vec<ContainerView>,
    /// The spec's containers, in order.
    pub containers: Vec<ContainerView>,
    /// The reason of containers not created yet: `ContainerCreating`, or `PodInitializing`
    /// when the pod has init containers (as upstream).
    pub default_waiting: Option<String>,
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_string()),
            message,
        }),
        ..Default::default()
    }
}

/// The status of one container (`default_waiting`: the reason when nothing was created yet).
pub fn container_status(v: &ContainerView, default_waiting: &str) -> ContainerStatus {
    let mut cs = ContainerStatus {
        name: v.name.clone(),
        image: normalize_image(&v.image),
        started: Some(false),
        ..Default::default()
    };
    let last = |o: &Option<Observed>| {
        o.as_ref()
            .and_then(Observed::terminated)
            .map(|t| ContainerState {
                terminated: Some(t),
                ..Default::default()
            })
    };
    match &v.current {
        None => {
            let (reason, message) = v
                .waiting
                .clone()
                .unwrap_or_else(|| (default_waiting.to_string(), None));
            cs.state = Some(waiting(&reason, message));
        }
        Some(cur) => {
            cs.container_id = Some(format!("docker://{}", cur.id));
            cs.image_id = cur.image_id.clone();
            cs.restart_count = cur.attempt;
            cs.last_state = last(&v.previous);
            match &cur.state {
                RunState::Created => {
                    cs.state = Some(waiting("ContainerCreating", None));
                }
                RunState::Running { started_at } => {
                    let probes = v.probes.unwrap_or(super::probes::ProbeStatus {
                        started: true,
                        ready: true,
                    });
                    cs.ready = probes.ready;
                    cs.started = Some(probes.started);
                    cs.state = Some(ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(Time(*started_at)),
                        }),
                        ..Default::default()
                    });
                }
                RunState::Exited { .. } => match &v.waiting {
                    // Waiting to be restarted: the exit is the last state.
                    Some((reason, message)) => {
                        cs.state = Some(waiting(reason, message.clone()));
                        cs.last_state = last(&v.current);
                    }
                    None => {
                        cs.state = Some(ContainerState {
                            terminated: cur.terminated(),
                            ..Default::default()
                        });
                    }
                },
            }
        }
    }
    cs
}

/// Whether an init container is done: exited 0 (a sidecar, restartPolicy Always: running and
/// started).
pub fn init_done(cs: &ContainerStatus, sidecar: bool) -> bool {
    let state = cs.state.clone().unwrap_or_default();
    if sidecar {
        return state.running.is_some() && cs.started == Some(true);
    }
    state.terminated.is_some_and(|t| t.exit_code == 0)
}

/// Whether an init container failed: exited non-zero, now or before the restart it waits for.
pub fn init_failed(cs: &ContainerStatus) -> bool {
    let state = cs.state.clone().unwrap_or_default();
    if let Some(t) = &state.terminated {
        return t.exit_code != 0;
    }
    state.waiting.is_some()
        && cs
            .last_state
            .as_ref()
            .and_then(|l| l.terminated.as_ref())
            .is_some_and(|t| t.exit_code != 0)
}

/// Upstream's `getPhase` for the containers' statuses under `policy`.
pub fn phase(statuses: &[ContainerStatus], policy: &str) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for cs in statuses {
        let state = cs.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if cs
            .last_state
            .as_ref()
            .is_some_and(|l| l.terminated.is_some())
        {
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    if waiting > 0 || statuses.is_empty() {
        return "Pending";
    }
    if running > 0 {
        return "Running";
    }
    match policy {
        "Always" => "Running",
        "OnFailure" if stopped == succeeded => "Succeeded",
        "OnFailure" => "Running",
        _ if stopped == succeeded => "Succeeded",
        _ => "Failed",
    }
}

/// The pod's status at `now` from `view`, keeping transition times (and conditions set by
/// others) of `old`.
pub fn pod_status(pod: &Pod, old: &PodStatus, view: &PodView, now: Timestamp) -> PodStatus {
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".to_string());
    let default_waiting = view
        .default_waiting
        .as_deref()
        .unwrap_or("ContainerCreating");
    let statuses: Vec<ContainerStatus> = view
        .containers
        .iter()
        .map(|v| container_status(v, default_waiting))
        .collect();
    let init_specs = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten());
    let mut init_statuses = Vec::new();
    let mut incomplete = Vec::new();
    let mut init_failures = 0;
    for (v, c) in view.init_containers.iter().zip(init_specs) {
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        let mut cs = container_status(v, default_waiting);
        let done = init_done(&cs, sidecar);
        // A sidecar is ready by its readiness probe (once started), others once done.
        cs.ready = done && (!sidecar || cs.ready);
        if !sidecar && cs.state.as_ref().is_some_and(|s| s.terminated.is_some()) {
            cs.started = Some(false);
        }
        if !done {
            incomplete.push(cs.name.clone());
        }
        if !sidecar && init_failed(&cs) {
            init_failures += 1;
        }
        init_statuses.push(cs);
    }
    let initialized = incomplete.is_empty();
    let phase = if init_failures > 0 && policy == "Never" {
        "Failed"
    } else if !initialized
        && !statuses
            .iter()
            .any(|c| c.state.as_ref().is_some_and(|s| s.waiting.is_none()))
    {
        "Pending"
    } else {
        phase(&statuses, &policy)
    };
    let terminal = phase == "Succeeded" || phase == "Failed";
    let unready: Vec<&str> = statuses
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    let (reason, message) = if unready.is_empty() {
        (None, None)
    } else if phase == "Succeeded" {
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
    let mut conditions = Vec::new();
    let mut cond = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        conditions.push(condition(old, type_, ok, reason, message, now));
    };
    cond(
        "PodReadyToStartContainers",
        view.sandbox_ready && !terminal,
        None,
        None,
    );
    if initialized {
        cond("Initialized", true, None, None);
    } else {
        cond(
            "Initialized",
            false,
            Some("ContainersNotInitialized"),
            Some(format!(
                "containers with incomplete status: [{}]",
                incomplete.join(" ")
            )),
        );
    }
    cond("Ready", unready.is_empty(), reason, message.clone());
    cond("ContainersReady", unready.is_empty(), reason, message);
    cond("PodScheduled", true, None, None);
    for c in old.conditions.iter().flatten() {
        if !conditions.iter().any(|n| n.type_ == c.type_) {
            conditions.push(c.clone());
        }
    }
    let mut status = old.clone();
    status.phase = Some(phase.to_string());
    status.conditions = Some(conditions);
    status.container_statuses = Some(statuses);
    status.init_container_statuses = (!init_statuses.is_empty()).then_some(init_statuses);
    status.host_ip = Some(view.host_ip.clone());
    status.host_ips = Some(vec![HostIP {
        ip: view.host_ip.clone(),
    }]);
    if let Some(ip) = view.pod_ip.clone().filter(|ip| !ip.is_empty()) {
        status.pod_ip = Some(ip.clone());
        status.pod_ips = Some(vec![PodIP { ip }]);
    }
    status.start_time.get_or_insert(Time(now));
    status.qos_class = Some(qos_class(pod));
    status
}

/// A Docker timestamp (RFC 3339 with nanoseconds) to whole seconds; Docker's zero time
/// (`0001-01-01T00:00:00Z`) is `None`.
pub fn docker_time(s: Option<&str>) -> Option<Timestamp> {
    let t: Timestamp = s?.parse().ok()?;
    if t.as_second() <= 0 {
        return None;
    }
    Timestamp::from_second(t.as_second()).ok()
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
