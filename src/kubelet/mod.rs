//! The kubelet on Docker: registers this machine as a Node (Lease heartbeats, conditions), runs
//! the pods bound to it as Docker containers through `bollard` (a sandbox from Skiff's own pause
//! image on a bridge network for the node's pod CIDR, app containers joining its network
//! namespace), writes their status through `pods/status`, stops and removes them when pods are
//! deleted, and serves their logs (`pods/log`), exec/attach sessions and port-forward
//! connections (`pods/exec`, `pods/attach`, `pods/portforward`) to the API server.
//!
//! Everything it creates in Docker carries the labels below, so after a restart (even `kill -9`)
//! the kubelet finds its containers again instead of starting duplicates.
//!
//! Files: `cleanup.rs` (`skiff server --cleanup`), `host.rs` (what this machine is), `node.rs` (Node + Lease), `runtime.rs` (Docker
//! connection, network, images, container lookups), `pause.rs` (the pause image), `spec.rs`
//! (pod spec → container config), `security.rs` (resources and securityContext → Docker),
//! `probes/` (liveness/readiness/startup probes and lifecycle hooks), `termination.rs`
//! (`terminationMessagePath`), `env.rs` (the environment), `service_env.rs` (service link
//! variables), `downward.rs` (downward API fields and resources), `volumes/` (pod volumes on
//! the host), `local_path.rs` (the local-path provisioner and its StorageClass), `dns.rs`
//! (`/etc/hosts`, resolv.conf), `containers.rs` (one container: images, start, restarts),
//! `status.rs` (container states → pod status, pure), `pods.rs` (the pod worker), `logs.rs`
//! (log streams for the API server), `streaming.rs` (exec, attach and port-forward connections
//! for the API server), `stats/` (resource usage for `metrics.k8s.io` and `/metrics/resource`).

pub mod cleanup;
pub mod containers;
pub mod deadline;
pub mod dns;
pub mod downward;
pub mod env;
pub mod hairpin;
pub mod host;
pub mod local_path;
pub mod logs;
pub mod node;
pub mod pause;
pub mod pods;
pub mod probes;
pub mod runtime;
pub mod security;
pub mod service_env;
pub mod spec;
pub mod stats;
pub mod status;
pub mod streaming;
pub mod termination;
pub mod volumes;

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::watcher;

use crate::config::ServerConfig;
use crate::controllers::common::informer::Informer;
use crate::pki::Pki;

/// Name of the kubelet for `--disable`.
pub const DISABLE_NAME: &str = "kubelet";
/// Label on everything the kubelet creates in Docker.
pub const MANAGED_LABEL: &str = "skiff.io/managed";
/// Label: the cluster (kube-system namespace uid) a container belongs to, so that several
/// clusters on one Docker never touch each other's containers.
pub const CLUSTER_LABEL: &str = "skiff.io/cluster";
/// Label: the pod's uid.
pub const POD_UID_LABEL: &str = "skiff.io/pod-uid";
/// Label: the pod's namespace.
pub const POD_NAMESPACE_LABEL: &str = "skiff.io/pod-namespace";
/// Label: the pod's name.
pub const POD_NAME_LABEL: &str = "skiff.io/pod-name";
/// Label: the container's name in the pod spec ([`SANDBOX_NAME`] for the sandbox).
pub const CONTAINER_LABEL: &str = "skiff.io/container";
/// Label: how many times the container was restarted before this one was created.
pub const ATTEMPT_LABEL: &str = "skiff.io/attempt";
/// The value of [`CONTAINER_LABEL`] on a pod's sandbox.
pub const SANDBOX_NAME: &str = "POD";
/// The kubelet version reported in `nodeInfo`.
pub const KUBELET_VERSION: &str = crate::controllers::nodes::KUBELET_VERSION;

/// Errors of the kubelet.
#[derive(Debug, thiserror::Error)]
pub enum KubeletError {
    /// Docker answered with an error or could not be reached.
    #[error("docker: {0}")]
    Docker(#[from] bollard::errors::Error),
    /// The API server answered with an error.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// The client for the API could not be made.
    #[error(transparent)]
    Client(#[from] crate::controllers::ControllerError),
    /// Something this slice of the kubelet cannot do (yet).
    #[error("{0}")]
    Unsupported(String),
}

/// Starts the kubelet in the background against the API at `server` (unless disabled).
pub fn spawn(pki: &Pki, server: &str, cfg: &ServerConfig) {
    let (pki, server, cfg) = (pki.clone(), server.to_string(), cfg.clone());
    tokio::spawn(async move {
        if let Err(e) = run(&pki, &server, &cfg).await {
            tracing::error!(error = %e, "kubelet could not start");
        }
    });
}

/// Runs the kubelet: registers the node, then runs its pods until the process ends.
pub async fn run(pki: &Pki, server: &str, cfg: &ServerConfig) -> Result<(), KubeletError> {
    let host = host::HostInfo::detect(&cfg.data_dir());
    let user = format!("system:node:{}", host.node_name);
    let client = crate::controllers::client_for(
        pki,
        server,
        &user,
        &["system:nodes", "system:masters"],
        "kubelet",
    )
    .await?;
    let cluster = cluster_id(&client).await;
    if let Err(e) = cleanup::record_cluster_id(&cfg.data_dir(), &cluster) {
        tracing::warn!(error = %e, "kubelet: cannot record the cluster id (needed by --cleanup)");
    }
    let runtime = runtime::Runtime::connect();
    let agent = node::NodeAgent::new(client.clone(), host.clone(), cfg, runtime.clone());
    let node = agent.register().await?;
    tracing::info!(node = %host.node_name, cidr = ?node.pod_cidr, "kubelet: node registered");
    tokio::spawn(agent.clone().heartbeat());

    let api: Api<Pod> = Api::all(client.clone());
    let selector = format!("spec.nodeName={}", host.node_name);
    // Whole pods: the shared informers drop volumes, which the kubelet mounts.
    let pods = Informer::spawn_whole(api, watcher::Config::default().fields(&selector));
    let dns = dns::DnsSettings {
        cluster_dns: vec![cfg.cluster_dns.to_string()],
        cluster_domain: cfg.cluster_domain.clone(),
        host_resolv_conf: cfg.resolv_conf.clone(),
        host_hosts: "/etc/hosts".into(),
    };
    let local = if cfg.disable.iter().any(|d| d == local_path::DISABLE_NAME) {
        None
    } else {
        let local = local_path::LocalPath::new(client.clone(), &cfg.data_dir(), &host.node_name);
        if let Err(e) = local.ensure_class().await {
            tracing::warn!(error = %e, "kubelet: cannot create the local-path StorageClass");
        }
        Some(Arc::new(local))
    };
    let volumes = volumes::VolumeManager::new(client.clone(), &cfg.data_dir(), local);
    let worker = Arc::new(pods::PodWorker::new(
        client, runtime, host, node, cluster, pods, volumes, dns,
    ));
    logs::register(worker.node_name(), worker.log_source());
    streaming::register(
        worker.node_name(),
        streaming::StreamSource::new(worker.runtime().clone(), worker.cluster().to_string()),
    );
    let collector =
        stats::StatsCollector::new(worker.runtime().clone(), worker.cluster().to_string());
    stats::register(worker.node_name(), collector.shared());
    tokio::spawn(collector.run());
    worker.run().await;
    Ok(())
}

/// The cluster's identity: the uid of the `kube-system` namespace (as upstream's cluster ID).
async fn cluster_id(client: &kube::Client) -> String {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    loop {
        match api.get("kube-system").await {
            Ok(ns) => return ns.metadata.uid.unwrap_or_default(),
            Err(e) => {
                tracing::debug!(error = %e, "kubelet: waiting for kube-system");
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        }
    }
}
