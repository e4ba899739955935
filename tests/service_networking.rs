//! Service networking on a real host: kube-proxy's iptables rules, ServiceLB, the `kubernetes`
//! Service's endpoints, and the cleanup of every chain — a real `skiff server` with its
//! kubelet on real Docker, real iptables, the real kubectl and curl.
//!
//! Cluster DNS from inside pods (through the `kube-dns` ClusterIP, kube-proxy's DNAT and the
//! kubelet's resolv.conf) is checked here too: short names, headless Services, SRV, ExternalName
//! CNAMEs and StatefulSet pod names.
//!
//! Two kube-proxies on one host would fight over `KUBE-SERVICES`, so these tests hold an
//! exclusive lock on /tmp/skiff-host-network.lock while they run (other kubelet tests run
//! without kube-proxy).

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::docker::{apply, docker_env, jsonpath, kubelet_server_with, wait_phase};
use common::{eventually, unique_ns, Server};

/// Held while a test programs the host's iptables.
struct HostNetworkLock(#[allow(dead_code)] std::fs::File);

fn host_network_lock() -> HostNetworkLock {
    let f = std::fs::File::create("/tmp/skiff-host-network.lock").expect("lock file");
    f.lock().expect("flock");
    HostNetworkLock(f)
}

/// Runs `skiff server --cleanup` (with a scratch data dir: the cleanup needs none) when dropped,
/// so a failing test leaves no chains behind.
struct ProxyCleanup(std::path::PathBuf);

impl Drop for ProxyCleanup {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .args(["server", "--cleanup", "--data-dir"])
            .arg(&self.0)
            .output();
    }
}

/// Lines of both iptables backends' dumps that mention kube-proxy's chains.
fn kube_lines() -> Vec<String> {
    let mut out = Vec::new();
    for save in ["iptables-nft-save", "iptables-legacy-save"] {
        let Ok(o) = Command::new(save).output() else {
            continue;
        };
        out.extend(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| l.contains("KUBE-"))
                .map(|l| format!("{save}: {l}")),
        );
    }
    out
}

const WEB: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.35
        imagePullPolicy: Never
        command: ["sh", "-c", "touch /tmp/ready && mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
        readinessProbe:
          exec: {command: ["cat", "/tmp/ready"]}
          periodSeconds: 1
          failureThreshold: 1
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: sticky}
spec:
  selector: {app: web}
  sessionAffinity: ClientIP
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-np}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-lb}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 18080, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nothing}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: busybox:1.35
    imagePullPolicy: Never
    command: ["sleep", "3600"]
"#;

/// `n` requests to `url` from the client pod: the answers (pod hostnames), in order.
fn requests(s: &Server, ns: &str, url: &str, n: usize) -> Vec<String> {
    let script = format!("for i in $(seq {n}); do timeout 3 wget -qO- {url} || echo FAILED; done");
    let out = s.kubectl(&["-n", ns, "exec", "client", "--", "sh", "-c", &script]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn counts(answers: &[String]) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for a in answers {
        *m.entry(a.clone()).or_insert(0) += 1;
    }
    m
}

/// Number of ready endpoints of a Service's EndpointSlices.
fn ready_endpoints(s: &Server, ns: &str, svc: &str) -> Vec<String> {
    let out = s.kubectl(&[
        "-n",
        ns,
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={svc}"),
        "-o",
        "jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.addresses[0]} {end}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn pod_names(s: &Server, ns: &str) -> Vec<String> {
    jsonpath(s, ns, "pods", "{.items[*].metadata.name}")
        .split_whitespace()
        .filter(|n| n.starts_with("web-"))
        .map(str::to_string)
        .collect()
}

fn curl_host(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "3", url])
        .output()
        .expect("curl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn services_balance_follow_endpoints_and_clean_up() {
    if !docker_env() {
        return;
    }
    let _lock = host_network_lock();
    // Declared before the server, so it runs after the server is gone.
    let _proxy_cleanup = ProxyCleanup(std::env::temp_dir().join("skiff-net-cleanup"));
    let (cleanup, mut s) =
        kubelet_server_with(&["--bind-address", "0.0.0.0", "--disable", "metrics-server"]);
    let ns = unique_ns("net");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(&s, &ns, WEB);
    wait_phase(&s, &ns, "client", "Running");
    assert!(
        eventually(Duration::from_secs(90), || ready_endpoints(&s, &ns, "web")
            .len()
            == 3),
        "web never had 3 ready endpoints:\n{}",
        s.log()
    );
    let pods = pod_names(&s, &ns);
    assert_eq!(pods.len(), 3, "{pods:?}");
    let ip = jsonpath(&s, &ns, "svc/web", "{.spec.clusterIP}");

    // By DNS name (cluster DNS through kube-proxy's DNAT of 10.43.0.10), random balancing
    // over the three pods: 60 requests, each pod at least 10 (retried once: it is probabilistic).
    let url = format!("http://web.{ns}.svc.cluster.local/");
    let mut balanced = None;
    for _ in 0..2 {
        let answers = requests(&s, &ns, &url, 60);
        let c = counts(&answers);
        assert_eq!(answers.len(), 60, "{answers:?}\n{}", s.log());
        assert!(
            answers.iter().all(|a| pods.contains(a)),
            "{c:?} not from {pods:?}"
        );
        if pods.iter().all(|p| c.get(p).copied().unwrap_or(0) >= 10) {
            balanced = Some(c);
            break;
        }
        eprintln!("unbalanced run: {c:?}");
    }
    eprintln!("balance: {balanced:?}");
    assert!(balanced.is_some(), "requests not spread over {pods:?}");

    // sessionAffinity: ClientIP → one pod answers everything.
    let sticky = jsonpath(&s, &ns, "svc/sticky", "{.spec.clusterIP}");
    let c = counts(&requests(&s, &ns, &format!("http://{sticky}/"), 30));
    assert_eq!(c.len(), 1, "affinity broken: {c:?}");
    assert!(pods.contains(c.keys().next().unwrap()));

    // The kubernetes Service reaches the API server (TCP connects; TLS answers and closes).
    let out = s.kubectl(&[
        "-n",
        &ns,
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        "echo | nc -w 3 10.43.0.1 443 >/dev/null; echo rc=$?",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("rc=0"), "10.43.0.1:443 not reachable: {text}");
    assert!(!jsonpath(
        &s,
        "default",
        "endpointslice/kubernetes",
        "{.endpoints[0].addresses[0]}"
    )
    .is_empty());

    // No endpoints → REJECT: refused at once instead of a timeout.
    let empty = jsonpath(&s, &ns, "svc/empty", "{.spec.clusterIP}");
    let t = Instant::now();
    // (busybox's wget crashes on a refused connection here; nc reports it.)
    let out = s.kubectl(&[
        "-n",
        &ns,
        "exec",
        "client",
        "--",
        "sh",
        "-c",
        &format!("nc -w 5 {empty} 80 </dev/null 2>&1; echo rc=$?"),
    ]);
    let refused_in = t.elapsed();
    let err = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(err.contains("refused"), "not refused: {err}");
    assert!(refused_in < Duration::from_secs(3), "took {refused_in:?}");
    eprintln!("no endpoints: refused in {refused_in:?}");

    // NodePort and LoadBalancer from the host.
    let node_ip = jsonpath(
        &s,
        "",
        "nodes",
        "{.items[0].status.addresses[?(@.type==\"InternalIP\")].address}",
    );
    let np = jsonpath(&s, &ns, "svc/web-np", "{.spec.ports[0].nodePort}");
    let body = curl_host(&format!("http://{node_ip}:{np}/"));
    assert!(
        pods.contains(&body),
        "NodePort {node_ip}:{np} answered {body:?}\n{}",
        s.log()
    );
    let mut lb = String::new();
    assert!(eventually(Duration::from_secs(20), || {
        lb = jsonpath(
            &s,
            &ns,
            "svc/web-lb",
            "{.status.loadBalancer.ingress[0].ip}",
        );
        !lb.is_empty()
    }));
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "svc/web-lb",
            "{.status.loadBalancer.ingress[0].ipMode}"
        ),
        "VIP"
    );
    let mut body = String::new();
    assert!(
        eventually(Duration::from_secs(10), || {
            body = curl_host(&format!("http://{lb}:18080/"));
            pods.contains(&body)
        }),
        "LoadBalancer {lb}:18080 answered {body:?}"
    );

    // An unready pod stops getting traffic.
    let victim = pods[0].clone();
    s.kubectl_ok(&["-n", &ns, "exec", &victim, "--", "rm", "/tmp/ready"]);
    assert!(eventually(Duration::from_secs(20), || ready_endpoints(
        &s, &ns, "web"
    )
    .len()
        == 2));
    std::thread::sleep(Duration::from_millis(1500));
    let c = counts(&requests(&s, &ns, &format!("http://{ip}/"), 30));
    assert!(
        !c.contains_key(&victim),
        "unready {victim} still answers: {c:?}"
    );

    // Scale to one: all answers from the remaining pod soon after its slice says so.
    s.kubectl_ok(&["-n", &ns, "scale", "deploy/web", "--replicas=1"]);
    let mut ready = Vec::new();
    assert!(eventually(Duration::from_secs(30), || {
        ready = ready_endpoints(&s, &ns, "web");
        ready.len() == 1
    }));
    let t = Instant::now();
    let by_ip: HashMap<String, String> = jsonpath(
        &s,
        &ns,
        "pods",
        "{range .items[*]}{.status.podIP}={.metadata.name} {end}",
    )
    .split_whitespace()
    .filter_map(|kv| {
        kv.split_once('=')
            .map(|(a, b)| (a.to_string(), b.to_string()))
    })
    .collect();
    let survivor = by_ip.get(&ready[0]).cloned().unwrap_or_default();
    let mut converged = None;
    while t.elapsed() < Duration::from_secs(10) {
        let answers = requests(&s, &ns, &format!("http://{ip}/"), 10);
        if answers.len() == 10 && answers.iter().all(|a| *a == survivor) {
            converged = Some(t.elapsed());
            break;
        }
    }
    eprintln!("scale to 1: all answers from {survivor} after {converged:?}");
    let converged = converged.expect("never converged on the remaining pod");
    assert!(converged < Duration::from_secs(2), "took {converged:?}");

    // SIGTERM: every chain and jump goes.
    assert!(!kube_lines().is_empty());
    s.terminate();
    let left = kube_lines();
    assert!(left.is_empty(), "left after SIGTERM: {left:#?}");

    // kill -9 leaves them; `skiff server --cleanup` removes them.
    s.spawn();
    assert!(eventually(Duration::from_secs(30), || kube_lines()
        .iter()
        .any(|l| l.contains("KUBE-SVC-"))));
    s.kill9();
    assert!(!kube_lines().is_empty());
    let out = Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(["server", "--cleanup", "--data-dir"])
        .arg(s.data_dir())
        .output()
        .expect("skiff server --cleanup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left = kube_lines();
    assert!(left.is_empty(), "left after --cleanup: {left:#?}");
    drop(s);
    drop(cleanup);
}

// --- Cluster DNS as pods use it -----------------------------------------------------------

/// `kubectl exec <pod> -- <cmd…>` output (stdout and stderr), whatever the exit code.
fn exec_out(s: &Server, ns: &str, pod: &str, cmd: &[&str]) -> String {
    let mut args = vec!["-n", ns, "exec", pod, "--"];
    args.extend_from_slice(cmd);
    let out = s.kubectl(&args);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `nslookup` in the pod until its output satisfies `ok` (DNS follows objects within a
/// second; endpoints follow pods' readiness), returning the last output.
fn lookup_until(s: &Server, ns: &str, args: &[&str], ok: impl Fn(&str) -> bool) -> (bool, String) {
    let mut cmd = vec!["nslookup"];
    cmd.extend_from_slice(args);
    let mut last = String::new();
    let found = eventually(Duration::from_secs(20), || {
        last = exec_out(s, ns, "client", &cmd);
        ok(&last)
    });
    (found, last)
}

#[test]
fn names_resolve_from_inside_a_pod() {
    if !docker_env() {
        return;
    }
    let _lock = host_network_lock();
    let _proxy_cleanup = ProxyCleanup(std::env::temp_dir().join("skiff-net-cleanup"));
    let (_cleanup, s) =
        kubelet_server_with(&["--disable", "metrics-server", "--disable", "servicelb"]);
    let ns = unique_ns("poddns");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: busybox:1.35
        command: ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"]
        ports: [{name: http, containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: self0}
spec:
  selector: {statefulset.kubernetes.io/pod-name: web-0}
  ports: [{port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: db.example.org
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:1.35, command: ["sleep", "3600"]}
"#,
    );
    wait_phase(&s, &ns, "client", "Running");
    wait_phase(&s, &ns, "web-0", "Running");
    wait_phase(&s, &ns, "web-1", "Running");
    let ip0 = jsonpath(&s, &ns, "pod/web-0", "{.status.podIP}");
    let ip1 = jsonpath(&s, &ns, "pod/web-1", "{.status.podIP}");
    let front_ip = jsonpath(&s, &ns, "svc/front", "{.spec.clusterIP}");

    // The pod's resolver is the kube-dns Service, with the search path and ndots:5.
    let resolv = exec_out(&s, &ns, "client", &["cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.43.0.10"), "{resolv}");
    assert!(
        resolv.contains(&format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local"
        )),
        "{resolv}"
    );
    assert!(resolv.contains("ndots:5"), "{resolv}");

    // The API server's Service by its full name, and by a short name through the search path
    // with the libc resolver (busybox's own nslookup does not apply the search list; glibc's
    // resolver, which ping and wget use, does, with ndots:5).
    let (ok, out) = lookup_until(&s, &ns, &["kubernetes.default.svc.cluster.local"], |o| {
        o.contains("Address: 10.43.0.1")
    });
    assert!(ok, "kubernetes.default.svc.cluster.local:\n{out}");
    let mut ping = String::new();
    let resolved = eventually(Duration::from_secs(20), || {
        ping = exec_out(
            &s,
            &ns,
            "client",
            &["ping", "-c", "1", "-W", "1", "kubernetes.default"],
        );
        ping.contains("PING kubernetes.default (10.43.0.1)")
    });
    assert!(
        resolved,
        "kubernetes.default through the search path:\n{ping}"
    );

    // A headless Service: the ready endpoints' addresses.
    let headless = format!("web.{ns}.svc.cluster.local");
    let (ok, out) = lookup_until(&s, &ns, &[&headless], |o| {
        o.contains(&format!("Address: {ip0}")) && o.contains(&format!("Address: {ip1}"))
    });
    assert!(ok, "{headless} should list {ip0} and {ip1}:\n{out}");

    // SRV of the named port: one target per StatefulSet pod.
    let srv = format!("_http._tcp.web.{ns}.svc.cluster.local");
    let (ok, out) = lookup_until(&s, &ns, &["-type=srv", &srv], |o| {
        o.contains(&format!("web-0.web.{ns}.svc.cluster.local"))
            && o.contains(&format!("web-1.web.{ns}.svc.cluster.local"))
    });
    assert!(ok, "{srv}:\n{out}");
    assert!(out.contains(" 80 "), "port 80 in the SRV answer:\n{out}");

    // A StatefulSet pod by its stable name.
    let pod_name = format!("web-0.web.{ns}.svc.cluster.local");
    let (ok, out) = lookup_until(&s, &ns, &[&pod_name], |o| {
        o.contains(&format!("Address: {ip0}"))
    });
    assert!(ok, "{pod_name}:\n{out}");

    // ExternalName: a CNAME to the external name.
    let ext = format!("ext.{ns}.svc.cluster.local");
    let (ok, out) = lookup_until(&s, &ns, &["-type=cname", &ext], |o| {
        o.contains("canonical name = db.example.org")
    });
    assert!(ok, "{ext}:\n{out}");

    // A missing name is NXDOMAIN.
    let out = exec_out(
        &s,
        &ns,
        "client",
        &["nslookup", &format!("nope.{ns}.svc.cluster.local")],
    );
    assert!(out.contains("NXDOMAIN"), "{out}");

    // The ClusterIP Service answers by its short name (search path, DNS and kube-proxy).
    let url = "http://front/".to_string();
    let mut body = String::new();
    let answered = eventually(Duration::from_secs(20), || {
        body = exec_out(
            &s,
            &ns,
            "client",
            &["timeout", "3", "wget", "-q", "-O", "-", &url],
        );
        body.trim() == "web-0" || body.trim() == "web-1"
    });
    assert!(answered, "{url} ({front_ip}):\n{body}");

    // Hairpin: web-0 reaches itself through a Service whose only endpoint it is.
    let mut body = String::new();
    let hairpin = eventually(Duration::from_secs(20), || {
        body = exec_out(
            &s,
            &ns,
            "web-0",
            &["timeout", "3", "wget", "-q", "-O", "-", "http://self0/"],
        );
        body.trim() == "web-0"
    });
    assert!(hairpin, "web-0 through its own Service:\n{body}");
}
