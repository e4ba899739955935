//! Row cells per kind: ports of upstream's `printXxx` functions. This module
//! dispatches on the kind and holds the helpers several groups share; the
//! rows themselves live in one module per API group.

mod apps;
mod batch;
mod core_cluster;
mod core_config;
mod core_services;
mod core_workloads;
mod networking;
mod other_groups;
mod storage;

use super::util::*;
use super::Kind;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn name(obj: &Value) -> String {
    s(obj, &["metadata", "name"]).to_string()
}

fn deleting(obj: &Value) -> bool {
    parse_time(at(obj, &["metadata", "deletionTimestamp"])).is_some()
}

/// The row cells of `o`, printed as `kind`.
pub(crate) fn cells(kind: Kind, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    match kind {
        Kind::Pod => core_workloads::pod(o, now),
        Kind::PodTemplate => core_workloads::pod_template(o),
        Kind::PodDisruptionBudget => other_groups::pod_disruption_budget(o, now),
        Kind::ReplicationController => core_workloads::replication_controller(o, now),
        Kind::ReplicaSet => apps::replica_set(o, now),
        Kind::DaemonSet => apps::daemon_set(o, now),
        Kind::Job => batch::job(o, now),
        Kind::CronJob => batch::cron_job(o, now),
        Kind::Service => core_services::service(o, now),
        Kind::Ingress => networking::ingress(o, now),
        Kind::IngressClass => networking::ingress_class(o, now),
        Kind::StatefulSet => apps::stateful_set(o, now),
        Kind::Endpoints => core_services::endpoints(o, now),
        Kind::Node => core_cluster::node(o, now),
        Kind::Event => core_cluster::core_event(o, now),
        Kind::EventsV1 => core_cluster::events_v1_event(o, now),
        Kind::Namespace => core_cluster::namespace(o, now),
        Kind::Secret => core_config::secret(o, now),
        Kind::ServiceAccount => core_config::service_account(o, now),
        Kind::PersistentVolume => core_config::pv(o, now),
        Kind::PersistentVolumeClaim => core_config::pvc(o, now),
        Kind::Deployment => apps::deployment(o, now),
        Kind::HorizontalPodAutoscaler => other_groups::hpa(o, now),
        Kind::ConfigMap => core_config::config_map(o, now),
        Kind::NetworkPolicy => networking::network_policy(o, now),
        Kind::RoleBinding | Kind::ClusterRoleBinding => other_groups::role_binding(o, now),
        Kind::CertificateSigningRequest => other_groups::csr(o, now),
        Kind::Lease => other_groups::lease(o, now),
        Kind::StorageClass => storage::storage_class(o, now),
        Kind::ControllerRevision => apps::controller_revision(o, now),
        Kind::ResourceQuota => core_config::resource_quota(o, now),
        Kind::PriorityClass => other_groups::priority_class(o, now),
        Kind::RuntimeClass => other_groups::runtime_class(o, now),
        Kind::VolumeAttachment => storage::volume_attachment(o, now),
        Kind::EndpointSlice => networking::endpoint_slice(o, now),
        Kind::CsiNode => storage::csi_node(o, now),
        Kind::CsiDriver => storage::csi_driver(o, now),
        Kind::MutatingWebhook | Kind::ValidatingWebhook => {
            other_groups::webhook_configuration(o, now)
        }
        Kind::Default => default_row(o),
    }
}

/// Upstream's `DefaultTableConvertor` row: Name, Created At.
fn default_row(o: &Value) -> Vec<Value> {
    // DefaultTableConvertor: creationTimestamp.UTC().Format(RFC3339).
    let created = parse_time(at(o, &["metadata", "creationTimestamp"]))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    vec![json!(name(o)), json!(created)]
}

fn has_condition(conds: &[Value], type_: &str) -> bool {
    conds
        .iter()
        .find(|c| s(c, &["type"]) == type_)
        .is_some_and(|c| s(c, &["status"]) == "True")
}

fn lb_status_string(ingress: &[Value]) -> String {
    let mut result: Vec<String> = Vec::new();
    for ing in ingress {
        let ip = s(ing, &["ip"]);
        let host = s(ing, &["hostname"]);
        if !ip.is_empty() {
            result.push(ip.to_string());
        } else if !host.is_empty() {
            result.push(host.to_string());
        }
    }
    result.sort();
    result.dedup();
    result.join(",")
}
