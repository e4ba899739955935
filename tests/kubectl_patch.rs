//! Strategic merge patch with the real kubectl: client-side `apply` (three-way patches computed
//! from `/openapi/v3`), `patch` of every type, `set env`, `set image`, `scale`, `edit` and
//! `diff`; results compared with what a v1.33 cluster holds.

mod common;

use std::process::{Command, Stdio};

use common::Server;
use serde_json::Value;

fn deployment(ns: &str, c1_image: &str, env: &[(&str, &str)]) -> String {
    let env: String = env
        .iter()
        .map(|(k, v)| format!("        - name: {k}\n          value: \"{v}\"\n"))
        .collect();
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web, tier: frontend}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: c1
        image: {c1_image}
        env:
{env}      - name: c2
        image: redis:7
"#
    )
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&s.kubectl_ok(&all)).expect("kubectl get -o json")
}

fn containers(d: &Value) -> Vec<Value> {
    d.pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn env_names(c: &Value) -> Vec<String> {
    c["env"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn names(cs: &[Value]) -> Vec<&str> {
    cs.iter().filter_map(|c| c["name"].as_str()).collect()
}

#[test]
fn apply_merges_with_other_managers_changes() {
    let s = Server::start();
    s.kubectl_ok(&["create", "namespace", "smp"]);
    let v1 = deployment("smp", "nginx:1.26", &[("A", "1"), ("B", "2"), ("C", "3")]);
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &v1);

    // Another manager adds an env var to c1.
    s.kubectl_ok(&[
        "set",
        "env",
        "-n",
        "smp",
        "deployment/web",
        "-c",
        "c1",
        "EXTRA=1",
    ]);
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    assert_eq!(env_names(&containers(&d)[0]), ["A", "B", "C", "EXTRA"]);

    // The file changes c1's image and drops B; apply keeps EXTRA (not in last-applied).
    let v2 = deployment("smp", "nginx:1.27", &[("A", "1"), ("C", "3")]);
    let out = s.kubectl_stdin_ok(&["apply", "-f", "-"], &v2);
    assert!(out.contains("deployment.apps/web configured"), "{out}");
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    let cs = containers(&d);
    assert_eq!(names(&cs), ["c1", "c2"]);
    assert_eq!(cs[0]["image"], "nginx:1.27");
    assert_eq!(env_names(&cs[0]), ["A", "C", "EXTRA"]);
    assert_eq!(cs[0]["env"][2]["value"], "1");
    assert_eq!(cs[1]["image"], "redis:7");
    assert_eq!(d["metadata"]["generation"], 3);

    // Applying the same file again changes nothing (kubectl still says "configured": its patch
    // carries `$setElementOrder/env`, since the live list has EXTRA too, as on a real cluster).
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &v2);
    let again = get_json(&s, &["-n", "smp", "deployment", "web"]);
    assert_eq!(again["metadata"]["generation"], 3);
    assert_eq!(again["spec"], d["spec"]);

    // kubectl patch (strategic by default) touches only the named container.
    s.kubectl_ok(&[
        "patch",
        "-n",
        "smp",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"c2","image":"x"}]}}}}"#,
    ]);
    let cs = containers(&get_json(&s, &["-n", "smp", "deployment", "web"]));
    assert_eq!(names(&cs), ["c1", "c2"]);
    assert_eq!(cs[0]["image"], "nginx:1.27");
    assert_eq!(env_names(&cs[0]), ["A", "C", "EXTRA"]);
    assert_eq!(cs[1]["image"], "x");

    // A strategic patch adding a container puts it first, as upstream does.
    s.kubectl_ok(&[
        "patch",
        "-n",
        "smp",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}"#,
    ]);
    let cs = containers(&get_json(&s, &["-n", "smp", "deployment", "web"]));
    assert_eq!(names(&cs), ["side", "c1", "c2"]);
    s.kubectl_ok(&[
        "patch",
        "-n",
        "smp",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}"#,
    ]);

    // JSON patch and merge patch.
    s.kubectl_ok(&[
        "patch",
        "-n",
        "smp",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"redis:8"}]"#,
    ]);
    s.kubectl_ok(&[
        "patch",
        "-n",
        "smp",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"metadata":{"annotations":{"note":"merged"}}}"#,
    ]);
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    let cs = containers(&d);
    assert_eq!(names(&cs), ["c1", "c2"]);
    assert_eq!(cs[1]["image"], "redis:8");
    assert_eq!(d["metadata"]["annotations"]["note"], "merged");

    // set image and scale.
    s.kubectl_ok(&["set", "image", "-n", "smp", "deploy/web", "c1=busybox:1.36"]);
    s.kubectl_ok(&["scale", "-n", "smp", "deploy/web", "--replicas=3"]);
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    let cs = containers(&d);
    assert_eq!(cs[0]["image"], "busybox:1.36");
    assert_eq!(cs[1]["image"], "redis:8");
    assert_eq!(env_names(&cs[0]), ["A", "C", "EXTRA"]);
    assert_eq!(d["spec"]["replicas"], 3);
}

#[test]
fn edit_diff_and_service_ports() {
    let s = Server::start();
    s.kubectl_ok(&["create", "namespace", "smp"]);
    let v1 = deployment("smp", "nginx:1.26", &[("A", "1")]);
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &v1);

    // kubectl edit with an EDITOR that rewrites a label.
    let home = tempfile::tempdir().expect("tempdir");
    let editor = home.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/tier: frontend/tier: backend/' \"$1\"\n",
    )
    .expect("write editor");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("chmod +x {}", editor.display()))
        .status()
        .expect("chmod");
    assert!(status.success());
    let out = Command::new("kubectl")
        .args(["edit", "-n", "smp", "deployment/web"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", home.path())
        .env("EDITOR", &editor)
        .env_remove("KUBE_EDITOR")
        .stdin(Stdio::null())
        .output()
        .expect("kubectl edit");
    assert!(
        out.status.success(),
        "edit: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    assert_eq!(d["metadata"]["labels"]["tier"], "backend");
    assert_eq!(d["metadata"]["labels"]["app"], "web");

    // kubectl diff: server-side dry run of the apply patch; exit code 1 when there are changes.
    let v2 = deployment("smp", "nginx:1.27", &[("A", "1")]);
    let out = s.kubectl_stdin(&["diff", "-f", "-"], Some(&v2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-        image: nginx:1.26"), "{text}");
    assert!(text.contains("+        image: nginx:1.27"), "{text}");
    // The dry run stored nothing.
    let d = get_json(&s, &["-n", "smp", "deployment", "web"]);
    assert_eq!(containers(&d)[0]["image"], "nginx:1.26");
    // After applying v2, diffing it again shows nothing.
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &v2);
    let out = s.kubectl_stdin(&["diff", "-f", "-"], Some(&v2));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A Service whose port changes: the old port is deleted by key, the new one added.
    let svc = |port: u16| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: smp}}\nspec:\n  selector: {{app: web}}\n  ports:\n  - name: http\n    port: {port}\n    targetPort: 8080\n"
        )
    };
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &svc(80));
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &svc(8081));
    let v = get_json(&s, &["-n", "smp", "service", "web"]);
    let ports = v["spec"]["ports"].as_array().cloned().unwrap_or_default();
    assert_eq!(ports.len(), 1, "{ports:?}");
    assert_eq!(ports[0]["port"], 8081);
    assert_eq!(ports[0]["targetPort"], 8080);
    // (Upstream would also default `protocol: TCP` on the new port; skiff defaults Services
    // only on create.)
}

#[test]
fn openapi_carries_patch_metadata_and_bad_patches_fail() {
    let s = Server::start();
    let (code, body) = s.curl(&["/openapi/v3/apis/apps/v1"]);
    assert_eq!(code, 200);
    let doc: Value = serde_json::from_str(&body).expect("openapi json");
    let schemas = &doc["components"]["schemas"];
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-list-type"], "map");
    let strategy = &schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"];
    assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
    let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(patch["requestBody"]["content"]
        .get("application/strategic-merge-patch+json")
        .is_some());

    s.kubectl_ok(&["create", "configmap", "cm", "--from-literal=a=1"]);
    let smp = |body: &str| {
        s.curl(&[
            "/api/v1/namespaces/default/configmaps/cm",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/strategic-merge-patch+json",
            "-d",
            body,
        ])
    };
    let (code, body) = smp(r#"{"data":{"b":"2"},"metadata":{"finalizers":["x/y"]}}"#);
    assert_eq!(code, 200, "{body}");
    let (code, body) = smp(r#"{"metadata":{"$retainKeys":["name"],"labels":{"a":"b"}}}"#);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("invalid patch format of retainKeys"),
        "{body}"
    );
    let (code, body) = smp(
        r#"{"metadata":{"ownerReferences":[{"name":"x","kind":"K","apiVersion":"v1","uid":"u1"}]}}"#,
    );
    assert_eq!(code, 200, "{body}");
    // A merge list item without its merge key: upstream answers 500 with the mergepatch error.
    let (code, body) =
        smp(r#"{"metadata":{"ownerReferences":[{"name":"y","kind":"K","apiVersion":"v1"}]}}"#);
    assert_eq!(code, 500, "{body}");
    assert!(
        body.contains("does not contain declared merge key: uid"),
        "{body}"
    );
    let (code, body) = smp(r#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["x/y"]}}"#);
    assert_eq!(code, 200, "{body}");
    let cm: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(cm["data"], serde_json::json!({"a": "1", "b": "2"}));
    let finalizers = cm["metadata"].get("finalizers").cloned();
    assert!(
        finalizers.is_none() || finalizers == Some(serde_json::json!([])),
        "{finalizers:?}"
    );
}
