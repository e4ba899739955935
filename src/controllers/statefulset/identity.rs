//! Stable identity of StatefulSet pods (upstream's `stateful_set_utils.go`): names
//! `<set>-<ordinal>`, identity labels, hostname/subdomain, claims `<template>-<set>-<ordinal>`
//! and the volumes referencing them, revision labels, and PVC owner references per
//! `persistentVolumeClaimRetentionPolicy`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::controllers::workload_pods::controller_ref;

/// Label with the pod's name.
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
/// Label with the pod's ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// Label with the name of the pod's ControllerRevision.
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// `<set>-<ordinal>`.
pub fn pod_name(set: &str, ordinal: i32) -> String {
    format!("{set}-{ordinal}")
}

/// Upstream's `getParentNameAndOrdinal`: the name split at its last `-` into parent and
/// ordinal (`None` when the name has no numeric suffix).
pub fn parent_and_ordinal(name: &str) -> Option<(&str, i32)> {
    let (parent, ord) = name.rsplit_once('-')?;
    if ord.is_empty() || !ord.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((parent, ord.parse().ok()?))
}

/// The ordinal of a pod of `set` (`None` when it is not a member by name).
pub fn ordinal_of(set: &str, pod: &Pod) -> Option<i32> {
    let name = pod.metadata.name.as_deref()?;
    match parent_and_ordinal(name) {
        Some((parent, ord)) if parent == set => Some(ord),
        _ => None,
    }
}

/// The revision label of a pod.
pub fn pod_revision(pod: &Pod) -> &str {
    pod.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(REVISION_LABEL))
        .map(String::as_str)
        .unwrap_or_default()
}

/// First ordinal (`spec.ordinals.start`).
pub fn start_ordinal(set: &StatefulSet) -> i32 {
    set.spec
        .as_ref()
        .and_then(|s| s.ordinals.as_ref())
        .and_then(|o| o.start)
        .unwrap_or(0)
}

/// Name of the claim of `template` for `ordinal`.
pub fn claim_name(template: &str, set: &str, ordinal: i32) -> String {
    format!("{template}-{}", pod_name(set, ordinal))
}

/// The claims a pod of `set` with `ordinal` uses, by template name, in template order
/// (upstream's `getPersistentVolumeClaims`).
pub fn claims(set: &StatefulSet, ordinal: i32) -> Vec<(String, PersistentVolumeClaim)> {
    let name = set.metadata.name.clone().unwrap_or_default();
    let spec = set.spec.as_ref();
    let selector_labels = spec
        .and_then(|s| s.selector.match_labels.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    for t in spec
        .and_then(|s| s.volume_claim_templates.as_ref())
        .into_iter()
        .flatten()
    {
        let tname = t.metadata.name.clone().unwrap_or_default();
        let mut labels = t.metadata.labels.clone().unwrap_or_default();
        labels.extend(selector_labels.clone());
        let claim = PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(claim_name(&tname, &name, ordinal)),
                namespace: set.metadata.namespace.clone(),
                labels: Some(labels),
                annotations: t.metadata.annotations.clone(),
                ..Default::default()
            },
            spec: t.spec.clone(),
            status: None,
        };
        out.push((tname, claim));
    }
    out
}

/// Upstream's `newStatefulSetPod` + `setPodRevision`: a pod from `template` with the identity
/// of `ordinal`, its claim volumes and the revision label.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let set_name = set.metadata.name.clone().unwrap_or_default();
    let mut pod = Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(&set_name, ordinal)),
            namespace: set.metadata.namespace.clone(),
            labels: template.metadata.as_ref().and_then(|m| m.labels.clone()),
            annotations: template
                .metadata
                .as_ref()
                .and_then(|m| m.annotations.clone()),
            finalizers: template
                .metadata
                .as_ref()
                .and_then(|m| m.finalizers.clone()),
            owner_references: Some(vec![controller_ref(
                "apps/v1",
                "StatefulSet",
                &set.metadata,
            )]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        status: None,
    };
    update_identity(set, &mut pod, ordinal);
    update_storage(set, &mut pod, ordinal);
    pod.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(REVISION_LABEL.to_string(), revision.to_string());
    pod
}

/// Upstream's `updateIdentity` + `initIdentity`: name, namespace, identity labels, and
/// hostname/subdomain (= `serviceName`).
pub fn update_identity(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let name = pod_name(set.metadata.name.as_deref().unwrap_or_default(), ordinal);
    pod.metadata.name = Some(name.clone());
    pod.metadata.namespace = set.metadata.namespace.clone();
    let labels = pod.metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(POD_NAME_LABEL.to_string(), name.clone());
    labels.insert(POD_INDEX_LABEL.to_string(), ordinal.to_string());
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.hostname = Some(name);
    let service = set
        .spec
        .as_ref()
        .map(|s| s.service_name.clone().unwrap_or_default())
        .unwrap_or_default();
    spec.subdomain = (!service.is_empty()).then_some(service);
}

/// Upstream's `updateStorage`: claim volumes first, then the pod's other volumes.
pub fn update_storage(set: &StatefulSet, pod: &mut Pod, ordinal: i32) {
    let claims = claims(set, ordinal);
    if claims.is_empty() {
        return;
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(tname, claim)| Volume {
            name: tname.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.clone().unwrap_or_default(),
                read_only: Some(false),
            }),
            ..Default::default()
        })
        .collect();
    for v in spec.volumes.take().into_iter().flatten() {
        if !claims.iter().any(|(t, _)| *t == v.name) {
            volumes.push(v);
        }
    }
    spec.volumes = Some(volumes);
}

/// Upstream's `identityMatches`.
pub fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let set_name = set.metadata.name.as_deref().unwrap_or_default();
    let Some(ord) = ordinal_of(set_name, pod) else {
        return false;
    };
    let name = pod_name(set_name, ord);
    pod.metadata.name.as_deref() == Some(name.as_str())
        && pod.metadata.namespace == set.metadata.namespace
        && pod
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(POD_NAME_LABEL))
            .is_some_and(|v| *v == name)
}

/// Upstream's `storageMatches`: every claim template has a volume on the right claim.
pub fn storage_matches(set: &StatefulSet, pod: &Pod, ordinal: i32) -> bool {
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .cloned()
        .unwrap_or_default();
    claims(set, ordinal).iter().all(|(tname, claim)| {
        volumes.iter().any(|v| {
            v.name == *tname
                && v.persistent_volume_claim.as_ref().map(|c| &c.claim_name)
                    == claim.metadata.name.as_ref()
        })
    })
}

/// The retention policy: (whenDeleted, whenScaled), each `Retain` or `Delete`.
pub fn retention(set: &StatefulSet) -> (String, String) {
    let p = set
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    let get = |v: Option<&String>| v.cloned().unwrap_or_else(|| "Retain".to_string());
    (
        get(p.and_then(|p| p.when_deleted.as_ref())),
        get(p.and_then(|p| p.when_scaled.as_ref())),
    )
}

/// Upstream's `updateClaimOwnerRefForSetAndPod`: the owner references a claim of `pod` should
/// have given the retention policy and whether the pod is scaled down. Returns whether they
/// changed.
pub fn fix_claim_owners(
    claim: &mut PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
    scaled_down: bool,
) -> bool {
    let set_ref = controller_ref("apps/v1", "StatefulSet", &set.metadata);
    let pod_ref = controller_ref("v1", "Pod", &pod.metadata);
    let (when_deleted, when_scaled) = retention(set);
    let (want_set, want_pod) = match (when_deleted.as_str(), when_scaled.as_str()) {
        ("Delete", "Retain") => (true, false),
        ("Retain", "Delete") => (false, scaled_down),
        ("Delete", "Delete") => (!scaled_down, scaled_down),
        _ => (false, false),
    };
    let refs = claim.metadata.owner_references.get_or_insert_with(Vec::new);
    let before = refs.clone();
    set_ref_presence(refs, &set_ref, want_set);
    set_ref_presence(refs, &pod_ref, want_pod);
    let changed = *refs != before;
    if refs.is_empty() {
        claim.metadata.owner_references = None;
    }
    changed
}

fn set_ref_presence(refs: &mut Vec<OwnerReference>, r: &OwnerReference, want: bool) {
    let matches = |o: &OwnerReference| o.uid == r.uid && o.kind == r.kind;
    if want {
        // Another controller keeps the claim: upstream does not add a second controller.
        if !refs.iter().any(matches) && !refs.iter().any(|o| o.controller == Some(true)) {
            refs.push(r.clone());
        }
    } else {
        refs.retain(|o| !matches(o));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals() {
        assert_eq!(parent_and_ordinal("web-0"), Some(("web", 0)));
        assert_eq!(parent_and_ordinal("my-web-12"), Some(("my-web", 12)));
        assert_eq!(parent_and_ordinal("web"), None);
        assert_eq!(parent_and_ordinal("web-x"), None);
        assert_eq!(claim_name("data", "web", 2), "data-web-2");
    }
}
