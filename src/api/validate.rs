//! Validation of objects before they are stored: turns field errors into a 422 `Invalid` Status.

use serde_json::Value;

use super::errors::{ApiError, ApiResult, Cause};
use super::object::ObjectMeta;
use super::registry::ResourceEntry;

const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Validates `obj` (and the change from `old`), failing with upstream's 422 message.
pub fn validate(res: &ResourceEntry, obj: &Value, old: Option<&Value>) -> ApiResult<()> {
    let _ = old;
    let mut causes = Vec::new();
    let name = obj.name();
    if name.is_empty() {
        causes.push(Cause {
            reason: "FieldValueRequired".into(),
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else if !is_dns1123_subdomain(name) {
        causes.push(Cause {
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {}: {DNS1123_SUBDOMAIN_MSG}", serde_json::to_string(name).unwrap_or_default()),
            field: "metadata.name".into(),
        });
    }
    if causes.is_empty() {
        return Ok(());
    }
    let parts: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
    let list = if parts.len() == 1 { parts[0].clone() } else { format!("[{}]", parts.join(", ")) };
    let message = format!("{} \"{}\" is invalid: {}", res.rt.kind, name, list);
    Err(ApiError::invalid(&res.rt.group, &res.rt.kind, name, message, causes))
}
