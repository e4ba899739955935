use super::*;
use k8s_openapi::api::core::v1::PodSpec;

fn pod(command: &[&str], policy: &str) -> Pod {
    Pod {
        metadata: kube::api::ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            uid: Some("u1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                command: (!command.is_empty())
                    .then(|| command.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).expect("timestamp")
}

fn cs(st: &PodStatus) -> &ContainerStatus {
    &st.container_statuses.as_ref().expect("statuses")[0]
}

#[test]
fn server_runs_and_is_ready() {
    let p = pod(&[], "Always");
    let s = step(&p, &PodStatus::default(), at(0), "172.18.0.2", "10.42.0.2");
    assert_eq!(s.status.phase.as_deref(), Some("Running"));
    assert!(s.wake_at.is_none());
    assert!(cs(&s.status).ready);
    assert_eq!(cs(&s.status).image, "docker.io/library/busybox:latest");
    assert_eq!(s.status.qos_class.as_deref(), Some("BestEffort"));
    let ready = s
        .status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready");
    assert_eq!(ready.map(|c| c.status.as_str()), Some("True"));
    // A second step changes nothing.
    let again = step(&p, &s.status, at(5), "172.18.0.2", "10.42.0.2");
    assert_eq!(again.status, s.status);
}

#[test]
fn completes_and_fails() {
    let p = pod(&["sh", "-c", "exit 0"], "Never");
    let s = step(&p, &PodStatus::default(), at(0), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Succeeded"));
    let t = cs(&s.status)
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref());
    assert_eq!(t.and_then(|t| t.reason.as_deref()), Some("Completed"));

    let p = pod(&["sleep", "3"], "OnFailure");
    let s = step(&p, &PodStatus::default(), at(0), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Running"));
    assert_eq!(s.wake_at, Some(at(3)));
    let s = step(&p, &s.status, at(3), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Succeeded"));

    let p = pod(&["false"], "Never");
    let s = step(&p, &PodStatus::default(), at(0), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Failed"));
}

#[test]
fn crash_loop_backs_off() {
    let p = pod(&["sh", "-c", "exit 1"], "Always");
    let s = step(&p, &PodStatus::default(), at(0), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Running"));
    assert_eq!(cs(&s.status).restart_count, 1);
    let w = cs(&s.status)
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref());
    assert_eq!(
        w.and_then(|w| w.reason.as_deref()),
        Some("CrashLoopBackOff")
    );
    assert_eq!(s.wake_at, Some(at(10)));
    let s = step(&p, &s.status, at(10), "h", "i");
    assert_eq!(cs(&s.status).restart_count, 2);
    assert_eq!(s.wake_at, Some(at(30)));
    assert_eq!(backoff(20), MAX_BACKOFF);
}

#[test]
fn init_containers_first() {
    let mut p = pod(&[], "Always");
    if let Some(spec) = p.spec.as_mut() {
        spec.init_containers = Some(vec![Container {
            name: "init".into(),
            image: Some("busybox".into()),
            command: Some(vec!["sleep".into(), "2".into()]),
            ..Default::default()
        }]);
    }
    let s = step(&p, &PodStatus::default(), at(0), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Pending"));
    let w = cs(&s.status)
        .state
        .as_ref()
        .and_then(|s| s.waiting.as_ref());
    assert_eq!(w.and_then(|w| w.reason.as_deref()), Some("PodInitializing"));
    let s = step(&p, &s.status, at(2), "h", "i");
    assert_eq!(s.status.phase.as_deref(), Some("Running"));
    assert!(cs(&s.status).ready);
}

#[test]
fn images() {
    assert_eq!(
        normalize_image("nginx:1.25"),
        "docker.io/library/nginx:1.25"
    );
    assert_eq!(normalize_image("foo/bar"), "docker.io/foo/bar:latest");
    assert_eq!(
        normalize_image("registry.k8s.io/pause:3.10"),
        "registry.k8s.io/pause:3.10"
    );
    assert_eq!(
        image_id("docker.io/library/nginx:1.25").split('@').next(),
        Some("docker.io/library/nginx")
    );
}
