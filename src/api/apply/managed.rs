//! `metadata.managedFields`: decoding, encoding and the identity of managers (upstream's
//! `fieldmanager/internal/managedfields.go`).

use serde_json::{json, Map, Value};

use super::fieldpath::{FieldPathError, Set};
use crate::api::object::ObjectMeta;

/// The operation of a managedFields entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

impl Operation {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `operation`.
    pub operation: Operation,
    /// `apiVersion` the fields were written at.
    pub api_version: String,
    /// `time` (RFC 3339).
    pub time: Option<String>,
    /// `subresource` ("" for the main resource).
    pub subresource: String,
    /// The owned fields.
    pub set: Set,
}

impl Entry {
    /// True when both entries are the same manager (upstream's manager identifier: manager,
    /// operation, subresource and, for updates, apiVersion).
    pub fn same_manager(&self, other: &Entry) -> bool {
        self.manager == other.manager
            && self.operation == other.operation
            && self.subresource == other.subresource
            && (self.operation == Operation::Apply || self.api_version == other.api_version)
    }

    /// How conflict messages name this manager (upstream's `printManager`).
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == Operation::Update {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

/// A managedFields document that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum ManagedFieldsError {
    /// Not a list of objects.
    #[error("managedFields must be a list of objects")]
    NotAList,
    /// An entry with an unknown operation.
    #[error("operation must be Apply or Update, got {0:?}")]
    Operation(String),
    /// An entry with `fieldsType` other than `FieldsV1`.
    #[error("fieldsType must be FieldsV1, got {0:?}")]
    FieldsType(String),
    /// A malformed `fieldsV1`.
    #[error(transparent)]
    Fields(#[from] FieldPathError),
}

/// True when a request asks to clear managedFields (`[]` or `[{}]`).
pub fn is_reset(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) => {
            a.is_empty() || (a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    }
}

/// Decodes the managedFields of an object (absent means none).
pub fn decode(obj: &Value) -> Result<Vec<Entry>, ManagedFieldsError> {
    let Some(v) = obj.meta().and_then(|m| m.get("managedFields")) else {
        return Ok(Vec::new());
    };
    if v.is_null() {
        return Ok(Vec::new());
    }
    let Value::Array(items) = v else {
        return Err(ManagedFieldsError::NotAList);
    };
    let mut out: Vec<Entry> = Vec::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(ManagedFieldsError::NotAList);
        };
        let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = match s("operation").as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            other => return Err(ManagedFieldsError::Operation(other.to_string())),
        };
        let ft = s("fieldsType");
        if ft != "FieldsV1" {
            return Err(ManagedFieldsError::FieldsType(ft));
        }
        let set = match m.get("fieldsV1") {
            Some(f) => Set::from_fields_v1(f)?,
            None => Set::new(),
        };
        let entry = Entry {
            manager: s("manager"),
            operation,
            api_version: s("apiVersion"),
            time: m.get("time").and_then(Value::as_str).map(str::to_string),
            subresource: s("subresource"),
            set,
        };
        // Duplicate managers are merged, as upstream's decoding does.
        match out.iter_mut().find(|e| e.same_manager(&entry)) {
            Some(e) => e.set = e.set.union(&entry.set),
            None => out.push(entry),
        }
    }
    Ok(out)
}

/// Encodes entries in upstream's order (operation, time, manager, apiVersion, subresource),
/// dropping entries that own nothing; `None` when nothing is left.
pub fn encode(entries: &[Entry]) -> Option<Value> {
    let mut list: Vec<&Entry> = entries.iter().filter(|e| !e.set.is_empty()).collect();
    if list.is_empty() {
        return None;
    }
    list.sort_by(|p, q| {
        p.operation
            .cmp(&q.operation)
            .then_with(|| p.time.cmp(&q.time))
            .then_with(|| p.manager.cmp(&q.manager))
            .then_with(|| p.api_version.cmp(&q.api_version))
            .then_with(|| p.subresource.cmp(&q.subresource))
    });
    let items = list
        .into_iter()
        .map(|e| {
            let mut m = Map::new();
            m.insert("manager".into(), json!(e.manager));
            m.insert("operation".into(), json!(e.operation.as_str()));
            m.insert("apiVersion".into(), json!(e.api_version));
            if let Some(t) = &e.time {
                m.insert("time".into(), json!(t));
            }
            m.insert("fieldsType".into(), json!("FieldsV1"));
            m.insert("fieldsV1".into(), e.set.to_fields_v1());
            if !e.subresource.is_empty() {
                m.insert("subresource".into(), json!(e.subresource));
            }
            Value::Object(m)
        })
        .collect();
    Some(Value::Array(items))
}

/// The most `Update` entries kept; older ones are merged into `ancient-changes` (upstream's
/// `DefaultMaxUpdateManagers`).
pub const MAX_UPDATE_MANAGERS: usize = 10;

/// Merges the oldest `Update` entries into one `ancient-changes` entry per apiVersion until at
/// most [`MAX_UPDATE_MANAGERS`] remain (upstream's capManagersManager).
pub fn cap_updates(entries: &mut Vec<Entry>) {
    let mut updaters: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].operation == Operation::Update)
        .collect();
    if updaters.len() <= MAX_UPDATE_MANAGERS {
        return;
    }
    updaters.sort_by(|&a, &b| entries[a].time.cmp(&entries[b].time));
    let mut remaining = updaters.len();
    let mut first_of_version: Vec<(String, usize)> = Vec::new();
    let mut dropped = vec![false; entries.len()];
    for &i in &updaters {
        if remaining <= MAX_UPDATE_MANAGERS {
            break;
        }
        let version = entries[i].api_version.clone();
        let Some(&(_, first)) = first_of_version.iter().find(|(v, _)| *v == version) else {
            first_of_version.push((version, i));
            continue;
        };
        let bucket = Entry {
            manager: "ancient-changes".into(),
            operation: Operation::Update,
            api_version: version,
            time: None,
            subresource: String::new(),
            set: Set::new(),
        };
        let b = match (0..entries.len()).find(|&j| !dropped[j] && entries[j].same_manager(&bucket))
        {
            Some(b) => b,
            None => {
                // The first (oldest) entry of this version becomes the bucket.
                entries[first].manager = bucket.manager;
                entries[first].subresource = String::new();
                first
            }
        };
        let set = entries[b].set.union(&entries[i].set);
        entries[b].set = set;
        entries[b].time = entries[i].time.clone();
        dropped[i] = true;
        remaining -= 1;
    }
    let mut idx = 0;
    entries.retain(|_| {
        idx += 1;
        !dropped[idx - 1]
    });
}

/// Sets (or removes) `metadata.managedFields` of an object.
pub fn store(obj: &mut Value, entries: &[Entry]) {
    match encode(entries) {
        Some(v) => obj.set_meta("managedFields", v),
        None => {
            obj.remove_meta("managedFields");
        }
    }
}

/// The default manager of a request without `fieldManager`: the User-Agent up to its first `/`
/// (at most 128 characters), as upstream derives it.
pub fn manager_from_user_agent(ua: &str) -> String {
    let prefix = ua.split('/').next().unwrap_or("");
    prefix.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_order() {
        let obj = json!({"metadata": {"managedFields": [
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "a", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-02T00:00:00Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}, "subresource": "status"},
        ]}});
        let entries = decode(&obj).unwrap_or_default();
        assert_eq!(entries.len(), 2);
        let out = encode(&entries).unwrap_or_default();
        assert_eq!(out[0]["manager"], "a");
        assert_eq!(out[0]["subresource"], "status");
        assert_eq!(out[1]["fieldsV1"], json!({"f:data": {"f:x": {}}}));
        assert_eq!(
            entries[0].describe(),
            "\"b\" using v1",
            "updates name their apiVersion"
        );
        assert_eq!(entries[1].describe(), "\"a\" with subresource \"status\"");
    }

    #[test]
    fn old_updates_merge_into_ancient_changes() {
        let mut entries: Vec<Entry> = (0..13)
            .map(|i| {
                let mut set = Set::new();
                set.insert(&[super::super::fieldpath::PathElement::Field(format!("f{i}"))]);
                Entry {
                    manager: format!("m{i:02}"),
                    operation: Operation::Update,
                    api_version: "v1".into(),
                    time: Some(format!("2024-01-01T00:00:{i:02}Z")),
                    subresource: String::new(),
                    set,
                }
            })
            .collect();
        cap_updates(&mut entries);
        assert_eq!(entries.len(), MAX_UPDATE_MANAGERS);
        let ancient = entries
            .iter()
            .find(|e| e.manager == "ancient-changes")
            .map(|e| e.set.paths().len());
        assert_eq!(ancient, Some(4));
        assert!(entries.iter().any(|e| e.manager == "m12"));
    }

    #[test]
    fn resets_and_user_agents() {
        assert!(is_reset(Some(&json!([]))));
        assert!(is_reset(Some(&json!([{}]))));
        assert!(!is_reset(None));
        assert_eq!(
            manager_from_user_agent("kubectl/v1.33.0 (linux/amd64) kubernetes/abc"),
            "kubectl"
        );
        assert_eq!(manager_from_user_agent("curl/8.5.0"), "curl");
        let bad = json!({"metadata": {"managedFields": [{"operation": "Nope"}]}});
        assert!(decode(&bad).is_err());
    }
}
