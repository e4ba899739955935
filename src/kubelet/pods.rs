//! The pod worker: for every pod bound to this node (a field-selected watch), makes Docker match
//! the spec — the pod's volumes ([`super::volumes`]; a failure is a `FailedMount` and the pod
//! waits), a sandbox holding the pod's network namespace and IP, its `/etc/hosts` and
//! resolv.conf ([`super::dns`]), the init containers one after the other to completion, then
//! the app containers joined to it ([`super::containers`]) with their probes
//! ([`super::probes`]) — and writes the status through
//! `pods/status`. Pods marked for deletion get their containers stopped with the grace period,
//! removed, their directory deleted, and the pod object deleted with grace period 0. Containers
//! and directories of pods that no longer exist are removed.
//!
//! Docker is polled (every 2 s per live pod) rather than watched for events.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use serde_json::json;

use super::containers::{label, Ctx, PullBackOff, Role};
use super::dns::DnsSettings;
use super::downward::PodRuntimeInfo;
use super::host::HostInfo;
use super::logs::LogSource;
use super::node::NodeState;
use super::probes::ProbeManager;
use super::runtime::{network_name, Runtime};
use super::spec;
use super::status::{self, ContainerView, PodView};
use super::volumes::VolumeManager;
use super::{pause, KubeletError, CONTAINER_LABEL, POD_UID_LABEL, SANDBOX_NAME};
use crate::controllers::common::informer::{Change, Informer};
use crate::controllers::events::{reference, EventType, Recorder};
use crate::controllers::queue::{run_workers, WorkQueue};

/// How often live pods are looked at again (the kubelet's PLEG relist period is 1 s).
const POLL: Duration = Duration::from_secs(2);
/// How often containers of vanished pods are looked for.
const ORPHAN_SWEEP: Duration = Duration::from_secs(10);
/// Pods synced at once.
const WORKERS: usize = 4;

/// Runs the pods of this node.
pub struct PodWorker {
    client: Client,
    runtime: Runtime,
    host: HostInfo,
    node: NodeState,
    cluster: String,
    pods: Informer<Pod>,
    queue: Arc<WorkQueue<ObjectRef<Pod>>>,
    recorder: Recorder,
    pulls: PullBackOff,
    probes: ProbeManager,
    volumes: VolumeManager,
    dns: DnsSettings,
    /// Pods this worker wrote a terminal phase for (the cache may not show it yet): never run
    /// again.
    finished: parking_lot::Mutex<HashSet<String>>,
}

impl PodWorker {
    /// A worker for the pods in `pods` (already selected on this node), their volumes kept by
    /// `volumes`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        runtime: Runtime,
        host: HostInfo,
        node: NodeState,
        cluster: String,
        pods: Informer<Pod>,
        volumes: VolumeManager,
        dns: DnsSettings,
    ) -> PodWorker {
        let recorder = Recorder::new(client.clone(), "kubelet", Some(&host.node_name));
        let queue: Arc<WorkQueue<ObjectRef<Pod>>> = WorkQueue::new();
        let requeue = queue.clone();
        let notify: super::probes::Notify = Arc::new(move |pod: &Pod| {
            requeue.add(ObjectRef::from_obj(pod));
        });
        PodWorker {
            probes: ProbeManager::new(runtime.clone(), recorder.clone(), notify),
            recorder,
            volumes,
            dns,
            client,
            runtime,
            host,
            node,
            cluster,
            pods,
            queue,
            pulls: PullBackOff::default(),
            finished: Default::default(),
        }
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.host.node_name
    }

    /// The Docker connection.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The cluster id label value of this kubelet's containers.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// What the API server reads logs through.
    pub fn log_source(&self) -> LogSource {
        LogSource::new(self.runtime.clone(), self.cluster.clone())
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>) {
        let mut changes = self.pods.subscribe();
        self.pods.synced().wait().await;
        let this = self.clone();
        tokio::spawn(async move {
            while let Some(change) = changes.recv().await {
                match change {
                    Change::Applied(p) | Change::Deleted(p) => {
                        this.queue.add(ObjectRef::from_obj(p.as_ref()))
                    }
                    Change::Resync => this.queue_all(),
                }
            }
        });
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            let mut last_sweep = std::time::Instant::now();
            loop {
                tick.tick().await;
                this.queue_all();
                if last_sweep.elapsed() >= ORPHAN_SWEEP {
                    last_sweep = std::time::Instant::now();
                    if let Err(e) = this.remove_orphans().await {
                        tracing::debug!(error = %e, "kubelet: orphan sweep failed");
                    }
                }
            }
        });
        self.queue_all();
        let this = self.clone();
        run_workers(self.queue.clone(), WORKERS, "kubelet", move |key| {
            let this = this.clone();
            async move { this.sync(&key).await }
        })
        .await;
    }

    fn queue_all(&self) {
        for pod in self.pods.store().state() {
            let terminal = matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            );
            if !terminal || pod.metadata.deletion_timestamp.is_some() {
                self.queue.add(ObjectRef::from_obj(pod.as_ref()));
            }
        }
    }

    /// Makes Docker match one pod; returns when to look again.
    async fn sync(&self, key: &ObjectRef<Pod>) -> Result<Option<Duration>, KubeletError> {
        let Some(pod) = self.pods.store().get(key) else {
            return Ok(None);
        };
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let containers = self.runtime.containers(&self.cluster, Some(&uid)).await?;
        if pod.metadata.deletion_timestamp.is_some() {
            self.terminate(&pod, &containers).await?;
            return Ok(None);
        }
        let old = pod.status.clone().unwrap_or_default();
        if matches!(old.phase.as_deref(), Some("Succeeded" | "Failed"))
            || self.finished.lock().contains(&uid)
        {
            return Ok(None);
        }
        let now = crate::controllers::nodes::now_seconds();
        let deadline_left = super::deadline::seconds_left(&pod, now);
        if deadline_left.is_some_and(|left| left <= 0) {
            self.fail_deadline(&pod, &old, &containers).await?;
            return Ok(None);
        }
        let mut info = PodRuntimeInfo {
            pod_ip: String::new(),
            host_ip: self.host.ip.to_string(),
            node_cpu_millis: (self.host.cpus * 1000) as i64,
            node_memory_bytes: self.host.memory_bytes as i64,
        };
        let pod_ref = reference("v1", "Pod", &pod.metadata);
        let volumes = match self.volumes.sync(&pod, &info).await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(pod = %key, error = %e, "kubelet: volume setup failed");
                let message = e.to_string();
                self.recorder
                    .record(&pod_ref, EventType::Warning, "FailedMount", &message)
                    .await;
                if containers.is_empty() {
                    // Nothing runs yet: the pod waits in ContainerCreating.
                    let view = self.waiting_view(&pod);
                    self.write_status(&pod, &old, &view).await?;
                    return Ok(Some(POLL));
                }
                self.volumes.paths(&pod, &info).await
            }
        };
        let (sandbox_id, pod_ip) = match self.ensure_sandbox(&pod, &containers).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pod = %key, error = %e, "kubelet: pod sandbox failed");
                return Err(e);
            }
        };
        info.pod_ip = pod_ip.clone();
        let pod_dir = self.volumes.pod_dir(&uid);
        let pod_files = super::dns::write_files(&pod_dir, &pod, &pod_ip, &self.dns)
            .map_err(KubeletError::Unsupported)?;
        let ctx = Ctx {
            runtime: &self.runtime,
            recorder: &self.recorder,
            pulls: &self.pulls,
            cluster: &self.cluster,
            pod: &pod,
            pod_ref: &pod_ref,
            sandbox_id: &sandbox_id,
            info: &info,
            client: &self.client,
            volumes: &volumes,
            pod_files: &pod_files,
            pod_dir: &pod_dir,
        };
        let mut view = self.waiting_view(&pod);
        view.sandbox_ready = true;
        view.pod_ip = Some(pod_ip);
        view.init_containers.clear();
        view.containers.clear();
        let mut next = earliest(
            Some(POLL),
            deadline_left.map(|s| Duration::from_secs(s.max(0) as u64)),
        );
        let spec = pod.spec.clone().unwrap_or_default();
        let mut initialized = true;
        for c in spec.init_containers.iter().flatten() {
            if !initialized {
                view.init_containers.push(bare_view(c));
                continue;
            }
            let (mut v, wake) = ctx.sync(c, Role::Init, &containers).await?;
            let sidecar = c.restart_policy.as_deref() == Some("Always");
            if sidecar {
                // A sidecar's probes run like an app container's; its startup probe holds the
                // next init containers back.
                let pod_ip = view.pod_ip.as_deref().unwrap_or_default();
                v.probes = Some(self.probes.sync(&pod, pod_ip, c, v.current.as_ref()));
            }
            let started = v.probes.is_none_or(|p| p.started);
            let done = v.current.as_ref().is_some_and(|o| match &o.state {
                status::RunState::Exited { exit_code, .. } => !sidecar && *exit_code == 0,
                status::RunState::Running { .. } => sidecar && started,
                status::RunState::Created => false,
            }) && v.waiting.is_none();
            initialized &= done;
            view.init_containers.push(v);
            next = earliest(next, wake);
        }
        for c in &spec.containers {
            if !initialized {
                view.containers.push(bare_view(c));
                continue;
            }
            let (mut v, wake) = ctx.sync(c, Role::App, &containers).await?;
            let pod_ip = view.pod_ip.as_deref().unwrap_or_default();
            v.probes = Some(self.probes.sync(&pod, pod_ip, c, v.current.as_ref()));
            view.containers.push(v);
            next = earliest(next, wake);
        }
        let Some(status) = self.write_status(&pod, &old, &view).await? else {
            return Ok(None);
        };
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            // Nothing runs in a finished pod: its sandbox goes (the app containers stay for logs).
            self.finished.lock().insert(uid.clone());
            self.runtime.remove(&sandbox_id).await?;
            return Ok(None);
        }
        Ok(next)
    }

    /// Fails `pod` past its `activeDeadlineSeconds`: stops its containers (keeping them for
    /// logs), removes its sandbox and writes the DeadlineExceeded status.
    async fn fail_deadline(
        &self,
        pod: &Pod,
        old: &k8s_openapi::api::core::v1::PodStatus,
        containers: &[ContainerSummary],
    ) -> Result<(), KubeletError> {
        let pod_ref = reference("v1", "Pod", &pod.metadata);
        self.recorder
            .record(
                &pod_ref,
                EventType::Normal,
                super::deadline::REASON,
                super::deadline::MESSAGE,
            )
            .await;
        let grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        let stops = containers
            .iter()
            .filter(|c| label(c, CONTAINER_LABEL) != Some(SANDBOX_NAME))
            .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
            .map(|c| {
                self.runtime
                    .stop(c.id.as_deref().unwrap_or_default(), grace)
            });
        for result in futures::future::join_all(stops).await {
            result?;
        }
        self.remove_sandboxes(containers).await?;
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        self.finished.lock().insert(uid);
        let status = super::deadline::failed_status(old, crate::controllers::nodes::now_seconds());
        self.patch_status(pod, &status).await?;
        Ok(())
    }

    /// The view of a pod none of whose containers were created yet.
    fn waiting_view(&self, pod: &Pod) -> PodView {
        let spec = pod.spec.clone().unwrap_or_default();
        let init: Vec<ContainerView> = spec
            .init_containers
            .iter()
            .flatten()
            .map(bare_view)
            .collect();
        PodView {
            sandbox_ready: false,
            pod_ip: None,
            host_ip: self.host.ip.to_string(),
            default_waiting: (!init.is_empty()).then(|| "PodInitializing".to_string()),
            init_containers: init,
            containers: spec.containers.iter().map(bare_view).collect(),
        }
    }

    /// Computes the pod's status from `view` and writes it if it changed; `None` if the pod
    /// is gone.
    async fn write_status(
        &self,
        pod: &Pod,
        old: &k8s_openapi::api::core::v1::PodStatus,
        view: &PodView,
    ) -> Result<Option<k8s_openapi::api::core::v1::PodStatus>, KubeletError> {
        let status = status::pod_status(pod, old, view, crate::controllers::nodes::now_seconds());
        if &status != old && !self.patch_status(pod, &status).await? {
            return Ok(None);
        }
        Ok(Some(status))
    }

    /// Merge-patches the pod's status; `false` if the pod is gone.
    async fn patch_status(
        &self,
        pod: &Pod,
        status: &k8s_openapi::api::core::v1::PodStatus,
    ) -> Result<bool, KubeletError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let patch = json!({"status": status});
        match api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the pod's sandbox containers (and with them its network namespace).
    async fn remove_sandboxes(&self, containers: &[ContainerSummary]) -> Result<(), KubeletError> {
        for c in containers
            .iter()
            .filter(|c| label(c, CONTAINER_LABEL) == Some(SANDBOX_NAME))
        {
            self.runtime
                .remove(c.id.as_deref().unwrap_or_default())
                .await?;
        }
        Ok(())
    }

    /// The running sandbox of `pod` (created if needed): its id and the pod's IP.
    async fn ensure_sandbox(
        &self,
        pod: &Pod,
        containers: &[ContainerSummary],
    ) -> Result<(String, String), KubeletError> {
        let host_net = spec::host_network(pod);
        let cidr = self.node.pod_cidr.clone();
        let network = cidr.as_deref().map(network_name).unwrap_or_default();
        let sandboxes: Vec<&ContainerSummary> = containers
            .iter()
            .filter(|c| label(c, CONTAINER_LABEL) == Some(SANDBOX_NAME))
            .collect();
        let running = sandboxes
            .iter()
            .find(|s| s.state == Some(ContainerSummaryStateEnum::RUNNING));
        let docker = self.runtime.docker()?;
        let id = match running {
            Some(s) => s.id.clone().unwrap_or_default(),
            None => {
                // A dead sandbox takes its containers' network with it: start over.
                for c in containers {
                    self.runtime
                        .remove(c.id.as_deref().unwrap_or_default())
                        .await?;
                }
                pause::ensure_image(docker).await?;
                if !host_net {
                    let cidr = cidr.ok_or_else(|| {
                        KubeletError::Unsupported("the node has no pod CIDR".to_string())
                    })?;
                    self.runtime.ensure_network(&network, &cidr).await?;
                }
                let config = spec::sandbox_config(pod, &self.cluster, &network);
                let name = spec::docker_name(pod, SANDBOX_NAME, 0);
                let options = CreateContainerOptionsBuilder::default().name(&name).build();
                self.runtime.remove(&name).await?;
                let created = docker.create_container(Some(options), config).await?;
                docker.start_container(&created.id, None).await?;
                tracing::debug!(pod = ?pod.metadata.name, id = %created.id, "kubelet: sandbox started");
                created.id
            }
        };
        if host_net {
            return Ok((id, self.host.ip.to_string()));
        }
        let inspect = docker.inspect_container(&id, None).await?;
        let endpoint = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(&network).cloned());
        if running.is_none() {
            // A new port on the bridge: hairpin mode, so the pod can reach its own Services.
            if let Some(net) = endpoint.as_ref().and_then(|e| e.network_id.as_deref()) {
                super::hairpin::enable(net);
            }
        }
        let ip = endpoint.and_then(|e| e.ip_address).unwrap_or_default();
        Ok((id, ip))
    }

    /// Stops the pod's containers with its grace period, removes them, and deletes the pod.
    async fn terminate(
        &self,
        pod: &Pod,
        containers: &[ContainerSummary],
    ) -> Result<(), KubeletError> {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| pod.spec.as_ref()?.termination_grace_period_seconds)
            .unwrap_or(30);
        let pod_ref = reference("v1", "Pod", &pod.metadata);
        let apps: Vec<&ContainerSummary> = containers
            .iter()
            .filter(|c| label(c, CONTAINER_LABEL) != Some(SANDBOX_NAME))
            .collect();
        let stops = apps.iter().map(|c| {
            let mut r = pod_ref.clone();
            let name = label(c, CONTAINER_LABEL).unwrap_or_default().to_string();
            r.field_path = Some(format!("spec.containers{{{name}}}"));
            let running = c.state == Some(ContainerSummaryStateEnum::RUNNING);
            async move {
                let id = c.id.as_deref().unwrap_or_default();
                let mut left = grace;
                if running {
                    let message = format!("Stopping container {name}");
                    self.recorder
                        .record(
                            &r,
                            crate::controllers::events::EventType::Normal,
                            "Killing",
                            &message,
                        )
                        .await;
                    left = self.pre_stop(pod, &name, id, grace, &r).await;
                }
                self.runtime.stop_and_remove(id, left).await
            }
        });
        for result in futures::future::join_all(stops).await {
            result?;
        }
        self.remove_sandboxes(containers).await?;
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: pod.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&name, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        self.volumes
            .cleanup(pod.metadata.uid.as_deref().unwrap_or_default());
        tracing::debug!(pod = %name, namespace = %ns, "kubelet: pod terminated");
        Ok(())
    }

    /// Runs the `preStop` hook of container `name` (Docker id `id`) within `grace` seconds;
    /// returns the seconds left for the stop (at least 2, as upstream).
    async fn pre_stop(
        &self,
        pod: &Pod,
        name: &str,
        id: &str,
        grace: i64,
        r: &k8s_openapi::api::core::v1::ObjectReference,
    ) -> i64 {
        let spec = pod.spec.clone().unwrap_or_default();
        let Some(c) = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == name)
        else {
            return grace;
        };
        let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.pre_stop.as_ref()) else {
            return grace;
        };
        let Ok(docker) = self.runtime.docker() else {
            return grace;
        };
        let pod_ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.clone())
            .unwrap_or_default();
        let target = super::probes::handlers::Target {
            docker,
            container_id: id,
            container: c,
            pod_ip: &pod_ip,
        };
        let started = std::time::Instant::now();
        let timeout = Duration::from_secs(grace.max(0) as u64);
        if let Err(message) = super::probes::hooks::run(&target, pod, hook, timeout).await {
            self.recorder
                .record(r, EventType::Warning, "FailedPreStopHook", &message)
                .await;
        }
        (grace - started.elapsed().as_secs() as i64).max(2)
    }

    /// Removes containers of this cluster whose pod no longer exists.
    async fn remove_orphans(&self) -> Result<(), KubeletError> {
        let live: HashSet<String> = self
            .pods
            .store()
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        self.pulls.retain(&live);
        self.probes.retain(&live);
        self.finished.lock().retain(|uid| live.contains(uid));
        for c in self.runtime.containers(&self.cluster, None).await? {
            let uid = label(&c, POD_UID_LABEL).unwrap_or_default();
            if !live.contains(uid) {
                tracing::info!(container = ?c.names, pod_uid = uid, "kubelet: removing the container of a deleted pod");
                self.runtime
                    .remove(c.id.as_deref().unwrap_or_default())
                    .await?;
            }
        }
        // Pod directories: against a fresh list, so a pod that just arrived keeps its own.
        let live: HashSet<String> = self
            .pods
            .store()
            .state()
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        self.volumes.sweep(&live);
        self.volumes.reclaim().await;
        Ok(())
    }
}

/// A container nothing was created for yet.
fn bare_view(c: &k8s_openapi::api::core::v1::Container) -> ContainerView {
    ContainerView {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
