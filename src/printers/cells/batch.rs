//! Row cells for batch/v1: Job and CronJob.

use super::super::util::*;
use super::{deleting, has_condition, name};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Job row.
pub(super) fn job(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let succeeded = i(o, &["status", "succeeded"]);
    let completions = match opt_i(o, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = i(o, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = parse_time(at(o, &["status", "startTime"]));
    let end = parse_time(at(o, &["status", "completionTime"]));
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(st), None) => human_duration(now - st),
        (Some(st), Some(en)) => human_duration(en - st),
    };
    let conds = arr(o, &["status", "conditions"]);
    let status = if has_condition(conds, "Complete") {
        "Complete"
    } else if has_condition(conds, "Failed") {
        "Failed"
    } else if deleting(o) {
        "Terminating"
    } else if has_condition(conds, "Suspended") {
        "Suspended"
    } else if has_condition(conds, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (n, img) = container_cells(arr(o, &["spec", "template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_label_selector(at(o, &["spec", "selector"]))),
    ]
}

/// CronJob row.
pub(super) fn cron_job(o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let last = match at(o, &["status", "lastScheduleTime"]) {
        Value::Null => "<none>".to_string(),
        v => since(v, now),
    };
    let tz = match at(o, &["spec", "timeZone"]).as_str() {
        Some(t) => t.to_string(),
        None => "<none>".to_string(),
    };
    let tmpl = at(o, &["spec", "jobTemplate", "spec"]);
    let (n, img) = container_cells(arr(tmpl, &["template", "spec", "containers"]));
    vec![
        json!(name(o)),
        json!(s(o, &["spec", "schedule"])),
        json!(tz),
        json!(bool_ptr(at(o, &["spec", "suspend"]))),
        json!(arr(o, &["status", "active"]).len() as i64),
        json!(last),
        json!(age(o, now)),
        json!(n),
        json!(img),
        json!(format_label_selector(at(tmpl, &["selector"]))),
    ]
}
