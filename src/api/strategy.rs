//! Per-kind behaviour of the generic store: status/spec split, generation tracking, create-time
//! resets and defaults. Built-in kinds share one data-driven strategy; CRDs get their own later.

use serde_json::{json, Value};

use super::object::ObjectMeta;
use super::resource::ResourceType;

/// What the generic store asks of a kind.
#[derive(Clone, Debug)]
pub struct Strategy {
    /// The kind's group.
    pub group: String,
    /// The kind.
    pub kind: String,
    /// True when writes to the main resource keep the old `status` and `/status` writes keep the rest.
    pub has_status: bool,
    /// True when spec changes bump `metadata.generation`.
    pub tracks_generation: bool,
    /// True when a PUT to a missing object creates it.
    pub allow_create_on_update: bool,
    /// True when DELETE answers with the deleted object instead of a success Status.
    pub return_deleted_object: bool,
    /// The custom resource's schema, columns and subresources (None for built-in kinds).
    pub custom: Option<std::sync::Arc<super::crd::CustomResource>>,
}

impl Strategy {
    /// The strategy of a built-in kind.
    pub fn for_builtin(rt: &ResourceType) -> Strategy {
        let tracks_generation = matches!(
            (rt.group.as_str(), rt.kind.as_str()),
            ("apps", _)
                | ("batch", _)
                | ("", "ReplicationController")
                | ("policy", "PodDisruptionBudget")
                | ("networking.k8s.io", _)
                | ("admissionregistration.k8s.io", _)
                | ("apiextensions.k8s.io", _)
        ) && rt.kind != "ControllerRevision";
        Strategy {
            group: rt.group.clone(),
            kind: rt.kind.clone(),
            has_status: rt.has_subresource("status"),
            tracks_generation,
            allow_create_on_update: matches!(
                rt.kind.as_str(),
                "Endpoints" | "Event" | "Lease" | "Node"
            ),
            return_deleted_object: rt.group.is_empty()
                && matches!(
                    rt.kind.as_str(),
                    "Pod" | "Namespace" | "Service" | "ResourceQuota"
                ),
            custom: None,
        }
    }

    /// Prepares a new object: resets status where upstream does and applies simple defaults.
    pub fn prepare_for_create(&self, obj: &mut Value) {
        if obj.get("metadata").is_none() {
            obj.set_meta("name", Value::Null);
            obj.remove_meta("name");
        }
        if let Some(custom) = &self.custom {
            custom.prepare_for_create(obj);
            return;
        }
        match (self.group.as_str(), self.kind.as_str()) {
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                super::crd::prepare_crd(obj, None);
            }
            ("", "Namespace") => {
                if let Some(o) = obj.as_object_mut() {
                    let spec = o.entry("spec").or_insert_with(|| json!({}));
                    if spec.get("finalizers").is_none() {
                        spec["finalizers"] = json!(["kubernetes"]);
                    }
                    o.insert("status".into(), json!({"phase": "Active"}));
                }
            }
            ("", "Pod") => {
                if let Some(o) = obj.as_object_mut() {
                    o.insert("status".into(), json!({"phase": "Pending"}));
                }
            }
            ("", "Node") => {}
            ("", "PersistentVolume") | ("", "PersistentVolumeClaim") => {
                if let Some(o) = obj.as_object_mut() {
                    o.insert("status".into(), json!({"phase": "Pending"}));
                }
            }
            ("", "Service") | ("networking.k8s.io", "Ingress") => {
                if let Some(o) = obj.as_object_mut() {
                    o.insert("status".into(), json!({"loadBalancer": {}}));
                }
            }
            _ if self.has_status => {
                if let Some(o) = obj.as_object_mut() {
                    o.insert("status".into(), json!({}));
                }
            }
            _ => {}
        }
        self.fill_status_zero_fields(obj);
        if self.tracks_generation {
            obj.set_meta("generation", json!(1));
        }
    }

    /// Prepares an update of the main resource: keeps the old status, bumps generation on spec change.
    pub fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        if (self.group.as_str(), self.kind.as_str())
            == ("certificates.k8s.io", "CertificateSigningRequest")
        {
            // Upstream: the spec of a request cannot change after creation.
            if let (Some(o), Some(spec)) = (new.as_object_mut(), old.get("spec")) {
                o.insert("spec".into(), spec.clone());
            }
        }
        if let Some(custom) = &self.custom {
            custom.prepare(new);
        } else if self.kind == "CustomResourceDefinition" && self.group == "apiextensions.k8s.io" {
            super::crd::prepare_crd(new, Some(old));
        }
        if self.has_status {
            if let Some(o) = new.as_object_mut() {
                match old.get("status") {
                    Some(s) => {
                        o.insert("status".into(), s.clone());
                    }
                    None => {
                        o.remove("status");
                    }
                }
            }
        }
        self.carry_generation(new, old);
    }

    /// Prepares a `/status` update: everything but status (and metadata labels/annotations) comes from old.
    pub fn prepare_for_status_update(&self, new: &mut Value, old: &Value) {
        let status = new.get("status").cloned();
        let meta = new.get("metadata").cloned();
        let mut merged = old.clone();
        if let Some(o) = merged.as_object_mut() {
            match status {
                Some(s) => {
                    o.insert("status".into(), s);
                }
                None => {
                    o.remove("status");
                }
            }
            // Upstream lets status updates change labels, annotations, ownerReferences and finalizers.
            if let (Some(m), Some(Value::Object(nm))) = (o.get_mut("metadata"), meta) {
                for f in [
                    "labels",
                    "annotations",
                    "ownerReferences",
                    "finalizers",
                    "resourceVersion",
                ] {
                    match nm.get(f) {
                        Some(v) => {
                            m[f] = v.clone();
                        }
                        None => {
                            if let Some(mm) = m.as_object_mut() {
                                mm.remove(f);
                            }
                        }
                    }
                }
            }
        }
        *new = merged;
        self.fill_status_zero_fields(new);
    }

    /// Writes the status fields Go always encodes (no `omitempty`) as zero when absent.
    pub fn fill_status_zero_fields(&self, obj: &mut Value) {
        let fields: &[&str] = match (self.group.as_str(), self.kind.as_str()) {
            ("apps", "ReplicaSet") | ("", "ReplicationController") => &["replicas"],
            ("apps", "StatefulSet") => &["replicas", "availableReplicas"],
            ("apps", "DaemonSet") => &[
                "currentNumberScheduled",
                "numberMisscheduled",
                "desiredNumberScheduled",
                "numberReady",
            ],
            ("autoscaling", "HorizontalPodAutoscaler") => &["desiredReplicas"],
            ("policy", "PodDisruptionBudget") => &[
                "disruptionsAllowed",
                "currentHealthy",
                "desiredHealthy",
                "expectedPods",
            ],
            _ => return,
        };
        if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
            for f in fields {
                status.entry(f.to_string()).or_insert(json!(0));
            }
        }
    }

    /// Prepares a `/approval` update (CertificateSigningRequest): like a status update, but the
    /// issued certificate is kept from the stored object.
    pub fn prepare_for_approval_update(&self, new: &mut Value, old: &Value) {
        self.prepare_for_status_update(new, old);
        let cert = old.pointer("/status/certificate").cloned();
        if let Some(status) = new.get_mut("status").and_then(Value::as_object_mut) {
            match cert {
                Some(c) => {
                    status.insert("certificate".into(), c);
                }
                None => {
                    status.remove("certificate");
                }
            }
        }
    }

    fn carry_generation(&self, new: &mut Value, old: &Value) {
        let old_gen = old.meta().and_then(|m| m.get("generation")).cloned();
        match old_gen {
            Some(g) => new.set_meta("generation", g),
            None => {
                new.remove_meta("generation");
            }
        }
        if self.tracks_generation && spec_changed(new, old) {
            let g = old
                .meta()
                .and_then(|m| m.get("generation"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            new.set_meta("generation", json!(g + 1));
        }
    }
}

fn spec_changed(new: &Value, old: &Value) -> bool {
    match (new.as_object(), old.as_object()) {
        (Some(n), Some(o)) => {
            n.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .any(|(k, v)| o.get(k) != Some(v))
                || o.keys().any(|k| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                        && !n.contains_key(k)
                })
        }
        _ => true,
    }
}
