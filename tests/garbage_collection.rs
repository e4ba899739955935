//! The garbage collector and the namespace controller, driven with the real kubectl: background,
//! orphan and foreground cascading deletion, dangling owners, a Deployment → ReplicaSet → Pod
//! chain, and namespace deletion with a finalizer holding content.

mod common;

use std::time::Duration;

use common::{eventually, unique_ns, Server};

const WAIT: Duration = Duration::from_secs(30);

fn field(s: &Server, ns: &str, kind: &str, name: &str, path: &str) -> Option<String> {
    let out = s.kubectl(&[
        "-n",
        ns,
        "get",
        kind,
        name,
        "-o",
        &format!("jsonpath={{{path}}}"),
    ]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn exists(s: &Server, ns: &str, kind: &str, name: &str) -> bool {
    field(s, ns, kind, name, ".metadata.name").is_some()
}

fn uid(s: &Server, ns: &str, kind: &str, name: &str) -> String {
    field(s, ns, kind, name, ".metadata.uid").expect("object exists")
}

fn create_ns(s: &Server, prefix: &str) -> String {
    let ns = unique_ns(prefix);
    s.kubectl_ok(&["create", "namespace", &ns]);
    ns
}

/// A ConfigMap owned by `owners` (`(apiVersion, kind, name, uid, blockOwnerDeletion)`).
fn owned_configmap(
    s: &Server,
    ns: &str,
    name: &str,
    owners: &[(&str, &str, &str, &str, bool)],
    finalizers: &[&str],
) {
    let refs: String = owners
        .iter()
        .map(|(av, kind, n, uid, block)| {
            format!(
                "  - {{apiVersion: {av}, kind: {kind}, name: {n}, uid: {uid}, blockOwnerDeletion: {block}}}\n"
            )
        })
        .collect();
    let fins = if finalizers.is_empty() {
        String::new()
    } else {
        format!("  finalizers: [{}]\n", finalizers.join(", "))
    };
    let manifest = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n{fins}  ownerReferences:\n{refs}data: {{k: v}}\n"
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
}

#[test]
fn background_deletion_collects_dependents_and_dangling_owners() {
    let s = Server::start();
    let ns = create_ns(&s, "gc-bg");
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "owner"]);
    let owner_uid = uid(&s, &ns, "configmap", "owner");
    owned_configmap(
        &s,
        &ns,
        "dependent",
        &[("v1", "ConfigMap", "owner", &owner_uid, false)],
        &[],
    );
    // The dependent stays while its owner exists.
    std::thread::sleep(Duration::from_millis(500));
    assert!(exists(&s, &ns, "configmap", "dependent"));

    s.kubectl_ok(&["-n", &ns, "delete", "configmap", "owner"]);
    assert!(
        eventually(WAIT, || !exists(&s, &ns, "configmap", "dependent")),
        "dependent of a deleted owner was not collected; log:\n{}",
        s.log()
    );

    // An owner uid that never existed, and a name that exists with another uid.
    owned_configmap(
        &s,
        &ns,
        "ghost-child",
        &[(
            "v1",
            "ConfigMap",
            "ghost",
            "6c0d3c1e-0000-4000-8000-000000000000",
            false,
        )],
        &[],
    );
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "impostor"]);
    owned_configmap(
        &s,
        &ns,
        "impostor-child",
        &[(
            "v1",
            "ConfigMap",
            "impostor",
            "6c0d3c1e-0000-4000-8000-000000000001",
            false,
        )],
        &[],
    );
    assert!(
        eventually(WAIT, || !exists(&s, &ns, "configmap", "ghost-child")
            && !exists(&s, &ns, "configmap", "impostor-child")),
        "dependents of dangling owners were not collected; log:\n{}",
        s.log()
    );
    assert!(exists(&s, &ns, "configmap", "impostor"));
}

#[test]
fn orphan_deletion_keeps_dependents_without_the_reference() {
    let s = Server::start();
    let ns = create_ns(&s, "gc-orphan");
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "owner"]);
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "other"]);
    let owner_uid = uid(&s, &ns, "configmap", "owner");
    let other_uid = uid(&s, &ns, "configmap", "other");
    owned_configmap(
        &s,
        &ns,
        "dependent",
        &[
            ("v1", "ConfigMap", "owner", &owner_uid, true),
            ("v1", "ConfigMap", "other", &other_uid, false),
        ],
        &[],
    );
    // kubectl waits for the owner to be gone, which needs the collector to drop the finalizer.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "delete",
        "configmap",
        "owner",
        "--cascade=orphan",
        "--timeout=30s",
    ]);
    assert!(!exists(&s, &ns, "configmap", "owner"));
    let refs = field(
        &s,
        &ns,
        "configmap",
        "dependent",
        ".metadata.ownerReferences[*].name",
    )
    .expect("orphaned dependent still exists");
    assert_eq!(refs, "other");
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let s = Server::start();
    let ns = create_ns(&s, "gc-fg");
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "owner"]);
    let owner_uid = uid(&s, &ns, "configmap", "owner");
    owned_configmap(
        &s,
        &ns,
        "blocker",
        &[("v1", "ConfigMap", "owner", &owner_uid, true)],
        &["example.com/hold"],
    );
    owned_configmap(
        &s,
        &ns,
        "plain",
        &[("v1", "ConfigMap", "owner", &owner_uid, false)],
        &[],
    );
    s.kubectl_ok(&[
        "-n",
        &ns,
        "delete",
        "configmap",
        "owner",
        "--cascade=foreground",
        "--wait=false",
    ]);
    let finalizers = field(&s, &ns, "configmap", "owner", ".metadata.finalizers[*]");
    assert_eq!(finalizers.as_deref(), Some("foregroundDeletion"));
    assert!(
        field(&s, &ns, "configmap", "owner", ".metadata.deletionTimestamp")
            .is_some_and(|t| !t.is_empty())
    );
    // The collector deletes the dependents; the blocking one is held by its own finalizer.
    assert!(
        eventually(WAIT, || !exists(&s, &ns, "configmap", "plain")
            && field(
                &s,
                &ns,
                "configmap",
                "blocker",
                ".metadata.deletionTimestamp"
            )
            .is_some_and(|t| !t.is_empty())),
        "dependents were not deleted in the foreground; log:\n{}",
        s.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        exists(&s, &ns, "configmap", "owner"),
        "owner went before its blocking dependent"
    );

    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "blocker",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(
        eventually(WAIT, || !exists(&s, &ns, "configmap", "blocker")
            && !exists(&s, &ns, "configmap", "owner")),
        "owner not deleted after its dependents; log:\n{}",
        s.log()
    );
}

#[test]
fn deleting_a_deployment_removes_its_replicasets_and_pods() {
    let s = Server::start();
    let ns = create_ns(&s, "gc-deploy");
    let deploy = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: busybox}}]}}
"#
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &deploy);
    let d_uid = uid(&s, &ns, "deployment", "web");
    let rs = format!(
        r#"apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-1
  namespace: {ns}
  labels: {{app: web}}
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: web, uid: {d_uid}, controller: true, blockOwnerDeletion: true}}]
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: c, image: busybox}}]}}
"#
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &rs);
    let rs_uid = uid(&s, &ns, "replicaset", "web-1");
    let pod = format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: web-1-abcde
  namespace: {ns}
  labels: {{app: web}}
  ownerReferences: [{{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: {rs_uid}, controller: true, blockOwnerDeletion: true}}]
spec: {{containers: [{{name: c, image: busybox}}]}}
"#
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &pod);

    s.kubectl_ok(&["-n", &ns, "delete", "deployment", "web"]);
    assert!(
        eventually(WAIT, || !exists(&s, &ns, "replicaset", "web-1")
            && !exists(&s, &ns, "pod", "web-1-abcde")),
        "ReplicaSet or Pod survived their Deployment; log:\n{}",
        s.log()
    );
}

#[test]
fn deleting_a_namespace_removes_its_content_then_the_namespace() {
    let s = Server::start();
    let ns = create_ns(&s, "ns-del");
    s.kubectl_ok(&["-n", &ns, "create", "configmap", "cm"]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "sec",
        "--from-literal=a=b",
    ]);
    s.kubectl_ok(&["-n", &ns, "create", "deployment", "web", "--image=busybox"]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "pod",
        "--image=busybox",
        "--restart=Never",
    ]);
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers: [example.com/block]\n"
        ),
    );
    s.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
    assert!(
        eventually(WAIT, || {
            !exists(&s, &ns, "configmap", "cm")
                && !exists(&s, &ns, "secret", "sec")
                && !exists(&s, &ns, "deployment", "web")
                && !exists(&s, &ns, "pod", "pod")
        }),
        "namespace content not deleted; log:\n{}",
        s.log()
    );
    let cond = |ty: &str, what: &str| {
        field(
            &s,
            "default",
            "namespace",
            &ns,
            &format!(".status.conditions[?(@.type==\"{ty}\")].{what}"),
        )
        .unwrap_or_default()
    };
    assert!(
        eventually(WAIT, || cond("NamespaceFinalizersRemaining", "status")
            == "True"),
        "no NamespaceFinalizersRemaining condition; log:\n{}",
        s.log()
    );
    assert_eq!(
        cond("NamespaceFinalizersRemaining", "message"),
        "Some content in the namespace has finalizers remaining: example.com/block in 1 resource instances"
    );
    assert_eq!(
        cond("NamespaceFinalizersRemaining", "reason"),
        "SomeFinalizersRemain"
    );
    assert_eq!(
        cond("NamespaceContentRemaining", "message"),
        "Some resources are remaining: configmaps. has 1 resource instances"
    );
    assert_eq!(cond("NamespaceDeletionDiscoveryFailure", "status"), "False");
    assert_eq!(
        field(&s, "default", "namespace", &ns, ".status.phase").as_deref(),
        Some("Terminating")
    );
    assert!(exists(&s, &ns, "configmap", "held"));

    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(
        eventually(WAIT, || !exists(&s, "default", "namespace", &ns)),
        "namespace not removed after its content; log:\n{}",
        s.log()
    );
}

#[test]
fn terminating_namespace_is_finished_after_a_restart() {
    let mut s = Server::start();
    let ns = create_ns(&s, "ns-restart");
    s.kubectl_stdin_ok(
        &["apply", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers: [example.com/block]\n"
        ),
    );
    s.kubectl_ok(&["delete", "namespace", &ns, "--wait=false"]);
    assert!(eventually(WAIT, || field(
        &s,
        "default",
        "namespace",
        &ns,
        ".status.conditions[?(@.type==\"NamespaceContentRemaining\")].status"
    )
    .as_deref()
        == Some("True")));
    s.terminate();
    s.spawn();
    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    assert!(
        eventually(WAIT, || !exists(&s, "default", "namespace", &ns)),
        "namespace not removed after a restart; log:\n{}",
        s.log()
    );
}
