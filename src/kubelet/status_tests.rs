use super::*;
use k8s_openapi::api::core::v1::PodCondition;

fn pod(policy: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"restartPolicy": policy, "containers": [{"name": "c", "image": "busybox:1.35"}]},
    }))
    .unwrap()
}

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap()
}

fn exited(id: &str, attempt: i32, code: i32) -> Observed {
    Observed {
        id: id.into(),
        attempt,
        image_id: "docker://sha256:abc".into(),
        state: RunState::Exited {
            exit_code: code,
            reason: if code == 0 { "Completed" } else { "Error" }.into(),
            message: None,
            started_at: Some(t(100)),
            finished_at: Some(t(110)),
        },
    }
}

fn view(current: Option<Observed>, waiting: Option<(&str, &str)>) -> PodView {
    PodView {
        sandbox_ready: true,
        pod_ip: Some("10.42.0.2".into()),
        host_ip: "192.168.0.9".into(),
        containers: vec![ContainerView {
            name: "c".into(),
            image: "busybox:1.35".into(),
            current,
            previous: None,
            waiting: waiting.map(|(r, m)| (r.to_string(), Some(m.to_string()))),
            probes: None,
        }],
        init_containers: Vec::new(),
        default_waiting: None,
    }
}

fn cond<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .unwrap()
}

#[test]
fn creating_pod_is_pending() {
    let s = pod_status(
        &pod("Always"),
        &PodStatus::default(),
        &view(None, None),
        t(1),
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    let w = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("ContainerCreating"));
    assert_eq!(cs.image, "docker.io/library/busybox:1.35");
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(cond(&s, "PodReadyToStartContainers").status, "True");
    assert_eq!(s.pod_ip.as_deref(), Some("10.42.0.2"));
}

#[test]
fn running_pod_is_ready() {
    let running = Observed {
        id: "abc".into(),
        attempt: 0,
        image_id: "docker://sha256:abc".into(),
        state: RunState::Running { started_at: t(50) },
    };
    let s = pod_status(
        &pod("Always"),
        &PodStatus::default(),
        &view(Some(running), None),
        t(60),
    );
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert!(cs.ready);
    assert_eq!(cs.started, Some(true));
    assert_eq!(cs.container_id.as_deref(), Some("docker://abc"));
    assert_eq!(cond(&s, "Ready").status, "True");
    assert_eq!(cond(&s, "ContainersReady").status, "True");
}

#[test]
fn never_policy_ends_failed_with_exit_code() {
    let s = pod_status(
        &pod("Never"),
        &PodStatus::default(),
        &view(Some(exited("x", 0, 3)), None),
        t(200),
    );
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    let term = cs.state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(term.exit_code, 3);
    assert_eq!(term.reason.as_deref(), Some("Error"));
    assert_eq!(cond(&s, "PodReadyToStartContainers").status, "False");
}

#[test]
fn never_policy_success_is_succeeded_and_completed() {
    let s = pod_status(
        &pod("Never"),
        &PodStatus::default(),
        &view(Some(exited("x", 0, 0)), None),
        t(200),
    );
    assert_eq!(s.phase.as_deref(), Some("Succeeded"));
    assert_eq!(cond(&s, "Ready").reason.as_deref(), Some("PodCompleted"));
}

#[test]
fn crash_loop_waits_with_last_state() {
    let v = view(
        Some(exited("x", 2, 1)),
        Some((
            "CrashLoopBackOff",
            "back-off 20s restarting failed container",
        )),
    );
    let s = pod_status(&pod("Always"), &PodStatus::default(), &v, t(200));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert_eq!(cs.restart_count, 2);
    let w = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("CrashLoopBackOff"));
    let last = cs.last_state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(last.exit_code, 1);
}

#[test]
fn image_pull_error_is_pending() {
    let v = view(None, Some(("ErrImageNeverPull", "not present")));
    let s = pod_status(&pod("Always"), &PodStatus::default(), &v, t(1));
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    let w = cs.state.as_ref().unwrap().waiting.as_ref().unwrap();
    assert_eq!(w.reason.as_deref(), Some("ErrImageNeverPull"));
}

#[test]
fn transition_times_are_kept() {
    let first = pod_status(
        &pod("Always"),
        &PodStatus::default(),
        &view(None, None),
        t(1),
    );
    let again = pod_status(&pod("Always"), &first, &view(None, None), t(9));
    assert_eq!(
        cond(&again, "PodScheduled").last_transition_time,
        Some(Time(t(1)))
    );
    assert_eq!(again.start_time, Some(Time(t(1))));
}

#[test]
fn docker_times() {
    assert_eq!(docker_time(Some("0001-01-01T00:00:00Z")), None);
    assert_eq!(
        docker_time(Some("2024-05-01T10:00:00.123456789Z")),
        Some("2024-05-01T10:00:00Z".parse().unwrap())
    );
}

fn init_pod(policy: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"restartPolicy": policy,
            "initContainers": [{"name": "i1", "image": "busybox:1.35"}, {"name": "i2", "image": "busybox:1.35"}],
            "containers": [{"name": "c", "image": "busybox:1.35"}]},
    }))
    .unwrap()
}

fn init_view(i1: Option<Observed>, i1_waiting: Option<&str>) -> PodView {
    let cv = |name: &str, current: Option<Observed>, waiting: Option<&str>| ContainerView {
        name: name.into(),
        image: "busybox:1.35".into(),
        current,
        previous: None,
        waiting: waiting.map(|r| (r.to_string(), None)),
        probes: None,
    };
    PodView {
        sandbox_ready: true,
        pod_ip: Some("10.42.0.2".into()),
        host_ip: "192.168.0.9".into(),
        init_containers: vec![cv("i1", i1, i1_waiting), cv("i2", None, None)],
        containers: vec![cv("c", None, None)],
        default_waiting: Some("PodInitializing".into()),
    }
}

fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

#[test]
fn init_containers_pending_then_failed_under_never() {
    let s = pod_status(
        &init_pod("Never"),
        &PodStatus::default(),
        &init_view(None, None),
        t(1),
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let init = s.init_container_statuses.as_ref().unwrap();
    assert_eq!(waiting_reason(&init[0]), Some("PodInitializing"));
    assert_eq!(
        waiting_reason(&s.container_statuses.as_ref().unwrap()[0]),
        Some("PodInitializing")
    );
    let c = cond(&s, "Initialized");
    assert_eq!(c.status, "False");
    assert_eq!(c.reason.as_deref(), Some("ContainersNotInitialized"));
    assert_eq!(
        c.message.as_deref(),
        Some("containers with incomplete status: [i1 i2]")
    );

    let s = pod_status(
        &init_pod("Never"),
        &PodStatus::default(),
        &init_view(Some(exited("a", 0, 1)), None),
        t(1),
    );
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let i1 = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!(
        i1.state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap()
            .exit_code,
        1
    );
    assert!(!i1.ready);
}

#[test]
fn init_containers_back_off_and_complete() {
    let s = pod_status(
        &init_pod("Always"),
        &PodStatus::default(),
        &init_view(Some(exited("a", 0, 1)), Some("CrashLoopBackOff")),
        t(1),
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"), "restarted, not failed");
    let i1 = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!(waiting_reason(i1), Some("CrashLoopBackOff"));
    assert!(i1.last_state.as_ref().unwrap().terminated.is_some());

    let mut v = init_view(Some(exited("a", 0, 0)), None);
    v.init_containers[1].current = Some(exited("b", 0, 0));
    v.containers[0].current = Some(Observed {
        id: "c".into(),
        attempt: 0,
        image_id: String::new(),
        state: RunState::Running { started_at: t(5) },
    });
    let s = pod_status(&init_pod("Always"), &PodStatus::default(), &v, t(6));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(cond(&s, "Initialized").status, "True");
    let init = s.init_container_statuses.as_ref().unwrap();
    assert!(init.iter().all(|c| c.ready && c.started == Some(false)));
}

#[test]
fn failing_readiness_keeps_the_pod_running_but_not_ready() {
    let running = Observed {
        id: "abc".into(),
        attempt: 0,
        image_id: "docker://sha256:abc".into(),
        state: RunState::Running { started_at: t(50) },
    };
    let mut v = view(Some(running), None);
    v.containers[0].probes = Some(crate::kubelet::probes::ProbeStatus {
        started: true,
        ready: false,
    });
    let s = pod_status(&pod("Always"), &PodStatus::default(), &v, t(60));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let cs = &s.container_statuses.as_ref().unwrap()[0];
    assert!(!cs.ready);
    assert_eq!(cs.started, Some(true));
    assert_eq!(cond(&s, "ContainersReady").status, "False");
    assert_eq!(cond(&s, "Ready").status, "False");
    assert_eq!(
        cond(&s, "Ready").message.as_deref(),
        Some("containers with unready status: [c]")
    );
}

#[test]
fn sidecar_waits_for_its_startup_probe_and_is_ready_by_its_readiness_probe() {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
        "spec": {"initContainers": [{"name": "side", "image": "busybox:1.35", "restartPolicy": "Always"}],
                 "containers": [{"name": "c", "image": "busybox:1.35"}]},
    }))
    .unwrap();
    let running = |id: &str| Observed {
        id: id.into(),
        attempt: 0,
        image_id: "docker://sha256:abc".into(),
        state: RunState::Running { started_at: t(50) },
    };
    let mut v = view(None, None);
    v.init_containers = vec![ContainerView {
        name: "side".into(),
        image: "busybox:1.35".into(),
        current: Some(running("s1")),
        probes: Some(crate::kubelet::probes::ProbeStatus {
            started: false,
            ready: false,
        }),
        ..Default::default()
    }];
    let s = pod_status(&pod, &PodStatus::default(), &v, t(60));
    assert_eq!(cond(&s, "Initialized").status, "False");
    let side = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!((side.started, side.ready), (Some(false), false));

    v.init_containers[0].probes = Some(crate::kubelet::probes::ProbeStatus {
        started: true,
        ready: false,
    });
    v.containers[0].current = Some(running("c1"));
    let s = pod_status(&pod, &PodStatus::default(), &v, t(61));
    assert_eq!(cond(&s, "Initialized").status, "True");
    let side = &s.init_container_statuses.as_ref().unwrap()[0];
    assert_eq!((side.started, side.ready), (Some(true), false));
}
