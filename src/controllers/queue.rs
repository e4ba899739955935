//! A small work queue as client-go's: an item waits at most once, adds may be delayed, failing
//! items come back with a growing delay, and with several workers an item is never processed by
//! two of them at once (an add during processing is held until the item is done).

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// A de-duplicating FIFO of keys shared by producers and workers.
pub struct WorkQueue<T> {
    inner: Mutex<Inner<T>>,
    notify: Notify,
}

struct Inner<T> {
    items: VecDeque<T>,
    /// Items waiting (in `items`, or held until their processing is done).
    queued: HashSet<T>,
    /// Items a worker of [`run_workers`] is processing.
    processing: HashSet<T>,
    failures: HashMap<T, u32>,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                failures: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    /// Adds `item` unless it is already waiting.
    pub fn add(&self, item: T) {
        let mut inner = self.inner.lock();
        if inner.queued.insert(item.clone()) && !inner.processing.contains(&item) {
            inner.items.push_back(item);
            drop(inner);
            self.notify.notify_one();
        }
    }

    /// Adds `item` after `delay`.
    pub fn add_after(self: &Arc<Self>, item: T, delay: Duration) {
        let q = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(item);
        });
    }

    /// Adds `item` again after a delay that doubles with each consecutive failure (50ms … 10s).
    pub fn add_rate_limited(self: &Arc<Self>, item: T) {
        let n = {
            let mut inner = self.inner.lock();
            let n = inner.failures.entry(item.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let ms = 50u64.saturating_mul(1u64 << n.min(8)).min(10_000);
        self.add_after(item, Duration::from_millis(ms));
    }

    /// Forgets the failure count of `item` (after it was processed successfully).
    pub fn forget(&self, item: &T) {
        self.inner.lock().failures.remove(item);
    }

    /// Waits for the next item.
    pub async fn next(&self) -> T {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.inner.lock();
                if let Some(item) = inner.items.pop_front() {
                    inner.queued.remove(&item);
                    if !inner.items.is_empty() {
                        self.notify.notify_one();
                    }
                    return item;
                }
            }
            notified.await;
        }
    }
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// Waits for the next item and marks it as being processed until [`WorkQueue::done`].
    async fn next_exclusive(&self) -> T {
        loop {
            let notified = self.notify.notified();
            {
                let mut inner = self.inner.lock();
                if let Some(item) = inner.items.pop_front() {
                    inner.queued.remove(&item);
                    inner.processing.insert(item.clone());
                    if !inner.items.is_empty() {
                        self.notify.notify_one();
                    }
                    return item;
                }
            }
            notified.await;
        }
    }

    /// Ends the processing of `item`; if it was added meanwhile, it waits again.
    fn done(&self, item: &T) {
        let mut inner = self.inner.lock();
        inner.processing.remove(item);
        if inner.queued.contains(item) {
            inner.items.push_back(item.clone());
            drop(inner);
            self.notify.notify_one();
        }
    }
}

/// Runs `workers` workers (upstream's `--concurrent-*-syncs`) handing items of `queue` to `sync`
/// until the process ends. `Ok(Some(d))` looks at the item again after `d`; an error retries it
/// with back-off (logged at debug level with `what`).
pub async fn run_workers<T, F, Fut, E>(
    queue: Arc<WorkQueue<T>>,
    workers: usize,
    what: &'static str,
    sync: F,
) where
    T: Clone + Eq + Hash + Debug + Send + Sync + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Duration>, E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let (queue, sync) = (queue.clone(), sync.clone());
            tokio::spawn(async move {
                loop {
                    let item = queue.next_exclusive().await;
                    let result = sync(item.clone()).await;
                    match result {
                        Ok(requeue) => {
                            queue.forget(&item);
                            if let Some(after) = requeue {
                                queue.add_after(item.clone(), after);
                            }
                        }
                        Err(e) => {
                            tracing::debug!(controller = what, ?item, error = %e, "sync failed; will retry");
                            queue.add_rate_limited(item.clone());
                        }
                    }
                    queue.done(&item);
                }
            })
        })
        .collect();
    futures::future::join_all(handles).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedups_and_orders() {
        let q = WorkQueue::new();
        q.add(1);
        q.add(2);
        q.add(1);
        assert_eq!(q.next().await, 1);
        assert_eq!(q.next().await, 2);
        q.add_after(3, Duration::from_millis(10));
        assert_eq!(q.next().await, 3);
    }

    #[tokio::test]
    async fn an_item_is_held_while_processed() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("b");
        assert_eq!(q.next_exclusive().await, "a");
        // Added again while being processed: not handed out until done.
        q.add("a");
        assert_eq!(q.next_exclusive().await, "b");
        let waiting = tokio::time::timeout(Duration::from_millis(20), q.next_exclusive()).await;
        assert!(waiting.is_err(), "a was handed out twice");
        q.done(&"a");
        assert_eq!(q.next_exclusive().await, "a");
    }
}
