//! Objects every cluster has from its first start: the system namespaces, the `kubernetes`
//! Service in `default` and the system priority classes.

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
    ensure_priority_classes(store).await
}

/// Creates the `system-node-critical` and `system-cluster-critical` PriorityClasses.
async fn ensure_priority_classes(store: &Store) -> ApiResult<()> {
    let Some(res) = store
        .registry
        .find("scheduling.k8s.io", "v1", "priorityclasses")
    else {
        return Ok(());
    };
    for (name, value, description) in crate::validation::SYSTEM_PRIORITY_CLASSES {
        if store.get(&res, None, name).await.is_ok() {
            continue;
        }
        let obj = json!({
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": description,
        });
        match store
            .create(&res, None, obj, &WriteOptions::default())
            .await
        {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
