//! Admission and service account credentials with the real kubectl and curl: the per-namespace
//! `default` account and `kube-root-ca.crt`, pod admission (account, token volume, tolerations,
//! priority), LimitRange defaults and limits, ResourceQuota, tokens, reviews, OIDC discovery.

mod common;

use std::time::Duration;

use common::{eventually, unique_ns, Server};
use serde_json::Value;

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn get_json(s: &Server, args: &[&str]) -> Value {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["-o", "json"]);
    json(&s.kubectl_ok(&a))
}

/// A namespace made with kubectl, with its `default` account waited for.
fn namespace(s: &Server, prefix: &str) -> String {
    let ns = unique_ns(prefix);
    s.kubectl_ok(&["create", "namespace", &ns]);
    assert!(
        eventually(Duration::from_secs(10), || s
            .kubectl(&["get", "sa", "default", "-n", &ns])
            .status
            .success()),
        "no default service account in {ns}"
    );
    ns
}

#[test]
fn namespaces_get_default_account_and_root_ca() {
    let s = Server::start();
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        s.kubectl_ok(&["get", "sa", "default", "-n", ns]);
        s.kubectl_ok(&["get", "cm", "kube-root-ca.crt", "-n", ns]);
    }
    let ns = namespace(&s, "adm-ns");
    let cm = get_json(&s, &["cm", "kube-root-ca.crt", "-n", &ns]);
    let ca = std::fs::read_to_string(s.data_dir().join("tls/ca.crt")).expect("ca.crt");
    assert_eq!(cm["data"]["ca.crt"].as_str(), Some(ca.as_str()));
    // Deleted or changed, both come back.
    s.kubectl_ok(&["delete", "sa", "default", "-n", &ns]);
    s.kubectl_ok(&["delete", "cm", "kube-root-ca.crt", "-n", &ns]);
    assert!(eventually(Duration::from_secs(10), || {
        s.kubectl(&["get", "sa", "default", "-n", &ns])
            .status
            .success()
            && s.kubectl(&["get", "cm", "kube-root-ca.crt", "-n", &ns])
                .status
                .success()
    }));
    s.kubectl_ok(&[
        "patch",
        "cm",
        "kube-root-ca.crt",
        "-n",
        &ns,
        "-p",
        r#"{"data":{"ca.crt":"changed"}}"#,
    ]);
    assert!(eventually(Duration::from_secs(10), || {
        get_json(&s, &["cm", "kube-root-ca.crt", "-n", &ns])["data"]["ca.crt"].as_str()
            == Some(ca.as_str())
    }));
}

#[test]
fn pods_get_account_token_volume_tolerations_and_priority() {
    let s = Server::start();
    let ns = namespace(&s, "adm-pod");
    s.kubectl_ok(&["run", "web", "-n", &ns, "--image=nginx"]);
    let pod = get_json(&s, &["pod", "web", "-n", &ns]);
    let spec = &pod["spec"];
    assert_eq!(spec["serviceAccountName"], "default");
    assert_eq!(spec["serviceAccount"], "default");
    assert_eq!(spec["priority"], 0);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    let vol = &spec["volumes"][0];
    let name = vol["name"].as_str().unwrap_or("");
    assert!(
        name.starts_with("kube-api-access-") && name.len() == 21,
        "{name}"
    );
    let sources = &vol["projected"]["sources"];
    assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
    assert_eq!(sources[0]["serviceAccountToken"]["path"], "token");
    assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
    assert_eq!(sources[1]["configMap"]["items"][0]["key"], "ca.crt");
    assert_eq!(
        sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(vol["projected"]["defaultMode"], 420);
    let mount = &spec["containers"][0]["volumeMounts"][0];
    assert_eq!(mount["name"], name);
    assert_eq!(
        mount["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert_eq!(mount["readOnly"], true);
    let tolerations = spec["tolerations"].as_array().cloned().unwrap_or_default();
    let keys: Vec<&str> = tolerations
        .iter()
        .filter_map(|t| t["key"].as_str())
        .collect();
    assert_eq!(
        keys,
        vec![
            "node.kubernetes.io/not-ready",
            "node.kubernetes.io/unreachable"
        ]
    );
    assert!(tolerations
        .iter()
        .all(|t| t["tolerationSeconds"] == 300 && t["effect"] == "NoExecute"));

    // Opting out of automount; an unknown account or priority class is refused.
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: quiet, namespace: {ns}}}\nspec:\n  automountServiceAccountToken: false\n  containers: [{{name: c, image: nginx}}]\n"
    );
    s.kubectl_stdin_ok(&["create", "-f", "-"], &manifest);
    let quiet = get_json(&s, &["pod", "quiet", "-n", &ns]);
    assert!(quiet["spec"].get("volumes").is_none());
    let err = s.kubectl_err(&[
        "run",
        "ghost",
        "-n",
        &ns,
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"serviceAccountName":"nobody"}}"#,
    ]);
    assert!(
        err.contains(&format!(
            "pods \"ghost\" is forbidden: error looking up service account {ns}/nobody: serviceaccount \"nobody\" not found"
        )),
        "{err}"
    );
    let err = s.kubectl_err(&[
        "run",
        "vip",
        "-n",
        &ns,
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"priorityClassName":"gold"}}"#,
    ]);
    assert!(
        err.contains("pods \"vip\" is forbidden: no PriorityClass with name gold was found"),
        "{err}"
    );
    s.kubectl_ok(&[
        "run",
        "critical",
        "-n",
        &ns,
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"priorityClassName":"system-cluster-critical"}}"#,
    ]);
    let critical = get_json(&s, &["pod", "critical", "-n", &ns]);
    assert_eq!(critical["spec"]["priority"], 2_000_000_000);
}

#[test]
fn limit_range_defaults_and_limits() {
    let s = Server::start();
    let ns = namespace(&s, "adm-lr");
    let lr = format!(
        "apiVersion: v1\nkind: LimitRange\nmetadata: {{name: lr, namespace: {ns}}}\nspec:\n  limits:\n  - type: Container\n    default: {{cpu: 200m, memory: 256Mi}}\n    defaultRequest: {{cpu: 100m, memory: 128Mi}}\n    max: {{cpu: '1'}}\n"
    );
    s.kubectl_stdin_ok(&["create", "-f", "-"], &lr);
    s.kubectl_ok(&["run", "a", "-n", &ns, "--image=nginx"]);
    let pod = get_json(&s, &["pod", "a", "-n", &ns]);
    let r = &pod["spec"]["containers"][0]["resources"];
    assert_eq!(r["requests"]["cpu"], "100m");
    assert_eq!(r["requests"]["memory"], "128Mi");
    assert_eq!(r["limits"]["cpu"], "200m");
    assert_eq!(r["limits"]["memory"], "256Mi");
    assert_eq!(
        pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for container a"
    );
    let err = s.kubectl_err(&[
        "run",
        "big",
        "-n",
        &ns,
        "--image=nginx",
        "--overrides",
        r#"{"spec":{"containers":[{"name":"big","image":"nginx","resources":{"limits":{"cpu":"2"}}}]}}"#,
    ]);
    assert!(
        err.contains(
            "Error from server (Forbidden): pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"
        ),
        "{err}"
    );
}

#[test]
fn resource_quota_refuses_the_third_pod() {
    let s = Server::start();
    let ns = namespace(&s, "adm-quota");
    s.kubectl_ok(&[
        "create",
        "quota",
        "q",
        "-n",
        &ns,
        "--hard=pods=2,count/configmaps=3",
    ]);
    let used = |key: &str| {
        get_json(&s, &["quota", "q", "-n", &ns])["status"]["used"][key]
            .as_str()
            .map(str::to_string)
    };
    // kube-root-ca.crt already counts.
    assert!(eventually(Duration::from_secs(10), || used("pods")
        .as_deref()
        == Some("0")
        && used("count/configmaps").as_deref() == Some("1")));
    s.kubectl_ok(&["run", "a", "-n", &ns, "--image=nginx"]);
    s.kubectl_ok(&["run", "b", "-n", &ns, "--image=nginx"]);
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: c, namespace: {ns}}}\nspec:\n  containers: [{{name: c, image: nginx}}]\n"
    );
    let out = s.kubectl_stdin(&["create", "-f", "-"], Some(&pod));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Error from server (Forbidden): error when creating \"STDIN\": pods \"c\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"),
        "{err}"
    );
    assert!(eventually(Duration::from_secs(10), || used("pods")
        .as_deref()
        == Some("2")));
    let (code, body) = s.curl(&[
        &format!("/api/v1/namespaces/{ns}/pods"),
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"metadata":{"name":"d"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
    ]);
    assert_eq!(code, 403, "{body}");
    let status = json(&body);
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(status["details"]["kind"], "pods");
    s.kubectl_ok(&["create", "cm", "one", "-n", &ns]);
    s.kubectl_ok(&["create", "cm", "two", "-n", &ns]);
    let err = s.kubectl_err(&["create", "cm", "three", "-n", &ns]);
    assert!(err.contains("configmaps \"three\" is forbidden: exceeded quota: q, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3"), "{err}");
    // Deleting frees the quota.
    s.kubectl_ok(&[
        "delete",
        "pod",
        "a",
        "-n",
        &ns,
        "--grace-period=0",
        "--force",
    ]);
    assert!(eventually(Duration::from_secs(15), || s
        .kubectl_stdin(&["create", "-f", "-"], Some(&pod))
        .status
        .success()));
}

#[test]
fn service_account_tokens_authenticate() {
    let s = Server::start();
    let ns = namespace(&s, "adm-token");
    let token = s
        .kubectl_ok(&["create", "token", "default", "-n", &ns])
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "{token}");
    let review = format!(
        r#"{{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{{"token":"{token}"}}}}"#
    );
    let out = s.kubectl_stdin_ok(
        &["create", "--validate=false", "-o", "json", "-f", "-"],
        &review,
    );
    let status = &json(&out)["status"];
    assert_eq!(status["authenticated"], true, "{out}");
    let user = format!("system:serviceaccount:{ns}:default");
    assert_eq!(status["user"]["username"], user.as_str());
    let groups = status["user"]["groups"].to_string();
    assert!(
        groups.contains("system:serviceaccounts")
            && groups.contains(&format!("system:serviceaccounts:{ns}"))
            && groups.contains("system:authenticated"),
        "{groups}"
    );

    // The token authenticates curl and kubectl, and whoami names the account.
    let auth = format!("Authorization: Bearer {token}");
    let (code, body) = s.curl_as(&["/api/v1/namespaces", "-H", &auth], false);
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["kind"], "NamespaceList");
    let (code, _) = s.curl_as(
        &["/api/v1/namespaces", "-H", "Authorization: Bearer nope"],
        false,
    );
    assert_eq!(code, 401);
    let server = format!("https://127.0.0.1:{}", s.port);
    let ca = s.data_dir().join("tls/ca.crt");
    let ca = ca.to_string_lossy().into_owned();
    let as_sa = |args: &[&str]| {
        let mut a = vec![
            "--kubeconfig=/dev/null",
            "--server",
            &server,
            "--certificate-authority",
            &ca,
            "--token",
            &token,
        ];
        a.extend_from_slice(args);
        s.kubectl_ok(&a)
    };
    assert!(as_sa(&["get", "namespaces"]).contains(&ns));
    let whoami = as_sa(&["auth", "whoami"]);
    assert!(whoami.contains(&user), "{whoami}");
    assert!(s.kubectl_ok(&["auth", "whoami"]).contains("system:admin"));
    assert_eq!(
        s.kubectl_ok(&["auth", "can-i", "create", "pods"]).trim(),
        "yes"
    );
    assert_eq!(as_sa(&["auth", "can-i", "delete", "nodes"]).trim(), "yes");

    // A token bound to a pod is refused once the pod is gone.
    s.kubectl_ok(&["run", "p", "-n", &ns, "--image=nginx"]);
    let bound = s
        .kubectl_ok(&[
            "create",
            "token",
            "default",
            "-n",
            &ns,
            "--bound-object-kind=Pod",
            "--bound-object-name=p",
            "--duration=15m",
        ])
        .trim()
        .to_string();
    let bearer = format!("Authorization: Bearer {bound}");
    assert_eq!(s.curl_as(&["/api", "-H", &bearer], false).0, 200);
    s.kubectl_ok(&[
        "delete",
        "pod",
        "p",
        "-n",
        &ns,
        "--grace-period=0",
        "--force",
    ]);
    assert!(eventually(Duration::from_secs(10), || s
        .curl_as(&["/api", "-H", &bearer], false)
        .0
        == 401));
    let err = s.kubectl_err(&["create", "token", "default", "-n", &ns, "--duration=1m"]);
    assert!(
        err.contains("may not specify a duration less than 10 minutes"),
        "{err}"
    );
}

#[test]
fn oidc_discovery_documents() {
    let s = Server::start();
    let (code, body) = s.curl(&["/.well-known/openid-configuration"]);
    assert_eq!(code, 200, "{body}");
    let cfg = json(&body);
    assert_eq!(
        cfg["issuer"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(
        cfg["jwks_uri"],
        format!("https://127.0.0.1:{}/openid/v1/jwks", s.port).as_str()
    );
    assert_eq!(cfg["id_token_signing_alg_values_supported"][0], "ES256");
    let (code, body) = s.curl(&["/openid/v1/jwks"]);
    assert_eq!(code, 200, "{body}");
    let keys = json(&body);
    let key = &keys["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["use"], "sig");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(s.data_dir().join("tls/service-account.key").exists());
    // Discovery serves the review APIs.
    let resources = s.kubectl_ok(&["api-resources", "--api-group=authentication.k8s.io"]);
    assert!(resources.contains("tokenreviews") && resources.contains("selfsubjectreviews"));
    let resources = s.kubectl_ok(&["api-resources", "--api-group=authorization.k8s.io"]);
    assert!(resources.contains("selfsubjectaccessreviews"));
}
