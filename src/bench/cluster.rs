//! `skiff bench --scenario cluster`: a server with many simulated nodes runs Deployments of many
//! replicas; measured from the first create until every pod is Running: the time, the scheduler's
//! throughput (pods bound per second, from the bind times seen on a pod watch) and the server's
//! peak RSS.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Deserialize;

use super::api::ensure_namespace;
use super::client::{expect, ClientConfig};
use super::procs::EtcdProcess;
use super::procs::{self, ServerProcess};
use super::stats::{mib, ms, rate};
use super::watch::WatchLines;
use super::{verdict, with_log, BenchArgs, BenchError};

/// The shape of one cluster benchmark.
#[derive(Clone, Debug)]
pub struct ClusterShape {
    /// Simulated nodes.
    pub nodes: u32,
    /// Deployments created.
    pub deployments: usize,
    /// Replicas of each Deployment.
    pub replicas: usize,
    /// Give up after this long.
    pub timeout: Duration,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct ClusterRun {
    /// Time for the simulated nodes to register and turn Ready.
    pub nodes_ready: Duration,
    /// Time to create every Deployment (API calls only).
    pub creates_done: Duration,
    /// From the first create until the last pod was seen Running (None: timed out).
    pub all_running: Option<Duration>,
    /// Pods seen Running at the end.
    pub running: usize,
    /// Pods seen bound to a node.
    pub bound: usize,
    /// Pods bound per second between the first and the last binding.
    pub scheduler_rate: f64,
    /// Peak RSS of the server process (VmHWM).
    pub peak_rss: u64,
    /// CPU seconds the server used during the run.
    pub server_cpu: f64,
}

/// The server flags of a cluster benchmark: the nodes, a cluster CIDR big enough for a /24 per
/// node, and no host components (no Docker, iptables or DNS).
pub fn server_flags(shape: &ClusterShape) -> Vec<String> {
    let mut flags = vec![
        "--simulated-nodes".to_string(),
        shape.nodes.to_string(),
        "--cluster-cidr".to_string(),
        "10.64.0.0/12".to_string(),
    ];
    for c in [
        "kubelet",
        "kube-proxy",
        "coredns",
        "servicelb",
        "local-storage",
        "metrics-server",
    ] {
        flags.push("--disable".to_string());
        flags.push(c.to_string());
    }
    flags
}

/// The cluster scenario on each backend; prints one block of numbers and verdicts per backend.
pub async fn bench(args: &BenchArgs, backends: &[&'static str]) -> bool {
    let shape = ClusterShape {
        nodes: args.nodes,
        deployments: args.deployments,
        replicas: args.replicas,
        timeout: args.timeout,
    };
    let mut ok = true;
    for b in backends {
        eprintln!(
            "# cluster benchmark on {b}: {} nodes, {} Deployments x {} replicas",
            shape.nodes, shape.deployments, shape.replicas
        );
        match cluster_backend(&shape, *b == "etcd").await {
            Ok(run) => print_cluster(b, &shape, &run),
            Err(e) => {
                eprintln!("error: {b}: {e}");
                ok = false;
            }
        }
    }
    ok
}

async fn cluster_backend(shape: &ClusterShape, etcd: bool) -> Result<ClusterRun, BenchError> {
    let etcd_proc = if etcd {
        Some(EtcdProcess::start().await?)
    } else {
        None
    };
    let endpoint = etcd_proc
        .as_ref()
        .map(|e| e.endpoint.clone())
        .unwrap_or_default();
    let server = ServerProcess::start_with(&endpoint, &server_flags(shape)).await?;
    run(&server, shape).await.map_err(|e| with_log(e, &server))
}

fn print_cluster(backend: &str, shape: &ClusterShape, run: &ClusterRun) {
    let pods = shape.deployments * shape.replicas;
    println!(
        "cluster ({backend}): {} simulated nodes, {pods} pods",
        shape.nodes
    );
    println!("  nodes Ready after start:      {}", ms(run.nodes_ready));
    println!("  Deployments created in:       {}", ms(run.creates_done));
    match run.all_running {
        Some(d) => println!("  create to all Running:        {}", ms(d)),
        None => println!(
            "  create to all Running:        timed out ({} of {pods} Running, {} bound)",
            run.running, run.bound
        ),
    }
    println!(
        "  scheduler throughput:         {}",
        rate(run.scheduler_rate).replace("/s", " pods/s")
    );
    println!("  server peak RSS:              {}", mib(run.peak_rss));
    println!("  server CPU during the run:    {:.1} s", run.server_cpu);
    let full = shape.nodes >= 1000 && pods >= 30_000;
    let note = if full {
        ""
    } else {
        " [targets are for 1,000 nodes and 30,000 pods]"
    };
    println!("targets ({backend}){note}:");
    println!(
        "  all Running < 120 s:        {}",
        verdict(
            run.all_running
                .is_some_and(|d| d < Duration::from_secs(120))
        )
    );
    println!(
        "  scheduler >= 500 pods/s:    {}",
        verdict(run.scheduler_rate >= 500.0)
    );
    println!(
        "  peak RSS < 1 GiB:           {}",
        verdict(run.peak_rss < 1024 * 1024 * 1024)
    );
}

/// Runs the scenario against a started server.
pub async fn run(server: &ServerProcess, shape: &ClusterShape) -> Result<ClusterRun, BenchError> {
    let cfg = server.client.clone();
    let mut run = ClusterRun::default();
    let started = Instant::now();
    wait_nodes_ready(&cfg, shape.nodes as usize, shape.timeout).await?;
    run.nodes_ready = started.elapsed();
    eprintln!(
        "  {} nodes Ready after {:.1} s",
        shape.nodes,
        run.nodes_ready.as_secs_f64()
    );

    let ns = "bench-scale";
    let mut admin = cfg.connect().await?;
    ensure_namespace(&mut admin, ns).await?;
    let r = admin
        .get(&format!("/api/v1/namespaces/{ns}/pods?limit=1"))
        .await?;
    expect(&r, &[200], "list pods")?;
    let rv = serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| {
            v.pointer("/metadata/resourceVersion")
                .and_then(|x| x.as_str())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let expected = shape.deployments * shape.replicas;
    let cpu_before = procs::cpu_seconds(&server.pid().to_string())?;

    let t0 = Instant::now();
    let watcher = tokio::spawn(watch_pods(
        cfg.clone(),
        format!(
            "/api/v1/namespaces/{ns}/pods?watch=true&allowWatchBookmarks=true&resourceVersion={rv}"
        ),
        expected,
        t0,
        shape.timeout,
    ));
    create_deployments(&cfg, ns, shape).await?;
    run.creates_done = t0.elapsed();
    eprintln!(
        "  {} Deployments created after {:.1} s",
        shape.deployments,
        run.creates_done.as_secs_f64()
    );
    let seen = watcher
        .await
        .map_err(|e| BenchError::Client(format!("pod watcher: {e}")))??;
    run.server_cpu = procs::cpu_seconds(&server.pid().to_string())? - cpu_before;
    run.peak_rss = procs::peak_rss_bytes(server.pid())?;
    run.running = seen.running.len();
    run.bound = seen.bound.len();
    if run.running >= expected {
        run.all_running = seen.running.values().max().copied();
    }
    let mut binds: Vec<Duration> = seen.bound.values().copied().collect();
    binds.sort();
    if let (Some(first), Some(last)) = (binds.first(), binds.last()) {
        let span = last.saturating_sub(*first).as_secs_f64();
        if span > 0.0 {
            run.scheduler_rate = (binds.len() - 1) as f64 / span;
        }
    }
    Ok(run)
}

/// Polls the node list until `want` nodes are Ready.
pub async fn wait_nodes_ready(
    cfg: &ClientConfig,
    want: usize,
    timeout: Duration,
) -> Result<(), BenchError> {
    let deadline = Instant::now() + timeout;
    let mut conn = cfg.connect().await?;
    loop {
        let r = conn.get("/api/v1/nodes").await?;
        expect(&r, &[200], "list nodes")?;
        let list: NodeList = serde_json::from_slice(&r.body)
            .map_err(|e| BenchError::Client(format!("node list: {e}")))?;
        let ready = list.items.iter().filter(|n| n.is_ready()).count();
        if ready >= want {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(BenchError::Server(format!(
                "only {ready} of {want} nodes Ready after {timeout:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Creates the Deployments from 8 connections.
async fn create_deployments(
    cfg: &ClientConfig,
    ns: &str,
    shape: &ClusterShape,
) -> Result<(), BenchError> {
    let workers = 8;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let cfg = cfg.clone();
        let ns = ns.to_string();
        let shape = shape.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = cfg.connect().await?;
            let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
            for i in (w..shape.deployments).step_by(workers) {
                let body = deployment(&format!("scale-{i:04}"), shape.replicas);
                let r = conn.post_json(&path, body).await?;
                expect(&r, &[201], "create deployment")?;
            }
            Ok::<(), BenchError>(())
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| BenchError::Client(format!("create task: {e}")))??;
    }
    Ok(())
}

/// A Deployment of `replicas` busybox pods with small requests.
fn deployment(name: &str, replicas: usize) -> Bytes {
    let v = serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "c",
                    "image": "busybox:1.35",
                    "command": ["sleep", "3600"],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }]},
            },
        },
    });
    Bytes::from(v.to_string())
}

/// When each pod (by namespace/name) was first seen bound and Running, relative to `t0`.
#[derive(Default)]
struct Seen {
    bound: HashMap<String, Duration>,
    running: HashMap<String, Duration>,
}

/// Follows the pod watch until `expected` pods are Running or `timeout` passes.
async fn watch_pods(
    cfg: ClientConfig,
    path: String,
    expected: usize,
    t0: Instant,
    timeout: Duration,
) -> Result<Seen, BenchError> {
    let mut watch = WatchLines::start(&cfg, &path).await?;
    let mut seen = Seen::default();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_report = Instant::now();
    while seen.running.len() < expected {
        let Some(events) = watch.next_events(deadline).await? else {
            break;
        };
        let now = t0.elapsed();
        for ev in events {
            if ev.bound() {
                seen.bound.entry(ev.key()).or_insert(now);
            }
            if ev.running() {
                seen.running.entry(ev.key()).or_insert(now);
            }
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            eprintln!(
                "  {:.0} s: {} bound, {} Running",
                now.as_secs_f64(),
                seen.bound.len(),
                seen.running.len()
            );
        }
    }
    Ok(seen)
}

#[derive(Deserialize)]
struct NodeList {
    items: Vec<NodeItem>,
}

#[derive(Deserialize)]
struct NodeItem {
    #[serde(default)]
    status: NodeStatus,
}

#[derive(Deserialize, Default)]
struct NodeStatus {
    #[serde(default)]
    conditions: Vec<Condition>,
}

#[derive(Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
}

impl NodeItem {
    fn is_ready(&self) -> bool {
        self.status
            .conditions
            .iter()
            .any(|c| c.kind == "Ready" && c.status == "True")
    }
}
