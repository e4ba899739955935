//! Updates: guaranteed (read, change, compare-and-swap) updates for PUT, PATCH and internal writes.

use serde_json::{json, Value};

use super::{normalize_metadata, parse_rv, to_storage_bytes, Part, Store, WriteOptions};
use crate::api::apply;
use crate::api::cache::{self};
use crate::api::errors::{ApiError, ApiResult};
use crate::api::object::{with_type_meta, ObjectMeta};
use crate::api::registry::ResourceEntry;
use crate::api::validate;
use crate::storage::StorageError;

impl Store {
    /// Reads the current object, lets `update` produce the new one, and writes it guarded by the
    /// read revision; storage conflicts are retried (a resourceVersion the caller pinned then fails the check).
    pub async fn guaranteed_update<F>(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        name: &str,
        part: Part,
        opts: &WriteOptions,
        mut update: F,
    ) -> ApiResult<Value>
    where
        F: FnMut(&Value) -> ApiResult<Value>,
    {
        let key = self.object_key(res, ns, name);
        for _ in 0..16 {
            let current = self.storage.get(&key).await?;
            let Some(kv) = current else {
                return Err(ApiError::not_found(&res.rt.group, &res.rt.plural, name));
            };
            let old = cache::decode_kv(&kv).ok_or_else(|| {
                ApiError::internal(format!("stored object {key} is not valid JSON"))
            })?;
            let mut new = update(&old)?;
            crate::defaults::apply(&res.rt.group, &res.rt.kind, &mut new);
            if !new.is_object() {
                return Err(ApiError::bad_request(
                    "the body of the request must be a JSON object",
                ));
            }
            new = with_type_meta(new, &res.rt.api_version(), &res.rt.kind);
            let pinned = new
                .meta_str("resourceVersion")
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            if let Some(rv) = &pinned {
                if parse_rv(rv).ok() != Some(kv.mod_revision) {
                    return Err(ApiError::conflict(
                        &res.rt.group,
                        &res.rt.plural,
                        name,
                        ApiError::MODIFIED,
                    ));
                }
            }
            self.prepare_update(res, ns, name, part, &mut new, &old)?;
            if let Some(m) = opts.field_manager.as_deref() {
                if !opts.managed_fields_done {
                    let scope = apply::Scope::new(res, opts.subresource.as_deref());
                    apply::record_update(&scope, Some(&old), &mut new, m);
                }
            }
            if part == Part::Binding {
                // The binding is the one writer allowed to set the (otherwise immutable) node.
                let mut before = old.clone();
                if let (Some(node), Some(spec)) = (
                    new.pointer("/spec/nodeName"),
                    before.get_mut("spec").and_then(Value::as_object_mut),
                ) {
                    spec.insert("nodeName".into(), node.clone());
                }
                validate::validate(res, &new, Some(&before))?;
            } else {
                validate::validate(res, &new, Some(&old))?;
            }
            normalize_metadata(&mut new);
            if opts.dry_run {
                cache::set_resource_version(&mut new, kv.mod_revision);
                return Ok(new);
            }
            // Removing the last finalizer of an object being deleted deletes it.
            if new.meta_str("deletionTimestamp").is_some()
                && new.finalizers().is_empty()
                && !(res.rt.kind == "Namespace" && has_spec_finalizers(&new))
            {
                match self.storage.delete(&key, Some(kv.mod_revision)).await {
                    Ok((rev, _)) => {
                        cache::set_resource_version(&mut new, rev);
                        return Ok(new);
                    }
                    // Retried: a resourceVersion given by the client fails the check above.
                    Err(StorageError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            if new == old {
                return Ok(new);
            }
            match self
                .storage
                .update(&key, to_storage_bytes(&new)?, kv.mod_revision)
                .await
            {
                Ok(stored) => {
                    cache::set_resource_version(&mut new, stored.mod_revision);
                    return Ok(new);
                }
                // Retried: a resourceVersion given by the client (or kept from the object a
                // patch was applied to, now stale) fails the check above; otherwise the update
                // is applied again to the current object, as upstream's GuaranteedUpdate.
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

    fn prepare_update(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        name: &str,
        part: Part,
        new: &mut Value,
        old: &Value,
    ) -> ApiResult<()> {
        let body_name = new.name().to_string();
        if body_name.is_empty() {
            new.set_meta("name", json!(name));
        } else if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(ns) = ns.filter(|_| res.rt.namespaced) {
            let body_ns = new.namespace().to_string();
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            new.set_meta("namespace", json!(ns));
        }
        if let Some(uid) = new.meta_str("uid").filter(|s| !s.is_empty()) {
            let old_uid = old.meta_str("uid").unwrap_or("");
            if uid != old_uid {
                return Err(ApiError::conflict(
                    &res.rt.group,
                    &res.rt.plural,
                    name,
                    &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {old_uid}"),
                ));
            }
        }
        for f in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old.meta().and_then(|m| m.get(f)) {
                Some(v) => new.set_meta(f, v.clone()),
                None => {
                    new.remove_meta(f);
                }
            }
        }
        // A deleting object may not gain finalizers (upstream forbids adding but allows removal).
        match part {
            Part::Main => res.strategy.prepare_for_update(new, old),
            Part::Status => res.strategy.prepare_for_status_update(new, old),
            Part::Approval => res.strategy.prepare_for_approval_update(new, old),
            Part::All | Part::Binding => {}
        }
        new.remove_meta("selfLink");
        Ok(())
    }

    /// Replaces an object (PUT), creating it where the kind allows.
    pub async fn update(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        name: &str,
        body: Value,
        part: Part,
        opts: &WriteOptions,
    ) -> ApiResult<(Value, bool)> {
        match self
            .guaranteed_update(res, ns, name, part, opts, |_| Ok(body.clone()))
            .await
        {
            Err(e)
                if e.code == 404 && res.strategy.allow_create_on_update && part == Part::Main =>
            {
                let mut b = body.clone();
                if b.name().is_empty() {
                    b.set_meta("name", json!(name));
                }
                if b.name() != name {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({}) does not match the name on the URL ({name})",
                        b.name()
                    )));
                }
                Ok((self.create(res, ns, b, opts).await?, true))
            }
            other => other.map(|v| (v, false)),
        }
    }
}

pub(super) fn has_spec_finalizers(obj: &Value) -> bool {
    obj.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}
