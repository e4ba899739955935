//! DELETE and deletecollection: preconditions, finalizers, pod grace periods, namespaces.

use serde_json::{json, Value};

use super::update::has_spec_finalizers;
use super::{
    normalize_metadata, parse_rv, to_storage_bytes, DeleteOptions, DeleteOutcome, ListOptions,
    Store,
};
use crate::api::cache::{self};
use crate::api::errors::{ApiError, ApiResult};
use crate::api::object::{now_rfc3339, ObjectMeta};
use crate::api::registry::ResourceEntry;
use crate::storage::{Revision, StorageError};

impl Store {
    /// Deletes an object, honouring preconditions, finalizers and pod grace periods.
    pub async fn delete(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> ApiResult<DeleteOutcome> {
        let key = self.object_key(res, ns, name);
        for _ in 0..16 {
            let Some(kv) = self.storage.get(&key).await? else {
                return Err(ApiError::not_found(&res.rt.group, &res.rt.plural, name));
            };
            let mut obj = cache::decode_kv(&kv).ok_or_else(|| {
                ApiError::internal(format!("stored object {key} is not valid JSON"))
            })?;
            if let Some(uid) = &opts.precondition_uid {
                let cur = obj.meta_str("uid").unwrap_or("").to_string();
                if *uid != cur {
                    return Err(ApiError::conflict(
                        &res.rt.group,
                        &res.rt.plural,
                        name,
                        &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {cur}"
                    ),
                    ));
                }
            }
            if let Some(rv) = &opts.precondition_rv {
                if parse_rv(rv).ok() != Some(kv.mod_revision) {
                    return Err(ApiError::conflict(&res.rt.group, &res.rt.plural, name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                        kv.mod_revision
                    )));
                }
            }
            let pending = self.pending_deletion(res, &mut obj, opts);
            if opts.dry_run {
                return Ok(if pending {
                    DeleteOutcome::Pending(obj)
                } else {
                    DeleteOutcome::Deleted(obj)
                });
            }
            if pending {
                normalize_metadata(&mut obj);
                match self
                    .storage
                    .update(&key, to_storage_bytes(&obj)?, kv.mod_revision)
                    .await
                {
                    Ok(stored) => {
                        cache::set_resource_version(&mut obj, stored.mod_revision);
                        return Ok(DeleteOutcome::Pending(obj));
                    }
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(StorageError::NotFound(_)) => {
                        return Err(ApiError::not_found(&res.rt.group, &res.rt.plural, name))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            match self.storage.delete(&key, Some(kv.mod_revision)).await {
                Ok((rev, _)) => {
                    cache::set_resource_version(&mut obj, rev);
                    return Ok(DeleteOutcome::Deleted(obj));
                }
                Err(StorageError::Conflict { .. }) => continue,
                Err(StorageError::NotFound(_)) => {
                    return Err(ApiError::not_found(&res.rt.group, &res.rt.plural, name))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::conflict(
            &res.rt.group,
            &res.rt.plural,
            name,
            "too many concurrent updates",
        ))
    }

    /// Marks `obj` for deletion when finalizers or a grace period keep it; returns whether it stays.
    fn pending_deletion(&self, res: &ResourceEntry, obj: &mut Value, opts: &DeleteOptions) -> bool {
        let already = obj.meta_str("deletionTimestamp").is_some();
        if let Some(finalizers) = gc_finalizers(res, &obj.finalizers(), opts) {
            obj.set_meta("finalizers", json!(finalizers));
        }
        if res.rt.kind == "Namespace" && res.rt.group.is_empty() {
            if !already {
                obj.set_meta("deletionTimestamp", json!(now_rfc3339()));
                obj.set_meta("deletionGracePeriodSeconds", json!(0));
            }
            if let Some(o) = obj.as_object_mut() {
                o.insert("status".into(), json!({"phase": "Terminating"}));
            }
            return has_spec_finalizers(obj) || !obj.finalizers().is_empty();
        }
        if res.rt.kind == "Pod" && res.rt.group.is_empty() {
            let scheduled = obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            let phase = obj
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or("");
            let terminal = phase == "Succeeded" || phase == "Failed";
            let default_grace = obj
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30);
            let grace = opts.grace_period.unwrap_or(default_grace).max(0);
            if scheduled && !terminal && grace > 0 {
                let current = obj
                    .meta()
                    .and_then(|m| m.get("deletionGracePeriodSeconds"))
                    .and_then(Value::as_i64);
                if !already || current.is_some_and(|c| grace < c) {
                    let at = chrono::Utc::now() + chrono::Duration::seconds(grace);
                    obj.set_meta(
                        "deletionTimestamp",
                        json!(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                    );
                    obj.set_meta("deletionGracePeriodSeconds", json!(grace));
                }
                return true;
            }
        }
        if !obj.finalizers().is_empty() {
            if !already {
                obj.set_meta("deletionTimestamp", json!(now_rfc3339()));
                obj.set_meta("deletionGracePeriodSeconds", json!(0));
            }
            return true;
        }
        false
    }

    /// Deletes every object of a collection that matches the list options.
    pub async fn delete_collection(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        list: &ListOptions,
        opts: &DeleteOptions,
    ) -> ApiResult<(Vec<Value>, Revision)> {
        let page = self
            .list(
                res,
                ns,
                &ListOptions {
                    limit: 0,
                    continue_token: None,
                    ..list.clone()
                },
            )
            .await?;
        let mut out = Vec::new();
        for item in page.items {
            let item = item.value();
            let item_ns = item.namespace().to_string();
            let ns = if res.rt.namespaced {
                Some(item_ns.as_str())
            } else {
                None
            };
            match self.delete(res, ns, item.name(), opts).await {
                Ok(DeleteOutcome::Deleted(v)) | Ok(DeleteOutcome::Pending(v)) => out.push(v),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok((out, self.cache.revision()))
    }
}

/// Finalizer that makes the garbage collector orphan an object's dependents.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Finalizer that makes the garbage collector delete an object's dependents first.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// The default propagation of a kind, as its upstream strategy's `DefaultGarbageCollectionPolicy`:
/// true where dependents are orphaned unless the request asks otherwise.
fn orphans_by_default(res: &ResourceEntry) -> bool {
    matches!(
        (
            res.rt.group.as_str(),
            res.rt.version.as_str(),
            res.rt.kind.as_str()
        ),
        ("", "v1", "ReplicationController") | ("batch", "v1", "Job")
    )
}

/// The finalizers a DELETE leaves on the object for the garbage collector (upstream's
/// `deletionFinalizersForGarbageCollection`): `orphan` or `foregroundDeletion` per the request's
/// `orphanDependents`/`propagationPolicy`, else per the finalizers already there, else per the
/// kind's default. `None` when the set does not change.
pub(crate) fn gc_finalizers(
    res: &ResourceEntry,
    current: &[String],
    opts: &DeleteOptions,
) -> Option<Vec<String>> {
    let from_existing = |wanted: &str| {
        current
            .iter()
            .find(|f| *f == FINALIZER_ORPHAN || *f == FINALIZER_FOREGROUND)
            .map(|f| f == wanted)
    };
    let orphan = if let Some(o) = opts.orphan_dependents {
        o
    } else {
        match opts.propagation.as_deref() {
            Some("Orphan") => true,
            Some("Background") | Some("Foreground") => false,
            _ => from_existing(FINALIZER_ORPHAN).unwrap_or_else(|| orphans_by_default(res)),
        }
    };
    let foreground = if opts.orphan_dependents.is_some() {
        false
    } else {
        match opts.propagation.as_deref() {
            Some("Foreground") => true,
            Some("Background") | Some("Orphan") => false,
            _ => from_existing(FINALIZER_FOREGROUND).unwrap_or(false),
        }
    };
    let mut out: Vec<String> = current
        .iter()
        .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
        .cloned()
        .collect();
    if orphan {
        out.push(FINALIZER_ORPHAN.to_string());
    }
    if foreground {
        out.push(FINALIZER_FOREGROUND.to_string());
    }
    let old: std::collections::BTreeSet<&String> = current.iter().collect();
    let new: std::collections::BTreeSet<&String> = out.iter().collect();
    (old != new).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::registry::Registry;

    fn opts(propagation: Option<&str>, orphan: Option<bool>) -> DeleteOptions {
        DeleteOptions {
            propagation: propagation.map(str::to_string),
            orphan_dependents: orphan,
            ..Default::default()
        }
    }

    #[test]
    fn gc_finalizers_follow_policy_then_existing_then_kind_default() {
        let reg = Registry::builtin();
        let cm = reg.find("", "v1", "configmaps").expect("configmaps");
        let job = reg.find("batch", "v1", "jobs").expect("jobs");
        let none: Vec<String> = vec![];
        assert_eq!(gc_finalizers(&cm, &none, &opts(None, None)), None);
        assert_eq!(
            gc_finalizers(&cm, &none, &opts(Some("Background"), None)),
            None
        );
        assert_eq!(
            gc_finalizers(&cm, &none, &opts(Some("Foreground"), None)),
            Some(vec!["foregroundDeletion".to_string()])
        );
        assert_eq!(
            gc_finalizers(&cm, &none, &opts(Some("Orphan"), None)),
            Some(vec!["orphan".to_string()])
        );
        assert_eq!(
            gc_finalizers(&cm, &none, &opts(None, Some(true))),
            Some(vec!["orphan".to_string()])
        );
        // Jobs in batch/v1 orphan by default; an explicit policy wins.
        assert_eq!(
            gc_finalizers(&job, &none, &opts(None, None)),
            Some(vec!["orphan".to_string()])
        );
        assert_eq!(
            gc_finalizers(&job, &none, &opts(Some("Background"), None)),
            None
        );
        // An existing GC finalizer is kept without a policy and replaced with one.
        let fg = vec!["a".to_string(), "foregroundDeletion".to_string()];
        assert_eq!(gc_finalizers(&job, &fg, &opts(None, None)), None);
        assert_eq!(
            gc_finalizers(&job, &fg, &opts(Some("Background"), None)),
            Some(vec!["a".to_string()])
        );
    }
}
