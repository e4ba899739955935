//! Pods of a Job: building them from the template (Indexed Jobs get their index as annotation,
//! label, `JOB_COMPLETION_INDEX` and hostname), classifying them, index sets in upstream's
//! `completedIndexes` notation, and `podFailurePolicy` matching.

use std::collections::BTreeSet;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::{COMPLETION_INDEX, TRACKING_FINALIZER};

/// Whether the pod reached `Succeeded` or `Failed`.
pub fn finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// The pod's phase (empty when unset).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Whether the pod is being deleted.
pub fn deleting(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// Whether the pod has the `Ready` condition `True`.
pub fn ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// Whether the pod still carries the tracking finalizer.
pub fn tracked(pod: &Pod) -> bool {
    pod.metadata
        .finalizers
        .as_ref()
        .is_some_and(|f| f.iter().any(|f| f == TRACKING_FINALIZER))
}

/// The completion index of a pod (annotation first, then label), if valid for `completions`.
pub fn index_of(pod: &Pod, completions: i32) -> Option<i32> {
    let from = |m: Option<&std::collections::BTreeMap<String, String>>| {
        m.and_then(|m| m.get(COMPLETION_INDEX))
            .and_then(|v| v.parse::<i32>().ok())
    };
    let ix = from(pod.metadata.annotations.as_ref()).or(from(pod.metadata.labels.as_ref()))?;
    (0..completions).contains(&ix).then_some(ix)
}

/// When the pod finished: the latest container `finishedAt`, else now.
pub fn finish_time(pod: &Pod) -> jiff::Timestamp {
    pod.status
        .as_ref()
        .into_iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
        })
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0)
        .max()
        .unwrap_or_else(jiff::Timestamp::now)
}

/// Parses `completedIndexes` / `failedIndexes` (`"0,2-4"`); malformed parts are skipped.
pub fn parse_indexes(s: Option<&str>, completions: i32) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in s.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(lo), Ok(hi)) = (lo, hi) {
            set.extend((lo.max(0)..=hi).filter(|i| *i < completions));
        }
    }
    set
}

/// Formats an index set as upstream (`"0,2-4"`); `None` when empty.
pub fn format_indexes(set: &BTreeSet<i32>) -> Option<String> {
    let mut parts = Vec::new();
    let mut it = set.iter().copied().peekable();
    while let Some(lo) = it.next() {
        let mut hi = lo;
        while it.peek() == Some(&(hi + 1)) {
            hi += 1;
            it.next();
        }
        parts.push(if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

fn index_env(c: &mut Container) {
    let env = c.env.get_or_insert_with(Vec::new);
    if env.iter().any(|e| e.name == "JOB_COMPLETION_INDEX") {
        return;
    }
    env.push(EnvVar {
        name: "JOB_COMPLETION_INDEX".into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.annotations['{COMPLETION_INDEX}']"),
            }),
            ..Default::default()
        }),
    });
}

/// A pod for `job` from its template (`generateName` `<job>-`, or `<job>-<index>-`), owned by the
/// Job and carrying the tracking finalizer.
pub fn build(job: &Job, index: Option<i32>) -> Pod {
    let name = job.metadata.name.clone().unwrap_or_default();
    let template = job.spec.as_ref().map(|s| s.template.clone());
    let tmeta = template
        .as_ref()
        .and_then(|t| t.metadata.clone())
        .unwrap_or_default();
    let mut spec: PodSpec = template.and_then(|t| t.spec).unwrap_or_default();
    let mut labels = tmeta.labels.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    let generate_name = match index {
        Some(ix) => {
            labels.insert(COMPLETION_INDEX.into(), ix.to_string());
            annotations.insert(COMPLETION_INDEX.into(), ix.to_string());
            spec.containers.iter_mut().for_each(index_env);
            spec.init_containers
                .iter_mut()
                .flatten()
                .for_each(index_env);
            if spec.hostname.as_deref().unwrap_or("").is_empty() {
                spec.hostname = Some(format!("{name}-{ix}"));
            }
            format!("{name}-{ix}-")
        }
        None => format!("{name}-"),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: job.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(vec![TRACKING_FINALIZER.to_string()]),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "Job".into(),
                name,
                uid: job.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// What a matching `podFailurePolicy` rule says about a failed pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// Fail the whole Job with this message.
    FailJob(String),
    /// Mark the pod's index failed.
    FailIndex,
    /// Do not count the failure.
    Ignore,
    /// Count the failure (also when no rule matches).
    Count,
}

/// Evaluates `job.spec.podFailurePolicy` for a `Failed` pod (first matching rule wins).
pub fn failure_policy(job: &Job, pod: &Pod) -> PolicyAction {
    let Some(policy) = job
        .spec
        .as_ref()
        .and_then(|s| s.pod_failure_policy.as_ref())
    else {
        return PolicyAction::Count;
    };
    let ns = pod.metadata.namespace.as_deref().unwrap_or("");
    let pname = pod.metadata.name.as_deref().unwrap_or("");
    let status = pod.status.clone().unwrap_or_default();
    for (i, rule) in policy.rules.iter().enumerate() {
        let mut message = None;
        if let Some(req) = &rule.on_exit_codes {
            let statuses = status
                .container_statuses
                .iter()
                .flatten()
                .chain(status.init_container_statuses.iter().flatten());
            for cs in statuses {
                if req.container_name.as_ref().is_some_and(|n| *n != cs.name) {
                    continue;
                }
                let Some(code) = cs
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .map(|t| t.exit_code)
                else {
                    continue;
                };
                let listed = req.values.contains(&code);
                let hit = code != 0
                    && match req.operator.as_str() {
                        "In" => listed,
                        "NotIn" => !listed,
                        _ => false,
                    };
                if hit {
                    message = Some(format!(
                        "Container {} for pod {ns}/{pname} failed with exit code {code} matching {} rule at index {i}",
                        cs.name, rule.action
                    ));
                    break;
                }
            }
        }
        for pat in rule.on_pod_conditions.iter().flatten() {
            let want = if pat.status.is_empty() {
                "True"
            } else {
                pat.status.as_str()
            };
            let conds = status.conditions.iter().flatten();
            if message.is_none()
                && conds
                    .clone()
                    .any(|c| c.type_ == pat.type_ && c.status == want)
            {
                message = Some(format!(
                    "Pod {ns}/{pname} has condition {} matching {} rule at index {i}",
                    pat.type_, rule.action
                ));
            }
        }
        if let Some(m) = message {
            return match rule.action.as_str() {
                "FailJob" => PolicyAction::FailJob(m),
                "FailIndex" => PolicyAction::FailIndex,
                "Ignore" => PolicyAction::Ignore,
                _ => PolicyAction::Count,
            };
        }
    }
    PolicyAction::Count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_sets() {
        let s = parse_indexes(Some("0,2-4,9"), 5);
        assert_eq!(s.iter().copied().collect::<Vec<_>>(), vec![0, 2, 3, 4]);
        assert_eq!(format_indexes(&s).as_deref(), Some("0,2-4"));
        assert_eq!(format_indexes(&BTreeSet::new()), None);
        assert!(parse_indexes(None, 3).is_empty());
    }

    #[test]
    fn policy_exit_codes() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j"},
            "spec": {"template": {}, "podFailurePolicy": {"rules": [
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}
            ]}}
        }))
        .expect("job");
        let pod = |code: i32| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "p", "namespace": "ns"},
                "status": {"phase": "Failed", "containerStatuses": [{"name": "c", "image": "i",
                    "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": code}}}]}
            }))
            .expect("pod")
        };
        assert_eq!(
            failure_policy(&job, &pod(42)),
            PolicyAction::FailJob(
                "Container c for pod ns/p failed with exit code 42 matching FailJob rule at index 1"
                    .into()
            )
        );
        assert_eq!(failure_policy(&job, &pod(1)), PolicyAction::Count);
        let mut p = pod(1);
        if let Some(s) = p.status.as_mut() {
            s.conditions = Some(vec![serde_json::from_value(
                serde_json::json!({"type": "DisruptionTarget", "status": "True"}),
            )
            .expect("cond")]);
        }
        assert_eq!(failure_policy(&job, &p), PolicyAction::Ignore);
    }
}
