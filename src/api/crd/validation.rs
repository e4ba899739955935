//! Validation of CustomResourceDefinitions (upstream's `ValidateCustomResourceDefinition`, the
//! parts Skiff serves) and of custom resources against their schema.

use serde_json::Value;

use crate::api::registry::ResourceEntry;
use crate::validation::{is_dns1035_label, is_dns1123_subdomain, FieldError};

/// Extra validation of `obj` for CRDs and custom resources (ObjectMeta is validated generically).
pub fn validate(res: &ResourceEntry, obj: &Value) -> Vec<FieldError> {
    if let Some(custom) = &res.strategy.custom {
        return custom
            .schema
            .as_ref()
            .map(|s| super::schema::validate(s, obj))
            .unwrap_or_default();
    }
    if res.rt.group == super::GROUP && res.rt.kind == "CustomResourceDefinition" {
        return validate_crd(obj);
    }
    Vec::new()
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn dns1035(errs: &mut Vec<FieldError>, path: &str, value: &str, prefix: &str) {
    let e = is_dns1035_label(value);
    if !value.is_empty() && !e.is_empty() {
        errs.push(FieldError::invalid(
            path,
            value,
            &format!("{prefix}{}", e.join(",")),
        ));
    }
}

/// `ValidateCustomResourceDefinition`: names, group, scope, versions, schemas, subresources and
/// printer columns.
pub fn validate_crd(crd: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let empty = Value::Object(Default::default());
    let spec = crd.get("spec").unwrap_or(&empty);
    let names = spec.get("names").unwrap_or(&empty);
    let group = str_at(spec, "group");
    let plural = str_at(names, "plural");
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let e = is_dns1123_subdomain(group);
        if !e.is_empty() {
            errs.push(FieldError::invalid("spec.group", group, &e.join(",")));
        } else if group.split('.').count() < 2 {
            errs.push(FieldError::invalid(
                "spec.group",
                group,
                "should be a domain with at least one dot",
            ));
        }
    }
    match str_at(spec, "scope") {
        "Cluster" | "Namespaced" => {}
        "" => errs.push(FieldError::required("spec.scope", "")),
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            other,
            &["Cluster", "Namespaced"],
        )),
    }
    validate_names(&mut errs, names);
    validate_versions(&mut errs, spec);
    errs
}

fn validate_names(errs: &mut Vec<FieldError>, names: &Value) {
    let p = "spec.names";
    for f in ["plural", "singular", "kind", "listKind"] {
        if str_at(names, f).is_empty() {
            errs.push(FieldError::required(&format!("{p}.{f}"), ""));
        }
    }
    dns1035(errs, &format!("{p}.plural"), str_at(names, "plural"), "");
    dns1035(
        errs,
        &format!("{p}.singular"),
        str_at(names, "singular"),
        "",
    );
    let kind = str_at(names, "kind");
    let list_kind = str_at(names, "listKind");
    for (f, v) in [("kind", kind), ("listKind", list_kind)] {
        let e = is_dns1035_label(&v.to_lowercase());
        if !v.is_empty() && !e.is_empty() {
            errs.push(FieldError::invalid(
                &format!("{p}.{f}"),
                v,
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    e.join(",")
                ),
            ));
        }
    }
    if !kind.is_empty() && kind == list_kind {
        errs.push(FieldError::invalid(
            &format!("{p}.listKind"),
            list_kind,
            "kind and listKind may not be the same or parsing become ambiguous",
        ));
    }
    for (field, list) in [("shortNames", "shortNames"), ("categories", "categories")] {
        for (i, s) in names
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            dns1035(
                errs,
                &format!("{p}.{field}[{i}]"),
                s.as_str().unwrap_or(""),
                "",
            );
        }
    }
}

fn validate_versions(errs: &mut Vec<FieldError>, spec: &Value) {
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::required(
            "spec.versions",
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    let mut storage = 0;
    let mut served = false;
    for (i, v) in versions.iter().enumerate() {
        let p = format!("spec.versions[{i}]");
        let name = str_at(v, "name");
        if !seen.insert(name.to_string()) {
            unique = false;
        }
        if v.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        if v.get("served").and_then(Value::as_bool) == Some(true) {
            served = true;
        }
        if name.is_empty() {
            errs.push(FieldError::required(&format!("{p}.name"), ""));
        } else {
            dns1035(errs, &format!("{p}.name"), name, "");
        }
        match v.pointer("/schema/openAPIV3Schema") {
            None => errs.push(FieldError::required(
                &format!("{p}.schema.openAPIV3Schema"),
                "schemas are required",
            )),
            Some(s) => structural(errs, s, &format!("{p}.schema.openAPIV3Schema"), true),
        }
        if let Some(scale) = v.pointer("/subresources/scale") {
            let sp = format!("{p}.subresources.scale");
            for (f, under) in [
                ("specReplicasPath", ".spec"),
                ("statusReplicasPath", ".status"),
            ] {
                let val = str_at(scale, f);
                if val.is_empty() {
                    errs.push(FieldError::required(&format!("{sp}.{f}"), ""));
                } else if !val.starts_with(&format!("{under}.")) {
                    errs.push(FieldError::invalid(
                        &format!("{sp}.{f}"),
                        val,
                        &format!("should be a json path under {under}"),
                    ));
                }
            }
        }
        for (j, c) in v
            .get("additionalPrinterColumns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cp = format!("{p}.additionalPrinterColumns[{j}]");
            if str_at(c, "name").is_empty() {
                errs.push(FieldError::required(&format!("{cp}.name"), ""));
            }
            let t = str_at(c, "type");
            if t.is_empty() {
                errs.push(FieldError::required(&format!("{cp}.type"), ""));
            } else if !matches!(t, "integer" | "number" | "string" | "boolean" | "date") {
                errs.push(FieldError::not_supported(
                    &format!("{cp}.type"),
                    t,
                    &["boolean", "date", "integer", "number", "string"],
                ));
            }
            if str_at(c, "jsonPath").is_empty() {
                errs.push(FieldError::required(&format!("{cp}.jsonPath"), ""));
            }
        }
    }
    let repr = "[]apiextensions.CustomResourceDefinitionVersion{...}".to_string();
    if !unique {
        errs.push(
            FieldError::invalid(
                "spec.versions",
                Value::Null,
                "must contain unique version names",
            )
            .with_repr(repr.clone()),
        );
    }
    if storage != 1 {
        errs.push(
            FieldError::invalid(
                "spec.versions",
                Value::Null,
                "must have exactly one version marked as storage version",
            )
            .with_repr(repr.clone()),
        );
    }
    if !served {
        errs.push(
            FieldError::invalid(
                "spec.versions",
                Value::Null,
                "must have at least one version marked as served",
            )
            .with_repr(repr),
        );
    }
}

const TYPES: &[&str] = &["array", "boolean", "integer", "number", "object", "string"];

/// Structural schema basics: every node has a type (unless int-or-string or preserving
/// unknown fields), the root is an object.
fn structural(errs: &mut Vec<FieldError>, s: &Value, path: &str, root: bool) {
    let t = str_at(s, "type");
    let int_or_string = s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true);
    let preserve = s
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true);
    if root {
        if t.is_empty() {
            errs.push(FieldError::required(
                &format!("{path}.type"),
                "must not be empty at the root",
            ));
        } else if t != "object" {
            errs.push(FieldError::invalid(
                &format!("{path}.type"),
                t,
                "must be object at the root",
            ));
        }
    } else if t.is_empty() && !int_or_string && !preserve {
        errs.push(FieldError::required(
            &format!("{path}.type"),
            "must not be empty for specified object fields",
        ));
    }
    if !t.is_empty() && !TYPES.contains(&t) {
        errs.push(FieldError::not_supported(&format!("{path}.type"), t, TYPES));
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        if s.get("additionalProperties").is_some_and(|a| a.is_object()) {
            errs.push(FieldError::forbidden(
                &format!("{path}.additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        for (k, sub) in props {
            if root && k == "metadata" {
                continue;
            }
            structural(errs, sub, &format!("{path}.properties[{k}]"), false);
        }
    }
    if let Some(items) = s.get("items").filter(|i| i.is_object()) {
        structural(errs, items, &format!("{path}.items"), false);
    } else if t == "array" {
        errs.push(FieldError::required(
            &format!("{path}.items"),
            "must be specified",
        ));
    }
    if let Some(add) = s.get("additionalProperties").filter(|a| a.is_object()) {
        structural(errs, add, &format!("{path}.additionalProperties"), false);
    }
}
