//! The plan stage: what each interpreter needs for the run ([`InterpreterPlan`]), one walk of
//! every root (the only call into the walk), and one [`Job`] per interpreter and source, named
//! and given its pyc paths as `compileall.compile_file` would (`-d`/`-s`/`-p`, `-b`, `-x`, `-e`).
//!
//! It decides nothing about freshness (the next stage does); it never starts Python.
//!
//! Memory is what bounds a million-file run, so each source is held once: the walk's
//! [`Candidate`] moves into its [`SourceCell`], a [`Found`] and a [`Job`] share the cell, and a
//! job adds only its interpreter, its pyc paths and the name compiled into its code.

use super::{CompileOptions, FileReport, Outcome, dfile, optimization_for};
use crate::cache_path::{CacheScheme, legacy_cache_from_source};
use crate::freshness::{CheckHashBasedPycs, ImportRules, PycHead};
use crate::header::InvalidationMode;
use crate::interpreter::Interpreter;
use crate::walk::{
    Candidate, FileFacts, Prefetch, PycacheRead, Scope, Sink, WalkOptions, WalkProblem, WalkRoot,
    excluded, has_py_suffix,
};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The largest source sent to a worker: a frame's length is a u32, and holds the source with
/// its name (up to `PATH_MAX`) and levels.
const MAX_SOURCE_BYTES: u64 = u32::MAX as u64 - 65_536;

/// One interpreter's facts, fixed for the run.
pub(super) struct InterpreterPlan {
    pub(super) interpreter: Interpreter,
    pub(super) scheme: CacheScheme,
    pub(super) rules: ImportRules,
    pub(super) mode: InvalidationMode,
    pub(super) max_levels: usize,
    pub(super) roots: Vec<OsString>,
}

/// What every stage after planning reads: the interpreters and the levels.
pub(super) struct Plan {
    pub(super) targets: Vec<InterpreterPlan>,
    /// The `-o` levels, sorted, without duplicates, never empty.
    pub(super) levels: Vec<i8>,
}

/// One source for one interpreter.
#[derive(Clone)]
pub(super) struct Job {
    /// Index of the interpreter (in [`Plan::targets`]).
    pub(super) target: usize,
    /// The source, shared with the other interpreters' jobs.
    pub(super) cell: Arc<SourceCell>,
    /// One pyc per level; empty when `cache_from_source` raised (the notice says why).
    pub(super) cfiles: Vec<PathBuf>,
    /// The name compiled into the code (`co_filename`).
    pub(super) name: Vec<u8>,
    pub(super) notices: Vec<String>,
}

impl Job {
    /// `py_compile`'s refusal to replace a symlink or anything but a regular file, for each
    /// pyc (`levels`: how many levels the run compiles). A pyc whose `__pycache__` the walk
    /// found missing is not looked at again: that spares an `lstat` per pyc of a cold tree,
    /// and what appears there since is replaced by the write's rename, never written through.
    pub(super) fn check_targets(&self, levels: usize) -> Result<(), super::Failure> {
        for (level, cfile) in self.cfiles.iter().enumerate() {
            if !self.known_absent(levels, level) {
                super::write::check_target(cfile)?;
            }
        }
        Ok(())
    }

    /// True when the walk found that the `__pycache__` of the pyc of `level` (of `levels`) does
    /// not exist: nothing can be at its path, not even a symlink.
    pub(super) fn known_absent(&self, levels: usize, level: usize) -> bool {
        self.prefetched_head(levels, level)
            .is_some_and(PycHead::is_absent)
    }

    /// True when the walk found no pyc of `level` (of `levels`): known absent, or `ENOENT`
    /// when it tried to open it. Only a hint for how to write it (see
    /// [`super::write::write_pyc`]): whatever is there by then is replaced all the same.
    pub(super) fn pyc_missing(&self, levels: usize, level: usize) -> bool {
        self.prefetched_head(levels, level)
            .is_some_and(|head| head.is_absent() || *head == PycHead::Failed(libc::ENOENT))
    }

    /// What the walk read of the pyc of `level` (of `levels`), if it read it.
    fn prefetched_head(&self, levels: usize, level: usize) -> Option<&PycHead> {
        self.prefetched(levels)?.get(level)
    }

    /// What the walk read of this job's pycs, one per level (`levels` of them, see
    /// [`Plan::pyc_suffixes`]); `None` when it read none.
    pub(super) fn prefetched(&self, levels: usize) -> Option<&[PycHead]> {
        let heads = self.cell.candidate.pyc_heads.as_deref()?;
        heads.get(self.target * levels..(self.target + 1) * levels)
    }

    /// The job's report: the one place a [`FileReport`] is made.
    pub(super) fn report(self, outcome: Outcome, warnings: String) -> FileReport {
        FileReport {
            interpreter: self.target,
            source: self.cell.candidate.path.clone(),
            pycs: self.cfiles,
            outcome,
            warnings,
            notices: self.notices,
        }
    }
}

/// A source, shared by every interpreter: stat'ed by the walk (unless none of its pycs is
/// there), and fully only when compiled.
pub(super) struct SourceCell {
    /// As the walk found it; its `facts` (the walk's stat) decide freshness.
    pub(super) candidate: Candidate,
    /// The full stat of this source, made by whichever job needs it first. Boxed: a
    /// `Metadata` is some 150 bytes, and only stale sources are ever stat'ed again.
    stat: OnceLock<Option<Box<std::fs::Metadata>>>,
    /// The source's size for the schedule (largest files are compiled first), when the walk
    /// did not stat it: from the cache's read of it, or a stat made for the schedule.
    size: OnceLock<u64>,
}

impl SourceCell {
    fn new(candidate: Candidate) -> Self {
        SourceCell {
            candidate,
            stat: OnceLock::new(),
            size: OnceLock::new(),
        }
    }

    /// The source's size for the schedule: the walk's stat, what a read found, or a stat
    /// made now (not kept: the pycs' header is made from the `fstat` of the file read); 0
    /// when it cannot be stat'ed (its job reports why).
    pub(super) fn size(&self) -> u64 {
        match self.candidate.facts {
            Some(facts) => facts.size,
            None => *self.size.get_or_init(|| {
                std::fs::metadata(self.path()).map_or(0, |metadata| metadata.len())
            }),
        }
    }

    /// Keeps `size` (found by reading the file) for [`SourceCell::size`].
    pub(super) fn keep_size(&self, size: u64) {
        let _ = self.size.set(size);
    }

    /// The source's path, as walked.
    pub(super) fn path(&self) -> &Path {
        Path::new(&self.candidate.path)
    }

    /// What the walk's stat said, or (for a file it did not stat) a stat made now.
    pub(super) fn facts(&self) -> Option<FileFacts> {
        self.candidate
            .facts
            .or_else(|| self.metadata().map(FileFacts::from_metadata))
    }

    pub(super) fn metadata(&self) -> Option<&std::fs::Metadata> {
        self.stat
            .get_or_init(|| std::fs::metadata(self.path()).ok().map(Box::new))
            .as_deref()
    }

    /// The source's bytes, read when its job runs (and dropped when it ends, so memory stays
    /// flat however many files and interpreters there are); the stat of the file read is kept,
    /// since its pycs' header is made from it.
    pub(super) fn bytes(&self) -> Result<Vec<u8>, super::Failure> {
        let (data, metadata) = self.read()?;
        self.keep_stat(metadata);
        Ok(data)
    }

    /// The source's bytes and the stat of the file they were read from, which is not kept (a
    /// cache lookup that misses must not hold a stat per file until the job runs). A source
    /// larger than the worker protocol carries is refused from its size, before anything is
    /// read.
    pub(super) fn read(&self) -> Result<(Vec<u8>, std::fs::Metadata), super::Failure> {
        let mut data = Vec::new();
        let metadata = self.read_into(&mut data)?;
        Ok((data, metadata))
    }

    /// As [`SourceCell::read`], into `data` (a buffer used again: see
    /// [`crate::regular_file::read_sized_into`]).
    pub(super) fn read_into(
        &self,
        data: &mut Vec<u8>,
    ) -> Result<std::fs::Metadata, super::Failure> {
        use super::Failure;
        let error = |e: std::io::Error| Failure::io(self.path(), e);
        let (file, metadata) = crate::regular_file::open_stated(self.path()).map_err(error)?;
        let size = metadata.len();
        if size > MAX_SOURCE_BYTES {
            return Err(Failure::SourceTooLarge {
                path: self.path().to_owned(),
                size,
                limit: MAX_SOURCE_BYTES,
            });
        }
        crate::regular_file::read_sized_into(&file, size, data).map_err(error)?;
        if data.len() as u64 > MAX_SOURCE_BYTES {
            return Err(Failure::SourceGrew {
                path: self.path().to_owned(),
            });
        }
        Ok(metadata)
    }

    /// Keeps `metadata` as this source's stat (the first one kept stays).
    pub(super) fn keep_stat(&self, metadata: std::fs::Metadata) {
        let _ = self.stat.set(Some(Box::new(metadata)));
    }
}

impl Plan {
    /// The levels and each interpreter's plan, from the options; no source yet.
    pub(super) fn new(interpreters: &[Interpreter], options: &CompileOptions) -> Self {
        let mut levels = options.levels.clone();
        levels.sort_unstable();
        levels.dedup();
        if levels.is_empty() {
            levels.push(-1);
        }
        let default_mode = options
            .invalidation_mode
            .unwrap_or_else(InvalidationMode::default_from_env);
        let targets = interpreters
            .iter()
            .map(|interpreter| {
                let scope = Scope::of(
                    interpreter,
                    &options.targets,
                    options.max_levels,
                    &options.pycache_prefix,
                );
                InterpreterPlan {
                    rules: interpreter.import_rules(CheckHashBasedPycs::Always),
                    mode: if interpreter.source_hash_algorithm().is_some() {
                        default_mode
                    } else {
                        InvalidationMode::Timestamp
                    },
                    max_levels: scope.max_levels,
                    roots: scope.roots,
                    interpreter: interpreter.clone(),
                    scheme: scope.scheme,
                }
            })
            .collect();
        Plan { targets, levels }
    }

    /// The ends of the pyc names the walk should read headers of, interpreter after
    /// interpreter, level after level; empty when none is worth reading (`-f`, `-b`, a pycache
    /// prefix).
    fn pyc_suffixes(&self, options: &CompileOptions) -> Vec<Vec<u8>> {
        if options.legacy || options.force {
            return Vec::new();
        }
        self.targets
            .iter()
            .flat_map(|t| {
                self.levels
                    .iter()
                    .map(|&level| t.scheme.pyc_suffix(optimization_for(level).as_deref()))
            })
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    }
}

/// What the walk found, as it hands it on: each source as the [`SourceCell`] its jobs will
/// share (no list of candidates in between), and the problems it met; root by root.
pub(super) struct Walked {
    /// Each walked root's path and where its part of `cells` begins.
    starts: Vec<(Arc<OsString>, usize)>,
    /// One per file the walk kept; `None` for a file not named `*.py`.
    cells: Vec<Option<Arc<SourceCell>>>,
    problems: Vec<WalkProblem>,
}

impl Walked {
    /// Missing paths and directories that could not be listed, root by root.
    pub(super) fn problems(&self) -> impl Iterator<Item = &WalkProblem> {
        self.problems.iter()
    }

    /// The cells found under the walked root `path`, and the root as given.
    fn part(&self, path: &OsString) -> (&Arc<OsString>, &[Option<Arc<SourceCell>>]) {
        let at = (self.starts.iter())
            .position(|(root, _)| **root == *path)
            .expect("every root is walked");
        let end = self.starts.get(at + 1).map_or(self.cells.len(), |s| s.1);
        let (root, start) = &self.starts[at];
        (root, &self.cells[*start..end])
    }
}

impl Sink for Walked {
    fn root(&mut self, root: &OsStr) {
        self.starts
            .push((Arc::new(root.to_owned()), self.cells.len()));
    }

    fn problem(&mut self, problem: WalkProblem) {
        self.problems.push(problem);
    }

    fn pycache_dir(&mut self, _: OsString) {}

    fn file(&mut self, candidate: Candidate) {
        let cell = has_py_suffix(&candidate.path).then(|| Arc::new(SourceCell::new(candidate)));
        self.cells.push(cell);
    }

    fn pycache_listings(&mut self, _: Vec<crate::walk::PycacheDir>) {}
}

/// One walk of every distinct root, each as deep as the deepest interpreter needs, stating
/// every source and reading the headers of the pycs any interpreter would use (see
/// [`crate::walk`]).
pub(super) fn walk(plan: &Plan, options: &CompileOptions) -> Walked {
    let roots: Vec<(&[OsString], usize)> = plan
        .targets
        .iter()
        .map(|t| (&t.roots[..], t.max_levels))
        .collect();
    let roots = WalkRoot::union(&roots);
    let suffixes = plan.pyc_suffixes(options);
    let is_source = |name: &[u8]| name.ends_with(b".py");
    let mut walk_options = WalkOptions::with_threads(options.workers.clamp(1, 8));
    walk_options.prefetch = Prefetch {
        stat_sources: true,
        pycache: if suffixes.is_empty() {
            PycacheRead::Skip
        } else {
            PycacheRead::Probe(&suffixes)
        },
        keep_files: Some(&is_source),
    };
    let mut walked = Walked {
        starts: Vec::new(),
        cells: Vec::new(),
        problems: Vec::new(),
    };
    crate::walk::walk_into(&roots, &walk_options, &mut walked);
    walked
}

/// A source met by the walk under one interpreter's root, before it becomes a [`Job`].
pub(super) struct Found {
    pub(super) target: usize,
    /// The root it was met under, as given.
    pub(super) root: Arc<OsString>,
    pub(super) cell: Arc<SourceCell>,
}

/// Every `*.py` within each interpreter's depth, interpreter after interpreter in the walk's
/// order, with one [`SourceCell`] per source for all interpreters (a source met under two
/// roots gets two).
pub(super) fn found(walked: &Walked, plan: &Plan) -> Vec<Found> {
    // The walk went no deeper than the deepest interpreter of each root needs, so every
    // source it kept is some interpreter's.
    let mut found = Vec::new();
    for (t, target) in plan.targets.iter().enumerate() {
        for root in &target.roots {
            let (path, cells) = walked.part(root);
            for cell in cells.iter().flatten() {
                if cell.candidate.depth() <= target.max_levels {
                    found.push(Found {
                        target: t,
                        root: Arc::clone(path),
                        cell: Arc::clone(cell),
                    });
                }
            }
        }
    }
    found
}

/// The job for `found`: `None` when `-x`/`-e` exclude it. Its name follows `-d`/`-s`/`-p`; a
/// name or a pyc path that cannot be made is a notice (the job then fails, as compileall's
/// would).
pub(super) fn job(plan: &Plan, found: &Found, options: &CompileOptions) -> Option<Job> {
    let Found {
        target: t,
        ref root,
        ref cell,
    } = *found;
    let candidate = &cell.candidate;
    if excluded(
        &candidate.path,
        options.exclude.as_ref(),
        options.limit_symlinks.as_deref(),
    ) {
        return None;
    }
    let target = &plan.targets[t];
    let mut notices = Vec::new();
    let name = match dfile::dfile_for(
        target.interpreter.version(),
        candidate,
        root,
        &options.dfile,
    ) {
        Ok(dfile) => {
            notices.extend(dfile.warning.clone());
            dfile::compiled_name(&dfile, candidate).into_vec()
        }
        Err(error) => {
            notices.push(error.to_string());
            candidate.path.as_bytes().to_vec()
        }
    };
    let cfiles =
        pyc_paths(target, candidate, &plan.levels, options.legacy).unwrap_or_else(|error| {
            notices.push(format!("{}: {error}", error.python_exception()));
            Vec::new()
        });
    Some(Job {
        target: t,
        cell: Arc::clone(cell),
        cfiles,
        name,
        notices,
    })
}

/// The pyc of `candidate` at each level (`-b`: the legacy one beside it).
fn pyc_paths(
    target: &InterpreterPlan,
    candidate: &Candidate,
    levels: &[i8],
    legacy: bool,
) -> Result<Vec<PathBuf>, crate::CachePathError> {
    levels
        .iter()
        .map(|&level| {
            if legacy {
                Ok(PathBuf::from(legacy_cache_from_source(&candidate.path)))
            } else {
                target
                    .scheme
                    .cache_from_source(&candidate.path, optimization_for(level).as_deref())
                    .map(PathBuf::from)
            }
        })
        .collect()
}
