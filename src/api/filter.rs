//! List and watch filters: label and field selectors applied to objects.

use serde_json::Value;

use super::cache::Cached;
use super::errors::{ApiError, ApiResult};
use super::object::ObjectMeta;
use crate::printers::{field_value, parse_field_selector, FieldOp, FieldRequirement};
use crate::selectors::Selector;

/// The label and field selectors of a request.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    labels: Selector,
    fields: Vec<FieldRequirement>,
    group: String,
    kind: String,
}

impl Filter {
    /// Parses the `labelSelector` and `fieldSelector` query parameters for a kind.
    pub fn parse(
        label: Option<&str>,
        field: Option<&str>,
        group: &str,
        kind: &str,
    ) -> ApiResult<Filter> {
        let mut f = Filter {
            group: group.to_string(),
            kind: kind.to_string(),
            ..Default::default()
        };
        if let Some(l) = label.filter(|s| !s.trim().is_empty()) {
            f.labels = Selector::parse(l).map_err(ApiError::bad_request)?;
        }
        if let Some(s) = field.filter(|s| !s.trim().is_empty()) {
            let reqs = parse_field_selector(s).map_err(ApiError::bad_request)?;
            for r in &reqs {
                field_value(group, kind, &Value::Null, &r.field)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
            }
            f.fields = reqs;
        }
        Ok(f)
    }

    /// True when nothing is filtered.
    pub fn is_everything(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    /// The single name this filter pins (`metadata.name=x`), if any.
    pub fn pinned_name(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.op == FieldOp::Equals && f.field == "metadata.name")
            .map(|f| f.value.as_str())
    }

    /// True when the cached object passes every requirement; decodes it only when a field
    /// selector needs more than its labels.
    pub fn matches_cached(&self, obj: &Cached) -> bool {
        if self.is_everything() {
            return true;
        }
        if !self.labels.matches(obj.labels()) {
            return false;
        }
        self.fields.is_empty() || self.matches(&obj.value())
    }

    /// True when `obj` passes every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let empty = serde_json::Map::new();
        let labels_ok = self.labels.matches(obj.labels().unwrap_or(&empty));
        labels_ok
            && crate::printers::matches(&self.fields, |field| {
                field_value(&self.group, &self.kind, obj, field)
                    .ok()
                    .flatten()
            })
    }
}
