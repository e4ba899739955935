//! One probe's thresholds (pure): upstream's worker counts consecutive equal results and
//! publishes a result only once `successThreshold` successes or `failureThreshold` failures
//! happened in a row.

use std::time::Duration;

use k8s_openapi::api::core::v1::Probe;

/// A probe's published result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// Passed (enough times).
    Success,
    /// Failed (enough times).
    Failure,
}

/// A probe's timing and thresholds, defaulted as upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// `initialDelaySeconds` (0).
    pub initial_delay: Duration,
    /// `periodSeconds` (10).
    pub period: Duration,
    /// `timeoutSeconds` (1).
    pub timeout: Duration,
    /// `successThreshold` (1).
    pub success_threshold: i32,
    /// `failureThreshold` (3).
    pub failure_threshold: i32,
}

impl Timing {
    /// The timing of `p`.
    pub fn of(p: &Probe) -> Timing {
        let secs = |v: Option<i32>, default: u64, min: u64| {
            Duration::from_secs(v.map(|v| v.max(0) as u64).unwrap_or(default).max(min))
        };
        Timing {
            initial_delay: secs(p.initial_delay_seconds, 0, 0),
            period: secs(p.period_seconds, 10, 1),
            timeout: secs(p.timeout_seconds, 1, 1),
            success_threshold: p.success_threshold.unwrap_or(1).max(1),
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1),
        }
    }
}

/// Consecutive results of one probe.
#[derive(Clone, Debug, Default)]
pub struct Tracker {
    last: Option<ProbeResult>,
    run: i32,
}

impl Tracker {
    /// Records one probe run; `Some(result)` when it is to be published (its threshold is
    /// reached), `None` while the previous result stands.
    pub fn observe(&mut self, result: ProbeResult, timing: &Timing) -> Option<ProbeResult> {
        if self.last == Some(result) {
            self.run = self.run.saturating_add(1);
        } else {
            self.last = Some(result);
            self.run = 1;
        }
        let threshold = match result {
            ProbeResult::Success => timing.success_threshold,
            ProbeResult::Failure => timing.failure_threshold,
        };
        (self.run >= threshold).then_some(result)
    }

    /// Starts counting again (after a liveness failure killed the container).
    pub fn reset(&mut self) {
        self.run = 0;
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::ProbeResult::{Failure, Success};
    use super::*;

    fn timing(success: i32, failure: i32) -> Timing {
        Timing::of(&Probe {
            success_threshold: Some(success),
            failure_threshold: Some(failure),
            ..Default::default()
        })
    }

    #[test]
    fn defaults_as_upstream() {
        let t = Timing::of(&Probe::default());
        assert_eq!(t.period, Duration::from_secs(10));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.success_threshold, t.failure_threshold), (1, 3));
        assert_eq!(t.initial_delay, Duration::ZERO);
    }

    #[test]
    fn failures_publish_only_at_the_threshold() {
        let t = timing(1, 3);
        let mut tr = Tracker::default();
        assert_eq!(tr.observe(Failure, &t), None);
        assert_eq!(tr.observe(Failure, &t), None);
        // A success in between starts the count again.
        assert_eq!(tr.observe(Success, &t), Some(Success));
        assert_eq!(tr.observe(Failure, &t), None);
        assert_eq!(tr.observe(Failure, &t), None);
        assert_eq!(tr.observe(Failure, &t), Some(Failure));
        assert_eq!(tr.observe(Failure, &t), Some(Failure));
        tr.reset();
        assert_eq!(tr.observe(Failure, &t), None);
    }

    #[test]
    fn successes_need_their_threshold_too() {
        let t = timing(2, 1);
        let mut tr = Tracker::default();
        assert_eq!(tr.observe(Failure, &t), Some(Failure));
        assert_eq!(tr.observe(Success, &t), None);
        assert_eq!(tr.observe(Success, &t), Some(Success));
        assert_eq!(tr.observe(Failure, &t), Some(Failure));
    }
}
