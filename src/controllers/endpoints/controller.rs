//! The Endpoints controller (upstream's `pkg/controller/endpoint`): for every Service with a
//! selector, one Endpoints object named as the service, listing the selected pods' addresses
//! (ready and not ready) and the service ports resolved per pod.

use crate::controllers::common::informer::SharedInformers;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Pod, Service,
};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Client;

use super::informer::{self, split_key};
use super::trigger::{TriggerTimeTracker, ANNOTATION};
use super::{podutil, service_inputs, EndpointsError};
use crate::controllers::queue::WorkQueue;

/// Label marking the endpoints of a headless service.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";

struct Controller {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    triggers: TriggerTimeTracker,
}

/// Runs the Endpoints controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let (services, pods) = service_inputs(&informers, &queue);
    informer::wait_synced(&services).await;
    informer::wait_synced(&pods).await;
    let c = Controller {
        client,
        services: services.store(),
        pods: pods.store(),
        triggers: TriggerTimeTracker::default(),
    };
    loop {
        let key = queue.next().await;
        match c.sync(&key).await {
            Ok(()) => queue.forget(&key),
            Err(e) => {
                tracing::debug!(service = %key, error = %e, "endpoints controller: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<(), EndpointsError> {
        let (ns, name) = split_key(key);
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), ns);
        let svc = self.services.get(&ObjectRef::new(name).within(ns));
        let Some(svc) = svc else {
            // The service is gone: so are its endpoints.
            self.triggers.forget(key);
            return match api.delete(name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                Err(e) => Err(e.into()),
            };
        };
        let Some(selector) = svc.spec.as_ref().and_then(|s| s.selector.clone()) else {
            // Services without a selector get their Endpoints from their users.
            return Ok(());
        };
        if podutil::is_external_name(&svc) {
            return Ok(());
        }
        let all = self.pods.state();
        let pods = podutil::selected_pods(&all, ns, &selector);
        let subsets = compute_subsets(&svc, &pods);
        let trigger = self.triggers.compute(key, &svc, &pods);
        let current = api.get_opt(name).await?;
        let mut labels = svc.metadata.labels.clone().unwrap_or_default();
        if podutil::is_headless(&svc) {
            labels.insert(HEADLESS_LABEL.into(), String::new());
        } else {
            labels.remove(HEADLESS_LABEL);
        }
        if let Some(cur) = &current {
            let same_subsets = cur.subsets.clone().unwrap_or_default() == subsets;
            let same_labels = cur.metadata.labels.clone().unwrap_or_default() == labels;
            if same_subsets && same_labels {
                return Ok(());
            }
        }
        let mut ep = current.clone().unwrap_or_default();
        ep.metadata.name = Some(name.to_string());
        ep.metadata.namespace = Some(ns.to_string());
        ep.metadata.labels = Some(labels);
        let annotations = ep.metadata.annotations.get_or_insert_with(BTreeMap::new);
        match trigger {
            Some(t) => {
                annotations.insert(ANNOTATION.into(), t.to_string());
            }
            None => {
                annotations.remove(ANNOTATION);
            }
        }
        ep.subsets = (!subsets.is_empty()).then_some(subsets);
        if current.is_some() {
            api.replace(name, &PostParams::default(), &ep).await?;
            tracing::debug!(service = %key, "endpoints updated");
        } else {
            ep.metadata.resource_version = None;
            match api.create(&PostParams::default(), &ep).await {
                Ok(_) => tracing::debug!(service = %key, "endpoints created"),
                // Namespace terminating: nothing to do.
                Err(kube::Error::Api(s)) if s.code == 403 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// A sortable identity of an address (IP, then target).
type AddrKey = (String, String);

/// The subsets of a service's endpoints: one entry per (pod, port), then repacked as upstream's
/// `RepackSubsets` (ports sharing the same address set share a subset).
pub fn compute_subsets(svc: &Service, pods: &[&Pod]) -> Vec<EndpointSubset> {
    let spec = svc.spec.clone().unwrap_or_default();
    let tolerate_unready = spec.publish_not_ready_addresses.unwrap_or(false);
    let ports = spec.ports.unwrap_or_default();
    // port → (address key → ready)
    let mut by_port: BTreeMap<PortKey, BTreeMap<AddrKey, bool>> = BTreeMap::new();
    let mut addrs: BTreeMap<AddrKey, EndpointAddress> = BTreeMap::new();
    for pod in pods {
        if !podutil::should_be_in_endpoints(pod, tolerate_unready) {
            continue;
        }
        let Some(ip) = podutil::pod_ip(pod) else {
            continue;
        };
        let addr = EndpointAddress {
            ip: ip.to_string(),
            hostname: podutil::hostname_for(pod, svc),
            node_name: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            target_ref: Some(podutil::target_ref(pod)),
        };
        let key = (
            ip.to_string(),
            pod.metadata.name.clone().unwrap_or_default(),
        );
        let ready = tolerate_unready || podutil::is_ready(pod);
        if ports.is_empty() {
            if podutil::is_headless(svc) {
                by_port
                    .entry(PortKey::none())
                    .or_default()
                    .insert(key.clone(), ready);
                addrs.insert(key, addr);
            }
            continue;
        }
        for sp in &ports {
            let Some(port) = podutil::find_port(pod, sp) else {
                tracing::debug!(pod = ?pod.metadata.name, port = ?sp.name, "no suitable port");
                continue;
            };
            let pk = PortKey {
                name: sp.name.clone().unwrap_or_default(),
                port,
                protocol: sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                app_protocol: sp.app_protocol.clone(),
            };
            by_port.entry(pk).or_default().insert(key.clone(), ready);
            addrs.insert(key.clone(), addr.clone());
        }
    }
    // address set → ports
    let mut by_set: BTreeMap<Vec<(AddrKey, bool)>, BTreeSet<PortKey>> = BTreeMap::new();
    for (port, set) in by_port {
        let set: Vec<(AddrKey, bool)> = set.into_iter().collect();
        let ports = by_set.entry(set).or_default();
        if port.port >= 0 {
            ports.insert(port);
        }
    }
    by_set
        .into_iter()
        .map(|(set, ports)| {
            let (ready, not_ready): (Vec<_>, Vec<_>) = set.into_iter().partition(|(_, r)| *r);
            let pick = |v: Vec<(AddrKey, bool)>| {
                let out: Vec<EndpointAddress> = v
                    .into_iter()
                    .filter_map(|(k, _)| addrs.get(&k).cloned())
                    .collect();
                (!out.is_empty()).then_some(out)
            };
            let ports: Vec<EndpointPort> = ports.into_iter().map(PortKey::into_port).collect();
            EndpointSubset {
                addresses: pick(ready),
                not_ready_addresses: pick(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

/// A resolved endpoint port (ordered by name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PortKey {
    /// The service port's name.
    pub name: String,
    /// The resolved port number (-1: no port, headless services without ports).
    pub port: i32,
    /// The protocol.
    pub protocol: String,
    /// The application protocol.
    pub app_protocol: Option<String>,
}

impl PortKey {
    fn none() -> PortKey {
        PortKey {
            name: String::new(),
            port: -1,
            protocol: String::new(),
            app_protocol: None,
        }
    }

    fn into_port(self) -> EndpointPort {
        EndpointPort {
            name: (!self.name.is_empty()).then_some(self.name),
            port: self.port,
            protocol: Some(self.protocol),
            app_protocol: self.app_protocol,
        }
    }
}
