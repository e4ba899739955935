//! The node status pieces every kubelet posts alike, simulated or on Docker: conditions that keep
//! their transition time while their status holds, the three "no pressure" conditions, and the
//! architecture name.

use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{json, Value};

use super::now_seconds;

/// Writes node conditions for one heartbeat of `node`.
pub struct NodeConditions {
    now: Value,
    old: Vec<NodeCondition>,
}

impl NodeConditions {
    /// Conditions for a heartbeat now, against the node's current ones.
    pub fn new(node: &Node) -> NodeConditions {
        NodeConditions {
            now: serde_json::to_value(Time(now_seconds())).unwrap_or(Value::Null),
            old: node
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default(),
        }
    }

    /// One condition, heartbeat now; its transition time stays while its status does.
    pub fn condition(&self, type_: &str, status: &str, reason: &str, message: &str) -> Value {
        let transition = match self.old.iter().find(|c| c.type_ == type_) {
            Some(p) if p.status == status => {
                serde_json::to_value(&p.last_transition_time).unwrap_or(Value::Null)
            }
            _ => self.now.clone(),
        };
        json!({"type": type_, "status": status, "lastHeartbeatTime": self.now,
               "lastTransitionTime": transition, "reason": reason, "message": message})
    }

    /// MemoryPressure, DiskPressure and PIDPressure, all False, as a healthy kubelet posts them.
    pub fn no_pressure(&self) -> [Value; 3] {
        [
            self.condition(
                "MemoryPressure",
                "False",
                "KubeletHasSufficientMemory",
                "kubelet has sufficient memory available",
            ),
            self.condition(
                "DiskPressure",
                "False",
                "KubeletHasNoDiskPressure",
                "kubelet has no disk pressure",
            ),
            self.condition(
                "PIDPressure",
                "False",
                "KubeletHasSufficientPID",
                "kubelet has sufficient PID available",
            ),
        ]
    }
}

/// The host's architecture as Kubernetes names it (`amd64`, `arm64`, …).
pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
