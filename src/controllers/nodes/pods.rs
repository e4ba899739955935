//! The pod half of the simulator: pods bound to a simulated node get an IP from the node's pod
//! CIDR and the status a kubelet would post ([`super::podstatus::step`]); pods marked for
//! deletion are deleted for good (grace period 0). Work is sharded over a few queues by pod, so
//! each pod is handled by one worker at a time and repeated events coalesce into one write.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use crate::controllers::common::informer::Change;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use parking_lot::{Mutex, RwLock};
use serde_json::json;

use super::simulator::SimNode;
use super::{now_seconds, podstatus, Informers};
use crate::controllers::queue::WorkQueue;

/// Workers (and queues) for pods.
const SHARDS: usize = 16;

/// The last status the simulator wrote for a pod, with the resourceVersion it produced.
#[derive(Clone)]
struct Written {
    status: PodStatus,
    revision: u64,
}

/// Runs the pods of simulated nodes.
#[derive(Clone)]
pub struct PodRunner {
    client: Client,
    nodes: Arc<RwLock<HashMap<String, SimNode>>>,
    shards: Arc<Vec<Arc<WorkQueue<ObjectRef<Pod>>>>>,
    /// Pod uid → last written status, until the pod cache shows it.
    written: Arc<Mutex<HashMap<String, Written>>>,
    /// Node → host offsets in use in its pod CIDR, and pod uid → (node, offset).
    ips: Arc<Mutex<Ips>>,
}

#[derive(Default)]
struct Ips {
    used: HashMap<String, BTreeSet<u32>>,
    by_pod: HashMap<String, (String, u32)>,
}

impl PodRunner {
    /// A runner for the pods of the nodes in `nodes`.
    pub fn new(client: Client, nodes: Arc<RwLock<HashMap<String, SimNode>>>) -> PodRunner {
        PodRunner {
            client,
            nodes,
            shards: Arc::new((0..SHARDS).map(|_| WorkQueue::new()).collect()),
            written: Arc::default(),
            ips: Arc::default(),
        }
    }

    fn queue(&self, key: &ObjectRef<Pod>) -> &Arc<WorkQueue<ObjectRef<Pod>>> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % self.shards.len()]
    }

    fn on_node(&self, pod: &Pod) -> bool {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        node.is_some_and(|n| self.nodes.read().contains_key(n))
    }

    /// Reacts to a change of a pod.
    pub fn on_change(&self, change: &Change<Pod>, informers: &Informers) {
        match change {
            Change::Applied(pod) => self.pod_seen(pod),
            Change::Deleted(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                self.written.lock().remove(&uid);
                self.release(&uid);
            }
            Change::Resync => {
                for pod in informers.pods.state() {
                    self.pod_seen(&pod);
                }
            }
        }
    }

    fn pod_seen(&self, pod: &Pod) {
        // Once the cache shows what was written, the copy kept of it is no longer needed.
        if let Some(uid) = &pod.metadata.uid {
            let mut written = self.written.lock();
            if written
                .get(uid)
                .is_some_and(|w| w.revision <= revision(pod))
            {
                written.remove(uid);
            }
        }
        if self.on_node(pod) {
            let key = ObjectRef::from_obj(pod);
            self.queue(&key).add(key);
        }
    }

    /// Queues every pod of `node` (after it was adopted or resumed).
    pub fn resync_node(&self, node: &str, informers: &Informers) {
        for pod in informers.pods.state() {
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node) {
                let key = ObjectRef::from_obj(pod.as_ref());
                self.queue(&key).add(key);
            }
        }
    }

    /// Drops what is known about the pods of a node that is no longer simulated.
    pub fn forget_node(&self, node: &str, informers: &Informers) {
        let mut ips = self.ips.lock();
        ips.used.remove(node);
        ips.by_pod.retain(|_, (n, _)| n != node);
        drop(ips);
        let mut written = self.written.lock();
        for pod in informers.pods.state() {
            if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node) {
                if let Some(uid) = &pod.metadata.uid {
                    written.remove(uid);
                }
            }
        }
    }

    /// Starts the workers (after the pod cache is filled).
    pub fn start(&self, store: Store<Pod>) {
        // Addresses already given out (e.g. before a restart) stay taken.
        for pod in store.state() {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
            if let (Some(node), Some(ip), Some(uid)) = (node, ip, pod.metadata.uid.clone()) {
                self.reserve(&uid, &node, &ip);
            }
        }
        for shard in self.shards.iter() {
            let (this, shard, store) = (self.clone(), shard.clone(), store.clone());
            tokio::spawn(async move {
                loop {
                    let key = shard.next().await;
                    match this.sync(&key, &store, &shard).await {
                        Ok(()) => shard.forget(&key),
                        Err(e) => {
                            tracing::debug!(pod = %key, error = %e, "simulator: pod sync failed");
                            shard.add_rate_limited(key);
                        }
                    }
                }
            });
        }
    }

    async fn sync(
        &self,
        key: &ObjectRef<Pod>,
        store: &Store<Pod>,
        queue: &Arc<WorkQueue<ObjectRef<Pod>>>,
    ) -> Result<(), kube::Error> {
        let Some(pod) = store.get(key) else {
            return Ok(());
        };
        let Some(node_name) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            return Ok(());
        };
        let Some(node) = self.nodes.read().get(&node_name).cloned() else {
            return Ok(());
        };
        if node.paused {
            return Ok(());
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        if pod.metadata.deletion_timestamp.is_some() {
            // The containers are stopped at once; the pod goes for good.
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api.delete(&name, &params).await {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e),
            }
            self.release(&uid);
            return Ok(());
        }
        let observed_rev = revision(&pod);
        let base = {
            let written = self.written.lock();
            match written.get(&uid) {
                Some(w) if w.revision >= observed_rev => w.status.clone(),
                _ => pod.status.clone().unwrap_or_default(),
            }
        };
        if matches!(base.phase.as_deref(), Some("Succeeded" | "Failed")) {
            self.release(&uid);
            return Ok(());
        }
        let pod_ip = match base.pod_ip.clone() {
            Some(ip) => {
                self.reserve(&uid, &node_name, &ip);
                ip
            }
            None if host_network(&pod) => node.ip.to_string(),
            None => match self.allocate(&uid, &node_name, &node) {
                Some(ip) => ip,
                None => {
                    tracing::warn!(pod = %key, node = %node_name, "no pod IP left on node");
                    return Ok(());
                }
            },
        };
        let now = now_seconds();
        let step = podstatus::step(&pod, &base, now, &node.ip.to_string(), &pod_ip);
        if step.status != base {
            let patch = json!({"status": step.status});
            let updated = match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(p) => p,
                Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
                Err(e) => return Err(e),
            };
            self.written.lock().insert(
                uid.clone(),
                Written {
                    status: step.status.clone(),
                    revision: revision(&updated),
                },
            );
        }
        if matches!(step.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            self.release(&uid);
        }
        if let Some(at) = step.wake_at {
            let secs = (at.as_second() - now.as_second()).max(0) as u64;
            queue.add_after(key.clone(), Duration::from_secs(secs.max(1)));
        }
        Ok(())
    }

    fn reserve(&self, uid: &str, node: &str, ip: &str) {
        let Some((net, prefix)) = self.nodes.read().get(node).and_then(|n| n.pod_cidr) else {
            return;
        };
        let Ok(addr) = ip.parse::<Ipv4Addr>() else {
            return;
        };
        let offset = u32::from(addr).wrapping_sub(net);
        if prefix < 32 && offset >> (32 - prefix) == 0 {
            let mut ips = self.ips.lock();
            ips.used.entry(node.to_string()).or_default().insert(offset);
            ips.by_pod
                .insert(uid.to_string(), (node.to_string(), offset));
        }
    }

    /// The next free address of the node's pod CIDR (`.1` is the node's bridge).
    fn allocate(&self, uid: &str, node_name: &str, node: &SimNode) -> Option<String> {
        let (net, prefix) = node.pod_cidr?;
        let size = 1u32.checked_shl(32 - u32::from(prefix))?;
        let mut ips = self.ips.lock();
        if let Some((n, offset)) = ips.by_pod.get(uid) {
            if n == node_name {
                return Some(Ipv4Addr::from(net + offset).to_string());
            }
        }
        let used = ips.used.entry(node_name.to_string()).or_default();
        let offset = (2..size.saturating_sub(1)).find(|o| !used.contains(o))?;
        used.insert(offset);
        ips.by_pod
            .insert(uid.to_string(), (node_name.to_string(), offset));
        Some(Ipv4Addr::from(net + offset).to_string())
    }

    fn release(&self, uid: &str) {
        let mut ips = self.ips.lock();
        if let Some((node, offset)) = ips.by_pod.remove(uid) {
            if let Some(used) = ips.used.get_mut(&node) {
                used.remove(&offset);
            }
        }
    }
}

fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// A pod's resourceVersion as a number (Skiff's are storage revisions).
fn revision(pod: &Pod) -> u64 {
    pod.metadata
        .resource_version
        .as_deref()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}
