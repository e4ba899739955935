//! Deployment, ReplicaSet and ReplicationController controllers driven with the real kubectl.
//!
//! There is no kubelet here: [`FakeKubelet`] stands in for it, marking every pod of the test
//! namespace Running and Ready through the `status` subresource (what a kubelet reports once
//! the containers started), and recording what it saw so the rollout invariants can be checked.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{eventually, unique_ns, Server};
use serde_json::{json, Value};

/// One look at the namespace: (active pods, ready pods, sum of ReplicaSet spec.replicas).
type Seen = (usize, usize, i64);

/// Stands in for the kubelet: makes pods Running/Ready and records observations.
struct FakeKubelet {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    handle: Option<JoinHandle<()>>,
}

fn curl(port: u16, tls: &Path, method: &str, path: &str, body: Option<&str>) -> Value {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "-X", method])
        .arg("--cacert")
        .arg(tls.join("ca.crt"))
        .arg("--cert")
        .arg(tls.join("admin.crt"))
        .arg("--key")
        .arg(tls.join("admin.key"));
    if let Some(b) = body {
        cmd.args(["-H", "Content-Type: application/merge-patch+json", "-d", b]);
    }
    cmd.arg(format!("https://127.0.0.1:{port}{path}"));
    let out = cmd.output().expect("curl");
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

impl FakeKubelet {
    fn start(server: &Server, ns: &str) -> FakeKubelet {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (port, tls, ns) = (server.port, server.data_dir().join("tls"), ns.to_string());
        let (s, o) = (stop.clone(), seen.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let pods = curl(
                    port,
                    &tls,
                    "GET",
                    &format!("/api/v1/namespaces/{ns}/pods"),
                    None,
                );
                let rss = curl(
                    port,
                    &tls,
                    "GET",
                    &format!("/apis/apps/v1/namespaces/{ns}/replicasets"),
                    None,
                );
                let items = pods["items"].as_array().cloned().unwrap_or_default();
                let active: Vec<&Value> = items
                    .iter()
                    .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
                    .collect();
                let ready = active
                    .iter()
                    .filter(|p| {
                        p["status"]["conditions"].as_array().is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        })
                    })
                    .count();
                let spec_sum: i64 = rss["items"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r["spec"]["replicas"].as_i64())
                            .sum()
                    })
                    .unwrap_or(0);
                o.lock()
                    .expect("lock")
                    .push((active.len(), ready, spec_sum));
                for p in active.iter().filter(|p| p["status"]["phase"] != "Running") {
                    let name = p["metadata"]["name"].as_str().unwrap_or_default();
                    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
                    let patch = json!({"status": {"phase": "Running", "conditions": [
                        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                        {"type": "Ready", "status": "True", "lastTransitionTime": now},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}});
                    curl(
                        port,
                        &tls,
                        "PATCH",
                        &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
                        Some(&patch.to_string()),
                    );
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        FakeKubelet {
            stop,
            seen,
            handle: Some(handle),
        }
    }

    /// Forgets what was seen so far.
    fn reset(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().expect("lock"))
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&s.kubectl_ok(&a)).expect("json")
}

/// ReplicaSets of the namespace as (name, spec.replicas, image, revision).
fn replicasets(s: &Server, ns: &str) -> Vec<(String, i64, String, String)> {
    let list = get_json(s, &["rs", "-n", ns]);
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["spec"]["replicas"].as_i64().unwrap_or(-1),
                r["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn wait_ready(s: &Server, ns: &str, want: i64) {
    let ok = eventually(Duration::from_secs(60), || {
        let d = get_json(s, &["deployment", "web", "-n", ns]);
        let st = &d["status"];
        st["readyReplicas"].as_i64().unwrap_or(0) == want
            && st["availableReplicas"].as_i64().unwrap_or(0) == want
            && st["updatedReplicas"].as_i64().unwrap_or(0) == want
            && st["replicas"].as_i64().unwrap_or(0) == want
            && st["observedGeneration"] == d["metadata"]["generation"]
    });
    assert!(
        ok,
        "deployment not {want}/{want}: {}\n{:?}",
        s.kubectl_ok(&["get", "deploy,rs,pods", "-n", ns, "-o", "wide"]),
        replicasets(s, ns)
    );
}

fn pods(s: &Server, ns: &str) -> Vec<Value> {
    get_json(s, &["pods", "-n", ns])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn deployment_rollout_lifecycle() {
    let s = Server::start();
    let ns = unique_ns("deploy");
    s.kubectl_ok(&["create", "namespace", &ns]);
    let kubelet = FakeKubelet::start(&s, &ns);
    s.kubectl_ok(&[
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
        "--replicas=3",
        "-n",
        &ns,
    ]);
    wait_ready(&s, &ns, 3);
    let rss = replicasets(&s, &ns);
    assert_eq!(rss.len(), 1, "{rss:?}");
    let (rs1, _, _, rev) = rss[0].clone();
    assert_eq!(rev, "1");
    let hash = rs1.strip_prefix("web-").expect("rs name").to_string();
    let all = pods(&s, &ns);
    assert_eq!(all.len(), 3);
    for p in &all {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["name"], rs1.as_str());
        assert_eq!(owner["kind"], "ReplicaSet");
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash.as_str());
        let name = p["metadata"]["name"].as_str().unwrap_or_default();
        assert!(name.starts_with(&format!("{rs1}-")) && name.len() == rs1.len() + 6);
    }
    let out = s.kubectl_ok(&["get", "deployment", "web", "-n", &ns]);
    assert!(out.contains("3/3"), "{out}");
    let events = s.kubectl_ok(&["get", "events", "-n", &ns]);
    assert!(
        events.contains(&format!("Scaled up replica set {rs1} from 0 to 3")),
        "{events}"
    );
    assert!(events.contains(&format!("Created pod: {rs1}-")), "{events}");

    // Rolling update: maxSurge 1, maxUnavailable 0 (25% of 3, rounded as upstream).
    kubelet.reset();
    s.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        "busybox=busybox:1.36",
        "-n",
        &ns,
    ]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    wait_ready(&s, &ns, 3);
    let seen = kubelet.reset();
    assert!(!seen.is_empty());
    for (total, ready, spec_sum) in &seen {
        assert!(*ready >= 3, "availability dropped below 3: {seen:?}");
        assert!(*spec_sum <= 4, "more than replicas + maxSurge: {seen:?}");
        assert!(*total <= 5, "pods far above surge: {seen:?}");
    }
    let rss = replicasets(&s, &ns);
    assert_eq!(rss.len(), 2, "{rss:?}");
    for (name, replicas, image, rev) in &rss {
        if *name == rs1 {
            assert_eq!((*replicas, rev.as_str()), (0, "1"));
        } else {
            assert_eq!(
                (*replicas, image.as_str(), rev.as_str()),
                (3, "busybox:1.36", "2")
            );
        }
    }
    let history = s.kubectl_ok(&["rollout", "history", "deployment/web", "-n", &ns]);
    let revs: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<u32>().is_ok())
        .collect();
    assert_eq!(revs, ["1", "2"], "{history}");

    // Undo: back to the 1.35 template, the old ReplicaSet scaled up again as revision 3.
    s.kubectl_ok(&["rollout", "undo", "deployment/web", "-n", &ns]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    wait_ready(&s, &ns, 3);
    let d = get_json(&s, &["deployment", "web", "-n", &ns]);
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"],
        "busybox:1.35"
    );
    let rss = replicasets(&s, &ns);
    let old = rss.iter().find(|r| r.0 == rs1).expect("rs1");
    assert_eq!((old.1, old.3.as_str()), (3, "3"), "{rss:?}");
    assert_eq!(
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "3"
    );

    // Scale to zero and back.
    s.kubectl_ok(&["scale", "deployment/web", "--replicas=0", "-n", &ns]);
    assert!(eventually(Duration::from_secs(30), || pods(&s, &ns).is_empty()));
    s.kubectl_ok(&["scale", "deployment/web", "--replicas=3", "-n", &ns]);
    wait_ready(&s, &ns, 3);

    // Pause: template changes do not roll; resume rolls them out.
    s.kubectl_ok(&["rollout", "pause", "deployment/web", "-n", &ns]);
    s.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        "busybox=busybox:1.37",
        "-n",
        &ns,
    ]);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(replicasets(&s, &ns).len(), 2);
    let d = get_json(&s, &["deployment", "web", "-n", &ns]);
    let progressing = d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Progressing").cloned())
        .unwrap_or_default();
    assert_eq!(progressing["reason"], "DeploymentPaused", "{d}");
    s.kubectl_ok(&["rollout", "resume", "deployment/web", "-n", &ns]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    wait_ready(&s, &ns, 3);
    assert!(replicasets(&s, &ns)
        .iter()
        .any(|r| r.2 == "busybox:1.37" && r.1 == 3));

    // Restart: a new ReplicaSet for the restartedAt annotation.
    s.kubectl_ok(&["rollout", "restart", "deployment/web", "-n", &ns]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    wait_ready(&s, &ns, 3);
    let rss = replicasets(&s, &ns);
    assert_eq!(rss.len(), 4, "{rss:?}");
    assert_eq!(rss.iter().filter(|r| r.1 > 0).count(), 1, "{rss:?}");
    let d = get_json(&s, &["deployment", "web", "-n", &ns]);
    let conds = d["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reason = |t: &str| {
        conds
            .iter()
            .find(|c| c["type"] == t)
            .map(|c| c["reason"].clone())
            .unwrap_or_default()
    };
    assert_eq!(reason("Available"), "MinimumReplicasAvailable");
    assert_eq!(reason("Progressing"), "NewReplicaSetAvailable");
}

#[test]
fn replicaset_adopts_orphans_and_replication_controller_scales() {
    let s = Server::start();
    let ns = unique_ns("rs");
    s.kubectl_ok(&["create", "namespace", &ns]);
    let _kubelet = FakeKubelet::start(&s, &ns);
    s.kubectl_stdin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        r#"apiVersion: v1
kind: Pod
metadata: {name: orphan, labels: {app: front}}
spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    s.kubectl_stdin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        r#"apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: front}
spec:
  replicas: 2
  selector: {matchLabels: {app: front}}
  template:
    metadata: {labels: {app: front}}
    spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    let ok = eventually(Duration::from_secs(30), || {
        let rs = get_json(&s, &["rs", "front", "-n", &ns]);
        rs["status"]["readyReplicas"] == 2 && rs["status"]["availableReplicas"] == 2
    });
    assert!(ok, "{}", s.kubectl_ok(&["get", "rs,pods", "-n", &ns]));
    let all = pods(&s, &ns);
    assert_eq!(all.len(), 2, "adopted orphan counts toward replicas");
    let orphan = get_json(&s, &["pod", "orphan", "-n", &ns]);
    assert_eq!(orphan["metadata"]["ownerReferences"][0]["name"], "front");
    assert_eq!(orphan["metadata"]["ownerReferences"][0]["controller"], true);

    // A pod relabelled out of the selector is released and replaced.
    s.kubectl_ok(&[
        "label",
        "pod",
        "orphan",
        "app=other",
        "--overwrite",
        "-n",
        &ns,
    ]);
    let ok = eventually(Duration::from_secs(30), || {
        let p = get_json(&s, &["pod", "orphan", "-n", &ns]);
        p["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|a| a.is_empty())
            && pods(&s, &ns).len() == 3
    });
    assert!(
        ok,
        "{}",
        s.kubectl_ok(&["get", "pods", "-n", &ns, "--show-labels"])
    );

    // Scale down deletes one pod with an event.
    s.kubectl_ok(&["scale", "rs/front", "--replicas=1", "-n", &ns]);
    assert!(eventually(Duration::from_secs(30), || pods(&s, &ns).len() == 2));
    let events = s.kubectl_ok(&["get", "events", "-n", &ns]);
    assert!(events.contains("Deleted pod: front-"), "{events}");

    // ReplicationController.
    s.kubectl_stdin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        r#"apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec: {containers: [{name: c, image: busybox}]}
"#,
    );
    let ok = eventually(Duration::from_secs(30), || {
        let rc = get_json(&s, &["rc", "legacy", "-n", &ns]);
        rc["status"]["readyReplicas"] == 2 && rc["status"]["replicas"] == 2
    });
    assert!(ok, "{}", s.kubectl_ok(&["get", "rc,pods", "-n", &ns]));
}

#[test]
fn recreate_history_limit_and_progress_deadline() {
    let s = Server::start();
    let ns = unique_ns("recreate");
    s.kubectl_ok(&["create", "namespace", &ns]);
    let kubelet = FakeKubelet::start(&s, &ns);
    s.kubectl_stdin_ok(
        &["apply", "-n", &ns, "-f", "-"],
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {kubernetes.io/change-cause: "first"}
spec:
  replicas: 2
  revisionHistoryLimit: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: busybox, image: "busybox:1.35"}]}
"#,
    );
    wait_ready(&s, &ns, 2);
    // Recreate: never old and new pods ready together.
    kubelet.reset();
    // As upstream, the deployment's annotations are copied to its current ReplicaSet, so the
    // change cause is set after the template change.
    s.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        "busybox=busybox:1.36",
        "-n",
        &ns,
    ]);
    s.kubectl_ok(&[
        "annotate",
        "deployment/web",
        "kubernetes.io/change-cause=second",
        "--overwrite",
        "-n",
        &ns,
    ]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    wait_ready(&s, &ns, 2);
    for (total, _, spec_sum) in kubelet.reset() {
        assert!(
            total <= 2 && spec_sum <= 2,
            "Recreate overlapped: {total} {spec_sum}"
        );
    }
    let history = s.kubectl_ok(&["rollout", "history", "deployment/web", "-n", &ns]);
    assert!(
        history.contains("first") && history.contains("second"),
        "{history}"
    );
    s.kubectl_ok(&[
        "set",
        "image",
        "deployment/web",
        "busybox=busybox:1.37",
        "-n",
        &ns,
    ]);
    s.kubectl_ok(&[
        "rollout",
        "status",
        "deployment/web",
        "-n",
        &ns,
        "--timeout=60s",
    ]);
    // revisionHistoryLimit 1: the new ReplicaSet plus one old one.
    assert!(
        eventually(Duration::from_secs(30), || replicasets(&s, &ns).len() == 2),
        "{:?}",
        replicasets(&s, &ns)
    );
    drop(kubelet);

    // No kubelet in this namespace: pods never get ready and the deadline passes.
    let stuck = unique_ns("stuck");
    s.kubectl_ok(&["create", "namespace", &stuck]);
    s.kubectl_ok(&[
        "create",
        "deployment",
        "slow",
        "--image=busybox",
        "--replicas=1",
        "-n",
        &stuck,
    ]);
    s.kubectl_ok(&[
        "patch",
        "deployment/slow",
        "-n",
        &stuck,
        "-p",
        r#"{"spec":{"progressDeadlineSeconds":2}}"#,
    ]);
    let ok = eventually(Duration::from_secs(30), || {
        let d = get_json(&s, &["deployment", "slow", "-n", &stuck]);
        d["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                c["type"] == "Progressing"
                    && c["status"] == "False"
                    && c["reason"] == "ProgressDeadlineExceeded"
            }) && cs
                .iter()
                .any(|c| c["type"] == "Available" && c["reason"] == "MinimumReplicasUnavailable")
        })
    });
    assert!(
        ok,
        "{}",
        s.kubectl_ok(&["get", "deployment", "slow", "-n", &stuck, "-o", "yaml"])
    );
    let err = s.kubectl_err(&["rollout", "status", "deployment/slow", "-n", &stuck]);
    assert!(err.contains("exceeded its progress deadline"), "{err}");
}
