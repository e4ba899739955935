//! Tests of the pure half: model building, rule text, cleanup scripts.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use super::cleanup;
use super::model::{build, Endpoint, ServicePort};
use super::names;
use super::rules::{generate, RuleConfig};

fn cfg() -> RuleConfig {
    RuleConfig {
        cluster_cidr: "10.42.0.0/16".into(),
        node_name: "node-a".into(),
    }
}

fn ep(ip: &str, node: &str, ready: bool) -> Endpoint {
    Endpoint {
        ip: ip.parse().unwrap(),
        port: 80,
        ready,
        serving: ready,
        terminating: false,
        node_name: Some(node.into()),
    }
}

fn svc(eps: Vec<Endpoint>) -> ServicePort {
    ServicePort {
        namespace: "ns1".into(),
        name: "svc1".into(),
        port_name: "p80".into(),
        protocol: "tcp".into(),
        cluster_ip: Some(Ipv4Addr::new(10, 43, 0, 41)),
        port: 80,
        node_port: None,
        external_ips: vec![],
        load_balancer_ips: vec![],
        affinity_seconds: None,
        external_local: false,
        internal_local: false,
        endpoints: eps,
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

const SVC: &str = "KUBE-SVC-XPGD46QRK7WJZT7O";

#[test]
fn cluster_ip_balances_randomly_over_ready_endpoints() {
    let s = svc(vec![
        ep("10.42.0.1", "node-a", true),
        ep("10.42.0.2", "node-a", true),
        ep("10.42.0.3", "node-b", true),
        ep("10.42.0.4", "node-b", false),
    ]);
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    let l = lines(&r.text);
    assert_eq!(l[0], "*filter");
    assert!(l.contains(&format!("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 cluster IP\" -d 10.43.0.41/32 -m tcp -p tcp --dport 80 -j {SVC}").as_str()), "{}", r.text);
    assert!(l.contains(&format!("-A {SVC} -m comment --comment \"ns1/svc1:p80 cluster IP\" ! -s 10.42.0.0/16 -d 10.43.0.41/32 -m tcp -p tcp --dport 80 -j KUBE-MARK-MASQ").as_str()));
    let jumps: Vec<&&str> = l
        .iter()
        .filter(|x| x.starts_with(&format!("-A {SVC} -m comment --comment \"ns1/svc1:p80 -> ")))
        .collect();
    assert_eq!(jumps.len(), 3, "unready endpoint left out: {}", r.text);
    assert!(jumps[0].contains("--probability 0.3333333333"));
    assert!(jumps[1].contains("--probability 0.5000000000"));
    assert!(!jumps[2].contains("statistic"));
    let sep = names::endpoint_chain("ns1/svc1:p80", "tcp", "10.42.0.1:80");
    assert!(l.contains(&format!(":{sep} - [0:0]").as_str()));
    assert!(l.contains(
        &format!(
            "-A {sep} -m comment --comment \"ns1/svc1:p80\" -s 10.42.0.1/32 -j KUBE-MARK-MASQ"
        )
        .as_str()
    ));
    assert!(l.contains(&format!("-A {sep} -m comment --comment \"ns1/svc1:p80\" -m tcp -p tcp -j DNAT --to-destination 10.42.0.1:80").as_str()));
    assert!(!r.text.contains("10.42.0.4"));
    // The NodePorts jump is the last rule of nat KUBE-SERVICES.
    let last = l
        .iter()
        .rfind(|x| x.starts_with("-A KUBE-SERVICES"))
        .unwrap();
    assert!(last.contains("--dst-type LOCAL -j KUBE-NODEPORTS"));
    assert_eq!(r.chains.len(), 4);
    assert!(r.text.ends_with("COMMIT\n"));
}

#[test]
fn no_ready_endpoints_rejects_in_filter() {
    let mut s = svc(vec![ep("10.42.0.1", "node-a", false)]);
    s.node_port = Some(30080);
    s.external_ips = vec![Ipv4Addr::new(192, 0, 2, 9)];
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    assert!(r.text.contains("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp --dport 80 -d 10.43.0.41/32 -j REJECT"), "{}", r.text);
    assert!(r.text.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30080 -j REJECT"));
    assert!(r.text.contains("-A KUBE-EXTERNAL-SERVICES -m comment --comment \"ns1/svc1:p80 has no endpoints\" -m tcp -p tcp --dport 80 -d 192.0.2.9/32 -j REJECT"));
    assert!(!r.text.contains("KUBE-SVC-"));
    assert!(r.chains.is_empty());
}

#[test]
fn terminating_serving_endpoints_are_the_fallback() {
    let mut e = ep("10.42.0.7", "node-a", false);
    e.serving = true;
    e.terminating = true;
    let r = generate(&[svc(vec![e])], &cfg(), &BTreeSet::new());
    assert!(r.text.contains("--to-destination 10.42.0.7:80"));
}

#[test]
fn session_affinity_uses_recent() {
    let mut s = svc(vec![
        ep("10.42.0.1", "node-a", true),
        ep("10.42.0.2", "node-a", true),
    ]);
    s.affinity_seconds = Some(10800);
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    let sep = names::endpoint_chain("ns1/svc1:p80", "tcp", "10.42.0.1:80");
    assert!(r.text.contains(&format!("-A {SVC} -m comment --comment \"ns1/svc1:p80 -> 10.42.0.1:80\" -m recent --name {sep} --rcheck --seconds 10800 --reap -j {sep}")), "{}", r.text);
    assert!(r.text.contains(&format!("-A {sep} -m comment --comment \"ns1/svc1:p80\" -m tcp -p tcp -m recent --name {sep} --set -j DNAT --to-destination 10.42.0.1:80")));
    // Affinity checks come before the random choice.
    let check = r.text.find("--rcheck").unwrap();
    let random = r.text.find("--mode random").unwrap();
    assert!(check < random);
}

#[test]
fn node_port_external_ip_and_load_balancer_go_through_ext_chain() {
    let mut s = svc(vec![ep("10.42.0.1", "node-a", true)]);
    s.node_port = Some(30080);
    s.external_ips = vec![Ipv4Addr::new(192, 0, 2, 9)];
    s.load_balancer_ips = vec![Ipv4Addr::new(192, 0, 2, 10)];
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    let ext = "KUBE-EXT-XPGD46QRK7WJZT7O";
    for want in [
        format!("-A KUBE-NODEPORTS -m comment --comment \"ns1/svc1:p80\" -m tcp -p tcp --dport 30080 -j {ext}"),
        format!("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 external IP\" -d 192.0.2.9/32 -m tcp -p tcp --dport 80 -j {ext}"),
        format!("-A KUBE-SERVICES -m comment --comment \"ns1/svc1:p80 loadbalancer IP\" -d 192.0.2.10/32 -m tcp -p tcp --dport 80 -j {ext}"),
        format!("-A {ext} -m comment --comment \"masquerade traffic for ns1/svc1:p80 external destinations\" -j KUBE-MARK-MASQ"),
        format!("-A {ext} -j {SVC}"),
    ] {
        assert!(r.text.contains(&want), "missing {want}\n{}", r.text);
    }
}

#[test]
fn external_traffic_policy_local_uses_only_local_endpoints() {
    let mut s = svc(vec![
        ep("10.42.0.1", "node-a", true),
        ep("10.42.0.2", "node-b", true),
    ]);
    s.node_port = Some(30080);
    s.external_local = true;
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    let svl = "KUBE-SVL-XPGD46QRK7WJZT7O";
    let ext = "KUBE-EXT-XPGD46QRK7WJZT7O";
    assert!(r.text.contains(&format!("-A {ext} -j {svl}")), "{}", r.text);
    assert!(r.text.contains(&format!("-A {ext} -m comment --comment \"pod traffic for ns1/svc1:p80 external destinations\" -s 10.42.0.0/16 -j {SVC}")));
    let local_jumps: Vec<&str> = r
        .text
        .lines()
        .filter(|l| l.starts_with(&format!("-A {svl} ")))
        .collect();
    assert_eq!(local_jumps.len(), 1);
    assert!(local_jumps[0].contains(&names::endpoint_chain(
        "ns1/svc1:p80",
        "tcp",
        "10.42.0.1:80"
    )));
}

#[test]
fn internal_traffic_policy_local_without_local_endpoints_rejects() {
    let mut s = svc(vec![ep("10.42.0.2", "node-b", true)]);
    s.internal_local = true;
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    assert!(r.text.contains("has no endpoints"));
    assert!(!r.text.contains("KUBE-SEP-"), "{}", r.text);
}

#[test]
fn udp_and_sctp_use_their_protocol() {
    let mut s = svc(vec![ep("10.42.0.1", "node-a", true)]);
    s.protocol = "udp".into();
    let r = generate(&[s.clone()], &cfg(), &BTreeSet::new());
    assert!(r.text.contains("-m udp -p udp --dport 80"));
    s.protocol = "sctp".into();
    let r = generate(&[s], &cfg(), &BTreeSet::new());
    assert!(r.text.contains("-m sctp -p sctp -j DNAT"));
}

#[test]
fn stale_chains_are_flushed_and_deleted() {
    let previous: BTreeSet<String> =
        ["KUBE-SVC-OLD".to_string(), "KUBE-SEP-OLD".to_string()].into();
    let r = generate(&[], &cfg(), &previous);
    let nat = &r.text[r.text.find("*nat").unwrap()..];
    assert!(nat.contains(":KUBE-SVC-OLD - [0:0]"));
    assert!(nat.contains("-X KUBE-SVC-OLD\n"));
    assert!(nat.contains("-X KUBE-SEP-OLD\n"));
    let x = nat.find("-X ").unwrap();
    assert!(nat[x..]
        .lines()
        .all(|l| l.starts_with("-X") || l == "COMMIT"));
}

#[test]
fn model_from_service_and_slices() {
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.50", "sessionAffinity": "ClientIP",
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "nodePort": 31000, "protocol": "TCP"}]},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}]}},
    })).unwrap();
    let slice: k8s_openapi::api::discovery::v1::EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-abc", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.42.0.5"], "conditions": {"ready": true}, "nodeName": "node-a"},
            {"addresses": ["10.42.0.6"], "conditions": {"ready": false, "serving": true, "terminating": true}},
            {"addresses": ["10.42.0.7"]},
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    })).unwrap();
    let other: k8s_openapi::api::discovery::v1::EndpointSlice = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "x", "namespace": "other", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.9.9"]}],
        "ports": [{"name": "http", "port": 8080}],
    })).unwrap();
    let m = build(&[&service], &[&slice, &other]);
    assert_eq!(m.len(), 1);
    let p = &m[0];
    assert_eq!(p.display_name(), "default/web:http");
    assert_eq!(p.node_port, Some(31000));
    assert_eq!(p.affinity_seconds, Some(10800));
    assert_eq!(p.load_balancer_ips, vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(p.endpoints.len(), 3);
    assert!(p.endpoints.iter().all(|e| e.port == 8080));
    let e6 = p
        .endpoints
        .iter()
        .find(|e| e.ip == Ipv4Addr::new(10, 42, 0, 6))
        .unwrap();
    assert!(!e6.ready && e6.serving && e6.terminating);
    let e7 = p
        .endpoints
        .iter()
        .find(|e| e.ip == Ipv4Addr::new(10, 42, 0, 7))
        .unwrap();
    assert!(e7.ready);
}

#[test]
fn headless_and_external_name_services_are_skipped() {
    let headless: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "h", "namespace": "d"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
    }))
    .unwrap();
    let ext: k8s_openapi::api::core::v1::Service = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "e", "namespace": "d"},
        "spec": {"type": "ExternalName", "externalName": "example.com"},
    }))
    .unwrap();
    assert!(build(&[&headless, &ext], &[]).is_empty());
}

#[test]
fn cleanup_removes_only_our_chains_and_jumps() {
    let save = "\
# Generated by iptables-nft-save
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES
-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD
-A FORWARD -j DOCKER
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-AAAA - [0:0]
:KUBE-SEP-BBBB - [0:0]
-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A KUBE-SERVICES -j KUBE-SVC-AAAA
COMMIT
";
    let (script, n) = cleanup::script(save).unwrap();
    assert_eq!(n, 5);
    assert!(script.contains(
        "-D FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n"
    ));
    assert!(script.contains(
        "-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
    ));
    assert!(script.contains("-D INPUT -m conntrack"));
    assert!(script.contains("-X KUBE-SEP-BBBB\n"));
    assert!(!script.contains("DOCKER"));
    assert!(!script.contains("-D KUBE-SERVICES"));
    assert_eq!(
        cleanup::service_chains(save),
        ["KUBE-SEP-BBBB".to_string(), "KUBE-SVC-AAAA".to_string()].into()
    );
    assert!(cleanup::script("*nat\n:DOCKER - [0:0]\nCOMMIT\n").is_none());
}

#[test]
fn partial_sync_leaves_unchanged_service_chains_alone() {
    let a = svc(vec![ep("10.42.0.1", "node-a", true)]);
    let mut b = a.clone();
    b.name = "svc2".into();
    let r = super::rules::generate_partial(&[a, b], &cfg(), &BTreeSet::new(), |s| s.name == "svc2");
    let svc1 = names::service_chain("ns1/svc1:p80", "tcp");
    let svc2 = names::service_chain("ns1/svc2:p80", "tcp");
    // Both are still reached from KUBE-SERVICES and known as ours…
    assert!(r.text.contains(&format!("-j {svc1}")));
    assert!(r.chains.contains(&svc1));
    // …but only the changed one is declared (flushed) and refilled.
    assert!(!r.text.contains(&format!(":{svc1} ")));
    assert!(!r.text.contains(&format!("-A {svc1} ")));
    assert!(r.text.contains(&format!(":{svc2} - [0:0]")));
    assert!(r.text.contains(&format!("-A {svc2} ")));
}
