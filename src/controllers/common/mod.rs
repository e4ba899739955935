//! Helpers shared by the workload controllers, ports of upstream's `pkg/controller` utilities:
//! pod template hashing (`hash`), controller references and adoption (`controller_ref`),
//! expectations (`expectations`), pod readiness and deletion ranking (`pods`), slow-start batch
//! creation (`slow_start`) and a shared watch + store with fan-out (`informer`).

pub mod controller_ref;
pub mod expectations;
pub mod hash;
pub mod informer;
pub mod pods;
pub mod slow_start;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::selectors::Selector;

/// Converts a `metav1.LabelSelector` into a label selector as upstream's
/// `metav1.LabelSelectorAsSelector`: `None` selects nothing, an empty selector everything.
pub fn label_selector(sel: Option<&LabelSelector>) -> Result<Selector, String> {
    match sel {
        None => Ok(Selector::nothing()),
        Some(s) => {
            let v = serde_json::to_value(s).map_err(|e| e.to_string())?;
            Selector::from_label_selector(&v)
        }
    }
}

/// `namespace/name`, the key controllers queue objects by.
pub fn key(namespace: Option<&str>, name: Option<&str>) -> String {
    format!(
        "{}/{}",
        namespace.unwrap_or_default(),
        name.unwrap_or_default()
    )
}

/// Splits a `namespace/name` key.
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}
