//! Job, CronJob and TTL-after-finished controllers, driven with the real kubectl.
//!
//! There is no kubelet here: [`finish_pod`] stands in for it by patching a pod's status
//! (`kubectl patch pod X --subresource=status`) to `Succeeded` or `Failed` with a container exit
//! code, as a kubelet would report.

mod common;

use std::time::Duration;

use common::{eventually, unique_ns, Server};
use serde_json::Value;

fn json(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&s.kubectl_ok(&a)).expect("json")
}

fn try_json(s: &Server, args: &[&str]) -> Option<Value> {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let out = s.kubectl(&a);
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Pods of Job `job` in `ns`.
fn job_pods(s: &Server, ns: &str, job: &str) -> Vec<Value> {
    let sel = format!("job-name={job}");
    json(s, &["get", "pods", "-n", ns, "-l", &sel])["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn phase(p: &Value) -> &str {
    p["status"]["phase"].as_str().unwrap_or("")
}

fn name(o: &Value) -> String {
    o["metadata"]["name"].as_str().unwrap_or("").to_string()
}

/// Stands in for the kubelet: reports pod `pod` finished with `phase` and `exit_code`.
fn finish_pod(s: &Server, ns: &str, pod: &str, phase: &str, exit_code: i32) {
    let patch = serde_json::json!({"status": {
        "phase": phase,
        "containerStatuses": [{
            "name": "c", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": if exit_code == 0 {"Completed"} else {"Error"},
                "finishedAt": "2024-01-01T00:00:00Z"}}
        }]
    }});
    s.kubectl_ok(&[
        "patch",
        "pod",
        pod,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);
}

fn condition(job: &Value, type_: &str) -> Option<Value> {
    job["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == "True")
        .cloned()
}

fn create_job(s: &Server, ns: &str, name: &str, spec: Value) {
    let mut spec = spec;
    spec["template"] = serde_json::json!({"spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "busybox"}]}});
    let job = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns}, "spec": spec});
    s.kubectl_stdin_ok(&["create", "-f", "-"], &job.to_string());
}

fn setup(prefix: &str) -> (Server, String) {
    let s = Server::start();
    let ns = unique_ns(prefix);
    s.kubectl_ok(&["create", "namespace", &ns]);
    (s, ns)
}

fn events(s: &Server, ns: &str) -> String {
    s.kubectl_ok(&["get", "events", "-n", ns])
}

#[test]
fn job_completions_respect_parallelism() {
    let (s, ns) = setup("jobpar");
    create_job(
        &s,
        &ns,
        "five",
        serde_json::json!({"completions": 5, "parallelism": 2}),
    );
    let mut done = 0;
    let ok = eventually(Duration::from_secs(60), || {
        let pods = job_pods(&s, &ns, "five");
        let running: Vec<&Value> = pods
            .iter()
            .filter(|p| phase(p) != "Succeeded" && phase(p) != "Failed")
            .collect();
        assert!(running.len() <= 2, "more than 2 active pods: {pods:?}");
        if let Some(p) = running.first() {
            assert!(name(p).starts_with("five-"));
            finish_pod(&s, &ns, &name(p), "Succeeded", 0);
            done += 1;
        }
        let job = json(&s, &["get", "job", "five", "-n", &ns]);
        condition(&job, "Complete").is_some()
    });
    assert!(ok, "job did not complete:\n{}", s.log());
    assert_eq!(done, 5);
    let job = json(&s, &["get", "job", "five", "-n", &ns]);
    assert_eq!(job["status"]["succeeded"], 5);
    assert!(job["status"]["completionTime"].is_string());
    assert!(condition(&job, "SuccessCriteriaMet").is_some());
    let table = s.kubectl_ok(&["get", "job", "five", "-n", &ns]);
    assert!(table.contains("5/5"), "{table}");
    assert!(table.contains("Complete"), "{table}");
    for p in job_pods(&s, &ns, "five") {
        let fin = p["metadata"]["finalizers"].to_string();
        assert!(!fin.contains("job-tracking"), "finalizer left: {p}");
    }
    let ev = events(&s, &ns);
    assert!(ev.contains("SuccessfulCreate"), "{ev}");
    assert!(ev.contains("Created pod: five-"), "{ev}");
    assert!(ev.contains("Job completed"), "{ev}");
}

#[test]
fn job_backoff_limit_fails_job() {
    let (s, ns) = setup("jobfail");
    create_job(&s, &ns, "flaky", serde_json::json!({"backoffLimit": 1}));
    let mut failed = Vec::new();
    let ok = eventually(Duration::from_secs(60), || {
        for p in job_pods(&s, &ns, "flaky") {
            if phase(&p) != "Failed" && !failed.contains(&name(&p)) {
                finish_pod(&s, &ns, &name(&p), "Failed", 1);
                failed.push(name(&p));
            }
        }
        let job = json(&s, &["get", "job", "flaky", "-n", &ns]);
        condition(&job, "Failed").is_some()
    });
    assert!(ok, "job did not fail:\n{}", s.log());
    assert_eq!(failed.len(), 2, "one retry after the first failure");
    let job = json(&s, &["get", "job", "flaky", "-n", &ns]);
    let cond = condition(&job, "Failed").expect("Failed");
    assert_eq!(cond["reason"], "BackoffLimitExceeded");
    assert!(condition(&job, "FailureTarget").is_some());
    assert_eq!(job["status"]["failed"], 2);
    let ev = events(&s, &ns);
    assert!(ev.contains("BackoffLimitExceeded"), "{ev}");
}

#[test]
fn job_pod_failure_policy_fail_job() {
    let (s, ns) = setup("jobpfp");
    create_job(
        &s,
        &ns,
        "pfp",
        serde_json::json!({"backoffLimit": 5, "podFailurePolicy": {"rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]}}),
    );
    assert!(eventually(Duration::from_secs(20), || !job_pods(
        &s, &ns, "pfp"
    )
    .is_empty()));
    let pod = name(&job_pods(&s, &ns, "pfp")[0]);
    finish_pod(&s, &ns, &pod, "Failed", 42);
    let ok = eventually(Duration::from_secs(20), || {
        condition(&json(&s, &["get", "job", "pfp", "-n", &ns]), "Failed").is_some()
    });
    assert!(ok, "job did not fail:\n{}", s.log());
    let cond = condition(&json(&s, &["get", "job", "pfp", "-n", &ns]), "Failed").expect("cond");
    assert_eq!(cond["reason"], "PodFailurePolicy");
    assert!(cond["message"]
        .as_str()
        .unwrap_or("")
        .contains("failed with exit code 42 matching FailJob rule at index 0"));
}

#[test]
fn indexed_job_gets_indexes() {
    let (s, ns) = setup("jobidx");
    create_job(
        &s,
        &ns,
        "idx",
        serde_json::json!({"completions": 3, "parallelism": 3, "completionMode": "Indexed"}),
    );
    assert!(eventually(Duration::from_secs(20), || job_pods(
        &s, &ns, "idx"
    )
    .len()
        == 3));
    let pods = job_pods(&s, &ns, "idx");
    let mut indexes: Vec<String> = pods
        .iter()
        .map(|p| {
            let ix = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert_eq!(
                p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"],
                ix.as_str()
            );
            assert_eq!(p["spec"]["hostname"], format!("idx-{ix}"));
            assert!(name(p).starts_with(&format!("idx-{ix}-")));
            let env = p["spec"]["containers"][0]["env"].to_string();
            assert!(env.contains("JOB_COMPLETION_INDEX"), "{env}");
            ix
        })
        .collect();
    indexes.sort();
    assert_eq!(indexes, vec!["0", "1", "2"]);
    for p in &pods {
        finish_pod(&s, &ns, &name(p), "Succeeded", 0);
    }
    let ok = eventually(Duration::from_secs(20), || {
        condition(&json(&s, &["get", "job", "idx", "-n", &ns]), "Complete").is_some()
    });
    assert!(ok, "indexed job did not complete:\n{}", s.log());
    let job = json(&s, &["get", "job", "idx", "-n", &ns]);
    assert_eq!(job["status"]["completedIndexes"], "0-2");
    assert_eq!(job["status"]["succeeded"], 3);
}

#[test]
fn suspended_job_creates_no_pods() {
    let (s, ns) = setup("jobsus");
    create_job(&s, &ns, "sus", serde_json::json!({"suspend": true}));
    let ok = eventually(Duration::from_secs(20), || {
        condition(&json(&s, &["get", "job", "sus", "-n", &ns]), "Suspended").is_some()
    });
    assert!(ok, "no Suspended condition:\n{}", s.log());
    assert!(job_pods(&s, &ns, "sus").is_empty());
    s.kubectl_ok(&[
        "patch",
        "job",
        "sus",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    assert!(eventually(Duration::from_secs(20), || job_pods(
        &s, &ns, "sus"
    )
    .len()
        == 1));
}

#[test]
fn ttl_after_finished_deletes_job() {
    let (s, ns) = setup("jobttl");
    create_job(
        &s,
        &ns,
        "short",
        serde_json::json!({"ttlSecondsAfterFinished": 1}),
    );
    assert!(eventually(Duration::from_secs(20), || !job_pods(
        &s, &ns, "short"
    )
    .is_empty()));
    let pod = name(&job_pods(&s, &ns, "short")[0]);
    finish_pod(&s, &ns, &pod, "Succeeded", 0);
    let gone = eventually(Duration::from_secs(30), || {
        try_json(&s, &["get", "job", "short", "-n", &ns]).is_none()
    });
    assert!(gone, "job not deleted after its TTL:\n{}", s.log());
}

#[test]
fn cronjob_schedules_forbids_and_instantiates() {
    let (s, ns) = setup("cron");
    let cj = serde_json::json!({"apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "tick", "namespace": ns},
        "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    s.kubectl_stdin_ok(&["create", "-f", "-"], &cj.to_string());
    let owned = |s: &Server| -> Vec<Value> {
        json(s, &["get", "jobs", "-n", &ns])["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|j| j["metadata"]["ownerReferences"][0]["name"] == "tick")
            .collect()
    };
    assert!(
        eventually(Duration::from_secs(65), || !owned(&s).is_empty()),
        "no job within 65s:\n{}",
        s.log()
    );
    let jobs = owned(&s);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    let jname = name(job);
    let minutes: i64 = jname
        .strip_prefix("tick-")
        .and_then(|m| m.parse().ok())
        .expect("tick-<minutes>");
    let stamp = job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        .as_str()
        .expect("scheduled timestamp annotation");
    let t: jiff::Timestamp = stamp.parse().expect("RFC 3339");
    assert_eq!(t.as_second(), minutes * 60);
    let cj = json(&s, &["get", "cronjob", "tick", "-n", &ns]);
    assert_eq!(cj["status"]["active"][0]["name"], jname.as_str());
    assert!(cj["status"]["lastScheduleTime"].is_string());

    // kubectl builds a Job from the CronJob's template.
    s.kubectl_ok(&["create", "job", "manual", "--from=cronjob/tick", "-n", &ns]);
    let manual = json(&s, &["get", "job", "manual", "-n", &ns]);
    assert_eq!(manual["metadata"]["ownerReferences"][0]["kind"], "CronJob");
    assert_eq!(
        manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );

    // The scheduled job is still running: the next minute is skipped.
    let skipped = eventually(Duration::from_secs(65), || {
        events(&s, &ns).contains("JobAlreadyActive")
    });
    assert!(skipped, "no JobAlreadyActive event:\n{}", events(&s, &ns));
    let scheduled: Vec<Value> = owned(&s)
        .into_iter()
        .filter(|j| name(j).starts_with("tick-"))
        .collect();
    assert_eq!(scheduled.len(), 1, "Forbid started a second job");

    // Finishing it: the controller notices and drops it from `active`.
    for p in job_pods(&s, &ns, &jname) {
        finish_pod(&s, &ns, &name(&p), "Succeeded", 0);
    }
    let seen = eventually(Duration::from_secs(30), || {
        let cj = json(&s, &["get", "cronjob", "tick", "-n", &ns]);
        cj["status"]["lastSuccessfulTime"].is_string()
    });
    assert!(seen, "no lastSuccessfulTime:\n{}", events(&s, &ns));
    let ev = events(&s, &ns);
    assert!(ev.contains(&format!("Created job {jname}")), "{ev}");
    assert!(ev.contains("SawCompletedJob"), "{ev}");
}
