//! A container's `volumeMounts` as Docker mounts: bind mounts of the prepared host
//! directories (or files, through `subPath`/`subPathExpr`), read-only when asked and always
//! for API data volumes (configMap, secret, downwardAPI, projected) as upstream, with the
//! mount propagation mapped to Docker's (`HostToContainer` → rslave, `Bidirectional` → rshared).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use bollard::models::{
    Mount, MountBindOptions, MountBindOptionsPropagationEnum, MountTmpfsOptions, MountType,
};
use k8s_openapi::api::core::v1::Container;

use crate::kubelet::env::expand;

/// Where a volume's content is on the host.
#[derive(Clone, Debug, PartialEq)]
pub enum Backing {
    /// A host directory (or, for hostPath, any host path) bind-mounted into containers.
    Path(PathBuf),
    /// A Docker tmpfs mount of its own in every container (memory emptyDir without mount
    /// rights).
    Tmpfs {
        /// Size limit in bytes.
        size: Option<i64>,
    },
}

/// One prepared volume of a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodVolume {
    /// Where its content is.
    pub backing: Backing,
    /// Always mounted read-only (API data volumes).
    pub read_only: bool,
}

/// The pod's volumes by name.
pub type PodVolumes = HashMap<String, PodVolume>;

/// The Docker mounts for `c`'s `volumeMounts`; `env` expands `subPathExpr`.
pub fn mounts(
    c: &Container,
    volumes: &PodVolumes,
    env: &[(String, String)],
) -> Result<Vec<Mount>, String> {
    let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut out = Vec::new();
    for vm in c.volume_mounts.iter().flatten() {
        let vol = volumes.get(&vm.name).ok_or_else(|| {
            format!(
                "cannot find volume {:?} to mount into container {:?}",
                vm.name, c.name
            )
        })?;
        let read_only = vm.read_only == Some(true) || vol.read_only;
        let sub = match (&vm.sub_path, &vm.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => s.clone(),
            (_, Some(e)) if !e.is_empty() => expand(e, &vars),
            _ => String::new(),
        };
        let mut mount = Mount {
            target: Some(vm.mount_path.clone()),
            read_only: Some(read_only),
            ..Default::default()
        };
        match &vol.backing {
            Backing::Path(base) => {
                let source = if sub.is_empty() {
                    base.clone()
                } else {
                    sub_path(base, &sub)?
                };
                mount.typ = Some(MountType::BIND);
                mount.source = Some(source.to_string_lossy().into_owned());
                let propagation = match vm.mount_propagation.as_deref() {
                    Some("HostToContainer") => Some(MountBindOptionsPropagationEnum::RSLAVE),
                    Some("Bidirectional") => Some(MountBindOptionsPropagationEnum::RSHARED),
                    _ => None,
                };
                if propagation.is_some() {
                    mount.bind_options = Some(MountBindOptions {
                        propagation,
                        ..Default::default()
                    });
                }
            }
            Backing::Tmpfs { size } => {
                mount.typ = Some(MountType::TMPFS);
                mount.tmpfs_options = Some(MountTmpfsOptions {
                    size_bytes: *size,
                    mode: Some(0o1777),
                    ..Default::default()
                });
            }
        }
        out.push(mount);
    }
    Ok(out)
}

/// The host path of `sub` inside volume `base`: refused if it leaves the volume (`..`, an
/// absolute path, or a symlink pointing out); a missing directory is created, as upstream.
pub fn sub_path(base: &Path, sub: &str) -> Result<PathBuf, String> {
    let rel = Path::new(sub);
    if rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "subPath {sub:?} must be a relative path without '..'"
        ));
    }
    let path = base.join(rel);
    if std::fs::symlink_metadata(&path).is_err() {
        std::fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    }
    let real = path.canonicalize().map_err(|e| e.to_string())?;
    let real_base = base.canonicalize().map_err(|e| e.to_string())?;
    if !real.starts_with(&real_base) {
        return Err(format!(
            "subpath {:?} not within volume path {:?}",
            real.display().to_string(),
            real_base.display().to_string()
        ));
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_read_only_sub_paths_and_tmpfs() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("cfg");
        std::fs::create_dir_all(base.join("..data")).unwrap();
        std::fs::write(base.join("..data/key"), "v").unwrap();
        std::os::unix::fs::symlink("..data/key", base.join("key")).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let volumes = PodVolumes::from([
            (
                "cfg".to_string(),
                PodVolume {
                    backing: Backing::Path(base.clone()),
                    read_only: true,
                },
            ),
            (
                "data".to_string(),
                PodVolume {
                    backing: Backing::Path(data.clone()),
                    read_only: false,
                },
            ),
            (
                "mem".to_string(),
                PodVolume {
                    backing: Backing::Tmpfs { size: Some(1024) },
                    read_only: false,
                },
            ),
        ]);
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "volumeMounts": [
                {"name": "cfg", "mountPath": "/etc/cfg"},
                {"name": "cfg", "mountPath": "/etc/one", "subPath": "key"},
                {"name": "data", "mountPath": "/data", "subPathExpr": "$(POD)/logs", "readOnly": true},
                {"name": "data", "mountPath": "/shared", "mountPropagation": "HostToContainer"},
                {"name": "mem", "mountPath": "/mem"},
            ],
        }))
        .unwrap();
        let env = [("POD".to_string(), "p1".to_string())];
        let m = mounts(&c, &volumes, &env).unwrap();
        assert_eq!(m[0].source.as_deref(), Some(base.to_str().unwrap()));
        assert_eq!(m[0].read_only, Some(true), "API data volumes are read-only");
        let real_key = base.join("..data/key").canonicalize().unwrap();
        assert_eq!(m[1].source.as_deref(), Some(real_key.to_str().unwrap()));
        let logs = data.join("p1/logs").canonicalize().unwrap();
        assert!(logs.is_dir(), "subPath directory created");
        assert_eq!(m[2].source.as_deref(), Some(logs.to_str().unwrap()));
        assert_eq!(m[2].read_only, Some(true));
        assert_eq!(m[3].read_only, Some(false));
        assert_eq!(
            m[3].bind_options.as_ref().unwrap().propagation,
            Some(MountBindOptionsPropagationEnum::RSLAVE)
        );
        assert_eq!(m[4].typ, Some(MountType::TMPFS));
        assert_eq!(m[4].tmpfs_options.as_ref().unwrap().size_bytes, Some(1024));
    }

    #[test]
    fn sub_paths_cannot_leave_the_volume() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("v");
        std::fs::create_dir_all(&base).unwrap();
        std::os::unix::fs::symlink("/etc", base.join("out")).unwrap();
        assert!(sub_path(&base, "../x").is_err());
        assert!(sub_path(&base, "/etc").is_err());
        assert!(sub_path(&base, "out")
            .unwrap_err()
            .contains("not within volume path"));
    }
}
