//! List and watch filters: label and field selectors applied to objects.

use serde_json::Value;

use super::errors::{ApiError, ApiResult};
use super::object::ObjectMeta;
use crate::printers::{field_value, parse_field_selector, FieldOp, FieldRequirement};

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelRequirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// The label and field selectors of a request.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Vec<LabelRequirement>,
    fields: Vec<FieldRequirement>,
    group: String,
    kind: String,
}

impl Filter {
    /// Parses the `labelSelector` and `fieldSelector` query parameters for a kind.
    pub fn parse(label: Option<&str>, field: Option<&str>, group: &str, kind: &str) -> ApiResult<Filter> {
        let mut f = Filter {
            group: group.to_string(),
            kind: kind.to_string(),
            ..Default::default()
        };
        if let Some(l) = label.filter(|s| !s.trim().is_empty()) {
            f.labels = parse_labels(l)?;
        }
        if let Some(s) = field.filter(|s| !s.trim().is_empty()) {
            let reqs = parse_field_selector(s).map_err(ApiError::bad_request)?;
            for r in &reqs {
                field_value(group, kind, &Value::Null, &r.field)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            f.fields = reqs;
        }
        Ok(f)
    }

    /// True when nothing is filtered.
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// The single name this filter pins (`metadata.name=x`), if any.
    pub fn pinned_name(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.op == FieldOp::Equals && f.field == "metadata.name")
            .map(|f| f.value.as_str())
    }

    /// True when `obj` passes every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.labels();
        let label = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| match r {
            LabelRequirement::In(k, vs) => label(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            LabelRequirement::NotIn(k, vs) => label(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            LabelRequirement::Exists(k) => label(k).is_some(),
            LabelRequirement::NotExists(k) => label(k).is_none(),
        });
        labels_ok
            && crate::printers::matches(&self.fields, |field| {
                field_value(&self.group, &self.kind, obj, field).ok().flatten()
            })
    }
}

fn parse_labels(s: &str) -> ApiResult<Vec<LabelRequirement>> {
    let bad = |m: &str| ApiError::bad_request(format!("unable to parse requirement: {m}"));
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur);
    for p in parts {
        let p = p.trim();
        if let Some((k, rest)) = p.split_once(" notin ") {
            out.push(LabelRequirement::NotIn(k.trim().into(), set_values(rest).ok_or_else(|| bad(p))?));
        } else if let Some((k, rest)) = p.split_once(" in ") {
            out.push(LabelRequirement::In(k.trim().into(), set_values(rest).ok_or_else(|| bad(p))?));
        } else if let Some((k, v)) = p.split_once("!=") {
            out.push(LabelRequirement::NotIn(k.trim().into(), vec![v.trim().into()]));
        } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
            out.push(LabelRequirement::In(k.trim().into(), vec![v.trim().into()]));
        } else if let Some(k) = p.strip_prefix('!') {
            out.push(LabelRequirement::NotExists(k.trim().into()));
        } else if !p.is_empty() {
            out.push(LabelRequirement::Exists(p.into()));
        }
    }
    Ok(out)
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

