//! Objects every cluster has from its first start: the system namespaces and the `kubernetes`
//! Service in `default`.

use serde_json::json;

use super::admission::Cidr;
use super::errors::ApiResult;
use super::store::{Store, WriteOptions};

/// Namespaces that exist from the first start.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates what is missing of the bootstrap objects.
pub async fn ensure(store: &Store, service_cidr: Cidr, https_port: u16) -> ApiResult<()> {
    let Some(ns_res) = store.registry.find("", "v1", "namespaces") else {
        return Ok(());
    };
    for ns in SYSTEM_NAMESPACES {
        if store.get(&ns_res, None, ns).await.is_err() {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match store
                .create(&ns_res, None, obj, &WriteOptions::default())
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    if let Some(svc_res) = store.registry.find("", "v1", "services") {
        if store
            .get(&svc_res, Some("default"), "kubernetes")
            .await
            .is_err()
        {
            let ip = service_cidr.nth(1).to_string();
            let obj = json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": "kubernetes",
                    "namespace": "default",
                    "labels": {"component": "apiserver", "provider": "kubernetes"},
                },
                "spec": {
                    "clusterIP": ip,
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": https_port}],
                    "sessionAffinity": "None",
                    "type": "ClusterIP",
                },
            });
            match store
                .create(&svc_res, Some("default"), obj, &WriteOptions::default())
                .await
            {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
