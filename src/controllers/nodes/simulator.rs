//! The node half of the simulator: registers `sim-node-<i>`, adopts every Node annotated
//! `skiff.dev/simulated: "true"` (pod CIDR, addresses, capacity, nodeInfo, conditions), renews
//! each node's Lease in `kube-node-lease` in batches, and posts node status when it changed or
//! every 5 minutes (the kubelet's `nodeStatusReportFrequency`).

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::controllers::common::informer::Change;
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use parking_lot::RwLock;
use serde_json::{json, Value};

use super::conditions::{arch, NodeConditions};
use super::pods::PodRunner;
use super::{
    is_paused, is_simulated, Informers, NodesConfig, KUBELET_VERSION, LEASE_NAMESPACE,
    SIMULATED_ANNOTATION,
};
use crate::controllers::queue::WorkQueue;

/// The kubelet posts unchanged status this often.
const STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(300);
/// Lease renewals in flight at once.
const RENEW_CONCURRENCY: usize = 16;
/// Node addresses come from this range (index + 2).
const NODE_IP_BASE: Ipv4Addr = Ipv4Addr::new(172, 18, 0, 0);

/// What the simulator knows about a node it runs.
#[derive(Clone, Debug)]
pub struct SimNode {
    /// InternalIP (the pods' hostIP).
    pub ip: Ipv4Addr,
    /// Pod CIDR: network address and prefix length.
    pub pod_cidr: Option<(u32, u8)>,
    /// Heartbeat paused (the `skiff.dev/simulated-paused` annotation).
    pub paused: bool,
    last_renew: Option<Instant>,
    last_status: Option<Instant>,
}

/// The node simulator (nodes and, through [`PodRunner`], their pods).
#[derive(Clone)]
pub struct Simulator {
    client: Client,
    config: NodesConfig,
    nodes: Arc<RwLock<HashMap<String, SimNode>>>,
    queue: Arc<WorkQueue<String>>,
    /// Pods on simulated nodes.
    pub pods: PodRunner,
}

impl Simulator {
    /// A simulator using `client`.
    pub fn new(client: Client, config: &NodesConfig) -> Simulator {
        let nodes: Arc<RwLock<HashMap<String, SimNode>>> = Arc::default();
        Simulator {
            pods: PodRunner::new(client.clone(), nodes.clone()),
            client,
            config: config.clone(),
            nodes,
            queue: WorkQueue::new(),
        }
    }

    /// Reacts to a change of a Node.
    pub fn on_node_change(&self, change: &Change<Node>, informers: &Informers) {
        match change {
            Change::Applied(node) => self.node_seen(node),
            Change::Deleted(node) => {
                let name = node.metadata.name.clone().unwrap_or_default();
                if self.nodes.write().remove(&name).is_some() {
                    tracing::info!(node = %name, "simulated node deleted");
                    self.pods.forget_node(&name, informers);
                }
            }
            Change::Resync => {
                for node in informers.nodes.state() {
                    self.node_seen(&node);
                }
            }
        }
    }

    fn node_seen(&self, node: &Node) {
        let name = node.metadata.name.clone().unwrap_or_default();
        if is_simulated(node) || self.nodes.read().contains_key(&name) {
            self.queue.add(name);
        }
    }

    /// Reacts to a change of a Pod.
    pub fn on_pod_change(&self, change: &Change<Pod>, informers: &Informers) {
        self.pods.on_change(change, informers);
    }

    /// Registers the configured nodes, then runs nodes, leases and pods until the process ends.
    pub async fn run(self, informers: Informers) {
        tracing::debug!("node simulator: waiting for caches");
        informers.wait_synced().await;
        tracing::debug!("node simulator: caches ready");
        self.register(&informers).await;
        self.pods.start(informers.pods.clone());
        tokio::spawn(self.clone().heartbeats(informers.clone()));
        loop {
            let name = self.queue.next().await;
            match self.sync_node(&name, &informers).await {
                Ok(()) => self.queue.forget(&name),
                Err(e) => {
                    tracing::debug!(node = %name, error = %e, "simulator: node sync failed");
                    self.queue.add_rate_limited(name);
                }
            }
        }
    }

    /// Creates `sim-node-0..N-1` where missing.
    async fn register(&self, informers: &Informers) {
        let api: Api<Node> = Api::all(self.client.clone());
        let mut used = used_cidr_indexes(informers, &self.config);
        for i in 0..self.config.simulated_nodes {
            let name = format!("sim-node-{i}");
            if informers.nodes.get(&ObjectRef::new(&name)).is_some() {
                continue;
            }
            let index = if used.contains_key(&i) {
                next_free(&used)
            } else {
                i
            };
            used.insert(index, ());
            let node = self.new_node(&name, index);
            match api.create(&PostParams::default(), &node).await {
                Ok(_) => tracing::debug!(node = %name, "registered simulated node"),
                Err(kube::Error::Api(e)) if e.code == 409 => {}
                Err(e) => tracing::warn!(node = %name, error = %e, "could not register node"),
            }
        }
        tracing::info!(
            count = self.config.simulated_nodes,
            "simulated nodes registered"
        );
    }

    fn new_node(&self, name: &str, index: u32) -> Node {
        let arch = arch();
        let mut labels = BTreeMap::new();
        for (k, v) in [
            ("beta.kubernetes.io/arch", arch),
            ("beta.kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", arch),
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("type", "simulated"),
        ] {
            labels.insert(k.to_string(), v.to_string());
        }
        let annotations = BTreeMap::from([
            (SIMULATED_ANNOTATION.to_string(), "true".to_string()),
            ("node.alpha.kubernetes.io/ttl".to_string(), "0".to_string()),
        ]);
        let mut node: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {},
        }))
        .unwrap_or_default();
        node.metadata.labels = Some(labels);
        node.metadata.annotations = Some(annotations);
        if let Some(cidr) = self.cidr_for(index) {
            let spec = node.spec.get_or_insert_with(Default::default);
            spec.pod_cidr = Some(cidr.clone());
            spec.pod_cidrs = Some(vec![cidr]);
        }
        node
    }

    /// The `index`th pod CIDR of the cluster range, if it fits.
    fn cidr_for(&self, index: u32) -> Option<String> {
        let (base, prefix) = (
            u32::from(self.config.cluster_cidr.base),
            self.config.cluster_cidr.prefix,
        );
        let mask = self.config.node_cidr_mask_size;
        if mask < prefix || mask > 30 || u64::from(index) >= 1u64 << (mask - prefix) {
            return None;
        }
        let net = base + (index << (32 - mask));
        Some(format!("{}/{mask}", Ipv4Addr::from(net)))
    }

    /// Adopts or refreshes one simulated node.
    async fn sync_node(&self, name: &str, informers: &Informers) -> Result<(), kube::Error> {
        let Some(node) = informers.nodes.get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        if !is_simulated(&node) {
            if self.nodes.write().remove(name).is_some() {
                self.pods.forget_node(name, informers);
            }
            return Ok(());
        }
        let api: Api<Node> = Api::all(self.client.clone());
        let mut pod_cidr = node.spec.as_ref().and_then(|s| s.pod_cidr.clone());
        if pod_cidr.is_none() {
            let used = used_cidr_indexes(informers, &self.config);
            match self.cidr_for(next_free(&used)) {
                Some(cidr) => {
                    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
                    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    pod_cidr = Some(cidr);
                }
                None => tracing::warn!(node = %name, "no pod CIDR left in --cluster-cidr"),
            }
        }
        let parsed = pod_cidr.as_deref().and_then(parse_cidr);
        let index = parsed
            .map(|(net, _)| cidr_index(net, &self.config))
            .unwrap_or(0);
        let ip = Ipv4Addr::from(u32::from(NODE_IP_BASE) + 2 + index);
        let paused = is_paused(&node);
        let (was_known, was_paused, last_status) = {
            let mut nodes = self.nodes.write();
            let entry = nodes.entry(name.to_string()).or_insert(SimNode {
                ip,
                pod_cidr: parsed,
                paused,
                last_renew: None,
                last_status: None,
            });
            let before = (entry.last_status.is_some(), entry.paused, entry.last_status);
            entry.ip = ip;
            entry.pod_cidr = parsed;
            entry.paused = paused;
            before
        };
        if paused {
            return Ok(());
        }
        let stale = last_status.is_none_or(|t| t.elapsed() >= STATUS_REPORT_FREQUENCY);
        if stale || !status_current(&node) {
            let status = self.node_status(&node, ip);
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
                .await?;
            if let Some(n) = self.nodes.write().get_mut(name) {
                n.last_status = Some(Instant::now());
            }
            if !was_known {
                tracing::info!(node = %name, %ip, cidr = ?pod_cidr, "simulating node");
            }
        }
        if !was_known || was_paused {
            self.pods.resync_node(name, informers);
        }
        Ok(())
    }

    /// The status a healthy kubelet posts for `node`.
    fn node_status(&self, node: &Node, ip: Ipv4Addr) -> Value {
        let name = node.metadata.name.clone().unwrap_or_default();
        let c = NodeConditions::new(node);
        let mut conditions = vec![c.condition(
            "NetworkUnavailable",
            "False",
            "RouteCreated",
            "simulated network is ready",
        )];
        conditions.extend(c.no_pressure());
        conditions.push(c.condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ));
        let resources = json!({
            "cpu": self.config.cpu,
            "memory": self.config.memory,
            "pods": self.config.pods.to_string(),
            "ephemeral-storage": "100Gi",
        });
        let digest = {
            use sha2::Digest;
            let d = sha2::Sha256::digest(name.as_bytes());
            d.iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        json!({"status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": conditions,
            "addresses": [
                {"type": "InternalIP", "address": ip.to_string()},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": arch(),
                "bootID": digest,
                "containerRuntimeVersion": "simulated://1.0.0",
                "kernelVersion": "6.1.0-simulated",
                "kubeProxyVersion": KUBELET_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "machineID": digest,
                "operatingSystem": "linux",
                "osImage": "Skiff simulated node",
                "systemUUID": digest,
            },
            "phase": "Running",
        }})
    }

    /// Renews due Leases (and schedules due status reports) in batches, forever.
    async fn heartbeats(self, informers: Informers) {
        let interval = self.config.lease_renew_interval();
        let mut tick = tokio::time::interval(interval / 5);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let mut due = Vec::new();
            {
                let nodes = self.nodes.read();
                for (name, n) in nodes.iter().filter(|(_, n)| !n.paused) {
                    if n.last_renew
                        .is_none_or(|t| t.elapsed() + interval / 10 >= interval)
                    {
                        due.push(name.clone());
                    }
                    if n.last_status
                        .is_some_and(|t| t.elapsed() >= STATUS_REPORT_FREQUENCY)
                    {
                        self.queue.add(name.clone());
                    }
                }
            }
            futures::stream::iter(due)
                .for_each_concurrent(RENEW_CONCURRENCY, |name| {
                    let this = &self;
                    let informers = &informers;
                    async move {
                        match this.renew(&name, informers).await {
                            Ok(()) => {
                                if let Some(n) = this.nodes.write().get_mut(&name) {
                                    n.last_renew = Some(Instant::now());
                                }
                            }
                            Err(e) => {
                                tracing::debug!(node = %name, error = %e, "lease renewal failed")
                            }
                        }
                    }
                })
                .await;
        }
    }

    /// Renews (or creates) the Lease of node `name`.
    async fn renew(&self, name: &str, informers: &Informers) -> Result<(), kube::Error> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let lease_ref = ObjectRef::new(name).within(LEASE_NAMESPACE);
        if informers.leases.get(&lease_ref).is_some() {
            let patch = json!({"spec": {"renewTime": now, "holderIdentity": name}});
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                other => return other.map(|_| ()),
            }
        }
        let Some(node) = informers.nodes.get(&ObjectRef::new(name)) else {
            return Ok(());
        };
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "namespace": LEASE_NAMESPACE,
                "ownerReferences": [{
                    "apiVersion": "v1", "kind": "Node", "name": name,
                    "uid": node.metadata.uid.clone().unwrap_or_default(),
                }],
            },
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
        }))
        .unwrap_or_default();
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let patch = json!({"spec": {"renewTime": now, "holderIdentity": name}});
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map(|_| ())
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether the node's status already says what the simulator would post (so only the periodic
/// report is due).
fn status_current(node: &Node) -> bool {
    let Some(status) = &node.status else {
        return false;
    };
    let want = [
        ("Ready", "True"),
        ("MemoryPressure", "False"),
        ("DiskPressure", "False"),
        ("PIDPressure", "False"),
        ("NetworkUnavailable", "False"),
    ];
    let conditions = status.conditions.as_deref().unwrap_or_default();
    let ok = want
        .iter()
        .all(|(t, s)| conditions.iter().any(|c| c.type_ == *t && c.status == *s));
    ok && status
        .node_info
        .as_ref()
        .is_some_and(|i| i.kubelet_version == KUBELET_VERSION)
        && status.capacity.is_some()
}

/// `a.b.c.d/n` → (network, prefix).
pub fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    (len <= 32).then_some((u32::from(ip), len))
}

fn cidr_index(net: u32, config: &NodesConfig) -> u32 {
    let base = u32::from(config.cluster_cidr.base);
    let shift = 32 - u32::from(config.node_cidr_mask_size.min(32));
    net.wrapping_sub(base).checked_shr(shift).unwrap_or(0)
}

/// Indexes of the pod CIDRs nodes already hold.
fn used_cidr_indexes(informers: &Informers, config: &NodesConfig) -> BTreeMap<u32, ()> {
    informers
        .nodes
        .state()
        .iter()
        .filter_map(|n| n.spec.as_ref()?.pod_cidr.as_deref().and_then(parse_cidr))
        .map(|(net, _)| (cidr_index(net, config), ()))
        .collect()
}

fn next_free(used: &BTreeMap<u32, ()>) -> u32 {
    (0..).find(|i| !used.contains_key(i)).unwrap_or(0)
}
