//! Upstream's `TriggerTimeTracker`: the `endpoints.kubernetes.io/last-change-trigger-time` of a
//! service's endpoints is the earliest change (a pod's Ready transition, the service's creation)
//! not yet reflected in them.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

use super::podutil;

/// The annotation carrying the trigger time.
pub const ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Default)]
struct State {
    service: Option<Timestamp>,
    pods: HashMap<String, Timestamp>,
}

/// Last observed trigger times per service key.
#[derive(Default)]
pub struct TriggerTimeTracker {
    states: Mutex<HashMap<String, State>>,
}

impl TriggerTimeTracker {
    /// The earliest trigger time changed since the last call for `key`, if any.
    pub fn compute(&self, key: &str, svc: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let mut states = self.states.lock();
        let old = states.remove(key).unwrap_or_default();
        let mut new = State::default();
        let mut min: Option<Timestamp> = None;
        let mut consider = |t: Timestamp| min = Some(min.map_or(t, |m| m.min(t)));
        for pod in pods {
            let Some(t) = podutil::ready_condition(pod)
                .and_then(|c| c.last_transition_time.as_ref())
                .map(|t| t.0)
            else {
                continue;
            };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if old.pods.get(&name).is_none_or(|last| t > *last) {
                consider(t);
            }
            new.pods.insert(name, t);
        }
        if let Some(created) = svc.metadata.creation_timestamp.as_ref().map(|t| t.0) {
            if old.service.is_none_or(|last| created > last) {
                consider(created);
            }
            new.service = Some(created);
        }
        states.insert(key.to_string(), new);
        min
    }

    /// Forgets a deleted service.
    pub fn forget(&self, key: &str) {
        self.states.lock().remove(key);
    }
}
