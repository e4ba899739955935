//! Field selectors: parsing (`k8s.io/apimachinery/pkg/fields`), per-kind
//! field-label acceptance (the `AddFieldLabelConversionFunc` registrations)
//! and per-kind selectable values (the registry strategies'
//! `ToSelectableFields`).

use super::util::{at, b, i, s};
use serde_json::Value;
use std::fmt;

/// A field label the kind does not support; `Display` is upstream's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedField {
    message: String,
}

impl fmt::Display for UnsupportedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UnsupportedField {}

/// Go's `%q` for the (ASCII) field labels seen in practice.
fn go_quote(v: &str) -> String {
    let mut out = String::from("\"");
    for ch in v.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn not_supported(field: &str) -> UnsupportedField {
    UnsupportedField {
        message: format!("field label not supported: {field}"),
    }
}

fn meta_only(obj: &Value, field: &str) -> Result<Option<String>, UnsupportedField> {
    match field {
        "metadata.name" => Ok(Some(s(obj, &["metadata", "name"]).to_string())),
        "metadata.namespace" => Ok(Some(s(obj, &["metadata", "namespace"]).to_string())),
        _ => Err(UnsupportedField {
            message: format!(
                "{} is not a known field selector: only {}, {}",
                go_quote(field),
                go_quote("metadata.name"),
                go_quote("metadata.namespace")
            ),
        }),
    }
}

fn st(v: &str) -> Result<Option<String>, UnsupportedField> {
    Ok(Some(v.to_string()))
}

/// The value of field-selector `field` for `obj` of `group`/`kind`, as the
/// apiserver would match it: `Ok(Some(v))` for a selectable field, `Ok(None)`
/// for a label upstream accepts but never populates (it matches as `""`), and
/// `Err` with upstream's message for a label the kind rejects.
pub fn field_value(
    group: &str,
    kind: &str,
    obj: &Value,
    field: &str,
) -> Result<Option<String>, UnsupportedField> {
    let name = s(obj, &["metadata", "name"]);
    let namespace = s(obj, &["metadata", "namespace"]);
    match (group, kind) {
        ("", "Pod") => {
            let spec = at(obj, &["spec"]);
            let status = at(obj, &["status"]);
            match field {
                "metadata.name" => st(name),
                "metadata.namespace" => st(namespace),
                "spec.nodeName" | "spec.host" => st(s(spec, &["nodeName"])),
                "spec.restartPolicy" => st(s(spec, &["restartPolicy"])),
                "spec.schedulerName" => st(s(spec, &["schedulerName"])),
                "spec.serviceAccountName" => st(s(spec, &["serviceAccountName"])),
                "spec.hostNetwork" => st(if b(spec, &["hostNetwork"]) {
                    "true"
                } else {
                    "false"
                }),
                "status.phase" => st(s(status, &["phase"])),
                "status.podIP" => {
                    let ip = at(status, &["podIPs"])
                        .as_array()
                        .and_then(|a| a.first())
                        .map(|p| s(p, &["ip"]))
                        .unwrap_or_else(|| s(status, &["podIP"]));
                    st(ip)
                }
                // Accepted by the conversion func, never set by PodToSelectableFields.
                "status.podIPs" => Ok(None),
                "status.nominatedNodeName" => st(s(status, &["nominatedNodeName"])),
                _ => Err(not_supported(field)),
            }
        }
        ("", "Node") => match field {
            "metadata.name" => st(name),
            "spec.unschedulable" => st(if b(obj, &["spec", "unschedulable"]) {
                "true"
            } else {
                "false"
            }),
            _ => Err(not_supported(field)),
        },
        ("", "ReplicationController") => match field {
            "metadata.name" => st(name),
            "metadata.namespace" => st(namespace),
            "status.replicas" => st(&i(obj, &["status", "replicas"]).to_string()),
            _ => Err(not_supported(field)),
        },
        ("", "Event") => {
            let io = at(obj, &["involvedObject"]);
            match field {
                "metadata.name" => st(name),
                "metadata.namespace" => st(namespace),
                "involvedObject.kind" => st(s(io, &["kind"])),
                "involvedObject.namespace" => st(s(io, &["namespace"])),
                "involvedObject.name" => st(s(io, &["name"])),
                "involvedObject.uid" => st(s(io, &["uid"])),
                "involvedObject.apiVersion" => st(s(io, &["apiVersion"])),
                "involvedObject.resourceVersion" => st(s(io, &["resourceVersion"])),
                "involvedObject.fieldPath" => st(s(io, &["fieldPath"])),
                "reason" => st(s(obj, &["reason"])),
                "reportingComponent" => st(s(obj, &["reportingComponent"])),
                "source" => {
                    let c = s(obj, &["source", "component"]);
                    st(if c.is_empty() {
                        s(obj, &["reportingComponent"])
                    } else {
                        c
                    })
                }
                "type" => st(s(obj, &["type"])),
                _ => Err(not_supported(field)),
            }
        }
        ("events.k8s.io", "Event") => {
            let r = at(obj, &["regarding"]);
            match field {
                "metadata.name" => st(name),
                "metadata.namespace" => st(namespace),
                "regarding.kind" => st(s(r, &["kind"])),
                "regarding.namespace" => st(s(r, &["namespace"])),
                "regarding.name" => st(s(r, &["name"])),
                "regarding.uid" => st(s(r, &["uid"])),
                "regarding.apiVersion" => st(s(r, &["apiVersion"])),
                "regarding.resourceVersion" => st(s(r, &["resourceVersion"])),
                "regarding.fieldPath" => st(s(r, &["fieldPath"])),
                "reportingController" => st(s(obj, &["reportingController"])),
                "reason" => st(s(obj, &["reason"])),
                "type" => st(s(obj, &["type"])),
                _ => Err(not_supported(field)),
            }
        }
        ("", "Namespace") => match field {
            "metadata.name" => st(name),
            "status.phase" => st(s(obj, &["status", "phase"])),
            _ => Err(not_supported(field)),
        },
        ("", "Secret") => match field {
            "metadata.name" => st(name),
            "metadata.namespace" => st(namespace),
            "type" => st(s(obj, &["type"])),
            _ => Err(not_supported(field)),
        },
        ("", "Service") => match field {
            "metadata.name" => st(name),
            "metadata.namespace" => st(namespace),
            "spec.clusterIP" => st(s(obj, &["spec", "clusterIP"])),
            "spec.type" => st(s(obj, &["spec", "type"])),
            _ => Err(not_supported(field)),
        },
        ("batch", "Job") => match field {
            "metadata.name" => st(name),
            "metadata.namespace" => st(namespace),
            "status.successful" => st(&i(obj, &["status", "succeeded"]).to_string()),
            _ => Err(UnsupportedField {
                message: format!("field label {} not supported for Job", go_quote(field)),
            }),
        },
        ("certificates.k8s.io", "CertificateSigningRequest") => match field {
            "metadata.name" => st(name),
            "spec.signerName" => st(s(obj, &["spec", "signerName"])),
            _ => Err(not_supported(field)),
        },
        _ => meta_only(obj, field),
    }
}

/// The operator of one field-selector requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `=` or `==`.
    Equals,
    /// `!=`.
    NotEquals,
}

/// One parsed field-selector term, e.g. `status.phase!=Running`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    /// Field label (left-hand side, not unescaped, as upstream).
    pub field: String,
    /// Comparison operator.
    pub op: FieldOp,
    /// Unescaped value (right-hand side).
    pub value: String,
}

fn split_terms(sel: &str) -> Vec<&str> {
    if sel.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (idx, ch) in sel.char_indices() {
        if in_slash {
            in_slash = false;
        } else if ch == '\\' {
            in_slash = true;
        } else if ch == ',' {
            terms.push(&sel[start..idx]);
            start = idx + 1;
        }
    }
    terms.push(&sel[start..]);
    terms
}

fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (idx, _) in term.char_indices() {
        let rest = &term[idx..];
        for (op, fop) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if rest.starts_with(op) {
                return Some((&term[..idx], fop, &term[idx + op.len()..]));
            }
        }
    }
    None
}

fn unescape_value(v: &str) -> Result<String, String> {
    if !v.contains(['\\', ',', '=']) {
        return Ok(v.to_string());
    }
    let mut out = String::with_capacity(v.len());
    let mut in_slash = false;
    for ch in v.chars() {
        if in_slash {
            match ch {
                '\\' | ',' | '=' => out.push(ch),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{ch}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match ch {
            '\\' => in_slash = true,
            // Go formats the rune with %v, i.e. as its code point number.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    ch as u32
                ))
            }
            c => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Parses a field selector like upstream `fields.ParseSelector`: comma
/// separated `a=b`, `a==b`, `a!=b` terms, with `\,`, `\=`, `\\` escapes in
/// values. Terms are returned sorted as upstream sorts them; an empty
/// selector yields no requirements (matches everything).
pub fn parse_field_selector(sel: &str) -> Result<Vec<FieldRequirement>, String> {
    let mut parts = split_terms(sel);
    parts.sort();
    let mut out = Vec::new();
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let (lhs, op, rhs) = split_term(part)
            .ok_or_else(|| format!("invalid selector: '{sel}'; can't understand '{part}'"))?;
        out.push(FieldRequirement {
            field: lhs.to_string(),
            op,
            value: unescape_value(rhs)?,
        });
    }
    Ok(out)
}

/// Whether all requirements hold; `get` returns a field's value (`None` is
/// treated as the empty string, like `fields.Set.Get`).
pub fn matches<F>(reqs: &[FieldRequirement], mut get: F) -> bool
where
    F: FnMut(&str) -> Option<String>,
{
    reqs.iter().all(|r| {
        let v = get(&r.field).unwrap_or_default();
        match r.op {
            FieldOp::Equals => v == r.value,
            FieldOp::NotEquals => v != r.value,
        }
    })
}
