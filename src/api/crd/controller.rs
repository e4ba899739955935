//! The CRD controller: keeps the registry's custom entries, the OpenAPI documents and every
//! CRD's status (accepted names, `NamesAccepted`/`Established` conditions, stored versions)
//! current, driven by the watch cache; finalizes deleted CRDs by deleting their objects.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{entries_for, storage_version, CLEANUP_FINALIZER, CRD_PREFIX, GROUP};
use crate::api::errors::ApiResult;
use crate::api::handler::App;
use crate::api::object::{now_rfc3339, ObjectMeta};
use crate::api::registry::ResourceEntry;
use crate::api::store::{Part, WriteOptions};
use crate::openapi::CustomSchema;

/// Serves the CRDs already stored, then follows CRD changes in the background.
pub async fn start(app: Arc<App>) {
    let (_, mut rx) = app.store.cache.list_and_watch(CRD_PREFIX);
    reconcile(&app).await;
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(ev) if !ev.key.starts_with(CRD_PREFIX) => continue,
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            // One pass covers every change queued so far.
            while let Ok(_) | Err(TryRecvError::Lagged(_)) = rx.try_recv() {}
            reconcile(&app).await;
        }
    });
}

/// The names a CRD asks for, as (what, value) pairs checked for conflicts in its group.
fn requested_names(crd: &Value) -> Vec<(&'static str, String)> {
    let n = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let get = |k: &str| n.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out = vec![
        ("plural", get("plural")),
        ("singular", get("singular")),
        ("kind", get("kind")),
        ("listKind", get("listKind")),
    ];
    for s in n
        .get("shortNames")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        out.push(("shortName", s.to_string()));
    }
    out
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, old: &Value) -> Value {
    // Keep the transition time while the status is unchanged.
    let prev = old
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|a| {
            a.iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
        });
    let time = match prev {
        Some(p) if p.get("status").and_then(Value::as_str) == Some(status) => p
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(now_rfc3339())),
        _ => json!(now_rfc3339()),
    };
    json!({"type": type_, "status": status, "lastTransitionTime": time, "reason": reason, "message": message})
}

/// The status a CRD should have, given whether its names conflict.
fn desired_status(crd: &Value, conflict: Option<String>) -> Value {
    let mut status = crd.get("status").cloned().unwrap_or(json!({}));
    if !status.is_object() {
        status = json!({});
    }
    let mut conditions = Vec::new();
    match &conflict {
        None => {
            let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
            status["acceptedNames"] = names;
            conditions.push(condition(
                "NamesAccepted",
                "True",
                "NoConflicts",
                "no conflicts found",
                crd,
            ));
            conditions.push(condition(
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                crd,
            ));
        }
        Some(msg) => {
            if status.get("acceptedNames").is_none() {
                status["acceptedNames"] = json!({"plural": "", "kind": ""});
            }
            conditions.push(condition(
                "NamesAccepted",
                "False",
                "NameConflict",
                msg,
                crd,
            ));
            conditions.push(condition(
                "Established",
                "False",
                "NotAccepted",
                "not all names are accepted",
                crd,
            ));
        }
    }
    if crd.meta_str("deletionTimestamp").is_some() {
        conditions.push(condition(
            "Terminating",
            "True",
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
            crd,
        ));
    }
    status["conditions"] = Value::Array(conditions);
    let storage = storage_version(crd);
    let mut stored: Vec<Value> = status
        .get("storedVersions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !storage.is_empty() && !stored.contains(&json!(storage)) {
        stored.push(json!(storage));
    }
    status["storedVersions"] = Value::Array(stored);
    status
}

/// Brings the registry, OpenAPI and CRD statuses in line with the stored CRDs.
pub async fn reconcile(app: &Arc<App>) {
    let snap = app.store.cache.snapshot(CRD_PREFIX, None);
    let mut crds: Vec<Value> = snap.values();
    crds.sort_by(|a, b| {
        let key = |o: &Value| {
            (
                o.meta_str("creationTimestamp").unwrap_or("").to_string(),
                o.name().to_string(),
            )
        };
        key(a).cmp(&key(b))
    });
    // Names taken per group, by the earliest CRD asking for them.
    let mut taken: HashMap<(String, String), String> = HashMap::new();
    let mut entries: Vec<Arc<ResourceEntry>> = Vec::new();
    let mut schemas = Vec::new();
    let mut statuses = Vec::new();
    for crd in &crds {
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let names = requested_names(crd);
        let conflict =
            names
                .iter()
                .find_map(|(_, n)| match taken.get(&(group.clone(), n.clone())) {
                    Some(owner) if owner != crd.name() => Some(format!("{n:?} is already in use")),
                    _ => None,
                });
        if conflict.is_none() {
            for (_, n) in &names {
                taken.insert((group.clone(), n.clone()), crd.name().to_string());
            }
            for e in entries_for(crd) {
                let schema = e
                    .strategy
                    .custom
                    .as_ref()
                    .and_then(|c| c.schema.clone())
                    .unwrap_or_else(
                        || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                    );
                schemas.push(CustomSchema {
                    rt: e.rt.clone(),
                    schema,
                });
                entries.push(Arc::new(e));
            }
        }
        statuses.push((crd.clone(), desired_status(crd, conflict)));
    }
    app.store.registry.set_custom(entries);
    app.openapi.set_custom(schemas);
    for (crd, status) in statuses {
        if crd.get("status") != Some(&status) {
            if let Err(e) = write_status(app, crd.name(), status).await {
                tracing::warn!(crd = crd.name(), error = %e, "updating CRD status failed");
            }
        }
        if crd.meta_str("deletionTimestamp").is_some()
            && crd.finalizers().iter().any(|f| f == CLEANUP_FINALIZER)
        {
            if let Err(e) = finalize(app, &crd).await {
                tracing::warn!(crd = crd.name(), error = %e, "deleting custom resources failed");
            }
        }
    }
}

fn crd_entry(app: &App) -> Option<Arc<ResourceEntry>> {
    app.store
        .registry
        .find(GROUP, "v1", "customresourcedefinitions")
}

async fn write_status(app: &App, name: &str, status: Value) -> ApiResult<()> {
    let Some(res) = crd_entry(app) else {
        return Ok(());
    };
    app.store
        .guaranteed_update(
            &res,
            None,
            name,
            Part::All,
            &WriteOptions::default(),
            |old| {
                let mut n = old.clone();
                n["status"] = status.clone();
                Ok(n)
            },
        )
        .await
        .map(|_| ())
}

/// Deletes every object of a terminating CRD, then drops the cleanup finalizer.
async fn finalize(app: &App, crd: &Value) -> ApiResult<()> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !group.is_empty() && !plural.is_empty() {
        let prefix = format!("/registry/{group}/{plural}/");
        let snap = app.store.cache.snapshot(&prefix, None);
        for (key, _) in snap.items {
            match app.store.storage.delete(&key, None).await {
                Ok(_) | Err(crate::storage::StorageError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let Some(res) = crd_entry(app) else {
        return Ok(());
    };
    app.store
        .guaranteed_update(
            &res,
            None,
            crd.name(),
            Part::All,
            &WriteOptions::default(),
            |old| {
                let mut n = old.clone();
                let kept: Vec<Value> = old
                    .finalizers()
                    .into_iter()
                    .filter(|f| f != CLEANUP_FINALIZER)
                    .map(|f| json!(f))
                    .collect();
                if kept.is_empty() {
                    n.remove_meta("finalizers");
                } else {
                    n.set_meta("finalizers", Value::Array(kept));
                }
                Ok(n)
            },
        )
        .await
        .map(|_| ())
}

/// Before a CRD is deleted: adds the cleanup finalizer so its objects go first (as upstream's
/// CRD storage does on the first delete request).
pub async fn before_delete(app: &App, name: &str) -> ApiResult<()> {
    let Some(res) = crd_entry(app) else {
        return Ok(());
    };
    let current = app.store.get(&res, None, name).await?;
    if current.meta_str("deletionTimestamp").is_some()
        || current.finalizers().iter().any(|f| f == CLEANUP_FINALIZER)
    {
        return Ok(());
    }
    app.store
        .guaranteed_update(
            &res,
            None,
            name,
            Part::All,
            &WriteOptions::default(),
            |old| {
                let mut n = old.clone();
                let mut f: Vec<Value> = old.finalizers().into_iter().map(|f| json!(f)).collect();
                f.push(json!(CLEANUP_FINALIZER));
                n.set_meta("finalizers", Value::Array(f));
                Ok(n)
            },
        )
        .await
        .map(|_| ())
}
