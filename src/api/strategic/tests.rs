//! Cases from upstream's `strategicpatch/patch_test.go` (on its `MergeItem` test type) and on
//! real Kubernetes types.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{json, Value};

use super::*;

/// Upstream's `MergeItem` and `RetainKeysMergeItem` test types in the schema format.
fn fakes() -> &'static HashMap<String, Definition> {
    static FAKES: OnceLock<HashMap<String, Definition>> = OnceLock::new();
    FAKES.get_or_init(|| {
        let item = |extra: Value| {
            let mut p = json!({
                "name": {"t": "string"},
                "value": {"t": "string"},
                "other": {"t": "string"},
                "mergingList": {"t": "array", "r": "test.MergeItem", "ps": "merge", "pk": "name"},
                "nonMergingList": {"t": "array", "r": "test.MergeItem"},
                "mergingIntList": {"t": "array", "i": "integer", "ps": "merge"},
                "nonMergingIntList": {"t": "array", "i": "integer"},
                "simpleMap": {"t": "object", "m": 1, "i": "string"},
            });
            if let (Some(p), Value::Object(e)) = (p.as_object_mut(), extra) {
                p.extend(e);
            }
            json!({ "p": p })
        };
        let defs = json!({
            "test.MergeItem": item(json!({
                "replacingItem": {"t": "object", "ps": "replace"},
                "retainKeysMap": {"t": "object", "r": "test.RetainKeysMergeItem", "ps": "retainKeys"},
                "retainKeysMergingList": {"t": "array", "r": "test.MergeItem", "ps": "merge,retainKeys", "pk": "name"},
            })),
            "test.RetainKeysMergeItem": item(json!({})),
        });
        serde_json::from_value(defs).unwrap_or_default()
    })
}

/// The fake definition `name`, if it is one.
pub(super) fn fake_definition(name: &str) -> Option<&'static Definition> {
    fakes().get(name)
}

fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).expect("test yaml")
}

fn smp(original: &str, patch: &str) -> SmpResult<Value> {
    apply(&yaml(original), &yaml(patch), Some("test.MergeItem"))
}

#[track_caller]
fn check(original: &str, patch: &str, expected: &str) {
    let got = smp(original, patch).expect("patch applies");
    assert_eq!(
        got,
        yaml(expected),
        "\noriginal: {original}\npatch: {patch}"
    );
}

#[track_caller]
fn check_err(original: &str, patch: &str, contains: &str) {
    let err = smp(original, patch).expect_err("patch fails");
    assert!(err.to_string().contains(contains), "{err}");
}

#[test]
fn maps_merge_and_null_deletes() {
    check("name: 1", "value: 1", "{name: 1, value: 1}");
    check("name: 1", "{name: null, value: 1}", "value: 1");
    check(
        "simpleMap: {key1: 1, key2: 1}",
        "simpleMap: {key2: null}",
        "simpleMap: {key1: 1}",
    );
    check(
        "name: 2",
        "{name: 1, value: 1, other: null}",
        "{name: 1, value: 1}",
    );
    check("name: 1", "{}", "name: 1");
}

#[test]
fn map_directives() {
    check(
        "simpleMap: {key1: 1, key2: 1}",
        "simpleMap: {$patch: delete}",
        "simpleMap: {}",
    );
    check("{name: 1, value: 1}", "$patch: replace", "{}");
    check(
        "{name: 1, value: 1}",
        "{other: a, $patch: replace}",
        "other: a",
    );
    check_err("name: 1", "$patch: bogus", "unknown patch type: bogus");
}

#[test]
fn scalar_lists() {
    check(
        "nonMergingIntList: [1, 2]",
        "nonMergingIntList: [2, 3]",
        "nonMergingIntList: [2, 3]",
    );
    check(
        "mergingIntList: [1, 2]",
        "mergingIntList: [2, 3]",
        "mergingIntList: [1, 2, 3]",
    );
    check(
        "mergingIntList: [1, 2, 3]",
        "mergingIntList: [3, 1, 2]",
        "mergingIntList: [3, 1, 2]",
    );
    check(
        "mergingIntList: [1, 2, 3]",
        "mergingIntList: [3, 1]",
        "mergingIntList: [2, 3, 1]",
    );
    check(
        "mergingIntList: [1, 2, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        "mergingIntList: [1, 2, 4]",
    );
    check(
        "mergingIntList: [1, 2, 3, 3, 4]",
        "{$setElementOrder/mergingIntList: [1, 2], $deleteFromPrimitiveList/mergingIntList: [3]}",
        "mergingIntList: [1, 2, 4]",
    );
    check(
        "mergingIntList: [1, 2, 3]",
        "{$setElementOrder/mergingIntList: [1, 2, 4], $deleteFromPrimitiveList/mergingIntList: [3], mergingIntList: [4]}",
        "mergingIntList: [1, 2, 4]",
    );
    check(
        "mergingIntList: [1, 3]",
        "$setElementOrder/mergingIntList: [3, 2, 1]",
        "mergingIntList: [3, 1]",
    );
    check_err(
        "mergingIntList: [1, 3, 2]",
        "{$setElementOrder/mergingIntList: [1, 2, 3], mergingIntList: [3, 1]}",
        "doesn't match",
    );
    check_err("name: 1", "$deleteFromPrimitiveList: [1]", "primitive list");
}

#[test]
fn merging_lists_of_maps() {
    check(
        "mergingList: [{name: 1}, {name: 2, value: 2}]",
        "{$setElementOrder/mergingList: [{name: 4}, {name: 1}, {name: 2}, {name: 3}], mergingList: [{name: 4, value: 4}, {name: 3, value: 3}]}",
        "mergingList: [{name: 4, value: 4}, {name: 1}, {name: 2, value: 2}, {name: 3, value: 3}]",
    );
    check(
        "mergingList: [{name: 1, other: a}, {name: 2, value: 2, other: b}]",
        "{$setElementOrder/mergingList: [{name: 1}, {name: 2}], mergingList: [{name: 1, value: 1}]}",
        "mergingList: [{name: 1, value: 1, other: a}, {name: 2, value: 2, other: b}]",
    );
    check(
        "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, other: x}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}, {name: 2, value: b, other: x}]",
    );
    check(
        "mergingList: [{name: 1}, {name: 2, value: b}, {name: 3}]",
        "mergingList: [{name: 3, value: c}, {name: 1, value: a}]",
        "mergingList: [{name: 2, value: b}, {name: 3, value: c}, {name: 1, value: a}]",
    );
    check(
        "mergingList: [{name: 1}, {name: 3}]",
        "{$setElementOrder/mergingList: [{name: 3}, {name: 2}, {name: 1}], mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]}",
        "mergingList: [{name: 3, value: 3}, {name: 1, value: 1}]",
    );
    // Without $setElementOrder a new item goes first, as upstream's mergeSortedSlice does.
    check(
        "mergingList: [{name: 1}, {name: 2}]",
        "mergingList: [{name: 3}]",
        "mergingList: [{name: 3}, {name: 1}, {name: 2}]",
    );
    check(
        "nonMergingList: [{name: 1}, {name: 2}]",
        "nonMergingList: [{name: 3}]",
        "nonMergingList: [{name: 3}]",
    );
}

#[test]
fn list_directives() {
    check(
        "mergingList: [{name: 1}, {name: 2}]",
        "mergingList: [{name: 1, $patch: delete}, {name: 2, $patch: delete}]",
        "mergingList: []",
    );
    check(
        "mergingList: [{name: 1}, {name: 2}]",
        "mergingList: [{$patch: replace}]",
        "mergingList: []",
    );
    check(
        "mergingList: [{name: 1}, {name: 2}]",
        "mergingList: [{name: 3, value: x}, {$patch: replace}]",
        "mergingList: [{name: 3, value: x}]",
    );
    check(
        "mergingList: [{name: 1}, {name: 1}, {name: 2, value: a}, {name: 3}, {name: 3}]",
        "mergingList: [{name: 1, $patch: delete}, {name: 1, $patch: delete}, {name: 3, $patch: delete}]",
        "mergingList: [{name: 2, value: a}]",
    );
    check("mergingList: []", "mergingList: []", "mergingList: []");
    check_err(
        "mergingList: [{name: 1, value: a}]",
        "mergingList: [{value: b}]",
        "does not contain declared merge key: name",
    );
    check_err(
        "mergingList: [{name: 1}]",
        "mergingList: [{name: 1, $patch: merge}]",
        "merging lists cannot yet be specified",
    );
    check_err(
        "mergingList: [{name: 1}]",
        "mergingList: [[1]]",
        "lists of lists are not supported",
    );
}

#[test]
fn retain_keys() {
    check(
        "retainKeysMap: {name: foo, value: a}",
        "retainKeysMap: {value: b}",
        "retainKeysMap: {name: foo, value: b}",
    );
    check(
        "retainKeysMap: {name: foo, value: a, other: x}",
        "retainKeysMap: {$retainKeys: [name, value], value: b}",
        "retainKeysMap: {name: foo, value: b}",
    );
    check_err(
        "retainKeysMap: {name: foo}",
        "retainKeysMap: {$retainKeys: [name], value: b}",
        "invalid patch format of retainKeys",
    );
    check(
        "retainKeysMergingList: [{name: bar}, {name: foo, value: a, other: o}]",
        "retainKeysMergingList: [{name: foo, $retainKeys: [name, other]}]",
        "retainKeysMergingList: [{name: bar}, {name: foo, other: o}]",
    );
}

#[test]
fn replace_strategy_and_fresh_values() {
    check(
        "replacingItem: {a: 1, b: 2}",
        "replacingItem: {c: 3}",
        "replacingItem: {c: 3}",
    );
    // Directives inside values the original lacks are processed, not stored.
    check(
        "name: 1",
        "mergingList: [{name: 1, mergingList: [{name: x, $patch: delete}]}]",
        "{name: 1, mergingList: [{name: 1, mergingList: []}]}",
    );
}

#[test]
fn errors_map_to_upstream_codes() {
    let e: ApiError = SmpError::BadRetainKeys.into();
    assert_eq!((e.code, e.reason), (400, "BadRequest"));
    let e: ApiError = SmpError::NoListOfLists.into();
    assert_eq!((e.code, e.reason), (422, "Invalid"));
    assert_eq!(
        go_format(&json!({"name": "c", "image": "x", "n": [1, true]})),
        "map[image:x n:[1 true] name:c]"
    );
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}, finalizers: [a, b]}
spec:
  replicas: 1
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1}}
  template:
    spec:
      containers:
      - name: c1
        image: nginx
        env: [{name: A, value: "1"}, {name: B, value: "2"}, {name: EXTRA, value: "1"}]
      - name: c2
        image: redis
      volumes:
      - name: data
        emptyDir: {}
"#;

fn deploy(patch: &str) -> SmpResult<Value> {
    apply(
        &yaml(DEPLOYMENT),
        &yaml(patch),
        Some("io.k8s.api.apps.v1.Deployment"),
    )
}

#[test]
fn deployment_containers_merge_by_name() {
    let d = deploy(
        r#"
spec:
  template:
    spec:
      $setElementOrder/containers: [{name: c1}, {name: c2}]
      containers:
      - name: c1
        image: nginx:1.27
        $setElementOrder/env: [{name: A}, {name: C}]
        env: [{name: C, value: "3"}, {name: B, $patch: delete}]
"#,
    )
    .expect("applies");
    let c = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(c[0]["image"], "nginx:1.27");
    assert_eq!(c[1], json!({"name": "c2", "image": "redis"}));
    let names: Vec<&str> = c[0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    // Upstream puts items the live list lacks before the server-only ones.
    assert_eq!(names, ["A", "C", "EXTRA"]);
}

#[test]
fn deployment_strategy_retain_keys_and_finalizers() {
    let d = deploy(
        r#"
metadata:
  finalizers: [c]
  $deleteFromPrimitiveList/finalizers: [a]
spec:
  strategy: {$retainKeys: [type], type: Recreate}
  template:
    spec:
      volumes: [{name: data, $retainKeys: [name, configMap], configMap: {name: cm}}]
"#,
    )
    .expect("applies");
    assert_eq!(d["metadata"]["finalizers"], json!(["c", "b"]));
    assert_eq!(d["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(
        d["spec"]["template"]["spec"]["volumes"],
        json!([{"name": "data", "configMap": {"name": "cm"}}])
    );
    // Labels merge; a list without a strategy (args) is replaced.
    let d = deploy(r#"{metadata: {labels: {tier: x}}}"#).expect("applies");
    assert_eq!(d["metadata"]["labels"], json!({"app": "web", "tier": "x"}));
}

#[test]
fn unknown_kinds_use_json_merge_patch() {
    let got = apply(
        &json!({"spec": {"list": [1, 2], "a": 1}}),
        &json!({"spec": {"list": [3], "a": null}}),
        Some("example.com.v1.Widget"),
    )
    .expect("applies");
    assert_eq!(got, json!({"spec": {"list": [3]}}));
    assert_eq!(
        apply(&json!({}), &json!([]), None),
        Err(SmpError::BadJsonDoc)
    );
}
