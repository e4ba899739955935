//! One container of a pod (app or init): image pull policy (with pull back-off), its
//! environment and mounts, create and start (events Pulling/Pulled/Created/Started/Failed/
//! BackOff), restarts per `restartPolicy` (init containers: OnFailure, or Never) with the
//! kubelet's back-off, the `runAsNonRoot` check, the `postStart` hook, the termination message,
//! and what Docker shows about it ([`Observed`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, Mount,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use k8s_openapi::api::core::v1::{Container, ObjectReference, Pod};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use super::downward::PodRuntimeInfo;
use super::probes;
use super::runtime::Runtime;
use super::spec::{self, Prepared};
use super::status::{docker_time, ContainerView, Observed, RunState};
use super::volumes::mounts::PodVolumes;
use super::{KubeletError, ATTEMPT_LABEL, CONTAINER_LABEL};
use crate::controllers::events::{EventType, Recorder};
use crate::controllers::nodes::podstatus::{backoff, go_duration};

/// Image pull failures per pod uid and container, for `ImagePullBackOff`.
#[derive(Default)]
pub struct PullBackOff {
    failures: Mutex<HashMap<(String, String), (i32, Instant)>>,
}

impl PullBackOff {
    fn waiting(&self, key: &(String, String)) -> Option<Duration> {
        let failures = self.failures.lock();
        let (count, at) = failures.get(key)?;
        backoff(*count).checked_sub(at.elapsed())
    }

    fn failed(&self, key: (String, String)) {
        let mut failures = self.failures.lock();
        let entry = failures.entry(key).or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    fn succeeded(&self, key: &(String, String)) {
        self.failures.lock().remove(key);
    }

    /// Forgets the pods not in `live` (uids).
    pub fn retain(&self, live: &std::collections::HashSet<String>) {
        self.failures
            .lock()
            .retain(|(uid, _), _| live.contains(uid));
    }
}

/// What one container sync needs.
pub struct Ctx<'a> {
    /// Docker.
    pub runtime: &'a Runtime,
    /// Event recorder (component `kubelet`).
    pub recorder: &'a Recorder,
    /// Image pull back-off.
    pub pulls: &'a PullBackOff,
    /// The cluster id label value.
    pub cluster: &'a str,
    /// The pod.
    pub pod: &'a Pod,
    /// The pod's reference for events.
    pub pod_ref: &'a ObjectReference,
    /// The sandbox's Docker id.
    pub sandbox_id: &'a str,
    /// Pod IP and host IP (for `fieldRef`s).
    pub info: &'a PodRuntimeInfo,
    /// The API (ConfigMaps and Secrets of the environment).
    pub client: &'a kube::Client,
    /// The pod's prepared volumes.
    pub volumes: &'a PodVolumes,
    /// The pod's `/etc/hosts` and `/etc/resolv.conf` mounts.
    pub pod_files: &'a [Mount],
    /// The pod's directory (termination message files).
    pub pod_dir: &'a std::path::Path,
}

/// Whether a container is one of the pod's `initContainers` or `containers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An init container: runs to completion before the app containers.
    Init,
    /// An app container.
    App,
}

/// Why a container could not be created.
#[derive(Debug, thiserror::Error)]
enum StartError {
    /// Its configuration cannot be made (`CreateContainerConfigError`).
    #[error("{0}")]
    Config(String),
    /// Docker failed (`RunContainerError`).
    #[error(transparent)]
    Run(#[from] KubeletError),
}

/// The attempt (restart count) a container was created for.
pub fn attempt_of(c: &ContainerSummary) -> i32 {
    label(c, ATTEMPT_LABEL)
        .and_then(|a| a.parse().ok())
        .unwrap_or(0)
}

/// A label of a listed container.
pub fn label<'a>(c: &'a ContainerSummary, key: &str) -> Option<&'a str> {
    c.labels.as_ref()?.get(key).map(String::as_str)
}

/// What Docker shows about a container.
pub fn observe(i: &ContainerInspectResponse, attempt: i32) -> Observed {
    let state = i.state.clone().unwrap_or_default();
    let run = match state.status {
        Some(ContainerStateStatusEnum::RUNNING)
        | Some(ContainerStateStatusEnum::PAUSED)
        | Some(ContainerStateStatusEnum::RESTARTING) => RunState::Running {
            started_at: docker_time(state.started_at.as_deref()).unwrap_or_else(Timestamp::now),
        },
        Some(ContainerStateStatusEnum::CREATED) | Some(ContainerStateStatusEnum::EMPTY) | None => {
            RunState::Created
        }
        _ => {
            let code = state.exit_code.unwrap_or(0) as i32;
            let reason = if state.oom_killed == Some(true) {
                "OOMKilled"
            } else if code == 0 {
                "Completed"
            } else {
                "Error"
            };
            RunState::Exited {
                exit_code: code,
                reason: reason.to_string(),
                message: state.error.clone(),
                started_at: docker_time(state.started_at.as_deref()),
                finished_at: docker_time(state.finished_at.as_deref()),
            }
        }
    };
    Observed {
        id: i.id.clone().unwrap_or_default(),
        attempt,
        image_id: i
            .image
            .as_ref()
            .map(|id| format!("docker://{id}"))
            .unwrap_or_default(),
        state: run,
    }
}

/// The pull policy, defaulted as upstream (`:latest` or no tag → Always, else IfNotPresent).
pub fn pull_policy(c: &Container) -> String {
    if let Some(p) = c.image_pull_policy.clone().filter(|p| !p.is_empty()) {
        return p;
    }
    let image = c.image.as_deref().unwrap_or_default();
    let (_, tag) = super::runtime::split_tag(image);
    if tag == "latest" {
        "Always".to_string()
    } else {
        "IfNotPresent".to_string()
    }
}

/// The restart policy of a container: the pod's for app containers; for init containers
/// `Never` under a pod policy of Never, `Always` for sidecars, else `OnFailure`.
pub fn restart_policy(pod: &Pod, c: &Container, role: Role) -> String {
    let pod_policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".to_string());
    match role {
        Role::App => pod_policy,
        Role::Init if c.restart_policy.as_deref() == Some("Always") => "Always".to_string(),
        Role::Init if pod_policy == "Never" => "Never".to_string(),
        Role::Init => "OnFailure".to_string(),
    }
}

impl Ctx<'_> {
    async fn event(&self, c: &Container, kind: EventType, reason: &str, message: &str) {
        let mut r = self.pod_ref.clone();
        let list = if self.is_init(c) {
            "initContainers"
        } else {
            "containers"
        };
        r.field_path = Some(format!("spec.{list}{{{}}}", c.name));
        self.recorder.record(&r, kind, reason, message).await;
    }

    fn is_init(&self, c: &Container) -> bool {
        self.pod
            .spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten())
            .any(|i| i.name == c.name)
    }

    /// Syncs container `c` (of `role`) given the pod's Docker containers `all`; returns its
    /// view and when to look again (a back-off ending).
    pub async fn sync(
        &self,
        c: &Container,
        role: Role,
        all: &[ContainerSummary],
    ) -> Result<(ContainerView, Option<Duration>), KubeletError> {
        let mut mine: Vec<&ContainerSummary> = all
            .iter()
            .filter(|s| label(s, CONTAINER_LABEL) == Some(c.name.as_str()))
            .collect();
        mine.sort_by_key(|s| std::cmp::Reverse(attempt_of(s)));
        // Keep the latest two (current and previous, for `logs --previous`).
        for old in mine.iter().skip(2) {
            self.runtime
                .remove(old.id.as_deref().unwrap_or_default())
                .await?;
        }
        let docker = self.runtime.docker()?;
        let mut observed = Vec::new();
        for s in mine.iter().take(2) {
            let id = s.id.as_deref().unwrap_or_default();
            match docker.inspect_container(id, None).await {
                Ok(i) => observed.push(self.observe(&i, c, attempt_of(s)).await),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut view = ContainerView {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            current: observed.first().cloned(),
            previous: observed.get(1).cloned(),
            waiting: None,
            probes: None,
        };
        let policy = restart_policy(self.pod, c, role);
        let next_attempt = match &view.current {
            None => 0,
            Some(cur) => match &cur.state {
                RunState::Running { .. } => return Ok((view, None)),
                RunState::Created => {
                    // Created but never started (the kubelet stopped in between): start it.
                    self.start(c, &cur.id).await?;
                    return Ok((view, Some(Duration::from_millis(500))));
                }
                RunState::Exited {
                    exit_code,
                    finished_at,
                    ..
                } => {
                    let restart = policy == "Always" || (policy == "OnFailure" && *exit_code != 0);
                    if !restart {
                        return Ok((view, None));
                    }
                    let wait = backoff(cur.attempt);
                    let ready_at = finished_at
                        .map(|f| f.as_second() + wait.as_secs() as i64)
                        .unwrap_or(0);
                    let left = ready_at - Timestamp::now().as_second();
                    if left > 0 && !wait.is_zero() {
                        let meta = &self.pod.metadata;
                        let message = format!(
                            "back-off {} restarting failed container={} pod={}_{}({})",
                            go_duration(wait),
                            c.name,
                            meta.name.as_deref().unwrap_or_default(),
                            meta.namespace.as_deref().unwrap_or_default(),
                            meta.uid.as_deref().unwrap_or_default()
                        );
                        view.waiting = Some(("CrashLoopBackOff".to_string(), Some(message)));
                        // Upstream's text: the container, then the pod as `name_namespace(uid)`.
                        let event = format!(
                            "Back-off restarting failed container {} in pod {}_{}({})",
                            c.name,
                            meta.name.as_deref().unwrap_or_default(),
                            meta.namespace.as_deref().unwrap_or_default(),
                            meta.uid.as_deref().unwrap_or_default()
                        );
                        self.event(c, EventType::Warning, "BackOff", &event).await;
                        return Ok((view, Some(Duration::from_secs(left as u64))));
                    }
                    cur.attempt + 1
                }
            },
        };
        if let Err((reason, message, retry)) = self.ensure_image(c).await {
            view.waiting = Some((reason, Some(message)));
            return Ok((view, retry));
        }
        match self.create_and_start(c, next_attempt).await {
            Ok(obs) => {
                if view.current.is_some() {
                    view.previous = view.current.take();
                }
                view.current = Some(obs);
                Ok((view, Some(Duration::from_millis(500))))
            }
            Err(e) => {
                let message = e.to_string();
                self.event(
                    c,
                    EventType::Warning,
                    "Failed",
                    &format!("Error: {message}"),
                )
                .await;
                let (reason, retry) = match e {
                    StartError::Config(_) => ("CreateContainerConfigError", 2),
                    StartError::Run(_) => ("RunContainerError", 10),
                };
                view.waiting = Some((reason.to_string(), Some(message)));
                Ok((view, Some(Duration::from_secs(retry))))
            }
        }
    }

    /// Pulls per policy; on failure the waiting reason, message and when to retry.
    async fn ensure_image(&self, c: &Container) -> Result<(), (String, String, Option<Duration>)> {
        let image = c.image.clone().unwrap_or_default();
        let policy = pull_policy(c);
        let key = (
            self.pod.metadata.uid.clone().unwrap_or_default(),
            c.name.clone(),
        );
        let present = self
            .runtime
            .image(&image)
            .await
            .map_err(|e| {
                (
                    "ErrImageInspect".to_string(),
                    e.to_string(),
                    Some(Duration::from_secs(5)),
                )
            })?
            .is_some();
        if policy == "Never" {
            if present {
                return Ok(());
            }
            let message =
                format!("Container image \"{image}\" is not present with pull policy of Never");
            self.event(c, EventType::Warning, "ErrImageNeverPull", &message)
                .await;
            return Err((
                "ErrImageNeverPull".into(),
                message,
                Some(Duration::from_secs(10)),
            ));
        }
        if policy == "IfNotPresent" && present {
            self.event(
                c,
                EventType::Normal,
                "Pulled",
                &format!("Container image \"{image}\" already present on machine"),
            )
            .await;
            return Ok(());
        }
        if let Some(left) = self.pulls.waiting(&key) {
            let message = format!("Back-off pulling image \"{image}\"");
            self.event(c, EventType::Normal, "BackOff", &message).await;
            return Err(("ImagePullBackOff".into(), message, Some(left)));
        }
        self.event(
            c,
            EventType::Normal,
            "Pulling",
            &format!("Pulling image \"{image}\""),
        )
        .await;
        let started = Instant::now();
        match self.runtime.pull(&image).await {
            Ok(()) => {
                self.pulls.succeeded(&key);
                let message = format!(
                    "Successfully pulled image \"{image}\" in {}ms",
                    started.elapsed().as_millis()
                );
                self.event(c, EventType::Normal, "Pulled", &message).await;
                Ok(())
            }
            Err(e) => {
                self.pulls.failed(key.clone());
                let message = format!("Failed to pull image \"{image}\": {e}");
                self.event(c, EventType::Warning, "Failed", &message).await;
                let retry = self.pulls.waiting(&key).unwrap_or(Duration::from_secs(1));
                Err(("ErrImagePull".into(), message, Some(retry)))
            }
        }
    }

    /// The container's resolved environment and mounts.
    async fn prepare(&self, c: &Container, attempt: i32) -> Result<Prepared, StartError> {
        let sources = super::env::fetch(self.client, self.pod, c)
            .await
            .map_err(|e| StartError::Config(e.to_string()))?;
        let env = super::env::resolve(self.pod, c, self.info, &sources)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let mut mounts =
            super::volumes::mounts::mounts(c, self.volumes, &env).map_err(StartError::Config)?;
        mounts.extend(super::dns::for_container(self.pod_files, c));
        mounts.extend(
            super::termination::mount(self.pod_dir, c, attempt).map_err(StartError::Config)?,
        );
        Ok(Prepared { env, mounts })
    }

    async fn create_and_start(&self, c: &Container, attempt: i32) -> Result<Observed, StartError> {
        let prepared = self.prepare(c, attempt).await?;
        let docker = self.runtime.docker()?;
        self.check_non_root(c).await?;
        let name = spec::docker_name(self.pod, &c.name, attempt);
        let config = spec::container_config(
            self.pod,
            c,
            self.cluster,
            self.sandbox_id,
            attempt,
            &prepared,
        );
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        let created = match docker
            .create_container(Some(options.clone()), config.clone())
            .await
        {
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                // A leftover with that name (not labelled as ours): replace it.
                self.runtime.remove(&name).await?;
                docker
                    .create_container(Some(options), config)
                    .await
                    .map_err(KubeletError::from)?
            }
            other => other.map_err(KubeletError::from)?,
        };
        self.event(
            c,
            EventType::Normal,
            "Created",
            &format!("Created container: {}", c.name),
        )
        .await;
        if let Err(e) = self.start(c, &created.id).await {
            let _ = self.runtime.remove(&created.id).await;
            return Err(e.into());
        }
        let inspect = docker
            .inspect_container(&created.id, None)
            .await
            .map_err(KubeletError::from)?;
        Ok(self.observe(&inspect, c, attempt).await)
    }

    /// [`observe`], with the termination message of an exited container.
    async fn observe(&self, i: &ContainerInspectResponse, c: &Container, attempt: i32) -> Observed {
        let mut o = observe(i, attempt);
        if let RunState::Exited {
            exit_code, message, ..
        } = &mut o.state
        {
            if let Some(m) = super::termination::message(self.runtime, i, c, *exit_code).await {
                *message = Some(m);
            }
        }
        o
    }

    /// Upstream's `runAsNonRoot` check against the image's user.
    async fn check_non_root(&self, c: &Container) -> Result<(), StartError> {
        let security = super::security::effective(self.pod, c);
        if !security.run_as_non_root {
            return Ok(());
        }
        let image = c.image.clone().unwrap_or_default();
        let inspect = self
            .runtime
            .docker()?
            .inspect_image(&image)
            .await
            .map_err(KubeletError::from)?;
        let user = inspect.config.and_then(|c| c.user).unwrap_or_default();
        security
            .check_non_root(&user, &probes::hooks::pod_name(self.pod), &c.name)
            .map_err(StartError::Config)
    }

    async fn start(&self, c: &Container, id: &str) -> Result<(), KubeletError> {
        let docker = self.runtime.docker()?;
        docker.start_container(id, None).await?;
        self.event(
            c,
            EventType::Normal,
            "Started",
            &format!("Started container {}", c.name),
        )
        .await;
        let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) else {
            return Ok(());
        };
        let target = probes::handlers::Target {
            docker,
            container_id: id,
            container: c,
            pod_ip: &self.info.pod_ip,
        };
        let grace = super::spec::grace_period(self.pod);
        let timeout = Duration::from_secs(grace.max(1) as u64);
        if let Err(message) = probes::hooks::run(&target, self.pod, hook, timeout).await {
            tracing::debug!(container = %c.name, %message, "kubelet: postStart hook failed");
            self.event(c, EventType::Warning, "FailedPostStartHook", &message)
                .await;
            self.event(c, EventType::Normal, "Killing", "FailedPostStartHook")
                .await;
            let stop = bollard::query_parameters::StopContainerOptionsBuilder::default()
                .t(grace.clamp(0, i32::MAX as i64) as i32)
                .build();
            match docker.stop_container(id, Some(stop)).await {
                Ok(())
                | Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 304 | 404,
                    ..
                }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_defaults() {
        let c = |image: &str, policy: Option<&str>| Container {
            name: "c".into(),
            image: Some(image.into()),
            image_pull_policy: policy.map(str::to_string),
            ..Default::default()
        };
        assert_eq!(pull_policy(&c("busybox", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:latest", None)), "Always");
        assert_eq!(pull_policy(&c("busybox:1.35", None)), "IfNotPresent");
        assert_eq!(pull_policy(&c("busybox", Some("Never"))), "Never");
        assert_eq!(go_duration(Duration::from_secs(80)), "1m20s");
    }
}
