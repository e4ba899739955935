//! Request metrics in Prometheus text format: counts and latency histograms by verb, resource, code.

use std::collections::BTreeMap;
use std::fmt::Write;

use parking_lot::Mutex;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; 12],
}

/// Request counters of the API server.
#[derive(Default)]
pub struct Metrics {
    series: Mutex<BTreeMap<(String, String, u16), Series>>,
}

impl Metrics {
    /// Records one request.
    pub fn observe(&self, verb: &str, resource: &str, code: u16, seconds: f64) {
        let mut m = self.series.lock();
        let s = m
            .entry((verb.to_string(), resource.to_string(), code))
            .or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    /// Renders every series in the Prometheus text exposition format.
    pub fn render(&self) -> String {
        let m = self.series.lock();
        let mut out = String::new();
        out.push_str("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource, and HTTP response code.\n# TYPE apiserver_request_total counter\n");
        for ((verb, resource, code), s) in m.iter() {
            let _ = writeln!(out, "apiserver_request_total{{code=\"{code}\",resource=\"{resource}\",verb=\"{verb}\"}} {}", s.count);
        }
        out.push_str("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n# TYPE apiserver_request_duration_seconds histogram\n");
        let mut by_vr: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((verb, resource, _), s) in m.iter() {
            let e = by_vr.entry((verb.as_str(), resource.as_str())).or_default();
            e.count += s.count;
            e.sum += s.sum;
            for i in 0..BUCKETS.len() {
                e.buckets[i] += s.buckets[i];
            }
        }
        for ((verb, resource), s) in by_vr {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{resource=\"{resource}\",verb=\"{verb}\",le=\"{b}\"}} {}", s.buckets[i]);
            }
            let _ = writeln!(out, "apiserver_request_duration_seconds_bucket{{resource=\"{resource}\",verb=\"{verb}\",le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "apiserver_request_duration_seconds_sum{{resource=\"{resource}\",verb=\"{verb}\"}} {}", s.sum);
            let _ = writeln!(out, "apiserver_request_duration_seconds_count{{resource=\"{resource}\",verb=\"{verb}\"}} {}", s.count);
        }
        out
    }
}
