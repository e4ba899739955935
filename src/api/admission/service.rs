//! Service ClusterIP and NodePort allocation from the configured ranges.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde_json::{json, Value};

use crate::api::errors::{ApiError, ApiResult};
use crate::api::store::Store;

/// An IPv4 CIDR such as `10.43.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// Network address.
    pub base: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (ip, len) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not a CIDR (a.b.c.d/n)"))?;
        let ip: Ipv4Addr = ip.parse().map_err(|e| format!("{s:?}: {e}"))?;
        let prefix: u8 = len.parse().map_err(|e| format!("{s:?}: {e}"))?;
        if !(8..=30).contains(&prefix) {
            return Err(format!("{s:?}: prefix length must be between 8 and 30"));
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Cidr {
            base: Ipv4Addr::from(u32::from(ip) & mask),
            prefix,
        })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

impl Cidr {
    /// The `n`-th address of the range (1 = first usable).
    pub fn nth(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base) + n)
    }
    /// How many addresses the range has.
    pub fn size(&self) -> u32 {
        1u32 << (32 - self.prefix)
    }
    /// True when `ip` lies in the range.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - self.prefix);
        u32::from(ip) & mask == u32::from(self.base)
    }
}

/// The lowest and highest NodePort.
pub const NODE_PORT_RANGE: (u16, u16) = (30000, 32767);

/// Allocates a new Service's ClusterIP and NodePorts (the caller holds the allocation lock until
/// the Service is stored, so that two creates cannot take the same address).
pub(super) fn allocate(cidr: Cidr, store: &Store, obj: &mut Value) -> ApiResult<()> {
    let (used_ips, used_ports) = used(store);
    let spec = obj
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::bad_request("spec is required"))?;
    let svc_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if svc_type != "ExternalName" {
        let requested = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let ip = if requested.is_empty() {
            allocate_ip(cidr, &used_ips)?
        } else if requested == "None" {
            requested
        } else {
            let parsed: Ipv4Addr = requested
                .parse()
                .map_err(|_| invalid_ip(&requested, "must be a valid IP address"))?;
            if !cidr.contains(parsed) {
                return Err(invalid_ip(&requested, &format!("failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}", cidr)));
            }
            if used_ips.contains(&requested) {
                return Err(invalid_ip(
                    &requested,
                    &format!("failed to allocate IP {requested}: provided IP is already allocated"),
                ));
            }
            requested
        };
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
        if ip != "None" || spec.get("ipFamilies").is_none() {
            spec.insert("ipFamilies".into(), json!(["IPv4"]));
            spec.insert("ipFamilyPolicy".into(), json!("SingleStack"));
        }
    }
    if svc_type == "NodePort" || svc_type == "LoadBalancer" {
        let mut taken = used_ports;
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for p in ports {
                let np = p.get("nodePort").and_then(Value::as_u64).unwrap_or(0) as u16;
                if np == 0 {
                    let port = (NODE_PORT_RANGE.0..=NODE_PORT_RANGE.1)
                        .find(|n| !taken.contains(n))
                        .ok_or_else(|| ApiError::internal("range for NodePorts is full"))?;
                    taken.insert(port);
                    p["nodePort"] = json!(port);
                } else if taken.contains(&np) {
                    return Err(ApiError::invalid("", "Service", "", format!("Service is invalid: spec.ports[0].nodePort: Invalid value: {np}: provided port is already allocated"), vec![]));
                } else {
                    taken.insert(np);
                }
            }
        }
    }
    Ok(())
}

/// Size of the range's lower band kept for requested ClusterIPs (upstream's
/// `calculateRangeOffset`, KEP-3070): a sixteenth of the range, at least 16 and at most 256
/// addresses, so that e.g. the DNS Service's `--cluster-dns` (10.43.0.10) is not handed to a
/// Service created before it.
pub fn static_band(cidr: Cidr) -> u32 {
    let size = cidr.size();
    if size < 16 {
        return 0;
    }
    (size / 16).clamp(16, 256)
}

/// A free address: at random from the upper (dynamic) band first, then from the lower one.
fn allocate_ip(cidr: Cidr, used: &HashSet<String>) -> ApiResult<String> {
    use rand::Rng;
    let size = cidr.size();
    // Usable offsets are 2 ..= size - 2 (1 is the `kubernetes` Service's, the last broadcast).
    let band = static_band(cidr).clamp(1, size - 3);
    let ranges = [(band + 1, size - 2), (2, band)];
    for (lo, hi) in ranges {
        if lo > hi {
            continue;
        }
        let len = hi - lo + 1;
        let start = rand::rng().random_range(0..len);
        for i in 0..len {
            let ip = cidr.nth(lo + (start + i) % len).to_string();
            if !used.contains(&ip) {
                return Ok(ip);
            }
        }
    }
    Err(ApiError::internal(
        "range is full: no ClusterIP left to allocate",
    ))
}

fn invalid_ip(ip: &str, detail: &str) -> ApiError {
    let message = format!(
        "Service is invalid: spec.clusterIPs: Invalid value: []string{{\"{ip}\"}}: {detail}"
    );
    ApiError::invalid(
        "",
        "Service",
        "",
        message,
        vec![crate::api::errors::Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: []string{{\"{ip}\"}}: {detail}"),
            field: "spec.clusterIPs".into(),
        }],
    )
}

fn used(store: &Store) -> (HashSet<String>, HashSet<u16>) {
    let snap = store.cache.snapshot("/registry/services/specs/", None);
    let mut ips = HashSet::new();
    let mut ports = HashSet::new();
    for svc in snap.values() {
        if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
            ips.insert(ip.to_string());
        }
        if let Some(ps) = svc.pointer("/spec/ports").and_then(Value::as_array) {
            for p in ps {
                if let Some(n) = p.get("nodePort").and_then(Value::as_u64) {
                    ports.insert(n as u16);
                }
            }
        }
    }
    (ips, ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_ips_avoid_the_static_band() {
        let cidr: Cidr = "10.43.0.0/16".parse().expect("cidr");
        assert_eq!(static_band(cidr), 256);
        let used = HashSet::new();
        for _ in 0..200 {
            let ip: Ipv4Addr = allocate_ip(cidr, &used).expect("ip").parse().expect("v4");
            assert!(u32::from(ip) - u32::from(cidr.base) > 256, "{ip}");
        }
        let small: Cidr = "10.96.0.0/28".parse().expect("cidr");
        assert_eq!(static_band(small), 16);
        // Only the lower band is left: it is used.
        let ip = allocate_ip(small, &used).expect("ip");
        assert!(small.contains(ip.parse().expect("v4")));
    }
}
