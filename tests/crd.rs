//! CustomResourceDefinitions end to end with the real kubectl: the CronTab example from the
//! Kubernetes docs, served through the generic store.

mod common;

use common::{eventually, Server};
use std::time::Duration;

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              description: The desired state of the CronTab.
              properties:
                cronSpec:
                  type: string
                  description: The cron schedule.
                  pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
                image:
                  type: string
                replicas:
                  type: integer
                  minimum: 1
                  maximum: 10
                  default: 1
            status:
              type: object
              properties:
                replicas:
                  type: integer
                labelSelector:
                  type: string
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
          labelSelectorPath: .status.labelSelector
      additionalPrinterColumns:
        - name: Spec
          type: string
          description: The cron spec defining the interval a CronJob is run
          jsonPath: .spec.cronSpec
        - name: Replicas
          type: integer
          description: The number of jobs launched by the CronJob
          jsonPath: .spec.replicas
        - name: Age
          type: date
          jsonPath: .metadata.creationTimestamp
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames:
    - ct
    categories:
    - all
"#;

const CRONTAB: &str = r#"
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"#;

fn create_crd(s: &Server) {
    s.kubectl_stdin_ok(&["apply", "-f", "-"], CRD);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
}

#[test]
fn crd_crontab_lifecycle() {
    let s = Server::start();
    create_crd(&s);
    let crd = s.kubectl_ok(&["get", "crd", "crontabs.stable.example.com", "-o", "json"]);
    let crd: serde_json::Value = serde_json::from_str(&crd).expect("json");
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "CronTab");
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
    let conds = crd["status"]["conditions"].as_array().expect("conditions");
    assert!(conds
        .iter()
        .any(|c| c["type"] == "NamesAccepted" && c["reason"] == "NoConflicts"));
    let table = s.kubectl_ok(&["get", "crd"]);
    assert!(
        table.starts_with("NAME") && table.contains("CREATED AT"),
        "{table}"
    );

    let resources = s.kubectl_ok(&["api-resources", "--api-group=stable.example.com"]);
    assert!(
        resources.contains("crontabs") && resources.contains("ct") && resources.contains("CronTab"),
        "{resources}"
    );

    // Unknown fields: pruned by default, rejected under strict validation.
    let with_unknown = format!("{CRONTAB}  bogus: 1\n");
    let out = s.kubectl_stdin(
        &["create", "--validate=strict", "-f", "-"],
        Some(&with_unknown),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown field \"spec.bogus\""),
        "{err}"
    );
    s.kubectl_stdin_ok(&["create", "--validate=false", "-f", "-"], &with_unknown);
    let obj = s.kubectl_ok(&["get", "crontab", "my-new-cron-object", "-o", "json"]);
    let obj: serde_json::Value = serde_json::from_str(&obj).expect("json");
    assert!(obj["spec"].get("bogus").is_none(), "{obj}");
    assert_eq!(obj["spec"]["replicas"], 1, "default applied");
    assert_eq!(obj["metadata"]["generation"], 1);

    // Printer columns, by plural and short name, and in `all`.
    let table = s.kubectl_ok(&["get", "crontabs"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["NAME", "SPEC", "REPLICAS", "AGE"], "{table}");
    assert!(
        table.contains("my-new-cron-object   * * * * */5   1"),
        "{table}"
    );
    assert!(s.kubectl_ok(&["get", "ct"]).contains("my-new-cron-object"));
    assert!(s
        .kubectl_ok(&["get", "all"])
        .contains("crontab.stable.example.com/my-new-cron-object"));

    // Invalid values: 422 naming the field.
    let bad = CRONTAB
        .replace(
            "image: my-awesome-cron-image",
            "image: x\n  replicas: \"x\"",
        )
        .replace("my-new-cron-object", "bad");
    let err = s.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&err.stderr).into_owned();
    assert!(err.contains("spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\""), "{err}");
    let bad = CRONTAB
        .replace("* * * * */5", "nope")
        .replace("my-new-cron-object", "bad");
    let err = s.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&err.stderr).into_owned();
    assert!(err.contains("The CronTab \"bad\" is invalid: spec.cronSpec: Invalid value: \"nope\": spec.cronSpec in body should match"), "{err}");

    // Explain from /openapi/v3.
    let explain = s.kubectl_ok(&["explain", "crontab.spec"]);
    assert!(
        explain.contains("cronSpec") && explain.contains("The cron schedule."),
        "{explain}"
    );
    let explain = s.kubectl_ok(&["explain", "crontab.spec", "--recursive"]);
    assert!(explain.contains("replicas"), "{explain}");

    // Scale and status subresources; generation follows spec changes only.
    s.kubectl_ok(&["scale", "ct/my-new-cron-object", "--replicas=3"]);
    let obj = s.kubectl_ok(&[
        "get",
        "ct",
        "my-new-cron-object",
        "-o",
        "jsonpath={.spec.replicas} {.metadata.generation}",
    ]);
    assert_eq!(obj, "3 2");
    s.kubectl_ok(&[
        "patch",
        "ct",
        "my-new-cron-object",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"replicas":3,"labelSelector":"app=x"}}"#,
    ]);
    let (code, body) = s.curl(&[
        "/apis/stable.example.com/v1/namespaces/default/crontabs/my-new-cron-object/scale",
    ]);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("\"selector\":\"app=x\"") && body.contains("\"replicas\":3"),
        "{body}"
    );
    let obj = s.kubectl_ok(&[
        "get",
        "ct",
        "my-new-cron-object",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    assert_eq!(obj, "2");

    // Strategic merge patch is not served for custom resources.
    let out = s.kubectl(&[
        "patch",
        "ct",
        "my-new-cron-object",
        "--type=strategic",
        "-p",
        "{}",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("application/apply-patch+yaml"), "{err}");

    // Deleting the CRD deletes its objects and stops serving the kind.
    s.kubectl_ok(&[
        "delete",
        "crd",
        "crontabs.stable.example.com",
        "--timeout=20s",
    ]);
    assert!(eventually(Duration::from_secs(5), || {
        s.curl(&["/apis/stable.example.com/v1/crontabs"]).0 == 404
    }));
    create_crd(&s);
    let list = s.kubectl_ok(&["get", "crontabs", "-A", "-o", "name"]);
    assert!(list.trim().is_empty(), "objects survived the CRD: {list}");
}

#[test]
fn crd_name_conflict_and_validation() {
    let s = Server::start();
    create_crd(&s);
    let other = CRD
        .replace("crontabs.stable.example.com", "crontabz.stable.example.com")
        .replace("plural: crontabs", "plural: crontabz")
        .replace("singular: crontab", "singular: crontabz");
    s.kubectl_stdin_ok(&["create", "-f", "-"], &other);
    assert!(eventually(Duration::from_secs(5), || {
        s.kubectl_ok(&[
            "get",
            "crd",
            "crontabz.stable.example.com",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].reason}",
        ]) == "NameConflict"
    }));
    let bad = CRD.replace(
        "name: crontabs.stable.example.com",
        "name: wrong.stable.example.com",
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("metadata.name: Invalid value: \"wrong.stable.example.com\": must be spec.names.plural+\".\"+spec.group"), "{err}");
    let bad = CRD.replace("storage: true", "storage: false");
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some(&bad.replace("crontabs", "crontabx")),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("must have exactly one version marked as storage version"),
        "{err}"
    );
}

#[test]
fn crd_survives_restart() {
    let mut s = Server::start();
    create_crd(&s);
    s.kubectl_stdin_ok(&["create", "-f", "-"], CRONTAB);
    s.terminate();
    s.spawn();
    let table = s.kubectl_ok(&["get", "ct"]);
    assert!(table.contains("my-new-cron-object"), "{table}");
    let resources = s.kubectl_ok(&["api-resources"]);
    assert!(resources.contains("crontabs"), "{resources}");
}

#[test]
fn crd_multiple_versions_and_openapi_index() {
    let s = Server::start();
    let (_, before) = s.curl(&["/openapi/v3"]);
    assert!(!before.contains("apis/stable.example.com/v1"));
    let two = CRD.replace(
        "  versions:\n    - name: v1\n",
        "  versions:\n    - name: v1beta1\n      served: true\n      storage: false\n      schema:\n        openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n    - name: v1\n",
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &two);
    s.kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "crd/crontabs.stable.example.com",
        "--timeout=10s",
    ]);
    let index = |s: &Server| {
        let (_, body) = s.curl(&["/openapi/v3"]);
        let v: serde_json::Value = serde_json::from_str(&body).expect("json");
        v["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let first = index(&s);
    assert!(first.contains("hash="), "{first}");
    let (_, groups) = s.curl(&["/apis/stable.example.com"]);
    assert!(
        groups.contains("\"preferredVersion\":{\"groupVersion\":\"stable.example.com/v1\""),
        "{groups}"
    );

    s.kubectl_stdin_ok(
        &["create", "-f", "-"],
        &CRONTAB.replace("stable.example.com/v1", "stable.example.com/v1beta1"),
    );
    let v1 = s.kubectl_ok(&[
        "get",
        "crontabs.v1.stable.example.com",
        "my-new-cron-object",
        "-o",
        "jsonpath={.apiVersion}",
    ]);
    assert_eq!(v1, "stable.example.com/v1");
    let beta = s.kubectl_ok(&[
        "get",
        "crontabs.v1beta1.stable.example.com",
        "my-new-cron-object",
        "-o",
        "jsonpath={.apiVersion}",
    ]);
    assert_eq!(beta, "stable.example.com/v1beta1");

    // A schema change changes the document's hash.
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &two.replace("The cron schedule.", "The schedule."),
    );
    assert!(eventually(Duration::from_secs(5), || index(&s) != first));
}
