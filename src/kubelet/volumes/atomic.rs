//! Upstream's `AtomicWriter`: a volume's files live in a timestamped directory
//! (`..2026_12_02_14_00_00.123456789`), `..data` is a symlink to the current one, and every
//! top-level name the user sees is a symlink through `..data`. An update writes a new
//! directory and swaps `..data` with one `rename`, so readers see the old or the new content,
//! never a mix. Unchanged content is not rewritten.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The symlink to the current content.
pub const DATA_DIR: &str = "..data";
const DATA_DIR_TMP: &str = "..data_tmp";

/// One file of a volume: content and permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileData {
    /// Content.
    pub data: Vec<u8>,
    /// Permission bits (e.g. `0o644`).
    pub mode: u32,
}

/// A volume's files by relative path.
pub type Payload = BTreeMap<String, FileData>;

/// Checks a payload path as upstream's `validatePath`: relative, no `..` element, not
/// starting with `..`.
pub fn validate_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("invalid path: must not be empty".to_string());
    }
    if p.starts_with("..") {
        return Err(format!("invalid path: must not start with '..': {p}"));
    }
    let path = Path::new(p);
    if path.is_absolute() {
        return Err(format!("invalid path: must be relative path: {p}"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(format!("invalid path: must not contain '..': {p}"));
    }
    Ok(())
}

/// Writes `payload` into `dir` atomically; returns whether anything changed.
pub fn write(dir: &Path, payload: &Payload) -> io::Result<bool> {
    for p in payload.keys() {
        validate_path(p).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    std::fs::create_dir_all(dir)?;
    let data_link = dir.join(DATA_DIR);
    let old = std::fs::read_link(&data_link).ok();
    if let Some(old) = &old {
        if same_content(&dir.join(old), payload)? {
            return Ok(false);
        }
    }
    let ts = new_ts_dir(dir)?;
    for (rel, file) in payload {
        let path = ts.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.data)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))?;
    }
    std::fs::set_permissions(&ts, std::fs::Permissions::from_mode(0o755))?;
    let ts_name = ts
        .file_name()
        .map(PathBuf::from)
        .ok_or_else(|| io::Error::other("timestamped directory has no name"))?;
    let tmp = dir.join(DATA_DIR_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&ts_name, &tmp)?;
    std::fs::rename(&tmp, &data_link)?;

    let wanted: BTreeSet<String> = payload.keys().filter_map(|p| top_level(p)).collect();
    for name in &wanted {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA_DIR).join(name), &link)?;
        }
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("..") || wanted.contains(&name) {
            continue;
        }
        if entry.file_type()?.is_symlink() {
            std::fs::remove_file(entry.path())?;
        }
    }
    if let Some(old) = old {
        if old != ts_name {
            let _ = std::fs::remove_dir_all(dir.join(old));
        }
    }
    Ok(true)
}

fn top_level(p: &str) -> Option<String> {
    match Path::new(p).components().next()? {
        Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
        _ => None,
    }
}

fn new_ts_dir(dir: &Path) -> io::Result<PathBuf> {
    let now = k8s_openapi::jiff::Zoned::now();
    let base = format!("..{}", now.strftime("%Y_%m_%d_%H_%M_%S.%f"));
    for i in 0..1000 {
        let name = if i == 0 {
            base.clone()
        } else {
            format!("{base}{i}")
        };
        let path = dir.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free timestamped directory name"))
}

/// Whether `ts` holds exactly `payload` (content and modes).
fn same_content(ts: &Path, payload: &Payload) -> io::Result<bool> {
    let mut found = 0usize;
    let mut stack = vec![ts.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(_) => return Ok(false),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let path = entry.path();
            let rel = path
                .strip_prefix(ts)
                .map(|r| r.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(want) = payload.get(&rel) else {
                return Ok(false);
            };
            let mode = entry.metadata()?.permissions().mode() & 0o7777;
            if mode != want.mode || std::fs::read(&path)? != want.data {
                return Ok(false);
            }
            found += 1;
        }
    }
    Ok(found == payload.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str, mode: u32) -> FileData {
        FileData {
            data: s.as_bytes().to_vec(),
            mode,
        }
    }

    #[test]
    fn writes_swaps_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("vol");
        let mut p = Payload::new();
        p.insert("a".into(), file("one", 0o644));
        p.insert("sub/b".into(), file("two", 0o400));
        assert!(write(&d, &p).unwrap());
        assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "one");
        assert_eq!(std::fs::read_to_string(d.join("sub/b")).unwrap(), "two");
        let mode = std::fs::metadata(d.join("sub/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        assert_eq!(
            std::fs::read_link(d.join("a")).unwrap(),
            Path::new("..data/a")
        );
        let first = std::fs::read_link(d.join(DATA_DIR)).unwrap();
        assert!(!write(&d, &p).unwrap(), "same content: nothing written");
        assert_eq!(std::fs::read_link(d.join(DATA_DIR)).unwrap(), first);

        p.remove("sub/b");
        p.insert("a".into(), file("changed", 0o644));
        assert!(write(&d, &p).unwrap());
        assert_eq!(std::fs::read_to_string(d.join("a")).unwrap(), "changed");
        assert!(
            std::fs::symlink_metadata(d.join("sub")).is_err(),
            "old link removed"
        );
        assert!(!d.join(&first).exists(), "old timestamped dir removed");
        let dirs = std::fs::read_dir(&d).unwrap().count();
        assert_eq!(dirs, 3, "..data, one timestamped dir, a");
    }

    #[test]
    fn bad_paths_are_refused() {
        assert!(validate_path("a/b").is_ok());
        assert!(validate_path("../x").is_err());
        assert!(validate_path("a/../../x").is_err());
        assert!(validate_path("/etc/x").is_err());
        assert!(validate_path("..data").is_err());
        assert!(validate_path("").is_err());
    }
}
