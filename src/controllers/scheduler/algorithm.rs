//! One scheduling decision over the cache, without the API: filter (stopping after upstream's
//! adaptive number of feasible nodes, starting where the last cycle stopped), score, select;
//! and DefaultPreemption's victim search when no node fits.

use std::sync::Arc;

use rand::Rng;

use super::cache::{Cache, NodeInfo};
use super::filters::{self, Failure};
use super::scores;
use super::types::PodInfo;

/// Why a pod could not be scheduled.
#[derive(Debug)]
pub struct FitError {
    /// Nodes considered.
    pub num_nodes: usize,
    /// The failure of each node.
    pub failures: Vec<(usize, Failure)>,
}

impl FitError {
    /// Upstream's message, with the preemption message appended when given.
    pub fn message(&self, post: Option<&str>) -> String {
        if self.num_nodes == 0 {
            return "no nodes available to schedule pods".to_string();
        }
        let f: Vec<Failure> = self.failures.iter().map(|(_, f)| f.clone()).collect();
        filters::fit_error(self.num_nodes, &f, post)
    }
}

/// Scheduler state kept between cycles.
#[derive(Default)]
pub struct Scheduler {
    /// Nodes and assigned pods.
    pub cache: Cache,
    next_start: usize,
}

/// Upstream's `numFeasibleNodesToFind` with the adaptive percentage.
pub fn num_to_find(all: usize) -> usize {
    if all < 100 {
        return all;
    }
    let pct = (50 - all as i64 / 125).max(5) as usize;
    (all * pct / 100).max(100)
}

impl Scheduler {
    /// An empty scheduler.
    pub fn new() -> Scheduler {
        Scheduler::default()
    }

    /// Picks a node slot for `pod`, or explains why none fits.
    pub fn schedule(&mut self, pod: &PodInfo) -> Result<usize, FitError> {
        let live = &self.cache.live;
        let all = live.len();
        if all == 0 {
            return Err(FitError {
                num_nodes: 0,
                failures: Vec::new(),
            });
        }
        let st = filters::prefilter(pod, &self.cache);
        // A nominated node (after preemption) is tried first, as upstream.
        if !pod.nominated.is_empty() {
            if let Some(i) = self.cache.node_index(&pod.nominated) {
                if filters::filter(pod, &self.cache.nodes[i], &st).is_ok() {
                    return Ok(i);
                }
            }
        }
        let want = num_to_find(all);
        let mut feasible = Vec::with_capacity(want.min(all));
        let mut failures = Vec::new();
        let mut seen = 0;
        while seen < all && feasible.len() < want {
            let i = live[(self.next_start + seen) % all];
            seen += 1;
            match filters::filter(pod, &self.cache.nodes[i], &st) {
                Ok(()) => feasible.push(i),
                Err(f) => failures.push((i, f)),
            }
        }
        self.next_start = (self.next_start + seen) % all;
        if feasible.is_empty() {
            return Err(FitError {
                num_nodes: all,
                failures,
            });
        }
        if feasible.len() == 1 {
            return Ok(feasible[0]);
        }
        let scores = scores::score(pod, &self.cache, &feasible);
        // Highest score; ties broken uniformly at random (reservoir sampling, as upstream).
        let mut rng = rand::rng();
        let mut best = 0;
        let mut ties = 0u32;
        for j in 0..feasible.len() {
            if scores[j] > scores[best] {
                best = j;
                ties = 1;
            } else if scores[j] == scores[best] {
                ties += 1;
                if rng.random_range(0..ties) == 0 {
                    best = j;
                }
            }
        }
        Ok(feasible[best])
    }

    /// Assumes `pod` on node slot `node` (returns the assumed pod with its node set).
    pub fn assume(&mut self, pod: &PodInfo, node: usize) -> Arc<PodInfo> {
        let mut p = pod.clone();
        p.node_name = self.cache.nodes[node].name.clone();
        let p = Arc::new(p);
        self.cache.assume(p.clone(), node);
        p
    }

    /// DefaultPreemption: a node where evicting lower-priority pods lets `pod` fit, with the
    /// victims; otherwise the message (`preemption: …`) for the FitError.
    pub fn preempt(
        &self,
        pod: &PodInfo,
        fit: &FitError,
    ) -> Result<(usize, Vec<Arc<PodInfo>>), String> {
        if pod.never_preempt {
            return Err("preemption: not eligible due to preemptionPolicy=Never.".to_string());
        }
        if let Some(i) = self.cache.node_index(&pod.nominated) {
            if self.cache.nodes[i]
                .pods
                .iter()
                .any(|p| p.terminating && p.priority < pod.priority)
            {
                return Err(
                    "preemption: not eligible due to a terminating pod on the nominated node."
                        .to_string(),
                );
            }
        }
        let mut statuses: Vec<Failure> = Vec::new();
        let mut best: Option<(usize, Vec<Arc<PodInfo>>)> = None;
        for (i, f) in &fit.failures {
            if f.unresolvable {
                statuses.push(Failure {
                    reasons: vec!["Preemption is not helpful for scheduling".to_string()],
                    unresolvable: true,
                });
                continue;
            }
            match self.victims_on(pod, &self.cache.nodes[*i]) {
                Ok(v) => {
                    let better = match &best {
                        None => true,
                        Some((_, b)) => victim_rank(&v) < victim_rank(b),
                    };
                    if better {
                        best = Some((*i, v));
                    }
                }
                Err(f) => statuses.push(f),
            }
        }
        match best {
            Some(b) => Ok(b),
            None => Err(format!(
                "preemption: {}",
                filters::fit_error(fit.num_nodes, &statuses, None)
            )),
        }
    }

    fn victims_on(&self, pod: &PodInfo, node: &NodeInfo) -> Result<Vec<Arc<PodInfo>>, Failure> {
        let mut lower: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority && !p.terminating)
            .cloned()
            .collect();
        if lower.is_empty() {
            return Err(Failure {
                reasons: vec!["No preemption victims found for incoming pod".to_string()],
                unresolvable: true,
            });
        }
        let mut trial = node.clone();
        for v in &lower {
            trial.remove_pod(&v.key);
        }
        let fits = |n: &NodeInfo| -> Result<(), Failure> {
            let mut c = Cache::new();
            if let Some(spec) = n.spec.clone() {
                c.set_node(spec);
            }
            for p in &n.pods {
                c.add_pod(p.clone());
            }
            let st = filters::prefilter(pod, &c);
            filters::filter(pod, n, &st)
        };
        fits(&trial)?;
        // Reprieve as many victims as possible, highest priority first.
        lower.sort_by_key(|p| std::cmp::Reverse(p.priority));
        let mut victims = Vec::new();
        for v in lower {
            trial.add_pod(v.clone());
            if fits(&trial).is_err() {
                trial.remove_pod(&v.key);
                victims.push(v);
            }
        }
        Ok(victims)
    }
}

/// Orders candidate victim sets: lowest highest-priority victim, then fewest victims.
fn victim_rank(v: &[Arc<PodInfo>]) -> (i32, i64, usize) {
    let top = v.iter().map(|p| p.priority).max().unwrap_or(i32::MIN);
    let sum: i64 = v.iter().map(|p| i64::from(p.priority)).sum();
    (top, sum, v.len())
}
