//! The shared storage suite, durability and performance checks against the SQLite backend.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use skiff::storage::sqlite::SqliteStorage;
use skiff::storage::{suite, SharedStorage, Storage};
use tempfile::TempDir;

async fn fresh(dirs: &Mutex<Vec<TempDir>>) -> SharedStorage {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStorage::open(&dir.path().join("state.db"))
        .await
        .expect("open sqlite");
    dirs.lock().expect("lock").push(dir);
    Arc::new(store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_suite() {
    let dirs = Arc::new(Mutex::new(Vec::new()));
    suite::run_all(|| fresh(&dirs), "/registry/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_data_survives_drop_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let (last, kept) = {
        let s = SqliteStorage::open(&path).await.expect("open");
        let mut kept = Vec::new();
        for i in 0..100 {
            kept.push(
                s.create(&format!("/registry/k{i:03}"), Bytes::from(format!("v{i}")))
                    .await
                    .expect("create"),
            );
        }
        let u = s
            .update(
                "/registry/k000",
                Bytes::from("updated"),
                kept[0].mod_revision,
            )
            .await
            .expect("update");
        kept[0] = u;
        let (last, _) = s.delete("/registry/k099", None).await.expect("delete");
        kept.pop();
        (last, kept)
        // Dropped here without any shutdown call.
    };
    let s = SqliteStorage::open(&path).await.expect("reopen");
    assert_eq!(s.current_revision().await.expect("rev"), last);
    let all = s.range("/registry/", None, 0, 0).await.expect("range");
    assert_eq!(
        all.kvs, kept,
        "every acknowledged write is there after reopen"
    );
    let next = s
        .create("/registry/new", Bytes::from("n"))
        .await
        .expect("create after reopen");
    assert_eq!(next.mod_revision, last + 1, "revisions continue upward");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_revisions_not_reused_after_compaction_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state.db");
    let last = {
        let s = SqliteStorage::open(&path).await.expect("open");
        let kv = s.create("/registry/a", Bytes::from("1")).await.expect("c");
        let (last, _) = s.delete("/registry/a", None).await.expect("d");
        assert!(last > kv.mod_revision);
        // Removes every row: the newest revision lives only in the tombstone.
        s.compact(last).await.expect("compact");
        last
    };
    let s = SqliteStorage::open(&path).await.expect("reopen");
    assert_eq!(s.current_revision().await.expect("rev"), last);
    assert_eq!(s.compacted_revision().await.expect("compacted"), last);
    let kv = s.create("/registry/a", Bytes::from("2")).await.expect("c");
    assert!(
        kv.mod_revision > last,
        "revision {} reused",
        kv.mod_revision
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_list_10k_keys_fast() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s: SharedStorage = Arc::new(
        SqliteStorage::open(&dir.path().join("state.db"))
            .await
            .expect("open"),
    );
    let value = Bytes::from(vec![b'x'; 200]);
    let mut handles = Vec::new();
    for t in 0..50 {
        let s = s.clone();
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..200 {
                s.create(
                    &format!("/registry/pods/ns{t:02}/pod-{i:04}"),
                    value.clone(),
                )
                .await
                .expect("create");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    // Some history and noise under a neighbouring prefix.
    for i in 0..500 {
        let key = format!("/registry/pods/ns00/pod-{i:04}");
        if i < 200 {
            let cur = s.get(&key).await.expect("get").expect("present");
            s.update(&key, value.clone(), cur.mod_revision)
                .await
                .expect("update");
        }
        s.create(&format!("/registry/podsx/{i}"), value.clone())
            .await
            .expect("create");
    }
    let mut best = std::time::Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let resp = s.range("/registry/pods/", None, 0, 0).await.expect("range");
        best = best.min(t.elapsed());
        assert_eq!(resp.kvs.len(), 10_000);
    }
    let t = Instant::now();
    let page = s
        .range("/registry/pods/", Some("/registry/pods/ns25/"), 0, 500)
        .await
        .expect("page");
    let page_time = t.elapsed();
    assert_eq!(page.kvs.len(), 500);
    assert!(page.more);
    let t = Instant::now();
    assert_eq!(s.count("/registry/pods/").await.expect("count"), 10_000);
    let count_time = t.elapsed();
    println!(
        "LIST 10k keys: {best:?} (best of 5); page of 500: {page_time:?}; count: {count_time:?}"
    );
    assert!(
        best < std::time::Duration::from_millis(100),
        "LIST of 10k keys took {best:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_create_rate_64_clients() {
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 150;
    let dir = tempfile::tempdir().expect("temp dir");
    let s: SharedStorage = Arc::new(
        SqliteStorage::open(&dir.path().join("state.db"))
            .await
            .expect("open"),
    );
    let value = Bytes::from(vec![b'x'; 500]);
    let t = Instant::now();
    let mut handles = Vec::new();
    for c in 0..CLIENTS {
        let s = s.clone();
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..PER_CLIENT {
                s.create(&format!("/registry/bench/c{c:02}/k{i:04}"), value.clone())
                    .await
                    .expect("create");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let elapsed = t.elapsed();
    let total = CLIENTS * PER_CLIENT;
    let rate = total as f64 / elapsed.as_secs_f64();
    println!("{total} creates by {CLIENTS} clients in {elapsed:?}: {rate:.0} creates/s");
    assert_eq!(
        s.count("/registry/bench/").await.expect("count"),
        total as i64
    );
    // One fsync per write manages ~1,600 commits/s on the development machine; group commit must
    // reach the 3,000/s target.
    assert!(
        rate > 3000.0,
        "create rate {rate:.0}/s is below the 3,000/s target"
    );
}

#[tokio::test]
async fn open_selects_backend_from_endpoint() {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = skiff::storage::open("", dir.path())
        .await
        .expect("open sqlite");
    s.create("/registry/x", Bytes::from("1"))
        .await
        .expect("create");
    assert!(dir.path().join("db").join("state.db").exists());
    for bad in [
        "mysql://root@tcp(127.0.0.1)/k3s",
        "postgres://x",
        "127.0.0.1:2379",
    ] {
        match skiff::storage::open(bad, dir.path()).await {
            Err(skiff::storage::StorageError::Backend(msg)) => {
                assert!(msg.contains("unsupported datastore endpoint"), "{msg}")
            }
            Err(e) => panic!("{bad}: unexpected error {e:?}"),
            Ok(_) => panic!("{bad}: must be rejected"),
        }
    }
}
