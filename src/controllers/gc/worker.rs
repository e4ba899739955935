//! The collector's work (upstream's `attemptToDeleteItem`, `processDeletingDependentsItem` and
//! `attemptToOrphanWorker`), done with live reads and conditional writes through the API.

use kube::api::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy,
};
use serde_json::{json, Value};

use super::graph::{ObjectRef, Work};
use super::{GarbageCollector, GcError};
use crate::api::store::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::controllers::resources::Served;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// How an owner reference resolves.
#[derive(Debug, PartialEq, Eq)]
enum OwnerState {
    /// The owner exists and is not deleting its dependents.
    Solid,
    /// The owner does not exist (or another object has its name).
    Dangling,
    /// The owner is being deleted in the foreground and waits for its dependents.
    Waiting,
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

fn has_finalizer(obj: &DynamicObject, f: &str) -> bool {
    obj.metadata.finalizers.iter().flatten().any(|x| x == f)
}

impl GarbageCollector {
    /// Does one unit of work.
    pub(super) async fn process(&self, work: &Work) -> Result<(), GcError> {
        match work {
            Work::Delete(uid) => self.attempt_to_delete(uid).await,
            Work::Orphan(uid) => self.attempt_to_orphan(uid).await,
        }
    }

    /// The observed (non-virtual) identity of `uid` in the graph.
    fn identity(&self, uid: &str) -> Option<ObjectRef> {
        let graph = self.graph.lock();
        graph
            .node(uid)
            .filter(|n| !n.is_virtual)
            .map(|n| n.identity.clone())
    }

    fn served(&self, api_version: &str, kind: &str) -> Result<Served, GcError> {
        self.resources()
            .for_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| GcError::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })
    }

    /// Reads the object behind `id` now; `None` when it is gone or replaced.
    async fn latest(
        &self,
        id: &ObjectRef,
    ) -> Result<Option<(Api<DynamicObject>, DynamicObject)>, GcError> {
        let served = self.served(&id.api_version, &id.kind)?;
        let api = served.api(&self.client, id.namespace.as_deref());
        match api.get_opt(&id.name).await? {
            Some(obj) if obj.metadata.uid.as_deref() == Some(id.uid.as_str()) => {
                Ok(Some((api, obj)))
            }
            _ => Ok(None),
        }
    }

    async fn attempt_to_delete(&self, uid: &str) -> Result<(), GcError> {
        let Some(id) = self.identity(uid) else {
            return Ok(());
        };
        let Some((api, latest)) = self.latest(&id).await? else {
            return Ok(());
        };
        if latest.metadata.deletion_timestamp.is_some() {
            if has_finalizer(&latest, FINALIZER_FOREGROUND) {
                return self.process_deleting_dependents(uid, &api, &latest).await;
            }
            return Ok(());
        }
        let refs = latest.metadata.owner_references.clone().unwrap_or_default();
        if refs.is_empty() {
            return Ok(());
        }
        let dependent_namespaced = id.namespace.is_some();
        let (mut solid, mut gone, mut waiting) = (Vec::new(), Vec::new(), Vec::new());
        for r in &refs {
            match self
                .owner_state(r, dependent_namespaced, id.namespace.as_deref())
                .await?
            {
                OwnerState::Solid => solid.push(r.uid.clone()),
                OwnerState::Dangling => gone.push(r.uid.clone()),
                OwnerState::Waiting => waiting.push(r.uid.clone()),
            }
        }
        if !solid.is_empty() {
            if gone.is_empty() && waiting.is_empty() {
                return Ok(());
            }
            tracing::info!(object = %id.name, kind = %id.kind, "garbage collector: removing references to deleted or deleting owners");
            let kept: Vec<&OwnerReference> =
                refs.iter().filter(|r| solid.contains(&r.uid)).collect();
            return patch_meta(&api, &latest, "ownerReferences", owner_refs_value(&kept)).await;
        }
        let policy = if !waiting.is_empty() && !self.graph.lock().dependents(uid).is_empty() {
            let cycle = {
                let graph = self.graph.lock();
                graph
                    .dependents(uid)
                    .iter()
                    .any(|d| graph.is_deleting_dependents(d))
            };
            if cycle {
                // As upstream: avoid a foreground cycle by making this object's references non-blocking.
                let unblocked: Vec<OwnerReference> = refs
                    .iter()
                    .cloned()
                    .map(|mut r| {
                        if r.block_owner_deletion == Some(true) {
                            r.block_owner_deletion = Some(false);
                        }
                        r
                    })
                    .collect();
                let all: Vec<&OwnerReference> = unblocked.iter().collect();
                patch_meta(&api, &latest, "ownerReferences", owner_refs_value(&all)).await?;
            }
            PropagationPolicy::Foreground
        } else if has_finalizer(&latest, FINALIZER_ORPHAN) {
            PropagationPolicy::Orphan
        } else if has_finalizer(&latest, FINALIZER_FOREGROUND) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        tracing::info!(object = %id.name, kind = %id.kind, namespace = ?id.namespace, ?policy, "garbage collector: deleting object whose owners are gone");
        let dp = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: Some(id.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match api.delete(&id.name, &dp).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) || is_conflict(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn owner_state(
        &self,
        r: &OwnerReference,
        dependent_namespaced: bool,
        namespace: Option<&str>,
    ) -> Result<OwnerState, GcError> {
        let served = self.served(&r.api_version, &r.kind)?;
        if served.namespaced && !dependent_namespaced {
            // A cluster-scoped dependent cannot have a namespaced owner: the reference is absent.
            return Ok(OwnerState::Dangling);
        }
        let api = served.api(&self.client, namespace);
        Ok(match api.get_opt(&r.name).await? {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) => {
                if o.metadata.deletion_timestamp.is_some()
                    && has_finalizer(&o, FINALIZER_FOREGROUND)
                {
                    OwnerState::Waiting
                } else {
                    OwnerState::Solid
                }
            }
            _ => OwnerState::Dangling,
        })
    }

    /// An owner deleted in the foreground: delete its blocking dependents, and when none is
    /// left, drop the `foregroundDeletion` finalizer.
    async fn process_deleting_dependents(
        &self,
        uid: &str,
        api: &Api<DynamicObject>,
        latest: &DynamicObject,
    ) -> Result<(), GcError> {
        let blocking = self.graph.lock().blocking_dependents(uid);
        if blocking.is_empty() {
            tracing::info!(object = ?latest.metadata.name, "garbage collector: dependents gone, removing foregroundDeletion finalizer");
            return remove_finalizer(api, latest, FINALIZER_FOREGROUND).await;
        }
        for (dep, being_deleted) in blocking {
            if !being_deleted {
                self.queue.add(Work::Delete(dep));
            }
        }
        Ok(())
    }

    /// An owner deleted with the orphan policy: drop references to it from its dependents,
    /// then its `orphan` finalizer.
    async fn attempt_to_orphan(&self, uid: &str) -> Result<(), GcError> {
        let Some(id) = self.identity(uid) else {
            return Ok(());
        };
        let Some((api, owner)) = self.latest(&id).await? else {
            return Ok(());
        };
        if owner.metadata.deletion_timestamp.is_none() || !has_finalizer(&owner, FINALIZER_ORPHAN) {
            return Ok(());
        }
        let dependents = self.graph.lock().dependents(uid);
        for dep in dependents {
            let Some(dep_id) = self.identity(&dep) else {
                continue;
            };
            let Some((dep_api, dep_obj)) = self.latest(&dep_id).await? else {
                continue;
            };
            let refs = dep_obj
                .metadata
                .owner_references
                .clone()
                .unwrap_or_default();
            let kept: Vec<&OwnerReference> = refs.iter().filter(|r| r.uid != uid).collect();
            if kept.len() != refs.len() {
                tracing::info!(object = %dep_id.name, kind = %dep_id.kind, "garbage collector: orphaning dependent");
                patch_meta(
                    &dep_api,
                    &dep_obj,
                    "ownerReferences",
                    owner_refs_value(&kept),
                )
                .await?;
            }
        }
        remove_finalizer(&api, &owner, FINALIZER_ORPHAN).await
    }
}

fn owner_refs_value(refs: &[&OwnerReference]) -> Value {
    if refs.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(refs).unwrap_or(Value::Null)
    }
}

async fn remove_finalizer(
    api: &Api<DynamicObject>,
    obj: &DynamicObject,
    finalizer: &str,
) -> Result<(), GcError> {
    let kept: Vec<&String> = obj
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != finalizer)
        .collect();
    patch_meta(api, obj, "finalizers", json!(kept)).await
}

/// Merge-patches one metadata field, guarded by the object's resourceVersion.
async fn patch_meta(
    api: &Api<DynamicObject>,
    obj: &DynamicObject,
    field: &str,
    value: Value,
) -> Result<(), GcError> {
    let Some(name) = obj.metadata.name.as_deref() else {
        return Ok(());
    };
    let patch =
        json!({"metadata": {"resourceVersion": obj.metadata.resource_version, field: value}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
