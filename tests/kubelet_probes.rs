//! The kubelet on Docker with probes, resources, securityContext and termination messages: a
//! real `skiff server` with its kubelet, real Docker, the real kubectl.

mod common;

use std::time::{Duration, Instant};

use common::docker::{apply, describe, docker_env, jsonpath, kubelet_server, wait_phase};
use common::{eventually, unique_ns, Server};

/// The READY column of `kubectl get pod`.
fn ready_column(s: &Server, ns: &str, pod: &str) -> String {
    let out = s.kubectl(&["-n", ns, "get", "pod", pod, "--no-headers"]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// The addresses of ready endpoints in the Service's EndpointSlices.
fn ready_endpoints(s: &Server, ns: &str, service: &str) -> String {
    let out = s.kubectl(&[
        "-n",
        ns,
        "get",
        "endpointslices",
        "-l",
        &format!("kubernetes.io/service-name={service}"),
        "-o",
        "jsonpath={.items[*].endpoints[?(@.conditions.ready==true)].addresses[*]}",
    ]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn restart_count(s: &Server, ns: &str, pod: &str) -> i64 {
    jsonpath(
        s,
        ns,
        &format!("pod/{pod}"),
        "{.status.containerStatuses[0].restartCount}",
    )
    .parse()
    .unwrap_or(0)
}

#[test]
fn liveness_readiness_and_http_probes() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("probe");
    s.kubectl_ok(&["create", "ns", &ns]);
    // The readiness file and the web page live on the host (hostPath), so the test toggles them.
    let share = s.data_dir().join("probe-share");
    std::fs::create_dir_all(&share).unwrap();
    std::fs::write(share.join("healthz"), "ok\n").unwrap();
    apply(
        &s,
        &ns,
        &r#"
apiVersion: v1
kind: Pod
metadata: {name: live}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "touch /tmp/healthy; sleep 4; rm /tmp/healthy; sleep 600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: ready, labels: {app: rd}}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
    readinessProbe:
      exec: {command: ["cat", "/share/ready"]}
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts: [{name: share, mountPath: /share}]
  volumes: [{name: share, hostPath: {path: SHARE}}]
---
apiVersion: v1
kind: Service
metadata: {name: rd}
spec:
  selector: {app: rd}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/share"]
    ports: [{name: http, containerPort: 8080}]
    volumeMounts: [{name: share, mountPath: /share}]
    livenessProbe:
      httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: "1"}]}
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
  volumes: [{name: share, hostPath: {path: SHARE}}]
"#
        .replace("SHARE", &share.to_string_lossy()),
    );

    // Readiness: running but not ready, absent from the ready endpoints; ready once the file
    // exists, and unready again when it goes.
    wait_phase(&s, &ns, "ready", "Running");
    let ip = jsonpath(&s, &ns, "pod/ready", "{.status.podIP}");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        ready_column(&s, &ns, "ready"),
        "0/1",
        "{}",
        describe(&s, &ns, "ready")
    );
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/ready",
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "False"
    );
    assert_eq!(ready_endpoints(&s, &ns, "rd"), "");
    std::fs::write(share.join("ready"), "").unwrap();
    let started = Instant::now();
    let ready = eventually(Duration::from_secs(30), || {
        ready_column(&s, &ns, "ready") == "1/1" && ready_endpoints(&s, &ns, "rd") == ip
    });
    assert!(ready, "pod never ready: {}", describe(&s, &ns, "ready"));
    eprintln!("readiness file → ready endpoint: {:?}", started.elapsed());
    std::fs::remove_file(share.join("ready")).unwrap();
    let started = Instant::now();
    let unready = eventually(Duration::from_secs(30), || {
        ready_column(&s, &ns, "ready") == "0/1" && ready_endpoints(&s, &ns, "rd").is_empty()
    });
    assert!(unready, "pod stayed ready: {}", describe(&s, &ns, "ready"));
    eprintln!(
        "readiness file gone → endpoint not ready: {:?}",
        started.elapsed()
    );

    // Liveness (exec): the container is restarted, and describe shows why.
    let restarted = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "live") >= 1
    });
    assert!(restarted, "never restarted: {}", describe(&s, &ns, "live"));
    let text = s.kubectl_ok(&["-n", &ns, "describe", "pod", "live"]);
    assert!(
        text.contains("Liveness probe failed: cat: can't open '/tmp/healthy'"),
        "{text}"
    );
    assert!(
        text.contains("Container c failed liveness probe, will be restarted"),
        "{text}"
    );

    // httpGet liveness against busybox httpd (named port, headers) keeps passing; ready by
    // the TCP probe.
    wait_phase(&s, &ns, "web", "Running");
    let web_ready = eventually(Duration::from_secs(30), || {
        ready_column(&s, &ns, "web") == "1/1"
    });
    assert!(web_ready, "{}", describe(&s, &ns, "web"));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(
        restart_count(&s, &ns, "web"),
        0,
        "{}",
        describe(&s, &ns, "web")
    );
    // Remove the page: the HTTP probe fails (404) and the container is restarted.
    std::fs::remove_file(share.join("healthz")).unwrap();
    let restarted = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "web") >= 1
    });
    assert!(restarted, "{}", describe(&s, &ns, "web"));
    let text = s.kubectl_ok(&["-n", &ns, "describe", "pod", "web"]);
    assert!(
        text.contains("Liveness probe failed: HTTP probe failed with statuscode: 404"),
        "{text}"
    );
}

#[test]
fn resources_security_context_and_termination_messages() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("sec");
    s.kubectl_ok(&["create", "ns", &ns]);
    apply(
        &s,
        &ns,
        r#"
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "head -c 64m /dev/zero | tail"]
    resources:
      limits: {memory: 16Mi, cpu: 500m}
---
apiVersion: v1
kind: Pod
metadata: {name: hog-again}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "a=x; while true; do a=$a$a; done"]
    resources:
      limits: {memory: 16Mi}
---
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000]}
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "id -u; id -g; id -G"]
---
apiVersion: v1
kind: Pod
metadata: {name: rootfs}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "touch /x 2>/dev/null && echo writable || echo read-only; touch /tmp/y 2>/dev/null && echo tmp-writable || echo tmp-read-only"]
    securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
---
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "echo -n 'all done' > /dev/termination-log; exit 3"]
  - name: fallback
    image: busybox:1.35
    command: ["sh", "-c", "echo from-logs; exit 1"]
    terminationMessagePolicy: FallbackToLogsOnError
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
"#,
    );

    // Memory limit: the OOM killer ends it, reported as OOMKilled.
    wait_phase(&s, &ns, "hog", "Failed");
    assert_eq!(
        jsonpath(
            &s,
            &ns,
            "pod/hog",
            "{.status.containerStatuses[0].state.terminated.reason}"
        ),
        "OOMKilled",
        "{}",
        describe(&s, &ns, "hog")
    );

    // Under restartPolicy Always it restarts, the OOM kill in lastState.
    let again = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "hog-again") >= 1
            && jsonpath(
                &s,
                &ns,
                "pod/hog-again",
                "{.status.containerStatuses[0].lastState.terminated.reason}",
            ) == "OOMKilled"
    });
    assert!(again, "{}", describe(&s, &ns, "hog-again"));

    // runAsUser / runAsGroup / supplementalGroups.
    wait_phase(&s, &ns, "user", "Succeeded");
    let out = s.kubectl_ok(&["-n", &ns, "logs", "user"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], &["1000", "3000"], "{out}");
    assert!(lines[2].split(' ').any(|g| g == "4000"), "{out}");

    // readOnlyRootFilesystem: / is not writable.
    wait_phase(&s, &ns, "rootfs", "Succeeded");
    assert_eq!(
        s.kubectl_ok(&["-n", &ns, "logs", "rootfs"]),
        "read-only\ntmp-read-only\n"
    );

    // terminationMessagePath content, and the log tail with FallbackToLogsOnError.
    wait_phase(&s, &ns, "msg", "Failed");
    let message = |c: &str| {
        jsonpath(
            &s,
            &ns,
            "pod/msg",
            &format!("{{.status.containerStatuses[?(@.name==\"{c}\")].state.terminated.message}}"),
        )
    };
    assert_eq!(message("c"), "all done", "{}", describe(&s, &ns, "msg"));
    assert_eq!(message("fallback"), "from-logs");

    // runAsNonRoot with an image running as root: CreateContainerConfigError.
    let waiting = eventually(Duration::from_secs(60), || {
        jsonpath(
            &s,
            &ns,
            "pod/nonroot",
            "{.status.containerStatuses[0].state.waiting.reason}",
        ) == "CreateContainerConfigError"
    });
    assert!(waiting, "{}", describe(&s, &ns, "nonroot"));
    assert!(jsonpath(
        &s,
        &ns,
        "pod/nonroot",
        "{.status.containerStatuses[0].state.waiting.message}"
    )
    .starts_with("container has runAsNonRoot and image will run as root"));
}

#[test]
fn startup_probes_hooks_and_docker_limits() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("hooks");
    s.kubectl_ok(&["create", "ns", &ns]);
    let share = s.data_dir().join("hook-share");
    std::fs::create_dir_all(&share).unwrap();
    apply(
        &s,
        &ns,
        &r#"
apiVersion: v1
kind: Pod
metadata: {name: slow}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sh", "-c", "sleep 6; touch /tmp/started; sleep 600"]
    startupProbe:
      exec: {command: ["cat", "/tmp/started"]}
      periodSeconds: 1
      failureThreshold: 30
    livenessProbe:
      exec: {command: ["cat", "/tmp/started"]}
      periodSeconds: 1
      failureThreshold: 1
---
apiVersion: v1
kind: Pod
metadata: {name: delayed}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
    livenessProbe:
      exec: {command: ["false"]}
      initialDelaySeconds: 20
      periodSeconds: 1
      failureThreshold: 1
    readinessProbe:
      exec: {command: ["sleep", "3"]}
      timeoutSeconds: 1
      periodSeconds: 1
---
apiVersion: v1
kind: Pod
metadata: {name: never-starts}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
    startupProbe:
      exec: {command: ["false"]}
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 5
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
    resources:
      limits: {cpu: 250m, memory: 32Mi}
      requests: {cpu: 100m}
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "echo started > /share/post"]}}
      preStop: {exec: {command: ["sh", "-c", "echo stopping > /share/pre"]}}
    volumeMounts: [{name: share, mountPath: /share}]
  volumes: [{name: share, hostPath: {path: SHARE}}]
---
apiVersion: v1
kind: Pod
metadata: {name: bad-hook}
spec:
  containers:
  - name: c
    image: busybox:1.35
    command: ["sleep", "600"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "exit 7"]}}
"#
        .replace("SHARE", &share.to_string_lossy()),
    );

    // The startup probe holds liveness and readiness back: not started, not ready, not killed.
    wait_phase(&s, &ns, "slow", "Running");
    let started =
        |s: &Server| jsonpath(s, &ns, "pod/slow", "{.status.containerStatuses[0].started}");
    assert_eq!(started(&s), "false", "{}", describe(&s, &ns, "slow"));
    assert_eq!(ready_column(&s, &ns, "slow"), "0/1");
    let up = eventually(Duration::from_secs(40), || {
        started(&s) == "true" && ready_column(&s, &ns, "slow") == "1/1"
    });
    assert!(up, "{}", describe(&s, &ns, "slow"));
    assert_eq!(
        restart_count(&s, &ns, "slow"),
        0,
        "{}",
        describe(&s, &ns, "slow")
    );

    // initialDelaySeconds holds the liveness probe back; a probe slower than timeoutSeconds
    // fails.
    assert_eq!(
        restart_count(&s, &ns, "delayed"),
        0,
        "{}",
        describe(&s, &ns, "delayed")
    );
    assert_eq!(ready_column(&s, &ns, "delayed"), "0/1");
    let text = s.kubectl_ok(&["-n", &ns, "describe", "pod", "delayed"]);
    assert!(
        text.contains("Readiness probe failed: command \"sleep 3\" timed out"),
        "{text}"
    );
    let restarted = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "delayed") >= 1
    });
    assert!(restarted, "{}", describe(&s, &ns, "delayed"));

    // A startup probe that never passes restarts the container.
    let restarted = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "never-starts") >= 1
    });
    assert!(restarted, "{}", describe(&s, &ns, "never-starts"));
    let text = s.kubectl_ok(&["-n", &ns, "describe", "pod", "never-starts"]);
    assert!(text.contains("Startup probe failed"), "{text}");
    assert!(
        text.contains("Container c failed startup probe, will be restarted"),
        "{text}"
    );

    // postStart ran; resources reached Docker.
    wait_phase(&s, &ns, "hooks", "Running");
    assert_eq!(
        std::fs::read_to_string(share.join("post")).unwrap_or_default(),
        "started\n"
    );
    let id = common::docker::docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=skiff.io/pod-namespace={ns}"),
        "--filter",
        "label=skiff.io/pod-name=hooks",
        "--filter",
        "label=skiff.io/container=c",
    ]);
    let limits = common::docker::docker(&[
        "inspect",
        "-f",
        "{{.HostConfig.CpuShares}} {{.HostConfig.CpuQuota}} {{.HostConfig.CpuPeriod}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
        id.trim(),
    ]);
    assert_eq!(limits.trim(), "102 25000 100000 33554432 33554432");

    // A failing postStart hook kills the container, with FailedPostStartHook.
    let failed = eventually(Duration::from_secs(60), || {
        restart_count(&s, &ns, "bad-hook") >= 1
    });
    assert!(failed, "{}", describe(&s, &ns, "bad-hook"));
    let text = s.kubectl_ok(&["-n", &ns, "describe", "pod", "bad-hook"]);
    assert!(text.contains("FailedPostStartHook"), "{text}");
    assert!(text.contains("exited with 7"), "{text}");

    // preStop runs when the pod is deleted.
    s.kubectl_ok(&["-n", &ns, "delete", "pod", "hooks", "--timeout=60s"]);
    assert_eq!(
        std::fs::read_to_string(share.join("pre")).unwrap_or_default(),
        "stopping\n"
    );
}
