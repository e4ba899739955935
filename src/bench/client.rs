//! A minimal HTTPS client for the benchmarks: one TLS connection per client (HTTP/1.1 via hyper),
//! authenticated with the client certificate of the admin kubeconfig.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::BenchError;

/// Credentials and address taken from an admin kubeconfig.
#[derive(Clone)]
pub struct ClientConfig {
    tls: TlsConnector,
    addr: SocketAddr,
    host: String,
}

#[derive(serde::Deserialize)]
struct Kubeconfig {
    clusters: Vec<NamedCluster>,
    users: Vec<NamedUser>,
}

#[derive(serde::Deserialize)]
struct NamedCluster {
    cluster: Cluster,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: String,
    certificate_authority_data: String,
}

#[derive(serde::Deserialize)]
struct NamedUser {
    user: User,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct User {
    client_certificate_data: String,
    client_key_data: String,
}

fn b64_pem(data: &str) -> Result<Vec<u8>, BenchError> {
    base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| BenchError::Client(format!("kubeconfig: bad base64: {e}")))
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, BenchError> {
    rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BenchError::Client(format!("kubeconfig: bad certificate: {e}")))
}

impl ClientConfig {
    /// Reads the kubeconfig at `path`; fails while it is missing or incomplete.
    pub fn from_kubeconfig(path: &Path) -> Result<ClientConfig, BenchError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| BenchError::Client(format!("{}: {e}", path.display())))?;
        let kc: Kubeconfig = serde_yaml::from_str(&text)
            .map_err(|e| BenchError::Client(format!("{}: {e}", path.display())))?;
        let cluster = &kc
            .clusters
            .first()
            .ok_or_else(|| BenchError::Client("kubeconfig: no cluster".into()))?
            .cluster;
        let user = &kc
            .users
            .first()
            .ok_or_else(|| BenchError::Client("kubeconfig: no user".into()))?
            .user;
        let url = url::Url::parse(&cluster.server)
            .map_err(|e| BenchError::Client(format!("kubeconfig server: {e}")))?;
        let port = url.port().unwrap_or(443);
        let ip: IpAddr = match url.host() {
            Some(url::Host::Ipv4(a)) => IpAddr::V4(a),
            Some(url::Host::Ipv6(a)) => IpAddr::V6(a),
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in certs(&b64_pem(&cluster.certificate_authority_data)?)? {
            roots
                .add(c)
                .map_err(|e| BenchError::Client(format!("kubeconfig CA: {e}")))?;
        }
        let chain = certs(&b64_pem(&user.client_certificate_data)?)?;
        let key_pem = b64_pem(&user.client_key_data)?;
        let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
            .map_err(|e| BenchError::Client(format!("kubeconfig key: {e}")))?
            .ok_or_else(|| BenchError::Client("kubeconfig: no client key".into()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| BenchError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| BenchError::Client(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ClientConfig {
            tls: TlsConnector::from(Arc::new(config)),
            addr: SocketAddr::new(ip, port),
            host: format!("{ip}:{port}"),
        })
    }

    /// Opens one new connection (TCP + TLS + HTTP/1.1 handshake).
    pub async fn connect(&self) -> Result<Conn, BenchError> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .map_err(|e| BenchError::Client(format!("connect {}: {e}", self.addr)))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::IpAddress(self.addr.ip().into());
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| BenchError::Client(format!("TLS handshake: {e}")))?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| BenchError::Client(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            send,
            host: self.host.clone(),
        })
    }
}

/// One HTTP/1.1 connection to the API server.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

/// A response read to its end.
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The whole body.
    pub body: Bytes,
}

impl Conn {
    /// Sends a request and returns the response head with the body still streaming.
    pub async fn start(
        &mut self,
        method: &str,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<hyper::Response<hyper::body::Incoming>, BenchError> {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("accept", accept);
        if let Some(ct) = content_type {
            b = b.header("content-type", ct);
        }
        let req = b
            .body(Full::new(body))
            .map_err(|e| BenchError::Client(format!("request: {e}")))?;
        self.send
            .ready()
            .await
            .map_err(|e| BenchError::Client(format!("connection: {e}")))?;
        self.send
            .send_request(req)
            .await
            .map_err(|e| BenchError::Client(format!("{method} {path}: {e}")))
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<Reply, BenchError> {
        let resp = self.start(method, path, accept, content_type, body).await?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| BenchError::Client(format!("{method} {path}: body: {e}")))?
            .to_bytes();
        Ok(Reply { status, body })
    }

    /// GET with `Accept: application/json`.
    pub async fn get(&mut self, path: &str) -> Result<Reply, BenchError> {
        self.request("GET", path, "application/json", None, Bytes::new())
            .await
    }

    /// POST of a JSON body.
    pub async fn post_json(&mut self, path: &str, body: Bytes) -> Result<Reply, BenchError> {
        self.request(
            "POST",
            path,
            "application/json",
            Some("application/json"),
            body,
        )
        .await
    }
}

/// Fails with the status and body unless `reply` has one of the `ok` codes.
pub fn expect(reply: &Reply, ok: &[u16], what: &str) -> Result<(), BenchError> {
    if ok.contains(&reply.status) {
        return Ok(());
    }
    let body = String::from_utf8_lossy(&reply.body);
    let body: String = body.chars().take(300).collect();
    Err(BenchError::Client(format!(
        "{what}: HTTP {}: {body}",
        reply.status
    )))
}
