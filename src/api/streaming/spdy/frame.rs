//! SPDY/3.1 frames: the 8-byte common header (control bit, version 3 and type, or a stream id
//! for data; flags; 24-bit length) and the payloads of the frames kubectl's client exchanges.
//! Header blocks stay compressed here; [`super::headers`] handles them in connection order.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The SPDY version this server speaks.
pub const VERSION: u16 = 3;
/// Flag FIN: the sender's last frame on the stream.
pub const FLAG_FIN: u8 = 0x01;
/// The largest frame accepted (payload bytes); kubectl's data frames are at most 32 KiB.
pub const MAX_FRAME: usize = 1024 * 1024;
/// The largest data payload this server writes in one frame.
pub const MAX_DATA_WRITE: usize = 32 * 1024;

/// RST_STREAM status PROTOCOL_ERROR.
pub const RST_PROTOCOL_ERROR: u32 = 1;
/// RST_STREAM status INVALID_STREAM.
pub const RST_INVALID_STREAM: u32 = 2;
/// RST_STREAM status REFUSED_STREAM.
pub const RST_REFUSED_STREAM: u32 = 3;
/// RST_STREAM status CANCEL.
pub const RST_CANCEL: u32 = 5;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// One frame; `headers` are compressed header blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A peer opens a stream.
    SynStream {
        /// The new stream (odd when the client opens it).
        stream_id: u32,
        /// Associated stream (unused by kubectl).
        associated: u32,
        /// Priority 0–7.
        priority: u8,
        /// Flags (FIN, UNIDIRECTIONAL).
        flags: u8,
        /// Compressed header block.
        headers: Bytes,
    },
    /// The answer to a SYN_STREAM.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// Compressed header block.
        headers: Bytes,
    },
    /// Abnormal end of a stream.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why.
        status: u32,
    },
    /// Connection settings (ignored).
    Settings {
        /// The raw entries.
        payload: Bytes,
    },
    /// A ping to echo back.
    Ping {
        /// Its id.
        id: u32,
    },
    /// The peer ends the connection.
    GoAway {
        /// Last stream the sender processed.
        last_good: u32,
        /// Why.
        status: u32,
    },
    /// More headers for a stream (ignored).
    Headers {
        /// The stream.
        stream_id: u32,
        /// Flags.
        flags: u8,
        /// Compressed header block.
        headers: Bytes,
    },
    /// Flow control (the Go peers do not enforce it; ignored).
    WindowUpdate {
        /// The stream.
        stream_id: u32,
        /// Window increment.
        delta: u32,
    },
    /// Stream payload.
    Data {
        /// The stream.
        stream_id: u32,
        /// Flags (FIN).
        flags: u8,
        /// The bytes.
        data: Bytes,
    },
    /// A control frame of a type this server does not know (skipped).
    Unknown {
        /// Its type.
        frame_type: u16,
    },
}

/// Why bytes are not a valid frame.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A control frame of another SPDY version.
    #[error("unsupported SPDY version {0}")]
    Version(u16),
    /// A payload over [`MAX_FRAME`].
    #[error("frame of {0} bytes is too large")]
    TooLarge(usize),
    /// A payload too short for its type.
    #[error("invalid {0} frame")]
    Invalid(&'static str),
}

/// Decodes the first frame of `buf` (consuming it); `Ok(None)` if more bytes are needed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let first = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    let flags = buf[4];
    let len = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    if buf.len() < 8 + len {
        return Ok(None);
    }
    buf.advance(8);
    let mut p = buf.split_to(len).freeze();
    if first & 0x8000_0000 == 0 {
        return Ok(Some(Frame::Data {
            stream_id: first & 0x7fff_ffff,
            flags,
            data: p,
        }));
    }
    let version = ((first >> 16) & 0x7fff) as u16;
    if version != VERSION {
        return Err(FrameError::Version(version));
    }
    let need = |p: &Bytes, n: usize, what: &'static str| {
        if p.len() < n {
            Err(FrameError::Invalid(what))
        } else {
            Ok(())
        }
    };
    let frame = match (first & 0xffff) as u16 {
        TYPE_SYN_STREAM => {
            need(&p, 10, "SYN_STREAM")?;
            let stream_id = p.get_u32() & 0x7fff_ffff;
            let associated = p.get_u32() & 0x7fff_ffff;
            let priority = p.get_u8() >> 5;
            p.advance(1);
            Frame::SynStream {
                stream_id,
                associated,
                priority,
                flags,
                headers: p,
            }
        }
        TYPE_SYN_REPLY => {
            need(&p, 4, "SYN_REPLY")?;
            Frame::SynReply {
                stream_id: p.get_u32() & 0x7fff_ffff,
                flags,
                headers: p,
            }
        }
        TYPE_RST_STREAM => {
            need(&p, 8, "RST_STREAM")?;
            Frame::RstStream {
                stream_id: p.get_u32() & 0x7fff_ffff,
                status: p.get_u32(),
            }
        }
        TYPE_SETTINGS => Frame::Settings { payload: p },
        TYPE_PING => {
            need(&p, 4, "PING")?;
            Frame::Ping { id: p.get_u32() }
        }
        TYPE_GOAWAY => {
            need(&p, 4, "GOAWAY")?;
            let last_good = p.get_u32() & 0x7fff_ffff;
            let status = if p.len() >= 4 { p.get_u32() } else { 0 };
            Frame::GoAway { last_good, status }
        }
        TYPE_HEADERS => {
            need(&p, 4, "HEADERS")?;
            Frame::Headers {
                stream_id: p.get_u32() & 0x7fff_ffff,
                flags,
                headers: p,
            }
        }
        TYPE_WINDOW_UPDATE => {
            need(&p, 8, "WINDOW_UPDATE")?;
            Frame::WindowUpdate {
                stream_id: p.get_u32() & 0x7fff_ffff,
                delta: p.get_u32() & 0x7fff_ffff,
            }
        }
        other => Frame::Unknown { frame_type: other },
    };
    Ok(Some(frame))
}

fn control(out: &mut BytesMut, frame_type: u16, flags: u8, len: usize) {
    out.put_u32(0x8000_0000 | (u32::from(VERSION) << 16) | u32::from(frame_type));
    out.put_u32((u32::from(flags) << 24) | (len as u32 & 0x00ff_ffff));
}

/// Appends `frame` to `out`.
pub fn encode(frame: &Frame, out: &mut BytesMut) {
    match frame {
        Frame::SynStream {
            stream_id,
            associated,
            priority,
            flags,
            headers,
        } => {
            control(out, TYPE_SYN_STREAM, *flags, 10 + headers.len());
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_u32(associated & 0x7fff_ffff);
            out.put_u8((priority & 7) << 5);
            out.put_u8(0);
            out.put_slice(headers);
        }
        Frame::SynReply {
            stream_id,
            flags,
            headers,
        } => {
            control(out, TYPE_SYN_REPLY, *flags, 4 + headers.len());
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_slice(headers);
        }
        Frame::RstStream { stream_id, status } => {
            control(out, TYPE_RST_STREAM, 0, 8);
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_u32(*status);
        }
        Frame::Settings { payload } => {
            control(out, TYPE_SETTINGS, 0, payload.len());
            out.put_slice(payload);
        }
        Frame::Ping { id } => {
            control(out, TYPE_PING, 0, 4);
            out.put_u32(*id);
        }
        Frame::GoAway { last_good, status } => {
            control(out, TYPE_GOAWAY, 0, 8);
            out.put_u32(last_good & 0x7fff_ffff);
            out.put_u32(*status);
        }
        Frame::Headers {
            stream_id,
            flags,
            headers,
        } => {
            control(out, TYPE_HEADERS, *flags, 4 + headers.len());
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_slice(headers);
        }
        Frame::WindowUpdate { stream_id, delta } => {
            control(out, TYPE_WINDOW_UPDATE, 0, 8);
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_u32(delta & 0x7fff_ffff);
        }
        Frame::Data {
            stream_id,
            flags,
            data,
        } => {
            out.put_u32(stream_id & 0x7fff_ffff);
            out.put_u32((u32::from(*flags) << 24) | (data.len() as u32 & 0x00ff_ffff));
            out.put_slice(data);
        }
        Frame::Unknown { .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frame: Frame) {
        let mut buf = BytesMut::new();
        encode(&frame, &mut buf);
        // Incomplete input asks for more.
        let mut partial = BytesMut::from(&buf[..buf.len() - 1]);
        assert_eq!(decode(&mut partial), Ok(None));
        assert_eq!(decode(&mut buf), Ok(Some(frame)));
        assert!(buf.is_empty());
    }

    #[test]
    fn frames_round_trip() {
        round_trip(Frame::SynStream {
            stream_id: 1,
            associated: 0,
            priority: 0,
            flags: 0,
            headers: Bytes::from_static(b"hdrs"),
        });
        round_trip(Frame::SynReply {
            stream_id: 3,
            flags: FLAG_FIN,
            headers: Bytes::from_static(b"x"),
        });
        round_trip(Frame::RstStream {
            stream_id: 5,
            status: RST_CANCEL,
        });
        round_trip(Frame::Ping { id: 7 });
        round_trip(Frame::GoAway {
            last_good: 9,
            status: 0,
        });
        round_trip(Frame::Headers {
            stream_id: 1,
            flags: 0,
            headers: Bytes::from_static(b"h"),
        });
        round_trip(Frame::WindowUpdate {
            stream_id: 1,
            delta: 100,
        });
        round_trip(Frame::Data {
            stream_id: 1,
            flags: FLAG_FIN,
            data: Bytes::from_static(b"GET / HTTP/1.0\r\n\r\n"),
        });
    }

    #[test]
    fn known_bytes() {
        // A PING with id 1, as spdystream writes it.
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(decode(&mut buf), Ok(Some(Frame::Ping { id: 1 })));
        let mut out = BytesMut::new();
        encode(
            &Frame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: Bytes::from_static(b"ab"),
            },
            &mut out,
        );
        assert_eq!(&out[..], &[0, 0, 0, 3, 1, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn bad_frames_are_errors() {
        let mut v2 = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(decode(&mut v2), Err(FrameError::Version(2)));
        let mut huge = BytesMut::from(&[0, 0, 0, 1, 0, 0xff, 0xff, 0xff][..]);
        assert!(matches!(decode(&mut huge), Err(FrameError::TooLarge(_))));
        let mut short = BytesMut::from(&[0x80, 0x03, 0x00, 0x03, 0, 0, 0, 2, 0, 0][..]);
        assert_eq!(decode(&mut short), Err(FrameError::Invalid("RST_STREAM")));
    }
}
