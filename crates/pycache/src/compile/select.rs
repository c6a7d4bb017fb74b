//! Which files `compileall` would compile: its directory walk and its per-file checks.
//!
//! `_walk_dir` lists a directory, sorts the names as Python sorts `str` (code points, with
//! undecodable bytes as surrogates), skips every entry named `__pycache__`, yields anything that
//! is not a directory, and recurses into real (not symlinked) directories while the depth allows.
//! `compile_file` then drops paths matching `-x`, symlinks pointing outside `-e`, non-files and
//! names not ending in `.py`. One walk serves every interpreter: each candidate carries its
//! depth, and each interpreter keeps those within its own `maxlevels` (10 before 3.9, the
//! recursion limit from 3.9).

use crate::python_str::code_points;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// A file the walk found (before the per-file checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `os.path.join(dir, name)` as compileall builds it (or the argument itself).
    pub path: OsString,
    /// Index of the command-line root it came from.
    pub root: usize,
    /// Directory names between the root and the file (for 3.7/3.8's `-d` per subdirectory).
    pub subdirs: Vec<OsString>,
    /// True when the file was named directly, not found by walking.
    pub explicit: bool,
}

impl Candidate {
    /// How many directory levels below its root the file lies (0 for the root's own files).
    pub fn depth(&self) -> usize {
        self.subdirs.len()
    }
}

/// What the walk met that was not a file to consider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkProblem {
    /// A path on the command line that does not exist.
    Missing(OsString),
    /// A directory that could not be listed (`Can't list 'dir'` in compileall).
    CantList(OsString, String),
}

/// The result of walking every root.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Candidates in compileall's order.
    pub candidates: Vec<Candidate>,
    /// Directories that could not be listed and missing roots.
    pub problems: Vec<WalkProblem>,
}

/// `posixpath.join(a, b)`.
pub(crate) fn posix_join(a: &[u8], b: &[u8]) -> Vec<u8> {
    if b.starts_with(b"/") || a.is_empty() {
        return b.to_vec();
    }
    let mut out = a.to_vec();
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

/// Walks `roots` as compileall's command line does, down to `max_depth` levels below each.
pub fn walk(roots: &[OsString], max_depth: usize) -> Walk {
    let mut walk = Walk::default();
    for (index, root) in roots.iter().enumerate() {
        let path = Path::new(root);
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => walk.candidates.push(Candidate {
                path: root.clone(),
                root: index,
                subdirs: Vec::new(),
                explicit: true,
            }),
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(path).is_err() =>
            {
                walk.problems.push(WalkProblem::Missing(root.clone()));
            }
            _ => walk_dir(root, index, &mut Vec::new(), max_depth, &mut walk),
        }
    }
    walk
}

fn walk_dir(dir: &OsStr, root: usize, subdirs: &mut Vec<OsString>, levels: usize, walk: &mut Walk) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => {
            walk.problems
                .push(WalkProblem::CantList(dir.to_owned(), error.to_string()));
            return;
        }
    };
    let mut names: Vec<(OsString, Option<std::fs::FileType>)> = entries
        .filter_map(Result::ok)
        .map(|entry| (entry.file_name(), entry.file_type().ok()))
        .collect();
    names.sort_by_cached_key(|(name, _)| code_points(name.as_bytes()));
    for (name, file_type) in names {
        if name == "__pycache__" {
            continue;
        }
        let full = OsString::from_vec(posix_join(dir.as_bytes(), name.as_bytes()));
        let is_link = file_type.is_some_and(|t| t.is_symlink());
        let is_dir = match file_type {
            Some(t) if t.is_dir() => true,
            Some(t) if t.is_symlink() => std::fs::metadata(&full).is_ok_and(|m| m.is_dir()),
            Some(_) => false,
            None => std::fs::metadata(&full).is_ok_and(|m| m.is_dir()),
        };
        if !is_dir {
            walk.candidates.push(Candidate {
                path: full,
                root,
                subdirs: subdirs.clone(),
                explicit: false,
            });
        } else if levels > 0 && !is_link {
            subdirs.push(name);
            walk_dir(&full, root, subdirs, levels - 1, walk);
            subdirs.pop();
        }
    }
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

/// True when the base name ends in `.py` (case-sensitive; a file named just `.py` counts).
pub fn has_py_suffix(path: &OsStr) -> bool {
    basename(path.as_bytes()).ends_with(b".py")
}
