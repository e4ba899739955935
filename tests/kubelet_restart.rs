//! Restart safety of the kubelet on Docker and host cleanup: `kill -9` of skiff with 10 running
//! pods adopts the same containers; leftovers of pods that are gone are removed; a clean stop
//! leaves the containers running; `skiff server --cleanup` removes them all; `skiff check`
//! reports the prerequisites.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::docker::{docker, docker_env, kubelet_server};
use common::{eventually, unique_ns};

/// Ids of the cluster's containers (all states), sorted.
fn cluster_containers(cluster: &str) -> BTreeSet<String> {
    let filter = format!("label=skiff.io/cluster={cluster}");
    docker(&["ps", "-aq", "--no-trunc", "--filter", &filter])
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn kill_9_with_ten_pods_adopts_the_same_containers_and_cleanup_removes_them() {
    if !docker_env() {
        return;
    }
    let (cleanup, mut s) = kubelet_server();
    let cluster = cleanup.0.clone();
    let ns = unique_ns("restart");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "ten",
        "--image=busybox:1.35",
        "--replicas=10",
        "--",
        "sleep",
        "3600",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "rollout",
        "status",
        "deployment/ten",
        "--timeout=120s",
    ]);
    let statuses = |s: &common::Server| {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "pods",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].containerID}{\"\\n\"}{end}",
        ])
    };
    let before_status = statuses(&s);
    assert_eq!(before_status.lines().count(), 10, "{before_status}");
    let before = cluster_containers(&cluster);
    assert_eq!(before.len(), 20, "10 sandboxes + 10 app containers");

    // A leftover of a pod that no longer exists (as after a crash mid-deletion).
    let orphan = docker(&[
        "run",
        "-d",
        "--label",
        "skiff.io/managed=true",
        "--label",
        &format!("skiff.io/cluster={cluster}"),
        "--label",
        "skiff.io/pod-uid=00000000-0000-0000-0000-00000000dead",
        "--label",
        "skiff.io/container=app",
        "busybox:1.35",
        "sleep",
        "3600",
    ]);
    let orphan = orphan.trim().to_string();
    assert!(!orphan.is_empty(), "docker run of the orphan failed");

    s.kill9();
    s.spawn();
    // Give the kubelet several sync rounds to (wrongly) start or kill anything.
    std::thread::sleep(Duration::from_secs(8));
    let orphan_gone = eventually(Duration::from_secs(30), || {
        !cluster_containers(&cluster).contains(&orphan)
    });
    assert!(orphan_gone, "the orphaned container was not removed");
    let after = cluster_containers(&cluster);
    assert_eq!(after, before, "the same 20 containers, no extras");
    let running = docker(&[
        "ps",
        "-q",
        "--no-trunc",
        "--filter",
        &format!("label=skiff.io/cluster={cluster}"),
    ]);
    assert_eq!(running.split_whitespace().count(), 20, "all still running");
    let settled = eventually(Duration::from_secs(30), || statuses(&s) == before_status);
    assert!(
        settled,
        "statuses changed:\nbefore:\n{before_status}\nafter:\n{}",
        statuses(&s)
    );
    for line in before_status.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&f[1..4], ["Running", "true", "0"], "{line}");
    }

    // A clean stop leaves the pods' containers running (they are stopped only when asked).
    let status = s.terminate().expect("server was running");
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(cluster_containers(&cluster), before);

    // `--cleanup` removes every container of this cluster and the memory mounts, then exits.
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["server", "--cleanup", "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("skiff server --cleanup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Removed 20 containers"), "{stdout}");
    assert!(cluster_containers(&cluster).is_empty(), "containers remain");
    drop(cleanup);
}

#[test]
fn check_reports_prerequisites_with_fixes() {
    if !docker_env() {
        return;
    }
    let port = common::free_port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["check", "--https-listen-port", &port])
        .output()
        .expect("skiff check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    for name in ["docker", "iptables", "cgroups", "port"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("ok      {name}: "))),
            "{name} not ok:\n{text}"
        );
    }
    assert!(text.contains(&format!("{port} is free")), "{text}");

    // Without a reachable Docker daemon (and with the port taken) it fails and says what to do.
    let taken = std::net::TcpListener::bind(("0.0.0.0", 0)).expect("bind");
    let taken_port = taken.local_addr().expect("addr").port().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["check", "--https-listen-port", &taken_port])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .expect("skiff check");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    let docker_line = text
        .lines()
        .find(|l| l.starts_with("missing docker: "))
        .unwrap_or_else(|| panic!("no docker line:\n{text}"));
    assert!(docker_line.contains("dockerd"), "{docker_line}");
    let port_line = text
        .lines()
        .find(|l| l.starts_with("missing port: "))
        .unwrap_or_else(|| panic!("no port line:\n{text}"));
    assert!(port_line.contains("--https-listen-port"), "{port_line}");
}

#[test]
fn without_docker_the_server_runs_and_the_node_says_how_to_start_it() {
    let s = common::Server::start_host_env(
        &[
            "--disable",
            "kube-proxy",
            "--disable",
            "coredns",
            "--disable",
            "servicelb",
        ],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let path = "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")]}";
    let mut last = String::new();
    let registered = eventually(Duration::from_secs(30), || {
        last = s.kubectl_ok(&["get", "nodes", "-o", path]);
        !last.trim().is_empty()
    });
    assert!(registered, "node not registered:\n{}", s.log());
    let ready: serde_json::Value = serde_json::from_str(&last).expect("condition JSON");
    assert_eq!(ready["status"], "False", "{ready}");
    assert_eq!(ready["reason"], "KubeletNotReady", "{ready}");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(message.contains("dockerd"), "{message}");
    let nodes = s.kubectl_ok(&["get", "nodes"]);
    assert!(
        nodes
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains(" NotReady ")),
        "{nodes}"
    );
    // The API keeps serving.
    s.kubectl_ok(&["create", "namespace", &unique_ns("nodocker")]);
}
