//! gRPC probes: upstream's `grpc.health.v1.Health/Check` call over cleartext HTTP/2 to the pod
//! IP and port (`service` in the request); `SERVING` passes, anything else fails with
//! upstream's kind of message.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::handlers::Outcome;
use crate::controllers::nodes::podstatus::go_duration;

/// The gRPC health method.
const METHOD: &str = "/grpc.health.v1.Health/Check";

/// The length-prefixed `HealthCheckRequest { service }` message.
pub fn request_frame(service: &str) -> Bytes {
    let mut msg = BytesMut::new();
    if !service.is_empty() {
        msg.put_u8(0x0a); // field 1, length-delimited
        put_varint(&mut msg, service.len() as u64);
        msg.put_slice(service.as_bytes());
    }
    let mut frame = BytesMut::with_capacity(5 + msg.len());
    frame.put_u8(0); // not compressed
    frame.put_u32(msg.len() as u32);
    frame.put_slice(&msg);
    frame.freeze()
}

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The `status` of a length-prefixed `HealthCheckResponse` (0 when absent, as protobuf).
pub fn response_status(body: &[u8]) -> Option<u64> {
    let msg = body.get(5..)?;
    let mut i = 0;
    let mut status = 0;
    while i < msg.len() {
        let key = varint(msg, &mut i)?;
        match key & 7 {
            0 => {
                let v = varint(msg, &mut i)?;
                if key >> 3 == 1 {
                    status = v;
                }
            }
            2 => {
                let len = varint(msg, &mut i)? as usize;
                i = i.checked_add(len)?;
            }
            _ => return None,
        }
    }
    Some(status)
}

fn status_name(s: u64) -> &'static str {
    match s {
        1 => "SERVING",
        2 => "NOT_SERVING",
        3 => "SERVICE_UNKNOWN",
        _ => "UNKNOWN",
    }
}

/// Calls the health service at `host:port` within `timeout`.
pub async fn check(host: &str, port: u16, service: &str, timeout: Duration) -> Outcome {
    let addr = format!("{host}:{port}");
    match tokio::time::timeout(timeout, call(&addr, service)).await {
        Err(_) => Outcome::Failure(format!(
            "timeout: health rpc did not complete within {}",
            go_duration(timeout)
        )),
        Ok(outcome) => outcome,
    }
}

async fn call(addr: &str, service: &str) -> Outcome {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = hyper::Request::post(format!("http://{addr}{METHOD}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(request_frame(service)));
    let request = match request {
        Ok(r) => r,
        Err(e) => return Outcome::Failure(e.to_string()),
    };
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Failure(format!("failed to connect service {addr:?}: {e}"));
        }
    };
    let headers = response.headers().clone();
    let collected = match response.into_body().collect().await {
        Ok(c) => c,
        Err(e) => return Outcome::Failure(format!("health rpc probe failed: {e}")),
    };
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let code = field("grpc-status").unwrap_or_else(|| "2".to_string());
    if code != "0" {
        let message = field("grpc-message").unwrap_or_default();
        if code == "12" {
            return Outcome::Failure(format!(
                "this server does not implement the grpc health protocol (grpc.health.v1.Health): {message}"
            ));
        }
        return Outcome::Failure(format!(
            "health rpc probe failed: rpc error: code = {code} desc = {message}"
        ));
    }
    match response_status(&collected.to_bytes()) {
        Some(1) => Outcome::Success,
        Some(s) => Outcome::Failure(format!(
            "service unhealthy (responded with {:?})",
            status_name(s)
        )),
        None => Outcome::Failure("health rpc probe failed: malformed response".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::server::conn::http2;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;

    #[test]
    fn frames() {
        assert_eq!(&request_frame("")[..], &[0, 0, 0, 0, 0]);
        assert_eq!(
            &request_frame("db")[..],
            &[0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']
        );
        assert_eq!(response_status(&[0, 0, 0, 0, 2, 0x08, 1]), Some(1));
        assert_eq!(response_status(&[0, 0, 0, 0, 0]), Some(0));
        assert_eq!(response_status(&[0, 0, 0]), None);
    }

    /// A health server answering `status` (and `grpc-status` 12 for service "none").
    async fn server(status: u8) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let svc = service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        let unimplemented = body.ends_with(b"none");
                        let mut resp = hyper::Response::builder()
                            .header("content-type", "application/grpc")
                            .header("grpc-status", if unimplemented { "12" } else { "0" });
                        if unimplemented {
                            resp = resp.header("grpc-message", "unknown service");
                        }
                        let payload = vec![0, 0, 0, 0, 2, 0x08, status];
                        Ok::<_, hyper::Error>(resp.body(Full::new(Bytes::from(payload))).unwrap())
                    },
                );
                tokio::spawn(
                    http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc),
                );
            }
        });
        port
    }

    #[tokio::test]
    async fn health_checks() {
        let t = Duration::from_secs(2);
        let serving = server(1).await;
        assert_eq!(check("127.0.0.1", serving, "", t).await, Outcome::Success);
        match check("127.0.0.1", serving, "none", t).await {
            Outcome::Failure(m) => assert!(m.starts_with("this server does not implement"), "{m}"),
            Outcome::Success => panic!("unimplemented service passed"),
        }
        let not_serving = server(2).await;
        assert_eq!(
            check("127.0.0.1", not_serving, "", t).await,
            Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".to_string())
        );
        // Nothing listens on port 1.
        assert!(matches!(
            check("127.0.0.1", 1, "", t).await,
            Outcome::Failure(m) if m.starts_with("failed to connect service \"127.0.0.1:1\"")
        ));
    }
}
