use super::*;

fn pod(env: serde_json::Value, env_from: serde_json::Value) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
        "spec": {"nodeName": "n1", "serviceAccountName": "default", "containers": [{
            "name": "c", "image": "busybox:1.35", "env": env, "envFrom": env_from,
            "resources": {"limits": {"memory": "64Mi"}},
        }]},
    }))
    .unwrap()
}

fn info() -> PodRuntimeInfo {
    PodRuntimeInfo {
        pod_ip: "10.42.0.5".into(),
        host_ip: "192.168.1.2".into(),
        node_cpu_millis: 2000,
        node_memory_bytes: 1 << 30,
    }
}

fn sources() -> EnvSources {
    let map = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    EnvSources {
        config_maps: HashMap::from([
            ("cfg".to_string(), map(&[("mode", "fast"), ("1bad", "x")])),
            ("gone".to_string(), None),
        ]),
        secrets: HashMap::from([("creds".to_string(), map(&[("password", "s3cret")]))]),
        services: vec![
            (
                "KUBERNETES_SERVICE_HOST".to_string(),
                "10.43.0.1".to_string(),
            ),
            ("CFG_mode".to_string(), "from-service".to_string()),
        ],
    }
}

fn run(pod: &Pod) -> Result<Vec<(String, String)>, EnvError> {
    let c = &pod.spec.as_ref().unwrap().containers[0];
    resolve(pod, c, &info(), &sources())
}

#[test]
fn every_source_in_upstream_order() {
    let p = pod(
        serde_json::json!([
            {"name": "WHO", "value": "world"},
            {"name": "GREETING", "value": "hello $(WHO) $$(WHO) $(NOPE) $(CFG_mode)"},
            {"name": "API", "value": "https://$(KUBERNETES_SERVICE_HOST)"},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k", "optional": true}}},
            {"name": "OPTKEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k", "optional": true}}},
            {"name": "CFG_mode", "value": "overridden"},
        ]),
        serde_json::json!([
            {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
            {"secretRef": {"name": "creds"}},
            {"configMapRef": {"name": "gone", "optional": true}},
        ]),
    );
    let env = run(&p).unwrap();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("CFG_1bad"), Some("x"), "prefix makes the name valid");
    assert_eq!(get("password"), Some("s3cret"));
    assert_eq!(get("GREETING"), Some("hello world $(WHO) $(NOPE) fast"));
    assert_eq!(get("IP"), Some("10.42.0.5"));
    assert_eq!(get("API"), Some("https://10.43.0.1"));
    assert_eq!(get("APP"), Some("web"));
    assert_eq!(get("SA"), Some("default"));
    assert_eq!(get("MEM"), Some("64"));
    assert_eq!(get("CPU"), Some("2"));
    assert_eq!(get("MODE"), Some("fast"));
    assert_eq!(get("PW"), Some("s3cret"));
    assert_eq!(get("OPT"), None);
    assert_eq!(get("OPTKEY"), None);
    assert_eq!(get("CFG_mode"), Some("overridden"));
    assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.43.0.1"));
    assert_eq!(
        env.iter().filter(|(n, _)| n == "CFG_mode").count(),
        1,
        "service variables never replace the container's"
    );
}

#[test]
fn invalid_names_from_env_from_are_skipped() {
    let p = pod(
        serde_json::json!([]),
        serde_json::json!([{"configMapRef": {"name": "cfg"}}]),
    );
    let env = run(&p).unwrap();
    assert_eq!(env[0], ("mode".to_string(), "fast".to_string()));
    assert!(env[1..].iter().all(|(n, _)| n != "1bad"));
    assert!(is_env_var_name("a.b-c_1"));
    assert!(!is_env_var_name("1a"));
    assert!(!is_env_var_name(""));
}

#[test]
fn missing_sources_fail_as_upstream() {
    let err = |env: serde_json::Value, from: serde_json::Value| {
        run(&pod(env, from)).unwrap_err().to_string()
    };
    assert_eq!(
        err(
            serde_json::json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "k"}}}]),
            serde_json::json!([])
        ),
        "configmap \"gone\" not found"
    );
    assert_eq!(
        err(
            serde_json::json!([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]),
            serde_json::json!([])
        ),
        "couldn't find key k in ConfigMap ns/cfg"
    );
    assert_eq!(
        err(
            serde_json::json!([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]),
            serde_json::json!([])
        ),
        "couldn't find key k in Secret ns/creds"
    );
    assert_eq!(
        err(
            serde_json::json!([]),
            serde_json::json!([{"secretRef": {"name": "nope"}}])
        ),
        "secret \"nope\" not found"
    );
}

#[test]
fn expansion_rules() {
    let vars = HashMap::from([("A", "1"), ("B", "two")]);
    assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
    assert_eq!(expand("$$(A)", &vars), "$(A)");
    assert_eq!(expand("$$$(A)", &vars), "$1");
    assert_eq!(expand("$(C)", &vars), "$(C)");
    assert_eq!(expand("$(A", &vars), "$(A");
    assert_eq!(expand("cost $5 $", &vars), "cost $5 $");
    assert_eq!(expand("", &vars), "");
}
