//! `terminationMessagePath`: as upstream, a file of the pod's directory
//! (`containers/<name>/<attempt>`) is bind-mounted at the path, and after the container exits its
//! content (the last 4096 bytes) becomes `state.terminated.message`; with
//! `FallbackToLogsOnError`, an empty file and a failure give the log tail (80 lines, 2048 bytes).

use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use bollard::models::{ContainerInspectResponse, Mount, MountType};
use bollard::query_parameters::LogsOptionsBuilder;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Container;

use super::runtime::Runtime;

/// Upstream's `maxContainerTerminationMessageLength`.
const MAX_MESSAGE: u64 = 4096;
/// Upstream's `kubecontainer.MaxContainerTerminationMessageLogLines`.
const FALLBACK_LINES: &str = "80";
/// Upstream's `kubecontainer.MaxContainerTerminationMessageLogLength`.
const FALLBACK_BYTES: usize = 2048;

/// The container's termination message path (`None` when empty).
fn path(c: &Container) -> Option<String> {
    match c.termination_message_path.as_deref() {
        None => Some("/dev/termination-log".to_string()),
        Some("") => None,
        Some(p) => Some(p.to_string()),
    }
}

/// Creates the (empty, world-writable) message file for `attempt` of `c` under `pod_dir` and
/// returns its mount.
pub fn mount(pod_dir: &Path, c: &Container, attempt: i32) -> Result<Option<Mount>, String> {
    let Some(target) = path(c) else {
        return Ok(None);
    };
    let dir = pod_dir.join("containers").join(&c.name);
    let file = dir.join(attempt.to_string());
    let made = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&file, b""))
        .and_then(|()| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)));
    made.map_err(|e| format!("cannot create the termination message file {file:?}: {e}"))?;
    Ok(Some(Mount {
        target: Some(target),
        source: Some(file.to_string_lossy().into_owned()),
        typ: Some(MountType::BIND),
        read_only: Some(false),
        ..Default::default()
    }))
}

/// The last [`MAX_MESSAGE`] bytes of a file (`None` if it cannot be read).
fn tail_of(file: &str) -> Option<String> {
    let mut f = std::fs::File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(MAX_MESSAGE)))
        .ok()?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The termination message of the exited container `i` of `c` (exit code `exit_code`), if any.
pub async fn message(
    runtime: &Runtime,
    i: &ContainerInspectResponse,
    c: &Container,
    exit_code: i32,
) -> Option<String> {
    let target = path(c)?;
    let source = i
        .mounts
        .iter()
        .flatten()
        .find(|m| m.destination.as_deref() == Some(target.as_str()))
        .and_then(|m| m.source.clone());
    let text = source.as_deref().and_then(tail_of).unwrap_or_default();
    if !text.is_empty() {
        return Some(text);
    }
    if c.termination_message_policy.as_deref() != Some("FallbackToLogsOnError") || exit_code == 0 {
        return None;
    }
    let id = i.id.as_deref()?;
    let options = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(FALLBACK_LINES)
        .build();
    let mut logs = runtime.docker().ok()?.logs(id, Some(options));
    let mut out: Vec<u8> = Vec::new();
    while let Some(chunk) = logs.next().await {
        match chunk {
            Ok(c) => out.extend_from_slice(&c.into_bytes()),
            Err(e) => {
                tracing::debug!(error = %e, "kubelet: cannot read logs for the termination message");
                break;
            }
        }
    }
    let start = out.len().saturating_sub(FALLBACK_BYTES);
    let text = String::from_utf8_lossy(&out[start..]).into_owned();
    (!text.is_empty()).then_some(text)
}
