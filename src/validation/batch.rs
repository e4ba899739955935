//! batch/v1 Job and CronJob (upstream `pkg/apis/batch/validation`).

use super::core::pod_template_spec;
use super::meta::{object_meta, IMMUTABLE};
use super::names::NameKind;
use super::util::{child, nonnegative, peek, Ctx};
use super::FieldError;
use once_cell::sync::Lazy;
use regex::Regex;
use serde_json::Value;

fn empty() -> Value {
    Value::Object(Default::default())
}

/// `validateJobSpec` + template rules, at `path` (`spec` or `spec.jobTemplate.spec`).
fn job_spec(v: &mut Ctx, spec: &Value, path: &str) {
    for f in [
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
    ] {
        let n = v.int(spec, f, path);
        nonnegative(v, n, &child(path, f));
    }
    if let Some(mode) = v.str(spec, "completionMode", path) {
        if mode != "NonIndexed" && mode != "Indexed" {
            v.push(FieldError::not_supported(
                &child(path, "completionMode"),
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        if mode == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
            v.push(FieldError::required(
                &child(path, "completions"),
                "when completion mode is Indexed",
            ));
        }
    }
    let tp = child(path, "template");
    let tmpl = v.obj(spec, "template", path).cloned().unwrap_or_else(empty);
    pod_template_spec(v, &tmpl, &tp);
    let rp = peek(&tmpl, &["spec", "restartPolicy"])
        .and_then(Value::as_str)
        .unwrap_or("");
    let rpp = child(&child(&tp, "spec"), "restartPolicy");
    if rp == "Always" || rp.is_empty() {
        v.push(FieldError::required(
            &rpp,
            "valid values: \"OnFailure\", \"Never\"",
        ));
    } else if rp != "OnFailure" && rp != "Never" {
        v.push(FieldError::not_supported(&rpp, rp, &["OnFailure", "Never"]));
    }
}

/// `ValidateJob` / `ValidateJobUpdate` (main checks; the server-generated
/// selector is not checked).
pub fn job(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    job_spec(v, &spec, "spec");
    if let Some(old) = old {
        let new_c = spec.get("completions").cloned().unwrap_or(Value::Null);
        let old_c = peek(old, &["spec", "completions"])
            .cloned()
            .unwrap_or(Value::Null);
        let indexed = spec.get("completionMode").and_then(Value::as_str) == Some("Indexed");
        if new_c != old_c && !indexed {
            v.push(FieldError::invalid("spec.completions", new_c, IMMUTABLE));
        }
        for f in ["selector", "template"] {
            let n = spec.get(f).cloned().unwrap_or(Value::Null);
            let o = peek(old, &["spec", f]).cloned().unwrap_or(Value::Null);
            if n != o {
                v.push(FieldError::invalid(&child("spec", f), n, IMMUTABLE));
            }
        }
    }
}

static TZ_CHARS: Lazy<Option<Regex>> = Lazy::new(|| Regex::new(r"^[A-Za-z\.\-_0-9+]{1,14}$").ok());

fn time_zone(v: &mut Ctx, tz: &str, path: &str) {
    if tz.is_empty() {
        v.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be nil or non-empty string",
        ));
        return;
    }
    let unknown = || format!("unknown time zone {tz}");
    for part in tz.split('/') {
        let ok = TZ_CHARS.as_ref().is_some_and(|r| r.is_match(part));
        if part == "." || part == ".." || part.starts_with('-') || !ok {
            v.push(FieldError::invalid(path, tz, &unknown()));
            return;
        }
    }
    if tz.eq_ignore_ascii_case("Local") {
        v.push(FieldError::invalid(
            path,
            tz,
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ));
        return;
    }
    let zoneinfo = std::path::Path::new("/usr/share/zoneinfo");
    if tz != "UTC" && zoneinfo.is_dir() && !zoneinfo.join(tz).is_file() {
        v.push(FieldError::invalid(path, tz, &unknown()));
    }
}

/// `ValidateCronJobCreate` / `ValidateCronJobUpdate` (main checks).
pub fn cron_job(v: &mut Ctx, obj: &Value, old: Option<&Value>) {
    object_meta(v, obj, old, NameKind::Subdomain);
    let name = peek(obj, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        v.push(FieldError::invalid(
            "metadata.name",
            name,
            "must be no more than 52 characters",
        ));
    }
    let spec = v.obj(obj, "spec", "").cloned().unwrap_or_else(empty);
    let schedule = v.string(&spec, "schedule", "spec");
    let tz = v.str(&spec, "timeZone", "spec");
    if schedule.is_empty() {
        v.push(FieldError::required("spec.schedule", ""));
    } else {
        if let Err(e) = super::cron::parse_standard(schedule) {
            v.push(FieldError::invalid("spec.schedule", schedule, &e));
        }
        let old_sched = old
            .and_then(|o| peek(o, &["spec", "schedule"]))
            .and_then(Value::as_str)
            .unwrap_or("");
        let allow_tz = old_sched.contains("TZ");
        if allow_tz && schedule.contains("TZ") && tz.is_some() {
            v.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            ));
        } else if !allow_tz && schedule.contains("TZ") {
            v.push(FieldError::invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ));
        }
    }
    let sds = v.int(&spec, "startingDeadlineSeconds", "spec");
    nonnegative(v, sds, "spec.startingDeadlineSeconds");
    let old_tz = old
        .and_then(|o| peek(o, &["spec", "timeZone"]))
        .and_then(Value::as_str);
    if let Some(tz) = tz {
        if old.is_none() || old_tz != Some(tz) {
            time_zone(v, tz, "spec.timeZone");
        }
    }
    if let Some(cp) = v.str(&spec, "concurrencyPolicy", "spec") {
        const P: &[&str] = &["Allow", "Forbid", "Replace"];
        if cp.is_empty() {
            v.push(FieldError::required("spec.concurrencyPolicy", ""));
        } else if !P.contains(&cp) {
            v.push(FieldError::not_supported("spec.concurrencyPolicy", cp, P));
        }
    }
    let jt = v
        .obj(&spec, "jobTemplate", "spec")
        .cloned()
        .unwrap_or_else(empty);
    if let Some(meta) = jt.get("metadata").filter(|m| m.is_object()) {
        super::meta::labels_and_annotations(v, meta, "spec.jobTemplate.metadata");
    }
    let js = v
        .obj(&jt, "spec", "spec.jobTemplate")
        .cloned()
        .unwrap_or_else(empty);
    job_spec(v, &js, "spec.jobTemplate.spec");
    for f in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"] {
        let n = v.int(&spec, f, "spec");
        nonnegative(v, n, &child("spec", f));
    }
}
