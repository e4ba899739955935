//! The scheduling queue (upstream's `PriorityQueue`): an active heap ordered by priority, then
//! arrival; unschedulable pods parked until the cluster changes (then retried after a per-pod
//! backoff of 1s doubling to 10s) or until they have waited a while.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::types::PodInfo;

/// How long an unschedulable pod waits at most before it is retried without any event.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(30);
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Pods waiting to be scheduled.
#[derive(Default)]
pub struct Pending {
    pods: HashMap<String, Arc<PodInfo>>,
    active: BinaryHeap<(i32, Reverse<u64>, String)>,
    in_active: HashSet<String>,
    /// Unschedulable pods and when they last failed.
    unschedulable: HashMap<String, Instant>,
    backoff: BinaryHeap<Reverse<(Instant, String)>>,
    attempts: HashMap<String, u32>,
    seq: u64,
}

impl Pending {
    /// An empty queue.
    pub fn new() -> Pending {
        Pending::default()
    }

    fn activate(&mut self, key: String) {
        let Some(pod) = self.pods.get(&key) else {
            return;
        };
        if self.in_active.insert(key.clone()) {
            self.seq += 1;
            self.active.push((pod.priority, Reverse(self.seq), key));
        }
    }

    /// Adds a new pending pod or updates one (an update of a parked pod retries it).
    pub fn upsert(&mut self, pod: Arc<PodInfo>) {
        let key = pod.key.clone();
        let new = self.pods.insert(key.clone(), pod).is_none();
        if new {
            self.activate(key);
        } else if self.unschedulable.remove(&key).is_some() {
            self.park_in_backoff(key);
        }
    }

    /// Forgets a pod (deleted or bound).
    pub fn remove(&mut self, key: &str) {
        self.pods.remove(key);
        self.unschedulable.remove(key);
        self.attempts.remove(key);
        self.in_active.remove(key);
    }

    /// Whether the pod is known.
    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }

    /// Takes the highest-priority active pod (it stays known until removed).
    pub fn pop(&mut self) -> Option<Arc<PodInfo>> {
        while let Some((_, _, key)) = self.active.pop() {
            if !self.in_active.remove(&key) {
                continue;
            }
            if let Some(p) = self.pods.get(&key) {
                return Some(p.clone());
            }
        }
        None
    }

    /// The pod could not be scheduled: park it.
    pub fn unschedulable(&mut self, pod: Arc<PodInfo>) {
        let key = pod.key.clone();
        *self.attempts.entry(key.clone()).or_insert(0) += 1;
        self.pods.insert(key.clone(), pod);
        self.unschedulable.insert(key, Instant::now());
    }

    /// The pod failed for a transient reason (binding): retry after its backoff.
    pub fn retry(&mut self, pod: Arc<PodInfo>) {
        let key = pod.key.clone();
        *self.attempts.entry(key.clone()).or_insert(0) += 1;
        self.pods.insert(key.clone(), pod);
        self.park_in_backoff(key);
    }

    fn park_in_backoff(&mut self, key: String) {
        let n = self.attempts.get(&key).copied().unwrap_or(0);
        let delay = if n == 0 {
            Duration::ZERO
        } else {
            INITIAL_BACKOFF
                .saturating_mul(1 << (n - 1).min(8))
                .min(MAX_BACKOFF)
        };
        self.backoff.push(Reverse((Instant::now() + delay, key)));
    }

    /// The cluster changed: every parked pod gets another chance (after its backoff).
    pub fn move_all(&mut self) {
        let keys: Vec<String> = self.unschedulable.drain().map(|(k, _)| k).collect();
        for k in keys {
            self.park_in_backoff(k);
        }
    }

    /// Moves pods whose backoff is over, and pods parked too long, to the active heap.
    pub fn tick(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.backoff.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, key))) = self.backoff.pop() else {
                break;
            };
            if self.pods.contains_key(&key) && !self.unschedulable.contains_key(&key) {
                self.activate(key);
            }
        }
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|(_, t)| now.duration_since(**t) >= MAX_UNSCHEDULABLE)
            .map(|(k, _)| k.clone())
            .collect();
        for k in stale {
            self.unschedulable.remove(&k);
            self.activate(k);
        }
    }

    /// Keys of all pending pods.
    pub fn keys(&self) -> Vec<String> {
        self.pods.keys().cloned().collect()
    }

    /// Number of pods waiting in the active heap.
    pub fn active_len(&self) -> usize {
        self.in_active.len()
    }
}
