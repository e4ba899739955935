//! The in-memory DNS index: the parts of Services, EndpointSlices and Pods that make records,
//! and the records themselves, kept per owner (a Service with its slices, or a Pod) so that an
//! object change re-computes only that owner's records. Names are lower-case, without the
//! trailing dot. Pure: no I/O, fed by `watch.rs`, read by `answer.rs`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;

/// Label naming an EndpointSlice's Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// One record's data (the owner name is the key it is stored under).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rec {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Service location: port and target name.
    Srv {
        /// The port.
        port: u16,
        /// The target name (lower case, no trailing dot).
        target: String,
    },
    /// Alias to another name (ExternalName Services).
    Cname(String),
    /// Reverse pointer.
    Ptr(String),
    /// Makes a name exist without records (a headless Service without ready endpoints).
    Exists,
}

/// Who put a record into the index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Owner {
    /// A Service (namespace, name), with its EndpointSlices.
    Service(String, String),
    /// A Pod (namespace, name).
    Pod(String, String),
}

/// What a Service contributes.
#[derive(Clone, Debug, PartialEq)]
pub enum ServiceKind {
    /// ClusterIP, NodePort or LoadBalancer: its cluster IPs.
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: the endpoints' addresses.
    Headless,
    /// `type: ExternalName`: an alias.
    ExternalName(String),
}

/// A port of a Service or an EndpointSlice.
#[derive(Clone, Debug, PartialEq)]
pub struct PortData {
    /// The port's name (SRV records exist only for named ports).
    pub name: String,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The port number.
    pub port: u16,
}

/// The parts of a Service that make records.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceData {
    /// Kind and addresses.
    pub kind: ServiceKind,
    /// Its ports.
    pub ports: Vec<PortData>,
}

/// One ready endpoint of a slice.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointData {
    /// Its addresses.
    pub addresses: Vec<IpAddr>,
    /// Its `hostname` (StatefulSet pods, pods with `hostname` + `subdomain`).
    pub hostname: Option<String>,
}

/// The parts of an EndpointSlice that make records.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceData {
    /// The Service it belongs to (its `kubernetes.io/service-name` label).
    pub service: String,
    /// Its ports.
    pub ports: Vec<PortData>,
    /// Its ready endpoints.
    pub endpoints: Vec<EndpointData>,
}

/// The parts of a Pod that make records.
#[derive(Clone, Debug, PartialEq)]
pub struct PodData {
    /// Its IPs.
    pub ips: Vec<IpAddr>,
    /// `hostNetwork` pods share the node's address: they get no PTR record.
    pub host_network: bool,
}

type Key = (String, String);

/// The index: objects by key, records by name.
#[derive(Debug)]
pub struct Index {
    domain: String,
    services: HashMap<Key, ServiceData>,
    slices: HashMap<Key, SliceData>,
    pods: HashMap<Key, PodData>,
    owned: HashMap<Owner, Vec<(String, Rec)>>,
    names: HashMap<String, Vec<(Owner, Rec)>>,
    /// Names that exist only because names below them do (empty non-terminals), with counts.
    ents: HashMap<String, usize>,
    serial: u32,
}

impl Index {
    /// An empty index for the cluster domain `domain` (e.g. `cluster.local`).
    pub fn new(domain: &str) -> Index {
        Index {
            domain: normalize(domain),
            services: HashMap::new(),
            slices: HashMap::new(),
            pods: HashMap::new(),
            owned: HashMap::new(),
            names: HashMap::new(),
            ents: HashMap::new(),
            serial: 1,
        }
    }

    /// The cluster domain (lower case, no trailing dot).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Bumped on every change (the SOA serial).
    pub fn serial(&self) -> u32 {
        self.serial
    }

    /// Records at `name` (normalized) with their owners.
    pub fn records(&self, name: &str) -> &[(Owner, Rec)] {
        self.names.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when names exist below `name` (normalized).
    pub fn has_children(&self, name: &str) -> bool {
        self.ents.contains_key(name)
    }

    /// Keys of the Services in the index.
    pub fn service_keys(&self) -> Vec<Key> {
        self.services.keys().cloned().collect()
    }

    /// Keys of the EndpointSlices in the index.
    pub fn slice_keys(&self) -> Vec<Key> {
        self.slices.keys().cloned().collect()
    }

    /// Keys of the Pods in the index.
    pub fn pod_keys(&self) -> Vec<Key> {
        self.pods.keys().cloned().collect()
    }

    /// Adds or replaces a Service.
    pub fn upsert_service(&mut self, ns: &str, name: &str, data: ServiceData) {
        let key = (ns.to_string(), name.to_string());
        if self.services.get(&key) == Some(&data) {
            return;
        }
        self.services.insert(key, data);
        self.recompute_service(ns, name);
    }

    /// Removes a Service.
    pub fn remove_service(&mut self, ns: &str, name: &str) {
        if self
            .services
            .remove(&(ns.to_string(), name.to_string()))
            .is_some()
        {
            self.recompute_service(ns, name);
        }
    }

    /// Adds or replaces an EndpointSlice.
    pub fn upsert_slice(&mut self, ns: &str, name: &str, data: SliceData) {
        let key = (ns.to_string(), name.to_string());
        if self.slices.get(&key) == Some(&data) {
            return;
        }
        let service = data.service.clone();
        if let Some(old) = self.slices.insert(key, data) {
            if old.service != service {
                self.recompute_service(ns, &old.service);
            }
        }
        self.recompute_service(ns, &service);
    }

    /// Removes an EndpointSlice.
    pub fn remove_slice(&mut self, ns: &str, name: &str) {
        if let Some(old) = self.slices.remove(&(ns.to_string(), name.to_string())) {
            self.recompute_service(ns, &old.service);
        }
    }

    /// Adds or replaces a Pod.
    pub fn upsert_pod(&mut self, ns: &str, name: &str, data: PodData) {
        let key = (ns.to_string(), name.to_string());
        if self.pods.get(&key) == Some(&data) {
            return;
        }
        let mut recs = Vec::new();
        for ip in &data.ips {
            let fqdn = format!("{}.{ns}.pod.{}", dashed(ip), self.domain);
            recs.push((fqdn.clone(), address(*ip)));
            if !data.host_network {
                recs.push((reverse_name(ip), Rec::Ptr(fqdn)));
            }
        }
        self.pods.insert(key.clone(), data);
        self.replace(Owner::Pod(key.0, key.1), recs);
    }

    /// Removes a Pod.
    pub fn remove_pod(&mut self, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        if self.pods.remove(&key).is_some() {
            self.replace(Owner::Pod(key.0, key.1), Vec::new());
        }
    }

    fn recompute_service(&mut self, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        let mut recs = Vec::new();
        if let Some(svc) = self.services.get(&key) {
            let base = format!("{name}.{ns}.svc.{}", self.domain);
            match &svc.kind {
                ServiceKind::ExternalName(target) => {
                    recs.push((base, Rec::Cname(normalize(target))));
                }
                ServiceKind::ClusterIp(ips) => {
                    for ip in ips {
                        recs.push((base.clone(), address(*ip)));
                        recs.push((reverse_name(ip), Rec::Ptr(base.clone())));
                    }
                    for p in &svc.ports {
                        let srv = Rec::Srv {
                            port: p.port,
                            target: base.clone(),
                        };
                        if !p.name.is_empty() {
                            let n = format!("_{}._{}.{base}", p.name, p.protocol);
                            recs.push((n, srv.clone()));
                        }
                        recs.push((base.clone(), srv));
                    }
                }
                ServiceKind::Headless => {
                    recs.push((base.clone(), Rec::Exists));
                    let mut slices: Vec<_> = self
                        .slices
                        .iter()
                        .filter(|((sns, _), s)| sns == ns && s.service == name)
                        .collect();
                    slices.sort_by(|a, b| a.0.cmp(b.0));
                    for (_, slice) in slices {
                        headless_records(&base, slice, &mut recs);
                    }
                }
            }
        }
        self.replace(Owner::Service(key.0, key.1), recs);
    }

    /// Replaces everything `owner` contributed with `recs`.
    fn replace(&mut self, owner: Owner, mut recs: Vec<(String, Rec)>) {
        let mut seen = std::collections::HashSet::new();
        recs.retain(|r| seen.insert(r.clone()));
        let old = self.owned.remove(&owner).unwrap_or_default();
        if old == recs {
            if !recs.is_empty() {
                self.owned.insert(owner, recs);
            }
            return;
        }
        self.serial = self.serial.wrapping_add(1);
        for (name, rec) in &old {
            if let Some(list) = self.names.get_mut(name) {
                if let Some(i) = list.iter().position(|(o, r)| o == &owner && r == rec) {
                    list.swap_remove(i);
                }
                if list.is_empty() {
                    self.names.remove(name);
                }
            }
            for anc in ancestors(name, &self.domain) {
                if let Some(n) = self.ents.get_mut(anc) {
                    *n -= 1;
                    if *n == 0 {
                        self.ents.remove(anc);
                    }
                }
            }
        }
        for (name, rec) in &recs {
            self.names
                .entry(name.clone())
                .or_default()
                .push((owner.clone(), rec.clone()));
            for anc in ancestors(name, &self.domain) {
                *self.ents.entry(anc.to_string()).or_default() += 1;
            }
        }
        if !recs.is_empty() {
            self.owned.insert(owner, recs);
        }
    }
}

/// The records of a headless Service's slice under `base` (`svc.ns.svc.<domain>`).
fn headless_records(base: &str, slice: &SliceData, recs: &mut Vec<(String, Rec)>) {
    for ep in &slice.endpoints {
        let Some(first) = ep.addresses.first() else {
            continue;
        };
        let label = ep
            .hostname
            .clone()
            .unwrap_or_else(|| dashed(first))
            .to_ascii_lowercase();
        let ep_name = format!("{label}.{base}");
        for ip in &ep.addresses {
            recs.push((base.to_string(), address(*ip)));
            recs.push((ep_name.clone(), address(*ip)));
            if ep.hostname.is_some() {
                recs.push((reverse_name(ip), Rec::Ptr(ep_name.clone())));
            }
        }
        for p in &slice.ports {
            let srv = Rec::Srv {
                port: p.port,
                target: ep_name.clone(),
            };
            if !p.name.is_empty() {
                recs.push((format!("_{}._{}.{base}", p.name, p.protocol), srv.clone()));
            }
            recs.push((base.to_string(), srv));
        }
    }
}

/// The names strictly between `name` and its zone (`domain`, `in-addr.arpa` or `ip6.arpa`).
fn ancestors<'a>(name: &'a str, domain: &str) -> Vec<&'a str> {
    let zone_len = [domain, "in-addr.arpa", "ip6.arpa"]
        .iter()
        .find(|z| name.ends_with(&format!(".{z}")))
        .map(|z| z.len())
        .unwrap_or(0);
    let mut out = Vec::new();
    let mut rest = name;
    while let Some(i) = rest.find('.') {
        rest = &rest[i + 1..];
        if rest.len() <= zone_len {
            break;
        }
        out.push(rest);
    }
    out
}

/// A name in the index's form: lower case, no trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An IP as a DNS label: `10-42-0-5`, `fd00--1`.
pub fn dashed(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

/// The A or AAAA record of `ip`.
fn address(ip: IpAddr) -> Rec {
    match ip {
        IpAddr::V4(v4) => Rec::A(v4),
        IpAddr::V6(v6) => Rec::Aaaa(v6),
    }
}

/// The reverse lookup name: `5.0.42.10.in-addr.arpa`, nibbles under `ip6.arpa`.
pub fn reverse_name(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// What of a Service makes records (`None` for a Service without a usable spec).
pub fn service_data(svc: &Service) -> Option<ServiceData> {
    let spec = svc.spec.as_ref()?;
    let ports = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortData {
                name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                port: u16::try_from(p.port).ok()?,
            })
        })
        .collect();
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        ServiceKind::ExternalName(spec.external_name.clone()?)
    } else if spec.cluster_ip.as_deref() == Some("None") {
        ServiceKind::Headless
    } else {
        let mut ips: Vec<IpAddr> = spec
            .cluster_ips
            .iter()
            .flatten()
            .filter_map(|s| s.parse().ok())
            .collect();
        if ips.is_empty() {
            ips.extend(
                spec.cluster_ip
                    .as_deref()
                    .and_then(|s| s.parse::<IpAddr>().ok()),
            );
        }
        if ips.is_empty() {
            return None;
        }
        ServiceKind::ClusterIp(ips)
    };
    Some(ServiceData { kind, ports })
}

/// What of an EndpointSlice makes records: its Service, ports and ready endpoints (`ready`
/// unset counts as ready, as upstream).
pub fn slice_data(slice: &EndpointSlice) -> Option<SliceData> {
    let service = slice.metadata.labels.as_ref()?.get(SERVICE_NAME_LABEL)?;
    let ports = slice
        .ports
        .iter()
        .flatten()
        .filter_map(|p| {
            Some(PortData {
                name: p.name.clone().unwrap_or_default().to_ascii_lowercase(),
                protocol: p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
                port: u16::try_from(p.port?).ok()?,
            })
        })
        .collect();
    let endpoints = slice
        .endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) != Some(false))
        .map(|e| EndpointData {
            addresses: e.addresses.iter().filter_map(|a| a.parse().ok()).collect(),
            hostname: e.hostname.clone().filter(|h| !h.is_empty()),
        })
        .collect();
    Some(SliceData {
        service: service.clone(),
        ports,
        endpoints,
    })
}

/// What of a Pod makes records: its IPs.
pub fn pod_data(pod: &Pod) -> PodData {
    let status = pod.status.as_ref();
    let mut ips: Vec<IpAddr> = status
        .and_then(|s| s.pod_ips.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|p| p.ip.parse().ok())
        .collect();
    if ips.is_empty() {
        ips.extend(
            status
                .and_then(|s| s.pod_ip.as_deref())
                .and_then(|s| s.parse::<IpAddr>().ok()),
        );
    }
    PodData {
        ips,
        host_network: pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false),
    }
}
