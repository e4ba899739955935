//! Chain names as upstream's kube-proxy makes them: `KUBE-SVC-` + the first 16 characters of
//! the base32 (RFC 4648, upper case) of sha256(`ns/name:port` + protocol), and so on.

use sha2::{Digest, Sha256};

/// Base32 (RFC 4648 alphabet, with `=` padding) of `data`, as Go's `base32.StdEncoding`.
pub fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                let idx = ((bits >> (35 - i * 5)) & 0x1f) as usize;
                out.push(ALPHABET[idx] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The 16-character hash upstream's `portProtoHash` gives `ns/name:port` and a lower-case
/// protocol.
pub fn port_proto_hash(service_port: &str, protocol: &str) -> String {
    let digest = Sha256::digest(format!("{service_port}{protocol}").as_bytes());
    base32(&digest)[..16].to_string()
}

/// `KUBE-SVC-…`: the service port's cluster-traffic chain.
pub fn service_chain(service_port: &str, protocol: &str) -> String {
    format!("KUBE-SVC-{}", port_proto_hash(service_port, protocol))
}

/// `KUBE-SVL-…`: the service port's local-endpoints-only chain.
pub fn local_chain(service_port: &str, protocol: &str) -> String {
    format!("KUBE-SVL-{}", port_proto_hash(service_port, protocol))
}

/// `KUBE-EXT-…`: the service port's chain for external (NodePort, externalIP, LB) traffic.
pub fn external_chain(service_port: &str, protocol: &str) -> String {
    format!("KUBE-EXT-{}", port_proto_hash(service_port, protocol))
}

/// `KUBE-SEP-…`: one endpoint (`ip:port`) of a service port.
pub fn endpoint_chain(service_port: &str, protocol: &str, endpoint: &str) -> String {
    let digest = Sha256::digest(format!("{service_port}{protocol}{endpoint}").as_bytes());
    format!("KUBE-SEP-{}", &base32(&digest)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY======");
        assert_eq!(base32(b"fo"), "MZXQ====");
        assert_eq!(base32(b"foo"), "MZXW6===");
        assert_eq!(base32(b"foob"), "MZXW6YQ=");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI======");
    }

    #[test]
    fn chain_names_are_upstreams() {
        // Upstream proxier_test.go: servicePortChainName("ns1/svc1:p80", "tcp").
        assert_eq!(
            service_chain("ns1/svc1:p80", "tcp"),
            "KUBE-SVC-XPGD46QRK7WJZT7O"
        );
        assert_eq!(
            external_chain("ns1/svc1:p80", "tcp"),
            "KUBE-EXT-XPGD46QRK7WJZT7O"
        );
        assert_eq!(
            endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80"),
            "KUBE-SEP-SXIVWICOYRO3J4NJ"
        );
        assert!(service_chain("default/kubernetes:https", "tcp").len() <= 28);
    }
}
