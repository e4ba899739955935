//! Lifecycle hooks: `postStart` right after a container starts (a failure is a
//! `FailedPostStartHook` event and the container is killed) and `preStop` before it is stopped
//! (within the grace period), with upstream's messages.

use std::time::Duration;

use k8s_openapi::api::core::v1::{LifecycleHandler, Pod};

use super::handlers::{self, Outcome, Target};

/// Upstream's `format.Pod`: `name_namespace(uid)`.
pub fn pod_name(pod: &Pod) -> String {
    let m = &pod.metadata;
    format!(
        "{}_{}({})",
        m.name.as_deref().unwrap_or_default(),
        m.namespace.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default()
    )
}

/// Runs one hook `h` against `t` for at most `timeout`; the error is upstream's message.
pub async fn run(
    t: &Target<'_>,
    pod: &Pod,
    h: &LifecycleHandler,
    timeout: Duration,
) -> Result<(), String> {
    let container = &t.container.name;
    if let Some(exec) = &h.exec {
        let cmd = exec.command.clone().unwrap_or_default();
        let fail = |err: String, output: &str| {
            format!(
                "Exec lifecycle hook ([{}]) for Container {container:?} in Pod {:?} failed - error: {err}, message: {output:?}",
                cmd.join(" "),
                pod_name(pod)
            )
        };
        return match tokio::time::timeout(timeout, handlers::exec_output(t, &cmd)).await {
            Err(_) => Err(fail("context deadline exceeded".to_string(), "")),
            Ok(Err(e)) => Err(fail(e, "")),
            Ok(Ok((0, _))) => Ok(()),
            Ok(Ok((code, output))) => Err(fail(
                format!("command '{}' exited with {code}: ", cmd.join(" ")),
                &output,
            )),
        };
    }
    if let Some(http) = &h.http_get {
        return match handlers::http_get(http, t, timeout).await {
            Outcome::Success => Ok(()),
            Outcome::Failure(e) => Err(format!(
                "HTTP lifecycle hook ({}) for Container {container:?} in Pod {:?} failed - error: {e}",
                http.path.as_deref().unwrap_or_default(),
                pod_name(pod)
            )),
        };
    }
    if let Some(sleep) = &h.sleep {
        let wanted = Duration::from_secs(sleep.seconds.max(0) as u64);
        tokio::time::sleep(wanted.min(timeout)).await;
        return Ok(());
    }
    // tcpSocket hooks are deprecated and ignored upstream too.
    Ok(())
}
