//! [`ProtobufError`]: everything that can go wrong decoding a protobuf body.

use super::MAX_DEPTH;

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
