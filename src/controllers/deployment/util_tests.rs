use super::*;
use serde_json::json;

fn deploy(replicas: i32, surge: Value, unavailable: Value) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": "web", "generation": 1},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}
    }))
    .expect("deployment")
}

fn rs(name: &str, replicas: i32, ann: Value) -> ReplicaSet {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": ann},
        "spec": {"replicas": replicas, "selector": {}}
    }))
    .expect("rs")
}

#[test]
fn fenceposts_round_as_upstream() {
    let d = deploy(10, json!("25%"), json!("25%"));
    assert_eq!((max_surge(&d), max_unavailable(&d)), (3, 2));
    let d = deploy(3, json!(0), json!(0));
    assert_eq!((max_surge(&d), max_unavailable(&d)), (0, 1));
    let d = deploy(1, json!("10%"), json!("10%"));
    assert_eq!((max_surge(&d), max_unavailable(&d)), (1, 0));
    assert!(scaled_value(Some(&IntOrString::String("x".into())), 3, true).is_err());
}

#[test]
fn new_rs_grows_within_surge() {
    let d = deploy(3, json!(1), json!(0));
    let old = rs("old", 3, json!({}));
    let new = rs("new", 0, json!({}));
    assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 1);
    let new = rs("new", 1, json!({}));
    assert_eq!(new_rs_new_replicas(&d, &[&old, &new], &new), 1);
}

#[test]
fn revision_history_is_kept_on_rollback() {
    let d = deploy(3, json!(1), json!(0));
    let mut r = rs("a", 3, json!({REVISION: "1"}));
    assert!(set_new_rs_annotations(&d, &mut r, 3, true));
    let ann = r.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(ann.get(REVISION).map(String::as_str), Some("3"));
    assert_eq!(ann.get(REVISION_HISTORY).map(String::as_str), Some("1"));
    assert!(set_new_rs_annotations(&d, &mut r, 5, true));
    let ann = r.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(ann.get(REVISION_HISTORY).map(String::as_str), Some("1,3"));
}

#[test]
fn proportions_follow_max_replicas_annotation() {
    // Scaling 10 → 15 (surge 0): an RS of 4 of old max 10 gets round(4*15/10) - 4 = 2.
    let d = deploy(15, json!(0), json!(1));
    let r = rs("a", 4, json!({MAX_REPLICAS: "10"}));
    assert_eq!(proportion(&r, &d, 5, 0), 2);
    assert_eq!(proportion(&r, &d, 5, 4), 1);
}

#[test]
fn conditions_keep_transition_time() {
    let mut s = DeploymentStatus::default();
    let mut c = new_condition("Progressing", "True", reason::NEW_RS_CREATED, "a");
    c.last_transition_time = None;
    set_condition(&mut s, c);
    set_condition(
        &mut s,
        new_condition("Progressing", "True", reason::RS_UPDATED, "b"),
    );
    let cur = get_condition(&s, "Progressing").expect("cond");
    assert_eq!(cur.reason.as_deref(), Some(reason::RS_UPDATED));
    assert!(cur.last_transition_time.is_none());
}

#[test]
fn templates_equal_ignoring_hash() {
    let a: PodTemplateSpec = serde_json::from_value(
        json!({"metadata": {"labels": {"app": "x", POD_TEMPLATE_HASH: "abc"}}}),
    )
    .expect("t");
    let b: PodTemplateSpec =
        serde_json::from_value(json!({"metadata": {"labels": {"app": "x"}}})).expect("t");
    assert!(equal_ignore_hash(Some(&a), Some(&b)));
}

#[test]
fn templates_equal_ignoring_zero_values() {
    let a: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"generation": 0, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "stdin": false, "tty": false}], "hostIPC": false}
    }))
    .expect("t");
    let b: PodTemplateSpec = serde_json::from_value(json!({
        "metadata": {"creationTimestamp": null, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c"}]}
    }))
    .expect("t");
    assert!(equal_ignore_hash(Some(&a), Some(&b)));
}
