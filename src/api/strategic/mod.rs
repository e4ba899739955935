//! Strategic merge patch (`application/strategic-merge-patch+json`), the server side of
//! upstream's `k8s.io/apimachinery/pkg/util/strategicpatch` (`StrategicMergeMapPatch`), driven
//! by the list and patch metadata in [`crate::schema`].
//!
//! - Maps merge recursively; `null` deletes a key; `$patch: replace` replaces the map with the
//!   rest of the patch map, `$patch: delete` empties it; `$retainKeys` drops every key of the
//!   original not listed (and rejects patch keys not listed).
//! - Lists whose field has the `merge` strategy merge: lists of maps by the field's merge key
//!   (matching items merge recursively, new ones are added, `$patch: delete` items remove by key,
//!   a `$patch: replace` item replaces the list), lists of scalars are unioned;
//!   `$deleteFromPrimitiveList/<field>` removes scalars and `$setElementOrder/<field>` orders
//!   the result. Order follows upstream: `$setElementOrder` first, then the patch's order, then
//!   the live object's.
//! - Other lists, and fields with the `replace` strategy, are replaced.
//!
//! Patches are untrusted input: every shape error is an [`SmpError`], never a panic.

mod list;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::schema::{self, Definition, Field, FieldType};

use super::errors::{ApiError, Cause};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_PREFIX: &str = "$deleteFromPrimitiveList";
const ORDER_PREFIX: &str = "$setElementOrder";

/// A strategic merge patch that cannot be applied; messages are upstream's (`mergepatch`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmpError {
    /// The patch or the object is not a JSON object.
    #[error("invalid JSON document")]
    BadJsonDoc,
    /// A list holds lists.
    #[error("lists of lists are not supported")]
    NoListOfLists,
    /// A `$deleteFromPrimitiveList` directive is malformed.
    #[error("invalid patch format of primitive list")]
    BadPrimitiveList,
    /// A `$retainKeys` directive is malformed or the patch sets keys it does not list.
    #[error("invalid patch format of retainKeys")]
    BadRetainKeys,
    /// A `$setElementOrder` directive is malformed.
    #[error("invalid patch format of setElementOrder list")]
    BadSetElementOrder,
    /// A list item lacks the list's merge key.
    #[error("map: {map} does not contain declared merge key: {key}")]
    NoMergeKey {
        /// The item, formatted as Go prints maps.
        map: String,
        /// The merge key.
        key: String,
    },
    /// A `$patch` directive with an unknown value.
    #[error("unknown patch type: {directive} in map: {map}")]
    BadPatchType {
        /// The directive's value.
        directive: String,
        /// The map holding it.
        map: String,
    },
    /// A value of the wrong JSON type where a map or list was needed.
    #[error("expected a {expected}, but received a {actual}")]
    BadArgType {
        /// The Go type expected.
        expected: &'static str,
        /// The Go type received.
        actual: &'static str,
    },
    /// `$patch: merge` inside a list.
    #[error("merging lists cannot yet be specified in the patch")]
    MergeInList,
    /// A merge list of maps whose field declares no merge key.
    #[error("cannot merge lists without merge key for type struct")]
    NoMergeKeyDeclared,
    /// Items of different JSON types in one list.
    #[error("list element types are not identical: {0}")]
    MixedList(String),
    /// An item of a merge list of maps is not a map.
    #[error("value for key {0} is not a map.")]
    NotAMap(usize),
    /// The patch list's order contradicts its `$setElementOrder` list.
    #[error("The order in patch list:\n{patch}\n doesn't match $setElementOrder list:\n{order}\n")]
    OrderMismatch {
        /// The patch list.
        patch: String,
        /// The `$setElementOrder` list.
        order: String,
    },
}

impl SmpError {
    /// The HTTP status upstream's API server answers with (`interpretStrategicMergePatchError`:
    /// 400 for malformed directives, 422 for lists of lists, 500 for the rest).
    pub fn code(&self) -> u16 {
        match self {
            SmpError::BadJsonDoc
            | SmpError::BadPrimitiveList
            | SmpError::BadRetainKeys
            | SmpError::BadSetElementOrder => 400,
            SmpError::NoListOfLists => 422,
            _ => 500,
        }
    }
}

impl From<SmpError> for ApiError {
    fn from(e: SmpError) -> ApiError {
        match e.code() {
            400 => ApiError::bad_request(e.to_string()),
            422 => {
                let mut err = ApiError::new(
                    422,
                    "Invalid",
                    "the server rejected our request due to an error in our request",
                );
                err.details.causes.push(Cause {
                    reason: "UnexpectedServerResponse".into(),
                    message: e.to_string(),
                    field: String::new(),
                });
                err
            }
            // Upstream passes these through as plain errors: 500 with an empty reason.
            code => ApiError::new(code, "", e.to_string()),
        }
    }
}

/// Result alias of the engine.
pub type SmpResult<T> = Result<T, SmpError>;

/// The shape of a JSON object being patched: a struct with known fields, a map whose values
/// have one definition, or unknown (maps merge, lists replace).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    /// A struct definition.
    Struct(&'static Definition),
    /// A map (`additionalProperties`) whose values are described by the definition, if any.
    Map(Option<&'static Definition>),
    /// Nothing known.
    Unknown,
}

/// The patch metadata of one field.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FieldMeta {
    /// Strategy includes `merge`.
    merge: bool,
    /// Strategy is `replace`.
    replace: bool,
    /// `x-kubernetes-patch-merge-key`.
    merge_key: Option<&'static str>,
    /// Shape of the value (for objects) or of list items (for lists).
    shape: Shape,
}

impl FieldMeta {
    const NONE: FieldMeta = FieldMeta {
        merge: false,
        replace: false,
        merge_key: None,
        shape: Shape::Unknown,
    };
}

/// A definition by name; tests add their own (upstream's `MergeItem` test type).
fn resolve(name: &str) -> Option<&'static Definition> {
    #[cfg(test)]
    if let Some(d) = tests::fake_definition(name) {
        return Some(d);
    }
    schema::definition(name)
}

fn shape_of_definition(name: Option<&str>) -> Shape {
    match name.and_then(resolve) {
        Some(d) if d.ty.is_none() => Shape::Struct(d),
        _ => Shape::Unknown,
    }
}

fn field_meta(f: &'static Field) -> FieldMeta {
    let shape = if f.is_map() {
        Shape::Map(f.elem.as_deref().and_then(resolve))
    } else {
        match f.field_type() {
            FieldType::Object | FieldType::Array => shape_of_definition(f.elem.as_deref()),
            FieldType::Scalar => Shape::Unknown,
        }
    };
    FieldMeta {
        merge: f.merges(),
        replace: f
            .patch_strategy
            .as_deref()
            .is_some_and(|s| s.split(',').any(|p| p == "replace")),
        merge_key: f.merge_key.as_deref(),
        shape,
    }
}

impl Shape {
    /// The metadata of field `key` of an object of this shape.
    fn field(self, key: &str) -> FieldMeta {
        match self {
            Shape::Struct(d) => d.fields.get(key).map(field_meta).unwrap_or(FieldMeta::NONE),
            Shape::Map(Some(d)) if d.ty.is_none() => FieldMeta {
                shape: Shape::Struct(d),
                ..FieldMeta::NONE
            },
            Shape::Map(_) | Shape::Unknown => FieldMeta::NONE,
        }
    }
}

/// Applies a strategic merge patch to `original`, an object of the definition `schema_name`
/// (`io.k8s.api.apps.v1.Deployment`). Without a known definition the patch is applied as a
/// JSON merge patch (RFC 7386), as upstream does for types it has no patch metadata for.
pub fn apply(original: &Value, patch: &Value, schema_name: Option<&str>) -> SmpResult<Value> {
    let (Value::Object(o), Value::Object(p)) = (original, patch) else {
        return Err(SmpError::BadJsonDoc);
    };
    let shape = shape_of_definition(schema_name);
    if matches!(shape, Shape::Unknown) {
        let mut doc = original.clone();
        json_patch::merge(&mut doc, patch);
        return Ok(doc);
    }
    merge_map(o.clone(), p.clone(), shape).map(Value::Object)
}

/// Merges `patch` into `original` (upstream's `mergeMap` with `MergeParallelList` and
/// `IgnoreUnmatchedNulls`).
pub(crate) fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    shape: Shape,
) -> SmpResult<Map<String, Value>> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                patch.remove(DIRECTIVE);
                Ok(patch)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(SmpError::BadPatchType {
                directive: go_format(d),
                map: go_format(&Value::Object(patch.clone())),
            }),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    list::merge_set_element_order(&mut original, &mut patch, shape)?;

    let mut deletions = Vec::new();
    for (k, pv) in patch {
        if k.starts_with(DELETE_PREFIX) {
            deletions.push((extract_key(&k, DELETE_PREFIX)?, pv));
            continue;
        }
        if k.starts_with('$') {
            // Unknown directives are not fields: upstream's decoder drops them.
            continue;
        }
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let meta = shape.field(&k);
        let merged = match original.remove(&k) {
            None => fresh(pv, meta)?,
            Some(ov) => merge_value(ov, pv, meta)?,
        };
        original.insert(k, merged);
    }
    for (k, pv) in deletions {
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let Value::Array(del) = pv else {
            return Err(SmpError::BadPrimitiveList);
        };
        let meta = shape.field(&k);
        match original.remove(&k) {
            // Nothing to delete from.
            None => {}
            Some(Value::Array(ov)) if meta.merge => {
                let merged = list::merge_slice(ov, del, meta, true)?;
                original.insert(k, Value::Array(merged));
            }
            Some(_) => return Err(SmpError::BadPrimitiveList),
        }
    }
    Ok(original)
}

/// Merges a patch value into an existing value of the same key.
fn merge_value(ov: Value, pv: Value, meta: FieldMeta) -> SmpResult<Value> {
    Ok(match (ov, pv) {
        (Value::Object(_), Value::Object(p)) if meta.replace => Value::Object(p),
        (Value::Object(o), Value::Object(p)) => Value::Object(merge_map(o, p, meta.shape)?),
        (Value::Array(o), Value::Array(p)) if meta.merge => {
            Value::Array(list::merge_slice(o, p, meta, false)?)
        }
        (_, pv) => pv,
    })
}

/// A patch value for a key the original lacks: its directives are processed against an
/// empty value, so none of them end up in the object.
fn fresh(pv: Value, meta: FieldMeta) -> SmpResult<Value> {
    if let (Value::Array(items), Some(key)) = (&pv, meta.merge_key) {
        // Items without their merge key are stored as sent (validation reports them), as
        // upstream does for lists the original lacks.
        if items.iter().any(|i| i.is_object() && i.get(key).is_none()) {
            return Ok(pv);
        }
    }
    merge_value(
        match &pv {
            Value::Object(_) => Value::Object(Map::new()),
            Value::Array(_) => Value::Array(Vec::new()),
            _ => Value::Null,
        },
        pv,
        meta,
    )
}

/// `$retainKeys`: drops keys of `original` not listed; every key the patch sets must be listed.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> SmpResult<()> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(list) = retain else {
        return Err(SmpError::BadRetainKeys);
    };
    let keep: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
    for (k, v) in patch.iter() {
        if v.is_null() || k.starts_with(DELETE_PREFIX) || k.starts_with(ORDER_PREFIX) {
            continue;
        }
        if !keep.contains(&k.as_str()) {
            return Err(SmpError::BadRetainKeys);
        }
    }
    original.retain(|k, _| keep.contains(&k.as_str()));
    Ok(())
}

/// The field name after `<prefix>/`.
fn extract_key(key: &str, prefix: &str) -> SmpResult<String> {
    match key.split_once('/') {
        Some((p, rest)) if p == prefix => Ok(rest.to_string()),
        _ if prefix == DELETE_PREFIX => Err(SmpError::BadPrimitiveList),
        _ => Err(SmpError::BadSetElementOrder),
    }
}

/// Go's name of the type a JSON value decodes to (`reflect.TypeOf(v)`).
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// A value as Go's `%v` prints it (`map[image:x name:c2]`), for error messages.
fn go_format(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_format).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_format(&m[k])))
                .collect();
            format!("map[{}]", items.join(" "))
        }
    }
}

/// JSON equality as Go compares decoded values (`==` on `interface{}`): numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}
