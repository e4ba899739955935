//! The scheduler (kube-scheduler semantics), talking to the API like the real one: it watches
//! nodes and pods into its cache and queue, decides one pod at a time (filters and scores as
//! upstream's default plugins, `algorithm.rs`), assumes the pod on the chosen node and binds it
//! through `pods/binding` with a bounded number of bindings in flight. Pods that fit nowhere get
//! the `FailedScheduling` event and the `PodScheduled=False` condition, may preempt
//! lower-priority pods, and are retried when the cluster changes.

pub mod algorithm;
pub mod cache;
pub mod filters;
pub mod pending;
pub mod scores;
pub mod selector;
pub mod types;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use super::common::informer::{Change, Informer, SharedInformers};
use super::events::{EventType, Recorder};
use algorithm::Scheduler;
use pending::Pending;
use types::{NodeSpec, PodInfo};

/// The user the scheduler authenticates as.
pub const SCHEDULER_USER: &str = "system:kube-scheduler";
/// The scheduler's name in `spec.schedulerName` and as event source.
pub const SCHEDULER_NAME: &str = "default-scheduler";
/// Name of the scheduler for `--disable`.
pub const DISABLE_NAME: &str = "scheduler";
/// Bindings in flight at once.
pub const MAX_IN_FLIGHT: usize = 64;

/// What the watchers and binding tasks tell the scheduling loop.
enum Msg {
    Node(Arc<Node>),
    NodeGone(String),
    NodesListed(HashSet<String>),
    Pod(Arc<Pod>),
    PodGone(String),
    PodsListed(HashSet<String>),
    Bound {
        pod: Arc<PodInfo>,
        node: String,
        error: Option<kube::Error>,
    },
}

/// Events and status writes done off the scheduling loop.
enum Report {
    Event {
        pod: Arc<PodInfo>,
        kind: EventType,
        reason: &'static str,
        message: String,
    },
    Unschedulable {
        pod: Arc<PodInfo>,
        message: String,
        nominated: Option<String>,
    },
}

/// Runs the scheduler until the API connection is dropped for good.
pub async fn run(client: Client, informers: Arc<SharedInformers>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    watch_nodes(informers.get::<Node>(), tx.clone());
    watch_pods(informers.get::<Pod>(), tx.clone());
    let (report_tx, report_rx) = mpsc::channel(1000);
    tokio::spawn(reporter(client.clone(), report_rx));
    let mut state = State {
        sched: Scheduler::new(),
        pending: Pending::new(),
        nodes_synced: false,
        pods_synced: false,
        client,
        tx,
        reports: report_tx,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
    };
    let mut last_tick = Instant::now();
    tracing::info!("scheduler started");
    loop {
        loop {
            match rx.try_recv() {
                Ok(m) => state.handle(m),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }
        if last_tick.elapsed() >= Duration::from_millis(200) {
            state.pending.tick();
            last_tick = Instant::now();
        }
        if state.nodes_synced && state.pods_synced {
            if let Some(pod) = state.pending.pop() {
                let Ok(permit) = state.in_flight.clone().acquire_owned().await else {
                    return;
                };
                state.schedule_one(pod, permit);
                continue;
            }
        }
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => state.handle(m),
                None => return,
            },
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

struct State {
    sched: Scheduler,
    pending: Pending,
    nodes_synced: bool,
    pods_synced: bool,
    client: Client,
    tx: mpsc::UnboundedSender<Msg>,
    reports: mpsc::Sender<Report>,
    in_flight: Arc<Semaphore>,
}

impl State {
    fn handle(&mut self, m: Msg) {
        match m {
            Msg::Node(node) => {
                if let Some(spec) = NodeSpec::from_node(&node) {
                    if self.sched.cache.set_node(spec) {
                        self.pending.move_all();
                    }
                }
            }
            Msg::NodeGone(name) => self.sched.cache.remove_node(&name),
            Msg::NodesListed(seen) => {
                for name in self.sched.cache.node_names() {
                    if !seen.contains(&name) {
                        self.sched.cache.remove_node(&name);
                    }
                }
                self.nodes_synced = true;
                self.pending.move_all();
            }
            Msg::Pod(pod) => self.pod_seen(&pod),
            Msg::PodGone(key) => {
                self.pending.remove(&key);
                if self.sched.cache.remove_pod(&key).is_some() {
                    self.pending.move_all();
                }
            }
            Msg::PodsListed(seen) => {
                for key in self.sched.cache.pod_keys() {
                    if !seen.contains(&key) && !self.sched.cache.is_assumed(&key) {
                        self.sched.cache.remove_pod(&key);
                    }
                }
                for key in self.pending.keys() {
                    if !seen.contains(&key) {
                        self.pending.remove(&key);
                    }
                }
                self.pods_synced = true;
            }
            Msg::Bound { pod, node, error } => match error {
                None => tracing::debug!(pod = %pod.key, %node, "bound"),
                Some(e) => {
                    tracing::debug!(pod = %pod.key, %node, error = %e, "binding failed");
                    if self.sched.cache.is_assumed(&pod.key) {
                        self.sched.cache.remove_pod(&pod.key);
                    }
                    let gone = matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 409);
                    if !gone {
                        self.report(Report::Event {
                            pod: pod.clone(),
                            kind: EventType::Warning,
                            reason: "FailedScheduling",
                            message: format!("Binding rejected: {e}"),
                        });
                        self.pending.retry(pod);
                    }
                }
            },
        }
    }

    fn pod_seen(&mut self, pod: &Pod) {
        let Some(info) = PodInfo::from_pod(pod) else {
            return;
        };
        if !info.node_name.is_empty() {
            self.pending.remove(&info.key);
            if info.terminal {
                if self.sched.cache.remove_pod(&info.key).is_some() {
                    self.pending.move_all();
                }
            } else {
                self.sched.cache.add_pod(info);
            }
            return;
        }
        if self.sched.cache.is_assumed(&info.key) {
            return;
        }
        if info.scheduler_name != SCHEDULER_NAME || info.terminating || info.terminal {
            self.pending.remove(&info.key);
            return;
        }
        self.pending.upsert(info);
    }

    fn report(&self, r: Report) {
        if self.reports.try_send(r).is_err() {
            tracing::debug!("scheduler report queue full; dropping a report");
        }
    }

    fn schedule_one(&mut self, pod: Arc<PodInfo>, permit: tokio::sync::OwnedSemaphorePermit) {
        if self.sched.cache.contains(&pod.key) {
            self.pending.remove(&pod.key);
            return;
        }
        match self.sched.schedule(&pod) {
            Ok(slot) => {
                self.pending.remove(&pod.key);
                let assumed = self.sched.assume(&pod, slot);
                let node = assumed.node_name.clone();
                let client = self.client.clone();
                let tx = self.tx.clone();
                let reports = self.reports.clone();
                tokio::spawn(async move {
                    let error = bind(&client, &pod, &node).await.err();
                    drop(permit);
                    if error.is_none() {
                        let message = format!("Successfully assigned {} to {node}", pod.key);
                        let _ = reports.try_send(Report::Event {
                            pod: pod.clone(),
                            kind: EventType::Normal,
                            reason: "Scheduled",
                            message,
                        });
                    }
                    let _ = tx.send(Msg::Bound { pod, node, error });
                });
            }
            Err(fit) => {
                drop(permit);
                let (post, nominated) = match self.sched.preempt(&pod, &fit) {
                    _ if fit.num_nodes == 0 => (None, None),
                    Ok((slot, victims)) => {
                        let node = self.sched.cache.nodes[slot].name.clone();
                        self.evict(&pod, &node, victims);
                        (None, Some(node))
                    }
                    Err(msg) => (Some(msg), None),
                };
                let message = fit.message(post.as_deref());
                tracing::debug!(pod = %pod.key, %message, "unschedulable");
                let mut parked = (*pod).clone();
                if let Some(n) = &nominated {
                    parked.nominated = n.clone();
                }
                let parked = Arc::new(parked);
                self.report(Report::Event {
                    pod: parked.clone(),
                    kind: EventType::Warning,
                    reason: "FailedScheduling",
                    message: message.clone(),
                });
                self.report(Report::Unschedulable {
                    pod: parked.clone(),
                    message,
                    nominated,
                });
                self.pending.unschedulable(parked);
            }
        }
    }

    /// Deletes preemption victims (with their own grace period).
    fn evict(&self, pod: &PodInfo, node: &str, victims: Vec<Arc<PodInfo>>) {
        for v in victims {
            tracing::info!(victim = %v.key, preemptor = %pod.key, %node, "preempting");
            self.report(Report::Event {
                pod: v.clone(),
                kind: EventType::Normal,
                reason: "Preempted",
                message: format!("Preempted by pod {} on node {node}", pod.uid),
            });
            let api: Api<Pod> = Api::namespaced(self.client.clone(), &v.namespace);
            tokio::spawn(async move {
                if let Err(e) = api.delete(&v.name, &DeleteParams::default()).await {
                    tracing::warn!(victim = %v.key, error = %e, "deleting a preemption victim failed");
                }
            });
        }
    }
}

/// POSTs the binding of `pod` to `node`.
async fn bind(client: &Client, pod: &PodInfo, node: &str) -> Result<(), kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
        "target": {"kind": "Node", "name": node},
    });
    api.create_subresource::<_, serde_json::Value>(
        "binding",
        &pod.name,
        &PostParams::default(),
        &binding,
    )
    .await
    .map(|_| ())
}

/// Writes events and `PodScheduled=False` conditions, skipping condition writes that would not
/// change anything.
async fn reporter(client: Client, mut rx: mpsc::Receiver<Report>) {
    let recorder = Recorder::new(client.clone(), SCHEDULER_NAME, None);
    let mut written: HashMap<String, (String, Option<String>)> = HashMap::new();
    while let Some(r) = rx.recv().await {
        match r {
            Report::Event {
                pod,
                kind,
                reason,
                message,
            } => {
                let obj = ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("Pod".into()),
                    namespace: Some(pod.namespace.clone()),
                    name: Some(pod.name.clone()),
                    uid: Some(pod.uid.clone()),
                    ..Default::default()
                };
                recorder.record(&obj, kind, reason, &message).await;
            }
            Report::Unschedulable {
                pod,
                message,
                nominated,
            } => {
                let state = (message.clone(), nominated.clone());
                if written.get(&pod.key) == Some(&state) {
                    continue;
                }
                let patch = json!({"status": {
                    "conditions": [{
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": message,
                        "lastProbeTime": null,
                        "lastTransitionTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    }],
                    "nominatedNodeName": nominated,
                }});
                let api: Api<Pod> = Api::namespaced(client.clone(), &pod.namespace);
                match api
                    .patch_status(
                        &pod.name,
                        &PatchParams::default(),
                        &Patch::Strategic(&patch),
                    )
                    .await
                {
                    Ok(_) => {
                        written.insert(pod.key.clone(), state);
                    }
                    Err(e) => tracing::debug!(pod = %pod.key, error = %e, "status update failed"),
                }
            }
        }
    }
}

/// Feeds node changes from the shared informer into the scheduling loop.
fn watch_nodes(informer: Informer<Node>, tx: mpsc::UnboundedSender<Msg>) {
    let mut rx = informer.subscribe();
    let store = informer.store();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            let msgs = match change {
                Change::Applied(n) => vec![Msg::Node(n)],
                Change::Deleted(n) => {
                    vec![Msg::NodeGone(n.metadata.name.clone().unwrap_or_default())]
                }
                Change::Resync => {
                    let nodes = store.state();
                    let names = nodes
                        .iter()
                        .filter_map(|n| n.metadata.name.clone())
                        .collect();
                    let mut msgs: Vec<Msg> = nodes.into_iter().map(Msg::Node).collect();
                    msgs.push(Msg::NodesListed(names));
                    msgs
                }
            };
            for m in msgs {
                if tx.send(m).is_err() {
                    return;
                }
            }
        }
    });
}

fn pod_key(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

/// Feeds pod changes from the shared informer into the scheduling loop.
fn watch_pods(informer: Informer<Pod>, tx: mpsc::UnboundedSender<Msg>) {
    let mut rx = informer.subscribe();
    let store = informer.store();
    tokio::spawn(async move {
        while let Some(change) = rx.recv().await {
            let msgs = match change {
                Change::Applied(p) => vec![Msg::Pod(p)],
                Change::Deleted(p) => vec![Msg::PodGone(pod_key(&p))],
                Change::Resync => {
                    let pods = store.state();
                    let keys = pods.iter().map(|p| pod_key(p)).collect();
                    let mut msgs: Vec<Msg> = pods.into_iter().map(Msg::Pod).collect();
                    msgs.push(Msg::PodsListed(keys));
                    msgs
                }
            };
            for m in msgs {
                if tx.send(m).is_err() {
                    return;
                }
            }
        }
    });
}
