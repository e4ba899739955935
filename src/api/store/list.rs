//! LIST: from the watch cache, or from storage at an exact revision or a continue token.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;

use super::{parse_rv, ListOptions, ListResult, Store};
use crate::api::cache::{self, Cached, Snapshot};
use crate::api::errors::{ApiError, ApiResult};
use crate::api::filter::Filter;
use crate::api::registry::ResourceEntry;
use crate::storage::{Revision, StorageError};

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, start: &str) -> String {
    let t = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: start.to_string(),
    };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&t).unwrap_or_default())
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let bad = || {
        ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .map_err(|_| bad())?;
    let t: ContinueToken = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if t.v != "meta.k8s.io/v1" || t.rv <= 0 || t.start.contains("..") {
        return Err(bad());
    }
    Ok(t)
}

impl Store {
    /// Lists objects, from the watch cache unless an exact revision or a continue token asks for storage.
    pub async fn list(
        &self,
        res: &ResourceEntry,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> ApiResult<ListResult> {
        let filter = Filter::parse(
            opts.label_selector.as_deref(),
            opts.field_selector.as_deref(),
            &res.rt.group,
            &res.rt.kind,
        )?;
        let prefix = res.collection_prefix(ns);
        let rv = opts.resource_version.as_deref().filter(|s| !s.is_empty());
        let exact = opts.resource_version_match.as_deref() == Some("Exact");
        match opts.resource_version_match.as_deref() {
            None | Some("") | Some("Exact") | Some("NotOlderThan") => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                )))
            }
        }
        if opts.resource_version_match.is_some() && rv.is_none() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if let Some(token) = opts.continue_token.as_deref().filter(|s| !s.is_empty()) {
            if rv.is_some_and(|r| r != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let t = decode_continue(token)?;
            let start = format!("{prefix}{}", t.start);
            if let Some(snap) = self.cache.snapshot_at(&prefix, Some(&start), t.rv) {
                return Ok(page_from_snapshot(snap, &prefix, opts.limit, &filter));
            }
            return self
                .list_from_storage(res, &prefix, Some(&start), t.rv, opts.limit, &filter)
                .await;
        }
        if exact {
            let r = parse_rv(rv.unwrap_or("0"))?;
            if r == 0 {
                return Err(ApiError::bad_request(
                    "resourceVersionMatch \"Exact\" is forbidden for resourceVersion \"0\"",
                ));
            }
            if let Some(snap) = self.cache.snapshot_at(&prefix, None, r) {
                return Ok(page_from_snapshot(snap, &prefix, opts.limit, &filter));
            }
            return self
                .list_from_storage(res, &prefix, None, r, opts.limit, &filter)
                .await;
        }
        match rv {
            None => {
                self.cache.sync().await.map_err(ApiError::internal)?;
            }
            Some("0") => {}
            Some(r) => {
                let r = parse_rv(r)?;
                if !self.cache.wait_for(r, Duration::from_secs(3)).await {
                    return Err(ApiError::timeout(format!(
                        "Too large resource version: {r}, current: {}",
                        self.cache.revision()
                    )));
                }
            }
        }
        let snap = self.cache.snapshot(&prefix, None);
        Ok(page_from_snapshot(snap, &prefix, opts.limit, &filter))
    }

    /// How many keys under `prefix` from `start` on existed at `revision` (for `remainingItemCount`).
    async fn remaining_after(
        &self,
        prefix: &str,
        start: &str,
        revision: Revision,
    ) -> ApiResult<Option<i64>> {
        let rest = self.storage.range(prefix, Some(start), revision, 0).await?;
        Ok(Some(rest.kvs.len() as i64))
    }

    async fn list_from_storage(
        &self,
        res: &ResourceEntry,
        prefix: &str,
        start: Option<&str>,
        revision: Revision,
        limit: i64,
        filter: &Filter,
    ) -> ApiResult<ListResult> {
        let _ = res;
        let mut items = Vec::new();
        let mut next = start.map(str::to_string);
        let chunk = if limit > 0 { limit.max(100) } else { 0 };
        loop {
            let page = match self.storage.range(prefix, next.as_deref(), revision, chunk).await {
                Ok(p) => p,
                Err(StorageError::Compacted { .. }) if start.is_some() => {
                    return Err(ApiError::expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            let mut last_key = None;
            for kv in &page.kvs {
                last_key = Some(kv.key.clone());
                if let Some(v) = cache::decode_kv(kv) {
                    if filter.matches(&v) {
                        items.push(Arc::new(Cached::from_value(&v)));
                        if limit > 0 && items.len() as i64 == limit {
                            let more = page.more
                                || kv.key
                                    != page.kvs.last().map(|k| k.key.clone()).unwrap_or_default();
                            let next_key = format!("{}\0", kv.key);
                            let token =
                                more.then(|| encode_continue(revision, &next_key[prefix.len()..]));
                            let remaining = if more && filter.is_everything() {
                                self.remaining_after(prefix, &next_key, revision).await?
                            } else {
                                None
                            };
                            return Ok(ListResult {
                                items,
                                revision,
                                continue_token: token,
                                remaining,
                            });
                        }
                    }
                }
            }
            match (page.more, last_key) {
                (true, Some(k)) => next = Some(format!("{k}\0")),
                _ => {
                    return Ok(ListResult {
                        items,
                        revision,
                        continue_token: None,
                        remaining: None,
                    });
                }
            }
        }
    }
}

fn page_from_snapshot(snap: Snapshot, prefix: &str, limit: i64, filter: &Filter) -> ListResult {
    let revision = snap.revision;
    let mut items = Vec::new();
    let total = snap.items.len();
    for (i, (key, obj)) in snap.items.into_iter().enumerate() {
        if !filter.matches_cached(&obj) {
            continue;
        }
        items.push(obj);
        if limit > 0 && items.len() as i64 == limit && i + 1 < total {
            let token = encode_continue(revision, &format!("{}\0", &key[prefix.len()..]));
            let remaining = (total - i - 1) as i64;
            return ListResult {
                items,
                revision,
                continue_token: Some(token),
                remaining: filter.is_everything().then_some(remaining),
            };
        }
    }
    ListResult {
        items,
        revision,
        continue_token: None,
        remaining: None,
    }
}
