//! Helpers for tests of the kubelet on Docker: making Docker available, removing a cluster's
//! containers when a test ends, and waiting for pod states through kubectl.

use std::process::Command;
use std::time::Duration;

use super::{eventually, Server};

/// Runs `scripts/docker-env`; `false` (with the reason printed) if Docker cannot be had here.
pub fn docker_env() -> bool {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/docker-env");
    match Command::new("bash").arg(script).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "SKIPPED: Docker could not be installed or started by scripts/docker-env:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run scripts/docker-env: {e}");
            false
        }
    }
}

/// Runs the docker CLI; returns stdout.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes every container of the cluster (the first field, its kube-system uid) and unmounts
/// what the kubelet mounted under the data dir (the second) when the test ends (passing or
/// not). Drop it after the server, so no kubelet re-creates anything meanwhile.
pub struct Cleanup(pub String, pub std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label=skiff.io/cluster={}", self.0);
        for id in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
            docker(&["rm", "-f", id]);
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(4)) {
            if std::path::Path::new(point).starts_with(&self.1) {
                let _ = Command::new("umount").arg("-l").arg(point).status();
            }
        }
    }
}

/// Host components a kubelet test runs without unless it asks for them: two kube-proxies on one
/// host would fight over `KUBE-SERVICES`, so only the (serialized) networking tests start them.
pub const KUBELET_TEST_DISABLED: &[&str] = &["kube-proxy", "servicelb", "coredns"];

/// Starts a server with the kubelet (without kube-proxy, ServiceLB and DNS), waits for its node
/// to be Ready; returns the cleanup guard of its containers and the server (in that order, so
/// the server is dropped first).
pub fn kubelet_server() -> (Cleanup, Server) {
    let mut args = Vec::new();
    for c in KUBELET_TEST_DISABLED {
        args.extend(["--disable", c]);
    }
    kubelet_server_with(&args)
}

/// As [`kubelet_server`], with exactly the given extra server arguments (every host component
/// not disabled there runs).
pub fn kubelet_server_with(args: &[&str]) -> (Cleanup, Server) {
    let s = Server::start_host(args);
    let cluster = s
        .kubectl_ok(&["get", "ns", "kube-system", "-o", "jsonpath={.metadata.uid}"])
        .trim()
        .to_string();
    let cleanup = Cleanup(cluster, s.data_dir().to_path_buf());
    let ready = eventually(Duration::from_secs(60), || {
        let out = s.kubectl(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "True"
    });
    assert!(ready, "node not Ready:\n{}", s.log());
    (cleanup, s)
}

/// `kubectl get <what> -o jsonpath=<path>` in `ns`, trimmed.
pub fn jsonpath(s: &Server, ns: &str, what: &str, path: &str) -> String {
    let out = s.kubectl(&["-n", ns, "get", what, "-o", &format!("jsonpath={path}")]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The STATUS column of `kubectl get pod`.
pub fn status_column(s: &Server, ns: &str, pod: &str) -> String {
    let out = s.kubectl(&["-n", ns, "get", "pod", pod, "--no-headers"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string()
}

/// Everything useful when a pod does not do what a test expects.
pub fn describe(s: &Server, ns: &str, pod: &str) -> String {
    format!(
        "{}\n{}\nlog:\n{}",
        String::from_utf8_lossy(
            &s.kubectl(&["-n", ns, "get", "pod", pod, "-o", "yaml"])
                .stdout
        ),
        String::from_utf8_lossy(&s.kubectl(&["-n", ns, "get", "events"]).stdout),
        s.log()
    )
}

/// Waits (up to 90 s) for the pod's phase.
pub fn wait_phase(s: &Server, ns: &str, pod: &str, phase: &str) {
    let ok = eventually(Duration::from_secs(90), || {
        jsonpath(s, ns, &format!("pod/{pod}"), "{.status.phase}") == phase
    });
    assert!(
        ok,
        "pod {pod} never reached {phase}: {}",
        describe(s, ns, pod)
    );
}

/// Creates objects from YAML in `ns`.
pub fn apply(s: &Server, ns: &str, yaml: &str) {
    s.kubectl_stdin_ok(&["-n", ns, "create", "-f", "-"], yaml);
}
