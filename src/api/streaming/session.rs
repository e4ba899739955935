//! One exec or attach session, whatever carries it (WebSocket channels or SPDY streams): client
//! events go to the process (stdin, close of stdin, terminal size), its output and finally its
//! status come back as [`ServerEvent`]s. The session ends when the process's output ends (then
//! the status is sent) or when the client goes (its event channel closes).

use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::channel::{self, ClientEvent};
use crate::kubelet::streaming::{Output, Session};

/// What the server sends during a session.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// Standard output (or the terminal).
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
    /// The final `metav1.Status`; nothing follows it.
    Status(Value),
}

/// Runs `session` until its output ends or the client goes; `exec` tells whether the exit code
/// is reported (attach ends with `Success`).
pub async fn run(
    session: Session,
    exec: bool,
    mut events: mpsc::Receiver<ClientEvent>,
    out: mpsc::Sender<ServerEvent>,
) {
    let Session {
        mut output,
        mut input,
        control,
    } = session;
    let pump_out = out.clone();
    let mut pump = tokio::spawn(async move {
        while let Some(item) = output.next().await {
            let event = match item {
                Ok(Output::Stdout(b)) => ServerEvent::Stdout(b),
                Ok(Output::Stderr(b)) => ServerEvent::Stderr(b),
                Err(e) => return Err(e.to_string()),
            };
            if pump_out.send(event).await.is_err() {
                return Err("client went away".to_string());
            }
        }
        Ok(())
    });
    let resize_control = control.clone();
    let mut feeder = tokio::spawn(async move {
        let mut stdin_open = true;
        while let Some(event) = events.recv().await {
            match event {
                ClientEvent::Stdin(data) if stdin_open => {
                    if let Err(e) = input.write_all(&data).await {
                        tracing::debug!(error = %e, "writing to the process's stdin failed");
                        stdin_open = false;
                    }
                }
                ClientEvent::Stdin(_) => {}
                ClientEvent::CloseStdin => {
                    if stdin_open {
                        let _ = input.shutdown().await;
                        stdin_open = false;
                    }
                }
                ClientEvent::Resize { width, height } => {
                    if let Err(e) = resize_control.resize(width, height).await {
                        tracing::debug!(error = %e, "resize failed");
                    }
                }
            }
        }
    });
    let pumped = tokio::select! {
        result = &mut pump => result,
        _ = &mut feeder => {
            // The client went away: stop reading the process.
            tracing::debug!(exec, "exec/attach client went away");
            pump.abort();
            return;
        }
    };
    feeder.abort();
    let status = match pumped {
        Ok(Ok(())) if exec => channel::exit_status(control.exit_code().await),
        Ok(Ok(())) => channel::exit_status(None),
        Ok(Err(e)) => channel::failure_status(&e),
        Err(e) => channel::failure_status(&e.to_string()),
    };
    tracing::debug!(exec, status = %status, "exec/attach session ended");
    let _ = out.send(ServerEvent::Status(status)).await;
}
