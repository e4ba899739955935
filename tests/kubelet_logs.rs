//! Logs and restarts on the Docker kubelet, as a user sees them with kubectl: `kubectl logs -f`
//! of a counting pod streams new lines as they are written; a crashing container goes to
//! CrashLoopBackOff with a growing back-off, and `kubectl logs --previous` shows the crashed run.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::docker::{describe, docker_env, jsonpath, kubelet_server, status_column, wait_phase};
use common::{eventually, unique_ns};

#[test]
fn logs_follow_a_counting_pod() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("logsf");
    s.kubectl_ok(&["create", "ns", &ns]);
    let started = Instant::now();
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "count",
        "--image=busybox:1.35",
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo $i; i=$((i+1)); sleep 0.2; done",
    ]);
    wait_phase(&s, &ns, "count", "Running");
    eprintln!("kubectl run → Running in {:?}", started.elapsed());

    let mut follow = Command::new("kubectl")
        .args(["-n", &ns, "logs", "-f", "count"])
        .env("KUBECONFIG", s.kubeconfig())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let begin = Instant::now();
    let mut lines: Vec<(Instant, String)> = Vec::new();
    while begin.elapsed() < Duration::from_secs(4) {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(l);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    let numbers: Vec<u64> = lines
        .iter()
        .map(|(_, l)| l.trim().parse().expect("a number per line"))
        .collect();
    assert!(!numbers.is_empty(), "nothing streamed");
    assert_eq!(numbers[0], 0, "the log starts at the first line");
    for w in numbers.windows(2) {
        assert_eq!(w[1], w[0] + 1, "consecutive lines: {numbers:?}");
    }
    // Lines keep arriving while following (not only the backlog at the start).
    let late = lines
        .iter()
        .filter(|(at, _)| at.duration_since(begin) > Duration::from_secs(2))
        .count();
    assert!(late >= 5, "only {late} lines in the last 2 s: {numbers:?}");
}

#[test]
fn crash_loop_back_off_grows_and_previous_logs() {
    if !docker_env() {
        return;
    }
    let (_cleanup, s) = kubelet_server();
    let ns = unique_ns("crash");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "crash",
        "--image=busybox:1.35",
        "--",
        "sh",
        "-c",
        "echo run at $(date +%s); exit 1",
    ]);
    // Times at which the restart count reached 1, 2 and 3.
    let mut seen: Vec<(u32, Instant)> = Vec::new();
    let mut back_off_status = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < 3 && Instant::now() < deadline {
        let count: u32 = jsonpath(
            &s,
            &ns,
            "pod/crash",
            "{.status.containerStatuses[0].restartCount}",
        )
        .parse()
        .unwrap_or(0);
        if count > seen.last().map_or(0, |(c, _)| *c) {
            seen.push((count, Instant::now()));
        }
        back_off_status |= status_column(&s, &ns, "crash") == "CrashLoopBackOff";
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        seen.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        [1, 2, 3],
        "{}",
        describe(&s, &ns, "crash")
    );
    assert!(back_off_status, "never shown as CrashLoopBackOff");
    let first = seen[1].1 - seen[0].1;
    let second = seen[2].1 - seen[1].1;
    eprintln!("back-off between restarts: {first:?}, then {second:?}");
    // Upstream's back-off doubles: 10 s, 20 s, 40 s …
    assert!(
        second > first + Duration::from_secs(5),
        "back-off did not grow: {first:?} then {second:?}"
    );
    let events = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=crash",
    ]);
    assert!(
        events.contains("Back-off restarting failed container crash in pod crash"),
        "{events}"
    );

    // The previous instance's log is the crashed run; the current one is a later run.
    let ok = eventually(Duration::from_secs(30), || {
        let out = s.kubectl(&["-n", &ns, "logs", "crash", "--previous"]);
        String::from_utf8_lossy(&out.stdout).starts_with("run at ")
    });
    assert!(ok, "{}", describe(&s, &ns, "crash"));
    let last = jsonpath(
        &s,
        &ns,
        "pod/crash",
        "{.status.containerStatuses[0].lastState.terminated.exitCode}",
    );
    assert_eq!(last, "1");
}
