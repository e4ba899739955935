//! The `kube-dns` Service in `kube-system` (ClusterIP `--cluster-dns`, no selector) and its
//! EndpointSlice naming this host's DNS server, so that kube-proxy sends `<cluster-dns>:53` to
//! `<node IP>:<--cluster-dns-port>`.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use super::DnsError;

/// Namespace of the DNS Service.
pub const NAMESPACE: &str = "kube-system";
/// Name of the DNS Service.
pub const SERVICE_NAME: &str = "kube-dns";
/// Name of the EndpointSlice this server maintains.
pub const SLICE_NAME: &str = "kube-dns-skiff";
/// `endpointslice.kubernetes.io/managed-by` of that slice (not the endpoint slice controller).
pub const MANAGER: &str = "skiff-dns";
/// Field manager of the server-side applies.
const FIELD_MANAGER: &str = "skiff-dns";

/// The Service as k3s' CoreDNS manifest has it, without a selector.
pub fn service(cluster_dns: IpAddr) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": SERVICE_NAME,
            "namespace": NAMESPACE,
            "labels": {
                "k8s-app": "kube-dns",
                "kubernetes.io/cluster-service": "true",
                "kubernetes.io/name": "CoreDNS",
            },
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
        },
        "spec": {
            "clusterIP": cluster_dns.to_string(),
            "clusterIPs": [cluster_dns.to_string()],
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
            "type": "ClusterIP",
        },
    })
}

/// The EndpointSlice: one endpoint, the node's IP, with the real DNS port.
pub fn endpoint_slice(node_ip: IpAddr, node_name: &str, port: u16) -> Value {
    let family = if node_ip.is_ipv4() { "IPv4" } else { "IPv6" };
    json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": SLICE_NAME,
            "namespace": NAMESPACE,
            "labels": {
                "kubernetes.io/service-name": SERVICE_NAME,
                "endpointslice.kubernetes.io/managed-by": MANAGER,
            },
        },
        "addressType": family,
        "endpoints": [{
            "addresses": [node_ip.to_string()],
            "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": node_name,
        }],
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
        ],
    })
}

/// Creates the Service when missing (its ClusterIP cannot change) and applies the slice.
pub async fn ensure(
    client: &Client,
    cluster_dns: IpAddr,
    node_ip: IpAddr,
    node_name: &str,
    port: u16,
) -> Result<(), DnsError> {
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    if services.get_opt(SERVICE_NAME).await?.is_none() {
        let svc: Service = serde_json::from_value(service(cluster_dns))?;
        match services.create(&PostParams::default(), &svc).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    slices
        .patch(
            SLICE_NAME,
            &params,
            &Patch::Apply(endpoint_slice(node_ip, node_name, port)),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_parse_as_their_kinds() {
        let ip: IpAddr = "10.43.0.10".parse().expect("ip");
        let svc: Service = serde_json::from_value(service(ip)).expect("service");
        let spec = svc.spec.expect("spec");
        assert_eq!(spec.cluster_ip.as_deref(), Some("10.43.0.10"));
        assert!(spec.selector.is_none());
        let node: IpAddr = "192.168.1.5".parse().expect("ip");
        let slice: EndpointSlice =
            serde_json::from_value(endpoint_slice(node, "n1", 5353)).expect("slice");
        assert_eq!(slice.endpoints[0].addresses, vec!["192.168.1.5"]);
        let ports = slice.ports.expect("ports");
        assert_eq!(ports[0].port, Some(5353));
        assert_eq!(ports[1].protocol.as_deref(), Some("TCP"));
    }
}
