//! The kubelet's Node: registration (name = hostname, InternalIP, capacity from the host, a pod
//! CIDR carved from `--cluster-cidr` as the simulator does), a Lease in `kube-node-lease`
//! renewed every 10 s, and node status (Ready, MemoryPressure, DiskPressure, PIDPressure) posted
//! when it changes and every minute. Without a reachable Docker the node is NotReady with a
//! message that says how to start it.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

use super::host::{kibibytes, HostInfo};
use super::runtime::{Runtime, START_DOCKER_HINT};
use super::{KubeletError, KUBELET_VERSION};
use crate::api::admission::Cidr;
use crate::config::ServerConfig;
use crate::controllers::nodes::conditions::{arch, NodeConditions};
use crate::controllers::nodes::simulator::parse_cidr;
use crate::controllers::nodes::{NodesConfig, LEASE_NAMESPACE};

/// Unchanged node status is posted this often.
const STATUS_REPORT_FREQUENCY: Duration = Duration::from_secs(60);
/// Pods a node takes (the kubelet's `--max-pods` default).
pub const MAX_PODS: u32 = 110;

/// What the pod worker needs to know about the registered node.
#[derive(Clone, Debug)]
pub struct NodeState {
    /// The node's pod CIDR (`10.42.0.0/24`), if one was free.
    pub pod_cidr: Option<String>,
}

/// Registers the node and keeps its Lease and status current.
#[derive(Clone)]
pub struct NodeAgent {
    client: Client,
    host: HostInfo,
    runtime: Runtime,
    cluster_cidr: Cidr,
    mask: u8,
    renew_interval: Duration,
}

impl NodeAgent {
    /// An agent for `host`.
    pub fn new(client: Client, host: HostInfo, cfg: &ServerConfig, runtime: Runtime) -> NodeAgent {
        NodeAgent {
            client,
            host,
            runtime,
            cluster_cidr: cfg.cluster_cidr,
            mask: cfg.node_cidr_mask_size,
            renew_interval: NodesConfig::from_server(cfg).lease_renew_interval(),
        }
    }

    /// Creates the Node (or adopts the existing one), gives it a pod CIDR and posts its status.
    pub async fn register(&self) -> Result<NodeState, KubeletError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let name = &self.host.node_name;
        let existing = loop {
            match api.get_opt(name).await {
                Ok(n) => break n,
                Err(e) => {
                    tracing::debug!(error = %e, "kubelet: waiting for the API");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let mut pod_cidr = existing
            .as_ref()
            .and_then(|n| n.spec.as_ref()?.pod_cidr.clone());
        if pod_cidr.is_none() {
            let used: Vec<String> = api
                .list(&Default::default())
                .await?
                .items
                .iter()
                .filter_map(|n| n.spec.as_ref()?.pod_cidr.clone())
                .collect();
            pod_cidr = free_cidr(self.cluster_cidr, self.mask, &used);
            if pod_cidr.is_none() {
                tracing::warn!(node = %name, "kubelet: no pod CIDR left in --cluster-cidr");
            }
        }
        match existing {
            None => {
                let node = self.new_node(pod_cidr.as_deref());
                match api.create(&PostParams::default(), &node).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(e)) if e.code == 409 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Some(node)
                if node
                    .spec
                    .as_ref()
                    .and_then(|s| s.pod_cidr.as_ref())
                    .is_none() =>
            {
                if let Some(cidr) = &pod_cidr {
                    let patch = json!({"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}});
                    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                }
            }
            Some(_) => {}
        }
        let runtime = self.runtime.version().await;
        self.post_status(&runtime).await?;
        Ok(NodeState { pod_cidr })
    }

    fn new_node(&self, pod_cidr: Option<&str>) -> Node {
        let arch = arch();
        let name = self.host.node_name.as_str();
        let labels: BTreeMap<String, String> = [
            ("beta.kubernetes.io/arch", arch),
            ("beta.kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", arch),
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("node-role.kubernetes.io/control-plane", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut spec = json!({});
        if let Some(cidr) = pod_cidr {
            spec = json!({"podCIDR": cidr, "podCIDRs": [cidr]});
        }
        let mut node: Node = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": spec,
        }))
        .unwrap_or_default();
        node.metadata.labels = Some(labels);
        node
    }

    /// Posts the node status for the runtime state `runtime` (Docker's version or an error).
    async fn post_status(&self, runtime: &Result<String, String>) -> Result<(), KubeletError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let name = &self.host.node_name;
        let old = api.get_status(name).await?;
        let status = node_status(&self.host, &old, runtime);
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
        Ok(())
    }

    /// Renews the Lease every interval and posts status when Docker's state changes (or every
    /// minute), until the process ends.
    pub async fn heartbeat(self) {
        let mut tick = tokio::time::interval(self.renew_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_status: Option<(Instant, bool)> = None;
        loop {
            tick.tick().await;
            if let Err(e) = self.renew().await {
                tracing::debug!(error = %e, "kubelet: lease renewal failed");
            }
            let runtime = self.runtime.version().await;
            let due = match last_status {
                None => true,
                Some((at, ok)) => ok != runtime.is_ok() || at.elapsed() >= STATUS_REPORT_FREQUENCY,
            };
            if due {
                match self.post_status(&runtime).await {
                    Ok(()) => last_status = Some((Instant::now(), runtime.is_ok())),
                    Err(e) => tracing::debug!(error = %e, "kubelet: node status update failed"),
                }
            }
        }
    }

    /// Renews (or creates) the node's Lease.
    async fn renew(&self) -> Result<(), kube::Error> {
        let name = &self.host.node_name;
        let api: Api<Lease> = Api::namespaced(self.client.clone(), LEASE_NAMESPACE);
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let patch = json!({"spec": {"renewTime": now, "holderIdentity": name}});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            other => return other.map(|_| ()),
        }
        let nodes: Api<Node> = Api::all(self.client.clone());
        let uid = nodes.get(name).await?.metadata.uid.unwrap_or_default();
        let lease: Lease = serde_json::from_value(json!({
            "metadata": {
                "name": name,
                "namespace": LEASE_NAMESPACE,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}],
            },
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now},
        }))
        .unwrap_or_default();
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The first pod CIDR of size `/mask` in `cluster` that no node in `used` holds.
pub fn free_cidr(cluster: Cidr, mask: u8, used: &[String]) -> Option<String> {
    let (base, prefix) = (u32::from(cluster.base), cluster.prefix);
    if mask < prefix || mask > 30 {
        return None;
    }
    let taken: Vec<u32> = used
        .iter()
        .filter_map(|c| parse_cidr(c))
        .map(|(net, _)| net)
        .collect();
    let count = 1u64 << (mask - prefix);
    (0..count).find_map(|i| {
        let net = base.checked_add((i as u32).checked_shl(32 - u32::from(mask))?)?;
        (!taken.contains(&net)).then(|| format!("{}/{mask}", Ipv4Addr::from(net)))
    })
}

/// The status the kubelet posts: capacity from the host, conditions from Docker's state.
pub fn node_status(host: &HostInfo, old: &Node, runtime: &Result<String, String>) -> Value {
    let c = NodeConditions::new(old);
    let condition = |t: &str, status: &str, reason: &str, message: &str| {
        c.condition(t, status, reason, message)
    };
    let ready = match runtime {
        Ok(_) => condition(
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
        Err(e) => condition(
            "Ready",
            "False",
            "KubeletNotReady",
            &format!("container runtime is down: {e}; {START_DOCKER_HINT}"),
        ),
    };
    let mut conditions = c.no_pressure().to_vec();
    conditions.push(ready);
    let resources = json!({
        "cpu": host.cpus.to_string(),
        "memory": kibibytes(host.memory_bytes),
        "pods": MAX_PODS.to_string(),
        "ephemeral-storage": kibibytes(host.disk_bytes),
    });
    let runtime_version = match runtime {
        Ok(v) => format!("docker://{v}"),
        Err(_) => "docker://unknown".to_string(),
    };
    json!({"status": {
        "capacity": resources,
        "allocatable": resources,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": host.ip.to_string()},
            {"type": "Hostname", "address": host.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "architecture": arch(),
            "bootID": host.boot_id,
            "containerRuntimeVersion": runtime_version,
            "kernelVersion": host.kernel,
            "kubeProxyVersion": KUBELET_VERSION,
            "kubeletVersion": KUBELET_VERSION,
            "machineID": host.machine_id,
            "operatingSystem": "linux",
            "osImage": host.os_image,
            "systemUUID": host.machine_id,
        },
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_cidrs_skip_used_ones() {
        let cluster: Cidr = "10.42.0.0/16".parse().unwrap();
        assert_eq!(free_cidr(cluster, 24, &[]).as_deref(), Some("10.42.0.0/24"));
        let used = vec!["10.42.0.0/24".to_string(), "10.42.1.0/24".to_string()];
        assert_eq!(
            free_cidr(cluster, 24, &used).as_deref(),
            Some("10.42.2.0/24")
        );
        assert_eq!(free_cidr(cluster, 8, &[]), None);
    }

    #[test]
    fn not_ready_without_docker() {
        let host = HostInfo::detect(std::path::Path::new("/"));
        let status = node_status(&host, &Node::default(), &Err("no socket".into()));
        let ready = status["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "False");
        assert!(ready["message"].as_str().unwrap().contains("dockerd"));
        assert_eq!(status["status"]["capacity"]["pods"], "110");
    }
}
