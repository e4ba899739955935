//! The same writes without the API server: plain sqlx inserts into SQLite, puts with etcd-client,
//! and skiff's own [`Storage`] layer, so that the API server's overhead can be given as a ratio.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection};

use super::stats::Samples;
use super::BenchError;
use crate::storage::SharedStorage;

fn sql(e: sqlx::Error) -> BenchError {
    BenchError::Io(format!("sqlite: {e}"))
}

fn value() -> Vec<u8> {
    vec![b'x'; 200]
}

/// Rates of plain inserts into a fresh SQLite file (WAL, synchronous=FULL, one connection).
pub struct SqliteRaw {
    /// One transaction (one fsync) per insert.
    pub single: f64,
    /// `batch` inserts per transaction.
    pub batched: f64,
    /// Rows per transaction in the batched run.
    pub batch: usize,
}

/// Inserts `single` rows one transaction each, then `batched` rows `batch` per transaction.
pub async fn sqlite_inserts(
    dir: &Path,
    single: usize,
    batched: usize,
    batch: usize,
) -> Result<SqliteRaw, BenchError> {
    let opts = SqliteConnectOptions::from_str("sqlite://")
        .map_err(sql)?
        .filename(dir.join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut conn = opts.connect().await.map_err(sql)?;
    sqlx::query(
        "CREATE TABLE kv (id INTEGER PRIMARY KEY AUTOINCREMENT, name BLOB NOT NULL,
         deleted INTEGER NOT NULL, create_revision INTEGER NOT NULL,
         prev_revision INTEGER NOT NULL, value BLOB NOT NULL)",
    )
    .execute(&mut conn)
    .await
    .map_err(sql)?;
    sqlx::query("CREATE INDEX kv_name_id ON kv (name, id)")
        .execute(&mut conn)
        .await
        .map_err(sql)?;
    let v = value();
    const INSERT: &str = "INSERT INTO kv (name, deleted, create_revision, prev_revision, value)
                          VALUES (?, 0, 0, 0, ?)";
    let t = Instant::now();
    for i in 0..single {
        let mut tx = conn.begin().await.map_err(sql)?;
        sqlx::query(INSERT)
            .bind(format!("/registry/configmaps/single/k{i:06}").into_bytes())
            .bind(&v)
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
        tx.commit().await.map_err(sql)?;
    }
    let single_rate = single as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut i = 0;
    while i < batched {
        let mut tx = conn.begin().await.map_err(sql)?;
        for j in i..(i + batch).min(batched) {
            sqlx::query(INSERT)
                .bind(format!("/registry/configmaps/batched/k{j:06}").into_bytes())
                .bind(&v)
                .execute(&mut *tx)
                .await
                .map_err(sql)?;
        }
        tx.commit().await.map_err(sql)?;
        i += batch;
    }
    let batched_rate = batched as f64 / t.elapsed().as_secs_f64();
    Ok(SqliteRaw {
        single: single_rate,
        batched: batched_rate,
        batch,
    })
}

/// Puts `total` 200-byte values into etcd with `tasks` concurrent tasks (each its own client
/// handle on one gRPC connection); with `guarded`, each put is a create-if-absent transaction as
/// skiff's storage layer sends. Returns writes/s.
pub async fn etcd_puts(
    client: &etcd_client::Client,
    prefix: &str,
    tasks: usize,
    total: usize,
    guarded: bool,
) -> Result<f64, BenchError> {
    let v = value();
    let t = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for c in 0..tasks {
        let mut client = client.clone();
        let v = v.clone();
        let prefix = prefix.to_string();
        handles.push(tokio::spawn(async move {
            let mut i = c;
            while i < total {
                let key = format!("{prefix}{i:06}");
                if guarded {
                    use etcd_client::{Compare, CompareOp, Txn, TxnOp};
                    let txn = Txn::new()
                        .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                        .and_then([TxnOp::put(key.as_str(), v.clone(), None)])
                        .or_else([TxnOp::get(key.as_str(), None)]);
                    client
                        .txn(txn)
                        .await
                        .map_err(|e| BenchError::Etcd(e.to_string()))?;
                } else {
                    client
                        .put(key, v.clone(), None)
                        .await
                        .map_err(|e| BenchError::Etcd(e.to_string()))?;
                }
                i += tasks;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for h in handles {
        h.await
            .map_err(|e| BenchError::Etcd(format!("put task: {e}")))??;
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

/// Creates `total` keys through skiff's [`crate::storage::Storage`] with `tasks` concurrent
/// tasks; returns creates/s.
pub async fn storage_creates(
    storage: &SharedStorage,
    prefix: &str,
    tasks: usize,
    total: usize,
) -> Result<f64, BenchError> {
    let v = Bytes::from(value());
    let t = Instant::now();
    let mut handles = Vec::with_capacity(tasks);
    for c in 0..tasks {
        let s = storage.clone();
        let v = v.clone();
        let prefix = prefix.to_string();
        handles.push(tokio::spawn(async move {
            let mut i = c;
            while i < total {
                s.create(&format!("{prefix}{i:06}"), v.clone()).await?;
                i += tasks;
            }
            Ok::<_, BenchError>(())
        }));
    }
    for h in handles {
        h.await
            .map_err(|e| BenchError::Io(format!("create task: {e}")))??;
    }
    Ok(total as f64 / t.elapsed().as_secs_f64())
}

/// Times `runs` ranges over `prefix` through skiff's storage layer, checking the key count.
pub async fn storage_ranges(
    storage: &SharedStorage,
    prefix: &str,
    expected: usize,
    runs: usize,
) -> Result<Samples, BenchError> {
    let mut s = Samples::default();
    for _ in 0..runs {
        let t = Instant::now();
        let r = storage.range(prefix, None, 0, 0).await?;
        s.push(t.elapsed());
        if r.kvs.len() != expected {
            return Err(BenchError::Io(format!(
                "range {prefix}: {} keys, expected {expected}",
                r.kvs.len()
            )));
        }
    }
    Ok(s)
}

/// Opens skiff's SQLite storage in `dir`.
pub async fn open_sqlite_storage(dir: &Path) -> Result<SharedStorage, BenchError> {
    let s = crate::storage::sqlite::SqliteStorage::open(&dir.join("state.db")).await?;
    Ok(Arc::new(s))
}
