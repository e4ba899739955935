//! Probes (upstream's `pkg/kubelet/prober`): for every running app (or sidecar) container with
//! probes, one task per probe kind runs its action every `periodSeconds` after
//! `initialDelaySeconds` ([`handlers`]; gRPC health checks in [`grpc`]), counts results against
//! the thresholds ([`results`]) and publishes them: the startup probe gates the others and sets
//! `started`; readiness sets `ready` (a container without a readiness probe is ready once
//! started); a liveness or startup failure records `Unhealthy` and `Killing`, runs `preStop` and
//! stops the container, which then restarts per `restartPolicy`. Lifecycle hooks are in
//! [`hooks`].

pub mod grpc;
pub mod handlers;
pub mod hooks;
pub mod results;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bollard::query_parameters::StopContainerOptionsBuilder;
use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod, Probe};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;
use tokio::task::AbortHandle;

use self::handlers::{Outcome, Target};
use self::results::{ProbeResult, Timing, Tracker};
use super::runtime::Runtime;
use super::status::{Observed, RunState};
use crate::controllers::events::{reference, EventType, Recorder};

/// The kinds of probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `livenessProbe`.
    Liveness,
    /// `readinessProbe`.
    Readiness,
    /// `startupProbe`.
    Startup,
}

impl Kind {
    /// As upstream names it in events (`Liveness probe failed: …`).
    fn title(self) -> &'static str {
        match self {
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
            Kind::Startup => "Startup",
        }
    }
}

/// What the probes of a running container say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeStatus {
    /// `started`: the startup probe passed (or there is none).
    pub started: bool,
    /// `ready`: started and the readiness probe passed (or there is none).
    pub ready: bool,
}

/// The published results of one container's probes.
#[derive(Debug, Default)]
struct Shared {
    started: bool,
    ready: bool,
}

struct Entry {
    container_id: String,
    shared: Arc<Mutex<Shared>>,
    tasks: Vec<AbortHandle>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Called with the pod when a probe result of one of its containers changed.
pub type Notify = Arc<dyn Fn(&Pod) + Send + Sync>;

/// Runs the probes of this node's containers.
pub struct ProbeManager {
    runtime: Runtime,
    recorder: Recorder,
    notify: Notify,
    containers: Mutex<HashMap<(String, String), Entry>>,
}

/// What a probe task needs.
struct Worker {
    kind: Kind,
    probe: Probe,
    timing: Timing,
    runtime: Runtime,
    recorder: Recorder,
    pod: Pod,
    container: Container,
    container_id: String,
    pod_ip: String,
    started_at: Timestamp,
    shared: Arc<Mutex<Shared>>,
    notify: Notify,
}

impl ProbeManager {
    /// A manager recording events with `recorder`, calling `notify` when a result changes
    /// (so the pod's status is written at once).
    pub fn new(runtime: Runtime, recorder: Recorder, notify: Notify) -> ProbeManager {
        ProbeManager {
            runtime,
            recorder,
            notify,
            containers: Mutex::default(),
        }
    }

    /// Keeps the probe tasks of container `c` of `pod` in step with `current` (its Docker
    /// container) and returns what they say.
    pub fn sync(
        &self,
        pod: &Pod,
        pod_ip: &str,
        c: &Container,
        current: Option<&Observed>,
    ) -> ProbeStatus {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let key = (uid, c.name.clone());
        let Some((id, started_at)) = current.and_then(|o| match &o.state {
            RunState::Running { started_at } => Some((o.id.clone(), *started_at)),
            _ => None,
        }) else {
            self.containers.lock().remove(&key);
            return ProbeStatus::default();
        };
        let mut containers = self.containers.lock();
        if let Some(e) = containers.get(&key).filter(|e| e.container_id == id) {
            let s = e.shared.lock();
            return ProbeStatus {
                started: s.started,
                ready: s.ready,
            };
        }
        let shared = Arc::new(Mutex::new(Shared {
            started: c.startup_probe.is_none(),
            ready: c.startup_probe.is_none() && c.readiness_probe.is_none(),
        }));
        let mut tasks = Vec::new();
        for (kind, probe) in [
            (Kind::Startup, &c.startup_probe),
            (Kind::Liveness, &c.liveness_probe),
            (Kind::Readiness, &c.readiness_probe),
        ] {
            let Some(probe) = probe.clone() else { continue };
            let worker = Worker {
                kind,
                timing: Timing::of(&probe),
                probe,
                runtime: self.runtime.clone(),
                recorder: self.recorder.clone(),
                pod: pod.clone(),
                container: c.clone(),
                container_id: id.clone(),
                pod_ip: pod_ip.to_string(),
                started_at,
                shared: shared.clone(),
                notify: self.notify.clone(),
            };
            tasks.push(tokio::spawn(worker.run()).abort_handle());
        }
        let status = {
            let s = shared.lock();
            ProbeStatus {
                started: s.started,
                ready: s.ready,
            }
        };
        containers.insert(
            key,
            Entry {
                container_id: id,
                shared,
                tasks,
            },
        );
        status
    }

    /// Stops the probes of pods whose uid is not in `live`.
    pub fn retain(&self, live: &HashSet<String>) {
        self.containers
            .lock()
            .retain(|(uid, _), _| live.contains(uid));
    }
}

impl Worker {
    fn event_ref(&self) -> ObjectReference {
        let mut r = reference("v1", "Pod", &self.pod.metadata);
        let init = self
            .pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten())
            .any(|i| i.name == self.container.name);
        let list = if init { "initContainers" } else { "containers" };
        r.field_path = Some(format!("spec.{list}{{{}}}", self.container.name));
        r
    }

    async fn run(self) {
        let mut tracker = Tracker::default();
        let mut tick = tokio::time::interval(self.timing.period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let since = Timestamp::now().as_second() - self.started_at.as_second();
            if since < self.timing.initial_delay.as_secs() as i64 {
                continue;
            }
            let started = self.shared.lock().started;
            match self.kind {
                Kind::Startup if started => return,
                Kind::Liveness | Kind::Readiness if !started => continue,
                _ => {}
            }
            let outcome = self.probe_once().await;
            let result = match &outcome {
                Outcome::Success => ProbeResult::Success,
                Outcome::Failure(message) => {
                    tracing::debug!(container = %self.container.name, kind = ?self.kind, %message, "kubelet: probe failed");
                    let text = format!("{} probe failed: {message}", self.kind.title());
                    self.recorder
                        .record(&self.event_ref(), EventType::Warning, "Unhealthy", &text)
                        .await;
                    ProbeResult::Failure
                }
            };
            let Some(published) = tracker.observe(result, &self.timing) else {
                continue;
            };
            let ok = published == ProbeResult::Success;
            match self.kind {
                Kind::Readiness => {
                    let changed = std::mem::replace(&mut self.shared.lock().ready, ok) != ok;
                    if changed {
                        (self.notify)(&self.pod);
                    }
                }
                Kind::Startup if ok => {
                    {
                        let mut s = self.shared.lock();
                        s.started = true;
                        s.ready = self.container.readiness_probe.is_none();
                    }
                    (self.notify)(&self.pod);
                }
                Kind::Liveness if ok => {}
                Kind::Liveness | Kind::Startup => {
                    self.kill().await;
                    return;
                }
            }
        }
    }

    async fn probe_once(&self) -> Outcome {
        let Ok(docker) = self.runtime.docker() else {
            return Outcome::Failure("cannot connect to Docker".to_string());
        };
        let t = Target {
            docker,
            container_id: &self.container_id,
            container: &self.container,
            pod_ip: &self.pod_ip,
        };
        let timeout = self.timing.timeout;
        if let Some(exec) = &self.probe.exec {
            let cmd = exec.command.clone().unwrap_or_default();
            return handlers::exec(&t, &cmd, timeout).await;
        }
        if let Some(http) = &self.probe.http_get {
            return handlers::http_get(http, &t, timeout).await;
        }
        if let Some(tcp) = &self.probe.tcp_socket {
            return handlers::tcp(tcp, &t, timeout).await;
        }
        if let Some(g) = &self.probe.grpc {
            let Some(port) = u16::try_from(g.port).ok().filter(|p| *p > 0) else {
                return Outcome::Failure(format!("invalid port number: {}", g.port));
            };
            let service = g.service.as_deref().unwrap_or_default();
            return grpc::check(&self.pod_ip, port, service, timeout).await;
        }
        Outcome::Failure("the probe has no action".to_string())
    }

    /// A failed liveness/startup probe: events, `preStop`, stop within the grace period.
    async fn kill(&self) {
        let what = match self.kind {
            Kind::Startup => "startup",
            _ => "liveness",
        };
        let message = format!(
            "Container {} failed {what} probe, will be restarted",
            self.container.name
        );
        self.recorder
            .record(&self.event_ref(), EventType::Normal, "Killing", &message)
            .await;
        let grace = self
            .probe
            .termination_grace_period_seconds
            .unwrap_or_else(|| super::spec::grace_period(&self.pod))
            .max(0);
        let Ok(docker) = self.runtime.docker() else {
            return;
        };
        let started = std::time::Instant::now();
        if let Some(pre_stop) = self
            .container
            .lifecycle
            .as_ref()
            .and_then(|l| l.pre_stop.as_ref())
        {
            let t = Target {
                docker,
                container_id: &self.container_id,
                container: &self.container,
                pod_ip: &self.pod_ip,
            };
            let timeout = Duration::from_secs(grace as u64);
            if let Err(e) = hooks::run(&t, &self.pod, pre_stop, timeout).await {
                self.recorder
                    .record(
                        &self.event_ref(),
                        EventType::Warning,
                        "FailedPreStopHook",
                        &e,
                    )
                    .await;
            }
        }
        let left = (grace - started.elapsed().as_secs() as i64).max(2);
        let stop = StopContainerOptionsBuilder::default()
            .t(left as i32)
            .build();
        if let Err(e) = docker.stop_container(&self.container_id, Some(stop)).await {
            tracing::warn!(container = %self.container.name, error = %e, "kubelet: cannot stop an unhealthy container");
        }
    }
}
