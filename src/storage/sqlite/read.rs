//! Reads: the current and compacted revisions, point reads, ranges at a revision and counts.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use super::{
    key_string, prefix_end, KeyValue, RangeResponse, Result, Revision, SqliteStorage, StorageError,
};

impl SqliteStorage {
    /// Revision of the newest committed write.
    pub(super) fn current(&self) -> Revision {
        self.shared.current.load(Ordering::SeqCst)
    }

    /// Compacted revision (oldest readable).
    pub(super) fn compacted(&self) -> Revision {
        self.shared.compacted.load(Ordering::SeqCst)
    }

    /// Resolves `revision` (0 = current) to a readable revision or the matching error.
    fn read_revision(&self, revision: Revision) -> Result<Revision> {
        let current = self.current();
        if revision <= 0 {
            return Ok(current);
        }
        if revision > current {
            return Err(StorageError::FutureRevision {
                requested: revision,
                current,
            });
        }
        let compacted = self.compacted();
        if revision < compacted {
            return Err(StorageError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(revision)
    }

    /// The live value of `key` ([`Storage::get`](super::Storage::get)).
    pub(super) async fn read_key(&self, key: &str) -> Result<Option<KeyValue>> {
        let row = sqlx::query(
            "SELECT name, value, create_revision, id, deleted FROM kv WHERE name = ?1
             ORDER BY id DESC LIMIT 1",
        )
        .bind(key.as_bytes())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) if !row.try_get::<bool, _>(4)? => Ok(Some(row_kv(&row)?)),
            _ => Ok(None),
        }
    }

    /// Live keys under `prefix` at `revision` ([`Storage::range`](super::Storage::range)).
    pub(super) async fn read_range(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
    ) -> Result<RangeResponse> {
        let rev = self.read_revision(revision)?;
        let lower = match start {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let end = prefix_end(prefix);
        let fetch = if limit > 0 { limit + 1 } else { -1 };
        let rows = sqlx::query(
            "SELECT kv.name, kv.value, kv.create_revision, kv.id FROM kv
             JOIN (SELECT MAX(id) AS mid FROM kv WHERE name >= ?1 AND name < ?2 AND id <= ?3
                   GROUP BY name) AS l ON kv.id = l.mid
             WHERE kv.deleted = 0 ORDER BY kv.name LIMIT ?4",
        )
        .bind(lower.as_bytes())
        .bind(&end[..])
        .bind(rev)
        .bind(fetch)
        .fetch_all(&self.pool)
        .await?;
        let mut kvs = rows.iter().map(row_kv).collect::<Result<Vec<_>>>()?;
        let more = limit > 0 && kvs.len() as i64 > limit;
        if more {
            kvs.truncate(limit as usize);
        }
        Ok(RangeResponse {
            kvs,
            more,
            revision: rev,
        })
    }

    /// Number of live keys under `prefix` ([`Storage::count`](super::Storage::count)).
    pub(super) async fn read_count(&self, prefix: &str) -> Result<i64> {
        let rev = self.current();
        let end = prefix_end(prefix);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM kv
             JOIN (SELECT MAX(id) AS mid FROM kv WHERE name >= ?1 AND name < ?2 AND id <= ?3
                   GROUP BY name) AS l ON kv.id = l.mid
             WHERE kv.deleted = 0",
        )
        .bind(prefix.as_bytes())
        .bind(&end[..])
        .bind(rev)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }
}

/// A [`KeyValue`] from a `name, value, create_revision, id` row.
fn row_kv(row: &SqliteRow) -> Result<KeyValue> {
    Ok(KeyValue {
        key: key_string(row.try_get(0)?)?,
        value: Bytes::from(row.try_get::<Vec<u8>, _>(1)?),
        create_revision: row.try_get(2)?,
        mod_revision: row.try_get(3)?,
    })
}
