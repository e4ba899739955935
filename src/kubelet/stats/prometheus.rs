//! The kubelet's `/metrics/resource` endpoint in the Prometheus text format: the same
//! families, help texts and labels as upstream's resource metrics collector
//! (`pkg/kubelet/metrics/collectors/resource_metrics.go`), with sample timestamps in
//! milliseconds.

use std::fmt::Write;

use super::Snapshot;

/// Help and type of each family, in upstream's order.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "container_cpu_usage_seconds_total",
        "Cumulative cpu time consumed by the container in core-seconds",
        "counter",
    ),
    (
        "container_memory_working_set_bytes",
        "Current working set of the container in bytes",
        "gauge",
    ),
    (
        "container_start_time_seconds",
        "Start time of the container since unix epoch in seconds",
        "gauge",
    ),
    (
        "node_cpu_usage_seconds_total",
        "Cumulative cpu time consumed by the node in core-seconds",
        "counter",
    ),
    (
        "node_memory_working_set_bytes",
        "Current working set of the node in bytes",
        "gauge",
    ),
    (
        "pod_cpu_usage_seconds_total",
        "Cumulative cpu time consumed by the pod in core-seconds",
        "counter",
    ),
    (
        "pod_memory_working_set_bytes",
        "Current working set of the pod in bytes",
        "gauge",
    ),
    (
        "resource_scrape_error",
        "1 if there was an error while getting container metrics, 0 otherwise",
        "gauge",
    ),
];

/// Escapes a label value (backslash, double quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// The text of `/metrics/resource` for `snap`.
pub fn render(snap: &Snapshot) -> String {
    let mut lines: Vec<(&str, String)> = Vec::new();
    for pod in &snap.pods {
        let (ns, name) = (escape(&pod.namespace), escape(&pod.name));
        let (mut cpu, mut mem, mut at) = (0u64, 0u64, 0i64);
        for c in &pod.containers {
            let labels = format!(
                "container=\"{}\",namespace=\"{ns}\",pod=\"{name}\"",
                escape(&c.name)
            );
            let u = &c.usage;
            lines.push((
                "container_cpu_usage_seconds_total",
                format!("{{{labels}}} {} {}", seconds(u.cpu_ns), u.at_ms),
            ));
            lines.push((
                "container_memory_working_set_bytes",
                format!("{{{labels}}} {} {}", u.working_set, u.at_ms),
            ));
            if let Some(s) = c.started_at {
                lines.push((
                    "container_start_time_seconds",
                    format!("{{{labels}}} {s} {}", u.at_ms),
                ));
            }
            cpu += u.cpu_ns;
            mem += u.working_set;
            at = at.max(u.at_ms);
        }
        let labels = format!("namespace=\"{ns}\",pod=\"{name}\"");
        lines.push((
            "pod_cpu_usage_seconds_total",
            format!("{{{labels}}} {} {at}", seconds(cpu)),
        ));
        lines.push((
            "pod_memory_working_set_bytes",
            format!("{{{labels}}} {mem} {at}"),
        ));
    }
    if let Some(n) = &snap.node {
        lines.push((
            "node_cpu_usage_seconds_total",
            format!(" {} {}", seconds(n.cpu_ns), n.at_ms),
        ));
        lines.push((
            "node_memory_working_set_bytes",
            format!(" {} {}", n.working_set, n.at_ms),
        ));
    }
    lines.push((
        "resource_scrape_error",
        format!(" {}", u8::from(snap.scrape_error)),
    ));
    let mut out = String::new();
    for (family, help, kind) in FAMILIES {
        let samples: Vec<&String> = lines
            .iter()
            .filter(|(f, _)| f == family)
            .map(|(_, s)| s)
            .collect();
        let _ = writeln!(out, "# HELP {family} [STABLE] {help}");
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for s in samples {
            let _ = writeln!(out, "{family}{s}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::usage::Usage;
    use super::super::{ContainerStats, PodStats};
    use super::*;

    fn usage(cpu_ns: u64, ws: u64) -> Usage {
        Usage {
            at_ms: 1_700_000_000_123,
            window_ms: 5_000,
            cpu_nanocores: 1,
            working_set: ws,
            cpu_ns,
        }
    }

    #[test]
    fn families_samples_and_labels() {
        let snap = Snapshot {
            node: Some(usage(2_500_000_000, 1 << 30)),
            pods: vec![PodStats {
                namespace: "default".into(),
                name: "web".into(),
                uid: "u".into(),
                containers: vec![
                    ContainerStats {
                        name: "a".into(),
                        usage: usage(1_000_000_000, 4096),
                        started_at: Some(1_700_000_000),
                    },
                    ContainerStats {
                        name: "b".into(),
                        usage: usage(500_000_000, 1024),
                        started_at: None,
                    },
                ],
            }],
            scrape_error: false,
        };
        let text = render(&snap);
        let want = [
            "# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds",
            "# TYPE container_cpu_usage_seconds_total counter",
            "container_cpu_usage_seconds_total{container=\"a\",namespace=\"default\",pod=\"web\"} 1 1700000000123",
            "container_memory_working_set_bytes{container=\"b\",namespace=\"default\",pod=\"web\"} 1024 1700000000123",
            "container_start_time_seconds{container=\"a\",namespace=\"default\",pod=\"web\"} 1700000000 1700000000123",
            "node_cpu_usage_seconds_total 2.5 1700000000123",
            "node_memory_working_set_bytes 1073741824 1700000000123",
            "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"web\"} 1.5 1700000000123",
            "pod_memory_working_set_bytes{namespace=\"default\",pod=\"web\"} 5120 1700000000123",
            "# TYPE resource_scrape_error gauge",
            "resource_scrape_error 0",
        ];
        for line in want {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("container_start_time_seconds{container=\"b\""));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
