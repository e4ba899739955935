//! Objects every cluster has from its first start: the system namespaces, the `kubernetes`
//! Service in `default` with its Endpoints and EndpointSlice (the API server's own address, as
//! upstream's endpoint reconciler), the system priority classes and the `skiff` IngressClass.

use std::net::Ipv4Addr;

use serde_json::{json, Value};

use super::admission::Cidr;
use super::errors::ApiResult;
use super::store::{Part, Store, WriteOptions};

/// `endpointslice.kubernetes.io/managed-by` of the `kubernetes` EndpointSlice.
pub const APISERVER_MANAGER: &str = "skiff-apiserver";
/// The IngressClass made at bootstrap (Ingress objects are stored, not served).
pub const INGRESS_CLASS: &str = "skiff";

/// Namespaces that exist from the first start.
pub const SYSTEM_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates what is missing of the bootstrap objects. `api_ip` is the address pods reach the
/// API server at (None when it listens on loopback only: no endpoints are published).
pub async fn ensure(
    store: &Store,
    service_cidr: Cidr,
    https_port: u16,
    api_ip: Option<Ipv4Addr>,
) -> ApiResult<()> {
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
    if let Some(ip) = api_ip {
        // Not fatal: the API serves without them (only pods lose the `kubernetes` Service).
        if let Err(e) = ensure_kubernetes_endpoints(store, ip, https_port).await {
            tracing::warn!(error = %e, "cannot publish the kubernetes Service's endpoints");
        }
    }
    ensure_ingress_class(store).await?;
    ensure_priority_classes(store).await
}

/// Creates `obj` (cluster-scoped when `ns` is None) or, when it exists, replaces the fields
/// `keys` with ours if they differ.
async fn upsert(
    store: &Store,
    group: &str,
    plural: &str,
    ns: Option<&str>,
    obj: Value,
    keys: &[&str],
) -> ApiResult<()> {
    let Some(res) = store.registry.find(group, "v1", plural) else {
        return Ok(());
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    match store.get(&res, ns, &name).await {
        Ok(current) => {
            if keys.iter().all(|k| current.get(*k) == obj.get(*k)) {
                return Ok(());
            }
            store
                .guaranteed_update(
                    &res,
                    ns,
                    &name,
                    Part::All,
                    &WriteOptions::default(),
                    |cur| {
                        let mut next = cur.clone();
                        for k in keys {
                            next[*k] = obj[*k].clone();
                        }
                        Ok(next)
                    },
                )
                .await
                .map(|_| ())
        }
        Err(e) if e.code == 404 => {
            match store
                .create(&res, ns, obj.clone(), &WriteOptions::default())
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.code == 409 => Ok(()),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The `default/kubernetes` Endpoints and EndpointSlice: this API server at `ip:port`. The
/// Endpoints carry `endpointslice.kubernetes.io/skip-mirror` so the mirroring controller leaves
/// them to us (the Service has no selector, so the endpoints controllers do too).
async fn ensure_kubernetes_endpoints(store: &Store, ip: Ipv4Addr, port: u16) -> ApiResult<()> {
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": ip.to_string()}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        }],
    });
    upsert(
        store,
        "",
        "endpoints",
        Some("default"),
        endpoints,
        &["subsets"],
    )
    .await?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": APISERVER_MANAGER,
            },
        },
        "addressType": "IPv4",
        "endpoints": [{
            "addresses": [ip.to_string()],
            "conditions": {"ready": true},
        }],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    upsert(
        store,
        "discovery.k8s.io",
        "endpointslices",
        Some("default"),
        slice,
        &["endpoints", "ports"],
    )
    .await
}

/// The `skiff` IngressClass: Ingress objects are stored, not served.
async fn ensure_ingress_class(store: &Store) -> ApiResult<()> {
    let class = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": INGRESS_CLASS},
        "spec": {"controller": "skiff.io/ingress-stored-only"},
    });
    upsert(
        store,
        "networking.k8s.io",
        "ingressclasses",
        None,
        class,
        &["spec"],
    )
    .await
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
