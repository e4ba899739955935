//! Resources and securityContext → Docker (pure, unit-tested): CPU shares from requests
//! (upstream's `MilliCPUToShares`), CFS quota from limits (`MilliCPUToQuota`), memory limit
//! without swap; the pod's and the container's securityContext merged (the container wins) into
//! the user, groups, read-only root, privileged, capabilities and `no-new-privileges`; and
//! upstream's `runAsNonRoot` check against the image's user.

use bollard::models::HostConfig;
use k8s_openapi::api::core::v1::{Container, Pod};

use crate::validation::Quantity;

/// Docker's smallest CPU weight (upstream `MinShares`).
const MIN_SHARES: i64 = 2;
/// Docker's largest CPU weight (upstream `MaxShares`).
const MAX_SHARES: i64 = 262_144;
/// CFS period in microseconds (upstream `QuotaPeriod`).
pub const QUOTA_PERIOD: i64 = 100_000;
/// Smallest CFS quota (upstream `MinQuotaPeriod`).
const MIN_QUOTA: i64 = 1_000;

/// Upstream's `MilliCPUToShares`: 1024 shares per CPU, at least 2.
pub fn cpu_shares(milli: i64) -> i64 {
    if milli <= 0 {
        return MIN_SHARES;
    }
    (milli * 1024 / 1000).clamp(MIN_SHARES, MAX_SHARES)
}

/// Upstream's `MilliCPUToQuota` for [`QUOTA_PERIOD`]: `None` without a limit.
pub fn cpu_quota(milli: i64) -> Option<i64> {
    if milli <= 0 {
        return None;
    }
    Some((milli * QUOTA_PERIOD / 1000).max(MIN_QUOTA))
}

fn resource(c: &Container, which: &str, name: &str) -> Option<Quantity> {
    let r = c.resources.as_ref()?;
    let map = if which == "limits" {
        r.limits.as_ref()?
    } else {
        r.requests.as_ref()?
    };
    Quantity::parse(&map.get(name)?.0).ok()
}

/// Milli-units of a quantity, rounded up (as upstream's `MilliValue`).
fn milli(q: &Quantity) -> i64 {
    let nano = q.nano_value();
    ((nano + 999_999) / 1_000_000) as i64
}

/// Whole units of a quantity, rounded up (as upstream's `Value`).
fn units(q: &Quantity) -> i64 {
    let nano = q.nano_value();
    ((nano + 999_999_999) / 1_000_000_000) as i64
}

/// Sets CPU shares/quota and the memory limit of `c` on `host`.
pub fn apply_resources(c: &Container, host: &mut HostConfig) {
    let request = resource(c, "requests", "cpu").map(|q| milli(&q));
    let limit = resource(c, "limits", "cpu").map(|q| milli(&q));
    // Upstream: no request but a limit → shares from the limit.
    let shares_from = match (request, limit) {
        (None | Some(0), Some(l)) => l,
        (Some(r), _) => r,
        (None, None) => 0,
    };
    host.cpu_shares = Some(cpu_shares(shares_from));
    if let Some(quota) = limit.and_then(cpu_quota) {
        host.cpu_quota = Some(quota);
        host.cpu_period = Some(QUOTA_PERIOD);
    }
    if let Some(bytes) = resource(c, "limits", "memory").map(|q| units(&q)) {
        if bytes > 0 {
            host.memory = Some(bytes);
            host.memory_swap = Some(bytes);
        }
    }
}

/// The securityContext in effect for a container (the pod's, overridden by the container's).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Effective {
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: bool,
    /// Pod `supplementalGroups` plus `fsGroup`.
    pub groups: Vec<i64>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root: bool,
    /// `privileged`.
    pub privileged: bool,
    /// `allowPrivilegeEscalation: false` → `no-new-privileges`.
    pub no_new_privileges: bool,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
}

/// Merges the pod's and the container's securityContext (the container wins).
pub fn effective(pod: &Pod, c: &Container) -> Effective {
    let psc = pod.spec.as_ref().and_then(|s| s.security_context.clone());
    let psc = psc.unwrap_or_default();
    let csc = c.security_context.clone().unwrap_or_default();
    let mut groups: Vec<i64> = psc.supplemental_groups.clone().unwrap_or_default();
    if let Some(fs) = psc.fs_group {
        if !groups.contains(&fs) {
            groups.push(fs);
        }
    }
    let caps = csc.capabilities.clone().unwrap_or_default();
    let privileged = csc.privileged.unwrap_or(false);
    Effective {
        run_as_user: csc.run_as_user.or(psc.run_as_user),
        run_as_group: csc.run_as_group.or(psc.run_as_group),
        run_as_non_root: csc.run_as_non_root.or(psc.run_as_non_root).unwrap_or(false),
        groups,
        read_only_root: csc.read_only_root_filesystem.unwrap_or(false),
        privileged,
        no_new_privileges: !privileged && csc.allow_privilege_escalation == Some(false),
        cap_add: caps.add.unwrap_or_default(),
        cap_drop: caps.drop.unwrap_or_default(),
    }
}

impl Effective {
    /// Docker's `User` (`uid[:gid]`), `None` to keep the image's.
    pub fn user(&self) -> Option<String> {
        match (self.run_as_user, self.run_as_group) {
            (Some(u), Some(g)) => Some(format!("{u}:{g}")),
            (Some(u), None) => Some(u.to_string()),
            (None, _) => None,
        }
    }

    /// Sets the host-level settings on `host`.
    pub fn apply(&self, host: &mut HostConfig) {
        if !self.groups.is_empty() {
            host.group_add = Some(self.groups.iter().map(i64::to_string).collect());
        }
        if self.read_only_root {
            host.readonly_rootfs = Some(true);
        }
        if self.privileged {
            host.privileged = Some(true);
        }
        if self.no_new_privileges {
            host.security_opt = Some(vec!["no-new-privileges".to_string()]);
        }
        if !self.cap_add.is_empty() {
            host.cap_add = Some(self.cap_add.clone());
        }
        if !self.cap_drop.is_empty() {
            host.cap_drop = Some(self.cap_drop.clone());
        }
    }

    /// Upstream's `verifyRunAsNonRoot`: with `runAsNonRoot`, the user must be provably non-root
    /// (`image_user` is the image's `User`, e.g. `""`, `nobody`, `1000:1000`). `pod` is
    /// upstream's `name_namespace(uid)`.
    pub fn check_non_root(
        &self,
        image_user: &str,
        pod: &str,
        container: &str,
    ) -> Result<(), String> {
        if !self.run_as_non_root {
            return Ok(());
        }
        if let Some(uid) = self.run_as_user {
            if uid == 0 {
                return Err(format!(
                    "container's runAsUser breaks non-root policy (pod: \"{pod}\", container: {container})"
                ));
            }
            return Ok(());
        }
        let user = image_user.split(':').next().unwrap_or_default();
        if user.is_empty() {
            return Err(root_error(pod, container));
        }
        match user.parse::<i64>() {
            Ok(0) => Err(root_error(pod, container)),
            Ok(_) => Ok(()),
            Err(_) => Err(format!(
                "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root (pod: \"{pod}\", container: {container})"
            )),
        }
    }
}

fn root_error(pod: &str, container: &str) -> String {
    format!(
        "container has runAsNonRoot and image will run as root (pod: \"{pod}\", container: {container})"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_quota_as_upstream() {
        assert_eq!(cpu_shares(0), 2);
        assert_eq!(cpu_shares(1), 2);
        assert_eq!(cpu_shares(100), 102);
        assert_eq!(cpu_shares(1000), 1024);
        assert_eq!(cpu_shares(500_000), 262_144);
        assert_eq!(cpu_quota(0), None);
        assert_eq!(cpu_quota(5), Some(1000));
        assert_eq!(cpu_quota(250), Some(25_000));
        assert_eq!(cpu_quota(2000), Some(200_000));
    }

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn resources_to_docker() {
        let p = pod(
            serde_json::json!({"spec": {"containers": [{"name": "c", "resources": {
            "limits": {"cpu": "500m", "memory": "16Mi"}, "requests": {"cpu": "250m"}}}]}}),
        );
        let mut host = HostConfig::default();
        apply_resources(&p.spec.unwrap().containers[0], &mut host);
        assert_eq!(host.cpu_shares, Some(256));
        assert_eq!(host.cpu_quota, Some(50_000));
        assert_eq!(host.cpu_period, Some(100_000));
        assert_eq!(host.memory, Some(16 * 1024 * 1024));
        assert_eq!(host.memory_swap, Some(16 * 1024 * 1024));

        let p = pod(
            serde_json::json!({"spec": {"containers": [{"name": "c", "resources": {
            "limits": {"cpu": "2"}}}]}}),
        );
        let mut host = HostConfig::default();
        apply_resources(&p.spec.unwrap().containers[0], &mut host);
        assert_eq!(host.cpu_shares, Some(2048));
        assert_eq!(host.memory, None);

        let p = pod(serde_json::json!({"spec": {"containers": [{"name": "c"}]}}));
        let mut host = HostConfig::default();
        apply_resources(&p.spec.unwrap().containers[0], &mut host);
        assert_eq!(host.cpu_shares, Some(2));
        assert_eq!(host.cpu_quota, None);
    }

    #[test]
    fn container_context_wins_over_the_pod() {
        let p = pod(serde_json::json!({"spec": {
            "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "runAsNonRoot": true,
                                "supplementalGroups": [4000], "fsGroup": 2000},
            "containers": [{"name": "c", "securityContext": {
                "runAsUser": 2000, "readOnlyRootFilesystem": true,
                "allowPrivilegeEscalation": false,
                "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}}}]}}));
        let c = p.spec.as_ref().unwrap().containers[0].clone();
        let e = effective(&p, &c);
        assert_eq!(e.user().as_deref(), Some("2000:3000"));
        assert_eq!(e.groups, vec![4000, 2000]);
        let mut host = HostConfig::default();
        e.apply(&mut host);
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.group_add, Some(vec!["4000".into(), "2000".into()]));
        assert_eq!(host.security_opt, Some(vec!["no-new-privileges".into()]));
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".into()]));
        assert_eq!(host.cap_drop, Some(vec!["ALL".into()]));
        assert!(e.check_non_root("", "p_ns(u)", "c").is_ok());
    }

    #[test]
    fn run_as_non_root_checks() {
        let e = Effective {
            run_as_non_root: true,
            ..Default::default()
        };
        assert_eq!(
            e.check_non_root("", "p_ns(u)", "c").unwrap_err(),
            "container has runAsNonRoot and image will run as root (pod: \"p_ns(u)\", container: c)"
        );
        assert!(e.check_non_root("0:0", "p", "c").is_err());
        assert!(e.check_non_root("1000", "p", "c").is_ok());
        assert!(e
            .check_non_root("nobody", "p", "c")
            .unwrap_err()
            .contains("non-numeric user (nobody)"));
        let root = Effective {
            run_as_user: Some(0),
            ..e.clone()
        };
        assert!(root
            .check_non_root("1000", "p", "c")
            .unwrap_err()
            .starts_with("container's runAsUser breaks non-root policy"));
        let off = Effective::default();
        assert!(off.check_non_root("", "p", "c").is_ok());
    }
}
