//! A watch stream read line by line: the `{"type":…,"object":…}` events of one watch request,
//! decoded into the few pod fields the benchmarks look at.

use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;

use super::client::{ClientConfig, Conn};
use super::BenchError;

/// One open watch request.
pub struct WatchLines {
    _conn: Conn,
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl WatchLines {
    /// Starts `GET path` (a `watch=true` URL) on a new connection.
    pub async fn start(cfg: &ClientConfig, path: &str) -> Result<WatchLines, BenchError> {
        let mut conn = cfg.connect().await?;
        let resp = conn
            .start("GET", path, "application/json", None, Bytes::new())
            .await?;
        if resp.status() != 200 {
            return Err(BenchError::Client(format!("watch: HTTP {}", resp.status())));
        }
        Ok(WatchLines {
            _conn: conn,
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }

    /// The events that arrived with the next chunk of the stream (possibly none), until
    /// `deadline`; `Ok(None)` when the deadline passed.
    pub async fn next_events(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Vec<PodEvent>>, BenchError> {
        let frame = match tokio::time::timeout_at(deadline, self.body.frame()).await {
            Err(_) => return Ok(None),
            Ok(None) => return Err(BenchError::Client("watch ended early".into())),
            Ok(Some(Err(e))) => return Err(BenchError::Client(format!("watch: {e}"))),
            Ok(Some(Ok(f))) => f,
        };
        let mut events = Vec::new();
        let Ok(data) = frame.into_data() else {
            return Ok(Some(events));
        };
        self.buf.extend_from_slice(&data);
        let mut start = 0;
        while let Some(nl) = self.buf[start..].iter().position(|b| *b == b'\n') {
            let line = &self.buf[start..start + nl];
            start += nl + 1;
            if let Ok(ev) = serde_json::from_slice::<PodEvent>(line) {
                events.push(ev);
            }
        }
        self.buf.drain(..start);
        Ok(Some(events))
    }
}

/// A watch event of a pod.
#[derive(Deserialize)]
pub struct PodEvent {
    /// ADDED, MODIFIED, DELETED or BOOKMARK.
    #[serde(rename = "type")]
    pub kind: String,
    /// The pod.
    pub object: PodObject,
}

impl PodEvent {
    /// `namespace/name` of the pod.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            self.object.metadata.namespace, self.object.metadata.name
        )
    }

    /// True when the pod is bound to a node.
    pub fn bound(&self) -> bool {
        !self.object.spec.node_name.is_empty()
    }

    /// True when the pod exists and is Running.
    pub fn running(&self) -> bool {
        self.object.status.phase == "Running" && self.kind != "DELETED"
    }
}

/// The fields of a pod the benchmarks read.
#[derive(Deserialize)]
pub struct PodObject {
    #[serde(default)]
    metadata: PodMeta,
    #[serde(default)]
    spec: PodSpec,
    #[serde(default)]
    status: PodStatus,
}

#[derive(Deserialize, Default)]
struct PodMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Deserialize, Default)]
struct PodSpec {
    #[serde(default, rename = "nodeName")]
    node_name: String,
}

#[derive(Deserialize, Default)]
struct PodStatus {
    #[serde(default)]
    phase: String,
}
