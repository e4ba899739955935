//! Unit tests of the index and the answers: every record kind, NXDOMAIN vs NODATA, case and
//! trailing dots.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RData, RecordType};
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use super::answer::{answer, Answer, Outcome};
use super::index::{pod_data, reverse_name, service_data, slice_data, Index};

fn svc(v: serde_json::Value) -> Service {
    serde_json::from_value(v).expect("service")
}

fn cluster() -> Index {
    let mut ix = Index::new("Cluster.Local.");
    let web = svc(json!({"metadata": {"name": "web", "namespace": "ns1"},
        "spec": {"clusterIP": "10.43.1.2", "clusterIPs": ["10.43.1.2"],
                 "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}));
    ix.upsert_service("ns1", "web", service_data(&web).expect("data"));
    let db = svc(json!({"metadata": {"name": "db", "namespace": "ns1"},
        "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}}));
    ix.upsert_service("ns1", "db", service_data(&db).expect("data"));
    let slice: EndpointSlice = serde_json::from_value(json!({
    "metadata": {"name": "db-abc", "namespace": "ns1",
                 "labels": {"kubernetes.io/service-name": "db"}},
    "addressType": "IPv4",
    "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    "endpoints": [
        {"addresses": ["10.42.0.5"], "hostname": "db-0", "conditions": {"ready": true}},
        {"addresses": ["10.42.0.6"], "conditions": {}},
        {"addresses": ["10.42.0.7"], "hostname": "db-2", "conditions": {"ready": false}},
    ]}))
    .expect("slice");
    ix.upsert_slice("ns1", "db-abc", slice_data(&slice).expect("data"));
    let ext = svc(json!({"metadata": {"name": "ext", "namespace": "ns1"},
        "spec": {"type": "ExternalName", "externalName": "example.com."}}));
    ix.upsert_service("ns1", "ext", service_data(&ext).expect("data"));
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns1"},
        "status": {"podIP": "10.42.0.9", "podIPs": [{"ip": "10.42.0.9"}]}}))
    .expect("pod");
    ix.upsert_pod("ns1", "p", pod_data(&pod));
    ix
}

fn ask(ix: &Index, name: &str, t: RecordType) -> Answer {
    match answer(ix, &Name::from_ascii(name).expect("name"), t) {
        Outcome::Answer(a) => a,
        Outcome::Forward => panic!("{name} forwarded"),
    }
}

fn datas(a: &Answer) -> Vec<String> {
    a.answers.iter().map(|r| r.data.to_string()).collect()
}

#[test]
fn cluster_ip_service_a_record() {
    let ix = cluster();
    let a = ask(&ix, "web.ns1.svc.cluster.local.", RecordType::A);
    assert!(!a.nxdomain);
    assert_eq!(datas(&a), vec!["10.43.1.2"]);
    assert_eq!(a.answers[0].ttl, 5);
    // Case-insensitive, with or without the trailing dot.
    let b = ask(&ix, "WEB.Ns1.SVC.cluster.LOCAL", RecordType::A);
    assert_eq!(datas(&b), vec!["10.43.1.2"]);
}

#[test]
fn nodata_vs_nxdomain() {
    let ix = cluster();
    let a = ask(&ix, "web.ns1.svc.cluster.local.", RecordType::AAAA);
    assert!(!a.nxdomain && a.answers.is_empty());
    assert!(matches!(a.authority[0].data, RData::SOA(_)));
    let a = ask(&ix, "nope.ns1.svc.cluster.local.", RecordType::A);
    assert!(a.nxdomain && a.answers.is_empty());
    assert!(matches!(a.authority[0].data, RData::SOA(_)));
    // Names with names below them exist.
    for n in [
        "ns1.svc.cluster.local.",
        "svc.cluster.local.",
        "_tcp.web.ns1.svc.cluster.local.",
    ] {
        let a = ask(&ix, n, RecordType::A);
        assert!(!a.nxdomain, "{n}");
    }
    let a = ask(&ix, "ns2.svc.cluster.local.", RecordType::A);
    assert!(a.nxdomain);
}

#[test]
fn headless_ready_endpoints_and_hostnames() {
    let ix = cluster();
    let a = ask(&ix, "db.ns1.svc.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.42.0.5", "10.42.0.6"]);
    let a = ask(&ix, "db-0.db.ns1.svc.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.42.0.5"]);
    let a = ask(&ix, "10-42-0-6.db.ns1.svc.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.42.0.6"]);
    // Not ready: no record.
    let a = ask(&ix, "db-2.db.ns1.svc.cluster.local.", RecordType::A);
    assert!(a.nxdomain);
}

#[test]
fn srv_records() {
    let ix = cluster();
    let a = ask(
        &ix,
        "_http._tcp.web.ns1.svc.cluster.local.",
        RecordType::SRV,
    );
    assert_eq!(datas(&a), vec!["0 100 80 web.ns1.svc.cluster.local."]);
    assert_eq!(a.additionals.len(), 1);
    let a = ask(&ix, "_pg._tcp.db.ns1.svc.cluster.local.", RecordType::SRV);
    assert_eq!(
        datas(&a),
        vec![
            "0 50 5432 10-42-0-6.db.ns1.svc.cluster.local.",
            "0 50 5432 db-0.db.ns1.svc.cluster.local."
        ]
    );
    assert_eq!(a.additionals.len(), 2);
    let a = ask(
        &ix,
        "_http._udp.web.ns1.svc.cluster.local.",
        RecordType::SRV,
    );
    assert!(a.nxdomain);
}

#[test]
fn external_name_cname() {
    let ix = cluster();
    for t in [RecordType::A, RecordType::CNAME, RecordType::AAAA] {
        let a = ask(&ix, "ext.ns1.svc.cluster.local.", t);
        assert_eq!(datas(&a), vec!["example.com."]);
        assert!(matches!(a.answers[0].data, RData::CNAME(_)));
    }
}

#[test]
fn pod_records_and_ptr() {
    let ix = cluster();
    let a = ask(&ix, "10-42-0-9.ns1.pod.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.42.0.9"]);
    assert!(ask(&ix, "10-42-0-99.ns1.pod.cluster.local.", RecordType::A).nxdomain);
    assert!(!ask(&ix, "pod.cluster.local.", RecordType::A).nxdomain);
    let ptr = |ip: &str| {
        let ip: IpAddr = ip.parse().expect("ip");
        datas(&ask(&ix, &reverse_name(&ip), RecordType::PTR))
    };
    assert_eq!(ptr("10.43.1.2"), vec!["web.ns1.svc.cluster.local."]);
    assert_eq!(ptr("10.42.0.5"), vec!["db-0.db.ns1.svc.cluster.local."]);
    assert_eq!(ptr("10.42.0.9"), vec!["10-42-0-9.ns1.pod.cluster.local."]);
    // An unknown reverse name is forwarded.
    let n = Name::from_ascii("1.1.1.1.in-addr.arpa.").expect("name");
    assert_eq!(answer(&ix, &n, RecordType::PTR), Outcome::Forward);
}

#[test]
fn zone_apex_and_version() {
    let ix = cluster();
    let a = ask(&ix, "cluster.local.", RecordType::SOA);
    assert!(matches!(a.answers[0].data, RData::SOA(_)));
    let a = ask(&ix, "cluster.local.", RecordType::A);
    assert!(!a.nxdomain && a.answers.is_empty());
    let a = ask(&ix, "dns-version.cluster.local.", RecordType::TXT);
    assert_eq!(datas(&a), vec!["1.1.0"]);
}

#[test]
fn other_names_forwarded() {
    let ix = cluster();
    let n = Name::from_ascii("example.com.").expect("name");
    assert_eq!(answer(&ix, &n, RecordType::A), Outcome::Forward);
    let n = Name::from_ascii("notcluster.local.").expect("name");
    assert_eq!(answer(&ix, &n, RecordType::A), Outcome::Forward);
}

#[test]
fn changes_and_removals() {
    let mut ix = cluster();
    let serial = ix.serial();
    let web = svc(json!({"metadata": {"name": "web", "namespace": "ns1"},
        "spec": {"clusterIP": "10.43.1.3", "ports": [{"name": "http", "port": 8080}]}}));
    ix.upsert_service("ns1", "web", service_data(&web).expect("data"));
    assert!(ix.serial() > serial);
    let a = ask(&ix, "web.ns1.svc.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.43.1.3"]);
    let ip: IpAddr = "10.43.1.2".parse().expect("ip");
    let n = Name::from_ascii(reverse_name(&ip)).expect("name");
    assert_eq!(answer(&ix, &n, RecordType::PTR), Outcome::Forward);
    ix.remove_slice("ns1", "db-abc");
    let a = ask(&ix, "db.ns1.svc.cluster.local.", RecordType::A);
    assert!(
        !a.nxdomain && a.answers.is_empty(),
        "headless without endpoints: NODATA"
    );
    assert!(ask(&ix, "db-0.db.ns1.svc.cluster.local.", RecordType::A).nxdomain);
    ix.remove_service("ns1", "web");
    ix.remove_service("ns1", "db");
    ix.remove_service("ns1", "ext");
    assert!(ask(&ix, "web.ns1.svc.cluster.local.", RecordType::A).nxdomain);
    assert!(ask(&ix, "ns1.svc.cluster.local.", RecordType::A).nxdomain);
    ix.remove_pod("ns1", "p");
    assert!(ask(&ix, "ns1.pod.cluster.local.", RecordType::A).nxdomain);
}

#[test]
fn ipv6_service() {
    let mut ix = Index::new("cluster.local");
    let v6 = svc(json!({"metadata": {"name": "six", "namespace": "a"},
        "spec": {"clusterIP": "fd00::10", "clusterIPs": ["fd00::10"]}}));
    ix.upsert_service("a", "six", service_data(&v6).expect("data"));
    let a = ask(&ix, "six.a.svc.cluster.local", RecordType::AAAA);
    assert_eq!(datas(&a), vec!["fd00::10"]);
    let a = ask(&ix, "six.a.svc.cluster.local", RecordType::A);
    assert!(!a.nxdomain && a.answers.is_empty());
    let ip: IpAddr = "fd00::10".parse().expect("ip");
    let ptr = ask(&ix, &reverse_name(&ip), RecordType::PTR);
    assert_eq!(datas(&ptr), vec!["six.a.svc.cluster.local."]);
}

#[test]
fn name_server_name_is_the_dns_service() {
    let mut ix = cluster();
    let a = ask(&ix, "ns.dns.cluster.local.", RecordType::A);
    assert!(!a.nxdomain && a.answers.is_empty());
    let dns = svc(
        json!({"metadata": {"name": "kube-dns", "namespace": "kube-system"},
        "spec": {"clusterIP": "10.43.0.10"}}),
    );
    ix.upsert_service("kube-system", "kube-dns", service_data(&dns).expect("data"));
    let a = ask(&ix, "ns.dns.cluster.local.", RecordType::A);
    assert_eq!(datas(&a), vec!["10.43.0.10"]);
}
