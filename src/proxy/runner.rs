//! The kube-proxy loop: Service and EndpointSlice watches wake a rate-limited sync (at most one
//! per min sync period), which rebuilds the model and writes it with one `iptables-restore`.
//! A sync rewrites the shared chains and the own chains of the services that changed since the
//! last one (upstream's partial sync); a full sync (every chain) happens at start, every 60 s
//! and after a failure. The jump rules are checked (and moved back to the top) at each sync.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use tokio::sync::Notify;

use super::iptables::{self, Backend};
use super::rules::{self, RuleConfig};
use super::{model, ProxyError, PROXY_USER};
use crate::config::ServerConfig;
use crate::controllers::common::informer::Informer;
use crate::pki::Pki;

/// Interval of full resyncs.
pub const FULL_SYNC_PERIOD: Duration = Duration::from_secs(60);

/// The state kept between syncs.
pub struct Proxier {
    backend: Backend,
    cfg: RuleConfig,
    /// Per-service chains written by the last sync.
    previous: BTreeSet<String>,
    /// Hash of every service port as last written (`ns/name:port` + protocol → hash).
    written: HashMap<String, u64>,
    /// When the last full sync succeeded (None: never, or a sync failed since).
    last_full: Option<Instant>,
}

/// What one sync did.
#[derive(Clone, Copy, Debug)]
pub struct SyncStats {
    /// Service ports programmed.
    pub services: usize,
    /// Rules written.
    pub rules: usize,
    /// Time to build the model and generate the text.
    pub generate: Duration,
    /// Time `iptables-restore` took.
    pub restore: Duration,
}

impl Proxier {
    /// A proxier on `backend`, taking the per-service chains already in the kernel as its
    /// previous state (so those of deleted services go at the first sync).
    pub async fn new(backend: Backend, cfg: RuleConfig) -> Proxier {
        let previous = iptables::save(backend, Some("nat"))
            .await
            .map(|s| super::cleanup::service_chains(&s))
            .unwrap_or_default();
        Proxier {
            backend,
            cfg,
            previous,
            written: HashMap::new(),
            last_full: None,
        }
    }

    /// Writes the rules for `services` (one restore), then makes sure the jump rules exist and
    /// come first in the built-in chains.
    pub async fn sync(&mut self, services: &[model::ServicePort]) -> Result<SyncStats, ProxyError> {
        let t0 = Instant::now();
        let full = self
            .last_full
            .is_none_or(|t| t.elapsed() >= FULL_SYNC_PERIOD);
        let hashes: HashMap<String, u64> = services.iter().map(|s| (key(s), hash(s))).collect();
        let written = &self.written;
        let ruleset = rules::generate_partial(services, &self.cfg, &self.previous, |s| {
            full || written.get(&key(s)) != hashes.get(&key(s))
        });
        let generate = t0.elapsed();
        let t1 = Instant::now();
        if let Err(e) = iptables::restore(self.backend, &ruleset.text).await {
            self.last_full = None;
            return Err(e);
        }
        self.written = hashes;
        if full {
            self.last_full = Some(Instant::now());
        }
        let restore = t1.elapsed();
        self.previous = ruleset.chains;
        // Every sync: Docker may have put its rules above our jumps meanwhile.
        if let Err(e) = iptables::ensure_jumps(self.backend).await {
            self.last_full = None;
            return Err(e);
        }
        Ok(SyncStats {
            services: services.len(),
            rules: ruleset.rules,
            generate,
            restore,
        })
    }
}

/// The identity of a service port across syncs.
fn key(s: &model::ServicePort) -> String {
    format!("{}/{}", s.display_name(), s.protocol)
}

/// A hash of everything the service port's own chains depend on.
fn hash(s: &model::ServicePort) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Runs kube-proxy until the process ends (or [`super::shutdown`] stops it).
pub async fn run(pki: &Pki, server: &str, cfg: &ServerConfig) -> Result<(), ProxyError> {
    // SAFETY-free: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        tracing::warn!("kube-proxy: not root, Service traffic is not programmed (run as root or --disable kube-proxy)");
        return Ok(());
    }
    let client =
        crate::controllers::client_for(pki, server, PROXY_USER, &["system:masters"], "kube-proxy")
            .await?;
    iptables::set_sysctls().await;
    let backend = iptables::detect().await?;
    let node_name = crate::kubelet::host::node_name(
        &hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string()),
    );
    let rule_cfg = RuleConfig {
        cluster_cidr: cfg.cluster_cidr.to_string(),
        node_name,
    };
    tracing::info!(backend = backend.name, "kube-proxy: iptables mode");
    let mut proxier = Proxier::new(backend, rule_cfg).await;

    let wake = Arc::new(Notify::new());
    let services = Informer::spawn(Api::<Service>::all(client.clone()));
    let slices = Informer::spawn(Api::<EndpointSlice>::all(client));
    let w = wake.clone();
    services.handle(move |_, _| w.notify_one());
    let w = wake.clone();
    slices.handle(move |_, _| w.notify_one());
    services.synced().wait().await;
    slices.synced().wait().await;

    let min_period = cfg.proxy_min_sync_period;
    let mut last_sync: Option<Instant> = None;
    loop {
        if let Some(last) = last_sync {
            // Wait for a change (or the periodic resync), then respect the minimum period.
            let _ = tokio::time::timeout(FULL_SYNC_PERIOD, wake.notified()).await;
            let since = last.elapsed();
            if since < min_period {
                tokio::time::sleep(min_period - since).await;
            }
        }
        let stopped = super::sync_lock().lock().await;
        if *stopped {
            return Ok(());
        }
        last_sync = Some(Instant::now());
        let svc_state = services.store().state();
        let slice_state = slices.store().state();
        let svc_refs: Vec<&Service> = svc_state.iter().map(|s| s.as_ref()).collect();
        let slice_refs: Vec<&EndpointSlice> = slice_state.iter().map(|s| s.as_ref()).collect();
        let model = model::build(&svc_refs, &slice_refs);
        match proxier.sync(&model).await {
            Ok(stats) => tracing::debug!(
                services = stats.services,
                rules = stats.rules,
                generate_ms = stats.generate.as_millis() as u64,
                restore_ms = stats.restore.as_millis() as u64,
                "kube-proxy: synced"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "kube-proxy: sync failed; retrying");
                wake.notify_one();
            }
        }
        drop(stopped);
    }
}
