//! The real kubectl against a real skiff server: discovery, create, get in every output format,
//! selectors, paging, watch, label/annotate, delete and describe.

mod common;

use std::time::Duration;

use common::{eventually, Server};

const MANIFEST: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: NS
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: NS
  labels: {tier: backend}
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: NS
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: busybox:1.35
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: NS
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"#;

#[test]
fn version_and_discovery() {
    let s = Server::start();
    let v = s.kubectl_ok(&["version"]);
    assert!(v.contains("Client Version: v1.33"), "{v}");
    assert!(v.contains("Server Version: v1.33.1"), "{v}");

    let r = s.kubectl_ok(&["api-resources"]);
    let header = r.lines().next().unwrap_or("");
    assert!(
        header.starts_with("NAME")
            && header.contains("SHORTNAMES")
            && header.contains("APIVERSION")
            && header.contains("NAMESPACED")
            && header.contains("KIND"),
        "{header}"
    );
    for (name, short, av, namespaced, kind) in [
        ("configmaps", "cm", "v1", "true", "ConfigMap"),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("deployments", "deploy", "apps/v1", "true", "Deployment"),
        ("cronjobs", "cj", "batch/v1", "true", "CronJob"),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        (
            "endpointslices",
            "",
            "discovery.k8s.io/v1",
            "true",
            "EndpointSlice",
        ),
    ] {
        let line = r
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name) && l.contains(av))
            .unwrap_or_else(|| panic!("{name} missing:\n{r}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        let expected: Vec<&str> = [name, short, av, namespaced, kind]
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect();
        assert_eq!(cols, expected, "{line}");
    }

    let av = s.kubectl_ok(&["api-versions"]);
    let lines: Vec<&str> = av.lines().collect();
    for want in [
        "apps/v1",
        "batch/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
        "v1",
    ] {
        assert!(lines.contains(&want), "{want} missing from {av}");
    }

    let ns = s.kubectl_ok(&["get", "ns"]);
    let names: Vec<&str> = ns
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        ["default", "kube-node-lease", "kube-public", "kube-system"]
    );
    assert!(
        ns.lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            == ["NAME", "STATUS", "AGE"],
        "{ns}"
    );
    assert!(ns.lines().skip(1).all(|l| l.contains("Active")), "{ns}");

    let all = s.kubectl_ok(&["get", "all", "-A"]);
    let header: Vec<&str> = all
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAMESPACE",
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ],
        "{all}"
    );
    let svc: Vec<&str> = all
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        &svc[..6],
        [
            "default",
            "service/kubernetes",
            "ClusterIP",
            "10.43.0.1",
            "<none>",
            "443/TCP"
        ],
        "{all}"
    );
}

#[test]
fn typed_create_commands_use_protobuf_bodies() {
    let s = Server::start();
    let ns = common::unique_ns("create");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
        "--from-literal=b=2",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "sec",
        "--from-literal=user=admin",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "deployment",
        "web",
        "--image=busybox:1.35",
        "--replicas=3",
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
    ]);

    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "cfg",
            "-o",
            "jsonpath={.data.a},{.data.b}"
        ]),
        "1,2"
    );
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "secret",
            "sec",
            "-o",
            "jsonpath={.data.user}"
        ]),
        "YWRtaW4="
    );
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}"
        ]),
        "3 busybox:1.35"
    );
    let svc = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.ports[0].port} {.spec.ports[0].targetPort}",
    ]);
    let parts: Vec<&str> = svc.split(' ').collect();
    assert!(parts[0].starts_with("10.43."), "{svc}");
    assert_eq!(&parts[1..], ["80", "8080"]);

    let err = s.kubectl_err(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "cfg",
        "--from-literal=a=1",
    ]);
    assert_eq!(
        err.trim(),
        "error: failed to create configmap: configmaps \"cfg\" already exists"
    );
}

#[test]
fn apply_multi_document_and_output_formats() {
    let s = Server::start();
    let ns = common::unique_ns("apply");
    let manifest = MANIFEST.replace("NS", &ns);
    let out = s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            format!("namespace/{ns} created"),
            "configmap/settings created".to_string(),
            "deployment.apps/web created".to_string(),
            "service/web created".to_string()
        ]
    );

    let yaml = s.kubectl_ok(&["-n", &ns, "get", "cm", "settings", "-o", "yaml"]);
    assert!(
        yaml.contains("kind: ConfigMap")
            && yaml.contains("color: blue")
            && yaml.contains("resourceVersion:")
            && yaml.contains("uid:"),
        "{yaml}"
    );
    assert!(
        yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
        "{yaml}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&s.kubectl_ok(&["-n", &ns, "get", "deploy", "web", "-o", "json"]))
            .expect("json");
    assert_eq!(json["spec"]["replicas"], 2);
    assert_eq!(json["metadata"]["generation"], 1);

    let wide = s.kubectl_ok(&["-n", &ns, "get", "deploy", "-o", "wide"]);
    let header: Vec<&str> = wide
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ],
        "{wide}"
    );
    let row: Vec<&str> = wide
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[0], row[1], row[5], row[6], row[7]),
        ("web", "0/2", "c", "busybox:1.35", "app=web"),
        "{wide}"
    );

    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "get", "cm,deploy,svc", "-o", "name"]),
        // kube-root-ca.crt is published in every namespace, as upstream.
        "configmap/kube-root-ca.crt\nconfigmap/settings\ndeployment.apps/web\nservice/web\n"
    );
    let cc = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "cm",
        "settings",
        "-o",
        "custom-columns=NAME:.metadata.name,COLOR:.data.color",
    ]);
    assert_eq!(cc, "NAME       COLOR\nsettings   blue\n");

    let svc = s.kubectl_ok(&["-n", &ns, "get", "svc", "web"]);
    let header: Vec<&str> = svc
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE"
        ]
    );
    let row: Vec<&str> = svc
        .lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        (row[0], row[1], row[3], row[4]),
        ("web", "ClusterIP", "<none>", "80/TCP"),
        "{svc}"
    );

    // A second apply of the same file changes nothing.
    let out = s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
    assert!(out.lines().all(|l| l.ends_with("unchanged")), "{out}");
}

#[test]
fn selectors_paging_label_annotate() {
    let s = Server::start();
    let ns = common::unique_ns("sel");
    s.kubectl_ok(&["create", "ns", &ns]);
    for i in 0..5 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        s.kubectl_stdin_ok(&["-n", &ns, "create", "-f", "-"], &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  labels: {{tier: {tier}}}\n"));
    }
    // kube-root-ca.crt (in every namespace) is left out.
    let names = |out: String| {
        out.lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .filter(|n| n != "kube-root-ca.crt")
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(s.kubectl_ok(&["-n", &ns, "get", "cm", "-l", "tier=even"])),
        ["cm0", "cm2", "cm4"]
    );
    assert_eq!(
        names(s.kubectl_ok(&["-n", &ns, "get", "cm", "-l", "tier!=even"])),
        ["cm1", "cm3"]
    );
    assert_eq!(
        names(s.kubectl_ok(&["-n", &ns, "get", "cm", "-l", "tier in (odd)"])),
        ["cm1", "cm3"]
    );
    assert_eq!(
        names(s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "--field-selector",
            "metadata.name=cm3"
        ])),
        ["cm3"]
    );
    assert_eq!(
        names(s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "--field-selector",
            "metadata.name!=cm3",
            "-l",
            "tier=odd"
        ])),
        ["cm1"]
    );
    let err = s.kubectl_err(&["-n", &ns, "get", "cm", "--field-selector", "spec.bogus=1"]);
    assert!(err.contains("BadRequest"), "{err}");

    // --chunk-size=2 pages through with limit/continue and still prints one table.
    assert_eq!(
        names(s.kubectl_ok(&["-n", &ns, "get", "cm", "--chunk-size=2"])),
        ["cm0", "cm1", "cm2", "cm3", "cm4"]
    );
    let out = s.kubectl(&["-n", &ns, "get", "cm", "--chunk-size=2", "-v=6"]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.matches("limit=2").count() >= 3 && log.contains("continue="),
        "{log}"
    );

    s.kubectl_ok(&["-n", &ns, "label", "cm", "cm0", "owner=alice"]);
    s.kubectl_ok(&["-n", &ns, "annotate", "cm", "cm0", "note=hello"]);
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "cm0",
            "-o",
            "jsonpath={.metadata.labels.owner} {.metadata.annotations.note}"
        ]),
        "alice hello"
    );
    let err = s.kubectl_err(&["-n", &ns, "label", "cm", "cm0", "owner=bob"]);
    assert!(err.contains("already has a value (alice)"), "{err}");
    s.kubectl_ok(&["-n", &ns, "label", "cm", "cm0", "owner-"]);
    assert_eq!(
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "cm0",
            "-o",
            "jsonpath={.metadata.labels.owner}"
        ]),
        ""
    );
    assert_eq!(
        names(s.kubectl_ok(&["-n", &ns, "get", "cm", "--show-labels", "-l", "tier=even"])).len(),
        3
    );
}

#[test]
fn watch_sees_later_change() {
    let s = Server::start();
    let ns = common::unique_ns("watch");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_stdin_ok(
        &["-n", &ns, "create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w1\n",
    );
    let mut child = std::process::Command::new("kubectl")
        .args(["-n", &ns, "get", "cm", "-w", "--request-timeout=20s"])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.data_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl -w");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.starts_with("kube-root-ca.crt"))
        {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).expect("header");
    assert!(first.starts_with("NAME"), "{first}");
    let row = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("initial row");
    assert!(row.starts_with("w1"), "{row}");
    s.kubectl_stdin_ok(
        &["-n", &ns, "create", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: w2\ndata: {a: b}\n",
    );
    let added = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("watch event for w2");
    assert!(
        added.starts_with("w2") && added.split_whitespace().nth(1) == Some("1"),
        "{added}"
    );
    s.kubectl_ok(&["-n", &ns, "label", "cm", "w1", "x=y"]);
    let modified = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("watch event for w1 label");
    assert!(modified.starts_with("w1"), "{modified}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn delete_forms_wait_and_describe() {
    let s = Server::start();
    let ns = common::unique_ns("del");
    s.kubectl_ok(&["create", "ns", &ns]);
    for (name, app) in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "z")] {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "create",
            "configmap",
            name,
            &format!("--from-literal=app={app}"),
        ]);
        s.kubectl_ok(&["-n", &ns, "label", "cm", name, &format!("app={app}")]);
    }
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "delete", "cm", "a"]),
        "configmap \"a\" deleted\n"
    );
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "delete", "cm", "-l", "app=x"]),
        "configmap \"b\" deleted\n"
    );
    let d = s.kubectl_ok(&["-n", &ns, "describe", "cm", "c"]);
    assert!(
        d.contains(&format!("Namespace:    {ns}"))
            && d.contains("Labels:       app=y")
            && d.contains("app:\n----\ny"),
        "{d}"
    );
    let out = s.kubectl_ok(&["-n", &ns, "delete", "cm", "--all"]);
    assert!(
        out.contains("configmap \"c\" deleted") && out.contains("configmap \"d\" deleted"),
        "{out}"
    );
    // Only the re-published kube-root-ca.crt may be left.
    let left = s.kubectl_ok(&["-n", &ns, "get", "cm", "-o", "name"]);
    assert!(
        left.is_empty() || left == "configmap/kube-root-ca.crt\n",
        "{left}"
    );

    // An object held by a finalizer stays (with deletionTimestamp) until the finalizer is removed;
    // `kubectl wait --for=delete` returns when it is gone.
    s.kubectl_stdin_ok(&["-n", &ns, "create", "-f", "-"], "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n");
    s.kubectl_ok(&["-n", &ns, "delete", "cm", "held", "--wait=false"]);
    assert!(!s
        .kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "cm",
            "held",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}"
        ])
        .is_empty());
    let kubeconfig = s.kubeconfig();
    let home = s.data_dir().to_path_buf();
    let ns2 = ns.clone();
    let waiter = std::thread::spawn(move || {
        std::process::Command::new("kubectl")
            .args([
                "-n",
                &ns2,
                "wait",
                "--for=delete",
                "cm/held",
                "--timeout=20s",
            ])
            .env("KUBECONFIG", kubeconfig)
            .env("HOME", home)
            .output()
            .expect("kubectl wait")
    });
    std::thread::sleep(Duration::from_millis(500));
    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "cm",
        "held",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let out = waiter.join().expect("waiter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("condition met"));

    // Deleting the namespace removes what is in it, then the namespace.
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "left",
        "--from-literal=a=b",
    ]);
    s.kubectl_ok(&["delete", "ns", &ns, "--timeout=30s"]);
    assert!(eventually(Duration::from_secs(10), || !s
        .kubectl(&["get", "ns", &ns])
        .status
        .success()));
}
