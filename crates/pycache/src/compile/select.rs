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
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// A file the walk found (before the per-file checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// `os.path.join(dir, name)` as compileall builds it (or the argument itself).
    pub path: OsString,
    /// Index of the command-line root it came from.
    pub root: usize,
    /// Directory names between the root and the file (for 3.7/3.8's `-d` per subdirectory),
    /// shared by every file of one directory.
    pub subdirs: Arc<Vec<OsString>>,
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
    /// The `__pycache__` directories met on the way (real directories, never symlinks), which
    /// compileall skips and `check`/`clean` look into.
    pub pycache_dirs: Vec<OsString>,
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
    walk_parallel(roots, max_depth, 1)
}

/// [`walk`], listing directories on `threads` threads. The listings are then put in
/// compileall's order without touching the file system again, so the result is the same.
pub fn walk_parallel(roots: &[OsString], max_depth: usize, threads: usize) -> Walk {
    let mut walk = Walk::default();
    for (index, root) in roots.iter().enumerate() {
        let path = Path::new(root);
        match std::fs::metadata(path) {
            Ok(metadata) if metadata.is_file() => walk.candidates.push(Candidate {
                path: root.clone(),
                root: index,
                subdirs: Arc::new(Vec::new()),
                explicit: true,
            }),
            Err(error)
                if error.kind() == std::io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(path).is_err() =>
            {
                walk.problems.push(WalkProblem::Missing(root.clone()));
            }
            _ => {
                let listings = list_tree(root, max_depth, threads);
                emit(root, index, &mut Vec::new(), &listings, &mut walk);
            }
        }
    }
    walk
}

/// What a directory holds, sorted as Python sorts names.
enum Listing {
    Entries(Vec<Entry>, Option<OsString>),
    Failed(String),
}

struct Entry {
    name: OsString,
    full: OsString,
    /// A directory to recurse into (not a symlink, within the depth).
    descend: bool,
    /// A directory that is not descended into (a symlink, or too deep).
    is_dir: bool,
}

fn list_dir(dir: &OsStr, levels: usize) -> (Listing, Vec<(OsString, usize)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) => return (Listing::Failed(error.to_string()), Vec::new()),
    };
    let mut names: Vec<(OsString, Option<std::fs::FileType>)> = entries
        .filter_map(Result::ok)
        .map(|entry| (entry.file_name(), entry.file_type().ok()))
        .collect();
    // Python sorts str: code points, undecodable bytes as surrogates. For valid UTF-8 that is
    // plain byte order, so the code points are only worked out when some name needs them.
    if names
        .iter()
        .all(|(name, _)| std::str::from_utf8(name.as_bytes()).is_ok())
    {
        names.sort_unstable_by(|(a, _), (b, _)| a.as_bytes().cmp(b.as_bytes()));
    } else {
        names.sort_by_cached_key(|(name, _)| code_points(name.as_bytes()));
    }
    let mut subdirs = Vec::new();
    let mut pycache = None;
    let entries = names
        .into_iter()
        .filter(|(name, file_type)| {
            if name != "__pycache__" {
                return true;
            }
            if file_type.is_some_and(|t| t.is_dir()) {
                pycache = Some(OsString::from_vec(posix_join(
                    dir.as_bytes(),
                    name.as_bytes(),
                )));
            }
            false
        })
        .map(|(name, file_type)| {
            let full = OsString::from_vec(posix_join(dir.as_bytes(), name.as_bytes()));
            let is_link = file_type.is_some_and(|t| t.is_symlink());
            let is_dir = match file_type {
                Some(t) if t.is_dir() => true,
                Some(t) if !t.is_symlink() => false,
                _ => std::fs::metadata(&full).is_ok_and(|m| m.is_dir()),
            };
            let descend = is_dir && levels > 0 && !is_link;
            if descend {
                subdirs.push((full.clone(), levels - 1));
            }
            Entry {
                name,
                full,
                descend,
                is_dir,
            }
        })
        .collect();
    (Listing::Entries(entries, pycache), subdirs)
}

/// Lists `root` and every directory below it that compileall would enter, on `threads`
/// threads.
fn list_tree(root: &OsStr, max_depth: usize, threads: usize) -> HashMap<OsString, Listing> {
    struct Queue {
        pending: Vec<(OsString, usize)>,
        busy: usize,
    }
    let queue = Mutex::new(Queue {
        pending: vec![(root.to_owned(), max_depth)],
        busy: 0,
    });
    let ready = Condvar::new();
    let results = Mutex::new(HashMap::new());
    let worker = || {
        loop {
            let (dir, levels) = {
                let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    if let Some(next) = q.pending.pop() {
                        q.busy += 1;
                        break next;
                    }
                    if q.busy == 0 {
                        ready.notify_all();
                        return;
                    }
                    q = ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
            };
            let (listing, subdirs) = list_dir(&dir, levels);
            results
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(dir, listing);
            let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
            q.pending.extend(subdirs);
            q.busy -= 1;
            ready.notify_all();
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.max(1) {
            scope.spawn(worker);
        }
        worker();
    });
    results.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// compileall's depth-first order over the listings.
fn emit(
    dir: &OsStr,
    root: usize,
    subdirs: &mut Vec<OsString>,
    listings: &HashMap<OsString, Listing>,
    walk: &mut Walk,
) {
    let entries = match listings.get(dir) {
        Some(Listing::Entries(entries, pycache)) => {
            walk.pycache_dirs.extend(pycache.clone());
            entries
        }
        Some(Listing::Failed(why)) => {
            walk.problems
                .push(WalkProblem::CantList(dir.to_owned(), why.clone()));
            return;
        }
        None => return,
    };
    let shared_subdirs = Arc::new(subdirs.clone());
    for entry in entries {
        if !entry.is_dir {
            walk.candidates.push(Candidate {
                path: entry.full.clone(),
                root,
                subdirs: Arc::clone(&shared_subdirs),
                explicit: false,
            });
        } else if entry.descend {
            subdirs.push(entry.name.clone());
            emit(&entry.full, root, subdirs, listings, walk);
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

/// `compile_file`'s early returns: `-x` finds the path, or `-e` rejects the symlink.
pub fn excluded(
    path: &OsStr,
    exclude: Option<&fancy_regex::Regex>,
    limit_symlinks: Option<&Path>,
) -> bool {
    if let Some(rx) = exclude
        && rx
            .is_match(&String::from_utf8_lossy(path.as_bytes()))
            .unwrap_or(false)
    {
        return true;
    }
    limit_symlinks.is_some_and(|limit| !symlink_allowed(Path::new(path), limit))
}

/// Walks every distinct root of `plan` (each target's roots and depth) once, as deep as the
/// deepest target needs, listing directories on `threads` threads.
pub fn walk_roots(plan: &[(&[OsString], usize)], threads: usize) -> HashMap<OsString, Walk> {
    let mut walks: HashMap<OsString, Walk> = HashMap::new();
    for (roots, _) in plan {
        for root in *roots {
            if walks.contains_key(root) {
                continue;
            }
            let depth = plan
                .iter()
                .filter(|(roots, _)| roots.contains(root))
                .map(|(_, depth)| *depth)
                .max()
                .unwrap_or(0);
            walks.insert(
                root.clone(),
                walk_parallel(std::slice::from_ref(root), depth, threads),
            );
        }
    }
    walks
}

/// True when the base name ends in `.py` (case-sensitive; a file named just `.py` counts).
pub fn has_py_suffix(path: &OsStr) -> bool {
    basename(path.as_bytes()).ends_with(b".py")
}
