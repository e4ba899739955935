//! Types of the generated descriptor table (see `descriptors.rs`).

/// Protobuf scalar or message kind of a field (or of a map value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `string` (UTF-8, length-delimited).
    Str,
    /// `bytes`, rendered as base64 in JSON.
    Bytes,
    /// `bool` varint.
    Bool,
    /// `int32` varint.
    I32,
    /// `int64` varint.
    I64,
    /// `double` (fixed 64-bit).
    F64,
    /// An embedded message; [`FieldDesc::msg`] is its index in `MESSAGES`.
    Msg,
}

/// Cardinality / shape of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Label {
    /// Singular (proto2 `optional`) field.
    One,
    /// `repeated` field, rendered as a JSON array.
    Rep,
    /// `map<string, string>`.
    MapStr,
    /// `map<string, bytes>` (values rendered as base64).
    MapBytes,
    /// `map<string, Message>`.
    MapMsg,
    /// Embedded Go struct (`json:",inline"`): the message's fields are merged
    /// into the parent JSON object.
    Inline,
}

/// Messages whose JSON form is not a plain object of their fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Special {
    /// Ordinary message: JSON object of its fields.
    None,
    /// `meta.v1.Time`: RFC 3339 string with second precision (null when empty).
    Time,
    /// `meta.v1.MicroTime`: RFC 3339 string with microseconds (null when empty).
    MicroTime,
    /// `meta.v1.Duration`: Go duration string such as `1h0m0s`.
    Duration,
    /// `util.intstr.IntOrString`: JSON number or string.
    IntOrString,
    /// `api.resource.Quantity`: its string form.
    Quantity,
    /// Message whose field 1 holds raw JSON bytes (`RawExtension`, `FieldsV1`, apiextensions `JSON`).
    RawJson,
    /// Message wrapping `repeated string items = 1`, rendered as a JSON array.
    ItemWrapper,
    /// `JSONSchemaPropsOrArray`: a schema or an array of schemas.
    PropsOrArray,
    /// `JSONSchemaPropsOrBool`: a schema or a boolean.
    PropsOrBool,
    /// `JSONSchemaPropsOrStringArray`: a schema or an array of strings.
    PropsOrStringArray,
}

/// One field of a message.
#[derive(Clone, Copy, Debug)]
pub(super) struct FieldDesc {
    /// Protobuf field number.
    pub tag: u32,
    /// JSON (Kubernetes) field name.
    pub json: &'static str,
    /// Kind of the value (map value kind for maps).
    pub kind: Kind,
    /// Cardinality.
    pub label: Label,
    /// Message index into `MESSAGES` when `kind == Kind::Msg`.
    pub msg: u16,
    /// Keep an empty singular string instead of omitting it (Go pointer fields where `""` matters).
    pub keep_empty: bool,
}

impl FieldDesc {
    /// Creates a field descriptor.
    pub(super) const fn new(
        tag: u32,
        json: &'static str,
        kind: Kind,
        label: Label,
        msg: u16,
    ) -> Self {
        Self {
            tag,
            json,
            kind,
            label,
            msg,
            keep_empty: false,
        }
    }

    /// Marks the field as keeping empty strings.
    pub(super) const fn keep_empty(mut self) -> Self {
        self.keep_empty = true;
        self
    }
}

/// One protobuf message.
#[derive(Debug)]
pub(super) struct MessageDesc {
    /// Full proto name, e.g. `k8s.io.api.apps.v1.Deployment`.
    pub name: &'static str,
    /// Non-generic JSON form, if any.
    pub special: Special,
    /// Fields sorted by tag.
    pub fields: &'static [FieldDesc],
}

impl MessageDesc {
    /// Creates a message descriptor.
    pub(super) const fn new(
        name: &'static str,
        special: Special,
        fields: &'static [FieldDesc],
    ) -> Self {
        Self {
            name,
            special,
            fields,
        }
    }

    /// Looks a field up by its tag.
    pub(super) fn field(&self, tag: u32) -> Option<&'static FieldDesc> {
        self.fields
            .binary_search_by_key(&tag, |f| f.tag)
            .ok()
            .and_then(|i| self.fields.get(i))
    }

    /// The short message name (after the last dot).
    pub(super) fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }

    /// The proto package (before the last dot).
    pub(super) fn package(&self) -> &'static str {
        self.name.rsplit_once('.').map_or("", |(p, _)| p)
    }
}
