//! `spec.activeDeadlineSeconds`, enforced as upstream's kubelet does: once a pod has been active
//! on the node (since `status.startTime`) longer than its deadline, its containers are stopped
//! and it fails with reason `DeadlineExceeded`. Pure parts here; the stopping is in `pods.rs`.

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The reason of a pod failed by its deadline.
pub const REASON: &str = "DeadlineExceeded";
/// Its message, as upstream words it.
pub const MESSAGE: &str = "Pod was active on the node longer than the specified deadline";

/// Seconds left before `pod`'s active deadline (zero or less: exceeded); `None` without a
/// deadline or before the pod started.
pub fn seconds_left(pod: &Pod, now: Timestamp) -> Option<i64> {
    let deadline = pod.spec.as_ref()?.active_deadline_seconds?;
    let started = pod.status.as_ref()?.start_time.as_ref()?.0;
    let active = now.as_second() - started.as_second();
    Some(deadline - active)
}

/// The status of a pod failed by its deadline: `old` with phase Failed, the reason and message,
/// its running containers terminated (killed: exit code 137) and nothing ready.
pub fn failed_status(old: &PodStatus, now: Timestamp) -> PodStatus {
    let mut status = old.clone();
    status.phase = Some("Failed".to_string());
    status.reason = Some(REASON.to_string());
    status.message = Some(MESSAGE.to_string());
    let kill = |cs: &mut ContainerStatus| {
        cs.ready = false;
        let running = cs.state.as_ref().and_then(|s| s.running.clone());
        if let Some(running) = running {
            cs.started = Some(false);
            cs.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("Error".to_string()),
                    started_at: running.started_at,
                    finished_at: Some(Time(now)),
                    container_id: cs.container_id.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    };
    status
        .container_statuses
        .iter_mut()
        .flatten()
        .for_each(kill);
    status
        .init_container_statuses
        .iter_mut()
        .flatten()
        .for_each(kill);
    for c in status.conditions.iter_mut().flatten() {
        if c.type_ == "Ready" || c.type_ == "ContainersReady" {
            not_ready(c, now);
        }
    }
    status
}

fn not_ready(c: &mut PodCondition, now: Timestamp) {
    if c.status != "False" {
        c.status = "False".to_string();
        c.last_transition_time = Some(Time(now));
    }
    c.reason = Some("PodFailed".to_string());
    c.message = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(deadline: Option<i64>, started: Option<&str>) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c"}], "activeDeadlineSeconds": deadline},
            "status": {"startTime": started}
        }))
        .expect("pod")
    }

    #[test]
    fn seconds_left_counts_from_the_start_time() {
        let now: Timestamp = "2026-01-01T00:00:10Z".parse().expect("time");
        assert_eq!(
            seconds_left(&pod(Some(30), Some("2026-01-01T00:00:00Z")), now),
            Some(20)
        );
        assert_eq!(
            seconds_left(&pod(Some(5), Some("2026-01-01T00:00:00Z")), now),
            Some(-5)
        );
        assert_eq!(
            seconds_left(&pod(None, Some("2026-01-01T00:00:00Z")), now),
            None
        );
        assert_eq!(seconds_left(&pod(Some(5), None), now), None);
    }

    #[test]
    fn failed_status_kills_running_containers() {
        let now: Timestamp = "2026-01-01T00:01:00Z".parse().expect("time");
        let old: PodStatus = serde_json::from_value(json!({
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true,
                "restartCount": 0, "containerID": "docker://x",
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]
        }))
        .expect("status");
        let s = failed_status(&old, now);
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(s.reason.as_deref(), Some(REASON));
        let cs = &s.container_statuses.as_ref().expect("statuses")[0];
        assert!(!cs.ready);
        let t = cs
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .expect("terminated");
        assert_eq!(t.exit_code, 137);
        assert_eq!(t.container_id.as_deref(), Some("docker://x"));
        let conditions = s.conditions.expect("conditions");
        assert_eq!(conditions[0].status, "False");
        assert_eq!(conditions[1].status, "True");
    }
}
