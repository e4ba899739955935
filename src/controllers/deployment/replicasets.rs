//! The deployment's ReplicaSets: claiming (adoption/release), finding or creating the new one
//! with its revision, scaling with events, and history cleanup.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};

use super::util::{self, reason, POD_TEMPLATE_HASH};
use super::{Ctl, DeploymentError};
use crate::controllers::common::controller_ref::{
    adopt, controller_of, controller_ref, decide, release, Claim,
};
use crate::controllers::common::hash::compute_hash;
use crate::controllers::common::label_selector;
use crate::controllers::events::{reference, EventType};

impl Ctl {
    fn rs_api(&self, d: &Deployment) -> Api<ReplicaSet> {
        Api::namespaced(
            self.client.clone(),
            d.metadata.namespace.as_deref().unwrap_or_default(),
        )
    }

    /// ReplicaSets this deployment controls after adopting matching orphans and releasing
    /// ReplicaSets that stopped matching (upstream's `getReplicaSetsForDeployment`).
    pub(crate) async fn claim_replica_sets(
        &self,
        d: &Deployment,
    ) -> Result<Vec<ReplicaSet>, DeploymentError> {
        let selector = label_selector(d.spec.as_ref().map(|s| &s.selector))
            .map_err(DeploymentError::Invalid)?;
        let uid = d.metadata.uid.clone().unwrap_or_default();
        let deleting = d.metadata.deletion_timestamp.is_some();
        let api = self.rs_api(d);
        let empty = BTreeMap::new();
        let mut out = Vec::new();
        let mut can_adopt = None;
        for rs in self.replicasets.state() {
            if rs.metadata.namespace != d.metadata.namespace {
                continue;
            }
            let labels = rs.metadata.labels.as_ref().unwrap_or(&empty);
            let matches = selector.matches(labels);
            let name = rs.metadata.name.clone().unwrap_or_default();
            let rs_uid = rs.metadata.uid.clone().unwrap_or_default();
            match decide(&rs.metadata, &uid, deleting, matches) {
                Claim::Keep => out.push((*rs).clone()),
                Claim::Ignore => {}
                Claim::Release => release(&api, &name, &rs_uid, &uid).await?,
                Claim::Adopt => {
                    if can_adopt.is_none() {
                        let dapi: Api<Deployment> = Api::namespaced(
                            self.client.clone(),
                            d.metadata.namespace.as_deref().unwrap_or_default(),
                        );
                        let fresh = dapi
                            .get_opt(d.metadata.name.as_deref().unwrap_or_default())
                            .await?;
                        can_adopt = Some(fresh.is_some_and(|f| {
                            f.metadata.uid == d.metadata.uid
                                && f.metadata.deletion_timestamp.is_none()
                        }));
                    }
                    if can_adopt != Some(true) {
                        continue;
                    }
                    let owner = controller_ref("apps/v1", "Deployment", &d.metadata);
                    match adopt(&api, &name, &rs_uid, &owner).await {
                        Ok(rs) => out.push(rs),
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(out)
    }

    /// Upstream's `getAllReplicaSetsAndSyncRevision`: (new RS if any, old RSs).
    pub(crate) async fn get_all_and_sync_revision(
        &self,
        d: &mut Deployment,
        rs_list: &[ReplicaSet],
        create: bool,
    ) -> Result<(Option<ReplicaSet>, Vec<ReplicaSet>), DeploymentError> {
        let existing = util::find_new(d, rs_list);
        let new_uid = existing.as_ref().and_then(|r| r.metadata.uid.clone());
        let old: Vec<ReplicaSet> = rs_list
            .iter()
            .filter(|r| new_uid.is_none() || r.metadata.uid != new_uid)
            .cloned()
            .collect();
        let new = self.get_new_replica_set(d, existing, &old, create).await?;
        Ok((new, old))
    }

    /// Upstream's `getNewReplicaSet`: syncs revision annotations of the existing new RS, or
    /// creates it when `create`.
    async fn get_new_replica_set(
        &self,
        d: &mut Deployment,
        existing: Option<ReplicaSet>,
        old: &[ReplicaSet],
        create: bool,
    ) -> Result<Option<ReplicaSet>, DeploymentError> {
        let new_revision = util::max_revision(old) + 1;
        let min_ready = d.spec.as_ref().and_then(|s| s.min_ready_seconds);
        if let Some(mut rs) = existing {
            let annotations_changed = util::set_new_rs_annotations(d, &mut rs, new_revision, true);
            let spec = rs.spec.get_or_insert_with(Default::default);
            let min_ready_changed = spec.min_ready_seconds.unwrap_or(0) != min_ready.unwrap_or(0);
            if annotations_changed || min_ready_changed {
                spec.min_ready_seconds = min_ready;
                let name = rs.metadata.name.clone().unwrap_or_default();
                return Ok(Some(
                    self.rs_api(d)
                        .replace(&name, &PostParams::default(), &rs)
                        .await?,
                ));
            }
            let rev = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(util::REVISION))
                .cloned()
                .unwrap_or_default();
            let mut needs_update = util::set_deployment_revision(d, &rev);
            let has_progressing = d
                .status
                .as_ref()
                .and_then(|s| util::get_condition(s, "Progressing"))
                .is_some();
            if util::progress_deadline(d).is_some() && !has_progressing {
                let msg = format!(
                    "Found new replica set {:?}",
                    rs.metadata.name.as_deref().unwrap_or_default()
                );
                let status = d.status.get_or_insert_with(Default::default);
                util::set_condition(
                    status,
                    util::new_condition("Progressing", "True", reason::FOUND_NEW_RS, &msg),
                );
                needs_update = true;
            }
            if needs_update {
                self.update_status(d).await?;
            }
            return Ok(Some(rs));
        }
        if !create {
            return Ok(None);
        }
        let spec = d.spec.clone().unwrap_or_default();
        let collision = d.status.as_ref().and_then(|s| s.collision_count);
        let mut template = spec.template.clone();
        let hash = compute_hash(&template, collision);
        template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.to_string(), hash.clone());
        let mut selector: LabelSelector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(POD_TEMPLATE_HASH.to_string(), hash.clone());
        let name = format!(
            "{}-{}",
            d.metadata.name.as_deref().unwrap_or_default(),
            hash
        );
        let mut rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: d.metadata.namespace.clone(),
                owner_references: Some(vec![controller_ref("apps/v1", "Deployment", &d.metadata)]),
                labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(0),
                min_ready_seconds: min_ready,
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let all: Vec<&ReplicaSet> = old.iter().chain(std::iter::once(&rs)).collect();
        let replicas = util::new_rs_new_replicas(d, &all, &rs);
        if let Some(s) = rs.spec.as_mut() {
            s.replicas = Some(replicas);
        }
        util::set_new_rs_annotations(d, &mut rs, new_revision, false);
        let created = match self.rs_api(d).create(&PostParams::default(), &rs).await {
            Ok(c) => c,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let existing = self.rs_api(d).get(&name).await?;
                let ours = controller_of(&existing.metadata)
                    .is_some_and(|r| Some(&r.uid) == d.metadata.uid.as_ref());
                if ours
                    && util::equal_ignore_hash(
                        existing.spec.as_ref().and_then(|s| s.template.as_ref()),
                        d.spec.as_ref().map(|s| &s.template),
                    )
                {
                    return Ok(Some(existing));
                }
                let status = d.status.get_or_insert_with(Default::default);
                status.collision_count =
                    Some(status.collision_count.unwrap_or(0).saturating_add(1));
                self.update_status(d).await?;
                return Err(DeploymentError::Collision(name));
            }
            Err(e) => {
                if util::progress_deadline(d).is_some() {
                    let msg = format!("Failed to create new replica set {name:?}: {e}");
                    let status = d.status.get_or_insert_with(Default::default);
                    util::set_condition(
                        status,
                        util::new_condition("Progressing", "False", "ReplicaSetCreateError", &msg),
                    );
                    let _ = self.update_status(d).await;
                }
                return Err(e.into());
            }
        };
        if replicas > 0 {
            self.recorder
                .record(
                    &reference("apps/v1", "Deployment", &d.metadata),
                    EventType::Normal,
                    "ScalingReplicaSet",
                    &format!("Scaled up replica set {name} from 0 to {replicas}"),
                )
                .await;
        }
        util::set_deployment_revision(d, &new_revision.to_string());
        if util::progress_deadline(d).is_some() {
            let msg = format!("Created new replica set {name:?}");
            let status = d.status.get_or_insert_with(Default::default);
            util::set_condition(
                status,
                util::new_condition("Progressing", "True", reason::NEW_RS_CREATED, &msg),
            );
        }
        self.update_status(d).await?;
        Ok(Some(created))
    }

    /// Upstream's `scaleReplicaSetAndRecordEvent`: returns whether the size changed.
    pub(crate) async fn scale_and_record(
        &self,
        rs: &mut ReplicaSet,
        new_scale: i32,
        d: &Deployment,
    ) -> Result<bool, DeploymentError> {
        if util::rs_replicas(rs) == new_scale {
            return Ok(false);
        }
        let op = if util::rs_replicas(rs) < new_scale {
            "up"
        } else {
            "down"
        };
        self.scale(rs, new_scale, d, op).await
    }

    /// Upstream's `scaleReplicaSet`: writes size and replicas annotations; records
    /// `ScalingReplicaSet` when the size changed.
    pub(crate) async fn scale(
        &self,
        rs: &mut ReplicaSet,
        new_scale: i32,
        d: &Deployment,
        op: &str,
    ) -> Result<bool, DeploymentError> {
        let old = util::rs_replicas(rs);
        let size_changed = old != new_scale;
        let desired = util::d_replicas(d);
        let max = desired + util::max_surge(d);
        if !size_changed && !util::replicas_annotations_need_update(rs, desired, max) {
            return Ok(false);
        }
        let mut copy = rs.clone();
        copy.spec.get_or_insert_with(Default::default).replicas = Some(new_scale);
        util::set_replicas_annotations(&mut copy, desired, max);
        let name = copy.metadata.name.clone().unwrap_or_default();
        *rs = self
            .rs_api(d)
            .replace(&name, &PostParams::default(), &copy)
            .await?;
        if size_changed {
            self.recorder
                .record(
                    &reference("apps/v1", "Deployment", &d.metadata),
                    EventType::Normal,
                    "ScalingReplicaSet",
                    &format!("Scaled {op} replica set {name} from {old} to {new_scale}"),
                )
                .await;
        }
        Ok(size_changed)
    }

    /// Upstream's `cleanupDeployment`: deletes the oldest idle ReplicaSets beyond
    /// `revisionHistoryLimit`.
    pub(crate) async fn cleanup(
        &self,
        old: &[ReplicaSet],
        d: &Deployment,
    ) -> Result<(), DeploymentError> {
        let Some(limit) = d.spec.as_ref().and_then(|s| s.revision_history_limit) else {
            return Ok(());
        };
        let mut cleanable: Vec<&ReplicaSet> = old
            .iter()
            .filter(|r| r.metadata.deletion_timestamp.is_none())
            .collect();
        let diff = cleanable.len() as i64 - i64::from(limit);
        if diff <= 0 {
            return Ok(());
        }
        cleanable.sort_by(|a, b| {
            util::revision(a)
                .cmp(&util::revision(b))
                .then_with(|| util::by_creation(a, b))
        });
        for rs in cleanable
            .into_iter()
            .take(usize::try_from(diff).unwrap_or(0))
        {
            let status = rs.status.clone().unwrap_or_default();
            if status.replicas != 0
                || util::rs_replicas(rs) != 0
                || rs.metadata.generation > status.observed_generation
            {
                continue;
            }
            let name = rs.metadata.name.clone().unwrap_or_default();
            tracing::info!(replicaset = %name, "deployment controller: cleaning up old replica set");
            match self.rs_api(d).delete(&name, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
