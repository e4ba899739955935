//! Rollouts and status (upstream's `rolling.go`, `recreate.go`, `sync.go`, `progress.go`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::util::{self, reason};
use super::{Ctl, DeploymentError};
use crate::controllers::common::controller_ref::controller_of;

type Synced = Result<Option<Duration>, DeploymentError>;

fn all_of<'a>(new: Option<&'a ReplicaSet>, old: &'a [ReplicaSet]) -> Vec<&'a ReplicaSet> {
    old.iter().chain(new).collect()
}

impl Ctl {
    /// Upstream's `checkPausedConditions`.
    pub(crate) async fn check_paused_conditions(
        &self,
        d: &mut Deployment,
    ) -> Result<(), DeploymentError> {
        if util::progress_deadline(d).is_none() {
            return Ok(());
        }
        let status = d.status.clone().unwrap_or_default();
        let cond = util::get_condition(&status, "Progressing");
        if cond.is_some_and(|c| c.reason.as_deref() == Some(reason::TIMED_OUT)) {
            return Ok(());
        }
        let paused_cond = cond.is_some_and(|c| c.reason.as_deref() == Some(reason::PAUSED));
        let paused = d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        let c = if paused && !paused_cond {
            util::new_condition(
                "Progressing",
                "Unknown",
                reason::PAUSED,
                "Deployment is paused",
            )
        } else if !paused && paused_cond {
            util::new_condition(
                "Progressing",
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed",
            )
        } else {
            return Ok(());
        };
        util::set_condition(d.status.get_or_insert_with(Default::default), c);
        self.update_status(d).await
    }

    /// Upstream's `isScalingEvent`: a ReplicaSet's desired-replicas annotation disagrees with
    /// the deployment.
    pub(crate) async fn is_scaling_event(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
    ) -> Result<bool, DeploymentError> {
        let (new, old) = self.get_all_and_sync_revision(d, rs_list, false).await?;
        let want = util::d_replicas(d);
        Ok(all_of(new.as_ref(), &old)
            .into_iter()
            .filter(|r| util::is_active(r))
            .any(|r| util::desired_replicas_annotation(r).is_some_and(|v| v != want)))
    }

    /// Upstream's `sync`: scaling (also while paused) and status, no rollout.
    pub(crate) async fn sync_scale(&self, d: &mut Deployment, rs_list: Vec<ReplicaSet>) -> Synced {
        let (mut new, mut old) = self.get_all_and_sync_revision(d, &rs_list, false).await?;
        self.scale_deployment(d, new.as_mut(), &mut old).await?;
        if d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false) {
            self.cleanup(&old, d).await?;
        }
        self.sync_deployment_status(d, new.as_ref(), &old).await?;
        Ok(None)
    }

    /// Status only (the deployment is being deleted).
    pub(crate) async fn sync_status_only(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Synced {
        let (new, old) = self.get_all_and_sync_revision(d, &rs_list, false).await?;
        self.sync_deployment_status(d, new.as_ref(), &old).await?;
        Ok(None)
    }

    async fn sync_deployment_status(
        &self,
        d: &mut Deployment,
        new: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Result<(), DeploymentError> {
        let status = calculate_status(&all_of(new, old), new, d);
        if d.status.as_ref() == Some(&status) {
            return Ok(());
        }
        d.status = Some(status);
        self.update_status(d).await
    }

    /// Upstream's `scale`: proportional scaling across active ReplicaSets.
    async fn scale_deployment(
        &self,
        d: &Deployment,
        mut new: Option<&mut ReplicaSet>,
        old: &mut [ReplicaSet],
    ) -> Result<(), DeploymentError> {
        let want = util::d_replicas(d);
        // The only active ReplicaSet (or the newest when none is active) gets everything.
        let new_active = new.as_deref().is_some_and(util::is_active);
        let old_active: Vec<usize> = (0..old.len())
            .filter(|i| util::is_active(&old[*i]))
            .collect();
        match (new_active as usize) + old_active.len() {
            0 | 1 => {
                let target: Option<&mut ReplicaSet> = if new_active {
                    new.as_deref_mut()
                } else if let Some(i) = old_active.first() {
                    old.get_mut(*i)
                } else if new.is_some() {
                    new.as_deref_mut()
                } else {
                    let newest =
                        (0..old.len()).max_by(|a, b| util::by_creation(&old[*a], &old[*b]));
                    newest.and_then(|i| old.get_mut(i))
                };
                if let Some(rs) = target {
                    if util::rs_replicas(rs) != want {
                        self.scale_and_record(rs, want, d).await?;
                    }
                }
                return Ok(());
            }
            _ => {}
        }
        if util::is_saturated(d, new.as_deref()) {
            for rs in old.iter_mut().filter(|r| util::is_active(r)) {
                self.scale_and_record(rs, 0, d).await?;
            }
            return Ok(());
        }
        if !util::is_rolling(d) {
            return Ok(());
        }
        let mut all: Vec<&mut ReplicaSet> = old
            .iter_mut()
            .chain(new)
            .filter(|r| util::is_active(r))
            .collect();
        let current = util::replica_count(all.iter().map(|r| &**r));
        let allowed = if want > 0 {
            want + util::max_surge(d)
        } else {
            0
        };
        let to_add = allowed - current;
        let op = match to_add.cmp(&0) {
            std::cmp::Ordering::Greater => {
                // Larger first; newer first among equals.
                all.sort_by(|a, b| {
                    util::rs_replicas(b)
                        .cmp(&util::rs_replicas(a))
                        .then_with(|| util::by_creation(b, a))
                });
                "up"
            }
            std::cmp::Ordering::Less => {
                // Larger first; older first among equals.
                all.sort_by(|a, b| {
                    util::rs_replicas(b)
                        .cmp(&util::rs_replicas(a))
                        .then_with(|| util::by_creation(a, b))
                });
                "down"
            }
            std::cmp::Ordering::Equal => "",
        };
        let mut added = 0;
        let mut sizes = Vec::with_capacity(all.len());
        for rs in &all {
            if to_add != 0 {
                let p = util::proportion(rs, d, to_add, added);
                sizes.push(util::rs_replicas(rs) + p);
                added += p;
            } else {
                sizes.push(util::rs_replicas(rs));
            }
        }
        for (i, rs) in all.into_iter().enumerate() {
            let mut size = sizes[i];
            if i == 0 && to_add != 0 {
                size = (size + to_add - added).max(0);
            }
            self.scale(rs, size, d, op).await?;
        }
        Ok(())
    }

    /// Upstream's `rolloutRolling`.
    pub(crate) async fn rollout_rolling(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Synced {
        let (new, mut old) = self.get_all_and_sync_revision(d, &rs_list, true).await?;
        let Some(mut new) = new else {
            return Err(DeploymentError::Invalid("new replica set missing".into()));
        };
        if self.reconcile_new(d, &mut new, &old).await? {
            return self.sync_rollout_status(d, Some(&new), &old).await;
        }
        if self.reconcile_old(d, &new, &mut old).await? {
            return self.sync_rollout_status(d, Some(&new), &old).await;
        }
        if util::deployment_complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(&old, d).await?;
        }
        self.sync_rollout_status(d, Some(&new), &old).await
    }

    async fn reconcile_new(
        &self,
        d: &Deployment,
        new: &mut ReplicaSet,
        old: &[ReplicaSet],
    ) -> Result<bool, DeploymentError> {
        let want = util::d_replicas(d);
        let have = util::rs_replicas(new);
        if have == want {
            return Ok(false);
        }
        if have > want {
            return self.scale_and_record(new, want, d).await;
        }
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&*new)).collect();
        let n = util::new_rs_new_replicas(d, &all, new);
        self.scale_and_record(new, n, d).await
    }

    /// Upstream's `reconcileOldReplicaSets`.
    async fn reconcile_old(
        &self,
        d: &Deployment,
        new: &ReplicaSet,
        old: &mut [ReplicaSet],
    ) -> Result<bool, DeploymentError> {
        let old_pods = util::replica_count(old.iter());
        if old_pods == 0 {
            return Ok(false);
        }
        let all_pods = old_pods + util::rs_replicas(new);
        let min_available = util::d_replicas(d) - util::max_unavailable(d);
        let new_unavailable = util::rs_replicas(new)
            - new
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
        let max_scaled_down = all_pods - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        old.sort_by(util::by_creation);
        // Unhealthy replicas first: they do not count as available anyway.
        let mut cleaned = 0;
        for rs in old.iter_mut() {
            if cleaned >= max_scaled_down {
                break;
            }
            let spec = util::rs_replicas(rs);
            let avail = rs
                .status
                .as_ref()
                .and_then(|s| s.available_replicas)
                .unwrap_or(0);
            if spec == 0 || spec == avail {
                continue;
            }
            let n = (max_scaled_down - cleaned).min(spec - avail);
            self.scale_and_record(rs, spec - n, d).await?;
            cleaned += n;
        }
        // Then healthy ones, as far as maxUnavailable allows.
        let available = util::available_count(old.iter().chain(std::iter::once(new)));
        let mut scaled = 0;
        if available > min_available {
            let total = available - min_available;
            for rs in old.iter_mut() {
                if scaled >= total {
                    break;
                }
                let spec = util::rs_replicas(rs);
                if spec == 0 {
                    continue;
                }
                let n = spec.min(total - scaled);
                self.scale_and_record(rs, spec - n, d).await?;
                scaled += n;
            }
        }
        Ok(cleaned + scaled > 0)
    }

    /// Upstream's `rolloutRecreate`.
    pub(crate) async fn rollout_recreate(
        &self,
        d: &mut Deployment,
        rs_list: Vec<ReplicaSet>,
    ) -> Synced {
        let (mut new, mut old) = self.get_all_and_sync_revision(d, &rs_list, false).await?;
        let mut scaled_down = false;
        for rs in old.iter_mut().filter(|r| util::is_active(r)) {
            scaled_down |= self.scale_and_record(rs, 0, d).await?;
        }
        if scaled_down || self.old_pods_running(new.as_ref(), &old) {
            return self.sync_rollout_status(d, new.as_ref(), &old).await;
        }
        if new.is_none() {
            let (n, o) = self.get_all_and_sync_revision(d, &rs_list, true).await?;
            new = n;
            old = o;
        }
        if let Some(rs) = new.as_mut() {
            let want = util::d_replicas(d);
            self.scale_and_record(rs, want, d).await?;
        }
        if util::deployment_complete(d, d.status.as_ref().unwrap_or(&Default::default())) {
            self.cleanup(&old, d).await?;
        }
        self.sync_rollout_status(d, new.as_ref(), &old).await
    }

    /// Upstream's `oldPodsRunning`.
    fn old_pods_running(&self, new: Option<&ReplicaSet>, old: &[ReplicaSet]) -> bool {
        if util::actual_count(old.iter()) > 0 {
            return true;
        }
        let old_uids: Vec<&str> = old
            .iter()
            .filter_map(|r| r.metadata.uid.as_deref())
            .collect();
        let new_uid = new.and_then(|r| r.metadata.uid.as_deref());
        self.pods.state().iter().any(|p| {
            controller_of(&p.metadata).is_some_and(|r| {
                old_uids.contains(&r.uid.as_str()) && Some(r.uid.as_str()) != new_uid
            }) && !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Failed") | Some("Succeeded")
            )
        })
    }

    /// Upstream's `syncRolloutStatus`: status with Progressing / ReplicaFailure conditions;
    /// returns when to look again for the progress deadline.
    async fn sync_rollout_status(
        &self,
        d: &mut Deployment,
        new: Option<&ReplicaSet>,
        old: &[ReplicaSet],
    ) -> Synced {
        let all = all_of(new, old);
        let mut status = calculate_status(&all, new, d);
        if util::progress_deadline(d).is_none() {
            util::remove_condition(&mut status, "Progressing");
        }
        let current = d
            .status
            .as_ref()
            .and_then(|s| util::get_condition(s, "Progressing"))
            .cloned();
        let complete_before = status.replicas == status.updated_replicas
            && current
                .as_ref()
                .is_some_and(|c| c.reason.as_deref() == Some(reason::NEW_RS_AVAILABLE));
        let rs_name = new.and_then(|r| r.metadata.name.clone());
        let d_name = d.metadata.name.clone().unwrap_or_default();
        let msg = |what: &str| match &rs_name {
            Some(n) => format!("ReplicaSet {n:?} {what}"),
            None => format!("Deployment {d_name:?} {what}"),
        };
        if util::progress_deadline(d).is_some() && !complete_before {
            if util::deployment_complete(d, &status) {
                let c = util::new_condition(
                    "Progressing",
                    "True",
                    reason::NEW_RS_AVAILABLE,
                    &msg("has successfully progressed."),
                );
                util::set_condition(&mut status, c);
            } else if util::deployment_progressing(d, &status) {
                let mut c = util::new_condition(
                    "Progressing",
                    "True",
                    reason::RS_UPDATED,
                    &msg("is progressing."),
                );
                if let Some(cur) = &current {
                    if cur.status == "True" {
                        c.last_transition_time = cur.last_transition_time.clone();
                    }
                    util::remove_condition(&mut status, "Progressing");
                }
                util::set_condition(&mut status, c);
            } else if util::deployment_timed_out(d, &status, Timestamp::now()) {
                let c = util::new_condition(
                    "Progressing",
                    "False",
                    reason::TIMED_OUT,
                    &msg("has timed out progressing."),
                );
                util::set_condition(&mut status, c);
            }
        }
        match replica_failure(&all, new) {
            Some(c) => util::set_condition(&mut status, c),
            None => util::remove_condition(&mut status, "ReplicaFailure"),
        }
        if d.status.as_ref() == Some(&status) {
            return Ok(requeue_stuck(d, &status));
        }
        d.status = Some(status);
        self.update_status(d).await?;
        Ok(None)
    }
}

/// The first ReplicaFailure condition of the new ReplicaSet, else of an old one.
fn replica_failure(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let find = |rs: &ReplicaSet| {
        rs.status
            .as_ref()?
            .conditions
            .as_ref()?
            .iter()
            .find(|c| c.type_ == "ReplicaFailure")
            .cloned()
    };
    let c = new
        .and_then(find)
        .or_else(|| all.iter().find_map(|r| find(r)))?;
    Some(k8s_openapi::api::apps::v1::DeploymentCondition {
        type_: c.type_,
        status: c.status,
        last_update_time: c.last_transition_time.clone(),
        last_transition_time: c.last_transition_time,
        reason: c.reason,
        message: c.message,
    })
}

/// Upstream's `requeueStuckDeployment`: look again when the progress deadline passes.
fn requeue_stuck(d: &Deployment, status: &DeploymentStatus) -> Option<Duration> {
    let deadline = util::progress_deadline(d)?;
    let cond = util::get_condition(status, "Progressing")?;
    if util::deployment_complete(d, status) || cond.reason.as_deref() == Some(reason::TIMED_OUT) {
        return None;
    }
    let from = cond.last_update_time.as_ref()?.0;
    let at = from + SignedDuration::from_secs(i64::from(deadline));
    let left = at.duration_since(Timestamp::now());
    Some(
        Duration::try_from(left)
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_secs(1)),
    )
}

/// Upstream's `calculateStatus`.
pub(crate) fn calculate_status(
    all: &[&ReplicaSet],
    new: Option<&ReplicaSet>,
    d: &Deployment,
) -> DeploymentStatus {
    let available = util::available_count(all.iter().copied());
    let total = util::replica_count(all.iter().copied());
    let nz = |v: i32| if v == 0 { None } else { Some(v) };
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: nz(util::actual_count(all.iter().copied())),
        updated_replicas: nz(util::actual_count(new)),
        ready_replicas: nz(util::ready_count(all.iter().copied())),
        available_replicas: nz(available),
        unavailable_replicas: nz((total - available).max(0)),
        collision_count: d.status.as_ref().and_then(|s| s.collision_count),
        conditions: d.status.as_ref().and_then(|s| s.conditions.clone()),
        terminating_replicas: d.status.as_ref().and_then(|s| s.terminating_replicas),
    };
    let c = if available >= util::d_replicas(d) - util::max_unavailable(d) {
        util::new_condition(
            "Available",
            "True",
            reason::MIN_AVAILABLE,
            "Deployment has minimum availability.",
        )
    } else {
        util::new_condition(
            "Available",
            "False",
            reason::MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
        )
    };
    util::set_condition(&mut status, c);
    status
}
