//! emptyDir volumes: a directory under the pod's volume dir (mode 0777, as upstream), or with
//! `medium: Memory` a tmpfs mounted there (size = `sizeLimit`), so every container of the pod
//! shares it. Without the right to mount (not root) a memory emptyDir falls back to a Docker
//! tmpfs mount per container (then not shared between containers).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use k8s_openapi::api::core::v1::EmptyDirVolumeSource;

use crate::validation::Quantity;

/// Whether the source asks for memory.
pub fn is_memory(src: &EmptyDirVolumeSource) -> bool {
    src.medium.as_deref() == Some("Memory")
}

/// The `sizeLimit` in bytes, if set.
pub fn size_limit(src: &EmptyDirVolumeSource) -> Option<i64> {
    let q = Quantity::parse(&src.size_limit.as_ref()?.0).ok()?;
    i64::try_from(q.nano_value() / 1_000_000_000).ok()
}

/// Makes the directory (and the tmpfs for `medium: Memory`); returns whether `dir` is
/// backed by a tmpfs (`false` for a memory medium means: use per-container tmpfs mounts).
pub fn setup(dir: &Path, src: &EmptyDirVolumeSource) -> Result<bool, String> {
    let exists = dir.is_dir();
    if !exists {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| e.to_string())?;
    }
    if !is_memory(src) {
        return Ok(false);
    }
    if is_tmpfs(dir) {
        return Ok(true);
    }
    let mut options = "mode=1777".to_string();
    if let Some(size) = size_limit(src) {
        options.push_str(&format!(",size={size}"));
    }
    match mount_tmpfs(dir, &options) {
        Ok(()) => Ok(true),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "kubelet: cannot mount a tmpfs for a memory emptyDir; using per-container tmpfs mounts");
            Ok(false)
        }
    }
}

/// Whether `dir` is a tmpfs mount point (per `/proc/self/mountinfo`).
pub fn is_tmpfs(dir: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let dir = dir.to_string_lossy();
    info.lines().any(|l| {
        let mut parts = l.split(" - ");
        let (Some(left), Some(right)) = (parts.next(), parts.next()) else {
            return false;
        };
        left.split(' ').nth(4) == Some(&*dir) && right.starts_with("tmpfs ")
    })
}

fn mount_tmpfs(dir: &Path, options: &str) -> std::io::Result<()> {
    use std::ffi::CString;
    let c = |s: &str| CString::new(s).map_err(std::io::Error::other);
    let target = c(&dir.to_string_lossy())?;
    let (source, fstype, data) = (c("tmpfs")?, c("tmpfs")?, c(options)?);
    // SAFETY: all pointers are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            data.as_ptr().cast(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Unmounts every mount point under `root` (deepest first), so the directory can be removed.
pub fn unmount_all_under(root: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|p| Path::new(p).starts_with(root))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let Ok(target) = std::ffi::CString::new(p.clone()) else {
            continue;
        };
        // SAFETY: `target` is a valid NUL-terminated string.
        let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        if rc != 0 {
            tracing::warn!(path = %p, error = %std::io::Error::last_os_error(), "kubelet: unmount failed");
        }
    }
}
