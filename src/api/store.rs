//! The generic store: create, get, list, update, patch, delete and watch written once for every
//! resource, over [`Storage`](crate::storage::Storage) and the [`WatchCache`].

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::admission;
use super::cache::{self, Snapshot, WatchCache};
use super::errors::{ApiError, ApiResult};
use super::filter::Filter;
use super::object::{now_rfc3339, random_suffix, with_type_meta, ObjectMeta};
use super::registry::{Registry, ResourceEntry};
use super::validate;
use crate::storage::{Revision, SharedStorage, StorageError};

/// Options shared by writes.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
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
    /// The matching objects.
    pub items: Vec<Arc<Value>>,
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
    /// Internal writes that may change everything.
    All,
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

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}

fn parse_rv(rv: &str) -> ApiResult<Revision> {
    rv.parse::<Revision>()
        .ok()
        .filter(|r| *r >= 0)
        .ok_or_else(|| ApiError::bad_request(format!("invalid resource version: {rv:?}")))
}

/// Reorders metadata fields as the Go struct declares them (clients compare encoded objects).
fn normalize_metadata(obj: &mut Value) {
    const ORDER: &[&str] = &[
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
    if let Some(Value::Object(m)) = obj.get_mut("metadata") {
        let mut out = Map::with_capacity(m.len());
        for k in ORDER {
            if let Some(v) = m.shift_remove(*k) {
                out.insert((*k).to_string(), v);
            }
        }
        out.extend(std::mem::take(m));
        *m = out;
    }
}

fn to_storage_bytes(obj: &Value) -> ApiResult<Bytes> {
    let mut v = obj.clone();
    v.remove_meta("resourceVersion");
    serde_json::to_vec(&v)
        .map(Bytes::from)
        .map_err(ApiError::internal)
}

impl Store {
    fn object_key(&self, res: &ResourceEntry, ns: Option<&str>, name: &str) -> String {
        res.key(ns, name)
    }

    /// Fails with 404 unless namespace `ns` exists, 403 when it is terminating.
    pub async fn check_namespace(&self, ns: &str, creating: bool) -> ApiResult<()> {
        let key = format!("/registry/namespaces/{ns}");
        let obj = match self.cache.get(&key) {
            Some(o) => Some((*o).clone()),
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
                "managedFields",
            ] {
                o.remove_meta(f);
            }
            o.set_meta("uid", json!(uuid::Uuid::new_v4().to_string()));
            o.set_meta("creationTimestamp", json!(now_rfc3339()));
            o.remove_meta("generation");
            res.strategy.prepare_for_create(&mut o);
            let _guard = self.admission.admit_create(self, res, &mut o).await?;
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

    /// Lists objects, from the watch cache unless an exact revision or a continue token asks for storage.
    pub async fn list(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> ApiResult<ListResult> {
        let filter = Filter::parse(
            opts.label_selector.as_deref(),
            opts.field_selector.as_deref(),
            &res.rt.group,
            &res.rt.kind,
        )?;
        let prefix = res.collection_prefix(ns);
        let rv = opts.resource_version.as_deref().filter(|s| !s.is_empty());
        let exact = opts.resource_version_match.as_deref() == Some("Exact");
        match opts.resource_version_match.as_deref() {
            None | Some("") | Some("Exact") | Some("NotOlderThan") => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                )))
            }
        }
        if opts.resource_version_match.is_some() && rv.is_none() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if let Some(token) = opts.continue_token.as_deref().filter(|s| !s.is_empty()) {
            if rv.is_some_and(|r| r != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let t = decode_continue(token)?;
            let start = format!("{prefix}{}", t.start);
            return self
                .list_from_storage(res, &prefix, Some(&start), t.rv, opts.limit, &filter)
                .await;
        }
        if exact {
            let r = parse_rv(rv.unwrap_or("0"))?;
            if r == 0 {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            return self
                .list_from_storage(res, &prefix, None, r, opts.limit, &filter)
                .await;
        }
        match rv {
            None => {
                self.cache.sync().await.map_err(ApiError::internal)?;
            }
            Some("0") => {}
            Some(r) => {
                let r = parse_rv(r)?;
                if !self.cache.wait_for(r, Duration::from_secs(3)).await {
                    return Err(ApiError::timeout(format!(
                        "Too large resource version: {r}, current: {}",
                        self.cache.revision()
                    )));
                }
            }
        }
        let snap = self.cache.snapshot(&prefix, None);
        Ok(page_from_snapshot(
            snap,
            &prefix,
            opts.limit,
            &filter,
            rv == Some("0"),
        ))
    }

    async fn list_from_storage(
        &self,
        res: &ResourceEntry,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
        filter: &Filter,
    ) -> ApiResult<ListResult> {
        let _ = res;
        let mut items = Vec::new();
        let mut next = start.map(str::to_string);
        let chunk = if limit > 0 { limit.max(100) } else { 0 };
        loop {
            let page = match self.storage.range(prefix, next.as_deref(), revision, chunk).await {
                Ok(p) => p,
                Err(StorageError::Compacted { .. }) if start.is_some() => {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let mut last_key = None;
            for kv in &page.kvs {
                last_key = Some(kv.key.clone());
                if let Some(v) = cache::decode_kv(kv) {
                    if filter.matches(&v) {
                        items.push(Arc::new(v));
                        if limit > 0 && items.len() as i64 == limit {
                            let more = page.more
                                || kv.key
                                    != page.kvs.last().map(|k| k.key.clone()).unwrap_or_default();
                            let token = more.then(|| {
                                encode_continue(revision, &format!("{}\0", &kv.key[prefix.len()..]))
                            });
                            return Ok(ListResult {
                                items,
                                revision,
                                continue_token: token,
                                remaining: None,
                            });
                        }
                    }
                }
            }
            match (page.more, last_key) {
                (true, Some(k)) => next = Some(format!("{k}\0")),
                _ => {
                    return Ok(ListResult {
                        items,
                        revision,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }

    /// Reads the current object, lets `update` produce the new one, and writes it guarded by the
    /// read revision; storage conflicts are retried unless the caller pinned a resourceVersion.
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
            validate::validate(res, &new, Some(&old))?;
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
                    Err(StorageError::Conflict { .. }) if pinned.is_none() => continue,
                    Err(StorageError::Conflict { .. }) => {
                        return Err(ApiError::conflict(
                            &res.rt.group,
                            &res.rt.plural,
                            name,
                            ApiError::MODIFIED,
                        ))
                    }
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
                Err(StorageError::Conflict { .. }) if pinned.is_none() => continue,
                Err(StorageError::Conflict { .. }) => {
                    return Err(ApiError::conflict(
                        &res.rt.group,
                        &res.rt.plural,
                        name,
                        ApiError::MODIFIED,
                    ))
                }
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
            Part::All => {}
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

fn has_spec_finalizers(obj: &Value) -> bool {
    obj.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

fn page_from_snapshot(
    snap: Snapshot,
    prefix: &str,
    limit: i64,
    filter: &Filter,
    _any: bool,
) -> ListResult {
    let revision = snap.revision;
    let mut items = Vec::new();
    let total = snap.items.len();
    for (i, (key, obj)) in snap.items.into_iter().enumerate() {
        if !filter.matches(&obj) {
            continue;
        }
        items.push(obj);
        if limit > 0 && items.len() as i64 == limit && i + 1 < total {
            let token = encode_continue(revision, &format!("{}\0", &key[prefix.len()..]));
            let remaining = (total - i - 1) as i64;
            return ListResult {
                items,
                revision,
                continue_token: Some(token),
                remaining: filter.is_everything().then_some(remaining),
            };
        }
    }
    ListResult {
        items,
        revision,
        continue_token: None,
        remaining: None,
    }
}
