//! `pods/exec`, `pods/attach` and `pods/portforward`: the pod and container are checked here
//! (Kubernetes Status errors before any upgrade), the kubelet of the pod's node (in this process,
//! registered in [`crate::kubelet::streaming`]) starts the Docker session or TCP connection, and
//! the connection is upgraded to what the client asked for:
//!
//! - exec/attach: WebSocket `v5.channel.k8s.io` (`websocket.rs`, framing in `channel.rs`), or
//!   `Upgrade: SPDY/3.1` with `v4.channel.k8s.io` streams (`spdyexec.rs`);
//! - port-forward: SPDY/3.1 (`spdy/`) inside a WebSocket (`SPDY/3.1+portforward.k8s.io`,
//!   `tunnel.rs`) or after `Upgrade: SPDY/3.1` (`portforward.rs`).
//!
//! `session.rs` runs an exec/attach whatever carries it.

pub mod channel;
pub mod portforward;
pub mod session;
pub mod spdy;
pub mod spdyexec;
pub mod tunnel;
pub mod websocket;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::FromRequestParts;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;

use super::errors::{ApiError, ApiResult};
use super::handler::App;
use super::registry::ResourceEntry;
use crate::kubelet::streaming::{self as kubelet, Session, StreamError, StreamSource, Streams};

/// Largest WebSocket message accepted from a client.
const MAX_MESSAGE: usize = 1024 * 1024;

/// Which subresource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `pods/exec`.
    Exec,
    /// `pods/attach`.
    Attach,
    /// `pods/portforward`.
    PortForward,
}

impl Kind {
    /// The subresource for `name`, if it is one of these.
    pub fn of(name: &str) -> Option<Kind> {
        match name {
            "exec" => Some(Kind::Exec),
            "attach" => Some(Kind::Attach),
            "portforward" => Some(Kind::PortForward),
            _ => None,
        }
    }
}

/// How the client wants the connection upgraded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Transport {
    WebSocket,
    /// `Upgrade: SPDY/3.1` with the protocol chosen from `X-Stream-Protocol-Version`.
    Spdy(String),
}

/// The exec/attach parameters of the query (`command` may repeat).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecQuery {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// The container asked for.
    pub container: Option<String>,
    /// Streams.
    pub streams: Streams,
}

/// Parses the raw query of an exec or attach.
pub fn parse_query(raw: Option<&str>) -> ExecQuery {
    let mut q = ExecQuery::default();
    let flag = |v: &str| matches!(v, "true" | "1" | "True");
    for (k, v) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "command" => q.command.push(v.into_owned()),
            "container" if !v.is_empty() => q.container = Some(v.into_owned()),
            "stdin" => q.streams.stdin = flag(&v),
            "stdout" => q.streams.stdout = flag(&v),
            "stderr" => q.streams.stderr = flag(&v),
            "tty" => q.streams.tty = flag(&v),
            _ => {}
        }
    }
    q
}

/// Serves exec, attach or port-forward for pod `ns/name`.
pub async fn serve(
    app: &Arc<App>,
    res: &ResourceEntry,
    ns: &str,
    name: &str,
    kind: Kind,
    req: Request<Body>,
) -> ApiResult<Response> {
    let obj = app.store.get(res, Some(ns), name).await?;
    let pod: Pod = serde_json::from_value(obj)
        .map_err(|e| ApiError::internal(format!("stored pod is not valid: {e}")))?;
    let query = parse_query(req.uri().query());
    let container = match kind {
        Kind::PortForward => String::new(),
        _ => super::podlogs::choose_container(&pod, query.container.as_deref())?,
    };
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase != "Running" {
        let what = match kind {
            Kind::PortForward => "forward ports of",
            _ => "exec into or attach to a container in",
        };
        return Err(ApiError::bad_request(format!(
            "cannot {what} pod {name}: its phase is {phase:?}, not \"Running\""
        )));
    }
    let Some(source) = kubelet::source_for(&node) else {
        return Err(ApiError::bad_request(format!(
            "no kubelet for node {node:?} runs in this server (simulated nodes run no containers)"
        )));
    };
    let transport = transport(req.headers(), kind)?;
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    if kind == Kind::PortForward {
        let target = portforward::Target {
            source,
            pod: name.to_string(),
            uid,
        };
        return upgrade(req, transport, move |io| async move {
            portforward::serve(spdy::Connection::start(io), target).await
        })
        .await;
    }
    let streams = query.streams;
    if !(streams.stdin || streams.stdout || streams.stderr) {
        return Err(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let exec = kind == Kind::Exec;
    if exec && query.command.is_empty() {
        return Err(ApiError::bad_request(
            "you must specify at least one command for the container",
        ));
    }
    let command = query.command;
    match transport {
        Transport::WebSocket => {
            let (mut parts, _) = req.into_parts();
            let ws = websocket_upgrade(&mut parts).await?;
            let ws = ws.protocols(channel::PROTOCOLS.iter().copied());
            let protocol = ws
                .selected_protocol()
                .and_then(|p| p.to_str().ok())
                .unwrap_or(channel::PROTOCOL_V5)
                .to_string();
            let session = start(&source, name, &uid, &container, command, streams, exec).await?;
            Ok(ws
                .max_message_size(MAX_MESSAGE)
                .max_frame_size(MAX_MESSAGE)
                .on_upgrade(move |socket| websocket::serve(socket, protocol, session, exec)))
        }
        Transport::Spdy(protocol) => {
            let session = start(&source, name, &uid, &container, command, streams, exec).await?;
            upgrade(req, Transport::Spdy(protocol), move |io| async move {
                spdyexec::serve(spdy::Connection::start(io), session, streams, exec).await
            })
            .await
        }
    }
}

async fn start(
    source: &StreamSource,
    pod: &str,
    uid: &str,
    container: &str,
    command: Vec<String>,
    streams: Streams,
    exec: bool,
) -> ApiResult<Session> {
    let started = if exec {
        source.exec(pod, uid, container, command, streams).await
    } else {
        source.attach(pod, uid, container, streams).await
    };
    started.map_err(|e| match e {
        StreamError::NotRunning(m) | StreamError::Invalid(m) => ApiError::bad_request(m),
        StreamError::Runtime(m) => ApiError::internal(m),
    })
}

/// The transport the request asks for; a Status error for anything else.
fn transport(headers: &HeaderMap, kind: Kind) -> ApiResult<Transport> {
    let upgrade = headers
        .get("upgrade")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if upgrade.eq_ignore_ascii_case("websocket") {
        let served: &[&str] = match kind {
            Kind::PortForward => &[tunnel::PROTOCOL],
            _ => channel::PROTOCOLS,
        };
        let offered: Vec<&str> = headers
            .get_all("sec-websocket-protocol")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if !offered.iter().any(|p| served.contains(p)) {
            return Err(ApiError::bad_request(format!(
                "unsupported WebSocket subprotocols {offered:?}: this server speaks {served:?}"
            )));
        }
        return Ok(Transport::WebSocket);
    }
    if upgrade.to_ascii_uppercase().starts_with("SPDY/3.1") {
        let offered: Vec<&str> = headers
            .get_all("x-stream-protocol-version")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let supported: &[&str] = match kind {
            Kind::PortForward => &[portforward::PROTOCOL],
            _ => spdyexec::PROTOCOLS,
        };
        return match offered.iter().find(|p| supported.contains(p)) {
            Some(p) => Ok(Transport::Spdy(p.to_string())),
            None => Err(ApiError::new(
                403,
                "Forbidden",
                format!("unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports {supported:?}"),
            )),
        };
    }
    Err(ApiError::bad_request(
        "Upgrade request required: use WebSocket or SPDY/3.1",
    ))
}

async fn websocket_upgrade(parts: &mut axum::http::request::Parts) -> ApiResult<WebSocketUpgrade> {
    WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("invalid WebSocket upgrade: {e}")))
}

/// Answers 101 for `transport` and runs `serve` on the upgraded connection (for WebSockets
/// carrying SPDY, on the tunnelled byte stream).
async fn upgrade<F, Fut>(req: Request<Body>, transport: Transport, serve: F) -> ApiResult<Response>
where
    F: FnOnce(tunnel::Io) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    match transport {
        Transport::WebSocket => {
            let (mut parts, _) = req.into_parts();
            let ws = websocket_upgrade(&mut parts).await?;
            Ok(ws
                .protocols([tunnel::PROTOCOL])
                .max_message_size(MAX_MESSAGE)
                .max_frame_size(MAX_MESSAGE)
                .on_upgrade(move |socket| serve(Box::new(tunnel::bridge(socket)))))
        }
        Transport::Spdy(protocol) => {
            let mut req = req;
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                match on_upgrade.await {
                    Ok(upgraded) => serve(Box::new(TokioIo::new(upgraded))).await,
                    Err(e) => tracing::debug!(error = %e, "SPDY upgrade failed"),
                }
            });
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert("connection", HeaderValue::from_static("Upgrade"));
            headers.insert("upgrade", HeaderValue::from_static("SPDY/3.1"));
            if let Ok(v) = HeaderValue::from_str(&protocol) {
                headers.insert("x-stream-protocol-version", v);
            }
            Ok(response)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_queries() {
        let q = parse_query(Some(
            "command=sh&command=-c&command=exit%203&container=app&stdin=true&stdout=true&tty=true",
        ));
        assert_eq!(q.command, vec!["sh", "-c", "exit 3"]);
        assert_eq!(q.container.as_deref(), Some("app"));
        assert!(q.streams.stdin && q.streams.stdout && q.streams.tty && !q.streams.stderr);
        assert_eq!(parse_query(None), ExecQuery::default());
    }

    #[test]
    fn transports() {
        let mut h = HeaderMap::new();
        assert!(transport(&h, Kind::Exec).is_err());
        h.insert("upgrade", HeaderValue::from_static("websocket"));
        h.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("v5.channel.k8s.io"),
        );
        assert_eq!(transport(&h, Kind::Exec).ok(), Some(Transport::WebSocket));
        assert_eq!(
            transport(&h, Kind::PortForward).map_err(|e| e.code),
            Err(400)
        );
        let mut s = HeaderMap::new();
        s.insert("upgrade", HeaderValue::from_static("SPDY/3.1"));
        s.append(
            "x-stream-protocol-version",
            HeaderValue::from_static("v5.channel.k8s.io"),
        );
        s.append(
            "x-stream-protocol-version",
            HeaderValue::from_static("v4.channel.k8s.io"),
        );
        assert_eq!(
            transport(&s, Kind::Exec).ok(),
            Some(Transport::Spdy("v4.channel.k8s.io".to_string()))
        );
        assert_eq!(
            transport(&s, Kind::PortForward).map_err(|e| e.code),
            Err(403)
        );
    }
}
