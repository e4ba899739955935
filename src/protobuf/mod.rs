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

#[rustfmt::skip]
mod descriptors;
mod table;
#[cfg(test)]
mod tests;

use base64::Engine as _;
use serde_json::{Map, Value};

use descriptors::{MESSAGES, PACKAGES};
use table::{FieldDesc, Kind, Label, MessageDesc, Special};

/// Magic prefix of every Kubernetes protobuf-encoded object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Maximum nesting depth of messages (and embedded protobuf objects) accepted.
pub const MAX_DEPTH: usize = 100;

/// Proto package holding the kinds shared by every group (`DeleteOptions`, `Status`, ...).
const META_V1: &str = "k8s.io.apimachinery.pkg.apis.meta.v1";

/// Seconds of Go's zero `time.Time` (January 1, year 1, UTC) since the Unix epoch.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// Errors decoding a Kubernetes protobuf body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the Kubernetes magic prefix k8s\\0")]
    MissingMagic,
    /// The input ended in the middle of a varint.
    #[error("truncated protobuf varint")]
    TruncatedVarint,
    /// A varint is longer than 10 bytes or overflows 64 bits.
    #[error("protobuf varint overflows 64 bits")]
    VarintOverflow,
    /// A length or fixed-size value runs past the end of its enclosing message.
    #[error("protobuf length {len} exceeds the {remaining} remaining bytes")]
    BadLength {
        /// The declared length.
        len: u64,
        /// Bytes actually remaining.
        remaining: usize,
    },
    /// A field key has field number 0 or one out of range.
    #[error("invalid protobuf field number {0}")]
    InvalidFieldNumber(u64),
    /// Deprecated groups (wire types 3/4) or invalid wire types 6/7.
    #[error("unsupported protobuf wire type {0}")]
    UnsupportedWireType(u8),
    /// A known field arrived with a wire type that does not match its type.
    #[error("field {message}.{field} has wrong wire type {wire_type}")]
    WrongWireType {
        /// Full proto message name.
        message: &'static str,
        /// JSON field name.
        field: &'static str,
        /// The wire type found.
        wire_type: u8,
    },
    /// The `runtime.Unknown` envelope has no apiVersion or kind.
    #[error("protobuf envelope has no apiVersion/kind")]
    MissingTypeMeta,
    /// No protobuf message is known for this apiVersion/kind.
    #[error("unknown protobuf kind {kind} in apiVersion {api_version}")]
    UnknownKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The envelope declares a content encoding (e.g. gzip), which is not supported.
    #[error("unsupported protobuf content encoding {0:?}")]
    UnsupportedContentEncoding(String),
    /// Messages are nested deeper than [`MAX_DEPTH`].
    #[error("protobuf message nesting exceeds the limit of {MAX_DEPTH}")]
    TooDeep,
    /// Embedded raw JSON (`RawExtension`, `FieldsV1`, `JSON`) is not valid JSON.
    #[error("invalid embedded JSON in {message}: {error}")]
    InvalidEmbeddedJson {
        /// Full proto message name.
        message: &'static str,
        /// The JSON parser's message.
        error: String,
    },
    /// A timestamp is out of the representable range.
    #[error("timestamp out of range: {seconds}s {nanos}ns")]
    InvalidTimestamp {
        /// Seconds since the Unix epoch.
        seconds: i64,
        /// Nanoseconds.
        nanos: i64,
    },
    /// An `IntOrString` has a type other than 0 (int) or 1 (string).
    #[error("invalid IntOrString type {0}")]
    InvalidIntOrString(i64),
    /// A `double` field holds NaN or an infinity, which JSON cannot represent.
    #[error("non-finite double in field {0}")]
    NonFiniteDouble(&'static str),
    /// The descriptor table refers to a message index that does not exist.
    #[error("internal descriptor table error for {0}")]
    Descriptor(&'static str),
}

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

fn message(index: u16, field: &'static str) -> Result<&'static MessageDesc, ProtobufError> {
    MESSAGES
        .get(usize::from(index))
        .ok_or(ProtobufError::Descriptor(field))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// A cursor over protobuf wire-format bytes; every read consumes input or fails.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value: u64 = 0;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            if i == 9 && b > 1 {
                return Err(ProtobufError::VarintOverflow);
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.buf = self.buf.get(i + 1..).unwrap_or_default();
                return Ok(value);
            }
        }
        if self.buf.len() >= 10 {
            Err(ProtobufError::VarintOverflow)
        } else {
            Err(ProtobufError::TruncatedVarint)
        }
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], ProtobufError> {
        let bad = ProtobufError::BadLength {
            len,
            remaining: self.buf.len(),
        };
        let n = usize::try_from(len).map_err(|_| bad.clone())?;
        let (head, tail) = self.buf.split_at_checked(n).ok_or(bad)?;
        self.buf = tail;
        Ok(head)
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = self.varint()?;
        self.take(len)
    }

    fn key(&mut self) -> Result<(u32, u8), ProtobufError> {
        let key = self.varint()?;
        let tag = key >> 3;
        let wire_type = (key & 7) as u8;
        match u32::try_from(tag) {
            Ok(t) if t != 0 && t < (1 << 29) => Ok((t, wire_type)),
            _ => Err(ProtobufError::InvalidFieldNumber(tag)),
        }
    }

    fn skip(&mut self, wire_type: u8) -> Result<(), ProtobufError> {
        match wire_type {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.len_delimited().map(drop),
            5 => self.take(4).map(drop),
            other => Err(ProtobufError::UnsupportedWireType(other)),
        }
    }
}

fn want(md: &MessageDesc, f: &FieldDesc, got: u8, expected: u8) -> Result<(), ProtobufError> {
    if got == expected {
        Ok(())
    } else {
        Err(ProtobufError::WrongWireType {
            message: md.name,
            field: f.json,
            wire_type: got,
        })
    }
}

fn wire_type_of(kind: Kind) -> u8 {
    match kind {
        Kind::Bool | Kind::I32 | Kind::I64 => 0,
        Kind::F64 => 1,
        Kind::Str | Kind::Bytes | Kind::Msg => 2,
    }
}

/// Reads one scalar value of `f.kind` (for maps: the value kind).
fn read_scalar(
    md: &MessageDesc,
    f: &'static FieldDesc,
    wire_type: u8,
    r: &mut Reader<'_>,
) -> Result<Value, ProtobufError> {
    want(md, f, wire_type, wire_type_of(f.kind))?;
    Ok(match f.kind {
        Kind::Str => Value::String(lossy(r.len_delimited()?)),
        Kind::Bytes => base64(r.len_delimited()?),
        Kind::Bool => Value::Bool(r.varint()? != 0),
        // Truncation to 32 bits is the protobuf semantics of int32.
        Kind::I32 => Value::from(r.varint()? as i32),
        Kind::I64 => Value::from(r.varint()? as i64),
        Kind::F64 => {
            let bytes = r.take(8)?;
            let mut arr = [0u8; 8];
            arr.copy_from_slice(bytes);
            serde_json::Number::from_f64(f64::from_le_bytes(arr))
                .map(Value::Number)
                .ok_or(ProtobufError::NonFiniteDouble(f.json))?
        }
        Kind::Msg => return Err(ProtobufError::Descriptor(f.json)),
    })
}

/// Decodes the fields of a (non-special) message into `obj`, with protobuf
/// merge semantics for repeated occurrences.
fn decode_fields(
    md: &'static MessageDesc,
    data: &[u8],
    depth: usize,
    obj: &mut Map<String, Value>,
) -> Result<(), ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    let mut r = Reader::new(data);
    while !r.is_empty() {
        let (tag, wt) = r.key()?;
        let Some(f) = md.field(tag) else {
            r.skip(wt)?;
            continue;
        };
        match f.label {
            Label::One if f.kind == Kind::Msg => {
                want(md, f, wt, 2)?;
                let bytes = r.len_delimited()?;
                let sub = message(f.msg, f.json)?;
                match obj.get_mut(f.json) {
                    Some(Value::Object(existing)) if sub.special == Special::None => {
                        decode_fields(sub, bytes, depth + 1, existing)?;
                    }
                    _ => {
                        let v = decode_message(sub, bytes, depth + 1)?;
                        obj.insert(f.json.into(), v);
                    }
                }
            }
            Label::One => {
                let v = read_scalar(md, f, wt, &mut r)?;
                let empty = match &v {
                    Value::String(s) => s.is_empty(),
                    _ => false,
                };
                if empty && !f.keep_empty {
                    obj.remove(f.json);
                } else {
                    obj.insert(f.json.into(), v);
                }
            }
            Label::Inline => {
                want(md, f, wt, 2)?;
                let bytes = r.len_delimited()?;
                decode_fields(message(f.msg, f.json)?, bytes, depth + 1, obj)?;
            }
            Label::Rep => {
                let mut items = Vec::new();
                if f.kind == Kind::Msg {
                    want(md, f, wt, 2)?;
                    let bytes = r.len_delimited()?;
                    items.push(decode_message(message(f.msg, f.json)?, bytes, depth + 1)?);
                } else if wt == 2 && !matches!(f.kind, Kind::Str | Kind::Bytes) {
                    // Packed encoding of a repeated numeric field.
                    let mut packed = Reader::new(r.len_delimited()?);
                    while !packed.is_empty() {
                        items.push(read_scalar(md, f, wire_type_of(f.kind), &mut packed)?);
                    }
                } else {
                    items.push(read_scalar(md, f, wt, &mut r)?);
                }
                match obj.get_mut(f.json) {
                    Some(Value::Array(existing)) => existing.extend(items),
                    _ => {
                        obj.insert(f.json.into(), Value::Array(items));
                    }
                }
            }
            Label::MapStr | Label::MapBytes | Label::MapMsg => {
                want(md, f, wt, 2)?;
                let bytes = r.len_delimited()?;
                let (key, value) = decode_map_entry(md, f, bytes, depth)?;
                match obj.get_mut(f.json) {
                    Some(Value::Object(existing)) => {
                        existing.insert(key, value);
                    }
                    _ => {
                        let mut m = Map::new();
                        m.insert(key, value);
                        obj.insert(f.json.into(), Value::Object(m));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Decodes a map entry message (`key = 1`, `value = 2`).
fn decode_map_entry(
    md: &MessageDesc,
    f: &'static FieldDesc,
    data: &[u8],
    depth: usize,
) -> Result<(String, Value), ProtobufError> {
    let mut key = String::new();
    let mut value = None;
    let mut r = Reader::new(data);
    while !r.is_empty() {
        match r.key()? {
            (1, 2) => key = lossy(r.len_delimited()?),
            (2, wt) if f.kind == Kind::Msg => {
                want(md, f, wt, 2)?;
                let bytes = r.len_delimited()?;
                value = Some(decode_message(message(f.msg, f.json)?, bytes, depth + 1)?);
            }
            (2, wt) => value = Some(read_scalar(md, f, wt, &mut r)?),
            (_, wt) => r.skip(wt)?,
        }
    }
    let value = match value {
        Some(v) => v,
        None => match f.kind {
            Kind::Msg => decode_message(message(f.msg, f.json)?, &[], depth + 1)?,
            Kind::Bool => Value::Bool(false),
            Kind::I32 | Kind::I64 => Value::from(0),
            Kind::F64 => Value::from(0.0),
            Kind::Str | Kind::Bytes => Value::String(String::new()),
        },
    };
    Ok((key, value))
}

/// Decodes one message into its JSON form.
fn decode_message(
    md: &'static MessageDesc,
    data: &[u8],
    depth: usize,
) -> Result<Value, ProtobufError> {
    if depth > MAX_DEPTH {
        return Err(ProtobufError::TooDeep);
    }
    if md.special == Special::RawJson {
        return decode_raw_json(md, data, depth);
    }
    let mut obj = Map::new();
    decode_fields(md, data, depth, &mut obj)?;
    if md.special == Special::None {
        return Ok(Value::Object(obj));
    }
    let mut take = |tag: u32| md.field(tag).and_then(|f| obj.remove(f.json));
    Ok(match md.special {
        Special::Time | Special::MicroTime => {
            let seconds = take(1).and_then(|v| v.as_i64()).unwrap_or(0);
            let nanos = take(2).and_then(|v| v.as_i64()).unwrap_or(0);
            if data.is_empty() {
                Value::Null
            } else if md.special == Special::Time {
                // Like Go's metav1.Time, only whole seconds are kept.
                format_time(seconds, 0, false)?
            } else {
                format_time(seconds, nanos, true)?
            }
        }
        Special::Duration => {
            Value::String(go_duration(take(1).and_then(|v| v.as_i64()).unwrap_or(0)))
        }
        Special::IntOrString => {
            let ty = take(1).and_then(|v| v.as_i64()).unwrap_or(0);
            let int_val = take(2).unwrap_or_else(|| Value::from(0));
            let str_val = take(3).unwrap_or_else(|| Value::String(String::new()));
            match ty {
                0 => int_val,
                1 => str_val,
                other => return Err(ProtobufError::InvalidIntOrString(other)),
            }
        }
        Special::Quantity => take(1).unwrap_or_else(|| Value::String(String::new())),
        Special::ItemWrapper => take(1).unwrap_or_else(|| Value::Array(Vec::new())),
        Special::PropsOrArray => match take(2) {
            Some(Value::Array(a)) if !a.is_empty() => Value::Array(a),
            _ => take(1).unwrap_or(Value::Null),
        },
        Special::PropsOrBool => match take(2) {
            Some(schema) => schema,
            None => Value::Bool(take(1).and_then(|v| v.as_bool()).unwrap_or(false)),
        },
        Special::PropsOrStringArray => match take(2) {
            Some(Value::Array(a)) if !a.is_empty() => Value::Array(a),
            _ => take(1).unwrap_or(Value::Null),
        },
        Special::None | Special::RawJson => Value::Object(obj),
    })
}

/// Decodes a message whose field 1 holds raw JSON bytes (or an embedded
/// protobuf object starting with the magic prefix).
fn decode_raw_json(
    md: &'static MessageDesc,
    data: &[u8],
    depth: usize,
) -> Result<Value, ProtobufError> {
    let mut raw: &[u8] = &[];
    let mut r = Reader::new(data);
    while !r.is_empty() {
        match r.key()? {
            (1, 2) => raw = r.len_delimited()?,
            (_, wt) => r.skip(wt)?,
        }
    }
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    if has_magic(raw) {
        return decode_envelope(raw, depth);
    }
    serde_json::from_slice(raw).map_err(|e| ProtobufError::InvalidEmbeddedJson {
        message: md.name,
        error: e.to_string(),
    })
}

/// Formats a timestamp like Go's `metav1.Time` (RFC 3339, seconds) or
/// `metav1.MicroTime` (RFC 3339 with 6 fractional digits); Go's zero time is null.
fn format_time(seconds: i64, nanos: i64, micro: bool) -> Result<Value, ProtobufError> {
    let bad = ProtobufError::InvalidTimestamp { seconds, nanos };
    let secs = seconds
        .checked_add(nanos.div_euclid(1_000_000_000))
        .ok_or_else(|| bad.clone())?;
    let sub = u32::try_from(nanos.rem_euclid(1_000_000_000)).map_err(|_| bad.clone())?;
    if secs == GO_ZERO_TIME_SECONDS && sub == 0 {
        return Ok(Value::Null);
    }
    let t = chrono::DateTime::from_timestamp(secs, sub).ok_or(bad)?;
    let fmt = if micro {
        "%Y-%m-%dT%H:%M:%S%.6fZ"
    } else {
        "%Y-%m-%dT%H:%M:%SZ"
    };
    Ok(Value::String(t.format(fmt).to_string()))
}

/// Formats nanoseconds like Go's `time.Duration.String()` (`1h0m0s`, `1.5s`, `100ms`).
fn go_duration(nanos: i64) -> String {
    fn frac(v: u64, prec: u32) -> (String, u64) {
        let pow = 10u64.pow(prec);
        let f = v % pow;
        if f == 0 {
            return (String::new(), v / pow);
        }
        let digits = format!("{f:0width$}", width = prec as usize);
        (format!(".{}", digits.trim_end_matches('0')), v / pow)
    }
    if nanos == 0 {
        return "0s".into();
    }
    let u = nanos.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (prec, unit) = if u < 1_000 {
            (0, "ns")
        } else if u < 1_000_000 {
            (3, "µs")
        } else {
            (6, "ms")
        };
        let (f, int) = frac(u, prec);
        format!("{int}{f}{unit}")
    } else {
        let (f, mut rest) = frac(u, 9);
        let mut s = format!("{}{f}s", rest % 60);
        rest /= 60;
        if rest > 0 {
            s = format!("{}m{s}", rest % 60);
            rest /= 60;
            if rest > 0 {
                s = format!("{rest}h{s}");
            }
        }
        s
    };
    if nanos < 0 {
        format!("-{body}")
    } else {
        body
    }
}
