//! Controllers (the kube-controller-manager part of the server). As in k3s they run as tasks of
//! the server process, but talk to the API like any other client: HTTPS to the server's own
//! address with their own client certificate, through the `kube` crate's client, discovery and
//! watchers.

pub mod common;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod disruption;
pub mod endpoints;
pub mod events;
pub mod gc;
pub mod history;
pub mod hpa;
pub mod job;
pub mod namespace;
pub mod nodes;
pub mod queue;
pub mod replicaset;
pub mod resources;
pub mod scheduler;
pub mod statefulset;
pub mod ttl;
pub mod workload_pods;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;

use crate::config::ServerConfig;
use crate::pki::Pki;
use common::informer::SharedInformers;

/// The user the controllers authenticate as.
pub const CONTROLLER_USER: &str = "system:kube-controller-manager";
/// Name of the garbage collector for `--disable`.
pub const GARBAGE_COLLECTOR: &str = "garbage-collector";
/// Name of the namespace controller for `--disable`.
pub const NAMESPACE_CONTROLLER: &str = "namespace-controller";

/// Errors starting the controllers.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// The client certificate could not be issued.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The client configuration was rejected.
    #[error("kubeconfig: {0}")]
    Kubeconfig(#[from] kube::config::KubeconfigError),
    /// The client could not be built.
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// A client for `server` (e.g. `https://127.0.0.1:6443`) authenticating with a certificate for
/// `user` in `groups`, issued by the cluster CA, sending `User-Agent: <component>/<version>` (the
/// API server names field managers after it, as `kubectl get --show-managed-fields` shows).
pub async fn client_for(
    pki: &Pki,
    server: &str,
    user: &str,
    groups: &[&str],
    component: &str,
) -> Result<Client, ControllerError> {
    let (cert, key) = pki.client_cert(user, groups)?;
    let kubeconfig = crate::pki::kubeconfig(server, &pki.ca_cert, &cert, &key);
    let mut config = kube::Config::from_custom_kubeconfig(
        Kubeconfig::from_yaml(&kubeconfig)?,
        &KubeConfigOptions::default(),
    )
    .await?;
    let agent = format!(
        "{component}/v{} ({}/{}) skiff",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    if let Ok(value) = http::HeaderValue::from_str(&agent) {
        config.headers.push((http::header::USER_AGENT, value));
    }
    Ok(Client::try_from(config)?)
}

/// Starts the controllers, the scheduler and the node components not named in `cfg.disable`
/// against the API at `server`, all reading one set of shared informers.
pub async fn start(pki: &Pki, server: &str, cfg: &ServerConfig) -> Result<(), ControllerError> {
    let disabled = &cfg.disable;
    // No RBAC yet: the controllers act as cluster admins.
    let client = client_for(
        pki,
        server,
        CONTROLLER_USER,
        &["system:masters"],
        "kube-controller-manager",
    )
    .await?;
    let informers = SharedInformers::new(client.clone());
    let enabled = |name: &str| !disabled.iter().any(|d| d == name);
    if enabled(scheduler::DISABLE_NAME) {
        let sc = client_for(
            pki,
            server,
            scheduler::SCHEDULER_USER,
            &["system:masters"],
            "kube-scheduler",
        )
        .await?;
        tokio::spawn(scheduler::run(sc, informers.clone()));
    }
    if enabled(GARBAGE_COLLECTOR) {
        tokio::spawn(gc::run(client.clone()));
    }
    job::spawn_batch(&informers, disabled);
    statefulset::spawn_with_daemonset(&informers, &enabled);
    deployment::start_workload_controllers(&informers, disabled);
    endpoints::spawn_all(&informers, disabled);
    nodes::start(&informers, cfg);
    if enabled(crate::kubelet::DISABLE_NAME) {
        crate::kubelet::spawn(pki, server, cfg);
    }
    if enabled(crate::dns::DISABLE_NAME) {
        crate::dns::spawn(pki, server, cfg);
    }
    crate::proxy::spawn(pki, server, cfg);
    if enabled(NAMESPACE_CONTROLLER) {
        tokio::spawn(namespace::run(client));
    }
    Ok(())
}
