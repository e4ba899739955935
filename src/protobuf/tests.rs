//! Unit tests: encode objects with k8s-pb's prost types, decode them to JSON
//! and compare against k8s-openapi types and exact JSON.

use std::collections::BTreeMap;

use k8s_pb::api::core::v1 as pbcore;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as pbmeta;
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::descriptors::{MESSAGES, PACKAGES};
use super::special::{go_duration, GO_ZERO_TIME_SECONDS};
use super::table::{Kind, Label};
use super::*;

/// 2024-01-02T03:04:05Z
const T0: i64 = 1_704_164_645;

fn envelope<M: Message>(api_version: &str, kind: &str, msg: &M) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(msg.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut out = MAGIC.to_vec();
    out.extend(unknown.encode_to_vec());
    out
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn quantity(v: &str) -> Quantity {
    Quantity { string: s(v) }
}

fn time(seconds: i64) -> pbmeta::Time {
    pbmeta::Time {
        seconds: Some(seconds),
        nanos: Some(0),
    }
}

fn meta(name: &str, namespace: &str) -> pbmeta::ObjectMeta {
    pbmeta::ObjectMeta {
        name: s(name),
        namespace: s(namespace),
        labels: labels(&[("app", name)]),
        creation_timestamp: Some(time(T0)),
        ..Default::default()
    }
}

/// Decodes, checks the JSON deserializes into `T` equal to `expected`
/// (itself deserialized into `T`), and returns the decoded JSON.
fn check<T, M>(api_version: &str, kind: &str, msg: &M, expected: Value) -> Value
where
    T: DeserializeOwned + PartialEq + std::fmt::Debug,
    M: Message,
{
    let got = decode(&envelope(api_version, kind, msg)).expect("decode");
    let typed: T = serde_json::from_value(got.clone()).expect("decoded JSON fits k8s-openapi type");
    let want: T = serde_json::from_value(expected.clone()).expect("expected JSON fits type");
    assert_eq!(typed, want);
    assert_eq!(got, expected);
    got
}

fn int_or_string_int(v: i32) -> IntOrString {
    IntOrString {
        r#type: Some(0),
        int_val: Some(v),
        str_val: None,
    }
}

fn int_or_string_str(v: &str) -> IntOrString {
    IntOrString {
        r#type: Some(1),
        int_val: None,
        str_val: s(v),
    }
}

fn pod_spec() -> pbcore::PodSpec {
    pbcore::PodSpec {
        containers: vec![pbcore::Container {
            name: s("web"),
            image: s("nginx:1.27"),
            env: vec![
                pbcore::EnvVar {
                    name: s("MODE"),
                    value: s("prod"),
                    value_from: None,
                },
                pbcore::EnvVar {
                    name: s("FROM_CM"),
                    value: None,
                    value_from: Some(pbcore::EnvVarSource {
                        config_map_key_ref: Some(pbcore::ConfigMapKeySelector {
                            local_object_reference: Some(pbcore::LocalObjectReference {
                                name: s("settings"),
                            }),
                            key: s("mode"),
                            optional: Some(false),
                        }),
                        ..Default::default()
                    }),
                },
            ],
            ports: vec![pbcore::ContainerPort {
                container_port: Some(80),
                protocol: s("TCP"),
                // Go always encodes non-pointer strings; empty ones must vanish.
                name: s(""),
                host_ip: s(""),
                ..Default::default()
            }],
            resources: Some(pbcore::ResourceRequirements {
                limits: [("cpu".to_string(), quantity("500m"))].into(),
                requests: [("memory".to_string(), quantity("128Mi"))].into(),
                claims: vec![],
            }),
            liveness_probe: Some(pbcore::Probe {
                handler: Some(pbcore::ProbeHandler {
                    http_get: Some(pbcore::HttpGetAction {
                        path: s("/healthz"),
                        port: Some(int_or_string_str("http")),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                period_seconds: Some(10),
                ..Default::default()
            }),
            volume_mounts: vec![pbcore::VolumeMount {
                name: s("config"),
                mount_path: s("/etc/config"),
                ..Default::default()
            }],
            ..Default::default()
        }],
        volumes: vec![pbcore::Volume {
            name: s("config"),
            volume_source: Some(pbcore::VolumeSource {
                config_map: Some(pbcore::ConfigMapVolumeSource {
                    local_object_reference: Some(pbcore::LocalObjectReference {
                        name: s("settings"),
                    }),
                    default_mode: Some(0o644),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }],
        restart_policy: s("Always"),
        ..Default::default()
    }
}

fn pod_spec_json() -> Value {
    json!({
        "containers": [{
            "name": "web",
            "image": "nginx:1.27",
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode", "optional": false}}}
            ],
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "500m"}, "requests": {"memory": "128Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10}
        }],
        "volumes": [{"name": "config", "configMap": {"name": "settings", "defaultMode": 420}}],
        "restartPolicy": "Always"
    })
}

#[test]
fn deployment_round_trip() {
    use k8s_pb::api::apps::v1 as pbapps;
    let d = pbapps::Deployment {
        metadata: Some(meta("web", "default")),
        spec: Some(pbapps::DeploymentSpec {
            replicas: Some(3),
            revision_history_limit: Some(0),
            selector: Some(pbmeta::LabelSelector {
                match_labels: labels(&[("app", "web")]),
                match_expressions: vec![],
            }),
            template: Some(pbcore::PodTemplateSpec {
                metadata: Some(pbmeta::ObjectMeta {
                    labels: labels(&[("app", "web")]),
                    // Go's zero time is encoded as an empty message.
                    creation_timestamp: Some(pbmeta::Time::default()),
                    ..Default::default()
                }),
                spec: Some(pod_spec()),
            }),
            strategy: Some(pbapps::DeploymentStrategy {
                r#type: s("RollingUpdate"),
                rolling_update: Some(pbapps::RollingUpdateDeployment {
                    max_unavailable: Some(int_or_string_int(1)),
                    max_surge: Some(int_or_string_str("25%")),
                }),
            }),
            ..Default::default()
        }),
        status: Some(pbapps::DeploymentStatus::default()),
    };
    let got = check::<k8s_openapi::api::apps::v1::Deployment, _>(
        "apps/v1",
        "Deployment",
        &d,
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "labels": {"app": "web"}
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                    "spec": pod_spec_json()
                },
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
                "revisionHistoryLimit": 0
            },
            "status": {}
        }),
    );
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        json!(80)
    );
    assert_eq!(
        got["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
        json!("25%")
    );
    assert_eq!(
        got["metadata"]["creationTimestamp"],
        json!("2024-01-02T03:04:05Z")
    );
    assert_eq!(got["spec"]["revisionHistoryLimit"], json!(0));
}

#[test]
fn secret_with_binary_data() {
    let secret = pbcore::Secret {
        metadata: Some(meta("creds", "default")),
        immutable: Some(false),
        data: [
            ("bin".to_string(), vec![0u8, 255, 1, 2]),
            ("empty".to_string(), vec![]),
        ]
        .into(),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
    };
    let got = check::<k8s_openapi::api::core::v1::Secret, _>(
        "v1",
        "Secret",
        &secret,
        json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "creds", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "creds"}
            },
            "data": {"bin": "AP8BAg==", "empty": ""},
            "type": "Opaque",
            "immutable": false
        }),
    );
    assert_eq!(got["data"]["bin"], json!("AP8BAg=="));
}

#[test]
fn configmap_and_namespace() {
    let cm = pbcore::ConfigMap {
        metadata: Some(meta("settings", "default")),
        data: labels(&[("mode", "prod"), ("blank", "")]),
        binary_data: [("blob".to_string(), b"hi".to_vec())].into(),
        immutable: None,
    };
    check::<k8s_openapi::api::core::v1::ConfigMap, _>(
        "v1",
        "ConfigMap",
        &cm,
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "settings", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "settings"}
            },
            "data": {"blank": "", "mode": "prod"},
            "binaryData": {"blob": "aGk="}
        }),
    );

    let ns = pbcore::Namespace {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("team-a"),
            namespace: s(""),
            resource_version: s(""),
            generation: Some(0),
            ..Default::default()
        }),
        spec: Some(pbcore::NamespaceSpec {
            finalizers: vec!["kubernetes".into()],
        }),
        status: Some(pbcore::NamespaceStatus::default()),
    };
    check::<k8s_openapi::api::core::v1::Namespace, _>(
        "v1",
        "Namespace",
        &ns,
        json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "team-a", "generation": 0},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {}
        }),
    );
}

#[test]
fn service_ports_int_and_named() {
    let svc = pbcore::Service {
        metadata: Some(meta("web", "default")),
        spec: Some(pbcore::ServiceSpec {
            ports: vec![
                pbcore::ServicePort {
                    name: s("http"),
                    protocol: s("TCP"),
                    port: Some(80),
                    target_port: Some(int_or_string_int(8080)),
                    ..Default::default()
                },
                pbcore::ServicePort {
                    name: s("https"),
                    protocol: s("TCP"),
                    port: Some(443),
                    target_port: Some(int_or_string_str("https")),
                    ..Default::default()
                },
            ],
            selector: labels(&[("app", "web")]),
            cluster_ips: vec!["10.43.0.10".into()],
            external_ips: vec!["192.0.2.1".into()],
            r#type: s("ClusterIP"),
            ip_families: vec!["IPv4".into()],
            ..Default::default()
        }),
        status: None,
    };
    let got = check::<k8s_openapi::api::core::v1::Service, _>(
        "v1",
        "Service",
        &svc,
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "web", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web"}
            },
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"}
                ],
                "selector": {"app": "web"},
                "clusterIPs": ["10.43.0.10"],
                "type": "ClusterIP",
                "externalIPs": ["192.0.2.1"],
                "ipFamilies": ["IPv4"]
            }
        }),
    );
    assert_eq!(got["spec"]["ports"][0]["targetPort"], json!(8080));
    assert_eq!(got["spec"]["ports"][1]["targetPort"], json!("https"));
}

#[test]
fn job_and_cronjob() {
    use k8s_pb::api::batch::v1 as pbbatch;
    let job_spec = pbbatch::JobSpec {
        backoff_limit: Some(0),
        completions: Some(1),
        template: Some(pbcore::PodTemplateSpec {
            metadata: None,
            spec: Some(pbcore::PodSpec {
                containers: vec![pbcore::Container {
                    name: s("pi"),
                    image: s("perl"),
                    command: vec!["perl".into(), "-e".into(), "print 1".into()],
                    ..Default::default()
                }],
                restart_policy: s("Never"),
                ..Default::default()
            }),
        }),
        ..Default::default()
    };
    let job_spec_json = json!({
        "completions": 1,
        "backoffLimit": 0,
        "template": {"spec": {
            "containers": [{"name": "pi", "image": "perl", "command": ["perl", "-e", "print 1"]}],
            "restartPolicy": "Never"
        }}
    });
    let job = pbbatch::Job {
        metadata: Some(meta("pi", "default")),
        spec: Some(job_spec.clone()),
        status: None,
    };
    check::<k8s_openapi::api::batch::v1::Job, _>(
        "batch/v1",
        "Job",
        &job,
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "pi", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "pi"}
            },
            "spec": job_spec_json.clone()
        }),
    );

    let cron = pbbatch::CronJob {
        metadata: Some(meta("nightly", "default")),
        spec: Some(pbbatch::CronJobSpec {
            schedule: s("0 3 * * *"),
            time_zone: s("Etc/UTC"),
            suspend: Some(false),
            job_template: Some(pbbatch::JobTemplateSpec {
                metadata: Some(pbmeta::ObjectMeta {
                    name: s("nightly"),
                    ..Default::default()
                }),
                spec: Some(job_spec),
            }),
            ..Default::default()
        }),
        status: Some(pbbatch::CronJobStatus {
            last_schedule_time: Some(time(T0)),
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::batch::v1::CronJob, _>(
        "batch/v1",
        "CronJob",
        &cron,
        json!({
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {
                "name": "nightly", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "nightly"}
            },
            "spec": {
                "schedule": "0 3 * * *",
                "timeZone": "Etc/UTC",
                "suspend": false,
                "jobTemplate": {"metadata": {"name": "nightly"}, "spec": job_spec_json}
            },
            "status": {"lastScheduleTime": "2024-01-02T03:04:05Z"}
        }),
    );
}

#[test]
fn events_with_micro_time() {
    let micro = pbmeta::MicroTime {
        seconds: Some(T0),
        nanos: Some(123_456_789),
    };
    let ev = pbcore::Event {
        metadata: Some(meta("web.1", "default")),
        involved_object: Some(pbcore::ObjectReference {
            kind: s("Pod"),
            name: s("web"),
            namespace: s("default"),
            ..Default::default()
        }),
        reason: s("Started"),
        message: s("Started container"),
        first_timestamp: Some(time(T0)),
        last_timestamp: Some(pbmeta::Time {
            seconds: Some(T0 + 60),
            nanos: Some(999),
        }),
        count: Some(2),
        r#type: s("Normal"),
        event_time: Some(micro),
        series: Some(pbcore::EventSeries {
            count: Some(2),
            last_observed_time: Some(micro),
        }),
        ..Default::default()
    };
    let got = check::<k8s_openapi::api::core::v1::Event, _>(
        "v1",
        "Event",
        &ev,
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": "web.1", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web.1"}
            },
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
            "reason": "Started",
            "message": "Started container",
            "firstTimestamp": "2024-01-02T03:04:05Z",
            "lastTimestamp": "2024-01-02T03:05:05Z",
            "count": 2,
            "type": "Normal",
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-01-02T03:04:05.123456Z"}
        }),
    );
    assert_eq!(got["eventTime"], json!("2024-01-02T03:04:05.123456Z"));

    use k8s_pb::api::events::v1 as pbevents;
    let ev2 = pbevents::Event {
        metadata: Some(meta("web.2", "default")),
        event_time: Some(micro),
        reporting_controller: s("skiff/kubelet"),
        reporting_instance: s("node-1"),
        action: s("Pulling"),
        reason: s("Pulling"),
        note: s("pulling image"),
        r#type: s("Normal"),
        // Go's zero Time written explicitly as seconds must also become null.
        deprecated_first_timestamp: Some(time(GO_ZERO_TIME_SECONDS)),
        ..Default::default()
    };
    check::<k8s_openapi::api::events::v1::Event, _>(
        "events.k8s.io/v1",
        "Event",
        &ev2,
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "name": "web.2", "namespace": "default",
                "creationTimestamp": "2024-01-02T03:04:05Z", "labels": {"app": "web.2"}
            },
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "reportingController": "skiff/kubelet",
            "reportingInstance": "node-1",
            "action": "Pulling",
            "reason": "Pulling",
            "note": "pulling image",
            "type": "Normal",
            "deprecatedFirstTimestamp": null
        }),
    );
}

#[test]
fn auth_reviews_and_token_request() {
    use k8s_pb::api::authentication::v1 as pbauthn;
    use k8s_pb::api::authorization::v1 as pbauthz;
    let review = pbauthz::SelfSubjectAccessReview {
        metadata: Some(pbmeta::ObjectMeta::default()),
        spec: Some(pbauthz::SelfSubjectAccessReviewSpec {
            resource_attributes: Some(pbauthz::ResourceAttributes {
                namespace: s("default"),
                verb: s("create"),
                group: s(""),
                resource: s("pods"),
                ..Default::default()
            }),
            non_resource_attributes: None,
        }),
        status: Some(pbauthz::SubjectAccessReviewStatus {
            allowed: Some(false),
            ..Default::default()
        }),
    };
    check::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview, _>(
        "authorization.k8s.io/v1",
        "SelfSubjectAccessReview",
        &review,
        json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "metadata": {},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
            "status": {"allowed": false}
        }),
    );

    let token = pbauthn::TokenRequest {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("builder"),
            namespace: s("ci"),
            ..Default::default()
        }),
        spec: Some(pbauthn::TokenRequestSpec {
            audiences: vec!["https://kubernetes.default.svc".into()],
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        }),
        status: None,
    };
    check::<k8s_openapi::api::authentication::v1::TokenRequest, _>(
        "authentication.k8s.io/v1",
        "TokenRequest",
        &token,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "metadata": {"name": "builder", "namespace": "ci"},
            "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600}
        }),
    );

    let tr = pbauthn::TokenReview {
        metadata: None,
        spec: Some(pbauthn::TokenReviewSpec {
            token: s("abc"),
            audiences: vec![],
        }),
        status: Some(pbauthn::TokenReviewStatus {
            authenticated: Some(true),
            user: Some(pbauthn::UserInfo {
                username: s("alice"),
                uid: s("42"),
                groups: vec!["dev".into()],
                extra: [
                    (
                        "scopes".to_string(),
                        pbauthn::ExtraValue {
                            items: vec!["a".into(), "b".into()],
                        },
                    ),
                    ("none".to_string(), pbauthn::ExtraValue { items: vec![] }),
                ]
                .into(),
            }),
            audiences: vec![],
            error: None,
        }),
    };
    check::<k8s_openapi::api::authentication::v1::TokenReview, _>(
        "authentication.k8s.io/v1",
        "TokenReview",
        &tr,
        json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": "abc"},
            "status": {
                "authenticated": true,
                "user": {"username": "alice", "uid": "42", "groups": ["dev"], "extra": {"none": [], "scopes": ["a", "b"]}}
            }
        }),
    );
}

#[test]
fn rbac_and_endpoint_slice_defaults_kept() {
    use k8s_pb::api::discovery::v1 as pbdisc;
    use k8s_pb::api::rbac::v1 as pbrbac;
    let rb = pbrbac::RoleBinding {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("view"),
            namespace: s("default"),
            ..Default::default()
        }),
        subjects: vec![pbrbac::Subject {
            kind: s("ServiceAccount"),
            api_group: s(""),
            name: s("builder"),
            namespace: s("default"),
        }],
        role_ref: Some(pbrbac::RoleRef {
            api_group: s("rbac.authorization.k8s.io"),
            kind: s("ClusterRole"),
            name: s("view"),
        }),
    };
    check::<k8s_openapi::api::rbac::v1::RoleBinding, _>(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        &rb,
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "view", "namespace": "default"},
            "subjects": [{"kind": "ServiceAccount", "name": "builder", "namespace": "default"}],
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
        }),
    );

    let slice = pbdisc::EndpointSlice {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("web-abc"),
            ..Default::default()
        }),
        address_type: s("IPv4"),
        endpoints: vec![pbdisc::Endpoint {
            addresses: vec!["10.42.0.5".into()],
            conditions: Some(pbdisc::EndpointConditions {
                ready: Some(false),
                serving: Some(true),
                terminating: Some(false),
            }),
            ..Default::default()
        }],
        ports: vec![pbdisc::EndpointPort {
            name: s("http"),
            port: Some(0),
            ..Default::default()
        }],
    };
    let got = check::<k8s_openapi::api::discovery::v1::EndpointSlice, _>(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        &slice,
        json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abc"},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": false, "serving": true, "terminating": false}}],
            "ports": [{"name": "http", "port": 0}]
        }),
    );
    assert_eq!(got["endpoints"][0]["conditions"]["ready"], json!(false));
}

#[test]
fn crd_schema_special_types() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as pbext;
    let raw = |v: &Value| pbext::Json {
        raw: Some(serde_json::to_vec(v).expect("json")),
    };
    let string_prop = pbext::JsonSchemaProps {
        r#type: s("string"),
        default: Some(raw(&json!("x"))),
        r#enum: vec![raw(&json!("x")), raw(&json!("y"))],
        ..Default::default()
    };
    let schema = pbext::JsonSchemaProps {
        r#type: s("object"),
        properties: [
            ("name".to_string(), string_prop),
            (
                "tags".to_string(),
                pbext::JsonSchemaProps {
                    r#type: s("array"),
                    items: Some(Box::new(pbext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(pbext::JsonSchemaProps {
                            r#type: s("string"),
                            ..Default::default()
                        })),
                        j_son_schemas: vec![],
                    })),
                    x_kubernetes_list_type: s("set"),
                    ..Default::default()
                },
            ),
            (
                "extra".to_string(),
                pbext::JsonSchemaProps {
                    r#type: s("object"),
                    x_kubernetes_preserve_unknown_fields: Some(true),
                    additional_properties: Some(Box::new(pbext::JsonSchemaPropsOrBool {
                        allows: Some(true),
                        schema: None,
                    })),
                    ..Default::default()
                },
            ),
        ]
        .into(),
        required: vec!["name".into()],
        ..Default::default()
    };
    let crd = pbext::CustomResourceDefinition {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("widgets.example.com"),
            ..Default::default()
        }),
        spec: Some(pbext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            names: Some(pbext::CustomResourceDefinitionNames {
                plural: s("widgets"),
                singular: s("widget"),
                kind: s("Widget"),
                list_kind: s("WidgetList"),
                ..Default::default()
            }),
            scope: s("Namespaced"),
            versions: vec![pbext::CustomResourceDefinitionVersion {
                name: s("v1"),
                served: Some(true),
                storage: Some(true),
                schema: Some(pbext::CustomResourceValidation {
                    open_apiv3_schema: Some(schema),
                }),
                subresources: Some(pbext::CustomResourceSubresources {
                    status: Some(pbext::CustomResourceSubresourceStatus {}),
                    scale: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    };
    let got = check::<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        _,
    >(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        &crd,
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "extra": {"type": "object", "additionalProperties": true, "x-kubernetes-preserve-unknown-fields": true},
                            "name": {"type": "string", "default": "x", "enum": ["x", "y"]},
                            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
                        }
                    }},
                    "subresources": {"status": {}}
                }]
            }
        }),
    );
    assert_eq!(
        got["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["extra"]
            ["x-kubernetes-preserve-unknown-fields"],
        json!(true)
    );
}

#[test]
fn raw_extension_json_and_embedded_protobuf() {
    use k8s_pb::api::apps::v1 as pbapps;
    use k8s_pb::apimachinery::pkg::runtime::RawExtension;
    let cr = pbapps::ControllerRevision {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("rev-1"),
            ..Default::default()
        }),
        data: Some(RawExtension {
            raw: Some(br#"{"spec":{"x":[1,2]}}"#.to_vec()),
        }),
        revision: Some(1),
    };
    let got = decode(&envelope("apps/v1", "ControllerRevision", &cr)).expect("decode");
    assert_eq!(got["data"], json!({"spec": {"x": [1, 2]}}));
    assert_eq!(got["revision"], json!(1));

    let inner = envelope(
        "v1",
        "ConfigMap",
        &pbcore::ConfigMap {
            data: labels(&[("k", "v")]),
            ..Default::default()
        },
    );
    let cr = pbapps::ControllerRevision {
        data: Some(RawExtension { raw: Some(inner) }),
        ..Default::default()
    };
    let got = decode(&envelope("apps/v1", "ControllerRevision", &cr)).expect("decode");
    assert_eq!(
        got["data"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})
    );

    let bad = pbapps::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"{not json".to_vec()),
        }),
        ..Default::default()
    };
    assert!(matches!(
        decode(&envelope("apps/v1", "ControllerRevision", &bad)),
        Err(ProtobufError::InvalidEmbeddedJson { .. })
    ));
}

#[test]
fn delete_options_fall_back_to_meta() {
    let opts = pbmeta::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: s("Foreground"),
        ..Default::default()
    };
    let got = decode(&envelope("apps/v1", "DeleteOptions", &opts)).expect("decode");
    assert_eq!(
        got,
        json!({"apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"})
    );
}

#[test]
fn unknown_fields_are_skipped_and_merge_semantics() {
    let cm = pbcore::ConfigMap {
        data: labels(&[("a", "1")]),
        ..Default::default()
    };
    let mut raw = cm.encode_to_vec();
    // field 99 varint, field 98 fixed64, field 97 length-delimited, field 96 fixed32
    raw.extend([0x98, 0x06, 0x05]);
    raw.extend([0x91, 0x06, 1, 2, 3, 4, 5, 6, 7, 8]);
    raw.extend([0x8a, 0x06, 0x02, b'x', b'y']);
    raw.extend([0x85, 0x06, 1, 2, 3, 4]);
    // a second map entry for `data` merges into the same object
    raw.extend(
        pbcore::ConfigMap {
            data: labels(&[("b", "2")]),
            ..Default::default()
        }
        .encode_to_vec(),
    );
    let got = decode_object("v1", "ConfigMap", &raw).expect("decode");
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}})
    );
}

#[test]
fn error_cases() {
    let cm = envelope("v1", "ConfigMap", &pbcore::ConfigMap::default());
    assert_eq!(decode(b"{\"kind\":1}"), Err(ProtobufError::MissingMagic));
    assert_eq!(decode(b""), Err(ProtobufError::MissingMagic));
    assert!(decode(&cm).is_ok());

    // Truncated varint: key byte with the continuation bit set and nothing after.
    let mut truncated = MAGIC.to_vec();
    truncated.push(0x80);
    assert_eq!(decode(&truncated), Err(ProtobufError::TruncatedVarint));

    // Overlong varint.
    let mut overlong = MAGIC.to_vec();
    overlong.extend([0xff; 11]);
    assert_eq!(decode(&overlong), Err(ProtobufError::VarintOverflow));

    // Bad length: TypeMeta claims 100 bytes but only 2 follow.
    let mut bad_len = MAGIC.to_vec();
    bad_len.extend([0x0a, 100, 0x0a, 0x00]);
    assert!(matches!(
        decode(&bad_len),
        Err(ProtobufError::BadLength { len: 100, .. })
    ));

    // Huge length does not allocate or overflow.
    let mut huge = MAGIC.to_vec();
    huge.extend([
        0x12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
    ]);
    assert!(matches!(
        decode(&huge),
        Err(ProtobufError::BadLength { .. })
    ));

    // Unknown kind names the kind.
    let err = decode(&envelope(
        "v1",
        "Frobnicator",
        &pbcore::ConfigMap::default(),
    ))
    .expect_err("unknown kind");
    assert!(err.to_string().contains("Frobnicator"), "{err}");
    assert!(matches!(
        decode(&envelope(
            "nope.example.com/v1",
            "Widget",
            &pbcore::ConfigMap::default()
        )),
        Err(ProtobufError::UnknownKind { .. })
    ));

    // Missing TypeMeta.
    let mut no_tm = MAGIC.to_vec();
    no_tm.extend([0x12, 0x00]);
    assert_eq!(decode(&no_tm), Err(ProtobufError::MissingTypeMeta));

    // Wrong wire type for a known field (ConfigMap.metadata as varint).
    assert!(matches!(
        decode_object("v1", "ConfigMap", &[0x08, 0x01]),
        Err(ProtobufError::WrongWireType { .. })
    ));

    // Field number 0 and group wire types are rejected.
    assert!(matches!(
        decode_object("v1", "ConfigMap", &[0x00, 0x01]),
        Err(ProtobufError::InvalidFieldNumber(0))
    ));
    assert_eq!(
        decode_object("v1", "ConfigMap", &[0xcb, 0x06]),
        Err(ProtobufError::UnsupportedWireType(3))
    );

    // Invalid IntOrString type.
    let svc = pbcore::Service {
        spec: Some(pbcore::ServiceSpec {
            ports: vec![pbcore::ServicePort {
                target_port: Some(IntOrString {
                    r#type: Some(7),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        decode(&envelope("v1", "Service", &svc)),
        Err(ProtobufError::InvalidIntOrString(7))
    );

    // Content encodings are not supported.
    let mut unknown = Unknown::decode(cm.get(4..).unwrap_or_default()).expect("unknown");
    unknown.content_encoding = s("gzip");
    let mut gz = MAGIC.to_vec();
    gz.extend(unknown.encode_to_vec());
    assert!(matches!(
        decode(&gz),
        Err(ProtobufError::UnsupportedContentEncoding(_))
    ));
}

#[test]
fn nesting_depth_is_bounded() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as pbext;
    let nested = |levels: usize| {
        let mut props = pbext::JsonSchemaProps {
            r#type: s("string"),
            ..Default::default()
        };
        for _ in 0..levels {
            props = pbext::JsonSchemaProps {
                not: Some(Box::new(props)),
                ..Default::default()
            };
        }
        pbext::CustomResourceDefinition {
            spec: Some(pbext::CustomResourceDefinitionSpec {
                versions: vec![pbext::CustomResourceDefinitionVersion {
                    schema: Some(pbext::CustomResourceValidation {
                        open_apiv3_schema: Some(props),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    };
    let ok = decode(&envelope(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        &nested(20),
    ))
    .expect("shallow schema decodes");
    assert!(
        ok["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["not"]["not"]["not"].is_object()
    );
    assert_eq!(
        decode(&envelope(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            &nested(500)
        )),
        Err(ProtobufError::TooDeep)
    );
}

#[test]
fn garbage_never_panics() {
    // Deterministic pseudo-random inputs, with and without a valid envelope prefix.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let prefix = envelope(
        "apps/v1",
        "Deployment",
        &k8s_pb::api::apps::v1::Deployment::default(),
    );
    for i in 0..3000 {
        let len = (next() % 200) as usize;
        let mut body: Vec<u8> = if i % 2 == 0 {
            prefix.clone()
        } else {
            MAGIC.to_vec()
        };
        body.extend((0..len).map(|_| (next() & 0xff) as u8));
        let _ = decode(&body);
        for kind in ["Deployment", "Pod", "CustomResourceDefinition", "Event"] {
            let av = match kind {
                "Deployment" => "apps/v1",
                "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
                _ => "v1",
            };
            let _ = decode_object(av, kind, body.get(4..).unwrap_or_default());
        }
    }
}

#[test]
fn go_duration_format() {
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(90_000_000_000), "1m30s");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(100_000_000), "100ms");
    assert_eq!(go_duration(1_500), "1.5µs");
    assert_eq!(go_duration(7), "7ns");
    assert_eq!(go_duration(-2_000_000_000), "-2s");
    assert_eq!(go_duration(i64::MIN), "-2562047h47m16.854775808s");
}

#[test]
fn descriptor_table_is_consistent() {
    assert!(MESSAGES.windows(2).all(|w| w[0].name < w[1].name));
    assert!(PACKAGES.windows(2).all(|w| w[0].0 < w[1].0));
    for m in MESSAGES {
        assert!(
            m.fields.windows(2).all(|w| w[0].tag < w[1].tag),
            "{}",
            m.name
        );
        for f in m.fields {
            assert!(!f.json.is_empty());
            if f.kind == Kind::Msg {
                assert!(usize::from(f.msg) < MESSAGES.len(), "{}.{}", m.name, f.json);
            }
            if f.label == Label::Inline {
                assert_eq!(f.kind, Kind::Msg);
            }
        }
    }
    // Every package has at least one message and every kind kubectl creates resolves.
    for (av, pkg) in PACKAGES {
        assert!(
            MESSAGES.iter().any(|m| m.package() == *pkg),
            "{av} -> {pkg}"
        );
    }
    for (av, kind) in [
        ("v1", "Pod"),
        ("v1", "ServiceAccount"),
        ("v1", "ResourceQuota"),
        ("apps/v1", "StatefulSet"),
        ("networking.k8s.io/v1", "Ingress"),
        ("policy/v1", "PodDisruptionBudget"),
        ("policy/v1", "Eviction"),
        ("scheduling.k8s.io/v1", "PriorityClass"),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        ("coordination.k8s.io/v1", "Lease"),
        ("storage.k8s.io/v1", "CSIDriver"),
        ("autoscaling/v1", "Scale"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("certificates.k8s.io/v1", "CertificateSigningRequest"),
        ("node.k8s.io/v1", "RuntimeClass"),
        (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
        ),
        ("authentication.k8s.io/v1", "TokenReview"),
        ("authorization.k8s.io/v1", "SubjectAccessReview"),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
        ("flowcontrol.apiserver.k8s.io/v1", "FlowSchema"),
        ("v1", "DeleteOptions"),
    ] {
        assert!(find_message(av, kind).is_some(), "{av} {kind}");
    }
}

#[test]
fn ingress_inline_rule_value() {
    use k8s_pb::api::networking::v1 as pbnet;
    let ing = pbnet::Ingress {
        metadata: Some(pbmeta::ObjectMeta {
            name: s("web"),
            namespace: s("default"),
            ..Default::default()
        }),
        spec: Some(pbnet::IngressSpec {
            ingress_class_name: s("traefik"),
            rules: vec![pbnet::IngressRule {
                host: s("example.com"),
                ingress_rule_value: Some(pbnet::IngressRuleValue {
                    http: Some(pbnet::HttpIngressRuleValue {
                        paths: vec![pbnet::HttpIngressPath {
                            path: s("/"),
                            path_type: s("Prefix"),
                            backend: Some(pbnet::IngressBackend {
                                service: Some(pbnet::IngressServiceBackend {
                                    name: s("web"),
                                    port: Some(pbnet::ServiceBackendPort {
                                        name: s(""),
                                        number: Some(80),
                                    }),
                                }),
                                resource: None,
                            }),
                        }],
                    }),
                }),
            }],
            ..Default::default()
        }),
        status: None,
    };
    check::<k8s_openapi::api::networking::v1::Ingress, _>(
        "networking.k8s.io/v1",
        "Ingress",
        &ing,
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "ingressClassName": "traefik",
                "rules": [{"host": "example.com", "http": {"paths": [{
                    "path": "/", "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": {"number": 80}}}
                }]}}]
            }
        }),
    );
}
