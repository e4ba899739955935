//! Pod updates may change only images, activeDeadlineSeconds, added tolerations and the grace period.

mod common;

use common::Server;

#[test]
fn pod_spec_is_immutable_except_images() {
    let s = Server::start();
    let ns = common::unique_ns("podupd");
    s.kubectl_ok(&["create", "ns", &ns]);
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: {ns}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.35\n    command: [sleep, '3600']\n"
    );
    s.kubectl_stdin_ok(&["create", "-f", "-"], &pod);
    s.kubectl_ok(&["-n", &ns, "set", "image", "pod/p", "c=busybox:1.36"]);
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "pod",
            "p",
            "-o",
            "jsonpath={.spec.containers[0].image}"
        ]),
        "busybox:1.36"
    );
    s.kubectl_ok(&["-n", &ns, "label", "pod", "p", "a=b"]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "pod",
        "p",
        "-p",
        r#"{"spec":{"activeDeadlineSeconds":600}}"#,
    ]);

    let out = s.kubectl(&[
        "-n",
        &ns,
        "patch",
        "pod",
        "p",
        "-p",
        r#"{"spec":{"restartPolicy":"Never"}}"#,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("The Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"),
        "{err}"
    );
    let out = s.kubectl(&[
        "-n",
        &ns,
        "patch",
        "pod",
        "p",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/containers/0/command","value":["true"]}]"#,
    ]);
    assert!(!out.status.success(), "command must be immutable");
}
