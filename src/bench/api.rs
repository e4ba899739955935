//! Measurements through the API server: ConfigMap create throughput, LIST latency and watch event
//! latency, each client on its own connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use parking_lot::Mutex;

use super::client::{expect, ClientConfig, Conn};
use super::stats::Samples;
use super::BenchError;

/// The `Accept` header of a server-side printed Table.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// A ConfigMap of about 200 bytes of JSON.
pub fn configmap(name: &str) -> Bytes {
    let head = format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}"}},"data":{{"payload":""#
    );
    let pad = 200usize.saturating_sub(head.len() + 3).max(8);
    Bytes::from(format!("{head}{}\"}}}}", "x".repeat(pad)))
}

/// Creates namespace `ns` (an existing one is fine).
pub async fn ensure_namespace(conn: &mut Conn, ns: &str) -> Result<(), BenchError> {
    let body = format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
    let r = conn
        .post_json("/api/v1/namespaces", Bytes::from(body))
        .await?;
    expect(&r, &[200, 201, 409], &format!("create namespace {ns}"))
}

/// Result of a create run.
pub struct CreateRun {
    /// Creates acknowledged per second (wall clock of the whole run).
    pub per_second: f64,
    /// Latency of each create.
    pub latency: Samples,
}

/// Creates `total` ConfigMaps named `<prefix>-<i>` in `ns` with `clients` concurrent clients, each
/// on its own (already established) connection.
pub async fn create_configmaps(
    cfg: &ClientConfig,
    ns: &str,
    prefix: &str,
    clients: usize,
    total: usize,
) -> Result<CreateRun, BenchError> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(cfg.connect().await?);
    }
    let path = Arc::new(format!("/api/v1/namespaces/{ns}/configmaps"));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for (c, mut conn) in conns.into_iter().enumerate() {
        let path = path.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut i = c;
            while i < total {
                let body = configmap(&format!("{prefix}-{i:06}"));
                let t = Instant::now();
                let r = conn.post_json(&path, body).await?;
                lat.push(t.elapsed());
                expect(&r, &[201], "create configmap")?;
                i += clients;
            }
            Ok::<_, BenchError>(lat)
        }));
    }
    let mut latency = Samples::default();
    for t in tasks {
        let lat = t
            .await
            .map_err(|e| BenchError::Client(format!("client task: {e}")))??;
        latency.extend(lat);
    }
    let elapsed = started.elapsed();
    Ok(CreateRun {
        per_second: total as f64 / elapsed.as_secs_f64(),
        latency,
    })
}

/// Times `runs` full LISTs of `ns`'s ConfigMaps with `accept`, checking the item count once.
pub async fn list_configmaps(
    cfg: &ClientConfig,
    ns: &str,
    accept: &str,
    expected: usize,
    runs: usize,
) -> Result<(Samples, usize), BenchError> {
    let mut conn = cfg.connect().await?;
    let path = format!("/api/v1/namespaces/{ns}/configmaps");
    let mut samples = Samples::default();
    let mut bytes = 0;
    for run in 0..runs {
        let t = Instant::now();
        let r = conn
            .request("GET", &path, accept, None, Bytes::new())
            .await?;
        samples.push(t.elapsed());
        expect(&r, &[200], "list configmaps")?;
        bytes = r.body.len();
        if run == 0 {
            let v: serde_json::Value = serde_json::from_slice(&r.body)
                .map_err(|e| BenchError::Client(format!("list: invalid JSON: {e}")))?;
            let n = v
                .get("items")
                .or_else(|| v.get("rows"))
                .and_then(|i| i.as_array())
                .map(|a| a.len())
                .unwrap_or(0);
            // Every namespace also holds the `kube-root-ca.crt` ConfigMap (published as upstream).
            if n != expected && n != expected + 1 {
                return Err(BenchError::Client(format!(
                    "list with {accept}: {n} items, expected {expected}"
                )));
            }
        }
    }
    Ok((samples, bytes))
}

/// Result of the watch latency run.
pub struct WatchRun {
    /// From sending a write to a watcher receiving its event.
    pub from_sent: Samples,
    /// From the write's response to a watcher receiving its event (0 when the event came first).
    pub from_ack: Samples,
    /// Events that never arrived.
    pub missing: usize,
}

#[derive(serde::Deserialize)]
struct WatchLine {
    #[serde(rename = "type")]
    kind: String,
    object: WatchObject,
}

#[derive(serde::Deserialize)]
struct WatchObject {
    metadata: WatchMeta,
}

#[derive(serde::Deserialize)]
struct WatchMeta {
    #[serde(default)]
    name: String,
}

/// Reads one watch stream until `expected` ADDED/MODIFIED events arrived or `stop` fires.
async fn watcher(
    mut resp: hyper::Response<hyper::body::Incoming>,
    expected: usize,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<(String, Instant)> {
    let mut seen = Vec::with_capacity(expected);
    let mut buf = BytesMut::new();
    let body = resp.body_mut();
    while seen.len() < expected {
        let frame = tokio::select! {
            f = body.frame() => match f {
                Some(Ok(f)) => f,
                _ => break,
            },
            _ = stop.changed() => break,
        };
        let now = Instant::now();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line = buf.split_to(pos + 1);
            if let Ok(ev) = serde_json::from_slice::<WatchLine>(&line) {
                if ev.kind == "ADDED" || ev.kind == "MODIFIED" {
                    seen.push((format!("{}/{}", ev.kind, ev.object.metadata.name), now));
                }
            }
        }
    }
    seen
}

/// Opens `watchers` watches on `ns`'s ConfigMaps, then creates and updates `objects` ConfigMaps
/// one at a time (`gap` apart) and measures when each watcher sees each event.
pub async fn watch_latency(
    cfg: &ClientConfig,
    ns: &str,
    watchers: usize,
    objects: usize,
    gap: Duration,
) -> Result<WatchRun, BenchError> {
    let mut writer = cfg.connect().await?;
    ensure_namespace(&mut writer, ns).await?;
    let list_path = format!("/api/v1/namespaces/{ns}/configmaps");
    let r = writer.get(&list_path).await?;
    expect(&r, &[200], "list before watch")?;
    let v: serde_json::Value = serde_json::from_slice(&r.body)
        .map_err(|e| BenchError::Client(format!("list: invalid JSON: {e}")))?;
    let rv = v
        .pointer("/metadata/resourceVersion")
        .and_then(|r| r.as_str())
        .unwrap_or("")
        .to_string();
    let expected = objects * 2;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let watch_path = format!("{list_path}?watch=true&resourceVersion={rv}");
    let mut tasks = Vec::with_capacity(watchers);
    for _ in 0..watchers {
        let mut conn = cfg.connect().await?;
        let resp = conn
            .start("GET", &watch_path, "application/json", None, Bytes::new())
            .await?;
        if resp.status() != 200 {
            return Err(BenchError::Client(format!("watch: HTTP {}", resp.status())));
        }
        let stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let seen = watcher(resp, expected, stop).await;
            drop(conn);
            seen
        }));
    }
    // Let every watch register before the first write.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let times: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::default();
    let mut created = Vec::with_capacity(objects);
    for i in 0..objects {
        let name = format!("w-{i:05}");
        let body = configmap(&name);
        let sent = Instant::now();
        let r = writer.post_json(&list_path, body).await?;
        let ack = Instant::now();
        expect(&r, &[201], "create configmap")?;
        times.lock().insert(format!("ADDED/{name}"), (sent, ack));
        created.push((name, r.body));
        tokio::time::sleep(gap).await;
    }
    for (name, obj) in created {
        let mut v: serde_json::Value = serde_json::from_slice(&obj)
            .map_err(|e| BenchError::Client(format!("create: invalid JSON: {e}")))?;
        v["data"]["payload"] = serde_json::Value::String("updated".into());
        let body =
            Bytes::from(serde_json::to_vec(&v).map_err(|e| BenchError::Client(e.to_string()))?);
        let path = format!("{list_path}/{name}");
        let sent = Instant::now();
        let r = writer
            .request(
                "PUT",
                &path,
                "application/json",
                Some("application/json"),
                body,
            )
            .await?;
        let ack = Instant::now();
        expect(&r, &[200], "update configmap")?;
        times.lock().insert(format!("MODIFIED/{name}"), (sent, ack));
        tokio::time::sleep(gap).await;
    }

    // Late events get 10 s; then the watchers stop and what is missing is counted.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop_tx.send(true);
    let mut run = WatchRun {
        from_sent: Samples::default(),
        from_ack: Samples::default(),
        missing: 0,
    };
    for t in tasks {
        let seen = t
            .await
            .map_err(|e| BenchError::Client(format!("watcher task: {e}")))?;
        run.missing += expected.saturating_sub(seen.len());
        let times = times.lock();
        for (key, at) in seen {
            if let Some((sent, ack)) = times.get(&key) {
                run.from_sent.push(at.saturating_duration_since(*sent));
                run.from_ack.push(at.saturating_duration_since(*ack));
            }
        }
    }
    Ok(run)
}
