//! The scheduler cache (upstream's `internal/cache`): nodes with the pods on them and their
//! aggregates (requested resources, host ports, pods with affinity), including pods assumed on a
//! node between the scheduling decision and the binding being seen on the watch.

use std::collections::HashMap;
use std::sync::Arc;

use super::types::{HostPort, NodeSpec, PodInfo, Resources};

/// A node and what is on it.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// The node (`None`: pods refer to a node the cache has not seen or that was deleted).
    pub spec: Option<NodeSpec>,
    /// Name (also when the node object is unknown).
    pub name: String,
    /// Pods on the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Sum of the pods' requests.
    pub requested: Resources,
    /// Sum of the pods' CPU and memory requests with defaults (for scoring).
    pub non_zero: (i64, i64),
    /// Host ports in use.
    pub ports: Vec<HostPort>,
    /// Pods with any inter-pod affinity term.
    pub with_affinity: usize,
    /// Pods with required anti-affinity terms.
    pub with_anti_affinity: usize,
}

impl NodeInfo {
    /// A node without pods.
    pub fn new(spec: NodeSpec) -> NodeInfo {
        NodeInfo {
            name: spec.name.clone(),
            spec: Some(spec),
            ..Default::default()
        }
    }

    /// Adds a pod and its aggregates.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero.0 += pod.non_zero.0;
        self.non_zero.1 += pod.non_zero.1;
        self.ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.with_affinity += 1;
        }
        if !pod.anti_affinity.is_empty() {
            self.with_anti_affinity += 1;
        }
        self.pods.push(pod);
    }

    /// Removes the pod with `key`, returning it.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.non_zero.0 -= pod.non_zero.0;
        self.non_zero.1 -= pod.non_zero.1;
        for hp in &pod.host_ports {
            if let Some(j) = self.ports.iter().position(|p| p == hp) {
                self.ports.swap_remove(j);
            }
        }
        if pod.has_affinity() {
            self.with_affinity -= 1;
        }
        if !pod.anti_affinity.is_empty() {
            self.with_anti_affinity -= 1;
        }
        Some(pod)
    }

    /// The node's labels (empty when the node is unknown).
    pub fn labels(&self) -> Option<&super::types::Labels> {
        self.spec.as_ref().map(|s| &s.labels)
    }
}

/// Where a pod is in the cache.
#[derive(Clone, Debug)]
struct Placed {
    node: usize,
    assumed: bool,
}

/// All nodes and assigned pods.
#[derive(Default)]
pub struct Cache {
    /// Node slots (never shrinks; deleted nodes keep their slot without a spec).
    pub nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    pods: HashMap<String, Placed>,
    /// Slots of nodes that exist, in a stable order (the scheduling order).
    pub live: Vec<usize>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache::default()
    }

    fn slot(&mut self, name: &str) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        let i = self.nodes.len();
        self.nodes.push(NodeInfo {
            name: name.to_string(),
            ..Default::default()
        });
        self.index.insert(name.to_string(), i);
        i
    }

    fn relive(&mut self) {
        self.live = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].spec.is_some())
            .collect();
    }

    /// Adds or updates a node; answers whether it changed in a way that can matter.
    pub fn set_node(&mut self, spec: NodeSpec) -> bool {
        let i = self.slot(&spec.name.clone());
        let node = &mut self.nodes[i];
        let changed = node.spec.as_ref() != Some(&spec);
        let added = node.spec.is_none();
        node.spec = Some(spec);
        if added {
            self.relive();
        }
        changed
    }

    /// Removes a node (its pods stay until they are deleted).
    pub fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.index.get(name).copied() {
            self.nodes[i].spec = None;
            self.relive();
        }
    }

    /// Names of the existing nodes.
    pub fn node_names(&self) -> Vec<String> {
        self.live
            .iter()
            .map(|i| self.nodes[*i].name.clone())
            .collect()
    }

    /// The slot of an existing node.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.index
            .get(name)
            .copied()
            .filter(|i| self.nodes[*i].spec.is_some())
    }

    /// Whether the pod is in the cache as assumed (bound by us, not yet seen bound).
    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// Whether the pod is in the cache at all.
    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Adds (or replaces) an assigned pod as seen on the watch; confirms an assumed one.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.remove_pod(&pod.key);
        let i = self.slot(&pod.node_name.clone());
        self.pods.insert(
            pod.key.clone(),
            Placed {
                node: i,
                assumed: false,
            },
        );
        self.nodes[i].add_pod(pod);
    }

    /// Assumes `pod` on node slot `node` until the binding is seen or fails.
    pub fn assume(&mut self, pod: Arc<PodInfo>, node: usize) {
        self.remove_pod(&pod.key);
        self.pods.insert(
            pod.key.clone(),
            Placed {
                node,
                assumed: true,
            },
        );
        self.nodes[node].add_pod(pod);
    }

    /// Removes a pod; answers the removed pod.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let placed = self.pods.remove(key)?;
        self.nodes[placed.node].remove_pod(key)
    }

    /// Keys of all cached pods (for relists).
    pub fn pod_keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }
}
