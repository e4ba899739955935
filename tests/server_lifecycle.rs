//! The server process: restarts keep objects and the CA, SIGTERM stops it cleanly, every create
//! that got a 201 survives `kill -9`, and the same API works on a real etcd.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Etcd, Server};

#[test]
fn restart_keeps_objects_and_ca_and_sigterm_exits_cleanly() {
    let mut s = Server::start();
    let ns = common::unique_ns("restart");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "keep",
        "--from-literal=k=v",
    ]);
    let ca = std::fs::read(s.data_dir().join("tls/ca.crt")).expect("ca");
    let kubeconfig = std::fs::read_to_string(s.kubeconfig()).expect("kubeconfig");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(s.kubeconfig())
            .expect("meta")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let status = s.terminate().expect("exit status");
    assert!(status.success(), "SIGTERM exit: {status}");
    s.spawn();
    assert_eq!(
        std::fs::read(s.data_dir().join("tls/ca.crt")).expect("ca"),
        ca,
        "CA changed across restart"
    );
    assert_eq!(
        std::fs::read_to_string(s.kubeconfig()).expect("kubeconfig"),
        kubeconfig,
        "admin credentials changed"
    );
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "get", "cm", "keep", "-o", "jsonpath={.data.k}"]),
        "v"
    );
    let names = s.kubectl_ok(&["get", "ns", "-o", "name"]);
    assert_eq!(
        names
            .lines()
            .filter(|l| l.starts_with("namespace/default"))
            .count(),
        1,
        "{names}"
    );
    let svcs = s.kubectl_ok(&["get", "svc", "-A", "-o", "name"]);
    assert_eq!(svcs, "service/kubernetes\n");
}

#[test]
fn acknowledged_creates_survive_kill_9() {
    let mut s = Server::start();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let tls = s.data_dir().join("tls");
    let port = s.port;
    let mut workers = Vec::new();
    for w in 0..6 {
        let acked = acked.clone();
        let stop = stop.clone();
        let tls = tls.clone();
        workers.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("burst-{w}-{i}");
                i += 1;
                let body = format!(r#"{{"metadata":{{"name":"{name}"}},"data":{{"i":"{i}"}}}}"#);
                let out = std::process::Command::new("curl")
                    .args([
                        "-sS",
                        "--max-time",
                        "5",
                        "-o",
                        "/dev/null",
                        "-w",
                        "%{http_code}",
                    ])
                    .arg("--cacert")
                    .arg(tls.join("ca.crt"))
                    .arg("--cert")
                    .arg(tls.join("admin.crt"))
                    .arg("--key")
                    .arg(tls.join("admin.key"))
                    .args([
                        "-X",
                        "POST",
                        "-H",
                        "Content-Type: application/json",
                        "-d",
                        &body,
                    ])
                    .arg(format!(
                        "https://127.0.0.1:{port}/api/v1/namespaces/default/configmaps"
                    ))
                    .output();
                match out {
                    Ok(o) if String::from_utf8_lossy(&o.stdout) == "201" => {
                        acked.lock().expect("lock").push(name)
                    }
                    _ => {}
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        let _ = w.join();
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() > 20,
        "too few creates before the kill: {}",
        acked.len()
    );
    s.spawn();
    let listed = s.kubectl_ok(&["-n", "default", "get", "cm", "-o", "name"]);
    let missing: Vec<&String> = acked
        .iter()
        .filter(|n| !listed.contains(&format!("configmap/{n}\n")))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged creates lost after kill -9: {missing:?}",
        missing.len()
    );
}

#[test]
fn api_on_real_etcd() {
    let etcd = Etcd::start();
    let mut s = Server::start_with(&["--datastore-endpoint", &etcd.endpoint]);
    let ns = common::unique_ns("etcd");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
    ]);
    s.kubectl_ok(&["-n", &ns, "label", "cm", "cfg", "x=y"]);
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "get", "cm", "-l", "x=y", "-o", "name"]),
        "configmap/cfg\n"
    );
    let stale = s.kubectl_ok(&["-n", &ns, "get", "cm", "cfg", "-o", "json"]);
    s.kubectl_ok(&["-n", &ns, "label", "cm", "cfg", "y=z"]);
    let out = s.kubectl_stdin(&["replace", "-f", "-"], Some(&stale));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(Conflict)"));
    s.terminate();
    s.spawn();
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "busybox:1.35"
    );
    s.kubectl_ok(&["delete", "ns", &ns, "--timeout=30s"]);
}
