//! The built-in resource types served by skiff, as data (see [`ResourceType`]).

use super::resource::{ResourceType, Subresource};

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// A compact row of the built-in table: group, version, kind, plural, namespaced, short names,
/// categories, subresources, OpenAPI schema name.
struct Row {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
    schema: &'static str,
}

const ROWS: &[Row] = &[
    Row { group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false, short: &["ns"], categories: &[], subresources: &["status", "finalize"], schema: "io.k8s.api.core.v1.Namespace" },
    Row { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true, short: &["po"], categories: &["all"], subresources: &["status", "binding", "eviction", "ephemeralcontainers", "resize", "log", "exec", "attach", "portforward", "proxy"], schema: "io.k8s.api.core.v1.Pod" },
    Row { group: "", version: "v1", kind: "Service", plural: "services", namespaced: true, short: &["svc"], categories: &["all"], subresources: &["status", "proxy"], schema: "io.k8s.api.core.v1.Service" },
    Row { group: "", version: "v1", kind: "Endpoints", plural: "endpoints", namespaced: true, short: &["ep"], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.Endpoints" },
    Row { group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true, short: &["cm"], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.ConfigMap" },
    Row { group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true, short: &[], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.Secret" },
    Row { group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true, short: &["sa"], categories: &[], subresources: &["token"], schema: "io.k8s.api.core.v1.ServiceAccount" },
    Row { group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false, short: &["no"], categories: &[], subresources: &["status", "proxy"], schema: "io.k8s.api.core.v1.Node" },
    Row { group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, short: &["ev"], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.Event" },
    Row { group: "", version: "v1", kind: "PersistentVolume", plural: "persistentvolumes", namespaced: false, short: &["pv"], categories: &[], subresources: &["status"], schema: "io.k8s.api.core.v1.PersistentVolume" },
    Row { group: "", version: "v1", kind: "PersistentVolumeClaim", plural: "persistentvolumeclaims", namespaced: true, short: &["pvc"], categories: &[], subresources: &["status"], schema: "io.k8s.api.core.v1.PersistentVolumeClaim" },
    Row { group: "", version: "v1", kind: "LimitRange", plural: "limitranges", namespaced: true, short: &["limits"], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.LimitRange" },
    Row { group: "", version: "v1", kind: "ResourceQuota", plural: "resourcequotas", namespaced: true, short: &["quota"], categories: &[], subresources: &["status"], schema: "io.k8s.api.core.v1.ResourceQuota" },
    Row { group: "", version: "v1", kind: "PodTemplate", plural: "podtemplates", namespaced: true, short: &[], categories: &[], subresources: &[], schema: "io.k8s.api.core.v1.PodTemplate" },
    Row { group: "", version: "v1", kind: "ReplicationController", plural: "replicationcontrollers", namespaced: true, short: &["rc"], categories: &["all"], subresources: &["status", "scale"], schema: "io.k8s.api.core.v1.ReplicationController" },
    Row { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true, short: &["deploy"], categories: &["all"], subresources: &["status", "scale"], schema: "io.k8s.api.apps.v1.Deployment" },
    Row { group: "apps", version: "v1", kind: "ReplicaSet", plural: "replicasets", namespaced: true, short: &["rs"], categories: &["all"], subresources: &["status", "scale"], schema: "io.k8s.api.apps.v1.ReplicaSet" },
    Row { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true, short: &["sts"], categories: &["all"], subresources: &["status", "scale"], schema: "io.k8s.api.apps.v1.StatefulSet" },
    Row { group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets", namespaced: true, short: &["ds"], categories: &["all"], subresources: &["status"], schema: "io.k8s.api.apps.v1.DaemonSet" },
    Row { group: "apps", version: "v1", kind: "ControllerRevision", plural: "controllerrevisions", namespaced: true, short: &[], categories: &[], subresources: &[], schema: "io.k8s.api.apps.v1.ControllerRevision" },
    Row { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true, short: &[], categories: &["all"], subresources: &["status"], schema: "io.k8s.api.batch.v1.Job" },
    Row { group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs", namespaced: true, short: &["cj"], categories: &["all"], subresources: &["status"], schema: "io.k8s.api.batch.v1.CronJob" },
    Row { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true, short: &[], categories: &[], subresources: &[], schema: "io.k8s.api.coordination.v1.Lease" },
    Row { group: "discovery.k8s.io", version: "v1", kind: "EndpointSlice", plural: "endpointslices", namespaced: true, short: &[], categories: &[], subresources: &[], schema: "io.k8s.api.discovery.v1.EndpointSlice" },
    Row { group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true, short: &["ev"], categories: &[], subresources: &[], schema: "io.k8s.api.events.v1.Event" },
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn subresource(row: &Row, name: &str) -> Subresource {
    let (group, version, kind, verbs): (&str, &str, &str, &[&str]) = match name {
        "status" => (row.group, row.version, row.kind, &["get", "patch", "update"]),
        "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
        "finalize" => (row.group, row.version, row.kind, &["update"]),
        "binding" => ("", "v1", "Binding", &["create"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest", &["create"]),
        "ephemeralcontainers" | "resize" => (row.group, row.version, row.kind, &["get", "patch", "update"]),
        "log" => ("", "v1", "Pod", &["get"]),
        "exec" | "attach" | "portforward" => ("", "v1", "PodExecOptions", &["create", "get"]),
        _ => ("", "v1", row.kind, &["create", "delete", "get", "patch", "update"]),
    };
    let kind = match name {
        "attach" => "PodAttachOptions",
        "portforward" => "PodPortForwardOptions",
        "proxy" if row.kind == "Pod" => "PodProxyOptions",
        "proxy" if row.kind == "Node" => "NodeProxyOptions",
        "proxy" => "ServiceProxyOptions",
        _ => kind,
    };
    Subresource {
        name: name.to_string(),
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        verbs: strings(verbs),
    }
}

fn to_resource(row: &Row) -> ResourceType {
    let verbs: &[&str] = match row.kind {
        // Upstream serves these without deletecollection.
        "Namespace" => &["create", "delete", "get", "list", "patch", "update", "watch"],
        "Service" => RW,
        _ => RW,
    };
    ResourceType {
        group: row.group.to_string(),
        version: row.version.to_string(),
        kind: row.kind.to_string(),
        list_kind: format!("{}List", row.kind),
        plural: row.plural.to_string(),
        singular: row.kind.to_lowercase(),
        namespaced: row.namespaced,
        short_names: strings(row.short),
        categories: strings(row.categories),
        verbs: strings(verbs),
        subresources: row.subresources.iter().map(|s| subresource(row, s)).collect(),
        schema_name: row.schema.to_string(),
    }
}

/// Every built-in resource type, in discovery order.
pub fn builtin_resources() -> Vec<ResourceType> {
    ROWS.iter().map(to_resource).collect()
}
