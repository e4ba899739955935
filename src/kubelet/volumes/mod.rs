//! Pod volumes on the host, under `<data-dir>/kubelet/pods/<uid>/volumes/<kind>/<name>` (kinds
//! named as upstream: `kubernetes.io~empty-dir`, `~configmap`, `~secret`, `~downward-api`,
//! `~projected`), bind-mounted into containers per `volumeMounts` ([`mounts`]).
//!
//! [`VolumeManager::sync`] prepares every volume of a pod before its containers start (a
//! failure is a `FailedMount` and the pod stays `ContainerCreating`), and re-writes the API data
//! volumes (configMap, secret, downwardAPI, projected) every [`RESYNC`] through the atomic
//! writer ([`atomic`]), so updates reach running containers. [`VolumeManager::cleanup`] removes
//! a pod's directory (unmounting memory emptyDirs) when the pod is gone.
//!
//! Files: `atomic.rs` (the `..data` writer), `payload.rs` (keys/items/modes → files),
//! `configmap.rs`, `secret.rs`, `downward_api.rs`, `projected.rs`, `token.rs`
//! (TokenRequest), `emptydir.rs`, `hostpath.rs`, `pvc.rs` (claims → their PersistentVolume's
//! path, local-path provisioning), `mounts.rs` (volumeMounts → Docker mounts).

pub mod atomic;
pub mod configmap;
pub mod downward_api;
pub mod emptydir;
pub mod hostpath;
pub mod mounts;
pub mod ownership;
pub mod payload;
pub mod projected;
pub mod pvc;
pub mod secret;
pub mod token;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Volume};
use kube::Client;
use parking_lot::Mutex;

use self::mounts::{Backing, PodVolume, PodVolumes};
use super::downward::PodRuntimeInfo;
use super::local_path::LocalPath;

/// How often API data volumes are re-written from the current objects (upstream's sync
/// period is 1 min plus the cache TTL; ours is short so updates show within seconds).
pub const RESYNC: Duration = Duration::from_secs(10);

/// A volume that could not be set up (the pod waits; upstream's `FailedMount` message).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
pub struct VolumeError {
    /// The volume's name.
    pub volume: String,
    /// Why.
    pub message: String,
}

/// Prepares, refreshes and removes the volumes of this node's pods.
pub struct VolumeManager {
    client: Client,
    root: PathBuf,
    tokens: token::TokenCache,
    /// Pods whose volumes were all set up, and when.
    synced: Mutex<HashMap<String, Instant>>,
    /// The local-path provisioner (unless disabled).
    local: Option<Arc<LocalPath>>,
    /// Host paths of the pods' claims by (pod uid, volume name).
    claims: Mutex<HashMap<(String, String), PathBuf>>,
}

impl VolumeManager {
    /// A manager keeping pod directories under `<data_dir>/kubelet/pods`, provisioning
    /// claims through `local` (if given).
    pub fn new(client: Client, data_dir: &Path, local: Option<Arc<LocalPath>>) -> VolumeManager {
        VolumeManager {
            client,
            root: data_dir.join("kubelet").join("pods"),
            tokens: Default::default(),
            synced: Default::default(),
            local,
            claims: Default::default(),
        }
    }

    /// Deletes the provisioned volumes whose claims are gone.
    pub async fn reclaim(&self) {
        if let Some(local) = &self.local {
            if let Err(e) = local.reclaim().await {
                tracing::debug!(error = %e, "kubelet: reclaiming local-path volumes failed");
            }
        }
    }

    /// The directory of pod `uid`.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.join(uid)
    }

    /// Sets up (or refreshes, when due) every volume of `pod`; returns where each is.
    pub async fn sync(&self, pod: &Pod, info: &PodRuntimeInfo) -> Result<PodVolumes, VolumeError> {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let due = self
            .synced
            .lock()
            .get(&uid)
            .is_none_or(|at| at.elapsed() >= RESYNC);
        let mut out = PodVolumes::new();
        for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            let prepared = self
                .prepare(pod, &uid, v, info, due)
                .await
                .map_err(|message| VolumeError {
                    volume: v.name.clone(),
                    message,
                })?;
            out.insert(v.name.clone(), prepared);
        }
        if due {
            self.synced.lock().insert(uid, Instant::now());
        }
        Ok(out)
    }

    /// Where the volumes of `pod` are, without fetching or writing anything (for a running pod
    /// whose refresh failed: its containers keep the content they have).
    pub async fn paths(&self, pod: &Pod, info: &PodRuntimeInfo) -> PodVolumes {
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let mut out = PodVolumes::new();
        for v in pod.spec.iter().flat_map(|s| s.volumes.iter().flatten()) {
            if let Ok(p) = self.prepare(pod, &uid, v, info, false).await {
                out.insert(v.name.clone(), p);
            }
        }
        out
    }

    async fn prepare(
        &self,
        pod: &Pod,
        uid: &str,
        v: &Volume,
        info: &PodRuntimeInfo,
        write: bool,
    ) -> Result<PodVolume, String> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let dir = |kind: &str| self.pod_dir(uid).join("volumes").join(kind).join(&v.name);
        let api_data = |path: PathBuf| PodVolume {
            backing: Backing::Path(path),
            read_only: true,
        };
        if let Some(e) = &v.empty_dir {
            let path = dir("kubernetes.io~empty-dir");
            let shared = emptydir::setup(&path, e)?;
            if let Some(gid) = ownership::fs_group(pod) {
                ownership::own_empty_dir(&path, gid);
            }
            let backing = if emptydir::is_memory(e) && !shared {
                Backing::Tmpfs {
                    size: emptydir::size_limit(e),
                }
            } else {
                Backing::Path(path)
            };
            return Ok(PodVolume {
                backing,
                read_only: false,
            });
        }
        if let Some(c) = &v.persistent_volume_claim {
            let key = (uid.to_string(), v.name.clone());
            let cached = self.claims.lock().get(&key).cloned();
            let path = match cached {
                Some(p) => p,
                None => {
                    let p = pvc::resolve(&self.client, self.local.as_deref(), ns, &c.claim_name)
                        .await?;
                    self.claims.lock().insert(key, p.clone());
                    p
                }
            };
            return Ok(PodVolume {
                backing: Backing::Path(path),
                read_only: c.read_only == Some(true),
            });
        }
        if let Some(h) = &v.host_path {
            if write {
                hostpath::check(&h.path, h.type_.as_deref())?;
            }
            return Ok(PodVolume {
                backing: Backing::Path(PathBuf::from(&h.path)),
                read_only: false,
            });
        }
        let (kind, payload) = if let Some(src) = &v.config_map {
            let path = dir("kubernetes.io~configmap");
            if !write {
                return Ok(api_data(path));
            }
            (path, configmap::volume(&self.client, ns, src).await?)
        } else if let Some(src) = &v.secret {
            let path = dir("kubernetes.io~secret");
            if !write {
                return Ok(api_data(path));
            }
            (path, secret::volume(&self.client, ns, src).await?)
        } else if let Some(src) = &v.downward_api {
            let path = dir("kubernetes.io~downward-api");
            if !write {
                return Ok(api_data(path));
            }
            let items = src.items.as_deref().unwrap_or_default();
            (
                path,
                downward_api::payload(pod, items, src.default_mode, info)?,
            )
        } else if let Some(src) = &v.projected {
            let path = dir("kubernetes.io~projected");
            if !write {
                return Ok(api_data(path));
            }
            let p = projected::volume(&self.client, &self.tokens, pod, src, info).await?;
            (path, p)
        } else {
            return Err(format!(
                "volume {:?}: this kind of volume is not supported by Skiff's kubelet yet",
                v.name
            ));
        };
        let fs_group = ownership::fs_group(pod);
        let payload = ownership::payload_for(payload, fs_group);
        let changed = atomic::write(&kind, &payload).map_err(|e| e.to_string())?;
        if let (true, Some(gid)) = (changed, fs_group) {
            ownership::chown_tree(&kind, gid);
        }
        if changed {
            tracing::debug!(pod = ?pod.metadata.name, volume = %v.name, "kubelet: volume content written");
        }
        Ok(api_data(kind))
    }

    /// Removes pod `uid`'s directory (volumes, hosts file…), unmounting what is mounted there.
    pub fn cleanup(&self, uid: &str) {
        self.synced.lock().remove(uid);
        self.claims.lock().retain(|(pod, _), _| pod != uid);
        let dir = self.pod_dir(uid);
        if uid.is_empty() || !dir.exists() {
            return;
        }
        emptydir::unmount_all_under(&dir);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::debug!(pod_uid = uid, "kubelet: pod directory removed"),
            Err(e) => {
                tracing::warn!(pod_uid = uid, error = %e, "kubelet: cannot remove the pod directory")
            }
        }
    }

    /// Removes the directories of pods not in `live` (uids) and forgets their tokens.
    pub fn sweep(&self, live: &HashSet<String>) {
        self.tokens.retain(live);
        self.synced.lock().retain(|uid, _| live.contains(uid));
        self.claims.lock().retain(|(uid, _), _| live.contains(uid));
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let uid = entry.file_name().to_string_lossy().into_owned();
            // A directory made in the last moments may belong to a pod this list missed.
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < RESYNC);
            if !live.contains(&uid) && !young {
                self.cleanup(&uid);
            }
        }
    }
}
