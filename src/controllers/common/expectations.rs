//! Controller expectations (upstream's `UIDTrackingControllerExpectations`, by name): after a
//! controller creates or deletes pods it must not act on the same owner again until its cache has
//! seen those changes, or it would create or delete twice. Entries expire after [`TTL`] as
//! upstream's (a watch event can be lost).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// How long an unmet expectation blocks its owner (upstream's `ExpectationsTimeout`, 5 minutes).
pub const TTL: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Pending {
    adds: HashSet<String>,
    dels: HashSet<String>,
    since: Option<Instant>,
}

/// Outstanding creations and deletions per owner key.
#[derive(Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Pending>>,
}

impl Expectations {
    /// No expectations.
    pub fn new() -> Expectations {
        Expectations::default()
    }

    /// Records that `names` were created for `key` and must show up in the cache.
    pub fn expect_creations(&self, key: &str, names: impl IntoIterator<Item = String>) {
        let mut inner = self.inner.lock();
        let p = inner.entry(key.to_string()).or_default();
        p.adds.extend(names);
        p.since = Some(Instant::now());
    }

    /// Records that `names` were deleted for `key` and must disappear from the cache (or be
    /// marked as terminating).
    pub fn expect_deletions(&self, key: &str, names: impl IntoIterator<Item = String>) {
        let mut inner = self.inner.lock();
        let p = inner.entry(key.to_string()).or_default();
        p.dels.extend(names);
        p.since = Some(Instant::now());
    }

    /// Whether the cache caught up with everything expected for `key`; `live(name)` tells whether
    /// a pod is in the cache and not terminating. Met or expired expectations are dropped.
    pub fn satisfied(&self, key: &str, live: impl Fn(&str) -> bool) -> bool {
        let mut inner = self.inner.lock();
        let Some(p) = inner.get_mut(key) else {
            return true;
        };
        p.adds.retain(|n| !live(n));
        p.dels.retain(|n| live(n));
        let expired = p.since.is_some_and(|s| s.elapsed() > TTL);
        if (p.adds.is_empty() && p.dels.is_empty()) || expired {
            inner.remove(key);
            return true;
        }
        false
    }

    /// Forgets `key` (its owner is gone).
    pub fn delete(&self, key: &str) {
        self.inner.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_cache() {
        let e = Expectations::new();
        assert!(e.satisfied("a", |_| false));
        e.expect_creations("a", ["p1".to_string()]);
        assert!(!e.satisfied("a", |_| false));
        assert!(e.satisfied("a", |n| n == "p1"));
        e.expect_deletions("a", ["p1".to_string()]);
        assert!(!e.satisfied("a", |n| n == "p1"));
        assert!(e.satisfied("a", |_| false));
    }
}
