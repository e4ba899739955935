//! Workload controllers: ReplicationController (core), ReplicaSet,
//! Deployment, StatefulSet, DaemonSet, ControllerRevision (upstream
//! `pkg/apis/apps/validation` and the RC part of core validation).

use super::core::pod_template_spec;
use super::fmt::{go_int_or_string, go_string_map};
use super::meta::{object_meta, selector_error, validate_label_selector, IMMUTABLE};
use super::names::{is_valid_percent, NameKind};
use super::util::{child, nonnegative, peek, Ctx};
use super::FieldError;
use crate::selectors::Selector;
use serde_json::{Map, Value};

const NO_MATCH: &str = "`selector` does not match template `labels`";

fn empty() -> Value {
    Value::Object(Default::default())
}

fn template_labels(tmpl: &Value) -> Option<&Map<String, Value>> {
    tmpl.get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
}

/// Checks that a (non-empty) selector matches the template labels.
fn check_template_labels(v: &mut Ctx, sel: &Selector, tmpl: &Value, labels_path: &str) {
    if sel.is_empty() {
        return;
    }
    let empty_map = Map::new();
    let labels = template_labels(tmpl);
    if !sel.matches(labels.unwrap_or(&empty_map)) {
        v.push(
            FieldError::invalid(
                labels_path,
                labels
                    .map(|m| Value::Object(m.clone()))
                    .unwrap_or(Value::Null),
                NO_MATCH,
            )
            .with_repr(go_string_map(labels)),
        );
    }
}

/// Template rules shared by controllers whose pods must restart `Always`.
fn always_restart_template(v: &mut Ctx, tmpl: &Value, tpath: &str, kind: &str) {
    pod_template_spec(v, tmpl, tpath);
    let spec_path = child(tpath, "spec");
    if let Some(rp) = peek(tmpl, &["spec", "restartPolicy"]).and_then(Value::as_str) {
        if rp != "Always" {
            v.push(FieldError::not_supported(
                &child(&spec_path, "restartPolicy"),
                rp,
                &["Always"],
            ));
        }
    }
    if peek(tmpl, &["spec", "activeDeadlineSeconds"]).is_some_and(|x| !x.is_null()) {
        v.push(FieldError::forbidden(
            &child(&spec_path, "activeDeadlineSeconds"),
            &format!("activeDeadlineSeconds in {kind} is not Supported"),
        ));
    }
}

/// Validates `spec.selector` of an apps/v1 controller and returns the
/// parsed selector (`None` when it cannot be converted).
fn spec_selector(v: &mut Ctx, spec: &Value, required: bool, empty_msg: &str) -> Option<Selector> {
    let sel = spec.get("selector").cloned().unwrap_or(Value::Null);
    if sel.is_null() {
        if required {
            v.push(FieldError::required("spec.selector", ""));
        }
    } else if !sel.is_object() {
        v.push(FieldError::type_invalid("spec.selector", &sel, "object"));
        return None;
    } else {
        validate_label_selector(v, &sel, "spec.selector");
        let n = sel
            .get("matchLabels")
            .and_then(Value::as_object)
            .map_or(0, Map::len)
            + sel
                .get("matchExpressions")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
        if n == 0 {
            v.push(selector_error("spec.selector", &sel, empty_msg));
        }
    }
    match Selector::from_label_selector(&sel) {
        Ok(s) => Some(s),
        Err(_) => {
            v.push(selector_error(
                "spec.selector",
                &sel,
                "invalid label selector",
            ));
            None
        }
    }
}

fn selector_immutable(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    if let Some(old) = old {
        let new_sel = peek(obj, &["spec", "selector"])
            .cloned()
            .unwrap_or(Value::Null);
        let old_sel = peek(old, &["spec", "selector"])
            .cloned()
            .unwrap_or(Value::Null);
        if new_sel != old_sel {
            v.push(selector_error("spec.selector", &new_sel, IMMUTABLE));
        }
    }
}

fn common_counts(v: &mut Ctx, spec: &Value) {
    let r = v.int(spec, "replicas", "spec");
    nonnegative(v, r, "spec.replicas");
    let m = v.int(spec, "minReadySeconds", "spec");
    nonnegative(v, m, "spec.minReadySeconds");
    let h = v.int(spec, "revisionHistoryLimit", "spec");
    nonnegative(v, h, "spec.revisionHistoryLimit");
}

/// `ValidateReplicationController`.
pub fn replication_controller(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let m = v.int(&spec, "minReadySeconds", "spec");
    nonnegative(v, m, "spec.minReadySeconds");
    let tmpl = v.obj(&spec, "template", "spec").cloned();
    // v1 defaulting: an empty selector defaults to the template labels.
    let sel_pairs: Vec<(String, String)> = match v.string_map(&spec, "selector", "spec") {
        Some(p) if !p.is_empty() => p
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        _ => tmpl
            .as_ref()
            .and_then(template_labels)
            .map(|m| {
                m.iter()
                    .map(|(k, x)| (k.clone(), x.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    if sel_pairs.is_empty() {
        v.push(FieldError::required("spec.selector", ""));
    } else {
        let refs: Vec<(&str, &str)> = sel_pairs
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        super::meta::validate_labels(v, &refs, "spec.selector");
    }
    let r = v.int(&spec, "replicas", "spec");
    nonnegative(v, r, "spec.replicas");
    match tmpl {
        None => v.push(FieldError::required("spec.template", "")),
        Some(t) => {
            let sel = Selector::from_set(sel_pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
            check_template_labels(v, &sel, &t, "spec.template.metadata.labels");
            always_restart_template(v, &t, "spec.template", "ReplicationController");
        }
    }
}

/// `ValidateReplicaSet` (+ apps/v1 selector immutability on update).
pub fn replica_set(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    common_counts(v, &spec);
    let sel = spec_selector(v, &spec, true, "empty selector is invalid for deployment");
    let tmpl = v
        .obj(&spec, "template", "spec")
        .cloned()
        .unwrap_or_else(empty);
    if let Some(sel) = sel {
        check_template_labels(v, &sel, &tmpl, "spec.template.metadata.labels");
        always_restart_template(v, &tmpl, "spec.template", "ReplicaSet");
    }
    selector_immutable(v, obj, old);
}

fn int_or_percent_value(v: Option<&Value>) -> (i64, bool) {
    match v {
        Some(Value::Number(n)) => (n.as_i64().unwrap_or(0), false),
        Some(Value::String(s)) => match s.strip_suffix('%').and_then(|x| x.parse::<i64>().ok()) {
            Some(p) => (p, true),
            None => (0, true),
        },
        _ => (0, false),
    }
}

pub(super) fn positive_int_or_percent(v: &mut Ctx, val: Option<&Value>, path: &str) {
    match val {
        Some(Value::String(s)) => {
            for m in is_valid_percent(s) {
                v.push(FieldError::invalid(path, s.as_str(), &m).with_repr(go_int_or_string(val)));
            }
        }
        Some(Value::Number(n)) => {
            let i = n.as_i64().unwrap_or(-1);
            nonnegative(v, Some(i), path);
        }
        None | Some(Value::Null) => {}
        Some(other) => v.push(FieldError::type_invalid(path, other, "integer or string")),
    }
}

pub(super) fn not_more_than_100_percent(v: &mut Ctx, val: Option<&Value>, path: &str) {
    let (n, pct) = int_or_percent_value(val);
    if pct && n > 100 {
        v.push(
            FieldError::invalid(
                path,
                val.cloned().unwrap_or(Value::Null),
                "must not be greater than 100%",
            )
            .with_repr(go_int_or_string(val)),
        );
    }
}

/// `ValidateDeployment` (+ apps/v1 selector immutability on update).
pub fn deployment(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    common_counts(v, &spec);
    let sel = spec_selector(v, &spec, true, "empty selector is invalid for deployment");
    let tmpl = v
        .obj(&spec, "template", "spec")
        .cloned()
        .unwrap_or_else(empty);
    if let Some(sel) = sel {
        check_template_labels(v, &sel, &tmpl, "spec.template.metadata.labels");
        always_restart_template(v, &tmpl, "spec.template", "Deployment");
    }
    if let Some(strategy) = v.obj(&spec, "strategy", "spec") {
        let sp = "spec.strategy";
        let ty = v.str(strategy, "type", sp).unwrap_or("RollingUpdate");
        let ru = v.obj(strategy, "rollingUpdate", sp);
        match ty {
            "Recreate" => {
                if ru.is_some() {
                    v.push(FieldError::forbidden(
                        "spec.strategy.rollingUpdate",
                        "may not be specified when strategy `type` is 'Recreate'",
                    ));
                }
            }
            "RollingUpdate" => {
                let default = Value::from("25%");
                let ru = ru.cloned().unwrap_or_else(empty);
                let mu = ru
                    .get("maxUnavailable")
                    .filter(|x| !x.is_null())
                    .unwrap_or(&default);
                let ms = ru
                    .get("maxSurge")
                    .filter(|x| !x.is_null())
                    .unwrap_or(&default);
                let rp = "spec.strategy.rollingUpdate";
                positive_int_or_percent(v, Some(mu), &child(rp, "maxUnavailable"));
                positive_int_or_percent(v, Some(ms), &child(rp, "maxSurge"));
                if int_or_percent_value(Some(mu)).0 == 0 && int_or_percent_value(Some(ms)).0 == 0 {
                    v.push(
                        FieldError::invalid(
                            &child(rp, "maxUnavailable"),
                            mu.clone(),
                            "may not be 0 when `maxSurge` is 0",
                        )
                        .with_repr(go_int_or_string(Some(mu))),
                    );
                }
                not_more_than_100_percent(v, Some(mu), &child(rp, "maxUnavailable"));
            }
            other => v.push(
                FieldError::not_supported(sp, other, &["Recreate", "RollingUpdate"])
                    .with_repr(strategy.to_string()),
            ),
        }
    }
    if let Some(pds) = v.int(&spec, "progressDeadlineSeconds", "spec") {
        nonnegative(v, Some(pds), "spec.progressDeadlineSeconds");
        let mrs = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if pds <= mrs {
            v.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                pds,
                "must be greater than minReadySeconds",
            ));
        }
    }
    selector_immutable(v, obj, old);
}

/// A StatefulSet's pod template with a PVC volume for every volume claim template it does
/// not already declare (as the controller adds them to the pods).
fn with_claim_volumes(tmpl: &Value, spec: &Value) -> Value {
    let mut t = tmpl.clone();
    let claims: Vec<String> = peek(spec, &["volumeClaimTemplates"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| peek(c, &["metadata", "name"]).and_then(Value::as_str))
        .map(str::to_string)
        .collect();
    if claims.is_empty() {
        return t;
    }
    let Some(pod_spec) = t.get_mut("spec").and_then(Value::as_object_mut) else {
        return t;
    };
    let vols = pod_spec
        .entry("volumes")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Some(vols) = vols.as_array_mut() {
        for c in claims {
            if !vols
                .iter()
                .any(|v| v.get("name").and_then(Value::as_str) == Some(c.as_str()))
            {
                vols.push(
                    serde_json::json!({"name": c, "persistentVolumeClaim": {"claimName": c}}),
                );
            }
        }
    }
    t
}

/// `ValidateStatefulSet` / `ValidateStatefulSetUpdate` (main checks).
pub fn stateful_set(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    if let Some(pmp) = v.str(&spec, "podManagementPolicy", "spec") {
        match pmp {
            "" => v.push(FieldError::required("spec.podManagementPolicy", "")),
            "OrderedReady" | "Parallel" => {}
            other => v.push(FieldError::invalid(
                "spec.podManagementPolicy",
                other,
                "must be 'OrderedReady' or 'Parallel'",
            )),
        }
    }
    if let Some(us) = v.obj(&spec, "updateStrategy", "spec") {
        let ty = v
            .str(us, "type", "spec.updateStrategy")
            .unwrap_or("RollingUpdate");
        match ty {
            "OnDelete" => {
                if us.get("rollingUpdate").is_some_and(|x| !x.is_null()) {
                    v.push(FieldError::invalid(
                        "spec.updateStrategy.rollingUpdate",
                        us.get("rollingUpdate").cloned().unwrap_or(Value::Null),
                        "only allowed for updateStrategy 'RollingUpdate'",
                    ));
                }
            }
            "RollingUpdate" => {
                if let Some(ru) = us.get("rollingUpdate").filter(|x| x.is_object()) {
                    let p = "spec.updateStrategy.rollingUpdate";
                    let part = v.int(ru, "partition", p);
                    nonnegative(v, part, &child(p, "partition"));
                    if let Some(mu) = ru.get("maxUnavailable").filter(|x| !x.is_null()) {
                        positive_int_or_percent(v, Some(mu), &child(p, "maxUnavailable"));
                        if int_or_percent_value(Some(mu)).0 == 0 {
                            v.push(
                                FieldError::invalid(
                                    &child(p, "maxUnavailable"),
                                    mu.clone(),
                                    "cannot be 0",
                                )
                                .with_repr(go_int_or_string(Some(mu))),
                            );
                        }
                        not_more_than_100_percent(v, Some(mu), &child(p, "maxUnavailable"));
                    }
                }
            }
            "" => v.push(FieldError::required("spec.updateStrategy", "")),
            _ => v.push(FieldError::invalid(
                "spec.updateStrategy",
                us.clone(),
                "must be 'RollingUpdate' or 'OnDelete'",
            )),
        }
    }
    let r = v.int(&spec, "replicas", "spec");
    nonnegative(v, r, "spec.replicas");
    let m = v.int(&spec, "minReadySeconds", "spec");
    nonnegative(v, m, "spec.minReadySeconds");
    let sel = spec_selector(v, &spec, true, "empty selector is invalid for statefulset");
    let tmpl = v
        .obj(&spec, "template", "spec")
        .cloned()
        .unwrap_or_else(empty);
    if let Some(sel) = sel {
        check_template_labels(v, &sel, &tmpl, "spec.template.metadata.labels");
        // Upstream skips pod spec validation here because mounts of claim templates would
        // fail; we validate the template with the claim templates added as volumes.
        pod_template_spec(v, &with_claim_volumes(&tmpl, &spec), "spec.template");
    }
    if let Some(rp) = peek(&tmpl, &["spec", "restartPolicy"]).and_then(Value::as_str) {
        if rp != "Always" {
            v.push(FieldError::not_supported(
                "spec.template.spec.restartPolicy",
                rp,
                &["Always"],
            ));
        }
    }
    if peek(&tmpl, &["spec", "activeDeadlineSeconds"]).is_some_and(|x| !x.is_null()) {
        v.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in StatefulSet is not Supported",
        ));
    }
    if let Some(old) = old {
        let strip = |s: Option<&Value>| -> Map<String, Value> {
            let mut m = s.and_then(Value::as_object).cloned().unwrap_or_default();
            for f in [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
                "selector",
            ] {
                m.remove(f);
            }
            m.retain(|_, x| !x.is_null());
            m
        };
        if strip(obj.get("spec")) != strip(old.get("spec")) {
            v.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
    }
    selector_immutable(v, obj, old);
}

/// `ValidateDaemonSet` (+ apps/v1 selector immutability on update).
pub fn daemon_set(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let sel_v = spec.get("selector").cloned().unwrap_or(Value::Null);
    if sel_v.is_object() {
        validate_label_selector(v, &sel_v, "spec.selector");
    }
    let tmpl = v
        .obj(&spec, "template", "spec")
        .cloned()
        .unwrap_or_else(empty);
    if let Ok(sel) = Selector::from_label_selector(&sel_v) {
        let empty_map = Map::new();
        let labels = template_labels(&tmpl);
        if !sel.matches(labels.unwrap_or(&empty_map)) {
            v.push(
                FieldError::invalid(
                    "spec.template.metadata.labels",
                    labels
                        .map(|m| Value::Object(m.clone()))
                        .unwrap_or(Value::Null),
                    NO_MATCH,
                )
                .with_repr(go_string_map(labels)),
            );
        }
    }
    if sel_v.is_object()
        && sel_v
            .get("matchLabels")
            .and_then(Value::as_object)
            .map_or(0, Map::len)
            + sel_v
                .get("matchExpressions")
                .and_then(Value::as_array)
                .map_or(0, Vec::len)
            == 0
    {
        v.push(selector_error(
            "spec.selector",
            &sel_v,
            "empty selector is invalid for daemonset",
        ));
    }
    always_restart_template(v, &tmpl, "spec.template", "DaemonSet");
    let m = v.int(&spec, "minReadySeconds", "spec");
    nonnegative(v, m, "spec.minReadySeconds");
    let h = v.int(&spec, "revisionHistoryLimit", "spec");
    nonnegative(v, h, "spec.revisionHistoryLimit");
    if let Some(us) = v.obj(&spec, "updateStrategy", "spec") {
        let ty = v
            .str(us, "type", "spec.updateStrategy")
            .unwrap_or("RollingUpdate");
        match ty {
            "OnDelete" => {}
            "RollingUpdate" => {
                let default_mu = Value::from(1);
                let default_ms = Value::from(0);
                let ru = us.get("rollingUpdate").cloned().unwrap_or_else(empty);
                let mu = ru
                    .get("maxUnavailable")
                    .filter(|x| !x.is_null())
                    .unwrap_or(&default_mu);
                let ms = ru
                    .get("maxSurge")
                    .filter(|x| !x.is_null())
                    .unwrap_or(&default_ms);
                let p = "spec.updateStrategy.rollingUpdate";
                positive_int_or_percent(v, Some(mu), &child(p, "maxUnavailable"));
                positive_int_or_percent(v, Some(ms), &child(p, "maxSurge"));
                not_more_than_100_percent(v, Some(mu), &child(p, "maxUnavailable"));
                not_more_than_100_percent(v, Some(ms), &child(p, "maxSurge"));
                let has_u = int_or_percent_value(Some(mu)).0 != 0;
                let has_s = int_or_percent_value(Some(ms)).0 != 0;
                if has_u && has_s {
                    v.push(
                        FieldError::invalid(
                            &child(p, "maxSurge"),
                            ms.clone(),
                            "may not be set when maxUnavailable is non-zero",
                        )
                        .with_repr(go_int_or_string(Some(ms))),
                    );
                } else if !has_u && !has_s {
                    v.push(FieldError::required(
                        &child(p, "maxUnavailable"),
                        "cannot be 0 when maxSurge is 0",
                    ));
                }
            }
            other => v.push(
                FieldError::not_supported(
                    "spec.updateStrategy",
                    other,
                    &["RollingUpdate", "OnDelete"],
                )
                .with_repr(us.to_string()),
            ),
        }
    }
    selector_immutable(v, obj, old);
}

/// `ValidateControllerRevision` / `ValidateControllerRevisionUpdate`.
pub fn controller_revision(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    if obj.get("data").is_none_or(Value::is_null) {
        v.push(FieldError::required("data", "data is mandatory"));
    }
    let r = v.int(obj, "revision", "");
    nonnegative(v, r, "revision");
    if let Some(old) = old {
        if obj.get("data") != old.get("data") {
            v.push(FieldError::invalid(
                "data",
                obj.get("data").cloned().unwrap_or(Value::Null),
                IMMUTABLE,
            ));
        }
    }
}
