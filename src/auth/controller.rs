//! Per-namespace objects upstream's controllers keep: the `default` ServiceAccount (serviceaccounts
//! controller) and the `kube-root-ca.crt` ConfigMap with the cluster CA (root-ca-cert-publisher).
//! Both are made for every namespace and remade when deleted; the ConfigMap is restored when
//! changed.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::api::admission::pod::{DEFAULT_SERVICE_ACCOUNT, ROOT_CA_CONFIGMAP};
use crate::api::cache::EventType;
use crate::api::handler::App;
use crate::api::object::ObjectMeta;
use crate::api::store::{Part, WriteOptions};

/// The description upstream puts on `kube-root-ca.crt`.
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn active_namespace(app: &App, ns: &str) -> bool {
    app.store
        .cache
        .get(&format!("/registry/namespaces/{ns}"))
        .is_some_and(|n| n.meta_str("deletionTimestamp").is_none())
}

fn root_ca(ns: &str, ca: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": ROOT_CA_CONFIGMAP,
            "namespace": ns,
            "annotations": {"kubernetes.io/description": DESCRIPTION},
        },
        "data": {"ca.crt": ca},
    })
}

/// Makes what is missing of namespace `ns`'s default account and CA ConfigMap.
pub async fn ensure_namespace(app: &App, ns: &str, ca: &str) {
    if !active_namespace(app, ns) {
        return;
    }
    let store = &app.store;
    let opts = WriteOptions::default();
    if let Some(res) = store.registry.find("", "v1", "serviceaccounts") {
        let key = format!("/registry/serviceaccounts/{ns}/{DEFAULT_SERVICE_ACCOUNT}");
        if store.cache.get(&key).is_none() {
            let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": ns}});
            if let Err(e) = store.create(&res, Some(ns), sa, &opts).await {
                if e.code != 409 && e.code != 403 && e.code != 404 {
                    tracing::warn!(namespace = ns, error = %e, "creating the default service account failed");
                }
            }
        }
    }
    if let Some(res) = store.registry.find("", "v1", "configmaps") {
        let key = format!("/registry/configmaps/{ns}/{ROOT_CA_CONFIGMAP}");
        let result = match store.cache.get(&key) {
            None => store
                .create(&res, Some(ns), root_ca(ns, ca), &opts)
                .await
                .map(|_| ()),
            Some(cm) if cm.pointer("/data/ca.crt").and_then(Value::as_str) != Some(ca) => store
                .guaranteed_update(
                    &res,
                    Some(ns),
                    ROOT_CA_CONFIGMAP,
                    Part::Main,
                    &opts,
                    |old| {
                        let mut n = old.clone();
                        n["data"] = json!({"ca.crt": ca});
                        Ok(n)
                    },
                )
                .await
                .map(|_| ()),
            Some(_) => Ok(()),
        };
        if let Err(e) = result {
            if e.code != 409 && e.code != 403 && e.code != 404 {
                tracing::warn!(namespace = ns, error = %e, "publishing kube-root-ca.crt failed");
            }
        }
    }
}

/// The namespace a change concerns, when it may need [`ensure_namespace`].
fn affected(kind: EventType, key: &str) -> Option<String> {
    if let Some(name) = key.strip_prefix("/registry/namespaces/") {
        return (kind == EventType::Added).then(|| name.to_string());
    }
    let in_ns = |prefix: &str, name: &str| {
        key.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('/'))
            .filter(|(_, n)| *n == name)
            .map(|(ns, _)| ns.to_string())
    };
    if kind == EventType::Deleted {
        if let Some(ns) = in_ns("/registry/serviceaccounts/", DEFAULT_SERVICE_ACCOUNT) {
            return Some(ns);
        }
    }
    in_ns("/registry/configmaps/", ROOT_CA_CONFIGMAP)
}

/// Makes the objects for every existing namespace, then keeps them in a background task.
pub async fn start(app: Arc<App>, ca: String) {
    // Namespaces, their default ServiceAccount and root CA ConfigMap: every event is looked at.
    let mut rx = app.store.cache.subscribe(crate::api::cache::ROOT);
    let snap = app.store.cache.snapshot("/registry/namespaces/", None);
    for ns in snap.values() {
        ensure_namespace(&app, ns.name(), &ca).await;
    }
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(e) => {
                    if let Some(ns) = affected(e.kind, &e.key) {
                        ensure_namespace(&app, &ns, &ca).await;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let snap = app.store.cache.snapshot("/registry/namespaces/", None);
                    for ns in snap.values() {
                        ensure_namespace(&app, ns.name(), &ca).await;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    });
}
