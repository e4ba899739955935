//! Nodes: the built-in node simulator (what kwok offers: Nodes kept Ready with Leases, pods on
//! them "run" from Pending to Running/Succeeded/Failed), the node lifecycle controller (Ready
//! Unknown, `unreachable`/`not-ready` taints, NoExecute eviction) and pod garbage collection.
//!
//! All of them talk to the API as clients with their own certificate. One informer per kind
//! (Nodes, node Leases, bound Pods) feeds shared stores.

pub mod lifecycle;
pub mod podgc;
pub mod pods;
pub mod podstatus;
pub mod program;
pub mod simulator;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::api::admission::Cidr;
use crate::config::ServerConfig;
use crate::pki::Pki;

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

/// Shared caches of the node components.
#[derive(Clone)]
pub struct Informers {
    /// All Nodes.
    pub nodes: Store<Node>,
    /// Leases in `kube-node-lease`.
    pub leases: Store<Lease>,
    /// Pods bound to a node (`spec.nodeName!=`).
    pub pods: Store<Pod>,
    /// Number of informers that have listed everything once.
    synced: tokio::sync::watch::Sender<usize>,
}

impl Informers {
    /// Waits until the three caches are filled.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        // The sender lives as long as `self`, so this only ends when all three have synced.
        let _ = rx.wait_for(|n| *n >= 3).await;
    }
}

/// Starts the simulator, the node lifecycle controller and pod GC (those not in `cfg.disable`)
/// against the API at `server`. Errors are logged.
pub async fn start(pki: &Pki, server: &str, cfg: &ServerConfig) {
    let client =
        match super::client_for(pki, server, super::CONTROLLER_USER, &["system:masters"]).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "node controllers could not start");
                return;
            }
        };
    let config = NodesConfig::from_server(cfg);
    let enabled = |name: &str| !cfg.disable.iter().any(|d| d == name);
    let sim = enabled(NODE_SIMULATOR).then(|| simulator::Simulator::new(client.clone(), &config));

    let (nodes, node_writer) = reflector::store();
    let (leases, lease_writer) = reflector::store();
    let (pods, pod_writer) = reflector::store();
    let informers = Informers {
        nodes,
        leases,
        pods,
        synced: tokio::sync::watch::Sender::new(0),
    };

    let on_node = sim.clone().map(|s| {
        let informers = informers.clone();
        Arc::new(move |e: &Event<Node>| s.on_node_event(e, &informers)) as Handler<Node>
    });
    tokio::spawn(inform(
        Api::<Node>::all(client.clone()),
        watcher::Config::default(),
        node_writer,
        on_node,
        informers.synced.clone(),
    ));
    tokio::spawn(inform(
        Api::<Lease>::namespaced(client.clone(), LEASE_NAMESPACE),
        watcher::Config::default(),
        lease_writer,
        None,
        informers.synced.clone(),
    ));
    let on_pod = sim
        .clone()
        .map(|s| Arc::new(move |e: &Event<Pod>| s.on_pod_event(e)) as _);
    tokio::spawn(inform(
        Api::<Pod>::all(client.clone()),
        watcher::Config::default().fields("spec.nodeName!="),
        pod_writer,
        on_pod,
        informers.synced.clone(),
    ));

    if let Some(sim) = sim {
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

/// A callback for every watch event of an informer.
pub type Handler<K> = Arc<dyn Fn(&Event<K>) + Send + Sync>;

/// Keeps `writer` in sync with the objects of `api` and calls `handler` for every event.
async fn inform<K>(
    api: Api<K>,
    config: watcher::Config,
    mut writer: reflector::store::Writer<K>,
    handler: Option<Handler<K>>,
    synced: tokio::sync::watch::Sender<usize>,
) where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone,
{
    let stream = watcher::watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    let mut first_sync = true;
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                writer.apply_watcher_event(&event);
                if let Some(h) = &handler {
                    h(&event);
                }
                if first_sync && matches!(event, Event::InitDone) {
                    first_sync = false;
                    tracing::debug!(kind = %K::kind(&Default::default()), "node informer: synced");
                    synced.send_modify(|n| *n += 1);
                }
            }
            Err(e) => tracing::debug!(error = %e, "node informer: watch error"),
        }
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
