//! Structural schemas of custom resources: pruning of unknown fields, defaulting and
//! validation against `openAPIV3Schema`, with upstream's (kube-openapi) error messages.

use serde_json::{Map, Value};

use crate::validation::FieldError;

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn props(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Drops fields the schema does not know (unless `x-kubernetes-preserve-unknown-fields`),
/// recording their paths in `unknown`. `apiVersion`, `kind` and `metadata` stay at the root
/// and in embedded resources.
pub fn prune(schema: &Value, obj: &mut Value, unknown: &mut Vec<String>) {
    prune_at(schema, obj, "", true, unknown);
}

fn prune_at(schema: &Value, v: &mut Value, path: &str, root: bool, unknown: &mut Vec<String>) {
    if is_true(schema, "x-kubernetes-int-or-string") {
        return;
    }
    let embedded = root || is_true(schema, "x-kubernetes-embedded-resource");
    match v {
        Value::Object(m) => {
            let preserve = is_true(schema, "x-kubernetes-preserve-unknown-fields");
            let props = props(schema);
            let additional = schema.get("additionalProperties");
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if embedded && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    if k == "metadata" && !root {
                        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
                            prune_metadata(meta, &child(path, "metadata"), unknown);
                        }
                    }
                    continue;
                }
                let sub = props.and_then(|p| p.get(&k)).or(match additional {
                    Some(a) if a.is_object() => Some(a),
                    _ => None,
                });
                match sub {
                    Some(sub) => {
                        if let Some(val) = m.get_mut(&k) {
                            prune_at(sub, val, &child(path, &k), false, unknown);
                        }
                    }
                    None if preserve || additional == Some(&Value::Bool(true)) => {}
                    None => {
                        m.shift_remove(&k);
                        unknown.push(child(path, &k));
                    }
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for (i, item) in a.iter_mut().enumerate() {
                    prune_at(items, item, &format!("{path}[{i}]"), false, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Embedded ObjectMeta keeps only ObjectMeta's fields.
fn prune_metadata(meta: &mut Map<String, Value>, path: &str, unknown: &mut Vec<String>) {
    use crate::api::store::OBJECT_META_FIELDS as FIELDS;
    let keys: Vec<String> = meta.keys().cloned().collect();
    for k in keys {
        if !FIELDS.contains(&k.as_str()) {
            meta.shift_remove(&k);
            unknown.push(child(path, &k));
        }
    }
}

/// Applies `default`s of absent (or null, when not nullable) properties, recursively; drops
/// other nulls of non-nullable properties.
pub fn default(schema: &Value, v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(props) = props(schema) {
                for (k, sub) in props {
                    let nullable = is_true(sub, "nullable");
                    let present = m.get(k);
                    let missing = present.is_none() || (present == Some(&Value::Null) && !nullable);
                    if missing {
                        match sub.get("default") {
                            Some(d) => {
                                m.insert(k.clone(), d.clone());
                            }
                            None if present.is_some() => {
                                m.shift_remove(k);
                            }
                            None => {}
                        }
                    }
                    if let Some(val) = m.get_mut(k) {
                        default(sub, val);
                    }
                }
            }
            if let Some(add) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                let known = props(schema);
                for (k, val) in m.iter_mut() {
                    if known.is_some_and(|p| p.contains_key(k)) {
                        continue;
                    }
                    default(add, val);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for item in a.iter_mut() {
                    default(items, item);
                }
            }
        }
        _ => {}
    }
}

/// The JSON type name of a value, as kube-openapi names it.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(expected: &str, v: &Value) -> bool {
    match (expected, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        ("string", Value::String(_)) => true,
        ("boolean", Value::Bool(_)) => true,
        ("object", Value::Object(_)) => true,
        ("array", Value::Array(_)) => true,
        ("", _) => true,
        _ => false,
    }
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// Validates `obj` against the schema; errors carry upstream's paths and messages.
pub fn validate(schema: &Value, obj: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    // The root's apiVersion, kind and metadata are checked by the generic machinery.
    if let (Some(m), Some(props)) = (obj.as_object(), props(schema)) {
        for (k, sub) in props {
            if matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            if let Some(v) = m.get(k) {
                validate_at(sub, v, k, &mut errs);
            }
        }
        required(schema, m, "", &mut errs);
    }
    errs
}

fn required(schema: &Value, m: &Map<String, Value>, path: &str, errs: &mut Vec<FieldError>) {
    for r in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !m.contains_key(r) {
            errs.push(FieldError::required(&child(path, r), ""));
        }
    }
}

fn invalid(path: &str, v: &Value, detail: String) -> FieldError {
    FieldError::invalid(path, v.clone(), &detail)
}

fn validate_at(schema: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    if v.is_null() && is_true(schema, "nullable") {
        return;
    }
    if is_true(schema, "x-kubernetes-int-or-string") {
        if !matches!(type_name(v), "integer" | "string") {
            let t = type_name(v);
            errs.push(invalid(
                path,
                &Value::from(t),
                format!("{path} in body must be of type integer,string: \"{t}\""),
            ));
            return;
        }
    } else {
        let expected = schema.get("type").and_then(Value::as_str).unwrap_or("");
        if !type_matches(expected, v) {
            let t = type_name(v);
            errs.push(invalid(
                path,
                &Value::from(t),
                format!("{path} in body must be of type {expected}: \"{t}\""),
            ));
            return;
        }
    }
    if let Some(en) = schema.get("enum").and_then(Value::as_array) {
        if !en.contains(v) {
            let allowed: Vec<String> = en
                .iter()
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = allowed.iter().map(String::as_str).collect();
            errs.push(FieldError::not_supported(path, v.clone(), &refs));
        }
    }
    match v {
        Value::Number(_) => numeric(schema, v, path, errs),
        Value::String(s) => string(schema, s, v, path, errs),
        Value::Array(a) => {
            let n = a.len();
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if n as u64 > max {
                    errs.push(FieldError::too_many(path, n, max as usize));
                }
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (n as u64) < min {
                    errs.push(invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} items"),
                    ));
                }
            }
            if let Some(items) = schema.get("items") {
                for (i, item) in a.iter().enumerate() {
                    validate_at(items, item, &format!("{path}[{i}]"), errs);
                }
            }
        }
        Value::Object(m) => {
            if is_true(schema, "x-kubernetes-embedded-resource") {
                for f in ["apiVersion", "kind"] {
                    if m.get(f).and_then(Value::as_str).unwrap_or("").is_empty() {
                        errs.push(FieldError::required(&child(path, f), "must not be empty"));
                    }
                }
            }
            let n = m.len() as u64;
            if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64) {
                if n > max {
                    errs.push(FieldError::too_many(path, n as usize, max as usize));
                }
            }
            if let Some(min) = schema.get("minProperties").and_then(Value::as_u64) {
                if n < min {
                    errs.push(invalid(
                        path,
                        v,
                        format!("{path} in body should have at least {min} properties"),
                    ));
                }
            }
            let props = props(schema);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, val) in m {
                if let Some(sub) = props.and_then(|p| p.get(k)).or(additional) {
                    validate_at(sub, val, &child(path, k), errs);
                }
            }
            required(schema, m, path, errs);
        }
        _ => {}
    }
}

fn numeric(schema: &Value, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let Some(x) = num(v) else { return };
    if let Some(max) = schema.get("maximum").and_then(num) {
        if is_true(schema, "exclusiveMaximum") && x >= max {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body should be less than {}",
                    fmt_num(&schema["maximum"])
                ),
            ));
        } else if x > max {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body should be less than or equal to {}",
                    fmt_num(&schema["maximum"])
                ),
            ));
        }
    }
    if let Some(min) = schema.get("minimum").and_then(num) {
        if is_true(schema, "exclusiveMinimum") && x <= min {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body should be greater than {}",
                    fmt_num(&schema["minimum"])
                ),
            ));
        } else if x < min {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body should be greater than or equal to {}",
                    fmt_num(&schema["minimum"])
                ),
            ));
        }
    }
    if let Some(m) = schema.get("multipleOf").and_then(num).filter(|m| *m > 0.0) {
        if (x / m).fract() != 0.0 {
            errs.push(invalid(
                path,
                v,
                format!(
                    "{path} in body should be a multiple of {}",
                    fmt_num(&schema["multipleOf"])
                ),
            ));
        }
    }
}

fn fmt_num(v: &Value) -> String {
    match v.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => v.to_string(),
    }
}

fn string(schema: &Value, s: &str, v: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        if len > max {
            errs.push(FieldError::too_long(path, max as usize));
        }
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
        if len < min {
            errs.push(invalid(
                path,
                v,
                format!("{path} in body should be at least {min} chars long"),
            ));
        }
    }
    if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
        if let Ok(re) = regex::Regex::new(p) {
            if !re.is_match(s) {
                errs.push(invalid(
                    path,
                    v,
                    format!("{path} in body should match '{p}'"),
                ));
            }
        }
    }
    if let Some(f) = schema.get("format").and_then(Value::as_str) {
        if let Some(msg) = check_format(f, s) {
            errs.push(invalid(
                path,
                v,
                format!("{path} in body must be of type {f}: {msg}"),
            ));
        }
    }
}

/// Checks the formats upstream validates; returns the value as quoted in the message on error.
fn check_format(format: &str, s: &str) -> Option<String> {
    let ok = match format {
        "int-or-string" => true,
        "date-time" => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        "date" => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "ipv4" => s.parse::<std::net::Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<std::net::Ipv6Addr>().is_ok(),
        "byte" => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(s).is_ok()
        }
        _ => true,
    };
    (!ok).then(|| format!("{s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crontab() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "cronSpec": {"type": "string", "pattern": "^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$"},
            "image": {"type": "string", "maxLength": 10},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "port": {"x-kubernetes-int-or-string": true},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }, "required": ["cronSpec"]}}})
    }

    #[test]
    fn prunes_unknown_fields_and_keeps_preserved() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"cronSpec": "* * * * *", "bogus": 1, "free": {"x": 1}}, "top": 2});
        let mut unknown = Vec::new();
        prune(&crontab(), &mut o, &mut unknown);
        assert_eq!(unknown, vec!["spec.bogus".to_string(), "top".to_string()]);
        assert_eq!(o["spec"]["free"]["x"], 1);
        assert!(o.get("top").is_none());
    }

    #[test]
    fn defaults_and_validates_with_upstream_messages() {
        let mut o = json!({"spec": {"cronSpec": "* * * * *"}});
        default(&crontab(), &mut o);
        assert_eq!(o["spec"]["replicas"], 1);
        let bad = json!({"spec": {"replicas": "x", "image": "12345678901", "mode": "c",
            "port": true}});
        let msgs: Vec<String> = validate(&crontab(), &bad)
            .iter()
            .map(|e| e.message())
            .collect();
        assert!(msgs.contains(&"spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"".to_string()), "{msgs:?}");
        assert!(
            msgs.contains(&"spec.cronSpec: Required value".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("spec.mode: Unsupported value: \"c\"")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter().any(|m| m.starts_with("spec.image: Too long")),
            "{msgs:?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("spec.port: Invalid value: \"boolean\"")),
            "{msgs:?}"
        );
        let bad = json!({"spec": {"cronSpec": "x", "replicas": 20}});
        let msgs: Vec<String> = validate(&crontab(), &bad)
            .iter()
            .map(|e| e.message())
            .collect();
        assert!(msgs.contains(&"spec.replicas: Invalid value: 20: spec.replicas in body should be less than or equal to 10".to_string()), "{msgs:?}");
        assert!(
            msgs.iter().any(|m| m.starts_with(
                "spec.cronSpec: Invalid value: \"x\": spec.cronSpec in body should match"
            )),
            "{msgs:?}"
        );
    }
}
