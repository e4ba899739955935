//! The Docker side of the kubelet: the connection (`DOCKER_HOST` or the local socket), the pod
//! network, images, and finding the containers the kubelet made (by their labels).

use std::collections::HashMap;

use bollard::models::{ContainerSummary, Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures::StreamExt;

use super::{KubeletError, CLUSTER_LABEL, MANAGED_LABEL, POD_UID_LABEL};

/// How to start Docker, for messages when it cannot be reached.
pub const START_DOCKER_HINT: &str =
    "start Docker (`systemctl start docker`, or `dockerd &`; `apt-get install docker.io` if it is missing)";

/// A handle on Docker (cheap to clone). Connecting never fails: an unreachable daemon shows up
/// as errors of the calls (and the node as NotReady).
#[derive(Clone)]
pub struct Runtime {
    docker: Option<Docker>,
    connect_error: Option<String>,
}

impl Runtime {
    /// Connects to `DOCKER_HOST` or `/var/run/docker.sock`.
    pub fn connect() -> Runtime {
        match Docker::connect_with_local_defaults() {
            Ok(d) => Runtime {
                docker: Some(d),
                connect_error: None,
            },
            Err(e) => Runtime {
                docker: None,
                connect_error: Some(e.to_string()),
            },
        }
    }

    /// The client.
    pub fn docker(&self) -> Result<&Docker, KubeletError> {
        self.docker.as_ref().ok_or_else(|| {
            KubeletError::Unsupported(format!(
                "cannot connect to Docker: {}",
                self.connect_error.as_deref().unwrap_or("unknown error")
            ))
        })
    }

    /// Docker's version (e.g. `28.2.2`), or why Docker is not usable.
    pub async fn version(&self) -> Result<String, String> {
        let docker = self.docker().map_err(|e| e.to_string())?;
        match docker.version().await {
            Ok(v) => Ok(v.version.unwrap_or_else(|| "unknown".to_string())),
            Err(e) => Err(format!("cannot reach Docker: {e}")),
        }
    }

    /// Makes sure the bridge network `name` for `cidr` exists (labelled as managed).
    pub async fn ensure_network(&self, name: &str, cidr: &str) -> Result<(), KubeletError> {
        let docker = self.docker()?;
        let filters = HashMap::from([("name", vec![name])]);
        let existing = docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        if existing.iter().any(|n| n.name.as_deref() == Some(name)) {
            return Ok(());
        }
        let gateway = gateway_of(cidr).ok_or_else(|| {
            KubeletError::Unsupported(format!("pod CIDR {cidr} is not an IPv4 network"))
        })?;
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(cidr.to_string()),
                    gateway: Some(gateway),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(HashMap::from([(
                MANAGED_LABEL.to_string(),
                "true".to_string(),
            )])),
            ..Default::default()
        };
        match docker.create_network(request).await {
            Ok(_) => {
                tracing::info!(network = name, cidr, "kubelet: created the pod network");
                Ok(())
            }
            // Created meanwhile by another kubelet on this Docker.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The containers of this cluster (`cluster`), running or not; only those of one pod if
    /// `pod_uid` is given.
    pub async fn containers(
        &self,
        cluster: &str,
        pod_uid: Option<&str>,
    ) -> Result<Vec<ContainerSummary>, KubeletError> {
        let mut labels = vec![
            format!("{MANAGED_LABEL}=true"),
            format!("{CLUSTER_LABEL}={cluster}"),
        ];
        if let Some(uid) = pod_uid {
            labels.push(format!("{POD_UID_LABEL}={uid}"));
        }
        let filters = HashMap::from([("label".to_string(), labels)]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        Ok(self.docker()?.list_containers(Some(options)).await?)
    }

    /// The image's id (`sha256:…`) and repo digest (if pulled from a registry), if present.
    pub async fn image(
        &self,
        image: &str,
    ) -> Result<Option<(String, Option<String>)>, KubeletError> {
        match self.docker()?.inspect_image(image).await {
            Ok(i) => Ok(Some((
                i.id.unwrap_or_default(),
                i.repo_digests.and_then(|d| d.into_iter().next()),
            ))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Pulls `image` (no credentials).
    pub async fn pull(&self, image: &str) -> Result<(), KubeletError> {
        let (name, tag) = split_tag(image);
        let options = CreateImageOptionsBuilder::default()
            .from_image(name)
            .tag(tag)
            .build();
        let mut progress = self.docker()?.create_image(Some(options), None, None);
        while let Some(step) = progress.next().await {
            step?;
        }
        Ok(())
    }

    /// Stops `id` (SIGTERM, SIGKILL after `grace` seconds) and removes it; a container already
    /// gone is fine.
    pub async fn stop_and_remove(&self, id: &str, grace: i64) -> Result<(), KubeletError> {
        self.stop(id, grace).await?;
        self.remove(id).await
    }

    /// Stops `id` (SIGTERM, SIGKILL after `grace` seconds), keeping it (and its logs); a
    /// container already stopped or gone is fine.
    pub async fn stop(&self, id: &str, grace: i64) -> Result<(), KubeletError> {
        let docker = self.docker()?;
        let stop = StopContainerOptionsBuilder::default()
            .t(grace.clamp(0, i32::MAX as i64) as i32)
            .build();
        match docker.stop_container(id, Some(stop)).await {
            Ok(()) => {}
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// Removes `id` at once (killing it if it runs); a container already gone is fine.
    pub async fn remove(&self, id: &str) -> Result<(), KubeletError> {
        let options = RemoveContainerOptionsBuilder::default().force(true).build();
        match self.docker()?.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404 | 409,
                ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// `busybox:1.35` → (`busybox`, `1.35`); no tag → `latest`; digests stay in the name.
pub fn split_tag(image: &str) -> (&str, &str) {
    if image.contains('@') {
        return (image, "");
    }
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (image, "latest"),
    }
}

/// The first host address of an IPv4 CIDR (the bridge's gateway), e.g. `10.42.0.1`.
pub fn gateway_of(cidr: &str) -> Option<String> {
    let (net, _) = crate::controllers::nodes::simulator::parse_cidr(cidr)?;
    Some(std::net::Ipv4Addr::from(net + 1).to_string())
}

/// The Docker network name for a pod CIDR: `skiff-10.42.0.0-24`.
pub fn network_name(cidr: &str) -> String {
    format!("skiff-{}", cidr.replace('/', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_networks() {
        assert_eq!(split_tag("busybox:1.35"), ("busybox", "1.35"));
        assert_eq!(split_tag("busybox"), ("busybox", "latest"));
        assert_eq!(
            split_tag("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(gateway_of("10.42.3.0/24").as_deref(), Some("10.42.3.1"));
        assert_eq!(network_name("10.42.0.0/24"), "skiff-10.42.0.0-24");
    }
}
