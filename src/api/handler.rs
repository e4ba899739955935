//! The HTTP entry point: authentication, routing of discovery and resource requests to the
//! generic store, and encoding of answers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use super::auth::UserInfo;
use super::codec::{self, Format, MAX_BODY};
use super::discovery;
use super::errors::{json_body, ApiError, ApiResult};
use super::filter::Filter;
use super::metrics::Metrics;
use super::object::ObjectMeta;
use super::patch;
use super::registry::ResourceEntry;
use super::request::{self, parse_path, Query, RequestInfo};
use super::store::{DeleteOutcome, ListResult, Part, Store};
use super::table::{self, IncludeObject};
use super::watch;

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

fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut r = (code, json_body(v)).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn encode(code: StatusCode, v: &Value, format: Format) -> Response {
    match format {
        Format::Yaml => {
            let body = serde_yaml::to_string(v).unwrap_or_default();
            let mut r = (code, body).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/yaml"));
            r
        }
        Format::Table(ver) => {
            let mut r = (code, json_body(v)).into_response();
            let ct = format!("application/json;as=Table;v={ver};g=meta.k8s.io");
            if let Ok(h) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert("content-type", h);
            }
            r
        }
        Format::PartialMetadata(ver) => {
            let mut r = (code, json_body(v)).into_response();
            let kind = v
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("PartialObjectMetadata");
            let ct = format!("application/json;as={kind};v={ver};g=meta.k8s.io");
            if let Ok(h) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert("content-type", h);
            }
            r
        }
        Format::Json => json_response(code, v),
    }
}

fn text(code: StatusCode, s: &str) -> Response {
    let mut r = (code, s.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Handles every request.
pub async fn handle(State(app): State<Arc<App>>, req: Request<Body>) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let user = req
        .extensions()
        .get::<Option<UserInfo>>()
        .cloned()
        .flatten();
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

fn aggregated_response(v: Value, version: &str) -> Response {
    let mut r = (StatusCode::OK, json_body(&v)).into_response();
    let ct = if version == "v2" {
        discovery::AGGREGATED_V2
    } else {
        discovery::AGGREGATED_V2BETA1
    };
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(ct));
    r.headers_mut()
        .insert("vary", HeaderValue::from_static("Accept"));
    r
}

fn not_found_path() -> Response {
    let mut e = ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    );
    e.details.kind = None;
    let mut v = e.to_status();
    v["details"] = json!({});
    json_response(StatusCode::NOT_FOUND, &v)
}

async fn read_body(req: Request<Body>) -> ApiResult<(HeaderMap, bytes::Bytes)> {
    let (parts, mut body) = req.into_parts();
    let mut buf = bytes::BytesMut::new();
    let mut too_large = parts
        .headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| len > MAX_BODY);
    let mut seen = 0usize;
    // An oversized body is still read (and dropped), up to a hard cap, so that HTTP/2 clients get
    // the 413 instead of a reset stream.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(f))) => f,
            Ok(Some(Err(e))) => {
                return Err(ApiError::bad_request(format!(
                    "error reading request body: {e}"
                )))
            }
            Ok(None) => break,
            Err(_) => return Err(ApiError::timeout("timed out reading the request body")),
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > MAX_BODY {
                too_large = true;
            }
            if too_large {
                if seen > MAX_DRAIN {
                    break;
                }
                continue;
            }
            buf.extend_from_slice(&data);
        }
    }
    if too_large {
        return Err(ApiError::too_large(MAX_BODY));
    }
    Ok((parts.headers, buf.freeze()))
}

/// The most of an oversized body that is read before answering 413.
const MAX_DRAIN: usize = 64 * 1024 * 1024;

type Handled = Result<(&'static str, Response), (&'static str, ApiError)>;

async fn resource_request(app: &Arc<App>, info: RequestInfo, req: Request<Body>) -> Handled {
    let store = &app.store;
    let Some(res) = store
        .registry
        .find(&info.group, &info.version, &info.resource)
    else {
        return Ok(("", not_found_path()));
    };
    let query = Query::parse(req.uri().query());
    let method = req.method().clone();
    let format = codec::negotiate(req.headers()).map_err(|e| ("", e))?;
    let ns = if res.rt.namespaced {
        info.namespace.clone()
    } else {
        None
    };
    if !res.rt.namespaced && info.namespace.is_some() {
        return Ok(("", not_found_path()));
    }
    let is_watch = info.watch_path || query.flag("watch");
    let verb: &'static str = match (&method, info.name.is_some(), info.subresource.is_some()) {
        (&Method::GET, false, _) if is_watch => "watch",
        (&Method::GET, false, _) => "list",
        (&Method::GET, true, _) if is_watch => "watch",
        (&Method::GET, true, _) => "get",
        (&Method::POST, false, _) => "create",
        (&Method::PUT, true, _) => "update",
        (&Method::PATCH, true, _) => "patch",
        (&Method::DELETE, true, false) => "delete",
        (&Method::DELETE, false, _) => "deletecollection",
        _ => return Err(("", ApiError::method_not_allowed())),
    };
    let wrap = |e: ApiError| (verb, e);
    if res.rt.namespaced && ns.is_none() && !matches!(verb, "list" | "watch") {
        return Ok((verb, not_found_path()));
    }
    if !res.rt.verbs.iter().any(|v| v == verb) && info.subresource.is_none() {
        return Err(wrap(ApiError::method_not_allowed()));
    }
    if let Some(sub) = &info.subresource {
        if !res.rt.has_subresource(sub) {
            return Ok((verb, not_found_path()));
        }
    }
    let include = IncludeObject::parse(query.get("includeObject"))
        .map_err(|m| wrap(ApiError::bad_request(m)))?;
    let nsr = ns.as_deref();
    let name = info.name.clone().unwrap_or_default();
    let resp = match verb {
        "list" => {
            let opts = query.list_options().map_err(wrap)?;
            let page = store.list(&res, nsr, &opts).await.map_err(wrap)?;
            list_response(&res, page, format, include)
        }
        "watch" => {
            let mut opts = query.list_options().map_err(wrap)?;
            if info.name.is_some() {
                opts.field_selector = Some(format!("metadata.name={name}"));
            }
            let filter = Filter::parse(
                opts.label_selector.as_deref(),
                opts.field_selector.as_deref(),
                &res.rt.group,
                &res.rt.kind,
            )
            .map_err(wrap)?;
            let wopts = query.watch_options().map_err(wrap)?;
            let rx = watch::start(store, res.clone(), nsr, filter, wopts, format, include)
                .map_err(wrap)?;
            let stream = tokio_stream::wrappers::ReceiverStream::new(rx)
                .map(Ok::<_, std::convert::Infallible>);
            let mut r = Response::new(Body::from_stream(stream));
            let ct = match format {
                Format::Table(v) => format!("application/json;as=Table;v={v};g=meta.k8s.io"),
                _ => "application/json".to_string(),
            };
            if let Ok(h) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert("content-type", h);
            }
            r.headers_mut().insert(
                "cache-control",
                HeaderValue::from_static("no-cache, private"),
            );
            r
        }
        "get" => {
            let obj = store.get(&res, nsr, &name).await.map_err(wrap)?;
            let obj = match info.subresource.as_deref() {
                None | Some("status") => obj,
                Some("scale") => patch::scale_of(&obj).map_err(wrap)?,
                Some(_) => return Err(wrap(ApiError::method_not_allowed())),
            };
            object_response(&res, StatusCode::OK, &obj, format, include)
        }
        "create" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let obj = codec::decode_body(&headers, &body).map_err(wrap)?;
            let obj = check_type(&res, obj).map_err(wrap)?;
            let warnings =
                field_validation(app, &res, &query, &headers, &body, &obj).map_err(wrap)?;
            let created = store.create(&res, nsr, obj, &opts).await.map_err(wrap)?;
            with_warnings(
                object_response(&res, StatusCode::CREATED, &created, format, include),
                &warnings,
            )
        }
        "update" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let obj = codec::decode_body(&headers, &body).map_err(wrap)?;
            match info.subresource.as_deref() {
                None | Some("status") | Some("finalize") => {
                    let obj = check_type(&res, obj).map_err(wrap)?;
                    let warnings =
                        field_validation(app, &res, &query, &headers, &body, &obj).map_err(wrap)?;
                    let part = match info.subresource.as_deref() {
                        None => Part::Main,
                        Some("status") => Part::Status,
                        _ => Part::All,
                    };
                    let obj = if info.subresource.as_deref() == Some("finalize") {
                        let finalizers = obj
                            .pointer("/spec/finalizers")
                            .cloned()
                            .unwrap_or(json!([]));
                        let rv = obj.meta_str("resourceVersion").map(str::to_string);
                        store
                            .guaranteed_update(&res, nsr, &name, Part::All, &opts, |old| {
                                let mut n = old.clone();
                                n["spec"]["finalizers"] = finalizers.clone();
                                if let Some(rv) = &rv {
                                    n.set_meta("resourceVersion", json!(rv));
                                }
                                Ok(n)
                            })
                            .await
                            .map_err(wrap)?
                    } else {
                        let (v, created) = store
                            .update(&res, nsr, &name, obj, part, &opts)
                            .await
                            .map_err(wrap)?;
                        let code = if created {
                            StatusCode::CREATED
                        } else {
                            StatusCode::OK
                        };
                        return Ok((
                            verb,
                            with_warnings(
                                object_response(&res, code, &v, format, include),
                                &warnings,
                            ),
                        ));
                    };
                    with_warnings(
                        object_response(&res, StatusCode::OK, &obj, format, include),
                        &warnings,
                    )
                }
                Some("scale") => {
                    let updated = store
                        .guaranteed_update(&res, nsr, &name, Part::All, &opts, |old| {
                            patch::apply_scale(old, &obj)
                        })
                        .await
                        .map_err(wrap)?;
                    object_response(
                        &res,
                        StatusCode::OK,
                        &patch::scale_of(&updated).map_err(wrap)?,
                        format,
                        include,
                    )
                }
                Some(_) => return Err(wrap(ApiError::method_not_allowed())),
            }
        }
        "patch" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let ct = codec::content_type(&headers);
            let kind = patch::PatchKind::from_content_type(&ct).map_err(wrap)?;
            let patch_body = patch::parse_patch(kind, &body).map_err(wrap)?;
            let part = match info.subresource.as_deref() {
                None => Part::Main,
                Some("status") => Part::Status,
                Some("scale") => Part::All,
                Some(_) => return Err(wrap(ApiError::method_not_allowed())),
            };
            let scale = info.subresource.as_deref() == Some("scale");
            let updated = store
                .guaranteed_update(&res, nsr, &name, part, &opts, |old| {
                    if scale {
                        let s = patch::scale_of(old)?;
                        let patched = patch::apply(kind, &s, &patch_body)?;
                        patch::apply_scale(old, &patched)
                    } else {
                        patch::apply(kind, old, &patch_body)
                    }
                })
                .await
                .map_err(wrap)?;
            let out = if scale {
                patch::scale_of(&updated).map_err(wrap)?
            } else {
                updated
            };
            object_response(&res, StatusCode::OK, &out, format, include)
        }
        "delete" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let mut opts = query.delete_options().map_err(wrap)?;
            if !body.iter().all(u8::is_ascii_whitespace) {
                let b = codec::decode_body(&headers, &body).map_err(wrap)?;
                request::merge_delete_body(&mut opts, &b).map_err(wrap)?;
            }
            match store.delete(&res, nsr, &name, &opts).await.map_err(wrap)? {
                DeleteOutcome::Pending(obj) => {
                    if res.rt.kind == "Namespace" && !opts.dry_run {
                        super::namespace::spawn_cleanup(app.clone(), name.clone());
                    }
                    object_response(&res, StatusCode::OK, &obj, format, include)
                }
                DeleteOutcome::Deleted(obj) if res.strategy.return_deleted_object => {
                    object_response(&res, StatusCode::OK, &obj, format, include)
                }
                DeleteOutcome::Deleted(obj) => {
                    let mut details = Map::new();
                    details.insert("name".into(), json!(name));
                    if !res.rt.group.is_empty() {
                        details.insert("group".into(), json!(res.rt.group));
                    }
                    details.insert("kind".into(), json!(res.rt.plural));
                    details.insert("uid".into(), json!(obj.meta_str("uid").unwrap_or("")));
                    let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
                    json_response(StatusCode::OK, &status)
                }
            }
        }
        "deletecollection" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let mut opts = query.delete_options().map_err(wrap)?;
            if !body.iter().all(u8::is_ascii_whitespace) {
                let b = codec::decode_body(&headers, &body).map_err(wrap)?;
                request::merge_delete_body(&mut opts, &b).map_err(wrap)?;
            }
            let list = query.list_options().map_err(wrap)?;
            let (items, rev) = store
                .delete_collection(&res, nsr, &list, &opts)
                .await
                .map_err(wrap)?;
            let items: Vec<Arc<Value>> = items.into_iter().map(Arc::new).collect();
            list_response(
                &res,
                ListResult {
                    items,
                    revision: rev,
                    continue_token: None,
                    remaining: None,
                },
                format,
                include,
            )
        }
        _ => return Err(wrap(ApiError::method_not_allowed())),
    };
    Ok((verb, resp))
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}

/// Checks `apiVersion`/`kind` of a body against the resource.
fn check_type(res: &ResourceEntry, obj: Value) -> ApiResult<Value> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    let expected = res.rt.api_version();
    if !av.is_empty() && av != expected {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({av}) does not match the expected API version ({expected})"
        )));
    }
    if !kind.is_empty() && kind != res.rt.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            res.rt.kind
        )));
    }
    Ok(obj)
}

/// Applies `fieldValidation` (Strict → 400, Warn → warnings, Ignore) for unknown and duplicate fields.
fn field_validation(
    app: &App,
    res: &ResourceEntry,
    query: &Query,
    headers: &HeaderMap,
    raw: &[u8],
    obj: &Value,
) -> ApiResult<Vec<String>> {
    let mode = query.get("fieldValidation").unwrap_or("Warn");
    match mode {
        "Ignore" => return Ok(Vec::new()),
        "Strict" | "Warn" | "" => {}
        other => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: \"{other}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
            )))
        }
    }
    let mut problems = Vec::new();
    if codec::content_type(headers) == "application/json" {
        problems.extend(crate::openapi::duplicate_fields(raw));
    }
    if !res.rt.schema_name.is_empty() {
        problems.extend(app.openapi.validate_fields(&res.rt.schema_name, obj));
    }
    if problems.is_empty() {
        return Ok(Vec::new());
    }
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            problems.join(", ")
        )));
    }
    Ok(problems)
}

fn list_meta(page: &ListResult) -> Value {
    let mut m = Map::new();
    m.insert("resourceVersion".into(), json!(page.revision.to_string()));
    if let Some(c) = &page.continue_token {
        m.insert("continue".into(), json!(c));
    }
    if let Some(r) = page.remaining {
        m.insert("remainingItemCount".into(), json!(r));
    }
    Value::Object(m)
}

fn list_response(
    res: &ResourceEntry,
    page: ListResult,
    format: Format,
    include: IncludeObject,
) -> Response {
    let meta = list_meta(&page);
    match format {
        Format::Table(v) => encode(
            StatusCode::OK,
            &table::table(res, &page.items, meta, include, v, true),
            format,
        ),
        Format::PartialMetadata(v) => encode(
            StatusCode::OK,
            &table::partial_metadata_list(&page.items, meta, v),
            format,
        ),
        _ => {
            if format == Format::Json {
                return json_list(res, &page.items, &meta);
            }
            let list = json!({
                "kind": res.rt.list_kind,
                "apiVersion": res.rt.api_version(),
                "metadata": meta,
                "items": page.items.iter().map(|o| (**o).clone()).collect::<Vec<_>>(),
            });
            encode(StatusCode::OK, &list, format)
        }
    }
}

/// Writes a JSON list without copying the items.
fn json_list(res: &ResourceEntry, items: &[Arc<Value>], meta: &Value) -> Response {
    let mut out = Vec::with_capacity(256 + items.len() * 512);
    out.extend_from_slice(b"{\"kind\":");
    let _ = serde_json::to_writer(&mut out, &res.rt.list_kind);
    out.extend_from_slice(b",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut out, &res.rt.api_version());
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, meta);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, &**item);
    }
    out.extend_from_slice(b"]}\n");
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn object_response(
    res: &ResourceEntry,
    code: StatusCode,
    obj: &Value,
    format: Format,
    include: IncludeObject,
) -> Response {
    match format {
        Format::Table(v) => {
            let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!(""))});
            encode(
                code,
                &table::table(res, &[Arc::new(obj.clone())], meta, include, v, true),
                format,
            )
        }
        Format::PartialMetadata(v) => encode(code, &table::partial_metadata(obj, v), format),
        _ => encode(code, obj, format),
    }
}
