//! The `v5.channel.k8s.io` WebSocket framing of exec and attach: every binary message starts
//! with its channel (0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close of a stream).

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{json, Value};

/// The subprotocol kubectl 1.33 offers (its only one) for exec and attach over WebSocket.
pub const PROTOCOL_V5: &str = "v5.channel.k8s.io";

/// The WebSocket subprotocols served, best first (older clients, e.g. upstream's conformance
/// test, ask for `channel.k8s.io`).
pub const PROTOCOLS: &[&str] = &[
    PROTOCOL_V5,
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];

/// Whether the final status on the error channel is a `metav1.Status` JSON (v4 and v5) or,
/// for the older protocols, the bare message of a failure (nothing on success).
pub fn status_is_json(protocol: &str) -> bool {
    matches!(protocol, "v4.channel.k8s.io" | "v5.channel.k8s.io")
}

/// What goes on the error channel at the end of a session for `protocol`, if anything.
pub fn status_payload(protocol: &str, status: &Value) -> Option<Vec<u8>> {
    if status_is_json(protocol) {
        return Some(status.to_string().into_bytes());
    }
    if status["status"] == "Success" {
        return None;
    }
    Some(
        status["message"]
            .as_str()
            .unwrap_or("error")
            .as_bytes()
            .to_vec(),
    )
}

/// Channel of standard input (client → server).
pub const STDIN: u8 = 0;
/// Channel of standard output (server → client).
pub const STDOUT: u8 = 1;
/// Channel of standard error (server → client).
pub const STDERR: u8 = 2;
/// Channel of the final status (server → client).
pub const ERROR: u8 = 3;
/// Channel of terminal size changes (client → server).
pub const RESIZE: u8 = 4;
/// Channel of close signals: the payload is the channel that was closed (v5).
pub const CLOSE: u8 = 255;

/// What a client sends during a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientEvent {
    /// Bytes for the process's standard input.
    Stdin(Bytes),
    /// The client closed its standard input.
    CloseStdin,
    /// The terminal is now `width` × `height`.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
}

/// Why a client message was not understood.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A message without a channel byte.
    #[error("empty message")]
    Empty,
    /// A channel a client may not write.
    #[error("unknown channel {0}")]
    UnknownChannel(u8),
    /// A resize message that is not `{"Width":W,"Height":H}`.
    #[error("invalid resize message: {0}")]
    BadResize(String),
}

/// Decodes one client message; `Ok(None)` for messages that carry nothing (an empty stdin
/// frame, the close of a stream other than stdin).
pub fn decode_client(msg: &[u8]) -> Result<Option<ClientEvent>, FrameError> {
    let (&channel, payload) = msg.split_first().ok_or(FrameError::Empty)?;
    match channel {
        STDIN if payload.is_empty() => Ok(None),
        STDIN => Ok(Some(ClientEvent::Stdin(Bytes::copy_from_slice(payload)))),
        RESIZE => parse_resize(payload).map(Some),
        CLOSE => Ok((payload.first() == Some(&STDIN)).then_some(ClientEvent::CloseStdin)),
        other => Err(FrameError::UnknownChannel(other)),
    }
}

/// Parses a terminal size `{"Width":W,"Height":H}` (as sent on the resize channel or stream).
pub fn parse_resize(payload: &[u8]) -> Result<ClientEvent, FrameError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Size {
        width: u16,
        height: u16,
    }
    let size: Size = serde_json::from_slice(payload)
        .map_err(|e| FrameError::BadResize(format!("{e}: {}", String::from_utf8_lossy(payload))))?;
    Ok(ClientEvent::Resize {
        width: size.width,
        height: size.height,
    })
}

/// The close message ending a session normally (code 1000: clients treat a close without a
/// code as an error).
pub fn normal_close() -> axum::extract::ws::CloseFrame {
    axum::extract::ws::CloseFrame {
        code: axum::extract::ws::close_code::NORMAL,
        reason: "".into(),
    }
}

/// A server message: `channel` followed by `data`.
pub fn encode(channel: u8, data: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 1);
    out.put_u8(channel);
    out.put_slice(data);
    out.freeze()
}

/// The final status of a session as upstream's `metav1.Status`: `Success` for exit code 0 (or
/// none), `NonZeroExitCode` with an `ExitCode` cause otherwise (kubectl exits with it).
pub fn exit_status(exit_code: Option<i64>) -> Value {
    match exit_code {
        None | Some(0) => json!({"metadata": {}, "status": "Success"}),
        Some(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [], exit code {code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
    }
}

/// A failure status with `message` (kubectl prints it as the error of the command).
pub fn failure_status(message: &str) -> Value {
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_frames() {
        assert_eq!(
            decode_client(b"\x00input-data\n"),
            Ok(Some(ClientEvent::Stdin(Bytes::from_static(
                b"input-data\n"
            ))))
        );
        assert_eq!(decode_client(b"\x00"), Ok(None));
        assert_eq!(
            decode_client(&[CLOSE, STDIN]),
            Ok(Some(ClientEvent::CloseStdin))
        );
        assert_eq!(decode_client(&[CLOSE, RESIZE]), Ok(None));
        assert_eq!(
            decode_client(b"\x04{\"Width\":80,\"Height\":24}\n"),
            Ok(Some(ClientEvent::Resize {
                width: 80,
                height: 24
            }))
        );
        assert!(matches!(
            decode_client(b"\x04{\"Width\":-1}"),
            Err(FrameError::BadResize(_))
        ));
        assert_eq!(decode_client(b""), Err(FrameError::Empty));
        assert_eq!(decode_client(b"\x01x"), Err(FrameError::UnknownChannel(1)));
    }

    #[test]
    fn server_frames_and_status() {
        assert_eq!(&encode(STDOUT, b"hi")[..], b"\x01hi");
        assert_eq!(exit_status(Some(0))["status"], "Success");
        let failed = exit_status(Some(42));
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(failed["details"]["causes"][0]["message"], "42");
        assert_eq!(failure_status("boom")["message"], "boom");
        assert_eq!(
            status_payload(PROTOCOL_V5, &exit_status(None)).as_deref(),
            Some(&br#"{"metadata":{},"status":"Success"}"#[..])
        );
        assert_eq!(
            status_payload("channel.k8s.io", &exit_status(Some(0))),
            None
        );
        let old = status_payload("v2.channel.k8s.io", &exit_status(Some(2))).unwrap_or_default();
        assert!(String::from_utf8_lossy(&old).contains("exit code 2"));
    }
}
