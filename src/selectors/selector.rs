//! [`Selector`]: an AND of requirements, its constructors (including from a
//! `metav1.LabelSelector`) and its string form.

use super::{Operator, Requirement};
use crate::validation::go_quote;
use serde_json::Value;

/// A label selector: an AND of requirements, or the selector matching nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub(super) requirements: Vec<Requirement>,
    pub(super) nothing: bool,
}

impl Default for Selector {
    fn default() -> Self {
        Selector::everything()
    }
}

impl Selector {
    /// The selector matching every label set.
    pub fn everything() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: false,
        }
    }

    /// The selector matching nothing (upstream `labels.Nothing()`).
    pub fn nothing() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Whether this selector does not restrict the selection (matches everything).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether this is the selector matching nothing.
    pub fn matches_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Adds requirements (kept sorted by key), as upstream's `Add`.
    pub fn with_requirements(mut self, reqs: impl IntoIterator<Item = Requirement>) -> Selector {
        if self.nothing {
            return self;
        }
        self.requirements.extend(reqs);
        self.requirements.sort_by(|a, b| a.key.cmp(&b.key));
        self
    }

    /// A selector matching exactly the given label set (no validation);
    /// an empty set gives [`Selector::everything`].
    pub fn from_set<'a>(set: impl IntoIterator<Item = (&'a str, &'a str)>) -> Selector {
        let reqs = set.into_iter().map(|(k, v)| Requirement {
            key: k.to_string(),
            operator: Operator::Equals,
            values: vec![v.to_string()],
        });
        Selector::everything().with_requirements(reqs)
    }

    /// Converts a `metav1.LabelSelector` (upstream `LabelSelectorAsSelector`):
    /// null gives [`Selector::nothing`], an empty selector [`Selector::everything`].
    pub fn from_label_selector(sel: &Value) -> Result<Selector, String> {
        if sel.is_null() {
            return Ok(Selector::nothing());
        }
        let Some(obj) = sel.as_object() else {
            return Err("label selector must be an object".to_string());
        };
        let match_labels = match obj.get("matchLabels") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => return Err("matchLabels must be an object".to_string()),
        };
        let exprs: &[Value] = match obj.get("matchExpressions") {
            None | Some(Value::Null) => &[],
            Some(Value::Array(a)) => a,
            Some(_) => return Err("matchExpressions must be an array".to_string()),
        };
        if match_labels.is_none_or(|m| m.is_empty()) && exprs.is_empty() {
            return Ok(Selector::everything());
        }
        let mut reqs = Vec::new();
        if let Some(m) = match_labels {
            for (k, v) in m {
                let val = v.as_str().unwrap_or_default().to_string();
                reqs.push(Requirement::new(k, Operator::Equals, vec![val])?);
            }
        }
        for e in exprs {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let op_s = e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let op = match op_s {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(format!(
                        "{} is not a valid label selector operator",
                        go_quote(other)
                    ))
                }
            };
            let values: Vec<String> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            reqs.push(Requirement::new(key, op, values)?);
        }
        Ok(Selector::everything().with_requirements(reqs))
    }
}

impl std::str::FromStr for Selector {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}
