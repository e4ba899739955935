//! The actions probes and lifecycle hooks run: `exec` (a Docker exec in the container; exit 0
//! is success), `httpGet` (from the host to the pod IP, 200–399 is success), `tcpSocket` (a
//! connection opens) and the hooks' `sleep`, each bounded by a timeout.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::Docker;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::Empty;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use k8s_openapi::api::core::v1::{Container, HTTPGetAction, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// What one run of an action gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It passed.
    Success,
    /// It failed, with upstream's kind of message.
    Failure(String),
}

/// Where an action runs: the container (for exec) and the pod's IP (for network actions).
pub struct Target<'a> {
    /// Docker.
    pub docker: &'a Docker,
    /// The Docker container id.
    pub container_id: &'a str,
    /// The container's spec (named ports).
    pub container: &'a Container,
    /// The pod's IP.
    pub pod_ip: &'a str,
}

/// The user agent of probes (upstream: `kube-probe/<major>.<minor>`).
const USER_AGENT: &str = "kube-probe/1.33";

/// A port number, or a name resolved from the container's ports.
pub fn port(p: &IntOrString, c: &Container) -> Result<u16, String> {
    let number = match p {
        IntOrString::Int(n) => *n,
        IntOrString::String(s) => match s.parse::<i32>() {
            Ok(n) => n,
            Err(_) => c
                .ports
                .iter()
                .flatten()
                .find(|cp| cp.name.as_deref() == Some(s.as_str()))
                .map(|cp| cp.container_port)
                .ok_or_else(|| format!("couldn't find port: {s} in {}", c.name))?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

/// Runs `cmd` in the container; the outcome by exit code, the output as failure message.
pub async fn exec(t: &Target<'_>, cmd: &[String], timeout: Duration) -> Outcome {
    match tokio::time::timeout(timeout, exec_output(t, cmd)).await {
        Err(_) => Outcome::Failure(format!("command {:?} timed out", cmd.join(" "))),
        Ok(Err(e)) => Outcome::Failure(e),
        Ok(Ok((0, _))) => Outcome::Success,
        Ok(Ok((_, output))) => Outcome::Failure(output),
    }
}

/// Runs `cmd` in the container: its exit code and combined output.
pub async fn exec_output(t: &Target<'_>, cmd: &[String]) -> Result<(i64, String), String> {
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(cmd.to_vec()),
        ..Default::default()
    };
    let created = t
        .docker
        .create_exec(t.container_id, options)
        .await
        .map_err(|e| e.to_string())?;
    let started = t
        .docker
        .start_exec(&created.id, None::<StartExecOptions>)
        .await
        .map_err(|e| e.to_string())?;
    let mut output = Vec::new();
    if let StartExecResults::Attached {
        output: mut out, ..
    } = started
    {
        while let Some(chunk) = out.next().await {
            match chunk {
                Ok(c) if output.len() < 10 * 1024 => output.extend_from_slice(&c.into_bytes()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    let inspect = t
        .docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| e.to_string())?;
    let code = inspect.exit_code.unwrap_or(-1);
    Ok((code, String::from_utf8_lossy(&output).into_owned()))
}

/// The URL of an `httpGet` action against the pod.
pub fn http_url(a: &HTTPGetAction, c: &Container, pod_ip: &str) -> Result<String, String> {
    let scheme = a.scheme.as_deref().unwrap_or("HTTP");
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(format!("scheme {scheme} is not supported (only HTTP)"));
    }
    let host = a
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .unwrap_or(pod_ip);
    let port = port(&a.port, c)?;
    let path = a.path.as_deref().unwrap_or("/");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    };
    Ok(format!("http://{host}:{port}{path}"))
}

/// GETs the action's URL; 200–399 is success.
pub async fn http_get(a: &HTTPGetAction, t: &Target<'_>, timeout: Duration) -> Outcome {
    let url = match http_url(a, t.container, t.pod_ip) {
        Ok(u) => u,
        Err(e) => return Outcome::Failure(e),
    };
    let mut request = hyper::Request::get(&url)
        .header("User-Agent", USER_AGENT)
        .header("Accept", "*/*");
    for h in a.http_headers.iter().flatten() {
        request = request.header(h.name.as_str(), h.value.as_str());
    }
    let request = match request.body(Empty::<Bytes>::new()) {
        Ok(r) => r,
        Err(e) => return Outcome::Failure(e.to_string()),
    };
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    match tokio::time::timeout(timeout, client.request(request)).await {
        Err(_) => Outcome::Failure(format!(
            "Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
        )),
        Ok(Err(e)) => Outcome::Failure(format!("Get \"{url}\": {}", error_chain(&e))),
        Ok(Ok(resp)) => {
            let code = resp.status().as_u16();
            if (200..400).contains(&code) {
                Outcome::Success
            } else {
                Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
            }
        }
    }
}

/// An error with its sources (hyper's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Opens a TCP connection to the action's port.
pub async fn tcp(a: &TCPSocketAction, t: &Target<'_>, timeout: Duration) -> Outcome {
    let port = match port(&a.port, t.container) {
        Ok(p) => p,
        Err(e) => return Outcome::Failure(e),
    };
    let host = a
        .host
        .as_deref()
        .filter(|h| !h.is_empty())
        .unwrap_or(t.pod_ip);
    let addr = format!("{host}:{port}");
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&addr)).await {
        Err(_) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {addr}: connect: {e}")),
        Ok(Ok(_)) => Outcome::Success,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_ports_and_urls() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "web", "ports": [{"name": "http", "containerPort": 8080}]
        }))
        .unwrap();
        assert_eq!(port(&IntOrString::String("http".into()), &c), Ok(8080));
        assert_eq!(port(&IntOrString::Int(80), &c), Ok(80));
        assert_eq!(
            port(&IntOrString::String("admin".into()), &c),
            Err("couldn't find port: admin in web".to_string())
        );
        let a = HTTPGetAction {
            path: Some("healthz".into()),
            port: IntOrString::String("http".into()),
            ..Default::default()
        };
        assert_eq!(
            http_url(&a, &c, "10.42.0.7").unwrap(),
            "http://10.42.0.7:8080/healthz"
        );
        let https = HTTPGetAction {
            scheme: Some("HTTPS".into()),
            ..a
        };
        assert!(http_url(&https, &c, "10.42.0.7").is_err());
    }
}
