//! kubectl's port-forward tunnel: SPDY carried in WebSocket binary messages (subprotocol
//! `SPDY/3.1+portforward.k8s.io`), the messages forming one byte stream each way.

use axum::extract::ws::{Message, WebSocket};

use super::channel::normal_close;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

/// The WebSocket subprotocol of the tunnel.
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

/// A byte transport for a SPDY connection.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Transport for T {}

/// An upgraded connection or a tunnel.
pub type Io = Box<dyn Transport>;

/// The byte stream carried by `socket`: what is written to it goes out as binary messages,
/// what the client sends can be read from it; it ends when either side closes.
pub fn bridge(socket: WebSocket) -> DuplexStream {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        let (mut sink, mut stream) = socket.split();
        let (mut read, mut write) = tokio::io::split(ours);
        let inbound = async move {
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    Message::Binary(data) if write.write_all(&data).await.is_err() => break,
                    Message::Close(_) => break,
                    _ => {}
                }
            }
            let _ = write.shutdown().await;
        };
        let outbound = async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let msg = Message::Binary(bytes::Bytes::copy_from_slice(&buf[..n]));
                        if sink.send(msg).await.is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = sink.send(Message::Close(Some(normal_close()))).await;
        };
        // Both directions end: the SPDY side shuts down its writing when the client goes.
        tokio::join!(inbound, outbound);
    });
    theirs
}
