//! `kubectl cordon` + `kubectl drain` on simulated nodes: a Deployment's pods move off the drained
//! node onto the others, and a PodDisruptionBudget holds at every step (checked from a watch).

mod common;

use std::collections::BTreeMap;
use std::io::BufReader;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, unique_ns, Server};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// Pod name → (node, ready) of the Deployment's pods, from `kubectl get -o json`.
fn pods(s: &Server, ns: &str) -> BTreeMap<String, (String, bool)> {
    let out = s.kubectl_ok(&["-n", ns, "get", "pods", "-l", "app=web", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("pod list JSON");
    v["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                (
                    p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                    is_ready(p),
                ),
            )
        })
        .collect()
}

fn is_ready(p: &Value) -> bool {
    p["metadata"]["deletionTimestamp"].is_null()
        && p["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

#[test]
fn drain_moves_pods_to_other_nodes_and_respects_the_pdb() {
    let s = Server::start_with(&["--simulated-nodes", "3"]);
    let ns = unique_ns("drain");
    s.kubectl_ok(&["create", "ns", &ns]);
    assert!(eventually(WAIT, || {
        s.kubectl_ok(&["get", "nodes", "--no-headers"])
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
            .count()
            == 3
    }));
    let nodes: Vec<String> = s
        .kubectl_ok(&["get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"])
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let (target, others) = (nodes[0].clone(), nodes[1..].to_vec());

    // Every replica lands on the target: the other nodes are cordoned while they are created.
    for n in &others {
        s.kubectl_ok(&["cordon", n]);
    }
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
        "--replicas=4",
        "--",
        "sleep",
        "3600",
    ]);
    assert!(eventually(WAIT, || {
        let p = pods(&s, &ns);
        p.len() == 4 && p.values().all(|(n, r)| *n == target && *r)
    }));
    for n in &others {
        s.kubectl_ok(&["uncordon", n]);
    }
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=3",
    ]);
    assert!(eventually(WAIT, || {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "pdb",
            "web",
            "-o",
            "jsonpath={.status.disruptionsAllowed}",
        ]) == "1"
    }));

    // Watch the pods while the node drains: ready pods never drop below minAvailable.
    let mut watch = Command::new("kubectl")
        .args(["--kubeconfig"])
        .arg(s.kubeconfig())
        .args([
            "-n", &ns, "get", "pods", "-l", "app=web", "-w", "-o", "json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl get -w");
    let stdout = watch.stdout.take().expect("watch stdout");
    let lowest = Arc::new(Mutex::new(usize::MAX));
    let seen_events = Arc::new(Mutex::new(0usize));
    let (low, events) = (lowest.clone(), seen_events.clone());
    let reader = std::thread::spawn(move || {
        let mut ready: BTreeMap<String, bool> = BTreeMap::new();
        let stream = serde_json::Deserializer::from_reader(BufReader::new(stdout));
        for obj in stream.into_iter::<Value>().map_while(Result::ok) {
            let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
            ready.insert(name, is_ready(&obj));
            let mut seen = events.lock().unwrap();
            *seen += 1;
            if *seen < 4 {
                // Still the watch's initial list of the four pods.
                continue;
            }
            let n = ready.values().filter(|r| **r).count();
            let mut l = low.lock().unwrap();
            if n < *l {
                *l = n;
            }
        }
    });
    // The initial list of the watch shows the 4 ready pods before the drain starts.
    assert!(eventually(WAIT, || *seen_events.lock().unwrap() >= 4));

    let out = s.kubectl_ok(&[
        "drain",
        &target,
        "--ignore-daemonsets",
        "--delete-emptydir-data",
        "--timeout=120s",
    ]);
    assert!(out.contains(&format!("node/{target} cordoned")), "{out}");
    assert!(out.contains(&format!("node/{target} drained")), "{out}");
    assert!(out.contains("evicted"), "{out}");

    // All four pods run again, none on the drained node.
    assert!(eventually(WAIT, || {
        let p = pods(&s, &ns);
        p.len() == 4 && p.values().all(|(n, r)| others.contains(n) && *r)
    }));
    assert_eq!(
        s.kubectl_ok(&[
            "get",
            "node",
            &target,
            "-o",
            "jsonpath={.spec.unschedulable}"
        ]),
        "true"
    );
    let _ = watch.kill();
    let _ = watch.wait();
    let _ = reader.join();
    let lowest = *lowest.lock().unwrap();
    assert!(
        lowest >= 3,
        "the PDB (minAvailable 3) was violated: only {lowest} ready pods at one point"
    );
}
