//! The local-path provisioner (k3s' `local-storage`, `--disable local-storage` turns it off):
//! the default StorageClass `local-path` (`rancher.io/local-path`, WaitForFirstConsumer,
//! reclaim Delete) and, when a pod on this node uses a Pending claim of that class, a hostPath
//! PersistentVolume under `<data-dir>/storage/pvc-<uid>_<ns>_<name>` bound to the claim (PV and
//! claim Bound, node affinity to this node). PVs whose claim is gone are deleted with their
//! directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// Name of the StorageClass.
pub const CLASS: &str = "local-path";
/// Its provisioner.
pub const PROVISIONER: &str = "rancher.io/local-path";
/// Name of the component for `--disable`.
pub const DISABLE_NAME: &str = "local-storage";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

/// Provisions local-path volumes on this node.
pub struct LocalPath {
    client: Client,
    root: PathBuf,
    node: String,
}

impl LocalPath {
    /// A provisioner keeping volumes under `<data_dir>/storage` for node `node`.
    pub fn new(client: Client, data_dir: &Path, node: &str) -> LocalPath {
        LocalPath {
            client,
            root: data_dir.join("storage"),
            node: node.to_string(),
        }
    }

    /// Creates the default StorageClass if it does not exist.
    pub async fn ensure_class(&self) -> Result<(), kube::Error> {
        let api: Api<StorageClass> = Api::all(self.client.clone());
        if api.get_opt(CLASS).await?.is_some() {
            return Ok(());
        }
        let class: StorageClass = serde_json::from_value(json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": CLASS, "annotations": {
                "storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer",
        }))
        .map_err(kube::Error::SerdeError)?;
        match api.create(&PostParams::default(), &class).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether claim `pvc` is ours to provision (class `local-path`, or none given: the
    /// default class).
    pub fn wants(pvc: &PersistentVolumeClaim) -> bool {
        let class = pvc
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref());
        matches!(class, None | Some(CLASS))
    }

    /// Provisions a volume for Pending claim `pvc` and binds it; returns the PV's name.
    pub async fn provision(&self, pvc: &PersistentVolumeClaim) -> Result<String, String> {
        let meta = &pvc.metadata;
        let (ns, name) = (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        let uid = meta.uid.clone().unwrap_or_default();
        let pv_name = format!("pvc-{uid}");
        let path = self.root.join(format!("{pv_name}_{ns}_{name}"));
        std::fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| e.to_string())?;
        let spec = pvc.spec.clone().unwrap_or_default();
        let size = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage"))
            .map(|q| q.0.clone())
            .unwrap_or_else(|| "1Gi".to_string());
        let access = spec
            .access_modes
            .clone()
            .unwrap_or_else(|| vec!["ReadWriteOnce".to_string()]);
        let pv: PersistentVolume = serde_json::from_value(json!({
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {
                PROVISIONED_BY: PROVISIONER, SELECTED_NODE: self.node}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": access,
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": CLASS,
                "volumeMode": "Filesystem",
                "hostPath": {"path": path.to_string_lossy(), "type": "DirectoryOrCreate"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [self.node]}]}]}},
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "namespace": ns, "name": name, "uid": uid},
            },
        }))
        .map_err(|e| e.to_string())?;
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        match pvs.create(&PostParams::default(), &pv).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(format!("provisioning failed: {e}")),
        }
        let bound = json!({"status": {"phase": "Bound"}});
        pvs.patch_status(&pv_name, &PatchParams::default(), &Patch::Merge(&bound))
            .await
            .map_err(|e| e.to_string())?;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &ns);
        let claim_patch = json!({
            "metadata": {"annotations": {
                "pv.kubernetes.io/bind-completed": "yes",
                "pv.kubernetes.io/bound-by-controller": "yes",
                "volume.kubernetes.io/storage-provisioner": PROVISIONER,
                SELECTED_NODE: self.node}},
            "spec": {"volumeName": pv_name, "storageClassName": CLASS},
        });
        claims
            .patch(&name, &PatchParams::default(), &Patch::Merge(&claim_patch))
            .await
            .map_err(|e| e.to_string())?;
        let status = json!({"status": {"phase": "Bound", "accessModes": access,
            "capacity": {"storage": size}}});
        claims
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|e| e.to_string())?;
        tracing::info!(claim = %format!("{ns}/{name}"), volume = %pv_name, path = %path.display(), "kubelet: provisioned a local-path volume");
        Ok(pv_name)
    }

    /// Deletes the volumes this node provisioned whose claim no longer exists, with their
    /// directories.
    pub async fn reclaim(&self) -> Result<(), kube::Error> {
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        for pv in pvs.list(&ListParams::default()).await? {
            let ann: BTreeMap<String, String> = pv.metadata.annotations.clone().unwrap_or_default();
            if ann.get(PROVISIONED_BY).map(String::as_str) != Some(PROVISIONER)
                || ann.get(SELECTED_NODE) != Some(&self.node)
            {
                continue;
            }
            let spec = pv.spec.clone().unwrap_or_default();
            let Some(claim) = spec.claim_ref else {
                continue;
            };
            let claims: Api<PersistentVolumeClaim> = Api::namespaced(
                self.client.clone(),
                claim.namespace.as_deref().unwrap_or("default"),
            );
            let current = claims
                .get_opt(claim.name.as_deref().unwrap_or_default())
                .await?;
            if current.is_some_and(|c| c.metadata.uid == claim.uid) {
                continue;
            }
            let name = pv.metadata.name.clone().unwrap_or_default();
            if let Some(path) = spec.host_path.map(|h| PathBuf::from(h.path)) {
                if path.starts_with(&self.root) {
                    if let Err(e) = std::fs::remove_dir_all(&path) {
                        tracing::warn!(path = %path.display(), error = %e, "kubelet: cannot remove a released volume");
                    }
                }
            }
            match pvs.delete(&name, &Default::default()).await {
                Ok(_) => {
                    tracing::info!(volume = %name, "kubelet: deleted a released local-path volume")
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
