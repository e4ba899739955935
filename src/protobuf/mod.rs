//! Decoding of Kubernetes protobuf request bodies
//! (`Content-Type: application/vnd.kubernetes.protobuf`) into JSON.
//!
//! A body is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` message
//! (`1: TypeMeta{1: apiVersion, 2: kind}`, `2: raw`, `3: contentEncoding`,
//! `4: contentType`).  `raw` is the object's own protobuf message, which is
//! decoded with a generic wire-format decoder driven by a descriptor table
//! generated from k8s-pb and k8s-openapi (`tools/gen_protobuf_descriptors.py`).
//!
//! The JSON produced is what Kubernetes' own JSON encoding of the decoded Go
//! object would look like: Kubernetes field names, `metav1.Time` as RFC 3339,
//! `IntOrString` as number or string, `Quantity` as string, raw JSON
//! (`RawExtension`, `FieldsV1`, CRD `JSON`) embedded, `bytes` as base64.
//! Empty singular strings are omitted (Go's `omitempty`; the wire format cannot
//! tell them from unset) except for required fields; zero numbers and `false`
//! are kept since they may be meaningful pointer values (`replicas: 0`).
//!
//! `wire.rs` reads the wire format, `decoder.rs` turns messages into JSON, `special.rs` formats
//! times and durations, `error.rs` holds the error type; this module handles the envelope.

#[rustfmt::skip]
mod descriptors;
mod decoder;
mod error;
mod special;
mod table;
#[cfg(test)]
mod tests;
mod wire;

pub use error::ProtobufError;

use serde_json::{Map, Value};

use decoder::{decode_fields, lossy};
use descriptors::{MESSAGES, PACKAGES};
use table::{MessageDesc, Special};
use wire::Reader;

/// Magic prefix of every Kubernetes protobuf-encoded object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Maximum nesting depth of messages (and embedded protobuf objects) accepted.
pub const MAX_DEPTH: usize = 100;

/// Proto package holding the kinds shared by every group (`DeleteOptions`, `Status`, ...).
const META_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

/// Decodes a Kubernetes protobuf request body (`k8s\0` + `runtime.Unknown`)
/// into the JSON object Kubernetes would accept for it, with `apiVersion` and
/// `kind` set from the envelope.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    decode_envelope(body, 0)
}

/// Decodes the protobuf encoding `raw` of an object of the given apiVersion and
/// kind (the payload of a `runtime.Unknown`) into JSON with `apiVersion` and
/// `kind` set.
pub fn decode_object(api_version: &str, kind: &str, raw: &[u8]) -> Result<Value, ProtobufError> {
    decode_object_at(api_version, kind, raw, 0)
}

/// Returns true if `body` starts with the Kubernetes protobuf magic prefix.
pub fn has_magic(body: &[u8]) -> bool {
    body.starts_with(MAGIC)
}

fn decode_envelope(body: &[u8], depth: usize) -> Result<Value, ProtobufError> {
    let rest = body
        .strip_prefix(MAGIC.as_slice())
        .ok_or(ProtobufError::MissingMagic)?;
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    let mut encoding = String::new();
    let mut r = Reader::new(rest);
    while !r.is_empty() {
        let (tag, wt) = r.key()?;
        match (tag, wt) {
            (1, 2) => {
                let mut tm = Reader::new(r.len_delimited()?);
                while !tm.is_empty() {
                    match tm.key()? {
                        (1, 2) => api_version = lossy(tm.len_delimited()?),
                        (2, 2) => kind = lossy(tm.len_delimited()?),
                        (_, wt) => tm.skip(wt)?,
                    }
                }
            }
            (2, 2) => raw = r.len_delimited()?,
            (3, 2) => encoding = lossy(r.len_delimited()?),
            (_, wt) => r.skip(wt)?,
        }
    }
    if !encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding(encoding));
    }
    decode_object_at(&api_version, &kind, raw, depth)
}

fn decode_object_at(
    api_version: &str,
    kind: &str,
    raw: &[u8],
    depth: usize,
) -> Result<Value, ProtobufError> {
    if api_version.is_empty() || kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta);
    }
    let md = find_message(api_version, kind)
        .filter(|md| md.special == Special::None)
        .ok_or_else(|| ProtobufError::UnknownKind {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
        })?;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(api_version.into()));
    obj.insert("kind".into(), Value::String(kind.into()));
    decode_fields(md, raw, depth + 1, &mut obj)?;
    Ok(Value::Object(obj))
}

/// Finds the message for an apiVersion/kind; kinds missing from the group's
/// package fall back to `meta.k8s.io/v1` (e.g. `DeleteOptions`).
fn find_message(api_version: &str, kind: &str) -> Option<&'static MessageDesc> {
    let package = PACKAGES
        .binary_search_by(|(av, _)| (*av).cmp(api_version))
        .ok()
        .and_then(|i| PACKAGES.get(i))
        .map(|(_, p)| *p)?;
    lookup(package, kind).or_else(|| lookup(META_V1, kind))
}

fn lookup(package: &str, kind: &str) -> Option<&'static MessageDesc> {
    let full = format!("{package}.{kind}");
    if let Ok(i) = MESSAGES.binary_search_by(|m| m.name.cmp(full.as_str())) {
        return MESSAGES.get(i);
    }
    MESSAGES
        .iter()
        .find(|m| m.package() == package && m.short_name().eq_ignore_ascii_case(kind))
}
