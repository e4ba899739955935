//! Resource requests: verbs on collections, objects and subresources, over the generic store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use super::apply;
use super::codec::{self, Format, MAX_BODY};
use super::errors::{ApiError, ApiResult};
use super::filter::Filter;
use super::handler::App;
use super::object::ObjectMeta;
use super::patch;
use super::registry::ResourceEntry;
use super::request::{self, Query, RequestInfo};
use super::response::{
    json_response, list_response, not_found_path, object_response, with_warnings,
};
use super::store::{DeleteOutcome, ListResult, Part};
use super::table::IncludeObject;
use super::watch;
/// Reads a request body (413 past [`MAX_BODY`]).
pub(crate) async fn read_body(req: Request<Body>) -> ApiResult<(HeaderMap, bytes::Bytes)> {
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

/// A response with its verb, or an error with its verb (for metrics).
pub type Handled = Result<(&'static str, Response), (&'static str, ApiError)>;

/// Serves a request for a resource path: the verb follows from method, path and `watch`.
pub async fn resource_request(app: &Arc<App>, info: RequestInfo, req: Request<Body>) -> Handled {
    let store = &app.store;
    let Some(res) = store
        .registry
        .find(&info.group, &info.version, &info.resource)
    else {
        return Ok(("", not_found_path()));
    };
    if crate::auth::reviews::intercepts(&res, &info, req.method()) {
        return crate::auth::reviews::serve(app, res, info, req).await;
    }
    if super::resource_metrics::intercepts(&res) {
        return super::resource_metrics::serve(app, res, info, req).await;
    }
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
    if method == Method::POST
        && info.subresource.as_deref() == Some("eviction")
        && res.rt.plural == "pods"
        && ns.is_some()
    {
        let (ns, name) = (
            ns.as_deref().unwrap_or_default(),
            info.name.as_deref().unwrap_or_default(),
        );
        return super::eviction::serve(app, &res, ns, name, &query, req)
            .await
            .map(|r| ("create", r))
            .map_err(|e| ("create", e));
    }
    if info.subresource.as_deref() == Some("proxy")
        && res.rt.plural == "nodes"
        && res.rt.group.is_empty()
    {
        if method != Method::GET {
            return Err(("", ApiError::method_not_allowed()));
        }
        let node = info.name.as_deref().unwrap_or_default();
        let path = super::nodeproxy::proxied_path(req.uri().path());
        return super::nodeproxy::serve(node, path)
            .map(|r| ("get", r))
            .map_err(|e| ("get", e));
    }
    if method == Method::GET
        && info.subresource.as_deref() == Some("log")
        && res.rt.plural == "pods"
        && ns.is_some()
    {
        let (ns, name) = (
            ns.as_deref().unwrap_or_default(),
            info.name.as_deref().unwrap_or_default(),
        );
        return super::podlogs::serve(app, &res, ns, name, &query)
            .await
            .map(|r| ("get", r))
            .map_err(|e| ("get", e));
    }
    if let Some(kind) = info
        .subresource
        .as_deref()
        .and_then(super::streaming::Kind::of)
        .filter(|_| res.rt.plural == "pods" && ns.is_some())
    {
        if method != Method::GET && method != Method::POST {
            return Err(("", ApiError::method_not_allowed()));
        }
        let (ns, name) = (
            ns.as_deref().unwrap_or_default(),
            info.name.as_deref().unwrap_or_default(),
        );
        return super::streaming::serve(app, &res, ns, name, kind, req)
            .await
            .map(|r| ("connect", r))
            .map_err(|e| ("connect", e));
    }
    let is_watch = info.watch_path || query.flag("watch");
    let verb: &'static str = match (&method, info.name.is_some(), info.subresource.is_some()) {
        (&Method::GET, false, _) if is_watch => "watch",
        (&Method::GET, false, _) => "list",
        (&Method::GET, true, _) if is_watch => "watch",
        (&Method::GET, true, _) => "get",
        (&Method::POST, false, _) => "create",
        (&Method::POST, true, true) => "create",
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
                None | Some("status") | Some("approval") => obj,
                Some("scale") => super::crd::scale_of(&res, &obj).map_err(wrap)?,
                Some(_) => return Err(wrap(ApiError::method_not_allowed())),
            };
            object_response(&res, StatusCode::OK, &obj, format, include)
        }
        "create" if info.subresource.as_deref() == Some("binding") => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let opts = apply::with_request_manager(opts, &headers, Some("binding"));
            let binding = codec::decode_body(&headers, &body).map_err(wrap)?;
            let status =
                super::binding::bind(store, &res, nsr.unwrap_or(""), &name, &binding, &opts)
                    .await
                    .map_err(wrap)?;
            json_response(StatusCode::CREATED, &status)
        }
        "create" if info.subresource.is_some() => return Err(wrap(ApiError::method_not_allowed())),
        "create" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let opts = apply::with_request_manager(opts, &headers, None);
            let obj = codec::decode_body(&headers, &body).map_err(wrap)?;
            let obj = check_type(&res, obj).map_err(wrap)?;
            let warnings =
                field_validation(app, &res, &query, &headers, &body, &obj).map_err(wrap)?;
            let (wres, obj) = write_target(app, &res, obj);
            let created = store.create(&wres, nsr, obj, &opts).await.map_err(wrap)?;
            with_warnings(
                object_response(&res, StatusCode::CREATED, &created, format, include),
                &warnings,
            )
        }
        "update" => {
            let (headers, body) = read_body(req).await.map_err(wrap)?;
            let opts = query.write_options().map_err(wrap)?;
            let opts = apply::with_request_manager(opts, &headers, info.subresource.as_deref());
            let obj = codec::decode_body(&headers, &body).map_err(wrap)?;
            match info.subresource.as_deref() {
                None | Some("status") | Some("finalize") | Some("approval") => {
                    let obj = check_type(&res, obj).map_err(wrap)?;
                    let warnings =
                        field_validation(app, &res, &query, &headers, &body, &obj).map_err(wrap)?;
                    let part = match info.subresource.as_deref() {
                        None => Part::Main,
                        Some("status") => Part::Status,
                        Some("approval") => Part::Approval,
                        _ => Part::All,
                    };
                    let (wres, obj) = write_target(app, &res, obj);
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
                            .update(&wres, nsr, &name, obj, part, &opts)
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
                            super::crd::apply_scale(&res, old, &obj)
                        })
                        .await
                        .map_err(wrap)?;
                    object_response(
                        &res,
                        StatusCode::OK,
                        &super::crd::scale_of(&res, &updated).map_err(wrap)?,
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
            if ct == apply::APPLY_PATCH_YAML {
                let mut opts = opts;
                opts.field_manager = query
                    .get("fieldManager")
                    .filter(|m| !m.is_empty())
                    .map(str::to_string);
                if opts.field_manager.is_none() {
                    return Err(wrap(apply::manager_required()));
                }
                let config = codec::parse_yaml(&body).map_err(wrap)?;
                let config = check_type(&res, config).map_err(wrap)?;
                let warnings =
                    field_validation(app, &res, &query, &headers, &body, &config).map_err(wrap)?;
                let sub = info.subresource.as_deref();
                let force = query.flag("force");
                let (obj, created) =
                    apply::apply_request(store, &res, nsr, &name, sub, config, &opts, force)
                        .await
                        .map_err(wrap)?;
                let code = if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                };
                let resp = object_response(&res, code, &obj, format, include);
                return Ok((verb, with_warnings(resp, &warnings)));
            }
            let opts = apply::with_request_manager(opts, &headers, info.subresource.as_deref());
            let kind = patch::PatchKind::from_content_type(&ct).map_err(wrap)?;
            if kind == patch::PatchKind::Strategic && res.strategy.custom.is_some() {
                return Err(wrap(super::crd::strategic_patch_unsupported()));
            }
            let patch_body = patch::parse_patch(kind, &body).map_err(wrap)?;
            let part = match info.subresource.as_deref() {
                None => Part::Main,
                Some("status") => Part::Status,
                Some("approval") => Part::Approval,
                Some("scale") => Part::All,
                Some(_) => return Err(wrap(ApiError::method_not_allowed())),
            };
            let scale = info.subresource.as_deref() == Some("scale");
            let wres = store.registry.storage_entry(&res);
            let served_version = res.rt.api_version();
            // As upstream, a patch is only pinned to a resourceVersion it names itself: other
            // concurrent writes (e.g. a controller's status update) make it retry, not fail.
            let pins = match patch_body.as_array() {
                Some(ops) => ops.iter().any(|op| {
                    op.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion")
                }),
                None => patch_body.pointer("/metadata/resourceVersion").is_some(),
            };
            let updated = store
                .guaranteed_update(&wres, nsr, &name, part, &opts, |old| {
                    let mut old = old.clone();
                    if !pins {
                        old.remove_meta("resourceVersion");
                    }
                    let old = &old;
                    if scale {
                        let s = super::crd::scale_of(&res, old)?;
                        let patched = patch::apply(
                            kind,
                            &s,
                            &patch_body,
                            Some("io.k8s.api.autoscaling.v1.Scale"),
                        )?;
                        super::crd::apply_scale(&res, old, &patched)
                    } else if let Some(c) = res.conversion {
                        // Patches apply to the object as the client sees it.
                        let served = c.output(old, &served_version);
                        Ok((c.to_storage)(patch::apply(
                            kind,
                            &served,
                            &patch_body,
                            Some(&res.rt.schema_name),
                        )?))
                    } else {
                        patch::apply(kind, old, &patch_body, Some(&res.rt.schema_name))
                    }
                })
                .await
                .map_err(wrap)?;
            let out = if scale {
                super::crd::scale_of(&res, &updated).map_err(wrap)?
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
            if res.rt.group == super::crd::GROUP
                && res.rt.kind == "CustomResourceDefinition"
                && !opts.dry_run
            {
                super::crd::controller::before_delete(app, &name)
                    .await
                    .map_err(wrap)?;
            }
            match store.delete(&res, nsr, &name, &opts).await.map_err(wrap)? {
                DeleteOutcome::Pending(obj) => {
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
            let items = items
                .iter()
                .map(|v| Arc::new(crate::api::cache::Cached::from_value(v)))
                .collect();
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

/// The entry a write goes through (the storage version's) and the body converted to it.
fn write_target(app: &App, res: &Arc<ResourceEntry>, obj: Value) -> (Arc<ResourceEntry>, Value) {
    match res.conversion {
        Some(c) => (app.store.registry.storage_entry(res), (c.to_storage)(obj)),
        None => (res.clone(), obj),
    }
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
    // Upstream reports unknown fields first, then duplicates.
    let mut problems = Vec::new();
    if let Some(custom) = &res.strategy.custom {
        problems.extend(custom.unknown_fields(obj));
    } else if !res.rt.schema_name.is_empty() {
        problems.extend(app.openapi.validate_fields(&res.rt.schema_name, obj));
    }
    if codec::content_type(headers) == "application/json" {
        problems.extend(crate::openapi::duplicate_fields(raw));
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
