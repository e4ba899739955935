//! An event recorder for controllers, as client-go's: core/v1 Events named
//! `<object>.<unique hex>`, written in the background; repeats of the same reason and message
//! for the same object are counted on the existing Event (count and lastTimestamp), similar
//! events combined and floods dropped (`correlator.rs`).

mod correlator;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use correlator::{Correlator, Decision, NewEvent, Source};

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// Normal operation.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    fn as_str(&self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Writes waiting per writer task before new events are dropped (client-go's queue of 1000).
const QUEUE: usize = 1000;
/// Writer tasks per recorder; an event always goes to the same one, so its creation and its
/// count updates stay in order.
const WRITERS: usize = 4;

/// One write to the API.
struct Write {
    namespace: String,
    event: Event,
    /// `Some(count)`: patch the existing event's count instead of creating it.
    count: Option<i32>,
    name_suffix: u128,
}

struct Inner {
    component: String,
    host: Option<String>,
    correlator: Mutex<Correlator>,
    writers: Vec<mpsc::Sender<Write>>,
}

/// Records Events for one component (e.g. `deployment-controller`, `default-scheduler`), as
/// client-go's recorder: recording never waits for the API (writes happen in background tasks,
/// dropped when too many are waiting), and the correlator combines, counts and rate-limits.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Inner>,
}

impl Recorder {
    /// A recorder for `component`, optionally on `host` (kubelets set their node name). Must be
    /// called inside the Tokio runtime (it starts the writer tasks).
    pub fn new(client: Client, component: &str, host: Option<&str>) -> Recorder {
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let writers = (0..WRITERS)
                .map(|_| {
                    let (tx, rx) = mpsc::channel(QUEUE);
                    tokio::spawn(write_loop(client.clone(), weak.clone(), rx));
                    tx
                })
                .collect();
            Inner {
                component: component.to_string(),
                host: host.map(str::to_string),
                correlator: Mutex::default(),
                writers,
            }
        });
        Recorder { inner }
    }

    /// Records an event about `object`; never fails and never waits for the API (as client-go).
    pub async fn record(
        &self,
        object: &ObjectReference,
        kind: EventType,
        reason: &str,
        message: &str,
    ) {
        let inner = &self.inner;
        let ns = object
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let source = Source {
            writer: format!(
                "{}\u{0}{}",
                inner.component,
                inner.host.as_deref().unwrap_or_default()
            ),
            object: format!(
                "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
                object.kind.as_deref().unwrap_or_default(),
                ns,
                object.name.as_deref().unwrap_or_default(),
                object.uid.as_deref().unwrap_or_default(),
                object.api_version.as_deref().unwrap_or_default()
            ),
        };
        let new = NewEvent {
            source,
            kind: kind.as_str().to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
        };
        let decision = inner
            .correlator
            .lock()
            .correlate(&new, Instant::now(), unique_suffix);
        let (name_suffix, count, message) = match decision {
            Decision::Skip => {
                tracing::debug!(reason, "event dropped by the spam filter");
                return;
            }
            Decision::Create {
                name_suffix,
                message,
            } => (name_suffix, None, message),
            Decision::Count {
                name_suffix,
                count,
                message,
            } => (name_suffix, Some(count), message),
        };
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!(
                    "{}.{:x}",
                    object.name.clone().unwrap_or_default(),
                    name_suffix
                )),
                namespace: Some(ns.clone()),
                ..Default::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(kind.as_str().to_string()),
            source: Some(EventSource {
                component: Some(inner.component.clone()),
                host: inner.host.clone(),
            }),
            first_timestamp: Some(now.clone()),
            last_timestamp: Some(now),
            count: Some(1),
            reporting_component: Some(inner.component.clone()),
            reporting_instance: Some(
                inner
                    .host
                    .clone()
                    .unwrap_or_else(|| inner.component.clone()),
            ),
            ..Default::default()
        };
        let writer = &inner.writers[(name_suffix % WRITERS as u128) as usize];
        let write = Write {
            namespace: ns,
            event,
            count,
            name_suffix,
        };
        if writer.try_send(write).is_err() {
            tracing::debug!(reason, "event queue full; dropping an event");
        }
    }
}

/// A name suffix unique within the process (client-go uses the time in nanoseconds).
fn unique_suffix() -> u128 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev + 1);
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return u128::from(next),
            Err(p) => prev = p,
        }
    }
}

/// Writes the events of one writer queue, in order.
async fn write_loop(client: Client, inner: std::sync::Weak<Inner>, mut rx: mpsc::Receiver<Write>) {
    while let Some(w) = rx.recv().await {
        let api: Api<Event> = Api::namespaced(client.clone(), &w.namespace);
        let name = w.event.metadata.name.clone().unwrap_or_default();
        if let Some(count) = w.count {
            let patch = serde_json::json!({
                "count": count,
                "lastTimestamp": w.event.last_timestamp,
                "message": w.event.message,
            });
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => continue,
                Err(e) => tracing::debug!(error = %e, "event update failed; creating a new one"),
            }
        }
        if let Err(e) = api.create(&PostParams::default(), &w.event).await {
            tracing::debug!(error = %e, event = %name, "could not record event");
            if let Some(inner) = inner.upgrade() {
                inner.correlator.lock().forget(w.name_suffix);
            }
        }
    }
}

/// An ObjectReference for a Kubernetes object (`kind`, `apiVersion` given by the caller).
pub fn reference(api_version: &str, kind: &str, meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some(api_version.to_string()),
        kind: Some(kind.to_string()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        resource_version: meta.resource_version.clone(),
        field_path: None,
    }
}
