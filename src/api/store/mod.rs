//! The generic store: create, get, list, update, patch, delete and watch written once for every
//! resource, over [`Storage`](crate::storage::Storage) and the [`WatchCache`].

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::admission;
use super::apply;
use super::cache::{self, Cached, WatchCache};
use super::errors::{ApiError, ApiResult};
use super::object::{now_rfc3339, random_suffix, with_type_meta, ObjectMeta};
use super::registry::{Registry, ResourceEntry};
use super::validate;
use crate::storage::{Revision, SharedStorage, StorageError};

pub mod delete;
mod list;
mod update;

/// Options shared by writes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager` (rest.rs fills in the User-Agent default); `None` for internal writes,
    /// which leave managedFields as they are.
    pub field_manager: Option<String>,
    /// The subresource written (`status`, `scale`, …), for managedFields.
    pub subresource: Option<String>,
    /// managedFields were already computed (server-side apply): the store keeps them.
    pub managed_fields_done: bool,
}

/// Options of a list (and of the initial state of a watch).
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
    /// `limit` (0 = all).
    pub limit: i64,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub resource_version_match: Option<String>,
}

/// A page of a list.
#[derive(Debug)]
pub struct ListResult {
    /// The matching objects (as the watch cache holds them: encoded).
    pub items: Vec<Arc<Cached>>,
    /// The revision the list was read at.
    pub revision: Revision,
    /// The token for the next page.
    pub continue_token: Option<String>,
    /// How many more objects follow (when known).
    pub remaining: Option<i64>,
}

/// `DeleteOptions` of a delete.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period: Option<i64>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_rv: Option<String>,
    /// `propagationPolicy`.
    pub propagation: Option<String>,
    /// `orphanDependents` (deprecated form of `propagationPolicy: Orphan`).
    pub orphan_dependents: Option<bool>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// What a delete did.
#[derive(Debug)]
pub enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Deleted(Value),
    /// The object is being deleted (finalizers or grace period); this is its new state.
    Pending(Value),
}

/// Which part of an object a write targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The main resource (status is kept from the stored object).
    Main,
    /// The `status` subresource (everything but status is kept).
    Status,
    /// The `approval` subresource (status conditions; the certificate is kept).
    Approval,
    /// Internal writes that may change everything.
    All,
    /// The `pods/binding` subresource: like `All`, but validated as if `spec.nodeName` had
    /// always been the new one (pod specs are otherwise immutable on update).
    Binding,
}

/// The generic store over storage, cache and registry.
pub struct Store {
    /// The storage backend.
    pub storage: SharedStorage,
    /// The watch cache.
    pub cache: Arc<WatchCache>,
    /// Served resources.
    pub registry: Arc<Registry>,
    /// Admission state (IP and port allocation).
    pub admission: admission::Admission,
}

pub(crate) fn parse_rv(rv: &str) -> ApiResult<Revision> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// ObjectMeta's fields in the order the Go struct declares them.
pub const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Reorders metadata fields as the Go struct declares them (clients compare encoded objects).
pub(crate) fn normalize_metadata(obj: &mut Value) {
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        // Go's `omitempty`: empty lists and maps are not written.
        for f in [
            "labels",
            "annotations",
            "ownerReferences",
            "finalizers",
            "managedFields",
        ] {
            let empty = match m.get(f) {
                Some(Value::Array(a)) => a.is_empty(),
                Some(Value::Object(o)) => o.is_empty(),
                Some(Value::Null) => true,
                _ => false,
            };
            if empty {
                m.shift_remove(f);
            }
        }
        let mut out = Map::with_capacity(m.len());
        for k in OBJECT_META_FIELDS {
            if let Some(v) = m.shift_remove(*k) {
                out.insert((*k).to_string(), v);
            }
        }
        out.extend(std::mem::take(m));
        *m = out;
    }
}

pub(crate) fn to_storage_bytes(obj: &Value) -> ApiResult<Bytes> {
    let mut v = obj.clone();
    v.remove_meta("resourceVersion");
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

impl Store {
    pub(crate) fn object_key(&self, res: &ResourceEntry, ns: Option<&str>, name: &str) -> String {
        res.key(ns, name)
    }

    /// Fails with 404 unless namespace `ns` exists, 403 when it is terminating.
    pub async fn check_namespace(&self, ns: &str, creating: bool) -> ApiResult<()> {
        let key = format!("/registry/namespaces/{ns}");
        let obj = match self.cache.get(&key) {
            Some(o) => Some(o),
            None => self
                .storage
                .get(&key)
                .await?
                .and_then(|kv| cache::decode_kv(&kv)),
        };
        match obj {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(o) if creating && o.meta_str("deletionTimestamp").is_some() => {
                Err(ApiError::forbidden(format!(
                    "unable to create new content in namespace {ns} because it is being terminated"
                )))
            }
            Some(_) => Ok(()),
        }
    }

    /// Reads one object from storage.
    pub async fn get(&self, res: &ResourceEntry, ns: Option<&str>, name: &str) -> ApiResult<Value> {
        let key = self.object_key(res, ns, name);
        match self.storage.get(&key).await? {
            Some(kv) => cache::decode_kv(&kv).ok_or_else(|| {
                ApiError::internal(format!("stored object {key} is not valid JSON"))
            }),
            None => Err(ApiError::not_found(&res.rt.group, &res.rt.plural, name)),
        }
    }

    /// Creates an object.
    pub async fn create(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> ApiResult<Value> {
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request must be a JSON object",
            ));
        }
        obj = with_type_meta(obj, &res.rt.api_version(), &res.rt.kind);
        if let Some(ns) = ns.filter(|_| res.rt.namespaced) {
            let body_ns = obj.namespace().to_string();
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            obj.set_meta("namespace", json!(ns));
            self.check_namespace(ns, true).await?;
        } else {
            obj.remove_meta("namespace");
        }
        let generate = obj
            .meta_str("generateName")
            .map(str::to_string)
            .filter(|_| obj.name().is_empty());
        for attempt in 0..8 {
            let mut o = obj.clone();
            if let Some(prefix) = &generate {
                o.set_meta("name", json!(format!("{prefix}{}", random_suffix(5))));
            }
            for f in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                o.remove_meta(f);
            }
            o.set_meta("uid", json!(uuid::Uuid::new_v4().to_string()));
            o.set_meta("creationTimestamp", json!(now_rfc3339()));
            o.remove_meta("generation");
            res.strategy.prepare_for_create(&mut o);
            if res.rt.group == "batch" && res.rt.kind == "Job" {
                crate::defaults::job_selector_on_create(&mut o);
            }
            crate::defaults::apply(&res.rt.group, &res.rt.kind, &mut o);
            let attrs = admission::CreateAttributes {
                namespace: ns.filter(|_| res.rt.namespaced),
                name: if generate.is_some() { "" } else { obj.name() },
                dry_run: opts.dry_run,
            };
            let _guard = self
                .admission
                .admit_create(self, res, &mut o, attrs)
                .await?;
            match opts.field_manager.as_deref() {
                _ if opts.managed_fields_done => {}
                Some(m) => apply::record_update(&apply::Scope::new(res, None), None, &mut o, m),
                None => {
                    o.remove_meta("managedFields");
                }
            }
            validate::validate(res, &o, None)?;
            normalize_metadata(&mut o);
            let name = o.name().to_string();
            if opts.dry_run {
                return Ok(o);
            }
            let key = self.object_key(res, ns, &name);
            match self.storage.create(&key, to_storage_bytes(&o)?).await {
                Ok(kv) => {
                    cache::set_resource_version(&mut o, kv.mod_revision);
                    return Ok(o);
                }
                Err(StorageError::AlreadyExists(_)) if generate.is_some() && attempt < 7 => {
                    continue
                }
                Err(StorageError::AlreadyExists(_)) => {
                    let mut e = ApiError::already_exists(&res.rt.group, &res.rt.plural, &name);
                    if generate.is_some() {
                        e.message.push_str(
                            ", the server was not able to generate a unique name for the object",
                        );
                    }
                    return Err(e);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("could not generate a unique name"))
    }
}
