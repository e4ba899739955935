//! `skiff server`: storage, PKI, the API server over HTTPS, and bootstrapping.

pub mod tls;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::api::admission::Admission;
use crate::api::auth::UserInfo;
use crate::api::cache::WatchCache;
use crate::api::handler::{handle, App};
use crate::api::metrics::Metrics;
use crate::api::registry::Registry;
use crate::api::store::Store;
use crate::config::ServerConfig;
use crate::pki::Pki;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Data directory or kubeconfig could not be written.
    #[error("{0}")]
    Io(String),
    /// Certificates could not be made or loaded.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Storage could not be opened.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// The service account signing key could not be made or loaded.
    #[error(transparent)]
    ServiceAccountKey(#[from] crate::auth::jwt::JwtError),
    /// kube-proxy's cleanup failed.
    #[error("kube-proxy: {0}")]
    Proxy(#[from] crate::proxy::ProxyError),
    /// Bootstrapping objects failed.
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] crate::api::errors::ApiError),
}

/// `--cleanup`: removes what the server of `data_dir` made on the host, then returns.
async fn cleanup(data_dir: &std::path::Path) -> Result<(), ServerError> {
    let chains = crate::proxy::cleanup().await?;
    println!("Removed {chains} kube-proxy chains");
    let removed = crate::kubelet::cleanup::remove_all(data_dir)
        .await
        .map_err(|e| ServerError::Io(format!("cleanup: {e}")))?;
    println!(
        "Removed {} containers and {} pod networks{}",
        removed.containers,
        removed.networks.len(),
        if removed.networks.is_empty() {
            String::new()
        } else {
            format!(" ({})", removed.networks.join(", "))
        }
    );
    Ok(())
}

/// Runs the server until `shutdown` completes.
pub async fn run<F>(cfg: ServerConfig, shutdown: F) -> Result<(), ServerError>
where
    F: std::future::Future<Output = ()> + Send,
{
    let started = std::time::Instant::now();
    let data_dir = cfg.data_dir();
    if cfg.cleanup {
        return cleanup(&data_dir).await;
    }
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| ServerError::Io(format!("{}: {e}", data_dir.display())))?;
    let addr = SocketAddr::new(cfg.bind_address, cfg.https_listen_port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| ServerError::Io(format!("cannot listen on {addr}: {e}")))?;
    let local_port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(cfg.https_listen_port);
    let extra: Vec<IpAddr> = if cfg.bind_address.is_unspecified() {
        vec![]
    } else {
        vec![cfg.bind_address]
    };
    let pki = Pki::load_or_create(&data_dir.join("tls"), &extra)?;
    let tls = TlsAcceptor::from(tls::server_config(
        &pki.ca_cert,
        &pki.serving_cert,
        &pki.serving_key,
    )?);

    let storage = crate::storage::open(&cfg.datastore_endpoint, &data_dir).await?;
    let cache = WatchCache::start(storage.clone()).await?;
    let registry = Arc::new(Registry::builtin());
    if !cfg
        .disable
        .iter()
        .any(|d| d == crate::api::resource_metrics::DISABLE_NAME)
    {
        registry.add_builtin(crate::api::resource_metrics::resource_types());
    }
    let host = if cfg.bind_address.is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        cfg.bind_address.to_string()
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let server_address = format!("{host}:{local_port}");
    let tokens = crate::auth::TokenIssuer::load_or_create(
        &data_dir.join("tls").join("service-account.key"),
        format!("https://{server_address}/openid/v1/jwks"),
    )?;
    let app = Arc::new(App {
        store: Store {
            storage,
            cache,
            registry: registry.clone(),
            admission: Admission::new(cfg.service_cidr),
        },
        metrics: Metrics::default(),
        openapi: crate::openapi::OpenApi::new(
            registry.all().iter().map(|e| e.rt.clone()).collect(),
        ),
        server_address: server_address.clone(),
        ready: Default::default(),
        tokens,
    });

    let kubeconfig = cfg.kubeconfig_path();
    crate::pki::write_private(
        &kubeconfig,
        &pki.admin_kubeconfig(&format!("https://{server_address}")),
    )?;
    println!("Wrote kubeconfig {}", kubeconfig.display());

    let router = Router::new().fallback(handle).with_state(app.clone());
    let accept = tokio::spawn(accept_loop(listener, tls, router));

    let api_ip = match cfg.bind_address {
        IpAddr::V4(ip) if ip.is_unspecified() => Some(crate::kubelet::host::host_ip()),
        IpAddr::V4(ip) if !ip.is_loopback() => Some(ip),
        _ => None,
    };
    crate::api::bootstrap::ensure(&app.store, cfg.service_cidr, local_port, api_ip).await?;
    crate::api::crd::start(app.clone()).await;
    crate::auth::controller::start(app.clone(), pki.ca_cert.clone()).await;
    crate::api::admission::quota::spawn_controller(app.clone());
    if !cfg.etcd_compaction_interval.is_zero() {
        tokio::spawn(compactor(app.clone(), cfg.etcd_compaction_interval));
    }
    app.ready.store(true, Ordering::SeqCst);
    if let Err(e) =
        crate::controllers::start(&pki, &format!("https://{server_address}"), &cfg).await
    {
        tracing::error!(error = %e, "controllers could not start");
    }
    tracing::info!(address = %addr, elapsed_ms = started.elapsed().as_millis() as u64, "skiff server is ready");

    shutdown.await;
    tracing::info!("shutting down");
    if !cfg.disable.iter().any(|d| d == crate::proxy::DISABLE_NAME) {
        match crate::proxy::shutdown().await {
            Ok(n) => tracing::info!(chains = n, "kube-proxy: rules removed"),
            Err(e) => tracing::warn!(error = %e, "kube-proxy: cleanup failed"),
        }
    }
    accept.abort();
    Ok(())
}

async fn accept_loop(listener: TcpListener, tls: TlsAcceptor, router: Router) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let tls = tls.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            let user: Option<UserInfo> = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(tls::user_from_cert);
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(user.clone());
                    let router = router.clone();
                    async move { router.oneshot(req.map(axum::body::Body::new)).await }
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}

/// Compacts storage history every `interval`, up to the revision seen one interval earlier (as
/// kube-apiserver does), so that at least one interval of history stays for watches.
async fn compactor(app: Arc<App>, interval: Duration) {
    let mut previous: Option<i64> = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let store = &app.store;
        if let Some(rev) = previous {
            match store.storage.compact(rev).await {
                Ok(()) | Err(crate::storage::StorageError::Compacted { .. }) => {
                    store.cache.compact(rev);
                    tracing::debug!(revision = rev, "compacted storage");
                }
                Err(e) => tracing::warn!(error = %e, "compaction failed"),
            }
        }
        previous = store.storage.current_revision().await.ok();
    }
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
