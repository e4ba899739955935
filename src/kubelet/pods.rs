//! The pod worker: for every pod bound to this node (a field-selected watch), makes Docker match
//! the spec — a sandbox holding the pod's network namespace and IP, the app containers joined
//! to it ([`super::containers`]) — and writes the status through `pods/status`. Pods marked for
//! deletion get their containers stopped with the grace period, removed, and the pod object
//! deleted with grace period 0. Containers of pods that no longer exist are removed.
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

use super::containers::{label, Ctx, PullBackOff};
use super::host::HostInfo;
use super::logs::LogSource;
use super::node::NodeState;
use super::runtime::{network_name, Runtime};
use super::spec::{self, PodRuntimeInfo};
use super::status::{self, PodView};
use super::{pause, KubeletError, CONTAINER_LABEL, POD_UID_LABEL, SANDBOX_NAME};
use crate::controllers::common::informer::{Change, Informer};
use crate::controllers::events::{reference, Recorder};
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
    /// Pods this worker wrote a terminal phase for (the cache may not show it yet): never run
    /// again.
    finished: parking_lot::Mutex<HashSet<String>>,
}

impl PodWorker {
    /// A worker for the pods in `pods` (already selected on this node).
    pub fn new(
        client: Client,
        runtime: Runtime,
        host: HostInfo,
        node: NodeState,
        cluster: String,
        pods: Informer<Pod>,
    ) -> PodWorker {
        PodWorker {
            recorder: Recorder::new(client.clone(), "kubelet", Some(&host.node_name)),
            client,
            runtime,
            host,
            node,
            cluster,
            pods,
            queue: WorkQueue::new(),
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
        let (sandbox_id, pod_ip) = match self.ensure_sandbox(&pod, &containers).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(pod = %key, error = %e, "kubelet: pod sandbox failed");
                return Err(e);
            }
        };
        let info = PodRuntimeInfo {
            pod_ip: pod_ip.clone(),
            host_ip: self.host.ip.to_string(),
        };
        let pod_ref = reference("v1", "Pod", &pod.metadata);
        let ctx = Ctx {
            runtime: &self.runtime,
            recorder: &self.recorder,
            pulls: &self.pulls,
            cluster: &self.cluster,
            pod: &pod,
            pod_ref: &pod_ref,
            sandbox_id: &sandbox_id,
            info: &info,
        };
        let mut view = PodView {
            sandbox_ready: true,
            pod_ip: Some(pod_ip),
            host_ip: self.host.ip.to_string(),
            containers: Vec::new(),
        };
        let mut next = Some(POLL);
        for c in pod.spec.iter().flat_map(|s| &s.containers) {
            let (v, wake) = ctx.sync(c, &containers).await?;
            view.containers.push(v);
            next = match (next, wake) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        let status =
            status::pod_status(&pod, &old, &view, crate::controllers::nodes::now_seconds());
        if status != old {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
            let patch = json!({"status": status});
            match api
                .patch_status(
                    key.name.as_str(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            // Nothing runs in a finished pod: its sandbox goes (the app containers stay for logs).
            self.finished.lock().insert(uid.clone());
            self.runtime.remove(&sandbox_id).await?;
            return Ok(None);
        }
        Ok(next)
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
        let ip = inspect
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|n| n.get(&network).cloned())
            .and_then(|e| e.ip_address)
            .unwrap_or_default();
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
                }
                self.runtime
                    .stop_and_remove(c.id.as_deref().unwrap_or_default(), grace)
                    .await
            }
        });
        for result in futures::future::join_all(stops).await {
            result?;
        }
        for c in containers
            .iter()
            .filter(|c| label(c, CONTAINER_LABEL) == Some(SANDBOX_NAME))
        {
            self.runtime
                .remove(c.id.as_deref().unwrap_or_default())
                .await?;
        }
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
        tracing::debug!(pod = %name, namespace = %ns, "kubelet: pod terminated");
        Ok(())
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
        Ok(())
    }
}
