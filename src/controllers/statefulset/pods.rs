//! Writes of the StatefulSet controller (upstream's `StatefulPodControl`): claims, pods,
//! identity fixes, each with upstream's events.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::identity::{claims, fix_claim_owners, update_identity};
use super::{Ctx, StsError};
use crate::controllers::events::{reference, EventType};
use crate::controllers::workload_pods::ok_if;

fn name_of(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or_default()
}

fn set_name(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

async fn event(ctx: &Ctx, set: &StatefulSet, kind: EventType, reason: &str, message: &str) {
    let r = reference("apps/v1", "StatefulSet", &set.metadata);
    ctx.recorder.record(&r, kind, reason, message).await;
}

/// Records upstream's event for a pod operation (`create`, `delete`, `update`) of the set:
/// `Successful<Op>` / `Failed<Op>` with "<op> Pod X in StatefulSet Y successful|failed error: e".
async fn pod_op_event(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
    op: &str,
    err: Option<&kube::Error>,
) {
    let verb = format!("{}{}", op[..1].to_ascii_uppercase(), &op[1..]);
    let (kind, reason, outcome) = match err {
        None => (
            EventType::Normal,
            format!("Successful{verb}"),
            "successful".to_string(),
        ),
        Some(e) => (
            EventType::Warning,
            format!("Failed{verb}"),
            format!("failed error: {e}"),
        ),
    };
    let msg = format!(
        "{op} Pod {} in StatefulSet {} {outcome}",
        name_of(pod),
        set_name(set)
    );
    event(ctx, set, kind, &reason, &msg).await;
}

/// Upstream's `createPersistentVolumeClaims`: creates the claims of `pod` that do not exist yet
/// (owner references per the retention policy); a claim being deleted blocks the pod.
pub async fn create_claims(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
    ordinal: i32,
) -> Result<(), StsError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for (_, mut claim) in claims(set, ordinal) {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        match api.get_opt(&cname).await? {
            Some(existing) if existing.metadata.deletion_timestamp.is_some() => {
                return Err(StsError::Blocked(format!(
                    "pvc {cname} is being deleted and cannot be used by pod {}",
                    name_of(pod)
                )));
            }
            Some(_) => {}
            None => {
                fix_claim_owners(&mut claim, set, pod, false);
                match ok_if(api.create(&PostParams::default(), &claim).await, 409) {
                    Ok(()) => {
                        let msg = format!(
                            "create Claim {cname} Pod {} in StatefulSet {} success",
                            name_of(pod),
                            set_name(set)
                        );
                        event(ctx, set, EventType::Normal, "SuccessfulCreate", &msg).await;
                    }
                    Err(e) => {
                        let msg = format!(
                            "create Claim {cname} for Pod {} in StatefulSet {} failed error: {e}",
                            name_of(pod),
                            set_name(set)
                        );
                        event(ctx, set, EventType::Warning, "FailedCreate", &msg).await;
                        return Err(e.into());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Upstream's `CreateStatefulPod` (claims are created before by the caller).
pub async fn create_pod(ctx: &Ctx, set: &StatefulSet, pod: &Pod) -> Result<(), StsError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match api.create(&PostParams::default(), pod).await {
        Ok(_) => {
            tracing::debug!(
                pod = name_of(pod),
                set = set_name(set),
                "statefulset: created pod"
            );
            pod_op_event(ctx, set, pod, "create", None).await;
            Ok(())
        }
        // Already there (our view was stale): the next sync sees it.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => {
            pod_op_event(ctx, set, pod, "create", Some(&e)).await;
            Err(e.into())
        }
    }
}

/// Upstream's `DeleteStatefulPod`.
pub async fn delete_pod(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
    why: &str,
) -> Result<(), StsError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    match ok_if(
        api.delete(name_of(pod), &DeleteParams::default()).await,
        404,
    ) {
        Ok(()) => {
            tracing::debug!(
                pod = name_of(pod),
                set = set_name(set),
                why,
                "statefulset: deleted pod"
            );
            pod_op_event(ctx, set, pod, "delete", None).await;
            Ok(())
        }
        Err(e) => {
            pod_op_event(ctx, set, pod, "delete", Some(&e)).await;
            Err(e.into())
        }
    }
}

/// Upstream's `UpdateStatefulPod` for identity: restores the identity labels, hostname and
/// subdomain of a pod (volumes of a running pod cannot change).
pub async fn fix_identity(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
    ordinal: i32,
) -> Result<(), StsError> {
    let mut fixed = pod.clone();
    update_identity(set, &mut fixed, ordinal);
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
    let patch = json!({"metadata": {"labels": fixed.metadata.labels}});
    match api
        .patch(name_of(pod), &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            pod_op_event(ctx, set, pod, "update", None).await;
            Ok(())
        }
        Err(e) => {
            pod_op_event(ctx, set, pod, "update", Some(&e)).await;
            Err(e.into())
        }
    }
}

/// Before a scale-down deletion: hands the pod's claims to the pod when `whenScaled: Delete`
/// (so the garbage collector removes them with it), as upstream's claim owner updates.
pub async fn prepare_condemned_claims(
    ctx: &Ctx,
    set: &StatefulSet,
    pod: &Pod,
    ordinal: i32,
) -> Result<(), StsError> {
    let ns = set.metadata.namespace.clone().unwrap_or_default();
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &ns);
    for (_, claim) in claims(set, ordinal) {
        let cname = claim.metadata.name.clone().unwrap_or_default();
        let Some(mut existing) = api.get_opt(&cname).await? else {
            continue;
        };
        if fix_claim_owners(&mut existing, set, pod, true) {
            let patch = json!({"metadata": {
                "ownerReferences": existing.metadata.owner_references,
                "resourceVersion": existing.metadata.resource_version,
            }});
            api.patch(&cname, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}
