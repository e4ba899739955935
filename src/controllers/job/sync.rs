//! One sync of one Job (upstream's `syncJob` + `trackJobStatusAndRemoveFinalizers` +
//! `manageJob`).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, UncountedTerminatedPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::Api;

use super::pods::{self, PolicyAction};
use super::{key, Ctx, JobError, TRACKING_FINALIZER};
use crate::controllers::events::{reference, EventType};

/// Upstream's `DefaultJobPodFailureBackOff` and `MaxJobPodFailureBackOff`.
const BACKOFF_BASE: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(360);

fn cond_true(conds: &[JobCondition], type_: &str) -> bool {
    conds.iter().any(|c| c.type_ == type_ && c.status == "True")
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> JobCondition {
    let now = Time(Timestamp::now());
    JobCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now),
    }
}

/// Sets condition `type_`, keeping the transition time when the status does not change.
fn set_condition(conds: &mut Vec<JobCondition>, new: JobCondition) {
    match conds.iter_mut().find(|c| c.type_ == new.type_) {
        Some(c) if c.status == new.status => {
            c.reason = new.reason;
            c.message = new.message;
            c.last_probe_time = new.last_probe_time;
        }
        Some(c) => *c = new,
        None => conds.push(new),
    }
}

/// The back-off before a new pod after `failures` consecutive failures (10s doubling, 6m cap).
pub fn backoff_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32.checked_shl(failures - 1).unwrap_or(u32::MAX);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

fn since(t: Timestamp, now: Timestamp) -> Duration {
    now.duration_since(t).try_into().unwrap_or(Duration::ZERO)
}

async fn release(api: &Api<Pod>, name: &str) -> Result<(), JobError> {
    let patch = serde_json::json!({
        "metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}
    });
    match api
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Syncs Job `ns/name`; returns when to look again (deadline, back-off), if at all.
pub async fn sync(ctx: &Ctx, ns: &str, name: &str) -> Result<Option<Duration>, JobError> {
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), ns);
    let k = key(ns, name);
    let Some(mut job) = jobs.get_opt(name).await? else {
        ctx.backoff.lock().remove(&k);
        return Ok(None);
    };
    let uid = job.metadata.uid.clone().unwrap_or_default();
    let spec = job.spec.clone().unwrap_or_default();
    let selector = spec
        .selector
        .clone()
        .and_then(|s| Selector::try_from(s).ok())
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("batch.kubernetes.io/controller-uid={uid}"));
    let pods: Vec<Pod> = pods_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .into_iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect();
    let mut status = job.status.clone().unwrap_or_default();
    let mut conds = status.conditions.clone().unwrap_or_default();
    if job.metadata.deletion_timestamp.is_some()
        || cond_true(&conds, "Complete")
        || cond_true(&conds, "Failed")
    {
        for p in pods.iter().filter(|p| pods::tracked(p)) {
            release(&pods_api, p.metadata.name.as_deref().unwrap_or("")).await?;
        }
        ctx.backoff.lock().remove(&k);
        return Ok(None);
    }
    let job_ref = reference("batch/v1", "Job", &job.metadata);
    let now = Timestamp::now();
    let indexed = spec.completion_mode.as_deref() == Some("Indexed");
    let completions = spec.completions;
    let parallelism = spec.parallelism.unwrap_or(1);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let suspended = spec.suspend == Some(true);

    // 1. Finished (or deleted) pods still holding the finalizer go to uncountedTerminatedPods,
    //    lose the finalizer, then move into succeeded/failed.
    let unc = status.uncounted_terminated_pods.clone().unwrap_or_default();
    let mut unc_succ = unc.succeeded.unwrap_or_default();
    let mut unc_fail = unc.failed.unwrap_or_default();
    let known: HashSet<String> = unc_succ.iter().chain(unc_fail.iter()).cloned().collect();
    let ncomp = completions.unwrap_or(0);
    let mut completed = pods::parse_indexes(status.completed_indexes.as_deref(), ncomp);
    let mut failed_ix = pods::parse_indexes(status.failed_indexes.as_deref(), ncomp);
    let mut fail_job: Option<String> = None;
    let mut to_release = Vec::new();
    let (mut new_succ, mut new_fail, mut last_fail) = (0u32, 0u32, None::<Timestamp>);
    for pod in &pods {
        let ix = pods::index_of(pod, ncomp);
        if indexed && pods::phase(pod) == "Succeeded" {
            completed.extend(ix);
        }
        if !pods::tracked(pod) {
            continue;
        }
        let puid = pod.metadata.uid.clone().unwrap_or_default();
        let pname = pod.metadata.name.clone().unwrap_or_default();
        if known.contains(&puid) {
            to_release.push(pname);
            continue;
        }
        match pods::phase(pod) {
            "Succeeded" => {
                unc_succ.push(puid);
                new_succ += 1;
            }
            "Failed" => match pods::failure_policy(&job, pod) {
                PolicyAction::Ignore => {}
                PolicyAction::FailJob(m) => {
                    fail_job.get_or_insert(m);
                    unc_fail.push(puid);
                }
                PolicyAction::FailIndex => {
                    failed_ix.extend(ix);
                    unc_fail.push(puid);
                }
                PolicyAction::Count => {
                    unc_fail.push(puid);
                    new_fail += 1;
                    let t = pods::finish_time(pod);
                    last_fail = Some(last_fail.map_or(t, |l| l.max(t)));
                }
            },
            _ if pods::deleting(pod) => unc_fail.push(puid),
            _ => continue,
        }
        to_release.push(pname);
    }
    {
        let mut backoff = ctx.backoff.lock();
        let rec = backoff.entry(k.clone()).or_default();
        if new_succ > 0 {
            rec.failures = 0;
        }
        rec.failures += new_fail;
        if last_fail.is_some() {
            rec.last_failure = last_fail;
        }
    }
    if unc_succ.len() + unc_fail.len() > known.len() {
        status.uncounted_terminated_pods = Some(UncountedTerminatedPods {
            succeeded: Some(unc_succ.clone()),
            failed: Some(unc_fail.clone()),
        });
        job.status = Some(status.clone());
        job = jobs
            .replace_status(name, &PostParams::default(), &job)
            .await?;
    }
    for p in &to_release {
        release(&pods_api, p).await?;
    }
    let released: HashSet<&String> = to_release.iter().collect();
    let mut succeeded = status.succeeded.unwrap_or(0) + unc_succ.len() as i32;
    if indexed {
        succeeded = completed.len() as i32;
    }
    let failed = status.failed.unwrap_or(0) + unc_fail.len() as i32;
    status.uncounted_terminated_pods = Some(UncountedTerminatedPods::default());

    // 2. Where the Job stands.
    let mut active: Vec<&Pod> = pods
        .iter()
        .filter(|p| !pods::finished(p) && !pods::deleting(p))
        .collect();
    let mut terminating = pods
        .iter()
        .filter(|p| pods::deleting(p) && !pods::finished(p))
        .filter(|p| !released.contains(&p.metadata.name.clone().unwrap_or_default()))
        .count();
    let deadline = spec
        .active_deadline_seconds
        .zip(status.start_time.as_ref())
        .map(|(ads, st)| {
            let end = st.0 + jiff::SignedDuration::from_secs(ads);
            (end <= now, end)
        });
    let mut requeue: Option<Duration> = None;
    let target = conds
        .iter()
        .find(|c| {
            (c.type_ == "FailureTarget" || c.type_ == "SuccessCriteriaMet") && c.status == "True"
        })
        .cloned();
    let target = match target {
        Some(t) => Some(t),
        None => {
            let all_done = completions.is_some_and(|c| {
                if indexed {
                    completed.len() as i32 >= c
                } else {
                    succeeded >= c
                }
            }) || (completions.is_none() && succeeded > 0 && active.is_empty());
            let new = if let Some(m) = fail_job {
                Some(("FailureTarget", "PodFailurePolicy", m))
            } else if failed > backoff_limit {
                Some((
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit".to_string(),
                ))
            } else if !suspended && deadline.is_some_and(|(hit, _)| hit) {
                Some((
                    "FailureTarget",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline".to_string(),
                ))
            } else if indexed
                && !failed_ix.is_empty()
                && (completed.len() + failed_ix.len()) as i32 >= ncomp
            {
                Some((
                    "FailureTarget",
                    "FailedIndexes",
                    "Job has failed indexes".to_string(),
                ))
            } else if all_done {
                Some((
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods".to_string(),
                ))
            } else {
                None
            };
            new.map(|(t, r, m)| {
                let c = condition(t, "True", r, &m);
                set_condition(&mut conds, c.clone());
                c
            })
        }
    };

    if let Some(target) = &target {
        // Finishing: no pod may keep running; the terminal condition waits for them to go.
        for p in active.drain(..) {
            delete_pod(ctx, &pods_api, &job_ref, p).await?;
            terminating += 1;
        }
        if terminating == 0 {
            let reason = target.reason.clone().unwrap_or_default();
            let message = target.message.clone().unwrap_or_default();
            if target.type_ == "SuccessCriteriaMet" {
                set_condition(&mut conds, condition("Complete", "True", &reason, &message));
                status.completion_time = Some(Time(now));
                ctx.recorder
                    .record(&job_ref, EventType::Normal, "Completed", "Job completed")
                    .await;
            } else {
                set_condition(&mut conds, condition("Failed", "True", &reason, &message));
                ctx.recorder
                    .record(&job_ref, EventType::Warning, &reason, &message)
                    .await;
            }
            tracing::info!(job = %k, reason, "job finished");
        }
    } else if suspended {
        for p in active.drain(..) {
            delete_pod(ctx, &pods_api, &job_ref, p).await?;
            terminating += 1;
        }
        if !cond_true(&conds, "Suspended") {
            set_condition(
                &mut conds,
                condition("Suspended", "True", "JobSuspended", "Job suspended"),
            );
            ctx.recorder
                .record(&job_ref, EventType::Normal, "Suspended", "Job suspended")
                .await;
        }
        status.start_time = None;
    } else {
        if cond_true(&conds, "Suspended") {
            set_condition(
                &mut conds,
                condition("Suspended", "False", "JobResumed", "Job resumed"),
            );
            ctx.recorder
                .record(&job_ref, EventType::Normal, "Resumed", "Job resumed")
                .await;
            status.start_time = Some(Time(now));
        }
        if status.start_time.is_none() {
            status.start_time = Some(Time(now));
            if let Some(ads) = spec.active_deadline_seconds {
                requeue = Some(Duration::from_secs(ads.max(0) as u64));
            }
        }
        if let Some((_, end)) = deadline {
            requeue = Some(since(now, end).max(Duration::from_millis(100)));
        }
        let created = manage(
            ctx,
            &job,
            &pods_api,
            &job_ref,
            &mut active,
            Want {
                indexed,
                completions,
                parallelism,
                succeeded,
                completed: &completed,
                failed_ix: &failed_ix,
            },
            &mut requeue,
        )
        .await?;
        let ready = active.iter().filter(|p| pods::ready(p)).count() as i32;
        status.ready = Some(ready);
        status.active = Some(active.len() as i32 + created);
    }
    if target.is_some() || suspended {
        status.active = Some(0);
        status.ready = Some(0);
    }
    status.active = status.active.filter(|n| *n > 0);
    status.succeeded = (succeeded > 0).then_some(succeeded);
    status.failed = (failed > 0).then_some(failed);
    status.terminating = Some(terminating as i32);
    if indexed {
        status.completed_indexes = pods::format_indexes(&completed);
        status.failed_indexes = pods::format_indexes(&failed_ix);
    }
    status.conditions = (!conds.is_empty()).then_some(conds);
    if job.status.as_ref() != Some(&status) {
        job.status = Some(status);
        jobs.replace_status(name, &PostParams::default(), &job)
            .await?;
    }
    Ok(requeue)
}

async fn delete_pod(
    ctx: &Ctx,
    api: &Api<Pod>,
    job_ref: &k8s_openapi::api::core::v1::ObjectReference,
    pod: &Pod,
) -> Result<(), JobError> {
    let pname = pod.metadata.name.clone().unwrap_or_default();
    match api.delete(&pname, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    ctx.recorder
        .record(
            job_ref,
            EventType::Normal,
            "SuccessfulDelete",
            &format!("Deleted pod: {pname}"),
        )
        .await;
    Ok(())
}

/// What `manage` aims for.
struct Want<'a> {
    indexed: bool,
    completions: Option<i32>,
    parallelism: i32,
    succeeded: i32,
    completed: &'a BTreeSet<i32>,
    failed_ix: &'a BTreeSet<i32>,
}

/// Creates missing pods / deletes excess ones (upstream's `manageJob`); returns pods created.
async fn manage(
    ctx: &Ctx,
    job: &Job,
    api: &Api<Pod>,
    job_ref: &k8s_openapi::api::core::v1::ObjectReference,
    active: &mut Vec<&Pod>,
    want: Want<'_>,
    requeue: &mut Option<Duration>,
) -> Result<i32, JobError> {
    let n_active = active.len() as i32;
    let to_create: Vec<Option<i32>> = if want.indexed {
        let ncomp = want.completions.unwrap_or(0);
        let running: BTreeSet<i32> = active
            .iter()
            .filter_map(|p| pods::index_of(p, ncomp))
            .collect();
        let room = (want.parallelism - n_active).max(0) as usize;
        (0..ncomp)
            .filter(|i| {
                !want.completed.contains(i) && !want.failed_ix.contains(i) && !running.contains(i)
            })
            .take(room)
            .map(Some)
            .collect()
    } else {
        let target = match want.completions {
            Some(c) => want.parallelism.min((c - want.succeeded).max(0)),
            None if want.succeeded > 0 => n_active,
            None => want.parallelism,
        };
        if n_active > target {
            // Not-ready pods go first.
            active.sort_by_key(|p| pods::ready(p));
            let excess: Vec<&Pod> = active.drain(..(n_active - target) as usize).collect();
            for p in excess {
                delete_pod(ctx, api, job_ref, p).await?;
            }
        }
        vec![None; (target - n_active).max(0) as usize]
    };
    if to_create.is_empty() {
        return Ok(0);
    }
    let k = key(
        job.metadata.namespace.as_deref().unwrap_or(""),
        job.metadata.name.as_deref().unwrap_or(""),
    );
    let wait = {
        let backoff = ctx.backoff.lock();
        backoff.get(&k).and_then(|r| {
            let last = r.last_failure?;
            let delay = backoff_delay(r.failures);
            let elapsed = since(last, Timestamp::now());
            (elapsed < delay).then(|| delay - elapsed)
        })
    };
    if let Some(wait) = wait {
        tracing::debug!(job = %k, ?wait, "job controller: backing off pod creation");
        *requeue = Some(requeue.map_or(wait, |r| r.min(wait)));
        return Ok(0);
    }
    let mut created = 0;
    for ix in to_create {
        let pod = pods::build(job, ix);
        match api.create(&PostParams::default(), &pod).await {
            Ok(p) => {
                created += 1;
                let pname = p.metadata.name.unwrap_or_default();
                ctx.recorder
                    .record(
                        job_ref,
                        EventType::Normal,
                        "SuccessfulCreate",
                        &format!("Created pod: {pname}"),
                    )
                    .await;
            }
            Err(e) => {
                ctx.recorder
                    .record(
                        job_ref,
                        EventType::Warning,
                        "FailedCreate",
                        &format!("Error creating: {e}"),
                    )
                    .await;
                return Err(e.into());
            }
        }
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::backoff_delay;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_delay(0), Duration::ZERO);
        assert_eq!(backoff_delay(1), Duration::from_secs(10));
        assert_eq!(backoff_delay(2), Duration::from_secs(20));
        assert_eq!(backoff_delay(4), Duration::from_secs(80));
        assert_eq!(backoff_delay(6), Duration::from_secs(320));
        assert_eq!(backoff_delay(7), Duration::from_secs(360));
        assert_eq!(backoff_delay(40), Duration::from_secs(360));
    }
}
