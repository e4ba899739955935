//! Cluster DNS (k3s' CoreDNS, `--disable coredns`): a `hickory-server` on the host at
//! `<every IPv4 address>:<--cluster-dns-port>` (UDP and TCP) answering the Kubernetes DNS specification's
//! names from an in-memory index fed by watches of Services, EndpointSlices and Pods, and
//! forwarding other names to the host's resolvers (`--resolv-conf`). Pods reach it through the
//! selector-less `kube-dns` Service (ClusterIP `--cluster-dns`) whose EndpointSlice names this
//! host's IP and the real port.
//!
//! Files: `index.rs` (objects → records, incremental, pure), `answer.rs` (query → answer, pure),
//! `forward.rs` (upstream resolvers and their cache), `serve.rs` (the sockets), `watch.rs` (the
//! watches feeding the index), `objects.rs` (the `kube-dns` Service and EndpointSlice).

pub mod answer;
pub mod forward;
pub mod index;
pub mod objects;
pub mod serve;
pub mod watch;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::ServerConfig;
use crate::pki::Pki;

/// Name of the DNS server for `--disable` (k3s' name).
pub const DISABLE_NAME: &str = "coredns";
/// The user the DNS server's watches authenticate as.
pub const DNS_USER: &str = "system:kube-dns";

/// Errors of the DNS server.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A socket could not be bound or used.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A DNS message could not be encoded or decoded, or the server failed.
    #[error("dns: {0}")]
    Proto(String),
    /// No upstream resolver is configured.
    #[error("no upstream resolver (see --resolv-conf)")]
    NoUpstream,
    /// An upstream resolver did not answer in time.
    #[error("upstream {0} timed out")]
    Timeout(SocketAddr),
    /// The API answered with an error.
    #[error("api: {0}")]
    Kube(#[from] kube::Error),
    /// The API client could not be made.
    #[error(transparent)]
    Client(#[from] crate::controllers::ControllerError),
    /// An object did not convert.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Starts the DNS server in the background (errors are logged; the API server keeps running).
pub fn spawn(pki: &Pki, server: &str, cfg: &ServerConfig) {
    let (pki, server, cfg) = (pki.clone(), server.to_string(), cfg.clone());
    tokio::spawn(async move {
        if let Err(e) = run(&pki, &server, &cfg).await {
            tracing::error!(error = %e, "cluster DNS could not start");
        }
    });
}

/// Runs the DNS server: watches, the `kube-dns` objects, the sockets.
pub async fn run(pki: &Pki, server: &str, cfg: &ServerConfig) -> Result<(), DnsError> {
    let client =
        crate::controllers::client_for(pki, server, DNS_USER, &["system:masters"], "coredns")
            .await?;
    let index = Arc::new(RwLock::new(index::Index::new(&cfg.cluster_domain)));
    watch::spawn(client.clone(), index.clone());
    let upstreams = forward::upstreams(&cfg.resolv_conf);
    if upstreams.is_empty() {
        tracing::warn!(resolv_conf = %cfg.resolv_conf.display(), "no upstream DNS servers: names outside the cluster will fail");
    }
    let forwarder = Arc::new(forward::Forwarder::new(upstreams));
    let node_ip = IpAddr::V4(crate::kubelet::host::host_ip());
    let node_name = crate::kubelet::host::HostInfo::detect(&cfg.data_dir()).node_name;
    let sockets = serve::bind(cfg.cluster_dns_port).await?;
    // Bound first, so that the slice never names a port nobody serves.
    let (cluster_dns, port) = (cfg.cluster_dns, cfg.cluster_dns_port);
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_millis(200);
        loop {
            match objects::ensure(&client, cluster_dns, node_ip, &node_name, port).await {
                Ok(()) => break,
                Err(e) => tracing::warn!(error = %e, "kube-dns Service/EndpointSlice: retrying"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(10));
        }
    });
    serve::serve(sockets, serve::Handler::new(index, forwarder)).await
}
