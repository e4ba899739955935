//! `fsGroup` volume ownership, as upstream's `SetVolumeOwnership`: the files of a pod's volumes
//! belong to the pod's `securityContext.fsGroup`, readable by that group (`0440` added to the
//! files of the read-only API volumes), and directories get the setgid bit so that new files
//! inherit the group (emptyDir: group-writable as well).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use k8s_openapi::api::core::v1::Pod;

use super::atomic::Payload;

/// Bits added to the files of read-only volumes (upstream's `roMask`).
const READ_ONLY_MASK: u32 = 0o440;

/// The pod's `fsGroup`, if it sets one.
pub fn fs_group(pod: &Pod) -> Option<u32> {
    let gid = pod.spec.as_ref()?.security_context.as_ref()?.fs_group?;
    u32::try_from(gid).ok()
}

/// `payload` with the group-read bits every file of a volume owned by `fs_group` gets.
pub fn payload_for(mut payload: Payload, fs_group: Option<u32>) -> Payload {
    if fs_group.is_some() {
        for file in payload.values_mut() {
            file.mode |= READ_ONLY_MASK;
        }
    }
    payload
}

/// Gives `dir` and everything below it (symlinks themselves, not their targets) to group `gid`;
/// directories get the setgid bit and group read/search. Errors are logged, not returned: a
/// volume the pod can still read is better than none.
pub fn chown_tree(dir: &Path, gid: u32) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.gid() != gid {
            if let Err(e) = std::os::unix::fs::lchown(&path, None, Some(gid)) {
                tracing::debug!(path = %path.display(), error = %e, "kubelet: fsGroup chown");
            }
        }
        if meta.is_dir() {
            let mode = meta.permissions().mode() & 0o7777;
            let want = mode | 0o2000 | 0o050;
            if want != mode {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(want));
            }
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
}

/// Gives an emptyDir's directory to group `gid`: setgid and group-writable, as upstream.
pub fn own_empty_dir(dir: &Path, gid: u32) {
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    if meta.gid() != gid {
        if let Err(e) = std::os::unix::fs::chown(dir, None, Some(gid)) {
            tracing::debug!(path = %dir.display(), error = %e, "kubelet: fsGroup chown");
        }
    }
    let mode = meta.permissions().mode() & 0o7777;
    let want = mode | 0o2000 | 0o070;
    if want != mode {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(want));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kubelet::volumes::atomic::FileData;

    #[test]
    fn fs_group_adds_group_read_to_every_file() {
        let mut p = Payload::new();
        p.insert(
            "data-1".into(),
            FileData {
                data: b"x".to_vec(),
                mode: 0o400,
            },
        );
        assert_eq!(payload_for(p.clone(), None)["data-1"].mode, 0o400);
        assert_eq!(payload_for(p, Some(1001))["data-1"].mode, 0o440);
    }

    #[test]
    fn directories_get_setgid_and_the_group() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("..data");
        std::fs::create_dir(&sub).expect("mkdir");
        std::fs::write(sub.join("f"), b"x").expect("write");
        // Our own group: chown to it works without privileges.
        let gid = std::fs::metadata(dir.path()).expect("meta").gid();
        chown_tree(dir.path(), gid);
        let mode = std::fs::metadata(&sub).expect("meta").permissions().mode();
        assert_eq!(mode & 0o2000, 0o2000);
        own_empty_dir(dir.path(), gid);
        let mode = std::fs::metadata(dir.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o2070, 0o2070);
    }
}
