//! Admission on create, in upstream's plugin order: LimitRanger, ServiceAccount, Priority and
//! DefaultTolerationSeconds mutate pods; Service IP/port allocation; LimitRanger validation;
//! ResourceQuota last. The quota controller keeps `ResourceQuota` status current.

use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

use super::errors::{ApiError, ApiResult};
use super::registry::ResourceEntry;
use super::store::Store;

pub mod limitrange;
pub mod pod;
pub mod quota;
mod service;
pub mod usage;

pub use service::{Cidr, NODE_PORT_RANGE};

/// Admission state: the Service allocation ranges and the locks that serialize allocation and
/// quota accounting until an admitted object is stored.
pub struct Admission {
    /// `--service-cidr`.
    pub service_cidr: Cidr,
    lock: Mutex<()>,
    quota_lock: Mutex<()>,
}

/// Locks held from admission until the object is stored.
#[derive(Default)]
pub struct AdmissionGuard<'a> {
    _allocation: Option<MutexGuard<'a, ()>>,
    _quota: Option<MutexGuard<'a, ()>>,
}

/// What admission needs to know about a create besides the object.
#[derive(Clone, Copy, Debug)]
pub struct CreateAttributes<'a> {
    /// The namespace of the request (namespaced resources only).
    pub namespace: Option<&'a str>,
    /// The name the client asked for ("" when the server generates it).
    pub name: &'a str,
    /// `dryRun=All`: no quota is charged.
    pub dry_run: bool,
}

/// `pods "x" is forbidden: <err>` (or `pods is forbidden: …` without a name), as upstream's
/// `admission.NewForbidden`.
pub fn forbidden(res: &ResourceEntry, name: &str, err: &str) -> ApiError {
    let qualified = if res.rt.group.is_empty() {
        res.rt.plural.clone()
    } else {
        format!("{}.{}", res.rt.plural, res.rt.group)
    };
    let message = if name.is_empty() {
        format!("{qualified} is forbidden: {err}")
    } else {
        format!("{qualified} \"{name}\" is forbidden: {err}")
    };
    let mut e = ApiError::forbidden(message);
    if !name.is_empty() {
        e.details.name = Some(name.to_string());
    }
    if !res.rt.group.is_empty() {
        e.details.group = Some(res.rt.group.clone());
    }
    e.details.kind = Some(res.rt.plural.clone());
    e
}

impl Admission {
    /// Admission with Services allocated from `service_cidr`.
    pub fn new(service_cidr: Cidr) -> Admission {
        Admission {
            service_cidr,
            lock: Mutex::new(()),
            quota_lock: Mutex::new(()),
        }
    }

    /// Applies admission to a new object. The returned guard is held until the object is stored,
    /// so that two creates cannot take the same address or both fit the last unit of a quota.
    pub async fn admit_create<'a>(
        &'a self,
        store: &Store,
        res: &ResourceEntry,
        obj: &mut Value,
        attrs: CreateAttributes<'_>,
    ) -> ApiResult<AdmissionGuard<'a>> {
        let mut guard = AdmissionGuard::default();
        let core = res.rt.group.is_empty();
        if core && res.rt.kind == "Pod" {
            if let Some(ns) = attrs.namespace {
                limitrange::default_pod(store, ns, obj);
                pod::service_account(store, res, ns, attrs.name, obj).await?;
                pod::priority(store, res, attrs.name, obj)?;
                pod::default_tolerations(obj);
                limitrange::validate_pod(store, res, ns, attrs.name, obj)?;
            }
        }
        if core && res.rt.kind == "Service" {
            guard._allocation = Some(self.lock.lock().await);
            service::allocate(self.service_cidr, store, obj)?;
        }
        if let Some(ns) = attrs.namespace {
            if quota::has_quotas(store, ns) && usage::tracked(res) {
                let g = self.quota_lock.lock().await;
                // Everything admitted before holds the lock until stored; the cache must have it.
                store.cache.sync().await.map_err(ApiError::from)?;
                quota::check_create(store, res, ns, attrs.name, obj)?;
                guard._quota = Some(g);
            }
        }
        Ok(guard)
    }
}
