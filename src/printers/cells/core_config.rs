//! Row cells for core/v1 configuration and storage: Secret, ConfigMap,
//! ServiceAccount, PersistentVolume(Claim), ResourceQuota.

use super::super::util::*;
use super::{deleting, name};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Secret row.
pub(super) fn secret(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(s(o, &["type"])),
        // StringData is merged into Data on write; count both if unmerged.
        json!(secret_data_len(o)),
        json!(age(o, now)),
    ]
}

fn secret_data_len(o: &Value) -> i64 {
    let mut n = map_len(o, &["data"]);
    if let (Some(sd), data) = (
        at(o, &["stringData"]).as_object(),
        at(o, &["data"]).as_object(),
    ) {
        n += sd
            .keys()
            .filter(|k| data.is_none_or(|d| !d.contains_key(*k)))
            .count() as i64;
    }
    n
}

/// ConfigMap row.
pub(super) fn config_map(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(map_len(o, &["data"]) + map_len(o, &["binaryData"])),
        json!(age(o, now)),
    ]
}

/// ServiceAccount row.
pub(super) fn service_account(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        json!(name(o)),
        json!(arr(o, &["secrets"]).len() as i64),
        json!(age(o, now)),
    ]
}

/// PersistentVolume row.
pub(super) fn pv(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let claim = if is_obj(spec, &["claimRef"]) {
        format!(
            "{}/{}",
            s(spec, &["claimRef", "namespace"]),
            s(spec, &["claimRef", "name"])
        )
    } else {
        String::new()
    };
    let mut phase = s(o, &["status", "phase"]).to_string();
    if deleting(o) {
        phase = "Terminating".to_string();
    }
    // GetPersistentVolumeClass: beta annotation wins over the field.
    let class = match at(
        o,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .as_str()
    {
        Some(c) => c.to_string(),
        None => s(spec, &["storageClassName"]).to_string(),
    };
    let vac = at(spec, &["volumeAttributesClassName"])
        .as_str()
        .unwrap_or("<unset>");
    let mode = at(spec, &["volumeMode"]).as_str().unwrap_or("<unset>");
    vec![
        json!(name(o)),
        json!(quantity(at(spec, &["capacity", "storage"]))),
        json!(access_modes(arr(spec, &["accessModes"]))),
        json!(s(spec, &["persistentVolumeReclaimPolicy"])),
        json!(phase),
        json!(claim),
        json!(class),
        json!(vac),
        json!(s(o, &["status", "reason"])),
        json!(age(o, now)),
        json!(mode),
    ]
}

/// PersistentVolumeClaim row.
pub(super) fn pvc(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let spec = at(o, &["spec"]);
    let mut phase = s(o, &["status", "phase"]).to_string();
    if deleting(o) {
        phase = "Terminating".to_string();
    }
    let volume = s(spec, &["volumeName"]);
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(o, &["status", "capacity", "storage"])),
            access_modes(arr(o, &["status", "accessModes"])),
        )
    };
    let class = match at(
        o,
        &[
            "metadata",
            "annotations",
            "volume.beta.kubernetes.io/storage-class",
        ],
    )
    .as_str()
    {
        Some(c) => c.to_string(),
        None => s(spec, &["storageClassName"]).to_string(),
    };
    let vac = at(spec, &["volumeAttributesClassName"])
        .as_str()
        .unwrap_or("<unset>");
    let mode = at(spec, &["volumeMode"]).as_str().unwrap_or("<unset>");
    vec![
        json!(name(o)),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(vac),
        json!(age(o, now)),
        json!(mode),
    ]
}

/// ResourceQuota row.
pub(super) fn resource_quota(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let hard = at(o, &["status", "hard"]);
    let used = at(o, &["status", "used"]);
    let mut resources: Vec<&String> = hard
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    resources.sort();
    let (mut req, mut lim) = (Vec::new(), Vec::new());
    for r in resources {
        let used_q = match used.get(r.as_str()) {
            Some(v) => quantity(v),
            None => "0".to_string(),
        };
        let hard_q = quantity(&hard[r.as_str()]);
        let line = format!("{r}: {used_q}/{hard_q}");
        let mut pieces = r.split('.');
        let first = pieces.next().unwrap_or("");
        if pieces.next().is_some() && first == "limits" {
            lim.push(line);
        } else {
            req.push(line);
        }
    }
    vec![
        json!(name(o)),
        json!(age(o, now)),
        json!(req.join(", ")),
        json!(lim.join(", ")),
    ]
}
