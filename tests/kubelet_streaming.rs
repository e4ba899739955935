//! `kubectl exec`, `attach`, `cp` and `port-forward` against pods run by the kubelet on Docker:
//! a real `skiff server` with its kubelet, real Docker (`scripts/docker-env`) and the real
//! kubectl, over WebSockets (kubectl's default) and over SPDY (kubectl's fallback).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::docker::{docker_env, kubelet_server, wait_phase, Cleanup};
use common::{eventually, unique_ns, Server};

/// The tests share the machine's node name and Docker: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The cleanup of a server's containers, the server with the kubelet (its node Ready) and a
/// fresh namespace. Bind them in this order: the server must stop before its containers are
/// removed, or its kubelet recreates them.
fn cluster() -> (Cleanup, Server, String) {
    let (cleanup, s) = kubelet_server();
    let ns = unique_ns("stream");
    s.kubectl_ok(&["create", "ns", &ns]);
    (cleanup, s, ns)
}

/// kubectl with extra environment, stdin, and a hard time limit (a hang fails the test).
fn kubectl_env(
    s: &Server,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&[u8]>,
    secs: u32,
) -> Output {
    use std::io::Write;
    let mut cmd = Command::new("timeout");
    cmd.arg(secs.to_string())
        .arg("kubectl")
        .args(args)
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.data_dir())
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn kubectl");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input).expect("write stdin");
    }
    child.wait_with_output().expect("kubectl output")
}

/// tmux on its own server (socket `name`): sessions of other tests and users never meet it,
/// and its end (`kill-server`) cannot race another test's start.
fn tmux(name: &str) -> Command {
    let mut cmd = Command::new("tmux");
    cmd.args(["-L", name]);
    cmd
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bare WebSocket client (Python's standard library only): connects to the API with the
/// admin certificate, asks for one subprotocol, prints `protocol <p>` and then each message as
/// `message <channel> <text>`. Arguments: port, path, subprotocol, CA, cert, key.
const WS_CLIENT: &str = r#"
import base64, os, socket, ssl, sys
port, path, proto, ca, cert, key = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))), server_hostname="127.0.0.1")
key64 = base64.b64encode(os.urandom(16)).decode()
sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key64}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {proto}\r\n\r\n").encode())
f = sock.makefile("rb")
status = f.readline().decode()
headers = {}
while True:
    line = f.readline().decode().strip()
    if not line:
        break
    k, _, v = line.partition(":")
    headers[k.strip().lower()] = v.strip()
if " 101 " not in status:
    sys.exit("no upgrade: " + status)
print("protocol", headers.get("sec-websocket-protocol"))
while True:
    head = f.read(2)
    if len(head) < 2:
        break
    opcode, n = head[0] & 15, head[1] & 127
    if n == 126:
        n = int.from_bytes(f.read(2), "big")
    elif n == 127:
        n = int.from_bytes(f.read(8), "big")
    data = f.read(n)
    if opcode == 8:
        break
    if opcode == 2 and data:
        print("message", data[0], data[1:].decode(errors="replace").strip())
"#;

const WEBSOCKETS: &[(&str, &str)] = &[];
const SPDY: &[(&str, &str)] = &[
    ("KUBECTL_REMOTE_COMMAND_WEBSOCKETS", "false"),
    ("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false"),
];

#[test]
fn exec_and_cp() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_env() {
        return;
    }
    let (_cleanup, s, ns) = cluster();
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "b",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sleep",
        "3600",
    ]);
    wait_phase(&s, &ns, "b", "Running");

    for (transport, env) in [("websockets", WEBSOCKETS), ("spdy", SPDY)] {
        // The command runs in the pod: its hostname is the pod's name.
        let out = kubectl_env(
            &s,
            env,
            &["-n", &ns, "exec", "b", "--", "hostname"],
            None,
            60,
        );
        assert!(out.status.success(), "{transport}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "b\n", "{transport}");

        // The exit code comes back: kubectl exits with it and says so.
        let out = kubectl_env(
            &s,
            env,
            &[
                "-n",
                &ns,
                "exec",
                "b",
                "--",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ],
            None,
            60,
        );
        assert_eq!(
            out.status.code(),
            Some(3),
            "{transport}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "out\n", "{transport}");
        let err = text(&out.stderr);
        assert!(err.contains("err\n"), "{transport}: {err}");
        assert!(
            err.contains("command terminated with exit code 3"),
            "{transport}: {err}"
        );

        // Standard input reaches the command, and its end ends `cat`.
        let out = kubectl_env(
            &s,
            env,
            &["-n", &ns, "exec", "-i", "b", "--", "cat"],
            Some(b"hi\n"),
            60,
        );
        assert!(out.status.success(), "{transport}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hi\n", "{transport}");

        // With -t the command gets a terminal (kubectl needs one itself: `script` gives it).
        let cmdline = format!("kubectl -n {ns} exec -it b -- tty");
        let kubeconfig = s.kubeconfig();
        let out = Command::new("timeout")
            .args(["60", "script", "-qec", &cmdline, "/dev/null"])
            .env("KUBECONFIG", &kubeconfig)
            .env("HOME", s.data_dir())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("script");
        let shown = text(&out.stdout);
        assert!(out.status.success(), "{transport}: {shown}");
        assert!(shown.contains("/dev/pts/"), "{transport}: {shown:?}");
    }

    // The terminal size is passed on, and so are later changes (tmux drives the terminal; the
    // command waits a moment first: the process starts before kubectl's first size arrives).
    for (transport, env) in [("websockets", WEBSOCKETS), ("spdy", SPDY)] {
        let session = format!("skiff-{ns}-{transport}");
        let vars: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let cmdline = format!(
            "{vars}KUBECONFIG={} HOME={} kubectl -n {ns} exec -it b -- sh -c 'sleep 1; stty size; sleep 3; stty size; sleep 600'",
            s.kubeconfig().display(),
            s.data_dir().display()
        );
        let started = tmux(&session)
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "100",
                "-y",
                "30",
                &cmdline,
            ])
            .status()
            .expect("tmux");
        assert!(started.success());
        let pane = || {
            tmux(&session)
                .args(["capture-pane", "-p", "-t", &session])
                .output()
                .map(|o| text(&o.stdout))
                .unwrap_or_default()
        };
        let sized = eventually(Duration::from_secs(30), || pane().contains("30 100"));
        let _ = tmux(&session)
            .args(["resize-window", "-t", &session, "-x", "120", "-y", "40"])
            .status();
        let resized = eventually(Duration::from_secs(30), || pane().contains("40 120"));
        let shown = pane();
        let _ = tmux(&session).args(["kill-server"]).status();
        assert!(
            sized,
            "{transport}: terminal size not seen in the pod: {shown:?}"
        );
        assert!(
            resized,
            "{transport}: new terminal size not seen in the pod: {shown:?}"
        );
    }

    // kubectl cp both ways (tar over exec), contents compared.
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("in.txt");
    let content: String = (0..5000)
        .map(|i| format!("line {i} of the upload\n"))
        .collect();
    std::fs::write(&local, &content).expect("write local file");
    let dest = format!("{ns}/b:/tmp/in.txt");
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["cp", local.to_str().expect("path"), &dest],
        None,
        60,
    );
    assert!(out.status.success(), "cp to pod: {}", text(&out.stderr));
    let inside = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "exec", "b", "--", "cat", "/tmp/in.txt"],
        None,
        60,
    );
    assert_eq!(text(&inside.stdout), content, "uploaded file differs");

    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &[
            "-n",
            &ns,
            "exec",
            "b",
            "--",
            "sh",
            "-c",
            "seq 1 30000 > /tmp/out.txt",
        ],
        None,
        60,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let back = dir.path().join("out.txt");
    let src = format!("{ns}/b:/tmp/out.txt");
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["cp", &src, back.to_str().expect("path")],
        None,
        60,
    );
    assert!(out.status.success(), "cp from pod: {}", text(&out.stderr));
    let expected: String = (1..=30000).map(|i| format!("{i}\n")).collect();
    assert_eq!(
        std::fs::read_to_string(&back).expect("downloaded file"),
        expected,
        "downloaded file differs"
    );

    // Upstream's conformance check "Pods should support remote command execution over
    // websockets": the old `channel.k8s.io` subprotocol, every message on stdout (channel 1)
    // unless empty, and the command's output in them.
    let path = format!(
        "/api/v1/namespaces/{ns}/pods/b/exec?command=echo&command=remote%20execution%20test&stdout=1&stderr=1&container=b"
    );
    let tls = s.data_dir().join("tls");
    let out = Command::new("timeout")
        .args(["60", "python3", "-c", WS_CLIENT])
        .args([&s.port.to_string(), &path, "channel.k8s.io"])
        .arg(tls.join("ca.crt"))
        .arg(tls.join("admin.crt"))
        .arg(tls.join("admin.key"))
        .output()
        .expect("python3");
    let messages = text(&out.stdout);
    assert!(out.status.success(), "{messages}{}", text(&out.stderr));
    assert!(messages.contains("protocol channel.k8s.io"), "{messages}");
    for line in messages.lines().filter(|l| l.starts_with("message ")) {
        let channel = line.split_whitespace().nth(1).unwrap_or_default();
        assert!(
            channel == "1" || line.split_whitespace().count() == 2,
            "a non-empty message on channel {channel}: {line}"
        );
    }
    assert!(
        messages.contains("message 1 remote execution test"),
        "{messages}"
    );

    // Errors are Kubernetes errors, not hangs.
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "exec", "b", "-c", "nope", "--", "true"],
        None,
        60,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("container nope is not valid for pod b"),
        "{}",
        text(&out.stderr)
    );
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "exec", "ghost", "--", "true"],
        None,
        60,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("pods \"ghost\" not found"),
        "{}",
        text(&out.stderr)
    );
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "exec", "b", "--", "/no/such/program"],
        None,
        60,
    );
    assert_ne!(out.status.code(), Some(0));
    assert_ne!(
        out.status.code(),
        Some(124),
        "exec of a missing program hung"
    );
}

#[test]
fn attach() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_env() {
        return;
    }
    let (_cleanup, s, ns) = cluster();
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "counter",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done",
    ]);
    let manifest = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: cat, namespace: {ns}}}\nspec:\n  restartPolicy: Never\n  containers:\n  - {{name: cat, image: busybox:1.35, command: [cat], stdin: true, stdinOnce: true}}\n"
    );
    s.kubectl_stdin_ok(&["apply", "-f", "-"], &manifest);
    wait_phase(&s, &ns, "counter", "Running");
    wait_phase(&s, &ns, "cat", "Running");

    for (transport, env) in [("websockets", WEBSOCKETS), ("spdy", SPDY)] {
        // Attaching shows what the running process prints from now on (kubectl never ends by
        // itself: `timeout` stops it).
        let out = kubectl_env(&s, env, &["-n", &ns, "attach", "counter"], None, 5);
        let shown = text(&out.stdout);
        assert!(
            shown.contains("tick "),
            "{transport}: {shown:?} {}",
            text(&out.stderr)
        );
    }

    // Input goes to the process; with stdinOnce its end closes the process's stdin, `cat`
    // ends, and so does kubectl.
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "attach", "-i", "cat"],
        Some(b"hello\n"),
        60,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("hello\n"),
        "{}",
        text(&out.stdout)
    );
    let ended = eventually(Duration::from_secs(30), || {
        let out = s.kubectl(&[
            "-n",
            &ns,
            "get",
            "pod",
            "cat",
            "-o",
            "jsonpath={.status.phase}",
        ]);
        text(&out.stdout).trim() == "Succeeded"
    });
    assert!(ended, "cat did not end after its stdin was closed");

    // `kubectl run -it`: a container with stdin and a terminal, attached at once (tmux is the
    // terminal): commands typed run in the pod, at the terminal's size.
    for (transport, env) in [("websockets", WEBSOCKETS), ("spdy", SPDY)] {
        let session = format!("skiff-{ns}-run-{transport}");
        let vars: String = env.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        let cmdline = format!(
            "{vars}KUBECONFIG={} HOME={} kubectl -n {ns} run -it --rm shell-{transport} --image=busybox:1.35 --restart=Never -- sh; sleep 600",
            s.kubeconfig().display(),
            s.data_dir().display()
        );
        let started = tmux(&session)
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "100",
                "-y",
                "30",
                &cmdline,
            ])
            .status()
            .expect("tmux");
        assert!(started.success());
        let pane = || {
            tmux(&session)
                .args(["capture-pane", "-p", "-t", &session])
                .output()
                .map(|o| text(&o.stdout))
                .unwrap_or_default()
        };
        let prompt = eventually(Duration::from_secs(60), || pane().contains("/ #"));
        let _ = tmux(&session)
            .args([
                "send-keys",
                "-t",
                &session,
                "echo tty-$((6*7)); stty size",
                "Enter",
            ])
            .status();
        let answered = eventually(Duration::from_secs(20), || {
            let p = pane();
            p.contains("tty-42") && p.contains("30 100")
        });
        let _ = tmux(&session)
            .args(["send-keys", "-t", &session, "exit", "Enter"])
            .status();
        let deleted = eventually(Duration::from_secs(60), || {
            pane().contains(&format!("pod \"shell-{transport}\" deleted"))
        });
        let shown = pane();
        let _ = tmux(&session).args(["kill-server"]).status();
        assert!(prompt, "{transport}: no shell prompt: {shown:?}");
        assert!(answered, "{transport}: no answer from the shell: {shown:?}");
        assert!(
            deleted,
            "{transport}: the pod was not removed after exit: {shown:?}"
        );
    }

    // Attaching with -i to a container without stdin is refused with a message.
    let out = kubectl_env(
        &s,
        WEBSOCKETS,
        &["-n", &ns, "attach", "-i", "counter"],
        Some(b"x\n"),
        60,
    );
    assert_ne!(out.status.code(), Some(0));
    assert_ne!(out.status.code(), Some(124), "attach -i hung");
}

/// Starts `kubectl port-forward` and returns it with the local port it listens on.
fn port_forward(s: &Server, env: &[(&str, &str)], ns: &str, ports: &str) -> (Child, u16) {
    let mut child = Command::new("kubectl")
        .args(["-n", ns, "port-forward", "pod/web", ports])
        .env("KUBECONFIG", s.kubeconfig())
        .env("HOME", s.data_dir())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kubectl port-forward");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    // kubectl writes a line per connection: keep reading, or it dies of a broken pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    // "Forwarding from 127.0.0.1:41235 -> 80"
    let port = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected port-forward output {line:?}"));
    (child, port)
}

fn curl(port: u16, path: &str) -> Output {
    Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            &format!("http://127.0.0.1:{port}{path}"),
        ])
        .output()
        .expect("curl")
}

#[test]
fn port_forward_to_a_web_server() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !docker_env() {
        return;
    }
    let (_cleanup, s, ns) = cluster();
    s.kubectl_ok(&[
        "-n",
        &ns,
        "run",
        "web",
        "--image=busybox:1.35",
        "--restart=Never",
        "--",
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-web > /www/index.html && seq 1 100000 > /www/big.txt && httpd -f -p 80 -h /www",
    ]);
    wait_phase(&s, &ns, "web", "Running");
    let big: String = (1..=100000).map(|i| format!("{i}\n")).collect();

    for (transport, env) in [("websockets", WEBSOCKETS), ("spdy", SPDY)] {
        let (mut child, port) = port_forward(&s, env, &ns, ":80");
        // httpd may need a moment to listen after the container started.
        let ok = eventually(Duration::from_secs(20), || {
            text(&curl(port, "/index.html").stdout) == "hello-from-web\n"
        });
        // Several connections over the same forward, one of them large.
        let second = text(&curl(port, "/index.html").stdout);
        let large = text(&curl(port, "/big.txt").stdout);
        let _ = child.kill();
        let out = child.wait_with_output().expect("port-forward output");
        assert!(
            ok,
            "{transport}: no page; kubectl said {}",
            text(&out.stderr)
        );
        assert_eq!(second, "hello-from-web\n", "{transport}");
        assert!(
            large == big,
            "{transport}: big.txt differs ({} bytes)",
            large.len()
        );
    }

    // A port nothing listens on: the connection fails and kubectl reports why.
    let (mut child, port) = port_forward(&s, WEBSOCKETS, &ns, ":81");
    let _ = curl(port, "/");
    std::thread::sleep(Duration::from_secs(1));
    let _ = child.kill();
    let out = child.wait_with_output().expect("port-forward output");
    let err = text(&out.stderr);
    assert!(err.contains("error forwarding port 81 to pod web"), "{err}");
}
