//! The built-in kinds of the smaller API groups (networking, storage, RBAC, policy, scheduling,
//! autoscaling, certificates, node, admission registration), one line each.

use super::builtin::Row;

/// A row of the table: group, version, kind, plural, namespaced, short names, categories,
/// subresources. The OpenAPI schema name follows from group, version and kind.
#[allow(clippy::too_many_arguments)]
const fn r(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    categories: &'static [&'static str],
    subresources: &'static [&'static str],
) -> Row {
    Row {
        group,
        version,
        kind,
        plural,
        namespaced,
        short,
        categories,
        subresources,
        schema: "",
    }
}

const NS: bool = true;
const CLUSTER: bool = false;
const ST: &[&str] = &["status"];

/// The extra rows, in discovery order. Within a group the preferred version comes first.
#[rustfmt::skip]
pub(super) const EXTRA_ROWS: &[Row] = &[
    r("networking.k8s.io", "v1", "Ingress", "ingresses", NS, &["ing"], &[], ST),
    r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", CLUSTER, &[], &[], &[]),
    r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", NS, &["netpol"], &[], &[]),
    r("storage.k8s.io", "v1", "StorageClass", "storageclasses", CLUSTER, &["sc"], &[], &[]),
    r("storage.k8s.io", "v1", "CSIDriver", "csidrivers", CLUSTER, &[], &[], &[]),
    r("storage.k8s.io", "v1", "CSINode", "csinodes", CLUSTER, &[], &[], &[]),
    r("storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", CLUSTER, &[], &[], ST),
    r("storage.k8s.io", "v1", "CSIStorageCapacity", "csistoragecapacities", NS, &[], &[], &[]),
    r("rbac.authorization.k8s.io", "v1", "Role", "roles", NS, &[], &[], &[]),
    r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", CLUSTER, &[], &[], &[]),
    r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", NS, &[], &[], &[]),
    r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", CLUSTER, &[], &[], &[]),
    r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", NS, &["pdb"], &[], ST),
    r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", CLUSTER, &["pc"], &[], &[]),
    r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", NS, &["hpa"], &["all"], ST),
    r("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", NS, &["hpa"], &["all"], ST),
    r("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", CLUSTER, &["csr"], &[], &["status", "approval"]),
    r("node.k8s.io", "v1", "RuntimeClass", "runtimeclasses", CLUSTER, &[], &[], &[]),
    r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", CLUSTER, &[], &["api-extensions"], &[]),
    r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", CLUSTER, &[], &["api-extensions"], &[]),
    r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", CLUSTER, &[], &["api-extensions"], ST),
    r("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", CLUSTER, &[], &["api-extensions"], &[]),
];

/// The OpenAPI definition name of a kind (`io.k8s.api.<group prefix>.<version>.<Kind>`).
pub(super) fn schema_name(row: &Row) -> String {
    let pkg = row.group.split('.').next().unwrap_or("core");
    let pkg = if pkg.is_empty() { "core" } else { pkg };
    format!("io.k8s.api.{pkg}.{}.{}", row.version, row.kind)
}
