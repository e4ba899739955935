//! Parsing of resource URLs and query parameters into what the handler needs.

use std::collections::HashMap;
use std::time::Duration;

use super::errors::{ApiError, ApiResult};
use super::store::{DeleteOptions, ListOptions, WriteOptions};
use super::watch::WatchOptions;

/// A parsed resource path: `/api/v1/namespaces/ns/pods/name/status` and the like.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Group (empty for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Namespace from the path.
    pub namespace: Option<String>,
    /// Plural resource name.
    pub resource: String,
    /// Object name.
    pub name: Option<String>,
    /// Subresource.
    pub subresource: Option<String>,
    /// True for the legacy `/watch/` path prefix.
    pub watch_path: bool,
}

/// Parses a resource path; `None` for paths that are not resource requests (discovery and so on).
pub fn parse_path(path: &str) -> Option<RequestInfo> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let mut rest: Vec<&str> = rest.to_vec();
    let mut info = RequestInfo {
        group,
        version,
        ..Default::default()
    };
    if rest.first() == Some(&"watch") {
        info.watch_path = true;
        rest.remove(0);
    }
    if rest.first() == Some(&"namespaces")
        && rest.len() > 2
        && !matches!(rest[2], "status" | "finalize")
    {
        info.namespace = Some(rest[1].to_string());
        rest.drain(0..2);
    }
    match rest.as_slice() {
        [r] => info.resource = r.to_string(),
        [r, n] => {
            info.resource = r.to_string();
            info.name = Some(n.to_string());
        }
        [r, n, s, ..] => {
            info.resource = r.to_string();
            info.name = Some(n.to_string());
            info.subresource = Some(s.to_string());
        }
        _ => return None,
    }
    if info.resource.is_empty() || info.name.as_deref() == Some("") {
        return None;
    }
    Some(info)
}

/// Query parameters of a request.
#[derive(Clone, Debug, Default)]
pub struct Query(pub HashMap<String, String>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut m = HashMap::new();
        if let Some(q) = raw {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                m.insert(k.into_owned(), v.into_owned());
            }
        }
        Query(m)
    }

    /// A parameter's value.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }

    /// A boolean parameter (`true`, `1`).
    pub fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true") | Some("1") | Some("True"))
    }

    fn int(&self, k: &str) -> ApiResult<Option<i64>> {
        match self.get(k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {k}: {v:?}"))),
        }
    }

    /// `dryRun`: only `All` is valid.
    pub fn dry_run(&self) -> ApiResult<bool> {
        let values: Vec<&str> = self
            .get("dryRun")
            .map(|v| v.split(',').collect())
            .unwrap_or_default();
        for v in &values {
            if *v != "All" && !v.is_empty() {
                return Err(ApiError::bad_request(format!(
                    "dryRun: Unsupported value: \"{v}\": supported values: \"All\""
                )));
            }
        }
        Ok(values.contains(&"All"))
    }

    /// Options of a write.
    pub fn write_options(&self) -> ApiResult<WriteOptions> {
        Ok(WriteOptions {
            dry_run: self.dry_run()?,
            field_manager: self.get("fieldManager").map(str::to_string),
            ..WriteOptions::default()
        })
    }

    /// Options of a list.
    pub fn list_options(&self) -> ApiResult<ListOptions> {
        let limit = self.int("limit")?.unwrap_or(0).max(0);
        Ok(ListOptions {
            label_selector: self.get("labelSelector").map(str::to_string),
            field_selector: self.get("fieldSelector").map(str::to_string),
            limit,
            continue_token: self.get("continue").map(str::to_string),
            resource_version: self.get("resourceVersion").map(str::to_string),
            resource_version_match: self
                .get("resourceVersionMatch")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        })
    }

    /// Options of a watch.
    pub fn watch_options(&self) -> ApiResult<WatchOptions> {
        let timeout = self
            .int("timeoutSeconds")?
            .filter(|t| *t > 0)
            .map(|t| Duration::from_secs(t as u64));
        Ok(WatchOptions {
            resource_version: self.get("resourceVersion").map(str::to_string),
            bookmarks: self.flag("allowWatchBookmarks"),
            timeout,
            send_initial_events: self.flag("sendInitialEvents"),
        })
    }

    /// DeleteOptions from the query (a body may add to them).
    pub fn delete_options(&self) -> ApiResult<DeleteOptions> {
        Ok(DeleteOptions {
            grace_period: self.int("gracePeriodSeconds")?,
            propagation: self.get("propagationPolicy").map(str::to_string),
            orphan_dependents: match self.get("orphanDependents") {
                Some("true") => Some(true),
                Some("false") => Some(false),
                _ => None,
            },
            dry_run: self.dry_run()?,
            ..Default::default()
        })
    }
}

/// Merges a DeleteOptions body into options parsed from the query.
pub fn merge_delete_body(opts: &mut DeleteOptions, body: &serde_json::Value) -> ApiResult<()> {
    if let Some(g) = body
        .get("gracePeriodSeconds")
        .and_then(serde_json::Value::as_i64)
    {
        opts.grace_period = Some(g);
    }
    if let Some(p) = body
        .get("propagationPolicy")
        .and_then(serde_json::Value::as_str)
    {
        if !matches!(p, "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::bad_request(format!(
                "propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\""
            )));
        }
        opts.propagation = Some(p.to_string());
    }
    if let Some(pre) = body.get("preconditions") {
        opts.precondition_uid = pre
            .get("uid")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
        opts.precondition_rv = pre
            .get("resourceVersion")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string);
    }
    if let Some(d) = body.get("dryRun").and_then(serde_json::Value::as_array) {
        if d.iter().any(|v| v.as_str() == Some("All")) {
            opts.dry_run = true;
        }
    }
    if let Some(o) = body
        .get("orphanDependents")
        .and_then(serde_json::Value::as_bool)
    {
        opts.orphan_dependents = Some(o);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        let i = parse_path("/api/v1/namespaces/default/pods/web/status").unwrap();
        assert_eq!(i.namespace.as_deref(), Some("default"));
        assert_eq!(i.resource, "pods");
        assert_eq!(i.name.as_deref(), Some("web"));
        assert_eq!(i.subresource.as_deref(), Some("status"));
        let i = parse_path("/api/v1/namespaces/foo/finalize").unwrap();
        assert_eq!(
            (
                i.resource.as_str(),
                i.name.as_deref(),
                i.subresource.as_deref()
            ),
            ("namespaces", Some("foo"), Some("finalize"))
        );
        let i = parse_path("/apis/apps/v1/deployments").unwrap();
        assert_eq!(
            (i.group.as_str(), i.resource.as_str(), i.name.is_none()),
            ("apps", "deployments", true)
        );
        let i = parse_path("/api/v1/watch/namespaces/default/configmaps").unwrap();
        assert!(i.watch_path);
        assert_eq!(i.resource, "configmaps");
        assert!(parse_path("/api/v1").is_none());
        assert!(parse_path("/apis/apps").is_none());
    }
}
