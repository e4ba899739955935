//! Score plugins with upstream's default weights: TaintToleration 3, NodeAffinity 2,
//! NodeResourcesFit (LeastAllocated) 1, PodTopologySpread 2, InterPodAffinity 2,
//! NodeResourcesBalancedAllocation 1. Each plugin's scores are normalized to 0..=100.

use std::collections::HashMap;

use super::cache::{Cache, NodeInfo};
use super::filters::node_affinity_matches;
use super::types::{PodInfo, Spread};

/// The highest score of one plugin.
pub const MAX_SCORE: i64 = 100;

/// NodeResourcesFit with the LeastAllocated strategy (CPU and memory, weight 1 each).
pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.spec else { return 0 };
    let one = |req: i64, alloc: i64| {
        if alloc == 0 || req > alloc {
            0
        } else {
            (alloc - req) * MAX_SCORE / alloc
        }
    };
    let cpu = one(node.non_zero.0 + pod.non_zero.0, spec.allocatable.cpu);
    let mem = one(node.non_zero.1 + pod.non_zero.1, spec.allocatable.memory);
    (cpu + mem) / 2
}

/// NodeResourcesBalancedAllocation: 100 × (1 − standard deviation of the CPU and memory
/// fractions); `None` for best-effort pods (the plugin is skipped).
pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> Option<i64> {
    if pod.requests.cpu == 0 && pod.requests.memory == 0 {
        return None;
    }
    let spec = node.spec.as_ref()?;
    let frac = |req: i64, alloc: i64| {
        if alloc == 0 {
            1.0
        } else {
            (req as f64 / alloc as f64).min(1.0)
        }
    };
    let c = frac(node.requested.cpu + pod.requests.cpu, spec.allocatable.cpu);
    let m = frac(
        node.requested.memory + pod.requests.memory,
        spec.allocatable.memory,
    );
    let std = ((c - m) / 2.0).abs();
    Some(((1.0 - std) * MAX_SCORE as f64) as i64)
}

/// NodeAffinity's raw score: the summed weights of matching preferred terms.
pub fn node_affinity_raw(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.spec else { return 0 };
    pod.preferred_terms
        .iter()
        .filter(|(_, t)| t.matches(&spec.name, &spec.labels))
        .map(|(w, _)| *w)
        .sum()
}

/// TaintToleration's raw score: untolerated `PreferNoSchedule` taints.
pub fn taint_raw(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let Some(spec) = &node.spec else { return 0 };
    spec.taints
        .iter()
        .filter(|t| t.effect == "PreferNoSchedule")
        .filter(|t| {
            !pod.tolerations.iter().any(|tol| {
                (tol.effect.is_empty() || tol.effect == "PreferNoSchedule") && tol.tolerates(t)
            })
        })
        .count() as i64
}

/// `DefaultNormalizeScore`: scales to 0..=100 by the maximum, reversed on request.
pub fn normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        *s = match (max, reverse) {
            (0, true) => MAX_SCORE,
            (0, false) => 0,
            (m, false) => *s * MAX_SCORE / m,
            (m, true) => MAX_SCORE - *s * MAX_SCORE / m,
        };
    }
}

/// PodTopologySpread (ScheduleAnyway constraints) for the feasible nodes, normalized.
pub fn spread_scores(pod: &PodInfo, cache: &Cache, feasible: &[usize]) -> Option<Vec<i64>> {
    let soft: Vec<&Spread> = pod.spread.iter().filter(|c| !c.hard).collect();
    if soft.is_empty() {
        return None;
    }
    // Domains of the feasible nodes, per constraint.
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); soft.len()];
    for i in feasible {
        if let Some(labels) = cache.nodes[*i].labels() {
            for (k, c) in soft.iter().enumerate() {
                if let Some(v) = labels.get(&c.topology_key) {
                    counts[k].entry(v.clone()).or_insert(0);
                }
            }
        }
    }
    for i in &cache.live {
        let node = &cache.nodes[*i];
        let Some(labels) = node.labels() else {
            continue;
        };
        if !node_affinity_matches(pod, node)
            || !soft.iter().all(|c| labels.contains_key(&c.topology_key))
        {
            continue;
        }
        for (k, c) in soft.iter().enumerate() {
            let Some(slot) = labels
                .get(&c.topology_key)
                .and_then(|v| counts[k].get_mut(v))
            else {
                continue;
            };
            *slot += node
                .pods
                .iter()
                .filter(|p| {
                    p.namespace == pod.namespace && !p.terminating && c.selector.matches(&p.labels)
                })
                .count() as i64;
        }
    }
    let weights: Vec<f64> = counts.iter().map(|m| ((m.len() + 2) as f64).ln()).collect();
    let raw: Vec<Option<i64>> = feasible
        .iter()
        .map(|i| {
            let labels = cache.nodes[*i].labels()?;
            let mut s = 0.0;
            for (k, c) in soft.iter().enumerate() {
                let v = labels.get(&c.topology_key)?;
                let n = counts[k].get(v).copied().unwrap_or(0);
                s += n as f64 * weights[k] + (c.max_skew - 1) as f64;
            }
            Some(s.round() as i64)
        })
        .collect();
    let valid = raw.iter().flatten();
    let max = valid.clone().copied().max().unwrap_or(0);
    let min = valid.copied().min().unwrap_or(0);
    Some(
        raw.iter()
            .map(|s| match s {
                None => 0,
                Some(_) if max == 0 => MAX_SCORE,
                Some(s) => MAX_SCORE * (max + min - s) / max,
            })
            .collect(),
    )
}

/// InterPodAffinity's preferred terms (and existing pods' terms about the pod), normalized
/// min–max; `None` when nothing in the cluster has affinity terms.
pub fn affinity_scores(pod: &PodInfo, cache: &Cache, feasible: &[usize]) -> Option<Vec<i64>> {
    let own = !pod.preferred_affinity.is_empty() || !pod.preferred_anti_affinity.is_empty();
    let mut topo: HashMap<(String, String), i64> = HashMap::new();
    let mut add = |key: &str, labels: &super::types::Labels, w: i64| {
        if let Some(v) = labels.get(key) {
            *topo.entry((key.to_string(), v.clone())).or_insert(0) += w;
        }
    };
    let mut any = own;
    for node in &cache.nodes {
        if node.pods.is_empty() || (!own && node.with_affinity == 0) {
            continue;
        }
        let Some(labels) = node.labels() else {
            continue;
        };
        for e in &node.pods {
            for (w, t) in &pod.preferred_affinity {
                if t.matches(e) {
                    add(&t.topology_key, labels, *w);
                }
            }
            for (w, t) in &pod.preferred_anti_affinity {
                if t.matches(e) {
                    add(&t.topology_key, labels, -*w);
                }
            }
            if !e.has_affinity() {
                continue;
            }
            any = true;
            for t in &e.affinity {
                if t.matches(pod) {
                    add(&t.topology_key, labels, 1);
                }
            }
            for (w, t) in &e.preferred_affinity {
                if t.matches(pod) {
                    add(&t.topology_key, labels, *w);
                }
            }
            for (w, t) in &e.preferred_anti_affinity {
                if t.matches(pod) {
                    add(&t.topology_key, labels, -*w);
                }
            }
        }
    }
    if !any {
        return None;
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|i| {
            let Some(labels) = cache.nodes[*i].labels() else {
                return 0;
            };
            topo.iter()
                .filter(|((k, v), _)| labels.get(k) == Some(v))
                .map(|(_, s)| *s)
                .sum()
        })
        .collect();
    let max = raw.iter().copied().max().unwrap_or(0);
    let min = raw.iter().copied().min().unwrap_or(0);
    Some(
        raw.iter()
            .map(|s| {
                if max > min {
                    MAX_SCORE * (s - min) / (max - min)
                } else {
                    0
                }
            })
            .collect(),
    )
}

/// The weighted total score of each feasible node.
pub fn score(pod: &PodInfo, cache: &Cache, feasible: &[usize]) -> Vec<i64> {
    let n = feasible.len();
    let mut total = vec![0i64; n];
    let mut aff = vec![0i64; n];
    let mut taint = vec![0i64; n];
    let prefer = !pod.preferred_terms.is_empty();
    for (j, i) in feasible.iter().enumerate() {
        let node = &cache.nodes[*i];
        total[j] += least_allocated(pod, node);
        total[j] += balanced_allocation(pod, node).unwrap_or(0);
        if prefer {
            aff[j] = node_affinity_raw(pod, node);
        }
        taint[j] = taint_raw(pod, node);
    }
    normalize(&mut aff, false);
    normalize(&mut taint, true);
    for j in 0..n {
        total[j] += 2 * aff[j] + 3 * taint[j];
    }
    if let Some(s) = spread_scores(pod, cache, feasible) {
        for j in 0..n {
            total[j] += 2 * s[j];
        }
    }
    if let Some(s) = affinity_scores(pod, cache, feasible) {
        for j in 0..n {
            total[j] += 2 * s[j];
        }
    }
    total
}
