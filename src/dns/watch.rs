//! Feeds the [`Index`] from watches of Services, EndpointSlices and Pods (`kube` runtime
//! watchers: a list, then watch events; after a re-list, objects not listed again are dropped).

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Client, Resource, ResourceExt};
use parking_lot::RwLock;

use super::index::{pod_data, service_data, slice_data, Index};

type Shared = Arc<RwLock<Index>>;

/// Spawns the three watches feeding `index`.
pub fn spawn(client: Client, index: Shared) {
    tokio::spawn(run::<Service>(client.clone(), index.clone(), apply_service));
    tokio::spawn(run::<EndpointSlice>(
        client.clone(),
        index.clone(),
        apply_slice,
    ));
    tokio::spawn(run::<Pod>(client, index, apply_pod));
}

/// What an event does to the index: `Some(obj)` adds/replaces, `None` with the key removes.
type Apply<K> = fn(&mut Index, &str, &str, Option<&K>);

fn apply_service(ix: &mut Index, ns: &str, name: &str, obj: Option<&Service>) {
    match obj.and_then(service_data) {
        Some(d) => ix.upsert_service(ns, name, d),
        None => ix.remove_service(ns, name),
    }
}

fn apply_slice(ix: &mut Index, ns: &str, name: &str, obj: Option<&EndpointSlice>) {
    match obj.and_then(slice_data) {
        Some(d) => ix.upsert_slice(ns, name, d),
        None => ix.remove_slice(ns, name),
    }
}

fn apply_pod(ix: &mut Index, ns: &str, name: &str, obj: Option<&Pod>) {
    match obj.map(pod_data) {
        Some(d) if !d.ips.is_empty() => ix.upsert_pod(ns, name, d),
        _ => ix.remove_pod(ns, name),
    }
}

/// The keys of kind `K` currently in the index.
fn keys_of<K: Resource<DynamicType = ()>>(ix: &Index) -> Vec<(String, String)> {
    match K::kind(&()).as_ref() {
        "Service" => ix.service_keys(),
        "EndpointSlice" => ix.slice_keys(),
        _ => ix.pod_keys(),
    }
}

async fn run<K>(client: Client, index: Shared, apply: Apply<K>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let api: Api<K> = Api::all(client);
    let mut stream = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listed: HashSet<(String, String)> = HashSet::new();
    while let Some(event) = stream.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(kind = %K::kind(&()), error = %e, "DNS watch error");
                continue;
            }
        };
        let key = |o: &K| (o.namespace().unwrap_or_default(), o.name_any());
        match event {
            Event::Init => listed.clear(),
            Event::InitApply(o) => {
                let (ns, name) = key(&o);
                apply(&mut index.write(), &ns, &name, Some(&o));
                listed.insert((ns, name));
            }
            Event::InitDone => {
                let mut ix = index.write();
                for (ns, name) in keys_of::<K>(&ix) {
                    if !listed.contains(&(ns.clone(), name.clone())) {
                        apply(&mut ix, &ns, &name, None);
                    }
                }
                listed.clear();
            }
            Event::Apply(o) => {
                let (ns, name) = key(&o);
                apply(&mut index.write(), &ns, &name, Some(&o));
            }
            Event::Delete(o) => {
                let (ns, name) = key(&o);
                apply(&mut index.write(), &ns, &name, None);
            }
        }
    }
}
