//! Exec, attach and port-forward for the API server's `pods/exec`, `pods/attach` and
//! `pods/portforward`: the kubelets of this process register here by node name (as for logs),
//! and the API server asks the one running the pod for a Docker exec or attach session, or for
//! a TCP connection into the pod's network namespace.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, ResizeContainerTTYOptions, ResizeExecOptions,
};
use bollard::Docker;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use parking_lot::RwLock;
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use super::containers::{attempt_of, label};
use super::runtime::Runtime;
use super::{CONTAINER_LABEL, SANDBOX_NAME};

/// Which streams a session carries (as the `stdin`, `stdout`, `stderr`, `tty` query flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Streams {
    /// Forward the client's input.
    pub stdin: bool,
    /// Send the process's output.
    pub stdout: bool,
    /// Send the process's error output (never with a TTY).
    pub stderr: bool,
    /// Run under a pseudo-terminal.
    pub tty: bool,
}

/// A chunk of output of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Standard output (or the terminal).
    Stdout(Bytes),
    /// Standard error.
    Stderr(Bytes),
}

/// Why a session could not be had.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The container (or pod sandbox) is not running.
    #[error("{0}")]
    NotRunning(String),
    /// The request cannot be served for this container (e.g. attach without stdin).
    #[error("{0}")]
    Invalid(String),
    /// Docker failed.
    #[error("{0}")]
    Runtime(String),
}

impl From<bollard::errors::Error> for StreamError {
    fn from(e: bollard::errors::Error) -> Self {
        StreamError::Runtime(e.to_string())
    }
}

/// A running exec or attach: its output, its input, and control (resize, exit code).
pub struct Session {
    /// Output chunks until the process (or the attachment) ends.
    pub output: BoxStream<'static, Result<Output, StreamError>>,
    /// The process's standard input (shut down to close it).
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
    /// Resizing and the exit code.
    pub control: Control,
}

/// Control over a session once started.
#[derive(Clone)]
pub struct Control {
    docker: Docker,
    target: Target,
}

#[derive(Clone)]
enum Target {
    Exec(String),
    Attach(String),
}

impl Control {
    /// Sets the terminal size (ignored by Docker when there is no TTY).
    pub async fn resize(&self, width: u16, height: u16) -> Result<(), StreamError> {
        let (w, h) = (i32::from(width), i32::from(height));
        match &self.target {
            Target::Exec(id) => {
                self.docker
                    .resize_exec(id, ResizeExecOptions { w, h })
                    .await?
            }
            Target::Attach(id) => {
                self.docker
                    .resize_container_tty(id, ResizeContainerTTYOptions { w, h })
                    .await?
            }
        }
        Ok(())
    }

    /// The exit code of an exec once its output ended (`None` for attach, or if unknown).
    pub async fn exit_code(&self) -> Option<i64> {
        let Target::Exec(id) = &self.target else {
            return None;
        };
        // Docker may report the process running for a moment after its streams closed.
        for _ in 0..50 {
            match self.docker.inspect_exec(id).await {
                Ok(i) if i.running != Some(true) => return i.exit_code,
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(e) => {
                    tracing::debug!(error = %e, "inspect exec failed");
                    return None;
                }
            }
        }
        None
    }
}

/// Starts sessions in the containers of one kubelet.
#[derive(Clone)]
pub struct StreamSource {
    runtime: Runtime,
    cluster: String,
}

impl StreamSource {
    /// A source over `runtime` for the containers of `cluster`.
    pub fn new(runtime: Runtime, cluster: String) -> StreamSource {
        StreamSource { runtime, cluster }
    }

    /// The running Docker container of `container` in pod `pod_uid` (newest attempt).
    async fn running(
        &self,
        pod: &str,
        pod_uid: &str,
        container: &str,
    ) -> Result<ContainerSummary, StreamError> {
        let mut mine: Vec<_> = self
            .runtime
            .containers(&self.cluster, Some(pod_uid))
            .await
            .map_err(|e| StreamError::Runtime(e.to_string()))?
            .into_iter()
            .filter(|c| label(c, CONTAINER_LABEL) == Some(container))
            .collect();
        mine.sort_by_key(|c| std::cmp::Reverse(attempt_of(c)));
        match mine.into_iter().next() {
            Some(c) if c.state == Some(ContainerSummaryStateEnum::RUNNING) => Ok(c),
            _ => Err(StreamError::NotRunning(format!(
                "container {container} is not running in pod {pod}"
            ))),
        }
    }

    fn docker(&self) -> Result<Docker, StreamError> {
        self.runtime
            .docker()
            .cloned()
            .map_err(|e| StreamError::Runtime(e.to_string()))
    }

    /// Runs `command` in `container` of the pod (Docker exec).
    pub async fn exec(
        &self,
        pod: &str,
        pod_uid: &str,
        container: &str,
        command: Vec<String>,
        streams: Streams,
    ) -> Result<Session, StreamError> {
        let target = self.running(pod, pod_uid, container).await?;
        let id = target.id.unwrap_or_default();
        let docker = self.docker()?;
        let created = docker
            .create_exec(
                &id,
                CreateExecOptions {
                    attach_stdin: Some(streams.stdin),
                    attach_stdout: Some(streams.stdout),
                    attach_stderr: Some(streams.stderr && !streams.tty),
                    tty: Some(streams.tty),
                    cmd: Some(command),
                    ..Default::default()
                },
            )
            .await?;
        let start = StartExecOptions {
            detach: false,
            tty: streams.tty,
            output_capacity: Some(64 * 1024),
        };
        match docker.start_exec(&created.id, Some(start)).await? {
            StartExecResults::Attached { output, input } => Ok(Session {
                output: convert(output),
                input,
                control: Control {
                    docker,
                    target: Target::Exec(created.id),
                },
            }),
            StartExecResults::Detached => Err(StreamError::Runtime(
                "Docker started the exec detached".to_string(),
            )),
        }
    }

    /// Attaches to the main process of `container` (Docker attach).
    pub async fn attach(
        &self,
        pod: &str,
        pod_uid: &str,
        container: &str,
        streams: Streams,
    ) -> Result<Session, StreamError> {
        let target = self.running(pod, pod_uid, container).await?;
        let id = target.id.unwrap_or_default();
        let docker = self.docker()?;
        if streams.stdin || streams.tty {
            let config = docker.inspect_container(&id, None).await?.config;
            let config = config.unwrap_or_default();
            if streams.stdin && config.open_stdin != Some(true) {
                return Err(StreamError::Invalid(format!(
                    "stdin is not enabled for container {container} (set stdin: true in its spec)"
                )));
            }
            if streams.tty && config.tty != Some(true) {
                return Err(StreamError::Invalid(format!(
                    "tty is not enabled for container {container} (set tty: true in its spec)"
                )));
            }
        }
        let options = AttachContainerOptionsBuilder::default()
            .stream(true)
            .stdin(streams.stdin)
            .stdout(streams.stdout)
            .stderr(streams.stderr && !streams.tty)
            .build();
        let attached = docker.attach_container(&id, Some(options)).await?;
        Ok(Session {
            output: convert(attached.output),
            input: attached.input,
            control: Control {
                docker,
                target: Target::Attach(id),
            },
        })
    }

    /// Connects to `port` inside the pod's network namespace (through the pod IP on the bridge,
    /// or the loopback for pods on the host's network).
    pub async fn connect(
        &self,
        pod: &str,
        pod_uid: &str,
        port: u16,
    ) -> Result<TcpStream, StreamError> {
        let sandbox = self.running(pod, pod_uid, SANDBOX_NAME).await?;
        let host = sandbox
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.as_deref())
            == Some("host");
        let ip = if host {
            Some("127.0.0.1".to_string())
        } else {
            sandbox
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .and_then(|n| n.values().find_map(|e| e.ip_address.clone()))
                .filter(|ip| !ip.is_empty())
        };
        let Some(ip) = ip else {
            return Err(StreamError::NotRunning(format!(
                "pod {pod} has no IP address"
            )));
        };
        let addr = format!("{ip}:{port}");
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(&addr)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Ok(s)
            }
            Ok(Err(e)) => Err(StreamError::Runtime(format!(
                "failed to connect to localhost:{port} inside pod {pod}: {e}"
            ))),
            Err(_) => Err(StreamError::Runtime(format!(
                "timed out connecting to localhost:{port} inside pod {pod}"
            ))),
        }
    }
}

/// Docker's output frames as [`Output`] chunks (a TTY's console is standard output).
fn convert(
    output: Pin<Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
) -> BoxStream<'static, Result<Output, StreamError>> {
    output
        .filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    Some(Ok(Output::Stdout(message)))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(StreamError::from(e))),
            }
        })
        .boxed()
}

fn sources() -> &'static RwLock<HashMap<String, StreamSource>> {
    static SOURCES: OnceLock<RwLock<HashMap<String, StreamSource>>> = OnceLock::new();
    SOURCES.get_or_init(Default::default)
}

/// Registers the stream source of the kubelet of `node` (in this process).
pub fn register(node: &str, source: StreamSource) {
    sources().write().insert(node.to_string(), source);
}

/// The stream source of `node`, if its kubelet runs in this process.
pub fn source_for(node: &str) -> Option<StreamSource> {
    sources().read().get(node).cloned()
}
