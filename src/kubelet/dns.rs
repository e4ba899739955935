//! The pod's `/etc/hosts` and `/etc/resolv.conf`, managed by the kubelet as upstream and
//! bind-mounted into every container: the hosts file with the localhost lines, the pod's IP
//! with its hostname (and `hostname.subdomain.<ns>.svc.<domain>` when `subdomain` is set) and
//! `hostAliases`; resolv.conf per `dnsPolicy` (ClusterFirst → the cluster DNS and search
//! domains with `ndots:5`, Default → the host's, None → only `dnsConfig`; hostNetwork pods use
//! the host's unless ClusterFirstWithHostNet), merged with `dnsConfig`.

use std::path::{Path, PathBuf};

use bollard::models::{Mount, MountType};
use k8s_openapi::api::core::v1::{Container, Pod};

use super::spec::host_network;

/// What the pod DNS settings come from.
#[derive(Clone, Debug)]
pub struct DnsSettings {
    /// `--cluster-dns`.
    pub cluster_dns: Vec<String>,
    /// `--cluster-domain`.
    pub cluster_domain: String,
    /// The host's resolv.conf (for Default and hostNetwork pods).
    pub host_resolv_conf: PathBuf,
    /// The host's hosts file (for hostNetwork pods).
    pub host_hosts: PathBuf,
}

/// A resolver configuration.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResolvConf {
    /// `nameserver` lines.
    pub nameservers: Vec<String>,
    /// `search` domains.
    pub searches: Vec<String>,
    /// `options` (`ndots:5`, `edns0`).
    pub options: Vec<String>,
}

/// The pod's hostname: `spec.hostname`, else the pod name cut to 63 characters (trailing `-`
/// and `.` trimmed), as upstream's `GeneratePodHostNameAndDomain`.
pub fn hostname(pod: &Pod) -> String {
    if let Some(h) = pod.spec.as_ref().and_then(|s| s.hostname.clone()) {
        if !h.is_empty() {
            return h;
        }
    }
    let name: String = pod
        .metadata
        .name
        .as_deref()
        .unwrap_or_default()
        .chars()
        .take(63)
        .collect();
    name.trim_end_matches(['-', '.']).to_string()
}

/// `subdomain.<ns>.svc.<domain>` when the pod has a subdomain.
pub fn host_domain(pod: &Pod, cluster_domain: &str) -> Option<String> {
    let sub = pod
        .spec
        .as_ref()?
        .subdomain
        .clone()
        .filter(|s| !s.is_empty())?;
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    Some(format!("{sub}.{ns}.svc.{cluster_domain}"))
}

/// The managed hosts file of a pod on the pod network.
pub fn hosts_file(pod: &Pod, pod_ips: &[String], cluster_domain: &str) -> String {
    let name = hostname(pod);
    let mut out = String::from("# Kubernetes-managed hosts file.\n");
    out.push_str("127.0.0.1\tlocalhost\n");
    out.push_str("::1\tlocalhost ip6-localhost ip6-loopback\n");
    out.push_str("fe00::0\tip6-localnet\n");
    out.push_str("fe00::0\tip6-mcastprefix\n");
    out.push_str("fe00::1\tip6-allnodes\n");
    out.push_str("fe00::2\tip6-allrouters\n");
    let domain = host_domain(pod, cluster_domain);
    for ip in pod_ips.iter().filter(|ip| !ip.is_empty()) {
        match &domain {
            Some(d) => out.push_str(&format!("{ip}\t{name}.{d}\t{name}\n")),
            None => out.push_str(&format!("{ip}\t{name}\n")),
        }
    }
    out.push_str(&host_aliases(pod));
    out
}

/// The hosts file of a hostNetwork pod: the node's, plus `hostAliases`.
pub fn host_network_hosts_file(pod: &Pod, node_hosts: &str) -> String {
    let mut out = String::from("# Kubernetes-managed hosts file (host network).\n");
    out.push_str(node_hosts);
    if !node_hosts.is_empty() && !node_hosts.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&host_aliases(pod));
    out
}

fn host_aliases(pod: &Pod) -> String {
    let aliases = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_aliases.clone())
        .unwrap_or_default();
    if aliases.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n# Entries added by HostAliases.\n");
    for a in aliases {
        let names = a.hostnames.unwrap_or_default().join("\t");
        out.push_str(&format!("{}\t{names}\n", a.ip));
    }
    out
}

/// Parses a resolv.conf (`nameserver`, `search`/`domain`, `options`).
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut out = ResolvConf::default();
    for line in text.lines() {
        let line = line.split(['#', ';']).next().unwrap_or_default();
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => out.nameservers.extend(words.next().map(str::to_string)),
            Some("search") | Some("domain") => {
                out.searches = words.map(str::to_string).collect();
            }
            Some("options") => out.options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    out
}

/// The pod's resolver configuration per its `dnsPolicy` and `dnsConfig`; `host` is the
/// node's own.
pub fn resolv_conf(pod: &Pod, dns: &DnsSettings, host: &ResolvConf) -> ResolvConf {
    let spec = pod.spec.clone().unwrap_or_default();
    let policy = spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
    let cluster = match policy {
        "ClusterFirstWithHostNet" => true,
        "ClusterFirst" => !host_network(pod),
        _ => false,
    } && !dns.cluster_dns.is_empty();
    let mut out = if policy == "None" {
        ResolvConf::default()
    } else if cluster {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let d = &dns.cluster_domain;
        let mut searches = vec![format!("{ns}.svc.{d}"), format!("svc.{d}"), d.clone()];
        for s in &host.searches {
            if !searches.contains(s) {
                searches.push(s.clone());
            }
        }
        ResolvConf {
            nameservers: dns.cluster_dns.clone(),
            searches,
            options: vec!["ndots:5".to_string()],
        }
    } else {
        host.clone()
    };
    if let Some(cfg) = &spec.dns_config {
        for n in cfg.nameservers.iter().flatten() {
            if !out.nameservers.contains(n) {
                out.nameservers.push(n.clone());
            }
        }
        for s in cfg.searches.iter().flatten() {
            if !out.searches.contains(s) {
                out.searches.push(s.clone());
            }
        }
        for o in cfg.options.iter().flatten() {
            out.options
                .retain(|x| x.split(':').next() != Some(o.name.as_deref().unwrap_or_default()));
            match &o.value {
                Some(v) => out
                    .options
                    .push(format!("{}:{v}", o.name.as_deref().unwrap_or_default())),
                None => out.options.push(o.name.clone().unwrap_or_default()),
            }
        }
    }
    // Upstream's limits: 3 nameservers, 32 search domains.
    out.nameservers.truncate(3);
    out.searches.truncate(32);
    out
}

/// resolv.conf text: `search`, `nameserver` lines, `options`, as the runtime writes it.
pub fn render_resolv_conf(r: &ResolvConf) -> String {
    let mut out = String::new();
    if !r.searches.is_empty() {
        out.push_str(&format!("search {}\n", r.searches.join(" ")));
    }
    for n in &r.nameservers {
        out.push_str(&format!("nameserver {n}\n"));
    }
    if !r.options.is_empty() {
        out.push_str(&format!("options {}\n", r.options.join(" ")));
    }
    out
}

/// Writes the pod's `etc-hosts` and `resolv.conf` into `pod_dir` (in place, so running
/// containers see changes) and returns the mounts for them.
pub fn write_files(
    pod_dir: &Path,
    pod: &Pod,
    pod_ip: &str,
    dns: &DnsSettings,
) -> Result<Vec<Mount>, String> {
    std::fs::create_dir_all(pod_dir).map_err(|e| e.to_string())?;
    let hosts = if host_network(pod) {
        let node = std::fs::read_to_string(&dns.host_hosts).unwrap_or_default();
        host_network_hosts_file(pod, &node)
    } else {
        hosts_file(pod, &[pod_ip.to_string()], &dns.cluster_domain)
    };
    let host_resolv = std::fs::read_to_string(&dns.host_resolv_conf).unwrap_or_default();
    let resolv = render_resolv_conf(&resolv_conf(pod, dns, &parse_resolv_conf(&host_resolv)));
    let mut mounts = Vec::new();
    for (file, content, target) in [
        ("etc-hosts", hosts, "/etc/hosts"),
        ("resolv.conf", resolv, "/etc/resolv.conf"),
    ] {
        let path = pod_dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            std::fs::write(&path, content).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        mounts.push(Mount {
            target: Some(target.to_string()),
            source: Some(path.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            read_only: Some(false),
            ..Default::default()
        });
    }
    Ok(mounts)
}

/// `mounts` without those whose target `c` mounts a volume at itself (as upstream, a volume
/// at `/etc/hosts` wins).
pub fn for_container(mounts: &[Mount], c: &Container) -> Vec<Mount> {
    let own: Vec<&str> = c
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| m.mount_path.as_str())
        .collect();
    mounts
        .iter()
        .filter(|m| !own.contains(&m.target.as_deref().unwrap_or_default()))
        .cloned()
        .collect()
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
