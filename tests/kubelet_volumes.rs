//! The kubelet on Docker with volumes, init containers, environment sources, `/etc/hosts` and
//! resolv.conf: a real `skiff server` with its kubelet, real Docker, the real kubectl. Files
//! inside pods are read through `kubectl logs` of pods that print them.

mod common;

use std::time::{Duration, Instant};

use common::docker::{
    apply, describe, docker_env, jsonpath, kubelet_server, status_column, wait_phase,
};
use common::{eventually, unique_ns, Server};

fn logs(s: &Server, ns: &str, args: &[&str]) -> String {
    let mut all = vec!["-n", ns, "logs"];
    all.extend_from_slice(args);
    s.kubectl_ok(&all)
}

/// The logs, or nothing while the container has not started.
fn logs_so_far(s: &Server, ns: &str, args: &[&str]) -> String {
    let mut all = vec!["-n", ns, "logs"];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&s.kubectl(&all).stdout).into_owned()
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a: "1", b: hello}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {user: admin, pass: s3cret}
"#;

#[test]
fn config_map_secret_downward_projected_volumes() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("vol");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(&s, &ns, OBJECTS);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: files, labels: {app: web, tier: front}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c"]
    args:
    - |
      cat /etc/cfg/a; echo
      ls /etc/items; cat /etc/items/sub/renamed; echo; stat -L -c %a /etc/items/sub/renamed
      cat /etc/sec/pass; echo; stat -L -c %a /etc/sec/pass
      cat /etc/podinfo/labels; echo
      ls /etc/opt | wc -l
      SA=/var/run/secrets/kubernetes.io/serviceaccount
      cat $SA/namespace; echo
      test -s $SA/token && echo token-ok
      grep -c "BEGIN CERTIFICATE" $SA/ca.crt
      touch /etc/cfg/x 2>/dev/null || echo read-only
      cat /etc/single.conf; echo
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: cfg, mountPath: /etc/single.conf, subPath: b}
    - {name: items, mountPath: /etc/items}
    - {name: sec, mountPath: /etc/sec}
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: opt, mountPath: /etc/opt}
  volumes:
  - {name: cfg, configMap: {name: cfg}}
  - name: items
    configMap:
      name: cfg
      items: [{key: b, path: sub/renamed, mode: 0600}]
  - {name: sec, secret: {secretName: sec, defaultMode: 0400}}
  - name: podinfo
    downwardAPI:
      items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
  - {name: opt, configMap: {name: not-there, optional: true}}
"#,
    );
    wait_phase(&s, &ns, "files", "Succeeded");
    assert_eq!(
        logs(&s, &ns, &["files"]),
        format!(
            "1\nsub\nhello\n600\ns3cret\n400\napp=\"web\"\ntier=\"front\"\n0\n{ns}\ntoken-ok\n1\nread-only\nhello\n"
        )
    );

    // The token in the projected volume is accepted by the API server (TokenReview).
    let uid = jsonpath(&s, &ns, "pod/files", "{.metadata.uid}");
    let pod_dir = s.data_dir().join("kubelet/pods").join(&uid);
    let token = std::fs::read_to_string(
        pod_dir
            .join("volumes/kubernetes.io~projected")
            .join(jsonpath(&s, &ns, "pod/files", "{.spec.volumes[5].name}"))
            .join("token"),
    )
    .expect("token file on the host");
    let review = s.kubectl_stdin_ok(
        &["create", "-f", "-", "-o", "jsonpath={.status.user.username}", "--validate=false"],
        &format!(
            "{{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenReview\",\"spec\":{{\"token\":\"{token}\"}}}}"
        ),
    );
    assert_eq!(review, format!("system:serviceaccount:{ns}:default"));

    // Deleting the pod removes its directory on the host.
    assert!(pod_dir.exists());
    s.kubectl_ok(&["-n", &ns, "delete", "pod", "files", "--timeout=60s"]);
    assert!(
        eventually(Duration::from_secs(30), || !pod_dir.exists()),
        "pod directory {} remains",
        pod_dir.display()
    );
}

#[test]
fn config_map_updates_missing_sources_and_host_paths() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("volupd");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(&s, &ns, OBJECTS);
    let host_dir = s.data_dir().join("host-share");
    apply(
        &s,
        &ns,
        &format!(
            r#"
apiVersion: v1
kind: Pod
metadata: {{name: watch, labels: {{app: w}}}}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "echo from-pod > /host/out; while true; do echo \"a=$(cat /etc/cfg/a) s=$(cat /etc/sec/user) l=$(tr '\\n' , < /etc/info/labels)\"; sleep 1; done"]
    volumeMounts:
    - {{name: cfg, mountPath: /etc/cfg}}
    - {{name: sec, mountPath: /etc/sec}}
    - {{name: info, mountPath: /etc/info}}
    - {{name: host, mountPath: /host}}
  volumes:
  - {{name: cfg, configMap: {{name: cfg}}}}
  - {{name: sec, secret: {{secretName: sec}}}}
  - {{name: info, downwardAPI: {{items: [{{path: labels, fieldRef: {{fieldPath: metadata.labels}}}}]}}}}
  - {{name: host, hostPath: {{path: {}, type: DirectoryOrCreate}}}}
"#,
            host_dir.display()
        ),
    );
    wait_phase(&s, &ns, "watch", "Running");
    assert!(
        eventually(Duration::from_secs(20), || logs(
            &s,
            &ns,
            &["watch", "--tail=1"]
        ) == "a=1 s=admin l=app=\"w\"\n"),
        "{}",
        describe(&s, &ns, "watch")
    );
    assert_eq!(
        std::fs::read_to_string(host_dir.join("out")).unwrap_or_default(),
        "from-pod\n",
        "hostPath DirectoryOrCreate made the directory and the pod wrote into it"
    );

    // Updates of the ConfigMap, the Secret and the pod's labels reach the mounted files
    // (upstream: within about 90 s).
    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "configmap",
        "cfg",
        "-p",
        r#"{"data":{"a":"2"}}"#,
    ]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "patch",
        "secret",
        "sec",
        "-p",
        r#"{"stringData":{"user":"root"}}"#,
    ]);
    s.kubectl_ok(&["-n", &ns, "label", "pod", "watch", "x=y"]);
    let start = Instant::now();
    let updated = eventually(Duration::from_secs(90), || {
        logs_so_far(&s, &ns, &["watch", "--tail=1"]) == "a=2 s=root l=app=\"w\",x=\"y\"\n"
    });
    assert!(
        updated,
        "the update never arrived: {}",
        describe(&s, &ns, "watch")
    );
    eprintln!(
        "configMap, secret and label updates visible in the pod after {:?}",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );

    // A missing ConfigMap: ContainerCreating with upstream's FailedMount event, until it exists.
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.35, command: ["cat", "/etc/late/k"], volumeMounts: [{name: late, mountPath: /etc/late}]}
  volumes:
  - {name: late, configMap: {name: late}}
"#,
    );
    let message = "MountVolume.SetUp failed for volume \"late\" : configmap \"late\" not found";
    let event = eventually(Duration::from_secs(30), || {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=waits",
        ])
        .contains(message)
    });
    assert!(
        event,
        "no FailedMount event: {}",
        describe(&s, &ns, "waits")
    );
    assert_eq!(status_column(&s, &ns, "waits"), "ContainerCreating");
    assert_eq!(jsonpath(&s, &ns, "pod/waits", "{.status.phase}"), "Pending");
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "configmap",
        "late",
        "--from-literal=k=arrived",
    ]);
    wait_phase(&s, &ns, "waits", "Succeeded");
    assert_eq!(logs(&s, &ns, &["waits"]), "arrived");

    // A hostPath whose type check fails.
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: nodir}
spec:
  containers:
  - {name: c, image: busybox:1.35, command: ["true"], volumeMounts: [{name: h, mountPath: /h}]}
  volumes:
  - {name: h, hostPath: {path: /nonexistent/skiff-test, type: Directory}}
"#,
    );
    let message = "hostPath type check failed: /nonexistent/skiff-test is not a directory";
    let event = eventually(Duration::from_secs(30), || {
        s.kubectl_ok(&[
            "-n",
            &ns,
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=nodir",
        ])
        .contains(message)
    });
    assert!(
        event,
        "no FailedMount event: {}",
        describe(&s, &ns, "nodir")
    );
}

#[test]
fn empty_dir_shared_and_init_containers() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("init");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: shared}
spec:
  containers:
  - name: writer
    image: busybox:1.35
    command: ["sh", "-c", "echo disk > /data/x; echo mem > /mem/y; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}, {name: mem, mountPath: /mem}]
  - name: reader
    image: busybox:1.35
    command: ["sh", "-c", "until [ -f /data/x ] && [ -f /mem/y ]; do sleep 0.2; done; cat /data/x /mem/y; grep -c ' /mem tmpfs' /proc/mounts; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}, {name: mem, mountPath: /mem}]
  volumes:
  - {name: data, emptyDir: {}}
  - {name: mem, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  restartPolicy: Never
  initContainers:
  - {name: first, image: busybox:1.35, command: ["sh", "-c", "echo one > /work/log"], volumeMounts: [{name: work, mountPath: /work}]}
  - {name: second, image: busybox:1.35, command: ["sh", "-c", "echo two >> /work/log"], volumeMounts: [{name: work, mountPath: /work}]}
  containers:
  - {name: app, image: busybox:1.35, command: ["cat", "/work/log"], volumeMounts: [{name: work, mountPath: /work}]}
  volumes:
  - {name: work, emptyDir: {}}
---
apiVersion: v1
kind: Pod
metadata: {name: slow-init}
spec:
  initContainers:
  - {name: wait, image: busybox:1.35, command: ["sleep", "3600"]}
  - {name: never, image: busybox:1.35, command: ["true"]}
  containers:
  - {name: app, image: busybox:1.35, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init-fails}
spec:
  restartPolicy: Never
  initContainers:
  - {name: bad, image: busybox:1.35, command: ["sh", "-c", "exit 3"]}
  containers:
  - {name: app, image: busybox:1.35, command: ["true"]}
---
apiVersion: v1
kind: Pod
metadata: {name: init-loops}
spec:
  initContainers:
  - {name: bad, image: busybox:1.35, command: ["sh", "-c", "exit 1"]}
  containers:
  - {name: app, image: busybox:1.35, command: ["sleep", "3600"]}
"#,
    );
    // emptyDir: one container writes, the other reads; the memory one is a tmpfs.
    let shared = eventually(Duration::from_secs(60), || {
        logs_so_far(&s, &ns, &["shared", "-c", "reader"]) == "disk\nmem\n1\n"
    });
    assert!(shared, "{}", describe(&s, &ns, "shared"));
    // Deleting the pod unmounts its memory emptyDir and removes its directory.
    let uid = jsonpath(&s, &ns, "pod/shared", "{.metadata.uid}");
    let pod_dir = s.data_dir().join("kubelet/pods").join(&uid);
    let mounted = |dir: &std::path::Path| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .any(|p| std::path::Path::new(p).starts_with(dir))
    };
    assert!(
        mounted(&pod_dir),
        "the memory emptyDir is a tmpfs on the host"
    );
    s.kubectl_ok(&[
        "-n",
        &ns,
        "delete",
        "pod",
        "shared",
        "--grace-period=1",
        "--timeout=60s",
    ]);
    assert!(
        eventually(Duration::from_secs(30), || !pod_dir.exists()
            && !mounted(&pod_dir)),
        "{} remains (or stays mounted)",
        pod_dir.display()
    );

    // Init containers run in order before the app, which reads what they wrote.
    wait_phase(&s, &ns, "ordered", "Succeeded");
    assert_eq!(logs(&s, &ns, &["ordered"]), "one\ntwo\n");
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/ordered",
            "{.status.initContainerStatuses[*].state.terminated.reason}"
        ),
        "Completed Completed"
    );
    assert_eq!(status_column(&s, &ns, "ordered"), "Completed");

    // A running first init container: Init:0/2, Initialized False, the app not started.
    let init = eventually(Duration::from_secs(60), || {
        status_column(&s, &ns, "slow-init") == "Init:0/2"
            && !jsonpath(
                &s,
                &ns,
                "pod/slow-init",
                "{.status.initContainerStatuses[0].state.running.startedAt}",
            )
            .is_empty()
    });
    assert!(init, "{}", describe(&s, &ns, "slow-init"));
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/slow-init",
            "{.status.conditions[?(@.type==\"Initialized\")].status}"
        ),
        "False"
    );
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/slow-init",
            "{.status.containerStatuses[0].state.waiting.reason}"
        ),
        "PodInitializing"
    );

    // A failing init container under restartPolicy Never fails the pod: Init:Error.
    wait_phase(&s, &ns, "init-fails", "Failed");
    assert_eq!(status_column(&s, &ns, "init-fails"), "Init:Error");
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/init-fails",
            "{.status.initContainerStatuses[0].state.terminated.exitCode}"
        ),
        "3"
    );

    // Otherwise it is restarted with back-off: Init:CrashLoopBackOff, the pod stays Pending.
    let looping = eventually(Duration::from_secs(90), || {
        status_column(&s, &ns, "init-loops") == "Init:CrashLoopBackOff"
    });
    assert!(looping, "{}", describe(&s, &ns, "init-loops"));
    assert_eq!(
        jsonpath(&s, &ns, "pod/init-loops", "{.status.phase}"),
        "Pending"
    );
    let restarts: i32 = jsonpath(
        &s,
        &ns,
        "pod/init-loops",
        "{.status.initContainerStatuses[0].restartCount}",
    )
    .parse()
    .unwrap_or(0);
    assert!(restarts >= 1, "{}", describe(&s, &ns, "init-loops"));
}

#[test]
fn environment_from_every_source() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("env");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(&s, &ns, OBJECTS);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: env, labels: {app: web}, annotations: {note: hi}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "echo '$(GREETING) $$HOME'; env | grep -E '^(POD|NS|UID|APP|NOTE|NODE|SA|IP|IPS|HOSTIP|KUBERNETES_SERVICE_HOST|KUBERNETES_SERVICE_PORT|MEM|CPU|B|USER|CFG_[a-z]+|SEC_[a-z]+)=' | sort"]
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    envFrom:
    - {configMapRef: {name: cfg}, prefix: CFG_}
    - {secretRef: {name: sec}, prefix: SEC_}
    - {configMapRef: {name: not-there, optional: true}}
    env:
    - {name: WHO, value: world}
    - {name: GREETING, value: "hello $(WHO)"}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
    - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
    - {name: NOTE, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['note']"}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
    - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: IPS, valueFrom: {fieldRef: {fieldPath: status.podIPs}}}
    - {name: HOSTIP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
    - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    - {name: B, valueFrom: {configMapKeyRef: {name: cfg, key: b}}}
    - {name: USER, valueFrom: {secretKeyRef: {name: sec, key: user}}}
    - {name: MISSING, valueFrom: {secretKeyRef: {name: sec, key: nope, optional: true}}}
---
apiVersion: v1
kind: Pod
metadata: {name: bad-env}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["true"]
    env:
    - {name: X, valueFrom: {configMapKeyRef: {name: cfg, key: nope}}}
"#,
    );
    wait_phase(&s, &ns, "env", "Succeeded");
    let uid = jsonpath(&s, &ns, "pod/env", "{.metadata.uid}");
    let ip = jsonpath(&s, &ns, "pod/env", "{.status.podIP}");
    let host_ip = jsonpath(&s, &ns, "pod/env", "{.status.hostIP}");
    let node = jsonpath(&s, &ns, "pod/env", "{.spec.nodeName}");
    let api_ip = jsonpath(&s, "default", "svc/kubernetes", "{.spec.clusterIP}");
    let api_port = jsonpath(&s, "default", "svc/kubernetes", "{.spec.ports[0].port}");
    let expected = format!(
        "hello world $HOME\nAPP=web\nB=hello\nCFG_a=1\nCFG_b=hello\nCPU=500\nHOSTIP={host_ip}\nIP={ip}\nIPS={ip}\nKUBERNETES_SERVICE_HOST={api_ip}\nKUBERNETES_SERVICE_PORT={api_port}\nMEM=64\nNODE={node}\nNOTE=hi\nNS={ns}\nPOD=env\nSA=default\nSEC_pass=s3cret\nSEC_user=admin\nUID={uid}\nUSER=admin\n"
    );
    assert_eq!(logs(&s, &ns, &["env"]), expected);

    // A missing key: CreateContainerConfigError with upstream's message, as kubectl shows it.
    let waiting = eventually(Duration::from_secs(30), || {
        status_column(&s, &ns, "bad-env") == "CreateContainerConfigError"
    });
    assert!(waiting, "{}", describe(&s, &ns, "bad-env"));
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/bad-env",
            "{.status.containerStatuses[0].state.waiting.message}"
        ),
        format!("couldn't find key nope in ConfigMap {ns}/cfg")
    );
}

#[test]
fn hosts_file_and_resolv_conf() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("dns");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: named}
spec:
  restartPolicy: Never
  hostname: web
  subdomain: backend
  hostAliases:
  - {ip: 10.1.2.3, hostnames: [foo.local, bar.local]}
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; hostname"]}
---
apiVersion: v1
kind: Pod
metadata: {name: custom-dns}
spec:
  restartPolicy: Never
  dnsPolicy: "None"
  dnsConfig:
    nameservers: [9.9.9.9]
    searches: [a.example]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  containers:
  - {name: c, image: busybox:1.35, command: ["cat", "/etc/resolv.conf"]}
---
apiVersion: v1
kind: Pod
metadata: {name: host-net}
spec:
  restartPolicy: Never
  hostNetwork: true
  hostAliases:
  - {ip: 10.9.9.9, hostnames: [alias.local]}
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "head -1 /etc/hosts; tail -2 /etc/hosts"]}
---
apiVersion: v1
kind: Pod
metadata: {name: host-dns}
spec:
  restartPolicy: Never
  dnsPolicy: Default
  containers:
  - {name: c, image: busybox:1.35, command: ["cat", "/etc/resolv.conf"]}
"#,
    );
    wait_phase(&s, &ns, "named", "Succeeded");
    let ip = jsonpath(&s, &ns, "pod/named", "{.status.podIP}");
    let expected = format!(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n{ip}\tweb.backend.{ns}.svc.cluster.local\tweb\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n---\n"
    );
    let out = logs(&s, &ns, &["named"]);
    let (hosts, rest) = out.split_at(out.find("---\n").map(|i| i + 4).unwrap_or(0));
    assert_eq!(hosts, expected);
    let (resolv, hostname) = rest.split_once("---\n").unwrap_or_default();
    let host_search: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("search "))
        .flat_map(|l| l.split_whitespace().map(str::to_string))
        .collect();
    let mut search = format!("search {ns}.svc.cluster.local svc.cluster.local cluster.local");
    for d in host_search {
        search.push(' ');
        search.push_str(&d);
    }
    assert_eq!(
        resolv,
        format!("{search}\nnameserver 10.43.0.10\noptions ndots:5\n")
    );
    assert_eq!(hostname, "web\n");

    wait_phase(&s, &ns, "custom-dns", "Succeeded");
    assert_eq!(
        logs(&s, &ns, &["custom-dns"]),
        "search a.example\nnameserver 9.9.9.9\noptions ndots:2 edns0\n"
    );
    wait_phase(&s, &ns, "host-net", "Succeeded");
    assert_eq!(
        logs(&s, &ns, &["host-net"]),
        "# Kubernetes-managed hosts file (host network).\n# Entries added by HostAliases.\n10.9.9.9\talias.local\n"
    );
    wait_phase(&s, &ns, "host-dns", "Succeeded");
    let host_nameservers: Vec<String> = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("nameserver "))
        .map(str::to_string)
        .collect();
    let got = logs(&s, &ns, &["host-dns"]);
    let got_nameservers: Vec<&str> = got
        .lines()
        .filter(|l| l.starts_with("nameserver "))
        .collect();
    assert_eq!(got_nameservers, host_nameservers, "{got}");
}

#[test]
fn persistent_volume_claims_with_local_path() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("pvc");
    s.kubectl_ok(&["create", "ns", &ns]);
    let classes = eventually(Duration::from_secs(30), || {
        String::from_utf8_lossy(&s.kubectl(&["get", "storageclass"]).stdout)
            .contains("local-path (default)")
    });
    assert!(classes, "no default local-path StorageClass:\n{}", s.log());
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 64Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.35, command: ["sh", "-c", "echo kept > /data/f"], volumeMounts: [{name: d, mountPath: /data}]}
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: data}}
"#,
    );
    wait_phase(&s, &ns, "writer", "Succeeded");
    assert_eq!(jsonpath(&s, &ns, "pvc/data", "{.status.phase}"), "Bound");
    let uid = jsonpath(&s, &ns, "pvc/data", "{.metadata.uid}");
    let pv = format!("pvc-{uid}");
    assert_eq!(jsonpath(&s, &ns, "pvc/data", "{.spec.volumeName}"), pv);
    let row = s.kubectl_ok(&["get", "pv", &pv, "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cols[..7],
        [
            pv.as_str(),
            "64Mi",
            "RWO",
            "Delete",
            "Bound",
            &format!("{ns}/data"),
            "local-path"
        ],
        "{row}"
    );
    let dir = s.data_dir().join("storage").join(format!("{pv}_{ns}_data"));
    assert_eq!(
        std::fs::read_to_string(dir.join("f")).unwrap_or_default(),
        "kept\n"
    );

    // Another pod sees what the first wrote.
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: busybox:1.35, command: ["cat", "/data/f"], volumeMounts: [{name: d, mountPath: /data}]}
  volumes:
  - {name: d, persistentVolumeClaim: {claimName: data}}
"#,
    );
    wait_phase(&s, &ns, "reader", "Succeeded");
    assert_eq!(logs(&s, &ns, &["reader"]), "kept\n");

    // Deleting the claim deletes the volume and its directory (reclaim policy Delete).
    s.kubectl_ok(&[
        "-n",
        &ns,
        "delete",
        "pod",
        "writer",
        "reader",
        "--timeout=60s",
    ]);
    s.kubectl_ok(&["-n", &ns, "delete", "pvc", "data", "--timeout=60s"]);
    let gone = eventually(Duration::from_secs(40), || {
        !s.kubectl(&["get", "pv", &pv]).status.success() && !dir.exists()
    });
    assert!(gone, "volume {pv} or {} remains", dir.display());
}
