//! Field paths and sets of them, as sigs.k8s.io/structured-merge-diff models and serializes them
//! (`FieldsV1`: `f:name`, `k:{"name":"c"}`, `v:"x"`, `i:0`, `.` marking a node that is itself a
//! member and has children).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// A malformed `fieldsV1` document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FieldPathError {
    /// A key that is not `.`, `f:`, `k:`, `v:` or `i:`.
    #[error("unknown path element prefix in {0:?}")]
    UnknownPrefix(String),
    /// A `k:`/`v:` element whose JSON does not parse (or a `k:` that is not an object).
    #[error("invalid path element {0:?}")]
    InvalidElement(String),
    /// A value that is not a JSON object.
    #[error("expected an object in fieldsV1")]
    NotAnObject,
}

/// One step of a path: a struct/map field, a list-map key, a set value or a list index.
#[derive(Clone, Debug)]
pub enum PathElement {
    /// `f:<name>`.
    Field(String),
    /// `k:{...}`: the key fields of a list-map item, sorted by name.
    Key(Vec<(String, Value)>),
    /// `v:<json>`: an item of a set.
    Value(Value),
    /// `i:<n>`: an index into a list without keys.
    Index(i64),
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Number(_) => 0,
        Value::String(_) => 1,
        Value::Bool(_) => 2,
        Value::Array(_) => 3,
        Value::Object(_) => 4,
        Value::Null => 5,
    }
}

/// Orders values as structured-merge-diff's `value.Compare` does (numbers, strings, booleans,
/// lists, maps, null).
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => {
                let (p, q) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
                p.partial_cmp(&q).unwrap_or(Ordering::Equal)
            }
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let c = compare_values(p, q);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<_> = x.iter().collect();
            let mut ys: Vec<_> = y.iter().collect();
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            for ((kp, vp), (kq, vq)) in xs.iter().zip(&ys) {
                let c = kp.cmp(kq).then_with(|| compare_values(vp, vq));
                if c != Ordering::Equal {
                    return c;
                }
            }
            xs.len().cmp(&ys.len())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

impl PathElement {
    fn kind(&self) -> u8 {
        match self {
            PathElement::Field(_) => 0,
            PathElement::Key(_) => 1,
            PathElement::Value(_) => 2,
            PathElement::Index(_) => 3,
        }
    }

    /// A list-map key from its fields (sorted by name as upstream keeps them).
    pub fn key(mut fields: Vec<(String, Value)>) -> PathElement {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        PathElement::Key(fields)
    }

    /// The `FieldsV1` encoding of this element (`f:spec`, `k:{"name":"c"}`, …).
    pub fn encode(&self) -> String {
        match self {
            PathElement::Field(n) => format!("f:{n}"),
            PathElement::Key(fields) => {
                let mut m = Map::new();
                for (k, v) in fields {
                    m.insert(k.clone(), v.clone());
                }
                format!("k:{}", Value::Object(m))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }

    /// Parses one `FieldsV1` key.
    pub fn decode(s: &str) -> Result<PathElement, FieldPathError> {
        let invalid = || FieldPathError::InvalidElement(s.to_string());
        if let Some(n) = s.strip_prefix("f:") {
            return Ok(PathElement::Field(n.to_string()));
        }
        if let Some(j) = s.strip_prefix("k:") {
            let v: Value = serde_json::from_str(j).map_err(|_| invalid())?;
            let Value::Object(m) = v else {
                return Err(invalid());
            };
            return Ok(PathElement::key(m.into_iter().collect()));
        }
        if let Some(j) = s.strip_prefix("v:") {
            return serde_json::from_str(j)
                .map(PathElement::Value)
                .map_err(|_| invalid());
        }
        if let Some(j) = s.strip_prefix("i:") {
            return j.parse().map(PathElement::Index).map_err(|_| invalid());
        }
        Err(FieldPathError::UnknownPrefix(s.to_string()))
    }
}

impl Ord for PathElement {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (PathElement::Field(a), PathElement::Field(b)) => a.cmp(b),
            (PathElement::Key(a), PathElement::Key(b)) => {
                for ((ka, va), (kb, vb)) in a.iter().zip(b) {
                    let c = ka.cmp(kb).then_with(|| compare_values(va, vb));
                    if c != Ordering::Equal {
                        return c;
                    }
                }
                a.len().cmp(&b.len())
            }
            (PathElement::Value(a), PathElement::Value(b)) => compare_values(a, b),
            (PathElement::Index(a), PathElement::Index(b)) => a.cmp(b),
            _ => self.kind().cmp(&other.kind()),
        }
    }
}

impl PartialOrd for PathElement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PathElement {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for PathElement {}

impl fmt::Display for PathElement {
    /// Upstream's `Path.String()` form: `.spec`, `[name="c"]`, `[="x"]`, `[0]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(n) => write!(f, ".{n}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the root of an object.
pub type Path = Vec<PathElement>;

/// Renders a path as upstream's `Path.String()` (`.spec.replicas`).
pub fn path_string(p: &[PathElement]) -> String {
    p.iter().map(ToString::to_string).collect()
}

/// A set of paths, held as a tree: the members at this level and the subsets below children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Set {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, Set>,
}

impl Set {
    /// The empty set.
    pub fn new() -> Set {
        Set::default()
    }

    /// True when no path is in the set.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(Set::is_empty)
    }

    /// Adds a path (the empty path is ignored).
    pub fn insert(&mut self, path: &[PathElement]) {
        let Some((last, rest)) = path.split_last() else {
            return;
        };
        let mut node = self;
        for pe in rest {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.members.insert(last.clone());
    }

    /// True when the path itself is a member.
    pub fn has(&self, path: &[PathElement]) -> bool {
        let Some((last, rest)) = path.split_last() else {
            return false;
        };
        self.subset(rest).is_some_and(|s| s.members.contains(last))
    }

    /// True when the path is a member or some member lies below it.
    pub fn touches(&self, path: &[PathElement]) -> bool {
        self.has(path) || self.subset(path).is_some_and(|s| !s.is_empty())
    }

    /// The subset below a path (paths relative to it).
    pub fn subset(&self, path: &[PathElement]) -> Option<&Set> {
        let mut node = self;
        for pe in path {
            node = node.children.get(pe)?;
        }
        Some(node)
    }

    /// `self ∪ other`.
    pub fn union(&self, other: &Set) -> Set {
        let mut out = self.clone();
        out.members.extend(other.members.iter().cloned());
        for (pe, s) in &other.children {
            let merged = match out.children.get(pe) {
                Some(mine) => mine.union(s),
                None => s.clone(),
            };
            out.children.insert(pe.clone(), merged);
        }
        out
    }

    /// `self ∖ other` (members removed; children differenced level by level).
    pub fn difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            let d = match other.children.get(pe) {
                Some(o) => s.difference(o),
                None => s.clone(),
            };
            if !d.is_empty() {
                children.insert(pe.clone(), d);
            }
        }
        Set { members, children }
    }

    /// `self ∩ other`.
    pub fn intersection(&self, other: &Set) -> Set {
        let members = self.members.intersection(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            if let Some(o) = other.children.get(pe) {
                let i = s.intersection(o);
                if !i.is_empty() {
                    children.insert(pe.clone(), i);
                }
            }
        }
        Set { members, children }
    }

    /// `self` without every path in `other` and everything below those paths.
    pub fn recursive_difference(&self, other: &Set) -> Set {
        let members = self.members.difference(&other.members).cloned().collect();
        let mut children = BTreeMap::new();
        for (pe, s) in &self.children {
            if other.members.contains(pe) {
                continue;
            }
            let d = match other.children.get(pe) {
                Some(o) => s.recursive_difference(o),
                None => s.clone(),
            };
            if !d.is_empty() {
                children.insert(pe.clone(), d);
            }
        }
        Set { members, children }
    }

    /// Only the paths at or below `prefix`.
    pub fn with_prefix(&self, prefix: &[PathElement]) -> Set {
        let mut out = Set::new();
        let Some((last, rest)) = prefix.split_last() else {
            return self.clone();
        };
        let Some(parent) = self.subset(rest) else {
            return out;
        };
        let mut node = &mut out;
        for pe in rest {
            node = node.children.entry(pe.clone()).or_default();
        }
        if parent.members.contains(last) {
            node.members.insert(last.clone());
        }
        if let Some(c) = parent.children.get(last) {
            node.children.insert(last.clone(), c.clone());
        }
        out
    }

    /// Every member path, in upstream's iteration order (members of a level, then its children).
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        for m in &self.members {
            let mut p = prefix.clone();
            p.push(m.clone());
            out.push(p);
        }
        for (pe, s) in &self.children {
            prefix.push(pe.clone());
            s.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The `fieldsV1` document of this set.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut keys: BTreeSet<&PathElement> = self.members.iter().collect();
        keys.extend(
            self.children
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(k, _)| k),
        );
        for pe in keys {
            let member = self.members.contains(pe);
            let body = match self.children.get(pe).filter(|s| !s.is_empty()) {
                Some(child) => child.emit(member),
                None => Map::new(),
            };
            out.insert(pe.encode(), Value::Object(body));
        }
        out
    }

    /// Parses a `fieldsV1` document.
    pub fn from_fields_v1(v: &Value) -> Result<Set, FieldPathError> {
        let Value::Object(m) = v else {
            return Err(FieldPathError::NotAnObject);
        };
        let mut out = Set::new();
        for (k, child) in m {
            if k == "." {
                continue;
            }
            let pe = PathElement::decode(k)?;
            let Value::Object(cm) = child else {
                return Err(FieldPathError::NotAnObject);
            };
            if cm.is_empty() || cm.contains_key(".") {
                out.members.insert(pe.clone());
            }
            if cm.keys().any(|k| k != ".") {
                let sub = Set::from_fields_v1(child)?;
                if !sub.is_empty() {
                    out.children.insert(pe, sub);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(n: &str) -> PathElement {
        PathElement::Field(n.into())
    }

    #[test]
    fn encodes_like_upstream() {
        let mut s = Set::new();
        let item = PathElement::key(vec![("name".into(), json!("c"))]);
        s.insert(&[f("spec"), f("replicas")]);
        s.insert(&[f("spec"), f("containers"), item.clone()]);
        s.insert(&[f("spec"), f("containers"), item.clone(), f("image")]);
        s.insert(&[f("spec"), f("containers"), item, f("name")]);
        s.insert(&[
            f("metadata"),
            f("finalizers"),
            PathElement::Value(json!("a")),
        ]);
        let v = s.to_fields_v1();
        assert_eq!(
            serde_json::to_string(&v).unwrap_or_default(),
            r#"{"f:metadata":{"f:finalizers":{"v:\"a\"":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{},"f:name":{}}},"f:replicas":{}}}"#
        );
        assert_eq!(Set::from_fields_v1(&v), Ok(s));
    }

    #[test]
    fn keys_are_sorted_and_compared_by_value() {
        let k = PathElement::key(vec![
            ("protocol".into(), json!("TCP")),
            ("containerPort".into(), json!(80)),
        ]);
        assert_eq!(k.encode(), r#"k:{"containerPort":80,"protocol":"TCP"}"#);
        assert_eq!(PathElement::decode(&k.encode()), Ok(k.clone()));
        assert_eq!(k.to_string(), r#"[containerPort=80,protocol="TCP"]"#);
        assert!(f("z") < k && k < PathElement::Value(json!(1)));
        assert!(PathElement::Value(json!(2)) < PathElement::Value(json!("1")));
        assert!(PathElement::decode("x:y").is_err());
    }

    #[test]
    fn set_operations() {
        let mut a = Set::new();
        a.insert(&[f("spec"), f("replicas")]);
        a.insert(&[f("spec"), f("paused")]);
        a.insert(&[f("metadata")]);
        let mut b = Set::new();
        b.insert(&[f("spec"), f("replicas")]);
        let d = a.difference(&b);
        assert!(!d.has(&[f("spec"), f("replicas")]) && d.has(&[f("spec"), f("paused")]));
        assert_eq!(a.intersection(&b), b);
        assert_eq!(b.union(&d), a);
        let mut spec = Set::new();
        spec.insert(&[f("spec")]);
        let r = a.recursive_difference(&spec);
        assert!(!r.touches(&[f("spec")]) && r.has(&[f("metadata")]));
        assert_eq!(a.with_prefix(&[f("spec"), f("replicas")]), b);
        assert_eq!(
            a.paths().iter().map(|p| path_string(p)).collect::<Vec<_>>(),
            [".metadata", ".spec.paused", ".spec.replicas"]
        );
        assert!(a.touches(&[f("spec")]) && !a.has(&[f("spec")]));
    }
}
