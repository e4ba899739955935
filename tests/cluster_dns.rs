//! Cluster DNS: a real server with only its DNS component on a free port, asked with `dig` from
//! the host; forwarding to a fake upstream resolver; and, with Docker, a pod's resolv.conf and a
//! lookup from inside a pod.

mod common;

use std::net::UdpSocket;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::docker::{docker_env, kubelet_server_with, wait_phase};
use common::{eventually, unique_ns, Server};

/// What dig saw: the status (`NOERROR`, `NXDOMAIN`, …), the answer records' data and the
/// authority section's record types.
#[derive(Debug)]
struct Dig {
    status: String,
    answers: Vec<String>,
    authority: Vec<String>,
}

fn dig_at(server: &str, port: &str, name: &str, qtype: &str, extra: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{server}"))
        .args(["-p", port, name, qtype, "+time=2", "+tries=1"])
        .args(extra)
        .output()
        .expect("dig (Debian package dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("")
        .to_string();
    let section = |title: &str| -> Vec<Vec<String>> {
        text.split(&format!(";; {title} SECTION:\n"))
            .nth(1)
            .map(|s| {
                s.lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(|l| l.split_whitespace().map(str::to_string).collect())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut answers: Vec<String> = section("ANSWER")
        .iter()
        .map(|f| f.get(4..).unwrap_or_default().join(" "))
        .collect();
    answers.sort();
    let authority = section("AUTHORITY")
        .iter()
        .filter_map(|f| f.get(3).cloned())
        .collect();
    Dig {
        status,
        answers,
        authority,
    }
}

fn dns_port(s: &Server) -> String {
    s.arg("--cluster-dns-port").expect("dns port").to_string()
}

fn dig(s: &Server, name: &str, qtype: &str) -> Dig {
    dig_at("127.0.0.1", &dns_port(s), name, qtype, &[])
}

const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: front}
spec:
  clusterIP: 10.43.200.7
  ports: [{name: http, port: 80, protocol: TCP}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: None
  ports: [{name: http, port: 8080, protocol: TCP}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels: {kubernetes.io/service-name: web}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- addresses: [10.42.7.10]
  hostname: web-0
  conditions: {ready: true}
- addresses: [10.42.7.11]
  hostname: web-1
  conditions: {ready: true}
- addresses: [10.42.7.12]
  hostname: web-2
  conditions: {ready: false}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: example.org
"#;

#[test]
fn answers_from_services_and_endpoint_slices() {
    let s = Server::start_with_host_components(&["coredns"], &[]);
    let ns = unique_ns("dns");
    s.kubectl_ok(&["create", "ns", &ns]);
    s.kubectl_stdin_ok(&["-n", &ns, "apply", "-f", "-"], OBJECTS);
    let front = format!("front.{ns}.svc.cluster.local");
    assert!(
        eventually(Duration::from_secs(10), || dig(&s, &front, "A").answers
            == ["10.43.200.7"]),
        "{:?}\n{}",
        dig(&s, &front, "A"),
        s.log()
    );
    // NODATA: the name exists, no AAAA: NOERROR, empty answer, SOA in authority.
    let d = dig(&s, &front, "AAAA");
    assert_eq!(
        (d.status.as_str(), d.answers.len()),
        ("NOERROR", 0),
        "{d:?}"
    );
    assert_eq!(d.authority, ["SOA"]);
    // NXDOMAIN.
    let d = dig(&s, &format!("missing.{ns}.svc.cluster.local"), "A");
    assert_eq!(d.status, "NXDOMAIN", "{d:?}");
    assert_eq!(d.authority, ["SOA"]);
    // Headless: the ready endpoints; StatefulSet-style hostnames.
    let web = format!("web.{ns}.svc.cluster.local");
    assert_eq!(dig(&s, &web, "A").answers, ["10.42.7.10", "10.42.7.11"]);
    assert_eq!(
        dig(&s, &format!("web-0.{web}"), "A").answers,
        ["10.42.7.10"]
    );
    assert_eq!(dig(&s, &format!("web-2.{web}"), "A").status, "NXDOMAIN");
    // SRV.
    assert_eq!(
        dig(&s, &format!("_http._tcp.{front}"), "SRV").answers,
        [format!("0 100 80 {front}.")]
    );
    assert_eq!(
        dig(&s, &format!("_http._tcp.{web}"), "SRV").answers,
        [
            format!("0 50 8080 web-0.{web}."),
            format!("0 50 8080 web-1.{web}.")
        ]
    );
    // ExternalName → CNAME.
    let ext = format!("ext.{ns}.svc.cluster.local");
    assert_eq!(dig(&s, &ext, "CNAME").answers, ["example.org."]);
    // PTR for a ClusterIP and an endpoint with a hostname.
    let port = dns_port(&s);
    let ptr = |ip: &str| {
        let name = skiff::dns::index::reverse_name(&ip.parse().expect("ip"));
        dig_at("127.0.0.1", &port, &name, "PTR", &[]).answers
    };
    assert_eq!(ptr("10.43.200.7"), [format!("{front}.")]);
    assert_eq!(ptr("10.42.7.11"), [format!("web-1.{web}.")]);
    // Upper case and TCP.
    let d = dig_at("127.0.0.1", &port, &front.to_uppercase(), "A", &["+tcp"]);
    assert_eq!(d.answers, ["10.43.200.7"], "{d:?}");
    // The SOA and the schema version.
    assert_eq!(dig(&s, "cluster.local", "SOA").answers.len(), 1);
    assert_eq!(
        dig(&s, "dns-version.cluster.local", "TXT").answers,
        ["\"1.1.0\""]
    );

    // The kube-dns Service (ClusterIP --cluster-dns, no selector) and its slice to this port.
    let ip = s.kubectl_ok(&[
        "-n",
        "kube-system",
        "get",
        "svc",
        "kube-dns",
        "-o",
        "jsonpath={.spec.clusterIP} {.spec.selector}",
    ]);
    assert_eq!(ip.trim(), "10.43.0.10");
    let slice_port = s.kubectl_ok(&[
        "-n",
        "kube-system",
        "get",
        "endpointslice",
        "kube-dns-skiff",
        "-o",
        "jsonpath={.ports[0].port}",
    ]);
    assert_eq!(slice_port.trim(), port);
    let d = dig(&s, "kube-dns.kube-system.svc.cluster.local", "A");
    assert_eq!(d.answers, ["10.43.0.10"]);
}

/// Polls dig until `want` holds; returns how long it took after `start`.
fn time_until(s: &Server, name: &str, qtype: &str, want: impl Fn(&Dig) -> bool) -> Duration {
    let start = Instant::now();
    loop {
        let d = dig(s, name, qtype);
        if want(&d) {
            return start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(5), "{name}: {d:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn changes_are_visible_within_a_second() {
    let s = Server::start_with_host_components(&["coredns"], &[]);
    let ns = unique_ns("dnschg");
    s.kubectl_ok(&["create", "ns", &ns]);
    let name = format!("late.{ns}.svc.cluster.local");
    assert_eq!(dig(&s, &name, "A").status, "NXDOMAIN");
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "service",
        "clusterip",
        "late",
        "--tcp=80:80",
    ]);
    let created = time_until(&s, &name, "A", |d| d.answers.len() == 1);
    s.kubectl_ok(&["-n", &ns, "delete", "service", "late", "--wait=false"]);
    let deleted = time_until(&s, &name, "A", |d| d.status == "NXDOMAIN");
    eprintln!("created → answered in {created:?}, deleted → NXDOMAIN in {deleted:?} (after kubectl returned)");
    // kubectl itself takes a few hundred ms; the watch-driven index adds little.
    assert!(created < Duration::from_secs(1), "{created:?}");
    assert!(deleted < Duration::from_secs(1), "{deleted:?}");
}

/// A fake upstream resolver on `sock`: every A query is answered with 192.0.2.7, TTL 60.
fn fake_upstream(sock: UdpSocket, hits: Arc<AtomicUsize>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let Ok(req) = hickory_proto::op::Message::from_vec(&buf[..n]) else {
                continue;
            };
            hits.fetch_add(1, Ordering::SeqCst);
            let mut resp = hickory_proto::op::Message::response(
                req.metadata.id,
                hickory_proto::op::OpCode::Query,
            );
            resp.metadata.recursion_available = true;
            for q in &req.queries {
                resp.add_query(q.clone());
                resp.answers.push(hickory_proto::rr::Record::from_rdata(
                    q.name().clone(),
                    60,
                    hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A::new(192, 0, 2, 7)),
                ));
            }
            if let Ok(bytes) = resp.to_vec() {
                let _ = sock.send_to(&bytes, from);
            }
        }
    });
}

#[test]
fn forwards_other_names_with_a_cache() {
    // resolv.conf has no port: the fake upstream takes port 53 on a random loopback address.
    let addr = format!(
        "127.{}.{}.{}",
        50 + rand_byte() % 100,
        rand_byte(),
        1 + rand_byte() % 250
    );
    let sock = match UdpSocket::bind(format!("{addr}:53")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: cannot bind {addr}:53 for a fake upstream ({e})");
            return;
        }
    };
    let hits = Arc::new(AtomicUsize::new(0));
    fake_upstream(sock, hits.clone());
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("resolv.conf");
    std::fs::write(&conf, format!("nameserver {addr}\n")).expect("resolv.conf");
    let conf = conf.to_string_lossy().into_owned();
    let s = Server::start_with_host_components(&["coredns"], &["--resolv-conf", &conf]);
    let ok = eventually(Duration::from_secs(10), || {
        dig(&s, "www.example.test", "A").answers == ["192.0.2.7"]
    });
    assert!(ok, "{:?}\n{}", dig(&s, "www.example.test", "A"), s.log());
    let before = hits.load(Ordering::SeqCst);
    let d = dig(&s, "WWW.example.test", "A");
    assert_eq!(d.answers, ["192.0.2.7"]);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        before,
        "second answer from the cache"
    );
    assert_eq!(dig(&s, "other.example.test", "A").answers, ["192.0.2.7"]);
    assert_eq!(hits.load(Ordering::SeqCst), before + 1);
}

fn rand_byte() -> u8 {
    uuid::Uuid::new_v4().as_bytes()[0]
}

#[test]
fn pods_get_cluster_resolv_conf_and_reach_the_server() {
    if !docker_env() {
        return;
    }
    // DNS on a free port; kube-proxy stays off (it owns host-wide chains).
    let (_cleanup, s) = kubelet_server_with(&["--disable", "kube-proxy", "--disable", "servicelb"]);
    let ns = unique_ns("dnspod");
    s.kubectl_ok(&["create", "ns", &ns]);
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
    s.kubectl_ok(&[
        "-n",
        &ns,
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:80",
    ]);
    wait_phase(&s, &ns, "b", "Running");
    let resolv = s.kubectl_ok(&["-n", &ns, "exec", "b", "--", "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver 10.43.0.10\n"), "{resolv}");
    assert!(
        resolv.contains(&format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local"
        )),
        "{resolv}"
    );
    assert!(resolv.contains("options ndots:5"), "{resolv}");
    // The node's address and the DNS port, as the kube-dns EndpointSlice names them.
    let node_ip = s.kubectl_ok(&[
        "-n",
        "kube-system",
        "get",
        "endpointslice",
        "kube-dns-skiff",
        "-o",
        "jsonpath={.endpoints[0].addresses[0]}",
    ]);
    let port = dns_port(&s);
    let name = format!("web.{ns}.svc.cluster.local");
    let d = dig_at(node_ip.trim(), &port, &name, "A", &[]);
    assert_eq!(d.answers.len(), 1, "{d:?}");
    // From inside the pod (busybox nslookup takes the port as an option).
    let out = s.kubectl(&[
        "-n",
        &ns,
        "exec",
        "b",
        "--",
        "nslookup",
        &format!("-port={port}"),
        &name,
        node_ip.trim(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&d.answers[0]), "{text}");
    // The pod's own record and its PTR.
    let pod_ip = s.kubectl_ok(&[
        "-n",
        &ns,
        "get",
        "pod",
        "b",
        "-o",
        "jsonpath={.status.podIP}",
    ]);
    let pod_ip = pod_ip.trim();
    let pod_name = format!("{}.{ns}.pod.cluster.local", pod_ip.replace('.', "-"));
    assert_eq!(
        dig_at("127.0.0.1", &port, &pod_name, "A", &[]).answers,
        [pod_ip]
    );
    let reverse = skiff::dns::index::reverse_name(&pod_ip.parse().expect("pod ip"));
    assert_eq!(
        dig_at("127.0.0.1", &port, &reverse, "PTR", &[]).answers,
        [format!("{pod_name}.")]
    );
}

#[test]
fn large_answers_are_truncated_over_udp_and_complete_over_tcp() {
    let s = Server::start_with_host_components(&["coredns"], &[]);
    let ns = unique_ns("dnsbig");
    s.kubectl_ok(&["create", "ns", &ns]);
    let endpoints: String = (1..=60)
        .map(|i| format!("- addresses: [10.42.9.{i}]\n  conditions: {{ready: true}}\n"))
        .collect();
    let yaml = format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: big}}\nspec:\n  clusterIP: None\n  ports: [{{port: 80}}]\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: big-1\n  labels: {{kubernetes.io/service-name: big}}\naddressType: IPv4\nports: [{{port: 80, protocol: TCP}}]\nendpoints:\n{endpoints}"
    );
    s.kubectl_stdin_ok(&["-n", &ns, "apply", "-f", "-"], &yaml);
    let name = format!("big.{ns}.svc.cluster.local");
    let port = dns_port(&s);
    // dig falls back to TCP on a truncated UDP answer (no EDNS: 512 bytes at most).
    let ok = eventually(Duration::from_secs(10), || {
        dig_at("127.0.0.1", &port, &name, "A", &["+noedns"])
            .answers
            .len()
            == 60
    });
    assert!(
        ok,
        "{:?}",
        dig_at("127.0.0.1", &port, &name, "A", &["+noedns"])
    );
    let out = Command::new("dig")
        .args([
            "@127.0.0.1",
            "-p",
            &port,
            &name,
            "A",
            "+noedns",
            "+ignore",
            "+time=2",
            "+tries=1",
        ])
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(" tc"), "UDP answer not truncated:\n{text}");
}
