use super::*;

fn pod(spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    spec["containers"] = serde_json::json!([{"name": "c", "image": "busybox:1.35"}]);
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "web-0", "namespace": "shop"},
        "spec": spec,
    }))
    .unwrap()
}

fn settings() -> DnsSettings {
    DnsSettings {
        cluster_dns: vec!["10.43.0.10".into()],
        cluster_domain: "cluster.local".into(),
        host_resolv_conf: "/nonexistent".into(),
        host_hosts: "/nonexistent".into(),
    }
}

const LOCAL: &str = "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n";

#[test]
fn hosts_file_with_hostname_subdomain_and_aliases() {
    let p = pod(serde_json::json!({}));
    let ips = ["10.42.0.7".to_string()];
    assert_eq!(
        hosts_file(&p, &ips, "cluster.local"),
        format!("{LOCAL}10.42.0.7\tweb-0\n")
    );
    let p = pod(serde_json::json!({
        "hostname": "db", "subdomain": "backend",
        "hostAliases": [{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]},
                        {"ip": "127.0.0.1", "hostnames": ["me"]}],
    }));
    assert_eq!(
        hosts_file(&p, &ips, "cluster.local"),
        format!(
            "{LOCAL}10.42.0.7\tdb.backend.shop.svc.cluster.local\tdb\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n127.0.0.1\tme\n"
        )
    );
    let host = host_network_hosts_file(&p, "127.0.0.1 localhost");
    assert!(host.starts_with("# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n"), "{host}");
}

#[test]
fn hostnames() {
    let long = "a".repeat(62) + "-b";
    let p: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": long}})).unwrap();
    assert_eq!(hostname(&p), "a".repeat(62));
    assert_eq!(host_domain(&p, "cluster.local"), None);
}

#[test]
fn resolv_conf_per_policy() {
    let host = parse_resolv_conf(
        "# comment\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nsearch corp.example\noptions edns0\n",
    );
    assert_eq!(host.nameservers, ["1.1.1.1", "8.8.8.8"]);
    let s = settings();
    let first = resolv_conf(&pod(serde_json::json!({})), &s, &host);
    assert_eq!(
        render_resolv_conf(&first),
        "search shop.svc.cluster.local svc.cluster.local cluster.local corp.example\nnameserver 10.43.0.10\noptions ndots:5\n"
    );
    let default = resolv_conf(&pod(serde_json::json!({"dnsPolicy": "Default"})), &s, &host);
    assert_eq!(default, host);
    let host_net = resolv_conf(&pod(serde_json::json!({"hostNetwork": true})), &s, &host);
    assert_eq!(host_net, host, "hostNetwork + ClusterFirst uses the host's");
    let with_host_net = resolv_conf(
        &pod(serde_json::json!({"hostNetwork": true, "dnsPolicy": "ClusterFirstWithHostNet"})),
        &s,
        &host,
    );
    assert_eq!(with_host_net.nameservers, ["10.43.0.10"]);
    let none = resolv_conf(
        &pod(serde_json::json!({"dnsPolicy": "None", "dnsConfig": {
            "nameservers": ["9.9.9.9"], "searches": ["a.example"],
            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}})),
        &s,
        &host,
    );
    assert_eq!(
        render_resolv_conf(&none),
        "search a.example\nnameserver 9.9.9.9\noptions ndots:2 edns0\n"
    );
    let merged = resolv_conf(
        &pod(serde_json::json!({"dnsConfig": {"options": [{"name": "ndots", "value": "1"}]}})),
        &s,
        &host,
    );
    assert_eq!(merged.options, ["ndots:1"]);
}

#[test]
fn container_mounts_skip_own_volumes() {
    let dir = tempfile::tempdir().unwrap();
    let p = pod(serde_json::json!({}));
    let mounts = write_files(dir.path(), &p, "10.42.0.9", &settings()).unwrap();
    assert_eq!(mounts.len(), 2);
    let hosts = std::fs::read_to_string(dir.path().join("etc-hosts")).unwrap();
    assert!(hosts.ends_with("10.42.0.9\tweb-0\n"), "{hosts}");
    let c: Container = serde_json::from_value(serde_json::json!({
        "name": "c", "volumeMounts": [{"name": "v", "mountPath": "/etc/hosts"}]
    }))
    .unwrap();
    let kept = for_container(&mounts, &c);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].target.as_deref(), Some("/etc/resolv.conf"));
}
