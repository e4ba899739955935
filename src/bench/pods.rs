//! `skiff bench --scenario pods`: the kubelet on Docker. A server with its kubelet (no simulated
//! nodes) starts pods of an image Docker already has, one after another; measured: the time
//! from each create until the pod is seen Running on a watch (p50/p99), the same for a plain
//! `docker run -d` of the same image on the same machine, and the server's CPU and RSS while
//! `idle_pods` pods run and nothing changes.

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::api::ensure_namespace;
use super::client::{expect, ClientConfig};
use super::cluster::wait_nodes_ready;
use super::procs::{self, ServerProcess};
use super::stats::{mib, ms, Samples};
use super::watch::WatchLines;
use super::{with_log, BenchArgs, BenchError};

/// The image every pod and `docker run` uses (built by `scripts/docker-env`).
const IMAGE: &str = "busybox:1.35";
/// Namespace of the benchmark's pods.
const NAMESPACE: &str = "bench-pods";
/// How long the server is watched while idle.
const IDLE_WINDOW: Duration = Duration::from_secs(30);
/// The targets of BENCHMARKS.md: p99 under 1.5 s and under twice Docker's own p99.
const P99_TARGET: Duration = Duration::from_millis(1500);

/// The shape of one run.
#[derive(Clone, Debug)]
pub struct PodsShape {
    /// Pods started (and plain `docker run`s timed).
    pub pods: usize,
    /// Pods running while the idle overhead is measured.
    pub idle_pods: usize,
    /// Give up on one pod after this long.
    pub timeout: Duration,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct PodsRun {
    /// Create → Running of each pod.
    pub startup: Samples,
    /// Wall time of each `docker run -d`.
    pub docker: Samples,
    /// Server CPU (% of one core) while `idle_pods` pods ran.
    pub idle_cpu_percent: f64,
    /// Server RSS while `idle_pods` pods ran.
    pub idle_rss: u64,
}

/// The server flags: the kubelet on, the other host components and the simulator off.
pub fn server_flags() -> Vec<String> {
    let mut flags = Vec::new();
    for c in ["kube-proxy", "coredns", "servicelb", "metrics-server"] {
        flags.push("--disable".to_string());
        flags.push(c.to_string());
    }
    flags
}

/// Fails early, with the fix, when Docker does not answer or lacks the image.
pub fn check_docker() -> Result<(), BenchError> {
    let ok = |args: &[&str]| {
        Command::new("docker")
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ok(&["info"]) {
        return Err(BenchError::Io(
            "Docker does not answer; run scripts/docker-env (installs and starts it)".into(),
        ));
    }
    if !ok(&["image", "inspect", IMAGE]) {
        return Err(BenchError::Io(format!(
            "Docker has no {IMAGE}; run scripts/docker-env (builds it)"
        )));
    }
    Ok(())
}

/// The pods scenario (SQLite only: it measures the kubelet, not the datastore).
pub async fn bench(args: &BenchArgs) -> bool {
    let shape = PodsShape {
        pods: args.pods.max(1),
        idle_pods: args.idle_pods.clamp(1, args.pods.max(1)),
        timeout: Duration::from_secs(60),
    };
    eprintln!(
        "# pods benchmark: {} pods on the Docker kubelet",
        shape.pods
    );
    let result = async {
        check_docker()?;
        let server = ServerProcess::start_with("", &server_flags()).await?;
        let uid = cluster_uid(&server.client).await?;
        let run = run(&server, &shape).await.map_err(|e| with_log(e, &server));
        // The server first, or its kubelet would restart what is removed.
        drop(server);
        remove_containers(&format!("{}={uid}", crate::kubelet::CLUSTER_LABEL));
        run
    }
    .await;
    match result {
        Ok(run) => {
            print(&shape, &run);
            true
        }
        Err(e) => {
            eprintln!("error: pods: {e}");
            false
        }
    }
}

/// Runs the scenario against a started server with its kubelet.
pub async fn run(server: &ServerProcess, shape: &PodsShape) -> Result<PodsRun, BenchError> {
    let cfg = server.client.clone();
    wait_nodes_ready(&cfg, 1, Duration::from_secs(60)).await?;
    let mut admin = cfg.connect().await?;
    ensure_namespace(&mut admin, NAMESPACE).await?;
    let mut run = PodsRun::default();

    // The first pod also imports the pause image and creates the pod network: not counted.
    start_pod(&cfg, "warm-up", shape.timeout).await?;
    eprintln!("  warm-up pod Running");
    for i in 0..shape.pods {
        let took = start_pod(&cfg, &format!("p-{i:03}"), shape.timeout).await?;
        run.startup.push(took);
        if i + 1 == shape.idle_pods {
            eprintln!(
                "  {} pods Running; measuring the idle server for {} s",
                i + 2,
                IDLE_WINDOW.as_secs()
            );
            tokio::time::sleep(Duration::from_secs(5)).await;
            let pid = server.pid().to_string();
            let before = procs::cpu_seconds(&pid)?;
            tokio::time::sleep(IDLE_WINDOW).await;
            let used = procs::cpu_seconds(&pid)? - before;
            run.idle_cpu_percent = used / IDLE_WINDOW.as_secs_f64() * 100.0;
            run.idle_rss = procs::rss_bytes(server.pid())?;
        }
    }
    eprintln!("  {} pods started; timing docker run", shape.pods);
    run.docker = time_docker_runs(shape.pods)?;
    Ok(run)
}

/// Creates pod `name` and waits (on a watch opened before the create) until it is Running;
/// returns the time from the create request until then.
async fn start_pod(
    cfg: &ClientConfig,
    name: &str,
    timeout: Duration,
) -> Result<Duration, BenchError> {
    let mut conn = cfg.connect().await?;
    let list = conn
        .get(&format!(
            "/api/v1/namespaces/{NAMESPACE}/pods?fieldSelector=metadata.name%3D{name}"
        ))
        .await?;
    expect(&list, &[200], "list pods")?;
    let rv = serde_json::from_slice::<serde_json::Value>(&list.body)
        .ok()
        .and_then(|v| {
            v.pointer("/metadata/resourceVersion")?
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default();
    let mut watch = WatchLines::start(
        cfg,
        &format!(
            "/api/v1/namespaces/{NAMESPACE}/pods?watch=true&fieldSelector=metadata.name%3D{name}&resourceVersion={rv}"
        ),
    )
    .await?;
    let t0 = Instant::now();
    let r = conn
        .post_json(&format!("/api/v1/namespaces/{NAMESPACE}/pods"), pod(name))
        .await?;
    expect(&r, &[201], "create pod")?;
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let Some(events) = watch.next_events(deadline).await? else {
            return Err(BenchError::Server(format!(
                "pod {name} not Running after {timeout:?}"
            )));
        };
        if events.iter().any(|e| e.running()) {
            return Ok(t0.elapsed());
        }
    }
}

/// A pod that sleeps, of an image Docker has.
fn pod(name: &str) -> Bytes {
    let v = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}],
        },
    });
    Bytes::from(v.to_string())
}

/// Times `n` plain `docker run -d` of the image (then removes those containers).
fn time_docker_runs(n: usize) -> Result<Samples, BenchError> {
    let label = format!("skiff.bench={}", std::process::id());
    let mut samples = Samples::default();
    let mut result = Ok(());
    for _ in 0..n {
        let t0 = Instant::now();
        let out = Command::new("docker")
            .args(["run", "-d", "--label", &label, IMAGE, "sleep", "3600"])
            .output()
            .map_err(|e| BenchError::Io(format!("docker run: {e}")))?;
        if !out.status.success() {
            result = Err(BenchError::Io(format!(
                "docker run: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
            break;
        }
        samples.push(t0.elapsed());
    }
    remove_containers(&label);
    result.map(|()| samples)
}

/// Removes every Docker container with `label` (`key=value`).
pub fn remove_containers(label: &str) {
    let filter = format!("label={label}");
    let Ok(out) = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .output();
    }
}

/// The cluster's kube-system uid: the value of the kubelet's `skiff.io/cluster` label.
pub async fn cluster_uid(cfg: &ClientConfig) -> Result<String, BenchError> {
    let mut conn = cfg.connect().await?;
    let r = conn.get("/api/v1/namespaces/kube-system").await?;
    expect(&r, &[200], "get kube-system")?;
    serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.pointer("/metadata/uid")?.as_str().map(str::to_string))
        .ok_or_else(|| BenchError::Client("kube-system has no uid".into()))
}

/// Prints the numbers and the verdicts.
pub fn print(shape: &PodsShape, run: &PodsRun) {
    let (p50, p99) = (run.startup.median(), run.startup.percentile(99.0));
    let (d50, d99) = (run.docker.median(), run.docker.percentile(99.0));
    println!(
        "pods: {} pods on the Docker kubelet, image {IMAGE} present",
        shape.pods
    );
    println!("  create to Running, p50:       {}", ms(p50));
    println!("  create to Running, p99:       {}", ms(p99));
    println!("  create to Running, max:       {}", ms(run.startup.max()));
    println!("  docker run -d, p50:           {}", ms(d50));
    println!("  docker run -d, p99:           {}", ms(d99));
    println!(
        "  idle with {} pods: server CPU {:.1} % of a core, RSS {}",
        shape.idle_pods,
        run.idle_cpu_percent,
        mib(run.idle_rss)
    );
    let ratio = p99.as_secs_f64() / d99.as_secs_f64().max(1e-9);
    println!("targets:");
    println!(
        "  p99 < 1.5 s:                  {}",
        super::verdict(p99 < P99_TARGET)
    );
    println!(
        "  p99 < 2x docker's p99:        {} ({ratio:.2}x)",
        super::verdict(ratio < 2.0)
    );
}
