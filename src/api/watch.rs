//! WATCH: streams of `{"type":…,"object":…}` lines served from the watch cache, with selector
//! transitions, bookmarks, timeouts and 410 for history that is gone.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::cache::{CacheEvent, Cached, EventType};
use super::codec::Format;
use super::errors::{json_body, ApiError, ApiResult};
use super::filter::Filter;
use super::registry::ResourceEntry;
use super::response::served_as_stored;
use super::store::Store;
use super::table::{self, IncludeObject};

/// Options of a watch request.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// `resourceVersion`.
    pub resource_version: Option<String>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
    /// `sendInitialEvents`.
    pub send_initial_events: bool,
}

/// How often a bookmark is sent to clients that allow them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

struct Encoder {
    res: Arc<ResourceEntry>,
    format: Format,
    include: IncludeObject,
    first: bool,
}

impl Encoder {
    fn event(&mut self, kind: &str, cached: &Cached) -> Bytes {
        if self.format == Format::Json && served_as_stored(&self.res) {
            let raw = cached.json();
            let mut out = Vec::with_capacity(raw.len() + 32);
            out.extend_from_slice(b"{\"type\":");
            let _ = serde_json::to_writer(&mut out, kind);
            out.extend_from_slice(b",\"object\":");
            out.extend_from_slice(&raw);
            out.extend_from_slice(b"}\n");
            return Bytes::from(out);
        }
        if let Format::PartialMetadata(v) = self.format {
            let meta = cached.partial_metadata(v);
            let mut out = Vec::with_capacity(meta.len() + 32);
            out.extend_from_slice(b"{\"type\":");
            let _ = serde_json::to_writer(&mut out, kind);
            out.extend_from_slice(b",\"object\":");
            out.extend_from_slice(&meta);
            out.extend_from_slice(b"}\n");
            return Bytes::from(out);
        }
        let obj = &cached.value();
        let converted = super::convert::served(&self.res, obj);
        let obj = converted.as_ref().unwrap_or(obj);
        let obj = &*crate::api::crd::convert(&self.res, obj);
        let object = match self.format {
            Format::Table(v) => {
                let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
                let t = table::table(
                    &self.res,
                    &[Arc::new(obj.clone())],
                    meta,
                    self.include,
                    v,
                    self.first,
                );
                self.first = false;
                t
            }
            Format::PartialMetadata(v) => table::partial_metadata(obj, v),
            _ => obj.clone(),
        };
        Bytes::from(json_body(&json!({"type": kind, "object": object})))
    }

    fn bookmark(&mut self, revision: i64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": revision.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.res.rt.kind, "apiVersion": self.res.rt.api_version(), "metadata": meta});
        Bytes::from(json_body(&json!({"type": "BOOKMARK", "object": obj})))
    }
}

fn error_line(e: &ApiError) -> Bytes {
    Bytes::from(json_body(
        &json!({"type": "ERROR", "object": e.to_status()}),
    ))
}

/// What a cache event means to a filtered watcher.
fn transition(ev: &CacheEvent, filter: &Filter) -> Option<&'static str> {
    let now = filter.matches_cached(&ev.object);
    match ev.kind {
        EventType::Added => now.then_some("ADDED"),
        EventType::Deleted => now.then_some("DELETED"),
        EventType::Modified => {
            let before = ev.prev.as_ref().is_some_and(|p| filter.matches_cached(p));
            match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            }
        }
    }
}

/// Starts a watch; returns the receiver of encoded lines.
pub fn start(
    store: &Store,
    res: Arc<ResourceEntry>,
    ns: Option<&str>,
    filter: Filter,
    opts: WatchOptions,
    format: Format,
    include: IncludeObject,
) -> ApiResult<mpsc::Receiver<Bytes>> {
    let prefix = res.collection_prefix(ns);
    let rv = opts.resource_version.clone().filter(|s| !s.is_empty());
    let mut enc = Encoder {
        res: res.clone(),
        format,
        include,
        first: true,
    };
    let (tx, out) = mpsc::channel::<Bytes>(256);
    let mut initial: Vec<Bytes> = Vec::new();
    let (rx, from) = match rv.as_deref() {
        None | Some("0") => {
            let (snap, rx) = store.cache.list_and_watch(&prefix);
            for (_, obj) in &snap.items {
                if filter.matches_cached(obj) {
                    initial.push(enc.event("ADDED", obj));
                }
            }
            if opts.send_initial_events {
                initial.push(enc.bookmark(snap.revision, true));
            }
            (Some(rx), snap.revision)
        }
        Some(r) => {
            let r: i64 =
                r.parse().ok().filter(|r| *r >= 0).ok_or_else(|| {
                    ApiError::bad_request(format!("invalid resource version: {r:?}"))
                })?;
            match store.cache.watch(&prefix, r) {
                Ok((backlog, rx)) => {
                    for ev in backlog {
                        if let Some(t) = transition(&ev, &filter) {
                            initial.push(enc.event(t, &ev.object));
                        }
                    }
                    (Some(rx), r)
                }
                Err(floor) => {
                    initial.push(error_line(&ApiError::expired(format!(
                        "too old resource version: {r} ({floor})"
                    ))));
                    (None, r)
                }
            }
        }
    };
    let timeout = opts.timeout.unwrap_or_else(|| {
        use rand::Rng;
        Duration::from_secs(rand::rng().random_range(1800..3600))
    });
    let cache = store.cache.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + timeout;
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let Some(mut rx) = rx else { return };
        let mut last = from;
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if opts.bookmarks => {
                    if tx.send(enc.bookmark(last, false)).await.is_err() {
                        return;
                    }
                }
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if ev.revision <= last || !ev.key.starts_with(&prefix) {
                            continue;
                        }
                        last = ev.revision;
                        if let Some(t) = transition(&ev, &filter) {
                            if tx.send(enc.event(t, &ev.object)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the live channel: catch up from the event history while
                        // it still reaches back far enough (else 410, as upstream).
                        match cache.watch(&prefix, last) {
                            Ok((backlog, fresh)) => {
                                tracing::debug!(%prefix, last, backlog = backlog.len(), "watch fell behind; resumed from the event history");
                                rx = fresh;
                                for ev in backlog {
                                    last = ev.revision;
                                    if let Some(t) = transition(&ev, &filter) {
                                        if tx.send(enc.event(t, &ev.object)).await.is_err() {
                                            return;
                                        }
                                    }
                                }
                            }
                            Err(floor) => {
                                tracing::info!(%prefix, last, floor, "watch fell behind the event history; ending it with 410");
                                let _ = tx.send(error_line(&ApiError::expired(format!("too old resource version: {last}")))).await;
                                return;
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(out)
}
