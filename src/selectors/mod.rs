//! Label selectors, ported from upstream `k8s.io/apimachinery/pkg/labels`.
//!
//! Supports the full query-string grammar (`a=b`, `a==b`, `a!=b`,
//! `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`) with upstream's
//! error messages, matching against label maps, conversion from a
//! `metav1.LabelSelector`, and formatting back to the string form.

use crate::validation::{go_quote, is_qualified_name, is_valid_label_value, FieldError};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

#[cfg(test)]
mod tests;

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

/// A source of labels to match against.
pub trait Labels {
    /// The value of label `key`, if present.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: std::hash::BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for serde_json::Map<String, Value> {
    /// Non-string values are treated as absent.
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

/// One requirement: a key, an operator and values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

fn aggregate(errs: &[FieldError]) -> Result<(), String> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(crate::validation::aggregate_message(errs))
    }
}

fn label_key_error(key: &str, path: &str) -> Option<FieldError> {
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

    fn has_value(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }

    /// Whether the labels satisfy this requirement.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                labels.label(&self.key).is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => {
                labels.label(&self.key).is_none_or(|v| !self.has_value(v))
            }
            Operator::Exists => labels.label(&self.key).is_some(),
            Operator::DoesNotExist => labels.label(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(Ok(lv)) = labels.label(&self.key).map(str::parse::<i64>) else {
                    return false;
                };
                if self.values.len() != 1 {
                    return false;
                }
                let Ok(rv) = self.values[0].parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    lv > rv
                } else {
                    lv < rv
                }
            }
        }
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

/// A label selector: an AND of requirements, or the selector matching nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
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

    /// Whether all requirements match the labels.
    pub fn matches<L: Labels + ?Sized>(&self, labels: &L) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// If the selector requires label `key` to have one exact value, that value.
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let r = self.requirements.iter().find(|r| r.key == key)?;
        match r.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In if r.values.len() == 1 => {
                Some(&r.values[0])
            }
            _ => None,
        }
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

    /// Parses the query-string syntax (upstream `labels.Parse`).
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut p = Parser {
            items: lex_all(s),
            pos: 0,
        };
        let mut reqs = p.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements: reqs,
            nothing: false,
        })
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

// ---- lexer ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &[u8]) -> Option<Tok> {
    Some(match s {
        b")" => Tok::ClosedPar,
        b"," => Tok::Comma,
        b"!" => Tok::DoesNotExist,
        b"==" => Tok::DoubleEquals,
        b"=" => Tok::Equals,
        b">" => Tok::GreaterThan,
        b"in" => Tok::In,
        b"<" => Tok::LessThan,
        b"!=" => Tok::NotEquals,
        b"notin" => Tok::NotIn,
        b"(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn lex_all(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() || b[pos] == 0 {
            out.push((Tok::End, String::new()));
            return out;
        }
        if is_special(b[pos]) {
            let mut buf: Vec<u8> = Vec::new();
            let mut last: Option<(Tok, String)> = None;
            while pos < b.len() && b[pos] != 0 && is_special(b[pos]) {
                buf.push(b[pos]);
                pos += 1;
                if let Some(t) = keyword(&buf) {
                    last = Some((t, String::from_utf8_lossy(&buf).into_owned()));
                } else if last.is_some() {
                    pos -= 1;
                    break;
                }
            }
            match last {
                Some(item) => out.push(item),
                None => out.push((
                    Tok::Error,
                    format!(
                        "error expected: keyword found '{}'",
                        String::from_utf8_lossy(&buf)
                    ),
                )),
            }
        } else {
            let start = pos;
            while pos < b.len() && b[pos] != 0 && !is_special(b[pos]) && !is_ws(b[pos]) {
                pos += 1;
            }
            let buf = &b[start..pos];
            let lit = String::from_utf8_lossy(buf).into_owned();
            match keyword(buf) {
                Some(t) => out.push((t, lit)),
                None => out.push((Tok::Identifier, lit)),
            }
        }
    }
}

// ---- parser ----

#[derive(PartialEq, Eq, Clone, Copy)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    fn item(&self, i: usize, ctx: Ctx) -> (Tok, String) {
        let (mut t, l) = self
            .items
            .get(i)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        if ctx == Ctx::Values && matches!(t, Tok::In | Tok::NotIn) {
            t = Tok::Identifier;
        }
        (t, l)
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.item(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        self.pos += 1;
        self.item(self.pos - 1, ctx)
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(e) = label_key_error(&lit, "<nil>") {
            return Err(e.message());
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if (t == Tok::End || t == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut set: Vec<String> = Vec::new();
        let finish = |mut s: Vec<String>| {
            s.sort();
            s.dedup();
            s
        };
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(finish(set)),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        set.push(String::new());
                        return Ok(finish(set));
                    }
                    if t2 == Tok::Comma {
                        set.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}
