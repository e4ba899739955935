//! hostPath volumes: the host's path itself, after upstream's type check (`DirectoryOrCreate`
//! and `FileOrCreate` create it; `Directory`, `File`, `Socket`, `CharDevice`, `BlockDevice`
//! must already be one). With no type the directory is created if missing, as Docker's
//! `-v` did for dockershim.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// Checks (and for the `…OrCreate` types makes) `path` for `type_`; upstream's messages.
pub fn check(path: &str, type_: Option<&str>) -> Result<(), String> {
    let p = Path::new(path);
    let meta = std::fs::metadata(p).ok();
    let fail = |what: &str| {
        Err(format!(
            "hostPath type check failed: {path} is not a {what}"
        ))
    };
    match type_.unwrap_or("") {
        "" => {
            if meta.is_none() {
                std::fs::create_dir_all(p).map_err(|e| format!("mkdir {path}: {e}"))?;
            }
            Ok(())
        }
        "DirectoryOrCreate" => match meta {
            None => {
                std::fs::create_dir_all(p).map_err(|e| format!("mkdir {path}: {e}"))?;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| e.to_string())
            }
            Some(m) if m.is_dir() => Ok(()),
            Some(_) => fail("directory"),
        },
        "Directory" => match meta {
            Some(m) if m.is_dir() => Ok(()),
            _ => fail("directory"),
        },
        "FileOrCreate" => match meta {
            None => {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("create {path}: {e}"))?;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| e.to_string())
            }
            Some(m) if m.is_file() => Ok(()),
            Some(_) => fail("file"),
        },
        "File" => match meta {
            Some(m) if m.is_file() => Ok(()),
            _ => fail("file"),
        },
        "Socket" => match meta {
            Some(m) if m.file_type().is_socket() => Ok(()),
            _ => fail("socket file"),
        },
        "CharDevice" => match meta {
            Some(m) if m.file_type().is_char_device() => Ok(()),
            _ => fail("character device"),
        },
        "BlockDevice" => match meta {
            Some(m) if m.file_type().is_block_device() => Ok(()),
            _ => fail("block device"),
        },
        other => Err(format!("invalid HostPathType: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_checks() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("made");
        let ds = d.to_string_lossy().into_owned();
        assert_eq!(
            check(&ds, Some("Directory")).unwrap_err(),
            format!("hostPath type check failed: {ds} is not a directory")
        );
        check(&ds, Some("DirectoryOrCreate")).unwrap();
        assert!(d.is_dir());
        check(&ds, Some("Directory")).unwrap();
        assert!(check(&ds, Some("File")).is_err());
        let f = d.join("f").to_string_lossy().into_owned();
        check(&f, Some("FileOrCreate")).unwrap();
        check(&f, Some("File")).unwrap();
        assert!(check(&f, Some("DirectoryOrCreate")).is_err());
        assert!(check(&f, Some("Socket")).is_err());
        check("/dev/null", Some("CharDevice")).unwrap();
        let plain = d.join("plain").to_string_lossy().into_owned();
        check(&plain, None).unwrap();
        assert!(Path::new(&plain).is_dir());
    }
}
