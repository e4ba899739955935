//! Objects walked with their schema (`crate::schema`): the field set of an object, the comparison
//! of two objects, the merge of an applied configuration into a live object, and pruning of fields
//! an applier stopped applying. Ports of structured-merge-diff's `typed` package.

use serde_json::{Map, Value};

use super::fieldpath::{Path, PathElement, Set};
use crate::schema::{self, Definition, Field, FieldType};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The type of a node.
#[derive(Clone, Copy, Debug)]
pub enum Ty {
    /// A struct with declared fields.
    Struct(&'static Definition),
    /// A granular map; values are typed by the field's item definition.
    Map(&'static Field),
    /// A granular list (`map` with keys, or `set`); items typed by the field's item definition.
    List(&'static Field),
    /// Owned as a whole: scalars, atomic lists, atomic maps and structs.
    Leaf,
    /// No schema: objects are granular maps, lists are atomic.
    Deduced,
    /// The root of an object without schema: `metadata` is still `ObjectMeta`.
    DeducedRoot,
}

impl Ty {
    /// The type of the root of objects of a kind.
    pub fn for_kind(group: &str, version: &str, kind: &str) -> Ty {
        schema::definition_for_kind(group, version, kind)
            .and_then(schema::definition)
            .map(def_ty)
            .unwrap_or(Ty::DeducedRoot)
    }
}

fn def_ty(d: &'static Definition) -> Ty {
    if d.is_atomic() {
        Ty::Leaf
    } else if d.fields.is_empty() {
        Ty::Deduced
    } else {
        Ty::Struct(d)
    }
}

fn elem_ty(f: &'static Field) -> Ty {
    match f.elem.as_deref() {
        Some(name) => schema::definition(name).map_or(Ty::Deduced, def_ty),
        None => Ty::Leaf,
    }
}

fn field_ty(f: &'static Field) -> Ty {
    match f.field_type() {
        FieldType::Array => match f.list_type.as_deref() {
            Some("map") if !f.map_keys.is_empty() => Ty::List(f),
            Some("set") => Ty::List(f),
            _ => Ty::Leaf,
        },
        FieldType::Object if f.is_map() => {
            if f.map_type.as_deref() == Some("atomic") {
                Ty::Leaf
            } else {
                Ty::Map(f)
            }
        }
        FieldType::Object => elem_ty(f),
        FieldType::Scalar => Ty::Leaf,
    }
}

/// The type of a child of an object node, and whether it is a declared struct field.
fn child_ty(ty: Ty, key: &str) -> (Ty, bool) {
    match ty {
        Ty::Struct(d) => match d.fields.get(key) {
            Some(f) => (field_ty(f), true),
            None => (Ty::Deduced, false),
        },
        Ty::Map(f) => (elem_ty(f), false),
        Ty::DeducedRoot if key == "metadata" => (
            schema::definition(OBJECT_META).map_or(Ty::Deduced, def_ty),
            true,
        ),
        _ => (Ty::Deduced, false),
    }
}

/// How a value of a type is walked.
enum Node<'a> {
    Leaf,
    Object(&'a Map<String, Value>),
    List(&'a [Value], &'static Field),
}

fn node(ty: Ty, v: &Value) -> Node<'_> {
    match (ty, v) {
        (Ty::Struct(_) | Ty::Map(_) | Ty::Deduced | Ty::DeducedRoot, Value::Object(m)) => {
            Node::Object(m)
        }
        (Ty::List(f), Value::Array(a)) => Node::List(a, f),
        _ => Node::Leaf,
    }
}

/// The path element of a list item.
fn item_pe(f: &Field, index: usize, item: &Value) -> PathElement {
    match f.list_type.as_deref() {
        Some("map") => {
            let fields = f
                .map_keys
                .iter()
                .filter_map(|k| match item.get(k) {
                    Some(v) => Some((k.clone(), v.clone())),
                    // Upstream's schema defaults the protocol of ports.
                    None if k == "protocol" => Some((k.clone(), Value::String("TCP".into()))),
                    None => None,
                })
                .collect::<Vec<_>>();
            if fields.is_empty() {
                PathElement::Index(index as i64)
            } else {
                PathElement::key(fields)
            }
        }
        _ => PathElement::Value(item.clone()),
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// The set of fields an object sets (upstream's `TypedValue.ToFieldSet`).
pub fn field_set(v: &Value, ty: Ty) -> Set {
    let mut out = Set::new();
    walk_set(v, ty, &mut Vec::new(), &mut out);
    out
}

fn walk_set(v: &Value, ty: Ty, path: &mut Path, out: &mut Set) {
    match node(ty, v) {
        Node::Leaf => out.insert(path),
        Node::Object(m) => {
            for (k, cv) in m {
                let (cty, declared) = child_ty(ty, k);
                path.push(PathElement::Field(k.clone()));
                walk_set(cv, cty, path, out);
                let empty_map = matches!(cv, Value::Object(o) if o.is_empty());
                if cv.is_null() || empty_map || !declared {
                    out.insert(path);
                }
                path.pop();
            }
        }
        Node::List(items, f) => {
            let ity = elem_ty(f);
            for (i, item) in items.iter().enumerate() {
                path.push(item_pe(f, i, item));
                walk_set(item, ity, path, out);
                out.insert(path);
                path.pop();
            }
        }
    }
}

/// What changed between two objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Paths only in the new object.
    pub added: Set,
    /// Leaves whose value changed.
    pub modified: Set,
    /// Paths only in the old object.
    pub removed: Set,
}

impl Comparison {
    /// Keeps only the paths `keep` accepts (applied recursively to whole subtrees by the caller).
    pub fn filter(&mut self, f: impl Fn(&Set) -> Set) {
        self.added = f(&self.added);
        self.modified = f(&self.modified);
        self.removed = f(&self.removed);
    }
}

/// Compares two objects (upstream's `TypedValue.Compare`).
pub fn compare(old: Option<&Value>, new: Option<&Value>, ty: Ty) -> Comparison {
    let mut c = Comparison::default();
    walk_compare(old, new, ty, false, &mut Vec::new(), &mut c);
    c
}

fn walk_compare(
    l: Option<&Value>,
    r: Option<&Value>,
    ty: Ty,
    mark: bool,
    path: &mut Path,
    c: &mut Comparison,
) {
    let ln = l.map(|v| node(ty, v));
    let rn = r.map(|v| node(ty, v));
    let both_empty = l.is_none_or(is_empty_value) && r.is_none_or(is_empty_value);
    let mut leaf = true;
    match (ln, rn) {
        (lo @ (None | Some(Node::Object(_))), ro @ (None | Some(Node::Object(_))))
            if !both_empty =>
        {
            leaf = false;
            let lm = match lo {
                Some(Node::Object(m)) => Some(m),
                _ => None,
            };
            let rm = match ro {
                Some(Node::Object(m)) => Some(m),
                _ => None,
            };
            for (k, lv) in lm.into_iter().flatten() {
                let (cty, declared) = child_ty(ty, k);
                let mark = !(declared && matches!(cty, Ty::Struct(_)));
                path.push(PathElement::Field(k.clone()));
                walk_compare(Some(lv), rm.and_then(|m| m.get(k)), cty, mark, path, c);
                path.pop();
            }
            for (k, rv) in rm.into_iter().flatten() {
                if lm.is_some_and(|m| m.contains_key(k)) {
                    continue;
                }
                let (cty, declared) = child_ty(ty, k);
                let mark = !(declared && matches!(cty, Ty::Struct(_)));
                path.push(PathElement::Field(k.clone()));
                walk_compare(None, Some(rv), cty, mark, path, c);
                path.pop();
            }
        }
        (lo @ (None | Some(Node::List(..))), ro @ (None | Some(Node::List(..)))) if !both_empty => {
            leaf = false;
            let (ll, rl) = (as_list(lo), as_list(ro));
            let Some(f) = ll.or(rl).map(|(_, f)| f) else {
                return;
            };
            let ity = elem_ty(f);
            let keyed = |items: Option<(&[Value], &'static Field)>| -> Vec<(PathElement, Value)> {
                items
                    .map(|(a, _)| {
                        a.iter()
                            .enumerate()
                            .map(|(i, v)| (item_pe(f, i, v), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let (lk, rk) = (keyed(ll), keyed(rl));
            for (pe, lv) in &lk {
                let rv = rk.iter().find(|(p, _)| p == pe).map(|(_, v)| v);
                path.push(pe.clone());
                walk_compare(Some(lv), rv, ity, true, path, c);
                path.pop();
            }
            for (pe, rv) in &rk {
                if lk.iter().any(|(p, _)| p == pe) {
                    continue;
                }
                path.push(pe.clone());
                walk_compare(None, Some(rv), ity, true, path, c);
                path.pop();
            }
        }
        _ => match (l, r) {
            // Go's typed objects hold `null` where a field is absent (`creationTimestamp`).
            (None, Some(Value::Null)) | (Some(Value::Null), None) => {}
            (None, Some(_)) => c.added.insert(path),
            (Some(_), None) => c.removed.insert(path),
            (Some(a), Some(b)) if a != b => c.modified.insert(path),
            _ => {}
        },
    }
    if !leaf {
        if l.is_none() && mark {
            c.added.insert(path);
        } else if r.is_none() {
            c.removed.insert(path);
        }
    }
}

fn as_list(n: Option<Node<'_>>) -> Option<(&[Value], &'static Field)> {
    match n {
        Some(Node::List(items, f)) => Some((items, f)),
        _ => None,
    }
}

/// Merges an applied configuration into a live value (upstream's `TypedValue.Merge`): maps merge
/// key by key (live order, then new keys), granular lists merge item by item, leaves are replaced.
pub fn merge(live: Option<&Value>, cfg: Option<&Value>, ty: Ty) -> Option<Value> {
    let (l, r) = match (live, cfg) {
        (None, r) => return r.cloned(),
        (l, None) => return l.cloned(),
        (Some(l), Some(r)) => (l, r),
    };
    if is_empty_value(l) && is_empty_value(r) {
        return Some(r.clone());
    }
    match (node(ty, l), node(ty, r)) {
        (Node::Object(lm), Node::Object(rm)) => {
            let mut out = Map::new();
            for (k, lv) in lm {
                let (cty, _) = child_ty(ty, k);
                if let Some(v) = merge(Some(lv), rm.get(k), cty) {
                    out.insert(k.clone(), v);
                }
            }
            for (k, rv) in rm {
                if !lm.contains_key(k) {
                    out.insert(k.clone(), rv.clone());
                }
            }
            Some(Value::Object(out))
        }
        (Node::List(la, f), Node::List(ra, _)) => {
            let ity = elem_ty(f);
            let rk: Vec<(PathElement, &Value)> = ra
                .iter()
                .enumerate()
                .map(|(i, v)| (item_pe(f, i, v), v))
                .collect();
            let mut seen = Vec::new();
            let mut out = Vec::new();
            for (i, lv) in la.iter().enumerate() {
                let pe = item_pe(f, i, lv);
                if seen.contains(&pe) {
                    continue;
                }
                let rv = rk.iter().find(|(p, _)| *p == pe).map(|(_, v)| *v);
                out.extend(merge(Some(lv), rv, ity));
                seen.push(pe);
            }
            for (pe, rv) in rk {
                if !seen.contains(&pe) {
                    out.push(rv.clone());
                    seen.push(pe);
                }
            }
            Some(Value::Array(out))
        }
        _ => Some(r.clone()),
    }
}

/// Removes from a merged object what the applier owned last time (`last`) and nobody owns now
/// (`owned`): upstream's prune, addBackOwnedItems and addBackDanglingItems in one walk.
pub fn prune(v: &mut Value, ty: Ty, last: &Set, owned: &Set) {
    prune_at(v, ty, &mut Vec::new(), last, owned);
}

fn prune_at(v: &mut Value, ty: Ty, path: &mut Path, last: &Set, owned: &Set) {
    match (ty, v) {
        (Ty::Struct(_) | Ty::Map(_) | Ty::Deduced | Ty::DeducedRoot, Value::Object(m)) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let (cty, declared) = child_ty(ty, &k);
                path.push(PathElement::Field(k.clone()));
                let kept = if declared {
                    owned.touches(path)
                } else {
                    owned.has(path)
                };
                if last.has(path) && !kept {
                    m.shift_remove(&k);
                } else if last.touches(path) {
                    if let Some(cv) = m.get_mut(&k) {
                        prune_at(cv, cty, path, last, owned);
                    }
                }
                path.pop();
            }
        }
        (Ty::List(f), Value::Array(items)) => {
            let ity = elem_ty(f);
            let old = std::mem::take(items);
            for (i, mut item) in old.into_iter().enumerate() {
                path.push(item_pe(f, i, &item));
                if last.has(path) && !owned.has(path) {
                    path.pop();
                    continue;
                }
                if last.touches(path) {
                    prune_at(&mut item, ity, path, last, owned);
                }
                items.push(item);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::apply::fieldpath::path_string;
    use serde_json::json;

    fn deploy_ty() -> Ty {
        Ty::for_kind("apps", "v1", "Deployment")
    }

    fn deploy(image: &str, env: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": image, "env": env}]}}}
        })
    }

    #[test]
    fn field_set_of_a_deployment() {
        let s = field_set(
            &deploy("nginx", json!([{"name": "A", "value": "1"}])),
            deploy_ty(),
        );
        let v = s.to_fields_v1();
        let c = &v["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"c"}"#];
        assert!(c.get(".").is_some() && c.get("f:image").is_some());
        assert!(c["f:env"][r#"k:{"name":"A"}"#].get("f:value").is_some());
        assert_eq!(v["f:spec"]["f:selector"], json!({}));
        assert_eq!(v["f:metadata"]["f:labels"], json!({"f:app": {}}));
    }

    #[test]
    fn compare_marks_new_maps_and_items() {
        let old = deploy("nginx", json!([{"name": "A", "value": "1"}]));
        let mut new = deploy("nginx:2", json!([{"name": "B", "value": "2"}]));
        new["metadata"]["annotations"] = json!({"x": "y"});
        let c = compare(Some(&old), Some(&new), deploy_ty());
        let modified: Vec<String> = c.modified.paths().iter().map(|p| path_string(p)).collect();
        assert_eq!(
            modified,
            [r#".spec.template.spec.containers[name="c"].image"#]
        );
        let added = c.added.to_fields_v1();
        assert_eq!(
            added["f:metadata"]["f:annotations"],
            json!({".": {}, "f:x": {}})
        );
        assert!(c.removed.has(&[
            PathElement::Field("spec".into()),
            PathElement::Field("template".into()),
            PathElement::Field("spec".into()),
            PathElement::Field("containers".into()),
            PathElement::key(vec![("name".into(), json!("c"))]),
            PathElement::Field("env".into()),
            PathElement::key(vec![("name".into(), json!("A"))]),
        ]));
    }

    #[test]
    fn merge_and_prune() {
        let live = deploy(
            "nginx",
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]),
        );
        let cfg_old = live.clone();
        let cfg = deploy("nginx:2", json!([{"name": "A", "value": "1"}]));
        let mut merged = merge(Some(&live), Some(&cfg), deploy_ty()).unwrap_or_default();
        assert_eq!(
            merged.pointer("/spec/template/spec/containers/0/env/1/name"),
            Some(&json!("B"))
        );
        let last = field_set(&cfg_old, deploy_ty());
        let owned = field_set(&cfg, deploy_ty());
        prune(&mut merged, deploy_ty(), &last, &owned);
        assert_eq!(
            merged.pointer("/spec/template/spec/containers/0/env"),
            Some(&json!([{"name": "A", "value": "1"}]))
        );
        assert_eq!(
            merged.pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("nginx:2"))
        );
    }

    #[test]
    fn untyped_objects_are_granular_maps_with_atomic_lists() {
        let ty = Ty::for_kind("example.com", "v1", "Widget");
        let v = json!({"metadata": {"labels": {"a": "b"}}, "spec": {"x": {"y": 1}, "l": [1, 2]}});
        let s = field_set(&v, ty).to_fields_v1();
        assert_eq!(
            s["f:spec"],
            json!({".": {}, "f:l": {}, "f:x": {".": {}, "f:y": {}}})
        );
        assert_eq!(s["f:metadata"], json!({"f:labels": {"f:a": {}}}));
    }
}
