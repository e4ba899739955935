//! The TTL-after-finished controller (upstream's `pkg/controller/ttlafterfinished`): deletes a
//! finished Job (`Complete` or `Failed`) `spec.ttlSecondsAfterFinished` seconds after it
//! finished, with background propagation and a UID precondition.

use crate::controllers::common::informer::SharedInformers;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::{Api, Client};

use super::queue::WorkQueue;

/// Name of the controller for `--disable`.
pub const TTL_CONTROLLER: &str = "ttl-after-finished-controller";

/// When a finished Job finished: `completionTime`, else the finished condition's transition.
fn finish_time(job: &Job) -> Option<Timestamp> {
    let status = job.status.as_ref()?;
    let cond = status
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")?;
    status
        .completion_time
        .as_ref()
        .or(cond.last_transition_time.as_ref())
        .map(|t| t.0)
        .or_else(|| Some(Timestamp::now()))
}

/// How long until `job` expires (zero when due); `None` when it never does.
pub fn time_left(job: &Job, now: Timestamp) -> Option<Duration> {
    if job.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let ttl = job.spec.as_ref()?.ttl_seconds_after_finished?;
    let expire = finish_time(job)? + jiff::SignedDuration::from_secs(i64::from(ttl));
    Some(
        expire
            .duration_since(now)
            .try_into()
            .unwrap_or(Duration::ZERO),
    )
}

/// Runs the controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    watch(&informers, queue.clone());
    loop {
        let key = queue.next().await;
        let Some((ns, name)) = key.split_once('/') else {
            continue;
        };
        match sync(&client, ns, name).await {
            Ok(Some(after)) => {
                queue.forget(&key);
                queue.add_after(key, after);
            }
            Ok(None) => queue.forget(&key),
            Err(e) => {
                tracing::debug!(job = %key, error = %e, "ttl-after-finished: will retry");
                queue.add_rate_limited(key);
            }
        }
    }
}

fn watch(informers: &SharedInformers, queue: Arc<WorkQueue<String>>) {
    informers.get::<Job>().handle(move |j, deleted| {
        if !deleted && time_left(j, Timestamp::now()).is_some() {
            if let (Some(ns), Some(n)) = (&j.metadata.namespace, &j.metadata.name) {
                queue.add(format!("{ns}/{n}"));
            }
        }
    });
}

async fn sync(client: &Client, ns: &str, name: &str) -> Result<Option<Duration>, kube::Error> {
    let api: Api<Job> = Api::namespaced(client.clone(), ns);
    let Some(job) = api.get_opt(name).await? else {
        return Ok(None);
    };
    match time_left(&job, Timestamp::now()) {
        None => Ok(None),
        Some(left) if !left.is_zero() => Ok(Some(left)),
        Some(_) => {
            let dp = DeleteParams {
                propagation_policy: Some(PropagationPolicy::Background),
                preconditions: Some(Preconditions {
                    uid: job.metadata.uid.clone(),
                    resource_version: None,
                }),
                ..Default::default()
            };
            tracing::info!(job = %format!("{ns}/{name}"), "ttl-after-finished: deleting job");
            match api.delete(name, &dp).await {
                Ok(_) => Ok(None),
                Err(kube::Error::Api(s)) if s.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "j"},
            "spec": {"template": {}, "ttlSecondsAfterFinished": 60},
            "status": {"completionTime": "2024-01-01T00:00:00Z",
                "conditions": [{"type": "Complete", "status": "True"}]}
        }))
        .expect("job");
        let at = |s: &str| s.parse::<Timestamp>().expect("ts");
        assert_eq!(
            time_left(&job, at("2024-01-01T00:00:20Z")),
            Some(Duration::from_secs(40))
        );
        assert_eq!(
            time_left(&job, at("2024-01-01T00:02:00Z")),
            Some(Duration::ZERO)
        );
        let mut running = job.clone();
        running.status = None;
        assert_eq!(time_left(&running, at("2024-01-01T00:02:00Z")), None);
    }
}
