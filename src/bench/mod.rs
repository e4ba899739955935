//! `skiff bench`: starts real servers (and etcd) as child processes and prints cold start, idle
//! memory, ConfigMap create throughput, LIST and watch latency, plus the raw rate of the storage
//! engines underneath so that the API server's overhead shows as a ratio.

pub mod api;
pub mod client;
pub mod cluster;
pub mod pods;
pub mod procs;
pub mod proxy;
pub mod raw;
pub mod stats;
pub mod watch;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use self::procs::{EtcdProcess, ServerProcess, TempDir};
use self::stats::{mib, ms, rate, Samples};
use crate::storage::SharedStorage;

/// Errors that stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Local files, processes or ports.
    #[error("{0}")]
    Io(String),
    /// The skiff server did not start or died.
    #[error("server: {0}")]
    Server(String),
    /// etcd could not be started or used.
    #[error("etcd: {0}")]
    Etcd(String),
    /// A request to the API server failed or had an unexpected answer.
    #[error("client: {0}")]
    Client(String),
    /// skiff's storage layer failed.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
}

/// Which datastores to benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// etcd started by the benchmark.
    Etcd,
    /// SQLite, then etcd.
    Both,
}

/// What `skiff bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// The API server: cold start, idle RSS, creates, LIST, watch latency, raw storage.
    Api,
    /// Simulated nodes running Deployments: time to all Running, scheduler rate, peak RSS.
    Cluster,
    /// The kubelet on Docker: pod startup latency against `docker run`, idle overhead.
    Pods,
    /// kube-proxy: rule generation and `iptables-restore` time for many Services.
    Proxy,
}

/// Flags of `skiff bench`.
#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(long, value_enum, default_value_t = Scenario::Api)]
    pub scenario: Scenario,
    /// Cluster scenario: simulated nodes.
    #[arg(long, default_value_t = 1000)]
    pub nodes: u32,
    /// Cluster scenario: Deployments created.
    #[arg(long, default_value_t = 300)]
    pub deployments: usize,
    /// Cluster scenario: replicas per Deployment.
    #[arg(long, default_value_t = 100)]
    pub replicas: usize,
    /// Pods scenario: pods started one after another.
    #[arg(long, default_value_t = 100)]
    pub pods: usize,
    /// Pods scenario: pods running while the idle server is measured.
    #[arg(long, default_value_t = 20)]
    pub idle_pods: usize,
    /// Proxy scenario: Services.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,
    /// Proxy scenario: endpoints per Service.
    #[arg(long, default_value_t = 10)]
    pub service_endpoints: usize,
    /// Cluster scenario: give up after this long, e.g. `10m`.
    #[arg(long, default_value = "10m", value_parser = crate::config::parse_duration)]
    pub timeout: Duration,
    /// Datastore(s) to measure.
    #[arg(long, value_enum, default_value_t = Backend::Both)]
    pub backend: Backend,
    /// Cold starts to time.
    #[arg(long, default_value_t = 5)]
    pub cold_starts: usize,
    /// ConfigMaps created per concurrency level.
    #[arg(long, default_value_t = 3000)]
    pub creates: usize,
    /// Concurrency levels of the create benchmark.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub clients: Vec<usize>,
    /// ConfigMaps in the namespace that is listed.
    #[arg(long, default_value_t = 10_000)]
    pub list_size: usize,
    /// Timed LISTs per format.
    #[arg(long, default_value_t = 5)]
    pub list_runs: usize,
    /// Concurrent watchers.
    #[arg(long, default_value_t = 100)]
    pub watchers: usize,
    /// Objects created then updated while watched (two events each).
    #[arg(long, default_value_t = 100)]
    pub watch_objects: usize,
}

/// The targets of BENCHMARKS.md.
const READY_TARGET: Duration = Duration::from_millis(300);
const RSS_TARGET: u64 = 40 * 1024 * 1024;
const CREATE_TARGET: f64 = 3000.0;
const LIST_TARGET: Duration = Duration::from_millis(150);
/// How long the server idles before its RSS is read.
const IDLE: Duration = Duration::from_secs(2);

/// Rows of metric → value per backend, printed as a table.
#[derive(Default)]
struct Report {
    backends: Vec<&'static str>,
    rows: Vec<(String, Vec<String>)>,
}

impl Report {
    fn set(&mut self, col: usize, metric: impl Into<String>, value: impl Into<String>) {
        let metric = metric.into();
        let width = self.backends.len();
        let idx = match self.rows.iter().position(|(m, _)| *m == metric) {
            Some(i) => i,
            None => {
                self.rows.push((metric, vec![String::new(); width]));
                self.rows.len() - 1
            }
        };
        if self.rows[idx].1.len() < width {
            self.rows[idx].1.resize(width, String::new());
        }
        let value = value.into();
        eprintln!("  [{}] {}: {value}", self.backends[col], self.rows[idx].0);
        self.rows[idx].1[col] = value;
    }

    fn print(&self) {
        let w0 = self
            .rows
            .iter()
            .map(|(m, _)| m.len())
            .max()
            .unwrap_or(6)
            .max(6);
        let widths: Vec<usize> = (0..self.backends.len())
            .map(|c| {
                self.rows
                    .iter()
                    .map(|(_, v)| v.get(c).map_or(0, |s| s.len()))
                    .max()
                    .unwrap_or(0)
                    .max(self.backends[c].len())
            })
            .collect();
        let mut head = format!("| {:w0$} |", "metric");
        let mut rule = format!("|{}|", "-".repeat(w0 + 2));
        for (b, w) in self.backends.iter().zip(&widths) {
            head.push_str(&format!(" {b:>w$} |"));
            rule.push_str(&format!("{}:|", "-".repeat(w + 1)));
        }
        println!("{head}\n{rule}");
        for (m, vals) in &self.rows {
            let mut line = format!("| {m:w0$} |");
            for (c, w) in widths.iter().enumerate() {
                let v = vals.get(c).map_or("", |s| s.as_str());
                line.push_str(&format!(" {v:>w$} |"));
            }
            println!("{line}");
        }
    }
}

/// The numbers the targets are checked against.
#[derive(Default)]
struct Headline {
    ready_median: Option<Duration>,
    idle_rss: Option<u64>,
    creates_64: Option<f64>,
    list_json: Option<Duration>,
}

/// Runs `skiff bench` with its own runtime; prints the results table on stdout.
pub fn main(args: BenchArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if rt.block_on(run(args)) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Benchmarks the selected backends; true when every benchmark ran.
pub async fn run(args: BenchArgs) -> bool {
    let backends: Vec<&'static str> = match args.backend {
        Backend::Sqlite => vec!["sqlite"],
        Backend::Etcd => vec!["etcd"],
        Backend::Both => vec!["sqlite", "etcd"],
    };
    let mut report = Report {
        backends: backends.clone(),
        rows: Vec::new(),
    };
    if args.scenario == Scenario::Cluster {
        return cluster::bench(&args, &backends).await;
    }
    if args.scenario == Scenario::Pods {
        return pods::bench(&args).await;
    }
    if args.scenario == Scenario::Proxy {
        return proxy::bench(&args).await;
    }
    let mut ok = true;
    let mut headlines = Vec::new();
    for (col, b) in backends.iter().enumerate() {
        eprintln!("# benchmarking {b}");
        let mut h = Headline::default();
        if let Err(e) = bench_backend(&args, col, *b == "etcd", &mut report, &mut h).await {
            eprintln!("error: {b}: {e}");
            ok = false;
        }
        headlines.push(h);
    }
    println!();
    report.print();
    println!();
    for (b, h) in backends.iter().zip(&headlines) {
        print_targets(b, h);
    }
    ok
}

/// PASS or FAIL.
pub fn verdict(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn print_targets(backend: &str, h: &Headline) {
    println!("targets ({backend}):");
    if let Some(d) = h.ready_median {
        println!(
            "  ready < 300 ms:           {} (median {})",
            verdict(d < READY_TARGET),
            ms(d)
        );
    }
    if let Some(r) = h.idle_rss {
        println!(
            "  idle RSS < 40 MiB:        {} ({})",
            verdict(r < RSS_TARGET),
            mib(r)
        );
    }
    if let Some(c) = h.creates_64 {
        println!(
            "  >= 3000 creates/s (64):   {} ({}){}",
            verdict(c >= CREATE_TARGET),
            rate(c),
            if backend == "sqlite" {
                ""
            } else {
                " [target is for SQLite]"
            }
        );
    }
    if let Some(d) = h.list_json {
        println!(
            "  LIST < 150 ms:            {} (median {})",
            verdict(d < LIST_TARGET),
            ms(d)
        );
    }
}

async fn bench_backend(
    args: &BenchArgs,
    col: usize,
    etcd: bool,
    report: &mut Report,
    h: &mut Headline,
) -> Result<(), BenchError> {
    let etcd_proc = if etcd {
        Some(EtcdProcess::start().await?)
    } else {
        None
    };
    let endpoint = etcd_proc
        .as_ref()
        .map(|e| e.endpoint.clone())
        .unwrap_or_default();

    // 1. Cold start, each on a fresh data dir (and an emptied etcd).
    let mut ready = Samples::default();
    let mut server = None;
    for i in 0..args.cold_starts.max(1) {
        if let Some(e) = &etcd_proc {
            e.wipe().await?;
        }
        server = None;
        let s = ServerProcess::start(&endpoint).await?;
        ready.push(s.ready_after);
        if i + 1 == args.cold_starts.max(1) {
            server = Some(s);
        }
    }
    let server = server.ok_or_else(|| BenchError::Server("no server started".into()))?;
    report.set(
        col,
        format!("cold start to /readyz, median of {}", ready.len()),
        ms(ready.median()),
    );
    report.set(
        col,
        format!("cold start to /readyz, max of {}", ready.len()),
        ms(ready.max()),
    );
    h.ready_median = Some(ready.median());

    // 2. Idle RSS.
    tokio::time::sleep(IDLE).await;
    let rss = procs::rss_bytes(server.pid())?;
    report.set(col, "idle RSS after start (2 s idle)", mib(rss));
    h.idle_rss = Some(rss);

    // 3. Create throughput.
    let cfg = server.client.clone();
    let mut admin = cfg.connect().await?;
    let mut api_rates = Vec::new();
    for &clients in &args.clients {
        let ns = format!("bench-c{clients}");
        api::ensure_namespace(&mut admin, &ns).await?;
        let server_pid = server.pid().to_string();
        let cpu_before = (
            procs::cpu_seconds(&server_pid)?,
            procs::cpu_seconds("self")?,
        );
        let run = api::create_configmaps(&cfg, &ns, "cm", clients, args.creates)
            .await
            .map_err(|e| with_log(e, &server))?;
        let per_create = |after: f64, before: f64| {
            format!(
                "{:.0} µs",
                (after - before) * 1e6 / args.creates.max(1) as f64
            )
        };
        report.set(
            col,
            format!("CPU per create, server / bench client, {clients} clients"),
            format!(
                "{} / {}",
                per_create(procs::cpu_seconds(&server_pid)?, cpu_before.0),
                per_create(procs::cpu_seconds("self")?, cpu_before.1)
            ),
        );
        report.set(
            col,
            format!(
                "API creates/s, {clients} clients ({} creates)",
                args.creates
            ),
            rate(run.per_second),
        );
        report.set(
            col,
            format!("API create latency p50 / p99, {clients} clients"),
            format!(
                "{} / {}",
                ms(run.latency.median()),
                ms(run.latency.percentile(99.0))
            ),
        );
        if clients == 64 {
            h.creates_64 = Some(run.per_second);
        }
        api_rates.push((clients, run.per_second));
    }

    // 4. LIST of a namespace with `list_size` ConfigMaps.
    let ns = "bench-list";
    api::ensure_namespace(&mut admin, ns).await?;
    let fill = api::create_configmaps(&cfg, ns, "cm", 64, args.list_size)
        .await
        .map_err(|e| with_log(e, &server))?;
    report.set(
        col,
        format!(
            "API creates/s, 64 clients ({} creates, list fill)",
            args.list_size
        ),
        rate(fill.per_second),
    );
    let (json, json_bytes) =
        api::list_configmaps(&cfg, ns, "application/json", args.list_size, args.list_runs).await?;
    report.set(
        col,
        format!(
            "LIST {} as JSON, median of {} ({:.1} MB)",
            args.list_size,
            json.len(),
            json_bytes as f64 / 1e6
        ),
        ms(json.median()),
    );
    h.list_json = Some(json.median());
    let (table, table_bytes) =
        api::list_configmaps(&cfg, ns, api::TABLE_ACCEPT, args.list_size, args.list_runs).await?;
    report.set(
        col,
        format!(
            "LIST {} as Table, median of {} ({:.1} MB)",
            args.list_size,
            table.len(),
            table_bytes as f64 / 1e6
        ),
        ms(table.median()),
    );

    // 5. Watch latency.
    let w = api::watch_latency(
        &cfg,
        "bench-watch",
        args.watchers,
        args.watch_objects,
        Duration::from_millis(10),
    )
    .await
    .map_err(|e| with_log(e, &server))?;
    let label = format!(
        "{} watchers x {} events",
        args.watchers,
        args.watch_objects * 2
    );
    report.set(
        col,
        format!("watch latency from write sent p50 / p99 ({label})"),
        format!(
            "{} / {}",
            ms(w.from_sent.median()),
            ms(w.from_sent.percentile(99.0))
        ),
    );
    report.set(
        col,
        format!("watch latency from write acked p50 / p99 ({label})"),
        format!(
            "{} / {}",
            ms(w.from_ack.median()),
            ms(w.from_ack.percentile(99.0))
        ),
    );
    report.set(col, "watch events missing", w.missing.to_string());
    let rss = procs::rss_bytes(server.pid())?;
    report.set(col, "RSS after the benchmarks", mib(rss));
    drop(admin);
    drop(server);

    // 6. The same writes without the API server.
    // On a fresh etcd: one emptied by deleting every key serves guarded transactions markedly
    // slower (about 3,000 instead of 5,000 create txns/s at 64 tasks here) while plain puts are not
    // affected.
    let etcd_proc = match etcd_proc {
        Some(old) => {
            drop(old);
            Some(EtcdProcess::start().await?)
        }
        None => None,
    };
    let dir = TempDir::new("raw")?;
    let storage: SharedStorage = match &etcd_proc {
        Some(e) => Arc::new(
            crate::storage::etcd::EtcdStorage::connect(std::slice::from_ref(&e.endpoint)).await?,
        ),
        None => raw::open_sqlite_storage(dir.path()).await?,
    };
    for &(clients, api_rate) in &api_rates {
        let prefix = format!("/registry/configmaps/raw-c{clients}/");
        let r = raw::storage_creates(&storage, &prefix, clients, args.creates).await?;
        report.set(
            col,
            format!("storage layer creates/s, {clients} tasks"),
            rate(r),
        );
        report.set(
            col,
            format!("API ÷ storage layer, {clients} clients"),
            format!("{:.2}", api_rate / r),
        );
    }
    let prefix = "/registry/configmaps/raw-list/";
    raw::storage_creates(&storage, prefix, 64, args.list_size).await?;
    let ranges = raw::storage_ranges(&storage, prefix, args.list_size, args.list_runs).await?;
    report.set(
        col,
        format!("storage layer range of {}, median", args.list_size),
        ms(ranges.median()),
    );
    report.set(
        col,
        format!("API LIST JSON ÷ storage range, {}", args.list_size),
        format!(
            "{:.1}x",
            json.median().as_secs_f64() / ranges.median().as_secs_f64().max(1e-9)
        ),
    );
    drop(storage);

    match &etcd_proc {
        None => {
            let raw = raw::sqlite_inserts(dir.path(), 1000, 20_000, 64).await?;
            report.set(
                col,
                "raw engine: sqlx insert, 1 txn per row",
                rate(raw.single),
            );
            report.set(
                col,
                format!("raw engine: sqlx insert, {} rows per txn", raw.batch),
                rate(raw.batched),
            );
            for &(clients, api_rate) in &api_rates {
                let base = if clients == 1 {
                    raw.single
                } else {
                    raw.batched
                };
                report.set(
                    col,
                    format!("API ÷ raw engine, {clients} clients"),
                    format!("{:.3}", api_rate / base),
                );
            }
        }
        Some(e) => {
            let client = e.client().await?;
            for &(clients, api_rate) in &api_rates {
                let prefix = format!("/raw/put-c{clients}/");
                let t = raw::etcd_puts(
                    &client,
                    &format!("{prefix}txn/"),
                    clients,
                    args.creates,
                    true,
                )
                .await?;
                report.set(
                    col,
                    format!("raw engine: etcd create txns, {clients} tasks"),
                    rate(t),
                );
                let r = raw::etcd_puts(&client, &prefix, clients, args.creates, false).await?;
                report.set(
                    col,
                    format!("raw engine: etcd puts, {clients} tasks"),
                    rate(r),
                );
                // The API server sends the same create txn, so that is the fair base.
                report.set(
                    col,
                    format!("API ÷ raw engine, {clients} clients"),
                    format!("{:.3}", api_rate / t),
                );
            }
        }
    }
    Ok(())
}

/// Adds the server's log to a client error (the server may have died).
/// `e` with the last lines of the server's log.
pub fn with_log(e: BenchError, server: &ServerProcess) -> BenchError {
    BenchError::Client(format!("{e}\nserver log:\n{}", server.log_tail()))
}
