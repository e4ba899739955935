//! kube-proxy in iptables mode and ServiceLB, in-process.
//!
//! `runner.rs` watches Services and EndpointSlices and, at most once per
//! `--proxy-min-sync-period`, turns them into the model (`model.rs`, pure), the rules
//! (`rules.rs`, pure: upstream's chain layout `KUBE-SERVICES` → `KUBE-SVC-…`/`KUBE-SVL-…` →
//! `KUBE-SEP-…`, `KUBE-NODEPORTS`, `KUBE-EXT-…`, `KUBE-MARK-MASQ`, `KUBE-POSTROUTING`, and in
//! `filter` `KUBE-SERVICES`/`KUBE-EXTERNAL-SERVICES` REJECTs and `KUBE-FORWARD`) and one
//! `iptables-restore --noflush` (`iptables.rs`, the only I/O). `cleanup.rs` (pure) computes what
//! removing our chains takes; [`cleanup`] and [`shutdown`] run it. `servicelb.rs` gives
//! LoadBalancer Services the node's address as their ingress; the rules answer it.

pub mod cleanup;
pub mod iptables;
pub mod model;
pub mod names;
pub mod rules;
pub mod runner;
pub mod servicelb;

#[cfg(test)]
mod rules_tests;

use std::sync::OnceLock;

use crate::config::ServerConfig;
use crate::pki::Pki;

/// Name of kube-proxy for `--disable`.
pub const DISABLE_NAME: &str = "kube-proxy";
/// Name of ServiceLB for `--disable`.
pub const SERVICELB_DISABLE_NAME: &str = "servicelb";
/// The user kube-proxy authenticates as.
pub const PROXY_USER: &str = "system:kube-proxy";

/// Errors of kube-proxy and ServiceLB.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// An iptables command failed or is missing.
    #[error("iptables: {0}")]
    Iptables(String),
    /// The API client could not be made.
    #[error(transparent)]
    Client(#[from] crate::controllers::ControllerError),
    /// The API server answered with an error.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// Serializes syncs with the shutdown cleanup: `true` once stopped (no sync may run after).
fn sync_lock() -> &'static tokio::sync::Mutex<bool> {
    static LOCK: OnceLock<tokio::sync::Mutex<bool>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(false))
}

/// Starts kube-proxy and ServiceLB (each unless disabled) against the API at `server`.
pub fn spawn(pki: &Pki, server: &str, cfg: &ServerConfig) {
    let enabled = |name: &str| !cfg.disable.iter().any(|d| d == name);
    if enabled(DISABLE_NAME) {
        let (pki, server, cfg) = (pki.clone(), server.to_string(), cfg.clone());
        tokio::spawn(async move {
            if let Err(e) = runner::run(&pki, &server, &cfg).await {
                tracing::error!(error = %e, "kube-proxy stopped");
            }
        });
    }
    if enabled(SERVICELB_DISABLE_NAME) {
        let (pki, server) = (pki.clone(), server.to_string());
        tokio::spawn(async move {
            if let Err(e) = servicelb::run(&pki, &server).await {
                tracing::error!(error = %e, "servicelb stopped");
            }
        });
    }
}

/// Removes every chain kube-proxy made and its jump rules from the built-in chains, in every
/// iptables backend installed (nothing else is touched). Returns how many chains went.
pub async fn cleanup() -> Result<usize, ProxyError> {
    let mut total = 0;
    for backend in iptables::installed() {
        total += iptables::cleanup_backend(backend).await?;
    }
    Ok(total)
}

/// Stops kube-proxy for good (no sync runs afterwards) and removes its rules: called when the
/// server shuts down.
pub async fn shutdown() -> Result<usize, ProxyError> {
    let mut stopped = sync_lock().lock().await;
    *stopped = true;
    cleanup().await
}
