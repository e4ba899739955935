//! The request side of server-side apply: `PATCH` with `application/apply-patch+yaml`, and the
//! field manager of every other write.

use axum::http::HeaderMap;
use serde_json::{json, Value};

use super::{apply, managed, Scope};
use crate::api::errors::{ApiError, ApiResult, Cause};
use crate::api::object::ObjectMeta;
use crate::api::registry::ResourceEntry;
use crate::api::store::{Part, Store, WriteOptions};

/// Completes the write options of a request: the field manager defaults to the User-Agent's
/// prefix (upstream's `managerOrUserAgent`) and the subresource is recorded.
pub fn with_request_manager(
    mut opts: WriteOptions,
    headers: &HeaderMap,
    subresource: Option<&str>,
) -> WriteOptions {
    if opts.field_manager.as_deref().is_none_or(str::is_empty) {
        let ua = headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        opts.field_manager = Some(managed::manager_from_user_agent(ua));
    }
    opts.subresource = subresource.map(str::to_string);
    opts
}

/// The content type of apply patches.
pub const APPLY_PATCH_YAML: &str = "application/apply-patch+yaml";

/// 422 for an apply without `fieldManager`, as upstream's `ValidatePatchOptions`.
pub fn manager_required() -> ApiError {
    let mut e = ApiError::new(
        422,
        "Invalid",
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
    );
    e.details.group = Some("meta.k8s.io".into());
    e.details.kind = Some("PatchOptions".into());
    e.details.causes = vec![Cause {
        reason: "FieldValueRequired".into(),
        message: "Required value: is required for apply patch".into(),
        field: "fieldManager".into(),
    }];
    e
}

/// Serves an apply patch: merges `config` into the object (creating it when missing) for the
/// explicit `fieldManager` of `opts`. Returns the object and whether it was created.
#[allow(clippy::too_many_arguments)]
pub async fn apply_request(
    store: &Store,
    res: &ResourceEntry,
    ns: Option<&str>,
    name: &str,
    subresource: Option<&str>,
    mut config: Value,
    opts: &WriteOptions,
    force: bool,
) -> ApiResult<(Value, bool)> {
    let manager = opts
        .field_manager
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(manager_required)?;
    if manager.chars().count() > 128 {
        return Err(ApiError::new(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes",
        ));
    }
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "error decoding patch: the apply configuration must be an object",
        ));
    }
    if config
        .meta()
        .and_then(|m| m.get("managedFields"))
        .is_some_and(|v| !v.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    match config.name() {
        "" => config.set_meta("name", json!(name)),
        n if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )))
        }
        _ => {}
    }
    let part = match subresource {
        None => Part::Main,
        Some("status") => Part::Status,
        Some(_) => return Err(ApiError::method_not_allowed()),
    };
    let scope = Scope::new(res, subresource);
    let mut opts = opts.clone();
    opts.managed_fields_done = true;
    opts.subresource = subresource.map(str::to_string);
    let mut last_err = None;
    for _ in 0..3 {
        let updated = store
            .guaranteed_update(res, ns, name, part, &opts, |old| {
                apply(&scope, Some(old), &config, &manager, force)
            })
            .await;
        match updated {
            Ok(v) => return Ok((v, false)),
            Err(e) if e.code == 404 && part == Part::Main => {
                let obj = apply(&scope, None, &config, &manager, force)?;
                match store.create(res, ns, obj, &opts).await {
                    Ok(v) => return Ok((v, true)),
                    Err(e) if e.reason == "AlreadyExists" => last_err = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| ApiError::internal("apply did not converge")))
}
