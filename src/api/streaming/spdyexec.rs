//! Exec and attach over SPDY (`v4.channel.k8s.io`), kubectl's fallback when
//! WebSockets are off (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`): the client opens one stream
//! per `streamType` (error, stdin, stdout, stderr, resize); the status goes to the error stream.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::mpsc;

use super::channel::{parse_resize, ClientEvent};
use super::session::{self, ServerEvent};
use super::spdy::headers::get;
use super::spdy::{Connection, Stream};
use crate::kubelet::streaming::{Session, Streams};

/// The protocols served over SPDY, best first (v4: the status is a `metav1.Status` JSON).
pub const PROTOCOLS: &[&str] = &["v4.channel.k8s.io"];

/// How long the client has to open all its streams.
const STREAMS_TIMEOUT: Duration = Duration::from_secs(30);

/// Largest resize message kept while waiting for its end.
const MAX_RESIZE: usize = 4096;

/// Serves `session` on `conn` until the process ends or the client goes.
pub async fn serve(mut conn: Connection, session: Session, streams: Streams, exec: bool) {
    let mut wanted = vec!["error"];
    if streams.stdin {
        wanted.push("stdin");
    }
    if streams.stdout {
        wanted.push("stdout");
    }
    if streams.stderr && !streams.tty {
        wanted.push("stderr");
    }
    if streams.tty {
        wanted.push("resize");
    }
    let mut got: HashMap<String, Stream> = HashMap::new();
    let deadline = tokio::time::Instant::now() + STREAMS_TIMEOUT;
    while !wanted.iter().all(|w| got.contains_key(*w)) {
        match tokio::time::timeout_at(deadline, conn.incoming.recv()).await {
            Ok(Some(stream)) => {
                let kind = get(&stream.headers, "streamType").unwrap_or_default();
                got.insert(kind.to_string(), stream);
            }
            Ok(None) => return,
            Err(_) => {
                tracing::debug!("exec over SPDY: the client did not open its streams in time");
                conn.close().await;
                return;
            }
        }
    }
    let (events_tx, events_rx) = mpsc::channel(16);
    if let Some(mut stdin) = got.remove("stdin") {
        let tx = events_tx.clone();
        tokio::spawn(async move {
            while let Some(chunk) = stdin.data.recv().await {
                if tx.send(ClientEvent::Stdin(chunk)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send(ClientEvent::CloseStdin).await;
        });
    }
    if let Some(mut resize) = got.remove("resize") {
        let tx = events_tx.clone();
        tokio::spawn(async move {
            let mut pending = BytesMut::new();
            while let Some(chunk) = resize.data.recv().await {
                pending.extend_from_slice(&chunk);
                // client-go writes one JSON object per line.
                while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                    let line = pending.split_to(end + 1);
                    match parse_resize(&line) {
                        Ok(event) => {
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::debug!(error = %e, "exec over SPDY: resize"),
                    }
                }
                if pending.len() > MAX_RESIZE {
                    pending.clear();
                }
            }
        });
    }
    let (out_tx, mut out_rx) = mpsc::channel(16);
    let core = tokio::spawn(session::run(session, exec, events_rx, out_tx));
    // `events_tx` stays here until the client goes, so a session without stdin keeps running.
    let mut keepalive = Some(events_tx);
    let writer = |name: &str| got.get(name).map(|s| s.writer.clone());
    let (stdout, stderr, error) = (writer("stdout"), writer("stderr"), writer("error"));
    loop {
        tokio::select! {
            event = out_rx.recv() => match event {
                Some(ServerEvent::Stdout(b)) => {
                    if let Some(w) = &stdout {
                        if w.write(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Some(ServerEvent::Stderr(b)) => {
                    if let Some(w) = &stderr {
                        if w.write(&b).await.is_err() {
                            break;
                        }
                    }
                }
                Some(ServerEvent::Status(status)) => {
                    if let Some(w) = &error {
                        let _ = w.write(status.to_string().as_bytes()).await;
                    }
                    break;
                }
                None => break,
            },
            opened = conn.incoming.recv(), if keepalive.is_some() => {
                if opened.is_none() {
                    // The client went away.
                    keepalive = None;
                }
            }
        }
    }
    drop(keepalive);
    for w in [&stdout, &stderr, &error].into_iter().flatten() {
        let _ = w.close().await;
    }
    core.abort();
    conn.close().await;
}
