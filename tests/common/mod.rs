//! Test harness: starts a real `skiff server` on a free port with a temp data dir and drives it
//! with the real kubectl and curl.

#![allow(dead_code)]

pub mod docker;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A running `skiff server` for one test.
pub struct Server {
    child: Option<Child>,
    /// Temp data dir (removed on drop).
    pub dir: tempfile::TempDir,
    /// HTTPS port.
    pub port: u16,
    /// Extra server arguments (kept for restarts).
    pub args: Vec<String>,
    /// Whether the host components (kubelet, kube-proxy, DNS, service LB, local-path storage,
    /// metrics) run; off unless the test asks for them with [`Server::start_host`].
    pub host: bool,
    /// Extra environment of the server process (kept for restarts).
    pub env: Vec<(String, String)>,
    /// Host components that run although `host` is false (see
    /// [`Server::start_with_host_components`]).
    pub host_only: Vec<String>,
}

/// The components that touch the host (Docker, iptables, ports); tests that do not start them
/// explicitly run without them, so they stay parallel-safe and need no Docker.
pub const HOST_COMPONENTS: &[&str] = &[
    "kubelet",
    "kube-proxy",
    "coredns",
    "servicelb",
    "local-storage",
    "metrics-server",
];

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    portpicker::pick_unused_port().expect("no free port")
}

impl Server {
    /// Starts a server on SQLite.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts a server for tests that create bare Node objects and play the kubelet themselves:
    /// the node lifecycle controller (which would mark such nodes unreachable after 40 s without
    /// heartbeats, as upstream does) is disabled.
    pub fn start_without_node_lifecycle() -> Server {
        Server::start_with(&["--disable", "node-lifecycle-controller"])
    }

    /// Starts a server with extra arguments (without the host components).
    pub fn start_with(args: &[&str]) -> Server {
        Server::start_inner(args, false, &[])
    }

    /// Starts a server with the host components (kubelet on Docker, kube-proxy, DNS, …) on.
    pub fn start_host(args: &[&str]) -> Server {
        Server::start_inner(args, true, &[])
    }

    /// Starts a server with the host components and extra environment variables.
    pub fn start_host_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        Server::start_full(args, true, &[], env)
    }

    /// Starts a server with only the named host components (e.g. `["coredns"]`) on.
    pub fn start_with_host_components(components: &[&str], args: &[&str]) -> Server {
        Server::start_full(args, false, components, &[])
    }

    fn start_inner(args: &[&str], host: bool, env: &[(&str, &str)]) -> Server {
        Server::start_full(args, host, &[], env)
    }

    fn start_full(args: &[&str], host: bool, host_only: &[&str], env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let dns = host || host_only.contains(&"coredns");
        if dns && !args.iter().any(|a| a == "--cluster-dns-port") {
            // Parallel tests: never the real port 53.
            args.extend(["--cluster-dns-port".to_string(), free_port().to_string()]);
        }
        let mut s = Server {
            child: None,
            dir,
            port: free_port(),
            args,
            host,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            host_only: host_only.iter().map(|s| s.to_string()).collect(),
        };
        s.spawn();
        s
    }

    /// Data dir.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kubeconfig path.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig.yaml")
    }

    /// Spawns the server process and waits for /readyz.
    pub fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .expect("log file");
        // Loopback unless the test chose an address (pods reach the API only on the host's).
        let bind: &[&str] = if self.args.iter().any(|a| a == "--bind-address") {
            &[]
        } else {
            &["--bind-address", "127.0.0.1"]
        };
        let child = Command::new(env!("CARGO_BIN_EXE_skiff"))
            .arg("server")
            .arg("--data-dir")
            .arg(self.dir.path())
            .arg("--https-listen-port")
            .arg(self.port.to_string())
            .args(bind)
            .args(&self.args)
            .args(self.disabled_host_components())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn skiff server");
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20));
    }

    /// `--disable <component>` for every host component unless the host components run.
    fn disabled_host_components(&self) -> Vec<String> {
        if self.host {
            return Vec::new();
        }
        HOST_COMPONENTS
            .iter()
            .filter(|c| !self.host_only.iter().any(|h| h == *c))
            .flat_map(|c| ["--disable".to_string(), c.to_string()])
            .collect()
    }

    /// The value of `--<flag> <value>` in the server's arguments.
    pub fn arg(&self, flag: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == flag)?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// Waits until /readyz answers 200.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let start = Instant::now();
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!("skiff server exited early ({status}); log:\n{}", self.log());
                }
            }
            if self.kubeconfig().exists() && self.curl(&["/readyz"]).0 == 200 {
                return;
            }
            if start.elapsed() > timeout {
                panic!(
                    "skiff server not ready after {timeout:?}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server with SIGKILL.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for exit; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        unsafe {
            libc::kill(c.id() as i32, libc::SIGTERM);
        }
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return Some(s);
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Runs kubectl with `stdin` piped in.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut cmd = Command::new("kubectl");
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", self.dir.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn kubectl");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl and asserts success; returns stdout.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl with stdin and asserts success; returns stdout.
    pub fn kubectl_stdin_ok(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_stdin(args, Some(stdin));
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl expecting failure; returns stderr.
    pub fn kubectl_err(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// curl with the admin client certificate: returns (status code, body).
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        self.curl_as(args, true)
    }

    /// curl, with or without the client certificate. The first argument is the path.
    pub fn curl_as(&self, args: &[&str], with_cert: bool) -> (u16, String) {
        let tls = self.dir.path().join("tls");
        let url = format!("https://127.0.0.1:{}{}", self.port, args[0]);
        let mut cmd = Command::new("curl");
        cmd.arg("-sS")
            .arg("--max-time")
            .arg("20")
            .arg("-o")
            .arg("-")
            .arg("-w")
            .arg("\n%{http_code}");
        cmd.arg("--cacert").arg(tls.join("ca.crt"));
        if with_cert {
            cmd.arg("--cert")
                .arg(tls.join("admin.crt"))
                .arg("--key")
                .arg(tls.join("admin.key"));
        }
        cmd.args(&args[1..]).arg(url);
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A unique namespace name for a test.
pub fn unique_ns(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A real etcd (Debian's etcd-server) on free ports with a temp data dir; killed on drop.
pub struct Etcd {
    child: Child,
    /// Client URL, e.g. `http://127.0.0.1:2379`.
    pub endpoint: String,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts etcd and waits until its client port accepts connections.
    pub fn start() -> Etcd {
        let bin = "/usr/bin/etcd";
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: install etcd-server (CI installs it)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let client = free_port();
        let peer = free_port();
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("log");
        let child = Command::new(bin)
            .arg("--name=skiff-test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=skiff-test={peer_url}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start etcd");
        let ok = eventually(Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", client)).is_ok()
        });
        assert!(ok, "etcd did not listen in time");
        Etcd {
            child,
            endpoint,
            dir,
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
