//! Child processes of the benchmark: `skiff server` and etcd, each on free ports with a temporary
//! data directory that is removed (and the process killed) on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::client::ClientConfig;
use super::BenchError;

/// Where Debian's etcd-server package installs etcd.
pub const ETCD: &str = "/usr/bin/etcd";

/// A temporary directory removed on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(tag: &str) -> Result<TempDir, BenchError> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "skiff-bench-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| BenchError::Io(format!("{}: {e}", path.display())))?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // `SKIFF_BENCH_KEEP=1` keeps the directories (server logs, data) for a look afterwards.
        if std::env::var_os("SKIFF_BENCH_KEEP").is_some() {
            eprintln!("  kept {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; another process could take it meanwhile).
pub fn free_port() -> Result<u16, BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Io(format!("cannot find a free port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BenchError::Io(format!("cannot find a free port: {e}")))
}

/// Resident set size of process `pid` in bytes (`VmRSS` of /proc/<pid>/status).
pub fn rss_bytes(pid: u32) -> Result<u64, BenchError> {
    status_kb(pid, "VmRSS:")
}

/// Peak resident set size of process `pid` in bytes (`VmHWM` of /proc/<pid>/status).
pub fn peak_rss_bytes(pid: u32) -> Result<u64, BenchError> {
    status_kb(pid, "VmHWM:")
}

fn status_kb(pid: u32, field: &str) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::Io(format!("{path}: {e}")))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| BenchError::Io(format!("{path}: no {field} line")))
}

/// CPU time (user + system) used so far by process `pid` (`self` for this process), in seconds.
pub fn cpu_seconds(pid: &str) -> Result<f64, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text =
        std::fs::read_to_string(&path).map_err(|e| BenchError::Io(format!("{path}: {e}")))?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| BenchError::Io(format!("{path}: unexpected format")))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, BenchError> {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| BenchError::Io(format!("{path}: unexpected format")))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    // `rest` starts at field 3 (state), so field 14 is index 11.
    Ok((ticks(11)? + ticks(12)?) / hz)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A running `skiff server`.
pub struct ServerProcess {
    child: Child,
    dir: TempDir,
    /// Client settings from the server's kubeconfig.
    pub client: ClientConfig,
    /// Time from spawn to the first `/readyz` 200.
    pub ready_after: Duration,
}

impl ServerProcess {
    /// Spawns the current executable as `skiff server` on a free port with a fresh data dir and
    /// waits (polling every 2 ms) until `/readyz` answers 200 with the admin client certificate.
    pub async fn start(datastore_endpoint: &str) -> Result<ServerProcess, BenchError> {
        ServerProcess::start_with(datastore_endpoint, &[]).await
    }

    /// As [`ServerProcess::start`], with extra `skiff server` flags.
    pub async fn start_with(
        datastore_endpoint: &str,
        extra: &[String],
    ) -> Result<ServerProcess, BenchError> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::Io(format!("cannot find the skiff executable: {e}")))?;
        let dir = TempDir::new("server")?;
        let port = free_port()?;
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| BenchError::Io(format!("{}: {e}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(|e| BenchError::Io(format!("{}: {e}", log_path.display())))?;
        let data = dir.path().join("data");
        let started = Instant::now();
        let child = Command::new(exe)
            .arg("server")
            .arg("--data-dir")
            .arg(&data)
            .arg("--https-listen-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .arg("--datastore-endpoint")
            .arg(datastore_endpoint)
            .args(extra)
            .env(
                "SKIFF_LOG",
                std::env::var("SKIFF_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| BenchError::Io(format!("cannot start skiff server: {e}")))?;
        let mut proc = PendingServer { child: Some(child) };
        let kubeconfig = data.join("kubeconfig.yaml");
        let deadline = started + Duration::from_secs(60);
        let mut client: Option<ClientConfig> = None;
        let mut conn = None;
        loop {
            if let Some(status) = proc.try_wait() {
                return Err(BenchError::Server(format!(
                    "skiff server exited with {status}:\n{}",
                    log_tail(&log_path)
                )));
            }
            if Instant::now() > deadline {
                return Err(BenchError::Server(format!(
                    "skiff server not ready after 60 s:\n{}",
                    log_tail(&log_path)
                )));
            }
            if client.is_none() {
                client = ClientConfig::from_kubeconfig(&kubeconfig).ok();
            }
            if let Some(c) = &client {
                if conn.is_none() {
                    conn = c.connect().await.ok();
                }
                if let Some(cn) = conn.as_mut() {
                    match cn.get("/readyz").await {
                        Ok(r) if r.status == 200 => {
                            let ready_after = started.elapsed();
                            let child = proc.take()?;
                            return Ok(ServerProcess {
                                child,
                                dir,
                                client: client.ok_or_else(|| {
                                    BenchError::Server("no client configuration".into())
                                })?,
                                ready_after,
                            });
                        }
                        Ok(_) => {}
                        Err(_) => conn = None,
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.dir.path().join("server.log"))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server child not yet ready; killed if dropped.
struct PendingServer {
    child: Option<Child>,
}

impl PendingServer {
    fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn take(&mut self) -> Result<Child, BenchError> {
        self.child
            .take()
            .ok_or_else(|| BenchError::Server("server process already taken".into()))
    }
}

impl Drop for PendingServer {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An etcd child process on free ports with a temporary data dir.
pub struct EtcdProcess {
    child: Child,
    dir: TempDir,
    /// Client URL, e.g. `http://127.0.0.1:23790`.
    pub endpoint: String,
}

impl EtcdProcess {
    /// Starts etcd and waits until it answers a read.
    pub async fn start() -> Result<EtcdProcess, BenchError> {
        if !Path::new(ETCD).exists() {
            return Err(BenchError::Etcd(format!(
                "{ETCD} is missing: install etcd-server (`apt-get install -y etcd-server`) or use \
                 --backend sqlite"
            )));
        }
        let dir = TempDir::new("etcd")?;
        let client = free_port()?;
        let peer = free_port()?;
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log_path = dir.path().join("etcd.log");
        let log = std::fs::File::create(&log_path)
            .map_err(|e| BenchError::Io(format!("{}: {e}", log_path.display())))?;
        let log2 = log
            .try_clone()
            .map_err(|e| BenchError::Io(format!("{}: {e}", log_path.display())))?;
        let child = Command::new(ETCD)
            .arg("--name=skiff-bench")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=skiff-bench={peer_url}"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| BenchError::Etcd(format!("cannot start etcd: {e}")))?;
        let mut etcd = EtcdProcess {
            child,
            dir,
            endpoint,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = etcd.child.try_wait() {
                return Err(BenchError::Etcd(format!(
                    "etcd exited with {status}:\n{}",
                    log_tail(&log_path)
                )));
            }
            if let Ok(mut c) = etcd_client::Client::connect([etcd.endpoint.as_str()], None).await {
                let probe =
                    tokio::time::timeout(Duration::from_secs(2), c.get("probe", None)).await;
                if let Ok(Ok(_)) = probe {
                    return Ok(etcd);
                }
            }
            if Instant::now() > deadline {
                return Err(BenchError::Etcd(format!(
                    "etcd did not answer within 30 s:\n{}",
                    log_tail(&log_path)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new client of this etcd.
    pub async fn client(&self) -> Result<etcd_client::Client, BenchError> {
        etcd_client::Client::connect([self.endpoint.as_str()], None)
            .await
            .map_err(|e| BenchError::Etcd(e.to_string()))
    }

    /// Deletes every key, so that the next server starts as on an empty etcd.
    pub async fn wipe(&self) -> Result<(), BenchError> {
        let mut c = self.client().await?;
        c.delete(
            vec![0u8],
            Some(etcd_client::DeleteOptions::new().with_from_key()),
        )
        .await
        .map_err(|e| BenchError::Etcd(e.to_string()))?;
        Ok(())
    }

    /// The directory holding etcd's data and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
