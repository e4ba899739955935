//! Placeholder until the protobuf branch lands.

/// Decoding failure.
#[derive(Debug, thiserror::Error)]
#[error("protobuf bodies are not supported yet")]
pub struct ProtobufError;

/// Decodes a protobuf body.
pub fn decode(_body: &[u8]) -> Result<serde_json::Value, ProtobufError> {
    Err(ProtobufError)
}
