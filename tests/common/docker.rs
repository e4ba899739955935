//! Docker for the kubelet tests: making it available, and removing a cluster's containers.

use std::process::Command;

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

/// `docker <args>`'s standard output.
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes every container of the cluster (its kube-system uid) when the test ends, passing
/// or not.
pub struct Cleanup(pub String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let filter = format!("label=skiff.io/cluster={}", self.0);
        for id in docker(&["ps", "-aq", "--filter", &filter]).split_whitespace() {
            docker(&["rm", "-f", id]);
        }
    }
}
