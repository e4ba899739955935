//! The shared storage suite, durability and concurrency checks against the SQLite backend.
//! Speed is measured by `skiff bench`, not by timed tests.

use std::sync::{Arc, Mutex};

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

/// 10,000 keys written by 50 concurrent tasks, plus history and a neighbouring prefix, are all
/// listed, paged and counted. The speed of this LIST is measured by `skiff bench`, not here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_list_10k_keys_complete() {
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
    let resp = s.range("/registry/pods/", None, 0, 0).await.expect("range");
    assert_eq!(resp.kvs.len(), 10_000);
    assert!(!resp.more);
    assert!(
        resp.kvs.windows(2).all(|w| w[0].key < w[1].key),
        "keys in ascending order, each once"
    );
    assert!(resp
        .kvs
        .iter()
        .all(|kv| kv.key.starts_with("/registry/pods/")));
    let page = s
        .range("/registry/pods/", Some("/registry/pods/ns25/"), 0, 500)
        .await
        .expect("page");
    assert_eq!(page.kvs.len(), 500);
    assert!(page.more);
    assert_eq!(page.kvs[0].key, "/registry/pods/ns25/pod-0000");
    assert_eq!(s.count("/registry/pods/").await.expect("count"), 10_000);
}

/// 64 concurrent clients' creates are all acknowledged with distinct revisions and all stored.
/// The create rate is measured by `skiff bench`, not here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_creates_64_clients_all_acknowledged() {
    const CLIENTS: usize = 64;
    const PER_CLIENT: usize = 150;
    let dir = tempfile::tempdir().expect("temp dir");
    let s: SharedStorage = Arc::new(
        SqliteStorage::open(&dir.path().join("state.db"))
            .await
            .expect("open"),
    );
    let value = Bytes::from(vec![b'x'; 500]);
    let mut handles = Vec::new();
    for c in 0..CLIENTS {
        let s = s.clone();
        let value = value.clone();
        handles.push(tokio::spawn(async move {
            let mut revs = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                let kv = s
                    .create(&format!("/registry/bench/c{c:02}/k{i:04}"), value.clone())
                    .await
                    .expect("create");
                revs.push(kv.mod_revision);
            }
            revs
        }));
    }
    let mut revs = Vec::new();
    for h in handles {
        revs.extend(h.await.expect("task"));
    }
    let total = CLIENTS * PER_CLIENT;
    assert_eq!(revs.len(), total, "every create acknowledged");
    revs.sort_unstable();
    revs.dedup();
    assert_eq!(
        revs.len(),
        total,
        "every acknowledged create has its own revision"
    );
    assert_eq!(
        s.count("/registry/bench/").await.expect("count"),
        total as i64
    );
    let all = s
        .range("/registry/bench/", None, 0, 0)
        .await
        .expect("range");
    assert_eq!(all.kvs.len(), total, "every acknowledged create is listed");
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
