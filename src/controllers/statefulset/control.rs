//! One sync of a StatefulSet (upstream's `stateful_set_control.go`): revisions, replicas and
//! condemned pods by ordinal, creation/deletion in OrderedReady or Parallel mode, the rolling
//! update from the highest ordinal down to the partition, and the status.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};

use super::identity::{
    identity_matches, new_pod, ordinal_of, pod_revision, start_ordinal, storage_matches,
};
use super::{Ctx, StsError};
use crate::controllers::history;
use crate::controllers::workload_pods::{
    availability, controller_ref, is_ready, is_terminating, phase,
};

/// What one sync decided.
pub struct Outcome {
    /// The status to write.
    pub status: StatefulSetStatus,
    /// Sync again after this long (minReadySeconds pending).
    pub requeue: Option<Duration>,
    /// Names of the current and update revisions (kept by history cleanup).
    pub live_revisions: Vec<String>,
}

/// A replica slot: the existing pod or one to create.
struct Slot {
    pod: Pod,
    ordinal: i32,
    created: bool,
}

fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

fn is_healthy(pod: &Pod) -> bool {
    is_running_and_ready(pod) && !is_terminating(pod)
}

/// Upstream's `getStatefulSetRevisions`: (current, update, collision count).
async fn revisions(
    ctx: &Ctx,
    set: &StatefulSet,
    revs: &mut Vec<ControllerRevision>,
) -> Result<(ControllerRevision, ControllerRevision, i32), StsError> {
    let status = set.status.clone().unwrap_or_default();
    let mut collision_count = status.collision_count.unwrap_or(0);
    let spec = set.spec.clone().unwrap_or_default();
    let data = history::template_patch(&spec.template)?;
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let mut update = history::new_revision(
        controller_ref("apps/v1", "StatefulSet", &set.metadata),
        &set.metadata,
        &labels,
        data,
        history::next_revision(revs),
        collision_count,
    );
    update.metadata.annotations = set.metadata.annotations.clone();
    let equal: Vec<&ControllerRevision> = revs
        .iter()
        .filter(|r| history::equal_data(r, &update))
        .collect();
    let update = match (equal.last(), revs.last()) {
        (Some(eq), Some(last)) if history::equal_data(eq, last) => last.clone(),
        (Some(eq), _) => {
            let next = update.revision;
            let updated = history::set_revision(&ctx.client, eq, next).await?;
            revs.retain(|r| r.metadata.name != updated.metadata.name);
            revs.push(updated.clone());
            updated
        }
        (None, _) => {
            let name = set.metadata.name.clone().unwrap_or_default();
            let created =
                history::create(&ctx.client, &name, &update, &mut collision_count).await?;
            revs.push(created.clone());
            created
        }
    };
    let current = revs
        .iter()
        .find(|r| r.metadata.name == status.current_revision)
        .cloned()
        .unwrap_or_else(|| update.clone());
    Ok((current, update, collision_count))
}

/// Upstream's `updateStatefulSet`.
pub async fn update(
    ctx: &Ctx,
    set: &StatefulSet,
    pods: Vec<Pod>,
    mut revs: Vec<ControllerRevision>,
) -> Result<Outcome, StsError> {
    let (current_rev, update_rev, collision_count) = revisions(ctx, set, &mut revs).await?;
    let current_name = current_rev.metadata.name.clone().unwrap_or_default();
    let update_name = update_rev.metadata.name.clone().unwrap_or_default();
    let current_template = history::template_of(&current_rev)?;
    let spec = set.spec.clone().unwrap_or_default();
    let update_template: PodTemplateSpec = spec.template.clone();
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let start = start_ordinal(set);
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    let old_status = set.status.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    let rolling = strategy.type_.as_deref().unwrap_or("RollingUpdate") == "RollingUpdate";
    let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition);
    let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");

    // Split pods into replicas (in range) and condemned (out of range, highest first).
    let mut slots: Vec<Option<Pod>> = vec![None; usize::try_from(replicas).unwrap_or(0)];
    let mut condemned: Vec<(i32, Pod)> = Vec::new();
    for pod in pods {
        let Some(ord) = ordinal_of(&set_name, &pod) else {
            continue;
        };
        if ord >= start && ord < start + replicas {
            if let Some(s) = slots.get_mut(usize::try_from(ord - start).unwrap_or(usize::MAX)) {
                *s = Some(pod);
            }
        } else {
            condemned.push((ord, pod));
        }
    }
    condemned.sort_by_key(|c| std::cmp::Reverse(c.0));
    let mut slots: Vec<Slot> = slots
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let ordinal = start + i32::try_from(i).unwrap_or(0);
            match p {
                Some(pod) => Slot {
                    created: !phase(&pod).is_empty(),
                    pod,
                    ordinal,
                },
                None => {
                    // Upstream's `newVersionedStatefulSetPod`.
                    let old = match partition {
                        _ if !rolling => false,
                        None => ordinal < start + old_status.current_replicas.unwrap_or(0),
                        Some(p) => ordinal < start + p,
                    };
                    let pod = if old {
                        new_pod(set, &current_template, ordinal, &current_name)
                    } else {
                        new_pod(set, &update_template, ordinal, &update_name)
                    };
                    Slot {
                        pod,
                        ordinal,
                        created: false,
                    }
                }
            }
        })
        .collect();

    let mut requeue: Option<Duration> = None;
    let mut note_requeue = |pod: &Pod| {
        if let Err(d) = availability(pod, min_ready) {
            requeue = Some(requeue.map_or(d, |r: Duration| r.min(d)));
        }
    };
    for s in &slots {
        note_requeue(&s.pod);
    }
    for (_, p) in &condemned {
        note_requeue(p);
    }
    let outcome = |slots: &[Slot], condemned: &[(i32, Pod)], requeue| {
        let mut status = compute_status(
            set,
            slots,
            condemned,
            min_ready,
            &current_name,
            &update_name,
            collision_count,
        );
        if rolling
            && status.updated_replicas == Some(status.replicas)
            && status.ready_replicas == Some(status.replicas)
        {
            status.current_replicas = status.updated_replicas;
            status.current_revision = status.update_revision.clone();
        }
        Outcome {
            status,
            requeue,
            live_revisions: vec![current_name.clone(), update_name.clone()],
        }
    };
    if set.metadata.deletion_timestamp.is_some() {
        return Ok(outcome(&slots, &condemned, requeue));
    }

    // Living replicas, in ordinal order.
    let mut first_error: Option<StsError> = None;
    for i in 0..slots.len() {
        let wait = process_replica(ctx, set, &mut slots[i], monotonic, min_ready).await;
        match wait {
            Ok(true) if monotonic => return Ok(outcome(&slots, &condemned, requeue)),
            Ok(_) => {}
            Err(e) if monotonic => return Err(e),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    // Condemned pods, highest ordinal first.
    let first_unhealthy = slots
        .iter()
        .map(|s| &s.pod)
        .chain(condemned.iter().map(|(_, p)| p))
        .find(|p| !is_healthy(p))
        .and_then(|p| p.metadata.name.clone());
    for (ord, pod) in &condemned {
        if is_terminating(pod) {
            if monotonic {
                return Ok(outcome(&slots, &condemned, requeue));
            }
            continue;
        }
        let unhealthy_blocker = first_unhealthy.is_some() && pod.metadata.name != first_unhealthy;
        let available = availability(pod, min_ready) == Ok(true);
        if monotonic && (!is_running_and_ready(pod) || !available) && unhealthy_blocker {
            return Ok(outcome(&slots, &condemned, requeue));
        }
        super::pods::prepare_condemned_claims(ctx, set, pod, *ord).await?;
        super::pods::delete_pod(ctx, set, pod, "scale down").await?;
        if monotonic {
            return Ok(outcome(&slots, &condemned, requeue));
        }
    }

    // Rolling update: the highest ordinal not at the update revision goes first.
    if !rolling {
        return Ok(outcome(&slots, &condemned, requeue));
    }
    let update_min = partition.unwrap_or(0).max(0);
    for target in (0..slots.len()).rev() {
        let slot = &slots[target];
        if slot.ordinal - start < update_min {
            break;
        }
        if pod_revision(&slot.pod) != update_name && !is_terminating(&slot.pod) {
            super::pods::delete_pod(ctx, set, &slot.pod, "update").await?;
            let mut out = outcome(&slots, &condemned, requeue);
            out.status.current_replicas = out.status.current_replicas.map(|c| (c - 1).max(0));
            return Ok(out);
        }
        if !is_healthy(&slots[target].pod) {
            break;
        }
    }
    Ok(outcome(&slots, &condemned, requeue))
}

/// Upstream's `processReplica`; returns whether a monotonic sync must stop here.
async fn process_replica(
    ctx: &Ctx,
    set: &StatefulSet,
    slot: &mut Slot,
    monotonic: bool,
    min_ready: i32,
) -> Result<bool, StsError> {
    let p = phase(&slot.pod);
    if slot.created && (p == "Failed" || p == "Succeeded") {
        if !is_terminating(&slot.pod) {
            super::pods::delete_pod(ctx, set, &slot.pod, "recreate").await?;
        }
        return Ok(true);
    }
    if !slot.created {
        super::pods::create_claims(ctx, set, &slot.pod, slot.ordinal).await?;
        super::pods::create_pod(ctx, set, &slot.pod).await?;
        return Ok(monotonic);
    }
    if p == "Pending" {
        super::pods::create_claims(ctx, set, &slot.pod, slot.ordinal).await?;
    }
    if is_terminating(&slot.pod) && monotonic {
        return Ok(true);
    }
    if monotonic
        && (!is_running_and_ready(&slot.pod) || availability(&slot.pod, min_ready) != Ok(true))
    {
        return Ok(true);
    }
    if identity_matches(set, &slot.pod) && storage_matches(set, &slot.pod, slot.ordinal) {
        return Ok(false);
    }
    super::pods::fix_identity(ctx, set, &slot.pod, slot.ordinal).await?;
    Ok(false)
}

/// Upstream's `computeReplicaStatus` over replicas and condemned pods.
fn compute_status(
    set: &StatefulSet,
    slots: &[Slot],
    condemned: &[(i32, Pod)],
    min_ready: i32,
    current: &str,
    update: &str,
    collision_count: i32,
) -> StatefulSetStatus {
    let mut s = StatefulSetStatus {
        observed_generation: set.metadata.generation,
        current_revision: Some(current.to_string()),
        update_revision: Some(update.to_string()),
        collision_count: Some(collision_count),
        ..Default::default()
    };
    let (mut replicas, mut ready, mut available, mut cur, mut upd) = (0, 0, 0, 0, 0);
    let pods = slots.iter().filter(|s| s.created).map(|s| &s.pod).chain(
        condemned
            .iter()
            .map(|(_, p)| p)
            .filter(|p| !phase(p).is_empty()),
    );
    for pod in pods {
        replicas += 1;
        if is_running_and_ready(pod) {
            ready += 1;
            if availability(pod, min_ready) == Ok(true) {
                available += 1;
            }
        }
        if !is_terminating(pod) {
            if pod_revision(pod) == current {
                cur += 1;
            }
            if pod_revision(pod) == update {
                upd += 1;
            }
        }
    }
    s.replicas = replicas;
    s.ready_replicas = Some(ready);
    s.available_replicas = Some(available);
    s.current_replicas = Some(cur);
    s.updated_replicas = Some(upd);
    s.conditions = set.status.as_ref().and_then(|s| s.conditions.clone());
    s
}
