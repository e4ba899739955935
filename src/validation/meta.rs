//! ObjectMeta, labels, annotations and label-selector validation
//! (upstream `apimachinery/pkg/api/validation/objectmeta.go` and
//! `apis/meta/v1/validation`).

use super::fmt::go_label_selector;
use super::names::{is_qualified_name, is_valid_label_value, validate_name, NameKind};
use super::util::{child, index, Ctx};
use super::FieldError;
use serde_json::Value;

/// Upstream `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;
/// Upstream `FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";

/// `ValidateLabels`: keys are qualified names, values label values. Errors
/// are reported at `path` itself, as upstream does.
pub fn validate_labels(v: &mut Ctx, labels: &[(&str, &str)], path: &str) {
    for (k, val) in labels {
        v.invalid_each(path, k, is_qualified_name(k));
        v.invalid_each(path, val, is_valid_label_value(val));
    }
}

/// `ValidateAnnotations`: keys (lower-cased) are qualified names; total size limit.
pub fn validate_annotations(v: &mut Ctx, annotations: &[(&str, &str)], path: &str) {
    let mut total = 0usize;
    for (k, val) in annotations {
        v.invalid_each(path, k, is_qualified_name(&k.to_lowercase()));
        total += k.len() + val.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT {
        v.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT));
    }
}

fn owner_references(v: &mut Ctx, meta: &Value, path: &str) {
    let p = child(path, "ownerReferences");
    let refs = v.arr(meta, "ownerReferences", path);
    let mut first_controller: Option<String> = None;
    for r in refs {
        let api_version = v.string(r, "apiVersion", &p);
        let kind = v.string(r, "kind", &p);
        let name = v.string(r, "name", &p);
        let uid = v.string(r, "uid", &p);
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, ver)) => (g, ver),
            None => ("", api_version),
        };
        if version.is_empty() {
            v.push(FieldError::invalid(
                &child(&p, "apiVersion"),
                api_version,
                "version must not be empty",
            ));
        }
        if kind.is_empty() {
            v.push(FieldError::invalid(
                &child(&p, "kind"),
                kind,
                "must not be empty",
            ));
        }
        if name.is_empty() {
            v.push(FieldError::invalid(
                &child(&p, "name"),
                name,
                "must not be empty",
            ));
        }
        if uid.is_empty() {
            v.push(FieldError::invalid(
                &child(&p, "uid"),
                uid,
                "must not be empty",
            ));
        }
        if group.is_empty() && version == "v1" && kind == "Event" {
            v.push(FieldError::invalid(
                &p,
                r.clone(),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if v.bool(r, "controller", &p) == Some(true) {
            let cur = format!("{kind}/{name}");
            match &first_controller {
                Some(first) => v.push(FieldError::invalid(
                    &p,
                    Value::Array(refs.to_vec()),
                    &format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {cur}"),
                )),
                None => first_controller = Some(cur),
            }
        }
    }
}

fn finalizers(v: &mut Ctx, meta: &Value, path: &str) {
    let p = child(path, "finalizers");
    let list = v.arr(meta, "finalizers", path);
    let mut orphan = false;
    let mut foreground = false;
    let mut names = Vec::new();
    for (i, f) in list.iter().enumerate() {
        match f.as_str() {
            Some(s) => {
                v.invalid_each(&p, s, is_qualified_name(s));
                orphan |= s == "orphan";
                foreground |= s == "foregroundDeletion";
                names.push(Value::from(s));
            }
            None => v.push(FieldError::type_invalid(&index(&p, i), f, "string")),
        }
    }
    if orphan && foreground {
        v.push(FieldError::invalid(
            &p,
            Value::Array(names),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

/// Labels and annotations of a (template) metadata block.
pub fn labels_and_annotations(v: &mut Ctx, meta: &Value, path: &str) {
    if let Some(labels) = v.string_map(meta, "labels", path) {
        validate_labels(v, &labels, &child(path, "labels"));
    }
    if let Some(ann) = v.string_map(meta, "annotations", path) {
        validate_annotations(v, &ann, &child(path, "annotations"));
    }
}

/// `ValidateObjectMeta` (namespace presence is handled by the caller) plus,
/// when `old` is given, `ValidateObjectMetaUpdate`'s immutability checks.
pub fn object_meta(v: &mut Ctx, obj: &Value, old: Option<&Value>, kind: NameKind) {
    let path = "metadata";
    let empty = Value::Object(Default::default());
    let meta = v.obj(obj, "metadata", "").unwrap_or(&empty);
    let generate_name = v.string(meta, "generateName", path);
    let name = v.string(meta, "name", path);
    if !generate_name.is_empty() {
        v.invalid_each(
            &child(path, "generateName"),
            generate_name,
            validate_name(kind, generate_name, true),
        );
    }
    if name.is_empty() {
        if generate_name.is_empty() || old.is_some() {
            v.push(FieldError::required(
                &child(path, "name"),
                "name or generateName is required",
            ));
        }
    } else {
        v.invalid_each(&child(path, "name"), name, validate_name(kind, name, false));
    }
    if let Some(g) = v.int(meta, "generation", path) {
        super::util::nonnegative(v, Some(g), &child(path, "generation"));
    }
    labels_and_annotations(v, meta, path);
    owner_references(v, meta, path);
    finalizers(v, meta, path);

    if let Some(old) = old {
        let old_meta = old.get("metadata").unwrap_or(&empty);
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            let new_v = meta.get(field).unwrap_or(&Value::Null);
            let old_v = old_meta.get(field).unwrap_or(&Value::Null);
            let both_empty = |x: &Value| x.is_null() || x.as_str() == Some("");
            if new_v != old_v && !(both_empty(new_v) && both_empty(old_v)) {
                let shown = if new_v.is_null() && matches!(field, "name" | "namespace" | "uid") {
                    Value::from("")
                } else {
                    new_v.clone()
                };
                v.push(FieldError::invalid(&child(path, field), shown, IMMUTABLE));
            }
        }
        if old_meta
            .get("deletionTimestamp")
            .is_some_and(|d| !d.is_null())
        {
            let old_f: Vec<&str> = old_meta
                .get("finalizers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut extra: Vec<&str> = meta
                .get("finalizers")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            extra.retain(|f| !old_f.contains(f));
            extra.sort_unstable();
            extra.dedup();
            if !extra.is_empty() {
                let quoted: Vec<String> = extra.iter().map(|s| super::fmt::go_quote(s)).collect();
                v.push(FieldError::forbidden(
                    &child(path, "finalizers"),
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                        quoted.join(", ")
                    ),
                ));
            }
        }
    }
}

/// ObjectMeta-only validation for kinds without further rules.
pub fn object_meta_kind(v: &mut Ctx, obj: &Value, old: Option<&Value>, kind: NameKind) {
    object_meta(v, obj, old, kind);
}

/// `ValidateLabelSelector` (strict label values).
pub fn validate_label_selector(v: &mut Ctx, sel: &Value, path: &str) {
    if let Some(ml) = v.string_map(sel, "matchLabels", path) {
        validate_labels(v, &ml, &child(path, "matchLabels"));
    }
    let ep = child(path, "matchExpressions");
    for (i, expr) in v.arr(sel, "matchExpressions", path).iter().enumerate() {
        let p = index(&ep, i);
        let op = v.string(expr, "operator", &p);
        let values = v.arr(expr, "values", &p);
        match op {
            "In" | "NotIn" => {
                if values.is_empty() {
                    v.push(FieldError::required(
                        &child(&p, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    ));
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    v.push(FieldError::forbidden(
                        &child(&p, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    ));
                }
            }
            _ => v.push(FieldError::invalid(
                &child(&p, "operator"),
                op,
                "not a valid selector operator",
            )),
        }
        let key = v.string(expr, "key", &p);
        v.invalid_each(&child(&p, "key"), key, is_qualified_name(key));
        let vp = child(&p, "values");
        for (j, val) in values.iter().enumerate() {
            match val.as_str() {
                Some(s) => v.invalid_each(&index(&vp, j), s, is_valid_label_value(s)),
                None => v.push(FieldError::type_invalid(&index(&vp, j), val, "string")),
            }
        }
    }
}

/// Builds an `Invalid` error whose value renders like upstream's
/// `v1.LabelSelector{...}`.
pub fn selector_error(path: &str, sel: &Value, detail: &str) -> FieldError {
    FieldError::invalid(path, sel.clone(), detail).with_repr(go_label_selector(sel))
}
