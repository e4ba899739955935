//! The `pods/eviction` subresource (upstream's `pkg/registry/core/pod/storage/eviction.go`):
//! POST a policy/v1 `Eviction` to delete a pod only when the PodDisruptionBudget covering it
//! allows a disruption; the budget's `disruptionsAllowed` is decremented and the pod recorded in
//! its `disruptedPods` before the pod is deleted with the eviction's DeleteOptions.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::codec;
use super::errors::{ApiError, ApiResult, Cause};
use super::handler::App;
use super::object::{now_rfc3339, ObjectMeta};
use super::registry::ResourceEntry;
use super::request::{self, Query};
use super::response::json_response;
use super::rest::read_body;
use super::store::{DeleteOptions, ListOptions, Part, WriteOptions};
use crate::selectors::Selector;

/// The message of a refused eviction.
pub const REFUSED: &str = "Cannot evict pod as it would violate the pod's disruption budget.";
/// The cause type naming the budget.
const DISRUPTION_BUDGET_CAUSE: &str = "DisruptionBudget";
/// Most pending evictions a budget records (upstream's `MaxDisruptedPodSize`).
const MAX_DISRUPTED_PODS: usize = 2000;

/// Serves `POST …/pods/<name>/eviction`.
pub async fn serve(
    app: &Arc<App>,
    pods: &Arc<ResourceEntry>,
    ns: &str,
    name: &str,
    query: &Query,
    req: Request<Body>,
) -> ApiResult<Response> {
    let (headers, body) = read_body(req).await?;
    let eviction = codec::decode_body(&headers, &body)?;
    let kind = eviction
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Eviction");
    if kind != "Eviction" {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind (Eviction)"
        )));
    }
    if eviction.name() != name {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let mut opts = query.delete_options()?;
    if let Some(d) = eviction.get("deleteOptions").filter(|d| d.is_object()) {
        request::merge_delete_body(&mut opts, d)?;
    }
    let store = &app.store;
    let pod = store.get(pods, Some(ns), name).await?;
    if can_ignore_pdb(&pod) {
        delete_pod(app, pods, ns, name, &opts).await?;
        return Ok(success());
    }
    let budgets = matching_budgets(app, ns, &pod).await?;
    let pdb = match budgets.as_slice() {
        [] => {
            delete_pod(app, pods, ns, name, &opts).await?;
            return Ok(success());
        }
        [one] => one.clone(),
        _ => {
            return Err(ApiError::new(
                500,
                "",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            ))
        }
    };
    let ready = pod_ready(&pod);
    let status = |f: &str| {
        pdb.pointer(&format!("/status/{f}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let always_allow = pdb
        .pointer("/spec/unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
        == Some("AlwaysAllow");
    let unhealthy_skip = !ready
        && (always_allow
            || (status("currentHealthy") >= status("desiredHealthy")
                && status("desiredHealthy") > 0));
    if unhealthy_skip {
        // An unready pod does not count as healthy: deleting it costs the budget nothing, as
        // long as the pod is still the one checked.
        if opts.precondition_rv.is_none() {
            opts.precondition_rv = pod.meta_str("resourceVersion").map(str::to_string);
        }
    } else {
        check_and_decrement(app, ns, pdb.name(), name, opts.dry_run).await?;
    }
    delete_pod(app, pods, ns, name, &opts).await?;
    Ok(success())
}

fn success() -> Response {
    json_response(
        StatusCode::CREATED,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    )
}

/// Terminal, pending or already deleting pods are deleted without asking any budget.
fn can_ignore_pdb(pod: &Value) -> bool {
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("");
    matches!(phase, "Succeeded" | "Failed" | "Pending")
        || pod.meta_str("deletionTimestamp").is_some()
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| {
            c.get("type").and_then(Value::as_str) == Some("Ready")
                && c.get("status").and_then(Value::as_str) == Some("True")
        })
}

fn pdb_entry(app: &App) -> ApiResult<Arc<ResourceEntry>> {
    app.store
        .registry
        .find("policy", "v1", "poddisruptionbudgets")
        .ok_or_else(|| ApiError::internal("poddisruptionbudgets are not served"))
}

/// The budgets in `ns` whose selector selects the pod (as upstream, a nil or empty selector
/// selects nothing here).
async fn matching_budgets(app: &App, ns: &str, pod: &Value) -> ApiResult<Vec<Value>> {
    let res = pdb_entry(app)?;
    let list = app
        .store
        .list(&res, Some(ns), &ListOptions::default())
        .await?;
    let labels = pod.labels().cloned().unwrap_or_default();
    Ok(list
        .items
        .iter()
        .map(|c| c.value())
        .filter(|pdb| {
            let sel = pdb
                .pointer("/spec/selector")
                .cloned()
                .unwrap_or(Value::Null);
            Selector::from_label_selector(&sel)
                .is_ok_and(|s| !s.matches_nothing() && !s.is_empty() && s.matches(&labels))
        })
        .collect())
}

/// Upstream's `checkAndDecrement`, as a guarded update of the budget's status.
async fn check_and_decrement(
    app: &App,
    ns: &str,
    pdb_name: &str,
    pod_name: &str,
    dry_run: bool,
) -> ApiResult<()> {
    let res = pdb_entry(app)?;
    let opts = WriteOptions {
        dry_run,
        ..Default::default()
    };
    app.store
        .guaranteed_update(&res, Some(ns), pdb_name, Part::Status, &opts, |old| {
            let mut new = old.clone();
            // Not pinned: concurrent status writes are retried (upstream's RetryOnConflict).
            new.remove_meta("resourceVersion");
            let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
            let st = |f: &str| old.pointer(&format!("/status/{f}")).and_then(Value::as_i64).unwrap_or(0);
            if st("observedGeneration") < generation {
                let mut e = ApiError::too_many_requests(REFUSED, 10);
                e.details.causes.push(Cause {
                    reason: DISRUPTION_BUDGET_CAUSE.into(),
                    message: format!("The disruption budget {pdb_name} is still being processed by the server."),
                    field: String::new(),
                });
                return Err(e);
            }
            let forbidden = |why: &str| {
                ApiError::new(
                    403,
                    "Forbidden",
                    format!("poddisruptionbudgets.policy \"{pdb_name}\" is forbidden: {why}"),
                )
            };
            let allowed = st("disruptionsAllowed");
            if allowed < 0 {
                return Err(forbidden("pdb disruptions allowed is negative"));
            }
            let disrupted = old.pointer("/status/disruptedPods").and_then(Value::as_object);
            if disrupted.is_some_and(|d| d.len() > MAX_DISRUPTED_PODS) {
                return Err(forbidden(
                    "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                ));
            }
            if allowed == 0 {
                let mut e = ApiError::too_many_requests(REFUSED, 0);
                e.details.causes.push(Cause {
                    reason: DISRUPTION_BUDGET_CAUSE.into(),
                    message: format!(
                        "The disruption budget {pdb_name} needs {} healthy pods and has {} currently",
                        st("desiredHealthy"),
                        st("currentHealthy")
                    ),
                    field: String::new(),
                });
                return Err(e);
            }
            let status = &mut new["status"];
            status["disruptionsAllowed"] = json!(allowed - 1);
            if allowed - 1 == 0 {
                let mut typed: k8s_openapi::api::policy::v1::PodDisruptionBudgetStatus =
                    serde_json::from_value(status.clone()).map_err(ApiError::internal)?;
                crate::controllers::disruption::update_disruption_allowed_condition(&mut typed);
                *status = serde_json::to_value(typed).map_err(ApiError::internal)?;
            }
            if !status["disruptedPods"].is_object() {
                status["disruptedPods"] = json!({});
            }
            status["disruptedPods"][pod_name] = json!(now_rfc3339());
            Ok(new)
        })
        .await?;
    Ok(())
}

/// Marks the pod with the `DisruptionTarget` condition, then deletes it.
async fn delete_pod(
    app: &App,
    pods: &Arc<ResourceEntry>,
    ns: &str,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<()> {
    if !opts.dry_run {
        let wopts = WriteOptions::default();
        let marked = app
            .store
            .guaranteed_update(pods, Some(ns), name, Part::Status, &wopts, |old| {
                let mut new = old.clone();
                new.remove_meta("resourceVersion");
                if let Some(rv) = &opts.precondition_rv {
                    if old.meta_str("resourceVersion") != Some(rv.as_str()) {
                        return Err(ApiError::conflict("", "pods", name, ApiError::MODIFIED));
                    }
                }
                let conditions = new["status"]["conditions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut conditions: Vec<Value> = conditions
                    .into_iter()
                    .filter(|c| c.get("type").and_then(Value::as_str) != Some("DisruptionTarget"))
                    .collect();
                conditions.push(json!({
                    "type": "DisruptionTarget",
                    "status": "True",
                    "lastProbeTime": null,
                    "lastTransitionTime": now_rfc3339(),
                    "reason": "EvictionByEvictionAPI",
                    "message": "Eviction API: evicting",
                }));
                new["status"]["conditions"] = json!(conditions);
                Ok(new)
            })
            .await;
        match marked {
            // The condition write changed the resourceVersion: the precondition was checked.
            Ok(_) => {
                let mut opts = opts.clone();
                opts.precondition_rv = None;
                app.store.delete(pods, Some(ns), name, &opts).await?;
                return Ok(());
            }
            Err(e) if e.code == 404 || e.code == 409 => return Err(e),
            Err(e) => {
                tracing::debug!(pod = name, error = %e, "could not add the DisruptionTarget condition")
            }
        }
    }
    app.store.delete(pods, Some(ns), name, opts).await?;
    Ok(())
}
