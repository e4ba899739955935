//! ControllerRevisions shared by the StatefulSet and DaemonSet controllers (upstream's
//! `pkg/controller/history`): revisions named `<owner>-<hash>` holding a patch that replaces the
//! owner's pod template, the FNV-32 hash of that patch (plus the collision count) encoded as
//! upstream's `rand.SafeEncodeString`, listing of owned revisions, creation with collision
//! handling, and history-limit cleanup.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};

use crate::selectors::Selector;

/// Label on a ControllerRevision holding the hash of its data.
pub const HASH_LABEL: &str = "controller.kubernetes.io/hash";

/// Errors handling ControllerRevisions.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// The owner's pod template could not be serialized or a revision could not be read.
    #[error("revision data: {0}")]
    Data(String),
}

/// FNV-1 32-bit (Go's `hash/fnv.New32`).
pub fn fnv32(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for b in *part {
            h = h.wrapping_mul(0x0100_0193);
            h ^= u32::from(*b);
        }
    }
    h
}

/// Upstream's `rand.SafeEncodeString`: every byte mapped onto consonants and digits that cannot
/// spell words.
pub fn safe_encode(s: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    s.bytes()
        .map(|b| char::from(ALPHANUMS[usize::from(b) % ALPHANUMS.len()]))
        .collect()
}

/// Upstream's `HashControllerRevision` over the raw data bytes and an optional collision count.
pub fn hash_revision(raw: &[u8], probe: Option<i32>) -> String {
    let probe = probe.map(|p| p.to_string()).unwrap_or_default();
    safe_encode(&fnv32(&[raw, probe.as_bytes()]).to_string())
}

/// Upstream's `ControllerRevisionName`: `prefix-hash`, the prefix cut to 223 bytes.
pub fn revision_name(prefix: &str, hash: &str) -> String {
    let mut end = prefix.len().min(223);
    while !prefix.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", &prefix[..end])
}

/// Sorts object keys at every level, as Go's `json.Marshal` of a `map[string]interface{}`.
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let b: BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(b.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Go's `json.Marshal` bytes: sorted keys, HTML characters escaped.
pub fn go_json(v: &Value) -> String {
    sorted(v)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The revision data of an owner with `template` (upstream's `getPatch`):
/// `{"spec":{"template":{…,"$patch":"replace"}}}`, as Go encodes it.
pub fn template_patch(template: &PodTemplateSpec) -> Result<Value, HistoryError> {
    let mut t = serde_json::to_value(template).map_err(|e| HistoryError::Data(e.to_string()))?;
    if let Some(obj) = t.as_object_mut() {
        // Go encodes the zero creationTimestamp of an embedded ObjectMeta as null.
        let meta = obj.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.entry("creationTimestamp").or_insert(Value::Null);
        }
        obj.insert("$patch".into(), json!("replace"));
    }
    Ok(sorted(&json!({"spec": {"template": t}})))
}

/// The pod template stored in a revision's data (the patch without `$patch`).
pub fn template_of(rev: &ControllerRevision) -> Result<PodTemplateSpec, HistoryError> {
    let mut t = rev
        .data
        .as_ref()
        .and_then(|d| d.0.pointer("/spec/template"))
        .cloned()
        .ok_or_else(|| HistoryError::Data("revision has no spec.template".into()))?;
    if let Some(obj) = t.as_object_mut() {
        obj.remove("$patch");
    }
    serde_json::from_value(t).map_err(|e| HistoryError::Data(e.to_string()))
}

/// The raw bytes the hash is computed over.
pub fn raw_of(data: &Value) -> String {
    go_json(data)
}

/// Whether two revisions hold the same data (upstream's `EqualRevision`).
pub fn equal_data(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    let raw = |r: &ControllerRevision| r.data.as_ref().map(|d| raw_of(&d.0));
    raw(a) == raw(b)
}

/// A new revision of `owner` (upstream's `NewControllerRevision`), named with `hash` computed
/// from `data` and `collision_count`; labels are the template's plus the hash label.
pub fn new_revision(
    owner_ref: OwnerReference,
    owner: &ObjectMeta,
    template_labels: &BTreeMap<String, String>,
    data: Value,
    revision: i64,
    collision_count: i32,
) -> ControllerRevision {
    let hash = hash_revision(raw_of(&data).as_bytes(), Some(collision_count));
    let mut labels = template_labels.clone();
    labels.insert(HASH_LABEL.to_string(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(
                owner.name.as_deref().unwrap_or_default(),
                &hash,
            )),
            namespace: owner.namespace.clone(),
            labels: Some(labels),
            owner_references: Some(vec![owner_ref]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision,
    }
}

/// Revisions in `ns` matching `selector` that `owner_uid` controls or that have no controller
/// (upstream's `ListControllerRevisions`), sorted by revision, creation time, name.
pub async fn list_owned(
    client: &Client,
    ns: &str,
    selector: &Selector,
    owner_uid: &str,
) -> Result<Vec<ControllerRevision>, HistoryError> {
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), ns);
    let list = api.list(&ListParams::default()).await?;
    let mut out: Vec<ControllerRevision> = list
        .items
        .into_iter()
        .filter(|r| selector.matches(&r.metadata.labels.clone().unwrap_or_default()))
        .filter(|r| {
            let ctrl = r
                .metadata
                .owner_references
                .iter()
                .flatten()
                .find(|o| o.controller == Some(true));
            ctrl.is_none_or(|o| o.uid == owner_uid)
        })
        .collect();
    sort(&mut out);
    Ok(out)
}

/// Upstream's `SortControllerRevisions`.
pub fn sort(revs: &mut [ControllerRevision]) {
    revs.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let t = |r: &ControllerRevision| r.metadata.creation_timestamp.clone().map(|t| t.0);
                t(a).cmp(&t(b))
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// The next revision number: one more than the highest.
pub fn next_revision(revs: &[ControllerRevision]) -> i64 {
    revs.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

/// Creates `rev` (upstream's `CreateControllerRevision`): on a name collision with different
/// data the collision count is raised and the name re-hashed; an equal existing revision is
/// returned as is.
pub async fn create(
    client: &Client,
    owner_name: &str,
    rev: &ControllerRevision,
    collision_count: &mut i32,
) -> Result<ControllerRevision, HistoryError> {
    let ns = rev.metadata.namespace.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let raw = rev.data.as_ref().map(|d| raw_of(&d.0)).unwrap_or_default();
    for _ in 0..100 {
        let hash = hash_revision(raw.as_bytes(), Some(*collision_count));
        let mut clone = rev.clone();
        clone.metadata.name = Some(revision_name(owner_name, &hash));
        match api.create(&PostParams::default(), &clone).await {
            Ok(created) => return Ok(created),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let name = clone.metadata.name.clone().unwrap_or_default();
                let existing = api.get(&name).await?;
                if equal_data(&existing, &clone) {
                    return Ok(existing);
                }
                *collision_count += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(HistoryError::Data("too many hash collisions".into()))
}

/// Sets the revision number of `rev` (upstream's `UpdateControllerRevision`).
pub async fn set_revision(
    client: &Client,
    rev: &ControllerRevision,
    revision: i64,
) -> Result<ControllerRevision, HistoryError> {
    if rev.revision == revision {
        return Ok(rev.clone());
    }
    let ns = rev.metadata.namespace.clone().unwrap_or_default();
    let name = rev.metadata.name.clone().unwrap_or_default();
    let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
    let patch = json!({"revision": revision});
    Ok(api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

/// Deletes the oldest revisions not named in `live` beyond `limit` (upstream's
/// `truncateHistory` / `cleanupHistory`); `revs` must be sorted.
pub async fn truncate(
    client: &Client,
    revs: &[ControllerRevision],
    live: &HashSet<String>,
    limit: i32,
) -> Result<(), HistoryError> {
    let history: Vec<&ControllerRevision> = revs
        .iter()
        .filter(|r| !live.contains(r.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    if history.len() <= limit {
        return Ok(());
    }
    for r in &history[..history.len() - limit] {
        let ns = r.metadata.namespace.clone().unwrap_or_default();
        let name = r.metadata.name.clone().unwrap_or_default();
        let api: Api<ControllerRevision> = Api::namespaced(client.clone(), &ns);
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => tracing::debug!(revision = %name, "deleted old controller revision"),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_encoding_match_go() {
        // Go: fnv.New32().Write([]byte("hello")).Sum32() == 3069866496 (0xb6fa7167)
        assert_eq!(fnv32(&[b"hello"]), 0xb6fa_7167);
        assert_eq!(fnv32(&[b"hel", b"lo"]), 0xb6fa_7167);
        // '0' is byte 48: 48 % 27 = 21 → '4'.
        assert_eq!(safe_encode("0"), "4");
        assert_eq!(revision_name("web", "abc"), "web-abc");
    }

    #[test]
    fn patch_is_sorted_and_replaces() {
        let t: PodTemplateSpec = serde_json::from_value(json!({
            "metadata": {"labels": {"b": "1", "a": "<&>"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .expect("template");
        let p = template_patch(&t).expect("patch");
        let raw = raw_of(&p);
        assert!(raw.starts_with(
            r#"{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"a":"\u003c\u0026\u003e","b":"1"}}"#
        ), "{raw}");
        let rev = ControllerRevision {
            data: Some(RawExtension(p)),
            ..Default::default()
        };
        assert_eq!(template_of(&rev).expect("template"), t);
    }
}
