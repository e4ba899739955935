//! ServiceLB (k3s' klipper-lb, in-process): every LoadBalancer Service without a
//! `loadBalancerClass` gets the node's address as `status.loadBalancer.ingress` (`ipMode: VIP`);
//! kube-proxy's rules then answer its ports on that address (`-d <ip> … -j KUBE-EXT-…`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use tokio::sync::Notify;

use super::ProxyError;
use crate::controllers::common::informer::Informer;
use crate::pki::Pki;

/// The ingress this node gives a Service, or None when ServiceLB leaves it alone.
pub fn wanted_ingress(svc: &Service, node_ip: &str) -> Option<serde_json::Value> {
    let spec = svc.spec.as_ref()?;
    if spec.type_.as_deref() != Some("LoadBalancer") || spec.load_balancer_class.is_some() {
        return None;
    }
    Some(json!([{"ip": node_ip, "ipMode": "VIP"}]))
}

/// Whether the Service's status already shows `ingress`.
fn has_ingress(svc: &Service, ingress: &serde_json::Value) -> bool {
    let current = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref())
        .and_then(|i| serde_json::to_value(i).ok());
    current.as_ref() == Some(ingress)
}

/// Runs ServiceLB until the process ends.
pub async fn run(pki: &Pki, server: &str) -> Result<(), ProxyError> {
    let client = crate::controllers::client_for(
        pki,
        server,
        "system:servicelb",
        &["system:masters"],
        "servicelb",
    )
    .await?;
    let node_ip = crate::kubelet::host::host_ip().to_string();
    let wake = Arc::new(Notify::new());
    let services = Informer::spawn(Api::<Service>::all(client.clone()));
    let w = wake.clone();
    services.handle(move |_, _| w.notify_one());
    services.synced().wait().await;
    loop {
        for svc in services.store().state() {
            let Some(ingress) = wanted_ingress(&svc, &node_ip) else {
                continue;
            };
            if has_ingress(&svc, &ingress) {
                continue;
            }
            let ns = svc.metadata.namespace.clone().unwrap_or_default();
            let name = svc.metadata.name.clone().unwrap_or_default();
            let api: Api<Service> = Api::namespaced(client.clone(), &ns);
            let patch = json!({"status": {"loadBalancer": {"ingress": ingress}}});
            match api
                .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    tracing::info!(service = %format!("{ns}/{name}"), ip = %node_ip, "servicelb: ingress set")
                }
                Err(e) => {
                    tracing::warn!(service = %format!("{ns}/{name}"), error = %e, "servicelb: cannot set ingress")
                }
            }
        }
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), wake.notified()).await;
    }
}
