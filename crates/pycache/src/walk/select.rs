//! compileall's per-path name checks: `posixpath.join`/`basename`, the `.py` suffix test and
//! `compile_file`'s early returns (`-x`, `-e`).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `posixpath.join(a, b)`.
pub(crate) fn posix_join(a: &[u8], b: &[u8]) -> Vec<u8> {
    if b.starts_with(b"/") || a.is_empty() {
        return b.to_vec();
    }
    // One allocation of the final size: this builds the path of every file walked.
    let mut out = Vec::with_capacity(a.len() + 1 + b.len());
    out.extend_from_slice(a);
    if !a.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(b);
    out
}

/// `posixpath.basename`.
pub(crate) fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// `compile_file`'s `-e` check: a symlinked file is kept only when its target resolves inside
/// `limit` (`Path(limit).resolve() in Path(fullname).resolve().parents`).
pub fn symlink_allowed(path: &Path, limit: &Path) -> bool {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return true;
    }
    let resolve = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()))
    };
    let limit = resolve(limit);
    let target: PathBuf = resolve(path);
    target.ancestors().skip(1).any(|parent| parent == limit)
}

/// `compile_file`'s early returns: `-x` finds the path, or `-e` rejects the symlink.
pub fn excluded(
    path: &OsStr,
    exclude: Option<&crate::exclude::Exclude>,
    limit_symlinks: Option<&Path>,
) -> bool {
    if exclude.is_some_and(|rx| rx.is_match(path)) {
        return true;
    }
    limit_symlinks.is_some_and(|limit| !symlink_allowed(Path::new(path), limit))
}

/// True when the base name ends in `.py` (case-sensitive; a file named just `.py` counts).
pub fn has_py_suffix(path: &OsStr) -> bool {
    basename(path.as_bytes()).ends_with(b".py")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_as_posixpath_does() {
        assert_eq!(posix_join(b"a", b"b"), b"a/b");
        assert_eq!(posix_join(b"a/", b"b"), b"a/b");
        assert_eq!(posix_join(b"", b"b"), b"b");
        assert_eq!(posix_join(b"a", b"/b"), b"/b");
        assert_eq!(posix_join(b"a", b""), b"a/");
        assert_eq!(basename(b"a/b.py"), b"b.py");
        assert_eq!(basename(b"b.py"), b"b.py");
        assert!(has_py_suffix(OsStr::new("d/.py")));
        assert!(!has_py_suffix(OsStr::new("d.py/x.PY")));
    }
}
