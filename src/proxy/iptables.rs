//! The I/O half of kube-proxy: which iptables backend (nf_tables or legacy) to drive, one
//! `iptables-restore --noflush` per sync, `iptables-save` to find what exists, jump rules in the
//! built-in chains, and the cleanup of everything we made. The text is made by `rules.rs` and
//! `cleanup.rs` (pure).

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::rules::JUMPS;
use super::ProxyError;

/// One iptables backend: the binaries to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backend {
    /// `nft` or `legacy`.
    pub name: &'static str,
    /// `iptables` command.
    pub iptables: &'static str,
    /// `iptables-save` command.
    pub save: &'static str,
    /// `iptables-restore` command.
    pub restore: &'static str,
}

/// iptables over nf_tables.
pub const NFT: Backend = Backend {
    name: "nft",
    iptables: "iptables-nft",
    save: "iptables-nft-save",
    restore: "iptables-nft-restore",
};
/// iptables over the legacy x_tables.
pub const LEGACY: Backend = Backend {
    name: "legacy",
    iptables: "iptables-legacy",
    save: "iptables-legacy-save",
    restore: "iptables-legacy-restore",
};
/// Whatever `iptables` is (when neither named binary exists).
pub const DEFAULT: Backend = Backend {
    name: "default",
    iptables: "iptables",
    save: "iptables-save",
    restore: "iptables-restore",
};

/// Whether `program` is on the PATH.
fn exists(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// The backends installed here.
pub fn installed() -> Vec<Backend> {
    let found: Vec<Backend> = [NFT, LEGACY]
        .into_iter()
        .filter(|b| exists(b.restore) && exists(b.save))
        .collect();
    if found.is_empty() && exists(DEFAULT.restore) {
        vec![DEFAULT]
    } else {
        found
    }
}

/// Number of rules (`-A` lines) in an `iptables-save` output.
pub fn rule_count(save: &str) -> usize {
    save.lines().filter(|l| l.starts_with("-A ")).count()
}

/// Picks the backend as the iptables-wrapper does: the one that already has rules (the one
/// with more when both do; Docker's rules make it nf_tables here), nf_tables when neither has;
/// `SKIFF_IPTABLES_BACKEND=nft|legacy` overrides.
pub async fn detect() -> Result<Backend, ProxyError> {
    let backends = installed();
    // An explicit choice (`SKIFF_IPTABLES_BACKEND=nft|legacy`) wins when that backend exists.
    if let Ok(wanted) = std::env::var("SKIFF_IPTABLES_BACKEND") {
        if let Some(b) = backends.iter().find(|b| b.name == wanted) {
            return Ok(*b);
        }
        tracing::warn!(backend = %wanted, "kube-proxy: SKIFF_IPTABLES_BACKEND not installed; detecting");
    }
    let mut best: Option<(Backend, usize)> = None;
    for b in backends {
        let n = save(b, None).await.map(|s| rule_count(&s)).unwrap_or(0);
        tracing::debug!(backend = b.name, rules = n, "kube-proxy: iptables backend");
        match best {
            Some((_, m)) if m >= n => {}
            _ => best = Some((b, n)),
        }
    }
    best.map(|(b, _)| b).ok_or_else(|| {
        ProxyError::Iptables("no iptables-restore found (install iptables)".to_string())
    })
}

/// `iptables-save` (of one table, or all).
pub async fn save(backend: Backend, table: Option<&str>) -> Result<String, ProxyError> {
    let mut cmd = Command::new(backend.save);
    if let Some(t) = table {
        cmd.args(["-t", t]);
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ProxyError::Iptables(format!("{}: {e}", backend.save)))?;
    if !out.status.success() {
        return Err(ProxyError::Iptables(format!(
            "{}: {}",
            backend.save,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Feeds `text` to `iptables-restore --noflush` (one atomic transaction per table).
pub async fn restore(backend: Backend, text: &str) -> Result<(), ProxyError> {
    let mut child = Command::new(backend.restore)
        .args(["-w", "5", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ProxyError::Iptables(format!("{}: {e}", backend.restore)))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .await
            .map_err(|e| ProxyError::Iptables(format!("{}: {e}", backend.restore)))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| ProxyError::Iptables(format!("{}: {e}", backend.restore)))?;
    if !out.status.success() {
        return Err(ProxyError::Iptables(format!(
            "{} failed: {}",
            backend.restore,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Splits rule arguments at spaces, keeping `"quoted text"` as one argument.
pub fn split_args(args: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Runs `iptables` with `args`; stdout, or an error with its stderr.
async fn iptables(backend: Backend, args: &[String]) -> Result<String, ProxyError> {
    let out = Command::new(backend.iptables)
        .args(["-w", "5"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| ProxyError::Iptables(format!("{}: {e}", backend.iptables)))?;
    if !out.status.success() {
        return Err(ProxyError::Iptables(format!(
            "{} {}: {}",
            backend.iptables,
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether the first rules of a chain listing (`iptables -S <chain>`) are exactly our `count`
/// jumps (targets owned by kube-proxy) and no other rule jumps to our chains.
pub fn jumps_on_top(table: &str, chain: &str, listing: &str, count: usize) -> bool {
    let prefix = format!("-A {chain} ");
    let targets: Vec<bool> = listing
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|rule| {
            let target = rule
                .rsplit_once(" -j ")
                .map(|(_, t)| t.split(' ').next().unwrap_or_default())
                .unwrap_or_default();
            super::cleanup::owned(table, target)
        })
        .collect();
    targets.len() >= count
        && targets[..count].iter().all(|t| *t)
        && targets[count..].iter().all(|t| !*t)
}

/// Makes sure the jump rules from the built-in chains are there and come first (Docker inserts
/// its own rules at the top of `FORWARD` when it makes a network, which would let pod traffic
/// past our REJECTs): when not, ours are deleted and inserted again at the top.
pub async fn ensure_jumps(backend: Backend) -> Result<(), ProxyError> {
    let mut chains: Vec<(&str, &str)> = Vec::new();
    for (table, chain, _) in JUMPS {
        if !chains.contains(&(*table, *chain)) {
            chains.push((table, chain));
        }
    }
    for (table, chain) in chains {
        let ours: Vec<&str> = JUMPS
            .iter()
            .filter(|(t, c, _)| *t == table && *c == chain)
            .map(|(_, _, a)| *a)
            .collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        let listing = iptables(backend, &s(&["-t", table, "-S", chain])).await?;
        if jumps_on_top(table, chain, &listing, ours.len()) {
            continue;
        }
        let prefix = format!("-A {chain} ");
        for rule in listing.lines().filter_map(|l| l.strip_prefix(&prefix)) {
            let target = rule
                .rsplit_once(" -j ")
                .map(|(_, t)| t.split(' ').next().unwrap_or_default())
                .unwrap_or_default();
            if super::cleanup::owned(table, target) {
                let mut args = s(&["-t", table, "-D", chain]);
                args.extend(split_args(rule));
                iptables(backend, &args).await?;
            }
        }
        for rule in ours.iter().rev() {
            let mut args = s(&["-t", table, "-I", chain, "1"]);
            args.extend(split_args(rule));
            iptables(backend, &args).await?;
        }
        tracing::debug!(
            table,
            chain,
            "kube-proxy: jump rules (re)inserted at the top"
        );
    }
    Ok(())
}

/// Removes our chains and jump rules from one backend; returns how many chains went.
pub async fn cleanup_backend(backend: Backend) -> Result<usize, ProxyError> {
    let current = save(backend, None).await?;
    let Some((script, chains)) = super::cleanup::script(&current) else {
        return Ok(0);
    };
    restore(backend, &script).await?;
    Ok(chains)
}

/// Sets the kernel switches Service traffic needs: IP forwarding, and bridged traffic through
/// iptables (loading `br_netfilter` when the switch is missing), so replies from a pod on the
/// same bridge are un-NATed. Failures are logged, not fatal.
pub async fn set_sysctls() {
    let bridge = "/proc/sys/net/bridge/bridge-nf-call-iptables";
    if !std::path::Path::new(bridge).exists() {
        let _ = Command::new("modprobe")
            .arg("br_netfilter")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    for path in ["/proc/sys/net/ipv4/ip_forward", bridge] {
        match std::fs::read_to_string(path) {
            Ok(v) if v.trim() == "1" => {}
            _ => {
                if let Err(e) = std::fs::write(path, "1") {
                    tracing::warn!(path, error = %e, "kube-proxy: cannot set sysctl");
                }
            }
        }
    }
}
