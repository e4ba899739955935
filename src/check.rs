//! `skiff check`: reports every prerequisite with a fix for what is missing.

use std::process::ExitCode;

fn have(cmd: &str) -> bool {
    std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Prints one line per prerequisite; fails when a required one is missing.
pub fn run() -> ExitCode {
    let mut ok = true;
    let checks: [(&str, bool, bool, &str); 4] = [
        (
            "kubectl",
            have("kubectl"),
            false,
            "install kubectl to use `skiff kubectl`",
        ),
        (
            "iptables",
            have("iptables"),
            false,
            "apt-get install -y iptables (needed by kube-proxy, a later component)",
        ),
        (
            "docker",
            have("docker"),
            false,
            "apt-get install -y docker.io && dockerd & (needed to run pods, a later component)",
        ),
        (
            "etcd (only for --datastore-endpoint tests)",
            have("etcd"),
            false,
            "apt-get install -y etcd-server",
        ),
    ];
    for (name, present, required, fix) in checks {
        if present {
            println!("ok      {name}");
        } else {
            println!("missing {name}: {fix}");
            if required {
                ok = false;
            }
        }
    }
    match std::net::TcpListener::bind(("0.0.0.0", 6443)) {
        Ok(_) => println!("ok      port 6443 is free"),
        Err(e) => println!("busy    port 6443 ({e}): pass --https-listen-port to use another"),
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
