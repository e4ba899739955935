//! etcd backend: maps the [`Storage`] contract onto etcd v3 transactions, ranges, watches and
//! compaction via `etcd-client`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, DeleteOptions, EventType, GetOptions,
    PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchOptions,
};

use super::{Event, KeyValue, RangeResponse, Result, Revision, Storage, StorageError, WatchStream};

const COMPACTED_MSG: &str = "required revision has been compacted";
const FUTURE_MSG: &str = "required revision is a future revision";

/// A [`super::Storage`] backed by an etcd v3 cluster.
#[derive(Clone)]
pub struct EtcdStorage {
    client: Client,
    /// A revision known to have been compacted (all older revisions are unreadable).
    known_compacted: Arc<AtomicI64>,
}

/// The exclusive end of the etcd range of keys starting with `prefix` (`\0` = all keys).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    // UTF-8 never contains 0xFF, so the last byte can always be incremented.
    match end.last_mut() {
        Some(last) => *last += 1,
        None => end.push(0),
    }
    end
}

fn backend(e: etcd_client::Error) -> StorageError {
    StorageError::Backend(format!("etcd: {e}"))
}

fn convert_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    Ok(KeyValue {
        key: kv
            .key_str()
            .map_err(|e| StorageError::Backend(format!("etcd: non-UTF-8 key: {e}")))?
            .to_string(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

fn txn_revision(resp: &TxnResponse) -> Revision {
    resp.header().map(|h| h.revision()).unwrap_or(0)
}

/// The current state of a key from the `else` branch (a get) of a failed transaction.
fn failed_txn_kv(resp: &TxnResponse) -> Result<Option<KeyValue>> {
    for op in resp.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            return get.kvs().first().map(convert_kv).transpose();
        }
    }
    Ok(None)
}

impl EtcdStorage {
    /// Connects to the etcd cluster at `endpoints` (e.g. `http://127.0.0.1:2379`).
    pub async fn connect(endpoints: &[String]) -> Result<EtcdStorage> {
        let client = Client::connect(endpoints, None).await.map_err(backend)?;
        tracing::info!(?endpoints, "connected to etcd");
        Ok(EtcdStorage {
            client,
            known_compacted: Arc::new(AtomicI64::new(0)),
        })
    }

    fn note_compacted(&self, revision: Revision) {
        self.known_compacted.fetch_max(revision, Ordering::SeqCst);
    }

    /// Maps an etcd error of a read at `requested` to Compacted/FutureRevision when it is one.
    async fn read_error(&self, e: etcd_client::Error, requested: Revision) -> StorageError {
        let msg = e.to_string();
        if msg.contains(COMPACTED_MSG) {
            match self.compacted_revision().await {
                Ok(compacted) => StorageError::Compacted {
                    requested,
                    compacted,
                },
                Err(e) => e,
            }
        } else if msg.contains(FUTURE_MSG) {
            match self.current_revision().await {
                Ok(current) => StorageError::FutureRevision { requested, current },
                Err(e) => e,
            }
        } else {
            backend(e)
        }
    }

    /// True when the store can be read at `revision`, false when it was compacted.
    async fn readable(&self, revision: Revision) -> Result<bool> {
        let opts = GetOptions::new().with_revision(revision).with_count_only();
        match self.client.kv_client().get(vec![0u8], Some(opts)).await {
            Ok(_) => Ok(true),
            Err(e) if e.to_string().contains(COMPACTED_MSG) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }
}

/// Live state of an etcd watch stream mapped to [`Event`]s.
struct EtcdWatch {
    stream: etcd_client::WatchStream,
    pending: VecDeque<Result<Event>>,
    after: Revision,
    done: bool,
    known_compacted: Arc<AtomicI64>,
}

fn convert_event(ev: &etcd_client::Event) -> Result<Event> {
    let kv = ev
        .kv()
        .ok_or_else(|| StorageError::Backend("etcd: watch event without kv".into()))?;
    let kv = convert_kv(kv)?;
    let prev = ev.prev_kv().map(convert_kv).transpose()?;
    Ok(match ev.event_type() {
        EventType::Put => Event::Put { kv, prev },
        EventType::Delete => Event::Delete {
            revision: kv.mod_revision,
            // Without prev_kv (compacted), only the key is known.
            prev: prev.unwrap_or(KeyValue {
                key: kv.key,
                value: Bytes::new(),
                create_revision: 0,
                mod_revision: 0,
            }),
        },
    })
}

fn watch_stream(state: EtcdWatch) -> WatchStream {
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                if item.is_err() {
                    st.done = true;
                }
                return Some((item, st));
            }
            if st.done {
                return None;
            }
            match st.stream.message().await {
                Ok(Some(resp)) => {
                    for ev in resp.events() {
                        st.pending.push_back(convert_event(ev));
                    }
                    if resp.canceled() {
                        let compacted = resp.compact_revision();
                        let err = if compacted > 0 {
                            st.known_compacted.fetch_max(compacted, Ordering::SeqCst);
                            StorageError::Compacted {
                                requested: st.after,
                                compacted,
                            }
                        } else {
                            StorageError::Backend(format!(
                                "etcd: watch canceled: {}",
                                resp.cancel_reason()
                            ))
                        };
                        st.pending.push_back(Err(err));
                    }
                }
                Ok(None) => {
                    st.done = true;
                    st.pending.push_back(Err(StorageError::Backend(
                        "etcd: watch stream closed by server".into(),
                    )));
                }
                Err(e) => {
                    st.done = true;
                    st.pending.push_back(Err(backend(e)));
                }
            }
        }
    }))
}

#[async_trait]
impl Storage for EtcdStorage {
    async fn current_revision(&self) -> Result<Revision> {
        let resp = self
            .client
            .kv_client()
            .get(vec![0u8], Some(GetOptions::new().with_count_only()))
            .await
            .map_err(backend)?;
        Ok(resp.header().map(|h| h.revision()).unwrap_or(0))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let resp = self
            .client
            .kv_client()
            .get(key, None)
            .await
            .map_err(backend)?;
        resp.kvs().first().map(convert_kv).transpose()
    }

    async fn range(
        &self,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
    ) -> Result<RangeResponse> {
        let from = match start {
            Some(s) if s > prefix => s,
            _ => prefix,
        };
        let opts = GetOptions::new()
            .with_range(prefix_end(prefix))
            .with_revision(revision.max(0))
            .with_limit(limit.max(0));
        let resp = match self.client.kv_client().get(from, Some(opts)).await {
            Ok(resp) => resp,
            Err(e) => return Err(self.read_error(e, revision).await),
        };
        let kvs = resp
            .kvs()
            .iter()
            .map(convert_kv)
            .collect::<Result<Vec<_>>>()?;
        let read_at = if revision > 0 {
            revision
        } else {
            resp.header().map(|h| h.revision()).unwrap_or(0)
        };
        Ok(RangeResponse {
            kvs,
            more: resp.more(),
            revision: read_at,
        })
    }

    async fn count(&self, prefix: &str) -> Result<i64> {
        let opts = GetOptions::new()
            .with_range(prefix_end(prefix))
            .with_count_only();
        let resp = self
            .client
            .kv_client()
            .get(prefix, Some(opts))
            .await
            .map_err(backend)?;
        Ok(resp.count())
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(StorageError::AlreadyExists(key.to_string()));
        }
        let rev = txn_revision(&resp);
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision: rev,
            mod_revision: rev,
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected_mod_revision: Revision,
    ) -> Result<KeyValue> {
        let txn = Txn::new()
            .when([
                Compare::create_revision(key, CompareOp::Greater, 0),
                Compare::mod_revision(key, CompareOp::Equal, expected_mod_revision),
            ])
            .and_then([TxnOp::put(
                key,
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(match failed_txn_kv(&resp)? {
                None => StorageError::NotFound(key.to_string()),
                Some(kv) => StorageError::Conflict {
                    key: key.to_string(),
                    expected: expected_mod_revision,
                    current: kv.mod_revision,
                },
            });
        }
        let rev = txn_revision(&resp);
        let create_revision = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Put(put) => put.prev_key().map(|kv| kv.create_revision()),
                _ => None,
            })
            .unwrap_or(0);
        Ok(KeyValue {
            key: key.to_string(),
            value,
            create_revision,
            mod_revision: rev,
        })
    }

    async fn delete(
        &self,
        key: &str,
        expected_mod_revision: Option<Revision>,
    ) -> Result<(Revision, KeyValue)> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Greater, 0)];
        if let Some(expected) = expected_mod_revision {
            compares.push(Compare::mod_revision(key, CompareOp::Equal, expected));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let resp = self.client.kv_client().txn(txn).await.map_err(backend)?;
        if !resp.succeeded() {
            return Err(match failed_txn_kv(&resp)? {
                None => StorageError::NotFound(key.to_string()),
                Some(kv) => StorageError::Conflict {
                    key: key.to_string(),
                    expected: expected_mod_revision.unwrap_or(0),
                    current: kv.mod_revision,
                },
            });
        }
        let rev = txn_revision(&resp);
        let prev = resp
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(del) => del.prev_kvs().first().map(convert_kv),
                _ => None,
            })
            .transpose()?
            .ok_or_else(|| StorageError::NotFound(key.to_string()))?;
        Ok((rev, prev))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let compacted = self.compacted_revision().await?;
        if after < compacted {
            return Err(StorageError::Compacted {
                requested: after,
                compacted,
            });
        }
        let opts = WatchOptions::new()
            .with_range(prefix_end(prefix))
            .with_start_revision(after + 1)
            .with_prev_key();
        let mut stream = self
            .client
            .watch_client()
            .watch(prefix, Some(opts))
            .await
            .map_err(backend)?;
        // The first response confirms that the watch was created.
        match stream.message().await.map_err(backend)? {
            Some(resp) if resp.created() && !resp.canceled() => {}
            Some(resp) if resp.compact_revision() > 0 => {
                self.note_compacted(resp.compact_revision());
                return Err(StorageError::Compacted {
                    requested: after,
                    compacted: resp.compact_revision(),
                });
            }
            Some(resp) => {
                return Err(StorageError::Backend(format!(
                    "etcd: watch not created: {}",
                    resp.cancel_reason()
                )))
            }
            None => {
                return Err(StorageError::Backend(
                    "etcd: watch stream closed before creation".into(),
                ))
            }
        }
        Ok(watch_stream(EtcdWatch {
            stream,
            pending: VecDeque::new(),
            after,
            done: false,
            known_compacted: self.known_compacted.clone(),
        }))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let opts = CompactionOptions::new().with_physical();
        match self.client.kv_client().compact(revision, Some(opts)).await {
            Ok(_) => {
                self.note_compacted(revision);
                tracing::info!(revision, "compacted etcd");
                Ok(())
            }
            Err(e) => Err(self.read_error(e, revision).await),
        }
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        // etcd does not report its compacted revision directly: find the oldest readable revision,
        // starting from the newest one known to be compacted (usually a single probe).
        let known = self.known_compacted.load(Ordering::SeqCst);
        let mut lo = known.max(1);
        if self.readable(lo).await? {
            return Ok(known);
        }
        let mut hi = self.current_revision().await?;
        // Invariant: `lo` is unreadable, `hi` is readable.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.readable(mid).await? {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        self.note_compacted(hi);
        Ok(hi)
    }
}
