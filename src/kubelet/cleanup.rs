//! `skiff server --cleanup`: removes what the kubelet of a data dir made on this host — every
//! Docker container of its cluster (found by the cluster id the kubelet records in
//! `<data-dir>/kubelet/cluster-id`), the memory volumes mounted under the data dir, and the pod
//! networks no container uses any more. Other clusters on the same Docker are left alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::ListNetworksOptionsBuilder;

use super::runtime::Runtime;
use super::{KubeletError, MANAGED_LABEL};

/// What a cleanup removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: Vec<String>,
}

/// The file that records the cluster id of a data dir's kubelet.
pub fn cluster_id_file(data_dir: &Path) -> PathBuf {
    data_dir.join("kubelet").join("cluster-id")
}

/// Records `cluster` as the cluster id of the kubelet of `data_dir`.
pub fn record_cluster_id(data_dir: &Path, cluster: &str) -> std::io::Result<()> {
    let file = cluster_id_file(data_dir);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(file, cluster)
}

/// Removes the containers, mounts and unused pod networks of the kubelet of `data_dir`.
pub async fn remove_all(data_dir: &Path) -> Result<Removed, KubeletError> {
    let mut removed = Removed::default();
    let data_dir = std::fs::canonicalize(data_dir).unwrap_or_else(|_| data_dir.to_path_buf());
    let Ok(cluster) = std::fs::read_to_string(cluster_id_file(&data_dir)) else {
        super::volumes::emptydir::unmount_all_under(&data_dir.join("kubelet"));
        return Ok(removed);
    };
    let cluster = cluster.trim();
    let runtime = Runtime::connect();
    for c in runtime.containers(cluster, None).await? {
        if let Some(id) = c.id {
            runtime.remove(&id).await?;
            removed.containers += 1;
        }
    }
    super::volumes::emptydir::unmount_all_under(&data_dir.join("kubelet"));
    let docker = runtime.docker()?;
    let filters = HashMap::from([("label", vec![format!("{MANAGED_LABEL}=true")])]);
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await?;
    for n in networks {
        let Some(name) = n.name else { continue };
        let detail = docker.inspect_network(&name, None).await?;
        if detail.containers.is_some_and(|c| !c.is_empty()) {
            continue;
        }
        match docker.remove_network(&name).await {
            Ok(()) => removed.networks.push(name),
            // In use by a container started meanwhile, or removed by another cleanup.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 403 | 404 | 409,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(removed)
}
