//! The horizontal pod autoscaler (upstream's `pkg/controller/podautoscaler`): every
//! [`SYNC_PERIOD`], for each HorizontalPodAutoscaler, read the target's `/scale`, compute the
//! desired replicas from resource metrics (`metrics.k8s.io/v1beta1` PodMetrics), stabilize and
//! limit them, scale the target and report status, conditions and events as upstream.

pub mod replicas;

use crate::controllers::common::informer::SharedInformers;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerStatus,
    MetricSpec, MetricStatus, MetricValueStatus, ResourceMetricStatus,
};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::Client;
use parking_lot::Mutex;

use super::endpoints::informer::{self, split_key};
use super::endpoints::podutil;
use super::events::{reference, EventType, Recorder};
use super::queue::WorkQueue;
use super::resources::Resources;
use replicas::{PodSample, Recommendations, Target};

/// Name of the controller for `--disable`.
pub const CONTROLLER: &str = "horizontal-pod-autoscaler";
/// How often every autoscaler is reconciled (`--horizontal-pod-autoscaler-sync-period`).
pub const SYNC_PERIOD: Duration = Duration::from_secs(15);

/// Errors of one reconcile.
#[derive(Debug, thiserror::Error)]
pub enum HpaError {
    /// The API answered with an error.
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

struct Controller {
    client: Client,
    recorder: Recorder,
    resources: Mutex<Option<Arc<Resources>>>,
    recommendations: Mutex<HashMap<String, Recommendations>>,
}

/// Runs the HPA controller until the process ends.
pub async fn run(informers: Arc<SharedInformers>) {
    let client = informers.client().clone();
    let queue: Arc<WorkQueue<String>> = WorkQueue::new();
    let q = queue.clone();
    let hpas = informer::start(&informers, move |h: &HorizontalPodAutoscaler, deleted| {
        if !deleted {
            q.add(informer::key_of(h));
        }
    });
    let (store, q) = (hpas.store(), queue.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SYNC_PERIOD).await;
            for h in store.state() {
                q.add(informer::key_of(h.as_ref()));
            }
        }
    });
    informer::wait_synced(&hpas).await;
    let c = Controller {
        recorder: Recorder::new(client.clone(), "horizontal-pod-autoscaler", None),
        client,
        resources: Mutex::new(None),
        recommendations: Mutex::new(HashMap::new()),
    };
    loop {
        let key = queue.next().await;
        if let Err(e) = c.reconcile(&key).await {
            tracing::debug!(hpa = %key, error = %e, "hpa controller: reconcile failed");
        }
    }
}

/// Upstream's `setConditionInList`.
fn set_condition(
    status: &mut HorizontalPodAutoscalerStatus,
    type_: &str,
    ok: bool,
    reason: &str,
    message: &str,
) {
    let list = status.conditions.get_or_insert_with(Vec::new);
    let value = if ok { "True" } else { "False" };
    let idx = match list.iter().position(|c| c.type_ == type_) {
        Some(i) => i,
        None => {
            list.push(HorizontalPodAutoscalerCondition {
                type_: type_.into(),
                ..Default::default()
            });
            list.len() - 1
        }
    };
    if let Some(c) = list.get_mut(idx) {
        if c.status != value {
            c.last_transition_time = Some(Time(Timestamp::now()));
        }
        c.status = value.into();
        c.reason = Some(reason.into());
        c.message = Some(message.into());
    }
}

/// A metric's proposal: (replicas, metric name for messages, its status).
type Proposal = (i32, String, MetricStatus);

impl Controller {
    async fn scale_resource(&self, api_version: &str, kind: &str) -> Option<ApiResource> {
        for refresh in [false, true] {
            let cached = self.resources.lock().clone();
            let res = match cached {
                Some(r) if !refresh => r,
                _ => {
                    let r = Arc::new(Resources::discover(&self.client).await.ok()?);
                    *self.resources.lock() = Some(r.clone());
                    r
                }
            };
            if let Some(s) = res.for_kind(api_version, kind) {
                return Some(s.ar.clone());
            }
        }
        None
    }

    async fn reconcile(&self, key: &str) -> Result<(), HpaError> {
        let (ns, name) = split_key(key);
        let api: Api<HorizontalPodAutoscaler> = Api::namespaced(self.client.clone(), ns);
        let Some(hpa) = api.get_opt(name).await? else {
            self.recommendations.lock().remove(key);
            return Ok(());
        };
        let obj_ref = reference("autoscaling/v2", "HorizontalPodAutoscaler", &hpa.metadata);
        let spec = hpa.spec.clone().unwrap_or_default();
        let original = hpa.status.clone().unwrap_or_default();
        let mut status = original.clone();
        let target = &spec.scale_target_ref;
        let av = target.api_version.clone().unwrap_or_else(|| "v1".into());
        let scale = match self.scale_resource(&av, &target.kind).await {
            Some(ar) => {
                let dapi: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
                dapi.get_scale(&target.name)
                    .await
                    .map(|s| (dapi, s))
                    .map_err(|e| e.to_string())
            }
            None => Err(format!(
                "no matches for kind \"{}\" in group \"{}\"",
                target.kind,
                av.rsplit_once('/').map(|(g, _)| g).unwrap_or("")
            )),
        };
        let (dapi, scale) = match scale {
            Ok(v) => v,
            Err(e) => {
                self.recorder
                    .record(&obj_ref, EventType::Warning, "FailedGetScale", &e)
                    .await;
                let msg =
                    format!("the HPA controller was unable to get the target's current scale: {e}");
                set_condition(&mut status, "AbleToScale", false, "FailedGetScale", &msg);
                return self.write_status(&api, &hpa, &original, status).await;
            }
        };
        set_condition(
            &mut status,
            "AbleToScale",
            true,
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        );
        let current = scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
        self.recommendations
            .lock()
            .entry(key.to_string())
            .or_default()
            .initial(current);
        let min = spec.min_replicas.unwrap_or(1);
        let mut rescale_reason = String::new();
        let mut metric_statuses: Vec<MetricStatus> =
            status.current_metrics.clone().unwrap_or_default();
        let desired = if current == 0 && min != 0 {
            set_condition(
                &mut status,
                "ScalingActive",
                false,
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            );
            current
        } else if current > spec.max_replicas {
            rescale_reason = "Current number of replicas above Spec.MaxReplicas".into();
            spec.max_replicas
        } else if current < min {
            rescale_reason = "Current number of replicas below Spec.MinReplicas".into();
            min
        } else {
            let selector = scale
                .status
                .as_ref()
                .and_then(|s| s.selector.clone())
                .unwrap_or_default();
            let metrics = spec.metrics.clone().unwrap_or_default();
            let mut best: Option<(i32, String)> = None;
            let mut statuses = Vec::new();
            let mut invalid = 0;
            let mut first_error = None;
            for m in &metrics {
                match self
                    .compute_metric(ns, current, &selector, m, &obj_ref, &mut status)
                    .await
                {
                    Ok((r, n, st)) => {
                        statuses.push(st);
                        if best.as_ref().is_none_or(|(b, _)| r > *b) {
                            best = Some((r, n));
                        }
                    }
                    Err(e) => {
                        statuses.push(MetricStatus::default());
                        invalid += 1;
                        first_error.get_or_insert(e);
                    }
                }
            }
            metric_statuses = statuses;
            let Some((proposal, metric_name)) =
                best.filter(|_| invalid < metrics.len() || metrics.is_empty())
            else {
                let err = format!(
                    "invalid metrics ({invalid} invalid out of {}), first error is: {}",
                    metrics.len(),
                    first_error.unwrap_or_default()
                );
                status.current_replicas = Some(current);
                status.current_metrics = Some(metric_statuses);
                self.write_status(&api, &hpa, &original, status).await?;
                self.recorder
                    .record(
                        &obj_ref,
                        EventType::Warning,
                        "FailedComputeMetricsReplicas",
                        &err,
                    )
                    .await;
                return Ok(());
            };
            set_condition(
                &mut status,
                "ScalingActive",
                true,
                "ValidMetricFound",
                &format!(
                    "the HPA was able to successfully calculate a replica count from {metric_name}"
                ),
            );
            let window = spec
                .behavior
                .as_ref()
                .and_then(|b| b.scale_down.as_ref())
                .and_then(|d| d.stabilization_window_seconds)
                .map(|s| Duration::from_secs(s.max(0) as u64))
                .unwrap_or(replicas::DOWNSCALE_STABILIZATION);
            let stabilized = self
                .recommendations
                .lock()
                .entry(key.to_string())
                .or_default()
                .stabilize(proposal, window);
            if stabilized != proposal {
                set_condition(&mut status, "AbleToScale", true, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation");
            } else {
                set_condition(
                    &mut status,
                    "AbleToScale",
                    true,
                    "ReadyForNewScale",
                    "recommended size matches current size",
                );
            }
            let (desired, reason, message) =
                replicas::limit(current, stabilized, min, spec.max_replicas);
            set_condition(
                &mut status,
                "ScalingLimited",
                desired != stabilized,
                reason,
                message,
            );
            if desired > current {
                rescale_reason = format!("{metric_name} above target");
            } else if desired < current {
                rescale_reason = "All metrics below target".into();
            }
            desired
        };
        let rescale = desired != current;
        if rescale {
            let patch = serde_json::json!({"spec": {"replicas": desired}});
            if let Err(e) = dapi
                .patch_scale(&target.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                let msg = format!("New size: {desired}; reason: {rescale_reason}; error: {e}");
                self.recorder
                    .record(&obj_ref, EventType::Warning, "FailedRescale", &msg)
                    .await;
                set_condition(
                    &mut status,
                    "AbleToScale",
                    false,
                    "FailedUpdateScale",
                    &format!("the HPA controller was unable to update the target scale: {e}"),
                );
                status.current_replicas = Some(current);
                status.current_metrics = Some(metric_statuses);
                return self.write_status(&api, &hpa, &original, status).await;
            }
            set_condition(
                &mut status,
                "AbleToScale",
                true,
                "SucceededRescale",
                &format!("the HPA controller was able to update the target scale to {desired}"),
            );
            let msg = format!("New size: {desired}; reason: {rescale_reason}");
            self.recorder
                .record(&obj_ref, EventType::Normal, "SuccessfulRescale", &msg)
                .await;
            status.last_scale_time = Some(Time(Timestamp::now()));
            tracing::info!(hpa = %key, from = current, to = desired, "rescaled");
        }
        status.current_replicas = Some(current);
        status.desired_replicas = desired;
        status.current_metrics = Some(metric_statuses).filter(|m| !m.is_empty());
        self.write_status(&api, &hpa, &original, status).await
    }

    async fn write_status(
        &self,
        api: &Api<HorizontalPodAutoscaler>,
        hpa: &HorizontalPodAutoscaler,
        original: &HorizontalPodAutoscalerStatus,
        mut status: HorizontalPodAutoscalerStatus,
    ) -> Result<(), HpaError> {
        status.observed_generation = hpa.metadata.generation;
        if &status == original {
            return Ok(());
        }
        let mut new = hpa.clone();
        new.status = Some(status);
        let name = hpa.metadata.name.clone().unwrap_or_default();
        api.replace_status(&name, &PostParams::default(), &new)
            .await?;
        Ok(())
    }

    /// One metric's proposal; on failure the `ScalingActive` condition and the Warning event are
    /// set as upstream's `getUnableComputeReplicaCountCondition` and the wrapped error returned.
    async fn compute_metric(
        &self,
        ns: &str,
        current: i32,
        selector: &str,
        m: &MetricSpec,
        obj_ref: &k8s_openapi::api::core::v1::ObjectReference,
        status: &mut HorizontalPodAutoscalerStatus,
    ) -> Result<Proposal, String> {
        let fail = |reason: &'static str, err: String| (reason, err);
        let outcome: Result<Proposal, (&str, String)> = match (m.type_.as_str(), &m.resource) {
            ("Resource", Some(r)) => {
                let target = match (r.target.type_.as_str(), r.target.average_utilization, &r.target.average_value) {
                    ("Utilization", Some(u), _) => Some(Target::Utilization(u)),
                    ("AverageValue", _, Some(v)) => replicas::milli_value(&v.0).map(Target::AverageValue),
                    _ => None,
                };
                match target {
                    None => Err(fail("FailedGetResourceMetric", format!("invalid resource metric source: neither a utilization target nor a value target was set for {}", r.name))),
                    Some(t) => self
                        .resource_proposal(ns, current, selector, &r.name, t)
                        .await
                        .map_err(|e| fail("FailedGetResourceMetric", e))
                        .map(|rec| {
                            let name = match t {
                                Target::Utilization(_) => format!("{} resource utilization (percentage of request)", r.name),
                                Target::AverageValue(_) => format!("{} resource", r.name),
                            };
                            let st = MetricStatus {
                                type_: "Resource".into(),
                                resource: Some(ResourceMetricStatus {
                                    name: r.name.clone(),
                                    current: MetricValueStatus {
                                        average_utilization: rec.utilization,
                                        average_value: Some(Quantity(format!("{}m", rec.average))),
                                        value: None,
                                    },
                                }),
                                ..Default::default()
                            };
                            (rec.replicas, name, st)
                        }),
                }
            }
            ("Pods", _) => Err(fail("FailedGetPodsMetric", "unable to get metric: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered".into())),
            ("Object", _) => Err(fail("FailedGetObjectMetric", "unable to get metric: unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered".into())),
            ("External", _) => Err(fail("FailedGetExternalMetric", "unable to get external metric: unable to fetch metrics from external metrics API: no external metrics API (external.metrics.k8s.io) registered".into())),
            (other, _) => Err(fail("InvalidMetricSourceType", format!("unknown metric source type \"{other}\""))),
        };
        outcome.map_err(|(reason, err)| {
            let msg = format!("the HPA was unable to compute the replica count: {err}");
            set_condition(status, "ScalingActive", false, reason, &msg);
            let recorder = self.recorder.clone();
            let obj_ref = obj_ref.clone();
            let ev = err.clone();
            tokio::spawn(async move { recorder.record(&obj_ref, EventType::Warning, reason, &ev).await });
            let name = m.resource.as_ref().map(|r| r.name.clone()).unwrap_or_default();
            if m.type_ == "Resource" {
                format!("failed to get {name} resource metric value: failed to get {name} utilization: {err}")
            } else {
                err
            }
        })
    }

    /// Fetches PodMetrics and pods and runs the replica calculation for resource `resource`.
    async fn resource_proposal(
        &self,
        ns: &str,
        current: i32,
        selector: &str,
        resource: &str,
        target: Target,
    ) -> Result<replicas::Recommendation, String> {
        let lp = ListParams::default().labels(selector);
        let ar = ApiResource {
            group: "metrics.k8s.io".into(),
            version: "v1beta1".into(),
            api_version: "metrics.k8s.io/v1beta1".into(),
            kind: "PodMetrics".into(),
            plural: "pods".into(),
        };
        let mapi: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &ar);
        let metrics = match mapi.list(&lp).await {
            Ok(l) => l.items,
            Err(kube::Error::Api(e)) if e.code == 404 => {
                return Err(format!("unable to get metrics for resource {resource}: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"));
            }
            Err(e) => return Err(format!("unable to get metrics for resource {resource}: unable to fetch metrics from resource metrics API: {e}")),
        };
        if metrics.is_empty() {
            return Err(format!("unable to get metrics for resource {resource}: no metrics returned from resource metrics API"));
        }
        let mut usage: BTreeMap<String, i64> = BTreeMap::new();
        for pm in &metrics {
            let containers = pm
                .data
                .get("containers")
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default();
            let total: i64 = containers
                .iter()
                .filter_map(|c| {
                    c.pointer(&format!("/usage/{resource}"))
                        .and_then(|v| v.as_str())
                })
                .filter_map(replicas::milli_value)
                .sum();
            usage.insert(pm.metadata.name.clone().unwrap_or_default(), total);
        }
        let pods = Api::<Pod>::namespaced(self.client.clone(), ns)
            .list(&lp)
            .await
            .map_err(|e| e.to_string())?
            .items;
        let samples: BTreeMap<String, PodSample> = pods
            .iter()
            .map(|p| {
                let name = p.metadata.name.clone().unwrap_or_default();
                let request = p.spec.as_ref().map(|s| {
                    s.containers
                        .iter()
                        .map(|c| {
                            c.resources
                                .as_ref()
                                .and_then(|r| r.requests.as_ref())
                                .and_then(|r| r.get(resource))
                                .and_then(|q| replicas::milli_value(&q.0))
                        })
                        .sum::<Option<i64>>()
                });
                let sample = PodSample {
                    request: request.flatten(),
                    usage: usage.get(&name).copied(),
                    ready: podutil::phase(p) != "Pending"
                        && (resource != "cpu" || podutil::is_ready(p)),
                    ignored: podutil::is_terminating(p) || podutil::phase(p) == "Failed",
                };
                (name, sample)
            })
            .collect();
        replicas::resource_replicas(current, target, &samples)
    }
}
