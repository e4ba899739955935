//! Event handlers on the shared informers, the way upstream controllers register handlers on
//! client-go informers, and key helpers.

use std::fmt::Debug;

use kube::Resource;
use serde::de::DeserializeOwned;

use crate::controllers::common::informer::{Informer, SharedInformers};

/// The shared informer of `K` with `on_event(object, deleted)` run for every observed change
/// (and for every cached object after a full list).
pub fn start<K, F>(informers: &SharedInformers, on_event: F) -> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    F: Fn(&K, bool) + Send + 'static,
{
    let informer = informers.get::<K>();
    informer.handle(on_event);
    informer
}

/// Waits until `informer` has completed its initial list.
pub async fn wait_synced<K>(informer: &Informer<K>)
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    if !informer.synced().wait().await {
        tracing::warn!("informer ended before its first list");
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
