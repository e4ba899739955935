//! Accessors for the metadata of objects held as JSON values.

use serde_json::{Map, Value};

/// Read-only and mutating access to `metadata` of a JSON object.
pub trait ObjectMeta {
    /// `metadata` as a map, if present.
    fn meta(&self) -> Option<&Map<String, Value>>;
    /// `metadata`, created when absent (the object itself must be a JSON object).
    fn meta_mut(&mut self) -> Option<&mut Map<String, Value>>;

    /// A string field of `metadata`.
    fn meta_str(&self, field: &str) -> Option<&str> {
        self.meta()
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
    }
    /// `metadata.name` or "".
    fn name(&self) -> &str {
        self.meta_str("name").unwrap_or("")
    }
    /// `metadata.namespace` or "".
    fn namespace(&self) -> &str {
        self.meta_str("namespace").unwrap_or("")
    }
    /// `metadata.labels`.
    fn labels(&self) -> Option<&Map<String, Value>> {
        self.meta()
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
    }
    /// `metadata.finalizers` as strings.
    fn finalizers(&self) -> Vec<String> {
        self.meta()
            .and_then(|m| m.get("finalizers"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Sets a metadata field.
    fn set_meta(&mut self, field: &str, value: Value) {
        if let Some(m) = self.meta_mut() {
            m.insert(field.to_string(), value);
        }
    }
    /// Removes a metadata field.
    fn remove_meta(&mut self, field: &str) -> Option<Value> {
        // `shift_remove` keeps the order of the other fields (`remove` swaps the last one in).
        self.meta_mut().and_then(|m| m.shift_remove(field))
    }
}

impl ObjectMeta for Value {
    fn meta(&self) -> Option<&Map<String, Value>> {
        self.get("metadata").and_then(Value::as_object)
    }

    fn meta_mut(&mut self) -> Option<&mut Map<String, Value>> {
        let obj = self.as_object_mut()?;
        if !matches!(obj.get("metadata"), Some(Value::Object(_))) {
            obj.insert("metadata".into(), Value::Object(Map::new()));
        }
        obj.get_mut("metadata").and_then(Value::as_object_mut)
    }
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds, `Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A random suffix for `generateName`, from upstream's alphabet (no vowels, no confusable digits).
pub fn random_suffix(n: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Puts `apiVersion` and `kind` first, as upstream encodes objects, keeping the other fields' order.
pub fn with_type_meta(obj: Value, api_version: &str, kind: &str) -> Value {
    match obj {
        Value::Object(mut m) => {
            m.shift_remove("apiVersion");
            m.shift_remove("kind");
            let mut out = Map::with_capacity(m.len() + 2);
            out.insert("kind".into(), Value::String(kind.to_string()));
            out.insert("apiVersion".into(), Value::String(api_version.to_string()));
            out.extend(m);
            Value::Object(out)
        }
        other => other,
    }
}
