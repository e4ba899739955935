//! Validation of Kubernetes objects, ported from upstream Kubernetes v1.33.
//!
//! Objects are untrusted `serde_json::Value`s. [`validate`] dispatches on the
//! API group and kind and returns the list of [`FieldError`]s, whose
//! [`FieldError::message`] reproduces upstream's `field.Error.Error()` text
//! word for word, and [`invalid_message`] reproduces the message of
//! upstream's `apierrors.NewInvalid`.

mod apps;
mod batch;
mod cluster;
mod core;
pub mod cron;
pub mod fmt;
mod meta;
mod misc;
mod names;
mod networking;
mod quantity;
mod util;

use serde_json::Value;

pub use cluster::SYSTEM_PRIORITY_CLASSES;
pub use fmt::go_quote;
pub use names::{
    is_config_map_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_qualified_name,
    is_valid_label_value, is_valid_path_segment_name, is_valid_port_name,
};
pub use quantity::{parse_quantity, Quantity, QuantityError, QuantityFormat};

/// The kind of a validation error, as upstream's `field.ErrorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A required field was missing (`Required value`).
    Required,
    /// A field had an invalid value (`Invalid value`).
    Invalid,
    /// A value was duplicated (`Duplicate value`).
    Duplicate,
    /// A value was not one of the supported values (`Unsupported value`).
    NotSupported,
    /// A field was set where it is not allowed (`Forbidden`).
    Forbidden,
    /// A value was too long (`Too long`).
    TooLong,
    /// A list had too many items (`Too many`).
    TooMany,
    /// An internal error (`Internal error`).
    Internal,
    /// A referenced value was not found (`Not found`).
    NotFound,
    /// A field had the wrong JSON type (`Invalid value`, reason `FieldValueTypeInvalid`).
    TypeInvalid,
}

impl ErrorType {
    /// The human-readable text of the type, as upstream's `ErrorType.String()`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid => "Invalid value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
            ErrorType::NotFound => "Not found",
            ErrorType::TypeInvalid => "Invalid value",
        }
    }

    /// The `metav1.CauseType` (status cause `reason`) of the type.
    pub fn reason(&self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }
}

/// One validation error on one field, as upstream's `field.Error`.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The kind of error.
    pub error_type: ErrorType,
    /// The field path, e.g. `spec.containers[0].image`.
    pub field: String,
    /// The offending value; `None` omits the value from the message.
    pub bad_value: Option<Value>,
    /// Additional detail appended to the message.
    pub detail: String,
    /// Go-style rendering of the bad value that overrides the rendering of
    /// `bad_value` (used where upstream prints a Go struct, e.g.
    /// `v1.LabelSelector{...}`).
    pub value_repr: Option<String>,
}

impl FieldError {
    fn new(error_type: ErrorType, field: &str, bad_value: Option<Value>, detail: &str) -> Self {
        FieldError {
            error_type,
            field: field.to_string(),
            bad_value,
            detail: detail.to_string(),
            value_repr: None,
        }
    }

    /// A `Required value` error.
    pub fn required(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Required, field, None, detail)
    }

    /// An `Invalid value` error.
    pub fn invalid(field: &str, value: impl Into<Value>, detail: &str) -> Self {
        Self::new(ErrorType::Invalid, field, Some(value.into()), detail)
    }

    /// A `Duplicate value` error.
    pub fn duplicate(field: &str, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(value.into()), "")
    }

    /// A `Not found` error.
    pub fn not_found(field: &str, value: impl Into<Value>) -> Self {
        Self::new(ErrorType::NotFound, field, Some(value.into()), "")
    }

    /// An `Unsupported value` error listing the supported values (in the given order).
    pub fn not_supported(field: &str, value: impl Into<Value>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| fmt::go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(value.into()), &detail)
    }

    /// A `Forbidden` error.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Forbidden, field, None, detail)
    }

    /// A `Too long` error (`must have at most N bytes`).
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            ErrorType::TooLong,
            field,
            None,
            &format!("must have at most {max} bytes"),
        )
    }

    /// A `Too many` error (`must have at most N items`).
    pub fn too_many(field: &str, actual: usize, max: usize) -> Self {
        Self::new(
            ErrorType::TooMany,
            field,
            Some(Value::from(actual)),
            &format!("must have at most {max} items"),
        )
    }

    /// An `Internal error`.
    pub fn internal(field: &str, detail: &str) -> Self {
        Self::new(ErrorType::Internal, field, None, detail)
    }

    /// A wrong-JSON-type error.
    pub fn type_invalid(field: &str, value: &Value, expected: &str) -> Self {
        Self::new(
            ErrorType::TypeInvalid,
            field,
            Some(value.clone()),
            &format!("expected {expected}"),
        )
    }

    /// Replaces the rendering of the bad value with a Go-style literal.
    pub fn with_repr(mut self, repr: String) -> Self {
        self.value_repr = Some(repr);
        self
    }

    /// The message without the field path, as upstream's `ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match self.error_type {
            ErrorType::Required
            | ErrorType::Forbidden
            | ErrorType::TooLong
            | ErrorType::Internal => self.error_type.as_str().to_string(),
            _ => match (&self.value_repr, &self.bad_value) {
                (Some(r), _) => format!("{}: {}", self.error_type.as_str(), r),
                (None, Some(v)) => format!("{}: {}", self.error_type.as_str(), fmt::go_value(v)),
                (None, None) => self.error_type.as_str().to_string(),
            },
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }

    /// The full message, as upstream's `field.Error.Error()`: `<field>: <body>`.
    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    /// The `metav1.CauseType` of this error, e.g. `FieldValueInvalid`.
    pub fn reason(&self) -> &'static str {
        self.error_type.reason()
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Formats a list of errors like upstream's `utilerrors.Aggregate.Error()`:
/// a single error verbatim, several as `[a, b]` with duplicates removed.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        let m = e.message();
        if !seen.contains(&m) {
            seen.push(m);
        }
    }
    match seen.len() {
        0 => "<nil>".to_string(),
        1 => seen.remove(0),
        _ => format!("[{}]", seen.join(", ")),
    }
}

/// The message of upstream's `apierrors.NewInvalid`:
/// `<kind> "<name>" is invalid: <aggregate>`.
///
/// `kind` should be the qualified group kind as upstream prints it, e.g.
/// `ConfigMap` for the core group and `Deployment.apps` for other groups.
pub fn invalid_message(kind: &str, name: &str, errs: &[FieldError]) -> String {
    format!(
        "{} {} is invalid: {}",
        kind,
        fmt::go_quote(name),
        aggregate_message(errs)
    )
}

/// Validates `obj` of the given API group and kind; `old` is the stored
/// object on update. Returns all field errors (empty when valid).
///
/// Kinds without specific rules get ObjectMeta validation only.
pub fn validate(group: &str, kind: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut v = util::Ctx::default();
    if !obj.is_object() {
        v.errs.push(FieldError::type_invalid("", obj, "object"));
        return v.errs;
    }
    match (group, kind) {
        ("", "ConfigMap") => core::config_map(&mut v, obj, old),
        ("", "Secret") => core::secret(&mut v, obj, old),
        ("", "Namespace") => core::namespace(&mut v, obj, old),
        ("", "Pod") => core::pod(&mut v, obj, old),
        ("", "PodTemplate") => core::pod_template(&mut v, obj, old),
        ("", "Service") => core::service(&mut v, obj, old),
        ("", "Endpoints") => core::endpoints(&mut v, obj, old),
        ("", "Node") => core::node(&mut v, obj, old),
        ("", "Event") => misc::core_event(&mut v, obj, old),
        ("", "PersistentVolume") => core::persistent_volume(&mut v, obj, old),
        ("", "PersistentVolumeClaim") => core::persistent_volume_claim(&mut v, obj, old),
        ("", "LimitRange") => core::limit_range(&mut v, obj, old),
        ("", "ResourceQuota") => core::resource_quota(&mut v, obj, old),
        ("", "ReplicationController") => apps::replication_controller(&mut v, obj, old),
        ("", "ServiceAccount") => {
            meta::object_meta_kind(&mut v, obj, old, names::NameKind::Subdomain)
        }
        ("apps", "ReplicaSet") => apps::replica_set(&mut v, obj, old),
        ("apps", "Deployment") => apps::deployment(&mut v, obj, old),
        ("apps", "StatefulSet") => apps::stateful_set(&mut v, obj, old),
        ("apps", "DaemonSet") => apps::daemon_set(&mut v, obj, old),
        ("apps", "ControllerRevision") => apps::controller_revision(&mut v, obj, old),
        ("batch", "Job") => batch::job(&mut v, obj, old),
        ("batch", "CronJob") => batch::cron_job(&mut v, obj, old),
        ("coordination.k8s.io", "Lease") => misc::lease(&mut v, obj, old),
        ("discovery.k8s.io", "EndpointSlice") => misc::endpoint_slice(&mut v, obj, old),
        ("events.k8s.io", "Event") => misc::events_event(&mut v, obj, old),
        ("rbac.authorization.k8s.io", "Role") => cluster::role(&mut v, obj, old, true),
        ("rbac.authorization.k8s.io", "ClusterRole") => cluster::role(&mut v, obj, old, false),
        ("rbac.authorization.k8s.io", "RoleBinding") => {
            cluster::role_binding(&mut v, obj, old, true)
        }
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            cluster::role_binding(&mut v, obj, old, false)
        }
        ("rbac.authorization.k8s.io", _) => {
            meta::object_meta_kind(&mut v, obj, old, names::NameKind::PathSegment)
        }
        ("scheduling.k8s.io", "PriorityClass") => cluster::priority_class(&mut v, obj, old),
        ("policy", "PodDisruptionBudget") => cluster::pod_disruption_budget(&mut v, obj, old),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            cluster::horizontal_pod_autoscaler(&mut v, obj, old)
        }
        ("node.k8s.io", "RuntimeClass") => cluster::runtime_class(&mut v, obj, old),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            cluster::certificate_signing_request(&mut v, obj, old)
        }
        ("networking.k8s.io", "Ingress") => networking::ingress(&mut v, obj, old),
        ("networking.k8s.io", "IngressClass") => networking::ingress_class(&mut v, obj, old),
        ("networking.k8s.io", "NetworkPolicy") => networking::network_policy(&mut v, obj, old),
        ("storage.k8s.io", "StorageClass") => networking::storage_class(&mut v, obj, old),
        ("storage.k8s.io", "VolumeAttachment") => networking::volume_attachment(&mut v, obj, old),
        _ => meta::object_meta_kind(&mut v, obj, old, names::NameKind::Subdomain),
    }
    v.errs
}

#[cfg(test)]
mod tests;
