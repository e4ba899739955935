//! `skiff bench --scenario proxy`: kube-proxy's sync time for many Services — the model is
//! generated directly (1,000 Services × 10 endpoints by default), turned into rules and written
//! into the kernel with a real `iptables-restore`, then everything is removed again.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::BenchArgs;
use crate::proxy::model::{Endpoint, ServicePort};
use crate::proxy::rules::RuleConfig;
use crate::proxy::runner::{Proxier, SyncStats};
use crate::proxy::{iptables, ProxyError};

/// Lock file shared with the service networking tests: one kube-proxy per host at a time.
pub const HOST_NETWORK_LOCK: &str = "/tmp/skiff-host-network.lock";

/// `services` ClusterIP Services with `endpoints` endpoints each; `generation` shifts the
/// endpoint addresses of every tenth Service (a rollout).
pub fn model(services: usize, endpoints: usize, generation: u32) -> Vec<ServicePort> {
    (0..services)
        .map(|i| {
            let n = i as u32;
            let shift = if i % 10 == 0 { generation * 16 } else { 0 };
            ServicePort {
                namespace: "bench".into(),
                name: format!("svc-{i}"),
                port_name: "http".into(),
                protocol: "tcp".into(),
                cluster_ip: Some(Ipv4Addr::from(0x0a2b_0000 + 10 + n)),
                port: 80,
                node_port: None,
                external_ips: vec![],
                load_balancer_ips: vec![],
                affinity_seconds: None,
                external_local: false,
                internal_local: false,
                endpoints: (0..endpoints as u32)
                    .map(|e| Endpoint {
                        ip: Ipv4Addr::from(0x0a2a_0000 + ((n * 64 + e + shift) & 0xffff)),
                        port: 8080,
                        ready: true,
                        serving: true,
                        terminating: false,
                        node_name: Some("bench".into()),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn show(label: &str, s: &SyncStats, total: Duration) {
    println!(
        "| {label} | {} | {} | {:.1} ms | {:.1} ms | {:.1} ms |",
        s.services,
        s.rules,
        s.generate.as_secs_f64() * 1e3,
        s.restore.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3
    );
}

async fn run(services: usize, endpoints: usize) -> Result<(), ProxyError> {
    let backend = iptables::detect().await?;
    println!(
        "kube-proxy sync: {services} Services × {endpoints} endpoints, iptables backend {}",
        backend.name
    );
    println!("| sync | service ports | rules | generate | iptables-restore | total |");
    println!("|---|---:|---:|---:|---:|---:|");
    let cfg = RuleConfig {
        cluster_cidr: "10.42.0.0/16".into(),
        node_name: "bench".into(),
    };
    let mut proxier = Proxier::new(backend, cfg).await;
    let full = model(services, endpoints, 0);
    let t = Instant::now();
    let s = proxier.sync(&full).await?;
    show("first (all chains new)", &s, t.elapsed());
    let t = Instant::now();
    let s = proxier.sync(&full).await?;
    show("again, unchanged", &s, t.elapsed());
    let changed = model(services, endpoints, 1);
    let t = Instant::now();
    let s = proxier.sync(&changed).await?;
    show("10% of Services with new endpoints", &s, t.elapsed());
    let t = Instant::now();
    let s = proxier.sync(&[]).await?;
    show("all Services deleted", &s, t.elapsed());
    let t = Instant::now();
    let chains = crate::proxy::cleanup().await?;
    println!(
        "cleanup: {chains} chains removed in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}

/// Runs the scenario; `false` when it could not.
pub async fn bench(args: &BenchArgs) -> bool {
    let lock = std::fs::File::create(HOST_NETWORK_LOCK).and_then(|f| f.lock().map(|()| f));
    let _lock = match lock {
        Ok(f) => f,
        Err(e) => {
            eprintln!("cannot lock {HOST_NETWORK_LOCK}: {e}");
            return false;
        }
    };
    match run(args.services, args.service_endpoints).await {
        Ok(()) => true,
        Err(e) => {
            eprintln!("proxy benchmark failed: {e}");
            let _ = crate::proxy::cleanup().await;
            false
        }
    }
}
