//! Container logs for the API server's `pods/log`: the kubelets of this process register here
//! by node name, and the API server asks the one running the pod for a stream of Docker's logs
//! (`follow`, `tailLines`, `timestamps`, `sinceSeconds`, `previous`).

use std::collections::HashMap;
use std::sync::OnceLock;

use bollard::query_parameters::LogsOptionsBuilder;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use parking_lot::RwLock;

use super::containers::{attempt_of, label};
use super::runtime::Runtime;
use super::CONTAINER_LABEL;

/// What `pods/log` asks for.
#[derive(Clone, Debug, Default)]
pub struct LogOptions {
    /// The container's name in the spec.
    pub container: String,
    /// Keep streaming new lines.
    pub follow: bool,
    /// Only the last N lines.
    pub tail_lines: Option<i64>,
    /// Prefix each line with its RFC 3339 time.
    pub timestamps: bool,
    /// Only lines newer than this many seconds.
    pub since_seconds: Option<i64>,
    /// The previous (terminated) instance of the container.
    pub previous: bool,
}

/// Why no log stream could be given.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The container has no Docker container (yet), or none before the current one.
    #[error("{0}")]
    NotFound(String),
    /// Docker failed.
    #[error("{0}")]
    Runtime(String),
}

/// Reads the logs of one kubelet's containers.
#[derive(Clone)]
pub struct LogSource {
    runtime: Runtime,
    cluster: String,
}

impl LogSource {
    /// A source over `runtime` for the containers of `cluster`.
    pub fn new(runtime: Runtime, cluster: String) -> LogSource {
        LogSource { runtime, cluster }
    }

    /// The log stream of `opts.container` of the pod `pod_uid` (named `pod` in messages).
    pub async fn stream(
        &self,
        pod: &str,
        pod_uid: &str,
        opts: &LogOptions,
    ) -> Result<BoxStream<'static, Result<Bytes, std::io::Error>>, LogError> {
        let mut mine: Vec<_> = self
            .runtime
            .containers(&self.cluster, Some(pod_uid))
            .await
            .map_err(|e| LogError::Runtime(e.to_string()))?
            .into_iter()
            .filter(|c| label(c, CONTAINER_LABEL) == Some(opts.container.as_str()))
            .collect();
        mine.sort_by_key(|c| std::cmp::Reverse(attempt_of(c)));
        let index = usize::from(opts.previous);
        let Some(target) = mine.get(index).and_then(|c| c.id.clone()) else {
            return Err(LogError::NotFound(if opts.previous {
                format!(
                    "previous terminated container \"{}\" in pod \"{pod}\" not found",
                    opts.container
                )
            } else {
                format!(
                    "container \"{}\" in pod \"{pod}\" is waiting to start: ContainerCreating",
                    opts.container
                )
            }));
        };
        let mut builder = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .follow(opts.follow)
            .timestamps(opts.timestamps);
        builder = match opts.tail_lines {
            Some(n) if n >= 0 => builder.tail(&n.to_string()),
            _ => builder.tail("all"),
        };
        if let Some(s) = opts.since_seconds.filter(|s| *s > 0) {
            let since = k8s_openapi::jiff::Timestamp::now().as_second() - s;
            builder = builder.since(since.clamp(0, i32::MAX as i64) as i32);
        }
        let docker = self
            .runtime
            .docker()
            .map_err(|e| LogError::Runtime(e.to_string()))?
            .clone();
        // The stream is read in a task that owns the client; it ends when the reader goes.
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let options = builder.build();
        tokio::spawn(async move {
            let mut logs = std::pin::pin!(docker.logs(&target, Some(options)));
            while let Some(item) = logs.next().await {
                let item = item
                    .map(|o| o.into_bytes())
                    .map_err(|e| std::io::Error::other(e.to_string()));
                if tx.send(item).await.is_err() {
                    break;
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx).boxed())
    }
}

fn sources() -> &'static RwLock<HashMap<String, LogSource>> {
    static SOURCES: OnceLock<RwLock<HashMap<String, LogSource>>> = OnceLock::new();
    SOURCES.get_or_init(Default::default)
}

/// Registers the log source of the kubelet of `node` (in this process).
pub fn register(node: &str, source: LogSource) {
    sources().write().insert(node.to_string(), source);
}

/// The log source of `node`, if its kubelet runs in this process.
pub fn source_for(node: &str) -> Option<LogSource> {
    sources().read().get(node).cloned()
}
