//! Defaults of `apps/v1` and `batch/v1`, ported from `pkg/apis/apps/v1/defaults.go` and
//! `pkg/apis/batch/v1/defaults.go`, plus the Job strategy's create-time selector generation.

use serde_json::{json, Value};

use super::core::{persistent_volume_claim, pod_template_spec};
use super::{default_ptr, default_str, each_obj, len_zero, ptr_field, str_of, struct_field, Obj};

/// Defaults an `apps` or `batch` object of `kind`.
pub(super) fn apply(group: &str, kind: &str, o: &mut Obj) {
    match (group, kind) {
        ("apps", "Deployment") => deployment(o),
        ("apps", "ReplicaSet") => {
            if let Some(spec) = struct_field(o, "spec") {
                default_ptr(spec, "replicas", json!(1));
                template(spec);
            }
        }
        ("apps", "StatefulSet") => stateful_set(o),
        ("apps", "DaemonSet") => daemon_set(o),
        ("batch", "Job") => job(o),
        ("batch", "CronJob") => cron_job(o),
        _ => {}
    }
}

/// Defaults the pod template (`spec.template`, a non-pointer struct) of a workload spec.
fn template(spec: &mut Obj) {
    if let Some(t) = struct_field(spec, "template") {
        pod_template_spec(t);
    }
}

/// `SetDefaults_Deployment`.
fn deployment(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_ptr(spec, "replicas", json!(1));
    if let Some(strategy) = struct_field(spec, "strategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = struct_field(strategy, "rollingUpdate") {
                default_ptr(ru, "maxUnavailable", json!("25%"));
                default_ptr(ru, "maxSurge", json!("25%"));
            }
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    default_ptr(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

/// `SetDefaults_DaemonSet`.
fn daemon_set(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    if let Some(strategy) = struct_field(spec, "updateStrategy") {
        default_str(strategy, "type", "RollingUpdate");
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = struct_field(strategy, "rollingUpdate") {
                default_ptr(ru, "maxUnavailable", json!(1));
                default_ptr(ru, "maxSurge", json!(0));
            }
        }
    }
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

/// `SetDefaults_StatefulSet` plus its pod template and volume claim templates.
fn stateful_set(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_str(spec, "podManagementPolicy", "OrderedReady");
    if let Some(strategy) = struct_field(spec, "updateStrategy") {
        // Only a defaulted type brings a defaulted rollingUpdate with it.
        if super::str_unset(strategy.get("type")) {
            strategy.insert("type".into(), json!("RollingUpdate"));
            default_ptr(strategy, "rollingUpdate", json!({}));
        }
        if str_of(strategy, "type") == "RollingUpdate" {
            if let Some(ru) = ptr_field(strategy, "rollingUpdate") {
                default_ptr(ru, "partition", json!(0));
            }
        }
    }
    // StatefulSetAutoDeletePVC is GA.
    if let Some(policy) = struct_field(spec, "persistentVolumeClaimRetentionPolicy") {
        default_str(policy, "whenDeleted", "Retain");
        default_str(policy, "whenScaled", "Retain");
    }
    default_ptr(spec, "replicas", json!(1));
    default_ptr(spec, "revisionHistoryLimit", json!(10));
    template(spec);
    each_obj(spec, "volumeClaimTemplates", persistent_volume_claim);
}

/// `SetDefaults_Job` plus its pod failure policy and pod template.
fn job(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    if super::unset(spec.get("completions")) && super::unset(spec.get("parallelism")) {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default_ptr(spec, "parallelism", json!(1));
    if super::unset(spec.get("backoffLimit")) {
        let limit = if super::unset(spec.get("backoffLimitPerIndex")) {
            6
        } else {
            i64::from(i32::MAX)
        };
        spec.insert("backoffLimit".into(), json!(limit));
    }
    default_ptr(spec, "completionMode", json!("NonIndexed"));
    default_ptr(spec, "suspend", json!(false));
    // JobPodReplacementPolicy is on by default in v1.33.
    if super::unset(spec.get("podReplacementPolicy")) {
        let policy = if super::unset(spec.get("podFailurePolicy")) {
            "TerminatingOrFailed"
        } else {
            "Failed"
        };
        spec.insert("podReplacementPolicy".into(), json!(policy));
    }
    default_ptr(spec, "manualSelector", json!(false));
    job_spec_nested(spec);
    let labels = template_labels(spec);
    if let Some(labels) = labels {
        if let Some(meta) = struct_field(o, "metadata") {
            if len_zero(meta.get("labels")) {
                meta.insert("labels".into(), labels);
            }
        }
    }
}

/// The non-empty labels of `spec.template.metadata`, if any.
fn template_labels(spec: &Obj) -> Option<Value> {
    spec.get("template")
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.as_object().is_some_and(|l| !l.is_empty()))
        .cloned()
}

/// The generated defaults of a JobSpec: pod failure policy patterns and the pod template.
fn job_spec_nested(spec: &mut Obj) {
    if let Some(pfp) = ptr_field(spec, "podFailurePolicy") {
        each_obj(pfp, "rules", |rule| {
            each_obj(rule, "onPodConditions", |pattern| {
                default_str(pattern, "status", "True");
            });
        });
    }
    template(spec);
}

/// `SetDefaults_CronJob`. The job template's JobSpec gets only the generated nested defaults
/// (pod template, pod failure policy), not `SetDefaults_Job`, exactly as upstream.
fn cron_job(o: &mut Obj) {
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    default_str(spec, "concurrencyPolicy", "Allow");
    default_ptr(spec, "suspend", json!(false));
    default_ptr(spec, "successfulJobsHistoryLimit", json!(3));
    default_ptr(spec, "failedJobsHistoryLimit", json!(1));
    if let Some(jt) = struct_field(spec, "jobTemplate") {
        if let Some(js) = struct_field(jt, "spec") {
            job_spec_nested(js);
        }
    }
}

/// The Job strategy's create-time selector generation (`generateSelector`), for a Job whose
/// `spec.manualSelector` is not `true`: adds `job-name`, `batch.kubernetes.io/job-name`
/// (the Job's name), `controller-uid` and `batch.kubernetes.io/controller-uid`
/// (`metadata.uid`) to the pod template's labels unless already present, and selects on
/// `batch.kubernetes.io/controller-uid` unless the selector already names it.
///
/// Upstream, defaulting copies the template's labels into empty Job labels by sharing the Go
/// map, and the generated labels then show on the Job too; the object is defaulted again when
/// read back from storage. To reproduce that, call this before [`super::apply`] on create; this
/// function also copies the template's labels into the Job's labels when those are empty, so
/// calling it after `apply` gives the same result unless the template had labels of its own.
pub fn job_selector_on_create(obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    let meta = o.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let uid = meta
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(spec) = struct_field(o, "spec") else {
        return;
    };
    if spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        return;
    }
    {
        let Some(t) = struct_field(spec, "template") else {
            return;
        };
        let Some(tm) = struct_field(t, "metadata") else {
            return;
        };
        let Some(labels) = struct_field(tm, "labels") else {
            return;
        };
        for (key, value) in [
            ("job-name", &name),
            ("batch.kubernetes.io/job-name", &name),
            ("controller-uid", &uid),
            ("batch.kubernetes.io/controller-uid", &uid),
        ] {
            if !labels.contains_key(key) {
                labels.insert(key.into(), json!(value));
            }
        }
    }
    {
        let Some(selector) = struct_field(spec, "selector") else {
            return;
        };
        let Some(ml) = struct_field(selector, "matchLabels") else {
            return;
        };
        if !ml.contains_key("batch.kubernetes.io/controller-uid") {
            ml.insert("batch.kubernetes.io/controller-uid".into(), json!(uid));
        }
    }
    if let Some(labels) = template_labels(spec) {
        if let Some(meta) = struct_field(o, "metadata") {
            if len_zero(meta.get("labels")) {
                meta.insert("labels".into(), labels);
            }
        }
    }
}
