//! `nodes/<name>/proxy/<path>`: the kubelet endpoints reached through the API server, as
//! `kubectl get --raw /api/v1/nodes/<node>/proxy/metrics/resource` does. Skiff's kubelets run
//! in this process, so the endpoints are answered here: `metrics/resource` (Prometheus text
//! from `kubelet/stats/`) and `healthz`. Nodes without a kubelet in this process (simulated
//! ones) answer 503, other paths 404.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::errors::{ApiError, ApiResult};
use crate::kubelet::stats;

/// The path after `/proxy/` of a nodes/proxy request path, without leading slashes.
pub fn proxied_path(path: &str) -> &str {
    path.split_once("/proxy")
        .map(|(_, rest)| rest.trim_start_matches('/'))
        .unwrap_or("")
}

/// Answers a GET of `path` on the kubelet of `node`.
pub fn serve(node: &str, path: &str) -> ApiResult<Response> {
    let Some(snapshot) = stats::snapshot_for(node) else {
        return Err(ApiError::new(
            503,
            "ServiceUnavailable",
            format!(
                "no kubelet endpoint for node \"{node}\": it runs no Skiff kubelet in this server"
            ),
        ));
    };
    match path.trim_end_matches('/') {
        "metrics/resource" => {
            let mut r = (StatusCode::OK, stats::prometheus::render(&snapshot)).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            Ok(r)
        }
        "healthz" => Ok((StatusCode::OK, "ok").into_response()),
        _ => Ok(super::response::not_found_path()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_after_proxy() {
        assert_eq!(
            proxied_path("/api/v1/nodes/n1/proxy/metrics/resource"),
            "metrics/resource"
        );
        assert_eq!(proxied_path("/api/v1/nodes/n1/proxy"), "");
        assert_eq!(proxied_path("/api/v1/nodes/n1/proxy/"), "");
    }
}
