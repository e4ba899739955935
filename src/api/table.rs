//! Server-side Table and PartialObjectMetadata rendering of objects and lists.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::registry::ResourceEntry;

/// How much of each object a Table row carries (`includeObject`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// PartialObjectMetadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// Parses the `includeObject` query parameter.
    pub fn parse(s: Option<&str>) -> Result<IncludeObject, String> {
        match s {
            None | Some("") | Some("Metadata") => Ok(IncludeObject::Metadata),
            Some("None") => Ok(IncludeObject::None),
            Some("Object") => Ok(IncludeObject::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }
}

/// The PartialObjectMetadata of an object.
pub fn partial_metadata(obj: &Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A PartialObjectMetadataList of objects.
pub fn partial_metadata_list(items: &[Arc<Value>], list_meta: Value, version: &str) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": format!("meta.k8s.io/{version}"),
        "metadata": list_meta,
        "items": items.iter().map(|o| partial_metadata(o, version)).collect::<Vec<_>>(),
    })
}

/// The column definitions of a resource's Table.
pub fn column_definitions(res: &ResourceEntry) -> Value {
    if let Some(custom) = &res.strategy.custom {
        return super::crd::columns::definitions(&custom.columns);
    }
    let cols = crate::printers::columns(&res.rt.group, &res.rt.kind);
    crate::printers::column_definitions_json(&cols)
}

/// One Table row.
pub fn row(
    res: &ResourceEntry,
    obj: &Value,
    include: IncludeObject,
    version: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let cells = match &res.strategy.custom {
        Some(custom) => super::crd::columns::cells(&custom.columns, obj, now),
        None => crate::printers::cells(&res.rt.group, &res.rt.kind, obj, now),
    };
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells));
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            r.insert("object".into(), partial_metadata(obj, version));
        }
        IncludeObject::Object => {
            r.insert("object".into(), obj.clone());
        }
    }
    Value::Object(r)
}

/// A Table of objects.
pub fn table(
    res: &ResourceEntry,
    items: &[Arc<Value>],
    list_meta: Value,
    include: IncludeObject,
    version: &str,
    with_columns: bool,
) -> Value {
    let now = chrono::Utc::now();
    let mut t = Map::new();
    t.insert("kind".into(), json!("Table"));
    t.insert("apiVersion".into(), json!(format!("meta.k8s.io/{version}")));
    t.insert("metadata".into(), list_meta);
    t.insert(
        "columnDefinitions".into(),
        if with_columns {
            column_definitions(res)
        } else {
            Value::Null
        },
    );
    t.insert(
        "rows".into(),
        Value::Array(
            items
                .iter()
                .map(|o| row(res, o, include, version, now))
                .collect(),
        ),
    );
    Value::Object(t)
}
