//! The shared storage suite against a real etcd (`/usr/bin/etcd` from Debian's etcd-server).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Etcd;
use skiff::storage::etcd::EtcdStorage;
use skiff::storage::{suite, SharedStorage, Storage};

/// Connects once etcd answers reads, failing after a timeout.
async fn connect(etcd: &Etcd) -> EtcdStorage {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(store) = EtcdStorage::connect(std::slice::from_ref(&etcd.endpoint)).await {
            let probe =
                tokio::time::timeout(Duration::from_secs(2), store.current_revision()).await;
            if let Ok(Ok(_)) = probe {
                return store;
            }
        }
        assert!(Instant::now() < deadline, "etcd did not answer within 30s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_suite() {
    let etcd = Etcd::start();
    let store: SharedStorage = Arc::new(connect(&etcd).await);
    suite::run_all(|| std::future::ready(store.clone()), "/registry/suite/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_open_from_endpoint_list() {
    let etcd = Etcd::start();
    connect(&etcd).await;
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
