//! The EndpointSlice controller (upstream's `pkg/controller/endpointslice`): for every Service
//! with a selector, EndpointSlices `<service>-<random>` holding the selected pods as endpoints
//! (conditions ready/serving/terminating), grouped by their resolved ports, at most
//! [`MAX_ENDPOINTS_PER_SLICE`] per slice. A service without endpoints keeps one empty
//! placeholder slice, as upstream.

use crate::controllers::common::informer::SharedInformers;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Client;

use super::informer::{self, split_key};
use super::trigger::{TriggerTimeTracker, ANNOTATION};
use super::{podutil, service_inputs, EndpointsError};
use crate::controllers::queue::WorkQueue;

/// Label naming the service of a slice.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// Label naming the controller managing a slice.
pub const MANAGED_BY_LABEL: &str = "endpointslice.kubernetes.io/managed-by";
/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
/// Most endpoints in one slice (upstream's `--max-endpoints-per-slice` default).
pub const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// A slice's ports as a sortable key: (name, port, protocol, appProtocol).
pub type PortsKey = Vec<(Option<String>, Option<i32>, Option<String>, Option<String>)>;

/// What slices should exist: (ports, address type) → endpoints.
pub type Desired = BTreeMap<(PortsKey, String), Vec<Endpoint>>;

struct Controller {
    client: Client,
    services: Store<Service>,
    pods: Store<Pod>,
    triggers: TriggerTimeTracker,
}

/// Runs the EndpointSlice controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let (services, pods) = service_inputs(&informers, &queue);
    let q = queue.clone();
    let _slices = informer::start(&informers, move |s: &EndpointSlice, _| {
        let labels = s.metadata.labels.as_ref();
        if labels
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .map(String::as_str)
            == Some(CONTROLLER_NAME)
        {
            if let Some(svc) = labels.and_then(|l| l.get(SERVICE_NAME_LABEL)) {
                let ns = s.metadata.namespace.as_deref().unwrap_or_default();
                q.add(format!("{ns}/{svc}"));
            }
        }
    });
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
                tracing::debug!(service = %key, error = %e, "endpointslice controller: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<(), EndpointsError> {
        let (ns, name) = split_key(key);
        let api: Api<EndpointSlice> = Api::namespaced(self.client.clone(), ns);
        let existing = owned_slices(&api, name, CONTROLLER_NAME).await?;
        let svc = self.services.get(&ObjectRef::new(name).within(ns));
        let Some(svc) = svc else {
            // Deleted service: the garbage collector removes the slices through their owner
            // reference; removing them here too is faster and harmless.
            self.triggers.forget(key);
            return delete_slices(&api, existing).await;
        };
        let selector = svc.spec.as_ref().and_then(|s| s.selector.clone());
        let Some(selector) = selector.filter(|_| !podutil::is_external_name(&svc)) else {
            return Ok(());
        };
        let all = self.pods.state();
        let pods = podutil::selected_pods(&all, ns, &selector);
        let desired = desired_endpoints(&svc, &pods);
        let trigger = self.triggers.compute(key, &svc, &pods);
        let mut labels = BTreeMap::new();
        for (k, v) in svc.metadata.labels.iter().flatten() {
            if !matches!(
                k.as_str(),
                SERVICE_NAME_LABEL | MANAGED_BY_LABEL | super::controller::HEADLESS_LABEL
            ) {
                labels.insert(k.clone(), v.clone());
            }
        }
        let cluster_ip = svc.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
        if cluster_ip.is_none_or(|ip| ip.is_empty() || ip == "None") {
            labels.insert(super::controller::HEADLESS_LABEL.into(), String::new());
        }
        labels.insert(SERVICE_NAME_LABEL.into(), name.to_string());
        labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
        let mut annotations = BTreeMap::new();
        if let Some(t) = trigger {
            annotations.insert(ANNOTATION.to_string(), t.to_string());
        }
        let template = ObjectMeta {
            generate_name: Some(format!("{name}-")),
            namespace: Some(ns.to_string()),
            labels: Some(labels),
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "v1".into(),
                kind: "Service".into(),
                name: name.to_string(),
                uid: svc.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        };
        let placeholder_type = address_type_of_service(&svc);
        reconcile(
            &api,
            existing,
            desired,
            &template,
            MAX_ENDPOINTS_PER_SLICE,
            Some(placeholder_type),
        )
        .await
    }
}

/// The address type of a service's placeholder slice (its first IP family).
fn address_type_of_service(svc: &Service) -> String {
    svc.spec
        .as_ref()
        .and_then(|s| s.ip_families.as_ref())
        .and_then(|f| f.first().cloned())
        .unwrap_or_else(|| "IPv4".into())
}

/// `IPv6` for an address with a colon, else `IPv4`.
pub fn address_type(ip: &str) -> &'static str {
    if ip.contains(':') {
        "IPv6"
    } else {
        "IPv4"
    }
}

/// The endpoints a service should have, grouped by resolved ports and address type.
pub fn desired_endpoints(svc: &Service, pods: &[&Pod]) -> Desired {
    let spec = svc.spec.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let families = spec.ip_families.clone().unwrap_or_default();
    let mut out = Desired::new();
    let mut pods: Vec<&Pod> = pods.to_vec();
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pod in pods {
        if !podutil::should_be_in_endpoints(pod, true) {
            continue;
        }
        let Some(ip) = podutil::pod_ip(pod) else {
            continue;
        };
        let family = address_type(ip);
        if !families.is_empty() && !families.iter().any(|f| f == family) {
            continue;
        }
        let mut ports: PortsKey = Vec::new();
        let headless_without_ports =
            spec.ports.as_ref().is_none_or(Vec::is_empty) && podutil::is_headless(svc);
        if !headless_without_ports {
            for sp in spec.ports.iter().flatten() {
                let Some(port) = podutil::find_port(pod, sp) else {
                    continue;
                };
                ports.push((
                    Some(sp.name.clone().unwrap_or_default()),
                    Some(port),
                    Some(sp.protocol.clone().unwrap_or_else(|| "TCP".into())),
                    sp.app_protocol.clone(),
                ));
            }
        }
        let serving = podutil::is_ready(pod);
        let terminating = podutil::is_terminating(pod);
        let ready = publish_not_ready || (serving && !terminating);
        let ep = Endpoint {
            addresses: vec![ip.to_string()],
            conditions: Some(EndpointConditions {
                ready: Some(ready),
                serving: Some(serving),
                terminating: Some(terminating),
            }),
            hostname: podutil::hostname_for(pod, svc),
            node_name: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty()),
            target_ref: Some(podutil::target_ref(pod)),
            ..Default::default()
        };
        out.entry((ports, family.to_string())).or_default().push(ep);
    }
    out
}

/// The slices of service `service` managed by `manager`.
pub async fn owned_slices(
    api: &Api<EndpointSlice>,
    service: &str,
    manager: &str,
) -> Result<Vec<EndpointSlice>, kube::Error> {
    let lp = ListParams::default().labels(&format!(
        "{SERVICE_NAME_LABEL}={service},{MANAGED_BY_LABEL}={manager}"
    ));
    let mut items = api.list(&lp).await?.items;
    items.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(items)
}

/// Deletes `slices` (already gone is fine).
pub async fn delete_slices(
    api: &Api<EndpointSlice>,
    slices: Vec<EndpointSlice>,
) -> Result<(), EndpointsError> {
    for s in slices {
        let name = s.metadata.name.unwrap_or_default();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::debug!(slice = %name, "endpointslice deleted"),
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn ports_of(key: &PortsKey) -> Vec<EndpointPort> {
    key.iter()
        .map(|(name, port, protocol, app)| EndpointPort {
            name: name.clone(),
            port: *port,
            protocol: protocol.clone(),
            app_protocol: app.clone(),
        })
        .collect()
}

fn key_of_ports(ports: Option<&Vec<EndpointPort>>) -> PortsKey {
    ports
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p.name.clone(),
                p.port,
                p.protocol.clone(),
                p.app_protocol.clone(),
            )
        })
        .collect()
}

/// Makes the existing slices match `desired`: each (ports, address type) group is cut into
/// chunks of `max` endpoints, chunks are written into existing slices of the same group (only
/// when they differ), the rest created from `template`, and left-over slices deleted. With
/// `placeholder` set, an empty `desired` keeps one slice without endpoints of that type.
pub async fn reconcile(
    api: &Api<EndpointSlice>,
    existing: Vec<EndpointSlice>,
    mut desired: Desired,
    template: &ObjectMeta,
    max: usize,
    placeholder: Option<String>,
) -> Result<(), EndpointsError> {
    if desired.is_empty() {
        if let Some(t) = placeholder {
            desired.insert((Vec::new(), t), Vec::new());
        }
    }
    let mut pool: BTreeMap<(PortsKey, String), Vec<EndpointSlice>> = BTreeMap::new();
    for s in existing {
        let k = (key_of_ports(s.ports.as_ref()), s.address_type.clone());
        pool.entry(k).or_default().push(s);
    }
    let mut leftovers: Vec<EndpointSlice> = Vec::new();
    for ((ports_key, family), endpoints) in desired {
        let mut reuse = pool
            .remove(&(ports_key.clone(), family.clone()))
            .unwrap_or_default();
        reuse.reverse();
        let chunks: Vec<Vec<Endpoint>> = if endpoints.is_empty() {
            vec![Vec::new()]
        } else {
            endpoints
                .chunks(max.max(1))
                .map(<[Endpoint]>::to_vec)
                .collect()
        };
        for chunk in chunks {
            let mut want = EndpointSlice {
                metadata: template.clone(),
                address_type: family.clone(),
                endpoints: chunk,
                ports: Some(ports_of(&ports_key)),
            };
            match reuse.pop() {
                Some(cur) => {
                    let same = cur.endpoints == want.endpoints
                        && cur.metadata.labels == want.metadata.labels
                        && cur.metadata.owner_references == want.metadata.owner_references;
                    if same {
                        continue;
                    }
                    let mut annotations = cur.metadata.annotations.clone().unwrap_or_default();
                    annotations.remove(ANNOTATION);
                    annotations.extend(want.metadata.annotations.take().unwrap_or_default());
                    want.metadata = ObjectMeta {
                        annotations: Some(annotations),
                        generate_name: cur.metadata.generate_name.clone(),
                        ..cur.metadata.clone()
                    };
                    want.metadata.labels = template.labels.clone();
                    want.metadata.owner_references = template.owner_references.clone();
                    let name = cur.metadata.name.clone().unwrap_or_default();
                    api.replace(&name, &PostParams::default(), &want).await?;
                    tracing::debug!(slice = %name, "endpointslice updated");
                }
                None => match api.create(&PostParams::default(), &want).await {
                    Ok(s) => tracing::debug!(slice = ?s.metadata.name, "endpointslice created"),
                    Err(kube::Error::Api(e)) if e.code == 403 => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
        leftovers.extend(reuse);
    }
    leftovers.extend(pool.into_values().flatten());
    delete_slices(api, leftovers).await
}
