//! `skiff check`: reports every prerequisite of a node (Docker, iptables, cgroups, ports) with a
//! fix for what is missing; exits non-zero when a required one is missing.

use std::process::{Command, ExitCode};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// What was checked.
    pub name: String,
    /// Whether it is usable.
    pub ok: bool,
    /// Whether `skiff server` needs it to run pods and Services.
    pub required: bool,
    /// What was found (version, reason).
    pub detail: String,
    /// How to fix it when it is not usable.
    pub fix: String,
}

impl Outcome {
    /// The line printed for this outcome.
    pub fn line(&self) -> String {
        match (self.ok, self.required) {
            (true, _) => format!("ok      {}: {}", self.name, self.detail),
            (false, true) => format!("missing {}: {} — fix: {}", self.name, self.detail, self.fix),
            (false, false) => format!("warn    {}: {} — fix: {}", self.name, self.detail, self.fix),
        }
    }
}

fn outcome(name: &str, required: bool, result: Result<String, String>, fix: &str) -> Outcome {
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Outcome {
        name: name.to_string(),
        ok,
        required,
        detail,
        fix: fix.to_string(),
    }
}

/// Runs a command; its first output line on success, or why it failed.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(cmd).args(args).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string()),
        Ok(o) => Err(format!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("`{cmd}` cannot run: {e}")),
    }
}

/// The Docker daemon answers its API.
async fn docker() -> Result<String, String> {
    let docker =
        bollard::Docker::connect_with_local_defaults().map_err(|e| format!("no client: {e}"))?;
    let v = tokio::time::timeout(std::time::Duration::from_secs(5), docker.version())
        .await
        .map_err(|_| "the Docker daemon did not answer within 5 s".to_string())?
        .map_err(|e| format!("the Docker daemon is not reachable ({e})"))?;
    Ok(format!(
        "Docker {} (API {}) reachable",
        v.version.unwrap_or_default(),
        v.api_version.unwrap_or_default()
    ))
}

/// iptables can read the nat table (root, kernel support, nft or legacy backend).
fn iptables() -> Result<String, String> {
    let version = run("iptables", &["--version"])?;
    run("iptables", &["-t", "nat", "-S", "POSTROUTING"])?;
    run("iptables-restore", &["--version"])?;
    Ok(format!("{version}, nat table usable"))
}

/// The cgroup controllers Docker needs for CPU and memory limits.
pub fn cgroups(root: &std::path::Path) -> Result<String, String> {
    if let Ok(controllers) = std::fs::read_to_string(root.join("cgroup.controllers")) {
        let have: Vec<&str> = controllers.split_whitespace().collect();
        let missing: Vec<&str> = ["cpu", "memory", "pids"]
            .into_iter()
            .filter(|c| !have.contains(c))
            .collect();
        return if missing.is_empty() {
            Ok(format!("cgroup v2 with {}", have.join(" ")))
        } else {
            Err(format!(
                "cgroup v2 without the {} controller(s)",
                missing.join(", ")
            ))
        };
    }
    let v1: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !root.join(c).exists())
        .collect();
    if root.join("memory").exists() && v1.is_empty() {
        Ok("cgroup v1 with cpu, memory, pids".into())
    } else {
        Err(format!(
            "no cgroup hierarchy with cpu, memory and pids under {}",
            root.display()
        ))
    }
}

/// A TCP port is free on all addresses.
fn port_free(port: u16) -> Result<String, String> {
    std::net::TcpListener::bind(("0.0.0.0", port))
        .map(|_| format!("{port} is free"))
        .map_err(|e| format!("{port} is in use ({e})"))
}

/// Every check, in the order printed.
pub async fn checks(port: u16) -> Vec<Outcome> {
    vec![
        outcome(
            "docker",
            true,
            docker().await,
            crate::kubelet::runtime::START_DOCKER_HINT,
        ),
        outcome(
            "iptables",
            true,
            iptables(),
            "apt-get install -y iptables, and run skiff as root (kube-proxy writes nat/filter rules)",
        ),
        outcome(
            "cgroups",
            true,
            cgroups(std::path::Path::new("/sys/fs/cgroup")),
            "boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) or mount the cpu, memory and pids v1 controllers",
        ),
        outcome(
            "port",
            true,
            port_free(port),
            "stop what listens there, or pass --https-listen-port to use another",
        ),
        outcome(
            "kubectl",
            false,
            run("kubectl", &["version", "--client"]),
            "install kubectl to use `skiff kubectl`",
        ),
    ]
}

/// Prints one line per prerequisite; fails when a required one is missing.
pub fn main(port: u16) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcomes = rt.block_on(checks(port));
    for o in &outcomes {
        println!("{}", o.line());
    }
    if outcomes.iter().any(|o| o.required && !o.ok) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_controllers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids\n",
        )
        .unwrap();
        assert!(cgroups(dir.path()).unwrap().contains("cgroup v2"));
        std::fs::write(dir.path().join("cgroup.controllers"), "cpuset io\n").unwrap();
        let e = cgroups(dir.path()).unwrap_err();
        assert!(e.contains("cpu, memory, pids"), "{e}");
    }

    #[test]
    fn cgroup_v1_and_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(cgroups(dir.path()).is_err());
        for c in ["cpu", "memory", "pids"] {
            std::fs::create_dir(dir.path().join(c)).unwrap();
        }
        assert_eq!(
            cgroups(dir.path()).unwrap(),
            "cgroup v1 with cpu, memory, pids"
        );
    }

    #[test]
    fn lines_say_what_to_do() {
        let o = outcome("docker", true, Err("down".into()), "start it");
        assert_eq!(o.line(), "missing docker: down — fix: start it");
        let o = outcome("kubectl", false, Err("absent".into()), "install");
        assert!(o.line().starts_with("warn    kubectl"));
        let o = outcome("port", true, Ok("6443 is free".into()), "");
        assert_eq!(o.line(), "ok      port: 6443 is free");
    }
}
