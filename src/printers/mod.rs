//! Server-side Table printing (`application/json;as=Table;v=v1;g=meta.k8s.io`)
//! and per-kind field selectors, ported from upstream Kubernetes v1.33
//! (`pkg/printers/internalversion/printers.go`, the registry strategies and
//! the field-label conversion functions).
//!
//! Objects are handled as their Kubernetes JSON (`serde_json::Value`); every
//! field may be missing or malformed, in which case the Go zero value is used.

mod cells;
mod desc;
mod fields;
mod util;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub use fields::{
    field_value, matches, parse_field_selector, FieldOp, FieldRequirement, UnsupportedField,
};
pub use util::human_duration;

/// One `metav1.TableColumnDefinition`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column header, e.g. `Name`.
    pub name: &'static str,
    /// OpenAPI type: `string`, `integer`, `number`, `boolean` or `date`.
    pub type_: &'static str,
    /// OpenAPI format, e.g. `name` for the first column; usually empty.
    pub format: &'static str,
    /// Human readable description.
    pub description: &'static str,
    /// 0 for default columns, 1 for `-o wide` columns.
    pub priority: i32,
}

const fn c(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 0,
    }
}

const fn w(name: &'static str, type_: &'static str, description: &'static str) -> Column {
    Column {
        name,
        type_,
        format: "",
        description,
        priority: 1,
    }
}

const NAME: Column = Column {
    name: "Name",
    type_: "string",
    format: "name",
    description: desc::OBJ_NAME,
    priority: 0,
};
const AGE: Column = c("Age", "string", desc::OBJ_CREATED);
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

/// The printers known to this module (one per upstream handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pod,
    PodTemplate,
    PodDisruptionBudget,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    EventsV1,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Deployment,
    HorizontalPodAutoscaler,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    CertificateSigningRequest,
    Lease,
    StorageClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    RuntimeClass,
    VolumeAttachment,
    EndpointSlice,
    CsiNode,
    CsiDriver,
    MutatingWebhook,
    ValidatingWebhook,
    /// Upstream's `DefaultTableConvertor`: Name, Created At.
    Default,
}

pub(crate) fn kind_of(group: &str, kind: &str) -> Kind {
    match (group, kind) {
        ("", "Pod") => Kind::Pod,
        ("", "PodTemplate") => Kind::PodTemplate,
        ("policy", "PodDisruptionBudget") => Kind::PodDisruptionBudget,
        ("", "ReplicationController") => Kind::ReplicationController,
        ("apps", "ReplicaSet") => Kind::ReplicaSet,
        ("apps", "DaemonSet") => Kind::DaemonSet,
        ("batch", "Job") => Kind::Job,
        ("batch", "CronJob") => Kind::CronJob,
        ("", "Service") => Kind::Service,
        ("networking.k8s.io", "Ingress") => Kind::Ingress,
        ("networking.k8s.io", "IngressClass") => Kind::IngressClass,
        ("apps", "StatefulSet") => Kind::StatefulSet,
        ("", "Endpoints") => Kind::Endpoints,
        ("", "Node") => Kind::Node,
        ("", "Event") => Kind::Event,
        ("events.k8s.io", "Event") => Kind::EventsV1,
        ("", "Namespace") => Kind::Namespace,
        ("", "Secret") => Kind::Secret,
        ("", "ServiceAccount") => Kind::ServiceAccount,
        ("", "PersistentVolume") => Kind::PersistentVolume,
        ("", "PersistentVolumeClaim") => Kind::PersistentVolumeClaim,
        ("apps", "Deployment") => Kind::Deployment,
        ("autoscaling", "HorizontalPodAutoscaler") => Kind::HorizontalPodAutoscaler,
        ("", "ConfigMap") => Kind::ConfigMap,
        ("networking.k8s.io", "NetworkPolicy") => Kind::NetworkPolicy,
        ("rbac.authorization.k8s.io", "RoleBinding") => Kind::RoleBinding,
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => Kind::ClusterRoleBinding,
        ("certificates.k8s.io", "CertificateSigningRequest") => Kind::CertificateSigningRequest,
        ("coordination.k8s.io", "Lease") => Kind::Lease,
        ("storage.k8s.io", "StorageClass") => Kind::StorageClass,
        ("apps", "ControllerRevision") => Kind::ControllerRevision,
        ("", "ResourceQuota") => Kind::ResourceQuota,
        ("scheduling.k8s.io", "PriorityClass") => Kind::PriorityClass,
        ("node.k8s.io", "RuntimeClass") => Kind::RuntimeClass,
        ("storage.k8s.io", "VolumeAttachment") => Kind::VolumeAttachment,
        ("discovery.k8s.io", "EndpointSlice") => Kind::EndpointSlice,
        ("storage.k8s.io", "CSINode") => Kind::CsiNode,
        ("storage.k8s.io", "CSIDriver") => Kind::CsiDriver,
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => Kind::MutatingWebhook,
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            Kind::ValidatingWebhook
        }
        _ => Kind::Default,
    }
}

/// Column definitions a v1.33 apiserver returns for `group`/`kind`
/// (unknown kinds get the default Name / Created At table).
pub fn columns(group: &str, kind: &str) -> Vec<Column> {
    use desc::*;
    match kind_of(group, kind) {
        Kind::Pod => vec![
            NAME,
            c("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            c("Status", "string", "The aggregate status of the containers in this pod."),
            c("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            AGE,
            w("IP", "string", POD_IP),
            w("Node", "string", POD_NODE),
            w("Nominated Node", "string", POD_NOMINATED),
            w("Readiness Gates", "string", POD_GATES),
        ],
        Kind::PodTemplate => vec![
            NAME,
            c("Containers", "string", CONTAINERS_DESC),
            c("Images", "string", IMAGES_DESC),
            c("Pod Labels", "string", "The labels for the pod template."),
        ],
        Kind::PodDisruptionBudget => vec![
            NAME,
            c("Min Available", "string", "The minimum number of pods that must be available."),
            c("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            c("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
            AGE,
        ],
        Kind::ReplicationController => vec![
            NAME,
            c("Desired", "integer", RC_SPEC_REPLICAS),
            c("Current", "integer", RC_STATUS_REPLICAS),
            c("Ready", "integer", RC_STATUS_READY),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", RC_SPEC_SELECTOR),
        ],
        Kind::ReplicaSet => vec![
            NAME,
            c("Desired", "integer", RS_SPEC_REPLICAS),
            c("Current", "integer", RS_STATUS_REPLICAS),
            c("Ready", "integer", RS_STATUS_READY),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", RS_SPEC_SELECTOR),
        ],
        Kind::DaemonSet => vec![
            NAME,
            c("Desired", "integer", DS_DESIRED),
            c("Current", "integer", DS_CURRENT),
            c("Ready", "integer", DS_READY),
            c("Up-to-date", "integer", DS_UPDATED),
            c("Available", "integer", DS_AVAILABLE),
            c("Node Selector", "string", POD_NODE_SELECTOR),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", DS_SELECTOR),
        ],
        Kind::Job => vec![
            NAME,
            c("Status", "string", "Status of the job."),
            c("Completions", "string", JOB_SUCCEEDED),
            c("Duration", "string", "Time required to complete the job."),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", JOB_SELECTOR),
        ],
        Kind::CronJob => vec![
            NAME,
            c("Schedule", "string", CJ_SCHEDULE),
            c("Timezone", "string", CJ_TIMEZONE),
            c("Suspend", "boolean", CJ_SUSPEND),
            c("Active", "integer", CJ_ACTIVE),
            c("Last Schedule", "string", CJ_LAST_SCHEDULE),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", JOB_SELECTOR),
        ],
        Kind::Service => vec![
            NAME,
            c("Type", "string", SVC_TYPE),
            c("Cluster-IP", "string", SVC_CLUSTER_IP),
            c("External-IP", "string", SVC_EXTERNAL_IPS),
            c("Port(s)", "string", SVC_PORTS),
            AGE,
            w("Selector", "string", SVC_SELECTOR),
        ],
        Kind::Ingress => vec![
            NAME,
            c("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
            c("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
            c("Address", "string", "Address is a list containing ingress points for the load-balancer"),
            c("Ports", "string", "Ports of TLS configurations that open"),
            AGE,
        ],
        Kind::IngressClass => vec![
            NAME,
            c("Controller", "string", "Controller that is responsible for handling this class"),
            c("Parameters", "string", "A reference to a resource with additional parameters"),
            AGE,
        ],
        Kind::StatefulSet => vec![
            NAME,
            c("Ready", "string", "Number of the pod with ready state"),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
        ],
        Kind::Endpoints => vec![NAME, c("Endpoints", "string", EP_SUBSETS), AGE],
        Kind::Node => vec![
            NAME,
            c("Status", "string", "The status of the node"),
            c("Roles", "string", "The roles of the node"),
            AGE,
            c("Version", "string", NODE_KUBELET),
            w("Internal-IP", "string", NODE_ADDRESSES),
            w("External-IP", "string", NODE_ADDRESSES),
            w("OS-Image", "string", NODE_OS_IMAGE),
            w("Kernel-Version", "string", NODE_KERNEL),
            w("Container-Runtime", "string", NODE_RUNTIME),
        ],
        Kind::Event | Kind::EventsV1 => vec![
            c("Last Seen", "string", EV_LAST),
            c("Type", "string", EV_TYPE),
            c("Reason", "string", EV_REASON),
            c("Object", "string", EV_OBJECT),
            w("Subobject", "string", OBJREF_FIELDPATH),
            w("Source", "string", EV_SOURCE),
            c("Message", "string", EV_MESSAGE),
            w("First Seen", "string", EV_FIRST),
            w("Count", "string", EV_COUNT),
            Column {
                priority: 1,
                ..NAME
            },
        ],
        Kind::Namespace => vec![NAME, c("Status", "string", "The status of the namespace"), AGE],
        Kind::Secret => vec![
            NAME,
            c("Type", "string", SECRET_TYPE),
            c("Data", "string", SECRET_DATA),
            AGE,
        ],
        Kind::ServiceAccount => vec![NAME, c("Secrets", "string", SA_SECRETS), AGE],
        Kind::PersistentVolume => vec![
            NAME,
            c("Capacity", "string", PV_CAPACITY),
            c("Access Modes", "string", PV_ACCESS),
            c("Reclaim Policy", "string", PV_RECLAIM),
            c("Status", "string", PV_PHASE),
            c("Claim", "string", PV_CLAIM),
            c("StorageClass", "string", "StorageClass of the pv"),
            c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
            c("Reason", "string", PV_REASON),
            AGE,
            w("VolumeMode", "string", PV_VOLUME_MODE),
        ],
        Kind::PersistentVolumeClaim => vec![
            NAME,
            c("Status", "string", PVC_PHASE),
            c("Volume", "string", PVC_VOLUME),
            c("Capacity", "string", PVC_CAPACITY),
            c("Access Modes", "string", PVC_ACCESS),
            c("StorageClass", "string", "StorageClass of the pvc"),
            c("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
            AGE,
            w("VolumeMode", "string", PVC_VOLUME_MODE),
        ],
        Kind::Deployment => vec![
            NAME,
            c("Ready", "string", "Number of the pod with ready state"),
            c("Up-to-date", "string", DEPLOY_UPDATED),
            c("Available", "string", DEPLOY_AVAILABLE),
            AGE,
            w("Containers", "string", CONTAINERS_DESC),
            w("Images", "string", IMAGES_DESC),
            w("Selector", "string", DEPLOY_SELECTOR),
        ],
        Kind::HorizontalPodAutoscaler => vec![
            NAME,
            c("Reference", "string", HPA_REF),
            c("Targets", "string", HPA_METRICS),
            c("MinPods", "string", HPA_MIN),
            c("MaxPods", "string", HPA_MAX),
            c("Replicas", "string", HPA_CURRENT),
            AGE,
        ],
        Kind::ConfigMap => vec![NAME, c("Data", "string", CM_DATA), AGE],
        Kind::NetworkPolicy => vec![NAME, c("Pod-Selector", "string", NP_POD_SELECTOR), AGE],
        Kind::RoleBinding => vec![
            NAME,
            c("Role", "string", RB_ROLEREF),
            AGE,
            w("Users", "string", "Users in the roleBinding"),
            w("Groups", "string", "Groups in the roleBinding"),
            w("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
        ],
        Kind::ClusterRoleBinding => vec![
            NAME,
            c("Role", "string", CRB_ROLEREF),
            AGE,
            w("Users", "string", "Users in the clusterRoleBinding"),
            w("Groups", "string", "Groups in the clusterRoleBinding"),
            w("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
        ],
        Kind::CertificateSigningRequest => vec![
            NAME,
            AGE,
            c("SignerName", "string", CSR_SIGNER),
            c("Requestor", "string", CSR_REQUEST),
            c("RequestedDuration", "string", CSR_EXPIRATION),
            c("Condition", "string", CSR_CONDITIONS),
        ],
        Kind::Lease => vec![NAME, c("Holder", "string", LEASE_HOLDER), AGE],
        Kind::StorageClass => vec![
            NAME,
            c("Provisioner", "string", SC_PROVISIONER),
            c("ReclaimPolicy", "string", SC_RECLAIM),
            c("VolumeBindingMode", "string", SC_BINDING),
            c("AllowVolumeExpansion", "string", SC_EXPANSION),
            AGE,
        ],
        Kind::ControllerRevision => vec![
            NAME,
            c("Controller", "string", "Controller of the object"),
            c("Revision", "string", CR_REVISION),
            AGE,
        ],
        Kind::ResourceQuota => vec![
            NAME,
            AGE,
            c("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
            c("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
        ],
        Kind::PriorityClass => vec![
            NAME,
            c("Value", "integer", PC_VALUE),
            c("Global-Default", "boolean", PC_DEFAULT),
            AGE,
            c("PreemptionPolicy", "string", PC_PREEMPTION),
        ],
        // Upstream looks up ObjectMeta's (nonexistent) "handler" doc: empty.
        Kind::RuntimeClass => vec![NAME, c("Handler", "string", ""), AGE],
        Kind::VolumeAttachment => vec![
            NAME,
            Column {
                format: "name",
                ..c("Attacher", "string", VA_ATTACHER)
            },
            c("PV", "string", VA_PV),
            c("Node", "string", VA_NODE),
            c("Attached", "boolean", VA_ATTACHED),
            AGE,
        ],
        Kind::EndpointSlice => vec![
            NAME,
            c("AddressType", "string", ES_ADDRESS_TYPE),
            c("Ports", "string", ES_PORTS),
            c("Endpoints", "string", ES_ENDPOINTS),
            AGE,
        ],
        Kind::CsiNode => vec![
            NAME,
            c("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
            AGE,
        ],
        Kind::CsiDriver => vec![
            NAME,
            c("AttachRequired", "boolean", CSI_ATTACH),
            c("PodInfoOnMount", "boolean", CSI_PODINFO),
            c("StorageCapacity", "boolean", CSI_CAPACITY),
            c("TokenRequests", "string", CSI_TOKEN),
            c("RequiresRepublish", "boolean", CSI_REPUBLISH),
            c("Modes", "string", CSI_MODES),
            AGE,
        ],
        Kind::MutatingWebhook | Kind::ValidatingWebhook => vec![
            NAME,
            c("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration"),
            AGE,
        ],
        Kind::Default => vec![NAME, c("Created At", "date", OBJ_CREATED)],
    }
}

/// The row cells a v1.33 apiserver returns for `obj` (server-side tables are
/// always generated with the wide columns included). `now` is the reference
/// time for ages.
pub fn cells(group: &str, kind: &str, obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    cells::cells(kind_of(group, kind), obj, now)
}

/// Renders column definitions as the `columnDefinitions` array of a
/// `meta.k8s.io/v1` Table.
pub fn column_definitions_json(cols: &[Column]) -> Value {
    Value::Array(
        cols.iter()
            .map(|col| {
                json!({
                    "name": col.name,
                    "type": col.type_,
                    "format": col.format,
                    "description": col.description,
                    "priority": col.priority,
                })
            })
            .collect(),
    )
}
