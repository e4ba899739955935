//! The generic decoder: message fields to JSON as the descriptor table describes them
//! (scalars, repeated fields, maps, nested and special messages, embedded raw JSON).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::descriptors::MESSAGES;
use super::special::{format_time, go_duration};
use super::table::{FieldDesc, Kind, Label, MessageDesc, Special};
use super::wire::{want, wire_type_of, Reader};
use super::{decode_envelope, has_magic, ProtobufError, MAX_DEPTH};

/// The message at `index` of the descriptor table (`field` names the referring field).
pub(super) fn message(
    index: u16,
    field: &'static str,
) -> Result<&'static MessageDesc, ProtobufError> {
    MESSAGES
        .get(usize::from(index))
        .ok_or(ProtobufError::Descriptor(field))
}

/// `bytes` as a string, invalid UTF-8 replaced.
pub(super) fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` as a base64 JSON string (Go's `[]byte` encoding).
pub(super) fn base64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
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
pub(super) fn decode_fields(
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
