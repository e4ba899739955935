//! Hairpin mode on the pod bridge, as the kubelet's `hairpin-veth` mode: a pod reaching its own
//! Service is DNAT-ed back to itself, and the bridge must send the packet out of the port it came
//! in on. Docker names a network's bridge `br-<first 12 characters of its id>`; every port of it
//! gets `hairpin_mode` 1 when a sandbox joins.

use std::path::{Path, PathBuf};

/// The Linux bridge of the Docker network with id `network_id`.
pub fn bridge_name(network_id: &str) -> Option<String> {
    let short = network_id.get(..12)?;
    short
        .chars()
        .all(|c| c.is_ascii_hexdigit())
        .then(|| format!("br-{short}"))
}

/// The `hairpin_mode` files of the bridge's ports under `sys` (`/sys` on a host).
pub fn hairpin_files(sys: &Path, bridge: &str) -> Vec<PathBuf> {
    let dir = sys.join("class/net").join(bridge).join("brif");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path().join("hairpin_mode"))
        .collect();
    files.sort();
    files
}

/// Turns hairpin mode on for every port of the network's bridge; returns how many ports were
/// switched on (ports already on are left alone).
pub fn enable(network_id: &str) -> usize {
    let Some(bridge) = bridge_name(network_id) else {
        return 0;
    };
    let mut changed = 0;
    for file in hairpin_files(Path::new("/sys"), &bridge) {
        if std::fs::read_to_string(&file).is_ok_and(|v| v.trim() == "1") {
            continue;
        }
        match std::fs::write(&file, "1") {
            Ok(()) => changed += 1,
            Err(e) => tracing::debug!(file = %file.display(), error = %e, "kubelet: hairpin mode"),
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names_as_docker_makes_them() {
        assert_eq!(
            bridge_name("3f2a9c0d1e4b5a6978877665544332211").as_deref(),
            Some("br-3f2a9c0d1e4b")
        );
        assert_eq!(bridge_name("short"), None);
        assert_eq!(bridge_name("zzzzzzzzzzzzzzzz"), None);
    }

    #[test]
    fn hairpin_files_of_each_port() {
        let dir = tempfile::tempdir().expect("tempdir");
        for port in ["veth1", "veth0"] {
            let p = dir.path().join("class/net/br-0123456789ab/brif").join(port);
            std::fs::create_dir_all(&p).expect("mkdir");
        }
        let files = hairpin_files(dir.path(), "br-0123456789ab");
        assert_eq!(files.len(), 2);
        assert!(files[0].ends_with("veth0/hairpin_mode"));
        assert!(hairpin_files(dir.path(), "br-missing").is_empty());
    }
}
