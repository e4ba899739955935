//! What kube-proxy programs, as plain data: one [`ServicePort`] per port of every Service, with
//! the endpoints of its EndpointSlices, built from API objects by [`build`] (pure).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// Label naming the Service of an EndpointSlice.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Default `sessionAffinityConfig.clientIP.timeoutSeconds`.
pub const DEFAULT_AFFINITY_SECONDS: i32 = 10800;

/// One endpoint of a service port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// Pod (or other) address.
    pub ip: Ipv4Addr,
    /// Target port.
    pub port: u16,
    /// `conditions.ready` (unset = true).
    pub ready: bool,
    /// `conditions.serving` (unset = ready).
    pub serving: bool,
    /// `conditions.terminating` (unset = false).
    pub terminating: bool,
    /// `nodeName`, when set.
    pub node_name: Option<String>,
}

impl Endpoint {
    /// `ip:port`, the string upstream hashes into the endpoint's chain name.
    pub fn address(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }
}

/// One port of one Service, with what kube-proxy needs of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServicePort {
    /// Namespace of the Service.
    pub namespace: String,
    /// Name of the Service.
    pub name: String,
    /// Name of the port (may be empty).
    pub port_name: String,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// ClusterIP (None for headless or ExternalName Services).
    pub cluster_ip: Option<Ipv4Addr>,
    /// Service port.
    pub port: u16,
    /// NodePort, when allocated.
    pub node_port: Option<u16>,
    /// `spec.externalIPs`.
    pub external_ips: Vec<Ipv4Addr>,
    /// `status.loadBalancer.ingress[].ip` of LoadBalancer Services.
    pub load_balancer_ips: Vec<Ipv4Addr>,
    /// ClientIP affinity timeout in seconds (None: no affinity).
    pub affinity_seconds: Option<i32>,
    /// `externalTrafficPolicy: Local`.
    pub external_local: bool,
    /// `internalTrafficPolicy: Local`.
    pub internal_local: bool,
    /// Endpoints from the Service's EndpointSlices (all conditions; the rules pick).
    pub endpoints: Vec<Endpoint>,
}

impl ServicePort {
    /// `ns/name:port` (or `ns/name` for an unnamed port), upstream's `ServicePortName.String()`.
    pub fn display_name(&self) -> String {
        if self.port_name.is_empty() {
            format!("{}/{}", self.namespace, self.name)
        } else {
            format!("{}/{}:{}", self.namespace, self.name, self.port_name)
        }
    }

    /// Whether traffic from outside the Service's cluster IP reaches it (NodePort, external IPs,
    /// load-balancer ingress).
    pub fn has_external(&self) -> bool {
        self.node_port.is_some()
            || !self.external_ips.is_empty()
            || !self.load_balancer_ips.is_empty()
    }
}

/// Endpoints that take traffic, as upstream's `CategorizeEndpoints`: the ready ones accepted by
/// `keep`, or, when none is, the serving-and-terminating ones (so connections drain while a
/// rollout replaces every pod).
pub fn usable(eps: &[Endpoint], keep: impl Fn(&Endpoint) -> bool) -> Vec<&Endpoint> {
    let ready: Vec<&Endpoint> = eps.iter().filter(|e| e.ready && keep(e)).collect();
    if !ready.is_empty() {
        return ready;
    }
    eps.iter()
        .filter(|e| e.serving && e.terminating && keep(e))
        .collect()
}

fn parse_v4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// Builds the model from Services and EndpointSlices (pure). ExternalName and headless Services
/// and non-IPv4 addresses are left out.
pub fn build(services: &[&Service], slices: &[&EndpointSlice]) -> Vec<ServicePort> {
    // (namespace, service) → slices.
    let mut by_service: BTreeMap<(String, String), Vec<&EndpointSlice>> = BTreeMap::new();
    for slice in slices {
        if slice.address_type != "IPv4" {
            continue;
        }
        let Some(svc) = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME_LABEL))
        else {
            continue;
        };
        let ns = slice.metadata.namespace.clone().unwrap_or_default();
        by_service.entry((ns, svc.clone())).or_default().push(slice);
    }
    let mut out = Vec::new();
    for svc in services {
        let Some(spec) = svc.spec.as_ref() else {
            continue;
        };
        let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
        if kind == "ExternalName" {
            continue;
        }
        let cluster_ip = spec
            .cluster_ip
            .as_deref()
            .filter(|ip| *ip != "None")
            .and_then(parse_v4);
        let ns = svc.metadata.namespace.clone().unwrap_or_default();
        let name = svc.metadata.name.clone().unwrap_or_default();
        let affinity = (spec.session_affinity.as_deref() == Some("ClientIP")).then(|| {
            spec.session_affinity_config
                .as_ref()
                .and_then(|c| c.client_ip.as_ref())
                .and_then(|c| c.timeout_seconds)
                .unwrap_or(DEFAULT_AFFINITY_SECONDS)
        });
        let external_ips: Vec<Ipv4Addr> = spec
            .external_ips
            .iter()
            .flatten()
            .filter_map(|s| parse_v4(s))
            .collect();
        let load_balancer_ips: Vec<Ipv4Addr> = if kind == "LoadBalancer" {
            svc.status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .into_iter()
                .flatten()
                .filter_map(|i| i.ip.as_deref().and_then(parse_v4))
                .collect()
        } else {
            Vec::new()
        };
        let service_slices = by_service
            .get(&(ns.clone(), name.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for port in spec.ports.iter().flatten() {
            if cluster_ip.is_none() {
                continue;
            }
            let port_name = port.name.clone().unwrap_or_default();
            out.push(ServicePort {
                namespace: ns.clone(),
                name: name.clone(),
                port_name: port_name.clone(),
                protocol: port
                    .protocol
                    .as_deref()
                    .unwrap_or("TCP")
                    .to_ascii_lowercase(),
                cluster_ip,
                port: u16::try_from(port.port).unwrap_or(0),
                node_port: port
                    .node_port
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|p| *p != 0),
                external_ips: external_ips.clone(),
                load_balancer_ips: load_balancer_ips.clone(),
                affinity_seconds: affinity,
                external_local: spec.external_traffic_policy.as_deref() == Some("Local")
                    && (kind == "NodePort" || kind == "LoadBalancer"),
                internal_local: spec.internal_traffic_policy.as_deref() == Some("Local"),
                endpoints: endpoints_for(service_slices, &port_name),
            });
        }
    }
    out
}

/// The endpoints of the slices' port named `port_name`, without duplicates.
fn endpoints_for(slices: &[&EndpointSlice], port_name: &str) -> Vec<Endpoint> {
    let mut seen = BTreeSet::new();
    for slice in slices {
        let Some(port) = slice
            .ports
            .iter()
            .flatten()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name)
            .and_then(|p| p.port)
            .and_then(|p| u16::try_from(p).ok())
        else {
            continue;
        };
        for ep in &slice.endpoints {
            let cond = ep.conditions.as_ref();
            let ready = cond.and_then(|c| c.ready).unwrap_or(true);
            let serving = cond.and_then(|c| c.serving).unwrap_or(ready);
            let terminating = cond.and_then(|c| c.terminating).unwrap_or(false);
            for addr in &ep.addresses {
                let Some(ip) = parse_v4(addr) else { continue };
                seen.insert(Endpoint {
                    ip,
                    port,
                    ready,
                    serving,
                    terminating,
                    node_name: ep.node_name.clone(),
                });
            }
        }
    }
    // One entry per ip:port (a pod listed twice while slices are rewritten).
    let mut out: Vec<Endpoint> = Vec::new();
    for ep in seen {
        if !out.iter().any(|o| o.ip == ep.ip && o.port == ep.port) {
            out.push(ep);
        }
    }
    out
}
