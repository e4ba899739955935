//! A shared informer: one watch per resource type feeding a `kube::runtime` reflector store, with
//! every change fanned out to any number of controllers (client-go's `SharedIndexInformer`).

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::{broadcast, watch};

/// One change seen by the informer.
#[derive(Debug)]
pub enum Change<K> {
    /// The object was added or modified (it is in the store).
    Applied(Arc<K>),
    /// The object was deleted (it is no longer in the store).
    Deleted(Arc<K>),
    /// The store was (re)filled from a full list, or a subscriber fell behind: handlers should
    /// look at every object again.
    Resync,
}

impl<K> Clone for Change<K> {
    fn clone(&self) -> Self {
        match self {
            Change::Applied(o) => Change::Applied(o.clone()),
            Change::Deleted(o) => Change::Deleted(o.clone()),
            Change::Resync => Change::Resync,
        }
    }
}

/// A running watch with its store and change feed.
#[derive(Clone)]
pub struct Informer<K: Resource + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    store: Store<K>,
    tx: broadcast::Sender<Change<K>>,
    synced: watch::Receiver<bool>,
}

/// Waits for an informer's first full list. (`Store::wait_until_ready` wakes only one of
/// several concurrent waiters, so shared informers signal readiness themselves.)
#[derive(Clone)]
pub struct Synced(watch::Receiver<bool>);

impl Synced {
    /// Returns once the store holds a full list; `false` if the informer ended first.
    pub async fn wait(mut self) -> bool {
        self.0.wait_for(|v| *v).await.is_ok()
    }
}

impl<K> Informer<K>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Default,
{
    /// Starts watching `api` in a task.
    pub fn spawn(api: Api<K>) -> Informer<K> {
        let (store, writer) = reflector::store();
        let (tx, _) = broadcast::channel(4096);
        let feed = tx.clone();
        let (synced_tx, synced) = watch::channel(false);
        tokio::spawn(async move {
            let stream = reflector::reflector(
                writer,
                watcher::watcher(api, watcher::Config::default()).default_backoff(),
            );
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                let change = match event {
                    Ok(Event::Apply(o)) | Ok(Event::InitApply(o)) => Change::Applied(Arc::new(o)),
                    Ok(Event::Delete(o)) => Change::Deleted(Arc::new(o)),
                    Ok(Event::InitDone) => {
                        synced_tx.send_replace(true);
                        Change::Resync
                    }
                    Ok(Event::Init) => continue,
                    Err(e) => {
                        tracing::debug!(error = %e, "informer: watch error");
                        continue;
                    }
                };
                // No subscribers is fine.
                let _ = feed.send(change);
            }
        });
        Informer { store, tx, synced }
    }

    /// A handle to wait for the first full list.
    pub fn synced(&self) -> Synced {
        Synced(self.synced.clone())
    }

    /// The store (empty until the first list completed; see [`Informer::synced`]).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// A feed of changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Change<K>> {
        self.tx.subscribe()
    }
}

/// Receives the next change; a lagging receiver gets [`Change::Resync`]. `None` when the
/// informer ended.
pub async fn next_change<K>(rx: &mut broadcast::Receiver<Change<K>>) -> Option<Change<K>>
where
    K: Clone,
{
    match rx.recv().await {
        Ok(c) => Some(c),
        Err(broadcast::error::RecvError::Lagged(_)) => Some(Change::Resync),
        Err(broadcast::error::RecvError::Closed) => None,
    }
}
