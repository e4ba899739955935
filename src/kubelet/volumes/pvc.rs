//! persistentVolumeClaim volumes: the claim's bound PersistentVolume (`hostPath` or `local`),
//! provisioned on first use by the local-path provisioner when the claim is Pending and of its
//! class. A missing or unbound claim fails the mount (the pod waits).

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::{Api, Client};

use crate::kubelet::local_path::LocalPath;

/// The host path of claim `name` in `ns` (provisioning it through `local` if possible).
pub async fn resolve(
    client: &Client,
    local: Option<&LocalPath>,
    ns: &str,
    name: &str,
) -> Result<PathBuf, String> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let pvc = claims
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("persistentvolumeclaim {name:?} not found"))?;
    let phase = pvc.status.as_ref().and_then(|s| s.phase.clone());
    let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
    let pv_name = match (phase.as_deref(), volume) {
        (Some("Bound"), Some(v)) if !v.is_empty() => v,
        _ => match local {
            Some(l) if LocalPath::wants(&pvc) => l.provision(&pvc).await?,
            _ => {
                return Err(format!(
                    "PVC {ns}/{name} is not bound (phase {:?})",
                    phase.unwrap_or_default()
                ))
            }
        },
    };
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pv = pvs
        .get_opt(&pv_name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("persistentvolume {pv_name:?} not found"))?;
    let spec = pv.spec.unwrap_or_default();
    let path = spec
        .host_path
        .map(|h| h.path)
        .or(spec.local.map(|l| l.path))
        .ok_or_else(|| {
            format!("persistentvolume {pv_name:?}: only hostPath and local volumes can be mounted")
        })?;
    let path = PathBuf::from(path);
    if !path.exists() {
        std::fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    }
    Ok(path)
}
