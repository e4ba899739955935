//! The disruption controller (upstream's `pkg/controller/disruption`): keeps the status of every
//! PodDisruptionBudget current — healthy pods, the healthy pods wanted (from `minAvailable` or
//! `maxUnavailable`, percentages taken of the pods' controllers' scale), the disruptions allowed,
//! pods being evicted (`disruptedPods`, written by the eviction subresource) and the
//! `DisruptionAllowed` condition.

use crate::controllers::common::informer::SharedInformers;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, ReplicationController};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, OwnerReference, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::runtime::reflector::Store;
use kube::Client;

use super::endpoints::informer::{self, split_key};
use super::endpoints::podutil;
use super::events::{reference, EventType, Recorder};
use super::queue::WorkQueue;

/// Name of the controller for `--disable`.
pub const CONTROLLER: &str = "disruption-controller";
/// How long an evicted pod may take to go away before it counts again (upstream's
/// `DeletionTimeout`).
pub const DELETION_TIMEOUT: Duration = Duration::from_secs(120);
/// The condition type.
pub const DISRUPTION_ALLOWED: &str = "DisruptionAllowed";

/// Errors of one PDB sync.
#[derive(Debug, thiserror::Error)]
pub enum DisruptionError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The expected pod count could not be computed.
    #[error("{0}")]
    Expected(String),
}

struct Controller {
    client: Client,
    pods: Store<Pod>,
    recorder: Recorder,
    queue: Arc<WorkQueue<String>>,
}

/// Runs the disruption controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let q = queue.clone();
    let pdbs = informer::start(&informers, move |p: &PodDisruptionBudget, _| {
        q.add(informer::key_of(p));
    });
    let q = queue.clone();
    let pdb_store = pdbs.store();
    let pods = informer::start(&informers, move |pod: &Pod, _| {
        let ns = pod.metadata.namespace.as_deref();
        for p in pdb_store.state() {
            if p.metadata.namespace.as_deref() == ns {
                q.add(informer::key_of(p.as_ref()));
            }
        }
    });
    informer::wait_synced(&pdbs).await;
    informer::wait_synced(&pods).await;
    let c = Controller {
        recorder: Recorder::new(client.clone(), "controllermanager", None),
        client,
        pods: pods.store(),
        queue: queue.clone(),
    };
    loop {
        let key = queue.next().await;
        match c.sync(&key).await {
            Ok(()) => queue.forget(&key),
            Err(e) => {
                tracing::debug!(pdb = %key, error = %e, "disruption controller: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

impl Controller {
    async fn sync(&self, key: &str) -> Result<(), DisruptionError> {
        let (ns, name) = split_key(key);
        let api: Api<PodDisruptionBudget> = Api::namespaced(self.client.clone(), ns);
        let Some(pdb) = api.get_opt(name).await? else {
            return Ok(());
        };
        match self.try_sync(&api, &pdb).await {
            Ok(()) => Ok(()),
            Err(DisruptionError::Kube(kube::Error::Api(e))) if e.code == 409 => {
                Err(DisruptionError::Kube(kube::Error::Api(e)))
            }
            Err(e) => {
                self.fail_safe(&api, pdb, &e.to_string()).await?;
                Err(e)
            }
        }
    }

    async fn try_sync(
        &self,
        api: &Api<PodDisruptionBudget>,
        pdb: &PodDisruptionBudget,
    ) -> Result<(), DisruptionError> {
        let ns = pdb.metadata.namespace.as_deref().unwrap_or_default();
        let obj_ref = reference("policy/v1", "PodDisruptionBudget", &pdb.metadata);
        let spec = pdb.spec.clone().unwrap_or_default();
        let all = self.pods.state();
        let pods: Vec<&Pod> = match podutil::label_selector(spec.selector.as_ref()) {
            Some(sel) => all
                .iter()
                .map(|p| p.as_ref())
                .filter(|p| p.metadata.namespace.as_deref() == Some(ns))
                .filter(|p| {
                    let labels = p.metadata.labels.clone().unwrap_or_default();
                    !sel.matches_nothing() && sel.matches(&labels)
                })
                .collect(),
            None => Vec::new(),
        };
        if pods.is_empty() {
            self.recorder
                .record(
                    &obj_ref,
                    EventType::Normal,
                    "NoPods",
                    "No matching pods found",
                )
                .await;
        }
        let (expected, desired, unmanaged) = match self.expected_pod_count(&spec, &pods).await {
            Ok(v) => v,
            Err(e) => {
                let msg = format!("Failed to calculate the number of expected pods: {e}");
                self.recorder
                    .record(
                        &obj_ref,
                        EventType::Warning,
                        "CalculateExpectedPodCountFailed",
                        &msg,
                    )
                    .await;
                return Err(e);
            }
        };
        if !unmanaged.is_empty() {
            let selector = spec
                .selector
                .as_ref()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| "nil".into());
            let msg = format!(
                "Pods selected by this PodDisruptionBudget (selector: {selector}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value."
            );
            self.recorder
                .record(&obj_ref, EventType::Warning, "UnmanagedPods", &msg)
                .await;
        }
        let now = Timestamp::now();
        let (disrupted, recheck) = self.disrupted_pod_map(&pods, pdb, now).await;
        let healthy = count_healthy(&pods, &disrupted, now);
        update_status(api, pdb, healthy, desired, expected, disrupted).await?;
        if let Some(at) = recheck {
            let wait = at.duration_since(now).unsigned_abs();
            let key = informer::key_of(pdb);
            self.queue.add_after(key, wait + Duration::from_millis(100));
        }
        Ok(())
    }

    /// (expected pods, desired healthy, unmanaged pod names) as upstream's
    /// `getExpectedPodCount`.
    async fn expected_pod_count(
        &self,
        spec: &k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec,
        pods: &[&Pod],
    ) -> Result<(i32, i32, Vec<String>), DisruptionError> {
        if let Some(max_unavailable) = &spec.max_unavailable {
            let (expected, unmanaged) = self.expected_scale(pods).await?;
            let max = scaled_value(max_unavailable, expected, true)?;
            return Ok(((expected), (expected - max).max(0), unmanaged));
        }
        match &spec.min_available {
            Some(IntOrString::Int(n)) => Ok((pods.len() as i32, *n, Vec::new())),
            Some(v @ IntOrString::String(_)) => {
                let (expected, unmanaged) = self.expected_scale(pods).await?;
                Ok((expected, scaled_value(v, expected, true)?, unmanaged))
            }
            None => Ok((pods.len() as i32, 0, Vec::new())),
        }
    }

    /// Sum of the scale of the pods' controllers, and the pods without one.
    async fn expected_scale(&self, pods: &[&Pod]) -> Result<(i32, Vec<String>), DisruptionError> {
        let mut scales: HashMap<String, i32> = HashMap::new();
        let mut unmanaged = Vec::new();
        for pod in pods {
            let Some(owner) = podutil::controller_of(&pod.metadata) else {
                unmanaged.push(pod.metadata.name.clone().unwrap_or_default());
                continue;
            };
            if scales.contains_key(&owner.uid) {
                continue;
            }
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            match self.controller_scale(ns, owner).await? {
                Some((uid, scale)) => {
                    scales.insert(uid, scale);
                }
                None => {
                    return Err(DisruptionError::Expected(format!(
                        "found no controllers for pod {:?}",
                        pod.metadata.name.clone().unwrap_or_default()
                    )))
                }
            }
        }
        Ok((scales.values().sum(), unmanaged))
    }

    /// The controller (uid, `spec.replicas`) behind an owner reference: a Deployment through its
    /// ReplicaSet, a ReplicaSet, a StatefulSet or a ReplicationController.
    async fn controller_scale(
        &self,
        ns: &str,
        owner: &OwnerReference,
    ) -> Result<Option<(String, i32)>, DisruptionError> {
        let group = owner
            .api_version
            .rsplit_once('/')
            .map(|(g, _)| g)
            .unwrap_or("");
        let c = &self.client;
        let found = match (group, owner.kind.as_str()) {
            ("apps", "ReplicaSet") => {
                let rs = Api::<ReplicaSet>::namespaced(c.clone(), ns)
                    .get_opt(&owner.name)
                    .await?;
                let Some(rs) = rs.filter(|r| r.metadata.uid.as_deref() == Some(&owner.uid)) else {
                    return Ok(None);
                };
                if let Some(d) =
                    podutil::controller_of(&rs.metadata).filter(|o| o.kind == "Deployment")
                {
                    let dep = Api::<Deployment>::namespaced(c.clone(), ns)
                        .get_opt(&d.name)
                        .await?;
                    dep.filter(|x| x.metadata.uid.as_deref() == Some(&d.uid))
                        .map(|x| (d.uid.clone(), x.spec.and_then(|s| s.replicas).unwrap_or(1)))
                } else {
                    Some((
                        owner.uid.clone(),
                        rs.spec.and_then(|s| s.replicas).unwrap_or(1),
                    ))
                }
            }
            ("apps", "StatefulSet") => Api::<StatefulSet>::namespaced(c.clone(), ns)
                .get_opt(&owner.name)
                .await?
                .filter(|x| x.metadata.uid.as_deref() == Some(&owner.uid))
                .map(|x| {
                    (
                        owner.uid.clone(),
                        x.spec.and_then(|s| s.replicas).unwrap_or(1),
                    )
                }),
            ("", "ReplicationController") => {
                Api::<ReplicationController>::namespaced(c.clone(), ns)
                    .get_opt(&owner.name)
                    .await?
                    .filter(|x| x.metadata.uid.as_deref() == Some(&owner.uid))
                    .map(|x| {
                        (
                            owner.uid.clone(),
                            x.spec.and_then(|s| s.replicas).unwrap_or(1),
                        )
                    })
            }
            _ => None,
        };
        Ok(found)
    }

    /// Upstream's `buildDisruptedPodMap`: evictions still expected to complete, and when the
    /// earliest of them times out.
    async fn disrupted_pod_map(
        &self,
        pods: &[&Pod],
        pdb: &PodDisruptionBudget,
        now: Timestamp,
    ) -> (BTreeMap<String, Time>, Option<Timestamp>) {
        let mut out = BTreeMap::new();
        let mut recheck: Option<Timestamp> = None;
        let Some(disrupted) = pdb.status.as_ref().and_then(|s| s.disrupted_pods.as_ref()) else {
            return (out, recheck);
        };
        let timeout =
            k8s_openapi::jiff::SignedDuration::from_secs(DELETION_TIMEOUT.as_secs() as i64);
        for pod in pods {
            if podutil::is_terminating(pod) {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap_or_default();
            let Some(at) = disrupted.get(&name) else {
                continue;
            };
            let expected = at.0.checked_add(timeout).unwrap_or(at.0);
            if expected < now {
                let msg = format!(
                    "Pod was expected by PDB {}/{} to be deleted but it wasn't",
                    pdb.metadata.namespace.as_deref().unwrap_or_default(),
                    pdb.metadata.name.as_deref().unwrap_or_default()
                );
                let r = reference("v1", "Pod", &pod.metadata);
                self.recorder
                    .record(&r, EventType::Warning, "NotDeleted", &msg)
                    .await;
            } else {
                recheck = Some(recheck.map_or(expected, |r| r.min(expected)));
                out.insert(name, at.clone());
            }
        }
        (out, recheck)
    }

    /// Upstream's `failSafe`: no disruptions allowed, `DisruptionAllowed=False/SyncFailed`.
    async fn fail_safe(
        &self,
        api: &Api<PodDisruptionBudget>,
        mut pdb: PodDisruptionBudget,
        message: &str,
    ) -> Result<(), DisruptionError> {
        let status = pdb.status.get_or_insert_with(Default::default);
        status.disruptions_allowed = 0;
        let generation = status.observed_generation;
        set_condition(
            &mut status.conditions,
            "False",
            "SyncFailed",
            message,
            generation,
        );
        let name = pdb.metadata.name.clone().unwrap_or_default();
        api.replace_status(&name, &PostParams::default(), &pdb)
            .await?;
        Ok(())
    }
}

/// Upstream's `GetScaledValueFromIntOrPercent`.
pub fn scaled_value(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, DisruptionError> {
    match v {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let pct = s
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
                .ok_or_else(|| {
                    DisruptionError::Expected(format!(
                        "invalid value for IntOrString: invalid value {s:?}"
                    ))
                })?;
            let scaled = pct * i64::from(total);
            let v = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            Ok(v as i32)
        }
    }
}

/// Upstream's `countHealthyPods`: ready pods neither being deleted nor recently evicted.
fn count_healthy(pods: &[&Pod], disrupted: &BTreeMap<String, Time>, now: Timestamp) -> i32 {
    let timeout = k8s_openapi::jiff::SignedDuration::from_secs(DELETION_TIMEOUT.as_secs() as i64);
    pods.iter()
        .filter(|p| !podutil::is_terminating(p))
        .filter(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            disrupted
                .get(&name)
                .is_none_or(|t| t.0.checked_add(timeout).unwrap_or(t.0) <= now)
        })
        .filter(|p| podutil::is_ready(p))
        .count() as i32
}

/// `apimeta.SetStatusCondition` for the `DisruptionAllowed` condition.
pub fn set_condition(
    conditions: &mut Option<Vec<Condition>>,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let list = conditions.get_or_insert_with(Vec::new);
    let now = Time(Timestamp::now());
    match list.iter_mut().find(|c| c.type_ == DISRUPTION_ALLOWED) {
        Some(c) => {
            if c.status != status {
                c.status = status.into();
                c.last_transition_time = now;
            }
            c.reason = reason.into();
            c.message = message.into();
            c.observed_generation = generation;
        }
        None => list.push(Condition {
            type_: DISRUPTION_ALLOWED.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            observed_generation: generation,
            last_transition_time: now,
        }),
    }
}

/// Upstream's `UpdateDisruptionAllowedCondition`.
pub fn update_disruption_allowed_condition(status: &mut PodDisruptionBudgetStatus) {
    let generation = status.observed_generation;
    if status.disruptions_allowed > 0 {
        set_condition(
            &mut status.conditions,
            "True",
            "SufficientPods",
            "",
            generation,
        );
    } else {
        set_condition(
            &mut status.conditions,
            "False",
            "InsufficientPods",
            "",
            generation,
        );
    }
}

async fn update_status(
    api: &Api<PodDisruptionBudget>,
    pdb: &PodDisruptionBudget,
    healthy: i32,
    desired: i32,
    expected: i32,
    disrupted: BTreeMap<String, Time>,
) -> Result<(), DisruptionError> {
    // Disruptions need a known, positive expected count: a PDB whose first pods just appeared
    // stays safe until this controller has seen them.
    let mut allowed = healthy - desired;
    if expected <= 0 || allowed <= 0 {
        allowed = 0;
    }
    let old = pdb.status.clone().unwrap_or_default();
    let generation = pdb.metadata.generation;
    let old_disrupted = old.disrupted_pods.clone().unwrap_or_default();
    if old.current_healthy == healthy
        && old.desired_healthy == desired
        && old.expected_pods == expected
        && old.disruptions_allowed == allowed
        && old.observed_generation == generation
        && old_disrupted == disrupted
        && old.conditions.as_ref().is_some_and(|c| !c.is_empty())
    {
        return Ok(());
    }
    let mut status = PodDisruptionBudgetStatus {
        current_healthy: healthy,
        desired_healthy: desired,
        expected_pods: expected,
        disruptions_allowed: allowed,
        disrupted_pods: (!disrupted.is_empty()).then_some(disrupted),
        observed_generation: generation,
        conditions: old.conditions,
    };
    update_disruption_allowed_condition(&mut status);
    let mut new = pdb.clone();
    new.status = Some(status);
    let name = pdb.metadata.name.clone().unwrap_or_default();
    api.replace_status(&name, &PostParams::default(), &new)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_up() {
        let p = IntOrString::String("50%".into());
        assert_eq!(scaled_value(&p, 3, true).ok(), Some(2));
        assert_eq!(scaled_value(&p, 3, false).ok(), Some(1));
        assert_eq!(scaled_value(&IntOrString::Int(2), 9, true).ok(), Some(2));
        assert!(scaled_value(&IntOrString::String("x".into()), 3, true).is_err());
    }
}
