//! Controller references and adoption, as upstream's `ControllerRefManager`: an owner claims the
//! objects matching its selector, adopting orphans and releasing objects that stopped matching,
//! through strategic merge patches guarded by the object's uid.

use std::fmt::Debug;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, Patch, PatchParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use serde_json::json;

/// The reference marked `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// A controller reference to `owner` (controller and blockOwnerDeletion set, as upstream's
/// `metav1.NewControllerRef`).
pub fn controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        name: owner.name.clone().unwrap_or_default(),
        uid: owner.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// What an owner should do with one candidate object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Owned and matching: keep it.
    Keep,
    /// Orphan matching the selector: adopt it.
    Adopt,
    /// Owned but no longer matching: release it.
    Release,
    /// Not ours (another controller, or an orphan we must not take).
    Ignore,
}

/// Decides about `obj` for the owner with `owner_uid` (upstream's `ClaimObject`).
pub fn decide(obj: &ObjectMeta, owner_uid: &str, owner_deleting: bool, matches: bool) -> Claim {
    match controller_of(obj) {
        Some(r) if r.uid == owner_uid => {
            if matches {
                Claim::Keep
            } else if owner_deleting {
                // Upstream keeps (ignores) while the owner is going away.
                Claim::Ignore
            } else {
                Claim::Release
            }
        }
        Some(_) => Claim::Ignore,
        None => {
            if owner_deleting || !matches || obj.deletion_timestamp.is_some() {
                Claim::Ignore
            } else {
                Claim::Adopt
            }
        }
    }
}

/// Adds `owner` as controller of object `name` (uid-guarded strategic merge patch).
pub async fn adopt<K>(
    api: &Api<K>,
    name: &str,
    obj_uid: &str,
    owner: &OwnerReference,
) -> Result<K, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({"metadata": {"ownerReferences": [owner], "uid": obj_uid}});
    api.patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
}

/// Removes the reference to `owner_uid` from object `name`; a missing object is not an error.
pub async fn release<K>(
    api: &Api<K>,
    name: &str,
    obj_uid: &str,
    owner_uid: &str,
) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let patch = json!({"metadata": {
        "ownerReferences": [{"$patch": "delete", "uid": owner_uid}],
        "uid": obj_uid,
    }});
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 422 => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_as_upstream() {
        let owner = ObjectMeta {
            name: Some("rs".into()),
            uid: Some("u1".into()),
            ..Default::default()
        };
        let mut pod = ObjectMeta::default();
        assert_eq!(decide(&pod, "u1", false, true), Claim::Adopt);
        assert_eq!(decide(&pod, "u1", true, true), Claim::Ignore);
        assert_eq!(decide(&pod, "u1", false, false), Claim::Ignore);
        pod.owner_references = Some(vec![controller_ref("apps/v1", "ReplicaSet", &owner)]);
        assert_eq!(decide(&pod, "u1", false, true), Claim::Keep);
        assert_eq!(decide(&pod, "u1", false, false), Claim::Release);
        assert_eq!(decide(&pod, "u2", false, true), Claim::Ignore);
    }
}
