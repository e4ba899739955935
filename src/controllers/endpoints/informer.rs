//! A small shared-informer helper: a `kube::runtime` reflector (a local cache of every object of
//! one kind) whose events are also handed to a callback, the way upstream controllers register
//! event handlers on client-go informers.

use std::fmt::Debug;

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

/// Starts watching `api` into a local cache; `on_event(object, deleted)` runs for every
/// observed change (including the initial list). Returns the cache.
pub fn start<K, F>(api: Api<K>, on_event: F) -> Store<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
    F: Fn(&K, bool) + Send + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(api, watcher::Config::default()).default_backoff(),
    );
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Apply(o)) | Ok(watcher::Event::InitApply(o)) => {
                    on_event(&o, false)
                }
                Ok(watcher::Event::Delete(o)) => on_event(&o, true),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "informer: watch error"),
            }
        }
    });
    reader
}

/// Waits until `store` has completed its initial list.
pub async fn wait_synced<K>(store: &Store<K>)
where
    K: Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    if store.wait_until_ready().await.is_err() {
        tracing::warn!("informer: cache writer dropped before sync");
    }
}

/// `namespace/name` of an object.
pub fn key_of<K: Resource>(obj: &K) -> String {
    format!(
        "{}/{}",
        obj.meta().namespace.as_deref().unwrap_or_default(),
        obj.meta().name.as_deref().unwrap_or_default()
    )
}

/// Splits a `namespace/name` key.
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}
