//! Errors as `metav1.Status` with upstream's codes, reasons and messages, seen through kubectl and
//! raw HTTP.

mod common;

use std::time::Duration;

use common::Server;
use serde_json::Value;

fn status(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[test]
fn stale_update_conflicts_and_duplicate_create_already_exists() {
    let s = Server::start();
    let ns = common::unique_ns("conflict");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
    ]);
    let stale = s.kubectl_ok(&["-n", &ns, "get", "cm", "cfg", "-o", "json"]);
    s.kubectl_ok(&["-n", &ns, "label", "cm", "cfg", "bump=1"]);
    let out = s.kubectl_stdin(&["replace", "-f", "-"], Some(&stale));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        err.trim(),
        "Error from server (Conflict): error when replacing \"STDIN\": Operation cannot be fulfilled on configmaps \"cfg\": the object has been modified; please apply your changes to the latest version and try again"
    );

    let manifest =
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: {ns}\n");
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&manifest));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"cfg\" already exists"
    );

    let (code, body) = s.curl(&[
        &format!("/api/v1/namespaces/{ns}/configmaps"),
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}}"#,
    ]);
    assert_eq!(code, 409);
    assert_eq!(
        body,
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"cfg\" already exists","reason":"AlreadyExists","details":{"name":"cfg","kind":"configmaps"},"code":409}"#.to_string() + "\n"
    );
}

#[test]
fn invalid_name_is_422_with_field_path() {
    let s = Server::start();
    let out = s.kubectl_stdin(
        &["create", "-f", "-"],
        Some(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n  namespace: default\n",
        ),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "The ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    );
    let (code, body) = s.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"metadata":{"name":"Bad_Name"}}"#,
    ]);
    assert_eq!(code, 422);
    let st = status(&body);
    assert_eq!(st["reason"], "Invalid");
    assert_eq!(st["details"]["kind"], "ConfigMap");
    assert_eq!(st["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(st["details"]["causes"][0]["reason"], "FieldValueInvalid");
}

#[test]
fn compacted_revisions_are_gone_for_list_and_watch() {
    let s = Server::start_with(&["--etcd-compaction-interval", "1s"]);
    let ns = common::unique_ns("gone");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
    ]);
    let old_rv = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "cm",
        "cfg",
        "-o",
        "jsonpath={.metadata.resourceVersion}",
    ]);
    for i in 0..5 {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "label",
            "--overwrite",
            "cm",
            "cfg",
            &format!("i={i}"),
        ]);
    }
    // Two compaction intervals: the first remembers the revision, the second compacts up to it.
    std::thread::sleep(Duration::from_millis(2500));
    let path = format!(
        "/api/v1/namespaces/{ns}/configmaps?resourceVersion={old_rv}&resourceVersionMatch=Exact"
    );
    let (code, body) = s.curl(&[&path]);
    assert_eq!(code, 410, "{body}");
    let st = status(&body);
    assert_eq!(st["reason"], "Expired");
    assert!(
        st["message"]
            .as_str()
            .unwrap_or("")
            .starts_with(&format!("too old resource version: {old_rv}")),
        "{body}"
    );

    let path = format!(
        "/api/v1/namespaces/{ns}/configmaps?watch=1&resourceVersion={old_rv}&timeoutSeconds=2"
    );
    let (code, body) = s.curl(&[&path]);
    assert_eq!(code, 200);
    let ev = status(body.lines().next().unwrap_or(""));
    assert_eq!(ev["type"], "ERROR", "{body}");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");

    // kubectl relists after a 410 on its own; a current list still works.
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "cfg",
            "-o",
            "jsonpath={.metadata.labels.i}"
        ]),
        "4"
    );
}

#[test]
fn no_client_certificate_is_401() {
    let s = Server::start();
    for path in ["/api/v1/namespaces", "/version", "/readyz"] {
        let (code, body) = s.curl_as(&[path], false);
        assert_eq!(code, 401, "{path}");
        assert_eq!(body, r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#.to_string() + "\n");
    }
}

#[test]
fn bad_requests_get_status_errors() {
    let s = Server::start();
    let post = |ct: &str, body: &str| {
        s.curl(&[
            "/api/v1/namespaces/default/configmaps",
            "-X",
            "POST",
            "-H",
            &format!("Content-Type: {ct}"),
            "--data-binary",
            body,
        ])
    };
    let (code, body) = post("application/json", "{\"metadata\": {\"name\": \"x\",}}");
    assert_eq!(code, 400);
    let st = status(&body);
    assert_eq!(st["reason"], "BadRequest");
    assert!(
        st["message"]
            .as_str()
            .unwrap_or("")
            .contains("line 1 column"),
        "{body}"
    );

    let (code, body) = post("application/yaml", "metadata:\n  name: [x\n");
    assert_eq!(code, 400, "{body}");
    assert!(
        status(&body)["message"]
            .as_str()
            .unwrap_or("")
            .contains("line"),
        "{body}"
    );

    let (code, body) = post("text/plain", "hello");
    assert_eq!(code, 415);
    assert_eq!(status(&body)["reason"], "UnsupportedMediaType");

    let (code, body) = post("application/vnd.kubernetes.protobuf", "not protobuf at all");
    assert_eq!(code, 400, "{body}");

    let big = format!(
        "{{\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"a\":\"{}\"}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    let file = s.data_dir().join("big.json");
    std::fs::write(&file, big).expect("write");
    let (code, body) = s.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &format!("@{}", file.display()),
    ]);
    assert_eq!(code, 413);
    assert_eq!(status(&body)["reason"], "RequestEntityTooLarge");

    let (code, body) = s.curl(&[
        "/api/v1/namespaces/nope/configmaps",
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"metadata":{"name":"x"}}"#,
    ]);
    assert_eq!(code, 404);
    assert_eq!(status(&body)["message"], "namespaces \"nope\" not found");

    let (code, body) = s.curl(&[
        "/api/v1/namespaces/default/configmaps",
        "-H",
        "Accept: application/xml",
    ]);
    assert_eq!(code, 406, "{body}");
    assert_eq!(status(&body)["reason"], "NotAcceptable");

    let (code, body) = s.curl(&["/api/v1/namespaces/default/configmaps/nope"]);
    assert_eq!(code, 404);
    assert_eq!(body, r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"nope\" not found","reason":"NotFound","details":{"name":"nope","kind":"configmaps"},"code":404}"#.to_string() + "\n");

    let (code, _) = s.curl(&["/apis/nope.example.com/v1/widgets"]);
    assert_eq!(code, 404);
    let err = s.kubectl_err(&["get", "widgets"]);
    assert!(
        err.contains("the server doesn't have a resource type \"widgets\""),
        "{err}"
    );
}

#[test]
fn unknown_fields_follow_field_validation() {
    let s = Server::start();
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\n  namespace: default\nbogus: 1\n";
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(manifest));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("strict decoding error: unknown field \"bogus\""),
        "{err}"
    );
    let out = s.kubectl_stdin(&["create", "--validate=warn", "-f", "-"], Some(manifest));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Warning: unknown field \"bogus\""));
}
