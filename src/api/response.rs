//! Encoding of answers: JSON, YAML, Table and PartialObjectMetadata bodies with their content types.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::cache::Cached;
use super::codec::Format;
use super::discovery;
use super::errors::{json_body, ApiError};
use super::registry::ResourceEntry;
use super::store::ListResult;
use super::table::{self, IncludeObject};
/// A JSON body with `application/json`.
pub fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut r = (code, json_body(v)).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// An object or list in the negotiated format, with its content type.
pub fn encode(code: StatusCode, v: &Value, format: Format) -> Response {
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

/// A plain-text body.
pub fn text(code: StatusCode, s: &str) -> Response {
    let mut r = (code, s.to_string()).into_response();
    r.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// An aggregated discovery document with its content type.
pub fn aggregated_response(v: Value, version: &str) -> Response {
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

/// 404 for a path nothing is served at (upstream's empty-details NotFound).
pub fn not_found_path() -> Response {
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

/// Adds `Warning: 299 - "…"` headers.
pub fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(h) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            r.headers_mut().append("warning", h);
        }
    }
    r
}

/// The ListMeta of a page.
pub fn list_meta(page: &ListResult) -> Value {
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

/// A list in the negotiated format.
pub fn list_response(
    res: &ResourceEntry,
    page: ListResult,
    format: Format,
    include: IncludeObject,
) -> Response {
    let meta = list_meta(&page);
    if format == Format::Json && served_as_stored(res) {
        return json_list(res, &page.items, &meta);
    }
    if let Format::PartialMetadata(v) = format {
        return partial_metadata_list(&page.items, &meta, v);
    }
    let items: Vec<Arc<Value>> = page.items.iter().map(|c| Arc::new(c.value())).collect();
    let items = super::convert::served_items(res, items);
    match format {
        Format::Table(v) => encode(
            StatusCode::OK,
            &table::table(res, &items, meta, include, v, true),
            format,
        ),
        Format::PartialMetadata(v) => encode(
            StatusCode::OK,
            &table::partial_metadata_list(&items, meta, v),
            format,
        ),
        _ => {
            let list = json!({
                "kind": res.rt.list_kind,
                "apiVersion": res.rt.api_version(),
                "metadata": meta,
                "items": items.iter().map(|o| crate::api::crd::convert(res, o).into_owned()).collect::<Vec<_>>(),
            });
            encode(StatusCode::OK, &list, format)
        }
    }
}

/// Whether `res` serves its objects exactly as stored (no version conversion, not a custom
/// resource that may be stored in another version), so cached JSON can be written as it is.
pub fn served_as_stored(res: &ResourceEntry) -> bool {
    res.conversion.is_none() && res.strategy.custom.is_none()
}

/// A PartialObjectMetadataList of cached objects, written without decoding them.
fn partial_metadata_list(items: &[Arc<Cached>], meta: &Value, version: &'static str) -> Response {
    let mut out = Vec::with_capacity(256 + items.len() * 512);
    out.extend_from_slice(b"{\"kind\":\"PartialObjectMetadataList\",\"apiVersion\":");
    let _ = serde_json::to_writer(&mut out, &format!("meta.k8s.io/{version}"));
    out.extend_from_slice(b",\"metadata\":");
    let _ = serde_json::to_writer(&mut out, meta);
    out.extend_from_slice(b",\"items\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&item.partial_metadata(version));
    }
    out.extend_from_slice(b"]}\n");
    let mut r = (StatusCode::OK, out).into_response();
    if let Ok(h) = HeaderValue::from_str(&format!(
        "application/json;as=PartialObjectMetadataList;v={version};g=meta.k8s.io"
    )) {
        r.headers_mut().insert("content-type", h);
    }
    r
}

/// Writes a JSON list of cached objects without decoding them.
fn json_list(res: &ResourceEntry, items: &[Arc<Cached>], meta: &Value) -> Response {
    let size: usize = items.iter().map(|c| c.json_len() + 1).sum();
    let mut out = Vec::with_capacity(256 + size);
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
        out.extend_from_slice(&item.json());
    }
    out.extend_from_slice(b"]}\n");
    let mut r = (StatusCode::OK, out).into_response();
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// One object in the negotiated format.
pub fn object_response(
    res: &ResourceEntry,
    code: StatusCode,
    obj: &Value,
    format: Format,
    include: IncludeObject,
) -> Response {
    let converted = super::convert::served(res, obj);
    let obj = converted.as_ref().unwrap_or(obj);
    let obj = &*crate::api::crd::convert(res, obj);
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
