//! downwardAPI volumes (and projected downwardAPI sources): one file per item with a pod field
//! (`metadata.name`, `metadata.labels`, `metadata.annotations['x']`…) or a container's
//! resource (`limits.cpu` with a divisor…). Rewritten on every resync, so label and annotation
//! changes show up in the files as upstream.

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, Pod};

use super::atomic::Payload;
use super::payload::{file, DEFAULT_MODE};
use crate::kubelet::downward::{field_value, resource_value, PodRuntimeInfo};

/// The files of downward API `items` of `pod`.
pub fn payload(
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    default_mode: Option<i32>,
    info: &PodRuntimeInfo,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    for item in items {
        let mode = item.mode.or(default_mode).unwrap_or(DEFAULT_MODE);
        let value = if let Some(f) = &item.field_ref {
            // Only metadata fields are allowed in volumes (validation rejects the others).
            field_value(pod, &f.field_path, info)
                .ok_or_else(|| format!("unsupported fieldPath: {}", f.field_path))?
        } else if let Some(r) = &item.resource_field_ref {
            let container = r.container_name.clone().unwrap_or_default();
            resource_value(pod, &container, r, info)?
        } else {
            continue;
        };
        out.insert(item.path.clone(), file(value.as_bytes(), mode));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_names_and_resources() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "labels": {"app": "web", "tier": "db"}},
            "spec": {"containers": [{"name": "c", "image": "i",
                "resources": {"limits": {"memory": "128Mi"}}}]},
        }))
        .unwrap();
        let items: Vec<DownwardAPIVolumeFile> = serde_json::from_value(serde_json::json!([
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "meta/name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o400},
            {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        ]))
        .unwrap();
        let p = payload(&pod, &items, Some(0o644), &PodRuntimeInfo::default()).unwrap();
        assert_eq!(p["labels"].data, b"app=\"web\"\ntier=\"db\"");
        assert_eq!(p["meta/name"].data, b"p");
        assert_eq!(p["meta/name"].mode, 0o400);
        assert_eq!(p["mem"].data, b"128");
        assert_eq!(p["mem"].mode, 0o644);
    }
}
