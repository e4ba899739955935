//! Pod spec → Docker container configuration: the sandbox (pause image, pod hostname, the
//! node's bridge network or the host's) and app containers joining its namespaces, with
//! command/args (`$(VAR)` expanded from the resolved environment, as upstream), workingDir, the
//! environment ([`super::env`]), the mounts ([`super::volumes`]), resources and securityContext
//! ([`super::security`]), the stop timeout (the grace period) and the labels the kubelet finds
//! them by.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, Mount};
use k8s_openapi::api::core::v1::{Container, Pod};

use super::env::expand;
use super::pause::{PAUSE_IMAGE, PAUSE_PATH};
use super::{
    ATTEMPT_LABEL, CLUSTER_LABEL, CONTAINER_LABEL, MANAGED_LABEL, POD_NAMESPACE_LABEL,
    POD_NAME_LABEL, POD_UID_LABEL, SANDBOX_NAME,
};

/// Whether the pod uses the host's network namespace.
pub fn host_network(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false)
}

/// The labels of a container of `pod` (`container` is [`SANDBOX_NAME`] for the sandbox).
pub fn labels(pod: &Pod, cluster: &str, container: &str, attempt: i32) -> HashMap<String, String> {
    let meta = &pod.metadata;
    HashMap::from([
        (MANAGED_LABEL.to_string(), "true".to_string()),
        (CLUSTER_LABEL.to_string(), cluster.to_string()),
        (
            POD_UID_LABEL.to_string(),
            meta.uid.clone().unwrap_or_default(),
        ),
        (
            POD_NAMESPACE_LABEL.to_string(),
            meta.namespace.clone().unwrap_or_default(),
        ),
        (
            POD_NAME_LABEL.to_string(),
            meta.name.clone().unwrap_or_default(),
        ),
        (CONTAINER_LABEL.to_string(), container.to_string()),
        (ATTEMPT_LABEL.to_string(), attempt.to_string()),
    ])
}

/// Docker's name for a container, as dockershim named them:
/// `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`.
pub fn docker_name(pod: &Pod, container: &str, attempt: i32) -> String {
    let meta = &pod.metadata;
    format!(
        "k8s_{container}_{}_{}_{}_{attempt}",
        meta.name.as_deref().unwrap_or_default(),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.uid.as_deref().unwrap_or_default()
    )
}

/// The sandbox of `pod`: the pause program on `network` (or the host's network).
pub fn sandbox_config(pod: &Pod, cluster: &str, network: &str) -> ContainerCreateBody {
    let host = host_network(pod);
    let hostname = super::dns::hostname(pod);
    ContainerCreateBody {
        image: Some(PAUSE_IMAGE.to_string()),
        entrypoint: Some(vec![PAUSE_PATH.to_string()]),
        hostname: (!host).then_some(hostname),
        labels: Some(labels(pod, cluster, SANDBOX_NAME, 0)),
        host_config: Some(HostConfig {
            network_mode: Some(if host { "host" } else { network }.to_string()),
            ipc_mode: Some("shareable".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What a container is created with besides its spec: the resolved environment and mounts.
#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// `NAME`, `value` pairs ([`super::env::resolve`]).
    pub env: Vec<(String, String)>,
    /// Volume mounts plus the pod's `/etc/hosts` and `/etc/resolv.conf`.
    pub mounts: Vec<Mount>,
}

/// An app (or init) container of `pod` joining the sandbox `sandbox_id`.
pub fn container_config(
    pod: &Pod,
    c: &Container,
    cluster: &str,
    sandbox_id: &str,
    attempt: i32,
    prepared: &Prepared,
) -> ContainerCreateBody {
    let vars: HashMap<&str, &str> = prepared
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let env: Vec<String> = prepared
        .env
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let expand_all = |list: &Option<Vec<String>>| {
        list.as_ref()
            .map(|l| l.iter().map(|s| expand(s, &vars)).collect::<Vec<String>>())
    };
    let command: Option<Vec<String>> = expand_all(&c.command);
    let args: Option<Vec<String>> = expand_all(&c.args);
    // Upstream: `command` replaces the image's entrypoint (and drops its cmd), `args` its cmd.
    let (entrypoint, cmd) = match (command, args) {
        (Some(cmd), args) => (Some(cmd), Some(args.unwrap_or_default())),
        (None, args) => (None, args),
    };
    let security = super::security::effective(pod, c);
    let mut host = HostConfig {
        network_mode: Some(format!("container:{sandbox_id}")),
        ipc_mode: Some(format!("container:{sandbox_id}")),
        mounts: (!prepared.mounts.is_empty()).then(|| prepared.mounts.clone()),
        ..Default::default()
    };
    super::security::apply_resources(c, &mut host);
    security.apply(&mut host);
    ContainerCreateBody {
        image: c.image.clone(),
        entrypoint,
        cmd,
        user: security.user(),
        stop_timeout: Some(grace_period(pod)),
        env: Some(env),
        working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
        tty: c.tty,
        open_stdin: c.stdin,
        stdin_once: c.stdin_once,
        attach_stdin: c.stdin,
        labels: Some(labels(pod, cluster, &c.name, attempt)),
        host_config: Some(host),
        ..Default::default()
    }
}

/// The pod's `terminationGracePeriodSeconds` (default 30), Docker's stop timeout.
pub fn grace_period(pod: &Pod) -> i64 {
    pod.spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::downward::PodRuntimeInfo;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{
                "name": "c", "image": "busybox:1.35", "command": ["sh", "-c"],
                "args": ["echo $(GREETING) $$HOME $(MISSING)"],
                "env": [
                    {"name": "WHO", "value": "world"},
                    {"name": "GREETING", "value": "hello $(WHO)"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                ],
            }]},
        }))
        .unwrap()
    }

    #[test]
    fn env_values_field_refs_and_expansion() {
        let pod = pod();
        let c = &pod.spec.as_ref().unwrap().containers[0];
        let info = PodRuntimeInfo {
            pod_ip: "10.42.0.5".into(),
            host_ip: "192.168.1.2".into(),
            ..Default::default()
        };
        let env = super::super::env::resolve(&pod, c, &info, &Default::default()).unwrap();
        let mount = Mount {
            target: Some("/etc/hosts".into()),
            ..Default::default()
        };
        let prepared = Prepared {
            env,
            mounts: vec![mount.clone()],
        };
        let cfg = container_config(&pod, c, "cl", "sbx", 2, &prepared);
        assert_eq!(
            cfg.env.clone().unwrap(),
            vec![
                "WHO=world",
                "GREETING=hello world",
                "POD=p",
                "IP=10.42.0.5",
                "APP=web"
            ]
        );
        assert_eq!(cfg.entrypoint.unwrap(), vec!["sh", "-c"]);
        assert_eq!(cfg.cmd.unwrap(), vec!["echo hello world $HOME $(MISSING)"]);
        let labels = cfg.labels.unwrap();
        assert_eq!(labels[ATTEMPT_LABEL], "2");
        assert_eq!(labels[POD_UID_LABEL], "u1");
        let host = cfg.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("container:sbx"));
        assert_eq!(host.mounts, Some(vec![mount]));
    }

    #[test]
    fn args_alone_keep_the_image_entrypoint() {
        let mut pod = pod();
        let spec = pod.spec.as_mut().unwrap();
        spec.containers[0].command = None;
        spec.containers[0].args = Some(vec!["sleep".into(), "3600".into()]);
        let c = spec.containers[0].clone();
        let cfg = container_config(&pod, &c, "cl", "sbx", 0, &Prepared::default());
        assert_eq!(cfg.entrypoint, None);
        assert_eq!(cfg.cmd.unwrap(), vec!["sleep", "3600"]);
        assert_eq!(docker_name(&pod, "c", 0), "k8s_c_p_ns_u1_0");
    }
}
