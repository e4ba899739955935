//! What this machine is, as the kubelet reports it: node name (the hostname), InternalIP, CPUs,
//! memory, disk, kernel and OS.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// Facts about the host, detected once at start.
#[derive(Clone, Debug)]
pub struct HostInfo {
    /// The Node's name: the hostname, lower-cased (as the kubelet's `--hostname-override` default).
    pub node_name: String,
    /// The address other machines reach this one at (first non-loopback, non-Docker IPv4).
    pub ip: Ipv4Addr,
    /// Logical CPUs.
    pub cpus: u64,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
    /// Size of the file system holding the data dir, in bytes.
    pub disk_bytes: u64,
    /// `uname -r`.
    pub kernel: String,
    /// `PRETTY_NAME` of `/etc/os-release`.
    pub os_image: String,
    /// `/etc/machine-id` (or a stand-in).
    pub machine_id: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
}

impl HostInfo {
    /// Looks at this machine; `data_dir` is where the disk capacity is measured.
    pub fn detect(data_dir: &Path) -> HostInfo {
        let hostname = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string());
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        HostInfo {
            node_name: node_name(&hostname),
            ip: host_ip(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get() as u64)
                .unwrap_or(1),
            memory_bytes: mem_total(&read("/proc/meminfo")),
            disk_bytes: disk_size(data_dir),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            os_image: os_image(&read("/etc/os-release")),
            machine_id: read("/etc/machine-id").trim().to_string(),
            boot_id: read("/proc/sys/kernel/random/boot_id").trim().to_string(),
        }
    }
}

/// A hostname as a Node name: lower case, characters outside `[a-z0-9.-]` replaced by `-`.
pub fn node_name(hostname: &str) -> String {
    let name: String = hostname
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.').to_string();
    if name.is_empty() {
        "localhost".to_string()
    } else {
        name
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn mem_total(meminfo: &str) -> u64 {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .unwrap_or(0)
}

/// `PRETTY_NAME` of an os-release file.
pub fn os_image(os_release: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| "Linux".to_string())
}

fn disk_size(path: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return 0;
    };
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        // The data dir may not exist yet: measure its parent.
        return path.parent().map(disk_size).unwrap_or(0);
    }
    st.f_blocks as u64 * st.f_frsize as u64
}

/// The first IPv4 address of an interface that is not loopback, Docker's or a veth.
pub fn host_ip() -> Ipv4Addr {
    let skip = |name: &str| {
        ["docker", "br-", "veth", "cni", "flannel", "lo"]
            .iter()
            .any(|p| name.starts_with(p))
    };
    if_addrs::get_if_addrs()
        .unwrap_or_default()
        .into_iter()
        .filter(|i| !i.is_loopback() && !skip(&i.name))
        .find_map(|i| match i.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .unwrap_or(Ipv4Addr::LOCALHOST)
}

/// Quantity in Kubernetes' binary suffix form, e.g. `16303548Ki`.
pub fn kibibytes(bytes: u64) -> String {
    format!("{}Ki", bytes / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names() {
        assert_eq!(node_name("MyHost_1\n"), "myhost-1");
        assert_eq!(node_name(""), "localhost");
        assert_eq!(node_name("a.b.example"), "a.b.example");
    }

    #[test]
    fn meminfo_and_os_release() {
        assert_eq!(
            mem_total("MemTotal:       16303548 kB\nMemFree: 1 kB\n"),
            16303548 * 1024
        );
        assert_eq!(
            os_image("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert_eq!(kibibytes(2048), "2Ki");
    }
}
