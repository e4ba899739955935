//! The shared storage suite against a real etcd (`/usr/bin/etcd` from Debian's etcd-server).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use skiff::storage::etcd::EtcdStorage;
use skiff::storage::{suite, SharedStorage, Storage};
use tempfile::TempDir;

const ETCD: &str = "/usr/bin/etcd";

/// An etcd child process on free ports with a temporary data dir; killed on drop.
struct EtcdProcess {
    child: Child,
    endpoint: String,
    dir: TempDir,
}

impl EtcdProcess {
    fn start() -> EtcdProcess {
        assert!(
            Path::new(ETCD).exists(),
            "{ETCD} is missing: install etcd-server (`apt-get install -y etcd-server`) to run the \
             etcd storage tests (CI installs it)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let client = portpicker::pick_unused_port().expect("free port");
        let peer = portpicker::pick_unused_port().expect("free port");
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("log file");
        let child = Command::new(ETCD)
            .arg("--name=skiff-test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=skiff-test={peer_url}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start etcd");
        EtcdProcess {
            child,
            endpoint,
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// Connects once etcd answers, failing after a timeout with etcd's log.
    async fn connect(&mut self) -> EtcdStorage {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("etcd exited with {status}:\n{}", self.log());
            }
            if let Ok(store) = EtcdStorage::connect(std::slice::from_ref(&self.endpoint)).await {
                let probe =
                    tokio::time::timeout(Duration::from_secs(2), store.current_revision()).await;
                if let Ok(Ok(_)) = probe {
                    return store;
                }
            }
            if Instant::now() > deadline {
                panic!("etcd did not answer within 30s:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_suite() {
    let mut etcd = EtcdProcess::start();
    let store: SharedStorage = Arc::new(etcd.connect().await);
    suite::run_all(|| std::future::ready(store.clone()), "/registry/suite/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_open_from_endpoint_list() {
    let mut etcd = EtcdProcess::start();
    etcd.connect().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoints = format!("{},{}", etcd.endpoint, etcd.endpoint);
    let s = skiff::storage::open(&endpoints, dir.path())
        .await
        .expect("open etcd");
    let kv = s
        .create("/registry/x", bytes::Bytes::from("1"))
        .await
        .expect("create");
    assert_eq!(s.get("/registry/x").await.expect("get"), Some(kv));
    assert!(
        !dir.path().join("db").exists(),
        "etcd endpoint must not create a SQLite db"
    );
}
