//! SPDY/3.1 as kubectl's client (moby/spdystream) speaks it: frames (`frame.rs`), compressed
//! header blocks (`headers.rs`) and a server-side connection handing out client streams
//! (`conn.rs`). Hand-written: no maintained Rust crate implements SPDY (it was superseded by
//! HTTP/2), yet kubectl still uses it for port-forward (inside a WebSocket tunnel or after an
//! `Upgrade: SPDY/3.1`) and for exec/attach when WebSockets are turned off.

pub mod conn;
pub mod frame;
pub mod headers;

pub use conn::{Connection, Stream, StreamWriter};
