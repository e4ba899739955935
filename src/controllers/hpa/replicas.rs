//! Upstream's replica calculation for resource metrics (`pkg/controller/podautoscaler/
//! replica_calculator.go`): usage ratio against the target with a tolerance, missing and unready
//! pods rebalanced conservatively, and the scale-down stabilization of `normalizeDesiredReplicas`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Usage ratios within `1 ± TOLERANCE` do not scale.
pub const TOLERANCE: f64 = 0.1;
/// Default scale-down stabilization window.
pub const DOWNSCALE_STABILIZATION: Duration = Duration::from_secs(300);

/// A pod as the calculation sees it.
#[derive(Clone, Debug, Default)]
pub struct PodSample {
    /// Sum of the containers' requests of the resource, in milli-units.
    pub request: Option<i64>,
    /// Usage reported by the metrics API, in milli-units (`None`: no metric).
    pub usage: Option<i64>,
    /// Ready (and not pending).
    pub ready: bool,
    /// Deleted or failed: ignored entirely.
    pub ignored: bool,
}

/// The target of a resource metric.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// `averageUtilization` (percent of requests).
    Utilization(i32),
    /// `averageValue` in milli-units.
    AverageValue(i64),
}

/// A recommendation with the current utilization (percent) and average raw value (milli).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recommendation {
    /// Desired replicas.
    pub replicas: i32,
    /// Current average utilization, when the target is a utilization.
    pub utilization: Option<i32>,
    /// Current average usage per pod (milli-units).
    pub average: i64,
}

/// Upstream's `GetResourceReplicas` / `GetRawResourceReplicas`.
pub fn resource_replicas(
    current: i32,
    target: Target,
    pods: &BTreeMap<String, PodSample>,
) -> Result<Recommendation, String> {
    if pods.is_empty() {
        return Err("no pods returned by selector while calculating replica count".into());
    }
    let mut metrics: BTreeMap<&str, i64> = BTreeMap::new();
    let mut unready: BTreeSet<&str> = BTreeSet::new();
    let mut missing: BTreeSet<&str> = BTreeSet::new();
    let mut ready_count = 0i64;
    for (name, p) in pods {
        if p.ignored {
            continue;
        }
        match p.usage {
            None => {
                missing.insert(name);
            }
            Some(_) if !p.ready => {
                unready.insert(name);
            }
            Some(u) => {
                ready_count += 1;
                metrics.insert(name, u);
            }
        }
    }
    if metrics.is_empty() {
        return Err("did not receive metrics for targeted pods (pods might be unready)".into());
    }
    let requests: BTreeMap<&str, i64> = if let Target::Utilization(_) = target {
        let mut r = BTreeMap::new();
        for (name, p) in pods {
            match p.request {
                Some(v) => {
                    r.insert(name.as_str(), v);
                }
                None if !p.ignored => return Err(format!("missing request for cpu in pod {name}")),
                None => {}
            }
        }
        r
    } else {
        BTreeMap::new()
    };
    let ratio = |m: &BTreeMap<&str, i64>| -> Result<(f64, Option<i32>, i64), String> {
        let total: i64 = m.values().sum();
        let avg = total / (m.len().max(1) as i64);
        match target {
            Target::Utilization(t) => {
                let req: i64 = m.keys().filter_map(|k| requests.get(k)).sum();
                if req == 0 {
                    return Err("no metrics returned matched known pods".into());
                }
                let util = (total * 100 / req) as i32;
                Ok((f64::from(util) / f64::from(t.max(1)), Some(util), avg))
            }
            Target::AverageValue(t) => Ok((avg as f64 / t.max(1) as f64, None, avg)),
        }
    };
    let (usage_ratio, utilization, average) = ratio(&metrics)?;
    let within = |r: f64| (1.0 - r).abs() <= TOLERANCE;
    let rec = |replicas| Recommendation {
        replicas,
        utilization,
        average,
    };
    let scale_up_with_unready = !unready.is_empty() && usage_ratio > 1.0;
    if !scale_up_with_unready && missing.is_empty() {
        if within(usage_ratio) {
            return Ok(rec(current));
        }
        return Ok(rec((usage_ratio * ready_count as f64).ceil() as i32));
    }
    if !missing.is_empty() {
        for name in &missing {
            let fill = if usage_ratio < 1.0 {
                match target {
                    Target::Utilization(t) => {
                        requests.get(name).copied().unwrap_or(0) * i64::from(t.max(100)) / 100
                    }
                    Target::AverageValue(t) => t,
                }
            } else {
                0
            };
            if usage_ratio != 1.0 {
                metrics.insert(name, fill);
            }
        }
    }
    if scale_up_with_unready {
        for name in &unready {
            metrics.insert(name, 0);
        }
    }
    let (new_ratio, _, _) = ratio(&metrics)?;
    if within(new_ratio)
        || (usage_ratio < 1.0 && new_ratio > 1.0)
        || (usage_ratio > 1.0 && new_ratio < 1.0)
    {
        return Ok(rec(current));
    }
    let replicas = (new_ratio * metrics.len() as f64).ceil() as i32;
    if (new_ratio < 1.0 && replicas > current) || (new_ratio > 1.0 && replicas < current) {
        return Ok(rec(current));
    }
    Ok(rec(replicas))
}

/// Recent recommendations of one autoscaler (upstream's `stabilizeRecommendation`).
#[derive(Debug, Default)]
pub struct Recommendations {
    samples: Vec<(Instant, i32)>,
}

impl Recommendations {
    /// Records `current` when nothing was recorded yet (`recordInitialRecommendation`).
    pub fn initial(&mut self, current: i32) {
        if self.samples.is_empty() {
            self.samples.push((Instant::now(), current));
        }
    }

    /// The highest recommendation within `window`, recording `desired`.
    pub fn stabilize(&mut self, desired: i32, window: Duration) -> i32 {
        let now = Instant::now();
        let mut max = desired;
        let mut old = None;
        for (i, (at, r)) in self.samples.iter().enumerate() {
            if now.duration_since(*at) > window {
                old = Some(i);
            } else if *r > max {
                max = *r;
            }
        }
        match old.and_then(|i| self.samples.get_mut(i)) {
            Some(slot) => *slot = (now, desired),
            None => self.samples.push((now, desired)),
        }
        max
    }
}

/// Upstream's `convertDesiredReplicasWithRules`: (replicas, condition reason, message).
pub fn limit(current: i32, desired: i32, min: i32, max: i32) -> (i32, &'static str, &'static str) {
    let scale_up_limit = (2 * current).max(4);
    let (max_allowed, reason, message) = if max > scale_up_limit {
        (
            scale_up_limit,
            "ScaleUpLimit",
            "the desired replica count is increasing faster than the maximum scale rate",
        )
    } else {
        (
            max,
            "TooManyReplicas",
            "the desired replica count is more than the maximum replica count",
        )
    };
    if desired < min {
        return (
            min,
            "TooFewReplicas",
            "the desired replica count is less than the minimum replica count",
        );
    }
    if desired > max_allowed {
        return (max_allowed, reason, message);
    }
    (
        desired,
        "DesiredWithinRange",
        "the desired count is within the acceptable range",
    )
}

/// Parses a Kubernetes quantity into milli-units (`250m` → 250, `1` → 1000, `1Ki` → 1024000).
pub fn milli_value(q: &str) -> Option<i64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some((n * mult * 1000.0).ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods(samples: &[(i64, Option<i64>, bool)]) -> BTreeMap<String, PodSample> {
        samples
            .iter()
            .enumerate()
            .map(|(i, (req, usage, ready))| {
                (
                    format!("p{i}"),
                    PodSample {
                        request: Some(*req),
                        usage: *usage,
                        ready: *ready,
                        ignored: false,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn scales_up_on_high_utilization() {
        let p = pods(&[(100, Some(90), true), (100, Some(90), true)]);
        let r = resource_replicas(2, Target::Utilization(50), &p).ok();
        assert_eq!(r.map(|r| (r.replicas, r.utilization)), Some((4, Some(90))));
    }

    #[test]
    fn tolerance_keeps_current() {
        let p = pods(&[(100, Some(52), true), (100, Some(52), true)]);
        assert_eq!(
            resource_replicas(2, Target::Utilization(50), &p).map(|r| r.replicas),
            Ok(2)
        );
    }

    #[test]
    fn missing_pods_damp_scale_down() {
        let p = pods(&[(100, Some(10), true), (100, None, true)]);
        // Missing pod counts as 100% on a scale-down: (10+100)/200 = 55% of 50 → ratio 1.1.
        assert_eq!(
            resource_replicas(2, Target::Utilization(50), &p).map(|r| r.replicas),
            Ok(2)
        );
    }

    #[test]
    fn stabilization_and_limits() {
        let mut r = Recommendations::default();
        r.initial(5);
        assert_eq!(r.stabilize(2, DOWNSCALE_STABILIZATION), 5);
        assert_eq!(
            limit(2, 10, 1, 20),
            (
                4,
                "ScaleUpLimit",
                "the desired replica count is increasing faster than the maximum scale rate"
            )
        );
        assert_eq!(limit(2, 0, 1, 3).0, 1);
        assert_eq!(milli_value("250m"), Some(250));
        assert_eq!(milli_value("1"), Some(1000));
        assert_eq!(milli_value("1Ki"), Some(1_024_000));
        assert_eq!(milli_value("100n"), Some(1));
    }
}
