//! The shared conformance suite for [`Storage`] backends. Every check takes a store and a key
//! `root` (ending in `/`) it owns exclusively, and panics with a clear message on failure, so the
//! same checks run against SQLite (a fresh store each) and etcd (one server, a root per check).

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;

use super::{Event, Revision, SharedStorage, StorageError, WatchStream};

/// How long a check waits for one watch event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

fn val(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

/// The next event of `w`, panicking on timeout, end of stream or error.
pub async fn next_event(w: &mut WatchStream) -> Event {
    match tokio::time::timeout(EVENT_TIMEOUT, w.next()).await {
        Err(_) => panic!("no watch event within {EVENT_TIMEOUT:?}"),
        Ok(None) => panic!("watch stream ended unexpectedly"),
        Ok(Some(Err(e))) => panic!("watch stream failed: {e}"),
        Ok(Some(Ok(ev))) => ev,
    }
}

fn expect_put(ev: &Event, key: &str, value: &str) -> Revision {
    match ev {
        Event::Put { kv, .. } if kv.key == key && kv.value == value.as_bytes() => kv.mod_revision,
        other => panic!("expected put of {key}={value}, got {other:?}"),
    }
}

/// Runs every check, each with a store from `make` and its own root under `root`; compaction
/// runs last because on a shared etcd it affects the whole keyspace.
pub async fn run_all<F, Fut>(mut make: F, root: &str)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = SharedStorage>,
{
    macro_rules! run {
        ($($check:ident),* $(,)?) => {$(
            let store = make().await;
            let check_root = format!("{root}{}/", stringify!($check));
            tracing::info!(check = stringify!($check), "running storage check");
            $check(&store, &check_root).await;
        )*};
    }
    run!(
        create_get,
        create_already_exists,
        update_conflict,
        update_missing,
        delete_guarded_and_unguarded,
        range_order_and_prefix_isolation,
        range_limit_continue,
        range_old_revision,
        revisions_increase,
        watch_replay_then_live,
        watch_during_writes,
        watch_prefix_filter,
        watch_delete_carries_prev,
        future_revision,
        count,
        concurrent_creates,
        compaction,
    );
}

/// Create then get returns the stored value with create == mod revision.
pub async fn create_get(s: &SharedStorage, root: &str) {
    let key = format!("{root}k");
    let kv = s.create(&key, val("v1")).await.expect("create");
    assert_eq!(kv.key, key);
    assert_eq!(kv.value, val("v1"));
    assert_eq!(
        kv.create_revision, kv.mod_revision,
        "fresh key: create == mod"
    );
    assert!(kv.mod_revision > 0, "revision must be positive");
    assert_eq!(s.current_revision().await.expect("rev"), kv.mod_revision);
    let got = s.get(&key).await.expect("get").expect("key present");
    assert_eq!(got, kv, "get returns what create stored");
    assert_eq!(s.get(&format!("{root}missing")).await.expect("get"), None);
}

/// A second create of the same key fails with AlreadyExists and changes nothing.
pub async fn create_already_exists(s: &SharedStorage, root: &str) {
    let key = format!("{root}k");
    let kv = s.create(&key, val("v1")).await.expect("create");
    let err = s.create(&key, val("v2")).await.expect_err("second create");
    assert_eq!(err, StorageError::AlreadyExists(key.clone()));
    assert_eq!(s.get(&key).await.expect("get"), Some(kv.clone()));
    assert_eq!(s.current_revision().await.expect("rev"), kv.mod_revision);
}

/// Update with the right mod revision succeeds; a stale one gives Conflict with the current one.
pub async fn update_conflict(s: &SharedStorage, root: &str) {
    let key = format!("{root}k");
    let v1 = s.create(&key, val("v1")).await.expect("create");
    let v2 = s
        .update(&key, val("v2"), v1.mod_revision)
        .await
        .expect("update");
    assert!(v2.mod_revision > v1.mod_revision);
    assert_eq!(
        v2.create_revision, v1.create_revision,
        "update keeps create rev"
    );
    assert_eq!(v2.value, val("v2"));
    let err = s
        .update(&key, val("v3"), v1.mod_revision)
        .await
        .expect_err("stale update");
    assert_eq!(
        err,
        StorageError::Conflict {
            key: key.clone(),
            expected: v1.mod_revision,
            current: v2.mod_revision
        }
    );
    assert_eq!(s.get(&key).await.expect("get"), Some(v2));
}

/// Update of a missing key gives NotFound.
pub async fn update_missing(s: &SharedStorage, root: &str) {
    let key = format!("{root}missing");
    let err = s.update(&key, val("v"), 5).await.expect_err("update");
    assert_eq!(err, StorageError::NotFound(key.clone()));
    let err = s.update(&key, val("v"), 0).await.expect_err("update 0");
    assert_eq!(err, StorageError::NotFound(key.clone()));
    assert_eq!(s.get(&key).await.expect("get"), None);
}

/// Guarded delete checks the mod revision; unguarded delete does not; missing keys give NotFound.
pub async fn delete_guarded_and_unguarded(s: &SharedStorage, root: &str) {
    let a = format!("{root}a");
    let b = format!("{root}b");
    let a1 = s.create(&a, val("a1")).await.expect("create a");
    let a2 = s
        .update(&a, val("a2"), a1.mod_revision)
        .await
        .expect("upd a");
    let err = s
        .delete(&a, Some(a1.mod_revision))
        .await
        .expect_err("stale delete");
    assert_eq!(
        err,
        StorageError::Conflict {
            key: a.clone(),
            expected: a1.mod_revision,
            current: a2.mod_revision
        }
    );
    let (rev, prev) = s.delete(&a, Some(a2.mod_revision)).await.expect("delete a");
    assert!(rev > a2.mod_revision);
    assert_eq!(prev, a2, "delete returns the last state");
    assert_eq!(s.get(&a).await.expect("get"), None);
    assert_eq!(s.current_revision().await.expect("rev"), rev);

    let b1 = s.create(&b, val("b1")).await.expect("create b");
    let (rev_b, prev_b) = s.delete(&b, None).await.expect("delete b");
    assert!(rev_b > rev);
    assert_eq!(prev_b, b1);

    assert_eq!(
        s.delete(&b, None).await.expect_err("delete missing"),
        StorageError::NotFound(b.clone())
    );
    assert_eq!(
        s.delete(&b, Some(b1.mod_revision))
            .await
            .expect_err("guarded delete missing"),
        StorageError::NotFound(b.clone())
    );

    // A deleted key can be created again with a fresh create revision.
    let a3 = s.create(&a, val("a3")).await.expect("recreate a");
    assert_eq!(a3.create_revision, a3.mod_revision);
    assert!(a3.create_revision > rev_b);
}

/// Range returns keys in ascending order and `/x/a/` does not match `/x/ab/`.
pub async fn range_order_and_prefix_isolation(s: &SharedStorage, root: &str) {
    for k in ["a/3", "a/1", "ab/1", "a/2", "a", "b/1", "a/0/deep"] {
        s.create(&format!("{root}{k}"), val(k))
            .await
            .expect("create");
    }
    let resp = s
        .range(&format!("{root}a/"), None, 0, 0)
        .await
        .expect("range");
    let keys: Vec<_> = resp.kvs.iter().map(|kv| kv.key.clone()).collect();
    let want: Vec<_> = ["a/0/deep", "a/1", "a/2", "a/3"]
        .iter()
        .map(|k| format!("{root}{k}"))
        .collect();
    assert_eq!(keys, want, "prefix a/ must not match ab/ or a");
    assert!(!resp.more);
    assert_eq!(resp.revision, s.current_revision().await.expect("rev"));
    for kv in &resp.kvs {
        assert_eq!(kv.value, &kv.key.as_bytes()[root.len()..]);
    }

    let all = s.range(root, None, 0, 0).await.expect("range all");
    let keys: Vec<_> = all
        .kvs
        .iter()
        .map(|kv| kv.key[root.len()..].to_string())
        .collect();
    assert_eq!(keys, ["a", "a/0/deep", "a/1", "a/2", "a/3", "ab/1", "b/1"]);

    let none = s
        .range(&format!("{root}zzz/"), None, 0, 0)
        .await
        .expect("empty range");
    assert!(none.kvs.is_empty() && !none.more);
}

/// Paging with limit and a start key (`last_key + "\0"`) visits every key exactly once.
pub async fn range_limit_continue(s: &SharedStorage, root: &str) {
    let mut want = Vec::new();
    for i in 0..25 {
        let key = format!("{root}item-{i:03}");
        s.create(&key, val("x")).await.expect("create");
        want.push(key);
    }
    s.create(&format!("{root}item-999"), val("x"))
        .await
        .expect("create");
    s.delete(&format!("{root}item-999"), None)
        .await
        .expect("delete");
    let rev = s.current_revision().await.expect("rev");
    // Written after the listing started: must not show up in pages read at `rev`.
    let late = format!("{root}item-500");

    let mut got = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let resp = s
            .range(root, start.as_deref(), rev, 10)
            .await
            .expect("range page");
        assert!(resp.kvs.len() <= 10, "limit respected");
        assert_eq!(resp.revision, rev);
        got.extend(resp.kvs.iter().map(|kv| kv.key.clone()));
        pages += 1;
        if pages == 1 {
            s.create(&late, val("late")).await.expect("create late");
        }
        if !resp.more {
            break;
        }
        let last = resp.kvs.last().expect("a page with more has keys");
        start = Some(format!("{}\0", last.key));
        assert!(pages < 10, "paging does not terminate");
    }
    assert_eq!(got, want, "pages cover every key exactly once, in order");
    assert_eq!(pages, 3);

    let exact = s.range(root, None, rev, 25).await.expect("range 25");
    assert_eq!(exact.kvs.len(), 25);
    assert!(!exact.more, "no more when exactly limit keys exist");
    let now = s.range(root, None, 0, 0).await.expect("range now");
    assert_eq!(now.kvs.len(), 26, "the late key is visible now");
}

/// A range at an older revision sees the state of that time.
pub async fn range_old_revision(s: &SharedStorage, root: &str) {
    let a = format!("{root}a");
    let b = format!("{root}b");
    let a1 = s.create(&a, val("a1")).await.expect("create a");
    let b1 = s.create(&b, val("b1")).await.expect("create b");
    let r1 = b1.mod_revision;
    let a2 = s.update(&a, val("a2"), a1.mod_revision).await.expect("upd");
    s.delete(&b, None).await.expect("delete b");
    s.create(&format!("{root}c"), val("c1"))
        .await
        .expect("create c");

    let old = s.range(root, None, r1, 0).await.expect("range at r1");
    assert_eq!(old.revision, r1);
    assert_eq!(old.kvs, vec![a1.clone(), b1.clone()], "state at r1");

    let first = s
        .range(root, None, a1.mod_revision, 0)
        .await
        .expect("range at a1");
    assert_eq!(first.kvs, vec![a1.clone()]);

    let mid = s
        .range(root, None, a2.mod_revision, 0)
        .await
        .expect("range at a2");
    assert_eq!(mid.kvs, vec![a2.clone(), b1.clone()]);

    let now = s.range(root, None, 0, 0).await.expect("range now");
    let keys: Vec<_> = now.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, vec![a.clone(), format!("{root}c")]);
}

/// Every successful write gets a strictly greater revision; failed writes do not bump it.
pub async fn revisions_increase(s: &SharedStorage, root: &str) {
    let mut last = s.current_revision().await.expect("rev");
    for i in 0..20 {
        let key = format!("{root}k{}", i % 5);
        let rev = if i < 5 {
            s.create(&key, val("c")).await.expect("create").mod_revision
        } else if i < 15 {
            let cur = s.get(&key).await.expect("get").expect("present");
            s.update(&key, val("u"), cur.mod_revision)
                .await
                .expect("update")
                .mod_revision
        } else {
            s.delete(&key, None).await.expect("delete").0
        };
        assert!(rev > last, "revision {rev} not greater than {last}");
        last = rev;
        assert_eq!(s.current_revision().await.expect("rev"), rev);
    }
    s.delete(&format!("{root}k0"), None)
        .await
        .expect_err("delete missing");
    assert_eq!(
        s.current_revision().await.expect("rev"),
        last,
        "a failed write must not bump the revision"
    );
}

/// A watch from an old revision replays history in order, then delivers live writes.
pub async fn watch_replay_then_live(s: &SharedStorage, root: &str) {
    let a = format!("{root}a");
    let b = format!("{root}b");
    let start = s.current_revision().await.expect("rev");
    let a1 = s.create(&a, val("a1")).await.expect("create a");
    let a2 = s
        .update(&a, val("a2"), a1.mod_revision)
        .await
        .expect("upd a");
    let b1 = s.create(&b, val("b1")).await.expect("create b");

    let mut w = s.watch(root, start).await.expect("watch");
    match next_event(&mut w).await {
        Event::Put { kv, prev } => {
            assert_eq!(kv, a1);
            assert_eq!(prev, None, "a create has no prev");
        }
        other => panic!("expected create of a, got {other:?}"),
    }
    match next_event(&mut w).await {
        Event::Put { kv, prev } => {
            assert_eq!(kv, a2);
            assert_eq!(prev, Some(a1.clone()), "update carries prev");
        }
        other => panic!("expected update of a, got {other:?}"),
    }
    assert_eq!(
        expect_put(&next_event(&mut w).await, &b, "b1"),
        b1.mod_revision
    );

    let c1 = s.create(&format!("{root}c"), val("c1")).await.expect("c");
    assert_eq!(
        expect_put(&next_event(&mut w).await, &format!("{root}c"), "c1"),
        c1.mod_revision
    );
    let (drev, _) = s.delete(&a, None).await.expect("delete a");
    let ev = next_event(&mut w).await;
    assert!(
        matches!(ev, Event::Delete { .. }),
        "expected delete, got {ev:?}"
    );
    assert_eq!(ev.revision(), drev);

    // From a revision in the middle: only later events.
    let mut w2 = s.watch(root, a2.mod_revision).await.expect("watch 2");
    assert_eq!(next_event(&mut w2).await.revision(), b1.mod_revision);
    assert_eq!(next_event(&mut w2).await.revision(), c1.mod_revision);
    assert_eq!(next_event(&mut w2).await.revision(), drev);
}

/// Watches started while writes are in flight see every write exactly once, in order.
pub async fn watch_during_writes(s: &SharedStorage, root: &str) {
    const N: usize = 300;
    let start = s.current_revision().await.expect("rev");
    let writer = {
        let s = s.clone();
        let root = root.to_string();
        tokio::spawn(async move {
            for i in 0..N {
                s.create(&format!("{root}k{i:04}"), val("v"))
                    .await
                    .expect("create");
            }
        })
    };
    let mut watches = Vec::new();
    for _ in 0..4 {
        watches.push(s.watch(root, start).await.expect("watch"));
        tokio::task::yield_now().await;
    }
    for mut w in watches {
        let mut last = start;
        for i in 0..N {
            let ev = next_event(&mut w).await;
            assert!(ev.revision() > last, "event {i}: revision not increasing");
            last = ev.revision();
            assert_eq!(ev.key(), format!("{root}k{i:04}"), "event {i} out of order");
        }
    }
    writer.await.expect("writer task");
}

/// A watch only sees keys under its prefix.
pub async fn watch_prefix_filter(s: &SharedStorage, root: &str) {
    let start = s.current_revision().await.expect("rev");
    let mut w = s.watch(&format!("{root}a/"), start).await.expect("watch");
    s.create(&format!("{root}ab/1"), val("no"))
        .await
        .expect("c");
    s.create(&format!("{root}b/1"), val("no")).await.expect("c");
    s.create(&format!("{root}a"), val("no")).await.expect("c");
    s.create(&format!("{root}a/1"), val("yes"))
        .await
        .expect("c");
    expect_put(&next_event(&mut w).await, &format!("{root}a/1"), "yes");
    s.create(&format!("{root}ab/2"), val("no"))
        .await
        .expect("c");
    s.create(&format!("{root}a/2"), val("yes"))
        .await
        .expect("c");
    expect_put(&next_event(&mut w).await, &format!("{root}a/2"), "yes");
}

/// Delete events carry the deleted key's last state, live and replayed.
pub async fn watch_delete_carries_prev(s: &SharedStorage, root: &str) {
    let key = format!("{root}k");
    let start = s.current_revision().await.expect("rev");
    let v1 = s.create(&key, val("v1")).await.expect("create");
    let v2 = s.update(&key, val("v2"), v1.mod_revision).await.expect("u");
    let mut live = s.watch(root, v2.mod_revision).await.expect("watch");
    let (drev, prev) = s.delete(&key, Some(v2.mod_revision)).await.expect("d");
    assert_eq!(prev, v2);
    for (name, ev) in [
        ("live", next_event(&mut live).await),
        ("replayed", {
            let mut w = s.watch(root, start).await.expect("watch replay");
            next_event(&mut w).await;
            next_event(&mut w).await;
            next_event(&mut w).await
        }),
    ] {
        match ev {
            Event::Delete { prev, revision } => {
                assert_eq!(revision, drev, "{name} delete revision");
                assert_eq!(prev, v2, "{name} delete prev");
            }
            other => panic!("{name}: expected delete, got {other:?}"),
        }
    }
}

/// A range at a revision newer than the current one gives FutureRevision.
pub async fn future_revision(s: &SharedStorage, root: &str) {
    s.create(&format!("{root}k"), val("v"))
        .await
        .expect("create");
    let cur = s.current_revision().await.expect("rev");
    let err = s
        .range(root, None, cur + 100, 0)
        .await
        .expect_err("future range");
    assert!(
        matches!(err, StorageError::FutureRevision { requested, current } if requested == cur + 100 && current >= cur),
        "expected FutureRevision, got {err:?}"
    );
}

/// Count reflects creates and deletes under a prefix only.
pub async fn count(s: &SharedStorage, root: &str) {
    assert_eq!(s.count(root).await.expect("count"), 0);
    for i in 0..7 {
        s.create(&format!("{root}p/{i}"), val("v"))
            .await
            .expect("c");
    }
    s.create(&format!("{root}pp/x"), val("v")).await.expect("c");
    s.delete(&format!("{root}p/3"), None).await.expect("d");
    assert_eq!(s.count(&format!("{root}p/")).await.expect("count"), 6);
    assert_eq!(s.count(root).await.expect("count"), 7);
}

/// 64 tasks × 50 creates: all acknowledged with distinct revisions and all readable.
pub async fn concurrent_creates(s: &SharedStorage, root: &str) {
    const TASKS: usize = 64;
    const PER_TASK: usize = 50;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let s = s.clone();
        let root = root.to_string();
        handles.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let key = format!("{root}t{t:02}/k{i:02}");
                let kv = s.create(&key, val(&key)).await.expect("concurrent create");
                out.push(kv);
            }
            out
        }));
    }
    let mut revs = HashSet::new();
    let mut kvs = Vec::new();
    for h in handles {
        kvs.extend(h.await.expect("task"));
    }
    for kv in &kvs {
        assert!(
            revs.insert(kv.mod_revision),
            "revision {} reused",
            kv.mod_revision
        );
    }
    assert_eq!(revs.len(), TASKS * PER_TASK);
    let all = s.range(root, None, 0, 0).await.expect("range");
    assert_eq!(all.kvs.len(), TASKS * PER_TASK, "every create is readable");
    for kv in &kvs {
        let got = s.get(&kv.key).await.expect("get").expect("present");
        assert_eq!(&got, kv);
    }
    assert_eq!(
        s.count(root).await.expect("count"),
        (TASKS * PER_TASK) as i64
    );
}

/// After compaction, older ranges and watches give Compacted; newer state stays readable.
pub async fn compaction(s: &SharedStorage, root: &str) {
    let key = format!("{root}k");
    let v1 = s.create(&key, val("v1")).await.expect("create");
    let v2 = s.update(&key, val("v2"), v1.mod_revision).await.expect("u");
    let other = format!("{root}gone");
    s.create(&other, val("x")).await.expect("create");
    s.delete(&other, None).await.expect("delete");
    let v3 = s.update(&key, val("v3"), v2.mod_revision).await.expect("u");
    let rev = s.current_revision().await.expect("rev");
    s.compact(rev).await.expect("compact");
    assert_eq!(s.compacted_revision().await.expect("compacted"), rev);

    let err = s
        .range(root, None, v2.mod_revision, 0)
        .await
        .expect_err("range at compacted revision");
    assert!(
        matches!(err, StorageError::Compacted { requested, compacted } if requested == v2.mod_revision && compacted == rev),
        "expected Compacted, got {err:?}"
    );
    match s.watch(root, v1.mod_revision).await {
        Err(StorageError::Compacted { compacted, .. }) => assert_eq!(compacted, rev),
        Err(e) => panic!("expected Compacted from watch, got {e:?}"),
        Ok(mut w) => match tokio::time::timeout(EVENT_TIMEOUT, w.next()).await {
            Ok(Some(Err(StorageError::Compacted { compacted, .. }))) => assert_eq!(compacted, rev),
            other => panic!("expected a Compacted watch error, got {other:?}"),
        },
    }

    // The state at the compacted revision and later is intact.
    let at = s.range(root, None, rev, 0).await.expect("range at rev");
    assert_eq!(at.kvs, vec![v3.clone()]);
    let mut w = s.watch(root, rev).await.expect("watch from compacted rev");
    let v4 = s.update(&key, val("v4"), v3.mod_revision).await.expect("u");
    assert!(v4.mod_revision > rev, "revisions continue after compaction");
    match next_event(&mut w).await {
        Event::Put { kv, prev } => {
            assert_eq!(kv, v4);
            assert_eq!(prev, Some(v3.clone()));
        }
        other => panic!("expected put after compaction, got {other:?}"),
    }
    assert_eq!(s.get(&key).await.expect("get"), Some(v4));
}
