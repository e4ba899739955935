//! Duration samples and their summaries.

use std::time::Duration;

/// A set of measured durations.
#[derive(Clone, Debug, Default)]
pub struct Samples {
    values: Vec<Duration>,
}

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, d: Duration) {
        self.values.push(d);
    }

    /// Adds many samples.
    pub fn extend(&mut self, ds: impl IntoIterator<Item = Duration>) {
        self.values.extend(ds);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The `p`-th percentile (0–100, nearest rank); zero without samples.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.values.is_empty() {
            return Duration::ZERO;
        }
        let mut v = self.values.clone();
        v.sort_unstable();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        v[rank.clamp(1, v.len()) - 1]
    }

    /// The median.
    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    /// The largest sample.
    pub fn max(&self) -> Duration {
        self.values.iter().copied().max().unwrap_or_default()
    }
}

/// Milliseconds with one decimal, e.g. `12.3 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Mebibytes with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// A rate, rounded, e.g. `3120/s`.
pub fn rate(per_second: f64) -> String {
    format!("{per_second:.0}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut s = Samples::default();
        s.extend((1..=100).map(Duration::from_millis));
        assert_eq!(s.median(), Duration::from_millis(50));
        assert_eq!(s.percentile(99.0), Duration::from_millis(99));
        assert_eq!(s.max(), Duration::from_millis(100));
        assert_eq!(Samples::default().median(), Duration::ZERO);
    }
}
