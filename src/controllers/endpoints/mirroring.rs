//! The EndpointSlice mirroring controller (upstream's `pkg/controller/endpointslicemirroring`):
//! Endpoints written by users for Services without a selector are mirrored into EndpointSlices
//! managed by `endpointslicemirroring-controller.k8s.io`, owned by the Endpoints.

use crate::controllers::common::informer::SharedInformers;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{EndpointAddress, Endpoints, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::Client;

use super::informer::{self, split_key};
use super::slices::{
    address_type, delete_slices, owned_slices, reconcile, Desired, PortsKey, MANAGED_BY_LABEL,
    SERVICE_NAME_LABEL,
};
use super::EndpointsError;
use crate::controllers::queue::WorkQueue;

/// This controller's `managed-by` value.
pub const CONTROLLER_NAME: &str = "endpointslicemirroring-controller.k8s.io";
/// Label on Endpoints that must not be mirrored.
pub const SKIP_MIRROR_LABEL: &str = "endpointslice.kubernetes.io/skip-mirror";
/// Most addresses mirrored per subset (upstream's `--mirroring-max-endpoints-per-subset`).
const MAX_PER_SUBSET: usize = 1000;
/// Most endpoints per mirrored slice.
const MAX_PER_SLICE: usize = 1000;
/// Annotations never copied to the slices.
const SKIPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "control-plane.alpha.kubernetes.io/leader",
    super::trigger::ANNOTATION,
];

/// Runs the mirroring controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let q = queue.clone();
    let services = informer::start(&informers, move |s: &Service, _| {
        q.add(informer::key_of(s));
    });
    let q = queue.clone();
    let endpoints = informer::start(&informers, move |e: &Endpoints, _| {
        q.add(informer::key_of(e));
    });
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
    informer::wait_synced(&endpoints).await;
    let (services, endpoints) = (services.store(), endpoints.store());
    loop {
        let key = queue.next().await;
        match sync(&client, &services, &endpoints, &key).await {
            Ok(()) => queue.forget(&key),
            Err(e) => {
                tracing::debug!(endpoints = %key, error = %e, "endpointslice mirroring: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

fn should_mirror(ep: &Endpoints) -> bool {
    let skip = ep
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SKIP_MIRROR_LABEL))
        .is_some_and(|v| v == "true");
    let leader = ep
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("control-plane.alpha.kubernetes.io/leader"));
    !skip && !leader
}

async fn sync(
    client: &Client,
    services: &Store<Service>,
    endpoints: &Store<Endpoints>,
    key: &str,
) -> Result<(), EndpointsError> {
    let (ns, name) = split_key(key);
    let api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let existing = owned_slices(&api, name, CONTROLLER_NAME).await?;
    let svc = services.get(&ObjectRef::new(name).within(ns));
    let ep = endpoints.get(&ObjectRef::new(name).within(ns));
    let mirror = match (&svc, &ep) {
        (Some(svc), Some(ep)) => {
            svc.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_none()
                && should_mirror(ep)
        }
        _ => false,
    };
    let Some(ep) = ep.filter(|_| mirror) else {
        return delete_slices(&api, existing).await;
    };
    let mut desired = Desired::new();
    for subset in ep.subsets.iter().flatten() {
        let ports: PortsKey = subset
            .ports
            .iter()
            .flatten()
            .map(|p| {
                (
                    p.name.clone(),
                    Some(p.port),
                    p.protocol.clone().or_else(|| Some("TCP".into())),
                    p.app_protocol.clone(),
                )
            })
            .collect();
        let ready = subset.addresses.iter().flatten().map(|a| (a, true));
        let not_ready = subset
            .not_ready_addresses
            .iter()
            .flatten()
            .map(|a| (a, false));
        for (addr, is_ready) in ready.chain(not_ready).take(MAX_PER_SUBSET) {
            desired
                .entry((ports.clone(), address_type(&addr.ip).to_string()))
                .or_default()
                .push(mirrored_endpoint(addr, is_ready));
        }
    }
    let mut labels: BTreeMap<String, String> = ep.metadata.labels.clone().unwrap_or_default();
    labels.insert(SERVICE_NAME_LABEL.into(), name.to_string());
    labels.insert(MANAGED_BY_LABEL.into(), CONTROLLER_NAME.into());
    let annotations: BTreeMap<String, String> = ep
        .metadata
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| !SKIPPED_ANNOTATIONS.contains(&k.as_str()))
        .collect();
    let template = ObjectMeta {
        generate_name: Some(format!("{name}-")),
        namespace: Some(ns.to_string()),
        labels: Some(labels),
        annotations: Some(annotations),
        owner_references: Some(vec![OwnerReference {
            api_version: "v1".into(),
            kind: "Endpoints".into(),
            name: name.to_string(),
            uid: ep.metadata.uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]),
        ..Default::default()
    };
    reconcile(&api, existing, desired, &template, MAX_PER_SLICE, None).await
}

fn mirrored_endpoint(addr: &EndpointAddress, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![addr.ip.clone()],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            ..Default::default()
        }),
        hostname: addr.hostname.clone().filter(|h| !h.is_empty()),
        node_name: addr.node_name.clone().filter(|n| !n.is_empty()),
        target_ref: addr.target_ref.clone(),
        ..Default::default()
    }
}
