//! List and strategic-merge-patch metadata that k8s-openapi's schemas lack.
//!
//! k8s-openapi generates its `schemars` impls without `x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-patch-merge-key` or
//! `x-kubernetes-patch-strategy` on built-in types. Upstream derives them from `+listType`,
//! `+listMapKey` and `patchStrategy`/`patchMergeKey` tags in the Go types; this table carries
//! the commonly used ones (the fields strategic merge patch and server-side apply depend on most).

use serde_json::{Map, Value};

/// One field's list/patch metadata.
struct Meta {
    definition: &'static str,
    field: &'static str,
    patch_strategy: Option<&'static str>,
    merge_key: Option<&'static str>,
    list_type: &'static str,
    map_keys: &'static [&'static str],
}

const fn map(
    definition: &'static str,
    field: &'static str,
    patch_strategy: &'static str,
    merge_key: &'static str,
    map_keys: &'static [&'static str],
) -> Meta {
    Meta {
        definition,
        field,
        patch_strategy: Some(patch_strategy),
        merge_key: Some(merge_key),
        list_type: "map",
        map_keys,
    }
}

const fn atomic(definition: &'static str, field: &'static str) -> Meta {
    Meta {
        definition,
        field,
        patch_strategy: None,
        merge_key: None,
        list_type: "atomic",
        map_keys: &[],
    }
}

const TABLE: &[Meta] = &[
    // ObjectMeta
    Meta {
        definition: "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        field: "finalizers",
        patch_strategy: Some("merge"),
        merge_key: None,
        list_type: "set",
        map_keys: &[],
    },
    map(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        "merge",
        "uid",
        &["uid"],
    ),
    atomic(
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
    ),
    // PodSpec
    map(
        "io.k8s.api.core.v1.PodSpec",
        "containers",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "initContainers",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "ephemeralContainers",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "volumes",
        "merge,retainKeys",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "imagePullSecrets",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "hostAliases",
        "merge",
        "ip",
        &["ip"],
    ),
    map(
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        "merge",
        "topologyKey",
        &["topologyKey", "whenUnsatisfiable"],
    ),
    atomic("io.k8s.api.core.v1.PodSpec", "tolerations"),
    atomic("io.k8s.api.core.v1.PodSpec", "readinessGates"),
    // Container and EphemeralContainer
    map(
        "io.k8s.api.core.v1.Container",
        "ports",
        "merge",
        "containerPort",
        &["containerPort", "protocol"],
    ),
    map(
        "io.k8s.api.core.v1.Container",
        "env",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.Container",
        "volumeMounts",
        "merge",
        "mountPath",
        &["mountPath"],
    ),
    map(
        "io.k8s.api.core.v1.Container",
        "volumeDevices",
        "merge",
        "devicePath",
        &["devicePath"],
    ),
    atomic("io.k8s.api.core.v1.Container", "envFrom"),
    atomic("io.k8s.api.core.v1.Container", "command"),
    atomic("io.k8s.api.core.v1.Container", "args"),
    map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "env",
        "merge",
        "name",
        &["name"],
    ),
    map(
        "io.k8s.api.core.v1.EphemeralContainer",
        "volumeMounts",
        "merge",
        "mountPath",
        &["mountPath"],
    ),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "command"),
    atomic("io.k8s.api.core.v1.EphemeralContainer", "args"),
    // Status conditions
    map(
        "io.k8s.api.core.v1.PodStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.core.v1.PodStatus",
        "podIPs",
        "merge",
        "ip",
        &["ip"],
    ),
    map(
        "io.k8s.api.core.v1.NodeStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.core.v1.NodeStatus",
        "addresses",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.core.v1.NamespaceStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.apps.v1.DeploymentStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.apps.v1.ReplicaSetStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.apps.v1.StatefulSetStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    map(
        "io.k8s.api.apps.v1.DaemonSetStatus",
        "conditions",
        "merge",
        "type",
        &["type"],
    ),
    // Service
    map(
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        "merge",
        "port",
        &["port", "protocol"],
    ),
    atomic("io.k8s.api.core.v1.ServiceSpec", "clusterIPs"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "ipFamilies"),
    atomic("io.k8s.api.core.v1.ServiceSpec", "externalIPs"),
    // ServiceAccount
    map(
        "io.k8s.api.core.v1.ServiceAccount",
        "secrets",
        "merge",
        "name",
        &["name"],
    ),
];

/// Adds the table's extensions to the matching properties in `definitions`.
pub(crate) fn apply(definitions: &mut Map<String, Value>) {
    for meta in TABLE {
        let Some(prop) = definitions
            .get_mut(meta.definition)
            .and_then(|d| d.get_mut("properties"))
            .and_then(|p| p.get_mut(meta.field))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        prop.insert("x-kubernetes-list-type".into(), meta.list_type.into());
        if !meta.map_keys.is_empty() {
            prop.insert(
                "x-kubernetes-list-map-keys".into(),
                Value::from(meta.map_keys.to_vec()),
            );
        }
        if let Some(key) = meta.merge_key {
            prop.insert("x-kubernetes-patch-merge-key".into(), key.into());
        }
        if let Some(strategy) = meta.patch_strategy {
            prop.insert("x-kubernetes-patch-strategy".into(), strategy.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_meta_lands_on_pod_spec_containers() {
        let mut g = super::super::registry::generator();
        super::super::registry::add_definition(&mut g, "io.k8s.api.core.v1.Pod");
        let mut defs = g.take_definitions(true);
        apply(&mut defs);
        let containers = &defs["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"][0], "name");
        // Every table entry names a field that exists in the generated schemas.
        for meta in TABLE {
            if let Some(d) = defs.get(meta.definition) {
                assert!(
                    d["properties"].get(meta.field).is_some(),
                    "{}.{}",
                    meta.definition,
                    meta.field
                );
            }
        }
    }
}
