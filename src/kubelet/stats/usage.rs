//! Pure resource-usage arithmetic, as cAdvisor and metrics-server compute it: cumulative CPU
//! time of the node from `/proc/stat`, the node's memory working set from `/proc/meminfo`, a
//! container's working set from Docker's memory stats, and CPU rates between two samples.

use std::collections::HashMap;

/// One reading of a cumulative CPU counter and a memory working set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch when it was read.
    pub at_ms: i64,
    /// Cumulative CPU time in nanoseconds.
    pub cpu_ns: u64,
    /// Working set in bytes at that time.
    pub working_set: u64,
}

/// Usage over the window between two samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    /// When the newer sample was read (ms since the epoch).
    pub at_ms: i64,
    /// Length of the window in milliseconds.
    pub window_ms: i64,
    /// Average CPU use over the window in nanocores.
    pub cpu_nanocores: u64,
    /// Working set in bytes at the newer sample.
    pub working_set: u64,
    /// Cumulative CPU time in nanoseconds at the newer sample.
    pub cpu_ns: u64,
}

/// The usage between `prev` and `cur`; `None` when the window is empty or the counter went
/// backwards (a restarted container: its counter starts again from zero).
pub fn usage_between(prev: &Sample, cur: &Sample) -> Option<Usage> {
    let window_ms = cur.at_ms - prev.at_ms;
    if window_ms <= 0 || cur.cpu_ns < prev.cpu_ns {
        return None;
    }
    let delta = u128::from(cur.cpu_ns - prev.cpu_ns);
    let nanocores = delta * 1_000 / window_ms as u128;
    Some(Usage {
        at_ms: cur.at_ms,
        window_ms,
        cpu_nanocores: u64::try_from(nanocores).unwrap_or(u64::MAX),
        working_set: cur.working_set,
        cpu_ns: cur.cpu_ns,
    })
}

/// Busy CPU time of the whole machine in nanoseconds from the first line of `/proc/stat`
/// (user + nice + system + irq + softirq + steal; idle and iowait left out), with `ticks_per_sec`
/// clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn node_cpu_ns(proc_stat: &str, ticks_per_sec: u64) -> Option<u64> {
    let line = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let field = |i: usize| f.get(i).copied().unwrap_or(0);
    // user nice system idle iowait irq softirq steal
    let busy = field(0) + field(1) + field(2) + field(5) + field(6) + field(7);
    if ticks_per_sec == 0 {
        return None;
    }
    Some(busy.saturating_mul(1_000_000_000 / ticks_per_sec))
}

/// The node's memory working set from `/proc/meminfo`, as the kubelet reports it for the root
/// cgroup: memory in use (total − free, page cache included) minus inactive file pages.
pub fn node_working_set(meminfo: &str) -> Option<u64> {
    let mut kb: HashMap<&str, u64> = HashMap::new();
    for line in meminfo.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        if let Some(v) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) {
            kb.insert(key.trim(), v);
        }
    }
    let total = *kb.get("MemTotal")?;
    let free = *kb.get("MemFree")?;
    let inactive_file = kb.get("Inactive(file)").copied().unwrap_or(0);
    Some(
        total
            .saturating_sub(free)
            .saturating_sub(inactive_file)
            .saturating_mul(1024),
    )
}

/// A container's working set from Docker's memory stats: usage minus inactive file pages
/// (`inactive_file` on cgroup v2, `total_inactive_file` on v1), as cAdvisor computes it.
pub fn container_working_set(usage: u64, stats: Option<&HashMap<String, u64>>) -> u64 {
    let inactive = stats
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    usage.saturating_sub(inactive)
}

/// A CPU quantity in nanocores as metrics-server writes it (`12345n`).
pub fn cpu_quantity(nanocores: u64) -> String {
    format!("{nanocores}n")
}

/// A memory quantity as metrics-server writes it: `Ki` when a whole number of KiB, else bytes.
pub fn memory_quantity(bytes: u64) -> String {
    if bytes.is_multiple_of(1024) && bytes > 0 {
        format!("{}Ki", bytes / 1024)
    } else {
        bytes.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_nanocores_over_the_window() {
        let a = Sample {
            at_ms: 1_000,
            cpu_ns: 1_000_000_000,
            working_set: 10,
        };
        // Half a core for two seconds.
        let b = Sample {
            at_ms: 3_000,
            cpu_ns: 2_000_000_000,
            working_set: 20,
        };
        let u = usage_between(&a, &b).unwrap();
        assert_eq!(u.cpu_nanocores, 500_000_000);
        assert_eq!(u.window_ms, 2_000);
        assert_eq!(u.working_set, 20);
        assert!(usage_between(&b, &a).is_none(), "backwards counter");
        assert!(usage_between(&a, &a).is_none(), "empty window");
    }

    #[test]
    fn proc_stat_counts_busy_ticks() {
        let stat = "cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n";
        // busy = 100+5+50+3+2+1 = 161 ticks at 100 Hz = 1.61 s.
        assert_eq!(node_cpu_ns(stat, 100), Some(1_610_000_000));
        assert_eq!(node_cpu_ns("intr 1 2\n", 100), None);
    }

    #[test]
    fn meminfo_working_set_leaves_out_free_and_inactive_file() {
        let info = "MemTotal:       16000 kB\nMemFree:         4000 kB\nMemAvailable:   9000 kB\n\
                    Inactive(file):  2000 kB\n";
        assert_eq!(node_working_set(info), Some(10_000 * 1024));
        assert_eq!(node_working_set("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn container_working_set_subtracts_inactive_file() {
        let v2 = HashMap::from([("inactive_file".to_string(), 4096)]);
        assert_eq!(container_working_set(10_240, Some(&v2)), 6_144);
        let v1 = HashMap::from([("total_inactive_file".to_string(), 1024)]);
        assert_eq!(container_working_set(2_048, Some(&v1)), 1_024);
        assert_eq!(container_working_set(100, None), 100);
        assert_eq!(container_working_set(100, Some(&v2)), 0);
    }

    #[test]
    fn quantities_as_metrics_server_writes_them() {
        assert_eq!(cpu_quantity(1_234_567), "1234567n");
        assert_eq!(memory_quantity(3 * 1024 * 1024), "3072Ki");
        assert_eq!(memory_quantity(1000), "1000");
        assert_eq!(memory_quantity(0), "0");
    }
}
