//! The HTTP entry point: authentication, routing of non-resource paths (version, health, metrics,
//! discovery, OpenAPI) and hand-off of resource paths to [`rest`](super::rest).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::auth::UserInfo;
use super::discovery;
use super::errors::ApiError;
use super::metrics::Metrics;
use super::request::{parse_path, Query};
use super::response::{aggregated_response, json_response, not_found_path, text};
use super::rest::resource_request;
use super::store::Store;
/// Everything a request handler needs.
pub struct App {
    /// The generic store.
    pub store: Store,
    /// Request metrics.
    pub metrics: Metrics,
    /// OpenAPI documents.
    pub openapi: crate::openapi::OpenApi,
    /// `host:port` clients reach the server at.
    pub server_address: String,
    /// Set once bootstrapping is done.
    pub ready: AtomicBool,
    /// Service account token issuer and validator.
    pub tokens: crate::auth::TokenIssuer,
}

/// The version this server reports (kubectl's dispatcher picks its client by the minor).
pub fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.1+skiff",
        "gitCommit": env!("CARGO_PKG_VERSION"),
        "gitTreeState": "clean",
        "buildDate": "2026-11-25T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("linux/{}", std::env::consts::ARCH.replace("x86_64", "amd64").replace("aarch64", "arm64")),
    })
}

/// Handles every request.
pub async fn handle(State(app): State<Arc<App>>, mut req: Request<Body>) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut user = req
        .extensions()
        .get::<Option<UserInfo>>()
        .cloned()
        .flatten();
    // A verified client certificate wins; otherwise a service account bearer token.
    if user.is_none() {
        if let Some(token) = bearer_token(req.headers()) {
            user = app
                .tokens
                .authenticate(&app.store, token, &[])
                .map(|a| a.user)
                .map_err(|e| tracing::debug!(error = %e, "bearer token rejected"))
                .ok();
            req.extensions_mut().insert(user.clone());
        }
    }
    let (verb, resource, resp) = if user.is_none() {
        ("", String::new(), ApiError::unauthorized().into_response())
    } else {
        route(&app, req).await
    };
    let code = resp.status().as_u16();
    app.metrics
        .observe(verb, &resource, code, start.elapsed().as_secs_f64());
    tracing::debug!(%method, %path, code, elapsed_ms = start.elapsed().as_millis() as u64, "request");
    resp
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn route(app: &Arc<App>, req: Request<Body>) -> (&'static str, String, Response) {
    let path = req.uri().path().to_string();
    let headers = req.headers().clone();
    if let Some(info) = parse_path(&path) {
        let resource = info.resource.clone();
        let (verb, resp) = match resource_request(app, info, req).await {
            Ok((verb, r)) => (verb, r),
            Err((verb, e)) => (verb, e.into_response()),
        };
        return (verb, resource, resp);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            "",
            String::new(),
            ApiError::method_not_allowed().into_response(),
        );
    }
    let query = Query::parse(req.uri().query());
    let reg = &app.store.registry;
    if let Some(r) = crate::auth::reviews::discovery(app, &path) {
        return ("get", String::new(), r);
    }
    let resp = match path.trim_end_matches('/') {
        "/version" => json_response(StatusCode::OK, &version_info()),
        "/healthz" | "/livez" | "/healthz/ping" | "/livez/ping" => text(StatusCode::OK, "ok"),
        "/readyz" | "/readyz/ping" => {
            if app.ready.load(Ordering::SeqCst) {
                text(StatusCode::OK, "ok")
            } else {
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "[-]bootstrap failed: not finished\nreadyz check failed",
                )
            }
        }
        "/metrics" => {
            let mut r = (StatusCode::OK, app.metrics.render()).into_response();
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        "/api" => match discovery::wants_aggregated(&headers) {
            Some(v) => aggregated_response(discovery::aggregated(reg, true, v), v),
            None => json_response(
                StatusCode::OK,
                &discovery::api_versions(&app.server_address),
            ),
        },
        "/apis" => match discovery::wants_aggregated(&headers) {
            Some(v) => aggregated_response(discovery::aggregated(reg, false, v), v),
            None => json_response(StatusCode::OK, &discovery::api_group_list(reg)),
        },
        "/api/v1" => match discovery::resource_list(reg, "", "v1") {
            Some(v) => json_response(StatusCode::OK, &v),
            None => not_found_path(),
        },
        "/openapi/v3" => json_response(StatusCode::OK, &app.openapi.index()),
        "/openapi/v2" => not_found_path(),
        p if p.starts_with("/openapi/v3/") => {
            let gv = &p["/openapi/v3/".len()..];
            match app.openapi.document(gv) {
                Some(doc) => {
                    let mut r = (StatusCode::OK, doc.body.clone()).into_response();
                    let h = r.headers_mut();
                    h.insert("content-type", HeaderValue::from_static("application/json"));
                    if let Ok(e) = HeaderValue::from_str(&format!("\"{}\"", doc.hash)) {
                        h.insert("etag", e);
                    }
                    if query.get("hash") == Some(doc.hash.as_str()) {
                        h.insert(
                            "cache-control",
                            HeaderValue::from_static("public, immutable"),
                        );
                        h.insert(
                            "expires",
                            HeaderValue::from_static("Thu, 31 Dec 2099 23:59:59 GMT"),
                        );
                    } else {
                        h.insert(
                            "cache-control",
                            HeaderValue::from_static("no-cache, private"),
                        );
                    }
                    r
                }
                None => not_found_path(),
            }
        }
        p if p.starts_with("/apis/") => {
            let parts: Vec<&str> = p.trim_start_matches("/apis/").split('/').collect();
            let v = match parts.as_slice() {
                [g] => discovery::api_group(reg, g),
                [g, v] => discovery::resource_list(reg, g, v),
                _ => None,
            };
            match v {
                Some(v) => json_response(StatusCode::OK, &v),
                None => not_found_path(),
            }
        }
        _ => not_found_path(),
    };
    ("get", String::new(), resp)
}
