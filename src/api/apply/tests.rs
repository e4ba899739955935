//! Tests of managedFields tracking and apply against built-in schemas.

use serde_json::{json, Value};

use super::fieldpath::PathElement;
use super::managed;
use super::{apply, record_update, Filter, Scope};
use crate::api::apply::typed::Ty;

fn scope(filter: Filter, subresource: &str) -> Scope {
    Scope {
        ty: Ty::for_kind("apps", "v1", "Deployment"),
        api_version: "apps/v1".into(),
        subresource: subresource.into(),
        filter,
    }
}

fn deploy(replicas: i64, env: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx", "env": env}]}}}
    })
}

fn managers(obj: &Value) -> Vec<(String, String)> {
    managed::decode(obj)
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.manager, e.operation.as_str().to_string()))
        .collect()
}

#[test]
fn update_records_the_manager_and_strips_meta() {
    let s = scope(Filter::NoStatus, "");
    let mut obj = deploy(1, json!([]));
    obj["status"] = json!({"replicas": 1});
    record_update(&s, None, &mut obj, "kubectl-create");
    let mf = &obj["metadata"]["managedFields"][0];
    assert_eq!(mf["manager"], "kubectl-create");
    assert_eq!(mf["operation"], "Update");
    assert_eq!(mf["fieldsType"], "FieldsV1");
    assert!(mf["time"].is_string());
    let f = &mf["fieldsV1"];
    assert!(f.get("f:status").is_none() && f.get("f:metadata").is_none());
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
}

#[test]
fn apply_conflicts_with_scale_and_force_takes_over() {
    let main = scope(Filter::NoStatus, "");
    let created = apply(&main, None, &deploy(2, json!([])), "kubectl", false).unwrap_or_default();
    assert_eq!(managers(&created), [("kubectl".into(), "Apply".into())]);
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(5);
    record_update(
        &scope(Filter::Scale, "scale"),
        Some(&created),
        &mut scaled,
        "kubectl-scale",
    );
    assert_eq!(managers(&scaled).len(), 2);
    let err = apply(
        &main,
        Some(&scaled),
        &deploy(2, json!([])),
        "kubectl",
        false,
    )
    .err()
    .unwrap_or_else(|| crate::api::errors::ApiError::bad_request("no conflict"));
    assert_eq!(err.code, 409);
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1: .spec.replicas"
    );
    assert_eq!(err.details.causes[0].reason, "FieldManagerConflict");
    assert_eq!(err.details.causes[0].field, ".spec.replicas");
    // Applying the live value is no conflict: both own it.
    let same = apply(
        &main,
        Some(&scaled),
        &deploy(5, json!([])),
        "kubectl",
        false,
    );
    assert!(same.is_ok());
    let forced =
        apply(&main, Some(&scaled), &deploy(2, json!([])), "kubectl", true).unwrap_or_default();
    assert_eq!(forced["spec"]["replicas"], 2);
    assert_eq!(managers(&forced), [("kubectl".into(), "Apply".into())]);
}

#[test]
fn apply_removes_fields_no_longer_applied() {
    let main = scope(Filter::NoStatus, "");
    let env = json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]);
    let live = apply(&main, None, &deploy(2, env), "kubectl", false).unwrap_or_default();
    let next = apply(
        &main,
        Some(&live),
        &deploy(2, json!([{"name": "A", "value": "1"}])),
        "kubectl",
        false,
    )
    .unwrap_or_default();
    assert_eq!(
        next.pointer("/spec/template/spec/containers/0/env"),
        Some(&json!([{"name": "A", "value": "1"}]))
    );
    let entries = managed::decode(&next).unwrap_or_default();
    let b = PathElement::key(vec![("name".into(), json!("B"))]);
    assert!(!entries[0]
        .set
        .to_fields_v1()
        .to_string()
        .contains(&b.encode()));
}

#[test]
fn fields_owned_by_others_survive_removal() {
    let main = scope(Filter::NoStatus, "");
    let mut cfg = deploy(2, json!([]));
    cfg["metadata"]["labels"] = json!({"a": "1"});
    let live = apply(&main, None, &cfg, "one", false).unwrap_or_default();
    let both = apply(&main, Some(&live), &cfg, "two", false).unwrap_or_default();
    let mut without = cfg.clone();
    without["metadata"]
        .as_object_mut()
        .map(|m| m.shift_remove("labels"));
    let after = apply(&main, Some(&both), &without, "one", false).unwrap_or_default();
    assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
    let gone = apply(&main, Some(&after), &without, "two", false).unwrap_or_default();
    assert!(gone["metadata"]
        .get("labels")
        .is_none_or(|l| l == &json!({})));
}
