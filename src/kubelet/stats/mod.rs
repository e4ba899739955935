//! Resource usage of the node and its containers, for the resource metrics API
//! (`metrics.k8s.io`, served by `api/resource_metrics.rs`) and the kubelet's
//! `/metrics/resource` (Prometheus text, `prometheus.rs`): the collector samples `/proc` and
//! Docker's one-shot container stats every [`INTERVAL`] and keeps the usage over the last
//! window, as cAdvisor and metrics-server do. The kubelets of this process register their
//! snapshots here by node name.
//!
//! Files: `usage.rs` (pure arithmetic and parsing), `prometheus.rs` (the text format).

pub mod prometheus;
pub mod usage;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::StatsOptionsBuilder;
use futures::StreamExt;
use parking_lot::RwLock;

use self::usage::{Sample, Usage};
use super::containers::label;
use super::runtime::Runtime;
use super::{CONTAINER_LABEL, POD_NAMESPACE_LABEL, POD_NAME_LABEL, POD_UID_LABEL, SANDBOX_NAME};

/// How often usage is sampled (the window of the reported rates).
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Containers sampled at once.
const PARALLEL_STATS: usize = 8;

/// Usage of one container over the last window.
#[derive(Clone, Debug)]
pub struct ContainerStats {
    /// The container's name in the pod spec.
    pub name: String,
    /// Its usage.
    pub usage: Usage,
    /// When it started (seconds since the epoch), if known.
    pub started_at: Option<i64>,
}

/// Usage of one pod's running containers.
#[derive(Clone, Debug)]
pub struct PodStats {
    /// Namespace of the pod.
    pub namespace: String,
    /// Name of the pod.
    pub name: String,
    /// Uid of the pod.
    pub uid: String,
    /// Its containers with a complete window, by name.
    pub containers: Vec<ContainerStats>,
}

/// The latest usage of a node and its pods.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Node usage; `None` until two samples were taken.
    pub node: Option<Usage>,
    /// Pods whose every running container has a complete window.
    pub pods: Vec<PodStats>,
    /// True when the last collection could not read some container.
    pub scrape_error: bool,
}

/// The shared, latest snapshot of one kubelet.
pub type SharedSnapshot = Arc<RwLock<Arc<Snapshot>>>;

fn sources() -> &'static RwLock<HashMap<String, SharedSnapshot>> {
    static SOURCES: OnceLock<RwLock<HashMap<String, SharedSnapshot>>> = OnceLock::new();
    SOURCES.get_or_init(Default::default)
}

/// Registers the snapshot of the kubelet of `node` (in this process).
pub fn register(node: &str, snapshot: SharedSnapshot) {
    sources().write().insert(node.to_string(), snapshot);
}

/// The latest snapshot of every kubelet of this process, by node name.
pub fn all() -> Vec<(String, Arc<Snapshot>)> {
    let mut out: Vec<(String, Arc<Snapshot>)> = sources()
        .read()
        .iter()
        .map(|(n, s)| (n.clone(), s.read().clone()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The latest snapshot of `node`, if its kubelet runs in this process.
pub fn snapshot_for(node: &str) -> Option<Arc<Snapshot>> {
    sources().read().get(node).map(|s| s.read().clone())
}

/// Samples usage every [`INTERVAL`] and publishes it.
pub struct StatsCollector {
    runtime: Runtime,
    cluster: String,
    shared: SharedSnapshot,
    prev_node: Option<Sample>,
    prev: HashMap<String, Sample>,
    started: HashMap<String, Option<i64>>,
}

impl StatsCollector {
    /// A collector for the containers of `cluster`.
    pub fn new(runtime: Runtime, cluster: String) -> StatsCollector {
        StatsCollector {
            runtime,
            cluster,
            shared: Default::default(),
            prev_node: None,
            prev: HashMap::new(),
            started: HashMap::new(),
        }
    }

    /// The snapshot this collector keeps current.
    pub fn shared(&self) -> SharedSnapshot {
        self.shared.clone()
    }

    /// Collects until the process ends.
    pub async fn run(mut self) {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let snapshot = self.collect().await;
            *self.shared.write() = Arc::new(snapshot);
        }
    }

    async fn collect(&mut self) -> Snapshot {
        let node = node_sample().and_then(|cur| {
            let usage = self
                .prev_node
                .and_then(|prev| usage::usage_between(&prev, &cur));
            self.prev_node = Some(cur);
            usage
        });
        let listed = match self.runtime.containers(&self.cluster, None).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!(error = %e, "kubelet stats: cannot list containers");
                return Snapshot {
                    node,
                    pods: Vec::new(),
                    scrape_error: true,
                };
            }
        };
        let running: Vec<ContainerSummary> = listed
            .into_iter()
            .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
            .filter(|c| label(c, CONTAINER_LABEL).is_some_and(|n| n != SANDBOX_NAME))
            .collect();
        let ids: Vec<String> = running.iter().filter_map(|c| c.id.clone()).collect();
        let samples: HashMap<String, Option<Sample>> = futures::stream::iter(ids)
            .map(|id| {
                let runtime = self.runtime.clone();
                async move {
                    let s = container_sample(&runtime, &id).await;
                    (id, s)
                }
            })
            .buffer_unordered(PARALLEL_STATS)
            .collect()
            .await;
        for c in &running {
            if let Some(id) = &c.id {
                if !self.started.contains_key(id) {
                    let at = started_at(&self.runtime, id).await;
                    self.started.insert(id.clone(), at);
                }
            }
        }
        let scrape_error = samples.values().any(Option::is_none);
        let mut pods: Vec<PodStats> = Vec::new();
        let mut incomplete: Vec<String> = Vec::new();
        for c in &running {
            let (Some(id), Some(uid)) = (c.id.as_deref(), label(c, POD_UID_LABEL)) else {
                continue;
            };
            let usage = samples.get(id).copied().flatten().and_then(|cur| {
                self.prev
                    .get(id)
                    .and_then(|p| usage::usage_between(p, &cur))
            });
            let Some(usage) = usage else {
                incomplete.push(uid.to_string());
                continue;
            };
            let stats = ContainerStats {
                name: label(c, CONTAINER_LABEL).unwrap_or_default().to_string(),
                usage,
                started_at: self.started.get(id).copied().flatten(),
            };
            match pods.iter_mut().find(|p| p.uid == uid) {
                Some(p) => p.containers.push(stats),
                None => pods.push(PodStats {
                    namespace: label(c, POD_NAMESPACE_LABEL)
                        .unwrap_or_default()
                        .to_string(),
                    name: label(c, POD_NAME_LABEL).unwrap_or_default().to_string(),
                    uid: uid.to_string(),
                    containers: vec![stats],
                }),
            }
        }
        // As metrics-server: a pod is reported only when all its running containers are.
        pods.retain(|p| !incomplete.contains(&p.uid));
        for p in &mut pods {
            p.containers.sort_by(|a, b| a.name.cmp(&b.name));
        }
        pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.prev = samples
            .into_iter()
            .filter_map(|(id, s)| s.map(|s| (id, s)))
            .collect();
        self.started.retain(|id, _| self.prev.contains_key(id));
        Snapshot {
            node,
            pods,
            scrape_error,
        }
    }
}

fn now_ms() -> i64 {
    k8s_openapi::jiff::Timestamp::now().as_millisecond()
}

/// The node's cumulative CPU time and working set now.
fn node_sample() -> Option<Sample> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100);
    Some(Sample {
        at_ms: now_ms(),
        cpu_ns: usage::node_cpu_ns(&stat, hz)?,
        working_set: usage::node_working_set(&meminfo)?,
    })
}

/// One container's cumulative CPU time and working set now (Docker's one-shot stats).
async fn container_sample(runtime: &Runtime, id: &str) -> Option<Sample> {
    let docker = runtime.docker().ok()?;
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let mut stream = std::pin::pin!(docker.stats(id, Some(options)));
    let stats = match stream.next().await? {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(container = id, error = %e, "kubelet stats: no stats");
            return None;
        }
    };
    let cpu_ns = stats.cpu_stats?.cpu_usage?.total_usage?;
    let memory = stats.memory_stats?;
    let working_set = usage::container_working_set(memory.usage?, memory.stats.as_ref());
    Some(Sample {
        at_ms: now_ms(),
        cpu_ns,
        working_set,
    })
}

/// When a container started (seconds since the epoch), from Docker's inspect.
async fn started_at(runtime: &Runtime, id: &str) -> Option<i64> {
    let docker = runtime.docker().ok()?;
    let inspect = docker.inspect_container(id, None).await.ok()?;
    let at = inspect.state?.started_at?;
    at.parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}
