//! A small work queue as client-go's: an item waits at most once, adds may be delayed, and
//! failing items come back with a growing delay.

use std::collections::{HashMap, HashSet, VecDeque};
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
    queued: HashSet<T>,
    failures: HashMap<T, u32>,
}

impl<T: Clone + Eq + Hash + Send + Sync + 'static> WorkQueue<T> {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                queued: HashSet::new(),
                failures: HashMap::new(),
            }),
            notify: Notify::new(),
        })
    }

    /// Adds `item` unless it is already waiting.
    pub fn add(&self, item: T) {
        let mut inner = self.inner.lock();
        if inner.queued.insert(item.clone()) {
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
}
