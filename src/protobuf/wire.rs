//! The protobuf wire format: a byte cursor reading varints, length-delimited fields and keys,
//! and wire-type checks.

use super::table::{FieldDesc, Kind, MessageDesc};
use super::ProtobufError;

/// A cursor over protobuf wire-format bytes; every read consumes input or fails.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(super) fn varint(&mut self) -> Result<u64, ProtobufError> {
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

    pub(super) fn take(&mut self, len: u64) -> Result<&'a [u8], ProtobufError> {
        let bad = ProtobufError::BadLength {
            len,
            remaining: self.buf.len(),
        };
        let n = usize::try_from(len).map_err(|_| bad.clone())?;
        let (head, tail) = self.buf.split_at_checked(n).ok_or(bad)?;
        self.buf = tail;
        Ok(head)
    }

    pub(super) fn len_delimited(&mut self) -> Result<&'a [u8], ProtobufError> {
        let len = self.varint()?;
        self.take(len)
    }

    pub(super) fn key(&mut self) -> Result<(u32, u8), ProtobufError> {
        let key = self.varint()?;
        let tag = key >> 3;
        let wire_type = (key & 7) as u8;
        match u32::try_from(tag) {
            Ok(t) if t != 0 && t < (1 << 29) => Ok((t, wire_type)),
            _ => Err(ProtobufError::InvalidFieldNumber(tag)),
        }
    }

    pub(super) fn skip(&mut self, wire_type: u8) -> Result<(), ProtobufError> {
        match wire_type {
            0 => self.varint().map(drop),
            1 => self.take(8).map(drop),
            2 => self.len_delimited().map(drop),
            5 => self.take(4).map(drop),
            other => Err(ProtobufError::UnsupportedWireType(other)),
        }
    }
}

/// Fails with [`ProtobufError::WrongWireType`] unless `got` is `expected`.
pub(super) fn want(
    md: &MessageDesc,
    f: &FieldDesc,
    got: u8,
    expected: u8,
) -> Result<(), ProtobufError> {
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

/// The wire type a field of `kind` is encoded with.
pub(super) fn wire_type_of(kind: Kind) -> u8 {
    match kind {
        Kind::Bool | Kind::I32 | Kind::I64 => 0,
        Kind::F64 => 1,
        Kind::Str | Kind::Bytes | Kind::Msg => 2,
    }
}
