//! The sockets: a `hickory-server` [`Server`] on UDP and TCP whose request handler answers from
//! the index (`answer.rs`) or forwards (`forward.rs`).

use std::iter;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::Server;
use parking_lot::RwLock;
use tokio::net::{TcpListener, UdpSocket};

use super::answer::{answer, Outcome};
use super::forward::Forwarder;
use super::index::Index;
use super::DnsError;

/// How long a TCP connection may stay idle.
const TCP_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers queries from the index, forwarding the rest.
pub struct Handler {
    index: Arc<RwLock<Index>>,
    forwarder: Arc<Forwarder>,
}

impl Handler {
    /// A handler over `index` forwarding through `forwarder`.
    pub fn new(index: Arc<RwLock<Index>>, forwarder: Arc<Forwarder>) -> Handler {
        Handler { index, forwarder }
    }
}

fn failed(request: &Request, code: ResponseCode) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.response_code = code;
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let response_edns = request.edns.as_ref().map(|req| {
            let mut e = Edns::new();
            e.set_max_payload(req.max_payload().max(512));
            e.set_version(0);
            e
        });
        let mut builder = MessageResponseBuilder::from_message_request(request);
        if let Some(e) = response_edns.as_ref() {
            builder.edns(e);
        }
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.recursion_available = true;
        let query = match request.request_info() {
            Ok(info) if request.metadata.op_code == OpCode::Query => {
                Some(info.query.original().clone())
            }
            Ok(_) => {
                metadata.response_code = ResponseCode::NotImp;
                None
            }
            Err(_) => {
                metadata.response_code = ResponseCode::FormErr;
                None
            }
        };
        let Some(query) = query else {
            let resp = builder.build_no_records(metadata);
            return response_handle
                .send_response(resp)
                .await
                .unwrap_or_else(|_| failed(request, ResponseCode::ServFail));
        };
        let outcome = answer(&self.index.read(), query.name(), query.query_type());
        let sent = match outcome {
            Outcome::Answer(a) => {
                metadata.authoritative = true;
                if a.nxdomain {
                    metadata.response_code = ResponseCode::NXDomain;
                }
                let resp = builder.build(
                    metadata,
                    a.answers.iter(),
                    a.authority.iter(),
                    iter::empty::<&Record>(),
                    a.additionals.iter(),
                );
                response_handle.send_response(resp).await
            }
            Outcome::Forward => match self.forwarder.resolve(&query).await {
                Ok(m) => {
                    metadata.response_code = m.metadata.response_code;
                    let resp = builder.build(
                        metadata,
                        m.answers.iter(),
                        m.authorities.iter(),
                        iter::empty::<&Record>(),
                        m.additionals.iter(),
                    );
                    response_handle.send_response(resp).await
                }
                Err(e) => {
                    tracing::debug!(name = %query.name(), error = %e, "forwarding failed");
                    metadata.response_code = ResponseCode::ServFail;
                    response_handle
                        .send_response(builder.build_no_records(metadata))
                        .await
                }
            },
        };
        sent.unwrap_or_else(|_| failed(request, ResponseCode::ServFail))
    }
}

/// The bound sockets.
pub struct Sockets {
    udp: Vec<UdpSocket>,
    tcp: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
}

/// Binds UDP and TCP on `port` of every IPv4 address of this host (loopback, the node IP,
/// bridges). One socket per address rather than one on 0.0.0.0: a UDP answer then leaves from
/// the address the query was sent to (a resolver drops answers from another address, and
/// kube-proxy's DNAT of `<cluster-dns>:53` is only undone for answers from the node IP).
/// Addresses that cannot be bound (a stub resolver's 127.0.0.53:53) are skipped.
pub async fn bind(port: u16) -> Result<Sockets, DnsError> {
    let mut ips: Vec<IpAddr> = if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.ip())
        .filter(IpAddr::is_ipv4)
        .collect();
    if ips.is_empty() {
        ips.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    ips.sort();
    ips.dedup();
    let mut sockets = Sockets {
        udp: Vec::new(),
        tcp: Vec::new(),
        addrs: Vec::new(),
    };
    let mut last = None;
    for ip in ips {
        let addr = SocketAddr::new(ip, port);
        match bind_one(addr).await {
            Ok((udp, tcp)) => {
                sockets.udp.push(udp);
                sockets.tcp.push(tcp);
                sockets.addrs.push(addr);
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cluster DNS cannot listen here");
                last = Some(e);
            }
        }
    }
    match (sockets.addrs.is_empty(), last) {
        (true, Some(e)) => Err(e),
        _ => Ok(sockets),
    }
}

async fn bind_one(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let udp = UdpSocket::bind(addr).await?;
    let tcp = TcpListener::bind(addr).await?;
    Ok((udp, tcp))
}

/// Serves `handler` on `sockets` until the process ends.
pub async fn serve(sockets: Sockets, handler: Handler) -> Result<(), DnsError> {
    let mut server = Server::new(handler);
    for udp in sockets.udp {
        server.register_socket(udp);
    }
    for tcp in sockets.tcp {
        server.register_listener(tcp, TCP_TIMEOUT, 16);
    }
    tracing::info!(addrs = ?sockets.addrs, "cluster DNS listening (UDP and TCP)");
    server
        .block_until_done()
        .await
        .map_err(|e| DnsError::Proto(e.to_string()))
}
