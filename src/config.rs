//! Command-line configuration of `skiff server`, with k3s flag names.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Args;

use crate::api::admission::Cidr;

/// Flags of `skiff server`.
#[derive(Args, Clone, Debug)]
pub struct ServerConfig {
    /// Folder that holds state (database, certificates, kubeconfig).
    /// Default: /var/lib/skiff as root, else $HOME/.local/share/skiff.
    #[arg(long, env = "SKIFF_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTPS port of the API server.
    #[arg(long, default_value_t = 6443)]
    pub https_listen_port: u16,
    /// Address the API server listens on.
    #[arg(long, default_value = "0.0.0.0")]
    pub bind_address: IpAddr,
    /// Where to write the admin kubeconfig. Default: <data-dir>/kubeconfig.yaml.
    #[arg(long, short = 'o')]
    pub write_kubeconfig: Option<PathBuf>,
    /// Storage: empty for embedded SQLite, or etcd endpoints `http://host:2379[,…]`.
    #[arg(long, default_value = "", env = "SKIFF_DATASTORE_ENDPOINT")]
    pub datastore_endpoint: String,
    /// Range of Service ClusterIPs.
    #[arg(long, default_value = "10.43.0.0/16")]
    pub service_cidr: Cidr,
    /// Range of Pod IPs.
    #[arg(long, default_value = "10.42.0.0/16")]
    pub cluster_cidr: Cidr,
    /// ClusterIP of the cluster DNS Service.
    #[arg(long, default_value = "10.43.0.10")]
    pub cluster_dns: IpAddr,
    /// Port of the cluster DNS server on this host (UDP and TCP); the `kube-dns` Service's
    /// EndpointSlice sends `<cluster-dns>:53` here.
    #[arg(long, default_value_t = 53)]
    pub cluster_dns_port: u16,
    /// Resolver configuration naming the upstream DNS servers (for names outside the cluster,
    /// and pods with `dnsPolicy: Default`); loopback servers are replaced by systemd-resolved's
    /// upstream list when there is one.
    #[arg(long, default_value = "/etc/resolv.conf")]
    pub resolv_conf: PathBuf,
    /// Cluster domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Components not to start (e.g. `coredns`, `servicelb`).
    #[arg(long)]
    pub disable: Vec<String>,
    /// How often storage history is compacted (as kube-apiserver's flag; `0s` disables), e.g. `5m`.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub etcd_compaction_interval: std::time::Duration,
    /// Number of simulated nodes to register (`sim-node-0` …); Nodes created later with the
    /// annotation `skiff.dev/simulated: "true"` are simulated too.
    #[arg(long, default_value_t = 0)]
    pub simulated_nodes: u32,
    /// CPU capacity of each simulated node.
    #[arg(long, default_value = "32")]
    pub simulated_node_cpu: String,
    /// Memory capacity of each simulated node.
    #[arg(long, default_value = "256Gi")]
    pub simulated_node_memory: String,
    /// Pod capacity of each simulated node.
    #[arg(long, default_value_t = 110)]
    pub simulated_node_pods: u32,
    /// Size of the pod CIDR given to each simulated node, carved from `--cluster-cidr`.
    #[arg(long, default_value_t = 24)]
    pub node_cidr_mask_size: u8,
    /// How long a node may go without renewing its Lease before it is marked Unknown.
    #[arg(long, default_value = "40s", value_parser = parse_duration, hide = true)]
    pub node_monitor_grace_period: std::time::Duration,
    /// Terminated pods kept before the oldest are deleted (`0` disables).
    #[arg(long, default_value_t = 12500)]
    pub terminated_pod_gc_threshold: i64,
    /// Remove what this data dir's server made on the host (its Docker containers, mounts,
    /// unused pod networks, kube-proxy's iptables chains and jump rules) and exit, without
    /// starting the server.
    #[arg(long)]
    pub cleanup: bool,
    /// Minimum time between two kube-proxy syncs (as kube-proxy's `--iptables-min-sync-period`).
    #[arg(long, default_value = "1s", value_parser = parse_duration, hide = true)]
    pub proxy_min_sync_period: std::time::Duration,
    /// Shared secret for joining agents (not used yet).
    #[arg(long, env = "SKIFF_TOKEN")]
    pub token: Option<String>,
}

impl ServerConfig {
    /// The data directory, with the k3s defaults.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        // SAFETY-free check: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if root {
            PathBuf::from("/var/lib/skiff")
        } else {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".local/share/skiff")
        }
    }

    /// Where the kubeconfig is written.
    pub fn kubeconfig_path(&self) -> PathBuf {
        self.write_kubeconfig
            .clone()
            .unwrap_or_else(|| self.data_dir().join("kubeconfig.yaml"))
    }
}

impl ServerConfig {
    /// A configuration with defaults and the given data directory (for `skiff kubectl`).
    pub fn parse_from_data_dir(data_dir: Option<PathBuf>) -> ServerConfig {
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            cfg: ServerConfig,
        }
        let mut cfg = <Wrapper as clap::Parser>::parse_from(["skiff"]).cfg;
        cfg.data_dir = data_dir.or(cfg.data_dir);
        cfg
    }
}

/// Parses durations such as `300ms`, `10s`, `5m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}
