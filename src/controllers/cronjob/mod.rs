//! The CronJob controller (upstream's `pkg/controller/cronjob`, the v2 controller): keeps
//! `status.active`, `lastScheduleTime` and `lastSuccessfulTime` current from the Jobs it owns,
//! creates a Job `<cronjob>-<scheduled minutes since epoch>` at each schedule time (in
//! `spec.timeZone`) within `startingDeadlineSeconds`, honours `concurrencyPolicy` and `suspend`,
//! and trims finished Jobs to the history limits.

pub mod schedule;

use crate::controllers::common::informer::SharedInformers;
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::{Api, Client};

use super::events::{reference, EventType, Recorder};
use super::queue::WorkQueue;
use crate::validation::cron::Schedule;

/// Name of the CronJob controller for `--disable` (and its event source).
pub const CRONJOB_CONTROLLER: &str = "cronjob-controller";
/// Annotation with the scheduled time of a Job (RFC 3339 in the CronJob's zone).
pub const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Upstream's `nextScheduleDelta`: wake up a little after the schedule time.
const NEXT_DELTA: Duration = Duration::from_millis(100);
/// More missed start times than this are reported (`TooManyMissedTimes`).
const MANY_MISSED: u64 = 100;

/// Errors of one CronJob sync (retried later).
#[derive(Debug, thiserror::Error)]
pub enum CronJobError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// A Job with the scheduled name exists but belongs to someone else.
    #[error("job {0} already exists but is not owned by this cronjob")]
    NotOwned(String),
}

struct Ctx {
    client: Client,
    recorder: Recorder,
}

/// Runs the CronJob controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let ctx = Ctx {
        recorder: Recorder::new(client.clone(), CRONJOB_CONTROLLER, None),
        client,
    };
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    watch(&informers, queue.clone());
    loop {
        let key = queue.next().await;
        let Some((ns, name)) = key.split_once('/') else {
            continue;
        };
        match sync(&ctx, ns, name).await {
            Ok(requeue) => {
                queue.forget(&key);
                if let Some(after) = requeue {
                    queue.add_after(key, after);
                }
            }
            Err(e) => {
                tracing::debug!(cronjob = %key, error = %e, "cronjob controller: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

fn watch(informers: &SharedInformers, queue: Arc<WorkQueue<String>>) {
    let q = queue.clone();
    informers.get::<CronJob>().handle(move |c, deleted| {
        if let (false, Some(ns), Some(name)) = (deleted, &c.metadata.namespace, &c.metadata.name) {
            q.add(format!("{ns}/{name}"));
        }
    });
    informers.get::<Job>().handle(move |j, _| {
        let owner = j
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true) && o.kind == "CronJob");
        if let (Some(ns), Some(o)) = (&j.metadata.namespace, owner) {
            queue.add(format!("{ns}/{}", o.name));
        }
    });
}

/// The finished condition of a Job (`Complete` or `Failed`), if any.
fn finished(job: &Job) -> Option<&'static str> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    ["Complete", "Failed"]
        .into_iter()
        .find(|t| conds.iter().any(|c| c.type_ == *t && c.status == "True"))
}

/// Upstream's `mostRecentScheduleTime`: the earliest time considered, the most recent
/// unmet schedule time not after `now` (if any) and how many were missed.
fn most_recent(
    cj: &CronJob,
    now: Timestamp,
    sched: &Schedule,
    tz: &TimeZone,
    with_deadline: bool,
) -> (Timestamp, Option<Timestamp>, u64) {
    let status = cj.status.as_ref();
    let mut earliest = status
        .and_then(|s| s.last_schedule_time.as_ref())
        .or(cj.metadata.creation_timestamp.as_ref())
        .map(|t| t.0)
        .unwrap_or(now);
    let sds = cj.spec.as_ref().and_then(|s| s.starting_deadline_seconds);
    if let (true, Some(sds)) = (with_deadline, sds) {
        let deadline = now - jiff::SignedDuration::from_secs(sds);
        earliest = earliest.max(deadline);
    }
    let mut most_recent = None;
    let mut missed = 0u64;
    let mut t = earliest;
    while let Some(n) = schedule::next(sched, t, tz) {
        if n > now {
            break;
        }
        missed += 1;
        most_recent = Some(n);
        t = n;
        if missed > 100_000 {
            break;
        }
    }
    (earliest, most_recent, missed)
}

/// How long until the next schedule time after the most recent one (plus a small delta).
fn next_duration(cj: &CronJob, now: Timestamp, sched: &Schedule, tz: &TimeZone) -> Duration {
    let (earliest, recent, _) = most_recent(cj, now, sched, tz, false);
    match schedule::next(sched, recent.unwrap_or(earliest), tz) {
        Some(n) => {
            let d: Duration = n.duration_since(now).try_into().unwrap_or(Duration::ZERO);
            d + NEXT_DELTA
        }
        None => Duration::from_secs(3600),
    }
}

fn job_ref(job: &Job) -> ObjectReference {
    reference("batch/v1", "Job", &job.metadata)
}

/// Syncs CronJob `ns/name`; returns when to look again.
async fn sync(ctx: &Ctx, ns: &str, name: &str) -> Result<Option<Duration>, CronJobError> {
    let cjs: Api<CronJob> = Api::namespaced(ctx.client.clone(), ns);
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let Some(mut cj) = cjs.get_opt(name).await? else {
        return Ok(None);
    };
    if cj.metadata.deletion_timestamp.is_some() {
        return Ok(None);
    }
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let cj_ref = reference("batch/v1", "CronJob", &cj.metadata);
    let jobs: Vec<Job> = jobs_api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|j| {
            j.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.uid == uid && o.controller == Some(true))
        })
        .collect();
    let original = cj.status.clone();
    let mut status = cj.status.clone().unwrap_or_default();
    let mut active = status.active.take().unwrap_or_default();
    let in_active =
        |active: &[ObjectReference], j: &Job| active.iter().any(|a| a.uid == j.metadata.uid);
    for j in &jobs {
        let jname = j.metadata.name.clone().unwrap_or_default();
        let fin = finished(j);
        if !in_active(&active, j) && fin.is_none() {
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Warning,
                    "UnexpectedJob",
                    &format!("Saw a job that the controller did not create or forgot: {jname}"),
                )
                .await;
        } else if let (true, Some(cond)) = (in_active(&active, j), fin) {
            active.retain(|a| a.uid != j.metadata.uid);
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Normal,
                    "SawCompletedJob",
                    &format!("Saw completed job: {jname}, condition: {cond}"),
                )
                .await;
        }
        if fin == Some("Complete") {
            let done = j.status.as_ref().and_then(|s| s.completion_time.clone());
            if let Some(done) = done {
                if status
                    .last_successful_time
                    .as_ref()
                    .is_none_or(|l| l.0 < done.0)
                {
                    status.last_successful_time = Some(done);
                }
            }
        }
    }
    let mut kept = Vec::new();
    for a in active {
        if jobs.iter().any(|j| j.metadata.uid == a.uid) {
            kept.push(a);
            continue;
        }
        let aname = a.name.clone().unwrap_or_default();
        if jobs_api.get_opt(&aname).await?.is_none() {
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Normal,
                    "MissingJob",
                    &format!("Active job went missing: {aname}"),
                )
                .await;
        } else {
            kept.push(a);
        }
    }
    let mut active = kept;
    let spec = cj.spec.clone().unwrap_or_default();
    let requeue = schedule_job(ctx, &cj, &spec, &jobs_api, &mut active, &mut status).await?;
    cleanup(ctx, &cj_ref, &spec, &jobs_api, &jobs, &mut active).await;
    status.active = (!active.is_empty()).then_some(active);
    if original.unwrap_or_default() != status {
        cj.status = Some(status);
        cjs.replace_status(name, &PostParams::default(), &cj)
            .await?;
    }
    Ok(requeue)
}

/// The scheduling half of upstream's `syncCronJob`.
async fn schedule_job(
    ctx: &Ctx,
    cj: &CronJob,
    spec: &k8s_openapi::api::batch::v1::CronJobSpec,
    jobs_api: &Api<Job>,
    active: &mut Vec<ObjectReference>,
    status: &mut k8s_openapi::api::batch::v1::CronJobStatus,
) -> Result<Option<Duration>, CronJobError> {
    let cj_ref = reference("batch/v1", "CronJob", &cj.metadata);
    if spec.suspend == Some(true) {
        return Ok(None);
    }
    let tz = match schedule::zone(spec.time_zone.as_deref()) {
        Ok(tz) => tz,
        Err(e) => {
            let msg = format!("invalid timeZone: {:?}: {e}", spec.time_zone);
            ctx.recorder
                .record(&cj_ref, EventType::Warning, "UnknownTimeZone", &msg)
                .await;
            return Ok(None);
        }
    };
    let sched = match schedule::parse(&spec.schedule) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("unparseable schedule: {:?} : {e}", spec.schedule);
            ctx.recorder
                .record(&cj_ref, EventType::Warning, "UnparseableSchedule", &msg)
                .await;
            return Ok(None);
        }
    };
    let now = Timestamp::now();
    let mut view = cj.clone();
    if let Some(s) = view.status.as_mut() {
        s.last_schedule_time = status.last_schedule_time.clone();
    }
    let (_, recent, missed) = most_recent(&view, now, &sched, &tz, true);
    let again = Some(next_duration(&view, now, &sched, &tz));
    let Some(scheduled) = recent else {
        return Ok(again);
    };
    if missed > MANY_MISSED {
        ctx.recorder
            .record(
                &cj_ref,
                EventType::Warning,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
            .await;
    }
    if let Some(sds) = spec.starting_deadline_seconds {
        if scheduled + jiff::SignedDuration::from_secs(sds) < now {
            let when = scheduled.strftime("%a, %d %b %Y %H:%M:%S %z").to_string();
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Warning,
                    "MissSchedule",
                    &format!("Missed scheduled time to start a job: {when}"),
                )
                .await;
            return Ok(again);
        }
    }
    let cj_name = cj.metadata.name.clone().unwrap_or_default();
    let job_name = format!("{cj_name}-{}", scheduled.as_second().div_euclid(60));
    if active
        .iter()
        .any(|a| a.name.as_deref() == Some(job_name.as_str()))
        || status.last_schedule_time.as_ref().map(|t| t.0) == Some(scheduled)
    {
        return Ok(again);
    }
    let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
    if policy == "Forbid" && !active.is_empty() {
        ctx.recorder
            .record(
                &cj_ref,
                EventType::Normal,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            .await;
        return Ok(again);
    }
    if policy == "Replace" {
        for a in std::mem::take(active) {
            let aname = a.name.clone().unwrap_or_default();
            delete_job(ctx, &cj_ref, jobs_api, &aname).await?;
        }
    }
    let template = spec.job_template.clone();
    let tmeta = template.metadata.unwrap_or_default();
    let mut annotations = tmeta.annotations.unwrap_or_default();
    annotations.insert(
        SCHEDULED_TIMESTAMP.into(),
        scheduled
            .to_zoned(tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
            .replace("+00:00", "Z"),
    );
    let job = Job {
        metadata: ObjectMeta {
            name: Some(job_name.clone()),
            namespace: cj.metadata.namespace.clone(),
            labels: tmeta.labels,
            annotations: Some(annotations),
            owner_references: Some(vec![OwnerReference {
                api_version: "batch/v1".into(),
                kind: "CronJob".into(),
                name: cj_name,
                uid: cj.metadata.uid.clone().unwrap_or_default(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    let created = match jobs_api.create(&PostParams::default(), &job).await {
        Ok(j) => {
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Normal,
                    "SuccessfulCreate",
                    &format!("Created job {job_name}"),
                )
                .await;
            tracing::info!(cronjob = ?cj.metadata.name, job = %job_name, "cronjob created job");
            j
        }
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let existing = jobs_api.get(&job_name).await?;
            let owned = existing
                .metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.controller == Some(true) && Some(&o.uid) == cj.metadata.uid.as_ref());
            if !owned {
                return Err(CronJobError::NotOwned(job_name));
            }
            if active.iter().any(|a| a.uid == existing.metadata.uid)
                || finished(&existing).is_some()
            {
                return Ok(again);
            }
            existing
        }
        Err(e) => {
            ctx.recorder
                .record(
                    &cj_ref,
                    EventType::Warning,
                    "FailedCreate",
                    &format!("Error creating job: {e}"),
                )
                .await;
            return Err(e.into());
        }
    };
    active.push(job_ref(&created));
    status.last_schedule_time = Some(Time(scheduled));
    view.status
        .get_or_insert_with(Default::default)
        .last_schedule_time = Some(Time(scheduled));
    Ok(Some(next_duration(&view, now, &sched, &tz)))
}

async fn delete_job(
    ctx: &Ctx,
    cj_ref: &ObjectReference,
    api: &Api<Job>,
    name: &str,
) -> Result<(), CronJobError> {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_not_found() => {}
        Err(e) => {
            ctx.recorder
                .record(
                    cj_ref,
                    EventType::Warning,
                    "FailedDelete",
                    &format!("Deleted job: {e}"),
                )
                .await;
            return Err(e.into());
        }
    }
    ctx.recorder
        .record(
            cj_ref,
            EventType::Normal,
            "SuccessfulDelete",
            &format!("Deleted job {name}"),
        )
        .await;
    Ok(())
}

/// Upstream's `cleanupFinishedJobs`: keeps the newest finished Jobs up to the history limits.
async fn cleanup(
    ctx: &Ctx,
    cj_ref: &ObjectReference,
    spec: &k8s_openapi::api::batch::v1::CronJobSpec,
    api: &Api<Job>,
    jobs: &[Job],
    active: &mut Vec<ObjectReference>,
) {
    for (cond, limit) in [
        ("Complete", spec.successful_jobs_history_limit),
        ("Failed", spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else { continue };
        let mut done: Vec<&Job> = jobs.iter().filter(|j| finished(j) == Some(cond)).collect();
        let excess = done.len().saturating_sub(limit.max(0) as usize);
        if excess == 0 {
            continue;
        }
        // Oldest first (by start time, unstarted last, then name), as `byJobStartTime`.
        done.sort_by_key(|j| {
            let st = j.status.as_ref().and_then(|s| s.start_time.as_ref());
            (st.is_none(), st.map(|t| t.0), j.metadata.name.clone())
        });
        for j in done.into_iter().take(excess) {
            let jname = j.metadata.name.clone().unwrap_or_default();
            if delete_job(ctx, cj_ref, api, &jname).await.is_ok() {
                active.retain(|a| a.uid != j.metadata.uid);
            }
        }
    }
}
