//! `GET …/pods/<name>/log`: the container's log as chunked plain text, read from the kubelet of
//! the pod's node (kubelets run in this process and register in [`crate::kubelet::logs`]).
//! Query: `container`, `follow`, `tailLines`, `timestamps`, `sinceSeconds`, `previous`,
//! `limitBytes`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;

use super::errors::{ApiError, ApiResult};
use super::handler::App;
use super::registry::ResourceEntry;
use super::request::Query;
use crate::kubelet::logs::{self, LogError, LogOptions};

/// Serves the log of a container of pod `ns/name`.
pub async fn serve(
    app: &Arc<App>,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    query: &Query,
) -> ApiResult<Response> {
    let obj = app.store.get(res, Some(ns), name).await?;
    let pod: Pod = serde_json::from_value(obj)
        .map_err(|e| ApiError::internal(format!("stored pod is not valid: {e}")))?;
    let container = choose_container(&pod, query.get("container"))?;
    let int = |k: &str| -> ApiResult<Option<i64>> {
        query
            .get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid {k}: {v:?}")))
            })
            .transpose()
    };
    let opts = LogOptions {
        container,
        follow: query.flag("follow"),
        tail_lines: int("tailLines")?,
        timestamps: query.flag("timestamps"),
        since_seconds: int("sinceSeconds")?,
        previous: query.flag("previous"),
    };
    let limit = int("limitBytes")?.filter(|l| *l > 0);
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let Some(source) = logs::source_for(&node) else {
        return Err(ApiError::bad_request(format!(
            "no kubelet for node {node:?} runs in this server (simulated nodes have no logs)"
        )));
    };
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let stream = source
        .stream(name, &uid, &opts)
        .await
        .map_err(|e| match e {
            LogError::NotFound(m) => ApiError::bad_request(m),
            LogError::Runtime(m) => ApiError::internal(m),
        })?;
    let body = match limit {
        Some(limit) => {
            let mut left = limit as usize;
            Body::from_stream(stream.take_while(move |chunk| {
                let go = left > 0;
                if let Ok(c) = chunk {
                    left = left.saturating_sub(c.len());
                }
                futures::future::ready(go)
            }))
        }
        None => Body::from_stream(stream),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("text/plain"));
    Ok(response)
}

/// The named container, or the only / default one; upstream's message otherwise.
pub(crate) fn choose_container(pod: &Pod, requested: Option<&str>) -> ApiResult<String> {
    let spec = pod.spec.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
    // Init and ephemeral containers are valid when named.
    let named = |r: &str| {
        names.iter().any(|n| n == r)
            || spec.init_containers.iter().flatten().any(|c| c.name == r)
            || spec
                .ephemeral_containers
                .iter()
                .flatten()
                .any(|c| c.name == r)
    };
    match requested.filter(|r| !r.is_empty()) {
        Some(r) if named(r) => Ok(r.to_string()),
        Some(r) => Err(ApiError::bad_request(format!(
            "container {r} is not valid for pod {name}"
        ))),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => {
            let default = pod
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubectl.kubernetes.io/default-container"))
                .filter(|d| names.contains(d));
            match default {
                Some(d) => Ok(d.clone()),
                None => Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    names.join(" ")
                ))),
            }
        }
    }
}
