//! Server-side apply and managedFields with the real kubectl: `apply --server-side`, conflicts
//! with other managers (`kubectl scale`), `--force-conflicts`, removal of fields no longer
//! applied, `diff --server-side`, `--dry-run=server` and the client-side → server-side upgrade.
//!
//! `kubectl scale` sends no `fieldManager`, so (as upstream) its manager is the User-Agent prefix
//! `kubectl`, an `Update` of the `scale` subresource — distinct from the applier `kubectl`.

mod common;

use common::Server;
use serde_json::Value;

fn deployment(replicas: u32, env: &[(&str, &str)]) -> String {
    let mut env_yaml = String::new();
    for (k, v) in env {
        env_yaml.push_str(&format!("        - name: {k}\n          value: \"{v}\"\n"));
    }
    let env_block = if env.is_empty() {
        String::new()
    } else {
        format!("        env:\n{env_yaml}")
    };
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: c
        image: nginx:1.25
{env_block}"#
    )
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["get", "-o", "json", "--show-managed-fields"];
    all.extend_from_slice(args);
    serde_json::from_str(&s.kubectl_ok(&all)).expect("kubectl get -o json")
}

fn entry<'a>(obj: &'a Value, manager: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager)
}

fn scale_entry(obj: &Value) -> Option<&Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["subresource"] == "scale")
}

fn apply(s: &Server, extra: &[&str], manifest: &str) -> std::process::Output {
    let mut args = vec!["apply", "--server-side", "-f", "-"];
    args.extend_from_slice(extra);
    s.kubectl_stdin(&args, Some(manifest))
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn server_side_apply_creates_with_managed_fields() {
    let s = Server::start();
    let out = ok(&apply(&s, &[], &deployment(2, &[("A", "1")])));
    assert!(
        out.contains("deployment.apps/web serverside-applied"),
        "{out}"
    );
    let d = get_json(&s, &["deploy", "web"]);
    let e = entry(&d, "kubectl").expect("kubectl entry");
    assert_eq!(e["operation"], "Apply");
    assert_eq!(e["apiVersion"], "apps/v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
    assert!(e["time"].is_string());
    let f = &e["fieldsV1"];
    assert_eq!(f["f:spec"]["f:replicas"], serde_json::json!({}));
    let c = &f["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"c"}"#];
    assert_eq!(c["."], serde_json::json!({}), "{f}");
    assert!(
        c["f:env"][r#"k:{"name":"A"}"#]["f:value"].is_object(),
        "{f}"
    );
    // Without --show-managed-fields kubectl hides them; the server always keeps them.
    let plain = s.kubectl_ok(&["get", "deploy", "web", "-o", "yaml"]);
    assert!(!plain.contains("managedFields"));
    let yaml = s.kubectl_ok(&[
        "get",
        "deploy",
        "web",
        "-o",
        "yaml",
        "--show-managed-fields",
    ]);
    assert!(yaml.contains("manager: kubectl") && yaml.contains("operation: Apply"));

    // Re-applying the same configuration changes nothing.
    let out = ok(&apply(&s, &[], &deployment(2, &[("A", "1")])));
    assert!(out.contains("serverside-applied"), "{out}");

    // Other writes are recorded as Update operations of their manager.
    s.kubectl_ok(&["label", "deploy", "web", "extra=yes"]);
    let d = get_json(&s, &["deploy", "web"]);
    let e = entry(&d, "kubectl-label").expect("kubectl-label entry");
    assert_eq!(e["operation"], "Update");
    assert_eq!(
        e["fieldsV1"]["f:metadata"]["f:labels"]["f:extra"],
        serde_json::json!({})
    );
}

#[test]
fn server_side_apply_conflicts_and_force() {
    let s = Server::start();
    ok(&apply(&s, &[], &deployment(2, &[])));
    s.kubectl_ok(&["scale", "deploy", "web", "--replicas=5"]);
    let d = get_json(&s, &["deploy", "web"]);
    let scale = scale_entry(&d)
        .unwrap_or_else(|| panic!("no scale entry: {}", d["metadata"]["managedFields"]));
    assert_eq!(scale["manager"], "kubectl");
    assert_eq!(scale["operation"], "Update");
    assert_eq!(scale["apiVersion"], "apps/v1");
    assert_eq!(
        scale["fieldsV1"],
        serde_json::json!({"f:spec": {"f:replicas": {}}})
    );

    let out = apply(&s, &[], &deployment(2, &[]));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Apply failed with 1 conflict"), "{err}");
    assert!(
        err.contains(
            r#"conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas"#
        ),
        "{err}"
    );
    assert!(err.contains(".spec.replicas"), "{err}");
    assert!(err.contains("Please review the fields above"), "{err}");
    assert_eq!(
        s.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "5"
    );

    // Applying the live value is no conflict: both managers own it.
    ok(&apply(&s, &[], &deployment(5, &[])));
    let d = get_json(&s, &["deploy", "web"]);
    assert!(scale_entry(&d).is_some() && entry(&d, "kubectl").is_some());

    ok(&apply(&s, &["--force-conflicts"], &deployment(2, &[])));
    let d = get_json(&s, &["deploy", "web"]);
    assert_eq!(d["spec"]["replicas"], 2);
    let mine = entry(&d, "kubectl").expect("kubectl entry");
    assert_eq!(mine["operation"], "Apply");
    assert_eq!(
        mine["fieldsV1"]["f:spec"]["f:replicas"],
        serde_json::json!({})
    );
    assert!(
        scale_entry(&d).is_none(),
        "the scaler lost its only field: {}",
        d["metadata"]["managedFields"]
    );

    // A manager named explicitly is named in conflicts.
    let path = "/apis/apps/v1/namespaces/default/deployments/web/scale?fieldManager=kubectl-scale";
    let body = r#"{"spec":{"replicas":4}}"#;
    let ct = "Content-Type: application/merge-patch+json";
    let (code, out) = s.curl(&[path, "-X", "PATCH", "-H", ct, "--data-binary", body]);
    assert_eq!(code, 200, "{out}");
    let err = String::from_utf8_lossy(&apply(&s, &[], &deployment(2, &[])).stderr).into_owned();
    assert!(
        err.contains(r#"conflict with "kubectl-scale" with subresource "scale" using apps/v1: .spec.replicas"#),
        "{err}"
    );
}

#[test]
fn server_side_apply_removes_fields_no_longer_applied() {
    let s = Server::start();
    ok(&apply(&s, &[], &deployment(1, &[("A", "1"), ("B", "2")])));
    s.kubectl_ok(&["annotate", "deploy", "web", "note=kept"]);
    ok(&apply(&s, &[], &deployment(1, &[("A", "1")])));
    let d = get_json(&s, &["deploy", "web"]);
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env, &serde_json::json!([{"name": "A", "value": "1"}]));
    // Fields of other managers stay.
    assert_eq!(d["metadata"]["annotations"]["note"], "kept");
}

#[test]
fn server_side_diff_and_dry_run() {
    let s = Server::start();
    ok(&apply(&s, &[], &deployment(2, &[])));
    let out = s.kubectl_stdin(
        &["diff", "--server-side", "-f", "-"],
        Some(&deployment(3, &[])),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("-  replicas: 2") && diff.contains("+  replicas: 3"),
        "{diff}"
    );

    ok(&apply(&s, &["--dry-run=server"], &deployment(7, &[])));
    assert_eq!(
        s.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );
    let other = deployment(1, &[]).replace("name: web\n", "name: ghost\n");
    let out = ok(&apply(&s, &["--dry-run=server"], &other));
    assert!(out.contains("ghost"), "{out}");
    let err = s.kubectl_err(&["get", "deploy", "ghost"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn client_side_apply_upgrades_to_server_side() {
    let s = Server::start();
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &deployment(2, &[("A", "1"), ("B", "2")]),
    );
    let d = get_json(&s, &["deploy", "web"]);
    assert!(entry(&d, "kubectl-client-side-apply").is_some());
    ok(&apply(&s, &[], &deployment(2, &[("A", "1"), ("B", "2")])));
    // The fields kubectl applied client-side now belong to the server-side applier, so dropping
    // one removes it.
    ok(&apply(&s, &[], &deployment(2, &[("A", "1")])));
    let d = get_json(&s, &["deploy", "web"]);
    let env = &d["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env, &serde_json::json!([{"name": "A", "value": "1"}]));
}

#[test]
fn apply_patch_requires_a_field_manager() {
    let s = Server::start();
    let path = "/api/v1/namespaces/default/configmaps/cm";
    let body =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"a":"1"}}"#;
    let ct = "Content-Type: application/apply-patch+yaml";
    let (code, out) = s.curl(&[path, "-X", "PATCH", "-H", ct, "--data-binary", body]);
    assert_eq!(code, 422, "{out}");
    assert!(out.contains(r#"PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"#), "{out}");
    let with = format!("{path}?fieldManager=tester");
    let (code, out) = s.curl(&[&with, "-X", "PATCH", "-H", ct, "--data-binary", body]);
    assert_eq!(code, 201, "{out}");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  b: \"2\"\n";
    let (code, out) = s.curl(&[&with, "-X", "PATCH", "-H", ct, "--data-binary", yaml]);
    assert_eq!(code, 200, "{out}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["data"], serde_json::json!({"b": "2"}));
    assert_eq!(v["metadata"]["managedFields"][0]["manager"], "tester");
    assert_eq!(
        v["metadata"]["managedFields"][0]["fieldsV1"],
        serde_json::json!({"f:data": {"f:b": {}}})
    );
}
