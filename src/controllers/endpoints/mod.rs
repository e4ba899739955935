//! Service endpoints: the Endpoints controller (`controller.rs`), the EndpointSlice controller
//! (`slices.rs`) and the EndpointSlice mirroring controller (`mirroring.rs`), with the pod
//! helpers and the small informer they share.

pub mod controller;
pub mod informer;
pub mod mirroring;
pub mod podutil;
pub mod slices;
pub mod trigger;

use crate::controllers::common::informer::{Informer, SharedInformers};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, Service};

use super::queue::WorkQueue;

/// Name of the Endpoints controller for `--disable`.
pub const ENDPOINTS_CONTROLLER: &str = "endpoints-controller";
/// Name of the EndpointSlice controller for `--disable`.
pub const ENDPOINTSLICE_CONTROLLER: &str = "endpointslice-controller";
/// Name of the EndpointSlice mirroring controller for `--disable`.
pub const MIRRORING_CONTROLLER: &str = "endpointslice-mirroring-controller";

/// Errors of one sync (the key is retried).
#[derive(Debug, thiserror::Error)]
pub enum EndpointsError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// Starts the controllers of this area not named in `disabled`: the three endpoint controllers,
/// the disruption controller and the horizontal pod autoscaler.
pub fn spawn_all(informers: &Arc<SharedInformers>, disabled: &[String]) {
    let enabled = |name: &str| !disabled.iter().any(|d| d == name);
    if enabled(ENDPOINTS_CONTROLLER) {
        tokio::spawn(controller::run(informers.clone()));
    }
    if enabled(ENDPOINTSLICE_CONTROLLER) {
        tokio::spawn(slices::run(informers.clone()));
    }
    if enabled(MIRRORING_CONTROLLER) {
        tokio::spawn(mirroring::run(informers.clone()));
    }
    if enabled(super::disruption::CONTROLLER) {
        tokio::spawn(super::disruption::run(informers.clone()));
    }
    if enabled(super::hpa::CONTROLLER) {
        tokio::spawn(super::hpa::run(informers.clone()));
    }
}

/// Service and pod caches feeding `queue` with `namespace/name` keys of services: a service
/// change queues the service, a pod change every service of the pod's namespace (its old labels
/// are unknown, so any of them may have selected it).
pub(crate) fn service_inputs(
    informers: &SharedInformers,
    queue: &Arc<WorkQueue<String>>,
) -> (Informer<Service>, Informer<Pod>) {
    let q = queue.clone();
    let services = informer::start(informers, move |s: &Service, _| {
        q.add(informer::key_of(s));
    });
    let q = queue.clone();
    let svc_store = services.store();
    let pods = informer::start(informers, move |p: &Pod, _| {
        let ns = p.metadata.namespace.as_deref();
        for s in svc_store.state() {
            if s.metadata.namespace.as_deref() == ns {
                q.add(informer::key_of(s.as_ref()));
            }
        }
    });
    (services, pods)
}
