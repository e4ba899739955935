//! Validation of objects before they are stored: turns the kind's field errors into a 422
//! `Invalid` Status, as upstream's `apierrors.NewInvalid`.

use serde_json::Value;

use super::errors::{ApiError, ApiResult, Cause};
use super::object::ObjectMeta;
use super::registry::ResourceEntry;

/// Validates `obj` (and the change from `old`), failing with upstream's 422 message.
pub fn validate(res: &ResourceEntry, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
    let mut errs = crate::validation::validate(&res.rt.group, &res.rt.kind, obj, old);
    errs.extend(super::crd::validation::validate(res, obj));
    if errs.is_empty() {
        return Ok(());
    }
    let qualified = if res.rt.group.is_empty() {
        res.rt.kind.clone()
    } else {
        format!("{}.{}", res.rt.kind, res.rt.group)
    };
    let name = obj.name();
    let message = crate::validation::invalid_message(&qualified, name, &errs);
    let causes = errs
        .iter()
        .map(|e| Cause {
            reason: e.reason().to_string(),
            message: e.body(),
            field: e.field.clone(),
        })
        .collect();
    Err(ApiError::invalid(
        &res.rt.group,
        &res.rt.kind,
        name,
        message,
        causes,
    ))
}
