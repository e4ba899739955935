//! The downward API, shared by env vars and downwardAPI volumes: `fieldRef` paths
//! (`metadata.name`, `metadata.labels['x']`, `status.podIP`…), whole label/annotation maps in
//! upstream's `key="value"` format, and `resourceFieldRef` values (limits/requests with a
//! divisor, limits defaulting to the node's allocatable as upstream).

use k8s_openapi::api::core::v1::{Pod, ResourceFieldSelector};

use crate::validation::fmt::go_quote;
use crate::validation::Quantity;

/// Values `fieldRef`s may point at that are not in the pod object yet, and the node's
/// allocatable (what unset limits default to).
#[derive(Clone, Debug, Default)]
pub struct PodRuntimeInfo {
    /// The pod's IP (the sandbox's).
    pub pod_ip: String,
    /// The node's IP.
    pub host_ip: String,
    /// The node's allocatable CPU, in millicores.
    pub node_cpu_millis: i64,
    /// The node's allocatable memory, in bytes.
    pub node_memory_bytes: i64,
}

/// The value of a downward-API field path, e.g. `metadata.name`, `status.podIP`,
/// `metadata.labels['app']`, `metadata.labels` (all labels, one `key="value"` per line).
pub fn field_value(pod: &Pod, path: &str, info: &PodRuntimeInfo) -> Option<String> {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let map_key = |prefix: &str| {
        path.strip_prefix(prefix)?
            .strip_suffix("']")
            .map(str::to_string)
    };
    if let Some(key) = map_key("metadata.labels['") {
        let labels = meta.labels.as_ref();
        return Some(
            labels
                .and_then(|l| l.get(&key))
                .cloned()
                .unwrap_or_default(),
        );
    }
    if let Some(key) = map_key("metadata.annotations['") {
        let annotations = meta.annotations.as_ref();
        return Some(
            annotations
                .and_then(|a| a.get(&key))
                .cloned()
                .unwrap_or_default(),
        );
    }
    match path {
        "metadata.name" => meta.name.clone(),
        "metadata.namespace" => meta.namespace.clone(),
        "metadata.uid" => meta.uid.clone(),
        "metadata.labels" => Some(format_map(meta.labels.iter().flatten())),
        "metadata.annotations" => Some(format_map(meta.annotations.iter().flatten())),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()),
        "spec.serviceAccountName" => spec.and_then(|s| s.service_account_name.clone()),
        "status.podIP" | "status.podIPs" => Some(info.pod_ip.clone()),
        "status.hostIP" | "status.hostIPs" => Some(info.host_ip.clone()),
        _ => None,
    }
}

/// Upstream's `fieldpath.FormatMap`: `key="value"` lines sorted by key (Go `%q` quoting), no
/// trailing newline.
pub fn format_map<'a>(map: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut entries: Vec<(&String, &String)> = map.into_iter().collect();
    entries.sort();
    entries
        .iter()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of a `resourceFieldRef` of container `container` (the env var's own container,
/// or `selector.containerName` in volumes), as upstream's `ExtractContainerResourceValue`:
/// rounded up to whole `divisor`s; limits not set are the node's allocatable.
pub fn resource_value(
    pod: &Pod,
    container: &str,
    selector: &ResourceFieldSelector,
    info: &PodRuntimeInfo,
) -> Result<String, String> {
    let spec = pod.spec.as_ref().ok_or("pod has no spec")?;
    let c = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .ok_or_else(|| format!("container {container} not found"))?;
    let resources = c.resources.clone().unwrap_or_default();
    let (kind, name) = selector
        .resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported container resource : {}", selector.resource))?;
    let list = match kind {
        "limits" => resources.limits,
        "requests" => resources.requests,
        _ => {
            return Err(format!(
                "unsupported container resource : {}",
                selector.resource
            ))
        }
    };
    let set = list
        .as_ref()
        .and_then(|l| l.get(name))
        .map(|q| Quantity::parse(&q.0).map_err(|e| e.to_string()))
        .transpose()?;
    let nano = |q: Option<Quantity>| q.map(|q| q.nano_value());
    let value: i128 = match (kind, name) {
        ("limits", "cpu") => nano(set).unwrap_or(i128::from(info.node_cpu_millis) * 1_000_000),
        ("limits", "memory") => {
            nano(set).unwrap_or(i128::from(info.node_memory_bytes) * 1_000_000_000)
        }
        (_, "cpu" | "memory" | "ephemeral-storage") => nano(set).unwrap_or(0),
        ("limits" | "requests", n) if n.starts_with("hugepages-") => nano(set).unwrap_or(0),
        _ => {
            return Err(format!(
                "unsupported container resource : {}",
                selector.resource
            ))
        }
    };
    let divisor = match &selector.divisor {
        Some(d) if !d.0.is_empty() => Quantity::parse(&d.0)
            .map_err(|e| e.to_string())?
            .nano_value(),
        _ => 1_000_000_000,
    };
    if divisor <= 0 {
        return Err("invalid divisor".to_string());
    }
    let mut out = value / divisor;
    if value % divisor != 0 {
        out += 1;
    }
    Ok(out.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1",
                "labels": {"b": "2", "a": "x\"y"}, "annotations": {"note": "hi"}},
            "spec": {"nodeName": "n1", "serviceAccountName": "sa", "containers": [{
                "name": "c", "image": "busybox:1.35",
                "resources": {"limits": {"cpu": "500m", "memory": "64Mi"},
                              "requests": {"cpu": "250m", "memory": "32Mi"}},
            }, {"name": "unlimited", "image": "busybox:1.35"}]},
        }))
        .unwrap()
    }

    fn info() -> PodRuntimeInfo {
        PodRuntimeInfo {
            pod_ip: "10.42.0.5".into(),
            host_ip: "192.168.1.2".into(),
            node_cpu_millis: 2000,
            node_memory_bytes: 4 << 30,
        }
    }

    #[test]
    fn field_paths() {
        let (p, i) = (pod(), info());
        assert_eq!(
            field_value(&p, "metadata.labels", &i).unwrap(),
            "a=\"x\\\"y\"\nb=\"2\""
        );
        assert_eq!(field_value(&p, "metadata.labels['b']", &i).unwrap(), "2");
        assert_eq!(field_value(&p, "metadata.labels['none']", &i).unwrap(), "");
        assert_eq!(
            field_value(&p, "metadata.annotations['note']", &i).unwrap(),
            "hi"
        );
        assert_eq!(
            field_value(&p, "spec.serviceAccountName", &i).unwrap(),
            "sa"
        );
        assert_eq!(field_value(&p, "status.hostIP", &i).unwrap(), "192.168.1.2");
        assert_eq!(field_value(&p, "spec.bogus", &i), None);
    }

    #[test]
    fn resources_with_divisors_and_node_defaults() {
        let (p, i) = (pod(), info());
        let sel = |r: &str, d: Option<&str>| ResourceFieldSelector {
            container_name: None,
            resource: r.into(),
            divisor: d.map(|d| Q(d.into())),
        };
        let v = |c: &str, r: &str, d: Option<&str>| resource_value(&p, c, &sel(r, d), &i);
        assert_eq!(v("c", "limits.cpu", None).unwrap(), "1");
        assert_eq!(v("c", "limits.cpu", Some("1m")).unwrap(), "500");
        assert_eq!(v("c", "requests.cpu", Some("1m")).unwrap(), "250");
        assert_eq!(v("c", "limits.memory", Some("1Mi")).unwrap(), "64");
        assert_eq!(v("c", "requests.memory", None).unwrap(), "33554432");
        assert_eq!(v("unlimited", "limits.cpu", None).unwrap(), "2");
        assert_eq!(v("unlimited", "limits.memory", Some("1Gi")).unwrap(), "4");
        assert_eq!(v("unlimited", "requests.cpu", None).unwrap(), "0");
        assert!(v("c", "limits.bogus", None).is_err());
        assert!(v("missing", "limits.cpu", None).is_err());
    }
}
