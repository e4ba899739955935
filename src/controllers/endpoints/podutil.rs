//! Pod helpers shared by the endpoint, endpoint-slice and disruption controllers (upstream's
//! `podutil` and `endpointutil`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodCondition, Service, ServicePort};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::selectors::Selector;

/// The pod's `Ready` condition.
pub fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

/// Whether the pod's `Ready` condition is `True` (upstream's `IsPodReady`).
pub fn is_ready(pod: &Pod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// The pod's phase (empty when unset).
pub fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or_default()
}

/// Whether the pod has completed (`Succeeded` or `Failed`).
pub fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether the pod is being deleted.
pub fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

/// The pod's primary IP, when it has one.
pub fn pod_ip(pod: &Pod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    status
        .pod_ip
        .as_deref()
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            status
                .pod_ips
                .as_ref()?
                .first()
                .map(|p| p.ip.as_str())
                .filter(|ip| !ip.is_empty())
        })
}

/// Upstream's `ShouldPodBeInEndpoints`: not terminal, has an IP, and not terminating unless
/// `include_terminating`.
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    !is_terminal(pod) && pod_ip(pod).is_some() && (include_terminating || !is_terminating(pod))
}

/// Whether the equality-based `selector` (a Service's) selects `labels`.
pub fn map_selects(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A `metav1.LabelSelector` as a [`Selector`] (nil selects nothing, empty everything); `None`
/// when it is invalid.
pub fn label_selector(sel: Option<&LabelSelector>) -> Option<Selector> {
    let value = serde_json::to_value(sel).ok()?;
    Selector::from_label_selector(&value).ok()
}

/// The pods in `namespace` selected by a Service's selector.
pub fn selected_pods<'a>(
    pods: &'a [std::sync::Arc<Pod>],
    namespace: &str,
    selector: &BTreeMap<String, String>,
) -> Vec<&'a Pod> {
    pods.iter()
        .map(|p| p.as_ref())
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .filter(|p| map_selects(selector, p.metadata.labels.as_ref()))
        .collect()
}

/// Upstream's `FindPort`: the container port a service port targets on `pod` (a named
/// `targetPort` is looked up in the pod's container ports with the same protocol).
pub fn find_port(pod: &Pod, port: &ServicePort) -> Option<i32> {
    let protocol = port.protocol.as_deref().unwrap_or("TCP");
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => {
            if let Ok(n) = name.parse::<i32>() {
                return Some(n);
            }
            let spec = pod.spec.as_ref()?;
            let sidecars = spec
                .init_containers
                .iter()
                .flatten()
                .filter(|c| c.restart_policy.as_deref() == Some("Always"));
            spec.containers
                .iter()
                .chain(sidecars)
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| {
                    p.name.as_deref() == Some(name.as_str())
                        && p.protocol.as_deref().unwrap_or("TCP") == protocol
                })
                .map(|p| p.container_port)
        }
    }
}

/// The hostname a pod gets in a service's endpoints: its `spec.hostname` when its
/// `spec.subdomain` names the service (same namespace).
pub fn hostname_for(pod: &Pod, svc: &Service) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    let hostname = spec.hostname.as_deref().filter(|h| !h.is_empty())?;
    (spec.subdomain.as_deref() == svc.metadata.name.as_deref()
        && pod.metadata.namespace == svc.metadata.namespace)
        .then(|| hostname.to_string())
}

/// The `targetRef` of a pod's endpoint.
pub fn target_ref(pod: &Pod) -> ObjectReference {
    ObjectReference {
        kind: Some("Pod".into()),
        namespace: pod.metadata.namespace.clone(),
        name: pod.metadata.name.clone(),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

/// Whether the service has no cluster IP (headless).
pub fn is_headless(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .is_some_and(|ip| ip == "None")
}

/// Whether the service is of type ExternalName.
pub fn is_external_name(svc: &Service) -> bool {
    svc.spec
        .as_ref()
        .and_then(|s| s.type_.as_deref())
        .is_some_and(|t| t == "ExternalName")
}

/// The controller ownerReference of an object's metadata.
pub fn controller_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec};

    fn pod_with_port(name: &str, port: i32) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".into(),
                    ports: Some(vec![ContainerPort {
                        name: Some(name.into()),
                        container_port: port,
                        ..Default::default()
                    }]),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn named_target_port_resolves_per_pod() {
        let sp = ServicePort {
            port: 80,
            target_port: Some(IntOrString::String("http".into())),
            ..Default::default()
        };
        assert_eq!(find_port(&pod_with_port("http", 8080), &sp), Some(8080));
        assert_eq!(find_port(&pod_with_port("http", 9090), &sp), Some(9090));
        assert_eq!(find_port(&pod_with_port("other", 9090), &sp), None);
        let udp = ServicePort {
            protocol: Some("UDP".into()),
            ..sp
        };
        assert_eq!(find_port(&pod_with_port("http", 8080), &udp), None);
    }
}
