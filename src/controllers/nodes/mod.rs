//! Nodes: the built-in node simulator (what kwok offers: Nodes kept Ready with Leases, pods on
//! them "run" from Pending to Running/Succeeded/Failed), the node lifecycle controller (Ready
//! Unknown, `unreachable`/`not-ready` taints, NoExecute eviction) and pod garbage collection.
//!
//! All of them talk to the API as clients, reading the process's shared informers (Nodes,
//! Leases, Pods).

pub mod conditions;
pub mod lifecycle;
pub mod podgc;
pub mod pods;
pub mod podstatus;
pub mod program;
pub mod simulator;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::Store;

use super::common::informer::{SharedInformers, Synced};
use crate::api::admission::Cidr;
use crate::config::ServerConfig;

/// Annotation that makes a Node simulated (set it on a Node to have the simulator run it).
pub const SIMULATED_ANNOTATION: &str = "skiff.dev/simulated";
/// Annotation that pauses a simulated Node's heartbeat (Lease and status), for tests.
pub const PAUSED_ANNOTATION: &str = "skiff.dev/simulated-paused";
/// Namespace of node Leases.
pub const LEASE_NAMESPACE: &str = "kube-node-lease";
/// Name of the node simulator for `--disable`.
pub const NODE_SIMULATOR: &str = "node-simulator";
/// Name of the node lifecycle controller for `--disable`.
pub const NODE_LIFECYCLE_CONTROLLER: &str = "node-lifecycle-controller";
/// Name of the pod garbage collector for `--disable`.
pub const POD_GARBAGE_COLLECTOR: &str = "pod-garbage-collector";
/// The kubelet version simulated nodes report.
pub const KUBELET_VERSION: &str = "v1.33.1";

/// Settings of the node components, taken from the server flags.
#[derive(Clone, Debug)]
pub struct NodesConfig {
    /// Simulated nodes registered at start.
    pub simulated_nodes: u32,
    /// CPU capacity of a simulated node.
    pub cpu: String,
    /// Memory capacity of a simulated node.
    pub memory: String,
    /// Pod capacity of a simulated node.
    pub pods: u32,
    /// Range pod CIDRs are carved from.
    pub cluster_cidr: Cidr,
    /// Prefix length of a node's pod CIDR.
    pub node_cidr_mask_size: u8,
    /// `node-monitor-grace-period`.
    pub grace_period: Duration,
    /// Terminated pods kept (`<= 0`: no limit).
    pub terminated_pod_gc_threshold: i64,
}

impl NodesConfig {
    /// The settings in `cfg`.
    pub fn from_server(cfg: &ServerConfig) -> NodesConfig {
        NodesConfig {
            simulated_nodes: cfg.simulated_nodes,
            cpu: cfg.simulated_node_cpu.clone(),
            memory: cfg.simulated_node_memory.clone(),
            pods: cfg.simulated_node_pods,
            cluster_cidr: cfg.cluster_cidr,
            node_cidr_mask_size: cfg.node_cidr_mask_size,
            grace_period: cfg.node_monitor_grace_period,
            terminated_pod_gc_threshold: cfg.terminated_pod_gc_threshold,
        }
    }

    /// How often a simulated node renews its Lease: 10 s as the kubelet, shorter when the grace
    /// period is shortened (a quarter of it), so healthy nodes never look stale.
    pub fn lease_renew_interval(&self) -> Duration {
        (self.grace_period / 4).clamp(Duration::from_millis(200), Duration::from_secs(10))
    }

    /// How often the lifecycle controller looks at nodes (upstream: 5 s).
    pub fn monitor_period(&self) -> Duration {
        (self.grace_period / 8).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }
}

/// The caches of the node components (views of the process's shared informers).
#[derive(Clone)]
pub struct Informers {
    /// All Nodes.
    pub nodes: Store<Node>,
    /// Leases (node Leases live in `kube-node-lease`).
    pub leases: Store<Lease>,
    /// All Pods (the components look at those bound to a node).
    pub pods: Store<Pod>,
    synced: Vec<Synced>,
}

impl Informers {
    /// Views of `shared`.
    pub fn from_shared(shared: &SharedInformers) -> Informers {
        let (nodes, leases, pods) = (
            shared.get::<Node>(),
            shared.get::<Lease>(),
            shared.get::<Pod>(),
        );
        Informers {
            synced: vec![nodes.synced(), leases.synced(), pods.synced()],
            nodes: nodes.store(),
            leases: leases.store(),
            pods: pods.store(),
        }
    }

    /// Waits until the three caches are filled.
    pub async fn wait_synced(&self) {
        for s in &self.synced {
            s.clone().wait().await;
        }
    }
}

/// Starts the simulator, the node lifecycle controller and pod GC (those not in `cfg.disable`)
/// on the shared informers, talking to the API with their client.
pub fn start(shared: &Arc<SharedInformers>, cfg: &ServerConfig) {
    let client = shared.client().clone();
    let config = NodesConfig::from_server(cfg);
    let enabled = |name: &str| !cfg.disable.iter().any(|d| d == name);
    let informers = Informers::from_shared(shared);

    if enabled(NODE_SIMULATOR) {
        let sim = simulator::Simulator::new(client.clone(), &config);
        let mut nodes = shared.get::<Node>().subscribe();
        let (s, i) = (sim.clone(), informers.clone());
        tokio::spawn(async move {
            while let Some(change) = nodes.recv().await {
                s.on_node_change(&change, &i);
            }
        });
        let mut pods = shared.get::<Pod>().subscribe();
        let (s, i) = (sim.clone(), informers.clone());
        tokio::spawn(async move {
            while let Some(change) = pods.recv().await {
                s.on_pod_change(&change, &i);
            }
        });
        tokio::spawn(sim.run(informers.clone()));
    }
    if enabled(NODE_LIFECYCLE_CONTROLLER) {
        tokio::spawn(lifecycle::run(
            client.clone(),
            informers.clone(),
            config.clone(),
        ));
    }
    if enabled(POD_GARBAGE_COLLECTOR) {
        tokio::spawn(podgc::run(client, informers, config));
    }
}

/// Now, truncated to whole seconds (as `metav1.Time` is stored).
pub fn now_seconds() -> k8s_openapi::jiff::Timestamp {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Whether `node` carries the simulated annotation.
pub fn is_simulated(node: &Node) -> bool {
    annotation(node, SIMULATED_ANNOTATION) == Some("true")
}

/// Whether `node`'s heartbeat is paused.
pub fn is_paused(node: &Node) -> bool {
    annotation(node, PAUSED_ANNOTATION) == Some("true")
}

fn annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str)
}
