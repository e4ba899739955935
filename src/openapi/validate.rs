//! Strict field validation: unknown fields (schema-driven) and duplicate fields (raw JSON).
//!
//! Messages are formatted as upstream's strict JSON decoder (sigs.k8s.io/json) formats them:
//! `unknown field "spec.template.spec.containers[0].bogus"`, `duplicate field "metadata.name"`.
//! The apiserver joins them as `strict decoding error: <msg>, <msg>`.

use super::registry;
use parking_lot::RwLock;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// A compiled schema node: only what unknown-field detection needs.
#[derive(Debug)]
enum Shape {
    /// Anything goes (preserve-unknown-fields, raw extensions, untyped objects).
    Any,
    /// A scalar or a union whose objects are not inspected.
    Leaf,
    /// A struct: named properties, optionally extra keys of one shape.
    Object {
        props: HashMap<Box<str>, Shape>,
        additional: Option<Box<Shape>>,
    },
    /// A map with values of one shape.
    Map(Box<Shape>),
    /// An array with items of one shape.
    Array(Box<Shape>),
    /// A named definition, by index into [`Graph::nodes`].
    Ref(usize),
}

/// Definitions compiled so far, shared by all kinds (PodSpec is compiled once for Pod,
/// Deployment, ReplicaSet, ...).
#[derive(Default)]
struct Graph {
    index: HashMap<String, usize>,
    nodes: Vec<Shape>,
    /// Roots that were requested: name to node index, or `None` when the name is unknown.
    roots: HashMap<String, Option<usize>>,
}

/// Lazily compiled schemas for unknown-field detection.
#[derive(Default)]
pub(crate) struct Validator {
    graph: RwLock<Graph>,
}

const REF_PREFIX: &str = "#/components/schemas/";

impl Validator {
    /// The unknown-field messages for `obj` against the schema `schema_name`; empty when the
    /// schema is unknown.
    pub(crate) fn validate(&self, schema_name: &str, obj: &Value) -> Vec<String> {
        let mut out = Vec::new();
        {
            let graph = self.graph.read();
            if let Some(root) = graph.roots.get(schema_name) {
                if let Some(root) = root {
                    walk(
                        &graph,
                        &Shape::Ref(*root),
                        obj,
                        &mut String::new(),
                        &mut out,
                    );
                }
                return out;
            }
        }
        let mut graph = self.graph.write();
        let root = compile_root(&mut graph, schema_name);
        let graph = parking_lot::RwLockWriteGuard::downgrade(graph);
        if let Some(root) = root {
            walk(&graph, &Shape::Ref(root), obj, &mut String::new(), &mut out);
        }
        out
    }
}

fn compile_root(graph: &mut Graph, name: &str) -> Option<usize> {
    if let Some(root) = graph.roots.get(name) {
        return *root;
    }
    let mut generator = registry::generator();
    let root = if registry::add_definition(&mut generator, name) {
        let defs = generator.take_definitions(true);
        Some(compile_definition(graph, &defs, name))
    } else {
        None
    };
    graph.roots.insert(name.to_string(), root);
    root
}

fn compile_definition(graph: &mut Graph, defs: &Map<String, Value>, name: &str) -> usize {
    if let Some(&i) = graph.index.get(name) {
        return i;
    }
    let i = graph.nodes.len();
    graph.nodes.push(Shape::Any);
    graph.index.insert(name.to_string(), i);
    if let Some(schema) = defs.get(name) {
        graph.nodes[i] = compile(graph, defs, schema);
    }
    i
}

fn compile(graph: &mut Graph, defs: &Map<String, Value>, schema: &Value) -> Shape {
    let Some(obj) = schema.as_object() else {
        return Shape::Any;
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix(REF_PREFIX).unwrap_or(r);
        return Shape::Ref(compile_definition(graph, defs, name));
    }
    if let Some(Value::Array(all_of)) = obj.get("allOf") {
        if let [only] = all_of.as_slice() {
            return compile(graph, defs, only);
        }
        return Shape::Any;
    }
    if obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true)) {
        return Shape::Any;
    }
    let embedded = obj.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true));
    match obj.get("type").and_then(Value::as_str) {
        Some("array") => {
            let items = obj
                .get("items")
                .map_or(Shape::Any, |items| compile(graph, defs, items));
            Shape::Array(Box::new(items))
        }
        Some("object") | None if obj.contains_key("properties") || embedded => {
            let mut props = HashMap::new();
            if let Some(Value::Object(p)) = obj.get("properties") {
                for (k, v) in p {
                    props.insert(k.as_str().into(), compile(graph, defs, v));
                }
            }
            if embedded {
                for k in ["apiVersion", "kind"] {
                    props.entry(k.into()).or_insert(Shape::Leaf);
                }
                props.entry("metadata".into()).or_insert(Shape::Any);
            }
            let additional = additional(graph, defs, obj).map(Box::new);
            Shape::Object { props, additional }
        }
        Some("object") | None => match additional(graph, defs, obj) {
            Some(values) => Shape::Map(Box::new(values)),
            None if obj.contains_key("type") => Shape::Any,
            // No type, no properties: a scalar union such as IntOrString or Quantity.
            None => Shape::Leaf,
        },
        Some(_) => Shape::Leaf,
    }
}

fn additional(
    graph: &mut Graph,
    defs: &Map<String, Value>,
    obj: &Map<String, Value>,
) -> Option<Shape> {
    match obj.get("additionalProperties")? {
        Value::Bool(true) => Some(Shape::Any),
        Value::Bool(_) => None,
        schema => Some(compile(graph, defs, schema)),
    }
}

fn resolve<'a>(graph: &'a Graph, mut shape: &'a Shape) -> &'a Shape {
    // Bounded: a definition that is only a ref to another would otherwise loop.
    for _ in 0..16 {
        match shape {
            Shape::Ref(i) => match graph.nodes.get(*i) {
                Some(next) => shape = next,
                None => return &Shape::Any,
            },
            _ => return shape,
        }
    }
    &Shape::Any
}

fn push_key(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(key);
}

fn walk(graph: &Graph, shape: &Shape, value: &Value, path: &mut String, out: &mut Vec<String>) {
    match (resolve(graph, shape), value) {
        (Shape::Object { props, additional }, Value::Object(map)) => {
            for (k, v) in map {
                let len = path.len();
                push_key(path, k);
                match props.get(k.as_str()) {
                    Some(s) => walk(graph, s, v, path, out),
                    None => match additional {
                        Some(s) => walk(graph, s, v, path, out),
                        None => out.push(format!("unknown field {}", quote(path))),
                    },
                }
                path.truncate(len);
            }
        }
        (Shape::Map(values), Value::Object(map)) => {
            if matches!(resolve(graph, values), Shape::Any | Shape::Leaf) {
                return;
            }
            for (k, v) in map {
                let len = path.len();
                push_key(path, k);
                walk(graph, values, v, path, out);
                path.truncate(len);
            }
        }
        (Shape::Array(items), Value::Array(list)) => {
            if matches!(resolve(graph, items), Shape::Any | Shape::Leaf) {
                return;
            }
            for (i, v) in list.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(graph, items, v, path, out);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// Quotes like Go's `strconv.Quote` for the printable paths seen in practice (JSON escaping
/// covers `"` and `\` and control characters).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The duplicate-field messages for a raw JSON request body, formatted as upstream's strict
/// decoder does: `duplicate field "metadata.name"`, `duplicate field "spec.containers[0].image"`.
///
/// Keys of every object are checked (struct fields and map keys alike). Malformed JSON yields
/// the duplicates found before the syntax error; reporting the syntax error is the decoder's job.
pub fn duplicate_fields(raw_json: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(raw_json);
    let _ = DupSeed {
        path: String::new(),
        out: &mut out,
    }
    .deserialize(&mut de);
    out
}

struct DupSeed<'o> {
    path: String,
    out: &'o mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for DupSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DupSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let mut path = self.path.clone();
            push_key(&mut path, &key);
            if !seen.insert(key) {
                self.out.push(format!("duplicate field {}", quote(&path)));
            }
            map.next_value_seed(DupSeed {
                path,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let seed = DupSeed {
                path: format!("{}[{i}]", self.path),
                out: &mut *self.out,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployment_unknown_field_in_container_is_reported_with_index() {
        let v = Validator::default();
        let obj = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}, "bogusMeta": 1},
            "spec": {
                "replicas": 2,
                "foo": true,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [
                        {"name": "a", "image": "nginx", "resources": {"limits": {"cpu": "1"}}},
                        {"name": "b", "image": "nginx", "bogus": 1,
                         "ports": [{"containerPort": 80, "nope": "x"}]}
                    ]}
                }
            },
            "status": {"conditions": [{"type": "Available", "status": "True", "extra": 1}]}
        });
        let errs = v.validate("io.k8s.api.apps.v1.Deployment", &obj);
        assert_eq!(
            errs,
            vec![
                r#"unknown field "metadata.bogusMeta""#,
                r#"unknown field "spec.foo""#,
                r#"unknown field "spec.template.spec.containers[1].bogus""#,
                r#"unknown field "spec.template.spec.containers[1].ports[0].nope""#,
                r#"unknown field "status.conditions[0].extra""#,
            ]
        );
        // Second call takes the cached path and gives the same answer.
        assert_eq!(v.validate("io.k8s.api.apps.v1.Deployment", &obj), errs);
    }

    #[test]
    fn configmap_data_keys_are_never_unknown() {
        let v = Validator::default();
        let obj = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"x": "y"}},
            "data": {"anything": "goes", "spec.foo": "bar"},
            "binaryData": {"k": "aGk="}
        });
        assert!(v.validate("io.k8s.api.core.v1.ConfigMap", &obj).is_empty());
        let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "datta": {}});
        assert_eq!(
            v.validate("io.k8s.api.core.v1.ConfigMap", &bad),
            vec![r#"unknown field "datta""#]
        );
    }

    #[test]
    fn unknown_schema_and_untyped_fields_are_not_checked() {
        let v = Validator::default();
        assert!(v
            .validate("example.com.v1.Widget", &json!({"x": 1}))
            .is_empty());
        // managedFields[].fieldsV1 is free-form; resource quantities are scalars.
        let pod = json!({
            "metadata": {"managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "a", "resources": {"requests": {"memory": "1Gi"}}}]}
        });
        assert!(v.validate("io.k8s.api.core.v1.Pod", &pod).is_empty());
    }

    #[test]
    fn list_kinds_validate_items() {
        let v = Validator::default();
        let list = json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {},
            "items": [{"metadata": {"name": "a"}, "dat": {}}]});
        assert_eq!(
            v.validate("io.k8s.api.core.v1.ConfigMapList", &list),
            vec![r#"unknown field "items[0].dat""#]
        );
    }

    #[test]
    fn duplicate_fields_reports_paths() {
        let raw = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","name":"b",
            "labels":{"x":"1","x":"2"}},"spec":{"containers":[{"name":"c","image":"i","image":"j"}]},
            "kind":"Pod"}"#;
        assert_eq!(
            duplicate_fields(raw),
            vec![
                r#"duplicate field "metadata.name""#,
                r#"duplicate field "metadata.labels.x""#,
                r#"duplicate field "spec.containers[0].image""#,
                r#"duplicate field "kind""#,
            ]
        );
        assert!(duplicate_fields(br#"{"a":{"b":1},"c":[{"b":1},{"b":2}]}"#).is_empty());
        assert!(duplicate_fields(b"not json").is_empty());
        assert_eq!(
            duplicate_fields(br#"{"a":1,"a":2,"#),
            vec![r#"duplicate field "a""#]
        );
    }
}
