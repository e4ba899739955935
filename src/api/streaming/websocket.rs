//! Exec and attach over WebSocket (`v5.channel.k8s.io`): binary messages whose first byte is the
//! channel, bridged to a [`session`](super::session).

use axum::extract::ws::{Message, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::channel::{self, decode_client, normal_close, ERROR, STDERR, STDOUT};
use super::session::{self, ServerEvent};
use crate::kubelet::streaming::Session;

/// Serves `session` over `socket` (subprotocol `protocol`, one of [`channel::PROTOCOLS`]) until
/// the process ends (status, then a close message) or the client goes.
pub async fn serve(socket: WebSocket, protocol: String, session: Session, exec: bool) {
    let (mut sink, mut stream) = socket.split();
    let (events_tx, events_rx) = mpsc::channel(16);
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = stream.next().await {
            match msg {
                Message::Binary(data) => match decode_client(&data) {
                    Ok(Some(event)) => {
                        if events_tx.send(event).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::debug!(error = %e, "ignoring a client message"),
                },
                Message::Close(_) => break,
                _ => {}
            }
        }
    });
    let core = tokio::spawn(session::run(session, exec, events_rx, out_tx));
    while let Some(event) = out_rx.recv().await {
        let msg = match &event {
            ServerEvent::Stdout(b) => channel::encode(STDOUT, b),
            ServerEvent::Stderr(b) => channel::encode(STDERR, b),
            ServerEvent::Status(v) => match channel::status_payload(&protocol, v) {
                Some(payload) => channel::encode(ERROR, &payload),
                None => break,
            },
        };
        if sink.send(Message::Binary(msg)).await.is_err() {
            break;
        }
    }
    let _ = sink.send(Message::Close(Some(normal_close()))).await;
    reader.abort();
    core.abort();
}
