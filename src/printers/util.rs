//! Small, panic-free accessors over `serde_json::Value` plus the formatting
//! helpers upstream's printers share (durations, label selectors, ...).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Walks `path` from `v`; returns `Value::Null` (by reference) when absent.
pub(crate) fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return &NULL,
        }
    }
    cur
}

/// String at `path`, or `""` when absent or not a string.
pub(crate) fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    at(v, path).as_str().unwrap_or("")
}

/// Integer at `path`, or `0` when absent or not an integer.
pub(crate) fn i(v: &Value, path: &[&str]) -> i64 {
    let x = at(v, path);
    x.as_i64()
        .or_else(|| x.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

/// Optional integer at `path`.
pub(crate) fn opt_i(v: &Value, path: &[&str]) -> Option<i64> {
    let x = at(v, path);
    x.as_i64().or_else(|| x.as_f64().map(|f| f as i64))
}

/// Boolean at `path`, or `false`.
pub(crate) fn b(v: &Value, path: &[&str]) -> bool {
    at(v, path).as_bool().unwrap_or(false)
}

/// Array at `path`, or an empty slice.
pub(crate) fn arr<'a>(v: &'a Value, path: &[&str]) -> &'a [Value] {
    at(v, path).as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Number of entries of the object (map) at `path`.
pub(crate) fn map_len(v: &Value, path: &[&str]) -> i64 {
    at(v, path).as_object().map(|m| m.len() as i64).unwrap_or(0)
}

/// Whether the value at `path` is a JSON object (Go: a non-nil pointer struct).
pub(crate) fn is_obj(v: &Value, path: &[&str]) -> bool {
    at(v, path).is_object()
}

/// Parses an RFC 3339 timestamp (metav1.Time / metav1.MicroTime).
pub(crate) fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let t = v.as_str()?;
    if t.is_empty() {
        return None;
    }
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Upstream `translateTimestampSince`: `<unknown>` for a zero time.
pub(crate) fn since(v: &Value, now: DateTime<Utc>) -> String {
    match parse_time(v) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_string(),
    }
}

/// The object's Age cell.
pub(crate) fn age(obj: &Value, now: DateTime<Utc>) -> String {
    since(at(obj, &["metadata", "creationTimestamp"]), now)
}

/// Port of `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d.num_minutes();
    if minutes < 10 {
        let s = seconds % 60;
        if s == 0 {
            return format!("{minutes}m");
        }
        return format!("{minutes}m{s}s");
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d.num_hours();
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            return format!("{hours}h");
        }
        return format!("{hours}h{m}m");
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            return format!("{}d", hours / 24);
        }
        return format!("{}d{}h", hours / 24, h);
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            return format!("{}y", hours / 24 / 365);
        }
        return format!("{}y{}d", hours / 24 / 365, dy);
    }
    format!("{}y", hours / 24 / 365)
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
pub(crate) fn format_labels(v: &Value) -> String {
    let mut pairs: Vec<String> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, val)| format!("{}={}", k, val.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// `metav1.LabelSelectorAsSelector(sel).String()`; `Err` for an invalid selector.
/// A nil selector (Nothing) and an empty one (Everything) both render as `""`.
pub(crate) fn label_selector_string(sel: &Value) -> Result<String, ()> {
    if !sel.is_object() {
        return Ok(String::new());
    }
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{}={}", k, v.as_str().unwrap_or(""))));
        }
    }
    for e in arr(sel, &["matchExpressions"]) {
        let key = s(e, &["key"]).to_string();
        let mut values: Vec<String> = arr(e, &["values"])
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect();
        values.sort();
        values.dedup();
        let r = match s(e, &["operator"]) {
            "In" if !values.is_empty() => format!("{} in ({})", key, values.join(",")),
            "NotIn" if !values.is_empty() => format!("{} notin ({})", key, values.join(",")),
            "Exists" if values.is_empty() => key.clone(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(()),
        };
        reqs.push((key, r));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: `<error>` when invalid, `<none>` when empty.
pub(crate) fn format_label_selector(sel: &Value) -> String {
    match label_selector_string(sel) {
        Err(()) => "<error>".to_string(),
        Ok(l) if l.is_empty() => "<none>".to_string(),
        Ok(l) => l,
    }
}

/// `layoutContainerCells`: comma-joined container names and images.
pub(crate) fn container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| s(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| s(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// An `intstr.IntOrString` rendered as its `String()`.
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Renders a resource quantity (already a canonical string on the wire).
pub(crate) fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
pub(crate) fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|x| x.as_str() == Some(m));
    let mut out = Vec::new();
    for (mode, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if has(mode) {
            out.push(short);
        }
    }
    out.join(",")
}

/// `printBoolPtr`: `True`/`False`, or `<unset>` when absent.
pub(crate) fn bool_ptr(v: &Value) -> String {
    match v.as_bool() {
        Some(true) => "True".to_string(),
        Some(false) => "False".to_string(),
        None => "<unset>".to_string(),
    }
}

/// Returns `d` when `v` is empty.
pub(crate) fn or(v: &str, d: &str) -> String {
    if v.is_empty() {
        d.to_string()
    } else {
        v.to_string()
    }
}
