//! Request body decoding (JSON, YAML, protobuf) and response format negotiation (JSON, YAML,
//! Table, PartialObjectMetadata).

use axum::http::HeaderMap;
use serde_json::Value;

use super::errors::{ApiError, ApiResult};

/// The largest request body accepted (upstream's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Media type of Kubernetes protobuf bodies.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// What the client asked the response to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain JSON objects.
    Json,
    /// YAML.
    Yaml,
    /// `meta.k8s.io` Table (version v1 or v1beta1).
    Table(&'static str),
    /// `PartialObjectMetadata` (and `PartialObjectMetadataList` for lists).
    PartialMetadata(&'static str),
}

/// One media range of an Accept header.
#[derive(Debug)]
struct MediaRange<'a> {
    mime: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

fn parse_accept(accept: &str) -> Vec<MediaRange<'_>> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';').map(str::trim);
            let mime = it.next().filter(|m| !m.is_empty())?;
            let params = it
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect();
            Some(MediaRange { mime, params })
        })
        .collect()
}

/// Chooses the response format from the Accept header; 406 when nothing offered is served.
pub fn negotiate(headers: &HeaderMap) -> ApiResult<Format> {
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Format::Json);
    }
    for r in parse_accept(accept) {
        let p = |k: &str| r.params.iter().find(|(pk, _)| *pk == k).map(|(_, v)| *v);
        match r.mime {
            "application/json" | "application/yaml" | "*/*" | "application/*" => {
                if let Some(kind) = p("as") {
                    if p("g") != Some("meta.k8s.io") {
                        continue;
                    }
                    let version = match p("v") {
                        Some("v1") => "v1",
                        Some("v1beta1") => "v1beta1",
                        _ => continue,
                    };
                    match kind {
                        "Table" => return Ok(Format::Table(version)),
                        "PartialObjectMetadata" | "PartialObjectMetadataList" => {
                            return Ok(Format::PartialMetadata(version))
                        }
                        _ => continue,
                    }
                }
                return Ok(if r.mime == "application/yaml" {
                    Format::Yaml
                } else {
                    Format::Json
                });
            }
            _ => continue,
        }
    }
    Err(ApiError::not_acceptable(format!(
        "the server was unable to respond with a content type that the client supports (Accept: {accept})"
    )))
}

/// The request's content type without parameters, lower-cased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Decodes a request body by its content type.
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> ApiResult<Value> {
    let ct = content_type(headers);
    match ct.as_str() {
        "" | "application/json" => parse_json(body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => parse_yaml(body),
        PROTOBUF => crate::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("unable to decode protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Parses JSON, reporting the parser's position on error.
pub fn parse_json(body: &[u8]) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("the body of the request was empty"));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
    })
}

/// Parses YAML (one document), reporting the parser's position on error.
pub fn parse_yaml(body: &[u8]) -> ApiResult<Value> {
    let v: serde_yaml::Value = serde_yaml::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: yaml: {e}")))?;
    serde_json::to_value(v)
        .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))
}
