//! The namespace controller (upstream's `pkg/controller/namespace`): for every Terminating
//! namespace, delete all content of every namespaced resource through the API, report progress in
//! the namespace's conditions, then remove the `kubernetes` finalizer via `/finalize`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kube::discovery::verbs;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Client;

use super::queue::WorkQueue;
use super::resources::Resources;

/// How long to wait before looking again at a namespace whose content is still going away
/// (upstream waits for an estimate of the remaining graceful deletions).
const RECHECK: Duration = Duration::from_millis(500);

/// The finalizer this controller owns on `spec.finalizers`.
const FINALIZER: &str = "kubernetes";

/// Conditions maintained by the controller, in upstream's order, with their "ok" reason and
/// message.
const CONDITIONS: &[(&str, &str, &str)] = &[
    (
        "NamespaceDeletionDiscoveryFailure",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    (
        "NamespaceDeletionGroupVersionParsingFailure",
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    (
        "NamespaceContentRemaining",
        "ContentRemoved",
        "All content successfully removed",
    ),
    (
        "NamespaceFinalizersRemaining",
        "ContentHasNoFinalizers",
        "All content-preserving finalizers finished",
    ),
];

/// Errors of one namespace sync (the namespace is synced again later).
#[derive(Debug, thiserror::Error)]
pub enum NamespaceError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Content is still being deleted.
    #[error("some content remains in namespace {0}")]
    ContentRemaining(String),
    /// Discovery or deletion failed for some resources.
    #[error("{0}")]
    Failed(String),
}

/// Runs the namespace controller until the process ends.
pub async fn run(client: Client) {
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    tokio::spawn(watch_namespaces(client.clone(), queue.clone()));
    loop {
        let name = queue.next().await;
        match sync(&client, &name).await {
            Ok(()) => queue.forget(&name),
            Err(NamespaceError::ContentRemaining(_)) => {
                queue.forget(&name);
                queue.add_after(name, RECHECK);
            }
            Err(e) => {
                tracing::debug!(namespace = %name, error = %e, "namespace controller: will retry");
                queue.add_rate_limited(name);
            }
        }
    }
}

async fn watch_namespaces(client: Client, queue: Arc<WorkQueue<String>>) {
    let api: Api<Namespace> = Api::all(client);
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Apply(ns)) | Ok(Event::InitApply(ns)) => {
                if ns.metadata.deletion_timestamp.is_some() {
                    if let Some(name) = ns.metadata.name {
                        queue.add(name);
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "namespace controller: watch error"),
        }
    }
}

/// What is left in a namespace after one pass.
#[derive(Default)]
struct Remaining {
    by_resource: BTreeMap<String, usize>,
    by_finalizer: BTreeMap<String, usize>,
    errors: Vec<String>,
}

/// One pass over a namespace (upstream's `NamespacedResourcesDeleter.Delete`).
async fn sync(client: &Client, name: &str) -> Result<(), NamespaceError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = api.get_opt(name).await? else {
        return Ok(());
    };
    if ns.metadata.deletion_timestamp.is_none() || !has_kubernetes_finalizer(&ns) {
        return Ok(());
    }
    let (resources, discovery_error) = match Resources::discover(client).await {
        Ok(r) => (r, None),
        Err(e) => (Resources::default(), Some(e.to_string())),
    };
    let remaining = delete_all_content(client, &resources, name).await;
    let ns = update_conditions(&api, ns, discovery_error.as_deref(), &remaining).await?;
    if let Some(e) = discovery_error {
        return Err(NamespaceError::Failed(e));
    }
    if !remaining.errors.is_empty() {
        return Err(NamespaceError::Failed(remaining.errors.join(", ")));
    }
    if !remaining.by_resource.is_empty() {
        return Err(NamespaceError::ContentRemaining(name.to_string()));
    }
    finalize(&api, ns).await
}

fn has_kubernetes_finalizer(ns: &Namespace) -> bool {
    ns.spec
        .as_ref()
        .and_then(|s| s.finalizers.as_ref())
        .is_some_and(|f| f.iter().any(|x| x == FINALIZER))
}

/// Deletes everything in the namespace, resource by resource; reports what is still there.
async fn delete_all_content(client: &Client, resources: &Resources, ns: &str) -> Remaining {
    let mut out = Remaining::default();
    for served in resources
        .preferred()
        .filter(|s| s.namespaced && s.supports(&[verbs::LIST, verbs::DELETE]))
    {
        let api = served.api(client, Some(ns));
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let lp = ListParams::default();
        let deleted = if served.supports(&[verbs::DELETE_COLLECTION]) {
            api.delete_collection(&dp, &lp).await.map(|_| ())
        } else {
            match api.list(&lp).await {
                Ok(list) => {
                    let mut result = Ok(());
                    for item in list
                        .items
                        .iter()
                        .filter(|i| i.metadata.deletion_timestamp.is_none())
                    {
                        if let Some(n) = item.metadata.name.as_deref() {
                            match api.delete(n, &dp).await {
                                Err(kube::Error::Api(s)) if s.code == 404 => {}
                                Err(e) => result = Err(e),
                                Ok(_) => {}
                            }
                        }
                    }
                    result
                }
                Err(e) => Err(e),
            }
        };
        if let Err(e) = deleted {
            out.errors.push(format!("{}: {e}", served.key()));
            continue;
        }
        match api.list(&lp).await {
            Ok(list) if !list.items.is_empty() => {
                let label = format!("{}.{}", served.ar.plural, served.ar.group);
                *out.by_resource.entry(label).or_default() += list.items.len();
                for item in &list.items {
                    for f in item.metadata.finalizers.iter().flatten() {
                        *out.by_finalizer.entry(f.clone()).or_default() += 1;
                    }
                }
            }
            Ok(_) => {}
            Err(e) => out.errors.push(format!("{}: {e}", served.key())),
        }
    }
    out
}

/// The failing conditions of this pass, by type: (reason, message).
fn failing_conditions(
    discovery_error: Option<&str>,
    remaining: &Remaining,
) -> BTreeMap<&'static str, (String, String)> {
    let mut out = BTreeMap::new();
    if let Some(e) = discovery_error {
        out.insert(
            "NamespaceDeletionDiscoveryFailure",
            ("DiscoveryFailed".to_string(), e.to_string()),
        );
    }
    if !remaining.errors.is_empty() {
        let mut msgs = remaining.errors.clone();
        msgs.sort();
        out.insert(
            "NamespaceDeletionContentFailure",
            (
                "ContentDeletionFailed".to_string(),
                format!(
                    "Failed to delete all resource types, {} remaining: {}",
                    msgs.len(),
                    msgs.join(", ")
                ),
            ),
        );
    }
    if !remaining.by_resource.is_empty() {
        let list: Vec<String> = remaining
            .by_resource
            .iter()
            .map(|(r, n)| format!("{r} has {n} resource instances"))
            .collect();
        out.insert(
            "NamespaceContentRemaining",
            (
                "SomeResourcesRemain".to_string(),
                format!("Some resources are remaining: {}", list.join(", ")),
            ),
        );
    }
    if !remaining.by_finalizer.is_empty() {
        let list: Vec<String> = remaining
            .by_finalizer
            .iter()
            .map(|(f, n)| format!("{f} in {n} resource instances"))
            .collect();
        out.insert(
            "NamespaceFinalizersRemaining",
            (
                "SomeFinalizersRemain".to_string(),
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    list.join(", ")
                ),
            ),
        );
    }
    out
}

/// Writes the deletion conditions to the namespace's status when they changed.
async fn update_conditions(
    api: &Api<Namespace>,
    mut ns: Namespace,
    discovery_error: Option<&str>,
    remaining: &Remaining,
) -> Result<Namespace, NamespaceError> {
    let failing = failing_conditions(discovery_error, remaining);
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let status = ns.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (ty, ok_reason, ok_message) in CONDITIONS {
        let (state, reason, message) = match failing.get(ty) {
            Some((r, m)) => ("True", r.clone(), m.clone()),
            None => ("False", ok_reason.to_string(), ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == *ty) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: ty.to_string(),
                    status: state.to_string(),
                    last_transition_time: Some(now.clone()),
                    reason: Some(reason),
                    message: Some(message),
                });
                changed = true;
            }
            Some(c) => {
                if c.status != state
                    || c.reason.as_deref() != Some(reason.as_str())
                    || c.message.as_deref() != Some(message.as_str())
                {
                    if c.status != state {
                        c.last_transition_time = Some(now.clone());
                    }
                    c.status = state.to_string();
                    c.reason = Some(reason);
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    if !changed {
        return Ok(ns);
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    Ok(api
        .replace_status(&name, &PostParams::default(), &ns)
        .await?)
}

/// Removes the `kubernetes` finalizer through the `finalize` subresource.
async fn finalize(api: &Api<Namespace>, mut ns: Namespace) -> Result<(), NamespaceError> {
    let name = ns.metadata.name.clone().unwrap_or_default();
    if let Some(spec) = ns.spec.as_mut() {
        if let Some(f) = spec.finalizers.as_mut() {
            f.retain(|x| x != FINALIZER);
        }
    }
    match api
        .replace_subresource("finalize", &name, &PostParams::default(), &ns)
        .await
    {
        Ok(_) => {
            tracing::info!(namespace = %name, "namespace controller: content removed, namespace finalized");
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
