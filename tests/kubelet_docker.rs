//! The kubelet on Docker, end to end: a real `skiff server` with its kubelet, real Docker
//! (installed and started by `scripts/docker-env`, which also builds `busybox:1.35` locally),
//! driven by the real kubectl.

mod common;

use std::time::Duration;

use common::docker::{docker, docker_env, jsonpath, wait_phase, Cleanup};
use common::{eventually, unique_ns, Server};

#[test]
fn pods_run_as_docker_containers() {
    if !docker_env() {
        return;
    }
    let s = Server::start_host(&[]);
    let cluster = s
        .kubectl_ok(&["get", "ns", "kube-system", "-o", "jsonpath={.metadata.uid}"])
        .trim()
        .to_string();
    let _cleanup = Cleanup(cluster.clone(), s.data_dir().to_path_buf());

    // The host registers as a Ready node running Docker.
    let ready = eventually(Duration::from_secs(30), || {
        let out = s.kubectl(&[
            "get",
            "nodes",
            "-o",
            "jsonpath={.items[0].status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        String::from_utf8_lossy(&out.stdout).trim() == "True"
    });
    assert!(
        ready,
        "node not Ready: {}\n{}",
        s.kubectl_ok(&["get", "nodes", "-o", "yaml"]),
        s.log()
    );
    let runtime = s.kubectl_ok(&[
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[0].status.nodeInfo.containerRuntimeVersion}",
    ]);
    assert!(runtime.starts_with("docker://"), "{runtime}");

    let ns = unique_ns("kubelet");
    s.kubectl_ok(&["create", "ns", &ns]);

    // A long-running pod gets an IP from the node's pod CIDR and runs.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "b",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_phase(&s, &ns, "b", "Running");
    let ip = jsonpath(&s, &ns, "pod/b", "{.status.podIP}");
    assert!(ip.starts_with("10.42."), "pod IP {ip:?}");
    let cid = jsonpath(
        &s,
        &ns,
        "pod/b",
        "{.status.containerStatuses[0].containerID}",
    );
    assert!(cid.starts_with("docker://"), "{cid}");
    let uid = jsonpath(&s, &ns, "pod/b", "{.metadata.uid}");
    let filter = format!("label=skiff.io/pod-uid={uid}");
    let ids = docker(&["ps", "-q", "--filter", &filter]);
    assert_eq!(ids.split_whitespace().count(), 2, "sandbox + app: {ids}");

    // After kill -9 and a restart the kubelet adopts the running containers (no duplicates).
    let mut s = s;
    s.kill9();
    s.spawn();
    std::thread::sleep(Duration::from_secs(6));
    let after = docker(&["ps", "-aq", "--filter", &filter]);
    assert_eq!(
        after.split_whitespace().count(),
        2,
        "after restart: {after}"
    );
    let cid_after = jsonpath(
        &s,
        &ns,
        "pod/b",
        "{.status.containerStatuses[0].containerID}",
    );
    assert_eq!(cid_after, cid, "the container was adopted, not replaced");
    assert_eq!(jsonpath(&s, &ns, "pod/b", "{.status.phase}"), "Running");

    // Logs of a pod that echoes lines.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "echo",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "echo one; echo two",
    ]);
    wait_phase(&s, &ns, "echo", "Succeeded");
    assert_eq!(s.kubectl_ok(&["-n", &ns, "logs", "echo"]), "one\ntwo\n");
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "logs", "echo", "--tail=1"]),
        "two\n"
    );

    // A failing container ends the pod Failed with its exit code.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "fail",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "exit 3",
    ]);
    wait_phase(&s, &ns, "fail", "Failed");
    let code = jsonpath(
        &s,
        &ns,
        "pod/fail",
        "{.status.containerStatuses[0].state.terminated.exitCode}",
    );
    assert_eq!(code, "3");

    // Deleting a pod stops and removes its containers, then the pod goes.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "delete",
        "pod",
        "b",
        "--grace-period=2",
        "--timeout=60s",
    ]);
    let gone = eventually(Duration::from_secs(30), || {
        docker(&["ps", "-aq", "--filter", &filter])
            .trim()
            .is_empty()
    });
    assert!(gone, "containers of the deleted pod remain");
    let err = s.kubectl_err(&["-n", &ns, "get", "pod", "b"]);
    assert!(err.contains("NotFound"), "{err}");
}
