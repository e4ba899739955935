//! Namespace deletion: once a namespace is Terminating, delete everything in it, then drop the
//! `kubernetes` finalizer so the namespace itself goes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::handler::App;
use super::object::ObjectMeta;
use super::store::{DeleteOptions, ListOptions, Part, WriteOptions};

/// Starts the cleanup of a terminating namespace in the background.
pub fn spawn_cleanup(app: Arc<App>, namespace: String) {
    tokio::spawn(async move {
        for attempt in 0u32..600 {
            match cleanup_once(&app, &namespace).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::warn!(%namespace, error = %e, "namespace cleanup failed"),
            }
            tokio::time::sleep(Duration::from_millis(if attempt < 10 { 100 } else { 1000 })).await;
        }
    });
}

/// Resumes cleanup of namespaces left Terminating by an earlier run.
pub fn resume_all(app: Arc<App>) {
    let snap = app.store.cache.snapshot("/registry/namespaces/", None);
    for (_, ns) in snap.items {
        if ns.meta_str("deletionTimestamp").is_some() {
            spawn_cleanup(app.clone(), ns.name().to_string());
        }
    }
}

/// One pass: deletes the namespace's content; when nothing is left, finalizes the namespace.
/// Returns true when the namespace is gone.
async fn cleanup_once(app: &App, namespace: &str) -> Result<bool, super::errors::ApiError> {
    let store = &app.store;
    let Some(ns_res) = store.registry.find("", "v1", "namespaces") else {
        return Ok(true);
    };
    let mut remaining = 0usize;
    for res in store.registry.namespaced() {
        let page = store
            .list(&res, Some(namespace), &ListOptions::default())
            .await?;
        for item in page.items {
            remaining += 1;
            if item.meta_str("deletionTimestamp").is_none() {
                let opts = DeleteOptions {
                    grace_period: Some(0),
                    ..Default::default()
                };
                if let Err(e) = store
                    .delete(&res, Some(namespace), item.name(), &opts)
                    .await
                {
                    if e.code != 404 {
                        return Err(e);
                    }
                }
            }
        }
    }
    if remaining > 0 {
        return Ok(false);
    }
    let result = store
        .guaranteed_update(
            &ns_res,
            None,
            namespace,
            Part::All,
            &WriteOptions::default(),
            |old| {
                let mut n = old.clone();
                if let Some(f) = n
                    .pointer_mut("/spec/finalizers")
                    .and_then(Value::as_array_mut)
                {
                    f.retain(|v| v.as_str() != Some("kubernetes"));
                }
                if n.pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.is_empty())
                {
                    n["spec"] = json!({});
                }
                Ok(n)
            },
        )
        .await;
    match result {
        Ok(_) => Ok(store.get(&ns_res, None, namespace).await.is_err()),
        Err(e) if e.code == 404 => Ok(true),
        Err(e) => Err(e),
    }
}
