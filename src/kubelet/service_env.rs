//! Service link environment variables, as upstream's `envvars.FromServices`: for the
//! `kubernetes` Service of `default` (always) and every Service of the pod's namespace (unless
//! `enableServiceLinks: false`) with a ClusterIP: `<NAME>_SERVICE_HOST`, `<NAME>_SERVICE_PORT`
//! (plus one per named port) and the Docker link variables (`<NAME>_PORT`,
//! `<NAME>_PORT_<port>_<PROTO>` with `_PROTO`, `_PORT`, `_ADDR`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::ListParams;
use kube::{Api, Client};

/// The Services whose variables the pod gets, by name (a namespace's own Service wins over
/// `default/kubernetes`), only those with a ClusterIP.
pub fn select(pod: &Pod, in_namespace: &[Service], master: Option<&Service>) -> Vec<Service> {
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let mut by_name: BTreeMap<String, Service> = BTreeMap::new();
    if let Some(m) = master.filter(|s| has_ip(s)) {
        by_name.insert(m.metadata.name.clone().unwrap_or_default(), m.clone());
    }
    if links {
        for s in in_namespace.iter().filter(|s| has_ip(s)) {
            by_name.insert(s.metadata.name.clone().unwrap_or_default(), s.clone());
        }
    }
    by_name.into_values().collect()
}

fn has_ip(s: &Service) -> bool {
    let ip = s.spec.as_ref().and_then(|s| s.cluster_ip.as_deref());
    !matches!(ip, None | Some("") | Some("None"))
}

fn var_name(s: &str) -> String {
    s.replace('-', "_").to_ascii_uppercase()
}

/// The variables of `services`, in upstream's order.
pub fn variables(services: &[Service]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for svc in services {
        let spec = svc.spec.clone().unwrap_or_default();
        let ip = spec.cluster_ip.clone().unwrap_or_default();
        let ports = spec.ports.unwrap_or_default();
        let Some(first) = ports.first() else { continue };
        let prefix = var_name(svc.metadata.name.as_deref().unwrap_or_default());
        out.push((format!("{prefix}_SERVICE_HOST"), ip.clone()));
        out.push((format!("{prefix}_SERVICE_PORT"), first.port.to_string()));
        for p in &ports {
            if let Some(n) = p.name.as_deref().filter(|n| !n.is_empty()) {
                out.push((
                    format!("{prefix}_SERVICE_PORT_{}", var_name(n)),
                    p.port.to_string(),
                ));
            }
        }
        let host = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.clone()
        };
        for (i, p) in ports.iter().enumerate() {
            let proto = p.protocol.clone().unwrap_or_else(|| "TCP".to_string());
            let url = format!("{}://{host}:{}", proto.to_ascii_lowercase(), p.port);
            if i == 0 {
                out.push((format!("{prefix}_PORT"), url.clone()));
            }
            let pp = format!("{prefix}_PORT_{}_{}", p.port, proto.to_ascii_uppercase());
            out.push((pp.clone(), url));
            out.push((format!("{pp}_PROTO"), proto.to_ascii_lowercase()));
            out.push((format!("{pp}_PORT"), p.port.to_string()));
            out.push((format!("{pp}_ADDR"), ip.clone()));
        }
    }
    out
}

/// Fetches the Services and returns the pod's service link variables.
pub async fn fetch(client: &Client, pod: &Pod) -> Result<Vec<(String, String)>, kube::Error> {
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let links = pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let local = if links {
        let api: Api<Service> = Api::namespaced(client.clone(), ns);
        api.list(&ListParams::default()).await?.items
    } else {
        Vec::new()
    };
    let default: Api<Service> = Api::namespaced(client.clone(), "default");
    let master = default.get_opt("kubernetes").await?;
    Ok(variables(&select(pod, &local, master.as_ref())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, name: &str, ip: &str, ports: serde_json::Value) -> Service {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": ns},
            "spec": {"clusterIP": ip, "ports": ports},
        }))
        .unwrap()
    }

    #[test]
    fn upstream_variables() {
        let master = svc(
            "default",
            "kubernetes",
            "10.43.0.1",
            serde_json::json!([
            {"name": "https", "port": 443, "protocol": "TCP"}]),
        );
        let web = svc(
            "ns",
            "my-web",
            "10.43.0.9",
            serde_json::json!([
            {"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]),
        );
        let headless = svc("ns", "headless", "None", serde_json::json!([{"port": 80}]));
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"}, "spec": {"containers": []}}))
        .unwrap();
        let chosen = select(&pod, &[web.clone(), headless], Some(&master));
        let vars = variables(&chosen);
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("KUBERNETES_SERVICE_HOST"), Some("10.43.0.1"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT"), Some("443"));
        assert_eq!(get("KUBERNETES_SERVICE_PORT_HTTPS"), Some("443"));
        assert_eq!(get("KUBERNETES_PORT"), Some("tcp://10.43.0.1:443"));
        assert_eq!(get("KUBERNETES_PORT_443_TCP_ADDR"), Some("10.43.0.1"));
        assert_eq!(get("MY_WEB_SERVICE_PORT"), Some("80"));
        assert_eq!(get("MY_WEB_SERVICE_PORT_DNS"), Some("53"));
        assert_eq!(get("MY_WEB_PORT_53_UDP"), Some("udp://10.43.0.9:53"));
        assert_eq!(get("MY_WEB_PORT_53_UDP_PROTO"), Some("udp"));
        assert!(get("HEADLESS_SERVICE_HOST").is_none());

        let no_links: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"enableServiceLinks": false, "containers": []}}))
        .unwrap();
        let chosen = select(&no_links, &[web], Some(&master));
        assert_eq!(chosen.len(), 1, "only the master service");
    }
}
