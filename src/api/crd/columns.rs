//! `additionalPrinterColumns`: Table columns of custom resources, with a small JSONPath
//! evaluator for the paths CRDs use (`.spec.x`, `.a[0].b`, `.a[?(@.type=="Ready")].status`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// One printer column.
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// `integer`, `number`, `string`, `boolean` or `date`.
    pub type_: String,
    /// OpenAPI format.
    pub format: String,
    /// Description.
    pub description: String,
    /// Priority (0 = default view).
    pub priority: i64,
    /// JSONPath of the value.
    pub json_path: String,
}

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// The columns of a CRD version (`Age` when it declares none).
pub fn from_version(version: &Value) -> Vec<PrinterColumn> {
    let cols: Vec<PrinterColumn> = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|c| {
                    let get = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                    let json_path = get("jsonPath");
                    let mut description = get("description");
                    if description.is_empty() {
                        description = format!(
                            "Custom resource definition column (in JSONPath format): {json_path}"
                        );
                    }
                    PrinterColumn {
                        name: get("name"),
                        type_: get("type"),
                        format: get("format"),
                        description,
                        priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        json_path,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if !cols.is_empty() {
        return cols;
    }
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        format: String::new(),
        description:
            "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp"
                .into(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".into(),
    }]
}

/// The Table `columnDefinitions` (Name first).
pub fn definitions(cols: &[PrinterColumn]) -> Value {
    let mut out = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}),
    ];
    for c in cols {
        out.push(json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority}));
    }
    Value::Array(out)
}

/// The row cells of an object.
pub fn cells(cols: &[PrinterColumn], obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut out = vec![obj.pointer("/metadata/name").cloned().unwrap_or(json!(""))];
    for c in cols {
        let found = eval(&c.json_path, obj);
        let cell = match found.first() {
            None => Value::Null,
            Some(v) => cell(&c.type_, v, now),
        };
        out.push(cell);
    }
    out
}

fn cell(type_: &str, v: &Value, now: DateTime<Utc>) -> Value {
    match type_ {
        "date" => match v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            Some(t) => {
                let d = now.signed_duration_since(t.with_timezone(&Utc));
                json!(crate::printers::human_duration(d))
            }
            None => Value::Null,
        },
        "integer" => match v.as_i64() {
            Some(i) => json!(i),
            None => v
                .as_f64()
                .filter(|f| f.fract() == 0.0)
                .map_or(Value::Null, |f| json!(f as i64)),
        },
        "number" => {
            if v.is_number() {
                v.clone()
            } else {
                Value::Null
            }
        }
        "boolean" => {
            if v.is_boolean() {
                v.clone()
            } else {
                Value::Null
            }
        }
        _ => match v {
            Value::String(_) => v.clone(),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

/// Splits a simple JSONPath into steps.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    All,
    Filter(String, String),
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or(p);
    let p = p.strip_prefix('$').unwrap_or(p);
    let chars: Vec<char> = p.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if !key.is_empty() {
                    steps.push(Step::Key(key));
                }
            }
            '[' => {
                let end = chars[i..].iter().position(|c| *c == ']')? + i;
                let inner: String = chars[i + 1..end].iter().collect();
                let inner = inner.trim();
                if inner == "*" {
                    steps.push(Step::All);
                } else if let Ok(n) = inner.parse::<usize>() {
                    steps.push(Step::Index(n));
                } else if let Some(f) = inner.strip_prefix("?(@.").and_then(|f| f.strip_suffix(')'))
                {
                    let (k, v) = f.split_once("==")?;
                    let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                    steps.push(Step::Filter(k.trim().to_string(), v.to_string()));
                } else {
                    steps.push(Step::Key(
                        inner.trim_matches(|c| c == '"' || c == '\'').to_string(),
                    ));
                }
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// Evaluates a simple JSONPath; every match in order.
pub fn eval<'a>(path: &str, obj: &'a Value) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut cur = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in cur {
            match step {
                Step::Key(k) => next.extend(v.get(k.as_str())),
                Step::Index(n) => next.extend(v.get(*n)),
                Step::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(m) => next.extend(m.values()),
                    _ => {}
                },
                Step::Filter(k, want) => {
                    for item in v.as_array().into_iter().flatten() {
                        let got = item.get(k.as_str()).map(|x| match x {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        });
                        if got.as_deref() == Some(want.as_str()) {
                            next.push(item);
                        }
                    }
                }
            }
        }
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_simple_paths() {
        let o = json!({"spec": {"a": [1, 2]}, "status": {"conditions": [{"type": "A", "status": "x"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(eval(".spec.a[1]", &o), vec![&json!(2)]);
        assert_eq!(
            eval(".status.conditions[?(@.type==\"Ready\")].status", &o),
            vec![&json!("True")]
        );
        assert!(eval(".spec.none", &o).is_empty());
    }

    #[test]
    fn cells_follow_column_types() {
        let cols = from_version(&json!({"additionalPrinterColumns": [
            {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}]}));
        let o =
            json!({"metadata": {"name": "x"}, "spec": {"cronSpec": "* * * * */5", "replicas": 3}});
        assert_eq!(
            cells(&cols, &o, Utc::now()),
            vec![json!("x"), json!("* * * * */5"), json!(3)]
        );
        assert_eq!(from_version(&json!({}))[0].name, "Age");
    }
}
