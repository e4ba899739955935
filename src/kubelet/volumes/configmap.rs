//! configMap volumes (and projected configMap sources): the ConfigMap's `data` and
//! `binaryData` as files. A missing ConfigMap fails the mount (`configmap "x" not found`)
//! unless `optional`, then the volume is empty.

use k8s_openapi::api::core::v1::{ConfigMap, ConfigMapVolumeSource};
use kube::{Api, Client};

use super::atomic::Payload;
use super::payload::{object_payload, KeyData};

/// What a missing key is reported as.
pub const MISSING_KEY: &str = "configmap references non-existent config";

/// The data of ConfigMap `name` in `ns`, or `None` if it does not exist.
pub async fn fetch(client: &Client, ns: &str, name: &str) -> Result<Option<KeyData>, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let cm = api.get_opt(name).await.map_err(|e| e.to_string())?;
    Ok(cm.map(data_of))
}

/// `data` and `binaryData` of a ConfigMap.
pub fn data_of(cm: ConfigMap) -> KeyData {
    let mut out: KeyData = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.unwrap_or_default() {
        out.insert(k, v.0);
    }
    out
}

/// The files of a configMap source given the fetched `data` (`None`: the ConfigMap is missing).
pub fn payload(
    name: &str,
    data: Option<&KeyData>,
    items: Option<&[k8s_openapi::api::core::v1::KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    object_payload(
        "configmap",
        MISSING_KEY,
        name,
        data,
        items,
        default_mode,
        optional,
    )
}

/// The files of a configMap volume.
pub async fn volume(
    client: &Client,
    ns: &str,
    src: &ConfigMapVolumeSource,
) -> Result<Payload, String> {
    let data = fetch(client, ns, &src.name).await?;
    payload(
        &src.name,
        data.as_ref(),
        src.items.as_deref(),
        src.default_mode,
        src.optional == Some(true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_configmap() {
        let err = payload("x", None, None, None, false).unwrap_err();
        assert_eq!(err, "configmap \"x\" not found");
        assert!(payload("x", None, None, None, true).unwrap().is_empty());
    }
}
