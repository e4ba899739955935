//! One sync of a ReplicaSet / ReplicationController (upstream's `syncReplicaSet`,
//! `manageReplicas`, `claimPods`, `calculateStatus`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::ObjectRef;
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::{min_ready_requeue, Ctl, Replicated, SyncError, Target, BURST_REPLICAS};
use crate::controllers::common::controller_ref::{
    adopt, controller_of, controller_ref, decide, release, Claim,
};
use crate::controllers::common::pods::{
    is_active, is_available, is_ready, orphans_in, pods_to_delete, BY_CONTROLLER,
};
use crate::controllers::common::slow_start::slow_start_batch;
use crate::controllers::common::{label_selector, split_key};
use crate::controllers::events::{reference, EventType};

/// Condition type reporting failed pod creations or deletions.
const REPLICA_FAILURE: &str = "ReplicaFailure";

impl<K: Replicated> Ctl<K> {
    /// Syncs one owner; returns when to look again (minReadySeconds).
    pub(crate) async fn sync(&self, k: &str) -> Result<Option<Duration>, SyncError> {
        let (ns, name) = split_key(k);
        let Some(owner) = self.owners.get(&ObjectRef::new(name).within(ns)) else {
            self.expectations.delete(k);
            return Ok(None);
        };
        let t = owner.target();
        let selector =
            label_selector(Some(&t.selector)).map_err(|e| SyncError::Invalid(e.to_string()))?;
        let live = |n: &str| {
            self.pods
                .get(&ObjectRef::new(n).within(ns))
                .is_some_and(|p| p.metadata.deletion_timestamp.is_none())
        };
        let needs_sync = self.expectations.satisfied(k, live);
        // Upstream's `FilterPodsByOwner`: the pods this owner controls, and the orphans it
        // may adopt.
        let uid = t.meta.uid.as_deref().unwrap_or_default();
        let candidates: Vec<Arc<Pod>> = self
            .pod_informer
            .by_index(BY_CONTROLLER, uid)
            .into_iter()
            .chain(self.pod_informer.by_index(BY_CONTROLLER, &orphans_in(ns)))
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && is_active(p))
            .collect();
        let owned = self.claim_pods(&t, &selector, candidates).await?;
        let mut manage_err = None;
        if needs_sync && t.meta.deletion_timestamp.is_none() {
            if let Err(e) = self.manage_replicas(k, &t, &owned).await {
                manage_err = Some(e);
            }
        }
        let (ready, available) = self.update_status(&t, &owned, manage_err.as_ref()).await?;
        if let Some(e) = manage_err {
            return Err(e);
        }
        if t.min_ready_seconds > 0 && ready == t.replicas && available != t.replicas {
            return Ok(Some(min_ready_requeue(t.min_ready_seconds)));
        }
        Ok(None)
    }

    fn owner_ref(&self, t: &Target) -> OwnerReference {
        controller_ref(K::API_VERSION, K::KIND, &t.meta)
    }

    /// Adopts matching orphans and releases owned pods that stopped matching; returns the
    /// pods this owner controls.
    async fn claim_pods(
        &self,
        t: &Target,
        selector: &crate::selectors::Selector,
        candidates: Vec<Arc<Pod>>,
    ) -> Result<Vec<Arc<Pod>>, SyncError> {
        let uid = t.meta.uid.clone().unwrap_or_default();
        let ns = t.meta.namespace.clone().unwrap_or_default();
        let deleting = t.meta.deletion_timestamp.is_some();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let empty = BTreeMap::new();
        let mut owned = Vec::new();
        let mut can_adopt: Option<bool> = None;
        for pod in candidates {
            let labels = pod.metadata.labels.as_ref().unwrap_or(&empty);
            let matches = !selector.is_empty() && selector.matches(labels);
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let pod_uid = pod.metadata.uid.clone().unwrap_or_default();
            match decide(&pod.metadata, &uid, deleting, matches) {
                Claim::Keep => owned.push(pod),
                Claim::Ignore => {}
                Claim::Release => {
                    tracing::info!(kind = K::KIND, owner = ?t.meta.name, pod = %pod_name, "releasing pod");
                    release(&api, &pod_name, &pod_uid, &uid).await?;
                }
                Claim::Adopt => {
                    if can_adopt.is_none() {
                        can_adopt = Some(self.recheck_owner(t).await?);
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    match adopt(&api, &pod_name, &pod_uid, &self.owner_ref(t)).await {
                        Ok(p) => {
                            tracing::info!(kind = K::KIND, owner = ?t.meta.name, pod = %pod_name, "adopted pod");
                            owned.push(Arc::new(p));
                        }
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(owned)
    }

    /// Upstream's `RecheckDeletionTimestamp`: a fresh read of the owner before adopting.
    async fn recheck_owner(&self, t: &Target) -> Result<bool, SyncError> {
        let ns = t.meta.namespace.clone().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        let name = t.meta.name.clone().unwrap_or_default();
        Ok(match api.get_opt(&name).await? {
            Some(fresh) => {
                fresh.meta().uid == t.meta.uid && fresh.meta().deletion_timestamp.is_none()
            }
            None => false,
        })
    }

    /// Creates or deletes pods so that `owned` reaches `spec.replicas`.
    async fn manage_replicas(
        &self,
        k: &str,
        t: &Target,
        owned: &[Arc<Pod>],
    ) -> Result<(), SyncError> {
        let diff = owned.len() as i64 - i64::from(t.replicas);
        let ns = t.meta.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);
        let obj_ref = reference(K::API_VERSION, K::KIND, &t.meta);
        if diff < 0 {
            let n = usize::try_from(-diff).unwrap_or(0).min(BURST_REPLICAS);
            let pod = pod_from_template(t, self.owner_ref(t))?;
            let created = Mutex::new(Vec::new());
            tracing::debug!(kind = K::KIND, key = k, n, "creating pods");
            let (_, err) = slow_start_batch(n, 1, || {
                let (api, pod, obj_ref, created) = (&api, &pod, &obj_ref, &created);
                async move {
                    match api.create(&PostParams::default(), pod).await {
                        Ok(p) => {
                            let name = p.metadata.name.clone().unwrap_or_default();
                            created.lock().push(name.clone());
                            self.recorder
                                .record(
                                    obj_ref,
                                    EventType::Normal,
                                    "SuccessfulCreate",
                                    &format!("Created pod: {name}"),
                                )
                                .await;
                            Ok(())
                        }
                        Err(e) => {
                            self.recorder
                                .record(
                                    obj_ref,
                                    EventType::Warning,
                                    "FailedCreate",
                                    &format!("Error creating: {}", api_message(&e)),
                                )
                                .await;
                            Err(e)
                        }
                    }
                }
            })
            .await;
            self.expectations.expect_creations(k, created.into_inner());
            if let Some(e) = err {
                return Err(e.into());
            }
        } else if diff > 0 {
            let n = usize::try_from(diff).unwrap_or(0).min(BURST_REPLICAS);
            let related = self.related_pods(t, owned);
            let owned_refs: Vec<&Pod> = owned.iter().map(|p| p.as_ref()).collect();
            let related_refs: Vec<&Pod> = related.iter().map(|p| p.as_ref()).collect();
            let victims = pods_to_delete(&owned_refs, &related_refs, n);
            let names: Vec<String> = victims
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect();
            self.expectations.expect_deletions(k, names.clone());
            let results = join_all(names.iter().map(|name| {
                let (api, obj_ref) = (&api, &obj_ref);
                async move {
                    match api.delete(name, &DeleteParams::default()).await {
                        Ok(_) => {
                            self.recorder
                                .record(
                                    obj_ref,
                                    EventType::Normal,
                                    "SuccessfulDelete",
                                    &format!("Deleted pod: {name}"),
                                )
                                .await;
                            Ok(())
                        }
                        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                        Err(e) => {
                            self.recorder
                                .record(
                                    obj_ref,
                                    EventType::Warning,
                                    "FailedDelete",
                                    &format!("Error deleting: {}", api_message(&e)),
                                )
                                .await;
                            Err(e)
                        }
                    }
                }
            }))
            .await;
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Pods of every owner controlled by the same controller (a Deployment's ReplicaSets), for
    /// ranking pods doubled up on a node; just `owned` without such a controller.
    fn related_pods(&self, t: &Target, owned: &[Arc<Pod>]) -> Vec<Arc<Pod>> {
        let Some(parent) = controller_of(&t.meta).map(|r| r.uid.clone()) else {
            return owned.to_vec();
        };
        let ns = t.meta.namespace.as_deref();
        let siblings: Vec<String> = self
            .owners
            .state()
            .iter()
            .filter(|o| {
                o.meta().namespace.as_deref() == ns
                    && controller_of(o.meta()).is_some_and(|r| r.uid == parent)
            })
            .filter_map(|o| o.meta().uid.clone())
            .collect();
        self.pods
            .state()
            .into_iter()
            .filter(|p| {
                p.metadata.namespace.as_deref() == ns
                    && controller_of(&p.metadata).is_some_and(|r| siblings.contains(&r.uid))
            })
            .collect()
    }

    /// Writes `status` when it changed; returns (readyReplicas, availableReplicas).
    async fn update_status(
        &self,
        t: &Target,
        owned: &[Arc<Pod>],
        manage_err: Option<&SyncError>,
    ) -> Result<(i32, i32), SyncError> {
        let now = Timestamp::now();
        let template_labels = t
            .template
            .as_ref()
            .and_then(|tp| tp.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let count = |f: &dyn Fn(&Pod) -> bool| owned.iter().filter(|p| f(p)).count() as i32;
        let fully_labeled = count(&|p: &Pod| {
            let labels = p.metadata.labels.clone().unwrap_or_default();
            template_labels
                .iter()
                .all(|(k, v)| labels.get(k) == Some(v))
        });
        let ready = count(&|p: &Pod| is_ready(p));
        let available = count(&|p: &Pod| is_available(p, t.min_ready_seconds, now));
        let mut conditions: Vec<Value> = t
            .status
            .get("conditions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let has_failure = conditions.iter().any(|c| c["type"] == REPLICA_FAILURE);
        match manage_err {
            Some(e) if !has_failure => {
                let reason = if (owned.len() as i64) < i64::from(t.replicas) {
                    "FailedCreate"
                } else {
                    "FailedDelete"
                };
                conditions.push(json!({
                    "type": REPLICA_FAILURE, "status": "True",
                    "lastTransitionTime": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "reason": reason, "message": error_message(e),
                }));
            }
            None if has_failure => conditions.retain(|c| c["type"] != REPLICA_FAILURE),
            _ => {}
        }
        let opt = |n: i32| if n == 0 { Value::Null } else { json!(n) };
        let generation = t.meta.generation.unwrap_or(0);
        let new = json!({
            "replicas": owned.len(),
            "fullyLabeledReplicas": opt(fully_labeled),
            "readyReplicas": opt(ready),
            "availableReplicas": opt(available),
            "observedGeneration": if generation == 0 { Value::Null } else { json!(generation) },
            "conditions": if conditions.is_empty() { Value::Null } else { json!(conditions) },
        });
        let unchanged = new
            .as_object()
            .is_some_and(|m| m.iter().all(|(k, v)| status_field_eq(&t.status, k, v)));
        if unchanged {
            return Ok((ready, available));
        }
        let ns = t.meta.namespace.clone().unwrap_or_default();
        let name = t.meta.name.clone().unwrap_or_default();
        let api: Api<K> = Api::namespaced(self.client.clone(), &ns);
        match api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": new })),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
        Ok((ready, available))
    }
}

/// Whether status field `k` already has value `v` (absent counts as null/zero).
fn status_field_eq(status: &Value, k: &str, v: &Value) -> bool {
    let cur = status.get(k).unwrap_or(&Value::Null);
    match (cur, v) {
        (Value::Number(n), Value::Null) | (Value::Null, Value::Number(n)) => n.as_i64() == Some(0),
        (Value::Array(a), Value::Null) | (Value::Null, Value::Array(a)) => a.is_empty(),
        _ => cur == v,
    }
}

/// The pod a template describes (upstream's `GetPodFromTemplate`).
fn pod_from_template(t: &Target, owner: OwnerReference) -> Result<Pod, SyncError> {
    let template: &PodTemplateSpec = t
        .template
        .as_ref()
        .ok_or_else(|| SyncError::Invalid("spec.template is required".into()))?;
    let tm = template.metadata.clone().unwrap_or_default();
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", t.meta.name.as_deref().unwrap_or_default())),
            namespace: t.meta.namespace.clone(),
            labels: tm.labels,
            annotations: tm.annotations,
            finalizers: tm.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    })
}

/// The API's message for an error (as client-go's `err.Error()` of a Status).
fn api_message(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message.clone(),
        other => other.to_string(),
    }
}

fn error_message(e: &SyncError) -> String {
    match e {
        SyncError::Kube(k) => api_message(k),
        other => other.to_string(),
    }
}
