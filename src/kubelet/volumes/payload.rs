//! Pure payload building shared by the configMap, secret, downwardAPI and projected volumes:
//! keys → file paths with `items` and modes as upstream's `MakePayload`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::KeyToPath;

use super::atomic::{FileData, Payload};

/// Mode of projected files when the source names none (0644, upstream's default).
pub const DEFAULT_MODE: i32 = 0o644;

/// The data of a ConfigMap (`data` and `binaryData`) or Secret (decoded `data`).
pub type KeyData = BTreeMap<String, Vec<u8>>;

/// The files of a configMap or secret source given its fetched `data` (`None`: the object is
/// missing, an error `<noun> "<name>" not found` unless `optional`, then no files); `missing_key`
/// is how [`key_to_path`] reports an item whose key the object lacks.
pub fn object_payload(
    noun: &str,
    missing_key: &str,
    name: &str,
    data: Option<&KeyData>,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
) -> Result<Payload, String> {
    match data {
        Some(d) => key_to_path(d, items, default_mode, optional, missing_key),
        None if optional => Ok(Payload::new()),
        None => Err(format!("{noun} {name:?} not found")),
    }
}

/// Maps `data` to files: every key as its own file when `items` is empty, else each item's
/// key to its path (with its mode, or `default_mode`). A missing key is an error
/// (`<kind> references non-existent <what> key: <key>`) unless `optional`.
pub fn key_to_path(
    data: &KeyData,
    items: Option<&[KeyToPath]>,
    default_mode: Option<i32>,
    optional: bool,
    what: &str,
) -> Result<Payload, String> {
    let default_mode = default_mode.unwrap_or(DEFAULT_MODE);
    let mut out = Payload::new();
    match items.filter(|i| !i.is_empty()) {
        None => {
            for (k, v) in data {
                out.insert(k.clone(), file(v, default_mode));
            }
        }
        Some(items) => {
            for item in items {
                let Some(v) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("{what} key: {}", item.key));
                };
                out.insert(
                    item.path.clone(),
                    file(v, item.mode.unwrap_or(default_mode)),
                );
            }
        }
    }
    Ok(out)
}

/// A file with `data` and permission bits `mode`.
pub fn file(data: &[u8], mode: i32) -> FileData {
    FileData {
        data: data.to_vec(),
        mode: (mode as u32) & 0o7777,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> KeyData {
        KeyData::from([
            ("a".to_string(), b"1".to_vec()),
            ("b".to_string(), b"2".to_vec()),
        ])
    }

    fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
        KeyToPath {
            key: key.into(),
            path: path.into(),
            mode,
        }
    }

    const WHAT: &str = "configmap references non-existent config";

    #[test]
    fn all_keys_without_items() {
        let p = key_to_path(&data(), None, Some(0o600), false, WHAT).unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(p["a"].mode, 0o600);
        let p = key_to_path(&data(), Some(&[]), None, false, WHAT).unwrap();
        assert_eq!(p["b"], file(b"2", 0o644));
    }

    #[test]
    fn items_pick_keys_paths_and_modes() {
        let items = [
            item("a", "dir/first", Some(0o400)),
            item("b", "second", None),
        ];
        let p = key_to_path(&data(), Some(&items), Some(0o640), false, WHAT).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p["dir/first"], file(b"1", 0o400));
        assert_eq!(p["second"], file(b"2", 0o640));
    }

    #[test]
    fn missing_keys() {
        let items = [item("nope", "x", None), item("a", "a", None)];
        let err = key_to_path(&data(), Some(&items), None, false, WHAT).unwrap_err();
        assert_eq!(err, "configmap references non-existent config key: nope");
        let p = key_to_path(&data(), Some(&items), None, true, WHAT).unwrap();
        assert_eq!(p.keys().collect::<Vec<_>>(), ["a"]);
    }
}
