//! The scheduler's compact views of pods and nodes, parsed once from the API objects so that
//! filters and scores never touch JSON or quantity strings.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Container, Node, Pod, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use crate::validation::Quantity;

pub use super::selector::{NodeTerm, Op, Requirement, Selector};

/// The default CPU request (millicores) assumed for scoring containers without one.
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// The default memory request (bytes) assumed for scoring containers without one.
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

/// Labels of a pod or node.
pub type Labels = BTreeMap<String, String>;

/// Amounts of resources: CPU in millicores, memory and ephemeral storage in bytes, and extended
/// resources by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Millicores.
    pub cpu: i64,
    /// Bytes.
    pub memory: i64,
    /// Bytes.
    pub ephemeral: i64,
    /// Extended resources (`nvidia.com/gpu`, hugepages, …).
    pub scalar: BTreeMap<String, i64>,
}

impl Resources {
    /// Parses a resource list (`requests`, `allocatable`).
    pub fn from_list(list: Option<&BTreeMap<String, K8sQuantity>>) -> Resources {
        let mut r = Resources::default();
        for (name, q) in list.into_iter().flatten() {
            r.set(name, &q.0);
        }
        r
    }

    fn set(&mut self, name: &str, q: &str) {
        let Ok(q) = Quantity::parse(q) else { return };
        let nano = q.nano_value();
        match name {
            "cpu" => self.cpu = ceil_div(nano, 1_000_000),
            "memory" => self.memory = ceil_div(nano, 1_000_000_000),
            "ephemeral-storage" => self.ephemeral = ceil_div(nano, 1_000_000_000),
            "pods" => {}
            other => {
                self.scalar
                    .insert(other.to_string(), ceil_div(nano, 1_000_000_000));
            }
        }
    }

    /// Adds `o` to these amounts.
    pub fn add(&mut self, o: &Resources) {
        self.cpu += o.cpu;
        self.memory += o.memory;
        self.ephemeral += o.ephemeral;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) += v;
        }
    }

    /// Subtracts `o` from these amounts.
    pub fn sub(&mut self, o: &Resources) {
        self.cpu -= o.cpu;
        self.memory -= o.memory;
        self.ephemeral -= o.ephemeral;
        for (k, v) in &o.scalar {
            *self.scalar.entry(k.clone()).or_insert(0) -= v;
        }
    }

    /// The larger amount of each resource.
    fn max(&mut self, o: &Resources) {
        self.cpu = self.cpu.max(o.cpu);
        self.memory = self.memory.max(o.memory);
        self.ephemeral = self.ephemeral.max(o.ephemeral);
        for (k, v) in &o.scalar {
            let e = self.scalar.entry(k.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Whether nothing is requested.
    pub fn is_zero(&self) -> bool {
        self.cpu == 0
            && self.memory == 0
            && self.ephemeral == 0
            && self.scalar.values().all(|v| *v == 0)
    }
}

fn ceil_div(nano: i128, unit: i128) -> i64 {
    let v = if nano >= 0 {
        (nano + unit - 1) / unit
    } else {
        nano / unit
    };
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A taint or toleration effect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taint {
    /// Key.
    pub key: String,
    /// Value.
    pub value: String,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: String,
}

/// A toleration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    /// Key (empty with `Exists`: every key).
    pub key: String,
    /// `Equal` or `Exists`.
    pub exists: bool,
    /// Value for `Equal`.
    pub value: String,
    /// Effect (empty: every effect).
    pub effect: String,
}

impl Toleration {
    /// Upstream's `ToleratesTaint`.
    pub fn tolerates(&self, t: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != t.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != t.key {
            return false;
        }
        self.exists || self.value == t.value
    }
}

/// A pod (anti-)affinity term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AffinityTerm {
    /// Which pods the term is about.
    pub selector: Selector,
    /// Namespaces the pods may be in (empty and no namespace selector: the pod's own).
    pub namespaces: HashSet<String>,
    /// An empty `namespaceSelector` was given: all namespaces.
    pub all_namespaces: bool,
    /// The topology domain label.
    pub topology_key: String,
}

impl AffinityTerm {
    fn parse(t: &PodAffinityTerm, own_ns: &str) -> AffinityTerm {
        let mut namespaces: HashSet<String> = t.namespaces.iter().flatten().cloned().collect();
        // A non-empty namespace selector would need Namespace objects; only `{}` is honoured.
        let all_namespaces = t.namespace_selector.as_ref().is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
        });
        if namespaces.is_empty() && t.namespace_selector.is_none() {
            namespaces.insert(own_ns.to_string());
        }
        AffinityTerm {
            selector: Selector::parse(t.label_selector.as_ref()),
            namespaces,
            all_namespaces,
            topology_key: t.topology_key.clone(),
        }
    }

    /// Whether `pod` is one of the pods the term selects.
    pub fn matches(&self, pod: &PodInfo) -> bool {
        (self.all_namespaces || self.namespaces.contains(&pod.namespace))
            && self.selector.matches(&pod.labels)
    }
}

/// A topology spread constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spread {
    /// Largest allowed difference to the global minimum.
    pub max_skew: i64,
    /// The domain label.
    pub topology_key: String,
    /// `DoNotSchedule` (true) or `ScheduleAnyway`.
    pub hard: bool,
    /// The counted pods.
    pub selector: Selector,
    /// `minDomains`.
    pub min_domains: i64,
}

/// A host port in use: protocol, host IP (`0.0.0.0` for all), port.
pub type HostPort = (String, String, i32);

/// Everything the scheduler needs of a pod.
#[derive(Clone, Debug, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    /// UID.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `spec.nodeName` (empty: unscheduled).
    pub node_name: String,
    /// `spec.schedulerName`.
    pub scheduler_name: String,
    /// `spec.priority`.
    pub priority: i32,
    /// `spec.preemptionPolicy: Never`.
    pub never_preempt: bool,
    /// Effective requests (max of init containers and the sum of containers, plus overhead).
    pub requests: Resources,
    /// CPU and memory requests with defaults for unset values (scoring only).
    pub non_zero: (i64, i64),
    /// `spec.nodeSelector`.
    pub node_selector: Labels,
    /// Required node affinity terms (any must match); `None` when unset.
    pub required_terms: Option<Vec<NodeTerm>>,
    /// Preferred node affinity terms with their weights.
    pub preferred_terms: Vec<(i64, NodeTerm)>,
    /// Tolerations.
    pub tolerations: Vec<Toleration>,
    /// Required pod affinity terms.
    pub affinity: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub anti_affinity: Vec<AffinityTerm>,
    /// Preferred pod affinity terms with weights.
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    /// Preferred pod anti-affinity terms with weights.
    pub preferred_anti_affinity: Vec<(i64, AffinityTerm)>,
    /// Topology spread constraints.
    pub spread: Vec<Spread>,
    /// Host ports wanted.
    pub host_ports: Vec<HostPort>,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// Phase Succeeded or Failed.
    pub terminal: bool,
    /// `spec.terminationGracePeriodSeconds`.
    pub grace: Option<i64>,
    /// `status.nominatedNodeName`.
    pub nominated: String,
}

impl PodInfo {
    /// Parses a pod.
    pub fn from_pod(pod: &Pod) -> Option<Arc<PodInfo>> {
        let meta = &pod.metadata;
        let name = meta.name.clone()?;
        let namespace = meta.namespace.clone().unwrap_or_default();
        let spec = pod.spec.as_ref()?;
        let mut requests = Resources::default();
        let (mut cpu0, mut mem0) = (0, 0);
        for c in &spec.containers {
            let r = container_requests(c);
            cpu0 += if r.cpu == 0 { DEFAULT_MILLI_CPU } else { r.cpu };
            mem0 += if r.memory == 0 {
                DEFAULT_MEMORY
            } else {
                r.memory
            };
            requests.add(&r);
        }
        // Restartable (sidecar) init containers run alongside; others one at a time.
        let mut sidecars = Resources::default();
        for c in spec.init_containers.iter().flatten() {
            let r = container_requests(c);
            if c.restart_policy.as_deref() == Some("Always") {
                sidecars.add(&r);
                requests.add(&r);
            } else {
                let mut with = sidecars.clone();
                with.add(&r);
                requests.max(&with);
            }
        }
        let overhead = Resources::from_list(spec.overhead.as_ref());
        requests.add(&overhead);
        let affinity = spec.affinity.as_ref();
        let node_aff = affinity.and_then(|a| a.node_affinity.as_ref());
        let pod_aff = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let terms = |v: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            v.into_iter()
                .flatten()
                .map(|t| AffinityTerm::parse(t, &namespace))
                .collect()
        };
        let info = PodInfo {
            key: format!("{namespace}/{name}"),
            uid: meta.uid.clone().unwrap_or_default(),
            labels: meta.labels.clone().unwrap_or_default(),
            node_name: spec.node_name.clone().unwrap_or_default(),
            scheduler_name: spec
                .scheduler_name
                .clone()
                .unwrap_or_else(|| "default-scheduler".to_string()),
            priority: spec.priority.unwrap_or(0),
            never_preempt: spec.preemption_policy.as_deref() == Some("Never"),
            requests,
            non_zero: (cpu0 + overhead.cpu, mem0 + overhead.memory),
            node_selector: spec.node_selector.clone().unwrap_or_default(),
            required_terms: node_aff
                .and_then(|n| {
                    n.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(|s| s.node_selector_terms.iter().map(NodeTerm::parse).collect()),
            preferred_terms: node_aff
                .and_then(|n| {
                    n.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|p| (i64::from(p.weight), NodeTerm::parse(&p.preference)))
                .collect(),
            tolerations: spec
                .tolerations
                .iter()
                .flatten()
                .map(|t| Toleration {
                    key: t.key.clone().unwrap_or_default(),
                    exists: t.operator.as_deref() == Some("Exists"),
                    value: t.value.clone().unwrap_or_default(),
                    effect: t.effect.clone().unwrap_or_default(),
                })
                .collect(),
            affinity: terms(pod_aff.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            anti_affinity: terms(anti.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity: pod_aff
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| {
                    (
                        i64::from(w.weight),
                        AffinityTerm::parse(&w.pod_affinity_term, &namespace),
                    )
                })
                .collect(),
            preferred_anti_affinity: anti
                .and_then(|a| {
                    a.preferred_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .into_iter()
                .flatten()
                .map(|w| {
                    (
                        i64::from(w.weight),
                        AffinityTerm::parse(&w.pod_affinity_term, &namespace),
                    )
                })
                .collect(),
            spread: spec
                .topology_spread_constraints
                .iter()
                .flatten()
                .map(|c| Spread {
                    max_skew: i64::from(c.max_skew),
                    topology_key: c.topology_key.clone(),
                    hard: c.when_unsatisfiable == "DoNotSchedule",
                    selector: Selector::parse(c.label_selector.as_ref()),
                    min_domains: c.min_domains.map(i64::from).unwrap_or(1),
                })
                .collect(),
            host_ports: spec
                .containers
                .iter()
                .chain(spec.init_containers.iter().flatten())
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| {
                    let hp = p.host_port.filter(|hp| *hp > 0)?;
                    Some((
                        p.protocol.clone().unwrap_or_else(|| "TCP".to_string()),
                        p.host_ip
                            .clone()
                            .filter(|ip| !ip.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".to_string()),
                        hp,
                    ))
                })
                .collect(),
            terminating: meta.deletion_timestamp.is_some(),
            terminal: pod
                .status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|p| p == "Succeeded" || p == "Failed"),
            grace: spec.termination_grace_period_seconds,
            nominated: pod
                .status
                .as_ref()
                .and_then(|s| s.nominated_node_name.clone())
                .unwrap_or_default(),
            namespace,
            name,
        };
        Some(Arc::new(info))
    }

    /// Whether the pod has any inter-pod affinity terms (required or preferred).
    pub fn has_affinity(&self) -> bool {
        !self.affinity.is_empty()
            || !self.anti_affinity.is_empty()
            || !self.preferred_affinity.is_empty()
            || !self.preferred_anti_affinity.is_empty()
    }
}

fn container_requests(c: &Container) -> Resources {
    let res = c.resources.as_ref();
    // Limits stand in for unset requests (upstream defaulting does this on create).
    let mut r = Resources::from_list(res.and_then(|r| r.limits.as_ref()));
    let req = Resources::from_list(res.and_then(|r| r.requests.as_ref()));
    if res.and_then(|r| r.requests.as_ref()).is_some() {
        let set = res.and_then(|r| r.requests.as_ref());
        let has = |k: &str| set.is_some_and(|m| m.contains_key(k));
        if has("cpu") {
            r.cpu = req.cpu;
        }
        if has("memory") {
            r.memory = req.memory;
        }
        if has("ephemeral-storage") {
            r.ephemeral = req.ephemeral;
        }
        for (k, v) in req.scalar {
            r.scalar.insert(k, v);
        }
    }
    r
}

/// Everything the scheduler needs of a node (without the pods on it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSpec {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: Labels,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Taints.
    pub taints: Vec<Taint>,
    /// `status.allocatable` (capacity when unset).
    pub allocatable: Resources,
    /// The `pods` allocatable.
    pub allowed_pods: i64,
}

impl NodeSpec {
    /// Parses a node.
    pub fn from_node(node: &Node) -> Option<NodeSpec> {
        let name = node.metadata.name.clone()?;
        let spec = node.spec.as_ref();
        let status = node.status.as_ref();
        let alloc = status
            .and_then(|s| s.allocatable.as_ref())
            .or_else(|| status.and_then(|s| s.capacity.as_ref()));
        let allowed_pods = alloc
            .and_then(|a| a.get("pods"))
            .and_then(|q| Quantity::parse(&q.0).ok())
            .map(|q| ceil_div(q.nano_value(), 1_000_000_000))
            .unwrap_or(0);
        Some(NodeSpec {
            name,
            labels: node.metadata.labels.clone().unwrap_or_default(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            taints: spec
                .and_then(|s| s.taints.as_ref())
                .into_iter()
                .flatten()
                .map(|t| Taint {
                    key: t.key.clone(),
                    value: t.value.clone().unwrap_or_default(),
                    effect: t.effect.clone(),
                })
                .collect(),
            allocatable: Resources::from_list(alloc),
            allowed_pods,
        })
    }
}
