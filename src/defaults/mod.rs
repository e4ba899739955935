//! Server-side defaulting of built-in kinds, as a Kubernetes v1.33 apiserver applies it.
//!
//! This ports the scheme defaulters (`SetObjectDefaults_*`: the hand-written `SetDefaults_*`
//! functions of `pkg/apis/*/v1/defaults.go` plus the generated recursion and declarative
//! `+default` markers of `zz_generated.defaults.go`) to `serde_json::Value` objects, using the
//! feature gates a v1.33 cluster has on by default.
//!
//! Go decodes JSON into typed structs before defaulting, so its "is unset" tests see the Go zero
//! value: a missing field, an explicit `null`, an empty string (for string fields) and `0` (for
//! non-pointer integers) all count as unset. The helpers here mirror that. A field of the wrong
//! JSON type is never touched: validation reports it.
//!
//! Defaulting is idempotent and only fills fields that are unset, except where upstream itself
//! overwrites (the `kubernetes.io/metadata.name` label of a Namespace, and a Service's
//! `sessionAffinityConfig`, which is dropped when `sessionAffinity` is `None`).
//!
//! Not done here: rounding resource quantities up to milli precision (`SetDefaults_ResourceList`)
//! and the fields Go's encoder always writes for non-pointer structs (`resources: {}` on
//! containers, `creationTimestamp: null` in embedded templates); those belong to the codec.

use serde_json::{Map, Value};

mod core;
mod image;
mod other;
mod workloads;

#[cfg(test)]
mod tests;

pub use workloads::job_selector_on_create;

/// A JSON object.
pub(crate) type Obj = Map<String, Value>;

/// Fills in the defaults the v1.33 apiserver's scheme applies to an object of `group`/`kind`
/// (the core group is `""`; `"core"` is accepted too) on create and update.
///
/// Kinds without upstream defaults (ConfigMap's only default is invisible on the wire, Event,
/// Lease, ...) and unknown kinds are left as they are, as is anything that is not a JSON object.
pub fn apply(group: &str, kind: &str, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    match group {
        "" | "core" => core::apply(kind, o),
        "apps" | "batch" => workloads::apply(group, kind, o),
        _ => other::apply(group, kind, o),
    }
}

/// True when a pointer field is unset (missing or `null`).
pub(crate) fn unset(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

/// True when a string field holds Go's zero value (missing, `null` or `""`).
pub(crate) fn str_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        _ => false,
    }
}

/// True when a non-pointer integer field holds Go's zero value (missing, `null` or `0`).
pub(crate) fn int_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// True when a map or slice field has length zero in Go (missing, `null`, `{}` or `[]`).
/// A value of any other type is "not empty", so callers leave it alone.
pub(crate) fn len_zero(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Object(m)) => m.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        _ => false,
    }
}

/// Sets a string field to `val` when it holds Go's zero value.
pub(crate) fn default_str(m: &mut Obj, key: &str, val: &str) {
    if str_unset(m.get(key)) {
        m.insert(key.to_string(), Value::String(val.to_string()));
    }
}

/// Sets a non-pointer integer field to `val` when it is zero.
pub(crate) fn default_int(m: &mut Obj, key: &str, val: i64) {
    if int_unset(m.get(key)) {
        m.insert(key.to_string(), Value::from(val));
    }
}

/// Sets a pointer field to `val` when it is missing or `null`.
pub(crate) fn default_ptr(m: &mut Obj, key: &str, val: Value) {
    if unset(m.get(key)) {
        m.insert(key.to_string(), val);
    }
}

/// The object under a non-pointer struct field, created empty when missing or `null`
/// (Go always has the struct). `None` when the field has another type.
pub(crate) fn struct_field<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    if unset(m.get(key)) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// The object under a pointer struct field, only when it is present and an object.
pub(crate) fn ptr_field<'a>(m: &'a mut Obj, key: &str) -> Option<&'a mut Obj> {
    m.get_mut(key).and_then(Value::as_object_mut)
}

/// Calls `f` on every object element of the array field `key` (other elements are skipped).
pub(crate) fn each_obj(m: &mut Obj, key: &str, mut f: impl FnMut(&mut Obj)) {
    if let Some(Value::Array(items)) = m.get_mut(key) {
        for item in items.iter_mut() {
            if let Some(o) = item.as_object_mut() {
                f(o);
            }
        }
    }
}

/// The string value of a field, `""` when missing or not a string.
pub(crate) fn str_of<'a>(m: &'a Obj, key: &str) -> &'a str {
    m.get(key).and_then(Value::as_str).unwrap_or("")
}
