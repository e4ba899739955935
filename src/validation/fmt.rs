//! Go-style rendering of values in error messages (`%q`, `%v`, `%#v`).

use serde_json::Value;

/// Quotes a string like Go's `strconv.Quote` / `%q`.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Renders a `map[string]string` the way Go's `%#v` does (sorted keys).
pub fn go_string_map(m: Option<&serde_json::Map<String, Value>>) -> String {
    match m {
        None => "map[string]string(nil)".to_string(),
        Some(m) => {
            let mut items: Vec<(&String, String)> = m
                .iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(go_quote)
                            .unwrap_or_else(|| go_quote(&v.to_string())),
                    )
                })
                .collect();
            items.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = items
                .into_iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), v))
                .collect();
            format!("map[string]string{{{}}}", inner.join(", "))
        }
    }
}

/// Renders a `[]string` the way Go's `%#v` does.
pub fn go_string_slice(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

/// Renders a `*metav1.LabelSelector` the way upstream error messages show it.
pub fn go_label_selector(sel: &Value) -> String {
    if sel.is_null() {
        return "null".to_string();
    }
    let ml = go_string_map(sel.get("matchLabels").and_then(Value::as_object));
    let me = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(exprs) => {
            let inner: Vec<String> = exprs
                .iter()
                .map(|e| {
                    let key = e.get("key").and_then(Value::as_str).unwrap_or("");
                    let op = e.get("operator").and_then(Value::as_str).unwrap_or("");
                    let values = match e.get("values").and_then(Value::as_array) {
                        None => "[]string(nil)".to_string(),
                        Some(vs) => go_string_slice(
                            &vs.iter()
                                .map(|v| v.as_str().unwrap_or("").to_string())
                                .collect::<Vec<_>>(),
                        ),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(key),
                        go_quote(op),
                        values
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", inner.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{ml}, MatchExpressions:{me}}}")
}

/// Renders an `intstr.IntOrString` the way Go's `%#v` does.
pub fn go_int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            go_quote(s)
        ),
        Some(Value::Number(n)) => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            n.as_i64().unwrap_or(0)
        ),
        _ => "intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}".to_string(),
    }
}

/// Renders an arbitrary JSON value as upstream would print the equivalent Go value.
pub fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(m) if m.values().all(Value::is_string) => go_string_map(Some(m)),
        Value::Array(a) if a.iter().all(Value::is_string) => go_string_slice(
            &a.iter()
                .map(|s| s.as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>(),
        ),
        other => other.to_string(),
    }
}
