//! The selector vocabulary: [`Operator`] and [`Requirement`] (upstream `NewRequirement`
//! validation and the string form of one requirement).

use crate::validation::{go_quote, is_qualified_name, is_valid_label_value, FieldError};
use serde_json::Value;

/// A selector operator, as upstream's `selection.Operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `in`
    In,
    /// `notin`
    NotIn,
    /// `=`
    Equals,
    /// `==`
    DoubleEquals,
    /// `!=`
    NotEquals,
    /// key only
    Exists,
    /// `!key`
    DoesNotExist,
    /// `>`
    GreaterThan,
    /// `<`
    LessThan,
}

impl Operator {
    /// The operator's string form as upstream's `selection.Operator` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement: a key, an operator and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub(super) key: String,
    pub(super) operator: Operator,
    pub(super) values: Vec<String>,
}

fn aggregate(errs: &[FieldError]) -> Result<(), String> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::validation::aggregate_message(errs))
    }
}

/// The key's qualified-name error at `path`, if any.
pub(super) fn label_key_error(key: &str, path: &str) -> Option<FieldError> {
    let errs = is_qualified_name(key);
    if errs.is_empty() {
        None
    } else {
        Some(FieldError::invalid(path, key, &errs.join("; ")))
    }
}

fn go_slice(vals: &[String]) -> String {
    let inner: Vec<String> = vals.iter().map(|s| go_quote(s)).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

impl Requirement {
    /// Upstream `NewRequirement`: validates the key, the operator's value
    /// count and the values. The error is the aggregated message.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, String> {
        let mut errs = Vec::new();
        if let Some(e) = label_key_error(key, "key") {
            errs.push(e);
        }
        let invalid_vals = |detail: &str| {
            FieldError::invalid("values", Value::Null, detail).with_repr(go_slice(&values))
        };
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(invalid_vals(
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(invalid_vals(
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(invalid_vals(
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(invalid_vals(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            &format!("values[{i}]"),
                            v.as_str(),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    &format!("values[{i}][{key}]"),
                    v.as_str(),
                    &msgs.join("; "),
                ));
            }
        }
        aggregate(&errs)?;
        Ok(Requirement {
            key: key.to_string(),
            operator,
            values,
        })
    }

    /// The requirement's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The requirement's operator.
    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The requirement's values, as given.
    pub fn values(&self) -> &[String] {
        &self.values
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        if self.values.len() == 1 {
            f.write_str(&self.values[0])?;
        } else {
            let mut vals = self.values.clone();
            vals.sort();
            f.write_str(&vals.join(","))?;
        }
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}
