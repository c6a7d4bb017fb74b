//! Which files `compileall` would compile: `compileall.compile_dir`'s walk (`_walk_dir`) and
//! `compile_file`'s per-file checks, for every command that looks at a tree (compile, check,
//! clean, ext).
//!
//! `_walk_dir` lists a directory, sorts the names as Python sorts `str` (code points, with
//! undecodable bytes as surrogates), skips every entry named `__pycache__`, yields anything that
//! is not a directory, and recurses into real (not symlinked) directories while the depth allows.
//! `compile_file` then drops paths matching `-x`, symlinks pointing outside `-e`, non-files and
//! names not ending in `.py` (`select`). One walk serves every interpreter: each candidate
//! carries its depth, and each interpreter keeps those within its own `maxlevels` (`Scope`).
//!
//! The walk is also where a no-op run spends its time, so it reads, while each directory is
//! open (`directory`), what freshness will ask next (`Prefetch`): the stat of every `*.py`
//! file (for `compile`, of those that have a pyc) and the headers of the pycs in the
//! `__pycache__` beside it (`pycache`). Directories are listed on several threads and then put
//! in compileall's order (`tree`).
//!
//! [`walk`] is the one entry point and [`Walk`] the one result. Inside, the ordered pass hands
//! each directory's files to a `Sink` as it reaches them; [`Walk`] is the sink that collects,
//! and compile's plan, which turns each source into the one cell its jobs share without a
//! list of every candidate in between, is another (`walk_into`).

mod directory;
mod pycache;
mod scope;
mod select;
#[cfg(test)]
mod tests;
mod tree;

pub use directory::FileFacts;
pub(crate) use pycache::{Lookup, PycacheDir, PycacheListings};
pub(crate) use scope::Scope;
pub(crate) use select::{basename, posix_join};
pub use select::{excluded, has_py_suffix, symlink_allowed};

use crate::freshness::PycHead;
use std::ffi::{OsStr, OsString};
use std::sync::Arc;

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
    /// The file's stat (following symlinks), when the walk made it: for `*.py` files when
    /// the caller asked, and for files named directly.
    pub facts: Option<FileFacts>,
    /// The first bytes of this source's pycs, one per suffix of [`PycacheRead::Probe`] in its
    /// order, read by the task that listed the directory; `None` when not asked for, or when
    /// the `__pycache__` beside it could not be opened (ask the file system).
    pub(crate) pyc_heads: Option<Box<[PycHead]>>,
    /// True for a regular file (as its directory's listing says) that the walk did not stat,
    /// although [`Prefetch::stat_sources`] asked, because the probe found none of its pycs
    /// ([`PycacheRead::Probe`]): whatever its stat, each of them is to be written, and the
    /// stat is made when the file is read. `facts` is then `None`.
    pub(crate) unstated: bool,
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
/// A test on a file name.
pub(crate) type NameFilter<'a> = &'a (dyn Fn(&[u8]) -> bool + Sync);

/// How the walk reads a `__pycache__`.
#[derive(Default, Clone, Copy)]
pub(crate) enum PycacheRead<'a> {
    /// Not at all.
    #[default]
    Skip,
    /// List it, and read the header of each file whose name passes (for `check`, which also
    /// reports what no source expects).
    List(NameFilter<'a>),
    /// Read the header of `<stem><suffix>` for each `<stem>.py` beside it, without listing it
    /// (for `compile`, which only asks about those), into [`Candidate::pyc_heads`].
    Probe(&'a [Vec<u8>]),
}

/// What the walk reads besides names, while it holds each directory open (see
/// [`directory`]): the freshness pass then finds it all in the [`Walk`].
#[derive(Default)]
pub(crate) struct Prefetch<'a> {
    /// Stat every `*.py` file met (following symlinks, as `os.stat`): [`Candidate::facts`];
    /// with [`PycacheRead::Probe`], not the regular files none of whose pycs is there
    /// ([`Candidate::unstated`]).
    pub(crate) stat_sources: bool,
    /// What to read of the `__pycache__` beside the sources: [`Walk::listings`] or
    /// [`Candidate::pyc_heads`].
    pub(crate) pycache: PycacheRead<'a>,
    /// Keep only the files (found by walking) whose name passes: the caller drops the rest
    /// anyway, and a tree holds several times more files than sources.
    pub(crate) keep_files: Option<NameFilter<'a>>,
}

/// A tree to walk: a path given on the command line (a directory, or a file named directly),
/// and how many directory levels below it to descend (compileall's `maxlevels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkRoot {
    /// The path, as given.
    pub path: OsString,
    /// How many levels below it to descend.
    pub max_depth: usize,
}

impl WalkRoot {
    /// Every distinct root of `plan` (each interpreter's roots and depth), in order of first
    /// appearance, each as deep as the deepest interpreter that walks it needs.
    pub(crate) fn union(plan: &[(&[OsString], usize)]) -> Vec<WalkRoot> {
        let mut roots: Vec<WalkRoot> = Vec::new();
        for &(paths, depth) in plan {
            for path in paths {
                match roots.iter_mut().find(|root| root.path == *path) {
                    Some(root) => root.max_depth = root.max_depth.max(depth),
                    None => roots.push(WalkRoot {
                        path: path.clone(),
                        max_depth: depth,
                    }),
                }
            }
        }
        roots
    }
}

/// How to walk: on how many threads, and what to read besides names.
#[derive(Default)]
#[non_exhaustive]
pub struct WalkOptions<'a> {
    /// Threads listing directories (at least one is used).
    pub threads: usize,
    /// What to read while each directory is open.
    pub(crate) prefetch: Prefetch<'a>,
}

impl std::fmt::Debug for WalkOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalkOptions")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl WalkOptions<'_> {
    /// Names only, on `threads` threads.
    pub fn with_threads(threads: usize) -> Self {
        WalkOptions {
            threads,
            prefetch: Prefetch::default(),
        }
    }
}

/// The result of [`walk`]: every root's candidates, problems and `__pycache__` directories,
/// root after root in the order given, each root's in compileall's order.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    /// Candidates in compileall's order.
    pub candidates: Vec<Candidate>,
    /// Directories that could not be listed and missing roots.
    pub problems: Vec<WalkProblem>,
    /// The `__pycache__` directories met on the way (real directories, never symlinks), which
    /// compileall skips and `check`/`clean` look into.
    pub pycache_dirs: Vec<OsString>,
    /// Where each root's part begins in the three lists above.
    starts: Vec<RootStart>,
    /// The `__pycache__` listings and pyc headers, when the options asked the walk to read them.
    pub(crate) listings: PycacheListings,
}

#[derive(Debug, Clone)]
struct RootStart {
    path: OsString,
    candidates: usize,
    problems: usize,
}

impl Walk {
    /// The ranges of the three lists that came from the first root at `path` (empty if none).
    fn part(&self, path: &OsStr) -> [std::ops::Range<usize>; 2] {
        let Some(at) = self.starts.iter().position(|s| s.path == path) else {
            return [0..0, 0..0];
        };
        let start = &self.starts[at];
        let (candidates, problems) = match self.starts.get(at + 1) {
            Some(next) => (next.candidates, next.problems),
            None => (self.candidates.len(), self.problems.len()),
        };
        [start.candidates..candidates, start.problems..problems]
    }

    /// The candidates found under the root `path`.
    pub fn candidates_under(&self, path: &OsStr) -> &[Candidate] {
        let [candidates, _] = self.part(path);
        &self.candidates[candidates]
    }

    /// The problems met under the root `path`.
    pub fn problems_under(&self, path: &OsStr) -> &[WalkProblem] {
        let [_, problems] = self.part(path);
        &self.problems[problems]
    }
}

/// What the ordered pass hands on, in compileall's order.
pub(crate) trait Sink {
    /// The walk of `root` begins.
    fn root(&mut self, root: &OsStr);
    /// A missing root, or a directory that cannot be listed.
    fn problem(&mut self, problem: WalkProblem);
    /// A real `__pycache__` directory, met where compileall skips it.
    fn pycache_dir(&mut self, path: OsString);
    /// A file (not yet checked by `compile_file`).
    fn file(&mut self, candidate: Candidate);
    /// The `__pycache__` directories the walk listed (in no particular order).
    fn pycache_listings(&mut self, dirs: Vec<PycacheDir>);
}

impl Sink for Walk {
    fn root(&mut self, root: &OsStr) {
        self.starts.push(RootStart {
            path: root.to_owned(),
            candidates: self.candidates.len(),
            problems: self.problems.len(),
        });
    }

    fn problem(&mut self, problem: WalkProblem) {
        self.problems.push(problem);
    }

    fn pycache_dir(&mut self, path: OsString) {
        self.pycache_dirs.push(path);
    }

    fn file(&mut self, candidate: Candidate) {
        self.candidates.push(candidate);
    }

    fn pycache_listings(&mut self, dirs: Vec<PycacheDir>) {
        self.listings.add(dirs);
    }
}

/// Walks `roots` as compileall's command line does (each to its own depth), with what
/// `options` asks for.
pub fn walk(roots: &[WalkRoot], options: &WalkOptions<'_>) -> Walk {
    let mut walk = Walk::default();
    walk_into(roots, options, &mut walk);
    walk
}

/// [`walk`], handing what it finds to `sink` in compileall's order instead of collecting it
/// (for a caller that keeps less than a [`Walk`] holds).
pub(crate) fn walk_into(roots: &[WalkRoot], options: &WalkOptions<'_>, sink: &mut impl Sink) {
    // One pool for every root; rayon's global one if no thread can be started.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.threads.max(1))
        .build()
        .ok();
    for (index, root) in roots.iter().enumerate() {
        tree::walk_root(index, root, options, pool.as_ref(), sink);
    }
}
