//! Label selectors and node selector terms, compiled once per pod.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::types::Labels;

/// A label selector requirement operator (pods and nodes; `Gt`/`Lt` only on nodes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
    /// The label's integer value is greater.
    Gt,
    /// The label's integer value is less.
    Lt,
}

/// One requirement on a label (or on `metadata.name` for node `matchFields`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub op: Op,
    /// The values.
    pub values: Vec<String>,
}

impl Requirement {
    pub(super) fn parse(r: &NodeSelectorRequirement) -> Option<Requirement> {
        Requirement::new(&r.key, &r.operator, r.values.as_deref().unwrap_or(&[]))
    }

    pub(super) fn new(key: &str, op: &str, values: &[String]) -> Option<Requirement> {
        let op = match op {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt,
            "Lt" => Op::Lt,
            _ => return None,
        };
        Some(Requirement {
            key: key.to_string(),
            op,
            values: values.to_vec(),
        })
    }

    /// Whether a value (`None`: the label is absent) satisfies the requirement.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match self.op {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), Some(bound)) = (
                    value.and_then(|v| v.parse::<i64>().ok()),
                    self.values.first().and_then(|b| b.parse::<i64>().ok()),
                ) else {
                    return false;
                };
                if self.op == Op::Gt {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

/// A compiled label selector (`matchLabels` and `matchExpressions`); `None` inside matches
/// nothing (an invalid selector).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(pub Option<Vec<Requirement>>);

impl Selector {
    /// Compiles a label selector.
    pub fn parse(s: Option<&LabelSelector>) -> Selector {
        let Some(s) = s else {
            return Selector(None);
        };
        let mut reqs = Vec::new();
        for (k, v) in s.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            });
        }
        for e in s.match_expressions.iter().flatten() {
            match Requirement::new(&e.key, &e.operator, e.values.as_deref().unwrap_or(&[])) {
                Some(r) if !matches!(r.op, Op::Gt | Op::Lt) => reqs.push(r),
                _ => return Selector(None),
            }
        }
        Selector(Some(reqs))
    }

    /// Whether `labels` match (an empty selector matches everything).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0.as_ref().is_some_and(|reqs| {
            reqs.iter()
                .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
        })
    }
}

/// A required node selector term: all its expressions and fields must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTerm {
    /// `matchExpressions` on labels.
    pub labels: Vec<Requirement>,
    /// `matchFields` (only `metadata.name`).
    pub fields: Vec<Requirement>,
}

impl NodeTerm {
    pub(super) fn parse(t: &NodeSelectorTerm) -> NodeTerm {
        NodeTerm {
            labels: t
                .match_expressions
                .iter()
                .flatten()
                .filter_map(Requirement::parse)
                .collect(),
            fields: t
                .match_fields
                .iter()
                .flatten()
                .filter_map(Requirement::parse)
                .collect(),
        }
    }

    /// Whether the node matches (an empty term matches no node, as upstream).
    pub fn matches(&self, name: &str, labels: &Labels) -> bool {
        if self.labels.is_empty() && self.fields.is_empty() {
            return false;
        }
        self.labels
            .iter()
            .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self.fields.iter().all(|r| {
                r.key == "metadata.name" && r.matches(Some(name))
                    || r.key != "metadata.name" && r.matches(None)
            })
    }
}
