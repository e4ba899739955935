//! Helpers for walking untrusted JSON: typed accessors that record type
//! errors instead of panicking, and field-path builders.

use super::FieldError;
use serde_json::{Map, Value};

/// Appends `.name` to a path (or starts one).
pub fn child(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Appends `[i]` to a path.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Appends `[key]` to a path.
pub fn key(path: &str, k: &str) -> String {
    format!("{path}[{k}]")
}

/// The validation context: collects errors.
#[derive(Default)]
pub struct Ctx {
    /// Errors found so far.
    pub errs: Vec<FieldError>,
}

impl Ctx {
    /// Records an error.
    pub fn push(&mut self, e: FieldError) {
        self.errs.push(e);
    }

    /// Records `Invalid` errors, one per message.
    pub fn invalid_each(&mut self, path: &str, value: &str, msgs: Vec<String>) {
        for m in msgs {
            self.errs.push(FieldError::invalid(path, value, &m));
        }
    }

    /// A string field; `None` when absent or null; records a type error otherwise.
    pub fn str<'a>(&mut self, obj: &'a Value, name: &str, path: &str) -> Option<&'a str> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => {
                self.errs.push(FieldError::type_invalid(
                    &child(path, name),
                    other,
                    "string",
                ));
                None
            }
        }
    }

    /// A string field, empty when absent.
    pub fn string<'a>(&mut self, obj: &'a Value, name: &str, path: &str) -> &'a str {
        self.str(obj, name, path).unwrap_or("")
    }

    /// An integer field.
    pub fn int(&mut self, obj: &Value, name: &str, path: &str) -> Option<i64> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => Some(i),
                None => {
                    self.errs.push(FieldError::type_invalid(
                        &child(path, name),
                        &Value::Number(n.clone()),
                        "integer",
                    ));
                    None
                }
            },
            Some(other) => {
                self.errs.push(FieldError::type_invalid(
                    &child(path, name),
                    other,
                    "integer",
                ));
                None
            }
        }
    }

    /// A boolean field.
    pub fn bool(&mut self, obj: &Value, name: &str, path: &str) -> Option<bool> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.errs.push(FieldError::type_invalid(
                    &child(path, name),
                    other,
                    "boolean",
                ));
                None
            }
        }
    }

    /// An object field.
    pub fn obj<'a>(&mut self, obj: &'a Value, name: &str, path: &str) -> Option<&'a Value> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(other) => {
                self.errs.push(FieldError::type_invalid(
                    &child(path, name),
                    other,
                    "object",
                ));
                None
            }
        }
    }

    /// An array field; empty when absent.
    pub fn arr<'a>(&mut self, obj: &'a Value, name: &str, path: &str) -> &'a [Value] {
        match obj.get(name) {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(other) => {
                self.errs
                    .push(FieldError::type_invalid(&child(path, name), other, "array"));
                &[]
            }
        }
    }

    /// A `map[string]string` field: `None` when absent; entries with
    /// non-string values are reported and skipped.
    pub fn string_map<'a>(
        &mut self,
        obj: &'a Value,
        name: &str,
        path: &str,
    ) -> Option<Vec<(&'a str, &'a str)>> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                let p = child(path, name);
                Some(self.string_entries(m, &p))
            }
            Some(other) => {
                self.errs.push(FieldError::type_invalid(
                    &child(path, name),
                    other,
                    "object",
                ));
                None
            }
        }
    }

    /// The string entries of a JSON object, reporting non-string values.
    pub fn string_entries<'a>(
        &mut self,
        m: &'a Map<String, Value>,
        path: &str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut out = Vec::new();
        for (k, v) in m {
            match v {
                Value::String(s) => out.push((k.as_str(), s.as_str())),
                Value::Null => out.push((k.as_str(), "")),
                other => self
                    .errs
                    .push(FieldError::type_invalid(&key(path, k), other, "string")),
            }
        }
        out
    }
}

/// Non-failing lookup of a nested string (for comparisons).
pub fn peek_str<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(*p)?;
    }
    cur.as_str()
}

/// Non-failing lookup of a nested value.
pub fn peek<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = obj;
    for p in path {
        cur = cur.get(*p)?;
    }
    Some(cur)
}

/// `ValidateNonnegativeField`.
pub fn nonnegative(v: &mut Ctx, value: Option<i64>, path: &str) {
    if let Some(n) = value {
        if n < 0 {
            v.push(FieldError::invalid(
                path,
                n,
                "must be greater than or equal to 0",
            ));
        }
    }
}
