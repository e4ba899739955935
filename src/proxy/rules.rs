//! Rule generation (pure): the model → the text of ONE `iptables-restore --noflush` transaction
//! for the `filter` and `nat` tables, in upstream kube-proxy's chain layout.
//!
//! Every chain we own is declared (`:CHAIN - [0:0]`, which creates or flushes it) and refilled,
//! so a sync replaces all of our rules atomically; per-service chains that existed before and
//! are no longer needed are flushed and deleted (`-X`) at the end of the same transaction.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::model::{usable, Endpoint, ServicePort};
use super::names;

/// Mark bit of packets to masquerade (upstream's default `--iptables-masquerade-bit` 14).
pub const MASQ_MARK: &str = "0x4000/0x4000";

/// Chains of the `nat` table made by every sync.
pub const NAT_CHAINS: &[&str] = &[
    "KUBE-SERVICES",
    "KUBE-NODEPORTS",
    "KUBE-POSTROUTING",
    "KUBE-MARK-MASQ",
];
/// Chains of the `filter` table made by every sync.
pub const FILTER_CHAINS: &[&str] = &[
    "KUBE-SERVICES",
    "KUBE-EXTERNAL-SERVICES",
    "KUBE-FORWARD",
    "KUBE-NODEPORTS",
];
/// Prefixes of the per-service chains (all in `nat`).
pub const SERVICE_CHAIN_PREFIXES: &[&str] = &["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-SEP-"];

/// A jump from a built-in chain into ours: (table, chain, rule arguments).
pub type Jump = (&'static str, &'static str, &'static str);

/// Jump rules from the built-in chains, as upstream's `iptablesJumpChains`.
pub const JUMPS: &[Jump] = &[
    (
        "filter",
        "INPUT",
        "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
    ),
    (
        "filter",
        "FORWARD",
        "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES",
    ),
    (
        "filter",
        "INPUT",
        "-m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
    ),
    (
        "filter",
        "FORWARD",
        "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    ),
    (
        "filter",
        "OUTPUT",
        "-m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    ),
    (
        "filter",
        "FORWARD",
        "-m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD",
    ),
    (
        "nat",
        "OUTPUT",
        "-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    ),
    (
        "nat",
        "PREROUTING",
        "-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES",
    ),
    (
        "nat",
        "POSTROUTING",
        "-m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING",
    ),
];

/// What the rules depend on besides the services.
#[derive(Clone, Debug)]
pub struct RuleConfig {
    /// `--cluster-cidr`: traffic to a ClusterIP from outside it is masqueraded.
    pub cluster_cidr: String,
    /// This node's name (for `Local` traffic policies).
    pub node_name: String,
}

/// The result of one generation.
#[derive(Clone, Debug, Default)]
pub struct Ruleset {
    /// Input for `iptables-restore --noflush`.
    pub text: String,
    /// The per-service `nat` chains this ruleset made (the next sync deletes those it drops).
    pub chains: BTreeSet<String>,
    /// Number of rules (`-A` lines).
    pub rules: usize,
}

/// Accumulates the lines of one table.
#[derive(Default)]
struct Table {
    chains: Vec<String>,
    rules: Vec<String>,
}

impl Table {
    fn chain(&mut self, name: &str) {
        self.chains.push(format!(":{name} - [0:0]"));
    }
    fn rule(&mut self, chain: &str, args: &str) {
        self.rules.push(format!("-A {chain} {args}"));
    }
}

/// `-m comment --comment "<text>"` (upstream's comments; no quotes inside service names).
fn comment(text: &str) -> String {
    format!("-m comment --comment \"{text}\"")
}

/// `-m <proto> -p <proto>` with the destination port.
fn proto_port(protocol: &str, port: u16) -> String {
    format!("-m {protocol} -p {protocol} --dport {port}")
}

/// Generates the whole ruleset for `services`. `previous` are the per-service chains of the last
/// sync (or found in the kernel at start-up); those not made again are deleted.
pub fn generate(
    services: &[ServicePort],
    cfg: &RuleConfig,
    previous: &BTreeSet<String>,
) -> Ruleset {
    generate_partial(services, cfg, previous, |_| true)
}

/// As [`generate`], but the own chains (`KUBE-SVC/SVL/EXT/SEP-…`) of the services for which
/// `write` is false are left as they are in the kernel (not declared, so `--noflush` keeps
/// them): upstream's partial sync. The shared chains are always rewritten whole.
pub fn generate_partial(
    services: &[ServicePort],
    cfg: &RuleConfig,
    previous: &BTreeSet<String>,
    write: impl Fn(&ServicePort) -> bool,
) -> Ruleset {
    let mut nat = Table::default();
    let mut filter = Table::default();
    for c in NAT_CHAINS {
        nat.chain(c);
    }
    for c in FILTER_CHAINS {
        filter.chain(c);
    }
    // Masquerading: marked packets get SNAT on the way out (upstream's KUBE-POSTROUTING).
    nat.rule(
        "KUBE-POSTROUTING",
        &format!("-m mark ! --mark {MASQ_MARK} -j RETURN"),
    );
    nat.rule("KUBE-POSTROUTING", "-j MARK --xor-mark 0x4000");
    nat.rule(
        "KUBE-POSTROUTING",
        &format!(
            "{} -j MASQUERADE --random-fully",
            comment("kubernetes service traffic requiring SNAT")
        ),
    );
    nat.rule("KUBE-MARK-MASQ", "-j MARK --or-mark 0x4000");
    filter.rule("KUBE-FORWARD", "-m conntrack --ctstate INVALID -j DROP");
    filter.rule(
        "KUBE-FORWARD",
        &format!(
            "{} -m mark --mark {MASQ_MARK} -j ACCEPT",
            comment("kubernetes forwarding rules")
        ),
    );
    filter.rule(
        "KUBE-FORWARD",
        &format!(
            "{} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            comment("kubernetes forwarding conntrack rule")
        ),
    );

    let mut chains = BTreeSet::new();
    let mut own = Table::default();
    for svc in services {
        let mut mine = Table::default();
        service_rules(svc, cfg, &mut nat, &mut mine, &mut filter, &mut chains);
        if write(svc) {
            own.chains.append(&mut mine.chains);
            own.rules.append(&mut mine.rules);
        }
    }
    nat.chains.append(&mut own.chains);
    nat.rule(
        "KUBE-SERVICES",
        &format!(
            "{} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS",
            comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain")
        ),
    );

    nat.rules.append(&mut own.rules);
    // Chains of services or endpoints that are gone: flushed, then deleted.
    let stale: Vec<&String> = previous.difference(&chains).collect();
    for c in &stale {
        nat.chain(c);
    }
    let rules = nat.rules.len() + filter.rules.len();
    let mut text = String::with_capacity(64 * (rules + nat.chains.len() + 8));
    for (name, table, delete) in [("filter", &filter, &[][..]), ("nat", &nat, &stale[..])] {
        let _ = writeln!(text, "*{name}");
        for l in &table.chains {
            text.push_str(l);
            text.push('\n');
        }
        for l in &table.rules {
            text.push_str(l);
            text.push('\n');
        }
        for c in delete {
            let _ = writeln!(text, "-X {c}");
        }
        text.push_str("COMMIT\n");
    }
    Ruleset {
        text,
        chains,
        rules,
    }
}

/// The rules of one service port: those in the shared chains go to `nat` and `filter`, the
/// service's own chains (`KUBE-SVC/SVL/EXT/SEP-…`) to `own`.
fn service_rules(
    svc: &ServicePort,
    cfg: &RuleConfig,
    nat: &mut Table,
    own: &mut Table,
    filter: &mut Table,
    chains: &mut BTreeSet<String>,
) {
    let Some(cluster_ip) = svc.cluster_ip else {
        return;
    };
    let name = svc.display_name();
    let proto = svc.protocol.as_str();
    let svc_chain = names::service_chain(&name, proto);
    let local_chain = names::local_chain(&name, proto);
    let ext_chain = names::external_chain(&name, proto);
    let is_local = |e: &Endpoint| e.node_name.as_deref() == Some(cfg.node_name.as_str());

    let all = usable(&svc.endpoints, |_| true);
    let local = usable(&svc.endpoints, is_local);
    // Endpoints reached through the ClusterIP, and from outside.
    let (internal_eps, internal_chain) = if svc.internal_local {
        (&local, &local_chain)
    } else {
        (&all, &svc_chain)
    };
    let (external_eps, external_policy_chain) = if svc.external_local {
        (&local, &local_chain)
    } else {
        (&all, &svc_chain)
    };
    let uses_cluster_chain = !svc.internal_local || (svc.has_external() && !svc.external_local);
    let uses_local_chain = svc.internal_local || (svc.has_external() && svc.external_local);
    let cluster_chain_made = uses_cluster_chain && !all.is_empty();
    // Pod and host traffic to an external address of a `Local` service may use any endpoint.
    let any_chain = if cluster_chain_made {
        &svc_chain
    } else {
        &local_chain
    };
    let pp = proto_port(proto, svc.port);

    // ClusterIP.
    if internal_eps.is_empty() {
        filter.rule(
            "KUBE-SERVICES",
            &format!(
                "{} {pp} -d {cluster_ip}/32 -j REJECT",
                comment(&format!("{name} has no endpoints"))
            ),
        );
    } else {
        nat.rule(
            "KUBE-SERVICES",
            &format!(
                "{} -d {cluster_ip}/32 {pp} -j {internal_chain}",
                comment(&format!("{name} cluster IP"))
            ),
        );
    }

    // NodePort, external IPs, load-balancer ingress.
    if svc.has_external() {
        let reject = external_eps.is_empty();
        if !reject {
            chains.insert(ext_chain.clone());
            own.chain(&ext_chain);
            if svc.external_local {
                own.rule(
                    &ext_chain,
                    &format!(
                        "{} -s {} -j {any_chain}",
                        comment(&format!("pod traffic for {name} external destinations")),
                        cfg.cluster_cidr
                    ),
                );
                own.rule(
                    &ext_chain,
                    &format!(
                        "{} -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                        comment(&format!(
                            "masquerade LOCAL traffic for {name} external destinations"
                        ))
                    ),
                );
                own.rule(
                    &ext_chain,
                    &format!(
                        "{} -m addrtype --src-type LOCAL -j {any_chain}",
                        comment(&format!(
                            "route LOCAL traffic for {name} external destinations"
                        ))
                    ),
                );
            } else {
                own.rule(
                    &ext_chain,
                    &format!(
                        "{} -j KUBE-MARK-MASQ",
                        comment(&format!(
                            "masquerade traffic for {name} external destinations"
                        ))
                    ),
                );
            }
            own.rule(&ext_chain, &format!("-j {external_policy_chain}"));
        }
        let external = (svc.external_ips.iter().map(|ip| (ip, "external IP"))).chain(
            svc.load_balancer_ips
                .iter()
                .map(|ip| (ip, "loadbalancer IP")),
        );
        for (ip, what) in external {
            if reject {
                filter.rule(
                    "KUBE-EXTERNAL-SERVICES",
                    &format!(
                        "{} {pp} -d {ip}/32 -j REJECT",
                        comment(&format!("{name} has no endpoints"))
                    ),
                );
            } else {
                nat.rule(
                    "KUBE-SERVICES",
                    &format!(
                        "{} -d {ip}/32 {pp} -j {ext_chain}",
                        comment(&format!("{name} {what}"))
                    ),
                );
            }
        }
        if let Some(np) = svc.node_port {
            let npp = proto_port(proto, np);
            if reject {
                filter.rule(
                    "KUBE-EXTERNAL-SERVICES",
                    &format!(
                        "{} -m addrtype --dst-type LOCAL {npp} -j REJECT",
                        comment(&format!("{name} has no endpoints"))
                    ),
                );
            } else {
                nat.rule(
                    "KUBE-NODEPORTS",
                    &format!("{} {npp} -j {ext_chain}", comment(&name)),
                );
            }
        }
    }

    // The policy chains and their endpoints.
    if cluster_chain_made {
        chains.insert(svc_chain.clone());
        own.chain(&svc_chain);
        own.rule(
            &svc_chain,
            &format!(
                "{} ! -s {} -d {cluster_ip}/32 {pp} -j KUBE-MARK-MASQ",
                comment(&format!("{name} cluster IP")),
                cfg.cluster_cidr
            ),
        );
        balance(svc, &name, &svc_chain, &all, own);
    }
    if uses_local_chain && !local.is_empty() {
        chains.insert(local_chain.clone());
        own.chain(&local_chain);
        balance(svc, &name, &local_chain, &local, own);
    }
    // Endpoint chains: every endpoint of either set.
    let mut made = BTreeSet::new();
    let via_cluster: &[&Endpoint] = if uses_cluster_chain { &all } else { &[] };
    let via_local: &[&Endpoint] = if uses_local_chain { &local } else { &[] };
    for ep in via_cluster.iter().chain(via_local.iter()) {
        let sep = names::endpoint_chain(&name, proto, &ep.address());
        if !made.insert(sep.clone()) {
            continue;
        }
        chains.insert(sep.clone());
        own.chain(&sep);
        own.rule(
            &sep,
            &format!("{} -s {}/32 -j KUBE-MARK-MASQ", comment(&name), ep.ip),
        );
        let recent = if svc.affinity_seconds.is_some() {
            format!(" -m recent --name {sep} --set")
        } else {
            String::new()
        };
        own.rule(
            &sep,
            &format!(
                "{} -m {proto} -p {proto}{recent} -j DNAT --to-destination {}",
                comment(&name),
                ep.address()
            ),
        );
    }
}

/// Jumps from a policy chain to its endpoints: affinity checks first, then random choice with
/// probabilities 1/n, 1/(n-1), … and the last endpoint unconditionally.
fn balance(svc: &ServicePort, name: &str, chain: &str, eps: &[&Endpoint], nat: &mut Table) {
    let proto = svc.protocol.as_str();
    let seps: Vec<(String, &Endpoint)> = eps
        .iter()
        .map(|e| (names::endpoint_chain(name, proto, &e.address()), *e))
        .collect();
    if let Some(timeout) = svc.affinity_seconds {
        for (sep, ep) in &seps {
            nat.rule(
                chain,
                &format!(
                    "{} -m recent --name {sep} --rcheck --seconds {timeout} --reap -j {sep}",
                    comment(&format!("{name} -> {}", ep.address()))
                ),
            );
        }
    }
    let n = seps.len();
    for (i, (sep, ep)) in seps.iter().enumerate() {
        let c = comment(&format!("{name} -> {}", ep.address()));
        if i + 1 < n {
            let p = 1.0 / (n - i) as f64;
            nat.rule(
                chain,
                &format!("{c} -m statistic --mode random --probability {p:.10} -j {sep}"),
            );
        } else {
            nat.rule(chain, &format!("{c} -j {sep}"));
        }
    }
}
