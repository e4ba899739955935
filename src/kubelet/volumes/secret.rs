//! secret volumes (and projected secret sources): the Secret's decoded `data` as files. A
//! missing Secret fails the mount (`secret "x" not found`) unless `optional`.

use k8s_openapi::api::core::v1::{KeyToPath, Secret, SecretVolumeSource};
use kube::{Api, Client};

use super::atomic::Payload;
use super::payload::{object_payload, KeyData};

/// What a missing key is reported as.
pub const MISSING_KEY: &str = "references non-existent secret";

/// The decoded data of Secret `name` in `ns`, or `None` if it does not exist.
pub async fn fetch(client: &Client, ns: &str, name: &str) -> Result<Option<KeyData>, String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let s = api.get_opt(name).await.map_err(|e| e.to_string())?;
    Ok(s.map(|s| {
        let mut out: KeyData = s
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
        for (k, v) in s.string_data.unwrap_or_default() {
            out.insert(k, v.into_bytes());
        }
        out
    }))
}

/// The files of a secret source given the fetched `data` (`None`: the Secret is missing).
pub fn payload(
    name: &str,
    data: Option<&KeyData>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    object_payload(
        "secret",
        MISSING_KEY,
        name,
        data,
        items,
        default_mode,
        optional,
    )
}

/// The files of a secret volume.
pub async fn volume(
    client: &Client,
    ns: &str,
    src: &SecretVolumeSource,
) -> Result<Payload, String> {
    let name = src.secret_name.clone().unwrap_or_default();
    let data = fetch(client, ns, &name).await?;
    payload(
        &name,
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
    fn missing_secret_and_keys() {
        assert_eq!(
            payload("s", None, None, None, false).unwrap_err(),
            "secret \"s\" not found"
        );
        let data = KeyData::from([("k".to_string(), b"v".to_vec())]);
        let items = [KeyToPath {
            key: "other".into(),
            path: "o".into(),
            mode: None,
        }];
        assert_eq!(
            payload("s", Some(&data), Some(&items), None, false).unwrap_err(),
            "references non-existent secret key: other"
        );
    }
}
