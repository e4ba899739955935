//! What cleanup removes (pure): from an `iptables-save` dump, the restore script that deletes
//! our jump rules from the built-in chains and flushes and deletes every chain kube-proxy
//! makes — nothing else (Docker's and other chains stay).

use std::fmt::Write;

use super::rules::{FILTER_CHAINS, NAT_CHAINS, SERVICE_CHAIN_PREFIXES};

/// Whether `chain` of `table` is one kube-proxy makes.
pub fn owned(table: &str, chain: &str) -> bool {
    match table {
        "nat" => {
            NAT_CHAINS.contains(&chain)
                || SERVICE_CHAIN_PREFIXES.iter().any(|p| chain.starts_with(p))
        }
        "filter" => FILTER_CHAINS.contains(&chain),
        _ => false,
    }
}

/// The per-service chains (`KUBE-SVC-…`, `KUBE-SEP-…`, …) of a `nat` dump.
pub fn service_chains(save: &str) -> std::collections::BTreeSet<String> {
    let mut in_nat = false;
    let mut out = std::collections::BTreeSet::new();
    for line in save.lines() {
        if let Some(t) = line.strip_prefix('*') {
            in_nat = t == "nat";
        } else if let Some(decl) = line.strip_prefix(':') {
            let name = decl.split(' ').next().unwrap_or_default();
            if in_nat && SERVICE_CHAIN_PREFIXES.iter().any(|p| name.starts_with(p)) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// The restore script removing our chains and jumps, and the number of chains it removes;
/// `None` when there is nothing of ours.
pub fn script(save: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut total = 0;
    let mut table = String::new();
    let mut chains: Vec<String> = Vec::new();
    let mut deletes: Vec<String> = Vec::new();
    let flush =
        |table: &str, chains: &mut Vec<String>, deletes: &mut Vec<String>, out: &mut String| {
            if chains.is_empty() && deletes.is_empty() {
                return 0;
            }
            let _ = writeln!(out, "*{table}");
            for c in chains.iter() {
                let _ = writeln!(out, ":{c} - [0:0]");
            }
            for d in deletes.iter() {
                let _ = writeln!(out, "{d}");
            }
            for c in chains.iter() {
                let _ = writeln!(out, "-X {c}");
            }
            out.push_str("COMMIT\n");
            let n = chains.len();
            chains.clear();
            deletes.clear();
            n
        };
    for line in save.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = t.to_string();
        } else if line == "COMMIT" {
            total += flush(&table, &mut chains, &mut deletes, &mut out);
        } else if let Some(decl) = line.strip_prefix(':') {
            let name = decl.split(' ').next().unwrap_or_default();
            if owned(&table, name) {
                chains.push(name.to_string());
            }
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let chain = rule.split(' ').next().unwrap_or_default();
            let target = rule
                .rsplit_once(" -j ")
                .map(|(_, t)| t.split(' ').next().unwrap_or_default())
                .unwrap_or_default();
            if !owned(&table, chain) && owned(&table, target) {
                deletes.push(format!("-D {rule}"));
            }
        }
    }
    (!out.is_empty()).then_some((out, total))
}
