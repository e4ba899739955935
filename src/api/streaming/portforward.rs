//! `pods/portforward` over SPDY (kubectl's protocol `portforward.k8s.io`): for every local
//! connection the client opens an `error` and a `data` stream carrying the same `requestID` and
//! `port`; the data stream is bridged to a TCP connection into the pod, and a failure is written
//! to the error stream (kubectl prints it and keeps forwarding).

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::spdy::headers::get;
use super::spdy::{Connection, Stream};
use crate::kubelet::streaming::StreamSource;

/// The protocol kubectl asks for (`X-Stream-Protocol-Version`, and after `SPDY/3.1+` as the
/// WebSocket subprotocol of the tunnel).
pub const PROTOCOL: &str = "portforward.k8s.io";

/// How long the first of a pair of streams waits for the other.
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);

/// The pod a connection forwards to.
#[derive(Clone)]
pub struct Target {
    /// Starts the TCP connections.
    pub source: StreamSource,
    /// The pod's name (for messages).
    pub pod: String,
    /// The pod's uid.
    pub uid: String,
}

#[derive(Default)]
struct Pair {
    error: Option<Stream>,
    data: Option<Stream>,
    since: Option<tokio::time::Instant>,
}

/// Serves one port-forward connection until the client closes it.
pub async fn serve(mut conn: Connection, target: Target) {
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    while let Some(stream) = conn.incoming.recv().await {
        let kind = get(&stream.headers, "streamType")
            .unwrap_or_default()
            .to_string();
        let request = get(&stream.headers, "requestID")
            .unwrap_or_default()
            .to_string();
        let port = get(&stream.headers, "port").unwrap_or_default().to_string();
        let pair = pairs.entry(request.clone()).or_default();
        pair.since.get_or_insert_with(tokio::time::Instant::now);
        match kind.as_str() {
            "error" => pair.error = Some(stream),
            "data" => pair.data = Some(stream),
            other => {
                tracing::debug!(stream_type = other, "port-forward: unknown stream type");
                let _ = stream
                    .writer
                    .reset(super::spdy::frame::RST_PROTOCOL_ERROR)
                    .await;
                continue;
            }
        }
        if pair.error.is_some() && pair.data.is_some() {
            if let Some(Pair {
                error: Some(error),
                data: Some(data),
                ..
            }) = pairs.remove(&request)
            {
                tokio::spawn(forward(target.clone(), port, error, data));
            }
        }
        // Forget halves whose partner never came.
        pairs.retain(|_, p| p.since.is_some_and(|s| s.elapsed() < PAIR_TIMEOUT));
    }
    conn.close().await;
}

/// Bridges one data stream to `port` in the pod.
async fn forward(target: Target, port: String, error: Stream, data: Stream) {
    let Stream {
        data: mut from_client,
        writer: to_client,
        ..
    } = data;
    let port_number = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => {
            let _ = error
                .writer
                .write(format!("invalid port {port:?}").as_bytes())
                .await;
            let _ = error.writer.close().await;
            let _ = to_client.close().await;
            return;
        }
    };
    let tcp = match target
        .source
        .connect(&target.pod, &target.uid, port_number)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            let message = format!(
                "error forwarding port {port_number} to pod {}, uid {}: {e}",
                target.pod, target.uid
            );
            tracing::debug!(%message, "port-forward");
            let _ = error.writer.write(message.as_bytes()).await;
            let _ = error.writer.close().await;
            let _ = to_client.close().await;
            return;
        }
    };
    tracing::debug!(pod = %target.pod, port = port_number, "port-forward: connected");
    let (mut tcp_read, mut tcp_write) = tcp.into_split();
    let upstream = tokio::spawn(async move {
        while let Some(chunk) = from_client.recv().await {
            if tcp_write.write_all(&chunk).await.is_err() {
                return;
            }
        }
        // The client closed its side: pass the half-close on.
        let _ = tcp_write.shutdown().await;
    });
    // The forward lasts until the pod closes its side (the client's half-close only shuts
    // down the pod's input) or the connection goes (writes to it fail).
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match tcp_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to_client.write(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to_client.close().await;
    let _ = error.writer.close().await;
    upstream.abort();
}
