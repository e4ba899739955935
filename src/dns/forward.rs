//! Forwarding of names outside the cluster to the host's resolvers (`--resolv-conf`), over UDP
//! (TCP when the answer is truncated), with a small cache that keeps answers for their TTL.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::DnsError;

/// How long one upstream gets to answer.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Cached answers at most; the cache is emptied when full.
const CACHE_ENTRIES: usize = 10_000;
/// The longest an answer is cached, whatever its TTL.
const MAX_TTL: u32 = 3600;
/// How long an answer without records (NXDOMAIN, NODATA without SOA, SERVFAIL) is cached.
const NEGATIVE_TTL: u32 = 5;
/// systemd-resolved's list of the real upstream servers.
pub const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// The `nameserver` addresses of a resolv.conf.
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|v| v.split_whitespace().next())
        .filter_map(|v| v.split('%').next()?.parse().ok())
        .collect()
}

/// The upstream servers for `path`, as k3s picks them: loopback nameservers (systemd-resolved's
/// 127.0.0.53 stub) are replaced by systemd-resolved's own upstream list when that exists; they
/// are kept when nothing else is known (this server runs on the host, where they answer).
pub fn upstreams(path: &Path) -> Vec<SocketAddr> {
    let listed = nameservers(&std::fs::read_to_string(path).unwrap_or_default());
    let non_loopback: Vec<IpAddr> = listed
        .iter()
        .copied()
        .filter(|ip| !ip.is_loopback())
        .collect();
    let chosen = if !non_loopback.is_empty() {
        non_loopback
    } else {
        let systemd: Vec<IpAddr> =
            nameservers(&std::fs::read_to_string(SYSTEMD_RESOLV_CONF).unwrap_or_default())
                .into_iter()
                .filter(|ip| !ip.is_loopback())
                .collect();
        if systemd.is_empty() {
            listed
        } else {
            systemd
        }
    };
    chosen
        .into_iter()
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

struct Cached {
    stored: Instant,
    expires: Instant,
    message: Message,
}

/// Forwards queries to upstream resolvers and caches their answers.
pub struct Forwarder {
    upstreams: Vec<SocketAddr>,
    cache: Mutex<HashMap<(String, RecordType), Cached>>,
}

impl Forwarder {
    /// A forwarder to `upstreams` (tried in order).
    pub fn new(upstreams: Vec<SocketAddr>) -> Forwarder {
        Forwarder {
            upstreams,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The upstream servers.
    pub fn upstreams(&self) -> &[SocketAddr] {
        &self.upstreams
    }

    /// The upstream answer to `query` (from the cache while its TTL lasts, TTLs counted down).
    pub async fn resolve(&self, query: &Query) -> Result<Message, DnsError> {
        let key = (
            query.name().to_ascii().to_ascii_lowercase(),
            query.query_type(),
        );
        if let Some(m) = self.cached(&key) {
            return Ok(m);
        }
        let mut last = DnsError::NoUpstream;
        for upstream in &self.upstreams {
            match exchange(*upstream, query).await {
                Ok(m) => {
                    self.store(key, &m);
                    return Ok(m);
                }
                Err(e) => {
                    tracing::debug!(%upstream, error = %e, "upstream DNS server failed");
                    last = e;
                }
            }
        }
        Err(last)
    }

    fn cached(&self, key: &(String, RecordType)) -> Option<Message> {
        let mut cache = self.cache.lock();
        let now = Instant::now();
        let entry = cache.get(key)?;
        if entry.expires <= now {
            cache.remove(key);
            return None;
        }
        let elapsed = u32::try_from(now.duration_since(entry.stored).as_secs()).unwrap_or(0);
        let mut m = entry.message.clone();
        for r in m
            .answers
            .iter_mut()
            .chain(m.authorities.iter_mut())
            .chain(m.additionals.iter_mut())
        {
            r.ttl = r.ttl.saturating_sub(elapsed);
        }
        Some(m)
    }

    fn store(&self, key: (String, RecordType), m: &Message) {
        let ttl = cache_ttl(m);
        if ttl == 0 {
            return;
        }
        let mut cache = self.cache.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        let now = Instant::now();
        cache.insert(
            key,
            Cached {
                stored: now,
                expires: now + Duration::from_secs(u64::from(ttl)),
                message: m.clone(),
            },
        );
    }
}

/// How long an upstream answer may be cached: its smallest TTL; for a negative answer the
/// SOA's (RFC 2308: the smaller of its TTL and minimum).
pub fn cache_ttl(m: &Message) -> u32 {
    use hickory_proto::rr::RData;
    let ttl = if !m.answers.is_empty() {
        m.answers.iter().map(|r| r.ttl).min().unwrap_or(0)
    } else {
        m.authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
                _ => None,
            })
            .unwrap_or(NEGATIVE_TTL)
    };
    let ok = matches!(
        m.metadata.response_code,
        ResponseCode::NoError | ResponseCode::NXDomain
    );
    if ok {
        ttl.min(MAX_TTL)
    } else {
        0
    }
}

/// One query to one upstream: UDP, then TCP if the answer came truncated.
async fn exchange(upstream: SocketAddr, query: &Query) -> Result<Message, DnsError> {
    let id: u16 = rand::random();
    let mut req = Message::new(id, MessageType::Query, OpCode::Query);
    req.metadata.recursion_desired = true;
    req.add_query(query.clone());
    let bytes = req.to_vec().map_err(|e| DnsError::Proto(e.to_string()))?;
    let bind: SocketAddr = if upstream.is_ipv4() {
        "0.0.0.0:0".parse().map_err(|_| DnsError::NoUpstream)?
    } else {
        "[::]:0".parse().map_err(|_| DnsError::NoUpstream)?
    };
    let sock = UdpSocket::bind(bind).await?;
    sock.connect(upstream).await?;
    sock.send(&bytes).await?;
    let mut buf = vec![0u8; 4096];
    let answer = tokio::time::timeout(TIMEOUT, async {
        loop {
            let n = sock.recv(&mut buf).await?;
            if let Ok(m) = Message::from_vec(&buf[..n]) {
                if m.metadata.id == id {
                    return Ok::<Message, DnsError>(m);
                }
            }
        }
    })
    .await
    .map_err(|_| DnsError::Timeout(upstream))??;
    if !answer.metadata.truncation {
        return Ok(answer);
    }
    tokio::time::timeout(TIMEOUT, exchange_tcp(upstream, &bytes, id))
        .await
        .map_err(|_| DnsError::Timeout(upstream))?
}

async fn exchange_tcp(upstream: SocketAddr, bytes: &[u8], id: u16) -> Result<Message, DnsError> {
    let mut conn = TcpStream::connect(upstream).await?;
    let len = u16::try_from(bytes.len()).map_err(|_| DnsError::Proto("query too long".into()))?;
    let mut framed = len.to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    conn.write_all(&framed).await?;
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut buf).await?;
    let m = Message::from_vec(&buf).map_err(|e| DnsError::Proto(e.to_string()))?;
    if m.metadata.id != id {
        return Err(DnsError::Proto("answer to another query".into()));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nameservers() {
        let conf = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver  fe80::1%eth0\nnameserver 127.0.0.53\noptions ndots:2\n";
        let ns = nameservers(conf);
        assert_eq!(ns.len(), 3);
        assert_eq!(ns[0].to_string(), "10.0.0.2");
        assert_eq!(ns[1].to_string(), "fe80::1");
    }

    #[test]
    fn loopback_skipped_when_others_exist() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("resolv.conf");
        std::fs::write(&p, "nameserver 127.0.0.53\nnameserver 192.0.2.1\n").expect("write");
        assert_eq!(upstreams(&p), vec!["192.0.2.1:53".parse().expect("addr")]);
        std::fs::write(&p, "nameserver 127.0.0.9\n").expect("write");
        if !Path::new(SYSTEMD_RESOLV_CONF).exists() {
            assert_eq!(upstreams(&p), vec!["127.0.0.9:53".parse().expect("addr")]);
        }
    }

    #[test]
    fn cache_ttls() {
        use hickory_proto::rr::rdata::{A, SOA};
        use hickory_proto::rr::{Name, RData, Record};
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        let name = Name::from_ascii("a.example.").expect("name");
        m.answers.push(Record::from_rdata(
            name.clone(),
            30,
            RData::A(A::new(1, 2, 3, 4)),
        ));
        m.answers.push(Record::from_rdata(
            name.clone(),
            20,
            RData::A(A::new(1, 2, 3, 5)),
        ));
        assert_eq!(cache_ttl(&m), 20);
        m.answers.clear();
        let soa = SOA::new(name.clone(), name.clone(), 1, 1, 1, 1, 60);
        m.authorities
            .push(Record::from_rdata(name, 300, RData::SOA(soa)));
        m.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(cache_ttl(&m), 60);
        m.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(cache_ttl(&m), 0);
    }
}
